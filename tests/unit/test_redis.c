/* SPDX-License-Identifier: MIT */
/*
 * The Redis dissector through its dissector interface (open/data/gap/end/
 * close) on a fake session whose pairing writes into a collector (the
 * HTTP/1 harness of testutil.h, reopened with the Redis dissector).
 *
 * Every RESP2 and RESP3 type is checked whole in the records' JSON, and
 * every scenario is also fed split in two at every offset of each direction
 * and byte by byte: the records' JSON lines and the error counters must be
 * identical in every case.
 */
#include "testutil.h"

#include "proto/redis/resp.h"

#define C2S SONDE_DIR_C2S
#define S2C SONDE_DIR_S2C
#define TS 1700000000000000000ull

extern const struct sonde_dissector sonde_dissector_redis;

/* The HTTP/1 harness with the Redis dissector in its place. */
static void rd_open(struct tu_h1 *h, bool mid_c2s, bool mid_s2c)
{
	tu_h1_open(h, NULL, mid_c2s, mid_s2c);
	h->d->close(h->state, 0);
	h->info.server.port = 6379;
	h->d = &sonde_dissector_redis;
	h->state = h->d->open(&h->sess);
}

static void feed(struct tu_h1 *h, enum sonde_dir dir, const char *p, size_t n)
{
	if (n && !h->sess.switch_to)
		tu_h1_data(h, dir, p, n, TS);
}

/* Does record i's JSON contain s? */
static bool has(const struct tu_h1 *h, size_t i, const char *s)
{
	return i < h->col.n && strstr(h->col.r[i].json, s);
}

#define assert_has(h, i, s)                                                             \
	do {                                                                            \
		if (!has(h, i, s)) {                                                    \
			tu_collector_dump(&(h)->col, "records");                         \
			fail_msg("record %d lacks %s", (int)(i), s);                     \
		}                                                                       \
	} while (0)

#define assert_lacks(h, i, s)                                                           \
	do {                                                                            \
		if (has(h, i, s)) {                                                     \
			tu_collector_dump(&(h)->col, "records");                         \
			fail_msg("record %d has %s", (int)(i), s);                       \
		}                                                                       \
	} while (0)

/* ============================================================ scenarios === */

struct scen {
	const char *c2s, *s2c;
	bool mid_c2s, mid_s2c;
};

enum feed_mode { FEED_WHOLE, FEED_SPLIT, FEED_BYTES };

/* Client bytes first (they were sent first), then the server's. */
static void run(struct tu_h1 *h, const struct scen *sc, enum feed_mode mode, size_t k)
{
	rd_open(h, sc->mid_c2s, sc->mid_s2c);
	const char *dirs[2] = { sc->c2s, sc->s2c };
	for (int d = 0; d < 2; d++) {
		const char *p = dirs[d];
		size_t n = strlen(p);
		if (mode == FEED_WHOLE) {
			feed(h, (enum sonde_dir)d, p, n);
		} else if (mode == FEED_SPLIT) {
			size_t at = k < n ? k : n;
			feed(h, (enum sonde_dir)d, p, at);
			feed(h, (enum sonde_dir)d, p + at, n - at);
		} else {
			for (size_t i = 0; i < n; i++)
				feed(h, (enum sonde_dir)d, p + i, 1);
		}
	}
	tu_h1_close(h, TS);
	tu_collector_ok(&h->col);
}

static char *joined(const struct tu_h1 *h)
{
	struct sonde_buf b = { 0 };
	for (size_t i = 0; i < h->col.n; i++)
		sonde_buf_append(&b, h->col.r[i].json, h->col.r[i].json_len);
	sonde_buf_printf(&b, "errors %llu unparsed %llu switch %s\n",
			 (unsigned long long)h->stats.parse_errors,
			 (unsigned long long)h->stats.unparsed_bytes,
			 h->sess.switch_to ? h->sess.switch_to : "-");
	char *s = tu_strndup(b.p, b.len);
	sonde_buf_free(&b);
	return s;
}

/* Whole, split at every offset, byte by byte: the same records. */
static void check_splits(const struct scen *sc)
{
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	char *want = joined(&h);
	tu_h1_free(&h);
	size_t n = strlen(sc->c2s) > strlen(sc->s2c) ? strlen(sc->c2s) : strlen(sc->s2c);
	for (size_t k = 0; k <= n + 1; k++) {
		enum feed_mode m = k == n + 1 ? FEED_BYTES : FEED_SPLIT;
		run(&h, sc, m, k);
		char *got = joined(&h);
		if (strcmp(want, got)) {
			fprintf(stderr, "---- whole:\n%s---- %s %zu:\n%s", want,
				m == FEED_BYTES ? "bytes" : "split", k, got);
			free(got);
			free(want);
			tu_h1_free(&h);
			fail_msg("records differ when split");
		}
		free(got);
		tu_h1_free(&h);
	}
	free(want);
}

