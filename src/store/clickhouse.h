/* SPDX-License-Identifier: MIT */
/*
 * ClickHouse (--sink clickhouse=http://HOST:PORT/DB): records inserted in
 * batches over its HTTP interface into one table sonde creates (ordered by
 * time and service, partitioned by day), each tagged with its node; a
 * bounded queue in front, so a slow or absent server costs records (counted)
 * but never stalls capture, and the queue drains when it is back. Retention:
 * sonde drops day partitions older than --store-age. `sonde query --store
 * clickhouse=URL` runs the filter as SQL on the server.
 */
#ifndef SONDE_STORE_CLICKHOUSE_H
#define SONDE_STORE_CLICKHOUSE_H

#include "core/stage.h"
#include "core/stats.h"
#include "store/query.h"

struct sonde_clickhouse_opts {
	const char *url; /* http://host:port/db (db: default when absent) */
	const char *node; /* this sonde's name in every row */
	uint64_t max_age_ns; /* drop partitions older than this; 0: never */
	const char *spill_dir; /* failed batches kept here (store/spill.h); NULL: none */
	uint64_t spill_quota; /* the spill's bound in bytes */
};

extern const struct sonde_stage_ops sonde_clickhouse_stage;

/* The stage's context, after the schema was made (the server must answer
 * at start). NULL with one sentence in err. */
void *sonde_clickhouse_stage_new(const struct sonde_clickhouse_opts *o, struct sonde_stats *stats,
				 char *err, size_t errlen);

/* sonde_query_run for a ClickHouse URL (o->dir is ignored; no --follow). */
int sonde_clickhouse_query(const char *url, const struct sonde_query_opts *o,
			   struct sonde_query_counts *c, char *err, size_t errlen);

#endif
