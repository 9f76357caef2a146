/* SPDX-License-Identifier: MIT */
/*
 * What the HTTP/2 dissector's files share: frame and stream state, and the
 * calls between the frame parser (http2.c) and the search for frame
 * boundaries after a loss (http2_resync.c). Not for other modules.
 */
#ifndef SONDE_HTTP2_PRIV_H
#define SONDE_HTTP2_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "core/buf.h"
#include "proto/dissector.h"
#include "proto/content/content.h"
#include "proto/content/protodesc.h"
#include "proto/http/http2_hpack.h"
#include "proto/http/http_msg.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define MAX_HEADERS 128 /* kept per header block; more are counted */
#define MAX_HEADER_BLOCK (1u << 20) /* reassembled header block */
#define MAX_FRAME_BUF (1u << 20) /* buffered non-DATA payload */
#define MAX_STREAMS 1024 /* open streams tracked per connection */
#define PLAUSIBLE_LEN 16384 /* largest frame taken for one while resynchronising */
#define RESYNC_FRAMES 3 /* plausible frame headers in a row that end a search */
#define RESYNC_SEGS 16 /* arrival times kept for bytes held while searching */

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
	F_ALTSVC = 0xa, /* RFC 7838 */
	F_ORIGIN = 0xc, /* RFC 8336 */
	F_PRIORITY_UPDATE = 0x10, /* RFC 9218 */
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
	H2_RESYNC, /* frame boundaries unknown: looking for the next frame */
	H2_DONE,
};

struct h2_stream {
	uint32_t id;
	struct sonde_http_msg *m[2]; /* message being received per direction */
	bool done[2]; /* that direction's message was finished */
	bool req_seen; /* a request started on it while we watched */
	/* content claimed by either side's headers (gRPC), or by the request */
	const struct sonde_content_dissector *head_cd, *asked_cd;
	const struct sonde_pd_msg *pb_in, *pb_out; /* the method's types (--proto-descriptor) */
};

/* Held bytes up to `end` arrived at `ts`. */
struct h2_seg {
	size_t end;
	uint64_t ts;
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
	bool pay_lost; /* part of the payload was lost in a gap */
	uint32_t plost; /* how much */
	struct sonde_buf pay;
	uint64_t frame_ts;
	/* header block being reassembled */
	bool in_block;
	struct sonde_buf hb;
	uint32_t hb_sid, hb_promised;
	uint8_t hb_type;
	bool hb_end_stream;
	uint64_t hb_wire, hb_ts;
	/* HPACK: the exact inflater from the direction's start, or (inf NULL)
	 * the recovering decoder */
	nghttp2_hd_inflater *inf;
	struct h2_hpack hp;
	bool recovering; /* began mid-stream or lost its HPACK state once */
	uint32_t table_max; /* the table bound the peer's SETTINGS allowed */
	bool table_max_known; /* no SETTINGS can have been missed */
	uint32_t max_sid; /* highest stream a request started on (client side) */
	/* H2_RESYNC: bytes from the first candidate frame start on */
	struct sonde_buf rs;
	struct h2_seg seg[RESYNC_SEGS];
	unsigned nseg;
};

struct h2_conn {
	struct sonde_session *s;
	struct h2_dir d[2];
	struct h2_stream *streams;
	size_t nstreams, cap;
	uint64_t streams_skipped;
};

static inline uint32_t h2_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t h2_be31(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) &
	       0x7fffffffu;
}

/* Remove padding (and the HEADERS priority fields): false if malformed. */
static inline bool h2_unpad(const uint8_t *p, size_t n, uint8_t flags, size_t extra, size_t *off,
			    size_t *len)
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

bool h2_plausible(const uint8_t *p);
bool h2_opens_block(const uint8_t *p);
void h2_resync_reset(struct h2_dir *d);
void h2_resync_scan(struct h2_conn *h, enum sonde_dir dir, bool final);
void h2_resync_feed(struct h2_conn *h, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts);
void h2_frames_lost(struct h2_conn *h, enum sonde_dir dir, uint32_t flags);
void h2_lose_hpack(struct h2_conn *h, enum sonde_dir dir, bool bound_known);
size_t h2_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts);

#endif
