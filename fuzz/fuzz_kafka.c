/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the Kafka dissector (sonde_dissector_kafka) on both
 * directions of one connection, split where the input says, with gaps and
 * direction ends injected; and the schema body walker alone on every data
 * event, as the body of one API and version the first bytes pick. Records go
 * to a collector that renders each one as JSON (validated) and as text.
 *
 * Input layout (the one of fuzz_redis.c):
 *   u8 options   bit 1: C2S starts midstream   bit 2: S2C starts midstream
 *                bit 3: tight limits   bit 4: IPv6 endpoints
 *   then events, each a control byte `c` and its operands:
 *     dir  = c & 1 (0: client to server, 1: server to client)
 *     kind = (c >> 1) & 3
 *       0, 1  data: length u8 (u16 LE if c & 0x08), then that many bytes
 *       2     gap:  length u16 LE (<< 16 more if c & 0x08; 0 means 1)
 *       3     end of the direction (FIN)
 *     c >> 4 advances the clock by that many milliseconds.
 *   The connection is closed at the end of the input.
 *
 * fuzz/corpus/fuzz_kafka/ holds seeds in this layout (fuzz/make_seeds_kafka.py).
 *
 * Oracles besides the sanitizers: data() consumes everything unless it set
 * switch_to; every record has a message of the right kind and no record is
 * both; captured bytes never exceed wire bytes, and the messages of a
 * direction never claim more wire bytes than it carried; the pending budget
 * is 0 after close; JSON output is valid; the walker's summary stays within
 * its bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "fuzz_session.h"
#include "proto/dissector.h"
#include "proto/kafka/kafka_body.h"
#include "proto/kafka/kafka_schema.h"
#include "sink/sink.h"

extern const struct sonde_dissector sonde_dissector_kafka;

struct collector {
	struct sonde_buf json, text;
	uint64_t records;
	uint64_t wire[2];
};

static void collect(void *ctx, const struct sonde_record *r)
{
	struct collector *c = ctx;
	FUZZ_CHECK(r->req || r->resp, "record with neither request nor response");
	if (r->req) {
		FUZZ_CHECK(r->req->kind == SONDE_MSG_REQUEST, "request of kind %u", r->req->kind);
		FUZZ_CHECK(r->req->captured_bytes <= r->req->wire_bytes, "request captured > wire");
		c->wire[SONDE_DIR_C2S] += r->req->wire_bytes;
	}
	if (r->resp) {
		FUZZ_CHECK(r->resp->kind == SONDE_MSG_RESPONSE, "response of kind %u", r->resp->kind);
		FUZZ_CHECK(r->resp->captured_bytes <= r->resp->wire_bytes, "response captured > wire");
		c->wire[SONDE_DIR_S2C] += r->resp->wire_bytes;
	}
	FUZZ_CHECK(!(r->flags & SONDE_RF_UNANSWERED) || !r->resp, "unanswered with a response");
	FUZZ_CHECK(!(r->flags & SONDE_RF_UNSOLICITED) || !r->req, "unsolicited with a request");
	sonde_buf_reset(&c->json);
	sonde_record_json(r, &c->json);
	fuzz_check_jsonl(c->json.p, c->json.len);
	sonde_buf_reset(&c->text);
	static const struct sonde_text_opts all = { .utc = true, .colour = true, .details = true };
	sonde_record_text(r, &all, &c->text);
	FUZZ_CHECK(c->text.len && c->text.p[c->text.len - 1] == '\n', "text line without newline");
	c->records++;
}

/* The body walker alone: the bytes as every API and version's request and
 * response body (a bounded sample of them), with the record counter. */
