/* SPDX-License-Identifier: MIT */
/*
 * Reassembly of one direction (sonde_reasm_*) with a capturing output: what
 * is delivered, in which order, gaps and their sizes, the memory budget and
 * the counters.
 */
#include "testutil.h"

#include "conn/reasm.h"

/* What the reassembler delivered: the byte stream (gaps filled with '#'),
 * the events in order, and totals. */
struct cap {
	struct tu_bytes bytes;
	struct tu_bytes isgap; /* 1 per gap byte, 0 per data byte */
	char events[4096]; /* "d5 g3 d2 " */
	size_t ev_len;
	uint64_t data_bytes, gap_bytes;
	int ngaps, ndata;
	uint64_t last_ts;
};

static void cap_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts)
{
	struct cap *c = ctx;
	if (!n)
		fail_msg("data delivered with length 0");
	tu_bytes_put(&c->bytes, p, n);
	tu_bytes_zero(&c->isgap, n);
	c->data_bytes += n;
	c->ndata++;
	c->last_ts = ts;
	if (c->ev_len < sizeof(c->events) - 32)
		c->ev_len += (size_t)snprintf(c->events + c->ev_len, sizeof(c->events) - c->ev_len,
					      "d%zu ", n);
}

static void cap_gap(void *ctx, uint64_t n, uint64_t ts)
{
	struct cap *c = ctx;
	if (!n)
		fail_msg("gap delivered with length 0");
	for (uint64_t i = 0; i < n; i++) {
		tu_u8(&c->bytes, '#');
		tu_u8(&c->isgap, 1);
	}
	c->gap_bytes += n;
	c->ngaps++;
	c->last_ts = ts;
	if (c->ev_len < sizeof(c->events) - 32)
		c->ev_len += (size_t)snprintf(c->events + c->ev_len, sizeof(c->events) - c->ev_len,
					      "g%llu ", (unsigned long long)n);
}

struct rs {
	struct sonde_reasm r;
	struct sonde_mem_budget b;
	struct sonde_stats st;
	struct cap cap;
	struct sonde_reasm_out out;
};

static void rs_free(struct rs *x);
static void rs_free_cb(void *x)
{
	rs_free(x);
}

static void rs_init(struct rs *x, size_t limit, size_t per_stream)
{
	memset(x, 0, sizeof(*x));
	sonde_reasm_init(&x->r);
	x->b.limit = limit;
	x->b.per_stream = per_stream;
	x->out.data = cap_data;
	x->out.gap = cap_gap;
	x->out.ctx = &x->cap;
	tu_cleanup_push(rs_free_cb, x);
}

static void rs_free(struct rs *x)
{
	tu_cleanup_pop(x);
	sonde_reasm_free(&x->r, &x->b);
	tu_bytes_free(&x->cap.bytes);
	tu_bytes_free(&x->cap.isgap);
}

static void add(struct rs *x, uint64_t off, const char *s)
{
	size_t n = strlen(s);
	sonde_reasm_add(&x->r, &x->b, &x->st, &x->out, off, (const uint8_t *)s, (uint32_t)n,
			(uint32_t)n, 1000 + off);
}

static void add_cw(struct rs *x, uint64_t off, const char *s, uint32_t wirelen)
{
	size_t n = strlen(s);
	sonde_reasm_add(&x->r, &x->b, &x->st, &x->out, off, (const uint8_t *)s, (uint32_t)n, wirelen,
			1000 + off);
}

#define assert_delivered(x, lit)                                                         \
	do {                                                                             \
		if ((x)->cap.bytes.len != sizeof(lit) - 1 ||                             \
		    memcmp((x)->cap.bytes.p, lit, sizeof(lit) - 1))                       \
			fail_msg("delivered \"%.*s\", expected \"%s\"", (int)(x)->cap.bytes.len, \
				 (const char *)(x)->cap.bytes.p, lit);                    \
	} while (0)

