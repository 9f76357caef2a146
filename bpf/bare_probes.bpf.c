// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor of sonde's kernel-function hooks, for bench/kernel_overhead: the
 * same functions (tcp_sendmsg, tcp_recvmsg) with the same attach types
 * (kprobe+kretprobe, or fentry+fexit), each program counting its run and
 * nothing more. tests/kernels/kabare.c loads one family.
 */
#include "lib/common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline int hit(void)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&hits, &k);
	if (v)
		(*v)++;
	return 0;
}

SEC("?kprobe/tcp_sendmsg")
int BPF_KPROBE(bare_kp_sendmsg)
{
	return hit();
}

SEC("?kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(bare_krp_sendmsg)
{
	return hit();
}

SEC("?kprobe/tcp_recvmsg")
int BPF_KPROBE(bare_kp_recvmsg)
{
	return hit();
}

SEC("?kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(bare_krp_recvmsg)
{
	return hit();
}

SEC("?fentry/tcp_sendmsg")
int BPF_PROG(bare_fe_sendmsg)
{
	return hit();
}

SEC("?fexit/tcp_sendmsg")
int BPF_PROG(bare_fx_sendmsg)
{
	return hit();
}

SEC("?fentry/tcp_recvmsg")
int BPF_PROG(bare_fe_recvmsg)
{
	return hit();
}

SEC("?fexit/tcp_recvmsg")
int BPF_PROG(bare_fx_recvmsg)
{
	return hit();
}
