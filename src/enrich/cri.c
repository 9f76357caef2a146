// SPDX-License-Identifier: MIT
#include "enrich/cri.h"

#include "app/privs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "enrich/grpc_unix.h"
#include "proto/content/protobuf.h"

/* How often the node's pods are listed, and how soon after a miss at
 * the earliest (a container is asked about as its first connection ends,
 * often before the next turn). */
#define REFRESH_MS 5000
#define MISS_REFRESH_MS 1000
#define CALL_TIMEOUT_MS 3000

struct sonde_cri {
	char path[256];
	pthread_t thread;
	pthread_mutex_t lock;
	unsigned refs; /* under lock */
	pthread_cond_t wake;
	bool stop, asked; /* under lock */
	struct sonde_cri_list list; /* under lock */
	uint64_t generation, digest; /* under lock */
	struct sonde_cri_counts counts; /* under lock */
	enum sonde_runtime runtime; /* what Version said it is; under lock */
};

/* VersionResponse.runtime_name (field 2) → the runtime, or unknown. */
static enum sonde_runtime runtime_of(const char *path)
{
	static const uint8_t req[] = { 0x0a, 2, 'v', '1' }; /* version: "v1" */
	struct sonde_buf out = { 0 };
	char why[128];
	int status;
	enum sonde_runtime rt = SONDE_RUNTIME_UNKNOWN;
	if (sonde_grpc_unix_call(path, "/runtime.v1.RuntimeService/Version", req, sizeof(req),
				 CALL_TIMEOUT_MS, &out, &status, why,
				 sizeof(why)) == SONDE_GRPC_OK) {
		struct sonde_pb_reader r = { out.p, out.len, 0 };
		struct sonde_pb_wfield f;
		while (sonde_pb_next(&r, &f) == 1)
			if (f.num == 2 && f.wt == 2)
				rt = f.len == 10 && !memcmp(f.bytes, "containerd", 10)
					     ? SONDE_RUNTIME_CONTAINERD
				     : f.len == 5 && !memcmp(f.bytes, "cri-o", 5)
					     ? SONDE_RUNTIME_CRIO
					     : rt;
	}
	sonde_buf_free(&out);
	return rt;
}

static int list_one(const char *path, const char *version, const char *method, int timeout_ms,
		    struct sonde_cri_list *l, char *why, size_t whylen, int *status)
{
	char full[96];
	snprintf(full, sizeof(full), "/runtime.%s.RuntimeService/%s", version, method);
	struct sonde_buf out = { 0 };
	int rc = sonde_grpc_unix_call(path, full, NULL, 0, timeout_ms, &out, status, why, whylen);
	if (rc == SONDE_GRPC_OK) {
		int d = method[4] == 'P' ? sonde_cri_decode_pods(out.p, out.len, l)
					 : sonde_cri_decode_containers(out.p, out.len, l);
		if (d < 0) {
			snprintf(why, whylen, "%s: malformed response", method);
			rc = SONDE_GRPC_PROTOCOL;
		}
	}
	sonde_buf_free(&out);
	return rc;
}

int sonde_cri_fetch(const char *path, int timeout_ms, struct sonde_cri_list *l, char *why,
		    size_t whylen)
{
	/* runtime.v1 (containerd 1.6+, CRI-O 1.20+), else the older v1alpha2,
	 * whose messages sonde reads are the same. */
	static const char *const versions[] = { "v1", "v1alpha2" };
	for (size_t v = 0; v < 2; v++) {
		int status;
		int rc = list_one(path, versions[v], "ListPodSandbox", timeout_ms, l, why, whylen,
				  &status);
		if (rc == SONDE_GRPC_STATUS && status == 12 /* UNIMPLEMENTED */) {
			sonde_cri_list_free(l);
			continue;
		}
		if (rc == SONDE_GRPC_OK)
			rc = list_one(path, versions[v], "ListContainers", timeout_ms, l, why,
				      whylen, &status);
		l->api_version = versions[v];
		return rc == SONDE_GRPC_OK ? 0 : -1;
	}
	return -1;
}

/* At most this many PodSandboxStatus calls per turn (the rest next turn). */
#define STATUS_PER_TURN 64

/* Each pod's IP: kept from the last listing, else asked (PodSandboxStatus)
 * once per sandbox. Failed calls are counted and asked again next turn. */
