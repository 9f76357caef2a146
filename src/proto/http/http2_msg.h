/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/2 message (one request or response of a stream): what http2.c
 * builds from header blocks and DATA, and how it is written (JSON, text),
 * with its gRPC and GraphQL parts.
 */
#ifndef SONDE_HTTP2_MSG_H
#define SONDE_HTTP2_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/record.h"
#include "proto/content/grpc.h"
#include "proto/http/http1_parse.h"

#define MAX_INTERIM 4 /* 1xx codes kept per final response */

struct h2_field {
	uint32_t noff, nlen, voff, vlen; /* into the message's text */
};

struct h2_fields {
	struct h2_field *f;
	uint32_t n, cap;
};

struct h2_msg {
	struct sonde_msg base;
	bool response;
	bool pushed;
	bool body_seen;
	uint32_t stream_id;
	int status; /* -1 if no :status */
	uint8_t ninterim;
	int16_t interim[MAX_INTERIM];
	struct sonde_buf text; /* names and values of headers and trailers */
	struct h2_fields headers, trailers;
	int32_t method, path, authority, scheme; /* field index or -1 */
	uint32_t hpack_unknown; /* header fields that referred to unknown HPACK entries */
	uint64_t body_size;
	bool body_gap; /* bytes of the body were lost: nothing after them is kept */
	struct sonde_buf body; /* kept DATA bytes; inflated with --decode-bodies */
	enum sonde_h1_coding coding; /* content-encoding of the headers (set at the end) */
	bool decoded; /* body holds the inflated body */
	uint64_t body_captured; /* DATA bytes kept, when body was inflated */
	bool grpc; /* a gRPC stream (content-type application/grpc*) */
	const struct sonde_pd_msg *pb_type; /* its messages' type (--proto-descriptor) */
	size_t grpc_limit; /* the body limit, for gRPC message decoding */
	struct sonde_grpc_framer gf;
	bool graphql; /* a GraphQL request, or the response to one */
	bool gql_errors; /* response: its JSON has a non-empty "errors" */
};

struct h2_msg *h2_msg_new(bool response, uint32_t sid, uint64_t ts);
void h2_fields_add(struct h2_fields *fs, struct h2_field f);
/* Text of a field name or value at off in the message's text buffer. */
const uint8_t *h2_txt(const struct h2_msg *m, uint32_t off);
bool h2_field_is(const struct h2_msg *m, const struct h2_field *f, const char *name);
/* :status as a number, -1 if not three digits. */
int h2_parse_status(const uint8_t *p, size_t n);
const struct h2_field *h2_field_find(const struct h2_msg *m, const struct h2_fields *fs,
				     const char *name);
/* Set the message's content coding from its content-encoding fields (the
 * last that names one decides, as in HTTP/1) and, with decode, inflate a
 * gzip or deflate body in place, keeping at most limit bytes. */
void h2_msg_body_coding(struct h2_msg *m, bool decode, size_t limit);
/* Is the request GraphQL? With o, write its ,"graphql":{...} too. */
bool h2_graphql_request(const struct h2_msg *m, struct sonde_buf *o);

#endif
