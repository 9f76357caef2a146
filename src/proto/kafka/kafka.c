/* SPDX-License-Identifier: MIT */
/*
 * The Kafka dissector. Each direction is a run of messages behind a 4-byte
 * length; the bytes of one message (split anywhere: a Java client writes the
 * header and the body apart) are collected, at most KAFKA_KEEP of them, and
 * the message is parsed when its last byte has passed. A request's header
 * names its API and version; the response names only the correlation id, so
 * the requests in flight are remembered (api key, version by correlation id,
 * bounded) to read the responses, which pair with their requests by that id.
 * A Produce with acks=0 gets no response: it is written at once, alone.
 *
 * Bodies are read by the schema walker (kafka_body.c) from tables generated
 * from Kafka's own schemas; an API or version the tables do not know is
 * written with its header and "body":"unknown_api"/"unknown_version".
 *
 * After a gap inside a message of known length, the rest of it is passed and
 * the message written flagged (its body read up to the gap); any other loss
 * of framing (a gap in a length prefix, a length Kafka would refuse, a
 * connection joined in the middle) makes the direction resynchronise: the
 * client's side at the next plausible request header, the server's at the
 * next length followed by the correlation id of a request in flight. Eight
 * losses in a row with no message between them hand the connection back.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/dissector.h"
#include "proto/kafka/kafka_body.h"
#include "proto/kafka/kafka_header.h"
#include "proto/kafka/kafka_wire.h"
#include "proto/session.h"

#define KAFKA_KEEP (1u << 20) /* bytes of one message kept for parsing */
#define INFLIGHT_MAX 1024 /* requests remembered per connection */
#define HANDBACK_LOSSES 8
#define PRODUCE 0
#define METADATA 3
#define SASL_HANDSHAKE 17
#define API_VERSIONS 18

enum kd_state {
	KD_SIZE, /* reading a length prefix */
	KD_BODY, /* reading a message's bytes */
	KD_RESYNC, /* looking for a message start */
};

struct kafka_dir {
	enum kd_state st;
	uint8_t lenb[4];
	uint8_t nlen;
	uint32_t size; /* the message's length */
	uint32_t got; /* of which passed (gaps included) */
	struct sonde_buf msg; /* the bytes kept, up to the first gap or KAFKA_KEEP */
	bool gap; /* bytes of the message were lost */
	bool cut; /* the direction ended inside the message */
	uint64_t captured;
	uint64_t ts_first;
	uint32_t losses; /* framing lost since the last message */
	/* RESYNC: the end of a chunk that may start a message (too short to
	 * tell), kept for the next chunk */
	uint8_t carry[16];
	uint8_t ncarry;
};

struct inflight {
	int32_t corr;
	int16_t key, version;
	bool event; /* written already (acks=0): an answer is an event too */
};

struct kafka_conn {
	struct sonde_session *s;
	struct kafka_dir d[2];
	struct inflight *fl; /* requests awaiting a response, oldest first */
	size_t nfl;
	/* topic names by id: the capture's (session->shared), or, without a
	 * connection table, the connection's own, made when Metadata names one */
	struct sonde_kafka_topic_ids *ids;
	bool own_ids;
	bool s2c_lost; /* server bytes were lost: a response may have gone */
	/* After SaslHandshake v0 the login is raw SASL tokens behind a length,
	 * until a request (client) or a response in flight (server) shows up. */
	bool sasl_raw[2];
};

extern const struct sonde_dissector sonde_dissector_kafka;

static enum sonde_probe kafka_probe(const uint8_t *p, size_t n)
{
	switch (sonde_kafka_plausible_request(p, n)) {
	case KAFKA_REQUEST: return SONDE_PROBE_CLIENT;
	case KAFKA_MAYBE: return SONDE_PROBE_MORE;
	default: return SONDE_PROBE_NO;
	}
}

