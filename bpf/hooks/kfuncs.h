/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kprobe and fentry data hooks: tcp_sendmsg and tcp_recvmsg, their
 * entries (the user memory behind the msghdr's iov_iter, on every kernel
 * layout) and their returns.
 */
#ifndef SONDE_BPF_HOOKS_KFUNCS_H
#define SONDE_BPF_HOOKS_KFUNCS_H

#include "lib/calls.h"
#include "lib/emit.h"
#include "lib/filter.h"
#include "lib/sock.h"
#include "tls/socket.h"

/* iov_iter across kernel versions (CO-RE flavours). */
struct iov_iter___v64 { /* 6.4+: __iov, ubuf */
	u8 iter_type;
	size_t iov_offset;
	const struct iovec *__iov;
	void *ubuf;
	size_t count;
	unsigned long nr_segs;
} __attribute__((preserve_access_index));

struct iov_iter___v514 { /* 5.14 - 6.3: iter_type, iov */
	u8 iter_type;
	size_t iov_offset;
	const struct iovec *iov;
	size_t count;
	unsigned long nr_segs;
} __attribute__((preserve_access_index));

struct iov_iter___v50 { /* 5.0 - 5.13: type bits, iov */
	unsigned int type;
	size_t iov_offset;
	const struct iovec *iov;
	size_t count;
	unsigned long nr_segs;
} __attribute__((preserve_access_index));

/* Remember the user memory behind msg for the matching return. */
static __always_inline int kfunc_enter(struct sock *sk, struct msghdr *msg, __u8 dir)
{
	if (!process_wanted() || !sk || !port_wanted(sk))
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	tls_note_socket((__u64)sk, dir);
	struct call c = { .sk = (__u64)sk, .dir = dir, .kind = CALL_OTHER };
	void *it = &msg->msg_iter;
	if (bpf_core_field_exists(((struct iov_iter___v64 *)0)->__iov)) {
		struct iov_iter___v64 *i = it;
		__u8 t = BPF_CORE_READ(i, iter_type);
		__u64 off = BPF_CORE_READ(i, iov_offset);
		if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
		    t == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
			c.kind = CALL_BUF;
			c.buf = (__u64)BPF_CORE_READ(i, ubuf) + off;
		} else if (t == bpf_core_enum_value(enum iter_type, ITER_IOVEC) && !off) {
			c.kind = CALL_KIOV;
			c.buf = (__u64)BPF_CORE_READ(i, __iov);
			c.cnt = BPF_CORE_READ(i, nr_segs);
		}
	} else if (bpf_core_field_exists(((struct iov_iter___v514 *)0)->iter_type)) {
		struct iov_iter___v514 *i = it;
		__u8 t = BPF_CORE_READ(i, iter_type);
		__u64 off = BPF_CORE_READ(i, iov_offset);
		if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
		    t == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
			c.kind = CALL_BUF;
			c.buf = (__u64)BPF_CORE_READ(i, iov) + off; /* ubuf shares the slot */
		} else if (t == bpf_core_enum_value(enum iter_type, ITER_IOVEC) && !off) {
			c.kind = CALL_KIOV;
			c.buf = (__u64)BPF_CORE_READ(i, iov);
			c.cnt = BPF_CORE_READ(i, nr_segs);
		}
	} else {
		struct iov_iter___v50 *i = it;
		unsigned int t = BPF_CORE_READ(i, type);
		if ((t & 4 /* ITER_IOVEC */) && !BPF_CORE_READ(i, iov_offset)) {
			c.kind = CALL_KIOV;
			c.buf = (__u64)BPF_CORE_READ(i, iov);
			c.cnt = BPF_CORE_READ(i, nr_segs);
		}
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	remember_call(tid, &c);
	return 0;
}

static __always_inline int kfunc_exit(long ret)
{
	struct call call;
	if (!take_call(&call))
		return 0;
	if (ret <= 0)
		return 0;
	if (!sock_get(call.sk)) {
		count(SONDE_CNT_CLOSED_BYTES, (__u32)ret);
		return 0;
	}
	if (call.kind == CALL_BUF)
		emit_bytes(call.sk, call.buf, (__u32)ret, (__u32)ret, call.dir);
	else if (call.kind == CALL_KIOV)
		emit_iov(call.sk, call.buf, call.cnt, (__u32)ret, call.dir | IOV_IN_KERNEL);
	else { /* kernel memory (sendfile's pages, io_uring fixed buffers): a gap */
		count(SONDE_CNT_UNTRACED_BYTES, (__u32)ret);
		emit_bytes(call.sk, 0, (__u32)ret, 0, call.dir | (SONDE_EVF_UNTRACED) << 8);
	}
	return 0;
}

SEC("?kprobe/tcp_sendmsg")
int BPF_KPROBE(kp_tcp_sendmsg, struct sock *sk, struct msghdr *msg)
{
	return kfunc_enter(sk, msg, SONDE_EV_TX);
}

SEC("?kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(krp_tcp_sendmsg, int ret)
{
	return kfunc_exit(ret);
}

SEC("?kprobe/tcp_recvmsg")
int BPF_KPROBE(kp_tcp_recvmsg, struct sock *sk, struct msghdr *msg)
{
	/* flags: 4th argument since 5.19, 5th before (after `nonblock`) */
	__u64 f4 = PT_REGS_PARM4(ctx), f5 = PT_REGS_PARM5(ctx);
	/* both loaded at fixed offsets: the verifier refuses a computed
	 * context offset, which selecting the address would produce */
	barrier_var(f4);
	barrier_var(f5);
	if ((recvmsg_nonblock ? f5 : f4) & MSG_PEEK)
		return 0;
	return kfunc_enter(sk, msg, SONDE_EV_RX);
}

SEC("?kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(krp_tcp_recvmsg, int ret)
{
	return kfunc_exit(ret);
}

SEC("?fentry/tcp_sendmsg")
int BPF_PROG(fe_tcp_sendmsg, struct sock *sk, struct msghdr *msg)
{
	return kfunc_enter(sk, msg, SONDE_EV_TX);
}

SEC("?fexit/tcp_sendmsg")
int BPF_PROG(fx_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	return kfunc_exit(ret);
}

SEC("?fentry/tcp_recvmsg")
int BPF_PROG(fe_tcp_recvmsg, struct sock *sk, struct msghdr *msg)
{
	__u64 f3 = ctx[3], f4 = ctx[4];
	barrier_var(f3);
	barrier_var(f4);
	if ((recvmsg_nonblock ? f4 : f3) & MSG_PEEK)
		return 0;
	return kfunc_enter(sk, msg, SONDE_EV_RX);
}

/* 5.19+: tcp_recvmsg(sk, msg, len, flags, addr_len) */
SEC("?fexit/tcp_recvmsg")
int BPF_PROG(fx_tcp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	return kfunc_exit(ret);
}

/* Before 5.19: tcp_recvmsg(sk, msg, len, nonblock, flags, addr_len), so the
 * return value is the seventh slot (user space loads the one that matches the
 * kernel's BTF; reading the sixth as `ret` is refused: it is addr_len). */
SEC("?fexit/tcp_recvmsg")
int fx_tcp_recvmsg_nonblock(unsigned long long *ctx)
{
	return kfunc_exit((int)ctx[6]);
}

#endif
