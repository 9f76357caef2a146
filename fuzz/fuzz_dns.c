/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the DNS dissector (sonde_dissector_dns) over TCP (data(),
 * both directions, split where the input says, with gaps and ends) or over
 * UDP (datagram(), one message per event), and the message parser and
 * plausibility check on their own. Records go to a collector that renders
 * each as JSON (validated) and as text.
 *
 * Input layout (as fuzz_http1.c's):
 *   u8 options   bit 0: UDP (events are datagrams)   bit 1: C2S midstream
 *                bit 2: S2C midstream   bit 3: tight limits   bit 4: IPv6
 *   then events, each a control byte `c` and its operands:
 *     dir  = c & 1 (0: client to server, 1: server to client)
 *     kind = (c >> 1) & 3
 *       0, 1  data: length u8 (u16 LE if c & 0x08), then that many bytes
 *       2     gap:  length u16 LE (<< 16 more if c & 0x08; 0 means 1)
 *       3     end of the direction (FIN)
 *     c >> 4 advances the clock by that many milliseconds.
 *   Over UDP, gaps and ends are not delivered (datagram flows have none).
 *
 * fuzz/corpus/fuzz_dns/ holds seeds in this layout (fuzz/make_seeds_dns.py).
 *
 * Oracles besides the sanitizers: data() consumes everything; records have
 * messages of the right kind, captured <= wire bytes, and the wire bytes of a
 * direction's messages never exceed what it carried; the parser keeps its
 * bounds (questions, records, text inside its buffer, data text bounded);
 * the pending budget is empty after close; JSON is valid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "fuzz_session.h"
#include "proto/dissector.h"
#include "proto/dns/dns_msg.h"
#include "sink/sink.h"

extern const struct sonde_dissector sonde_dissector_dns;

struct collector {
	struct sonde_buf json, text;
	uint64_t records;
	uint64_t wire;
};

static void collect(void *ctx, const struct sonde_record *r)
{
	struct collector *c = ctx;
	FUZZ_CHECK(r->req || r->resp, "record with neither request nor response");
	const struct sonde_msg *ms[2] = { r->req, r->resp };
	for (int k = 0; k < 2; k++) {
		if (!ms[k])
			continue;
		FUZZ_CHECK(ms[k]->kind == (k ? SONDE_MSG_RESPONSE : SONDE_MSG_REQUEST), "kind %u",
			   ms[k]->kind);
		FUZZ_CHECK(ms[k]->captured_bytes <= ms[k]->wire_bytes, "captured > wire");
		c->wire += ms[k]->wire_bytes;
	}
	sonde_buf_reset(&c->json);
	sonde_record_json(r, &c->json);
	fuzz_check_jsonl(c->json.p, c->json.len);
	sonde_buf_reset(&c->text);
	static const struct sonde_text_opts all = { .utc = true, .colour = true, .details = true };
	sonde_record_text(r, &all, &c->text);
	FUZZ_CHECK(c->text.len && c->text.p[c->text.len - 1] == '\n', "text line without newline");
	c->records++;
}

static void check_str(const struct sonde_dns_msg *m, struct sonde_dns_str s, const char *what)
{
	FUZZ_CHECK((uint64_t)s.off + s.len <= m->text.len, "%s text %u+%u outside %zu", what, s.off,
		   s.len, m->text.len);
}

/* The parser and the check on one event's bytes, raw and behind a prefix. */
static void parse_direct(const uint8_t *p, size_t n)
{
	for (size_t skip = 0; skip <= 2 && skip <= n; skip += 2) {
		(void)sonde_dns_check(p + skip, n - skip, n - skip);
		(void)sonde_dns_check(p + skip, (n - skip) / 2, n - skip);
		struct sonde_dns_msg *m = sonde_dns_msg_new();
		int r = sonde_dns_parse(m, p + skip, n - skip);
		FUZZ_CHECK(r >= -1 && r <= 1, "parse returned %d", r);
		FUZZ_CHECK(m->nq <= SONDE_DNS_MAX_QUESTIONS && m->nrr <= SONDE_DNS_MAX_RRS,
			   "kept %u questions, %u records", m->nq, m->nrr);
		FUZZ_CHECK(m->text.len <= SONDE_DNS_MAX_TEXT, "text %zu", m->text.len);
		for (uint16_t i = 0; i < m->nq; i++)
			check_str(m, m->q[i].name, "question");
		for (uint16_t i = 0; i < m->nrr; i++) {
			check_str(m, m->rr[i].name, "name");
			check_str(m, m->rr[i].data, "data");
			FUZZ_CHECK(m->rr[i].data.len <= SONDE_DNS_MAX_DATA, "data %u", m->rr[i].data.len);
		}
		for (uint8_t i = 0; i < m->edns.nopts; i++)
			check_str(m, m->edns.opts[i].data, "option");
		sonde_msg_free(&m->base);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const struct sonde_dissector *d = &sonde_dissector_dns;
	uint8_t o = data[0];
	bool udp = o & 1;
	const uint8_t *p = data + 1, *end = data + size;

	struct collector col;
	memset(&col, 0, sizeof(col));
	struct sonde_record_out out = { collect, &col };
	struct fuzz_session fs;
	fuzz_session_init(&fs, (uint8_t)(o & ~1), &out);
	fs.info.server.port = 53;
	if (udp)
		fs.info.l4 = SONDE_L4_UDP;
	void *st = d->open(&fs.sess);

	uint64_t ts = 1700000000ull * 1000000000ull;
	uint64_t carried = 0;
	while (p < end) {
		uint8_t c = *p++;
		enum sonde_dir dir = c & 1 ? SONDE_DIR_S2C : SONDE_DIR_C2S;
		ts += (uint64_t)(c >> 4) * 1000000ull;
		int kind = (c >> 1) & 3;
		if (kind <= 1) {
			size_t n;
			if (c & 8) {
				if (end - p < 2)
					break;
				n = (size_t)p[0] | (size_t)p[1] << 8;
				p += 2;
			} else {
				if (p >= end)
					break;
				n = *p++;
			}
			if (n > (size_t)(end - p))
				n = (size_t)(end - p);
			enum sonde_probe v = d->probe(p, n);
			FUZZ_CHECK(v >= SONDE_PROBE_NO && v <= SONDE_PROBE_SERVER, "probe %d", (int)v);
			parse_direct(p, n);
			carried += n;
			if (udp) {
				d->datagram(st, dir, p, n, ts);
			} else if (n) {
				size_t used = d->data(st, dir, p, n, ts);
				FUZZ_CHECK(used == n, "data() used %zu of %zu", used, n);
			}
			p += n;
		} else if (kind == 2) {
			if (end - p < 2)
				break;
			uint64_t n = (uint64_t)p[0] | (uint64_t)p[1] << 8;
			p += 2;
			if (c & 8)
				n <<= 16;
			if (!udp) {
				carried += n ? n : 1;
				d->gap(st, dir, n ? n : 1, ts);
			}
		} else if (!udp) {
			d->end(st, dir, ts);
		}
	}
	d->close(st, ts);
	FUZZ_CHECK(fs.sess.pairing.waiting == 0 && !fs.sess.pairing.head, "requests left after close");
	FUZZ_CHECK(fs.pending.used == 0, "pending budget holds %zu bytes after close", fs.pending.used);
	FUZZ_CHECK(col.records == fs.stats.records, "collected %llu records, stats say %llu",
		   (unsigned long long)col.records, (unsigned long long)fs.stats.records);
	FUZZ_CHECK(col.wire <= carried, "messages claim %llu wire bytes, %llu carried",
		   (unsigned long long)col.wire, (unsigned long long)carried);
	sonde_buf_free(&col.json);
	sonde_buf_free(&col.text);
	return 0;
}
