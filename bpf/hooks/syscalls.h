/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracepoint data hook: syscalls:sys_{enter,exit}_{read,write,readv,
 * writev,sendto,recvfrom,sendmsg,recvmsg,sendmmsg,recvmmsg}; works on every
 * kernel. enter_io/exit_io also serve sendfile, splice and connect. UDP
 * sockets' data calls go through them with every data hook (lib/datagram.h):
 * with a kernel-function hook, the socket calls alone are loaded, udp_only.
 */
#ifndef SONDE_BPF_HOOKS_SYSCALLS_H
#define SONDE_BPF_HOOKS_SYSCALLS_H

#include "lib/calls.h"
#include "lib/datagram.h"
#include "lib/emit.h"
#include "lib/filter.h"
#include "lib/sock.h"
#include "tls/socket.h"

/* addr: sendto/recvfrom's peer sockaddr (user memory), or 0. */
static __always_inline int enter_io_at(int fd, __u64 buf, __u64 cnt, __u64 addr, __u8 kind,
				       __u8 dir)
{
	if (!process_wanted())
		return 0;
	__u16 proto = 0;
	__u64 sk = fd_to_inet_sock(fd, &proto);
	if (!sk)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (proto == IPPROTO_UDP) {
		/* Data calls only. A connected socket's ports are known now: the
		 * bulk of a host's UDP (QUIC clients, metrics) stops here; an
		 * unconnected one's peer only at the exit. */
		if (kind > CALL_MMSG)
			return 0;
		__u16 dport = BPF_CORE_READ((struct sock *)sk, __sk_common.skc_dport);
		if (dport && !udp_port_wanted(BPF_CORE_READ((struct sock *)sk, __sk_common.skc_num),
					      bpf_ntohs(dport)))
			return 0;
		struct call c = { .sk = sk, .buf = buf, .cnt = cnt, .addr = addr, .kind = kind,
				  .dir = dir, .udp = 1 };
		remember_call(tid, &c);
		return 0;
	}
	if (udp_only && kind <= CALL_MMSG)
		return 0;
	/* Before connect() the socket has no ports: filter at its exit. */
	if (kind <= CALL_MMSG)
		tls_note_socket(sk, dir);
	if (kind != CALL_CONNECT && !port_wanted((struct sock *)sk))
		return 0;
	struct call c = { .sk = sk, .buf = buf, .cnt = cnt, .kind = kind, .dir = dir };
	remember_call(tid, &c);
	return 0;
}

static __always_inline int enter_io(int fd, __u64 buf, __u64 cnt, __u8 kind, __u8 dir)
{
	return enter_io_at(fd, buf, cnt, 0, kind, dir);
}

static __always_inline int exit_io(long ret)
{
	struct call call;
	if (!take_call(&call))
		return 0;
	if (call.udp)
		return udp_exit(&call, ret);
	if (ret <= 0)
		return 0;
	if (!sock_get(call.sk)) {
		if (call.kind != CALL_MMSG)
			count(SONDE_CNT_CLOSED_BYTES, (__u32)ret);
		return 0;
	}
	switch (call.kind) {
	case CALL_BUF:
		emit_bytes(call.sk, call.buf, (__u32)ret, (__u32)ret, call.dir);
		break;
	case CALL_IOV:
		emit_iov(call.sk, call.buf, call.cnt, (__u32)ret, call.dir);
		break;
	case CALL_MSG: {
		struct user_msghdr m = {};
		if (bpf_probe_read_user(&m, sizeof(m), (void *)call.buf))
			emit_bytes(call.sk, 0, (__u32)ret, 0, call.dir);
		else
			emit_iov(call.sk, (__u64)m.msg_iov, m.msg_iovlen, (__u32)ret, call.dir);
		break;
	}
	case CALL_MMSG:
		/* ret is a message count; each mmsghdr's msg_len says its bytes. */
		for (int i = 0; i < SONDE_MMSG_MAX; i++) {
			if (i >= ret)
				break;
			struct mmsghdr mm = {};
			if (bpf_probe_read_user(&mm, sizeof(mm), (void *)(call.buf + i * sizeof(mm))))
				break;
			emit_iov(call.sk, (__u64)mm.msg_hdr.msg_iov, mm.msg_hdr.msg_iovlen, mm.msg_len,
				 call.dir);
		}
		if (ret > SONDE_MMSG_MAX)
			count(SONDE_CNT_IOV_TRUNC_BYTES, 1);
		break;
	default: /* sendfile, splice: pages sonde cannot copy */
		count(SONDE_CNT_UNTRACED_BYTES, (__u32)ret);
		emit_bytes(call.sk, 0, (__u32)ret, 0, call.dir | (SONDE_EVF_UNTRACED) << 8);
	}
	return 0;
}

#define NO_ARG 6 /* no such argument: args[6] does not exist */
#define NO_FLAGS NO_ARG

/* flagsarg: the call's flags argument; a MSG_PEEK read leaves the bytes
 * in the socket for the next read, so it is not followed. addrarg: the peer
 * sockaddr of sendto/recvfrom (UDP datagrams). */
#define IO_TP(name, fdarg, bufarg, cntarg, flagsarg, addrarg, kind, dir)                  \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                       \
	int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)                        \
	{                                                                                 \
		if (flagsarg != NO_FLAGS && (ctx->args[flagsarg & 7] & MSG_PEEK))         \
			return 0;                                                         \
		return enter_io_at((int)ctx->args[fdarg], ctx->args[bufarg],              \
				   ctx->args[cntarg],                                     \
				   addrarg != NO_ARG ? ctx->args[addrarg & 7] : 0, kind, dir); \
	}                                                                                 \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                       \
	int tp_exit_##name(struct trace_event_raw_sys_exit *ctx)                         \
	{                                                                                \
		return exit_io(ctx->ret);                                                \
	}

IO_TP(write, 0, 1, 2, NO_FLAGS, NO_ARG, CALL_BUF, SONDE_EV_TX)
IO_TP(read, 0, 1, 2, NO_FLAGS, NO_ARG, CALL_BUF, SONDE_EV_RX)
IO_TP(sendto, 0, 1, 2, NO_FLAGS, 4, CALL_BUF, SONDE_EV_TX)
IO_TP(recvfrom, 0, 1, 2, 3, 4, CALL_BUF, SONDE_EV_RX)
IO_TP(writev, 0, 1, 2, NO_FLAGS, NO_ARG, CALL_IOV, SONDE_EV_TX)
IO_TP(readv, 0, 1, 2, NO_FLAGS, NO_ARG, CALL_IOV, SONDE_EV_RX)
IO_TP(sendmsg, 0, 1, 1, NO_FLAGS, NO_ARG, CALL_MSG, SONDE_EV_TX)
IO_TP(recvmsg, 0, 1, 1, 2, NO_ARG, CALL_MSG, SONDE_EV_RX)
IO_TP(sendmmsg, 0, 1, 2, NO_FLAGS, NO_ARG, CALL_MMSG, SONDE_EV_TX)
IO_TP(recvmmsg, 0, 1, 2, 3, NO_ARG, CALL_MMSG, SONDE_EV_RX)

#endif
