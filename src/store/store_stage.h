/* SPDX-License-Identifier: MIT */
/*
 * The store as a record stage (a sink): each record becomes a row on the
 * capture's thread and is queued for the store's writer thread, which
 * commits them in batches. A full queue drops the record and counts it
 * (store_queue_drops): capture is never held up by the disk.
 */
#ifndef SONDE_STORE_STAGE_H
#define SONDE_STORE_STAGE_H

#include "core/stage.h"
#include "core/stats.h"
#include "store/store.h"

extern const struct sonde_stage_ops sonde_store_stage;

/* The stage's context; NULL with one sentence in err. stats: the run's,
 * updated with the store's counters as records go by and at the end. */
void *sonde_store_stage_new(const struct sonde_store_opts *o, struct sonde_stats *stats, char *err,
			    size_t errlen);

#endif
