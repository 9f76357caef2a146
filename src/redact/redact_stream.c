/* SPDX-License-Identifier: MIT */
/* Same-length masking of the recording's stream bytes (redact_stream.h). */
#include "redact/redact_stream.h"

#include "conn/conntable.h"
#include "redact/redact_h2.h"
#include "redact/redact_resp.h"

#include <stdlib.h>
#include <string.h>

#define TAIL_MAX 512 /* context a direction keeps: a header name, a JSON key, AUTH */
#define SLOTS 4096 /* directions tracked at once (a direct-mapped table) */

/* A secret still open at the end of what was scanned. */
enum open_kind {
	OPEN_NONE = 0,
	OPEN_LINE, /* a header value: up to CR or LF */
	OPEN_JSON_STR, /* a JSON string: up to its closing quote */
	OPEN_TOKEN, /* a bare value: up to a delimiter */
	OPEN_COUNT, /* a Redis bulk string: a known number of bytes */
};

struct dir_state {
	struct sonde_flow flow;
	uint64_t conn_id;
	uint64_t next_seq; /* where the next chunk should start */
	uint8_t tail[TAIL_MAX]; /* the last bytes, as captured */
	uint32_t tail_len;
	uint8_t open; /* enum open_kind */
	bool escape; /* OPEN_JSON_STR: the last byte was a backslash */
	uint32_t open_count; /* OPEN_COUNT: bytes left */
	/* HTTP/2, told from the direction's first bytes (redact_h2.h) */
	uint8_t h2_mode; /* enum h2_mode */
	uint8_t first[24]; /* the first bytes, until decided */
	uint8_t first_len;
	struct sonde_redact_h2 *h2;
};

enum h2_mode {
	H2_UNDECIDED = 0,
	H2_NO,
	H2_YES,
};

static const uint8_t PREFACE[24] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct sonde_redact_stream {
	const struct sonde_redactor *r;
	struct dir_state *slot[SLOTS];
	size_t lo, hi; /* slots ever used lie in [lo, hi): freeing looks there only */
	struct sonde_chunk out; /* the masked copy handed back */
	uint8_t *win; /* tail + chunk */
	size_t win_cap;
};

struct sonde_redact_stream *sonde_redact_stream_new(const struct sonde_redactor *r)
{
	struct sonde_redact_stream *s = sonde_xcalloc(1, sizeof(*s));
	s->r = r;
	return s;
}

void sonde_redact_stream_free(struct sonde_redact_stream *s)
{
	if (!s)
		return;
	for (size_t i = s->lo; i < s->hi; i++)
		if (s->slot[i]) {
			sonde_redact_h2_free(s->slot[i]->h2);
			free(s->slot[i]);
		}
	free(s->win);
	free(s);
}

/* ------------------------------------------------------------ scanning --- */

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("_-.%+[]", c));
}

static bool ends_token(uint8_t c)
{
	return is_space(c) || (c && strchr("&;,\"'#<>}]", c));
}

static size_t line_end(const uint8_t *p, size_t n, size_t i)
{
	while (i < n && p[i] != '\r' && p[i] != '\n')
		i++;
	return i;
}

/* "Name: value" lines (HTTP/1 headers) and inline Redis AUTH. */
static void scan_line(const struct sonde_redactor *r, const uint8_t *p, size_t n, size_t a,
		      struct sonde_redact_spans *sp)
{
	size_t e = line_end(p, n, a);
	size_t k = a;
	while (k < e && k - a <= SONDE_REDACT_NAME_MAX && is_tchar(p[k]))
		k++;
	if (k > a && k < e && p[k] == ':') {
		enum sonde_redact_hdr how = sonde_redact_header_kind(r, p + a, k - a);
		size_t v = k + 1;
		while (v < e && (p[v] == ' ' || p[v] == '\t'))
			v++;
		if (how != SONDE_REDACT_HDR_NONE && v < e) {
			struct sonde_redact_spans hs = { .n = 0 };
			sonde_redact_scan_header(r, how, p + v, e - v, &hs);
			for (uint32_t i = 0; i < hs.n; i++)
				sonde_redact_spans_add(sp, v + hs.s[i].off,
						       hs.overflow && i + 1 == hs.n
							       ? e - v - hs.s[i].off
							       : hs.s[i].len);
		}
		return;
	}
	/* inline Redis commands: AUTH pass, CONFIG SET requirepass pass, ... */
	sonde_redact_scan_inline(p, a, e, sp);
}

