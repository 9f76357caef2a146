/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Events into the ring buffer: headers, lifecycle events, and the one body
 * that turns bytes moved into data events for every hook (emit_bytes,
 * emit_iov) and for the TLS probes (emit_tls).
 */
#ifndef SONDE_BPF_EMIT_H
#define SONDE_BPF_EMIT_H

#include "lib/config.h"
#include "lib/maps.h"
#include "lib/sock.h"
#include "lib/tcp.h"
#include "tls/maps.h"

/* Twice the chunk so a size masked with 2*SONDE_CHUNK_MAX-1 provably fits:
 * the verifier follows a mask where it loses a compared bound. */
#define SIZE_MASK (2 * SONDE_CHUNK_MAX - 1)
static __always_inline __u64 size_bound(__u64 v)
{
	/* asm, so the compiler cannot drop a mask it proves redundant */
	asm volatile("%[v] &= %[m]" : [v] "+r"(v) : [m] "i"(SIZE_MASK));
	return v;
}

static __always_inline void fill_header(struct sonde_event *ev, __u64 skp, struct sonde_sock_state *st,
					__u8 type, __u8 dir)
{
	struct sock *sk = (struct sock *)skp;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	ev->version = SONDE_EVENT_VERSION;
	ev->type = type;
	ev->dir = dir;
	ev->role = st->role;
	ev->hook = hook_kind;
	ev->flags = (st->midstream ? SONDE_EVF_MIDSTREAM : 0) |
		    (st->peer == SONDE_PEER_COPY    ? SONDE_EVF_PEER_COPY
		     : st->peer == SONDE_PEER_OWNER ? SONDE_EVF_PEER_OWNER
						    : 0);
	ev->tgid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->conn_id = st->id;
	ev->sk = skp;
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->tls_fn = 0;
	ev->sock_id = 0;
	ev->srtt_us = st->srtt_now_us;
	ev->total_retrans = st->retrans_now;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	if (!skp) { /* a TLS stream whose socket is not known yet */
		ev->family = 0;
		__builtin_memset(ev->laddr, 0, 16);
		__builtin_memset(ev->raddr, 0, 16);
		ev->lport = ev->rport = 0;
		ev->netns = 0;
		return;
	}
	ev->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	/* 127.0.0.1 in two namespaces are two hosts: user space's loopback
	 * de-duplication keys by it, as the peers map does (lib/sock.h). */
	ev->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (ev->family == AF_INET) {
		__builtin_memset(ev->laddr, 0, 16);
		__builtin_memset(ev->raddr, 0, 16);
		/* Explicit sizes: the READ_INTO macros copy sizeof(*dst), one byte
		 * for an array. */
		bpf_core_read(ev->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(ev->raddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(ev->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(ev->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	ev->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

static __always_inline __u64 rb_flags(void)
{
	/* Wake the reader only once enough is pending; it also polls on a
	 * short timeout, so nothing waits long. */
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									       : BPF_RB_NO_WAKEUP;
}

/* Lifecycle events: no payload. */
static __always_inline void emit_control(__u64 sk, struct sonde_sock_state *st, __u8 type)
{
	struct scratch *s = scratch_get();
	if (!s)
		return;
	fill_header(&s->ev, sk, st, type, SONDE_EV_TX);
	s->ev.pos = st->tx;
	s->ev.rx_pos = st->rx;
	s->ev.len = 0;
	s->ev.cap = 0;
	if (bpf_ringbuf_output(&events, &s->ev, sizeof(s->ev), BPF_RB_FORCE_WAKEUP))
		count(SONDE_CNT_RB_DROPS, 1);
	else
		count(SONDE_CNT_EVENTS, 1);
}

/* emit_iov's flag beside the direction (dir_flags bit 17). */
#define IOV_IN_KERNEL (1u << 17) /* emit_iov: the iovec array is kernel memory (an iov_iter's) */

/*
 * The events of `len` bytes at stream position `pos` of stream `st`, the
 * first `avail` of them readable at user address `ubuf` (avail < len: the rest
 * is not readable: a gap). Inlined into the two emitters below so each
 * program's verifier pass sees only the kind of stream it feeds.
 */
static __always_inline int emit_stream(struct sonde_sock_state *st, __u64 sk, __u64 handle,
				       __u64 pos, __u64 ubuf, __u32 len, __u32 avail, __u32 dir,
				       __u32 flags, __u64 tls_fn, __u64 sock_id)
{
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	/* One header for every event of the call (one time, one thread): the
	 * loop below sets only what differs, which keeps few values live across
	 * it (the stack frame is counted against 512 bytes with its callers'). */
	fill_header(&s->ev, sk, st, SONDE_EV_DATA, dir);
	s->ev.flags |= flags;
	s->ev.tls_fn = tls_fn;
	s->ev.sock_id = sock_id;
	s->ev.sk = handle; /* TLS: the library context, user space's handle */
	s->ev.rx_pos = 0;
	flags = s->ev.flags;
	__u32 limit = capture_per_call < avail ? capture_per_call : avail;
	__u32 off = 0;
	for (int i = 0; i < SONDE_CHUNKS_PER_CALL; i++) {
		if (off >= len)
			break;
		__u32 n = len - off;
		__u32 cap = 0;
		if (off < limit) {
			cap = limit - off;
			if (cap > SONDE_CHUNK_MAX)
				cap = SONDE_CHUNK_MAX;
			if (n > cap)
				n = cap;
		} else if (off < avail) {
			/* Readable, but over the per-call limit: one header-only
			 * event covers the rest. */
			count(SONDE_CNT_TRUNC_BYTES, n);
		}
		s->ev.flags = flags;
		s->ev.pos = pos + off;
		s->ev.len = n;
		if (cap && bpf_probe_read_user(s->data, size_bound(cap), (void *)(ubuf + off))) {
			count(SONDE_CNT_READ_FAILED, 1);
			s->ev.flags |= SONDE_EVF_READ_FAILED;
			cap = 0;
		}
		s->ev.cap = cap;
		count(SONDE_CNT_CAPTURED, cap);
		if (st->lost & (1 << dir))
			s->ev.flags |= SONDE_EVF_AFTER_LOSS;
		if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + size_bound(cap), rb_flags())) {
			count(SONDE_CNT_RB_DROPS, 1);
			count(SONDE_CNT_RB_DROP_BYTES, n);
			st->lost |= 1 << dir; /* the next event says so */
		} else {
			count(SONDE_CNT_EVENTS, 1);
			st->lost &= ~(1 << dir);
		}
		off += n;
	}
	if (off < len) { /* more than SONDE_CHUNKS_PER_CALL events' worth */
		s->ev.flags = flags;
		s->ev.pos = pos + off;
		s->ev.len = len - off;
		s->ev.cap = 0;
		count(SONDE_CNT_TRUNC_BYTES, len - off);
		if (bpf_ringbuf_output(&events, &s->ev, sizeof(s->ev), rb_flags()))
			count(SONDE_CNT_RB_DROPS, 1);
	}
	return 0;
}


/*
 * `len` bytes moved in direction `dir` on socket `sk`, the first `avail` of
 * them readable at `ubuf`. Advances the stream position whatever happens, so
 * anything lost becomes an exact gap in user space.
 */
/* Global (not static): the verifier checks it once, not at every call site. */
__noinline int emit_bytes(__u64 sk, __u64 ubuf, __u32 len, __u32 avail, __u32 dir_flags)
{
	/* BPF calls take five arguments: the direction and the event flags share one. */
	__u32 dir = dir_flags & 0xff, flags = (dir_flags >> 8) & 0xff;
	if (!len)
		return 0;
	/* The caller gave the socket its state (sock_get). */
	struct sonde_sock_state *st = bpf_map_lookup_elem(&socks, &sk);
	if (!st)
		return 0;
	__u64 pos = dir == SONDE_EV_TX ? st->tx : st->rx;
	if (dir == SONDE_EV_TX)
		st->tx += len;
	else
		st->rx += len;
	tcp_sample(st, sk);
	if (st->tls) { /* its plaintext comes from the TLS library */
		count(SONDE_CNT_TLS_CIPHER_BYTES, len);
		return 0;
	}
	count(SONDE_CNT_BYTES, len);
	if (!st->muted) {
		/* The switch is looked up only when user space has written to it
		 * since this socket's last look. */
		__u32 gen = ignored_gen;
		if (st->ignored_gen != gen) {
			__u64 *ig = bpf_map_lookup_elem(&ignored, &sk);
			if (ig && *ig == st->id)
				st->muted = SONDE_MUTED_IGNORED;
			st->ignored_gen = gen;
		}
	}
	if (st->muted) {
		count(st->muted == SONDE_MUTED_PEER_COPY ? SONDE_CNT_PEER_COPY_BYTES
							 : SONDE_CNT_IGNORED_BYTES,
		      len);
		return 0;
	}
	return emit_stream(st, sk, sk, pos, ubuf, len, avail, dir, flags, 0, 0);
}

/* The same for the plaintext of the TLS connection of library context ctx
 * in the current process. */
__noinline int emit_tls(__u64 ctx, __u64 ubuf, __u32 len, __u32 dir)
{
	if (!len)
		return 0;
	struct sonde_tls_key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .ctx = ctx };
	struct sonde_tls_stream *ts = bpf_map_lookup_elem(&tls_streams, &k);
	if (!ts)
		return 0;
	struct sonde_sock_state *st = &ts->st;
	__u64 pos = dir == SONDE_EV_TX ? st->tx : st->rx;
	if (dir == SONDE_EV_TX)
		st->tx += len;
	else
		st->rx += len;
	count(SONDE_CNT_TLS_BYTES, len);
	__u64 *ig = bpf_map_lookup_elem(&tls_ignored, &k);
	if (ig && *ig == st->id) {
		count(SONDE_CNT_IGNORED_BYTES, len);
		return 0;
	}
	tcp_sample(st, ts->sk);
	return emit_stream(st, ts->sk, ctx, pos, ubuf, len, len, dir & 0xff, SONDE_EVF_TLS, ts->fn,
			   ts->sk_id);
}

/* `total` bytes spread over an iovec array (readv/writev/msghdr, or an
 * iov_iter's), whose buffers are user memory. */
__noinline int emit_iov(__u64 sk, __u64 iov, __u64 iovcnt, __u32 total, __u32 dir_flags)
{
	__u32 dir = dir_flags & 0xffff;
	bool in_kernel = dir_flags & IOV_IN_KERNEL;
	__u32 done = 0;
	for (int i = 0; i < SONDE_IOV_MAX; i++) {
		if (i >= iovcnt || done >= total)
			break;
		struct iovec v = {};
		void *at = (void *)(iov + i * sizeof(struct iovec));
		if (in_kernel ? bpf_probe_read_kernel(&v, sizeof(v), at) : bpf_probe_read_user(&v, sizeof(v), at))
			break;
		__u32 n = v.iov_len < total - done ? (__u32)v.iov_len : total - done;
		emit_bytes(sk, (__u64)v.iov_base, n, n, dir);
		done += n;
	}
	if (done < total) {
		count(SONDE_CNT_IOV_TRUNC_BYTES, total - done);
		emit_bytes(sk, 0, total - done, 0, dir);
	}
	return 0;
}

#endif
