/* SPDX-License-Identifier: MIT */
/* The HTTP message (see http_msg.h): storage, lookup, body, and its fields. */
#include "proto/http/http_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/content/content.h"

static const struct sonde_msg_ops http_ops;

struct sonde_http_msg *sonde_http_msg_new(enum sonde_http_ver ver, bool response)
{
	struct sonde_http_msg *m = sonde_xcalloc(1, sizeof(*m));
	m->base.ops = &http_ops;
	m->base.kind = response ? SONDE_MSG_RESPONSE : SONDE_MSG_REQUEST;
	m->ver = ver;
	m->response = response;
	m->status = -1;
	return m;
}

/* ---------------------------------------------------------------- pool --- */

/* A spare is poisoned under AddressSanitizer, so a pointer kept to a freed
 * message still fails loudly while the message waits for reuse. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
static void spare_poison(struct sonde_http_msg *m, bool on)
{
	void (*how)(const volatile void *, size_t) =
		on ? __asan_poison_memory_region : __asan_unpoison_memory_region;
	if (!on)
		how(m, sizeof(*m));
	if (m->text.p)
		how(m->text.p, m->text.cap);
	if (m->body.p)
		how(m->body.p, m->body.cap);
	if (m->headers.f)
		how(m->headers.f, m->headers.cap * sizeof(*m->headers.f));
	if (m->trailers.f)
		how(m->trailers.f, m->trailers.cap * sizeof(*m->trailers.f));
	if (on)
		how(m, sizeof(*m));
}
#else
static void spare_poison(struct sonde_http_msg *m, bool on)
{
	(void)m, (void)on;
}
#endif

#define POOL_SPARES 4 /* in-order HTTP/1 needs two: a request and its response */
/* Buffers larger than these are freed, not kept in a spare. */
#define POOL_KEEP_TEXT 4096
#define POOL_KEEP_BODY 16384
#define POOL_KEEP_FIELDS 64

struct sonde_http_pool {
	struct sonde_http_msg *spare[POOL_SPARES];
	unsigned nspare;
	unsigned out; /* messages taken and not yet back */
	bool closed; /* the owner is gone: the last message out frees it */
};

struct sonde_http_pool *sonde_http_pool_new(void)
{
	return sonde_xcalloc(1, sizeof(struct sonde_http_pool));
}

static void msg_release(struct sonde_http_msg *m)
{
	sonde_buf_free(&m->text);
	sonde_buf_free(&m->body);
	free(m->headers.f);
	free(m->trailers.f);
	free(m);
}

void sonde_http_pool_close(struct sonde_http_pool *pool)
{
	if (!pool)
		return;
	for (unsigned i = 0; i < pool->nspare; i++) {
		spare_poison(pool->spare[i], false);
		msg_release(pool->spare[i]);
	}
	pool->nspare = 0;
	pool->closed = true;
	if (!pool->out)
		free(pool);
}

static void fields_keep(struct sonde_http_fields *fs)
{
	if (fs->cap > POOL_KEEP_FIELDS) {
		free(fs->f);
		fs->f = NULL;
		fs->cap = 0;
	}
	fs->n = 0;
}

static void buf_keep(struct sonde_buf *b, size_t most)
{
	if (b->cap > most)
		sonde_buf_free(b);
}

/* m, emptied as sonde_http_msg_new makes one, keeping its buffers. */
static void msg_empty(struct sonde_http_msg *m)
{
	struct sonde_buf text = m->text, body = m->body;
	struct sonde_http_fields hf = m->headers, tf = m->trailers;
	struct sonde_http_pool *pool = m->pool;
	buf_keep(&text, POOL_KEEP_TEXT);
	buf_keep(&body, POOL_KEEP_BODY);
	fields_keep(&hf);
	fields_keep(&tf);
	memset(m, 0, sizeof(*m));
	m->text = (struct sonde_buf){ .p = text.p, .cap = text.cap };
	m->body = (struct sonde_buf){ .p = body.p, .cap = body.cap };
	m->headers = hf;
	m->trailers = tf;
	m->pool = pool;
}

struct sonde_http_msg *sonde_http_msg_take(struct sonde_http_pool *pool, enum sonde_http_ver ver,
					   bool response)
{
	if (!pool)
		return sonde_http_msg_new(ver, response);
	struct sonde_http_msg *m;
	if (pool->nspare) {
		m = pool->spare[--pool->nspare];
		spare_poison(m, false);
		m->base.ops = &http_ops;
		m->base.kind = response ? SONDE_MSG_RESPONSE : SONDE_MSG_REQUEST;
		m->ver = ver;
		m->response = response;
		m->status = -1;
	} else {
		m = sonde_http_msg_new(ver, response);
		m->pool = pool;
	}
	pool->out++;
	return m;
}

static void http_free(struct sonde_msg *bm)
{
	struct sonde_http_msg *m = (struct sonde_http_msg *)bm;
	struct sonde_http_pool *pool = m->pool;
	if (m->cd && m->cd->free)
		m->cd->free(m->content);
	if (!pool) {
		msg_release(m);
		return;
	}
	pool->out--;
	if (!pool->closed && pool->nspare < POOL_SPARES) {
		msg_empty(m);
		spare_poison(m, true);
		pool->spare[pool->nspare++] = m;
		return;
	}
	msg_release(m);
	if (pool->closed && !pool->out)
		free(pool);
}

