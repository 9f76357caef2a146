/* SPDX-License-Identifier: MIT */
#include "core/buf.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#include <tmmintrin.h>
#endif

void *sonde_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "sonde: out of memory (%zu bytes)\n", n);
		abort();
	}
	return p;
}

void *sonde_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p) {
		fprintf(stderr, "sonde: out of memory (%zu x %zu bytes)\n", n, sz);
		abort();
	}
	return p;
}

void *sonde_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "sonde: out of memory (%zu bytes)\n", n);
		abort();
	}
	return q;
}

void sonde_buf_grow(struct sonde_buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < more)
		cap *= 2;
	b->p = sonde_xrealloc(b->p, cap);
	b->cap = cap;
}

/* May n more bytes go in? Marks the buffer full if not. */
static inline bool fits(struct sonde_buf *b, size_t n)
{
	if (!b->limit)
		return true;
	if (b->full || n > b->limit - b->len)
		b->full = true;
	return !b->full;
}

int sonde_buf_append_slow(struct sonde_buf *b, const void *p, size_t n)
{
	if (!fits(b, n))
		return -1;
	sonde_buf_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int sonde_buf_putc_slow(struct sonde_buf *b, char c)
{
	if (!fits(b, 1))
		return -1;
	sonde_buf_reserve(b, 1);
	b->p[b->len++] = (uint8_t)c;
	return 0;
}

int sonde_buf_printf(struct sonde_buf *b, const char *fmt, ...)
{
	if (b->full)
		return -1;
	/* Usually fits in what is free: format once. */
	sonde_buf_reserve(b, 128);
	size_t room = b->cap - b->len;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf((char *)b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (!fits(b, (size_t)n))
		return -1; /* what vsnprintf wrote lies past len: not content */
	if ((size_t)n >= room) {
		sonde_buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return 0;
}

void sonde_buf_free(struct sonde_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->full = false;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t min;
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	uint32_t cp = c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int sonde_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (p[i] >= 0x20 && p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] == 0)
			return 0;
		size_t l = utf8_seq(p + i, n - i);
		if (!l)
			return 0;
		i += l;
	}
	return 1;
}

/* Bytes copied as they are into a JSON string: printable ASCII but '"' and
 * '\\'. (Bytes from 0x80 are UTF-8, checked one sequence at a time.) */
static const uint8_t json_plain[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x80 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x90 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xa0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xb0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xc0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xd0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xe0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xf0 */
};

/* Does any of these 8 bytes need care in a JSON string: a control byte,
 * '"', '\\', or a non-ASCII byte? (May say yes falsely; never no falsely.) */
static inline int block_needs_care(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t ctl = (v - ones * 0x20) & ~v & high;
	uint64_t q = v ^ (ones * '"'), bs = v ^ (ones * '\\');
	uint64_t quote = (q - ones) & ~q & high, back = (bs - ones) & ~bs & high;
	return (ctl | quote | back | (v & high)) != 0;
}

/*
 * One byte that needs care at p[i]: its escape (or, from 0x80, its UTF-8
 * sequence) written at *o. Returns the input bytes used; 0 when strict and
 * the byte is NUL or starts no valid UTF-8 sequence.
 */
static inline size_t escape_one(uint8_t **o, const uint8_t *p, size_t i, size_t n, int strict)
{
	static const char hex[] = "0123456789abcdef";
	/* the second byte of a two-byte escape, 'u' for \u00XX */
	static const uint8_t short_esc[32] = {
		'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 't', 'n', 'u', 'u', 'r', 'u', 'u',
		'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	};
	uint8_t c = p[i], *w = *o;
	if (c == '"' || c == '\\') {
		w[0] = '\\';
		w[1] = c;
		*o = w + 2;
		return 1;
	}
	if (c < 0x20) {
		if (strict && c == 0)
			return 0;
		w[0] = '\\';
		w[1] = short_esc[c];
		if (w[1] != 'u') {
			*o = w + 2;
			return 1;
		}
		memcpy(w + 2, "00", 2);
		w[4] = (uint8_t)hex[c >> 4];
		w[5] = (uint8_t)hex[c & 15];
		*o = w + 6;
		return 1;
	}
	size_t l = c < 0x80 ? 1 : utf8_seq(p + i, n - i);
	if (l) {
		memcpy(w, p + i, l);
		*o = w + l;
		return l;
	}
	if (strict)
		return 0;
	memcpy(w, "\xef\xbf\xbd", 3); /* U+FFFD */
	*o = w + 3;
	return 1;
}

#if defined(__x86_64__)
/*
 * Text bodies have a quote, a backslash or a line break every few bytes:
 * escaping them one at a time costs a pass of the wide loop each. With
 * SSSE3 a block of 16 whose every special byte takes a two-byte escape
 * (\" \\ \n \r \t) is written whole: each half of 8 bytes is spread by a
 * byte shuffle chosen by its mask of specials, a backslash put before each.
 * Tables made once, read-only after.
 */
struct esc_spread {
	uint8_t from[16]; /* input byte of each output byte, 0x80 for a backslash */
	uint8_t slash[16]; /* '\\' where the backslashes go */
	uint8_t len;
};
static struct esc_spread esc_spreads[256];
static bool esc_wide;

static void esc_init(void)
{
	for (unsigned m = 0; m < 256; m++) {
		struct esc_spread *e = &esc_spreads[m];
		uint8_t k = 0;
		for (uint8_t j = 0; j < 8; j++) {
			if (m >> j & 1) {
				e->from[k] = 0x80;
				e->slash[k++] = '\\';
			}
			e->from[k++] = j;
		}
		for (uint8_t j = k; j < 16; j++)
			e->from[j] = 0x80;
		e->len = k;
	}
	esc_wide = __builtin_cpu_supports("ssse3");
}

static pthread_once_t esc_once = PTHREAD_ONCE_INIT;

static inline bool esc_ready(void)
{
	pthread_once(&esc_once, esc_init);
	return esc_wide;
}

/* One half block: 8 bytes of v from its low end, mask m of its specials. */
__attribute__((target("ssse3"))) static inline uint8_t *esc_half(uint8_t *o, __m128i v, unsigned m)
{
	const struct esc_spread *e = &esc_spreads[m];
	__m128i from = _mm_loadu_si128((const __m128i *)e->from);
	__m128i slash = _mm_loadu_si128((const __m128i *)e->slash);
	_mm_storeu_si128((__m128i *)o, _mm_or_si128(_mm_shuffle_epi8(v, from), slash));
	return o + e->len;
}

/* The block v written at *o if its specials all take two-byte escapes
 * (special: the wide loop's mask); false, and nothing written, if not. */
__attribute__((target("ssse3"))) static inline bool esc_block(uint8_t **o, __m128i v,
							      unsigned special)
{
	__m128i nl = _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
		cr = _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
		tab = _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'));
	__m128i ctl = _mm_or_si128(_mm_or_si128(nl, cr), tab);
	__m128i two = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
						_mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
				   ctl);
	if ((unsigned)_mm_movemask_epi8(two) != special)
		return false;
	/* \n \r \t: the letter after the backslash, by the byte's low nibble */
	const __m128i letters = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 't', 'n', 0, 0, 'r', 0, 0);
	v = _mm_or_si128(_mm_andnot_si128(ctl, v),
			 _mm_and_si128(ctl, _mm_shuffle_epi8(letters, v)));
	uint8_t *w = esc_half(*o, v, special & 0xff);
	*o = esc_half(w, _mm_srli_si128(v, 8), special >> 8);
	return true;
}
#endif

