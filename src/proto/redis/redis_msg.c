/* SPDX-License-Identifier: MIT */
/* Redis messages and how they describe themselves (see redis_msg.h). */
#include "proto/redis/redis_msg.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/redis/redis_secret.h"

static const struct sonde_msg_ops redis_ops;

struct sonde_redis_msg *sonde_redis_msg_new(uint8_t kind, struct sonde_resp_value *v)
{
	struct sonde_redis_msg *m = sonde_xcalloc(1, sizeof(*m));
	m->base.ops = &redis_ops;
	m->base.kind = kind;
	m->v = *v;
	memset(v, 0, sizeof(*v));
	m->base.mem = sizeof(*m) + m->v.cap * sizeof(*m->v.node) + m->v.text.cap;
	return m;
}

static void redis_free(struct sonde_msg *bm)
{
	struct sonde_redis_msg *m = (struct sonde_redis_msg *)bm;
	sonde_resp_value_free(&m->v);
	free(m);
}

const struct sonde_resp_node *sonde_redis_arg(const struct sonde_redis_msg *m, uint32_t i)
{
	/* a command is one flat array: its elements follow it */
	if (!m->v.n || m->v.node[0].type != SONDE_RESP_ARRAY || 1 + i >= m->v.n)
		return NULL;
	return &m->v.node[1 + i];
}

static const struct sonde_resp_node *first_elem(const struct sonde_redis_msg *m)
{
	const struct sonde_resp_value *v = &m->v;
	if (m->top + 1 >= v->n || v->node[m->top + 1].depth != v->node[m->top].depth + 1)
		return NULL;
	return &v->node[m->top + 1];
}

bool sonde_redis_kind_is(const struct sonde_redis_msg *m, const char *s)
{
	const struct sonde_resp_node *e = first_elem(m);
	return e && (e->type == SONDE_RESP_BULK || e->type == SONDE_RESP_SIMPLE) &&
	       sonde_resp_ieq(&m->v, e, s);
}

bool sonde_redis_is_error(const struct sonde_redis_msg *m)
{
	if (m->top >= m->v.n)
		return false;
	uint8_t t = m->v.node[m->top].type;
	return t == SONDE_RESP_ERROR || t == SONDE_RESP_BULK_ERROR;
}

/* ---------------------------------------------------------------- values --- */

static void walk_str(const struct sonde_resp_value *val, const struct sonde_resp_node *nd,
		     const char *name, const struct sonde_field_ops *v, void *ctx)
{
	const uint8_t *b = sonde_resp_bytes(val, nd);
	size_t len = nd->len;
	if (nd->type == SONDE_RESP_VERBATIM && len >= 4 && b[3] == ':') {
		b += 4; /* "txt:": the format is not the text */
		len -= 4;
	}
	v->str(ctx, name, b, len);
}

static uint32_t walk(const struct sonde_resp_value *val, uint32_t i, const char *name,
		     const struct sonde_field_ops *v, void *ctx);

/* An aggregate's elements: a list; a map's or attribute's as [key, value]
 * lists. An attribute before an element annotates it and is left out. */
static uint32_t walk_aggregate(const struct sonde_resp_value *val, uint32_t i, const char *name,
			       const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_resp_node *nd = &val->node[i];
	bool pairs = nd->type == SONDE_RESP_MAP || nd->type == SONDE_RESP_ATTR;
	uint32_t end = sonde_resp_next(val, i), j = i + 1, k = 0;
	bool value_secret = false; /* after "requirepass" (CONFIG GET's reply) */
	v->begin(ctx, name, SONDE_FG_LIST);
	while (j < end) {
		const struct sonde_resp_node *e = &val->node[j];
		if (e->type == SONDE_RESP_ATTR) {
			j = sonde_resp_next(val, j);
			continue;
		}
		if (pairs && !(k & 1))
			v->begin(ctx, NULL, SONDE_FG_LIST);
		bool text =
			!e->null && (e->type == SONDE_RESP_BULK || e->type == SONDE_RESP_SIMPLE ||
				     e->type == SONDE_RESP_VERBATIM);
		if (text && value_secret) {
			sonde_field_secret(v, ctx, NULL, sonde_resp_bytes(val, e), e->len);
			j++;
		} else {
			j = walk(val, j, NULL, v, ctx);
		}
		value_secret = text && !value_secret &&
			       sonde_redis_secret_param(sonde_resp_bytes(val, e), e->len);
		if (pairs && (k & 1))
			v->end(ctx, SONDE_FG_LIST);
		k++;
	}
	if (pairs && (k & 1))
		v->end(ctx, SONDE_FG_LIST);
	v->end(ctx, SONDE_FG_LIST);
	return end;
}

