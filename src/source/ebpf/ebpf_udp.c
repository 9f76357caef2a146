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
 *
 * A flow is its 5-tuple in its network namespace (the chunk's conn_id): two
 * containers with the same addresses asking their own DNS server on the
 * same ports are two flows, not one whose answers cross. A flow between two
 * namespaces of this host (a pod asking a pod) is seen in both; the
 * namespace of its first copy names it, and a second copy seen in another
 * namespace maps that one to it (flow_ns), so both directions stay one flow.
 */
#include <string.h>

#include "core/hash.h"
#include "source/ebpf/ebpf_priv.h"

#define WINDOW_NS 2000000000ull /* a datagram's two copies arrive well within it */
#define WINDOW_MAX 65536 /* keys kept per window; past it, copies may pass twice */
#define ALIASES_MAX 16384 /* namespace pairs of cross-namespace flows kept */
#define UDP_NS_BIT (1ull << 62) /* a datagram flow's conn_id: never a socket id */

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

/* True if the datagram is the second sight of one already passed on; then
 * *first_ns is the namespace the first was seen in. ns: this one's. */
static bool seen_twice(struct sonde_ebpf *e, const struct sonde_chunk *c, uint32_t netns,
		       uint32_t ns, uint32_t *first_ns)
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
	uint64_t key = datagram_key(c, netns), v;
	for (int i = 0; i < 2; i++)
		if (sonde_u64map_del(&e->dgram_seen[i], key, &v)) {
			*first_ns = (uint32_t)v;
			return true;
		}
	if (e->dgram_seen[0].len < WINDOW_MAX)
		sonde_u64map_put(&e->dgram_seen[0], key, ns);
	return false;
}

/* The unordered 5-tuple in namespace ns: a key of the aliases map. */
static uint64_t flow_key(const struct sonde_chunk *c, uint32_t ns)
{
	return sonde_mix64(sonde_pair_hash(&c->flow.src, &c->flow.dst) ^ ns) | 1;
}

/* The namespace that names c's flow: ns, or the one its other end's copies
 * were first seen in. */
static uint32_t flow_ns(const struct sonde_ebpf *e, const struct sonde_chunk *c, uint32_t ns)
{
	uint64_t v;
	return sonde_u64map_get(&e->dgram_aliases, flow_key(c, ns), &v) ? (uint32_t)v : ns;
}

/* A copy seen in ns of a datagram first seen in first_ns: the flow is
 * first_ns's (as that end's view names it) from both ends from now on. */
static void alias(struct sonde_ebpf *e, const struct sonde_chunk *c, uint32_t ns, uint32_t first_ns)
{
	uint32_t named = flow_ns(e, c, first_ns);
	if (named == ns || flow_ns(e, c, ns) == named)
		return;
	if (e->dgram_aliases.len >= ALIASES_MAX) {
		sonde_u64map_free(&e->dgram_aliases);
		sonde_u64map_init(&e->dgram_aliases);
	}
	sonde_u64map_put(&e->dgram_aliases, flow_key(c, ns), named);
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
	c.role = SONDE_ROLE_UNKNOWN;
	c.flags = 0;
	/* The remote end, which both copies name alike (a local one may be a
	 * wildcard), says whether it is a loopback datagram. */
	bool loopback = ebpf_loopback(ev->dir == SONDE_EV_TX ? &c.flow.dst : &c.flow.src);
	uint32_t first_ns;
	if (seen_twice(e, &c, loopback ? ev->netns : 0, ev->netns, &first_ns)) {
		if (first_ns != ev->netns && !loopback)
			alias(e, &c, ev->netns, first_ns);
		e->stats->duplicate_peer_bytes += ev->len;
		return;
	}
	/* The 5-tuple in its namespace is the flow (0: namespace unknown). */
	uint32_t ns = flow_ns(e, &c, ev->netns);
	c.conn_id = ns ? UDP_NS_BIT | ns : 0;
	sonde_chunk_emit(&e->out, &c);
}

void ebpf_datagram_free(struct sonde_ebpf *e)
{
	sonde_u64map_free(&e->dgram_seen[0]);
	sonde_u64map_free(&e->dgram_seen[1]);
	sonde_u64map_free(&e->dgram_aliases);
}
