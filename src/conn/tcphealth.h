/* SPDX-License-Identifier: MIT */
/*
 * TCP health of a connection, beside its exchanges: how it opened and
 * closed (or failed to open), its handshake time, bytes, segments,
 * retransmissions and RTT, from whichever source knew them — the eBPF
 * source's kernel view of the local socket (struct sonde_tcp_facts handed
 * over on the close chunk), or the packets themselves, analysed here the
 * way Wireshark's TCP analysis does (tcp.analysis.retransmission,
 * ack_rtt, initial_rtt).
 *
 * The connection table owns one struct sonde_tcp_health per TCP
 * connection (conn_info.tcp). It keeps a short history of (time, srtt,
 * retransmissions) samples so an exchange can say the RTT at its request
 * and the retransmissions during it, and it writes the connection's
 * record (type "connection") at its end when asked to (--connections).
 */
#ifndef SONDE_TCPHEALTH_H
#define SONDE_TCPHEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/chunk.h"
#include "core/record.h"

/* Where a health fact came from (records' tcp.source). */
enum sonde_tcp_source {
	SONDE_TCP_SRC_NONE = 0,
	SONDE_TCP_SRC_KERNEL, /* eBPF: the local socket's tcp_sock and tracepoints */
	SONDE_TCP_SRC_PACKETS, /* estimated from the captured segments */
};

/* How a connection ended, or why it never opened. */
enum sonde_tcp_outcome {
	SONDE_TCP_OPEN = 0, /* not ended yet (end of input, idle timeout, eviction) */
	SONDE_TCP_CLOSED, /* FIN both ways */
	SONDE_TCP_RESET, /* an RST after ESTABLISHED */
	SONDE_TCP_REFUSED, /* SYN answered by RST (ECONNREFUSED) */
	SONDE_TCP_TIMEOUT, /* SYN never answered (ETIMEDOUT) */
	SONDE_TCP_UNREACHABLE, /* an ICMP error ended the attempt (EHOSTUNREACH...) */
	SONDE_TCP_ABORTED, /* the caller gave up before ESTABLISHED (closed the socket) */
	SONDE_TCP_LISTEN_OVERFLOW, /* the listener dropped the SYN: its accept queue was full */
};

enum sonde_tcp_side {
	SONDE_TCP_SIDE_UNKNOWN = 0,
	SONDE_TCP_SIDE_CLIENT,
	SONDE_TCP_SIDE_SERVER,
};

/* Bits of sonde_tcp_facts.have: which groups of fields are known. */
enum sonde_tcp_facts_have {
	SONDE_TCPF_HANDSHAKE = 1u << 0,
	SONDE_TCPF_BYTES = 1u << 1, /* bytes[] */
	SONDE_TCPF_SEGS = 1u << 2, /* segs[] */
	SONDE_TCPF_RETRANS0 = 1u << 3, /* retrans_segs[0], retrans_bytes[0] */
	SONDE_TCPF_RETRANS1 = 1u << 4, /* retrans_segs[1], retrans_bytes[1] */
	SONDE_TCPF_RTT = 1u << 5, /* srtt_us, rttvar_us */
	SONDE_TCPF_RTT_RANGE = 1u << 6, /* srtt min/avg/max */
	SONDE_TCPF_CWND = 1u << 7, /* cwnd, delivery_rate (the reporting end's) */
	SONDE_TCPF_CLOSE = 1u << 8, /* outcome, closed_by, reset_by */
	SONDE_TCPF_ERR = 1u << 9,
	SONDE_TCPF_OOO0 = 1u << 10, /* ooo_segs[0] */
	SONDE_TCPF_SERVER_HANDSHAKE = 1u << 11, /* server_handshake_ns */
	SONDE_TCPF_OOO1 = 1u << 12, /* ooo_segs[1] */
	SONDE_TCPF_BACKLOG = 1u << 13, /* listen_backlog */
	SONDE_TCPF_OOO = SONDE_TCPF_OOO0 | SONDE_TCPF_OOO1,
};

