/* SPDX-License-Identifier: MIT */
#include "conn/conntable.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/detect.h"
#include "conn/tcphealth.h"
#include "conn/tcpseq.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/list.h"
#include "proto/tls/keylog.h"
#include "proto/tls/tls_decrypt.h"

#define SWEEP_INTERVAL_NS 1000000000ull
/* After both FINs a packet source's connection waits this long (capture
 * time) before its record: a FIN sent again because its ACK was lost is
 * still the connection's, and a retransmission by Wireshark's rules. */
#define LINGER_NS 1000000000ull
#define SHARED_MAX 32 /* dissectors with per-capture state */

enum conn_state {
	CONN_DETECT, /* protocol not known yet */
	CONN_DISSECT, /* a dissector has it */
	CONN_SKIP, /* handed to a protocol sonde does not dissect (tunnel, upgrade) */
	CONN_IGNORE, /* protocol not recognised: count bytes only */
};

struct conn;

/* Reassembly output context: which connection, which sender. */
struct conn_dir {
	struct conn *c;
	int side; /* index into ep[] of the sender */
	struct sonde_reasm_out out;
};

struct conn {
	struct conn *hnext;
	struct sonde_list_node lru; /* on ct->lru, or ct->linger once lingering */
	struct sonde_conntable *ct;
	uint64_t hash;
	struct sonde_endpoint ep[2]; /* ep[0]: the sender of the first chunk seen */
	uint64_t src_conn_id;
	uint8_t l4;
	int client; /* index into ep[] of the client, -1 while unknown */
	uint64_t last_ts;
	struct sonde_conn_info info;
	struct sonde_reasm rs[2]; /* rs[i]: bytes sent by ep[i] */
	struct conn_dir dirs[2];
	bool end_sent[2];
	bool lingering; /* closed, its record waits for segments after both FINs */
	uint64_t linger_until;
	bool skipped_before[2]; /* bytes of this side were not given to the dissector */
	enum conn_state state;
	const struct sonde_dissector *d;
	void *dstate;
	struct sonde_session sess;
	struct sonde_detect_side det[2]; /* while CONN_DETECT */
	struct sonde_conn_attrs attrs; /* info.attrs: what record stages attached */
	struct sonde_tcp_health tcp; /* info.tcp, TCP connections */
	struct sonde_record_out counted; /* records go out through it: exchanges counted */
	/* --tls-keylog: the TLS stage in front of detection, or NULL */
	struct sonde_tls_decrypt *tls;
};

struct sonde_conntable {
	struct sonde_conntable_opts opts;
	const struct sonde_dissect_opts *dopts;
	struct sonde_dissect_opts no_body; /* dopts, bodies off (--no-bodies) */
	const struct sonde_record_out *out;
	struct sonde_stats *stats;
	struct sonde_mem_budget budget;
	struct sonde_pending_budget pending;
	struct sonde_detector *detector;
	struct conn **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	struct sonde_list lru; /* of struct conn, most recently active first */
	struct sonde_list linger; /* closed ones waiting for their record, newest first */
	size_t nlinger;
	uint64_t next_id;
	uint64_t last_sweep;
	uint64_t tls_notes; /* lines written to opts.tls_notes */
	/* dissectors' per-capture state (shared_new), made on first use */
	struct {
		const struct sonde_dissector *d;
		void *state;
	} shared[SHARED_MAX];
	size_t nshared;
};

/* ------------------------------------------------------------- hashing --- */

static bool ep_eq(const struct sonde_endpoint *x, const struct sonde_endpoint *y)
{
	return x->port == y->port && x->family == y->family && !memcmp(x->addr, y->addr, 16);
}

/* Symmetric in the two endpoints, so both directions find the connection. */
static uint64_t flow_hash(const struct sonde_flow *f, uint64_t conn_id)
{
	return sonde_mix64(sonde_pair_hash(&f->src, &f->dst) + conn_id * 31 + f->l4);
}

/* --------------------------------------------------------------- table --- */

struct sonde_conntable *sonde_conntable_new(const struct sonde_conntable_opts *opts,
					    const struct sonde_dissect_opts *dopts,
					    const struct sonde_record_out *out,
					    struct sonde_stats *stats)
{
	struct sonde_conntable *ct = sonde_xcalloc(1, sizeof(*ct));
	ct->opts = *opts;
	if (!ct->opts.max_conns)
		ct->opts.max_conns = 1;
	ct->dopts = dopts;
	ct->no_body = *dopts;
	ct->no_body.body_limit = 0;
	ct->out = out;
	ct->stats = stats;
	ct->budget.limit = opts->reasm_mem;
	ct->budget.per_stream = opts->reasm_stream_mem;
	ct->pending.limit = dopts->pending_mem;
	ct->detector = sonde_detector_new(opts->dissectors, opts->port_hints);
	ct->nbuckets = 1024;
	ct->buckets = sonde_xcalloc(ct->nbuckets, sizeof(*ct->buckets));
	return ct;
}

