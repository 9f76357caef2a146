/* SPDX-License-Identifier: MIT */
/*
 * JSON records (docs/records.md): the record's own members, and the JSON
 * field visitor that renders each message's walk (core/fields.h).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "sink/render.h"
#include "conn/tcphealth.h"
#include "enrich/enrich.h"
#include "enrich/names.h"

void sonde_endpoint_str(const struct sonde_endpoint *e, char *buf, size_t len, int with_port)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	inet_ntop(e->family == AF_INET6 ? AF_INET6 : AF_INET, e->addr, ip, sizeof(ip));
	if (!with_port) {
		size_t l = strnlen(ip, sizeof(ip));
		l = len && l >= len ? len - 1 : l;
		if (len) {
			memcpy(buf, ip, l);
			buf[l] = 0;
		}
	} else if (e->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, e->port);
	else
		snprintf(buf, len, "%s:%u", ip, e->port);
}

/* ---------------------------------------------------------- visitor --- */

void sonde_json_fields_init(struct sonde_json_fields *j, struct sonde_buf *o, bool after_member)
{
	j->o = o;
	j->depth = 0;
	j->more[0] = after_member;
}

/* The separator and "name": of the next value at the current level. */
static void jf_member(struct sonde_json_fields *j, const char *name)
{
	if (j->more[j->depth])
		sonde_buf_putc(j->o, ',');
	j->more[j->depth] = true;
	if (name)
		sonde_json_key(j->o, name);
}

static void jf_str(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct sonde_json_fields *j = ctx;
	static const uint8_t none[1];
	jf_member(j, name);
	sonde_json_str(j->o, p ? p : none, n);
}

static void jf_null(void *ctx, const char *name)
{
	struct sonde_json_fields *j = ctx;
	jf_member(j, name);
	sonde_buf_puts(j->o, "null");
}

static void jf_u64(void *ctx, const char *name, uint64_t v)
{
	struct sonde_json_fields *j = ctx;
	jf_member(j, name);
	sonde_buf_u64(j->o, v);
}

static void jf_i64(void *ctx, const char *name, int64_t v)
{
	struct sonde_json_fields *j = ctx;
	jf_member(j, name);
	sonde_buf_i64(j->o, v);
}

static void jf_bool(void *ctx, const char *name, bool v)
{
	struct sonde_json_fields *j = ctx;
	jf_member(j, name);
	sonde_buf_puts(j->o, v ? "true" : "false");
}

/* "encoding":"utf8","name":"text" when the bytes are text, else base64. */
static void jf_bytes(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct sonde_json_fields *j = ctx;
	static const uint8_t none[1];
	struct sonde_buf *o = j->o;
	jf_member(j, NULL);
	size_t mark = o->len;
	sonde_buf_puts(o, "\"encoding\":\"utf8\",");
	sonde_json_key(o, name);
	if (sonde_json_str_utf8(o, p ? p : none, n) < 0) {
		o->len = mark;
		sonde_buf_puts(o, "\"encoding\":\"base64\",");
		sonde_json_key(o, name);
		sonde_buf_putc(o, '"');
		sonde_base64(o, p ? p : none, n);
		sonde_buf_putc(o, '"');
	}
}

static void jf_begin(void *ctx, const char *name, enum sonde_field_group g)
{
	struct sonde_json_fields *j = ctx;
	jf_member(j, name);
	sonde_buf_putc(j->o, g == SONDE_FG_LIST ? '[' : '{');
	/* deeper than any record goes: flatten rather than overrun */
	if (j->depth + 1 < SONDE_JSON_MAX_DEPTH)
		j->depth++;
	j->more[j->depth] = false;
}

static void jf_end(void *ctx, enum sonde_field_group g)
{
	struct sonde_json_fields *j = ctx;
	sonde_buf_putc(j->o, g == SONDE_FG_LIST ? ']' : '}');
	if (j->depth)
		j->depth--;
}

