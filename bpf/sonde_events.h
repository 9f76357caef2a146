/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What sonde's kernel programs and user space share: the event format, the
 * limits, the counters. Only fixed-width types, no kernel or libc headers.
 * Bump SONDE_EVENT_VERSION on any change of struct sonde_event.
 */
#ifndef SONDE_EVENTS_H
#define SONDE_EVENTS_H

#define SONDE_EVENT_VERSION 4

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
	/* A connect() that never reached ESTABLISHED on a socket sonde did not
	 * follow (a blocking connect refused or timed out): the header names
	 * the process that called connect, struct sonde_tcp_info follows. */
	SONDE_EV_TCP_FAILED = 5,
	SONDE_EV_EXIT = 6, /* a process's main thread exited (tgid) */
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
	SONDE_EVF_TCP_INFO = 64, /* a struct sonde_tcp_info follows the header */
	SONDE_EVF_PEER_COPY = 128, /* the second local end of a connection whose first end
				    * is captured: its data is not copied (lib/sock.h) */
	SONDE_EVF_PEER_OWNER = 256, /* the kernel placed this socket as its connection's
				     * captured end (lib/sock.h): user space need not check */
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
	__u32 netns; /* the socket's network namespace (its inode); 0: unknown */
	/* TLS events: what names the library (with bit 63 set, the probed
	 * target's id; else the entry address of the function that moved the
	 * bytes), and the id of the socket the TLS connection runs on (0 while
	 * unknown: then the addresses are zero). */
	__u64 tls_fn;
	__u64 sock_id;
	/* TCP data events: the socket's smoothed RTT (us) and retransmitted
	 * segments so far, when the event was made (0: not read). */
	__u32 srtt_us;
	__u32 total_retrans;
	/* followed by cap bytes of payload; CLOSE and TCP_FAILED events with
	 * SONDE_EVF_TCP_INFO: by struct sonde_tcp_info instead */
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
	__u8 muted; /* nothing more is copied: SONDE_MUTED_* */
	__u8 peer; /* SONDE_PEER_*: its place in the peers map (lib/sock.h) */
	__u8 pad[2];
	/* The socket's smoothed RTT as the data events read it: the latest,
	 * and min/max/sum over the samples (bpf/hooks/tcp_health.h). */
	__u32 srtt_now_us, retrans_now;
	__u32 srtt_min_us, srtt_max_us;
	__u64 srtt_sum_us;
	__u32 srtt_n;
	__u32 ignored_gen; /* the ignore switch's generation last looked up at */
};

enum sonde_muted {
	SONDE_MUTED_IGNORED = 1, /* user space said so (the ignore switch) */
	SONDE_MUTED_PEER_COPY = 2, /* the other local end is captured */
};

enum sonde_peer {
	SONDE_PEER_OWNER = 1, /* this socket holds its tuple's entry */
	SONDE_PEER_COPY = 2, /* another live socket holds it: this one is its copy */
};

/* The peers map's key: a TCP connection's two endpoints in a fixed order
 * (the lesser first, IPv4 as IPv4-mapped IPv6), so that both its local ends
 * make the same key; and, for loopback addresses only, the network namespace
 * (127.0.0.1 in two namespaces are two hosts; any other address is one). */
struct sonde_peer_key {
	__u8 addr[2][16];
	__u16 port[2];
	__u32 netns;
};

struct sonde_peer_owner {
	__u64 sk;
	__u64 id;
};

/*
 * TCP health of one connection (bpf/hooks/tcp_health.h), as the local socket
 * saw it: lifecycle from sock:inet_sock_set_state, resets and retransmissions
 * from the tcp: tracepoints, the rest read from struct tcp_sock at close.
 * Times are CLOCK_MONOTONIC; a field whose bit in `have` is clear is unknown.
 */
enum sonde_tcp_have {
	SONDE_TCP_HAVE_LIFE = 1, /* the lifecycle was followed from the first SYN */
	SONDE_TCP_HAVE_SOCK = 2, /* struct tcp_sock was read at close */
	SONDE_TCP_HAVE_BYTES_SENT = 4, /* bytes_sent, bytes_retrans (4.19+) */
	SONDE_TCP_HAVE_RETRANS_TP = 8, /* tcp:tcp_retransmit_skb counted */
	SONDE_TCP_HAVE_RESET_TP = 16, /* tcp:tcp_send_reset / tcp_receive_reset seen */
	SONDE_TCP_HAVE_OOO = 32, /* rcv_ooopack (5.4+) */
	SONDE_TCP_HAVE_LISTEN_DROP = 64, /* a SYN the listener's full accept queue dropped */
};

