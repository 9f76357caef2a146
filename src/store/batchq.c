/* SPDX-License-Identifier: MIT */
#include "store/batchq.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

static void deadline_in(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Take up to batch_rows rows off the head (the lock held) into rows[]. */
static size_t take(struct sonde_batchq *q, struct sonde_store_row **rows)
{
	size_t n = 0;
	for (struct sonde_store_row *w = q->head; w && n < q->o.batch_rows; w = w->next)
		rows[n++] = w;
	return n;
}

/* Unlink the first n rows (the lock held) and free them. */
static void release(struct sonde_batchq *q, size_t n)
{
	while (n-- && q->head) {
		struct sonde_store_row *w = q->head;
		q->head = w->next;
		if (!q->head)
			q->tail = NULL;
		q->bytes -= w->size;
		q->rows--;
		free(w);
	}
	pthread_cond_broadcast(&q->room);
}

static void *writer(void *arg)
{
	struct sonde_batchq *q = arg;
	struct sonde_store_row **rows = calloc(q->o.batch_rows, sizeof(*rows));
	if (!rows)
		abort();
	pthread_mutex_lock(&q->mu);
	for (;;) {
		/* a partial batch lingers a little: fewer, larger transactions */
		if (!q->stopping && q->rows < q->o.batch_rows && !q->flush_wanted) {
			struct timespec ts;
			deadline_in(&ts, q->head ? q->o.linger_ms : 1000);
			pthread_cond_timedwait(&q->more, &q->mu, &ts);
		}
		if (!q->head) {
			q->flush_wanted = false;
			pthread_cond_broadcast(&q->idle);
			if (q->stopping)
				break;
			continue;
		}
		size_t n = take(q, rows);
		q->busy = true;
		pthread_mutex_unlock(&q->mu);
		/* the rows stay linked (and counted) while written: the capture's
		 * thread only appends at the tail */
		size_t done = q->o.write(q->o.ctx, rows, n);
		pthread_mutex_lock(&q->mu);
		q->busy = false;
		release(q, done);
		if (done < n) {
			if (q->stopping)
				break;
			/* a server that is down is asked again only after
			 * retry_ms, however many rows arrive meanwhile */
			struct timespec ts;
			deadline_in(&ts, q->o.retry_ms);
			while (!q->stopping &&
			       pthread_cond_timedwait(&q->more, &q->mu, &ts) != ETIMEDOUT)
				;
		}
	}
	pthread_cond_broadcast(&q->idle);
	pthread_mutex_unlock(&q->mu);
	free(rows);
	return NULL;
}

int sonde_batchq_start(struct sonde_batchq *q, const struct sonde_batchq_opts *o)
{
	*q = (struct sonde_batchq){ .o = *o };
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->more, &ca);
	pthread_cond_init(&q->idle, &ca);
	pthread_cond_init(&q->room, &ca);
	pthread_condattr_destroy(&ca);
	int err = pthread_create(&q->thread, NULL, writer, q);
	if (err) {
		errno = err;
		return -1;
	}
	q->running = true;
	return 0;
}

bool sonde_batchq_push(struct sonde_batchq *q, struct sonde_store_row *w)
{
	w->next = NULL;
	pthread_mutex_lock(&q->mu);
	while (q->o.block_when_full && q->running && q->head &&
	       (q->rows >= q->o.max_rows || q->bytes + w->size > q->o.max_bytes)) {
		pthread_cond_signal(&q->more);
		pthread_cond_wait(&q->room, &q->mu);
	}
	if (q->rows >= q->o.max_rows || q->bytes + w->size > q->o.max_bytes || !q->running) {
		q->dropped++;
		pthread_mutex_unlock(&q->mu);
		free(w);
		return false;
	}
	if (q->tail)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
	q->bytes += w->size;
	q->rows++;
	if (q->rows >= q->o.batch_rows)
		pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->mu);
	return true;
}

void sonde_batchq_drain(struct sonde_batchq *q, uint64_t timeout_ms)
{
	if (!q->running)
		return;
	struct timespec ts;
	deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&q->mu);
	q->flush_wanted = true;
	pthread_cond_signal(&q->more);
	while ((q->head || q->busy) && pthread_cond_timedwait(&q->idle, &q->mu, &ts) != ETIMEDOUT)
		pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->mu);
}

size_t sonde_batchq_stop(struct sonde_batchq *q)
{
	if (!q->running)
		return 0;
	pthread_mutex_lock(&q->mu);
	q->stopping = true;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	q->running = false;
	size_t left = q->rows;
	release(q, q->rows);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->more);
	pthread_cond_destroy(&q->idle);
	pthread_cond_destroy(&q->room);
	return left;
}

uint64_t sonde_batchq_dropped(struct sonde_batchq *q)
{
	pthread_mutex_lock(&q->mu);
	uint64_t d = q->dropped;
	pthread_mutex_unlock(&q->mu);
	return d;
}
