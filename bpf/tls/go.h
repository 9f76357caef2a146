/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go programs: probes on crypto/tls.(*Conn).Read and .Write.
 */
#ifndef SONDE_BPF_TLS_GO_H
#define SONDE_BPF_TLS_GO_H

#include "lib/emit.h"
#include "lib/filter.h"
#include "lib/maps.h"
#include "tls/socket.h"

/* ---- Go: crypto/tls.(*Conn).Read and .Write ---- */

/*
 * Go programs carry their own TLS. Never uretprobes here: they rewrite the
 * return address on the goroutine's stack, which Go moves and inspects (the
 * traced program crashes). User space puts uprobes on Write's entry and on
 * every return instruction of Read instead (src/source/binfmt/goinfo.c finds them):
 * at a return, Read's receiver and slice are in their argument slots
 * (go_read_return). Only in a program where goinfo.c could not see Read put
 * them there is Read's entry probed too, and the call saved keyed by
 * (process, goroutine): goroutines migrate between threads, and a goroutine
 * pointer is only unique within its process.
 *
 * Registers (Go's internal ABI, src/cmd/compile/abi-internal.md):
 *   amd64, register ABI (Go 1.17+): integer arguments and results in RAX,
 *     RBX, RCX, ...; the goroutine in R14. Stack ABI: the goroutine is in
 *     the thread's TLS slot at fs:-8.
 *   arm64, register ABI (Go 1.18+): integer arguments and results in R0,
 *     R1, R2, ...; the goroutine in R28 ("Current goroutine"), which it
 *     has always been on arm64 (REGG = REG_R28), stack ABI included.
 * Stack ABI on both: the arguments, then the results, one word each,
 * from sp+8 at the entry (amd64: above the return address; arm64: above
 * the word reserved for the callee's saved LR, the return address being in
 * LR), and again at a RET (the frame is gone: sp is back to its entry
 * value on arm64; amd64's RET is yet to pop the return address).
 *
 * The socket comes from the runtime's structures: *tls.Conn → conn (a
 * net.Conn interface: itab, data) → *net.TCPConn → fd (*netFD) → pfd.Sysfd,
 * with the binary's offsets and its *net.TCPConn type (go_proc_of); the
 * interface's type is checked first, so a tls.Conn over anything else is
 * reported, not followed into garbage. It is looked up on every call: Go's
 * allocator hands a freed tls.Conn's memory to the next one, and tls_bind
 * starts a new stream when the same address turns up on another socket.
 */
struct go_key {
	__u32 tgid;
	__u32 pad;
	__u64 goroutine;
};

struct go_call {
	__u64 conn; /* *tls.Conn */
	__u64 buf;
	__u64 fn; /* entry address */
	__u8 dir;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* Per program file, by target id (the low half of the probes' cookie). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct sonde_go_bin);
} go_bins SEC(".maps");

/* Per process, addresses relocated by user space: kernels without attach
 * cookies (before 5.15), where a probe cannot tell its program file. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tgid */
	__type(value, struct sonde_go_proc);
} go_procs SEC(".maps");

#if defined(__TARGET_ARCH_x86)
#define GO_ARG0(r) ((r)->ax)
#define GO_ARG1(r) ((r)->bx)
#define GO_ARG2(r) ((r)->cx)
#elif defined(__TARGET_ARCH_arm64)
#define GO_REG(r, n) (((const struct user_pt_regs *)(r))->regs[n])
#define GO_ARG0(r) GO_REG(r, 0)
#define GO_ARG1(r) GO_REG(r, 1)
#define GO_ARG2(r) GO_REG(r, 2)
#else
#error "Go probes: x86 and arm64 only (define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64)"
#endif
/* The first result register is the first argument register. */
#define GO_RET0(r) GO_ARG0(r)

static __always_inline __u64 go_goroutine(struct pt_regs *regs, bool regabi)
{
#if defined(__TARGET_ARCH_arm64)
	(void)regabi;
	return GO_REG(regs, 28);
#else
	if (regabi)
		return regs->r14;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase), g = 0;
	bpf_probe_read_user(&g, sizeof(g), (void *)(fsbase - 8));
	return g;
#endif
}

/*
 * The current process's Go program as the probe at regs sees it. With a
 * cookie, from go_bins: the probe sits at file offset off, which the
 * program was linked to run at text_delta + off; it runs at the probe's
 * instruction pointer (a uprobe handler sees the probed address), and the
 * difference is the process's load bias. Else from go_procs.
 */
