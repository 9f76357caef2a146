/* SPDX-License-Identifier: MIT */
/* The redaction stage: masked views of a record's messages (redact_stage.h). */
#include "redact/redact_stage.h"

#include <stdlib.h>
#include <string.h>

/* Secrets a walk masked, kept for masking the same bytes in the summary. */
#define SECRETS_MAX 32
#define SECRETS_BYTES 4096

struct secrets {
	uint8_t buf[SECRETS_BYTES];
	uint32_t off[SECRETS_MAX], len[SECRETS_MAX];
	size_t n, used;
};

/* ------------------------------------------------------ masking visitor --- */

/*
 * Command lines masked lately: the same process's command line comes with
 * every record of its connections (once per end and once for the traced
 * process), and scanning it is most of a live record's masking. Keyed by
 * content, so a process that exec'd or a reused pid is scanned afresh.
 */
#define CMDLINE_MEMO 16
#define CMDLINE_MEMO_MAX 4096 /* longer ones are scanned every time */

struct cmdline_memo {
	uint64_t hash;
	uint32_t n_spans; /* values it masked: counted at every use */
	struct sonde_buf orig, masked;
};

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

struct mask_visit {
	const struct sonde_redactor *r;
	const struct sonde_field_ops *next; /* where masked fields go */
	void *nctx;
	struct sonde_buf scratch;
	struct sonde_stats *st; /* NULL: do not count (the summary's walk) */
	struct secrets *collect; /* non-NULL: remember what was masked */
	struct cmdline_memo *memo; /* CMDLINE_MEMO slots, or NULL */
};

static void remember(struct secrets *s, const uint8_t *p, const struct sonde_redact_spans *sp,
		     size_t n)
{
	for (uint32_t i = 0; i < sp->n && s->n < SECRETS_MAX; i++) {
		size_t off = sp->s[i].off, len = sp->s[i].len;
		if (i + 1 == sp->n && sp->overflow)
			len = n - off;
		if (off >= n || len > n - off || len > SECRETS_BYTES - s->used)
			continue;
		memcpy(s->buf + s->used, p + off, len);
		s->off[s->n] = (uint32_t)s->used;
		s->len[s->n++] = (uint32_t)len;
		s->used += len;
	}
}

/* p with the spans masked, in the visit's scratch; p itself when none. */
static const uint8_t *masked(struct mask_visit *mv, const uint8_t *p, size_t *n,
			     const struct sonde_redact_spans *sp)
{
	if (!sp->n)
		return p;
	if (mv->st)
		mv->st->redacted_values += sp->n;
	if (mv->collect)
		remember(mv->collect, p, sp, *n);
	sonde_buf_reset(&mv->scratch);
	sonde_redact_apply(mv->r, p, *n, sp, &mv->scratch);
	*n = mv->scratch.len;
	return mv->scratch.p ? mv->scratch.p : (const uint8_t *)"";
}

/* A command line, masked, through the memo when the visit has one. */
static void mv_cmdline(struct mask_visit *mv, const char *name, const uint8_t *p, size_t n)
{
	struct sonde_redact_spans sp;
	sonde_redact_spans_clear(&sp);
	if (!mv->memo || mv->collect || n > CMDLINE_MEMO_MAX) {
		sonde_redact_scan_cmdline(mv->r, p, n, &sp);
		p = masked(mv, p, &n, &sp);
		mv->next->str(mv->nctx, name, p, n);
		return;
	}
	uint64_t h = fnv1a(p, n);
	struct cmdline_memo *m = &mv->memo[h % CMDLINE_MEMO];
	if (m->hash != h || m->orig.len != n || (n && memcmp(m->orig.p, p, n))) {
		sonde_redact_scan_cmdline(mv->r, p, n, &sp);
		m->hash = h;
		m->n_spans = sp.n;
		sonde_buf_reset(&m->orig);
		sonde_buf_append(&m->orig, p, n);
		sonde_buf_reset(&m->masked);
		if (sp.n)
			sonde_redact_apply(mv->r, p, n, &sp, &m->masked);
		else
			sonde_buf_append(&m->masked, p, n);
	}
	if (mv->st)
		mv->st->redacted_values += m->n_spans;
	mv->next->str(mv->nctx, name, m->masked.p ? m->masked.p : (const uint8_t *)"",
		      m->masked.len);
}

