/* SPDX-License-Identifier: MIT */
/*
 * The record filter language (query/filter.h, docs/filter.md): errors with
 * their columns, every operator on every type over JSON records, and — on
 * every record of every capture of the shared corpus — the same answer
 * from the live record (the field walk) and from its JSON line, for a
 * list of expressions that reach every kind of field.
 */
#include "testutil.h"

#include "query/filter.h"
#include "filter_corpus.h"

/* ---------------------------------------------------------------- errors --- */

struct bad {
	const char *expr;
	size_t column;
	const char *says;
};

static const struct bad bads[] = {
	{ "", 1, "ends where a test" },
	{ "   ", 4, "ends where a test" },
	{ "protocl == \"http\"", 1, "unknown field 'protocl'" },
	{ "protocol == ", 13, "value was expected" },
	{ "protocol == \"http", 13, "does not end" },
	{ "protocol = \"a\" &&", 18, "ends where a test" },
	{ "response.status == \"500\"", 20, "is a number" },
	{ "protocol > 5", 12, "is a string" },
	{ "response.status contains \"5\"", 1, "for strings" },
	{ "(protocol == \"http\"", 20, "')' was expected" },
	{ "protocol == \"http\")", 19, "joined with && or ||" },
	{ "protocol == \"a\" & x", 17, "'&' alone" },
	{ "request.target ~ \"(\"", 1, "bad regular expression" },
	/* repetitions that glibc would copy out into gigabytes (fuzz_filter) */
	{ "request.target ~ \"(a+)++++++++++++++++++++++++++++++++\"", 1, "too large once" },
	{ "request.target ~ \"((x{100}){100}){100}\"", 1, "too large once" },
	{ "latency > 3", 11, "give the number a unit" },
	{ "response.status > 3parsecs", 20, "unknown unit" },
	{ "ts > 5", 6, "is a time" },
	{ "ts > \"yesterday\"", 6, "not a time" },
	{ "response.status > 1s", 19, "a duration compares with the latency" },
	{ "response.status in []", 21, "empty list" },
	{ "response.status in [1 2]", 23, "',' or ']'" },
	{ "response.status in 5", 20, "in takes a list" },
	{ "request.target.nope(\"x\")", 16, "unknown method" },
	{ "request.target == request.method", 19, "not with another field" },
	{ "\"x\"", 4, "a value alone" },
	{ "request.headers[x]", 17, "[\"key\"] or [N]" },
	{ "request.headers[\"a\"", 20, "']' was expected" },
	{ "has(request", 12, "')' was expected" },
	{ "request == 5", 1, "only has()" },
	{ "flags == \"a\\q\"", 12, "unknown escape" },
	{ "ts > now(1)", 10, "takes no arguments" },
	{ "ts > now() - 5", 14, "a duration was expected" },
	{ "response.status > true", 19, "booleans are only compared" },
	{ "protocol == \"a\" @", 17, "does not use" },
	{ "latency.x > 1ms", 1, "latency has no members" },
};

static void errors_point_at_the_column(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(*bads); i++) {
		struct sonde_filter_error err;
		struct sonde_filter *f = sonde_filter_compile(bads[i].expr, &err);
		if (f || err.column != bads[i].column || !strstr(err.message, bads[i].says))
			fail_msg("'%s': got %s column %zu '%s', want column %zu '%s'", bads[i].expr,
				 f ? "a filter" : "an error", err.column, err.message,
				 bads[i].column, bads[i].says);
		sonde_filter_free(f);
	}
	/* deep nesting is an error, not a deep recursion */
	char deep[4096];
	memset(deep, '(', 2000);
	strcpy(deep + 2000, "protocol");
	struct sonde_filter_error err;
	assert_null(sonde_filter_compile(deep, &err));
	assert_non_null(strstr(err.message, "nested too deep"));
	/* too many atoms */
	struct sonde_buf b = { 0 };
	for (int i = 0; i < 70; i++)
		sonde_buf_printf(&b, "%sresponse.status == %d", i ? " || " : "", i);
	sonde_buf_putc(&b, 0);
	assert_null(sonde_filter_compile((char *)b.p, &err));
	assert_non_null(strstr(err.message, "64 at most"));
	sonde_buf_free(&b);
	assert_null(sonde_filter_compile(NULL, &err));
}

/* --------------------------------------------------- semantics over JSON --- */

