/* SPDX-License-Identifier: MIT */
/*
 * TCP health in records: the connection record (a message of its own,
 * protocol "tcp", so every stage and sink takes it as any other) and the
 * tcp{} members of an exchange.
 */
#include <string.h>

#include "conn/tcphealth.h"
#include "core/buf.h"

struct tcp_conn_msg {
	struct sonde_msg m;
	const struct sonde_tcp_health *h;
	const char *app_protocol; /* the dissector's name, or NULL */
	uint64_t lifetime_ns;
};

static void put_u64(const struct sonde_field_ops *v, void *ctx, const char *name, uint64_t x)
{
	v->u64(ctx, name, x);
}

static void put_cstr(const struct sonde_field_ops *v, void *ctx, const char *name, const char *s)
{
	if (s)
		sonde_field_cstr(v, ctx, name, s);
}

/* Two values, one per side, under name: {"client":a,"server":b}. */
static void put_pair(const struct sonde_field_ops *v, void *ctx, const char *name,
		     const uint64_t x[2])
{
	v->begin(ctx, name, SONDE_FG_OBJECT);
	put_u64(v, ctx, "client", x[0]);
	put_u64(v, ctx, "server", x[1]);
	v->end(ctx, SONDE_FG_OBJECT);
}

static void put_retrans(const struct sonde_field_ops *v, void *ctx, const struct sonde_tcp_facts *f)
{
	uint32_t both = SONDE_TCPF_RETRANS0 | SONDE_TCPF_RETRANS1;
	if (!(f->have & both))
		return;
	v->begin(ctx, "retransmits", SONDE_FG_OBJECT);
	if (f->have & SONDE_TCPF_RETRANS0)
		put_u64(v, ctx, "client", f->retrans_segs[0]);
	if (f->have & SONDE_TCPF_RETRANS1)
		put_u64(v, ctx, "server", f->retrans_segs[1]);
	v->end(ctx, SONDE_FG_OBJECT);
	v->begin(ctx, "retransmitted_bytes", SONDE_FG_OBJECT);
	if (f->have & SONDE_TCPF_RETRANS0)
		put_u64(v, ctx, "client", f->retrans_bytes[0]);
	if (f->have & SONDE_TCPF_RETRANS1)
		put_u64(v, ctx, "server", f->retrans_bytes[1]);
	v->end(ctx, SONDE_FG_OBJECT);
}

/* f's RTT under name, measured by `by` (a side). */
static void put_rtt(const struct sonde_field_ops *v, void *ctx, const char *name,
		    const struct sonde_tcp_facts *f, uint8_t by)
{
	if (!(f->have & SONDE_TCPF_RTT))
		return;
	v->begin(ctx, name, SONDE_FG_OBJECT);
	put_cstr(v, ctx, "measured_by", sonde_tcp_side_name(by));
	put_u64(v, ctx, "srtt", f->srtt_us);
	put_u64(v, ctx, "rttvar", f->rttvar_us);
	if (f->have & SONDE_TCPF_RTT_RANGE) {
		put_u64(v, ctx, "min", f->srtt_min_us);
		put_u64(v, ctx, "avg", f->srtt_avg_us);
		put_u64(v, ctx, "max", f->srtt_max_us);
	}
	v->end(ctx, SONDE_FG_OBJECT);
}

/* Both ends traced here: the other end's own view of RTT and congestion. */
static void put_peer(const struct sonde_field_ops *v, void *ctx, const struct sonde_tcp_health *h)
{
	if (!h->peer_side)
		return;
	const struct sonde_tcp_facts *p = &h->peer;
	put_cstr(v, ctx, "ends", "both");
	put_rtt(v, ctx, "peer_rtt_us", p, h->peer_side);
	if (p->have & SONDE_TCPF_CWND) {
		put_cstr(v, ctx, "peer_cwnd_of", sonde_tcp_side_name(h->peer_side));
		put_u64(v, ctx, "peer_cwnd", p->cwnd);
		put_u64(v, ctx, "peer_delivery_rate_bps", p->delivery_rate * 8);
	}
}

