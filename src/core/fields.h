/* SPDX-License-Identifier: MIT */
/*
 * The field visitor: how a message says what it holds, once, for every
 * consumer. A protocol's fields op walks its message and calls the visitor
 * for each member in order; the visitor decides what that becomes. JSON
 * (sink/render_json.c) is one visitor; the same walk serves a masking stage
 * (a visitor that rewrites header values or fields by name and forwards to
 * the next visitor), a filter language (one that looks up a dotted name such
 * as "response.status" while the walk goes by), HAR or OTLP exporters and a
 * columnar store, none of which need to touch a protocol. tests/unit/
 * test_fields.c has a dotted-name visitor and a masking one.
 *
 * The walk is a tree: objects and lists open with begin() and close with
 * end(); members of an object carry a name, elements of a list do not (name
 * NULL). Names are static ASCII strings. Byte strings (str, bytes, header,
 * json) are never NULL, point into the message or a scratch buffer, and are
 * valid only during the call. The members every message has (ts,
 * wire_bytes, captured_bytes) and the record's own (conn, capture, latency,
 * flags) are not part of the walk: they are plain struct members
 * (core/record.h).
 *
 * Values:
 *   str      text as captured: arbitrary bytes, a renderer escapes them
 *   null     a member present without a value (e.g. HTTP/2 without :status)
 *   u64/i64  integers
 *   boolean  true/false
 *   bytes    a payload (a body, a gRPC message): the renderer chooses its
 *            representation (JSON: text when valid UTF-8, else base64, with
 *            an "encoding" member before it)
 *   header   one name/value pair of a header list (between a begin/end of
 *            SONDE_FG_LIST), in wire order: the unit a masking stage rewrites
 *   json     a value a decoder already rendered as JSON, because its bounds
 *            are JSON bytes (protobuf messages of gRPC); other visitors may
 *            treat it as opaque text
 *   secret   a credential, through sonde_field_secret(): a str that the
 *            redaction stage masks (the one optional callback)
 * Every other callback must be set. A walk is (const struct sonde_field_ops *v,
 * void *ctx): the visitor and its state.
 */
#ifndef SONDE_FIELDS_H
#define SONDE_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum sonde_field_group {
	SONDE_FG_OBJECT,
	SONDE_FG_LIST,
};

struct sonde_field_ops {
	void (*str)(void *ctx, const char *name, const uint8_t *p, size_t n);
	void (*null)(void *ctx, const char *name);
	void (*u64)(void *ctx, const char *name, uint64_t v);
	void (*i64)(void *ctx, const char *name, int64_t v);
	void (*boolean)(void *ctx, const char *name, bool v);
	void (*bytes)(void *ctx, const char *name, const uint8_t *p, size_t n);
	void (*begin)(void *ctx, const char *name, enum sonde_field_group g);
	void (*end)(void *ctx, enum sonde_field_group g);
	void (*header)(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value,
		       size_t vlen);
	void (*json)(void *ctx, const char *name, const uint8_t *p, size_t n);
	/* A credential (a password, a token): written like str by visitors
	 * that leave it NULL; the redaction stage masks it. Dissectors call
	 * sonde_field_secret(), never this directly. */
	void (*secret)(void *ctx, const char *name, const uint8_t *p, size_t n);
};

/* Write a value that is a credential: masked unless redaction is off
 * (redact/redact.h). */
static inline void sonde_field_secret(const struct sonde_field_ops *v, void *ctx, const char *name,
				      const uint8_t *p, size_t n)
{
	if (v->secret)
		v->secret(ctx, name, p, n);
	else
		v->str(ctx, name, p, n);
}

static inline void sonde_field_cstr(const struct sonde_field_ops *v, void *ctx, const char *name,
				    const char *s)
{
	v->str(ctx, name, (const uint8_t *)s, strlen(s));
}

#endif
