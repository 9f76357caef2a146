/* SPDX-License-Identifier: MIT */
/*
 * gRPC over HTTP/2: message framing and the "grpc" object of a message's
 * JSON. http2.c recognises gRPC streams (content-type application/grpc*),
 * feeds every DATA byte of such a message to a framer (which counts the
 * length-prefixed messages, however many the body limit kept) and, when
 * writing, hands the kept body to sonde_grpc_write_messages.
 */
#ifndef SONDE_GRPC_H
#define SONDE_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

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

/* "service":...,"method":... from a :path /pkg.Service/Method (nulls if not). */
void sonde_grpc_write_path(struct sonde_buf *o, const uint8_t *path, size_t n);

/* A JSON string of a percent-encoded grpc-message value, decoded. */
void sonde_grpc_write_pct(struct sonde_buf *o, const uint8_t *v, size_t n);

struct sonde_pd_msg;

/*
 * "message_count":N,"messages":[...] for the kept body bytes. enc is the
 * grpc-encoding value (NULL: identity); json: content-type +json (messages
 * are written as text rather than decoded as protobuf). limit bounds the
 * inflated size of a compressed message and the decoded JSON. type: the
 * messages' protobuf type (--proto-descriptor), or NULL: decoded without it.
 */
void sonde_grpc_write_messages(struct sonde_buf *o, const uint8_t *body, size_t len,
			       const struct sonde_grpc_framer *f, const uint8_t *enc,
			       size_t enclen, bool json, size_t limit,
			       const struct sonde_pd_msg *type);

#endif