/* name=value wherever it is: query strings, form bodies, cookies. */
static void scan_kv(const struct sonde_redactor *r, const uint8_t *p, size_t n,
		    struct sonde_redact_spans *sp)
{
	const uint8_t *eq;
	size_t i = 0;
	while (i < n && (eq = memchr(p + i, '=', n - i))) {
		size_t at = (size_t)(eq - p), a = at;
		i = at + 1;
		while (a > 0 && at - a < 256 && is_name_char(p[a - 1]))
			a--;
		if (a == at || !sonde_redact_field_match(r, p + a, at - a))
			continue;
		size_t e = at + 1;
		while (e < n && !ends_token(p[e]))
			e++;
		sonde_redact_spans_add(sp, at + 1, e - at - 1);
		i = e;
	}
}

/* scheme://user:pass@host wherever it is. */
static void scan_userinfo(const struct sonde_redactor *r, const uint8_t *p, size_t n, bool more,
			  struct sonde_redact_spans *sp)
{
	const uint8_t *m;
	size_t i = 0;
	while (i + 3 <= n && (m = memmem(p + i, n - i, "://", 3))) {
		size_t at = (size_t)(m - p), a = at;
		while (a > 0 && at - a < 32 &&
		       (is_name_char(p[a - 1]) && p[a - 1] != '%' && p[a - 1] != '['))
			a--;
		size_t e = at + 3;
		while (e < n && !sonde_redact_authority_end(p[e]))
			e++;
		if (a < at && e == n && more) {
			/* cut before its end: where its last '@' is, and so
			 * whether there is a password, is not known yet */
			sonde_redact_spans_add(sp, at + 3, n - at - 3);
		} else if (a < at) {
			struct sonde_redact_spans us = { .n = 0 };
			/* only the authority: the query is scan_kv's */
			sonde_redact_scan_url(r, p + a, e - a, &us);
			for (uint32_t k = 0; k < us.n; k++)
				sonde_redact_spans_add(sp, a + us.s[k].off, us.s[k].len);
		}
		i = at + 3;
	}
}

/* What is still open at the end of the scan: the kind of the secret that
 * runs to the end of p, judged by what came before it. */
static int open_at_end(const uint8_t *p, size_t n, const struct sonde_redact_spans *sp,
		       uint32_t left)
{
	if (left)
		return OPEN_COUNT;
	if (!sp->n)
		return OPEN_NONE;
	const struct sonde_redact_span *last = &sp->s[sp->n - 1];
	if (!sp->overflow && last->off + last->len < n)
		return OPEN_NONE;
	uint8_t before = last->off ? p[last->off - 1] : 0;
	if (before == '"')
		return OPEN_JSON_STR;
	if (before == '=' || last->quote)
		return OPEN_TOKEN;
	return OPEN_LINE;
}

/* Is p[a..) the value of a line that frames a message — a RESP length
 * ("$12", "*3") or Content-Length — whose digits are never a card? */
static bool framing_number(const uint8_t *p, size_t a)
{
	if (a >= 1 && (p[a - 1] == '$' || p[a - 1] == '*') && (a == 1 || p[a - 2] == '\n'))
		return true;
	static const char cl[] = "content-length:";
	size_t k = a;
	while (k > 0 && p[k - 1] == ' ')
		k--;
	return k >= sizeof(cl) - 1 &&
	       !strncasecmp((const char *)p + k - (sizeof(cl) - 1), cl, sizeof(cl) - 1);
}

/* Digits at the very end that may be the start of a card number: masked
 * however few (the bytes of this chunk are written now; the next chunk,
 * which would tell, cannot unwrite them). A run that cannot begin a card
 * stays: inside a word, a decimal's fraction, 19 digits already, or a
 * message's framing. */
