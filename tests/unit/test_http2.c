/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 dissector: HPACK story vectors (hpack-test-case) decoded through the
 * dissector's per-direction inflater, a hand-built h2c exchange fed whole,
 * split at every offset and byte by byte, interleaved streams paired by
 * stream id, resets, server push and malformed input; a connection joined in
 * the middle (unknown HPACK entries marked, never guessed, exact again once
 * the tables turn over; whole, every split, byte by byte), lost bytes inside
 * a DATA payload and across frames, the client's first stream making its
 * table known, and the mid-stream probe; gRPC calls (the "grpc" object:
 * framing across DATA frames, the 64-message bound, trailers-only status,
 * gzip messages); a GraphQL request and its errors; --decode-bodies (gzip
 * and deflate bodies split across DATA frames inflated, content_encoding
 * written with or without it, the body limit bounding the inflated body).
 */
#include <dirent.h>
#include <nghttp2/nghttp2.h>
#include <zlib.h>

#include "testutil.h"

#include "core/hex.h"
#include "proto/content/grpc.h"

extern const struct sonde_dissector sonde_dissector_http2;

#define TS 1700000000000000000ull
#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

/* Open the HTTP/2 dissector on tu_h1's fake session (joined mid-stream or not). */
static void h2_open_mid(struct tu_h1 *h, const struct sonde_dissect_opts *o, bool mid)
{
	tu_h1_open(h, o, mid, mid);
	h->d->close(h->state, 0); /* the HTTP/1 state it opened */
	h->d = &sonde_dissector_http2;
	h->state = h->d->open(&h->sess);
}

static void h2_open(struct tu_h1 *h, const struct sonde_dissect_opts *o)
{
	h2_open_mid(h, o, false);
}

static void frame(struct tu_bytes *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
		  size_t n)
{
	tu_u8(b, (uint8_t)(n >> 16));
	tu_be16(b, (uint16_t)n);
	tu_u8(b, type);
	tu_u8(b, flags);
	tu_be32(b, sid);
	if (n)
		tu_bytes_put(b, p, n);
}

static void settings(struct tu_bytes *b, int hts)
{
	uint8_t p[6] = { 0, 1, (uint8_t)(hts >> 24), (uint8_t)(hts >> 16), (uint8_t)(hts >> 8),
			 (uint8_t)hts };
	frame(b, 4, 0, 0, p, hts >= 0 ? 6 : 0);
}

/* HPACK-encode name/value pairs (NULL-terminated list). */
static void encode(nghttp2_hd_deflater *def, struct tu_bytes *out, const char *const *nv)
{
	nghttp2_nv a[32];
	size_t n = 0;
	for (; nv[2 * n]; n++) {
		a[n].name = (uint8_t *)(uintptr_t)nv[2 * n];
		a[n].namelen = strlen(nv[2 * n]);
		a[n].value = (uint8_t *)(uintptr_t)nv[2 * n + 1];
		a[n].valuelen = strlen(nv[2 * n + 1]);
		a[n].flags = NGHTTP2_NV_FLAG_NONE;
	}
	size_t bound = nghttp2_hd_deflate_bound(def, a, n);
	uint8_t *buf = tu_xmalloc(bound);
	ssize_t r = nghttp2_hd_deflate_hd(def, buf, bound, a, n);
	assert_true(r > 0);
	tu_bytes_put(out, buf, (size_t)r);
	free(buf);
}

/* HEADERS (split into CONTINUATION frames of at most `piece` bytes). */
static void headers(struct tu_bytes *b, nghttp2_hd_deflater *def, uint32_t sid, bool end_stream,
		    size_t piece, const char *const *nv)
{
	struct tu_bytes blk = { 0 };
	encode(def, &blk, nv);
	size_t off = 0;
	bool first = true;
	do {
		size_t k = blk.len - off < piece ? blk.len - off : piece;
		uint8_t fl = off + k == blk.len ? 0x4 : 0;
		if (first)
			frame(b, 1, fl | (end_stream ? 1 : 0), sid, blk.p + off, k);
		else
			frame(b, 9, fl, sid, blk.p + off, k);
		first = false;
		off += k;
	} while (off < blk.len);
	tu_bytes_free(&blk);
}

static void data_padded(struct tu_bytes *b, uint32_t sid, bool end, const char *s, uint8_t pad)
{
	struct tu_bytes p = { 0 };
	tu_u8(&p, pad);
	tu_bytes_str(&p, s);
	tu_bytes_zero(&p, pad);
	frame(b, 0, (end ? 1 : 0) | 0x8, sid, p.p, p.len);
	tu_bytes_free(&p);
}

