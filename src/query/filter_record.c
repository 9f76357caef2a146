/* SPDX-License-Identifier: MIT */
/*
 * The filter over a live record: the record's members as the JSON renderer
 * writes them (sink/render_json.c), as matcher events instead of text. Only
 * the top-level members some path of the filter starts with are walked, and
 * in them only the subtrees the matcher wants are looked at. Values are
 * handed over as JSON would give them back, so a record and its JSON line
 * always get the same answer: text that is not valid UTF-8 goes through the
 * renderer's own escaping (and back), payloads become text or base64 as
 * the renderer chooses, and values a decoder rendered as JSON are read as
 * JSON.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "conn/tcphealth.h"
#include "core/buf.h"
#include "enrich/enrich.h"
#include "enrich/names.h"
#include "query/filter_impl.h"
#include "sink/render.h"

struct walk {
	struct fq_matcher m;
	struct sonde_buf scratch; /* the rare value that needs rewriting */
};

static size_t name_len(const char *name)
{
	return name ? strlen(name) : 0;
}

static void put_str(struct walk *w, const char *name, const uint8_t *p, size_t n)
{
	struct fq_value v = { .kind = FQ_V_STR, .s = p, .n = n };
	if (!fq_scalar_wanted(&w->m, name, name_len(name))) {
		fq_scalar_skip(&w->m);
		return;
	}
	if (n && !sonde_utf8_valid(p, n)) {
		/* what the renderer would write, read back */
		sonde_buf_reset(&w->scratch);
		sonde_json_str(&w->scratch, p, n);
		fq_json_value(&w->m, name, name_len(name), (const char *)w->scratch.p,
			      w->scratch.len);
		return;
	}
	fq_scalar(&w->m, name, name_len(name), &v);
}

static void v_str(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	static const uint8_t none[1];
	put_str(ctx, name, p ? p : none, n);
}

static void v_null(void *ctx, const char *name)
{
	struct walk *w = ctx;
	struct fq_value v = { .kind = FQ_V_NULL };
	fq_scalar(&w->m, name, name_len(name), &v);
}

static void put_num(struct walk *w, const char *name, bool neg, uint64_t mag)
{
	struct fq_value v = { .kind = FQ_V_NUM };
	v.num.is_int = true;
	v.num.neg = neg && mag;
	v.num.mag = mag;
	v.num.d = neg ? -(double)mag : (double)mag;
	fq_scalar(&w->m, name, name_len(name), &v);
}

static void v_u64(void *ctx, const char *name, uint64_t x)
{
	put_num(ctx, name, false, x);
}

static void v_i64(void *ctx, const char *name, int64_t x)
{
	put_num(ctx, name, x < 0, x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x);
}

static void v_bool(void *ctx, const char *name, bool b)
{
	struct walk *w = ctx;
	struct fq_value v = { .kind = FQ_V_BOOL, .b = b };
	fq_scalar(&w->m, name, name_len(name), &v);
}

/* "encoding":"utf8" and the text, or "encoding":"base64" and base64. */
static void v_bytes(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct walk *w = ctx;
	static const uint8_t none[1];
	if (!p)
		p = none;
	if (!fq_scalar_wanted(&w->m, "encoding", 8) &&
	    !fq_scalar_wanted(&w->m, name, name_len(name))) {
		fq_scalar_skip(&w->m);
		fq_scalar_skip(&w->m);
		return;
	}
	bool text = sonde_utf8_valid(p, n);
	struct fq_value enc = { .kind = FQ_V_STR,
				.s = (const uint8_t *)(text ? "utf8" : "base64"),
				.n = text ? 4 : 6 };
	fq_scalar(&w->m, "encoding", 8, &enc);
	if (text) {
		struct fq_value v = { .kind = FQ_V_STR, .s = p, .n = n };
		fq_scalar(&w->m, name, name_len(name), &v);
		return;
	}
	sonde_buf_reset(&w->scratch);
	sonde_base64(&w->scratch, p, n);
	struct fq_value v = { .kind = FQ_V_STR, .s = w->scratch.p, .n = w->scratch.len };
	fq_scalar(&w->m, name, name_len(name), &v);
}

static void v_begin(void *ctx, const char *name, enum sonde_field_group g)
{
	struct walk *w = ctx;
	fq_begin(&w->m, name, name_len(name), g == SONDE_FG_LIST);
}

static void v_end(void *ctx, enum sonde_field_group g)
{
	struct walk *w = ctx;
	(void)g;
	fq_end(&w->m);
}

/* A header is the list [name, value]. */
static void v_header(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
	struct walk *w = ctx;
	static const uint8_t none[1];
	if (!fq_begin(&w->m, NULL, 0, true)) {
		fq_end(&w->m);
		return;
	}
	put_str(w, NULL, name ? name : none, nlen);
	put_str(w, NULL, value ? value : none, vlen);
	fq_end(&w->m);
}

