/* SPDX-License-Identifier: MIT */
/*
 * The record stage chain: what happens to a record after pairing. Stages run
 * in a fixed order of phases — enrichment (who is talking), redaction (secrets
 * masked before anything leaves sonde), filters (records the user did not
 * ask for are dropped), then every sink (stdout, files, the store,
 * exporters), each of which gets every record that got that far. Within a
 * phase, stages run in the order they were added.
 *
 * A stage is a const struct sonde_stage_ops plus its context, which the
 * chain owns once added (close() frees it). Stages may set a record's flags
 * and attach per-connection attributes (core/attrs.h); the messages stay
 * pairing's and are freed after the chain returns, so a stage that keeps
 * anything copies it.
 */
#ifndef SONDE_STAGE_H
#define SONDE_STAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/record.h"
#include "core/stats.h"

enum sonde_stage_phase {
	SONDE_STAGE_ENRICH = 0,
	SONDE_STAGE_REDACT,
	SONDE_STAGE_FILTER,
	SONDE_STAGE_SINK,
};

struct sonde_stage_ops {
	const char *name;
	enum sonde_stage_phase phase;
	/* One record. Before the sinks, false drops it (later stages never
	 * see it); a sink's answer is ignored. */
	bool (*record)(void *ctx, struct sonde_record *r);
	/* Input ended: the capture's final counters. May be NULL. */
	void (*finish)(void *ctx, const struct sonde_stats *st);
	/* Live capture: push out what is written so far. May be NULL. */
	void (*flush)(void *ctx);
	/* Nothing more is wanted (a sink reached -c, or its reader went away):
	 * the run stops. May be NULL. */
	bool (*done)(const void *ctx);
	/* Free the context. Returns -1 with errno set if output was lost (a
	 * failed write), else 0. May be NULL. */
	int (*close)(void *ctx);
};

#define SONDE_STAGES_MAX 16

struct sonde_stage_chain {
	struct sonde_stage {
		const struct sonde_stage_ops *ops;
		void *ctx;
	} stage[SONDE_STAGES_MAX];
	size_t n;
	struct sonde_stats *stats;
};

void sonde_stage_chain_init(struct sonde_stage_chain *ch, struct sonde_stats *stats);
/* Add a stage in its phase (after the stages already there). Returns -1 if
 * the chain is full. */
int sonde_stage_chain_add(struct sonde_stage_chain *ch, const struct sonde_stage_ops *ops,
			  void *ctx);
void sonde_stage_chain_record(struct sonde_stage_chain *ch, const struct sonde_record *r);
void sonde_stage_chain_finish(struct sonde_stage_chain *ch);
void sonde_stage_chain_flush(struct sonde_stage_chain *ch);
/* A stage (any) wants no more records. */
bool sonde_stage_chain_done(const struct sonde_stage_chain *ch);
/* Close every stage; returns -1 with the first failure's errno, else 0. */
int sonde_stage_chain_close(struct sonde_stage_chain *ch);

#endif
