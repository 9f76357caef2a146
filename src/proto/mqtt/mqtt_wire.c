/* SPDX-License-Identifier: MIT */
/* MQTT wire format: cursor, fixed header, v5 names (see mqtt_wire.h). */
#include "proto/mqtt/mqtt_wire.h"

#include <string.h>

/* ------------------------------------------------------------- cursor --- */

static bool need(struct mqtt_cur *c, size_t k)
{
	if (c->bad || c->n - c->off < k) {
		c->bad = true;
		return false;
	}
	return true;
}

uint8_t mqtt_u8(struct mqtt_cur *c)
{
	if (!need(c, 1))
		return 0;
	return c->p[c->off++];
}

uint16_t mqtt_u16(struct mqtt_cur *c)
{
	if (!need(c, 2))
		return 0;
	uint16_t v = (uint16_t)(c->p[c->off] << 8 | c->p[c->off + 1]);
	c->off += 2;
	return v;
}

uint32_t mqtt_u32(struct mqtt_cur *c)
{
	uint32_t hi = mqtt_u16(c);
	return hi << 16 | mqtt_u16(c);
}

uint32_t mqtt_varint(struct mqtt_cur *c)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t b = mqtt_u8(c);
		v |= (uint32_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			return v;
	}
	c->bad = true; /* a fifth byte */
	return 0;
}

struct mqtt_span mqtt_take(struct mqtt_cur *c, size_t n)
{
	if (!need(c, n))
		return (struct mqtt_span){ 0 };
	struct mqtt_span s = { (uint32_t)c->off, (uint32_t)n, true };
	c->off += n;
	return s;
}

struct mqtt_span mqtt_lstr(struct mqtt_cur *c)
{
	uint16_t n = mqtt_u16(c);
	return mqtt_take(c, n);
}

/* ------------------------------------------------------- fixed header --- */

/* The fewest bytes after the fixed header each type can have (any version). */
static const uint8_t min_remaining[16] = {
	[MQTT_CONNECT] = 10, [MQTT_CONNACK] = 2,     [MQTT_PUBLISH] = 2,  [MQTT_PUBACK] = 2,
	[MQTT_PUBREC] = 2,   [MQTT_PUBREL] = 2,      [MQTT_PUBCOMP] = 2,  [MQTT_SUBSCRIBE] = 5,
	[MQTT_SUBACK] = 3,   [MQTT_UNSUBSCRIBE] = 5, [MQTT_UNSUBACK] = 2,
};

static bool flags_ok(uint8_t type, uint8_t flags)
{
	switch (type) {
	case MQTT_PUBLISH: return (flags & 6) != 6; /* QoS 3 is malformed */
	case MQTT_PUBREL:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE: return flags == 2;
	default: return flags == 0;
	}
}

int mqtt_fixed_header(const uint8_t *p, size_t n, uint8_t *type, uint8_t *flags,
		      uint32_t *remaining, size_t *hlen)
{
	if (!n)
		return 0;
	uint8_t t = p[0] >> 4, f = p[0] & 15;
	if (t == 0 || !flags_ok(t, f))
		return -1;
	uint32_t v = 0;
	size_t i = 1;
	for (;; i++) {
		if (i > 4)
			return -1;
		if (i >= n)
			return 0;
		v |= (uint32_t)(p[i] & 0x7f) << (7 * (i - 1));
		if (!(p[i] & 0x80))
			break;
	}
	if (v < min_remaining[t] || ((t == MQTT_PINGREQ || t == MQTT_PINGRESP) && v))
		return -1;
	if (t == MQTT_PUBLISH && (f & 6) && v < 4) /* topic length and packet id */
		return -1;
	*type = t;
	*flags = f;
	*remaining = v;
	*hlen = i + 1;
	return 1;
}

const char *mqtt_type_name(uint8_t type)
{
	static const char *const names[16] = {
		"reserved", "CONNECT",  "CONNACK",    "PUBLISH", "PUBACK",      "PUBREC",
		"PUBREL",   "PUBCOMP",  "SUBSCRIBE",  "SUBACK",  "UNSUBSCRIBE", "UNSUBACK",
		"PINGREQ",  "PINGRESP", "DISCONNECT", "AUTH",
	};
	return names[type & 15];
}