/* A header is the pair ["name","value"]. */
static void jf_header(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value,
		      size_t vlen)
{
	struct sonde_json_fields *j = ctx;
	static const uint8_t none[1];
	jf_member(j, NULL);
	sonde_buf_putc(j->o, '[');
	sonde_json_str(j->o, name ? name : none, nlen);
	sonde_buf_putc(j->o, ',');
	sonde_json_str(j->o, value ? value : none, vlen);
	sonde_buf_putc(j->o, ']');
}

static void jf_json(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct sonde_json_fields *j = ctx;
	jf_member(j, name);
	sonde_buf_append(j->o, p, n);
}

const struct sonde_field_ops sonde_json_field_ops = {
	.str = jf_str,
	.null = jf_null,
	.u64 = jf_u64,
	.i64 = jf_i64,
	.boolean = jf_bool,
	.bytes = jf_bytes,
	.begin = jf_begin,
	.end = jf_end,
	.header = jf_header,
	.json = jf_json,
};

/* ----------------------------------------------------------- records --- */

/* Who is talking at end k (0 client, 1 server) of c: what the enrichment
 * stage attached (enrich/enrich.h), nothing without it. */
static void json_conn_end(struct sonde_buf *o, const struct sonde_record *r, int k)
{
	if (!r->conn->attrs)
		return;
	struct sonde_json_fields j;
	sonde_json_fields_init(&j, o, true);
	void *ctx;
	const struct sonde_field_ops *v = sonde_record_visitor(r, &sonde_json_field_ops, &j, &ctx);
	sonde_names_end_fields(r->conn, k, v, ctx);
	sonde_enrich_end_fields(r->conn, k, v, ctx);
}

static void json_endpoint(struct sonde_buf *o, const char *key, const struct sonde_record *r, int k)
{
	const struct sonde_conn_info *c = r->conn;
	const struct sonde_endpoint *e = k ? &c->server : &c->client;
	char ip[INET6_ADDRSTRLEN];
	sonde_endpoint_str(e, ip, sizeof(ip), 0);
	sonde_json_key(o, key);
	sonde_buf_puts(o, "{\"ip\":\"");
	sonde_buf_puts(o, ip);
	sonde_buf_puts(o, "\",\"port\":");
	sonde_buf_u64(o, e->port);
	json_conn_end(o, r, k);
	sonde_buf_putc(o, '}');
}

/*
 * Both ends, rendered once per connection: every record of a connection
 * shows the same ends (addresses, each end's process, container, pod and
 * names), and rendering them, masking included, was a quarter of a live
 * capture's CPU. Kept in the connection's attributes while what they show
 * stays the same: the same endpoints, the same attribute objects (set once,
 * or replaced), the same names (set later, each once) and the same lens.
 */
struct json_ends {
	struct sonde_endpoint client, server;
	const void *key[5];
	const struct sonde_record_lens *lens;
	uint64_t counted; /* what the lens counted while rendering them */
	struct sonde_buf b;
	/* The traced process's enrichment (record.process), the same way. */
	const void *proc_key;
	const struct sonde_record_lens *proc_lens;
	uint64_t proc_counted;
	struct sonde_buf proc;
};

static void json_ends_free(void *p)
{
	struct json_ends *je = p;
	sonde_buf_free(&je->b);
	sonde_buf_free(&je->proc);
	free(je);
}

