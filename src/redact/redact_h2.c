/* SPDX-License-Identifier: MIT */
/* HTTP/2 header blocks masked in place for the recording (redact_h2.h). */
#include "redact/redact_h2.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http/http2_hpack.h"
#include "redact/redact_stream.h"

#define NAME_RAW_MAX 256 /* a longer name decodes to more than any rule's 64 */
#define VALUE_RAW_MAX 8192 /* URL values kept to find their secrets */
#define NAMES_KEPT 128 /* dynamic table names mirrored, newest first */

enum frame_type {
	FT_HEADERS = 1,
	FT_PUSH_PROMISE = 5,
	FT_CONTINUATION = 9,
};

enum hp_state {
	HP_START, /* the first byte of a representation */
	HP_INT, /* continuation bytes of an integer */
	HP_STRLEN, /* the first byte of a string: H bit and length */
	HP_STR, /* a string's bytes */
};

enum int_for {
	INT_INDEXED,
	INT_SIZE,
	INT_NAME_INDEX,
	INT_STRLEN,
};

struct dyn_name {
	char name[SONDE_REDACT_NAME_MAX + 1];
	uint8_t len;
	bool unknown; /* not resolvable (too long, bad code): masked when used */
};

struct sonde_redact_h2 {
	/* frames */
	uint8_t fh[9];
	uint8_t fh_len; /* < 9: a frame header is being read */
	uint32_t left; /* payload bytes left */
	bool block; /* the payload is a header block fragment */
	bool need_padlen;
	uint32_t skip_front; /* priority fields, promised stream id */
	uint32_t pad; /* padding at the payload's end */
	bool lost; /* everything from now on is masked */
	/* HPACK */
	enum hp_state st;
	enum int_for ifor;
	uint32_t ival, ishift;
	bool lit_index; /* literal with incremental indexing */
	bool in_name, huff;
	uint32_t str_left;
	uint8_t name_raw[NAME_RAW_MAX];
	uint32_t name_len;
	bool name_long;
	struct dyn_name cur; /* the field's name, resolved */
	enum sonde_redact_hdr how; /* of the field's value */
	uint8_t *val; /* URL values: the bytes so far */
	uint32_t val_len, val_total;
	size_t star_from; /* URL values: the bit the stars begin at, or SIZE_MAX */
	struct dyn_name dyn[NAMES_KEPT];
	uint32_t dyn_head, dyn_n;
};

struct sonde_redact_h2 *sonde_redact_h2_new(void)
{
	struct sonde_redact_h2 *h = sonde_xcalloc(1, sizeof(*h));
	return h;
}

void sonde_redact_h2_free(struct sonde_redact_h2 *h)
{
	if (h)
		free(h->val);
	free(h);
}

void sonde_redact_h2_lost(struct sonde_redact_h2 *h)
{
	h->lost = true;
}

/* ----------------------------------------------------------- names --- */

static void set_name(struct dyn_name *d, const uint8_t *p, size_t n)
{
	memset(d, 0, sizeof(*d));
	if (n > SONDE_REDACT_NAME_MAX) {
		d->unknown = false; /* too long for any rule: not secret by name */
		d->len = 0;
		return;
	}
	memcpy(d->name, p, n);
	d->len = (uint8_t)n;
}

/* The name of index v: static, or the v-62th newest we mirrored. */
static void name_of_index(struct sonde_redact_h2 *h, uint32_t v, struct dyn_name *out)
{
	const char *s = h2_hpack_static_name(v);
	if (s) {
		set_name(out, (const uint8_t *)s, strlen(s));
		return;
	}
	uint32_t k = v - 62;
	if (v < 62 || k >= h->dyn_n) {
		memset(out, 0, sizeof(*out));
		out->unknown = true;
		return;
	}
	*out = h->dyn[(h->dyn_head + NAMES_KEPT - k) % NAMES_KEPT];
}