#ifdef __SSE2__
/*
 * The wide part of the escaping pass, to the last whole block of 16: *op
 * and *ip move on; -1 as json_escape. With spread (an SSSE3 copy of it), a
 * block with several specials, all of two-byte escapes, goes at once.
 */
static inline __attribute__((always_inline)) int wide_loop(uint8_t **op, const uint8_t *p, size_t n,
							   size_t *ip, int strict, bool spread)
{
	uint8_t *o = *op;
	size_t i = *ip;
	/* A signed compare with 0x20 catches control bytes and, being
	 * negative, every byte from 0x80 as well. */
	const __m128i quote = _mm_set1_epi8('"'), back = _mm_set1_epi8('\\'),
		      space = _mm_set1_epi8(0x20);
	while (i + 16 <= n) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
		__m128i special = _mm_or_si128(
			_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, back)),
			_mm_cmplt_epi8(v, space));
		unsigned mask = (unsigned)_mm_movemask_epi8(special);
		_mm_storeu_si128((__m128i *)o, v);
		if (!mask) {
			o += 16;
			i += 16;
			continue;
		}
#if defined(__x86_64__)
		if (spread && mask & (mask - 1) && esc_block(&o, v, mask)) {
			i += 16;
			continue;
		}
#endif
		unsigned k = (unsigned)__builtin_ctz(mask);
		o += k;
		i += k;
		size_t used = escape_one(&o, p, i, n, strict);
		if (!used)
			return -1;
		i += used;
	}
	*op = o;
	*ip = i;
	return 0;
}

