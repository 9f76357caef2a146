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

/*
 * Whether a data call on fd is followed, and then *c, what its exit needs.
 * addr: sendto/recvfrom's peer sockaddr (user memory), or 0.
 */
static __always_inline bool enter_check(int fd, __u64 buf, __u64 cnt, __u64 addr, __u8 kind,
					__u8 dir, struct call *c)
{
	if (!process_wanted())
		return false;
	__u16 proto = 0;
	__u64 sk = fd_to_inet_sock(fd, &proto);
	if (!sk)
		return false;
	if (proto == IPPROTO_UDP) {
		/* Data calls only. A connected socket's ports are known now: the
		 * bulk of a host's UDP (QUIC clients, metrics) stops here; an
		 * unconnected one's peer only at the exit. */
		if (kind > CALL_MMSG)
			return false;
		__u16 dport = BPF_CORE_READ((struct sock *)sk, __sk_common.skc_dport);
		if (dport && !udp_port_wanted(BPF_CORE_READ((struct sock *)sk, __sk_common.skc_num),
					      bpf_ntohs(dport)))
			return false;
		c->sk = sk, c->buf = buf, c->cnt = cnt, c->addr = addr;
		c->kind = kind, c->dir = dir, c->udp = 1;
		return true;
	}
	if (udp_only && kind <= CALL_MMSG)
		return false;
	/* Before connect() the socket has no ports: filter at its exit. */
	if (kind <= CALL_MMSG)
		tls_note_socket(sk, dir);
	if (kind != CALL_CONNECT && !port_wanted((struct sock *)sk))
		return false;
	c->sk = sk, c->buf = buf, c->cnt = cnt;
	c->kind = kind, c->dir = dir;
	return true;
}

static __always_inline int enter_io_at(int fd, __u64 buf, __u64 cnt, __u64 addr, __u8 kind,
				       __u8 dir)
{
	/* Zeroed whole, padding too: the map update reads every byte and older
	 * verifiers (5.10) refuse uninitialised stack. */
	struct call c;
	__builtin_memset(&c, 0, sizeof(c));
	if (enter_check(fd, buf, cnt, addr, kind, dir, &c))
		remember_call((__u32)bpf_get_current_pid_tgid(), &c);
	return 0;
}

static __always_inline int enter_io(int fd, __u64 buf, __u64 cnt, __u8 kind, __u8 dir)
{
	return enter_io_at(fd, buf, cnt, 0, kind, dir);
}

/*
 * The exit of a data call whose entry was let through (enter_io_at). kind is
 * the exit program's own, a constant: each program keeps only its branch
 * below, so sendto's has no iovec path and 5.10's verifier, which adds the
 * stack frames of a chain of calls, is not shown exit + emit_iov +
 * emit_bytes (over 512 bytes together).
 */
