/* SPDX-License-Identifier: MIT */
/* The HTTP/1.x message type: building, bodies, decoding, JSON and text output. */
#include "proto/http/http1_msg.h"

#include "proto/http/body_decode.h"
#include "proto/content/graphql.h"

#include <stdlib.h>
#include <string.h>

static const struct sonde_msg_ops h1_ops;

/* The value of the first header named `lower` (lowercase), or NULL. */
static const uint8_t *header_value(const struct h1_msg *m, const char *lower, size_t *len)
{
	for (uint32_t i = 0; i < m->nheaders; i++)
		if (sonde_h1_span_ieq(m->head, m->headers[i].name, lower)) {
			*len = m->headers[i].value.len;
			return m->head + m->headers[i].value.off;
		}
	return NULL;
}

/* With o, also writes the request's ,"graphql":{...}. */
static bool graphql_request(const struct h1_msg *m, struct sonde_buf *o)
{
	size_t ctlen = 0;
	const uint8_t *ct = header_value(m, "content-type", &ctlen);
	struct sonde_buf scratch = { 0 };
	bool r = sonde_graphql_request(o ? o : &scratch, m->head + m->method.off, m->method.len,
				       m->head + m->target.off, m->target.len, ct, ctlen,
				       m->body.p, m->body.len);
	sonde_buf_free(&scratch);
	return r;
}

bool h1_msg_is_graphql(const struct h1_msg *m)
{
	return !m->response && !m->http09 && graphql_request(m, NULL);
}

static void msg_free(struct sonde_msg *bm)
{
	struct h1_msg *m = (struct h1_msg *)bm;
	sonde_buf_free(&m->body);
	free(m->trailer_buf);
	free(m->trailers);
	free(m);
}

/* Allocate a message holding a copy of the head and its header spans. */
struct h1_msg *h1_msg_new(const uint8_t *head, size_t len, const struct sonde_h1_head *hd,
			      const struct sonde_h1_header *hdrs, bool response)
{
	size_t hsz = hd->nheaders * sizeof(struct sonde_h1_header);
	struct h1_msg *m = sonde_xmalloc(sizeof(*m) + hsz + len);
	memset(m, 0, sizeof(*m));
	struct sonde_h1_header *harr = (struct sonde_h1_header *)(m + 1);
	uint8_t *hcopy = (uint8_t *)harr + hsz;
	if (hsz)
		memcpy(harr, hdrs, hsz);
	if (len)
		memcpy(hcopy, head, len);
	if (hd->folded) {
		/* Folded values span line breaks: make them single-line. */
		for (uint32_t i = 0; i < hd->nheaders; i++)
			for (uint32_t k = 0; k < harr[i].value.len; k++) {
				uint8_t *c = &hcopy[harr[i].value.off + k];
				if (*c == '\r' || *c == '\n' || *c == '\t')
					*c = ' ';
			}
	}
	m->base.ops = &h1_ops;
	m->base.kind = response ? SONDE_MSG_RESPONSE : SONDE_MSG_REQUEST;
	m->response = response;
	m->head = hcopy;
	m->head_len = (uint32_t)len;
	m->headers = harr;
	m->nheaders = hd->nheaders;
	m->method = hd->method;
	m->target = hd->target;
	m->reason = hd->reason;
	m->status = hd->status;
	m->version_minor = hd->version_minor;
	m->coding = hd->content_encoding;
	m->base.version = hd->version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
	if (hd->nheaders_seen > hd->nheaders)
		m->base.flags |= SONDE_MF_HEADERS_TRUNCATED;
	if (hd->bad_header || hd->bad_start)
		m->base.flags |= SONDE_MF_PARSE_ERROR;
	if (!response) {
		m->is_head = sonde_h1_span_ieq(head, hd->method, "head");
		m->is_connect = sonde_h1_span_ieq(head, hd->method, "connect");
		m->upgrade = hd->upgrade;
		m->upgrade_req = hd->upgrade.len > 0;
	}
	return m;
}

/* A message with no head: an HTTP/0.9 request line or response. */
struct h1_msg *h1_msg_new_http09(const uint8_t *line, size_t len, bool response)
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
	struct h1_msg *m = h1_msg_new(line, end, &hd, NULL, response);
	m->http09 = true;
	m->base.version = "HTTP/0.9";
	return m;
}

/* Inflate a gzip or deflate body in place, keeping at most the body limit. */
void h1_msg_decode_body(struct h1_msg *m, size_t limit)
{
	struct sonde_buf out = { 0 };
	bool full;
	if (!m->body.len || !sonde_body_inflate(m->body.p, m->body.len, m->coding, limit, &out, &full))
		return;
	sonde_buf_free(&m->body);
	m->body = out;
	m->decoded = true;
	m->decoded_size = out.len;
	if (full)
		m->base.flags |= SONDE_MF_TRUNCATED;
}

