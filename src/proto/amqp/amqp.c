/* SPDX-License-Identifier: MIT */
/*
 * AMQP 0-9-1 dissector: framing.
 *
 * Each direction reads the protocol header (when the stream starts with
 * one), then frames: a 7-byte header (type, channel, size), the payload,
 * the frame-end octet 0xCE. Method and content header payloads are kept up
 * to --max-header and counted beyond; body payloads stream into the message
 * waiting for them on their channel (amqp_chan.c), kept to --body-limit,
 * so a message larger than the frame size is one message whatever the
 * number of body frames. Nothing is sized from a declared length.
 *
 * A frame that cannot be AMQP (a type, size or frame-end that is wrong), a
 * gap outside a body payload, or a direction joined mid-stream makes the
 * direction look for the next frame start (amqp_frame_start: a method frame
 * of a known class and method, a content header, a heartbeat) byte by byte,
 * counting what it skips; eight malformed frames in a row hand the
 * connection back.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/amqp/amqp_priv.h"
#include "proto/amqp/amqp_wire.h"
#include "proto/session.h"

#define KEEP_MIN 256 /* payload bytes kept even with a tiny --max-header */
#define HANDBACK_ERRORS 8

extern const struct sonde_dissector sonde_dissector_amqp;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void bad_frame(struct amqp_conn *ac, struct amqp_dir *d)
{
	ac->s->stats->parse_errors++;
	d->st = AD_RESYNC;
	d->hn = 0;
	if (++d->bad >= HANDBACK_ERRORS)
		ac->s->switch_to = "unparsed";
}

/* The frame header is complete: check it, get ready for its payload. */
static void frame_header(struct amqp_conn *ac, struct amqp_dir *d)
{
	d->type = d->hdr[0];
	d->channel = (uint16_t)(d->hdr[1] << 8 | d->hdr[2]);
	d->size = be32(d->hdr + 3);
	bool type_ok = (d->type >= AMQP_FRAME_METHOD && d->type <= AMQP_FRAME_BODY) ||
		       d->type == AMQP_FRAME_HEARTBEAT;
	if (!type_ok || d->size > AMQP_MAX_FRAME) {
		ac->s->stats->unparsed_bytes += 7;
		bad_frame(ac, d);
		return;
	}
	size_t lim = ac->s->opts->max_head > KEEP_MIN ? ac->s->opts->max_head : KEEP_MIN;
	d->keep = d->type == AMQP_FRAME_BODY ? 0 : d->size < lim ? d->size : (uint32_t)lim;
	d->got = d->buf_len = d->lost_bytes = 0;
	d->lost = false;
	d->st = d->size ? AD_PAYLOAD : AD_END;
}

/* The frame ended (its frame-end octet read, good or not). */
static void frame_done(struct amqp_conn *ac, enum sonde_dir dir, bool end_ok)
{
	struct amqp_dir *d = &ac->d[dir];
	uint32_t flags = d->lost ? SONDE_MF_GAP : 0;
	if (!end_ok) { /* a body's bytes went to its message already */
		if (d->type == AMQP_FRAME_BODY)
			amqp_on_body_end(ac, dir, d->channel, false);
		ac->s->stats->unparsed_bytes += d->type == AMQP_FRAME_BODY ? 1 : d->size + 8ull;
		free(d->buf);
		d->buf = NULL;
		bad_frame(ac, d);
		return;
	}
	d->bad = 0;
	d->st = AD_HEAD;
	d->hn = 0;
	switch (d->type) {
	case AMQP_FRAME_METHOD:
		amqp_on_method(ac, dir, d->channel, d->buf, d->buf_len, d->size, d->size + 8ull,
			       d->size + 8ull - d->lost_bytes, flags);
		break;
	case AMQP_FRAME_HEADER:
		if (!d->lost)
			amqp_on_header(ac, dir, d->channel, d->buf, d->buf_len, d->size);
		else
			ac->s->stats->unparsed_bytes += d->size + 8ull;
		break;
	case AMQP_FRAME_HEARTBEAT: amqp_on_heartbeat(ac, dir, d->channel); break;
	default: amqp_on_body_end(ac, dir, d->channel, true); break; /* bodies went as they came */
	}
	free(d->buf);
	d->buf = NULL;
}

