/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: one sonde_reasm driven by a sequence of operations decoded
 * from the input, under a small memory budget.
 *
 * Input layout (little endian):
 *   u32 isn          TCP sequence number of offset 0
 *   u16 limit        budget.limit      = limit % 8192
 *   u16 per_stream   budget.per_stream = per_stream % 4096
 *   then operations, each an opcode byte followed by its operands:
 *     0-2  add        i16 delta, u16 caplen, u8 extra, u8 mode
 *                     offset = next + delta (clamped at 0), wirelen =
 *                     caplen % 3000 + extra; mode bit 0: the bytes differ
 *                     from the stream's (a conflicting copy)
 *     3    add_seq    u32 seq, u16 caplen, u8 extra: the offset comes from
 *                     sonde_reasm_offset(seq), as the connection table does
 *     4    add_far    u16 ahead, u16 caplen: past the furthest byte seen
 *     5    ack        u16 ahead: sonde_reasm_ack(next + ahead)
 *     6    fin        u16 ahead: sonde_reasm_fin(max_end + ahead % 4)
 *     7    flush
 *   (opcode % 8).
 *
 * Every data byte has a known value (a hash of its stream offset), so the
 * bytes delivered can be checked, not just counted. Checked after every op:
 *   - data + gap lengths delivered == r.next (the stream position)
 *   - delivered data equals the stream's bytes (or a conflicting copy's),
 *     and so does the data still buffered at the input's end
 *   - nothing is delivered beyond the furthest byte added
 *   - budget.used == ooo_bytes <= limits; the ooo list is sorted, disjoint
 *   - sonde_reasm_offset() round-trips with the ISN
 *   - after flush: nothing buffered, budget.used == 0, r.next == max end
 *   - after free: budget.used == 0
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conn/reasm.h"
#include "fuzz_common.h"

__attribute__((always_inline)) static inline uint8_t stream_byte(uint64_t off)
{
	uint64_t x = off * 0x9e3779b97f4a7c15ull;
	return (uint8_t)(x >> 56 ^ x >> 29);
}

struct sink {
	uint64_t pos; /* bytes delivered: data + gap */
	uint64_t data_bytes, gap_bytes;
	uint64_t last_ts;
};

FUZZ_ORACLE static void on_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts)
{
	struct sink *s = ctx;
	FUZZ_CHECK(n > 0, "empty data callback at %llu", (unsigned long long)s->pos);
	for (size_t i = 0; i < n; i++) {
		uint8_t want = stream_byte(s->pos + i);
		FUZZ_CHECK(p[i] == want || p[i] == (uint8_t)~want,
			   "byte at offset %llu is %02x, stream has %02x",
			   (unsigned long long)(s->pos + i), p[i], want);
	}
	s->pos += n;
	s->data_bytes += n;
	s->last_ts = ts;
}

FUZZ_ORACLE static void on_gap(void *ctx, uint64_t n, uint64_t ts)
{
	struct sink *s = ctx;
	FUZZ_CHECK(n > 0, "empty gap callback at %llu", (unsigned long long)s->pos);
	s->pos += n;
	s->gap_bytes += n;
	s->last_ts = ts;
}

struct in {
	const uint8_t *p;
	size_t n;
};

