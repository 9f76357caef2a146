/* SPDX-License-Identifier: MIT */
/*
 * MQTT wire format (3.1, 3.1.1, 5.0): a bounds-checked cursor over one
 * packet's bytes, the fixed header's rules, v5 property and reason-code
 * names. Nothing here allocates; every read fails rather than run past the
 * bytes it was given.
 */
#ifndef SONDE_MQTT_WIRE_H
#define SONDE_MQTT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/fields.h"

enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK,
	MQTT_PUBLISH,
	MQTT_PUBACK,
	MQTT_PUBREC,
	MQTT_PUBREL,
	MQTT_PUBCOMP,
	MQTT_SUBSCRIBE,
	MQTT_SUBACK,
	MQTT_UNSUBSCRIBE,
	MQTT_UNSUBACK,
	MQTT_PINGREQ,
	MQTT_PINGRESP,
	MQTT_DISCONNECT,
	MQTT_AUTH, /* 5.0 only */
};

#define MQTT_MAX_REMAINING 268435455u /* four bytes of variable length */

/* Protocol levels of CONNECT; 0: not known yet. */
enum mqtt_level {
	MQTT_LEVEL_UNKNOWN = 0,
	MQTT_LEVEL_31 = 3,
	MQTT_LEVEL_311 = 4,
	MQTT_LEVEL_5 = 5,
};

struct mqtt_cur {
	const uint8_t *p;
	size_t n, off;
	bool bad; /* a read ran past the end: sticky */
};

struct mqtt_span {
	uint32_t off, len;
	bool set;
};

static inline struct mqtt_cur mqtt_cur(const uint8_t *p, size_t n)
{
	return (struct mqtt_cur){ p, n, 0, false };
}

static inline size_t mqtt_left(const struct mqtt_cur *c)
{
	return c->bad ? 0 : c->n - c->off;
}

uint8_t mqtt_u8(struct mqtt_cur *c);
uint16_t mqtt_u16(struct mqtt_cur *c);
uint32_t mqtt_u32(struct mqtt_cur *c);
/* Variable byte integer: at most four bytes, minimal or not. */
uint32_t mqtt_varint(struct mqtt_cur *c);
/* A two-byte-length string or binary field, as a span of the cursor's bytes. */
struct mqtt_span mqtt_lstr(struct mqtt_cur *c);
/* n bytes as a span. */
struct mqtt_span mqtt_take(struct mqtt_cur *c, size_t n);

/*
 * The fixed header at p: 1 when complete (type, flags, remaining length and
 * header size set), 0 when more bytes are needed, -1 when it is not a valid
 * MQTT fixed header (reserved type, flags the type forbids, a fifth length
 * byte, a length too short for the type).
 */
int mqtt_fixed_header(const uint8_t *p, size_t n, uint8_t *type, uint8_t *flags,
		      uint32_t *remaining, size_t *hlen);

/* "PUBLISH", ... or "reserved". */
const char *mqtt_type_name(uint8_t type);

/*
 * Walk a v5 property block (its bytes, after the length). Returns false if
 * the block is malformed (an unknown identifier, a field past the end).
 * With v set, writes the properties as members of the open object: single
 * ones by name, repeatable ones (user properties, subscription
 * identifiers) as lists; credential-bearing ones (authentication data)
 * masked.
 */
bool mqtt_props_walk(const uint8_t *p, size_t n, const struct sonde_field_ops *v, void *ctx);

/* A v5 reason code's name for the packet type; NULL when unassigned. */
const char *mqtt_reason_name(uint8_t type, uint8_t code);
/* A 3.1/3.1.1 CONNACK return code's name; NULL when unassigned. */
const char *mqtt_connack_v3_name(uint8_t code);

#endif