/* The exchange of test 2: both directions' bytes. */
static void build_exchange(struct tu_bytes *c2s, struct tu_bytes *s2c)
{
	nghttp2_hd_deflater *dc, *ds;
	assert_int_equal(nghttp2_hd_deflate_new(&dc, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	tu_bytes_str(c2s, PREFACE);
	settings(c2s, -1);
	settings(s2c, -1);
	frame(s2c, 4, 1, 0, NULL, 0); /* ACK */
	frame(c2s, 4, 1, 0, NULL, 0);
	static const char *const rq1[] = { ":method", "POST", ":scheme", "http", ":path", "/a",
					   ":authority", "example.com", "user-agent", "unit/1.0",
					   "x-long", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
					   NULL };
	static const char *const rq3[] = { ":method", "GET", ":scheme", "http", ":path", "/b",
					   ":authority", "example.com", NULL };
	headers(c2s, dc, 1, false, 10, rq1); /* HEADERS + CONTINUATION x n */
	headers(c2s, dc, 3, true, 1000, rq3);
	frame(c2s, 8, 0, 0, "\0\0\1\0", 4); /* WINDOW_UPDATE */
	data_padded(c2s, 1, false, "hello ", 3);
	frame(c2s, 6, 0, 0, "12345678", 8); /* PING */
	data_padded(c2s, 1, true, "world", 0);
	static const char *const rs3[] = { ":status", "404", "content-type", "text/plain", NULL };
	static const char *const rs1[] = { ":status", "200", "content-type", "text/plain", NULL };
	static const char *const tr1[] = { "grpc-status", "0", NULL };
	headers(s2c, ds, 3, false, 1000, rs3);
	headers(s2c, ds, 1, false, 1000, rs1);
	data_padded(s2c, 1, false, "body-one", 7);
	data_padded(s2c, 3, true, "nope", 2);
	headers(s2c, ds, 1, true, 1000, tr1); /* trailers */
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);
}

/* Feed c2s then s2c, each cut at `cut` (0: whole; 1: byte by byte if bytewise). */
static void run_exchange(struct tu_h1 *h, const struct tu_bytes *c2s, const struct tu_bytes *s2c,
			 size_t cut, bool bytewise)
{
	const struct tu_bytes *dirs[2] = { c2s, s2c };
	for (int d = 0; d < 2; d++) {
		const struct tu_bytes *b = dirs[d];
		if (bytewise) {
			for (size_t i = 0; i < b->len; i++)
				tu_h1_data(h, (enum sonde_dir)d, b->p + i, 1, TS);
		} else {
			size_t k = cut < b->len ? cut : b->len;
			if (k)
				tu_h1_data(h, (enum sonde_dir)d, b->p, k, TS);
			if (b->len > k)
				tu_h1_data(h, (enum sonde_dir)d, b->p + k, b->len - k, TS);
		}
	}
	tu_h1_close(h, TS);
}

static char *joined_json(const struct tu_collector *c)
{
	struct sonde_buf b = { 0 };
	for (size_t i = 0; i < c->n; i++) {
		sonde_buf_append(&b, c->r[i].json, c->r[i].json_len);
		sonde_buf_putc(&b, '\n');
	}
	sonde_buf_putc(&b, 0);
	return (char *)b.p;
}

static void test_exchange(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	build_exchange(&c2s, &s2c);

	static struct tu_h1 h;
	h2_open(&h, NULL);
	run_exchange(&h, &c2s, &s2c, 0, false);
	assert_false(h.col.bad_record);
	assert_int_equal(h.col.n, 2);
	assert_int_equal(h.stats.parse_errors, 0);
	assert_int_equal(h.stats.unparsed_bytes, 0);
	/* stream 3's response completes first; each pairs by stream id */
	const struct tu_rec *r3 = &h.col.r[0], *r1 = &h.col.r[1];
	assert_string_equal(r3->req.method, "GET");
	assert_string_equal(r3->req.target, "/b");
	assert_int_equal(r3->resp.status, 404);
	assert_int_equal(r3->resp.body_size, 4);
	assert_memory_equal(r3->resp.body, "nope", 4);
	assert_string_equal(r1->req.method, "POST");
	assert_string_equal(r1->req.target, "/a");
	assert_string_equal(r1->req.version, "HTTP/2");
	assert_int_equal(r1->req.body_size, 11);
	assert_memory_equal(r1->req.body, "hello world", 11);
	assert_int_equal(r1->resp.status, 200);
	assert_int_equal(r1->resp.body_size, 8);
	assert_int_equal(r1->resp.ntrailers, 1);
	assert_string_equal(r1->resp.tname[0], "grpc-status");
	assert_int_equal(r1->flags, 0);
	assert_int_equal(r1->req.flags, 0);
	assert_int_equal(r1->resp.flags, 0);
	assert_non_null(strstr(r1->json, "\"stream_id\":1"));
	assert_non_null(strstr(r3->json, "\"stream_id\":3"));
	assert_non_null(strstr(r1->json, "[\"x-long\",\"aaaa"));
	/* wire bytes: every frame of the stream in that direction */
	assert_true(r1->req.wire_bytes > 0 && r1->req.wire_bytes == r1->req.captured_bytes);
	char *want = joined_json(&h.col);
	tu_h1_free(&h);

	for (size_t cut = 1; cut < (c2s.len > s2c.len ? c2s.len : s2c.len); cut++) {
		h2_open(&h, NULL);
		run_exchange(&h, &c2s, &s2c, cut, false);
		char *got = joined_json(&h.col);
		if (strcmp(got, want))
			fail_msg("split at %zu:\n%s\nwanted\n%s", cut, got, want);
		free(got);
		tu_h1_free(&h);
	}
	h2_open(&h, NULL);
	run_exchange(&h, &c2s, &s2c, 0, true);
	char *got = joined_json(&h.col);
	assert_string_equal(got, want);
	free(got);
	tu_h1_free(&h);
	free(want);
}

/* RST_STREAM makes both messages incomplete; PUSH_PROMISE a pushed request. */
static void test_reset_and_push(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	nghttp2_hd_deflater *dc, *ds;
	assert_int_equal(nghttp2_hd_deflate_new(&dc, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	tu_bytes_str(&c2s, PREFACE);
	settings(&c2s, -1);
	settings(&s2c, -1);
	static const char *const rq[] = { ":method", "GET", ":scheme", "http", ":path", "/",
					  ":authority", "h", NULL };
	static const char *const rq5[] = { ":method", "POST", ":scheme", "http", ":path", "/up",
					   ":authority", "h", NULL };
	static const char *const pp[] = { ":method", "GET", ":scheme", "http", ":path",
					  "/style.css", ":authority", "h", NULL };
	static const char *const ok[] = { ":status", "200", NULL };
	headers(&c2s, dc, 1, true, 1000, rq);
	headers(&c2s, dc, 5, false, 1000, rq5);
	frame(&c2s, 3, 0, 5, "\0\0\0\x08", 4); /* RST_STREAM CANCEL */
	{
		struct tu_bytes blk = { 0 };
		tu_be32(&blk, 2);
		encode(ds, &blk, pp);
		frame(&s2c, 5, 0x4, 1, blk.p, blk.len);
		tu_bytes_free(&blk);
	}
	headers(&s2c, ds, 1, true, 1000, ok);
	headers(&s2c, ds, 2, false, 1000, ok);
	data_padded(&s2c, 2, true, "css", 0);
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);
	static struct tu_h1 h;
	h2_open(&h, NULL);
	run_exchange(&h, &c2s, &s2c, 0, false);
	assert_false(h.col.bad_record);
	assert_int_equal(h.col.n, 3);
	int seen = 0;
	for (size_t i = 0; i < h.col.n; i++) {
		const struct tu_rec *r = &h.col.r[i];
		if (r->req.present && !strcmp(r->req.target, "/up")) {
			assert_true(r->req.flags & SONDE_MF_INCOMPLETE);
			assert_true(r->flags & SONDE_RF_UNANSWERED);
			seen |= 1;
		} else if (r->req.present && !strcmp(r->req.target, "/style.css")) {
			assert_non_null(strstr(r->json, "\"pushed\":true"));
			assert_int_equal(r->resp.status, 200);
			assert_int_equal(r->resp.body_size, 3);
			seen |= 2;
		} else if (r->req.present && !strcmp(r->req.target, "/")) {
			assert_int_equal(r->resp.status, 200);
			seen |= 4;
		}
	}
	assert_int_equal(seen, 7);
	tu_h1_free(&h);
}

/* Garbage and bad HPACK never crash; they are counted, and the direction
 * goes on decoding (without the state the bad block would have changed). */
static void test_malformed(void **state)
{
	(void)state;
	static struct tu_h1 h;
	h2_open(&h, NULL);
	static struct tu_bytes c2s;
	memset(&c2s, 0, sizeof(c2s));
	tu_bytes_track(&c2s);
	tu_bytes_str(&c2s, PREFACE);
	settings(&c2s, -1);
	frame(&c2s, 1, 0x5, 1, "\xff\xff\xff\xff\xff", 5); /* bad index */
	frame(&c2s, 1, 0x5, 3, "\x82", 1);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, c2s.len, TS);
	tu_h1_data(&h, SONDE_DIR_S2C, "HTTP/1.1 200 OK\r\n\r\n", 19, TS);
	tu_h1_close(&h, TS);
	assert_false(h.col.bad_record);
	assert_int_equal(h.col.n, 1); /* stream 3, whose block is fine */
	assert_string_equal(h.col.r[0].req.method, "GET");
	assert_non_null(strstr(h.col.r[0].json, "\"stream_id\":3"));
	assert_true(h.stats.parse_errors >= 2);
	assert_true(h.stats.unparsed_bytes > 0);
	assert_int_equal(h.stats.hpack_state_lost, 2); /* the bad block; HTTP/1 on the server side */
	tu_h1_free(&h);
	assert_int_equal(sonde_dissector_http2.probe((const uint8_t *)"PRI * HT", 8), SONDE_PROBE_MORE);
	assert_int_equal(sonde_dissector_http2.probe((const uint8_t *)PREFACE, 24), SONDE_PROBE_CLIENT);
	assert_int_equal(sonde_dissector_http2.probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16),
			 SONDE_PROBE_NO);
	assert_int_equal(sonde_dissector_http2.probe((const uint8_t *)"\0\0\x06\x04\0\0\0\0\0", 9),
			 SONDE_PROBE_SERVER);
}