#define assert_events(x, lit)                                                       \
	do {                                                                        \
		if (strcmp((x)->cap.events, lit))                                   \
			fail_msg("events \"%s\", expected \"%s\"", (x)->cap.events, lit); \
	} while (0)

/* ============================================================== tests === */

static void test_in_order(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 0, "abc");
	add(&x, 3, "def");
	add(&x, 6, "g");
	assert_delivered(&x, "abcdefg");
	assert_events(&x, "d3 d3 d1 ");
	assert_int_equal(x.r.next, 7);
	assert_int_equal(x.b.used, 0);
	assert_null(x.r.ooo);
	assert_int_equal(x.st.out_of_order_segments, 0);
	assert_int_equal(x.st.retransmitted_bytes, 0);
	assert_int_equal(x.st.gaps, 0);
	/* Timestamps travel with the bytes. */
	assert_int_equal(x.cap.last_ts, 1006);
	/* An empty segment changes nothing. */
	sonde_reasm_add(&x.r, &x.b, &x.st, &x.out, 7, NULL, 0, 0, 1);
	assert_int_equal(x.r.next, 7);
	assert_int_equal(x.cap.ndata, 3);
	rs_free(&x);
}

static void test_out_of_order(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 6, "ghi");
	add(&x, 3, "def");
	assert_int_equal(x.cap.bytes.len, 0);
	assert_int_equal(x.r.ooo_count, 2);
	assert_int_equal(x.r.ooo_bytes, 6);
	assert_int_equal(x.b.used, 6);
	assert_int_equal(x.st.out_of_order_segments, 2);
	add(&x, 0, "abc");
	assert_delivered(&x, "abcdefghi");
	assert_int_equal(x.r.next, 9);
	assert_int_equal(x.b.used, 0);
	assert_int_equal(x.r.ooo_bytes, 0);
	assert_int_equal(x.r.ooo_count, 0);
	assert_null(x.r.ooo);
	assert_int_equal(x.st.gaps, 0);
	assert_int_equal(x.st.retransmitted_bytes, 0);
	/* Buffered bytes are delivered with their own timestamps. */
	assert_int_equal(x.cap.last_ts, 1006);
	rs_free(&x);
}

static void test_duplicates(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 0, "abc");
	add(&x, 0, "abc"); /* retransmission of delivered bytes */
	add(&x, 8, "ijk");
	add(&x, 8, "ijk"); /* duplicate of a buffered segment */
	assert_int_equal(x.b.used, 3);
	add(&x, 3, "defgh");
	add(&x, 3, "defgh");
	assert_delivered(&x, "abcdefghijk");
	assert_int_equal(x.st.retransmitted_bytes, 3 + 3 + 5);
	assert_int_equal(x.b.used, 0);
	assert_int_equal(x.st.gaps, 0);
	rs_free(&x);
}

/* When copies of a byte disagree, the first one received wins. */
static void test_overlap_first_copy_wins(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */

	/* Overlapping the delivery point. */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 0, "abcd");
	add(&x, 2, "XYZW");
	assert_delivered(&x, "abcdZW");
	assert_int_equal(x.st.retransmitted_bytes, 2);
	rs_free(&x);

	/* A later segment overlapping the end of a buffered one. */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 4, "XXXX"); /* 4..8 */
	add(&x, 6, "yyyy"); /* 6..10: 6,7 already held */
	add(&x, 0, "0123");
	assert_delivered(&x, "0123XXXXyy");
	assert_int_equal(x.st.retransmitted_bytes, 2);
	assert_int_equal(x.b.used, 0);
	rs_free(&x);

	/* A later segment overlapping the start of a buffered one. */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 6, "PPPP"); /* 6..10 */
	add(&x, 4, "qqqq"); /* 4..8: 6,7 already held */
	add(&x, 0, "0123");
	assert_delivered(&x, "0123qqPPPP");
	rs_free(&x);

	/* A later segment covering a buffered one entirely. */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 4, "ab"); /* 4..6 */
	add(&x, 2, "zzzzzz"); /* 2..8 */
	add(&x, 0, "01");
	assert_delivered(&x, "01zzabzz");
	assert_int_equal(x.st.retransmitted_bytes, 2);
	rs_free(&x);

	/* Spanning two buffered segments and the hole between them. */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 2, "AA"); /* 2..4 */
	add(&x, 6, "BB"); /* 6..8 */
	add(&x, 1, "ccccccccc"); /* 1..10 */
	add(&x, 0, "0");
	assert_delivered(&x, "0cAAccBBcc");
	assert_int_equal(x.st.retransmitted_bytes, 4);
	rs_free(&x);

	/* The fill that closes a hole overlaps both sides: its copy of the
	 * already-delivered and the already-held bytes loses. */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 0, "abc");
	add(&x, 6, "ghi");
	add(&x, 2, "XXXXXX"); /* 2..8: 2 delivered, 3..6 new, 6..8 held */
	assert_delivered(&x, "abcXXXghi");
	assert_int_equal(x.st.retransmitted_bytes, 3);
	rs_free(&x);
}

