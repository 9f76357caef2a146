/* SPDX-License-Identifier: MIT */
/*
 * AMQP channels: a content-bearing method waits on its channel for its
 * content header and bodies (per sender, as 0-9-1 forbids interleaving
 * content frames within a channel); deliveries and confirmed publishes are
 * remembered until an ack names them; finished messages go to the session.
 *
 * Pairing is by key (sender of the asking method, channel, class, method
 * asked): a synchronous method that expects an answer is a request (unless
 * it said no-wait), the -ok that answers it a response, whichever side sent
 * them (connection.start asks from the server, channel.close from either).
 * Everything else (publish, deliver, return, ack, nack, reject, heartbeats,
 * the protocol header) is a one-sided event.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/amqp/amqp_priv.h"
#include "proto/amqp/amqp_wire.h"
#include "proto/session.h"

enum {
	CLASS_CHANNEL = 20,
	CLASS_BASIC = 60,
	CLASS_CONFIRM = 85,
	BASIC_PUBLISH = 40,
	BASIC_DELIVER = 60,
	BASIC_GET_OK = 71,
	BASIC_ACK = 80,
	BASIC_REJECT = 90,
	BASIC_NACK = 120,
};

static struct amqp_chan *chan(struct amqp_conn *ac, uint16_t id, bool create)
{
	struct amqp_chan *free_slot = NULL;
	for (size_t i = 0; i < AMQP_CHANNELS; i++) {
		struct amqp_chan *c = &ac->ch[i];
		if (c->used && c->id == id)
			return c;
		if (!c->used && !free_slot)
			free_slot = c;
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->id = id;
	return free_slot;
}

/* ------------------------------------------------------------- routing --- */

/* Asked not to answer: "no-wait", or confirm.select's "nowait" (as RabbitMQ
 * spelled it). */
static bool no_wait(const struct sonde_amqp_msg *m)
{
	uint64_t x;
	return (amqp_arg_u64(m->m, m->args, m->args_len, "no_wait", &x) ||
		amqp_arg_u64(m->m, m->args, m->args_len, "nowait", &x)) &&
	       x;
}

static void route(struct amqp_conn *ac, struct sonde_amqp_msg *m)
{
	const struct amqp_method *me = m->m;
	struct amqp_dir *d = &ac->d[m->sender];
	m->base.ts_last = d->ts_last;
	if (m->why) {
		m->base.flags |= SONDE_MF_PARSE_ERROR;
		ac->s->stats->parse_errors++;
	}
	if (m->body_len < m->body_size) {
		m->base.flags |= SONDE_MF_TRUNCATED;
		ac->s->stats->bodies_truncated++;
	}
	uint64_t key = (uint64_t)m->channel << 32 | (uint64_t)m->class_id << 16;
	if (me && me->flags & AMQP_M_ASKS && !no_wait(m)) {
		m->base.kind = SONDE_MSG_REQUEST;
		m->base.pair_key = (uint64_t)m->sender << 48 | key | m->method_id;
		sonde_session_request(ac->s, &m->base);
	} else if (me && me->answers) {
		m->base.kind = SONDE_MSG_RESPONSE;
		m->base.pair_key = (uint64_t)(m->sender ^ 1) << 48 | key | me->answers;
		sonde_session_response(ac->s, &m->base);
	} else {
		m->base.kind = m->sender == SONDE_DIR_C2S ? SONDE_MSG_REQUEST : SONDE_MSG_RESPONSE;
		sonde_session_event(ac->s, &m->base);
	}
}

static void new_times(struct amqp_conn *ac, struct sonde_amqp_msg *m, uint32_t frame_size)
{
	m->base.ts_first = ac->d[m->sender].ts_first;
	m->base.wire_bytes = frame_size + 8ull;
	m->base.captured_bytes = m->base.wire_bytes;
}

/* A method still waiting for content: written as it is, incomplete. */
static void flush_content(struct amqp_conn *ac, struct amqp_chan *c, int dir)
{
	struct sonde_amqp_msg *m = c->content[dir];
	if (!m)
		return;
	c->content[dir] = NULL;
	m->base.flags |= SONDE_MF_INCOMPLETE;
	route(ac, m);
}

static void reset_chan(struct amqp_conn *ac, struct amqp_chan *c)
{
	for (int dir = 0; dir < 2; dir++)
		flush_content(ac, c, dir);
	for (size_t i = 0; ac->dl && i < AMQP_DELIVERIES; i++)
		if (ac->dl[i].channel == c->id)
			ac->dl[i].live = false;
	c->confirming = false;
	c->next_seq = 0;
}

/* ---------------------------------------------------------- deliveries --- */

static void copy_name(char *dst, uint8_t *dlen, const struct sonde_amqp_msg *m, const char *name)
{
	const uint8_t *s;
	uint32_t n;
	*dlen = 0;
	if (!amqp_arg_str(m->m, m->args, m->args_len, name, &s, &n))
		return;
	*dlen = (uint8_t)(n < AMQP_NAME_KEEP ? n : AMQP_NAME_KEEP);
	memcpy(dst, s, *dlen);
}

