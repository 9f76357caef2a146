/* SPDX-License-Identifier: MIT */
/*
 * The source interface. Every way sonde captures (a capture file, eBPF on
 * syscalls and TLS libraries; AF_PACKET, libpcap, TC and AF_XDP next) is one
 * const struct sonde_source_ops: a row, not a branch in a command. A source
 * turns what it sees into chunks (core/chunk.h) and hands them to the chunk
 * output it was opened with; it never sees the pipeline behind it, so a run
 * (app/run.h) can put several sources in front of one pipeline.
 *
 * Lifecycle: open() → poll() until it says SONDE_SOURCE_END or the run stops
 * → stats() a last time → close(). Live sources are polled with a timeout
 * on their fd; finite ones (files) are polled until they end.
 */
#ifndef SONDE_SOURCE_H
#define SONDE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/chunk.h"
#include "core/stats.h"

/* Where a source's chunks go. */
struct sonde_chunk_out {
	void (*chunk)(void *ctx, const struct sonde_chunk *c);
	void *ctx;
};

static inline void sonde_chunk_emit(const struct sonde_chunk_out *o, const struct sonde_chunk *c)
{
	o->chunk(o->ctx, c);
}

struct sonde_frame;

/* Where a packet source's frames go as they are, before decoding (-w
 * records them); fn NULL: nowhere. */
struct sonde_frame_out {
	void (*frame)(void *ctx, const struct sonde_frame *f, uint8_t origin);
	void *ctx;
};

static inline void sonde_frame_emit(const struct sonde_frame_out *o, const struct sonde_frame *f,
				    uint8_t origin)
{
	if (o->frame)
		o->frame(o->ctx, f, origin);
}

/* What a source is given when it opens: its output, where its raw frames
 * go (packet sources), and the run's counters (a source adds to its own
 * members of struct sonde_stats only). */
struct sonde_source_env {
	struct sonde_chunk_out out;
	struct sonde_frame_out frames;
	struct sonde_stats *stats;
};

/* poll() results besides "n items handled" (>= 0) and -errno. */
#define SONDE_SOURCE_END (-1000000) /* finite input ended (a file read to its end) */

struct sonde_source_ops {
	const char *name; /* as --source names it: "ebpf", "file" */
	/* Live sources see wall-clock time pass: the run ticks the pipeline for
	 * them and writes records as they complete. Files carry their own time. */
	bool live;
	/*
	 * opts is the kind's own options struct. On failure returns NULL with
	 * one sentence in err (what is missing, what to do).
	 */
	void *(*open)(const void *opts, const struct sonde_source_env *env, char *err,
		      size_t errlen);
	/* A descriptor that becomes readable when poll() has work; -1: none
	 * (poll() never blocks). */
	int (*fd)(void *s);
	/*
	 * Hand what is ready to the chunk output, waiting up to timeout_ms for
	 * it (live sources). Returns items handled, SONDE_SOURCE_END, or a
	 * negative errno (-EINTR: a signal; the run goes on). After a failure
	 * error() says what went wrong.
	 */
	int (*poll)(void *s, int timeout_ms);
	/* The pipeline stopped dissecting a connection (unknown protocol,
	 * tunnel): stop copying its bytes if the source can. May be NULL. */
	void (*ignore)(void *s, uint64_t conn_id);
	/* Bring the source's counters in env->stats up to date. May be NULL. */
	void (*stats)(void *s);
	/* What went wrong, once poll() failed or ended on damage; else NULL. */
	const char *(*error)(void *s);
	void (*close)(void *s);
};

/* The rows. */
extern const struct sonde_source_ops sonde_source_file; /* source/file/file_source.c */
extern const struct sonde_source_ops sonde_source_ebpf; /* source/ebpf/ebpf_source.c */

#endif