const uint8_t *sonde_http_txt(const struct sonde_http_msg *m, uint32_t off)
{
	static const uint8_t none[1];
	return m->text.p ? m->text.p + off : none;
}

void sonde_http_fields_add(struct sonde_http_fields *fs, struct sonde_http_field f)
{
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 16;
		fs->f = sonde_xrealloc(fs->f, fs->cap * sizeof(*fs->f));
	}
	fs->f[fs->n++] = f;
}

bool sonde_http_field_is(const struct sonde_http_msg *m, const struct sonde_http_field *f,
			 const char *name)
{
	size_t l = strlen(name);
	return f->nlen == l && !memcmp(sonde_http_txt(m, f->noff), name, l);
}

static bool ieq_lower(const uint8_t *p, size_t n, const char *lower)
{
	size_t l = strlen(lower);
	if (n != l)
		return false;
	for (size_t i = 0; i < l; i++) {
		uint8_t c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)lower[i])
			return false;
	}
	return true;
}

const struct sonde_http_field *sonde_http_find(const struct sonde_http_msg *m,
					       const struct sonde_http_fields *fs,
					       const char *lower)
{
	if (m->ver == SONDE_HTTP_1) {
		for (uint32_t i = 0; i < fs->n; i++)
			if (ieq_lower(sonde_http_txt(m, fs->f[i].noff), fs->f[i].nlen, lower))
				return &fs->f[i];
		return NULL;
	}
	for (uint32_t i = fs->n; i-- > 0;)
		if (sonde_http_field_is(m, &fs->f[i], lower))
			return &fs->f[i];
	return NULL;
}

const uint8_t *sonde_http_header(const struct sonde_http_msg *m, const char *lower, size_t *len)
{
	const struct sonde_http_field *f = sonde_http_find(m, &m->headers, lower);
	*len = f ? f->vlen : 0;
	return f ? sonde_http_txt(m, f->voff) : NULL;
}

const uint8_t *sonde_http_span_p(const struct sonde_http_msg *m, struct sonde_http_span s)
{
	return s.set ? sonde_http_txt(m, s.off) : NULL;
}

struct sonde_http_span sonde_http_target(const struct sonde_http_msg *m)
{
	static const struct sonde_http_span none;
	if (m->path.set)
		return m->path;
	return m->hpack_unknown ? none : m->authority;
}

