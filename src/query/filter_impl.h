/* SPDX-License-Identifier: MIT */
/*
 * Inside the filter (docs/filter.md): the compiled form the parser makes and
 * the matcher runs. An expression becomes a small boolean tree over atoms;
 * an atom is one test of one field (a path, or two for an alias naming both
 * ends of a connection) against literals. Paths are deduplicated: the
 * matcher follows each once, however many atoms use it, and hands every
 * value it finds under a path to that path's atoms. Comparisons over a
 * field with several values (a list, every header of a name) hold when any
 * value satisfies them, as tshark's do; `!=` is `!(==)`.
 */
#ifndef SONDE_QUERY_FILTER_IMPL_H
#define SONDE_QUERY_FILTER_IMPL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "query/filter.h"

#define FQ_MAX_PATHS 32
#define FQ_MAX_STEPS 15 /* positions 0..15 fit a 16-bit mask */
#define FQ_MAX_ATOMS 64 /* results are one 64-bit mask */
#define FQ_MAX_NODES 256
#define FQ_MAX_LITS 64 /* in an `in [...]` list */
#define FQ_MAX_DEPTH 32 /* deeper JSON is not looked into */

/* Types of fields and values, as the type check knows them. */
enum fq_type {
	FQ_ANY = 0, /* a path the schema does not describe: checked at run time */
	FQ_STR,
	FQ_NUM,
	FQ_BOOL,
	FQ_TIME, /* RFC 3339 text in JSON; µs since the epoch here */
	FQ_DUR, /* a duration (literals only; fields with a unit take them) */
	FQ_NULL,
	FQ_OBJ, /* an object or list: only has() and a bare test */
	FQ_STRLIST, /* a list of strings: tests apply to every element */
};

enum fq_step_kind {
	FQ_STEP_NAME, /* .name: an object's member; through lists, every element's */
	FQ_STEP_INDEX, /* [N]: a list's element */
	FQ_STEP_KEY, /* ["key"]: an object's member, or the value of a [key, value]
		      * pair in a list, the key compared without case (headers) */
};

struct fq_step {
	uint8_t kind;
	uint32_t index;
	const char *s; /* NAME, KEY: into the filter's own copy */
	size_t n;
};

struct fq_path {
	struct fq_step step[FQ_MAX_STEPS];
	uint8_t nsteps;
	uint64_t atoms; /* the atoms that test this path */
};

enum fq_op {
	FQ_OP_EQ,
	FQ_OP_LT,
	FQ_OP_LE,
	FQ_OP_GT,
	FQ_OP_GE,
	FQ_OP_CONTAINS,
	FQ_OP_STARTS,
	FQ_OP_ENDS,
	FQ_OP_MATCHES,
	FQ_OP_IN, /* == any of the literals */
	FQ_OP_HAS, /* the field is there (null included) */
	FQ_OP_TRUTHY, /* a bare field: there, and not false or null */
};

/* A number as exactly as the record has it: integers stay integers, so
 * 64-bit ids compare exactly; anything else compares as a double. */
struct fq_num {
	double d;
	bool is_int, neg;
	uint64_t mag;
};

struct fq_lit {
	uint8_t type; /* FQ_STR, FQ_NUM, FQ_BOOL, FQ_NULL, FQ_TIME, FQ_DUR */
	bool now_rel; /* FQ_TIME: now() + dur_ns */
	const char *s; /* FQ_STR */
	size_t n;
	struct fq_num num; /* FQ_NUM */
	bool b;
	int64_t time_us; /* FQ_TIME, not now_rel */
	int64_t dur_ns; /* FQ_DUR, or now_rel's offset */
	double ns; /* compared with a field with a unit: the literal in ns */
};

struct fq_atom {
	uint8_t op; /* enum fq_op */
	uint8_t field_type; /* enum fq_type of the field */
	uint8_t npaths;
	uint8_t path[2];
	/* A field counted in a time unit (latency_us.*): its values times
	 * unit_ns are ns, and the literals' ns are compared with them. */
	double unit_ns;
	struct fq_lit *lit; /* 1, or n for IN; none for HAS, TRUTHY */
	size_t nlit;
	bool has_re;
	regex_t re;
	size_t column; /* where the atom starts (SQL errors point there) */
	uint32_t top; /* the top-level members its paths start with */
};

enum fq_node_kind {
	FQ_N_ATOM,
	FQ_N_AND,
	FQ_N_OR,
	FQ_N_NOT,
	FQ_N_CONST,
};

struct fq_node {
	uint8_t kind;
	bool value; /* FQ_N_CONST */
	uint16_t a, b; /* children (AND, OR: both; NOT: a); ATOM: the atom */
};

struct sonde_filter {
	char *text; /* the expression's strings and names, unescaped, live here */
	size_t text_len, text_used;
	struct fq_path path[FQ_MAX_PATHS];
	size_t npaths;
	struct fq_atom atom[FQ_MAX_ATOMS];
	size_t natoms;
	struct fq_node node[FQ_MAX_NODES];
	size_t nnodes;
	uint16_t root;
	bool uses_now;
	/* Top-level members some path starts with: the live walk skips the
	 * others entirely. */
	uint32_t top_mask;
};