static const char http_rec[] =
	"{\"schema\":1,\"type\":\"exchange\",\"seq\":7,\"ts\":\"2026-12-03T14:55:58.382690Z\","
	"\"protocol\":\"http\",\"version\":\"HTTP/1.1\","
	"\"conn\":{\"id\":12345678901234567,\"transport\":\"tcp\","
	"\"client\":{\"ip\":\"10.0.0.1\",\"port\":50153,"
	"\"pod\":{\"name\":\"web-0\",\"namespace\":\"shop\",\"labels\":{\"app\":\"checkout\","
	"\"tier\":\"fr\\u00f8nt\"}}},"
	"\"server\":{\"ip\":\"10.0.0.2\",\"port\":8080,\"name\":\"payments.internal\"}},"
	"\"capture\":{\"method\":\"pcap-file\",\"source\":\"x.pcap\"},"
	"\"request\":{\"ts\":\"2026-12-03T14:55:58.382690Z\",\"wire_bytes\":79,\"captured_bytes\":79,"
	"\"method\":\"POST\",\"target\":\"/api/v1/charge?x=1\",\"authority\":null,"
	"\"headers\":[[\"User-Agent\",\"curl/7.29.0\"],[\"Authorization\",\"Bearer ****[36:9f86d081]\"],"
	"[\"X-Dup\",\"a\"],[\"x-dup\",\"b\"]],\"body\":{\"size\":2048,\"captured\":2048,"
	"\"encoding\":\"utf8\",\"data\":\"line1\\nline2 \\\"q\\\"\"},"
	"\"grpc\":{\"service\":\"pay.Payments\",\"method\":\"Charge\"}},"
	"\"response\":{\"ts\":\"2026-12-03T14:55:58.682690Z\",\"wire_bytes\":342,\"captured_bytes\":342,"
	"\"status\":503,\"reason\":\"Service Unavailable\",\"headers\":[],"
	"\"body\":{\"size\":0,\"captured\":0,\"decoded\":false},"
	"\"grpc\":{\"status\":14,\"messages\":[{\"size\":5,\"decoded\":{\"1\":[3,4],\"2\":\"x\"}}]}},"
	"\"latency_us\":{\"first_byte\":250000.000,\"last_byte\":300000.500},"
	"\"flags\":[\"midstream\",\"response_truncated\"]}";

static const char redis_rec[] =
	"{\"schema\":1,\"type\":\"exchange\",\"ts\":\"2026-12-03T15:00:00.000000Z\",\"protocol\":\"redis\","
	"\"version\":\"RESP2\",\"conn\":{\"id\":2,\"transport\":\"tcp\",\"client\":{\"ip\":\"::1\","
	"\"port\":1},\"server\":{\"ip\":\"::1\",\"port\":6379}},\"capture\":{\"method\":\"pcap-file\"},"
	"\"request\":{\"ts\":\"2026-12-03T15:00:00.000000Z\",\"wire_bytes\":31,\"captured_bytes\":31,"
	"\"command\":\"GET\",\"arguments\":[\"k1\",\"k2\"],\"argument_count\":2,\"db\":0},"
	"\"flags\":[\"unanswered\"]}";

struct want {
	const char *expr;
	bool http, redis;
};

/* 2026-12-03T15:00:00Z, as now() */
#define NOW_US 1796310000000000ull

