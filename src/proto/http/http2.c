/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 dissector (cleartext: prior knowledge "h2c", HTTP/1.1 Upgrade, and
 * connections joined mid-stream).
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
 * What a message carries is looked up in the content table (content.h): a
 * stream whose headers claim it (gRPC: application/grpc*) keeps that content
 * for both messages, its DATA bytes going through the content's state too;
 * other requests are looked up when they end (GraphQL), and the response to
 * a claimed request is claimed as well.
 *
 * Recovery. A direction whose HPACK state is unknown — it was joined in the
 * middle, bytes were lost, a header block was lost or rejected — goes on with
 * the recovering decoder of http2_hpack.c: static and literal fields decode,
 * references to entries it never saw are written as unknown, and it becomes
 * exact again once the table has turned over. When frame boundaries are lost
 * too (joined mid-stream, a gap across frames) the direction first looks for
 * the next frame (H2_RESYNC: three plausible frame headers in a row, or a
 * whole HEADERS frame that opens a request or response); its messages in
 * flight go on, flagged with the gap. A gap inside one frame's payload loses
 * neither: only that frame's message is flagged.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "core/buf.h"
#include "proto/dissector.h"
#include "proto/session.h"
#include "proto/content/content.h"
#include "proto/http/http2_hpack.h"
#include "proto/http/http2_msg.h"
#include "proto/http/http2_priv.h"
#include "proto/content/protodesc.h"

/* ------------------------------------------------------------- streams --- */

struct h2_stream *h2_stream_find(struct h2_conn *h, uint32_t id)
{
	for (size_t i = 0; i < h->nstreams; i++)
		if (h->streams[i].id == id)
			return &h->streams[i];
	return NULL;
}

struct h2_stream *h2_stream_get(struct h2_conn *h, uint32_t id)
{
	struct h2_stream *st = h2_stream_find(h, id);
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

/* A direction that ended will finish nothing more. */
static bool dir_over(const struct h2_conn *h, const struct h2_stream *st, int dir)
{
	return st->done[dir] || h->d[dir].st == H2_DONE;
}

void h2_stream_drop_if_done(struct h2_conn *h, struct h2_stream *st)
{
	if (st->m[0] || st->m[1] || !dir_over(h, st, 0) || !dir_over(h, st, 1))
		return;
	size_t i = (size_t)(st - h->streams);
	/* keep creation order: later streams shift down */
	memmove(&h->streams[i], &h->streams[i + 1], (h->nstreams - i - 1) * sizeof(*st));
	h->nstreams--;
}

static void drop_done_streams(struct h2_conn *h)
{
	for (size_t i = h->nstreams; i-- > 0;)
		h2_stream_drop_if_done(h, &h->streams[i]);
}

void h2_msg_finish(struct h2_conn *h, struct h2_stream *st, enum sonde_dir dir, uint32_t flags)
{
	struct sonde_http_msg *m = st->m[dir];
	if (!m)
		return;
	st->m[dir] = NULL;
	st->done[dir] = true;
	m->base.flags |= flags;
	/* --decode-bodies as for HTTP/1: not after lost bytes, and not gRPC
	 * (its messages carry their own compression, grpc-encoding) */
	h2_msg_body_coding(m,
			   h->s->opts->decode_bodies && m->cd != &sonde_content_grpc &&
				   !(m->base.flags & SONDE_MF_GAP),
			   h->s->opts->body_limit);
	if (m->base.captured_bytes > m->base.wire_bytes)
		m->base.captured_bytes = m->base.wire_bytes;
	m->base.mem = sonde_http_msg_mem(m);
	struct sonde_content_ctx cc = {
		.body_limit = h->s->opts->body_limit,
		.schema = m->response ? st->pb_out : st->pb_in,
	};
	if (!m->response) {
		if (!m->cd)
			st->asked_cd = sonde_content_request(m);
		sonde_content_finish(m, &cc);
		sonde_session_request(h->s, &m->base);
		return;
	}
	/* A response can end before its request did (an early reply, a
	 * reset): pair with what was seen of the request. */
	if (st->m[SONDE_DIR_C2S])
		h2_msg_finish(h, st, SONDE_DIR_C2S, SONDE_MF_INCOMPLETE);
	else if (!st->req_seen && h->d[SONDE_DIR_C2S].recovering)
		/* its request started before we watched (or was lost): no
		 * request will start on this stream any more */
		st->done[SONDE_DIR_C2S] = true;
	/* the response to a request its content dissector claimed is its too */
	if (!m->cd && st->asked_cd)
		sonde_content_attach(m, st->asked_cd);
	sonde_content_finish(m, &cc);
	sonde_session_response(h->s, &m->base);
}

/* Finish every message in flight in direction dir. */
static void finish_dir(struct h2_conn *h, enum sonde_dir dir, uint32_t flags)
{
	for (size_t i = 0; i < h->nstreams; i++)
		if (h->streams[i].m[dir])
			h2_msg_finish(h, &h->streams[i], dir, flags);
	drop_done_streams(h);
}

/* ---------------------------------------------------------- frames --- */

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
	if (d->st == H2_DONE)
		return;
	if (!d->inf) {
		h2_hpack_allow(&d->hp, v);
		if (v > d->table_max)
			d->table_max = v;
		return;
	}
	if (v <= d->table_max)
		return;
	d->table_max = v;
	if (nghttp2_hd_inflate_change_table_size(d->inf, v) != 0) {
		h->s->stats->parse_errors++;
		h2_lose_hpack(h, dir, true);
	}
}

