/* SPDX-License-Identifier: MIT */
/*
 * Both ends of a TCP connection on this host (loopback, two local network
 * namespaces): the kernel mutes the second socket to get state (its copy,
 * bpf/lib/sock.h), so the bytes are captured once, but the copy's close
 * still says how that end saw the connection (its retransmissions, RTT,
 * who closed). Here the two ends' close facts meet, so the connection's
 * one record carries both: the owner's close waits (PEER_WAIT_NS at most)
 * for the copy's, or finds the copy's kept if that came first.
 *
 * Only sockets whose copy was seen (its OPEN or its close while the owner
 * lives) are paired; a pair is forgotten at the owner's close. At most
 * PEERS_MAX pairs are kept: beyond, the record has one end's facts, and
 * tcp_peer_ends_missed counts every end whose facts did not join.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn/tcphealth.h"
#include "core/buf.h"
#include "source/ebpf/ebpf_priv.h"

#define PEER_WAIT_NS 1000000000ull /* a copy still open after its owner's close */
#define PEERS_MAX 16384 /* about 600 bytes each */

#define HELD_MAX (sizeof(struct sonde_event) + sizeof(struct sonde_tcp_info))

struct ebpf_peer {
	struct sonde_list_node held_node; /* on e->peers_held while the owner's close waits */
	uint64_t owner_id, copy_id;
	bool copy_closed; /* its facts are in copy_facts */
	struct sonde_tcp_facts copy_facts;
	bool held;
	uint64_t held_since_ns; /* CLOCK_MONOTONIC, as the events' times */
	size_t held_len;
	_Alignas(8) unsigned char held_ev[HELD_MAX]; /* the owner's close event */
};

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The end of a connection: both directions at their final positions; the
 * first (the local socket's) says how it ended, with the other local
 * end's facts when they are known. */
static void emit_close(struct sonde_ebpf *e, const struct sonde_event *ev,
		       const struct sonde_tcp_facts *peer)
{
	struct sonde_process proc;
	struct sonde_chunk c;
	struct sonde_tcp_facts facts;
	ebpf_chunk_from_event(e, ev, &proc, &c);
	if (ev->flags & SONDE_EVF_TCP_INFO) {
		ebpf_tcp_facts((const struct sonde_tcp_info *)(ev + 1), &facts);
		c.tcp = &facts;
		c.tcp_peer = peer;
	}
	c.flags = SONDE_CF_FIN;
	c.seq = ev->pos;
	sonde_chunk_emit(&e->out, &c);
	c.tcp = c.tcp_peer = NULL;
	struct sonde_endpoint src = c.flow.src;
	c.flow.src = c.flow.dst;
	c.flow.dst = src;
	c.role = c.role == SONDE_ROLE_SRC_IS_CLIENT   ? SONDE_ROLE_SRC_IS_SERVER
		 : c.role == SONDE_ROLE_SRC_IS_SERVER ? SONDE_ROLE_SRC_IS_CLIENT
						      : SONDE_ROLE_UNKNOWN;
	c.seq = ev->rx_pos;
	sonde_chunk_emit(&e->out, &c);
}

static struct ebpf_peer *peer_of_owner(struct sonde_ebpf *e, uint64_t owner_id)
{
	uint64_t p;
	return sonde_u64map_get(&e->peers_by_owner, owner_id, &p) ? (struct ebpf_peer *)(uintptr_t)p
								  : NULL;
}

/* The pair of the owner's connection, made if need be (NULL: too many). */
static struct ebpf_peer *peer_get(struct sonde_ebpf *e, uint64_t owner_id)
{
	struct ebpf_peer *p = peer_of_owner(e, owner_id);
	if (p || e->npeers >= PEERS_MAX)
		return p;
	p = sonde_xcalloc(1, sizeof(*p));
	p->owner_id = owner_id;
	sonde_u64map_put(&e->peers_by_owner, owner_id, (uint64_t)(uintptr_t)p);
	e->npeers++;
	return p;
}

static void peer_free(struct sonde_ebpf *e, struct ebpf_peer *p)
{
	if (p->held)
		sonde_list_remove(&e->peers_held, &p->held_node);
	sonde_u64map_del(&e->peers_by_owner, p->owner_id, NULL);
	if (p->copy_id)
		sonde_u64map_del(&e->peers_by_copy, p->copy_id, NULL);
	e->npeers--;
	free(p);
}

/* The owner of the copy's connection: known from its OPEN, or (its OPEN
 * not seen) whoever holds the tuple now. 0: none. */
static uint64_t owner_of_copy(struct sonde_ebpf *e, const struct sonde_event *ev)
{
	uint64_t owner = 0;
	if (sonde_u64map_get(&e->peers_by_copy, ev->conn_id, &owner))
		return owner;
	return ebpf_tuple_owner(e, ev);
}

/* The copy's process to its owner's connection: its end is named even in
 * another namespace, whose sockets the owner's socket table lacks. */
static void tell_peer_process(struct sonde_ebpf *e, const struct sonde_event *ev, uint64_t owner)
{
	struct sonde_process proc;
	struct sonde_chunk c;
	ebpf_chunk_from_event(e, ev, &proc, &c);
	c.conn_id = owner;
	c.proc = NULL;
	c.role = SONDE_ROLE_UNKNOWN;
	c.peer_proc = &proc;
	c.peer_is_server = ev->role == SONDE_EV_ROLE_SERVER;
	sonde_chunk_emit(&e->out, &c);
}

void ebpf_peers_copy_event(struct sonde_ebpf *e, const struct sonde_event *ev)
{
	if (ev->type != SONDE_EV_OPEN && ev->type != SONDE_EV_CLOSE)
		return;
	uint64_t owner = owner_of_copy(e, ev);
	struct ebpf_peer *p = owner ? peer_get(e, owner) : NULL;
	bool info = ev->flags & SONDE_EVF_TCP_INFO;
	if (!p) {
		e->stats->tcp_peer_ends_missed += ev->type == SONDE_EV_CLOSE && info;
		return;
	}
	if (!p->copy_id) {
		p->copy_id = ev->conn_id;
		sonde_u64map_put(&e->peers_by_copy, ev->conn_id, owner);
	}
	if (ev->type == SONDE_EV_OPEN && ev->tgid)
		tell_peer_process(e, ev, owner);
	if (ev->type == SONDE_EV_OPEN || !info)
		return;
	ebpf_tcp_facts((const struct sonde_tcp_info *)(ev + 1), &p->copy_facts);
	p->copy_closed = true;
	sonde_u64map_del(&e->peers_by_copy, p->copy_id, NULL);
	p->copy_id = 0;
	if (p->held) { /* the owner closed first and waited for this */
		e->stats->tcp_peer_ends_merged++;
		emit_close(e, (const struct sonde_event *)p->held_ev, &p->copy_facts);
		peer_free(e, p);
	}
}

void ebpf_peers_owner_close(struct sonde_ebpf *e, const struct sonde_event *ev, size_t size)
{
	struct ebpf_peer *p = peer_of_owner(e, ev->conn_id);
	if (!p) {
		emit_close(e, ev, NULL);
		return;
	}
	if (p->copy_closed) {
		e->stats->tcp_peer_ends_merged++;
		emit_close(e, ev, &p->copy_facts);
		peer_free(e, p);
		return;
	}
	if (!(ev->flags & SONDE_EVF_TCP_INFO) || size > HELD_MAX) {
		emit_close(e, ev, NULL); /* no TCP health: nothing to wait for */
		peer_free(e, p);
		return;
	}
	memcpy(p->held_ev, ev, size);
	p->held_len = size;
	p->held = true;
	p->held_since_ns = mono_ns();
	sonde_list_push_front(&e->peers_held, &p->held_node);
}

/* The oldest held close, waiting since before `before` (0: any). */
static struct ebpf_peer *held_oldest(struct sonde_ebpf *e, uint64_t before)
{
	struct ebpf_peer *p =
		sonde_list_entry_or_null(e->peers_held.last, struct ebpf_peer, held_node);
	return p && (!before || p->held_since_ns < before) ? p : NULL;
}

/* Held closes whose copy did not close in time: written with one end's facts. */
static void release_held(struct sonde_ebpf *e, uint64_t before)
{
	struct ebpf_peer *p;
	while ((p = held_oldest(e, before))) {
		e->stats->tcp_peer_ends_missed++;
		emit_close(e, (const struct sonde_event *)p->held_ev, NULL);
		peer_free(e, p);
	}
}

void ebpf_peers_tick(struct sonde_ebpf *e)
{
	if (sonde_list_empty(&e->peers_held))
		return;
	uint64_t now = mono_ns();
	if (now > PEER_WAIT_NS)
		release_held(e, now - PEER_WAIT_NS);
}

void ebpf_peers_init(struct sonde_ebpf *e)
{
	sonde_u64map_init(&e->peers_by_owner);
	sonde_u64map_init(&e->peers_by_copy);
	memset(&e->peers_held, 0, sizeof(e->peers_held));
	e->npeers = 0;
}

void ebpf_peers_close(struct sonde_ebpf *e)
{
	release_held(e, 0);
	for (size_t i = 0; i < e->peers_by_owner.cap; i++)
		if (e->peers_by_owner.keys && e->peers_by_owner.keys[i])
			free((void *)(uintptr_t)e->peers_by_owner.vals[i]);
	sonde_u64map_free(&e->peers_by_owner);
	sonde_u64map_free(&e->peers_by_copy);
	e->npeers = 0;
}
