/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TCP health beside the bytes: each socket's lifecycle (sock:inet_sock_set_state:
 * SYN → ESTABLISHED → who sent FIN first → CLOSE), its resets and
 * retransmissions (tcp:tcp_send_reset, tcp_receive_reset, tcp_retransmit_skb),
 * its srtt sampled at every data event, and struct tcp_sock read at close
 * (CO-RE). The close event of a followed socket carries it all
 * (struct sonde_tcp_info); a connect that never got established on a
 * socket sonde did not follow (blocking connect refused, timed out,
 * unreachable) gets an event of its own.
 *
 * Everything here is optional: user space switches it off with
 * tcp_health_on, and each tcp: tracepoint loads only where the kernel has it.
 */
#ifndef SONDE_BPF_HOOKS_TCP_HEALTH_H
#define SONDE_BPF_HOOKS_TCP_HEALTH_H

#include "lib/emit.h"
#include "lib/filter.h"
#include "lib/maps.h"
#include "lib/tcp.h"

/* Sockets from their first SYN to their close; LRU: a close never seen ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sonde_tcp_life);
} tcp_life SEC(".maps");

/* The tcp: tracepoints' records as the kernel lays them out (stable since
 * 4.16: skbaddr then skaddr, or skaddr alone, after the common header).
 * Plain structs, not CO-RE ones: their type names changed across kernels
 * (tcp_event_sk_skb, tcp_retransmit_skb, tcp_send_reset). */
struct tcp_tp_sk_skb {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
};

struct tcp_tp_sk {
	__u64 common;
	const void *skaddr;
};

/* A new life at SYN_SENT (in connect(), the caller's context: its process)
 * or SYN_RECV (a child of a listener, in softirq: no process). */
static __always_inline void life_start(__u64 sk, __u8 opener, __u16 lport)
{
	struct sonde_tcp_life l = { .ts_syn = bpf_ktime_get_ns(), .opener = opener, .lport = lport };
	if (opener == SONDE_EV_ROLE_CLIENT) {
		__u64 pid_tgid = bpf_get_current_pid_tgid();
		l.tgid = pid_tgid >> 32;
		l.cgroup_id = bpf_get_current_cgroup_id();
		bpf_get_current_comm(l.comm, sizeof(l.comm));
		l.wanted = process_wanted() && port_wanted((struct sock *)sk);
	}
	if (bpf_map_update_elem(&tcp_life, &sk, &l, BPF_ANY))
		count(SONDE_CNT_TCP_LIFE_FULL, 1);
}

/* Every state change of a TCP socket: the life's milestones. */
static __always_inline void tcp_life_state(__u64 sk, int oldstate, int newstate, __u16 sport)
{
	if (newstate == TCP_SYN_SENT) {
		life_start(sk, SONDE_EV_ROLE_CLIENT, sport);
		return;
	}
	if (newstate == TCP_SYN_RECV && oldstate != TCP_SYN_SENT) {
		life_start(sk, SONDE_EV_ROLE_SERVER, sport);
		return;
	}
	struct sonde_tcp_life *l = bpf_map_lookup_elem(&tcp_life, &sk);
	if (!l)
		return;
	if (sport)
		l->lport = sport; /* 0 at SYN_SENT: connect() picks the port after */
	if (newstate == TCP_ESTABLISHED && !l->ts_established) {
		l->ts_established = bpf_ktime_get_ns();
		/* a listener's child: the SYN-ACK's round trip became the first
		 * srtt sample just before this change; later samples overwrite it */
		if (l->opener == SONDE_EV_ROLE_SERVER)
			l->synack_rtt_us = BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3;
	} else if (!l->closer && newstate == TCP_FIN_WAIT1)
		l->closer = SONDE_TCP_CLOSER_LOCAL;
	else if (!l->closer && newstate == TCP_CLOSE_WAIT)
		l->closer = SONDE_TCP_CLOSER_REMOTE;
}