/* ------------------------------------------------------------ HPACK stories --- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct sonde_buf b = { 0 };
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		sonde_buf_append(&b, tmp, n);
	fclose(f);
	*len = b.len;
	sonde_buf_putc(&b, 0);
	return (char *)b.p;
}

/* One story: every case is a request HEADERS block on its own stream. */
static void run_story(const char *path)
{
	size_t len = 0;
	char *text = slurp(path, &len);
	assert_non_null(text);
	struct tj *root = tj_parse(text, len);
	free(text);
	assert_non_null(root);
	const struct tj *cases = tj_get(root, "cases");
	assert_non_null(cases);
	static struct tu_h1 h;
	struct sonde_dissect_opts o;
	tu_dissect_defaults(&o);
	o.max_waiting = 100000;
	h2_open(&h, &o);
	struct tu_bytes c2s = { 0 }, s2c = { 0 };
	tu_bytes_str(&c2s, PREFACE);
	settings(&c2s, -1);
	settings(&s2c, -1);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, c2s.len, TS);
	tu_h1_data(&h, SONDE_DIR_S2C, s2c.p, s2c.len, TS);
	int64_t table = 4096;
	for (size_t i = 0; i < cases->n; i++) {
		const struct tj *c = tj_at(cases, i);
		const struct tj *hts = tj_get(c, "header_table_size");
		if (hts && (int64_t)tj_u64(hts) != table) {
			/* the server allows the client's encoder that table size
			 * (the story's wire carries the size update itself) */
			table = (int64_t)tj_u64(hts);
			c2s.len = s2c.len = 0;
			settings(&s2c, (int)table);
			frame(&c2s, 4, 1, 0, NULL, 0);
			tu_h1_data(&h, SONDE_DIR_S2C, s2c.p, s2c.len, TS);
			tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, c2s.len, TS);
		}
		const char *wire = tj_cstr(tj_get(c, "wire"));
		assert_non_null(wire);
		struct tu_bytes blk = { 0 };
		for (size_t k = 0; wire[k] && wire[k + 1]; k += 2)
			tu_u8(&blk, (uint8_t)sonde_hexbyte((uint8_t)wire[k], (uint8_t)wire[k + 1]));
		c2s.len = 0;
		frame(&c2s, 1, 0x5, (uint32_t)(2 * i + 1), blk.p, blk.len);
		tu_bytes_free(&blk);
		tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, c2s.len, TS);
	}
	tu_h1_close(&h, TS);
	if (h.stats.parse_errors)
		fail_msg("%s: %llu parse errors", path, (unsigned long long)h.stats.parse_errors);
	assert_int_equal(h.col.n, cases->n);
	for (size_t r = 0; r < h.col.n; r++) {
		struct tj *rec = tj_parse(h.col.r[r].json, h.col.r[r].json_len);
		assert_non_null(rec);
		uint64_t sid = tj_u64(tj_get(tj_get(rec, "request"), "stream_id"));
		tj_free(rec);
		const struct tj *c = tj_at(cases, (size_t)(sid - 1) / 2);
		const struct tj *hs = tj_get(c, "headers");
		const struct tu_msg *m = &h.col.r[r].req;
		if (m->nheaders != hs->n)
			fail_msg("%s case %llu: %zu headers, want %zu", path,
				 (unsigned long long)(sid - 1) / 2, m->nheaders, hs->n);
		for (size_t k = 0; k < hs->n; k++) {
			const struct tj *kv = tj_at(hs, k);
			assert_int_equal(kv->n, 1);
			const char *name = kv->keys[0];
			const char *val = tj_cstr(kv->items[0]);
			if (strcmp(m->hname[k], name) || strcmp(m->hval[k], val))
				fail_msg("%s case %llu field %zu: %s: %s, want %s: %s", path,
					 (unsigned long long)(sid - 1) / 2, k, m->hname[k], m->hval[k],
					 name, val);
		}
	}
	tu_bytes_free(&c2s);
	tu_bytes_free(&s2c);
	tu_h1_free(&h);
	tj_free(root);
}

