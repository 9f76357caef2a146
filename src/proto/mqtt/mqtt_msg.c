/* SPDX-License-Identifier: MIT */
/* MQTT messages: parsing the kept bytes, and how they describe themselves
 * (see mqtt_msg.h). */
#include "proto/mqtt/mqtt_msg.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static const struct sonde_msg_ops mqtt_ops;

struct sonde_mqtt_msg *sonde_mqtt_msg_new(uint8_t type, uint8_t flags, uint32_t remaining,
					  uint8_t *raw, uint32_t raw_len)
{
	struct sonde_mqtt_msg *m = sonde_xcalloc(1, sizeof(*m));
	m->base.ops = &mqtt_ops;
	m->type = type;
	m->flags = flags;
	m->remaining = remaining;
	m->raw = raw;
	m->raw_len = raw_len;
	m->reason = -1;
	m->base.mem = sizeof(*m) + raw_len;
	return m;
}

static void mqtt_free(struct sonde_msg *bm)
{
	struct sonde_mqtt_msg *m = (struct sonde_mqtt_msg *)bm;
	free(m->raw);
	free(m);
}

/* ------------------------------------------------------------- parsing --- */

/* v5: a property block (length, then that many bytes) as a span. */
static void props(struct mqtt_cur *c, struct sonde_mqtt_msg *m, struct mqtt_span *out)
{
	if (m->level != MQTT_LEVEL_5)
		return;
	uint32_t n = mqtt_varint(c);
	*out = mqtt_take(c, n);
}

static void parse_connect(struct mqtt_cur *c, struct sonde_mqtt_msg *m)
{
	m->proto_name = mqtt_lstr(c);
	m->connect_level = mqtt_u8(c);
	m->connect_flags = mqtt_u8(c);
	m->keep_alive = mqtt_u16(c);
	/* CONNECT says its own level, whatever was guessed */
	m->level = m->connect_level == MQTT_LEVEL_5 ? MQTT_LEVEL_5 : m->connect_level;
	props(c, m, &m->props);
	m->client_id = mqtt_lstr(c);
	uint8_t f = m->connect_flags;
	if (f & 0x04) { /* will flag */
		props(c, m, &m->will_props);
		m->will_topic = mqtt_lstr(c);
		m->will_payload = mqtt_lstr(c);
	}
	if (f & 0x80)
		m->username = mqtt_lstr(c);
	if (f & 0x40)
		m->password = mqtt_lstr(c);
}

/* Reason code and properties of the acks, DISCONNECT and AUTH: both may
 * be left out in v5, never present before it. */
static void reason_and_props(struct mqtt_cur *c, struct sonde_mqtt_msg *m)
{
	if (m->level != MQTT_LEVEL_5 || !mqtt_left(c))
		return;
	m->reason = mqtt_u8(c);
	if (mqtt_left(c))
		props(c, m, &m->props);
}

static void parse_body(struct mqtt_cur *c, struct sonde_mqtt_msg *m)
{
	switch (m->type) {
	case MQTT_CONNECT: parse_connect(c, m); break;
	case MQTT_CONNACK:
		m->session_present = mqtt_u8(c) & 1;
		m->reason = mqtt_u8(c);
		props(c, m, &m->props);
		break;
	case MQTT_PUBLISH:
		m->topic = mqtt_lstr(c);
		if (sonde_mqtt_qos(m)) {
			m->packet_id = mqtt_u16(c);
			m->has_id = !c->bad; /* a cut packet may lack it */
		}
		props(c, m, &m->props);
		if (!c->bad) {
			m->payload = mqtt_take(c, mqtt_left(c));
			m->payload_size = m->remaining - m->payload.off;
		}
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		m->packet_id = mqtt_u16(c);
		m->has_id = !c->bad; /* a cut packet may lack it */
		reason_and_props(c, m);
		break;
	case MQTT_SUBSCRIBE:
	case MQTT_SUBACK:
	case MQTT_UNSUBSCRIBE:
	case MQTT_UNSUBACK:
		m->packet_id = mqtt_u16(c);
		m->has_id = !c->bad; /* a cut packet may lack it */
		props(c, m, &m->props);
		m->list = mqtt_take(c, mqtt_left(c));
		break;
	case MQTT_DISCONNECT:
	case MQTT_AUTH: reason_and_props(c, m); break;
	default: break;
	}
}

