/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Bytes moved outside traced calls (io_uring, sendfile, splice, kernel
 * users): counted as gaps so stream positions stay exact.
 */
#ifndef SONDE_BPF_HOOKS_UNTRACED_H
#define SONDE_BPF_HOOKS_UNTRACED_H

#include "hooks/syscalls.h"
#include "lib/emit.h"
#include "lib/filter.h"
#include "lib/sock.h"

/*
 * sock:sock_send_length / sock_recv_length (6.4+) fire for every socket
 * send and receive. Inside a traced call the exit handles the bytes; anything
 * else moved bytes sonde cannot copy: count them so the position stays exact.
 */
/* A BTF pointer as a plain number (global functions take scalars only). */
static __always_inline __u64 ptr_value(const void *p)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), &p);
	return v;
}

static __always_inline int untraced(struct sock *sk, int ret, __u8 dir)
{
	/* Runs for every socket send/receive on the host: the cheapest tests
	 * first (a direct read through the BTF pointer, no map lookup). */
	if (ret <= 0 || !sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (in_traced_call())
		return 0;
	__u64 skp = ptr_value(sk);
	/* The syscall hooks follow wanted processes only; so does this (a
	 * socket shared across fork, used by an unwanted process, is not). */
	if (!process_wanted())
		return 0;
	if (!bpf_map_lookup_elem(&socks, &skp)) {
		/* Sockets get state on first sight, if their ports are wanted. */
		if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || !port_wanted(sk))
			return 0;
		__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
		if (family != AF_INET && family != AF_INET6)
			return 0;
		if (!sock_get(skp)) {
			count(SONDE_CNT_CLOSED_BYTES, (__u32)ret);
			return 0;
		}
	}
	count(SONDE_CNT_UNTRACED_BYTES, (__u32)ret);
	return emit_bytes(skp, 0, (__u32)ret, 0, dir | (SONDE_EVF_UNTRACED) << 8);
}

SEC("?tp_btf/sock_send_length")
int BPF_PROG(tb_sock_send_length, struct sock *sk, int ret, int flags)
{
	return untraced(sk, ret, SONDE_EV_TX);
}

SEC("?tp_btf/sock_recv_length")
int BPF_PROG(tb_sock_recv_length, struct sock *sk, int ret, int flags)
{
	if (flags & MSG_PEEK) /* the bytes stay for the next read */
		return 0;
	return untraced(sk, ret, SONDE_EV_RX);
}

/* Before 6.4 (no sock_*_length): sendfile and splice into a socket. */
SEC("?tracepoint/syscalls/sys_enter_sendfile64")
int tp_enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	return enter_io((int)ctx->args[0], 0, 0, CALL_OTHER, SONDE_EV_TX);
}

SEC("?tracepoint/syscalls/sys_exit_sendfile64")
int tp_exit_sendfile64(struct trace_event_raw_sys_exit *ctx)
{
	return exit_io(ctx->ret, CALL_OTHER);
}

SEC("?tracepoint/syscalls/sys_enter_splice")
int tp_enter_splice(struct trace_event_raw_sys_enter *ctx)
{
	/* splice(fd_in, off_in, fd_out, ...): bytes into a socket, or out of one */
	__u64 sk_out = fd_to_tcp_sock((int)ctx->args[2]);
	if (sk_out)
		return enter_io((int)ctx->args[2], 0, 0, CALL_OTHER, SONDE_EV_TX);
	return enter_io((int)ctx->args[0], 0, 0, CALL_OTHER, SONDE_EV_RX);
}

SEC("?tracepoint/syscalls/sys_exit_splice")
int tp_exit_splice(struct trace_event_raw_sys_exit *ctx)
{
	return exit_io(ctx->ret, CALL_OTHER);
}

#endif
