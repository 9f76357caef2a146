// SPDX-License-Identifier: MIT
#include "enrich/cri_msg.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/content/protobuf.h"

/* A copy of a length-delimited field as a C string; NULL (malformed) if it
 * is too long or holds a NUL. */
static char *str_of(const struct sonde_pb_wfield *f, bool *bad)
{
	if (f->wt != 2 || f->len > SONDE_CRI_STR_MAX || memchr(f->bytes, 0, f->len)) {
		*bad = true;
		return NULL;
	}
	char *s = malloc(f->len + 1);
	if (!s)
		abort();
	memcpy(s, f->bytes, f->len);
	s[f->len] = 0;
	return s;
}

/* Keep the first string seen for a field (proto3: the last wins, but a
 * runtime sends each once). */
static void set_str(char **dst, const struct sonde_pb_wfield *f, bool *bad)
{
	char *s = str_of(f, bad);
	if (*dst || !s)
		free(s);
	else
		*dst = s;
}

/* A map<string,string> entry: key 1, value 2. */
static int map_entry(const struct sonde_pb_wfield *f, char **key, char **val)
{
	struct sonde_pb_reader r = { f->bytes, f->len, 0 };
	struct sonde_pb_wfield e;
	bool bad = f->wt != 2;
	int rc = 0;
	*key = *val = NULL;
	while (!bad && (rc = sonde_pb_next(&r, &e)) == 1) {
		if (e.num == 1)
			set_str(key, &e, &bad);
		else if (e.num == 2)
			set_str(val, &e, &bad);
	}
	if (bad || rc < 0) {
		free(*key);
		free(*val);
		*key = *val = NULL;
		return -1;
	}
	if (!*key)
		*key = strdup("");
	if (!*val)
		*val = strdup("");
	return 0;
}

static void kv_add(struct sonde_kv **kv, size_t *n, char *key, char *val)
{
	if (*n >= SONDE_CRI_KV_MAX) {
		free(key);
		free(val);
		return;
	}
	*kv = realloc(*kv, (*n + 1) * sizeof(**kv));
	if (!*kv)
		abort();
	(*kv)[*n].key = key;
	(*kv)[(*n)++].value = val;
}

