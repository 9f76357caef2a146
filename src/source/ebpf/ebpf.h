/* SPDX-License-Identifier: MIT */
/*
 * The eBPF source: loads bpf/capture.bpf.c, picks the best data hook the
 * kernel allows (fentry, else kprobe, else syscall tracepoints), and turns
 * ring-buffer events into chunks for the chunk output it is given (its row
 * in the source table, sonde_source_ebpf, is ebpf_source.c).
 *
 * Lifecycle, top to bottom: sonde_ebpf_open() (checks, load, attach) →
 * sonde_ebpf_poll() in a loop → sonde_ebpf_close() (detaches everything: no
 * program, link or map of sonde outlives it).
 */
#ifndef SONDE_EBPF_H
#define SONDE_EBPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/proc_events.h"
#include "source/source.h"

/* Entries of each filter list (--pid, --port, --comm); SONDE_FILTER_MAX in bpf/. */
#define SONDE_EBPF_FILTER_MAX 16

/* The hooks themselves are SONDE_HOOKS in bpf/sonde_events.h (their kinds
 * are the event's values); opts.hook is one of them or this. */
#define SONDE_HOOK_AUTO (-1) /* the best the kernel allows */

struct sonde_ebpf_opts {
	int hook; /* SONDE_HOOK_AUTO or an enum sonde_event_hook */
	/* Filter lists (any entry matches); an empty list: any. */
	uint32_t pids[SONDE_EBPF_FILTER_MAX];
	size_t npids;
	const char *comms[SONDE_EBPF_FILTER_MAX]; /* at most SONDE_COMM_LEN - 1 bytes each */
	size_t ncomms;
	uint16_t ports[SONDE_EBPF_FILTER_MAX]; /* local or remote */
	size_t nports;
	uint64_t cgroup_id; /* 0: any */
	bool targets; /* --target: only the cgroups in the targets map */
	uint32_t capture_per_call; /* payload bytes copied per read/write */
	size_t ringbuf_size; /* bytes, power of two */
	bool quiet; /* -q: no informational lines on stderr (warnings still) */
	int verbose; /* libbpf's messages and hook-probing details on stderr */
	bool tls; /* probe TLS libraries for plaintext (--tls, the default) */
	const char *const *tls_libs; /* NULL-terminated: libraries or binaries added by hand */
	bool no_tcp_health; /* --no-tcp-health: no lifecycle, tcp_sock reads or tcp: tracepoints */
	/* Told of each library or binary probed (pid 0: every process mapping
	 * it), e.g. for the audit log; NULL: nobody. */
	void (*on_tls_probe)(void *ctx, const char *path, const char *library, uint32_t pid);
	void *on_tls_probe_ctx;
	/* Told of execs, exits and sockets opened (core/proc_events.h), e.g.
	 * the enrichment stage; event NULL: nobody (no exit events sent). */
	struct sonde_proc_hook proc_hook;
};

struct sonde_ebpf;

/*
 * Check privileges and kernel features, load and attach. On failure returns
 * NULL with one clear sentence in err (what is missing, what to do).
 */
struct sonde_ebpf *sonde_ebpf_open(const struct sonde_ebpf_opts *opts,
				   const struct sonde_source_env *env, char *err, size_t errlen);
/* Name of the hook in use: "fentry", "kprobe" or "tracepoint". */
const char *sonde_ebpf_hook_name(const struct sonde_ebpf *e);
/* The ring buffer's epoll descriptor: readable when events wait. */
int sonde_ebpf_fd(const struct sonde_ebpf *e);
/*
 * A --ebpf-hook value ("auto" or a hook's name) into *hook. Returns false,
 * leaving *hook alone, for any other name.
 */
bool sonde_ebpf_hook_from_name(const char *name, int *hook);
/*
 * Turn pending events into chunks, waiting up to timeout_ms for the
 * first. Returns events handled, or a negative errno (-EINTR on a signal).
 */
int sonde_ebpf_poll(struct sonde_ebpf *e, int timeout_ms);
/* Copy the kernel-side counters into the run's stats. */
void sonde_ebpf_update_stats(struct sonde_ebpf *e);
/* The connection table gave up on a connection: stop copying its payload. */
void sonde_ebpf_ignore(void *e, uint64_t conn_id);
void sonde_ebpf_close(struct sonde_ebpf *e);
/* The targets map (cgroup id → struct sonde_target, bpf/sonde_events.h),
 * which user space keeps while the capture runs; -1 without --target. */
int sonde_ebpf_targets_fd(const struct sonde_ebpf *e);

struct sonde_tls_discovery;
/* The TLS discovery of this capture (NULL with TLS off), for `sonde tls`. */
struct sonde_tls_discovery *sonde_ebpf_tls(struct sonde_ebpf *e);

#endif
