/* SPDX-License-Identifier: MIT */
/*
 * The MQTT dissector through its interface, on the fake session of
 * testutil.h: 3.1.1 and 5.0 sessions (CONNECT/CONNACK, SUBSCRIBE/SUBACK,
 * UNSUBSCRIBE, PUBLISH at QoS 0/1/2 with their acks, PING, DISCONNECT),
 * each also fed split in two at every offset of each direction and byte by
 * byte (the records' JSON must not change); the password masked; payloads
 * bounded; malformed lengths; a gap in a payload; garbage resynchronised
 * and handed back; a 5.0 connection joined after its CONNECT.
 */
#include "testutil.h"

#include "proto/mqtt/mqtt_wire.h"

#define C2S SONDE_DIR_C2S
#define S2C SONDE_DIR_S2C
#define TS 1700000000000000000ull

extern const struct sonde_dissector sonde_dissector_mqtt;

/* ------------------------------------------------------------ packets --- */

static void varint(struct tu_bytes *b, uint32_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		tu_u8(b, c | (v ? 0x80 : 0));
	} while (v);
}

static void lstr(struct tu_bytes *b, const char *s)
{
	tu_be16(b, (uint16_t)strlen(s));
	tu_bytes_str(b, s);
}

/* A packet: fixed header byte, remaining length, then the body. */
static void pkt(struct tu_bytes *out, uint8_t first, const struct tu_bytes *body)
{
	tu_u8(out, first);
	varint(out, (uint32_t)body->len);
	tu_bytes_put(out, body->p, body->len);
}

static void connect(struct tu_bytes *out, uint8_t level, bool creds)
{
	struct tu_bytes b = { 0 };
	lstr(&b, "MQTT");
	tu_u8(&b, level);
	tu_u8(&b, (uint8_t)(0x02 | 0x04 | (creds ? 0xc0 : 0))); /* clean, will */
	tu_be16(&b, 30);
	if (level == 5)
		tu_bytes_put(&b, "\x05\x11\x00\x00\x00\x3c", 6); /* session expiry 60 */
	lstr(&b, "client-1");
	if (level == 5)
		tu_u8(&b, 0); /* will properties */
	lstr(&b, "will/t");
	lstr(&b, "bye");
	if (creds) {
		lstr(&b, "bob");
		lstr(&b, "hunter2");
	}
	pkt(out, 0x10, &b);
	free(b.p);
}

static void publish(struct tu_bytes *out, uint8_t level, uint8_t qos, uint16_t id,
		    const char *topic, const char *payload)
{
	struct tu_bytes b = { 0 };
	lstr(&b, topic);
	if (qos)
		tu_be16(&b, id);
	if (level == 5) /* a user property */
		tu_bytes_put(&b, "\x07\x26\x00\x01k\x00\x01v", 8);
	tu_bytes_str(&b, payload);
	pkt(out, (uint8_t)(0x30 | qos << 1), &b);
	free(b.p);
}

/* PUBACK/PUBREC/PUBREL/PUBCOMP: v5 with a reason code when code >= 0. */
static void ack(struct tu_bytes *out, uint8_t first, uint16_t id, int code)
{
	struct tu_bytes b = { 0 };
	tu_be16(&b, id);
	if (code >= 0) {
		tu_u8(&b, (uint8_t)code);
		tu_u8(&b, 0);
	}
	pkt(out, first, &b);
	free(b.p);
}

static void subscribe(struct tu_bytes *out, uint8_t level, uint16_t id)
{
	struct tu_bytes b = { 0 };
	tu_be16(&b, id);
	if (level == 5)
		tu_u8(&b, 0);
	lstr(&b, "a/#");
	tu_u8(&b, level == 5 ? 0x06 : 0x01); /* v5: QoS 2, no local */
	lstr(&b, "b/+");
	tu_u8(&b, 0);
	pkt(out, 0x82, &b);
	free(b.p);
}

static void raw(struct tu_bytes *out, const char *p, size_t n)
{
	tu_bytes_put(out, p, n);
}

struct session {
	struct tu_bytes c2s, s2c;
};

static void session_free(struct session *s)
{
	free(s->c2s.p);
	free(s->s2c.p);
}

