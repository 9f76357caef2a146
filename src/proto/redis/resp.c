/* SPDX-License-Identifier: MIT */
/*
 * The RESP parser (see resp.h). One state per thing a value's bytes can be
 * in the middle of: its type byte, the rest of its line, a bulk payload and
 * the CRLF after it, an inline command. Aggregates are a stack of frames
 * counting the elements still to come; an attribute is not an element of
 * what holds it (it annotates the element after it), so its end counts for
 * nothing. Each step takes at least one byte or changes state, so no input
 * can make the parser spin.
 */
#include "proto/redis/resp.h"

#include <stdlib.h>
#include <string.h>

#include "core/hex.h"

#define LINE_NUM_MAX 22 /* a length or count: sign and 20 digits */
#define LINE_TEXT_MAX (1u << 20) /* simple strings, errors, doubles, big numbers */
#define INLINE_MAX (64u << 10) /* Redis refuses longer inline commands too */
#define DECLARED_MAX (1ull << 32) /* largest declared length or count believed */

bool sonde_resp_type_byte(uint8_t c, bool resp3)
{
	switch (c) {
	case '+':
	case '-':
	case ':':
	case '$':
	case '*': return true;
	case '_':
	case '#':
	case ',':
	case '(':
	case '!':
	case '=':
	case '%':
	case '~':
	case '|':
	case '>': return resp3;
	}
	return false;
}

static bool is_aggregate(uint8_t t)
{
	return t == '*' || t == '%' || t == '~' || t == '|' || t == '>';
}

static bool is_payload(uint8_t t)
{
	return t == '$' || t == '!' || t == '=';
}

void sonde_resp_value_free(struct sonde_resp_value *v)
{
	free(v->node);
	sonde_buf_free(&v->text);
	memset(v, 0, sizeof(*v));
}

void sonde_resp_init(struct sonde_resp_parser *ps, const struct sonde_resp_limits *lim, bool client)
{
	memset(ps, 0, sizeof(*ps));
	ps->lim = *lim;
	ps->client = client;
	ps->cur = -1;
}

void sonde_resp_free(struct sonde_resp_parser *ps)
{
	sonde_resp_value_free(&ps->v);
}

void sonde_resp_reset(struct sonde_resp_parser *ps)
{
	ps->v.n = 0;
	sonde_buf_reset(&ps->v.text);
	ps->v.cut = false;
	ps->v.is_inline = false;
	ps->v.malformed = false;
	ps->st = RESP_TYPE;
	ps->depth = 0;
	ps->cur = -1;
	ps->bytes = 0;
	ps->hdr_len = 0;
	ps->line_len = 0;
	ps->tok = false;
	ps->ntok = 0;
	ps->quote = 0;
	ps->esc = ps->closed = false;
	ps->xn = 0;
	ps->why = NULL;
}

bool sonde_resp_idle(const struct sonde_resp_parser *ps)
{
	return ps->st == RESP_TYPE && !ps->depth && !ps->bytes;
}

void sonde_resp_take(struct sonde_resp_parser *ps, struct sonde_resp_value *out)
{
	*out = ps->v;
	memset(&ps->v, 0, sizeof(ps->v));
	sonde_resp_reset(ps);
}

static enum sonde_resp_rc bad(struct sonde_resp_parser *ps, const char *why)
{
	ps->why = why;
	return SONDE_RESP_BAD;
}

/* A new node at the current depth, or -1 when past the bounds (or its
 * parent was not kept either). */
static int32_t node_add(struct sonde_resp_parser *ps, uint8_t type)
{
	struct sonde_resp_value *v = &ps->v;
	int32_t parent = ps->depth ? ps->stack[ps->depth - 1].node : 0;
	if (parent < 0)
		return -1;
	if (v->n >= ps->lim.nodes) {
		v->cut = true;
		if (ps->depth)
			v->node[parent].cut = true;
		return -1;
	}
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 8;
		if (cap > ps->lim.nodes)
			cap = ps->lim.nodes;
		v->node = sonde_xrealloc(v->node, cap * sizeof(*v->node));
		v->cap = cap;
	}
	v->node[v->n] = (struct sonde_resp_node){
		.type = type,
		.depth = (uint8_t)ps->depth,
		.off = (uint32_t)v->text.len,
	};
	return (int32_t)v->n++;
}

/* Keep what the bounds allow of n more bytes of node i (the newest node:
 * a node's bytes are contiguous in the text). */
