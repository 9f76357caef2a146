/* SPDX-License-Identifier: MIT */
/*
 * RESP (the Redis serialization protocol, RESP2 and RESP3): an incremental
 * parser that turns one direction's bytes, split anywhere, into one value at
 * a time. Every type of both versions is understood; inline commands (a
 * plain text line: "SET k v\r\n") too, on the client side.
 *
 * A value is kept as a bounded tree: a flat, pre-order array of nodes (each
 * with its depth) and one text buffer the nodes' bytes point into. Past the
 * node, text or per-item bounds nothing more is kept, but everything is still
 * parsed and counted, and the value is flagged cut. Declared lengths are
 * never used to size an allocation: a bulk string of 4 GiB costs nothing but
 * the bytes kept of it. Nesting is bounded (SONDE_RESP_DEPTH).
 */
#ifndef SONDE_RESP_H
#define SONDE_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SONDE_RESP_DEPTH 32 /* aggregates open at once */

/* The type byte of each RESP type; inline commands become an array of
 * bulk strings flagged inline. */
enum sonde_resp_type {
	SONDE_RESP_SIMPLE = '+',
	SONDE_RESP_ERROR = '-',
	SONDE_RESP_INTEGER = ':',
	SONDE_RESP_BULK = '$',
	SONDE_RESP_ARRAY = '*',
	SONDE_RESP_NULL = '_', /* RESP3 */
	SONDE_RESP_BOOL = '#',
	SONDE_RESP_DOUBLE = ',',
	SONDE_RESP_BIGNUM = '(',
	SONDE_RESP_BULK_ERROR = '!',
	SONDE_RESP_VERBATIM = '=',
	SONDE_RESP_MAP = '%',
	SONDE_RESP_SET = '~',
	SONDE_RESP_ATTR = '|',
	SONDE_RESP_PUSH = '>',
};

struct sonde_resp_node {
	uint8_t type; /* enum sonde_resp_type */
	uint8_t depth; /* 0: the value itself */
	bool null; /* RESP2 null bulk string or array ($-1, *-1) */
	bool cut; /* bytes or elements of it not kept */
	uint32_t off, len; /* kept bytes, in the value's text */
	/* bulk, verbatim, bulk error: declared length; aggregates: declared
	 * elements (a map's or attribute's pairs count twice); lines: length */
	uint64_t size;
};

struct sonde_resp_limits {
	uint32_t nodes; /* nodes kept per value */
	uint32_t text; /* bytes kept per value */
	uint32_t item; /* bytes kept per string */
};

struct sonde_resp_value {
	struct sonde_resp_node *node;
	uint32_t n, cap;
	struct sonde_buf text;
	bool cut; /* anything not kept */
	bool is_inline;
	bool malformed; /* an inline command with unbalanced quotes (Redis
			 * answers it with an error) */
};

enum sonde_resp_rc {
	SONDE_RESP_MORE = 0, /* all bytes used, the value goes on */
	SONDE_RESP_DONE, /* a whole value is in the parser's value */
	SONDE_RESP_BAD, /* not RESP: the value is unusable (why says why) */
};

enum resp_state {
	RESP_TYPE, /* the type byte of a value */
	RESP_LINE, /* the rest of a line, up to its CR */
	RESP_LINE_LF, /* the LF after it */
	RESP_PAYLOAD, /* a bulk payload's bytes */
	RESP_PAYLOAD_CR,
	RESP_PAYLOAD_LF,
	RESP_INLINE, /* an inline command's line */
};

struct resp_frame {
	uint8_t type;
	int32_t node; /* its node, or -1 when not kept */
	uint64_t left; /* elements still to come */
};

struct sonde_resp_parser {
	struct sonde_resp_limits lim;
	bool resp3; /* accept the RESP3-only types */
	bool client; /* client side: arrays of bulk strings, or inline */
	enum resp_state st;
	uint8_t type; /* of the line or payload being read */
	int32_t cur; /* node of the line or payload being read, or -1 */
	char hdr[24]; /* a line's first bytes, for its number */
	uint32_t hdr_len;
	uint64_t line_len;
	uint64_t left; /* payload bytes still to come */
	bool tok; /* inline: inside a token */
	uint64_t ntok; /* inline: tokens so far */
	uint8_t quote; /* inline: the quote a token is inside, or 0 */
	bool esc, closed; /* inline: after a backslash; after a closing quote */
	uint8_t xn, xb; /* inline: \x seen (1), and its first digit (2) */
	uint32_t depth;
	struct resp_frame stack[SONDE_RESP_DEPTH];
	uint64_t bytes; /* bytes of the current value so far */
	struct sonde_resp_value v; /* the value being parsed */
	const char *why; /* SONDE_RESP_BAD: what was wrong */
};

void sonde_resp_init(struct sonde_resp_parser *ps, const struct sonde_resp_limits *lim,
		     bool client);
void sonde_resp_free(struct sonde_resp_parser *ps);
/* Forget the value being parsed (after an error or a gap). */
void sonde_resp_reset(struct sonde_resp_parser *ps);
/* Is the parser between values (nothing of the next one seen)? */
bool sonde_resp_idle(const struct sonde_resp_parser *ps);
/*
 * Parse p[0..n). *used says how many bytes were taken: on DONE up to the
 * value's last byte (the value is ps->v: take it with sonde_resp_take), on
 * ERROR up to and including the offending byte, on MORE all of them.
 * Empty lines between inline commands are used and belong to no value.
 */
enum sonde_resp_rc sonde_resp_feed(struct sonde_resp_parser *ps, const uint8_t *p, size_t n,
				   size_t *used);
/* n bytes are missing: true when they fall inside a payload the parser was
 * reading, which it then continues (the payload's node is flagged cut). */
bool sonde_resp_skip(struct sonde_resp_parser *ps, uint64_t n);
/* Move the finished value out (the parser starts a new one). */
void sonde_resp_take(struct sonde_resp_parser *ps, struct sonde_resp_value *out);
void sonde_resp_value_free(struct sonde_resp_value *v);

/* Could a value start with byte c (RESP3 types included when resp3)? */
bool sonde_resp_type_byte(uint8_t c, bool resp3);
/* Index just past the subtree of node i. */
uint32_t sonde_resp_next(const struct sonde_resp_value *v, uint32_t i);
/* The node's kept bytes. */
static inline const uint8_t *sonde_resp_bytes(const struct sonde_resp_value *v,
					      const struct sonde_resp_node *nd)
{
	return v->text.p ? v->text.p + nd->off : (const uint8_t *)"";
}
/* Does the node hold exactly the string s, ignoring ASCII case? */
bool sonde_resp_ieq(const struct sonde_resp_value *v, const struct sonde_resp_node *nd,
		    const char *s);
/* The node's kept bytes as an integer; false if they are not one. */
bool sonde_resp_int(const struct sonde_resp_value *v, const struct sonde_resp_node *nd,
		    int64_t *out);
/* A name for the type, as records write it ("bulk_string"). */
const char *sonde_resp_type_name(uint8_t type);

#endif
