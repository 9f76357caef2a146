/* SPDX-License-Identifier: MIT */
#include "store/query.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "query/filter.h"
#include "store/store.h"

#define FOLLOW_POLL_US 300000

struct cursor {
	char *path;
	sqlite3 *db;
	sqlite3_stmt *st;
	bool has_row;
	int64_t last_id; /* follow: the newest row already answered */
};

struct query {
	const struct sonde_query_opts *o;
	struct sonde_query_counts *c;
	char *where; /* the filter as SQL ("1" without one) */
	bool exact;
	uint64_t now_us;
	struct cursor *cur;
	size_t ncur;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "";
}

/* The current row of st, if the filter takes it: emitted. false: stop. */
static bool offer(struct query *q, sqlite3_stmt *st)
{
	struct sonde_query_row r = {
		.ts_us = (uint64_t)sqlite3_column_int64(st, 0),
		.json = col_text(st, 1),
		.json_len = (size_t)sqlite3_column_bytes(st, 1),
		.text = col_text(st, 2),
		.details = col_text(st, 3),
		.service = col_text(st, 4),
		.client = col_text(st, 5),
		.status =
			sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 6),
		.outcome = col_text(st, 7),
		.latency_us = sqlite3_column_type(st, 8) == SQLITE_NULL
				      ? -1
				      : sqlite3_column_int64(st, 8),
	};
	q->c->rows_read++;
	if (q->o->filter && !q->exact &&
	    !sonde_filter_match_json(q->o->filter, r.json, r.json_len, q->now_us))
		return true;
	q->c->matched++;
	return q->o->emit(q->o->ctx, &r);
}

/* Step a cursor; a segment damaged mid-read is named and dropped. */
static void advance(struct cursor *k)
{
	int rc = sqlite3_step(k->st);
	k->has_row = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fprintf(stderr, "sonde: query: %s: %s (the rest of it skipped)\n", k->path,
			sqlite3_errmsg(k->db));
}

static int prepare(struct query *q, struct cursor *k, bool follow)
{
	char *sql;
	if (asprintf(&sql,
		     "SELECT ts_us,json,text,details,service,client,status,outcome,latency_us,id"
		     " FROM records WHERE %s AND (%s) %s",
		     follow ? "id > ?1" : "ts_us >= ?2 AND ts_us < ?3 AND id <= ?1", q->where,
		     follow               ? "ORDER BY id"
		     : q->o->oldest_first ? "ORDER BY ts_us, id"
					  : "ORDER BY ts_us DESC, id DESC") < 0)
		abort();
	sqlite3_finalize(k->st);
	k->st = NULL;
	int rc = sqlite3_prepare_v2(k->db, sql, -1, &k->st, NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "sonde: query: %s: %s, skipped\n", k->path, sqlite3_errmsg(k->db));
		return -1;
	}
	sqlite3_bind_int64(k->st, 1, k->last_id);
	sqlite3_bind_int64(k->st, 2, (sqlite3_int64)q->o->since_us);
	sqlite3_bind_int64(k->st, 3, q->o->until_us ? (sqlite3_int64)q->o->until_us : INT64_MAX);
	return 0;
}

static int64_t max_id(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t id = 0;
	if (sqlite3_prepare_v2(db, "SELECT max(id) FROM records", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			id = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return id;
}

/* Open the segments not open yet (a follow sees new ones appear). */
static void open_segments(struct query *q, bool announce_new)
{
	char **paths;
	size_t n;
	if (sonde_store_list(q->o->dir, &paths, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		for (size_t j = 0; j < q->ncur && !known; j++)
			known = !strcmp(q->cur[j].path, paths[i]);
		if (known)
			continue;
		q->cur = realloc(q->cur, (q->ncur + 1) * sizeof(*q->cur));
		if (!q->cur)
			abort();
		struct cursor *k = &q->cur[q->ncur++];
		*k = (struct cursor){ .path = strdup(paths[i]) };
		char err[256];
		k->db = sonde_store_open_segment(paths[i], err, sizeof(err));
		q->c->segments++;
		if (!k->db) {
			fprintf(stderr, "sonde: query: %s: %s, skipped\n", paths[i], err);
			q->c->segments_skipped++;
			continue;
		}
		k->last_id = announce_new ? 0 : max_id(k->db);
	}
	sonde_store_list_free(paths, n);
}

/* Is a's row to come before b's? */
static bool before(const struct query *q, const struct cursor *a, const struct cursor *b)
{
	int64_t ta = sqlite3_column_int64(a->st, 0), tb = sqlite3_column_int64(b->st, 0);
	return q->o->oldest_first ? ta < tb : ta > tb;
}

/* Every segment's matches, merged by time, up to the limit. */
static bool merge(struct query *q)
{
	for (size_t i = 0; i < q->ncur; i++)
		if (q->cur[i].db && prepare(q, &q->cur[i], false) == 0)
			advance(&q->cur[i]);
	bool go = true;
	while (go && (!q->o->limit || q->c->matched < q->o->limit)) {
		struct cursor *best = NULL;
		for (size_t i = 0; i < q->ncur; i++)
			if (q->cur[i].has_row && (!best || before(q, &q->cur[i], best)))
				best = &q->cur[i];
		if (!best)
			break;
		go = offer(q, best->st);
		advance(best);
	}
	return go;
}

/* New rows of every segment, as they are committed, until *stop. */
static void follow(struct query *q)
{
	while (!(q->o->stop && *q->o->stop)) {
		usleep(FOLLOW_POLL_US);
		open_segments(q, true);
		for (size_t i = 0; i < q->ncur; i++) {
			struct cursor *k = &q->cur[i];
			if (!k->db || prepare(q, k, true) < 0)
				continue;
			for (advance(k); k->has_row; advance(k)) {
				k->last_id = sqlite3_column_int64(k->st, 9);
				if (!offer(q, k->st))
					return;
			}
		}
	}
}

int sonde_query_run(const struct sonde_query_opts *o, struct sonde_query_counts *c, char *err,
		    size_t errlen)
{
	*c = (struct sonde_query_counts){ 0 };
	if (access(o->dir, R_OK | X_OK) < 0) {
		snprintf(err, errlen, "%s: %m", o->dir);
		return -1;
	}
	struct query q = { .o = o, .c = c, .now_us = now_us(), .exact = true };
	struct sonde_buf w = { 0 };
	if (o->filter) {
		struct sonde_filter_error fe;
		if (sonde_filter_to_sql(o->filter, SONDE_SQL_SQLITE, "json",
					sonde_store_sql_columns, q.now_us, &w, &q.exact, &fe) < 0) {
			sonde_buf_reset(&w); /* every row is checked instead */
			q.exact = false;
		}
	}
	if (!w.len)
		sonde_buf_puts(&w, "1");
	sonde_buf_putc(&w, 0);
	q.where = (char *)w.p;
	c->exact_sql = q.exact;
	open_segments(&q, false);
	bool go = merge(&q);
	if (go && o->follow)
		follow(&q);
	for (size_t i = 0; i < q.ncur; i++) {
		sqlite3_finalize(q.cur[i].st);
		sqlite3_close(q.cur[i].db);
		free(q.cur[i].path);
	}
	free(q.cur);
	sonde_buf_free(&w);
	return 0;
}
