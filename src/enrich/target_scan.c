// SPDX-License-Identifier: MIT
#include "enrich/target_scan.h"

#include <bpf/bpf.h>
#include <linux/capability.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "app/privs.h"
#include "enrich/cgroup_ids.h"
#include "enrich/cgroup_walk.h"
#include "enrich/cri.h"

#define SCAN_MS 2000

struct scan {
	struct sonde_targets targets;
	int map_fd;
	char cgroot[512];
	struct sonde_container_cache *ctrs;
	struct sonde_cri *cri;
	struct sonde_stats *stats;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	/* counters of the last walk, under lock */
	uint64_t scans, selected, unselected, full;
	uint64_t walk_unselected, walk_full; /* this walk's, the thread's own */
	/* the ids in the map after the last walk (only the thread touches it) */
	uint64_t *in_map;
	size_t nin_map;
	/* this walk */
	uint64_t *ids;
	size_t nids;
	uint64_t now_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void select_dir(void *ctx, const char *rel, uint64_t ino)
{
	struct scan *s = ctx;
	struct sonde_cgroup_ctr ctr;
	if (!sonde_cgroup_parse(rel, strlen(rel), &ctr))
		return;
	struct sonde_container_meta *m = sonde_container_lookup(s->ctrs, &ctr, s->now_ns);
	struct sonde_target t;
	bool yes = sonde_targets_match(&s->targets, m, &t);
	sonde_container_meta_unref(m);
	if (!yes) {
		s->walk_unselected++;
		return;
	}
	if (bpf_map_update_elem(s->map_fd, &ino, &t, BPF_ANY) < 0) {
		s->walk_full++;
		return;
	}
	s->ids = realloc(s->ids, (s->nids + 1) * sizeof(*s->ids));
	if (!s->ids)
		abort();
	s->ids[s->nids++] = ino;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* One walk: the map gets this walk's selection; entries of cgroups no
 * longer selected (or gone) leave it. */
static void scan_once(struct scan *s)
{
	s->nids = 0, s->walk_unselected = 0, s->walk_full = 0;
	s->now_ns = mono_ns();
	sonde_cgroup_walk(s->cgroot, select_dir, s);
	qsort(s->ids, s->nids, sizeof(*s->ids), cmp_u64);
	for (size_t i = 0; i < s->nin_map; i++) {
		uint64_t k = s->in_map[i];
		if (k && !bsearch(&k, s->ids, s->nids, sizeof(*s->ids), cmp_u64))
			bpf_map_delete_elem(s->map_fd, &k);
	}
	s->in_map = realloc(s->in_map, (s->nids + 1) * sizeof(*s->in_map));
	if (!s->in_map)
		abort();
	memcpy(s->in_map, s->ids, s->nids * sizeof(*s->ids));
	s->nin_map = s->nids;
	pthread_mutex_lock(&s->lock);
	s->scans++;
	s->selected = s->nids;
	s->unselected = s->walk_unselected;
	s->full = s->walk_full;
	pthread_mutex_unlock(&s->lock);
}

static void *run(void *arg)
{
	struct scan *s = arg;
	/* The targets map takes CAP_BPF; /proc of other users' processes the
	 * other two. Nothing else, whatever the main thread keeps. */
	sonde_privs_thread_keep(SONDE_CAP(CAP_BPF) | SONDE_CAP(CAP_SYS_PTRACE) |
				SONDE_CAP(CAP_DAC_READ_SEARCH));
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += SCAN_MS / 1000;
		while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &ts) != ETIMEDOUT)
			;
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->lock);
		scan_once(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void write_stats(struct scan *s)
{
	if (!s->stats)
		return;
	pthread_mutex_lock(&s->lock);
	s->stats->target_scans = s->scans;
	s->stats->target_cgroups = s->selected;
	s->stats->target_cgroups_unselected = s->unselected;
	s->stats->target_map_full = s->full;
	pthread_mutex_unlock(&s->lock);
}

static bool pass(void *ctx, struct sonde_record *r)
{
	(void)ctx, (void)r;
	return true;
}

static void finish(void *ctx, const struct sonde_stats *st)
{
	(void)st;
	write_stats(ctx);
}

static void scan_free(struct scan *s)
{
	sonde_container_cache_free(s->ctrs);
	sonde_cri_stop(s->cri);
	sonde_targets_free(&s->targets);
	free(s->ids);
	free(s->in_map);
	free(s);
}

static int scan_close(void *ctx)
{
	struct scan *s = ctx;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	scan_free(s);
	return 0;
}

const struct sonde_stage_ops sonde_target_scan_stage = {
	.name = "targets",
	.phase = SONDE_STAGE_ENRICH,
	.record = pass,
	.finish = finish,
	.close = scan_close,
};

/* A deep copy: the scan outlives the options. */
static void copy_targets(struct sonde_targets *dst, const struct sonde_targets *src)
{
	*dst = *src;
	for (size_t i = 0; i < src->n; i++) {
		struct sonde_target_sel *t = &dst->sel[i];
		t->namespace = t->namespace ? strdup(t->namespace) : NULL;
		t->container = t->container ? strdup(t->container) : NULL;
		for (size_t k = 0; k < t->nreqs; k++) {
			t->reqs[k].key = strdup(t->reqs[k].key);
			for (size_t j = 0; j < t->reqs[k].nvalues; j++)
				t->reqs[k].values[j] = strdup(t->reqs[k].values[j]);
		}
	}
}

void *sonde_target_scan_new(const struct sonde_target_scan_opts *o, char *why, size_t whylen)
{
	struct scan *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	copy_targets(&s->targets, o->targets);
	s->map_fd = o->map_fd;
	s->stats = o->stats;
	if (o->cgroup_root)
		snprintf(s->cgroot, sizeof(s->cgroot), "%s", o->cgroup_root);
	else if (!sonde_cgroup2_mount(s->cgroot, sizeof(s->cgroot))) {
		snprintf(why, whylen, "--target needs the cgroup v2 tree, and none is mounted");
		sonde_targets_free(&s->targets);
		free(s);
		return NULL;
	}
	const char *root = o->root ? o->root : "/";
	s->ctrs = sonde_container_cache_new(root, 4096, NULL);
	char cwhy[256];
	s->cri = o->cri ? sonde_cri_ref(o->cri)
			: sonde_cri_open(root, o->cri_socket, cwhy, sizeof(cwhy));
	if (s->cri) {
		sonde_container_cache_set_cri(s->ctrs, s->cri);
		/* The first listing, so the first walk knows the pods' labels. */
		for (int i = 0; i < 30 && !sonde_cri_generation(s->cri); i++)
			nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	}
	/* Processes outside containers: key 0. */
	struct sonde_target host;
	uint64_t zero = 0;
	if (sonde_targets_match_host(&s->targets, &host))
		bpf_map_update_elem(s->map_fd, &zero, &host, BPF_ANY);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&s->lock, NULL);
	scan_once(s);
	int err = pthread_create(&s->thread, NULL, run, s);
	if (!err)
		pthread_setname_np(s->thread, "sonde-targets");
	if (err) {
		snprintf(why, whylen, "cannot start the target thread: %s", strerror(err));
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		scan_free(s);
		return NULL;
	}
	write_stats(s);
	return s;
}
