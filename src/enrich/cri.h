/* SPDX-License-Identifier: MIT */
/*
 * The container runtime's CRI API (containerd, CRI-O): the pod of every
 * container the kubelet made, with the pod's labels and sonde.dev/
 * annotations, which no state file on the node holds for containerd. The
 * kubelet copies every pod label and annotation into the sandbox, so no
 * API server is needed.
 *
 * A thread of its own lists the node's pods and containers
 * (RuntimeService ListPodSandbox and ListContainers, runtime.v1, else
 * v1alpha2; PodSandboxStatus once per new sandbox, for its IP) every few
 * seconds, or sooner when a lookup missed; lookups
 * only read the latest list, so the capture never waits on the runtime.
 * A failed listing is counted and tried again at the next turn.
 */
#ifndef SONDE_ENRICH_CRI_H
#define SONDE_ENRICH_CRI_H

#include <stdbool.h>
#include <stdint.h>

#include "enrich/container.h"
#include "enrich/cri_msg.h"

struct sonde_cri;

/* Start listing through the socket at path. NULL only when out of memory
 * or no thread could start (why says). The caller holds one reference. */
struct sonde_cri *sonde_cri_start(const char *path, char *why, size_t whylen);
/* One client serves every stage of a run (enrichment, the target scan):
 * each holds a reference; the last one dropped stops the thread. */
struct sonde_cri *sonde_cri_ref(struct sonde_cri *c);
void sonde_cri_stop(struct sonde_cri *c); /* drop a reference (NULL: none) */

/*
 * A run's client: socket path as --cri-socket gives it ("" none, NULL the
 * usual ones under root, sonde_cri_find_socket). NULL when there is no
 * socket or no thread (why says, "" for no socket).
 */
struct sonde_cri *sonde_cri_open(const char *root, const char *socket, char *why, size_t whylen);

/* The first of the usual sockets under root ("/" or "/proc/1/root") that
 * exists: containerd's, then CRI-O's; false when none does. */
bool sonde_cri_find_socket(const char *root, char *path, size_t len);

/*
 * What the latest listing says of container id, merged into m (fields m
 * already has are kept; labels and annotations are the pod's). Returns
 * false when the listing does not have it (a refresh is asked for).
 */
bool sonde_cri_fill(struct sonde_cri *c, const char *id, struct sonde_container_meta *m);

/*
 * The pod on this node whose IP is ip (text form), merged into m as
 * sonde_cri_fill does: an end of a connection sonde found no process for
 * (its socket is in another network namespace) is still named. Pods on the
 * node's network have no IP of their own and never match. False if none.
 */
bool sonde_cri_fill_by_ip(struct sonde_cri *c, const char *ip, struct sonde_container_meta *m);

/* Changes each time a listing differs from the one before (0: none yet). */
uint64_t sonde_cri_generation(struct sonde_cri *c);

struct sonde_cri_counts {
	uint64_t listings, failures, misses;
};
void sonde_cri_counts(struct sonde_cri *c, struct sonde_cri_counts *out);
/* The counts into the capture's enrich_cri_* counters (st may be NULL). */
void sonde_cri_stats(struct sonde_cri *c, struct sonde_stats *st);

/* One listing, synchronously (the thread's body; tests). 0, or -1 with why. */
int sonde_cri_fetch(const char *path, int timeout_ms, struct sonde_cri_list *l, char *why,
		    size_t whylen);

#endif
