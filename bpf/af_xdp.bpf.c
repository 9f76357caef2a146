// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The AF_XDP source's two programs (src/source/packet/af_xdp.c). XDP takes
 * packets away from the kernel stack, so sonde never puts it on the
 * captured interface: a TC program there mirrors each packet (a clone) to
 * a veth pair sonde owns and returns TC_ACT_UNSPEC, so the original goes
 * on untouched; the XDP program on the veth's peer, in a network namespace
 * of sonde's own, hands every clone to the XSK socket.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TC_ACT_UNSPEC (-1)

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 mirror_ifindex = 0; /* the veth end in the captured namespace */
const volatile __s32 queue = -1; /* --queue: only this queue's packets; -1: all */

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} xdp_counters SEC(".maps"); /* 0: clones that failed; 1: frames no socket took */

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&xdp_counters, &which);
	if (v)
		*v += 1;
}

SEC("tc")
int sonde_xdp_mirror(struct __sk_buff *skb)
{
	if (queue < 0 || skb->queue_mapping == (__u32)queue)
		if (bpf_clone_redirect(skb, mirror_ifindex, 0))
			count(0);
	return TC_ACT_UNSPEC;
}

SEC("xdp")
int sonde_xdp_rx(struct xdp_md *ctx)
{
	/* Only mirrored clones arrive here: none is for the stack. */
	int rc = bpf_redirect_map(&xsks, 0, XDP_DROP);
	if (rc != XDP_REDIRECT)
		count(1);
	return rc;
}
