/* SPDX-License-Identifier: MIT */
/*
 * The filter's fields: a path as written (names, ["key"], [N]), resolved
 * through the aliases docs/filter.md lists, deduplicated, and typed from
 * the schema (filter_schema.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/filter_parser.h"

/* ------------------------------------------------------------- aliases --- */

/* An alias replaces the steps it names with its target's (one path, or
 * one per connection end). docs/filter.md lists them. */
struct alias {
	const char *name;
	const char *target[2];
	enum fq_type type; /* FQ_ANY: the target's own */
	double lit_unit_ns; /* numbers compared with it are in this unit */
};

static const struct alias aliases[] = {
	{ "latency_ms", { "latency_us.last_byte" }, FQ_NUM, 1e6 },
	{ "latency", { "latency_us.last_byte" }, FQ_DUR, 0 },
	{ "ttfb_ms", { "latency_us.first_byte" }, FQ_NUM, 1e6 },
	{ "grpc.service", { "request.grpc.service" }, FQ_ANY, 0 },
	{ "grpc.method", { "request.grpc.method" }, FQ_ANY, 0 },
	{ "grpc.status", { "response.grpc.status" }, FQ_ANY, 0 },
	{ "redis.command", { "request.command" }, FQ_ANY, 0 },
	{ "http.method", { "request.method" }, FQ_ANY, 0 },
	{ "http.target", { "request.target" }, FQ_ANY, 0 },
	{ "http.host", { "request.authority" }, FQ_ANY, 0 },
	{ "http.status", { "response.status" }, FQ_ANY, 0 },
	{ "dns.name", { "request.questions.name" }, FQ_ANY, 0 },
	{ "dns.rcode", { "response.rcode" }, FQ_ANY, 0 },
	{ "pod", { "conn.client.pod", "conn.server.pod" }, FQ_ANY, 0 },
	{ "container", { "conn.client.container", "conn.server.container" }, FQ_ANY, 0 },
	{ "server", { "conn.server" }, FQ_ANY, 0 },
	{ "client", { "conn.client" }, FQ_ANY, 0 },
};

/* How many leading steps of `raw` the alias's name covers (0: none). */
static size_t alias_covers(const struct alias *a, const struct fq_path *raw)
{
	size_t i = 0;
	for (const char *c = a->name; *c; i++) {
		size_t n = strcspn(c, ".");
		if (i >= raw->nsteps || raw->step[i].kind != FQ_STEP_NAME || raw->step[i].n != n ||
		    memcmp(raw->step[i].s, c, n))
			return 0;
		c += n + (c[n] == '.');
	}
	return i;
}

static bool expand(struct fq_path *out, const char *target, const struct fq_path *raw, size_t skip)
{
	out->nsteps = 0;
	out->atoms = 0;
	for (const char *c = target; *c;) {
		size_t n = strcspn(c, ".");
		out->step[out->nsteps++] = (struct fq_step){ FQ_STEP_NAME, 0, c, n };
		c += n + (c[n] == '.');
	}
	for (size_t i = skip; i < raw->nsteps; i++) {
		if (out->nsteps == FQ_MAX_STEPS)
			return false;
		out->step[out->nsteps++] = raw->step[i];
	}
	return true;
}

/* ---------------------------------------------------------------- paths --- */

static bool same_path(const struct fq_path *a, const struct fq_path *b)
{
	if (a->nsteps != b->nsteps)
		return false;
	for (size_t i = 0; i < a->nsteps; i++) {
		const struct fq_step *x = &a->step[i], *y = &b->step[i];
		if (x->kind != y->kind || x->index != y->index || x->n != y->n ||
		    (x->n && memcmp(x->s, y->s, x->n)))
			return false;
	}
	return true;
}

static int intern_path(struct fq_parser *p, const struct fq_path *np, size_t col)
{
	struct sonde_filter *f = p->f;
	for (size_t i = 0; i < f->npaths; i++)
		if (same_path(&f->path[i], np))
			return (int)i;
	if (f->npaths == FQ_MAX_PATHS)
		return fq_fail(p, col, "too many different fields (32 at most)%s", NULL);
	f->path[f->npaths] = *np;
	if (np->step[0].kind == FQ_STEP_NAME) {
		int top = fq_schema_top(np->step[0].s, np->step[0].n);
		if (top >= 0)
			f->top_mask |= 1u << top;
	}
	return (int)f->npaths++;
}

