/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 header blocks: HEADERS/PUSH_PROMISE + CONTINUATION reassembled and
 * decoded — by the exact nghttp2 inflater while the direction's HPACK state
 * is known, by the recovering decoder (http2_hpack.c) once it is not — and
 * turned into the stream's request, response or trailers. A lost block loses
 * the state and flags its message; nothing is guessed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http/http2_msg.h"
#include "proto/http/http2_priv.h"
#include "proto/session.h"

/* ---------------------------------------------------------- HPACK state --- */

/*
 * The direction's HPACK state is lost (or was never known): decode on with
 * the recovering decoder. bound_known: the peer's table-size SETTINGS cannot
 * have been missed (no bytes were lost).
 */
void h2_lose_hpack(struct h2_conn *h, enum sonde_dir dir, bool bound_known)
{
	struct h2_dir *d = &h->d[dir];
	h->s->stats->hpack_state_lost++;
	d->recovering = true;
	d->table_max_known &= bound_known;
	if (d->inf) {
		nghttp2_hd_inflate_del(d->inf);
		d->inf = NULL;
		h2_hpack_init(&d->hp, d->table_max, d->table_max_known);
	} else {
		h2_hpack_reset_unknown(&d->hp);
		if (!bound_known)
			d->hp.bound_known = false;
	}
}

/* Add flags to the message in flight on stream sid in direction dir. */
static void flag_block_msg(struct h2_conn *h, enum sonde_dir dir, uint32_t sid, uint32_t flags)
{
	struct h2_stream *st = h2_stream_find(h, sid);
	if (st && st->m[dir])
		st->m[dir]->base.flags |= flags;
}

/*
 * A header block (being reassembled, or carried by the current frame) is lost:
 * its stream's message gets `flags`, its `wire` bytes are counted as unparsed,
 * and the direction's HPACK state is lost with it.
 */
void h2_block_lost(struct h2_conn *h, enum sonde_dir dir, uint32_t sid, uint32_t flags,
		   uint64_t wire)
{
	struct h2_dir *d = &h->d[dir];
	h->s->stats->unparsed_bytes += wire;
	flag_block_msg(h, dir, sid, flags);
	d->in_block = false;
	sonde_buf_reset(&d->hb);
	h2_lose_hpack(h, dir, true);
}

/* ---------------------------------------------------------- header blocks --- */

struct decoded {
	struct h2_conn *h;
	struct sonde_buf text;
	struct sonde_http_fields f;
	uint32_t seen;
	uint32_t unknown; /* fields referring to unknown table entries */
	bool truncated;
	bool pseudo; /* a (known) pseudo-header field was decoded */
};

static void add_field(struct decoded *out, const uint8_t *name, size_t nlen, const uint8_t *value,
		      size_t vlen)
{
	size_t limit = out->h->s->opts->max_head;
	out->seen++;
	if (nlen && name[0] == ':')
		out->pseudo = true;
	if (out->f.n < MAX_HEADERS && out->text.len + nlen + vlen <= limit) {
		struct sonde_http_field f;
		f.noff = (uint32_t)out->text.len;
		f.nlen = (uint32_t)nlen;
		sonde_buf_append(&out->text, name, nlen);
		f.voff = (uint32_t)out->text.len;
		f.vlen = (uint32_t)vlen;
		sonde_buf_append(&out->text, value, vlen);
		sonde_http_fields_add(&out->f, f);
	} else {
		out->truncated = true;
	}
}

/* A field from the recovering decoder; unknown names become "<unknown index N>". */
static void emit_field(void *ctx, const struct h2_hp_field *f)
{
	struct decoded *out = ctx;
	static const uint8_t none[1];
	if (!(f->flags & H2_HP_NAME_UNKNOWN)) {
		add_field(out, f->name, f->nlen, f->value ? f->value : none,
			  f->value ? f->vlen : 0);
		return;
	}
	char name[40];
	int k = snprintf(name, sizeof(name), "<unknown index %u>", f->index);
	bool value = !(f->flags & H2_HP_VALUE_UNKNOWN) && f->value;
	add_field(out, (const uint8_t *)name, (size_t)k, value ? f->value : none,
		  value ? f->vlen : 0);
}

