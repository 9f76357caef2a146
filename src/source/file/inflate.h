/* SPDX-License-Identifier: MIT */
/*
 * Compressed capture files: `sonde read` takes .pcap.gz and .pcapng.zst (and
 * any gzip or zstd stream, from a file or a pipe) as they are, recognised by
 * their magic bytes, never by the name. The capture reader asks for bytes;
 * this gives it the decompressed stream.
 */
#ifndef SONDE_INFLATE_H
#define SONDE_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum sonde_compression {
	SONDE_COMPRESSION_NONE = 0,
	SONDE_COMPRESSION_GZIP,
	SONDE_COMPRESSION_ZSTD,
};

/* What the first bytes say (n >= 4 for a sure answer). */
enum sonde_compression sonde_compression_of(const uint8_t *p, size_t n);
const char *sonde_compression_name(enum sonde_compression c);

struct sonde_inflate;

/*
 * A decoder of kind c over compressed input: the bytes `pre` (already read,
 * may be NULL) and then, while fd >= 0, read(fd); or only `pre` when fd is
 * -1 (a mapped file). NULL on allocation failure.
 */
struct sonde_inflate *sonde_inflate_new(enum sonde_compression c, int fd, const uint8_t *pre,
					size_t npre);
/*
 * Up to n decompressed bytes into out. Returns how many (0: the end of the
 * compressed stream), or -1 with sonde_inflate_error() saying what is wrong
 * and where in the compressed input.
 */
ssize_t sonde_inflate_read(struct sonde_inflate *z, uint8_t *out, size_t n);
const char *sonde_inflate_error(const struct sonde_inflate *z);
void sonde_inflate_free(struct sonde_inflate *z);

#endif