static void v_json(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct walk *w = ctx;
	/* not JSON after all: what was read of it counts, as for the reader */
	(void)fq_json_value(&w->m, name, name_len(name), (const char *)p, n);
}

static const struct sonde_field_ops walk_ops = {
	.str = v_str,
	.null = v_null,
	.u64 = v_u64,
	.i64 = v_i64,
	.boolean = v_bool,
	.bytes = v_bytes,
	.begin = v_begin,
	.end = v_end,
	.header = v_header,
	.json = v_json,
};

/* ---------------------------------------------------- the record's own --- */

static void cstr(struct walk *w, const char *name, const char *s)
{
	put_str(w, name, (const uint8_t *)s, strlen(s));
}

static void time_member(struct walk *w, const char *name, uint64_t ts_ns)
{
	struct fq_value v = { .kind = FQ_V_TIME, .time_us = (int64_t)(ts_ns / 1000) };
	fq_scalar(&w->m, name, strlen(name), &v);
}

static bool open_member(struct walk *w, const char *name, bool list)
{
	if (fq_begin(&w->m, name, strlen(name), list))
		return true;
	fq_end(&w->m);
	return false;
}

static void endpoint(struct walk *w, const struct sonde_record *r, int k)
{
	const struct sonde_conn_info *c = r->conn;
	if (!open_member(w, k ? "server" : "client", false))
		return;
	char ip[INET6_ADDRSTRLEN];
	sonde_endpoint_str(k ? &c->server : &c->client, ip, sizeof(ip), 0);
	cstr(w, "ip", ip);
	v_u64(w, "port", k ? c->server.port : c->client.port);
	if (c->attrs) {
		void *vctx;
		const struct sonde_field_ops *v = sonde_record_visitor(r, &walk_ops, w, &vctx);
		sonde_names_end_fields(c, k, v, vctx);
		sonde_enrich_end_fields(c, k, v, vctx);
	}
	fq_end(&w->m);
}

static void conn_member(struct walk *w, const struct sonde_record *r)
{
	const struct sonde_conn_info *c = r->conn;
	if (!open_member(w, "conn", false))
		return;
	v_u64(w, "id", c->id);
	cstr(w, "transport", c->l4 == SONDE_L4_UDP ? "udp" : "tcp");
	endpoint(w, r, 0);
	endpoint(w, r, 1);
	fq_end(&w->m);
}

static void capture_member(struct walk *w, const struct sonde_conn_info *c)
{
	if (!open_member(w, "capture", false))
		return;
	cstr(w, "method", sonde_origin_name(c->origin));
	if (c->source)
		cstr(w, "source", c->source);
	if (c->tls && open_member(w, "tls", false)) {
		cstr(w, "library", c->tls->library);
		cstr(w, "version", c->tls->version);
		cstr(w, "path", c->tls->path);
		fq_end(&w->m);
	}
	fq_end(&w->m);
}

static void process_member(struct walk *w, const struct sonde_record *r)
{
	const struct sonde_conn_info *c = r->conn;
	if (!c->proc.pid || !open_member(w, "process", false))
		return;
	v_u64(w, "pid", c->proc.pid);
	if (c->proc.tid)
		v_u64(w, "tid", c->proc.tid);
	put_str(w, "comm", (const uint8_t *)c->proc.comm,
		strnlen(c->proc.comm, sizeof(c->proc.comm)));
	v_u64(w, "cgroup_id", c->proc.cgroup_id);
	if (c->attrs) {
		void *vctx;
		const struct sonde_field_ops *v = sonde_record_visitor(r, &walk_ops, w, &vctx);
		sonde_enrich_process_fields(c, v, vctx);
	}
	fq_end(&w->m);
}

static void msg_member(struct walk *w, const char *key, const struct sonde_msg *m)
{
	if (!open_member(w, key, false))
		return;
	time_member(w, "ts", m->ts_first);
	v_u64(w, "wire_bytes", m->wire_bytes);
	v_u64(w, "captured_bytes", m->captured_bytes);
	m->ops->fields(m, &walk_ops, w);
	fq_end(&w->m);
}

static void latency_member(struct walk *w, const struct sonde_record *r)
{
	if (!r->req || !r->resp || !open_member(w, "latency_us", false))
		return;
	int64_t d[2] = { (int64_t)(r->resp->ts_first - r->req->ts_first),
			 (int64_t)(r->resp->ts_last - r->req->ts_first) };
	const char *names[2] = { "first_byte", "last_byte" };
	for (int i = 0; i < 2; i++) {
		/* as the text "1234.567" reads back */
		struct fq_value v = { .kind = FQ_V_NUM };
		v.num.d = (double)d[i] / 1000.0;
		fq_scalar(&w->m, names[i], strlen(names[i]), &v);
	}
	fq_end(&w->m);
}

static const char *const msg_flag_names[] = {
	"gap", "truncated", "incomplete", "parse_error", "headers_truncated",
};