#if defined(__x86_64__)
__attribute__((target("ssse3"))) static int wide_ssse3(uint8_t **op, const uint8_t *p, size_t n,
						       size_t *ip, int strict)
{
	return wide_loop(op, p, n, ip, strict, true);
}
#endif

static int wide_loop_run(uint8_t **op, const uint8_t *p, size_t n, size_t *ip, int strict)
{
#if defined(__x86_64__)
	if (n >= 64 && esc_ready()) /* short strings rarely hold two specials a block */
		return wide_ssse3(op, p, n, ip, strict);
#endif
	return wide_loop(op, p, n, ip, strict, false);
}
#endif

/*
 * The escaping pass: runs of plain ASCII are copied 16 (or 8) bytes at a
 * time, and the byte that ends a run is escaped without leaving the wide
 * loop (text bodies have a quote every few bytes). With strict, stops at
 * the first byte that is not valid UTF-8 (or NUL) and returns -1, so the
 * caller can write the bytes another way.
 */
static int json_escape(struct sonde_buf *b, const uint8_t *p, size_t n, int strict)
{
	/* Worst case: every byte becomes \u00XX (6) or U+FFFD (3); a wide
	 * store of 16 bytes at i + 16 <= n stays within that. */
	sonde_buf_reserve(b, n * 6 + 2);
	uint8_t *o = b->p + b->len;
	*o++ = '"';
	size_t i = 0;
#ifdef __SSE2__
	if (wide_loop_run(&o, p, n, &i, strict) < 0)
		return -1;
#endif
	while (i < n) {
		while (i + 8 <= n) {
			uint64_t v;
			memcpy(&v, p + i, 8);
			if (block_needs_care(v))
				break;
			memcpy(o, &v, 8);
			o += 8;
			i += 8;
		}
		/* this block has something special: byte by byte through it */
		size_t stop = i + 8 < n ? i + 8 : n;
		while (i < stop && json_plain[p[i]])
			*o++ = p[i++];
		if (i == stop)
			continue;
		size_t used = escape_one(&o, p, i, n, strict);
		if (!used)
			return -1;
		i += used;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
	return 0;
}

void sonde_json_str(struct sonde_buf *b, const void *p, size_t n)
{
	json_escape(b, p, n, 0);
}

int sonde_json_str_utf8(struct sonde_buf *b, const void *p, size_t n)
{
	size_t mark = b->len;
	if (json_escape(b, p, n, 1) < 0) {
		b->len = mark;
		return -1;
	}
	return 0;
}

void sonde_json_key(struct sonde_buf *b, const char *key)
{
	/* Keys are short static names that need no escaping: copied in one
	 * pass, with the general escape only for one that does. */
	size_t n = strlen(key);
	sonde_buf_reserve(b, n + 3);
	uint8_t *o = b->p + b->len;
	o[0] = '"';
	for (size_t i = 0; i < n; i++) {
		if (!json_plain[(uint8_t)key[i]]) {
			sonde_json_str(b, key, n);
			sonde_buf_putc(b, ':');
			return;
		}
		o[i + 1] = (uint8_t)key[i];
	}
	o[n + 1] = '"';
	o[n + 2] = ':';
	b->len += n + 3;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Two output characters per 12 input bits: half the lookups. Read-only after
 * its one-time initialisation. */
static uint16_t b64_pairs[4096];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
/*
 * Twelve input bytes to sixteen characters per step with SSSE3: each group
 * of three bytes is spread over a 32-bit lane, its four 6-bit values moved
 * to one byte each by two multiplies, and each value turned into its
 * character by adding the offset of its range ('A'.., 'a'.., '0'.., '+',
 * '/'), picked with a byte shuffle. Returns the input bytes used.
 */
__attribute__((target("ssse3"))) static size_t b64_ssse3(uint8_t *o, const uint8_t *p, size_t n)
{
	const __m128i spread = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	const __m128i offsets =
		_mm_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0);
	size_t i = 0;
	for (; i + 16 <= n; i += 12, o += 16) {
		__m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + i)), spread);
		/* lane bytes b a c b: sextets at bits 10, 4, 22 and 16 */
		__m128i hi = _mm_mulhi_epu16(_mm_and_si128(v, _mm_set1_epi32(0x0fc0fc00)),
					     _mm_set1_epi32(0x04000040));
		__m128i lo = _mm_mullo_epi16(_mm_and_si128(v, _mm_set1_epi32(0x003f03f0)),
					     _mm_set1_epi32(0x01000010));
		__m128i idx = _mm_or_si128(hi, lo);
		/* 0..25 -> 13, 26..51 -> 0, 52..63 -> 1..12: a row of offsets */
		__m128i row = _mm_subs_epu8(idx, _mm_set1_epi8(51));
		row = _mm_or_si128(row, _mm_and_si128(_mm_cmpgt_epi8(_mm_set1_epi8(26), idx),
						      _mm_set1_epi8(13)));
		_mm_storeu_si128((__m128i *)o, _mm_add_epi8(idx, _mm_shuffle_epi8(offsets, row)));
	}
	return i;
}

