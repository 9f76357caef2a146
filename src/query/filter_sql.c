/* SPDX-License-Identifier: MIT */
/*
 * The filter as SQL (query/filter.h): a WHERE clause over a table of records
 * as JSON, for SQLite (json_extract, json_each, json_type), or over columns
 * the caller names for some paths — ClickHouse's only exact means (match()
 * for regexes, LIKE for the rest), since Debian's 18.16 has no JSON paths. Every atom becomes a 0/1 test (never NULL, so NOT
 * means what the filter's ! means). An atom SQL cannot say exactly — a path
 * the schema does not know (it may go through lists), a regex in SQLite, a
 * list in ClickHouse — becomes a test that is true whenever the atom may be:
 * a look for its member's name in the JSON text where it is not negated,
 * and, where it is, false (so the NOT is true). Then *exact is false and the
 * caller checks each row with sonde_filter_match_json.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "query/filter_impl.h"

struct sqlgen {
	const struct sonde_filter *f;
	enum sonde_sql_dialect d;
	const char *json;
	const char *const *columns;
	int64_t now_us;
	struct sonde_buf *o;
	bool exact;
};

static bool sql_str(struct sqlgen *g, const char *s, size_t n)
{
	if (memchr(s, 0, n))
		return false;
	sonde_buf_putc(g->o, '\'');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'')
			sonde_buf_puts(g->o, g->d == SONDE_SQL_CLICKHOUSE ? "\\'" : "''");
		else if (s[i] == '\\' && g->d == SONDE_SQL_CLICKHOUSE)
			sonde_buf_puts(g->o, "\\\\");
		else
			sonde_buf_putc(g->o, s[i]);
	}
	sonde_buf_putc(g->o, '\'');
	return true;
}

/* The path as a field name of `columns` ("response.status", a.b["k"]). */
static void path_name(const struct fq_path *p, size_t nsteps, char *out, size_t len)
{
	size_t at = 0;
	out[0] = 0;
	for (size_t i = 0; i < nsteps && at < len; i++) {
		const struct fq_step *s = &p->step[i];
		int k = s->kind == FQ_STEP_NAME ? snprintf(out + at, len - at, "%s%.*s",
							   i ? "." : "", (int)s->n, s->s)
			: s->kind == FQ_STEP_KEY
				? snprintf(out + at, len - at, "[\"%.*s\"]", (int)s->n, s->s)
				: snprintf(out + at, len - at, "[%" PRIu32 "]", s->index);
		at += k > 0 ? (size_t)k : 0;
	}
}

static const char *column_of(struct sqlgen *g, const struct fq_path *p)
{
	if (!g->columns)
		return NULL;
	char name[256];
	path_name(p, p->nsteps, name, sizeof(name));
	for (size_t i = 0; g->columns[i] && g->columns[i + 1]; i += 2)
		if (!strcmp(g->columns[i], name))
			return g->columns[i + 1];
	return NULL;
}

/* SQLite's JSON path of steps [0, n): '$."a"."b"[0]."k"' (path_writable()
 * said it can be written). */
static void json_path(struct sqlgen *g, const struct fq_path *p, size_t n)
{
	struct sonde_buf *o = g->o;
	sonde_buf_puts(o, "'$");
	for (size_t i = 0; i < n; i++) {
		const struct fq_step *s = &p->step[i];
		if (s->kind == FQ_STEP_INDEX)
			sonde_buf_printf(o, "[%" PRIu32 "]", s->index);
		else
			sonde_buf_printf(o, ".\"%.*s\"", (int)s->n, s->s);
	}
	sonde_buf_putc(o, '\'');
}

/* Can every step of p be written in a JSON path? (SQLite's quoted
 * labels take no quote or backslash; no literal takes a NUL.) Checked
 * before anything is written, so a clause never holds half a path. */
static bool path_writable(const struct fq_path *p)
{
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct fq_step *s = &p->step[i];
		if (s->kind == FQ_STEP_INDEX)
			continue;
		for (size_t k = 0; k < s->n; k++)
			if (s->s[k] == '"' || s->s[k] == '\\' || s->s[k] == '\'' || !s->s[k])
				return false;
	}
	return true;
}

