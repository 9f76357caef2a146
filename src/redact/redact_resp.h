/* SPDX-License-Identifier: MIT */
/*
 * Redis credentials in the recording's bytes (redact_stream.c): commands
 * as RESP arrays or inline lines, judged argument by argument as the
 * records judge them (proto/redis/redis_secret.h), and replies that name a
 * secret parameter before its value (CONFIG GET). Stateless: the stream
 * masker rescans its carried context with each chunk, so a command is
 * judged whole when its start lies within that context.
 */
#ifndef SONDE_REDACT_RESP_H
#define SONDE_REDACT_RESP_H

#include "redact/redact.h"

/* RESP arrays (and maps, sets, pushes) in p[0..n): their credential bulk
 * strings as spans. Returns the bytes of a credential left past n. */
uint32_t sonde_redact_scan_resp(const uint8_t *p, size_t n, struct sonde_redact_spans *sp);
/* An inline command on the line p[a..e): its credential words as spans. */
void sonde_redact_scan_inline(const uint8_t *p, size_t a, size_t e, struct sonde_redact_spans *sp);

#endif