static void test_wraparound(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1 << 20, 1 << 16);
	uint32_t isn = 0xfffffff0u;
	sonde_reasm_set_isn(&x.r, isn, false);
	assert_true(x.r.base_known);
	assert_false(x.r.midstream);
	assert_int_equal(sonde_reasm_offset(&x.r, isn), 0);
	assert_int_equal(sonde_reasm_offset(&x.r, 0xffffffffu), 15);
	assert_int_equal(sonde_reasm_offset(&x.r, 0x00000000u), 16);
	assert_int_equal(sonde_reasm_offset(&x.r, 0x00000005u), 21);
	assert_int_equal(sonde_reasm_offset(&x.r, isn - 1), -1);
	assert_int_equal(sonde_reasm_offset(&x.r, isn - 1000), -1000);

	/* A stream crossing the wrap, segments out of order. */
	static const char data[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	uint32_t seqs[] = { isn + 24, isn + 10, isn, isn + 30, isn + 14 };
	uint32_t lens[] = { 6, 4, 10, 6, 10 };
	for (int i = 0; i < 5; i++) {
		int64_t off = sonde_reasm_offset(&x.r, seqs[i]);
		assert_true(off >= 0);
		sonde_reasm_add(&x.r, &x.b, &x.st, &x.out, (uint64_t)off,
				(const uint8_t *)data + (seqs[i] - isn), lens[i], lens[i], 1);
	}
	assert_delivered(&x, "0123456789abcdefghijklmnopqrstuvwxyz");
	assert_int_equal(x.r.next, 36);
	/* Offsets stay right relative to the delivery point, now past the wrap. */
	assert_int_equal(sonde_reasm_offset(&x.r, isn + 36), 36);
	assert_int_equal(sonde_reasm_offset(&x.r, isn + 30), 30);
	assert_int_equal(sonde_reasm_offset(&x.r, isn + 100), 100);
	rs_free(&x);

	/* A stream longer than 4 GiB: sequence numbers have wrapped around
	 * completely; offsets are 64-bit, relative to the delivery point. */
	rs_init(&x, 1 << 20, 1 << 16);
	sonde_reasm_set_isn(&x.r, 1000, true);
	assert_true(x.r.midstream);
	x.r.next = (5ull << 32) + 7; /* as if that much had been delivered */
	uint32_t at_next = 1000u + 7u;
	assert_true(sonde_reasm_offset(&x.r, at_next) == (int64_t)((5ull << 32) + 7));
	assert_true(sonde_reasm_offset(&x.r, at_next + 100) == (int64_t)((5ull << 32) + 107));
	assert_true(sonde_reasm_offset(&x.r, at_next - 100) == (int64_t)((5ull << 32) - 93));
	assert_true(sonde_reasm_offset(&x.r, at_next + 0x7fffffffu) ==
		    (int64_t)((5ull << 32) + 7 + 0x7fffffffull));
	rs_free(&x);
}