static void *kafka_open(struct sonde_session *s)
{
	sonde_session_start(s, &sonde_dissector_kafka);
	struct kafka_conn *kc = sonde_xcalloc(1, sizeof(*kc));
	kc->s = s;
	kc->fl = sonde_xcalloc(INFLIGHT_MAX, sizeof(*kc->fl));
	kc->ids = s->shared;
	for (int i = 0; i < 2; i++) {
		sonde_buf_init(&kc->d[i].msg, KAFKA_KEEP);
		/* joined mid-stream: the first bytes may be inside a message */
		kc->d[i].st = s->midstream[i] ? KD_RESYNC : KD_SIZE;
	}
	return kc;
}

/* ----------------------------------------------------------- in flight --- */

static void inflight_drop(struct kafka_conn *kc, const struct inflight *f)
{
	size_t i = (size_t)(f - kc->fl);
	memmove(kc->fl + i, kc->fl + i + 1, (kc->nfl - i - 1) * sizeof(*kc->fl));
	kc->nfl--;
}

static void inflight_add(struct kafka_conn *kc, const struct sonde_kafka_msg *m, bool event)
{
	if (kc->nfl == INFLIGHT_MAX) {
		/* full: forget the oldest acks=0 Produce (a broker never answers
		 * those), else the oldest request (its answer is then read headless) */
		size_t i = 0;
		while (i < kc->nfl && !kc->fl[i].event)
			i++;
		inflight_drop(kc, &kc->fl[i < kc->nfl ? i : 0]);
	}
	kc->fl[kc->nfl++] =
		(struct inflight){ m->correlation_id, m->api_key, m->api_version, event };
}

static const struct inflight *inflight_find(const struct kafka_conn *kc, int32_t corr)
{
	for (size_t i = 0; i < kc->nfl; i++)
		if (kc->fl[i].corr == corr)
			return &kc->fl[i];
	return NULL;
}

/* ------------------------------------------------------------ messages --- */

static bool acks_zero(const struct sonde_kafka_msg *m)
{
	for (uint32_t i = 0; i < m->nscalars; i++)
		if (!strcmp(m->scalar[i].f->name, "acks"))
			return m->scalar[i].v.i == 0;
	return false;
}

static void walk_body(struct kafka_conn *kc, struct sonde_kafka_msg *m, const uint8_t *p, size_t n,
		      bool whole)
{
	if (!m->api)
		m->body = KAFKA_BODY_UNKNOWN_API;
	else if (m->api_version < m->api->min || m->api_version > m->api->max)
		m->body = KAFKA_BODY_UNKNOWN_VERSION;
	else
		sonde_kafka_walk(m, p, n, whole, kc->ids);
	if (m->body == KAFKA_BODY_MALFORMED)
		m->base.flags |= SONDE_MF_PARSE_ERROR;
}

/* A Metadata response may name topic ids: room for them. */
static void want_ids(struct kafka_conn *kc, const struct sonde_kafka_msg *m)
{
	if (!kc->ids && m->api_key == METADATA && m->api_version >= 10) {
		kc->ids = sonde_kafka_topic_ids_new(KAFKA_TOPIC_IDS);
		kc->own_ids = true;
	}
}

/* Forget what a first walk found, for a second one. */
static void summary_reset(struct sonde_kafka_msg *m)
{
	m->ntopics = m->topics_dropped = m->nerr = m->errors_dropped = 0;
	m->nscalars = m->scalars_dropped = m->tagged_fields = m->unknown_tags = 0;
	m->records = m->record_bytes = 0;
	m->base.flags &= ~(uint32_t)SONDE_MF_PARSE_ERROR;
}

