// SPDX-License-Identifier: MIT
/* The workload of a pod from its name and labels (enrich/workload.c), as
 * the controllers name their pods. */
#include "testutil.h"

#include "enrich/workload.h"

static void check(const char *pod, struct sonde_kv *kv, size_t n, const char *kind, const char *name)
{
	const char *k = NULL;
	char out[64];
	bool got = sonde_workload_of(pod, kv, n, &k, out, sizeof(out));
	if (!kind) {
		assert_false(got);
		return;
	}
	assert_true(got);
	assert_string_equal(k, kind);
	assert_string_equal(out, name);
}

static void workloads(void **st)
{
	(void)st;
	struct sonde_kv dep[] = { { "app", "checkout" }, { "pod-template-hash", "7d9f6b5c4" } };
	check("checkout-7d9f6b5c4-x2kqp", dep, 2, "Deployment", "checkout");
	check("my-shop-api-7d9f6b5c4-x2kqp", dep, 2, "Deployment", "my-shop-api");
	check("renamed-pod", dep, 2, NULL, NULL); /* the hash is not in the name */
	struct sonde_kv sts[] = { { "controller-revision-hash", "db-5f8" },
				  { "statefulset.kubernetes.io/pod-name", "db-0" } };
	check("db-0", sts, 2, "StatefulSet", "db");
	check("db-x", (struct sonde_kv[]){ { "statefulset.kubernetes.io/pod-name", "db-x" } }, 1,
	      NULL, NULL);
	struct sonde_kv ds[] = { { "controller-revision-hash", "6c9b" },
				 { "pod-template-generation", "1" } };
	check("sonde-8x7zq", ds, 2, "DaemonSet", "sonde");
	check("nodash", ds, 2, NULL, NULL);
	struct sonde_kv job[] = { { "job-name", "migrate-28473" } };
	check("migrate-28473-abcde", job, 1, "Job", "migrate-28473");
	check("web-0", NULL, 0, NULL, NULL);
	check(NULL, dep, 2, NULL, NULL);
	/* a name too long for the buffer: none, not cut */
	char longpod[200];
	memset(longpod, 'a', 150);
	strcpy(longpod + 150, "-7d9f6b5c4-x2kqp");
	check(longpod, dep, 2, NULL, NULL);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = { tu_test(workloads) };
	return cmocka_run_group_tests_name("workload", tests, NULL, NULL);
}