static void pod_ips(const char *path, const char *version, struct sonde_cri_list *l,
		    const struct sonde_cri_list *prev, uint64_t *failures)
{
	unsigned asked = 0;
	for (size_t i = 0; i < l->npods; i++) {
		struct sonde_cri_pod *pod = &l->pods[i];
		const struct sonde_cri_pod *old = sonde_cri_find_pod(prev, pod->id);
		if (old && old->status_asked) {
			pod->status_asked = true;
			if (old->ip && !(pod->ip = strdup(old->ip)))
				abort();
			continue;
		}
		uint8_t req[160];
		size_t n = sonde_cri_status_request(pod->id, req, sizeof(req));
		if (!n || asked++ >= STATUS_PER_TURN)
			continue;
		char full[96], why[128];
		snprintf(full, sizeof(full), "/runtime.%s.RuntimeService/PodSandboxStatus",
			 version);
		struct sonde_buf out = { 0 };
		int status;
		if (sonde_grpc_unix_call(path, full, req, n, CALL_TIMEOUT_MS, &out, &status, why,
					 sizeof(why)) == SONDE_GRPC_OK &&
		    sonde_cri_decode_status(out.p, out.len, pod) == 0)
			pod->status_asked = true;
		else
			(*failures)++;
		sonde_buf_free(&out);
	}
}

/* A digest of what lookups can see, to tell a changed listing. */
static uint64_t digest(const struct sonde_cri_list *l)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < l->nctrs; i++)
		for (const char *s = l->ctrs[i].id; *s; s++)
			h = (h ^ (uint8_t)*s) * 1099511628211ull;
	for (size_t i = 0; i < l->npods; i++)
		h = (h ^ l->pods[i].nlabels ^ l->pods[i].nannotations << 8 ^
		     (uint64_t)(l->pods[i].ip != NULL) << 16) *
		    1099511628211ull;
	return h;
}

static void add_ms(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000l;
	if (ts->tv_nsec >= 1000000000l)
		ts->tv_sec++, ts->tv_nsec -= 1000000000l;
}

static void *run(void *arg)
{
	struct sonde_cri *c = arg;
	/* It only talks to the runtime's socket (root's, and so is sonde's uid). */
	sonde_privs_thread_keep(0);
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		c->asked = false;
		pthread_mutex_unlock(&c->lock);
		struct sonde_cri_list l = { 0 };
		char why[256];
		int rc = sonde_cri_fetch(c->path, CALL_TIMEOUT_MS, &l, why, sizeof(why));
		enum sonde_runtime rt = rc == 0 && !c->runtime ? runtime_of(c->path) : c->runtime;
		/* c->list is this thread's to change: read without the lock */
		uint64_t status_failures = 0;
		if (rc == 0)
			pod_ips(c->path, l.api_version, &l, &c->list, &status_failures);
		pthread_mutex_lock(&c->lock);
		c->counts.failures += status_failures;
		c->runtime = rt;
		c->counts.listings++;
		if (rc < 0) {
			c->counts.failures++;
			sonde_cri_list_free(&l);
		} else {
			uint64_t d = digest(&l);
			if (d != c->digest || !c->generation)
				c->generation++;
			c->digest = d;
			struct sonde_cri_list old = c->list;
			c->list = l;
			sonde_cri_list_free(&old);
		}
		/* The next turn, or sooner (not before MISS_REFRESH_MS) if asked. */
		struct timespec soon, later;
		add_ms(&soon, MISS_REFRESH_MS);
		add_ms(&later, REFRESH_MS);
		while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &soon) != ETIMEDOUT)
			;
		while (!c->stop && !c->asked &&
		       pthread_cond_timedwait(&c->wake, &c->lock, &later) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct sonde_cri *sonde_cri_start(const char *path, char *why, size_t whylen)
{
	struct sonde_cri *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->refs = 1;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&c->lock, NULL);
	int err = pthread_create(&c->thread, NULL, run, c);
	if (!err) /* named, so the one client of a run can be told (ps -L) */
		pthread_setname_np(c->thread, "sonde-cri");
	if (err) {
		snprintf(why, whylen, "cannot start the CRI thread: %s", strerror(err));
		pthread_cond_destroy(&c->wake);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return NULL;
	}
	return c;
}

struct sonde_cri *sonde_cri_ref(struct sonde_cri *c)
{
	if (c) {
		pthread_mutex_lock(&c->lock);
		c->refs++;
		pthread_mutex_unlock(&c->lock);
	}
	return c;
}

struct sonde_cri *sonde_cri_open(const char *root, const char *socket, char *why, size_t whylen)
{
	char path[512];
	why[0] = 0;
	if (socket && *socket)
		snprintf(path, sizeof(path), "%s", socket);
	else if (socket || !sonde_cri_find_socket(root ? root : "/", path, sizeof(path)))
		return NULL;
	return sonde_cri_start(path, why, whylen);
}