static void conn_fields(const struct sonde_msg *m, const struct sonde_field_ops *v, void *ctx)
{
	const struct tcp_conn_msg *c = (const struct tcp_conn_msg *)m;
	const struct sonde_tcp_facts *f = &c->h->f;
	put_cstr(v, ctx, "source", sonde_tcp_source_name(f->source));
	put_cstr(v, ctx, "outcome", sonde_tcp_outcome_name(f->outcome));
	if (f->have & SONDE_TCPF_ERR && f->err) {
		put_cstr(v, ctx, "error", strerrorname_np(f->err));
		v->i64(ctx, "errno", f->err);
	}
	put_cstr(v, ctx, "closed_by", sonde_tcp_side_name(f->closed_by));
	put_cstr(v, ctx, "reset_by", sonde_tcp_side_name(f->reset_by));
	if (f->have & SONDE_TCPF_HANDSHAKE)
		put_u64(v, ctx, "handshake_us", f->handshake_ns / 1000);
	if (f->have & SONDE_TCPF_SERVER_HANDSHAKE)
		put_u64(v, ctx, "server_handshake_us", f->server_handshake_ns / 1000);
	if (f->have & SONDE_TCPF_BACKLOG)
		put_u64(v, ctx, "listen_backlog", f->listen_backlog);
	put_u64(v, ctx, "lifetime_us", c->lifetime_ns / 1000);
	put_cstr(v, ctx, "app_protocol", c->app_protocol);
	put_u64(v, ctx, "exchanges", c->h->exchanges);
	if (f->have & SONDE_TCPF_BYTES)
		put_pair(v, ctx, "bytes", f->bytes);
	if (f->have & SONDE_TCPF_SEGS)
		put_pair(v, ctx, "segments", f->segs);
	put_retrans(v, ctx, f);
	if (f->have & SONDE_TCPF_OOO) {
		v->begin(ctx, "out_of_order", SONDE_FG_OBJECT);
		if (f->have & SONDE_TCPF_OOO0)
			put_u64(v, ctx, "client", f->ooo_segs[0]);
		if (f->have & SONDE_TCPF_OOO1)
			put_u64(v, ctx, "server", f->ooo_segs[1]);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	put_rtt(v, ctx, "rtt_us", f, f->rtt_side);
	if (f->have & SONDE_TCPF_CWND) {
		put_cstr(v, ctx, "cwnd_of", sonde_tcp_side_name(f->cwnd_side));
		put_u64(v, ctx, "cwnd", f->cwnd);
		put_u64(v, ctx, "delivery_rate_bps", f->delivery_rate * 8);
	}
	put_peer(v, ctx, c->h);
}

static void conn_summary(const struct sonde_msg *m, struct sonde_buf *out)
{
	const struct tcp_conn_msg *c = (const struct tcp_conn_msg *)m;
	const struct sonde_tcp_facts *f = &c->h->f;
	sonde_buf_puts(out, sonde_tcp_outcome_name(f->outcome));
	if (f->have & SONDE_TCPF_ERR && f->err)
		sonde_buf_printf(out, " (%s)", strerrorname_np(f->err));
	if (f->reset_by)
		sonde_buf_printf(out, " by %s", sonde_tcp_side_name(f->reset_by));
	else if (f->closed_by)
		sonde_buf_printf(out, " by %s", sonde_tcp_side_name(f->closed_by));
	if (f->have & SONDE_TCPF_HANDSHAKE)
		sonde_buf_printf(out, " handshake %.3f ms", (double)f->handshake_ns / 1e6);
	if (f->have & SONDE_TCPF_SERVER_HANDSHAKE)
		sonde_buf_printf(out, " synack-ack %.3f ms", (double)f->server_handshake_ns / 1e6);
	if (f->have & SONDE_TCPF_RTT)
		sonde_buf_printf(out, " srtt %.3f ms", (double)f->srtt_us / 1e3);
	if (c->h->peer_side && (c->h->peer.have & SONDE_TCPF_RTT))
		sonde_buf_printf(out, " (%s's %.3f ms)", sonde_tcp_side_name(c->h->peer_side),
				 (double)c->h->peer.srtt_us / 1e3);
	uint64_t re = f->retrans_segs[0] + f->retrans_segs[1];
	if (re)
		sonde_buf_printf(out, " retrans %llu", (unsigned long long)re);
	sonde_buf_printf(out, " %u exchanges", c->h->exchanges);
}

static enum sonde_outcome conn_outcome(const struct sonde_msg *m)
{
	const struct tcp_conn_msg *c = (const struct tcp_conn_msg *)m;
	switch (c->h->f.outcome) {
	case SONDE_TCP_CLOSED: return SONDE_OUTCOME_OK;
	case SONDE_TCP_OPEN: return SONDE_OUTCOME_UNKNOWN;
	case SONDE_TCP_REFUSED:
	case SONDE_TCP_ABORTED: return SONDE_OUTCOME_CLIENT_ERROR;
	default: return SONDE_OUTCOME_SERVER_ERROR;
	}
}

static void conn_free(struct sonde_msg *m)
{
	(void)m; /* on the writer's stack */
}

static const struct sonde_msg_ops tcp_conn_ops = {
	.protocol = "tcp",
	.fields = conn_fields,
	.summary = conn_summary,
	.outcome = conn_outcome,
	.free = conn_free,
};

void sonde_tcp_connection_record(const struct sonde_conn_info *c, const char *app_protocol,
				 uint64_t ts, const struct sonde_record_out *out)
{
	const struct sonde_tcp_health *h = c->tcp;
	struct tcp_conn_msg m = {
		.m = { .ops = &tcp_conn_ops,
		       .kind = SONDE_MSG_REQUEST,
		       .ts_first = h->ts_first,
		       .ts_last = ts },
		.h = h,
		.app_protocol = app_protocol,
		.lifetime_ns = ts > h->ts_first ? ts - h->ts_first : 0,
	};
	struct sonde_record r = { .conn = c, .req = &m.m, .flags = SONDE_RF_CONNECTION };
	out->emit(out->ctx, &r);
}

/* ------------------------------------------------------ exchange view --- */

static bool exchange_view(const struct sonde_record *r, struct sonde_tcp_exchange *x)
{
	const struct sonde_tcp_health *h = r->conn->tcp;
	if (!h || (r->flags & SONDE_RF_CONNECTION))
		return false;
	const struct sonde_msg *first = r->req ? r->req : r->resp;
	const struct sonde_msg *last = r->resp ? r->resp : r->req;
	bool known = sonde_tcp_health_exchange(h, first->ts_first, last->ts_last, x);
	return known || (h->ended && h->f.outcome == SONDE_TCP_RESET);
}

bool sonde_tcp_record_troubled(const struct sonde_record *r, struct sonde_tcp_exchange *x)
{
	return exchange_view(r, x) && sonde_tcp_health_troubled(r->conn->tcp, x);
}

const char *sonde_tcp_record_reset_by(const struct sonde_record *r)
{
	const struct sonde_tcp_health *h = r->conn->tcp;
	if (!h || !h->ended || h->f.outcome != SONDE_TCP_RESET || (r->flags & SONDE_RF_CONNECTION))
		return NULL;
	const char *s = sonde_tcp_side_name(h->f.reset_by);
	return s ? s : "unknown";
}

void sonde_tcp_exchange_fields(const struct sonde_record *r, const struct sonde_field_ops *v,
			       void *ctx)
{
	struct sonde_tcp_exchange x;
	if (!exchange_view(r, &x))
		return;
	v->begin(ctx, "tcp", SONDE_FG_OBJECT);
	put_cstr(v, ctx, "source", sonde_tcp_source_name(x.source));
	if (x.srtt_known)
		put_u64(v, ctx, "srtt_us", x.srtt_us);
	if (x.retrans_known)
		put_u64(v, ctx, "retransmits", x.retrans);
	put_cstr(v, ctx, "reset_by", sonde_tcp_record_reset_by(r));
	v->end(ctx, SONDE_FG_OBJECT);
}