/* caplen < wirelen: the missing tail is a gap of exact size. */
static void test_caplen_short(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1 << 20, 1 << 16);
	add_cw(&x, 0, "abcde", 10);
	assert_events(&x, "d5 g5 ");
	assert_int_equal(x.r.next, 10);
	add(&x, 10, "xyz");
	assert_delivered(&x, "abcde#####xyz");
	assert_int_equal(x.st.gap_bytes, 5);
	assert_int_equal(x.st.gaps, 1);
	rs_free(&x);

	/* Buffered out of order, then delivered with its gap. */
	rs_init(&x, 1 << 20, 1 << 16);
	add_cw(&x, 10, "klm", 8); /* 10..13 data, 13..18 lost */
	add(&x, 18, "st");
	assert_int_equal(x.b.used, 5);
	add(&x, 0, "0123456789");
	assert_delivered(&x, "0123456789klm#####st");
	assert_events(&x, "d10 d3 g5 d2 ");
	assert_int_equal(x.st.gap_bytes, 5);
	assert_int_equal(x.b.used, 0);
	rs_free(&x);

	/* Nothing captured at all (wirelen only). */
	rs_init(&x, 1 << 20, 1 << 16);
	sonde_reasm_add(&x.r, &x.b, &x.st, &x.out, 0, NULL, 0, 100, 1);
	assert_events(&x, "g100 ");
	add(&x, 100, "ok");
	assert_int_equal(x.r.next, 102);
	rs_free(&x);

	/* A retransmission with more captured bytes does not rewrite a gap
	 * already delivered, and fills nothing twice. */
	rs_init(&x, 1 << 20, 1 << 16);
	add_cw(&x, 0, "ab", 6);
	add(&x, 0, "abcdefgh");
	assert_delivered(&x, "ab####gh");
	rs_free(&x);
}

static void test_budget_per_stream(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1000, 10);
	add(&x, 20, "ABCDEFGH"); /* 8 buffered */
	assert_int_equal(x.b.used, 8);
	add(&x, 30, "abcdefgh"); /* 16 > 10: the first hole is given up */
	assert_int_equal(x.st.reassembly_budget_drops, 1);
	assert_events(&x, "g20 d8 ");
	assert_int_equal(x.r.next, 28);
	assert_int_equal(x.b.used, 8); /* the new segment, buffered */
	assert_int_equal(x.r.ooo_bytes, 8);
	add(&x, 28, "01"); /* fills 28..30 (fits), drains 30..38 */
	assert_events(&x, "g20 d8 d2 d8 ");
	assert_delivered(&x, "####################ABCDEFGH01abcdefgh");
	assert_int_equal(x.r.next, 38);
	assert_int_equal(x.b.used, 0);
	assert_int_equal(x.st.gap_bytes, 20);
	assert_int_equal(x.st.gaps, 1);
	/* A segment bigger than the whole per-stream budget, out of order:
	 * nothing to give up, so the hole before it becomes a gap. */
	uint8_t big[50];
	for (int i = 0; i < 50; i++)
		big[i] = (uint8_t)('a' + i % 26);
	sonde_reasm_add(&x.r, &x.b, &x.st, &x.out, 60, big, 50, 50, 5);
	assert_int_equal(x.r.next, 110);
	assert_int_equal(x.b.used, 0);
	assert_int_equal(x.st.gap_bytes, 20 + 22);
	assert_int_equal(x.st.reassembly_budget_drops, 2);
	rs_free(&x);
}

/*
 * The budget is full and the segment that fills the hole arrives: it lies
 * at the delivery point, so it can be delivered without being buffered.
 * Nothing is lost.
 */
static void test_budget_full_fill_at_delivery_point(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1000, 10);
	add(&x, 12, "ABCDEFGH"); /* 8 of 10 buffered */
	add(&x, 0, "0123456789ab"); /* 0..12: in order, fills the hole */
	assert_events(&x, "d12 d8 ");
	assert_delivered(&x, "0123456789abABCDEFGH");
	assert_int_equal(x.st.gaps, 0);
	assert_int_equal(x.st.reassembly_budget_drops, 0);
	assert_int_equal(x.b.used, 0);
	rs_free(&x);
}

