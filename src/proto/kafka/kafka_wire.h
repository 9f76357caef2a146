/* SPDX-License-Identifier: MIT */
/* Kafka's primitive encodings over a bounded cursor: every read checks the
 * bytes are there and returns false, reading nothing, when they are not. */
#ifndef SONDE_KAFKA_WIRE_H
#define SONDE_KAFKA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kafka_cur {
	const uint8_t *p;
	size_t n, off;
};

static inline size_t kafka_left(const struct kafka_cur *c)
{
	return c->n - c->off;
}

static inline uint64_t kafka_be(const uint8_t *p, size_t k)
{
	uint64_t v = 0;
	for (size_t i = 0; i < k; i++)
		v = v << 8 | p[i];
	return v;
}

/* k bytes big-endian, k <= 8. */
static inline bool kafka_uint(struct kafka_cur *c, size_t k, uint64_t *v)
{
	if (kafka_left(c) < k)
		return false;
	*v = kafka_be(c->p + c->off, k);
	c->off += k;
	return true;
}

static inline bool kafka_i16(struct kafka_cur *c, int16_t *v)
{
	uint64_t u;
	if (!kafka_uint(c, 2, &u))
		return false;
	*v = (int16_t)(uint16_t)u;
	return true;
}

static inline bool kafka_i32(struct kafka_cur *c, int32_t *v)
{
	uint64_t u;
	if (!kafka_uint(c, 4, &u))
		return false;
	*v = (int32_t)(uint32_t)u;
	return true;
}

/* An unsigned varint of at most 5 bytes (Kafka's lengths and tags). */
static inline bool kafka_uvarint(struct kafka_cur *c, uint32_t *v)
{
	uint64_t r = 0;
	for (size_t i = 0; i < 5; i++) {
		if (c->off + i >= c->n)
			return false;
		uint8_t b = c->p[c->off + i];
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (r > UINT32_MAX)
				return false;
			c->off += i + 1;
			*v = (uint32_t)r;
			return true;
		}
	}
	return false;
}

static inline bool kafka_skip(struct kafka_cur *c, size_t k)
{
	if (kafka_left(c) < k)
		return false;
	c->off += k;
	return true;
}

#endif
