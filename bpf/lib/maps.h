/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps of the socket path: the ring buffer, calls in flight, socket
 * state, the ignore switch, the scratch slots and the counters (indices:
 * SONDE_KCOUNTERS in sonde_events.h), with their one-line accessors.
 */
#ifndef SONDE_BPF_MAPS_H
#define SONDE_BPF_MAPS_H

#include "lib/types.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by user space */
} events SEC(".maps");

/* LRU: an entry whose exit never came (a thread killed mid-call) ages out
 * instead of filling the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU); /* per-CPU LRU lists: no shared lock per syscall */
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct call);
} calls SEC(".maps");

/* Per socket: identity and stream positions (struct sonde_sock_state). LRU so
 * it can never fill up with sockets whose close was missed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct sonde_sock_state);
} socks SEC(".maps");

/* Sockets whose payload user space does not want (unknown protocol, tunnel,
 * the other end of a loopback connection): positions are still counted,
 * nothing is copied. Key: socket address; value: the socket's id, so an
 * entry written late, after the address was reused by a new socket, does
 * not silence the new one. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} ignored SEC(".maps");

/* User space bumps this after each write to `ignored`: a socket looks the
 * switch up only when the generation moved since its last look, not on
 * every call (written by user space through the mmapped .bss). */
volatile __u32 ignored_gen = 0;

/* The socket capturing each connection tuple that has a local end here
 * (struct sonde_peer_key): the second local end of the same connection (both
 * ends of a loopback or same-node connection are traced) finds the first
 * there and is not copied at all (lib/sock.h). LRU: an entry whose close was
 * missed ages out; a stale one is checked against the socket map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sonde_peer_key);
	__type(value, struct sonde_peer_owner);
} peers SEC(".maps");

/* One scratch slot per CPU (a per-CPU array caps values at 32 KiB); user
 * space sets max_entries to the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline struct scratch *scratch_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&scratch_map, &cpu);
}

/* Capture targets: cgroup id → struct sonde_target, kept by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SONDE_TARGETS_MAX);
	__type(key, __u64);
	__type(value, struct sonde_target);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SONDE_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);
	if (v)
		*v += n;
}

#endif
