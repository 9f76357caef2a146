/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * UDP: each datagram a socket sends or receives through a traced call
 * becomes one data event flagged SONDE_EVF_DATAGRAM — no stream, no
 * position, no socket state — carrying its peer: the address the call named
 * (sendto/sendmsg's destination, recvfrom/recvmsg's source), else the
 * connected socket's (glibc's resolver connects its socket). Only the first
 * buffer of a scattered datagram is copied (a resolver's datagram is one);
 * the rest is counted truncated.
 */
#ifndef SONDE_BPF_DATAGRAM_H
#define SONDE_BPF_DATAGRAM_H

#include "lib/emit.h"
#include "lib/filter.h"
#include "lib/types.h"

/* The peer of a datagram from a user sockaddr of the socket's family; false
 * if there is none to read (then the connected peer stands). */
static __always_inline bool sockaddr_peer(struct sonde_event *ev, __u64 sa)
{
	__u16 fam = 0, port = 0;
	if (!sa || bpf_probe_read_user(&fam, sizeof(fam), (void *)sa) || fam != ev->family)
		return false;
	bpf_probe_read_user(&port, sizeof(port), (void *)(sa + 2));
	__builtin_memset(ev->raddr, 0, 16);
	if (fam == AF_INET)
		bpf_probe_read_user(ev->raddr, 4, (void *)(sa + 4)); /* sin_addr */
	else
		bpf_probe_read_user(ev->raddr, 16, (void *)(sa + 8)); /* sin6_addr */
	ev->rport = bpf_ntohs(port);
	return true;
}

/*
 * One datagram of `len` bytes (high half of len_avail), the first `avail`
 * (low half) readable at ubuf; sa is the user sockaddr naming its peer, or 0.
 * Five arguments at most for a BPF call: the two lengths share one.
 */
__noinline int emit_datagram(__u64 sk, __u64 ubuf, __u64 len_avail, __u64 sa, __u32 dir)
{
	__u32 len = len_avail >> 32, avail = (__u32)len_avail;
	if (!len)
		return 0;
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct sonde_sock_state st = {}; /* role unknown, not mid-stream */
	fill_header(&s->ev, sk, &st, SONDE_EV_DATA, dir & 1);
	sockaddr_peer(&s->ev, sa);
	if (!udp_port_wanted(s->ev.lport, s->ev.rport))
		return 0;
	count(SONDE_CNT_UDP_DATAGRAMS, 1);
	count(SONDE_CNT_UDP_BYTES, len);
	__u32 cap = avail < len ? avail : len;
	if (cap > SONDE_CHUNK_MAX)
		cap = SONDE_CHUNK_MAX;
	if (cap > capture_per_call)
		cap = capture_per_call;
	if (cap < len)
		count(SONDE_CNT_TRUNC_BYTES, len - cap);
	s->ev.flags = SONDE_EVF_DATAGRAM;
	s->ev.pos = 0;
	s->ev.rx_pos = 0;
	s->ev.len = len;
	if (cap && bpf_probe_read_user(s->data, size_bound(cap), (void *)ubuf)) {
		count(SONDE_CNT_READ_FAILED, 1);
		s->ev.flags |= SONDE_EVF_READ_FAILED;
		cap = 0;
	}
	s->ev.cap = cap;
	count(SONDE_CNT_CAPTURED, cap);
	if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + size_bound(cap), rb_flags())) {
		count(SONDE_CNT_RB_DROPS, 1);
		count(SONDE_CNT_RB_DROP_BYTES, len);
	} else {
		count(SONDE_CNT_EVENTS, 1);
	}
	return 0;
}

static __always_inline __u64 lengths(__u32 len, __u64 avail)
{
	return (__u64)len << 32 | (avail < len ? avail : len);
}

/* A msghdr's datagram: its name and first buffer. */
static __always_inline void emit_msghdr(__u64 sk, struct user_msghdr *m, __u32 len, __u32 dir)
{
	struct iovec v = {};
	if (!m->msg_iovlen || bpf_probe_read_user(&v, sizeof(v), m->msg_iov))
		v.iov_len = 0;
	emit_datagram(sk, (__u64)v.iov_base, lengths(len, v.iov_len),
		      m->msg_namelen ? (__u64)m->msg_name : 0, dir);
}

/* The exit of a UDP socket's call that moved `ret` (bytes, or messages for
 * the mmsg calls). */
static __always_inline int udp_exit(const struct call *c, long ret)
{
	if (ret <= 0)
		return 0;
	switch (c->kind) {
	case CALL_BUF: emit_datagram(c->sk, c->buf, lengths((__u32)ret, ret), c->addr, c->dir); break;
	case CALL_IOV: {
		struct iovec v = {};
		if (!c->cnt || bpf_probe_read_user(&v, sizeof(v), (void *)c->buf))
			v.iov_len = 0;
		emit_datagram(c->sk, (__u64)v.iov_base, lengths((__u32)ret, v.iov_len), 0, c->dir);
		break;
	}
	case CALL_MSG: {
		struct user_msghdr m = {};
		if (!bpf_probe_read_user(&m, sizeof(m), (void *)c->buf))
			emit_msghdr(c->sk, &m, (__u32)ret, c->dir);
		break;
	}
	case CALL_MMSG:
		for (int i = 0; i < SONDE_MMSG_MAX; i++) {
			if (i >= ret)
				break;
			struct mmsghdr mm = {};
			if (bpf_probe_read_user(&mm, sizeof(mm), (void *)(c->buf + i * sizeof(mm))))
				break;
			emit_msghdr(c->sk, &mm.msg_hdr, mm.msg_len, c->dir);
		}
		if (ret > SONDE_MMSG_MAX)
			count(SONDE_CNT_IOV_TRUNC_BYTES, 1);
		break;
	default: break;
	}
	return 0;
}

#endif
