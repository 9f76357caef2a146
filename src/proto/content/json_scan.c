/* SPDX-License-Identifier: MIT */
/* A minimal JSON walker over untrusted bytes (see json_scan.h). */
#include "proto/content/json_scan.h"

#include "core/hex.h"
#define JSON_MAX_DEPTH 64

/* Bytes of a number or literal (true, false, null): scanned, not checked. */
static bool scalar_char(uint8_t c)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

void sonde_js_ws(const uint8_t *p, size_t n, size_t *i)
{
	while (*i < n && (p[*i] == ' ' || p[*i] == '\t' || p[*i] == '\n' || p[*i] == '\r'))
		(*i)++;
}

static bool hex4(const uint8_t *p, size_t n, size_t i, uint32_t *v)
{
	if (n - i < 4)
		return false;
	*v = 0;
	for (int k = 0; k < 4; k++) {
		int h = sonde_hexval(p[i + (size_t)k]);
		if (h < 0)
			return false;
		*v = *v << 4 | (uint32_t)h;
	}
	return true;
}

static void put_utf8(struct sonde_buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t l;
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		l = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		l = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		l = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		l = 4;
	}
	sonde_buf_append(b, u, l);
}

/* A JSON string at p[*i] ('"'); its decoded bytes into dec (may be NULL). */
bool sonde_js_string(const uint8_t *p, size_t n, size_t *i, struct sonde_buf *dec)
{
	if (*i >= n || p[*i] != '"')
		return false;
	(*i)++;
	while (*i < n) {
		uint8_t c = p[(*i)++];
		if (c == '"')
			return true;
		if (c != '\\') {
			if (dec)
				sonde_buf_append(dec, &c, 1);
			continue;
		}
		if (*i >= n)
			return false;
		c = p[(*i)++];
		uint8_t e;
		switch (c) {
		case 'n': e = '\n'; break;
		case 't': e = '\t'; break;
		case 'r': e = '\r'; break;
		case 'b': e = '\b'; break;
		case 'f': e = '\f'; break;
		case 'u': {
			uint32_t cp, lo;
			if (!hex4(p, n, *i, &cp))
				return false;
			*i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && n - *i >= 6 && p[*i] == '\\' &&
			    p[*i + 1] == 'u' && hex4(p, n, *i + 2, &lo) && lo >= 0xdc00 &&
			    lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				*i += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			if (dec)
				put_utf8(dec, cp);
			continue;
		}
		default: e = c; break; /* \" \\ \/ (and anything else, leniently) */
		}
		if (dec)
			sonde_buf_append(dec, &e, 1);
	}
	return false;
}

/* Skip one JSON value (bounded nesting). */
bool sonde_js_skip(const uint8_t *p, size_t n, size_t *i, unsigned depth)
{
	sonde_js_ws(p, n, i);
	if (*i >= n || depth > JSON_MAX_DEPTH)
		return false;
	uint8_t c = p[*i];
	if (c == '"')
		return sonde_js_string(p, n, i, NULL);
	if (c == '{' || c == '[') {
		uint8_t close = c == '{' ? '}' : ']';
		(*i)++;
		sonde_js_ws(p, n, i);
		if (*i < n && p[*i] == close) {
			(*i)++;
			return true;
		}
		for (;;) {
			if (c == '{') {
				sonde_js_ws(p, n, i);
				if (!sonde_js_string(p, n, i, NULL))
					return false;
				sonde_js_ws(p, n, i);
				if (*i >= n || p[(*i)++] != ':')
					return false;
			}
			if (!sonde_js_skip(p, n, i, depth + 1))
				return false;
			sonde_js_ws(p, n, i);
			if (*i >= n)
				return false;
			if (p[*i] == ',') {
				(*i)++;
				continue;
			}
			if (p[*i] == close) {
				(*i)++;
				return true;
			}
			return false;
		}
	}
	/* number, true, false, null */
	size_t s = *i;
	while (*i < n && (scalar_char(p[*i]) || p[*i] == '-' || p[*i] == '+' || p[*i] == '.'))
		(*i)++;
	return *i > s;
}