static __always_inline bool go_proc_of(struct pt_regs *regs, struct sonde_go_proc *out)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_attach_cookie)) {
		__u64 cookie = bpf_get_attach_cookie(regs);
		__u32 id = (__u32)cookie;
		struct sonde_go_bin *gb = id ? bpf_map_lookup_elem(&go_bins, &id) : NULL;
		if (gb) {
			*out = gb->link;
			if (gb->pie) {
				__u64 bias = PT_REGS_IP(regs) - (gb->text_delta + SONDE_GO_COOKIE_OFF(cookie));
				if (out->tcpconn_type)
					out->tcpconn_type += bias;
				if (out->tcpconn_close)
					out->tcpconn_close += bias;
			}
			return true;
		}
	}
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sonde_go_proc *gp = bpf_map_lookup_elem(&go_procs, &tgid);
	if (!gp)
		return false;
	*out = *gp;
	return true;
}

/* go_conn_sock's answer for a connection whose descriptor is closed (Go
 * sets Sysfd to -1; or the slot is already empty): never a kernel address. */
#define GO_SOCK_CLOSED 1

/* The socket behind a *tls.Conn, GO_SOCK_CLOSED, or 0 (not a TCP connection). */
static __always_inline __u64 go_conn_sock(const struct sonde_go_proc *gp, __u64 conn)
{
	__u64 iface[2] = {}, type = 0, netfd = 0;
	int fd = -1;
	if (bpf_probe_read_user(iface, sizeof(iface), (void *)(conn + gp->tlsconn_conn_off)) || !iface[0])
		return 0;
	/* itab: (inter, _type, hash, fun[0], ...): the dynamic type is the
	 * second word; without it (stripped programs), fun[0] is the type's
	 * Close method */
	if (gp->tcpconn_type) {
		if (bpf_probe_read_user(&type, sizeof(type), (void *)(iface[0] + 8)) ||
		    type != gp->tcpconn_type)
			return 0;
	} else if (gp->tcpconn_close) {
		if (bpf_probe_read_user(&type, sizeof(type), (void *)(iface[0] + 24)) ||
		    type != gp->tcpconn_close)
			return 0;
	} else {
		return 0;
	}
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (void *)(iface[1] + gp->netconn_fd_off)) || !netfd)
		return 0;
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(netfd + gp->netfd_pfd_off + gp->pfd_sysfd_off)))
		return 0;
	if (!fd_file(fd))
		return GO_SOCK_CLOSED;
	return fd_to_tcp_sock(fd);
}

/* n plaintext bytes at buf of the TLS connection conn (a *tls.Conn) whose
 * socket is sk (0: not found). */
static __always_inline int go_emit(__u64 conn, __u64 sk, __u64 buf, __s64 n, __u8 dir, __u64 fn)
{
	if (n <= 0 || n > 0x7fffffff)
		return 0;
	struct sonde_tls_stream *ts = tls_stream_get(conn);
	if (!ts)
		return 0;
	ts->fn = fn;
	if (sk == GO_SOCK_CLOSED) {
		/* closed by another goroutine (a connection given up on): a
		 * Write sends nothing; a Read's bytes did arrive, on the socket
		 * already bound, if any */
		if (!ts->sk && dir == SONDE_EV_TX) {
			count(SONDE_CNT_GO_CLOSED, 1);
			return 0;
		}
		sk = 0;
	}
	if (sk)
		tls_bind(ts, sk);
	else if (!ts->sk)
		count(SONDE_CNT_GO_UNRESOLVED, 1);
	if (ts->sk && !port_wanted((struct sock *)ts->sk))
		return 0;
	count(SONDE_CNT_TLS_CALLS, 1);
	if (!ts->sk)
		count(SONDE_CNT_TLS_UNBOUND, 1);
	return emit_tls(conn, buf, (__u32)n, dir);
}

static __always_inline __u64 go_sock(struct pt_regs *regs, __u64 conn)
{
	struct sonde_go_proc gp;
	return go_proc_of(regs, &gp) ? go_conn_sock(&gp, conn) : 0;
}

/*
 * Write's plaintext is taken at its entry: Go's HTTP client reads responses
 * on another goroutine, which can return with the answer before Write
 * itself returns, so waiting for the return would put the response first.
 * Write sends the whole buffer unless the connection fails. Read's bytes
 * exist only at its return: the entry saves the call.
 */
