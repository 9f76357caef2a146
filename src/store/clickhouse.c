/* SPDX-License-Identifier: MIT */
#include "store/clickhouse.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query/filter.h"
#include "store/batchq.h"
#include "store/http.h"
#include "store/spill.h"
#include "store/store.h" /* its table has the store's index columns */

#define CH_TABLE "sonde_records"
#define CH_QUEUE_BYTES (64u << 20)
#define CH_QUEUE_ROWS 100000
#define CH_BATCH_ROWS 5000
#define CH_LINGER_MS 500
#define CH_RETRY_MS 1000
#define CH_TIMEOUT_MS 10000
#define CH_DRAIN_MS 15000
#define CH_MAX_REPLY (256u << 20)
#define CH_REFUSALS 3 /* a spilled batch the server refuses this often is dropped */

struct ch_sink {
	struct sonde_http_url url;
	char db[256];
	char node[128];
	uint64_t max_age_ns;
	uint64_t next_retention_ns;
	struct sonde_batchq q;
	struct sonde_stats *stats;
	uint64_t seq;
	bool stopped;
	pthread_mutex_t mu; /* the counters the writer keeps */
	uint64_t sent, failed_posts, unsent;
	bool down; /* said once per outage */
	/* --clickhouse-spill: batches that failed wait on disk (writer thread) */
	bool spilling;
	struct sonde_spill spill;
	uint64_t next_try_ns; /* while down: no insert tried before this */
	unsigned refusals; /* answered errors for the oldest spilled batch */
	uint64_t spilled, replayed, spill_dropped, spill_pending;
};

/* One statement; 0, or -1 when the server did not answer, -2 when it
 * answered with an error (err filled either way). resp may be NULL. */
static int ch_exec(const struct sonde_http_url *u, const char *db, const char *sql,
		   const void *body, size_t len, struct sonde_buf *resp, char *err, size_t errlen)
{
	struct sonde_buf target = { 0 }, tmp = { 0 };
	sonde_buf_puts(&target, "/?database=");
	sonde_http_urlencode(&target, db, strlen(db));
	sonde_buf_puts(&target, "&query=");
	sonde_http_urlencode(&target, sql, strlen(sql));
	sonde_buf_putc(&target, 0);
	struct sonde_buf *r = resp ? resp : &tmp;
	int st = sonde_http_post(u, (const char *)target.p, body, len, r, CH_MAX_REPLY,
				 CH_TIMEOUT_MS, err, errlen);
	int rc = st < 0 ? -1 : 0;
	if (st >= 0 && st != 200) {
		int n = (int)(r->len > 300 ? 300 : r->len);
		snprintf(err, errlen, "ClickHouse said %d: %.*s", st, n, (const char *)r->p);
		rc = -2;
	}
	sonde_buf_free(&target);
	sonde_buf_free(&tmp);
	return rc;
}

static const char ch_schema[] =
	"CREATE TABLE IF NOT EXISTS " CH_TABLE " (ts_us UInt64, ts DateTime DEFAULT "
	"toDateTime(intDiv(ts_us, 1000000)), node String, service String, protocol String, "
	"server String, server_port UInt16, client String, status Int32, outcome String, "
	"latency_us Int64, pid UInt32, comm String, pod String, conn_id UInt64, json String, "
	"text String) ENGINE = MergeTree() PARTITION BY toYYYYMMDD(ts) ORDER BY (ts, service)";

/* TabSeparated's escapes. */
static void tsv(struct sonde_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		switch (c) {
		case '\\': sonde_buf_puts(b, "\\\\"); break;
		case '\t': sonde_buf_puts(b, "\\t"); break;
		case '\n': sonde_buf_puts(b, "\\n"); break;
		case '\r': sonde_buf_puts(b, "\\r"); break;
		case 0: sonde_buf_puts(b, "\\0"); break;
		default: sonde_buf_putc(b, c);
		}
	}
}

static void tsv_s(struct sonde_buf *b, const char *s)
{
	tsv(b, s, strlen(s));
	sonde_buf_putc(b, '\t');
}

