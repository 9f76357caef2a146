/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 dissector (cleartext: prior knowledge "h2c" and HTTP/1.1 Upgrade).
 *
 * Each direction runs a frame parser over the bytes it is given, split
 * anywhere: the client direction starts with the connection preface, then
 * both are a sequence of 9-byte frame headers and payloads. DATA payloads are
 * streamed (padding removed); every other frame's payload is buffered (at most
 * MAX_FRAME_BUF bytes, else skipped) and handled whole. Header blocks
 * (HEADERS/PUSH_PROMISE + CONTINUATION) are reassembled (at most
 * MAX_HEADER_BLOCK bytes) and decoded by one nghttp2 HPACK inflater per
 * direction. SETTINGS_HEADER_TABLE_SIZE sent by one side raises the bound of
 * the other direction's inflater (see allow_table_size).
 *
 * A request is the client's messages on one stream (HEADERS, DATA, trailing
 * HEADERS), a response the server's; complete on END_STREAM, incomplete on
 * RST_STREAM or when the connection ends. Both carry pair_key = stream id, so
 * pairing matches them by stream. PUSH_PROMISE makes a request (flagged
 * "pushed") on the promised stream.
 *
 * A stream whose content-type is application/grpc* is a gRPC call: its DATA
 * bytes also go through a gRPC framer (grpc.c) that counts messages, and both
 * messages write a "grpc" object. Other requests are checked for GraphQL when
 * they end (graphql.c); the response to one notes GraphQL "errors".
 *
 * HPACK state cannot be recovered after lost bytes or a decoding error: the
 * direction stops being dissected (its messages in flight are written with
 * the gap/parse-error flag, the rest of its bytes counted as unparsed).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "../core/buf.h"
#include "dissector.h"
#include "graphql.h"
#include "http2_msg.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define MAX_HEADERS 128 /* kept per header block; more are counted */
#define MAX_HEADER_BLOCK (1u << 20) /* reassembled header block */
#define MAX_FRAME_BUF (1u << 20) /* buffered non-DATA payload */
#define MAX_STREAMS 1024 /* open streams tracked per connection */

enum h2_type {
	F_DATA = 0,
	F_HEADERS = 1,
	F_PRIORITY = 2,
	F_RST_STREAM = 3,
	F_SETTINGS = 4,
	F_PUSH_PROMISE = 5,
	F_PING = 6,
	F_GOAWAY = 7,
	F_WINDOW_UPDATE = 8,
	F_CONTINUATION = 9,
};

#define FL_END_STREAM 0x1
#define FL_ACK 0x1
#define FL_END_HEADERS 0x4
#define FL_PADDED 0x8
#define FL_PRIORITY 0x20

enum h2_state {
	H2_PREFACE_ST, /* client: matching the connection preface */
	H2_FRAME_HDR,
	H2_PAYLOAD,
	H2_BROKEN, /* HPACK state lost: bytes are counted, not parsed */
	H2_DONE,
};

struct h2_stream {
	uint32_t id;
	struct h2_msg *m[2]; /* message being received per direction */
	bool done[2]; /* that direction's message was finished */
	bool grpc; /* either side's content-type said gRPC */
	bool graphql; /* the request was GraphQL */
};

struct h2_dir {
	enum h2_state st;
	size_t pre; /* preface bytes matched */
	uint8_t hdr[9];
	size_t hlen;
	uint32_t flen, fpos, fsid;
	uint8_t ftype, fflags;
	uint8_t padlen;
	bool first; /* the next frame is the direction's first */
	bool pay_skip; /* payload too large to buffer: skipped */
	struct sonde_buf pay;
	uint64_t frame_ts;
	/* header block being reassembled */
	bool in_block;
	struct sonde_buf hb;
	uint32_t hb_sid, hb_promised;
	uint8_t hb_type;
	bool hb_end_stream;
	uint64_t hb_wire, hb_ts;
	nghttp2_hd_inflater *inf;
	uint32_t table_max; /* the inflater's dynamic table bound */
};

struct h2_conn {
	struct sonde_session *s;
	struct h2_dir d[2];
	struct h2_stream *streams;
	size_t nstreams, cap;
	uint64_t streams_skipped;
};


/* ------------------------------------------------------------- streams --- */

