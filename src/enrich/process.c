// SPDX-License-Identifier: MIT
#include "enrich/process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/u64map.h"

/* ------------------------------------------------------------ /proc --- */

/* Up to len - 1 bytes of a file, NUL-terminated; the length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n < len - 1) {
		ssize_t r = read(fd, buf + n, len - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0) {
				int e = errno;
				close(fd);
				errno = e;
				return -1;
			}
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	return (ssize_t)n;
}

static ssize_t read_pid_file(const char *proc, uint32_t pid, const char *name, char *buf,
			     size_t len)
{
	char path[512];
	int n = snprintf(path, sizeof(path), "%s/%u/%s", proc, pid, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	return read_small(path, buf, len);
}

/* Field 22 of stat: counted after the last ')', since comm may hold
 * spaces and parentheses of its own. */
static bool parse_start_ticks(const char *stat, uint64_t *ticks)
{
	const char *p = strrchr(stat, ')');
	if (!p)
		return false;
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return false;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1)
		return false;
	*ticks = v;
	return true;
}

bool sonde_proc_start_ticks(const char *proc, uint32_t pid, uint64_t *ticks)
{
	char stat[1024];
	return read_pid_file(proc, pid, "stat", stat, sizeof(stat)) > 0 &&
	       parse_start_ticks(stat, ticks);
}

/* Start ticks and comm (field 2, between the first '(' and the last ')')
 * from one read of stat: an exec keeps the pid and start time but renames
 * the process, which is how the cache sees it. */
static bool identity(const char *proc, uint32_t pid, uint64_t *ticks, char comm[16])
{
	char stat[1024];
	if (read_pid_file(proc, pid, "stat", stat, sizeof(stat)) <= 0 ||
	    !parse_start_ticks(stat, ticks))
		return false;
	const char *open = strchr(stat, '('), *close = strrchr(stat, ')');
	size_t n = open && close > open ? (size_t)(close - open - 1) : 0;
	n = n < 15 ? n : 15;
	memcpy(comm, open ? open + 1 : "", n);
	comm[n] = 0;
	return true;
}

static void cmdline_of(const char *proc, uint32_t pid, char *out)
{
	ssize_t n = read_pid_file(proc, pid, "cmdline", out, SONDE_PROC_CMDLINE_MAX);
	if (n <= 0) {
		out[0] = 0;
		return;
	}
	while (n > 0 && out[n - 1] == 0)
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (out[i] == 0)
			out[i] = ' ';
	out[n] = 0;
}

static uint32_t euid_of(const char *status)
{
	const char *p = strstr(status, "\nUid:");
	unsigned real, eff;
	if (p && sscanf(p + 5, "%u %u", &real, &eff) == 2)
		return eff;
	return (uint32_t)-1;
}

/* The user's name from root's /etc/passwd (not getpwuid: that asks the
 * host sonde's own files and services, not the node's). */
static void user_of(const char *root, uint32_t uid, char *out, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/etc/passwd", strcmp(root, "/") ? root : "");
	out[0] = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		char *end;
		unsigned long u = strtoul(c2 + 1, &end, 10);
		if (end == c2 + 1 || *end != ':' || u != uid)
			continue;
		snprintf(out, len, "%.*s", (int)(c1 - line), line);
		break;
	}
	fclose(f);
}