static void remember(struct amqp_conn *ac, const struct sonde_amqp_msg *m, uint64_t tag)
{
	if (!ac->dl)
		ac->dl = sonde_xcalloc(AMQP_DELIVERIES, sizeof(*ac->dl));
	struct amqp_delivery *dl = &ac->dl[ac->dl_next++ % AMQP_DELIVERIES];
	struct amqp_chan *old = dl->live ? chan(ac, dl->channel, false) : NULL;
	if (old && dl->ref.tag > old->forgot_upto[dl->by])
		old->forgot_upto[dl->by] = dl->ref.tag;
	dl->live = true;
	dl->by = m->sender;
	dl->channel = m->channel;
	dl->ref.tag = tag;
	copy_name(dl->ref.exchange, &dl->ref.ex_len, m, "exchange");
	copy_name(dl->ref.routing_key, &dl->ref.rk_len, m, "routing_key");
}

/* basic.ack/nack/reject: the other side's deliveries it names. */
static void match_ack(struct amqp_conn *ac, struct sonde_amqp_msg *m)
{
	uint64_t tag = 0, multiple = 0;
	amqp_arg_u64(m->m, m->args, m->args_len, "delivery_tag", &tag);
	amqp_arg_u64(m->m, m->args, m->args_len, "multiple", &multiple);
	for (uint32_t k = 0; ac->dl && k < AMQP_DELIVERIES; k++) {
		/* oldest first, so the refs kept are in tag order */
		struct amqp_delivery *dl = &ac->dl[(ac->dl_next + k) % AMQP_DELIVERIES];
		if (!dl->live || dl->by == m->sender || dl->channel != m->channel)
			continue;
		if (multiple ? tag && dl->ref.tag > tag : dl->ref.tag != tag)
			continue;
		dl->live = false;
		if (m->nacked < AMQP_ACK_REFS)
			m->acked[m->nacked] = dl->ref;
		m->nacked++;
	}
	/* Tags grow per channel: an unmatched one at or under a forgotten
	 * delivery was seen; a multiple ack may cover forgotten ones too,
	 * and one reaching the highest leaves none forgotten. */
	struct amqp_chan *c = chan(ac, m->channel, false);
	uint64_t *forgot = c ? &c->forgot_upto[m->sender ^ 1] : NULL;
	if (forgot && *forgot && (multiple || (!m->nacked && tag <= *forgot))) {
		m->ack_forgotten = true;
		if (multiple && (!tag || tag >= *forgot))
			*forgot = 0;
	}
	m->ack_unknown = !m->nacked && !m->ack_forgotten;
}

/* What a method changes on its channel, as it is sent. */
static void on_state(struct amqp_conn *ac, struct sonde_amqp_msg *m)
{
	uint16_t cl = m->class_id, me = m->method_id;
	struct amqp_chan *c = chan(ac, m->channel, cl == CLASS_BASIC || cl == CLASS_CONFIRM);
	if (cl == CLASS_CHANNEL && (me == 10 || me == 41) && c) /* open, close-ok */
		reset_chan(ac, c);
	if (cl == CLASS_CONFIRM && me == 10 && c) {
		c->confirming = true;
		c->next_seq = 0;
	}
	if (cl != CLASS_BASIC)
		return;
	uint64_t tag;
	if ((me == BASIC_DELIVER || me == BASIC_GET_OK) &&
	    amqp_arg_u64(m->m, m->args, m->args_len, "delivery_tag", &tag))
		remember(ac, m, tag);
	if (me == BASIC_PUBLISH && c && c->confirming) {
		m->seq = ++c->next_seq;
		remember(ac, m, m->seq);
	}
	if (me == BASIC_ACK || me == BASIC_NACK || me == BASIC_REJECT)
		match_ack(ac, m);
}

/* -------------------------------------------------------------- frames --- */

void amqp_on_method(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel, uint8_t *payload,
		    uint32_t len, uint32_t size, uint64_t wire, uint64_t captured, uint32_t flags)
{
	struct sonde_amqp_msg *m = sonde_amqp_msg_new(AMQP_MSG_METHOD, (uint8_t)dir, channel);
	new_times(ac, m, size);
	m->base.flags = flags;
	m->base.wire_bytes = wire;
	m->base.captured_bytes = captured;
	uint16_t cl = len >= 4 ? (uint16_t)(payload[0] << 8 | payload[1]) : 0;
	uint16_t me = len >= 4 ? (uint16_t)(payload[2] << 8 | payload[3]) : 0;
	uint32_t alen = len >= 4 ? len - 4 : 0;
	uint8_t *args = sonde_xmalloc(alen ? alen : 1);
	if (alen)
		memcpy(args, payload + 4, alen);
	sonde_amqp_msg_args(m, cl, me, args, alen, size >= 4 ? size - 4 : 0);
	if (len < 4)
		m->why = "a method frame shorter than its ids";
	if (!m->m) {
		route(ac, m);
		return;
	}
	on_state(ac, m);
	if (!(m->m->flags & AMQP_M_CONTENT) || flags & (SONDE_MF_GAP | SONDE_MF_INCOMPLETE)) {
		route(ac, m);
		return;
	}
	struct amqp_chan *c = chan(ac, channel, true);
	if (!c) { /* no room to wait for its content: the content goes uncounted */
		m->base.flags |= SONDE_MF_INCOMPLETE;
		route(ac, m);
		return;
	}
	flush_content(ac, c, dir);
	c->content[dir] = m;
}