/* The same with AVX2, 24 bytes a step: two groups of 12, one per lane. */
__attribute__((target("avx2"))) static size_t b64_avx2(uint8_t *o, const uint8_t *p, size_t n)
{
	const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
						1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	const __m256i offsets =
		_mm256_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0, 71,
				 -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0);
	size_t i = 0;
	for (; i + 28 <= n; i += 24, o += 32) {
		__m256i v = _mm256_inserti128_si256(
			_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p + i))),
			_mm_loadu_si128((const __m128i *)(p + i + 12)), 1);
		v = _mm256_shuffle_epi8(v, spread);
		__m256i hi = _mm256_mulhi_epu16(_mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00)),
						_mm256_set1_epi32(0x04000040));
		__m256i lo = _mm256_mullo_epi16(_mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0)),
						_mm256_set1_epi32(0x01000010));
		__m256i idx = _mm256_or_si256(hi, lo);
		__m256i row = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
		row = _mm256_or_si256(row,
				      _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx),
						       _mm256_set1_epi8(13)));
		_mm256_storeu_si256((__m256i *)o,
				    _mm256_add_epi8(idx, _mm256_shuffle_epi8(offsets, row)));
	}
	return i;
}

static bool b64_wide, b64_wider;
#endif

static void b64_init(void)
{
	for (unsigned i = 0; i < 4096; i++) {
		uint8_t two[2] = { (uint8_t)b64[i >> 6], (uint8_t)b64[i & 63] };
		memcpy(&b64_pairs[i], two, 2);
	}
#if defined(__x86_64__)
	b64_wide = __builtin_cpu_supports("ssse3");
	b64_wider = __builtin_cpu_supports("avx2");
#endif
}

void sonde_base64(struct sonde_buf *b, const void *vp, size_t n)
{
	const uint8_t *p = vp;
	pthread_once(&b64_once, b64_init);
	sonde_buf_reserve(b, (n + 2) / 3 * 4);
	uint8_t *o = b->p + b->len;
	size_t i = 0;
#if defined(__x86_64__)
	if (b64_wider) {
		i = b64_avx2(o, p, n);
		o += i / 3 * 4;
	}
	if (b64_wide) {
		size_t k = b64_ssse3(o, p + i, n - i);
		i += k;
		o += k / 3 * 4;
	}
#endif
	/* Six input bytes (48 bits) per step from one big-endian 64-bit load. */
	for (; i + 8 <= n; i += 6) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		w = __builtin_bswap64(w) >> 16;
		memcpy(o, &b64_pairs[(w >> 36) & 4095], 2);
		memcpy(o + 2, &b64_pairs[(w >> 24) & 4095], 2);
		memcpy(o + 4, &b64_pairs[(w >> 12) & 4095], 2);
		memcpy(o + 6, &b64_pairs[w & 4095], 2);
		o += 8;
	}
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		memcpy(o, &b64_pairs[v >> 12], 2);
		memcpy(o + 2, &b64_pairs[v & 4095], 2);
		o += 4;
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = (uint8_t)b64[v >> 18];
		*o++ = (uint8_t)b64[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = (uint8_t)b64[v >> 18];
		*o++ = (uint8_t)b64[(v >> 12) & 63];
		*o++ = (uint8_t)b64[(v >> 6) & 63];
		*o++ = '=';
	}
	b->len = (size_t)(o - b->p);
}