static void test_budget_global(void **state)
{
	(void)state;
	/* Two streams sharing one budget of 10 bytes (100 per stream). */
	static struct rs a, bs; /* static: see tu_teardown */
	rs_init(&a, 0, 0);
	rs_init(&bs, 0, 0);
	struct sonde_mem_budget shared = { 0, 10, 100 };
	sonde_reasm_add(&a.r, &shared, &a.st, &a.out, 10, (const uint8_t *)"AAAAAAAA", 8, 8, 1);
	assert_int_equal(shared.used, 8);
	/* Stream b has nothing buffered to give up: it skips to its segment. */
	sonde_reasm_add(&bs.r, &shared, &bs.st, &bs.out, 10, (const uint8_t *)"BBBBBBBB", 8, 8, 1);
	assert_int_equal(bs.st.reassembly_budget_drops, 1);
	assert_events(&bs, "g10 d8 ");
	assert_int_equal(bs.st.gap_bytes, 10);
	assert_int_equal(shared.used, 8); /* a's bytes are still held */
	assert_int_equal(a.cap.bytes.len, 0);
	/* b buffers again when there is room. */
	sonde_reasm_add(&bs.r, &shared, &bs.st, &bs.out, 30, (const uint8_t *)"bb", 2, 2, 1);
	assert_int_equal(shared.used, 10);
	/* a, over the shared limit, gives up its own first hole. */
	sonde_reasm_add(&a.r, &shared, &a.st, &a.out, 40, (const uint8_t *)"aa", 2, 2, 1);
	assert_int_equal(a.st.reassembly_budget_drops, 1);
	assert_events(&a, "g10 d8 ");
	assert_int_equal(shared.used, 4);
	/* Freeing returns every byte. */
	sonde_reasm_free(&a.r, &shared);
	assert_int_equal(shared.used, 2);
	sonde_reasm_free(&bs.r, &shared);
	assert_int_equal(shared.used, 0);
	assert_int_equal(a.r.ooo_bytes, 0);
	assert_int_equal(bs.r.ooo_bytes, 0);
	assert_null(a.r.ooo);
	assert_null(bs.r.ooo);
	rs_free(&a);
	rs_free(&bs);
}

static void test_free_returns_memory(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 10, "0123456789");
	add(&x, 30, "abc");
	add(&x, 25, "XYZWVU"); /* 25..31: overlaps 30 */
	assert_int_equal(x.b.used, 10 + 3 + 5);
	assert_int_equal(x.r.ooo_bytes, x.b.used);
	sonde_reasm_free(&x.r, &x.b);
	assert_int_equal(x.b.used, 0);
	assert_int_equal(x.r.ooo_bytes, 0);
	assert_int_equal(x.r.ooo_count, 0);
	assert_null(x.r.ooo);
	rs_free(&x);
}

static void test_ack_closes_holes(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 0, "abc");
	add(&x, 10, "xyz");
	add(&x, 20, "PQ");
	/* An ack inside the hole: the hole may still fill. */
	sonde_reasm_ack(&x.r, &x.b, &x.st, &x.out, 5, 2);
	assert_events(&x, "d3 ");
	/* An ack covering buffered bytes: the hole before them never will. */
	sonde_reasm_ack(&x.r, &x.b, &x.st, &x.out, 13, 2);
	assert_events(&x, "d3 g7 d3 ");
	assert_int_equal(x.r.next, 13);
	assert_int_equal(x.b.used, 2);
	/* An ack at the start of the next buffered segment closes that hole. */
	sonde_reasm_ack(&x.r, &x.b, &x.st, &x.out, 21, 3);
	assert_events(&x, "d3 g7 d3 g7 d2 ");
	assert_int_equal(x.r.next, 22);
	assert_int_equal(x.b.used, 0);
	assert_int_equal(x.st.gap_bytes, 14);
	assert_int_equal(x.st.gaps, 2);
	/* Late fill of a hole declared lost: counted as retransmitted. */
	add(&x, 3, "defghij");
	assert_int_equal(x.r.next, 22);
	assert_int_equal(x.st.retransmitted_bytes, 7);
	/* An ack with nothing buffered changes nothing. */
	sonde_reasm_ack(&x.r, &x.b, &x.st, &x.out, 100, 4);
	assert_int_equal(x.r.next, 22);
	rs_free(&x);
}

