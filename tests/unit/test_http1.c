/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1 dissector through its dissector interface (open/data/gap/end/
 * close) on a fake session whose pairing writes into a collector.
 *
 * Every exchange scenario is fed (a) whole, (b) split in two at every byte
 * offset of every data step, and (c) byte by byte: the records (their full
 * JSON: method, target, status, headers, body size and bytes, flags, wire
 * bytes), the switch_to verdict, the bytes data() consumed and the parse
 * error / unparsed counters must be identical in every case.
 *
 * The llhttp markdown fixtures of the shared corpus are read at run time
 * (SONDE_CORPUS, else ../shared/corpus); that test is skipped when absent.
 */
#include "testutil.h"

#include <sys/stat.h>
#include <zlib.h>

#define C2S SONDE_DIR_C2S
#define S2C SONDE_DIR_S2C
#define TS 1700000000000000000ull

/* ============================================================ scenarios === */

enum step_kind { ST_DATA, ST_GAP, ST_END };

struct step {
	enum step_kind kind;
	enum sonde_dir dir;
	const char *p;
	size_t n;
	uint64_t gap;
};

#define D(dir, lit) { ST_DATA, dir, lit, sizeof(lit) - 1, 0 }
#define G(dir, len) { ST_GAP, dir, NULL, 0, len }
#define E(dir) { ST_END, dir, NULL, 0, 0 }
#define NSTEPS(a) (sizeof(a) / sizeof((a)[0]))

enum feed_mode { FEED_WHOLE, FEED_SPLIT, FEED_BYTES };

struct scen {
	const struct step *steps;
	size_t n;
	const struct sonde_dissect_opts *opts; /* NULL: defaults */
	bool mid_c2s, mid_s2c;
};

/* Feed p[0..n) unless the dissector already handed the connection over. */
static void feed_piece(struct tu_h1 *h, enum sonde_dir dir, const char *p, size_t n)
{
	if (h->sess.switch_to || !n)
		return;
	tu_h1_data(h, dir, p, n, TS);
}

static struct tu_h1 *run_scen(const struct scen *sc, enum feed_mode mode, size_t split_step,
			      size_t split_off)
{
	struct tu_h1 *h = tu_xmalloc(sizeof(*h));
	tu_cleanup_push(free, h); /* runs after tu_h1_free's cleanup */
	tu_h1_open(h, sc->opts, sc->mid_c2s, sc->mid_s2c);
	for (size_t i = 0; i < sc->n; i++) {
		const struct step *s = &sc->steps[i];
		if (h->sess.switch_to)
			break; /* the rest belongs to another protocol */
		switch (s->kind) {
		case ST_DATA:
			if (mode == FEED_WHOLE || (mode == FEED_SPLIT && i != split_step)) {
				feed_piece(h, s->dir, s->p, s->n);
			} else if (mode == FEED_SPLIT) {
				feed_piece(h, s->dir, s->p, split_off);
				feed_piece(h, s->dir, s->p + split_off, s->n - split_off);
			} else {
				for (size_t k = 0; k < s->n; k++)
					feed_piece(h, s->dir, s->p + k, 1);
			}
			break;
		case ST_GAP:
			tu_h1_gap(h, s->dir, s->gap, TS);
			break;
		case ST_END:
			tu_h1_end(h, s->dir, TS);
			break;
		}
	}
	tu_h1_close(h, TS);
	return h;
}

static void run_free(struct tu_h1 *h)
{
	tu_h1_free(h);
	free(h);
}

/* Everything that must not depend on how the bytes were split. */
static void canon(const struct tu_h1 *h, struct sonde_buf *b)
{
	sonde_buf_reset(b);
	for (size_t i = 0; i < h->col.n; i++) {
		const struct tu_rec *r = &h->col.r[i];
		sonde_buf_printf(b, "req.flags=%u resp.flags=%u ", r->req.flags, r->resp.flags);
		sonde_buf_append(b, r->json, r->json_len);
	}
	sonde_buf_printf(b, "pending_mem=%zu switch_to=%s consumed=%llu/%llu parse_errors=%llu unparsed=%llu bodies_truncated=%llu\n",
			 h->pending.used,
			 h->sess.switch_to ? h->sess.switch_to : "-",
			 (unsigned long long)h->consumed[0], (unsigned long long)h->consumed[1],
			 (unsigned long long)h->stats.parse_errors,
			 (unsigned long long)h->stats.unparsed_bytes,
			 (unsigned long long)h->stats.bodies_truncated);
}

static void report_diff(const char *how, const struct sonde_buf *want, const struct sonde_buf *got)
{
	size_t i = 0;
	while (i < want->len && i < got->len && want->p[i] == got->p[i])
		i++;
	/* stderr directly: cmocka's print functions cut long messages. */
	fflush(stdout);
	fprintf(stderr, "%s: output differs from the whole feed at byte %zu\n--- whole:\n%.*s--- %s:\n%.*s",
		how, i, (int)want->len, (const char *)want->p, how, (int)got->len,
		(const char *)got->p);
}

/*
 * The invariance check: the scenario fed whole, split at every offset of
 * every data step, and byte by byte must say the same. Returns the whole
 * run (caller checks the expected contents and frees it).
 */
static struct tu_h1 *check_scen(const struct scen *sc)
{
	struct tu_h1 *ref = run_scen(sc, FEED_WHOLE, 0, 0);
	tu_collector_ok(&ref->col);
	/* Every waiting request was written: the pending budget is back to 0. */
	assert_int_equal(ref->pending.used, 0);
	struct sonde_buf want = { 0 }, got = { 0 };
	canon(ref, &want);
	int failures = 0;
	for (size_t i = 0; i < sc->n && failures < 3; i++) {
		if (sc->steps[i].kind != ST_DATA)
			continue;
		for (size_t off = 1; off < sc->steps[i].n && failures < 3; off++) {
			struct tu_h1 *h = run_scen(sc, FEED_SPLIT, i, off);
			canon(h, &got);
			if (h->col.bad_record || got.len != want.len || memcmp(got.p, want.p, want.len)) {
				char how[96];
				snprintf(how, sizeof(how), "split of step %zu at offset %zu", i, off);
				report_diff(how, &want, &got);
				failures++;
			}
			run_free(h);
		}
	}
	struct tu_h1 *h = run_scen(sc, FEED_BYTES, 0, 0);
	canon(h, &got);
	if (h->col.bad_record || got.len != want.len || memcmp(got.p, want.p, want.len)) {
		report_diff("byte-by-byte feed", &want, &got);
		failures++;
	}
	run_free(h);
	sonde_buf_free(&want);
	sonde_buf_free(&got);
	if (failures) {
		run_free(ref);
		fail_msg("records depend on how the bytes were split (%d cases shown)", failures);
	}
	return ref;
}

/* ========================================================= expectations === */

static void want_req(const struct tu_msg *m, const char *method, const char *target,
		     const char *version, size_t nheaders, const char *body, uint32_t flags)
{
	assert_true(m->present);
	assert_int_equal(m->kind, SONDE_MSG_REQUEST);
	assert_str(m->method, method);
	assert_str(m->target, target);
	assert_str(m->version, version);
	assert_int_equal(m->status, -1);
	assert_int_equal(m->nheaders, nheaders);
	size_t bl = body ? strlen(body) : 0;
	assert_int_equal(m->body_size, bl);
	assert_int_equal(m->body_captured, bl);
	if (bl) {
		assert_true(m->has_data);
		assert_bytes(m->body, m->body_len, body, bl);
	} else {
		assert_false(m->has_data);
	}
	assert_int_equal(m->flags, flags);
}

static void want_resp(const struct tu_msg *m, int status, const char *reason, const char *version,
		      size_t nheaders, const char *body, uint32_t flags)
{
	assert_true(m->present);
	assert_int_equal(m->kind, SONDE_MSG_RESPONSE);
	assert_int_equal(m->status, status);
	if (reason)
		assert_str(m->reason, reason);
	assert_str(m->version, version);
	assert_null(m->method);
	assert_int_equal(m->nheaders, nheaders);
	size_t bl = body ? strlen(body) : 0;
	assert_int_equal(m->body_size, bl);
	assert_int_equal(m->body_captured, bl);
	if (bl) {
		assert_true(m->has_data);
		assert_bytes(m->body, m->body_len, body, bl);
	} else {
		assert_false(m->has_data);
	}
	assert_int_equal(m->flags, flags);
}