/* Decode one complete header block with the exact inflater. */
static bool inflate_block(struct h2_dir *d, const uint8_t *in, size_t len, struct decoded *out)
{
	for (;;) {
		nghttp2_nv nv;
		int fl = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(d->inf, &nv, &fl, in, len, 1);
		if (rv < 0)
			return false;
		in += rv;
		len -= (size_t)rv;
		if (fl & NGHTTP2_HD_INFLATE_EMIT)
			add_field(out, nv.name, nv.namelen, nv.value, nv.valuelen);
		if (fl & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(d->inf);
			return len == 0;
		}
		if (rv == 0 && len == 0)
			return false; /* block ended inside a field */
	}
}

static void decoded_reset(struct decoded *dc)
{
	dc->f.n = 0;
	dc->seen = dc->unknown = 0;
	dc->truncated = dc->pseudo = false;
	sonde_buf_reset(&dc->text);
}

/*
 * Decode the block the direction reassembled. Returns message flags to add:
 * 0, or PARSE_ERROR when it did not decode (what did is kept).
 */
static uint32_t decode_block(struct h2_conn *h, enum sonde_dir dir, const uint8_t *in, size_t len,
			     struct decoded *dc)
{
	struct h2_dir *d = &h->d[dir];
	uint32_t flags = 0;
	if (d->inf) {
		if (inflate_block(d, in, len, dc))
			return 0;
		/* rejected: its insertions are lost; decode it again without them */
		h->s->stats->parse_errors++;
		flags = SONDE_MF_PARSE_ERROR;
		decoded_reset(dc);
		h2_lose_hpack(h, dir, true);
	}
	/* The client's first header block opens stream 1 (stream ids only
	 * grow, and a request block starts with pseudo-headers): the client's
	 * table was empty before it. */
	if (dir == SONDE_DIR_C2S && d->hb_type == F_HEADERS && d->hb_sid == 1 &&
	    d->hp.tail_unknown && h2_hpack_first_role(in, len) == 1) {
		h2_hpack_reset_known(&d->hp);
		h->s->stats->hpack_resynced++;
	}
	bool synced = false;
	if (h2_hpack_decode(&d->hp, in, len, emit_field, dc, &dc->unknown, &synced) < 0) {
		if (!flags)
			h->s->stats->parse_errors++;
		flags = SONDE_MF_PARSE_ERROR;
	}
	if (synced)
		h->s->stats->hpack_resynced++;
	h->s->stats->hpack_unknown_fields += dc->unknown;
	return flags;
}

/* Move decoded fields into m (as headers or trailers). */
static void attach(struct sonde_http_msg *m, struct decoded *dc, bool trailers)
{
	uint32_t base = (uint32_t)m->text.len;
	sonde_buf_append(&m->text, dc->text.p, dc->text.len);
	struct sonde_http_fields *fs = trailers ? &m->trailers : &m->headers;
	for (uint32_t i = 0; i < dc->f.n; i++) {
		struct sonde_http_field f = dc->f.f[i];
		f.noff += base;
		f.voff += base;
		sonde_http_fields_add(fs, f);
		if (trailers)
			continue;
		h2_msg_pseudo(m, &f);
	}
	m->hpack_unknown += dc->unknown;
	if (dc->truncated)
		m->base.flags |= SONDE_MF_HEADERS_TRUNCATED;
}

/*
 * Does a block on a stream with no message in flight start one? Always from a
 * direction decoded from its start. In a recovering direction the stream may
 * have started before we watched: a block without pseudo-headers is then its
 * trailers, unless unknown fields hide them and the stream is new (client: a
 * higher stream id; server: we saw the request start).
 */
