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

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"

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

#endif
