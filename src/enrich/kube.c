// SPDX-License-Identifier: MIT
#include "enrich/kube.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/privs.h"
#include "core/buf.h"
#include "enrich/kube_table.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define LIST_PAGE 500
#define LIST_TIMEOUT_S 60
/* The server ends a watch after this long (a new one resumes it); the
 * client gives up on a watch silent for longer (no bookmark, no event). */
#define WATCH_SERVER_S 290
#define WATCH_CLIENT_S 330
#define TOKEN_MAX 16384

/* The counters: the threads add, sonde_kube_stats reads. */
struct counts {
	_Atomic uint64_t lists, list_failures, watches, watch_failures, events, bad_events, relists,
		too_long, table_full;
};

struct watcher {
	struct sonde_kube *k;
	enum sonde_kube_kind kind;
	struct sonde_kube_table *table;
	pthread_t thread;
	bool started;
	char rv[SONDE_KUBE_RV_MAX + 1]; /* "" : list first */
	struct sonde_kube_lines lines;
	bool gone; /* this watch said 410: list again */
};

struct sonde_kube {
	char base[300]; /* https://host:port */
	char token_path[512], ca_path[512];
	char node[256];
	atomic_bool stop;
	pthread_mutex_t lock; /* for the stop sleep */
	pthread_cond_t wake;
	struct counts n;
	struct watcher w[3];
};

static const char *const paths[] = { "/api/v1/pods", "/api/v1/services",
				     "/apis/discovery.k8s.io/v1/endpointslices" };

/* --------------------------------------------------------- HTTP --- */

/* The token, read for each request (rotated by the kubelet). */
static bool auth_header(const struct sonde_kube *k, char *out, size_t len)
{
	FILE *f = fopen(k->token_path, "re");
	if (!f)
		return false;
	char tok[TOKEN_MAX];
	size_t n = fread(tok, 1, sizeof(tok) - 1, f);
	fclose(f);
	while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
		n--;
	tok[n] = '\0';
	bool ok = n && n < sizeof(tok) - 1 && !strpbrk(tok, "\r\n") &&
		  (size_t)snprintf(out, len, "Authorization: Bearer %s", tok) < len;
	explicit_bzero(tok, sizeof(tok));
	return ok;
}

static int stop_check(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	const struct sonde_kube *k = p;
	return atomic_load(&k->stop); /* non-zero aborts the transfer */
}

/* One GET of url; body bytes to fn. The HTTP status, or -1. */
static long get(struct sonde_kube *k, const char *url, long timeout_s,
		size_t (*fn)(char *, size_t, size_t, void *), void *ctx)
{
	char auth[TOKEN_MAX + 32];
	if (!auth_header(k, auth, sizeof(auth)))
		return -1;
	CURL *c = curl_easy_init();
	if (!c)
		return -1;
	struct curl_slist *h = curl_slist_append(NULL, auth);
	h = curl_slist_append(h, "Accept: application/json");
	explicit_bzero(auth, sizeof(auth));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_CAINFO, k->ca_path);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fn);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, ctx);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_check);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, k);
	CURLcode rc = curl_easy_perform(c);
	long status = -1;
	if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && status != 200) ? status
	       : rc == CURLE_WRITE_ERROR                                    ? -2
									    : -1;
}

/* The selector and paging of a request for w's resource, after '?'. */
static void url_of(const struct watcher *w, const char *query, char *out, size_t len)
{
	char sel[320] = "";
	if (w->kind == SONDE_KUBE_POD) {
		char *node = curl_easy_escape(NULL, w->k->node, 0);
		snprintf(sel, sizeof(sel), "&fieldSelector=spec.nodeName%%3D%s", node ? node : "");
		curl_free(node);
	}
	snprintf(out, len, "%s%s?%s%s", w->k->base, paths[w->kind], query, sel);
}

/* ---------------------------------------------------------- list --- */

struct body {
	struct sonde_buf b;
	bool too_big;
};

static size_t body_write(char *p, size_t sz, size_t n, void *ctx)
{
	struct body *b = ctx;
	if (b->b.len + n > SONDE_KUBE_LIST_MAX) {
		b->too_big = true;
		return 0;
	}
	sonde_buf_append(&b->b, p, n);
	return n;
	(void)sz; /* always 1 */
}

static void put_listed(void *ctx, const struct sonde_kube_object *o)
{
	struct watcher *w = ctx;
	if (!sonde_kube_table_put(w->table, o))
		w->k->n.table_full++;
}

