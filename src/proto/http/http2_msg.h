/* SPDX-License-Identifier: MIT */
/*
 * Building HTTP/2 messages (proto/http/http_msg.h; one per request or
 * response of a stream) from header blocks and DATA: what differs from
 * HTTP/1 is where the start line comes from (pseudo-header fields) and how
 * the content coding is found.
 */
#ifndef SONDE_HTTP2_MSG_H
#define SONDE_HTTP2_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http/http_msg.h"

struct sonde_http_msg *h2_msg_new(bool response, uint32_t sid, uint64_t ts);
/* :status as a number, -1 if not three digits. */
int h2_parse_status(const uint8_t *p, size_t n);
/* Note a header field just added to m's headers: pseudo-headers make the
 * start line (:method, :path, :authority, :scheme, :status). */
void h2_msg_pseudo(struct sonde_http_msg *m, const struct sonde_http_field *f);
/* Forget the headers of an interim response (the final one follows). */
void h2_msg_reset_head(struct sonde_http_msg *m);
/* Set the message's content coding from its content-encoding fields (the
 * last that names one decides, as in HTTP/1) and, with decode, inflate a
 * gzip or deflate body in place, keeping at most limit bytes. */
void h2_msg_body_coding(struct sonde_http_msg *m, bool decode, size_t limit);

#endif
