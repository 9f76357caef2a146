/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.0 and HTTP/1.1 dissector.
 *
 * Each direction runs its own state machine over the bytes it is given, split
 * anywhere: idle → head → body (length, chunked, or until close) → idle, one
 * function per state. The head is accumulated (bounded by max_head) and
 * parsed by http1_parse.c; a chunked body is decoded by chunked.c; the body
 * is counted exactly and kept up to the body limit. After a gap, or on
 * bytes that cannot be a message, the direction resynchronises at the next
 * line that starts like a request or status line, counting what it skipped.
 *
 * Requests go to the session when complete; a final response pairs with the
 * oldest waiting one (the dissector's pairing shape: HTTP/1.x answers in
 * order). GraphQL and other content is looked up once per request
 * (content.h) and the response inherits it. 1xx interim responses
 * are attached to the final response. 101 and a successful CONNECT hand the
 * rest of the connection on (session->switch_to).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/dissector.h"
#include "proto/session.h"
#include "proto/content/content.h"
#include "proto/http/http1_msg.h"
#include "proto/http/http1_parse.h"
#include "proto/http/chunked.h"

#define MAX_HEADERS SONDE_H1_MAX_HEADERS

enum h1_state {
	H1_IDLE, /* between messages */
	H1_HEAD, /* accumulating the head */
	H1_BODY_LEN, /* Content-Length body */
	H1_CHUNKED, /* a chunked body, up to its last chunk (chunked.c) */
	H1_TRAILERS,
	H1_BODY_CLOSE, /* body runs until the direction ends */
	H1_RESYNC, /* looking for the next message start */
	H1_DONE, /* direction ended */
};

struct h1_dir {
	enum h1_state st;
	struct sonde_buf acc; /* head, chunk-size line or trailers so far */
	size_t scan; /* where the head-end search resumes in acc */
	struct sonde_http_msg *cur; /* message being parsed (NULL if detached) */
	uint64_t remaining; /* Content-Length body bytes left */
	struct sonde_chunked chunk; /* a chunked body's decoder */
	uint64_t ts_first; /* first byte of the current message */
	uint64_t ts_last;
	uint64_t msg_wire, msg_gap; /* bytes of the current message */
	int16_t interim[SONDE_HTTP_MAX_INTERIM]; /* 1xx seen before the final response */
	uint8_t ninterim;
	bool line_start; /* RESYNC: the previous byte ended a line */
};

struct h1_conn {
	struct sonde_session *s;
	struct h1_dir d[2];
	struct sonde_http_pool *pool; /* its messages, reused */
};

extern const struct sonde_dissector sonde_dissector_http1;

static size_t h1_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts);

static void body_bytes(struct h1_conn *h, struct h1_dir *d, const uint8_t *p, size_t n)
{
	if (d->cur)
		sonde_http_msg_body(d->cur, p, n, h->s->opts->body_limit, h->s->stats);
}

/* ------------------------------------------------------------- pairing --- */

/* The request the next response answers: the oldest waiting one. */
static struct sonde_http_msg *peek_request(struct h1_conn *h)
{
	struct sonde_msg *w = sonde_session_oldest_request(h->s);
	if (w)
		return (struct sonde_http_msg *)w;
	struct sonde_http_msg *c = h->d[SONDE_DIR_C2S].cur;
	return c && !c->response ? c : NULL;
}