static struct h2_stream *stream_find(struct h2_conn *h, uint32_t id)
{
	for (size_t i = 0; i < h->nstreams; i++)
		if (h->streams[i].id == id)
			return &h->streams[i];
	return NULL;
}

static struct h2_stream *stream_get(struct h2_conn *h, uint32_t id)
{
	struct h2_stream *st = stream_find(h, id);
	if (st)
		return st;
	if (h->nstreams >= MAX_STREAMS) {
		h->streams_skipped++;
		h->s->stats->parse_errors++;
		return NULL;
	}
	if (h->nstreams == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 8;
		h->streams = sonde_xrealloc(h->streams, h->cap * sizeof(*h->streams));
	}
	st = &h->streams[h->nstreams++];
	memset(st, 0, sizeof(*st));
	st->id = id;
	return st;
}

/* A direction that stopped (broken or ended) will finish nothing more. */
static bool dir_over(const struct h2_conn *h, const struct h2_stream *st, int dir)
{
	return st->done[dir] || h->d[dir].st == H2_BROKEN || h->d[dir].st == H2_DONE;
}

static void stream_drop_if_done(struct h2_conn *h, struct h2_stream *st)
{
	if (st->m[0] || st->m[1] || !dir_over(h, st, 0) || !dir_over(h, st, 1))
		return;
	size_t i = (size_t)(st - h->streams);
	/* keep creation order: later streams shift down */
	memmove(&h->streams[i], &h->streams[i + 1], (h->nstreams - i - 1) * sizeof(*st));
	h->nstreams--;
}

static void msg_finish(struct h2_conn *h, struct h2_stream *st, enum sonde_dir dir, uint32_t flags)
{
	struct h2_msg *m = st->m[dir];
	if (!m)
		return;
	st->m[dir] = NULL;
	st->done[dir] = true;
	m->base.flags |= flags;
	if (m->base.captured_bytes > m->base.wire_bytes)
		m->base.captured_bytes = m->base.wire_bytes;
	m->base.mem = sizeof(*m) + m->text.cap + m->body.cap +
		      (m->headers.cap + m->trailers.cap) * sizeof(struct h2_field);
	if (!m->response) {
		if (!m->grpc)
			m->graphql = st->graphql = h2_graphql_request(m, NULL);
		sonde_pairing_request(&h->s->pairing, &m->base);
		return;
	}
	/* A response can end before its request did (an early reply, a
	 * reset): pair with what was seen of the request. */
	if (st->m[SONDE_DIR_C2S])
		msg_finish(h, st, SONDE_DIR_C2S, SONDE_MF_INCOMPLETE);
	if (st->graphql) {
		m->graphql = true;
		m->gql_errors = m->status == 200 && m->body.len &&
				sonde_graphql_has_errors(m->body.p, m->body.len);
	}
	sonde_pairing_response(&h->s->pairing, &m->base);
}

/* ---------------------------------------------------------- header blocks --- */

struct decoded {
	struct sonde_buf text;
	struct h2_fields f;
	uint32_t seen;
	bool truncated;
};

/* Decode one complete header block. Returns false on an HPACK error. */
static bool hpack_decode(struct h2_conn *h, struct h2_dir *d, const uint8_t *in, size_t len,
			 struct decoded *out)
{
	size_t limit = h->s->opts->max_head;
	for (;;) {
		nghttp2_nv nv;
		int fl = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(d->inf, &nv, &fl, in, len, 1);
		if (rv < 0)
			return false;
		in += rv;
		len -= (size_t)rv;
		if (fl & NGHTTP2_HD_INFLATE_EMIT) {
			out->seen++;
			if (out->f.n < MAX_HEADERS && out->text.len + nv.namelen + nv.valuelen <= limit) {
				struct h2_field f;
				f.noff = (uint32_t)out->text.len;
				f.nlen = (uint32_t)nv.namelen;
				sonde_buf_append(&out->text, nv.name, nv.namelen);
				f.voff = (uint32_t)out->text.len;
				f.vlen = (uint32_t)nv.valuelen;
				sonde_buf_append(&out->text, nv.value, nv.valuelen);
				h2_fields_add(&out->f, f);
			} else {
				out->truncated = true;
			}
		}
		if (fl & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(d->inf);
			return len == 0;
		}
		if (rv == 0 && len == 0)
			return false; /* block ended inside a field */
	}
}

