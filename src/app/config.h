/* SPDX-License-Identifier: MIT */
/*
 * The node agent's configuration file (`sonde capture --config sonde.yaml`),
 * in the structure of the Helm chart's values (deploy/helm/sonde/
 * values.yaml), so one values file configures both the chart and the agent
 * (the chart renders it into a ConfigMap the DaemonSet mounts):
 *
 *   source: af_packet            interfaces: [eth0]       node: web-1
 *   capture: {tls: true, targets: [{namespace, podSelector, container,
 *             processes: [..], ports: [..]}]}
 *   output: {format: json, stats: true}
 *   runtimeSocket: /run/containerd/containerd.sock    ("" : none)
 *   store: {path, size, maxAge}       sinks: [clickhouse=http://...]
 *   masking: {enabled: true, headers: [..], fields: [..], patterns: [..]}
 *
 * Keys that only the chart uses (image, resources, tolerations, ...) are
 * accepted and left alone; any other key is refused, with its line. The
 * file becomes `sonde capture` options (long names, values), which the
 * command line then overrides: an option given there drops the file's.
 * Parsed with libyaml; bounded (1 MiB of text, 64 entries per list), so a
 * hostile file costs little.
 */
#ifndef SONDE_APP_CONFIG_H
#define SONDE_APP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct sonde_config_opt {
	char *name; /* a long option of sonde capture: "source", "target" */
	char *value; /* NULL for an option without a value ("stats") */
	unsigned line; /* where the file says it, from 1 */
};

struct sonde_config {
	struct sonde_config_opt *opt;
	size_t n;
};

#define SONDE_CONFIG_MAX_BYTES (1u << 20)

/* Parse text (len bytes; name for messages). 0, or -1 with why
 * ("NAME:LINE: ...") and *out empty. */
int sonde_config_parse(const uint8_t *text, size_t len, const char *name, struct sonde_config *out,
		       char *why, size_t whylen);
/* The same from the file at path. */
int sonde_config_load(const char *path, struct sonde_config *out, char *why, size_t whylen);
void sonde_config_free(struct sonde_config *c);

#endif