/* --------------------------------------------------------- properties --- */

enum prop_kind { P_NONE, P_BYTE, P_U16, P_U32, P_VARINT, P_STR, P_BIN, P_PAIR };

struct prop {
	uint8_t kind;
	bool repeats; /* may appear more than once: written as a list */
	bool secret; /* carries a credential: masked */
	const char *name;
};

/* MQTT 5.0 section 2.2.2.2. */
static const struct prop props[0x2b] = {
	[0x01] = { P_BYTE, false, false, "payload_format_indicator" },
	[0x02] = { P_U32, false, false, "message_expiry_interval" },
	[0x03] = { P_STR, false, false, "content_type" },
	[0x08] = { P_STR, false, false, "response_topic" },
	[0x09] = { P_BIN, false, false, "correlation_data" },
	[0x0b] = { P_VARINT, true, false, "subscription_identifiers" },
	[0x11] = { P_U32, false, false, "session_expiry_interval" },
	[0x12] = { P_STR, false, false, "assigned_client_identifier" },
	[0x13] = { P_U16, false, false, "server_keep_alive" },
	[0x15] = { P_STR, false, false, "authentication_method" },
	[0x16] = { P_BIN, false, true, "authentication_data" },
	[0x17] = { P_BYTE, false, false, "request_problem_information" },
	[0x18] = { P_U32, false, false, "will_delay_interval" },
	[0x19] = { P_BYTE, false, false, "request_response_information" },
	[0x1a] = { P_STR, false, false, "response_information" },
	[0x1c] = { P_STR, false, false, "server_reference" },
	[0x1f] = { P_STR, false, false, "reason_string" },
	[0x21] = { P_U16, false, false, "receive_maximum" },
	[0x22] = { P_U16, false, false, "topic_alias_maximum" },
	[0x23] = { P_U16, false, false, "topic_alias" },
	[0x24] = { P_BYTE, false, false, "maximum_qos" },
	[0x25] = { P_BYTE, false, false, "retain_available" },
	[0x26] = { P_PAIR, true, false, "user_properties" },
	[0x27] = { P_U32, false, false, "maximum_packet_size" },
	[0x28] = { P_BYTE, false, false, "wildcard_subscription_available" },
	[0x29] = { P_BYTE, false, false, "subscription_identifier_available" },
	[0x2a] = { P_BYTE, false, false, "shared_subscription_available" },
};

static const struct prop *prop_of(uint32_t id)
{
	return id < sizeof(props) / sizeof(props[0]) && props[id].kind ? &props[id] : NULL;
}

/* One property's value: read it, and write it when v is set. */
static void prop_value(struct mqtt_cur *c, const struct prop *pr, const char *name,
		       const struct sonde_field_ops *v, void *ctx)
{
	uint64_t x = 0;
	struct mqtt_span a, b;
	switch (pr->kind) {
	case P_BYTE: x = mqtt_u8(c); break;
	case P_U16: x = mqtt_u16(c); break;
	case P_U32: x = mqtt_u32(c); break;
	case P_VARINT: x = mqtt_varint(c); break;
	case P_STR:
	case P_BIN:
		a = mqtt_lstr(c);
		if (v && !c->bad && pr->secret)
			sonde_field_secret(v, ctx, name, c->p + a.off, a.len);
		else if (v && !c->bad)
			(pr->kind == P_STR ? v->str : v->bytes)(ctx, name, c->p + a.off, a.len);
		return;
	case P_PAIR:
		a = mqtt_lstr(c);
		b = mqtt_lstr(c);
		if (v && !c->bad) {
			v->begin(ctx, name, SONDE_FG_LIST);
			v->str(ctx, NULL, c->p + a.off, a.len);
			v->str(ctx, NULL, c->p + b.off, b.len);
			v->end(ctx, SONDE_FG_LIST);
		}
		return;
	}
	if (v && !c->bad)
		v->u64(ctx, name, x);
}

/* Writes the single properties (repeats false) or every instance of one
 * repeatable property (only set) in wire order; false when malformed. */
