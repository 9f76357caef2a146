/* SPDX-License-Identifier: MIT */
/*
 * TCP health from the kernel (bpf/hooks/tcp_health.h): which of the tcp:
 * tracepoints load on this kernel, the close events' struct sonde_tcp_info
 * as facts for the connection table (conn/tcphealth.h), and failed connects
 * of sockets sonde never followed as a connection of their own (a SYN, then
 * the reset or timeout that ended it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "capture.skel.h"
#include "conn/tcphealth.h"
#include "source/ebpf/ebpf_priv.h"

/* TCP states of the kernel (include/net/tcp_states.h). */
enum { K_TCP_ESTABLISHED = 1, K_TCP_SYN_SENT = 2, K_TCP_SYN_RECV = 3 };

/* Whether the kernel has function name to kprobe (a text symbol in kallsyms). */
static bool kfunc_exists(const char *name)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	if (!f)
		return false;
	char line[256];
	size_t n = strlen(name);
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* "ADDR T name [module]" */
		const char *p = strchr(line, ' ');
		if (!p || (p[1] != 'T' && p[1] != 't') || p[2] != ' ')
			continue;
		p += 3;
		found = !strncmp(p, name, n) && (p[n] == '\n' || p[n] == ' ' || p[n] == '\t');
	}
	fclose(f);
	return found;
}

