/* SPDX-License-Identifier: MIT */
/*
 * The Kafka dissector through its dissector interface on a fake session
 * whose pairing writes into a collector (the HTTP/1 harness of testutil.h,
 * reopened with the Kafka dissector). Messages are built here byte by byte
 * from the protocol's definition: classic and flexible (compact, tagged)
 * versions, both header versions, ApiVersions' v0 response header. Every
 * scenario is also fed split in two at every offset of each direction and
 * byte by byte: the records and counters must be identical.
 */
#include "testutil.h"

#include "proto/kafka/kafka_body.h"
#include "proto/kafka/kafka_schema.h"

#define C2S SONDE_DIR_C2S
#define S2C SONDE_DIR_S2C
#define TS 1700000000000000000ull

extern const struct sonde_dissector sonde_dissector_kafka;

/* ============================================================ building === */

static void uvarint(struct tu_bytes *b, uint32_t v)
{
	while (v >= 0x80) {
		tu_u8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	tu_u8(b, (uint8_t)v);
}

static void be64(struct tu_bytes *b, uint64_t v)
{
	tu_be32(b, (uint32_t)(v >> 32));
	tu_be32(b, (uint32_t)v);
}

static void str16(struct tu_bytes *b, const char *s)
{
	tu_be16(b, (uint16_t)strlen(s));
	tu_bytes_str(b, s);
}

static void cstr(struct tu_bytes *b, const char *s) /* compact string */
{
	uvarint(b, (uint32_t)strlen(s) + 1);
	tu_bytes_str(b, s);
}

/* Opens a message (its length patched by end_msg); returns where it starts. */
static size_t req_begin(struct tu_bytes *b, int key, int ver, int32_t corr, bool flexible)
{
	size_t at = b->len;
	tu_be32(b, 0);
	tu_be16(b, (uint16_t)key);
	tu_be16(b, (uint16_t)ver);
	tu_be32(b, (uint32_t)corr);
	str16(b, "unit-client"); /* ClientId: classic even in header v2 */
	if (flexible)
		uvarint(b, 0); /* no header tags */
	return at;
}

static size_t resp_begin(struct tu_bytes *b, int32_t corr, bool header_v1)
{
	size_t at = b->len;
	tu_be32(b, 0);
	tu_be32(b, (uint32_t)corr);
	if (header_v1)
		uvarint(b, 0);
	return at;
}

static void end_msg(struct tu_bytes *b, size_t at)
{
	tu_set_be32(b, at, (uint32_t)(b->len - at - 4));
}

/* A v2 record batch claiming `records` records (the records are not read). */
static void batch(struct tu_bytes *b, uint32_t records)
{
	be64(b, 0); /* base offset */
	tu_be32(b, 49 + 10); /* length of the rest: header + 10 bytes of records */
	tu_be32(b, 0); /* partition leader epoch */
	tu_u8(b, 2); /* magic */
	tu_be32(b, 0); /* crc */
	tu_be16(b, 0); /* attributes */
	tu_be32(b, records - 1); /* last offset delta */
	be64(b, 0);
	be64(b, 0); /* timestamps */
	be64(b, (uint64_t)-1); /* producer id */
	tu_be16(b, 0xffff);
	tu_be32(b, 0xffffffff);
	tu_be32(b, records);
	tu_bytes_zero(b, 10);
}

#define BATCH_LEN (61 + 10)

static const uint8_t TOPIC_ID[16] = { 0xc4, 0xa4, 0xc0, 0xdf, 0x71, 0x5f, 0x41, 0xb7,
				      0x9c, 0xa4, 0x95, 0xc6, 0x27, 0x44, 0xd5, 0x6c };

/* Produce v9 (flexible): topic "orders", partition 0, 3 records, acks -1. */
static void produce_v9(struct tu_bytes *c, struct tu_bytes *s, int32_t corr)
{
	size_t at = req_begin(c, 0, 9, corr, true);
	uvarint(c, 0); /* transactional id: null */
	tu_be16(c, 0xffff); /* acks -1 */
	tu_be32(c, 1500);
	uvarint(c, 2); /* one topic */
	cstr(c, "orders");
	uvarint(c, 2); /* one partition */
	tu_be32(c, 0);
	uvarint(c, BATCH_LEN + 1);
	batch(c, 3);
	uvarint(c, 0); /* partition tags */
	uvarint(c, 0); /* topic tags */
	uvarint(c, 1); /* one top-level tag nobody defined: skipped, counted */
	uvarint(c, 77);
	uvarint(c, 2);
	tu_be16(c, 0xbeef);
	end_msg(c, at);

	at = resp_begin(s, corr, true);
	uvarint(s, 2);
	cstr(s, "orders");
	uvarint(s, 2);
	tu_be32(s, 0); /* index */
	tu_be16(s, 0); /* error */
	be64(s, 42); /* base offset */
	be64(s, (uint64_t)-1); /* log append time */
	be64(s, 0); /* log start offset */
	uvarint(s, 1); /* record errors: none */
	uvarint(s, 0); /* error message: null */
	uvarint(s, 0);
	uvarint(s, 0);
	tu_be32(s, 0); /* throttle */
	uvarint(s, 0);
	end_msg(s, at);
}

/* Metadata v1 (classic): a topic answered UNKNOWN_TOPIC_OR_PARTITION. */
static void metadata_v1(struct tu_bytes *c, struct tu_bytes *s, int32_t corr)
{
	size_t at = req_begin(c, 3, 1, corr, false);
	tu_be32(c, 1);
	str16(c, "missing");
	end_msg(c, at);
	at = resp_begin(s, corr, false);
	tu_be32(s, 1); /* brokers */
	tu_be32(s, 1);
	str16(s, "localhost");
	tu_be32(s, 9092);
	tu_be16(s, 0xffff); /* rack null */
	tu_be32(s, 1); /* controller */
	tu_be32(s, 1); /* topics */
	tu_be16(s, 3);
	str16(s, "missing");
	tu_u8(s, 0); /* internal */
	tu_be32(s, 0); /* partitions */
	end_msg(s, at);
}

/* Metadata v12 naming a topic id, then Fetch v13 asking for it by id. */
static void metadata_then_fetch(struct tu_bytes *c, struct tu_bytes *s)
{
	size_t at = req_begin(c, 3, 12, 1, true);
	uvarint(c, 2);
	tu_bytes_zero(c, 16); /* topic id unknown */
	cstr(c, "orders");
	uvarint(c, 0);
	tu_u8(c, 1); /* allow auto creation */
	tu_u8(c, 0);
	uvarint(c, 0);
	end_msg(c, at);
	at = req_begin(c, 1, 13, 2, true);
	tu_be32(c, 0xffffffff); /* replica id */
	tu_be32(c, 500);
	tu_be32(c, 1);
	tu_be32(c, 1 << 20);
	tu_u8(c, 0);
	tu_be32(c, 0);
	tu_be32(c, 0xffffffff);
	uvarint(c, 2); /* one topic, by id */
	tu_bytes_put(c, TOPIC_ID, 16);
	uvarint(c, 2);
	tu_be32(c, 0);
	tu_be32(c, 0xffffffff);
	be64(c, 0);
	tu_be32(c, 0xffffffff);
	be64(c, (uint64_t)-1);
	tu_be32(c, 1 << 20);
	uvarint(c, 0);
	uvarint(c, 0);
	uvarint(c, 1); /* forgotten topics: none */
	cstr(c, "");
	uvarint(c, 0);
	end_msg(c, at);

	at = resp_begin(s, 1, true);
	tu_be32(s, 0); /* throttle */
	uvarint(s, 1); /* no brokers */
	uvarint(s, 0); /* cluster id null */
	tu_be32(s, 0);
	uvarint(s, 2); /* one topic */
	tu_be16(s, 0);
	cstr(s, "orders");
	tu_bytes_put(s, TOPIC_ID, 16);
	tu_u8(s, 0);
	uvarint(s, 1); /* no partitions */
	tu_be32(s, 0);
	uvarint(s, 0);
	uvarint(s, 0);
	end_msg(s, at);
	at = resp_begin(s, 2, true);
	tu_be32(s, 0);
	tu_be16(s, 0);
	tu_be32(s, 7); /* session id */
	uvarint(s, 2);
	tu_bytes_put(s, TOPIC_ID, 16);
	uvarint(s, 2);
	tu_be32(s, 0);
	tu_be16(s, 1); /* OFFSET_OUT_OF_RANGE */
	be64(s, 10);
	be64(s, 10);
	be64(s, 0);
	uvarint(s, 1); /* aborted: none */
	tu_be32(s, 0xffffffff);
	uvarint(s, BATCH_LEN + 1);
	batch(s, 5);
	uvarint(s, 0);
	uvarint(s, 0);
	uvarint(s, 0);
	end_msg(s, at);
}

/* ============================================================ harness === */

/* shared: the capture's state (as the connection table hands it), or NULL. */
static void kf_open_shared(struct tu_h1 *h, bool mid_c2s, bool mid_s2c, void *shared)
{
	tu_h1_open(h, NULL, mid_c2s, mid_s2c);
	h->d->close(h->state, 0);
	h->info.server.port = 9092;
	h->d = &sonde_dissector_kafka;
	h->sess.shared = shared;
	h->state = h->d->open(&h->sess);
}

static void kf_open(struct tu_h1 *h, bool mid_c2s, bool mid_s2c)
{
	kf_open_shared(h, mid_c2s, mid_s2c, NULL);
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

struct scen {
	struct tu_bytes c2s, s2c;
	bool mid_c2s, mid_s2c;
};

enum feed_mode { FEED_WHOLE, FEED_SPLIT, FEED_BYTES };

static void feed(struct tu_h1 *h, enum sonde_dir dir, const uint8_t *p, size_t n, enum feed_mode m,
		 size_t k)
{
	if (m == FEED_WHOLE) {
		tu_h1_data(h, dir, p, n, TS);
	} else if (m == FEED_SPLIT) {
		size_t at = k < n ? k : n;
		if (at)
			tu_h1_data(h, dir, p, at, TS);
		if (n - at)
			tu_h1_data(h, dir, p + at, n - at, TS);
	} else {
		for (size_t i = 0; i < n; i++)
			tu_h1_data(h, dir, p + i, 1, TS);
	}
}

static void run(struct tu_h1 *h, const struct scen *sc, enum feed_mode m, size_t k)
{
	kf_open(h, sc->mid_c2s, sc->mid_s2c);
	h->col.redact = tu_redactor(); /* credentials are masked by the stage */
	feed(h, C2S, sc->c2s.p, sc->c2s.len, m, k);
	feed(h, S2C, sc->s2c.p, sc->s2c.len, m, k);
	tu_h1_close(h, TS + 2);
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
	char *s = tu_strndup(b.p, b.len);
	sonde_buf_free(&b);
	return s;
}

static void check_splits(const struct scen *sc)
{
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	char *want = joined(&h);
	tu_h1_free(&h);
	size_t n = sc->c2s.len > sc->s2c.len ? sc->c2s.len : sc->s2c.len;
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

static void scen_free(void *p)
{
	struct scen *sc = p;
	tu_bytes_free(&sc->c2s);
	tu_bytes_free(&sc->s2c);
}

static struct scen *scen_new(void)
{
	static struct scen sc;
	memset(&sc, 0, sizeof(sc));
	tu_cleanup_push(scen_free, &sc);
	return &sc;
}

/* ============================================================== tests === */

static void test_produce_flexible(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	produce_v9(&sc->c2s, &sc->s2c, 7);
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 1);
	assert_int_equal(h.col.r[0].flags, 0);
	assert_has(&h, 0,
		   "\"api\":\"Produce\",\"api_key\":0,\"api_version\":9,\"correlation_id\":7,"
		   "\"header_version\":2,\"flexible\":true,\"client_id\":\"unit-client\"");
	assert_has(&h, 0,
		   "\"body\":\"parsed\",\"topics\":[{\"name\":\"orders\",\"partitions\":1,"
		   "\"records\":3,\"batches\":1,\"record_bytes\":71}]");
	assert_has(&h, 0, "\"tagged_fields\":1,\"unknown_tags\":1");
	assert_has(&h, 0, "\"fields\":{\"transactional_id\":null,\"acks\":-1,\"timeout_ms\":1500}");
	/* the response: header v1, its tagged fields, no error */
	assert_has(&h, 0, "\"response\":{");
	assert_has(&h, 0, "\"header_version\":1,\"flexible\":true");
	assert_has(&h, 0, "\"errors\":[],\"fields\":{\"throttle_time_ms\":0}");
	assert_int_equal(h.stats.parse_errors, 0);
	tu_h1_free(&h);
	check_splits(sc);
}

static void test_classic_and_errors(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	metadata_v1(&sc->c2s, &sc->s2c, 1);
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 1);
	assert_has(&h, 0,
		   "\"api\":\"Metadata\",\"api_key\":3,\"api_version\":1,\"correlation_id\":1,"
		   "\"header_version\":1,\"flexible\":false");
	assert_has(&h, 0,
		   "\"topics\":[{\"name\":\"missing\",\"partitions\":0,\"errors\":1}],\"error\":"
		   "\"UNKNOWN_TOPIC_OR_PARTITION\",\"errors\":[{\"code\":3,\"name\":"
		   "\"UNKNOWN_TOPIC_OR_PARTITION\",\"count\":1}]");
	assert_has(&h, 0, "\"header_version\":0,\"flexible\":false,\"size\":");
	assert_has(&h, 0, "\"controller_id\":1");
	tu_h1_free(&h);
	check_splits(sc);
}

/* Topic ids (Fetch v13+) are named by what a Metadata response told. */
static void test_topic_ids_named(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	metadata_then_fetch(&sc->c2s, &sc->s2c);
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 0, "\"topic_id\":\"c4a4c0df-715f-41b7-9ca4-95c62744d56c\"");
	/* the Fetch request was read before the Metadata answer: id only */
	assert_has(&h, 1, "\"api\":\"Fetch\",\"api_key\":1,\"api_version\":13");
	assert_has(&h, 1,
		   "\"topics\":[{\"name\":null,\"topic_id\":\"c4a4c0df-715f-41b7-9ca4-"
		   "95c62744d56c\",\"partitions\":1}]");
	/* its response came after: named */
	assert_has(&h, 1,
		   "\"topics\":[{\"name\":\"orders\",\"topic_id\":\"c4a4c0df-715f-41b7-9ca4-"
		   "95c62744d56c\",\"named_by_metadata\":true,\"partitions\":1,\"errors\":1,"
		   "\"records\":5");
	assert_has(&h, 1, "\"error\":\"OFFSET_OUT_OF_RANGE\"");
	assert_int_equal(h.stats.parse_errors, 0);
	tu_h1_free(&h);
	check_splits(sc);
}

