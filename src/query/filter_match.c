/* SPDX-License-Identifier: MIT */
/*
 * The filter's matcher: one record's tree as events (from the live walk,
 * filter_record.c, or from its JSON, filter_json.c — the same events, so
 * the same answers), each path of the filter followed through it at once.
 * A level of the tree knows, per path, which of the path's steps it stands
 * at (a bit mask of positions); a value reached at a path's end is handed to
 * the atoms that test the path. Nothing is copied and nothing allocated.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "query/filter_impl.h"

void fq_matcher_init(struct fq_matcher *m, const struct sonde_filter *f, uint64_t now_us)
{
	m->f = f;
	m->now_us = (int64_t)now_us;
	m->done = 0;
	m->depth = 1;
	m->skip = 0;
	struct fq_level *root = &m->lv[0];
	for (size_t p = 0; p < f->npaths; p++) {
		root->pos[p] = 1; /* every path starts at step 0 */
		root->pairk[p] = root->pairok[p] = 0;
	}
	root->nchild = 0;
	root->list = false;
}

/* ----------------------------------------------------------- the atoms --- */

static int num_cmp(const struct fq_num *a, const struct fq_num *b)
{
	if (a->is_int && b->is_int) {
		if (a->neg != b->neg)
			return a->neg ? -1 : 1;
		int c = a->mag < b->mag ? -1 : a->mag > b->mag;
		return a->neg ? -c : c;
	}
	return a->d < b->d ? -1 : a->d > b->d ? 1 : a->d == b->d ? 0 : 2; /* 2: NaN */
}

static bool ordered(uint8_t op, int c)
{
	switch (op) {
	case FQ_OP_EQ:
	case FQ_OP_IN: return c == 0;
	case FQ_OP_LT: return c == -1;
	case FQ_OP_LE: return c == -1 || c == 0;
	case FQ_OP_GT: return c == 1;
	case FQ_OP_GE: return c == 1 || c == 0;
	default: return false;
	}
}

static int bytes_cmp(const uint8_t *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (!c)
		c = an < bn ? -1 : an > bn;
	return c < 0 ? -1 : c > 0;
}

/* regexec() wants a C string (sanitizers read it to its NUL even with
 * REG_STARTEND, which lets it hold a NUL of its own): a copy, on the stack
 * unless it is long. */
static bool re_test(const regex_t *re, const uint8_t *s, size_t n)
{
	char small[1024];
	char *c = n < sizeof(small) ? small : malloc(n + 1);
	if (!c)
		return false;
	memcpy(c, s, n);
	c[n] = 0;
	regmatch_t rm = { .rm_so = 0, .rm_eo = (regoff_t)n };
	bool ok = regexec(re, c, 1, &rm, REG_STARTEND) == 0;
	if (c != small)
		free(c);
	return ok;
}

static bool str_test(const struct fq_atom *a, const struct fq_lit *l, const uint8_t *s, size_t n)
{
	switch (a->op) {
	case FQ_OP_CONTAINS: return !l->n || (n >= l->n && memmem(s, n, l->s, l->n));
	case FQ_OP_STARTS: return n >= l->n && !memcmp(s, l->s, l->n);
	case FQ_OP_ENDS: return n >= l->n && !memcmp(s + n - l->n, l->s, l->n);
	case FQ_OP_MATCHES: return re_test(&a->re, s, n);
	default: return ordered(a->op, bytes_cmp(s, n, l->s, l->n));
	}
}

static int64_t lit_time(const struct fq_matcher *m, const struct fq_lit *l)
{
	return l->now_rel ? m->now_us + l->dur_ns / 1000 : l->time_us;
}

/* One literal against one value. */
static bool lit_test(const struct fq_matcher *m, const struct fq_atom *a, const struct fq_lit *l,
		     const struct fq_value *v)
{
	if (l->type == FQ_NULL)
		return v->kind == FQ_V_NULL;
	if (v->kind == FQ_V_NULL)
		return false;
	if (l->type == FQ_TIME) {
		int64_t t;
		if (v->kind == FQ_V_TIME)
			t = v->time_us;
		else if (v->kind != FQ_V_STR || !fq_parse_time(v->s, v->n, &t))
			return false;
		int64_t lt = lit_time(m, l);
		return ordered(a->op == FQ_OP_IN ? FQ_OP_EQ : a->op, t < lt ? -1 : t > lt);
	}
	if (a->unit_ns) {
		if (v->kind != FQ_V_NUM)
			return false;
		double ns = v->num.d * a->unit_ns;
		return ordered(a->op, ns < l->ns ? -1 : ns > l->ns ? 1 : ns == l->ns ? 0 : 2);
	}
	switch (l->type) {
	case FQ_STR: return v->kind == FQ_V_STR && str_test(a, l, v->s, v->n);
	case FQ_NUM: return v->kind == FQ_V_NUM && ordered(a->op, num_cmp(&v->num, &l->num));
	case FQ_BOOL: return v->kind == FQ_V_BOOL && v->b == l->b;
	default: return false;
	}
}

