/* SPDX-License-Identifier: MIT */
/*
 * Protobuf wire-format decoder (src/proto/protobuf.c): every wire type,
 * nested messages vs strings vs bytes, repeated fields, the depth, field and
 * output limits, and malformed input (truncated varints and lengths, groups,
 * field number 0), which must leave the output buffer untouched. Also the
 * gRPC helpers (grpc.c): content types, :path, percent-decoding, framing.
 */
#include "testutil.h"

#include "proto/grpc.h"
#include "proto/protobuf.h"

/* Output buffers (static: freed by main even after a failed assertion). */
static struct sonde_buf out, many;

/* Decode and compare the JSON; on an expected error, out must be untouched. */
static void expect(const void *p, size_t n, const struct sonde_pb_limits *lim, int want_rv,
		   const char *want)
{
	sonde_buf_reset(&out);
	sonde_buf_puts(&out, "X");
	int rv = sonde_pb_decode(p, n, &out, lim);
	assert_int_equal(rv, want_rv);
	if (want_rv) {
		assert_int_equal(out.len, 1); /* untouched on error */
		return;
	}
	sonde_buf_putc(&out, 0);
	assert_string_equal((const char *)out.p + 1, want);
}
#define EXPECT(lit, rv, want) expect(lit, sizeof(lit) - 1, NULL, rv, want)

