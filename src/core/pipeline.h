/* SPDX-License-Identifier: MIT */
/*
 * One capture's pipeline, wired: chunks in → connection table (reassembly,
 * detection, dissection, pairing) → sink. Every source feeds it the same way;
 * it holds all per-capture state, so two captures can run side by side.
 */
#ifndef SONDE_PIPELINE_H
#define SONDE_PIPELINE_H

#include "conn/conntable.h"
#include "sink/sink.h"
#include "core/chunk.h"
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
	struct sonde_sink *sink;
};

/* Defaults for every option (documented in `sonde read --help`). */
void sonde_pipeline_defaults(struct sonde_pipeline_opts *o);
void sonde_pipeline_init(struct sonde_pipeline *p, const struct sonde_pipeline_opts *o,
			 struct sonde_sink *sink);
static inline void sonde_pipeline_chunk(struct sonde_pipeline *p, const struct sonde_chunk *c)
{
	sonde_conntable_chunk(p->conns, c);
}
/* Live sources: the clock moved to now (wall clock, ns). */
static inline void sonde_pipeline_tick(struct sonde_pipeline *p, uint64_t now_ns)
{
	sonde_conntable_tick(p->conns, now_ns);
}
/* End of input: close every connection, writing what is pending. */
void sonde_pipeline_finish(struct sonde_pipeline *p);
void sonde_pipeline_free(struct sonde_pipeline *p);

#endif
