/* SPDX-License-Identifier: MIT */
/*
 * The filter's parser (docs/filter.md, "Grammar"): recursive descent over
 * the tokens, straight into the compiled form — paths resolved through the
 * aliases and deduplicated, each test type-checked against the schema and
 * made an atom, and the boolean tree over them. The first error stops it,
 * with the column it was found at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "query/filter_impl.h"

struct parser {
	struct fq_lexer lx;
	struct fq_token tok; /* the current token */
	struct sonde_filter *f;
	struct sonde_filter_error *err;
	bool failed;
	unsigned depth; /* nesting of parentheses and ! */
};

#define MAX_NESTING 64

static int fail(struct parser *p, size_t col, const char *fmt, const char *arg)
{
	if (!p->failed) {
		p->failed = true;
		p->err->column = col;
		snprintf(p->err->message, sizeof(p->err->message), fmt, arg ? arg : "");
	}
	return -1;
}

static void next(struct parser *p)
{
	fq_lex(&p->lx, &p->tok);
	if (p->tok.kind == FQ_T_ERROR)
		fail(p, p->tok.col, "%s", p->tok.why);
}

/* The token after the current one, without consuming anything. */
static struct fq_token peek(struct parser *p)
{
	struct fq_lexer save = p->lx;
	size_t used = p->f->text_used;
	struct fq_token t;
	fq_lex(&p->lx, &t);
	p->lx = save;
	p->f->text_used = used;
	return t;
}

static bool is_word(const struct fq_token *t, const char *w)
{
	return t->kind == FQ_T_IDENT && t->n == strlen(w) && !memcmp(t->p, w, t->n);
}

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

struct field {
	uint8_t path[2];
	uint8_t npaths;
	enum fq_type type;
	double unit_ns, lit_unit_ns;
	size_t col;
	char name[64]; /* for messages */
};

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

static int intern_path(struct parser *p, const struct fq_path *np, size_t col)
{
	struct sonde_filter *f = p->f;
	for (size_t i = 0; i < f->npaths; i++)
		if (same_path(&f->path[i], np))
			return (int)i;
	if (f->npaths == FQ_MAX_PATHS)
		return fail(p, col, "too many different fields (32 at most)%s", NULL);
	f->path[f->npaths] = *np;
	if (np->step[0].kind == FQ_STEP_NAME) {
		int top = fq_schema_top(np->step[0].s, np->step[0].n);
		if (top >= 0)
			f->top_mask |= 1u << top;
	}
	return (int)f->npaths++;
}

/* ident ( . ident | [ "key" ] | [ N ] )*, stopping before `.method(`. */
static int parse_raw_path(struct parser *p, struct fq_path *raw)
{
	raw->nsteps = 0;
	raw->atoms = 0;
	for (;;) {
		if (p->tok.kind != FQ_T_IDENT)
			return fail(p, p->tok.col, "a field name was expected here%s", NULL);
		if (raw->nsteps == FQ_MAX_STEPS)
			return fail(p, p->tok.col, "too long a field path (15 steps at most)%s",
				    NULL);
		/* names are copied: the expression is the caller's */
		char *name = p->f->text + p->f->text_used;
		memcpy(name, p->tok.p, p->tok.n);
		name[p->tok.n] = 0;
		p->f->text_used += p->tok.n + 1;
		raw->step[raw->nsteps++] = (struct fq_step){ FQ_STEP_NAME, 0, name, p->tok.n };
		next(p);
		for (;;) {
			if (p->failed)
				return -1;
			if (p->tok.kind == FQ_T_LBRACKET) {
				next(p);
				struct fq_step st = { 0 };
				if (p->tok.kind == FQ_T_STRING) {
					st = (struct fq_step){ FQ_STEP_KEY, 0, p->tok.str,
							       p->tok.str_len };
				} else if (p->tok.kind == FQ_T_NUMBER && !p->tok.unit_len &&
					   !memchr(p->tok.p, '.', p->tok.n) && p->tok.n < 10) {
					st.kind = FQ_STEP_INDEX;
					st.index = (uint32_t)strtoul(p->tok.p, NULL, 10);
				} else {
					return fail(
						p, p->tok.col,
						"[\"key\"] or [N] (a list index) was expected%s",
						NULL);
				}
				if (raw->nsteps == FQ_MAX_STEPS)
					return fail(p, p->tok.col,
						    "too long a field path (15 steps at most)%s",
						    NULL);
				raw->step[raw->nsteps++] = st;
				next(p);
				if (p->tok.kind != FQ_T_RBRACKET)
					return fail(p, p->tok.col, "']' was expected%s", NULL);
				next(p);
				continue;
			}
			break;
		}
		if (p->tok.kind != FQ_T_DOT)
			return 0;
		struct fq_token after = peek(p);
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
		next(p);
	}
}

