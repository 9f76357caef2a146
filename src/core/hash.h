/* SPDX-License-Identifier: MIT */
/* Hashing of flows and endpoints, shared by the connection table and sources. */
#ifndef SONDE_HASH_H
#define SONDE_HASH_H

#include <stdint.h>
#include <string.h>

#include "core/chunk.h"

/* A 64-bit finaliser (MurmurHash3's fmix64 constants). */
static inline uint64_t sonde_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static inline uint64_t sonde_endpoint_hash(const struct sonde_endpoint *e)
{
	uint64_t a, b;
	memcpy(&a, e->addr, 8);
	memcpy(&b, e->addr + 8, 8);
	return sonde_mix64(a ^ sonde_mix64(b ^ ((uint64_t)e->port << 8 | e->family)));
}

/* The same for both directions of a connection: order does not matter. */
static inline uint64_t sonde_pair_hash(const struct sonde_endpoint *x,
				       const struct sonde_endpoint *y)
{
	return sonde_mix64(sonde_endpoint_hash(x) + sonde_endpoint_hash(y));
}

#endif