#define GET_A "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
#define PING "*1\r\n$4\r\nPING\r\n"

static const struct scen resp2_types = {
	PING PING PING PING PING PING PING PING PING PING,
	"+OK\r\n"
	"-ERR unknown command 'FOO'\r\n"
	":-1000\r\n"
	"$5\r\nhel\r\n\r\n"
	"$-1\r\n"
	"$0\r\n\r\n"
	"*-1\r\n"
	"*3\r\n*1\r\n:1\r\n$3\r\nfoo\r\n-WRONGTYPE Operation\r\n"
	"*0\r\n"
	"-NOAUTH Authentication required.\r\n",
};

/* Passwords are masked in records: AUTH's, and HELLO's after AUTH. */
static const struct scen auth_masked = {
	"*2\r\n$4\r\nAUTH\r\n$6\r\nsekret\r\n"
	"*5\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$6\r\nsekret\r\n",
	"+OK\r\n"
	"*2\r\n$6\r\nserver\r\n$5\r\nredis\r\n",
};

/* The dissector marks AUTH's and HELLO AUTH's passwords as credentials
 * (sonde_field_secret); the redaction stage in front of every sink masks
 * them, and only them. */
static void test_auth_masked(void **state)
{
	(void)state;
	static struct tu_h1 h;
	static struct sonde_redactor r;
	sonde_redactor_init(&r);
	sonde_redactor_set_key(&r, "k", 1);
	char mask[SONDE_REDACT_MASK_MAX], user[SONDE_REDACT_MASK_MAX];
	sonde_redact_mask(&r, (const uint8_t *)"sekret", 6, mask);
	sonde_redact_mask(&r, (const uint8_t *)"user", 4, user);
	rd_open(&h, false, false);
	h.col.redact = &r;
	feed(&h, SONDE_DIR_C2S, auth_masked.c2s, strlen(auth_masked.c2s));
	feed(&h, SONDE_DIR_S2C, auth_masked.s2c, strlen(auth_masked.s2c));
	tu_h1_close(&h, TS);
	tu_collector_ok(&h.col);
	assert_int_equal(h.col.n, 2);
	char want[256];
	snprintf(want, sizeof(want), "\"command\":\"AUTH\",\"arguments\":[\"%s\"]", mask);
	assert_has(&h, 0, want);
	snprintf(want, sizeof(want), "\"arguments\":[\"2\",\"AUTH\",\"%s\",\"%s\"]", user, mask);
	assert_has(&h, 1, want);
	for (size_t i = 0; i < h.col.n; i++)
		assert_null(strstr(h.col.r[i].json, "sekret"));
	sonde_redactor_free(&r);
}

/* The other commands that carry credentials (proto/redis/redis_secret.h),
 * as RESP and inline, and the reply that names one (CONFIG GET). */
#define SHA_HEX "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
static const struct scen more_credentials = {
	"*6\r\n$3\r\nACL\r\n$7\r\nSETUSER\r\n$5\r\nalice\r\n$2\r\non\r\n$9\r\n>ACL-PW-1\r\n"
	"$65\r\n#" SHA_HEX "\r\n"
	"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$11\r\nrequirepass\r\n$8\r\nCFG-PW-2\r\n"
	"*6\r\n$6\r\nconfig\r\n$3\r\nset\r\n$9\r\nmaxmemory\r\n$5\r\n100mb\r\n"
	"$10\r\nmasterauth\r\n$8\r\nCFG-MA-3\r\n"
	"*11\r\n$7\r\nMIGRATE\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$0\r\n\r\n$1\r\n0\r\n"
	"$4\r\n5000\r\n$4\r\nCOPY\r\n$4\r\nAUTH\r\n$8\r\nMIG-PW-4\r\n$4\r\nKEYS\r\n$2\r\nk1\r\n"
	"*9\r\n$7\r\nMIGRATE\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$2\r\nk1\r\n$1\r\n0\r\n"
	"$4\r\n5000\r\n$5\r\nAUTH2\r\n$7\r\nmiguser\r\n$8\r\nMIG-PW-5\r\n"
	"*5\r\n$8\r\nSENTINEL\r\n$3\r\nSET\r\n$8\r\nmymaster\r\n$9\r\nauth-pass\r\n$8\r\nSEN-PW-"
	"6\r\n"
	"CONFIG SET requirepass INL-PW-7\r\n"
	"ACL SETUSER bob on \">INL-PW-8\" ~*\r\n"
	"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$11\r\nrequirepass\r\n",
	"+OK\r\n+OK\r\n+OK\r\n+NOKEY\r\n+NOKEY\r\n+OK\r\n+OK\r\n+OK\r\n"
	"*2\r\n$11\r\nrequirepass\r\n$8\r\nGET-PW-9\r\n",
};