/* One value as JSON-like members: strings, numbers, booleans, null, lists;
 * an error as {"error": text}. Returns the index after its subtree. */
static uint32_t walk(const struct sonde_resp_value *val, uint32_t i, const char *name,
		     const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_resp_node *nd = &val->node[i];
	int64_t k;
	if (nd->null) {
		v->null(ctx, name);
		return sonde_resp_next(val, i);
	}
	switch (nd->type) {
	case SONDE_RESP_ARRAY:
	case SONDE_RESP_SET:
	case SONDE_RESP_PUSH:
	case SONDE_RESP_MAP:
	case SONDE_RESP_ATTR: return walk_aggregate(val, i, name, v, ctx);
	case SONDE_RESP_INTEGER:
		if (sonde_resp_int(val, nd, &k))
			v->i64(ctx, name, k);
		else
			walk_str(val, nd, name, v, ctx);
		break;
	case SONDE_RESP_BOOL:
		v->boolean(ctx, name, nd->len && sonde_resp_bytes(val, nd)[0] == 't');
		break;
	case SONDE_RESP_NULL: v->null(ctx, name); break;
	case SONDE_RESP_ERROR:
	case SONDE_RESP_BULK_ERROR:
		v->begin(ctx, name, SONDE_FG_OBJECT);
		walk_str(val, nd, "error", v, ctx);
		v->end(ctx, SONDE_FG_OBJECT);
		break;
	default: walk_str(val, nd, name, v, ctx);
	}
	return i + 1;
}

/* -------------------------------------------------------------- members --- */

static void command_fields(const struct sonde_redis_msg *m, const struct sonde_field_ops *v,
			   void *ctx)
{
	const struct sonde_resp_node *top = m->v.n ? &m->v.node[0] : NULL;
	uint64_t nargs = top && top->size ? top->size - 1 : 0;
	sonde_field_cstr(v, ctx, "command", m->cmd);
	/* Credentials (redis_secret.h; the redaction stage masks them). */
	struct sonde_redis_secrets sec;
	sonde_redis_secrets_begin(&sec);
	if (m->v.n > 1)
		sonde_redis_secrets_arg(&sec, sonde_resp_bytes(&m->v, &m->v.node[1]),
					m->v.node[1].len);
	v->begin(ctx, "arguments", SONDE_FG_LIST);
	for (uint32_t i = 2; i < m->v.n; i++) {
		const struct sonde_resp_node *a = &m->v.node[i];
		if (sonde_redis_secrets_arg(&sec, sonde_resp_bytes(&m->v, a), a->len))
			sonde_field_secret(v, ctx, NULL, sonde_resp_bytes(&m->v, a), a->len);
		else
			walk_str(&m->v, a, NULL, v, ctx);
	}
	v->end(ctx, SONDE_FG_LIST);
	v->u64(ctx, "argument_count", nargs);
	if (m->v.cut || m->cmd_cut)
		v->boolean(ctx, "arguments_truncated", true);
	if (m->v.is_inline)
		v->boolean(ctx, "inline", true);
	if (m->db_known)
		v->i64(ctx, "db", m->db);
	if (m->multi)
		v->u64(ctx, "multi", m->multi);
	if (m->queued)
		v->u64(ctx, "queued", m->queued);
	if (m->no_reply)
		v->boolean(ctx, "reply_expected", false);
}

/* The error's first word ("WRONGTYPE"), when it is one in capitals. */
static void error_prefix(const struct sonde_redis_msg *m, const struct sonde_field_ops *v,
			 void *ctx)
{
	const struct sonde_resp_node *nd = &m->v.node[m->top];
	const uint8_t *b = sonde_resp_bytes(&m->v, nd);
	size_t k = 0;
	while (k < nd->len &&
	       ((b[k] >= 'A' && b[k] <= 'Z') || b[k] == '_' || (k && b[k] >= '0' && b[k] <= '9')))
		k++;
	if (k && (k == nd->len || b[k] == ' '))
		v->str(ctx, "error_prefix", b, k);
}

