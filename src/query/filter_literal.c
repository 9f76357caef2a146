/* SPDX-License-Identifier: MIT */
/*
 * The filter's literals — strings, numbers, sizes, durations, times,
 * now() — and the type check of each against the field it is compared
 * with, where the schema knows the field's type.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/filter_parser.h"

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
static int number_literal(struct fq_parser *p, struct fq_lit *l, bool neg)
{
	const struct fq_token *t = &p->tok;
	char buf[40];
	if (t->n >= sizeof(buf))
		return fq_fail(p, t->col, "too long a number%s", NULL);
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
			return fq_fail(p, t->col, "too long a duration%s", NULL);
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
	return fq_fail(p, t->col + t->n,
		       "unknown unit '%s': durations ns, us, ms, s, m, h, d; sizes b, k/kb/kib, "
		       "mb/mib, g/gb/gib",
		       u);
}

/* now() [ (+|-) DURATION ]... */
static int now_literal(struct fq_parser *p, struct fq_lit *l)
{
	fq_next(p);
	if (p->tok.kind != FQ_T_LPAREN)
		return fq_fail(p, p->tok.col, "now() takes no arguments: '(' expected%s", NULL);
	fq_next(p);
	if (p->tok.kind != FQ_T_RPAREN)
		return fq_fail(p, p->tok.col, "now() takes no arguments: ')' expected%s", NULL);
	fq_next(p);
	l->type = FQ_TIME;
	l->now_rel = true;
	l->dur_ns = 0;
	p->f->uses_now = true;
	while (!p->failed && (p->tok.kind == FQ_T_PLUS || p->tok.kind == FQ_T_MINUS)) {
		bool minus = p->tok.kind == FQ_T_MINUS;
		fq_next(p);
		struct fq_lit d = { 0 };
		if (p->tok.kind != FQ_T_NUMBER)
			return fq_fail(p, p->tok.col, "a duration was expected (now() - 10m)%s",
				       NULL);
		size_t col = p->tok.col;
		if (number_literal(p, &d, false) < 0)
			return -1;
		if (d.type != FQ_DUR)
			return fq_fail(p, col, "a duration was expected (now() - 10m)%s", NULL);
		l->dur_ns += minus ? -d.dur_ns : d.dur_ns;
		fq_next(p);
	}
	return 0;
}

/* One literal; leaves the token after it current. */
int fq_parse_literal(struct fq_parser *p, struct fq_lit *l)
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
		fq_next(p);
		if (p->tok.kind != FQ_T_NUMBER)
			return fq_fail(p, p->tok.col, "a number was expected after '-'%s", NULL);
		if (number_literal(p, l, true) < 0)
			return -1;
	} else if (fq_is_word(t, "true") || fq_is_word(t, "false")) {
		l->type = FQ_BOOL;
		l->b = fq_is_word(t, "true");
	} else if (fq_is_word(t, "null")) {
		l->type = FQ_NULL;
	} else if (fq_is_word(t, "now")) {
		return now_literal(p, l);
	} else {
		return fq_fail(p, t->col,
			       "a value was expected here (a string, number, duration, size, true, "
			       "false, null or now())%s",
			       NULL);
	}
	fq_next(p);
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

int fq_type_error(struct fq_parser *p, const struct fq_field *fd, size_t col, const char *why)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "%s is %s%s", fd->name, type_name(fd->type), why);
	return fq_fail(p, col, "%s", msg);
}

/* Is literal l fit for op on the field? Converts it where the field says
 * (a time written as text, a duration or number for a field with a unit). */
int fq_check_literal(struct fq_parser *p, const struct fq_field *fd, uint8_t op, struct fq_lit *l,
		     size_t col)
{
	enum fq_type ft = fd->type == FQ_STRLIST ? FQ_STR : fd->type;
	bool strop = op == FQ_OP_CONTAINS || op == FQ_OP_STARTS || op == FQ_OP_ENDS ||
		     op == FQ_OP_MATCHES;
	if (strop && l->type != FQ_STR)
		return fq_fail(p, col, "contains, startsWith, endsWith and matches take a string%s",
			       NULL);
	if (l->type == FQ_NULL) {
		if (op != FQ_OP_EQ && op != FQ_OP_IN)
			return fq_fail(p, col, "null is only compared with == and !=%s", NULL);
		return 0;
	}
	if (ft == FQ_OBJ)
		return fq_type_error(p, fd, fd->col, ": only has() or the bare field test it");
	if (strop && ft != FQ_STR && ft != FQ_ANY)
		return fq_type_error(p, fd, fd->col, ": contains and the like are for strings");
	if (l->type == FQ_BOOL && op != FQ_OP_EQ && op != FQ_OP_IN)
		return fq_fail(p, col, "booleans are only compared with == and !=%s", NULL);
	if (ft == FQ_TIME || (ft == FQ_ANY && l->type == FQ_TIME)) {
		if (l->type == FQ_STR) {
			if (!fq_parse_time((const uint8_t *)l->s, l->n, &l->time_us))
				return fq_fail(
					p, col,
					"not a time: RFC 3339, UTC unless an offset is given "
					"(\"2026-12-03T14:00:00Z\", a prefix such as "
					"\"2026-12-03T14\")%s",
					NULL);
			l->type = FQ_TIME;
			return 0;
		}
		if (l->type != FQ_TIME)
			return fq_type_error(p, fd, col,
					     ": compare it with a time (now() - 10m, "
					     "\"2026-12-03T14:00\")");
		return 0;
	}
	if (l->type == FQ_TIME)
		return fq_type_error(p, fd, col, ", not a time");
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
			return fq_type_error(p, fd, col, ": give the number a unit (200ms, 1.5s)");
		return fq_type_error(p, fd, col, ": compare it with a number or a duration");
	}
	if (l->type == FQ_DUR)
		return fq_fail(p, col,
			       "a duration compares with the latency fields only (latency, "
			       "latency_ms, latency_us.*)%s",
			       NULL);
	if (ft == FQ_ANY)
		return 0;
	if ((ft == FQ_STR && l->type != FQ_STR) || (ft == FQ_NUM && l->type != FQ_NUM) ||
	    (ft == FQ_BOOL && l->type != FQ_BOOL)) {
		char why[64];
		snprintf(why, sizeof(why), ": it cannot equal %s", type_name(l->type));
		return fq_type_error(p, fd, col, why);
	}
	return 0;
}
