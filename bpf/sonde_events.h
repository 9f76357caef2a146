/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What sonde's kernel programs and user space share: the event format, the
 * limits, the counters. Only fixed-width types, no kernel or libc headers.
 * Bump SONDE_EVENT_VERSION on any change of struct sonde_event.
 */
#ifndef SONDE_EVENTS_H
#define SONDE_EVENTS_H

#define SONDE_EVENT_VERSION 2

/* Payload bytes per event; a larger read/write becomes several events. */
#define SONDE_CHUNK_MAX 16384
/* Events per syscall at most (the per-call capture limit is in rodata). */
#define SONDE_CHUNKS_PER_CALL 16
/* iovec entries walked per readv/writev/sendmsg/recvmsg; the rest is a gap. */
#define SONDE_IOV_MAX 32
/* mmsghdr entries walked per sendmmsg/recvmmsg; the rest is a gap. */
#define SONDE_MMSG_MAX 4
#define SONDE_COMM_LEN 16
/* Values of each --pid, --port, --comm list (the kernel checks them in order). */
#define SONDE_FILTER_MAX 16

/*
 * Capture targets (--target): the cgroups (v2 ids) of the selected
 * containers, each with the ports and processes wanted there (none: all); key 0
 * holds the rule for processes in any other cgroup, when a target selects
 * them. A process whose cgroup has no entry, and no key 0, is not followed.
 */
#define SONDE_TARGET_PORTS 8
#define SONDE_TARGET_COMMS 4
#define SONDE_TARGETS_MAX 16384
struct sonde_target {
	__u16 ports[SONDE_TARGET_PORTS];
	__u32 nports; /* 0: every port */
	__u32 ncomms; /* 0: every process */
	/* command names, NUL-padded, compared as two 64-bit words */
	__u64 comms[SONDE_TARGET_COMMS][SONDE_COMM_LEN / 8];
};

enum sonde_event_type {
	SONDE_EV_DATA = 1, /* bytes moved; cap of them follow the header */
	SONDE_EV_OPEN = 2, /* connect() or accept() completed */
	SONDE_EV_CLOSE = 3, /* the socket reached TCP_CLOSE */
	SONDE_EV_MAPPED = 4, /* a process exec'd (dir 0) or mapped executable code (dir 1) */
};

/* Direction relative to the traced socket. */
enum sonde_event_dir {
	SONDE_EV_TX = 0, /* sent by the local socket */
	SONDE_EV_RX = 1, /* received by it */
};

enum sonde_event_role {
	SONDE_EV_ROLE_UNKNOWN = 0, /* first seen in the middle of its life */
	SONDE_EV_ROLE_CLIENT = 1, /* it called connect() */
	SONDE_EV_ROLE_SERVER = 2, /* it came from accept() */
};

/*
 * The data hooks, best last: X(KIND, value, name). The value is the event's
 * hook field; the name is the --ebpf-hook value and the tail of
 * capture.method (ebpf-NAME).
 */
#define SONDE_HOOKS(X)                                                            \
	X(TRACEPOINT, 0, "tracepoint") /* syscall tracepoints */                     \
	X(KPROBE, 1, "kprobe") /* kprobe/kretprobe on tcp_sendmsg/tcp_recvmsg */     \
	X(FENTRY, 2, "fentry") /* fentry/fexit on the same */

/* Which hook produced the event (becomes capture.method). */
enum sonde_event_hook {
#define SONDE_HOOK_ENUM(kind, value, name) SONDE_HOOK_##kind = value,
	SONDE_HOOKS(SONDE_HOOK_ENUM)
#undef SONDE_HOOK_ENUM
	SONDE_HOOK__COUNT,
};

enum sonde_event_flags {
	SONDE_EVF_MIDSTREAM = 1, /* socket already open when first seen */
	SONDE_EVF_READ_FAILED = 2, /* copying the payload from memory failed */
	SONDE_EVF_UNTRACED = 4, /* bytes moved outside traced calls (io_uring, sendfile, splice) */
	SONDE_EVF_AFTER_LOSS = 8, /* events of this direction were lost just before */
	SONDE_EVF_TLS = 16, /* plaintext of a TLS connection, from a TLS library's functions */
	SONDE_EVF_DATAGRAM = 32, /* one UDP datagram: no stream position, the peer in raddr */
};

