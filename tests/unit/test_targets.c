// SPDX-License-Identifier: MIT
/* Capture targets (enrich/targets.c): what --target accepts and refuses,
 * and which containers each selects, with which ports. */
#include "testutil.h"

#include "enrich/targets.h"

static struct sonde_kv L_web[] = { { "app", "checkout" }, { "tier", "web" } };
static struct sonde_kv L_db[] = { { "app", "checkout" }, { "tier", "db" }, { "legacy", "1" } };

static struct sonde_container_meta meta(const char *ns, const char *name, struct sonde_kv *labels,
					size_t nlabels)
{
	struct sonde_container_meta m = { .refs = 1, .name = (char *)name };
	m.pod_namespace = (char *)ns;
	m.labels = labels, m.nlabels = nlabels;
	return m;
}

static void add(struct sonde_targets *t, const char *arg)
{
	char why[256];
	assert_int_equal(sonde_targets_add(t, arg, why, sizeof(why)), 0);
}

static void refused(void **st)
{
	(void)st;
	static const char *const bad[] = {
		"", "namespace=", "pod=", "pod=app=x,,y", "pod=a b=c", "ports=0", "ports=70000",
		"ports=1,2,3,4,5,6,7,8,9", "ports=80x", "colour=blue", "namespace=a;bogus",
		"process=", "process=a,,b", "process=a,b,c,d,e", "process=sixteen-letters!",
	};
	struct sonde_targets t = { 0 };
	char why[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(sonde_targets_add(&t, bad[i], why, sizeof(why)), -1);
		assert_int_equal(t.n, 0);
	}
	for (int i = 0; i < SONDE_TARGETS_MAX_SEL; i++)
		add(&t, "all");
	assert_int_equal(sonde_targets_add(&t, "all", why, sizeof(why)), -1);
	sonde_targets_free(&t);
}

static void selectors(void **st)
{
	(void)st;
	struct sonde_targets t = { 0 };
	add(&t, "namespace=shop;pod=app=checkout,tier!=db,!legacy");
	struct sonde_container_meta web = meta("shop", "web", L_web, 2);
	struct sonde_container_meta db = meta("shop", "db", L_db, 3);
	struct sonde_container_meta other = meta("other", "web", L_web, 2);
	struct sonde_target out;
	assert_true(sonde_targets_match(&t, &web, &out));
	assert_int_equal(out.nports, 0);
	assert_false(sonde_targets_match(&t, &db, &out));
	assert_false(sonde_targets_match(&t, &other, &out));
	assert_false(sonde_targets_match(&t, NULL, &out)); /* unknown: not guessed */
	assert_false(sonde_targets_match_host(&t, &out));
	sonde_targets_free(&t);

	add(&t, "pod=tier==db");
	assert_true(sonde_targets_match(&t, &db, &out));
	assert_false(sonde_targets_match(&t, &web, &out));
	sonde_targets_free(&t);
	add(&t, "pod=legacy");
	assert_true(sonde_targets_match(&t, &db, &out));
	assert_false(sonde_targets_match(&t, &web, &out));
	sonde_targets_free(&t);
}

/* Kubernetes' set-based requirements: in (the key is there, with one of
 * the values), notin (absent, or another value); commas inside the set
 * are not requirement separators. */
static void set_selectors(void **st)
{
	(void)st;
	struct sonde_targets t = { 0 };
	struct sonde_container_meta web = meta("shop", "web", L_web, 2);
	struct sonde_container_meta db = meta("shop", "db", L_db, 3);
	struct sonde_container_meta bare = meta("shop", "x", NULL, 0);
	struct sonde_target out;
	add(&t, "pod=tier in (web, cache),app=checkout");
	assert_true(sonde_targets_match(&t, &web, &out));
	assert_false(sonde_targets_match(&t, &db, &out));
	assert_false(sonde_targets_match(&t, &bare, &out));
	sonde_targets_free(&t);
	add(&t, "pod=tier notin (db)");
	assert_true(sonde_targets_match(&t, &web, &out));
	assert_false(sonde_targets_match(&t, &db, &out));
	assert_true(sonde_targets_match(&t, &bare, &out)); /* no tier at all */
	sonde_targets_free(&t);
	add(&t, "pod=legacy notin (1,2),tier in (db,web)");
	assert_true(sonde_targets_match(&t, &web, &out));
	assert_false(sonde_targets_match(&t, &db, &out));
	sonde_targets_free(&t);
	static const char *const bad[] = {
		"pod=tier in ()", "pod=tier in (a,)", "pod=tier in a,b", "pod=tier in (a b)",
		"pod=tier in (a,b", "pod=tier notin", "pod= in (a)",
		"pod=k in (a,b,c,d,e,f,g,h,i)", "pod=a),b",
	};
	char why[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(sonde_targets_add(&t, bad[i], why, sizeof(why)), -1);
		assert_int_equal(t.n, 0);
	}
	sonde_targets_free(&t);
}

