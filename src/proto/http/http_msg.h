/* SPDX-License-Identifier: MIT */
/*
 * The HTTP message, one model for HTTP/1.x and HTTP/2: what http1.c and
 * http2.c build and a record carries. A message owns one text buffer holding
 * its start line (HTTP/1), header and trailer names and values; spans and
 * fields are offsets into it, so it can grow while a message is built. The
 * body is kept up to the body limit, its true size always counted.
 *
 * The message describes itself once (its fields op, core/fields.h): start
 * line, version, headers, trailers, interim codes, body, and the content
 * dissector's part (proto/content/content.h). What differs by version is
 * small and named: HTTP/2 writes authority, scheme, pushed, stream_id and
 * hpack_unknown, and its content part after the body (HTTP/1: before the
 * interim codes), as records always had it.
 */
#ifndef SONDE_HTTP_MSG_H
#define SONDE_HTTP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/record.h"
#include "core/stats.h"
#include "proto/http/body_decode.h"

#define SONDE_HTTP_MAX_INTERIM 4 /* 1xx codes kept per final response */

enum sonde_http_ver {
	SONDE_HTTP_1 = 0, /* HTTP/0.9, 1.0, 1.1 */
	SONDE_HTTP_2,
};

/* Bytes of the message's text; set: present at all (an empty value is). */
struct sonde_http_span {
	uint32_t off, len;
	bool set;
};

struct sonde_http_field {
	uint32_t noff, nlen, voff, vlen; /* into the message's text */
};

struct sonde_http_fields {
	struct sonde_http_field *f;
	uint32_t n, cap;
};

struct sonde_content_dissector;
struct sonde_http_pool;

struct sonde_http_msg {
	struct sonde_msg base;
	enum sonde_http_ver ver;
	bool response;
	int status; /* -1: none (HTTP/0.9, no :status) */
	/* request: method, target (HTTP/2 :path), authority, scheme;
	 * HTTP/1 response: reason */
	struct sonde_http_span method, path, authority, scheme, reason;
	struct sonde_buf text;
	struct sonde_http_fields headers, trailers;
	uint8_t ninterim;
	int16_t interim[SONDE_HTTP_MAX_INTERIM];
	uint64_t body_size; /* the body's true length (de-chunked) */
	uint64_t body_captured; /* body bytes kept, before decoding */
	struct sonde_buf body; /* kept bytes, inflated with --decode-bodies */
	bool body_hole; /* bytes of the body were lost: nothing after is kept */
	enum sonde_http_coding coding;
	bool decoded; /* body holds the inflated body */
	/* content by media type (gRPC, GraphQL), or NULL; its state */
	const struct sonde_content_dissector *cd;
	void *content;
	/* HTTP/1 only */
	bool http09;
	bool is_head, is_connect; /* request semantics the response needs */
	bool upgrade_req;
	struct sonde_http_span upgrade;
	/* HTTP/2 only */
	bool pushed; /* a PUSH_PROMISE request */
	bool body_seen;
	uint32_t stream_id;
	uint32_t hpack_unknown; /* fields that referred to unknown HPACK entries */
	struct sonde_http_pool *pool; /* where it goes back when freed; NULL: none */
};

/* An empty message (status -1, nothing set); the caller fills it in. */
struct sonde_http_msg *sonde_http_msg_new(enum sonde_http_ver ver, bool response);
/*
 * A connection's spare messages: a message taken from the pool goes back
 * to it when freed, its buffers kept (small ones only), so a keep-alive
 * connection's exchanges allocate nothing once warm. Messages outlive
 * their connection's dissector (they wait for pairing, for sinks): the
 * owner closes the pool, and it is freed with the last message out.
 */
struct sonde_http_pool *sonde_http_pool_new(void);
void sonde_http_pool_close(struct sonde_http_pool *pool);
/* sonde_http_msg_new, from the pool's spares when it has one (pool NULL:
 * a plain new message). */
struct sonde_http_msg *sonde_http_msg_take(struct sonde_http_pool *pool, enum sonde_http_ver ver,
					   bool response);
/* Bytes of the text at off (a valid pointer even when there is no text). */
const uint8_t *sonde_http_txt(const struct sonde_http_msg *m, uint32_t off);
void sonde_http_fields_add(struct sonde_http_fields *fs, struct sonde_http_field f);
/* Is the field called name (exactly)? */
bool sonde_http_field_is(const struct sonde_http_msg *m, const struct sonde_http_field *f,
			 const char *name);
/*
 * The field called `lower` (a lowercase name) in fs, or NULL: HTTP/1 takes
 * the first, matching case-insensitively; HTTP/2 the last, matching exactly
 * (its names are lowercase on the wire) — as each always did.
 */
const struct sonde_http_field *sonde_http_find(const struct sonde_http_msg *m,
					       const struct sonde_http_fields *fs,
					       const char *lower);
/* The same for a header's value: NULL when there is none. */
const uint8_t *sonde_http_header(const struct sonde_http_msg *m, const char *lower, size_t *len);
/* A span's bytes, or NULL when not set. */
const uint8_t *sonde_http_span_p(const struct sonde_http_msg *m, struct sonde_http_span s);
/* The request's target: :path, or for CONNECT the authority (unless the
 * :path may be among fields HPACK could not resolve). Not set: none. */
struct sonde_http_span sonde_http_target(const struct sonde_http_msg *m);

/* n more body bytes: counted; fed to the content dissector; kept while
 * under limit (past it the message is flagged truncated, once counted). */
void sonde_http_msg_body(struct sonde_http_msg *m, const uint8_t *p, size_t n, size_t limit,
			 struct sonde_stats *st);
/* Inflate a gzip/deflate body (m->coding) in place, keeping at most limit bytes. */
void sonde_http_msg_decode(struct sonde_http_msg *m, size_t limit);
/* Heap bytes the message holds, for the pending-requests budget. */
size_t sonde_http_msg_mem(const struct sonde_http_msg *m);

#endif
