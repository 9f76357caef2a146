/* SPDX-License-Identifier: MIT */
#include "app/arbiter.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/list.h"
#include "source/file/capfile.h"

#define BUCKETS (2 * SONDE_ARBITER_FLOWS) /* a power of two */

enum owner {
	OWNER_HOLD, /* packets seen, held: nobody yet */
	OWNER_STREAM, /* the syscall source's */
	OWNER_PACKET, /* its packet source's (flow->origin) */
};

/* A packet chunk kept while its connection's owner is not known; its bytes,
 * its source name and its frame's bytes (for -w) follow it. */
struct held {
	struct held *next;
	struct sonde_chunk c;
	struct sonde_frame frame;
};

/* A connection, by its two endpoints in a fixed order. */
struct flow {
	struct sonde_endpoint lo, hi;
	uint8_t l4;
	uint8_t owner; /* enum owner */
	uint8_t origin; /* OWNER_PACKET/HOLD: the packet source it is (to be) */
	uint64_t last_ns; /* monotonic: last chunk of any source */
	uint64_t deadline_ns; /* OWNER_HOLD: released then */
	struct held *first, **tail;
	size_t held_bytes;
	struct flow *chain; /* the bucket's next */
	struct sonde_list_node lru; /* front: most recently seen */
	struct sonde_list_node hold; /* OWNER_HOLD: in deadline order */
};

struct sonde_arbiter {
	struct sonde_chunk_out out;
	struct sonde_stats *stats;
	struct flow *bucket[BUCKETS];
	struct flow *pool, *free_list;
	struct sonde_list lru, holds;
	size_t held_bytes;
};

/* ------------------------------------------------------------- flows --- */

static int endpoint_cmp(const struct sonde_endpoint *x, const struct sonde_endpoint *y)
{
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	int c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	return x->port == y->port ? 0 : x->port < y->port ? -1 : 1;
}

/* The chunk's endpoints in the flow's order: both directions alike. */
static void flow_ends(const struct sonde_chunk *c, struct sonde_endpoint *lo,
		      struct sonde_endpoint *hi)
{
	bool swap = endpoint_cmp(&c->flow.src, &c->flow.dst) > 0;
	*lo = swap ? c->flow.dst : c->flow.src;
	*hi = swap ? c->flow.src : c->flow.dst;
}

static size_t bucket_of(const struct sonde_endpoint *lo, const struct sonde_endpoint *hi,
			uint8_t l4)
{
	return (size_t)(sonde_mix64(sonde_pair_hash(lo, hi) + l4) & (BUCKETS - 1));
}

static struct flow *flow_find(struct sonde_arbiter *a, const struct sonde_chunk *c, size_t *b)
{
	struct sonde_endpoint lo, hi;
	flow_ends(c, &lo, &hi);
	*b = bucket_of(&lo, &hi, c->flow.l4);
	for (struct flow *f = a->bucket[*b]; f; f = f->chain)
		if (f->l4 == c->flow.l4 && !endpoint_cmp(&f->lo, &lo) && !endpoint_cmp(&f->hi, &hi))
			return f;
	return NULL;
}

static void held_free_all(struct sonde_arbiter *a, struct flow *f)
{
	for (struct held *h = f->first, *next; h; h = next) {
		next = h->next;
		free(h);
	}
	a->held_bytes -= f->held_bytes;
	f->first = NULL;
	f->tail = &f->first;
	f->held_bytes = 0;
}

/* The hold ends for the packet source: what it held goes on, in order. */
static void release(struct sonde_arbiter *a, struct flow *f)
{
	for (struct held *h = f->first; h; h = h->next)
		sonde_chunk_emit(&a->out, &h->c);
	held_free_all(a, f);
	sonde_list_remove(&a->holds, &f->hold);
	f->owner = OWNER_PACKET;
	a->stats->source_packet_conns++;
}

static void flow_forget(struct sonde_arbiter *a, struct flow *f)
{
	if (f->owner == OWNER_HOLD)
		release(a, f);
	size_t b = bucket_of(&f->lo, &f->hi, f->l4);
	struct flow **p = &a->bucket[b];
	while (*p != f)
		p = &(*p)->chain;
	*p = f->chain;
	sonde_list_remove(&a->lru, &f->lru);
	f->chain = a->free_list;
	a->free_list = f;
}

static struct flow *flow_add(struct sonde_arbiter *a, const struct sonde_chunk *c, size_t b,
			     uint64_t now_ns)
{
	if (!a->free_list) /* full: the least recently seen goes */
		flow_forget(a, sonde_list_entry(a->lru.last, struct flow, lru));
	/* forgetting may have emptied the chosen bucket's chain: b stays valid */
	struct flow *f = a->free_list;
	a->free_list = f->chain;
	memset(f, 0, sizeof(*f));
	flow_ends(c, &f->lo, &f->hi);
	f->l4 = c->flow.l4;
	f->tail = &f->first;
	f->last_ns = now_ns;
	f->chain = a->bucket[b];
	a->bucket[b] = f;
	sonde_list_push_front(&a->lru, &f->lru);
	return f;
}

/* A hold of bare ACKs and keep-alives of a connection met mid-life (one
 * the stream source may still show, forgotten while idle) decides nothing:
 * a SYN or a byte of payload does. */
static bool worth_keeping(const struct flow *f)
{
	for (const struct held *h = f->first; h; h = h->next)
		if (h->c.wirelen || (h->c.flags & SONDE_CF_SYN) || h->c.flow.l4 != SONDE_L4_TCP)
			return true;
	return false;
}

