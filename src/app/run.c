/* SPDX-License-Identifier: MIT */
#include "app/run.h"

#include "app/arbiter.h"
#include "source/file/capfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* How long a live poll waits for events: the stop flag, the duration and the
 * once-a-second tick are looked at this often. */
#define LIVE_WAIT_MS 100
#define TICK_NS 1000000000ull

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The recording failed: said once, and the run goes on without it. */
static void record_failed(struct sonde_run *r)
{
	if (!r->rec_failed)
		fprintf(stderr, "sonde: recording stopped: %s (records go on)\n",
			sonde_pcapng_error(r->opts.record));
	r->rec_failed = true;
}

/* A packet source's frame, recorded as it is on the interface of its link
 * type (made on first sight, named where; NULL: the run's source name). */
static void record_frame(struct sonde_run *r, const struct sonde_frame *f, uint8_t origin,
			 const char *where)
{
	if (r->rec_failed)
		return;
	int id = -1;
	for (size_t i = 0; i < r->nrec_ifaces && id < 0; i++)
		if (r->rec_ifaces[i].linktype == f->linktype)
			id = r->rec_ifaces[i].id;
	if (id < 0 && r->nrec_ifaces < sizeof(r->rec_ifaces) / sizeof(r->rec_ifaces[0])) {
		const char *name = where                      ? where
				   : r->opts.pipe.conn.source ? r->opts.pipe.conn.source
							      : "sonde";
		id = sonde_pcapng_iface(r->opts.record, name, f->linktype, 0);
		if (id >= 0)
			r->rec_ifaces[r->nrec_ifaces++] =
				(typeof(r->rec_ifaces[0])){ f->linktype, id };
	}
	struct sonde_pcapng_meta m = { .method = sonde_origin_name(origin) };
	if (id < 0 || sonde_pcapng_frame(r->opts.record, id, f, &m) < 0)
		record_failed(r);
}

/* The packet sources' frames as they come; with several sources they wait
 * for the arbiter instead (to_pipeline). */
static void to_record(void *ctx, const struct sonde_frame *f, uint8_t origin)
{
	struct sonde_run *r = ctx;
	if (!r->arbiter)
		record_frame(r, f, origin, NULL);
}

static void to_pipeline(void *ctx, const struct sonde_chunk *c)
{
	struct sonde_run *r = ctx;
	/* Stream sources have no packets: the recording makes them up from
	 * the chunk (its data is only valid during this call). */
	if (r->opts.record && !r->rec_failed && !sonde_origin_is_packet(c->origin)) {
		struct sonde_pcapng_meta m = {
			.method = sonde_origin_name(c->origin),
			.pid = c->proc ? c->proc->pid : 0,
			.comm = c->proc ? c->proc->comm : NULL,
			.conn_id = c->conn_id,
		};
		const struct sonde_chunk *rc =
			r->opts.record_mask
				? sonde_redact_stream_chunk(r->opts.record_mask, c, &r->pipe.stats)
				: c;
		if (sonde_pcapng_chunk(r->opts.record, rc, &m) < 0)
			record_failed(r);
	}
	/* Several sources: a packet source's frame is recorded only now that
	 * the arbiter let its connection through, so -w holds each connection
	 * once, from the source its records come from. */
	if (r->opts.record && r->arbiter && sonde_origin_is_packet(c->origin) && c->frame)
		record_frame(r, c->frame, c->origin, c->source);
	sonde_pipeline_chunk(&r->pipe, c);
}

/* Several kinds of source: the arbiter lets each connection's chunks
 * through from one of them. */
static void to_arbiter(void *ctx, const struct sonde_chunk *c)
{
	struct sonde_run *r = ctx;
	sonde_arbiter_chunk(r->arbiter, c, now_ns(CLOCK_MONOTONIC));
}