static void walk_direct(const uint8_t *p, size_t n)
{
	if (n < 2)
		return;
	const struct sonde_kafka_api *a = &sonde_kafka_apis[p[0] % sonde_kafka_napis];
	struct sonde_kafka_topic_ids *ids = sonde_kafka_topic_ids_new(2); /* tight: eviction */
	for (int kind = SONDE_MSG_REQUEST; kind <= SONDE_MSG_RESPONSE; kind++) {
		struct sonde_kafka_msg *m = sonde_kafka_msg_new((uint8_t)kind);
		m->api = a;
		m->api_key = a->key;
		m->api_version = (int16_t)(a->min + p[1] % (a->max - a->min + 1));
		uint8_t flex = kind == SONDE_MSG_REQUEST ? a->req_flex : a->resp_flex;
		m->flexible = flex != KAFKA_V_NONE && m->api_version >= flex;
		sonde_kafka_walk(m, p + 2, n - 2, true, ids);
		FUZZ_CHECK(m->ntopics <= KAFKA_TOPICS_MAX && m->nerr <= KAFKA_ERRORS_MAX &&
				   m->nscalars <= KAFKA_SCALARS_MAX,
			   "summary over its bounds");
		FUZZ_CHECK(m->text.len <= KAFKA_TEXT_MAX, "text over its bound");
		FUZZ_CHECK(m->record_bytes <= n, "record bytes %llu of %zu",
			   (unsigned long long)m->record_bytes, n);
		sonde_msg_free(&m->base);
	}
	FUZZ_CHECK(ids->n <= ids->cap, "topic ids over their bound");
	free(ids);
	uint64_t recs = 0, batches = 0;
	sonde_kafka_count_records(p, n, &recs, &batches);
	FUZZ_CHECK(batches <= n / 17 + 1, "%llu batches in %zu bytes", (unsigned long long)batches, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const struct sonde_dissector *d = &sonde_dissector_kafka;
	uint8_t o = data[0] & ~1u; /* no body decoding here */
	const uint8_t *p = data + 1, *end = data + size;

	struct collector col;
	memset(&col, 0, sizeof(col));
	struct sonde_record_out out = { collect, &col };
	struct fuzz_session fs;
	fuzz_session_init(&fs, o, &out);
	fs.info.server.port = 9092;
	void *st = d->open(&fs.sess);

	uint64_t ts = 1700000000ull * 1000000000ull;
	uint64_t carried[2] = { 0, 0 };
	while (p < end && !fs.sess.switch_to) {
		uint8_t c = *p++;
		enum sonde_dir dir = c & 1 ? SONDE_DIR_S2C : SONDE_DIR_C2S;
		ts += (uint64_t)(c >> 4) * 1000000ull;
		switch ((c >> 1) & 3) {
		case 0:
		case 1: {
			size_t n;
			if (c & 8) {
				if (end - p < 2)
					goto done;
				n = (size_t)p[0] | (size_t)p[1] << 8;
				p += 2;
			} else {
				if (p >= end)
					goto done;
				n = *p++;
			}
			if (n > (size_t)(end - p))
				n = (size_t)(end - p);
			if (!n)
				break;
			enum sonde_probe v = d->probe(p, n);
			FUZZ_CHECK(v >= SONDE_PROBE_NO && v <= SONDE_PROBE_SERVER, "probe %d", (int)v);
			walk_direct(p, n);
			carried[dir] += n;
			size_t used = d->data(st, dir, p, n, ts);
			FUZZ_CHECK(used <= n, "data() used %zu of %zu", used, n);
			FUZZ_CHECK(used == n || fs.sess.switch_to,
				   "data() used %zu of %zu without switch_to", used, n);
			p += n;
			break;
		}
		case 2: {
			if (end - p < 2)
				goto done;
			uint64_t n = (uint64_t)p[0] | (uint64_t)p[1] << 8;
			p += 2;
			if (c & 8)
				n <<= 16;
			if (!n)
				n = 1;
			carried[dir] += n;
			d->gap(st, dir, n, ts);
			break;
		}
		case 3:
			d->end(st, dir, ts);
			break;
		}
	}
done:
	d->close(st, ts);
	FUZZ_CHECK(fs.sess.pairing.waiting == 0 && !fs.sess.pairing.head, "requests left after close");
	FUZZ_CHECK(fs.pending.used == 0, "pending budget holds %zu bytes after close", fs.pending.used);
	FUZZ_CHECK(col.records == fs.stats.records, "collected %llu records, stats say %llu",
		   (unsigned long long)col.records, (unsigned long long)fs.stats.records);
	for (int k = 0; k < 2; k++)
		FUZZ_CHECK(col.wire[k] <= carried[k], "direction %d: %llu wire bytes of %llu carried",
			   k, (unsigned long long)col.wire[k], (unsigned long long)carried[k]);
	sonde_buf_free(&col.json);
	sonde_buf_free(&col.text);
	return 0;
}
