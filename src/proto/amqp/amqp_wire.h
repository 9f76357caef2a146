/* SPDX-License-Identifier: MIT */
/*
 * AMQP 0-9-1 wire format: a bounds-checked cursor, method arguments read
 * through the generated field lists (amqp_spec.h), field tables, and
 * content header properties. Nothing here allocates; every read fails
 * rather than run past its bytes, and nesting is bounded.
 */
#ifndef SONDE_AMQP_WIRE_H
#define SONDE_AMQP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/fields.h"
#include "proto/amqp/amqp_spec.h"

#define AMQP_FRAME_METHOD 1
#define AMQP_FRAME_HEADER 2
#define AMQP_FRAME_BODY 3
#define AMQP_FRAME_HEARTBEAT 8
#define AMQP_FRAME_END 0xce
#define AMQP_TABLE_DEPTH 8

struct amqp_cur {
	const uint8_t *p;
	size_t n, off;
	bool bad; /* a read ran past the end: sticky */
};

static inline struct amqp_cur amqp_cur(const uint8_t *p, size_t n)
{
	return (struct amqp_cur){ p, n, 0, false };
}

uint8_t amqp_u8(struct amqp_cur *c);
uint16_t amqp_u16(struct amqp_cur *c);
uint32_t amqp_u32(struct amqp_cur *c);
uint64_t amqp_u64(struct amqp_cur *c);
/* n bytes: a pointer into the cursor's bytes, or NULL (and bad). */
const uint8_t *amqp_take(struct amqp_cur *c, size_t n);

/* One argument of a method, or one property. */
struct amqp_val {
	const struct amqp_field *f;
	uint64_t u; /* integers and bits */
	const uint8_t *s; /* strings and tables: their bytes (a table's after its length) */
	uint32_t len;
};

/* Arguments of a method, in order. */
struct amqp_args {
	struct amqp_cur c;
	const struct amqp_field *f;
	uint8_t nf, i;
	uint8_t bits, bitpos; /* the octet consecutive bits are read from */
};

void amqp_args_init(struct amqp_args *a, const struct amqp_method *m, const uint8_t *p, size_t n);
/* The next argument: 1, 0 at the end, -1 when the bytes run out first. */
int amqp_args_next(struct amqp_args *a, struct amqp_val *out);
/* The argument named name as an integer (bits, octets, ... longlong), or
 * as a string; false when the method has none or the bytes lack it. */
bool amqp_arg_u64(const struct amqp_method *m, const uint8_t *p, size_t n, const char *name,
		  uint64_t *out);
bool amqp_arg_str(const struct amqp_method *m, const uint8_t *p, size_t n, const char *name,
		  const uint8_t **s, uint32_t *len);

/*
 * Write every argument (reserved ones left out, credentials masked) as
 * members of the open object. Returns false when the arguments are
 * malformed (what parsed is written).
 */
bool amqp_args_walk(const struct amqp_method *m, const uint8_t *p, size_t n,
		    const struct sonde_field_ops *v, void *ctx);
/* Are these sound arguments of m, to their last byte? */
bool amqp_args_valid(const struct amqp_method *m, const uint8_t *p, size_t n);

/*
 * A field table's entries (p: after its length) as [key, value] lists,
 * elements of an open list (keys are captured bytes, so never member
 * names); v NULL only checks. Values of keys named in `secret` (a
 * NULL-terminated list, or NULL) are written masked.
 */
bool amqp_table_walk(const uint8_t *p, size_t n, int depth, const char *const *secret,
		     const struct sonde_field_ops *v, void *ctx);

/*
 * Content header properties (p: after the property flags) of class cls, as
 * members of the open object; false when malformed.
 */
bool amqp_props_walk(const struct amqp_class *cls, uint16_t flags, const uint8_t *p, size_t n,
		     const struct sonde_field_ops *v, void *ctx);

#endif
