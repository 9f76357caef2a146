/* SPDX-License-Identifier: MIT */
#include "conn/tcphealth.h"

#include <errno.h>
#include <string.h>

#include "core/buf.h"

/* 32-bit sequence comparisons, wrap-aware. */
static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool seq_ge(uint32_t a, uint32_t b)
{
	return !seq_lt(a, b);
}

void sonde_tcp_health_init(struct sonde_tcp_health *h, uint64_t ts)
{
	memset(h, 0, sizeof(*h));
	h->ts_first = ts;
	h->first_fin = h->first_rst = -1;
}

/* ------------------------------------------------------------ samples --- */

static const struct sonde_tcp_sample *newest(const struct sonde_tcp_health *h)
{
	if (!h->nring)
		return NULL;
	return &h->ring[(h->head + SONDE_TCP_SAMPLES - 1) % SONDE_TCP_SAMPLES];
}

static void push_sample(struct sonde_tcp_health *h, uint64_t ts, uint32_t srtt, uint32_t retrans)
{
	const struct sonde_tcp_sample *last = newest(h);
	/* only changes are kept, so a long calm exchange costs one slot */
	if (last && last->srtt_us == srtt && last->retrans == retrans)
		return;
	h->ring[h->head] = (struct sonde_tcp_sample){ ts, srtt, retrans };
	h->head = (h->head + 1) % SONDE_TCP_SAMPLES;
	if (h->nring < SONDE_TCP_SAMPLES)
		h->nring++;
}

void sonde_tcp_health_sample(struct sonde_tcp_health *h, uint64_t ts, uint32_t srtt_us,
			     uint32_t retrans, uint8_t source)
{
	h->sample_source = source;
	push_sample(h, ts, srtt_us, retrans);
}

/* The newest sample at or before ts; NULL when ts is older than all kept
 * (*gone: older samples were overwritten, so the value is not known). */
static const struct sonde_tcp_sample *sample_at(const struct sonde_tcp_health *h, uint64_t ts,
						bool *gone)
{
	*gone = false;
	for (unsigned i = 1; i <= h->nring; i++) {
		const struct sonde_tcp_sample *s =
			&h->ring[(h->head + SONDE_TCP_SAMPLES - i) % SONDE_TCP_SAMPLES];
		if (s->ts <= ts)
			return s;
	}
	*gone = h->nring == SONDE_TCP_SAMPLES;
	return NULL;
}

bool sonde_tcp_health_exchange(const struct sonde_tcp_health *h, uint64_t req_ts, uint64_t end_ts,
			       struct sonde_tcp_exchange *out)
{
	memset(out, 0, sizeof(*out));
	if (!h || !h->nring)
		return false;
	bool gone0, gone1;
	const struct sonde_tcp_sample *s0 = sample_at(h, req_ts, &gone0);
	const struct sonde_tcp_sample *s1 = sample_at(h, end_ts, &gone1);
	out->source = h->sample_source;
	if (s0 && s0->srtt_us) {
		out->srtt_known = true;
		out->srtt_us = s0->srtt_us;
	}
	/* before the first sample nothing had been retransmitted */
	if (s1 && !gone0) {
		out->retrans_known = true;
		out->retrans = s1->retrans - (s0 ? s0->retrans : 0);
	}
	return out->srtt_known || out->retrans_known;
}

bool sonde_tcp_health_troubled(const struct sonde_tcp_health *h, const struct sonde_tcp_exchange *x)
{
	return (x && x->retrans_known && x->retrans) ||
	       (h && h->ended && h->f.outcome == SONDE_TCP_RESET);
}

/* ------------------------------------------------------------- facts --- */

static uint8_t side_of(uint8_t rel, bool src_is_client)
{
	if (!rel)
		return SONDE_TCP_SIDE_UNKNOWN;
	bool client = (rel == 1) == src_is_client;
	return client ? SONDE_TCP_SIDE_CLIENT : SONDE_TCP_SIDE_SERVER;
}

