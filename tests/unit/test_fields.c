/* SPDX-License-Identifier: MIT */
/*
 * The field visitor seam (core/fields.h), used by visitors other than JSON
 * over real messages from the HTTP/1 and HTTP/2 dissectors: one that
 * collects dotted names and values (what a filter language looks up, e.g.
 * "response.status"), checked for HTTP/1 (request line, headers, GraphQL,
 * interim codes, body) and HTTP/2 (stream id, pseudo-header start line, gRPC
 * call and status from trailers, decoded messages); and a masking visitor
 * that rewrites a header's value by name in front of the JSON visitor,
 * without any protocol knowing of it.
 */
#include <nghttp2/nghttp2.h>
#include <strings.h>

#include "testutil.h"

#include "core/fields.h"
#include "sink/render.h"

extern const struct sonde_dissector sonde_dissector_http1;
extern const struct sonde_dissector sonde_dissector_http2;

#define TS 1700000000000000000ull
#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

/* ------------------------------------------------------ dotted visitor --- */

#define MAX_ENTRIES 512
#define MAX_DEPTH 16

struct dotted {
	char *names[MAX_ENTRIES], *values[MAX_ENTRIES];
	size_t n;
	/* the path so far, and for each level its length and list counter */
	char path[256];
	size_t plen[MAX_DEPTH];
	int index[MAX_DEPTH]; /* -1: an object; else the next list index */
	unsigned depth;
};

/* The path of the next value: path.name, or path[i] inside a list. */
static void push_name(struct dotted *d, const char *name, char *out, size_t cap)
{
	int idx = d->index[d->depth];
	if (idx >= 0) {
		snprintf(out, cap, "%s[%d]", d->path, idx);
		d->index[d->depth]++;
	} else {
		snprintf(out, cap, "%s%s%s", d->path, d->path[0] ? "." : "", name ? name : "?");
	}
}

static void add(struct dotted *d, const char *name, const char *value, size_t vlen)
{
	char full[600];
	push_name(d, name, full, sizeof(full));
	assert_true(d->n < MAX_ENTRIES);
	d->names[d->n] = tu_strndup(full, strlen(full));
	d->values[d->n] = tu_strndup(value, vlen);
	d->n++;
}

static void d_str(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	add(ctx, name, (const char *)p, n);
}

static void d_null(void *ctx, const char *name)
{
	add(ctx, name, "null", 4);
}

static void d_u64(void *ctx, const char *name, uint64_t v)
{
	char b[32];
	snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	add(ctx, name, b, strlen(b));
}

static void d_i64(void *ctx, const char *name, int64_t v)
{
	char b[32];
	snprintf(b, sizeof(b), "%lld", (long long)v);
	add(ctx, name, b, strlen(b));
}

static void d_bool(void *ctx, const char *name, bool v)
{
	add(ctx, name, v ? "true" : "false", v ? 4 : 5);
}

static void d_bytes(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	add(ctx, name, (const char *)p, n); /* raw: this visitor keeps bytes as they are */
}

static void d_begin(void *ctx, const char *name, enum sonde_field_group g)
{
	struct dotted *d = ctx;
	char full[600];
	push_name(d, name, full, sizeof(full));
	assert_true(d->depth + 1 < MAX_DEPTH);
	d->plen[d->depth] = strlen(d->path);
	d->depth++;
	size_t l = strlen(full);
	assert_true(l < sizeof(d->path));
	memcpy(d->path, full, l + 1);
	d->index[d->depth] = g == SONDE_FG_LIST ? 0 : -1;
}

static void d_end(void *ctx, enum sonde_field_group g)
{
	struct dotted *d = ctx;
	assert_true(d->depth > 0);
	assert_int_equal(d->index[d->depth] >= 0, g == SONDE_FG_LIST);
	d->depth--;
	d->path[d->plen[d->depth]] = 0;
}

/* A header is "name: value" at path[i]. */
static void d_header(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
	char b[512];
	int k = snprintf(b, sizeof(b), "%.*s: %.*s", (int)nlen, (const char *)name, (int)vlen,
			 (const char *)value);
	add(ctx, NULL, b, (size_t)k);
}

