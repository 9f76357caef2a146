/* SPDX-License-Identifier: MIT */
#include "store/store_stage.h"

#include <stdio.h>
#include <stdlib.h>

#include "store/batchq.h"

#define STAGE_QUEUE_BYTES (64u << 20)
#define STAGE_QUEUE_ROWS 65536
#define STAGE_BATCH_ROWS 2048
#define STAGE_LINGER_MS 200
/* at the end, what is queued gets this long to be written */
#define STAGE_DRAIN_MS 30000

struct store_sink {
	struct sonde_store *store;
	struct sonde_batchq q;
	struct sonde_stats *stats;
	uint64_t seq; /* records offered, numbered as the stdout sink numbers them */
	uint64_t unwritten; /* left in the queue when the writer stopped */
	bool stopped;
};

static size_t write_batch(void *ctx, struct sonde_store_row **rows, size_t n)
{
	return sonde_store_write(ctx, rows, n);
}

void *sonde_store_stage_new(const struct sonde_store_opts *o, struct sonde_stats *stats, char *err,
			    size_t errlen)
{
	struct sonde_store *st = sonde_store_open(o, err, errlen);
	if (!st)
		return NULL;
	struct store_sink *k = calloc(1, sizeof(*k));
	if (!k)
		abort();
	k->store = st;
	k->stats = stats;
	struct sonde_batchq_opts qo = {
		.max_bytes = STAGE_QUEUE_BYTES,
		.max_rows = STAGE_QUEUE_ROWS,
		.batch_rows = STAGE_BATCH_ROWS,
		.linger_ms = STAGE_LINGER_MS,
		.retry_ms = 1000,
		.block_when_full = o->block,
		.write = write_batch,
		.ctx = st,
	};
	if (sonde_batchq_start(&k->q, &qo) < 0) {
		snprintf(err, errlen, "%s: the writer thread: %m", o->dir);
		sonde_store_close(st);
		free(k);
		return NULL;
	}
	return k;
}

/* The store's counters into the run's stats. */
static void publish(struct store_sink *k)
{
	struct sonde_store_counts c;
	sonde_store_counts(k->store, &c);
	k->stats->store_records = c.records;
	k->stats->store_write_drops = c.write_drops + k->unwritten;
	k->stats->store_expired_records = c.expired_records;
	if (!k->stopped)
		k->stats->store_queue_drops = sonde_batchq_dropped(&k->q);
}

static bool stage_record(void *ctx, struct sonde_record *r)
{
	struct store_sink *k = ctx;
	if (k->stopped)
		return true;
	sonde_batchq_push(&k->q, sonde_store_row_new(r, ++k->seq));
	if (!(k->seq & 1023))
		publish(k);
	return true;
}

static void stop(struct store_sink *k)
{
	if (k->stopped)
		return;
	sonde_batchq_drain(&k->q, STAGE_DRAIN_MS);
	uint64_t dropped = sonde_batchq_dropped(&k->q);
	k->unwritten = sonde_batchq_stop(&k->q);
	k->stopped = true;
	publish(k);
	k->stats->store_queue_drops = dropped;
}

static void stage_finish(void *ctx, const struct sonde_stats *st)
{
	(void)st;
	stop(ctx);
}

static void stage_flush(void *ctx)
{
	struct store_sink *k = ctx;
	if (!k->stopped)
		publish(k);
}

static int stage_close(void *ctx)
{
	struct store_sink *k = ctx;
	stop(k);
	sonde_store_close(k->store);
	free(k);
	return 0;
}

const struct sonde_stage_ops sonde_store_stage = {
	.name = "store",
	.phase = SONDE_STAGE_SINK,
	.record = stage_record,
	.finish = stage_finish,
	.flush = stage_flush,
	.close = stage_close,
};