/* How an atom's values are reached. */
enum reach {
	REACH_SCALAR, /* one value at a fixed path */
	REACH_LIST, /* the elements of a list at a fixed path (flags) */
	REACH_PAIRS, /* the values of [key, value] pairs of a list (headers) */
	REACH_INEXACT,
};

static enum reach reach_of(const struct fq_atom *a, const struct fq_path *p)
{
	if (a->field_type == FQ_ANY)
		return REACH_INEXACT;
	for (size_t i = 0; i < p->nsteps; i++)
		if (p->step[i].kind == FQ_STEP_INDEX)
			return REACH_INEXACT;
	const struct fq_step *last = &p->step[p->nsteps - 1];
	if (p->nsteps >= 2 && last->kind == FQ_STEP_KEY) {
		const struct fq_step *list = &p->step[p->nsteps - 2];
		if ((list->n == 7 && !memcmp(list->s, "headers", 7)) ||
		    (list->n == 8 && !memcmp(list->s, "trailers", 8)))
			return REACH_PAIRS;
	}
	if (a->field_type == FQ_STRLIST)
		return REACH_LIST;
	return REACH_SCALAR;
}

static void fmt_time_lit(struct sqlgen *g, int64_t us)
{
	time_t sec = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	int64_t frac = us - (int64_t)sec * 1000000;
	struct tm tm;
	gmtime_r(&sec, &tm);
	char b[64];
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	sonde_buf_printf(g->o, "'%s.%06" PRId64 "Z'", b, frac);
}

/* The test of one literal on the value expression x (text already written
 * by emit_x). */
typedef void (*emit_fn)(struct sqlgen *g, const void *ctx);

struct xval {
	const char *col; /* a column, or NULL */
	const struct fq_path *path; /* else the JSON path */
	const char *raw; /* else this expression (a json_each value) */
	bool numeric_col; /* TIME column: µs */
};

static void emit_x(struct sqlgen *g, const struct xval *x)
{
	struct sonde_buf *o = g->o;
	if (x->col) {
		sonde_buf_puts(o, x->col);
		return;
	}
	if (x->raw) {
		sonde_buf_puts(o, x->raw);
		return;
	}
	sonde_buf_printf(o, "json_extract(%s, ", g->json);
	json_path(g, x->path, x->path->nsteps);
	sonde_buf_putc(o, ')');
}

/* The type guard: the value is of the literal's kind (SQL compares text
 * and numbers where the filter does not). */
static void guard(struct sqlgen *g, const struct xval *x, char want)
{
	if (g->d != SONDE_SQL_SQLITE)
		return; /* ClickHouse: columns, of their own types */
	sonde_buf_puts(g->o, "typeof(");
	emit_x(g, x);
	sonde_buf_puts(g->o, want == 's' ? ") = 'text' AND " : ") IN ('integer', 'real') AND ");
}

static const char *op_sql(uint8_t op)
{
	switch (op) {
	case FQ_OP_LT: return " < ";
	case FQ_OP_LE: return " <= ";
	case FQ_OP_GT: return " > ";
	case FQ_OP_GE: return " >= ";
	default: return " = ";
	}
}

/* == null: SQLite's JSON at a fixed path only (atom_path() sends no
 * other here). */
static bool is_null_test(struct sqlgen *g, const struct xval *x)
{
	if (!x->path || x->col || x->raw)
		return false;
	sonde_buf_printf(g->o, "json_type(%s, ", g->json);
	json_path(g, x->path, x->path->nsteps);
	sonde_buf_puts(g->o, ") = 'null'");
	return true;
}

/* A time literal (now-relative ones against g->now_us). */
static bool time_lit_sql(struct sqlgen *g, uint8_t op, const struct fq_lit *l, const struct xval *x)
{
	struct sonde_buf *o = g->o;
	int64_t t = l->now_rel ? g->now_us + l->dur_ns / 1000 : l->time_us;
	if (x->numeric_col) {
		sonde_buf_printf(o, "%s%s%" PRId64, x->col, op_sql(op), t);
		return true;
	}
	guard(g, x, 's');
	emit_x(g, x);
	sonde_buf_puts(o, op_sql(op));
	fmt_time_lit(g, t);
	return true;
}

