/* SPDX-License-Identifier: MIT */
/* The HTTP/2 message type: construction, field lookup, JSON and text output. */
#include "proto/http/http2_msg.h"

#include <stdlib.h>
#include <string.h>

#include "proto/http/body_decode.h"
#include "proto/content/graphql.h"

static const struct sonde_msg_ops h2_ops;

static void msg_free(struct sonde_msg *bm)
{
	struct h2_msg *m = (struct h2_msg *)bm;
	sonde_buf_free(&m->text);
	sonde_buf_free(&m->body);
	free(m->headers.f);
	free(m->trailers.f);
	free(m);
}

struct h2_msg *h2_msg_new(bool response, uint32_t sid, uint64_t ts)
{
	struct h2_msg *m = sonde_xcalloc(1, sizeof(*m));
	m->base.ops = &h2_ops;
	m->base.kind = response ? SONDE_MSG_RESPONSE : SONDE_MSG_REQUEST;
	m->base.pair_key = sid;
	m->base.version = "HTTP/2";
	m->base.ts_first = m->base.ts_last = ts;
	m->response = response;
	m->stream_id = sid;
	m->status = -1;
	m->method = m->path = m->authority = m->scheme = -1;
	return m;
}

void h2_fields_add(struct h2_fields *fs, struct h2_field f)
{
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 16;
		fs->f = sonde_xrealloc(fs->f, fs->cap * sizeof(*fs->f));
	}
	fs->f[fs->n++] = f;
}

/* Bytes of a message's text (which may be empty: no buffer at all). */
const uint8_t *h2_txt(const struct h2_msg *m, uint32_t off)
{
	static const uint8_t none[1];
	return m->text.p ? m->text.p + off : none;
}

bool h2_field_is(const struct h2_msg *m, const struct h2_field *f, const char *name)
{
	size_t l = strlen(name);
	return f->nlen == l && !memcmp(h2_txt(m, f->noff), name, l);
}

