/* SPDX-License-Identifier: MIT */
/*
 * Recognising AMQP 0-9-1: the protocol header a client opens with, or, in
 * the middle of a connection (one opened before sonde), frames: type,
 * channel, size, payload, frame-end 0xCE, a method frame naming a class
 * and method the spec has (on channel 0 for the connection class, another
 * for the rest), a content header of a content class. Body frames are
 * opaque bytes: they are believed only after a frame that is not.
 */
#include <string.h>

#include "proto/amqp/amqp_priv.h"
#include "proto/amqp/amqp_wire.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int amqp_frame_start(const uint8_t *p, size_t n)
{
	if (!n)
		return 0;
	uint8_t t = p[0];
	if (t != AMQP_FRAME_METHOD && t != AMQP_FRAME_HEADER && t != AMQP_FRAME_HEARTBEAT)
		return -1;
	if (n < 7)
		return 0;
	uint16_t channel = be16(p + 1);
	uint32_t size = be32(p + 3);
	if (t == AMQP_FRAME_HEARTBEAT) {
		if (channel || size)
			return -1;
		return n < 8 ? 0 : p[7] == AMQP_FRAME_END ? 1 : -1;
	}
	if (size > AMQP_MAX_FRAME || size < (t == AMQP_FRAME_METHOD ? 4 : 14))
		return -1;
	if (n < 11)
		return 0;
	if (t == AMQP_FRAME_HEADER) {
		const struct amqp_class *c = amqp_class_find(be16(p + 7));
		return c && c->nprops && channel && !be16(p + 9) ? 1 : -1;
	}
	uint16_t cls = be16(p + 7);
	if (!amqp_method_find(cls, be16(p + 9)) || (cls == 10) != (channel == 0))
		return -1;
	return 1;
}

/* Which side sends this method frame, as far as the spec says. */
static enum sonde_probe side_of(const uint8_t *p)
{
	const struct amqp_method *m = amqp_method_find(be16(p + 7), be16(p + 9));
	uint8_t f = m ? m->flags & (AMQP_M_FROM_CLIENT | AMQP_M_FROM_SERVER) : 0;
	if (f == AMQP_M_FROM_CLIENT)
		return SONDE_PROBE_CLIENT;
	if (f == AMQP_M_FROM_SERVER)
		return SONDE_PROBE_SERVER;
	return SONDE_PROBE_NO;
}

enum sonde_probe amqp_probe(const uint8_t *p, size_t n)
{
	static const uint8_t amqp[4] = { 'A', 'M', 'Q', 'P' };
	if (n && p[0] == 'A') { /* the protocol header, of any version */
		size_t k = n < 4 ? n : 4;
		if (memcmp(p, amqp, k))
			return SONDE_PROBE_NO;
		return n < 8 ? SONDE_PROBE_MORE : SONDE_PROBE_CLIENT;
	}
	int r = amqp_frame_start(p, n < AMQP_WINDOW ? n : AMQP_WINDOW);
	if (r <= 0)
		return r ? SONDE_PROBE_NO : SONDE_PROBE_MORE;
	enum sonde_probe side = SONDE_PROBE_NO;
	size_t off = 0;
	int frames = 0;
	while (n - off >= 7) {
		const uint8_t *f = p + off;
		uint32_t size = be32(f + 3);
		if (frames && (f[0] < 1 || (f[0] > 3 && f[0] != 8) || size > AMQP_MAX_FRAME))
			return SONDE_PROBE_NO;
		if ((uint64_t)size + 8 > n - off)
			break; /* a frame that goes on past these bytes */
		if (f[size + 7] != AMQP_FRAME_END)
			return SONDE_PROBE_NO;
		if (f[0] == AMQP_FRAME_METHOD && side == SONDE_PROBE_NO)
			side = side_of(f);
		off += size + 8;
		frames++;
	}
	if (!frames && off == 0 && n < 64 && p[0] != AMQP_FRAME_METHOD)
		return SONDE_PROBE_MORE;
	/* a method frame longer than these bytes, its ids known: believed */
	if (!frames && p[0] == AMQP_FRAME_METHOD)
		side = side_of(p);
	/* both sides send the rest (acks, close): a guess */
	return side == SONDE_PROBE_NO ? SONDE_PROBE_CLIENT : side;
}
