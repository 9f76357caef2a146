/* SPDX-License-Identifier: MIT */
/* HTTP/2 messages from header blocks (see http2_msg.h). */
#include "proto/http/http2_msg.h"

#include <string.h>

#include "proto/http/body_decode.h"

struct sonde_http_msg *h2_msg_new(bool response, uint32_t sid, uint64_t ts)
{
	struct sonde_http_msg *m = sonde_http_msg_new(SONDE_HTTP_2, response);
	m->base.pair_key = sid;
	m->base.version = "HTTP/2";
	m->base.ts_first = m->base.ts_last = ts;
	m->stream_id = sid;
	return m;
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

void h2_msg_pseudo(struct sonde_http_msg *m, const struct sonde_http_field *f)
{
	struct sonde_http_span v = { f->voff, f->vlen, true };
	if (sonde_http_field_is(m, f, ":method"))
		m->method = v;
	else if (sonde_http_field_is(m, f, ":path"))
		m->path = v;
	else if (sonde_http_field_is(m, f, ":authority"))
		m->authority = v;
	else if (sonde_http_field_is(m, f, ":scheme"))
		m->scheme = v;
	else if (sonde_http_field_is(m, f, ":status"))
		m->status = h2_parse_status(sonde_http_txt(m, f->voff), f->vlen);
}

void h2_msg_reset_head(struct sonde_http_msg *m)
{
	static const struct sonde_http_span none;
	m->headers.n = 0; /* no trailers yet: the text is all headers */
	sonde_buf_reset(&m->text);
	m->status = -1;
	m->method = m->path = m->authority = m->scheme = none;
}

void h2_msg_body_coding(struct sonde_http_msg *m, bool decode, size_t limit)
{
	m->coding = SONDE_HTTP_CODING_NONE;
	for (uint32_t i = 0; i < m->headers.n; i++) {
		const struct sonde_http_field *f = &m->headers.f[i];
		if (!sonde_http_field_is(m, f, "content-encoding"))
			continue;
		enum sonde_http_coding c = sonde_body_coding(sonde_http_txt(m, f->voff), f->vlen);
		if (c != SONDE_HTTP_CODING_NONE)
			m->coding = c;
	}
	m->body_captured = m->body.len;
	if (decode)
		sonde_http_msg_decode(m, limit);
}