static void test_wire_types(void **state)
{
	(void)state;
	EXPECT("", 0, "{}");
	EXPECT("\x08\x96\x01", 0, "{\"1\":150}");
	EXPECT("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 0, "{\"1\":18446744073709551615}");
	EXPECT("\x0d\x01\x00\x00\x00", 0, "{\"1\":1}");
	EXPECT("\x09\x02\x00\x00\x00\x00\x00\x00\x80", 0, "{\"1\":9223372036854775810}");
	EXPECT("\x12\x07testing", 0, "{\"2\":\"testing\"}");
	EXPECT("\x12\x00", 0, "{\"2\":\"\"}");
	/* nested: {3: {1: 150}} */
	EXPECT("\x1a\x03\x08\x96\x01", 0, "{\"3\":{\"1\":150}}");
	/* not a message, not UTF-8: base64 */
	EXPECT("\x22\x02\xff\xfe", 0, "{\"4\":{\"base64\":\"//4=\"}}");
	/* repeated fields become arrays, in order; others keep first-seen order */
	EXPECT("\x08\x01\x12\x01Z\x08\x02\x08\x03", 0, "{\"1\":[1,2,3],\"2\":\"Z\"}");
	/* large field number */
	EXPECT("\xf8\xff\xff\xff\x0f\x01", 0, "{\"536870911\":1}");
}

static void test_malformed(void **state)
{
	(void)state;
	EXPECT("\x08", SONDE_PB_MALFORMED, NULL); /* missing value */
	EXPECT("\x08\x80", SONDE_PB_MALFORMED, NULL); /* truncated varint */
	EXPECT("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", SONDE_PB_MALFORMED, NULL); /* > 64 bits */
	EXPECT("\x12\x05" "ab", SONDE_PB_MALFORMED, NULL); /* length past the end */
	EXPECT("\x12\xff\xff\xff\xff\x0f" "ab", SONDE_PB_MALFORMED, NULL);
	EXPECT("\x0d\x01\x00", SONDE_PB_MALFORMED, NULL); /* short fixed32 */
	EXPECT("\x09\x01", SONDE_PB_MALFORMED, NULL); /* short fixed64 */
	EXPECT("\x00\x01", SONDE_PB_MALFORMED, NULL); /* field 0 */
	EXPECT("\x0b\x0c", SONDE_PB_MALFORMED, NULL); /* groups */
	EXPECT("\x0e\x01", SONDE_PB_MALFORMED, NULL); /* wire type 6 */
	EXPECT("hello world", SONDE_PB_MALFORMED, NULL);
	/* a nested value that does not parse completely is a string */
	EXPECT("\x1a\x02\x08\x80", 0, "{\"3\":{\"base64\":\"CIA=\"}}");
	EXPECT("\x1a\x03\x08\x01x", 0, "{\"3\":\"\\u0008\\u0001x\"}");
}

static void test_limits(void **state)
{
	(void)state;
	/* depth: 10 nested levels, innermost {1:1} */
	uint8_t b[64];
	size_t n = 2;
	b[0] = 0x08;
	b[1] = 0x01;
	for (int i = 0; i < 10; i++) {
		memmove(b + 2, b, n);
		b[0] = 0x0a;
		b[1] = (uint8_t)n;
		n += 2;
	}
	struct sonde_pb_limits lim = { .max_depth = 3 };
	/* levels 0..2 are messages, level 3 is written as a string */
	expect(b, n, &lim, 0, "{\"1\":{\"1\":{\"1\":\"\\n\\u000e\\n\\u000c\\n\\n\\n\\u0008\\n\\u0006\\n\\u0004\\n\\u0002\\u0008\\u0001\"}}}");
	struct sonde_pb_limits deep = { 0 };
	sonde_buf_reset(&out);
	assert_int_equal(sonde_pb_decode(b, n, &out, &deep), 0);
	/* default depth 8: 8 levels of objects */
	size_t braces = 0;
	for (size_t i = 0; i < out.len; i++)
		braces += out.p[i] == '{';
	assert_int_equal(braces, 8);
	/* fields */
	uint8_t fields[40];
	for (int i = 0; i < 20; i++) {
		fields[2 * i] = 0x08;
		fields[2 * i + 1] = (uint8_t)i;
	}
	struct sonde_pb_limits lf = { .max_fields = 10 };
	expect(fields, sizeof(fields), &lf, SONDE_PB_TOO_LARGE, NULL);
	lf.max_fields = 20;
	sonde_buf_reset(&out);
	assert_int_equal(sonde_pb_decode(fields, sizeof(fields), &out, &lf), 0);
	/* output */
	struct sonde_pb_limits lo = { .max_out = 16 };
	expect(fields, sizeof(fields), &lo, SONDE_PB_TOO_LARGE, NULL);
	/* more than 64 fields (the on-stack table grows) */
	uint8_t big[400];
	for (int i = 0; i < 200; i++) {
		big[2 * i] = (uint8_t)((i % 15 + 1) << 3);
		big[2 * i + 1] = 1;
	}
	sonde_buf_reset(&out);
	assert_int_equal(sonde_pb_decode(big, sizeof(big), &out, NULL), 0);
	sonde_buf_reset(&out);
	assert_int_equal(sonde_pb_decode(NULL, 0, &out, NULL), 0);
}

/* Random bytes: never crashes, the output is either nothing or balanced. */
static void test_random(void **state)
{
	(void)state;
	struct tu_rng r;
	tu_rng_seed(&r, 12345);
	uint8_t b[256];
	for (int it = 0; it < 20000; it++) {
		size_t n = tu_rng_next(&r) % sizeof(b);
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)tu_rng_next(&r);
		if (n > 2 && it % 2) {
			b[0] = 0x0a; /* make many start as a length-delimited field */
			b[1] = (uint8_t)(n - 2);
		}
			sonde_buf_reset(&out);
		int rv = sonde_pb_decode(b, n, &out, NULL);
		if (rv)
			assert_int_equal(out.len, 0);
		else
			assert_true(out.len >= 2 && out.p[0] == '{' && out.p[out.len - 1] == '}');
	}
}