static bool props_pass(const uint8_t *p, size_t n, const struct prop *only,
		       const struct sonde_field_ops *v, void *ctx)
{
	struct mqtt_cur c = mqtt_cur(p, n);
	while (mqtt_left(&c)) {
		const struct prop *pr = prop_of(mqtt_varint(&c));
		if (!pr || c.bad)
			return false;
		bool write = v && (only ? pr == only : !pr->repeats);
		prop_value(&c, pr, only ? NULL : pr->name, write ? v : NULL, ctx);
	}
	return !c.bad;
}

bool mqtt_props_walk(const uint8_t *p, size_t n, const struct sonde_field_ops *v, void *ctx)
{
	if (!props_pass(p, n, NULL, v, ctx))
		return false;
	if (!v)
		return true;
	for (size_t id = 0; id < sizeof(props) / sizeof(props[0]); id++) {
		const struct prop *pr = &props[id];
		if (!pr->repeats)
			continue;
		bool any = false; /* the list only when the property is there */
		struct mqtt_cur c = mqtt_cur(p, n);
		while (mqtt_left(&c) && !any) {
			const struct prop *q = prop_of(mqtt_varint(&c));
			any = q == pr;
			prop_value(&c, q, NULL, NULL, NULL);
		}
		if (!any)
			continue;
		v->begin(ctx, pr->name, SONDE_FG_LIST);
		props_pass(p, n, pr, v, ctx);
		v->end(ctx, SONDE_FG_LIST);
	}
	return true;
}

/* -------------------------------------------------------- reason codes --- */

const char *mqtt_reason_name(uint8_t type, uint8_t code)
{
	switch (code) {
	case 0x00:
		return type == MQTT_SUBACK       ? "granted_qos_0"
		       : type == MQTT_DISCONNECT ? "normal_disconnection"
						 : "success";
	case 0x01: return "granted_qos_1";
	case 0x02: return "granted_qos_2";
	case 0x04: return "disconnect_with_will_message";
	case 0x10: return "no_matching_subscribers";
	case 0x11: return "no_subscription_existed";
	case 0x18: return "continue_authentication";
	case 0x19: return "re_authenticate";
	case 0x80: return "unspecified_error";
	case 0x81: return "malformed_packet";
	case 0x82: return "protocol_error";
	case 0x83: return "implementation_specific_error";
	case 0x84: return "unsupported_protocol_version";
	case 0x85: return "client_identifier_not_valid";
	case 0x86: return "bad_user_name_or_password";
	case 0x87: return "not_authorized";
	case 0x88: return "server_unavailable";
	case 0x89: return "server_busy";
	case 0x8a: return "banned";
	case 0x8b: return "server_shutting_down";
	case 0x8c: return "bad_authentication_method";
	case 0x8d: return "keep_alive_timeout";
	case 0x8e: return "session_taken_over";
	case 0x8f: return "topic_filter_invalid";
	case 0x90: return "topic_name_invalid";
	case 0x91: return "packet_identifier_in_use";
	case 0x92: return "packet_identifier_not_found";
	case 0x93: return "receive_maximum_exceeded";
	case 0x94: return "topic_alias_invalid";
	case 0x95: return "packet_too_large";
	case 0x96: return "message_rate_too_high";
	case 0x97: return "quota_exceeded";
	case 0x98: return "administrative_action";
	case 0x99: return "payload_format_invalid";
	case 0x9a: return "retain_not_supported";
	case 0x9b: return "qos_not_supported";
	case 0x9c: return "use_another_server";
	case 0x9d: return "server_moved";
	case 0x9e: return "shared_subscriptions_not_supported";
	case 0x9f: return "connection_rate_exceeded";
	case 0xa0: return "maximum_connect_time";
	case 0xa1: return "subscription_identifiers_not_supported";
	case 0xa2: return "wildcard_subscriptions_not_supported";
	default: return NULL;
	}
}

const char *mqtt_connack_v3_name(uint8_t code)
{
	static const char *const names[] = {
		"accepted",           "unacceptable_protocol_version", "identifier_rejected",
		"server_unavailable", "bad_user_name_or_password",     "not_authorized",
	};
	return code < sizeof(names) / sizeof(names[0]) ? names[code] : NULL;
}
