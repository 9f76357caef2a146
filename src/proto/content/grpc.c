/* SPDX-License-Identifier: MIT */
/*
 * gRPC message framing, its fields, and the gRPC content dissector (see
 * grpc.h, content.h). Messages are written
 * from the body bytes the HTTP/2 dissector kept: each with its size and
 * compressed flag; its data inflated when compressed with gzip or deflate
 * (bounded by the body limit) and decoded as protobuf (protobuf.c), or
 * written as text or base64 when it does not decode. A message cut by the
 * body limit is written with "truncated":true and no data.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/hex.h"
#include "proto/content/content.h"
#include "proto/content/grpc.h"
#include "proto/content/protobuf.h"
#include "proto/content/protodesc.h"

void sonde_grpc_feed(struct sonde_grpc_framer *f, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (f->rem) {
			size_t k = n - i < f->rem ? n - i : (size_t)f->rem;
			f->rem -= k;
			i += k;
			continue;
		}
		f->hdr[f->hlen++] = p[i++];
		if (f->hlen == 1)
			f->count++;
		if (f->hlen < 5)
			continue;
		f->hlen = 0;
		f->rem = (uint32_t)f->hdr[1] << 24 | (uint32_t)f->hdr[2] << 16 |
			 (uint32_t)f->hdr[3] << 8 | f->hdr[4];
	}
}

static bool ieq(const uint8_t *p, size_t n, const char *s)
{
	size_t l = strlen(s);
	if (n != l)
		return false;
	for (size_t i = 0; i < l; i++) {
		uint8_t c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)s[i])
			return false;
	}
	return true;
}

bool sonde_grpc_content_type(const uint8_t *v, size_t n)
{
	static const char pre[] = "application/grpc";
	size_t l = sizeof(pre) - 1;
	/* parameters (";...") are ignored */
	for (size_t i = 0; i < n; i++)
		if (v[i] == ';') {
			n = i;
			break;
		}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n < l || !ieq(v, l, pre))
		return false;
	return n == l || v[l] == '+';
}

void sonde_grpc_path_fields(const uint8_t *p, size_t n, const struct sonde_field_ops *v, void *ctx)
{
	const uint8_t *slash = n > 1 && p[0] == '/' ? memchr(p + 1, '/', n - 1) : NULL;
	if (!slash || slash == p + 1 || slash == p + n - 1 ||
	    memchr(slash + 1, '/', (size_t)(p + n - slash - 1))) {
		v->null(ctx, "service");
		v->null(ctx, "method");
		return;
	}
	v->str(ctx, "service", p + 1, (size_t)(slash - p - 1));
	v->str(ctx, "method", slash + 1, (size_t)(p + n - slash - 1));
}

void sonde_grpc_pct_field(const char *name, const uint8_t *p, size_t n,
			  const struct sonde_field_ops *v, void *ctx)
{
	static const uint8_t none[1];
	struct sonde_buf t = { 0 };
	for (size_t i = 0; i < n; i++) {
		int byte;
		if (p[i] == '%' && i + 2 < n && (byte = sonde_hexbyte(p[i + 1], p[i + 2])) >= 0) {
			uint8_t c = (uint8_t)byte;
			sonde_buf_append(&t, &c, 1);
			i += 2;
		} else {
			sonde_buf_append(&t, &p[i], 1);
		}
	}
	v->str(ctx, name, t.p ? t.p : none, t.len);
	sonde_buf_free(&t);
}

/* Inflate gzip (or zlib/raw deflate) data into out, at most limit bytes.
 * Returns 0 when the whole stream inflated within the limit. */
