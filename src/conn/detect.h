/* SPDX-License-Identifier: MIT */
/*
 * Protocol detection: which dissector a connection's first bytes belong to.
 *
 * Every dissector's probe() is asked in turn; the first that claims the bytes
 * wins, and the claim says which side sent them. Streams are probed with the
 * dissectors that take stream data, datagrams (sonde_detect_datagram, whole,
 * never held) with those that take datagrams. The order is the list's (the
 * registry's), except that two kinds of knowledge move a dissector first:
 *  - port hints, a table port → dissector name (the server's port, or either
 *    port while roles are unknown). A hint only reorders probing; a hint
 *    marked `force` (--proto-port, none built in) skips probing altogether;
 *  - the learned cache: a server address (ip, port) whose protocol was
 *    identified on a connection with known roles is remembered for a while
 *    (LEARN_TTL of capture time, LEARN_SLOTS entries, the newest wins a slot).
 * The learned protocol decides nothing by itself while probing can still
 * decide: it is used only where the held bytes would otherwise be given up
 * (a gap, the connection's end, the hold buffer full), and only if its own
 * probe still says MORE on them. A probe that says NO always wins.
 *
 * Per direction the state is a struct sonde_detect_side inside the
 * connection; struct sonde_detector is shared by the whole table.
 */
#ifndef SONDE_DETECT_H
#define SONDE_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/chunk.h"
#include "core/stats.h"
#include "proto/dissector.h"

#define SONDE_DETECT_BUF 256 /* bytes kept while a probe asks for more */

struct sonde_port_hint {
	uint16_t port;
	const char *dissector; /* a dissector's name; others are ignored */
	bool force; /* open it without probing */
};

/* One direction's probing state; zeroed to start. */
struct sonde_detect_side {
	uint16_t len; /* bytes held in buf */
	uint32_t tries; /* chunks probed and skipped */
	uint64_t bytes; /* bytes skipped */
	/* SONDE_DETECT_BUF bytes, allocated when bytes are first held: most
	 * connections are recognised at once and never need it. */
	uint8_t *buf;
};

/* Free what `s` holds (detection is over); `s` is zeroed again. */
void sonde_detect_side_free(struct sonde_detect_side *s);

/* Whose bytes are probed. */
struct sonde_detect_peers {
	const struct sonde_endpoint *from, *to;
	int from_is_server; /* 1 or 0 when roles are known, -1 when not */
};

enum sonde_detect_step {
	SONDE_DETECT_FOUND, /* open res->d */
	SONDE_DETECT_HELD, /* a probe needs more bytes: they are held */
	SONDE_DETECT_SKIPPED, /* no message start: counted undetected */
	SONDE_DETECT_GAVE_UP, /* skipped too often: stop probing the connection */
};

struct sonde_detect_result {
	const struct sonde_dissector *d;
	bool from_client; /* the probed bytes were sent by the client */
	size_t skip; /* leading bytes of the chunk before the message (counted) */
	size_t held; /* bytes in side->buf that come before the chunk */
	bool learned; /* chosen by the learned cache, not by a probe's claim */
};

struct sonde_detector;

/*
 * list: the dissectors in probing order, NULL-terminated (NULL: the
 * registry, sonde_dissectors). hints: a table ended by port 0 (NULL: none),
 * looked up before the built-in one (--proto-port's forced hints).
 */
struct sonde_detector *sonde_detector_new(const struct sonde_dissector *const *list,
					  const struct sonde_port_hint *hints);
void sonde_detector_free(struct sonde_detector *dt);
/* The dissector of the list named `name`, or NULL. */
const struct sonde_dissector *sonde_detect_find(const struct sonde_detector *dt, const char *name);

/*
 * Probe bytes p[0..n) of one direction (after what `s` holds). On FOUND the
 * caller opens res->d and gives it s->buf[0..res->held), then
 * p[res->skip..n); s->len is 0 again. Counts skipped bytes in
 * undetected_bytes.
 */
enum sonde_detect_step sonde_detect(struct sonde_detector *dt, struct sonde_detect_side *s,
				    const struct sonde_detect_peers *who, const uint8_t *p,
				    size_t n, uint64_t ts, struct sonde_stats *st,
				    struct sonde_detect_result *res);

/*
 * The bytes `s` holds are about to be given up (a gap, the end): true, with
 * *res (held = all of them, s->len 0), if the server's learned protocol
 * still says MORE on them. False leaves `s` as it was.
 */
bool sonde_detect_settle(struct sonde_detector *dt, struct sonde_detect_side *s,
			 const struct sonde_detect_peers *who, uint64_t ts,
			 struct sonde_detect_result *res);

/*
 * The dissector for a flow whose first datagram (payload p[0..n)) is this,
 * or NULL: the first of the datagram dissectors (port hints first) whose
 * probe claims it; *from_client tells which side sent it.
 */
const struct sonde_dissector *sonde_detect_datagram(const struct sonde_detector *dt,
						    const struct sonde_detect_peers *who,
						    const uint8_t *p, size_t n, bool *from_client);

/* The connection's server speaks `d` (its roles are known, not guessed). */
void sonde_detect_learn(struct sonde_detector *dt, const struct sonde_endpoint *server,
			const struct sonde_dissector *d, uint64_t ts);
/* The learned protocol of `server`, NULL if none or expired. */
const struct sonde_dissector *sonde_detect_learned(const struct sonde_detector *dt,
						   const struct sonde_endpoint *server,
						   uint64_t ts);

#endif