/* Move decoded fields into m (as headers or trailers). */
static void attach(struct h2_msg *m, struct decoded *dc, bool trailers)
{
	uint32_t base = (uint32_t)m->text.len;
	sonde_buf_append(&m->text, dc->text.p, dc->text.len);
	struct h2_fields *fs = trailers ? &m->trailers : &m->headers;
	for (uint32_t i = 0; i < dc->f.n; i++) {
		struct h2_field f = dc->f.f[i];
		f.noff += base;
		f.voff += base;
		h2_fields_add(fs, f);
		if (trailers)
			continue;
		int32_t idx = (int32_t)(fs->n - 1);
		if (h2_field_is(m, &f, ":method"))
			m->method = idx;
		else if (h2_field_is(m, &f, ":path"))
			m->path = idx;
		else if (h2_field_is(m, &f, ":authority"))
			m->authority = idx;
		else if (h2_field_is(m, &f, ":scheme"))
			m->scheme = idx;
		else if (h2_field_is(m, &f, ":status"))
			m->status = h2_parse_status(h2_txt(m, f.voff), f.vlen);
	}
	if (dc->truncated)
		m->base.flags |= SONDE_MF_HEADERS_TRUNCATED;
}

static void dir_break(struct h2_conn *h, enum sonde_dir dir, uint32_t flags);

static void header_block_done(struct h2_conn *h, enum sonde_dir dir)
{
	struct h2_dir *d = &h->d[dir];
	struct decoded dc;
	memset(&dc, 0, sizeof(dc));
	d->in_block = false;
	static const uint8_t none[1];
	bool ok = hpack_decode(h, d, d->hb.p ? d->hb.p : none, d->hb.len, &dc);
	sonde_buf_reset(&d->hb);
	if (!ok) {
		h->s->stats->parse_errors++;
		sonde_buf_free(&dc.text);
		free(dc.f.f);
		dir_break(h, dir, SONDE_MF_PARSE_ERROR);
		return;
	}
	uint64_t wire = d->hb_wire;
	if (d->hb_type == F_PUSH_PROMISE) {
		/* A pushed request: it never crossed the client's direction. */
		struct h2_stream *st = stream_get(h, d->hb_promised);
		if (st && !st->m[SONDE_DIR_C2S] && !st->done[SONDE_DIR_C2S]) {
			struct h2_msg *m = h2_msg_new(false, d->hb_promised, d->hb_ts);
			m->pushed = true;
			attach(m, &dc, false);
			m->base.ts_last = d->frame_ts;
			st->m[SONDE_DIR_C2S] = m;
			msg_finish(h, st, SONDE_DIR_C2S, 0);
		}
		goto out;
	}
	struct h2_stream *st = d->hb_sid ? stream_get(h, d->hb_sid) : NULL;
	if (!st || st->done[dir])
		goto out;
	struct h2_msg *m = st->m[dir];
	bool response = dir == SONDE_DIR_S2C;
	if (!m) {
		m = st->m[dir] = h2_msg_new(response, d->hb_sid, d->hb_ts);
		attach(m, &dc, false);
	} else if (response && m->status >= 100 && m->status < 200 && !m->body_seen) {
		/* interim response: the final one follows */
		if (m->ninterim < MAX_INTERIM)
			m->interim[m->ninterim++] = (int16_t)m->status;
		m->headers.n = 0; /* no trailers yet: the text is all headers */
		sonde_buf_reset(&m->text);
		m->status = -1;
		m->method = m->path = m->authority = m->scheme = -1;
		attach(m, &dc, false);
	} else {
		attach(m, &dc, true);
	}
	{
		const struct h2_field *ct = h2_field_find(m, &m->headers, "content-type");
		if (ct && sonde_grpc_content_type(h2_txt(m, ct->voff), ct->vlen))
			st->grpc = true;
		m->grpc = st->grpc;
		m->grpc_limit = h->s->opts->body_limit;
	}
	m->base.wire_bytes += wire;
	m->base.captured_bytes += wire;
	m->base.ts_last = d->frame_ts;
	if (d->hb_end_stream)
		msg_finish(h, st, dir, 0);
	stream_drop_if_done(h, st);
out:
	sonde_buf_free(&dc.text);
	free(dc.f.f);
}

