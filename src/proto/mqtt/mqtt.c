/* SPDX-License-Identifier: MIT */
/*
 * MQTT dissector (3.1, 3.1.1 and 5.0).
 *
 * Each direction frames control packets: the fixed header (type, flags,
 * a variable-length remaining length), then the rest, kept up to a bound
 * (--max-header for the variable header plus --body-limit of payload) and
 * counted exactly beyond it. A finished packet is parsed (mqtt_msg.c) and
 * handed to the session by who sent it and what it is:
 *
 *   client CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, PUBLISH QoS 1/2, PUBREL
 *     are requests, answered by the server's CONNACK, SUBACK, UNSUBACK,
 *     PINGRESP, PUBACK/PUBREC, PUBCOMP: paired by key (answered type,
 *     packet id), so QoS 2 gives two records: PUBLISH/PUBREC and
 *     PUBREL/PUBCOMP;
 *   QoS 0 publishes, everything the broker sends unasked (deliveries, their
 *     PUBREL), the client's acks of deliveries, DISCONNECT and AUTH are
 *     one-sided events.
 *
 * The protocol level comes from CONNECT. A connection joined after its
 * CONNECT is parsed as 3.1.1 until a packet's shape proves 5.0: an ack,
 * CONNACK or UNSUBACK longer than 3.1.1 allows (a reason code follows),
 * a DISCONNECT with a body, an AUTH, or a SUBSCRIBE, SUBACK, UNSUBSCRIBE or
 * PUBLISH that is malformed as 3.1.1 but sound as 5.0 (a PUBLISH only when
 * its property block is non-empty and valid: an empty one is a plain 3.1.1
 * payload byte). Such packets say `version_guessed`.
 *
 * A fixed header that cannot be MQTT, or a gap outside a payload, makes the
 * direction look for the next byte where a valid fixed header starts,
 * counting what it skips; eight malformed packets in a row hand the
 * connection back.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/dissector.h"
#include "proto/mqtt/mqtt_msg.h"
#include "proto/session.h"

#define HEAD_KEEP_MIN 256 /* variable header bytes kept even with a tiny --max-header */
#define HANDBACK_ERRORS 8
#define MQTT_DELIVERIES 64 /* broker deliveries in flight remembered (the ids they use) */

enum md_state {
	MD_HEAD, /* reading a fixed header (or looking for one) */
	MD_BODY, /* the bytes after it */
	MD_DONE, /* the direction ended */
};

struct mqtt_dir {
	enum md_state st;
	bool resync; /* MD_HEAD: skipping to the next valid fixed header */
	uint8_t hdr[5];
	size_t hn;
	uint8_t type, flags;
	uint32_t remaining, got; /* declared and seen (or lost) bytes of the body */
	size_t hlen;
	uint8_t *raw;
	uint32_t raw_len, raw_cap, keep;
	bool lost; /* bytes of the body were never seen: keeping stopped */
	uint64_t gap;
	uint64_t ts_first, ts_last;
	uint32_t bad;
};

/* A QoS 1/2 delivery of the broker, until the client's last ack of it. */
struct mqtt_delivery {
	bool live;
	uint16_t id;
	struct sonde_mqtt_ack ack;
};

struct mqtt_conn {
	struct sonde_session *s;
	struct mqtt_dir d[2];
	uint8_t level; /* enum mqtt_level: from CONNECT or a proof of 5.0 */
	bool level_guessed;
	struct mqtt_delivery dl[MQTT_DELIVERIES];
	uint32_t dl_next; /* ring: the oldest is overwritten */
};

extern const struct sonde_dissector sonde_dissector_mqtt;

/* ------------------------------------------------------------- probing --- */

/* CONNECT's protocol name and level, as far as n bytes go: 1 yes, 0 more,
 * -1 no. */
