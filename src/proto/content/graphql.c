/* SPDX-License-Identifier: MIT */
/*
 * GraphQL over HTTP (see graphql.h): a token scanner over the document, and
 * over the JSON walker (json_scan.h) the request bodies' members
 * ({"query":...,"operationName":...} or an array of them) and response
 * bodies' top-level "errors". Everything is bounded by the input; nesting is
 * tracked with counters, not recursion. A request is parsed once, when it is
 * complete; its fields are walked from the parse.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hex.h"
#include "proto/content/content.h"
#include "proto/content/graphql.h"
#include "proto/content/json_scan.h"

/* ------------------------------------------------------------ document --- */

enum tok_kind { T_END, T_NAME, T_PUNCT, T_STRING, T_SPREAD, T_OTHER };

struct tok {
	enum tok_kind k;
	size_t off, len;
};

static bool name_start(uint8_t c)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool name_char(uint8_t c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static struct tok next_tok(const uint8_t *p, size_t n, size_t *i)
{
	struct tok t = { T_END, 0, 0 };
	while (*i < n) {
		uint8_t c = p[*i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
			(*i)++;
		} else if (c == '#') {
			while (*i < n && p[*i] != '\n' && p[*i] != '\r')
				(*i)++;
		} else if (c == 0xef && n - *i >= 3 && p[*i + 1] == 0xbb && p[*i + 2] == 0xbf) {
			*i += 3; /* BOM */
		} else {
			break;
		}
	}
	if (*i >= n)
		return t;
	t.off = *i;
	uint8_t c = p[*i];
	if (name_start(c)) {
		while (*i < n && name_char(p[*i]))
			(*i)++;
		t.k = T_NAME;
	} else if (c == '"') {
		t.k = T_STRING;
		if (n - *i >= 3 && p[*i + 1] == '"' && p[*i + 2] == '"') {
			*i += 3; /* block string: ends at an unescaped """ */
			while (*i < n) {
				if (p[*i] == '\\' && n - *i >= 4 &&
				    !memcmp(p + *i + 1, "\"\"\"", 3)) {
					*i += 4;
				} else if (n - *i >= 3 && !memcmp(p + *i, "\"\"\"", 3)) {
					*i += 3;
					break;
				} else {
					(*i)++;
				}
			}
		} else {
			(*i)++;
			while (*i < n && p[*i] != '"' && p[*i] != '\n') {
				if (p[*i] == '\\' && *i + 1 < n)
					(*i)++;
				(*i)++;
			}
			if (*i < n)
				(*i)++;
		}
	} else if (c == '.' && n - *i >= 3 && p[*i + 1] == '.' && p[*i + 2] == '.') {
		*i += 3;
		t.k = T_SPREAD;
	} else if (strchr("{}()[]:=@$!|&", c)) {
		(*i)++;
		t.k = T_PUNCT;
	} else {
		(*i)++; /* numbers, stray bytes: one at a time */
		t.k = T_OTHER;
	}
	t.len = *i - t.off;
	return t;
}

static bool tok_is(const uint8_t *p, struct tok t, const char *s)
{
	size_t l = strlen(s);
	return t.len == l && !memcmp(p + t.off, s, l);
}

/* Skip to the matching close of the open bracket just read ('(' or '{'). */
static void skip_group(const uint8_t *p, size_t n, size_t *i, char open, char close)
{
	unsigned depth = 1;
	while (depth) {
		struct tok t = next_tok(p, n, i);
		if (t.k == T_END)
			return;
		if (t.k == T_PUNCT && p[t.off] == open)
			depth++;
		else if (t.k == T_PUNCT && p[t.off] == close)
			depth--;
	}
}

/* The parse: requests, their operations, the operations' field names. */
struct gql_span {
	uint32_t off, len; /* into the request's query */
};

struct gql_op {
	const char *type;
	bool named;
	struct gql_span name;
	uint32_t field0, nfields; /* kept, in g->fields */
	uint32_t fields_total;
};

struct gql_req {
	struct sonde_buf query, opname;
	bool has_query, has_opname, has_vars;
	uint32_t op0, nops; /* kept, in g->ops */
	uint32_t ops_total;
};

struct sonde_graphql {
	bool response, errors; /* a response: its "errors" */
	const char *transport; /* "get", "graphql", "json" */
	bool batch;
	struct gql_req reqs[SONDE_GQL_MAX_OPS]; /* kept */
	uint32_t nreqs, reqs_total;
	struct gql_op *ops;
	uint32_t nops, ops_cap;
	struct gql_span *fields;
	uint32_t nfields, fields_cap;
};

static void add_field_name(struct sonde_graphql *g, struct tok t)
{
	if (g->nfields == g->fields_cap) {
		g->fields_cap = g->fields_cap ? g->fields_cap * 2 : 16;
		g->fields = sonde_xrealloc(g->fields, g->fields_cap * sizeof(*g->fields));
	}
	g->fields[g->nfields++] = (struct gql_span){ (uint32_t)t.off, (uint32_t)t.len };
}

/* The top-level selection set (its '{' just read): its field names. */
static void scan_fields(struct sonde_graphql *g, struct gql_op *op, const uint8_t *p, size_t n,
			size_t *i)
{
	unsigned nf = 0;
	struct tok prev = { T_OTHER, 0, 0 };
	op->field0 = g->nfields;
	for (;;) {
		struct tok t = next_tok(p, n, i);
		if (t.k == T_END || (t.k == T_PUNCT && p[t.off] == '}'))
			break;
		if (t.k == T_PUNCT && p[t.off] == '(') {
			skip_group(p, n, i, '(', ')');
		} else if (t.k == T_PUNCT && p[t.off] == '{') {
			skip_group(p, n, i, '{', '}');
		} else if (t.k == T_SPREAD) {
			/* ...Fragment or ... on Type { } or ... @dir { }: not fields */
			size_t save = *i;
			struct tok u = next_tok(p, n, i);
			if (u.k == T_NAME && tok_is(p, u, "on"))
				next_tok(p, n, i); /* the type */
			else if (u.k != T_NAME)
				*i = save;
			prev = u;
			prev.k = T_SPREAD;
			continue;
		} else if (t.k == T_NAME && !(prev.k == T_PUNCT && p[prev.off] == '@') &&
			   prev.k != T_SPREAD) {
			/* an alias "a: f" names the field f: look ahead for ':' */
			size_t save = *i;
			struct tok u = next_tok(p, n, i);
			if (u.k == T_PUNCT && p[u.off] == ':') {
				struct tok f = next_tok(p, n, i);
				if (f.k == T_NAME)
					t = f;
				else
					*i = save;
			} else {
				*i = save;
			}
			if (nf < SONDE_GQL_MAX_FIELDS)
				add_field_name(g, t);
			nf++;
		}
		prev = t;
	}
	op->nfields = g->nfields - op->field0;
	op->fields_total = nf;
}

/* Scan request r's query: its operations into g. */
static void scan_doc(struct sonde_graphql *g, struct gql_req *r)
{
	static const uint8_t none[1];
	const uint8_t *p = r->query.p ? r->query.p : none;
	size_t n = r->query.len, i = 0;
	unsigned nops = 0;
	r->op0 = g->nops;
	for (;;) {
		struct tok t = next_tok(p, n, &i);
		if (t.k == T_END)
			break;
		const char *type = NULL;
		struct tok name = { T_END, 0, 0 };
		if (t.k == T_PUNCT && p[t.off] == '{') {
			type = "query";
		} else if (t.k == T_NAME && (tok_is(p, t, "query") || tok_is(p, t, "mutation") ||
					     tok_is(p, t, "subscription"))) {
			type = tok_is(p, t, "query")      ? "query"
			       : tok_is(p, t, "mutation") ? "mutation"
							  : "subscription";
			/* name, variables, directives, then the selection set */
			size_t save = i;
			name = next_tok(p, n, &i);
			if (name.k != T_NAME) {
				name.k = T_END;
				i = save;
			}
			for (;;) {
				struct tok u = next_tok(p, n, &i);
				if (u.k == T_END)
					break;
				if (u.k == T_PUNCT && p[u.off] == '(')
					skip_group(p, n, &i, '(', ')');
				else if (u.k == T_PUNCT && p[u.off] == '{')
					break;
			}
		} else if (t.k == T_NAME && tok_is(p, t, "fragment")) {
			for (;;) {
				struct tok u = next_tok(p, n, &i);
				if (u.k == T_END)
					break;
				if (u.k == T_PUNCT && p[u.off] == '{') {
					skip_group(p, n, &i, '{', '}');
					break;
				}
			}
			continue;
		} else {
			continue; /* not executable: skip the token */
		}
		if (nops < SONDE_GQL_MAX_OPS) {
			if (g->nops == g->ops_cap) {
				g->ops_cap = g->ops_cap ? g->ops_cap * 2 : 4;
				g->ops = sonde_xrealloc(g->ops, g->ops_cap * sizeof(*g->ops));
			}
			struct gql_op *op = &g->ops[g->nops++];
			memset(op, 0, sizeof(*op));
			op->type = type;
			op->named = name.k == T_NAME;
			op->name = (struct gql_span){ (uint32_t)name.off, (uint32_t)name.len };
			scan_fields(g, op, p, n, &i);
		} else {
			skip_group(p, n, &i, '{', '}');
		}
		nops++;
	}
	r->nops = g->nops - r->op0;
	r->ops_total = nops;
}

/* "operations":[{"type":...,"name":...,"fields":[...]},...] of request r. */
static void doc_fields(const struct sonde_graphql *g, const struct gql_req *r,
		       const struct sonde_field_ops *v, void *ctx)
{
	static const uint8_t none[1];
	const uint8_t *p = r->query.p ? r->query.p : none;
	v->begin(ctx, "operations", SONDE_FG_LIST);
	for (uint32_t k = 0; k < r->nops; k++) {
		const struct gql_op *op = &g->ops[r->op0 + k];
		v->begin(ctx, NULL, SONDE_FG_OBJECT);
		sonde_field_cstr(v, ctx, "type", op->type);
		if (op->named)
			v->str(ctx, "name", p + op->name.off, op->name.len);
		else
			v->null(ctx, "name");
		v->begin(ctx, "fields", SONDE_FG_LIST);
		for (uint32_t f = 0; f < op->nfields; f++) {
			const struct gql_span *sp = &g->fields[op->field0 + f];
			v->str(ctx, NULL, p + sp->off, sp->len);
		}
		v->end(ctx, SONDE_FG_LIST);
		if (op->fields_total > SONDE_GQL_MAX_FIELDS)
			v->u64(ctx, "fields_omitted", op->fields_total - SONDE_GQL_MAX_FIELDS);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	v->end(ctx, SONDE_FG_LIST);
	if (r->ops_total > SONDE_GQL_MAX_OPS)
		v->u64(ctx, "operations_omitted", r->ops_total - SONDE_GQL_MAX_OPS);
}

/* ---------------------------------------------------------------- JSON --- */

/* One request object at p[*i]: its "query", "operationName", "variables". */
static bool js_request(const uint8_t *p, size_t n, size_t *i, struct gql_req *r)
{
	sonde_js_ws(p, n, i);
	if (*i >= n || p[*i] != '{')
		return false;
	(*i)++;
	sonde_js_ws(p, n, i);
	if (*i < n && p[*i] == '}') {
		(*i)++;
		return true;
	}
	struct sonde_buf key = { 0 };
	bool ok = false;
	for (;;) {
		sonde_buf_reset(&key);
		sonde_js_ws(p, n, i);
		if (!sonde_js_string(p, n, i, &key))
			break;
		sonde_js_ws(p, n, i);
		if (*i >= n || p[(*i)++] != ':')
			break;
		sonde_js_ws(p, n, i);
		bool isq = key.len == 5 && !memcmp(key.p, "query", 5);
		bool ison = key.len == 13 && !memcmp(key.p, "operationName", 13);
		if (key.len == 9 && !memcmp(key.p, "variables", 9))
			r->has_vars = true;
		if ((isq || ison) && *i < n && p[*i] == '"') {
			struct sonde_buf *dst = isq ? &r->query : &r->opname;
			sonde_buf_reset(dst);
			if (!sonde_js_string(p, n, i, dst))
				break;
			if (isq)
				r->has_query = true;
			else
				r->has_opname = true;
		} else if (!sonde_js_skip(p, n, i, 1)) {
			break;
		}
		sonde_js_ws(p, n, i);
		if (*i < n && p[*i] == ',') {
			(*i)++;
			continue;
		}
		if (*i < n && p[*i] == '}') {
			(*i)++;
			ok = true;
		}
		break;
	}
	sonde_buf_free(&key);
	return ok;
}

static void req_fields(const struct sonde_graphql *g, const struct gql_req *r,
		       const struct sonde_field_ops *v, void *ctx)
{
	static const uint8_t none[1];
	v->begin(ctx, NULL, SONDE_FG_OBJECT);
	if (r->has_opname)
		v->str(ctx, "operation_name", r->opname.p ? r->opname.p : none, r->opname.len);
	if (r->has_vars)
		v->boolean(ctx, "variables", true);
	doc_fields(g, r, v, ctx);
	v->end(ctx, SONDE_FG_OBJECT);
}

/* ------------------------------------------------------------- requests --- */

static bool ct_is(const uint8_t *ct, size_t n, const char *want)
{
	size_t l = strlen(want);
	if (!ct || n < l || strncasecmp((const char *)ct, want, l))
		return false;
	return n == l || ct[l] == ';' || ct[l] == ' ' || ct[l] == '\t';
}

static void pct_decode(struct sonde_buf *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		int v;
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < n && (v = sonde_hexbyte(p[i + 1], p[i + 2])) >= 0) {
			c = (uint8_t)v;
			i += 2;
		}
		sonde_buf_append(b, &c, 1);
	}
}

