/* SPDX-License-Identifier: MIT */
/*
 * The store's raw bytes (--store-raw SIZE, docs/store.md): the capture's
 * recording, written by the -w writer (sink/pcapng.c) into the store's
 * directory as DIR/raw-<µs since epoch>.pcapng[N], so that `sonde query
 * --redissect` can run the dissectors again over what was captured. Kept
 * within their own quota, apart from the records' --store-size.
 */
#ifndef SONDE_STORE_RAW_H
#define SONDE_STORE_RAW_H

#include <stddef.h>
#include <stdint.h>

#include "sink/pcapng.h"

struct sonde_store_raw_prep {
	uint64_t kept_bytes; /* of earlier runs' raw files, after the trim */
	size_t deleted_files; /* earlier runs' files deleted to make room */
};

/*
 * Make DIR if absent, trim earlier runs' raw files oldest first to at most
 * half of quota, and set rec (path, rotation, quota) so that this run's
 * files and the earlier ones together stay within quota. path: the
 * caller's buffer that rec->path will point into. 0, or -1 with one
 * sentence in err.
 */
int sonde_store_raw_prepare(const char *dir, uint64_t quota, struct sonde_pcapng_opts *rec,
			    char *path, size_t pathlen, struct sonde_store_raw_prep *prep,
			    char *err, size_t errlen);

/* The complete raw files of dir (not those still being started, .part),
 * oldest first. 0, or -1 with errno. Free with sonde_store_list_free. */
int sonde_store_raw_list(const char *dir, char ***paths, size_t *n);

#endif