static void build_session(struct session *s, uint8_t level)
{
	bool v5 = level == 5;
	memset(s, 0, sizeof(*s));
	connect(&s->c2s, level, true);
	subscribe(&s->c2s, level, 1);
	publish(&s->c2s, level, 0, 0, "a/zero", "q0");
	publish(&s->c2s, level, 1, 2, "a/one", "q1");
	publish(&s->c2s, level, 2, 3, "a/two", "q2");
	ack(&s->c2s, 0x62, 3, -1); /* PUBREL */
	if (v5) /* UNSUBSCRIBE */
		raw(&s->c2s,
		    "\xa2\x08\x00\x04\x00\x00\x03"
		    "a/#",
		    10);
	else
		raw(&s->c2s,
		    "\xa2\x07\x00\x04\x00\x03"
		    "a/#",
		    9);
	raw(&s->c2s, "\xc0\x00", 2); /* PINGREQ */
	ack(&s->c2s, 0x40, 9, -1); /* PUBACK of the broker's delivery 9 */
	raw(&s->c2s, v5 ? "\xe0\x01\x04" : "\xe0\x00", v5 ? 3 : 2); /* DISCONNECT */

	raw(&s->s2c, v5 ? "\x20\x03\x00\x00\x00" : "\x20\x02\x00\x00", v5 ? 5 : 4);
	raw(&s->s2c, v5 ? "\x90\x05\x00\x01\x00\x02\x00" : "\x90\x04\x00\x01\x01\x00",
	    v5 ? 7 : 6); /* SUBACK */
	ack(&s->s2c, 0x40, 2, v5 ? 0x10 : -1); /* PUBACK: no matching subscribers */
	ack(&s->s2c, 0x50, 3, -1); /* PUBREC */
	ack(&s->s2c, 0x70, 3, -1); /* PUBCOMP */
	raw(&s->s2c, v5 ? "\xb0\x04\x00\x04\x00\x11" : "\xb0\x02\x00\x04", v5 ? 6 : 4);
	raw(&s->s2c, "\xd0\x00", 2); /* PINGRESP */
	publish(&s->s2c, level, 1, 9, "a/deliver", "to you");
}

/* ------------------------------------------------------------ harness --- */

static void mq_open(struct tu_h1 *h, const struct sonde_dissect_opts *o, bool mid)
{
	tu_h1_open(h, o, mid, mid);
	h->d->close(h->state, 0);
	h->info.server.port = 1883;
	h->d = &sonde_dissector_mqtt;
	h->state = h->d->open(&h->sess);
}

static void feed(struct tu_h1 *h, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	if (n && !h->sess.switch_to)
		tu_h1_data(h, dir, p, n, TS);
}

static bool has(const struct tu_h1 *h, size_t i, const char *s)
{
	return i < h->col.n && strstr(h->col.r[i].json, s);
}

#define assert_has(h, i, s)                                          \
	do {                                                         \
		if (!has(h, i, s)) {                                 \
			tu_collector_dump(&(h)->col, "records");     \
			fail_msg("record %d lacks %s", (int)(i), s); \
		}                                                    \
	} while (0)

/* Which record has s, or -1. */
static int find(const struct tu_h1 *h, const char *s)
{
	for (size_t i = 0; i < h->col.n; i++)
		if (strstr(h->col.r[i].json, s))
			return (int)i;
	return -1;
}

enum feed_mode { FEED_WHOLE, FEED_SPLIT, FEED_BYTES };

/* Every record passes the redaction stage under one fixed key, as sinks get
 * them: the CONNECT password is a credential the stage masks. */
