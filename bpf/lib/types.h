/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel-side types of more than one file: a call in flight between a
 * hook's entry and its exit, and the per-CPU scratch an event is built in.
 */
#ifndef SONDE_BPF_TYPES_H
#define SONDE_BPF_TYPES_H

#include "lib/common.h"

/* A call in flight: what its exit needs. Keyed by tid. */
struct call {
	__u64 sk;
	__u64 buf; /* user buffer, iovec array, msghdr or mmsghdr array */
	__u64 cnt; /* length, iovec count or mmsg count */
	__u64 addr; /* sendto, recvfrom: the peer's user sockaddr, or 0 */
	__u8 kind; /* enum call_kind */
	__u8 dir;
	__u8 udp; /* a UDP socket's call: its exit emits datagrams */
};

enum call_kind {
	CALL_BUF, /* read, write, sendto, recvfrom */
	CALL_IOV, /* readv, writev: a user iovec array */
	CALL_KIOV, /* tcp_* hooks: the iov_iter's iovec array, the kernel's copy of
		    * the user's (import_iovec), pointing at user memory */
	CALL_MSG, /* sendmsg, recvmsg: buf is a user msghdr */
	CALL_MMSG, /* sendmmsg, recvmmsg */
	CALL_CONNECT,
	CALL_ACCEPT,
	CALL_OTHER, /* a tcp_* hook with a non-user iterator: bytes are a gap */
};

struct scratch {
	struct sonde_event ev;
	__u8 data[2 * SONDE_CHUNK_MAX];
	/* Off the 512-byte stack: a new socket's state and its peers key
	 * (lib/sock.h), made in the same programs that fill ev. */
	struct sonde_sock_state fresh;
	struct sonde_peer_key peer;
	struct sonde_peer_owner owner;
};

#endif
