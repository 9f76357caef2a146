/* SPDX-License-Identifier: MIT */
/*
 * The dissector interface. One file per protocol implements one const
 * struct sonde_dissector; the registry (registry.c) lists them.
 *
 * The connection table calls probe() on the first bytes of a connection it
 * has not identified yet; the first dissector that claims the bytes is
 * opened for the connection and from then on gets every byte of both
 * directions, in order, with gaps reported explicitly. Dissectors are
 * incremental: data may be split at any byte. Parsed messages go to the
 * session (proto/session.h), never into the pairing queue directly.
 */
#ifndef SONDE_DISSECTOR_H
#define SONDE_DISSECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"
#include "core/stats.h"
#include "pair/pairing.h"

/* Direction relative to the connection's roles. */
enum sonde_dir {
	SONDE_DIR_C2S = 0, /* client to server */
	SONDE_DIR_S2C = 1,
};

enum sonde_probe {
	SONDE_PROBE_NO = 0, /* not this protocol */
	SONDE_PROBE_MORE, /* could be: need more bytes to tell */
	SONDE_PROBE_CLIENT, /* yes, and these bytes were sent by the client */
	SONDE_PROBE_SERVER, /* yes, and these bytes were sent by the server */
};

struct sonde_protodesc;

/* Options every dissector honours. */
struct sonde_dissect_opts {
	size_t body_limit; /* body bytes kept per message */
	size_t max_head; /* largest header block accepted */
	size_t max_waiting; /* requests waiting for responses, per connection */
	size_t pending_mem; /* bytes held by waiting requests, all connections */
	int decode_bodies; /* inflate gzip/deflate bodies */
	const struct sonde_protodesc *proto_desc; /* gRPC message schemas, or NULL */
	/* --no-bodies: dissectors (names, comma-separated; "http" is http1 and
	 * http2, "all" every one) opened with body_limit 0 */
	char no_bodies[64];
};

/* Does the --no-bodies list name dissector `name`? */
bool sonde_dissect_no_body(const struct sonde_dissect_opts *o, const char *name);

/* Per-connection context handed to a dissector when it is opened. */
struct sonde_session {
	const struct sonde_conn_info *conn;
	const struct sonde_dissect_opts *opts;
	struct sonde_stats *stats;
	struct sonde_pairing pairing;
	/* Stream position of each direction when the dissector was opened:
	 * non-zero or midstream means it starts in the middle of the stream. */
	int midstream[2];
	/* Set by a dissector that hands the rest of the connection over
	 * (HTTP Upgrade, CONNECT): the protocol's name, or "tunnel". */
	const char *switch_to;
	/* The dissector's per-capture state (shared_new), or NULL: without a
	 * connection table, or for a dissector that has none. */
	void *shared;
};

struct sonde_dissector {
	const char *name;
	/* How its responses find their requests (pair/pairing.h); open()
	 * applies it with sonde_session_start (proto/session.h). */
	enum sonde_pair_shape pairing;
	/* Look at the first bytes of one direction (role unknown). */
	enum sonde_probe (*probe)(const uint8_t *p, size_t n);
	void *(*open)(struct sonde_session *s);
	/*
	 * Bytes of direction `dir`. Returns how many were consumed; less than
	 * n only after setting s->switch_to (the rest belongs to another
	 * protocol).
	 */
	size_t (*data)(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts);
	/* n bytes of direction dir are missing. */
	void (*gap)(void *state, enum sonde_dir dir, uint64_t n, uint64_t ts);
	/* Direction dir ended (FIN). */
	void (*end)(void *state, enum sonde_dir dir, uint64_t ts);
	/* The connection is gone: emit what is pending and free the state. */
	void (*close)(void *state, uint64_t ts);
	/*
	 * Datagram protocols (UDP; NULL for the others): one whole datagram
	 * of direction dir. The table's datagram path skips reassembly: probe()
	 * is asked about a flow's datagram payloads until one claims it (MORE
	 * counts as NO), then open(), datagram() for each datagram the capture
	 * holds whole, and close(); data, gap and end are not called. A
	 * dissector may set both data and datagram (DNS over TCP and UDP).
	 */
	void (*datagram)(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts);
	/*
	 * Optional (NULL for most): state the dissector's connections of one
	 * capture share (Kafka: topic names by id, told on one connection and
	 * used on another), made by the connection table when it first opens
	 * the dissector, handed to every session (session->shared), and freed
	 * with the table.
	 */
	void *(*shared_new)(void);
	void (*shared_free)(void *shared);
};

/* All dissectors, NULL-terminated, in probing order. */
extern const struct sonde_dissector *const sonde_dissectors[];
const struct sonde_dissector *sonde_dissector_find(const char *name);

#endif