FUZZ_ORACLE static uint64_t take(struct in *in, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++) {
		uint8_t b = 0;
		if (in->n) {
			b = *in->p++;
			in->n--;
		}
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

static uint8_t segbuf[4096];

/* The segment's captured bytes: the stream's, or their complement. */
FUZZ_ORACLE static const uint8_t *make_seg(uint64_t off, uint32_t caplen, int conflict)
{
	for (uint32_t i = 0; i < caplen; i++) {
		uint8_t b = stream_byte(off + i);
		segbuf[i] = conflict ? (uint8_t)~b : b;
	}
	return segbuf;
}

/* Checks the state; with values, also every buffered byte's value. That scan
 * is left to the end of the input: made after every op it cost O(ops x
 * buffered bytes) (1.9k runs a second at 4 KiB inputs), and a corrupt byte
 * still buffered at the end is caught there, one delivered in on_data. */
FUZZ_ORACLE static void check_state(const struct sonde_reasm *r, const struct sonde_mem_budget *b,
				    const struct sink *s, uint64_t max_end, bool values)
{
	FUZZ_CHECK(s->pos == r->next, "delivered %llu (data %llu + gap %llu) but next is %llu",
		   (unsigned long long)s->pos, (unsigned long long)s->data_bytes,
		   (unsigned long long)s->gap_bytes, (unsigned long long)r->next);
	FUZZ_CHECK(r->next <= max_end, "delivered up to %llu, beyond the furthest byte %llu",
		   (unsigned long long)r->next, (unsigned long long)max_end);
	FUZZ_CHECK(b->used == r->ooo_bytes, "budget.used %zu != ooo_bytes %zu", b->used,
		   r->ooo_bytes);
	FUZZ_CHECK(b->used <= b->limit, "budget.used %zu > limit %zu", b->used, b->limit);
	FUZZ_CHECK(r->ooo_bytes <= b->per_stream, "ooo_bytes %zu > per_stream %zu", r->ooo_bytes,
		   b->per_stream);
	size_t bytes = 0;
	uint32_t count = 0;
	uint64_t prev_end = r->next;
	for (const struct sonde_reasm_seg *g = r->ooo; g; g = g->next) {
		FUZZ_CHECK(g->off > r->next, "segment at %llu waits although next is %llu",
			   (unsigned long long)g->off, (unsigned long long)r->next);
		FUZZ_CHECK(g->off >= prev_end, "segments overlap or unsorted at %llu (prev end %llu)",
			   (unsigned long long)g->off, (unsigned long long)prev_end);
		FUZZ_CHECK(g->len + g->gap > 0, "empty buffered segment at %llu",
			   (unsigned long long)g->off);
		FUZZ_CHECK(g->off + g->len + g->gap <= max_end, "buffered segment ends past max");
		for (uint32_t i = 0; values && i < g->len; i++) {
			uint8_t want = stream_byte(g->off + i);
			FUZZ_CHECK(g->data[i] == want || g->data[i] == (uint8_t)~want,
				   "buffered byte at %llu corrupt", (unsigned long long)(g->off + i));
		}
		prev_end = g->off + g->len + g->gap;
		bytes += g->len;
		count++;
	}
	FUZZ_CHECK(bytes == r->ooo_bytes, "ooo list holds %zu bytes, ooo_bytes says %zu", bytes,
		   r->ooo_bytes);
	FUZZ_CHECK(count == r->ooo_count, "ooo list holds %u segments, ooo_count says %u", count,
		   r->ooo_count);
	/* The offset of a sequence number near the delivery point round-trips. */
	for (int64_t d = -3; d <= 3; d++) {
		int64_t want = (int64_t)r->next + d * 1000;
		uint32_t seq = r->isn + (uint32_t)want;
		FUZZ_CHECK(sonde_reasm_offset(r, seq) == want, "offset(isn+%lld) = %lld",
			   (long long)want, (long long)sonde_reasm_offset(r, seq));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct sonde_reasm r;
	struct sonde_mem_budget b = { 0 };
	struct sonde_stats st;
	struct sink s = { 0 };
	struct sonde_reasm_out out = { on_data, on_gap, &s };
	memset(&st, 0, sizeof(st));
	sonde_reasm_init(&r);
	uint32_t isn = (uint32_t)take(&in, 4);
	b.limit = take(&in, 2) % 8192;
	b.per_stream = take(&in, 2) % 4096;
	sonde_reasm_set_isn(&r, isn, false);

	uint64_t max_end = 0, ts = 1;
	int ops = 0;
	while (in.n && ops++ < 4096) {
		uint8_t op = (uint8_t)take(&in, 1) % 8;
		ts++;
		switch (op) {
		case 0:
		case 1:
		case 2: {
			int16_t delta = (int16_t)take(&in, 2);
			uint32_t caplen = (uint32_t)(take(&in, 2) % 3000);
			uint32_t wirelen = caplen + (uint32_t)take(&in, 1);
			int conflict = take(&in, 1) & 1;
			uint64_t off = delta < 0 && (uint64_t)-delta > r.next ? 0 : r.next + delta;
			if (wirelen && off + wirelen > max_end)
				max_end = off + wirelen;
			sonde_reasm_add(&r, &b, &st, &out, off, make_seg(off, caplen, conflict),
					caplen, wirelen, ts);
			break;
		}
		case 3: {
			uint32_t seq = (uint32_t)take(&in, 4);
			uint32_t caplen = (uint32_t)(take(&in, 2) % 3000);
			uint32_t wirelen = caplen + (uint32_t)take(&in, 1);
			int64_t rel = sonde_reasm_offset(&r, seq);
			if (rel < 0)
				break;
			/* Keep the stream short enough that gaps stay cheap to count. */
			uint64_t off = (uint64_t)rel;
			if (off > r.next + (1u << 20))
				off = r.next + (off & 0xfffff);
			if (wirelen && off + wirelen > max_end)
				max_end = off + wirelen;
			sonde_reasm_add(&r, &b, &st, &out, off, make_seg(off, caplen, 0), caplen,
					wirelen, ts);
			break;
		}
		case 4: {
			uint64_t off = max_end + take(&in, 2);
			uint32_t caplen = (uint32_t)(take(&in, 2) % 3000);
			if (caplen && off + caplen > max_end)
				max_end = off + caplen;
			sonde_reasm_add(&r, &b, &st, &out, off, make_seg(off, caplen, 0), caplen,
					caplen, ts);
			break;
		}
		case 5: {
			uint64_t off = r.next + take(&in, 2);
			if (off > max_end)
				off = max_end;
			sonde_reasm_ack(&r, &b, &st, &out, off, ts);
			/* A hole below the ack with data after it must be gone. */
			FUZZ_CHECK(!(r.ooo && off > r.next && off >= r.ooo->off),
				   "ack %llu left a hole at %llu before buffered data at %llu",
				   (unsigned long long)off, (unsigned long long)r.next,
				   (unsigned long long)r.ooo->off);
			break;
		}
		case 6: {
			uint64_t off = max_end + take(&in, 2) % 4;
			sonde_reasm_fin(&r, off);
			FUZZ_CHECK(r.fin && r.fin_off <= off, "fin not recorded");
			break;
		}
		case 7:
			sonde_reasm_flush(&r, &b, &st, &out, ts);
			FUZZ_CHECK(!r.ooo && r.ooo_bytes == 0 && r.ooo_count == 0,
				   "flush left segments buffered");
			FUZZ_CHECK(b.used == 0, "budget.used %zu after flush", b.used);
			FUZZ_CHECK(r.next == max_end, "after flush next %llu != max end %llu",
				   (unsigned long long)r.next, (unsigned long long)max_end);
			break;
		}
		check_state(&r, &b, &s, max_end, false);
		FUZZ_CHECK(st.gap_bytes == s.gap_bytes, "stats.gap_bytes %llu != gaps delivered %llu",
			   (unsigned long long)st.gap_bytes, (unsigned long long)s.gap_bytes);
	}
	check_state(&r, &b, &s, max_end, true);
	if (r.fin && r.next >= r.fin_off)
		FUZZ_CHECK(sonde_reasm_done(&r), "done() false past the FIN");
	sonde_reasm_free(&r, &b);
	FUZZ_CHECK(b.used == 0, "budget.used %zu after free", b.used);
	FUZZ_CHECK(!r.ooo, "free left segments");
	return 0;
}
