/* SPDX-License-Identifier: MIT */
/*
 * Protobuf wire-format decoder (src/proto/protobuf.c): every wire type,
 * nested messages vs strings vs bytes, repeated fields, the depth, field and
 * output limits, and malformed input (truncated varints and lengths, groups,
 * field number 0), which must leave the output buffer untouched. Also the
 * gRPC helpers (grpc.c): content types, :path, percent-decoding, framing.
 * And schemas (protodesc.c): a FileDescriptorSet built here field by field
 * (what protoc writes), its methods and types, every field type decoded by
 * name, packed and unpacked repeats, maps, unknown fields and mismatched
 * wire types by number, malformed input and sets that are not ones.
 */
#include <math.h>

#include "testutil.h"

#include "proto/content/grpc.h"
#include "proto/content/protobuf.h"
#include "proto/content/protodesc.h"
#include "sink/render.h"

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

/* A walk rendered by the JSON field visitor, starting a fresh object's members. */
static struct sonde_json_fields *json_into(struct sonde_buf *o)
{
	static struct sonde_json_fields j;
	sonde_json_fields_init(&j, o, false);
	return &j;
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
		sonde_grpc_path_fields((const uint8_t *)s, sizeof(s) - 1,          \
				       &sonde_json_field_ops, json_into(&out));    \
		sonde_buf_putc(&out, 0);                                           \
		assert_string_equal((const char *)out.p, want);                    \
	} while (0)
	PATH("/pkg.Svc/Get", "\"service\":\"pkg.Svc\",\"method\":\"Get\"");
	PATH("/a/b/c", "\"service\":null,\"method\":null");
	PATH("//b", "\"service\":null,\"method\":null");
	PATH("/a/", "\"service\":null,\"method\":null");
	PATH("", "\"service\":null,\"method\":null");
	sonde_buf_reset(&out);
	sonde_grpc_pct_field(NULL, (const uint8_t *)"a%20b%25%zz%4", 13, &sonde_json_field_ops,
			     json_into(&out));
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
	sonde_grpc_messages_fields(body, sizeof(body), &f, NULL, 0, false, 1024, NULL,
				   &sonde_json_field_ops, json_into(&out));
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
	sonde_grpc_messages_fields(bad, sizeof(bad), &g, (const uint8_t *)"gzip", 4, false, 1024, NULL,
				   &sonde_json_field_ops, json_into(&out));
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
	sonde_grpc_messages_fields(many.p, many.len, &h, NULL, 0, false, 1024, NULL,
				   &sonde_json_field_ops, json_into(&out));
	sonde_buf_putc(&out, 0);
	assert_non_null(strstr((const char *)out.p, "\"messages_omitted\":6"));
}

/* ---------------------------------------------------------------- schemas --- */

/* Protobuf encoding helpers (wire format), for descriptors and messages. */
static void pv(struct sonde_buf *b, uint64_t v)
{
	do {
		uint8_t c = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			c |= 0x80;
		sonde_buf_append(b, &c, 1);
	} while (v);
}

static void pint(struct sonde_buf *b, uint32_t num, uint64_t v)
{
	pv(b, (uint64_t)num << 3);
	pv(b, v);
}

static void plen(struct sonde_buf *b, uint32_t num, const void *p, size_t n)
{
	pv(b, (uint64_t)num << 3 | 2);
	pv(b, n);
	sonde_buf_append(b, p, n);
}

static void pstr(struct sonde_buf *b, uint32_t num, const char *s)
{
	plen(b, num, s, strlen(s));
}

static void pbuf(struct sonde_buf *b, uint32_t num, struct sonde_buf *m)
{
	plen(b, num, m->p ? m->p : (const uint8_t *)"", m->len);
	sonde_buf_free(m);
}

static void pfix(struct sonde_buf *b, uint32_t num, uint64_t v, int bytes)
{
	pv(b, (uint64_t)num << 3 | (bytes == 8 ? 1 : 5));
	for (int i = 0; i < bytes; i++) {
		uint8_t c = (uint8_t)(v >> (8 * i));
		sonde_buf_append(b, &c, 1);
	}
}

/* A FieldDescriptorProto appended to a DescriptorProto. */
static void dfield(struct sonde_buf *msg, const char *name, int number, int label, int type,
		   const char *type_name)
{
	struct sonde_buf f = { 0 };
	pstr(&f, 1, name);
	pint(&f, 3, (uint64_t)number);
	pint(&f, 4, (uint64_t)label);
	pint(&f, 5, (uint64_t)type);
	if (type_name)
		pstr(&f, 6, type_name);
	pbuf(msg, 2, &f);
}

