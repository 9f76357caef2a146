/* SPDX-License-Identifier: MIT */
/*
 * The recording's masker for HTTP/2 (redact_stream.c calls it for a
 * direction that starts with the client preface or a server's SETTINGS):
 * frames are followed across chunks, and the field values of header blocks
 * (HEADERS, PUSH_PROMISE, CONTINUATION) whose names the rules name are
 * overwritten in place with the same number of bytes — '*' for a literal,
 * 0xf9 (the 8-bit Huffman code of '*') for a Huffman-coded one — so the
 * block still decodes, to stars, and the HPACK tables of a reader stay in
 * step. A URL-valued field (:path) keeps what is not secret: a literal has
 * exactly its secrets starred, a Huffman-coded one is starred from its
 * first secret on. Each piece of a value cut by chunks is judged on what
 * came so far, as the whole value would be (a query value from its name
 * and '=' on), so cut or whole the mask is the same — but for an authority
 * cut before its end, secret from its start (its '@' is not seen yet).
 * The frames' and blocks' own bytes (headers, integers, names, Huffman
 * codes) are written as they were, whatever the text rules of
 * redact_stream.c made of them: their stars would break the block, and the
 * secrets there are this masker's. Names are resolved through the static
 * table and a mirror of the names the direction inserted (the newest 128);
 * a reference past them masks the value. Once the frames are lost (a hole
 * in the stream, a malformed block) every later byte of the direction is
 * masked: nothing is let through unread.
 */
#ifndef SONDE_REDACT_H2_H
#define SONDE_REDACT_H2_H

#include <stddef.h>
#include <stdint.h>

#include "redact/redact.h"

struct sonde_redact_h2;

struct sonde_redact_h2 *sonde_redact_h2_new(void);
void sonde_redact_h2_free(struct sonde_redact_h2 *h);
/*
 * The next n bytes of the direction's frames, as captured, in p; their
 * masked form is written into out (which holds a copy of p), or nothing
 * when out is NULL (bytes already recorded). Returns the bytes changed.
 */
size_t sonde_redact_h2_feed(struct sonde_redact_h2 *h, const struct sonde_redactor *r,
			    const uint8_t *p, uint8_t *out, size_t n);
/* The stream lost bytes: from now on everything is masked. */
void sonde_redact_h2_lost(struct sonde_redact_h2 *h);

#endif
