/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 after lost bytes: the direction's frame boundaries are unknown, so
 * it holds bytes and looks for the next frame — three plausible frame
 * headers in a row, or a whole HEADERS frame that opens a request or a
 * response — then hands what follows back to the frame parser (http2.c),
 * with the arrival times of the held bytes.
 */
#include <string.h>

#include "proto/http/http2_priv.h"

/*
 * Could these 9 bytes be a frame header? Only the frame types a peer sends
 * (RFC 9113 and the common extensions) with the flags, stream ids and lengths
 * they allow, at most PLAUSIBLE_LEN long.
 */
bool h2_plausible(const uint8_t *p)
{
	uint32_t len = h2_be24(p), sid = h2_be31(p + 5);
	uint8_t type = p[3], fl = p[4];
	if ((p[5] & 0x80) || len > PLAUSIBLE_LEN)
		return false;
	switch (type) {
	case F_DATA:
		return sid && !(fl & ~(FL_END_STREAM | FL_PADDED)) &&
		       len >= (fl & FL_PADDED ? 1u : 0u);
	case F_HEADERS:
		return sid && !(fl & ~(FL_END_STREAM | FL_END_HEADERS | FL_PADDED | FL_PRIORITY)) &&
		       len >= (fl & FL_PADDED ? 1u : 0u) + (fl & FL_PRIORITY ? 5u : 0u);
	case F_PRIORITY: return sid && !fl && len == 5;
	case F_RST_STREAM: return sid && !fl && len == 4;
	case F_SETTINGS: return !sid && !(fl & ~FL_ACK) && (fl & FL_ACK ? len == 0 : len % 6 == 0);
	case F_PUSH_PROMISE:
		return sid && !(fl & ~(FL_END_HEADERS | FL_PADDED)) &&
		       len >= 4 + (fl & FL_PADDED ? 1u : 0u);
	case F_PING: return !sid && !(fl & ~FL_ACK) && len == 8;
	case F_GOAWAY: return !sid && !fl && len >= 8;
	case F_WINDOW_UPDATE: return !fl && len == 4;
	case F_CONTINUATION: return sid && !(fl & ~FL_END_HEADERS);
	case F_ALTSVC: return !fl && len >= 2;
	case F_ORIGIN:
	case F_PRIORITY_UPDATE: return !sid && !fl && len >= (type == F_ORIGIN ? 0u : 4u);
	default: return false;
	}
}

/* A header-block frame (HEADERS, PUSH_PROMISE, CONTINUATION) not ending it. */
bool h2_opens_block(const uint8_t *p)
{
	return (p[3] == F_HEADERS || p[3] == F_PUSH_PROMISE || p[3] == F_CONTINUATION) &&
	       !(p[4] & FL_END_HEADERS);
}

enum chain { CHAIN_NO, CHAIN_MORE, CHAIN_YES };

/* A whole HEADERS frame whose block starts with a pseudo-header field. */
static bool starts_request_or_response(const uint8_t *f)
{
	size_t off, len;
	return f[3] == F_HEADERS &&
	       h2_unpad(f + 9, h2_be24(f), f[4], f[4] & FL_PRIORITY ? 5 : 0, &off, &len) &&
	       h2_hpack_first_role(f + 9 + off, len) != 0;
}

/*
 * Do frames start at p? YES after RESYNC_FRAMES plausible headers in a row
 * (a CONTINUATION only right after an unfinished block of its stream, never
 * first), or fewer after a whole HEADERS frame opening a request or response
 * (so a lone request is not held back until more frames arrive), or when
 * plausible frames end exactly at n and no more bytes will come (`final`: a
 * gap or the end follows).
 */
static enum chain chain_at(const uint8_t *p, size_t n, bool final)
{
	size_t pos = 0;
	unsigned frames = 0;
	bool strong = false;
	const uint8_t *prev = NULL;
	for (;;) {
		if (n - pos < 9) {
			if (pos == n && frames && (final || strong))
				return CHAIN_YES;
			return final ? CHAIN_NO : CHAIN_MORE;
		}
		const uint8_t *f = p + pos;
		if (!h2_plausible(f))
			return CHAIN_NO;
		bool cont = f[3] == F_CONTINUATION;
		if (prev && h2_opens_block(prev) ? !cont || h2_be31(f + 5) != h2_be31(prev + 5)
						 : cont)
			return CHAIN_NO;
		if (++frames == RESYNC_FRAMES || strong)
			return CHAIN_YES;
		prev = f;
		pos += 9 + (size_t)h2_be24(f);
		if (pos > n)
			return final ? CHAIN_NO : CHAIN_MORE;
		strong = starts_request_or_response(f);
	}
}

