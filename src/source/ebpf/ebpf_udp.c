/* SPDX-License-Identifier: MIT */
/*
 * UDP datagrams from the eBPF source (bpf/lib/datagram.h): each event one
 * datagram, fed to the pipeline's datagram path (no reassembly; the flow is
 * the 5-tuple). A datagram between two traced sockets of this host is seen
 * at both: sent, then received (or the other way round: the exits race). The
 * first copy goes on; the second, matched by ports, length and payload within
 * a couple of seconds, is counted in duplicate_peer_bytes. Addresses are left
 * out of the match: a socket bound to any address says 0.0.0.0 where its
 * peer names the real one. A loopback datagram's key holds its namespace: the
 * same datagram on 127.0.0.1 of two namespaces was sent twice.
 */
#include <string.h>

#include "core/hash.h"
#include "source/ebpf/ebpf_priv.h"

#define WINDOW_NS 2000000000ull /* a datagram's two copies arrive well within it */
#define WINDOW_MAX 65536 /* keys kept per window; past it, copies may pass twice */

/* netns: the namespace of a loopback datagram, else 0. */
static uint64_t datagram_key(const struct sonde_chunk *c, uint32_t netns)
{
	uint64_t h = sonde_mix64((uint64_t)c->flow.src.port << 48 |
				 (uint64_t)c->flow.dst.port << 32 | c->wirelen);
	h = sonde_mix64(h ^ netns);
	uint32_t i = 0;
	for (; i + 8 <= c->caplen; i += 8) {
		uint64_t w;
		memcpy(&w, c->data + i, 8);
		h = sonde_mix64(h ^ w);
	}
	uint64_t tail = 0;
	if (c->caplen > i)
		memcpy(&tail, c->data + i, c->caplen - i);
	return sonde_mix64(h ^ tail) | 1; /* non-zero map key */
}

/* True if the datagram is the second sight of one already passed on. */
static bool seen_twice(struct sonde_ebpf *e, const struct sonde_chunk *c, uint32_t netns)
{
	uint64_t now = c->ts_ns;
	if (!e->dgram_seen[0].keys) {
		sonde_u64map_init(&e->dgram_seen[0]);
		sonde_u64map_init(&e->dgram_seen[1]);
		e->dgram_window_start = now;
	}
	if (now - e->dgram_window_start > WINDOW_NS) {
		sonde_u64map_free(&e->dgram_seen[1]);
		e->dgram_seen[1] = e->dgram_seen[0];
		sonde_u64map_init(&e->dgram_seen[0]);
		e->dgram_window_start = now;
	}
	uint64_t key = datagram_key(c, netns);
	for (int i = 0; i < 2; i++)
		if (sonde_u64map_del(&e->dgram_seen[i], key, NULL))
			return true;
	if (e->dgram_seen[0].len < WINDOW_MAX)
		sonde_u64map_put(&e->dgram_seen[0], key, 1);
	return false;
}

void ebpf_datagram(struct sonde_ebpf *e, const struct sonde_event *ev)
{
	if (ev->type != SONDE_EV_DATA) { /* a datagram is data, never an open or a close */
		e->stats->ebpf_bad_events++;
		return;
	}
	struct sonde_process proc;
	struct sonde_chunk c;
	ebpf_chunk_from_event(e, ev, &proc, &c);
	c.flow.l4 = SONDE_L4_UDP;
	c.seq_kind = SONDE_SEQ_TCP32; /* unused: one datagram, seq 0 */
	c.seq = 0;
	c.conn_id = 0; /* the 5-tuple is the flow */
	c.role = SONDE_ROLE_UNKNOWN;
	c.flags = 0;
	/* The remote end, which both copies name alike (a local one may be a
	 * wildcard), says whether it is a loopback datagram. */
	bool loopback = ebpf_loopback(ev->dir == SONDE_EV_TX ? &c.flow.dst : &c.flow.src);
	if (seen_twice(e, &c, loopback ? ev->netns : 0)) {
		e->stats->duplicate_peer_bytes += ev->len;
		return;
	}
	sonde_chunk_emit(&e->out, &c);
}

void ebpf_datagram_free(struct sonde_ebpf *e)
{
	sonde_u64map_free(&e->dgram_seen[0]);
	sonde_u64map_free(&e->dgram_seen[1]);
}
