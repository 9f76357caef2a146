/* SPDX-License-Identifier: MIT */
#include "source/file/inflate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define IN_CHUNK (256u << 10)

struct sonde_inflate {
	enum sonde_compression kind;
	int fd;
	/* compressed input: pre (not owned) first, then our own buffer */
	const uint8_t *pre;
	size_t npre, pre_pos;
	uint8_t *in;
	size_t in_len, in_pos;
	bool in_eof, done;
	uint64_t in_off; /* compressed bytes consumed before in[0] / pre[0] */
	z_stream gz;
	ZSTD_DStream *zs;
	char err[160];
};

enum sonde_compression sonde_compression_of(const uint8_t *p, size_t n)
{
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return SONDE_COMPRESSION_GZIP;
	if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return SONDE_COMPRESSION_ZSTD;
	return SONDE_COMPRESSION_NONE;
}

const char *sonde_compression_name(enum sonde_compression c)
{
	return c == SONDE_COMPRESSION_GZIP ? "gzip" : c == SONDE_COMPRESSION_ZSTD ? "zstd" : "none";
}

struct sonde_inflate *sonde_inflate_new(enum sonde_compression c, int fd, const uint8_t *pre,
					size_t npre)
{
	struct sonde_inflate *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->kind = c;
	z->fd = fd;
	z->pre = pre;
	z->npre = npre;
	if (fd >= 0 && !(z->in = malloc(IN_CHUNK)))
		goto fail;
	if (c == SONDE_COMPRESSION_GZIP) {
		/* 16 + MAX_WBITS: a gzip header and trailer, not raw deflate. */
		if (inflateInit2(&z->gz, 16 + MAX_WBITS) != Z_OK)
			goto fail;
	} else if (!(z->zs = ZSTD_createDStream()) || ZSTD_isError(ZSTD_initDStream(z->zs))) {
		goto fail;
	}
	return z;
fail:
	free(z->in);
	if (z->zs)
		ZSTD_freeDStream(z->zs);
	free(z);
	return NULL;
}

/* The next run of compressed input: *p, *n (0 at its end). -1: read error. */
static int next_input(struct sonde_inflate *z, const uint8_t **p, size_t *n)
{
	if (z->pre_pos < z->npre) {
		*p = z->pre + z->pre_pos;
		*n = z->npre - z->pre_pos;
		return 0;
	}
	if (z->in_pos == z->in_len && !z->in_eof && z->fd >= 0) {
		z->in_off += z->in_len;
		z->in_pos = z->in_len = 0;
		ssize_t r;
		do
			r = read(z->fd, z->in, IN_CHUNK);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			snprintf(z->err, sizeof(z->err), "read error: %s", strerror(errno));
			return -1;
		}
		z->in_eof = r == 0;
		z->in_len = (size_t)r;
	}
	*p = z->in + z->in_pos;
	*n = z->in_len - z->in_pos;
	return 0;
}

static void consumed(struct sonde_inflate *z, size_t k)
{
	if (z->pre_pos < z->npre) {
		z->pre_pos += k;
		if (z->pre_pos == z->npre)
			z->in_off += z->npre;
	} else {
		z->in_pos += k;
	}
}

static uint64_t where(const struct sonde_inflate *z)
{
	return z->in_off + (z->pre_pos < z->npre ? z->pre_pos : z->in_pos);
}

/* One step of decompression into out; returns bytes out, 0 when the input
 * ended, -1 on damage. Concatenated gzip members are read one after another
 * (as gzip -d does). */
static ssize_t step(struct sonde_inflate *z, const uint8_t *in, size_t nin, uint8_t *out, size_t n,
		    size_t *used)
{
	if (z->kind == SONDE_COMPRESSION_GZIP) {
		z->gz.next_in = (Bytef *)in;
		z->gz.avail_in = (uInt)(nin > UINT32_MAX ? UINT32_MAX : nin);
		z->gz.next_out = out;
		z->gz.avail_out = (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
		int rc = inflate(&z->gz, Z_NO_FLUSH);
		*used = (size_t)(z->gz.next_in - in);
		size_t got = (size_t)(z->gz.next_out - out);
		if (rc == Z_STREAM_END)
			inflateReset(&z->gz);
		else if (rc != Z_OK && !(rc == Z_BUF_ERROR && (got || *used))) {
			snprintf(z->err, sizeof(z->err), "gzip: %s at compressed offset %llu",
				 z->gz.msg ? z->gz.msg : "damaged data",
				 (unsigned long long)(where(z) + *used));
			return -1;
		}
		return (ssize_t)got;
	}
	ZSTD_inBuffer ib = { in, nin, 0 };
	ZSTD_outBuffer ob = { out, n, 0 };
	size_t rc = ZSTD_decompressStream(z->zs, &ob, &ib);
	*used = ib.pos;
	if (ZSTD_isError(rc)) {
		snprintf(z->err, sizeof(z->err), "zstd: %s at compressed offset %llu",
			 ZSTD_getErrorName(rc), (unsigned long long)(where(z) + ib.pos));
		return -1;
	}
	return (ssize_t)ob.pos;
}

ssize_t sonde_inflate_read(struct sonde_inflate *z, uint8_t *out, size_t n)
{
	if (z->err[0])
		return -1;
	for (;;) {
		const uint8_t *p;
		size_t avail, used = 0;
		if (next_input(z, &p, &avail) < 0)
			return -1;
		if (!avail)
			return 0; /* a stream cut short shows as a truncated capture */
		ssize_t got = step(z, p, avail, out, n, &used);
		if (got < 0)
			return -1;
		consumed(z, used);
		if (got > 0)
			return got;
		if (!used) {
			snprintf(z->err, sizeof(z->err),
				 "%s: no progress at compressed offset %llu",
				 sonde_compression_name(z->kind), (unsigned long long)where(z));
			return -1;
		}
	}
}

const char *sonde_inflate_error(const struct sonde_inflate *z)
{
	return z->err;
}

void sonde_inflate_free(struct sonde_inflate *z)
{
	if (!z)
		return;
	if (z->kind == SONDE_COMPRESSION_GZIP)
		inflateEnd(&z->gz);
	if (z->zs)
		ZSTD_freeDStream(z->zs);
	free(z->in);
	free(z);
}