/* A path as written → the field: aliases resolved, interned, typed. */
static int parse_field(struct parser *p, struct field *fd)
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
				return fail(p, col, "too long a field path (15 steps at most)%s",
					    NULL);
		if (a->type != FQ_ANY && raw.nsteps > covers)
			return fail(p, col, "%s has no members", a->name);
	} else {
		if (fq_schema_top(raw.step[0].s, raw.step[0].n) < 0) {
			char nm[40];
			snprintf(nm, sizeof(nm), "%.*s",
				 (int)(raw.step[0].n < 32 ? raw.step[0].n : 32), raw.step[0].s);
			return fail(p, col,
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

/* ------------------------------------------------------------- literals --- */

static int parse_duration_unit(const char *u, size_t n, int64_t *mult)
{
	static const struct {
		const char *u;
		int64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "ms", 1000000 },
		{ "s", 1000000000LL },
		{ "m", 60000000000LL },
		{ "h", 3600000000000LL },
		{ "d", 86400000000000LL },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++)
		if (strlen(units[i].u) == n && !memcmp(units[i].u, u, n)) {
			*mult = units[i].ns;
			return 0;
		}
	return -1;
}

static int parse_size_unit(const char *u, size_t n, double *mult)
{
	static const struct {
		const char *u;
		double m;
	} units[] = {
		{ "b", 1 },
		{ "k", 1024.0 },
		{ "kb", 1024.0 },
		{ "kib", 1024.0 },
		{ "mb", 1048576.0 },
		{ "mib", 1048576.0 },
		{ "g", 1073741824.0 },
		{ "gb", 1073741824.0 },
		{ "gib", 1073741824.0 },
	};
	char low[4];
	if (n > 3)
		return -1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)(u[i] >= 'A' && u[i] <= 'Z' ? u[i] + 32 : u[i]);
	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++)
		if (strlen(units[i].u) == n && !memcmp(units[i].u, low, n)) {
			*mult = units[i].m;
			return 0;
		}
	return -1;
}

static void num_set_double(struct fq_num *num, double d)
{
	double a = d < 0 ? -d : d;
	num->d = d;
	num->is_int = a < 1.8e19 && (double)(uint64_t)a == a;
	num->neg = d < 0;
	num->mag = num->is_int ? (uint64_t)a : 0;
}

/* A number token, negated or not: a plain number, a size (a number of
 * bytes) or a duration. */
static int number_literal(struct parser *p, struct fq_lit *l, bool neg)
{
	const struct fq_token *t = &p->tok;
	char buf[40];
	if (t->n >= sizeof(buf))
		return fail(p, t->col, "too long a number%s", NULL);
	memcpy(buf, t->p, t->n);
	buf[t->n] = 0;
	bool integral = !strchr(buf, '.');
	if (!t->unit_len) {
		l->type = FQ_NUM;
		if (integral && t->n <= 19) {
			l->num.is_int = true;
			l->num.mag = strtoull(buf, NULL, 10);
			l->num.neg = neg && l->num.mag;
			l->num.d = neg ? -(double)l->num.mag : (double)l->num.mag;
		} else {
			num_set_double(&l->num, neg ? -strtod(buf, NULL) : strtod(buf, NULL));
		}
		return 0;
	}
	int64_t dmult;
	double smult;
	double v = strtod(buf, NULL);
	if (parse_duration_unit(t->unit, t->unit_len, &dmult) == 0) {
		double ns = v * (double)dmult;
		if (ns > 9.2e18)
			return fail(p, t->col, "too long a duration%s", NULL);
		l->type = FQ_DUR;
		l->dur_ns = (int64_t)(ns + 0.5) * (neg ? -1 : 1);
		return 0;
	}
	if (parse_size_unit(t->unit, t->unit_len, &smult) == 0) {
		l->type = FQ_NUM;
		num_set_double(&l->num, neg ? -v * smult : v * smult);
		return 0;
	}
	char u[16];
	snprintf(u, sizeof(u), "%.*s", (int)(t->unit_len < 12 ? t->unit_len : 12), t->unit);
	return fail(p, t->col + t->n,
		    "unknown unit '%s': durations ns, us, ms, s, m, h, d; sizes b, k/kb/kib, "
		    "mb/mib, g/gb/gib",
		    u);
}