static void block_start(struct h2_conn *h, struct h2_dir *d, uint8_t type, uint32_t sid,
			uint32_t promised, bool end_stream, const uint8_t *frag, size_t n)
{
	(void)h;
	d->in_block = true;
	d->hb_type = type;
	d->hb_sid = sid;
	d->hb_promised = promised;
	d->hb_end_stream = end_stream;
	d->hb_wire = 0;
	d->hb_ts = d->frame_ts;
	sonde_buf_reset(&d->hb);
	sonde_buf_append(&d->hb, frag, n);
}

/* ---------------------------------------------------------- frames --- */

/* Remove padding (and the HEADERS priority fields): false if malformed. */
static bool unpad(const uint8_t *p, size_t n, uint8_t flags, size_t extra, size_t *off, size_t *len)
{
	size_t o = 0, pad = 0;
	if (flags & FL_PADDED) {
		if (n < 1)
			return false;
		pad = p[0];
		o = 1;
	}
	o += extra;
	if (o + pad > n)
		return false;
	*off = o;
	*len = n - o - pad;
	return true;
}

/*
 * SETTINGS_HEADER_TABLE_SIZE v sent by the side receiving direction `dir`'s
 * header blocks bounds the dynamic table `dir`'s encoder may use. An observer
 * only ever raises its inflater's bound (at once: the encoder cannot use more
 * before the ACK, and a larger bound rejects nothing valid); it never lowers
 * it, so SETTINGS in flight or unacknowledged cannot make valid blocks fail.
 */
static void allow_table_size(struct h2_conn *h, enum sonde_dir dir, uint32_t v)
{
	struct h2_dir *d = &h->d[dir];
	if (v <= d->table_max || !d->inf || d->st == H2_BROKEN)
		return;
	d->table_max = v;
	if (nghttp2_hd_inflate_change_table_size(d->inf, v) != 0) {
		h->s->stats->parse_errors++;
		dir_break(h, dir, SONDE_MF_PARSE_ERROR);
	}
}