/* Topic ids are the cluster's: Metadata on one connection names the topics
 * a Fetch on another asks for by id, through the capture's shared state. */
static void test_topic_ids_across_connections(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	metadata_then_fetch(&sc->c2s, &sc->s2c);
	size_t meta_req = sc->c2s.p[3] + 4u, meta_resp = sc->s2c.p[3] + 4u; /* lengths < 256 */
	const struct sonde_dissector *d = &sonde_dissector_kafka;
	void *shared = d->shared_new();
	static struct tu_h1 a, b;
	kf_open_shared(&a, false, false, shared);
	tu_h1_data(&a, C2S, sc->c2s.p, meta_req, TS);
	tu_h1_data(&a, S2C, sc->s2c.p, meta_resp, TS);
	kf_open_shared(&b, false, false, shared);
	tu_h1_data(&b, C2S, sc->c2s.p + meta_req, sc->c2s.len - meta_req, TS);
	tu_h1_close(&a, TS);
	tu_h1_close(&b, TS);
	d->shared_free(shared);
	tu_collector_ok(&b.col);
	assert_int_equal(b.col.n, 1);
	assert_has(&b, 0, "\"api\":\"Fetch\"");
	assert_has(&b, 0,
		   "\"topics\":[{\"name\":\"orders\",\"topic_id\":\"c4a4c0df-715f-41b7-"
		   "9ca4-95c62744d56c\",\"named_by_metadata\":true");
	tu_h1_free(&a);
	tu_h1_free(&b);
}