size_t sonde_conntable_count(const struct sonde_conntable *ct)
{
	return ct->count - ct->nlinger; /* the lingering ones are closed */
}

static void grow(struct sonde_conntable *ct)
{
	size_t n = ct->nbuckets * 2;
	struct conn **b = sonde_xcalloc(n, sizeof(*b));
	for (size_t i = 0; i < ct->nbuckets; i++) {
		struct conn *c = ct->buckets[i];
		while (c) {
			struct conn *next = c->hnext;
			c->hnext = b[c->hash & (n - 1)];
			b[c->hash & (n - 1)] = c;
			c = next;
		}
	}
	free(ct->buckets);
	ct->buckets = b;
	ct->nbuckets = n;
}

/* The least recently active connection, NULL when the table is empty. */
static struct conn *lru_oldest(struct sonde_conntable *ct)
{
	return sonde_list_entry_or_null(ct->lru.last, struct conn, lru);
}

/* The connection lingering longest, NULL when none is. */
static struct conn *linger_oldest(struct sonde_conntable *ct)
{
	return sonde_list_entry_or_null(ct->linger.last, struct conn, lru);
}

/* ------------------------------------------------------- dissector glue --- */

static void conn_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts);
static void conn_gap(void *ctx, uint64_t n, uint64_t ts);

static inline enum sonde_dir dir_of(const struct conn *c, int side)
{
	return side == c->client ? SONDE_DIR_C2S : SONDE_DIR_S2C;
}

static void set_client(struct conn *c, int side, bool known)
{
	/* until roles are known the first side's segments count as the client's */
	if (c->l4 == SONDE_L4_TCP && side != (c->client < 0 ? 0 : c->client))
		sonde_tcp_health_swap(&c->tcp);
	c->client = side;
	c->info.role_known = known;
	c->info.client = c->ep[side];
	c->info.server = c->ep[1 - side];
}

/* Start the dissector `d` on the connection; roles must be known. */
/* The state d's connections share in this capture, made on first use. */
static void *shared_of(struct sonde_conntable *ct, const struct sonde_dissector *d)
{
	if (!d->shared_new)
		return NULL;
	for (size_t i = 0; i < ct->nshared; i++)
		if (ct->shared[i].d == d)
			return ct->shared[i].state;
	if (ct->nshared == SHARED_MAX)
		return NULL;
	ct->shared[ct->nshared].d = d;
	ct->shared[ct->nshared].state = d->shared_new();
	return ct->shared[ct->nshared++].state;
}

static void count_exchange(void *ctx, const struct sonde_record *r);

static void open_dissector(struct conn *c, const struct sonde_dissector *d)
{
	struct sonde_conntable *ct = c->ct;
	c->d = d;
	c->state = CONN_DISSECT;
	memset(&c->sess, 0, sizeof(c->sess));
	c->sess.conn = &c->info;
	c->sess.opts = sonde_dissect_no_body(ct->dopts, d->name) ? &ct->no_body : ct->dopts;
	c->sess.stats = ct->stats;
	for (int side = 0; side < 2; side++)
		c->sess.midstream[dir_of(c, side)] =
			c->rs[side].midstream || c->skipped_before[side];
	c->counted = (struct sonde_record_out){ count_exchange, c };
	sonde_pairing_init(&c->sess.pairing, &c->info, &c->counted, ct->stats,
			   ct->dopts->max_waiting, &ct->pending);
	c->sess.shared = shared_of(ct, d);
	c->dstate = d->open(&c->sess);
}

static void notify_ignore(struct conn *c)
{
	const struct sonde_conntable_opts *o = &c->ct->opts;
	if (o->on_ignore && c->src_conn_id)
		o->on_ignore(o->on_ignore_ctx, c->src_conn_id);
}

/* The dissector handed the connection over to another protocol. */
static void switch_protocol(struct conn *c)
{
	const struct sonde_dissector *next = sonde_detect_find(c->ct->detector, c->sess.switch_to);
	c->d->close(c->dstate, c->last_ts);
	c->dstate = NULL;
	c->d = NULL;
	c->skipped_before[0] = c->skipped_before[1] = false;
	if (next) {
		open_dissector(c, next);
	} else {
		c->state = CONN_SKIP;
		notify_ignore(c);
	}
}

static void dissect(struct conn *c, int side, const uint8_t *p, size_t n, uint64_t ts)
{
	while (n && c->state == CONN_DISSECT) {
		size_t used = c->d->data(c->dstate, dir_of(c, side), p, n, ts);
		if (used >= n)
			return;
		if (!c->sess.switch_to) { /* contract breach: do not loop */
			c->ct->stats->unparsed_bytes += n - used;
			return;
		}
		switch_protocol(c);
		p += used;
		n -= used;
	}
	if (n && c->state == CONN_SKIP)
		c->ct->stats->skipped_bytes += n;
}

