/* SPDX-License-Identifier: MIT */
/*
 * Hex digits read from captured and typed text: %XX in URLs and forms,
 * \xHH and \uHHHH escapes, chunk sizes, key log secrets. Inline: the
 * chunked decoder and the Redis parser call it per byte.
 */
#ifndef SONDE_HEX_H
#define SONDE_HEX_H

#include <stdint.h>

/* The value of hex digit c (either case), or -1. */
static inline int sonde_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The byte two hex digits spell (hi, then lo), or -1. */
static inline int sonde_hexbyte(uint8_t hi, uint8_t lo)
{
	int h = sonde_hexval(hi), l = sonde_hexval(lo);
	return h < 0 || l < 0 ? -1 : h << 4 | l;
}

#endif