static void credentials_run(struct sonde_redactor *r, bool bytewise)
{
	static struct tu_h1 h;
	rd_open(&h, false, false);
	h.col.redact = r;
	for (int d = 0; d < 2; d++) {
		const char *p = d ? more_credentials.s2c : more_credentials.c2s;
		size_t n = strlen(p);
		for (size_t at = 0, step = bytewise ? 1 : n; at < n; at += step)
			feed(&h, d ? S2C : C2S, p + at, step);
	}
	tu_h1_close(&h, TS);
	tu_collector_ok(&h.col);
	assert_int_equal(h.col.n, 9);
	static const char *const secret[] = { ">ACL-PW-1", "#" SHA_HEX, "CFG-PW-2", "CFG-MA-3",
					      "MIG-PW-4",  "miguser",   "MIG-PW-5", "SEN-PW-6",
					      "INL-PW-7",  ">INL-PW-8", "GET-PW-9" };
	static const size_t rec[] = { 0, 0, 1, 2, 3, 4, 4, 5, 6, 7, 8 };
	for (size_t k = 0; k < sizeof(secret) / sizeof(secret[0]); k++) {
		char mask[SONDE_REDACT_MASK_MAX], bare[64];
		sonde_redact_mask(r, (const uint8_t *)secret[k], strlen(secret[k]), mask);
		assert_has(&h, rec[k], mask);
		snprintf(bare, sizeof(bare), "%s",
			 secret[k][0] == '>' || secret[k][0] == '#' ? secret[k] + 1 : secret[k]);
		for (size_t i = 0; i < h.col.n; i++)
			assert_lacks(&h, i, bare);
	}
	/* what is not a credential stays */
	assert_has(&h, 0, "\"arguments\":[\"SETUSER\",\"alice\",\"on\",");
	assert_has(&h, 2, "\"maxmemory\",\"100mb\",\"masterauth\"");
	assert_has(&h, 3, "\"KEYS\",\"k1\"");
	assert_has(&h, 7, "\"bob\",\"on\"");
	assert_has(&h, 8, "\"value\":[\"requirepass\",\"****[");
	tu_h1_free(&h);
}

static void test_more_credentials_masked(void **state)
{
	(void)state;
	static struct sonde_redactor r;
	sonde_redactor_init(&r);
	sonde_redactor_set_key(&r, "k", 1);
	credentials_run(&r, false);
	credentials_run(&r, true);
	sonde_redactor_free(&r);
}

static void test_resp2_types(void **state)
{
	(void)state;
	static struct tu_h1 h;
	run(&h, &resp2_types, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 10);
	for (size_t i = 0; i < 10; i++) {
		assert_has(&h, i, "\"command\":\"PING\"");
		assert_int_equal(h.col.r[i].flags, 0);
	}
	assert_has(&h, 0, "\"type\":\"simple_string\",\"value\":\"OK\"");
	assert_has(&h, 1, "\"type\":\"error\",\"error\":true,\"error_prefix\":\"ERR\"");
	assert_has(&h, 1, "\"value\":{\"error\":\"ERR unknown command 'FOO'\"}");
	assert_has(&h, 2, "\"type\":\"integer\",\"value\":-1000");
	assert_has(&h, 3, "\"type\":\"bulk_string\",\"size\":5,\"value\":\"hel\\r\\n\"");
	assert_has(&h, 4, "\"type\":\"bulk_string\",\"value\":null");
	assert_has(&h, 5, "\"size\":0,\"value\":\"\"");
	assert_has(&h, 6, "\"type\":\"array\",\"value\":null");
	assert_has(&h, 7, "\"size\":3,\"value\":[[1],\"foo\",{\"error\":\"WRONGTYPE Operation\"}]");
	assert_lacks(&h, 7, "\"error\":true");
	assert_has(&h, 8, "\"size\":0,\"value\":[]");
	assert_has(&h, 9, "\"error_prefix\":\"NOAUTH\"");
	assert_has(&h, 0, "\"version\":\"RESP2\"");
	assert_int_equal(h.stats.parse_errors, 0);
	tu_h1_free(&h);
	check_splits(&resp2_types);
}