static int probe_connect(const uint8_t *p, size_t n, size_t hlen)
{
	static const uint8_t v311[] = { 0, 4, 'M', 'Q', 'T', 'T' };
	static const uint8_t v31[] = { 0, 6, 'M', 'Q', 'I', 's', 'd', 'p' };
	const uint8_t *b = p + hlen;
	size_t k = n - hlen;
	for (int i = 0; i < 2; i++) {
		const uint8_t *want = i ? v31 : v311;
		size_t wn = i ? sizeof(v31) : sizeof(v311);
		size_t c = k < wn ? k : wn;
		if (memcmp(b, want, c))
			continue;
		if (k <= wn)
			return 0;
		uint8_t level = b[wn];
		return (i ? level == MQTT_LEVEL_31 : level == 4 || level == 5) ? 1 : -1;
	}
	return -1;
}

/* A topic name a publisher could have sent: UTF-8, no wildcards, no NUL. */
static bool topic_plausible(const uint8_t *p, size_t n)
{
	if (!n || n > 1024 || !sonde_utf8_valid(p, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == '+' || p[i] == '#')
			return false;
	return true;
}

static enum sonde_probe side_of(uint8_t type)
{
	switch (type) {
	case MQTT_CONNACK:
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
	case MQTT_PINGRESP: return SONDE_PROBE_SERVER;
	default: return SONDE_PROBE_CLIENT; /* publishes and acks: a guess */
	}
}

/*
 * A CONNECT (or CONNACK), or, mid-connection, bytes that are whole valid
 * packets to their end: two or more, or one PINGREQ/PINGRESP, or a PUBLISH
 * whose topic reads as one (even if its payload goes on). Lone acks and
 * other short packets are too easily random bytes.
 */
static enum sonde_probe mqtt_probe(const uint8_t *p, size_t n)
{
	uint8_t type, flags;
	uint32_t rem;
	size_t hlen, off = 0;
	int packets = 0;
	enum sonde_probe side = SONDE_PROBE_NO;
	while (off < n) {
		int r = mqtt_fixed_header(p + off, n - off, &type, &flags, &rem, &hlen);
		if (r < 0)
			return SONDE_PROBE_NO;
		if (r == 0)
			return packets ? SONDE_PROBE_NO : SONDE_PROBE_MORE;
		if (!packets) {
			side = side_of(type);
			if (type == MQTT_CONNECT) {
				int c = probe_connect(p, n, hlen);
				return c > 0 ? SONDE_PROBE_CLIENT
				       : c   ? SONDE_PROBE_NO
					     : SONDE_PROBE_MORE;
			}
			if (type == MQTT_CONNACK && rem == 2 && n == 4 && p[2] <= 1 && p[3] <= 5)
				return SONDE_PROBE_SERVER;
			if (type == MQTT_PUBLISH && n - hlen >= 2) {
				size_t tl = (size_t)p[hlen] << 8 | p[hlen + 1];
				if (tl + 2 <= rem && hlen + 2 + tl <= n &&
				    topic_plausible(p + hlen + 2, tl))
					return side;
			}
		}
		if (rem > n - off - hlen)
			return packets ? SONDE_PROBE_NO : SONDE_PROBE_MORE;
		off += hlen + rem;
		packets++;
	}
	if (packets >= 2 || type == MQTT_PINGREQ || type == MQTT_PINGRESP)
		return side;
	return SONDE_PROBE_NO;
}

/* --------------------------------------------------------------- levels --- */

static bool parses_as(struct sonde_mqtt_msg *m, uint8_t level)
{
	bool ok = sonde_mqtt_parse(m, level);
	if (ok && m->type == MQTT_PUBLISH && level == MQTT_LEVEL_5)
		ok = m->props.len > 0;
	return ok;
}

/* Does this packet's shape prove 5.0 (see the top of the file)? */
static bool proves_v5(struct sonde_mqtt_msg *m)
{
	switch (m->type) {
	case MQTT_AUTH: return true;
	case MQTT_DISCONNECT: return m->remaining > 0;
	case MQTT_CONNACK:
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK: return m->remaining > 2;
	case MQTT_SUBSCRIBE:
	case MQTT_SUBACK:
	case MQTT_UNSUBSCRIBE: return !parses_as(m, MQTT_LEVEL_311) && parses_as(m, MQTT_LEVEL_5);
	case MQTT_PUBLISH: return parses_as(m, MQTT_LEVEL_5); /* any 3.1.1 payload parses */
	default: return false;
	}
}

/* Parse m at the connection's level, learning it from CONNECT or guessing. */
static bool parse_at_level(struct mqtt_conn *rc, struct sonde_mqtt_msg *m)
{
	if (m->type == MQTT_CONNECT) {
		bool ok = sonde_mqtt_parse(m, MQTT_LEVEL_UNKNOWN);
		rc->level = m->level;
		rc->level_guessed = false;
		return ok;
	}
	if (!rc->level && proves_v5(m)) {
		rc->level = MQTT_LEVEL_5;
		rc->level_guessed = true;
	}
	m->level_guessed = rc->level_guessed || !rc->level;
	return sonde_mqtt_parse(m, rc->level ? rc->level : MQTT_LEVEL_311);
}

static const char *version_label(uint8_t level)
{
	switch (level) {
	case MQTT_LEVEL_31: return "MQTT/3.1";
	case MQTT_LEVEL_5: return "MQTT/5.0";
	default: return "MQTT/3.1.1";
	}
}

/* -------------------------------------------------------------- routing --- */

static uint64_t key(uint8_t answered_type, uint16_t id)
{
	return (uint64_t)answered_type << 16 | id;
}

/* --------------------------------------------------------- deliveries --- */

static struct mqtt_delivery *delivery(struct mqtt_conn *rc, uint16_t id)
{
	for (size_t i = 0; i < MQTT_DELIVERIES; i++)
		if (rc->dl[i].live && rc->dl[i].id == id)
			return &rc->dl[i];
	return NULL;
}

/*
 * The broker's QoS 1/2 deliveries are events, and so are the acks of their
 * flow (the client's PUBACK, PUBREC, PUBCOMP, the broker's PUBREL): each
 * ack names the delivery of its packet id (topic, QoS) while the flow is
 * open, or says it is unknown (sent before sonde, or forgotten).
 */
static void delivery_flow(struct mqtt_conn *rc, enum sonde_dir dir, struct sonde_mqtt_msg *m)
{
	uint8_t t = m->type;
	bool ack = (dir == SONDE_DIR_C2S &&
		    (t == MQTT_PUBACK || t == MQTT_PUBREC || t == MQTT_PUBCOMP)) ||
		   (dir == SONDE_DIR_S2C && t == MQTT_PUBREL);
	if (dir == SONDE_DIR_S2C && t == MQTT_PUBLISH && m->has_id && m->topic.set && !m->why) {
		struct mqtt_delivery *d = delivery(rc, m->packet_id);
		if (!d)
			d = &rc->dl[rc->dl_next++ % MQTT_DELIVERIES];
		d->live = true;
		d->id = m->packet_id;
		d->ack.qos = sonde_mqtt_qos(m);
		d->ack.topic_len =
			(uint8_t)(m->topic.len < MQTT_TOPIC_KEEP ? m->topic.len : MQTT_TOPIC_KEEP);
		memcpy(d->ack.topic, m->raw + m->topic.off, d->ack.topic_len);
	}
	if (!ack || !m->has_id)
		return;
	struct mqtt_delivery *d = delivery(rc, m->packet_id);
	m->ack_state = d ? MQTT_ACK_MATCHED : MQTT_ACK_UNKNOWN;
	if (!d)
		return;
	m->ack = d->ack;
	if (t == MQTT_PUBACK || t == MQTT_PUBCOMP) /* the flow's last packet */
		d->live = false;
}

/* Hand a finished message to the session by who sent it (top of file). */
static void route(struct mqtt_conn *rc, enum sonde_dir dir, struct sonde_mqtt_msg *m)
{
	uint16_t id = m->packet_id;
	bool req = false, resp = false;
	uint8_t t = m->type;
	delivery_flow(rc, dir, m);
	if (dir == SONDE_DIR_C2S) {
		req = t == MQTT_CONNECT || t == MQTT_SUBSCRIBE || t == MQTT_UNSUBSCRIBE ||
		      t == MQTT_PINGREQ || t == MQTT_PUBREL || (t == MQTT_PUBLISH && m->has_id);
		m->base.pair_key = key(t, req && m->has_id ? id : 0);
	} else {
		static const uint8_t answers[16] = {
			[MQTT_CONNACK] = MQTT_CONNECT,  [MQTT_PUBACK] = MQTT_PUBLISH,
			[MQTT_PUBREC] = MQTT_PUBLISH,   [MQTT_PUBCOMP] = MQTT_PUBREL,
			[MQTT_SUBACK] = MQTT_SUBSCRIBE, [MQTT_UNSUBACK] = MQTT_UNSUBSCRIBE,
			[MQTT_PINGRESP] = MQTT_PINGREQ,
		};
		resp = answers[t] != 0;
		m->base.pair_key = key(answers[t], m->has_id ? id : 0);
	}
	if (req)
		sonde_session_request(rc->s, &m->base);
	else if (resp)
		sonde_session_response(rc->s, &m->base);
	else
		sonde_session_event(rc->s, &m->base);
}

/* -------------------------------------------------------------- framing --- */

static void reset_packet(struct mqtt_dir *d)
{
	d->st = MD_HEAD;
	d->hn = 0;
	d->raw = NULL;
	d->raw_len = d->raw_cap = 0;
	d->got = 0;
	d->gap = 0;
	d->lost = false;
}

static void finish(struct mqtt_conn *rc, enum sonde_dir dir, uint32_t flags)
{
	struct mqtt_dir *d = &rc->d[dir];
	struct sonde_mqtt_msg *m =
		sonde_mqtt_msg_new(d->type, d->flags, d->remaining, d->raw, d->raw_len);
	m->base.kind = dir == SONDE_DIR_C2S ? SONDE_MSG_REQUEST : SONDE_MSG_RESPONSE;
	m->payload_limit = rc->s->opts->body_limit;
	bool cut = d->raw_len < d->remaining;
	bool ok = parse_at_level(rc, m);
	m->base.version = version_label(m->level);
	m->base.ts_first = d->ts_first;
	m->base.ts_last = d->ts_last;
	m->base.wire_bytes = d->hlen + d->got;
	m->base.captured_bytes = d->hlen + d->got - d->gap;
	m->base.flags = flags | (d->gap ? SONDE_MF_GAP : 0) | (ok ? 0 : SONDE_MF_PARSE_ERROR);
	if (cut && !d->lost) {
		m->base.flags |= SONDE_MF_TRUNCATED;
		rc->s->stats->bodies_truncated++;
	} else if (m->payload.set && m->payload.len > m->payload_limit) {
		m->base.flags |= SONDE_MF_TRUNCATED;
		rc->s->stats->bodies_truncated++;
	}
	if (!ok) {
		rc->s->stats->parse_errors++;
		d->bad++;
	} else {
		d->bad = 0;
	}
	reset_packet(d);
	route(rc, dir, m);
	if (d->bad >= HANDBACK_ERRORS)
		rc->s->switch_to = "unparsed";
}

/* The keep bound of a packet whose fixed header was just read. */
static void start_body(struct mqtt_conn *rc, struct mqtt_dir *d)
{
	size_t lim = rc->s->opts->max_head > HEAD_KEEP_MIN ? rc->s->opts->max_head : HEAD_KEEP_MIN;
	uint64_t keep = (uint64_t)lim + rc->s->opts->body_limit;
	d->keep = d->remaining < keep ? d->remaining : (uint32_t)keep;
	d->resync = false;
	d->st = MD_BODY;
}

/* Fixed-header bytes, one at a time (so a split never changes where a
 * resynchronisation lands); returns bytes used. */
static size_t head(struct mqtt_conn *rc, struct mqtt_dir *d, const uint8_t *p, size_t n,
		   uint64_t ts)
{
	size_t used = 0;
	while (used < n) {
		if (!d->hn)
			d->ts_first = ts;
		d->hdr[d->hn++] = p[used++];
		for (;;) {
			int r = mqtt_fixed_header(d->hdr, d->hn, &d->type, &d->flags, &d->remaining,
						  &d->hlen);
			if (r > 0) {
				start_body(rc, d);
				return used;
			}
			if (r == 0)
				break;
			/* not a fixed header: drop its first byte, look again */
			if (!d->resync) {
				rc->s->stats->parse_errors++;
				if (++d->bad >= HANDBACK_ERRORS) {
					rc->s->switch_to = "unparsed";
					return used;
				}
			}
			d->resync = true;
			rc->s->stats->unparsed_bytes++;
			memmove(d->hdr, d->hdr + 1, --d->hn);
			if (!d->hn)
				break;
		}
	}
	return used;
}

/* Body bytes; returns bytes used. */
static size_t body(struct mqtt_dir *d, const uint8_t *p, size_t n)
{
	uint32_t left = d->remaining - d->got;
	size_t take = n < left ? n : left;
	if (!d->lost && d->raw_len < d->keep) {
		size_t k = take < d->keep - d->raw_len ? take : d->keep - d->raw_len;
		if (d->raw_len + k > d->raw_cap) {
			uint32_t cap = d->raw_cap ? d->raw_cap : 256;
			while (cap < d->raw_len + k)
				cap *= 2;
			d->raw_cap = cap < d->keep ? cap : d->keep;
			d->raw = sonde_xrealloc(d->raw, d->raw_cap);
		}
		memcpy(d->raw + d->raw_len, p, k);
		d->raw_len += (uint32_t)k;
	}
	d->got += (uint32_t)take;
	return take;
}

static size_t mqtt_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct mqtt_conn *rc = state;
	struct mqtt_dir *d = &rc->d[dir];
	size_t off = 0;
	while (off < n && !rc->s->switch_to) {
		if (d->st == MD_DONE) {
			rc->s->stats->unparsed_bytes += n - off;
			return n;
		}
		if (d->st == MD_HEAD)
			off += head(rc, d, p + off, n - off, ts);
		else
			off += body(d, p + off, n - off);
		d->ts_last = ts;
		if (d->st == MD_BODY && d->got == d->remaining)
			finish(rc, dir, 0);
	}
	return rc->s->switch_to ? off : n;
}