static void push_name(struct sonde_redact_h2 *h, const struct dyn_name *d)
{
	h->dyn_head = (h->dyn_head + 1) % NAMES_KEPT;
	h->dyn[h->dyn_head] = *d;
	if (h->dyn_n < NAMES_KEPT)
		h->dyn_n++;
}

static enum sonde_redact_hdr kind_of(const struct sonde_redactor *r, const struct dyn_name *d)
{
	if (d->unknown)
		return SONDE_REDACT_HDR_WHOLE;
	return sonde_redact_header_kind(r, (const uint8_t *)d->name, d->len);
}

/* ---------------------------------------------------------- values --- */

static size_t star(uint8_t *out, size_t n, bool huff)
{
	size_t changed = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t s = huff ? H2_HUFF_STAR : '*';
		changed += out[i] != s;
		out[i] = s;
	}
	return changed;
}

/* The decoded text of a URL value so far (a cut Huffman code ends it). */
static void decoded(const struct sonde_redact_h2 *h, struct sonde_buf *t)
{
	if (h->huff)
		h2_huff_decode(h->val, h->val_len, t);
	else
		sonde_buf_append(t, h->val, h->val_len);
}

/*
 * Bytes j0.. of a Huffman string of total bytes, rewritten so that from bit
 * `from` on it decodes to '*' (8-bit codes in phase with from) and ends with
 * valid padding (ones); the bits before `from` stay as they were.
 */
static size_t star_bits(uint8_t *out, size_t j0, size_t m, size_t from, size_t total)
{
	size_t stars_end = from + (total * 8 - from) / 8 * 8, changed = 0;
	for (size_t j = j0; j < j0 + m; j++) {
		uint8_t b = out[j - j0];
		for (int bit = 0; bit < 8; bit++) {
			size_t q = j * 8 + (size_t)bit;
			if (q < from)
				continue;
			int v = q >= stars_end ? 1 : (H2_HUFF_STAR >> (7 - (q - from) % 8)) & 1;
			b = (uint8_t)((b & ~(0x80 >> bit)) | (v ? 0x80 >> bit : 0));
		}
		changed += out[j - j0] != b;
		out[j - j0] = b;
	}
	return changed;
}

/* Stars from decoded offset `from` of the value on, in this piece (its
 * bytes start at `start` of the value). */
static size_t stars_from(struct sonde_redact_h2 *h, uint8_t *out, size_t start, size_t n)
{
	if (!out || h->star_from == SIZE_MAX)
		return 0;
	if (!h->huff) {
		size_t a = h->star_from > start ? h->star_from - start : 0;
		return a < n ? star(out + a, n - a, false) : 0;
	}
	return star_bits(out, start, n, h->star_from, h->val_total);
}

static bool is_scheme_char(uint8_t c)
{
	return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '-' || c == '.';
}

/* A URL's authority begun in t[0..n) and not ended yet: where it starts
 * (what follows may be a password), else SIZE_MAX. */
static size_t open_authority(const uint8_t *t, size_t n)
{
	size_t i = 0;
	while (i < n && i < 32 && is_scheme_char(t[i]))
		i++;
	if (!i || i + 3 > n || memcmp(t + i, "://", 3))
		return SIZE_MAX;
	for (size_t e = i + 3; e < n; e++)
		if (sonde_redact_authority_end(t[e]))
			return SIZE_MAX;
	return i + 3;
}

/*
 * The secrets of a URL value decoded so far, t[0..n): its spans as the
 * whole value's would begin. A value not complete yet is scanned with a
 * byte after it, so that "token=" at its end already starts a secret, and
 * an authority not ended yet is secret from its start: the bytes of this
 * piece are written before the rest is seen.
 */
static void url_secrets(const struct sonde_redactor *r, struct sonde_buf *t, bool last,
			struct sonde_redact_spans *sp)
{
	size_t n = t->len;
	if (!last)
		sonde_buf_putc(t, 1);
	sonde_redact_scan_url(r, t->p ? t->p : (const uint8_t *)"", t->len, sp);
	size_t a = last ? SIZE_MAX : open_authority(t->p, n);
	if (a <= n) /* through the byte after: it may begin here */
		sonde_redact_spans_add(sp, a, n + 1 - a);
}