/* Who sent side's bytes, for detection. */
static struct sonde_detect_peers peers_of(const struct conn *c, int side)
{
	return (struct sonde_detect_peers){
		.from = &c->ep[side],
		.to = &c->ep[1 - side],
		.from_is_server = c->client >= 0 && c->info.role_known ? side != c->client : -1,
	};
}

/*
 * Detection found the protocol of side's bytes: open it and hand it what
 * came so far, the other side's held bytes first (they came first there),
 * then side's held bytes, then p.
 */
static void start_tls(struct conn *c, int side, const struct sonde_detect_result *r,
		      const uint8_t *p, size_t n, uint64_t ts);

static void start(struct conn *c, int side, const struct sonde_detect_result *r, const uint8_t *p,
		  size_t n, uint64_t ts)
{
	/* A role from the handshake or the source beats a guess from content. */
	if (c->client < 0)
		set_client(c, r->from_client ? side : 1 - side, false);
	if (sonde_keylog_count(c->ct->opts.tls_keylog) && !c->tls && !strcmp(r->d->name, "tls")) {
		start_tls(c, side, r, p, n, ts);
		return;
	}
	if (r->skip)
		c->skipped_before[side] = true;
	open_dissector(c, r->d);
	if (!r->learned && c->info.role_known && !c->tls) /* the port is TLS's */
		sonde_detect_learn(c->ct->detector, &c->info.server, r->d, ts);
	struct sonde_detect_side *other = &c->det[1 - side];
	if (other->len) {
		uint16_t len = other->len;
		other->len = 0;
		dissect(c, 1 - side, other->buf, len, ts);
	}
	if (r->held)
		dissect(c, side, c->det[side].buf, r->held, ts);
	dissect(c, side, p, n, ts);
	sonde_detect_side_free(&c->det[0]);
	sonde_detect_side_free(&c->det[1]);
}

/* ---------------------------------------------------- the TLS stage --- */

static void deliver(struct conn *c, int side, const uint8_t *p, size_t n, uint64_t ts);
static void lose(struct conn *c, int side, uint64_t n, uint64_t ts);

static void tls_plain(void *ctx, int side, const uint8_t *p, size_t n, uint64_t ts)
{
	deliver(ctx, side, p, n, ts);
}

static void tls_lost(void *ctx, int side, uint64_t n, uint64_t ts)
{
	lose(ctx, side, n, ts);
}

/*
 * Detection saw TLS and a key log is given: the connection's bytes go to
 * the TLS stage from now on, and its plaintext starts detection afresh. The
 * held ciphertext is taken out of the detection state first, which the
 * plaintext's detection reuses.
 */
static void start_tls(struct conn *c, int side, const struct sonde_detect_result *r,
		      const uint8_t *p, size_t n, uint64_t ts)
{
	struct sonde_tls_out out = { .data = tls_plain, .gap = tls_lost, .ctx = c };
	c->tls = sonde_tls_decrypt_new(c->ct->opts.tls_keylog, c->ct->stats, &out);
	c->info.tls_session = sonde_tls_decrypt_session(c->tls);
	if (r->skip)
		c->skipped_before[side] = true;
	struct sonde_detect_side held[2] = { c->det[0], c->det[1] };
	memset(c->det, 0, sizeof(c->det));
	if (held[1 - side].len)
		sonde_tls_decrypt_data(c->tls, 1 - side, held[1 - side].buf, held[1 - side].len,
				       ts);
	if (r->held)
		sonde_tls_decrypt_data(c->tls, side, held[side].buf, r->held, ts);
	sonde_tls_decrypt_data(c->tls, side, p, n, ts);
	sonde_detect_side_free(&held[0]);
	sonde_detect_side_free(&held[1]);
}

#define TLS_NOTES_MAX 100

/* "TLS connection 7 (a:p → b:p): why", so a connection without records
 * is not known only to --stats. */