/* now() [ (+|-) DURATION ]... */
static int now_literal(struct parser *p, struct fq_lit *l)
{
	next(p);
	if (p->tok.kind != FQ_T_LPAREN)
		return fail(p, p->tok.col, "now() takes no arguments: '(' expected%s", NULL);
	next(p);
	if (p->tok.kind != FQ_T_RPAREN)
		return fail(p, p->tok.col, "now() takes no arguments: ')' expected%s", NULL);
	next(p);
	l->type = FQ_TIME;
	l->now_rel = true;
	l->dur_ns = 0;
	p->f->uses_now = true;
	while (!p->failed && (p->tok.kind == FQ_T_PLUS || p->tok.kind == FQ_T_MINUS)) {
		bool minus = p->tok.kind == FQ_T_MINUS;
		next(p);
		struct fq_lit d = { 0 };
		if (p->tok.kind != FQ_T_NUMBER)
			return fail(p, p->tok.col, "a duration was expected (now() - 10m)%s", NULL);
		size_t col = p->tok.col;
		if (number_literal(p, &d, false) < 0)
			return -1;
		if (d.type != FQ_DUR)
			return fail(p, col, "a duration was expected (now() - 10m)%s", NULL);
		l->dur_ns += minus ? -d.dur_ns : d.dur_ns;
		next(p);
	}
	return 0;
}

/* One literal; leaves the token after it current. */
static int parse_literal(struct parser *p, struct fq_lit *l)
{
	memset(l, 0, sizeof(*l));
	struct fq_token *t = &p->tok;
	if (t->kind == FQ_T_STRING) {
		l->type = FQ_STR;
		l->s = t->str;
		l->n = t->str_len;
	} else if (t->kind == FQ_T_NUMBER) {
		if (number_literal(p, l, false) < 0)
			return -1;
	} else if (t->kind == FQ_T_MINUS) {
		next(p);
		if (p->tok.kind != FQ_T_NUMBER)
			return fail(p, p->tok.col, "a number was expected after '-'%s", NULL);
		if (number_literal(p, l, true) < 0)
			return -1;
	} else if (is_word(t, "true") || is_word(t, "false")) {
		l->type = FQ_BOOL;
		l->b = is_word(t, "true");
	} else if (is_word(t, "null")) {
		l->type = FQ_NULL;
	} else if (is_word(t, "now")) {
		return now_literal(p, l);
	} else {
		return fail(p, t->col,
			    "a value was expected here (a string, number, duration, size, true, "
			    "false, null or now())%s",
			    NULL);
	}
	next(p);
	return p->failed ? -1 : 0;
}

/* ---------------------------------------------------------------- atoms --- */

static const char *type_name(enum fq_type t)
{
	switch (t) {
	case FQ_STR: return "a string";
	case FQ_NUM: return "a number";
	case FQ_BOOL: return "a boolean";
	case FQ_TIME: return "a time";
	case FQ_DUR: return "a duration";
	case FQ_NULL: return "null";
	case FQ_OBJ: return "an object or list";
	case FQ_STRLIST: return "a list of strings";
	default: return "a value";
	}
}

static int type_error(struct parser *p, const struct field *fd, size_t col, const char *why)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "%s is %s%s", fd->name, type_name(fd->type), why);
	return fail(p, col, "%s", msg);
}

/* Is literal l fit for op on the field? Converts it where the field says
 * (a time written as text, a duration or number for a field with a unit). */
