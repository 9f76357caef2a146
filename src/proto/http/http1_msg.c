/* SPDX-License-Identifier: MIT */
/* HTTP/1.x messages from parsed heads (see http1_msg.h). */
#include "proto/http/http1_msg.h"

#include <stdlib.h>
#include <string.h>

static struct sonde_http_span span(struct sonde_h1_span s)
{
	return (struct sonde_http_span){ s.off, s.len, true };
}

/* Header spans relative to base_off in m's text become its fields. */
static void add_fields(struct sonde_http_fields *fs, uint32_t base_off,
		       const struct sonde_h1_header *hdrs, uint32_t n)
{
	if (!n)
		return;
	if (fs->cap < n) { /* a recycled message's array is kept when it fits */
		free(fs->f);
		fs->f = sonde_xmalloc(n * sizeof(*fs->f));
		fs->cap = n;
	}
	for (uint32_t i = 0; i < n; i++)
		fs->f[fs->n++] = (struct sonde_http_field){
			base_off + hdrs[i].name.off,
			hdrs[i].name.len,
			base_off + hdrs[i].value.off,
			hdrs[i].value.len,
		};
}

struct sonde_http_msg *h1_msg_new(struct sonde_http_pool *pool, const uint8_t *head, size_t len,
				  const struct sonde_h1_head *hd,
				  const struct sonde_h1_header *hdrs, bool response)
{
	struct sonde_http_msg *m = sonde_http_msg_take(pool, SONDE_HTTP_1, response);
	if (len) {
		sonde_buf_reserve(&m->text, len);
		sonde_buf_append(&m->text, head, len);
	}
	if (hd->folded) {
		/* Folded values span line breaks: make them single-line. */
		for (uint32_t i = 0; i < hd->nheaders; i++)
			for (uint32_t k = 0; k < hdrs[i].value.len; k++) {
				uint8_t *c = &m->text.p[hdrs[i].value.off + k];
				if (*c == '\r' || *c == '\n' || *c == '\t')
					*c = ' ';
			}
	}
	add_fields(&m->headers, 0, hdrs, hd->nheaders);
	m->coding = hd->content_encoding;
	m->base.version = hd->version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
	if (hd->nheaders_seen > hd->nheaders)
		m->base.flags |= SONDE_MF_HEADERS_TRUNCATED;
	if (hd->bad_header || hd->bad_start)
		m->base.flags |= SONDE_MF_PARSE_ERROR;
	if (response) {
		m->status = hd->status;
		m->reason = span(hd->reason);
	} else {
		m->method = span(hd->method);
		m->path = span(hd->target);
		m->is_head = sonde_h1_span_ieq(head, hd->method, "head");
		m->is_connect = sonde_h1_span_ieq(head, hd->method, "connect");
		m->upgrade = span(hd->upgrade);
		m->upgrade_req = hd->upgrade.len > 0;
	}
	return m;
}

struct sonde_http_msg *h1_msg_new_http09(struct sonde_http_pool *pool, const uint8_t *line,
					 size_t len, bool response)
{
	struct sonde_h1_head hd;
	memset(&hd, 0, sizeof(hd));
	size_t end = len;
	while (end && (line[end - 1] == '\n' || line[end - 1] == '\r'))
		end--;
	if (!response) {
		hd.method.off = 0;
		hd.method.len = 3;
		hd.target.off = 4;
		hd.target.len = end > 4 ? (uint32_t)(end - 4) : 0;
	}
	struct sonde_http_msg *m = h1_msg_new(pool, line, end, &hd, NULL, response);
	m->http09 = true;
	m->status = -1;
	m->reason.set = false;
	m->base.version = "HTTP/0.9";
	return m;
}

void h1_msg_trailers(struct sonde_http_msg *m, const uint8_t *p, size_t tl)
{
	struct sonde_h1_header th[SONDE_H1_MAX_HEADERS];
	struct sonde_h1_head thd;
	uint32_t base = (uint32_t)m->text.len;
	sonde_buf_append(&m->text, p, tl);
	sonde_h1_parse_fields(sonde_http_txt(m, base), tl, &thd, th, SONDE_H1_MAX_HEADERS);
	add_fields(&m->trailers, base, th, thd.nheaders);
}

const char *h1_msg_switch_to(const struct sonde_http_msg *resp, const struct sonde_http_msg *req)
{
	if (resp->status == 101) {
		/* the response's (last) Upgrade, else the request's */
		struct sonde_http_span up = { 0, 0, false };
		const struct sonde_http_msg *base = NULL;
		for (uint32_t i = 0; i < resp->headers.n; i++) {
			const struct sonde_http_field *f = &resp->headers.f[i];
			if (h1_msg_span_ieq(resp,
					    (struct sonde_http_span){ f->noff, f->nlen, true },
					    "upgrade")) {
				up = (struct sonde_http_span){ f->voff, f->vlen, true };
				base = resp;
			}
		}
		if (!up.len && req && req->upgrade_req) {
			up = req->upgrade;
			base = req;
		}
		if (base && h1_msg_span_ieq(base, up, "h2c"))
			return "http2";
		if (base && h1_msg_span_ieq(base, up, "websocket"))
			return "websocket";
		return "upgraded";
	}
	if (req && req->is_connect && resp->status >= 200 && resp->status < 300)
		return "tunnel";
	return NULL;
}

bool h1_msg_span_ieq(const struct sonde_http_msg *m, struct sonde_http_span s, const char *lower)
{
	struct sonde_h1_span h = { s.off, s.len };
	return s.set && sonde_h1_span_ieq(sonde_http_txt(m, 0), h, lower);
}
