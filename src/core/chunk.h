/* SPDX-License-Identifier: MIT */
/*
 * The chunk: the one interface between capture sources and the rest of the
 * pipeline. Every source (pcap files, AF_PACKET, eBPF syscall hooks, TLS
 * uprobes) turns what it sees into chunks; nothing downstream knows which
 * source produced one except through `origin`.
 *
 * A chunk is a run of bytes of one direction of one connection, placed at an
 * exact position of that direction's byte stream so the connection table can
 * reorder, de-duplicate and find holes. `caplen` bytes are present in `data`;
 * the wire really carried `wirelen` (>= caplen): the difference is a gap of
 * known size that the source could not copy (snaplen, per-event limits).
 */
#ifndef SONDE_CHUNK_H
#define SONDE_CHUNK_H

#include <stdbool.h>
#include <stdint.h>

enum sonde_l4 {
	SONDE_L4_TCP = 6,
	SONDE_L4_UDP = 17,
};

struct sonde_endpoint {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	uint16_t port; /* host byte order */
};

/* Bytes travel from src to dst. */
struct sonde_flow {
	struct sonde_endpoint src, dst;
	uint8_t l4; /* enum sonde_l4 */
};

/* How a chunk's `seq` is to be read. */
enum sonde_seq_kind {
	SONDE_SEQ_TCP32 = 0, /* a TCP sequence number: 32 bits, wraps */
	SONDE_SEQ_STREAM64 = 1, /* an absolute offset from the stream's start */
};

/* TCP-style control flags; eBPF sources synthesize them for connect/close. */
enum sonde_chunk_flags {
	SONDE_CF_FIN = 0x01,
	SONDE_CF_SYN = 0x02,
	SONDE_CF_RST = 0x04,
	SONDE_CF_ACK = 0x10,
	/* The source lost bytes before this chunk (ring buffer full): any hole
	 * before it will never fill. */
	SONDE_CF_LOSS_BEFORE = 0x80,
};

/* The process behind a chunk, for sources that know it (eBPF). */
struct sonde_process {
	uint32_t pid;
	uint32_t tid; /* the thread whose call the connection was first seen in; 0: unknown */
	uint64_t cgroup_id;
	char comm[16];
};

/* What the source knows of who opened the connection. */
enum sonde_role_hint {
	SONDE_ROLE_UNKNOWN = 0,
	SONDE_ROLE_SRC_IS_CLIENT = 1,
	SONDE_ROLE_SRC_IS_SERVER = 2,
};

/* How the bytes were captured; names are in sonde_origin_name(). */
enum sonde_origin {
	SONDE_ORIGIN_PCAP_FILE = 0,
	SONDE_ORIGIN_AF_PACKET,
	SONDE_ORIGIN_EBPF_TRACEPOINT,
	SONDE_ORIGIN_EBPF_KPROBE,
	SONDE_ORIGIN_EBPF_FENTRY,
	SONDE_ORIGIN_EBPF_TLS, /* a TLS library sonde could not name */
	SONDE_ORIGIN_EBPF_TLS_OPENSSL,
	SONDE_ORIGIN_EBPF_TLS_BORINGSSL,
	SONDE_ORIGIN_EBPF_TLS_GNUTLS,
	SONDE_ORIGIN_EBPF_TLS_GO,
	SONDE_ORIGIN_LIBPCAP,
	SONDE_ORIGIN_TC, /* eBPF on the interfaces' traffic-control hooks */
	SONDE_ORIGIN_CGROUP_SKB, /* eBPF on a cgroup's ingress and egress */
	SONDE_ORIGIN_AF_XDP, /* an XSK socket fed by XDP */
	SONDE_ORIGIN__COUNT,
};

/* The TLS library whose plaintext a chunk is (records' capture.tls). */
struct sonde_tls_info {
	char library[16]; /* "openssl", "boringssl", "gnutls" */
	char version[96]; /* the library's own version string */
	char path[256]; /* the file, as the process sees it */
};

struct sonde_tcp_facts;
struct sonde_frame;

struct sonde_chunk {
	struct sonde_flow flow;
	uint64_t ts_ns; /* wall clock, ns since the epoch */
	uint64_t seq; /* stream position of data[0], see seq_kind */
	uint32_t ack; /* TCP ack of the reverse direction, if flags has ACK */
	uint32_t caplen; /* bytes present in data */
	uint32_t wirelen; /* bytes the wire carried; >= caplen */
	uint8_t seq_kind; /* enum sonde_seq_kind */
	uint8_t flags; /* enum sonde_chunk_flags */
	uint8_t role; /* enum sonde_role_hint */
	uint8_t origin; /* enum sonde_origin */
	/*
	 * Source-provided connection identity, for sources where the 4-tuple is
	 * not enough (eBPF: process start time, fd and generation). 0 means the
	 * flow alone identifies the connection.
	 */
	uint64_t conn_id;
	const struct sonde_process *proc; /* NULL for packet sources */
	const struct sonde_tls_info *tls; /* TLS plaintext: the library; else NULL */
	/* Where the chunk was captured, for records' capture.source, when the
	 * source has several places (--all-netns); NULL: the run's one name.
	 * The connection keeps a copy. */
	const char *source;
	const uint8_t *data;
	/* TCP health (conn/tcphealth.h), for sources that know it: the
	 * sender's smoothed RTT and retransmitted segments when the chunk was
	 * sent or received (srtt_us 0: not known), and, on the chunk that ends
	 * a connection or reports a failed attempt, what the source knew of
	 * it (NULL: nothing). */
	uint32_t tcp_srtt_us, tcp_retrans;
	uint16_t tcp_window; /* packet sources: the segment's window field, unscaled */
	const struct sonde_tcp_facts *tcp;
	/* With tcp, when both ends are sockets of this host (eBPF): the other
	 * local end's facts, its directions relative to itself (the chunk's
	 * flow destination); NULL: one end's only. */
	const struct sonde_tcp_facts *tcp_peer;
	/* eBPF, both ends of the connection traced sockets of this host: on a
	 * chunk of no bytes and no flags, the other local end's process, and
	 * whether it is the server (the chunk's flow is the connection's). */
	const struct sonde_process *peer_proc;
	bool peer_is_server;
	/* Packet sources: the frame the chunk was decoded from, valid while
	 * the chunk is (-w with several sources records it only once the
	 * arbiter gave the connection to this source); NULL otherwise. */
	const struct sonde_frame *frame;
};

const char *sonde_origin_name(enum sonde_origin o);
/* Whole packets (a file, a packet source), not a stream of a socket. */
bool sonde_origin_is_packet(enum sonde_origin o);

#endif