/* Produce with acks=0 gets no response: an event, never unanswered. */
static void test_acks_zero(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	size_t at = req_begin(&sc->c2s, 0, 3, 5, false);
	tu_be16(&sc->c2s, 0xffff); /* transactional id null */
	tu_be16(&sc->c2s, 0); /* acks 0 */
	tu_be32(&sc->c2s, 1000);
	tu_be32(&sc->c2s, 1);
	str16(&sc->c2s, "logs");
	tu_be32(&sc->c2s, 1);
	tu_be32(&sc->c2s, 0);
	tu_be32(&sc->c2s, BATCH_LEN);
	batch(&sc->c2s, 2);
	end_msg(&sc->c2s, at);
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 1);
	assert_int_equal(h.col.r[0].flags, 0);
	assert_has(&h, 0, "\"response_expected\":false");
	assert_has(&h, 0, "\"name\":\"logs\",\"partitions\":1,\"records\":2");
	assert_int_equal(h.stats.records_unanswered, 0);
	tu_h1_free(&h);
	check_splits(sc);
}

/* Requests in flight are bounded; acks=0 Produces (never answered by a
 * broker) make room first, so a request sent before 1100 of them is still
 * read when its answer comes. */
static void test_inflight_bound(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	metadata_v1(&sc->c2s, &sc->s2c, 1);
	for (int i = 0; i < 1100; i++) {
		size_t at = req_begin(&sc->c2s, 0, 3, 2 + i, false);
		tu_be16(&sc->c2s, 0xffff);
		tu_be16(&sc->c2s, 0); /* acks 0 */
		tu_be32(&sc->c2s, 1000);
		tu_be32(&sc->c2s, 0); /* no topics */
		end_msg(&sc->c2s, at);
	}
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 1101);
	size_t meta = h.col.n - 1; /* paired last: its answer follows every request */
	assert_has(&h, meta, "\"api\":\"Metadata\"");
	assert_has(&h, meta, "\"error\":\"UNKNOWN_TOPIC_OR_PARTITION\"");
	assert_int_equal(h.col.r[meta].flags, 0);
	assert_int_equal(h.stats.records_unanswered, 0);
	tu_h1_free(&h);
}

