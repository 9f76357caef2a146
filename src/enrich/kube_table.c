// SPDX-License-Identifier: MIT
#include "enrich/kube_table.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/u64map.h"

struct entry {
	struct sonde_kube_object o;
	uint64_t mark; /* the listing that last had it */
};

struct sonde_kube_table {
	pthread_mutex_t lock;
	struct entry *e;
	size_t n, max;
	/* key hash → index + 1; an address's hash → index + 1 */
	struct sonde_u64map by_key, by_ip;
	uint64_t mark, generation;
};

static uint64_t hash_str(const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *s = a; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	h = (h ^ '/') * 0x100000001b3ull;
	for (const char *s = b; b && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h ? h : 1; /* 0 is the map's empty key */
}

static uint64_t key_of(const struct sonde_kube_object *o)
{
	return hash_str(o->ns, o->name);
}

static uint64_t ip_key(const char *ip)
{
	return hash_str(ip, NULL);
}

struct sonde_kube_table *sonde_kube_table_new(size_t max)
{
	struct sonde_kube_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max = max ? max : 16384;
	pthread_mutex_init(&t->lock, NULL);
	sonde_u64map_init(&t->by_key);
	sonde_u64map_init(&t->by_ip);
	return t;
}

void sonde_kube_table_free(struct sonde_kube_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		sonde_kube_object_clear(&t->e[i].o);
	free(t->e);
	sonde_u64map_free(&t->by_key);
	sonde_u64map_free(&t->by_ip);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* The index of o's key, or -1. */
static long find(const struct sonde_kube_table *t, const struct sonde_kube_object *o)
{
	uint64_t v;
	if (!sonde_u64map_get(&t->by_key, key_of(o), &v))
		return -1;
	const struct entry *e = &t->e[v - 1];
	return strcmp(e->o.name, o->name) || strcmp(e->o.ns, o->ns) ? -1 : (long)v - 1;
}

/* by_ip's value: the entry's index + 1, and which of its addresses. */
static uint64_t ip_val(size_t i, size_t k)
{
	return (uint64_t)(i + 1) | (uint64_t)k << 32;
}

static void unindex_ips(struct sonde_kube_table *t, size_t i)
{
	for (size_t k = 0; k < t->e[i].o.naddrs; k++) {
		uint64_t v;
		uint64_t h = ip_key(t->e[i].o.addrs[k].ip);
		if (sonde_u64map_get(&t->by_ip, h, &v) && v == ip_val(i, k))
			sonde_u64map_del(&t->by_ip, h, NULL);
	}
}

/* Index i's addresses; an address another object holds goes to the newer
 * one (a pod's IP reused after the old pod's DELETED was missed). */
static void index_ips(struct sonde_kube_table *t, size_t i)
{
	for (size_t k = 0; k < t->e[i].o.naddrs; k++)
		sonde_u64map_put(&t->by_ip, ip_key(t->e[i].o.addrs[k].ip), ip_val(i, k));
}

/* Remove index i: the last entry moves into its place. */
static void remove_at(struct sonde_kube_table *t, size_t i)
{
	unindex_ips(t, i);
	sonde_u64map_del(&t->by_key, key_of(&t->e[i].o), NULL);
	sonde_kube_object_clear(&t->e[i].o);
	size_t last = --t->n;
	if (i == last)
		return;
	t->e[i] = t->e[last];
	memset(&t->e[last], 0, sizeof(t->e[last]));
	sonde_u64map_put(&t->by_key, key_of(&t->e[i].o), i + 1);
	/* Its addresses follow it, those another object took excepted. */
	for (size_t k = 0; k < t->e[i].o.naddrs; k++) {
		uint64_t v, h = ip_key(t->e[i].o.addrs[k].ip);
		if (sonde_u64map_get(&t->by_ip, h, &v) && v == ip_val(last, k))
			sonde_u64map_put(&t->by_ip, h, ip_val(i, k));
	}
}

static char *dup_or_null(const char *s)
{
	char *d = s && *s ? strdup(s) : NULL;
	if (s && *s && !d)
		abort();
	return d;
}

static void copy_object(struct sonde_kube_object *dst, const struct sonde_kube_object *src)
{
	*dst = *src;
	dst->labels = NULL;
	dst->nlabels = 0;
	dst->addrs = src->naddrs ? calloc(src->naddrs, sizeof(*dst->addrs)) : NULL;
	if (src->naddrs && !dst->addrs)
		abort();
	for (size_t i = 0; i < src->naddrs; i++) {
		dst->addrs[i] = src->addrs[i];
		dst->addrs[i].pod = dup_or_null(src->addrs[i].pod);
		dst->addrs[i].pod_uid = dup_or_null(src->addrs[i].pod_uid);
	}
	for (size_t i = 0; i < src->nlabels; i++) {
		char *v = strdup(src->labels[i].value);
		if (!v)
			abort();
		sonde_kv_push(&dst->labels, &dst->nlabels, src->labels[i].key, v);
	}
}

bool sonde_kube_table_put(struct sonde_kube_table *t, const struct sonde_kube_object *o)
{
	pthread_mutex_lock(&t->lock);
	long i = find(t, o);
	bool ok = true;
	uint64_t v;
	if (i >= 0) {
		unindex_ips(t, (size_t)i);
		sonde_kube_object_clear(&t->e[i].o);
	} else if (t->n >= t->max || sonde_u64map_get(&t->by_key, key_of(o), &v)) {
		ok = false; /* full, or another key's hash: not kept */
	} else {
		if (!(t->n & (t->n + 1)) || !t->e) {
			struct entry *e = realloc(t->e, (t->n * 2 + 2) * sizeof(*e));
			if (!e)
				abort();
			t->e = e;
		}
		i = (long)t->n++;
		sonde_u64map_put(&t->by_key, key_of(o), (uint64_t)i + 1);
	}
	if (ok) {
		copy_object(&t->e[i].o, o);
		t->e[i].mark = t->mark;
		index_ips(t, (size_t)i);
		t->generation++;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

void sonde_kube_table_del(struct sonde_kube_table *t, const struct sonde_kube_object *o)
{
	pthread_mutex_lock(&t->lock);
	long i = find(t, o);
	if (i >= 0) {
		remove_at(t, (size_t)i);
		t->generation++;
	}
	pthread_mutex_unlock(&t->lock);
}

void sonde_kube_table_begin_list(struct sonde_kube_table *t)
{
	pthread_mutex_lock(&t->lock);
	t->mark++;
	pthread_mutex_unlock(&t->lock);
}

void sonde_kube_table_end_list(struct sonde_kube_table *t)
{
	pthread_mutex_lock(&t->lock);
	for (size_t i = t->n; i-- > 0;)
		if (t->e[i].mark != t->mark)
			remove_at(t, i);
	t->generation++;
	pthread_mutex_unlock(&t->lock);
}

/* The entry holding address ip (and which address, *k), or NULL; under
 * the lock. */
static const struct entry *by_ip(const struct sonde_kube_table *t, const char *ip, size_t *k)
{
	uint64_t v;
	if (!sonde_u64map_get(&t->by_ip, ip_key(ip), &v))
		return NULL;
	const struct entry *e = &t->e[(uint32_t)v - 1];
	*k = v >> 32;
	return *k < e->o.naddrs && !strcmp(e->o.addrs[*k].ip, ip) ? e : NULL; /* or a hash's twin */
}

struct sonde_container_meta *sonde_kube_table_pod(struct sonde_kube_table *t, const char *ip)
{
	struct sonde_container_meta *m = NULL;
	pthread_mutex_lock(&t->lock);
	size_t k;
	const struct entry *e = by_ip(t, ip, &k);
	if (e) {
		if (!(m = calloc(1, sizeof(*m))))
			abort();
		m->refs = 1;
		m->runtime = SONDE_RUNTIME_NONE;
		/* An EndpointSlice's address names its pod; a Pod is itself. */
		const struct sonde_kube_addr *a = &e->o.addrs[k];
		m->pod_name = dup_or_null(a->pod ? a->pod : e->o.name);
		m->pod_namespace = dup_or_null(e->o.ns);
		m->pod_uid = dup_or_null(a->pod ? a->pod_uid : e->o.uid);
		m->pod_ip = dup_or_null(ip);
		for (size_t i = 0; i < e->o.nlabels; i++)
			sonde_kv_push(&m->labels, &m->nlabels, e->o.labels[i].key,
				      dup_or_null(e->o.labels[i].value));
	}
	pthread_mutex_unlock(&t->lock);
	return m;
}

bool sonde_kube_table_service(struct sonde_kube_table *t, const char *ip, char *name,
			      size_t namelen, char *ns, size_t nslen)
{
	pthread_mutex_lock(&t->lock);
	size_t k;
	const struct entry *e = by_ip(t, ip, &k);
	if (e) {
		snprintf(name, namelen, "%s", e->o.name);
		snprintf(ns, nslen, "%s", e->o.ns);
	}
	pthread_mutex_unlock(&t->lock);
	return e != NULL;
}

size_t sonde_kube_table_len(struct sonde_kube_table *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

uint64_t sonde_kube_table_generation(struct sonde_kube_table *t)
{
	pthread_mutex_lock(&t->lock);
	uint64_t g = t->generation;
	pthread_mutex_unlock(&t->lock);
	return g;
}