static int check_literal(struct parser *p, const struct field *fd, uint8_t op, struct fq_lit *l,
			 size_t col)
{
	enum fq_type ft = fd->type == FQ_STRLIST ? FQ_STR : fd->type;
	bool strop = op == FQ_OP_CONTAINS || op == FQ_OP_STARTS || op == FQ_OP_ENDS ||
		     op == FQ_OP_MATCHES;
	if (strop && l->type != FQ_STR)
		return fail(p, col, "contains, startsWith, endsWith and matches take a string%s",
			    NULL);
	if (l->type == FQ_NULL) {
		if (op != FQ_OP_EQ && op != FQ_OP_IN)
			return fail(p, col, "null is only compared with == and !=%s", NULL);
		return 0;
	}
	if (ft == FQ_OBJ)
		return type_error(p, fd, fd->col, ": only has() or the bare field test it");
	if (strop && ft != FQ_STR && ft != FQ_ANY)
		return type_error(p, fd, fd->col, ": contains and the like are for strings");
	if (l->type == FQ_BOOL && op != FQ_OP_EQ && op != FQ_OP_IN)
		return fail(p, col, "booleans are only compared with == and !=%s", NULL);
	if (ft == FQ_TIME || (ft == FQ_ANY && l->type == FQ_TIME)) {
		if (l->type == FQ_STR) {
			if (!fq_parse_time((const uint8_t *)l->s, l->n, &l->time_us))
				return fail(p, col,
					    "not a time: RFC 3339, UTC unless an offset is given "
					    "(\"2026-12-03T14:00:00Z\", a prefix such as "
					    "\"2026-12-03T14\")%s",
					    NULL);
			l->type = FQ_TIME;
			return 0;
		}
		if (l->type != FQ_TIME)
			return type_error(p, fd, col,
					  ": compare it with a time (now() - 10m, "
					  "\"2026-12-03T14:00\")");
		return 0;
	}
	if (l->type == FQ_TIME)
		return type_error(p, fd, col, ", not a time");
	if (fd->unit_ns) {
		if (l->type == FQ_DUR) {
			l->ns = (double)l->dur_ns;
			return 0;
		}
		if (l->type == FQ_NUM && fd->type != FQ_DUR) {
			l->ns = l->num.d * (fd->lit_unit_ns ? fd->lit_unit_ns : fd->unit_ns);
			return 0;
		}
		if (l->type == FQ_NUM)
			return type_error(p, fd, col, ": give the number a unit (200ms, 1.5s)");
		return type_error(p, fd, col, ": compare it with a number or a duration");
	}
	if (l->type == FQ_DUR)
		return fail(p, col,
			    "a duration compares with the latency fields only (latency, "
			    "latency_ms, latency_us.*)%s",
			    NULL);
	if (ft == FQ_ANY)
		return 0;
	if ((ft == FQ_STR && l->type != FQ_STR) || (ft == FQ_NUM && l->type != FQ_NUM) ||
	    (ft == FQ_BOOL && l->type != FQ_BOOL)) {
		char why[64];
		snprintf(why, sizeof(why), ": it cannot equal %s", type_name(l->type));
		return type_error(p, fd, col, why);
	}
	return 0;
}

static int new_node(struct parser *p, uint8_t kind, int a, int b, size_t col)
{
	struct sonde_filter *f = p->f;
	if (a < 0 || b < -1 || p->failed)
		return -1;
	if (f->nnodes == FQ_MAX_NODES)
		return fail(p, col, "too long an expression (256 terms at most)%s", NULL);
	f->node[f->nnodes] =
		(struct fq_node){ kind, false, (uint16_t)a, (uint16_t)(b < 0 ? 0 : b) };
	return (int)f->nnodes++;
}