static void frame_done(struct h2_conn *h, enum sonde_dir dir)
{
	struct h2_dir *d = &h->d[dir];
	static const uint8_t none[1];
	const uint8_t *p = d->pay.p ? d->pay.p : none; /* empty payload */
	size_t n = d->flen, off, len;
	uint64_t wire = 9 + (uint64_t)d->flen;
	if (d->pay_skip) {
		/* too large to buffer: fatal only if it carried a header block */
		h->s->stats->parse_errors++;
		if (d->in_block || d->ftype == F_HEADERS || d->ftype == F_PUSH_PROMISE)
			dir_break(h, dir, SONDE_MF_PARSE_ERROR);
		return;
	}
	if (d->in_block && d->ftype != F_CONTINUATION) {
		h->s->stats->parse_errors++;
		dir_break(h, dir, SONDE_MF_PARSE_ERROR);
		return;
	}
	switch (d->ftype) {
	case F_HEADERS:
		if (!unpad(p, n, d->fflags, d->fflags & FL_PRIORITY ? 5 : 0, &off, &len))
			goto bad;
		block_start(h, d, F_HEADERS, d->fsid, 0, d->fflags & FL_END_STREAM, p + off, len);
		d->hb_wire += wire;
		if (d->fflags & FL_END_HEADERS)
			header_block_done(h, dir);
		break;
	case F_PUSH_PROMISE:
		if (!unpad(p, n, d->fflags, 4, &off, &len))
			goto bad;
		{
			size_t q = d->fflags & FL_PADDED ? 1 : 0;
			uint32_t prom = ((uint32_t)p[q] << 24 | (uint32_t)p[q + 1] << 16 |
					 (uint32_t)p[q + 2] << 8 | p[q + 3]) & 0x7fffffffu;
			block_start(h, d, F_PUSH_PROMISE, d->fsid, prom, false, p + off, len);
		}
		d->hb_wire += wire;
		if (d->fflags & FL_END_HEADERS)
			header_block_done(h, dir);
		break;
	case F_CONTINUATION:
		if (!d->in_block || d->fsid != d->hb_sid)
			goto bad;
		if (d->hb.len + n > MAX_HEADER_BLOCK) {
			h->s->stats->parse_errors++;
			dir_break(h, dir, SONDE_MF_PARSE_ERROR);
			return;
		}
		sonde_buf_append(&d->hb, p, n);
		d->hb_wire += wire;
		if (d->fflags & FL_END_HEADERS)
			header_block_done(h, dir);
		break;
	case F_RST_STREAM: {
		struct h2_stream *st = stream_find(h, d->fsid);
		if (st) {
			msg_finish(h, st, SONDE_DIR_C2S, SONDE_MF_INCOMPLETE);
			msg_finish(h, st, SONDE_DIR_S2C, SONDE_MF_INCOMPLETE);
			st->done[0] = st->done[1] = true;
			stream_drop_if_done(h, st);
		}
		break;
	}
	case F_SETTINGS:
		if (d->fflags & FL_ACK)
			break;
		if (n % 6)
			goto bad;
		for (size_t i = 0; i + 6 <= n; i += 6) {
			uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
			uint32_t v = (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 |
				     (uint32_t)p[i + 4] << 8 | p[i + 5];
			if (id == 1)
				allow_table_size(h, (enum sonde_dir)!dir, v);
		}
		break;
	default: /* PRIORITY, PING, GOAWAY, WINDOW_UPDATE, unknown: nothing */
		break;
	}
	return;
bad:
	h->s->stats->parse_errors++;
	if (d->ftype == F_HEADERS || d->ftype == F_PUSH_PROMISE || d->ftype == F_CONTINUATION)
		dir_break(h, dir, SONDE_MF_PARSE_ERROR);
}

/* DATA payload bytes (padding already excluded). */
static void data_bytes(struct h2_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	struct h2_dir *d = &h->d[dir];
	struct h2_stream *st = stream_find(h, d->fsid);
	struct h2_msg *m = st ? st->m[dir] : NULL;
	if (!m)
		return;
	m->body_seen = true;
	m->body_size += n;
	if (m->grpc)
		sonde_grpc_feed(&m->gf, p, n);
	size_t limit = h->s->opts->body_limit;
	size_t room = m->body.len < limit ? limit - m->body.len : 0;
	if (n > room) {
		if (!(m->base.flags & SONDE_MF_TRUNCATED)) {
			m->base.flags |= SONDE_MF_TRUNCATED;
			h->s->stats->bodies_truncated++;
		}
		n = room;
	}
	if (n)
		sonde_buf_append(&m->body, p, n);
}

/* Count bytes of the current DATA frame on its message. */
static void data_wire(struct h2_conn *h, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	struct h2_dir *d = &h->d[dir];
	struct h2_stream *st = stream_find(h, d->fsid);
	struct h2_msg *m = st ? st->m[dir] : NULL;
	if (!m)
		return;
	m->base.wire_bytes += n;
	m->base.captured_bytes += n;
	m->base.ts_last = ts;
}

static void data_frame_end(struct h2_conn *h, enum sonde_dir dir)
{
	struct h2_dir *d = &h->d[dir];
	if (!(d->fflags & FL_END_STREAM))
		return;
	struct h2_stream *st = stream_find(h, d->fsid);
	if (!st)
		return;
	msg_finish(h, st, dir, 0);
	stream_drop_if_done(h, st);
}

/* The direction's HPACK state is lost: finish its messages, stop parsing. */
static void dir_break(struct h2_conn *h, enum sonde_dir dir, uint32_t flags)
{
	struct h2_dir *d = &h->d[dir];
	d->st = H2_BROKEN;
	d->in_block = false;
	sonde_buf_free(&d->hb);
	sonde_buf_free(&d->pay);
	for (size_t i = 0; i < h->nstreams; i++)
		if (h->streams[i].m[dir])
			msg_finish(h, &h->streams[i], dir, flags | SONDE_MF_INCOMPLETE);
	/* drop streams that are now finished both ways */
	for (size_t i = h->nstreams; i-- > 0;)
		stream_drop_if_done(h, &h->streams[i]);
}

static size_t h2_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct h2_conn *h = state;
	struct h2_dir *d = &h->d[dir];
	size_t i = 0;
	while (i < n) {
		switch (d->st) {
		case H2_BROKEN:
		case H2_DONE:
			h->s->stats->unparsed_bytes += n - i;
			return n;
		case H2_PREFACE_ST: {
			size_t k = H2_PREFACE_LEN - d->pre;
			if (k > n - i)
				k = n - i;
			if (memcmp(p + i, &H2_PREFACE[d->pre], k)) {
				h->s->stats->parse_errors++;
				h->s->stats->unparsed_bytes += d->pre;
				dir_break(h, dir, SONDE_MF_PARSE_ERROR);
				break;
			}
			d->pre += k;
			i += k;
			if (d->pre == H2_PREFACE_LEN)
				d->st = H2_FRAME_HDR;
			break;
		}
		case H2_FRAME_HDR: {
			if (!d->hlen)
				d->frame_ts = ts;
			size_t k = 9 - d->hlen;
			if (k > n - i)
				k = n - i;
			memcpy(d->hdr + d->hlen, p + i, k);
			d->hlen += k;
			i += k;
			if (d->hlen < 9)
				break;
			d->hlen = 0;
			d->flen = (uint32_t)d->hdr[0] << 16 | (uint32_t)d->hdr[1] << 8 | d->hdr[2];
			d->ftype = d->hdr[3];
			d->fflags = d->hdr[4];
			d->fsid = ((uint32_t)d->hdr[5] << 24 | (uint32_t)d->hdr[6] << 16 |
				   (uint32_t)d->hdr[7] << 8 | d->hdr[8]) & 0x7fffffffu;
			d->fpos = 0;
			d->padlen = 0;
			d->pay_skip = d->ftype != F_DATA && d->flen > MAX_FRAME_BUF;
			sonde_buf_reset(&d->pay);
			d->st = H2_PAYLOAD;
			if (d->first) {
				/* the server's first frame must be its SETTINGS; else
				 * this is not the connection's start: HPACK state unknown */
				d->first = false;
				if (d->ftype != F_SETTINGS || (d->fflags & FL_ACK) || d->fsid ||
				    d->flen % 6) {
					h->s->stats->parse_errors++;
					h->s->stats->unparsed_bytes += 9;
					dir_break(h, dir, SONDE_MF_PARSE_ERROR);
					break;
				}
			}
			if (d->ftype == F_DATA) {
				if (d->in_block) {
					h->s->stats->parse_errors++;
					dir_break(h, dir, SONDE_MF_PARSE_ERROR);
					break;
				}
				data_wire(h, dir, 9, ts);
			}
			if (!d->flen) {
				d->st = H2_FRAME_HDR;
				if (d->ftype == F_DATA)
					data_frame_end(h, dir);
				else
					frame_done(h, dir);
			}
			break;
		}
		case H2_PAYLOAD: {
			size_t k = d->flen - d->fpos;
			if (k > n - i)
				k = n - i;
			if (d->ftype == F_DATA) {
				data_wire(h, dir, k, ts);
				size_t j = 0;
				if ((d->fflags & FL_PADDED) && d->fpos == 0) {
					d->padlen = p[i];
					j = 1;
				}
				/* data occupies [start, end) of the payload */
				uint32_t start = d->fflags & FL_PADDED ? 1 : 0;
				uint32_t end = (uint64_t)start + d->padlen <= d->flen ? d->flen - d->padlen : start;
				uint32_t from = d->fpos + (uint32_t)j, to = d->fpos + (uint32_t)k;
				if (from < start)
					from = start;
				if (to > end)
					to = end;
				if (to > from)
					data_bytes(h, dir, p + i + (from - d->fpos), to - from);
			} else if (!d->pay_skip) {
				sonde_buf_append(&d->pay, p + i, k);
			}
			d->fpos += (uint32_t)k;
			i += k;
			if (d->fpos == d->flen) {
				d->st = H2_FRAME_HDR;
				if (d->ftype == F_DATA) {
					if ((d->fflags & FL_PADDED) && (uint64_t)d->padlen + 1 > d->flen)
						h->s->stats->parse_errors++;
					data_frame_end(h, dir);
				} else {
					frame_done(h, dir);
				}
			}
			break;
		}
		}
	}
	return n;
}