static void tls_note(struct conn *c)
{
	struct sonde_conntable *ct = c->ct;
	char why[200], a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	if (!ct->opts.tls_notes || ct->tls_notes > TLS_NOTES_MAX ||
	    !sonde_tls_decrypt_why(c->tls, why, sizeof(why)))
		return;
	if (ct->tls_notes++ == TLS_NOTES_MAX) {
		fprintf(ct->opts.tls_notes, "sonde: more TLS connections not decrypted: "
					    "counted in --stats (tls_keylog_*)\n");
		return;
	}
	int cl = c->client >= 0 ? c->client : 0;
	const struct sonde_endpoint *e[2] = { &c->ep[cl], &c->ep[1 - cl] };
	char *s[2] = { a, b };
	for (int i = 0; i < 2; i++)
		if (!inet_ntop(e[i]->family, e[i]->addr, s[i], INET6_ADDRSTRLEN))
			snprintf(s[i], INET6_ADDRSTRLEN, "?");
	fprintf(ct->opts.tls_notes, "sonde: TLS connection %llu (%s%s%s:%u -> %s%s%s:%u): %s\n",
		(unsigned long long)c->info.id, e[0]->family == AF_INET6 ? "[" : "", a,
		e[0]->family == AF_INET6 ? "]" : "", e[0]->port,
		e[1]->family == AF_INET6 ? "[" : "", b, e[1]->family == AF_INET6 ? "]" : "",
		e[1]->port, why);
}

/* The TLS stage's end: owed plaintext given as gaps; a connection that was
 * never decrypted counts as ciphertext only, as without a key log, and is
 * said (tls_note). */
static void finish_tls(struct conn *c, uint64_t ts)
{
	sonde_tls_decrypt_finish(c->tls, ts);
	if (sonde_tls_decrypt_status(c->tls) != SONDE_TLS_DECRYPTING) {
		c->ct->stats->tls_encrypted_connections++;
		tls_note(c);
	}
}

/* Try the dissectors on the first bytes of `side`. */
static void detect(struct conn *c, int side, const uint8_t *p, size_t n, uint64_t ts)
{
	struct sonde_detect_peers who = peers_of(c, side);
	struct sonde_detect_result r;
	switch (sonde_detect(c->ct->detector, &c->det[side], &who, p, n, ts, c->ct->stats, &r)) {
	case SONDE_DETECT_FOUND: start(c, side, &r, p + r.skip, n - r.skip, ts); break;
	case SONDE_DETECT_HELD: break;
	case SONDE_DETECT_SKIPPED: c->skipped_before[side] = true; break;
	case SONDE_DETECT_GAVE_UP:
		c->skipped_before[side] = true;
		sonde_detect_side_free(&c->det[0]);
		sonde_detect_side_free(&c->det[1]);
		c->state = CONN_IGNORE;
		notify_ignore(c);
		break;
	}
}

/*
 * Side's held bytes would be given up (a gap follows, or the end): let the
 * server's learned protocol take them, else count them undetected.
 */
static void settle(struct conn *c, int side, uint64_t ts)
{
	struct sonde_detect_side *s = &c->det[side];
	struct sonde_detect_peers who = peers_of(c, side);
	struct sonde_detect_result r;
	if (!s->len)
		return;
	if (sonde_detect_settle(c->ct->detector, s, &who, ts, &r)) {
		start(c, side, &r, NULL, 0, ts);
		return;
	}
	c->ct->stats->undetected_bytes += s->len;
	s->len = 0;
}

/* Does side's sender count as the client, for --follow? */
static bool followed_from_client(const struct conn *c, int side)
{
	return c->client >= 0 ? side == c->client : side == 0;
}

/* In-order bytes of side (decrypted ones, behind the TLS stage). */
static void deliver(struct conn *c, int side, const uint8_t *p, size_t n, uint64_t ts)
{
	const struct sonde_follow_out *f = c->ct->opts.follow;
	if (f && c->info.id == c->ct->opts.follow_id)
		f->data(f->ctx, &c->info, followed_from_client(c, side), p, n, ts);
	switch (c->state) {
	case CONN_DETECT: detect(c, side, p, n, ts); break;
	case CONN_DISSECT: dissect(c, side, p, n, ts); break;
	case CONN_SKIP: c->ct->stats->skipped_bytes += n; break;
	case CONN_IGNORE: c->ct->stats->undetected_bytes += n; break;
	}
}

static void lose(struct conn *c, int side, uint64_t n, uint64_t ts)
{
	const struct sonde_follow_out *f = c->ct->opts.follow;
	if (f && c->info.id == c->ct->opts.follow_id)
		f->gap(f->ctx, &c->info, followed_from_client(c, side), n);
	if (c->state == CONN_DISSECT) {
		c->d->gap(c->dstate, dir_of(c, side), n, ts);
	} else if (c->state == CONN_DETECT) {
		settle(c, side, ts);
		if (c->state == CONN_DISSECT)
			c->d->gap(c->dstate, dir_of(c, side), n, ts);
		else
			c->skipped_before[side] = true;
	}
}

static void conn_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts)
{
	struct conn_dir *cd = ctx;
	if (cd->c->tls)
		sonde_tls_decrypt_data(cd->c->tls, cd->side, p, n, ts);
	else
		deliver(cd->c, cd->side, p, n, ts);
}

