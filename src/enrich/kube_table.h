/* SPDX-License-Identifier: MIT */
/*
 * What the Kubernetes API said, by IP: one table of Pods, Services or
 * EndpointSlices,
 * filled by the API client's thread (enrich/kube.c) from lists and watch
 * events and read by the enrichment stage. Bounded (an object past the
 * bound is counted, not kept); a lock inside, held only to copy.
 */
#ifndef SONDE_ENRICH_KUBE_TABLE_H
#define SONDE_ENRICH_KUBE_TABLE_H

#include <stdint.h>

#include "enrich/kube_watch.h"

struct sonde_kube_table;

/* max 0: 16384 objects. NULL only when out of memory. */
struct sonde_kube_table *sonde_kube_table_new(size_t max);
void sonde_kube_table_free(struct sonde_kube_table *t);

/* A new listing starts (each object put during it is marked with it); the
 * end of it drops the objects it did not have. */
void sonde_kube_table_begin_list(struct sonde_kube_table *t);
void sonde_kube_table_end_list(struct sonde_kube_table *t);

/* Add or replace object o (by namespace and name; copied). False when the
 * table is full or o's address is another object's under another key. */
bool sonde_kube_table_put(struct sonde_kube_table *t, const struct sonde_kube_object *o);
void sonde_kube_table_del(struct sonde_kube_table *t, const struct sonde_kube_object *o);

/* The pod with address ip (text form) — a Pod, or an EndpointSlice's
 * endpoint's pod (name, namespace, uid: no labels) — as a new container
 * meta without a container (the caller unrefs), or NULL. */
struct sonde_container_meta *sonde_kube_table_pod(struct sonde_kube_table *t, const char *ip);
/* A Service's name and namespace by its cluster IP; false if none. */
bool sonde_kube_table_service(struct sonde_kube_table *t, const char *ip, char *name,
			      size_t namelen, char *ns, size_t nslen);

size_t sonde_kube_table_len(struct sonde_kube_table *t);
/* Changes whenever the table does (0: never filled). */
uint64_t sonde_kube_table_generation(struct sonde_kube_table *t);

#endif