struct sonde_event {
	__u8 version;
	__u8 type; /* enum sonde_event_type */
	__u8 dir; /* enum sonde_event_dir */
	__u8 role; /* enum sonde_event_role */
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 hook; /* enum sonde_event_hook */
	__u16 flags; /* enum sonde_event_flags */
	__u32 tgid, tid;
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u64 conn_id; /* unique per socket, for its life */
	__u64 sk; /* kernel socket address: key of the ignore switch; for TLS
		   * data, the library's context (SSL*, session, BIO) */
	__u64 cgroup_id;
	__u64 pos; /* stream position (this direction) of the first byte */
	__u64 rx_pos; /* OPEN/CLOSE: receive position (pos is the send one) */
	__u32 len; /* bytes the call moved in this event */
	__u32 cap; /* of which follow the header */
	__u8 laddr[16], raddr[16]; /* local and remote address; IPv4 in the first 4 */
	__u16 lport, rport; /* host byte order */
	char comm[SONDE_COMM_LEN];
	/* TLS events: what names the library (with bit 63 set, the probed
	 * target's id; else the entry address of the function that moved the
	 * bytes), and the id of the socket the TLS connection runs on (0 while
	 * unknown: then the addresses are zero). */
	__u64 tls_fn;
	__u64 sock_id;
	/* followed by cap bytes of payload */
};

/* Per-socket state in the kernel's socket map (user space reads it only). */
struct sonde_sock_state {
	__u64 id;
	__u64 tx, rx; /* bytes moved so far, each direction */
	__u8 role; /* enum sonde_event_role */
	__u8 midstream;
	__u8 lost; /* bit per direction: an event was lost since the last one */
	__u8 tls; /* a TLS library's plaintext of this socket is captured: its
		   * ciphertext is counted, not copied */
	__u8 pad[4];
};

/* A TLS connection as its library sees it (an SSL*, a gnutls session, an SSL
 * BIO) in one process: the plaintext stream positions, and the socket once
 * known. Key: struct sonde_tls_key. */
struct sonde_tls_key {
	__u32 tgid;
	__u32 pad;
	__u64 ctx;
};

struct sonde_tls_stream {
	struct sonde_sock_state st; /* id and positions of the plaintext */
	__u64 sk; /* the socket, 0 until known */
	__u64 sk_id; /* its sonde_sock_state id when bound */
	__u64 fn; /* entry address of the last library function seen */
};

/* What the Go TLS probes need to know of a Go program to follow a
 * *tls.Conn to its socket (user space fills it from src/source/binfmt/goinfo.c). */
struct sonde_go_proc {
	__u64 tcpconn_type; /* address of the *net.TCPConn type descriptor, or 0 */
	__u64 tcpconn_close; /* address of net.(*TCPConn).Close, or 0 */
	__u32 tlsconn_conn_off; /* crypto/tls.Conn.conn */
	__u32 netconn_fd_off; /* net.conn.fd */
	__u32 netfd_pfd_off; /* net.netFD.pfd */
	__u32 pfd_sysfd_off; /* internal/poll.FD.Sysfd */
};

/*
 * A Go program file, as go_bins holds it under its target id (kernels with
 * attach cookies, 5.15+): addresses are link-time ones, and each probe's
 * cookie says where it sits, so the probes relocate them for any process,
 * from its first call, without user space having seen that process.
 */
struct sonde_go_bin {
	struct sonde_go_proc link; /* link-time addresses */
	__u64 text_delta; /* link-time address minus file offset in the code segment */
	__u32 pie; /* ET_DYN: loaded at a bias, relocate */
	__u32 pad;
};

/* A Go probe's cookie: the target id, and the probe's file offset. */
#define SONDE_GO_COOKIE(id, file_off) ((__u64)(__u32)(id) | ((__u64)(file_off) & 0x7fffffffull) << 32)
#define SONDE_GO_COOKIE_OFF(cookie) (((cookie) >> 32) & 0x7fffffffull)

/*
 * Per-CPU counters of what the kernel side saw and could not deliver:
 * X(NAME, stat), SONDE_CNT_NAME its index in the counters map, stat the
 * struct sonde_stats field it adds to (src/core/stats.h names them in the
 * output; two counters may add to one field).
 */
