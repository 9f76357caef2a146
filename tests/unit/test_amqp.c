/* SPDX-License-Identifier: MIT */
/*
 * The AMQP 0-9-1 dissector through its interface, on the fake session of
 * testutil.h: a whole connection (protocol header, connection and channel
 * handshakes, queue.declare, publisher confirms, a publish whose body is
 * split over two body frames, a delivery and its ack, a heartbeat), also
 * fed with every step split in two at every offset and byte by byte (the
 * records' JSON must not change); credentials masked; bodies bounded;
 * malformed frames; a gap inside a body; a connection joined mid-frame;
 * hand-back after repeated garbage; the probe.
 */
#include "testutil.h"

#include "proto/amqp/amqp_spec.h"

#define C2S SONDE_DIR_C2S
#define S2C SONDE_DIR_S2C
#define TS 1700000000000000000ull

extern const struct sonde_dissector sonde_dissector_amqp;

/* ------------------------------------------------------------- frames --- */

static void frame(struct tu_bytes *out, uint8_t type, uint16_t ch, const struct tu_bytes *pl)
{
	tu_u8(out, type);
	tu_be16(out, ch);
	tu_be32(out, (uint32_t)pl->len);
	tu_bytes_put(out, pl->p, pl->len);
	tu_u8(out, 0xce);
}

static void sstr(struct tu_bytes *b, const char *s)
{
	tu_u8(b, (uint8_t)strlen(s));
	tu_bytes_str(b, s);
}

static void lstr(struct tu_bytes *b, const void *s, size_t n)
{
	tu_be32(b, (uint32_t)n);
	tu_bytes_put(b, s, n);
}

/* A method frame: class, method, then the argument bytes given. */
static void method(struct tu_bytes *out, uint16_t ch, uint16_t cls, uint16_t m, const void *args,
		   size_t n)
{
	struct tu_bytes pl = { 0 };
	tu_be16(&pl, cls);
	tu_be16(&pl, m);
	tu_bytes_put(&pl, args, n);
	frame(out, 1, ch, &pl);
	free(pl.p);
}

static void margs(struct tu_bytes *out, uint16_t ch, uint16_t cls, uint16_t m,
		  const struct tu_bytes *args)
{
	method(out, ch, cls, m, args->p, args->len);
}

/* A basic content header with content-type text/plain. */
static void header(struct tu_bytes *out, uint16_t ch, uint64_t size)
{
	struct tu_bytes pl = { 0 };
	tu_be16(&pl, 60);
	tu_be16(&pl, 0);
	tu_be32(&pl, (uint32_t)(size >> 32));
	tu_be32(&pl, (uint32_t)size);
	tu_be16(&pl, 0x8000);
	sstr(&pl, "text/plain");
	frame(out, 2, ch, &pl);
	free(pl.p);
}

static void body(struct tu_bytes *out, uint16_t ch, const char *s)
{
	struct tu_bytes pl = { 0 };
	tu_bytes_str(&pl, s);
	frame(out, 3, ch, &pl);
	free(pl.p);
}

/* ------------------------------------------------------------ scenario --- */

#define STEPS 8

struct scen {
	struct tu_bytes step[STEPS];
	enum sonde_dir dir[STEPS];
	int n;
};

static struct tu_bytes *next_step(struct scen *s, enum sonde_dir dir)
{
	s->dir[s->n] = dir;
	return &s->step[s->n++];
}

static void scen_free(struct scen *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->step[i].p);
	memset(s, 0, sizeof(*s));
}

