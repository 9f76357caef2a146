/* SPDX-License-Identifier: MIT */
/*
 * A run: sources in front of one pipeline, driven until the input ends or
 * the run is told to stop. This is the layer `sonde read`, `sonde capture`
 * and a daemon share; the command line only turns argv into the options,
 * sources and stages it assembles here.
 *
 *   sonde_run_init() → sonde_run_add_stage()… → sonde_run_add_source()…
 *   → sonde_run_loop() → sonde_run_finish() → sonde_run_free()
 *
 * The loop ends when every source has ended (files), a stage wants no more
 * records (-c reached, the reader of stdout gone), *stop is set (a signal),
 * or the duration has passed. Live sources are waited on through their
 * descriptors (epoll when there are several); the pipeline's clock is ticked
 * for them once a second and sinks are flushed after every poll.
 */
#ifndef SONDE_RUN_H
#define SONDE_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pipeline.h"
#include "redact/redact_stream.h"
#include "sink/pcapng.h"
#include "source/source.h"

#define SONDE_RUN_SOURCES_MAX 8

struct sonde_run;

struct sonde_run_opts {
	struct sonde_pipeline_opts pipe;
	uint64_t duration_ns; /* live runs: stop after this long; 0: never */
	const volatile sig_atomic_t *stop; /* set (by a signal handler): stop; may be NULL */
	/* Live runs: called every progress_ns with fresh counters (-v's rates). */
	void (*progress)(void *ctx, const struct sonde_run *r, double secs);
	void *progress_ctx;
	uint64_t progress_ns; /* 0: never */
	/* -w: every frame of packet sources as it is, every chunk of stream
	 * sources as synthetic TCP/IP; NULL: no recording. The run does not
	 * own it. */
	struct sonde_pcapng *record;
	/* -w: masks secrets in stream chunks before they are recorded (the
	 * run does not own it); NULL: recorded as captured. Packet frames
	 * are always recorded as the wire carried them. */
	struct sonde_redact_stream *record_mask;
	/* Several kinds of source at once: each connection from one of them
	 * (app/arbiter.h). */
	bool one_source_per_conn;
};

struct sonde_run_source {
	const struct sonde_source_ops *ops;
	void *state;
	bool ended;
	struct sonde_run *run;
	const char *name; /* its chunks' capture.source, unless they say; NULL: the run's */
};

struct sonde_run {
	struct sonde_run_opts opts;
	struct sonde_pipeline pipe;
	struct sonde_run_source src[SONDE_RUN_SOURCES_MAX];
	size_t nsrc, nlive;
	int epfd; /* several live sources: their descriptors; else -1 */
	struct sonde_arbiter *arbiter; /* opts.one_source_per_conn; else NULL */
	/* -w: the recording's interface per link type of packet frames */
	struct {
		uint32_t linktype;
		int id;
	} rec_ifaces[8];
	size_t nrec_ifaces;
	bool rec_failed; /* said once; records go on */
	char error[512]; /* why the loop failed, or what a source found damaged */
};

void sonde_run_init(struct sonde_run *r, const struct sonde_run_opts *o);
/* A record stage (core/stage.h); the run owns ctx from now. */
int sonde_run_add_stage(struct sonde_run *r, const struct sonde_stage_ops *ops, void *ctx);
/*
 * Open a source of kind ops with its own options, feeding this run's
 * pipeline. Returns the source's state (for calls of its own kind, e.g.
 * sonde_ebpf_hook_name()), or NULL with one sentence in err.
 */
void *sonde_run_add_source(struct sonde_run *r, const struct sonde_source_ops *ops,
			   const void *opts, char *err, size_t errlen);
/*
 * Drive the sources. Returns 0, or -1 with sonde_run_error() saying what
 * went wrong: a source failed, or a file was damaged (records before the
 * damage are kept; finish the run as usual).
 */
int sonde_run_loop(struct sonde_run *r);
/* Several sources: the records of source `state` say `name` (not owned)
 * in capture.source where its chunks do not name a place themselves. */
void sonde_run_name_source(struct sonde_run *r, void *state, const char *name);
/* Live connections, for progress lines. */
size_t sonde_run_connections(const struct sonde_run *r);
/* Drain and close the sources, close every connection and finish the
 * stages (the closing stats). */
void sonde_run_finish(struct sonde_run *r);
/* Free everything; returns -1 with errno set if a sink lost output (EPIPE:
 * its reader went away), else 0. */
int sonde_run_free(struct sonde_run *r);
static inline const char *sonde_run_error(const struct sonde_run *r)
{
	return r->error[0] ? r->error : NULL;
}
static inline const struct sonde_stats *sonde_run_stats(const struct sonde_run *r)
{
	return &r->pipe.stats;
}

#endif