static void mv_str(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct mask_visit *mv = ctx;
	struct sonde_redact_spans sp;
	sonde_redact_spans_clear(&sp);
	if (name && !strcmp(name, "target"))
		sonde_redact_scan_url(mv->r, p, n, &sp);
	else if (name && !strcmp(name, "cmdline")) {
		mv_cmdline(mv, name, p, n);
		return;
	}
	p = masked(mv, p, &n, &sp);
	mv->next->str(mv->nctx, name, p, n);
}

static void mv_secret(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct mask_visit *mv = ctx;
	struct sonde_redact_spans sp;
	sonde_redact_spans_clear(&sp);
	sonde_redact_spans_add(&sp, 0, n);
	if (!n) { /* an empty password still says there was one */
		mv->next->str(mv->nctx, name, (const uint8_t *)"****[0]", 7);
		return;
	}
	p = masked(mv, p, &n, &sp);
	mv->next->str(mv->nctx, name, p, n);
}

static void mv_bytes(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct mask_visit *mv = ctx;
	struct sonde_redact_spans sp;
	sonde_redact_spans_clear(&sp);
	sonde_redact_scan_body(mv->r, p, n, &sp);
	p = masked(mv, p, &n, &sp);
	mv->next->bytes(mv->nctx, name, p, n);
}

static void mv_json(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct mask_visit *mv = ctx;
	struct sonde_redact_spans sp;
	sonde_redact_spans_clear(&sp);
	sonde_redact_scan_json(mv->r, p, n, &sp);
	p = masked(mv, p, &n, &sp);
	mv->next->json(mv->nctx, name, p, n);
}

static void mv_header(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value,
		      size_t vlen)
{
	struct mask_visit *mv = ctx;
	struct sonde_redact_spans sp;
	sonde_redact_spans_clear(&sp);
	sonde_redact_scan_header(mv->r, sonde_redact_header_kind(mv->r, name, nlen), value, vlen,
				 &sp);
	sonde_redact_scan_patterns(mv->r, value, vlen, &sp);
	value = masked(mv, value, &vlen, &sp);
	mv->next->header(mv->nctx, name, nlen, value, vlen);
}

static void mv_null(void *ctx, const char *name)
{
	struct mask_visit *mv = ctx;
	mv->next->null(mv->nctx, name);
}

static void mv_u64(void *ctx, const char *name, uint64_t v)
{
	struct mask_visit *mv = ctx;
	mv->next->u64(mv->nctx, name, v);
}

static void mv_i64(void *ctx, const char *name, int64_t v)
{
	struct mask_visit *mv = ctx;
	mv->next->i64(mv->nctx, name, v);
}

static void mv_boolean(void *ctx, const char *name, bool v)
{
	struct mask_visit *mv = ctx;
	mv->next->boolean(mv->nctx, name, v);
}

static void mv_begin(void *ctx, const char *name, enum sonde_field_group g)
{
	struct mask_visit *mv = ctx;
	mv->next->begin(mv->nctx, name, g);
}

static void mv_end(void *ctx, enum sonde_field_group g)
{
	struct mask_visit *mv = ctx;
	mv->next->end(mv->nctx, g);
}

static const struct sonde_field_ops mask_ops = {
	.str = mv_str,
	.null = mv_null,
	.u64 = mv_u64,
	.i64 = mv_i64,
	.boolean = mv_boolean,
	.bytes = mv_bytes,
	.begin = mv_begin,
	.end = mv_end,
	.header = mv_header,
	.json = mv_json,
	.secret = mv_secret,
};

void sonde_redact_msg_fields(const struct sonde_redactor *r, const struct sonde_msg *m,
			     const struct sonde_field_ops *v, void *ctx, struct sonde_stats *st)
{
	struct mask_visit mv = { .r = r, .next = v, .nctx = ctx, .st = st };
	m->ops->fields(m, &mask_ops, &mv);
	sonde_buf_free(&mv.scratch);
}

