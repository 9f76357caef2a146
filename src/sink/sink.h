/* SPDX-License-Identifier: MIT */
/*
 * Sinks: where records end up. A sink formats each record and writes it to a
 * FILE; formats are JSON Lines (docs/records.md) and one readable line per
 * exchange for terminals. In a pipeline a sink is the last stage of the
 * record chain (core/stage.h): sonde_sink_stage, with the sink as context.
 */
#ifndef SONDE_SINK_H
#define SONDE_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/record.h"
#include "core/stage.h"
#include "core/stats.h"
/* Formatting, exposed for tests and other sinks. */
#include "sink/render.h"

enum sonde_sink_format {
	SONDE_SINK_TEXT,
	SONDE_SINK_JSON,
	SONDE_SINK_HAR, /* HTTP exchanges as one HAR 1.2 log (sink/har.h) */
};

struct sonde_sink;

struct sonde_sink *sonde_sink_new(enum sonde_sink_format fmt, FILE *out);
void sonde_sink_write(struct sonde_sink *s, const struct sonde_record *r);
/* -o har: the creator version the log names, and whether to keep quiet
 * about the records that were not HTTP (counted in the log either way). */
void sonde_sink_set_har(struct sonde_sink *s, const char *version, bool quiet);
/* Write at most n records (-c N; 0: no limit); later ones are dropped. */
void sonde_sink_set_limit(struct sonde_sink *s, uint64_t n);
/* The limit is reached, or writing failed: the caller should stop. */
bool sonde_sink_full(const struct sonde_sink *s);
/* The text format's choices: time zone, colour, -V details (default: UTC,
 * no colour, one line). */
void sonde_sink_set_text(struct sonde_sink *s, const struct sonde_text_opts *o);
/* Write each record as soon as it is complete (a terminal, a pipe, -l)
 * instead of in 256 KiB blocks. */
void sonde_sink_set_immediate(struct sonde_sink *s, bool on);
/* The sink as a record stage: writes every record, the closing stats when
 * asked (sonde_sink_set_stats), says done when full, and closes the sink
 * (sonde_sink_close) with the chain. */
extern const struct sonde_stage_ops sonde_sink_stage;
/* false: write no records, only the closing stats (-o none). */
void sonde_sink_set_records(struct sonde_sink *s, bool on);
/* Count every record written and end with a summary (sink/summary.h),
 * before the stats (--summary). */
void sonde_sink_set_summary(struct sonde_sink *s, bool on);
/* Write the closing stats when the input ends (--stats). */
void sonde_sink_set_stats(struct sonde_sink *s, bool on);
/* Write the closing stats: a "stats" record (JSON) or a table on stderr. */
void sonde_sink_stats(struct sonde_sink *s, const struct sonde_stats *st);
/* Push written records out (live capture does it every poll). */
void sonde_sink_flush(struct sonde_sink *s);
/* Flush; returns -1 with errno set if writing failed (EPIPE: a closed pipe). */
int sonde_sink_close(struct sonde_sink *s);

#endif