static const struct want wants[] = {
	/* the issue's examples */
	{ "protocol == \"http\" && response.status >= 500 && request.target.startsWith(\"/api\")", true,
	  false },
	{ "latency_ms > 200", true, false },
	{ "latency_ms > 300", true, false },
	{ "latency_ms > 300.001", false, false },
	{ "conn.server.name contains \"payments\"", true, false },
	{ "pod.labels[\"app\"] == \"checkout\"", true, false },
	{ "grpc.method == \"Charge\"", true, false },
	{ "redis.command == \"GET\"", false, true },
	{ "ts > now() - 10m", true, true },
	{ "ts > now() - 4m", false, true },
	{ "ts > now() - 61m", true, true },
	{ "has(request.headers[\"authorization\"])", true, false },
	/* comparisons, each type */
	{ "response.status == 503", true, false },
	{ "response.status != 503", false, true },
	{ "response.status < 503", false, false },
	{ "response.status <= 503", true, false },
	{ "response.status > 502.5", true, false },
	{ "500 <= response.status", true, false },
	{ "response.status eq 503 and not (protocol ne \"http\")", true, false },
	{ "conn.id == 12345678901234567", true, false },
	{ "conn.id == 12345678901234568", false, false },
	{ "protocol < \"i\"", true, false },
	{ "protocol > \"i\"", false, true },
	{ "version >= \"RESP\"", false, true },
	{ "response.body.decoded == false", true, false },
	{ "response.body.decoded", false, false },
	{ "response.body.decoded != true", true, true },
	{ "request.authority == null", true, false },
	{ "request.authority != null", false, true },
	{ "request.method == null", false, false },
	/* strings */
	{ "request.target contains \"v1/ch\"", true, false },
	{ "request.target contains \"\"", true, false },
	{ "request.target endsWith \"x=1\"", true, false },
	{ "request.target.endsWith(\"x=2\")", false, false },
	{ "request.target matches \"^/api/v[0-9]+/\"", true, false },
	{ "request.target ~ r\"\\?x=[[:digit:]]\"", true, false },
	{ "request.target ~ \"^/[]a-z[:alpha:]]+/v(([0-9]{1,3}[.]){3}[0-9]{1,3})?\"", true, false },
	{ "request.target.matches(\"CHARGE\")", false, false },
	{ "request.body.data contains \"line1\\nline2 \\\"q\\\"\"", true, false },
	{ "request.body.data == 'line1\\nline2 \"q\"'", true, false },
	{ "pod.labels[\"tier\"] == \"fr\\xc3\\xb8nt\"", true, false },
	/* in */
	{ "protocol in [\"redis\", \"kafka\"]", false, true },
	{ "response.status in [200, 503, 504]", true, false },
	{ "request.command in [\"SET\"]", false, false },
	{ "\"unanswered\" in flags", false, true },
	{ "flags == \"midstream\"", true, false },
	{ "flags contains \"truncated\"", true, false },
	{ "!(flags contains \"truncated\")", false, true },
	{ "request.arguments[1] == \"k2\"", false, true },
	{ "request.arguments[2] == \"k2\"", false, false },
	{ "request.arguments == \"k1\"", false, true },
	/* existence, bare fields */
	{ "has(response)", true, false },
	{ "!has(response)", false, true },
	{ "has(request.authority)", true, false },
	{ "request.authority", false, false },
	{ "has(pod.labels)", true, false },
	{ "response.grpc", true, false },
	{ "has(request.headers[\"AUTHORIZATION\"])", true, false },
	{ "has(request.headers[\"cookie\"])", false, false },
	{ "request.headers[\"x-dup\"] == \"b\"", true, false },
	{ "request.headers[\"X-DUP\"] == \"a\"", true, false },
	{ "request.headers[\"user-agent\"] startsWith \"curl/\"", true, false },
	{ "request.headers[\"authorization\"] contains \"****\"", true, false },
	/* below lists */
	{ "response.grpc.messages.size == 5", true, false },
	{ "response.grpc.messages[0].decoded[\"1\"] == 4", true, false },
	{ "response.grpc.messages.decoded[\"2\"] == \"x\"", true, false },
	{ "grpc.status == 14", true, false },
	/* units, sizes, times */
	{ "latency > 299ms", true, false },
	{ "latency > 0.3s", true, false },
	{ "latency > 300000501ns", false, false },
	{ "latency_us.first_byte == 250000", true, false },
	{ "latency_us.first_byte == 250ms", true, false },
	{ "ttfb_ms < 250.5", true, false },
	{ "request.body.size == 2k", true, false },
	{ "request.body.size >= 2KiB && request.body.size < 0.5mb", true, false },
	{ "ts >= \"2026-12-03T15\"", false, true },
	{ "ts < \"2026-12-03T14:55:58.382691Z\"", true, false },
	{ "ts == \"2026-12-03T16:00:00+01:00\"", false, true },
	{ "response.ts > now() - 5m - 4.5m + 0s", true, false },
	/* booleans */
	{ "true", true, true },
	{ "false || protocol == \"redis\"", false, true },
	{ "!true", false, false },
	{ "protocol == \"http\" || protocol == \"redis\" && false", true, false },
	{ "(protocol == \"http\" || protocol == \"redis\") && false", false, false },
	{ "not protocol == \"http\"", false, true },
	{ "!!(protocol == 'http')", true, false },
	/* aliases for both ends */
	{ "pod.name == \"web-0\"", true, false },
	{ "server.port == 6379", false, true },
	{ "client.pod.namespace == \"shop\"", true, false },
	{ "http.status == 503 && http.method == \"POST\"", true, false },
};

