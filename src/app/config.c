// SPDX-License-Identifier: MIT
#include "app/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/buf.h"
#include "store/store.h" /* the node agent's store directory */

#define LIST_MAX 64 /* entries of one list */
#define VALUE_MAX 4096 /* bytes of one value */

struct loader {
	yaml_document_t doc;
	const char *name;
	struct sonde_config *out;
	char *why;
	size_t whylen;
	bool failed;
};

static void fail(struct loader *l, const yaml_node_t *at, const char *fmt, ...)
{
	if (l->failed)
		return;
	l->failed = true;
	int n = snprintf(l->why, l->whylen, "%s:%zu: ", l->name, at ? at->start_mark.line + 1 : 1);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < l->whylen)
		vsnprintf(l->why + n, l->whylen - (size_t)n, fmt, ap);
	va_end(ap);
}

static void add(struct loader *l, const yaml_node_t *at, const char *name, const char *value)
{
	struct sonde_config *c = l->out;
	c->opt = realloc(c->opt, (c->n + 1) * sizeof(*c->opt));
	if (!c->opt)
		abort();
	c->opt[c->n++] = (struct sonde_config_opt){
		.name = strdup(name),
		.value = value ? strdup(value) : NULL,
		.line = (unsigned)at->start_mark.line + 1,
	};
}

/* A scalar's text, or NULL (said) when the node is not a short scalar. */
static const char *scalar(struct loader *l, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		fail(l, n, "%s: a single value is wanted here", what);
		return NULL;
	}
	const char *s = (const char *)n->data.scalar.value;
	if (n->data.scalar.length > VALUE_MAX || strlen(s) != n->data.scalar.length) {
		fail(l, n, "%s: a value of at most %d bytes, without NUL, is wanted", what,
		     VALUE_MAX);
		return NULL;
	}
	return s;
}

/* true/false; -1 (said) otherwise. */
static int boolean(struct loader *l, const yaml_node_t *n, const char *what)
{
	const char *s = scalar(l, n, what);
	if (!s)
		return -1;
	if (!strcmp(s, "true"))
		return 1;
	if (!strcmp(s, "false"))
		return 0;
	fail(l, n, "%s: true or false, not '%s'", what, s);
	return -1;
}

/* Each scalar of a list, through fn. */
static void each_item(struct loader *l, const yaml_node_t *n, const char *what,
		      void (*fn)(struct loader *l, const yaml_node_t *item, const char *s,
				 void *ctx),
		      void *ctx)
{
	if (n->type == YAML_SCALAR_NODE && !n->data.scalar.length)
		return; /* an empty value: no entries */
	if (n->type != YAML_SEQUENCE_NODE) {
		fail(l, n, "%s: a list is wanted here ([a, b] or '- a' lines)", what);
		return;
	}
	yaml_node_item_t *it = n->data.sequence.items.start;
	if (n->data.sequence.items.top - it > LIST_MAX) {
		fail(l, n, "%s: at most %d entries", what, LIST_MAX);
		return;
	}
	for (; it < n->data.sequence.items.top && !l->failed; it++) {
		const yaml_node_t *item = yaml_document_get_node(&l->doc, *it);
		const char *s = item ? scalar(l, item, what) : NULL;
		if (s)
			fn(l, item, s, ctx);
	}
}

static void add_each(struct loader *l, const yaml_node_t *item, const char *s, void *ctx)
{
	add(l, item, ctx, s);
}

static void add_list(struct loader *l, const yaml_node_t *n, const char *what, const char *opt)
{
	each_item(l, n, what, add_each, (void *)opt);
}

/* A mapping's members: key text and value node, in order; the key must
 * be one of known (NULL-terminated), said otherwise. */
struct member {
	const char *key;
	const yaml_node_t *value, *at;
};

