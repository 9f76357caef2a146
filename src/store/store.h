/* SPDX-License-Identifier: MIT */
/*
 * The embedded store (docs/store.md): a directory of SQLite segments, each a
 * database of records with their index columns, written by one sonde at a
 * time. A new segment is started when the current one reaches an eighth of
 * the size bound (or an eighth of the age bound has passed), so the bounds
 * are kept by deleting whole segments, oldest first, and a damaged segment
 * costs only its own records.
 */
#ifndef SONDE_STORE_H
#define SONDE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/row.h"

struct sqlite3;

/* Where the node agent keeps its store (deploy/), and sonde query looks
 * when given none. */
#define SONDE_STORE_AGENT_DIR "/var/lib/sonde/store"

struct sonde_store_opts {
	const char *dir;
	uint64_t max_bytes; /* every segment together; 0: the default (1 GiB) */
	uint64_t max_age_ns; /* segments last written longer ago are deleted; 0: never */
	bool block; /* the stage waits for the writer instead of dropping (sonde read) */
};

struct sonde_store_counts {
	uint64_t records; /* rows committed */
	uint64_t write_drops; /* rows lost to a failed write (a full disk) */
	uint64_t expired_records; /* rows deleted with their segments (size, age) */
	uint64_t expired_segments;
};

struct sonde_store;

/* Open DIR for writing (made if absent; one writer at a time). NULL with
 * one sentence in err. */
struct sonde_store *sonde_store_open(const struct sonde_store_opts *o, char *err, size_t errlen);
/* Commit rows in one transaction, then keep the bounds. Always deals with
 * every row: what could not be written is counted (write_drops). The
 * store's own thread only (the batch queue's writer). */
size_t sonde_store_write(struct sonde_store *s, struct sonde_store_row **rows, size_t n);
/* The counters so far (any thread). */
void sonde_store_counts(struct sonde_store *s, struct sonde_store_counts *c);
void sonde_store_close(struct sonde_store *s);

/* ---- reading ---- */

/* The segment files of dir, oldest first (names sort by creation time).
 * 0, or -1 with errno (dir unreadable). Free with sonde_store_list_free. */
int sonde_store_list(const char *dir, char ***paths, size_t *n);
void sonde_store_list_free(char **paths, size_t n);
/* Open one segment to read; NULL with why in err (not a sonde segment,
 * damaged, unreadable). */
struct sqlite3 *sonde_store_open_segment(const char *path, char *err, size_t errlen);

/* The index columns the filter may use directly (sonde_filter_to_sql). */
extern const char *const sonde_store_sql_columns[];

#endif
