/* SPDX-License-Identifier: MIT */
/*
 * The connection table: the stage after the sources. It finds each chunk's
 * connection (creating it on first sight), decides which side is the client
 * (SYN, the source's hint, or the protocol's first bytes), reassembles each
 * direction, detects the protocol and feeds the dissector. Connections end
 * on FIN in both directions, RST, the idle timeout, eviction when the table
 * is full, or the end of input; whatever is pending is then written.
 *
 * The pieces: this file's table (lookup, LRU, lifecycle); conn/tcpseq.h
 * (TCP sequence numbers of packet sources → stream offsets); conn/reasm.h
 * (one direction's reassembly); conn/detect.h (which protocol).
 *
 * UDP takes the datagram path: no reassembly, one entry per 5-tuple, made
 * only once a datagram dissector's probe claims a datagram of the flow (the
 * claim gives the roles, as for streams). Datagrams of flows nobody
 * dissects are counted (udp_datagrams_undissected, udp_bytes_undissected)
 * and take no table entry.
 */
#ifndef SONDE_CONNTABLE_H
#define SONDE_CONNTABLE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "core/chunk.h"
#include "core/record.h"
#include "core/stats.h"
#include "proto/dissector.h"
#include "conn/detect.h"
#include "conn/reasm.h"
#include "proto/tls/keylog.h"

/* --follow: one connection's bytes in order, as reassembly delivers them,
 * and what is missing. from_client: the bytes' sender is the client (or,
 * roles unknown, the first to send). */
struct sonde_follow_out {
	void (*data)(void *ctx, const struct sonde_conn_info *c, bool from_client, const uint8_t *p,
		     size_t n, uint64_t ts);
	void (*gap)(void *ctx, const struct sonde_conn_info *c, bool from_client, uint64_t n);
	void *ctx;
};

struct sonde_conntable_opts {
	size_t max_conns; /* connections tracked at once */
	uint64_t idle_timeout_ns; /* close connections quiet this long */
	size_t reasm_mem; /* out-of-order bytes buffered, all connections */
	size_t reasm_stream_mem; /* the same, per direction */
	const char *source; /* named in records' capture.source */
	/* Told when sonde stops dissecting a connection (unknown protocol,
	 * tunnel), so a source can stop copying its bytes. May be NULL. */
	void (*on_ignore)(void *ctx, uint64_t conn_id);
	void *on_ignore_ctx;
	/* Ports whose protocol is probed first (conn/detect.h), ended by
	 * port 0; NULL for the built-in table. */
	const struct sonde_port_hint *port_hints;
	/* The dissectors, NULL-terminated in probing order; NULL for the
	 * registry (sonde_dissectors). */
	const struct sonde_dissector *const *dissectors;
	/* The connection whose bytes go to follow as well (conn.id); 0: none. */
	uint64_t follow_id;
	const struct sonde_follow_out *follow;
	/* --connections: a "connection" record as each TCP connection ends
	 * (and for each failed attempt), conn/tcphealth.h. */
	bool connections;
	/* read --tls-keylog: connections detected as TLS go through the TLS
	 * stage (proto/tls/tls_decrypt.h) and their plaintext is detected and
	 * dissected as cleartext. NULL: TLS is only recognised. */
	const struct sonde_keylog *tls_keylog;
	/* With tls_keylog: a line here for each TLS connection not decrypted
	 * and why (the first 100; the rest are counted in the stats); NULL:
	 * none (-q). */
	FILE *tls_notes;
};

struct sonde_conntable;

struct sonde_conntable *sonde_conntable_new(const struct sonde_conntable_opts *opts,
					    const struct sonde_dissect_opts *dopts,
					    const struct sonde_record_out *out,
					    struct sonde_stats *stats);
/* Feed one chunk. Chunk timestamps drive the idle timeout. UDP chunks go to
 * sonde_conntable_datagram(); other transports are ignored. */
void sonde_conntable_chunk(struct sonde_conntable *ct, const struct sonde_chunk *c);
/* Feed one UDP datagram (a chunk of l4 SONDE_L4_UDP, its whole payload;
 * seq, ack, flags unused). A datagram the capture cut short (caplen <
 * wirelen) is counted, not dissected. */
void sonde_conntable_datagram(struct sonde_conntable *ct, const struct sonde_chunk *c);
/* Close connections idle since before now - idle timeout (live sources call
 * this periodically, since their chunks may stop coming). */
void sonde_conntable_tick(struct sonde_conntable *ct, uint64_t now_ns);
void sonde_conntable_set_ignore(struct sonde_conntable *ct, void (*fn)(void *, uint64_t),
				void *ctx);
/* Close every connection (end of input), writing what is pending. */
void sonde_conntable_close_all(struct sonde_conntable *ct);
size_t sonde_conntable_count(const struct sonde_conntable *ct);
void sonde_conntable_free(struct sonde_conntable *ct);

#endif
