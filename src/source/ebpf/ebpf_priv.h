/* SPDX-License-Identifier: MIT */
/*
 * Inside the eBPF source: the state ebpf.c (loading, socket events) and
 * ebpf_tls.c (TLS library probes and their connections) share.
 */
#ifndef SONDE_EBPF_PRIV_H
#define SONDE_EBPF_PRIV_H

#include <linux/types.h> /* the __u types of sonde_events.h */
#include <stdbool.h>
#include <stdint.h>

#include "core/chunk.h"
#include "core/list.h"
#include "core/stats.h"
#include "core/u64map.h"
#include "source/ebpf/ebpf.h"
#include "sonde_events.h"
#include "source/tls/tls_discover.h"

struct sonde_capture;
struct tls_conn;

struct sonde_ebpf {
	struct sonde_capture *skel;
	struct ring_buffer *rb;
	struct sonde_chunk_out out; /* where chunks go */
	struct sonde_stats *stats; /* the run's counters: the ebpf_ and tls_ ones are ours */
	int hook;
	int64_t mono_to_real_ns; /* add to bpf_ktime_get_ns() for wall clock */
	/* conn_id → kernel socket address, for the ignore switch */
	struct sonde_u64map sockets;
	/* loopback connections show up twice (both ends are local sockets): the
	 * first socket seen owns the 4-tuple, the other end's events are dropped.
	 * tuple hash → owning conn_id */
	struct sonde_u64map owners;
	/* conn_id → tuple hash, to release ownership on close */
	struct sonde_u64map owned;
	/* both ends local: the owner's and its copy's close facts paired
	 * (ebpf_peers.c); owner conn_id → struct ebpf_peer *, copy → owner */
	struct sonde_u64map peers_by_owner, peers_by_copy;
	struct sonde_list peers_held; /* owners' closes waiting for the copy's, newest first */
	size_t npeers;
	/* the last sweep for sockets whose close was lost (ebpf_sweep.c):
	 * monotonic time, and the kernel's ring drops then */
	uint64_t sweep_last_ns, sweep_drops;
	/* UDP datagrams between two traced sockets (loopback) are seen twice,
	 * sent and received: keys of the ones seen in the last two windows of
	 * SONDE_EBPF_DGRAM_WINDOW_NS (ebpf_udp.c), dropped when matched */
	struct sonde_u64map dgram_seen[2];
	/* A cross-namespace UDP flow's other namespace → the one naming it
	 * (ebpf_udp.c) */
	struct sonde_u64map dgram_aliases;
	uint64_t dgram_window_start;
	/* kretprobe events sonde created in tracefs (see attach_kretprobes),
	 * removed once their links are gone */
	const char *tracefs;
	char krp_events[2][64];

	/* ---- TLS (ebpf_tls.c); tls is NULL with --no-tls ---- */
	struct sonde_tls_discovery *tls;
	struct sonde_u64map tls_conns; /* TLS conn_id → struct tls_conn * */
	struct sonde_u64map tls_by_sock; /* socket id → TLS conn_id */
	struct sonde_list tls_lru; /* of struct tls_conn, least recently used first */
	size_t tls_count;
	size_t tls_pending_bytes; /* held for connections whose socket is unknown */
	/* processes that exec'd or mapped code since the last rescan */
	uint32_t *tls_dirty;
	size_t tls_ndirty;
	uint64_t tls_dirty_since_ns; /* monotonic; 0: none */
	uint64_t tls_last_sweep_ns, tls_last_scan_ns;
	bool tls_verbose;
	bool tls_quiet; /* -q: no "probing" lines */
	void (*on_tls_probe)(void *ctx, const char *path, const char *library, uint32_t pid);
	void *on_tls_probe_ctx;
	bool tls_cookies; /* the kernel passes attach cookies to uprobes (5.15+) */
	struct sonde_proc_hook proc_hook; /* event NULL: nobody */
};

/* ebpf.c: one ring-buffer record from the kernel (data[0..size)), judged
 * as untrusted input and turned into chunks; 0 always (libbpf's callback).
 * With e->skel NULL nothing is written back to the kernel (fuzz/). */
int ebpf_on_event(void *ctx, void *data, size_t size);
/* ebpf.c: the chunk of a data or control event (flow, role, time, process). */
void ebpf_chunk_from_event(const struct sonde_ebpf *e, const struct sonde_event *ev,
			   struct sonde_process *proc, struct sonde_chunk *c);
/* ebpf.c: loopback de-duplication; false if the event is the other end's.
 * The key is the connection's tuple, and for a loopback one the socket's
 * network namespace too (the event's netns). */
