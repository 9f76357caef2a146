/* SPDX-License-Identifier: MIT */
/*
 * Building HTTP/1.x messages (proto/http/http_msg.h) from what the parser
 * (http1_parse.c) found: the head is copied into the message's text, the
 * header spans become its fields.
 */
#ifndef SONDE_HTTP1_MSG_H
#define SONDE_HTTP1_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http/http1_parse.h"
#include "proto/http/http_msg.h"

#define SONDE_H1_MAX_HEADERS 128 /* kept per message (and trailers); more are counted */

/* A message from a parsed head (copied); headers may be NULL when none.
 * From the connection's pool (http_msg.h; NULL: none). */
struct sonde_http_msg *h1_msg_new(struct sonde_http_pool *pool, const uint8_t *head, size_t len,
				  const struct sonde_h1_head *hd,
				  const struct sonde_h1_header *hdrs, bool response);
/* A message with no head: an HTTP/0.9 request line, or a 0.9 response. */
struct sonde_http_msg *h1_msg_new_http09(struct sonde_http_pool *pool, const uint8_t *line,
					 size_t len, bool response);
/* Trailers of a chunked body: tl bytes of header lines, parsed here. */
void h1_msg_trailers(struct sonde_http_msg *m, const uint8_t *p, size_t tl);
/* The protocol a final response hands the connection to (101: by its or
 * its request's Upgrade; 2xx to CONNECT: "tunnel"), or NULL. req may be NULL. */
const char *h1_msg_switch_to(const struct sonde_http_msg *resp, const struct sonde_http_msg *req);
/* Does the header span `s` of m's text equal `lower`, ignoring case? */
bool h1_msg_span_ieq(const struct sonde_http_msg *m, struct sonde_http_span s, const char *lower);

#endif
