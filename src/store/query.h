/* SPDX-License-Identifier: MIT */
/*
 * Reading the embedded store: the records a filter matches, newest first
 * (or oldest first), merged across segments by time, then optionally
 * followed as new ones are committed. A segment that cannot be read is
 * named on stderr and skipped; the others are still answered.
 */
#ifndef SONDE_STORE_QUERY_H
#define SONDE_STORE_QUERY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sonde_filter;

struct sonde_query_row {
	uint64_t ts_us;
	const char *json, *text, *details; /* text: the line without its clock */
	size_t json_len;
	const char *service, *client, *outcome;
	int status; /* -1: none */
	int64_t latency_us; /* -1: none */
};

struct sonde_query_opts {
	const char *dir;
	const struct sonde_filter *filter; /* NULL: every record */
	uint64_t since_us, until_us; /* ts in [since, until); until 0: no bound */
	uint64_t limit; /* 0: all */
	bool oldest_first;
	bool follow; /* then wait for new records until *stop */
	const volatile sig_atomic_t *stop;
	/* One matching row; false stops the query (the reader went away). */
	bool (*emit)(void *ctx, const struct sonde_query_row *row);
	void *ctx;
};

struct sonde_query_counts {
	uint64_t rows_read; /* rows the SQL pre-filter returned */
	uint64_t matched; /* rows emitted */
	uint64_t segments, segments_skipped;
	bool exact_sql; /* the SQL alone decided (no per-row check) */
};

/* 0, or -1 with one sentence in err (the store cannot be read at all). */
int sonde_query_run(const struct sonde_query_opts *o, struct sonde_query_counts *c, char *err,
		    size_t errlen);

#endif