static bool atom_test(const struct fq_matcher *m, const struct fq_atom *a, const struct fq_value *v)
{
	if (a->op == FQ_OP_HAS)
		return true;
	if (a->op == FQ_OP_TRUTHY)
		return !(v->kind == FQ_V_NULL || (v->kind == FQ_V_BOOL && !v->b));
	for (size_t i = 0; i < a->nlit; i++)
		if (lit_test(m, a, &a->lit[i], v))
			return true;
	return false;
}

/* Path p reached a value (NULL: a container, which only has() and a bare
 * test look at). */
static void reached(struct fq_matcher *m, size_t p, const struct fq_value *v)
{
	const struct sonde_filter *f = m->f;
	uint64_t want = f->path[p].atoms & ~m->done;
	while (want) {
		unsigned i = (unsigned)__builtin_ctzll(want);
		want &= want - 1;
		const struct fq_atom *a = &f->atom[i];
		bool ok = v ? atom_test(m, a, v) : (a->op == FQ_OP_HAS || a->op == FQ_OP_TRUTHY);
		if (ok)
			m->done |= 1ull << i;
	}
}

/* ------------------------------------------------------------ the walk --- */

static bool name_is(const struct fq_step *s, const char *name, size_t n)
{
	return s->n == n && !memcmp(s->s, name, n);
}

/*
 * The positions the child (a member `name`, or the list's element number
 * idx when name is NULL) of level l stands at, for path p; *pairk: the
 * child, a list, may be a [key, value] pair of a KEY step.
 */
static uint16_t child_pos(const struct fq_path *path, const struct fq_level *l, size_t p,
			  const char *name, size_t n, uint32_t idx, bool container, uint16_t *pairk)
{
	uint16_t out = 0;
	*pairk = 0;
	uint16_t at = l->pos[p] & (uint16_t)((1u << path->nsteps) - 1); /* not at the end */
	while (at) {
		unsigned i = (unsigned)__builtin_ctz(at);
		at &= (uint16_t)(at - 1);
		const struct fq_step *s = &path->step[i];
		if (!l->list) {
			if (s->kind != FQ_STEP_INDEX && name && name_is(s, name, n))
				out |= (uint16_t)(2u << i);
		} else if (s->kind == FQ_STEP_INDEX) {
			if (s->index == idx)
				out |= (uint16_t)(2u << i);
		} else if (container) {
			/* through a list: into every element; a KEY's element
			 * may be a [key, value] pair instead */
			out |= (uint16_t)(1u << i);
			if (s->kind == FQ_STEP_KEY)
				*pairk |= (uint16_t)(1u << i);
		}
	}
	/* the value of a pair whose key matched */
	if (l->list && idx == 1)
		out |= (uint16_t)(l->pairok[p] << 1);
	return out;
}

bool fq_begin(struct fq_matcher *m, const char *name, size_t n, bool list)
{
	if (m->skip || m->depth >= FQ_MAX_DEPTH) {
		m->skip++;
		return false;
	}
	const struct sonde_filter *f = m->f;
	struct fq_level *l = &m->lv[m->depth - 1];
	uint32_t idx = l->nchild++;
	struct fq_level *c = &m->lv[m->depth];
	bool any = false;
	for (size_t p = 0; p < f->npaths; p++) {
		uint16_t pk;
		uint16_t pos = child_pos(&f->path[p], l, p, name, n, idx, true, &pk);
		if (!list)
			pk = 0;
		c->pos[p] = pos;
		c->pairk[p] = pk;
		c->pairok[p] = 0;
		if (pos & (1u << f->path[p].nsteps))
			reached(m, p, NULL);
		if (list ? pos || pk : pos & (uint16_t)((1u << f->path[p].nsteps) - 1))
			any = true;
	}
	if (!any) {
		m->skip++;
		return false;
	}
	c->nchild = 0;
	c->list = list;
	m->depth++;
	return true;
}

