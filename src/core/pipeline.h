/* SPDX-License-Identifier: MIT */
/*
 * One capture's pipeline, wired: chunks in → connection table (reassembly,
 * detection, dissection, pairing) → the record stage chain (core/stage.h:
 * enrichment, redaction, filters, sinks). Every source feeds it the same way
 * (a struct sonde_chunk_out from sonde_pipeline_chunk_out()); it holds all
 * per-capture state, so two captures can run side by side.
 */
#ifndef SONDE_PIPELINE_H
#define SONDE_PIPELINE_H

#include "conn/conntable.h"
#include "core/chunk.h"
#include "core/stage.h"
#include "core/stats.h"

struct sonde_pipeline_opts {
	struct sonde_conntable_opts conn;
	struct sonde_dissect_opts dissect;
};

struct sonde_pipeline {
	struct sonde_stats stats;
	struct sonde_dissect_opts dopts;
	struct sonde_record_out out;
	struct sonde_conntable *conns;
	struct sonde_stage_chain stages;
};

/* Defaults for every option (documented in `sonde read --help`). */
void sonde_pipeline_defaults(struct sonde_pipeline_opts *o);
/* An empty chain: records go nowhere until stages are added. */
void sonde_pipeline_init(struct sonde_pipeline *p, const struct sonde_pipeline_opts *o);
/* Add a record stage (a sink, a filter...); the chain owns ctx from now. */
static inline int sonde_pipeline_add_stage(struct sonde_pipeline *p,
					   const struct sonde_stage_ops *ops, void *ctx)
{
	return sonde_stage_chain_add(&p->stages, ops, ctx);
}
static inline void sonde_pipeline_chunk(struct sonde_pipeline *p, const struct sonde_chunk *c)
{
	sonde_conntable_chunk(p->conns, c);
}
/* Live sources: the clock moved to now (wall clock, ns). */
static inline void sonde_pipeline_tick(struct sonde_pipeline *p, uint64_t now_ns)
{
	sonde_conntable_tick(p->conns, now_ns);
}
/* End of input: close every connection, writing what is pending, then let
 * every stage finish (sinks write the closing stats if asked to). */
void sonde_pipeline_finish(struct sonde_pipeline *p);
/* Close the stages (returns -1 with errno if a sink lost output) and free
 * the rest. */
int sonde_pipeline_free(struct sonde_pipeline *p);

#endif
