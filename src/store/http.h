/* SPDX-License-Identifier: MIT */
/*
 * The little HTTP/1.1 client ClickHouse's HTTP interface needs: one POST per
 * connection (Connection: close), a bounded response, Content-Length or
 * chunked bodies, and timeouts, so a server that hangs cannot hold a writer
 * forever.
 */
#ifndef SONDE_STORE_HTTP_H
#define SONDE_STORE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct sonde_http_url {
	char host[256];
	char port[8];
	char path[256]; /* after the authority, without the leading '/' */
};

/* "http://host[:port]/path" → *u. 0, or -1 (a sentence in err). */
int sonde_http_url_parse(const char *s, struct sonde_http_url *u, char *err, size_t errlen);

/*
 * POST body to u at target (e.g. "/?query=..."), the response body into
 * *resp (at most max_resp bytes). Returns the HTTP status (200...), or -1
 * with a sentence in err (connection refused, timeout, malformed reply).
 */
int sonde_http_post(const struct sonde_http_url *u, const char *target, const void *body,
		    size_t len, struct sonde_buf *resp, size_t max_resp, int timeout_ms, char *err,
		    size_t errlen);

/* Append s percent-encoded for a query string. */
void sonde_http_urlencode(struct sonde_buf *b, const char *s, size_t n);

#endif