/* A payload too large to buffer, or partly lost: fatal only to a header
 * block. Returns true if that is this frame's case (then handled). */
static bool payload_unusable(struct h2_conn *h, enum sonde_dir dir, uint64_t wire, bool block_frame)
{
	struct h2_dir *d = &h->d[dir];
	if (!d->pay_skip && !d->pay_lost)
		return false;
	uint64_t seen = wire - d->plost;
	if (d->pay_skip)
		h->s->stats->parse_errors++;
	if (block_frame || d->in_block)
		h2_block_lost(h, dir, d->in_block ? d->hb_sid : d->fsid,
			      d->pay_lost ? SONDE_MF_GAP : SONDE_MF_PARSE_ERROR,
			      (d->in_block ? d->hb_wire : 0) + seen);
	else if (d->pay_skip)
		h->s->stats->unparsed_bytes += seen;
	return true;
}

/* HEADERS, PUSH_PROMISE, CONTINUATION: a piece of a header block. False if
 * malformed. */
static bool block_frame_done(struct h2_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n,
			     uint64_t wire)
{
	struct h2_dir *d = &h->d[dir];
	size_t off, len;
	if (d->ftype == F_HEADERS) {
		if (!h2_unpad(p, n, d->fflags, d->fflags & FL_PRIORITY ? 5 : 0, &off, &len))
			return false;
		h2_block_start(d, F_HEADERS, d->fsid, 0, d->fflags & FL_END_STREAM, p + off, len);
	} else if (d->ftype == F_PUSH_PROMISE) {
		if (!h2_unpad(p, n, d->fflags, 4, &off, &len))
			return false;
		size_t q = d->fflags & FL_PADDED ? 1 : 0;
		h2_block_start(d, F_PUSH_PROMISE, d->fsid, h2_be31(p + q), false, p + off, len);
	} else {
		if (!d->in_block || d->fsid != d->hb_sid)
			return false;
		if (d->hb.len + n > MAX_HEADER_BLOCK) {
			h->s->stats->parse_errors++;
			h2_block_lost(h, dir, d->hb_sid, SONDE_MF_PARSE_ERROR, d->hb_wire + wire);
			return true;
		}
		sonde_buf_append(&d->hb, p, n);
	}
	d->hb_wire += wire;
	if (d->fflags & FL_END_HEADERS)
		h2_header_block_done(h, dir);
	return true;
}

static void rst_stream(struct h2_conn *h, uint32_t sid)
{
	struct h2_stream *st = h2_stream_find(h, sid);
	if (!st)
		return;
	h2_msg_finish(h, st, SONDE_DIR_C2S, SONDE_MF_INCOMPLETE);
	h2_msg_finish(h, st, SONDE_DIR_S2C, SONDE_MF_INCOMPLETE);
	st->done[0] = st->done[1] = true;
	h2_stream_drop_if_done(h, st);
}

/* SETTINGS from dir: the table size it allows the other side's encoder.
 * False if malformed. */