static int inflate_msg(const uint8_t *p, size_t n, bool gzip, size_t limit, struct sonde_buf *out)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* gzip: 16+15; deflate as gRPC means it: zlib format, auto-detected by 32+15 */
	if (inflateInit2(&z, gzip ? 16 + 15 : 32 + 15) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)(n > 0x7fffffff ? 0x7fffffff : n);
	int rv = -1;
	for (;;) {
		if (out->len >= limit)
			break;
		size_t room = limit - out->len;
		if (room > 65536)
			room = 65536;
		sonde_buf_reserve(out, room);
		z.next_out = out->p + out->len;
		z.avail_out = (uInt)room;
		int zr = inflate(&z, Z_NO_FLUSH);
		out->len += room - z.avail_out;
		if (zr == Z_STREAM_END) {
			rv = z.avail_in == 0 ? 0 : -1;
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			break;
		if (zr == Z_BUF_ERROR && z.avail_out)
			break; /* input ended inside the stream */
	}
	inflateEnd(&z);
	return rv;
}

/* One message's data: decoded by its schema, or without one, else as bytes.
 * Decoders render JSON themselves (their bounds are JSON bytes). */
static void data_fields(const uint8_t *p, size_t n, bool json, size_t limit,
			const struct sonde_pd_msg *type, const struct sonde_field_ops *v, void *ctx)
{
	struct sonde_pb_limits lim = { .max_depth = 8, .max_out = limit < 4096 ? 4096 : limit };
	struct sonde_buf t = { 0 };
	if (!json && type && sonde_pd_decode(type, p, n, &t, &lim) == SONDE_PB_OK) {
		sonde_field_cstr(v, ctx, "type", sonde_pd_msg_name(type));
		v->json(ctx, "fields", t.p, t.len);
	} else if (!json && sonde_pb_decode(p, n, &t, &lim) == SONDE_PB_OK) {
		v->json(ctx, "decoded", t.p, t.len);
	} else {
		v->bytes(ctx, "data", p, n);
	}
	sonde_buf_free(&t);
}

