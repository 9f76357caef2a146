/* SPDX-License-Identifier: MIT */
#include "conn/reasm.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static inline uint64_t seg_end(const struct sonde_reasm_seg *s)
{
	return s->off + s->len + s->gap;
}

void sonde_reasm_init(struct sonde_reasm *r)
{
	memset(r, 0, sizeof(*r));
}

static void seg_free(struct sonde_reasm *r, struct sonde_mem_budget *b, struct sonde_reasm_seg *s)
{
	r->ooo_bytes -= s->len;
	r->ooo_count--;
	b->used -= s->len;
	free(s);
}

void sonde_reasm_free(struct sonde_reasm *r, struct sonde_mem_budget *b)
{
	while (r->ooo) {
		struct sonde_reasm_seg *s = r->ooo;
		r->ooo = s->next;
		seg_free(r, b, s);
	}
}

void sonde_reasm_set_isn(struct sonde_reasm *r, uint32_t isn, bool midstream)
{
	r->isn = isn;
	r->base_known = true;
	r->midstream = midstream;
}

int64_t sonde_reasm_offset(const struct sonde_reasm *r, uint32_t seq)
{
	uint32_t expect = r->isn + (uint32_t)r->next;
	return (int64_t)r->next + (int32_t)(seq - expect);
}

void sonde_reasm_fin(struct sonde_reasm *r, uint64_t off)
{
	if (!r->fin || off < r->fin_off) {
		r->fin = true;
		r->fin_off = off;
	}
}

/*
 * Deliver [off, off+len) captured then `gap` lost bytes, skipping whatever lies
 * below r->next (already delivered: a retransmission or overlap).
 */
static void deliver(struct sonde_reasm *r, struct sonde_stats *st,
		    const struct sonde_reasm_out *out, uint64_t off, const uint8_t *p, uint32_t len,
		    uint32_t gap, uint64_t ts)
{
	uint64_t end = off + len + gap;
	if (end <= r->next) {
		st->retransmitted_bytes += len;
		return;
	}
	if (off < r->next) {
		uint64_t skip = r->next - off;
		uint32_t skip_data = skip < len ? (uint32_t)skip : len;
		st->retransmitted_bytes += skip_data;
		p += skip_data;
		len -= skip_data;
		gap -= (uint32_t)(skip - skip_data);
		off = r->next;
	}
	if (len) {
		out->data(out->ctx, p, len, ts);
		r->next += len;
	}
	if (gap) {
		st->gap_bytes += gap;
		st->gaps++;
		out->gap(out->ctx, gap, ts);
		r->next += gap;
	}
}

static void declare_gap(struct sonde_reasm *r, struct sonde_stats *st,
			const struct sonde_reasm_out *out, uint64_t upto, uint64_t ts)
{
	if (upto <= r->next)
		return;
	uint64_t n = upto - r->next;
	st->gap_bytes += n;
	st->gaps++;
	out->gap(out->ctx, n, ts);
	r->next = upto;
}

/* Deliver buffered segments that the delivery point has reached. */
static void drain(struct sonde_reasm *r, struct sonde_mem_budget *b, struct sonde_stats *st,
		  const struct sonde_reasm_out *out)
{
	while (r->ooo && r->ooo->off <= r->next) {
		struct sonde_reasm_seg *s = r->ooo;
		r->ooo = s->next;
		/* Bytes already delivered were counted when this copy was buffered
		 * only if they overlapped then; count them here otherwise. */
		deliver(r, st, out, s->off, s->data, s->len, s->gap, s->ts_ns);
		seg_free(r, b, s);
	}
}

/* Give up on the first hole: declare it a gap and deliver what follows it. */
static void skip_first_hole(struct sonde_reasm *r, struct sonde_mem_budget *b,
			    struct sonde_stats *st, const struct sonde_reasm_out *out)
{
	if (!r->ooo)
		return;
	declare_gap(r, st, out, r->ooo->off, r->ooo->ts_ns);
	drain(r, b, st, out);
}

static struct sonde_reasm_seg *seg_new(uint64_t off, const uint8_t *p, uint32_t len, uint32_t gap,
				       uint64_t ts)
{
	struct sonde_reasm_seg *s = sonde_xmalloc(sizeof(*s) + len);
	s->next = NULL;
	s->off = off;
	s->len = len;
	s->gap = gap;
	s->ts_ns = ts;
	if (len)
		memcpy(s->data, p, len);
	return s;
}

/*
 * Buffer the parts of [off, off+caplen+gap) not already held (first copy
 * wins). Returns false if the budget did not allow it.
 */