static __always_inline int go_enter(struct pt_regs *regs, bool regabi, __u8 dir)
{
	if (!process_wanted())
		return 0;
	struct go_key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .goroutine = go_goroutine(regs, regabi) };
	struct go_call c = { .fn = call_origin(regs), .dir = dir };
	__s64 len = 0;
	if (regabi) { /* receiver, then the slice (ptr, len, cap) */
		c.conn = GO_ARG0(regs);
		c.buf = GO_ARG1(regs);
		len = (__s64)GO_ARG2(regs);
	} else { /* on the stack, from sp+8 */
		__u64 sp = PT_REGS_SP(regs), a[3] = {};
		bpf_probe_read_user(a, sizeof(a), (void *)(sp + 8));
		c.conn = a[0];
		c.buf = a[1];
		len = (__s64)a[2];
	}
	if (!c.conn)
		return 0;
	if (dir == SONDE_EV_TX)
		return go_emit(c.conn, go_sock(regs, c.conn), c.buf, len, dir, c.fn);
	if (!k.goroutine)
		return 0;
	if (bpf_map_update_elem(&go_calls, &k, &c, BPF_ANY))
		count(SONDE_CNT_INFLIGHT_FULL, 1);
	return 0;
}

/* At one of Read's return instructions: its n (of n int, err error). */
static __always_inline __s64 go_read_result(struct pt_regs *regs, bool regabi)
{
	__s64 n = 0;
	if (regabi)
		n = (__s64)GO_RET0(regs);
	else /* after the receiver and the slice's three words */
		bpf_probe_read_user(&n, sizeof(n), (void *)(PT_REGS_SP(regs) + 40));
	return n;
}

/*
 * At one of Read's return instructions, in a program whose Read keeps its
 * receiver and slice in their argument slots above the return address (the
 * stack ABI; the register ABI where goinfo.c saw Read store them there, a
 * check user space makes before it picks this program): everything is
 * there, so Read needs no entry probe, and a Read begun before sonde
 * attached is taken like any other.
 */
static __always_inline int go_read_return(struct pt_regs *regs, bool regabi)
{
	if (!process_wanted())
		return 0;
	__u64 a[3] = {};
	if (bpf_probe_read_user(a, sizeof(a), (void *)(PT_REGS_SP(regs) + 8)) || !a[0])
		return 0;
	__s64 n = go_read_result(regs, regabi);
	if (n <= 0 || (__u64)n > a[2])
		return 0;
	return go_emit(a[0], go_sock(regs, a[0]), a[1], n, SONDE_EV_RX, call_origin(regs));
}

/* At one of Read's return instructions: (n int, err error). */
static __always_inline int go_return(struct pt_regs *regs, bool regabi)
{
	struct go_key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .goroutine = go_goroutine(regs, regabi) };
	struct go_call *cp = bpf_map_lookup_elem(&go_calls, &k);
	if (!cp) /* begun before sonde attached: its buffer is unknown */
		return 0;
	struct go_call c = *cp;
	bpf_map_delete_elem(&go_calls, &k);
	__s64 n = go_read_result(regs, regabi);
	return go_emit(c.conn, go_sock(regs, c.conn), c.buf, n, c.dir, c.fn);
}

SEC("uprobe")
int go_tls_read_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, true, SONDE_EV_RX);
}

SEC("uprobe")
int go_tls_write_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, true, SONDE_EV_TX);
}

SEC("uprobe")
int go_tls_return(struct pt_regs *ctx)
{
	return go_return(ctx, true);
}

SEC("uprobe")
int go_tls_read_return(struct pt_regs *ctx)
{
	return go_read_return(ctx, true);
}

SEC("uprobe")
int go_tls_read_return_stack(struct pt_regs *ctx)
{
	return go_read_return(ctx, false);
}

SEC("uprobe")
int go_tls_read_enter_stack(struct pt_regs *ctx)
{
	return go_enter(ctx, false, SONDE_EV_RX);
}

SEC("uprobe")
int go_tls_write_enter_stack(struct pt_regs *ctx)
{
	return go_enter(ctx, false, SONDE_EV_TX);
}

SEC("uprobe")
int go_tls_return_stack(struct pt_regs *ctx)
{
	return go_return(ctx, false);
}

#endif
