/* SPDX-License-Identifier: MIT */
/*
 * Content-Encoding of HTTP bodies, shared by HTTP/1 (http1_parse.c) and
 * HTTP/2 (http2.c) through the HTTP message (http_msg.c): the codings and
 * their names, what a Content-Encoding value declares, and inflating a gzip
 * or deflate body for --decode-bodies.
 */
#ifndef SONDE_BODY_DECODE_H
#define SONDE_BODY_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Content codings sonde tells apart (names: sonde_http_coding_name). */
enum sonde_http_coding {
	SONDE_HTTP_CODING_NONE = 0,
	SONDE_HTTP_CODING_GZIP,
	SONDE_HTTP_CODING_DEFLATE,
	SONDE_HTTP_CODING_OTHER,
};

/* The record's name of a coding ("gzip", "deflate", "other"); NULL for NONE. */
const char *sonde_http_coding_name(enum sonde_http_coding c);

/* The coding one Content-Encoding field value declares: its last coding
 * decides (gzip or x-gzip, deflate, other); NONE for an empty value or a
 * last coding of identity (the caller then keeps what earlier fields said). */
enum sonde_http_coding sonde_body_coding(const uint8_t *v, size_t n);

/* Inflate a gzip or deflate body of n bytes into out (which must be empty),
 * keeping at most limit bytes. deflate is tried zlib-wrapped, then raw
 * (servers send both under that name); a body that ends early keeps the
 * prefix that inflated. True when out holds a decoded body (*full: the limit
 * cut it short); false (out empty) when the coding is neither or the bytes
 * do not inflate. */
bool sonde_body_inflate(const uint8_t *p, size_t n, enum sonde_http_coding coding, size_t limit,
			struct sonde_buf *out, bool *full);

#endif
