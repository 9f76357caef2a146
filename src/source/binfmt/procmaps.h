/* SPDX-License-Identifier: MIT */
/*
 * One /proc/PID/maps parser: each line as a struct, to the caller's
 * callback. Lines longer than SONDE_MAPS_LINE_MAX (a path near PATH_MAX) are
 * skipped whole, never cut into pieces that could parse as lines.
 */
#ifndef SONDE_PROCMAPS_H
#define SONDE_PROCMAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SONDE_MAPS_LINE_MAX (4096 + 256)

/* One mapping: "start-end perms offset maj:min inode   path". */
struct sonde_maps_entry {
	uint64_t start, end; /* [start, end) in the process */
	uint64_t offset; /* of start in the file */
	uint64_t dev; /* makedev(maj, min) */
	uint64_t ino; /* 0: not a file */
	char perms[8]; /* "r-xp" */
	/* "" (anonymous), "[heap]", "/usr/lib/...", maybe ending in
	 * " (deleted)"; points into the caller's line */
	const char *path;
};

/*
 * Parse one line in place (its newline is cut off). False if it is not a
 * maps line.
 */
bool sonde_maps_parse_line(char *line, struct sonde_maps_entry *m);

/* The file behind the mapping was deleted (or replaced) since it was mapped. */
bool sonde_maps_deleted(const struct sonde_maps_entry *m);

/* Return true to stop the walk. */
typedef bool (*sonde_maps_fn)(const struct sonde_maps_entry *m, void *arg);

/* Every line of an open maps file, until fn stops it. */
void sonde_maps_each_file(FILE *f, sonde_maps_fn fn, void *arg);

/*
 * Every mapping of process pid, until fn stops it. Returns 0, or -1 with
 * errno from opening /proc/PID/maps (ENOENT/ESRCH: the process is gone).
 */
int sonde_maps_each(uint32_t pid, sonde_maps_fn fn, void *arg);

#endif
