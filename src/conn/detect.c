/* SPDX-License-Identifier: MIT */
#include "conn/detect.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hash.h"

#define DETECT_LINES 64 /* line starts probed inside one chunk */
#define DETECT_MAX_TRIES 64 /* chunks per direction probed before giving up */
#define DETECT_MAX_BYTES (256u << 10)
#define HINTS_MAX 64
#define FRONT_MAX 3 /* dissectors tried before the registry's order */
#define LEARN_SLOTS 1024 /* power of two; servers remembered at most */
#define LEARN_TTL_NS (600ull * 1000000000ull)

/* Ports whose usual protocol is probed first. Only a reordering: the
 * probes of the built-in dissectors exclude each other. */
static const struct sonde_port_hint builtin_hints[] = {
	{ 80, "http1", false },   { 8080, "http1", false }, { 443, "tls", false },
	{ 8443, "tls", false },   { 53, "dns", false },     { 5353, "dns", false },
	{ 6379, "redis", false }, { 1883, "mqtt", false },  { 5672, "amqp", false },
	{ 9092, "kafka", false }, { 0, NULL, false },
};

struct hint {
	uint16_t port;
	bool force;
	const struct sonde_dissector *d;
};

struct learned {
	struct sonde_endpoint server;
	const struct sonde_dissector *d; /* NULL: a free slot */
	uint64_t expires; /* capture time */
};

struct sonde_detector {
	const struct sonde_dissector *const *list;
	struct hint hints[HINTS_MAX];
	size_t nhints;
	struct learned slots[LEARN_SLOTS];
};

static void add_hints(struct sonde_detector *dt, const struct sonde_port_hint *hints)
{
	for (size_t i = 0; hints && hints[i].port && dt->nhints < HINTS_MAX; i++) {
		const struct sonde_dissector *d = sonde_detect_find(dt, hints[i].dissector);
		if (!d) /* a protocol this build lacks */
			continue;
		dt->hints[dt->nhints++] = (struct hint){ hints[i].port, hints[i].force, d };
	}
}

struct sonde_detector *sonde_detector_new(const struct sonde_dissector *const *list,
					  const struct sonde_port_hint *hints)
{
	struct sonde_detector *dt = sonde_xcalloc(1, sizeof(*dt));
	dt->list = list ? list : sonde_dissectors;
	/* the caller's first: a port's first hint is the one used */
	add_hints(dt, hints);
	add_hints(dt, builtin_hints);
	return dt;
}

void sonde_detector_free(struct sonde_detector *dt)
{
	free(dt);
}