void sonde_tcp_health_facts(struct sonde_tcp_health *h, const struct sonde_tcp_facts *f,
			    bool src_is_client)
{
	struct sonde_tcp_facts *o = &h->f;
	*o = *f;
	h->ended = true; /* facts come with the end: records written from now say how */
	int a = src_is_client ? 0 : 1; /* index of the chunk source's direction */
	for (int i = 0; i < 2; i++) {
		o->bytes[i ^ a] = f->bytes[i];
		o->segs[i ^ a] = f->segs[i];
		o->retrans_segs[i ^ a] = f->retrans_segs[i];
		o->retrans_bytes[i ^ a] = f->retrans_bytes[i];
		o->ooo_segs[i ^ a] = f->ooo_segs[i];
	}
	o->have &= ~(uint32_t)(SONDE_TCPF_RETRANS0 | SONDE_TCPF_RETRANS1);
	if (f->have & SONDE_TCPF_RETRANS0)
		o->have |= a ? SONDE_TCPF_RETRANS1 : SONDE_TCPF_RETRANS0;
	if (f->have & SONDE_TCPF_RETRANS1)
		o->have |= a ? SONDE_TCPF_RETRANS0 : SONDE_TCPF_RETRANS1;
	o->have &= ~(uint32_t)SONDE_TCPF_OOO;
	if (f->have & SONDE_TCPF_OOO0)
		o->have |= a ? SONDE_TCPF_OOO1 : SONDE_TCPF_OOO0;
	if (f->have & SONDE_TCPF_OOO1)
		o->have |= a ? SONDE_TCPF_OOO0 : SONDE_TCPF_OOO1;
	o->closed_by = side_of(f->closed_by, src_is_client);
	o->reset_by = side_of(f->reset_by, src_is_client);
	o->rtt_side = side_of(f->rtt_side, src_is_client);
	o->cwnd_side = side_of(f->cwnd_side, src_is_client);
}

/* The peer's retransmissions (its own, index 0) and what it received out
 * of order (the other end's, index 1) into f at the client-oriented me. */
static void peer_counts(struct sonde_tcp_facts *o, const struct sonde_tcp_facts *f, int me)
{
	if (f->have & SONDE_TCPF_RETRANS0) {
		o->retrans_segs[me] = f->retrans_segs[0];
		o->retrans_bytes[me] = f->retrans_bytes[0];
		o->have |= me ? SONDE_TCPF_RETRANS1 : SONDE_TCPF_RETRANS0;
	}
	if (f->have & SONDE_TCPF_OOO1) {
		o->ooo_segs[1 - me] = f->ooo_segs[1];
		o->have |= me ? SONDE_TCPF_OOO0 : SONDE_TCPF_OOO1;
	}
}

void sonde_tcp_health_peer(struct sonde_tcp_health *h, const struct sonde_tcp_facts *f,
			   bool peer_is_client)
{
	struct sonde_tcp_facts *o = &h->f;
	h->peer = *f;
	h->peer_side = peer_is_client ? SONDE_TCP_SIDE_CLIENT : SONDE_TCP_SIDE_SERVER;
	peer_counts(o, f, peer_is_client ? 0 : 1);
	/* each end times its own half of the handshake */
	if (peer_is_client && (f->have & SONDE_TCPF_HANDSHAKE) &&
	    !(o->have & SONDE_TCPF_HANDSHAKE)) {
		o->handshake_ns = f->handshake_ns;
		o->have |= SONDE_TCPF_HANDSHAKE;
	}
	if (!peer_is_client && (f->have & SONDE_TCPF_SERVER_HANDSHAKE) &&
	    !(o->have & SONDE_TCPF_SERVER_HANDSHAKE)) {
		o->server_handshake_ns = f->server_handshake_ns;
		o->have |= SONDE_TCPF_SERVER_HANDSHAKE;
	}
	uint8_t closed = side_of(f->closed_by, peer_is_client);
	uint8_t reset = side_of(f->reset_by, peer_is_client);
	/* an end knows best what it sent itself; the other's word fills gaps */
	if (reset && (f->reset_by == 1 || !o->reset_by))
		o->reset_by = reset;
	if (f->outcome == SONDE_TCP_RESET && o->outcome == SONDE_TCP_CLOSED)
		o->outcome = SONDE_TCP_RESET;
	if (o->outcome == SONDE_TCP_RESET && o->reset_by)
		o->closed_by = o->reset_by;
	else if (closed && (f->closed_by == 1 || !o->closed_by))
		o->closed_by = closed;
	if (!o->err && (f->have & SONDE_TCPF_ERR) && f->err) {
		o->err = f->err;
		o->have |= SONDE_TCPF_ERR;
	}
}

/* ---------------------------------------------------- packet analysis --- */