/* A pub/sub message's channel and pattern, named. */
static void event_fields(const struct sonde_redis_msg *m, const struct sonde_field_ops *v,
			 void *ctx)
{
	sonde_field_cstr(v, ctx, "event", m->event);
	bool pattern = !strcmp(m->event, "pmessage");
	if (strcmp(m->event, "message") && !pattern && strcmp(m->event, "smessage"))
		return;
	uint32_t i = m->top + 2; /* after the kind */
	uint8_t d = m->v.node[m->top].depth + 1;
	for (int k = 0; k < (pattern ? 2 : 1) && i < m->v.n && m->v.node[i].depth == d; k++) {
		const struct sonde_resp_node *nd = &m->v.node[i];
		walk_str(&m->v, nd, pattern && !k ? "pattern" : "channel", v, ctx);
		i = sonde_resp_next(&m->v, i);
	}
}

static void reply_fields(const struct sonde_redis_msg *m, const struct sonde_field_ops *v,
			 void *ctx)
{
	if (m->top >= m->v.n) {
		sonde_field_cstr(v, ctx, "type", "unknown");
		return;
	}
	const struct sonde_resp_node *nd = &m->v.node[m->top];
	sonde_field_cstr(v, ctx, "type", sonde_resp_type_name(nd->type));
	if (m->event)
		event_fields(m, v, ctx);
	if (sonde_redis_is_error(m)) {
		v->boolean(ctx, "error", true);
		error_prefix(m, v, ctx);
	}
	if (nd->type == SONDE_RESP_VERBATIM && nd->len >= 4)
		v->str(ctx, "format", sonde_resp_bytes(&m->v, nd), 3);
	if (nd->type == SONDE_RESP_BULK || nd->type == SONDE_RESP_BULK_ERROR ||
	    nd->type == SONDE_RESP_VERBATIM || nd->type == SONDE_RESP_ARRAY ||
	    nd->type == SONDE_RESP_MAP || nd->type == SONDE_RESP_SET || nd->type == SONDE_RESP_PUSH)
		if (!nd->null)
			v->u64(ctx, "size", nd->type == SONDE_RESP_MAP ? nd->size / 2 : nd->size);
	if (m->top) /* attributes came first: the first is written */
		walk(&m->v, 0, "attributes", v, ctx);
	walk(&m->v, m->top, "value", v, ctx);
	if (m->v.cut)
		v->boolean(ctx, "value_truncated", true);
}

static void redis_fields(const struct sonde_msg *bm, const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_redis_msg *m = (const struct sonde_redis_msg *)bm;
	if (m->base.kind == SONDE_MSG_REQUEST)
		command_fields(m, v, ctx);
	else
		reply_fields(m, v, ctx);
}

/* "SET key", "+OK", "(error) ERR ...", "array[3]". */
static void redis_summary(const struct sonde_msg *bm, struct sonde_buf *out)
{
	const struct sonde_redis_msg *m = (const struct sonde_redis_msg *)bm;
	if (m->base.kind == SONDE_MSG_REQUEST) {
		sonde_buf_puts(out, m->cmd[0] ? m->cmd : "(no command)");
		const struct sonde_resp_node *a = sonde_redis_arg(m, 1);
		if (a)
			sonde_buf_printf(out, " %.*s", (int)(a->len < 40 ? a->len : 40),
					 (const char *)sonde_resp_bytes(&m->v, a));
		return;
	}
	if (m->top >= m->v.n) {
		sonde_buf_puts(out, "?");
		return;
	}
	const struct sonde_resp_node *nd = &m->v.node[m->top];
	if (m->event)
		sonde_buf_printf(out, "(%s) ", m->event);
	if (nd->null)
		sonde_buf_puts(out, "(nil)");
	else if (nd->type == SONDE_RESP_ARRAY || nd->type == SONDE_RESP_MAP ||
		 nd->type == SONDE_RESP_SET || nd->type == SONDE_RESP_PUSH)
		sonde_buf_printf(out, "%s[%llu]", sonde_resp_type_name(nd->type),
				 (unsigned long long)nd->size);
	else
		sonde_buf_printf(out, "%s%.*s", sonde_redis_is_error(m) ? "(error) " : "",
				 (int)(nd->len < 60 ? nd->len : 60),
				 (const char *)sonde_resp_bytes(&m->v, nd));
}

static enum sonde_outcome redis_outcome(const struct sonde_msg *bm)
{
	const struct sonde_redis_msg *m = (const struct sonde_redis_msg *)bm;
	if (m->base.kind != SONDE_MSG_RESPONSE)
		return SONDE_OUTCOME_UNKNOWN;
	return sonde_redis_is_error(m) ? SONDE_OUTCOME_SERVER_ERROR : SONDE_OUTCOME_OK;
}

static const struct sonde_msg_ops redis_ops = {
	.protocol = "redis",
	.fields = redis_fields,
	.summary = redis_summary,
	.outcome = redis_outcome,
	.free = redis_free,
};