static void test_hpack_stories(void **state)
{
	(void)state;
	const char *corpus = getenv("SONDE_CORPUS");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/http2/hpack-test-case", corpus && *corpus ? corpus : "../shared/corpus");
	DIR *top = opendir(dir);
	if (!top) {
		print_message("hpack-test-case not found under %s: skipped\n", dir);
		skip();
	}
	size_t stories = 0;
	struct dirent *e;
	char sub[8192], file[12288];
	while ((e = readdir(top))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		DIR *d = opendir(sub);
		if (!d)
			continue;
		struct dirent *f;
		while ((f = readdir(d))) {
			if (strncmp(f->d_name, "story_", 6))
				continue;
			snprintf(file, sizeof(file), "%s/%s", sub, f->d_name);
			run_story(file);
			stories++;
		}
		closedir(d);
	}
	closedir(top);
	print_message("%zu HPACK stories decoded\n", stories);
	assert_true(stories > 0);
}

/* ---------------------------------------------------------- mid-stream --- */

#define LONG_STREAMS 16

/*
 * A connection of LONG_STREAMS GET streams, one after the other. Every
 * request carries a unique 120-byte referer and every response a unique link
 * (names from the static table), both indexed, so each side's table (encoders
 * limited to 800 bytes) turns over every few streams; :authority,
 * user-agent, content-type and server are indexed and referred to until
 * evicted. at[dir][i]: where stream i's first frame starts in that direction.
 * (A field whose name is not in the static table, sent with a new value each
 * time, refers to the name of its previous entry: a decoder that joined late
 * never learns that name. test_http2_hpack's joined stories show it.)
 */
static void build_long(struct tu_bytes *c2s, struct tu_bytes *s2c, size_t at[2][LONG_STREAMS])
{
	nghttp2_hd_deflater *dc, *ds;
	assert_int_equal(nghttp2_hd_deflate_new(&dc, 800), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 800), 0);
	tu_bytes_str(c2s, PREFACE);
	settings(c2s, -1);
	settings(s2c, -1);
	frame(s2c, 4, 1, 0, NULL, 0);
	frame(c2s, 4, 1, 0, NULL, 0);
	for (int i = 0; i < LONG_STREAMS; i++) {
		char path[32], trace[128], id[80], body[32];
		snprintf(path, sizeof(path), "/item/%d", i);
		for (int k = 0; k < 120; k++)
			trace[k] = (char)('a' + (i * 7 + k) % 26);
		trace[120] = 0;
		snprintf(id, sizeof(id), "</r/%d/0123456789abcdef0123456789abcdef>; rel=preload", i);
		snprintf(body, sizeof(body), "body of %d", i);
		const char *rq[] = { ":method", "GET", ":scheme", "http", ":path", path,
				     ":authority", "example.com", "user-agent", "unit/1.0", "referer",
				     trace, NULL };
		const char *rs[] = { ":status", "200", "content-type", "text/plain", "server",
				     "unit-server", "link", id, NULL };
		uint32_t sid = (uint32_t)(2 * i + 1);
		at[0][i] = c2s->len;
		headers(c2s, dc, sid, true, 1000, rq);
		frame(c2s, 8, 0, 0, "\0\0\1\0", 4); /* WINDOW_UPDATE */
		at[1][i] = s2c->len;
		headers(s2c, ds, sid, false, 1000, rs);
		data_padded(s2c, sid, true, body, 0);
	}
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);
}

static void feed_split(struct tu_h1 *h, const uint8_t *p, size_t n, enum sonde_dir dir, size_t cut,
		       bool bytewise)
{
	if (bytewise) {
		for (size_t i = 0; i < n; i++)
			tu_h1_data(h, dir, p + i, 1, TS);
		return;
	}
	size_t k = cut < n ? cut : n;
	if (k)
		tu_h1_data(h, dir, p, k, TS);
	if (n > k)
		tu_h1_data(h, dir, p + k, n - k, TS);
}

static const struct tu_rec *rec_of_stream(const struct tu_collector *c, int sid)
{
	char key[32];
	snprintf(key, sizeof(key), "\"stream_id\":%d,", sid);
	for (size_t i = 0; i < c->n; i++)
		if (strstr(c->r[i].json, key))
			return &c->r[i];
	return NULL;
}

/* Each field of got is want's, or unknown ("<unknown index N>"; the value
 * too unless it was a literal). Returns the number of unknown fields. */
static size_t same_or_unknown(const struct tu_msg *got, const struct tu_msg *want, int sid)
{
	if (got->nheaders != want->nheaders)
		fail_msg("stream %d: %zu fields, want %zu", sid, got->nheaders, want->nheaders);
	size_t unknown = 0;
	for (size_t k = 0; k < got->nheaders; k++) {
		if (!strncmp(got->hname[k], "<unknown index ", 15)) {
			unknown++;
			if (*got->hval[k] && strcmp(got->hval[k], want->hval[k]))
				fail_msg("stream %d field %zu: value %s, want %s", sid, k, got->hval[k],
					 want->hval[k]);
			continue;
		}
		if (strcmp(got->hname[k], want->hname[k]) || strcmp(got->hval[k], want->hval[k]))
			fail_msg("stream %d field %zu: %s: %s, want %s: %s", sid, k, got->hname[k],
				 got->hval[k], want->hname[k], want->hval[k]);
	}
	return unknown;
}

/*
 * Joined in the middle (both directions start inside stream 4's first frame):
 * every later stream is still recorded, static and literal fields decoded,
 * references to entries from before written as unknown (never a wrong
 * value), and once the tables have turned over every field is exact again.
 * The same records whole, split at every offset of each direction, and
 * byte by byte.
 */
