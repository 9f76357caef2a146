// SPDX-License-Identifier: MIT
#include "enrich/kube_watch.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_doc.h"

/* A label key: an optional DNS-subdomain prefix, '/', a name of 63. */
#define LABEL_KEY_MAX (SONDE_KUBE_STR_MAX + 1 + 63)
#define LABEL_VALUE_MAX 63

static const char *const kind_names[] = { "Pod", "Service", "EndpointSlice" };
static const char *const list_names[] = { "PodList", "ServiceList", "EndpointSliceList" };

void sonde_kube_object_clear(struct sonde_kube_object *o)
{
	for (size_t i = 0; i < o->naddrs; i++) {
		free(o->addrs[i].pod);
		free(o->addrs[i].pod_uid);
	}
	free(o->addrs);
	for (size_t i = 0; i < o->nlabels; i++) {
		free(o->labels[i].key);
		free(o->labels[i].value);
	}
	free(o->labels);
	memset(o, 0, sizeof(*o));
}

/* ----------------------------------------------------- JSON access --- */

/* The string at key, or NULL when missing, not a string, or over max. */
static const char *str_member(struct json_object *o, const char *key, size_t max)
{
	size_t n;
	const char *s = sonde_jdoc_str(sonde_jdoc_member(o, key), &n);
	return s && n <= max && strlen(s) == n ? s : NULL; /* no NUL inside */
}

static bool copy_member(struct json_object *o, const char *key, char *out, size_t size)
{
	const char *s = str_member(o, key, size - 1);
	if (s)
		memcpy(out, s, strlen(s) + 1);
	return s != NULL;
}

/* ------------------------------------------------------- objects --- */

static bool is_ip(const char *s)
{
	unsigned char a[16];
	return s && (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1);
}

/* Address s (with its pod, taken) unless it is not one ("None": headless),
 * is there already, or is over max. */
static void add_addr(struct sonde_kube_object *o, const char *s, char *pod, char *uid, size_t max)
{
	bool dup = false;
	for (size_t i = 0; s && i < o->naddrs && !dup; i++)
		dup = !strcmp(o->addrs[i].ip, s);
	if (!is_ip(s) || dup || o->naddrs >= max) {
		free(pod);
		free(uid);
		return;
	}
	if (!(o->naddrs & (o->naddrs - 1))) { /* 0, 1, 2, 4...: double */
		size_t cap = o->naddrs ? o->naddrs * 2 : 1;
		struct sonde_kube_addr *a = realloc(o->addrs, cap * sizeof(*a));
		if (!a)
			abort();
		o->addrs = a;
	}
	struct sonde_kube_addr *a = &o->addrs[o->naddrs++];
	snprintf(a->ip, sizeof(a->ip), "%s", s);
	a->pod = pod;
	a->pod_uid = uid;
}

static void add_ip(struct sonde_kube_object *o, const char *s)
{
	add_addr(o, s, NULL, NULL, SONDE_KUBE_IPS_MAX);
}

static char *dup_member(struct json_object *o, const char *key, size_t max)
{
	const char *s = str_member(o, key, max);
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		abort();
	return d;
}

/* An EndpointSlice's endpoints: the first address of each whose target is
 * a pod (the controller gives each exactly one). */
static void endpoints_of(struct sonde_kube_object *o, struct json_object *slice)
{
	const char *type = str_member(slice, "addressType", 8);
	struct json_object *eps = sonde_jdoc_member(slice, "endpoints");
	if (!type || (strcmp(type, "IPv4") && strcmp(type, "IPv6")) ||
	    !json_object_is_type(eps, json_type_array))
		return;
	size_t n = json_object_array_length(eps);
	for (size_t i = 0; i < n && o->naddrs < SONDE_KUBE_SLICE_MAX; i++) {
		struct json_object *ep = json_object_array_get_idx(eps, i);
		struct json_object *ref = sonde_jdoc_member(ep, "targetRef");
		struct json_object *addrs = sonde_jdoc_member(ep, "addresses");
		const char *kind = str_member(ref, "kind", 16);
		if (!kind || strcmp(kind, "Pod") || !json_object_is_type(addrs, json_type_array) ||
		    !json_object_array_length(addrs))
			continue;
		struct json_object *a = json_object_array_get_idx(addrs, 0);
		char *pod = dup_member(ref, "name", SONDE_KUBE_STR_MAX);
		if (!pod || !json_object_is_type(a, json_type_string)) {
			free(pod);
			continue;
		}
		add_addr(o, json_object_get_string(a), pod, dup_member(ref, "uid", 63),
			 SONDE_KUBE_SLICE_MAX);
	}
}

