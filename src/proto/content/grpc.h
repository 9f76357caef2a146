/* SPDX-License-Identifier: MIT */
/*
 * gRPC over HTTP/2: message framing and the "grpc" object of a message's
 * fields. The gRPC content dissector (sonde_content_grpc, content.h) claims
 * a stream by its content-type (application/grpc*), feeds every DATA byte of
 * its messages to a framer (which counts the length-prefixed messages,
 * however many the body limit kept) and walks the kept body's messages.
 */
#ifndef SONDE_GRPC_H
#define SONDE_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/fields.h"

#define SONDE_GRPC_MAX_MESSAGES 64 /* written per direction; all are counted */

/* Counts messages: 1-byte compressed flag, 4-byte big-endian length, data. */
struct sonde_grpc_framer {
	uint8_t hdr[5];
	uint8_t hlen;
	uint64_t rem; /* data bytes of the current message still to come */
	uint64_t count; /* messages started */
};

void sonde_grpc_feed(struct sonde_grpc_framer *f, const uint8_t *p, size_t n);
/* True when the framer stopped inside a message (prefix or data). */
static inline bool sonde_grpc_partial(const struct sonde_grpc_framer *f)
{
	return f->hlen || f->rem;
}

/* content-type application/grpc, application/grpc+proto, +json, ... */
bool sonde_grpc_content_type(const uint8_t *v, size_t n);

/* Members "service" and "method" from a :path /pkg.Service/Method (nulls if not). */
void sonde_grpc_path_fields(const uint8_t *path, size_t n, const struct sonde_field_ops *v,
			    void *ctx);

/* A string member of a percent-encoded grpc-message value, decoded. */
void sonde_grpc_pct_field(const char *name, const uint8_t *p, size_t n,
			  const struct sonde_field_ops *v, void *ctx);

struct sonde_pd_msg;

/*
 * "message_count":N,"messages":[...] for the kept body bytes. enc is the
 * grpc-encoding value (NULL: identity); json: content-type +json (messages
 * are written as text rather than decoded as protobuf). limit bounds the
 * inflated size of a compressed message and the decoded JSON. type: the
 * messages' protobuf type (--proto-descriptor), or NULL: decoded without it.
 * Decoded messages are json values (core/fields.h): their bounds are JSON bytes.
 */
void sonde_grpc_messages_fields(const uint8_t *body, size_t len, const struct sonde_grpc_framer *f,
				const uint8_t *enc, size_t enclen, bool json, size_t limit,
				const struct sonde_pd_msg *type, const struct sonde_field_ops *v,
				void *ctx);

#endif