/* ident ( . ident | [ "key" ] | [ N ] )*, stopping before `.method(`. */
static int parse_raw_path(struct fq_parser *p, struct fq_path *raw)
{
	raw->nsteps = 0;
	raw->atoms = 0;
	for (;;) {
		if (p->tok.kind != FQ_T_IDENT)
			return fq_fail(p, p->tok.col, "a field name was expected here%s", NULL);
		if (raw->nsteps == FQ_MAX_STEPS)
			return fq_fail(p, p->tok.col, "too long a field path (15 steps at most)%s",
				       NULL);
		/* names are copied: the expression is the caller's */
		char *name = p->f->text + p->f->text_used;
		memcpy(name, p->tok.p, p->tok.n);
		name[p->tok.n] = 0;
		p->f->text_used += p->tok.n + 1;
		raw->step[raw->nsteps++] = (struct fq_step){ FQ_STEP_NAME, 0, name, p->tok.n };
		fq_next(p);
		for (;;) {
			if (p->failed)
				return -1;
			if (p->tok.kind == FQ_T_LBRACKET) {
				fq_next(p);
				struct fq_step st = { 0 };
				if (p->tok.kind == FQ_T_STRING) {
					st = (struct fq_step){ FQ_STEP_KEY, 0, p->tok.str,
							       p->tok.str_len };
				} else if (p->tok.kind == FQ_T_NUMBER && !p->tok.unit_len &&
					   !memchr(p->tok.p, '.', p->tok.n) && p->tok.n < 10) {
					st.kind = FQ_STEP_INDEX;
					st.index = (uint32_t)strtoul(p->tok.p, NULL, 10);
				} else {
					return fq_fail(
						p, p->tok.col,
						"[\"key\"] or [N] (a list index) was expected%s",
						NULL);
				}
				if (raw->nsteps == FQ_MAX_STEPS)
					return fq_fail(p, p->tok.col,
						       "too long a field path (15 steps at most)%s",
						       NULL);
				raw->step[raw->nsteps++] = st;
				fq_next(p);
				if (p->tok.kind != FQ_T_RBRACKET)
					return fq_fail(p, p->tok.col, "']' was expected%s", NULL);
				fq_next(p);
				continue;
			}
			break;
		}
		if (p->tok.kind != FQ_T_DOT)
			return 0;
		struct fq_token after = fq_peek(p);
		struct fq_token after2;
		if (after.kind == FQ_T_IDENT) {
			struct fq_lexer save = p->lx;
			size_t used = p->f->text_used;
			fq_lex(&p->lx, &after2);
			fq_lex(&p->lx, &after2);
			p->lx = save;
			p->f->text_used = used;
			if (after2.kind == FQ_T_LPAREN)
				return 0; /* a method call: the path ends here */
		}
		fq_next(p);
	}
}

/* A path as written → the field: aliases resolved, interned, typed. */
int fq_parse_field(struct fq_parser *p, struct fq_field *fd)
{
	struct fq_path raw;
	size_t col = p->tok.col;
	const char *start = p->lx.src + col - 1;
	if (parse_raw_path(p, &raw) < 0)
		return -1;
	size_t end = p->tok.col - 1;
	snprintf(fd->name, sizeof(fd->name), "%.*s", (int)(end - (col - 1)), start);
	char *sp = strpbrk(fd->name, " \t");
	if (sp)
		*sp = 0;
	fd->col = col;
	fd->npaths = 0;
	fd->lit_unit_ns = 0;
	const struct alias *a = NULL;
	size_t covers = 0;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(*aliases) && !a; i++)
		if ((covers = alias_covers(&aliases[i], &raw)))
			a = &aliases[i];
	struct fq_path paths[2];
	size_t n = 1;
	if (a) {
		n = a->target[1] ? 2 : 1;
		for (size_t i = 0; i < n; i++)
			if (!expand(&paths[i], a->target[i], &raw, covers))
				return fq_fail(p, col, "too long a field path (15 steps at most)%s",
					       NULL);
		if (a->type != FQ_ANY && raw.nsteps > covers)
			return fq_fail(p, col, "%s has no members", a->name);
	} else {
		if (fq_schema_top(raw.step[0].s, raw.step[0].n) < 0) {
			char nm[40];
			snprintf(nm, sizeof(nm), "%.*s",
				 (int)(raw.step[0].n < 32 ? raw.step[0].n : 32), raw.step[0].s);
			return fq_fail(p, col,
				       "unknown field '%s' (fields: docs/records.md; aliases: "
				       "docs/filter.md)",
				       nm);
		}
		paths[0] = raw;
	}
	fd->type = fq_schema_type(&paths[0], &fd->unit_ns);
	if (a && a->type != FQ_ANY)
		fd->type = a->type;
	if (a)
		fd->lit_unit_ns = a->lit_unit_ns;
	for (size_t i = 0; i < n; i++) {
		int id = intern_path(p, &paths[i], col);
		if (id < 0)
			return -1;
		fd->path[fd->npaths++] = (uint8_t)id;
	}
	return 0;
}