/* Are the entries of a SUBSCRIBE/UNSUBSCRIBE list whole and sound? */
static bool list_ok(const struct sonde_mqtt_msg *m)
{
	struct mqtt_cur c = mqtt_cur(m->raw + m->list.off, m->list.len);
	bool sub = m->type == MQTT_SUBSCRIBE;
	if (m->type == MQTT_SUBACK || m->type == MQTT_UNSUBACK)
		return true;
	if (!m->list.len)
		return false; /* at least one filter */
	while (mqtt_left(&c)) {
		mqtt_lstr(&c);
		uint8_t opt = sub ? mqtt_u8(&c) : 0;
		if ((opt & 3) == 3 || (m->level == MQTT_LEVEL_5 ? opt & 0xc0 : opt & 0xfc))
			return false;
	}
	return !c.bad;
}

bool sonde_mqtt_parse(struct sonde_mqtt_msg *m, uint8_t level)
{
	bool cut = m->raw_len < m->remaining;
	struct mqtt_cur c = mqtt_cur(m->raw, m->raw_len);
	m->level = level;
	m->why = NULL;
	m->reason = -1;
	m->has_id = false;
	m->props = m->list = m->payload = (struct mqtt_span){ 0 };
	parse_body(&c, m);
	if (c.bad && !cut)
		m->why = "a field runs past the packet's end";
	else if (!cut && mqtt_left(&c) && m->type != MQTT_PUBLISH)
		m->why = "bytes after the packet's last field";
	else if (m->props.set && !mqtt_props_walk(m->raw + m->props.off, m->props.len, NULL, NULL))
		m->why = "malformed properties";
	else if (m->type == MQTT_CONNECT && c.off >= 2 && m->connect_flags & 1)
		m->why = "CONNECT's reserved flag is set";
	else if (!cut && (m->type == MQTT_SUBSCRIBE || m->type == MQTT_UNSUBSCRIBE) && !list_ok(m))
		m->why = "malformed topic filter list";
	return m->why == NULL;
}

/* -------------------------------------------------------------- members --- */

static void span_str(const struct sonde_mqtt_msg *m, const char *name, struct mqtt_span s,
		     const struct sonde_field_ops *v, void *ctx)
{
	if (s.set)
		v->str(ctx, name, m->raw + s.off, s.len);
}

static void props_fields(const struct sonde_mqtt_msg *m, const char *name, struct mqtt_span s,
			 const struct sonde_field_ops *v, void *ctx)
{
	if (!s.set || !s.len)
		return;
	v->begin(ctx, name, SONDE_FG_OBJECT);
	mqtt_props_walk(m->raw + s.off, s.len, v, ctx);
	v->end(ctx, SONDE_FG_OBJECT);
}

static const char *reason_name(const struct sonde_mqtt_msg *m, uint8_t code)
{
	if (m->level == MQTT_LEVEL_5)
		return mqtt_reason_name(m->type, code);
	if (m->type == MQTT_CONNACK)
		return mqtt_connack_v3_name(code);
	return code <= 2 ? mqtt_reason_name(MQTT_SUBACK, code) : code == 0x80 ? "failure" : NULL;
}

static void reason_fields(const struct sonde_mqtt_msg *m, const struct sonde_field_ops *v,
			  void *ctx)
{
	if (m->reason < 0)
		return;
	v->u64(ctx, "reason_code", (uint64_t)m->reason);
	const char *n = reason_name(m, (uint8_t)m->reason);
	if (n)
		sonde_field_cstr(v, ctx, "reason", n);
}

