// SPDX-License-Identifier: MIT
#include "enrich/holders.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/hash.h"
#include "core/u64map.h"

struct holder {
	uint64_t key;
	struct sonde_holder who;
};

struct sonde_holders {
	struct holder *ring; /* in the order seen; next overwrites the oldest */
	size_t max, next;
	struct sonde_u64map by_key; /* key → ring index */
	struct sonde_u64map netns_of; /* pid → its last socket's namespace */
};

static bool loopback(const struct sonde_endpoint *ep)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	return ep->family == AF_INET ? ep->addr[0] == 127 : !memcmp(ep->addr, lo6, 16);
}

/* Ordered: the socket local → remote, not its peer's remote → local. */
static uint64_t key_of(const struct sonde_endpoint *local, const struct sonde_endpoint *remote,
		       uint32_t netns)
{
	uint64_t k = sonde_mix64(sonde_endpoint_hash(local) ^
				 sonde_mix64(sonde_endpoint_hash(remote) + 1));
	if (loopback(local))
		k = sonde_mix64(k ^ netns);
	return k | 1; /* non-zero map key */
}

struct sonde_holders *sonde_holders_new(size_t max)
{
	struct sonde_holders *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->max = max ? max : 16384;
	h->ring = calloc(h->max, sizeof(*h->ring));
	if (!h->ring) {
		free(h);
		return NULL;
	}
	sonde_u64map_init(&h->by_key);
	sonde_u64map_init(&h->netns_of);
	return h;
}

void sonde_holders_free(struct sonde_holders *h)
{
	if (!h)
		return;
	sonde_u64map_free(&h->by_key);
	sonde_u64map_free(&h->netns_of);
	free(h->ring);
	free(h);
}

void sonde_holders_put(struct sonde_holders *h, const struct sonde_endpoint *local,
		       const struct sonde_endpoint *remote, uint32_t netns,
		       const struct sonde_holder *who)
{
	uint64_t key = key_of(local, remote, netns), at;
	size_t i = h->next;
	struct holder *old = &h->ring[i];
	if (old->key && sonde_u64map_get(&h->by_key, old->key, &at) && at == i)
		sonde_u64map_del(&h->by_key, old->key, NULL);
	*old = (struct holder){ .key = key, .who = *who };
	sonde_u64map_put(&h->by_key, key, i);
	h->next = (i + 1) % h->max;
	if (h->netns_of.len >= h->max) { /* bounded: forget, and learn again */
		sonde_u64map_free(&h->netns_of);
		sonde_u64map_init(&h->netns_of);
	}
	if (who->pid)
		sonde_u64map_put(&h->netns_of, who->pid, netns);
}

uint32_t sonde_holders_netns_of(const struct sonde_holders *h, uint32_t pid)
{
	uint64_t ns;
	return sonde_u64map_get(&h->netns_of, pid, &ns) ? (uint32_t)ns : 0;
}

const struct sonde_holder *sonde_holders_get(const struct sonde_holders *h,
					     const struct sonde_endpoint *local,
					     const struct sonde_endpoint *remote, uint32_t netns)
{
	uint64_t at;
	if (!sonde_u64map_get(&h->by_key, key_of(local, remote, netns), &at))
		return NULL;
	return &h->ring[at].who;
}