/* true/false: a column's 0/1, or the JSON value's type. */
static bool bool_lit_sql(struct sqlgen *g, const struct fq_lit *l, const struct xval *x)
{
	struct sonde_buf *o = g->o;
	if (x->col) {
		sonde_buf_printf(o, "%s = %d", x->col, l->b);
		return true;
	}
	if (x->raw)
		return false;
	sonde_buf_printf(o, "json_type(%s, ", g->json);
	json_path(g, x->path, x->path->nsteps);
	sonde_buf_printf(o, ") = '%s'", l->b ? "true" : "false");
	return true;
}

/* ClickHouse's LIKE for contains/starts/ends, its % _ and \ escaped. */
static bool clickhouse_like(struct sqlgen *g, uint8_t op, const struct fq_lit *l,
			    const struct xval *x)
{
	struct sonde_buf *o = g->o;
	emit_x(g, x);
	sonde_buf_puts(o, " LIKE '");
	if (op != FQ_OP_STARTS)
		sonde_buf_putc(o, '%');
	for (size_t i = 0; i < l->n; i++) {
		char c = l->s[i];
		if (!c)
			return false;
		if (c == '\\') {
			sonde_buf_puts(o, "\\\\\\\\"); /* \\ in LIKE, each quoted */
			continue;
		}
		if (c == '%' || c == '_')
			sonde_buf_puts(o, "\\\\");
		if (c == '\'')
			sonde_buf_putc(o, '\\');
		sonde_buf_putc(o, c);
	}
	if (op != FQ_OP_ENDS)
		sonde_buf_putc(o, '%');
	sonde_buf_putc(o, '\'');
	return true;
}

/* A string literal under op. */
static bool str_lit_sql(struct sqlgen *g, uint8_t op, const struct fq_lit *l, const struct xval *x)
{
	struct sonde_buf *o = g->o;
	bool affix = op == FQ_OP_CONTAINS || op == FQ_OP_STARTS || op == FQ_OP_ENDS;
	if (op == FQ_OP_MATCHES && g->d == SONDE_SQL_SQLITE)
		return false;
	guard(g, x, 's');
	if (op == FQ_OP_MATCHES) {
		sonde_buf_puts(o, "match(");
		emit_x(g, x);
		sonde_buf_puts(o, ", ");
		return sql_str(g, l->s, l->n) && sonde_buf_putc(o, ')') == 0;
	}
	if (affix && !l->n) {
		emit_x(g, x);
		sonde_buf_puts(o, " IS NOT NULL");
		return true;
	}
	if (affix && g->d == SONDE_SQL_CLICKHOUSE)
		return clickhouse_like(g, op, l, x);
	if (op == FQ_OP_CONTAINS) {
		/* SQLite's LIKE ignores case: instr() does not */
		sonde_buf_puts(o, "instr(");
		emit_x(g, x);
		sonde_buf_puts(o, ", ");
		if (!sql_str(g, l->s, l->n))
			return false;
		sonde_buf_puts(o, ") > 0");
		return true;
	}
	if (affix) {
		sonde_buf_puts(o, "substr(");
		emit_x(g, x);
		sonde_buf_puts(o, op == FQ_OP_STARTS ? ", 1, length(" : ", -length(");
		if (!sql_str(g, l->s, l->n))
			return false;
		sonde_buf_puts(o, op == FQ_OP_STARTS ? ")) = " : ")) = ");
		return sql_str(g, l->s, l->n);
	}
	emit_x(g, x);
	sonde_buf_puts(o, op_sql(op));
	return sql_str(g, l->s, l->n);
}