static int new_atom(struct parser *p, const struct field *fd, uint8_t op, struct fq_lit *lits,
		    size_t nlit, size_t col)
{
	struct sonde_filter *f = p->f;
	if (f->natoms == FQ_MAX_ATOMS)
		return fail(p, col, "too many tests (64 at most)%s", NULL);
	struct fq_atom *a = &f->atom[f->natoms];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->field_type = (uint8_t)fd->type;
	a->npaths = fd->npaths;
	memcpy(a->path, fd->path, sizeof(a->path));
	a->unit_ns = fd->unit_ns;
	a->column = fd->col;
	if (nlit) {
		a->lit = sonde_xcalloc(nlit, sizeof(*lits));
		memcpy(a->lit, lits, nlit * sizeof(*lits));
		a->nlit = nlit;
	}
	if (op == FQ_OP_MATCHES) {
		char *re = sonde_xmalloc(lits[0].n + 1);
		memcpy(re, lits[0].s, lits[0].n);
		re[lits[0].n] = 0;
		int rc = memchr(lits[0].s, 0, lits[0].n)
				 ? -1
				 : regcomp(&a->re, re, REG_EXTENDED | REG_NOSUB);
		free(re);
		if (rc) {
			char why[120] = "a NUL in the pattern";
			if (rc > 0)
				regerror(rc, &a->re, why, sizeof(why));
			f->natoms++; /* freed with the filter */
			return fail(p, col, "bad regular expression (POSIX extended): %s", why);
		}
		a->has_re = true;
	}
	for (size_t i = 0; i < fd->npaths; i++) {
		const struct fq_path *pa = &f->path[fd->path[i]];
		f->path[fd->path[i]].atoms |= 1ull << f->natoms;
		int top = fq_schema_top(pa->step[0].s, pa->step[0].n);
		if (top >= 0)
			a->top |= 1u << top;
	}
	int atom = (int)f->natoms++;
	struct fq_node n = { FQ_N_ATOM, false, (uint16_t)atom, 0 };
	if (f->nnodes == FQ_MAX_NODES)
		return fail(p, col, "too long an expression (256 terms at most)%s", NULL);
	f->node[f->nnodes] = n;
	return (int)f->nnodes++;
}

/* ------------------------------------------------------------- the tree --- */

static int parse_or(struct parser *p);

static int relop(const struct fq_token *t, bool *negate)
{
	*negate = false;
	switch (t->kind) {
	case FQ_T_EQ: return FQ_OP_EQ;
	case FQ_T_NE: *negate = true; return FQ_OP_EQ;
	case FQ_T_LT: return FQ_OP_LT;
	case FQ_T_LE: return FQ_OP_LE;
	case FQ_T_GT: return FQ_OP_GT;
	case FQ_T_GE: return FQ_OP_GE;
	case FQ_T_TILDE: return FQ_OP_MATCHES;
	default: break;
	}
	if (is_word(t, "contains"))
		return FQ_OP_CONTAINS;
	if (is_word(t, "matches"))
		return FQ_OP_MATCHES;
	if (is_word(t, "startsWith"))
		return FQ_OP_STARTS;
	if (is_word(t, "endsWith"))
		return FQ_OP_ENDS;
	if (is_word(t, "in"))
		return FQ_OP_IN;
	if (is_word(t, "eq"))
		return FQ_OP_EQ;
	if (is_word(t, "ne")) {
		*negate = true;
		return FQ_OP_EQ;
	}
	if (is_word(t, "lt"))
		return FQ_OP_LT;
	if (is_word(t, "le"))
		return FQ_OP_LE;
	if (is_word(t, "gt"))
		return FQ_OP_GT;
	if (is_word(t, "ge"))
		return FQ_OP_GE;
	return -1;
}

static uint8_t flip(uint8_t op)
{
	switch (op) {
	case FQ_OP_LT: return FQ_OP_GT;
	case FQ_OP_LE: return FQ_OP_GE;
	case FQ_OP_GT: return FQ_OP_LT;
	case FQ_OP_GE: return FQ_OP_LE;
	default: return op;
	}
}

/* [ lit, lit, ... ] */
static int parse_list(struct parser *p, const struct field *fd, struct fq_lit *lits, size_t *n)
{
	*n = 0;
	next(p);
	while (!p->failed && p->tok.kind != FQ_T_RBRACKET) {
		if (*n == FQ_MAX_LITS)
			return fail(p, p->tok.col, "too long a list (64 values at most)%s", NULL);
		size_t col = p->tok.col;
		if (parse_literal(p, &lits[*n]) < 0 ||
		    check_literal(p, fd, FQ_OP_IN, &lits[*n], col))
			return -1;
		(*n)++;
		if (p->tok.kind == FQ_T_COMMA)
			next(p);
		else if (p->tok.kind != FQ_T_RBRACKET)
			return fail(p, p->tok.col, "',' or ']' was expected%s", NULL);
	}
	if (p->failed)
		return -1;
	if (!*n)
		return fail(p, p->tok.col, "an empty list: give at least one value%s", NULL);
	next(p);
	return 0;
}