/* A URL value's piece p[0..n) (out: where its masked form goes; its bytes
 * start at `start` of the value), the value's last when last. A literal's
 * secrets are starred where they are; a Huffman-coded value is starred
 * from its first secret to its end. Whole or cut, the value is masked
 * alike (but for an authority cut before its end). */
/* A value's piece p[0..n) kept with the pieces before it (*start: where
 * it begins in the value). False when the stars are decided already: an
 * earlier piece's secret, or a value too long to look at. */
static bool keep_piece(struct sonde_redact_h2 *h, const uint8_t *p, size_t n, size_t *start)
{
	size_t room = VALUE_RAW_MAX - h->val_len;
	size_t keep = n < room ? n : room;
	*start = h->val_len;
	if (!h->val)
		h->val = sonde_xmalloc(VALUE_RAW_MAX);
	memcpy(h->val + h->val_len, p, keep);
	h->val_len += (uint32_t)keep;
	if (h->star_from != SIZE_MAX) /* decided in an earlier piece */
		return false;
	if (keep < n) { /* too long to look at: from here on */
		h->star_from = h->huff ? *start * 8 : *start;
		return false;
	}
	return true;
}

static size_t url_piece(struct sonde_redact_h2 *h, const struct sonde_redactor *r, const uint8_t *p,
			uint8_t *out, size_t n, bool last)
{
	size_t start;
	if (!keep_piece(h, p, n, &start))
		return stars_from(h, out, start, n);
	struct sonde_buf t = { 0 };
	decoded(h, &t);
	size_t len = t.len; /* without url_secrets' extra byte */
	struct sonde_redact_spans sp = { .n = 0 };
	url_secrets(r, &t, last, &sp);
	sonde_buf_free(&t);
	if (!sp.n)
		return 0;
	if (h->huff || sp.overflow) {
		size_t from = sp.s[0].off;
		h->star_from = h->huff ? h2_huff_symbol_bit(h->val, h->val_len, from) : from;
		return stars_from(h, out, start, n);
	}
	size_t changed = 0; /* a literal: exactly the secrets in this piece */
	for (uint32_t i = 0; out && i < sp.n; i++) {
		size_t a = sp.s[i].off, e = a + sp.s[i].len;
		e = e < len ? e : len;
		a = a > start ? a : start;
		if (a < e)
			changed += star(out + a - start, e - a, false);
	}
	return changed;
}

/*
 * Where the recording's text rules (redact_stream.c: what HTTP/1's header
 * lines go through — name=value, URLs' userinfo, JSON, cards, patterns)
 * find a secret in a field value decoded so far, t[0..n): the first byte
 * they mask, or SIZE_MAX. A value not complete yet is judged as a chunk's
 * end is: what may begin a secret there is one (digits, an authority), and
 * with a byte after it, so that "token=" at its end already starts one.
 */
static size_t text_secret_from(const struct sonde_redactor *r, const uint8_t *t, size_t n,
			       bool last)
{
	size_t from = SIZE_MAX;
	uint8_t *c = sonde_xmalloc(n + 1);
	for (size_t extra = 0; extra <= (last ? 0u : 1u); extra++) {
		memcpy(c, t, n);
		c[n] = 1;
		uint32_t count;
		sonde_redact_stream_scan(r, c, n + extra, 0, !last, &count);
		for (size_t i = 0; i < n + extra && i < from; i++)
			if (c[i] != (i < n ? t[i] : 1))
				from = i;
	}
	free(c);
	return from;
}

/* A Huffman-coded value of a field no header rule names: the text rules,
 * on its decoded text, as on HTTP/1's bytes; starred from its first secret
 * on (codes cannot be starred one by one). A literal one needs nothing
 * here: its bytes are text, and the stream's rules have masked them. */
