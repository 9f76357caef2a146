/* SPDX-License-Identifier: MIT */
/*
 * TCP sequence normalisation: 32-bit TCP sequence numbers that wrap become
 * 64-bit offsets into one direction's byte stream (struct sonde_reasm), and
 * the peer's ACKs say which holes can never fill.
 *
 * Only chunks with seq_kind SONDE_SEQ_TCP32 (packet sources) come here;
 * sources that count stream bytes themselves (SONDE_SEQ_STREAM64) do not.
 * A SYN sets the stream's start; without one the first byte seen is offset 0
 * and the stream is marked mid-stream. Bytes from before that start are
 * retransmissions: counted in retransmitted_bytes and cut off.
 */
#ifndef SONDE_TCPSEQ_H
#define SONDE_TCPSEQ_H

#include <stdbool.h>
#include <stdint.h>

#include "core/chunk.h"
#include "core/stats.h"
#include "conn/reasm.h"

/* Where a chunk's payload lies in its direction's stream. */
struct sonde_span {
	uint64_t off; /* stream offset of p[0] */
	const uint8_t *p;
	uint32_t caplen, wirelen; /* as in struct sonde_chunk */
	bool midstream; /* this chunk started the stream without its SYN */
};

/*
 * Place chunk `ch` (SONDE_SEQ_TCP32) in stream `rs`, the direction it was
 * sent in, setting the stream's start on first sight. Returns false when the
 * chunk brings nothing to add or FIN to note: a bare ACK before the stream's
 * start is known, or bytes all from before that start. Returns true with
 * *out set otherwise (out->wirelen may be 0: a FIN alone).
 */
bool sonde_tcpseq_place(struct sonde_reasm *rs, const struct sonde_chunk *ch,
			struct sonde_stats *st, struct sonde_span *out);

/*
 * Chunk `ch` (SONDE_SEQ_TCP32, flags with ACK) acknowledges bytes of the
 * peer's stream `peer`: a hole below the acknowledged point while later
 * bytes wait can never fill, so it is delivered as a gap to `o`.
 */
void sonde_tcpseq_ack(struct sonde_reasm *peer, const struct sonde_chunk *ch,
		      struct sonde_mem_budget *b, struct sonde_stats *st,
		      const struct sonde_reasm_out *o);

#endif