static void trailing_digits(const uint8_t *p, size_t n, struct sonde_redact_spans *sp)
{
	size_t a = n, digits = 0;
	while (a > 0 &&
	       ((p[a - 1] >= '0' && p[a - 1] <= '9') || p[a - 1] == ' ' || p[a - 1] == '-')) {
		digits += p[a - 1] >= '0' && p[a - 1] <= '9';
		a--;
	}
	while (a < n && (p[a] < '0' || p[a] > '9'))
		a++;
	if (!digits || digits >= 19 || a == n || p[a] < '2' || p[a] > '6')
		return;
	uint8_t before = a ? p[a - 1] : ' ';
	bool in_word = (before >= 'a' && before <= 'z') || (before >= 'A' && before <= 'Z') ||
		       before == '_' || (before >= '0' && before <= '9');
	bool fraction = before == '.' && a > 1 && p[a - 2] >= '0' && p[a - 2] <= '9';
	if (!in_word && !fraction && !framing_number(p, a))
		sonde_redact_spans_add(sp, a, n - a);
}

int sonde_redact_stream_scan(const struct sonde_redactor *r, uint8_t *p, size_t n, size_t ctx,
			     bool more, uint32_t *open_count)
{
	struct sonde_redact_spans sp = { .n = 0 };
	/* every line, the first too: a cut line taken for a header costs at
	 * most a few masked bytes */
	for (size_t a = 0; a < n;) {
		scan_line(r, p, n, a, &sp);
		const uint8_t *nl = memchr(p + a, '\n', n - a);
		a = nl ? (size_t)(nl - p) + 1 : n;
	}
	scan_kv(r, p, n, &sp);
	if (memchr(p, '"', n))
		sonde_redact_scan_json(r, p, n, &sp);
	uint32_t left = sonde_redact_scan_resp(p, n, &sp); /* Redis commands */
	int open = open_at_end(p, n, &sp, left);
	*open_count = left;
	/* secrets whose marker comes after them (a userinfo's '@', a card's
	 * last digit): the next scan sees them whole again in its context;
	 * here what may be one is masked to the end */
	scan_userinfo(r, p, n, more, &sp);
	if (r->cards) {
		sonde_redact_scan_cards(p, n, &sp);
		if (more)
			trailing_digits(p, n, &sp);
	}
	sonde_redact_scan_patterns(r, p, n, &sp);

	/* only what was not written yet is masked */
	for (uint32_t i = 0; i < sp.n; i++) {
		size_t a = sp.s[i].off, e = sp.overflow && i + 1 == sp.n ? n : a + sp.s[i].len;
		if (e > n)
			e = n;
		if (a < ctx)
			a = ctx;
		if (a < e)
			memset(p + a, '*', e - a);
	}
	return open;
}

/* ------------------------------------------------------------ chunks --- */

static uint64_t dir_hash(const struct sonde_chunk *c)
{
	uint64_t h = 1469598103934665603ull;
	const struct sonde_endpoint *e[2] = { &c->flow.src, &c->flow.dst };
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < 16; i++)
			h = (h ^ e[k]->addr[i]) * 1099511628211ull;
		h = (h ^ e[k]->port) * 1099511628211ull;
		h = (h ^ e[k]->family) * 1099511628211ull;
	}
	return (h ^ c->conn_id) * 1099511628211ull;
}

static bool same_dir(const struct dir_state *d, const struct sonde_chunk *c)
{
	const struct sonde_endpoint *a[2] = { &d->flow.src, &d->flow.dst };
	const struct sonde_endpoint *b[2] = { &c->flow.src, &c->flow.dst };
	for (int k = 0; k < 2; k++)
		if (a[k]->family != b[k]->family || a[k]->port != b[k]->port ||
		    memcmp(a[k]->addr, b[k]->addr, 16))
			return false;
	return d->conn_id == c->conn_id;
}

static struct dir_state *dir_of(struct sonde_redact_stream *s, const struct sonde_chunk *c)
{
	size_t i = dir_hash(c) % SLOTS;
	struct dir_state **slot = &s->slot[i];
	if (*slot && same_dir(*slot, c))
		return *slot;
	if (!*slot) {
		*slot = sonde_xmalloc(sizeof(**slot));
		if (s->lo == s->hi)
			s->lo = i, s->hi = i + 1;
		s->lo = i < s->lo ? i : s->lo;
		s->hi = i >= s->hi ? i + 1 : s->hi;
	} else {
		sonde_redact_h2_free((*slot)->h2);
	}
	memset(*slot, 0, sizeof(**slot));
	(*slot)->flow = c->flow;
	(*slot)->conn_id = c->conn_id;
	(*slot)->next_seq = c->seq;
	return *slot;
}