void h1_msg_body(struct h1_msg *m, const uint8_t *p, size_t n, size_t limit, struct sonde_stats *st)
{
	m->body_size += n;
	if (m->body_hole)
		return;
	size_t room = m->body.len < limit ? limit - m->body.len : 0;
	if (n > room) {
		if (!(m->base.flags & SONDE_MF_TRUNCATED)) {
			m->base.flags |= SONDE_MF_TRUNCATED;
			st->bodies_truncated++;
		}
		n = room;
	}
	if (n)
		sonde_buf_append(&m->body, p, n);
}

/* -------------------------------------------------------------- output --- */

static void write_fields(struct sonde_buf *o, const char *key, const uint8_t *base,
			 const struct sonde_h1_header *f, uint32_t n)
{
	sonde_buf_putc(o, ',');
	sonde_json_key(o, key);
	sonde_buf_putc(o, '[');
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			sonde_buf_putc(o, ',');
		sonde_buf_putc(o, '[');
		sonde_json_str(o, base + f[i].name.off, f[i].name.len);
		sonde_buf_putc(o, ',');
		sonde_json_str(o, base + f[i].value.off, f[i].value.len);
		sonde_buf_putc(o, ']');
	}
	sonde_buf_putc(o, ']');
}

static const char *coding_name(enum sonde_h1_coding c)
{
	switch (c) {
	case SONDE_H1_CODING_GZIP: return "gzip";
	case SONDE_H1_CODING_DEFLATE: return "deflate";
	case SONDE_H1_CODING_OTHER: return "other";
	default: return NULL;
	}
}

static void h1_write_json(const struct sonde_msg *bm, struct sonde_buf *o)
{
	const struct h1_msg *m = (const struct h1_msg *)bm;
	if (!m->response) {
		sonde_json_key(o, "method");
		sonde_json_str(o, m->head + m->method.off, m->method.len);
		sonde_buf_putc(o, ',');
		sonde_json_key(o, "target");
		sonde_json_str(o, m->head + m->target.off, m->target.len);
	} else if (m->http09) {
		sonde_buf_puts(o, "\"status\":null");
	} else {
		sonde_buf_printf(o, "\"status\":%d,", m->status);
		sonde_json_key(o, "reason");
		sonde_json_str(o, m->head + m->reason.off, m->reason.len);
	}
	sonde_buf_puts(o, ",\"version\":");
	sonde_json_cstr(o, m->base.version);
	write_fields(o, "headers", m->head, m->headers, m->nheaders);
	if (m->ntrailers)
		write_fields(o, "trailers", m->trailer_buf, m->trailers, m->ntrailers);
	if (m->graphql && !m->response)
		graphql_request(m, o);
	else if (m->graphql)
		sonde_buf_printf(o, ",\"graphql\":{\"errors\":%s}", m->graphql_errors ? "true" : "false");
	if (m->ninterim) {
		sonde_buf_puts(o, ",\"interim\":[");
		for (int i = 0; i < m->ninterim; i++)
			sonde_buf_printf(o, "%s%d", i ? "," : "", m->interim[i]);
		sonde_buf_putc(o, ']');
	}
	sonde_buf_puts(o, ",\"body\":{\"size\":");
	sonde_buf_u64(o, m->body_size);
	sonde_buf_puts(o, ",\"captured\":");
	sonde_buf_u64(o, m->body_captured);
	if (m->coding != SONDE_H1_CODING_NONE) {
		sonde_buf_puts(o, ",\"content_encoding\":");
		sonde_json_cstr(o, coding_name(m->coding));
	}
	if (m->decoded)
		sonde_buf_printf(o, ",\"decoded\":true,\"decoded_size\":%llu",
				 (unsigned long long)m->decoded_size);
	if (m->body.len) {
		size_t mark = o->len;
		sonde_buf_puts(o, ",\"encoding\":\"utf8\",\"data\":");
		if (sonde_json_str_utf8(o, m->body.p, m->body.len) < 0) {
			o->len = mark;
			sonde_buf_puts(o, ",\"encoding\":\"base64\",\"data\":\"");
			sonde_base64(o, m->body.p, m->body.len);
			sonde_buf_putc(o, '"');
		}
	}
	sonde_buf_putc(o, '}');
}

static void h1_summary(const struct sonde_msg *bm, struct sonde_buf *o)
{
	const struct h1_msg *m = (const struct h1_msg *)bm;
	if (!m->response) {
		sonde_buf_append(o, m->head + m->method.off, m->method.len);
		sonde_buf_putc(o, ' ');
		size_t tl = m->target.len > 120 ? 120 : m->target.len;
		for (size_t i = 0; i < tl; i++) {
			uint8_t c = m->head[m->target.off + i];
			sonde_buf_putc(o, c >= 0x20 && c < 0x7f ? (char)c : '?');
		}
		if (tl < m->target.len)
			sonde_buf_puts(o, "...");
	} else if (m->http09) {
		sonde_buf_puts(o, "(0.9)");
	} else {
		sonde_buf_printf(o, "%d", m->status);
	}
}

static const struct sonde_msg_ops h1_ops = {
	.protocol = "http",
	.write_json = h1_write_json,
	.summary = h1_summary,
	.free = msg_free,
};
