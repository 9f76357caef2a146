/* SPDX-License-Identifier: MIT */
/*
 * Content dissectors: what an HTTP message carries, by media type and
 * request line (gRPC, GraphQL), for HTTP/1 and HTTP/2 alike. One table
 * (content.c) lists them; an HTTP dissector looks a message up once, at one
 * of two moments, and the message then keeps the dissector and its state:
 *
 *   head     the headers decide, before the body (gRPC: content-type).
 *            The state is opened at once and sees every body byte, also
 *            past the body limit (to count gRPC messages).
 *   request  the complete request decides (GraphQL: method, target,
 *            content-type, body), and is parsed then, once; the parse is
 *            the state. The response to a claimed request is claimed too.
 *
 * When the message ends, finish() completes the state (a response's
 * GraphQL errors; gRPC's limits and schema); fields() walks it into the
 * message's fields (core/fields.h) under the dissector's own member.
 */
#ifndef SONDE_CONTENT_H
#define SONDE_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/fields.h"
#include "proto/http/http_msg.h"

struct sonde_pd_msg;

/* What finish() may use besides the message. */
struct sonde_content_ctx {
	size_t body_limit;
	/* the message type the caller found for this message's call
	 * (gRPC with --proto-descriptor), or NULL */
	const struct sonde_pd_msg *schema;
};

#define SONDE_CONTENT_VER(v) (1u << (v)) /* enum sonde_http_ver as a bit */

struct sonde_content_dissector {
	const char *name;
	unsigned versions; /* SONDE_CONTENT_VER bits of the HTTP versions it applies to */
	/* Head lookup: do the message's headers say this content? (NULL: never) */
	bool (*match_head)(const struct sonde_http_msg *m);
	/* Request lookup: the parse of a complete request, or NULL if it is
	 * not this content. (NULL op: never.) */
	void *(*match_request)(const struct sonde_http_msg *req);
	/* State for a claimed message before its body (NULL op: none). */
	void *(*open)(const struct sonde_http_msg *m);
	/* Body bytes as they arrive (NULL: not needed). */
	void (*body)(void *st, const uint8_t *p, size_t n);
	/* The message is complete: returns its state (st, or a new one). */
	void *(*finish)(struct sonde_http_msg *m, void *st, const struct sonde_content_ctx *c);
	void (*fields)(const struct sonde_http_msg *m, const void *st,
		       const struct sonde_field_ops *v, void *ctx);
	void (*free)(void *st);
};

/* The content dissector whose match_head claims m, or NULL. */
const struct sonde_content_dissector *sonde_content_head(const struct sonde_http_msg *m);
/* Give m (which has none yet) the content cd, opening its state. */
void sonde_content_attach(struct sonde_http_msg *m, const struct sonde_content_dissector *cd);
/* Look up a complete request that has no content yet; on a match m keeps
 * the dissector and the parse. Returns the dissector, or NULL. */
const struct sonde_content_dissector *sonde_content_request(struct sonde_http_msg *m);
/* m is complete: let its content (if any) finish. */
void sonde_content_finish(struct sonde_http_msg *m, const struct sonde_content_ctx *c);

extern const struct sonde_content_dissector sonde_content_grpc;
extern const struct sonde_content_dissector sonde_content_graphql;

#endif