/* How far a secret the last chunk left open goes on into p (the bytes as
 * captured). */
static size_t continue_open(struct dir_state *d, const uint8_t *p, size_t n)
{
	size_t i = 0;
	switch (d->open) {
	case OPEN_LINE:
		while (i < n && p[i] != '\r' && p[i] != '\n')
			i++;
		break;
	case OPEN_JSON_STR:
		for (; i < n; i++) {
			if (p[i] == '"' && !d->escape)
				break;
			d->escape = p[i] == '\\' && !d->escape;
		}
		break;
	case OPEN_TOKEN:
		while (i < n && !ends_token(p[i]))
			i++;
		break;
	case OPEN_COUNT:
		i = n < d->open_count ? n : d->open_count;
		d->open_count -= (uint32_t)i;
		break;
	default: return 0;
	}
	if (i < n || (d->open == OPEN_COUNT && !d->open_count))
		d->open = OPEN_NONE;
	return i;
}

/* The direction's first bytes say whether it is HTTP/2: the client's
 * preface, or a server's SETTINGS frame (its length a multiple of 6). */
static enum h2_mode h2_decide(const struct dir_state *d)
{
	size_t n = d->first_len;
	bool preface = !memcmp(d->first, PREFACE, n < 24 ? n : 24);
	if (preface && n >= 24)
		return H2_YES;
	if (n >= 9 && d->first[3] == 4 && !(d->first[4] & ~1u) && !(d->first[5] & 0x7f) &&
	    !d->first[6] && !d->first[7] && !d->first[8] &&
	    ((uint32_t)d->first[0] << 16 | (uint32_t)d->first[1] << 8 | d->first[2]) % 6 == 0)
		return H2_YES;
	if (preface || n < 9)
		return H2_UNDECIDED;
	return H2_NO;
}

/* HTTP/2 header blocks of the chunk (bytes as captured in p) masked in out. */
static size_t h2_step(struct dir_state *d, const struct sonde_redactor *r,
		      const struct sonde_chunk *c, const uint8_t *p, uint8_t *out, size_t n)
{
	if (d->h2_mode == H2_UNDECIDED) {
		if (c->seq_kind != SONDE_SEQ_STREAM64 || c->seq != d->first_len) {
			d->h2_mode = H2_NO; /* not from the start: not followed */
			return 0;
		}
		size_t take =
			n < sizeof(d->first) - d->first_len ? n : sizeof(d->first) - d->first_len;
		memcpy(d->first + d->first_len, p, take);
		d->first_len += (uint8_t)take;
		d->h2_mode = (uint8_t)h2_decide(d);
		if (d->h2_mode != H2_YES)
			return 0;
		d->h2 = sonde_redact_h2_new();
		/* the client's preface, whole; not a server's SETTINGS whose
		 * length happens to begin with the byte 'P' */
		bool client = d->first_len >= 24 && !memcmp(d->first, PREFACE, 24);
		/* a server's frames begin at 0: what earlier chunks held is fed
		 * unmasked (already written, and only SETTINGS) */
		size_t before = (size_t)c->seq;
		size_t from = client ? 24 : 0;
		if (before > from)
			sonde_redact_h2_feed(d->h2, r, d->first + from, NULL, before - from);
		size_t skip = from > before ? from - before : 0;
		if (skip >= n)
			return 0;
		return sonde_redact_h2_feed(d->h2, r, p + skip, out + skip, n - skip);
	}
	if (d->h2_mode != H2_YES)
		return 0;
	return sonde_redact_h2_feed(d->h2, r, p, out, n);
}