#define HELLO3 "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"

static const struct scen resp3_types = {
	HELLO3 GET_A GET_A GET_A GET_A GET_A GET_A GET_A GET_A GET_A GET_A GET_A,
	"%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n"
	"_\r\n"
	"#t\r\n"
	",3.14\r\n"
	"(3492890328409238509324850943850943825024385\r\n"
	"!21\r\nSYNTAX invalid syntax\r\n"
	"=15\r\ntxt:Some string\r\n"
	"%2\r\n+first\r\n:1\r\n+second\r\n#f\r\n"
	"~2\r\n+a\r\n+b\r\n"
	">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
	"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039123\r\n:9543892\r\n"
	"*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n,-inf\r\n"
	",inf\r\n",
};

static void test_resp3_types(void **state)
{
	(void)state;
	static struct tu_h1 h;
	run(&h, &resp3_types, FEED_WHOLE, 0);
	assert_int_equal(h.stats.parse_errors, 0);
	assert_int_equal(h.col.n, 13);
	/* the push is an event; it came before the replies after it */
	assert_has(&h, 0, "\"command\":\"HELLO\"");
	assert_has(&h, 0, "\"type\":\"map\",\"size\":2,\"value\":[[\"server\",\"redis\"],[\"proto\",3]]");
	assert_has(&h, 1, "\"type\":\"null\",\"value\":null");
	assert_has(&h, 1, "\"version\":\"RESP3\"");
	assert_has(&h, 2, "\"type\":\"boolean\",\"value\":true");
	assert_has(&h, 3, "\"type\":\"double\",\"value\":\"3.14\"");
	assert_has(&h, 4, "\"type\":\"big_number\",\"value\":\"3492890328409238509324850943850943825024385\"");
	assert_has(&h, 5, "\"type\":\"bulk_error\",\"error\":true,\"error_prefix\":\"SYNTAX\"");
	assert_has(&h, 6, "\"type\":\"verbatim_string\",\"format\":\"txt\",\"size\":15,\"value\":\"Some string\"");
	assert_has(&h, 7, "\"value\":[[\"first\",1],[\"second\",false]]");
	assert_has(&h, 8, "\"type\":\"set\",\"size\":2,\"value\":[\"a\",\"b\"]");
	assert_has(&h, 9, "\"type\":\"push\",\"event\":\"message\",\"channel\":\"ch\"");
	assert_lacks(&h, 9, "\"request\"");
	assert_int_equal(h.col.r[9].flags, 0);
	assert_has(&h, 10, "\"attributes\":[[\"key-popularity\",[[\"a\",\"0.19\"]]]],\"value\":[2039123,9543892]");
	assert_has(&h, 10, "\"type\":\"array\"");
	assert_has(&h, 11, "\"value\":[\"v\",\"-inf\"]");
	assert_has(&h, 12, "\"value\":\"inf\"");
	tu_h1_free(&h);
	check_splits(&resp3_types);
}

/* Without HELLO 3 a RESP2 connection's reply parser refuses RESP3 types. */
static void test_resp3_needs_hello(void **state)
{
	(void)state;
	static struct tu_h1 h;
	static const struct scen sc = { GET_A GET_A, "_\r\n+OK\r\n" };
	run(&h, &sc, FEED_WHOLE, 0);
	assert_int_equal(h.stats.parse_errors, 1);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 0, "\"value\":\"OK\""); /* resynchronised at "+OK" */
	assert_true(h.col.r[1].flags & SONDE_RF_UNANSWERED);
	tu_h1_free(&h);
}

static const struct scen pipelined = {
	"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n" GET_A "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n",
	"+OK\r\n$1\r\nx\r\n:7\r\n",
};

static void test_pipelining(void **state)
{
	(void)state;
	static struct tu_h1 h;
	run(&h, &pipelined, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 3);
	assert_has(&h, 0, "\"command\":\"SET\",\"arguments\":[\"k\",\"value\"],\"argument_count\":2,\"db\":0");
	assert_has(&h, 0, "\"value\":\"OK\"");
	assert_has(&h, 1, "\"command\":\"GET\"");
	assert_has(&h, 1, "\"value\":\"x\"");
	assert_has(&h, 2, "\"command\":\"INCR\"");
	assert_has(&h, 2, "\"value\":7");
	assert_has(&h, 0, "\"wire_bytes\":31");
	tu_h1_free(&h);
	check_splits(&pipelined);
}

