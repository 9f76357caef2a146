/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Socket state (struct sonde_sock_state in the socks map): unique ids, and
 * the state of a socket first seen mid-stream.
 */
#ifndef SONDE_BPF_SOCK_H
#define SONDE_BPF_SOCK_H

#include "lib/maps.h"

/* An endpoint's address as two words, IPv4 as IPv4-mapped IPv6. */
static __always_inline void peer_addr(struct sock *sk, bool remote, __u16 family, __u64 *w)
{
	if (family == AF_INET) {
		__u32 a4 = 0;
		bpf_core_read(&a4, 4,
			      remote ? (void *)&sk->__sk_common.skc_daddr
				     : (void *)&sk->__sk_common.skc_rcv_saddr);
		w[0] = 0;
		w[1] = (__u64)a4 << 32 | bpf_htonl(0xffff); /* ::ffff:a.b.c.d as stored */
	} else {
		bpf_core_read(w, 16,
			      remote ? (void *)&sk->__sk_common.skc_v6_daddr
				     : (void *)&sk->__sk_common.skc_v6_rcv_saddr);
	}
}

/* 127.0.0.0/8 (IPv4-mapped) or ::1, as peer_addr stores them. */
static __always_inline bool peer_loopback(const __u64 *w)
{
	if (w[0])
		return false;
	if ((__u32)w[1] == bpf_htonl(0xffff))
		return ((w[1] >> 32) & 0xff) == 127; /* the address's first byte */
	return w[1] == (__u64)bpf_htonl(1) << 32;
}

/* The key both local ends of sk's connection make (struct sonde_peer_key),
 * in *k. */
static __always_inline bool peer_key(__u64 skp, struct sonde_peer_key *k)
{
	struct sock *sk = (struct sock *)skp;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return false;
	__u64 *la = (__u64 *)k->addr[0], *ra = (__u64 *)k->addr[1];
	peer_addr(sk, false, family, la);
	peer_addr(sk, true, family, ra);
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	k->netns = peer_loopback(la) ? BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) : 0;
	/* Any fixed order will do, as long as both ends agree on it. */
	bool local_first = la[0] < ra[0] ||
			   (la[0] == ra[0] && (la[1] < ra[1] || (la[1] == ra[1] && lport <= rport)));
	k->port[0] = local_first ? lport : rport;
	k->port[1] = local_first ? rport : lport;
	if (!local_first) {
		__u64 t0 = la[0], t1 = la[1];
		la[0] = ra[0], la[1] = ra[1];
		ra[0] = t0, ra[1] = t1;
	}
	return true;
}

/*
 * A socket given state: the first local end of its connection to get here
 * holds the tuple; a second one, while the first lives, is its copy and is
 * muted at once, in the kernel, before any of its bytes are copied (user
 * space used to drop the copy after its first events). An entry left by a
 * socket since gone (its id no longer in the socket map) is taken over.
 */
static __always_inline void peer_register(__u64 sk, struct sonde_sock_state *st)
{
	struct scratch *s = scratch_get();
	if (!s)
		return;
	struct sonde_peer_key *k = &s->peer;
	if (!peer_key(sk, k))
		return;
	struct sonde_peer_owner *me = &s->owner;
	me->sk = sk;
	me->id = st->id;
	if (!bpf_map_update_elem(&peers, k, me, BPF_NOEXIST)) {
		st->peer = SONDE_PEER_OWNER;
		return;
	}
	struct sonde_peer_owner *o = bpf_map_lookup_elem(&peers, k);
	if (o && o->sk != sk) {
		__u64 osk = o->sk;
		struct sonde_sock_state *ost = bpf_map_lookup_elem(&socks, &osk);
		if (ost && ost->id == o->id) {
			st->peer = SONDE_PEER_COPY;
			st->muted = SONDE_MUTED_PEER_COPY;
			return;
		}
	}
	if (!bpf_map_update_elem(&peers, k, me, BPF_ANY))
		st->peer = SONDE_PEER_OWNER;
}

/* The socket's close: the tuple is free for the next connection. */
static __always_inline void peer_forget(__u64 sk, const struct sonde_sock_state *st)
{
	if (st->peer != SONDE_PEER_OWNER)
		return;
	struct scratch *s = scratch_get();
	if (!s || !peer_key(sk, &s->peer))
		return;
	struct sonde_peer_owner *o = bpf_map_lookup_elem(&peers, &s->peer);
	if (o && o->sk == sk && o->id == st->id)
		bpf_map_delete_elem(&peers, &s->peer);
}

static __always_inline __u64 new_id(void)
{
	/* Unique without atomics: time in ns, made distinct per CPU. */
	return (bpf_ktime_get_ns() << 6) | (bpf_get_smp_processor_id() & 63);
}

/*
 * State of a socket, created on first sight (then it is mid-stream). Never
 * for a socket already closed: its state went at TCP_CLOSE, and an entry
 * made now would outlive it and pass to whatever socket the kernel puts at
 * the same address next, in any process.
 */
static __always_inline struct sonde_sock_state *sock_get(__u64 sk)
{
	struct sonde_sock_state *st = bpf_map_lookup_elem(&socks, &sk);
	if (st)
		return st;
	if (BPF_CORE_READ((struct sock *)sk, __sk_common.skc_state) == TCP_CLOSE)
		return NULL;
	struct scratch *s = scratch_get();
	if (!s)
		return NULL;
	__builtin_memset(&s->fresh, 0, sizeof(s->fresh));
	s->fresh.id = new_id();
	s->fresh.midstream = 1;
	/* Another CPU may win the race to create it: either copy is fine. */
	bpf_map_update_elem(&socks, &sk, &s->fresh, BPF_NOEXIST);
	st = bpf_map_lookup_elem(&socks, &sk);
	if (!st) {
		count(SONDE_CNT_SOCK_MAP_FULL, 1);
		return NULL;
	}
	if (!st->peer)
		peer_register(sk, st);
	return st;
}

#endif