/* RFC 6298's smoothing of one RTT sample into direction d. */
static void rtt_sample(struct sonde_tcp_dir *d, uint64_t ns)
{
	uint32_t us = (uint32_t)(ns / 1000);
	if (!d->rtt_n) {
		d->srtt_us = us;
		d->rttvar_us = us / 2;
		d->rtt_min_us = d->rtt_max_us = us;
	} else {
		uint32_t dev = us > d->srtt_us ? us - d->srtt_us : d->srtt_us - us;
		d->rttvar_us = (3 * d->rttvar_us + dev) / 4;
		d->srtt_us = (7 * d->srtt_us + us) / 8;
		if (us < d->rtt_min_us)
			d->rtt_min_us = us;
		if (us > d->rtt_max_us)
			d->rtt_max_us = us;
	}
	d->rtt_sum_us += us;
	d->rtt_n++;
}

/*
 * The direction whose ack_rtt is the connection's RTT: a capture point near
 * the client sees its segments' ACKs a whole round trip later, the server's
 * at once (and the other way near the server). The handshake tells which:
 * SYN → SYN/ACK is the long half near the client.
 */
static int rtt_dir(const struct sonde_tcp_health *h)
{
	if (h->ts_syn && h->ts_synack && h->ts_ack)
		return h->ts_synack - h->ts_syn >= h->ts_ack - h->ts_synack ? 0 : 1;
	return h->d[0].srtt_us >= h->d[1].srtt_us ? 0 : 1;
}

/*
 * Wireshark's classification (tcp.analysis.*, as tshark 4.0 applies it;
 * checked segment by segment against it on the e2e test's captures) of a
 * segment carrying data, SYN or FIN, in this order: a keep-alive (one byte
 * or none, one below nextseq) and a zero-window probe are neither; data
 * already acknowledged is a spurious retransmission (counted, whenever it
 * came: a copy sent while the ACK was on its way is one too); below
 * nextseq: a fast retransmission after two duplicate ACKs (counted), out
 * of order within one initial RTT of the newest segment unless it ends
 * where that one did, else a retransmission (counted).
 */
enum seg_kind { SEG_NEW, SEG_RETRANS, SEG_OUT_OF_ORDER, SEG_KEEPALIVE, SEG_PROBE };

struct seg_view {
	uint32_t seq, len;
	bool synfin, rst;
	uint64_t ts;
};

static bool is_keepalive(const struct sonde_tcp_dir *d, const struct seg_view *s)
{
	return d->started && s->len <= 1 && !s->synfin && !s->rst && s->seq == d->nextseq - 1;
}

/* A one-byte probe of a peer that advertised no room; it does not move nextseq. */
static bool is_window_probe(const struct sonde_tcp_dir *d, const struct sonde_tcp_dir *rev,
			    const struct seg_view *s)
{
	return d->started && s->len == 1 && s->seq == d->nextseq && rev->ack_known && !rev->window;
}

static enum seg_kind classify(const struct sonde_tcp_health *h, const struct sonde_tcp_dir *d,
			      const struct sonde_tcp_dir *rev, const struct seg_view *s)
{
	if (is_keepalive(d, s))
		return SEG_KEEPALIVE;
	if (is_window_probe(d, rev, s))
		return SEG_PROBE;
	if (s->len && rev->ack_known && !seq_lt(rev->lastack, s->seq + s->len))
		return SEG_RETRANS; /* spurious */
	if (!d->started || !seq_lt(s->seq, d->nextseq))
		return SEG_NEW;
	if (s->len > 1 && d->nextseq - 1 == s->seq)
		return SEG_NEW; /* new data after a probe nextseq did not count */
	if (rev->ack_known && rev->dupacks >= 2 && rev->lastack == s->seq &&
	    s->ts - rev->lastack_ts < 20000000)
		return SEG_RETRANS; /* fast retransmission */
	uint64_t thres = h->first_rtt_ns ? h->first_rtt_ns : 3000000;
	if (s->ts - d->last_ts < thres && d->nextseq != s->seq + s->len + (s->synfin ? 1 : 0))
		return SEG_OUT_OF_ORDER;
	return SEG_RETRANS;
}

/* Wireshark's duplicate ACK: no data, SYN, FIN or RST, nothing new
 * (seq at nextseq), the same ACK and the same non-zero window as before,
 * and not the answer to the peer's keep-alive. */
static void note_ack(struct sonde_tcp_dir *d, struct sonde_tcp_dir *rev,
		     const struct sonde_chunk *ch, bool bare)
{
	uint32_t ack = ch->ack;
	bool dup = bare && d->ack_known && ack == d->lastack && ch->tcp_window &&
		   ch->tcp_window == d->window && d->started && (uint32_t)ch->seq == d->nextseq &&
		   !rev->last_keepalive;
	if (dup)
		d->dupacks++;
	else if (!d->ack_known || ack != d->lastack)
		d->dupacks = 0;
	d->lastack = ack;
	d->lastack_ts = ch->ts_ns;
	d->window = ch->tcp_window;
	d->ack_known = true;
	if (rev->timing && seq_ge(ack, rev->timed_end)) {
		rtt_sample(rev, ch->ts_ns - rev->timed_ts);
		rev->timing = false;
	}
}

