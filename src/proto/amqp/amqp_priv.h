/* SPDX-License-Identifier: MIT */
/*
 * What the AMQP dissector's files share: the connection's state (framing
 * per direction, channels, deliveries), and the functions between them.
 * amqp.c frames; amqp_chan.c keeps channels, content and acks and hands
 * finished messages to the session; amqp_probe.c recognises frames.
 */
#ifndef SONDE_AMQP_PRIV_H
#define SONDE_AMQP_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/amqp/amqp_msg.h"
#include "proto/dissector.h"

#define AMQP_CHANNELS 64 /* channels with state kept at once */
#define AMQP_DELIVERIES 1024 /* unacknowledged deliveries remembered, per connection */
#define AMQP_MAX_FRAME (16u << 20) /* larger declared frames are not AMQP */
#define AMQP_WINDOW 11 /* bytes a resynchronisation judges a frame start by */
#define AMQP_RESYNC_GIVE_UP (1u << 20) /* bytes skipped in a row before handing back */

enum ad_state {
	AD_START, /* a protocol header may come first */
	AD_PROTO, /* reading the protocol header */
	AD_HEAD, /* reading a frame header (7 bytes) */
	AD_PAYLOAD,
	AD_END, /* the frame-end octet */
	AD_RESYNC, /* looking for a frame start */
	AD_DONE,
};

struct amqp_dir {
	enum ad_state st;
	uint8_t hdr[AMQP_WINDOW + 1];
	size_t hn;
	uint8_t type;
	uint16_t channel;
	uint32_t size, got; /* the frame's payload: declared and seen (or lost) */
	uint8_t *buf; /* method and header payloads, kept up to keep */
	uint32_t buf_len, keep;
	bool lost; /* payload bytes never seen */
	uint32_t lost_bytes;
	uint64_t ts_first, ts_last;
	uint32_t bad; /* malformed frames in a row */
	uint64_t skipped; /* bytes skipped since the last frame start */
};

/* A channel's state, per connection. */
struct amqp_chan {
	bool used;
	uint16_t id;
	bool confirming; /* confirm.select sent: the server acks publishes */
	uint64_t next_seq;
	/* per sender: the highest tag of a delivery pushed out of the ring
	 * before its ack came (an ack of it is "forgotten", not unknown) */
	uint64_t forgot_upto[2];
	struct sonde_amqp_msg *content[2]; /* per sender: a method waiting for its content */
};

struct amqp_delivery {
	bool live;
	uint8_t by; /* who sent it (enum sonde_dir): the other side acks it */
	uint16_t channel;
	struct amqp_ack_ref ref;
};

struct amqp_conn {
	struct sonde_session *s;
	struct amqp_dir d[2];
	struct amqp_chan ch[AMQP_CHANNELS];
	struct amqp_delivery *dl; /* AMQP_DELIVERIES, allocated at the first delivery */
	uint32_t dl_next; /* ring: the oldest is overwritten */
};

/* amqp_chan.c */
/* A method frame's payload (args owned by the callee afterwards). */
/* A method frame: len of its size payload bytes kept; wire and captured:
 * the bytes of the frame on the wire (as far as it went) and seen. */
void amqp_on_method(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel, uint8_t *payload,
		    uint32_t len, uint32_t size, uint64_t wire, uint64_t captured, uint32_t flags);
void amqp_on_header(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel,
		    const uint8_t *payload, uint32_t len, uint32_t size);
/* Body bytes of a body frame (n == 0 with lost > 0: a hole in it). */
void amqp_on_body(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel, const uint8_t *p,
		  size_t n, uint64_t lost, bool frame_start);
/* A body frame ended (end_seen: its frame-end octet was read): the message
 * is complete when its bodies are. */
void amqp_on_body_end(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel, bool end_seen);
void amqp_on_heartbeat(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel);
void amqp_on_protocol_header(struct amqp_conn *ac, enum sonde_dir dir, const uint8_t *hdr);
/* The connection is gone: write what waits for content, as incomplete. */
void amqp_chan_close_all(struct amqp_conn *ac);

/* amqp_probe.c */
/* Could a frame start at p (AMQP_WINDOW bytes or fewer)? 1 yes, 0 more, -1 no. */
int amqp_frame_start(const uint8_t *p, size_t n);
enum sonde_probe amqp_probe(const uint8_t *p, size_t n);

#endif
