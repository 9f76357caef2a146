/* SPDX-License-Identifier: MIT */
/*
 * Per-connection attributes: what record stages learn about a connection
 * and attach to it once, for every later record of it to use — the process
 * of each local end, its container and pod, the names DNS gave its
 * addresses. One slot per kind, each owned by the stage that sets it; the
 * connection table frees every slot (with the setter's free function) when
 * the connection ends. A record's conn->attrs is NULL where no table
 * stands behind it (tests, fuzzers).
 */
#ifndef SONDE_ATTRS_H
#define SONDE_ATTRS_H

#include <stddef.h>

enum sonde_attr_slot {
	SONDE_ATTR_CLIENT_PROCESS = 0,
	SONDE_ATTR_SERVER_PROCESS,
	SONDE_ATTR_CONTAINER,
	SONDE_ATTR_POD,
	SONDE_ATTR_NAMES,
	SONDE_ATTR_JSON_ENDS, /* the JSON renderer's copy of both ends (sink/render_json.c) */
	SONDE_ATTR__COUNT,
};

struct sonde_conn_attrs {
	struct sonde_conn_attr {
		void *data;
		void (*free)(void *data); /* NULL: not owned */
	} slot[SONDE_ATTR__COUNT];
};

static inline void *sonde_attr_get(const struct sonde_conn_attrs *a, enum sonde_attr_slot s)
{
	return a ? a->slot[s].data : NULL;
}

/* Set slot s, freeing what it held. No-op without attributes (a is NULL). */
static inline void sonde_attr_set(struct sonde_conn_attrs *a, enum sonde_attr_slot s, void *data,
				  void (*free_fn)(void *))
{
	if (!a) {
		if (free_fn && data)
			free_fn(data);
		return;
	}
	if (a->slot[s].free && a->slot[s].data && a->slot[s].data != data)
		a->slot[s].free(a->slot[s].data);
	a->slot[s].data = data;
	a->slot[s].free = free_fn;
}

static inline void sonde_attrs_clear(struct sonde_conn_attrs *a)
{
	for (size_t i = 0; i < SONDE_ATTR__COUNT; i++)
		sonde_attr_set(a, (enum sonde_attr_slot)i, NULL, NULL);
}

#endif