static void row_tsv(struct sonde_buf *b, const struct ch_sink *k, const struct sonde_store_row *w)
{
	sonde_buf_printf(b, "%" PRIu64 "\t", w->ts_us);
	tsv_s(b, k->node);
	tsv_s(b, w->service);
	tsv_s(b, w->protocol);
	tsv_s(b, w->server);
	sonde_buf_printf(b, "%u\t", w->server_port);
	tsv_s(b, w->client);
	sonde_buf_printf(b, "%d\t", w->status);
	tsv_s(b, sonde_store_outcome_name(w->outcome));
	sonde_buf_printf(b, "%" PRId64 "\t%u\t", w->latency_us, w->pid);
	tsv_s(b, w->comm);
	tsv_s(b, w->pod);
	sonde_buf_printf(b, "%" PRIu64 "\t", w->conn_id);
	tsv_s(b, w->json);
	tsv(b, w->text, w->text_len);
	sonde_buf_putc(b, '\n');
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Drop the day partitions wholly older than the age bound (18.16 has no
 * TTL). Once an hour, on the writer thread. */
static void retention(struct ch_sink *k)
{
	uint64_t now = wall_ns();
	if (!k->max_age_ns || now < k->next_retention_ns)
		return;
	k->next_retention_ns = now + 3600ull * 1000000000ull;
	time_t cut = (time_t)((now - k->max_age_ns) / 1000000000ull);
	struct tm tm;
	gmtime_r(&cut, &tm);
	char sql[512], err[256];
	snprintf(sql, sizeof(sql),
		 "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase()"
		 " AND table = '" CH_TABLE "' AND active AND partition < '%04d%02d%02d'",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	struct sonde_buf r = { 0 };
	if (ch_exec(&k->url, k->db, sql, NULL, 0, &r, err, sizeof(err)) == 0) {
		sonde_buf_putc(&r, 0);
		for (char *save, *p = strtok_r((char *)r.p, "\n", &save); p;
		     p = strtok_r(NULL, "\n", &save)) {
			if (strspn(p, "0123456789") != strlen(p))
				continue;
			snprintf(sql, sizeof(sql), "ALTER TABLE " CH_TABLE " DROP PARTITION %s", p);
			ch_exec(&k->url, k->db, sql, NULL, 0, NULL, err, sizeof(err));
		}
	}
	sonde_buf_free(&r);
}

static const char ch_insert_sql[] =
	"INSERT INTO " CH_TABLE " (ts_us, node, service, protocol, server, server_port, client, "
	"status, outcome, latency_us, pid, comm, pod, conn_id, json, text) FORMAT TabSeparated";

/* One insert; the outcome counted and said (once per outage). 0, -1 (no
 * answer), -2 (refused). */
static int insert(struct ch_sink *k, const struct sonde_buf *body, uint64_t rows)
{
	char err[512];
	int rc = ch_exec(&k->url, k->db, ch_insert_sql, body->p, body->len, NULL, err, sizeof(err));
	pthread_mutex_lock(&k->mu);
	if (rc == 0) {
		k->sent += rows;
		if (k->down)
			fprintf(stderr, "sonde: clickhouse: back; sending again\n");
		k->down = false;
	} else {
		k->failed_posts++;
		if (!k->down)
			fprintf(stderr, "sonde: clickhouse: %s (%s)\n", err,
				k->spilling ? "records spilled to disk, sent when it is back"
					    : "records queued, then dropped and counted");
		k->down = true;
		k->next_try_ns = wall_ns() + CH_RETRY_MS * 1000000ull;
	}
	pthread_mutex_unlock(&k->mu);
	return rc;
}

static void publish_spill(struct ch_sink *k)
{
	pthread_mutex_lock(&k->mu);
	k->spill_dropped = k->spill.dropped_rows;
	k->spill_pending = k->spill.rows;
	pthread_mutex_unlock(&k->mu);
}

/* Did an earlier insert of this batch get in after all (the server took
 * it, then its answer was lost: killed mid-reply)? One insert is one block,
 * so its first row tells: node, ts_us, conn_id and the JSON line (TSV
 * escapes are valid in a ClickHouse string literal; quotes are escaped). */
static bool already_in(struct ch_sink *k, const struct sonde_buf *body)
{
	const char *p = (const char *)body->p, *end = p + body->len;
	const char *col[16];
	size_t len[16], n = 0;
	for (const char *c = p; n < 16 && c < end;) {
		const char *t = c;
		while (t < end && *t != '\t' && *t != '\n')
			t++;
		col[n] = c;
		len[n++] = (size_t)(t - c);
		if (t >= end || *t == '\n')
			break;
		c = t + 1;
	}
	if (n < 16)
		return false;
	struct sonde_buf sql = { 0 }, r = { 0 };
	sonde_buf_printf(&sql,
			 "SELECT count() FROM " CH_TABLE " WHERE ts_us = %.*s AND conn_id = %.*s",
			 (int)len[0], col[0], (int)len[13], col[13]);
	for (int i = 1; i < 16; i += 14) { /* node (1) and json (15) */
		sonde_buf_puts(&sql, i == 1 ? " AND node = '" : " AND json = '");
		for (size_t j = 0; j < len[i]; j++) {
			if (col[i][j] == '\'')
				sonde_buf_putc(&sql, '\\');
			sonde_buf_putc(&sql, col[i][j]);
		}
		sonde_buf_putc(&sql, '\'');
	}
	sonde_buf_putc(&sql, 0);
	char err[256];
	bool in =
		ch_exec(&k->url, k->db, (const char *)sql.p, NULL, 0, &r, err, sizeof(err)) == 0 &&
		r.len && r.p[0] >= '1' && r.p[0] <= '9';
	sonde_buf_free(&sql);
	sonde_buf_free(&r);
	return in;
}

/* The spilled batches, oldest first, while the server takes them. true
 * when none is left (newer rows may go straight to the server). */
static bool replay(struct ch_sink *k)
{
	bool waiting = k->spill.head < k->spill.n;
	if (waiting && k->down && wall_ns() < k->next_try_ns)
		return false; /* still down: tried again later, not per batch */
	struct sonde_buf body = { 0 };
	uint64_t rows;
	bool empty = true;
	while (sonde_spill_peek(&k->spill, &body, &rows)) {
		bool in = already_in(k, &body);
		int rc = in ? 0 : insert(k, &body, rows);
		if (in) { /* taken before (the server answered this query: it is back) */
			pthread_mutex_lock(&k->mu);
			k->sent += rows;
			k->down = false;
			pthread_mutex_unlock(&k->mu);
		}
		if (rc == 0) {
			sonde_spill_pop(&k->spill);
			k->replayed += rows;
			k->refusals = 0;
			continue;
		}
		/* a batch the server answers with an error each time (damaged on
		 * disk) would hold back every later one */
		if (rc == -2 && ++k->refusals >= CH_REFUSALS) {
			fprintf(stderr,
				"sonde: clickhouse: a spilled batch of %" PRIu64
				" records refused %d times, dropped\n",
				rows, CH_REFUSALS);
			sonde_spill_drop(&k->spill);
			k->refusals = 0;
			continue;
		}
		empty = false;
		break;
	}
	sonde_buf_free(&body);
	publish_spill(k);
	return empty;
}

static size_t write_batch(void *ctx, struct sonde_store_row **rows, size_t n)
{
	struct ch_sink *k = ctx;
	struct sonde_buf body = { 0 };
	for (size_t i = 0; i < n; i++)
		row_tsv(&body, k, rows[i]);
	/* with a spill, order is kept: older spilled rows go first, and while
	 * they wait this batch waits behind them on disk */
	bool sent = (!k->spilling || replay(k)) && insert(k, &body, n) == 0;
	if (!sent && k->spilling) {
		sonde_spill_put(&k->spill, body.p, body.len, n);
		k->spilled += n;
		publish_spill(k);
	}
	sonde_buf_free(&body);
	if (sent)
		retention(k);
	/* without a spill nothing is dealt with on failure: offered again */
	return sent || k->spilling ? n : 0;
}

void *sonde_clickhouse_stage_new(const struct sonde_clickhouse_opts *o, struct sonde_stats *stats,
				 char *err, size_t errlen)
{
	struct ch_sink *k = calloc(1, sizeof(*k));
	if (!k)
		abort();
	if (sonde_http_url_parse(o->url, &k->url, err, errlen) < 0) {
		free(k);
		return NULL;
	}
	snprintf(k->db, sizeof(k->db), "%s", k->url.path[0] ? k->url.path : "default");
	snprintf(k->node, sizeof(k->node), "%s", o->node);
	k->max_age_ns = o->max_age_ns;
	k->stats = stats;
	if (o->spill_dir &&
	    sonde_spill_open(&k->spill, o->spill_dir, o->spill_quota, err, errlen) < 0) {
		free(k);
		return NULL;
	}
	k->spilling = o->spill_dir != NULL;
	char sql[320];
	snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS `%s`", k->db);
	if (strchr(k->db, '`') ||
	    ch_exec(&k->url, "default", sql, NULL, 0, NULL, err, errlen) < 0 ||
	    ch_exec(&k->url, k->db, ch_schema, NULL, 0, NULL, err, errlen) < 0) {
		if (strchr(k->db, '`'))
			snprintf(err, errlen, "a database name without backquotes");
		sonde_spill_close(&k->spill);
		free(k);
		return NULL;
	}
	pthread_mutex_init(&k->mu, NULL);
	retention(k);
	struct sonde_batchq_opts qo = {
		.max_bytes = CH_QUEUE_BYTES,
		.max_rows = CH_QUEUE_ROWS,
		.batch_rows = CH_BATCH_ROWS,
		.linger_ms = CH_LINGER_MS,
		.retry_ms = CH_RETRY_MS,
		.write = write_batch,
		.ctx = k,
	};
	if (sonde_batchq_start(&k->q, &qo) < 0) {
		snprintf(err, errlen, "the writer thread: %m");
		pthread_mutex_destroy(&k->mu);
		sonde_spill_close(&k->spill);
		free(k);
		return NULL;
	}
	return k;
}

static void publish(struct ch_sink *k)
{
	pthread_mutex_lock(&k->mu);
	k->stats->clickhouse_records = k->sent;
	k->stats->clickhouse_failed_posts = k->failed_posts;
	k->stats->clickhouse_unsent = k->unsent;
	k->stats->clickhouse_spilled = k->spilled;
	k->stats->clickhouse_spill_replayed = k->replayed;
	k->stats->clickhouse_spill_dropped = k->spill_dropped;
	k->stats->clickhouse_spill_pending = k->spill_pending;
	pthread_mutex_unlock(&k->mu);
	if (!k->stopped)
		k->stats->clickhouse_queue_drops = sonde_batchq_dropped(&k->q);
}

static bool stage_record(void *ctx, struct sonde_record *r)
{
	struct ch_sink *k = ctx;
	if (k->stopped)
		return true;
	sonde_batchq_push(&k->q, sonde_store_row_new(r, ++k->seq));
	if (!(k->seq & 1023))
		publish(k);
	return true;
}

static void stop(struct ch_sink *k)
{
	if (k->stopped)
		return;
	sonde_batchq_drain(&k->q, CH_DRAIN_MS);
	uint64_t dropped = sonde_batchq_dropped(&k->q);
	size_t left = sonde_batchq_stop(&k->q);
	if (k->spilling) {
		/* the writer is gone: one last try of what waits on disk; what
		 * stays there is the next run's to send */
		k->next_try_ns = 0;
		replay(k);
		if (k->spill.rows)
			fprintf(stderr,
				"sonde: clickhouse: %" PRIu64 " records stay spilled in %s, "
				"sent by the next run\n",
				k->spill.rows, k->spill.dir);
	}
	pthread_mutex_lock(&k->mu);
	k->unsent = left;
	pthread_mutex_unlock(&k->mu);
	k->stopped = true;
	publish(k);
	k->stats->clickhouse_queue_drops = dropped;
}

static void stage_finish(void *ctx, const struct sonde_stats *st)
{
	(void)st;
	stop(ctx);
}

static void stage_flush(void *ctx)
{
	struct ch_sink *k = ctx;
	if (!k->stopped)
		publish(k);
}

static int stage_close(void *ctx)
{
	struct ch_sink *k = ctx;
	stop(k);
	pthread_mutex_destroy(&k->mu);
	sonde_spill_close(&k->spill);
	free(k);
	return 0;
}

const struct sonde_stage_ops sonde_clickhouse_stage = {
	.name = "clickhouse",
	.phase = SONDE_STAGE_SINK,
	.record = stage_record,
	.finish = stage_finish,
	.flush = stage_flush,
	.close = stage_close,
};

/* ---- query ---- */

/* Undo TabSeparated's escapes in place; returns the new length. */
static size_t untsv(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p != '\\' || !p[1]) {
			*o++ = *p;
			continue;
		}
		p++;
		*o++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == '0' ? 0 : *p;
	}
	*o = 0;
	return (size_t)(o - s);
}