static void d_json(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	add(ctx, name, (const char *)p, n);
}

static const struct sonde_field_ops dotted_ops = {
	.str = d_str,
	.null = d_null,
	.u64 = d_u64,
	.i64 = d_i64,
	.boolean = d_bool,
	.bytes = d_bytes,
	.begin = d_begin,
	.end = d_end,
	.header = d_header,
	.json = d_json,
};

/* The value of a dotted name, or NULL (what a filter's lookup does). */
static const char *lookup(const struct dotted *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->names[i], name))
			return d->values[i];
	return NULL;
}

static void dotted_free(struct dotted *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->names[i]);
		free(d->values[i]);
	}
	memset(d, 0, sizeof(*d));
}

/* Walk a message under the top-level name ("request", "response"). */
static void walk(struct dotted *d, const char *top, const struct sonde_msg *m)
{
	d->index[0] = -1;
	d_begin(d, top, SONDE_FG_OBJECT);
	m->ops->fields(m, &dotted_ops, d);
	d_end(d, SONDE_FG_OBJECT);
	assert_int_equal(d->depth, 0);
}

/* ----------------------------------------------------- masking visitor --- */

/* Forwards everything to the JSON visitor, but a header named `name`
 * (any case) gets the value "***". */
struct mask {
	struct sonde_json_fields json;
	const char *name;
};

#define FWD(call) sonde_json_field_ops.call
static void m_str(void *c, const char *n, const uint8_t *p, size_t l) { FWD(str)(&((struct mask *)c)->json, n, p, l); }
static void m_null(void *c, const char *n) { FWD(null)(&((struct mask *)c)->json, n); }
static void m_u64(void *c, const char *n, uint64_t v) { FWD(u64)(&((struct mask *)c)->json, n, v); }
static void m_i64(void *c, const char *n, int64_t v) { FWD(i64)(&((struct mask *)c)->json, n, v); }
static void m_bool(void *c, const char *n, bool v) { FWD(boolean)(&((struct mask *)c)->json, n, v); }
static void m_bytes(void *c, const char *n, const uint8_t *p, size_t l) { FWD(bytes)(&((struct mask *)c)->json, n, p, l); }
static void m_begin(void *c, const char *n, enum sonde_field_group g) { FWD(begin)(&((struct mask *)c)->json, n, g); }
static void m_end(void *c, enum sonde_field_group g) { FWD(end)(&((struct mask *)c)->json, g); }
static void m_json(void *c, const char *n, const uint8_t *p, size_t l) { FWD(json)(&((struct mask *)c)->json, n, p, l); }
#undef FWD

static void m_header(void *c, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
	struct mask *k = c;
	if (nlen == strlen(k->name) && !strncasecmp((const char *)name, k->name, nlen)) {
		value = (const uint8_t *)"***";
		vlen = 3;
	}
	sonde_json_field_ops.header(&k->json, name, nlen, value, vlen);
}

static const struct sonde_field_ops mask_ops = {
	.str = m_str,
	.null = m_null,
	.u64 = m_u64,
	.i64 = m_i64,
	.boolean = m_bool,
	.bytes = m_bytes,
	.begin = m_begin,
	.end = m_end,
	.header = m_header,
	.json = m_json,
};

/* ------------------------------------------------------------ harness --- */

/* Records are walked as they are emitted (their messages are freed after). */
struct seen {
	struct dotted d;
	struct sonde_buf masked; /* the request, masked, as JSON members */
	size_t records;
};

static void seen_emit(void *ctx, const struct sonde_record *r)
{
	struct seen *s = ctx;
	s->records++;
	if (r->req)
		walk(&s->d, "request", r->req);
	if (r->resp)
		walk(&s->d, "response", r->resp);
	if (r->req) {
		struct mask k = { .name = "authorization" };
		sonde_json_fields_init(&k.json, &s->masked, false);
		r->req->ops->fields(r->req, &mask_ops, &k);
	}
}

