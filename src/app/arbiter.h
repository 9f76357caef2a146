/* SPDX-License-Identifier: MIT */
/*
 * Several sources in one run (`--source ebpf,af_packet`): each connection's
 * chunks come from exactly one source, never two, so no exchange is written
 * twice.
 *
 * The rule: a connection is the syscall (stream) source's when that source
 * shows it at all — it follows local processes' sockets, with their process
 * and TLS plaintext; it is a packet source's when no stream source shows it
 * (forwarded or routed traffic, other namespaces' processes the eBPF source
 * was told not to follow). Packets of a connection not seen before are held
 * for a short while (SONDE_ARBITER_HOLD_NS): the packet source usually sees
 * a SYN before the eBPF source's connect event reaches user space. A stream
 * chunk of that connection within the hold takes it (the held packets are
 * dropped; counted as a hand-over); otherwise the held packets are released
 * in order and the connection is the first packet source's for its life.
 * Later chunks of the other sources are dropped and counted. Two packet
 * sources: the first to show a connection keeps it.
 *
 * Bounded: at most SONDE_ARBITER_FLOWS connections are remembered (the
 * least recently seen is forgotten first) and at most
 * SONDE_ARBITER_HELD_MAX bytes are held (beyond, the connection being held
 * goes to its packet source at once, counted).
 */
#ifndef SONDE_ARBITER_H
#define SONDE_ARBITER_H

#include <stdint.h>

#include "core/stats.h"
#include "source/source.h"

#define SONDE_ARBITER_HOLD_NS 500000000ull /* 5 × the eBPF source's poll period */
#define SONDE_ARBITER_FLOWS 16384
#define SONDE_ARBITER_HELD_MAX (16u << 20)
/* A remembered connection quiet this long is forgotten (as the table's
 * default idle timeout). */
#define SONDE_ARBITER_IDLE_NS (300ull * 1000000000ull)

struct sonde_arbiter;

/* Chunks that pass go to out; counters to stats. */
struct sonde_arbiter *sonde_arbiter_new(const struct sonde_chunk_out *out,
					struct sonde_stats *stats);
/* One chunk of any source; now_ns: a monotonic clock. Passed on at once,
 * held, or dropped. */
void sonde_arbiter_chunk(struct sonde_arbiter *a, const struct sonde_chunk *c, uint64_t now_ns);
/* Release the holds that ran out and forget quiet connections. */
void sonde_arbiter_tick(struct sonde_arbiter *a, uint64_t now_ns);
/* The run ends: every hold is released to its packet source. */
void sonde_arbiter_flush(struct sonde_arbiter *a);
void sonde_arbiter_free(struct sonde_arbiter *a);

#endif
