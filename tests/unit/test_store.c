/* SPDX-License-Identifier: MIT */
/*
 * The store's own logic: the batch queue (bounded, drops counted, a failing
 * writer offered its rows again, nothing lost that is not counted), the
 * segment set (rows committed and read back through a query, the size bound
 * kept by deleting the oldest segments, with their rows counted), a damaged
 * segment refused by name, and the HTTP client's URL parsing.
 */
#include "testutil.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/batchq.h"
#include "store/http.h"
#include "store/query.h"
#include "store/store.h"

static struct sonde_store_row *row(uint64_t ts_us, const char *json)
{
	size_t jl = strlen(json);
	struct sonde_store_row *w = calloc(1, sizeof(*w) + jl + 8);
	char *p = (char *)(w + 1);
	memcpy(p, json, jl);
	w->json = p;
	w->json_len = jl;
	w->text = p + jl + 1; /* "" */
	w->details = p + jl + 2;
	w->size = sizeof(*w) + jl + 8;
	w->ts_us = ts_us;
	w->status = -1;
	w->latency_us = -1;
	strcpy(w->protocol, "http");
	strcpy(w->server, "127.0.0.1");
	strcpy(w->client, "127.0.0.2");
	strcpy(w->service, "127.0.0.1:80");
	w->server_port = 80;
	return w;
}

struct sink {
	atomic_size_t written;
	atomic_int fail; /* refuse this many batches first */
	atomic_uint_fast64_t last_ts;
	atomic_bool in_order;
};

static size_t sink_write(void *ctx, struct sonde_store_row **rows, size_t n)
{
	struct sink *s = ctx;
	if (atomic_load(&s->fail) > 0) {
		atomic_fetch_sub(&s->fail, 1);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (rows[i]->ts_us <= atomic_load(&s->last_ts))
			atomic_store(&s->in_order, false);
		atomic_store(&s->last_ts, rows[i]->ts_us);
	}
	atomic_fetch_add(&s->written, n);
	return n;
}

static void test_batchq_bounded(void **state)
{
	(void)state;
	struct sink s = { .in_order = true, .fail = 1000000 }; /* a server that is down */
	struct sonde_batchq q;
	struct sonde_batchq_opts o = { .max_bytes = 1 << 20, .max_rows = 100, .batch_rows = 10,
				       .linger_ms = 5, .retry_ms = 5, .write = sink_write,
				       .ctx = &s };
	assert_int_equal(sonde_batchq_start(&q, &o), 0);
	size_t refused = 0;
	for (uint64_t i = 1; i <= 1000; i++)
		refused += !sonde_batchq_push(&q, row(i, "{}"));
	assert_int_equal(refused, 900);
	assert_int_equal(sonde_batchq_dropped(&q), 900);
	atomic_store(&s.fail, 2); /* it comes back after two more refusals */
	sonde_batchq_drain(&q, 5000);
	size_t left = sonde_batchq_stop(&q);
	assert_int_equal(left, 0);
	assert_int_equal(atomic_load(&s.written), 100);
	assert_true(atomic_load(&s.in_order));
}