void sonde_grpc_messages_fields(const uint8_t *body, size_t len, const struct sonde_grpc_framer *f,
				const uint8_t *enc, size_t enclen, bool json, size_t limit,
				const struct sonde_pd_msg *type, const struct sonde_field_ops *v,
				void *ctx)
{
	static const uint8_t none[1];
	v->u64(ctx, "message_count", f->count);
	v->begin(ctx, "messages", SONDE_FG_LIST);
	size_t i = 0;
	unsigned k = 0;
	while (i < len && k < SONDE_GRPC_MAX_MESSAGES) {
		k++;
		v->begin(ctx, NULL, SONDE_FG_OBJECT);
		if (len - i < 5) {
			v->null(ctx, "size");
			v->boolean(ctx, "truncated", true);
			v->end(ctx, SONDE_FG_OBJECT);
			break;
		}
		const uint8_t *h = body + i;
		uint32_t sz =
			(uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
		bool comp = h[0] & 1;
		v->u64(ctx, "size", sz);
		v->boolean(ctx, "compressed", comp);
		i += 5;
		if (sz > len - i) {
			v->boolean(ctx, "truncated", true);
			v->end(ctx, SONDE_FG_OBJECT);
			break;
		}
		const uint8_t *d = body + i;
		i += sz;
		if (comp) {
			bool gz = enc && ieq(enc, enclen, "gzip");
			bool df = enc && ieq(enc, enclen, "deflate");
			struct sonde_buf z = { 0 };
			if ((gz || df) && inflate_msg(d, sz, gz, limit, &z) == 0) {
				v->u64(ctx, "decompressed_size", z.len);
				data_fields(z.p ? z.p : none, z.len, json, limit, type, v, ctx);
			} else {
				v->boolean(ctx, "decompressed", false);
				data_fields(d, sz, true, limit, NULL, v, ctx);
			}
			sonde_buf_free(&z);
		} else {
			data_fields(d, sz, json, limit, type, v, ctx);
		}
		v->end(ctx, SONDE_FG_OBJECT);
	}
	v->end(ctx, SONDE_FG_LIST);
	if (f->count > k)
		v->u64(ctx, "messages_omitted", f->count - k);
}

/* ------------------------------------------------------ content dissector --- */

struct grpc_state {
	struct sonde_grpc_framer f;
	size_t limit; /* the body limit, for message decoding */
	const struct sonde_pd_msg *type; /* its messages' type (--proto-descriptor) */
};

static bool grpc_match_head(const struct sonde_http_msg *m)
{
	size_t n;
	const uint8_t *ct = sonde_http_header(m, "content-type", &n);
	return ct && sonde_grpc_content_type(ct, n);
}

static void *grpc_open(const struct sonde_http_msg *m)
{
	(void)m;
	return sonde_xcalloc(1, sizeof(struct grpc_state));
}

static void grpc_body(void *st, const uint8_t *p, size_t n)
{
	struct grpc_state *g = st;
	sonde_grpc_feed(&g->f, p, n);
}

static void *grpc_finish(struct sonde_http_msg *m, void *st, const struct sonde_content_ctx *c)
{
	(void)m;
	struct grpc_state *g = st;
	g->limit = c->body_limit;
	g->type = c->schema;
	return g;
}

/* The "grpc" object: call name (request), status (response), messages. */
static void grpc_fields(const struct sonde_http_msg *m, const void *st,
			const struct sonde_field_ops *v, void *ctx)
{
	static const uint8_t none[1];
	const struct grpc_state *g = st;
	v->begin(ctx, "grpc", SONDE_FG_OBJECT);
	if (!m->response) {
		if (m->path.set)
			sonde_grpc_path_fields(sonde_http_txt(m, m->path.off), m->path.len, v, ctx);
		else {
			v->null(ctx, "service");
			v->null(ctx, "method");
		}
	} else {
		/* from the trailers, or the headers of a trailers-only response */
		const struct sonde_http_field *gs = sonde_http_find(m, &m->trailers, "grpc-status");
		const struct sonde_http_field *gm =
			sonde_http_find(m, &m->trailers, "grpc-message");
		if (!gs) {
			gs = sonde_http_find(m, &m->headers, "grpc-status");
			gm = sonde_http_find(m, &m->headers, "grpc-message");
		}
		long val = -1;
		if (gs && gs->vlen && gs->vlen <= 9) {
			val = 0;
			for (uint32_t i = 0; i < gs->vlen && val >= 0; i++) {
				uint8_t c = sonde_http_txt(m, gs->voff)[i];
				val = c >= '0' && c <= '9' ? val * 10 + (c - '0') : -1;
			}
		}
		if (val < 0)
			v->null(ctx, "status");
		else
			v->i64(ctx, "status", val);
		if (gm)
			sonde_grpc_pct_field("message", sonde_http_txt(m, gm->voff), gm->vlen, v,
					     ctx);
	}
	const struct sonde_http_field *enc = sonde_http_find(m, &m->headers, "grpc-encoding");
	if (enc)
		v->str(ctx, "encoding", sonde_http_txt(m, enc->voff), enc->vlen);
	size_t ctlen;
	const uint8_t *ct = sonde_http_header(m, "content-type", &ctlen);
	bool json = ct && ctlen >= 5 && !memcmp(ct + ctlen - 5, "+json", 5);
	sonde_grpc_messages_fields(m->body.p ? m->body.p : none, m->body.len, &g->f,
				   enc ? sonde_http_txt(m, enc->voff) : NULL, enc ? enc->vlen : 0,
				   json, g->limit, g->type, v, ctx);
	v->end(ctx, SONDE_FG_OBJECT);
}

const struct sonde_content_dissector sonde_content_grpc = {
	.name = "grpc",
	.versions = SONDE_CONTENT_VER(SONDE_HTTP_2), /* gRPC runs over HTTP/2 only */
	.match_head = grpc_match_head,
	.open = grpc_open,
	.body = grpc_body,
	.finish = grpc_finish,
	.fields = grpc_fields,
	.free = free,
};