static bool same_endpoint(const struct sonde_endpoint *a, const struct sonde_endpoint *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

static bool json_ends_current(const struct json_ends *je, const struct sonde_record *r,
			      const void *const key[5])
{
	const struct sonde_conn_info *c = r->conn;
	return je->lens == r->lens && !memcmp(je->key, key, sizeof(je->key)) &&
	       same_endpoint(&je->client, &c->client) && same_endpoint(&je->server, &c->server);
}

static struct json_ends *json_ends_of(const struct sonde_conn_info *c)
{
	struct json_ends *je = sonde_attr_get(c->attrs, SONDE_ATTR_JSON_ENDS);
	if (!je) {
		je = sonde_xcalloc(1, sizeof(*je));
		je->proc_key = je; /* matches nothing */
		sonde_attr_set(c->attrs, SONDE_ATTR_JSON_ENDS, je, json_ends_free);
	}
	return je;
}

/* The traced process's enrichment fields, rendered once per connection
 * while the process the enrichment stage attached stays the same. */
static void json_proc_enrich(struct sonde_buf *o, const struct sonde_record *r)
{
	const struct sonde_conn_info *c = r->conn;
	struct json_ends *je = json_ends_of(c);
	const void *key = sonde_attr_get(c->attrs, SONDE_ATTR_CONTAINER);
	uint64_t *counted = r->lens ? r->lens->counted : NULL;
	if (je->proc_key != key || je->proc_lens != r->lens) {
		uint64_t before = counted ? *counted : 0;
		sonde_buf_reset(&je->proc);
		struct sonde_json_fields j;
		sonde_json_fields_init(&j, &je->proc, true);
		void *ctx;
		const struct sonde_field_ops *v =
			sonde_record_visitor(r, &sonde_json_field_ops, &j, &ctx);
		sonde_enrich_process_fields(c, v, ctx);
		je->proc_counted = counted ? *counted - before : 0;
		je->proc_key = key;
		je->proc_lens = r->lens;
	} else if (counted) {
		*counted += je->proc_counted;
	}
	sonde_buf_append(o, je->proc.p, je->proc.len);
}

static void json_ends(struct sonde_buf *o, const struct sonde_record *r)
{
	const struct sonde_conn_info *c = r->conn;
	if (!c->attrs) {
		json_endpoint(o, "client", r, 0);
		sonde_buf_putc(o, ',');
		json_endpoint(o, "server", r, 1);
		return;
	}
	const void *key[5] = {
		sonde_attr_get(c->attrs, SONDE_ATTR_CLIENT_PROCESS),
		sonde_attr_get(c->attrs, SONDE_ATTR_SERVER_PROCESS),
		sonde_attr_get(c->attrs, SONDE_ATTR_CONTAINER),
		sonde_names_end(c, 0),
		sonde_names_end(c, 1),
	};
	struct json_ends *je = sonde_attr_get(c->attrs, SONDE_ATTR_JSON_ENDS);
	uint64_t *counted = r->lens ? r->lens->counted : NULL;
	if (je && je->b.len && json_ends_current(je, r, key)) {
		if (counted)
			*counted += je->counted;
		sonde_buf_append(o, je->b.p, je->b.len);
		return;
	}
	je = json_ends_of(c);
	uint64_t before = counted ? *counted : 0;
	sonde_buf_reset(&je->b);
	json_endpoint(&je->b, "client", r, 0);
	sonde_buf_putc(&je->b, ',');
	json_endpoint(&je->b, "server", r, 1);
	je->counted = counted ? *counted - before : 0;
	je->client = c->client;
	je->server = c->server;
	memcpy(je->key, key, sizeof(je->key));
	je->lens = r->lens;
	sonde_buf_append(o, je->b.p, je->b.len);
}

/*
 * A record's timestamps as RFC 3339 text: the record's is its first
 * message's, and its messages' are mostly in the same second, so what was
 * written last is reused whole or up to its fraction.
 */
struct json_time_memo {
	uint64_t ns;
	bool set;
	uint8_t text[27]; /* YYYY-MM-DDTHH:MM:SS.uuuuuuZ */
};

static void json_time(struct sonde_buf *o, uint64_t ns, struct json_time_memo *tm)
{
	if (tm->set && tm->ns == ns) {
		sonde_buf_append(o, tm->text, sizeof(tm->text));
		return;
	}
	if (tm->set && tm->ns / 1000000000ull == ns / 1000000000ull) {
		for (uint64_t us = ns % 1000000000ull / 1000, k = 26; k-- > 20; us /= 10)
			tm->text[k] = (uint8_t)('0' + us % 10);
	} else {
		size_t at = o->len;
		sonde_fmt_time(o, ns);
		memcpy(tm->text, o->p + at, sizeof(tm->text));
		tm->ns = ns;
		tm->set = true;
		return;
	}
	tm->ns = ns;
	sonde_buf_append(o, tm->text, sizeof(tm->text));
}

static const char *const msg_flag_names[] = {
	"gap", "truncated", "incomplete", "parse_error", "headers_truncated",
};

static void json_msg(struct sonde_buf *o, const char *key, const struct sonde_msg *m,
		     struct json_time_memo *tm)
{
	sonde_buf_putc(o, ',');
	sonde_json_key(o, key);
	sonde_buf_puts(o, "{\"ts\":\"");
	json_time(o, m->ts_first, tm);
	sonde_buf_puts(o, "\",\"wire_bytes\":");
	sonde_buf_u64(o, m->wire_bytes);
	sonde_buf_puts(o, ",\"captured_bytes\":");
	sonde_buf_u64(o, m->captured_bytes);
	struct sonde_json_fields j;
	sonde_json_fields_init(&j, o, true);
	m->ops->fields(m, &sonde_json_field_ops, &j);
	sonde_buf_putc(o, '}');
}

/* One member of the flags list: its separator, its quoted name (and the
 * name's suffix, which may be ""). */
static void json_flag(struct sonde_buf *o, int *n, const char *pre, const char *name)
{
	if ((*n)++)
		sonde_buf_putc(o, ',');
	sonde_buf_putc(o, '"');
	sonde_buf_puts(o, pre);
	sonde_buf_puts(o, name);
	sonde_buf_putc(o, '"');
}

static void json_flags(struct sonde_buf *o, const struct sonde_record *r)
{
	int n = 0;
	sonde_buf_puts(o, ",\"flags\":[");
#define FLAG(name) json_flag(o, &n, "", name)
	if (r->flags & SONDE_RF_UNANSWERED)
		FLAG("unanswered");
	if (r->flags & SONDE_RF_UNSOLICITED)
		FLAG("unsolicited");
	if (r->flags & SONDE_RF_UNREDACTED)
		FLAG("unredacted");
	if (r->conn->midstream)
		FLAG("midstream");
	if (sonde_tcp_record_reset_by(r))
		FLAG("reset");
	const struct sonde_msg *ms[2] = { r->req, r->resp };
	const char *pre[2] = { "request_", "response_" };
	for (int k = 0; k < 2; k++) {
		if (!ms[k])
			continue;
		for (unsigned b = 0; b < sizeof(msg_flag_names) / sizeof(*msg_flag_names); b++)
			if (ms[k]->flags & (1u << b))
				json_flag(o, &n, pre[k], msg_flag_names[b]);
	}
#undef FLAG
	sonde_buf_putc(o, ']');
}

/* An exchange's TCP health (conn/tcphealth.h), where known. */
static void json_tcp(struct sonde_buf *o, const struct sonde_record *r)
{
	struct sonde_json_fields j;
	sonde_json_fields_init(&j, o, true);
	sonde_tcp_exchange_fields(r, &sonde_json_field_ops, &j);
}

/* capture.tls of a connection decrypted with a key log (read --tls-keylog). */
static void json_tls_session(struct sonde_buf *o, const struct sonde_tls_session *t)
{
	sonde_buf_puts(o, ",\"tls\":{\"decrypted\":\"keylog\",\"version\":");
	sonde_json_cstr(o, t->version);
	sonde_buf_puts(o, ",\"cipher\":");
	sonde_json_cstr(o, t->cipher);
	if (t->alpn[0]) {
		sonde_buf_puts(o, ",\"alpn\":");
		sonde_json_cstr(o, t->alpn);
	}
	if (t->sni[0]) {
		sonde_buf_puts(o, ",\"sni\":");
		sonde_json_cstr(o, t->sni);
	}
	if (t->records_failed) {
		sonde_buf_puts(o, ",\"records_failed\":");
		sonde_buf_u64(o, t->records_failed);
	}
	if (t->records_lost) {
		sonde_buf_puts(o, ",\"records_lost\":");
		sonde_buf_u64(o, t->records_lost);
	}
	sonde_buf_putc(o, '}');
}

void sonde_record_json(const struct sonde_record *r, struct sonde_buf *o)
{
	const struct sonde_msg *m = r->req ? r->req : r->resp;
	const struct sonde_conn_info *c = r->conn;
	bool conn_rec = r->flags & SONDE_RF_CONNECTION;
	sonde_buf_puts(o, "{\"schema\":");
	sonde_buf_u64(o, SONDE_SCHEMA_VERSION);
	sonde_buf_puts(o, conn_rec ? ",\"type\":\"connection\"," : ",\"type\":\"exchange\",");
	if (r->seq) {
		sonde_buf_puts(o, "\"seq\":");
		sonde_buf_u64(o, r->seq);
		sonde_buf_putc(o, ',');
	}
	struct json_time_memo tm = { .set = false };
	sonde_buf_puts(o, "\"ts\":\"");
	json_time(o, m->ts_first, &tm);
	sonde_buf_puts(o, "\",\"protocol\":");
	sonde_json_cstr(o, m->ops->protocol);
	if (m->version) {
		sonde_buf_puts(o, ",\"version\":");
		sonde_json_cstr(o, m->version);
	}
	sonde_buf_puts(o, ",\"conn\":{\"id\":");
	sonde_buf_u64(o, c->id);
	sonde_buf_puts(o, c->l4 == SONDE_L4_UDP ? ",\"transport\":\"udp\","
						: ",\"transport\":\"tcp\",");
	json_ends(o, r);
	sonde_buf_puts(o, "},\"capture\":{\"method\":");
	sonde_json_cstr(o, sonde_origin_name(c->origin));
	if (c->source) {
		sonde_buf_puts(o, ",\"source\":");
		sonde_json_cstr(o, c->source);
	}
	if (!c->proc.pid && c->proc.cgroup_id) { /* cgroup_skb: the socket's cgroup */
		sonde_buf_puts(o, ",\"cgroup_id\":");
		sonde_buf_u64(o, c->proc.cgroup_id);
	}
	if (c->tls) {
		sonde_buf_puts(o, ",\"tls\":{\"library\":");
		sonde_json_cstr(o, c->tls->library);
		sonde_buf_puts(o, ",\"version\":");
		sonde_json_cstr(o, c->tls->version);
		sonde_buf_puts(o, ",\"path\":");
		sonde_json_cstr(o, c->tls->path);
		sonde_buf_putc(o, '}');
	}
	if (c->tls_session)
		json_tls_session(o, c->tls_session);
	sonde_buf_putc(o, '}');
	if (c->proc.pid) {
		sonde_buf_puts(o, ",\"process\":{\"pid\":");
		sonde_buf_u64(o, c->proc.pid);
		if (c->proc.tid) {
			sonde_buf_puts(o, ",\"tid\":");
			sonde_buf_u64(o, c->proc.tid);
		}
		sonde_buf_puts(o, ",\"comm\":");
		sonde_json_str(o, c->proc.comm, strnlen(c->proc.comm, sizeof(c->proc.comm)));
		sonde_buf_puts(o, ",\"cgroup_id\":");
		sonde_buf_u64(o, c->proc.cgroup_id);
		if (c->attrs)
			json_proc_enrich(o, r);
		sonde_buf_putc(o, '}');
	}
	if (r->req)
		json_msg(o, conn_rec ? "tcp" : "request", r->req, &tm);
	if (r->resp)
		json_msg(o, "response", r->resp, &tm);
	json_tcp(o, r);
	if (r->req && r->resp) {
		int64_t first = (int64_t)(r->resp->ts_first - r->req->ts_first);
		int64_t last = (int64_t)(r->resp->ts_last - r->req->ts_first);
		sonde_buf_puts(o, ",\"latency_us\":{\"first_byte\":");
		sonde_buf_micros(o, first);
		sonde_buf_puts(o, ",\"last_byte\":");
		sonde_buf_micros(o, last);
		sonde_buf_putc(o, '}');
	}
	json_flags(o, r);
	sonde_buf_puts(o, "}\n");
}