int sonde_proc_read(const char *proc, const char *root, uint64_t btime_s, uint32_t pid,
		    struct sonde_proc_info *out)
{
	memset(out, 0, sizeof(*out));
	out->pid = pid;
	char buf[4096];
	if (read_pid_file(proc, pid, "stat", buf, sizeof(buf)) <= 0)
		return -1;
	if (!parse_start_ticks(buf, &out->start_ticks)) {
		errno = EINVAL;
		return -1;
	}
	long hz = sysconf(_SC_CLK_TCK);
	if (btime_s && hz > 0)
		out->start_ns =
			btime_s * 1000000000ull + out->start_ticks * (1000000000ull / (uint64_t)hz);
	if (read_pid_file(proc, pid, "status", buf, sizeof(buf)) <= 0)
		return -1;
	out->uid = euid_of(buf);
	if (out->uid != (uint32_t)-1)
		user_of(root, out->uid, out->user, sizeof(out->user));
	ssize_t n = read_pid_file(proc, pid, "comm", out->comm, sizeof(out->comm));
	if (n > 0 && out->comm[n - 1] == '\n')
		out->comm[n - 1] = 0;
	char path[128];
	snprintf(path, sizeof(path), "%s/%u/exe", proc, pid);
	n = readlink(path, out->exe, sizeof(out->exe) - 1);
	out->exe[n > 0 ? n : 0] = 0;
	cmdline_of(proc, pid, out->cmdline);
	n = read_pid_file(proc, pid, "cgroup", buf, sizeof(buf));
	if (n > 0)
		sonde_cgroup_parse_file(buf, (size_t)n, &out->ctr, out->cgroup,
					sizeof(out->cgroup));
	struct stat ns;
	snprintf(path, sizeof(path), "%s/%u/ns/net", proc, pid);
	if (stat(path, &ns) == 0)
		out->netns = (uint32_t)ns.st_ino;
	return 0;
}

static uint64_t boot_time(const char *proc)
{
	char path[128], buf[8192];
	snprintf(path, sizeof(path), "%s/stat", proc);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	const char *p = strstr(buf, "\nbtime ");
	return p ? strtoull(p + 7, NULL, 10) : 0;
}

/* ------------------------------------------------------------ cache --- */

struct proc_entry {
	struct sonde_proc_info info;
	uint64_t last_use; /* the cache's clock: lookups so far */
	bool used;
	bool exited; /* its exit event came: the pid may be another's by now */
	bool doubted; /* events were lost since it was read: an exec too */
};

struct sonde_proc_cache {
	char proc[128], root[128];
	uint64_t btime_s;
	struct sonde_stats *stats;
	struct proc_entry *e;
	size_t max, len;
	size_t sweep; /* next entry the lazy expiry looks at */
	uint64_t clock;
	bool tracked; /* exec and exit events flow: entries are trusted */
	struct sonde_u64map by_pid; /* pid → index + 1 */
};

struct sonde_proc_cache *sonde_proc_cache_new(const struct sonde_proc_opts *o,
					      struct sonde_stats *stats)
{
	struct sonde_proc_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->proc, sizeof(c->proc), "%s", o && o->proc ? o->proc : "/proc");
	snprintf(c->root, sizeof(c->root), "%s", o && o->root ? o->root : "/");
	c->max = o && o->max_entries ? o->max_entries : 1024;
	c->e = calloc(c->max, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	c->stats = stats;
	c->btime_s = boot_time(c->proc);
	sonde_u64map_init(&c->by_pid);
	return c;
}

void sonde_proc_cache_free(struct sonde_proc_cache *c)
{
	if (!c)
		return;
	sonde_u64map_free(&c->by_pid);
	free(c->e);
	free(c);
}

size_t sonde_proc_cache_len(const struct sonde_proc_cache *c)
{
	return c->len;
}

static void drop(struct sonde_proc_cache *c, size_t i)
{
	sonde_u64map_del(&c->by_pid, c->e[i].info.pid, NULL);
	c->e[i].used = false;
	c->len--;
}

/* Lazy expiry: look at two entries per miss, drop those whose process is
 * gone (or whose pid now names another process). */
static void sweep(struct sonde_proc_cache *c)
{
	for (int k = 0; k < 2 && c->len; k++) {
		size_t i = c->sweep++ % c->max;
		struct proc_entry *e = &c->e[i];
		uint64_t t;
		if (!e->used)
			continue;
		if (!sonde_proc_start_ticks(c->proc, e->info.pid, &t) || t != e->info.start_ticks) {
			drop(c, i);
			if (c->stats)
				c->stats->enrich_process_expired++;
		}
	}
}