void fq_end(struct fq_matcher *m)
{
	if (m->skip)
		m->skip--;
	else if (m->depth > 1)
		m->depth--;
}

void fq_scalar(struct fq_matcher *m, const char *name, size_t n, const struct fq_value *v)
{
	if (m->skip)
		return;
	const struct sonde_filter *f = m->f;
	struct fq_level *l = &m->lv[m->depth - 1];
	uint32_t idx = l->nchild++;
	for (size_t p = 0; p < f->npaths; p++) {
		const struct fq_path *path = &f->path[p];
		uint16_t end = (uint16_t)(1u << path->nsteps);
		uint16_t pk;
		uint16_t pos = child_pos(path, l, p, name, n, idx, false, &pk);
		/* the key of a [key, value] pair, compared without case */
		if (l->list && idx == 0 && l->pairk[p] && v->kind == FQ_V_STR) {
			uint16_t k = l->pairk[p];
			while (k) {
				unsigned i = (unsigned)__builtin_ctz(k);
				k &= (uint16_t)(k - 1);
				const struct fq_step *s = &path->step[i];
				if (s->n == v->n && !strncasecmp(s->s, (const char *)v->s, s->n) &&
				    !memchr(v->s, 0, v->n))
					l->pairok[p] |= (uint16_t)(1u << i);
			}
		}
		/* an element of a list the path ends at, or a value the path ends at */
		if ((pos & end) || (l->list && (l->pos[p] & end)))
			reached(m, p, v);
	}
}

bool fq_scalar_wanted(const struct fq_matcher *m, const char *name, size_t n)
{
	if (m->skip)
		return false;
	const struct sonde_filter *f = m->f;
	const struct fq_level *l = &m->lv[m->depth - 1];
	for (size_t p = 0; p < f->npaths; p++) {
		uint16_t end = (uint16_t)(1u << f->path[p].nsteps), pk;
		if (l->list && (l->pairk[p] || l->pairok[p] || (l->pos[p] & end)))
			return true;
		if (child_pos(&f->path[p], l, p, name, n, l->nchild, false, &pk) & end)
			return true;
	}
	return false;
}

/* Three-valued: 1, 0, or -1 for not known yet. */
static int decide(const struct fq_matcher *m, uint32_t walked, uint16_t i, int *memo)
{
	const struct sonde_filter *f = m->f;
	const struct fq_node *nd = &f->node[i];
	int a, b;
	switch (nd->kind) {
	case FQ_N_ATOM:
		if (m->done >> nd->a & 1)
			return 1;
		return (f->atom[nd->a].top & ~walked) ? -1 : 0;
	case FQ_N_NOT: a = memo[nd->a]; return a < 0 ? -1 : !a;
	case FQ_N_AND:
		a = memo[nd->a], b = memo[nd->b];
		return !a || !b ? 0 : a == 1 && b == 1 ? 1 : -1;
	case FQ_N_OR:
		a = memo[nd->a], b = memo[nd->b];
		return a == 1 || b == 1 ? 1 : !a && !b ? 0 : -1;
	default: return nd->value;
	}
}

int fq_decided(const struct fq_matcher *m, uint32_t walked)
{
	int memo[FQ_MAX_NODES];
	for (size_t i = 0; i < m->f->nnodes; i++)
		memo[i] = decide(m, walked, (uint16_t)i, memo);
	return memo[m->f->root];
}

bool fq_result(const struct fq_matcher *m)
{
	const struct sonde_filter *f = m->f;
	/* children come before their parents in the node array */
	bool val[FQ_MAX_NODES];
	for (size_t i = 0; i < f->nnodes; i++) {
		const struct fq_node *nd = &f->node[i];
		switch (nd->kind) {
		case FQ_N_ATOM: val[i] = m->done >> nd->a & 1; break;
		case FQ_N_AND: val[i] = val[nd->a] && val[nd->b]; break;
		case FQ_N_OR: val[i] = val[nd->a] || val[nd->b]; break;
		case FQ_N_NOT: val[i] = !val[nd->a]; break;
		default: val[i] = nd->value; break;
		}
	}
	return val[f->root];
}