static size_t payload(struct amqp_conn *ac, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	struct amqp_dir *d = &ac->d[dir];
	uint32_t left = d->size - d->got;
	size_t take = n < left ? n : left;
	if (d->type == AMQP_FRAME_BODY) {
		amqp_on_body(ac, dir, d->channel, p, take, 0, d->got == 0);
	} else if (d->buf_len < d->keep) {
		if (!d->buf)
			d->buf = sonde_xmalloc(d->keep);
		size_t k = take < d->keep - d->buf_len ? take : d->keep - d->buf_len;
		memcpy(d->buf + d->buf_len, p, k);
		d->buf_len += (uint32_t)k;
	}
	d->got += (uint32_t)take;
	if (d->got == d->size)
		d->st = AD_END;
	return take;
}

/* A frame that ends early (a hole, the stream's end): a method goes with
 * what was kept of it, flagged; a content header is lost (counted). */
static void cut_frame(struct amqp_conn *ac, enum sonde_dir dir, uint32_t flags)
{
	struct amqp_dir *d = &ac->d[dir];
	uint64_t wire = 7ull + d->got; /* the frame-end was never seen */
	if (d->type == AMQP_FRAME_METHOD)
		amqp_on_method(ac, dir, d->channel, d->buf, d->buf_len, d->size, wire,
			       wire - d->lost_bytes, flags);
	else if (d->type == AMQP_FRAME_HEADER)
		ac->s->stats->unparsed_bytes += wire - d->lost_bytes;
	else
		amqp_on_body_end(ac, dir, d->channel, false);
}

/* One step of the direction's state machine; returns the bytes used. */
static size_t step(struct amqp_conn *ac, enum sonde_dir dir, const uint8_t *p, size_t n,
		   uint64_t ts);

/* Byte by byte through a window of the bytes a frame starts with; once
 * they look like one, they are framed as one. */
static size_t resync(struct amqp_conn *ac, enum sonde_dir dir, const uint8_t *p, size_t n,
		     uint64_t ts)
{
	struct amqp_dir *d = &ac->d[dir];
	size_t used = 0;
	while (used < n && d->st == AD_RESYNC) {
		d->hdr[d->hn++] = p[used++];
		int r = 0;
		while (d->hn && (r = amqp_frame_start(d->hdr, d->hn)) < 0) {
			ac->s->stats->unparsed_bytes++;
			memmove(d->hdr, d->hdr + 1, --d->hn);
			d->skipped++;
		}
		if (d->skipped > AMQP_RESYNC_GIVE_UP) { /* not AMQP, or never again */
			ac->s->switch_to = "unparsed";
			break;
		}
		if (d->hn && r > 0) {
			d->skipped = 0;
			uint8_t win[AMQP_WINDOW + 1];
			size_t wn = d->hn, off = 0;
			memcpy(win, d->hdr, wn);
			d->st = AD_HEAD;
			d->hn = 0;
			while (off < wn && !ac->s->switch_to)
				off += step(ac, dir, win + off, wn - off, ts);
		}
	}
	return used;
}