static void finish(struct h1_conn *h, enum sonde_dir dir, uint32_t flags)
{
	struct h1_dir *d = &h->d[dir];
	struct sonde_http_msg *m = d->cur;
	d->cur = NULL;
	if (!m)
		return;
	m->base.flags |= flags;
	m->base.ts_first = d->ts_first;
	m->base.ts_last = d->ts_last;
	m->base.wire_bytes = d->msg_wire;
	m->base.captured_bytes =
		d->msg_wire - (d->msg_gap < d->msg_wire ? d->msg_gap : d->msg_wire);
	m->body_captured = m->body.len;
	if (h->s->opts->decode_bodies && !(m->base.flags & SONDE_MF_GAP))
		sonde_http_msg_decode(m, h->s->opts->body_limit);
	struct sonde_content_ctx cc = { .body_limit = h->s->opts->body_limit };
	if (!m->response) {
		if (!m->http09)
			sonde_content_request(m);
		sonde_content_finish(m, &cc);
		m->base.mem = sonde_http_msg_mem(m);
		sonde_session_request(h->s, &m->base);
		return;
	}
	if (m->status >= 100 && m->status < 200 && m->status != 101) {
		if (d->ninterim < SONDE_HTTP_MAX_INTERIM)
			d->interim[d->ninterim++] = (int16_t)m->status;
		sonde_msg_free(&m->base);
		return;
	}
	memcpy(m->interim, d->interim, sizeof(m->interim));
	m->ninterim = d->ninterim;
	d->ninterim = 0;
	/* The response to a request its content dissector claimed is its too. */
	struct sonde_http_msg *asked = peek_request(h);
	if (asked && asked->cd)
		sonde_content_attach(m, asked->cd);
	sonde_content_finish(m, &cc);
	/* A final response can overtake its request's body (an early 413, or a
	 * request cut short): pair with what was seen of the request. */
	struct h1_dir *c2s = &h->d[SONDE_DIR_C2S];
	if (!sonde_session_oldest_request(h->s) && c2s->cur && !(flags & SONDE_MF_INCOMPLETE)) {
		struct sonde_http_msg *req = c2s->cur;
		c2s->cur = NULL;
		req->base.flags |= SONDE_MF_INCOMPLETE;
		req->base.ts_first = c2s->ts_first;
		req->base.ts_last = c2s->ts_last;
		req->base.wire_bytes = c2s->msg_wire;
		req->base.captured_bytes =
			c2s->msg_wire -
			(c2s->msg_gap < c2s->msg_wire ? c2s->msg_gap : c2s->msg_wire);
		sonde_session_request(h->s, &req->base);
	}
	/* Upgrade and CONNECT hand the connection on after this response. */
	const char *next =
		h1_msg_switch_to(m, (struct sonde_http_msg *)sonde_session_oldest_request(h->s));
	if (next)
		h->s->switch_to = next;
	sonde_session_response(h->s, &m->base);
}

/* --------------------------------------------------------------- heads --- */

static void to_resync(struct h1_conn *h, struct h1_dir *d)
{
	(void)h;
	d->st = H1_RESYNC;
	d->line_start = false;
	sonde_buf_reset(&d->acc);
	d->scan = 0;
}

/*
 * How the body of a parsed head is framed: sets the direction's state (idle:
 * no body) and length. False for a request with a transfer coding other
 * than chunked, which cannot be framed.
 */
static bool body_framing(struct h1_conn *h, enum sonde_dir dir, const struct sonde_h1_head *hd)
{
	struct h1_dir *d = &h->d[dir];
	d->st = H1_IDLE;
	if (dir == SONDE_DIR_C2S) {
		if (hd->te_present) {
			if (!hd->chunked)
				return false;
			d->st = H1_CHUNKED;
			sonde_chunked_init(&d->chunk);
		} else if (hd->content_length > 0) {
			d->st = H1_BODY_LEN;
			d->remaining = (uint64_t)hd->content_length;
		}
		return true;
	}
	struct sonde_http_msg *req = peek_request(h);
	int s = hd->status;
	if ((s >= 100 && s < 200) || s == 204 || s == 304 || (req && req->is_head)) {
		/* no body */
	} else if (req && req->is_connect && s >= 200 && s < 300) {
		/* tunnel follows */
	} else if (hd->te_present) {
		d->st = hd->chunked ? H1_CHUNKED : H1_BODY_CLOSE;
		sonde_chunked_init(&d->chunk);
	} else if (hd->content_length > 0) {
		d->st = H1_BODY_LEN;
		d->remaining = (uint64_t)hd->content_length;
	} else if (hd->content_length < 0) {
		d->st = H1_BODY_CLOSE;
	}
	return true;
}

/*
 * Parse a complete head and choose how the body is framed. Returns how many
 * bytes of buf it used: all of them, or, when the first line is not a
 * message start, just that line, so the lines after it are scanned again
 * (garbage before a request must not swallow the request).
 */
