/* SPDX-License-Identifier: MIT */
/*
 * The record filter language (docs/filter.md): one expression, compiled once,
 * answered over a live record (sonde read/capture -Y, the store's writer) or
 * over a record as -o json wrote it (the store's reader, sonde query), and
 * translated to SQL where a store can run it on the server.
 *
 * This header is the contract the filter (src/query/) and the store
 * (src/store/) are built against; the implementation lives in src/query/.
 */
#ifndef SONDE_QUERY_FILTER_H
#define SONDE_QUERY_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct sonde_record;
struct sonde_filter;

struct sonde_filter_error {
	size_t column; /* 1-based column of the expression where it went wrong */
	char message[160];
};

/* NULL on a bad expression, with *err filled; never crashes, for any input. */
struct sonde_filter *sonde_filter_compile(const char *expr, struct sonde_filter_error *err);
void sonde_filter_free(struct sonde_filter *f);

/* A record as sinks get it. now_us: the clock now() means, in µs. */
bool sonde_filter_match_record(const struct sonde_filter *f, const struct sonde_record *r,
			       uint64_t now_us);
/* One JSON object, as `-o json` writes a record (a line, without the newline). */
bool sonde_filter_match_json(const struct sonde_filter *f, const char *json, size_t len,
			     uint64_t now_us);

enum sonde_sql_dialect {
	SONDE_SQL_SQLITE,
	SONDE_SQL_CLICKHOUSE,
};

/*
 * A WHERE clause for a table holding each record's JSON in column `json_col`,
 * plus columns that hold some field paths directly (NULL-terminated pairs:
 * field path, column name, e.g. {"protocol","protocol", "ts","ts_us", NULL}).
 * What the dialect cannot express becomes a condition on the JSON text, or,
 * when even that cannot be said, the clause is *exact == false and the caller
 * checks each row with sonde_filter_match_json as well. 0 or -1 (err filled).
 * For SQLite, qualify json_col with its table ("records.json"): the clause
 * may use json_each(), whose own hidden columns include one named json.
 * A column given for a time path (ts, request.ts) holds µs since the epoch;
 * any other column holds the value as the JSON has it. docs/filter.md, "SQL".
 */
int sonde_filter_to_sql(const struct sonde_filter *f, enum sonde_sql_dialect d,
			const char *json_col, const char *const *columns, uint64_t now_us,
			struct sonde_buf *out, bool *exact, struct sonde_filter_error *err);

#endif
