/* SPDX-License-Identifier: MIT */
/*
 * A record's JSON line as matcher events (filter_impl.h): a small bounded
 * reader, made for the filter. Subtrees no path of the filter goes into are
 * skipped by scanning for their end; strings are handed over as they stand
 * in the line unless they hold escapes, which are undone into a buffer
 * on the stack (the heap only for a longer one). Nesting is bounded; a line
 * that is not JSON matches nothing. And RFC 3339 times, which records hold
 * as text.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "query/filter_impl.h"

#define JSON_MAX_NESTING 64
#define SCRATCH 2048

struct reader {
	const char *p, *end;
	struct fq_matcher *m;
	unsigned nesting;
	/* undone escapes: a member's name, and a string value */
	char key[SCRATCH], val[SCRATCH];
	struct sonde_buf key_big, val_big;
};

static void ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int d = sonde_hexval((uint8_t)p[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Undo the escapes of s[0..n) (between the quotes) into out, which holds
 * at least n bytes (escapes never grow). Returns the length, or -1. */
static ssize_t unescape(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (++i >= n)
			return -1;
		switch (s[i]) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case '/': out[o++] = '/'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u': {
			if (i + 4 >= n)
				return -1;
			int cp = hex4(s + i + 1);
			if (cp < 0)
				return -1;
			i += 4;
			uint32_t c = (uint32_t)cp;
			if (c >= 0xd800 && c < 0xdc00 && i + 6 < n && s[i + 1] == '\\' &&
			    s[i + 2] == 'u') {
				int lo = hex4(s + i + 3);
				if (lo >= 0xdc00 && lo < 0xe000) {
					c = 0x10000 + ((c - 0xd800) << 10) +
					    ((uint32_t)lo - 0xdc00);
					i += 6;
				}
			}
			if (c >= 0xd800 && c < 0xe000)
				c = 0xfffd; /* a lone surrogate */
			o += put_utf8(out + o, c);
			break;
		}
		default: return -1;
		}
	}
	return (ssize_t)o;
}

/* A string at r->p (its opening quote). want: its bytes, escapes undone,
 * into the key or value buffer. */
static bool string(struct reader *r, bool want, bool key, const char **s, size_t *n)
{
	const char *start = ++r->p;
	bool esc = false;
	while (r->p < r->end && *r->p != '"') {
		if (*r->p == '\\') {
			esc = true;
			r->p++;
		}
		r->p++;
	}
	if (r->p >= r->end)
		return false;
	size_t len = (size_t)(r->p - start);
	r->p++;
	if (!want)
		return true;
	if (!esc) {
		*s = start;
		*n = len;
		return true;
	}
	char *out = key ? r->key : r->val;
	if (len > SCRATCH) {
		struct sonde_buf *b = key ? &r->key_big : &r->val_big;
		sonde_buf_reset(b);
		sonde_buf_reserve(b, len);
		out = (char *)b->p;
	}
	ssize_t k = unescape(start, len, out);
	if (k < 0)
		return false;
	*s = out;
	*n = (size_t)k;
	return true;
}

static bool number(struct reader *r, struct fq_num *num)
{
	const char *s = r->p;
	bool is_int = true;
	if (r->p < r->end && *r->p == '-')
		r->p++;
	while (r->p < r->end && ((*r->p >= '0' && *r->p <= '9') || *r->p == '.' || *r->p == 'e' ||
				 *r->p == 'E' || *r->p == '+' || *r->p == '-')) {
		if (*r->p == '.' || *r->p == 'e' || *r->p == 'E')
			is_int = false;
		r->p++;
	}
	size_t len = (size_t)(r->p - s);
	char buf[64];
	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = 0;
	char *e;
	num->d = strtod(buf, &e);
	if (*e)
		return false;
	num->neg = buf[0] == '-';
	num->is_int = is_int && len - num->neg <= 19;
	num->mag = num->is_int ? strtoull(buf + num->neg, NULL, 10) : 0;
	if (num->is_int && !num->mag)
		num->neg = false;
	return true;
}

static bool literal(struct reader *r, const char *w, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n))
		return false;
	r->p += n;
	return true;
}

/* Past one value, looking at nothing but its extent. */
static bool skip_value(struct reader *r)
{
	ws(r);
	if (r->p >= r->end)
		return false;
	if (*r->p == '"')
		return string(r, false, false, NULL, NULL);
	if (*r->p != '{' && *r->p != '[') {
		while (r->p < r->end && *r->p != ',' && *r->p != '}' && *r->p != ']' &&
		       *r->p != ' ' && *r->p != '\n')
			r->p++;
		return true;
	}
	size_t depth = 0;
	while (r->p < r->end) {
		char c = *r->p;
		if (c == '"') {
			if (!string(r, false, false, NULL, NULL))
				return false;
			continue;
		}
		r->p++;
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return true;
	}
	return false;
}

