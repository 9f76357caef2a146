/* SPDX-License-Identifier: MIT */
/*
 * --all-netns (see live.h): one packet source of the chosen kind per network
 * namespace, opened as the namespace appears and closed when it goes. The
 * children's descriptors sit in one epoll set; their chunks pass through
 * here to be labelled with the namespace they came from.
 */
#include "source/packet/live.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

#define MAX_NETNS 256
#define RESCAN_NS 2000000000ull /* how often new and gone namespaces are looked for */
#define PATH_LEN 300

struct netns_child {
	struct all_netns *parent;
	uint64_t ino; /* the namespace's inode: its identity */
	void *src; /* NULL: the slot is free */
	char name[PATH_LEN + 64]; /* records' capture.source */
	bool seen; /* in the latest scan */
};

struct all_netns {
	struct sonde_all_netns_opts opts;
	struct sonde_source_env env;
	struct netns_child child[MAX_NETNS];
	/* namespaces whose source would not open, not tried again */
	uint64_t failed[MAX_NETNS];
	size_t nfailed;
	struct sonde_packet_dedup *dedup;
	int epfd;
	uint64_t last_scan;
	char ifaces[128]; /* "any", or -i's names joined */
	char error[512];
};

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void child_chunk(void *ctx, const struct sonde_chunk *c)
{
	struct netns_child *ch = ctx;
	struct sonde_chunk labelled = *c;
	labelled.source = ch->name;
	sonde_chunk_emit(&ch->parent->env.out, &labelled);
}

static struct netns_child *child_of(struct all_netns *s, uint64_t ino)
{
	for (size_t i = 0; i < MAX_NETNS; i++)
		if (s->child[i].src && s->child[i].ino == ino)
			return &s->child[i];
	return NULL;
}

static bool failed_before(const struct all_netns *s, uint64_t ino)
{
	for (size_t i = 0; i < s->nfailed; i++)
		if (s->failed[i] == ino)
			return true;
	return false;
}

static void open_child(struct all_netns *s, uint64_t ino, const char *path)
{
	struct netns_child *ch = NULL;
	for (size_t i = 0; i < MAX_NETNS && !ch; i++)
		if (!s->child[i].src)
			ch = &s->child[i];
	if (!ch) {
		s->env.stats->netns_skipped++;
		return;
	}
	struct sonde_packet_opts po = s->opts.packet;
	po.netns = path;
	if (!po.ring_size) /* many namespaces: a modest buffer each */
		po.ring_size = 4u << 20;
	po.dedup = s->dedup;
	po.dedup_tag = (uint32_t)(ch - s->child) + 1;
	struct sonde_source_env env = s->env;
	env.out = (struct sonde_chunk_out){ .chunk = child_chunk, .ctx = ch };
	char err[256];
	*ch = (struct netns_child){ .parent = s, .ino = ino, .seen = true };
	snprintf(ch->name, sizeof(ch->name), "%s@%s", s->ifaces, path);
	ch->src = s->opts.kind->open(&po, &env, err, sizeof(err));
	int fd = ch->src ? s->opts.kind->fd(ch->src) : -1;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ch };
	if (ch->src && (fd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)) {
		s->opts.kind->close(ch->src);
		ch->src = NULL;
	}
	if (!ch->src) {
		/* A namespace without a usable interface, say: not retried. */
		if (s->nfailed < MAX_NETNS)
			s->failed[s->nfailed++] = ino;
		s->env.stats->netns_failed++;
		return;
	}
	s->env.stats->netns_opened++;
}