/* "00" "01" ... "99": two digits per division. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
				     "25262728293031323334353637383940414243444546474849"
				     "50515253545556575859606162636465666768697071727374"
				     "75767778798081828384858687888990919293949596979899";

size_t sonde_u64_digits(uint8_t *o, uint64_t v)
{
	size_t n = 1;
	for (uint64_t t = v; t >= 10; t /= 10)
		n++;
	uint8_t *e = o + n;
	while (v >= 100) {
		e -= 2;
		memcpy(e, digit_pairs + v % 100 * 2, 2);
		v /= 100;
	}
	if (v >= 10) {
		e -= 2;
		memcpy(e, digit_pairs + v * 2, 2);
	} else {
		*--e = (uint8_t)('0' + v);
	}
	return n;
}

void sonde_buf_u64(struct sonde_buf *b, uint64_t v)
{
	sonde_buf_reserve(b, 20);
	b->len += sonde_u64_digits(b->p + b->len, v);
}

void sonde_buf_i64(struct sonde_buf *b, int64_t v)
{
	sonde_buf_reserve(b, 21);
	uint8_t *o = b->p + b->len;
	uint64_t u = (uint64_t)v;
	if (v < 0) {
		*o++ = '-';
		u = (uint64_t)0 - u;
	}
	o += sonde_u64_digits(o, u);
	b->len = (size_t)(o - b->p);
}

/* Write v as exactly `width` decimal digits (zero-padded). */
static inline void put_digits(uint8_t *o, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		o[i] = (uint8_t)('0' + v % 10);
		v /= 10;
	}
}

/*
 * UTC calendar fields of a Unix time, by the proleptic Gregorian
 * days-to-civil arithmetic (eras of 400 years from 0000-03-01): glibc's
 * gmtime_r takes the time-zone lock on every call, and records have three
 * timestamps.
 */
static void utc_fields(uint64_t sec, struct tm *tm)
{
	uint64_t days = sec / 86400, rem = sec % 86400;
	tm->tm_hour = (int)(rem / 3600);
	tm->tm_min = (int)(rem % 3600 / 60);
	tm->tm_sec = (int)(rem % 60);
	uint64_t z = days + 719468; /* days since 0000-03-01 */
	uint64_t era = z / 146097, doe = z % 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153; /* months from March */
	unsigned mday = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	unsigned mon = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	uint64_t year = yoe + era * 400 + (mon <= 2);
	tm->tm_mday = (int)mday;
	tm->tm_mon = (int)mon - 1;
	tm->tm_year = year > 9999 ? 9999 - 1900 : (int)year - 1900;
}

void sonde_fmt_time(struct sonde_buf *b, uint64_t ts_ns)
{
	struct tm tm;
	utc_fields(ts_ns / 1000000000ull, &tm);
	/* YYYY-MM-DDTHH:MM:SS.uuuuuuZ, without printf: records have three. */
	sonde_buf_reserve(b, 27);
	uint8_t *o = b->p + b->len;
	unsigned year = (unsigned)(tm.tm_year + 1900);
	if (year > 9999)
		year = 9999;
	put_digits(o, year, 4);
	o[4] = '-';
	put_digits(o + 5, (unsigned)tm.tm_mon + 1, 2);
	o[7] = '-';
	put_digits(o + 8, (unsigned)tm.tm_mday, 2);
	o[10] = 'T';
	put_digits(o + 11, (unsigned)tm.tm_hour, 2);
	o[13] = ':';
	put_digits(o + 14, (unsigned)tm.tm_min, 2);
	o[16] = ':';
	put_digits(o + 17, (unsigned)tm.tm_sec, 2);
	o[19] = '.';
	put_digits(o + 20, (unsigned)(ts_ns % 1000000000ull / 1000), 6);
	o[26] = 'Z';
	b->len += 27;
}