/* The addresses of a list like podIPs ([{"ip": ...}]) or clusterIPs
 * (["..."]), else of the single field. */
static void ips_of(struct sonde_kube_object *o, struct json_object *parent, const char *list,
		   const char *one, bool in_objects)
{
	struct json_object *a = sonde_jdoc_member(parent, list);
	if (json_object_is_type(a, json_type_array)) {
		size_t n = json_object_array_length(a);
		for (size_t i = 0; i < n && i < 8; i++) {
			struct json_object *e = json_object_array_get_idx(a, i);
			if (in_objects)
				add_ip(o, str_member(e, "ip", 47));
			else if (json_object_is_type(e, json_type_string))
				add_ip(o, json_object_get_string(e));
		}
	}
	if (!o->naddrs)
		add_ip(o, str_member(parent, one, 47));
}

static void labels_of(struct sonde_kube_object *o, struct json_object *labels)
{
	if (!json_object_is_type(labels, json_type_object))
		return;
	json_object_object_foreach(labels, k, v)
	{
		size_t vlen = json_object_is_type(v, json_type_string)
				      ? (size_t)json_object_get_string_len(v)
				      : LABEL_VALUE_MAX + 1;
		if (o->nlabels >= SONDE_KUBE_LABELS_MAX || strlen(k) > LABEL_KEY_MAX ||
		    vlen > LABEL_VALUE_MAX || strlen(json_object_get_string(v)) != vlen) {
			o->labels_cut = true; /* over a bound: left out, not cut short */
			continue;
		}
		char *val = strdup(json_object_get_string(v));
		if (!val)
			abort();
		sonde_kv_push(&o->labels, &o->nlabels, k, val);
	}
}

static bool pod_ended(struct json_object *status)
{
	const char *phase = str_member(status, "phase", 32);
	return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

/* obj as a Pod or a Service: false when it is not one (no name, another
 * kind). */
static bool object_of(struct json_object *obj, enum sonde_kube_kind kind,
		      struct sonde_kube_object *o)
{
	const char *want = kind_names[kind];
	const char *k = str_member(obj, "kind", 64);
	struct json_object *md = sonde_jdoc_member(obj, "metadata");
	if ((k && strcmp(k, want)) || !copy_member(md, "name", o->name, sizeof(o->name)))
		return false;
	copy_member(md, "namespace", o->ns, sizeof(o->ns));
	copy_member(md, "uid", o->uid, sizeof(o->uid));
	copy_member(md, "resourceVersion", o->rv, sizeof(o->rv));
	struct json_object *spec = sonde_jdoc_member(obj, "spec"),
			   *status = sonde_jdoc_member(obj, "status");
	if (kind == SONDE_KUBE_SERVICE) {
		ips_of(o, spec, "clusterIPs", "clusterIP", false);
		return true;
	}
	if (kind == SONDE_KUBE_SLICE) {
		endpoints_of(o, obj);
		return true;
	}
	labels_of(o, sonde_jdoc_member(md, "labels"));
	if (!json_object_get_boolean(sonde_jdoc_member(spec, "hostNetwork")) && !pod_ended(status))
		ips_of(o, status, "podIPs", "podIP", true);
	return true;
}

static struct json_object *parse(const char *p, size_t len)
{
	return len > SONDE_KUBE_LIST_MAX ? NULL : sonde_jdoc_parse(p, len, SONDE_KUBE_DEPTH_MAX);
}

/* -------------------------------------------------------- events --- */

static int type_of(const char *t)
{
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };
	for (int i = 0; t && i < 5; i++)
		if (!strcmp(t, names[i]))
			return i;
	return -1;
}