static const struct scen pubsub = {
	"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n"
	"*2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\nn*\r\n" PING,
	"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
	"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
	"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n"
	"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:3\r\n"
	"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$2\r\nnb\r\n$3\r\nbye\r\n"
	"*2\r\n$4\r\npong\r\n$0\r\n\r\n",
};

static void test_pubsub(void **state)
{
	(void)state;
	static struct tu_h1 h;
	run(&h, &pubsub, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 6);
	assert_has(&h, 0, "\"command\":\"SUBSCRIBE\"");
	assert_has(&h, 0, "\"value\":[\"subscribe\",\"a\",1]");
	assert_has(&h, 1, "\"event\":\"subscription\""); /* b's confirmation */
	assert_has(&h, 2, "\"event\":\"message\",\"channel\":\"a\"");
	assert_has(&h, 2, "\"value\":[\"message\",\"a\",\"hello\"]");
	assert_has(&h, 3, "\"command\":\"PSUBSCRIBE\"");
	assert_has(&h, 4, "\"event\":\"pmessage\",\"pattern\":\"n*\",\"channel\":\"nb\"");
	assert_has(&h, 5, "\"command\":\"PING\"");
	assert_has(&h, 5, "\"value\":[\"pong\",\"\"]");
	for (size_t i = 0; i < h.col.n; i++)
		assert_int_equal(h.col.r[i].flags, 0);
	assert_lacks(&h, 1, "\"request\"");
	assert_lacks(&h, 2, "\"request\"");
	tu_h1_free(&h);
	check_splits(&pubsub);
}

/* Joined after SUBSCRIBE: messages are events, not unsolicited replies. */
static void test_pubsub_midstream(void **state)
{
	(void)state;
	static struct tu_h1 h;
	static const struct scen sc = { "", "ello\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n",
					true, true };
	run(&h, &sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 1);
	assert_has(&h, 0, "\"event\":\"message\"");
	assert_int_equal(h.col.r[0].flags, 0);
	assert_int_equal(h.stats.unparsed_bytes, 6);
	tu_h1_free(&h);
}

static const struct scen inline_cmds = {
	"PING\r\n\r\nset  key  v1\r\nGET key\n",
	"+PONG\r\n+OK\r\n$2\r\nv1\r\n",
};

static void test_inline(void **state)
{
	(void)state;
	static struct tu_h1 h;
	run(&h, &inline_cmds, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 3);
	assert_has(&h, 0, "\"command\":\"PING\",\"arguments\":[],\"argument_count\":0,\"inline\":true");
	assert_has(&h, 1, "\"command\":\"SET\",\"arguments\":[\"key\",\"v1\"],\"argument_count\":2");
	assert_has(&h, 2, "\"command\":\"GET\"");
	assert_has(&h, 2, "\"value\":\"v1\"");
	tu_h1_free(&h);
	check_splits(&inline_cmds);
}

/* Quotes as Redis splits them: escapes in double quotes, \\' in single. */
static const struct scen inline_quotes = {
	"SET k \"a b\\\"c\\x41\\xZ\\n\"\r\n"
	"SET k 'it\\'s \"x\"' \"\"\r\n"
	"SET k \"open\r\n"
	"GET k\r\n",
	"+OK\r\n+OK\r\n-ERR Protocol error: unbalanced quotes in request\r\n$1\r\nv\r\n",
};

static void test_inline_quotes(void **state)
{
	(void)state;
	static struct tu_h1 h;
	run(&h, &inline_quotes, FEED_WHOLE, 0);
	assert_int_equal(h.stats.parse_errors, 1);
	assert_int_equal(h.col.n, 4);
	assert_has(&h, 0, "\"arguments\":[\"k\",\"a b\\\"cAxZ\\n\"]");
	assert_has(&h, 1, "\"arguments\":[\"k\",\"it's \\\"x\\\"\",\"\"],\"argument_count\":3");
	/* the unbalanced line is a malformed command Redis answers */
	assert_has(&h, 2, "\"request_parse_error\"");
	assert_has(&h, 2, "\"error_prefix\":\"ERR\"");
	assert_has(&h, 3, "\"command\":\"GET\"");
	assert_has(&h, 3, "\"value\":\"v\"");
	tu_h1_free(&h);
	check_splits(&inline_quotes);
}

static const struct scen multi_exec = {
	"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n" GET_A "*1\r\n$4\r\nEXEC\r\n" PING
	"*1\r\n$5\r\nMULTI\r\n*1\r\n$7\r\nDISCARD\r\n",
	"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n$1\r\nz\r\n+PONG\r\n+OK\r\n+OK\r\n",
};