static void build(struct scen *s)
{
	memset(s, 0, sizeof(*s));
	struct tu_bytes a = { 0 }, *b = next_step(s, C2S);
	tu_bytes_put(b, "AMQP\x00\x00\x09\x01", 8);
	/* server: start, tune */
	b = next_step(s, S2C);
	tu_bytes_put(&a, "\x00\x09", 2);
	tu_be32(&a, 19); /* server-properties: {"product": S "rabbit"} */
	sstr(&a, "product");
	tu_u8(&a, 'S');
	lstr(&a, "rabbit", 6);
	lstr(&a, "PLAIN", 5);
	lstr(&a, "en_US", 5);
	margs(b, 0, 10, 10, &a);
	method(b, 0, 10, 30, "\x07\xff\x00\x02\x00\x00\x00\x3c", 8);
	/* client: start-ok (PLAIN: bob / hunter2), tune-ok, open, channel, queue */
	b = next_step(s, C2S);
	a.len = 0;
	tu_be32(&a, 0);
	sstr(&a, "PLAIN");
	lstr(&a, "\0bob\0hunter2", 12);
	sstr(&a, "en_US");
	margs(b, 0, 10, 11, &a);
	method(b, 0, 10, 31, "\x07\xff\x00\x02\x00\x00\x00\x3c", 8);
	method(b, 0, 10, 40, "\x01/\x00\x00", 4);
	method(b, 1, 20, 10, "\x00", 1);
	method(b, 1, 50, 10, "\x00\x00\x01q\x00\x00\x00\x00\x00", 9);
	method(b, 1, 85, 10, "\x00", 1);
	method(b, 2, 85, 10, "\x01", 1); /* nowait: no answer comes */
	/* server: the answers */
	b = next_step(s, S2C);
	method(b, 0, 10, 41, "\x00", 1);
	method(b, 1, 20, 11, "\x00\x00\x00\x00", 4);
	method(b, 1, 50, 11, "\x01q\x00\x00\x00\x00\x00\x00\x00\x00", 10);
	method(b, 1, 85, 11, "", 0);
	/* client: a publish over two body frames */
	b = next_step(s, C2S);
	method(b, 1, 60, 40, "\x00\x00\x00\x01q\x00", 6);
	header(b, 1, 10);
	body(b, 1, "hello");
	body(b, 1, "world");
	/* server: confirms it, delivers one message */
	b = next_step(s, S2C);
	method(b, 1, 60, 80, "\x00\x00\x00\x00\x00\x00\x00\x01\x00", 9);
	method(b, 1, 60, 60,
	       "\x01"
	       "c\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x01q",
	       14);
	header(b, 1, 2);
	body(b, 1, "hi");
	/* client: acks delivery 7, a heartbeat */
	b = next_step(s, C2S);
	method(b, 1, 60, 80, "\x00\x00\x00\x00\x00\x00\x00\x07\x00", 9);
	tu_bytes_put(b, "\x08\x00\x00\x00\x00\x00\x00\xce", 8);
	free(a.p);
}

/* ------------------------------------------------------------ harness --- */

static void am_open(struct tu_h1 *h, const struct sonde_dissect_opts *o, bool mid)
{
	tu_h1_open(h, o, mid, mid);
	h->d->close(h->state, 0);
	h->info.server.port = 5672;
	h->d = &sonde_dissector_amqp;
	h->state = h->d->open(&h->sess);
}

static void feed(struct tu_h1 *h, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	if (n && !h->sess.switch_to)
		tu_h1_data(h, dir, p, n, TS);
}

static int find(const struct tu_h1 *h, const char *s)
{
	for (size_t i = 0; i < h->col.n; i++)
		if (strstr(h->col.r[i].json, s))
			return (int)i;
	return -1;
}

#define assert_has(h, i, s)                                                                  \
	do {                                                                                 \
		int i_ = (i);                                                                \
		if (i_ < 0 || (size_t)i_ >= (h)->col.n || !strstr((h)->col.r[i_].json, s)) { \
			tu_collector_dump(&(h)->col, "records");                             \
			fail_msg("record %d lacks %s", i_, s);                               \
		}                                                                            \
	} while (0)

enum feed_mode { FEED_WHOLE, FEED_SPLIT, FEED_BYTES };

