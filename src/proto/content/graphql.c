/* SPDX-License-Identifier: MIT */
/*
 * GraphQL over HTTP (see graphql.h): a token scanner over the document, a
 * minimal JSON walker for request bodies ({"query":...,"operationName":...}
 * or an array of them) and response bodies (top-level "errors"). Everything
 * is bounded by the input; nesting is tracked with counters, not recursion,
 * except the JSON skipper (bounded depth).
 */
#include <string.h>
#include <strings.h>

#include "proto/content/graphql.h"

#define JSON_MAX_DEPTH 64

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
				if (p[*i] == '\\' && n - *i >= 4 && !memcmp(p + *i + 1, "\"\"\"", 3)) {
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

/* The top-level selection set (its '{' just read): write field names. */
static void write_fields(struct sonde_buf *o, const uint8_t *p, size_t n, size_t *i)
{
	unsigned nf = 0;
	struct tok prev = { T_OTHER, 0, 0 };
	sonde_buf_puts(o, "\"fields\":[");
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
			if (nf < SONDE_GQL_MAX_FIELDS) {
				if (nf)
					sonde_buf_putc(o, ',');
				sonde_json_str(o, p + t.off, t.len);
			}
			nf++;
		}
		prev = t;
	}
	sonde_buf_putc(o, ']');
	if (nf > SONDE_GQL_MAX_FIELDS)
		sonde_buf_printf(o, ",\"fields_omitted\":%u", nf - SONDE_GQL_MAX_FIELDS);
}

void sonde_graphql_write_doc(struct sonde_buf *o, const uint8_t *p, size_t n)
{
	size_t i = 0;
	unsigned nops = 0;
	sonde_buf_puts(o, "\"operations\":[");
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
			type = tok_is(p, t, "query") ? "query" : tok_is(p, t, "mutation") ? "mutation" : "subscription";
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
			if (nops)
				sonde_buf_putc(o, ',');
			sonde_buf_puts(o, "{\"type\":");
			sonde_json_cstr(o, type);
			sonde_buf_puts(o, ",\"name\":");
			if (name.k == T_NAME)
				sonde_json_str(o, p + name.off, name.len);
			else
				sonde_buf_puts(o, "null");
			sonde_buf_putc(o, ',');
			write_fields(o, p, n, &i);
			sonde_buf_putc(o, '}');
		} else {
			skip_group(p, n, &i, '{', '}');
		}
		nops++;
	}
	sonde_buf_putc(o, ']');
	if (nops > SONDE_GQL_MAX_OPS)
		sonde_buf_printf(o, ",\"operations_omitted\":%u", nops - SONDE_GQL_MAX_OPS);
}

/* ---------------------------------------------------------------- JSON --- */

static void js_ws(const uint8_t *p, size_t n, size_t *i)
{
	while (*i < n && (p[*i] == ' ' || p[*i] == '\t' || p[*i] == '\n' || p[*i] == '\r'))
		(*i)++;
}

static int hexv(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool hex4(const uint8_t *p, size_t n, size_t i, uint32_t *v)
{
	if (n - i < 4)
		return false;
	*v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexv(p[i + (size_t)k]);
		if (h < 0)
			return false;
		*v = *v << 4 | (uint32_t)h;
	}
	return true;
}

static void put_utf8(struct sonde_buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t l;
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		l = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		l = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		l = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		l = 4;
	}
	sonde_buf_append(b, u, l);
}

