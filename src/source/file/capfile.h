/* SPDX-License-Identifier: MIT */
/*
 * Capture-file reader: classic pcap (µs and ns, either byte order) and pcapng
 * (several sections, interfaces with their own link type, timestamp
 * resolution and offset; EPB, SPB and the obsolete packet block; the
 * secrets of Decryption Secrets Blocks handed to a callback).
 *
 * It reads sequentially through its own buffer, so it works on pipes
 * (`sonde read -`), and every error names the file offset where the damage
 * is. Frames point into the reader's buffer: valid until the next call.
 */
#ifndef SONDE_CAPFILE_H
#define SONDE_CAPFILE_H

#include <stddef.h>
#include <stdint.h>

struct sonde_frame {
	uint64_t ts_ns; /* ns since the epoch */
	uint64_t offset; /* file offset of the frame's record/block */
	uint32_t caplen; /* bytes in data */
	uint32_t wirelen; /* bytes on the wire */
	uint32_t linktype; /* LINKTYPE_* value */
	const uint8_t *data;
};

struct sonde_capfile;

/* Largest frame accepted; larger lengths are treated as corruption. */
#define SONDE_CAPFILE_MAX_FRAME (16u << 20)

/*
 * Open a reader on fd (not closed by the reader) or on a memory buffer.
 * `name` is used in error messages. Returns NULL only on allocation failure;
 * a bad header shows up as an error from the first sonde_capfile_next().
 */
struct sonde_capfile *sonde_capfile_open_fd(int fd, const char *name);
struct sonde_capfile *sonde_capfile_open_mem(const void *data, size_t len, const char *name);

/*
 * Read the next frame. Returns 1 with *f filled, 0 at a clean end of input,
 * -1 on an error: sonde_capfile_error() then says what and where, and every
 * later call returns -1 again (the reader does not guess past damage).
 */
int sonde_capfile_next(struct sonde_capfile *cf, struct sonde_frame *f);
const char *sonde_capfile_error(const struct sonde_capfile *cf);
/* "pcap" or "pcapng" once the header was read, else NULL. */
const char *sonde_capfile_format(const struct sonde_capfile *cf);
void sonde_capfile_close(struct sonde_capfile *cf);

/* A pcapng Decryption Secrets Block as sonde_capfile_next() passes it, in
 * file order before the packets after it: the secrets type (0x544c534b,
 * "TLSK": an NSS key log) and the secrets, valid during the call. */
#define SONDE_PCAPNG_SECRETS_TLS 0x544c534bu
typedef void sonde_capfile_secrets_fn(void *ctx, uint32_t type, const uint8_t *data, size_t len);
void sonde_capfile_on_secrets(struct sonde_capfile *cf, sonde_capfile_secrets_fn *fn, void *ctx);

#endif