static bool members(struct loader *l, const yaml_node_t *n, const char *what,
		    const char *const *known,
		    bool (*fn)(struct loader *l, const struct member *m, void *ctx), void *ctx)
{
	if (n->type == YAML_SCALAR_NODE && !n->data.scalar.length)
		return true; /* "key:" with nothing: empty */
	if (n->type != YAML_MAPPING_NODE) {
		fail(l, n, "%s: a mapping (key: value lines) is wanted here", what);
		return false;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !l->failed; p++) {
		const yaml_node_t *k = yaml_document_get_node(&l->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(&l->doc, p->value);
		const char *key = k && v ? scalar(l, k, what) : NULL;
		if (!key)
			return false;
		size_t i = 0;
		while (known[i] && strcmp(known[i], key))
			i++;
		if (!known[i]) {
			struct sonde_buf b = { 0 };
			for (size_t j = 0; known[j]; j++)
				sonde_buf_printf(&b, "%s%s", j ? ", " : "", known[j]);
			sonde_buf_putc(&b, 0);
			fail(l, k, "unknown key '%s' in %s (known: %s)", key, what, (char *)b.p);
			sonde_buf_free(&b);
			return false;
		}
		struct member m = { key, v, k };
		if (!fn(l, &m, ctx))
			return false;
	}
	return !l->failed;
}

/* ------------------------------------------------------------ targets --- */

static void join_item(struct loader *l, const yaml_node_t *item, const char *s, void *ctx)
{
	struct sonde_buf *b = ctx;
	if (strpbrk(s, ",;")) {
		fail(l, item, "'%s': a process name or port has no ',' or ';'", s);
		return;
	}
	if (b->len && b->p[b->len - 1] != '=')
		sonde_buf_putc(b, ',');
	sonde_buf_puts(b, s);
}

static bool target_member(struct loader *l, const struct member *m, void *ctx)
{
	struct sonde_buf *b = ctx;
	static const char *const term[][2] = { { "namespace", "namespace" },
					       { "podSelector", "pod" },
					       { "container", "container" },
					       { "processes", "process" },
					       { "ports", "ports" } };
	size_t i = 0;
	while (strcmp(term[i][0], m->key))
		i++;
	if (b->len)
		sonde_buf_putc(b, ';');
	sonde_buf_printf(b, "%s=", term[i][1]);
	if (i >= 3) {
		each_item(l, m->value, m->key, join_item, b);
		return !l->failed;
	}
	const char *s = scalar(l, m->value, m->key);
	if (s && strchr(s, ';')) {
		fail(l, m->value, "%s: '%s' has a ';', which no selector holds", m->key, s);
		return false;
	}
	if (s)
		sonde_buf_puts(b, s);
	return s != NULL;
}

/* One entry of capture.targets → a --target selector. */
static void target(struct loader *l, const yaml_node_t *n)
{
	static const char *const known[] = { "namespace", "podSelector", "container",
					     "processes", "ports",       NULL };
	struct sonde_buf b = { 0 };
	if (members(l, n, "a capture target", known, target_member, &b)) {
		sonde_buf_putc(&b, 0);
		add(l, n, "target", b.len > 1 ? (char *)b.p : "all");
	}
	sonde_buf_free(&b);
}

/* --------------------------------------------------------- sections --- */

static bool capture_member(struct loader *l, const struct member *m, void *ctx)
{
	(void)ctx;
	if (!strcmp(m->key, "tls")) {
		/* on by default, and the eBPF source's alone: only "off" is said,
		 * so a packet source's file may keep the chart's tls: true */
		int t = boolean(l, m->value, "capture.tls");
		if (t == 0)
			add(l, m->at, "no-tls", NULL);
		return t >= 0;
	}
	if (!strcmp(m->key, "filter")) {
		const char *s = scalar(l, m->value, "capture.filter");
		if (s && *s)
			add(l, m->value, "filter", s);
		return s != NULL;
	}
	const yaml_node_t *n = m->value; /* targets */
	if (n->type == YAML_SCALAR_NODE && !n->data.scalar.length)
		return true;
	if (n->type != YAML_SEQUENCE_NODE ||
	    n->data.sequence.items.top - n->data.sequence.items.start > LIST_MAX) {
		fail(l, n, "capture.targets: a list of at most %d targets", LIST_MAX);
		return false;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top && !l->failed; it++)
		target(l, yaml_document_get_node(&l->doc, *it));
	return !l->failed;
}

static bool output_member(struct loader *l, const struct member *m, void *ctx)
{
	(void)ctx;
	if (!strcmp(m->key, "stats")) {
		int t = boolean(l, m->value, "output.stats");
		if (t > 0)
			add(l, m->at, "stats", NULL);
		return t >= 0;
	}
	if (!strcmp(m->key, "connections")) { /* on by default: only "off" is said */
		int t = boolean(l, m->value, "output.connections");
		if (t == 0)
			add(l, m->at, "no-connections", NULL);
		return t >= 0;
	}
	const char *s = scalar(l, m->value, "output.format");
	if (s)
		add(l, m->value, "output", s);
	return s != NULL;
}

/* store: its keys are seen whole before --store is decided (in any
 * order): enabled false is no store; enabled with no path is the node
 * agent's directory. */
struct store_keys {
	int enabled; /* -1: not said */
	const char *val[3]; /* path, size, maxAge */
	const yaml_node_t *at[3];
};

static bool store_member(struct loader *l, const struct member *m, void *ctx)
{
	struct store_keys *sk = ctx;
	if (!strcmp(m->key, "enabled")) {
		sk->enabled = boolean(l, m->value, "store.enabled");
		return sk->enabled >= 0;
	}
	int i = !strcmp(m->key, "path") ? 0 : !strcmp(m->key, "size") ? 1 : 2;
	sk->val[i] = scalar(l, m->value, m->key);
	sk->at[i] = m->value;
	return sk->val[i] != NULL;
}

static void store_options(struct loader *l, const struct member *m, const struct store_keys *sk)
{
	static const char *const opt[3] = { "store", "store-size", "store-age" };
	if (sk->enabled == 0)
		return;
	if (sk->enabled == 1 && (!sk->val[0] || !*sk->val[0]))
		add(l, m->at, "store", SONDE_STORE_AGENT_DIR);
	for (int i = 0; i < 3; i++)
		if (sk->val[i] && *sk->val[i])
			add(l, sk->at[i], opt[i], sk->val[i]);
}

static bool masking_member(struct loader *l, const struct member *m, void *ctx)
{
	(void)ctx;
	if (!strcmp(m->key, "enabled")) {
		int t = boolean(l, m->value, "masking.enabled");
		if (t == 0)
			add(l, m->at, "no-redact", NULL);
		return t >= 0;
	}
	const char *opt = !strcmp(m->key, "headers")  ? "redact-header"
			  : !strcmp(m->key, "fields") ? "redact-field"
						      : "redact-pattern";
	add_list(l, m->value, m->key, opt);
	return !l->failed;
}

/* Keys of the chart's values that are the chart's alone. */
static bool chart_only(const char *key)
{
	static const char *const keys[] = {
		"image",        "hostStatePaths",    "extraArgs", "runAsUser",
		"runAsGroup",   "privileged",        "resources", "tolerations",
		"nodeSelector", "priorityClassName", NULL
	};
	for (size_t i = 0; keys[i]; i++)
		if (!strcmp(keys[i], key))
			return true;
	return false;
}

static bool top_member(struct loader *l, const struct member *m, void *ctx)
{
	(void)ctx;
	static const char *const capture[] = { "tls", "filter", "targets", NULL };
	static const char *const output[] = { "format", "stats", "connections", NULL };
	static const char *const store[] = { "enabled", "path", "size", "maxAge", NULL };
	static const char *const masking[] = { "enabled", "headers", "fields", "patterns", NULL };
	const char *k = m->key, *s;
	if (chart_only(k))
		return true;
	if (!strcmp(k, "capture"))
		return members(l, m->value, "capture", capture, capture_member, NULL);
	if (!strcmp(k, "output"))
		return members(l, m->value, "output", output, output_member, NULL);
	if (!strcmp(k, "store")) {
		struct store_keys sk = { .enabled = -1 };
		if (!members(l, m->value, "store", store, store_member, &sk))
			return false;
		store_options(l, m, &sk);
		return true;
	}
	if (!strcmp(k, "masking"))
		return members(l, m->value, "masking", masking, masking_member, NULL);
	if (!strcmp(k, "kubeApi")) { /* true: --kube-api */
		int t = boolean(l, m->value, k);
		if (t == 1)
			add(l, m->at, "kube-api", NULL);
		return t >= 0;
	}
	if (!strcmp(k, "interfaces"))
		add_list(l, m->value, k, "interface");
	else if (!strcmp(k, "sinks"))
		add_list(l, m->value, k, "sink");
	else if ((s = scalar(l, m->value, k))) {
		/* source, node, runtimeSocket ("": ask no runtime) */
		bool sock = !strcmp(k, "runtimeSocket");
		if (*s || sock)
			add(l, m->value, sock ? "cri-socket" : k, sock && !*s ? "none" : s);
	}
	return !l->failed;
}

static const char *const top_keys[] = {
	"source",     "interfaces",     "capture",     "output",       "runtimeSocket",
	"store",      "masking",        "sinks",       "node",         "kubeApi",
	"image",      "hostStatePaths", "extraArgs",   "runAsUser",    "runAsGroup",
	"privileged", "resources",      "tolerations", "nodeSelector", "priorityClassName",
	NULL,
};

int sonde_config_parse(const uint8_t *text, size_t len, const char *name, struct sonde_config *out,
		       char *why, size_t whylen)
{
	*out = (struct sonde_config){ 0 };
	struct loader l = { .name = name, .out = out, .why = why, .whylen = whylen };
	if (len > SONDE_CONFIG_MAX_BYTES) {
		fail(&l, NULL, "larger than %u bytes", SONDE_CONFIG_MAX_BYTES);
		return -1;
	}
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		abort();
	yaml_parser_set_input_string(&p, text, len);
	if (!yaml_parser_load(&p, &l.doc)) {
		snprintf(why, whylen, "%s:%zu:%zu: %s%s%s", name, p.problem_mark.line + 1,
			 p.problem_mark.column + 1, p.problem ? p.problem : "not YAML",
			 p.context ? " " : "", p.context ? p.context : "");
		yaml_parser_delete(&p);
		return -1;
	}
	const yaml_node_t *root = yaml_document_get_root_node(&l.doc);
	if (root) /* an empty file says nothing */
		members(&l, root, "the file", top_keys, top_member, NULL);
	yaml_document_t next;
	if (!l.failed && !yaml_parser_load(&p, &next))
		fail(&l, NULL, "after the first document: %s", p.problem ? p.problem : "not YAML");
	else if (!l.failed) {
		if (yaml_document_get_root_node(&next))
			fail(&l, yaml_document_get_root_node(&next),
			     "one YAML document, not several");
		yaml_document_delete(&next);
	}
	yaml_document_delete(&l.doc);
	yaml_parser_delete(&p);
	if (l.failed) {
		sonde_config_free(out);
		return -1;
	}
	return 0;
}

int sonde_config_load(const char *path, struct sonde_config *out, char *why, size_t whylen)
{
	*out = (struct sonde_config){ 0 };
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	uint8_t *text = malloc(SONDE_CONFIG_MAX_BYTES + 1);
	if (!text)
		abort();
	size_t n = fread(text, 1, SONDE_CONFIG_MAX_BYTES + 1, f);
	bool err = ferror(f);
	fclose(f);
	int rc = -1;
	if (err)
		snprintf(why, whylen, "%s: cannot read it", path);
	else
		rc = sonde_config_parse(text, n, path, out, why, whylen);
	free(text);
	return rc;
}

void sonde_config_free(struct sonde_config *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->opt[i].name);
		free(c->opt[i].value);
	}
	free(c->opt);
	*c = (struct sonde_config){ 0 };
}