static void test_batchq_stop_counts_left(void **state)
{
	(void)state;
	struct sink s = { .in_order = true, .fail = 1000000 };
	struct sonde_batchq q;
	struct sonde_batchq_opts o = { .max_bytes = 1 << 20, .max_rows = 1000, .batch_rows = 7,
				       .linger_ms = 1, .retry_ms = 1, .write = sink_write,
				       .ctx = &s };
	assert_int_equal(sonde_batchq_start(&q, &o), 0);
	for (uint64_t i = 1; i <= 50; i++)
		assert_true(sonde_batchq_push(&q, row(i, "{}")));
	sonde_batchq_drain(&q, 50); /* never succeeds */
	assert_int_equal(sonde_batchq_stop(&q), 50);
	assert_int_equal(atomic_load(&s.written), 0);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/sonde-test-store.XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmtree(const char *d)
{
	char **p;
	size_t n;
	if (sonde_store_list(d, &p, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char side[4200];
			unlink(p[i]);
			snprintf(side, sizeof(side), "%s-wal", p[i]);
			unlink(side);
			snprintf(side, sizeof(side), "%s-shm", p[i]);
			unlink(side);
		}
		sonde_store_list_free(p, n);
	}
	char lock[4200];
	snprintf(lock, sizeof(lock), "%s/lock", d);
	unlink(lock);
	rmdir(d);
}

struct got {
	uint64_t n, first_ts, last_ts;
	bool descending;
};

static bool collect(void *ctx, const struct sonde_query_row *r)
{
	struct got *g = ctx;
	if (g->n && r->ts_us > g->last_ts)
		g->descending = false;
	if (!g->n)
		g->first_ts = r->ts_us;
	g->last_ts = r->ts_us;
	g->n++;
	return true;
}

static void write_rows(struct sonde_store *st, uint64_t from, uint64_t n, size_t pad)
{
	char *json = malloc(pad + 32);
	int l = snprintf(json, 32, "{\"n\":%" PRIu64 ",\"p\":\"", from);
	memset(json + l, 'x', pad);
	strcpy(json + l + pad, "\"}");
	struct sonde_store_row *rows[64];
	for (uint64_t i = 0; i < n;) {
		size_t k = 0;
		for (; k < 64 && i < n; k++, i++)
			rows[k] = row(from + i, json);
		assert_int_equal(sonde_store_write(st, rows, k), k);
		for (size_t j = 0; j < k; j++)
			free(rows[j]);
	}
	free(json);
}

static void test_store_bound_and_query(void **state)
{
	(void)state;
	char *d = tmpdir();
	char err[256];
	struct sonde_store_opts o = { .dir = d, .max_bytes = 2u << 20 };
	struct sonde_store *st = sonde_store_open(&o, err, sizeof(err));
	assert_non_null(st);
	/* a second writer is refused */
	assert_null(sonde_store_open(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "another sonde"));
	write_rows(st, 1, 20000, 400); /* ~8 MiB of JSON into a 2 MiB store */
	struct sonde_store_counts c;
	sonde_store_counts(st, &c);
	assert_int_equal(c.records, 20000);
	assert_true(c.expired_segments > 0);
	assert_true(c.expired_records > 0);
	sonde_store_close(st);
	char **p;
	size_t n;
	assert_int_equal(sonde_store_list(d, &p, &n), 0);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		assert_int_equal(stat(p[i], &sb), 0);
		total += (uint64_t)sb.st_size;
	}
	sonde_store_list_free(p, n);
	assert_true(total <= (2u << 20) + (512u << 10));
	struct got g = { .descending = true };
	struct sonde_query_opts q = { .dir = d, .emit = collect, .ctx = &g };
	struct sonde_query_counts qc;
	assert_int_equal(sonde_query_run(&q, &qc, err, sizeof(err)), 0);
	/* what is left is the newest, newest first, and what went is counted */
	assert_int_equal(g.n + c.expired_records, 20000);
	assert_int_equal(g.first_ts, 20000);
	assert_true(g.descending);
	/* --since/--until and the limit */
	g = (struct got){ .descending = true };
	q.since_us = 19000;
	q.until_us = 19500;
	q.limit = 100;
	assert_int_equal(sonde_query_run(&q, &qc, err, sizeof(err)), 0);
	assert_int_equal(g.n, 100);
	assert_int_equal(g.first_ts, 19499);
	rmtree(d);
	free(d);
}

static void test_store_damaged_segment(void **state)
{
	(void)state;
	char *d = tmpdir();
	char err[256];
	struct sonde_store_opts o = { .dir = d };
	for (int run = 0; run < 2; run++) {
		struct sonde_store *st = sonde_store_open(&o, err, sizeof(err));
		assert_non_null(st);
		write_rows(st, 1 + (uint64_t)run * 100, 100, 10);
		sonde_store_close(st);
		usleep(2000); /* segment names are µs timestamps */
	}
	char **p;
	size_t n;
	assert_int_equal(sonde_store_list(d, &p, &n), 0);
	assert_int_equal(n, 2);
	FILE *f = fopen(p[0], "r+");
	assert_non_null(f);
	fputs("not a database at all, not at all, not at all, not at all, not at all", f);
	fclose(f);
	assert_null(sonde_store_open_segment(p[0], err, sizeof(err)));
	sonde_store_list_free(p, n);
	struct got g = { .descending = true };
	struct sonde_query_opts q = { .dir = d, .emit = collect, .ctx = &g };
	struct sonde_query_counts qc;
	assert_int_equal(sonde_query_run(&q, &qc, err, sizeof(err)), 0);
	assert_int_equal(qc.segments_skipped, 1);
	assert_int_equal(g.n, 100);
	assert_int_equal(g.first_ts, 200);
	rmtree(d);
	free(d);
}

static void test_http_url(void **state)
{
	(void)state;
	struct sonde_http_url u;
	char err[128];
	assert_int_equal(sonde_http_url_parse("http://127.0.0.1:18123/db", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "18123");
	assert_string_equal(u.path, "db");
	assert_int_equal(sonde_http_url_parse("http://h", &u, err, sizeof(err)), 0);
	assert_string_equal(u.port, "8123");
	assert_string_equal(u.path, "");
	assert_int_equal(sonde_http_url_parse("https://h/db", &u, err, sizeof(err)), -1);
	assert_int_equal(sonde_http_url_parse("http://h:x1/db", &u, err, sizeof(err)), -1);
	assert_int_equal(sonde_http_url_parse("http://:1/db", &u, err, sizeof(err)), -1);
	struct sonde_buf b = { 0 };
	sonde_http_urlencode(&b, "a b&c=\xff", 7);
	assert_int_equal(b.len, strlen("a%20b%26c%3D%FF"));
	assert_memory_equal(b.p, "a%20b%26c%3D%FF", b.len);
	sonde_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batchq_bounded),
		cmocka_unit_test(test_batchq_stop_counts_left),
		cmocka_unit_test(test_store_bound_and_query),
		cmocka_unit_test(test_store_damaged_segment),
		cmocka_unit_test(test_http_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
