/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: capture targets (src/enrich/targets.c), the --target parser
 * and the matcher, on selectors that come from users, Helm values and pod
 * annotations.
 *
 * Input layout: the bytes up to the first NUL are a --target argument; the
 * rest are label pairs "key=value" separated by newlines (at most 16), the
 * labels of a pod in namespace "ns" named "c", whose annotations are the
 * same pairs.
 *
 * Oracles besides the sanitizers: a refused argument adds nothing; an
 * accepted one is matched against the pod and against no pod at all
 * without crashing; matching twice gives the same answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/targets.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LABELS_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t alen = nul ? (size_t)(nul - data) : size;
	char *arg = malloc(alen + 1);
	memcpy(arg, data, alen);
	arg[alen] = 0;
	struct sonde_kv labels[LABELS_MAX];
	char *rest = NULL;
	size_t nlabels = 0;
	if (nul) {
		size_t rlen = size - alen - 1;
		rest = malloc(rlen + 1);
		memcpy(rest, nul + 1, rlen);
		rest[rlen] = 0;
		for (char *line = rest, *next; line && *line && nlabels < LABELS_MAX; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = 0;
			char *eq = strchr(line, '=');
			if (!eq)
				continue;
			*eq = 0;
			labels[nlabels++] = (struct sonde_kv){ line, eq + 1 };
		}
	}
	struct sonde_targets t = { 0 };
	char why[256];
	int rc = sonde_targets_add(&t, arg, why, sizeof(why));
	FUZZ_CHECK(rc == 0 || t.n == 0, "a refused target was kept");
	if (rc == 0) {
		struct sonde_container_meta m = { .refs = 1, .name = (char *)"c" };
		m.pod_namespace = (char *)"ns";
		m.labels = labels, m.nlabels = nlabels;
		m.annotations = labels, m.nannotations = nlabels;
		struct sonde_target a, b;
		bool x = sonde_targets_match(&t, &m, &a);
		bool y = sonde_targets_match(&t, &m, &b);
		FUZZ_CHECK(x == y, "two answers for one pod");
		sonde_targets_match(&t, NULL, &a);
		sonde_targets_match_host(&t, &a);
	}
	sonde_targets_free(&t);
	free(arg);
	free(rest);
	return 0;
}
