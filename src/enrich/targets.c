// SPDX-License-Identifier: MIT
#include "enrich/targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_span(const char *p, size_t n)
{
	char *s = strndup(p, n);
	if (!s)
		abort();
	return s;
}

int sonde_ports_parse(const char *s, uint16_t *ports, size_t *n)
{
	*n = 0;
	while (*s) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || v == 0 || v > 65535 || (*end && *end != ',') ||
		    *n == SONDE_TARGET_PORTS)
			return -1;
		ports[(*n)++] = (uint16_t)v;
		s = *end ? end + 1 : end;
	}
	return *n ? 0 : -1;
}

/* Label keys and values: what Kubernetes allows (letters, digits, - _ . /). */
static bool label_chars(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '/'))
			return false;
	}
	return true;
}

static void trim(const char **p, size_t *n)
{
	while (*n && **p == ' ')
		(*p)++, (*n)--;
	while (*n && (*p)[*n - 1] == ' ')
		(*n)--;
}

/* "(a,b,c)" into r->values. */
static int value_set(const char *p, size_t n, struct sonde_label_req *r)
{
	trim(&p, &n);
	if (n < 2 || p[0] != '(' || p[n - 1] != ')')
		return -1;
	p++, n -= 2;
	while (n) {
		const char *comma = memchr(p, ',', n);
		size_t k = comma ? (size_t)(comma - p) : n;
		const char *v = p;
		size_t vlen = k;
		trim(&v, &vlen);
		if (r->nvalues == SONDE_LABEL_VALUES_MAX || !label_chars(v, vlen))
			return -1;
		r->values[r->nvalues++] = dup_span(v, vlen);
		p += k + (comma ? 1 : 0);
		n -= k + (comma ? 1 : 0);
		if (comma && !n)
			return -1; /* "(a,)" */
	}
	return r->nvalues ? 0 : -1;
}

/* A set-based requirement, "key in (a,b)" or "key notin (a,b)": 1 when p is
 * one (parsed into r, or -1 if malformed), 0 when it is not. */
static int set_req(const char *p, size_t n, struct sonde_label_req *r)
{
	const char *sp = memchr(p, ' ', n);
	if (!sp)
		return 0;
	size_t klen = (size_t)(sp - p);
	const char *op = sp;
	size_t rest = n - klen;
	trim(&op, &rest);
	bool notin = rest > 6 && !memcmp(op, "notin", 5) && (op[5] == ' ' || op[5] == '(');
	bool in = rest > 3 && !memcmp(op, "in", 2) && (op[2] == ' ' || op[2] == '(');
	if (!in && !notin)
		return 0;
	size_t oplen = notin ? 5 : 2;
	if (!klen || !label_chars(p, klen))
		return -1;
	r->key = dup_span(p, klen);
	r->negated = notin;
	return value_set(op + oplen, rest - oplen, r) < 0 ? -1 : 1;
}

/* One requirement of a selector: k=v, k==v, k!=v, k, !k, k in (..), k notin (..). */
static int label_req(const char *p, size_t n, struct sonde_label_req *r)
{
	memset(r, 0, sizeof(*r));
	trim(&p, &n);
	int set = set_req(p, n, r);
	if (set)
		return set < 0 ? -1 : 0;
	if (n && p[0] == '!') {
		r->negated = true;
		p++, n--;
		if (!n || !label_chars(p, n))
			return -1;
		r->key = dup_span(p, n);
		return 0;
	}
	const char *eq = memchr(p, '=', n);
	if (!eq) {
		if (!n || !label_chars(p, n))
			return -1;
		r->key = dup_span(p, n);
		return 0;
	}
	size_t klen = (size_t)(eq - p);
	const char *v = eq + 1;
	if (klen && p[klen - 1] == '!')
		r->negated = true, klen--;
	else if (v < p + n && *v == '=')
		v++;
	size_t vlen = (size_t)(p + n - v);
	if (!klen || !label_chars(p, klen) || !label_chars(v, vlen))
		return -1;
	r->key = dup_span(p, klen);
	r->values[0] = dup_span(v, vlen);
	r->nvalues = 1;
	return 0;
}