/* struct tcp_sock at close, into info (the life's fields are the caller's). */
static __always_inline void tcp_read_sock(__u64 skp, struct sonde_tcp_info *in)
{
	struct tcp_sock *tp = (struct tcp_sock *)skp;
	in->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	in->mdev_us = BPF_CORE_READ(tp, mdev_us) >> 2;
	in->snd_cwnd = BPF_CORE_READ(tp, snd_cwnd);
	in->total_retrans = BPF_CORE_READ(tp, total_retrans);
	in->segs_out = BPF_CORE_READ(tp, segs_out);
	in->segs_in = BPF_CORE_READ(tp, segs_in);
	in->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
	in->bytes_received = BPF_CORE_READ(tp, bytes_received);
	in->sk_err = BPF_CORE_READ(&tp->inet_conn.icsk_inet.sk, sk_err);
	__u32 delivered = BPF_CORE_READ(tp, rate_delivered);
	__u32 interval = BPF_CORE_READ(tp, rate_interval_us);
	if (interval)
		in->delivery_rate = (__u64)delivered * BPF_CORE_READ(tp, mss_cache) * 1000000ull /
				    interval;
	in->have |= SONDE_TCP_HAVE_SOCK;
	if (bpf_core_field_exists(tp->rcv_ooopack)) {
		in->rcv_ooopack = BPF_CORE_READ(tp, rcv_ooopack);
		in->have |= SONDE_TCP_HAVE_OOO;
	}
	if (bpf_core_field_exists(tp->bytes_sent)) {
		in->bytes_sent = BPF_CORE_READ(tp, bytes_sent);
		in->bytes_retrans = BPF_CORE_READ(tp, bytes_retrans);
		in->have |= SONDE_TCP_HAVE_BYTES_SENT;
	}
}

/* The info of socket sk at its close, into buffer `in`; l may be NULL. */
static __always_inline void tcp_info_fill(__u64 sk, struct sonde_tcp_life *l,
					  struct sonde_sock_state *st, int oldstate,
					  struct sonde_tcp_info *in)
{
	__builtin_memset(in, 0, sizeof(*in));
	in->last_state = (__u8)oldstate;
	if (l) {
		in->ts_syn = l->ts_syn;
		in->ts_established = l->ts_established;
		in->closer = l->closer;
		in->rst = l->rst;
		in->opener = l->opener;
		in->synack_rtt_us = l->synack_rtt_us;
		in->retrans_events = l->retrans_events;
		in->have |= SONDE_TCP_HAVE_LIFE | SONDE_TCP_HAVE_RETRANS_TP | SONDE_TCP_HAVE_RESET_TP;
	}
	if (st) {
		in->srtt_min_us = st->srtt_min_us;
		in->srtt_max_us = st->srtt_max_us;
		in->srtt_sum_us = st->srtt_sum_us;
		in->srtt_n = st->srtt_n;
	}
	tcp_read_sock(sk, in);
}

/* A close event of a followed socket with its info after the header. */
static __always_inline void emit_close_info(__u64 sk, struct sonde_sock_state *st, int oldstate,
					    __u16 sport)
{
	struct scratch *s = scratch_get();
	if (!s)
		return;
	struct sonde_tcp_life *l = bpf_map_lookup_elem(&tcp_life, &sk);
	fill_header(&s->ev, sk, st, SONDE_EV_CLOSE, SONDE_EV_TX);
	/* the kernel released the port just before this state change: the
	 * tracepoint's copy names the connection */
	s->ev.lport = sport;
	s->ev.flags |= SONDE_EVF_TCP_INFO;
	s->ev.pos = st->tx;
	s->ev.rx_pos = st->rx;
	s->ev.len = 0;
	s->ev.cap = 0;
	struct sonde_tcp_info *in = (struct sonde_tcp_info *)s->data;
	tcp_info_fill(sk, l, st, oldstate, in);
	if (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)
		count(SONDE_CNT_TCP_FAILED, 1);
	if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + sizeof(*in), BPF_RB_FORCE_WAKEUP))
		count(SONDE_CNT_RB_DROPS, 1);
	else
		count(SONDE_CNT_EVENTS, 1);
}