static bool value(struct reader *r, const char *name, size_t nlen);

/* The members or elements of an object or list the matcher went into. */
static bool members(struct reader *r, bool list)
{
	char close = list ? ']' : '}';
	r->p++;
	ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return true;
	}
	for (;;) {
		const char *k = NULL;
		size_t kn = 0;
		ws(r);
		if (!list) {
			if (r->p >= r->end || *r->p != '"' || !string(r, true, true, &k, &kn))
				return false;
			ws(r);
			if (r->p >= r->end || *r->p != ':')
				return false;
			r->p++;
		}
		if (!value(r, list ? NULL : k, kn))
			return false;
		ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return true;
		}
		return false;
	}
}

static bool value(struct reader *r, const char *name, size_t nlen)
{
	ws(r);
	if (r->p >= r->end)
		return false;
	struct fq_value v = { 0 };
	char c = *r->p;
	if (c == '{' || c == '[') {
		bool list = c == '[';
		bool ok;
		/* the key's bytes may be in r->key: begin() is done with them */
		if (r->nesting >= JSON_MAX_NESTING)
			return false;
		if (fq_begin(r->m, name, nlen, list)) {
			r->nesting++;
			ok = members(r, list);
			r->nesting--;
		} else {
			ok = skip_value(r);
		}
		fq_end(r->m);
		return ok;
	}
	if (c == '"') {
		const char *sp;
		v.kind = FQ_V_STR;
		if (!string(r, true, false, &sp, &v.n))
			return false;
		v.s = (const uint8_t *)sp;
	} else if (c == 't' || c == 'f') {
		v.kind = FQ_V_BOOL;
		v.b = c == 't';
		if (!literal(r, v.b ? "true" : "false", v.b ? 4 : 5))
			return false;
	} else if (c == 'n') {
		v.kind = FQ_V_NULL;
		if (!literal(r, "null", 4))
			return false;
	} else {
		v.kind = FQ_V_NUM;
		if (!number(r, &v.num))
			return false;
	}
	fq_scalar(r->m, name, nlen, &v);
	return true;
}

static void reader_done(struct reader *r)
{
	sonde_buf_free(&r->key_big);
	sonde_buf_free(&r->val_big);
}

bool fq_json_record(struct fq_matcher *m, const char *p, size_t n)
{
	struct reader r = { .p = p, .end = p + n, .m = m };
	ws(&r);
	bool ok = r.p < r.end && *r.p == '{' && members(&r, false);
	reader_done(&r);
	return ok;
}

bool fq_json_value(struct fq_matcher *m, const char *name, size_t nlen, const char *p, size_t n)
{
	struct reader r = { .p = p, .end = p + n, .m = m };
	bool ok = value(&r, name, nlen);
	reader_done(&r);
	return ok;
}

/* ---------------------------------------------------------------- times --- */

static bool digits(const uint8_t *s, size_t n, size_t at, size_t k, int *out)
{
	if (at + k > n)
		return false;
	int v = 0;
	for (size_t i = 0; i < k; i++) {
		if (s[at + i] < '0' || s[at + i] > '9')
			return false;
		v = v * 10 + (s[at + i] - '0');
	}
	*out = v;
	return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

bool fq_parse_time(const uint8_t *s, size_t n, int64_t *us)
{
	int y, mo, d, h = 0, mi = 0, se = 0;
	if (!digits(s, n, 0, 4, &y) || n < 10 || s[4] != '-' || !digits(s, n, 5, 2, &mo) ||
	    s[7] != '-' || !digits(s, n, 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
		return false;
	size_t i = 10;
	int64_t frac_us = 0;
	if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
		if (!digits(s, n, i + 1, 2, &h) || h > 23)
			return false;
		i += 3;
		if (i < n && s[i] == ':') {
			if (!digits(s, n, i + 1, 2, &mi) || mi > 59)
				return false;
			i += 3;
			if (i < n && s[i] == ':') {
				if (!digits(s, n, i + 1, 2, &se) || se > 60)
					return false;
				i += 3;
				if (i < n && s[i] == '.') {
					size_t k = 0;
					int64_t scale = 100000;
					for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, k++) {
						frac_us += (s[i] - '0') * scale;
						scale /= 10;
					}
					if (!k)
						return false;
				}
			}
		}
	}
	int64_t off_s = 0;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int oh, om;
		if (!digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
		    !digits(s, n, i + 4, 2, &om))
			return false;
		off_s = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		i += 6;
	}
	if (i != n)
		return false;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off_s;
	*us = secs * 1000000 + frac_us;
	return true;
}
