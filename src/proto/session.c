/* SPDX-License-Identifier: MIT */
/* Session emit functions (see session.h): thin, so pairing stays one place. */
#include "proto/session.h"

void sonde_session_start(struct sonde_session *s, const struct sonde_dissector *d)
{
	sonde_pairing_set_shape(&s->pairing, d->pairing);
}

void sonde_session_request(struct sonde_session *s, struct sonde_msg *m)
{
	sonde_pairing_request(&s->pairing, m);
}

void sonde_session_response(struct sonde_session *s, struct sonde_msg *m)
{
	sonde_pairing_response(&s->pairing, m);
}

void sonde_session_event(struct sonde_session *s, struct sonde_msg *m)
{
	sonde_pairing_event(&s->pairing, m);
}

void sonde_session_flush(struct sonde_session *s)
{
	sonde_pairing_flush(&s->pairing);
}

struct sonde_msg *sonde_session_oldest_request(const struct sonde_session *s)
{
	return sonde_pairing_oldest(&s->pairing);
}