void sonde_cri_stop(struct sonde_cri *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	if (--c->refs) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	sonde_cri_list_free(&c->list);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

bool sonde_cri_find_socket(const char *root, char *path, size_t len)
{
	static const char *const socks[] = { "/run/containerd/containerd.sock",
					     "/run/crio/crio.sock", "/var/run/crio/crio.sock" };
	root = root && strcmp(root, "/") ? root : "";
	for (size_t i = 0; i < sizeof(socks) / sizeof(*socks); i++) {
		struct stat st;
		snprintf(path, len, "%s%s", root, socks[i]);
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			return true;
	}
	return false;
}

static void dup_if_unset(char **dst, const char *s)
{
	if (!*dst && s && *s && !(*dst = strdup(s)))
		abort();
}

static void copy_kv(struct sonde_kv **dst, size_t *n, const struct sonde_kv *src, size_t m)
{
	if (*n || !m)
		return;
	*dst = calloc(m, sizeof(**dst));
	if (!*dst)
		abort();
	for (size_t i = 0; i < m; i++) {
		(*dst)[i].key = strdup(src[i].key);
		(*dst)[i].value = strdup(src[i].value);
		if (!(*dst)[i].key || !(*dst)[i].value)
			abort();
	}
	*n = m;
}

bool sonde_cri_fill(struct sonde_cri *c, const char *id, struct sonde_container_meta *m)
{
	pthread_mutex_lock(&c->lock);
	const struct sonde_cri_ctr *ct = sonde_cri_find_ctr(&c->list, id);
	/* A sandbox's own (pause) process is the pod, not a container. */
	const struct sonde_cri_pod *pod = sonde_cri_find_pod(&c->list, ct ? ct->pod_id : id);
	if (ct) {
		dup_if_unset(&m->name, ct->name);
		dup_if_unset(&m->image, ct->image);
	}
	if ((ct || pod) && m->runtime == SONDE_RUNTIME_UNKNOWN &&
	    c->runtime > SONDE_RUNTIME_UNKNOWN)
		m->runtime = c->runtime;
	if (pod) {
		dup_if_unset(&m->pod_name, pod->name);
		dup_if_unset(&m->pod_namespace, pod->namespace);
		dup_if_unset(&m->pod_uid, pod->uid);
		dup_if_unset(&m->pod_ip, pod->ip);
		copy_kv(&m->labels, &m->nlabels, pod->labels, pod->nlabels);
		copy_kv(&m->annotations, &m->nannotations, pod->annotations, pod->nannotations);
	}
	bool found = ct || pod;
	if (!found) {
		c->counts.misses++;
		c->asked = true;
		pthread_cond_signal(&c->wake);
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

bool sonde_cri_fill_by_ip(struct sonde_cri *c, const char *ip, struct sonde_container_meta *m)
{
	pthread_mutex_lock(&c->lock);
	const struct sonde_cri_pod *pod = NULL;
	for (size_t i = 0; i < c->list.npods && !pod; i++)
		if (c->list.pods[i].ip && !strcmp(c->list.pods[i].ip, ip))
			pod = &c->list.pods[i];
	if (pod) {
		m->runtime = c->runtime > SONDE_RUNTIME_UNKNOWN ? c->runtime : m->runtime;
		dup_if_unset(&m->pod_name, pod->name);
		dup_if_unset(&m->pod_namespace, pod->namespace);
		dup_if_unset(&m->pod_uid, pod->uid);
		dup_if_unset(&m->pod_ip, pod->ip);
		copy_kv(&m->labels, &m->nlabels, pod->labels, pod->nlabels);
		m->from_cri = true;
	}
	pthread_mutex_unlock(&c->lock);
	return pod != NULL;
}

uint64_t sonde_cri_generation(struct sonde_cri *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t g = c->generation;
	pthread_mutex_unlock(&c->lock);
	return g;
}

void sonde_cri_counts(struct sonde_cri *c, struct sonde_cri_counts *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->counts;
	pthread_mutex_unlock(&c->lock);
}

void sonde_cri_stats(struct sonde_cri *c, struct sonde_stats *st)
{
	if (!st)
		return;
	struct sonde_cri_counts n;
	sonde_cri_counts(c, &n);
	st->enrich_cri_listings = n.listings;
	st->enrich_cri_failures = n.failures;
	st->enrich_cri_misses = n.misses;
}
