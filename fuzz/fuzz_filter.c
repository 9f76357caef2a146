/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the record filter language (query/filter.h). The input is an
 * expression, then after the first newline a JSON line. The expression is
 * compiled (any bytes: an error with a column inside it, or a filter); a
 * filter is matched against real records — the HTTP/1 and Redis dissectors'
 * own, from fixed traffic — both live and as their JSON lines, which must
 * give the same answer; then against the input's JSON line, and turned into
 * SQL for both dialects.
 *
 * Oracles besides the sanitizers: compile fails with a column within the
 * expression (or one past its end) and a message; match_record ==
 * match_json on every record; to_sql succeeds with balanced parentheses.
 *
 * fuzz/corpus/fuzz_filter/ holds seeds (expressions of docs/filter.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "fuzz_session.h"
#include "proto/dissector.h"
#include "query/filter.h"
#include "sink/sink.h"

extern const struct sonde_dissector sonde_dissector_http1;
extern const struct sonde_dissector sonde_dissector_redis;

struct probe {
	const struct sonde_filter *f;
	struct sonde_buf json;
	unsigned records;
};

static void collect(void *ctx, const struct sonde_record *r)
{
	struct probe *p = ctx;
	sonde_buf_reset(&p->json);
	sonde_record_json(r, &p->json);
	bool live = sonde_filter_match_record(p->f, r, 1700000000000000ull);
	bool text = sonde_filter_match_json(p->f, (const char *)p->json.p, p->json.len - 1,
					    1700000000000000ull);
	FUZZ_CHECK(live == text, "record %d, its JSON %d: %.*s", live, text, (int)p->json.len,
		   (const char *)p->json.p);
	p->records++;
}

static const char http_c2s[] =
	"POST /api/v1/charge?id=7 HTTP/1.1\r\nHost: payments.example\r\n"
	"Authorization: Bearer abc.def\r\nX-Dup: a\r\nx-dup: b\r\nContent-Type: application/json\r\n"
	"Content-Length: 26\r\n\r\n{\"amount\":12,\"pin\":\"1234\"}"
	"GET /static/app.js HTTP/1.1\r\nHost: a\r\n\r\n";
static const char http_s2c[] =
	"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nRetry-After: 1\r\n\r\nbusy\xff"
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
static const char redis_c2s[] = "*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
static const char redis_s2c[] = "$-1\r\n+OK\r\n";

static void traffic(struct probe *pr, const struct sonde_dissector *d, uint16_t port,
		    const char *c2s, size_t cn, const char *s2c, size_t sn)
{
	struct sonde_record_out out = { collect, pr };
	struct fuzz_session fs;
	fuzz_session_init(&fs, 0, &out);
	fs.info.server.port = port;
	void *st = d->open(&fs.sess);
	uint64_t ts = 1700000000ull * 1000000000ull;
	d->data(st, SONDE_DIR_C2S, (const uint8_t *)c2s, cn, ts);
	d->data(st, SONDE_DIR_S2C, (const uint8_t *)s2c, sn, ts + 250000000ull);
	d->close(st, ts + 300000000ull);
}

static void check_sql(const struct sonde_filter *f, enum sonde_sql_dialect d)
{
	static const char *const columns[] = { "protocol", "protocol", "ts", "ts_us", NULL };
	struct sonde_buf sql = { 0 };
	bool exact;
	struct sonde_filter_error err;
	FUZZ_CHECK(sonde_filter_to_sql(f, d, "records.json", columns, 1700000000000000ull, &sql,
				       &exact, &err) == 0,
		   "to_sql failed: %s", err.message);
	/* parentheses outside string literals balance */
	long depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < sql.len; i++) {
		char c = (char)sql.p[i];
		size_t bs = 0; /* ClickHouse escapes a quote with a backslash */
		while (d == SONDE_SQL_CLICKHOUSE && bs < i && sql.p[i - 1 - bs] == '\\')
			bs++;
		if (c == '\'' && bs % 2 == 0)
			in_str = !in_str;
		else if (!in_str && c == '(')
			depth++;
		else if (!in_str && c == ')')
			depth--;
		FUZZ_CHECK(depth >= 0, "')' before its '(' in %.*s", (int)sql.len, sql.p);
	}
	FUZZ_CHECK(depth == 0, "unbalanced SQL: %.*s", (int)sql.len, sql.p);
	sonde_buf_free(&sql);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t elen = nl ? (size_t)(nl - data) : size;
	char *expr = malloc(elen + 1);
	memcpy(expr, data, elen);
	expr[elen] = 0;
	size_t slen = strlen(expr); /* a NUL ends the expression, as for a C string */
	struct sonde_filter_error err;
	struct sonde_filter *f = sonde_filter_compile(expr, &err);
	if (!f) {
		FUZZ_CHECK(err.column >= 1 && err.column <= slen + 1, "column %zu of %zu",
			   err.column, slen);
		FUZZ_CHECK(err.message[0], "an error without a message");
		free(expr);
		return 0;
	}
	struct probe pr = { .f = f };
	traffic(&pr, &sonde_dissector_http1, 80, http_c2s, sizeof(http_c2s) - 1, http_s2c,
		sizeof(http_s2c) - 1);
	traffic(&pr, &sonde_dissector_redis, 6379, redis_c2s, sizeof(redis_c2s) - 1, redis_s2c,
		sizeof(redis_s2c) - 1);
	FUZZ_CHECK(pr.records >= 4, "%u records", pr.records);
	if (nl)
		(void)sonde_filter_match_json(f, (const char *)nl + 1, size - elen - 1, 0);
	check_sql(f, SONDE_SQL_SQLITE);
	check_sql(f, SONDE_SQL_CLICKHOUSE);
	sonde_buf_free(&pr.json);
	sonde_filter_free(f);
	free(expr);
	return 0;
}
