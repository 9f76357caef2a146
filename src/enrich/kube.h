/* SPDX-License-Identifier: MIT */
/*
 * The Kubernetes API, optionally (--kube-api): what the node cannot know
 * of the other end of a connection — a pod IP on another node → its pod
 * (name, namespace, uid, labels), a cluster IP → its Service.
 *
 * In-cluster, as client-go does it: the API server at
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the pod's
 * service account token and CA from its directory (the token read again
 * for each request: the kubelet rotates it). A thread per resource — this
 * node's Pods (fieldSelector spec.nodeName: labels too), every Service
 * (cluster IPs), every EndpointSlice (the pods behind Services, on any
 * node: a remote peer's pod IP) — each a list (paged) and then a watch from the list's
 * resourceVersion: ADDED/MODIFIED/DELETED keep a bounded table
 * (enrich/kube_table.h), BOOKMARKs move the version on, a watch that ends
 * is resumed from the last version, "410 Gone" (as a status or an ERROR
 * event) lists again; failures are counted and retried with backoff (1 s
 * doubling to 30 s). A remote pod that backs no Service is not named.
 * Lookups only read the tables: the capture never waits on the API server.
 */
#ifndef SONDE_ENRICH_KUBE_H
#define SONDE_ENRICH_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"
#include "enrich/container.h"

#define SONDE_KUBE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct sonde_kube_opts {
	const char *account_dir; /* token, ca.crt; NULL: SONDE_KUBE_ACCOUNT_DIR */
	const char *node; /* pods of this node; NULL: $NODE_NAME, else the host's name */
};

struct sonde_kube;

/* Start the client: NULL (why says) without the service's address in the
 * environment, the account's files, or a thread. */
struct sonde_kube *sonde_kube_start(const struct sonde_kube_opts *o, char *why, size_t whylen);
void sonde_kube_stop(struct sonde_kube *k); /* NULL: nothing */

/* The pod whose IP is ip (text form), as a container meta without a
 * container (the caller unrefs); NULL if the API has none. */
struct sonde_container_meta *sonde_kube_pod_by_ip(struct sonde_kube *k, const char *ip);
/* The Service whose cluster IP is ip; false if none. */
bool sonde_kube_service_by_ip(struct sonde_kube *k, const char *ip, char *name, size_t namelen,
			      char *ns, size_t nslen);
/* Changes whenever either table does. */
uint64_t sonde_kube_generation(struct sonde_kube *k);

/* The counts into the capture's kube_api_* counters. */
void sonde_kube_stats(struct sonde_kube *k, struct sonde_stats *st);

#endif
