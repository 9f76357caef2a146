/* SPDX-License-Identifier: MIT */
#include "store/row.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "enrich/enrich.h"
#include "enrich/names.h"
#include "sink/render.h"

/*
 * A visitor that keeps one member: the integer or string found at a given
 * name at a given depth of the walk (the response's "status", a pod's
 * "name"), ignoring everything else.
 */
struct pick {
	const char *name, *inside; /* member wanted; inside: its object's name (NULL: top) */
	unsigned depth, in_depth; /* current depth; depth where `inside` opened (0: not in it) */
	bool found;
	int64_t num;
	char str[64];
};

static bool pick_here(struct pick *k, const char *name)
{
	if (k->found || !name || strcmp(name, k->name))
		return false;
	return k->inside ? k->in_depth && k->depth == k->in_depth : k->depth == 0;
}

static void pk_str(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct pick *k = ctx;
	if (!pick_here(k, name))
		return;
	size_t l = n < sizeof(k->str) - 1 ? n : sizeof(k->str) - 1;
	memcpy(k->str, p, l);
	k->str[l] = 0;
	k->found = true;
}

static void pk_null(void *ctx, const char *name)
{
	(void)ctx, (void)name;
}

static void pk_u64(void *ctx, const char *name, uint64_t v)
{
	struct pick *k = ctx;
	if (pick_here(k, name) && v <= INT32_MAX) {
		k->num = (int64_t)v;
		k->found = true;
	}
}

static void pk_i64(void *ctx, const char *name, int64_t v)
{
	struct pick *k = ctx;
	if (pick_here(k, name) && v >= INT32_MIN && v <= INT32_MAX) {
		k->num = v;
		k->found = true;
	}
}

static void pk_boolean(void *ctx, const char *name, bool v)
{
	(void)ctx, (void)name, (void)v;
}

static void pk_begin(void *ctx, const char *name, enum sonde_field_group g)
{
	struct pick *k = ctx;
	(void)g;
	k->depth++;
	if (k->inside && !k->in_depth && name && !strcmp(name, k->inside))
		k->in_depth = k->depth;
}

static void pk_end(void *ctx, enum sonde_field_group g)
{
	struct pick *k = ctx;
	(void)g;
	if (k->in_depth == k->depth)
		k->in_depth = 0;
	if (k->depth)
		k->depth--;
}

static void pk_header(void *ctx, const uint8_t *n, size_t nl, const uint8_t *v, size_t vl)
{
	(void)ctx, (void)n, (void)nl, (void)v, (void)vl;
}

static const struct sonde_field_ops pick_ops = {
	.str = pk_str,
	.null = pk_null,
	.u64 = pk_u64,
	.i64 = pk_i64,
	.boolean = pk_boolean,
	.bytes = pk_str,
	.begin = pk_begin,
	.end = pk_end,
	.header = pk_header,
	.json = pk_str,
};

const char *sonde_store_outcome_name(uint8_t outcome)
{
	switch (outcome) {
	case SONDE_OUTCOME_OK: return "ok";
	case SONDE_OUTCOME_REDIRECT: return "redirect";
	case SONDE_OUTCOME_CLIENT_ERROR: return "client_error";
	case SONDE_OUTCOME_SERVER_ERROR: return "server_error";
	default: return "";
	}
}

static void copy_cstr(char *dst, size_t cap, const char *src, size_t n)
{
	size_t l = strnlen(src, n);
	if (l >= cap)
		l = cap - 1;
	memcpy(dst, src, l);
	dst[l] = 0;
}

/* The index columns of r. */
static void row_index(struct sonde_store_row *w, const struct sonde_record *r)
{
	const struct sonde_msg *m = r->req ? r->req : r->resp;
	const struct sonde_conn_info *c = r->conn;
	w->ts_us = m->ts_first / 1000;
	w->latency_us =
		r->req && r->resp ? (int64_t)(r->resp->ts_last - r->req->ts_first) / 1000 : -1;
	copy_cstr(w->protocol, sizeof(w->protocol), m->ops->protocol, sizeof(w->protocol));
	sonde_endpoint_str(&c->server, w->server, sizeof(w->server), 0);
	sonde_endpoint_str(&c->client, w->client, sizeof(w->client), 0);
	w->server_port = c->server.port;
	w->conn_id = c->id;
	const char *name = sonde_names_end(c, 1);
	if (name)
		snprintf(w->service, sizeof(w->service), "%s:%u", name, c->server.port);
	else
		sonde_endpoint_str(&c->server, w->service, sizeof(w->service), 1);
	w->pid = c->proc.pid;
	copy_cstr(w->comm, sizeof(w->comm), c->proc.comm, sizeof(c->proc.comm));
	w->status = -1;
	if (r->resp) {
		struct pick k = { .name = "status" };
		r->resp->ops->fields(r->resp, &pick_ops, &k);
		if (k.found)
			w->status = (int32_t)k.num;
		if (r->resp->ops->outcome)
			w->outcome = (uint8_t)r->resp->ops->outcome(r->resp);
	}
	for (int e = 1; c->attrs && e >= 0 && !w->pod[0]; e--) {
		struct pick k = { .name = "name", .inside = "pod" };
		sonde_enrich_end_fields(c, e, &pick_ops, &k);
		if (k.found)
			copy_cstr(w->pod, sizeof(w->pod), k.str, sizeof(k.str));
	}
}

struct sonde_store_row *sonde_store_row_new(const struct sonde_record *r, uint64_t seq)
{
	struct sonde_record numbered = *r;
	numbered.seq = seq;
	struct sonde_buf json = { 0 }, text = { 0 }, details = { 0 };
	sonde_record_json(&numbered, &json);
	if (json.len && json.p[json.len - 1] == '\n')
		json.len--;
	static const struct sonde_text_opts utc = { .utc = true };
	sonde_record_text(&numbered, &utc, &text);
	sonde_record_details(&numbered, &details);
	size_t skip = text.len > SONDE_STORE_CLOCK_LEN ? SONDE_STORE_CLOCK_LEN : text.len;
	size_t size = sizeof(struct sonde_store_row) + json.len + text.len - skip + details.len + 3;
	struct sonde_store_row *w = sonde_xcalloc(1, size);
	char *p = (char *)(w + 1);
	w->size = size;
	w->json = p;
	w->json_len = json.len;
	memcpy(p, json.p, json.len);
	p += json.len + 1;
	w->text = p;
	w->text_len = text.len - skip;
	memcpy(p, text.p + skip, w->text_len);
	p += w->text_len + 1;
	w->details = p;
	w->details_len = details.len;
	if (details.len)
		memcpy(p, details.p, details.len);
	sonde_buf_free(&json);
	sonde_buf_free(&text);
	sonde_buf_free(&details);
	row_index(w, r);
	return w;
}