static __always_inline int exit_call(struct call call, long ret, __u8 kind)
{
	call.kind = kind;
	if (call.udp)
		return udp_exit(&call, ret);
	if (ret <= 0)
		return 0;
	if (!sock_get(call.sk)) {
		if (kind != CALL_MMSG)
			count(SONDE_CNT_CLOSED_BYTES, (__u32)ret);
		return 0;
	}
	switch (kind) {
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

/* The exit of a call of the given kind; an entry of another kind is a
 * stale one (its own exit was missed) and is dropped. */
static __always_inline int exit_io(long ret, __u8 kind)
{
	struct call call;
	if (!take_call(&call))
		return 0;
	if (call.kind != kind) {
		count(SONDE_CNT_MISSED_EXIT, 1);
		return 0;
	}
	return exit_call(call, ret, kind);
}

/*
 * The exit alone, where the kernel has bpf_task_pt_regs (5.15+; user space
 * sets exit_args): a syscall's arguments are still in the task's saved user
 * registers when it returns, so the entry program is not loaded and no call
 * is stored and taken per call (both were most of a traced call's cost).
 * The checks the entry made are made here, in the same order; the socket's
 * file is looked up after the call instead of before it.
 */
const volatile bool exit_args = false;

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(r) ((r)->orig_ax)
#define NR_READ 0
#define NR_WRITE 1
#define NR_READV 19
#define NR_WRITEV 20
#define NR_SENDTO 44
#define NR_RECVFROM 45
#define NR_SENDMSG 46
#define NR_RECVMSG 47
#define NR_RECVMMSG 299
#define NR_SENDMMSG 307
#define SYSCALL_ARG(r, i)                                                                       \
	((i) == 0   ? (r)->di                                                                  \
	 : (i) == 1 ? (r)->si                                                                  \
	 : (i) == 2 ? (r)->dx                                                                  \
	 : (i) == 3 ? (r)->r10                                                                 \
	 : (i) == 4 ? (r)->r8                                                                  \
		    : (r)->r9)
#elif defined(__TARGET_ARCH_arm64)
/* x0 holds the return value by now; the first argument is kept apart. */
#define SYSCALL_ARG(r, i) ((i) == 0 ? (r)->orig_x0 : (r)->regs[(i) & 7])
#define SYSCALL_NR(r) ((r)->syscallno)
#define NR_READV 65
#define NR_WRITEV 66
#define NR_READ 63
#define NR_WRITE 64
#define NR_SENDTO 206
#define NR_RECVFROM 207
#define NR_SENDMSG 211
#define NR_RECVMSG 212
#define NR_RECVMMSG 243
#define NR_SENDMMSG 269
#endif

#define PF_IO_WORKER 0x00000010 /* include/linux/sched.h */
#define PF_KTHREAD 0x00200000

/*
 * With exit_args: is the current thread inside one of the data calls whose
 * exit handles the bytes it moves (the syscall number in its saved
 * registers)? Kernel threads and io_uring's workers never are, whatever
 * their registers hold. Without exit_args the entry stored the call.
 */
static __always_inline bool in_traced_call(void)
{
	if (!exit_args) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		return bpf_map_lookup_elem(&calls, &tid) != NULL;
	}
	struct task_struct *t = bpf_get_current_task_btf();
	if (t->flags & (PF_KTHREAD | PF_IO_WORKER))
		return false;
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(t);
	long nr = (long)SYSCALL_NR(r);
	return nr == NR_READ || nr == NR_WRITE || nr == NR_READV || nr == NR_WRITEV ||
	       nr == NR_SENDTO || nr == NR_RECVFROM || nr == NR_SENDMSG || nr == NR_RECVMSG ||
	       nr == NR_SENDMMSG || nr == NR_RECVMMSG;
}

static __always_inline int exit_args_io(long ret, int fd, __u64 buf, __u64 cnt, __u64 addr,
					__u8 kind, __u8 dir)
{
	/* A call that moved nothing (EAGAIN after an event loop's last read)
	 * has nothing to copy; what the checks below would still do for it is
	 * tell a TLS call in progress its socket, and only a thread inside one
	 * has an entry in tls_threads. */
	if (ret <= 0) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		if (!tls_on || !bpf_map_lookup_elem(&tls_threads, &tid))
			return 0;
	}
	struct call c;
	__builtin_memset(&c, 0, sizeof(c));
	if (!enter_check(fd, buf, cnt, addr, kind, dir, &c))
		return 0;
	return exit_call(c, ret, kind);
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
		if (!exit_args)                                                          \
			return exit_io(ctx->ret, kind);                                  \
		struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(                  \
			bpf_get_current_task_btf());                                     \
		if (flagsarg != NO_FLAGS && (SYSCALL_ARG(r, flagsarg & 7) & MSG_PEEK))   \
			return 0;                                                        \
		return exit_args_io(ctx->ret, (int)SYSCALL_ARG(r, fdarg),                \
				    SYSCALL_ARG(r, bufarg), SYSCALL_ARG(r, cntarg),      \
				    addrarg != NO_ARG ? SYSCALL_ARG(r, addrarg & 7) : 0, \
				    kind, dir);                                          \
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