static void request_done(struct kafka_conn *kc, struct sonde_kafka_msg *m, const uint8_t *p,
			 size_t n, bool whole)
{
	size_t h = sonde_kafka_request_header(m, p, n);
	if (!h) {
		m->body = KAFKA_BODY_CUT;
		m->base.flags |= SONDE_MF_PARSE_ERROR;
		kc->s->stats->parse_errors++;
	} else {
		walk_body(kc, m, p + h, n - h, whole);
	}
	m->base.pair_key = (uint32_t)m->correlation_id;
	m->base.mem = sizeof(*m) + m->text.cap;
	if (m->body == KAFKA_BODY_MALFORMED)
		kc->s->stats->parse_errors++;
	if (m->api_key == SASL_HANDSHAKE && m->api_version == 0)
		kc->sasl_raw[SONDE_DIR_C2S] = true; /* the server's, after its answer */
	if (m->api_key == PRODUCE && acks_zero(m)) {
		/* remembered all the same: a broker that answers anyway (librdkafka's
		 * mock does) has its answer read and written alone too */
		m->response_expected = false;
		inflight_add(kc, m, true);
		sonde_session_event(kc->s, &m->base);
		return;
	}
	inflight_add(kc, m, false);
	sonde_session_request(kc->s, &m->base);
}

/* A broker answers an ApiVersions version it does not speak in the v0 form
 * (KIP-511): read the body again so. */
static void api_versions_v0(struct kafka_conn *kc, struct sonde_kafka_msg *m, const uint8_t *p,
			    size_t n, bool whole)
{
	int16_t asked = m->api_version;
	bool flexible = m->flexible;
	summary_reset(m);
	m->api_version = 0;
	m->flexible = false;
	walk_body(kc, m, p, n, whole);
	m->retried_v0 = m->body == KAFKA_BODY_PARSED;
	m->api_version = asked;
	if (!m->retried_v0) { /* neither: the first reading stands */
		summary_reset(m);
		m->flexible = flexible;
		walk_body(kc, m, p, n, whole);
	}
}

static void response_done(struct kafka_conn *kc, struct sonde_kafka_msg *m, const uint8_t *p,
			  size_t n, bool whole)
{
	if (n < KAFKA_RESP_MIN) {
		m->body = KAFKA_BODY_CUT;
		m->base.flags |= SONDE_MF_PARSE_ERROR;
		kc->s->stats->parse_errors++;
		sonde_session_response(kc->s, &m->base);
		return;
	}
	const struct inflight *f = inflight_find(kc, (int32_t)(uint32_t)kafka_be(p, 4));
	bool event = f && f->event;
	if (f) {
		m->api_key = f->key;
		m->api_version = f->version;
		m->api = sonde_kafka_api_find(f->key);
		inflight_drop(kc, f);
	}
	size_t h = sonde_kafka_response_header(m, p, n);
	if (!f) {
		m->body = KAFKA_BODY_NO_REQUEST;
	} else if (!h) {
		m->body = KAFKA_BODY_CUT;
	} else {
		want_ids(kc, m);
		walk_body(kc, m, p + h, n - h, whole);
		if (m->api_key == API_VERSIONS && m->api_version > 0 &&
		    m->body != KAFKA_BODY_PARSED)
			api_versions_v0(kc, m, p + h, n - h, whole);
	}
	m->base.pair_key = (uint32_t)m->correlation_id;
	m->base.mem = sizeof(*m) + m->text.cap;
	m->response_expected = !event;
	if (m->api_key == SASL_HANDSHAKE && m->api_version == 0)
		kc->sasl_raw[SONDE_DIR_S2C] = true;
	if (m->body == KAFKA_BODY_MALFORMED)
		kc->s->stats->parse_errors++;
	if (event)
		sonde_session_event(kc->s, &m->base);
	else
		sonde_session_response(kc->s, &m->base);
}

/* In raw SASL mode, is this message a token (not a request, not a response
 * to a request in flight)? A message that is not ends the mode. */