void sonde_detect_side_free(struct sonde_detect_side *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

const struct sonde_dissector *sonde_detect_find(const struct sonde_detector *dt, const char *name)
{
	for (size_t i = 0; dt->list[i]; i++)
		if (!strcmp(dt->list[i]->name, name))
			return dt->list[i];
	return NULL;
}

/* ----------------------------------------------------------- learned --- */

static bool ep_eq(const struct sonde_endpoint *x, const struct sonde_endpoint *y)
{
	return x->port == y->port && x->family == y->family && !memcmp(x->addr, y->addr, 16);
}

static size_t slot_of(const struct sonde_endpoint *ep)
{
	return sonde_endpoint_hash(ep) & (LEARN_SLOTS - 1);
}

void sonde_detect_learn(struct sonde_detector *dt, const struct sonde_endpoint *server,
			const struct sonde_dissector *d, uint64_t ts)
{
	struct learned *l = &dt->slots[slot_of(server)];
	l->server = *server;
	l->d = d;
	l->expires = ts + LEARN_TTL_NS;
}

const struct sonde_dissector *sonde_detect_learned(const struct sonde_detector *dt,
						   const struct sonde_endpoint *server, uint64_t ts)
{
	const struct learned *l = &dt->slots[slot_of(server)];
	if (!l->d || ts >= l->expires || !ep_eq(&l->server, server))
		return NULL;
	return l->d;
}

/* The learned protocol of whichever side may be the server. */
static const struct sonde_dissector *learned_for(const struct sonde_detector *dt,
						 const struct sonde_detect_peers *who, uint64_t ts,
						 bool *from_client)
{
	const struct sonde_dissector *d = NULL;
	if (who->from_is_server != 1 && (d = sonde_detect_learned(dt, who->to, ts))) {
		*from_client = true;
		return d;
	}
	if (who->from_is_server != 0 && (d = sonde_detect_learned(dt, who->from, ts))) {
		*from_client = false;
		return d;
	}
	return NULL;
}

/* Held bytes probing could not decide on: the learned protocol, if its
 * probe does not refuse them. */
static bool learned_takes(const struct sonde_detector *dt, const struct sonde_detect_peers *who,
			  uint64_t ts, const uint8_t *p, size_t n, struct sonde_detect_result *res)
{
	bool from_client = false;
	const struct sonde_dissector *d = learned_for(dt, who, ts, &from_client);
	if (!d || d->probe(p, n) != SONDE_PROBE_MORE)
		return false;
	*res = (struct sonde_detect_result){ .d = d, .from_client = from_client, .learned = true };
	return true;
}

/* ------------------------------------------------------------- order --- */

struct probe_order {
	const struct sonde_dissector *const *list;
	bool datagram; /* probing a datagram: only datagram dissectors */
	const struct sonde_dissector *front[FRONT_MAX];
	size_t nfront;
	const struct hint *forced;
	bool forced_from_client;
};

static bool fits(const struct probe_order *o, const struct sonde_dissector *d)
{
	return o->datagram ? d->datagram != NULL : d->data != NULL;
}

static void order_add(struct probe_order *o, const struct sonde_dissector *d)
{
	if (!d || !fits(o, d))
		return;
	for (size_t i = 0; i < o->nfront; i++)
		if (o->front[i] == d)
			return;
	if (o->nfront < FRONT_MAX)
		o->front[o->nfront++] = d;
}

static const struct hint *hint_of(const struct sonde_detector *dt, uint16_t port)
{
	for (size_t i = 0; i < dt->nhints; i++)
		if (dt->hints[i].port == port)
			return &dt->hints[i];
	return NULL;
}

/* A hint on the server's port, or on either while roles are unknown. */
static void order_hint(const struct sonde_detector *dt, struct probe_order *o,
		       const struct sonde_endpoint *ep, bool ep_is_to)
{
	const struct hint *h = hint_of(dt, ep->port);
	if (!h)
		return;
	if (!fits(o, h->d))
		return;
	if (h->force && !o->forced) {
		o->forced = h;
		o->forced_from_client = ep_is_to;
	}
	order_add(o, h->d);
}

static void order_build(const struct sonde_detector *dt, const struct sonde_detect_peers *who,
			uint64_t ts, bool datagram, struct probe_order *o)
{
	bool from_client;
	memset(o, 0, sizeof(*o));
	o->list = dt->list;
	o->datagram = datagram;
	if (!datagram) /* datagram flows never have known roles to learn from */
		order_add(o, learned_for(dt, who, ts, &from_client));
	if (who->from_is_server != 1)
		order_hint(dt, o, who->to, true);
	if (who->from_is_server != 0)
		order_hint(dt, o, who->from, false);
}

static bool claims(const struct sonde_dissector *d, const uint8_t *buf, size_t len,
		   enum sonde_probe *verdict, bool *more)
{
	enum sonde_probe v = d->probe(buf, len);
	if (v == SONDE_PROBE_CLIENT || v == SONDE_PROBE_SERVER) {
		*verdict = v;
		return true;
	}
	if (v == SONDE_PROBE_MORE)
		*more = true;
	return false;
}

/* The first dissector claiming buf; *more if one needs more bytes. */
static const struct sonde_dissector *probe_all(const struct probe_order *o, const uint8_t *buf,
					       size_t len, enum sonde_probe *verdict, bool *more)
{
	for (size_t i = 0; i < o->nfront; i++)
		if (claims(o->front[i], buf, len, verdict, more))
			return o->front[i];
	for (size_t i = 0; o->list[i]; i++) {
		const struct sonde_dissector *d = o->list[i];
		bool tried = !fits(o, d);
		for (size_t k = 0; k < o->nfront; k++)
			tried |= o->front[k] == d;
		if (!tried && claims(d, buf, len, verdict, more))
			return d;
	}
	return NULL;
}

/* ------------------------------------------------------------ probing --- */

/* Mid-stream, a chunk often starts inside a message and a new one starts on
 * a later line: try line starts. Returns the bytes before the one found. */
static const struct sonde_dissector *probe_lines(const struct probe_order *o, const uint8_t *p,
						 size_t n, enum sonde_probe *verdict, size_t *skip)
{
	const uint8_t *q = p, *end = p + n;
	for (int k = 0; k < DETECT_LINES && q < end; k++) {
		const uint8_t *lf = memchr(q, '\n', (size_t)(end - q));
		if (!lf || lf + 1 >= end)
			break;
		q = lf + 1;
		bool more = false;
		const struct sonde_dissector *d =
			probe_all(o, q, (size_t)(end - q), verdict, &more);
		if (d) {
			*skip = (size_t)(q - p);
			return d;
		}
	}
	return NULL;
}

enum sonde_detect_step sonde_detect(struct sonde_detector *dt, struct sonde_detect_side *s,
				    const struct sonde_detect_peers *who, const uint8_t *p,
				    size_t n, uint64_t ts, struct sonde_stats *st,
				    struct sonde_detect_result *res)
{
	uint8_t tmp[SONDE_DETECT_BUF];
	const uint8_t *probe = p;
	size_t plen = n;
	size_t held = s->len;
	if (held) {
		size_t take = n < SONDE_DETECT_BUF - held ? n : SONDE_DETECT_BUF - held;
		memcpy(tmp, s->buf, held);
		memcpy(tmp + held, p, take);
		probe = tmp;
		plen = held + take;
	}
	struct probe_order o;
	order_build(dt, who, ts, false, &o);
	*res = (struct sonde_detect_result){ .held = held };
	if (o.forced) {
		res->d = o.forced->d;
		res->from_client = o.forced_from_client;
		s->len = 0;
		return SONDE_DETECT_FOUND;
	}
	bool more = false;
	enum sonde_probe verdict = SONDE_PROBE_NO;
	res->d = probe_all(&o, probe, plen, &verdict, &more);
	if (!res->d && !more && !held) {
		res->d = probe_lines(&o, p, n, &verdict, &res->skip);
		st->undetected_bytes += res->skip;
		s->bytes += res->skip;
	}
	if (res->d) {
		res->from_client = verdict == SONDE_PROBE_CLIENT;
		s->len = 0;
		return SONDE_DETECT_FOUND;
	}
	if (more && held + n < SONDE_DETECT_BUF) {
		if (!s->buf)
			s->buf = sonde_xmalloc(SONDE_DETECT_BUF);
		memcpy(s->buf + held, p, n);
		s->len = (uint16_t)(held + n);
		return SONDE_DETECT_HELD;
	}
	if (more && learned_takes(dt, who, ts, probe, plen, res)) {
		res->held = held;
		s->len = 0;
		return SONDE_DETECT_FOUND;
	}
	/* Not a message start we know: skip these bytes, try the next chunk. */
	s->len = 0;
	st->undetected_bytes += held + n;
	s->bytes += held + n;
	if (++s->tries > DETECT_MAX_TRIES || s->bytes > DETECT_MAX_BYTES)
		return SONDE_DETECT_GAVE_UP;
	return SONDE_DETECT_SKIPPED;
}

bool sonde_detect_settle(struct sonde_detector *dt, struct sonde_detect_side *s,
			 const struct sonde_detect_peers *who, uint64_t ts,
			 struct sonde_detect_result *res)
{
	if (!s->len || !learned_takes(dt, who, ts, s->buf, s->len, res))
		return false;
	res->held = s->len;
	s->len = 0;
	return true;
}

const struct sonde_dissector *sonde_detect_datagram(const struct sonde_detector *dt,
						    const struct sonde_detect_peers *who,
						    const uint8_t *p, size_t n, bool *from_client)
{
	struct probe_order o;
	order_build(dt, who, 0, true, &o);
	if (o.forced) {
		*from_client = o.forced_from_client;
		return o.forced->d;
	}
	bool more = false; /* a datagram is whole: MORE is a NO */
	enum sonde_probe verdict = SONDE_PROBE_NO;
	const struct sonde_dissector *d = probe_all(&o, p, n, &verdict, &more);
	*from_client = verdict == SONDE_PROBE_CLIENT;
	return d;
}
