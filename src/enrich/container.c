// SPDX-License-Identifier: MIT
#include "enrich/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "enrich/cri.h"
#include "proto/content/json_scan.h"

/* State files bigger than this are not a runtime's: left unread. */
#define STATE_FILE_MAX (8u << 20)
/* A miss is asked again after this long: the state appears as it starts. */
#define RETRY_NS 5000000000ull

/* ------------------------------------------------------------ JSON --- */

struct jdoc {
	const uint8_t *p;
	size_t n;
};

/* Calls fn(ctx, key, value position) for each member of the object at
 * *i, skipping each value after; false if it is not a well-formed object. */
static bool obj_each(struct jdoc d, size_t i,
		     void (*fn)(void *ctx, struct jdoc d, const char *key, size_t v), void *ctx)
{
	sonde_js_ws(d.p, d.n, &i);
	if (i >= d.n || d.p[i] != '{')
		return false;
	i++;
	struct sonde_buf key = { 0 };
	bool ok = false;
	for (;;) {
		sonde_js_ws(d.p, d.n, &i);
		if (i < d.n && d.p[i] == '}') {
			ok = true;
			break;
		}
		key.len = 0;
		if (!sonde_js_string(d.p, d.n, &i, &key))
			break;
		sonde_buf_append(&key, "", 1); /* NUL */
		sonde_js_ws(d.p, d.n, &i);
		if (i >= d.n || d.p[i] != ':')
			break;
		i++;
		sonde_js_ws(d.p, d.n, &i);
		fn(ctx, d, (const char *)key.p, i);
		if (!sonde_js_skip(d.p, d.n, &i, 1))
			break;
		sonde_js_ws(d.p, d.n, &i);
		if (i < d.n && d.p[i] == ',')
			i++;
		else if (!(i < d.n && d.p[i] == '}'))
			break;
	}
	sonde_buf_free(&key);
	return ok;
}

struct find {
	const char *key;
	size_t at; /* 0: not found (a value is never at 0) */
};

static void find_one(void *ctx, struct jdoc d, const char *key, size_t v)
{
	(void)d;
	struct find *f = ctx;
	if (!f->at && !strcmp(key, f->key))
		f->at = v;
}

/* The value at a path of member names (NULL-terminated list); 0 if absent. */
static size_t find_path(struct jdoc d, size_t i, const char *const *path)
{
	for (; *path; path++) {
		struct find f = { *path, 0 };
		if (!obj_each(d, i, find_one, &f) || !f.at)
			return 0;
		i = f.at;
	}
	return i;
}

/* The string at position v, decoded and NUL-terminated; NULL if it is not
 * a string (or v is 0). */
static char *str_at(struct jdoc d, size_t v)
{
	if (!v || v >= d.n || d.p[v] != '"')
		return NULL;
	struct sonde_buf b = { 0 };
	if (!sonde_js_string(d.p, d.n, &v, &b)) {
		sonde_buf_free(&b);
		return NULL;
	}
	sonde_buf_append(&b, "", 1);
	return (char *)b.p;
}

static char *str_path(struct jdoc d, size_t i, const char *const *path)
{
	return str_at(d, find_path(d, i, path));
}

/* A whole file under root, bounded; NULL if absent or too big. */
static uint8_t *slurp(const char *root, const char *path, size_t *n)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s%s", strcmp(root, "/") ? root : "", path);
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (size_t)st.st_size <= STATE_FILE_MAX && (buf = malloc((size_t)st.st_size))) {
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		*n = got;
	}
	close(fd);
	return buf;
}

/* ------------------------------------------------------ metadata --- */

struct sonde_container_meta *sonde_container_meta_ref(struct sonde_container_meta *m)
{
	if (m)
		m->refs++;
	return m;
}

void sonde_container_meta_unref(struct sonde_container_meta *m)
{
	if (!m || --m->refs)
		return;
	free(m->name);
	free(m->image);
	free(m->pod_name);
	free(m->pod_namespace);
	free(m->pod_uid);
	free(m->pod_ip);
	for (size_t i = 0; i < m->nlabels; i++) {
		free(m->labels[i].key);
		free(m->labels[i].value);
	}
	free(m->labels);
	for (size_t i = 0; i < m->nannotations; i++) {
		free(m->annotations[i].key);
		free(m->annotations[i].value);
	}
	free(m->annotations);
	free(m);
}

void sonde_container_meta_free(void *m)
{
	sonde_container_meta_unref(m);
}

/* Set *dst from s (taken) unless already set. */
static void take(char **dst, char *s)
{
	if (!*dst && s && *s)
		*dst = s;
	else
		free(s);
}

/* Annotations (OCI config.json) or labels (docker): the keys Kubernetes
 * and the runtimes write. */
struct annot {
	struct sonde_container_meta *m;
	char *crio_labels, *sandbox_id;
	bool crio, libpod;
};

