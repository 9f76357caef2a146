/* SPDX-License-Identifier: MIT */
/*
 * What a capture session says about itself and gives up once running: its
 * audit events (app/audit.h) and its privilege plan (app/privs.h), from the
 * options `sonde capture` parsed.
 */
#ifndef SONDE_CLI_CAPTURE_GUARD_H
#define SONDE_CLI_CAPTURE_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "app/audit.h"
#include "app/privs.h"

struct sonde_common_opts;
struct sonde_ebpf_opts;
struct sonde_packet_opts;
struct sonde_stats;

struct capture_guard_desc {
	int argc;
	char **argv;
	const struct sonde_common_opts *co;
	const char *source; /* --source, as named */
	const char *source_name; /* records' capture.source */
	const struct sonde_ebpf_opts *eo; /* NULL: not the eBPF source */
	const struct sonde_packet_opts *po; /* NULL: the eBPF source */
	bool all_netns, enrich, cri;
	size_t ntargets;
	uint64_t duration_ns;
};

/* The start event: who, the command line (masked), sources, filters,
 * targets, TLS probing, redaction, sinks. */
void capture_audit_start(struct sonde_audit *au, const struct capture_guard_desc *d);
/* An eBPF opts on_tls_probe callback (ctx: the audit log). */
void capture_audit_tls_probe(void *au, const char *path, const char *library, uint32_t pid);
/* The stop event: why, exit status, how long, what was captured (stats). */
void capture_audit_stop(struct sonde_audit *au, const char *why, int status, uint64_t secs,
			const struct sonde_stats *st);

/* The running capture enters namespaces (--all-netns; tc's classifiers in
 * another namespace are undone there at exit). */
bool capture_needs_setns(const struct capture_guard_desc *d);
/* The capabilities the running capture still needs (docs/security.md). */
sonde_caps capture_caps_needed(const struct capture_guard_desc *d);

#endif
