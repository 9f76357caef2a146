/* SPDX-License-Identifier: MIT */
/*
 * Synthetic TCP/IP packets for stream chunks. Sources that see streams
 * rather than packets (eBPF syscall hooks, TLS plaintext) have no packets to
 * record; this turns their chunks into IPv4/IPv6 + TCP datagrams that
 * Wireshark reassembles as if they had been on a wire:
 *
 *   - a connection's first chunk brings a three-way handshake (SYN, SYN-ACK,
 *     ACK; client and server from the chunk's role hint, else from SYN/ACK
 *     flags, else the higher port is the client), with window scaling so a
 *     one-sided burst never looks like a full window;
 *   - data at stream offset O of a direction is sent at seq ISN + 1 + O
 *     (SONDE_SEQ_STREAM64; TCP32 chunks are renumbered from the first one
 *     seen in their direction), split into segments that fit a 64 KiB IP
 *     datagram, each acking every byte the other direction has sent;
 *   - a hole (caplen < wirelen, or a chunk that starts past the bytes
 *     written so far) is a sequence jump: bytes that were not captured are
 *     never invented; bytes already written are not written twice;
 *   - FIN and RST chunks become FIN/RST segments; once both sides sent FIN
 *     the last ACK is written too.
 *
 * Connections are keyed by conn_id when the source gives one, else by the
 * flow's two endpoints in either order. The table holds at most max_conns;
 * the least recently used is evicted (counted) when a new one needs room,
 * and a chunk of an evicted connection starts it over with a new handshake.
 * ISNs derive from the key, so the same input gives the same packets.
 */
#ifndef SONDE_TCP_SYNTH_H
#define SONDE_TCP_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/chunk.h"

/* Largest datagram built: an IPv6 header and a full 64 KiB payload. */
#define SONDE_TCP_SYNTH_MAX_PKT (40u + 65535u)

struct sonde_tcp_synth_stats {
	uint64_t conns; /* connections started (handshakes written) */
	uint64_t evictions; /* connections dropped from a full table */
	uint64_t packets;
	uint64_t gaps, gap_bytes; /* sequence jumps and the bytes they skip */
	uint64_t skipped; /* chunks not written: not TCP over IPv4/IPv6 */
	uint64_t duplicate_bytes; /* bytes at offsets already written */
};

/*
 * One datagram (IPv4 or IPv6, starting with the IP header) for the chunk c.
 * Return 0 to go on, -1 to stop this chunk (the writer failed).
 */
typedef int (*sonde_tcp_synth_emit_fn)(void *ctx, const struct sonde_chunk *c, uint64_t ts_ns,
				       const uint8_t *pkt, uint32_t len);

struct sonde_tcp_synth;

/* max_conns 0: 65536. Aborts on allocation failure, like sonde_xmalloc. */
struct sonde_tcp_synth *sonde_tcp_synth_new(size_t max_conns);
/*
 * The packets of one chunk, in order, through emit. Returns the number of
 * packets emitted, or -1 when the chunk cannot be written (counted in
 * skipped) or emit asked to stop.
 */
int sonde_tcp_synth_chunk(struct sonde_tcp_synth *s, const struct sonde_chunk *c,
			  sonde_tcp_synth_emit_fn emit, void *ctx);
const struct sonde_tcp_synth_stats *sonde_tcp_synth_stats(const struct sonde_tcp_synth *s);
void sonde_tcp_synth_free(struct sonde_tcp_synth *s);

#endif