static void ports_and_hosts(void **st)
{
	(void)st;
	struct sonde_targets t = { 0 };
	add(&t, "container=web;ports=8080");
	add(&t, "namespace=shop;ports=8443,8080");
	add(&t, "ports=53");
	struct sonde_container_meta web = meta("shop", "web", L_web, 2);
	struct sonde_container_meta db = meta("shop", "db", L_db, 3);
	struct sonde_container_meta x = meta("x", "x", NULL, 0);
	struct sonde_target out;
	assert_true(sonde_targets_match(&t, &web, &out));
	/* the union of the targets that select it */
	assert_int_equal(out.nports, 3);
	assert_true(sonde_targets_match(&t, &db, &out));
	assert_int_equal(out.nports, 3); /* 8443, 8080 and ports=53's 53 */
	/* "ports=53" names no workload: everything, on port 53 */
	assert_true(sonde_targets_match(&t, &x, &out));
	assert_int_equal(out.nports, 1);
	assert_int_equal(out.ports[0], 53);
	assert_true(sonde_targets_match_host(&t, &out));
	assert_int_equal(out.nports, 1);
	sonde_targets_free(&t);
	add(&t, "all");
	assert_true(sonde_targets_match_host(&t, &out));
	assert_int_equal(out.nports, 0);
	sonde_targets_free(&t);
}

static void processes(void **st)
{
	(void)st;
	struct sonde_targets t = { 0 };
	add(&t, "namespace=shop;process=nginx");
	add(&t, "container=web;process=envoy,nginx");
	struct sonde_container_meta web = meta("shop", "web", L_web, 2);
	struct sonde_container_meta db = meta("shop", "db", L_db, 3);
	struct sonde_target out;
	assert_true(sonde_targets_match(&t, &web, &out));
	assert_int_equal(out.ncomms, 2); /* nginx, envoy: the union */
	char name[SONDE_COMM_LEN] = { 0 };
	memcpy(name, out.comms[1], SONDE_COMM_LEN);
	assert_string_equal(name, "envoy");
	assert_true(sonde_targets_match(&t, &db, &out));
	assert_int_equal(out.ncomms, 1);
	assert_false(sonde_targets_match_host(&t, &out));
	/* a target without a process term: every process of that container */
	add(&t, "container=web");
	assert_true(sonde_targets_match(&t, &web, &out));
	assert_int_equal(out.ncomms, 0);
	sonde_targets_free(&t);
	add(&t, "process=sshd");
	assert_true(sonde_targets_match_host(&t, &out));
	assert_int_equal(out.ncomms, 1);
	sonde_targets_free(&t);
}

static void annotations(void **st)
{
	(void)st;
	struct sonde_targets t = { 0 };
	add(&t, "namespace=shop;ports=80");
	struct sonde_kv no[] = { { "sonde.dev/capture", "false" } };
	struct sonde_kv yes[] = { { "sonde.dev/capture", "true" } };
	struct sonde_kv ports[] = { { "sonde.dev/ports", "8080,8443" } };
	struct sonde_container_meta m = meta("shop", "web", L_web, 2);
	struct sonde_target out;
	m.annotations = no, m.nannotations = 1;
	assert_false(sonde_targets_match(&t, &m, &out));
	m = meta("elsewhere", "web", L_web, 2);
	m.annotations = yes, m.nannotations = 1;
	assert_true(sonde_targets_match(&t, &m, &out));
	assert_int_equal(out.nports, 0);
	m = meta("shop", "web", L_web, 2);
	m.annotations = ports, m.nannotations = 1;
	assert_true(sonde_targets_match(&t, &m, &out));
	assert_int_equal(out.nports, 2);
	assert_int_equal(out.ports[0], 8080);
	assert_int_equal(out.ports[1], 8443);
	sonde_targets_free(&t);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(refused),
		tu_test(selectors),
		tu_test(set_selectors),
		tu_test(ports_and_hosts),
		tu_test(processes),
		tu_test(annotations),
	};
	return cmocka_run_group_tests_name("targets", tests, NULL, NULL);
}