static void h2_gap(void *state, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	struct h2_conn *h = state;
	struct h2_dir *d = &h->d[dir];
	(void)ts;
	if (d->st == H2_DONE)
		return;
	if (d->st != H2_BROKEN) {
		/* the message in flight on this frame saw part of its bytes */
		if (d->st == H2_PAYLOAD && d->ftype == F_DATA) {
			struct h2_stream *st = stream_find(h, d->fsid);
			if (st && st->m[dir]) {
				uint64_t rest = d->flen - d->fpos;
				uint64_t k = n < rest ? n : rest;
				st->m[dir]->base.wire_bytes += k;
				st->m[dir]->body_size += k;
			}
		}
		dir_break(h, dir, SONDE_MF_GAP);
	}
}

static void h2_end(void *state, enum sonde_dir dir, uint64_t ts)
{
	struct h2_conn *h = state;
	struct h2_dir *d = &h->d[dir];
	(void)ts;
	if (d->st == H2_DONE)
		return;
	if (d->st == H2_FRAME_HDR && d->hlen)
		h->s->stats->unparsed_bytes += d->hlen;
	else if (d->st == H2_PAYLOAD && d->ftype != F_DATA)
		h->s->stats->unparsed_bytes += 9 + d->fpos;
	for (size_t i = 0; i < h->nstreams; i++)
		if (h->streams[i].m[dir])
			msg_finish(h, &h->streams[i], dir, SONDE_MF_INCOMPLETE);
	for (size_t i = h->nstreams; i-- > 0;)
		stream_drop_if_done(h, &h->streams[i]);
	d->st = H2_DONE;
	d->in_block = false;
	sonde_buf_free(&d->hb);
	sonde_buf_free(&d->pay);
}

