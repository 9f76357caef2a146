/* SPDX-License-Identifier: MIT */
/*
 * Reassembly of one direction of a byte stream.
 *
 * Positions are 64-bit offsets from the stream's start, so sequence-number
 * wrap-around is handled once, in sonde_reasm_offset(). Bytes are delivered
 * in order exactly once; when two copies of a byte disagree the first one
 * received wins. Whatever cannot be delivered — never captured, beyond the
 * snap length, or given up on for lack of memory — is delivered as a gap of
 * exact length, so dissectors always know where they are.
 *
 * Memory: segments waiting behind a hole are copied; their total per stream
 * and across all streams (a shared budget) is bounded. When a bound is hit
 * the oldest hole is declared a gap instead of buffering more.
 */
#ifndef SONDE_REASM_H
#define SONDE_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"

/* Memory shared by all streams of one capture. */
struct sonde_mem_budget {
	size_t used;
	size_t limit; /* bytes buffered out of order, across all streams */
	size_t per_stream; /* the same, per stream */
};

/* Where in-order bytes go. */
struct sonde_reasm_out {
	void (*data)(void *ctx, const uint8_t *p, size_t n, uint64_t ts_ns);
	void (*gap)(void *ctx, uint64_t n, uint64_t ts_ns);
	void *ctx;
};

/* A buffered piece: `len` captured bytes then `gap` bytes known to be lost.
 * Internal to reasm.c; visible so tests and fuzzers can check the list. */
struct sonde_reasm_seg {
	struct sonde_reasm_seg *next;
	uint64_t off;
	uint64_t ts_ns;
	uint32_t len;
	uint32_t gap;
	uint8_t data[];
};

struct sonde_reasm {
	uint64_t next; /* offset of the next byte to deliver */
	uint64_t fin_off; /* valid when fin */
	uint32_t isn; /* TCP sequence number of offset 0 */
	bool base_known;
	bool fin;
	bool fin_delivered;
	bool midstream; /* the stream's start was not seen */
	struct sonde_reasm_seg *ooo; /* sorted, non-overlapping */
	size_t ooo_bytes;
	uint32_t ooo_count;
};

void sonde_reasm_init(struct sonde_reasm *r);
/* Forget buffered segments (returning their memory to the budget). */
void sonde_reasm_free(struct sonde_reasm *r, struct sonde_mem_budget *b);

/* Set offset 0 at TCP sequence number `isn` (the SYN's seq + 1). */
void sonde_reasm_set_isn(struct sonde_reasm *r, uint32_t isn, bool midstream);

/*
 * Offset of TCP sequence number `seq`, relative to the delivery point so it
 * is right across wrap-around. Negative when before the stream's start.
 */
int64_t sonde_reasm_offset(const struct sonde_reasm *r, uint32_t seq);

/*
 * Add `caplen` captured bytes at offset `off`, of which the wire carried
 * `wirelen` (the rest is a known gap). Delivers whatever became contiguous.
 */
void sonde_reasm_add(struct sonde_reasm *r, struct sonde_mem_budget *b, struct sonde_stats *st,
		     const struct sonde_reasm_out *out, uint64_t off, const uint8_t *p,
		     uint32_t caplen, uint32_t wirelen, uint64_t ts_ns);

/* The stream ends at offset `off` (FIN). */
void sonde_reasm_fin(struct sonde_reasm *r, uint64_t off);
/* True once every byte up to the FIN was delivered or declared a gap. */
static inline bool sonde_reasm_done(const struct sonde_reasm *r)
{
	return r->fin && r->next >= r->fin_off;
}

/*
 * The peer acknowledged everything below `off`. If a hole lies below it while
 * later bytes already wait, the hole can never be filled: declare it a gap.
 */
void sonde_reasm_ack(struct sonde_reasm *r, struct sonde_mem_budget *b, struct sonde_stats *st,
		     const struct sonde_reasm_out *out, uint64_t off, uint64_t ts_ns);

/* Deliver everything buffered, holes as gaps (the connection is ending). */
void sonde_reasm_flush(struct sonde_reasm *r, struct sonde_mem_budget *b, struct sonde_stats *st,
		       const struct sonde_reasm_out *out, uint64_t ts_ns);

#endif
