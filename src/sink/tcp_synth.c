/* SPDX-License-Identifier: MIT */
#include "sink/tcp_synth.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/u64map.h"

/* TCP header flags. */
enum {
	TH_FIN = 0x01,
	TH_SYN = 0x02,
	TH_RST = 0x04,
	TH_PSH = 0x08,
	TH_ACK = 0x10,
};

#define WSCALE 14 /* the largest: a 1 GiB window, never "full" */
#define NO_LINK UINT32_MAX

/* Direction 0 is client → server. */
struct synth_conn {
	uint64_t hkey, conn_id;
	struct sonde_endpoint ep[2]; /* [0] client, [1] server */
	uint32_t isn[2];
	uint64_t next[2]; /* stream offset written up to, per direction */
	uint64_t base[2]; /* TCP32 chunks: the seq taken as offset 0 */
	bool based[2];
	bool fin[2];
	uint16_t ipid[2];
	uint32_t prev, next_lru; /* LRU list: head is the most recent */
};

struct sonde_tcp_synth {
	struct synth_conn *conns;
	size_t n, cap, max;
	struct sonde_u64map map; /* hkey → index */
	uint32_t head, tail;
	struct sonde_tcp_synth_stats st;
	uint8_t pkt[SONDE_TCP_SYNTH_MAX_PKT];
};

/* What one segment carries, for build_segment(). */
struct seg {
	int dir;
	uint8_t flags;
	uint64_t off; /* stream offset of the first payload byte */
	const uint8_t *data;
	uint32_t len;
};

/* ============================================================ table === */

struct sonde_tcp_synth *sonde_tcp_synth_new(size_t max_conns)
{
	struct sonde_tcp_synth *s = sonde_xcalloc(1, sizeof(*s));
	s->max = max_conns ? max_conns : 65536;
	s->head = s->tail = NO_LINK;
	sonde_u64map_init(&s->map);
	return s;
}

void sonde_tcp_synth_free(struct sonde_tcp_synth *s)
{
	if (!s)
		return;
	sonde_u64map_free(&s->map);
	free(s->conns);
	free(s);
}

const struct sonde_tcp_synth_stats *sonde_tcp_synth_stats(const struct sonde_tcp_synth *s)
{
	return &s->st;
}

static uint64_t chunk_key(const struct sonde_chunk *c)
{
	uint64_t h = c->conn_id ? sonde_mix64(c->conn_id ^ 0x5bd1e9955bd1e995ull)
				: sonde_pair_hash(&c->flow.src, &c->flow.dst) ^ c->flow.l4;
	return h ? h : 1;
}

static bool ep_eq(const struct sonde_endpoint *a, const struct sonde_endpoint *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, n);
}

static bool conn_matches(const struct synth_conn *k, const struct sonde_chunk *c)
{
	if (c->conn_id || k->conn_id)
		return k->conn_id == c->conn_id;
	return (ep_eq(&k->ep[0], &c->flow.src) && ep_eq(&k->ep[1], &c->flow.dst)) ||
	       (ep_eq(&k->ep[1], &c->flow.src) && ep_eq(&k->ep[0], &c->flow.dst));
}

static void lru_unlink(struct sonde_tcp_synth *s, uint32_t i)
{
	struct synth_conn *k = &s->conns[i];
	if (k->prev != NO_LINK)
		s->conns[k->prev].next_lru = k->next_lru;
	else
		s->head = k->next_lru;
	if (k->next_lru != NO_LINK)
		s->conns[k->next_lru].prev = k->prev;
	else
		s->tail = k->prev;
}

static void lru_push(struct sonde_tcp_synth *s, uint32_t i)
{
	struct synth_conn *k = &s->conns[i];
	k->prev = NO_LINK;
	k->next_lru = s->head;
	if (s->head != NO_LINK)
		s->conns[s->head].prev = i;
	s->head = i;
	if (s->tail == NO_LINK)
		s->tail = i;
}

/* A slot for a new connection: a fresh one while under max, else the least
 * recently used one (or the one whose key collided). */
static uint32_t slot_take(struct sonde_tcp_synth *s, uint64_t hkey)
{
	uint64_t v;
	uint32_t i;
	if (sonde_u64map_get(&s->map, hkey, &v)) {
		i = (uint32_t)v; /* a closed or colliding connection: reused */
		lru_unlink(s, i);
		return i;
	}
	if (s->n < s->max) {
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			if (s->cap > s->max)
				s->cap = s->max;
			s->conns = sonde_xrealloc(s->conns, s->cap * sizeof(*s->conns));
		}
		return (uint32_t)s->n++;
	}
	i = s->tail;
	lru_unlink(s, i);
	sonde_u64map_del(&s->map, s->conns[i].hkey, NULL);
	s->st.evictions++;
	return i;
}