static struct sonde_amqp_msg *waiting(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel,
				      struct amqp_chan **cp)
{
	struct amqp_chan *c = chan(ac, channel, false);
	*cp = c;
	return c ? c->content[dir] : NULL;
}

static void content_done(struct amqp_conn *ac, struct amqp_chan *c, enum sonde_dir dir)
{
	struct sonde_amqp_msg *m = c->content[dir];
	c->content[dir] = NULL;
	if (m->body_seen > m->body_size)
		m->why = "bodies longer than the content header said";
	route(ac, m);
}

void amqp_on_header(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel,
		    const uint8_t *payload, uint32_t len, uint32_t size)
{
	struct amqp_chan *c;
	struct sonde_amqp_msg *m = waiting(ac, dir, channel, &c);
	if (!m || m->header_seen) { /* its method was never seen (or a second header) */
		ac->s->stats->unparsed_bytes += size + 8ull;
		return;
	}
	struct amqp_cur cur = amqp_cur(payload, len);
	uint16_t cls = amqp_u16(&cur);
	m->weight = amqp_u16(&cur);
	m->body_size = amqp_u64(&cur);
	m->prop_flags = amqp_u16(&cur);
	for (uint16_t more = m->prop_flags; more & 1 && !cur.bad;) /* continuation words */
		more = amqp_u16(&cur);
	m->base.wire_bytes += size + 8ull;
	m->base.captured_bytes += len + 8ull;
	m->header_seen = !cur.bad;
	if (cur.bad || cls != m->class_id) {
		m->why = cur.bad ? "a content header cut short"
				 : "a content header of another class";
		content_done(ac, c, dir);
		return;
	}
	m->props_size = size - (uint32_t)cur.off;
	m->props_len = len - (uint32_t)cur.off;
	m->props = sonde_xmalloc(m->props_len ? m->props_len : 1);
	memcpy(m->props, payload + cur.off, m->props_len);
	m->base.mem += m->props_len;
	if (m->props_len == m->props_size && !amqp_props_walk(amqp_class_find(cls), m->prop_flags,
							      m->props, m->props_len, NULL, NULL))
		m->why = "content properties do not parse";
	if (!m->body_size)
		content_done(ac, c, dir);
}

void amqp_on_body(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel, const uint8_t *p,
		  size_t n, uint64_t lost, bool frame_start)
{
	struct amqp_chan *c;
	struct sonde_amqp_msg *m = waiting(ac, dir, channel, &c);
	if (!m || !m->header_seen) {
		ac->s->stats->unparsed_bytes += n + (frame_start ? 7 : 0);
		return;
	}
	if (frame_start) {
		m->body_frames++;
		m->base.wire_bytes += 7;
		m->base.captured_bytes += 7;
	}
	if (lost) /* the kept body stops at the hole */
		m->base.flags |= SONDE_MF_GAP;
	if (!(m->base.flags & SONDE_MF_GAP))
		sonde_amqp_msg_body(m, p, n, ac->s->opts->body_limit);
	m->body_seen += n + lost;
	m->base.wire_bytes += n + lost;
	m->base.captured_bytes += n;
}

void amqp_on_body_end(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel, bool end_seen)
{
	struct amqp_chan *c;
	struct sonde_amqp_msg *m = waiting(ac, dir, channel, &c);
	if (!m || !m->header_seen) {
		ac->s->stats->unparsed_bytes += end_seen;
		return;
	}
	m->base.wire_bytes += end_seen;
	m->base.captured_bytes += end_seen;
	if (m->body_seen >= m->body_size)
		content_done(ac, c, dir);
}

void amqp_on_heartbeat(struct amqp_conn *ac, enum sonde_dir dir, uint16_t channel)
{
	struct sonde_amqp_msg *m = sonde_amqp_msg_new(AMQP_MSG_HEARTBEAT, (uint8_t)dir, channel);
	new_times(ac, m, 0);
	route(ac, m);
}

void amqp_on_protocol_header(struct amqp_conn *ac, enum sonde_dir dir, const uint8_t *hdr)
{
	struct sonde_amqp_msg *m = sonde_amqp_msg_new(AMQP_MSG_PROTOCOL_HEADER, (uint8_t)dir, 0);
	new_times(ac, m, 0);
	m->base.wire_bytes = m->base.captured_bytes = 8;
	memcpy(m->proto, hdr, 8);
	route(ac, m);
}

void amqp_chan_close_all(struct amqp_conn *ac)
{
	for (size_t i = 0; i < AMQP_CHANNELS; i++)
		for (int dir = 0; dir < 2 && ac->ch[i].used; dir++)
			flush_content(ac, &ac->ch[i], dir);
}