void sonde_http_msg_body(struct sonde_http_msg *m, const uint8_t *p, size_t n, size_t limit,
			 struct sonde_stats *st)
{
	m->body_size += n;
	if (m->body_hole)
		return;
	if (m->cd && m->cd->body)
		m->cd->body(m->content, p, n);
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

void sonde_http_msg_decode(struct sonde_http_msg *m, size_t limit)
{
	struct sonde_buf out = { 0 };
	bool full;
	if (!m->body.len ||
	    !sonde_body_inflate(m->body.p, m->body.len, m->coding, limit, &out, &full))
		return;
	sonde_buf_free(&m->body);
	m->body = out;
	m->decoded = true;
	if (full)
		m->base.flags |= SONDE_MF_TRUNCATED;
}

size_t sonde_http_msg_mem(const struct sonde_http_msg *m)
{
	return sizeof(*m) + m->text.cap + m->body.cap +
	       (m->headers.cap + m->trailers.cap) * sizeof(struct sonde_http_field);
}

/* -------------------------------------------------------------- fields --- */

static void span_field(const struct sonde_field_ops *v, void *ctx, const struct sonde_http_msg *m,
		       const char *name, struct sonde_http_span s)
{
	if (s.set)
		v->str(ctx, name, sonde_http_txt(m, s.off), s.len);
	else
		v->null(ctx, name);
}

static void header_list(const struct sonde_field_ops *v, void *ctx, const struct sonde_http_msg *m,
			const char *name, const struct sonde_http_fields *fs)
{
	v->begin(ctx, name, SONDE_FG_LIST);
	for (uint32_t i = 0; i < fs->n; i++)
		v->header(ctx, sonde_http_txt(m, fs->f[i].noff), fs->f[i].nlen,
			  sonde_http_txt(m, fs->f[i].voff), fs->f[i].vlen);
	v->end(ctx, SONDE_FG_LIST);
}

static void body_fields(const struct sonde_field_ops *v, void *ctx, const struct sonde_http_msg *m)
{
	v->begin(ctx, "body", SONDE_FG_OBJECT);
	v->u64(ctx, "size", m->body_size);
	v->u64(ctx, "captured", m->body_captured);
	if (m->coding != SONDE_HTTP_CODING_NONE)
		sonde_field_cstr(v, ctx, "content_encoding", sonde_http_coding_name(m->coding));
	if (m->decoded) {
		v->boolean(ctx, "decoded", true);
		v->u64(ctx, "decoded_size", m->body.len);
	}
	if (m->body.len)
		v->bytes(ctx, "data", m->body.p, m->body.len);
	v->end(ctx, SONDE_FG_OBJECT);
}

static void content_fields(const struct sonde_field_ops *v, void *ctx,
			   const struct sonde_http_msg *m)
{
	if (m->cd)
		m->cd->fields(m, m->content, v, ctx);
}

static void http_fields(const struct sonde_msg *bm, const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_http_msg *m = (const struct sonde_http_msg *)bm;
	bool h2 = m->ver == SONDE_HTTP_2;
	if (!m->response) {
		span_field(v, ctx, m, "method", m->method);
		span_field(v, ctx, m, "target", sonde_http_target(m));
		if (h2) {
			span_field(v, ctx, m, "authority", m->authority);
			span_field(v, ctx, m, "scheme", m->scheme);
			if (m->pushed)
				v->boolean(ctx, "pushed", true);
		} else {
			/* HTTP/1's authority is its Host header: the same member
			 * as HTTP/2's, so a query for a host needs no version. */
			size_t hl;
			const uint8_t *host = sonde_http_header(m, "host", &hl);
			if (host)
				v->str(ctx, "authority", host, hl);
			else
				v->null(ctx, "authority");
		}
	} else if (m->reason.set || m->status >= 0) {
		v->i64(ctx, "status", m->status);
		if (m->reason.set)
			span_field(v, ctx, m, "reason", m->reason);
	} else {
		v->null(ctx, "status");
	}
	sonde_field_cstr(v, ctx, "version", m->base.version);
	if (h2)
		v->u64(ctx, "stream_id", m->stream_id);
	header_list(v, ctx, m, "headers", &m->headers);
	if (m->trailers.n)
		header_list(v, ctx, m, "trailers", &m->trailers);
	if (!h2)
		content_fields(v, ctx, m);
	if (m->hpack_unknown)
		v->u64(ctx, "hpack_unknown", m->hpack_unknown);
	if (m->ninterim) {
		v->begin(ctx, "interim", SONDE_FG_LIST);
		for (int i = 0; i < m->ninterim; i++)
			v->i64(ctx, NULL, m->interim[i]);
		v->end(ctx, SONDE_FG_LIST);
	}
	body_fields(v, ctx, m);
	if (h2)
		content_fields(v, ctx, m);
}

/* --------------------------------------------------------------- text --- */

static void put_printable(struct sonde_buf *o, const uint8_t *p, size_t n, size_t max)
{
	size_t l = n > max ? max : n;
	for (size_t i = 0; i < l; i++)
		sonde_buf_putc(o, p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?');
	if (l < n)
		sonde_buf_puts(o, "...");
}

static void http_summary(const struct sonde_msg *bm, struct sonde_buf *o)
{
	const struct sonde_http_msg *m = (const struct sonde_http_msg *)bm;
	if (!m->response) {
		/* HTTP/1's method went out as it came; HTTP/2's is shortened */
		if (m->ver == SONDE_HTTP_1)
			sonde_buf_append(o, sonde_http_txt(m, m->method.off), m->method.len);
		else if (m->method.set)
			put_printable(o, sonde_http_txt(m, m->method.off), m->method.len, 16);
		else
			sonde_buf_puts(o, "?");
		sonde_buf_putc(o, ' ');
		struct sonde_http_span t = sonde_http_target(m);
		/* Origin-form targets read better after their host. */
		size_t hl = 0;
		const uint8_t *host = m->ver == SONDE_HTTP_2 ? sonde_http_span_p(m, m->authority)
							     : sonde_http_header(m, "host", &hl);
		if (m->ver == SONDE_HTTP_2)
			hl = m->authority.len;
		if (host && t.set && t.len && sonde_http_txt(m, t.off)[0] == '/')
			put_printable(o, host, hl, 80);
		if (t.set)
			put_printable(o, sonde_http_txt(m, t.off), t.len, 120);
	} else if (m->reason.set || m->status >= 0) {
		sonde_buf_printf(o, "%d", m->status);
		if (m->reason.set && m->reason.len) {
			sonde_buf_putc(o, ' ');
			put_printable(o, sonde_http_txt(m, m->reason.off), m->reason.len, 40);
		}
	} else {
		sonde_buf_puts(o, m->ver == SONDE_HTTP_1 ? "(0.9)" : "(no status)");
	}
}

static enum sonde_outcome http_outcome(const struct sonde_msg *bm)
{
	const struct sonde_http_msg *m = (const struct sonde_http_msg *)bm;
	if (!m->response || m->status < 200)
		return SONDE_OUTCOME_UNKNOWN;
	return m->status < 300   ? SONDE_OUTCOME_OK
	       : m->status < 400 ? SONDE_OUTCOME_REDIRECT
	       : m->status < 500 ? SONDE_OUTCOME_CLIENT_ERROR
				 : SONDE_OUTCOME_SERVER_ERROR;
}

static const struct sonde_msg_ops http_ops = {
	.protocol = "http",
	.fields = http_fields,
	.summary = http_summary,
	.outcome = http_outcome,
	.free = http_free,
};
