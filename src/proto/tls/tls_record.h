/* SPDX-License-Identifier: MIT */
/*
 * One direction's TLS record framing (RFC 8446 5.1): bytes split anywhere
 * in, whole records (5-byte header and body) out, at most one record's
 * worth of bytes held twice over. After a gap, or a header that cannot be
 * one, the direction is lost: the bytes are searched for a plausible
 * header of a whole record, which the caller accepts only if it decrypts
 * (the tag is the proof of a boundary), then framing goes on from there.
 */
#ifndef SONDE_TLS_RECORD_H
#define SONDE_TLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SONDE_TLS_RECORD_MAX (16384 + 256) /* TLSCiphertext body bound (RFC 8446 5.2) */
#define SONDE_TLS_HEADER 5

/*
 * A whole record rec[0..n) (header included) at stream offset off.
 * resync: the framer is searching after a loss; return true to accept the
 * record as a boundary, false to search on. Outside resync the return is
 * ignored.
 */
typedef bool (*sonde_tls_record_fn)(void *ctx, const uint8_t *rec, size_t n, uint64_t off,
				    bool resync);

struct sonde_tls_framer {
	uint8_t *buf; /* 2 records' room, allocated when first needed */
	size_t len; /* bytes held */
	uint64_t base; /* stream offset of buf[0] (of the next byte when len is 0) */
	bool lost; /* searching for a record boundary */
	uint64_t skipped; /* bytes passed over while searching */
};

/* Body length of the record whose header is h, or -1 if h cannot be a
 * TLS 1.0-1.3 record header (content types 20-24). */
int sonde_tls_header_len(const uint8_t h[SONDE_TLS_HEADER]);

void sonde_tls_framer_feed(struct sonde_tls_framer *f, const uint8_t *p, size_t n,
			   sonde_tls_record_fn fn, void *ctx);
/* n bytes of the direction are missing: what is held is dropped and the
 * direction searches for a boundary. */
void sonde_tls_framer_gap(struct sonde_tls_framer *f, uint64_t n);
void sonde_tls_framer_free(struct sonde_tls_framer *f);

#endif
