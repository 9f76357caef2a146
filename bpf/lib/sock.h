/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Socket state (struct sonde_sock_state in the socks map): unique ids, and
 * the state of a socket first seen mid-stream.
 */
#ifndef SONDE_BPF_SOCK_H
#define SONDE_BPF_SOCK_H

#include "lib/maps.h"

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
	struct sonde_sock_state fresh = { .id = new_id(), .midstream = 1 };
	/* Another CPU may win the race to create it: either copy is fine. */
	bpf_map_update_elem(&socks, &sk, &fresh, BPF_NOEXIST);
	st = bpf_map_lookup_elem(&socks, &sk);
	if (!st)
		count(SONDE_CNT_SOCK_MAP_FULL, 1);
	return st;
}

#endif
