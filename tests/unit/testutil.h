/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the unit tests:
 *
 *  - tj_*: a small JSON reader, so tests can look at records the way a
 *    consumer does (through sonde_record_json, the documented schema).
 *  - tu_collector: a struct sonde_record_out that keeps a copy of what every
 *    record says (flags, message fields, body bytes, the record's JSON line).
 *  - tu_h1: the HTTP/1 dissector opened on a fake session whose pairing
 *    writes into a collector, plus feeding helpers.
 *  - tu_bytes: a growable byte buffer with big/little-endian writers, for
 *    building packets and capture files.
 *  - tu_rng: a tiny deterministic PRNG (fixed seeds, reproducible tests).
 *
 * Everything is static (and marked unused) so each test file includes only
 * what it needs without tripping -Wunused-function.
 */
#ifndef SONDE_TESTUTIL_H
#define SONDE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/chunk.h"
#include "core/hex.h"
#include "core/record.h"
#include "core/stats.h"
#include "pair/pairing.h"
#include "proto/dissector.h"
#include "redact/redact_stage.h"
#include "sink/sink.h"

#define TU_FN __attribute__((unused)) static

extern const struct sonde_dissector sonde_dissector_http1;

/* ================================================================ misc === */

TU_FN void *tu_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

TU_FN void *tu_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

TU_FN char *tu_strndup(const void *p, size_t n)
{
	char *s = tu_xmalloc(n + 1);
	if (n)
		memcpy(s, p, n);
	s[n] = 0;
	return s;
}

/*
 * Cleanups for a failing test: cmocka leaves a test by longjmp on the first
 * failed assertion, so state a test allocated is registered here and freed
 * by tu_teardown (run after every test), keeping LeakSanitizer reports for
 * real leaks only. What is registered must outlive the test function's
 * frame (heap or static storage): the teardown runs after the longjmp.
 */
struct tu_cleanup {
	void (*fn)(void *);
	void *arg;
};

__attribute__((unused)) static struct tu_cleanup tu_cleanups[256];
__attribute__((unused)) static int tu_ncleanups;

TU_FN void tu_cleanup_push(void (*fn)(void *), void *arg)
{
	if (tu_ncleanups < (int)(sizeof(tu_cleanups) / sizeof(tu_cleanups[0])))
		tu_cleanups[tu_ncleanups++] = (struct tu_cleanup){ fn, arg };
}

/* Forget the cleanups of arg (the test freed it itself). */
TU_FN void tu_cleanup_pop(void *arg)
{
	int k = 0;
	for (int i = 0; i < tu_ncleanups; i++)
		if (tu_cleanups[i].arg != arg)
			tu_cleanups[k++] = tu_cleanups[i];
	tu_ncleanups = k;
}

TU_FN int tu_teardown(void **state)
{
	(void)state;
	struct tu_cleanup todo[sizeof(tu_cleanups) / sizeof(tu_cleanups[0])];
	int n = tu_ncleanups;
	memcpy(todo, tu_cleanups, (size_t)n * sizeof(todo[0]));
	tu_ncleanups = 0; /* pops from the cleanups below find nothing */
	while (n > 0) {
		n--;
		todo[n].fn(todo[n].arg);
	}
	return 0;
}

#define tu_test(f) cmocka_unit_test_teardown(f, tu_teardown)

/* SONDE_TEST_FILTER / SONDE_TEST_SKIP: run only / skip the tests whose
 * names match the pattern (cmocka's * and ? wildcards). Call from main. */
TU_FN void tu_filters(void)
{
	const char *f = getenv("SONDE_TEST_FILTER"), *s = getenv("SONDE_TEST_SKIP");
	if (f && *f)
		cmocka_set_test_filter(f);
	if (s && *s)
		cmocka_set_skip_filter(s);
}

/* Deterministic xorshift64*: tests use fixed seeds. */
struct tu_rng {
	uint64_t s;
};

TU_FN void tu_rng_seed(struct tu_rng *r, uint64_t seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	if (!r->s)
		r->s = 1;
}

TU_FN uint64_t tu_rng_next(struct tu_rng *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Uniform-ish in [0, n). */
TU_FN uint64_t tu_rng_below(struct tu_rng *r, uint64_t n)
{
	return n ? tu_rng_next(r) % n : 0;
}

/* ============================================================== bytes === */

struct tu_bytes {
	uint8_t *p;
	size_t len, cap;
};

TU_FN void tu_bytes_put(struct tu_bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t nc = b->cap ? b->cap : 64;
		while (nc < b->len + n)
			nc *= 2;
		b->p = tu_xrealloc(b->p, nc);
		b->cap = nc;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

TU_FN void tu_bytes_str(struct tu_bytes *b, const char *s)
{
	tu_bytes_put(b, s, strlen(s));
}

TU_FN void tu_bytes_zero(struct tu_bytes *b, size_t n)
{
	static const uint8_t z[64];
	while (n) {
		size_t k = n < sizeof(z) ? n : sizeof(z);
		tu_bytes_put(b, z, k);
		n -= k;
	}
}

TU_FN void tu_u8(struct tu_bytes *b, uint8_t v)
{
	tu_bytes_put(b, &v, 1);
}

TU_FN void tu_be16(struct tu_bytes *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	tu_bytes_put(b, x, 2);
}

TU_FN void tu_be32(struct tu_bytes *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	tu_bytes_put(b, x, 4);
}

TU_FN void tu_le16(struct tu_bytes *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	tu_bytes_put(b, x, 2);
}

TU_FN void tu_le32(struct tu_bytes *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	tu_bytes_put(b, x, 4);
}

/* Overwrite 2/4 bytes at `off` (big endian), e.g. a length filled in later. */
TU_FN void tu_set_be16(struct tu_bytes *b, size_t off, uint16_t v)
{
	b->p[off] = (uint8_t)(v >> 8);
	b->p[off + 1] = (uint8_t)v;
}

TU_FN void tu_set_le32(struct tu_bytes *b, size_t off, uint32_t v)
{
	b->p[off] = (uint8_t)v;
	b->p[off + 1] = (uint8_t)(v >> 8);
	b->p[off + 2] = (uint8_t)(v >> 16);
	b->p[off + 3] = (uint8_t)(v >> 24);
}

TU_FN void tu_set_be32(struct tu_bytes *b, size_t off, uint32_t v)
{
	b->p[off] = (uint8_t)(v >> 24);
	b->p[off + 1] = (uint8_t)(v >> 16);
	b->p[off + 2] = (uint8_t)(v >> 8);
	b->p[off + 3] = (uint8_t)v;
}

TU_FN void tu_bytes_free(struct tu_bytes *b)
{
	tu_cleanup_pop(b);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

TU_FN void tu_bytes_free_cb(void *b)
{
	tu_bytes_free(b);
}

/* Free b in tu_teardown if the test fails first (b: static storage). */
TU_FN void tu_bytes_track(struct tu_bytes *b)
{
	tu_cleanup_push(tu_bytes_free_cb, b);
}

/* =============================================================== JSON === */

enum tj_type { TJ_NULL, TJ_BOOL, TJ_NUM, TJ_STR, TJ_ARR, TJ_OBJ };

struct tj {
	enum tj_type type;
	bool b;
	double num;
	char *str; /* TJ_STR: decoded bytes (NUL-terminated); TJ_NUM: the literal */
	size_t len;
	struct tj **items; /* TJ_ARR, TJ_OBJ */
	char **keys; /* TJ_OBJ */
	size_t n;
};

struct tj_parser {
	const char *p, *end;
	int depth;
};

TU_FN void tj_free(struct tj *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		tj_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

TU_FN struct tj *tj_value(struct tj_parser *j);

TU_FN void tj_ws(struct tj_parser *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

TU_FN int tj_hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int d = sonde_hexval((uint8_t)p[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

TU_FN void tj_utf8_put(struct sonde_buf *b, uint32_t cp)
{
	if (cp < 0x80) {
		sonde_buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		sonde_buf_putc(b, (char)(0xc0 | cp >> 6));
		sonde_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		sonde_buf_putc(b, (char)(0xe0 | cp >> 12));
		sonde_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sonde_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		sonde_buf_putc(b, (char)(0xf0 | cp >> 18));
		sonde_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		sonde_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sonde_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

/* A string literal at j->p; returns malloc'd decoded bytes. */
TU_FN char *tj_string(struct tj_parser *j, size_t *len)
{
	if (j->p >= j->end || *j->p != '"')
		return NULL;
	j->p++;
	struct sonde_buf b = { 0 };
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			sonde_buf_putc(&b, (char)c);
			j->p++;
			continue;
		}
		if (j->end - j->p < 2)
			goto bad;
		char e = j->p[1];
		j->p += 2;
		switch (e) {
		case '"': sonde_buf_putc(&b, '"'); break;
		case '\\': sonde_buf_putc(&b, '\\'); break;
		case '/': sonde_buf_putc(&b, '/'); break;
		case 'b': sonde_buf_putc(&b, '\b'); break;
		case 'f': sonde_buf_putc(&b, '\f'); break;
		case 'n': sonde_buf_putc(&b, '\n'); break;
		case 'r': sonde_buf_putc(&b, '\r'); break;
		case 't': sonde_buf_putc(&b, '\t'); break;
		case 'u': {
			uint32_t cp;
			if (j->end - j->p < 4 || tj_hex4(j->p, &cp) < 0)
				goto bad;
			j->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				uint32_t lo;
				if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
				    tj_hex4(j->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				j->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				goto bad;
			}
			tj_utf8_put(&b, cp);
			break;
		}
		default:
			goto bad;
		}
	}
	if (j->p >= j->end)
		goto bad;
	j->p++;
	*len = b.len;
	char *s = tu_strndup(b.p ? (const char *)b.p : "", b.len);
	sonde_buf_free(&b);
	return s;
bad:
	sonde_buf_free(&b);
	return NULL;
}

TU_FN struct tj *tj_new(enum tj_type t)
{
	struct tj *v = tu_xmalloc(sizeof(*v));
	memset(v, 0, sizeof(*v));
	v->type = t;
	return v;
}

TU_FN void tj_push(struct tj *v, char *key, struct tj *item)
{
	v->items = tu_xrealloc(v->items, (v->n + 1) * sizeof(*v->items));
	if (v->type == TJ_OBJ) {
		v->keys = tu_xrealloc(v->keys, (v->n + 1) * sizeof(*v->keys));
		v->keys[v->n] = key;
	}
	v->items[v->n++] = item;
}

TU_FN struct tj *tj_value(struct tj_parser *j)
{
	tj_ws(j);
	if (j->p >= j->end || ++j->depth > 64)
		return NULL;
	struct tj *v = NULL;
	char c = *j->p;
	if (c == '{' || c == '[') {
		bool obj = c == '{';
		v = tj_new(obj ? TJ_OBJ : TJ_ARR);
		j->p++;
		tj_ws(j);
		if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
			j->p++;
			goto done;
		}
		for (;;) {
			char *key = NULL;
			if (obj) {
				size_t kl;
				tj_ws(j);
				key = tj_string(j, &kl);
				if (!key)
					goto bad;
				tj_ws(j);
				if (j->p >= j->end || *j->p != ':') {
					free(key);
					goto bad;
				}
				j->p++;
			}
			struct tj *item = tj_value(j);
			if (!item) {
				free(key);
				goto bad;
			}
			tj_push(v, key, item);
			tj_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
				j->p++;
				goto done;
			}
			goto bad;
		}
	} else if (c == '"') {
		v = tj_new(TJ_STR);
		v->str = tj_string(j, &v->len);
		if (!v->str)
			goto bad;
	} else if (c == 't' && j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) {
		v = tj_new(TJ_BOOL);
		v->b = true;
		j->p += 4;
	} else if (c == 'f' && j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) {
		v = tj_new(TJ_BOOL);
		j->p += 5;
	} else if (c == 'n' && j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) {
		v = tj_new(TJ_NULL);
		j->p += 4;
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		const char *s = j->p;
		while (j->p < j->end && (strchr("+-.eE", *j->p) || (*j->p >= '0' && *j->p <= '9')))
			j->p++;
		v = tj_new(TJ_NUM);
		v->str = tu_strndup(s, (size_t)(j->p - s));
		v->len = (size_t)(j->p - s);
		v->num = strtod(v->str, NULL);
	} else {
		return NULL;
	}
done:
	j->depth--;
	return v;
bad:
	tj_free(v);
	return NULL;
}

/* Parse one JSON value (trailing whitespace allowed); NULL if invalid. */
TU_FN struct tj *tj_parse(const void *p, size_t n)
{
	struct tj_parser j = { .p = p, .end = (const char *)p + n, .depth = 0 };
	struct tj *v = tj_value(&j);
	if (!v)
		return NULL;
	tj_ws(&j);
	if (j.p != j.end) {
		tj_free(v);
		return NULL;
	}
	return v;
}

TU_FN const struct tj *tj_get(const struct tj *o, const char *key)
{
	if (!o || o->type != TJ_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return o->items[i];
	return NULL;
}

TU_FN const struct tj *tj_at(const struct tj *a, size_t i)
{
	if (!a || (a->type != TJ_ARR && a->type != TJ_OBJ) || i >= a->n)
		return NULL;
	return a->items[i];
}

TU_FN uint64_t tj_u64(const struct tj *v)
{
	if (!v || v->type != TJ_NUM)
		return UINT64_MAX;
	return strtoull(v->str, NULL, 10);
}

TU_FN const char *tj_cstr(const struct tj *v)
{
	return v && v->type == TJ_STR ? v->str : NULL;
}

/* ============================================================= base64 === */

TU_FN int tu_b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode standard base64; returns malloc'd bytes, or NULL if malformed. */
TU_FN uint8_t *tu_b64decode(const char *s, size_t n, size_t *out_len)
{
	if (n % 4)
		return NULL;
	uint8_t *o = tu_xmalloc(n / 4 * 3 + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int q = 0; q < 4; q++) {
			if (s[i + q] == '=' && i + 4 == n && q >= 2) {
				v[q] = 0;
				pad++;
			} else {
				v[q] = tu_b64val(s[i + q]);
				if (v[q] < 0 || pad) {
					free(o);
					return NULL;
				}
			}
		}
		uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		o[k++] = (uint8_t)(x >> 16);
		if (pad < 2)
			o[k++] = (uint8_t)(x >> 8);
		if (pad < 1)
			o[k++] = (uint8_t)x;
	}
	*out_len = k;
	return o;
}

/* ========================================================== collector === */

#define TU_MAX_FIELDS 256

/* What one message of a record said. */
struct tu_msg {
	bool present;
	uint8_t kind;
	uint32_t flags; /* enum sonde_msg_flags */
	uint64_t wire_bytes, captured_bytes, ts_first, ts_last;
	char version[16];
	char *method, *target, *reason; /* NULL when absent */
	size_t target_len;
	int status; /* -1: no status member (a request); 0: null (HTTP/0.9) */
	size_t nheaders, ntrailers;
	char *hname[TU_MAX_FIELDS], *hval[TU_MAX_FIELDS];
	char *tname[TU_MAX_FIELDS], *tval[TU_MAX_FIELDS];
	size_t ninterim;
	int interim[8];
	uint64_t body_size, body_captured;
	bool has_data;
	uint8_t *body; /* body.data decoded (utf8 or base64) */
	size_t body_len;
	bool decoded;
	uint64_t decoded_size;
	char *content_encoding;
};

struct tu_rec {
	uint32_t flags; /* enum sonde_record_flags */
	uint64_t conn_id;
	bool midstream, role_known;
	struct sonde_endpoint client, server;
	struct tu_msg req, resp;
	char *json; /* the record's JSON line, as the sink writes it */
	size_t json_len;
	bool json_ok; /* it parsed as JSON */
};

struct tu_collector {
	struct tu_rec *r;
	size_t n, cap;
	struct sonde_record_out out;
	/* non-NULL: each record goes through the redaction stage first, as
	 * in front of every sink */
	const struct sonde_redactor *redact;
	bool bad_record; /* a record broke an invariant (see tu_collector_emit) */
	char why[256];
};

TU_FN void tu_fields(const struct tj *arr, size_t *n, char **names, char **vals)
{
	*n = 0;
	if (!arr || arr->type != TJ_ARR)
		return;
	for (size_t i = 0; i < arr->n && i < TU_MAX_FIELDS; i++) {
		const struct tj *nv = arr->items[i];
		const char *a = tj_cstr(tj_at(nv, 0)), *b = tj_cstr(tj_at(nv, 1));
		names[i] = tu_strndup(a ? a : "", a ? strlen(a) : 0);
		vals[i] = tu_strndup(b ? b : "", b ? tj_at(nv, 1)->len : 0);
	}
	*n = arr->n < TU_MAX_FIELDS ? arr->n : TU_MAX_FIELDS;
}

TU_FN void tu_msg_fill(struct tu_msg *t, const struct sonde_msg *m, const struct tj *o)
{
	t->present = true;
	t->kind = m->kind;
	t->flags = m->flags;
	t->wire_bytes = m->wire_bytes;
	t->captured_bytes = m->captured_bytes;
	t->ts_first = m->ts_first;
	t->ts_last = m->ts_last;
	snprintf(t->version, sizeof(t->version), "%s", m->version ? m->version : "");
	const struct tj *v;
	if ((v = tj_get(o, "method")) && v->type == TJ_STR)
		t->method = tu_strndup(v->str, v->len);
	if ((v = tj_get(o, "target")) && v->type == TJ_STR) {
		t->target = tu_strndup(v->str, v->len);
		t->target_len = v->len;
	}
	if ((v = tj_get(o, "reason")) && v->type == TJ_STR)
		t->reason = tu_strndup(v->str, v->len);
	v = tj_get(o, "status");
	t->status = !v ? -1 : v->type == TJ_NUM ? (int)v->num : 0;
	tu_fields(tj_get(o, "headers"), &t->nheaders, t->hname, t->hval);
	tu_fields(tj_get(o, "trailers"), &t->ntrailers, t->tname, t->tval);
	const struct tj *in = tj_get(o, "interim");
	for (size_t i = 0; in && i < in->n && i < 8; i++)
		t->interim[t->ninterim++] = (int)in->items[i]->num;
	const struct tj *body = tj_get(o, "body");
	t->body_size = tj_u64(tj_get(body, "size"));
	t->body_captured = tj_u64(tj_get(body, "captured"));
	if ((v = tj_get(body, "content_encoding")) && v->type == TJ_STR)
		t->content_encoding = tu_strndup(v->str, v->len);
	if ((v = tj_get(body, "decoded")) && v->type == TJ_BOOL)
		t->decoded = v->b;
	if ((v = tj_get(body, "decoded_size")))
		t->decoded_size = tj_u64(v);
	const struct tj *data = tj_get(body, "data");
	const char *enc = tj_cstr(tj_get(body, "encoding"));
	if (data && data->type == TJ_STR) {
		t->has_data = true;
		if (enc && !strcmp(enc, "base64")) {
			t->body = tu_b64decode(data->str, data->len, &t->body_len);
		} else {
			t->body = (uint8_t *)tu_strndup(data->str, data->len);
			t->body_len = data->len;
		}
	}
}

TU_FN void tu_msg_free(struct tu_msg *t)
{
	free(t->method);
	free(t->target);
	free(t->reason);
	free(t->body);
	free(t->content_encoding);
	for (size_t i = 0; i < t->nheaders; i++) {
		free(t->hname[i]);
		free(t->hval[i]);
	}
	for (size_t i = 0; i < t->ntrailers; i++) {
		free(t->tname[i]);
		free(t->tval[i]);
	}
	memset(t, 0, sizeof(*t));
}

TU_FN void tu_collector_emit(void *ctx, const struct sonde_record *r)
{
	struct tu_collector *c = ctx;
	struct sonde_record masked;
	void *stage = NULL;
	if (c->redact) {
		masked = *r;
		stage = sonde_redact_stage_new(c->redact, NULL);
		sonde_redact_stage.record(stage, &masked);
		r = &masked;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->r = tu_xrealloc(c->r, c->cap * sizeof(*c->r));
	}
	struct tu_rec *x = &c->r[c->n++];
	memset(x, 0, sizeof(*x));
	x->flags = r->flags;
	x->conn_id = r->conn->id;
	x->midstream = r->conn->midstream;
	x->role_known = r->conn->role_known;
	x->client = r->conn->client;
	x->server = r->conn->server;
	struct sonde_buf b = { 0 };
	sonde_record_json(r, &b);
	x->json = tu_strndup(b.p, b.len);
	x->json_len = b.len;
	struct tj *root = tj_parse(b.p, b.len);
	sonde_buf_free(&b);
	x->json_ok = root != NULL;
	/* Invariants every record must keep; checked by tu_collector_ok(). */
	if (!root && !c->bad_record) {
		c->bad_record = true;
		snprintf(c->why, sizeof(c->why), "record %zu is not valid JSON", c->n - 1);
	}
	if (!r->req && !r->resp && !c->bad_record) {
		c->bad_record = true;
		snprintf(c->why, sizeof(c->why), "record %zu has neither request nor response", c->n - 1);
	}
	if (r->req)
		tu_msg_fill(&x->req, r->req, tj_get(root, "request"));
	if (r->resp)
		tu_msg_fill(&x->resp, r->resp, tj_get(root, "response"));
	tj_free(root);
	if (stage)
		sonde_redact_stage.close(stage);
}

TU_FN void tu_collector_init(struct tu_collector *c)
{
	memset(c, 0, sizeof(*c));
	c->out.emit = tu_collector_emit;
	c->out.ctx = c;
}

TU_FN void tu_collector_free(struct tu_collector *c)
{
	for (size_t i = 0; i < c->n; i++) {
		tu_msg_free(&c->r[i].req);
		tu_msg_free(&c->r[i].resp);
		free(c->r[i].json);
	}
	free(c->r);
	c->r = NULL;
	c->n = c->cap = 0;
}

/* Fail the test if a record broke an invariant. */
#define tu_collector_ok(c)                                              \
	do {                                                            \
		if ((c)->bad_record)                                    \
			fail_msg("bad record: %s", (c)->why);           \
	} while (0)

/* Print every collected record (for failure diagnostics). */
TU_FN void tu_collector_dump(const struct tu_collector *c, const char *title)
{
	fflush(stdout);
	fprintf(stderr, "---- %s: %zu records\n", title, c->n);
	for (size_t i = 0; i < c->n; i++)
		fprintf(stderr, "%s", c->r[i].json);
}

/* Compare a span-like result with a C string. */
#define assert_str(actual, expected)                                        \
	do {                                                                \
		const char *a_ = (actual), *e_ = (expected);                    \
		if (!a_ || strcmp(a_, e_))                                   \
			fail_msg("expected \"%s\", got \"%s\"", e_, a_ ? a_ : "(null)"); \
	} while (0)

#define assert_bytes(actual, alen, expected, elen)                                   \
	do {                                                                         \
		size_t al_ = (alen), el_ = (elen);                                       \
		if (al_ != el_)                                                          \
			fail_msg("length %zu, expected %zu", al_, el_);                   \
		if (el_ && memcmp((actual), (expected), el_))                            \
			fail_msg("bytes differ (length %zu)", el_);                       \
	} while (0)

/* ======================================================= HTTP/1 harness === */

/* The HTTP/1 dissector opened on a fake session writing into a collector. */
struct tu_h1 {
	struct sonde_conn_info info;
	struct sonde_dissect_opts opts;
	struct sonde_stats stats;
	struct sonde_session sess;
	struct sonde_pending_budget pending; /* requests waiting, all "connections" */
	struct tu_collector col;
	const struct sonde_dissector *d;
	void *state;
	uint64_t consumed[2]; /* bytes data() accepted per direction */
};

TU_FN void tu_dissect_defaults(struct sonde_dissect_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->body_limit = 64u << 10;
	o->max_head = 64u << 10;
	o->max_waiting = 1024;
	o->pending_mem = 256u << 20;
	o->decode_bodies = 0;
}

TU_FN void tu_endpoint4(struct sonde_endpoint *e, uint8_t a, uint8_t b, uint8_t c, uint8_t d,
			uint16_t port)
{
	memset(e, 0, sizeof(*e));
	e->family = 2; /* AF_INET */
	e->addr[0] = a;
	e->addr[1] = b;
	e->addr[2] = c;
	e->addr[3] = d;
	e->port = port;
}

TU_FN void tu_h1_free(struct tu_h1 *h);
TU_FN void tu_h1_free_cb(void *h)
{
	tu_h1_free(h);
}

/* h must stay at the same address until tu_h1_free (the dissector keeps
 * pointers into it). opts NULL: defaults. */
TU_FN void tu_h1_open(struct tu_h1 *h, const struct sonde_dissect_opts *opts, bool mid_c2s,
		      bool mid_s2c)
{
	memset(h, 0, sizeof(*h));
	if (opts)
		h->opts = *opts;
	else
		tu_dissect_defaults(&h->opts);
	h->info.id = 1;
	tu_endpoint4(&h->info.client, 10, 0, 0, 1, 40000);
	tu_endpoint4(&h->info.server, 10, 0, 0, 2, 80);
	h->info.role_known = true;
	h->info.midstream = mid_c2s || mid_s2c;
	h->info.l4 = SONDE_L4_TCP;
	h->info.origin = SONDE_ORIGIN_PCAP_FILE;
	h->info.source = "unit";
	tu_collector_init(&h->col);
	h->sess.conn = &h->info;
	h->sess.opts = &h->opts;
	h->sess.stats = &h->stats;
	h->sess.midstream[SONDE_DIR_C2S] = mid_c2s;
	h->sess.midstream[SONDE_DIR_S2C] = mid_s2c;
	h->pending.limit = h->opts.pending_mem;
	sonde_pairing_init(&h->sess.pairing, &h->info, &h->col.out, &h->stats, h->opts.max_waiting,
			   &h->pending);
	h->d = &sonde_dissector_http1;
	h->state = h->d->open(&h->sess);
	tu_cleanup_push(tu_h1_free_cb, h);
}

/* Feed bytes; returns what the dissector consumed. Checks the contract:
 * fewer than n only after switch_to was set. */
TU_FN size_t tu_h1_data(struct tu_h1 *h, enum sonde_dir dir, const void *p, size_t n, uint64_t ts)
{
	size_t used = h->d->data(h->state, dir, p, n, ts);
	if (used > n)
		fail_msg("data() consumed %zu of %zu bytes", used, n);
	if (used < n && !h->sess.switch_to)
		fail_msg("data() consumed %zu of %zu bytes without setting switch_to", used, n);
	h->consumed[dir] += used;
	return used;
}

TU_FN size_t tu_h1_str(struct tu_h1 *h, enum sonde_dir dir, const char *s, uint64_t ts)
{
	return tu_h1_data(h, dir, s, strlen(s), ts);
}

TU_FN void tu_h1_gap(struct tu_h1 *h, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	h->d->gap(h->state, dir, n, ts);
}

TU_FN void tu_h1_end(struct tu_h1 *h, enum sonde_dir dir, uint64_t ts)
{
	h->d->end(h->state, dir, ts);
}

/* Close the dissector (emits what is pending); the collector stays. */
TU_FN void tu_h1_close(struct tu_h1 *h, uint64_t ts)
{
	if (h->state) {
		h->d->close(h->state, ts);
		h->state = NULL;
	}
}

TU_FN void tu_h1_free(struct tu_h1 *h)
{
	tu_cleanup_pop(h);
	tu_h1_close(h, 0);
	tu_collector_free(&h->col);
}

/* One redactor for a test binary, under a fixed key, as in front of every
 * sink; tu_mask: the mask it writes for s (valid until the next call). */
TU_FN const struct sonde_redactor *tu_redactor(void)
{
	static struct sonde_redactor r;
	static bool ready;
	if (!ready) {
		sonde_redactor_init(&r);
		sonde_redactor_set_key(&r, "k", 1);
		ready = true;
	}
	return &r;
}

TU_FN const char *tu_mask(const char *s)
{
	static char m[SONDE_REDACT_MASK_MAX];
	sonde_redact_mask(tu_redactor(), (const uint8_t *)s, strlen(s), m);
	return m;
}

#endif