/* One literal; false: not expressible. */
static bool lit_sql(struct sqlgen *g, const struct fq_atom *a, const struct fq_lit *l,
		    const struct xval *x)
{
	struct sonde_buf *o = g->o;
	uint8_t op = a->op == FQ_OP_IN ? FQ_OP_EQ : a->op;
	if (l->type == FQ_NULL)
		return is_null_test(g, x);
	if (l->type == FQ_TIME)
		return time_lit_sql(g, op, l, x);
	if (a->unit_ns) {
		guard(g, x, 'n');
		emit_x(g, x);
		sonde_buf_printf(o, "%s%.17g", op_sql(op), l->ns / a->unit_ns);
		return true;
	}
	if (l->type == FQ_BOOL)
		return bool_lit_sql(g, l, x);
	if (l->type == FQ_NUM) {
		guard(g, x, 'n');
		emit_x(g, x);
		if (l->num.is_int)
			sonde_buf_printf(o, "%s%s%" PRIu64, op_sql(op), l->num.neg ? "-" : "",
					 l->num.mag);
		else
			sonde_buf_printf(o, "%s%.17g", op_sql(op), l->num.d);
		return true;
	}
	return str_lit_sql(g, op, l, x);
}

/* The atom's test on x: any literal; HAS and TRUTHY by type. */
static bool atom_on(struct sqlgen *g, const struct fq_atom *a, const struct xval *x)
{
	struct sonde_buf *o = g->o;
	if (a->op == FQ_OP_HAS || a->op == FQ_OP_TRUTHY) {
		if (x->col || x->raw)
			return false; /* atom_path() reads those from the JSON */
		sonde_buf_printf(o, "coalesce(json_type(%s, ", g->json);
		json_path(g, x->path, x->path->nsteps);
		sonde_buf_puts(o, a->op == FQ_OP_HAS ? "), '') != ''"
						     : "), 'null') NOT IN ('null', 'false')");
		return true;
	}
	sonde_buf_putc(o, '(');
	for (size_t i = 0; i < a->nlit; i++) {
		if (i)
			sonde_buf_puts(o, " OR ");
		sonde_buf_putc(o, '(');
		if (!lit_sql(g, a, &a->lit[i], x))
			return false;
		sonde_buf_putc(o, ')');
	}
	sonde_buf_putc(o, ')');
	return true;
}

/* One path of an atom; false: not expressible (the buffer is rolled back
 * by the caller). */
static bool atom_path(struct sqlgen *g, const struct fq_atom *a, const struct fq_path *p)
{
	struct sonde_buf *o = g->o;
	const char *col = column_of(g, p);
	/* a column holds no difference between null and absent: those
	 * tests read the JSON */
	bool by_kind = a->op == FQ_OP_HAS || a->op == FQ_OP_TRUTHY;
	for (size_t i = 0; i < a->nlit; i++)
		by_kind = by_kind || a->lit[i].type == FQ_NULL;
	if (col && !by_kind) {
		struct xval x = { .col = col, .numeric_col = a->field_type == FQ_TIME };
		return atom_on(g, a, &x);
	}
	enum reach r = reach_of(a, p);
	/* ClickHouse 18.16 (Debian's) has no JSONExtract*, and the
	 * visitParam* functions find a name anywhere in the text: columns
	 * only, the rest is a test on the text */
	if (r == REACH_INEXACT || !path_writable(p) || g->d == SONDE_SQL_CLICKHOUSE)
		return false;
	if (r == REACH_SCALAR) {
		struct xval x = { .path = p };
		return atom_on(g, a, &x);
	}
	if (g->d != SONDE_SQL_SQLITE)
		return false;
	/* lists: any element (or any pair of the key) */
	size_t n = r == REACH_PAIRS ? p->nsteps - 1u : p->nsteps;
	if (a->op == FQ_OP_HAS || a->op == FQ_OP_TRUTHY) {
		if (r == REACH_LIST) {
			sonde_buf_printf(o, "json_type(%s, ", g->json);
			json_path(g, p, n);
			sonde_buf_puts(o, ") = 'array'");
			return true;
		}
	}
	sonde_buf_printf(o, "EXISTS (SELECT 1 FROM json_each(%s, ", g->json);
	json_path(g, p, n);
	sonde_buf_puts(o, ") AS e WHERE ");
	struct xval x = { .raw = "e.value" };
	if (r == REACH_PAIRS) {
		const struct fq_step *k = &p->step[p->nsteps - 1];
		sonde_buf_puts(
			o, "e.type = 'array' AND lower(json_extract(e.value, '$[0]')) = lower(");
		if (!sql_str(g, k->s, k->n))
			return false;
		sonde_buf_puts(o, ") AND ");
		x.raw = "json_extract(e.value, '$[1]')";
		if (a->op == FQ_OP_HAS) {
			sonde_buf_puts(o, "1)");
			return true;
		}
		if (a->op == FQ_OP_TRUTHY || a->nlit != 1 || a->lit[0].type == FQ_NULL)
			return false;
	} else if (a->op == FQ_OP_TRUTHY || a->op == FQ_OP_HAS) {
		return false;
	} else {
		for (size_t i = 0; i < a->nlit; i++)
			if (a->lit[i].type == FQ_NULL || a->lit[i].type == FQ_BOOL)
				return false;
	}
	if (!atom_on(g, a, &x))
		return false;
	sonde_buf_putc(o, ')');
	return true;
}