/* Every page of the list into the table; w->rv set. 0, or -1. */
static int list(struct watcher *w)
{
	char cont[4096] = "", url[8192];
	w->k->n.lists++;
	sonde_kube_table_begin_list(w->table);
	do {
		char *c = curl_easy_escape(NULL, cont, 0), q[4400];
		snprintf(q, sizeof(q), "limit=%d%s%s", LIST_PAGE, *cont ? "&continue=" : "",
			 c ? c : "");
		curl_free(c);
		url_of(w, q, url, sizeof(url));
		struct body b = { 0 };
		long st = get(w->k, url, LIST_TIMEOUT_S, body_write, &b);
		size_t skipped = 0;
		int rc = st == 200 ? sonde_kube_parse_list((const char *)b.b.p, b.b.len, w->kind,
							   put_listed, w, w->rv, sizeof(w->rv),
							   cont, sizeof(cont), &skipped)
				   : -1;
		w->k->n.bad_events += skipped;
		sonde_buf_free(&b.b);
		if (rc < 0) {
			w->rv[0] = '\0';
			w->k->n.list_failures++;
			return -1; /* the table keeps what it had */
		}
	} while (*cont && !atomic_load(&w->k->stop));
	sonde_kube_table_end_list(w->table);
	return 0;
}

/* --------------------------------------------------------- watch --- */

static bool on_event(void *ctx, const char *line, size_t len)
{
	struct watcher *w = ctx;
	struct sonde_kube_event ev;
	if (sonde_kube_parse_event(line, len, w->kind, &ev) < 0) {
		w->k->n.bad_events++;
		return true;
	}
	w->k->n.events++;
	bool go_on = true;
	switch (ev.type) {
	case SONDE_KUBE_ADDED:
	case SONDE_KUBE_MODIFIED:
		if (!sonde_kube_table_put(w->table, &ev.obj))
			w->k->n.table_full++;
		break;
	case SONDE_KUBE_DELETED: sonde_kube_table_del(w->table, &ev.obj); break;
	case SONDE_KUBE_BOOKMARK: break;
	case SONDE_KUBE_ERROR:
		/* 410: the version is too old, list again; else resume. */
		w->gone = ev.code == 410;
		go_on = false;
		break;
	}
	if (go_on && ev.obj.rv[0])
		memcpy(w->rv, ev.obj.rv, sizeof(w->rv));
	sonde_kube_object_clear(&ev.obj);
	return go_on;
}

static size_t watch_write(char *p, size_t sz, size_t n, void *ctx)
{
	struct watcher *w = ctx;
	(void)sz;
	return sonde_kube_lines_feed(&w->lines, p, n, on_event, w) ? n : 0;
}

/* One watch from w->rv until it ends. 0: ended as watches do (resume), 1:
 * gone (list again), -1: failed. */
static int watch(struct watcher *w)
{
	char q[256], url[1024];
	snprintf(q, sizeof(q),
		 "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s",
		 WATCH_SERVER_S, w->rv);
	url_of(w, q, url, sizeof(url));
	w->k->n.watches++;
	w->gone = false;
	sonde_kube_lines_reset(&w->lines);
	uint64_t long_before = w->lines.too_long;
	long st = get(w->k, url, WATCH_CLIENT_S, watch_write, w);
	w->k->n.too_long += w->lines.too_long - long_before;
	if (st == 410 || w->gone)
		return 1;
	if (st == 200 || atomic_load(&w->k->stop))
		return 0;
	w->k->n.watch_failures++;
	return -1;
}

/* ---------------------------------------------------------- thread --- */

