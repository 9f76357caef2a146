/* SPDX-License-Identifier: MIT */
/*
 * gRPC message framing and JSON output (see grpc.h). Messages are written
 * from the body bytes the HTTP/2 dissector kept: each with its size and
 * compressed flag; its data inflated when compressed with gzip or deflate
 * (bounded by the body limit) and decoded as protobuf (protobuf.c), or
 * written as text or base64 when it does not decode. A message cut by the
 * body limit is written with "truncated":true and no data.
 */
#include <string.h>

#include <zlib.h>

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

void sonde_grpc_write_path(struct sonde_buf *o, const uint8_t *p, size_t n)
{
	const uint8_t *slash = n > 1 && p[0] == '/' ? memchr(p + 1, '/', n - 1) : NULL;
	if (!slash || slash == p + 1 || slash == p + n - 1 ||
	    memchr(slash + 1, '/', (size_t)(p + n - slash - 1))) {
		sonde_buf_puts(o, "\"service\":null,\"method\":null");
		return;
	}
	sonde_buf_puts(o, "\"service\":");
	sonde_json_str(o, p + 1, (size_t)(slash - p - 1));
	sonde_buf_puts(o, ",\"method\":");
	sonde_json_str(o, slash + 1, (size_t)(p + n - slash - 1));
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void sonde_grpc_write_pct(struct sonde_buf *o, const uint8_t *v, size_t n)
{
	struct sonde_buf t = { 0 };
	for (size_t i = 0; i < n; i++) {
		int a, b;
		if (v[i] == '%' && i + 2 < n && (a = hexval(v[i + 1])) >= 0 &&
		    (b = hexval(v[i + 2])) >= 0) {
			uint8_t c = (uint8_t)(a << 4 | b);
			sonde_buf_append(&t, &c, 1);
			i += 2;
		} else {
			sonde_buf_append(&t, &v[i], 1);
		}
	}
	static const uint8_t none[1];
	sonde_json_str(o, t.p ? t.p : none, t.len);
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

static void write_data(struct sonde_buf *o, const uint8_t *p, size_t n, bool json, size_t limit,
		       const struct sonde_pd_msg *type)
{
	struct sonde_pb_limits lim = { .max_depth = 8, .max_out = limit < 4096 ? 4096 : limit };
	if (!json && type) {
		size_t mark = o->len;
		sonde_buf_puts(o, ",\"type\":");
		sonde_json_cstr(o, sonde_pd_msg_name(type));
		sonde_buf_puts(o, ",\"fields\":");
		if (sonde_pd_decode(type, p, n, o, &lim) == SONDE_PB_OK)
			return;
		o->len = mark;
	}
	if (!json) {
		sonde_buf_puts(o, ",\"decoded\":");
		if (sonde_pb_decode(p, n, o, &lim) == SONDE_PB_OK)
			return;
		o->len -= strlen(",\"decoded\":");
	}
	size_t mark = o->len;
	sonde_buf_puts(o, ",\"encoding\":\"utf8\",\"data\":");
	if (sonde_json_str_utf8(o, p, n) < 0) {
		o->len = mark;
		sonde_buf_puts(o, ",\"encoding\":\"base64\",\"data\":\"");
		sonde_base64(o, p, n);
		sonde_buf_putc(o, '"');
	}
}

void sonde_grpc_write_messages(struct sonde_buf *o, const uint8_t *body, size_t len,
			       const struct sonde_grpc_framer *f, const uint8_t *enc,
			       size_t enclen, bool json, size_t limit,
			       const struct sonde_pd_msg *type)
{
	sonde_buf_puts(o, "\"message_count\":");
	sonde_buf_u64(o, f->count);
	sonde_buf_puts(o, ",\"messages\":[");
	size_t i = 0;
	unsigned k = 0;
	while (i < len && k < SONDE_GRPC_MAX_MESSAGES) {
		if (k++)
			sonde_buf_putc(o, ',');
		if (len - i < 5) {
			sonde_buf_puts(o, "{\"size\":null,\"truncated\":true}");
			break;
		}
		const uint8_t *h = body + i;
		uint32_t sz = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
		bool comp = h[0] & 1;
		sonde_buf_printf(o, "{\"size\":%u,\"compressed\":%s", sz, comp ? "true" : "false");
		i += 5;
		if (sz > len - i) {
			sonde_buf_puts(o, ",\"truncated\":true}");
			break;
		}
		const uint8_t *d = body + i;
		i += sz;
		if (comp) {
			bool gz = enc && ieq(enc, enclen, "gzip");
			bool df = enc && ieq(enc, enclen, "deflate");
			struct sonde_buf z = { 0 };
			if ((gz || df) && inflate_msg(d, sz, gz, limit, &z) == 0) {
				sonde_buf_puts(o, ",\"decompressed_size\":");
				sonde_buf_u64(o, z.len);
				static const uint8_t none[1];
				write_data(o, z.p ? z.p : none, z.len, json, limit, type);
			} else {
				sonde_buf_puts(o, ",\"decompressed\":false");
				write_data(o, d, sz, true, limit, NULL);
			}
			sonde_buf_free(&z);
		} else {
			write_data(o, d, sz, json, limit, type);
		}
		sonde_buf_putc(o, '}');
	}
	sonde_buf_putc(o, ']');
	if (f->count > k)
		sonde_buf_printf(o, ",\"messages_omitted\":%llu", (unsigned long long)(f->count - k));
}