/* A message seen whole: every byte captured, wire bytes as given. */
static void want_wire(const struct tu_msg *m, size_t wire)
{
	assert_int_equal(m->wire_bytes, wire);
	assert_int_equal(m->captured_bytes, wire);
}

#define LIT_LEN(s) (sizeof(s) - 1)

/* ===================================================== exchange tests === */

#define KA_REQ1 "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: unit\r\n\r\n"
#define KA_RESP1 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
#define KA_REQ2 "GET /next?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
#define KA_RESP2 "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"

static void test_get_keepalive(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, KA_REQ1), D(S2C, KA_RESP1), D(C2S, KA_REQ2), D(S2C, KA_RESP2),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 2);
	const struct tu_rec *r = h->col.r;
	assert_int_equal(r[0].flags, 0);
	want_req(&r[0].req, "GET", "/index.html", "HTTP/1.1", 2, NULL, 0);
	assert_str(r[0].req.hname[0], "Host");
	assert_str(r[0].req.hval[0], "example.com");
	assert_str(r[0].req.hname[1], "User-Agent");
	assert_str(r[0].req.hval[1], "unit");
	want_wire(&r[0].req, LIT_LEN(KA_REQ1));
	want_resp(&r[0].resp, 200, "OK", "HTTP/1.1", 2, "hello", 0);
	want_wire(&r[0].resp, LIT_LEN(KA_RESP1));
	want_req(&r[1].req, "GET", "/next?q=1", "HTTP/1.1", 1, NULL, 0);
	want_resp(&r[1].resp, 404, "Not Found", "HTTP/1.1", 1, "not found", 0);
	want_wire(&r[1].resp, LIT_LEN(KA_RESP2));
	assert_int_equal(h->stats.records, 2);
	assert_int_equal(h->stats.parse_errors, 0);
	assert_int_equal(h->stats.unparsed_bytes, 0);
	assert_null(h->sess.switch_to);
	run_free(h);
}

static void test_pipelined(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
		       "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
		       "POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
		       "DELETE /d HTTP/1.1\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
		       "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nB"
		       "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nC\r\n0\r\n\r\n"
		       "HTTP/1.1 204 No Content\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 4);
	const struct tu_rec *r = h->col.r;
	want_req(&r[0].req, "GET", "/a", "HTTP/1.1", 1, NULL, 0);
	want_resp(&r[0].resp, 200, "OK", "HTTP/1.1", 1, "A", 0);
	want_req(&r[1].req, "GET", "/b", "HTTP/1.1", 1, NULL, 0);
	want_resp(&r[1].resp, 201, "Created", "HTTP/1.1", 1, "B", 0);
	want_req(&r[2].req, "POST", "/c", "HTTP/1.1", 2, "xyz", 0);
	want_resp(&r[2].resp, 202, "Accepted", "HTTP/1.1", 1, "C", 0);
	want_req(&r[3].req, "DELETE", "/d", "HTTP/1.1", 0, NULL, 0);
	want_resp(&r[3].resp, 204, "No Content", "HTTP/1.1", 0, NULL, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r[i].flags, 0);
	run_free(h);
}

#define POST_REQ                                                                      \
	"POST /submit HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n" \
	"Content-Length: 11\r\n\r\na=1&b=2&c=3"

static void test_post_content_length(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, POST_REQ),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
		D(C2S, "POST /empty HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 2);
	want_req(&h->col.r[0].req, "POST", "/submit", "HTTP/1.1", 3, "a=1&b=2&c=3", 0);
	want_wire(&h->col.r[0].req, LIT_LEN(POST_REQ));
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.1", 1, "ok", 0);
	want_req(&h->col.r[1].req, "POST", "/empty", "HTTP/1.1", 1, NULL, 0);
	want_resp(&h->col.r[1].resp, 200, "OK", "HTTP/1.1", 1, NULL, 0);
	run_free(h);
}

#define CHUNK_REQ                                                          \
	"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"   \
	"4;name=val\r\nWiki\r\n"                                           \
	"5;a;b=\"q;x\"\r\npedia\r\n"                                        \
	"E\r\n in\r\n\r\nchunks.\r\n"                                      \
	"0;last=1\r\nX-Sum: 42\r\nX-Other: yes\r\n\r\n"

static void test_chunked_trailers_extensions(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, CHUNK_REQ),
		D(S2C, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "3\r\nabc\r\n000\r\n\r\n"),
		D(C2S, "GET /after HTTP/1.1\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		       "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nExpires: never\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 2);
	const struct tu_rec *r = h->col.r;
	want_req(&r[0].req, "POST", "/up", "HTTP/1.1", 2, "Wikipedia in\r\n\r\nchunks.", 0);
	want_wire(&r[0].req, LIT_LEN(CHUNK_REQ));
	assert_int_equal(r[0].req.ntrailers, 2);
	assert_str(r[0].req.tname[0], "X-Sum");
	assert_str(r[0].req.tval[0], "42");
	assert_str(r[0].req.tname[1], "X-Other");
	assert_str(r[0].req.tval[1], "yes");
	want_resp(&r[0].resp, 200, "OK", "HTTP/1.1", 1, "abc", 0);
	assert_int_equal(r[0].resp.ntrailers, 0);
	want_req(&r[1].req, "GET", "/after", "HTTP/1.1", 0, NULL, 0);
	want_resp(&r[1].resp, 200, "OK", "HTTP/1.1", 1, "abcdefghijklmnopqrstuvwxyz", 0);
	assert_int_equal(r[1].resp.ntrailers, 1);
	assert_str(r[1].resp.tname[0], "Expires");
	run_free(h);
}

static void test_response_until_close(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
		       "line one\nline two\r\n\r\nHTTP/1.1 200 OK\r\n"),
		E(S2C),
		E(C2S),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	want_req(&h->col.r[0].req, "GET", "/stream", "HTTP/1.1", 1, NULL, 0);
	/* Everything to the close is body, even what looks like a message. */
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.1", 2,
		  "line one\nline two\r\n\r\nHTTP/1.1 200 OK\r\n", 0);
	run_free(h);
}