/* The value of parameter `key` of a target's query string, decoded (out
 * NULL: only whether there is one). */
static bool query_param(const uint8_t *t, size_t n, const char *key, struct sonde_buf *out)
{
	const uint8_t *q = memchr(t, '?', n);
	if (!q)
		return false;
	size_t i = (size_t)(q - t) + 1, kl = strlen(key);
	/* the query string ends at the fragment; its parameters are found
	 * with memchr (ad and tracking targets are long) */
	const uint8_t *hash = memchr(t + i, '#', n - i);
	size_t lim = hash ? (size_t)(hash - t) : n;
	while (i < lim) {
		const uint8_t *amp = memchr(t + i, '&', lim - i);
		size_t e = amp ? (size_t)(amp - t) : lim;
		if (e - i > kl && !memcmp(t + i, key, kl) && t[i + kl] == '=') {
			if (out)
				pct_decode(out, t + i + kl + 1, e - i - kl - 1);
			return true;
		}
		i = e + 1;
	}
	return false;
}

/* Keep request r (its buffers move into g) and scan its document. */
static void keep_req(struct sonde_graphql *g, struct gql_req *r)
{
	struct gql_req *k = &g->reqs[g->nreqs++];
	*k = *r;
	memset(r, 0, sizeof(*r));
	scan_doc(g, k);
}