/* A source's chunk: named after its source if it says no place itself. */
static void from_source(void *ctx, const struct sonde_chunk *c)
{
	struct sonde_run_source *s = ctx;
	struct sonde_chunk named;
	if (s->name && !c->source) {
		named = *c;
		named.source = s->name;
		c = &named;
	}
	if (s->run->arbiter)
		to_arbiter(s->run, c);
	else
		to_pipeline(s->run, c);
}

/* The connection table gave up on a connection: every source that can stop
 * copying is told (connection ids are the source's own; others ignore them). */
static void ignore_conn(void *ctx, uint64_t conn_id)
{
	struct sonde_run *r = ctx;
	for (size_t i = 0; i < r->nsrc; i++)
		if (r->src[i].ops->ignore && !r->src[i].ended)
			r->src[i].ops->ignore(r->src[i].state, conn_id);
}

void sonde_run_init(struct sonde_run *r, const struct sonde_run_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->opts = *o;
	r->epfd = -1;
	sonde_pipeline_init(&r->pipe, &o->pipe);
	sonde_conntable_set_ignore(r->pipe.conns, ignore_conn, r);
	if (o->one_source_per_conn)
		r->arbiter = sonde_arbiter_new(&(struct sonde_chunk_out){ to_pipeline, r },
					       &r->pipe.stats);
}

int sonde_run_add_stage(struct sonde_run *r, const struct sonde_stage_ops *ops, void *ctx)
{
	return sonde_pipeline_add_stage(&r->pipe, ops, ctx);
}

