// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The cgroup_skb packet source: programs on a cgroup's ingress and egress
 * (src/source/packet/cgroup_skb.c) copy each packet of the cgroup's sockets,
 * from its IP header, into a ring buffer with the socket's cgroup id. They
 * only look: every packet is allowed (1), none is ever dropped.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "sonde_events.h"

#define CG_ALLOW 1
/* Twice the largest copy, so a masked size provably fits (see lib/emit.h). */
#define SNAP_MASK (2 * SONDE_TC_SNAP_MAX - 1)

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 snaplen = SONDE_TC_SNAP_MAX;

struct cg_scratch {
	struct sonde_cgskb_event ev;
	__u8 data[2 * SONDE_TC_SNAP_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 << 20); /* user space may size it */
} packets SEC(".maps");

/* One slot per CPU, by CPU number (a per-CPU array caps values at 32 KiB);
 * user space sets max_entries to the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cg_scratch);
} cg_scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SONDE_TC_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} cg_counters SEC(".maps");

static __always_inline void cg_count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&cg_counters, &which);
	if (v)
		*v += 1;
}

static __always_inline __u32 snap_bound(__u32 v)
{
	asm volatile("%[v] &= %[m]" : [v] "+r"(v) : [m] "i"(SNAP_MASK));
	return v;
}

static __always_inline int capture(struct __sk_buff *skb, __u8 dir)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct cg_scratch *s = bpf_map_lookup_elem(&cg_scratch_map, &cpu);
	if (!s)
		return CG_ALLOW;
	__u32 len = skb->len;
	__u32 cap = len < snaplen ? len : snaplen;
	if (cap > SONDE_TC_SNAP_MAX)
		cap = SONDE_TC_SNAP_MAX;
	s->ev.ts_ns = bpf_ktime_get_ns();
	s->ev.cgroup_id = bpf_skb_cgroup_id(skb);
	s->ev.ifindex = skb->ifindex;
	s->ev.len = len;
	s->ev.dir = dir;
	/* 1..SONDE_TC_SNAP_MAX as the verifier sees it: never a zero-sized read. */
	__u32 n = ((cap - 1) & (SONDE_TC_SNAP_MAX - 1)) + 1;
	if (cap && bpf_skb_load_bytes(skb, 0, s->data, n)) {
		cg_count(SONDE_TC_CNT_LOAD_FAILED);
		cap = 0;
	}
	s->ev.cap = cap;
	if (bpf_ringbuf_output(&packets, s, sizeof(s->ev) + snap_bound(cap), 0))
		cg_count(SONDE_TC_CNT_DROPS);
	else
		cg_count(SONDE_TC_CNT_PACKETS);
	return CG_ALLOW;
}

SEC("cgroup_skb/ingress")
int sonde_cg_in(struct __sk_buff *skb)
{
	return capture(skb, SONDE_TC_INGRESS);
}

SEC("cgroup_skb/egress")
int sonde_cg_out(struct __sk_buff *skb)
{
	return capture(skb, SONDE_TC_EGRESS);
}