static void free_req(struct gql_req *r)
{
	sonde_buf_free(&r->query);
	sonde_buf_free(&r->opname);
}

void sonde_graphql_free(struct sonde_graphql *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; i < g->nreqs; i++)
		free_req(&g->reqs[i]);
	free(g->ops);
	free(g->fields);
	free(g);
}

/* A POST application/json body: one request object or a batch of them. */
static bool parse_json_body(struct sonde_graphql *g, const uint8_t *body, size_t blen)
{
	struct gql_req r;
	size_t i = 0;
	sonde_js_ws(body, blen, &i);
	g->batch = i < blen && body[i] == '[';
	if (!g->batch) {
		memset(&r, 0, sizeof(r));
		bool ok = js_request(body, blen, &i, &r) && r.has_query;
		if (ok) {
			keep_req(g, &r);
			g->reqs_total = 1;
		}
		free_req(&r);
		return ok;
	}
	i++;
	sonde_js_ws(body, blen, &i);
	if (i < blen && body[i] == ']')
		return false;
	for (;;) {
		memset(&r, 0, sizeof(r));
		bool ok = js_request(body, blen, &i, &r) && r.has_query;
		if (ok && g->reqs_total++ < SONDE_GQL_MAX_OPS)
			keep_req(g, &r);
		free_req(&r);
		sonde_js_ws(body, blen, &i);
		if (ok && i < blen && body[i] == ',') {
			i++;
			continue;
		}
		return ok && i < blen && body[i] == ']' && g->reqs_total;
	}
}

