/* SPDX-License-Identifier: MIT */
/*
 * Capture targets applied in the kernel: a thread walks the node's cgroup
 * v2 tree every 2 s, names the container of each cgroup (enrich/cgroup.h),
 * looks it up (state files, the CRI API) and puts the cgroups that
 * --target selects, with their ports, in the eBPF source's targets map;
 * the kernel programs follow nothing else, so unwatched workloads cost a
 * map lookup per call. The first walk is done before capture starts; a
 * container started later is followed from the walk after it appears.
 *
 * It is also a record stage (SONDE_STAGE_ENRICH) that passes every record
 * and, at the end, writes its counters (target_*) into the run's stats.
 */
#ifndef SONDE_ENRICH_TARGET_SCAN_H
#define SONDE_ENRICH_TARGET_SCAN_H

#include "core/stage.h"
#include "core/stats.h"
#include "enrich/targets.h"

struct sonde_cri;

struct sonde_target_scan_opts {
	const struct sonde_targets *targets; /* copied */
	int map_fd; /* the eBPF source's targets map */
	const char *cgroup_root; /* the cgroup v2 mount; NULL: found in mountinfo */
	const char *root; /* the node's root for runtime state: "/" */
	const char *cri_socket; /* as enrich's: NULL the usual, "" none */
	struct sonde_cri *cri; /* the run's client, shared (a reference is
				* taken); NULL: opened here as cri_socket says */
	struct sonde_stats *stats;
};

extern const struct sonde_stage_ops sonde_target_scan_stage;

/* The stage's context; NULL with why when no cgroup v2 tree is found or no
 * thread can start. */
void *sonde_target_scan_new(const struct sonde_target_scan_opts *o, char *why, size_t whylen);

#endif