static size_t text_piece(struct sonde_redact_h2 *h, const struct sonde_redactor *r,
			 const uint8_t *p, uint8_t *out, size_t n, bool last)
{
	size_t start;
	if (!h->huff)
		return 0;
	if (!keep_piece(h, p, n, &start))
		return stars_from(h, out, start, n);
	struct sonde_buf t = { 0 };
	decoded(h, &t);
	size_t from = text_secret_from(r, t.p ? t.p : (const uint8_t *)"", t.len, last);
	sonde_buf_free(&t);
	if (from == SIZE_MAX)
		return 0;
	h->star_from = h2_huff_symbol_bit(h->val, h->val_len, from);
	return stars_from(h, out, start, n);
}

static size_t value_piece(struct sonde_redact_h2 *h, const struct sonde_redactor *r,
			  const uint8_t *p, uint8_t *out, size_t n, bool last)
{
	switch (h->how) {
	case SONDE_REDACT_HDR_NONE: return text_piece(h, r, p, out, n, last);
	case SONDE_REDACT_HDR_URL: return url_piece(h, r, p, out, n, last);
	default: return out ? star(out, n, h->huff) : 0;
	}
}

/* ------------------------------------------------------------ HPACK --- */

static void int_done(struct sonde_redact_h2 *h, const struct sonde_redactor *r, uint32_t v);

static void begin_int(struct sonde_redact_h2 *h, const struct sonde_redactor *r, uint8_t b,
		      int prefix, enum int_for what)
{
	uint32_t mask = (1u << prefix) - 1;
	h->ifor = what;
	if ((b & mask) < mask) {
		int_done(h, r, b & mask);
		return;
	}
	h->ival = mask;
	h->ishift = 0;
	h->st = HP_INT;
}

static void string_done(struct sonde_redact_h2 *h, const struct sonde_redactor *r)
{
	if (h->in_name) {
		struct sonde_buf t = { 0 };
		bool ok = !h->name_long;
		if (ok && h->huff)
			ok = h2_huff_decode(h->name_raw, h->name_len, &t) == 0;
		else if (ok)
			sonde_buf_append(&t, h->name_raw, h->name_len);
		set_name(&h->cur, t.p ? t.p : (const uint8_t *)"", ok ? t.len : 0);
		h->cur.unknown = !ok && !h->name_long;
		sonde_buf_free(&t);
		h->how = kind_of(r, &h->cur);
		h->in_name = false;
		h->st = HP_STRLEN;
		return;
	}
	if (h->lit_index)
		push_name(h, &h->cur);
	h->st = HP_START;
}

static void int_done(struct sonde_redact_h2 *h, const struct sonde_redactor *r, uint32_t v)
{
	switch (h->ifor) {
	case INT_INDEXED:
		if (!v)
			h->lost = true; /* index 0: not HPACK */
		h->st = HP_START;
		break;
	case INT_SIZE: h->st = HP_START; break;
	case INT_NAME_INDEX:
		h->in_name = v == 0;
		if (v) {
			name_of_index(h, v, &h->cur);
			h->how = kind_of(r, &h->cur);
		}
		h->name_len = 0;
		h->name_long = false;
		h->st = HP_STRLEN;
		break;
	case INT_STRLEN:
		h->str_left = v;
		h->val_total = v;
		h->star_from = SIZE_MAX;
		h->val_len = 0;
		h->st = HP_STR;
		if (!v)
			string_done(h, r);
		break;
	}
}

