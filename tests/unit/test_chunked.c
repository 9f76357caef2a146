/* SPDX-License-Identifier: MIT */
/*
 * The chunked decoder (src/proto/http/chunked.c) fed whole, split at every
 * offset and byte by byte, which must all agree: data, extensions, blanks,
 * bare LF, hex case, 15 digits; where it stops (the trailer section is the
 * caller's); malformed lines reported at their LF, a wrong line end after
 * data at that byte, 16 digits, and staying malformed; the line-length
 * limit (which depends on how the line arrives, by design); random bodies
 * in random chunks.
 */
#include "testutil.h"

#include "proto/http/chunked.h"

enum outcome { OPEN, END, ERROR };

struct result {
	struct tu_bytes data;
	enum outcome how;
	size_t at; /* bytes consumed in all */
};

/* Feed one piece until it is used up or the decoder stops. */
static void feed_piece(struct sonde_chunked *c, struct result *r, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && r->how == OPEN) {
		struct sonde_chunked_step s = sonde_chunked_feed(c, p + i, n - i);
		assert_true(s.used <= n - i);
		if (s.ev == SONDE_CHUNKED_BYTES) {
			assert_ptr_equal(s.data, p + i);
			tu_bytes_put(&r->data, s.data, s.used);
		} else {
			assert_true(s.ev != SONDE_CHUNKED_MORE || s.used > 0); /* progress */
		}
		i += s.used;
		r->at += s.used;
		if (s.ev == SONDE_CHUNKED_END)
			r->how = END;
		else if (s.ev == SONDE_CHUNKED_ERROR)
			r->how = ERROR;
	}
}

/* cut: 0 whole; SIZE_MAX byte by byte; else two pieces split at cut. */
static void run(struct result *r, const char *in, size_t n, size_t cut)
{
	struct sonde_chunked c;
	sonde_chunked_init(&c);
	memset(r, 0, sizeof(*r));
	const uint8_t *p = (const uint8_t *)in;
	if (cut == SIZE_MAX) {
		for (size_t i = 0; i < n; i++)
			feed_piece(&c, r, p + i, 1);
	} else {
		size_t k = cut < n ? cut : n;
		feed_piece(&c, r, p, k);
		feed_piece(&c, r, p + k, n - k);
	}
	if (r->how != OPEN) {
		/* it stays where it stopped */
		struct sonde_chunked_step s = sonde_chunked_feed(&c, (const uint8_t *)"0\r\n", 3);
		assert_int_equal(s.used, 0);
		assert_int_equal(s.ev, r->how == END ? SONDE_CHUNKED_END : SONDE_CHUNKED_ERROR);
	}
}

/* Every way of feeding `in` gives the same data, outcome and offset. */
static void check(const char *in, size_t n, const char *data, size_t dlen, enum outcome how,
		  size_t at)
{
	struct result r;
	for (size_t cut = 0; cut <= n + 1; cut++) {
		run(&r, in, n, cut == n + 1 ? SIZE_MAX : cut);
		if (r.data.len != dlen || (dlen && memcmp(r.data.p, data, dlen)) || r.how != how ||
		    r.at != at)
			fail_msg("%.*s: cut %zu: %zu data bytes, outcome %d at %zu (want %zu, %d at %zu)",
				 (int)n, in, cut, r.data.len, (int)r.how, r.at, dlen, (int)how, at);
		tu_bytes_free(&r.data);
	}
}

#define CHECK(in, data, how, at) check(in, sizeof(in) - 1, data, sizeof(data) - 1, how, at)