/* ApiVersions: the response header is v0 even in flexible versions; an
 * unsupported version is answered in the v0 body. */
static void test_api_versions(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	size_t at = req_begin(&sc->c2s, 18, 3, 1, true);
	cstr(&sc->c2s, "sonde-unit");
	cstr(&sc->c2s, "1.0");
	uvarint(&sc->c2s, 0);
	end_msg(&sc->c2s, at);
	at = req_begin(&sc->c2s, 18, 3, 2, true);
	cstr(&sc->c2s, "sonde-unit");
	cstr(&sc->c2s, "1.0");
	uvarint(&sc->c2s, 0);
	end_msg(&sc->c2s, at);
	/* 1: UNSUPPORTED_VERSION in the v0 form: error, [key min max] */
	at = resp_begin(&sc->s2c, 1, false);
	tu_be16(&sc->s2c, 35);
	tu_be32(&sc->s2c, 1);
	tu_be16(&sc->s2c, 18);
	tu_be16(&sc->s2c, 0);
	tu_be16(&sc->s2c, 2);
	end_msg(&sc->s2c, at);
	/* 2: v3 body, compact, behind a v0 header (no tag section) */
	at = resp_begin(&sc->s2c, 2, false);
	tu_be16(&sc->s2c, 0);
	uvarint(&sc->s2c, 2);
	tu_be16(&sc->s2c, 0);
	tu_be16(&sc->s2c, 0);
	tu_be16(&sc->s2c, 9);
	uvarint(&sc->s2c, 0);
	tu_be32(&sc->s2c, 0);
	uvarint(&sc->s2c, 0);
	end_msg(&sc->s2c, at);
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 0,
		   "\"fields\":{\"client_software_name\":\"sonde-unit\",\"client_software_"
		   "version\":\"1.0\"}");
	assert_has(&h, 0,
		   "\"header_version\":0,\"flexible\":false,\"size\":16,\"body\":\"parsed\","
		   "\"body_v0\":true");
	assert_has(&h, 0, "\"error\":\"UNSUPPORTED_VERSION\"");
	assert_has(&h, 1, "\"header_version\":0,\"flexible\":true,\"size\":");
	assert_has(&h, 1, "\"body\":\"parsed\",\"topics\":[],\"errors\":[]");
	assert_int_equal(h.stats.parse_errors, 0);
	tu_h1_free(&h);
	check_splits(sc);
}