int sonde_clickhouse_query(const char *url, const struct sonde_query_opts *o,
			   struct sonde_query_counts *c, char *err, size_t errlen)
{
	*c = (struct sonde_query_counts){ 0 };
	struct sonde_http_url u;
	if (sonde_http_url_parse(url, &u, err, errlen) < 0)
		return -1;
	const char *db = u.path[0] ? u.path : "default";
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now_us = (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
	struct sonde_buf where = { 0 }, sql = { 0 }, resp = { 0 };
	bool exact = true;
	if (o->filter) {
		struct sonde_filter_error fe;
		if (sonde_filter_to_sql(o->filter, SONDE_SQL_CLICKHOUSE, "json",
					sonde_store_sql_columns, now_us, &where, &exact, &fe) < 0) {
			sonde_buf_reset(&where);
			exact = false;
		}
	}
	if (!where.len)
		sonde_buf_puts(&where, "1");
	c->exact_sql = exact;
	sonde_buf_printf(&sql,
			 "SELECT ts_us, json, text, service, client, status, outcome, latency_us "
			 "FROM " CH_TABLE " WHERE ts_us >= %" PRIu64 " AND ts_us < %" PRIu64
			 " AND (%.*s) ORDER BY ts_us %s",
			 o->since_us, o->until_us ? o->until_us : UINT64_MAX, (int)where.len,
			 (const char *)where.p, o->oldest_first ? "" : "DESC");
	if (o->limit && exact)
		sonde_buf_printf(&sql, " LIMIT %" PRIu64, o->limit);
	sonde_buf_puts(&sql, " FORMAT TabSeparated");
	sonde_buf_putc(&sql, 0);
	int rc = ch_exec(&u, db, (const char *)sql.p, NULL, 0, &resp, err, errlen);
	if (rc == 0) {
		c->segments = 1;
		sonde_buf_putc(&resp, 0);
		char *save;
		for (char *line = strtok_r((char *)resp.p, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *col[8];
			size_t n = 0;
			for (char *p = line; n < 8; p++) {
				col[n++] = p;
				p = strchr(p, '\t');
				if (!p)
					break;
				*p = 0;
			}
			if (n < 8)
				continue;
			struct sonde_query_row r = {
				.ts_us = strtoull(col[0], NULL, 10),
				.json = col[1],
				.json_len = untsv(col[1]),
				.text = col[2],
				.details = "",
				.service = col[3],
				.client = col[4],
				.status = atoi(col[5]),
				.outcome = col[6],
				.latency_us = strtoll(col[7], NULL, 10),
			};
			untsv(col[2]);
			untsv(col[3]);
			untsv(col[4]);
			c->rows_read++;
			if (o->filter && !exact &&
			    !sonde_filter_match_json(o->filter, r.json, r.json_len, now_us))
				continue;
			c->matched++;
			if (!o->emit(o->ctx, &r) || (o->limit && c->matched >= o->limit))
				break;
		}
	}
	sonde_buf_free(&where);
	sonde_buf_free(&sql);
	sonde_buf_free(&resp);
	return rc;
}
