// SPDX-License-Identifier: MIT
#include "enrich/cgroup.h"

#include <string.h>

const char *sonde_runtime_name(enum sonde_runtime rt)
{
	switch (rt) {
	case SONDE_RUNTIME_UNKNOWN: return "unknown";
	case SONDE_RUNTIME_DOCKER: return "docker";
	case SONDE_RUNTIME_CONTAINERD: return "containerd";
	case SONDE_RUNTIME_CRIO: return "cri-o";
	case SONDE_RUNTIME_PODMAN: return "podman";
	case SONDE_RUNTIME_NONE: break;
	}
	return NULL;
}

/* A component (or its tail): bytes p[0..n). */
struct span {
	const char *p;
	size_t n;
};

static bool span_prefix(struct span s, const char *pre)
{
	size_t l = strlen(pre);
	return s.n >= l && memcmp(s.p, pre, l) == 0;
}

static bool span_suffix(struct span *s, const char *suf)
{
	size_t l = strlen(suf);
	if (s->n < l || memcmp(s->p + s->n - l, suf, l) != 0)
		return false;
	s->n -= l;
	return true;
}

static bool span_is(struct span s, const char *w)
{
	return s.n == strlen(w) && memcmp(s.p, w, s.n) == 0;
}

/* Container ids are hex: 64 digits from every runtime here; 12 is the
 * shortest any of them prints, so nothing shorter is taken for one. */
static bool is_hex_id(struct span s)
{
	if (s.n < 12 || s.n > SONDE_CONTAINER_ID_MAX)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!((s.p[i] >= '0' && s.p[i] <= '9') || (s.p[i] >= 'a' && s.p[i] <= 'f')))
			return false;
	return true;
}

static void set_id(struct sonde_cgroup_ctr *out, enum sonde_runtime rt, struct span id)
{
	out->runtime = rt;
	memcpy(out->id, id.p, id.n);
	out->id[id.n] = 0;
}

/* A pod uid as the kubelet writes it into cgroup names: the uid itself
 * (cgroupfs) or with '_' for '-' (systemd, where '-' separates slices). */
static void set_pod(struct sonde_cgroup_ctr *out, struct span uid)
{
	if (uid.n < 8 || uid.n > SONDE_POD_UID_MAX)
		return;
	char tmp[SONDE_POD_UID_MAX + 1];
	for (size_t i = 0; i < uid.n; i++) {
		char c = uid.p[i];
		if (c == '_')
			c = '-';
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
			return;
		tmp[i] = c;
	}
	memcpy(out->pod_uid, tmp, uid.n);
	out->pod_uid[uid.n] = 0;
}

static const struct {
	const char *prefix;
	enum sonde_runtime rt; /* NONE: a runtime's helper, not a container */
} scope_prefixes[] = {
	/* The conmon scopes first: they share the runtime's prefix. */
	{ "crio-conmon-", SONDE_RUNTIME_NONE },   { "libpod-conmon-", SONDE_RUNTIME_NONE },
	{ "docker-", SONDE_RUNTIME_DOCKER },      { "cri-containerd-", SONDE_RUNTIME_CONTAINERD },
	{ "nerdctl-", SONDE_RUNTIME_CONTAINERD }, { "crio-", SONDE_RUNTIME_CRIO },
	{ "libpod-", SONDE_RUNTIME_PODMAN },
};

/* "<runtime prefix><id>" with its ".scope" (or nothing, cgroupfs) cut. */
static bool prefixed(struct span c, struct sonde_cgroup_ctr *out)
{
	for (size_t k = 0; k < sizeof(scope_prefixes) / sizeof(*scope_prefixes); k++) {
		if (!span_prefix(c, scope_prefixes[k].prefix))
			continue;
		size_t l = strlen(scope_prefixes[k].prefix);
		struct span id = { c.p + l, c.n - l };
		if (!is_hex_id(id))
			return false;
		if (scope_prefixes[k].rt != SONDE_RUNTIME_NONE)
			set_id(out, scope_prefixes[k].rt, id);
		return true;
	}
	return false;
}

/*
 * containerd's systemd driver on cgroup v1 names some hierarchies
 * "<pod slice>:cri-containerd:<id>" in one component.
 */