#define SONDE_KCOUNTERS(X)                                                        \
	X(EVENTS, ebpf_kernel_events) /* events written to the ring buffer */        \
	X(BYTES, ebpf_bytes) /* payload bytes moved by traced sockets */              \
	X(CAPTURED, ebpf_captured_bytes) /* of which copied into events */            \
	X(RB_DROPS, ebpf_ringbuf_drops) /* events lost: ring buffer full */           \
	X(RB_DROP_BYTES, ebpf_ringbuf_drop_bytes) /* payload bytes in those events */ \
	X(TRUNC_BYTES, ebpf_truncated_bytes) /* bytes over the per-call capture limit */ \
	X(READ_FAILED, ebpf_read_failures) /* payload copies that failed (paged out) */ \
	X(IOV_TRUNC_BYTES, ebpf_truncated_bytes) /* bytes past SONDE_IOV_MAX / SONDE_MMSG_MAX */ \
	X(UNTRACED_BYTES, ebpf_untraced_bytes) /* bytes moved outside traced calls */ \
	X(INFLIGHT_FULL, ebpf_missed_calls) /* calls missed: in-flight map full */    \
	X(SOCK_MAP_FULL, ebpf_missed_calls) /* sockets missed: socket map full */     \
	X(IGNORED_BYTES, ebpf_ignored_bytes) /* bytes of connections user space ignores */ \
	X(MISSED_EXIT, ebpf_missed_exits) /* calls whose exit never came (thread killed mid-call) */ \
	X(TLS_CALLS, tls_calls) /* TLS library calls that moved plaintext */          \
	X(TLS_BYTES, tls_plaintext_bytes) /* plaintext bytes they moved */            \
	X(TLS_CIPHER_BYTES, tls_ciphertext_bytes) /* ciphertext bytes of those connections (not copied) */ \
	X(TLS_UNBOUND, tls_unbound_calls) /* TLS calls whose socket was not known yet */ \
	X(GO_UNRESOLVED, tls_go_unresolved) /* Go TLS calls whose socket the runtime structures did not give */ \
	X(GO_CLOSED, tls_go_closed_writes) /* Go TLS Writes on a connection already closed (nothing sent) */ \
	X(CLOSED_BYTES, ebpf_closed_socket_bytes) /* bytes moved on a socket after its close, without state (not followed) */ \
	X(UDP_DATAGRAMS, ebpf_udp_datagrams) /* UDP datagrams of wanted ports copied */ \
	X(UDP_BYTES, ebpf_udp_bytes) /* their bytes */ \
	X(TARGET_SKIPPED, ebpf_target_skipped_calls) /* calls of processes no --target selects (not followed) */

enum sonde_counter {
#define SONDE_CNT_ENUM(name, stat) SONDE_CNT_##name,
	SONDE_KCOUNTERS(SONDE_CNT_ENUM)
#undef SONDE_CNT_ENUM
	SONDE_CNT__MAX,
};

/*
 * The TC packet source (bpf/tc.bpf.c): every packet of an interface, as it
 * was at ingress or egress, up to SONDE_TC_SNAP_MAX bytes, one event each.
 */
#define SONDE_TC_SNAP_MAX 16384

enum sonde_tc_dir {
	SONDE_TC_INGRESS = 0,
	SONDE_TC_EGRESS = 1,
};

struct sonde_tc_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u32 ifindex;
	__u32 len; /* the packet's bytes */
	__u32 cap; /* of which follow the header */
	__u8 dir; /* enum sonde_tc_dir */
	__u8 pad[3];
	/* followed by cap bytes, from the link-layer header on */
};

/* Counters of the TC programs (a per-CPU array). */
enum sonde_tc_counter {
	SONDE_TC_CNT_PACKETS, /* packets written to the ring buffer */
	SONDE_TC_CNT_DROPS, /* packets lost: the ring buffer was full */
	SONDE_TC_CNT_LOAD_FAILED, /* packets whose bytes could not be read */
	SONDE_TC_CNT__MAX,
};

/*
 * The cgroup_skb packet source (bpf/cgroup_skb.bpf.c): every packet the
 * sockets of a cgroup (and its descendants) send or receive, from the IP
 * header on, with the socket's cgroup. Counters: enum sonde_tc_counter.
 */
struct sonde_cgskb_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u64 cgroup_id; /* the cgroup v2 id of the packet's socket */
	__u32 ifindex;
	__u32 len; /* the packet's bytes, from the IP header */
	__u32 cap; /* of which follow the header */
	__u8 dir; /* enum sonde_tc_dir */
	__u8 pad[3];
	/* followed by cap bytes, from the IP header on */
};

#endif