static void conn_gap(void *ctx, uint64_t n, uint64_t ts)
{
	struct conn_dir *cd = ctx;
	if (cd->c->tls)
		sonde_tls_decrypt_gap(cd->c->tls, cd->side, n, ts);
	else
		lose(cd->c, cd->side, n, ts);
}

/* ---------------------------------------------------------- lifecycle --- */

static struct conn *conn_new(struct sonde_conntable *ct, const struct sonde_chunk *ch,
			     uint64_t hash)
{
	struct conn *c = sonde_xcalloc(1, sizeof(*c));
	c->ct = ct;
	c->hash = hash;
	c->ep[0] = ch->flow.src;
	c->ep[1] = ch->flow.dst;
	c->src_conn_id = ch->conn_id;
	c->l4 = ch->flow.l4;
	c->client = -1;
	c->info.id = ++ct->next_id;
	c->info.l4 = ch->flow.l4;
	c->info.origin = ch->origin;
	c->info.source = ct->opts.source;
	if (ch->source) {
		size_t n = strlen(ch->source) + 1;
		c->info.source = c->info.own_source = memcpy(sonde_xmalloc(n), ch->source, n);
	}
	c->info.attrs = &c->attrs;
	if (c->l4 == SONDE_L4_TCP) {
		sonde_tcp_health_init(&c->tcp, ch->ts_ns);
		c->info.tcp = &c->tcp;
	}
	if (ch->tls) {
		c->info.tls = sonde_xmalloc(sizeof(*c->info.tls));
		*c->info.tls = *ch->tls;
	}
	/* Until roles are known, report the first sender as the client. */
	c->info.client = c->ep[0];
	c->info.server = c->ep[1];
	for (int i = 0; i < 2; i++) {
		sonde_reasm_init(&c->rs[i]);
		c->dirs[i].c = c;
		c->dirs[i].side = i;
		c->dirs[i].out.data = conn_data;
		c->dirs[i].out.gap = conn_gap;
		c->dirs[i].out.ctx = &c->dirs[i];
	}
	c->state = CONN_DETECT;
	ct->stats->connections++;
	return c;
}

static void conn_remove(struct sonde_conntable *ct, struct conn *c)
{
	struct conn **link = &ct->buckets[c->hash & (ct->nbuckets - 1)];
	while (*link != c)
		link = &(*link)->hnext;
	*link = c->hnext;
	sonde_list_remove(c->lingering ? &ct->linger : &ct->lru, &c->lru);
	ct->nlinger -= c->lingering;
	ct->count--;
}

static void send_end(struct conn *c, int side, uint64_t ts)
{
	if (c->end_sent[side])
		return;
	c->end_sent[side] = true;
	if (c->state == CONN_DISSECT)
		c->d->end(c->dstate, dir_of(c, side), ts);
}

/* The connection's TCP health at its end: the packets' facts, the
 * accounting, and the records written from now on say how it ended. */
static void tcp_end(struct sonde_conntable *ct, struct conn *c)
{
	if (!c->info.tcp)
		return;
	sonde_tcp_health_finish(&c->tcp);
	c->tcp.ended = true;
	struct sonde_stats *st = ct->stats;
	switch (c->tcp.f.outcome) {
	case SONDE_TCP_REFUSED: st->tcp_connections_refused++; break;
	case SONDE_TCP_TIMEOUT: st->tcp_connections_timed_out++; break;
	case SONDE_TCP_RESET: st->tcp_connections_reset++; break;
	default: break;
	}
}

/* The connection's own record, after its exchanges (not with
 * --no-connections); the packets' retransmissions counted, lingering
 * ones too. */
static void tcp_record(struct sonde_conntable *ct, struct conn *c, uint64_t ts)
{
	if (!c->info.tcp)
		return;
	if (c->lingering)
		sonde_tcp_health_finish(&c->tcp); /* again: what came after both FINs */
	if (c->tcp.f.source == SONDE_TCP_SRC_PACKETS)
		ct->stats->tcp_retransmitted_segments +=
			c->tcp.d[0].retrans_segs + c->tcp.d[1].retrans_segs;
	if (!ct->opts.connections || !c->tcp.f.source)
		return;
	ct->stats->tcp_connection_records++;
	ct->stats->records++;
	sonde_tcp_connection_record(&c->info, c->state == CONN_DISSECT ? c->d->name : NULL, ts,
				    ct->out);
}

/* Each record of a TCP connection: its exchange count. */
static void count_exchange(void *ctx, const struct sonde_record *r)
{
	struct conn *c = ctx;
	c->tcp.exchanges++;
	struct sonde_tcp_exchange x;
	const struct sonde_msg *first = r->req ? r->req : r->resp;
	if (c->info.tcp && c->tcp.nring == SONDE_TCP_SAMPLES &&
	    (!sonde_tcp_health_exchange(&c->tcp, first->ts_first, first->ts_first, &x) ||
	     !x.retrans_known))
		c->ct->stats->tcp_samples_lost++; /* its history was overwritten */
	c->ct->out->emit(c->ct->out->ctx, r);
}

