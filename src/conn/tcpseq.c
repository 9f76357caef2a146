/* SPDX-License-Identifier: MIT */
#include "conn/tcpseq.h"

bool sonde_tcpseq_place(struct sonde_reasm *rs, const struct sonde_chunk *ch,
			struct sonde_stats *st, struct sonde_span *out)
{
	uint32_t seq = (uint32_t)ch->seq;
	uint32_t caplen = ch->caplen, wirelen = ch->wirelen;
	const uint8_t *p = ch->data;
	out->midstream = false;
	if (ch->flags & SONDE_CF_SYN) {
		/* A SYN again after a mid-stream start with nothing delivered
		 * yet still sets the true start. */
		if (!rs->base_known || rs->next == 0)
			sonde_reasm_set_isn(rs, seq + 1, false);
		seq++;
	}
	if (!rs->base_known) {
		if (!wirelen && !(ch->flags & SONDE_CF_FIN))
			return false;
		sonde_reasm_set_isn(rs, seq, true);
		out->midstream = true;
	}
	int64_t rel = sonde_reasm_offset(rs, seq);
	if (rel < 0) { /* bytes from before the point sonde started at */
		uint64_t before = (uint64_t)-rel;
		if (before >= wirelen) {
			st->retransmitted_bytes += caplen;
			return false;
		}
		uint32_t cut = (uint32_t)before;
		uint32_t cut_cap = cut < caplen ? cut : caplen;
		st->retransmitted_bytes += cut_cap;
		p += cut_cap;
		caplen -= cut_cap;
		wirelen -= cut;
		rel = 0;
	}
	out->off = (uint64_t)rel;
	out->p = p;
	out->caplen = caplen;
	out->wirelen = wirelen;
	return true;
}

void sonde_tcpseq_ack(struct sonde_reasm *peer, const struct sonde_chunk *ch,
		      struct sonde_mem_budget *b, struct sonde_stats *st,
		      const struct sonde_reasm_out *o)
{
	if (!peer->base_known || !peer->ooo)
		return;
	int64_t a = sonde_reasm_offset(peer, ch->ack);
	if (a > 0)
		sonde_reasm_ack(peer, b, st, o, (uint64_t)a, ch->ts_ns);
}