void h2_resync_reset(struct h2_dir *d)
{
	sonde_buf_free(&d->rs);
	d->nseg = 0;
}

/* Drop the first k held bytes. */
static void resync_drop(struct h2_dir *d, size_t k)
{
	if (!k)
		return;
	memmove(d->rs.p, d->rs.p + k, d->rs.len - k);
	d->rs.len -= k;
	unsigned j = 0;
	for (unsigned i = 0; i < d->nseg; i++) {
		if (d->seg[i].end <= k)
			continue;
		d->seg[j] = d->seg[i];
		d->seg[j].end -= k;
		j++;
	}
	d->nseg = j;
}

/*
 * Look for a frame start in the held bytes. On success the direction parses
 * frames again, from the held bytes on (each with the time it arrived);
 * skipped bytes are counted as unparsed.
 */
void h2_resync_scan(struct h2_conn *h, enum sonde_dir dir, bool final)
{
	struct h2_dir *d = &h->d[dir];
	size_t o = 0;
	enum chain c = CHAIN_NO;
	while (o < d->rs.len && (c = chain_at(d->rs.p + o, d->rs.len - o, final)) == CHAIN_NO)
		o++;
	h->s->stats->unparsed_bytes += o;
	resync_drop(d, o);
	if (c != CHAIN_YES || !d->rs.len)
		return;
	/* found: replay the held bytes through the frame parser */
	struct sonde_buf held = d->rs;
	unsigned nseg = d->nseg;
	struct h2_seg seg[RESYNC_SEGS];
	memcpy(seg, d->seg, sizeof(seg));
	memset(&d->rs, 0, sizeof(d->rs));
	d->nseg = 0;
	d->st = H2_FRAME_HDR;
	d->hlen = 0;
	size_t from = 0;
	for (unsigned i = 0; i < nseg; i++) {
		if (seg[i].end > from)
			h2_data(h, dir, held.p + from, seg[i].end - from, seg[i].ts);
		from = seg[i].end;
	}
	sonde_buf_free(&held);
}

/* Bytes arriving while frame boundaries are unknown. */
void h2_resync_feed(struct h2_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct h2_dir *d = &h->d[dir];
	sonde_buf_append(&d->rs, p, n);
	if (d->nseg == RESYNC_SEGS) {
		d->seg[RESYNC_SEGS - 1].end = d->rs.len; /* merged: first arrival kept */
	} else {
		d->seg[d->nseg].end = d->rs.len;
		d->seg[d->nseg].ts = ts;
		d->nseg++;
	}
	h2_resync_scan(h, dir, false);
}

/*
 * Frame boundaries are lost (a gap across frames, bytes that are no frames):
 * its HPACK state is lost with them, and the direction looks for the next
 * frame. Its messages in flight go on (their streams may still end), with
 * `flags`; after a gap, as nobody knows which streams' frames were lost, each
 * may miss bytes: flagged, its body is kept only up to the gap.
 */
void h2_frames_lost(struct h2_conn *h, enum sonde_dir dir, uint32_t flags)
{
	struct h2_dir *d = &h->d[dir];
	if (d->in_block)
		h->s->stats->unparsed_bytes += d->hb_wire;
	d->in_block = false;
	sonde_buf_free(&d->hb);
	sonde_buf_free(&d->pay);
	d->hlen = 0;
	d->first = false;
	for (size_t i = 0; i < h->nstreams; i++) {
		struct sonde_http_msg *m = h->streams[i].m[dir];
		if (!m)
			continue;
		m->base.flags |= flags;
		if (flags & SONDE_MF_GAP)
			m->body_hole = true;
	}
	h2_lose_hpack(h, dir, false);
	d->st = H2_RESYNC;
	h2_resync_reset(d);
}