/* A visitor that drops everything: the summary's walk only collects. */
static void nv_str(void *c, const char *n, const uint8_t *p, size_t l)
{
	(void)c, (void)n, (void)p, (void)l;
}
static void nv_null(void *c, const char *n)
{
	(void)c, (void)n;
}
static void nv_u64(void *c, const char *n, uint64_t v)
{
	(void)c, (void)n, (void)v;
}
static void nv_i64(void *c, const char *n, int64_t v)
{
	(void)c, (void)n, (void)v;
}
static void nv_boolean(void *c, const char *n, bool v)
{
	(void)c, (void)n, (void)v;
}
static void nv_begin(void *c, const char *n, enum sonde_field_group g)
{
	(void)c, (void)n, (void)g;
}
static void nv_end(void *c, enum sonde_field_group g)
{
	(void)c, (void)g;
}
static void nv_header(void *c, const uint8_t *n, size_t nl, const uint8_t *v, size_t vl)
{
	(void)c, (void)n, (void)nl, (void)v, (void)vl;
}
static const struct sonde_field_ops null_ops = {
	.str = nv_str,
	.null = nv_null,
	.u64 = nv_u64,
	.i64 = nv_i64,
	.boolean = nv_boolean,
	.bytes = nv_str,
	.begin = nv_begin,
	.end = nv_end,
	.header = nv_header,
	.json = nv_str,
};

/* ---------------------------------------------------------------- views --- */

struct redact_ctx;

struct redact_view {
	struct sonde_msg base; /* first: a view is a message */
	struct sonde_msg_ops ops;
	const struct sonde_msg *orig;
	struct redact_ctx *rc;
};

struct redact_ctx {
	const struct sonde_redactor *r;
	struct sonde_stats *st;
	struct redact_view view[2];
	struct sonde_buf summary;
	struct mask_visit mv; /* its scratch reused record after record */
	struct mask_visit conn_mv; /* the connection's fields (process command lines) */
	struct cmdline_memo memo[CMDLINE_MEMO];
	struct sonde_record_lens lens;
};

static const struct sonde_field_ops *conn_wrap(void *ctx, const struct sonde_field_ops *v,
					       void *vctx, void **wrapped)
{
	struct redact_ctx *rc = ctx;
	rc->conn_mv.next = v;
	rc->conn_mv.nctx = vctx;
	rc->conn_mv.st = rc->st;
	*wrapped = &rc->conn_mv;
	return &mask_ops;
}

static void view_fields(const struct sonde_msg *m, const struct sonde_field_ops *v, void *ctx)
{
	const struct redact_view *w = (const struct redact_view *)m;
	struct mask_visit *mv = &w->rc->mv;
	mv->next = v;
	mv->nctx = ctx;
	mv->st = w->rc->st;
	mv->collect = NULL;
	w->orig->ops->fields(w->orig, &mask_ops, mv);
}

/* Where a secret (or the start of one a summary cut short) occurs in
 * s[0..n) from `from`: its offset and *len, or n. */
static size_t find_secret(const uint8_t *s, size_t n, size_t from, const uint8_t *sec, size_t slen,
			  size_t *len)
{
	size_t head = slen < 8 ? slen : 8;
	for (size_t i = from; head && i + head <= n; i++) {
		if (memcmp(s + i, sec, head))
			continue;
		size_t k = head;
		while (k < slen && i + k < n && s[i + k] == sec[k])
			k++;
		*len = k; /* all of it, or (8 bytes or more) what the summary kept */
		return i;
	}
	return n;
}