struct sonde_graphql *sonde_graphql_parse_request(const uint8_t *method, size_t mlen,
						  const uint8_t *target, size_t tlen,
						  const uint8_t *ct, size_t ctlen,
						  const uint8_t *body, size_t blen)
{
	static const uint8_t none[1];
	if (!body)
		body = none, blen = 0;
	bool get = mlen == 3 && !memcmp(method, "GET", 3);
	bool post = mlen == 4 && !memcmp(method, "POST", 4);
	bool gql_ct = ct_is(ct, ctlen, "application/graphql");
	bool json_ct = ct_is(ct, ctlen, "application/json") ||
		       ct_is(ct, ctlen, "application/graphql+json");
	/* Most requests are not GraphQL: told before anything is allocated. */
	if (!(get && target && query_param(target, tlen, "query", NULL)) &&
	    !(post && (gql_ct || json_ct)))
		return NULL;
	struct sonde_graphql *g = sonde_xcalloc(1, sizeof(*g));
	struct gql_req r;
	memset(&r, 0, sizeof(r));
	bool found = false;
	if (get && target) {
		if (query_param(target, tlen, "query", &r.query)) {
			r.has_query = true;
			r.has_opname = query_param(target, tlen, "operationName", &r.opname);
			struct sonde_buf vars = { 0 };
			r.has_vars = query_param(target, tlen, "variables", &vars);
			sonde_buf_free(&vars);
			g->transport = "get";
			keep_req(g, &r);
			found = true;
		}
	} else if (post && gql_ct) {
		r.has_query = true;
		sonde_buf_append(&r.query, body, blen);
		g->transport = "graphql";
		keep_req(g, &r);
		found = true;
	} else if (post && json_ct) {
		g->transport = "json";
		found = parse_json_body(g, body, blen);
	}
	free_req(&r);
	if (!found) {
		sonde_graphql_free(g);
		return NULL;
	}
	return g;
}

