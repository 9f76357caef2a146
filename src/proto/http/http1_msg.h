/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.x message: what the dissector (http1.c) builds and a record
 * carries. One allocation holds the struct, a copy of the head and the header
 * spans; the body is kept up to the body limit, its true size always counted.
 */
#ifndef SONDE_HTTP1_MSG_H
#define SONDE_HTTP1_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/record.h"
#include "core/stats.h"
#include "proto/http/http1_parse.h"

#define MAX_INTERIM 4 /* 1xx codes kept per final response */

struct h1_msg {
	struct sonde_msg base;
	bool response;
	bool http09;
	bool body_hole; /* a gap inside the body: stop keeping bytes */
	bool decoded;
	uint8_t ninterim;
	int16_t interim[MAX_INTERIM];
	int status;
	int version_minor;
	enum sonde_h1_coding coding;
	struct sonde_h1_span method, target, reason;
	const uint8_t *head;
	uint32_t head_len;
	uint32_t nheaders;
	const struct sonde_h1_header *headers;
	uint8_t *trailer_buf;
	uint32_t ntrailers;
	struct sonde_h1_header *trailers;
	uint64_t body_size; /* the body's true length (de-chunked) */
	uint64_t decoded_size;
	uint64_t body_captured; /* raw body bytes kept (before decoding) */
	struct sonde_buf body; /* kept bytes, up to the body limit */
	/* request semantics the response needs */
	bool is_head, is_connect;
	struct sonde_h1_span upgrade;
	bool upgrade_req;
	/* GraphQL: a request that is one, or the response to one */
	bool graphql;
	bool graphql_errors; /* response: a non-empty top-level "errors" */
	/* trailing storage: head copy, then header array */
};

/* A message from a parsed head (copied); headers may be NULL when none. */
struct h1_msg *h1_msg_new(const uint8_t *head, size_t len, const struct sonde_h1_head *hd,
			  const struct sonde_h1_header *hdrs, bool response);
/* A message with no head: an HTTP/0.9 request line, or a 0.9 response. */
struct h1_msg *h1_msg_new_http09(const uint8_t *line, size_t len, bool response);
/* n more body bytes: counted, kept while under limit (else flagged truncated). */
void h1_msg_body(struct h1_msg *m, const uint8_t *p, size_t n, size_t limit, struct sonde_stats *st);
/* Is this (complete) request GraphQL? (graphql.c decides from method,
 * target, content-type and body.) */
bool h1_msg_is_graphql(const struct h1_msg *m);
/* Inflate a gzip/deflate body in place, keeping at most limit bytes. */
void h1_msg_decode_body(struct h1_msg *m, size_t limit);

#endif