/* Sleep ms unless stopped first; false when stopped. */
static bool nap(struct sonde_kube *k, long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000l;
	if (ts.tv_nsec >= 1000000000l)
		ts.tv_sec++, ts.tv_nsec -= 1000000000l;
	pthread_mutex_lock(&k->lock);
	while (!atomic_load(&k->stop) &&
	       pthread_cond_timedwait(&k->wake, &k->lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&k->lock);
	return !atomic_load(&k->stop);
}

static void *run(void *arg)
{
	struct watcher *w = arg;
	struct sonde_kube *k = w->k;
	sonde_privs_thread_keep(0); /* it only reads its account and talks HTTPS */
	long backoff = BACKOFF_MIN_MS;
	while (!atomic_load(&k->stop)) {
		int rc = !w->rv[0] ? list(w) : watch(w);
		if (rc == 1) {
			k->n.relists++;
			w->rv[0] = '\0';
		}
		if (rc >= 0) {
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		if (!nap(k, backoff))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	sonde_kube_lines_free(&w->lines);
	return NULL;
}

static int config(struct sonde_kube *k, const struct sonde_kube_opts *o, char *why, size_t whylen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = o && o->account_dir ? o->account_dir : SONDE_KUBE_ACCOUNT_DIR;
	const char *node = o && o->node && *o->node ? o->node : getenv("NODE_NAME");
	if (!host || !*host || !port || !*port || strspn(port, "0123456789") != strlen(port)) {
		snprintf(why, whylen, "KUBERNETES_SERVICE_HOST/PORT not set: not in a cluster");
		return -1;
	}
	/* An IPv6 address goes in brackets. */
	bool v6 = strchr(host, ':') != NULL;
	snprintf(k->base, sizeof(k->base), "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
		 port);
	snprintf(k->token_path, sizeof(k->token_path), "%s/token", dir);
	snprintf(k->ca_path, sizeof(k->ca_path), "%s/ca.crt", dir);
	if (access(k->token_path, R_OK) || access(k->ca_path, R_OK)) {
		snprintf(why, whylen, "%s: no readable token and ca.crt (%s)", dir,
			 strerror(errno));
		return -1;
	}
	if (node && *node)
		snprintf(k->node, sizeof(k->node), "%s", node);
	else if (gethostname(k->node, sizeof(k->node)) < 0)
		k->node[0] = '\0';
	return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread uses libcurl */
}

struct sonde_kube *sonde_kube_start(const struct sonde_kube_opts *o, char *why, size_t whylen)
{
	struct sonde_kube *k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (config(k, o, why, whylen) < 0) {
		free(k);
		return NULL;
	}
	pthread_once(&curl_once, curl_init);
	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->wake, &ca);
	pthread_condattr_destroy(&ca);
	static const char *const names[] = { "sonde-kube-pods", "sonde-kube-svc",
					     "sonde-kube-eps" };
	for (int i = 0; i < 3; i++) {
		struct watcher *w = &k->w[i];
		w->k = k;
		w->kind = (enum sonde_kube_kind)i;
		if (!(w->table = sonde_kube_table_new(0)) ||
		    pthread_create(&w->thread, NULL, run, w)) {
			snprintf(why, whylen, "no thread for the API client");
			sonde_kube_stop(k);
			return NULL;
		}
		w->started = true;
		pthread_setname_np(w->thread, names[i]);
	}
	return k;
}

void sonde_kube_stop(struct sonde_kube *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	atomic_store(&k->stop, true);
	pthread_cond_broadcast(&k->wake);
	pthread_mutex_unlock(&k->lock);
	for (int i = 0; i < 3; i++) {
		if (k->w[i].started)
			pthread_join(k->w[i].thread, NULL);
		sonde_kube_table_free(k->w[i].table);
	}
	pthread_cond_destroy(&k->wake);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

struct sonde_container_meta *sonde_kube_pod_by_ip(struct sonde_kube *k, const char *ip)
{
	/* This node's Pods know labels; EndpointSlices only names. */
	struct sonde_container_meta *m = sonde_kube_table_pod(k->w[SONDE_KUBE_POD].table, ip);
	return m ? m : sonde_kube_table_pod(k->w[SONDE_KUBE_SLICE].table, ip);
}

bool sonde_kube_service_by_ip(struct sonde_kube *k, const char *ip, char *name, size_t namelen,
			      char *ns, size_t nslen)
{
	return sonde_kube_table_service(k->w[SONDE_KUBE_SERVICE].table, ip, name, namelen, ns,
					nslen);
}

uint64_t sonde_kube_generation(struct sonde_kube *k)
{
	uint64_t g = 0;
	for (int i = 0; i < 3; i++)
		g += sonde_kube_table_generation(k->w[i].table);
	return g;
}

void sonde_kube_stats(struct sonde_kube *k, struct sonde_stats *st)
{
	if (!k || !st)
		return;
	st->kube_api_lists = k->n.lists;
	st->kube_api_list_failures = k->n.list_failures;
	st->kube_api_watches = k->n.watches;
	st->kube_api_watch_failures = k->n.watch_failures;
	st->kube_api_events = k->n.events;
	st->kube_api_bad_events = k->n.bad_events;
	st->kube_api_relists = k->n.relists;
	st->kube_api_lines_too_long = k->n.too_long;
	st->kube_api_table_full = k->n.table_full;
	size_t objs = 0;
	for (int i = 0; i < 3; i++)
		objs += sonde_kube_table_len(k->w[i].table);
	st->kube_api_objects = objs;
}