static void run(struct tu_h1 *h, const struct scen *s, const struct sonde_dissect_opts *o,
		enum feed_mode mode, size_t k)
{
	am_open(h, o, false);
	h->col.redact = tu_redactor(); /* credentials are masked by the stage */
	for (int i = 0; i < s->n; i++) {
		const uint8_t *p = s->step[i].p;
		size_t n = s->step[i].len;
		if (mode == FEED_WHOLE) {
			feed(h, s->dir[i], p, n);
		} else if (mode == FEED_SPLIT) {
			size_t at = k < n ? k : n;
			feed(h, s->dir[i], p, at);
			feed(h, s->dir[i], p + at, n - at);
		} else {
			for (size_t j = 0; j < n; j++)
				feed(h, s->dir[i], p + j, 1);
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
	sonde_buf_printf(&b, "errors %llu unparsed %llu\n",
			 (unsigned long long)h->stats.parse_errors,
			 (unsigned long long)h->stats.unparsed_bytes);
	char *r = tu_strndup(b.p, b.len);
	sonde_buf_free(&b);
	return r;
}

/* -------------------------------------------------------------- tests --- */

static void test_session(void **state)
{
	(void)state;
	static struct tu_h1 h;
	static struct scen s;
	build(&s);
	run(&h, &s, NULL, FEED_WHOLE, 0);
	assert_has(&h, find(&h, "\"frame\":\"protocol_header\""), "\"protocol_version\":[0,9,1]");
	int i = find(&h, "\"method\":\"connection.start\"");
	assert_has(&h, i, "\"method\":\"connection.start-ok\"");
	assert_has(&h, i, "\"server_properties\":[[\"product\",\"rabbit\"]]");
	assert_has(&h, i, "\"response\":\"****[");
	assert_has(&h, i, "\",\"user\":\"bob\"");
	for (size_t k = 0; k < h.col.n; k++)
		assert_null(strstr(h.col.r[k].json, "hunter2"));
	assert_has(&h, find(&h, "\"method\":\"connection.tune\""), "connection.tune-ok");
	assert_has(&h, find(&h, "\"method\":\"connection.open\""), "connection.open-ok");
	assert_has(&h, find(&h, "\"method\":\"channel.open\""), "channel.open-ok");
	assert_has(&h, find(&h, "\"method\":\"queue.declare\""), "\"method\":\"queue.declare-ok\"");
	assert_has(&h, find(&h, "\"channel\":1,\"method\":\"confirm.select\""),
		   "confirm.select-ok");
	i = find(&h, "\"method\":\"basic.publish\"");
	assert_has(&h, i, "\"routing_key\":\"q\"");
	assert_has(&h, i, "\"publish_seq\":1");
	assert_has(&h, i, "\"body_size\":10,\"body_frames\":2");
	assert_has(&h, i, "\"content_type\":\"text/plain\"");
	assert_has(&h, i, "\"body\":\"helloworld\"");
	assert_int_equal(h.col.r[i].flags, 0);
	i = find(&h, "\"sender\":\"server\",\"channel\":1,\"method\":\"basic.ack\"");
	assert_has(&h, i, "\"acknowledged_count\":1,\"acknowledges\":[{\"delivery_tag\":1");
	i = find(&h, "\"method\":\"basic.deliver\"");
	assert_has(&h, i, "\"delivery_tag\":7");
	assert_has(&h, i, "\"body\":\"hi\"");
	i = find(&h, "\"sender\":\"client\",\"channel\":1,\"method\":\"basic.ack\"");
	assert_has(
		&h, i,
		"\"acknowledges\":[{\"delivery_tag\":7,\"exchange\":\"\",\"routing_key\":\"q\"}]");
	assert_true(find(&h, "\"frame\":\"heartbeat\"") >= 0);
	/* the protocol header, 6 pairs, a nowait select, publish, 2 acks, deliver, heartbeat */
	i = find(&h, "\"channel\":2,\"method\":\"confirm.select\"");
	assert_has(&h, i, "\"nowait\":true");
	assert_false(h.col.r[i].resp.present);
	assert_int_equal(h.col.r[i].flags, 0); /* expected no answer: not unanswered */
	assert_int_equal(h.col.n, 13);
	for (size_t k = 0; k < h.col.n; k++)
		assert_int_equal(h.col.r[k].flags, 0);
	assert_int_equal(h.stats.parse_errors, 0);
	assert_int_equal(h.stats.unparsed_bytes, 0);
	char *want = joined(&h);
	tu_h1_free(&h);
	for (size_t k = 0; k <= 400; k++) {
		enum feed_mode m = k == 400 ? FEED_BYTES : FEED_SPLIT;
		run(&h, &s, NULL, m, k);
		char *got = joined(&h);
		bool same = !strcmp(want, got);
		if (!same)
			fprintf(stderr, "---- whole:\n%s---- split %zu:\n%s", want, k, got);
		free(got);
		tu_h1_free(&h);
		if (!same) {
			free(want);
			fail_msg("records differ when split");
		}
	}
	free(want);
	scen_free(&s);
}

/* Bodies are kept to --body-limit, counted to their end. */
static void test_body_bounded(void **state)
{
	(void)state;
	static struct tu_h1 h;
	static struct scen s;
	build(&s);
	struct sonde_dissect_opts o;
	tu_dissect_defaults(&o);
	o.body_limit = 4;
	run(&h, &s, &o, FEED_WHOLE, 0);
	int i = find(&h, "\"method\":\"basic.publish\"");
	assert_has(&h, i, "\"body\":\"hell\",\"body_truncated\":true");
	assert_true(h.col.r[i].req.flags & SONDE_MF_TRUNCATED);
	assert_int_equal(h.col.r[i].req.wire_bytes, 18 + 33 + 13 + 13);
	assert_int_equal(h.stats.bodies_truncated, 1);
	tu_h1_free(&h);
	scen_free(&s);
}

/* A bad frame-end, a size no AMQP frame has, an unknown method: counted,
 * and the next frame is found. */
static void test_malformed(void **state)
{
	(void)state;
	static struct tu_h1 h;
	struct tu_bytes b = { 0 };
	method(&b, 1, 20, 10, "\x00", 1);
	b.p[b.len - 1] = 0x00; /* frame-end */
	method(&b, 1, 20, 10, "\x00", 1);
	tu_bytes_put(&b, "\x01\x00\x01\x7f\xff\xff\xff", 7); /* 2 GiB */
	method(&b, 2, 20, 10, "\x00", 1);
	am_open(&h, NULL, false);
	feed(&h, C2S, b.p, b.len);
	method(&b, 1, 99, 99, "", 0); /* in step: an unknown method is a message */
	feed(&h, C2S, b.p + b.len - 12, 12);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 3);
	int i = find(&h, "\"method\":\"unknown\"");
	assert_has(&h, i, "\"class_id\":99");
	assert_has(&h, i, "\"malformed\"");
	assert_true(h.col.r[i].req.flags & SONDE_MF_PARSE_ERROR);
	assert_true(find(&h, "\"channel\":1,\"method\":\"channel.open\"") >= 0);
	assert_true(find(&h, "\"channel\":2,\"method\":\"channel.open\"") >= 0);
	assert_int_equal(h.stats.parse_errors, 3);
	assert_int_equal(h.stats.unparsed_bytes, 13 + 7);
	tu_h1_free(&h);
	free(b.p);
}

/* Bytes lost inside a body: the message is flagged, its size exact, and
 * the frames after it are read. */
static void test_gap_in_body(void **state)
{
	(void)state;
	static struct tu_h1 h;
	struct tu_bytes b = { 0 };
	method(&b, 1, 60, 40, "\x00\x00\x00\x01q\x00", 6);
	header(&b, 1, 10);
	size_t at = b.len + 7 + 2; /* inside the body frame's payload */
	body(&b, 1, "helloworld");
	method(&b, 1, 60, 40, "\x00\x00\x00\x01r\x00", 6);
	header(&b, 1, 0);
	am_open(&h, NULL, false);
	feed(&h, C2S, b.p, at);
	tu_h1_gap(&h, C2S, 3, TS);
	feed(&h, C2S, b.p + at + 3, b.len - at - 3);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 0, "\"routing_key\":\"q\"");
	assert_has(&h, 0, "\"body_size\":10");
	assert_true(h.col.r[0].req.flags & SONDE_MF_GAP);
	assert_int_equal(h.col.r[0].req.wire_bytes, h.col.r[0].req.captured_bytes + 3);
	assert_has(&h, 1, "\"routing_key\":\"r\"");
	assert_int_equal(h.col.r[1].req.flags, 0);
	tu_h1_free(&h);
	free(b.p);
}