static void test_head_response_has_no_body(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "HEAD /big HTTP/1.1\r\nHost: h\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
		D(C2S, "GET /small HTTP/1.1\r\nHost: h\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
		/* pipelined: the HEAD response is followed at once by another */
		D(C2S, "HEAD /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 4);
	const struct tu_rec *r = h->col.r;
	want_req(&r[0].req, "HEAD", "/big", "HTTP/1.1", 1, NULL, 0);
	want_resp(&r[0].resp, 200, "OK", "HTTP/1.1", 1, NULL, 0);
	want_req(&r[1].req, "GET", "/small", "HTTP/1.1", 1, NULL, 0);
	want_resp(&r[1].resp, 200, "OK", "HTTP/1.1", 1, "abc", 0);
	want_req(&r[2].req, "HEAD", "/x", "HTTP/1.1", 0, NULL, 0);
	want_resp(&r[2].resp, 200, "OK", "HTTP/1.1", 1, NULL, 0);
	want_req(&r[3].req, "GET", "/y", "HTTP/1.1", 0, NULL, 0);
	want_resp(&r[3].resp, 200, "OK", "HTTP/1.1", 1, "y", 0);
	run_free(h);
}

static void test_204_304(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "DELETE /x HTTP/1.1\r\n\r\n"
		       "GET /y HTTP/1.1\r\nIf-None-Match: \"e1\"\r\n\r\n"
		       "GET /z HTTP/1.1\r\n\r\n"),
		/* 204 and 304 never have a body, whatever their headers say. */
		D(S2C, "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
		       "HTTP/1.1 304 Not Modified\r\nETag: \"e1\"\r\nContent-Length: 100\r\n\r\n"
		       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 3);
	const struct tu_rec *r = h->col.r;
	want_req(&r[0].req, "DELETE", "/x", "HTTP/1.1", 0, NULL, 0);
	want_resp(&r[0].resp, 204, "No Content", "HTTP/1.1", 1, NULL, 0);
	want_req(&r[1].req, "GET", "/y", "HTTP/1.1", 1, NULL, 0);
	want_resp(&r[1].resp, 304, "Not Modified", "HTTP/1.1", 2, NULL, 0);
	want_req(&r[2].req, "GET", "/z", "HTTP/1.1", 0, NULL, 0);
	want_resp(&r[2].resp, 200, "OK", "HTTP/1.1", 1, "z", 0);
	run_free(h);
}

static void test_100_continue(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"),
		D(S2C, "HTTP/1.1 100 Continue\r\n\r\n"),
		D(C2S, "0123456789"),
		D(S2C, "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
		D(C2S, "GET /next HTTP/1.1\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 2);
	const struct tu_rec *r = h->col.r;
	want_req(&r[0].req, "POST", "/upload", "HTTP/1.1", 3, "0123456789", 0);
	want_resp(&r[0].resp, 201, "Created", "HTTP/1.1", 1, NULL, 0);
	assert_int_equal(r[0].resp.ninterim, 2);
	assert_int_equal(r[0].resp.interim[0], 100);
	assert_int_equal(r[0].resp.interim[1], 102);
	assert_int_equal(r[0].flags, 0);
	want_req(&r[1].req, "GET", "/next", "HTTP/1.1", 0, NULL, 0);
	want_resp(&r[1].resp, 200, "OK", "HTTP/1.1", 1, NULL, 0);
	assert_int_equal(r[1].resp.ninterim, 0);
	run_free(h);
}

#define WS_REQ                                                                          \
	"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
#define WS_RESP_HEAD                                                                   \
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

static void test_101_upgrade(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, WS_REQ),
		D(S2C, WS_RESP_HEAD "\x81\x05hello\x81\x05world"),
		D(C2S, "\x81\x85\x01\x02\x03\x04iiiii"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	want_req(&h->col.r[0].req, "GET", "/chat", "HTTP/1.1", 5, NULL, 0);
	want_resp(&h->col.r[0].resp, 101, "Switching Protocols", "HTTP/1.1", 3, NULL, 0);
	assert_str(h->sess.switch_to, "websocket");
	assert_int_equal(h->consumed[S2C], LIT_LEN(WS_RESP_HEAD));
	assert_int_equal(h->consumed[C2S], LIT_LEN(WS_REQ));
	run_free(h);

	/* The count data() returns, in one call. */
	static struct tu_h1 hh; /* static: see tu_teardown */
	tu_h1_open(&hh, NULL, false, false);
	assert_int_equal(tu_h1_str(&hh, C2S, WS_REQ, TS), LIT_LEN(WS_REQ));
	static const char resp[] = WS_RESP_HEAD "\x81\x05hello";
	assert_int_equal(tu_h1_data(&hh, S2C, resp, sizeof(resp) - 1, TS), LIT_LEN(WS_RESP_HEAD));
	assert_str(hh.sess.switch_to, "websocket");
	tu_h1_free(&hh);

	/* h2c names the HTTP/2 dissector; an unknown protocol, "upgraded". */
	tu_h1_open(&hh, NULL, false, false);
	tu_h1_str(&hh, C2S, "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
			    "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", TS);
	static const char h2c[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
	static const char h2c_more[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
				       "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
	assert_int_equal(tu_h1_data(&hh, S2C, h2c_more, sizeof(h2c_more) - 1, TS), LIT_LEN(h2c));
	assert_str(hh.sess.switch_to, "http2");
	tu_h1_free(&hh);

	tu_h1_open(&hh, NULL, false, false);
	tu_h1_str(&hh, C2S, "GET / HTTP/1.1\r\nUpgrade: foo/2\r\nConnection: upgrade\r\n\r\n", TS);
	tu_h1_str(&hh, S2C, "HTTP/1.1 101 Switching\r\nUpgrade: foo/2\r\n\r\n", TS);
	assert_str(hh.sess.switch_to, "upgraded");
	tu_h1_free(&hh);
}

#define CONNECT_REQ "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
#define CONNECT_RESP "HTTP/1.1 200 Connection Established\r\n\r\n"

static void test_connect_tunnel(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, CONNECT_REQ),
		D(S2C, CONNECT_RESP "\x16\x03\x01\x00\x05hello"),
		D(C2S, "\x16\x03\x01\x02\x00GET / HTTP/1.1\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	want_req(&h->col.r[0].req, "CONNECT", "example.com:443", "HTTP/1.1", 1, NULL, 0);
	want_resp(&h->col.r[0].resp, 200, "Connection Established", "HTTP/1.1", 0, NULL, 0);
	assert_str(h->sess.switch_to, "tunnel");
	assert_int_equal(h->consumed[S2C], LIT_LEN(CONNECT_RESP));
	run_free(h);

	/* A refused CONNECT is an ordinary exchange: no tunnel. */
	static const struct step st2[] = {
		D(C2S, CONNECT_REQ),
		D(S2C, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\ndeny"),
		D(C2S, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
	};
	struct scen sc2 = { st2, NSTEPS(st2), NULL, false, false };
	h = check_scen(&sc2);
	assert_null(h->sess.switch_to);
	assert_int_equal(h->col.n, 2);
	want_resp(&h->col.r[0].resp, 407, "Proxy Authentication Required", "HTTP/1.1", 1, "deny", 0);
	want_req(&h->col.r[1].req, "GET", "http://example.com/", "HTTP/1.1", 1, NULL, 0);
	want_resp(&h->col.r[1].resp, 200, "OK", "HTTP/1.1", 1, "ok", 0);
	run_free(h);
}

static void test_obs_fold(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "GET /fold HTTP/1.1\r\nHost: h\r\nX-Folded: first\r\n  second\r\n\tthird\r\n"
		       "Accept: */*\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 2\r\n\r\nok"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	const struct tu_msg *q = &h->col.r[0].req;
	want_req(q, "GET", "/fold", "HTTP/1.1", 3, NULL, 0);
	assert_str(q->hname[1], "X-Folded");
	const char *v = q->hval[1];
	/* Joined with spaces: no line break or tab survives. */
	assert_true(!strncmp(v, "first", 5));
	assert_non_null(strstr(v, "second"));
	assert_true(strlen(v) >= 5 && !strcmp(v + strlen(v) - 5, "third"));
	assert_null(strpbrk(v, "\r\n\t"));
	assert_str(q->hname[2], "Accept");
	assert_str(q->hval[2], "*/*");
	const struct tu_msg *s = &h->col.r[0].resp;
	want_resp(s, 200, "OK", "HTTP/1.1", 2, "ok", 0);
	assert_str(s->hname[0], "X-Long");
	assert_null(strpbrk(s->hval[0], "\r\n\t"));
	assert_int_equal(s->hval[0][0], 'a');
	assert_int_equal(s->hval[0][strlen(s->hval[0]) - 1], 'b');
	run_free(h);
}

static void test_http10(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "GET /old HTTP/1.0\r\nUser-Agent: x\r\n\r\n"),
		D(S2C, "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>old</html>"),
		E(S2C),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	want_req(&h->col.r[0].req, "GET", "/old", "HTTP/1.0", 1, NULL, 0);
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.0", 1, "<html>old</html>", 0);
	run_free(h);

	/* HTTP/1.0 keep-alive with lengths. */
	static const struct step st2[] = {
		D(C2S, "GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
		D(S2C, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\none"),
		D(C2S, "GET /2 HTTP/1.0\r\n\r\n"),
		D(S2C, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
	};
	struct scen sc2 = { st2, NSTEPS(st2), NULL, false, false };
	h = check_scen(&sc2);
	assert_int_equal(h->col.n, 2);
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.0", 2, "one", 0);
	want_req(&h->col.r[1].req, "GET", "/2", "HTTP/1.0", 0, NULL, 0);
	want_resp(&h->col.r[1].resp, 404, "Not Found", "HTTP/1.0", 1, NULL, 0);
	run_free(h);
}

static void test_http09(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "GET /\r\n"),
		D(S2C, "<html>zero nine</html>\n"),
		E(S2C),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	const struct tu_rec *r = &h->col.r[0];
	want_req(&r->req, "GET", "/", "HTTP/0.9", 0, NULL, 0);
	want_wire(&r->req, 7);
	want_resp(&r->resp, 0 /* null */, NULL, "HTTP/0.9", 0, "<html>zero nine</html>\n", 0);
	assert_non_null(strstr(r->json, "\"status\":null"));
	run_free(h);
}

/*
 * llhttp's "No HTTP version" fixture (request/sample.md): "GET /" then an
 * empty line. llhttp parses it as an HTTP/0.9 request; so must sonde, and
 * the same way whether or not the empty line comes in the same piece.
 */
static void test_http09_blank_line(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "GET /\r\n\r\n"),
		D(S2C, "<p>hi</p>"),
		E(S2C),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	want_req(&h->col.r[0].req, "GET", "/", "HTTP/0.9", 0, NULL, 0);
	want_resp(&h->col.r[0].resp, 0, NULL, "HTTP/0.9", 0, "<p>hi</p>", 0);
	assert_int_equal(h->stats.parse_errors, 0);
	run_free(h);
}

/* ======================================================= damage tests === */

#define GAPPED_HEAD "POST /g HTTP/1.1\r\nContent-Length: 10\r\n\r\n"

static void test_gap_in_body(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, GAPPED_HEAD "abc"),
		G(C2S, 4),
		D(C2S, "hij"),
		D(C2S, "GET /next HTTP/1.1\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbodyHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 2);
	const struct tu_msg *q = &h->col.r[0].req;
	assert_str(q->method, "POST");
	assert_true(q->flags & SONDE_MF_GAP);
	assert_false(q->flags & (SONDE_MF_INCOMPLETE | SONDE_MF_PARSE_ERROR));
	assert_int_equal(q->body_size, 10); /* exact despite the hole */
	assert_true(q->body_captured <= 6);
	assert_int_equal(q->wire_bytes, LIT_LEN(GAPPED_HEAD) + 10);
	assert_int_equal(q->captured_bytes, LIT_LEN(GAPPED_HEAD) + 6);
	assert_true(q->body_len >= 3 && !memcmp(q->body, "abc", 3));
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.1", 1, "body", 0);
	want_req(&h->col.r[1].req, "GET", "/next", "HTTP/1.1", 0, NULL, 0);
	want_resp(&h->col.r[1].resp, 200, "OK", "HTTP/1.1", 1, NULL, 0);
	assert_int_equal(h->stats.unparsed_bytes, 0);
	run_free(h);

	/* A gap ending exactly where the body ends: the next message follows. */
	static const struct step st1[] = {
		D(C2S, GAPPED_HEAD "ab"),
		G(C2S, 8),
		D(C2S, "GET /after HTTP/1.1\r\n\r\n"),
	};
	struct scen sc1 = { st1, NSTEPS(st1), NULL, false, false };
	h = check_scen(&sc1);
	assert_int_equal(h->col.n, 2);
	assert_int_equal(h->col.r[0].req.flags, SONDE_MF_GAP);
	assert_int_equal(h->col.r[0].req.body_size, 10);
	want_req(&h->col.r[1].req, "GET", "/after", "HTTP/1.1", 0, NULL, 0);
	assert_int_equal(h->stats.unparsed_bytes, 0);
	run_free(h);

	/* A gap running past the body's end: the message is finished (gap
	 * flagged, size exact) and the rest resynchronises. */
	static const struct step st2[] = {
		D(C2S, GAPPED_HEAD "ab"),
		G(C2S, 8 + 22),
		D(C2S, "xyz\r\nGET /after HTTP/1.1\r\n\r\n"),
	};
	struct scen sc2 = { st2, NSTEPS(st2), NULL, false, false };
	h = check_scen(&sc2);
	assert_int_equal(h->col.n, 2);
	assert_true(h->col.r[0].req.flags & SONDE_MF_GAP);
	assert_int_equal(h->col.r[0].req.body_size, 10);
	want_req(&h->col.r[1].req, "GET", "/after", "HTTP/1.1", 0, NULL, 0);
	run_free(h);
}

static void test_gap_in_head(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "GET /lost HTTP/1.1\r\nHo"),
		G(C2S, 20),
		D(C2S, "st: x\r\nAccept: y\r\n\r\nGET /found HTTP/1.1\r\nHost: y\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	/* The head cut by the gap is kept as far as its lines ended (a snap
	 * length cuts every packet so): the first request, answered first. */
	if (h->col.n != 2)
		tu_collector_dump(&h->col, "gap in head");
	assert_int_equal(h->col.n, 2);
	want_req(&h->col.r[0].req, "GET", "/lost", "HTTP/1.1", 0, NULL,
		 SONDE_MF_GAP | SONDE_MF_INCOMPLETE | SONDE_MF_HEADERS_TRUNCATED);
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.1", 1, NULL, 0);
	want_req(&h->col.r[1].req, "GET", "/found", "HTTP/1.1", 1, NULL, 0);
	/* The line cut short and the tail after the gap were skipped, counted. */
	assert_int_equal(h->stats.unparsed_bytes, LIT_LEN("Ho") + LIT_LEN("st: x\r\nAccept: y\r\n\r\n"));
	run_free(h);
}

/* A gap before the start line ended: nothing to keep, nothing made up. */
static void test_gap_in_start_line(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "GET /lo"),
		G(C2S, 20),
		D(C2S, "GET /found HTTP/1.1\r\nHost: y\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	want_req(&h->col.r[0].req, "GET", "/found", "HTTP/1.1", 1, NULL, 0);
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.1", 1, NULL, 0);
	assert_int_equal(h->stats.unparsed_bytes, LIT_LEN("GET /lo"));
	run_free(h);
}

static void test_gap_in_chunked(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(S2C, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123"),
		G(S2C, 100),
		D(S2C, "xx\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 2);
	assert_true(h->col.r[0].resp.flags & SONDE_MF_GAP);
	assert_int_equal(h->col.r[0].resp.status, 200);
	want_resp(&h->col.r[1].resp, 204, "No Content", "HTTP/1.1", 0, NULL, 0);
	assert_int_equal(h->col.r[1].flags, SONDE_RF_UNSOLICITED);
	run_free(h);
}

static void test_garbage_before_request(void **state)
{
	(void)state;
	/* Binary garbage. */
	static const struct step st[] = {
		D(C2S, "\x00\x01\x02garbage\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	want_req(&h->col.r[0].req, "GET", "/", "HTTP/1.1", 1, NULL, 0);
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.1", 1, "x", 0);
	assert_int_equal(h->stats.unparsed_bytes, 12);
	assert_true(h->stats.parse_errors >= 1);
	run_free(h);

	/* Garbage on the server side with no request waiting (with one
	 * waiting, bytes without a status line are an HTTP/0.9 response). */
	static const struct step st2[] = {
		D(S2C, "\x7f\x7fjunk\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
	};
	struct scen sc2 = { st2, NSTEPS(st2), NULL, false, false };
	h = check_scen(&sc2);
	assert_int_equal(h->col.n, 1);
	assert_int_equal(h->col.r[0].flags, SONDE_RF_UNSOLICITED);
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.1", 1, "x", 0);
	assert_int_equal(h->stats.unparsed_bytes, 7);
	run_free(h);
}

/*
 * Text garbage (a line starting with letters, not a request line) before a
 * valid request. The module's contract: "on bytes that cannot be a message,
 * the direction resynchronises at the next line that starts like a request".
 */
static void test_text_garbage_before_request(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "hello world\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	if (h->col.n != 1 || !h->col.r[0].req.present)
		tu_collector_dump(&h->col, "text garbage");
	assert_int_equal(h->col.n, 1);
	want_req(&h->col.r[0].req, "GET", "/", "HTTP/1.1", 1, NULL, 0);
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.1", 1, "x", 0);
	assert_int_equal(h->stats.unparsed_bytes, LIT_LEN("hello world\r\n"));
	run_free(h);
}

static void test_head_too_large(void **state)
{
	(void)state;
	struct sonde_dissect_opts o;
	tu_dissect_defaults(&o);
	o.max_head = 128;
	static struct tu_bytes big; /* static: see tu_teardown */
	tu_bytes_track(&big);
	tu_bytes_str(&big, "GET /big HTTP/1.1\r\nX-Big: ");
	for (int i = 0; i < 300; i++)
		tu_u8(&big, 'a');
	tu_bytes_str(&big, "\r\n\r\n");
	size_t big_len = big.len;
	tu_bytes_str(&big, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n");
	struct step st[] = {
		{ ST_DATA, C2S, (const char *)big.p, big.len, 0 },
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
	};
	struct scen sc = { st, NSTEPS(st), &o, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_true(h->stats.parse_errors >= 1);
	assert_int_equal(h->stats.unparsed_bytes, big_len);
	/* Nothing of the oversized head became a record; the next one did. */
	assert_int_equal(h->col.n, 1);
	want_req(&h->col.r[0].req, "GET", "/ok", "HTTP/1.1", 1, NULL, 0);
	run_free(h);

	/* A head that never ends is bounded too. */
	static struct tu_h1 hh; /* static: see tu_teardown */
	tu_h1_open(&hh, &o, false, false);
	tu_h1_str(&hh, C2S, "GET /x HTTP/1.1\r\n", TS);
	for (int i = 0; i < 1000; i++)
		tu_h1_str(&hh, C2S, "X-Header: value\r\n", TS);
	tu_h1_close(&hh, TS);
	assert_true(hh.stats.parse_errors >= 1);
	assert_int_equal(hh.col.n, 0);
	tu_h1_free(&hh);
	tu_bytes_free(&big);
}

static void test_body_limit(void **state)
{
	(void)state;
	struct sonde_dissect_opts o;
	tu_dissect_defaults(&o);
	o.body_limit = 16;
	static const char body100[] =
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzAB";
	_Static_assert(sizeof(body100) - 1 == 100, "100-byte body");
	static char req[256];
	snprintf(req, sizeof(req), "POST /big HTTP/1.1\r\nContent-Length: 100\r\n\r\n%s", body100);
	struct step st[] = {
		{ ST_DATA, C2S, req, strlen(req), 0 },
		D(S2C, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "20\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ012345\r\n0\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), &o, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	const struct tu_msg *q = &h->col.r[0].req;
	assert_int_equal(q->flags, SONDE_MF_TRUNCATED);
	assert_int_equal(q->body_size, 100);
	assert_int_equal(q->body_captured, 16);
	assert_bytes(q->body, q->body_len, body100, 16);
	assert_int_equal(q->wire_bytes, strlen(req));
	const struct tu_msg *s = &h->col.r[0].resp;
	assert_int_equal(s->flags, SONDE_MF_TRUNCATED);
	assert_int_equal(s->body_size, 32);
	assert_int_equal(s->body_captured, 16);
	assert_bytes(s->body, s->body_len, "ABCDEFGHIJKLMNOP", 16);
	assert_int_equal(h->stats.bodies_truncated, 2);
	run_free(h);
}

/*
 * Chunked trailers followed, in the same buffer, by a next message longer
 * than max_head: the trailers are short, so nothing is too large.
 */
static void test_trailers_then_long_message(void **state)
{
	(void)state;
	struct sonde_dissect_opts o;
	tu_dissect_defaults(&o);
	o.max_head = 256;
	static struct tu_bytes resp; /* static: see tu_teardown */
	tu_bytes_track(&resp);
	tu_bytes_str(&resp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "1\r\na\r\n0\r\nX-T: 1\r\n\r\n"
			    "HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n");
	for (int i = 0; i < 400; i++)
		tu_u8(&resp, (uint8_t)('a' + i % 26));
	struct step st[] = {
		D(C2S, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
		{ ST_DATA, S2C, (const char *)resp.p, resp.len, 0 },
	};
	struct scen sc = { st, NSTEPS(st), &o, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 2);
	const struct tu_msg *s = &h->col.r[0].resp;
	assert_int_equal(s->flags, 0);
	assert_int_equal(s->body_size, 1);
	assert_int_equal(s->ntrailers, 1);
	assert_int_equal(h->col.r[1].resp.body_size, 400);
	assert_int_equal(h->stats.parse_errors, 0);
	run_free(h);
	tu_bytes_free(&resp);
}

/* Requests left waiting at close are written unanswered; incomplete bodies
 * flagged. A response without request: unsolicited. */
static void test_unanswered_incomplete(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
		D(C2S, "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234"),
		E(C2S),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 3);
	const struct tu_rec *r = h->col.r;
	assert_int_equal(r[0].flags, SONDE_RF_UNSOLICITED);
	assert_false(r[0].req.present);
	want_resp(&r[0].resp, 200, "OK", "HTTP/1.1", 1, "hi", 0);
	assert_int_equal(r[1].flags, SONDE_RF_UNANSWERED);
	want_req(&r[1].req, "GET", "/a", "HTTP/1.1", 0, NULL, 0);
	assert_int_equal(r[2].flags, SONDE_RF_UNANSWERED);
	assert_str(r[2].req.method, "POST");
	assert_int_equal(r[2].req.flags, SONDE_MF_INCOMPLETE);
	assert_int_equal(r[2].req.body_size, 5);
	assert_int_equal(h->stats.records_unanswered, 2);
	assert_int_equal(h->stats.records_unsolicited, 1);
	run_free(h);
}

/* Joined mid-stream: the first bytes are the tail of an earlier message. */
static void test_midstream_resync(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "of a previous body\r\nmore\r\nGET /first HTTP/1.1\r\nHost: h\r\n\r\n"),
		D(S2C, "y end of a previous response\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, true, true };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	want_req(&h->col.r[0].req, "GET", "/first", "HTTP/1.1", 1, NULL, 0);
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.1", 1, "ok", 0);
	assert_int_equal(h->stats.unparsed_bytes,
			 LIT_LEN("of a previous body\r\nmore\r\n") + LIT_LEN("y end of a previous response\n"));
	run_free(h);
}

/* ============================================================= options === */

static size_t gzip_bytes(const char *plain, uint8_t *out, size_t cap)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)plain;
	z.avail_in = (uInt)strlen(plain);
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t n = cap - z.avail_out;
	deflateEnd(&z);
	return n;
}

static void test_gzip_decode(void **state)
{
	(void)state;
	struct sonde_dissect_opts o;
	tu_dissect_defaults(&o);
	o.decode_bodies = 1;
	static const char plain[] = "{\"hello\": \"world\", \"again\": \"hello world hello world\"}";
	uint8_t gz[256];
	size_t gzn = gzip_bytes(plain, gz, sizeof(gz));
	static char resp[512];
	int hn = snprintf(resp, sizeof(resp),
			  "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", gzn);
	memcpy(resp + hn, gz, gzn);
	struct step st[] = {
		D(C2S, "GET /gz HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n"),
		{ ST_DATA, S2C, resp, (size_t)hn + gzn, 0 },
	};
	struct scen sc = { st, NSTEPS(st), &o, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	const struct tu_msg *m = &h->col.r[0].resp;
	assert_int_equal(m->flags, 0);
	assert_str(m->content_encoding, "gzip");
	assert_true(m->decoded);
	assert_int_equal(m->decoded_size, strlen(plain));
	assert_int_equal(m->body_size, gzn);
	assert_int_equal(m->body_captured, gzn);
	assert_bytes(m->body, m->body_len, plain, strlen(plain));
	run_free(h);
}

static void test_many_headers(void **state)
{
	(void)state;
	static struct tu_bytes req; /* static: see tu_teardown */
	tu_bytes_track(&req);
	tu_bytes_str(&req, "GET /many HTTP/1.1\r\n");
	for (int i = 0; i < 130; i++) {
		char line[64];
		snprintf(line, sizeof(line), "X-H%d: v%d\r\n", i, i);
		tu_bytes_str(&req, line);
	}
	tu_bytes_str(&req, "\r\n");
	struct step st[] = {
		{ ST_DATA, C2S, (const char *)req.p, req.len, 0 },
		D(S2C, "HTTP/1.1 204 No Content\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 1);
	const struct tu_msg *m = &h->col.r[0].req;
	assert_int_equal(m->nheaders, 128);
	assert_int_equal(m->flags, SONDE_MF_HEADERS_TRUNCATED);
	assert_str(m->hname[127], "X-H127");
	assert_str(m->hval[127], "v127");
	assert_int_equal(m->wire_bytes, req.len);
	run_free(h);
	tu_bytes_free(&req);
}

static void test_conflicting_content_length(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello\r\n"
		       "GET /b HTTP/1.1\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 2);
	assert_str(h->col.r[0].req.target, "/a");
	assert_true(h->col.r[0].req.flags & SONDE_MF_PARSE_ERROR);
	want_req(&h->col.r[1].req, "GET", "/b", "HTTP/1.1", 0, NULL, 0);
	assert_true(h->stats.parse_errors >= 1);
	run_free(h);
}

/*
 * More requests waiting than max_waiting: the oldest is written unanswered.
 * HTTP/1.x answers in order, so the response that arrives next answers that
 * written-off request: it must not be paired with a later request.
 */
static void test_queue_overflow_pairing(void **state)
{
	(void)state;
	struct sonde_dissect_opts o;
	tu_dissect_defaults(&o);
	o.max_waiting = 2;
	static const struct step st[] = {
		D(C2S, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/1"
		       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/2"
		       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/3"),
	};
	struct scen sc = { st, NSTEPS(st), &o, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_true(h->stats.requests_flushed_for_memory >= 1);
	int paired = 0;
	for (size_t i = 0; i < h->col.n; i++) {
		const struct tu_rec *r = &h->col.r[i];
		if (!r->req.present || !r->resp.present)
			continue;
		paired++;
		/* Each response body names the request it answers. */
		if (r->resp.body_len != strlen(r->req.target) ||
		    memcmp(r->resp.body, r->req.target, r->resp.body_len)) {
			tu_collector_dump(&h->col, "queue overflow");
			fail_msg("request %s paired with the response to %.*s", r->req.target,
				 (int)r->resp.body_len, (const char *)r->resp.body);
		}
	}
	assert_true(paired >= 1);
	run_free(h);
}

/* ============================================================ llhttp === */

/*
 * The llhttp markdown fixtures (the .md files under nodejs/llhttp test/, MIT; see the
 * corpus' SOURCES.md). A fixture is a ```http block (the raw message, in
 * llhttp's escaped notation) and a ```log block (llhttp's callback trace).
 * We take the fixtures llhttp parses without error in its default (strict)
 * mode, turn the block into wire bytes the way llhttp's md-test harness does
 * and check sonde reports what the trace says: method, url, status, version,
 * header and trailer counts, body size.
 */
struct fx_msg {
	char method[32];
	struct sonde_buf url;
	bool url_escaped;
	int status, vmaj, vmin;
	unsigned flags;
	int method_code;
	size_t nheaders, ntrailers;
	uint64_t body;
	bool headers_done, complete;
	bool incomplete; /* expected flagged incomplete (cut short at the end) */
};

struct fixture {
	char name[160];
	bool response;
	struct sonde_buf wire;
	struct fx_msg msg[16];
	size_t nmsg;
	const char *skip; /* why not checked, or NULL */
};

static void fx_reset(struct fixture *f)
{
	sonde_buf_free(&f->wire);
	for (size_t i = 0; i < f->nmsg; i++)
		sonde_buf_free(&f->msg[i].url);
	memset(f, 0, sizeof(*f));
}

/* llhttp's md-test conversion of an ```http block to bytes. */
static void fx_wire(const char *block, size_t n, struct sonde_buf *out)
{
	struct sonde_buf a = { 0 };
	/* Delete backslash-newline continuations; other newlines become CRLF. */
	for (size_t i = 0; i < n; i++) {
		if (block[i] == '\\' && i + 1 < n && block[i + 1] == '\n') {
			i++;
			continue;
		}
		if (block[i] == '\n')
			sonde_buf_putc(&a, '\r');
		sonde_buf_putc(&a, block[i]);
	}
	/* Escapes. */
	for (size_t i = 0; i < a.len; i++) {
		char c = (char)a.p[i];
		if (c != '\\' || i + 1 >= a.len) {
			sonde_buf_putc(out, c);
			continue;
		}
		char e = (char)a.p[i + 1];
		if (e == 'r' || e == 'n' || e == 't' || e == 'f') {
			sonde_buf_putc(out, e == 'r' ? '\r' : e == 'n' ? '\n' : e == 't' ? '\t' : '\f');
			i++;
		} else if (e == 'x' && i + 3 < a.len) {
			char hx[3] = { (char)a.p[i + 2], (char)a.p[i + 3], 0 };
			sonde_buf_putc(out, (char)strtol(hx, NULL, 16));
			i += 3;
		} else if (e >= '0' && e <= '7') {
			int v = 0, k = 0;
			while (k < 3 && i + 1 + k < a.len && a.p[i + 1 + k] >= '0' && a.p[i + 1 + k] <= '7') {
				v = v * 8 + (a.p[i + 1 + k] - '0');
				k++;
			}
			sonde_buf_putc(out, (char)v);
			i += (size_t)k;
		} else {
			sonde_buf_putc(out, c);
		}
	}
	sonde_buf_free(&a);
}

/* The quoted value of a span line: from after `="` to the last `"`. */
static bool fx_span_value(const char *line, const char **v, size_t *vl)
{
	const char *q = strstr(line, "=\"");
	const char *e = strrchr(line, '"');
	if (!q || !e || e < q + 2)
		return false;
	*v = q + 2;
	*vl = (size_t)(e - (q + 2));
	return true;
}

static void fx_log_line(struct fixture *f, const char *line)
{
	struct fx_msg *m = f->nmsg ? &f->msg[f->nmsg - 1] : NULL;
	const char *s = line;
	if (!strncmp(s, "off=", 4)) {
		s = strchr(s, ' ');
		if (!s)
			return;
		s++;
	}
	if (strstr(s, "error code=")) {
		if (!f->skip)
			f->skip = "llhttp expects an error";
		return;
	}
	if (!strcmp(s, "message begin")) {
		if (f->nmsg == 16) {
			f->skip = "too many messages";
			return;
		}
		f->nmsg++;
		return;
	}
	if (!m)
		return;
	if (!strncmp(s, "len=", 4)) {
		unsigned long len = strtoul(s + 4, NULL, 10);
		const char *v;
		size_t vl;
		if (strstr(s, "span[method]=") && fx_span_value(s, &v, &vl)) {
			snprintf(m->method, sizeof(m->method), "%.*s", (int)vl, v);
		} else if (strstr(s, "span[url]=") && fx_span_value(s, &v, &vl)) {
			sonde_buf_append(&m->url, v, vl);
			if (memchr(v, '\\', vl) || vl != len)
				m->url_escaped = true;
		} else if (strstr(s, "span[protocol]=") && fx_span_value(s, &v, &vl)) {
			if (vl != 4 || memcmp(v, "HTTP", 4))
				f->skip = "not HTTP";
		} else if (strstr(s, "span[body]=")) {
			m->body += len;
		}
		return;
	}
	if (!strcmp(s, "header_field complete")) {
		if (m->headers_done)
			m->ntrailers++;
		else
			m->nheaders++;
		return;
	}
	if (!strncmp(s, "headers complete", 16)) {
		m->headers_done = true;
		const char *p;
		if ((p = strstr(s, "method=")))
			m->method_code = atoi(p + 7);
		if ((p = strstr(s, "status=")))
			m->status = atoi(p + 7);
		if ((p = strstr(s, " v=")))
			sscanf(p + 3, "%d/%d", &m->vmaj, &m->vmin);
		if ((p = strstr(s, "flags=")))
			m->flags = (unsigned)strtoul(p + 6, NULL, 16);
		return;
	}
	if (!strcmp(s, "message complete"))
		m->complete = true;
}

/* Decide whether sonde can be held to this trace. */
static void fx_judge(struct fixture *f)
{
	if (f->skip)
		return;
	if (!f->nmsg) {
		f->skip = "no message";
		return;
	}
	if (memmem(f->wire.p, f->wire.len, "${", 2)) {
		f->skip = "JavaScript expression";
		return;
	}
	for (size_t i = 0; i < f->nmsg; i++) {
		struct fx_msg *m = &f->msg[i];
		bool last = i + 1 == f->nmsg;
		if (!m->headers_done) {
			/* A last head cut short gives no record (its bytes are
			 * counted as unparsed at the end). */
			if (!last) {
				f->skip = "head not complete";
				return;
			}
			sonde_buf_free(&m->url);
			memset(m, 0, sizeof(*m));
			f->nmsg--;
			break;
		}
		if (!((m->vmaj == 1 && m->vmin <= 1) || (m->vmaj == 0 && m->vmin == 9))) {
			f->skip = "not HTTP/1.x";
			return;
		}
		if (f->response && m->vmaj == 0) {
			/* "HTTP/0.9 200 OK": a status line claiming 0.9, which
			 * sonde (HTTP/1.x only) does not accept; not a real 0.9
			 * response (those have no status line). */
			f->skip = "status line with version 0.9";
			return;
		}
		if (m->flags & 0x10 /* F_UPGRADE */ || m->method_code == 5 /* CONNECT */) {
			f->skip = "upgrade/CONNECT: llhttp stops there";
			return;
		}
		if (m->complete)
			continue;
		if (!last) {
			f->skip = "message not complete";
			return;
		}
		/* The last message may be unfinished: a response running to
		 * the close is complete at the end, anything else must be
		 * flagged incomplete. */
		if (!f->response || (m->flags & (0x08 | 0x20)))
			m->incomplete = true;
	}
	if (!f->nmsg)
		f->skip = "no complete head";
}

struct fx_stats {
	int checked, skipped, failed;
	struct sonde_buf why;
};

static void fx_fail(struct fx_stats *st, const struct fixture *f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fx_fail(struct fx_stats *st, const struct fixture *f, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sonde_buf_printf(&st->why, "  %s: %s\n", f->name, msg);
	st->failed++;
}

static void fx_check(struct fixture *f, struct fx_stats *st)
{
	enum sonde_dir dir = f->response ? S2C : C2S;
	struct step steps[2] = {
		{ ST_DATA, dir, (const char *)f->wire.p, f->wire.len, 0 },
		E(dir),
	};
	struct scen sc = { steps, 2, NULL, false, false };
	struct tu_h1 *h = run_scen(&sc, FEED_WHOLE, 0, 0);
	struct tu_h1 *hb = run_scen(&sc, FEED_BYTES, 0, 0);
	struct sonde_buf a = { 0 }, b = { 0 };
	canon(h, &a);
	canon(hb, &b);
	size_t failed_before = (size_t)st->failed;
	if (a.len != b.len || memcmp(a.p, b.p, a.len))
		fx_fail(st, f, "byte-by-byte feed gives other records than the whole feed");
	/* sonde folds 1xx interim responses into the final response. */
	size_t nfinal = 0;
	for (size_t i = 0; i < f->nmsg; i++)
		if (!f->response || f->msg[i].status < 100 || f->msg[i].status >= 200 ||
		    f->msg[i].status == 101)
			nfinal++;
	if (h->col.n != nfinal) {
		fx_fail(st, f, "%zu records, llhttp saw %zu messages (%zu final)", h->col.n, f->nmsg, nfinal);
		goto out;
	}
	int interim[8];
	size_t ninterim = 0, rec = 0;
	for (size_t i = 0; i < f->nmsg; i++) {
		const struct fx_msg *m = &f->msg[i];
		if (f->response && m->status >= 100 && m->status < 200 && m->status != 101) {
			if (ninterim < 8)
				interim[ninterim++] = m->status;
			continue;
		}
		const struct tu_msg *t = f->response ? &h->col.r[rec].resp : &h->col.r[rec].req;
		rec++;
		if (f->response) {
			bool same = t->ninterim == ninterim;
			for (size_t k = 0; same && k < ninterim; k++)
				same = t->interim[k] == interim[k];
			if (!same)
				fx_fail(st, f, "message %zu: %zu interim responses, llhttp %zu before it", i,
					t->ninterim, ninterim);
			ninterim = 0;
		}
		char ver[16];
		if (m->vmaj == 0)
			snprintf(ver, sizeof(ver), "HTTP/0.9");
		else
			snprintf(ver, sizeof(ver), "HTTP/%d.%d", m->vmaj, m->vmin);
		if (!t->present) {
			fx_fail(st, f, "message %zu: no %s in the record", i, f->response ? "response" : "request");
			continue;
		}
		if (f->response) {
			if (t->status != m->status)
				fx_fail(st, f, "message %zu: status %d, llhttp %d", i, t->status, m->status);
		} else {
			if (!t->method || strcmp(t->method, m->method))
				fx_fail(st, f, "message %zu: method %s, llhttp %s", i, t->method ? t->method : "(none)", m->method);
			if (!m->url_escaped && (!t->target || t->target_len != m->url.len ||
						memcmp(t->target, m->url.p, m->url.len)))
				fx_fail(st, f, "message %zu: target '%s', llhttp '%.*s'", i,
					t->target ? t->target : "(none)", (int)m->url.len, (const char *)m->url.p);
		}
		if (strcmp(t->version, ver))
			fx_fail(st, f, "message %zu: version %s, llhttp %s", i, t->version, ver);
		if (t->nheaders != m->nheaders)
			fx_fail(st, f, "message %zu: %zu headers, llhttp %zu", i, t->nheaders, m->nheaders);
		if (t->ntrailers != m->ntrailers)
			fx_fail(st, f, "message %zu: %zu trailers, llhttp %zu", i, t->ntrailers, m->ntrailers);
		if (t->body_size != m->body)
			fx_fail(st, f, "message %zu: body %llu bytes, llhttp %llu", i,
				(unsigned long long)t->body_size, (unsigned long long)m->body);
		uint32_t want_flags = m->incomplete ? SONDE_MF_INCOMPLETE : 0;
		if ((t->flags & (SONDE_MF_PARSE_ERROR | SONDE_MF_INCOMPLETE | SONDE_MF_GAP)) != want_flags)
			fx_fail(st, f, "message %zu: flags 0x%x, expected 0x%x", i, t->flags, want_flags);
	}
	if ((size_t)st->failed == failed_before && h->stats.parse_errors)
		fx_fail(st, f, "%llu parse errors counted", (unsigned long long)h->stats.parse_errors);
out:
	if ((size_t)st->failed != failed_before)
		sonde_buf_printf(&st->why, "    sonde: %.*s", (int)(a.len > 600 ? 600 : a.len), (const char *)a.p);
	st->checked++;
	sonde_buf_free(&a);
	sonde_buf_free(&b);
	run_free(h);
	run_free(hb);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	struct sonde_buf b = { 0 };
	char tmp[4096];
	size_t k;
	while ((k = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		sonde_buf_append(&b, tmp, k);
	fclose(fp);
	sonde_buf_putc(&b, 0);
	*len = b.len - 1;
	return (char *)b.p;
}

/* Run every fixture of one file; returns how many were checked. */
static int fx_file(const char *dir, const char *rel, struct fx_stats *st)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	size_t len;
	char *text = slurp(path, &len);
	if (!text)
		fail_msg("cannot read %s", path);
	int before = st->checked;
	struct fixture f;
	memset(&f, 0, sizeof(f));
	char heading[128] = "";
	bool have_meta = false, have_http = false;
	char *line = text;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		char *next = nl ? nl + 1 : NULL;
		if (!strncmp(line, "#", 1)) {
			size_t h = 0;
			while (h < ll && (line[h] == '#' || line[h] == ' '))
				h++;
			snprintf(heading, sizeof(heading), "%.*s", (int)(ll - h), line + h);
		} else if (!strncmp(line, "<!-- meta=", 10)) {
			fx_reset(&f);
			have_meta = true;
			have_http = false;
			snprintf(f.name, sizeof(f.name), "%s: %s", rel, heading);
			char meta[256];
			snprintf(meta, sizeof(meta), "%.*s", (int)ll, line);
			const char *t = strstr(meta, "\"type\"");
			char type[64] = "";
			if (t && (t = strchr(t + 6, '"')))
				sscanf(t + 1, "%63[^\"]", type);
			if (!strcmp(type, "response"))
				f.response = true;
			else if (strcmp(type, "request"))
				f.skip = "not a default-mode request/response fixture";
			if (strstr(meta, "skipBody"))
				f.skip = "skipBody";
		} else if (have_meta && !have_http && ll == 7 && !strncmp(line, "```http", 7)) {
			/* The block: lines up to the closing fence, joined by \n
			 * (which drops the one trailing newline). */
			char *b = next, *e = b;
			while (e && strncmp(e, "```", 3)) {
				char *enl = strchr(e, '\n');
				e = enl ? enl + 1 : NULL;
			}
			if (!e)
				break;
			size_t bl = (size_t)(e - b);
			if (bl)
				bl--; /* the newline before the fence */
			fx_wire(b, bl, &f.wire);
			have_http = true;
			next = strchr(e, '\n');
			next = next ? next + 1 : NULL;
		} else if (have_meta && have_http && ll == 6 && !strncmp(line, "```log", 6)) {
			char *e = next;
			while (e && strncmp(e, "```", 3)) {
				char *enl = strchr(e, '\n');
				char lb[1024];
				size_t l2 = enl ? (size_t)(enl - e) : strlen(e);
				snprintf(lb, sizeof(lb), "%.*s", (int)l2, e);
				fx_log_line(&f, lb);
				e = enl ? enl + 1 : NULL;
			}
			fx_judge(&f);
			if (f.skip && getenv("SONDE_FIXTURE_VERBOSE"))
				print_message("  skip %s: %s\n", f.name, f.skip);
			if (f.skip)
				st->skipped++;
			else
				fx_check(&f, st);
			have_meta = have_http = false;
			next = e ? strchr(e, '\n') : NULL;
			next = next ? next + 1 : NULL;
		}
		line = next;
	}
	fx_reset(&f);
	free(text);
	return st->checked - before;
}

static const char *corpus_http1_dir(void)
{
	static char dir[1024];
	const char *env = getenv("SONDE_CORPUS");
	const char *cands[] = { env, "../shared/corpus", "../../shared/corpus" };
	for (size_t i = 0; i < sizeof(cands) / sizeof(*cands); i++) {
		if (!cands[i])
			continue;
		snprintf(dir, sizeof(dir), "%s/http1/llhttp-fixtures", cands[i]);
		struct stat sb;
		if (!stat(dir, &sb) && S_ISDIR(sb.st_mode))
			return dir;
	}
	return NULL;
}

static void test_llhttp_fixtures(void **state)
{
	(void)state;
	const char *dir = corpus_http1_dir();
	if (!dir) {
		print_message("llhttp fixtures not found (set SONDE_CORPUS): skipped\n");
		skip();
	}
	struct fx_stats st = { 0 };
	/* The three files every run must check a handful of fixtures of. */
	static const char *const required[] = {
		"request/sample.md", "request/transfer-encoding.md", "response/sample.md",
	};
	for (size_t i = 0; i < sizeof(required) / sizeof(*required); i++) {
		int n = fx_file(dir, required[i], &st);
		print_message("llhttp %s: %d fixtures checked\n", required[i], n);
		if (n < 5)
			fail_msg("only %d fixtures of %s were usable", n, required[i]);
	}
	static const char *const more[] = {
		"request/content-length.md", "request/connection.md", "request/method.md",
		"request/uri.md", "request/pipelining.md", "response/content-length.md",
		"response/connection.md", "response/transfer-encoding.md", "response/pipelining.md",
	};
	for (size_t i = 0; i < sizeof(more) / sizeof(*more); i++) {
		int n = fx_file(dir, more[i], &st);
		print_message("llhttp %s: %d fixtures checked\n", more[i], n);
	}
	print_message("llhttp fixtures: %d checked, %d skipped (errors expected, lenient modes, "
		      "upgrades), %d mismatches\n", st.checked, st.skipped, st.failed);
	if (st.failed) {
		fflush(stdout);
		fprintf(stderr, "%.*s", (int)st.why.len, (const char *)st.why.p);
		sonde_buf_free(&st.why);
		fail_msg("%d llhttp fixture mismatches", st.failed);
	}
	sonde_buf_free(&st.why);
}

/* A few fixtures embedded, so the parser is checked without the corpus.
 * From llhttp test/request/sample.md ("curl GET", "Apache bench GET"),
 * test/request/transfer-encoding.md ("Two chunks and triple zero prefixed
 * end chunk") and test/response/sample.md ("Underscore in header key"). */
static void test_llhttp_embedded(void **state)
{
	(void)state;
	static const struct step st[] = {
		D(C2S, "GET /test HTTP/1.1\r\n"
		       "User-Agent: curl/7.18.0 (i486-pc-linux-gnu) libcurl/7.18.0 OpenSSL/0.9.8g zlib/1.2.3.3 libidn/1.1\r\n"
		       "Host: 0.0.0.0=5000\r\nAccept: */*\r\n\r\n"
		       "GET /test HTTP/1.0\r\nHost: 0.0.0.0:5000\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n"
		       "POST /two_chunks_mult_zero_end HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "5\r\nhello\r\n6\r\n world\r\n000\r\n\r\n"),
		D(S2C, "HTTP/1.1 200 OK\r\nServer: DCLK-AdSvr\r\nContent-Type: text/xml\r\nContent-Length: 0\r\n"
		       "DCLK_imp: v7;x;114750856;0-0;0;17820020;0/0;21603567/21621457/1;;~okv=;dcmt=text/xml;;~cs=o\r\n\r\n"),
	};
	struct scen sc = { st, NSTEPS(st), NULL, false, false };
	struct tu_h1 *h = check_scen(&sc);
	assert_int_equal(h->col.n, 3);
	want_req(&h->col.r[0].req, "GET", "/test", "HTTP/1.1", 3, NULL, 0);
	want_resp(&h->col.r[0].resp, 200, "OK", "HTTP/1.1", 4, NULL, 0);
	assert_str(h->col.r[0].resp.hname[3], "DCLK_imp");
	want_req(&h->col.r[1].req, "GET", "/test", "HTTP/1.0", 3, NULL, 0);
	want_req(&h->col.r[2].req, "POST", "/two_chunks_mult_zero_end", "HTTP/1.1", 1, "hello world", 0);
	run_free(h);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_get_keepalive),
		tu_test(test_pipelined),
		tu_test(test_post_content_length),
		tu_test(test_chunked_trailers_extensions),
		tu_test(test_response_until_close),
		tu_test(test_head_response_has_no_body),
		tu_test(test_204_304),
		tu_test(test_100_continue),
		tu_test(test_101_upgrade),
		tu_test(test_connect_tunnel),
		tu_test(test_obs_fold),
		tu_test(test_http10),
		tu_test(test_http09),
		tu_test(test_http09_blank_line),
		tu_test(test_gap_in_body),
		tu_test(test_gap_in_head),
		tu_test(test_gap_in_start_line),
		tu_test(test_gap_in_chunked),
		tu_test(test_garbage_before_request),
		tu_test(test_text_garbage_before_request),
		tu_test(test_head_too_large),
		tu_test(test_body_limit),
		tu_test(test_trailers_then_long_message),
		tu_test(test_unanswered_incomplete),
		tu_test(test_midstream_resync),
		tu_test(test_gzip_decode),
		tu_test(test_many_headers),
		tu_test(test_conflicting_content_length),
		tu_test(test_queue_overflow_pairing),
		tu_test(test_llhttp_embedded),
		tu_test(test_llhttp_fixtures),
	};
	return cmocka_run_group_tests_name("http1", tests, NULL, NULL);
}
