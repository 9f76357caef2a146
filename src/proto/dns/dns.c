/* SPDX-License-Identifier: MIT */
/*
 * The DNS dissector: one message per UDP datagram (datagram()), and over TCP
 * (data()) messages behind a 2-byte length (RFC 1035 4.2.2, RFC 7766), split
 * anywhere, several to a segment. Queries and responses pair by key: the
 * transaction id and the first question (dns_msg.h), within the flow, so
 * answers out of order or a lost answer pair right; queries still waiting
 * when the flow ends (FIN, idle timeout, end of input) are written
 * unanswered.
 *
 * After a gap inside a TCP message whose length is known, the rest of it is
 * skipped and framing stays in step; after any other gap (or a length too
 * short for a header) the direction resynchronises: each later chunk is
 * searched for a length prefix followed by a plausible message
 * (sonde_dns_check), and bytes before one are counted unparsed.
 */
#include <stdlib.h>

#include "proto/dissector.h"
#include "proto/dns/dns_msg.h"
#include "proto/dns/dns_wire.h"
#include "proto/session.h"

#define TCP_PREFIX 2

struct dns_dir {
	uint8_t lenb[TCP_PREFIX];
	uint8_t nlen; /* bytes of the length prefix read */
	uint16_t need; /* the message's length, once nlen is 2 */
	struct sonde_buf msg; /* its bytes so far */
	uint64_t ts_first;
	uint64_t skip; /* bytes of a message lost in a gap still to pass */
	bool resync; /* looking for a message start */
};

struct dns_state {
	struct sonde_session *s;
	struct dns_dir dir[2];
};

const struct sonde_dissector sonde_dissector_dns;

/* A datagram is one whole message; a stream starts with its length. */
static enum sonde_probe dns_probe(const uint8_t *p, size_t n)
{
	enum sonde_dns_kind k = sonde_dns_check(p, n, n);
	if (k == SONDE_DNS_NO || k == SONDE_DNS_MORE) {
		if (n < TCP_PREFIX)
			return SONDE_PROBE_MORE;
		size_t len = sonde_dns_be16(p);
		k = sonde_dns_check(p + TCP_PREFIX, n - TCP_PREFIX < len ? n - TCP_PREFIX : len,
				    len);
	}
	switch (k) {
	case SONDE_DNS_QUERY: return SONDE_PROBE_CLIENT;
	case SONDE_DNS_RESPONSE: return SONDE_PROBE_SERVER;
	case SONDE_DNS_MORE: return SONDE_PROBE_MORE;
	default: return SONDE_PROBE_NO;
	}
}

static void *dns_open(struct sonde_session *s)
{
	sonde_session_start(s, &sonde_dissector_dns);
	struct dns_state *st = sonde_xcalloc(1, sizeof(*st));
	st->s = s;
	for (int i = 0; i < 2; i++) {
		sonde_buf_init(&st->dir[i].msg, UINT16_MAX);
		/* joined mid-stream: the first bytes may be inside a message */
		st->dir[i].resync = s->midstream[i];
	}
	return st;
}

/* One whole message (wire: the bytes it took, with a TCP prefix). */
static void emit(struct dns_state *st, const uint8_t *p, size_t n, uint64_t wire, uint64_t ts_first,
		 uint64_t ts)
{
	struct sonde_stats *stats = st->s->stats;
	struct sonde_dns_msg *m = sonde_dns_msg_new();
	int r = sonde_dns_parse(m, p, n);
	if (r < 0) {
		stats->parse_errors++;
		stats->unparsed_bytes += wire;
		sonde_msg_free(&m->base);
		return;
	}
	if (r > 0) {
		m->base.flags |= SONDE_MF_PARSE_ERROR;
		stats->parse_errors++;
	}
	m->base.pair_key = sonde_dns_pair_key(m);
	m->base.ts_first = ts_first;
	m->base.ts_last = ts;
	m->base.wire_bytes = m->base.captured_bytes = wire;
	m->base.mem = sizeof(*m) + m->text.cap + m->rr_cap * sizeof(*m->rr);
	if (m->base.kind == SONDE_MSG_RESPONSE)
		sonde_session_response(st->s, &m->base);
	else
		sonde_session_request(st->s, &m->base);
}

static void dns_datagram(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)dir; /* the QR bit says which it is */
	emit(state, p, n, n, ts, ts);
}

