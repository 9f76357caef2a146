/* SPDX-License-Identifier: MIT */
/*
 * The one readable line per exchange, for terminals:
 *   14:03:33.796445 curl[1183] 127.0.0.1:40480 -> web.svc.test:8080 http/1.1
 *     GET web.svc.test:8080/a -> 200 OK 1.152 ms req 79B resp 632B
 * (on one line): time (local unless -u), each end with its process when
 * known and its DNS name when one was seen, the protocol and version with a
 * +tls marker for TLS plaintext, the request's and the response's summary
 * (the response coloured by outcome on a colour terminal), latency, sizes
 * and what was missed. Everything that came from the traffic or a process
 * is escaped (sonde_text_safe): captured bytes must not drive the terminal.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "enrich/enrich.h"
#include "enrich/names.h"
#include "sink/render.h"
#include "conn/tcphealth.h"

#define ANSI_RESET "\033[0m"

static void human_size(struct sonde_buf *o, uint64_t n)
{
	if (n < 1024)
		sonde_buf_printf(o, "%" PRIu64 "B", n);
	else if (n < 1024 * 1024)
		sonde_buf_printf(o, "%.1fKB", (double)n / 1024);
	else
		sonde_buf_printf(o, "%.1fMB", (double)n / (1024 * 1024));
}

/* The length of the UTF-8 sequence at p (n bytes left) if it is a valid one
 * outside the C0/C1 controls, else 0. */
static size_t utf8_char(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
	if (c >= 0xf5 || !len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (len == 2 && c == 0xc2 && p[1] < 0xa0) /* U+0080..U+009F: C1 controls */
		return 0;
	if (len == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
		return 0; /* overlong, surrogates */
	if (len == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
		return 0;
	return len;
}

void sonde_text_safe(struct sonde_buf *o, const uint8_t *p, size_t n, size_t max)
{
	size_t l = n > max ? max : n;
	for (size_t i = 0; i < l;) {
		uint8_t c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			sonde_buf_putc(o, (char)c);
			i++;
			continue;
		}
		size_t u = c >= 0x80 ? utf8_char(p + i, l - i) : 0;
		if (u) {
			sonde_buf_append(o, p + i, u);
			i += u;
		} else {
			if (c == '\\')
				sonde_buf_puts(o, "\\\\");
			else
				sonde_buf_printf(o, "\\x%02x", c);
			i++;
		}
	}
	if (l < n)
		sonde_buf_puts(o, "...");
}

static void put_cstr_safe(struct sonde_buf *o, const char *s, size_t max)
{
	sonde_text_safe(o, (const uint8_t *)s, strnlen(s, max), max);
}

static void put_clock(struct sonde_buf *o, uint64_t ts, bool utc)
{
	time_t sec = (time_t)(ts / 1000000000ull);
	struct tm tm;
	if (utc)
		gmtime_r(&sec, &tm);
	else
		localtime_r(&sec, &tm);
	sonde_buf_printf(o, "%02d:%02d:%02d.%06u", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (unsigned)(ts % 1000000000ull / 1000));
}

/* "comm[pid] " of the end's process when known, then "name:port" when DNS
 * named the address, else "ip:port". */
static void put_end(struct sonde_buf *o, const struct sonde_conn_info *c, int e)
{
	const struct sonde_proc_info *p = c->attrs ? sonde_enrich_end_proc(c, e) : NULL;
	if (p) {
		put_cstr_safe(o, p->comm, sizeof(p->comm));
		sonde_buf_printf(o, "[%u] ", p->pid);
	}
	const struct sonde_endpoint *ep = e ? &c->server : &c->client;
	const char *name = sonde_names_end(c, e);
	if (name) {
		put_cstr_safe(o, name, 80);
		sonde_buf_printf(o, ":%u", ep->port);
		return;
	}
	char a[64];
	sonde_endpoint_str(ep, a, sizeof(a), 1);
	sonde_buf_puts(o, a);
}

/* "http/1.1", "h2", "dns", with "+tls" for TLS plaintext. */
static void put_protocol(struct sonde_buf *o, const struct sonde_record *r,
			 const struct sonde_msg *m)
{
	const char *v = m->version;
	if (v && !strcmp(v, "HTTP/2"))
		sonde_buf_puts(o, "h2");
	else if (v && !strncmp(v, "HTTP/", 5))
		sonde_buf_printf(o, "http/%s", v + 5);
	else
		sonde_buf_puts(o, m->ops->protocol);
	if (r->conn->tls || r->conn->tls_session)
		sonde_buf_puts(o, "+tls");
}

static const char *outcome_colour(enum sonde_outcome oc)
{
	switch (oc) {
	case SONDE_OUTCOME_OK: return "\033[32m"; /* green */
	case SONDE_OUTCOME_REDIRECT: return "\033[36m"; /* cyan */
	case SONDE_OUTCOME_CLIENT_ERROR: return "\033[33m"; /* yellow */
	case SONDE_OUTCOME_SERVER_ERROR: return "\033[1;31m"; /* bold red */
	default: return NULL;
	}
}

/* A message's summary, escaped: a protocol's summary may quote the traffic. */
static void put_summary(struct sonde_buf *o, const struct sonde_msg *m, struct sonde_buf *tmp)
{
	sonde_buf_reset(tmp);
	m->ops->summary(m, tmp);
	sonde_text_safe(o, tmp->p, tmp->len, 400);
}

/* Exchanges on troubled connections: retransmissions during them, a reset. */
static void put_tcp_marks(struct sonde_buf *o, const struct sonde_record *r, bool colour)
{
	struct sonde_tcp_exchange x;
	if (!sonde_tcp_record_troubled(r, &x))
		return;
	const char *on = colour ? " \033[35m" : " ";
	const char *off = colour ? ANSI_RESET : "";
	if (x.retrans_known && x.retrans)
		sonde_buf_printf(o, "%s[retrans %u]%s", on, x.retrans, off);
	const char *by = sonde_tcp_record_reset_by(r);
	if (by)
		sonde_buf_printf(o, "%s[reset by %s]%s", on, by, off);
}

static void put_flags(struct sonde_buf *o, const struct sonde_record *r, bool colour)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} mflags[] = {
		{ SONDE_MF_GAP, "gap" },
		{ SONDE_MF_TRUNCATED, "truncated" },
		{ SONDE_MF_INCOMPLETE, "incomplete" },
		{ SONDE_MF_PARSE_ERROR, "parse-error" },
	};
	uint32_t mf = (r->req ? r->req->flags : 0) | (r->resp ? r->resp->flags : 0);
	for (size_t i = 0; i < sizeof(mflags) / sizeof(*mflags); i++)
		if (mf & mflags[i].bit)
			sonde_buf_printf(o, colour ? " \033[35m[%s]" ANSI_RESET : " [%s]",
					 mflags[i].name);
	if (r->conn->midstream)
		sonde_buf_puts(o, " [midstream]");
	put_tcp_marks(o, r, colour);
}