/* A free entry; the least recently used one when the cache is full. */
static size_t room(struct sonde_proc_cache *c)
{
	size_t lru = 0;
	for (size_t i = 0; i < c->max; i++) {
		if (!c->e[i].used)
			return i;
		if (c->e[i].last_use < c->e[lru].last_use)
			lru = i;
	}
	drop(c, lru);
	return lru;
}

/* Whether cached entry i still describes process pid: with events, until
 * an exec drops it or an exit marks it; else (or once marked) while
 * /proc/PID/stat shows the same start time (and, without events, comm: an
 * exec keeps the start time). Counts a reuse or an exec it finds. */
static bool still_valid(struct sonde_proc_cache *c, size_t i, uint32_t pid)
{
	struct proc_entry *e = &c->e[i];
	if (c->tracked && !e->exited && !e->doubted)
		return true;
	uint64_t ticks;
	char comm[16];
	if (!identity(c->proc, pid, &ticks, comm))
		return true; /* gone: it is the last process that had the pid */
	if (ticks != e->info.start_ticks) {
		if (c->stats)
			c->stats->enrich_process_reused++;
		return false;
	}
	if ((c->tracked && !e->doubted) || !strcmp(e->info.comm, comm)) {
		e->doubted = false; /* tracked: an exec would have dropped it */
		return true;
	}
	if (c->stats)
		c->stats->enrich_process_execs++;
	return false;
}

/* counted: a lookup for a record (its failure is counted too) */
static const struct sonde_proc_info *lookup(struct sonde_proc_cache *c, uint32_t pid, bool counted)
{
	uint64_t idx;
	if (sonde_u64map_get(&c->by_pid, pid, &idx)) {
		if (still_valid(c, idx - 1, pid)) {
			c->e[idx - 1].last_use = c->clock;
			return &c->e[idx - 1].info;
		}
		drop(c, idx - 1); /* the pid is another process's now, or it exec'd */
	}
	/* With events an exited entry stays for its late records: the least
	 * recently used one makes room, no /proc read finds it gone. */
	if (!c->tracked)
		sweep(c);
	struct sonde_proc_info info;
	if (sonde_proc_read(c->proc, c->root, c->btime_s, pid, &info) < 0) {
		if (c->stats && counted)
			c->stats->enrich_process_failures++;
		return NULL;
	}
	size_t i = room(c);
	c->e[i] = (struct proc_entry){ .info = info, .last_use = c->clock, .used = true };
	c->len++;
	sonde_u64map_put(&c->by_pid, pid, i + 1);
	return &c->e[i].info;
}

const struct sonde_proc_info *sonde_proc_lookup(struct sonde_proc_cache *c, uint32_t pid)
{
	if (!pid)
		return NULL;
	c->clock++;
	if (c->stats)
		c->stats->enrich_process_lookups++;
	return lookup(c, pid, true);
}

void sonde_proc_remember(struct sonde_proc_cache *c, uint32_t pid)
{
	if (!pid)
		return;
	c->clock++;
	lookup(c, pid, false);
}

void sonde_proc_track(struct sonde_proc_cache *c)
{
	c->tracked = true;
}

void sonde_proc_doubt(struct sonde_proc_cache *c)
{
	for (size_t i = 0; i < c->max; i++)
		c->e[i].doubted = c->e[i].used;
}

void sonde_proc_exec(struct sonde_proc_cache *c, uint32_t pid)
{
	uint64_t idx;
	if (!sonde_u64map_get(&c->by_pid, pid, &idx))
		return;
	drop(c, idx - 1);
	if (c->stats)
		c->stats->enrich_process_execs++;
}

void sonde_proc_exit(struct sonde_proc_cache *c, uint32_t pid)
{
	uint64_t idx;
	if (sonde_u64map_get(&c->by_pid, pid, &idx))
		c->e[idx - 1].exited = true;
}