/* A JSON string at p[*i] ('"'); its decoded bytes into dec (may be NULL). */
static bool js_string(const uint8_t *p, size_t n, size_t *i, struct sonde_buf *dec)
{
	if (*i >= n || p[*i] != '"')
		return false;
	(*i)++;
	while (*i < n) {
		uint8_t c = p[(*i)++];
		if (c == '"')
			return true;
		if (c != '\\') {
			if (dec)
				sonde_buf_append(dec, &c, 1);
			continue;
		}
		if (*i >= n)
			return false;
		c = p[(*i)++];
		uint8_t e;
		switch (c) {
		case 'n': e = '\n'; break;
		case 't': e = '\t'; break;
		case 'r': e = '\r'; break;
		case 'b': e = '\b'; break;
		case 'f': e = '\f'; break;
		case 'u': {
			uint32_t cp, lo;
			if (!hex4(p, n, *i, &cp))
				return false;
			*i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && n - *i >= 6 && p[*i] == '\\' &&
			    p[*i + 1] == 'u' && hex4(p, n, *i + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				*i += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			if (dec)
				put_utf8(dec, cp);
			continue;
		}
		default: e = c; break; /* \" \\ \/ (and anything else, leniently) */
		}
		if (dec)
			sonde_buf_append(dec, &e, 1);
	}
	return false;
}

/* Skip one JSON value (bounded nesting). */
static bool js_skip(const uint8_t *p, size_t n, size_t *i, unsigned depth)
{
	js_ws(p, n, i);
	if (*i >= n || depth > JSON_MAX_DEPTH)
		return false;
	uint8_t c = p[*i];
	if (c == '"')
		return js_string(p, n, i, NULL);
	if (c == '{' || c == '[') {
		uint8_t close = c == '{' ? '}' : ']';
		(*i)++;
		js_ws(p, n, i);
		if (*i < n && p[*i] == close) {
			(*i)++;
			return true;
		}
		for (;;) {
			if (c == '{') {
				js_ws(p, n, i);
				if (!js_string(p, n, i, NULL))
					return false;
				js_ws(p, n, i);
				if (*i >= n || p[(*i)++] != ':')
					return false;
			}
			if (!js_skip(p, n, i, depth + 1))
				return false;
			js_ws(p, n, i);
			if (*i >= n)
				return false;
			if (p[*i] == ',') {
				(*i)++;
				continue;
			}
			if (p[*i] == close) {
				(*i)++;
				return true;
			}
			return false;
		}
	}
	/* number, true, false, null */
	size_t s = *i;
	while (*i < n && (name_char(p[*i]) || p[*i] == '-' || p[*i] == '+' || p[*i] == '.'))
		(*i)++;
	return *i > s;
}

struct gql_req {
	struct sonde_buf query, opname;
	bool has_query, has_opname, has_vars;
};

/* One request object at p[*i]: its "query", "operationName", "variables". */
static bool js_request(const uint8_t *p, size_t n, size_t *i, struct gql_req *r)
{
	js_ws(p, n, i);
	if (*i >= n || p[*i] != '{')
		return false;
	(*i)++;
	js_ws(p, n, i);
	if (*i < n && p[*i] == '}') {
		(*i)++;
		return true;
	}
	struct sonde_buf key = { 0 };
	bool ok = false;
	for (;;) {
		sonde_buf_reset(&key);
		js_ws(p, n, i);
		if (!js_string(p, n, i, &key))
			break;
		js_ws(p, n, i);
		if (*i >= n || p[(*i)++] != ':')
			break;
		js_ws(p, n, i);
		bool isq = key.len == 5 && !memcmp(key.p, "query", 5);
		bool ison = key.len == 13 && !memcmp(key.p, "operationName", 13);
		if (key.len == 9 && !memcmp(key.p, "variables", 9))
			r->has_vars = true;
		if ((isq || ison) && *i < n && p[*i] == '"') {
			struct sonde_buf *dst = isq ? &r->query : &r->opname;
			sonde_buf_reset(dst);
			if (!js_string(p, n, i, dst))
				break;
			if (isq)
				r->has_query = true;
			else
				r->has_opname = true;
		} else if (!js_skip(p, n, i, 1)) {
			break;
		}
		js_ws(p, n, i);
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

static void write_req(struct sonde_buf *o, const struct gql_req *r)
{
	static const uint8_t none[1];
	sonde_buf_putc(o, '{');
	if (r->has_opname) {
		sonde_buf_puts(o, "\"operation_name\":");
		sonde_json_str(o, r->opname.p ? r->opname.p : none, r->opname.len);
		sonde_buf_putc(o, ',');
	}
	if (r->has_vars)
		sonde_buf_puts(o, "\"variables\":true,");
	sonde_graphql_write_doc(o, r->query.p ? r->query.p : none, r->query.len);
	sonde_buf_putc(o, '}');
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
		int a, d;
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < n && (a = hexv(p[i + 1])) >= 0 && (d = hexv(p[i + 2])) >= 0) {
			c = (uint8_t)(a << 4 | d);
			i += 2;
		}
		sonde_buf_append(b, &c, 1);
	}
}

/* The value of parameter `key` of a target's query string, decoded. */
static bool query_param(const uint8_t *t, size_t n, const char *key, struct sonde_buf *out)
{
	const uint8_t *q = memchr(t, '?', n);
	if (!q)
		return false;
	size_t i = (size_t)(q - t) + 1, kl = strlen(key);
	while (i < n) {
		size_t e = i;
		while (e < n && t[e] != '&' && t[e] != '#')
			e++;
		if (e - i > kl && !memcmp(t + i, key, kl) && t[i + kl] == '=') {
			pct_decode(out, t + i + kl + 1, e - i - kl - 1);
			return true;
		}
		if (e < n && t[e] == '#')
			break;
		i = e + 1;
	}
	return false;
}

bool sonde_graphql_request(struct sonde_buf *o, const uint8_t *method, size_t mlen,
			   const uint8_t *target, size_t tlen, const uint8_t *ct, size_t ctlen,
			   const uint8_t *body, size_t blen)
{
	static const uint8_t none[1];
	if (!body)
		body = none, blen = 0;
	bool get = mlen == 3 && !memcmp(method, "GET", 3);
	bool post = mlen == 4 && !memcmp(method, "POST", 4);
	struct gql_req r;
	memset(&r, 0, sizeof(r));
	bool found = false;
	if (get && target) {
		if (query_param(target, tlen, "query", &r.query)) {
			r.has_query = true;
			r.has_opname = query_param(target, tlen, "operationName", &r.opname);
			struct sonde_buf v = { 0 };
			r.has_vars = query_param(target, tlen, "variables", &v);
			sonde_buf_free(&v);
			sonde_buf_puts(o, ",\"graphql\":{\"transport\":\"get\",\"requests\":[");
			write_req(o, &r);
			sonde_buf_puts(o, "]}");
			found = true;
		}
	} else if (post && ct_is(ct, ctlen, "application/graphql")) {
		r.has_query = true;
		sonde_buf_append(&r.query, body, blen);
		sonde_buf_puts(o, ",\"graphql\":{\"transport\":\"graphql\",\"requests\":[");
		write_req(o, &r);
		sonde_buf_puts(o, "]}");
		found = true;
	} else if (post && (ct_is(ct, ctlen, "application/json") ||
			    ct_is(ct, ctlen, "application/graphql+json"))) {
		size_t i = 0;
		js_ws(body, blen, &i);
		bool batch = i < blen && body[i] == '[';
		struct sonde_buf tmp = { 0 };
		unsigned nreq = 0;
		bool ok = true;
		if (batch) {
			i++;
			js_ws(body, blen, &i);
			if (i < blen && body[i] == ']')
				ok = false;
			while (ok) {
				memset(&r, 0, sizeof(r));
				ok = js_request(body, blen, &i, &r) && r.has_query;
				if (ok && nreq++ < SONDE_GQL_MAX_OPS) {
					if (nreq > 1)
						sonde_buf_putc(&tmp, ',');
					write_req(&tmp, &r);
				}
				sonde_buf_free(&r.query);
				sonde_buf_free(&r.opname);
				js_ws(body, blen, &i);
				if (ok && i < blen && body[i] == ',') {
					i++;
					continue;
				}
				ok = ok && i < blen && body[i] == ']';
				break;
			}
		} else {
			ok = js_request(body, blen, &i, &r) && r.has_query;
			if (ok) {
				write_req(&tmp, &r);
				nreq = 1;
			}
		}
		if (ok && nreq) {
			sonde_buf_printf(o, ",\"graphql\":{\"transport\":\"json\",\"batch\":%s,\"requests\":[",
					 batch ? "true" : "false");
			sonde_buf_append(o, tmp.p, tmp.len);
			sonde_buf_putc(o, ']');
			if (nreq > SONDE_GQL_MAX_OPS)
				sonde_buf_printf(o, ",\"requests_omitted\":%u", nreq - SONDE_GQL_MAX_OPS);
			sonde_buf_putc(o, '}');
			found = true;
		}
		sonde_buf_free(&tmp);
	}
	sonde_buf_free(&r.query);
	sonde_buf_free(&r.opname);
	return found;
}

bool sonde_graphql_has_errors(const uint8_t *p, size_t n)
{
	size_t i = 0;
	js_ws(p, n, &i);
	if (i >= n || p[i] != '{')
		return false;
	i++;
	struct sonde_buf key = { 0 };
	bool found = false;
	for (;;) {
		sonde_buf_reset(&key);
		js_ws(p, n, &i);
		if (!js_string(p, n, &i, &key))
			break;
		js_ws(p, n, &i);
		if (i >= n || p[i++] != ':')
			break;
		js_ws(p, n, &i);
		if (key.len == 6 && !memcmp(key.p, "errors", 6) && i < n && p[i] == '[') {
			size_t j = i + 1;
			js_ws(p, n, &j);
			found = j < n && p[j] != ']';
			break;
		}
		if (!js_skip(p, n, &i, 1))
			break;
		js_ws(p, n, &i);
		if (i >= n || p[i] != ',')
			break;
		i++;
	}
	sonde_buf_free(&key);
	return found;
}
