/* SPDX-License-Identifier: MIT */
/*
 * What the Kubernetes API server sends the client of enrich/kube.c, taken
 * as hostile input: a list's body (PodList, ServiceList) and a watch's
 * stream of events, one JSON object per line ({"type": "ADDED" | "MODIFIED"
 * | "DELETED" | "BOOKMARK" | "ERROR", "object": ...}). Parsed with json-c
 * (core/json_doc.h: strict RFC 8259, UTF-8 checked), nesting bounded; of each Pod or Service only what enrichment needs is
 * kept, every string and count bounded (below). Pure: no I/O, no locks.
 */
#ifndef SONDE_ENRICH_KUBE_WATCH_H
#define SONDE_ENRICH_KUBE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enrich/container.h"

#define SONDE_KUBE_LINE_MAX (1u << 20) /* one watch event: 1 MiB */
#define SONDE_KUBE_LIST_MAX (32u << 20) /* one page of a list: 32 MiB */
#define SONDE_KUBE_STR_MAX 253 /* a DNS subdomain: names, namespaces */
#define SONDE_KUBE_RV_MAX 64 /* resourceVersion */
#define SONDE_KUBE_IPS_MAX 2 /* a pod's or Service's: dual stack */
#define SONDE_KUBE_SLICE_MAX 1000 /* an EndpointSlice's endpoints (the API's bound) */
#define SONDE_KUBE_LABELS_MAX 64
#define SONDE_KUBE_DEPTH_MAX 48

enum sonde_kube_kind { SONDE_KUBE_POD, SONDE_KUBE_SERVICE, SONDE_KUBE_SLICE };

/* An address of an object; of an EndpointSlice, the pod behind it. */
struct sonde_kube_addr {
	char ip[48];
	char *pod, *pod_uid; /* EndpointSlice: targetRef of kind Pod; else NULL */
};

enum sonde_kube_type {
	SONDE_KUBE_ADDED,
	SONDE_KUBE_MODIFIED,
	SONDE_KUBE_DELETED,
	SONDE_KUBE_BOOKMARK,
	SONDE_KUBE_ERROR,
};

/* A Pod, Service or EndpointSlice, as far as enrichment needs it. */
struct sonde_kube_object {
	char name[SONDE_KUBE_STR_MAX + 1], ns[SONDE_KUBE_STR_MAX + 1];
	char uid[64];
	char rv[SONDE_KUBE_RV_MAX + 1];
	/* Pod: status.podIPs (else podIP); none while pending, or when the
	 * pod is on the node's network (its IP is the node's, not its own),
	 * or once it has ended (Succeeded, Failed: the IP may be reused).
	 * Service: spec.clusterIPs (else clusterIP), "None" left out.
	 * EndpointSlice (IPv4, IPv6): each endpoint's first address, with
	 * its pod (endpoints of other targets left out). */
	struct sonde_kube_addr *addrs;
	size_t naddrs;
	struct sonde_kv *labels; /* the pod's labels (not a Service's) */
	size_t nlabels;
	bool labels_cut; /* more labels than kept */
};

void sonde_kube_object_clear(struct sonde_kube_object *o);

struct sonde_kube_event {
	enum sonde_kube_type type;
	struct sonde_kube_object obj; /* BOOKMARK: obj.rv only */
	int code; /* ERROR: the Status's code (410: the version is gone) */
};

/*
 * One watch event's line (without its newline) of a watch of kind. 0, or
 * -1 when it is not an event of that kind: not JSON, nested too deep, an
 * unknown type, an object of another kind. The event owns its addresses
 * and labels (sonde_kube_object_clear).
 */
int sonde_kube_parse_event(const char *line, size_t len, enum sonde_kube_kind kind,
			   struct sonde_kube_event *ev);

/*
 * A list's body (one page): each item given to fn, then the list's
 * resourceVersion (where the watch starts) and continue token (next page;
 * "" for the last). Items of another kind are skipped and counted in
 * *skipped. 0, or -1 when the body is not a list of kind. The item passed
 * to fn is cleared after the call.
 */
int sonde_kube_parse_list(const char *body, size_t len, enum sonde_kube_kind kind,
			  void (*fn)(void *ctx, const struct sonde_kube_object *o), void *ctx,
			  char *rv, size_t rvlen, char *cont, size_t contlen, size_t *skipped);

/*
 * The watch's bytes into lines, split anywhere by the network. A line
 * longer than SONDE_KUBE_LINE_MAX is dropped whole (counted, the stream
 * resumes after its newline). Bounded by construction.
 */
struct sonde_kube_lines {
	char *buf;
	size_t len;
	bool skipping; /* inside a line too long to keep */
	uint64_t too_long; /* lines dropped */
};

/* Feed n bytes; fn gets each complete line (no newline, NUL-terminated
 * for json-c, valid during the call). fn returning false stops (the rest
 * is dropped); returns false then. Empty lines are skipped. */
bool sonde_kube_lines_feed(struct sonde_kube_lines *l, const char *p, size_t n,
			   bool (*fn)(void *ctx, const char *line, size_t len), void *ctx);
void sonde_kube_lines_reset(struct sonde_kube_lines *l); /* a new stream */
void sonde_kube_lines_free(struct sonde_kube_lines *l);

#endif