static void keep(struct sonde_resp_parser *ps, int32_t i, const uint8_t *p, size_t n)
{
	if (i < 0 || !n)
		return;
	struct sonde_resp_value *v = &ps->v;
	struct sonde_resp_node *nd = &v->node[i];
	size_t room = ps->lim.item > nd->len ? ps->lim.item - nd->len : 0;
	size_t troom = ps->lim.text > v->text.len ? ps->lim.text - v->text.len : 0;
	if (troom < room)
		room = troom;
	size_t k = n < room ? n : room;
	if (k) {
		sonde_buf_append(&v->text, p, k);
		nd->len += (uint32_t)k;
	}
	if (k < n) {
		nd->cut = true;
		v->cut = true;
	}
}

/* A value (or an attribute) ended: count it as an element of the aggregate
 * holding it, closing every aggregate it completes. */
static enum sonde_resp_rc value_done(struct sonde_resp_parser *ps, bool attr)
{
	for (;;) {
		if (attr)
			return SONDE_RESP_MORE; /* the annotated value is still to come */
		if (!ps->depth)
			return SONDE_RESP_DONE;
		struct resp_frame *f = &ps->stack[ps->depth - 1];
		if (--f->left)
			return SONDE_RESP_MORE;
		attr = f->type == '|';
		ps->depth--;
	}
}