/* Whether tracefs lists tcp:name (sonde mounted tracefs if it was missing). */
static bool tracepoint_exists(const char *name)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	for (size_t i = 0; i < sizeof(roots) / sizeof(*roots); i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/events/tcp/%s", roots[i], name);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

void ebpf_tcp_choose(struct sonde_capture *skel, const struct sonde_ebpf_opts *o,
		     struct sonde_stats *st)
{
	struct {
		struct bpf_program *prog;
		const char *tp;
	} tps[] = {
		{ skel->progs.tp_tcp_retransmit, "tcp_retransmit_skb" },
		{ skel->progs.tp_tcp_send_reset, "tcp_send_reset" },
		{ skel->progs.tp_tcp_receive_reset, "tcp_receive_reset" },
	};
	skel->rodata->tcp_health_on = !o->no_tcp_health;
	st->tcp_tracepoints_missing = 0;
	for (size_t i = 0; i < sizeof(tps) / sizeof(*tps); i++) {
		bool on = !o->no_tcp_health && tracepoint_exists(tps[i].tp);
		if (!o->no_tcp_health && !on) {
			st->tcp_tracepoints_missing++;
			if (o->verbose)
				fprintf(stderr, "sonde: tcp:%s missing: TCP health without it\n",
					tps[i].tp);
		}
		bpf_program__set_autoload(tps[i].prog, on);
	}
	/* the SYNs a full accept queue drops leave no tracepoint: a kprobe on
	 * the function that drops them */
	bool listen =
		!o->no_tcp_health && ebpf_kprobes_available() && kfunc_exists("tcp_conn_request");
	if (!o->no_tcp_health && !listen) {
		st->tcp_tracepoints_missing++;
		if (o->verbose)
			fprintf(stderr,
				"sonde: no kprobe on tcp_conn_request: no listen overflows\n");
	}
	bpf_program__set_autoload(skel->progs.kp_tcp_conn_request, listen);
}

/* The outcome of a socket that never reached ESTABLISHED, from its error. */
static uint8_t failed_outcome(int err)
{
	switch (err) {
	case ECONNREFUSED: return SONDE_TCP_REFUSED;
	case ETIMEDOUT: return SONDE_TCP_TIMEOUT;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN: return SONDE_TCP_UNREACHABLE;
	default: return SONDE_TCP_ABORTED;
	}
}

static void close_facts(const struct sonde_tcp_info *in, struct sonde_tcp_facts *f)
{
	if (in->have & SONDE_TCP_HAVE_LISTEN_DROP) {
		f->outcome = SONDE_TCP_LISTEN_OVERFLOW;
		f->listen_backlog = in->listen_backlog;
		f->have |= SONDE_TCPF_BACKLOG;
		return;
	}
	if (in->last_state == K_TCP_SYN_SENT || in->last_state == K_TCP_SYN_RECV) {
		f->outcome = failed_outcome(in->sk_err);
		if (f->outcome == SONDE_TCP_REFUSED)
			f->reset_by = 2;
		return;
	}
	if (in->rst & SONDE_TCP_RST_RECEIVED)
		f->reset_by = 2;
	else if (in->rst & SONDE_TCP_RST_SENT)
		f->reset_by = 1;
	/* ESTABLISHED straight to CLOSE is an abort or a reset, whether or
	 * not the reset tracepoints said so */
	if (f->reset_by || in->last_state == K_TCP_ESTABLISHED)
		f->outcome = SONDE_TCP_RESET;
	else
		f->outcome = SONDE_TCP_CLOSED;
	f->closed_by = f->reset_by                             ? f->reset_by
		       : in->closer == SONDE_TCP_CLOSER_LOCAL  ? 1
		       : in->closer == SONDE_TCP_CLOSER_REMOTE ? 2
							       : 0;
}

void ebpf_tcp_facts(const struct sonde_tcp_info *in, struct sonde_tcp_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->source = SONDE_TCP_SRC_KERNEL;
	f->have = SONDE_TCPF_CLOSE;
	close_facts(in, f);
	if (in->sk_err) {
		f->err = in->sk_err;
		f->have |= SONDE_TCPF_ERR;
	}
	if ((in->have & SONDE_TCP_HAVE_LIFE) && in->opener == SONDE_EV_ROLE_CLIENT &&
	    in->ts_established > in->ts_syn) {
		f->handshake_ns = in->ts_established - in->ts_syn;
		f->have |= SONDE_TCPF_HANDSHAKE;
	}
	if ((in->have & SONDE_TCP_HAVE_LIFE) && in->opener == SONDE_EV_ROLE_SERVER &&
	    in->synack_rtt_us) {
		f->server_handshake_ns = (uint64_t)in->synack_rtt_us * 1000;
		f->have |= SONDE_TCPF_SERVER_HANDSHAKE;
	}
	if (!(in->have & SONDE_TCP_HAVE_SOCK))
		return;
	bool sent = in->have & SONDE_TCP_HAVE_BYTES_SENT;
	f->bytes[0] = sent ? in->bytes_sent - in->bytes_retrans : in->bytes_acked;
	f->bytes[1] = in->bytes_received;
	f->segs[0] = in->segs_out;
	f->segs[1] = in->segs_in;
	f->retrans_segs[0] = in->total_retrans;
	f->retrans_bytes[0] = sent ? in->bytes_retrans : 0;
	f->have |= SONDE_TCPF_BYTES | SONDE_TCPF_SEGS | SONDE_TCPF_RETRANS0;
	if (in->have & SONDE_TCP_HAVE_OOO) {
		f->ooo_segs[1] = in->rcv_ooopack; /* the peer's segments, as they arrived here */
		f->have |= SONDE_TCPF_OOO1;
	}
	if (in->srtt_us) {
		f->srtt_us = in->srtt_us;
		f->rttvar_us = in->mdev_us;
		f->rtt_side = 1;
		f->have |= SONDE_TCPF_RTT;
	}
	if (in->srtt_n) {
		f->srtt_min_us = in->srtt_min_us;
		f->srtt_max_us = in->srtt_max_us;
		f->srtt_avg_us = (uint32_t)(in->srtt_sum_us / in->srtt_n);
		f->have |= SONDE_TCPF_RTT_RANGE;
	}
	if (in->last_state != K_TCP_SYN_SENT) {
		f->cwnd = in->snd_cwnd;
		f->delivery_rate = in->delivery_rate;
		f->cwnd_side = 1;
		f->have |= SONDE_TCPF_CWND;
	}
}

void ebpf_tcp_failed(struct sonde_ebpf *e, const struct sonde_event *ev)
{
	const struct sonde_tcp_info *in = (const struct sonde_tcp_info *)(ev + 1);
	struct sonde_tcp_facts f;
	ebpf_tcp_facts(in, &f);
	struct sonde_process proc;
	struct sonde_chunk c;
	ebpf_chunk_from_event(e, ev, &proc, &c);
	/* the attempt, then its end: a connection of no bytes */
	c.flags = SONDE_CF_SYN;
	if (in->ts_syn)
		c.ts_ns = in->ts_syn + (uint64_t)e->mono_to_real_ns;
	sonde_chunk_emit(&e->out, &c);
	c.flags = SONDE_CF_RST;
	c.ts_ns = ev->ts_ns + (uint64_t)e->mono_to_real_ns;
	c.tcp = &f;
	sonde_chunk_emit(&e->out, &c);
}