static void test_multi_exec(void **state)
{
	(void)state;
	static struct tu_h1 h;
	run(&h, &multi_exec, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 7);
	assert_has(&h, 0, "\"command\":\"MULTI\"");
	assert_has(&h, 0, "\"multi\":1");
	assert_has(&h, 1, "\"multi\":1,\"queued\":1");
	assert_has(&h, 1, "\"value\":\"QUEUED\"");
	assert_has(&h, 2, "\"multi\":1,\"queued\":2");
	assert_has(&h, 3, "\"command\":\"EXEC\"");
	assert_has(&h, 3, "\"multi\":1");
	assert_has(&h, 3, "\"value\":[1,\"z\"]");
	assert_lacks(&h, 4, "\"multi\"");
	assert_has(&h, 5, "\"multi\":2");
	assert_has(&h, 6, "\"command\":\"DISCARD\"");
	assert_has(&h, 6, "\"multi\":2");
	tu_h1_free(&h);
	check_splits(&multi_exec);
}

static const struct scen select_db = {
	"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n" GET_A "*2\r\n$6\r\nSELECT\r\n$2\r\n99\r\n" GET_A,
	"+OK\r\n$-1\r\n-ERR DB index is out of range\r\n$-1\r\n",
};

static void test_select(void **state)
{
	(void)state;
	static struct tu_h1 h;
	run(&h, &select_db, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 4);
	assert_has(&h, 0, "\"db\":0");
	assert_has(&h, 1, "\"db\":3");
	assert_has(&h, 2, "\"db\":3");
	/* sent before the error came back: the pipelined GET ran in db 3 too,
	 * but the record can only say what was believed when it was sent */
	assert_has(&h, 3, "\"db\":99");
	tu_h1_free(&h);
	/* a SELECT that failed is undone for what is sent after its reply */
	static const struct scen sc = { "*2\r\n$6\r\nSELECT\r\n$2\r\n99\r\n", "-ERR DB index\r\n" };
	rd_open(&h, false, false);
	feed(&h, C2S, sc.c2s, strlen(sc.c2s));
	feed(&h, S2C, sc.s2c, strlen(sc.s2c));
	feed(&h, C2S, GET_A, strlen(GET_A));
	feed(&h, S2C, "$-1\r\n", 5);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 1, "\"db\":0");
	tu_h1_free(&h);
	/* midstream: the database is not known */
	static const struct scen mid = { GET_A, "$-1\r\n", true, true };
	run(&h, &mid, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 1);
	assert_lacks(&h, 0, "\"db\"");
	tu_h1_free(&h);
}

#define CLIENT_REPLY(x) "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$" x
static const struct scen reply_off = {
	PING CLIENT_REPLY("3\r\nOFF\r\n") PING CLIENT_REPLY("2\r\nON\r\n") PING
	CLIENT_REPLY("4\r\nSKIP\r\n") PING PING,
	"+PONG\r\n+OK\r\n+PONG\r\n+PONG\r\n",
};

static void test_client_reply(void **state)
{
	(void)state;
	static struct tu_h1 h;
	run(&h, &reply_off, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 8);
	size_t alone = 0, paired = 0;
	for (size_t i = 0; i < h.col.n; i++) {
		assert_int_equal(h.col.r[i].flags, 0); /* never unanswered */
		if (has(&h, i, "\"reply_expected\":false")) {
			alone++;
			assert_lacks(&h, i, "\"response\"");
		} else {
			paired++;
			assert_has(&h, i, "\"response\"");
		}
	}
	assert_int_equal(alone, 4);
	assert_int_equal(paired, 4);
	assert_int_equal(h.stats.records_unanswered, 0);
	tu_h1_free(&h);
	check_splits(&reply_off);
}

/* ======================================================== bad input === */

/* A declared length of 4 GiB costs the bytes kept, not the bytes declared. */
static void test_huge_declared_lengths(void **state)
{
	(void)state;
	static struct tu_h1 h;
	rd_open(&h, false, false);
	feed(&h, C2S, GET_A, strlen(GET_A));
	const char *hdr = "$4294967295\r\n";
	feed(&h, S2C, hdr, strlen(hdr));
	static char junk[65536];
	memset(junk, 'x', sizeof(junk));
	for (int i = 0; i < 16; i++)
		feed(&h, S2C, junk, sizeof(junk));
	assert_int_equal(h.col.n, 0);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 1);
	assert_has(&h, 0, "\"size\":4294967295");
	assert_has(&h, 0, "\"value_truncated\":true");
	assert_has(&h, 0, "\"response_incomplete\"");
	tu_h1_free(&h);

	/* past 2^32 elements or bytes: not believed, resynchronised */
	static const struct scen sc = { GET_A GET_A, "*99999999999\r\n$5\r\nhello\r\n+OK\r\n" };
	run(&h, &sc, FEED_WHOLE, 0);
	assert_int_equal(h.stats.parse_errors, 1);
	assert_has(&h, 0, "\"value\":\"hello\""); /* the next line start */
	assert_has(&h, 1, "\"value\":\"OK\"");
	tu_h1_free(&h);
}