static void test_midstream(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	static size_t at[2][LONG_STREAMS];
	build_long(&c2s, &s2c, at);

	/* the whole connection, for reference */
	static struct tu_h1 full;
	h2_open(&full, NULL);
	run_exchange(&full, &c2s, &s2c, 0, false);
	assert_int_equal(full.col.n, LONG_STREAMS);
	assert_int_equal(full.stats.hpack_state_lost, 0);

	const int first = 4;
	size_t cut0 = at[0][first] + 5, cut1 = at[1][first] + 5;
	const uint8_t *p0 = c2s.p + cut0, *p1 = s2c.p + cut1;
	size_t n0 = c2s.len - cut0, n1 = s2c.len - cut1;

	static struct tu_h1 h;
	h2_open_mid(&h, NULL, true);
	feed_split(&h, p0, n0, SONDE_DIR_C2S, 0, false);
	feed_split(&h, p1, n1, SONDE_DIR_S2C, 0, false);
	tu_h1_close(&h, TS);
	assert_false(h.col.bad_record);
	assert_int_equal(h.col.n, LONG_STREAMS - first - 1);
	assert_int_equal(h.stats.parse_errors, 0);
	assert_int_equal(h.stats.hpack_state_lost, 2);
	size_t unknown = 0, exact_from = 0;
	for (int i = first + 1; i < LONG_STREAMS; i++) {
		int sid = 2 * i + 1;
		const struct tu_rec *r = rec_of_stream(&h.col, sid), *w = rec_of_stream(&full.col, sid);
		assert_non_null(r);
		assert_non_null(w);
		assert_true(r->midstream);
		assert_int_equal(r->flags & (SONDE_RF_UNANSWERED | SONDE_RF_UNSOLICITED), 0);
		assert_string_equal(r->req.method, "GET"); /* static */
		assert_string_equal(r->req.target, w->req.target); /* a literal */
		assert_int_equal(r->resp.status, 200);
		assert_int_equal(r->resp.body_size, w->resp.body_size);
		size_t u = same_or_unknown(&r->req, &w->req, sid) + same_or_unknown(&r->resp, &w->resp, sid);
		if (u) {
			assert_non_null(strstr(r->json, "\"hpack_unknown\":"));
			exact_from = (size_t)i + 1;
		} else {
			assert_null(strstr(r->json, "\"hpack_unknown\":"));
		}
		unknown += u;
	}
	print_message("joined at stream %d: %zu unknown fields, exact from stream %zu of %d\n", first,
		      unknown, exact_from, LONG_STREAMS);
	assert_true(unknown > 0);
	assert_int_equal(h.stats.hpack_unknown_fields, unknown);
	assert_true(exact_from < LONG_STREAMS - 4); /* recovered well before the end */
	/* the first records name what is unknown */
	assert_non_null(strstr(rec_of_stream(&h.col, 2 * first + 3)->json, "[\"<unknown index "));
	char *want = joined_json(&h.col);
	tu_h1_free(&h);

	size_t most = n0 > n1 ? n0 : n1;
	for (size_t cut = 1; cut <= most; cut++) {
		h2_open_mid(&h, NULL, true);
		feed_split(&h, p0, n0, SONDE_DIR_C2S, cut, false);
		feed_split(&h, p1, n1, SONDE_DIR_S2C, cut, false);
		tu_h1_close(&h, TS);
		char *got = joined_json(&h.col);
		if (strcmp(got, want))
			fail_msg("split at %zu:\n%s\nwanted\n%s", cut, got, want);
		free(got);
		tu_h1_free(&h);
	}
	h2_open_mid(&h, NULL, true);
	feed_split(&h, p0, n0, SONDE_DIR_C2S, 0, true);
	feed_split(&h, p1, n1, SONDE_DIR_S2C, 0, true);
	tu_h1_close(&h, TS);
	char *got = joined_json(&h.col);
	assert_string_equal(got, want);
	free(got);
	free(want);
	tu_h1_free(&h);
	tu_h1_free(&full);
}

/*
 * Lost bytes. Inside one DATA payload: only that message is flagged (its body
 * kept up to the gap, its size still exact) and HPACK goes on exactly.
 * Across frames (a request's HEADERS half gone): the direction finds the next
 * frame, goes on with the recovering decoder, and later streams are exact
 * again once the table has turned over.
 */
static void test_gap(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	static size_t at[2][LONG_STREAMS];
	build_long(&c2s, &s2c, at);
	static struct tu_h1 h;

	/* 1. four bytes of stream 2's response body ("body of 2" + DATA header) */
	size_t d2 = at[1][3] - 19; /* its DATA frame: 9 + 1 (pad length) + 9 bytes + 0 pad */
	assert_int_equal(s2c.p[d2 + 3], 0); /* a DATA frame */
	h2_open(&h, NULL);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, c2s.len, TS);
	tu_h1_data(&h, SONDE_DIR_S2C, s2c.p, d2 + 12, TS);
	tu_h1_gap(&h, SONDE_DIR_S2C, 4, TS);
	tu_h1_data(&h, SONDE_DIR_S2C, s2c.p + d2 + 16, s2c.len - d2 - 16, TS);
	tu_h1_close(&h, TS);
	assert_false(h.col.bad_record);
	assert_int_equal(h.col.n, LONG_STREAMS);
	assert_int_equal(h.stats.hpack_state_lost, 0);
	assert_int_equal(h.stats.unparsed_bytes, 0);
	for (int i = 0; i < LONG_STREAMS; i++) {
		const struct tu_rec *r = rec_of_stream(&h.col, 2 * i + 1);
		assert_non_null(r);
		char body[32];
		assert_int_equal(r->resp.flags, i == 2 ? SONDE_MF_GAP : 0);
		assert_int_equal(r->resp.body_size, (size_t)snprintf(body, sizeof(body), "body of %d", i));
		if (i == 2)
			assert_int_equal(r->resp.body_captured, 2); /* "bo" */
	}
	tu_h1_free(&h);

	/* 2. the second half of stream 5's request HEADERS and what follows up
	 * to stream 7's */
	size_t from = at[0][5] + 40, to = at[0][7];
	h2_open(&h, NULL);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, from, TS);
	tu_h1_gap(&h, SONDE_DIR_C2S, to - from, TS);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p + to, c2s.len - to, TS);
	tu_h1_data(&h, SONDE_DIR_S2C, s2c.p, s2c.len, TS);
	tu_h1_close(&h, TS);
	assert_false(h.col.bad_record);
	assert_int_equal(h.stats.hpack_state_lost, 1);
	size_t unknown = 0;
	for (int i = 0; i < LONG_STREAMS; i++) {
		const struct tu_rec *r = rec_of_stream(&h.col, 2 * i + 1);
		assert_non_null(r);
		if (i == 5 || i == 6) { /* requests lost: responses alone */
			assert_false(r->req.present);
			assert_true(r->flags & SONDE_RF_UNSOLICITED);
			continue;
		}
		assert_string_equal(r->req.method, "GET");
		assert_int_equal(r->resp.status, 200);
		if (strstr(r->json, "\"hpack_unknown\":"))
			unknown++;
		if (i >= LONG_STREAMS - 6)
			assert_null(strstr(r->json, "<unknown index "));
	}
	assert_true(unknown > 0);
	tu_h1_free(&h);
}