static void h2_close(void *state, uint64_t ts)
{
	struct h2_conn *h = state;
	/* Requests first, so responses still open pair with them. */
	h2_end(h, SONDE_DIR_C2S, ts);
	h2_end(h, SONDE_DIR_S2C, ts);
	sonde_pairing_flush(&h->s->pairing);
	for (int k = 0; k < 2; k++)
		if (h->d[k].inf)
			nghttp2_hd_inflate_del(h->d[k].inf);
	free(h->streams);
	free(h);
}

static void *h2_open(struct sonde_session *s)
{
	struct h2_conn *h = sonde_xcalloc(1, sizeof(*h));
	h->s = s;
	for (int k = 0; k < 2; k++) {
		struct h2_dir *d = &h->d[k];
		if (nghttp2_hd_inflate_new(&d->inf) != 0) {
			d->inf = NULL;
			d->st = H2_BROKEN;
			continue;
		}
		/* Each direction must start where HPACK state is fresh: the client
		 * with the preface, the server with its first SETTINGS (checked in
		 * at its frame header; the client's may be an ACK). That holds whether or not the connection was joined
		 * mid-stream (an h2c Upgrade seen mid-stream hands over exactly
		 * there), so session->midstream is not needed. */
		d->st = k == SONDE_DIR_C2S ? H2_PREFACE_ST : H2_FRAME_HDR;
		d->first = k == SONDE_DIR_S2C;
		d->table_max = 4096;
	}
	return h;
}

/*
 * The client's preface, or the server's first frame: a SETTINGS frame (not an
 * ACK) on stream 0 with a length that is a multiple of 6 below 64 KiB (servers
 * may send theirs before the preface arrives).
 */
static enum sonde_probe h2_probe(const uint8_t *p, size_t n)
{
	size_t k = n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN;
	if (!n)
		return SONDE_PROBE_NO;
	if (!memcmp(p, H2_PREFACE, k))
		return k < H2_PREFACE_LEN ? SONDE_PROBE_MORE : SONDE_PROBE_CLIENT;
	static const uint8_t want[9] = { 0, 0, 0, F_SETTINGS, 0, 0, 0, 0, 0 };
	for (size_t i = 0; i < n && i < 9; i++)
		if (i != 2 && p[i] != want[i])
			return SONDE_PROBE_NO;
	if (n >= 3 && p[2] % 6)
		return SONDE_PROBE_NO;
	return n < 9 ? SONDE_PROBE_MORE : SONDE_PROBE_SERVER;
}

const struct sonde_dissector sonde_dissector_http2 = {
	.name = "http2",
	.probe = h2_probe,
	.open = h2_open,
	.data = h2_data,
	.gap = h2_gap,
	.end = h2_end,
	.close = h2_close,
};