static bool colon_form(struct span c, struct sonde_cgroup_ctr *out)
{
	const char *a = memchr(c.p, ':', c.n);
	if (!a)
		return false;
	struct span slice = { c.p, (size_t)(a - c.p) };
	struct span rest = { a + 1, c.n - slice.n - 1 };
	const char *b = memchr(rest.p, ':', rest.n);
	if (!b)
		return false;
	struct span kind = { rest.p, (size_t)(b - rest.p) };
	struct span id = { b + 1, rest.n - kind.n - 1 };
	if (!is_hex_id(id))
		return false;
	enum sonde_runtime rt = span_is(kind, "cri-containerd") ? SONDE_RUNTIME_CONTAINERD
				: span_is(kind, "crio")         ? SONDE_RUNTIME_CRIO
				: span_is(kind, "docker")       ? SONDE_RUNTIME_DOCKER
								: SONDE_RUNTIME_UNKNOWN;
	if (span_suffix(&slice, ".slice")) {
		const char *pod = memmem(slice.p, slice.n, "-pod", 4);
		if (pod)
			set_pod(out,
				(struct span){ pod + 4, slice.n - (size_t)(pod + 4 - slice.p) });
	}
	set_id(out, rt, id);
	return true;
}

/* One component; prev is the one before it (for /docker/<id>, pod<uid>/<id>). */
static void component(struct span c, struct span prev, struct sonde_cgroup_ctr *out)
{
	if (colon_form(c, out))
		return;
	struct span base = c;
	if (span_suffix(&base, ".slice")) {
		/* kubepods-burstable-pod<uid>.slice, kubepods-pod<uid>.slice */
		if (span_prefix(base, "kubepods")) {
			const char *pod = memmem(base.p, base.n, "-pod", 4);
			if (pod)
				set_pod(out, (struct span){ pod + 4,
							    base.n - (size_t)(pod + 4 - base.p) });
		}
		return;
	}
	span_suffix(&base, ".scope");
	if (prefixed(base, out))
		return;
	if (span_prefix(c, "pod") &&
	    (span_prefix(prev, "kubepods") || span_is(prev, "besteffort") ||
	     span_is(prev, "burstable") || span_is(prev, "guaranteed"))) {
		set_pod(out, (struct span){ c.p + 3, c.n - 3 });
		return;
	}
	if (c.n == SONDE_CONTAINER_ID_MAX && is_hex_id(c)) {
		/* podman's cgroupfs pods: /libpod_parent/<pod id>/libpod-<id> */
		if (span_is(prev, "libpod_parent"))
			return;
		set_id(out, span_is(prev, "docker") ? SONDE_RUNTIME_DOCKER : SONDE_RUNTIME_UNKNOWN,
		       c);
	}
}

bool sonde_cgroup_parse(const char *path, size_t n, struct sonde_cgroup_ctr *out)
{
	memset(out, 0, sizeof(*out));
	struct span prev = { "", 0 };
	size_t i = 0;
	while (i < n) {
		while (i < n && path[i] == '/')
			i++;
		size_t s = i;
		while (i < n && path[i] != '/')
			i++;
		struct span c = { path + s, i - s };
		/* A cgroup namespace shows paths outside it as "/../.." */
		if (c.n == 0 || span_is(c, ".") || span_is(c, ".."))
			continue;
		component(c, prev, out);
		prev = c;
	}
	return out->id[0] != 0;
}

static void copy_path(char *dst, size_t len, const char *p, size_t n)
{
	if (!dst || !len)
		return;
	if (n > len - 1)
		n = len - 1;
	memcpy(dst, p, n);
	dst[n] = 0;
}

bool sonde_cgroup_parse_file(const char *text, size_t n, struct sonde_cgroup_ctr *out, char *path,
			     size_t pathlen)
{
	memset(out, 0, sizeof(*out));
	copy_path(path, pathlen, "", 0);
	bool have_v2 = false, have_any = false;
	size_t i = 0;
	while (i < n) {
		size_t s = i;
		while (i < n && text[i] != '\n')
			i++;
		const char *line = text + s, *end = text + i;
		i++;
		const char *c1 = memchr(line, ':', (size_t)(end - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
		if (!c2)
			continue;
		const char *p = c2 + 1;
		size_t pn = (size_t)(end - p);
		bool v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
		if (!have_any || (v2 && !have_v2))
			copy_path(path, pathlen, p, pn);
		have_any = true;
		have_v2 = have_v2 || v2;
		struct sonde_cgroup_ctr c;
		if (sonde_cgroup_parse(p, pn, &c)) {
			*out = c;
			copy_path(path, pathlen, p, pn);
			return true;
		}
		if (c.pod_uid[0] && !out->pod_uid[0])
			memcpy(out->pod_uid, c.pod_uid, sizeof(c.pod_uid));
	}
	return false;
}