/* Unknown keys and versions are recorded as such, and still pair. */
static void test_unknown_api(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	size_t at = req_begin(&sc->c2s, 999, 0, 1, false);
	tu_be32(&sc->c2s, 0xdeadbeef);
	end_msg(&sc->c2s, at);
	at = req_begin(&sc->c2s, 0, 99, 2, false);
	tu_be32(&sc->c2s, 0xdeadbeef);
	end_msg(&sc->c2s, at);
	at = resp_begin(&sc->s2c, 2, false);
	tu_be32(&sc->s2c, 1);
	end_msg(&sc->s2c, at);
	at = resp_begin(&sc->s2c, 1, false);
	tu_be32(&sc->s2c, 1);
	end_msg(&sc->s2c, at);
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 2);
	/* answered out of order: paired by correlation id */
	assert_has(&h, 0, "\"request\":{");
	assert_has(&h, 0,
		   "\"api\":\"Produce\",\"api_key\":0,\"api_version\":99,\"correlation_id\":2");
	assert_has(&h, 0, "\"body\":\"unknown_version\"");
	assert_has(&h, 1, "\"api\":null,\"api_key\":999,\"api_version\":0,\"correlation_id\":1");
	assert_has(&h, 1, "\"body\":\"unknown_api\"");
	assert_int_equal(h.col.r[0].flags, 0);
	assert_int_equal(h.col.r[1].flags, 0);
	tu_h1_free(&h);
	check_splits(sc);
}