static void test_grpc_helpers(void **state)
{
	(void)state;
#define CT(s) sonde_grpc_content_type((const uint8_t *)s, sizeof(s) - 1)
	assert_true(CT("application/grpc"));
	assert_true(CT("application/grpc+proto"));
	assert_true(CT("application/grpc+json"));
	assert_true(CT("Application/GRPC; charset=x"));
	assert_false(CT("application/grpc-web"));
	assert_false(CT("application/grpcx"));
	assert_false(CT("application/json"));
	assert_false(CT(""));
#define PATH(s, want)                                                              \
	do {                                                                       \
		sonde_buf_reset(&out);                                             \
		sonde_grpc_write_path(&out, (const uint8_t *)s, sizeof(s) - 1);    \
		sonde_buf_putc(&out, 0);                                           \
		assert_string_equal((const char *)out.p, want);                    \
	} while (0)
	PATH("/pkg.Svc/Get", "\"service\":\"pkg.Svc\",\"method\":\"Get\"");
	PATH("/a/b/c", "\"service\":null,\"method\":null");
	PATH("//b", "\"service\":null,\"method\":null");
	PATH("/a/", "\"service\":null,\"method\":null");
	PATH("", "\"service\":null,\"method\":null");
	sonde_buf_reset(&out);
	sonde_grpc_write_pct(&out, (const uint8_t *)"a%20b%25%zz%4", 13);
	sonde_buf_putc(&out, 0);
	assert_string_equal((const char *)out.p, "\"a b%%zz%4\"");

	/* framing, fed one byte at a time: 3 messages, the last one cut */
	static const uint8_t body[] = { 0, 0, 0, 0, 2, 0x08, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 'x' };
	struct sonde_grpc_framer f = { 0 };
	for (size_t i = 0; i < sizeof(body); i++)
		sonde_grpc_feed(&f, body + i, 1);
	assert_int_equal(f.count, 3);
	assert_true(sonde_grpc_partial(&f));
	sonde_buf_reset(&out);
	sonde_grpc_write_messages(&out, body, sizeof(body), &f, NULL, 0, false, 1024);
	sonde_buf_putc(&out, 0);
	assert_string_equal((const char *)out.p,
			    "\"message_count\":3,\"messages\":[{\"size\":2,\"compressed\":false,"
			    "\"decoded\":{\"1\":1}},{\"size\":0,\"compressed\":false,\"decoded\":{}},"
			    "{\"size\":9,\"compressed\":true,\"truncated\":true}]");
	/* a compressed message that does not inflate is written raw */
	static const uint8_t bad[] = { 1, 0, 0, 0, 2, 'h', 'i' };
	struct sonde_grpc_framer g = { 0 };
	sonde_grpc_feed(&g, bad, sizeof(bad));
	sonde_buf_reset(&out);
	sonde_grpc_write_messages(&out, bad, sizeof(bad), &g, (const uint8_t *)"gzip", 4, false, 1024);
	sonde_buf_putc(&out, 0);
	assert_string_equal((const char *)out.p,
			    "\"message_count\":1,\"messages\":[{\"size\":2,\"compressed\":true,"
			    "\"decompressed\":false,\"encoding\":\"utf8\",\"data\":\"hi\"}]");
	/* only SONDE_GRPC_MAX_MESSAGES are written, all counted */
	struct sonde_grpc_framer h = { 0 };
	for (int i = 0; i < 70; i++)
		sonde_buf_append(&many, "\0\0\0\0\0", 5);
	sonde_grpc_feed(&h, many.p, many.len);
	assert_int_equal(h.count, 70);
	assert_false(sonde_grpc_partial(&h));
	sonde_buf_reset(&out);
	sonde_grpc_write_messages(&out, many.p, many.len, &h, NULL, 0, false, 1024);
	sonde_buf_putc(&out, 0);
	assert_non_null(strstr((const char *)out.p, "\"messages_omitted\":6"));
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_wire_types),
		tu_test(test_malformed),
		tu_test(test_limits),
		tu_test(test_random),
		tu_test(test_grpc_helpers),
	};
	int rv = cmocka_run_group_tests(tests, NULL, NULL);
	sonde_buf_free(&out);
	sonde_buf_free(&many);
	return rv;
}