/*
 * What a source knows of a connection when it ends, its directions
 * relative to the chunk carrying it: index 0 is sent by that chunk's flow
 * source. Sides (client/server) are the connection table's to decide.
 */
struct sonde_tcp_facts {
	uint8_t source; /* enum sonde_tcp_source */
	uint8_t outcome; /* enum sonde_tcp_outcome */
	uint8_t closed_by, reset_by; /* 0: unknown; 1: the chunk's source; 2: its peer */
	uint32_t have; /* enum sonde_tcp_facts_have */
	int err; /* errno the attempt or connection ended with; 0: none */
	uint64_t handshake_ns; /* SYN to ESTABLISHED as the connecting end saw it */
	uint64_t server_handshake_ns; /* SYN-ACK sent to its ACK, as the listener saw it */
	uint64_t bytes[2], segs[2];
	uint64_t retrans_segs[2], retrans_bytes[2]; /* retransmitted by each sender */
	/* segments of each sender that arrived out of order. Packets:
	 * below the newest sent within one initial RTT of it (Wireshark's
	 * tcp.analysis.out_of_order, mostly retransmissions in a burst when
	 * the capture is at the sender). Kernel: the peer's only, the
	 * receiver's tcp_sock.rcv_ooopack (5.4+): segments queued out of
	 * order, each a hole the peer's retransmission (or a reordering) filled */
	uint64_t ooo_segs[2];
	uint32_t srtt_us, rttvar_us; /* at the end */
	uint8_t rtt_side; /* 1: whose estimate srtt is (the chunk's source); 2: its peer; 0: the connection's */
	uint32_t srtt_min_us, srtt_avg_us, srtt_max_us;
	uint8_t cwnd_side; /* as rtt_side, for cwnd and delivery_rate */
	uint32_t cwnd; /* segments */
	uint64_t delivery_rate; /* bytes/s */
	uint32_t listen_backlog; /* a listen overflow: the listener's backlog */
};

/* The Wireshark-style analysis of one direction's segments. */
struct sonde_tcp_dir {
	bool started; /* nextseq known */
	uint32_t nextseq; /* highest sequence number sent + 1 */
	uint32_t lastack; /* the last ACK this direction sent */
	uint64_t lastack_ts;
	uint16_t window; /* with it, so a repeated ACK is told from a window update */
	bool ack_known;
	uint32_t dupacks; /* ACKs in a row repeating lastack */
	uint64_t last_ts; /* the segment that last raised nextseq */
	bool last_keepalive; /* the last segment was a keep-alive: its answer is no duplicate ACK */
	/* RTT: one segment timed at a time (Karn: never a retransmitted one) */
	bool timing;
	uint32_t timed_end;
	uint64_t timed_ts;
	uint32_t srtt_us, rttvar_us, rtt_min_us, rtt_max_us, rtt_n;
	uint64_t rtt_sum_us;
	uint64_t segs, bytes, retrans_segs, retrans_bytes, ooo_segs;
	bool fin, rst;
};

#define SONDE_TCP_SAMPLES 32

struct sonde_tcp_sample {
	uint64_t ts;
	uint32_t srtt_us;
	uint32_t retrans;
};

struct sonde_tcp_health {
	struct sonde_tcp_facts f; /* client-oriented: [0] client→server */
	/* Both ends are sockets of this host (loopback, two local namespaces):
	 * the other local end's own facts, its directions relative to itself,
	 * merged into f where f had none; peer_side says which end it is
	 * (SONDE_TCP_SIDE_UNKNOWN: only one end's facts). */
	struct sonde_tcp_facts peer;
	uint8_t peer_side;
	uint8_t sample_source; /* enum sonde_tcp_source of the samples */
	bool ended; /* the connection is being closed: records say reset */
	bool closed; /* after both FINs: segments still count, change no outcome */
	uint32_t exchanges; /* records written on the connection */
	uint64_t ts_first; /* the connection's first sight */
	/* the packet analysis (packet sources); d[0]: client→server */
	struct sonde_tcp_dir d[2];
	uint64_t ts_syn, ts_synack, ts_ack; /* 0: not seen */
	uint64_t ts_mru_syn; /* the newest SYN */
	uint64_t first_rtt_ns; /* newest SYN to the first ACK after it (0: not yet) */
	int8_t first_fin, first_rst; /* 0 client, 1 server, -1 none yet */
	bool syn_answered; /* SYN/ACK seen */
	/* samples, oldest overwritten */
	struct sonde_tcp_sample ring[SONDE_TCP_SAMPLES];
	unsigned nring, head;
};