/* The handshake's times; the out-of-order window is Wireshark's initial
 * RTT: the newest SYN to the first ACK without SYN after it. */
static void note_handshake(struct sonde_tcp_health *h, uint8_t fl, int k, uint64_t ts)
{
	bool syn = fl & SONDE_CF_SYN, ack = fl & SONDE_CF_ACK;
	if (syn && !ack) {
		if (!h->ts_syn)
			h->ts_syn = ts;
		h->ts_mru_syn = ts;
	}
	if (syn && ack && !h->ts_synack) {
		h->ts_synack = ts;
		h->syn_answered = true;
	}
	if (!syn && ack && k == 0 && h->ts_synack && !h->ts_ack)
		h->ts_ack = ts;
	if (!syn && ack && h->ts_mru_syn && !h->first_rtt_ns)
		h->first_rtt_ns = ts - h->ts_mru_syn;
}

/* Counts the segment's kind, and moves nextseq (and the RTT timing) on. */
static void note_data(struct sonde_tcp_health *h, struct sonde_tcp_dir *d,
		      const struct sonde_tcp_dir *rev, const struct seg_view *s)
{
	enum seg_kind kind = classify(h, d, rev, s);
	d->last_keepalive = kind == SEG_KEEPALIVE;
	if (kind == SEG_RETRANS) {
		d->retrans_segs++;
		d->retrans_bytes += s->len;
	} else if (kind == SEG_OUT_OF_ORDER) {
		d->ooo_segs++;
	}
	if (kind != SEG_NEW)
		d->timing = false; /* Karn: no sample from a segment sent again */
	if (kind == SEG_PROBE)
		return;
	uint32_t end = s->seq + s->len + (s->synfin ? 1 : 0);
	if (!d->started || seq_lt(d->nextseq, end)) {
		if (s->len && !d->timing && d->started) {
			d->timing = true;
			d->timed_end = end;
			d->timed_ts = s->ts;
		}
		d->nextseq = end;
		d->started = true;
		d->last_ts = s->ts;
	}
}

void sonde_tcp_health_segment(struct sonde_tcp_health *h, const struct sonde_chunk *ch,
			      bool from_client)
{
	int k = from_client ? 0 : 1;
	struct sonde_tcp_dir *d = &h->d[k], *rev = &h->d[1 - k];
	uint8_t fl = ch->flags;
	struct seg_view s = {
		.seq = (uint32_t)ch->seq,
		.len = ch->wirelen,
		.synfin = fl & (SONDE_CF_SYN | SONDE_CF_FIN),
		.rst = fl & SONDE_CF_RST,
		.ts = ch->ts_ns,
	};
	if (!h->closed) { /* how it opened and closed is settled at the close */
		note_handshake(h, fl, k, s.ts);
		if (s.rst && h->first_rst < 0)
			h->first_rst = (int8_t)k;
		if ((fl & SONDE_CF_FIN) && h->first_fin < 0)
			h->first_fin = (int8_t)k;
	}
	d->segs++;
	d->bytes += s.len;
	d->rst |= s.rst;
	d->fin |= (fl & SONDE_CF_FIN) != 0;
	/* the ACK first: a duplicate is judged against nextseq before this segment */
	if (fl & SONDE_CF_ACK)
		note_ack(d, rev, ch, !s.len && !s.synfin && !s.rst);
	if (s.len || s.synfin) {
		note_data(h, d, rev, &s);
	} else {
		d->last_keepalive = is_keepalive(d, &s);
		if (!d->started ||
		    seq_lt(d->nextseq, s.seq)) { /* met mid-stream: a bare ACK places it */
			d->nextseq = s.seq;
			d->started = true;
			d->last_ts = s.ts;
		}
	}
	const struct sonde_tcp_dir *r = &h->d[rtt_dir(h)];
	push_sample(h, s.ts, r->srtt_us, (uint32_t)(h->d[0].retrans_segs + h->d[1].retrans_segs));
	h->sample_source = SONDE_TCP_SRC_PACKETS;
}