static void operators_and_types(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < sizeof(wants) / sizeof(*wants); i++) {
		struct sonde_filter_error err;
		struct sonde_filter *f = sonde_filter_compile(wants[i].expr, &err);
		if (!f) {
			print_error("'%s': column %zu: %s\n", wants[i].expr, err.column, err.message);
			bad++;
			continue;
		}
		bool h = sonde_filter_match_json(f, http_rec, strlen(http_rec), NOW_US);
		bool r = sonde_filter_match_json(f, redis_rec, strlen(redis_rec), NOW_US);
		if (h != wants[i].http || r != wants[i].redis) {
			print_error("'%s': http %d redis %d, want %d %d\n", wants[i].expr, h, r,
				    wants[i].http, wants[i].redis);
			bad++;
		}
		sonde_filter_free(f);
	}
	assert_int_equal(bad, 0);
}

/* Lines that are not JSON, or are cut anywhere: an answer, never a crash
 * (ASan's build reads every cut copy from its own allocation). */
static void hostile_json(void **state)
{
	(void)state;
	struct sonde_filter *f = sonde_filter_compile(
		"response.grpc.messages.decoded[\"1\"] == 4 || !has(request.headers[\"x\"]) || "
		"request.body.data contains \"q\"",
		NULL);
	assert_non_null(f);
	size_t n = strlen(http_rec);
	for (size_t cut = 0; cut < n; cut++) {
		char *p = tu_xmalloc(cut);
		memcpy(p, http_rec, cut);
		(void)sonde_filter_match_json(f, p, cut, 0);
		free(p);
	}
	static const char *const junk[] = { "", "{", "[]", "{\"a\":}", "{\"request\":{\"body\":[[[",
					    "{\"request\":\"\\u12\"}", "{\"flags\":[1,2,]}", "nul",
					    "{\"request\":{\"headers\":[[\"x\"]]}}" };
	for (size_t i = 0; i < sizeof(junk) / sizeof(*junk); i++)
		(void)sonde_filter_match_json(f, junk[i], strlen(junk[i]), 0);
	/* nesting past every bound */
	struct sonde_buf b = { 0 };
	sonde_buf_puts(&b, "{\"request\":");
	for (int i = 0; i < 100000; i++)
		sonde_buf_putc(&b, '[');
	assert_false(sonde_filter_match_json(f, (char *)b.p, b.len, 0));
	sonde_buf_free(&b);
	/* a bare has() on a pair list that is not pairs */
	assert_true(sonde_filter_match_json(f, junk[8], strlen(junk[8]), 0));
	sonde_filter_free(f);
}

/* ---------------------------------------- the same answer on the corpus --- */

static const char *const corpus_exprs[] = {
	"protocol == \"http\" && response.status >= 500 && request.target.startsWith(\"/api\")",
	"protocol == \"http\"",
	"protocol in [\"dns\", \"redis\", \"mqtt\", \"amqp\", \"kafka\"]",
	"version == \"HTTP/2\"",
	"ts > \"2015-01-01\"",
	"ts > now() - 10m",
	"request.ts < \"2020-01-01\" || !has(response)",
	"response.status >= 400",
	"response.status == null",
	"response.status != 200",
	"latency_ms > 200",
	"latency > 1ms",
	"latency_us.first_byte < 100",
	"conn.server.port == 80 || conn.client.port > 40000",
	"conn.server.ip startsWith \"192.168.\"",
	"conn.server.name contains \"com\"",
	"has(conn.server.name)",
	"conn.transport == \"udp\"",
	"capture.method == \"pcap-file\"",
	"capture.source contains \"http2\"",
	"has(request.headers[\"authorization\"])",
	"request.headers[\"authorization\"] contains \"****\"",
	"request.headers[\"host\"] endsWith \".com\"",
	"request.headers[\":authority\"] != \"\"",
	"request.headers[\"user-agent\"] matches \"^(curl|Mozilla)\"",
	"response.headers[\"content-type\"] contains \"json\"",
	"response.trailers[\"grpc-status\"] == \"0\"",
	"request.method in [\"GET\", \"HEAD\"]",
	"request.target matches \"\\\\.(js|css|png)$\"",
	"request.body.size > 1k",
	"response.body.size >= 10kb",
	"response.body.data contains \"html\"",
	"response.body.encoding == \"base64\"",
	"request.body.data contains \"\"",
	"grpc.method == \"Charge\" || grpc.service contains \"Greeter\"",
	"grpc.status != 0",
	"has(request.grpc) && response.grpc.message_count > 1",
	"request.grpc.messages.decoded[\"1\"] != \"\"",
	"response.grpc.messages.size > 10",
	"request.graphql.requests.operations.type == \"mutation\"",
	"redis.command == \"GET\"",
	"request.arguments == \"foo\" || request.arguments[0] contains \"key\"",
	"response.type == \"error\" || response.error",
	"response.value contains \"OK\"",
	"dns.name endsWith \".com\"",
	"dns.rcode == \"NXDOMAIN\"",
	"response.answers.type == \"A\" && response.answers.ttl < 300",
	"request.questions[0].type == \"AAAA\"",
	"request.packet == \"PUBLISH\" && request.qos >= 1",
	"request.topic startsWith \"a/\"",
	"request.method startsWith \"basic.\"",
	"request.content.body contains \"hello\"",
	"request.arguments[\"routing_key\"] != \"\"",
	"request.api == \"Produce\" || response.error != null",
	"request.topics.name contains \"test\"",
	"flags == \"midstream\"",
	"flags contains \"gap\"",
	"\"unanswered\" in flags || \"unsolicited\" in flags",
	"flags[0] endsWith \"truncated\"",
	"!has(request) || !has(response)",
	"request.wire_bytes > 10k || response.wire_bytes >= 1mb",
	"has(process) || has(conn.client.process)",
	"response",
	"request.version == \"HTTP/1.0\"",
	"response.reason == \"OK\" && !(response.status == 200)",
	"request.stream_id >= 3",
	"pod.labels[\"app\"] == \"x\" || container.name == \"y\"",
	"type == \"connection\"",
	"type == \"exchange\" && has(tcp)",
	"tcp.outcome == \"closed\" && tcp.closed_by == \"client\"",
	"tcp.outcome in [\"refused\", \"reset\", \"timeout\"]",
	"tcp.retransmits.server > 0 || tcp.retransmits > 0",
	"tcp.rtt_us.srtt > 1000 || tcp.srtt_us > 1000",
	"tcp.handshake_us < 100 && tcp.app_protocol == \"http\"",
	"flags contains \"reset\"",
};

