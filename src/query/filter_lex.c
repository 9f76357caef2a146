/* SPDX-License-Identifier: MIT */
/* The filter's tokens (docs/filter.md, "Grammar"). */
#include <string.h>

#include "core/hex.h"
#include "query/filter_impl.h"

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* A quoted string, raw (r"...": no escapes) or with \\ \" \' \n \r \t \0
 * \xHH, unescaped into the filter's text (which is as long as the source,
 * so it always fits). */
static void lex_string(struct fq_lexer *lx, struct fq_token *t, bool raw)
{
	char q = lx->src[lx->pos++];
	struct sonde_filter *f = lx->f;
	char *out = f->text + f->text_used;
	size_t n = 0;
	while (lx->pos < lx->len && lx->src[lx->pos] != q) {
		char c = lx->src[lx->pos++];
		if (c == '\\' && !raw) {
			size_t at = lx->pos;
			char e = at < lx->len ? lx->src[lx->pos++] : 0;
			switch (e) {
			case '\\': c = '\\'; break;
			case '"': c = '"'; break;
			case '\'': c = '\''; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case '0': c = 0; break;
			case 'x': {
				int v = lx->pos + 1 < lx->len
						? sonde_hexbyte((uint8_t)lx->src[lx->pos],
								(uint8_t)lx->src[lx->pos + 1])
						: -1;
				if (v < 0) {
					t->kind = FQ_T_ERROR;
					t->col = at;
					t->why = "\\x takes two hex digits";
					return;
				}
				c = (char)v;
				lx->pos += 2;
				break;
			}
			default:
				t->kind = FQ_T_ERROR;
				t->col = at;
				t->why = "unknown escape (\\\\ \\\" \\' \\n \\r \\t \\0 \\xHH; "
					 "or a raw string r\"...\")";
				return;
			}
		}
		out[n++] = c;
	}
	if (lx->pos >= lx->len) {
		t->kind = FQ_T_ERROR;
		t->why = "the string does not end (a closing quote is missing)";
		return;
	}
	lx->pos++;
	out[n] = 0;
	f->text_used += n + 1;
	t->kind = FQ_T_STRING;
	t->str = out;
	t->str_len = n;
}

static void lex_number(struct fq_lexer *lx, struct fq_token *t)
{
	const char *s = lx->src;
	size_t i = lx->pos;
	while (i < lx->len && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i + 1 < lx->len && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
		i++;
		while (i < lx->len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	t->kind = FQ_T_NUMBER;
	t->p = s + lx->pos;
	t->n = i - lx->pos;
	size_t u = i;
	while (i < lx->len && is_ident(s[i]))
		i++;
	t->unit = s + u;
	t->unit_len = i - u;
	lx->pos = i;
}

struct punct {
	const char *s;
	uint8_t kind;
};

static const struct punct puncts[] = {
	{ "&&", FQ_T_AND },     { "||", FQ_T_OR },      { "==", FQ_T_EQ },    { "!=", FQ_T_NE },
	{ "<=", FQ_T_LE },      { ">=", FQ_T_GE },      { "(", FQ_T_LPAREN }, { ")", FQ_T_RPAREN },
	{ "[", FQ_T_LBRACKET }, { "]", FQ_T_RBRACKET }, { ".", FQ_T_DOT },    { ",", FQ_T_COMMA },
	{ "!", FQ_T_NOT },      { "<", FQ_T_LT },       { ">", FQ_T_GT },     { "~", FQ_T_TILDE },
	{ "+", FQ_T_PLUS },     { "-", FQ_T_MINUS },    { "=", FQ_T_EQ }, /* as tshark takes it */
};

void fq_lex(struct fq_lexer *lx, struct fq_token *t)
{
	const char *s = lx->src;
	while (lx->pos < lx->len && (s[lx->pos] == ' ' || s[lx->pos] == '\t' ||
				     s[lx->pos] == '\n' || s[lx->pos] == '\r'))
		lx->pos++;
	memset(t, 0, sizeof(*t));
	t->col = lx->pos + 1;
	if (lx->pos >= lx->len) {
		t->kind = FQ_T_EOF;
		return;
	}
	char c = s[lx->pos];
	if (c == '"' || c == '\'') {
		lex_string(lx, t, false);
		return;
	}
	if (c == 'r' && lx->pos + 1 < lx->len &&
	    (s[lx->pos + 1] == '"' || s[lx->pos + 1] == '\'')) {
		lx->pos++;
		lex_string(lx, t, true);
		return;
	}
	if (c >= '0' && c <= '9') {
		lex_number(lx, t);
		return;
	}
	if (is_ident_start(c)) {
		size_t i = lx->pos;
		while (i < lx->len && is_ident(s[i]))
			i++;
		t->kind = FQ_T_IDENT;
		t->p = s + lx->pos;
		t->n = i - lx->pos;
		lx->pos = i;
		return;
	}
	for (size_t i = 0; i < sizeof(puncts) / sizeof(*puncts); i++) {
		size_t n = strlen(puncts[i].s);
		if (lx->pos + n <= lx->len && !memcmp(s + lx->pos, puncts[i].s, n)) {
			t->kind = puncts[i].kind;
			lx->pos += n;
			return;
		}
	}
	t->kind = FQ_T_ERROR;
	t->why = c == '&'   ? "'&' alone: the operator is && (or 'and')"
		 : c == '|' ? "'|' alone: the operator is || (or 'or')"
			    : "a character the language does not use here";
}