static size_t process_head(struct h1_conn *h, enum sonde_dir dir, const uint8_t *buf, size_t len)
{
	struct h1_dir *d = &h->d[dir];
	struct sonde_h1_header hdrs[MAX_HEADERS];
	struct sonde_h1_head hd;
	bool response = dir == SONDE_DIR_S2C;
	int rc = sonde_h1_parse_head(buf, len, response, &hd, hdrs, MAX_HEADERS);
	if (rc == SONDE_H1_E_START_LINE || rc == SONDE_H1_E_VERSION) {
		const uint8_t *lf = memchr(buf, '\n', len);
		size_t first = lf ? (size_t)(lf - buf) + 1 : len;
		h->s->stats->parse_errors++;
		h->s->stats->unparsed_bytes += first;
		to_resync(h, d);
		d->line_start = true;
		return first;
	}
	if (!response && hd.bad_start && hd.nheaders_seen == 0) {
		/* "GET /path" and a blank line: HTTP/0.9 after all. */
		const uint8_t *lf = memchr(buf, '\n', len);
		size_t first = lf ? (size_t)(lf - buf) + 1 : len;
		if (sonde_h1_is_http09_request(buf, first)) {
			/* Its message is the line; the blank line is idle filler,
			 * as when the two arrive apart. */
			d->cur = h1_msg_new_http09(h->pool, buf, first, false);
			d->msg_wire = first;
			finish(h, dir, 0);
			d->st = H1_IDLE;
			return first;
		}
	}
	if (hd.bad_start)
		h->s->stats->parse_errors++;
	struct sonde_http_msg *m = h1_msg_new(h->pool, buf, len, &hd, hdrs, response);
	d->cur = m;
	if (rc == SONDE_H1_E_LENGTH) {
		/* Framing unknowable (conflicting lengths): keep the head, then
		 * look for the next message. */
		h->s->stats->parse_errors++;
		finish(h, dir, SONDE_MF_PARSE_ERROR);
		to_resync(h, d);
		return len;
	}
	if (rc)
		h->s->stats->parse_errors++;
	if (!body_framing(h, dir, &hd)) {
		/* RFC 9112 6.3: unframeable request */
		h->s->stats->parse_errors++;
		finish(h, dir, SONDE_MF_PARSE_ERROR);
		to_resync(h, d);
		return len;
	}
	if (d->st == H1_IDLE) {
		finish(h, dir, 0);
	} else if (d->st == H1_BODY_LEN) {
		/* Known length: one allocation for what will be kept. */
		size_t keep = h->s->opts->body_limit;
		if (d->remaining < keep)
			keep = (size_t)d->remaining;
		sonde_buf_reserve(&m->body, keep);
	}
	return len;
}

/*
 * A gap inside a head: a snap length cut the packet, or bytes were lost.
 * When the start line arrived whole, the lines that ended are the message —
 * parsed as a head of their own, flagged gap, incomplete and
 * headers_truncated — so a capture made with a snap length still gives every
 * request and response line, paired. The body's framing is unknown: the
 * caller resynchronises. Returns false if nothing could be kept.
 */
static bool head_cut(struct h1_conn *h, enum sonde_dir dir, uint64_t gap)
{
	struct h1_dir *d = &h->d[dir];
	size_t end = d->acc.len;
	while (end && d->acc.p[end - 1] != '\n')
		end--;
	bool response = dir == SONDE_DIR_S2C;
	if (!end || sonde_h1_looks_like_start(d->acc.p, end) != (response ? 2 : 1))
		return false;
	struct sonde_buf head = { 0 };
	sonde_buf_append(&head, d->acc.p, end);
	sonde_buf_append(&head, "\r\n", 2); /* the head's end, as if it came */
	struct sonde_h1_header hdrs[MAX_HEADERS];
	struct sonde_h1_head hd;
	int rc = sonde_h1_parse_head(head.p, head.len, response, &hd, hdrs, MAX_HEADERS);
	if (rc == SONDE_H1_E_START_LINE || rc == SONDE_H1_E_VERSION || hd.bad_start) {
		sonde_buf_free(&head);
		return false;
	}
	d->cur = h1_msg_new(h->pool, head.p, head.len, &hd, hdrs, response);
	sonde_buf_free(&head);
	h->s->stats->unparsed_bytes += d->acc.len - end; /* a line cut short */
	d->msg_wire = d->acc.len + gap;
	d->msg_gap = gap + (d->acc.len - end);
	finish(h, dir, SONDE_MF_GAP | SONDE_MF_INCOMPLETE | SONDE_MF_HEADERS_TRUNCATED);
	return true;
}

/* A head over max_head: what was held is unparsed; look for the next message. */
static size_t head_too_big(struct h1_conn *h, struct h1_dir *d, size_t held)
{
	h->s->stats->parse_errors++;
	h->s->stats->unparsed_bytes += held;
	to_resync(h, d);
	return 0;
}

