/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TLS connections and their sockets: per thread, the TLS call in flight
 * and the sockets the socket hooks saw it touch, so a library context is
 * bound to its socket without knowing the library's structures; a
 * connection's stream, created on first sight; what names its library.
 */
#ifndef SONDE_BPF_TLS_SOCKET_H
#define SONDE_BPF_TLS_SOCKET_H

#include "lib/config.h"
#include "lib/filter.h"
#include "lib/sock.h"
#include "tls/maps.h"

/* A TLS library call in flight on a thread (see the TLS section below). */
struct tls_call {
	__u64 ctx; /* SSL*, gnutls_session_t or SSL BIO */
	__u64 buf;
	__u64 done_ptr; /* _ex variants: where the byte count is written */
	__u64 sk; /* the TCP socket a syscall inside the call used */
	__u64 fn; /* entry address: names the library in user space */
	__u64 sp; /* stack pointer at entry: matches the return */
	__u8 kind; /* enum tls_kind */
	__u8 dir;
	__u8 active;
};

/* Per thread: the call in flight, and what the thread did on sockets
 * lately, for libraries that never touch the socket inside their calls
 * (memory BIOs: Node.js, Envoy). Only threads that made a TLS call have an
 * entry, so other threads pay one failed lookup per socket call. */
struct tls_thread {
	struct tls_call call;
	__u64 last_rx_sk; /* the TCP socket this thread last read from */
	__u64 pending_ctx; /* a TLS connection waiting for its socket: the next send binds it */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tid */
	__type(value, struct tls_thread);
} tls_threads SEC(".maps");

/*
 * Bind a TLS connection of the current process to its socket. A context
 * seen on another socket than before was freed and reused by a new
 * connection: its stream starts over. A socket no hook has seen yet (a
 * connection older than sonde; Go's Write, taken before its syscall) gets
 * its state here, so its id stays the same from now on and its ciphertext
 * is counted, not copied, from its first byte.
 */
static __always_inline void tls_bind(struct sonde_tls_stream *ts, __u64 sk)
{
	struct sonde_sock_state *sst = port_wanted((struct sock *)sk) ? sock_get(sk)
								   : bpf_map_lookup_elem(&socks, &sk);
	__u64 sk_id = sst ? sst->id : 0;
	if (ts->sk == sk && (ts->sk_id == sk_id || !sst))
		return;
	if (ts->sk) {
		ts->st.id = new_id();
		ts->st.tx = ts->st.rx = 0;
		ts->st.lost = 0;
	}
	ts->sk = sk;
	ts->sk_id = sk_id;
	if (sst) {
		ts->st.role = sst->role;
		ts->st.midstream = sst->midstream;
		sst->tls = 1;
	}
}

/* A socket call on a thread that may be inside a TLS call. */
static __always_inline void tls_note_socket(__u64 sk, __u8 dir)
{
	if (!tls_on) /* --no-tls: not even the lookup, on every socket call */
		return;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct tls_thread *t = bpf_map_lookup_elem(&tls_threads, &tid);
	if (!t)
		return;
	if (dir == SONDE_EV_RX)
		t->last_rx_sk = sk;
	if (t->call.active) {
		if (!t->call.sk) {
			t->call.sk = sk;
			/* From now on the library's plaintext stands for this
			 * socket's bytes: its ciphertext is not copied (a
			 * socket seen for the first time gets its state now,
			 * before this call's exit would copy it). */
			struct sonde_sock_state *sst = port_wanted((struct sock *)sk)
							       ? sock_get(sk)
							       : bpf_map_lookup_elem(&socks, &sk);
			if (sst)
				sst->tls = 1;
		}
		return;
	}
	if (t->pending_ctx && dir == SONDE_EV_TX) {
		struct sonde_tls_key k = { .tgid = pid_tgid >> 32, .ctx = t->pending_ctx };
		struct sonde_tls_stream *ts = bpf_map_lookup_elem(&tls_streams, &k);
		if (ts && !ts->sk)
			tls_bind(ts, sk);
		t->pending_ctx = 0;
	}
}

/* The TLS connection of ctx in the current process, created on first sight. */
static __always_inline struct sonde_tls_stream *tls_stream_get(__u64 ctx)
{
	struct sonde_tls_key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .ctx = ctx };
	struct sonde_tls_stream *ts = bpf_map_lookup_elem(&tls_streams, &k);
	if (ts)
		return ts;
	struct sonde_tls_stream fresh = { .st = { .id = new_id(), .midstream = 1 } };
	bpf_map_update_elem(&tls_streams, &k, &fresh, BPF_NOEXIST);
	ts = bpf_map_lookup_elem(&tls_streams, &k);
	if (!ts)
		count(SONDE_CNT_SOCK_MAP_FULL, 1);
	return ts;
}

/*
 * What names the library of a call for user space: the probe's attach cookie
 * (the target's id, bit 63 set) where the kernel has cookies (5.15+), else
 * the function's address, which user space maps through the process's
 * mappings (which fails if the process is gone by then).
 */
#define FN_IS_TARGET_ID (1ull << 63)
static __always_inline __u64 call_origin(struct pt_regs *regs)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_attach_cookie)) {
		__u64 cookie = bpf_get_attach_cookie(regs);
		if (cookie)
			return cookie | FN_IS_TARGET_ID;
	}
	return PT_REGS_IP(regs);
}

#endif