static bool sasl_token(struct kafka_conn *kc, enum sonde_dir dir, const struct kafka_dir *d)
{
	if (!kc->sasl_raw[dir])
		return false;
	bool kafka;
	if (dir == SONDE_DIR_C2S) {
		uint8_t head[14];
		size_t k = d->msg.len < 10 ? d->msg.len : 10;
		memcpy(head, d->lenb, 4);
		memcpy(head + 4, d->msg.p, k);
		kafka = sonde_kafka_plausible_request(head, 4 + k) == KAFKA_REQUEST;
	} else {
		kafka = d->msg.len >= 4 &&
			inflight_find(kc, (int32_t)(uint32_t)kafka_be(d->msg.p, 4));
	}
	kc->sasl_raw[dir] = !kafka;
	return !kafka;
}

/* The message of direction d is over: parse and emit it. */
static void message_done(struct kafka_conn *kc, enum sonde_dir dir, uint64_t ts)
{
	struct kafka_dir *d = &kc->d[dir];
	struct sonde_kafka_msg *m =
		sonde_kafka_msg_new(dir == SONDE_DIR_C2S ? SONDE_MSG_REQUEST : SONDE_MSG_RESPONSE);
	bool whole = !d->gap && !d->cut && d->msg.len == d->size;
	m->size = d->size;
	m->base.ts_first = d->ts_first;
	m->base.ts_last = ts;
	m->base.wire_bytes = 4ull + d->got; /* all of it, but for a stream's end */
	m->base.captured_bytes = d->captured;
	if (d->gap)
		m->base.flags |= SONDE_MF_GAP;
	if (d->cut)
		m->base.flags |= SONDE_MF_INCOMPLETE;
	else if (!whole && !d->gap)
		m->base.flags |= SONDE_MF_TRUNCATED;
	if (m->base.flags & SONDE_MF_TRUNCATED)
		kc->s->stats->bodies_truncated++;
	if (sasl_token(kc, dir, d)) { /* a credential: never parsed; masked by the stage */
		m->body = KAFKA_BODY_SASL_TOKEN;
		if (whole)
			m->sasl = sonde_kafka_keep(m, d->msg.p, d->msg.len);
		else
			m->sasl.cut = true;
		sonde_session_event(kc->s, &m->base);
	} else if (dir == SONDE_DIR_C2S) {
		request_done(kc, m, d->msg.p, d->msg.len, whole);
	} else {
		response_done(kc, m, d->msg.p, d->msg.len, whole);
	}
	d->st = KD_SIZE;
	d->nlen = 0;
	d->losses = 0;
	sonde_buf_reset(&d->msg);
}

/* ------------------------------------------------------------- framing --- */

/* Framing is lost: look for the next message start. */
static void lose_sync(struct kafka_conn *kc, struct kafka_dir *d)
{
	kc->s->stats->unparsed_bytes += d->nlen + d->msg.len;
	kc->s->stats->parse_errors++;
	d->st = KD_RESYNC;
	d->nlen = 0;
	sonde_buf_reset(&d->msg);
	if (++d->losses >= HANDBACK_LOSSES)
		kc->s->switch_to = "unparsed";
}

static bool size_ok(enum sonde_dir dir, uint64_t size)
{
	return size >= (dir == SONDE_DIR_C2S ? KAFKA_REQ_MIN : KAFKA_RESP_MIN) &&
	       size <= KAFKA_SIZE_MAX;
}

/* Does a message start at p: a request header, or a response to a request
 * in flight? MAYBE: too few bytes to tell (never with 14 or more). */
static enum kafka_plausible start_at(const struct kafka_conn *kc, enum sonde_dir dir,
				     const uint8_t *p, size_t n)
{
	if (dir == SONDE_DIR_C2S)
		return sonde_kafka_plausible_request(p, n);
	if (n < 4)
		return KAFKA_MAYBE;
	if (!size_ok(dir, kafka_be(p, 4)))
		return KAFKA_NOT;
	if (n < 8)
		return KAFKA_MAYBE;
	return inflight_find(kc, (int32_t)(uint32_t)kafka_be(p + 4, 4)) ? KAFKA_REQUEST : KAFKA_NOT;
}