static void one_annotation(void *ctx, struct jdoc d, const char *key, size_t v)
{
	struct annot *a = ctx;
	struct sonde_container_meta *m = a->m;
	static const struct {
		const char *key;
		size_t field; /* offset of the char * in the meta */
	} keys[] = {
		{ "io.kubernetes.cri.container-name", offsetof(struct sonde_container_meta, name) },
		{ "io.kubernetes.container.name", offsetof(struct sonde_container_meta, name) },
		{ "io.kubernetes.cri.image-name", offsetof(struct sonde_container_meta, image) },
		{ "io.kubernetes.cri-o.ImageName", offsetof(struct sonde_container_meta, image) },
		{ "io.kubernetes.cri.sandbox-name",
		  offsetof(struct sonde_container_meta, pod_name) },
		{ "io.kubernetes.pod.name", offsetof(struct sonde_container_meta, pod_name) },
		{ "io.kubernetes.cri.sandbox-namespace",
		  offsetof(struct sonde_container_meta, pod_namespace) },
		{ "io.kubernetes.pod.namespace",
		  offsetof(struct sonde_container_meta, pod_namespace) },
		{ "io.kubernetes.cri.sandbox-uid", offsetof(struct sonde_container_meta, pod_uid) },
		{ "io.kubernetes.pod.uid", offsetof(struct sonde_container_meta, pod_uid) },
	};
	if (!strncmp(key, "io.kubernetes.cri-o.", 20))
		a->crio = true;
	if (!strncmp(key, "sonde.dev/", 10))
		sonde_kv_push(&m->annotations, &m->nannotations, key, str_at(d, v));
	if (!strcmp(key, "io.container.manager")) {
		char *v2 = str_at(d, v);
		a->libpod = v2 && !strcmp(v2, "libpod");
		free(v2);
	}
	if (!strcmp(key, "io.kubernetes.cri-o.Labels"))
		take(&a->crio_labels, str_at(d, v));
	else if (!strcmp(key, "io.kubernetes.cri-o.SandboxID"))
		take(&a->sandbox_id, str_at(d, v));
	for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++)
		if (!strcmp(key, keys[k].key))
			take((char **)((char *)m + keys[k].field), str_at(d, v));
}

void sonde_kv_push(struct sonde_kv **kv, size_t *n, const char *key, char *value)
{
	if (!value || *n >= 64) {
		free(value);
		return;
	}
	*kv = realloc(*kv, (*n + 1) * sizeof(**kv));
	if (!*kv || !(kv[0][*n].key = strdup(key)))
		abort();
	kv[0][(*n)++].value = value;
}

static void one_label(void *ctx, struct jdoc d, const char *key, size_t v)
{
	struct sonde_container_meta *m = ctx;
	/* kubelet's own bookkeeping, already in name/namespace/uid */
	if (!strncmp(key, "io.kubernetes.", 14) || m->nlabels >= 64)
		return;
	sonde_kv_push(&m->labels, &m->nlabels, key, str_at(d, v));
}

/* A JSON object held in a string (CRI-O's io.kubernetes.cri-o.Labels). */
static void labels_from_string(struct sonde_container_meta *m, const char *s)
{
	struct jdoc d = { (const uint8_t *)s, strlen(s) };
	obj_each(d, 0, one_label, m);
}

static void annotations(struct jdoc d, struct annot *a)
{
	static const char *const path[] = { "annotations", NULL };
	size_t v = find_path(d, 0, path);
	if (v)
		obj_each(d, v, one_annotation, a);
}

static struct sonde_container_meta *meta_new(enum sonde_runtime rt, const char *id)
{
	struct sonde_container_meta *m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	m->refs = 1;
	m->runtime = rt;
	snprintf(m->id, sizeof(m->id), "%s", id);
	return m;
}

/* containers/storage's containers.json: this container's names[0] and the
 * image name podman and CRI-O keep in its metadata string. */
struct storage_find {
	const char *id;
	char *name, *image;
};

static void storage_entry(struct storage_find *f, struct jdoc d, size_t at)
{
	static const char *const id[] = { "id", NULL };
	char *eid = str_path(d, at, id);
	bool mine = eid && !strcmp(eid, f->id);
	free(eid);
	if (!mine)
		return;
	static const char *const names[] = { "names", NULL };
	size_t v = find_path(d, at, names);
	if (v && d.p[v] == '[') {
		v++;
		sonde_js_ws(d.p, d.n, &v);
		take(&f->name, str_at(d, v));
	}
	static const char *const meta[] = { "metadata", NULL };
	char *ms = str_path(d, at, meta);
	if (ms) {
		struct jdoc md = { (const uint8_t *)ms, strlen(ms) };
		static const char *const img[] = { "image-name", NULL };
		take(&f->image, str_path(md, 0, img));
		free(ms);
	}
}