/* Which endpoint of c opened the connection. */
static bool src_is_client(const struct sonde_chunk *c)
{
	if (c->role == SONDE_ROLE_SRC_IS_CLIENT)
		return true;
	if (c->role == SONDE_ROLE_SRC_IS_SERVER)
		return false;
	if (c->flags & SONDE_CF_SYN)
		return !(c->flags & SONDE_CF_ACK);
	/* Clients usually speak from an ephemeral (higher) port. */
	return c->flow.src.port >= c->flow.dst.port;
}

static struct synth_conn *conn_new(struct sonde_tcp_synth *s, const struct sonde_chunk *c,
				   uint64_t hkey)
{
	uint32_t i = slot_take(s, hkey);
	struct synth_conn *k = &s->conns[i];
	memset(k, 0, sizeof(*k));
	k->hkey = hkey;
	k->conn_id = c->conn_id;
	bool cl = src_is_client(c);
	k->ep[0] = cl ? c->flow.src : c->flow.dst;
	k->ep[1] = cl ? c->flow.dst : c->flow.src;
	uint64_t h = sonde_mix64(hkey + 0x243f6a8885a308d3ull);
	k->isn[0] = (uint32_t)h;
	k->isn[1] = (uint32_t)(h >> 32);
	k->ipid[0] = (uint16_t)(h >> 16);
	k->ipid[1] = (uint16_t)(h >> 48);
	lru_push(s, i);
	sonde_u64map_put(&s->map, hkey, i);
	s->st.conns++;
	return k;
}

/* The chunk's connection and whether it was just created. A SYN on a
 * connection both sides closed starts a new one (the 4-tuple reused). */
static struct synth_conn *conn_get(struct sonde_tcp_synth *s, const struct sonde_chunk *c,
				   bool *fresh)
{
	uint64_t hkey = chunk_key(c), v;
	*fresh = false;
	if (sonde_u64map_get(&s->map, hkey, &v)) {
		struct synth_conn *k = &s->conns[v];
		bool reused = (c->flags & SONDE_CF_SYN) && k->fin[0] && k->fin[1];
		if (conn_matches(k, c) && !reused) {
			lru_unlink(s, (uint32_t)v);
			lru_push(s, (uint32_t)v);
			return k;
		}
	}
	*fresh = true;
	return conn_new(s, c, hkey);
}

static void conn_drop(struct sonde_tcp_synth *s, struct synth_conn *k)
{
	uint32_t i = (uint32_t)(k - s->conns);
	lru_unlink(s, i);
	sonde_u64map_del(&s->map, k->hkey, NULL);
	/* Keep the array dense: the last slot moves into this one. */
	uint32_t last = (uint32_t)(s->n - 1);
	if (i != last) {
		struct synth_conn *m = &s->conns[last];
		lru_unlink(s, last);
		*k = *m;
		lru_push(s, i);
		sonde_u64map_put(&s->map, k->hkey, i);
	}
	s->n--;
}

/* ========================================================== packets === */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The Internet checksum's running sum (RFC 1071): 16-bit big-endian words,
 * an odd last byte padded with zero. Only the last part may be odd. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* IP header for `l4len` bytes of TCP; returns its size. */
static uint32_t build_ip(struct synth_conn *k, int dir, uint8_t *p, uint32_t l4len)
{
	const struct sonde_endpoint *src = &k->ep[dir], *dst = &k->ep[!dir];
	if (src->family == AF_INET6) {
		put32(p, 0x60000000u);
		put16(p + 4, (uint16_t)l4len);
		p[6] = SONDE_L4_TCP;
		p[7] = 64;
		memcpy(p + 8, src->addr, 16);
		memcpy(p + 24, dst->addr, 16);
		return 40;
	}
	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(20 + l4len));
	put16(p + 4, k->ipid[dir]++);
	put16(p + 6, 0x4000); /* don't fragment */
	p[8] = 64;
	p[9] = SONDE_L4_TCP;
	memcpy(p + 12, src->addr, 4);
	memcpy(p + 16, dst->addr, 4);
	put16(p + 10, csum_fold(csum_add(0, p, 20)));
	return 20;
}

