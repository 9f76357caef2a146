/* SPDX-License-Identifier: MIT */
/* AMQP messages and how they describe themselves (see amqp_msg.h). */
#include "proto/amqp/amqp_msg.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/amqp/amqp_wire.h"

static const struct sonde_msg_ops amqp_ops;

struct sonde_amqp_msg *sonde_amqp_msg_new(uint8_t what, uint8_t sender, uint16_t channel)
{
	struct sonde_amqp_msg *m = sonde_xcalloc(1, sizeof(*m));
	m->base.ops = &amqp_ops;
	m->base.version = "AMQP/0-9-1";
	m->what = what;
	m->sender = sender;
	m->channel = channel;
	m->base.mem = sizeof(*m);
	return m;
}

void sonde_amqp_msg_args(struct sonde_amqp_msg *m, uint16_t class_id, uint16_t method_id,
			 uint8_t *args, uint32_t len, uint32_t size)
{
	m->class_id = class_id;
	m->method_id = method_id;
	m->m = amqp_method_find(class_id, method_id);
	m->args = args;
	m->args_len = len;
	m->args_size = size;
	m->base.mem += len;
	if (!m->m)
		m->why = "a class and method the spec does not have";
	else if (len == size && !amqp_args_valid(m->m, args, len))
		m->why = "arguments do not parse as the method's";
}

void sonde_amqp_msg_body(struct sonde_amqp_msg *m, const uint8_t *p, size_t n, size_t limit)
{
	if (limit > (1u << 30)) /* the kept body's sizes are 32-bit */
		limit = 1u << 30;
	size_t room = m->body_len < limit ? limit - m->body_len : 0;
	size_t k = n < room ? n : room;
	if (k && m->body_len + k > m->body_cap) {
		size_t cap = m->body_cap ? m->body_cap : 256;
		while (cap < m->body_len + k)
			cap *= 2;
		cap = cap < limit ? cap : limit;
		m->body = sonde_xrealloc(m->body, cap);
		m->base.mem += cap - m->body_cap;
		m->body_cap = (uint32_t)cap;
	}
	if (k)
		memcpy(m->body + m->body_len, p, k);
	m->body_len += (uint32_t)k;
}

static void amqp_free(struct sonde_msg *bm)
{
	struct sonde_amqp_msg *m = (struct sonde_amqp_msg *)bm;
	free(m->args);
	free(m->props);
	free(m->body);
	free(m);
}

/* -------------------------------------------------------------- members --- */

