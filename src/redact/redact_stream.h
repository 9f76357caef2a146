/* SPDX-License-Identifier: MIT */
/*
 * Masking the recording: the bytes of stream chunks (eBPF syscall data, TLS
 * plaintext), which `-w` turns into synthetic TCP, are masked in place with
 * the same number of '*' bytes before they are written, so the packets'
 * lengths and sequence numbers stay true and Wireshark still reassembles
 * them. The same rules as the records' (redact.h) find the secrets in the
 * bytes: HTTP/1 header lines, request targets and URLs, key=value pairs,
 * JSON members, Redis AUTH and HELLO … AUTH, card numbers and the patterns.
 *
 * Chunks split messages anywhere, so each direction keeps the last bytes it
 * saw (a header's name may end one chunk and its value begin the next) and
 * a secret still open at a chunk's end (a value with no terminator yet, a
 * Redis bulk string's remaining length) goes on being masked in the next.
 * State is bounded: a fixed table of directions, a direction's slot reused
 * by another (losing only its carried context) when they collide.
 */
#ifndef SONDE_REDACT_STREAM_H
#define SONDE_REDACT_STREAM_H

#include "core/chunk.h"
#include "core/stats.h"
#include "redact/redact.h"

struct sonde_redact_stream;

/* Over rules r, which must outlive it. */
struct sonde_redact_stream *sonde_redact_stream_new(const struct sonde_redactor *r);
void sonde_redact_stream_free(struct sonde_redact_stream *s);
/*
 * The chunk c with its secrets masked: a copy (valid until the next call)
 * whose data is masked, or c itself when nothing was. Counts the bytes
 * masked in st->redacted_recording_bytes.
 */
const struct sonde_chunk *sonde_redact_stream_chunk(struct sonde_redact_stream *s,
						    const struct sonde_chunk *c,
						    struct sonde_stats *st);
/*
 * --follow's conversation through the same masking: a tap (conn/conntable.h)
 * that masks each direction's bytes and hands them to next. NULL with
 * rules NULL (redaction off). Free with sonde_redact_follow_free().
 */
struct sonde_follow_out;
struct sonde_redact_follow;
struct sonde_redact_follow *sonde_redact_follow_new(const struct sonde_redactor *r,
						    const struct sonde_follow_out *next,
						    struct sonde_stats *st);
const struct sonde_follow_out *sonde_redact_follow_out(struct sonde_redact_follow *f);
void sonde_redact_follow_free(struct sonde_redact_follow *f);

/* The scan alone, over one buffer: p[0..n) masked in place, where the first
 * `ctx` bytes are context only (already written) and stay as they are.
 * more: bytes may follow, so what may begin a secret at the end (digits of
 * a card, an authority before its '@') is masked; else p ends there (an
 * HTTP/2 field value, redact_h2.c). Returns the kind of secret still open
 * at the end (0: none), for tests. */
int sonde_redact_stream_scan(const struct sonde_redactor *r, uint8_t *p, size_t n, size_t ctx,
			     bool more, uint32_t *open_count);

#endif
