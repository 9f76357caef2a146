/* SPDX-License-Identifier: MIT */
/* sonde capture's command line: argv → what a capture is asked to do. */
#ifndef SONDE_CLI_CAPTURE_ARGS_H
#define SONDE_CLI_CAPTURE_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/config.h"
#include "app/run.h"
#include "enrich/targets.h"
#include "source/ebpf/ebpf.h"
#include "source/packet/live.h"
#include "cli/options.h"

#define TLS_LIBS_MAX 32
#define SONDE_SOURCE_KINDS_MAX 4 /* packet kinds of one --source list */
/* --pid/--port/--comm options given (each may be a list) */
#define ARGS_MAX 64

/* What argv asks of a capture. */
struct capture_args {
	struct sonde_common_opts co;
	struct sonde_ebpf_opts eo;
	const char *tls_libs[TLS_LIBS_MAX + 1];
	size_t ntls_libs;
	uint64_t duration_ns;
	char *copies[ARGS_MAX]; /* --pid/--port/--comm arguments, cut at commas */
	size_t ncopies;
	const struct sonde_source_ops *source; /* the packet kind; else eBPF */
	/* --source with several kinds (ebpf,af_packet): the eBPF source and the
	 * packet kinds, each connection from one of them (app/arbiter.h) */
	bool with_ebpf;
	const struct sonde_source_ops *more[SONDE_SOURCE_KINDS_MAX];
	size_t nmore;
	struct sonde_all_netns_opts more_ao[SONDE_SOURCE_KINDS_MAX];
	struct sonde_packet_opts po;
	char netns[64]; /* --netns as a path */
	char source_name[256]; /* records' capture.source */
	bool ebpf_only_given; /* an eBPF-only option was given (--cgroup aside) */
	bool no_enrich; /* --no-enrich */
	bool kube_api; /* --kube-api */
	const char *kube_account; /* --kube-api-account; NULL: the pod's */
	bool all_netns; /* --all-netns */
	struct sonde_all_netns_opts ao; /* its options: the kind and po */
	const char *cri_socket; /* --cri-socket: NULL the usual, "" none */
	struct sonde_targets targets; /* --target */
	const char *host_root; /* --host-root: NULL "/" */
	const char *user; /* --user */
	bool keep_privs; /* --keep-privileges */
	const char *audit_log; /* --audit-log: NULL the default, "" none */
	struct sonde_config config; /* --config's options (values kept: options point in) */
	int argc; /* the command line, for the audit log */
	char **argv;
};

/* argv → *a. Returns -1 to go on and capture, else the exit status
 * (SONDE_EXIT_OK after --help). */
int capture_args_parse(int argc, char **argv, struct capture_args *a);
void capture_args_free(struct capture_args *a);

#endif