static void storage_names(const char *root, const char *base, struct sonde_container_meta *m)
{
	char path[512];
	size_t n = 0;
	snprintf(path, sizeof(path), "%s/overlay-containers/containers.json", base);
	uint8_t *buf = slurp(root, path, &n);
	if (!buf)
		return;
	struct jdoc d = { buf, n };
	struct storage_find f = { .id = m->id };
	size_t i = 0;
	sonde_js_ws(buf, n, &i);
	if (i < n && buf[i] == '[') {
		i++;
		for (;;) {
			sonde_js_ws(buf, n, &i);
			if (i >= n || buf[i] != '{')
				break;
			storage_entry(&f, d, i);
			if (!sonde_js_skip(buf, n, &i, 1))
				break;
			sonde_js_ws(buf, n, &i);
			if (i < n && buf[i] == ',')
				i++;
		}
	}
	take(&m->name, f.name);
	take(&m->image, f.image);
	free(buf);
}

/* podman and CRI-O share containers/storage; CRI-O's annotations tell
 * them apart, and its sandbox holds the pod's labels. */
static struct sonde_container_meta *read_storage(const char *root, const char *id)
{
	static const char *const bases[] = { "/run/containers/storage",
					     "/var/lib/containers/storage" };
	for (size_t b = 0; b < 2; b++) {
		char path[512];
		size_t n = 0;
		snprintf(path, sizeof(path), "%s/overlay-containers/%s/userdata/config.json",
			 bases[b], id);
		uint8_t *buf = slurp(root, path, &n);
		if (!buf)
			continue;
		struct sonde_container_meta *m = meta_new(SONDE_RUNTIME_PODMAN, id);
		struct annot a = { .m = m };
		annotations((struct jdoc){ buf, n }, &a);
		free(buf);
		/* podman writes a few io.kubernetes.cri-o.* keys too */
		if (a.crio && !a.libpod)
			m->runtime = SONDE_RUNTIME_CRIO;
		if (a.sandbox_id && strcmp(a.sandbox_id, id)) {
			struct sonde_container_meta *sb = read_storage(root, a.sandbox_id);
			if (sb) {
				m->labels = sb->labels, m->nlabels = sb->nlabels;
				sb->labels = NULL, sb->nlabels = 0;
				sonde_container_meta_unref(sb);
			}
		} else if (a.crio_labels) {
			labels_from_string(m, a.crio_labels); /* this is the sandbox */
		}
		free(a.crio_labels);
		free(a.sandbox_id);
		storage_names(root, bases[b], m);
		return m;
	}
	return NULL;
}

/* containerd's task bundles: one directory per namespace. */
static struct sonde_container_meta *read_containerd(const char *root, const char *id)
{
	static const char tasks[] = "/run/containerd/io.containerd.runtime.v2.task";
	char dir[512];
	snprintf(dir, sizeof(dir), "%s%s", strcmp(root, "/") ? root : "", tasks);
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	struct sonde_container_meta *m = NULL;
	struct dirent *de;
	while (!m && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[768];
		size_t n = 0;
		snprintf(path, sizeof(path), "%s/%.200s/%s/config.json", tasks, de->d_name, id);
		uint8_t *buf = slurp(root, path, &n);
		if (!buf)
			continue;
		m = meta_new(SONDE_RUNTIME_CONTAINERD, id);
		struct annot a = { .m = m };
		annotations((struct jdoc){ buf, n }, &a);
		free(a.crio_labels);
		free(a.sandbox_id);
		free(buf);
	}
	closedir(d);
	return m;
}

static struct sonde_container_meta *read_docker(const char *root, const char *id)
{
	char path[512];
	size_t n = 0;
	snprintf(path, sizeof(path), "/var/lib/docker/containers/%s/config.v2.json", id);
	uint8_t *buf = slurp(root, path, &n);
	if (!buf)
		return NULL;
	struct jdoc d = { buf, n };
	struct sonde_container_meta *m = meta_new(SONDE_RUNTIME_DOCKER, id);
	static const char *const name[] = { "Name", NULL };
	static const char *const image[] = { "Config", "Image", NULL };
	static const char *const labels[] = { "Config", "Labels", NULL };
	/* dockershim's pods carry the io.kubernetes.* keys as labels */
	struct annot a = { .m = m };
	size_t v = find_path(d, 0, labels);
	if (v)
		obj_each(d, v, one_annotation, &a);
	free(a.crio_labels);
	free(a.sandbox_id);
	char *nm = str_path(d, 0, name);
	if (nm && nm[0] == '/')
		memmove(nm, nm + 1, strlen(nm));
	take(&m->name, nm);
	take(&m->image, str_path(d, 0, image));
	free(buf);
	return m;
}