struct sonde_graphql *sonde_graphql_parse_doc(const uint8_t *doc, size_t n)
{
	struct sonde_graphql *g = sonde_xcalloc(1, sizeof(*g));
	struct gql_req r;
	memset(&r, 0, sizeof(r));
	r.has_query = true;
	sonde_buf_append(&r.query, doc, n);
	keep_req(g, &r);
	return g;
}

struct sonde_graphql *sonde_graphql_parse_response(int status, const uint8_t *body, size_t n)
{
	struct sonde_graphql *g = sonde_xcalloc(1, sizeof(*g));
	g->response = true;
	g->errors = status == 200 && body && sonde_graphql_has_errors(body, n);
	return g;
}

void sonde_graphql_fields(const struct sonde_graphql *g, const struct sonde_field_ops *v, void *ctx)
{
	v->begin(ctx, "graphql", SONDE_FG_OBJECT);
	if (g->response) {
		v->boolean(ctx, "errors", g->errors);
		v->end(ctx, SONDE_FG_OBJECT);
		return;
	}
	sonde_field_cstr(v, ctx, "transport", g->transport);
	bool json = !strcmp(g->transport, "json");
	if (json)
		v->boolean(ctx, "batch", g->batch);
	v->begin(ctx, "requests", SONDE_FG_LIST);
	for (uint32_t i = 0; i < g->nreqs; i++)
		req_fields(g, &g->reqs[i], v, ctx);
	v->end(ctx, SONDE_FG_LIST);
	if (json && g->reqs_total > SONDE_GQL_MAX_OPS)
		v->u64(ctx, "requests_omitted", g->reqs_total - SONDE_GQL_MAX_OPS);
	v->end(ctx, SONDE_FG_OBJECT);
}