/* n bytes of a header block fragment. */
static size_t hpack(struct sonde_redact_h2 *h, const struct sonde_redactor *r, const uint8_t *p,
		    uint8_t *out, size_t n)
{
	size_t i = 0, changed = 0;
	while (i < n && !h->lost) {
		uint8_t b = p[i];
		if (out && h->st != HP_STR)
			out[i] = b; /* the block's structure, as it was */
		switch (h->st) {
		case HP_START:
			i++;
			if (b & 0x80) {
				begin_int(h, r, b, 7, INT_INDEXED);
			} else if ((b & 0xc0) == 0x40) {
				h->lit_index = true;
				begin_int(h, r, b, 6, INT_NAME_INDEX);
			} else if ((b & 0xe0) == 0x20) {
				begin_int(h, r, b, 5, INT_SIZE);
			} else {
				h->lit_index = false;
				begin_int(h, r, b, 4, INT_NAME_INDEX);
			}
			break;
		case HP_INT:
			i++;
			if (h->ishift > 21) {
				h->lost = true; /* more than 2^28: not a length we follow */
				break;
			}
			h->ival += (uint32_t)(b & 0x7f) << h->ishift;
			h->ishift += 7;
			if (!(b & 0x80))
				int_done(h, r, h->ival);
			break;
		case HP_STRLEN:
			i++;
			h->huff = b & 0x80;
			begin_int(h, r, b, 7, INT_STRLEN);
			break;
		case HP_STR: {
			size_t m = n - i < h->str_left ? n - i : h->str_left;
			bool last = m == h->str_left;
			/* names, and Huffman codes (not text), only this masker
			 * changes: the text rules' stars would break the block */
			if (out && (h->in_name || h->huff))
				memcpy(out + i, p + i, m);
			if (h->in_name) {
				size_t room = NAME_RAW_MAX - h->name_len;
				if (m > room)
					h->name_long = true;
				memcpy(h->name_raw + h->name_len, p + i, m < room ? m : room);
				h->name_len += (uint32_t)(m < room ? m : room);
			} else {
				changed += value_piece(h, r, p + i, out ? out + i : NULL, m, last);
			}
			h->str_left -= (uint32_t)m;
			i += m;
			if (!h->str_left)
				string_done(h, r);
			break;
		}
		}
	}
	if (h->lost && out)
		changed += star(out + i, n - i, false);
	return changed;
}

/* ----------------------------------------------------------- frames --- */

static void frame_start(struct sonde_redact_h2 *h)
{
	h->left = (uint32_t)h->fh[0] << 16 | (uint32_t)h->fh[1] << 8 | h->fh[2];
	uint8_t type = h->fh[3], flags = h->fh[4];
	h->block = type == FT_HEADERS || type == FT_PUSH_PROMISE || type == FT_CONTINUATION;
	h->need_padlen = (type == FT_HEADERS || type == FT_PUSH_PROMISE) && (flags & 0x8);
	h->skip_front =
		(type == FT_HEADERS && (flags & 0x20) ? 5 : 0) + (type == FT_PUSH_PROMISE ? 4 : 0);
	h->pad = 0;
	if (!h->left)
		h->fh_len = 0;
}

size_t sonde_redact_h2_feed(struct sonde_redact_h2 *h, const struct sonde_redactor *r,
			    const uint8_t *p, uint8_t *out, size_t n)
{
	size_t i = 0, changed = 0;
	while (i < n) {
		if (h->lost)
			return changed + (out ? star(out + i, n - i, false) : 0);
		if (h->fh_len < 9) {
			if (out)
				out[i] = p[i]; /* the frame header, as it was */
			h->fh[h->fh_len++] = p[i++];
			if (h->fh_len == 9)
				frame_start(h);
			continue;
		}
		size_t avail = n - i < h->left ? n - i : h->left, k;
		if (!h->block) {
			k = avail;
		} else if (h->need_padlen) {
			if (out)
				out[i] = p[i];
			h->pad = p[i];
			h->need_padlen = false;
			k = 1;
			if (h->pad >= h->left)
				h->lost = true; /* padding longer than the frame */
		} else if (h->skip_front) {
			k = avail < h->skip_front ? avail : h->skip_front;
			h->skip_front -= (uint32_t)k;
			if (out)
				memcpy(out + i, p + i, k);
		} else if (h->left > h->pad) {
			size_t frag = h->left - h->pad;
			k = avail < frag ? avail : frag;
			changed += hpack(h, r, p + i, out ? out + i : NULL, k);
		} else {
			k = avail; /* the padding */
		}
		i += k;
		h->left -= (uint32_t)k;
		if (!h->left)
			h->fh_len = 0;
	}
	return changed;
}