/* A connect sonde never followed (no socks entry) ended before ESTABLISHED:
 * its own event, in the name of the process that called connect. */
static __always_inline void emit_failed_connect(__u64 sk, int oldstate, __u16 sport)
{
	struct sonde_tcp_life *l = bpf_map_lookup_elem(&tcp_life, &sk);
	if (!l || !l->wanted || l->opener != SONDE_EV_ROLE_CLIENT || oldstate != TCP_SYN_SENT)
		return;
	struct scratch *s = scratch_get();
	if (!s)
		return;
	struct sonde_sock_state none = { .id = new_id(), .role = SONDE_EV_ROLE_CLIENT };
	fill_header(&s->ev, sk, &none, SONDE_EV_TCP_FAILED, SONDE_EV_TX);
	/* softirq context (an RST, a timer): the header's process is whoever
	 * ran; the connect's caller is in the life */
	s->ev.tgid = l->tgid;
	s->ev.tid = l->tgid;
	s->ev.cgroup_id = l->cgroup_id;
	__builtin_memcpy(s->ev.comm, l->comm, sizeof(s->ev.comm));
	s->ev.lport = sport ? sport : l->lport; /* released before this state change */
	s->ev.flags |= SONDE_EVF_TCP_INFO;
	s->ev.pos = s->ev.rx_pos = 0;
	s->ev.len = s->ev.cap = 0;
	struct sonde_tcp_info *in = (struct sonde_tcp_info *)s->data;
	tcp_info_fill(sk, l, NULL, oldstate, in);
	count(SONDE_CNT_TCP_FAILED, 1);
	if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + sizeof(*in), BPF_RB_FORCE_WAKEUP))
		count(SONDE_CNT_RB_DROPS, 1);
	else
		count(SONDE_CNT_EVENTS, 1);
}

SEC("?tracepoint/tcp/tcp_retransmit_skb")
int tp_tcp_retransmit(struct tcp_tp_sk_skb *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	struct sonde_tcp_life *l = bpf_map_lookup_elem(&tcp_life, &sk);
	if (!l || !bpf_map_lookup_elem(&socks, &sk))
		return 0;
	l->retrans_events++;
	count(SONDE_CNT_TCP_RETRANS, 1);
	return 0;
}

static __always_inline int tcp_reset_seen(__u64 sk, __u8 bit, __u32 counter)
{
	struct sonde_tcp_life *l = bpf_map_lookup_elem(&tcp_life, &sk);
	if (!l)
		return 0;
	l->rst |= bit;
	if (bpf_map_lookup_elem(&socks, &sk) || l->wanted)
		count(counter, 1);
	return 0;
}

SEC("?tracepoint/tcp/tcp_send_reset")
int tp_tcp_send_reset(struct tcp_tp_sk_skb *ctx)
{
	/* sk is NULL for a reset answering a packet of no socket */
	return tcp_reset_seen((__u64)ctx->skaddr, SONDE_TCP_RST_SENT, SONDE_CNT_TCP_RST_SENT);
}

SEC("?tracepoint/tcp/tcp_receive_reset")
int tp_tcp_receive_reset(struct tcp_tp_sk *ctx)
{
	return tcp_reset_seen((__u64)ctx->skaddr, SONDE_TCP_RST_RECEIVED, SONDE_CNT_TCP_RST_RECEIVED);
}

/* The SYN's addresses into ev: its source is the remote end, its
 * destination the listener's (the skb's headers, as the kernel parsed them). */