/* The inexact stand-in: true when the atom may hold (its member's name in
 * the text), false under a negation. */
static void inexact(struct sqlgen *g, const struct fq_atom *a, bool negated)
{
	g->exact = false;
	const struct fq_path *p = &g->f->path[a->path[0]];
	const struct fq_step *last = NULL;
	for (size_t i = p->nsteps; i-- > 0 && !last;)
		if (p->step[i].kind == FQ_STEP_NAME)
			last = &p->step[i];
	if (negated || !last || memchr(last->s, '\\', last->n) || memchr(last->s, '"', last->n) ||
	    memchr(last->s, 0, last->n) || a->npaths > 1) {
		sonde_buf_puts(g->o, negated ? "0" : "1");
		return;
	}
	char key[80];
	snprintf(key, sizeof(key), "\"%.*s\":", (int)(last->n < 64 ? last->n : 64), last->s);
	sonde_buf_puts(g->o, g->d == SONDE_SQL_SQLITE ? "instr(" : "position(");
	sonde_buf_printf(g->o, "%s, ", g->json);
	sql_str(g, key, strlen(key));
	sonde_buf_puts(g->o, ") > 0");
}

static void atom_sql(struct sqlgen *g, const struct fq_atom *a, bool negated)
{
	struct sonde_buf *o = g->o;
	size_t mark = o->len;
	sonde_buf_puts(o, g->d == SONDE_SQL_SQLITE ? "coalesce((" : "ifNull((");
	for (size_t i = 0; i < a->npaths; i++) {
		if (i)
			sonde_buf_puts(o, ") OR (");
		if (!atom_path(g, a, &g->f->path[a->path[i]])) {
			o->len = mark;
			inexact(g, a, negated);
			return;
		}
	}
	sonde_buf_puts(o, "), 0)");
}

static void node_sql(struct sqlgen *g, uint16_t i, bool negated)
{
	const struct fq_node *n = &g->f->node[i];
	struct sonde_buf *o = g->o;
	switch (n->kind) {
	case FQ_N_ATOM: atom_sql(g, &g->f->atom[n->a], negated); break;
	case FQ_N_CONST: sonde_buf_puts(o, n->value ? "1" : "0"); break;
	case FQ_N_NOT:
		sonde_buf_puts(o, "NOT (");
		node_sql(g, n->a, !negated);
		sonde_buf_putc(o, ')');
		break;
	default:
		sonde_buf_putc(o, '(');
		node_sql(g, n->a, negated);
		sonde_buf_puts(o, n->kind == FQ_N_AND ? ") AND (" : ") OR (");
		node_sql(g, n->b, negated);
		sonde_buf_putc(o, ')');
		break;
	}
}

int sonde_filter_to_sql(const struct sonde_filter *f, enum sonde_sql_dialect d,
			const char *json_col, const char *const *columns, uint64_t now_us,
			struct sonde_buf *out, bool *exact, struct sonde_filter_error *err)
{
	if (!f || !json_col || !out || (d != SONDE_SQL_SQLITE && d != SONDE_SQL_CLICKHOUSE)) {
		if (err) {
			err->column = 1;
			snprintf(err->message, sizeof(err->message),
				 "no filter, JSON column or dialect");
		}
		return -1;
	}
	struct sqlgen g = { f, d, json_col, columns, (int64_t)now_us, out, true };
	node_sql(&g, f->root, false);
	if (exact)
		*exact = g.exact;
	return 0;
}
