/* SPDX-License-Identifier: MIT */
/*
 * The few CRI messages sonde reads (k8s.io/cri-api runtime/v1 api.proto),
 * decoded from their protobuf bytes by hand with the wire reader of
 * proto/content/protobuf.h: ListPodSandboxResponse (the pods: metadata,
 * labels, annotations) and ListContainersResponse (each container's pod,
 * name and image). Requests are empty messages (no filter: every pod of
 * the node), so nothing is encoded.
 *
 * The bytes come from a socket sonde does not control: every count and
 * size is bounded (below), strings are copied NUL-terminated with NULs
 * refused, and malformed bytes fail the whole response.
 */
#ifndef SONDE_ENRICH_CRI_MSG_H
#define SONDE_ENRICH_CRI_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enrich/container.h"

#define SONDE_CRI_PODS_MAX 4096
#define SONDE_CRI_CTRS_MAX 16384
#define SONDE_CRI_KV_MAX 64 /* labels, and annotations kept, per pod */
#define SONDE_CRI_STR_MAX 4096 /* bytes of one string */

struct sonde_cri_pod {
	char *id, *name, *namespace, *uid;
	char *ip; /* from PodSandboxStatus; NULL: none (host network) or not asked */
	bool status_asked;
	struct sonde_kv *labels;
	size_t nlabels;
	/* Only sonde's own (sonde.dev/...): other annotations may carry
	 * anything, secrets included (kubectl's last-applied-configuration). */
	struct sonde_kv *annotations;
	size_t nannotations;
};

struct sonde_cri_ctr {
	char *id, *pod_id, *name, *image;
};

struct sonde_cri_list {
	struct sonde_cri_pod *pods;
	size_t npods;
	struct sonde_cri_ctr *ctrs;
	size_t nctrs;
	size_t dropped; /* pods or containers past the bounds, not kept */
	const char *api_version; /* "v1" or "v1alpha2": what answered */
};

/* Decode one response into l (appending). 0, or -1 if malformed (l then
 * holds what was decoded before; free it either way). */
int sonde_cri_decode_pods(const uint8_t *p, size_t n, struct sonde_cri_list *l);
int sonde_cri_decode_containers(const uint8_t *p, size_t n, struct sonde_cri_list *l);
void sonde_cri_list_free(struct sonde_cri_list *l);
/* PodSandboxStatusResponse: the pod's first IP into pod->ip (kept NULL when
 * it has none). 0, or -1 if malformed. */
int sonde_cri_decode_status(const uint8_t *p, size_t n, struct sonde_cri_pod *pod);
/* PodSandboxStatusRequest for sandbox id, into out (at most len bytes);
 * its length, or 0 if it does not fit. */
size_t sonde_cri_status_request(const char *id, uint8_t *out, size_t len);

const struct sonde_cri_pod *sonde_cri_find_pod(const struct sonde_cri_list *l, const char *id);
const struct sonde_cri_ctr *sonde_cri_find_ctr(const struct sonde_cri_list *l, const char *id);

#endif