static void run(struct tu_h1 *h, const struct session *s, bool mid, enum feed_mode mode, size_t k)
{
	mq_open(h, NULL, mid);
	h->col.redact = tu_redactor();
	const struct tu_bytes *dirs[2] = { &s->c2s, &s->s2c };
	for (int d = 0; d < 2; d++) {
		const uint8_t *p = dirs[d]->p;
		size_t n = dirs[d]->len;
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
	sonde_buf_printf(&b, "errors %llu unparsed %llu\n",
			 (unsigned long long)h->stats.parse_errors,
			 (unsigned long long)h->stats.unparsed_bytes);
	char *r = tu_strndup(b.p, b.len);
	sonde_buf_free(&b);
	return r;
}

static void check_splits(const struct session *s, bool mid)
{
	static struct tu_h1 h;
	run(&h, s, mid, FEED_WHOLE, 0);
	char *want = joined(&h);
	tu_h1_free(&h);
	size_t n = s->c2s.len > s->s2c.len ? s->c2s.len : s->s2c.len;
	for (size_t k = 0; k <= n + 1; k++) {
		enum feed_mode m = k == n + 1 ? FEED_BYTES : FEED_SPLIT;
		run(&h, s, mid, m, k);
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
}

/* -------------------------------------------------------------- tests --- */

static void check_session(uint8_t level)
{
	static struct tu_h1 h;
	static struct session s;
	build_session(&s, level);
	run(&h, &s, false, FEED_WHOLE, 0);
	bool v5 = level == 5;
	int i = find(&h, "\"packet\":\"CONNECT\"");
	assert_true(i >= 0);
	assert_has(&h, i, "\"packet\":\"CONNACK\"");
	assert_has(&h, i, v5 ? "\"version\":\"MQTT/5.0\"" : "\"version\":\"MQTT/3.1.1\"");
	assert_has(&h, i, "\"client_id\":\"client-1\"");
	assert_has(&h, i, "\"username\":\"bob\"");
	char want[SONDE_REDACT_MASK_MAX + 32];
	snprintf(want, sizeof(want), "\"password\":\"%s\"", tu_mask("hunter2"));
	assert_has(&h, i, want);
	assert_has(&h, i, "\"will\":{\"topic\":\"will/t\"");
	assert_has(&h, i, v5 ? "\"reason\":\"success\"" : "\"reason\":\"accepted\"");
	if (v5)
		assert_has(&h, i, "\"session_expiry_interval\":60");
	for (size_t k = 0; k < h.col.n; k++)
		assert_null(strstr(h.col.r[k].json, "hunter2"));
	i = find(&h, "\"packet\":\"SUBACK\"");
	assert_has(&h, i, "\"packet\":\"SUBSCRIBE\",\"packet_id\":1");
	assert_has(&h, i, "{\"topic\":\"b/+\",\"qos\":0");
	assert_has(&h, i, v5 ? "\"reason\":\"granted_qos_2\"" : "\"reason\":\"granted_qos_1\"");
	i = find(&h, "\"topic\":\"a/zero\"");
	assert_true(h.col.r[i].req.present && !h.col.r[i].resp.present);
	assert_int_equal(h.col.r[i].flags, 0); /* an event: neither unanswered nor unsolicited */
	i = find(&h, "\"topic\":\"a/one\"");
	assert_has(&h, i, "\"packet\":\"PUBACK\",\"packet_id\":2");
	if (v5) {
		assert_has(&h, i, "\"reason\":\"no_matching_subscribers\"");
		assert_has(&h, i, "\"user_properties\":[[\"k\",\"v\"]]");
	}
	i = find(&h, "\"topic\":\"a/two\"");
	assert_has(&h, i, "\"packet\":\"PUBREC\",\"packet_id\":3");
	i = find(&h, "\"packet\":\"PUBREL\"");
	assert_has(&h, i, "\"packet\":\"PUBCOMP\",\"packet_id\":3");
	i = find(&h, "\"packet\":\"UNSUBSCRIBE\"");
	assert_has(&h, i, "\"packet\":\"UNSUBACK\",\"packet_id\":4");
	assert_has(&h, i, "\"topics\":[\"a/#\"]");
	if (v5)
		assert_has(&h, i, "\"reason\":\"no_subscription_existed\"");
	i = find(&h, "\"packet\":\"PINGREQ\"");
	assert_has(&h, i, "\"packet\":\"PINGRESP\"");
	i = find(&h, "\"topic\":\"a/deliver\"");
	assert_true(!h.col.r[i].req.present && h.col.r[i].resp.present);
	assert_int_equal(h.col.r[i].flags, 0);
	i = find(&h, "\"packet\":\"DISCONNECT\"");
	if (v5)
		assert_has(&h, i, "\"reason\":\"disconnect_with_will_message\"");
	/* 7 pairs, a QoS 0 publish, a delivery, its ack, DISCONNECT */
	assert_int_equal(h.col.n, 11);
	for (size_t k = 0; k < h.col.n; k++)
		assert_int_equal(h.col.r[k].flags, 0);
	assert_int_equal(h.stats.parse_errors, 0);
	tu_h1_free(&h);
	check_splits(&s, false);
	session_free(&s);
}

static void test_session_v311(void **state)
{
	(void)state;
	check_session(4);
}

static void test_session_v5(void **state)
{
	(void)state;
	check_session(5);
}

/* Joined after CONNECT: 3.1.1 until a shape proves 5.0 (the PUBACK with
 * a reason code), then 5.0; answers with nothing to answer are flagged. */
static void test_midstream_v5(void **state)
{
	(void)state;
	static struct tu_h1 h;
	static struct session s;
	build_session(&s, 5);
	struct tu_bytes c = { 0 }, v = { 0 };
	publish(&c, 5, 1, 2, "a/one", "q1");
	ack(&v, 0x40, 2, 0x10);
	publish(&v, 5, 0, 0, "a/x", "later");
	mq_open(&h, NULL, true);
	feed(&h, C2S, c.p, c.len);
	feed(&h, S2C, v.p, v.len);
	tu_h1_close(&h, TS);
	/* the PUBLISH was parsed before the proof: as 3.1.1, its property
	 * block part of the payload; the delivery after it as 5.0 */
	int i = find(&h, "\"topic\":\"a/x\"");
	assert_has(&h, i, "\"version\":\"MQTT/5.0\"");
	assert_has(&h, i, "\"version_guessed\":true");
	assert_has(&h, i, "\"payload\":\"later\"");
	i = find(&h, "\"packet\":\"PUBACK\"");
	assert_has(&h, i, "\"reason\":\"no_matching_subscribers\"");
	tu_h1_free(&h);
	free(c.p);
	free(v.p);
	check_splits(&s, true);
	session_free(&s);
}

/* Payloads are kept to --body-limit and counted to their end. */
static void test_payload_bounded(void **state)
{
	(void)state;
	static struct tu_h1 h;
	struct sonde_dissect_opts o;
	tu_dissect_defaults(&o);
	o.body_limit = 8;
	o.max_head = 64;
	struct tu_bytes c = { 0 };
	char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	publish(&c, 4, 0, 0, "t", big);
	mq_open(&h, &o, false);
	feed(&h, C2S, c.p, c.len);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 1);
	assert_has(&h, 0, "\"payload_size\":4999");
	assert_has(&h, 0, "\"payload\":\"xxxxxxxx\"");
	assert_has(&h, 0, "\"payload_truncated\":true");
	assert_true(h.col.r[0].req.flags & SONDE_MF_TRUNCATED);
	assert_int_equal(h.col.r[0].req.wire_bytes, c.len);
	assert_int_equal(h.stats.bodies_truncated, 1);
	tu_h1_free(&h);
	free(c.p);
}

/* A declared length of 256 MiB with 10 bytes behind it: nothing sized
 * from it, the packet written incomplete at the end; a fifth length byte
 * is not MQTT. */
static void test_malformed_lengths(void **state)
{
	(void)state;
	static struct tu_h1 h;
	mq_open(&h, NULL, false);
	feed(&h, C2S, (const uint8_t *)"\x30\xff\xff\xff\x7f\x00\x01t0123456", 14);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 1);
	assert_true(h.col.r[0].req.flags & SONDE_MF_INCOMPLETE);
	assert_has(&h, 0, "\"remaining_length\":268435455");
	tu_h1_free(&h);

	uint8_t t, f;
	uint32_t rem;
	size_t hl;
	assert_int_equal(mqtt_fixed_header((const uint8_t *)"\x30\xff\xff\xff\xff\x01", 6, &t, &f,
					   &rem, &hl),
			 -1);
	assert_int_equal(mqtt_fixed_header((const uint8_t *)"\x36\x05", 2, &t, &f, &rem, &hl), -1);
	assert_int_equal(mqtt_fixed_header((const uint8_t *)"\xc0\x01", 2, &t, &f, &rem, &hl), -1);
	assert_int_equal(mqtt_fixed_header((const uint8_t *)"\x80\x05", 2, &t, &f, &rem, &hl), -1);
	assert_int_equal(mqtt_fixed_header((const uint8_t *)"\x30\x80", 2, &t, &f, &rem, &hl), 0);

	/* a string length past the packet's end, a property past the block */
	mq_open(&h, NULL, false);
	feed(&h, C2S,
	     (const uint8_t *)"\x82\x06\x00\x01\x00\x09"
			      "ab",
	     8);
	feed(&h, S2C, (const uint8_t *)"\x40\x05\x00\x01\x00\x02\x26", 7);
	tu_h1_close(&h, TS);
	assert_int_equal(h.stats.parse_errors, 2);
	assert_true(find(&h, "\"malformed\"") >= 0);
	tu_h1_free(&h);
}