enum { OPT = 1, REP = 3 };

/*
 * package t;
 * enum Color { RED = 0; GREEN = 1; BLUE = -2; }
 * message All {
 *   message Inner { string s = 1; }
 *   int32 i32 = 1; int64 i64 = 2; uint32 u32 = 3; uint64 u64 = 4; sint32 s32 = 5;
 *   sint64 s64 = 6; bool b = 7; Color color = 8; fixed32 f32 = 9; sfixed32 sf32 = 10;
 *   fixed64 f64 = 11; sfixed64 sf64 = 12; float fl = 13; double db = 14; string str = 15;
 *   bytes by = 16; Inner inner = 17; repeated int32 nums = 18; repeated Inner inners = 19;
 *   map<string, int32> counts = 20; map<int32, string> names = 21; repeated double ds = 22;
 * }
 * service Svc { rpc Do(All) returns (All.Inner); }
 */
static struct sonde_buf schema(void)
{
	struct sonde_buf file = { 0 }, all = { 0 }, inner = { 0 }, en = { 0 }, v = { 0 };
	pstr(&file, 1, "t.proto");
	pstr(&file, 2, "t");
	pstr(&en, 1, "Color");
	const char *cn[] = { "RED", "GREEN", "BLUE" };
	const int64_t cv[] = { 0, 1, -2 };
	for (int i = 0; i < 3; i++) {
		pstr(&v, 1, cn[i]);
		pint(&v, 2, (uint64_t)cv[i]);
		pbuf(&en, 2, &v);
	}
	pbuf(&file, 5, &en);
	pstr(&all, 1, "All");
	pstr(&inner, 1, "Inner");
	dfield(&inner, "s", 1, OPT, 9, NULL);
	pbuf(&all, 3, &inner);
	static const struct {
		const char *name;
		int type;
	} scalars[] = { { "i32", 5 }, { "i64", 3 },  { "u32", 13 },  { "u64", 4 },   { "s32", 17 },
			{ "s64", 18 }, { "b", 8 },   { "color", 14 }, { "f32", 7 },   { "sf32", 15 },
			{ "f64", 6 },  { "sf64", 16 }, { "fl", 2 },     { "db", 1 },    { "str", 9 },
			{ "by", 12 } };
	for (int i = 0; i < 16; i++)
		dfield(&all, scalars[i].name, i + 1, OPT, scalars[i].type,
		       scalars[i].type == 14 ? ".t.Color" : NULL);
	dfield(&all, "inner", 17, OPT, 11, ".t.All.Inner");
	dfield(&all, "nums", 18, REP, 5, NULL);
	dfield(&all, "inners", 19, REP, 11, ".t.All.Inner");
	dfield(&all, "counts", 20, REP, 11, ".t.All.CountsEntry");
	dfield(&all, "names", 21, REP, 11, ".t.All.NamesEntry");
	dfield(&all, "ds", 22, REP, 1, NULL);
	/* the map entries protoc generates */
	const char *en_name[] = { "CountsEntry", "NamesEntry" };
	for (int k = 0; k < 2; k++) {
		struct sonde_buf e = { 0 }, opt = { 0 };
		pstr(&e, 1, en_name[k]);
		dfield(&e, "key", 1, OPT, k ? 5 : 9, NULL);
		dfield(&e, "value", 2, OPT, k ? 9 : 5, NULL);
		pint(&opt, 7, 1); /* map_entry */
		pbuf(&e, 7, &opt);
		pbuf(&all, 3, &e);
	}
	pbuf(&file, 4, &all);
	struct sonde_buf svc = { 0 }, m = { 0 };
	pstr(&svc, 1, "Svc");
	pstr(&m, 1, "Do");
	pstr(&m, 2, ".t.All");
	pstr(&m, 3, ".t.All.Inner");
	pbuf(&svc, 2, &m);
	pbuf(&file, 6, &svc);
	struct sonde_buf set = { 0 };
	/* an imported file first: another package, one message */
	struct sonde_buf dep = { 0 }, dm = { 0 };
	pstr(&dep, 1, "dep.proto");
	pstr(&dep, 2, "other.pkg");
	pstr(&dm, 1, "Thing");
	pbuf(&dep, 4, &dm);
	pbuf(&set, 1, &dep);
	pbuf(&set, 1, &file);
	return set;
}

