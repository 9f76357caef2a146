/* SPDX-License-Identifier: MIT */
/*
 * The filter's parser (docs/filter.md, "Grammar"): recursive descent over
 * the tokens, straight into the compiled form — paths resolved through the
 * aliases and deduplicated, each test type-checked against the schema and
 * made an atom, and the boolean tree over them. The first error stops it,
 * with the column it was found at.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "query/filter_parser.h"

#define MAX_NESTING 64

int fq_fail(struct fq_parser *p, size_t col, const char *fmt, const char *arg)
{
	if (!p->failed) {
		p->failed = true;
		p->err->column = col;
		snprintf(p->err->message, sizeof(p->err->message), fmt, arg ? arg : "");
	}
	return -1;
}

void fq_next(struct fq_parser *p)
{
	fq_lex(&p->lx, &p->tok);
	if (p->tok.kind == FQ_T_ERROR)
		fq_fail(p, p->tok.col, "%s", p->tok.why);
}

/* The token after the current one, without consuming anything. */
struct fq_token fq_peek(struct fq_parser *p)
{
	struct fq_lexer save = p->lx;
	size_t used = p->f->text_used;
	struct fq_token t;
	fq_lex(&p->lx, &t);
	p->lx = save;
	p->f->text_used = used;
	return t;
}

bool fq_is_word(const struct fq_token *t, const char *w)
{
	return t->kind == FQ_T_IDENT && t->n == strlen(w) && !memcmp(t->p, w, t->n);
}

static int new_node(struct fq_parser *p, uint8_t kind, int a, int b, size_t col)
{
	struct sonde_filter *f = p->f;
	if (a < 0 || b < -1 || p->failed)
		return -1;
	if (f->nnodes == FQ_MAX_NODES)
		return fq_fail(p, col, "too long an expression (256 terms at most)%s", NULL);
	f->node[f->nnodes] =
		(struct fq_node){ kind, false, (uint16_t)a, (uint16_t)(b < 0 ? 0 : b) };
	return (int)f->nnodes++;
}

/* ---------------------------------------------------- regex size --- */

#define RE_MAX_NODES 20000 /* a regular expression's items once repetitions are copied out */

/* A bound {n}, {n,} or {n,m} at s ('{'): its end and how many copies of the
 * item it makes; NULL when it is not a bound (then '{' is an ordinary
 * character). */
static const char *re_bound(const char *s, size_t *copies)
{
	size_t n = 0, m = 0;
	bool comma = false, digits = false;
	for (s++; *s && *s != '}'; s++) {
		if (*s == ',' && !comma) {
			comma = true;
		} else if (*s >= '0' && *s <= '9') {
			size_t *v = comma ? &m : &n;
			*v = *v > RE_MAX_NODES ? *v : *v * 10 + (size_t)(*s - '0');
			digits = true;
		} else {
			return NULL;
		}
	}
	if (*s != '}' || !digits)
		return NULL;
	*copies = comma ? (m ? m : n + 1) : n;
	if (!*copies)
		*copies = 1;
	return s;
}

/* The last character of the bracket expression at s ('['): a ']' first (or
 * after '^') is a member, and so is one inside [:class:], [.x.] or [=x=]. */
static const char *re_bracket_end(const char *s)
{
	s++;
	s += *s == '^';
	s += *s == ']';
	for (; *s && *s != ']'; s++) {
		const char *close;
		if (*s == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=') &&
		    (close = strchr(s + 2, s[1])) && close[1] == ']')
			s = close + 1;
	}
	return *s ? s : s - 1;
}

/*
 * Whether a POSIX extended regular expression stays small once compiled.
 * glibc's regcomp copies a repeated item once per repetition ('+' twice,
 * {n,m} m times), so nested repetitions multiply: "(a+)+" doubles per '+',
 * and a filter of a hundred of them took gigabytes (found by fuzz_filter).
 * Counts the items with the copies made, per group level; refuses past
 * RE_MAX_NODES or MAX_NESTING groups deep.
 */