/* A hole inside a payload: the packet is flagged and framing goes on. */
static void test_gap_in_payload(void **state)
{
	(void)state;
	static struct tu_h1 h;
	struct tu_bytes c = { 0 };
	publish(&c, 4, 0, 0, "t", "0123456789");
	publish(&c, 4, 0, 0, "u", "next");
	mq_open(&h, NULL, false);
	feed(&h, C2S, c.p, 8);
	tu_h1_gap(&h, C2S, 4, TS);
	feed(&h, C2S, c.p + 12, c.len - 12);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 2);
	assert_true(h.col.r[0].req.flags & SONDE_MF_GAP);
	assert_int_equal(h.col.r[0].req.captured_bytes + 4, h.col.r[0].req.wire_bytes);
	assert_has(&h, 1, "\"payload\":\"next\"");
	assert_int_equal(h.col.r[1].req.flags, 0);
	tu_h1_free(&h);
	free(c.p);
}

/* Garbage between packets is skipped and counted; garbage that goes on
 * hands the connection back. */
static void test_garbage(void **state)
{
	(void)state;
	static struct tu_h1 h;
	mq_open(&h, NULL, false);
	feed(&h, C2S, (const uint8_t *)"\x00\x00\xc0\x00", 4);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 1);
	assert_has(&h, 0, "\"packet\":\"PINGREQ\"");
	assert_int_equal(h.stats.unparsed_bytes, 2);
	assert_int_equal(h.stats.parse_errors, 1);
	tu_h1_free(&h);

	mq_open(&h, NULL, false);
	for (int k = 0; k < 10 && !h.sess.switch_to; k++) /* no filter: malformed */
		feed(&h, C2S, (const uint8_t *)"\x82\x05\x00\x01\x00\x09\x00", 7);
	assert_non_null(h.sess.switch_to);
	assert_int_equal(h.stats.parse_errors, 8);
	tu_h1_free(&h);
}