/*
 * Find the end of the head in what is held (old bytes) and p. Returns the
 * head (in p or in acc) and its length, and in *used how much of p it
 * takes; NULL if not complete yet, with *next where the search resumes.
 */
static const uint8_t *head_find(struct h1_dir *d, const uint8_t *p, size_t n, size_t *head_len,
				size_t *used, size_t *next)
{
	size_t old = d->acc.len, e;
	*next = 0;
	if (!old) {
		e = sonde_h1_head_end(p, n, 0, next);
		*head_len = *used = e;
		return e ? p : NULL;
	}
	/* The blank line may straddle acc and p: look at a 3-byte overlap
	 * first, then in p alone. */
	size_t k = n < 3 ? n : 3;
	sonde_buf_append(&d->acc, p, k);
	e = sonde_h1_head_end(d->acc.p, d->acc.len, d->scan, next);
	if (e) {
		d->acc.len = e;
		*head_len = e;
		*used = e - old;
		return d->acc.p;
	}
	d->acc.len = old;
	size_t next2 = 0;
	e = sonde_h1_head_end(p, n, 0, &next2);
	if (e) {
		sonde_buf_append(&d->acc, p, e);
		*head_len = d->acc.len;
		*used = e;
		return d->acc.p;
	}
	if (old + next2 < *next)
		*next = old + next2; /* resume at the earliest line end still undecided */
	return NULL;
}

/* A complete head (old bytes of it held before this call): process it.
 * Returns how much of this call's bytes were used. */
static size_t head_complete(struct h1_conn *h, enum sonde_dir dir, const uint8_t *head,
			    size_t head_len, size_t old, size_t used)
{
	struct h1_dir *d = &h->d[dir];
	if (head_len > h->s->opts->max_head)
		return head_too_big(h, d, old);
	d->msg_wire = head_len;
	d->msg_gap = 0;
	size_t took = process_head(h, dir, head, head_len);
	if (took < head_len && old && took < old) {
		/* The bytes after the used part came partly from earlier
		 * chunks: feed them through again (at most one level deep:
		 * the copy starts with an empty accumulator). */
		size_t rest = head_len - took;
		uint8_t *again = sonde_xmalloc(rest);
		memcpy(again, d->acc.p + took, rest);
		sonde_buf_reset(&d->acc);
		d->scan = 0;
		size_t fed = h1_data(h, dir, again, rest, d->ts_last);
		if (fed < rest && !h->s->switch_to)
			h->s->stats->unparsed_bytes += rest - fed;
		free(again);
		return used;
	}
	if (took < head_len)
		used = took - old; /* rescan p from the line after the used part */
	sonde_buf_reset(&d->acc);
	d->scan = 0;
	return used;
}

/* An incomplete request head whose first line is complete: is that line an
 * HTTP/0.9 request (no version)? Then it is the message: *used bytes of p. */
static bool head_http09(struct h1_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n,
			size_t *used)
{
	struct h1_dir *d = &h->d[dir];
	size_t old = d->acc.len;
	if (old && memchr(d->acc.p, '\n', old))
		return false;
	const uint8_t *lf = memchr(p, '\n', n);
	if (!lf)
		return false;
	size_t line_in_p = (size_t)(lf - p) + 1;
	if (!old && !sonde_h1_is_http09_request(p, line_in_p))
		return false; /* the usual case, decided without a copy */
	sonde_buf_append(&d->acc, p, line_in_p);
	if (!sonde_h1_is_http09_request(d->acc.p, d->acc.len)) {
		d->acc.len -= line_in_p;
		return false;
	}
	d->cur = h1_msg_new_http09(h->pool, d->acc.p, d->acc.len, false);
	d->msg_wire = d->acc.len;
	d->msg_gap = 0;
	sonde_buf_reset(&d->acc);
	d->scan = 0;
	finish(h, dir, 0);
	d->st = H1_IDLE;
	*used = line_in_p;
	return true;
}

/*
 * Bytes of a head. Returns how many of p were consumed: all of them if the
 * head is not complete yet, else up to its end.
 */