/* Joined in the middle of a body frame: its bytes are skipped (counted)
 * up to the next frame start, which is read. */
static void test_midstream(void **state)
{
	(void)state;
	static struct tu_h1 h;
	struct tu_bytes b = { 0 };
	body(&b, 1, "tail of a message");
	method(&b, 1, 60, 80, "\x00\x00\x00\x00\x00\x00\x00\x05\x00", 9);
	am_open(&h, NULL, true);
	feed(&h, C2S, b.p + 5, b.len - 5);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 1);
	assert_has(&h, 0, "\"method\":\"basic.ack\"");
	assert_has(&h, 0, "\"acknowledges_unknown\":true");
	assert_int_equal(h.stats.unparsed_bytes, 8 + 17 - 5);
	tu_h1_free(&h);
	free(b.p);
}

/* Frames that look right but end wrong, again and again, hand the
 * connection back; so do bytes that never look like a frame at all. */
static void test_handback(void **state)
{
	(void)state;
	static struct tu_h1 h;
	am_open(&h, NULL, false);
	for (int k = 0; k < 20 && !h.sess.switch_to; k++)
		feed(&h, C2S,
		     (const uint8_t *)"\x01\x00\x01\x00\x00\x00\x05\x00\x14\x00\x0a\x00\x00", 13);
	assert_non_null(h.sess.switch_to);
	assert_int_equal(h.stats.parse_errors, 8);
	tu_h1_free(&h);

	static uint8_t junk[4096];
	memset(junk, 0x42, sizeof(junk));
	am_open(&h, NULL, true);
	for (int k = 0; k < 1000 && !h.sess.switch_to; k++)
		feed(&h, C2S, junk, sizeof(junk));
	assert_non_null(h.sess.switch_to);
	assert_true(h.stats.unparsed_bytes > (1u << 20));
	tu_h1_free(&h);
}

