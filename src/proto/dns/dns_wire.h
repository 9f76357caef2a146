/* SPDX-License-Identifier: MIT */
/*
 * Wire-format pieces shared by the DNS message parser (dns_msg.c) and the
 * record data decoders (dns_rdata.c). Every function reads msg[0..n) only.
 */
#ifndef SONDE_DNS_WIRE_H
#define SONDE_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/record.h"

/* The message ops (dns_fields.c), set by sonde_dns_msg_new. */
extern const struct sonde_msg_ops sonde_dns_msg_ops;

#define SONDE_DNS_NAME_SHORT (-2) /* the name runs past the bytes there */

static inline uint16_t sonde_dns_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t sonde_dns_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The name at msg[off]: its presentation form appended to out (NULL: only
 * walk it; "." for the root), *next the offset after it where it stands.
 * Returns 0, SONDE_DNS_NAME_SHORT when its bytes run past n, or -1 when it
 * is malformed: a pointer not strictly before the run it ends, a reserved
 * label type, more than 255 octets.
 */
int sonde_dns_name(const uint8_t *msg, size_t n, size_t off, size_t *next, struct sonde_buf *out);

/*
 * The presentation form of the rdata msg[off..off+len) of a record of
 * type `type` (names in it may point anywhere before it, so msg is the
 * whole message), appended to out. Types without a decoder, and
 * rdata that does not decode, are written as RFC 3597's "\# len hex".
 * *cut is set if the text was cut at SONDE_DNS_MAX_DATA.
 */
void sonde_dns_rdata(const uint8_t *msg, size_t off, size_t len, uint16_t type,
		     struct sonde_buf *out, bool *cut);

/* Lowercase hex of p[0..n), at most max bytes of it (*cut set if fewer). */
void sonde_dns_hex(struct sonde_buf *out, const uint8_t *p, size_t n, size_t max, bool *cut);

#endif
