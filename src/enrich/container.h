/* SPDX-License-Identifier: MIT */
/*
 * A container id → what the node's runtime says of it: its name, image and
 * runtime, and its pod (name, namespace, uid, labels) when a kubelet made
 * it. Read from each runtime's own state files, under a root that is "/"
 * when sonde runs on the node and "/proc/1/root" when it runs in a
 * container:
 *   podman, CRI-O  {/run,/var/lib}/containers/storage/overlay-containers/
 *                  <id>/userdata/config.json (the OCI spec: annotations),
 *                  and that directory's containers.json (names, image name)
 *   containerd     /run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/
 *                  config.json (CRI annotations io.kubernetes.cri.*)
 *   docker         /var/lib/docker/containers/<id>/config.v2.json (Name,
 *                  Config.Image, Config.Labels)
 * Pod labels are the sandbox's labels where the state keeps them (CRI-O's
 * io.kubernetes.cri-o.Labels on the sandbox); kubelet's own io.kubernetes.*
 * keys are left out of them. What no file says is unknown (NULL), never
 * guessed. Results, found or not, are cached (bounded); a miss is retried
 * after a few seconds, since a container's state is written as it starts.
 */
#ifndef SONDE_ENRICH_CONTAINER_H
#define SONDE_ENRICH_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"
#include "enrich/cgroup.h"

struct sonde_kv {
	char *key, *value;
};

/* Append key (copied) and value (taken; NULL: nothing), at most 64. */
void sonde_kv_push(struct sonde_kv **kv, size_t *n, const char *key, char *value);

/* Shared, immutable once made: hold it with _ref, let go with _unref. */
struct sonde_container_meta {
	unsigned refs;
	enum sonde_runtime runtime; /* the runtime whose state named it */
	char id[SONDE_CONTAINER_ID_MAX + 1];
	char *name, *image; /* NULL: unknown */
	char *pod_name, *pod_namespace, *pod_uid; /* NULL: unknown or no pod */
	char *pod_ip; /* NULL: unknown, or the pod shares the node's network */
	struct sonde_kv *labels; /* the pod's labels */
	size_t nlabels;
	struct sonde_kv *annotations; /* the pod's sonde.dev/ annotations only */
	size_t nannotations;
	bool from_cri; /* the runtime's CRI API added to it */
};

struct sonde_container_meta *sonde_container_meta_ref(struct sonde_container_meta *m);
void sonde_container_meta_unref(struct sonde_container_meta *m);
/* For attribute slots: unref through a void pointer. */
void sonde_container_meta_free(void *m);

struct sonde_container_cache;
struct sonde_cri;

/* root: "/" when NULL. max_entries 0: 256. Counters into stats (may be NULL). */
struct sonde_container_cache *sonde_container_cache_new(const char *root, size_t max_entries,
							struct sonde_stats *stats);
void sonde_container_cache_free(struct sonde_container_cache *c);
/* Also ask the runtime's CRI API (owned by the caller, outliving the
 * cache): a container is read again when a new listing may know more. */
void sonde_container_cache_set_cri(struct sonde_container_cache *c, struct sonde_cri *cri);

/*
 * Container ctr (from its cgroup) at time now_ns (any monotonic clock): a
 * new reference the caller unrefs, or NULL when no runtime's state has it
 * (counted in enrich_container_failures; retried after a few seconds).
 */
struct sonde_container_meta *sonde_container_lookup(struct sonde_container_cache *c,
						    const struct sonde_cgroup_ctr *ctr,
						    uint64_t now_ns);

/* The pod (no container: which one is not known) whose IP is ip, from the
 * CRI listing; NULL without one. A new reference. */
struct sonde_container_meta *sonde_container_pod_by_ip(struct sonde_container_cache *c,
						       const char *ip);

/* Uncached: read the runtime state under root. NULL if none has it. */
struct sonde_container_meta *sonde_container_read(const char *root,
						  const struct sonde_cgroup_ctr *ctr);

#endif
