/* SPDX-License-Identifier: MIT */
#include "core/u64map.h"

#include <stdlib.h>

#include "core/buf.h"

static inline size_t slot(const struct sonde_u64map *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & (m->cap - 1);
}

void sonde_u64map_init(struct sonde_u64map *m)
{
	m->cap = 64;
	m->len = 0;
	m->keys = sonde_xcalloc(m->cap, sizeof(uint64_t));
	m->vals = sonde_xcalloc(m->cap, sizeof(uint64_t));
}

void sonde_u64map_free(struct sonde_u64map *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = m->vals = NULL;
	m->cap = m->len = 0;
}

static void grow(struct sonde_u64map *m)
{
	struct sonde_u64map old = *m;
	m->cap *= 2;
	m->len = 0;
	m->keys = sonde_xcalloc(m->cap, sizeof(uint64_t));
	m->vals = sonde_xcalloc(m->cap, sizeof(uint64_t));
	for (size_t i = 0; i < old.cap; i++)
		if (old.keys[i])
			sonde_u64map_put(m, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
}

void sonde_u64map_put(struct sonde_u64map *m, uint64_t key, uint64_t val)
{
	if (!key)
		return;
	if ((m->len + 1) * 4 > m->cap * 3)
		grow(m);
	size_t i = slot(m, key);
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		m->len++;
	m->keys[i] = key;
	m->vals[i] = val;
}

bool sonde_u64map_get(const struct sonde_u64map *m, uint64_t key, uint64_t *val)
{
	if (!key || !m->cap)
		return false;
	size_t i = slot(m, key);
	while (m->keys[i]) {
		if (m->keys[i] == key) {
			if (val)
				*val = m->vals[i];
			return true;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return false;
}

bool sonde_u64map_del(struct sonde_u64map *m, uint64_t key, uint64_t *val)
{
	if (!key || !m->cap)
		return false;
	size_t i = slot(m, key);
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		return false;
	if (val)
		*val = m->vals[i];
	/* Backward-shift deletion keeps probe chains intact without tombstones. */
	size_t j = i;
	for (;;) {
		j = (j + 1) & (m->cap - 1);
		if (!m->keys[j])
			break;
		size_t home = slot(m, m->keys[j]);
		/* Move j back to i if its home is not in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			i = j;
		}
	}
	m->keys[i] = 0;
	m->len--;
	return true;
}
