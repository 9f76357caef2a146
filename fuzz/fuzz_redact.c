/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the redaction scanners (src/redact/): the URL, header, form,
 * JSON, card and pattern scanners with the mask applied, and the
 * recording's same-length stream masker fed the input whole and in chunks.
 * Option byte: bits 0-2 the scanner (7: the stream masker, HTTP/2's
 * header blocks too when the input starts with the preface), bits 3-7 the
 * chunk size of the stream masker (1 to 32 bytes).
 * Oracles besides the sanitizers: spans are sorted, disjoint and inside the
 * input; applying them keeps every byte outside them; the stream masker
 * keeps every length, changes bytes only into '*' (outside HTTP/2), and masks in chunks at
 * least what it masks whole (inputs shorter than its carried context;
 * blanks aside: a cookie value's trailing blank, cut off, is not secret;
 * patterns aside: a match is not known before its end).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "redact/redact.h"
#include "redact/redact_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sonde_redactor *rules(void)
{
	static struct sonde_redactor r;
	static int ready;
	if (!ready) {
		sonde_redactor_init(&r);
		sonde_redactor_set_key(&r, "fuzz", 4);
		sonde_redactor_add_pattern(&r, "sk_[a-z]+_([0-9A-Za-z]{4,})", NULL, 0);
		ready = 1;
	}
	return &r;
}

FUZZ_ORACLE static void check_spans(const struct sonde_redact_spans *sp, size_t n)
{
	for (uint32_t i = 0; i < sp->n; i++) {
		FUZZ_CHECK(sp->s[i].off <= n && sp->s[i].len <= n - sp->s[i].off,
			   "span %u [%u,+%u) outside %zu", i, sp->s[i].off, sp->s[i].len, n);
		FUZZ_CHECK(sp->s[i].len > 0, "empty span %u", i);
		if (i)
			FUZZ_CHECK(sp->s[i - 1].off + sp->s[i - 1].len < sp->s[i].off,
				   "spans %u and %u overlap or touch", i - 1, i);
	}
}

FUZZ_ORACLE static void scan(const struct sonde_redactor *r, int which, const uint8_t *p, size_t n)
{
	struct sonde_redact_spans sp = { .n = 0 };
	switch (which) {
	case 0: sonde_redact_scan_url(r, p, n, &sp); break;
	case 1: sonde_redact_scan_header(r, SONDE_REDACT_HDR_AUTH, p, n, &sp); break;
	case 2:
		sonde_redact_scan_header(r, SONDE_REDACT_HDR_COOKIE, p, n, &sp);
		sonde_redact_scan_header(r, SONDE_REDACT_HDR_SET_COOKIE, p, n, &sp);
		break;
	case 3: sonde_redact_scan_form(r, p, n, &sp); break;
	case 4: sonde_redact_scan_json(r, p, n, &sp); break;
	case 5: sonde_redact_scan_cards(p, n, &sp); break;
	default: sonde_redact_scan_body(r, p, n, &sp); break;
	}
	check_spans(&sp, n);
	struct sonde_buf out = { 0 };
	sonde_redact_apply(r, p, n, &sp, &out);
	/* what lies between the spans is kept, in order */
	size_t at = 0, o = 0;
	for (uint32_t i = 0; i < sp.n && !sp.overflow; i++) {
		size_t keep = sp.s[i].off - at;
		FUZZ_CHECK(o + keep <= out.len && (!keep || !memcmp(out.p + o, p + at, keep)),
			   "bytes before span %u changed", i);
		o += keep;
		FUZZ_CHECK(o + 5 <= out.len && (!memcmp(out.p + o, "****[", 5) ||
						 !memcmp(out.p + o, "\"****[", 6)),
			   "no mask at span %u", i);
		const uint8_t *close = memchr(out.p + o, ']', out.len - o);
		FUZZ_CHECK(close, "mask %u not closed", i);
		o = (size_t)(close - out.p) + 1 + sp.s[i].quote;
		at = sp.s[i].off + sp.s[i].len;
	}
	if (!sp.overflow)
		FUZZ_CHECK(out.len - o == n - at && (at == n || !memcmp(out.p + o, p + at, n - at)),
			   "tail changed");
	sonde_buf_free(&out);
}

/* The input through the stream masker in chunks of `step` bytes. */
FUZZ_ORACLE static uint8_t *stream(const struct sonde_redactor *r, const uint8_t *p, size_t n, size_t step)
{
	struct sonde_redact_stream *s = sonde_redact_stream_new(r);
	struct sonde_stats st = { 0 };
	struct sonde_chunk c = { .seq_kind = SONDE_SEQ_STREAM64, .conn_id = 1 };
	c.flow.src.family = c.flow.dst.family = 2;
	c.flow.src.port = 1234;
	c.flow.dst.port = 80;
	uint8_t *out = malloc(n ? n : 1);
	for (size_t at = 0; at < n; at += step) {
		size_t k = n - at < step ? n - at : step;
		c.seq = at;
		c.caplen = c.wirelen = (uint32_t)k;
		c.data = p + at;
		const struct sonde_chunk *m = sonde_redact_stream_chunk(s, &c, &st);
		FUZZ_CHECK(m->caplen == k, "chunk length changed");
		memcpy(out + at, m->data, k);
	}
	sonde_redact_stream_free(s);
	/* HTTP/2 (a preface, or what may be a server's SETTINGS first) is
	 * masked with Huffman codes too */
	bool h2 = (n >= 3 && !memcmp(p, "PRI", 3)) || (n >= 4 && p[3] == 4);
	for (size_t i = 0; i < n && !h2; i++)
		FUZZ_CHECK(out[i] == p[i] || out[i] == '*', "byte %zu became %02x", i, out[i]);
	return out;
}

/* What the masker masks whole, it masks in chunks too. */
FUZZ_ORACLE static void check_cut_masks_more(const uint8_t *data, const uint8_t *whole,
					     const uint8_t *cut, size_t size, size_t step)
{
	for (size_t i = 0; i < size; i++)
		FUZZ_CHECK(whole[i] == data[i] || cut[i] != data[i] || data[i] == ' ' ||
				   data[i] == '\t',
			   "byte %zu masked whole but not in chunks of %zu", i, step);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	uint8_t opt = data[0];
	data++, size--;
	struct sonde_redactor *r = rules();
	int which = opt & 7;
	if (which != 7) {
		scan(r, which, data, size);
		return 0;
	}
	/* a pattern match may leak its leading bytes when cut (it is not
	 * known before its end): compare what the other rules mask, card
	 * numbers included (cut anywhere, masked from their first digit) */
	size_t npat = r->npattern;
	r->npattern = 0;
	size_t step = (size_t)(opt >> 3) + 1;
	uint8_t *whole = stream(r, data, size, size ? size : 1);
	uint8_t *cut = stream(r, data, size, step);
	if (size < 512)
		check_cut_masks_more(data, whole, cut, size, step);
	free(whole);
	free(cut);
	r->npattern = npat;
	return 0;
}