static bool settings(struct h2_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	if (h->d[dir].fflags & FL_ACK)
		return true;
	if (n % 6)
		return false;
	for (size_t i = 0; i + 6 <= n; i += 6) {
		uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
		uint32_t v = (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 |
			     (uint32_t)p[i + 4] << 8 | p[i + 5];
		if (id == 1)
			allow_table_size(h, (enum sonde_dir) !dir, v);
	}
	return true;
}

static void frame_done(struct h2_conn *h, enum sonde_dir dir)
{
	struct h2_dir *d = &h->d[dir];
	static const uint8_t none[1];
	const uint8_t *p = d->pay.p ? d->pay.p : none; /* empty payload */
	size_t n = d->flen;
	uint64_t wire = 9 + (uint64_t)d->flen;
	bool block_frame =
		d->ftype == F_HEADERS || d->ftype == F_PUSH_PROMISE || d->ftype == F_CONTINUATION;
	if (d->in_block && d->ftype != F_CONTINUATION) {
		/* the block never ended: it is lost; this frame is handled */
		h->s->stats->parse_errors++;
		h2_block_lost(h, dir, d->hb_sid, SONDE_MF_PARSE_ERROR, d->hb_wire);
	}
	if (payload_unusable(h, dir, wire, block_frame))
		return;
	bool ok = true;
	if (block_frame)
		ok = block_frame_done(h, dir, p, n, wire);
	else if (d->ftype == F_RST_STREAM)
		rst_stream(h, d->fsid);
	else if (d->ftype == F_SETTINGS)
		ok = settings(h, dir, p, n);
	/* PRIORITY, PING, GOAWAY, WINDOW_UPDATE, unknown: nothing */
	if (ok)
		return;
	h->s->stats->parse_errors++;
	if (block_frame) /* a header block fragment without its start, or malformed */
		h2_block_lost(h, dir, d->in_block ? d->hb_sid : d->fsid, SONDE_MF_PARSE_ERROR,
			      (d->in_block ? d->hb_wire : 0) + wire);
}

/* The DATA message of the current frame, if one is in flight. */
static struct sonde_http_msg *data_msg(struct h2_conn *h, struct h2_dir *d, enum sonde_dir dir)
{
	struct h2_stream *st = h2_stream_find(h, d->fsid);
	return st ? st->m[dir] : NULL;
}

/* DATA payload bytes (padding already excluded). */
static void data_bytes(struct h2_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	struct sonde_http_msg *m = data_msg(h, &h->d[dir], dir);
	if (!m)
		return;
	m->body_seen = true;
	sonde_http_msg_body(m, p, n, h->s->opts->body_limit, h->s->stats);
}

/* Count bytes of the current DATA frame on its message (or as unparsed). */
static void data_wire(struct h2_conn *h, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	struct sonde_http_msg *m = data_msg(h, &h->d[dir], dir);
	if (!m) {
		h->s->stats->unparsed_bytes += n;
		return;
	}
	m->base.wire_bytes += n;
	m->base.captured_bytes += n;
	m->base.ts_last = ts;
}

static void data_frame_end(struct h2_conn *h, enum sonde_dir dir)
{
	struct h2_dir *d = &h->d[dir];
	if (!(d->fflags & FL_END_STREAM))
		return;
	struct h2_stream *st = h2_stream_find(h, d->fsid);
	if (!st)
		return;
	h2_msg_finish(h, st, dir, 0);
	h2_stream_drop_if_done(h, st);
}

/* ------------------------------------------------------------- the parser --- */

/* The client's preface; 0 consumed when it is not one (the direction then
 * looks for frames). */
static size_t st_preface(struct h2_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n,
			 uint64_t ts)
{
	struct h2_dir *d = &h->d[dir];
	size_t k = H2_PREFACE_LEN - d->pre;
	if (k > n)
		k = n;
	if (memcmp(p, &H2_PREFACE[d->pre], k)) {
		/* not the connection's start: look for frames, the preface
		 * bytes matched so far included */
		size_t pre = d->pre;
		h2_frames_lost(h, dir, 0);
		if (pre)
			h2_resync_feed(h, dir, (const uint8_t *)H2_PREFACE, pre, ts);
		return 0;
	}
	d->pre += k;
	if (d->pre == H2_PREFACE_LEN)
		d->st = H2_FRAME_HDR;
	return k;
}

/* A whole frame header in d->hdr: the frame starts. */
static void frame_start(struct h2_conn *h, enum sonde_dir dir, uint64_t ts)
{
	struct h2_dir *d = &h->d[dir];
	d->flen = h2_be24(d->hdr);
	d->ftype = d->hdr[3];
	d->fflags = d->hdr[4];
	d->fsid = h2_be31(d->hdr + 5);
	d->fpos = 0;
	d->padlen = 0;
	d->pay_skip = d->ftype != F_DATA && d->flen > MAX_FRAME_BUF;
	d->pay_lost = false;
	d->plost = 0;
	sonde_buf_reset(&d->pay);
	d->st = H2_PAYLOAD;
	if (d->first) {
		/* the server's first frame must be its SETTINGS; else this is not
		 * the connection's start: HPACK state unknown */
		d->first = false;
		if (d->ftype != F_SETTINGS || (d->fflags & FL_ACK) || d->fsid || d->flen % 6) {
			h->s->stats->parse_errors++;
			if (!h2_plausible(d->hdr)) {
				/* not even a frame: look for one */
				h2_frames_lost(h, dir, SONDE_MF_PARSE_ERROR);
				h2_resync_feed(h, dir, d->hdr, 9, ts);
				return;
			}
			h2_lose_hpack(h, dir, false);
		}
	}
	if (d->ftype == F_DATA) {
		if (d->in_block) {
			h->s->stats->parse_errors++;
			h2_block_lost(h, dir, d->hb_sid, SONDE_MF_PARSE_ERROR, d->hb_wire);
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
}

static size_t st_frame_hdr(struct h2_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n,
			   uint64_t ts)
{
	struct h2_dir *d = &h->d[dir];
	if (!d->hlen)
		d->frame_ts = ts;
	size_t k = 9 - d->hlen;
	if (k > n)
		k = n;
	memcpy(d->hdr + d->hlen, p, k);
	d->hlen += k;
	if (d->hlen == 9) {
		d->hlen = 0;
		frame_start(h, dir, ts);
	}
	return k;
}

/* DATA payload bytes [fpos, fpos + k) of the frame: the padding length
 * byte and the padding are not the message's. */
static void data_payload(struct h2_conn *h, enum sonde_dir dir, const uint8_t *p, size_t k,
			 uint64_t ts)
{
	struct h2_dir *d = &h->d[dir];
	data_wire(h, dir, k, ts);
	size_t j = 0;
	if ((d->fflags & FL_PADDED) && d->fpos == 0) {
		d->padlen = p[0];
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
		data_bytes(h, dir, p + (from - d->fpos), to - from);
}

static size_t st_payload(struct h2_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n,
			 uint64_t ts)
{
	struct h2_dir *d = &h->d[dir];
	size_t k = d->flen - d->fpos;
	if (k > n)
		k = n;
	if (d->ftype == F_DATA)
		data_payload(h, dir, p, k, ts);
	else if (!d->pay_skip && !d->pay_lost)
		sonde_buf_append(&d->pay, p, k);
	d->fpos += (uint32_t)k;
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
	return k;
}

size_t h2_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct h2_conn *h = state;
	struct h2_dir *d = &h->d[dir];
	size_t i = 0;
	while (i < n) {
		switch (d->st) {
		case H2_DONE: h->s->stats->unparsed_bytes += n - i; return n;
		case H2_RESYNC: h2_resync_feed(h, dir, p + i, n - i, ts); return n;
		case H2_PREFACE_ST: i += st_preface(h, dir, p + i, n - i, ts); break;
		case H2_FRAME_HDR: i += st_frame_hdr(h, dir, p + i, n - i, ts); break;
		case H2_PAYLOAD: i += st_payload(h, dir, p + i, n - i, ts); break;
		}
	}
	return n;
}

/*
 * n bytes of the current frame's payload are missing (n at most what is left
 * of it): frame boundaries are kept. A DATA message is flagged and keeps its
 * body up to the gap; another frame is dropped when it completes (with its
 * header block, if it carried one).
 */
static void gap_in_payload(struct h2_conn *h, enum sonde_dir dir, uint32_t n)
{
	struct h2_dir *d = &h->d[dir];
	if (d->ftype == F_DATA) {
		struct sonde_http_msg *m = data_msg(h, d, dir);
		if (m) {
			m->base.flags |= SONDE_MF_GAP;
			m->base.wire_bytes += n;
			m->body_hole = true;
			/* the lost bytes counted as body, but for known padding */
			uint32_t start = d->fflags & FL_PADDED ? 1 : 0;
			uint32_t end = d->fpos > 0 && start + d->padlen <= d->flen
					       ? d->flen - d->padlen
					       : d->flen;
			uint32_t from = d->fpos > start ? d->fpos : start, to = d->fpos + n;
			if (to > end)
				to = end;
			if (to > from)
				m->body_size += to - from;
			m->body_seen = true;
		}
	} else {
		d->pay_lost = true;
		d->plost += n;
	}
	d->fpos += n;
	if (d->fpos == d->flen) {
		d->st = H2_FRAME_HDR;
		if (d->ftype == F_DATA)
			data_frame_end(h, dir);
		else
			frame_done(h, dir);
	}
}

/* The bytes of a preface, frame header or non-DATA frame left unfinished
 * in direction d (cut by a gap or the end): not dissected. */
static void count_partial_frame(struct h2_conn *h, const struct h2_dir *d)
{
	if (d->st == H2_PREFACE_ST)
		h->s->stats->unparsed_bytes += d->pre;
	else if (d->st == H2_FRAME_HDR && d->hlen)
		h->s->stats->unparsed_bytes += d->hlen;
	else if (d->st == H2_PAYLOAD && d->ftype != F_DATA)
		h->s->stats->unparsed_bytes += 9 + d->fpos - d->plost;
}

static void h2_gap(void *state, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	struct h2_conn *h = state;
	struct h2_dir *d = &h->d[dir];
	(void)ts;
	if (d->st == H2_RESYNC) {
		/* the bytes held so far will not grow: frames ending exactly
		 * before the gap are taken */
		h2_resync_scan(h, dir, true);
		if (d->st == H2_RESYNC) {
			h->s->stats->unparsed_bytes += d->rs.len;
			h2_resync_reset(d);
			return;
		}
	}
	if (d->st == H2_DONE)
		return;
	if (d->st == H2_PAYLOAD && n <= d->flen - d->fpos) {
		gap_in_payload(h, dir, (uint32_t)n);
		return;
	}
	/* the message in flight on this frame saw part of its bytes */
	if (d->st == H2_PAYLOAD && d->ftype == F_DATA) {
		struct sonde_http_msg *m = data_msg(h, d, dir);
		if (m) {
			uint64_t rest = d->flen - d->fpos;
			m->base.wire_bytes += rest;
			m->body_size += rest;
		}
	}
	count_partial_frame(h, d);
	h2_frames_lost(h, dir, SONDE_MF_GAP);
}

static void h2_end(void *state, enum sonde_dir dir, uint64_t ts)
{
	struct h2_conn *h = state;
	struct h2_dir *d = &h->d[dir];
	(void)ts;
	if (d->st == H2_RESYNC) {
		h2_resync_scan(h, dir, true);
		if (d->st == H2_RESYNC)
			h->s->stats->unparsed_bytes += d->rs.len;
	}
	if (d->st == H2_DONE)
		return;
	count_partial_frame(h, d);
	if (d->in_block)
		h->s->stats->unparsed_bytes += d->hb_wire;
	finish_dir(h, dir, SONDE_MF_INCOMPLETE);
	d->st = H2_DONE;
	d->in_block = false;
	sonde_buf_free(&d->hb);
	sonde_buf_free(&d->pay);
	h2_resync_reset(d);
}

static void h2_close(void *state, uint64_t ts)
{
	struct h2_conn *h = state;
	/* Requests first, so responses still open pair with them. */
	h2_end(h, SONDE_DIR_C2S, ts);
	h2_end(h, SONDE_DIR_S2C, ts);
	sonde_session_flush(h->s);
	for (int k = 0; k < 2; k++) {
		if (h->d[k].inf)
			nghttp2_hd_inflate_del(h->d[k].inf);
		h2_hpack_free(&h->d[k].hp);
	}
	free(h->streams);
	free(h);
}

extern const struct sonde_dissector sonde_dissector_http2;

static void *h2_open(struct sonde_session *s)
{
	struct h2_conn *h = sonde_xcalloc(1, sizeof(*h));
	sonde_session_start(s, &sonde_dissector_http2);
	h->s = s;
	for (int k = 0; k < 2; k++) {
		struct h2_dir *d = &h->d[k];
		d->table_max = 4096;
		d->table_max_known = true;
		/*
		 * A direction decodes exactly from its start: the client's
		 * preface, the server's first SETTINGS (checked at its frame
		 * header). The server's direction joined in the middle (its
		 * first bytes may be anywhere) looks for frames instead; the
		 * client's finds out at its first bytes whether they are the
		 * preface (an h2c Upgrade seen mid-stream hands over exactly
		 * there).
		 */
		if (k == SONDE_DIR_S2C && (s->midstream[k] || s->conn->midstream)) {
			d->table_max_known = false;
			h2_hpack_init(&d->hp, d->table_max, false);
			d->recovering = true;
			s->stats->hpack_state_lost++;
			d->st = H2_RESYNC;
			continue;
		}
		if (nghttp2_hd_inflate_new(&d->inf) != 0) {
			d->inf = NULL;
			h2_hpack_init(&d->hp, d->table_max, true);
			d->recovering = true;
		}
		d->st = k == SONDE_DIR_C2S ? H2_PREFACE_ST : H2_FRAME_HDR;
		d->first = k == SONDE_DIR_S2C;
	}
	return h;
}

/* ---------------------------------------------------------------- probing --- */

/*
 * In the middle of a connection: plausible frames from the first byte to the
 * last (the last one may be cut), one of them a header block whose first
 * field tells the side — request pseudo-headers (client) or :status, or any
 * PUSH_PROMISE (server). 0 if not; -1 if the bytes end, undecided, inside a
 * plausible frame or its header (a program that reads a frame's header and
 * its payload in two calls, as Go's HTTP/2 does, hands them over apart).
 */
static int midstream_role(const uint8_t *p, size_t n)
{
	size_t pos = 0;
	int role = 0;
	const uint8_t *prev = NULL;
	while (n - pos >= 9) {
		const uint8_t *f = p + pos;
		if (!h2_plausible(f))
			return 0;
		bool cont = f[3] == F_CONTINUATION;
		if (prev && h2_opens_block(prev) ? !cont || h2_be31(f + 5) != h2_be31(prev + 5)
						 : cont)
			return 0;
		size_t len = h2_be24(f);
		if (len > n - pos - 9)
			return role ? role : -1; /* cut by the end of these bytes */
		if (!role && f[3] == F_PUSH_PROMISE)
			role = 2;
		if (!role && f[3] == F_HEADERS) {
			size_t off, blen;
			if (!h2_unpad(f + 9, len, f[4], f[4] & FL_PRIORITY ? 5 : 0, &off, &blen))
				return 0;
			role = h2_hpack_first_role(f + 9 + off, blen);
		}
		prev = f;
		pos += 9 + len;
	}
	return role;
}

/*
 * The client's preface, or frames seen in the middle of a connection (above),
 * or the server's first frame: a SETTINGS frame (not an ACK) on stream 0 with
 * a length that is a multiple of 6 below 64 KiB (servers may send theirs
 * before the preface arrives).
 */
static enum sonde_probe h2_probe(const uint8_t *p, size_t n)
{
	size_t k = n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN;
	if (!n)
		return SONDE_PROBE_NO;
	if (!memcmp(p, H2_PREFACE, k))
		return k < H2_PREFACE_LEN ? SONDE_PROBE_MORE : SONDE_PROBE_CLIENT;
	int role = midstream_role(p, n);
	if (role > 0)
		return role == 1 ? SONDE_PROBE_CLIENT : SONDE_PROBE_SERVER;
	static const uint8_t want[9] = { 0, 0, 0, F_SETTINGS, 0, 0, 0, 0, 0 };
	bool settings = !(n >= 3 && p[2] % 6);
	for (size_t i = 0; i < n && i < 9; i++)
		if (i != 2 && p[i] != want[i])
			settings = false;
	if (!settings)
		return role < 0 ? SONDE_PROBE_MORE : SONDE_PROBE_NO;
	return n < 9 ? SONDE_PROBE_MORE : SONDE_PROBE_SERVER;
}

const struct sonde_dissector sonde_dissector_http2 = {
	.name = "http2",
	.pairing = SONDE_PAIR_BY_KEY, /* stream id */
	.probe = h2_probe,
	.open = h2_open,
	.data = h2_data,
	.gap = h2_gap,
	.end = h2_end,
	.close = h2_close,
};
