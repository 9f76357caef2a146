/* SPDX-License-Identifier: MIT */
/*
 * What a dissector does with the messages it parsed: hand each request and
 * response to its session, which pairs them the way the dissector's declared
 * pairing shape says (struct sonde_dissector.pairing). Dissectors go through
 * these functions rather than into struct sonde_pairing, so the pairing engine
 * can change without touching protocols.
 */
#ifndef SONDE_SESSION_H
#define SONDE_SESSION_H

#include "proto/dissector.h"

/* Called first by a dissector's open(): applies its pairing shape. */
void sonde_session_start(struct sonde_session *s, const struct sonde_dissector *d);
/* Both take ownership of m. */
void sonde_session_request(struct sonde_session *s, struct sonde_msg *m);
void sonde_session_response(struct sonde_session *s, struct sonde_msg *m);
/* A message written as a record alone, whatever the pairing shape (a
 * pub/sub message, a command that expects no reply); takes ownership. */
void sonde_session_event(struct sonde_session *s, struct sonde_msg *m);
/* The connection is over: write what still waits (as unanswered). */
void sonde_session_flush(struct sonde_session *s);
/* The request the next in-order response answers, or NULL (owned by the
 * session: look, do not keep). */
struct sonde_msg *sonde_session_oldest_request(const struct sonde_session *s);

#endif