static size_t frame(struct kafka_conn *kc, enum sonde_dir dir, const uint8_t *p, size_t n,
		    uint64_t ts);

/* Resync with bytes carried from the last chunk: a start inside them is
 * framed from there; returns the bytes of p used. */
static size_t resync_carry(struct kafka_conn *kc, enum sonde_dir dir, const uint8_t *p, size_t n,
			   uint64_t ts)
{
	struct kafka_dir *d = &kc->d[dir];
	uint8_t tmp[2 * sizeof(d->carry)], carry[sizeof(d->carry)];
	size_t nc = d->ncarry, take = n < sizeof(d->carry) ? n : sizeof(d->carry);
	memcpy(tmp, d->carry, nc);
	memcpy(tmp + nc, p, take);
	memcpy(carry, d->carry, nc);
	d->ncarry = 0;
	for (size_t j = 0; j < nc; j++) {
		enum kafka_plausible v = start_at(kc, dir, tmp + j, nc + take - j);
		if (v == KAFKA_MAYBE) { /* still too short: all of p joins the carry */
			kc->s->stats->unparsed_bytes += j;
			memcpy(d->carry, tmp + j, nc + take - j);
			d->ncarry = (uint8_t)(nc + take - j);
			return take;
		}
		if (v == KAFKA_REQUEST) {
			kc->s->stats->unparsed_bytes += j;
			d->st = KD_SIZE;
			size_t k = j;
			while (k < nc && d->st != KD_RESYNC && !kc->s->switch_to)
				k += frame(kc, dir, carry + k, nc - k, ts);
			kc->s->stats->unparsed_bytes += nc - k;
			return 0;
		}
	}
	kc->s->stats->unparsed_bytes += nc;
	return 0;
}

static size_t resync(struct kafka_conn *kc, enum sonde_dir dir, const uint8_t *p, size_t n,
		     uint64_t ts)
{
	struct kafka_dir *d = &kc->d[dir];
	if (d->ncarry)
		return resync_carry(kc, dir, p, n, ts);
	size_t i = 0;
	for (; i < n; i++) {
		enum kafka_plausible v = start_at(kc, dir, p + i, n - i);
		if (v == KAFKA_REQUEST) {
			d->st = KD_SIZE;
			break;
		}
		if (v == KAFKA_MAYBE) { /* the chunk ends too soon to tell */
			memcpy(d->carry, p + i, n - i);
			d->ncarry = (uint8_t)(n - i);
			kc->s->stats->unparsed_bytes += i;
			return n;
		}
	}
	kc->s->stats->unparsed_bytes += i;
	return i;
}

static size_t frame(struct kafka_conn *kc, enum sonde_dir dir, const uint8_t *p, size_t n,
		    uint64_t ts)
{
	struct kafka_dir *d = &kc->d[dir];
	if (d->st == KD_SIZE) {
		size_t want = 4u - d->nlen, k = want < n ? want : n;
		if (!d->nlen)
			d->ts_first = ts;
		memcpy(d->lenb + d->nlen, p, k);
		d->nlen = (uint8_t)(d->nlen + k);
		if (d->nlen == 4) {
			d->size = (uint32_t)kafka_be(d->lenb, 4);
			/* a raw SASL token may be empty (a PLAIN login's answer) */
			bool token = kc->sasl_raw[dir] && d->size <= KAFKA_SIZE_MAX;
			if (!token && !size_ok(dir, d->size)) {
				lose_sync(kc, d);
				return k;
			}
			d->st = KD_BODY;
			d->got = 0;
			d->gap = d->cut = false;
			d->captured = 4;
			if (!d->size) /* nothing follows: it is whole already */
				message_done(kc, dir, ts);
		}
		return k;
	}
	size_t k = d->size - d->got < n ? d->size - d->got : n;
	if (!d->gap && d->msg.len < KAFKA_KEEP)
		sonde_buf_append(&d->msg, p,
				 k < KAFKA_KEEP - d->msg.len ? k : KAFKA_KEEP - d->msg.len);
	d->got += (uint32_t)k;
	d->captured += k;
	if (d->got == d->size)
		message_done(kc, dir, ts);
	return k;
}