/* SaslAuthenticate's bytes are a credential: written masked. */
static void test_sasl_masked(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	size_t at = req_begin(&sc->c2s, 17, 1, 1, false);
	str16(&sc->c2s, "PLAIN");
	end_msg(&sc->c2s, at);
	at = req_begin(&sc->c2s, 36, 2, 2, true);
	uvarint(&sc->c2s, 1 + 17);
	tu_bytes_put(&sc->c2s, "\0alice\0s3cr3t-pw", 17);
	uvarint(&sc->c2s, 0);
	end_msg(&sc->c2s, at);
	at = resp_begin(&sc->s2c, 1, false);
	tu_be16(&sc->s2c, 0);
	tu_be32(&sc->s2c, 1);
	str16(&sc->s2c, "PLAIN");
	end_msg(&sc->s2c, at);
	at = resp_begin(&sc->s2c, 2, true);
	tu_be16(&sc->s2c, 0);
	uvarint(&sc->s2c, 0);
	uvarint(&sc->s2c, 1 + 6);
	tu_bytes_put(&sc->s2c, "tok3n!", 6);
	be64(&sc->s2c, 3600000);
	uvarint(&sc->s2c, 0);
	end_msg(&sc->s2c, at);
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 0, "\"mechanism\":\"PLAIN\"");
	assert_has(&h, 1, "\"api\":\"SaslAuthenticate\"");
	assert_has(&h, 1, "\"auth_bytes\":\"****[17:");
	for (size_t i = 0; i < h.col.n; i++) {
		assert_null(strstr(h.col.r[i].json, "s3cr3t"));
		assert_null(strstr(h.col.r[i].json, "tok3n"));
	}
	tu_h1_free(&h);
}

/* After SaslHandshake v0 the login is raw tokens behind a length (kafka-python
 * does this): written masked, never parsed; Kafka resumes after them. */
static void test_sasl_raw_tokens(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	size_t at = req_begin(&sc->c2s, 17, 0, 1, false);
	str16(&sc->c2s, "PLAIN");
	end_msg(&sc->c2s, at);
	tu_be32(&sc->c2s, 17);
	tu_bytes_put(&sc->c2s, "\0alice\0s3cr3t-pw", 17);
	metadata_v1(&sc->c2s, &sc->s2c, 2); /* after the login: Kafka again */
	struct tu_bytes s2c = { 0 };
	at = resp_begin(&s2c, 1, false);
	tu_be16(&s2c, 0);
	tu_be32(&s2c, 1);
	str16(&s2c, "PLAIN");
	end_msg(&s2c, at);
	tu_be32(&s2c, 0); /* the login's answer: an empty token */
	tu_bytes_put(&s2c, sc->s2c.p, sc->s2c.len);
	tu_bytes_free(&sc->s2c);
	sc->s2c = s2c;
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 4);
	/* client bytes are fed first: the client's token is written at once */
	assert_has(&h, 0, "\"request\":{");
	assert_has(&h, 0, "\"body\":\"sasl_token\",\"size\":17,\"sasl_token\":\"****[17:");
	assert_has(&h, 1, "\"api\":\"SaslHandshake\"");
	assert_has(&h, 2, "\"response\":{");
	assert_has(&h, 2, "\"body\":\"sasl_token\",\"size\":0");
	assert_has(&h, 3, "\"api\":\"Metadata\"");
	assert_has(&h, 3, "\"error\":\"UNKNOWN_TOPIC_OR_PARTITION\"");
	for (size_t i = 0; i < h.col.n; i++)
		assert_null(strstr(h.col.r[i].json, "s3cr3t"));
	assert_int_equal(h.stats.parse_errors, 0);
	tu_h1_free(&h);
	check_splits(sc);
}

