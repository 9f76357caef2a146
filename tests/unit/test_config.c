// SPDX-License-Identifier: MIT
/* --config's loader (app/config.c): the chart's own values file becomes
 * the options it stands for; every refusal names its line; unknown keys,
 * wrong shapes, lists too long, several documents and broken YAML are
 * refused; chart-only keys are left alone. */
#include "testutil.h"

#include "app/config.h"

static int parse(const char *text, struct sonde_config *c, char *why, size_t len)
{
	return sonde_config_parse((const uint8_t *)text, strlen(text), "v.yaml", c, why, len);
}

/* "name=value" (or "name") of each option, joined by spaces. */
static void joined(const struct sonde_config *c, char *out, size_t len)
{
	size_t n = 0;
	out[0] = 0;
	for (size_t i = 0; i < c->n && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s%s%s", i ? " " : "", c->opt[i].name,
				      c->opt[i].value ? "=" : "",
				      c->opt[i].value ? c->opt[i].value : "");
}

static void the_chart_values(void **state)
{
	(void)state;
	/* the chart's values file, as shipped, is a valid config */
	struct sonde_config c;
	char why[512];
	assert_int_equal(sonde_config_load("deploy/helm/sonde/values.yaml" /* run from the tree */,
					   &c, why, sizeof(why)),
			 0);
	char all[2048];
	joined(&c, all, sizeof(all));
	assert_non_null(strstr(all, "source=ebpf"));
	assert_non_null(strstr(all, "cri-socket=/run/containerd/containerd.sock"));
	assert_null(strstr(all, "image"));
	sonde_config_free(&c);
}

static void options_from_values(void **state)
{
	(void)state;
	const char *text = "image:\n  repository: x\n"
			   "source: af_packet\n"
			   "interfaces: [eth0, eth1]\n"
			   "capture:\n"
			   "  tls: false\n"
			   "  targets:\n"
			   "    - namespace: shop\n"
			   "      podSelector: \"app=checkout,tier!=db\"\n"
			   "      processes: [nginx, envoy]\n"
			   "      ports: [8080, 8443]\n"
			   "    - {}\n"
			   "output: {format: json, stats: true}\n"
			   "runtimeSocket: \"\"\n"
			   "store: {path: /var/lib/sonde, size: 2g}\n"
			   "masking:\n  enabled: true\n  headers: [X-Secret]\n  fields: [pin]\n"
			   "sinks: [\"clickhouse=http://127.0.0.1:8123/t\"]\n"
			   "node: web-1\n";
	struct sonde_config c;
	char why[512], all[2048];
	assert_int_equal(parse(text, &c, why, sizeof(why)), 0);
	joined(&c, all, sizeof(all));
	assert_string_equal(all, "source=af_packet interface=eth0 interface=eth1 no-tls "
				 "target=namespace=shop;pod=app=checkout,tier!=db;process=nginx,"
				 "envoy;ports=8080,8443 target=all output=json stats "
				 "cri-socket=none store=/var/lib/sonde store-size=2g "
				 "redact-header=X-Secret redact-field=pin "
				 "sink=clickhouse=http://127.0.0.1:8123/t node=web-1");
	assert_int_equal(c.opt[0].line, 3);
	assert_int_equal(c.opt[4].line, 8); /* a target: where its entry starts */
	sonde_config_free(&c);
	/* connection records off; on (the default) says nothing */
	assert_int_equal(parse("output: {connections: false}\n", &c, why, sizeof(why)), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.opt[0].name, "no-connections");
	sonde_config_free(&c);
	assert_int_equal(parse("output: {connections: true}\n", &c, why, sizeof(why)), 0);
	assert_int_equal(c.n, 0);
	sonde_config_free(&c);
	/* masking off; an empty file says nothing */
	assert_int_equal(parse("masking:\n  enabled: false\n", &c, why, sizeof(why)), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.opt[0].name, "no-redact");
	sonde_config_free(&c);
	assert_int_equal(parse("", &c, why, sizeof(why)), 0);
	assert_int_equal(c.n, 0);
	/* the chart's store: off whatever else it says; on without a path:
	 * the node agent's directory */
	assert_int_equal(
		parse("store: {size: 1g, path: /x, enabled: false}\n", &c, why, sizeof(why)), 0);
	assert_int_equal(c.n, 0);
	sonde_config_free(&c);
	assert_int_equal(parse("store:\n  size: 1g\n  enabled: true\n", &c, why, sizeof(why)), 0);
	joined(&c, all, sizeof(all));
	assert_string_equal(all, "store=/var/lib/sonde/store store-size=1g");
	sonde_config_free(&c);
}

static void refused(const char *text, const char *want)
{
	struct sonde_config c;
	char why[512] = "";
	assert_int_equal(parse(text, &c, why, sizeof(why)), -1);
	assert_int_equal(c.n, 0);
	if (!strstr(why, want))
		fail_msg("'%s' does not say '%s'", why, want);
}

static void refusals(void **state)
{
	(void)state;
	refused("source: ebpf\nsorce: x\n", "v.yaml:2: unknown key 'sorce' in the file");
	refused("capture:\n  tls: yes please\n", "v.yaml:2: capture.tls: true or false");
	refused("capture:\n  targets:\n    - namespace: shop\n      pods: x\n",
		"v.yaml:4: unknown key 'pods' in a capture target");
	refused("capture:\n  targets:\n    - namespace: \"a;b\"\n", "v.yaml:3: namespace:");
	refused("capture:\n  targets:\n    - ports: [\"1,2\"]\n", "v.yaml:3:");
	refused("interfaces: eth0\n", "v.yaml:1: interfaces: a list is wanted");
	refused("output: json\n", "v.yaml:1: output: a mapping");
	refused("store: {enabled: maybe}\n", "v.yaml:1: store.enabled: true or false");
	refused("source: [a\n", "v.yaml:2:1:");
	refused("source: a\n---\nsource: b\n", "one YAML document");
	refused("- a\n- b\n", "the file: a mapping");
	char big[2048] = "interfaces: [";
	for (int i = 0; i < 65; i++)
		strcat(big, "a,");
	strcat(big, "b]\n");
	refused(big, "at most 64 entries");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_chart_values),
		cmocka_unit_test(options_from_values),
		cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