static void close_child(struct all_netns *s, struct netns_child *ch)
{
	s->opts.kind->poll(ch->src, 0); /* what it holds still */
	s->opts.kind->stats(ch->src);
	int fd = s->opts.kind->fd(ch->src);
	if (fd >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
	s->opts.kind->close(ch->src);
	ch->src = NULL;
	s->env.stats->netns_closed++;
}

/* A namespace found at path: its source if new, marked seen if known. */
static void found(struct all_netns *s, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return;
	struct netns_child *ch = child_of(s, st.st_ino);
	if (ch)
		ch->seen = true;
	else if (!failed_before(s, st.st_ino))
		open_child(s, st.st_ino, path);
}

static void scan(struct all_netns *s)
{
	for (size_t i = 0; i < MAX_NETNS; i++)
		s->child[i].seen = false;
	char path[PATH_LEN];
	DIR *d = opendir("/run/netns"); /* named first: the better label */
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%.200s", e->d_name);
		found(s, path);
	}
	if (d)
		closedir(d);
	d = opendir("/proc");
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/ns/net", e->d_name);
		found(s, path);
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < MAX_NETNS; i++)
		if (s->child[i].src && !s->child[i].seen)
			close_child(s, &s->child[i]);
	s->last_scan = now_ns();
}

static void all_close(void *state);

static void *all_open(const void *opts, const struct sonde_source_env *env, char *err,
		      size_t errlen)
{
	struct all_netns *s = sonde_xcalloc(1, sizeof(*s));
	s->opts = *(const struct sonde_all_netns_opts *)opts;
	s->env = *env;
	s->dedup = sonde_packet_dedup_new();
	const struct sonde_packet_opts *po = &s->opts.packet;
	struct sonde_buf b = { 0 };
	for (size_t i = 0; i < (po->nifaces ? po->nifaces : 1); i++) {
		const char *n = po->nifaces ? po->ifaces[i] : "any";
		if (i)
			sonde_buf_putc(&b, ',');
		sonde_buf_append(&b, n, strlen(n));
	}
	snprintf(s->ifaces, sizeof(s->ifaces), "%.*s", (int)b.len, (const char *)b.p);
	sonde_buf_free(&b);
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		all_close(s);
		return NULL;
	}
	/* The first scan opens what there is; a first failure (say, no
	 * capability) is one for every namespace, so say it now. */
	char first[256] = "";
	struct stat self;
	if (stat("/proc/self/ns/net", &self) == 0) {
		struct sonde_packet_opts own = *po;
		own.dedup = s->dedup;
		void *probe = s->opts.kind->open(&own, env, first, sizeof(first));
		if (!probe) {
			snprintf(err, errlen, "%s", first);
			all_close(s);
			return NULL;
		}
		s->opts.kind->close(probe);
	}
	scan(s);
	return s;
}

static int all_fd(void *state)
{
	return ((struct all_netns *)state)->epfd;
}

static int all_poll(void *state, int timeout_ms)
{
	struct all_netns *s = state;
	if (now_ns() - s->last_scan > RESCAN_NS)
		scan(s);
	struct epoll_event ev[16];
	int n = epoll_wait(s->epfd, ev, 16, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	int total = 0;
	for (int i = 0; i < n; i++) {
		struct netns_child *ch = ev[i].data.ptr;
		if (!ch->src)
			continue;
		int r = s->opts.kind->poll(ch->src, 0);
		if (r > 0)
			total += r;
	}
	return total;
}

static void all_stats(void *state)
{
	struct all_netns *s = state;
	for (size_t i = 0; i < MAX_NETNS; i++)
		if (s->child[i].src)
			s->opts.kind->stats(s->child[i].src);
}

static void all_close(void *state)
{
	struct all_netns *s = state;
	for (size_t i = 0; i < MAX_NETNS; i++)
		if (s->child[i].src)
			s->opts.kind->close(s->child[i].src);
	if (s->epfd >= 0)
		close(s->epfd);
	sonde_packet_dedup_free(s->dedup);
	free(s);
}

const struct sonde_source_ops sonde_source_all_netns = {
	.name = "all-netns",
	.live = true,
	.open = all_open,
	.fd = all_fd,
	.poll = all_poll,
	.stats = all_stats,
	.close = all_close,
};
