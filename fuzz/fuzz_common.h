/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the fuzz targets: a strict JSON (RFC 8259) checker used as
 * an oracle on everything the writers produce, and a failure macro that
 * aborts (so libFuzzer saves the input) with a message saying what broke.
 */
#ifndef SONDE_FUZZ_COMMON_H
#define SONDE_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                   \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "FUZZ CHECK FAILED %s:%d: %s: ", __FILE__, \
				__LINE__, #cond);                               \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			abort();                                                \
		}                                                               \
	} while (0)

/*
 * The harness's own checks (the JSON checker, byte-by-byte comparisons) are
 * not the code under test: left uninstrumented (and not inlined, which
 * would instrument them as part of their caller) they cost no coverage
 * callbacks on every byte of output, and add no coverage of their own that
 * would steer the fuzzer into the oracle's branches. ASan still checks them.
 */
#define FUZZ_ORACLE __attribute__((no_sanitize("coverage"), noinline))

/* ------------------------------------------------------------- JSON --- */

struct fj {
	const uint8_t *p, *end;
	int depth;
};

FUZZ_ORACLE static inline const uint8_t *fj_value(struct fj *j, const uint8_t *p);

FUZZ_ORACLE static inline const uint8_t *fj_ws(struct fj *j, const uint8_t *p)
{
	while (p < j->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

FUZZ_ORACLE static inline int fj_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* One UTF-8 sequence (strict: no overlongs, surrogates or > U+10FFFF). */
FUZZ_ORACLE static inline const uint8_t *fj_utf8(struct fj *j, const uint8_t *p)
{
	uint8_t c = *p;
	size_t len;
	uint32_t cp, min;
	if (c < 0x80)
		return p + 1;
	if ((c & 0xe0) == 0xc0) {
		len = 2, min = 0x80, cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, min = 0x800, cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, min = 0x10000, cp = c & 0x07;
	} else {
		return NULL;
	}
	if ((size_t)(j->end - p) < len)
		return NULL;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return NULL;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return NULL;
	return p + len;
}

FUZZ_ORACLE static inline const uint8_t *fj_string(struct fj *j, const uint8_t *p)
{
	if (p >= j->end || *p != '"')
		return NULL;
	p++;
	while (p < j->end) {
		uint8_t c = *p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			if (++p >= j->end)
				return NULL;
			switch (*p) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				p++;
				break;
			case 'u':
				if (j->end - p < 5 || !fj_hex(p[1]) || !fj_hex(p[2]) || !fj_hex(p[3]) ||
				    !fj_hex(p[4]))
					return NULL;
				p += 5;
				break;
			default:
				return NULL;
			}
			continue;
		}
		p = fj_utf8(j, p);
		if (!p)
			return NULL;
	}
	return NULL;
}

FUZZ_ORACLE static inline const uint8_t *fj_number(struct fj *j, const uint8_t *p)
{
	const uint8_t *e = j->end;
	if (p < e && *p == '-')
		p++;
	if (p >= e)
		return NULL;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	} else {
		return NULL;
	}
	if (p < e && *p == '.') {
		p++;
		if (p >= e || *p < '0' || *p > '9')
			return NULL;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return NULL;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

FUZZ_ORACLE static inline const uint8_t *fj_lit(struct fj *j, const uint8_t *p, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(j->end - p) < n || memcmp(p, lit, n))
		return NULL;
	return p + n;
}

FUZZ_ORACLE static inline const uint8_t *fj_value(struct fj *j, const uint8_t *p)
{
	p = fj_ws(j, p);
	if (p >= j->end)
		return NULL;
	switch (*p) {
	case '"':
		return fj_string(j, p);
	case 't':
		return fj_lit(j, p, "true");
	case 'f':
		return fj_lit(j, p, "false");
	case 'n':
		return fj_lit(j, p, "null");
	case '{':
	case '[': {
		uint8_t close = *p == '{' ? '}' : ']';
		int obj = *p == '{';
		if (++j->depth > 64)
			return NULL;
		p = fj_ws(j, p + 1);
		if (p < j->end && *p == close) {
			j->depth--;
			return p + 1;
		}
		for (;;) {
			if (obj) {
				p = fj_string(j, fj_ws(j, p));
				if (!p)
					return NULL;
				p = fj_ws(j, p);
				if (p >= j->end || *p != ':')
					return NULL;
				p++;
			}
			p = fj_value(j, p);
			if (!p)
				return NULL;
			p = fj_ws(j, p);
			if (p >= j->end)
				return NULL;
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p != close)
				return NULL;
			j->depth--;
			return p + 1;
		}
	}
	default:
		return fj_number(j, p);
	}
}

/*
 * Is buf[0..len) JSON Lines: one or more JSON objects, each alone on a line
 * ending with '\n'? Returns NULL if so, else a static description of where
 * it broke.
 */
FUZZ_ORACLE static inline const char *fuzz_jsonl_error(const uint8_t *buf, size_t len)
{
	static char why[96];
	const uint8_t *p = buf, *end = buf + len;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			snprintf(why, sizeof(why), "line at offset %zu has no newline",
				 (size_t)(p - buf));
			return why;
		}
		struct fj j = { p, nl, 0 };
		if (*p != '{') {
			snprintf(why, sizeof(why), "line at offset %zu is not an object",
				 (size_t)(p - buf));
			return why;
		}
		const uint8_t *q = fj_value(&j, p);
		if (!q || q != nl) {
			snprintf(why, sizeof(why), "invalid JSON in line at offset %zu (near %zu)",
				 (size_t)(p - buf), q ? (size_t)(q - buf) : (size_t)0);
			return why;
		}
		p = nl + 1;
	}
	return NULL;
}

/* Abort with the offending text when buf is not valid JSON Lines. */
FUZZ_ORACLE static inline void fuzz_check_jsonl(const uint8_t *buf, size_t len)
{
	const char *why = fuzz_jsonl_error(buf, len);
	if (why) {
		fprintf(stderr, "FUZZ CHECK FAILED: writer produced invalid JSON: %s\n", why);
		fwrite(buf, 1, len > 4096 ? 4096 : len, stderr);
		fputc('\n', stderr);
		abort();
	}
}

#endif