enum sonde_tcp_closer {
	SONDE_TCP_CLOSER_UNKNOWN = 0,
	SONDE_TCP_CLOSER_LOCAL = 1, /* the local socket sent its FIN first */
	SONDE_TCP_CLOSER_REMOTE = 2, /* the peer's FIN came first */
};

enum sonde_tcp_rst {
	SONDE_TCP_RST_SENT = 1,
	SONDE_TCP_RST_RECEIVED = 2,
};

struct sonde_tcp_info {
	__u64 ts_syn; /* SYN_SENT (client) or SYN_RECV (server) */
	__u64 ts_established;
	__u64 bytes_sent, bytes_received, bytes_acked, bytes_retrans;
	__u64 delivery_rate; /* bytes/s at close: rate_delivered / rate_interval_us */
	__u64 srtt_sum_us; /* with srtt_n: the average of the sampled srtt */
	__u32 srtt_n;
	__u32 srtt_us, mdev_us, srtt_min_us, srtt_max_us; /* at close; min/max sampled */
	__u32 snd_cwnd;
	__u32 segs_out, segs_in;
	__u32 total_retrans; /* segments retransmitted (tcp_sock) */
	__u32 retrans_events; /* tcp:tcp_retransmit_skb calls seen */
	__s32 sk_err; /* errno the socket ended with (ECONNREFUSED, ETIMEDOUT, ...) */
	__u8 last_state; /* TCP state before TCP_CLOSE */
	__u8 closer; /* enum sonde_tcp_closer */
	__u8 rst; /* enum sonde_tcp_rst bits */
	__u8 have; /* enum sonde_tcp_have bits */
	__u8 opener; /* enum sonde_event_role: the local socket connected or accepted */
	__u8 pad[3];
	/* a listener's child: SYN-ACK sent to the handshake's ACK (the kernel's
	 * first srtt sample, tcp_synack_rtt_meas); 0 when not measured (the
	 * SYN-ACK was retransmitted, a SYN cookie) */
	__u32 synack_rtt_us;
	__u32 rcv_ooopack; /* the peer's segments queued out of order here (5.4+) */
	__u32 listen_backlog; /* SONDE_TCP_HAVE_LISTEN_DROP: the listener's backlog (sk_max_ack_backlog) */
};

/* Per socket while it lives (map tcp_life, key: the kernel socket). */
struct sonde_tcp_life {
	__u64 ts_syn, ts_established;
	__u64 cgroup_id;
	__u32 tgid;
	__u32 retrans_events;
	char comm[SONDE_COMM_LEN];
	__u8 opener; /* enum sonde_event_role */
	__u8 closer; /* enum sonde_tcp_closer */
	__u8 rst; /* enum sonde_tcp_rst bits */
	__u8 wanted; /* the connecting process passed the filters */
	__u8 pad[2];
	__u16 lport; /* at SYN_SENT: a failed connect's port is released before its close */
	__u32 synack_rtt_us; /* as in sonde_tcp_info, taken at ESTABLISHED */
	__u32 pad2;
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
	X(TARGET_SKIPPED, ebpf_target_skipped_calls) /* calls of processes no --target selects (not followed) */ \
	X(TCP_RETRANS, tcp_retransmit_events) /* tcp:tcp_retransmit_skb on sockets sonde follows */ \
	X(TCP_RST_SENT, tcp_resets_sent) /* resets sent by those sockets */ \
	X(TCP_RST_RECEIVED, tcp_resets_received) /* resets they received */ \
	X(TCP_FAILED, tcp_failed_connects) /* connects that never reached ESTABLISHED */ \
	X(TCP_LISTEN_OVERFLOW, tcp_listen_overflows) /* SYNs dropped: the listener's accept queue was full */ \
	X(TCP_LIFE_FULL, tcp_untracked_sockets) /* sockets whose lifecycle was not kept: tcp_life map full */ \
	X(PEER_COPY_BYTES, ebpf_peer_copy_bytes) /* bytes of a connection's second local end, not copied */

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
