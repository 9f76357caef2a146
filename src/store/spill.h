/* SPDX-License-Identifier: MIT */
/*
 * ClickHouse's spill (--clickhouse-spill DIR): batches ClickHouse could not
 * take, kept on disk as the insert bodies they were, one file per batch,
 * and given back oldest first when the server returns — so an outage loses
 * nothing within the quota. Over the quota the oldest files are deleted,
 * their rows counted. Files survive a restart: the next run replays them.
 *
 *   DIR/spill-<seq, 20 digits>-<rows>.tsv   one batch (TabSeparated rows)
 *   DIR/.tmp-<seq>                          being written (deleted at open)
 *
 * Used by one thread (the ClickHouse writer); no locking.
 */
#ifndef SONDE_STORE_SPILL_H
#define SONDE_STORE_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct sonde_spill_file {
	uint64_t seq, rows, bytes;
};

struct sonde_spill {
	char dir[4096];
	uint64_t quota, bytes; /* bytes of every file together */
	uint64_t next_seq;
	struct sonde_spill_file *files; /* oldest first */
	size_t head, n, cap; /* files[head..n) are on disk */
	uint64_t rows; /* rows in those files */
	uint64_t dropped_rows; /* deleted for the quota, or unwritable */
};

/* Open (make, 0700) DIR and take up the files an earlier run left. 0, or
 * -1 with a sentence in err. */
int sonde_spill_open(struct sonde_spill *s, const char *dir, uint64_t quota, char *err,
		     size_t errlen);
void sonde_spill_close(struct sonde_spill *s);
/* Keep one batch of rows; the oldest files go if the quota needs room (a
 * batch larger than the quota itself is not kept). Counted either way. */
void sonde_spill_put(struct sonde_spill *s, const void *body, size_t len, uint64_t rows);
/* The oldest batch into *body (reset first); false when none is left. A
 * file that cannot be read is dropped and counted, and the next one tried. */
bool sonde_spill_peek(struct sonde_spill *s, struct sonde_buf *body, uint64_t *rows);
/* The oldest batch was delivered: delete it. */
void sonde_spill_pop(struct sonde_spill *s);
/* The oldest batch is given up (the server keeps refusing it): delete it,
 * counted as dropped. */
void sonde_spill_drop(struct sonde_spill *s);

#endif