static void view_summary(const struct sonde_msg *m, struct sonde_buf *out)
{
	const struct redact_view *w = (const struct redact_view *)m;
	struct redact_ctx *rc = w->rc;
	struct sonde_buf *s = &rc->summary;
	sonde_buf_reset(s);
	w->orig->ops->summary(w->orig, s);
	/* What the fields walk masks, masked here too, wherever the
	 * protocol's summary put it; and a target's query parameters. */
	struct secrets *sec = malloc(sizeof(*sec));
	struct sonde_redact_spans sp;
	sonde_redact_spans_clear(&sp);
	if (sec) {
		sec->n = sec->used = 0;
		rc->mv = (struct mask_visit){
			.r = rc->r, .next = &null_ops, .scratch = rc->mv.scratch, .collect = sec
		};
		w->orig->ops->fields(w->orig, &mask_ops, &rc->mv);
		for (size_t i = 0; i < sec->n; i++) {
			size_t at = 0, len;
			while ((at = find_secret(s->p, s->len, at, sec->buf + sec->off[i],
						 sec->len[i], &len)) < s->len) {
				sonde_redact_spans_add(&sp, at, len);
				at += len;
			}
		}
		free(sec);
	}
	sonde_redact_scan_url(rc->r, s->p ? s->p : (const uint8_t *)"", s->len, &sp);
	sonde_redact_apply(rc->r, s->p ? s->p : (const uint8_t *)"", s->len, &sp, out);
}

static enum sonde_outcome view_outcome(const struct sonde_msg *m)
{
	const struct redact_view *w = (const struct redact_view *)m;
	return w->orig->ops->outcome(w->orig);
}

static void view_free(struct sonde_msg *m)
{
	(void)m; /* the view is the stage's; the message pairing's */
}

static struct sonde_msg *view_of(struct redact_ctx *rc, int k, struct sonde_msg *orig)
{
	if (!orig)
		return NULL;
	struct redact_view *w = &rc->view[k];
	w->base = *orig;
	w->base.next = NULL;
	/* Every op that takes the message is the view's, calling the
	 * original's with the original (a new op must be added here). */
	w->ops = *orig->ops;
	w->ops.fields = view_fields;
	w->ops.summary = view_summary;
	w->ops.outcome = orig->ops->outcome ? view_outcome : NULL;
	w->ops.free = view_free;
	w->base.ops = &w->ops;
	w->orig = orig;
	w->rc = rc;
	return &w->base;
}

/* ---------------------------------------------------------------- stage --- */

void *sonde_redact_stage_new(const struct sonde_redactor *r, struct sonde_stats *st)
{
	struct redact_ctx *rc = sonde_xcalloc(1, sizeof(*rc));
	rc->r = r;
	rc->st = st;
	rc->mv.r = r;
	rc->conn_mv.r = r;
	rc->conn_mv.memo = rc->memo;
	rc->lens = (struct sonde_record_lens){ conn_wrap, rc, st ? &st->redacted_values : NULL };
	return rc;
}

static bool redact_record(void *ctx, struct sonde_record *rec)
{
	struct redact_ctx *rc = ctx;
	rec->req = view_of(rc, 0, rec->req);
	rec->resp = view_of(rc, 1, rec->resp);
	rec->lens = &rc->lens;
	return true;
}

static int redact_close(void *ctx)
{
	struct redact_ctx *rc = ctx;
	sonde_buf_free(&rc->summary);
	sonde_buf_free(&rc->mv.scratch);
	sonde_buf_free(&rc->conn_mv.scratch);
	for (size_t i = 0; i < CMDLINE_MEMO; i++) {
		sonde_buf_free(&rc->memo[i].orig);
		sonde_buf_free(&rc->memo[i].masked);
	}
	free(rc);
	return 0;
}

const struct sonde_stage_ops sonde_redact_stage = {
	.name = "redact",
	.phase = SONDE_STAGE_REDACT,
	.record = redact_record,
	.close = redact_close,
};

static bool unredacted_record(void *ctx, struct sonde_record *rec)
{
	struct sonde_stats *st = ctx;
	rec->flags |= SONDE_RF_UNREDACTED;
	st->unredacted_records++;
	return true;
}

const struct sonde_stage_ops sonde_unredacted_stage = {
	.name = "unredacted",
	.phase = SONDE_STAGE_REDACT,
	.record = unredacted_record,
};