/* More deliveries unacknowledged than sonde remembers: an ack of a
 * forgotten one says so (never "unknown"), the recent ones still match. */
static void test_acks_forgotten(void **state)
{
	(void)state;
	static struct tu_h1 h;
	struct tu_bytes s = { 0 }, c = { 0 }, a = { 0 };
	for (uint32_t tag = 1; tag <= 1100; tag++) {
		a.len = 0;
		sstr(&a, "c");
		tu_be32(&a, 0);
		tu_be32(&a, tag);
		tu_bytes_put(&a, "\x00\x00\x01q", 4);
		margs(&s, 1, 60, 60, &a);
		header(&s, 1, 0);
	}
	method(&c, 1, 60, 80, "\x00\x00\x00\x00\x00\x00\x00\x01\x00", 9);
	method(&c, 1, 60, 80, "\x00\x00\x00\x00\x00\x00\x04\x4c\x00", 9); /* 1100 */
	method(&c, 1, 60, 80, "\x00\x00\x00\x00\x00\x00\x04\x4b\x01", 9); /* up to 1099 */
	am_open(&h, NULL, false);
	feed(&h, S2C, s.p, s.len);
	feed(&h, C2S, c.p, c.len);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 1103);
	assert_has(&h, 1100, "\"acknowledged_count\":0,\"acknowledges_forgotten\":true");
	assert_has(&h, 1101, "\"acknowledged_count\":1,\"acknowledges\":[{\"delivery_tag\":1100");
	assert_has(&h, 1102, "\"acknowledged_count\":1023,\"acknowledges_forgotten\":true");
	tu_h1_free(&h);
	free(s.p);
	free(c.p);
	free(a.p);
}