/*
 * The client's preface was not captured but its first HEADERS (stream 1)
 * was: the client's table is known to be empty there, so its side decodes
 * exactly; the probe recognises such bytes, and which side sent them.
 */
static void test_first_stream_known(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	static size_t at[2][LONG_STREAMS];
	build_long(&c2s, &s2c, at);
	static struct tu_h1 h;
	h2_open_mid(&h, NULL, true);
	size_t skip = strlen(PREFACE);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p + skip, c2s.len - skip, TS);
	tu_h1_data(&h, SONDE_DIR_S2C, s2c.p + at[1][3], s2c.len - at[1][3], TS);
	tu_h1_close(&h, TS);
	assert_false(h.col.bad_record);
	assert_int_equal(h.stats.hpack_resynced, 1);
	for (int i = 0; i < LONG_STREAMS; i++) {
		const struct tu_rec *r = rec_of_stream(&h.col, 2 * i + 1);
		assert_non_null(r);
		assert_true(r->req.present);
		for (size_t k = 0; k < r->req.nheaders; k++)
			assert_int_not_equal(r->req.hname[k][0], '<');
	}
	tu_h1_free(&h);

	/* probing bytes in the middle of a connection */
	const struct sonde_dissector *d = &sonde_dissector_http2;
	assert_int_equal(d->probe(c2s.p + at[0][3], c2s.len - at[0][3]), SONDE_PROBE_CLIENT);
	assert_int_equal(d->probe(s2c.p + at[1][3], s2c.len - at[1][3]), SONDE_PROBE_SERVER);
	/* SETTINGS then a request: the client's, though a SETTINGS came first */
	assert_int_equal(d->probe(c2s.p + skip, c2s.len - skip), SONDE_PROBE_CLIENT);
	/* inside a frame: not recognised */
	assert_int_equal(d->probe(c2s.p + at[0][3] + 5, c2s.len - at[0][3] - 5), SONDE_PROBE_NO);
	/* only a WINDOW_UPDATE: plausible, but it tells no side */
	assert_int_equal(d->probe((const uint8_t *)"\0\0\x04\x08\0\0\0\0\0\0\0\1\0", 13), SONDE_PROBE_NO);
}

/* gRPC length-prefixed message: flag, big-endian length, bytes. */
static void grpc_msg(struct tu_bytes *b, uint8_t flag, const void *p, size_t n)
{
	tu_u8(b, flag);
	tu_be32(b, (uint32_t)n);
	tu_bytes_put(b, p, n);
}

static const struct tj *rec_grpc(struct tj *rec, const char *side)
{
	const struct tj *g = tj_get(tj_get(rec, side), "grpc");
	assert_non_null(g);
	return g;
}

/*
 * gRPC: stream 1 streams 70 messages split across DATA frames at odd places
 * and gets a trailers-only NOT_FOUND; stream 3 is unary with a gzip-compressed
 * response. Fed whole and byte by byte.
 */