static size_t step(struct amqp_conn *ac, enum sonde_dir dir, const uint8_t *p, size_t n,
		   uint64_t ts)
{
	struct amqp_dir *d = &ac->d[dir];
	size_t k;
	switch (d->st) {
	case AD_START: d->st = p[0] == 'A' ? AD_PROTO : AD_HEAD; return 0;
	case AD_PROTO:
		k = 8 - d->hn < n ? 8 - d->hn : n;
		memcpy(d->hdr + d->hn, p, k);
		d->hn += k;
		if (d->hn == 8) {
			amqp_on_protocol_header(ac, dir, d->hdr);
			d->hn = 0;
			d->st = AD_HEAD;
		}
		return k;
	case AD_HEAD:
		if (!d->hn)
			d->ts_first = ts;
		k = 7 - d->hn < n ? 7 - d->hn : n;
		memcpy(d->hdr + d->hn, p, k);
		d->hn += k;
		if (d->hn == 7)
			frame_header(ac, d);
		return k;
	case AD_PAYLOAD: return payload(ac, dir, p, n);
	case AD_END: frame_done(ac, dir, p[0] == AMQP_FRAME_END); return 1;
	case AD_RESYNC: return resync(ac, dir, p, n, ts);
	default: ac->s->stats->unparsed_bytes += n; return n;
	}
}

static size_t amqp_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct amqp_conn *ac = state;
	size_t off = 0;
	while (off < n && !ac->s->switch_to) {
		if (ac->d[dir].st == AD_START)
			ac->d[dir].ts_first = ts;
		ac->d[dir].ts_last = ts;
		off += step(ac, dir, p + off, n - off, ts);
	}
	return ac->s->switch_to ? off : n;
}

static void amqp_gap(void *state, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	struct amqp_conn *ac = state;
	struct amqp_dir *d = &ac->d[dir];
	d->ts_last = ts;
	if (d->st == AD_DONE)
		return;
	if (d->st == AD_PAYLOAD) {
		uint32_t left = d->size - d->got;
		uint64_t lost = n < left ? n : left;
		if (d->type == AMQP_FRAME_BODY)
			amqp_on_body(ac, dir, d->channel, NULL, 0, lost, d->got == 0);
		d->got += (uint32_t)lost;
		d->lost_bytes += (uint32_t)lost;
		d->lost = true;
		if (n < left)
			return; /* the frame goes on after the hole */
	}
	if (d->st == AD_PAYLOAD || d->st == AD_END)
		cut_frame(ac, dir, SONDE_MF_GAP | SONDE_MF_INCOMPLETE);
	else if (d->st != AD_START)
		ac->s->stats->unparsed_bytes += d->hn; /* a frame header, protocol header, window */
	free(d->buf);
	d->buf = NULL;
	d->hn = 0;
	d->st = AD_RESYNC;
}

static void amqp_end(void *state, enum sonde_dir dir, uint64_t ts)
{
	struct amqp_conn *ac = state;
	struct amqp_dir *d = &ac->d[dir];
	d->ts_last = ts;
	if (d->st == AD_PAYLOAD || d->st == AD_END)
		cut_frame(ac, dir, SONDE_MF_INCOMPLETE);
	else if (d->st == AD_HEAD || d->st == AD_PROTO || d->st == AD_RESYNC)
		ac->s->stats->unparsed_bytes += d->hn;
	free(d->buf);
	d->buf = NULL;
	d->hn = 0;
	d->st = AD_DONE;
}

static void *amqp_open(struct sonde_session *s)
{
	struct amqp_conn *ac = sonde_xcalloc(1, sizeof(*ac));
	ac->s = s;
	sonde_session_start(s, &sonde_dissector_amqp);
	for (int dir = 0; dir < 2; dir++) /* joined mid-stream: at the next frame start */
		ac->d[dir].st = s->midstream[dir] ? AD_RESYNC : AD_START;
	return ac;
}

static void amqp_close(void *state, uint64_t ts)
{
	struct amqp_conn *ac = state;
	for (int dir = 0; dir < 2; dir++)
		amqp_end(ac, (enum sonde_dir)dir, ts);
	amqp_chan_close_all(ac);
	sonde_session_flush(ac->s);
	free(ac->dl);
	free(ac);
}

const struct sonde_dissector sonde_dissector_amqp = {
	.name = "amqp",
	.pairing = SONDE_PAIR_BY_KEY,
	.probe = amqp_probe,
	.open = amqp_open,
	.data = amqp_data,
	.gap = amqp_gap,
	.end = amqp_end,
	.close = amqp_close,
};