struct sonde_container_meta *sonde_container_read(const char *root,
						  const struct sonde_cgroup_ctr *ctr)
{
	if (!ctr->id[0])
		return NULL;
	root = root ? root : "/";
	/* The runtime the cgroup named first; then the others, since a
	 * kubelet's cgroupfs paths name none. */
	struct sonde_container_meta *m = NULL;
	switch (ctr->runtime) {
	case SONDE_RUNTIME_DOCKER: m = read_docker(root, ctr->id); break;
	case SONDE_RUNTIME_CONTAINERD: m = read_containerd(root, ctr->id); break;
	case SONDE_RUNTIME_CRIO:
	case SONDE_RUNTIME_PODMAN: m = read_storage(root, ctr->id); break;
	default: break;
	}
	if (!m)
		m = read_containerd(root, ctr->id);
	if (!m)
		m = read_storage(root, ctr->id);
	if (!m)
		m = read_docker(root, ctr->id);
	return m;
}

/* ------------------------------------------------------------ cache --- */

struct ctr_entry {
	char id[SONDE_CONTAINER_ID_MAX + 1];
	struct sonde_container_meta *m; /* NULL: not found at checked_ns */
	uint64_t checked_ns;
	uint64_t cri_gen; /* the CRI listing it was merged with */
};

struct sonde_container_cache {
	char root[256];
	struct sonde_stats *stats;
	struct sonde_cri *cri; /* NULL: state files only */
	struct ctr_entry *e;
	size_t max, len, next; /* next: the entry a full cache replaces */
};

struct sonde_container_cache *sonde_container_cache_new(const char *root, size_t max_entries,
							struct sonde_stats *stats)
{
	struct sonde_container_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->root, sizeof(c->root), "%s", root ? root : "/");
	c->max = max_entries ? max_entries : 256;
	c->e = calloc(c->max, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	c->stats = stats;
	return c;
}

void sonde_container_cache_set_cri(struct sonde_container_cache *c, struct sonde_cri *cri)
{
	c->cri = cri;
}

/* The state files' metadata, completed by the CRI listing. */
static struct sonde_container_meta *read_all(struct sonde_container_cache *c,
					     const struct sonde_cgroup_ctr *ctr)
{
	struct sonde_container_meta *m = sonde_container_read(c->root, ctr);
	if (!c->cri)
		return m;
	bool fresh = !m;
	if (fresh)
		m = meta_new(ctr->runtime, ctr->id);
	m->from_cri = sonde_cri_fill(c->cri, ctr->id, m);
	if (fresh && !m->from_cri) {
		sonde_container_meta_unref(m);
		m = NULL;
	}
	sonde_cri_stats(c->cri, c->stats);
	return m;
}

struct sonde_container_meta *sonde_container_pod_by_ip(struct sonde_container_cache *c,
						       const char *ip)
{
	if (!c->cri)
		return NULL;
	struct sonde_container_meta *m = meta_new(SONDE_RUNTIME_UNKNOWN, "");
	if (!sonde_cri_fill_by_ip(c->cri, ip, m)) {
		sonde_container_meta_unref(m);
		return NULL;
	}
	return m;
}

void sonde_container_cache_free(struct sonde_container_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->len; i++)
		sonde_container_meta_unref(c->e[i].m);
	free(c->e);
	free(c);
}

struct sonde_container_meta *sonde_container_lookup(struct sonde_container_cache *c,
						    const struct sonde_cgroup_ctr *ctr,
						    uint64_t now_ns)
{
	if (!ctr->id[0])
		return NULL;
	if (c->stats)
		c->stats->enrich_container_lookups++;
	struct ctr_entry *e = NULL;
	for (size_t i = 0; i < c->len && !e; i++)
		if (!strcmp(c->e[i].id, ctr->id))
			e = &c->e[i];
	/* A new CRI listing may name what the last one did not. */
	uint64_t gen = c->cri ? sonde_cri_generation(c->cri) : 0;
	bool stale = e && e->cri_gen != gen && !(e->m && e->m->from_cri);
	if (e && !stale && (e->m || now_ns - e->checked_ns < RETRY_NS)) {
		if (!e->m && c->stats)
			c->stats->enrich_container_failures++;
		return sonde_container_meta_ref(e->m);
	}
	if (!e) {
		e = c->len < c->max ? &c->e[c->len++] : &c->e[c->next++ % c->max];
		sonde_container_meta_unref(e->m);
		memset(e, 0, sizeof(*e));
		snprintf(e->id, sizeof(e->id), "%s", ctr->id);
	}
	sonde_container_meta_unref(e->m);
	e->m = read_all(c, ctr);
	e->checked_ns = now_ns;
	e->cri_gen = gen;
	if (!e->m && c->stats)
		c->stats->enrich_container_failures++;
	return sonde_container_meta_ref(e->m);
}
