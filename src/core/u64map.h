/* SPDX-License-Identifier: MIT */
/* A small open-addressing hash map from non-zero uint64_t keys to uint64_t. */
#ifndef SONDE_U64MAP_H
#define SONDE_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sonde_u64map {
	uint64_t *keys, *vals; /* key 0: empty slot */
	size_t cap, len; /* cap: power of two */
};

void sonde_u64map_init(struct sonde_u64map *m);
void sonde_u64map_free(struct sonde_u64map *m);
/* Insert or replace. Key 0 is not allowed (ignored). */
void sonde_u64map_put(struct sonde_u64map *m, uint64_t key, uint64_t val);
bool sonde_u64map_get(const struct sonde_u64map *m, uint64_t key, uint64_t *val);
/* Remove; returns whether it was there (and its value in *val if non-NULL). */
bool sonde_u64map_del(struct sonde_u64map *m, uint64_t key, uint64_t *val);

#endif