static uint32_t tcp_csum(const struct synth_conn *k, int dir, const uint8_t *tcp, uint32_t len)
{
	const struct sonde_endpoint *src = &k->ep[dir], *dst = &k->ep[!dir];
	size_t alen = src->family == AF_INET6 ? 16 : 4;
	uint8_t tail[8] = { 0 };
	uint32_t sum = csum_add(0, src->addr, alen);
	sum = csum_add(sum, dst->addr, alen);
	/* IPv4: zero, protocol, TCP length; IPv6: 32-bit length, 3 zeros, next header. */
	if (alen == 4) {
		tail[1] = SONDE_L4_TCP;
		put16(tail + 2, (uint16_t)len);
		sum = csum_add(sum, tail, 4);
	} else {
		put32(tail, len);
		tail[7] = SONDE_L4_TCP;
		sum = csum_add(sum, tail, 8);
	}
	return csum_add(sum, tcp, len);
}

/* The whole datagram of one segment into s->pkt; returns its length. */
static uint32_t build_segment(struct sonde_tcp_synth *s, struct synth_conn *k, const struct seg *g)
{
	int d = g->dir, o = !d;
	bool syn = g->flags & TH_SYN;
	uint32_t hl = syn ? 28 : 20; /* SYNs carry MSS and window scale */
	uint32_t iphl = k->ep[d].family == AF_INET6 ? 40 : 20;
	uint8_t *t = s->pkt + iphl;
	memset(t, 0, hl);
	put16(t, k->ep[d].port);
	put16(t + 2, k->ep[o].port);
	put32(t + 4, syn ? k->isn[d] : k->isn[d] + 1 + (uint32_t)g->off);
	if (g->flags & TH_ACK)
		put32(t + 8, k->isn[o] + 1 + (uint32_t)k->next[o] + k->fin[o]);
	t[12] = (uint8_t)(hl / 4 << 4);
	t[13] = g->flags;
	put16(t + 14, 0xffff);
	if (syn) {
		/* MSS: the largest segment build_segment() makes; window scale. */
		uint8_t opt[8] = { 2, 4, 0, 0, 1, 3, 3, WSCALE };
		put16(opt + 2, (uint16_t)(65535 - 20 - (iphl == 40 ? 0 : 20)));
		memcpy(t + 20, opt, sizeof(opt));
	}
	if (g->len)
		memcpy(t + hl, g->data, g->len);
	put16(t + 16, csum_fold(tcp_csum(k, d, t, hl + g->len)));
	build_ip(k, d, s->pkt, hl + g->len);
	return iphl + hl + g->len;
}

static int send_seg(struct sonde_tcp_synth *s, struct synth_conn *k, const struct seg *g,
		    const struct sonde_chunk *c, sonde_tcp_synth_emit_fn emit, void *ctx,
		    int *count)
{
	uint32_t len = build_segment(s, k, g);
	s->st.packets++;
	(*count)++;
	return emit(ctx, c, c->ts_ns, s->pkt, len);
}

/* ========================================================== streams === */

static int handshake(struct sonde_tcp_synth *s, struct synth_conn *k, const struct sonde_chunk *c,
		     sonde_tcp_synth_emit_fn emit, void *ctx, int *count)
{
	const struct seg g[3] = {
		{ .dir = 0, .flags = TH_SYN },
		{ .dir = 1, .flags = TH_SYN | TH_ACK },
		{ .dir = 0, .flags = TH_ACK },
	};
	for (int i = 0; i < 3; i++)
		if (send_seg(s, k, &g[i], c, emit, ctx, count) < 0)
			return -1;
	return 0;
}

/* The chunk's stream offset in its direction. */
static uint64_t chunk_offset(struct synth_conn *k, int dir, const struct sonde_chunk *c)
{
	if (c->seq_kind == SONDE_SEQ_STREAM64)
		return c->seq;
	/* A TCP sequence number: the first one seen is offset 0 (the byte
	 * after the SYN if this is one); later ones are placed near what
	 * was written so far, so the 32-bit wrap does not matter. */
	if (!k->based[dir]) {
		k->based[dir] = true;
		k->base[dir] =
			(uint32_t)(c->seq + !!(c->flags & SONDE_CF_SYN)) - (uint32_t)k->next[dir];
	}
	uint32_t rel = (uint32_t)c->seq - (uint32_t)k->base[dir];
	int64_t delta = (int32_t)(rel - (uint32_t)k->next[dir]);
	return delta < 0 && (uint64_t)-delta > k->next[dir] ? 0 : k->next[dir] + (uint64_t)delta;
}