/* A second live source: from now on they are waited on together. */
static int watch_live(struct sonde_run *r, char *err, size_t errlen)
{
	if (r->epfd < 0 && (r->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < r->nsrc; i++) {
		struct sonde_run_source *s = &r->src[i];
		if (!s->ops->live)
			continue;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i };
		int fd = s->ops->fd(s->state);
		if (fd >= 0 && epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "epoll: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

void *sonde_run_add_source(struct sonde_run *r, const struct sonde_source_ops *ops,
			   const void *opts, char *err, size_t errlen)
{
	if (r->nsrc == SONDE_RUN_SOURCES_MAX) {
		snprintf(err, errlen, "at most %d sources at once", SONDE_RUN_SOURCES_MAX);
		return NULL;
	}
	struct sonde_source_env env = {
		.out = { from_source, &r->src[r->nsrc] },
		.frames = { r->opts.record ? to_record : NULL, r },
		.stats = &r->pipe.stats,
		.stop = &r->pipe.stages.done,
	};
	r->src[r->nsrc] = (struct sonde_run_source){ .ops = ops, .run = r };
	void *state = ops->open(opts, &env, err, errlen);
	if (!state)
		return NULL;
	r->src[r->nsrc++].state = state;
	if (ops->live && ++r->nlive > 1 && watch_live(r, err, errlen) < 0) {
		ops->close(state);
		r->nsrc--, r->nlive--;
		return NULL;
	}
	return state;
}

void sonde_run_name_source(struct sonde_run *r, void *state, const char *name)
{
	for (size_t i = 0; i < r->nsrc; i++)
		if (r->src[i].state == state)
			r->src[i].name = name;
}

size_t sonde_run_connections(const struct sonde_run *r)
{
	return sonde_conntable_count(r->pipe.conns);
}

/* A poll's result: the source ended, or failed (-1 with r->error set). */
static int polled(struct sonde_run *r, struct sonde_run_source *s, int n)
{
	if (n >= 0 || n == -EINTR)
		return 0;
	const char *why = s->ops->error ? s->ops->error(s->state) : NULL;
	if (n == SONDE_SOURCE_END) {
		s->ended = true;
		if (!why)
			return 0;
		snprintf(r->error, sizeof(r->error), "%s", why);
		return -1;
	}
	s->ended = true;
	snprintf(r->error, sizeof(r->error), "%s", why ? why : strerror(-n));
	return -1;
}

/* Every live source, waiting up to timeout_ms for the first event. */
static int poll_live(struct sonde_run *r, int timeout_ms)
{
	if (r->nlive == 1) {
		for (size_t i = 0; i < r->nsrc; i++)
			if (r->src[i].ops->live && !r->src[i].ended)
				return polled(r, &r->src[i],
					      r->src[i].ops->poll(r->src[i].state, timeout_ms));
		return 0;
	}
	struct epoll_event ev[SONDE_RUN_SOURCES_MAX];
	int n = epoll_wait(r->epfd, ev, SONDE_RUN_SOURCES_MAX, timeout_ms);
	for (int i = 0; i < n; i++) {
		struct sonde_run_source *s = &r->src[ev[i].data.u64];
		if (!s->ended && polled(r, s, s->ops->poll(s->state, 0)) < 0)
			return -1;
	}
	return 0;
}

static void refresh_stats(struct sonde_run *r)
{
	for (size_t i = 0; i < r->nsrc; i++)
		if (r->src[i].ops->stats && r->src[i].state)
			r->src[i].ops->stats(r->src[i].state);
}

int sonde_run_loop(struct sonde_run *r)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC), last_tick = start, last_progress = start;
	for (;;) {
		if (r->opts.stop && *r->opts.stop)
			return 0;
		/* Finite sources first, one step each: between steps the chain
		 * may say it is done. */
		size_t active = 0;
		for (size_t i = 0; i < r->nsrc; i++) {
			struct sonde_run_source *s = &r->src[i];
			if (s->ops->live || s->ended)
				continue;
			if (polled(r, s, s->ops->poll(s->state, 0)) < 0)
				return -1;
			active += !s->ended;
		}
		if (r->nlive) {
			if (poll_live(r, active ? 0 : LIVE_WAIT_MS) < 0)
				return -1;
			sonde_stage_chain_flush(&r->pipe.stages);
			if (r->opts.record && !r->rec_failed &&
			    sonde_pcapng_flush(r->opts.record) < 0)
				record_failed(r);
			uint64_t t = now_ns(CLOCK_MONOTONIC);
			if (r->arbiter)
				sonde_arbiter_tick(r->arbiter, t);
			if (t - last_tick >= TICK_NS) {
				sonde_pipeline_tick(&r->pipe, now_ns(CLOCK_REALTIME));
				last_tick = t;
			}
			if (r->opts.progress && r->opts.progress_ns &&
			    t - last_progress >= r->opts.progress_ns) {
				refresh_stats(r);
				r->opts.progress(r->opts.progress_ctx, r,
						 (double)(t - last_progress) / 1e9);
				last_progress = t;
			}
			if (r->opts.duration_ns && t - start >= r->opts.duration_ns)
				return 0;
		} else if (!active) {
			return 0;
		}
		if (r->pipe.stages.done)
			return 0;
	}
}

void sonde_run_finish(struct sonde_run *r)
{
	/* Drain what live sources already hold, then close them all before
	 * the connections close: nothing arrives for a closed connection. */
	for (size_t i = 0; i < r->nsrc; i++) {
		struct sonde_run_source *s = &r->src[i];
		if (s->ops->live && !s->ended)
			s->ops->poll(s->state, 0);
		if (s->ops->stats)
			s->ops->stats(s->state);
		s->ops->close(s->state);
		s->state = NULL;
		s->ended = true;
	}
	r->nsrc = r->nlive = 0;
	if (r->arbiter)
		sonde_arbiter_flush(r->arbiter);
	sonde_pipeline_finish(&r->pipe);
}

int sonde_run_free(struct sonde_run *r)
{
	for (size_t i = 0; i < r->nsrc; i++)
		if (r->src[i].state)
			r->src[i].ops->close(r->src[i].state);
	r->nsrc = 0;
	if (r->epfd >= 0)
		close(r->epfd);
	r->epfd = -1;
	sonde_arbiter_free(r->arbiter);
	r->arbiter = NULL;
	return sonde_pipeline_free(&r->pipe);
}
