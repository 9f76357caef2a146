/* SPDX-License-Identifier: MIT */
/* Content-Encoding: the declared coding, and gzip/deflate inflation. */
#include "proto/http/body_decode.h"
#include "proto/http/http1_parse.h"

#include <string.h>
#include <zlib.h>

const char *sonde_http_coding_name(enum sonde_http_coding c)
{
	switch (c) {
	case SONDE_HTTP_CODING_GZIP: return "gzip";
	case SONDE_HTTP_CODING_DEFLATE: return "deflate";
	case SONDE_HTTP_CODING_OTHER: return "other";
	default: return NULL;
	}
}

enum sonde_http_coding sonde_body_coding(const uint8_t *v, size_t n)
{
	if (sonde_h1_list_has(v, n, "gzip", true) || sonde_h1_list_has(v, n, "x-gzip", true))
		return SONDE_HTTP_CODING_GZIP;
	if (sonde_h1_list_has(v, n, "deflate", true))
		return SONDE_HTTP_CODING_DEFLATE;
	if (n && !sonde_h1_list_has(v, n, "identity", true))
		return SONDE_HTTP_CODING_OTHER;
	return SONDE_HTTP_CODING_NONE;
}

bool sonde_body_inflate(const uint8_t *p, size_t n, enum sonde_http_coding coding, size_t limit,
			struct sonde_buf *out, bool *full)
{
	*full = false;
	if (!n || (coding != SONDE_HTTP_CODING_GZIP && coding != SONDE_HTTP_CODING_DEFLATE))
		return false;
	/* gzip: header detection; deflate: zlib-wrapped first, raw as fallback */
	int tries[2] = { coding == SONDE_HTTP_CODING_GZIP ? 15 + 16 : 15, -15 };
	int ntries = coding == SONDE_HTTP_CODING_GZIP ? 1 : 2;
	for (int t = 0; t < ntries; t++) {
		z_stream z;
		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, tries[t]) != Z_OK)
			return false;
		size_t cap = limit < 4096 ? limit : 4096;
		z.next_in = (Bytef *)p;
		z.avail_in = (uInt)n;
		int rc = Z_OK;
		bool cut = false;
		while (rc == Z_OK) {
			if (out->len >= limit) {
				cut = true;
				break;
			}
			size_t want = cap < limit - out->len ? cap : limit - out->len;
			sonde_buf_reserve(out, want);
			z.next_out = out->p + out->len;
			z.avail_out = (uInt)want;
			rc = inflate(&z, Z_NO_FLUSH);
			out->len = want - z.avail_out + out->len;
			if (rc == Z_BUF_ERROR && z.avail_in == 0)
				break; /* input ended early: keep the prefix */
			if (cap < (1u << 20))
				cap *= 2;
		}
		inflateEnd(&z);
		if (rc == Z_STREAM_END || cut || (rc == Z_BUF_ERROR && out->len) ||
		    (rc == Z_OK && out->len)) {
			*full = cut;
			return true;
		}
		sonde_buf_free(out);
	}
	return false;
}
