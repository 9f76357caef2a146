/* SPDX-License-Identifier: MIT */
/*
 * -Y EXPR: the filter as a record stage (core/stage.h, SONDE_STAGE_FILTER),
 * after enrichment and redaction, before every sink: records it does not
 * match go no further (not written, not in --summary, not counted by -c)
 * and are counted in the stats' records_filtered.
 */
#ifndef SONDE_QUERY_FILTER_STAGE_H
#define SONDE_QUERY_FILTER_STAGE_H

#include "core/stage.h"
#include "core/stats.h"
#include "query/filter.h"

extern const struct sonde_stage_ops sonde_filter_stage;
/* The stage's context; it owns f from now (freed when the chain closes). */
void *sonde_filter_stage_new(struct sonde_filter *f, struct sonde_stats *stats);

#endif