/* Its record, and the connection gone. */
static void conn_drop(struct sonde_conntable *ct, struct conn *c, uint64_t ts)
{
	tcp_record(ct, c, ts);
	conn_remove(ct, c);
	for (int i = 0; i < 2; i++) {
		sonde_reasm_free(&c->rs[i], &ct->budget);
		sonde_detect_side_free(&c->det[i]);
	}
	sonde_attrs_clear(&c->attrs);
	sonde_tls_decrypt_free(c->tls);
	free(c->info.tls);
	free(c->info.own_source);
	free(c);
}

/* Whether a closed connection waits for a FIN sent again: packets that saw
 * both FINs (the kernel's count has them already; a reset ends it all). */
static bool linger_wanted(const struct conn *c)
{
	const struct sonde_tcp_health *h = &c->tcp;
	return c->info.tcp && h->f.source == SONDE_TCP_SRC_PACKETS && h->d[0].fin && h->d[1].fin &&
	       h->first_rst < 0;
}

/* Closed, but kept in the table for LINGER_NS: later segments go to its
 * TCP analysis alone (they change no outcome). */
static void linger(struct sonde_conntable *ct, struct conn *c, uint64_t ts)
{
	c->lingering = true;
	c->tcp.closed = true;
	c->linger_until = ts + LINGER_NS;
	sonde_list_remove(&ct->lru, &c->lru);
	sonde_list_push_front(&ct->linger, &c->lru);
	ct->nlinger++;
}

/* The lingering connections whose wait ended by now: their records. */
static void linger_expire(struct sonde_conntable *ct, uint64_t now)
{
	struct conn *c;
	while ((c = linger_oldest(ct)) && c->linger_until <= now)
		conn_drop(ct, c, c->last_ts);
}

/* End the connection: deliver what is buffered, flush the dissector; then
 * its record (at once, or after lingering) and free it. */
static void conn_close(struct sonde_conntable *ct, struct conn *c, uint64_t ts)
{
	tcp_end(ct, c);
	for (int i = 0; i < 2; i++) {
		sonde_reasm_flush(&c->rs[i], &ct->budget, ct->stats, &c->dirs[i].out, ts);
		if (c->state == CONN_DETECT && !c->tls)
			settle(c, i, ts);
	}
	if (c->tls) {
		finish_tls(c, ts);
		for (int i = 0; i < 2; i++)
			if (c->state == CONN_DETECT)
				settle(c, i, ts);
	}
	if (c->l4 != SONDE_L4_UDP) /* datagram dissectors get no end() */
		for (int i = 0; i < 2; i++)
			send_end(c, i, ts);
	if (c->state == CONN_DISSECT)
		c->d->close(c->dstate, ts);
	if (linger_wanted(c))
		linger(ct, c, ts);
	else
		conn_drop(ct, c, ts);
}

static void sweep_idle(struct sonde_conntable *ct, uint64_t now)
{
	ct->last_sweep = now;
	struct conn *c;
	while ((c = lru_oldest(ct)) && c->last_ts + ct->opts.idle_timeout_ns < now) {
		ct->stats->connections_idle_closed++;
		conn_close(ct, c, now);
	}
}

static struct conn *lookup(struct sonde_conntable *ct, const struct sonde_chunk *ch, uint64_t hash)
{
	for (struct conn *c = ct->buckets[hash & (ct->nbuckets - 1)]; c; c = c->hnext) {
		if (c->hash != hash || c->src_conn_id != ch->conn_id || c->l4 != ch->flow.l4)
			continue;
		if ((ep_eq(&c->ep[0], &ch->flow.src) && ep_eq(&c->ep[1], &ch->flow.dst)) ||
		    (ep_eq(&c->ep[1], &ch->flow.src) && ep_eq(&c->ep[0], &ch->flow.dst)))
			return c;
	}
	return NULL;
}

/* ------------------------------------------------------------ the feed --- */

/* A new connection for chunk ch, the most recently active (evicting the
 * oldest when the table is full). */
static struct conn *add(struct sonde_conntable *ct, const struct sonde_chunk *ch, uint64_t hash)
{
	struct conn *old = lru_oldest(ct);
	if (ct->count >= ct->opts.max_conns && linger_oldest(ct)) {
		old = linger_oldest(ct); /* closed already: its record goes first */
		conn_drop(ct, old, old->last_ts);
	} else if (ct->count >= ct->opts.max_conns && old) {
		ct->stats->connections_evicted++;
		conn_close(ct, old, ch->ts_ns);
	}
	struct conn *c = conn_new(ct, ch, hash);
	struct conn **b = &ct->buckets[hash & (ct->nbuckets - 1)];
	c->hnext = *b;
	*b = c;
	if (++ct->count > ct->nbuckets)
		grow(ct);
	sonde_list_push_front(&ct->lru, &c->lru);
	return c;
}