static void req_free(struct sonde_label_req *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	memset(r, 0, sizeof(*r));
}

/* Requirements separated by commas, but not the commas of an `in (...)`. */
static int selector(const char *s, struct sonde_target_sel *t)
{
	while (*s) {
		size_t n = 0;
		int depth = 0;
		while (s[n] && (s[n] != ',' || depth)) {
			depth += s[n] == '(' ? 1 : s[n] == ')' ? -1 : 0;
			if (depth < 0)
				return -1;
			n++;
		}
		if (t->nreqs == SONDE_TARGET_REQS_MAX)
			return -1;
		if (label_req(s, n, &t->reqs[t->nreqs]) < 0) {
			req_free(&t->reqs[t->nreqs]);
			return -1;
		}
		t->nreqs++;
		s += n + (s[n] == ',' ? 1 : 0);
	}
	return t->nreqs ? 0 : -1;
}

/* process=nginx,envoy: command names as the kernel keeps them. */
static int comms_parse(const char *s, struct sonde_target_sel *t)
{
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		if (!n || n >= SONDE_COMM_LEN || t->ncomms == SONDE_TARGET_COMMS)
			return -1;
		memcpy(t->comms[t->ncomms++], s, n);
		s += n + (comma ? 1 : 0);
	}
	return t->ncomms ? 0 : -1;
}

static void sel_free(struct sonde_target_sel *t)
{
	free(t->namespace);
	free(t->container);
	for (size_t i = 0; i < t->nreqs; i++)
		req_free(&t->reqs[i]);
	memset(t, 0, sizeof(*t));
}

/* One term, KIND=VALUE or "all". */
static int term(const char *p, size_t n, struct sonde_target_sel *t, char *why, size_t whylen)
{
	char *s = dup_span(p, n);
	char *v = strchr(s, '=');
	int rc = 0;
	if (!v) {
		if (strcmp(s, "all"))
			rc = -1;
	} else {
		*v++ = 0;
		if (!strcmp(s, "namespace") && *v && !t->namespace)
			t->namespace = strdup(v), t->workload_terms = true;
		else if (!strcmp(s, "container") && *v && !t->container)
			t->container = strdup(v), t->workload_terms = true;
		else if (!strcmp(s, "pod"))
			rc = selector(v, t), t->workload_terms = true;
		else if (!strcmp(s, "ports"))
			rc = sonde_ports_parse(v, t->ports, &t->nports);
		else if (!strcmp(s, "process"))
			rc = comms_parse(v, t);
		else
			rc = -1;
	}
	if (rc < 0)
		snprintf(why, whylen,
			 "'%s' is not a term: namespace=NAME, pod=SELECTOR (app=web,tier!=db,env "
			 "in (a,b)), "
			 "container=NAME, process=NAME[,NAME...] (at most %d), ports=P[,P...] "
			 "(at most %d) or all",
			 s, SONDE_TARGET_COMMS, SONDE_TARGET_PORTS);
	free(s);
	return rc;
}

int sonde_targets_add(struct sonde_targets *t, const char *arg, char *why, size_t whylen)
{
	if (t->n == SONDE_TARGETS_MAX_SEL) {
		snprintf(why, whylen, "at most %d targets", SONDE_TARGETS_MAX_SEL);
		return -1;
	}
	struct sonde_target_sel *sel = &t->sel[t->n];
	memset(sel, 0, sizeof(*sel));
	const char *s = arg;
	if (!*s) {
		snprintf(why, whylen, "an empty target");
		return -1;
	}
	while (*s) {
		const char *semi = strchr(s, ';');
		size_t n = semi ? (size_t)(semi - s) : strlen(s);
		if (term(s, n, sel, why, whylen) < 0) {
			sel_free(sel);
			return -1;
		}
		s += n + (semi ? 1 : 0);
	}
	t->n++;
	return 0;
}

void sonde_targets_free(struct sonde_targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		sel_free(&t->sel[i]);
	t->n = 0;
}