/* Every field value type of a table, and a password in an AMQPLAIN table. */
static void test_table_types(void **state)
{
	(void)state;
	static struct tu_h1 h;
	struct tu_bytes t = { 0 }, a = { 0 }, b = { 0 };
	/* t b B s u I i l T f d D V x A F, each named after its type letter */
	static const uint8_t vals[] =
		"\x01\x74\x74\x01\x01\x62\x62\xff\x01\x42\x42\xff\x01\x73\x73\xff\xfe\x01\x75\x75"
		"\xff\xfe\x01\x49\x49\xff\xff\xff\xfe\x01\x69\x69\xff\xff\xff\xfe\x01\x6c\x6c\xff"
		"\xff\xff\xff\xff\xff\xff\xfe\x01\x54\x54\x00\x00\x00\x00\x65\x00\x00\x00\x01\x66"
		"\x66\x3f\xc0\x00\x00\x01\x64\x64\x40\x09\x21\xfb\x54\x44\x2d\x18\x01\x44\x44\x02"
		"\x00\x00\x01\x3b\x01\x56\x56\x01\x78\x78\x00\x00\x00\x02\x00\x01\x01\x41\x41\x00"
		"\x00\x00\x04\x42\x01\x42\x02\x01\x46\x46\x00\x00\x00\x04\x01\x6b\x74\x00";
	tu_be32(&t, sizeof(vals) - 1);
	tu_bytes_put(&t, vals, sizeof(vals) - 1);
	tu_bytes_put(&a, "\x00\x09", 2);
	tu_bytes_put(&a, t.p, t.len);
	lstr(&a, "AMQPLAIN", 8);
	lstr(&a, "en_US", 5);
	margs(&b, 0, 10, 10, &a);
	a.len = 0;
	tu_be32(&a, 0);
	sstr(&a, "AMQPLAIN");
	static const uint8_t login[] = "\x05LOGINS\x00\x00\x00\x03"
				       "bob"
				       "\x08PASSWORDS\x00\x00\x00\x07"
				       "hunter2";
	lstr(&a, login, sizeof(login) - 1);
	sstr(&a, "en_US");
	size_t at = b.len;
	margs(&b, 0, 10, 11, &a);
	am_open(&h, NULL, false);
	h.col.redact = tu_redactor();
	feed(&h, S2C, b.p, at);
	feed(&h, C2S, b.p + at, b.len - at);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 1);
	assert_has(
		&h, 0,
		"[[\"t\",true],[\"b\",-1],[\"B\",255],[\"s\",-2],[\"u\",65534],"
		"[\"I\",-2],[\"i\",4294967294],[\"l\",-2],[\"T\",1694498816],"
		"[\"f\",\"1.5\"],[\"d\",\"3.1415926535897931\"],[\"D\",\"315E-2\"],"
		"[\"V\",null],[\"x\",\"\\u0000\\u0001\"],[\"A\",[1,2]],[\"F\",[[\"k\",false]]]]");
	char want[SONDE_REDACT_MASK_MAX + 64];
	snprintf(want, sizeof(want), "\"response\":[[\"LOGIN\",\"bob\"],[\"PASSWORD\",\"%s\"]]",
		 tu_mask("hunter2"));
	assert_has(&h, 0, want);
	assert_null(strstr(h.col.r[0].json, "hunter2"));
	assert_int_equal(h.stats.parse_errors, 0);
	tu_h1_free(&h);
	free(t.p);
	free(a.p);
	free(b.p);
}

static void test_probe(void **state)
{
	(void)state;
	const struct sonde_dissector *d = &sonde_dissector_amqp;
	struct tu_bytes b = { 0 };
	assert_int_equal(d->probe((const uint8_t *)"AMQP\x00\x00\x09\x01", 8), SONDE_PROBE_CLIENT);
	assert_int_equal(d->probe((const uint8_t *)"AM", 2), SONDE_PROBE_MORE);
	method(&b, 1, 60, 60,
	       "\x01"
	       "c\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x01q",
	       14);
	assert_int_equal(d->probe(b.p, b.len), SONDE_PROBE_SERVER);
	assert_int_equal(d->probe(b.p, 5), SONDE_PROBE_MORE);
	b.len = 0;
	method(&b, 1, 60, 40, "\x00\x00\x00\x01q\x00", 6);
	assert_int_equal(d->probe(b.p, b.len), SONDE_PROBE_CLIENT);
	b.p[b.len - 1] = 0;
	assert_int_equal(d->probe(b.p, b.len), SONDE_PROBE_NO);
	free(b.p);
	assert_int_equal(d->probe((const uint8_t *)"\x08\x00\x00\x00\x00\x00\x00\xce", 8),
			 SONDE_PROBE_CLIENT);
	assert_int_equal(d->probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16), SONDE_PROBE_NO);
	assert_int_equal(d->probe((const uint8_t *)"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c", 12),
			 SONDE_PROBE_NO);
	assert_int_equal(d->probe((const uint8_t *)"\x03\x00\x01\x00\x00\x00\x02hi\xce", 10),
			 SONDE_PROBE_NO); /* a body frame alone is any bytes */
	/* the spec's table: sorted, found */
	for (size_t k = 1; k < amqp_nmethods; k++) {
		const struct amqp_method *x = &amqp_methods[k - 1], *y = &amqp_methods[k];
		assert_true(((uint32_t)x->class_id << 16 | x->method_id) <
			    ((uint32_t)y->class_id << 16 | y->method_id));
	}
	assert_string_equal(amqp_method_find(60, 40)->name, "basic.publish");
	assert_null(amqp_method_find(60, 41));
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_session),     tu_test(test_body_bounded),   tu_test(test_malformed),
		tu_test(test_gap_in_body), tu_test(test_midstream),      tu_test(test_handback),
		tu_test(test_table_types), tu_test(test_acks_forgotten), tu_test(test_probe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