/* The chunk's connection, made the most recently active; created on first
 * sight. NULL for a chunk that tells nothing of a connection not tracked. */
static struct conn *find_or_add(struct sonde_conntable *ct, const struct sonde_chunk *ch)
{
	uint64_t hash = flow_hash(&ch->flow, ch->conn_id);
	struct conn *c = lookup(ct, ch, hash);
	if (c && c->lingering && (ch->flags & (SONDE_CF_SYN | SONDE_CF_ACK)) == SONDE_CF_SYN) {
		conn_drop(ct, c, c->last_ts); /* a new connection on the same ports */
		c = NULL;
	}
	if (c && c->lingering)
		return c;
	if (c) {
		sonde_list_move_front(&ct->lru, &c->lru);
		return c;
	}
	/* A bare ACK or RST: nothing to start a connection with. */
	if (!ch->wirelen && !(ch->flags & SONDE_CF_SYN))
		return NULL;
	return add(ct, ch, hash);
}

static void mark_midstream(struct conn *c)
{
	if (!c->info.midstream) {
		c->info.midstream = true;
		c->ct->stats->connections_midstream++;
	}
}

/* The source counts stream bytes itself (SONDE_SEQ_STREAM64). Its open event
 * (SYN) starts both directions; a first chunk without one is mid-stream. */
static void place_stream64(struct conn *c, struct sonde_reasm *rs, const struct sonde_chunk *ch,
			   struct sonde_span *sp)
{
	if (ch->flags & SONDE_CF_SYN) {
		for (int i = 0; i < 2; i++)
			if (!c->rs[i].base_known)
				sonde_reasm_set_isn(&c->rs[i], 0, false);
	} else if (!rs->base_known) {
		sonde_reasm_set_isn(rs, 0, true);
		mark_midstream(c);
	}
	*sp = (struct sonde_span){
		.off = ch->seq, .p = ch->data, .caplen = ch->caplen, .wirelen = ch->wirelen
	};
}

/* What the chunk tells of the connection's TCP health: a packet source's
 * segment, a kernel sample, a source's facts at the end. */
static void tcp_chunk(struct conn *c, int side, const struct sonde_chunk *ch)
{
	bool from_client = c->client < 0 ? side == 0 : side == c->client;
	if (ch->seq_kind == SONDE_SEQ_TCP32)
		sonde_tcp_health_segment(&c->tcp, ch, from_client);
	if (ch->tcp_srtt_us)
		sonde_tcp_health_sample(&c->tcp, ch->ts_ns, ch->tcp_srtt_us, ch->tcp_retrans,
					SONDE_TCP_SRC_KERNEL);
	if (ch->tcp)
		sonde_tcp_health_facts(&c->tcp, ch->tcp, from_client);
	if (ch->tcp && ch->tcp_peer)
		sonde_tcp_health_peer(&c->tcp, ch->tcp_peer, !from_client);
}