static void note_gap(struct sonde_tcp_synth *s, uint64_t n)
{
	if (!n)
		return;
	s->st.gaps++;
	s->st.gap_bytes += n;
}

/* The data segments of a chunk, from the first byte not yet written. */
static int data_segments(struct sonde_tcp_synth *s, struct synth_conn *k, int dir,
			 const struct sonde_chunk *c, sonde_tcp_synth_emit_fn emit, void *ctx,
			 int *count)
{
	uint64_t off = chunk_offset(k, dir, c);
	uint64_t cap_end = off + c->caplen, wire_end = off + c->wirelen;
	const uint8_t *p = c->data;
	if (off < k->next[dir]) {
		uint64_t dup = k->next[dir] - off;
		uint64_t cut = dup < c->caplen ? dup : c->caplen;
		s->st.duplicate_bytes += dup < c->wirelen ? dup : c->wirelen;
		p += cut;
		off += cut;
	}
	if (off > k->next[dir])
		note_gap(s, off - k->next[dir]);
	uint32_t maxseg = 65535 - 20 - (k->ep[dir].family == AF_INET6 ? 0 : 20);
	while (off < cap_end) {
		uint64_t n = cap_end - off;
		struct seg g = { .dir = dir,
				 .flags = TH_ACK,
				 .off = off,
				 .data = p,
				 .len = n < maxseg ? (uint32_t)n : maxseg };
		if (g.len == n)
			g.flags |= TH_PSH;
		if (send_seg(s, k, &g, c, emit, ctx, count) < 0)
			return -1;
		p += g.len;
		off += g.len;
		k->next[dir] = off;
	}
	/* Bytes the wire carried but the source did not copy: the next
	 * segment of this direction jumps over them. */
	if (wire_end > k->next[dir]) {
		note_gap(s, wire_end - (cap_end > k->next[dir] ? cap_end : k->next[dir]));
		k->next[dir] = wire_end;
	}
	return 0;
}

static int close_segments(struct sonde_tcp_synth *s, struct synth_conn *k, int dir,
			  const struct sonde_chunk *c, sonde_tcp_synth_emit_fn emit, void *ctx,
			  int *count)
{
	if (c->flags & SONDE_CF_RST) {
		struct seg g = { .dir = dir, .flags = TH_RST | TH_ACK, .off = k->next[dir] };
		int rc = send_seg(s, k, &g, c, emit, ctx, count);
		conn_drop(s, k);
		return rc;
	}
	if (!(c->flags & SONDE_CF_FIN) || k->fin[dir])
		return 0;
	struct seg g = { .dir = dir, .flags = TH_FIN | TH_ACK, .off = k->next[dir] };
	if (send_seg(s, k, &g, c, emit, ctx, count) < 0)
		return -1;
	k->fin[dir] = true;
	if (!k->fin[!dir])
		return 0;
	/* Both sides closed: the last ACK, as a real close ends. */
	struct seg last = { .dir = !dir, .flags = TH_ACK, .off = k->next[!dir] + 1 };
	return send_seg(s, k, &last, c, emit, ctx, count);
}

int sonde_tcp_synth_chunk(struct sonde_tcp_synth *s, const struct sonde_chunk *c,
			  sonde_tcp_synth_emit_fn emit, void *ctx)
{
	const struct sonde_flow *f = &c->flow;
	if (f->l4 != SONDE_L4_TCP || f->src.family != f->dst.family ||
	    (f->src.family != AF_INET && f->src.family != AF_INET6) || c->caplen > c->wirelen) {
		s->st.skipped++;
		return -1;
	}
	bool fresh;
	struct synth_conn *k = conn_get(s, c, &fresh);
	int count = 0;
	if (fresh && handshake(s, k, c, emit, ctx, &count) < 0)
		return -1;
	int dir = ep_eq(&k->ep[0], &f->src) ? 0 : 1;
	if (c->wirelen && data_segments(s, k, dir, c, emit, ctx, &count) < 0)
		return -1;
	if (c->flags & (SONDE_CF_FIN | SONDE_CF_RST)) {
		/* A FIN placed past the bytes written: the stream ended after a
		 * hole, which the FIN's seq shows. */
		if (c->seq_kind == SONDE_SEQ_STREAM64 && !c->wirelen && c->seq > k->next[dir]) {
			note_gap(s, c->seq - k->next[dir]);
			k->next[dir] = c->seq;
		}
		if (close_segments(s, k, dir, c, emit, ctx, &count) < 0)
			return -1;
	}
	return count;
}
