/* SPDX-License-Identifier: MIT */
/*
 * Which cgroup a cgroup id is. A cgroup v2 id (bpf_skb_cgroup_id(), the
 * cgroup_skb source's capture.cgroup_id) is the inode number of the
 * cgroup's directory, so the tree under the cgroup v2 mount is walked
 * (bounded: 65536 directories, 12 deep) and id → path kept; an id not
 * there walks again, at most once per interval, so a burst of unknown ids
 * costs one walk. The path, below the mount, is what enrich/cgroup.h reads
 * a container from.
 */
#ifndef SONDE_ENRICH_CGROUP_IDS_H
#define SONDE_ENRICH_CGROUP_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cgroup v2 mount point (hybrid hosts: /sys/fs/cgroup/unified); the
 * last one mounted wins. False when none is. */
bool sonde_cgroup2_mount(char *out, size_t len);

struct sonde_cgroup_ids;

/* root: the cgroup v2 mount (NULL: found in mountinfo); rewalk_ms: the
 * least time between walks (0: 1000). NULL when no tree is mounted. */
struct sonde_cgroup_ids *sonde_cgroup_ids_new(const char *root, unsigned rewalk_ms);
void sonde_cgroup_ids_free(struct sonde_cgroup_ids *c);

/* Cgroup id's path below the mount ("/libpod_parent/libpod-<id>"), valid
 * until the next call; NULL when the tree (walked again if allowed) has no
 * such cgroup. now_ns: a monotonic clock. */
const char *sonde_cgroup_ids_path(struct sonde_cgroup_ids *c, uint64_t id, uint64_t now_ns);

/* A process of the cgroup at rel (its cgroup.procs' first), 0 if none. */
uint32_t sonde_cgroup_ids_member(const struct sonde_cgroup_ids *c, const char *rel);

/* Walks done so far (tests, stats). */
uint64_t sonde_cgroup_ids_walks(const struct sonde_cgroup_ids *c);

#endif