static void test_flush_and_fin(void **state)
{
	(void)state;
	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 5, "fgh");
	add(&x, 12, "mn");
	assert_false(sonde_reasm_done(&x.r));
	sonde_reasm_fin(&x.r, 14);
	assert_false(sonde_reasm_done(&x.r));
	sonde_reasm_flush(&x.r, &x.b, &x.st, &x.out, 9);
	assert_events(&x, "g5 d3 g4 d2 ");
	assert_delivered(&x, "#####fgh####mn");
	assert_int_equal(x.b.used, 0);
	assert_null(x.r.ooo);
	assert_true(sonde_reasm_done(&x.r));
	/* A second flush has nothing to do. */
	sonde_reasm_flush(&x.r, &x.b, &x.st, &x.out, 9);
	assert_int_equal(x.cap.ndata + x.cap.ngaps, 4);
	rs_free(&x);

	/* FIN: done once every byte before it was delivered; the earliest FIN
	 * offset counts. */
	rs_init(&x, 1 << 20, 1 << 16);
	add(&x, 0, "abc");
	sonde_reasm_fin(&x.r, 6);
	assert_true(x.r.fin);
	assert_false(sonde_reasm_done(&x.r));
	sonde_reasm_fin(&x.r, 5);
	assert_int_equal(x.r.fin_off, 5);
	sonde_reasm_fin(&x.r, 9);
	assert_int_equal(x.r.fin_off, 5);
	add(&x, 3, "de");
	assert_true(sonde_reasm_done(&x.r));
	rs_free(&x);
}

/* ====================================================== randomized === */

struct seg {
	uint64_t off;
	uint32_t len;
	uint32_t wire;
	int copy; /* which content variant (0: the original) */
};

static uint8_t variant_byte(const uint8_t *orig, uint64_t i, int copy)
{
	return copy ? (uint8_t)(orig[i] ^ (uint8_t)(copy * 37 + 1)) : orig[i];
}

/*
 * One randomized run: a stream of `len` bytes cut into random segments,
 * plus random duplicates and overlapping ranges (identical content, or with
 * `differ` a different content per copy), shuffled and fed. The delivered
 * stream must equal the reference: for each byte, the first received copy.
 */
