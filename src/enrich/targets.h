/* SPDX-License-Identifier: MIT */
/*
 * Capture targets (--target, repeatable; the chart's capture.targets):
 * which workloads sonde follows. One target is a list of terms that must
 * all hold, separated by ';'; a workload is followed when any target
 * selects it:
 *   namespace=NAME       the pod's namespace
 *   pod=SELECTOR         the pod's labels, Kubernetes' label selector:
 *                        app=checkout,tier!=db,canary,!legacy,
 *                        env in (prod,qa),track notin (canary)
 *   container=NAME       the container's name
 *   process=NAME[,NAME...]  only processes with one of these command names
 *                        (at most 4, 15 characters as the kernel keeps them)
 *   ports=P[,P...]       only connections with one of these ports (at most 8)
 *   all                  every workload (so annotations alone decide)
 * A target without namespace/pod/container terms also selects processes
 * outside containers. Where several targets select one container, its
 * processes and ports are the unions of theirs (the kernel keeps one rule
 * per cgroup). Pod annotations override, per workload:
 *   sonde.dev/capture: "false"  never followed; "true": followed even
 *                        when no target selects it
 *   sonde.dev/ports: "8080,8443"  the ports followed there
 * Pure: no I/O.
 */
#ifndef SONDE_ENRICH_TARGETS_H
#define SONDE_ENRICH_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h> /* the __u types of sonde_events.h */

#include "enrich/container.h"
#include "sonde_events.h" /* struct sonde_target, shared with the kernel */

#define SONDE_TARGETS_MAX_SEL 16 /* --target options */
#define SONDE_TARGET_REQS_MAX 16 /* label requirements per target */

#define SONDE_LABEL_VALUES_MAX 8 /* values of one `in (...)` */

struct sonde_label_req {
	char *key;
	char *values[SONDE_LABEL_VALUES_MAX]; /* the value is one of them */
	size_t nvalues; /* 0: existence */
	bool negated; /* !=, notin, !key: absent or another value */
};

struct sonde_target_sel {
	char *namespace, *container; /* NULL: any */
	struct sonde_label_req reqs[SONDE_TARGET_REQS_MAX];
	size_t nreqs;
	uint16_t ports[SONDE_TARGET_PORTS];
	size_t nports; /* 0: every port */
	char comms[SONDE_TARGET_COMMS][SONDE_COMM_LEN];
	size_t ncomms; /* 0: every process */
	bool workload_terms; /* names a namespace, pod or container */
};

struct sonde_targets {
	struct sonde_target_sel sel[SONDE_TARGETS_MAX_SEL];
	size_t n;
};

/* Add one --target. 0, or -1 with why (nothing added). */
int sonde_targets_add(struct sonde_targets *t, const char *arg, char *why, size_t whylen);
void sonde_targets_free(struct sonde_targets *t);

/*
 * The verdict for a container (m: its metadata, NULL when unknown — only
 * targets without workload terms can select it then): true when followed,
 * with the ports and processes wanted in *out (the unions over the targets
 * that select it; nports, ncomms 0: all).
 */
bool sonde_targets_match(const struct sonde_targets *t, const struct sonde_container_meta *m,
			 struct sonde_target *out);
/* The same for processes outside any container. */
bool sonde_targets_match_host(const struct sonde_targets *t, struct sonde_target *out);

/* "8080,8443" → ports (at most SONDE_TARGET_PORTS); -1 if malformed. */
int sonde_ports_parse(const char *s, uint16_t *ports, size_t *n);

#endif
