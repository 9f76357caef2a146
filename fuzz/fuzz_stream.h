/* SPDX-License-Identifier: MIT */
/*
 * One stream dissector on both directions of one connection, driven by the
 * fuzzer's input (the layout of fuzz_redis.c), for targets that need no
 * more than the dissector interface (fuzz_mqtt.c, fuzz_amqp.c):
 *
 *   u8 options   bit 1: C2S starts midstream   bit 2: S2C starts midstream
 *                bit 3: tight limits   bit 4: IPv6 endpoints
 *   then events, each a control byte `c` and its operands:
 *     dir  = c & 1 (0: client to server, 1: server to client)
 *     kind = (c >> 1) & 3
 *       0, 1  data: length u8 (u16 LE if c & 0x08), then that many bytes
 *       2     gap:  length u16 LE (<< 16 more if c & 0x08; 0 means 1)
 *       3     end of the direction (FIN)
 *     c >> 4 advances the clock by that many milliseconds.
 *
 * Oracles besides the sanitizers: probe() answers a verdict; data()
 * consumes everything unless it set switch_to; every record has a message
 * of the right kind and the right flags; captured bytes never exceed wire
 * bytes, nor the messages' wire bytes the bytes both directions carried
 * (a request may come from either side: AMQP's server asks too); nothing
 * waits and the pending budget is 0 after close; JSON output is valid, and
 * so is the text line (with colour and every field's details).
 */
#ifndef SONDE_FUZZ_STREAM_H
#define SONDE_FUZZ_STREAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "fuzz_session.h"
#include "proto/dissector.h"
#include "sink/sink.h"

struct fuzz_stream_col {
	struct sonde_buf json, text;
	uint64_t records;
	uint64_t wire;
};

static void fuzz_stream_msg(struct fuzz_stream_col *c, const struct sonde_msg *m, uint8_t kind)
{
	FUZZ_CHECK(m->kind == kind, "message of kind %u where %u belongs", m->kind, kind);
	FUZZ_CHECK(m->captured_bytes <= m->wire_bytes, "captured > wire");
	c->wire += m->wire_bytes;
}

static void fuzz_stream_collect(void *ctx, const struct sonde_record *r)
{
	struct fuzz_stream_col *c = ctx;
	FUZZ_CHECK(r->req || r->resp, "record with neither request nor response");
	if (r->req)
		fuzz_stream_msg(c, r->req, SONDE_MSG_REQUEST);
	if (r->resp)
		fuzz_stream_msg(c, r->resp, SONDE_MSG_RESPONSE);
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

/* Reads a data event's length; false at the input's end. */
static int fuzz_stream_len(uint8_t c, const uint8_t **p, const uint8_t *end, size_t *n)
{
	if (c & 8) {
		if (end - *p < 2)
			return 0;
		*n = (size_t)(*p)[0] | (size_t)(*p)[1] << 8;
		*p += 2;
	} else {
		if (*p >= end)
			return 0;
		*n = *(*p)++;
	}
	if (*n > (size_t)(end - *p))
		*n = (size_t)(end - *p);
	return 1;
}

static void fuzz_stream_run(const struct sonde_dissector *d, uint16_t port, const uint8_t *data,
			    size_t size)
{
	if (size < 1)
		return;
	const uint8_t *p = data + 1, *end = data + size;
	struct fuzz_stream_col col;
	memset(&col, 0, sizeof(col));
	struct sonde_record_out out = { fuzz_stream_collect, &col };
	struct fuzz_session fs;
	fuzz_session_init(&fs, data[0] & ~1u, &out);
	fs.info.server.port = port;
	void *st = d->open(&fs.sess);
	uint64_t ts = 1700000000ull * 1000000000ull;
	uint64_t carried[2] = { 0, 0 };
	while (p < end && !fs.sess.switch_to) {
		uint8_t c = *p++;
		enum sonde_dir dir = c & 1 ? SONDE_DIR_S2C : SONDE_DIR_C2S;
		ts += (uint64_t)(c >> 4) * 1000000ull;
		int kind = (c >> 1) & 3;
		size_t n;
		if (kind < 2) {
			if (!fuzz_stream_len(c, &p, end, &n))
				break;
			if (!n)
				continue;
			enum sonde_probe v = d->probe(p, n);
			FUZZ_CHECK(v >= SONDE_PROBE_NO && v <= SONDE_PROBE_SERVER, "probe %d", (int)v);
			carried[dir] += n;
			size_t used = d->data(st, dir, p, n, ts);
			FUZZ_CHECK(used <= n, "data() used %zu of %zu", used, n);
			FUZZ_CHECK(used == n || fs.sess.switch_to, "data() used %zu of %zu", used, n);
			p += n;
		} else if (kind == 2) {
			if (end - p < 2)
				break;
			uint64_t g = (uint64_t)p[0] | (uint64_t)p[1] << 8;
			p += 2;
			if (c & 8)
				g <<= 16;
			if (!g)
				g = 1;
			carried[dir] += g;
			d->gap(st, dir, g, ts);
		} else {
			d->end(st, dir, ts);
		}
	}
	d->close(st, ts);
	FUZZ_CHECK(fs.sess.pairing.waiting == 0 && !fs.sess.pairing.head, "requests left after close");
	FUZZ_CHECK(fs.pending.used == 0, "pending budget holds %zu bytes", fs.pending.used);
	FUZZ_CHECK(col.records == fs.stats.records, "collected %llu records, stats say %llu",
		   (unsigned long long)col.records, (unsigned long long)fs.stats.records);
	FUZZ_CHECK(col.wire <= carried[0] + carried[1], "%llu wire bytes of %llu carried",
		   (unsigned long long)col.wire, (unsigned long long)(carried[0] + carried[1]));
	sonde_buf_free(&col.json);
	sonde_buf_free(&col.text);
}

#endif