void sonde_record_text(const struct sonde_record *r, const struct sonde_text_opts *opts,
		       struct sonde_buf *o)
{
	static const struct sonde_text_opts plain = { .utc = true };
	const struct sonde_text_opts *to = opts ? opts : &plain;
	const struct sonde_msg *m = r->req ? r->req : r->resp;
	struct sonde_buf tmp = { 0 };
	put_clock(o, m->ts_first, to->utc);
	sonde_buf_putc(o, ' ');
	put_end(o, r->conn, 0);
	sonde_buf_puts(o, " -> ");
	put_end(o, r->conn, 1);
	sonde_buf_putc(o, ' ');
	put_protocol(o, r, m);
	sonde_buf_putc(o, ' ');
	if (r->flags & SONDE_RF_CONNECTION) { /* the connection's own line */
		put_summary(o, m, &tmp);
		sonde_buf_putc(o, '\n');
		sonde_buf_free(&tmp);
		return;
	}
	if (r->req)
		put_summary(o, r->req, &tmp);
	else
		sonde_buf_puts(o, "(no request)");
	sonde_buf_puts(o, " -> ");
	if (r->resp) {
		const char *col = to->colour && r->resp->ops->outcome
					  ? outcome_colour(r->resp->ops->outcome(r->resp))
					  : NULL;
		if (col)
			sonde_buf_puts(o, col);
		put_summary(o, r->resp, &tmp);
		if (col)
			sonde_buf_puts(o, ANSI_RESET);
	} else {
		sonde_buf_puts(o,
			       r->flags & SONDE_RF_UNANSWERED ? "(unanswered)" : "(no response)");
	}
	if (r->req && r->resp)
		sonde_buf_printf(o, " %.3f ms",
				 (double)(r->resp->ts_last - r->req->ts_first) / 1e6);
	sonde_buf_puts(o, " req ");
	human_size(o, r->req ? r->req->wire_bytes : 0);
	sonde_buf_puts(o, " resp ");
	human_size(o, r->resp ? r->resp->wire_bytes : 0);
	put_flags(o, r, to->colour);
	sonde_buf_putc(o, '\n');
	if (to->details)
		sonde_record_details(r, o);
	sonde_buf_free(&tmp);
}