static void random_run(uint64_t seed, size_t len, bool differ, bool with_gaps)
{
	struct tu_rng rng;
	tu_rng_seed(&rng, seed);
	uint8_t *orig = tu_xmalloc(len);
	for (size_t i = 0; i < len; i++)
		orig[i] = (uint8_t)tu_rng_next(&rng);

	size_t cap = 64, n = 0;
	struct seg *segs = tu_xmalloc(cap * sizeof(*segs));
	/* A covering segmentation... */
	for (uint64_t off = 0; off < len;) {
		uint32_t l = 1 + (uint32_t)tu_rng_below(&rng, 120);
		if (off + l > len)
			l = (uint32_t)(len - off);
		if (n == cap)
			segs = tu_xrealloc(segs, (cap *= 2) * sizeof(*segs));
		segs[n++] = (struct seg){ off, l, l, 0 };
		off += l;
	}
	/* ...plus duplicates and overlapping ranges. */
	size_t extra = n / 2 + tu_rng_below(&rng, n + 1);
	for (size_t k = 0; k < extra; k++) {
		if (n == cap)
			segs = tu_xrealloc(segs, (cap *= 2) * sizeof(*segs));
		if (tu_rng_below(&rng, 2)) {
			segs[n] = segs[tu_rng_below(&rng, n)];
		} else {
			uint64_t off = tu_rng_below(&rng, len);
			uint32_t l = 1 + (uint32_t)tu_rng_below(&rng, 300);
			if (off + l > len)
				l = (uint32_t)(len - off);
			segs[n] = (struct seg){ off, l, l, 0 };
		}
		segs[n].copy = differ ? (int)(1 + tu_rng_below(&rng, 5)) : 0;
		n++;
	}
	/* Some copies captured only in part (snap length). */
	if (with_gaps) {
		for (size_t k = 0; k < n; k++)
			if (segs[k].len > 4 && tu_rng_below(&rng, 8) == 0)
				segs[k].len = (uint32_t)tu_rng_below(&rng, segs[k].len);
	}
	/* Shuffle. */
	for (size_t i = n; i > 1; i--) {
		size_t j = tu_rng_below(&rng, i);
		struct seg t = segs[i - 1];
		segs[i - 1] = segs[j];
		segs[j] = t;
	}

	/* Reference: the first copy received of each byte (256: that copy was
	 * beyond its segment's captured length, a gap). The first copy wins
	 * whether it is data or a known gap. */
	int16_t *ref = tu_xmalloc(len * sizeof(*ref));
	for (size_t i = 0; i < len; i++)
		ref[i] = -1;
	for (size_t k = 0; k < n; k++)
		for (uint64_t i = segs[k].off; i < segs[k].off + segs[k].wire; i++)
			if (ref[i] == -1)
				ref[i] = i < segs[k].off + segs[k].len
						 ? variant_byte(orig, i, segs[k].copy)
						 : 256;

	static struct rs x; /* static: see tu_teardown */
	rs_init(&x, 1 << 24, 1 << 22);
	uint64_t fed = 0;
	uint8_t *buf = tu_xmalloc(400);
	for (size_t k = 0; k < n; k++) {
		for (uint32_t i = 0; i < segs[k].len; i++)
			buf[i] = variant_byte(orig, segs[k].off + i, segs[k].copy);
		sonde_reasm_add(&x.r, &x.b, &x.st, &x.out, segs[k].off, buf, segs[k].len, segs[k].wire,
				k);
		fed += segs[k].wire;
		if (x.b.used != x.r.ooo_bytes)
			fail_msg("seed %llu: budget used %zu != buffered %zu", (unsigned long long)seed,
				 x.b.used, x.r.ooo_bytes);
	}
	free(buf);
	if (x.cap.bytes.len != len)
		fail_msg("seed %llu: delivered %zu bytes of %zu (next %llu, %u buffered)",
			 (unsigned long long)seed, x.cap.bytes.len, len,
			 (unsigned long long)x.r.next, x.r.ooo_count);
	for (size_t i = 0; i < len; i++) {
		int got = x.cap.isgap.p[i] ? 256 : x.cap.bytes.p[i];
		if (got != ref[i])
			fail_msg("seed %llu: byte %zu is %d, the first copy received was %d",
				 (unsigned long long)seed, i, got, ref[i]);
	}
	if (!differ && !with_gaps)
		assert_memory_equal(x.cap.bytes.p, orig, len);
	assert_int_equal(x.b.used, 0);
	assert_null(x.r.ooo);
	assert_int_equal(x.r.next, len);
	/* Every byte beyond the first copy is counted once as retransmitted
	 * (captured ones; lost ones are not bytes sonde saw). */
	if (!with_gaps && x.st.retransmitted_bytes != fed - len)
		fail_msg("seed %llu: retransmitted_bytes %llu, expected %llu", (unsigned long long)seed,
			 (unsigned long long)x.st.retransmitted_bytes, (unsigned long long)(fed - len));
	if (!with_gaps)
		assert_int_equal(x.st.gaps, 0);
	rs_free(&x);
	free(ref);
	free(segs);
	free(orig);
}