/* A gap inside a message keeps framing; one across a length prefix makes the
 * direction resynchronise at the next request. Unanswered requests say why. */
static void test_gaps(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	metadata_v1(&sc->c2s, &sc->s2c, 1);
	size_t first = sc->c2s.len;
	metadata_v1(&sc->c2s, &sc->s2c, 2);
	size_t second = sc->c2s.len;
	metadata_v1(&sc->c2s, &sc->s2c, 3);
	static struct tu_h1 h;
	kf_open(&h, false, false);
	tu_h1_data(&h, C2S, sc->c2s.p, 20, TS);
	tu_h1_gap(&h, C2S, 5, TS); /* inside request 1 */
	tu_h1_data(&h, C2S, sc->c2s.p + 25, first - 25, TS);
	tu_h1_gap(&h, C2S, 2, TS); /* request 2's length prefix */
	tu_h1_data(&h, C2S, sc->c2s.p + first + 2, sc->c2s.len - first - 2, TS);
	size_t r1 = sc->s2c.len / 3; /* the three responses are the same size */
	tu_h1_data(&h, S2C, sc->s2c.p, r1, TS);
	tu_h1_close(&h, TS);
	tu_collector_ok(&h.col);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 0, "\"correlation_id\":1");
	assert_true(h.col.r[0].req.flags & SONDE_MF_GAP);
	assert_has(&h, 0, "\"body\":\"cut\"");
	assert_has(&h, 1, "\"correlation_id\":3");
	assert_has(&h, 1, "\"unanswered_reason\":\"connection ended first\"");
	assert_int_equal(h.col.r[1].flags, SONDE_RF_UNANSWERED);
	assert_int_equal(h.stats.unparsed_bytes, second - first - 2);
	tu_h1_free(&h);
}

/* Joined mid-stream: each side finds its first message start, the server's
 * by a correlation id in flight. */
static void test_midstream(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	tu_bytes_str(&sc->c2s, "tail of an older request");
	tu_bytes_put(&sc->s2c, "\0\0\0\x10tail of a response", 21);
	produce_v9(&sc->c2s, &sc->s2c, 41);
	sc->mid_c2s = sc->mid_s2c = true;
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 1);
	assert_int_equal(h.col.r[0].flags, 0);
	assert_has(&h, 0, "\"correlation_id\":41");
	assert_int_equal(h.stats.unparsed_bytes, 24 + 21);
	tu_h1_free(&h);
	check_splits(sc);
}

/* Hostile lengths: counts beyond the bytes, lengths Kafka refuses. */
static void test_hostile(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	size_t at = req_begin(&sc->c2s, 3, 12, 1, true);
	uvarint(&sc->c2s, 0xfffffff0u); /* a topic count no body holds */
	end_msg(&sc->c2s, at);
	tu_be32(&sc->c2s, 0x7fffffff); /* a 2 GiB message: not Kafka */
	tu_bytes_zero(&sc->c2s, 64);
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 1);
	assert_has(&h, 0, "\"body\":\"malformed\"");
	assert_true(h.col.r[0].req.flags & SONDE_MF_PARSE_ERROR);
	assert_true(h.stats.unparsed_bytes >= 64);
	tu_h1_free(&h);
	check_splits(sc);
}

/* A message over the 1 MiB kept is read as far as that goes, flagged, and
 * framing holds for the next one. */