static const char *kv_get(const struct sonde_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return kv[i].value;
	return NULL;
}

static bool same(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

static bool sel_matches(const struct sonde_target_sel *t, const struct sonde_container_meta *m)
{
	if (!t->workload_terms)
		return true;
	if (!m || !same(t->namespace, m->pod_namespace) || !same(t->container, m->name))
		return false;
	for (size_t i = 0; i < t->nreqs; i++) {
		const struct sonde_label_req *r = &t->reqs[i];
		const char *v = kv_get(m->labels, m->nlabels, r->key);
		bool holds = !r->nvalues && v;
		for (size_t k = 0; k < r->nvalues && v && !holds; k++)
			holds = !strcmp(v, r->values[k]);
		if (holds == r->negated)
			return false;
	}
	return true;
}

/* out ∪= ports (nports 0, every port, absorbs everything). */
static void add_ports(struct sonde_target *out, bool *any, const uint16_t *ports, size_t n)
{
	if (!n) {
		*any = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool have = false;
		for (size_t k = 0; k < out->nports; k++)
			have = have || out->ports[k] == ports[i];
		if (have)
			continue;
		if (out->nports == SONDE_TARGET_PORTS) {
			*any = true; /* more ports than the kernel checks: all of them */
			return;
		}
		out->ports[out->nports++] = ports[i];
	}
}

/* out ∪= comms (ncomms 0, every process, absorbs everything). */
static void add_comms(struct sonde_target *out, bool *any, const struct sonde_target_sel *sel)
{
	if (!sel->ncomms) {
		*any = true;
		return;
	}
	for (size_t i = 0; i < sel->ncomms; i++) {
		uint64_t w[SONDE_COMM_LEN / 8] = { 0 };
		memcpy(w, sel->comms[i], SONDE_COMM_LEN);
		bool have = false;
		for (size_t k = 0; k < out->ncomms; k++)
			have = have || !memcmp(out->comms[k], w, sizeof(w));
		if (have)
			continue;
		if (out->ncomms == SONDE_TARGET_COMMS) {
			*any = true;
			return;
		}
		memcpy(out->comms[out->ncomms++], w, sizeof(w));
	}
}

bool sonde_targets_match(const struct sonde_targets *t, const struct sonde_container_meta *m,
			 struct sonde_target *out)
{
	memset(out, 0, sizeof(*out));
	const char *cap = m ? kv_get(m->annotations, m->nannotations, "sonde.dev/capture") : NULL;
	const char *ports = m ? kv_get(m->annotations, m->nannotations, "sonde.dev/ports") : NULL;
	if (cap && !strcmp(cap, "false"))
		return false;
	bool hit = cap && !strcmp(cap, "true"), any = false, any_comm = hit;
	for (size_t i = 0; i < t->n; i++)
		if (sel_matches(&t->sel[i], m)) {
			hit = true;
			add_ports(out, &any, t->sel[i].ports, t->sel[i].nports);
			add_comms(out, &any_comm, &t->sel[i]);
		}
	if (!hit)
		return false;
	if (any_comm)
		out->ncomms = 0;
	uint16_t p[SONDE_TARGET_PORTS];
	size_t np;
	if (ports && sonde_ports_parse(ports, p, &np) == 0) {
		out->nports = 0; /* the workload's own word wins */
		any = false;
		add_ports(out, &any, p, np);
	} else if (cap && !strcmp(cap, "true") && !out->nports) {
		any = true;
	}
	if (any)
		out->nports = 0;
	return true;
}

bool sonde_targets_match_host(const struct sonde_targets *t, struct sonde_target *out)
{
	memset(out, 0, sizeof(*out));
	bool hit = false, any = false, any_comm = false;
	for (size_t i = 0; i < t->n; i++)
		if (!t->sel[i].workload_terms) {
			hit = true;
			add_ports(out, &any, t->sel[i].ports, t->sel[i].nports);
			add_comms(out, &any_comm, &t->sel[i]);
		}
	if (any)
		out->nports = 0;
	if (any_comm)
		out->ncomms = 0;
	return hit;
}