static void expect_pd(const struct sonde_pd_msg *m, const struct sonde_buf *msg, int want_rv,
		      const char *want)
{
	sonde_buf_reset(&out);
	sonde_buf_puts(&out, "X");
	int rv = sonde_pd_decode(m, msg->p, msg->len, &out, NULL);
	assert_int_equal(rv, want_rv);
	if (want_rv) {
		assert_int_equal(out.len, 1);
		return;
	}
	sonde_buf_putc(&out, 0);
	assert_string_equal((const char *)out.p + 1, want);
}

static void test_descriptor(void **state)
{
	(void)state;
	static struct sonde_buf set;
	set = schema();
	char err[128];
	struct sonde_protodesc *d = sonde_protodesc_parse(set.p, set.len, err, sizeof(err));
	assert_non_null(d);
	size_t files, msgs, methods;
	sonde_protodesc_counts(d, &files, &msgs, &methods);
	assert_int_equal(files, 2);
	assert_int_equal(msgs, 5); /* Thing, All, Inner and two map entries */
	assert_int_equal(methods, 1);
	const struct sonde_pd_msg *all = sonde_protodesc_find(d, "t.All");
	assert_non_null(all);
	assert_non_null(sonde_protodesc_find(d, ".other.pkg.Thing"));
	assert_ptr_equal(sonde_protodesc_method(d, (const uint8_t *)"/t.Svc/Do", 9, false), all);
	assert_string_equal(sonde_pd_msg_name(sonde_protodesc_method(d, (const uint8_t *)"/t.Svc/Do", 9,
								     true)),
			    "t.All.Inner");
	assert_null(sonde_protodesc_method(d, (const uint8_t *)"/t.Svc/Nope", 11, false));
	assert_null(sonde_protodesc_method(NULL, (const uint8_t *)"/t.Svc/Do", 9, false));

	static struct sonde_buf m;
	memset(&m, 0, sizeof(m));
	pint(&m, 1, (uint64_t)-5); /* int32 -5: ten bytes */
	pint(&m, 2, (uint64_t)-6000000000LL);
	pint(&m, 3, 4000000000u);
	pint(&m, 4, UINT64_MAX);
	pint(&m, 5, 3); /* sint32 zigzag 3 = -2 */
	pint(&m, 6, 4); /* sint64 zigzag 4 = 2 */
	pint(&m, 7, 1);
	pint(&m, 8, (uint64_t)-2); /* BLUE */
	pfix(&m, 9, 4000000000u, 4);
	pfix(&m, 10, (uint32_t)-3, 4);
	pfix(&m, 11, 1, 8);
	pfix(&m, 12, (uint64_t)-4, 8);
	float fl = 1.5f;
	uint32_t flu;
	memcpy(&flu, &fl, 4);
	pfix(&m, 13, flu, 4);
	double db = -0.25;
	uint64_t dbu;
	memcpy(&dbu, &db, 8);
	pfix(&m, 14, dbu, 8);
	pstr(&m, 15, "h\xc3\xa9llo\xff");
	plen(&m, 16, "\x00\x01\x02", 3);
	plen(&m, 17, "\x0a\x01x", 3);
	pint(&m, 18, 1); /* unpacked... */
	plen(&m, 18, "\x02\x03", 2); /* ...and packed, both accepted */
	plen(&m, 19, "\x0a\x01" "a", 3);
	plen(&m, 19, "", 0);
	plen(&m, 20, "\x0a\x01k\x10\x07", 5);
	plen(&m, 20, "\x0a\x01j", 3); /* value absent: 0 */
	plen(&m, 21, "\x08\x09\x12\x02hi", 6);
	double nan = NAN, inf = INFINITY;
	struct sonde_buf packed = { 0 };
	memcpy(&dbu, &nan, 8);
	for (int i = 0; i < 8; i++)
		sonde_buf_putc(&packed, (char)(dbu >> (8 * i)));
	memcpy(&dbu, &inf, 8);
	for (int i = 0; i < 8; i++)
		sonde_buf_putc(&packed, (char)(dbu >> (8 * i)));
	pbuf(&m, 22, &packed);
	pint(&m, 99, 7); /* unknown */
	plen(&m, 98, "\x08\x01", 2); /* unknown, looks like a message */
	expect_pd(all, &m, 0,
		  "{\"i32\":-5,\"i64\":-6000000000,\"u32\":4000000000,\"u64\":18446744073709551615,"
		  "\"s32\":-2,\"s64\":2,\"b\":true,\"color\":\"BLUE\",\"f32\":4000000000,\"sf32\":-3,"
		  "\"f64\":1,\"sf64\":-4,\"fl\":1.5,\"db\":-0.25,\"str\":\"h\xc3\xa9llo\xef\xbf\xbd\","
		  "\"by\":\"AAEC\",\"inner\":{\"s\":\"x\"},\"nums\":[1,2,3],"
		  "\"inners\":[{\"s\":\"a\"},{}],\"counts\":{\"k\":7,\"j\":0},\"names\":{\"9\":\"hi\"},"
		  "\"ds\":[\"NaN\",\"Infinity\"],\"99\":7,\"98\":{\"1\":1}}");

	/* an enum value the schema does not name; the last of a non-repeated
	 * field counts; a wire type that does not match: by number */
	sonde_buf_free(&m);
	pint(&m, 8, 42);
	pint(&m, 1, 1);
	pint(&m, 1, 2);
	pstr(&m, 3, "not a number");
	expect_pd(all, &m, 0, "{\"color\":42,\"i32\":2,\"3\":\"not a number\"}");
	/* a nested message that does not decode: written as without a schema */
	sonde_buf_free(&m);
	plen(&m, 17, "\xff", 1);
	expect_pd(all, &m, 0, "{\"inner\":{\"base64\":\"/w==\"}}");
	/* malformed: untouched output */
	sonde_buf_free(&m);
	sonde_buf_append(&m, "\x08", 1);
	expect_pd(all, &m, SONDE_PB_MALFORMED, NULL);
	sonde_buf_free(&m);
	plen(&m, 18, "\x80", 1); /* a packed varint cut short */
	expect_pd(all, &m, SONDE_PB_MALFORMED, NULL);
	/* limits */
	sonde_buf_free(&m);
	for (int i = 0; i < 300; i++)
		pint(&m, 18, 1);
	expect_pd(all, &m, SONDE_PB_TOO_LARGE, NULL); /* more than 256 fields */
	struct sonde_pb_limits tight = { .max_out = 8 };
	sonde_buf_free(&m);
	pstr(&m, 15, "a long string value");
	sonde_buf_reset(&out);
	assert_int_equal(sonde_pd_decode(all, m.p, m.len, &out, &tight), SONDE_PB_TOO_LARGE);
	assert_int_equal(out.len, 0);

	/* through the gRPC writer: "type" and "fields"; undecodable: as before */
	sonde_buf_free(&m);
	static const uint8_t body[] = { 0, 0, 0, 0, 3, 0x0a, 0x01, 'z', 0, 0, 0, 0, 1, 0x08 };
	struct sonde_grpc_framer f = { 0 };
	sonde_grpc_feed(&f, body, sizeof(body));
	sonde_buf_reset(&out);
	sonde_grpc_messages_fields(body, sizeof(body), &f, NULL, 0, false, 1024,
				   sonde_protodesc_method(d, (const uint8_t *)"/t.Svc/Do", 9, true),
				   &sonde_json_field_ops, json_into(&out));
	sonde_buf_putc(&out, 0);
	assert_string_equal((const char *)out.p,
			    "\"message_count\":2,\"messages\":[{\"size\":3,\"compressed\":false,"
			    "\"type\":\"t.All.Inner\",\"fields\":{\"s\":\"z\"}},{\"size\":1,"
			    "\"compressed\":false,\"encoding\":\"utf8\",\"data\":\"\\u0008\"}]");
	sonde_protodesc_free(d);

	/* not descriptor sets */
	assert_null(sonde_protodesc_parse((const uint8_t *)"", 0, err, sizeof(err)));
	assert_non_null(strstr(err, "no file"));
	assert_null(sonde_protodesc_parse((const uint8_t *)"\x0a\x05" "ab", 4, err, sizeof(err)));
	assert_non_null(strstr(err, "malformed"));
	assert_null(sonde_protodesc_parse((const uint8_t *)"\x0a\x02\x22\x00", 4, err, sizeof(err)));
	assert_null(sonde_protodesc_load("/nonexistent/x.desc", err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	/* every prefix of a valid set: a set or an error, never a crash */
	for (size_t k = 0; k < set.len; k++) {
		struct sonde_protodesc *p = sonde_protodesc_parse(set.p, k, err, sizeof(err));
		sonde_protodesc_free(p);
	}
	sonde_buf_free(&set);
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
		tu_test(test_descriptor),
	};
	int rv = cmocka_run_group_tests(tests, NULL, NULL);
	sonde_buf_free(&out);
	sonde_buf_free(&many);
	return rv;
}