static void test_large_message(void **state)
{
	(void)state;
	struct scen *sc = scen_new();
	size_t at = req_begin(&sc->c2s, 0, 3, 1, false);
	tu_be16(&sc->c2s, 0xffff);
	tu_be16(&sc->c2s, 1);
	tu_be32(&sc->c2s, 1000);
	tu_be32(&sc->c2s, 1);
	str16(&sc->c2s, "big");
	tu_be32(&sc->c2s, 1);
	tu_be32(&sc->c2s, 0);
	tu_be32(&sc->c2s, 3u << 20);
	batch(&sc->c2s, 1000);
	tu_bytes_zero(&sc->c2s, (3u << 20) - BATCH_LEN);
	end_msg(&sc->c2s, at);
	metadata_v1(&sc->c2s, &sc->s2c, 2);
	static struct tu_h1 h;
	run(&h, sc, FEED_WHOLE, 0);
	assert_int_equal(h.col.n, 2);
	assert_has(&h, 1, "\"body\":\"cut\"");
	assert_has(&h, 1, "\"topics\":[{\"name\":\"big\",\"partitions\":1}]");
	assert_true(h.col.r[1].req.flags & SONDE_MF_TRUNCATED);
	assert_true(h.col.r[1].req.wire_bytes > (3u << 20));
	assert_int_equal(h.col.r[1].flags, SONDE_RF_UNANSWERED); /* written at the end */
	assert_has(&h, 0, "\"api\":\"Metadata\"");
	assert_int_equal(h.stats.bodies_truncated, 1);
	tu_h1_free(&h);
}

static void test_probe(void **state)
{
	(void)state;
	const struct sonde_dissector *d = &sonde_dissector_kafka;
	static struct tu_bytes b, s;
	memset(&b, 0, sizeof(b));
	memset(&s, 0, sizeof(s));
	tu_bytes_track(&b);
	tu_bytes_track(&s);
	produce_v9(&b, &s, 3);
	assert_int_equal(d->probe(b.p, b.len), SONDE_PROBE_CLIENT);
	for (size_t k = 0; k < 14; k++)
		assert_int_equal(d->probe(b.p, k), SONDE_PROBE_MORE);
	assert_int_equal(d->probe(s.p, s.len), SONDE_PROBE_NO); /* responses say too little */
	static const char *const others[] = { "GET / HTTP/1.1\r\n\r\n", "*1\r\n$4\r\nPING\r\n",
					      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03xxxx",
					      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" };
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		assert_int_equal(d->probe((const uint8_t *)others[i], strlen(others[i])),
				 SONDE_PROBE_NO);
	/* a known key at a version the schemas do not have */
	uint8_t bad[14];
	memcpy(bad, b.p, 14);
	bad[7] = 99;
	assert_int_equal(d->probe(bad, 14), SONDE_PROBE_NO);
}

/* The generated tables: a few facts from the schemas. */
static void test_schema_tables(void **state)
{
	(void)state;
	const struct sonde_kafka_api *a = sonde_kafka_api_find(0);
	assert_non_null(a);
	assert_string_equal(a->name, "Produce");
	assert_int_equal(a->req_flex, 9);
	a = sonde_kafka_api_find(18);
	assert_int_equal(a->req_flex, 3);
	a = sonde_kafka_api_find(17); /* SaslHandshake: never flexible */
	assert_int_equal(a->req_flex, KAFKA_V_NONE);
	assert_null(sonde_kafka_api_find(999));
	assert_string_equal(sonde_kafka_error_name(-1), "UNKNOWN_SERVER_ERROR");
	assert_string_equal(sonde_kafka_error_name(35), "UNSUPPORTED_VERSION");
	assert_null(sonde_kafka_error_name(30000));
	for (size_t i = 1; i < sonde_kafka_napis; i++)
		assert_true(sonde_kafka_apis[i - 1].key < sonde_kafka_apis[i].key);
	for (size_t i = 0; i < sonde_kafka_nfields; i++)
		assert_true(sonde_kafka_fields[i].child + sonde_kafka_fields[i].nchild <=
			    sonde_kafka_nfields);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_produce_flexible),
		tu_test(test_classic_and_errors),
		tu_test(test_topic_ids_named),
		tu_test(test_topic_ids_across_connections),
		tu_test(test_acks_zero),
		tu_test(test_inflight_bound),
		tu_test(test_api_versions),
		tu_test(test_unknown_api),
		tu_test(test_sasl_masked),
		tu_test(test_sasl_raw_tokens),
		tu_test(test_gaps),
		tu_test(test_midstream),
		tu_test(test_hostile),
		tu_test(test_large_message),
		tu_test(test_probe),
		tu_test(test_schema_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