static bool starts_value(const struct fq_token *t)
{
	return t->kind == FQ_T_STRING || t->kind == FQ_T_NUMBER || t->kind == FQ_T_MINUS ||
	       is_word(t, "true") || is_word(t, "false") || is_word(t, "null") || is_word(t, "now");
}

/* field OP literal, field.method("..."), field in [...], has(field), a bare
 * field, or literal OP field (flipped). */
static int parse_test(struct parser *p)
{
	size_t col = p->tok.col;
	if (is_word(&p->tok, "has") && peek(p).kind == FQ_T_LPAREN) {
		next(p);
		next(p);
		struct field fd;
		if (parse_field(p, &fd) < 0)
			return -1;
		if (p->tok.kind != FQ_T_RPAREN)
			return fail(p, p->tok.col, "')' was expected%s", NULL);
		next(p);
		return new_atom(p, &fd, FQ_OP_HAS, NULL, 0, col);
	}
	if (is_word(&p->tok, "true") || is_word(&p->tok, "false")) {
		struct fq_token nx = peek(p);
		bool dummy;
		if (relop(&nx, &dummy) < 0) { /* a constant test */
			int n = new_node(p, FQ_N_CONST, 0, -1, col);
			if (n >= 0)
				p->f->node[n].value = is_word(&p->tok, "true");
			next(p);
			return n;
		}
	}
	struct fq_lit lits[FQ_MAX_LITS];
	bool lit_first = starts_value(&p->tok);
	size_t lit_col = col;
	if (lit_first && parse_literal(p, &lits[0]) < 0)
		return -1;
	bool negate = false;
	int op = -1;
	if (lit_first) {
		op = relop(&p->tok, &negate);
		if (op < 0 || op == FQ_OP_CONTAINS || op == FQ_OP_STARTS || op == FQ_OP_ENDS ||
		    op == FQ_OP_MATCHES)
			return fail(p, p->tok.col,
				    "a value alone is not a test: compare it with a field "
				    "(\"x\" in flags, 500 <= response.status)%s",
				    NULL);
		next(p);
		op = op == FQ_OP_IN ? FQ_OP_EQ : flip((uint8_t)op);
	}
	struct field fd;
	if (p->tok.kind != FQ_T_IDENT || starts_value(&p->tok))
		return fail(p, p->tok.col, "a field was expected here (e.g. response.status)%s",
			    NULL);
	if (parse_field(p, &fd) < 0)
		return -1;
	if (lit_first) {
		if (check_literal(p, &fd, (uint8_t)op, &lits[0], lit_col) < 0)
			return -1;
		int a = new_atom(p, &fd, (uint8_t)op, lits, 1, col);
		return negate ? new_node(p, FQ_N_NOT, a, -1, col) : a;
	}
	if (p->tok.kind == FQ_T_DOT) { /* field.method("...") */
		next(p);
		struct fq_token m = p->tok;
		op = is_word(&m, "startsWith") ? FQ_OP_STARTS
		     : is_word(&m, "endsWith") ? FQ_OP_ENDS
		     : is_word(&m, "contains") ? FQ_OP_CONTAINS
		     : is_word(&m, "matches")  ? FQ_OP_MATCHES
					       : -1;
		if (op < 0)
			return fail(p, m.col,
				    "unknown method: startsWith, endsWith, contains or matches%s",
				    NULL);
		next(p);
		next(p); /* the '(' */
		size_t vcol = p->tok.col;
		if (parse_literal(p, &lits[0]) < 0 ||
		    check_literal(p, &fd, (uint8_t)op, &lits[0], vcol))
			return -1;
		if (p->tok.kind != FQ_T_RPAREN)
			return fail(p, p->tok.col, "')' was expected%s", NULL);
		next(p);
		return new_atom(p, &fd, (uint8_t)op, lits, 1, col);
	}
	op = relop(&p->tok, &negate);
	if (op < 0) {
		if (fd.type == FQ_DUR || fd.unit_ns)
			return type_error(p, &fd, fd.col, ": compare it (latency > 200ms)");
		return new_atom(p, &fd, FQ_OP_TRUTHY, NULL, 0, col);
	}
	next(p);
	size_t n = 1;
	if (op == FQ_OP_IN) {
		if (p->tok.kind != FQ_T_LBRACKET)
			return fail(p, p->tok.col, "in takes a list: in [\"a\", \"b\"]%s", NULL);
		if (parse_list(p, &fd, lits, &n) < 0)
			return -1;
	} else {
		size_t vcol = p->tok.col;
		if (p->tok.kind == FQ_T_IDENT && !starts_value(&p->tok))
			return fail(p, vcol,
				    "a field is compared with a value, not with another field%s",
				    NULL);
		if (parse_literal(p, &lits[0]) < 0 ||
		    check_literal(p, &fd, (uint8_t)op, &lits[0], vcol))
			return -1;
		if (lits[0].type == FQ_NULL && op == FQ_OP_EQ)
			op = FQ_OP_IN; /* == null: one literal, compared by kind */
	}
	int a = new_atom(p, &fd, (uint8_t)op, lits, n, col);
	return negate ? new_node(p, FQ_N_NOT, a, -1, col) : a;
}