static void test_nesting_bounded(void **state)
{
	(void)state;
	static struct tu_h1 h;
	static struct tu_bytes b;
	tu_cleanup_push(tu_bytes_free_cb, &b);
	for (int i = 0; i < 100; i++)
		tu_bytes_str(&b, "*1\r\n");
	tu_bytes_str(&b, ":1\r\n+OK\r\n");
	rd_open(&h, false, false);
	feed(&h, C2S, PING PING, strlen(PING PING));
	feed(&h, S2C, (const char *)b.p, b.len);
	tu_h1_close(&h, TS);
	/* each resync starts a new nest at the next line: three times 33
	 * levels fail (32 are allowed), the last level and ":1" parse, then
	 * "+OK" */
	assert_int_equal(h.stats.parse_errors, 3);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 0, "\"value\":[1]");
	assert_has(&h, 1, "\"value\":\"OK\"");
	tu_h1_free(&h);
	tu_bytes_free(&b);
}

/* Many arguments, long arguments: counted, bounded, flagged. */
static void test_arguments_bounded(void **state)
{
	(void)state;
	static struct tu_h1 h;
	static struct tu_bytes b;
	tu_cleanup_push(tu_bytes_free_cb, &b);
	tu_bytes_str(&b, "*101\r\n$4\r\nMSET\r\n");
	char arg[600];
	memset(arg, 'a', sizeof(arg));
	for (int i = 0; i < 100; i++) {
		char hdr[16];
		size_t n = i == 0 ? sizeof(arg) : 2;
		snprintf(hdr, sizeof(hdr), "$%zu\r\n", n);
		tu_bytes_str(&b, hdr);
		tu_bytes_put(&b, arg, n);
		tu_bytes_str(&b, "\r\n");
	}
	rd_open(&h, false, false);
	feed(&h, C2S, (const char *)b.p, b.len);
	feed(&h, S2C, "+OK\r\n", 5);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 1);
	assert_has(&h, 0, "\"argument_count\":100,\"arguments_truncated\":true");
	assert_has(&h, 0, "\"request_truncated\"");
	char want[300];
	snprintf(want, sizeof(want), "\"arguments\":[\"%.*s\",\"aa\"", 256, arg);
	assert_has(&h, 0, want);
	assert_true(h.col.r[0].req.wire_bytes == b.len);
	tu_h1_free(&h);
	tu_bytes_free(&b);
}

/* Garbage: resynchronise, count, and in the end hand the connection back. */
static void test_garbage_hands_back(void **state)
{
	(void)state;
	static struct tu_h1 h;
	rd_open(&h, false, false);
	feed(&h, C2S, PING, strlen(PING));
	feed(&h, S2C, "+PONG\r\n", 7);
	for (int i = 0; i < 20 && !h.sess.switch_to; i++)
		feed(&h, S2C, "\n:x\n", 4);
	assert_non_null(h.sess.switch_to);
	assert_int_equal(h.stats.parse_errors, 8);
	assert_true(h.stats.unparsed_bytes > 0);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 1);
	tu_h1_free(&h);
}

/* A gap inside a bulk payload loses the bytes, not the sync. */
static void test_gap_in_payload(void **state)
{
	(void)state;
	static struct tu_h1 h;
	rd_open(&h, false, false);
	feed(&h, C2S, GET_A GET_A, strlen(GET_A GET_A));
	feed(&h, S2C, "$10\r\nab", 7);
	tu_h1_gap(&h, S2C, 4, TS);
	feed(&h, S2C, "ghij\r\n:5\r\n", 10);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 0, "\"response_gap\"");
	assert_has(&h, 0, "\"wire_bytes\":17,\"captured_bytes\":13");
	assert_has(&h, 0, "\"value\":\"abghij\"");
	assert_has(&h, 1, "\"value\":5");
	assert_int_equal(h.stats.parse_errors, 0);
	tu_h1_free(&h);

	/* elsewhere: the value is written cut, the next line start resyncs */
	rd_open(&h, false, false);
	feed(&h, C2S, GET_A GET_A, strlen(GET_A GET_A));
	feed(&h, S2C, "*2\r\n:1\r\n", 8);
	tu_h1_gap(&h, S2C, 3, TS);
	feed(&h, S2C, "\r\n:5\r\n", 6);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 0, "\"response_incomplete\"");
	assert_has(&h, 1, "\"value\":5");
	tu_h1_free(&h);
}