void sonde_conntable_chunk(struct sonde_conntable *ct, const struct sonde_chunk *ch)
{
	if (ch->flow.l4 == SONDE_L4_UDP) {
		sonde_conntable_datagram(ct, ch);
		return;
	}
	if (ch->flow.l4 != SONDE_L4_TCP)
		return;
	uint64_t ts = ch->ts_ns;
	if (ts > ct->last_sweep + SWEEP_INTERVAL_NS)
		sweep_idle(ct, ts);
	linger_expire(ct, ts);
	struct conn *c = find_or_add(ct, ch);
	if (!c)
		return;
	c->last_ts = ts;
	if (c->lingering) {
		tcp_chunk(c, ep_eq(&c->ep[0], &ch->flow.src) ? 0 : 1, ch);
		if (ch->flags & SONDE_CF_RST)
			conn_drop(ct, c, ts);
		return;
	}
	if (ch->peer_proc) { /* who is at the other end; nothing else */
		c->info.peer_proc = *ch->peer_proc;
		c->info.peer_is_server = ch->peer_is_server;
		return;
	}
	if (ch->proc && !c->info.proc.pid)
		c->info.proc = *ch->proc;
	int side = ep_eq(&c->ep[0], &ch->flow.src) ? 0 : 1;
	struct sonde_reasm *rs = &c->rs[side];

	if (c->client < 0 && c->state == CONN_DETECT) {
		if (ch->role == SONDE_ROLE_SRC_IS_CLIENT)
			set_client(c, side, true);
		else if (ch->role == SONDE_ROLE_SRC_IS_SERVER)
			set_client(c, 1 - side, true);
		else if (ch->flags & SONDE_CF_SYN)
			set_client(c, (ch->flags & SONDE_CF_ACK) ? 1 - side : side, true);
	}

	tcp_chunk(c, side, ch);

	struct sonde_span sp;
	bool placed = true;
	if (ch->seq_kind == SONDE_SEQ_STREAM64) {
		place_stream64(c, rs, ch, &sp);
	} else {
		placed = sonde_tcpseq_place(rs, ch, ct->stats, &sp);
		if (sp.midstream)
			mark_midstream(c);
	}
	if (placed) {
		if (sp.wirelen)
			sonde_reasm_add(rs, &ct->budget, ct->stats, &c->dirs[side].out, sp.off,
					sp.p, sp.caplen, sp.wirelen, ts);
		if (ch->flags & SONDE_CF_FIN)
			sonde_reasm_fin(rs, sp.off + sp.wirelen);
		if ((ch->flags & SONDE_CF_LOSS_BEFORE) && rs->ooo)
			sonde_reasm_ack(rs, &ct->budget, ct->stats, &c->dirs[side].out, sp.off + 1,
					ts);
	}
	if ((ch->flags & SONDE_CF_ACK) && ch->seq_kind == SONDE_SEQ_TCP32)
		sonde_tcpseq_ack(&c->rs[1 - side], ch, &ct->budget, ct->stats,
				 &c->dirs[1 - side].out);
	if (ch->flags & SONDE_CF_RST) {
		conn_close(ct, c, ts);
		return;
	}
	for (int i = 0; i < 2; i++)
		if (sonde_reasm_done(&c->rs[i]))
			send_end(c, i, ts);
	if (c->end_sent[0] && c->end_sent[1])
		conn_close(ct, c, ts);
}

/* ----------------------------------------------------------- datagrams --- */

static void undissected(struct sonde_conntable *ct, const struct sonde_chunk *ch)
{
	ct->stats->udp_datagrams_undissected++;
	ct->stats->udp_bytes_undissected += ch->wirelen;
}

/* A flow's entry: found, or made if a datagram dissector claims ch. */
static struct conn *datagram_flow(struct sonde_conntable *ct, const struct sonde_chunk *ch)
{
	uint64_t hash = flow_hash(&ch->flow, ch->conn_id);
	struct conn *c = lookup(ct, ch, hash);
	if (c) {
		sonde_list_move_front(&ct->lru, &c->lru);
		return c;
	}
	if (ch->caplen < ch->wirelen)
		return NULL;
	struct sonde_detect_peers who = { &ch->flow.src, &ch->flow.dst, -1 };
	bool from_client = false;
	const struct sonde_dissector *d =
		sonde_detect_datagram(ct->detector, &who, ch->data, ch->caplen, &from_client);
	if (!d)
		return NULL;
	c = add(ct, ch, hash);
	set_client(c, from_client ? 0 : 1, false); /* ep[0] sent ch */
	open_dissector(c, d);
	return c;
}

void sonde_conntable_datagram(struct sonde_conntable *ct, const struct sonde_chunk *ch)
{
	uint64_t ts = ch->ts_ns;
	if (ts > ct->last_sweep + SWEEP_INTERVAL_NS)
		sweep_idle(ct, ts);
	struct conn *c = datagram_flow(ct, ch);
	if (c) {
		c->last_ts = ts;
		if (ch->proc && !c->info.proc.pid)
			c->info.proc = *ch->proc;
	}
	if (!c || ch->caplen < ch->wirelen) {
		undissected(ct, ch);
		return;
	}
	int side = ep_eq(&c->ep[0], &ch->flow.src) ? 0 : 1;
	c->d->datagram(c->dstate, dir_of(c, side), ch->data, ch->caplen, ts);
}

void sonde_conntable_tick(struct sonde_conntable *ct, uint64_t now_ns)
{
	sweep_idle(ct, now_ns);
	linger_expire(ct, now_ns);
}

void sonde_conntable_set_ignore(struct sonde_conntable *ct, void (*fn)(void *, uint64_t), void *ctx)
{
	ct->opts.on_ignore = fn;
	ct->opts.on_ignore_ctx = ctx;
}

void sonde_conntable_close_all(struct sonde_conntable *ct)
{
	struct conn *c;
	while ((c = lru_oldest(ct)))
		conn_close(ct, c, c->last_ts);
	while ((c = linger_oldest(ct)))
		conn_drop(ct, c, c->last_ts);
}

void sonde_conntable_free(struct sonde_conntable *ct)
{
	if (!ct)
		return;
	sonde_conntable_close_all(ct);
	for (size_t i = 0; i < ct->nshared; i++)
		ct->shared[i].d->shared_free(ct->shared[i].state);
	sonde_detector_free(ct->detector);
	free(ct->buckets);
	free(ct);
}
