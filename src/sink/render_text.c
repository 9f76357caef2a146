/* SPDX-License-Identifier: MIT */
/* The one readable line per exchange, for terminals. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "enrich/names.h"
#include "sink/render.h"

static void human_size(struct sonde_buf *o, uint64_t n)
{
	if (n < 1024)
		sonde_buf_printf(o, "%" PRIu64 "B", n);
	else if (n < 1024 * 1024)
		sonde_buf_printf(o, "%.1fKB", (double)n / 1024);
	else
		sonde_buf_printf(o, "%.1fMB", (double)n / (1024 * 1024));
}

/* An end as "name:port" when DNS named it (the name cut to fit; JSON keeps
 * the address), else "ip:port". */
static void text_endpoint(const struct sonde_conn_info *c, int e, char *out, size_t n)
{
	const struct sonde_endpoint *ep = e ? &c->server : &c->client;
	const char *name = sonde_names_end(c, e);
	if (!name) {
		sonde_endpoint_str(ep, out, n, 1);
		return;
	}
	snprintf(out, n, "%.*s:%u", (int)(n - 8), name, ep->port);
}

void sonde_record_text(const struct sonde_record *r, struct sonde_buf *o)
{
	const struct sonde_msg *m = r->req ? r->req : r->resp;
	char cl[96], sv[96];
	text_endpoint(r->conn, 0, cl, sizeof(cl));
	text_endpoint(r->conn, 1, sv, sizeof(sv));
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
