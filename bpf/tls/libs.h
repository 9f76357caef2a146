/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TLS libraries: the uprobe programs on OpenSSL/BoringSSL/GnuTLS functions,
 * and the events that tell user space to look for new libraries.
 */
#ifndef SONDE_BPF_TLS_LIBS_H
#define SONDE_BPF_TLS_LIBS_H

#include "lib/config.h"
#include "lib/emit.h"
#include "lib/filter.h"
#include "lib/maps.h"
#include "tls/socket.h"

/* ---- TLS libraries: plaintext before encryption, after decryption ---- */

/*
 * One set of programs for every library: user space attaches each to the
 * functions whose arguments have that layout (src/source/tls/tls_libs.c says
 * which), and one return program finishes every kind.
 *
 * The connection is found without the library's struct layouts: a TLS call
 * that reads or writes its socket does so inside the call, on the same
 * thread (tls_note_socket). Contexts keep the socket once learnt, so a read
 * served from the library's buffer lands right. Libraries that never touch
 * the socket (memory BIOs) are bound by what the thread does around the call:
 * a read binds to the socket the thread last read, anything else to the
 * socket the thread sends on next.
 */
enum tls_kind {
	TLS_RW, /* (ctx, buf, len) -> bytes */
	TLS_EX, /* (ctx, buf, num, size_t *done) -> 1 */
	TLS_EX2, /* (ctx, buf, num, flags, size_t *done) -> 1 */
	TLS_BIO, /* (bio, buf, len) -> bytes, SSL BIOs only */
	TLS_HANDSHAKE, /* (ctx) */
};

#define BIO_TYPE_SSL (7 | 0x0200)

/* An SSL BIO? OpenSSL 1.1 and BoringSSL keep the method first, OpenSSL 3
 * after a library-context pointer; the method's first member is its type.
 * Whatever lies at the other offset is a pointer, never the small type
 * number, so checking both needs no per-version table. */
static __always_inline bool bio_is_ssl(__u64 bio)
{
	for (int off = 0; off <= 8; off += 8) {
		__u64 method = 0;
		int type = 0;
		if (bpf_probe_read_user(&method, sizeof(method), (void *)(bio + off)) || !method)
			continue;
		if (!bpf_probe_read_user(&type, sizeof(type), (void *)method) && type == BIO_TYPE_SSL)
			return true;
	}
	return false;
}

/* After a function's return the stack pointer is back above the return
 * address (x86-64 pops it; arm64 never pushed it). */
#if defined(__TARGET_ARCH_x86)
#define RET_SP_DELTA 8
#else
#define RET_SP_DELTA 0
#endif