static void content_fields(const struct sonde_amqp_msg *m, const struct sonde_field_ops *v,
			   void *ctx)
{
	v->begin(ctx, "content", SONDE_FG_OBJECT);
	if (!m->header_seen) {
		v->boolean(ctx, "header_seen", false);
		v->end(ctx, SONDE_FG_OBJECT);
		return;
	}
	v->u64(ctx, "body_size", m->body_size);
	v->u64(ctx, "body_frames", m->body_frames);
	if (m->props_len) {
		v->begin(ctx, "properties", SONDE_FG_OBJECT);
		amqp_props_walk(amqp_class_find(m->class_id), m->prop_flags, m->props, m->props_len,
				v, ctx);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	if (m->props_len < m->props_size)
		v->boolean(ctx, "properties_truncated", true);
	v->bytes(ctx, "body", m->body ? m->body : (const uint8_t *)"", m->body_len);
	if (m->body_len < m->body_size)
		v->boolean(ctx, "body_truncated", true);
	v->end(ctx, SONDE_FG_OBJECT);
}

static void ack_fields(const struct sonde_amqp_msg *m, const struct sonde_field_ops *v, void *ctx)
{
	v->u64(ctx, "acknowledged_count", m->nacked);
	if (m->ack_unknown)
		v->boolean(ctx, "acknowledges_unknown", true);
	if (m->ack_forgotten)
		v->boolean(ctx, "acknowledges_forgotten", true);
	if (!m->nacked)
		return;
	v->begin(ctx, "acknowledges", SONDE_FG_LIST);
	for (uint32_t i = 0; i < m->nacked && i < AMQP_ACK_REFS; i++) {
		const struct amqp_ack_ref *r = &m->acked[i];
		v->begin(ctx, NULL, SONDE_FG_OBJECT);
		v->u64(ctx, "delivery_tag", r->tag);
		v->str(ctx, "exchange", (const uint8_t *)r->exchange, r->ex_len);
		v->str(ctx, "routing_key", (const uint8_t *)r->routing_key, r->rk_len);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	v->end(ctx, SONDE_FG_LIST);
}

static bool is_ack(const struct sonde_amqp_msg *m)
{
	return m->class_id == 60 &&
	       (m->method_id == 80 || m->method_id == 90 || m->method_id == 120);
}

static void method_fields(const struct sonde_amqp_msg *m, const struct sonde_field_ops *v,
			  void *ctx)
{
	sonde_field_cstr(v, ctx, "method", m->m ? m->m->name : "unknown");
	v->u64(ctx, "class_id", m->class_id);
	v->u64(ctx, "method_id", m->method_id);
	if (m->m) {
		v->begin(ctx, "arguments", SONDE_FG_OBJECT);
		amqp_args_walk(m->m, m->args, m->args_len, v, ctx);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	if (m->args_len < m->args_size)
		v->boolean(ctx, "arguments_truncated", true);
	if (m->seq)
		v->u64(ctx, "publish_seq", m->seq);
	if (is_ack(m))
		ack_fields(m, v, ctx);
	if (m->m && m->m->flags & AMQP_M_CONTENT)
		content_fields(m, v, ctx);
}

static void amqp_fields(const struct sonde_msg *bm, const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_amqp_msg *m = (const struct sonde_amqp_msg *)bm;
	sonde_field_cstr(v, ctx, "sender", m->sender ? "server" : "client");
	if (m->what == AMQP_MSG_PROTOCOL_HEADER) {
		sonde_field_cstr(v, ctx, "frame", "protocol_header");
		v->str(ctx, "protocol", m->proto, 4);
		v->begin(ctx, "protocol_version", SONDE_FG_LIST);
		for (int i = 5; i < 8; i++)
			v->u64(ctx, NULL, m->proto[i]);
		v->end(ctx, SONDE_FG_LIST);
		return;
	}
	v->u64(ctx, "channel", m->channel);
	if (m->what == AMQP_MSG_HEARTBEAT)
		sonde_field_cstr(v, ctx, "frame", "heartbeat");
	else
		method_fields(m, v, ctx);
	if (m->why)
		sonde_field_cstr(v, ctx, "malformed", m->why);
}

/* "basic.publish amq.direct/key", "queue.declare-ok", "heartbeat". */
static void amqp_summary(const struct sonde_msg *bm, struct sonde_buf *out)
{
	const struct sonde_amqp_msg *m = (const struct sonde_amqp_msg *)bm;
	if (m->what != AMQP_MSG_METHOD) {
		sonde_buf_puts(out,
			       m->what == AMQP_MSG_HEARTBEAT ? "heartbeat" : "protocol header");
		return;
	}
	if (!m->m) {
		sonde_buf_printf(out, "method %u.%u", m->class_id, m->method_id);
		return;
	}
	sonde_buf_puts(out, m->m->name);
	const uint8_t *ex = NULL, *rk = NULL;
	uint32_t exl = 0, rkl = 0;
	if (amqp_arg_str(m->m, m->args, m->args_len, "routing_key", &rk, &rkl)) {
		amqp_arg_str(m->m, m->args, m->args_len, "exchange", &ex, &exl);
		sonde_buf_printf(out, " %.*s/%.*s", (int)(exl < 40 ? exl : 40), (const char *)ex,
				 (int)(rkl < 40 ? rkl : 40), (const char *)rk);
	}
	uint64_t tag;
	if (amqp_arg_u64(m->m, m->args, m->args_len, "delivery_tag", &tag))
		sonde_buf_printf(out, " #%llu", (unsigned long long)tag);
	uint64_t code;
	if (amqp_arg_u64(m->m, m->args, m->args_len, "reply_code", &code))
		sonde_buf_printf(out, " %llu", (unsigned long long)code);
}

/* A reply code's class (the spec's constants): 200 is success, 3xx and
 * 4xx are soft errors of the request (no route, not found, access
 * refused, precondition failed), 5xx hard errors of the connection. */
static enum sonde_outcome amqp_outcome(const struct sonde_msg *bm)
{
	const struct sonde_amqp_msg *m = (const struct sonde_amqp_msg *)bm;
	uint64_t code;
	if (m->base.kind != SONDE_MSG_RESPONSE || !m->m)
		return SONDE_OUTCOME_UNKNOWN;
	if (!amqp_arg_u64(m->m, m->args, m->args_len, "reply_code", &code) || code == 200)
		return SONDE_OUTCOME_OK;
	return code >= 500 ? SONDE_OUTCOME_SERVER_ERROR : SONDE_OUTCOME_CLIENT_ERROR;
}

static const struct sonde_msg_ops amqp_ops = {
	.protocol = "amqp",
	.fields = amqp_fields,
	.summary = amqp_summary,
	.outcome = amqp_outcome,
	.free = amqp_free,
};
