/* SPDX-License-Identifier: MIT */
/*
 * Pairing: turns a connection's requests and responses into records. A
 * response pairs with the oldest waiting request of the same pair key (0 for
 * in-order protocols such as HTTP/1.x; the stream id for HTTP/2). A response
 * with nothing to pair is written alone, flagged unsolicited; requests still
 * waiting when the connection ends, or pushed out of the bounded queue, are
 * written alone, flagged unanswered.
 */
#ifndef SONDE_PAIRING_H
#define SONDE_PAIRING_H

#include <stddef.h>

#include "core/record.h"
#include "core/stats.h"

/* Bytes held by waiting requests, shared by all connections of a capture. */
struct sonde_pending_budget {
	size_t used;
	size_t limit;
};

struct sonde_pairing {
	struct sonde_msg *head, *tail; /* waiting requests, oldest first */
	size_t waiting;
	size_t max_waiting;
	const struct sonde_conn_info *conn;
	const struct sonde_record_out *out;
	struct sonde_stats *stats;
	struct sonde_pending_budget *budget;
	/* In-order (key 0) requests written early: their responses are still
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
/* Both take ownership of m. */
void sonde_pairing_request(struct sonde_pairing *p, struct sonde_msg *m);
void sonde_pairing_response(struct sonde_pairing *p, struct sonde_msg *m);
/* Write every waiting request as unanswered. */
void sonde_pairing_flush(struct sonde_pairing *p);

#endif