static bool buffer_segment(struct sonde_reasm *r, struct sonde_mem_budget *b,
			   struct sonde_stats *st, uint64_t off, const uint8_t *p, uint32_t caplen,
			   uint32_t wirelen, uint64_t ts)
{
	uint64_t cap_end = off + caplen, end = off + wirelen;
	if (r->ooo_bytes + caplen > b->per_stream || b->used + caplen > b->limit)
		return false;
	struct sonde_reasm_seg **link = &r->ooo;
	uint64_t cur = off;
	while (cur < end) {
		struct sonde_reasm_seg *s = *link;
		uint64_t piece_end = end;
		if (s) {
			if (seg_end(s) <= cur) {
				link = &s->next;
				continue;
			}
			if (s->off <= cur) { /* already held: first copy wins */
				uint64_t held = (seg_end(s) < end ? seg_end(s) : end) - cur;
				uint64_t held_cap =
					cur < cap_end
						? (cap_end < cur + held ? cap_end : cur + held) -
							  cur
						: 0;
				st->retransmitted_bytes += held_cap;
				cur += held;
				link = &s->next;
				continue;
			}
			if (s->off < piece_end)
				piece_end = s->off;
		}
		uint32_t len = 0;
		if (cur < cap_end)
			len = (uint32_t)((piece_end < cap_end ? piece_end : cap_end) - cur);
		uint32_t gap = (uint32_t)(piece_end - cur - len);
		struct sonde_reasm_seg *n = seg_new(cur, p + (cur - off), len, gap, ts);
		n->next = s;
		*link = n;
		link = &n->next;
		r->ooo_bytes += len;
		r->ooo_count++;
		b->used += len;
		cur = piece_end;
	}
	return true;
}

void sonde_reasm_add(struct sonde_reasm *r, struct sonde_mem_budget *b, struct sonde_stats *st,
		     const struct sonde_reasm_out *out, uint64_t off, const uint8_t *p,
		     uint32_t caplen, uint32_t wirelen, uint64_t ts)
{
	if (wirelen < caplen)
		wirelen = caplen;
	if (!wirelen)
		return;
	/* Fast path: in order, nothing waiting. No copy. */
	if (off <= r->next && !r->ooo) {
		deliver(r, st, out, off, p, caplen, wirelen - caplen, ts);
		return;
	}
	/* In order with segments waiting: deliver straight from this segment up
	 * to each waiting one (whose bytes, received first, win), draining as
	 * they become contiguous. Nothing to copy, so no budget to exceed. */
	if (off <= r->next) {
		uint64_t end = off + wirelen, cap_end = off + caplen;
		if (off < r->next) /* the head of it was delivered before */
			st->retransmitted_bytes += (cap_end < r->next ? cap_end : r->next) - off;
		while (r->next < end) {
			uint64_t from = r->next;
			uint64_t stop = r->ooo && r->ooo->off < end ? r->ooo->off : end;
			if (stop > from) {
				uint64_t cfrom = from < cap_end ? from : cap_end;
				uint64_t cstop = stop < cap_end ? stop : cap_end;
				deliver(r, st, out, from, p + (cfrom - off),
					(uint32_t)(cstop - cfrom),
					(uint32_t)((stop - from) - (cstop - cfrom)), ts);
			}
			if (!r->ooo)
				break;
			/* Bytes of this segment under the waiting ones just drained:
			 * the first copy won. */
			uint64_t ov_from = r->ooo->off;
			drain(r, b, st, out);
			uint64_t ov_to = r->next < cap_end ? r->next : cap_end;
			if (ov_to > ov_from)
				st->retransmitted_bytes += ov_to - ov_from;
		}
		return;
	}
	if (off + wirelen <= r->next) {
		st->retransmitted_bytes += caplen;
		return;
	}
	if (off > r->next)
		st->out_of_order_segments++;
	while (!buffer_segment(r, b, st, off, p, caplen, wirelen, ts)) {
		st->reassembly_budget_drops++;
		if (!r->ooo) {
			/* Nothing to make room with: skip straight to this segment. */
			declare_gap(r, st, out, off, ts);
			deliver(r, st, out, off, p, caplen, wirelen - caplen, ts);
			return;
		}
		skip_first_hole(r, b, st, out);
		if (off + wirelen <= r->next) {
			st->retransmitted_bytes += caplen;
			return;
		}
		if (off <= r->next && !r->ooo) {
			deliver(r, st, out, off, p, caplen, wirelen - caplen, ts);
			return;
		}
	}
	drain(r, b, st, out);
}

void sonde_reasm_ack(struct sonde_reasm *r, struct sonde_mem_budget *b, struct sonde_stats *st,
		     const struct sonde_reasm_out *out, uint64_t off, uint64_t ts)
{
	(void)ts;
	while (r->ooo && off > r->next && off >= r->ooo->off)
		skip_first_hole(r, b, st, out);
}

void sonde_reasm_flush(struct sonde_reasm *r, struct sonde_mem_budget *b, struct sonde_stats *st,
		       const struct sonde_reasm_out *out, uint64_t ts)
{
	(void)ts;
	while (r->ooo)
		skip_first_hole(r, b, st, out);
}