/* The exchange-level view (JSON tcp{} of an exchange). */
struct sonde_tcp_exchange {
	bool srtt_known, retrans_known;
	uint32_t srtt_us; /* at the request */
	uint32_t retrans; /* retransmitted segments from the request to the response's end */
	uint8_t source;
};

void sonde_tcp_health_init(struct sonde_tcp_health *h, uint64_t ts);
/* A sample of the kernel's view (eBPF data events). */
void sonde_tcp_health_sample(struct sonde_tcp_health *h, uint64_t ts, uint32_t srtt_us,
			     uint32_t retrans, uint8_t source);
/* A source's facts at the end; src_is_client: the carrying chunk's source is
 * the client. */
void sonde_tcp_health_facts(struct sonde_tcp_health *h, const struct sonde_tcp_facts *f,
			    bool src_is_client);
/* The other local end's facts, at the end (after sonde_tcp_health_facts
 * of the first): its retransmissions, out-of-order count and handshake
 * half join f, who closed or reset it where f did not know; its RTT and
 * congestion window are kept as its own view (h->peer). */
void sonde_tcp_health_peer(struct sonde_tcp_health *h, const struct sonde_tcp_facts *f,
			   bool peer_is_client);
/* One TCP segment of a packet source; from_client: sent by the client
 * (or, roles unknown, the first sender). */
void sonde_tcp_health_segment(struct sonde_tcp_health *h, const struct sonde_chunk *ch,
			      bool from_client);
/* The roles turned out the other way round from what the segments so far
 * were taken as (a connection met mid-stream): each direction's analysis
 * goes to the other side. */
void sonde_tcp_health_swap(struct sonde_tcp_health *h);
/* The facts the packets gave, merged into h->f where no kernel fact is. */
void sonde_tcp_health_finish(struct sonde_tcp_health *h);
/* The view of an exchange from req_ts to end_ts; false when nothing is known. */
bool sonde_tcp_health_exchange(const struct sonde_tcp_health *h, uint64_t req_ts, uint64_t end_ts,
			       struct sonde_tcp_exchange *out);
/* Whether exchanges on it are worth a mark: retransmissions, a reset. */
bool sonde_tcp_health_troubled(const struct sonde_tcp_health *h,
			       const struct sonde_tcp_exchange *x);

/* Name of an outcome, a side ("client"/"server"), a source. */
const char *sonde_tcp_outcome_name(enum sonde_tcp_outcome o);
const char *sonde_tcp_side_name(enum sonde_tcp_side s);
const char *sonde_tcp_source_name(enum sonde_tcp_source s);

/* The exchange's tcp{} members (exchange records), through the visitor. */
void sonde_tcp_exchange_fields(const struct sonde_record *r, const struct sonde_field_ops *v,
			       void *ctx);

/* Exchange records: whether to mark the text line (retransmissions during
 * it, a reset), with the view in *x; and which side reset the connection
 * the record was written at the end of (NULL: not a reset). */
bool sonde_tcp_record_troubled(const struct sonde_record *r, struct sonde_tcp_exchange *x);
const char *sonde_tcp_record_reset_by(const struct sonde_record *r);

/* Write the connection's record (type "connection", conn/tcp_record.c) to
 * out; app_protocol: the dissector's name, or NULL. */
void sonde_tcp_connection_record(const struct sonde_conn_info *c, const char *app_protocol,
				 uint64_t ts, const struct sonde_record_out *out);

#endif
