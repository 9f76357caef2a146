/* SPDX-License-Identifier: MIT */
/*
 * Inside the filter's parser: its state and the pieces its files share —
 * the tokens (filter_parse.c), fields with their aliases (filter_paths.c),
 * literals and their type checks (filter_literal.c).
 */
#ifndef SONDE_QUERY_FILTER_PARSER_H
#define SONDE_QUERY_FILTER_PARSER_H

#include "query/filter_impl.h"

struct fq_parser {
	struct fq_lexer lx;
	struct fq_token tok; /* the current token */
	struct sonde_filter *f;
	struct sonde_filter_error *err;
	bool failed;
	unsigned depth; /* nesting of parentheses and ! */
};

/* A field as written, resolved: its paths (one, or one per connection end
 * for an alias naming both), its type and unit. */
struct fq_field {
	uint8_t path[2];
	uint8_t npaths;
	enum fq_type type;
	double unit_ns, lit_unit_ns;
	size_t col;
	char name[64]; /* for messages */
};

/* The first error, at col: -1. fmt has one %s, for arg. */
int fq_fail(struct fq_parser *p, size_t col, const char *fmt, const char *arg);
void fq_next(struct fq_parser *p);
/* The token after the current one, without consuming anything. */
struct fq_token fq_peek(struct fq_parser *p);
bool fq_is_word(const struct fq_token *t, const char *w);
/* A path as written -> the field: aliases resolved, interned, typed. */
int fq_parse_field(struct fq_parser *p, struct fq_field *fd);
/* One literal; leaves the token after it current. */
int fq_parse_literal(struct fq_parser *p, struct fq_lit *l);
/* Is literal l fit for op on the field? Converts it where the field says. */
int fq_check_literal(struct fq_parser *p, const struct fq_field *fd, uint8_t op, struct fq_lit *l,
		     size_t col);
int fq_type_error(struct fq_parser *p, const struct fq_field *fd, size_t col, const char *why);

#endif