static void flags_member(struct walk *w, const struct sonde_record *r)
{
	if (!open_member(w, "flags", true))
		return;
	if (r->flags & SONDE_RF_UNANSWERED)
		cstr(w, NULL, "unanswered");
	if (r->flags & SONDE_RF_UNSOLICITED)
		cstr(w, NULL, "unsolicited");
	if (r->flags & SONDE_RF_UNREDACTED)
		cstr(w, NULL, "unredacted");
	if (r->conn->midstream)
		cstr(w, NULL, "midstream");
	if (sonde_tcp_record_reset_by(r))
		cstr(w, NULL, "reset");
	const struct sonde_msg *ms[2] = { r->req, r->resp };
	const char *pre[2] = { "request_", "response_" };
	for (int k = 0; k < 2; k++) {
		if (!ms[k])
			continue;
		for (unsigned b = 0; b < sizeof(msg_flag_names) / sizeof(*msg_flag_names); b++)
			if (ms[k]->flags & (1u << b)) {
				char f[40];
				snprintf(f, sizeof(f), "%s%s", pre[k], msg_flag_names[b]);
				cstr(w, NULL, f);
			}
	}
	fq_end(&w->m);
}

/* The top-level members, in fq_schema_top()'s order of bits. */
enum {
	TOP_SCHEMA,
	TOP_TYPE,
	TOP_TS,
	TOP_PROTOCOL,
	TOP_VERSION,
	TOP_CONN,
	TOP_CAPTURE,
	TOP_PROCESS,
	TOP_REQUEST,
	TOP_RESPONSE,
	TOP_LATENCY,
	TOP_FLAGS,
	TOP_TCP
};

/* Whether the answer is known once the members of `walked` are: the
 * members left (the costly ones, walked last) are then not walked. */
static bool settled(const struct walk *w, uint32_t walked)
{
	return fq_decided(&w->m, walked) >= 0;
}

#define BIT(t) (1u << (t))

bool sonde_filter_match_record(const struct sonde_filter *f, const struct sonde_record *r,
			       uint64_t now_us)
{
	struct walk w;
	fq_matcher_init(&w.m, f, now_us);
	sonde_buf_init(&w.scratch, 0);
	const struct sonde_msg *m = r->req ? r->req : r->resp;
	uint32_t top = f->top_mask;
	/* the cheap members first, then each costly one only if the answer
	 * still depends on it */
	if (top & BIT(TOP_SCHEMA))
		v_u64(&w, "schema", SONDE_SCHEMA_VERSION);
	bool conn_rec = r->flags & SONDE_RF_CONNECTION;
	if (top & BIT(TOP_TYPE))
		cstr(&w, "type", conn_rec ? "connection" : "exchange");
	if (top & BIT(TOP_TS))
		time_member(&w, "ts", m->ts_first);
	if (top & BIT(TOP_PROTOCOL))
		cstr(&w, "protocol", m->ops->protocol);
	if ((top & BIT(TOP_VERSION)) && m->version)
		cstr(&w, "version", m->version);
	if (top & BIT(TOP_CAPTURE))
		capture_member(&w, r->conn);
	if (top & BIT(TOP_LATENCY))
		latency_member(&w, r);
	if (top & BIT(TOP_FLAGS))
		flags_member(&w, r);
	uint32_t walked = BIT(TOP_SCHEMA) | BIT(TOP_TYPE) | BIT(TOP_TS) | BIT(TOP_PROTOCOL) |
			  BIT(TOP_VERSION) | BIT(TOP_CAPTURE) | BIT(TOP_LATENCY) | BIT(TOP_FLAGS);
	if ((top & BIT(TOP_CONN)) && !settled(&w, walked))
		conn_member(&w, r);
	walked |= BIT(TOP_CONN);
	if ((top & BIT(TOP_PROCESS)) && !settled(&w, walked))
		process_member(&w, r);
	walked |= BIT(TOP_PROCESS);
	if ((top & BIT(TOP_RESPONSE)) && r->resp && !settled(&w, walked))
		msg_member(&w, "response", r->resp);
	walked |= BIT(TOP_RESPONSE);
	if ((top & BIT(TOP_TCP)) && !settled(&w, walked)) {
		if (conn_rec)
			msg_member(&w, "tcp", r->req);
		else
			sonde_tcp_exchange_fields(r, &walk_ops, &w);
	}
	walked |= BIT(TOP_TCP);
	/* a connection record's one message is its tcp{} (render_json.c) */
	if ((top & BIT(TOP_REQUEST)) && r->req && !conn_rec && !settled(&w, walked))
		msg_member(&w, "request", r->req);
	sonde_buf_free(&w.scratch);
	return fq_result(&w.m);
}

bool sonde_filter_match_json(const struct sonde_filter *f, const char *json, size_t len,
			     uint64_t now_us)
{
	struct fq_matcher m;
	fq_matcher_init(&m, f, now_us);
	if (!fq_json_record(&m, json, len))
		return false;
	return fq_result(&m);
}