static void test_random_identical_copies(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 300; seed++)
		random_run(seed, 200 + (size_t)(seed * 37 % 3000), false, false);
}

static void test_random_differing_copies(void **state)
{
	(void)state;
	for (uint64_t seed = 1000; seed < 1300; seed++)
		random_run(seed, 200 + (size_t)(seed * 53 % 3000), true, false);
}

static void test_random_with_snaplen_gaps(void **state)
{
	(void)state;
	for (uint64_t seed = 5000; seed < 5200; seed++)
		random_run(seed, 200 + (size_t)(seed * 71 % 2000), true, true);
}

/* The same segment set in many permutations gives the same stream. */
static void test_random_permutations(void **state)
{
	(void)state;
	struct tu_rng rng;
	tu_rng_seed(&rng, 42);
	enum { LEN = 1500 };
	uint8_t orig[LEN];
	for (int i = 0; i < LEN; i++)
		orig[i] = (uint8_t)tu_rng_next(&rng);
	struct seg segs[200];
	size_t n = 0;
	for (uint64_t off = 0; off < LEN;) {
		uint32_t l = 1 + (uint32_t)tu_rng_below(&rng, 90);
		if (off + l > LEN)
			l = (uint32_t)(LEN - off);
		segs[n++] = (struct seg){ off, l, l, 0 };
		off += l;
	}
	while (n < 200) {
		uint64_t off = tu_rng_below(&rng, LEN);
		uint32_t l = 1 + (uint32_t)tu_rng_below(&rng, 150);
		if (off + l > LEN)
			l = (uint32_t)(LEN - off);
		segs[n++] = (struct seg){ off, l, l, 0 };
	}
	for (int perm = 0; perm < 500; perm++) {
		for (size_t i = n; i > 1; i--) {
			size_t j = tu_rng_below(&rng, i);
			struct seg t = segs[i - 1];
			segs[i - 1] = segs[j];
			segs[j] = t;
		}
		static struct rs x; /* static: see tu_teardown */
		/* A small per-stream budget in some runs: gaps may then appear,
		 * but every delivered data byte must still be right. */
		bool tight = perm % 5 == 4;
		rs_init(&x, 1 << 24, tight ? 600 : 1 << 22);
		for (size_t k = 0; k < n; k++)
			sonde_reasm_add(&x.r, &x.b, &x.st, &x.out, segs[k].off, orig + segs[k].off,
					segs[k].len, segs[k].wire, k);
		sonde_reasm_flush(&x.r, &x.b, &x.st, &x.out, 0);
		assert_int_equal(x.cap.bytes.len, LEN);
		for (size_t i = 0; i < LEN; i++)
			if (!x.cap.isgap.p[i] && x.cap.bytes.p[i] != orig[i])
				fail_msg("permutation %d: byte %zu wrong", perm, i);
		if (!tight) {
			assert_memory_equal(x.cap.bytes.p, orig, LEN);
			assert_int_equal(x.st.gaps, 0);
		} else {
			assert_int_equal(x.cap.gap_bytes, x.st.gap_bytes);
		}
		assert_int_equal(x.b.used, 0);
		rs_free(&x);
	}
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_in_order),
		tu_test(test_out_of_order),
		tu_test(test_duplicates),
		tu_test(test_overlap_first_copy_wins),
		tu_test(test_wraparound),
		tu_test(test_caplen_short),
		tu_test(test_budget_per_stream),
		tu_test(test_budget_full_fill_at_delivery_point),
		tu_test(test_budget_global),
		tu_test(test_free_returns_memory),
		tu_test(test_ack_closes_holes),
		tu_test(test_flush_and_fin),
		tu_test(test_random_identical_copies),
		tu_test(test_random_differing_copies),
		tu_test(test_random_with_snaplen_gaps),
		tu_test(test_random_permutations),
	};
	return cmocka_run_group_tests_name("reasm", tests, NULL, NULL);
}
