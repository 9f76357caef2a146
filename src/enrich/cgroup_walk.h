/* SPDX-License-Identifier: MIT */
/*
 * A bounded depth-first walk of a cgroup v2 tree: every directory below a
 * root, with its inode number (the cgroup id the kernel reports). Used by
 * the target scanner (which cgroups --target selects) and the cgroup-id
 * resolver of packet records.
 */
#ifndef SONDE_ENRICH_CGROUP_WALK_H
#define SONDE_ENRICH_CGROUP_WALK_H

#include <stdint.h>

#define SONDE_CGROUP_WALK_DEPTH 12 /* kubepods/<qos>/pod<uid>/<id> is 4 */
#define SONDE_CGROUP_WALK_DIRS 65536

/* Calls fn for each directory under root (not root itself) with its path
 * below root ("/a/b") and its inode, at most SONDE_CGROUP_WALK_DIRS of
 * them and SONDE_CGROUP_WALK_DEPTH deep. */
void sonde_cgroup_walk(const char *root, void (*fn)(void *ctx, const char *rel, uint64_t id),
		       void *ctx);

#endif
