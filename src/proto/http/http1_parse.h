/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x message-head parsing: no allocation, spans into the caller's
 * buffer, the whole head given at once (the dissector accumulates it;
 * sonde_h1_head_end() finds where it ends, incrementally).
 */
#ifndef SONDE_HTTP1_PARSE_H
#define SONDE_HTTP1_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http/body_decode.h"

struct sonde_h1_span {
	uint32_t off, len;
};

struct sonde_h1_header {
	struct sonde_h1_span name, value;
};

/* Errors, as negative return values. */
enum sonde_h1_err {
	SONDE_H1_OK = 0,
	SONDE_H1_E_START_LINE = -1, /* request or status line malformed */
	SONDE_H1_E_VERSION = -2, /* not HTTP/1.x */
	SONDE_H1_E_HEADER = -3, /* a header line malformed (others kept) */
	SONDE_H1_E_LENGTH = -4, /* Content-Length invalid or contradictory */
};

struct sonde_h1_head {
	/* request */
	struct sonde_h1_span method, target;
	/* response */
	int status;
	struct sonde_h1_span reason;
	int version_minor; /* HTTP/1.<minor> */
	uint32_t nheaders; /* headers stored in headers[] */
	uint32_t nheaders_seen; /* headers in the message (>= nheaders) */
	bool folded; /* obsolete line folding was used */
	bool bad_header; /* a header line was skipped as malformed */
	bool bad_start; /* request line without target or with a bad version */
	/* framing and connection semantics */
	int64_t content_length; /* -1: none */
	bool te_present, chunked;
	bool conn_close, conn_keep_alive, conn_upgrade;
	bool expect_continue;
	struct sonde_h1_span upgrade; /* Upgrade: value, len 0 if none */
	enum sonde_http_coding content_encoding;
};

/*
 * Parse a complete head (start line, headers, blank line) of buf[0..len).
 * Header spans go to headers[0..max_headers). Returns SONDE_H1_OK, or
 * SONDE_H1_E_HEADER when some header line was malformed and skipped (the
 * rest is valid), or another negative error when the message is unusable.
 */
int sonde_h1_parse_head(const uint8_t *buf, size_t len, bool response, struct sonde_h1_head *h,
			struct sonde_h1_header *headers, size_t max_headers);

/*
 * Parse header lines only (chunked trailers): buf holds lines ending with a
 * blank line. Same spans and semantics as above, without a start line.
 */
int sonde_h1_parse_fields(const uint8_t *buf, size_t len, struct sonde_h1_head *h,
			  struct sonde_h1_header *headers, size_t max_headers);

/*
 * Find the end of a head: the offset just past the blank line that ends it
 * (CRLF CRLF, or bare LF LF), or 0 if not in buf[0..len) yet. `from` is
 * where a previous call stopped searching (pass what it wrote to *next).
 */
size_t sonde_h1_head_end(const uint8_t *buf, size_t len, size_t from, size_t *next);

/*
 * Does buf start like a request (1), a response (2), neither (0), or can't
 * tell yet (-1)? Used for protocol detection and resynchronisation.
 */
int sonde_h1_looks_like_start(const uint8_t *buf, size_t len);

/*
 * Like sonde_h1_looks_like_start(), and also any upper-case method token
 * whose line ends in " HTTP/1.x": for the first bytes of a connection,
 * where an unregistered method (CCM_POST, BREW) is still a request.
 */
int sonde_h1_looks_like_first(const uint8_t *buf, size_t len);

/*
 * For HTTP/0.9 detection: is the first line (ending at buf[len-1] == '\n')
 * "GET <target>" with no version?
 */
bool sonde_h1_is_http09_request(const uint8_t *line, size_t len);

/* Case-insensitive comparison of a span with a lowercase literal. */
bool sonde_h1_span_ieq(const uint8_t *buf, struct sonde_h1_span s, const char *lower);
/* Does the comma-separated list p[0..n) contain token tok (lowercase,
 * parameters ignored)? last_only: is tok the list's last token? */
bool sonde_h1_list_has(const uint8_t *p, size_t n, const char *tok, bool last_only);

#endif