static __always_inline bool syn_addrs(struct sk_buff *skb, struct sonde_event *ev)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u8 vihl = 0;
	if (bpf_probe_read_kernel(&vihl, 1, head + nh))
		return false;
	__builtin_memset(ev->laddr, 0, 16);
	__builtin_memset(ev->raddr, 0, 16);
	if (vihl >> 4 == 4) {
		struct iphdr ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return false;
		ev->family = AF_INET;
		__builtin_memcpy(ev->raddr, &ip.saddr, 4);
		__builtin_memcpy(ev->laddr, &ip.daddr, 4);
	} else if (vihl >> 4 == 6) {
		struct ipv6hdr ip6;
		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return false;
		ev->family = AF_INET6;
		__builtin_memcpy(ev->raddr, &ip6.saddr, 16);
		__builtin_memcpy(ev->laddr, &ip6.daddr, 16);
	} else {
		return false;
	}
	struct tcphdr tcp;
	if (bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th))
		return false;
	ev->rport = bpf_ntohs(tcp.source);
	ev->lport = bpf_ntohs(tcp.dest);
	return true;
}

/* Only a port filter can be asked of a listener's drop: it runs in
 * softirq, so no process (nor its target) is known. */
static __always_inline bool listen_drop_wanted(__u16 lport)
{
	if (n_tgids || n_comms || targ_cgroup || targets_on)
		return false;
	if (!n_ports)
		return true;
	for (__u32 i = 0; i < SONDE_FILTER_MAX && i < n_ports; i++)
		if (lport == targ_ports[i])
			return true;
	return false;
}

/*
 * A SYN to a listener whose accept queue is full (sk_acceptq_is_full):
 * tcp_conn_request drops it, counting LINUX_MIB_LISTENOVERFLOWS, with no
 * tracepoint or drop reason (the skb is consumed). The attempt becomes a
 * failed-connect event of the listener's, the client's address from the SYN.
 */
SEC("?kprobe/tcp_conn_request")
int BPF_KPROBE(kp_tcp_conn_request, void *rsk_ops, void *af_ops, struct sock *sk,
	       struct sk_buff *skb)
{
	if (!tcp_health_on)
		return 0;
	__u32 backlog = BPF_CORE_READ(sk, sk_ack_backlog);
	__u32 max = BPF_CORE_READ(sk, sk_max_ack_backlog);
	if (backlog <= max)
		return 0;
	if (!listen_drop_wanted(BPF_CORE_READ(sk, __sk_common.skc_num)))
		return 0;
	count(SONDE_CNT_TCP_LISTEN_OVERFLOW, 1);
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct sonde_sock_state none = { .id = new_id(), .role = SONDE_EV_ROLE_SERVER };
	fill_header(&s->ev, (__u64)sk, &none, SONDE_EV_TCP_FAILED, SONDE_EV_RX);
	if (!syn_addrs(skb, &s->ev))
		return 0;
	/* whoever the softirq interrupted is not the listener's owner */
	s->ev.tgid = s->ev.tid = 0;
	s->ev.cgroup_id = 0;
	__builtin_memset(s->ev.comm, 0, sizeof(s->ev.comm));
	s->ev.flags |= SONDE_EVF_TCP_INFO;
	s->ev.pos = s->ev.rx_pos = 0;
	s->ev.len = s->ev.cap = 0;
	struct sonde_tcp_info *in = (struct sonde_tcp_info *)s->data;
	__builtin_memset(in, 0, sizeof(*in));
	in->ts_syn = s->ev.ts_ns;
	in->last_state = TCP_SYN_RECV;
	in->opener = SONDE_EV_ROLE_SERVER;
	in->have = SONDE_TCP_HAVE_LISTEN_DROP;
	in->listen_backlog = max;
	if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + sizeof(*in), BPF_RB_FORCE_WAKEUP))
		count(SONDE_CNT_RB_DROPS, 1);
	else
		count(SONDE_CNT_EVENTS, 1);
	return 0;
}

#endif