static size_t kafka_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct kafka_conn *kc = state;
	size_t i = 0;
	while (i < n && !kc->s->switch_to)
		i += kc->d[dir].st == KD_RESYNC ? resync(kc, dir, p + i, n - i, ts)
						: frame(kc, dir, p + i, n - i, ts);
	return kc->s->switch_to ? i : n;
}

static void kafka_gap(void *state, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	struct kafka_conn *kc = state;
	struct kafka_dir *d = &kc->d[dir];
	if (dir == SONDE_DIR_S2C)
		kc->s2c_lost = true;
	kc->s->stats->unparsed_bytes += d->ncarry;
	d->ncarry = 0;
	if (d->st == KD_BODY && n <= d->size - d->got) {
		/* inside a message of known length: framing holds */
		d->gap = true;
		d->got += (uint32_t)n;
		if (d->got == d->size)
			message_done(kc, dir, ts);
		return;
	}
	if (d->st == KD_BODY && d->got >= KAFKA_REQ_MIN) {
		d->gap = true; /* the rest of it and more: written, then resync */
		d->got = d->size;
		message_done(kc, dir, ts);
	}
	if (d->st != KD_RESYNC)
		lose_sync(kc, d);
}

/* A message cut by the end of its direction is written as far as it went. */
static void flush_partial(struct kafka_conn *kc, enum sonde_dir dir, uint64_t ts)
{
	struct kafka_dir *d = &kc->d[dir];
	if (d->st == KD_BODY && d->got) {
		d->cut = true;
		message_done(kc, dir, ts);
		kc->s->stats->parse_errors++;
	} else if (d->st == KD_SIZE && d->nlen) {
		kc->s->stats->unparsed_bytes += d->nlen;
		d->nlen = 0;
	}
	kc->s->stats->unparsed_bytes += d->ncarry;
	d->ncarry = 0;
}

static void kafka_end(void *state, enum sonde_dir dir, uint64_t ts)
{
	flush_partial(state, dir, ts);
}

/* Say why the requests still waiting got no response. */
static void mark_unanswered(struct kafka_conn *kc)
{
	const char *why = kc->s2c_lost ? "server bytes lost (gap)" : "connection ended first";
	for (struct sonde_msg *q = sonde_session_oldest_request(kc->s); q; q = q->next)
		if (q->ops->protocol && !strcmp(q->ops->protocol, "kafka"))
			((struct sonde_kafka_msg *)q)->unanswered = why;
}

static void kafka_close(void *state, uint64_t ts)
{
	struct kafka_conn *kc = state;
	flush_partial(kc, SONDE_DIR_C2S, ts);
	flush_partial(kc, SONDE_DIR_S2C, ts);
	mark_unanswered(kc);
	sonde_session_flush(kc->s);
	for (int i = 0; i < 2; i++)
		sonde_buf_free(&kc->d[i].msg);
	if (kc->own_ids)
		free(kc->ids);
	free(kc->fl);
	free(kc);
}

/* Topic ids are the cluster's: one connection's Metadata names the topics
 * another fetches by id. */
static void *kafka_shared_new(void)
{
	return sonde_kafka_topic_ids_new(KAFKA_TOPIC_IDS_SHARED);
}

static void kafka_shared_free(void *shared)
{
	free(shared);
}

const struct sonde_dissector sonde_dissector_kafka = {
	.name = "kafka",
	.pairing = SONDE_PAIR_BY_KEY,
	.probe = kafka_probe,
	.open = kafka_open,
	.data = kafka_data,
	.gap = kafka_gap,
	.end = kafka_end,
	.close = kafka_close,
	.shared_new = kafka_shared_new,
	.shared_free = kafka_shared_free,
};
