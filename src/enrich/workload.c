// SPDX-License-Identifier: MIT
#include "enrich/workload.h"

#include <stdio.h>
#include <string.h>

static const char *label(const struct sonde_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return kv[i].value;
	return NULL;
}

/* name without its last "-<suffix>", if the suffix is all digits (digits)
 * or any non-empty run (else); false if there is none. */
static bool strip_last(const char *pod, bool digits, char *out, size_t len)
{
	const char *dash = strrchr(pod, '-');
	if (!dash || dash == pod || !dash[1])
		return false;
	for (const char *p = dash + 1; digits && *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	size_t n = (size_t)(dash - pod);
	if (n >= len)
		return false;
	memcpy(out, pod, n);
	out[n] = 0;
	return true;
}

bool sonde_workload_of(const char *pod, const struct sonde_kv *labels, size_t nlabels,
		       const char **kind, char *name, size_t len)
{
	if (!pod || !*pod || !len)
		return false;
	const char *v;
	if ((v = label(labels, nlabels, "pod-template-hash")) && *v) {
		char mid[128];
		snprintf(mid, sizeof(mid), "-%s-", v);
		const char *at = strstr(pod, mid);
		size_t n = at ? (size_t)(at - pod) : 0;
		if (!n || n >= len)
			return false;
		memcpy(name, pod, n);
		name[n] = 0;
		*kind = "Deployment";
		return true;
	}
	if ((v = label(labels, nlabels, "statefulset.kubernetes.io/pod-name")) && !strcmp(v, pod)) {
		*kind = "StatefulSet";
		return strip_last(pod, true, name, len);
	}
	if (label(labels, nlabels, "controller-revision-hash") &&
	    label(labels, nlabels, "pod-template-generation")) {
		*kind = "DaemonSet";
		return strip_last(pod, false, name, len);
	}
	if ((v = label(labels, nlabels, "batch.kubernetes.io/job-name")) ||
	    (v = label(labels, nlabels, "job-name"))) {
		if (!*v || strlen(v) >= len)
			return false;
		snprintf(name, len, "%s", v);
		*kind = "Job";
		return true;
	}
	return false;
}