void sonde_tcp_health_swap(struct sonde_tcp_health *h)
{
	struct sonde_tcp_dir t = h->d[0];
	h->d[0] = h->d[1];
	h->d[1] = t;
	if (h->first_fin >= 0)
		h->first_fin ^= 1;
	if (h->first_rst >= 0)
		h->first_rst ^= 1;
}

/* What the packets said, where the kernel said nothing. */
static void packet_facts(struct sonde_tcp_health *h)
{
	struct sonde_tcp_facts *f = &h->f;
	memset(f, 0, sizeof(*f)); /* made anew each time: segments after both FINs count */
	f->source = SONDE_TCP_SRC_PACKETS;
	f->have = SONDE_TCPF_BYTES | SONDE_TCPF_SEGS | SONDE_TCPF_RETRANS0 | SONDE_TCPF_RETRANS1 |
		  SONDE_TCPF_CLOSE;
	for (int i = 0; i < 2; i++) {
		f->bytes[i] = h->d[i].bytes;
		f->segs[i] = h->d[i].segs;
		f->retrans_segs[i] = h->d[i].retrans_segs;
		f->retrans_bytes[i] = h->d[i].retrans_bytes;
		f->ooo_segs[i] = h->d[i].ooo_segs;
	}
	f->have |= SONDE_TCPF_OOO;
	if (h->ts_syn && h->ts_ack) {
		f->handshake_ns = h->ts_ack - h->ts_syn; /* Wireshark's tcp.analysis.initial_rtt */
		f->have |= SONDE_TCPF_HANDSHAKE;
	}
	const struct sonde_tcp_dir *r = &h->d[rtt_dir(h)];
	if (r->rtt_n) {
		f->srtt_us = r->srtt_us;
		f->rttvar_us = r->rttvar_us;
		f->srtt_min_us = r->rtt_min_us;
		f->srtt_max_us = r->rtt_max_us;
		f->srtt_avg_us = (uint32_t)(r->rtt_sum_us / r->rtt_n);
		f->have |= SONDE_TCPF_RTT | SONDE_TCPF_RTT_RANGE;
	}
	int8_t rst = h->first_rst;
	if (h->ts_syn && !h->syn_answered) {
		f->outcome = rst == 1 ? SONDE_TCP_REFUSED : SONDE_TCP_TIMEOUT;
		if (rst == 1) {
			f->err = ECONNREFUSED;
			f->have |= SONDE_TCPF_ERR;
		}
		f->reset_by = rst == 1 ? SONDE_TCP_SIDE_SERVER : SONDE_TCP_SIDE_UNKNOWN;
	} else if (rst >= 0) {
		f->outcome = SONDE_TCP_RESET;
		f->reset_by = rst == 0 ? SONDE_TCP_SIDE_CLIENT : SONDE_TCP_SIDE_SERVER;
		f->closed_by = f->reset_by;
	} else if (h->d[0].fin && h->d[1].fin) {
		f->outcome = SONDE_TCP_CLOSED;
	}
	if (h->first_fin >= 0 && !f->closed_by)
		f->closed_by = h->first_fin == 0 ? SONDE_TCP_SIDE_CLIENT : SONDE_TCP_SIDE_SERVER;
}

void sonde_tcp_health_finish(struct sonde_tcp_health *h)
{
	if (h->f.source != SONDE_TCP_SRC_KERNEL && h->sample_source == SONDE_TCP_SRC_PACKETS)
		packet_facts(h);
}

/* ------------------------------------------------------------- names --- */

const char *sonde_tcp_outcome_name(enum sonde_tcp_outcome o)
{
	switch (o) {
	case SONDE_TCP_CLOSED: return "closed";
	case SONDE_TCP_RESET: return "reset";
	case SONDE_TCP_REFUSED: return "refused";
	case SONDE_TCP_TIMEOUT: return "timeout";
	case SONDE_TCP_UNREACHABLE: return "unreachable";
	case SONDE_TCP_ABORTED: return "aborted";
	case SONDE_TCP_LISTEN_OVERFLOW: return "listen_overflow";
	case SONDE_TCP_OPEN: break;
	}
	return "open";
}

const char *sonde_tcp_side_name(enum sonde_tcp_side s)
{
	return s == SONDE_TCP_SIDE_CLIENT ? "client" : s == SONDE_TCP_SIDE_SERVER ? "server" : NULL;
}

const char *sonde_tcp_source_name(enum sonde_tcp_source s)
{
	return s == SONDE_TCP_SRC_KERNEL ? "kernel" : s == SONDE_TCP_SRC_PACKETS ? "packets" : NULL;
}