static bool re_small_enough(const char *re)
{
	size_t sum[MAX_NESTING + 1] = { 0 }, last[MAX_NESTING + 1] = { 0 };
	int d = 0;
	for (const char *s = re; *s; s++) {
		size_t w = 1, copies = 0;
		const char *end;
		switch (*s) {
		case '(':
			if (d == MAX_NESTING)
				return false;
			d++;
			sum[d] = last[d] = 0;
			continue;
		case ')':
			if (d > 0)
				w = sum[d--];
			break;
		case '|': last[d] = 0; continue;
		case '*':
		case '?': continue; /* no copy */
		case '+': copies = 2; break;
		case '{':
			end = re_bound(s, &copies);
			if (end)
				s = end;
			break;
		case '[': s = re_bracket_end(s); break;
		case '\\':
			if (s[1])
				s++;
			break;
		}
		if (copies) { /* the last item, repeated */
			sum[d] = sum[d] - last[d] + last[d] * copies;
			last[d] *= copies;
		} else {
			sum[d] += w;
			last[d] = w;
		}
		if (sum[d] > RE_MAX_NODES)
			return false;
	}
	return true;
}

static int new_atom(struct fq_parser *p, const struct fq_field *fd, uint8_t op, struct fq_lit *lits,
		    size_t nlit, size_t col)
{
	struct sonde_filter *f = p->f;
	if (f->natoms == FQ_MAX_ATOMS)
		return fq_fail(p, col, "too many tests (64 at most)%s", NULL);
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
		bool nul = memchr(lits[0].s, 0, lits[0].n) != NULL;
		int rc = nul                    ? -1
			 : !re_small_enough(re) ? -2
						: regcomp(&a->re, re, REG_EXTENDED | REG_NOSUB);
		free(re);
		if (rc) {
			char why[120] = "a NUL in the pattern";
			if (rc == -2)
				snprintf(why, sizeof(why),
					 "too large once its repetitions are copied out "
					 "(%d items at most)",
					 RE_MAX_NODES);
			if (rc > 0)
				regerror(rc, &a->re, why, sizeof(why));
			f->natoms++; /* freed with the filter */
			return fq_fail(p, col, "bad regular expression (POSIX extended): %s", why);
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
		return fq_fail(p, col, "too long an expression (256 terms at most)%s", NULL);
	f->node[f->nnodes] = n;
	return (int)f->nnodes++;
}

/* ------------------------------------------------------------- the tree --- */

static int parse_or(struct fq_parser *p);

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
	if (fq_is_word(t, "contains"))
		return FQ_OP_CONTAINS;
	if (fq_is_word(t, "matches"))
		return FQ_OP_MATCHES;
	if (fq_is_word(t, "startsWith"))
		return FQ_OP_STARTS;
	if (fq_is_word(t, "endsWith"))
		return FQ_OP_ENDS;
	if (fq_is_word(t, "in"))
		return FQ_OP_IN;
	if (fq_is_word(t, "eq"))
		return FQ_OP_EQ;
	if (fq_is_word(t, "ne")) {
		*negate = true;
		return FQ_OP_EQ;
	}
	if (fq_is_word(t, "lt"))
		return FQ_OP_LT;
	if (fq_is_word(t, "le"))
		return FQ_OP_LE;
	if (fq_is_word(t, "gt"))
		return FQ_OP_GT;
	if (fq_is_word(t, "ge"))
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
static int parse_list(struct fq_parser *p, const struct fq_field *fd, struct fq_lit *lits,
		      size_t *n)
{
	*n = 0;
	fq_next(p);
	while (!p->failed && p->tok.kind != FQ_T_RBRACKET) {
		if (*n == FQ_MAX_LITS)
			return fq_fail(p, p->tok.col, "too long a list (64 values at most)%s",
				       NULL);
		size_t col = p->tok.col;
		if (fq_parse_literal(p, &lits[*n]) < 0 ||
		    fq_check_literal(p, fd, FQ_OP_IN, &lits[*n], col))
			return -1;
		(*n)++;
		if (p->tok.kind == FQ_T_COMMA)
			fq_next(p);
		else if (p->tok.kind != FQ_T_RBRACKET)
			return fq_fail(p, p->tok.col, "',' or ']' was expected%s", NULL);
	}
	if (p->failed)
		return -1;
	if (!*n)
		return fq_fail(p, p->tok.col, "an empty list: give at least one value%s", NULL);
	fq_next(p);
	return 0;
}

static bool starts_value(const struct fq_token *t)
{
	return t->kind == FQ_T_STRING || t->kind == FQ_T_NUMBER || t->kind == FQ_T_MINUS ||
	       fq_is_word(t, "true") || fq_is_word(t, "false") || fq_is_word(t, "null") ||
	       fq_is_word(t, "now");
}

/* has(field) */
static int parse_has(struct fq_parser *p, size_t col)
{
	fq_next(p);
	fq_next(p);
	struct fq_field fd;
	if (fq_parse_field(p, &fd) < 0)
		return -1;
	if (p->tok.kind != FQ_T_RPAREN)
		return fq_fail(p, p->tok.col, "')' was expected%s", NULL);
	fq_next(p);
	return new_atom(p, &fd, FQ_OP_HAS, NULL, 0, col);
}

/* The field a test is about, which must come now. */
static int field_here(struct fq_parser *p, struct fq_field *fd)
{
	if (p->tok.kind != FQ_T_IDENT || starts_value(&p->tok))
		return fq_fail(p, p->tok.col, "a field was expected here (e.g. response.status)%s",
			       NULL);
	return fq_parse_field(p, fd);
}

/* literal OP field: the test flipped to field OP' literal. */
static int parse_flipped(struct fq_parser *p, size_t col)
{
	struct fq_lit lit;
	bool negate = false;
	if (fq_parse_literal(p, &lit) < 0)
		return -1;
	int op = relop(&p->tok, &negate);
	if (op < 0 || op == FQ_OP_CONTAINS || op == FQ_OP_STARTS || op == FQ_OP_ENDS ||
	    op == FQ_OP_MATCHES)
		return fq_fail(p, p->tok.col,
			       "a value alone is not a test: compare it with a field "
			       "(\"x\" in flags, 500 <= response.status)%s",
			       NULL);
	fq_next(p);
	op = op == FQ_OP_IN ? FQ_OP_EQ : flip((uint8_t)op);
	struct fq_field fd;
	if (field_here(p, &fd) < 0)
		return -1;
	if (fq_check_literal(p, &fd, (uint8_t)op, &lit, col) < 0)
		return -1;
	int a = new_atom(p, &fd, (uint8_t)op, &lit, 1, col);
	return negate ? new_node(p, FQ_N_NOT, a, -1, col) : a;
}

/* field.method("...") (at the '.') */
static int parse_method(struct fq_parser *p, const struct fq_field *fd, size_t col)
{
	fq_next(p);
	struct fq_token m = p->tok;
	int op = fq_is_word(&m, "startsWith") ? FQ_OP_STARTS
		 : fq_is_word(&m, "endsWith") ? FQ_OP_ENDS
		 : fq_is_word(&m, "contains") ? FQ_OP_CONTAINS
		 : fq_is_word(&m, "matches")  ? FQ_OP_MATCHES
					      : -1;
	if (op < 0)
		return fq_fail(p, m.col,
			       "unknown method: startsWith, endsWith, contains or matches%s", NULL);
	fq_next(p);
	fq_next(p); /* the '(' */
	size_t vcol = p->tok.col;
	struct fq_lit lit;
	if (fq_parse_literal(p, &lit) < 0 || fq_check_literal(p, fd, (uint8_t)op, &lit, vcol))
		return -1;
	if (p->tok.kind != FQ_T_RPAREN)
		return fq_fail(p, p->tok.col, "')' was expected%s", NULL);
	fq_next(p);
	return new_atom(p, fd, (uint8_t)op, &lit, 1, col);
}

/* field OP literal, field in [...], or a bare field (truthy). */
static int parse_compare(struct fq_parser *p, const struct fq_field *fd, size_t col)
{
	struct fq_lit lits[FQ_MAX_LITS];
	bool negate = false;
	int op = relop(&p->tok, &negate);
	if (op < 0) {
		if (fd->type == FQ_DUR || fd->unit_ns)
			return fq_type_error(p, fd, fd->col, ": compare it (latency > 200ms)");
		return new_atom(p, fd, FQ_OP_TRUTHY, NULL, 0, col);
	}
	fq_next(p);
	size_t n = 1;
	if (op == FQ_OP_IN) {
		if (p->tok.kind != FQ_T_LBRACKET)
			return fq_fail(p, p->tok.col, "in takes a list: in [\"a\", \"b\"]%s", NULL);
		if (parse_list(p, fd, lits, &n) < 0)
			return -1;
	} else {
		size_t vcol = p->tok.col;
		if (p->tok.kind == FQ_T_IDENT && !starts_value(&p->tok))
			return fq_fail(p, vcol,
				       "a field is compared with a value, not with another field%s",
				       NULL);
		if (fq_parse_literal(p, &lits[0]) < 0 ||
		    fq_check_literal(p, fd, (uint8_t)op, &lits[0], vcol))
			return -1;
		if (lits[0].type == FQ_NULL && op == FQ_OP_EQ)
			op = FQ_OP_IN; /* == null: one literal, compared by kind */
	}
	int a = new_atom(p, fd, (uint8_t)op, lits, n, col);
	return negate ? new_node(p, FQ_N_NOT, a, -1, col) : a;
}

/* field OP literal, field.method("..."), field in [...], has(field), a bare
 * field, or literal OP field (flipped). */
static int parse_test(struct fq_parser *p)
{
	size_t col = p->tok.col;
	if (fq_is_word(&p->tok, "has") && fq_peek(p).kind == FQ_T_LPAREN)
		return parse_has(p, col);
	if (fq_is_word(&p->tok, "true") || fq_is_word(&p->tok, "false")) {
		struct fq_token nx = fq_peek(p);
		bool dummy;
		if (relop(&nx, &dummy) < 0) { /* a constant test */
			int n = new_node(p, FQ_N_CONST, 0, -1, col);
			if (n >= 0)
				p->f->node[n].value = fq_is_word(&p->tok, "true");
			fq_next(p);
			return n;
		}
	}
	if (starts_value(&p->tok))
		return parse_flipped(p, col);
	struct fq_field fd;
	if (field_here(p, &fd) < 0)
		return -1;
	if (p->tok.kind == FQ_T_DOT)
		return parse_method(p, &fd, col);
	return parse_compare(p, &fd, col);
}

static int parse_unary(struct fq_parser *p)
{
	size_t col = p->tok.col;
	if (++p->depth > MAX_NESTING)
		return fq_fail(p, col, "nested too deep (64 levels at most)%s", NULL);
	int r;
	if (p->tok.kind == FQ_T_NOT || fq_is_word(&p->tok, "not")) {
		fq_next(p);
		r = new_node(p, FQ_N_NOT, parse_unary(p), -1, col);
	} else if (p->tok.kind == FQ_T_LPAREN) {
		fq_next(p);
		r = parse_or(p);
		if (r >= 0 && p->tok.kind != FQ_T_RPAREN)
			r = fq_fail(p, p->tok.col, "')' was expected%s", NULL);
		if (r >= 0)
			fq_next(p);
	} else if (p->tok.kind == FQ_T_EOF) {
		r = fq_fail(p, col, "the expression ends where a test was expected%s", NULL);
	} else {
		r = parse_test(p);
	}
	p->depth--;
	return p->failed ? -1 : r;
}

static int parse_and(struct fq_parser *p)
{
	int l = parse_unary(p);
	while (l >= 0 && (p->tok.kind == FQ_T_AND || fq_is_word(&p->tok, "and"))) {
		size_t col = p->tok.col;
		fq_next(p);
		l = new_node(p, FQ_N_AND, l, parse_unary(p), col);
	}
	return l;
}

static int parse_or(struct fq_parser *p)
{
	int l = parse_and(p);
	while (l >= 0 && (p->tok.kind == FQ_T_OR || fq_is_word(&p->tok, "or"))) {
		size_t col = p->tok.col;
		fq_next(p);
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
	struct fq_parser p = { .lx = { expr, len, 0, f }, .f = f, .err = err };
	fq_next(&p);
	int root = p.failed ? -1 : parse_or(&p);
	if (root >= 0 && p.tok.kind != FQ_T_EOF)
		root = fq_fail(&p, p.tok.col,
			       "unexpected here: the tests are joined with && or ||%s", NULL);
	if (root < 0 || p.failed) {
		if (!p.failed)
			fq_fail(&p, 1, "bad expression%s", NULL);
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
