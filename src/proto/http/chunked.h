/* SPDX-License-Identifier: MIT */
/*
 * The chunked transfer coding's decoder (RFC 9112 7.1), up to the last
 * chunk: the trailer section after it is a header block, the caller's. The
 * state is the caller's (no allocation): input may be split at any byte,
 * each call consumes what it can and stops at the first event.
 *
 * A chunk-size line is at most SONDE_CHUNKED_MAX_LINE bytes with its line
 * end; it holds at most 15 hex digits after optional blanks, then one of
 * ; CR LF SP HTAB (anything after that, extensions included, is ignored).
 * A malformed line is reported when its LF arrives (the line consumed); a
 * line that grows past the limit, when the piece that would pass it does
 * (that piece not consumed). Chunk data is followed by CRLF or a bare LF.
 * Once malformed, the decoder stays so.
 */
#ifndef SONDE_CHUNKED_H
#define SONDE_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SONDE_CHUNKED_MAX_LINE 4096

enum sonde_chunked_state {
	SONDE_CHUNKED_SIZE = 0, /* in a chunk-size line */
	SONDE_CHUNKED_DATA, /* in a chunk's data */
	SONDE_CHUNKED_CRLF, /* the line end after a chunk's data */
	SONDE_CHUNKED_LAST, /* the last chunk's line was read: trailers follow */
	SONDE_CHUNKED_BAD, /* malformed */
};

struct sonde_chunked {
	enum sonde_chunked_state st;
	uint64_t size; /* SIZE: the size so far; DATA: data bytes still to come */
	uint32_t line_len; /* bytes of the size line so far */
	uint8_t digits;
	uint8_t phase; /* size line: 0 leading blanks, 1 digits, 2 the rest */
	bool bad_line; /* the size line is malformed (said at its LF) */
	bool cr; /* CRLF: the CR was seen */
};

enum sonde_chunked_event {
	SONDE_CHUNKED_MORE = 0, /* nothing to report: feed the rest */
	SONDE_CHUNKED_BYTES, /* chunk data: step.data, step.used bytes (a part of p) */
	SONDE_CHUNKED_END, /* the last chunk: the trailer section starts after step.used */
	SONDE_CHUNKED_ERROR, /* malformed, after step.used bytes */
};

struct sonde_chunked_step {
	size_t used; /* bytes of p consumed */
	enum sonde_chunked_event ev;
	const uint8_t *data;
};

static inline void sonde_chunked_init(struct sonde_chunked *c)
{
	*c = (struct sonde_chunked){ .st = SONDE_CHUNKED_SIZE };
}

/* Decode from p[0..n) until the first event. At END or ERROR it consumes
 * nothing more (END again, ERROR again) until re-initialised. */
struct sonde_chunked_step sonde_chunked_feed(struct sonde_chunked *c, const uint8_t *p, size_t n);

#endif
