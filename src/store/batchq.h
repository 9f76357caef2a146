/* SPDX-License-Identifier: MIT */
/*
 * A bounded queue of rows in front of a writer thread, so that a slow disk
 * or a slow server never stalls capture: the capture's thread pushes rows,
 * the writer takes them in batches and hands each batch to write(). A push
 * that finds the queue full (bytes or rows) is refused and counted; the
 * caller frees nothing either way.
 */
#ifndef SONDE_STORE_BATCHQ_H
#define SONDE_STORE_BATCHQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/row.h"

struct sonde_batchq_opts {
	size_t max_bytes, max_rows; /* queue bounds */
	size_t batch_rows; /* most rows handed over at once */
	uint64_t linger_ms; /* a partial batch waits at most this long */
	/* Write rows[0..n). Returns how many were dealt with (written, or
	 * dropped and counted by the writer); rows not dealt with are kept and
	 * offered again after retry_ms (a server that is down). Runs on the
	 * writer thread. The queue frees the rows dealt with. */
	size_t (*write)(void *ctx, struct sonde_store_row **rows, size_t n);
	uint64_t retry_ms;
	/* Wait for room instead of refusing (a capture file: there is no
	 * live traffic to keep up with). */
	bool block_when_full;
	void *ctx;
};

struct sonde_batchq {
	struct sonde_batchq_opts o;
	pthread_mutex_t mu;
	pthread_cond_t more, idle, room;
	struct sonde_store_row *head, *tail;
	size_t bytes, rows;
	bool stopping, running, busy, flush_wanted;
	pthread_t thread;
	uint64_t dropped; /* pushes refused: the queue was full */
};

/* Start the writer thread. 0, or -1 with errno. */
int sonde_batchq_start(struct sonde_batchq *q, const struct sonde_batchq_opts *o);
/* Queue a row (the queue owns it either way). false: refused and freed. */
bool sonde_batchq_push(struct sonde_batchq *q, struct sonde_store_row *w);
/* Wait until everything queued now has been written or dropped, or
 * timeout_ms has passed (a server that stays down). */
void sonde_batchq_drain(struct sonde_batchq *q, uint64_t timeout_ms);
/* Stop the writer (after a drain, if wanted) and free what is still
 * queued; returns how many rows were left unwritten. */
size_t sonde_batchq_stop(struct sonde_batchq *q);
uint64_t sonde_batchq_dropped(struct sonde_batchq *q);

#endif
