/* SPDX-License-Identifier: MIT */
/* Options every pipeline-running subcommand shares (output, limits). */
#ifndef SONDE_OPTIONS_H
#define SONDE_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>

#include "app/run.h"
#include "query/filter.h"
#include "core/pipeline.h"
#include "redact/redact.h"
#include "redact/redact_stream.h"
#include "sink/pcapng.h"
#include "sink/sink.h"
#include "store/store.h"

#define SONDE_PROTO_PORTS_MAX 16

struct sonde_common_opts {
	struct sonde_pipeline_opts pipe;
	int format; /* enum sonde_sink_format, or -1: by whether stdout is a tty */
	bool stats;
	bool summary; /* --summary */
	bool quiet; /* -q: no informational lines on stderr */
	bool line_buffered; /* -l: every record written as soon as it is complete */
	uint64_t count; /* -c N: stop after N records; 0: no limit */
	bool no_records; /* -o none: only the recording (-w) */
	bool no_names; /* --no-names: ends not named from DNS answers */
	struct sonde_text_opts text; /* -u, -V; colour from --color */
	int colour; /* --color: -1 auto (a terminal without NO_COLOR), 0 never, 1 always */
	struct sonde_pcapng_opts rec; /* -w FILE and its rotation; path NULL: none */
	struct sonde_redactor redact; /* the masking rules (defaults + --redact-*) */
	bool no_redact; /* --no-redact */
	/* --proto-port NAME=PORT: forced port hints, ended by port 0 */
	struct sonde_port_hint proto_ports[SONDE_PROTO_PORTS_MAX + 1];
	size_t nproto_ports;
	struct sonde_filter *filter; /* -Y EXPR (docs/filter.md); NULL: every record */
	struct sonde_store_opts store; /* --store DIR and its bounds; dir NULL: none */
	uint64_t store_raw; /* --store-raw SIZE: the raw bytes' quota; 0: not kept */
	char *store_raw_path; /* the recording's path in the store (owned) */
	const char *clickhouse; /* --sink clickhouse=URL: the URL; NULL: none */
	const char *node; /* --node NAME; NULL: the hostname */
	const char *ch_spill; /* --clickhouse-spill DIR; NULL: the store's, or none */
	size_t ch_spill_size; /* --clickhouse-spill-size; 0: the default */
};

/* -Y: the filter stage (records it does not match are dropped, counted);
 * nothing without -Y. The run owns the filter from now. */
void sonde_common_filter(struct sonde_common_opts *o, struct sonde_run *run);
/* --store: the store's stage, before the stdout sink so that the closing
 * stats count what it kept. 0, or -1 after a message. */
int sonde_common_store(struct sonde_common_opts *o, struct sonde_run *run);
/* Redaction in front of every sink: the redaction stage, or with
 * --no-redact the stage that flags records unredacted (said on stderr). */
void sonde_common_redact(struct sonde_common_opts *o, struct sonde_run *run);
/* -w's masker of stream bytes (TLS plaintext, eBPF): NULL without -w or with
 * --no-redact. packets: the source records frames as the wire carried them
 * (said once on stderr, unless quiet). */
struct sonde_redact_stream *sonde_common_record_mask(const struct sonde_common_opts *o,
						     bool packets);

/* -w (or --store-raw: into the store's directory): open the recording. NULL
 * without, or with *status set to the exit status after a message (a bad
 * combination of options, a file that cannot be created). */
struct sonde_pcapng *sonde_common_record(struct sonde_common_opts *o, const char *cmd, int *status);
/* The record sink of -o (stdout; stats only with -o none or -w -). */
struct sonde_sink *sonde_common_sink(struct sonde_common_opts *o, bool immediate);
/* -w's end: close it, saying why if it lost packets. Returns -1 then. */
int sonde_common_record_close(struct sonde_pcapng *w, const char *cmd);

/* Long options with ids from 1000 up; short: -o, -c, -q, -l, -u, -V, and -w,
 * -C, -W, -G of the recording (tcpdump's letters). */
#define SONDE_COMMON_SHORTOPTS "o:c:qlw:C:W:G:uVY:"
extern const struct option sonde_common_longopts[];
extern const char sonde_common_usage[];

void sonde_common_defaults(struct sonde_common_opts *o);
/*
 * Handle option `c` (a getopt_long return) if it is a common one: returns 1
 * if handled, 0 if not a common option, -1 after printing a message for a
 * bad value (or a --proto-descriptor file that cannot be read).
 */
/* "CMD: invalid value 'VAL' for --OPT: WHY" on stderr (why may be NULL); -1. */
int sonde_bad_value(const char *cmd, const char *opt, const char *val, const char *why);
int sonde_common_option(struct sonde_common_opts *o, int c, const char *arg, const char *cmd);
/* Free what options loaded (the --proto-descriptor set), once the pipeline is gone. */
void sonde_common_free(struct sonde_common_opts *o);
/* Concatenate two NULL-terminated option arrays (caller frees). */
struct option *sonde_options_join(const struct option *a, const struct option *b);

#endif
