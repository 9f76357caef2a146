/* SPDX-License-Identifier: MIT */
/* `sonde query --top`: records counted by endpoint, status or talker, with
 * error rates and latency percentiles. */
#ifndef SONDE_STORE_TOP_H
#define SONDE_STORE_TOP_H

#include <stdbool.h>
#include <stdio.h>

#include "store/query.h"

enum sonde_top_kind {
	SONDE_TOP_ENDPOINTS, /* by service (server name or addr:port) */
	SONDE_TOP_STATUS, /* by response status */
	SONDE_TOP_TALKERS, /* by client address */
};

struct sonde_top;

struct sonde_top *sonde_top_new(enum sonde_top_kind kind);
void sonde_top_add(struct sonde_top *t, const struct sonde_query_row *r);
/* The n largest groups (0: all), most records first: a table, or JSON lines. */
void sonde_top_write(struct sonde_top *t, size_t n, bool json, FILE *out);
void sonde_top_free(struct sonde_top *t);

#endif