struct same {
	struct sonde_filter *f[sizeof(corpus_exprs) / sizeof(*corpus_exprs)];
	size_t matched[sizeof(corpus_exprs) / sizeof(*corpus_exprs)];
	size_t records, mismatches;
};

static void compare_record(void *ctx, const struct sonde_record *r, const char *json, size_t len)
{
	struct same *s = ctx;
	s->records++;
	for (size_t i = 0; i < sizeof(corpus_exprs) / sizeof(*corpus_exprs); i++) {
		bool live = sonde_filter_match_record(s->f[i], r, NOW_US);
		bool text = sonde_filter_match_json(s->f[i], json, len, NOW_US);
		s->matched[i] += live;
		if (live != text && s->mismatches++ < 10)
			print_error("'%s': record %d, JSON %d on\n%.*s\n", corpus_exprs[i], live,
				    text, (int)(len < 2000 ? len : 2000), json);
	}
}

static void same_answer_on_the_corpus(void **state)
{
	(void)state;
	const char *dir = fc_corpus_dir();
	if (!dir) {
		print_message("no corpus (set SONDE_CORPUS): skipped\n");
		skip();
	}
	struct same *s = tu_xmalloc(sizeof(*s));
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sizeof(corpus_exprs) / sizeof(*corpus_exprs); i++) {
		struct sonde_filter_error err;
		s->f[i] = sonde_filter_compile(corpus_exprs[i], &err);
		if (!s->f[i])
			fail_msg("'%s': column %zu: %s", corpus_exprs[i], err.column, err.message);
	}
	size_t files = fc_each_capture(dir, compare_record, s, NULL);
	print_message("%zu captures, %zu records, %zu expressions: %zu answers differ\n", files,
		      s->records, sizeof(corpus_exprs) / sizeof(*corpus_exprs), s->mismatches);
	assert_true(files > 100);
	assert_true(s->records > 1000);
	assert_int_equal(s->mismatches, 0);
	/* the expressions are not all trivially true or false on this data */
	size_t some = 0;
	for (size_t i = 0; i < sizeof(corpus_exprs) / sizeof(*corpus_exprs); i++) {
		if (getenv("SONDE_FILTER_VERBOSE"))
			print_message("%6zu  %s\n", s->matched[i], corpus_exprs[i]);
		some += s->matched[i] > 0 && s->matched[i] < s->records;
		sonde_filter_free(s->f[i]);
	}
	assert_true(some >= 40);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errors_point_at_the_column),
		cmocka_unit_test(operators_and_types),
		cmocka_unit_test(hostile_json),
		cmocka_unit_test(same_answer_on_the_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