static void test_valid(void **state)
{
	(void)state;
	CHECK("5\r\nhello\r\n0\r\n", "hello", END, 13);
	/* the trailer section is left to the caller */
	CHECK("5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", "hello", END, 13);
	CHECK("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "abcde", END, 18);
	/* blanks, extensions, bare LF after the data, hex in either case */
	CHECK(" a;ext=1;q=\"x\"\r\n0123456789\nA\r\n0123456789\r\n0 \r\n",
	      "01234567890123456789", END, 46);
	CHECK("5 x\r\nhello\r\n0\n", "hello", END, 14);
	CHECK("000000000000003\r\nabc\r\n0\r\n", "abc", END, 25); /* 15 digits */
	CHECK("0;last\r\n", "", END, 8);
	/* not finished yet */
	CHECK("5\r\nhel", "hel", OPEN, 6);
	CHECK("5\r\nhello\r", "hello", OPEN, 9);
	CHECK("ff", "", OPEN, 2);
}

static void test_malformed(void **state)
{
	(void)state;
	CHECK("x\r\n", "", ERROR, 3); /* said at the LF, the line consumed */
	CHECK("\r\n", "", ERROR, 2);
	CHECK("  \r\n", "", ERROR, 4);
	CHECK("5x\r\nhello", "", ERROR, 4);
	CHECK("0000000000000001\r\n", "", ERROR, 18); /* 16 digits */
	CHECK("5\r\nhelloXX", "hello", ERROR, 8); /* the wrong byte not consumed */
	CHECK("5\r\nhello\r\r\n", "hello", ERROR, 9);
	CHECK("2\r\nab\r\nq\r\n0\r\n", "ab", ERROR, 10);
}

/* A line past the limit is refused by the piece that would pass it. */
static void test_line_limit(void **state)
{
	(void)state;
	size_t n = SONDE_CHUNKED_MAX_LINE + 10;
	char *in = tu_xmalloc(n);
	memset(in, 'a', n);
	memcpy(in, "1;", 2);
	memcpy(in + n - 2, "\r\n", 2);
	struct result r;
	run(&r, in, n, 0);
	assert_int_equal(r.how, ERROR);
	assert_int_equal(r.at, 0);
	run(&r, in, n, SIZE_MAX);
	assert_int_equal(r.how, ERROR);
	assert_int_equal(r.at, SONDE_CHUNKED_MAX_LINE);
	/* exactly at the limit is fine */
	memcpy(in + SONDE_CHUNKED_MAX_LINE - 2, "\r\nx\r\n0\r\n", 8);
	run(&r, in, SONDE_CHUNKED_MAX_LINE + 6, 0);
	assert_int_equal(r.how, END);
	assert_int_equal(r.data.len, 1);
	tu_bytes_free(&r.data);
	free(in);
}

/* Random bodies in random chunks, fed in random pieces. */
static void test_random(void **state)
{
	(void)state;
	struct tu_rng rng;
	tu_rng_seed(&rng, 11);
	for (int it = 0; it < 2000; it++) {
		struct tu_bytes body = { 0 }, enc = { 0 };
		size_t len = tu_rng_below(&rng, 3000);
		for (size_t i = 0; i < len; i++)
			tu_u8(&body, (uint8_t)tu_rng_below(&rng, 256));
		for (size_t off = 0; off < len;) {
			size_t k = 1 + tu_rng_below(&rng, 700);
			if (k > len - off)
				k = len - off;
			char line[32];
			snprintf(line, sizeof(line), tu_rng_below(&rng, 2) ? "%zx\r\n" : "%zX;x=y\n", k);
			tu_bytes_str(&enc, line);
			tu_bytes_put(&enc, body.p + off, k);
			tu_bytes_str(&enc, tu_rng_below(&rng, 4) ? "\r\n" : "\n");
			off += k;
		}
		tu_bytes_str(&enc, "0\r\n\r\n");
		struct sonde_chunked c;
		sonde_chunked_init(&c);
		struct result r;
		memset(&r, 0, sizeof(r));
		for (size_t i = 0; i < enc.len && r.how == OPEN;) {
			size_t k = 1 + tu_rng_below(&rng, 64);
			if (k > enc.len - i)
				k = enc.len - i;
			feed_piece(&c, &r, enc.p + i, k);
			i += k;
		}
		assert_int_equal(r.how, END);
		assert_int_equal(r.at, enc.len - 2);
		assert_int_equal(r.data.len, body.len);
		if (body.len)
			assert_memory_equal(r.data.p, body.p, body.len);
		tu_bytes_free(&r.data);
		tu_bytes_free(&body);
		tu_bytes_free(&enc);
	}
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_valid),
		tu_test(test_malformed),
		tu_test(test_line_limit),
		tu_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