const struct sonde_chunk *sonde_redact_stream_chunk(struct sonde_redact_stream *s,
						    const struct sonde_chunk *c,
						    struct sonde_stats *st)
{
	if (!c->caplen) {
		if (c->flags & (SONDE_CF_FIN | SONDE_CF_RST)) {
			struct dir_state **slot = &s->slot[dir_hash(c) % SLOTS];
			if (*slot && same_dir(*slot, c))
				(*slot)->tail_len = 0, (*slot)->open = OPEN_NONE;
		}
		return c;
	}
	struct dir_state *d = dir_of(s, c);
	if (c->seq_kind == SONDE_SEQ_STREAM64 && c->seq != d->next_seq) {
		d->tail_len = 0; /* a hole: what came before is no context */
		d->open = OPEN_NONE;
		if (d->h2)
			sonde_redact_h2_lost(d->h2);
	}
	size_t n = c->caplen, win = d->tail_len + n;
	if (win > s->win_cap) {
		s->win_cap = win;
		s->win = sonde_xrealloc(s->win, win);
	}
	memcpy(s->win, d->tail, d->tail_len);
	memcpy(s->win + d->tail_len, c->data, n);
	/* the tail keeps the bytes as captured, for the next scan's context */
	size_t keep = win < TAIL_MAX ? win : TAIL_MAX;
	uint8_t next_tail[TAIL_MAX];
	memcpy(next_tail, s->win + win - keep, keep);
	/* the scan reads the bytes as captured; the open secret is masked after */
	size_t cont = continue_open(d, c->data, n);
	uint32_t count = 0;
	int open = sonde_redact_stream_scan(s->r, s->win, win, d->tail_len, true, &count);
	memset(s->win + d->tail_len, '*', cont);
	h2_step(d, s->r, c, c->data, s->win + d->tail_len, n);
	if (open && !d->open) {
		d->open = (uint8_t)open;
		d->open_count = count;
		d->escape = s->win[win - 1] == '\\';
	}
	memcpy(d->tail, next_tail, keep);
	d->tail_len = (uint32_t)keep;
	d->next_seq = c->seq + c->wirelen;
	if (c->flags & (SONDE_CF_FIN | SONDE_CF_RST))
		d->tail_len = 0, d->open = OPEN_NONE;

	const uint8_t *m = s->win + win - n;
	size_t masked = 0;
	for (size_t i = 0; i < n; i++)
		masked += m[i] != c->data[i];
	if (!masked)
		return c;
	if (st)
		st->redacted_recording_bytes += masked;
	s->out = *c;
	s->out.data = m;
	return &s->out;
}

/* ------------------------------------------------------------ --follow --- */

struct sonde_redact_follow {
	struct sonde_follow_out out;
	const struct sonde_follow_out *next;
	struct sonde_redact_stream *s;
	struct sonde_stats *st;
	uint64_t pos[2]; /* stream offset of each direction (one connection) */
};

static void follow_data(void *ctx, const struct sonde_conn_info *c, bool from_client,
			const uint8_t *p, size_t n, uint64_t ts)
{
	struct sonde_redact_follow *f = ctx;
	struct sonde_chunk k = {
		.flow = { .src = from_client ? c->client : c->server,
			  .dst = from_client ? c->server : c->client },
		.seq = f->pos[from_client],
		.seq_kind = SONDE_SEQ_STREAM64,
		.caplen = (uint32_t)n,
		.wirelen = (uint32_t)n,
		.conn_id = c->id,
		.data = p,
	};
	f->pos[from_client] += n;
	const struct sonde_chunk *m =
		n <= UINT32_MAX ? sonde_redact_stream_chunk(f->s, &k, f->st) : &k;
	f->next->data(f->next->ctx, c, from_client, m->data, n, ts);
}

static void follow_gap(void *ctx, const struct sonde_conn_info *c, bool from_client, uint64_t n)
{
	struct sonde_redact_follow *f = ctx;
	f->pos[from_client] += n; /* a hole: the masker drops its context */
	f->next->gap(f->next->ctx, c, from_client, n);
}

struct sonde_redact_follow *sonde_redact_follow_new(const struct sonde_redactor *r,
						    const struct sonde_follow_out *next,
						    struct sonde_stats *st)
{
	if (!r || !next)
		return NULL;
	struct sonde_redact_follow *f = sonde_xcalloc(1, sizeof(*f));
	f->out = (struct sonde_follow_out){ follow_data, follow_gap, f };
	f->next = next;
	f->s = sonde_redact_stream_new(r);
	f->st = st;
	return f;
}

const struct sonde_follow_out *sonde_redact_follow_out(struct sonde_redact_follow *f)
{
	return &f->out;
}

void sonde_redact_follow_free(struct sonde_redact_follow *f)
{
	if (!f)
		return;
	sonde_redact_stream_free(f->s);
	free(f);
}
