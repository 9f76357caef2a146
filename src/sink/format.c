/* SPDX-License-Identifier: MIT */
/* Record formatting shared by the sinks: JSON (docs/records.md) and text. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "sink/sink.h"

void sonde_endpoint_str(const struct sonde_endpoint *e, char *buf, size_t len, int with_port)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	inet_ntop(e->family == AF_INET6 ? AF_INET6 : AF_INET, e->addr, ip, sizeof(ip));
	if (!with_port)
		snprintf(buf, len, "%s", ip);
	else if (e->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, e->port);
	else
		snprintf(buf, len, "%s:%u", ip, e->port);
}

static void json_endpoint(struct sonde_buf *o, const char *key, const struct sonde_endpoint *e)
{
	char ip[INET6_ADDRSTRLEN];
	sonde_endpoint_str(e, ip, sizeof(ip), 0);
	sonde_buf_printf(o, "\"%s\":{\"ip\":\"%s\",\"port\":%u}", key, ip, e->port);
}

static const char *const msg_flag_names[] = {
	"gap", "truncated", "incomplete", "parse_error", "headers_truncated",
};

static void json_msg(struct sonde_buf *o, const char *key, const struct sonde_msg *m)
{
	sonde_buf_printf(o, ",\"%s\":{\"ts\":", key);
	sonde_buf_putc(o, '"');
	sonde_fmt_time(o, m->ts_first);
	sonde_buf_puts(o, "\",\"wire_bytes\":");
	sonde_buf_u64(o, m->wire_bytes);
	sonde_buf_puts(o, ",\"captured_bytes\":");
	sonde_buf_u64(o, m->captured_bytes);
	sonde_buf_putc(o, ',');
	m->ops->write_json(m, o);
	sonde_buf_putc(o, '}');
}

static void json_flags(struct sonde_buf *o, const struct sonde_record *r)
{
	int n = 0;
	sonde_buf_puts(o, ",\"flags\":[");
#define FLAG(name)                                            \
	do {                                                  \
		sonde_buf_printf(o, "%s\"%s\"", n++ ? "," : "", name); \
	} while (0)
	if (r->flags & SONDE_RF_UNANSWERED)
		FLAG("unanswered");
	if (r->flags & SONDE_RF_UNSOLICITED)
		FLAG("unsolicited");
	if (r->conn->midstream)
		FLAG("midstream");
	const struct sonde_msg *ms[2] = { r->req, r->resp };
	const char *pre[2] = { "request_", "response_" };
	for (int k = 0; k < 2; k++) {
		if (!ms[k])
			continue;
		for (unsigned b = 0; b < sizeof(msg_flag_names) / sizeof(*msg_flag_names); b++)
			if (ms[k]->flags & (1u << b)) {
				sonde_buf_printf(o, "%s\"%s%s\"", n++ ? "," : "", pre[k], msg_flag_names[b]);
			}
	}
#undef FLAG
	sonde_buf_putc(o, ']');
}

static const struct sonde_msg *any_msg(const struct sonde_record *r)
{
	return r->req ? r->req : r->resp;
}

void sonde_record_json(const struct sonde_record *r, struct sonde_buf *o)
{
	const struct sonde_msg *m = any_msg(r);
	const struct sonde_conn_info *c = r->conn;
	sonde_buf_printf(o, "{\"schema\":%d,\"type\":\"exchange\",\"ts\":\"", SONDE_SCHEMA_VERSION);
	sonde_fmt_time(o, m->ts_first);
	sonde_buf_puts(o, "\",\"protocol\":");
	sonde_json_cstr(o, m->ops->protocol);
	if (m->version) {
		sonde_buf_puts(o, ",\"version\":");
		sonde_json_cstr(o, m->version);
	}
	sonde_buf_printf(o, ",\"conn\":{\"id\":%" PRIu64 ",\"transport\":\"%s\",", c->id,
			 c->l4 == SONDE_L4_UDP ? "udp" : "tcp");
	json_endpoint(o, "client", &c->client);
	sonde_buf_putc(o, ',');
	json_endpoint(o, "server", &c->server);
	sonde_buf_puts(o, "},\"capture\":{\"method\":");
	sonde_json_cstr(o, sonde_origin_name(c->origin));
	if (c->source) {
		sonde_buf_puts(o, ",\"source\":");
		sonde_json_cstr(o, c->source);
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
	sonde_buf_putc(o, '}');
	if (c->proc.pid) {
		sonde_buf_printf(o, ",\"process\":{\"pid\":%u,\"comm\":", c->proc.pid);
		sonde_json_str(o, c->proc.comm, strnlen(c->proc.comm, sizeof(c->proc.comm)));
		sonde_buf_printf(o, ",\"cgroup_id\":%" PRIu64 "}", c->proc.cgroup_id);
	}
	if (r->req)
		json_msg(o, "request", r->req);
	if (r->resp)
		json_msg(o, "response", r->resp);
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

static void human_size(struct sonde_buf *o, uint64_t n)
{
	if (n < 1024)
		sonde_buf_printf(o, "%" PRIu64 "B", n);
	else if (n < 1024 * 1024)
		sonde_buf_printf(o, "%.1fKB", (double)n / 1024);
	else
		sonde_buf_printf(o, "%.1fMB", (double)n / (1024 * 1024));
}

void sonde_record_text(const struct sonde_record *r, struct sonde_buf *o)
{
	const struct sonde_msg *m = any_msg(r);
	char cl[64], sv[64];
	sonde_endpoint_str(&r->conn->client, cl, sizeof(cl), 1);
	sonde_endpoint_str(&r->conn->server, sv, sizeof(sv), 1);
	time_t sec = (time_t)(m->ts_first / 1000000000ull);
	struct tm tm;
	gmtime_r(&sec, &tm);
	sonde_buf_printf(o, "%02d:%02d:%02d.%06u %s -> %s %s ", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (unsigned)(m->ts_first % 1000000000ull / 1000), cl, sv, m->ops->protocol);
	if (r->req)
		r->req->ops->summary(r->req, o);
	else
		sonde_buf_puts(o, "(no request)");
	sonde_buf_puts(o, " -> ");
	if (r->resp)
		r->resp->ops->summary(r->resp, o);
	else
		sonde_buf_puts(o, "(no response)");
	if (r->req && r->resp)
		sonde_buf_printf(o, " %.3fms", (double)(r->resp->ts_last - r->req->ts_first) / 1e6);
	sonde_buf_puts(o, " ");
	human_size(o, r->req ? r->req->wire_bytes : 0);
	sonde_buf_puts(o, "/");
	human_size(o, r->resp ? r->resp->wire_bytes : 0);
	uint32_t mf = (r->req ? r->req->flags : 0) | (r->resp ? r->resp->flags : 0);
	if (mf & SONDE_MF_GAP)
		sonde_buf_puts(o, " [gap]");
	if (mf & SONDE_MF_TRUNCATED)
		sonde_buf_puts(o, " [truncated]");
	if (mf & SONDE_MF_INCOMPLETE)
		sonde_buf_puts(o, " [incomplete]");
	if (mf & SONDE_MF_PARSE_ERROR)
		sonde_buf_puts(o, " [parse-error]");
	sonde_buf_putc(o, '\n');
}