/* A decimal integer of 1 to 19 digits, with an optional sign. */
static bool parse_num(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	if (n && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == n || n - i > 19)
		return false;
	uint64_t v = 0; /* 19 digits fit */
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* The header line of an aggregate or a payload is complete. */
static enum sonde_resp_rc header_done(struct sonde_resp_parser *ps, struct sonde_resp_node *nd)
{
	uint8_t t = ps->type;
	int64_t k;
	if (!parse_num(ps->hdr, ps->hdr_len, &k))
		return bad(ps, "bad length");
	if (k == -1 && (t == '$' || t == '*')) {
		if (nd)
			nd->null = true;
		return value_done(ps, false);
	}
	if (k < 0 || (uint64_t)k > DECLARED_MAX)
		return bad(ps, "length out of range");
	uint64_t cnt = (uint64_t)k;
	if (t == '%' || t == '|')
		cnt *= 2;
	if (nd)
		nd->size = cnt;
	if (is_payload(t)) {
		ps->left = cnt;
		ps->st = cnt ? RESP_PAYLOAD : RESP_PAYLOAD_CR;
		return SONDE_RESP_MORE;
	}
	if (!cnt)
		return value_done(ps, t == '|');
	if (ps->depth == SONDE_RESP_DEPTH)
		return bad(ps, "nested too deep");
	ps->stack[ps->depth++] = (struct resp_frame){ t, ps->cur, cnt };
	return SONDE_RESP_MORE;
}

/* A line is complete (its CRLF read). */
static enum sonde_resp_rc line_done(struct sonde_resp_parser *ps)
{
	uint8_t t = ps->type;
	struct sonde_resp_node *nd = ps->cur >= 0 ? &ps->v.node[ps->cur] : NULL;
	ps->st = RESP_TYPE;
	if (is_aggregate(t) || is_payload(t))
		return header_done(ps, nd);
	if (nd)
		nd->size = ps->line_len;
	int64_t k;
	switch (t) {
	case ':':
		if (!parse_num(ps->hdr, ps->hdr_len, &k))
			return bad(ps, "bad integer");
		break;
	case '(':
		if (!ps->line_len)
			return bad(ps, "empty big number");
		break;
	case '#':
		if (ps->line_len != 1 || (ps->hdr[0] != 't' && ps->hdr[0] != 'f'))
			return bad(ps, "bad boolean");
		break;
	case '_':
		if (ps->line_len)
			return bad(ps, "bad null");
		break;
	case ',':
		if (!ps->line_len)
			return bad(ps, "empty double");
		break;
	}
	return value_done(ps, false);
}

static size_t step_type(struct sonde_resp_parser *ps, uint8_t c, enum sonde_resp_rc *rc)
{
	if (ps->client && !ps->depth) {
		if (!ps->bytes && (c == '\r' || c == '\n'))
			return 1; /* an empty line between commands */
		if (c != '*') {
			ps->st = RESP_INLINE;
			ps->v.is_inline = true;
			return 0;
		}
	} else if (ps->client && c != '$') {
		*rc = bad(ps, "command element is not a bulk string");
		return 1;
	} else if (!sonde_resp_type_byte(c, ps->resp3)) {
		*rc = bad(ps, "not a RESP type");
		return 1;
	}
	ps->type = c;
	ps->cur = node_add(ps, c);
	ps->hdr_len = 0;
	ps->line_len = 0;
	ps->st = RESP_LINE;
	ps->bytes++;
	return 1;
}

static size_t step_line(struct sonde_resp_parser *ps, const uint8_t *p, size_t n,
			enum sonde_resp_rc *rc)
{
	size_t k = 0;
	while (k < n && p[k] != '\r' && p[k] != '\n')
		k++;
	bool numeric = is_aggregate(ps->type) || is_payload(ps->type) || ps->type == ':';
	size_t hk = sizeof(ps->hdr) - ps->hdr_len;
	if (hk > k)
		hk = k;
	memcpy(ps->hdr + ps->hdr_len, p, hk);
	ps->hdr_len += (uint32_t)hk;
	ps->line_len += k;
	ps->bytes += k;
	if (ps->line_len > (numeric ? LINE_NUM_MAX : LINE_TEXT_MAX)) {
		*rc = bad(ps, "line too long");
		return k;
	}
	if (!is_aggregate(ps->type) && !is_payload(ps->type))
		keep(ps, ps->cur, p, k);
	if (k == n)
		return k;
	if (p[k] == '\n') {
		*rc = bad(ps, "LF without CR");
		return k + 1;
	}
	ps->st = RESP_LINE_LF;
	ps->bytes++;
	return k + 1;
}

/* Start the next inline token: the command's array node first. */
static void inline_token(struct sonde_resp_parser *ps)
{
	if (ps->tok)
		return;
	if (!ps->ntok++) {
		ps->depth = 0;
		int32_t a = node_add(ps, SONDE_RESP_ARRAY);
		ps->stack[0] = (struct resp_frame){ SONDE_RESP_ARRAY, a, UINT64_MAX };
		ps->depth = 1;
	}
	ps->cur = node_add(ps, SONDE_RESP_BULK);
	ps->tok = true;
}

static void inline_put(struct sonde_resp_parser *ps, uint8_t c)
{
	inline_token(ps);
	keep(ps, ps->cur, &c, 1);
	if (ps->cur >= 0)
		ps->v.node[ps->cur].size++;
}

/* The line ended: the command is done (a blank line is none). */
static enum sonde_resp_rc inline_end(struct sonde_resp_parser *ps)
{
	if (!ps->ntok) {
		sonde_resp_reset(ps);
		return SONDE_RESP_MORE;
	}
	if (ps->v.n)
		ps->v.node[0].size = ps->ntok;
	ps->depth = 0;
	ps->st = RESP_TYPE;
	return SONDE_RESP_DONE;
}

/*
 * A byte inside quotes, the way Redis splits inline commands: in double
 * quotes \n \r \t \b \a and \xHH stand for bytes and \ makes any other
 * byte itself; in single quotes only \' is an escape.
 */
static enum sonde_resp_rc inline_quoted(struct sonde_resp_parser *ps, uint8_t c)
{
	static const char esc_in[] = "nrtba", esc_out[] = "\n\r\t\b\a";
	if (ps->xn) { /* after \x */
		if (sonde_hexval(c) >= 0 && ps->xn == 1) {
			ps->xb = c;
			ps->xn = 2;
			return SONDE_RESP_MORE;
		}
		int v = sonde_hexbyte(ps->xb, c);
		bool both = v >= 0;
		if (both)
			inline_put(ps, (uint8_t)v);
		else
			inline_put(ps, 'x');
		if (!both && ps->xn == 2)
			inline_put(ps, ps->xb);
		ps->xn = 0;
		if (both)
			return SONDE_RESP_MORE;
	}
	if (c == '\n') {
		/* Redis answers it with an error: a command still; its
		 * line's CR is not the token's */
		struct sonde_resp_node *nd = ps->cur >= 0 ? &ps->v.node[ps->cur] : NULL;
		if (nd && nd->len && !nd->cut && ps->v.text.p[nd->off + nd->len - 1] == '\r') {
			nd->len--;
			nd->size--;
			ps->v.text.len--;
		}
		ps->v.malformed = true;
		return inline_end(ps);
	}
	if (ps->esc) {
		ps->esc = false;
		if (ps->quote == '\'') {
			if (c == '\'') {
				inline_put(ps, c);
				return SONDE_RESP_MORE;
			}
			inline_put(ps, '\\');
		} else if (c == 'x') {
			ps->xn = 1;
			return SONDE_RESP_MORE;
		} else {
			const char *e = memchr(esc_in, c, 5);
			inline_put(ps, e ? (uint8_t)esc_out[e - esc_in] : c);
			return SONDE_RESP_MORE;
		}
	}
	if (c == '\\')
		ps->esc = true;
	else if (c == ps->quote)
		ps->quote = 0, ps->closed = true;
	else
		inline_put(ps, c);
	return SONDE_RESP_MORE;
}

static enum sonde_resp_rc inline_byte(struct sonde_resp_parser *ps, uint8_t c)
{
	bool space = c == ' ' || c == '\t' || c == '\r';
	if (ps->bytes > INLINE_MAX)
		return bad(ps, "inline command too long");
	if ((c < 0x20 && c != '\n' && !space) || c == 0x7f)
		return bad(ps, "control byte in an inline command");
	if (ps->quote)
		return inline_quoted(ps, c);
	if (ps->closed && !space && c != '\n')
		ps->v.malformed = true; /* a closing quote must end its token */
	if (c == '\n')
		return inline_end(ps);
	if (space) {
		ps->tok = false;
		ps->closed = false;
	} else if (c == '"' || c == '\'') {
		inline_token(ps); /* "" is an empty argument */
		ps->quote = c;
	} else {
		inline_put(ps, c);
	}
	return SONDE_RESP_MORE;
}

static size_t step_inline(struct sonde_resp_parser *ps, const uint8_t *p, size_t n,
			  enum sonde_resp_rc *rc)
{
	size_t k = 0;
	while (k < n && *rc == SONDE_RESP_MORE) {
		ps->bytes++;
		*rc = inline_byte(ps, p[k++]);
		if (ps->st == RESP_TYPE && *rc == SONDE_RESP_MORE)
			return k; /* a blank line, reset */
	}
	return k;
}

static size_t step(struct sonde_resp_parser *ps, const uint8_t *p, size_t n, enum sonde_resp_rc *rc)
{
	switch (ps->st) {
	case RESP_TYPE: return step_type(ps, p[0], rc);
	case RESP_LINE: return step_line(ps, p, n, rc);
	case RESP_LINE_LF:
		if (p[0] != '\n') {
			*rc = bad(ps, "CR without LF");
			return 1;
		}
		ps->bytes++;
		*rc = line_done(ps);
		return 1;
	case RESP_PAYLOAD: {
		size_t k = n < ps->left ? n : (size_t)ps->left;
		keep(ps, ps->cur, p, k);
		ps->left -= k;
		ps->bytes += k;
		if (!ps->left)
			ps->st = RESP_PAYLOAD_CR;
		return k;
	}
	case RESP_PAYLOAD_CR:
		if (p[0] != '\r')
			*rc = bad(ps, "payload longer than declared");
		ps->st = RESP_PAYLOAD_LF;
		ps->bytes++;
		return 1;
	case RESP_PAYLOAD_LF:
		if (p[0] != '\n') {
			*rc = bad(ps, "payload not ended by CRLF");
			return 1;
		}
		ps->bytes++;
		ps->st = RESP_TYPE;
		*rc = value_done(ps, false);
		return 1;
	case RESP_INLINE: return step_inline(ps, p, n, rc);
	}
	*rc = bad(ps, "parser state");
	return n;
}

enum sonde_resp_rc sonde_resp_feed(struct sonde_resp_parser *ps, const uint8_t *p, size_t n,
				   size_t *used)
{
	enum sonde_resp_rc rc = SONDE_RESP_MORE;
	size_t i = 0;
	while (i < n && rc == SONDE_RESP_MORE)
		i += step(ps, p + i, n - i, &rc);
	*used = i;
	return rc;
}

bool sonde_resp_skip(struct sonde_resp_parser *ps, uint64_t n)
{
	if (ps->st != RESP_PAYLOAD || n > ps->left)
		return false;
	ps->left -= n;
	if (!ps->left)
		ps->st = RESP_PAYLOAD_CR;
	ps->v.cut = true;
	if (ps->cur >= 0)
		ps->v.node[ps->cur].cut = true;
	return true;
}

uint32_t sonde_resp_next(const struct sonde_resp_value *v, uint32_t i)
{
	uint32_t j = i + 1;
	while (j < v->n && v->node[j].depth > v->node[i].depth)
		j++;
	return j;
}

bool sonde_resp_ieq(const struct sonde_resp_value *v, const struct sonde_resp_node *nd,
		    const char *s)
{
	size_t n = strlen(s);
	if (nd->len != n || nd->cut)
		return false;
	const uint8_t *p = sonde_resp_bytes(v, nd);
	for (size_t i = 0; i < n; i++) {
		uint8_t a = p[i], b = (uint8_t)s[i];
		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

bool sonde_resp_int(const struct sonde_resp_value *v, const struct sonde_resp_node *nd,
		    int64_t *out)
{
	if (nd->cut)
		return false;
	return parse_num((const char *)sonde_resp_bytes(v, nd), nd->len, out);
}

const char *sonde_resp_type_name(uint8_t type)
{
	switch (type) {
	case '+': return "simple_string";
	case '-': return "error";
	case ':': return "integer";
	case '$': return "bulk_string";
	case '*': return "array";
	case '_': return "null";
	case '#': return "boolean";
	case ',': return "double";
	case '(': return "big_number";
	case '!': return "bulk_error";
	case '=': return "verbatim_string";
	case '%': return "map";
	case '~': return "set";
	case '|': return "attribute";
	case '>': return "push";
	}
	return "unknown";
}