static int parse_unary(struct parser *p)
{
	size_t col = p->tok.col;
	if (++p->depth > MAX_NESTING)
		return fail(p, col, "nested too deep (64 levels at most)%s", NULL);
	int r;
	if (p->tok.kind == FQ_T_NOT || is_word(&p->tok, "not")) {
		next(p);
		r = new_node(p, FQ_N_NOT, parse_unary(p), -1, col);
	} else if (p->tok.kind == FQ_T_LPAREN) {
		next(p);
		r = parse_or(p);
		if (r >= 0 && p->tok.kind != FQ_T_RPAREN)
			r = fail(p, p->tok.col, "')' was expected%s", NULL);
		if (r >= 0)
			next(p);
	} else if (p->tok.kind == FQ_T_EOF) {
		r = fail(p, col, "the expression ends where a test was expected%s", NULL);
	} else {
		r = parse_test(p);
	}
	p->depth--;
	return p->failed ? -1 : r;
}

static int parse_and(struct parser *p)
{
	int l = parse_unary(p);
	while (l >= 0 && (p->tok.kind == FQ_T_AND || is_word(&p->tok, "and"))) {
		size_t col = p->tok.col;
		next(p);
		l = new_node(p, FQ_N_AND, l, parse_unary(p), col);
	}
	return l;
}

static int parse_or(struct parser *p)
{
	int l = parse_and(p);
	while (l >= 0 && (p->tok.kind == FQ_T_OR || is_word(&p->tok, "or"))) {
		size_t col = p->tok.col;
		next(p);
		l = new_node(p, FQ_N_OR, l, parse_and(p), col);
	}
	return l;
}

struct sonde_filter *sonde_filter_compile(const char *expr, struct sonde_filter_error *err)
{
	struct sonde_filter_error dummy;
	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	if (!expr)
		expr = "";
	size_t len = strlen(expr);
	struct sonde_filter *f = sonde_xcalloc(1, sizeof(*f));
	f->text_len = 2 * len + 2; /* strings and names, each with a NUL */
	f->text = sonde_xmalloc(f->text_len);
	struct parser p = { .lx = { expr, len, 0, f }, .f = f, .err = err };
	next(&p);
	int root = p.failed ? -1 : parse_or(&p);
	if (root >= 0 && p.tok.kind != FQ_T_EOF)
		root = fail(&p, p.tok.col, "unexpected here: the tests are joined with && or ||%s",
			    NULL);
	if (root < 0 || p.failed) {
		if (!p.failed)
			fail(&p, 1, "bad expression%s", NULL);
		sonde_filter_free(f);
		return NULL;
	}
	f->root = (uint16_t)root;
	return f;
}

void sonde_filter_free(struct sonde_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->natoms; i++) {
		if (f->atom[i].has_re)
			regfree(&f->atom[i].re);
		free(f->atom[i].lit);
	}
	free(f->text);
	free(f);
}