int sonde_kube_parse_event(const char *line, size_t len, enum sonde_kube_kind kind,
			   struct sonde_kube_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	struct json_object *root = parse(line, len);
	int t = type_of(str_member(root, "type", 16));
	struct json_object *obj = sonde_jdoc_member(root, "object");
	int rc = -1;
	if (t < 0 || !json_object_is_type(obj, json_type_object))
		goto out;
	ev->type = (enum sonde_kube_type)t;
	if (t == SONDE_KUBE_ERROR) {
		struct json_object *code = sonde_jdoc_member(obj, "code");
		ev->code = json_object_is_type(code, json_type_int) ? json_object_get_int(code) : 0;
		rc = 0;
	} else if (t == SONDE_KUBE_BOOKMARK) {
		struct json_object *md = sonde_jdoc_member(obj, "metadata");
		rc = copy_member(md, "resourceVersion", ev->obj.rv, sizeof(ev->obj.rv)) ? 0 : -1;
	} else {
		rc = object_of(obj, kind, &ev->obj) ? 0 : -1;
	}
	if (rc < 0)
		sonde_kube_object_clear(&ev->obj);
out:
	json_object_put(root);
	return rc;
}

int sonde_kube_parse_list(const char *body, size_t len, enum sonde_kube_kind kind,
			  void (*fn)(void *ctx, const struct sonde_kube_object *o), void *ctx,
			  char *rv, size_t rvlen, char *cont, size_t contlen, size_t *skipped)
{
	struct json_object *root = parse(body, len);
	const char *k = str_member(root, "kind", 64);
	const char *want = list_names[kind];
	struct json_object *items = sonde_jdoc_member(root, "items");
	struct json_object *md = sonde_jdoc_member(root, "metadata");
	const char *v = str_member(md, "resourceVersion", SONDE_KUBE_RV_MAX);
	int rc = -1;
	/* An empty list's items may be null. */
	if ((k && strcmp(k, want)) || !v ||
	    !(json_object_is_type(items, json_type_array) ||
	      (sonde_jdoc_member(root, "items") == NULL)))
		goto out;
	snprintf(rv, rvlen, "%s", v);
	const char *c = str_member(md, "continue", 4096);
	snprintf(cont, contlen, "%s", c && strlen(c) < contlen ? c : "");
	size_t n = items ? json_object_array_length(items) : 0;
	for (size_t i = 0; i < n; i++) {
		struct sonde_kube_object o = { 0 };
		if (object_of(json_object_array_get_idx(items, i), kind, &o))
			fn(ctx, &o);
		else
			++*skipped;
		sonde_kube_object_clear(&o);
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

/* --------------------------------------------------------- lines --- */

bool sonde_kube_lines_feed(struct sonde_kube_lines *l, const char *p, size_t n,
			   bool (*fn)(void *ctx, const char *line, size_t len), void *ctx)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (!l->skipping && l->len + take > SONDE_KUBE_LINE_MAX) {
			l->skipping = true; /* dropped whole: a cut event would lie */
			l->too_long++;
			l->len = 0;
		}
		if (!l->skipping) {
			if (!l->buf && !(l->buf = malloc(SONDE_KUBE_LINE_MAX + 1)))
				abort();
			memcpy(l->buf + l->len, p, take);
			l->len += take;
		}
		if (!nl)
			return true;
		p += take + 1;
		n -= take + 1;
		bool skipped = l->skipping;
		size_t len = l->len;
		l->skipping = false;
		l->len = 0;
		if (skipped || !len)
			continue;
		l->buf[len] = '\0';
		if (!fn(ctx, l->buf, len))
			return false;
	}
	return true;
}

void sonde_kube_lines_reset(struct sonde_kube_lines *l)
{
	l->len = 0;
	l->skipping = false;
}

void sonde_kube_lines_free(struct sonde_kube_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	sonde_kube_lines_reset(l);
}
