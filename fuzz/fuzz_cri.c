/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the CRI responses sonde decodes from a runtime's socket
 * (src/enrich/cri_msg.c): ListPodSandboxResponse and ListContainersResponse.
 *
 * Input layout: u8 options, then the response bytes.
 *   options & 1   decode as ListContainersResponse (else ListPodSandbox)
 *   options & 2   also as PodSandboxStatusResponse (the pod's IP)
 *
 * Each decoded pod's labels and sonde.dev/ annotations (sonde.dev/ports is
 * parsed from them) then go through capture targets' matching, and its
 * name and labels through the workload's derivation.
 *
 * Oracles besides the sanitizers: what is kept stays within the bounds of
 * cri_msg.h, every kept string is NUL-free and within SONDE_CRI_STR_MAX,
 * only sonde.dev/ annotations are kept, and a match's ports and processes
 * stay within the kernel's bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/cri_msg.h"
#include "enrich/targets.h"
#include "enrich/workload.h"
#include "fuzz_common.h"

static void check_str(const char *s)
{
	FUZZ_CHECK(!s || strlen(s) <= SONDE_CRI_STR_MAX, "string over the bound");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	struct sonde_cri_list l = { 0 };
	if (opt & 1)
		sonde_cri_decode_containers(data + 1, size - 1, &l);
	else
		sonde_cri_decode_pods(data + 1, size - 1, &l);
	if (opt & 2) {
		struct sonde_cri_pod pod = { 0 };
		sonde_cri_decode_status(data + 1, size - 1, &pod);
		FUZZ_CHECK(!pod.ip || strlen(pod.ip) <= 45, "IP too long");
		free(pod.ip);
	}
	FUZZ_CHECK(l.npods <= SONDE_CRI_PODS_MAX && l.nctrs <= SONDE_CRI_CTRS_MAX, "too many");
	for (size_t i = 0; i < l.npods; i++) {
		const struct sonde_cri_pod *p = &l.pods[i];
		FUZZ_CHECK(p->id && p->nlabels <= SONDE_CRI_KV_MAX &&
				   p->nannotations <= SONDE_CRI_KV_MAX,
			   "pod %zu", i);
		check_str(p->name);
		for (size_t k = 0; k < p->nannotations; k++)
			FUZZ_CHECK(!strncmp(p->annotations[k].key, "sonde.dev/", 10),
				   "annotation %s kept", p->annotations[k].key);
	}
	struct sonde_targets t = { 0 };
	char why[128];
	sonde_targets_add(&t, "pod=app=web,tier!=db,!legacy;ports=80", why, sizeof(why));
	sonde_targets_add(&t, "namespace=shop;process=nginx", why, sizeof(why));
	for (size_t i = 0; i < l.npods; i++) {
		const struct sonde_cri_pod *p = &l.pods[i];
		struct sonde_container_meta m = { .refs = 1, .name = p->name };
		m.pod_namespace = p->namespace;
		m.labels = p->labels, m.nlabels = p->nlabels;
		m.annotations = p->annotations, m.nannotations = p->nannotations;
		const char *kind;
		char wname[64];
		if (sonde_workload_of(p->name, p->labels, p->nlabels, &kind, wname, sizeof(wname)))
			FUZZ_CHECK(strlen(wname) < sizeof(wname) && kind, "workload");
		struct sonde_target out;
		if (sonde_targets_match(&t, &m, &out))
			FUZZ_CHECK(out.nports <= SONDE_TARGET_PORTS && out.ncomms <= SONDE_TARGET_COMMS,
				   "target bounds");
	}
	sonde_targets_free(&t);
	for (size_t i = 0; i < l.nctrs; i++) {
		FUZZ_CHECK(l.ctrs[i].id, "container without id");
		check_str(l.ctrs[i].image);
	}
	sonde_cri_list_free(&l);
	return 0;
}