/* ---- values as the walk or the JSON reader hands them over ---- */

enum fq_vkind {
	FQ_V_STR,
	FQ_V_NUM,
	FQ_V_BOOL,
	FQ_V_NULL,
	FQ_V_TIME, /* the live walk's ts members, µs */
};

struct fq_value {
	uint8_t kind;
	bool b;
	const uint8_t *s;
	size_t n;
	struct fq_num num;
	int64_t time_us;
};

/* ---- the matcher: events of one record's tree in, atom results out ---- */

struct fq_level {
	uint16_t pos[FQ_MAX_PATHS]; /* positions of each path this node is at */
	uint16_t pairk[FQ_MAX_PATHS]; /* a list that may be a [key, value] pair */
	uint16_t pairok[FQ_MAX_PATHS]; /* ... whose key matched */
	uint32_t nchild;
	bool list;
};

struct fq_matcher {
	const struct sonde_filter *f;
	int64_t now_us;
	uint64_t done; /* atoms found true */
	unsigned depth; /* levels in use (the root is level 0) */
	unsigned skip; /* levels below an uninteresting one */
	struct fq_level lv[FQ_MAX_DEPTH];
};

void fq_matcher_init(struct fq_matcher *m, const struct sonde_filter *f, uint64_t now_us);
/* A member (name, n) or, with name NULL, the next element of a list.
 * Returns false when nothing under it is wanted (the caller may skip it,
 * or go on calling: the matcher ignores it). */
bool fq_begin(struct fq_matcher *m, const char *name, size_t n, bool list);
void fq_end(struct fq_matcher *m);
void fq_scalar(struct fq_matcher *m, const char *name, size_t n, const struct fq_value *v);
/* Would the scalar member `name` (NULL: the next element) be looked at?
 * false: the caller may call fq_scalar_skip() instead, and spare itself
 * making the value (checking text, base64). */
bool fq_scalar_wanted(const struct fq_matcher *m, const char *name, size_t n);
static inline void fq_scalar_skip(struct fq_matcher *m)
{
	if (!m->skip)
		m->lv[m->depth - 1].nchild++;
}
/* The expression's answer over what was seen. */
bool fq_result(const struct fq_matcher *m);
/* The answer already, whatever the top-level members not yet walked hold
 * (walked: their bits, fq_schema_top()'s order)? 1 true, 0 false, -1 not
 * known yet. */
int fq_decided(const struct fq_matcher *m, uint32_t walked);

/* ---- tokens (filter_lex.c) ---- */

enum fq_tok {
	FQ_T_EOF,
	FQ_T_IDENT,
	FQ_T_STRING,
	FQ_T_NUMBER, /* with its unit, if any, in unit/unit_len */
	FQ_T_LPAREN,
	FQ_T_RPAREN,
	FQ_T_LBRACKET,
	FQ_T_RBRACKET,
	FQ_T_DOT,
	FQ_T_COMMA,
	FQ_T_AND,
	FQ_T_OR,
	FQ_T_NOT,
	FQ_T_EQ,
	FQ_T_NE,
	FQ_T_LT,
	FQ_T_LE,
	FQ_T_GT,
	FQ_T_GE,
	FQ_T_TILDE,
	FQ_T_PLUS,
	FQ_T_MINUS,
	FQ_T_ERROR,
};

struct fq_token {
	uint8_t kind;
	size_t col; /* 1-based */
	const char *p; /* IDENT, NUMBER: the text */
	size_t n;
	const char *unit; /* NUMBER */
	size_t unit_len;
	char *str; /* STRING: unescaped, in the filter's text */
	size_t str_len;
	const char *why; /* ERROR */
};

struct fq_lexer {
	const char *src;
	size_t len, pos;
	struct sonde_filter *f; /* strings are unescaped into f->text */
};

/* The next token; FQ_T_ERROR with why and col on a bad one. */
void fq_lex(struct fq_lexer *lx, struct fq_token *t);

/* ---- the pieces ---- */

/* JSON text as matcher events; false when it is not JSON. A record: one
 * object, whose members are the root's. A value: the member `name` (NULL:
 * a list's element) of the current level. */
bool fq_json_record(struct fq_matcher *m, const char *p, size_t n);
bool fq_json_value(struct fq_matcher *m, const char *name, size_t nlen, const char *p, size_t n);
/* RFC 3339 (a prefix: date, then hours, minutes, seconds, fraction; Z or an
 * offset) to µs since the epoch. */
bool fq_parse_time(const uint8_t *s, size_t n, int64_t *us);
/* The schema: the type of a path of docs/records.md (FQ_ANY when unknown),
 * and whether a top-level member exists. */
enum fq_type fq_schema_type(const struct fq_path *p, double *unit_ns);
int fq_schema_top(const char *name, size_t n);

#endif