static void test_probe(void **state)
{
	(void)state;
	const struct sonde_dissector *d = &sonde_dissector_redis;
#define P(s) d->probe((const uint8_t *)(s), sizeof(s) - 1)
	assert_int_equal(P(GET_A), SONDE_PROBE_CLIENT);
	assert_int_equal(P("*2\r\n$3\r\nget\r\n$100000\r\nxx"), SONDE_PROBE_CLIENT);
	assert_int_equal(P("*3\r\n$3\r\nSET\r\n"), SONDE_PROBE_MORE);
	assert_int_equal(P("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"), SONDE_PROBE_SERVER);
	assert_int_equal(P("+OK\r\n"), SONDE_PROBE_SERVER);
	assert_int_equal(P("-ERR unknown\r\n"), SONDE_PROBE_SERVER);
	assert_int_equal(P(":12\r\n"), SONDE_PROBE_SERVER);
	assert_int_equal(P("$5\r\nhello\r\n"), SONDE_PROBE_SERVER);
	assert_int_equal(P("$5\r\nhel"), SONDE_PROBE_MORE);
	assert_int_equal(P("%1\r\n+a\r\n:1\r\n"), SONDE_PROBE_SERVER);
	assert_int_equal(P("*2\r\n$3\r\nFOO\r\n$1\r\na\r\n"), SONDE_PROBE_SERVER); /* a reply */
	assert_int_equal(P("PING\r\n"), SONDE_PROBE_MORE); /* inline: held */
	assert_int_equal(P("\r\nPING\r\nset a b\r\n"), SONDE_PROBE_CLIENT); /* two commands */
	assert_int_equal(P("PING\r\nHost: x\r\n"), SONDE_PROBE_MORE);
	assert_int_equal(P("\r\n\r\n"), SONDE_PROBE_NO);
	assert_int_equal(P("howdy world\r\n"), SONDE_PROBE_NO);
	assert_int_equal(P("HTTP/1.1 200 OK\r\n"), SONDE_PROBE_NO);
	assert_int_equal(P("+OK POP3 ready\r\n"), SONDE_PROBE_NO);
	assert_int_equal(P("\x16\x03\x01\x02\x00"), SONDE_PROBE_NO);
	assert_int_equal(P("PRI * HTTP/2.0\r\n"), SONDE_PROBE_NO);
	assert_int_equal(P("*x\r\n"), SONDE_PROBE_NO);
	assert_int_equal(P("$-5\r\n"), SONDE_PROBE_NO);
#undef P
}

/* The parser alone: every byte split gives the same value. */
static void test_parser_direct(void **state)
{
	(void)state;
	static const struct sonde_resp_limits lim = { 8, 16, 4 };
	const char *in = "*3\r\n$6\r\nabcdef\r\n*2\r\n:1\r\n:2\r\n+hello world\r\n";
	struct sonde_resp_parser ps;
	sonde_resp_init(&ps, &lim, false);
	size_t used;
	assert_int_equal(sonde_resp_feed(&ps, (const uint8_t *)in, strlen(in), &used), SONDE_RESP_DONE);
	assert_int_equal(used, strlen(in));
	assert_int_equal(ps.v.n, 6);
	assert_true(ps.v.cut);
	assert_int_equal(ps.v.node[1].len, 4); /* item bound */
	assert_int_equal(ps.v.node[1].size, 6);
	assert_int_equal(ps.v.node[5].depth, 1);
	assert_int_equal(sonde_resp_next(&ps.v, 2), 5);
	assert_true(ps.v.text.len <= 16);
	sonde_resp_free(&ps);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_resp2_types),
		tu_test(test_auth_masked),
		tu_test(test_more_credentials_masked),
		tu_test(test_resp3_types),
		tu_test(test_resp3_needs_hello),
		tu_test(test_pipelining),
		tu_test(test_pubsub),
		tu_test(test_pubsub_midstream),
		tu_test(test_inline),
		tu_test(test_inline_quotes),
		tu_test(test_multi_exec),
		tu_test(test_select),
		tu_test(test_client_reply),
		tu_test(test_huge_declared_lengths),
		tu_test(test_nesting_bounded),
		tu_test(test_arguments_bounded),
		tu_test(test_garbage_hands_back),
		tu_test(test_gap_in_payload),
		tu_test(test_probe),
		tu_test(test_parser_direct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
