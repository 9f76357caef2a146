/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the HTTP/2 dissector (sonde_dissector_http2) on both
 * directions of one connection, split where the input says, with gaps and
 * direction ends injected. Records go to a collector that renders each one
 * as JSON (validated) and as text.
 *
 * Input layout:
 *   u8 options   bit 0: decode bodies      bit 1: C2S starts midstream
 *                bit 2: S2C starts midstream   bit 3: tight limits
 *                bit 4: IPv6 endpoints
 *                bit 5: no preface/SETTINGS given first (see below)
 *   then events, each a control byte `c` and its operands:
 *     dir  = c & 1 (0: client to server, 1: server to client)
 *     kind = (c >> 1) & 3
 *       0, 1  data: length u8 (u16 LE if c & 0x08), then that many bytes
 *       2     gap:  length u16 LE (<< 16 more if c & 0x08; 0 means 1)
 *       3     end of the direction (FIN)
 *     c >> 4 advances the clock by that many milliseconds.
 *   The connection is closed at the end of the input.
 *
 * Unless option bit 5 is set, the client direction is given the connection
 * preface and the server direction an empty SETTINGS frame first, so inputs
 * reach frame and HPACK parsing rather than dying at the preface check.
 *
 * fuzz/corpus/fuzz_http2/ holds seeds in this layout (written by the snippet
 * in fuzz/make_seeds_http2.py).
 *
 * Oracles besides the sanitizers: data() consumes everything unless it set
 * switch_to; every record has a message of the right kind; captured bytes
 * never exceed wire bytes; the wire bytes of the messages of a direction
 * never add up to more than that direction carried; the pending-request
 * budget returns to 0 when the connection is closed; JSON output is valid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "fuzz_session.h"
#include "proto/dissector.h"
#include "sink/sink.h"

extern const struct sonde_dissector sonde_dissector_http2;

struct collector {
	struct sonde_buf json, text;
	uint64_t records;
	uint64_t wire[2]; /* wire bytes of the messages emitted, per direction */
};

static void collect(void *ctx, const struct sonde_record *r)
{
	struct collector *c = ctx;
	FUZZ_CHECK(r->req || r->resp, "record with neither request nor response");
	FUZZ_CHECK(r->conn != NULL, "record without connection info");
	if (r->req) {
		FUZZ_CHECK(r->req->kind == SONDE_MSG_REQUEST, "request of kind %u", r->req->kind);
		FUZZ_CHECK(r->req->captured_bytes <= r->req->wire_bytes,
			   "request captured %llu > wire %llu",
			   (unsigned long long)r->req->captured_bytes,
			   (unsigned long long)r->req->wire_bytes);
		c->wire[SONDE_DIR_C2S] += r->req->wire_bytes;
	}
	if (r->resp) {
		FUZZ_CHECK(r->resp->kind == SONDE_MSG_RESPONSE, "response of kind %u",
			   r->resp->kind);
		FUZZ_CHECK(r->resp->captured_bytes <= r->resp->wire_bytes,
			   "response captured %llu > wire %llu",
			   (unsigned long long)r->resp->captured_bytes,
			   (unsigned long long)r->resp->wire_bytes);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const struct sonde_dissector *d = &sonde_dissector_http2;
	uint8_t o = data[0];
	const uint8_t *p = data + 1, *end = data + size;

	struct collector col;
	memset(&col, 0, sizeof(col));
	struct sonde_record_out out = { collect, &col };
	struct fuzz_session fs;
	fuzz_session_init(&fs, o, &out);
	void *st = d->open(&fs.sess);

	uint64_t ts = 1700000000ull * 1000000000ull;
	uint64_t carried[2] = { 0, 0 };
	int probed[2] = { 0, 0 };
	if (!(o & 32)) {
		static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
		static const uint8_t settings[9] = { 0, 0, 0, 4, 0, 0, 0, 0, 0 };
		d->data(st, SONDE_DIR_C2S, preface, 24, ts);
		d->data(st, SONDE_DIR_S2C, settings, 9, ts);
		carried[SONDE_DIR_C2S] += 24;
		carried[SONDE_DIR_S2C] += 9;
		probed[0] = probed[1] = 1;
	}
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
			if (!probed[dir]) {
				probed[dir] = 1;
				enum sonde_probe v = d->probe(p, n);
				FUZZ_CHECK(v >= SONDE_PROBE_NO && v <= SONDE_PROBE_SERVER, "probe %d",
					   (int)v);
			}
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
	FUZZ_CHECK(fs.pending.used == 0, "fs.pending budget holds %zu bytes after close", fs.pending.used);
	FUZZ_CHECK(col.records == fs.stats.records, "collected %llu records, fs.stats say %llu",
		   (unsigned long long)col.records, (unsigned long long)fs.stats.records);
	for (int k = 0; k < 2; k++)
		FUZZ_CHECK(col.wire[k] <= carried[k],
			   "messages of direction %d claim %llu wire bytes, it carried %llu", k,
			   (unsigned long long)col.wire[k], (unsigned long long)carried[k]);
	sonde_buf_free(&col.json);
	sonde_buf_free(&col.text);
	return 0;
}