int h2_parse_status(const uint8_t *p, size_t n)
{
	if (n != 3)
		return -1;
	int v = 0;
	for (size_t i = 0; i < 3; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* The last field called name in fs, or NULL. */
const struct h2_field *h2_field_find(const struct h2_msg *m, const struct h2_fields *fs,
					 const char *name)
{
	for (uint32_t i = fs->n; i-- > 0;)
		if (h2_field_is(m, &fs->f[i], name))
			return &fs->f[i];
	return NULL;
}

void h2_msg_body_coding(struct h2_msg *m, bool decode, size_t limit)
{
	m->coding = SONDE_H1_CODING_NONE;
	for (uint32_t i = 0; i < m->headers.n; i++) {
		const struct h2_field *f = &m->headers.f[i];
		if (!h2_field_is(m, f, "content-encoding"))
			continue;
		enum sonde_h1_coding c = sonde_body_coding(h2_txt(m, f->voff), f->vlen);
		if (c != SONDE_H1_CODING_NONE)
			m->coding = c;
	}
	struct sonde_buf out = { 0 };
	bool full;
	if (!decode || !m->body.len ||
	    !sonde_body_inflate(m->body.p, m->body.len, m->coding, limit, &out, &full))
		return;
	m->body_captured = m->body.len;
	sonde_buf_free(&m->body);
	m->body = out;
	m->decoded = true;
	if (full)
		m->base.flags |= SONDE_MF_TRUNCATED;
}

/* Is the request GraphQL? With o, write its ,"graphql":{...} too. */
bool h2_graphql_request(const struct h2_msg *m, struct sonde_buf *o)
{
	if (m->method < 0 || m->path < 0)
		return false;
	const struct h2_field *me = &m->headers.f[m->method], *pa = &m->headers.f[m->path];
	const struct h2_field *ct = h2_field_find(m, &m->headers, "content-type");
	struct sonde_buf scratch = { 0 };
	bool r = sonde_graphql_request(o ? o : &scratch, h2_txt(m, me->voff), me->vlen,
				       h2_txt(m, pa->voff), pa->vlen, ct ? h2_txt(m, ct->voff) : NULL,
				       ct ? ct->vlen : 0, m->body.p, m->body.len);
	sonde_buf_free(&scratch);
	return r;
}

/* -------------------------------------------------------------- output --- */

static void write_fields(struct sonde_buf *o, const char *key, const struct h2_msg *m,
			 const struct h2_fields *fs)
{
	sonde_buf_putc(o, ',');
	sonde_json_key(o, key);
	sonde_buf_putc(o, '[');
	for (uint32_t i = 0; i < fs->n; i++) {
		if (i)
			sonde_buf_putc(o, ',');
		sonde_buf_putc(o, '[');
		sonde_json_str(o, h2_txt(m, fs->f[i].noff), fs->f[i].nlen);
		sonde_buf_putc(o, ',');
		sonde_json_str(o, h2_txt(m, fs->f[i].voff), fs->f[i].vlen);
		sonde_buf_putc(o, ']');
	}
	sonde_buf_putc(o, ']');
}

static void write_value(struct sonde_buf *o, const struct h2_msg *m, int32_t idx)
{
	if (idx < 0) {
		sonde_buf_puts(o, "null");
		return;
	}
	const struct h2_field *f = &m->headers.f[idx];
	sonde_json_str(o, h2_txt(m, f->voff), f->vlen);
}

/* The "grpc" object: call name (request), status (response), messages. */
static void write_grpc(struct sonde_buf *o, const struct h2_msg *m)
{
	sonde_buf_puts(o, ",\"grpc\":{");
	if (!m->response) {
		if (m->path >= 0)
			sonde_grpc_write_path(o, h2_txt(m, m->headers.f[m->path].voff),
					      m->headers.f[m->path].vlen);
		else
			sonde_buf_puts(o, "\"service\":null,\"method\":null");
	} else {
		/* from the trailers, or the headers of a trailers-only response */
		const struct h2_field *gs = h2_field_find(m, &m->trailers, "grpc-status");
		const struct h2_field *gm = h2_field_find(m, &m->trailers, "grpc-message");
		if (!gs) {
			gs = h2_field_find(m, &m->headers, "grpc-status");
			gm = h2_field_find(m, &m->headers, "grpc-message");
		}
		long v = -1;
		if (gs && gs->vlen && gs->vlen <= 9) {
			v = 0;
			for (uint32_t i = 0; i < gs->vlen && v >= 0; i++) {
				uint8_t c = h2_txt(m, gs->voff)[i];
				v = c >= '0' && c <= '9' ? v * 10 + (c - '0') : -1;
			}
		}
		if (v < 0)
			sonde_buf_puts(o, "\"status\":null");
		else
			sonde_buf_printf(o, "\"status\":%ld", v);
		if (gm) {
			sonde_buf_puts(o, ",\"message\":");
			sonde_grpc_write_pct(o, h2_txt(m, gm->voff), gm->vlen);
		}
	}
	const struct h2_field *enc = h2_field_find(m, &m->headers, "grpc-encoding");
	if (enc) {
		sonde_buf_puts(o, ",\"encoding\":");
		sonde_json_str(o, h2_txt(m, enc->voff), enc->vlen);
	}
	const struct h2_field *ct = h2_field_find(m, &m->headers, "content-type");
	bool json = ct && ct->vlen >= 5 && !memcmp(h2_txt(m, ct->voff + ct->vlen - 5), "+json", 5);
	sonde_buf_putc(o, ',');
	static const uint8_t none[1];
	sonde_grpc_write_messages(o, m->body.p ? m->body.p : none, m->body.len, &m->gf,
				  enc ? h2_txt(m, enc->voff) : NULL, enc ? enc->vlen : 0, json,
				  m->grpc_limit, m->pb_type);
	sonde_buf_putc(o, '}');
}

static void h2_write_json(const struct sonde_msg *bm, struct sonde_buf *o)
{
	const struct h2_msg *m = (const struct h2_msg *)bm;
	if (!m->response) {
		sonde_json_key(o, "method");
		write_value(o, m, m->method);
		sonde_buf_putc(o, ',');
		sonde_json_key(o, "target");
		/* CONNECT has no :path: its target is the authority (unless
		 * the :path may be among fields HPACK could not resolve) */
		write_value(o, m, m->path >= 0 ? m->path : m->hpack_unknown ? -1 : m->authority);
		sonde_buf_putc(o, ',');
		sonde_json_key(o, "authority");
		write_value(o, m, m->authority);
		sonde_buf_putc(o, ',');
		sonde_json_key(o, "scheme");
		write_value(o, m, m->scheme);
		if (m->pushed)
			sonde_buf_puts(o, ",\"pushed\":true");
	} else if (m->status < 0) {
		sonde_buf_puts(o, "\"status\":null");
	} else {
		sonde_buf_printf(o, "\"status\":%d", m->status);
	}
	sonde_buf_puts(o, ",\"version\":");
	sonde_json_cstr(o, m->base.version);
	sonde_buf_printf(o, ",\"stream_id\":%u", m->stream_id);
	write_fields(o, "headers", m, &m->headers);
	if (m->trailers.n)
		write_fields(o, "trailers", m, &m->trailers);
	if (m->hpack_unknown)
		sonde_buf_printf(o, ",\"hpack_unknown\":%u", m->hpack_unknown);
	if (m->ninterim) {
		sonde_buf_puts(o, ",\"interim\":[");
		for (int i = 0; i < m->ninterim; i++)
			sonde_buf_printf(o, "%s%d", i ? "," : "", m->interim[i]);
		sonde_buf_putc(o, ']');
	}
	sonde_buf_puts(o, ",\"body\":{\"size\":");
	sonde_buf_u64(o, m->body_size);
	sonde_buf_puts(o, ",\"captured\":");
	sonde_buf_u64(o, m->decoded ? m->body_captured : m->body.len);
	if (m->coding != SONDE_H1_CODING_NONE) {
		static const char *const names[] = { [SONDE_H1_CODING_GZIP] = "gzip",
						     [SONDE_H1_CODING_DEFLATE] = "deflate",
						     [SONDE_H1_CODING_OTHER] = "other" };
		sonde_buf_puts(o, ",\"content_encoding\":");
		sonde_json_cstr(o, names[m->coding]);
	}
	if (m->decoded)
		sonde_buf_printf(o, ",\"decoded\":true,\"decoded_size\":%zu", m->body.len);
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
	if (m->grpc)
		write_grpc(o, m);
	else if (m->graphql && !m->response)
		h2_graphql_request(m, o);
	else if (m->graphql)
		sonde_buf_printf(o, ",\"graphql\":{\"errors\":%s}", m->gql_errors ? "true" : "false");
}

static void put_printable(struct sonde_buf *o, const uint8_t *p, size_t n, size_t max)
{
	size_t l = n > max ? max : n;
	for (size_t i = 0; i < l; i++)
		sonde_buf_putc(o, p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?');
	if (l < n)
		sonde_buf_puts(o, "...");
}

static void h2_summary(const struct sonde_msg *bm, struct sonde_buf *o)
{
	const struct h2_msg *m = (const struct h2_msg *)bm;
	if (!m->response) {
		if (m->method >= 0)
			put_printable(o, h2_txt(m, m->headers.f[m->method].voff),
				      m->headers.f[m->method].vlen, 16);
		else
			sonde_buf_puts(o, "?");
		sonde_buf_putc(o, ' ');
		int32_t t = m->path >= 0 ? m->path : m->hpack_unknown ? -1 : m->authority;
		if (t >= 0)
			put_printable(o, h2_txt(m, m->headers.f[t].voff), m->headers.f[t].vlen, 120);
	} else if (m->status < 0) {
		sonde_buf_puts(o, "(no status)");
	} else {
		sonde_buf_printf(o, "%d", m->status);
	}
}

static const struct sonde_msg_ops h2_ops = {
	.protocol = "http",
	.write_json = h2_write_json,
	.summary = h2_summary,
	.free = msg_free,
};
