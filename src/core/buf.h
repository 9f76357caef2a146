/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer, and the output helpers built on it (JSON, text).
 *
 * Zeroed, a buffer is empty and unbounded. Given a limit (sonde_buf_init),
 * it is bounded by construction: an append that would take len past the
 * limit appends nothing, returns -1 and sets `full`. `full` is sticky: every
 * later append fails too, even one that would fit, so a bounded accumulator
 * never holds a message with a hole in it. sonde_buf_reset() and
 * sonde_buf_free() clear it and keep the limit. Only the append functions
 * (append, putc, puts, printf) check the limit; sonde_buf_reserve() is about
 * capacity, and the output helpers below are for unbounded output buffers.
 */
#ifndef SONDE_BUF_H
#define SONDE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sonde_buf {
	uint8_t *p;
	size_t len, cap;
	size_t limit; /* most bytes held; 0: no limit */
	bool full; /* an append was refused for the limit */
};

/* An empty buffer holding at most `limit` bytes (0: unbounded). */
static inline void sonde_buf_init(struct sonde_buf *b, size_t limit)
{
	*b = (struct sonde_buf){ .limit = limit };
}
/* Make room for `more` bytes; aborts on allocation failure (like xmalloc).
 * Inline where the room is there: every value of every record asks. */
void sonde_buf_grow(struct sonde_buf *b, size_t more);
static inline void sonde_buf_reserve(struct sonde_buf *b, size_t more)
{
	if (b->cap - b->len < more)
		sonde_buf_grow(b, more);
}
/* These return 0, or -1 having appended nothing: the buffer is full (or,
 * for printf, the format failed). */
int sonde_buf_append_slow(struct sonde_buf *b, const void *p, size_t n);
int sonde_buf_putc_slow(struct sonde_buf *b, char c);
/* Inline where the room is there and no limit applies: the renderers call
 * these for every punctuation mark of every record. */
static inline int sonde_buf_append(struct sonde_buf *b, const void *p, size_t n)
{
	if (!b->limit && n <= b->cap - b->len) {
		if (n)
			__builtin_memcpy(b->p + b->len, p, n);
		b->len += n;
		return 0;
	}
	return sonde_buf_append_slow(b, p, n);
}
static inline int sonde_buf_putc(struct sonde_buf *b, char c)
{
	if (!b->limit && b->len < b->cap) {
		b->p[b->len++] = (uint8_t)c;
		return 0;
	}
	return sonde_buf_putc_slow(b, c);
}
/* Inline, so a literal's length is known when compiled. */
static inline int sonde_buf_puts(struct sonde_buf *b, const char *s)
{
	return sonde_buf_append(b, s, __builtin_strlen(s));
}
int sonde_buf_printf(struct sonde_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sonde_buf_free(struct sonde_buf *b);
static inline void sonde_buf_reset(struct sonde_buf *b)
{
	b->len = 0;
	b->full = false;
}

/* JSON string literal (with quotes) of arbitrary bytes: invalid UTF-8 bytes
 * become U+FFFD so the output is always valid JSON. */
void sonde_json_str(struct sonde_buf *b, const void *p, size_t n);
static inline void sonde_json_cstr(struct sonde_buf *b, const char *s);
/* The same for text that must stay text: returns -1, writing nothing, if the
 * bytes are not valid UTF-8 (or hold a NUL). One pass for check and escape. */
int sonde_json_str_utf8(struct sonde_buf *b, const void *p, size_t n);
/* Decimal digits of v (and of a signed v, '-' first), without printf. */
void sonde_buf_u64(struct sonde_buf *b, uint64_t v);
void sonde_buf_i64(struct sonde_buf *b, int64_t v);
/* v's decimal digits at o (room for 20): how many. */
size_t sonde_u64_digits(uint8_t *o, uint64_t v);
/* "key": */
void sonde_json_key(struct sonde_buf *b, const char *key);
/* Standard base64 (RFC 4648) with padding, no quotes. */
void sonde_base64(struct sonde_buf *b, const void *p, size_t n);
/* True when the bytes are valid UTF-8 with no NUL. */
int sonde_utf8_valid(const uint8_t *p, size_t n);

/* ns as microseconds with three decimals ("1234.567"), like printf's %.3f. */
void sonde_buf_micros(struct sonde_buf *b, int64_t ns);
/* Format ns-since-epoch as RFC 3339 UTC with microseconds. */
void sonde_fmt_time(struct sonde_buf *b, uint64_t ts_ns);

void *sonde_xmalloc(size_t n);
void *sonde_xcalloc(size_t n, size_t sz);
void *sonde_xrealloc(void *p, size_t n);

#include <string.h>
static inline void sonde_json_cstr(struct sonde_buf *b, const char *s)
{
	sonde_json_str(b, s, strlen(s));
}

/*
 * Command-line sizes and durations. Sizes: "1500", "64k", "1.5m", "2g"
 * (powers of 1024; an optional b, B, iB). Durations: "30" or "30s", "1.5m",
 * "500ms", "0.5s", "250us", "10ns", "2h". Decimals are accepted when the unit
 * makes them whole bytes or nanoseconds. Return -1 with *why (when why is not
 * NULL) saying what is wrong.
 */
int sonde_parse_size(const char *s, size_t *out, const char **why);
int sonde_parse_duration(const char *s, uint64_t *out_ns, const char **why);

#endif