static void mqtt_gap(void *state, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	struct mqtt_conn *rc = state;
	struct mqtt_dir *d = &rc->d[dir];
	d->ts_last = ts;
	if (d->st == MD_DONE)
		return;
	if (d->st == MD_BODY) {
		uint32_t left = d->remaining - d->got;
		uint64_t lost = n < left ? n : left;
		d->got += (uint32_t)lost;
		d->gap += lost;
		d->lost = true;
		if (n < left)
			return; /* the packet goes on after the hole */
		finish(rc, dir, SONDE_MF_INCOMPLETE);
	}
	rc->s->stats->unparsed_bytes += d->hn;
	d->hn = 0;
	d->resync = true; /* what follows the hole may start anywhere */
}

static void mqtt_end(void *state, enum sonde_dir dir, uint64_t ts)
{
	struct mqtt_conn *rc = state;
	struct mqtt_dir *d = &rc->d[dir];
	if (d->st == MD_BODY) {
		d->ts_last = ts;
		finish(rc, dir, SONDE_MF_INCOMPLETE);
	} else if (d->st == MD_HEAD && d->hn) {
		rc->s->stats->unparsed_bytes += d->hn;
	}
	d->st = MD_DONE;
}

static void *mqtt_open(struct sonde_session *s)
{
	struct mqtt_conn *rc = sonde_xcalloc(1, sizeof(*rc));
	rc->s = s;
	sonde_session_start(s, &sonde_dissector_mqtt);
	return rc;
}

static void mqtt_close(void *state, uint64_t ts)
{
	struct mqtt_conn *rc = state;
	for (int dir = 0; dir < 2; dir++) {
		mqtt_end(rc, (enum sonde_dir)dir, ts);
		free(rc->d[dir].raw);
	}
	sonde_session_flush(rc->s);
	free(rc);
}

const struct sonde_dissector sonde_dissector_mqtt = {
	.name = "mqtt",
	.pairing = SONDE_PAIR_BY_KEY,
	.probe = mqtt_probe,
	.open = mqtt_open,
	.data = mqtt_data,
	.gap = mqtt_gap,
	.end = mqtt_end,
	.close = mqtt_close,
};
