/* SPDX-License-Identifier: MIT */
/*
 * Who a process is: executable, command line, user, start time, cgroup and
 * container, read from /proc once per process and kept in a bounded cache.
 *
 * A process is its pid and its start time together (field 22 of
 * /proc/PID/stat), so a pid the kernel hands out again is a new entry, not
 * the old one's name on a stranger. Without exec and exit events a lookup
 * reads /proc/PID/stat (one small read) to tell the two apart and the rest
 * only on a miss; once a source sends them (sonde_proc_track: the eBPF
 * source's sched_process_exec/exit), a cached entry is answered without
 * touching /proc until an exec drops it or an exit marks it, and only a
 * marked entry is checked against /proc/PID/stat (a pid reused since).
 * Callers look up once per connection end, never per event. Without
 * events, entries of processes that are gone are dropped lazily, a couple
 * per miss; with them an exited entry stays for its connections' late
 * records. The least recently used entry makes room when the cache is full. Nothing here blocks: /proc answers at
 * once or the lookup fails, is counted, and the process is unknown.
 */
#ifndef SONDE_ENRICH_PROCESS_H
#define SONDE_ENRICH_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"
#include "enrich/cgroup.h"

#define SONDE_PROC_CMDLINE_MAX 256 /* bytes kept of the command line, NUL included */

struct sonde_proc_info {
	uint32_t pid;
	uint32_t uid; /* effective, as ps shows it */
	uint64_t start_ticks; /* clock ticks after boot: the key with pid */
	uint64_t start_ns; /* the same as wall-clock time, ns since the epoch */
	char comm[16];
	char exe[256]; /* "" when /proc does not say (kernel threads, no access) */
	char cmdline[SONDE_PROC_CMDLINE_MAX]; /* arguments joined by spaces, cut */
	char user[33]; /* "" when the uid has no name in <root>/etc/passwd */
	char cgroup[256]; /* the path that names the container, else the v2 one */
	uint32_t netns; /* its network namespace's inode; 0: unknown */
	struct sonde_cgroup_ctr ctr; /* runtime "" id: no container */
};

struct sonde_proc_opts {
	const char *proc; /* where the processes are: "/proc" when NULL */
	const char *root; /* whose /etc/passwd names users: "/" when NULL
			   * ("/proc/1/root" when sonde runs in a container) */
	size_t max_entries; /* 0: 1024 */
};

struct sonde_proc_cache;

/* Counters go to stats (may be NULL). NULL only when out of memory. */
struct sonde_proc_cache *sonde_proc_cache_new(const struct sonde_proc_opts *o,
					      struct sonde_stats *stats);
void sonde_proc_cache_free(struct sonde_proc_cache *c);

/*
 * Process pid, from the cache or read now. NULL: unknown — it is gone and
 * was never cached, or /proc would not say (counted in
 * enrich_process_failures). A process that exited after it was cached is
 * still answered from the cache: it is the last one that had that pid. The
 * pointer is valid until the next lookup; copy what is kept.
 */
const struct sonde_proc_info *sonde_proc_lookup(struct sonde_proc_cache *c, uint32_t pid);

/* Process pid read into the cache now if it is not there (a process that
 * opened a socket, before it can exit); not counted as a lookup. */
void sonde_proc_remember(struct sonde_proc_cache *c, uint32_t pid);

/* Exec and exit events flow from now on: cached entries are trusted. */
void sonde_proc_track(struct sonde_proc_cache *c);
/* pid runs a new program: its entry goes (counted in enrich_process_execs). */
void sonde_proc_exec(struct sonde_proc_cache *c, uint32_t pid);
/* pid's main thread exited: its entry stays for late records, but a later
 * lookup checks the pid is not another process's by then. */
void sonde_proc_exit(struct sonde_proc_cache *c, uint32_t pid);

/* Events may have been lost: every entry is checked against /proc (start
 * time and comm) on its next lookup, and trusted again if it holds. */
void sonde_proc_doubt(struct sonde_proc_cache *c);

/* Entries held (tests). */
size_t sonde_proc_cache_len(const struct sonde_proc_cache *c);

/*
 * Read process pid under proc into *out, uncached; users named from
 * root's /etc/passwd, start_ns from btime_s (the boot time, /proc/stat's
 * btime; 0 leaves start_ns 0). Returns 0, or -1 with errno if the process
 * is gone or unreadable.
 */
int sonde_proc_read(const char *proc, const char *root, uint64_t btime_s, uint32_t pid,
		    struct sonde_proc_info *out);

/* Start time (field 22 of PROC/PID/stat) alone; false if it is gone. */
bool sonde_proc_start_ticks(const char *proc, uint32_t pid, uint64_t *ticks);

#endif