static void open_with(struct tu_h1 *h, struct sonde_record_out *out, struct seen *s,
		      const struct sonde_dissector *d)
{
	tu_h1_open(h, NULL, false, false);
	if (d != h->d) {
		h->d->close(h->state, 0);
		h->d = d;
		h->state = h->d->open(&h->sess);
	}
	out->emit = seen_emit;
	out->ctx = s;
	h->sess.pairing.out = out; /* walk records instead of collecting JSON */
}

/* --------------------------------------------------------------- HTTP/1 --- */

static void test_http1_fields(void **state)
{
	(void)state;
	static struct tu_h1 h;
	static struct seen s;
	static struct sonde_record_out out;
	memset(&s, 0, sizeof(s));
	open_with(&h, &out, &s, &sonde_dissector_http1);
	static const char body[] = "{\"query\":\"query Me { me { id } }\"}";
	char req[512];
	snprintf(req, sizeof(req),
		 "POST /graphql?x=1 HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer secret\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 sizeof(body) - 1, body);
	tu_h1_str(&h, SONDE_DIR_C2S, req, TS);
	tu_h1_str(&h, SONDE_DIR_S2C,
		  "HTTP/1.1 100 Continue\r\n\r\n"
		  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n"
		  "{\"errors\":[{\"m\":1}],\"x\":0}", TS + 1000);
	tu_h1_close(&h, TS + 2000);
	assert_int_equal(s.records, 1);
	struct dotted *d = &s.d;
	assert_string_equal(lookup(d, "request.method"), "POST");
	assert_string_equal(lookup(d, "request.target"), "/graphql?x=1");
	assert_string_equal(lookup(d, "request.version"), "HTTP/1.1");
	assert_string_equal(lookup(d, "request.headers[0]"), "Host: api");
	assert_string_equal(lookup(d, "request.headers[1]"), "Authorization: Bearer secret");
	assert_string_equal(lookup(d, "request.graphql.transport"), "json");
	assert_string_equal(lookup(d, "request.graphql.requests[0].operations[0].type"), "query");
	assert_string_equal(lookup(d, "request.graphql.requests[0].operations[0].name"), "Me");
	assert_string_equal(lookup(d, "request.graphql.requests[0].operations[0].fields[0]"), "me");
	assert_string_equal(lookup(d, "request.body.data"), body);
	assert_null(lookup(d, "request.stream_id")); /* HTTP/2 only */
	assert_string_equal(lookup(d, "response.status"), "200");
	assert_string_equal(lookup(d, "response.reason"), "OK");
	assert_string_equal(lookup(d, "response.interim[0]"), "100");
	assert_string_equal(lookup(d, "response.graphql.errors"), "true");
	assert_string_equal(lookup(d, "response.body.size"), "25");
	assert_string_equal(lookup(d, "response.body.captured"), "25");
	/* the masking visitor changed the one header, and only in its output */
	sonde_buf_putc(&s.masked, 0);
	const char *j = (const char *)s.masked.p;
	assert_non_null(strstr(j, "[\"Authorization\",\"***\"]"));
	assert_null(strstr(j, "secret"));
	assert_non_null(strstr(j, "[\"Host\",\"api\"]"));
	assert_true(j[0] == '"'); /* a fresh object's members: no leading comma */
	dotted_free(d);
	sonde_buf_free(&s.masked);
	tu_h1_free(&h);
}

/* --------------------------------------------------------------- HTTP/2 --- */

static void frame(struct tu_bytes *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
		  size_t n)
{
	tu_u8(b, (uint8_t)(n >> 16));
	tu_be16(b, (uint16_t)n);
	tu_u8(b, type);
	tu_u8(b, flags);
	tu_be32(b, sid);
	if (n)
		tu_bytes_put(b, p, n);
}

/* One HEADERS frame (END_HEADERS) of HPACK-encoded pairs, NULL-terminated. */
static void headers(struct tu_bytes *b, nghttp2_hd_deflater *def, uint32_t sid, bool end_stream,
		    const char *const *nv)
{
	nghttp2_nv a[16];
	size_t n = 0;
	for (; nv[2 * n]; n++) {
		a[n].name = (uint8_t *)(uintptr_t)nv[2 * n];
		a[n].namelen = strlen(nv[2 * n]);
		a[n].value = (uint8_t *)(uintptr_t)nv[2 * n + 1];
		a[n].valuelen = strlen(nv[2 * n + 1]);
		a[n].flags = NGHTTP2_NV_FLAG_NONE;
	}
	uint8_t buf[1024];
	ssize_t r = nghttp2_hd_deflate_hd(def, buf, sizeof(buf), a, n);
	assert_true(r > 0);
	frame(b, 1, 0x4 | (end_stream ? 1 : 0), sid, buf, (size_t)r);
}

static void test_http2_fields(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	nghttp2_hd_deflater *dc, *ds;
	assert_int_equal(nghttp2_hd_deflate_new(&dc, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	tu_bytes_str(&c2s, PREFACE);
	frame(&c2s, 4, 0, 0, NULL, 0);
	frame(&s2c, 4, 0, 0, NULL, 0);
	static const char *const rq[] = { ":method", "POST", ":scheme", "http", ":path",
					  "/pkg.Svc/Get", ":authority", "grpc.local",
					  "content-type", "application/grpc", NULL };
	static const char *const rs[] = { ":status", "200", "content-type", "application/grpc", NULL };
	static const char *const tr[] = { "grpc-status", "5", "grpc-message", "not%20found", NULL };
	static const uint8_t msg[] = { 0, 0, 0, 0, 2, 0x08, 0x01 }; /* field 1 = 1 */
	headers(&c2s, dc, 1, false, rq);
	frame(&c2s, 0, 1, 1, msg, sizeof(msg));
	headers(&s2c, ds, 1, false, rs);
	frame(&s2c, 0, 0, 1, msg, sizeof(msg));
	headers(&s2c, ds, 1, true, tr);
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);

	static struct tu_h1 h;
	static struct seen s;
	static struct sonde_record_out out;
	memset(&s, 0, sizeof(s));
	open_with(&h, &out, &s, &sonde_dissector_http2);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, c2s.len, TS);
	tu_h1_data(&h, SONDE_DIR_S2C, s2c.p, s2c.len, TS + 1000);
	tu_h1_close(&h, TS + 2000);
	assert_int_equal(s.records, 1);
	struct dotted *d = &s.d;
	assert_string_equal(lookup(d, "request.method"), "POST");
	assert_string_equal(lookup(d, "request.target"), "/pkg.Svc/Get");
	assert_string_equal(lookup(d, "request.authority"), "grpc.local");
	assert_string_equal(lookup(d, "request.scheme"), "http");
	assert_string_equal(lookup(d, "request.version"), "HTTP/2");
	assert_string_equal(lookup(d, "request.stream_id"), "1");
	assert_string_equal(lookup(d, "request.headers[0]"), ":method: POST");
	assert_string_equal(lookup(d, "request.grpc.service"), "pkg.Svc");
	assert_string_equal(lookup(d, "request.grpc.method"), "Get");
	assert_string_equal(lookup(d, "request.grpc.message_count"), "1");
	assert_string_equal(lookup(d, "request.grpc.messages[0].size"), "2");
	assert_string_equal(lookup(d, "request.grpc.messages[0].decoded"), "{\"1\":1}");
	assert_null(lookup(d, "request.reason")); /* HTTP/1 only */
	assert_string_equal(lookup(d, "response.status"), "200");
	assert_string_equal(lookup(d, "response.trailers[0]"), "grpc-status: 5");
	assert_string_equal(lookup(d, "response.grpc.status"), "5");
	assert_string_equal(lookup(d, "response.grpc.message"), "not found");
	assert_string_equal(lookup(d, "response.body.size"), "7");
	assert_null(lookup(d, "response.graphql.errors"));
	dotted_free(d);
	sonde_buf_free(&s.masked);
	tu_h1_free(&h);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_http1_fields),
		tu_test(test_http2_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