static __always_inline int tls_enter(struct pt_regs *regs, __u64 ctx, __u64 buf, __u64 done_ptr,
				     __u8 kind, __u8 dir)
{
	if (!ctx || !process_wanted())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct tls_thread *t = bpf_map_lookup_elem(&tls_threads, &tid);
	if (!t) {
		struct tls_thread fresh = {};
		bpf_map_update_elem(&tls_threads, &tid, &fresh, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&tls_threads, &tid);
		if (!t) {
			count(SONDE_CNT_INFLIGHT_FULL, 1);
			return 0;
		}
	}
	__u64 sp = PT_REGS_SP(regs);
	/* A probed function called inside another (SSL_write's BIO_write on
	 * the socket BIO): the outer call is the one that counts. A call in
	 * flight whose frame is gone (its return was never seen) is stale. */
	if (t->call.active && sp < t->call.sp)
		return 0;
	if (kind == TLS_BIO && !bio_is_ssl(ctx)) {
		t->call.active = 0;
		return 0;
	}
	t->call.ctx = ctx;
	t->call.buf = buf;
	t->call.done_ptr = done_ptr;
	t->call.sk = 0;
	t->call.fn = call_origin(regs);
	t->call.sp = sp;
	t->call.kind = kind;
	t->call.dir = dir;
	t->call.active = 1;
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(tls_ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct tls_thread *t = bpf_map_lookup_elem(&tls_threads, &tid);
	if (!t || !t->call.active)
		return 0;
	__u64 sp = PT_REGS_SP(ctx);
	if (sp < t->call.sp + RET_SP_DELTA) /* a nested call's return */
		return 0;
	t->call.active = 0;
	if (sp != t->call.sp + RET_SP_DELTA) /* ours was missed: stale */
		return 0;
	struct tls_call call = t->call;
	int ret = (int)PT_REGS_RC(ctx);
	__u64 n = 0;
	if (call.kind == TLS_RW || call.kind == TLS_BIO) {
		n = ret > 0 ? ret : 0;
	} else if (call.kind == TLS_EX || call.kind == TLS_EX2) {
		if (ret == 1 && bpf_probe_read_user(&n, sizeof(n), (void *)call.done_ptr))
			n = 0;
	}
	if (!n && call.kind != TLS_HANDSHAKE && !call.sk)
		return 0; /* nothing moved, nothing learnt */
	struct sonde_tls_stream *ts = tls_stream_get(call.ctx);
	if (!ts)
		return 0;
	ts->fn = call.fn;
	__u64 sk = call.sk;
	if (!sk && !ts->sk && call.dir == SONDE_EV_RX)
		sk = t->last_rx_sk;
	if (sk)
		tls_bind(ts, sk);
	else if (!ts->sk)
		t->pending_ctx = call.ctx; /* bound by the thread's next send */
	if (!n || n > 0x7fffffff)
		return 0;
	if (ts->sk && !port_wanted((struct sock *)ts->sk))
		return 0;
	count(SONDE_CNT_TLS_CALLS, 1);
	if (!ts->sk)
		count(SONDE_CNT_TLS_UNBOUND, 1);
	return emit_tls(call.ctx, call.buf, (__u32)n, call.dir);
}

#define TLS_PROBE(name, kind, dir, ...)                                           \
	SEC("uprobe")                                                             \
	int BPF_KPROBE(name, void *c, void *buf, __u64 a2, __u64 a3, __u64 a4)    \
	{                                                                         \
		return tls_enter(ctx, (__u64)c, (__u64)buf, __VA_ARGS__, kind, dir); \
	}

TLS_PROBE(tls_rw_read, TLS_RW, SONDE_EV_RX, 0)
TLS_PROBE(tls_rw_write, TLS_RW, SONDE_EV_TX, 0)
TLS_PROBE(tls_ex_read, TLS_EX, SONDE_EV_RX, a3)
TLS_PROBE(tls_ex_write, TLS_EX, SONDE_EV_TX, a3)
TLS_PROBE(tls_ex2_write, TLS_EX2, SONDE_EV_TX, a4)
TLS_PROBE(tls_bio_read, TLS_BIO, SONDE_EV_RX, 0)
TLS_PROBE(tls_bio_write, TLS_BIO, SONDE_EV_TX, 0)
TLS_PROBE(tls_handshake, TLS_HANDSHAKE, SONDE_EV_TX, 0)

/* ---- TLS discovery: tell user space when a process maps new code ---- */

#define PROT_EXEC 0x4

/* type SONDE_EV_MAPPED, kind: 0 exec (the program is mapped now), 1 mmap
 * (a library, maybe); type SONDE_EV_EXIT: a process's main thread exited. */
static __always_inline void emit_proc(__u8 type, __u8 kind)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (tgid == self_tgid)
		return;
	struct sonde_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count(SONDE_CNT_RB_DROPS, 1);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->version = SONDE_EVENT_VERSION;
	ev->type = type;
	ev->dir = kind;
	ev->tgid = tgid;
	ev->tid = (__u32)pid_tgid;
	ev->ts_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, BPF_RB_FORCE_WAKEUP);
}

/* A thread is gone: nothing of it stays. Its process's main thread gone,
 * user space's process cache hears of it (proc_events). */
SEC("tracepoint/sched/sched_process_exit")
int tp_thread_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	bpf_map_delete_elem(&tls_threads, &tid);
	if (proc_events && tid == pid_tgid >> 32)
		emit_proc(SONDE_EV_EXIT, 0);
	return 0;
}

SEC("?tracepoint/sched/sched_process_exec")
int tp_exec(void *ctx)
{
	emit_proc(SONDE_EV_MAPPED, 0);
	return 0;
}

/* Shared libraries (ld.so's and dlopen's) arrive as file mappings with
 * PROT_EXEC. Sent at entry: user space rescans a little later. */
SEC("?tracepoint/syscalls/sys_enter_mmap")
int tp_enter_mmap(struct trace_event_raw_sys_enter *ctx)
{
	if ((ctx->args[2] & PROT_EXEC) && (long)ctx->args[4] >= 0)
		emit_proc(SONDE_EV_MAPPED, 1);
	return 0;
}

#endif
