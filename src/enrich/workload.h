/* SPDX-License-Identifier: MIT */
/*
 * The workload that made a pod, where the pod's name and labels say it by
 * the controllers' own conventions (no API server asked):
 *   Deployment   label pod-template-hash=H, name <deployment>-H-<suffix>
 *                (its ReplicaSet is <deployment>-H)
 *   StatefulSet  label statefulset.kubernetes.io/pod-name equal to the
 *                name, which is <statefulset>-<ordinal>
 *   DaemonSet    labels controller-revision-hash and pod-template-generation,
 *                name <daemonset>-<suffix>
 *   Job          label job-name (batch.kubernetes.io/job-name)
 * Anything else: none (unknown is not guessed). Pure.
 */
#ifndef SONDE_ENRICH_WORKLOAD_H
#define SONDE_ENRICH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "enrich/container.h"

/* kind is a static string; name (len bytes) the workload's. False: none. */
bool sonde_workload_of(const char *pod_name, const struct sonde_kv *labels, size_t nlabels,
		       const char **kind, char *name, size_t len);

#endif
