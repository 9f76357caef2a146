/* SPDX-License-Identifier: MIT */
/*
 * Pairing: turns a connection's requests and responses into records. How a
 * response finds its request is the protocol's pairing shape (each dissector
 * declares one): in order (HTTP/1.x: the oldest waiting request), by key (the
 * oldest waiting request of the same pair key: HTTP/2's stream id), or
 * one-sided events (every message is a record of its own, nothing waits). A
 * response with nothing to pair is written alone, flagged unsolicited;
 * requests still waiting when the connection ends, or pushed out of the
 * bounded queue, are written alone, flagged unanswered.
 */
#ifndef SONDE_PAIRING_H
#define SONDE_PAIRING_H

#include <stddef.h>

#include "core/record.h"
#include "core/stats.h"

enum sonde_pair_shape {
	SONDE_PAIR_IN_ORDER = 0, /* responses answer requests in the order sent */
	SONDE_PAIR_BY_KEY, /* a response answers the request of its pair_key */
	SONDE_PAIR_EVENTS, /* no pairing: each message is a record alone */
};

/* Bytes held by waiting requests, shared by all connections of a capture. */
struct sonde_pending_budget {
	size_t used;
	size_t limit;
};

struct sonde_pairing {
	struct sonde_msg *head, *tail; /* waiting requests, oldest first */
	size_t waiting;
	size_t max_waiting;
	enum sonde_pair_shape shape;
	const struct sonde_conn_info *conn;
	const struct sonde_record_out *out;
	struct sonde_stats *stats;
	struct sonde_pending_budget *budget;
	/* In-order requests written early: their responses are still
	 * to come, first, and must not pair with later requests. */
	size_t orphans;
};

/*
 * Requests wait at most max_waiting per connection and, across connections,
 * while budget->used stays under budget->limit; past either bound the
 * connection's oldest waiting request is written as unanswered.
 */
void sonde_pairing_init(struct sonde_pairing *p, const struct sonde_conn_info *conn,
			const struct sonde_record_out *out, struct sonde_stats *stats,
			size_t max_waiting, struct sonde_pending_budget *budget);
/* The protocol's shape (init leaves SONDE_PAIR_IN_ORDER). */
void sonde_pairing_set_shape(struct sonde_pairing *p, enum sonde_pair_shape shape);
/* The oldest waiting request (the one an in-order response answers), or NULL.
 * Still owned by the pairing: look, do not keep. */
struct sonde_msg *sonde_pairing_oldest(const struct sonde_pairing *p);
/* Both take ownership of m. */
void sonde_pairing_request(struct sonde_pairing *p, struct sonde_msg *m);
void sonde_pairing_response(struct sonde_pairing *p, struct sonde_msg *m);
/* A message that is a record alone, with neither flag: a one-sided event
 * of a protocol that otherwise pairs (Redis pub/sub, a command the server
 * was told not to answer). Takes ownership of m; nothing waiting moves. */
void sonde_pairing_event(struct sonde_pairing *p, struct sonde_msg *m);
/* Write every waiting request as unanswered. */
void sonde_pairing_flush(struct sonde_pairing *p);

#endif