static void flow_forget_unheld(struct sonde_arbiter *a, struct flow *f)
{
	held_free_all(a, f);
	sonde_list_remove(&a->holds, &f->hold);
	f->owner = OWNER_PACKET; /* nothing left to release */
	flow_forget(a, f);
}

/* ------------------------------------------------------------ chunks --- */

/* Keep a copy of c on f's hold; false when the hold's memory is full. */
static bool hold(struct sonde_arbiter *a, struct flow *f, const struct sonde_chunk *c)
{
	size_t srclen = c->source ? strlen(c->source) + 1 : 0;
	size_t framelen = c->frame ? c->frame->caplen : 0;
	size_t size = sizeof(struct held) + c->caplen + srclen + framelen;
	if (a->held_bytes + size > SONDE_ARBITER_HELD_MAX)
		return false;
	struct held *h = sonde_xmalloc(size);
	h->next = NULL;
	h->c = *c;
	uint8_t *bytes = (uint8_t *)(h + 1);
	if (c->caplen)
		memcpy(bytes, c->data, c->caplen);
	h->c.data = bytes;
	if (srclen)
		h->c.source = memcpy(bytes + c->caplen, c->source, srclen);
	if (c->frame) {
		h->frame = *c->frame;
		h->frame.data = memcpy(bytes + c->caplen + srclen, c->frame->data, framelen);
		h->c.frame = &h->frame;
	}
	*f->tail = h;
	f->tail = &h->next;
	f->held_bytes += size;
	a->held_bytes += size;
	return true;
}

static void stream_chunk(struct sonde_arbiter *a, struct flow *f, const struct sonde_chunk *c)
{
	if (f->owner == OWNER_HOLD) { /* the packets came first: hand it over */
		held_free_all(a, f);
		sonde_list_remove(&a->holds, &f->hold);
		f->owner = OWNER_STREAM;
		a->stats->source_stream_conns++;
		a->stats->source_handoffs++;
	}
	if (f->owner == OWNER_PACKET) {
		a->stats->source_late_stream_bytes += c->wirelen;
		return;
	}
	sonde_chunk_emit(&a->out, c);
}

static void packet_chunk(struct sonde_arbiter *a, struct flow *f, const struct sonde_chunk *c)
{
	if (f->owner == OWNER_STREAM || f->origin != c->origin) {
		a->stats->source_dropped_packet_bytes += c->wirelen;
		return;
	}
	if (f->owner == OWNER_PACKET) {
		sonde_chunk_emit(&a->out, c);
		return;
	}
	if (!hold(a, f, c)) { /* no room to wait: the packets have it */
		a->stats->source_hold_overflows++;
		release(a, f);
		sonde_chunk_emit(&a->out, c);
	}
}

void sonde_arbiter_chunk(struct sonde_arbiter *a, const struct sonde_chunk *c, uint64_t now_ns)
{
	/* TLS plaintext whose socket is not known yet has no addresses: it
	 * cannot collide with a packet source's connection. */
	if (!c->flow.src.family || !c->flow.dst.family) {
		sonde_chunk_emit(&a->out, c);
		return;
	}
	bool packet = sonde_origin_is_packet(c->origin);
	size_t b;
	struct flow *f = flow_find(a, c, &b);
	if (!f) {
		f = flow_add(a, c, b, now_ns);
		if (packet) {
			f->owner = OWNER_HOLD;
			f->origin = c->origin;
			f->deadline_ns = now_ns + SONDE_ARBITER_HOLD_NS;
			sonde_list_push_back(&a->holds, &f->hold);
		} else {
			f->owner = OWNER_STREAM;
			a->stats->source_stream_conns++;
		}
	}
	f->last_ns = now_ns;
	sonde_list_move_front(&a->lru, &f->lru);
	if (packet)
		packet_chunk(a, f, c);
	else
		stream_chunk(a, f, c);
}

void sonde_arbiter_tick(struct sonde_arbiter *a, uint64_t now_ns)
{
	while (a->holds.first) {
		struct flow *f = sonde_list_entry(a->holds.first, struct flow, hold);
		if (f->deadline_ns > now_ns)
			break;
		if (worth_keeping(f))
			release(a, f);
		else
			flow_forget_unheld(a, f);
	}
	while (a->lru.last) {
		struct flow *f = sonde_list_entry(a->lru.last, struct flow, lru);
		if (now_ns - f->last_ns < SONDE_ARBITER_IDLE_NS)
			break;
		flow_forget(a, f);
	}
}

void sonde_arbiter_flush(struct sonde_arbiter *a)
{
	while (a->holds.first)
		release(a, sonde_list_entry(a->holds.first, struct flow, hold));
}

struct sonde_arbiter *sonde_arbiter_new(const struct sonde_chunk_out *out,
					struct sonde_stats *stats)
{
	struct sonde_arbiter *a = sonde_xcalloc(1, sizeof(*a));
	a->out = *out;
	a->stats = stats;
	a->pool = sonde_xcalloc(SONDE_ARBITER_FLOWS, sizeof(*a->pool));
	for (size_t i = SONDE_ARBITER_FLOWS; i-- > 0;) {
		a->pool[i].chain = a->free_list;
		a->free_list = &a->pool[i];
	}
	return a;
}

void sonde_arbiter_free(struct sonde_arbiter *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < SONDE_ARBITER_FLOWS; i++)
		if (a->pool[i].first)
			held_free_all(a, &a->pool[i]);
	free(a->pool);
	free(a);
}