static void kv_free(struct sonde_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* PodSandboxMetadata: name 1, uid 2, namespace 3. */
static int pod_metadata(const struct sonde_pb_wfield *f, struct sonde_cri_pod *pod)
{
	struct sonde_pb_reader r = { f->bytes, f->len, 0 };
	struct sonde_pb_wfield e;
	bool bad = f->wt != 2;
	int rc = 0;
	while (!bad && (rc = sonde_pb_next(&r, &e)) == 1) {
		if (e.num == 1)
			set_str(&pod->name, &e, &bad);
		else if (e.num == 2)
			set_str(&pod->uid, &e, &bad);
		else if (e.num == 3)
			set_str(&pod->namespace, &e, &bad);
	}
	return bad || rc < 0 ? -1 : 0;
}

static void pod_free(struct sonde_cri_pod *p)
{
	free(p->id);
	free(p->ip);
	free(p->name);
	free(p->namespace);
	free(p->uid);
	kv_free(p->labels, p->nlabels);
	kv_free(p->annotations, p->nannotations);
}

/* PodSandbox: id 1, metadata 2, labels 5, annotations 6. */
static int pod_decode(const struct sonde_pb_wfield *f, struct sonde_cri_pod *pod)
{
	struct sonde_pb_reader r = { f->bytes, f->len, 0 };
	struct sonde_pb_wfield e;
	bool bad = f->wt != 2;
	int rc = 0;
	while (!bad && (rc = sonde_pb_next(&r, &e)) == 1) {
		char *k, *v;
		switch (e.num) {
		case 1: set_str(&pod->id, &e, &bad); break;
		case 2: bad = pod_metadata(&e, pod) < 0; break;
		case 5:
		case 6:
			if (map_entry(&e, &k, &v) < 0) {
				bad = true;
			} else if (e.num == 5) {
				kv_add(&pod->labels, &pod->nlabels, k, v);
			} else if (!strncmp(k, "sonde.dev/", 10)) {
				kv_add(&pod->annotations, &pod->nannotations, k, v);
			} else {
				free(k);
				free(v);
			}
			break;
		default: break;
		}
	}
	return bad || rc < 0 || !pod->id ? -1 : 0;
}

int sonde_cri_decode_pods(const uint8_t *p, size_t n, struct sonde_cri_list *l)
{
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield f;
	int rc;
	while ((rc = sonde_pb_next(&r, &f)) == 1) {
		if (f.num != 1) /* items */
			continue;
		if (l->npods >= SONDE_CRI_PODS_MAX) {
			l->dropped++;
			continue;
		}
		struct sonde_cri_pod pod = { 0 };
		if (pod_decode(&f, &pod) < 0) {
			pod_free(&pod);
			return -1;
		}
		l->pods = realloc(l->pods, (l->npods + 1) * sizeof(*l->pods));
		if (!l->pods)
			abort();
		l->pods[l->npods++] = pod;
	}
	return rc < 0 ? -1 : 0;
}

/* A message holding one string at field 1 (ContainerMetadata.name,
 * ImageSpec.image). */
static int first_string(const struct sonde_pb_wfield *f, char **dst)
{
	struct sonde_pb_reader r = { f->bytes, f->len, 0 };
	struct sonde_pb_wfield e;
	bool bad = f->wt != 2;
	int rc = 0;
	while (!bad && (rc = sonde_pb_next(&r, &e)) == 1)
		if (e.num == 1)
			set_str(dst, &e, &bad);
	return bad || rc < 0 ? -1 : 0;
}

static void ctr_free(struct sonde_cri_ctr *c)
{
	free(c->id);
	free(c->pod_id);
	free(c->name);
	free(c->image);
}

/* Container: id 1, pod_sandbox_id 2, metadata 3, image 4. */
static int ctr_decode(const struct sonde_pb_wfield *f, struct sonde_cri_ctr *c)
{
	struct sonde_pb_reader r = { f->bytes, f->len, 0 };
	struct sonde_pb_wfield e;
	bool bad = f->wt != 2;
	int rc = 0;
	while (!bad && (rc = sonde_pb_next(&r, &e)) == 1) {
		switch (e.num) {
		case 1: set_str(&c->id, &e, &bad); break;
		case 2: set_str(&c->pod_id, &e, &bad); break;
		case 3: bad = first_string(&e, &c->name) < 0; break;
		case 4: bad = first_string(&e, &c->image) < 0; break;
		default: break;
		}
	}
	return bad || rc < 0 || !c->id ? -1 : 0;
}

int sonde_cri_decode_containers(const uint8_t *p, size_t n, struct sonde_cri_list *l)
{
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield f;
	int rc;
	while ((rc = sonde_pb_next(&r, &f)) == 1) {
		if (f.num != 1) /* containers */
			continue;
		if (l->nctrs >= SONDE_CRI_CTRS_MAX) {
			l->dropped++;
			continue;
		}
		struct sonde_cri_ctr c = { 0 };
		if (ctr_decode(&f, &c) < 0) {
			ctr_free(&c);
			return -1;
		}
		l->ctrs = realloc(l->ctrs, (l->nctrs + 1) * sizeof(*l->ctrs));
		if (!l->ctrs)
			abort();
		l->ctrs[l->nctrs++] = c;
	}
	return rc < 0 ? -1 : 0;
}

void sonde_cri_list_free(struct sonde_cri_list *l)
{
	for (size_t i = 0; i < l->npods; i++)
		pod_free(&l->pods[i]);
	for (size_t i = 0; i < l->nctrs; i++)
		ctr_free(&l->ctrs[i]);
	free(l->pods);
	free(l->ctrs);
	memset(l, 0, sizeof(*l));
}

const struct sonde_cri_pod *sonde_cri_find_pod(const struct sonde_cri_list *l, const char *id)
{
	for (size_t i = 0; id && i < l->npods; i++)
		if (!strcmp(l->pods[i].id, id))
			return &l->pods[i];
	return NULL;
}

const struct sonde_cri_ctr *sonde_cri_find_ctr(const struct sonde_cri_list *l, const char *id)
{
	for (size_t i = 0; i < l->nctrs; i++)
		if (!strcmp(l->ctrs[i].id, id))
			return &l->ctrs[i];
	return NULL;
}

/* The string at field 1 of a message, if any; -1 if malformed. */
static int field1(const uint8_t *p, size_t n, unsigned num, const uint8_t **out, size_t *outlen)
{
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield f;
	int rc;
	*out = NULL;
	while ((rc = sonde_pb_next(&r, &f)) == 1)
		if (f.num == num && f.wt == 2 && !*out)
			*out = f.bytes, *outlen = f.len;
	return rc;
}

int sonde_cri_decode_status(const uint8_t *p, size_t n, struct sonde_cri_pod *pod)
{
	/* status (1) → network (5) → ip (1) */
	const uint8_t *st, *net, *ip;
	size_t stn = 0, netn = 0, ipn = 0;
	if (field1(p, n, 1, &st, &stn) < 0)
		return -1;
	if (!st)
		return 0;
	if (field1(st, stn, 5, &net, &netn) < 0)
		return -1;
	if (!net)
		return 0;
	if (field1(net, netn, 1, &ip, &ipn) < 0)
		return -1;
	if (!ip || !ipn)
		return 0;
	struct sonde_pb_wfield f = { .wt = 2, .bytes = ip, .len = ipn };
	bool bad = false;
	char *s = str_of(&f, &bad);
	if (bad || ipn > 45) { /* longer than any IPv6 text */
		free(s);
		return -1;
	}
	free(pod->ip);
	pod->ip = s;
	return 0;
}

size_t sonde_cri_status_request(const char *id, uint8_t *out, size_t len)
{
	size_t n = strlen(id);
	if (n > 127 || n + 2 > len)
		return 0;
	out[0] = 0x0a; /* pod_sandbox_id, field 1, length-delimited */
	out[1] = (uint8_t)n;
	memcpy(out + 2, id, n);
	return n + 2;
}