/* The acks of a broker delivery's flow name it; one of an id never
 * delivered says so. */
static void test_delivery_acks(void **state)
{
	(void)state;
	static struct tu_h1 h;
	struct tu_bytes v = { 0 }, c = { 0 };
	publish(&v, 4, 2, 5, "d/two", "x");
	mq_open(&h, NULL, false);
	feed(&h, S2C, v.p, v.len);
	ack(&c, 0x50, 5, -1); /* PUBREC */
	feed(&h, C2S, c.p, c.len);
	c.len = 0;
	ack(&c, 0x62, 5, -1); /* the broker's PUBREL */
	feed(&h, S2C, c.p, c.len);
	c.len = 0;
	ack(&c, 0x70, 5, -1); /* PUBCOMP: the flow ends */
	ack(&c, 0x40, 5, -1); /* a PUBACK of 5 now names nothing */
	feed(&h, C2S, c.p, c.len);
	tu_h1_close(&h, TS);
	assert_int_equal(h.col.n, 5);
	for (int i = 1; i < 4; i++)
		assert_has(&h, i, "\"acknowledges\":{\"topic\":\"d/two\",\"qos\":2}");
	assert_has(&h, 4, "\"packet\":\"PUBACK\"");
	assert_has(&h, 4, "\"acknowledges_unknown\":true");
	tu_h1_free(&h);
	free(v.p);
	free(c.p);
}

static void test_probe(void **state)
{
	(void)state;
	const struct sonde_dissector *d = &sonde_dissector_mqtt;
	struct tu_bytes c = { 0 };
	connect(&c, 4, false);
	assert_int_equal(d->probe(c.p, c.len), SONDE_PROBE_CLIENT);
	assert_int_equal(d->probe(c.p, 5), SONDE_PROBE_MORE);
	free(c.p);
	c = (struct tu_bytes){ 0 };
	raw(&c, "\x10\x10\x00\x06MQIsdp\x03", 11);
	assert_int_equal(d->probe(c.p, c.len), SONDE_PROBE_CLIENT);
	free(c.p);
	assert_int_equal(d->probe((const uint8_t *)"\x20\x02\x00\x00", 4), SONDE_PROBE_SERVER);
	assert_int_equal(d->probe((const uint8_t *)"\xd0\x00", 2), SONDE_PROBE_SERVER);
	assert_int_equal(d->probe((const uint8_t *)"\x30\x08\x00\x03"
						   "a/b",
				  7),
			 SONDE_PROBE_CLIENT);
	/* other protocols' first bytes */
	assert_int_equal(d->probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16), SONDE_PROBE_NO);
	assert_int_equal(d->probe((const uint8_t *)"*1\r\n$4\r\nPING\r\n", 14), SONDE_PROBE_NO);
	assert_int_equal(d->probe((const uint8_t *)"AMQP\x00\x00\x09\x01", 8), SONDE_PROBE_NO);
	assert_int_equal(d->probe((const uint8_t *)"\x01\x00\x00\x00\x00\x00\x04", 7),
			 SONDE_PROBE_NO);
	assert_int_equal(d->probe((const uint8_t *)"\x40\x02\x00\x01", 4), SONDE_PROBE_NO);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_session_v311),
		tu_test(test_session_v5),
		tu_test(test_midstream_v5),
		tu_test(test_payload_bounded),
		tu_test(test_malformed_lengths),
		tu_test(test_gap_in_payload),
		tu_test(test_garbage),
		tu_test(test_delivery_acks),
		tu_test(test_probe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