static void test_grpc(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c, body, one, gz;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	memset(&body, 0, sizeof(body));
	memset(&one, 0, sizeof(one));
	memset(&gz, 0, sizeof(gz));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	tu_bytes_track(&body);
	tu_bytes_track(&one);
	tu_bytes_track(&gz);
	nghttp2_hd_deflater *dc, *ds;
	assert_int_equal(nghttp2_hd_deflate_new(&dc, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	tu_bytes_str(&c2s, PREFACE);
	settings(&c2s, -1);
	settings(&s2c, -1);
	static const char *const rq1[] = { ":method", "POST", ":scheme", "http", ":path",
					   "/demo.v1.Echo/Stream", ":authority", "x",
					   "content-type", "application/grpc+proto", "te", "trailers",
					   NULL };
	static const char *const rq3[] = { ":method", "POST", ":scheme", "http", ":path",
					   "/demo.v1.Echo/Say", ":authority", "x",
					   "content-type", "application/grpc", NULL };
	headers(&c2s, dc, 1, false, 1000, rq1);
	headers(&c2s, dc, 3, false, 1000, rq3);
	for (int i = 0; i < 70; i++) {
		uint8_t m[2] = { 0x08, (uint8_t)i };
		grpc_msg(&body, 0, m, 2);
	}
	for (size_t off = 0; off < body.len; off += 13) {
		size_t k = body.len - off < 13 ? body.len - off : 13;
		frame(&c2s, 0, off + k == body.len ? 1 : 0, 1, body.p + off, k);
	}
	grpc_msg(&one, 0, "\x08\x2a", 2);
	frame(&c2s, 0, 1, 3, one.p, one.len);
	/* stream 1: trailers-only response */
	static const char *const rs1[] = { ":status", "200", "content-type", "application/grpc",
					   "grpc-status", "5", "grpc-message", "not%20found%3A%20x",
					   NULL };
	headers(&s2c, ds, 1, true, 1000, rs1);
	/* stream 3: gzip-compressed message */
	static const char *const rs3[] = { ":status", "200", "content-type", "application/grpc",
					   "grpc-encoding", "gzip", NULL };
	static const char *const tr3[] = { "grpc-status", "0", NULL };
	headers(&s2c, ds, 3, false, 1000, rs3);
	{
		uint8_t out[128];
		z_stream z;
		memset(&z, 0, sizeof(z));
		assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
		z.next_in = (Bytef *)"\x12\x03" "abc";
		z.avail_in = 5;
		z.next_out = out;
		z.avail_out = sizeof(out);
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		size_t zn = sizeof(out) - z.avail_out;
		deflateEnd(&z);
		grpc_msg(&gz, 1, out, zn);
	}
	frame(&s2c, 0, 0, 3, gz.p, gz.len);
	headers(&s2c, ds, 3, true, 1000, tr3);
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		static struct tu_h1 h;
		h2_open(&h, NULL);
		run_exchange(&h, &c2s, &s2c, 0, bytewise);
		assert_false(h.col.bad_record);
		assert_int_equal(h.col.n, 2);
		assert_int_equal(h.stats.parse_errors, 0);
		static struct tj *r1, *r3;
		r1 = tj_parse(h.col.r[0].json, h.col.r[0].json_len);
		r3 = tj_parse(h.col.r[1].json, h.col.r[1].json_len);
		assert_non_null(r1);
		assert_non_null(r3);
		/* stream 1 ends first (trailers-only response) */
		const struct tj *g = rec_grpc(r1, "request");
		assert_string_equal(tj_cstr(tj_get(g, "service")), "demo.v1.Echo");
		assert_string_equal(tj_cstr(tj_get(g, "method")), "Stream");
		assert_int_equal(tj_u64(tj_get(g, "message_count")), 70);
		assert_int_equal(tj_get(g, "messages")->n, SONDE_GRPC_MAX_MESSAGES);
		assert_int_equal(tj_u64(tj_get(g, "messages_omitted")), 70 - SONDE_GRPC_MAX_MESSAGES);
		const struct tj *m63 = tj_at(tj_get(g, "messages"), 63);
		assert_int_equal(tj_u64(tj_get(m63, "size")), 2);
		assert_int_equal(tj_u64(tj_get(tj_get(m63, "decoded"), "1")), 63);
		g = rec_grpc(r1, "response");
		assert_int_equal(tj_u64(tj_get(g, "status")), 5);
		assert_string_equal(tj_cstr(tj_get(g, "message")), "not found: x");
		assert_int_equal(tj_u64(tj_get(g, "message_count")), 0);
		g = rec_grpc(r3, "request");
		assert_string_equal(tj_cstr(tj_get(g, "method")), "Say");
		assert_int_equal(tj_u64(tj_get(tj_get(tj_at(tj_get(g, "messages"), 0), "decoded"), "1")), 42);
		g = rec_grpc(r3, "response");
		assert_int_equal(tj_u64(tj_get(g, "status")), 0);
		assert_string_equal(tj_cstr(tj_get(g, "encoding")), "gzip");
		const struct tj *m = tj_at(tj_get(g, "messages"), 0);
		assert_true(tj_get(m, "compressed")->b);
		assert_int_equal(tj_u64(tj_get(m, "decompressed_size")), 5);
		assert_string_equal(tj_cstr(tj_get(tj_get(m, "decoded"), "2")), "abc");
		tj_free(r1);
		tj_free(r3);
		tu_h1_free(&h);
	}
}

/* GraphQL over HTTP/2: a POSTed JSON query and a 200 response with errors. */
static void test_graphql(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	nghttp2_hd_deflater *dc, *ds;
	assert_int_equal(nghttp2_hd_deflate_new(&dc, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	tu_bytes_str(&c2s, PREFACE);
	settings(&c2s, -1);
	settings(&s2c, -1);
	static const char *const rq[] = { ":method", "POST", ":scheme", "http", ":path", "/graphql",
					  ":authority", "x", "content-type", "application/json", NULL };
	static const char *const rs[] = { ":status", "200", "content-type", "application/json", NULL };
	headers(&c2s, dc, 1, false, 1000, rq);
	static const char q[] = "{\"query\":\"mutation Add { add(x: 1) { id } }\"}";
	frame(&c2s, 0, 0, 1, q, 20); /* the body split over two frames */
	frame(&c2s, 0, 1, 1, q + 20, sizeof(q) - 1 - 20);
	headers(&s2c, ds, 1, false, 1000, rs);
	static const char a[] = "{\"errors\":[{\"message\":\"no\"}],\"data\":null}";
	frame(&s2c, 0, 1, 1, a, sizeof(a) - 1);
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);
	static struct tu_h1 h;
	h2_open(&h, NULL);
	run_exchange(&h, &c2s, &s2c, 0, false);
	assert_false(h.col.bad_record);
	assert_int_equal(h.col.n, 1);
	const char *j = h.col.r[0].json;
	assert_non_null(strstr(j, "\"graphql\":{\"transport\":\"json\",\"batch\":false,\"requests\":[{"
				  "\"operations\":[{\"type\":\"mutation\",\"name\":\"Add\",\"fields\":[\"add\"]}]}]}"));
	assert_non_null(strstr(j, "\"graphql\":{\"errors\":true}"));
	tu_h1_free(&h);
}

/* zlib-compress n bytes of p (windowBits 31: gzip, 15: zlib deflate). */
static void zbytes(struct tu_bytes *out, const void *p, size_t n, int wbits)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	uint8_t buf[8192];
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = buf;
	z.avail_out = sizeof(buf);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	tu_bytes_put(out, buf, sizeof(buf) - z.avail_out);
	deflateEnd(&z);
}

/*
 * --decode-bodies for HTTP/2, as for HTTP/1: a deflate request body (two DATA
 * frames) and a gzip response body (three DATA frames, one padded) inflated,
 * with content_encoding, decoded and decoded_size; body.size and
 * body.captured stay the DATA bytes. A coding sonde cannot inflate ("br") is
 * named "other" and kept as sent. Without the option the coding is still
 * named and the bytes kept as sent; under a body limit smaller than the
 * inflated body, the inflated body stops at the limit (flag truncated).
 */
static void test_decode_bodies(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c, plain, gz, df;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	memset(&plain, 0, sizeof(plain));
	memset(&gz, 0, sizeof(gz));
	memset(&df, 0, sizeof(df));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	tu_bytes_track(&plain);
	tu_bytes_track(&gz);
	tu_bytes_track(&df);
	for (int i = 0; i < 100; i++) {
		char line[32];
		snprintf(line, sizeof(line), "line %03d of the body\n", i);
		tu_bytes_str(&plain, line);
	}
	static const char up[] = "{\"upload\": \"compressed with deflate, zlib-wrapped\"}";
	zbytes(&gz, plain.p, plain.len, 31);
	zbytes(&df, up, sizeof(up) - 1, 15);
	assert_true(gz.len > 20 && gz.len < 1000 && plain.len > 1000 && df.len > 10);

	nghttp2_hd_deflater *dc, *ds;
	assert_int_equal(nghttp2_hd_deflate_new(&dc, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	tu_bytes_str(&c2s, PREFACE);
	settings(&c2s, -1);
	settings(&s2c, -1);
	static const char *const rq1[] = { ":method", "POST", ":scheme", "http", ":path", "/up",
					   ":authority", "x", "content-encoding", "deflate", NULL };
	static const char *const rq3[] = { ":method", "GET", ":scheme", "http", ":path", "/br",
					   ":authority", "x", NULL };
	static const char *const rs1[] = { ":status", "200", "content-type", "text/plain",
					   "content-encoding", "gzip", NULL };
	static const char *const rs3[] = { ":status", "200", "content-encoding", "br", NULL };
	headers(&c2s, dc, 1, false, 1000, rq1);
	frame(&c2s, 0, 0, 1, df.p, 7);
	frame(&c2s, 0, 1, 1, df.p + 7, df.len - 7);
	headers(&c2s, dc, 3, true, 1000, rq3);
	headers(&s2c, ds, 1, false, 1000, rs1);
	headers(&s2c, ds, 3, false, 1000, rs3);
	size_t a = gz.len / 3, b = 2 * gz.len / 3;
	frame(&s2c, 0, 0, 1, gz.p, a);
	{ /* the middle part padded */
		struct tu_bytes p = { 0 };
		tu_u8(&p, 5);
		tu_bytes_put(&p, gz.p + a, b - a);
		tu_bytes_zero(&p, 5);
		frame(&s2c, 0, 0x8, 1, p.p, p.len);
		tu_bytes_free(&p);
	}
	frame(&s2c, 0, 0, 3, "\x1b\x03\x00", 3); /* bytes as sent under "br" */
	frame(&s2c, 0, 1, 1, gz.p + b, gz.len - b);
	frame(&s2c, 0, 1, 3, "\x03", 1);
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);

	/* 0: --decode-bodies; 1: byte by byte; 2: without; 3: body limit 1000 */
	for (int run = 0; run < 4; run++) {
		static struct tu_h1 h;
		struct sonde_dissect_opts o;
		tu_dissect_defaults(&o);
		o.decode_bodies = run != 2;
		if (run == 3)
			o.body_limit = 1000;
		h2_open(&h, &o);
		run_exchange(&h, &c2s, &s2c, 0, run == 1);
		assert_false(h.col.bad_record);
		assert_int_equal(h.col.n, 2);
		assert_int_equal(h.stats.parse_errors, 0);
		const struct tu_rec *r1 = &h.col.r[0], *r3 = &h.col.r[1];
		if (r1->req.target && !strcmp(r1->req.target, "/br")) {
			const struct tu_rec *t = r1;
			r1 = r3;
			r3 = t;
		}
		assert_string_equal(r1->req.target, "/up");
		assert_string_equal(r3->req.target, "/br");
		/* the request: deflate, two frames */
		const struct tu_msg *m = &r1->req;
		assert_string_equal(m->content_encoding, "deflate");
		assert_int_equal(m->body_size, df.len);
		assert_int_equal(m->body_captured, df.len);
		assert_int_equal(m->decoded, run != 2);
		if (run != 2) {
			assert_int_equal(m->decoded_size, sizeof(up) - 1);
			assert_int_equal(m->body_len, sizeof(up) - 1);
			assert_memory_equal(m->body, up, sizeof(up) - 1);
		} else {
			assert_int_equal(m->body_len, df.len);
			assert_memory_equal(m->body, df.p, df.len);
		}
		/* the response: gzip, three frames */
		m = &r1->resp;
		assert_string_equal(m->content_encoding, "gzip");
		assert_int_equal(m->body_size, gz.len);
		assert_int_equal(m->body_captured, gz.len);
		assert_int_equal(m->decoded, run != 2);
		if (run == 2) {
			assert_int_equal(m->flags, 0);
			assert_int_equal(m->body_len, gz.len);
			assert_memory_equal(m->body, gz.p, gz.len);
		} else if (run == 3) {
			assert_int_equal(m->flags, SONDE_MF_TRUNCATED);
			assert_int_equal(m->decoded_size, 1000);
			assert_int_equal(m->body_len, 1000);
			assert_memory_equal(m->body, plain.p, 1000);
		} else {
			assert_int_equal(m->flags, 0);
			assert_int_equal(m->decoded_size, plain.len);
			assert_int_equal(m->body_len, plain.len);
			assert_memory_equal(m->body, plain.p, plain.len);
		}
		/* "br": named other, kept as sent */
		m = &r3->resp;
		assert_string_equal(m->content_encoding, "other");
		assert_false(m->decoded);
		assert_int_equal(m->body_size, 4);
		assert_int_equal(m->body_len, 4);
		assert_memory_equal(m->body, "\x1b\x03\x00\x03", 4);
		assert_null(r3->req.content_encoding);
		tu_h1_free(&h);
	}
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_exchange),
		tu_test(test_gap),
		tu_test(test_reset_and_push),
		tu_test(test_midstream),
		tu_test(test_first_stream_known),
		tu_test(test_malformed),
		tu_test(test_hpack_stories),
		tu_test(test_grpc),
		tu_test(test_graphql),
		tu_test(test_decode_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