static bool starts_message(const struct h2_dir *d, enum sonde_dir dir, const struct h2_stream *st,
			   uint32_t sid, const struct decoded *dc)
{
	if (!d->recovering || dc->pseudo)
		return true;
	if (!dc->unknown)
		return false;
	if (dir == SONDE_DIR_C2S)
		return sid > d->max_sid;
	return st && st->req_seen;
}

void h2_header_block_done(struct h2_conn *h, enum sonde_dir dir)
{
	struct h2_dir *d = &h->d[dir];
	struct decoded dc;
	memset(&dc, 0, sizeof(dc));
	dc.h = h;
	d->in_block = false;
	static const uint8_t none[1];
	uint32_t flags = decode_block(h, dir, d->hb.p ? d->hb.p : none, d->hb.len, &dc);
	sonde_buf_reset(&d->hb);
	uint64_t wire = d->hb_wire;
	if (d->hb_type == F_PUSH_PROMISE) {
		/* A pushed request: it never crossed the client's direction. */
		struct h2_stream *st = h2_stream_get(h, d->hb_promised);
		if (st && !st->m[SONDE_DIR_C2S] && !st->done[SONDE_DIR_C2S]) {
			struct sonde_http_msg *m = h2_msg_new(false, d->hb_promised, d->hb_ts);
			m->pushed = true;
			m->base.flags |= flags;
			attach(m, &dc, false);
			m->base.ts_last = d->frame_ts;
			st->m[SONDE_DIR_C2S] = m;
			st->req_seen = true;
			h2_msg_finish(h, st, SONDE_DIR_C2S, 0);
		}
		goto out;
	}
	struct h2_stream *st = d->hb_sid ? h2_stream_find(h, d->hb_sid) : NULL;
	if (st && st->done[dir]) {
		h->s->stats->unparsed_bytes += wire;
		goto out;
	}
	struct sonde_http_msg *m = st ? st->m[dir] : NULL;
	bool response = dir == SONDE_DIR_S2C;
	if (!m) {
		if (!d->hb_sid || !starts_message(d, dir, st, d->hb_sid, &dc)) {
			/* the rest of a stream that began before we watched */
			h->s->stats->unparsed_bytes += wire;
			goto out;
		}
		if (!st && !(st = h2_stream_get(h, d->hb_sid)))
			goto out;
		m = st->m[dir] = h2_msg_new(response, d->hb_sid, d->hb_ts);
		attach(m, &dc, false);
		if (!response) {
			st->req_seen = true;
			if (d->hb_sid > d->max_sid)
				d->max_sid = d->hb_sid;
			if (h->s->opts->proto_desc && m->path.set) {
				const uint8_t *pv = sonde_http_txt(m, m->path.off);
				st->pb_in = sonde_protodesc_method(h->s->opts->proto_desc, pv,
								   m->path.len, false);
				st->pb_out = sonde_protodesc_method(h->s->opts->proto_desc, pv,
								    m->path.len, true);
			}
		}
	} else if (response && m->status >= 100 && m->status < 200 && !m->body_seen) {
		/* interim response: the final one follows */
		if (m->ninterim < SONDE_HTTP_MAX_INTERIM)
			m->interim[m->ninterim++] = (int16_t)m->status;
		h2_msg_reset_head(m);
		attach(m, &dc, false);
	} else {
		attach(m, &dc, true);
	}
	m->base.flags |= flags;
	/* content the headers decide (gRPC) holds for the whole stream */
	if (!st->head_cd)
		st->head_cd = sonde_content_head(m);
	if (st->head_cd && !m->cd)
		sonde_content_attach(m, st->head_cd);
	m->base.wire_bytes += wire;
	m->base.captured_bytes += wire;
	m->base.ts_last = d->frame_ts;
	if (d->hb_end_stream)
		h2_msg_finish(h, st, dir, 0);
	h2_stream_drop_if_done(h, st);
out:
	sonde_buf_free(&dc.text);
	free(dc.f.f);
}

void h2_block_start(struct h2_dir *d, uint8_t type, uint32_t sid, uint32_t promised,
		    bool end_stream, const uint8_t *frag, size_t n)
{
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
