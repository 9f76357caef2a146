/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the chunked decoder (src/proto/http/chunked.c), fed the same
 * input three ways: whole, split at a position the input chooses, and byte
 * by byte.
 *
 * Input layout: u16 LE split position (modulo the length), then the body.
 *
 * Oracles besides the sanitizers: each step consumes no more than it was
 * given, makes progress unless it reports END or ERROR, and hands out data
 * inside its input; all three ways give the same data and outcome, and the
 * same stopping offset unless the outcome is ERROR (a size line past the
 * length limit is refused by the piece that passes it, so where depends on
 * the pieces); the data is never more than the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "proto/http/chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum outcome { OPEN, END, ERROR };

struct result {
	struct sonde_buf data;
	enum outcome how;
	size_t at;
};

static void feed(struct sonde_chunked *c, struct result *r, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && r->how == OPEN) {
		struct sonde_chunked_step s = sonde_chunked_feed(c, p + i, n - i);
		FUZZ_CHECK(s.used <= n - i, "used %zu of %zu", s.used, n - i);
		if (s.ev == SONDE_CHUNKED_BYTES) {
			FUZZ_CHECK(s.data == p + i && s.used, "data outside the input");
			sonde_buf_append(&r->data, s.data, s.used);
		}
		FUZZ_CHECK(s.used || s.ev == SONDE_CHUNKED_END || s.ev == SONDE_CHUNKED_ERROR,
			   "no progress at state %d", (int)c->st);
		i += s.used;
		r->at += s.used;
		if (s.ev == SONDE_CHUNKED_END)
			r->how = END;
		else if (s.ev == SONDE_CHUNKED_ERROR)
			r->how = ERROR;
	}
}

/* step 0: whole; else pieces of `step` bytes after a first piece of `first`. */
static void run(struct result *r, const uint8_t *p, size_t n, size_t first, size_t step)
{
	struct sonde_chunked c;
	sonde_chunked_init(&c);
	memset(r, 0, sizeof(*r));
	if (!step) {
		feed(&c, r, p, n);
		return;
	}
	size_t k = first < n ? first : n;
	feed(&c, r, p, k);
	for (size_t i = k; i < n; i += step)
		feed(&c, r, p + i, n - i < step ? n - i : step);
}

static void same(const struct result *a, const struct result *b, const char *how)
{
	FUZZ_CHECK(a->how == b->how, "%s: outcome %d, whole %d", how, (int)b->how, (int)a->how);
	FUZZ_CHECK(a->data.len == b->data.len &&
			   (!a->data.len || !memcmp(a->data.p, b->data.p, a->data.len)),
		   "%s: %zu data bytes, whole %zu", how, b->data.len, a->data.len);
	FUZZ_CHECK(a->how == ERROR || a->at == b->at, "%s: stopped at %zu, whole at %zu", how,
		   b->at, a->at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t cut = (size_t)data[0] | (size_t)data[1] << 8;
	data += 2;
	size -= 2;
	cut = size ? cut % (size + 1) : 0;
	struct result whole, split, bytes;
	run(&whole, data, size, 0, 0);
	run(&split, data, size, cut, size ? size : 1);
	run(&bytes, data, size, 0, 1);
	FUZZ_CHECK(whole.data.len <= size, "more data than input");
	same(&whole, &split, "split");
	same(&whole, &bytes, "byte by byte");
	sonde_buf_free(&whole.data);
	sonde_buf_free(&split.data);
	sonde_buf_free(&bytes.data);
	return 0;
}