void sonde_buf_micros(struct sonde_buf *b, int64_t ns)
{
	/* the magnitude unsigned: -INT64_MIN is not an int64_t (a latency of
	 * timestamps the kernel's events gave, fuzz_ebpf) */
	uint64_t mag = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
	if (ns < 0)
		sonde_buf_putc(b, '-');
	sonde_buf_u64(b, mag / 1000);
	sonde_buf_reserve(b, 4);
	b->p[b->len] = '.';
	put_digits(b->p + b->len + 1, (unsigned)(mag % 1000), 3);
	b->len += 4;
}

/* ---- sizes and durations on the command line ---- */

/*
 * A non-negative decimal number "12", "1.5", ".25": its digits as an
 * integer and the power of ten they are scaled by (1.5 is 15 / 10). At most
 * 18 digits.
 */
static int parse_decimal(const char *s, const char **end, unsigned __int128 *num, uint64_t *scale,
			 const char **why)
{
	unsigned __int128 n = 0;
	uint64_t sc = 1;
	int digits = 0, dot = 0;
	if (!s || !*s) {
		*why = "empty";
		return -1;
	}
	if (*s == '-') {
		*why = "negative";
		return -1;
	}
	for (; *s; s++) {
		if (*s == '.' && !dot) {
			dot = 1;
			continue;
		}
		if (*s < '0' || *s > '9')
			break;
		if (++digits > 18) {
			*why = "too many digits";
			return -1;
		}
		n = n * 10 + (unsigned)(*s - '0');
		if (dot)
			sc *= 10;
	}
	if (!digits) {
		*why = "not a number";
		return -1;
	}
	*end = s;
	*num = n;
	*scale = sc;
	return 0;
}

/* num / scale * mul, if it is a whole number that fits in max. */
static int scaled(unsigned __int128 num, uint64_t scale, uint64_t mul, uint64_t max,
		  const char *whole, uint64_t *out, const char **why)
{
	unsigned __int128 v = num * mul; /* < 10^18 * 2^62: fits */
	if (v % scale) {
		*why = whole;
		return -1;
	}
	v /= scale;
	if (v > max) {
		*why = "too large";
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

int sonde_parse_size(const char *s, size_t *out, const char **why)
{
	const char *dummy, *end;
	unsigned __int128 num;
	uint64_t scale, v;
	if (!why)
		why = &dummy;
	if (parse_decimal(s, &end, &num, &scale, why) < 0)
		return -1;
	uint64_t mul = 1;
	switch (*end) {
	case '\0': break;
	case 'b':
	case 'B': break;
	case 'k':
	case 'K':
		mul = 1ull << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mul = 1ull << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mul = 1ull << 30;
		end++;
		break;
	default: *why = "unknown unit (k, m or g: powers of 1024)"; return -1;
	}
	/* "64k", "64kb", "64KiB", "64KB", "64B" */
	if (*end == 'i' && mul > 1)
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end) {
		*why = "unknown unit (k, m or g: powers of 1024)";
		return -1;
	}
	if (scaled(num, scale, mul, SIZE_MAX, "not a whole number of bytes", &v, why) < 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

int sonde_parse_duration(const char *s, uint64_t *out_ns, const char **why)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		{ "", 1000000000ull },
		{ "s", 1000000000ull },
		{ "ms", 1000000ull },
		{ "us", 1000ull },
		{ "ns", 1ull },
		{ "m", 60000000000ull },
		{ "min", 60000000000ull },
		{ "h", 3600000000000ull },
	};
	const char *dummy, *end;
	unsigned __int128 num;
	uint64_t scale;
	if (!why)
		why = &dummy;
	if (parse_decimal(s, &end, &num, &scale, why) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit))
			return scaled(num, scale, units[i].ns, UINT64_MAX,
				      "not a whole number of nanoseconds", out_ns, why);
	*why = "unknown unit (ns, us, ms, s, m or h)";
	return -1;
}