void sonde_graphql_doc_fields(const struct sonde_graphql *g, const struct sonde_field_ops *v,
			      void *ctx)
{
	if (g->nreqs)
		doc_fields(g, &g->reqs[0], v, ctx);
}

bool sonde_graphql_has_errors(const uint8_t *p, size_t n)
{
	size_t i = 0;
	sonde_js_ws(p, n, &i);
	if (i >= n || p[i] != '{')
		return false;
	i++;
	struct sonde_buf key = { 0 };
	bool found = false;
	for (;;) {
		sonde_buf_reset(&key);
		sonde_js_ws(p, n, &i);
		if (!sonde_js_string(p, n, &i, &key))
			break;
		sonde_js_ws(p, n, &i);
		if (i >= n || p[i++] != ':')
			break;
		sonde_js_ws(p, n, &i);
		if (key.len == 6 && !memcmp(key.p, "errors", 6) && i < n && p[i] == '[') {
			size_t j = i + 1;
			sonde_js_ws(p, n, &j);
			found = j < n && p[j] != ']';
			break;
		}
		if (!sonde_js_skip(p, n, &i, 1))
			break;
		sonde_js_ws(p, n, &i);
		if (i >= n || p[i] != ',')
			break;
		i++;
	}
	sonde_buf_free(&key);
	return found;
}

/* ------------------------------------------------------ content dissector --- */

static void *gql_match_request(const struct sonde_http_msg *m)
{
	if (!m->method.set || !m->path.set)
		return NULL;
	size_t ctlen;
	const uint8_t *ct = sonde_http_header(m, "content-type", &ctlen);
	return sonde_graphql_parse_request(sonde_http_txt(m, m->method.off), m->method.len,
					   sonde_http_txt(m, m->path.off), m->path.len, ct, ctlen,
					   m->body.p, m->body.len);
}

/* A request keeps its parse; the response to one notes its errors. */
static void *gql_finish(struct sonde_http_msg *m, void *st, const struct sonde_content_ctx *c)
{
	(void)c;
	if (!m->response)
		return st;
	sonde_graphql_free(st);
	return sonde_graphql_parse_response(m->status, m->body.p, m->body.len);
}

static void gql_fields(const struct sonde_http_msg *m, const void *st,
		       const struct sonde_field_ops *v, void *ctx)
{
	(void)m;
	sonde_graphql_fields(st, v, ctx);
}

static void gql_free(void *st)
{
	sonde_graphql_free(st);
}

const struct sonde_content_dissector sonde_content_graphql = {
	.name = "graphql",
	.versions = SONDE_CONTENT_VER(SONDE_HTTP_1) | SONDE_CONTENT_VER(SONDE_HTTP_2),
	.match_request = gql_match_request,
	.finish = gql_finish,
	.fields = gql_fields,
	.free = gql_free,
};