static size_t head_feed(struct h1_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	struct h1_dir *d = &h->d[dir];
	/* Reject at once what cannot start a message, rather than buffer it. */
	if (!d->acc.len) {
		bool ok = dir == SONDE_DIR_S2C
				  ? p[0] == 'H'
				  : (p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z');
		if (!ok) {
			h->s->stats->parse_errors++;
			to_resync(h, d);
			return 0;
		}
	}
	size_t old = d->acc.len, head_len = 0, used = 0, next;
	const uint8_t *head = head_find(d, p, n, &head_len, &used, &next);
	if (head)
		return head_complete(h, dir, head, head_len, old, used);
	if (dir == SONDE_DIR_C2S && head_http09(h, dir, p, n, &used))
		return used;
	if (old + n > h->s->opts->max_head)
		return head_too_big(h, d, old);
	sonde_buf_append(&d->acc, p, n);
	d->scan = next;
	return n;
}

/* ---------------------------------------------------------- resync --- */

/*
 * Find where the next message starts in p: its offset, or n if nowhere. A
 * line start at the very end that may still become one ("GE") is reported
 * in *hold (else *hold = n): the caller keeps those bytes and decides when
 * more arrive, so the outcome does not depend on where the bytes split.
 */
static size_t resync_scan(struct h1_dir *d, enum sonde_dir dir, const uint8_t *p, size_t n,
			  size_t *hold)
{
	int want = dir == SONDE_DIR_C2S ? 1 : 2;
	size_t i = 0;
	*hold = n;
	if (!d->line_start) {
		const uint8_t *lf = memchr(p, '\n', n);
		if (!lf)
			return n;
		i = (size_t)(lf - p) + 1;
	}
	while (i < n) {
		int v = sonde_h1_looks_like_start(p + i, n - i);
		if (v == want)
			return i;
		if (v == -1) {
			*hold = i;
			return n;
		}
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		if (!lf)
			break;
		i = (size_t)(lf - p) + 1;
	}
	d->line_start = n && p[n - 1] == '\n';
	return n;
}

/* ------------------------------------------------------------ the feed --- */

/*
 * One function per state. Each consumes from p[0..n) (n > 0), returns how
 * many bytes it used, and counts the bytes that belong to the current
 * message into msg_wire itself (a head is counted by head_feed).
 */

/* Between messages: line ends are filler; then a head, or an HTTP/0.9 body. */
static size_t st_idle(struct h1_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n,
		      uint64_t ts)
{
	struct h1_dir *d = &h->d[dir];
	size_t i = 0;
	while (i < n && (p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i == n)
		return i;
	d->ts_first = ts;
	d->msg_wire = d->msg_gap = 0;
	if (dir == SONDE_DIR_S2C) {
		/* A response without a status line answering a waiting
		 * request is HTTP/0.9 style: the body runs to the close. */
		struct sonde_http_msg *req = peek_request(h);
		if (req && (req->http09 || p[i] != 'H')) {
			d->cur = h1_msg_new_http09(h->pool, NULL, 0, true);
			d->st = H1_BODY_CLOSE;
			d->msg_wire += i; /* the filler is the body's start */
			return i;
		}
	}
	d->st = H1_HEAD;
	d->scan = 0;
	sonde_buf_reset(&d->acc);
	return i;
}

static size_t st_body_len(struct h1_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	struct h1_dir *d = &h->d[dir];
	size_t k = n < d->remaining ? n : (size_t)d->remaining;
	body_bytes(h, d, p, k);
	d->remaining -= k;
	d->msg_wire += k;
	if (!d->remaining) {
		d->st = H1_IDLE;
		finish(h, dir, 0);
	}
	return k;
}

/* A malformed body: keep what was seen, look for the next message. */
static void body_error(struct h1_conn *h, enum sonde_dir dir)
{
	h->s->stats->parse_errors++;
	finish(h, dir, SONDE_MF_PARSE_ERROR);
	to_resync(h, &h->d[dir]);
}

static size_t st_chunked(struct h1_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	struct h1_dir *d = &h->d[dir];
	struct sonde_chunked_step s = sonde_chunked_feed(&d->chunk, p, n);
	d->msg_wire += s.used;
	switch (s.ev) {
	case SONDE_CHUNKED_BYTES: body_bytes(h, d, s.data, s.used); break;
	case SONDE_CHUNKED_END:
		d->st = H1_TRAILERS;
		d->scan = 0;
		break;
	case SONDE_CHUNKED_ERROR: body_error(h, dir); break;
	case SONDE_CHUNKED_MORE: break;
	}
	return s.used;
}

/* After the last chunk: the final line end, or trailer fields and a blank line. */
static size_t st_trailers(struct h1_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	struct h1_dir *d = &h->d[dir];
	if (!d->acc.len && (p[0] == '\r' || p[0] == '\n')) {
		/* No trailers: just the final CRLF. */
		d->msg_wire++;
		if (p[0] == '\r') {
			sonde_buf_putc(&d->acc, '\r');
			return 1;
		}
		d->st = H1_IDLE;
		finish(h, dir, 0);
		return 1;
	}
	if (d->acc.len == 1 && d->acc.p[0] == '\r') {
		if (p[0] != '\n') {
			body_error(h, dir);
			return 0;
		}
		sonde_buf_reset(&d->acc);
		d->msg_wire++;
		d->st = H1_IDLE;
		finish(h, dir, 0);
		return 1;
	}
	/* Trailer fields end with a blank line, like a head: prefix a fake
	 * LF so the search sees the first line's start. */
	size_t max = h->s->opts->max_head;
	if (!d->acc.len)
		sonde_buf_putc(&d->acc, '\n');
	size_t old = d->acc.len, next = 0;
	size_t room = max + 1 - (old < max + 1 ? old : max + 1);
	size_t take = n < room ? n : room;
	sonde_buf_append(&d->acc, p, take);
	size_t e = sonde_h1_head_end(d->acc.p, d->acc.len, d->scan, &next);
	if (!e) {
		if (d->acc.len > max) {
			body_error(h, dir);
			return 0;
		}
		d->scan = next;
		d->msg_wire += take;
		return take;
	}
	size_t used = e - old;
	if (d->cur)
		h1_msg_trailers(d->cur, d->acc.p + 1, e - 1);
	sonde_buf_reset(&d->acc);
	d->scan = 0;
	d->msg_wire += used;
	d->st = H1_IDLE;
	finish(h, dir, 0);
	return used;
}

static size_t st_body_close(struct h1_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	struct h1_dir *d = &h->d[dir];
	body_bytes(h, d, p, n);
	d->msg_wire += n;
	return n;
}

/* Looking for the next message start; what is skipped is unparsed. */
static size_t st_resync(struct h1_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n,
			uint64_t ts)
{
	struct h1_dir *d = &h->d[dir];
	if (d->acc.len) {
		/* Bytes held at a line start: now they can be judged. */
		uint8_t tmp[32];
		size_t held = d->acc.len, take = n < sizeof(tmp) - held ? n : sizeof(tmp) - held;
		memcpy(tmp, d->acc.p, held);
		memcpy(tmp + held, p, take);
		int v = sonde_h1_looks_like_start(tmp, held + take);
		if (v == (dir == SONDE_DIR_C2S ? 1 : 2)) {
			/* A message starts with the held bytes: they begin its head. */
			d->st = H1_HEAD;
			d->ts_first = ts;
			d->msg_wire = d->msg_gap = 0;
			d->scan = 0;
			return 0;
		}
		if (v == -1 && held + take < sizeof(tmp)) {
			sonde_buf_append(&d->acc, p, n);
			return n;
		}
		h->s->stats->unparsed_bytes += held;
		sonde_buf_reset(&d->acc);
		d->line_start = false;
	}
	size_t hold;
	size_t k = resync_scan(d, dir, p, n, &hold);
	if (hold < n) {
		h->s->stats->unparsed_bytes += hold;
		sonde_buf_append(&d->acc, p + hold, n - hold);
		return n;
	}
	h->s->stats->unparsed_bytes += k;
	if (k < n)
		d->st = H1_IDLE;
	return k;
}

static size_t h1_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct h1_conn *h = state;
	struct h1_dir *d = &h->d[dir];
	size_t i = 0;
	d->ts_last = ts;
	while (i < n && !h->s->switch_to) {
		const uint8_t *q = p + i;
		size_t left = n - i;
		switch (d->st) {
		case H1_DONE: h->s->stats->unparsed_bytes += left; return n;
		case H1_IDLE: i += st_idle(h, dir, q, left, ts); break;
		case H1_HEAD: i += head_feed(h, dir, q, left); break;
		case H1_BODY_LEN: i += st_body_len(h, dir, q, left); break;
		case H1_CHUNKED: i += st_chunked(h, dir, q, left); break;
		case H1_TRAILERS: i += st_trailers(h, dir, q, left); break;
		case H1_BODY_CLOSE: i += st_body_close(h, dir, q, left); break;
		case H1_RESYNC: i += st_resync(h, dir, q, left, ts); break;
		}
	}
	return i;
}

static void h1_gap(void *state, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	struct h1_conn *h = state;
	struct h1_dir *d = &h->d[dir];
	d->ts_last = ts;
	switch (d->st) {
	case H1_IDLE:
	case H1_RESYNC:
		to_resync(h, d);
		/* A gap often ends at a message boundary: try right after it. */
		d->line_start = true;
		break;
	case H1_HEAD:
		if (!head_cut(h, dir, n))
			h->s->stats->unparsed_bytes += d->acc.len;
		to_resync(h, d);
		d->line_start = true;
		break;
	case H1_BODY_LEN:
		if (d->cur) {
			d->cur->base.flags |= SONDE_MF_GAP;
			d->cur->body_hole = true;
		}
		if (n <= d->remaining) {
			d->remaining -= n;
			if (d->cur)
				d->cur->body_size += n;
			d->msg_wire += n;
			d->msg_gap += n;
			if (!d->remaining) {
				d->st = H1_IDLE;
				finish(h, dir, 0);
			}
		} else {
			if (d->cur)
				d->cur->body_size += d->remaining;
			d->msg_wire += d->remaining;
			d->msg_gap += d->remaining;
			finish(h, dir, 0);
			to_resync(h, d);
			d->line_start = false;
		}
		break;
	case H1_BODY_CLOSE:
		if (d->cur) {
			d->cur->base.flags |= SONDE_MF_GAP;
			d->cur->body_hole = true;
			d->cur->body_size += n;
		}
		d->msg_wire += n;
		d->msg_gap += n;
		break;
	case H1_CHUNKED:
	case H1_TRAILERS:
		d->msg_wire += n;
		d->msg_gap += n;
		finish(h, dir, SONDE_MF_GAP | SONDE_MF_INCOMPLETE);
		to_resync(h, d);
		break;
	case H1_DONE: break;
	}
}

static void h1_end(void *state, enum sonde_dir dir, uint64_t ts)
{
	struct h1_conn *h = state;
	struct h1_dir *d = &h->d[dir];
	(void)ts;
	switch (d->st) {
	case H1_BODY_CLOSE: finish(h, dir, 0); break;
	case H1_HEAD:
		if (d->acc.len)
			h->s->stats->unparsed_bytes += d->acc.len;
		break;
	case H1_BODY_LEN:
	case H1_CHUNKED:
	case H1_TRAILERS: finish(h, dir, SONDE_MF_INCOMPLETE); break;
	default: break;
	}
	d->cur = NULL;
	sonde_buf_free(&d->acc);
	d->st = H1_DONE;
}

static void h1_close(void *state, uint64_t ts)
{
	struct h1_conn *h = state;
	/* Requests first, so a response still open pairs with them. */
	h1_end(h, SONDE_DIR_C2S, ts);
	h1_end(h, SONDE_DIR_S2C, ts);
	sonde_session_flush(h->s);
	sonde_http_pool_close(h->pool);
	free(h);
}

static void *h1_open(struct sonde_session *s)
{
	struct h1_conn *h = sonde_xcalloc(1, sizeof(*h));
	sonde_session_start(s, &sonde_dissector_http1);
	h->s = s;
	h->pool = sonde_http_pool_new();
	for (int dir = 0; dir < 2; dir++) {
		h->d[dir].st = s->midstream[dir] ? H1_RESYNC : H1_IDLE;
		h->d[dir].line_start = true;
	}
	return h;
}

static enum sonde_probe h1_probe(const uint8_t *p, size_t n)
{
	switch (sonde_h1_looks_like_first(p, n)) {
	case 1: return SONDE_PROBE_CLIENT;
	case 2: return SONDE_PROBE_SERVER;
	case -1: return SONDE_PROBE_MORE;
	default: return SONDE_PROBE_NO;
	}
}

const struct sonde_dissector sonde_dissector_http1 = {
	.name = "http1",
	.pairing = SONDE_PAIR_IN_ORDER, /* HTTP/1.x answers in order */
	.probe = h1_probe,
	.open = h1_open,
	.data = h1_data,
	.gap = h1_gap,
	.end = h1_end,
	.close = h1_close,
};