static void connect_fields(const struct sonde_mqtt_msg *m, const struct sonde_field_ops *v,
			   void *ctx)
{
	uint8_t f = m->connect_flags;
	span_str(m, "protocol_name", m->proto_name, v, ctx);
	v->u64(ctx, "protocol_level", m->connect_level);
	span_str(m, "client_id", m->client_id, v, ctx);
	v->boolean(ctx, m->level == MQTT_LEVEL_5 ? "clean_start" : "clean_session", f & 2);
	v->u64(ctx, "keep_alive", m->keep_alive);
	span_str(m, "username", m->username, v, ctx);
	/* A credential: the masking stage writes it masked (records.md). */
	if ((f & 0x40) && m->password.set)
		sonde_field_secret(v, ctx, "password", m->raw + m->password.off, m->password.len);
	else if (f & 0x40)
		sonde_field_cstr(v, ctx, "password", "****"); /* cut from what sonde kept */
	if (f & 0x04) {
		v->begin(ctx, "will", SONDE_FG_OBJECT);
		span_str(m, "topic", m->will_topic, v, ctx);
		v->u64(ctx, "qos", (f >> 3) & 3);
		v->boolean(ctx, "retain", f & 0x20);
		if (m->will_payload.set)
			v->bytes(ctx, "payload", m->raw + m->will_payload.off,
				 m->will_payload.len < m->payload_limit ? m->will_payload.len
									: m->payload_limit);
		props_fields(m, "properties", m->will_props, v, ctx);
		v->end(ctx, SONDE_FG_OBJECT);
	}
}

static void publish_fields(const struct sonde_mqtt_msg *m, const struct sonde_field_ops *v,
			   void *ctx)
{
	span_str(m, "topic", m->topic, v, ctx);
	v->u64(ctx, "qos", sonde_mqtt_qos(m));
	v->boolean(ctx, "retain", m->flags & 1);
	v->boolean(ctx, "dup", m->flags & 8);
	if (!m->payload.set)
		return;
	v->u64(ctx, "payload_size", m->payload_size);
	size_t n = m->payload.len < m->payload_limit ? m->payload.len : m->payload_limit;
	v->bytes(ctx, "payload", m->raw + m->payload.off, n);
	if (n < m->payload_size)
		v->boolean(ctx, "payload_truncated", true);
}

/* SUBSCRIBE's filters with their options, UNSUBSCRIBE's filters, the
 * acks' reason codes; as far as the kept bytes go. */
static void list_fields(const struct sonde_mqtt_msg *m, const struct sonde_field_ops *v, void *ctx)
{
	struct mqtt_cur c = mqtt_cur(m->raw + m->list.off, m->list.len);
	bool acks = m->type == MQTT_SUBACK || m->type == MQTT_UNSUBACK;
	if (acks && !m->list.len)
		return;
	v->begin(ctx, acks ? "reason_codes" : "topics", SONDE_FG_LIST);
	while (mqtt_left(&c)) {
		if (acks) {
			uint8_t code = mqtt_u8(&c);
			const char *n = reason_name(m, code);
			v->begin(ctx, NULL, SONDE_FG_OBJECT);
			v->u64(ctx, "code", code);
			if (n)
				sonde_field_cstr(v, ctx, "reason", n);
			v->end(ctx, SONDE_FG_OBJECT);
			continue;
		}
		struct mqtt_span t = mqtt_lstr(&c);
		uint8_t opt = m->type == MQTT_SUBSCRIBE ? mqtt_u8(&c) : 0;
		if (c.bad)
			break;
		if (m->type == MQTT_UNSUBSCRIBE) {
			span_str(m, NULL, (struct mqtt_span){ m->list.off + t.off, t.len, true }, v,
				 ctx);
			continue;
		}
		v->begin(ctx, NULL, SONDE_FG_OBJECT);
		v->str(ctx, "topic", m->raw + m->list.off + t.off, t.len);
		v->u64(ctx, "qos", opt & 3);
		if (m->level == MQTT_LEVEL_5) {
			v->boolean(ctx, "no_local", opt & 4);
			v->boolean(ctx, "retain_as_published", opt & 8);
			v->u64(ctx, "retain_handling", (opt >> 4) & 3);
		}
		v->end(ctx, SONDE_FG_OBJECT);
	}
	v->end(ctx, SONDE_FG_LIST);
}