/* Forget the message in progress; its bytes are counted unparsed. */
static void drop_partial(struct dns_state *st, struct dns_dir *d)
{
	st->s->stats->unparsed_bytes += d->nlen + d->msg.len;
	d->nlen = 0;
	d->need = 0;
	sonde_buf_reset(&d->msg);
}

/* Framing in step: bytes of p used before it is all used or sync is lost. */
static size_t frame(struct dns_state *st, struct dns_dir *d, const uint8_t *p, size_t n,
		    uint64_t ts)
{
	size_t i = 0;
	while (i < n && !d->resync) {
		if (d->skip) {
			size_t k = d->skip < n - i ? (size_t)d->skip : n - i;
			d->skip -= k;
			st->s->stats->unparsed_bytes += k;
			i += k;
			continue;
		}
		if (d->nlen < TCP_PREFIX) {
			if (!d->nlen)
				d->ts_first = ts;
			d->lenb[d->nlen++] = p[i++];
			if (d->nlen < TCP_PREFIX)
				continue;
			d->need = sonde_dns_be16(d->lenb);
			if (d->need < SONDE_DNS_HEADER) { /* no message is this short */
				drop_partial(st, d);
				d->resync = true;
			}
			continue;
		}
		size_t k = d->need - d->msg.len < n - i ? d->need - d->msg.len : n - i;
		sonde_buf_append(&d->msg, p + i, k);
		i += k;
		if (d->msg.len == d->need) {
			emit(st, d->msg.p, d->msg.len, d->need + TCP_PREFIX, d->ts_first, ts);
			d->nlen = 0;
			sonde_buf_reset(&d->msg);
		}
	}
	return i;
}

/*
 * Out of step: the first offset of p where a length prefix and a plausible
 * message start (framing resumes there), or all of p, counted unparsed.
 */
static size_t resync(struct dns_state *st, struct dns_dir *d, const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + TCP_PREFIX + SONDE_DNS_HEADER <= n; i++) {
		size_t len = sonde_dns_be16(p + i), vis = n - i - TCP_PREFIX;
		enum sonde_dns_kind k =
			sonde_dns_check(p + i + TCP_PREFIX, vis < len ? vis : len, len);
		if (k == SONDE_DNS_QUERY || k == SONDE_DNS_RESPONSE) {
			d->resync = false;
			break;
		}
	}
	if (d->resync)
		i = n;
	st->s->stats->unparsed_bytes += i;
	return i;
}

static size_t dns_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct dns_state *st = state;
	struct dns_dir *d = &st->dir[dir];
	for (size_t i = 0; i < n;)
		i += d->resync ? resync(st, d, p + i, n - i) : frame(st, d, p + i, n - i, ts);
	return n;
}

static void dns_gap(void *state, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	struct dns_state *st = state;
	struct dns_dir *d = &st->dir[dir];
	(void)ts;
	if (d->resync)
		return;
	if (d->skip) {
		if (n <= d->skip) {
			d->skip -= n;
			return;
		}
		d->skip = 0;
		d->resync = true;
		return;
	}
	/* Inside a message of known length: its end is known, step over it. */
	if (d->nlen == TCP_PREFIX && n <= d->need - d->msg.len) {
		d->skip = d->need - d->msg.len - n;
		drop_partial(st, d);
		return;
	}
	drop_partial(st, d);
	d->resync = true;
}

static void dns_end(void *state, enum sonde_dir dir, uint64_t ts)
{
	struct dns_state *st = state;
	(void)ts;
	drop_partial(st, &st->dir[dir]); /* a message the stream ended inside */
}

static void dns_close(void *state, uint64_t ts)
{
	struct dns_state *st = state;
	(void)ts;
	sonde_session_flush(st->s);
	for (int i = 0; i < 2; i++) {
		if (st->dir[i].nlen || st->dir[i].msg.len)
			drop_partial(st, &st->dir[i]);
		sonde_buf_free(&st->dir[i].msg);
	}
	free(st);
}

const struct sonde_dissector sonde_dissector_dns = {
	.name = "dns",
	.pairing = SONDE_PAIR_BY_KEY,
	.probe = dns_probe,
	.open = dns_open,
	.data = dns_data,
	.gap = dns_gap,
	.end = dns_end,
	.close = dns_close,
	.datagram = dns_datagram,
};