bool ebpf_owns_tuple(struct sonde_ebpf *e, const struct sonde_event *ev, uint64_t salt);
/* ebpf.c: is ep a loopback address (127/8, ::1; v4-mapped already IPv4)? */
bool ebpf_loopback(const struct sonde_endpoint *ep);
/* ebpf.c: drop what tracks a connection (ownership, socket map). */
void ebpf_release(struct sonde_ebpf *e, uint64_t conn_id);
/* Release sockets the kernel no longer holds, their close lost (now_ns:
 * monotonic); rate-limited, soon after ring drops. */
void ebpf_sweep_lost_closes(struct sonde_ebpf *e, uint64_t now_ns);
/* The sweep itself, against socket map socks_fd: how many were released. */
size_t ebpf_sweep_sockets(struct sonde_ebpf *e, int socks_fd);
/* ebpf.c: the kernel counters, summed over CPUs, into the stats fields
 * SONDE_KCOUNTERS maps them to (set, not added to: totals since load). */
void ebpf_stats_from_counters(struct sonde_stats *st, const uint64_t sum[SONDE_CNT__MAX]);

/* ebpf_udp.c: a SONDE_EVF_DATAGRAM event into the pipeline's datagram path. */
void ebpf_datagram(struct sonde_ebpf *e, const struct sonde_event *ev);
void ebpf_datagram_free(struct sonde_ebpf *e);
/* The user-space tables of the source (sockets, owners, peer copies,
 * datagram flows), set up as sonde_ebpf_open does; the unit tests and
 * fuzz_ebpf use the same pair, so a table added is set up everywhere.
 * Freeing sends the closes still waiting for their peer copy first. */
void ebpf_tables_init(struct sonde_ebpf *e);
void ebpf_tables_free(struct sonde_ebpf *e);

/* ebpf_tcp.c: TCP health (bpf/hooks/tcp_health.h) */
struct sonde_tcp_facts;
struct sonde_tcp_info;
/* Between open and load: the tcp: tracepoints this kernel has, counted
 * in tcp_tracepoints_missing where not (said with -v). */
void ebpf_tcp_choose(struct sonde_capture *skel, const struct sonde_ebpf_opts *o,
		     struct sonde_stats *st);
/* A close event's info as the facts of its connection, index 0 the local
 * socket's direction. */
void ebpf_tcp_facts(const struct sonde_tcp_info *in, struct sonde_tcp_facts *f);
/* Whether the kernel can attach kprobes (the kprobe PMU or tracefs's kprobe_events). */
bool ebpf_kprobes_available(void);
/* A SONDE_EV_TCP_FAILED event into the pipeline: its SYN and its end. */
void ebpf_tcp_failed(struct sonde_ebpf *e, const struct sonde_event *ev);

/* ebpf.c: the conn_id holding the event's 4-tuple now (0: none). */
uint64_t ebpf_tuple_owner(struct sonde_ebpf *e, const struct sonde_event *ev);

/* ebpf_peers.c: both ends of a connection traced sockets of this host */
void ebpf_peers_init(struct sonde_ebpf *e);
/* An event of a copy (SONDE_EVF_PEER_COPY): its OPEN pairs it with the
 * owner, its close keeps its facts (or releases the owner's held close). */
void ebpf_peers_copy_event(struct sonde_ebpf *e, const struct sonde_event *ev);
/* An owner's close event (size bytes): into the pipeline at once, or held
 * until its copy's close or PEER_WAIT_NS. */
void ebpf_peers_owner_close(struct sonde_ebpf *e, const struct sonde_event *ev, size_t size);
/* Held closes that waited long enough, written with one end's facts. */
void ebpf_peers_tick(struct sonde_ebpf *e);
/* Every held close written, everything freed. */
void ebpf_peers_close(struct sonde_ebpf *e);

/* ebpf_tls.c */
void ebpf_tls_open(struct sonde_ebpf *e, const struct sonde_ebpf_opts *o);
void ebpf_tls_event(struct sonde_ebpf *e, const struct sonde_event *ev);
void ebpf_tls_mapped(struct sonde_ebpf *e, uint32_t pid, bool exec);
void ebpf_tls_socket_closed(struct sonde_ebpf *e, uint64_t sock_id, uint64_t ts_ns);
void ebpf_tls_tick(struct sonde_ebpf *e);
bool ebpf_tls_ignore(struct sonde_ebpf *e, uint64_t conn_id);
void ebpf_tls_close(struct sonde_ebpf *e);

/* Tell the process hook (core/proc_events.h), if any, of kind for pid. */
void ebpf_tell_proc(struct sonde_ebpf *e, uint8_t kind, uint32_t pid);

#endif
