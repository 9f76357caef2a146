/* SPDX-License-Identifier: MIT */
/*
 * Protocol Buffers wire format to JSON, without the .proto: a message is
 * written as an object from field number (as a string key) to value. A field
 * seen several times has an array of its values, in order. Values:
 *   varint, fixed64, fixed32   JSON numbers (unsigned)
 *   length-delimited           a nested message (object) if the bytes parse
 *                              cleanly and completely as one (non-empty, within
 *                              max_depth), else a string if valid UTF-8, else
 *                              {"base64":"..."}
 * Groups (wire types 3 and 4) and anything malformed make the bytes "not a
 * message". Lengths are checked against the input, never trusted.
 */
#ifndef SONDE_PROTOBUF_H
#define SONDE_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct sonde_pb_limits {
	unsigned max_depth; /* nesting levels decoded as messages (0: default 8) */
	size_t max_out; /* JSON bytes written at most (0: default 64 KiB) */
	unsigned max_fields; /* fields per message (0: default 256) */
};

enum {
	SONDE_PB_OK = 0,
	SONDE_PB_MALFORMED = -1, /* not a protobuf message */
	SONDE_PB_TOO_LARGE = -2, /* valid so far, but over max_out or max_fields */
};

/*
 * Decode n bytes as one message, appending its JSON object to out. On error
 * out is left as it was. lim may be NULL (defaults).
 */
int sonde_pb_decode(const uint8_t *p, size_t n, struct sonde_buf *out,
		    const struct sonde_pb_limits *lim);

/* A field-by-field reader over one message's bytes (for schema-aware decoders). */
struct sonde_pb_reader {
	const uint8_t *p;
	size_t n, i;
};

struct sonde_pb_wfield {
	uint32_t num; /* field number, 1 .. 2^29-1 */
	uint8_t wt; /* wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
	uint64_t v; /* value of a varint or fixed field */
	const uint8_t *bytes; /* a length-delimited value */
	size_t len;
};

/*
 * The next field: 1 with *f filled, 0 at the end of the message, -1 if the
 * bytes are malformed (bad tag or varint, a length past the end, a group).
 */
int sonde_pb_next(struct sonde_pb_reader *r, struct sonde_pb_wfield *f);

/* One varint at p[*i] (at most 10 bytes, no more than 64 bits): false if malformed. */
bool sonde_pb_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v);

#endif