static void mqtt_fields(const struct sonde_msg *bm, const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_mqtt_msg *m = (const struct sonde_mqtt_msg *)bm;
	sonde_field_cstr(v, ctx, "packet", mqtt_type_name(m->type));
	if (m->level_guessed)
		v->boolean(ctx, "version_guessed", true);
	if (m->has_id)
		v->u64(ctx, "packet_id", m->packet_id);
	if (m->type == MQTT_CONNECT)
		connect_fields(m, v, ctx);
	if (m->type == MQTT_CONNACK)
		v->boolean(ctx, "session_present", m->session_present);
	if (m->type == MQTT_PUBLISH)
		publish_fields(m, v, ctx);
	if (m->list.set)
		list_fields(m, v, ctx);
	reason_fields(m, v, ctx);
	if (m->ack_state == MQTT_ACK_MATCHED) {
		v->begin(ctx, "acknowledges", SONDE_FG_OBJECT);
		v->str(ctx, "topic", (const uint8_t *)m->ack.topic, m->ack.topic_len);
		v->u64(ctx, "qos", m->ack.qos);
		v->end(ctx, SONDE_FG_OBJECT);
	} else if (m->ack_state == MQTT_ACK_UNKNOWN) {
		v->boolean(ctx, "acknowledges_unknown", true);
	}
	props_fields(m, "properties", m->props, v, ctx);
	v->u64(ctx, "remaining_length", m->remaining);
	if (m->why)
		sonde_field_cstr(v, ctx, "malformed", m->why);
}

/* "PUBLISH a/b q1 #7", "CONNACK success", "SUBACK #3". */
static void mqtt_summary(const struct sonde_msg *bm, struct sonde_buf *out)
{
	const struct sonde_mqtt_msg *m = (const struct sonde_mqtt_msg *)bm;
	sonde_buf_puts(out, mqtt_type_name(m->type));
	if (m->topic.set)
		sonde_buf_printf(out, " %.*s q%u", (int)(m->topic.len < 60 ? m->topic.len : 60),
				 (const char *)m->raw + m->topic.off, sonde_mqtt_qos(m));
	if (m->type == MQTT_CONNECT && m->client_id.set && m->client_id.len)
		sonde_buf_printf(out, " %.*s", (int)(m->client_id.len < 40 ? m->client_id.len : 40),
				 (const char *)m->raw + m->client_id.off);
	if (m->has_id)
		sonde_buf_printf(out, " #%u", m->packet_id);
	const char *n = m->reason >= 0 ? reason_name(m, (uint8_t)m->reason) : NULL;
	if (n)
		sonde_buf_printf(out, " %s", n);
}

/* A reason or return code's class: the broker's own failures (unspecified,
 * implementation specific, unavailable, busy, shutting down) are server
 * errors, the other refusals the client's. */
static enum sonde_outcome code_outcome(const struct sonde_mqtt_msg *m, uint8_t code)
{
	static const uint8_t server_side[] = { 0x80, 0x83, 0x88, 0x89, 0x8b };
	if (m->level != MQTT_LEVEL_5 && m->type == MQTT_CONNACK)
		return !code       ? SONDE_OUTCOME_OK
		       : code == 3 ? SONDE_OUTCOME_SERVER_ERROR
				   : SONDE_OUTCOME_CLIENT_ERROR;
	if (code < 0x80)
		return SONDE_OUTCOME_OK;
	for (size_t i = 0; i < sizeof(server_side); i++)
		if (code == server_side[i] && (m->level == MQTT_LEVEL_5 || m->type != MQTT_SUBACK))
			return SONDE_OUTCOME_SERVER_ERROR;
	return SONDE_OUTCOME_CLIENT_ERROR;
}

static enum sonde_outcome mqtt_outcome(const struct sonde_msg *bm)
{
	const struct sonde_mqtt_msg *m = (const struct sonde_mqtt_msg *)bm;
	if (m->base.kind != SONDE_MSG_RESPONSE)
		return SONDE_OUTCOME_UNKNOWN;
	enum sonde_outcome o =
		m->reason >= 0 ? code_outcome(m, (uint8_t)m->reason) : SONDE_OUTCOME_OK;
	if (m->type != MQTT_SUBACK || !m->list.set)
		return o;
	struct mqtt_cur c = mqtt_cur(m->raw + m->list.off, m->list.len);
	while (mqtt_left(&c) && o == SONDE_OUTCOME_OK) /* any filter refused */
		o = code_outcome(m, mqtt_u8(&c));
	return o;
}

static const struct sonde_msg_ops mqtt_ops = {
	.protocol = "mqtt",
	.fields = mqtt_fields,
	.summary = mqtt_summary,
	.outcome = mqtt_outcome,
	.free = mqtt_free,
};
