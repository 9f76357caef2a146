/* SPDX-License-Identifier: MIT */
/* sonde capture: live traffic of every process, through eBPF, into the pipeline. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/pipeline.h"
#include "source/ebpf/ebpf.h"
#include "cli/cli.h"
#include "cli/options.h"

static const char capture_head[] =
	"Usage: sonde capture [OPTIONS]\n"
	"\n"
	"Capture the TCP traffic of every process on this host with eBPF (no proxy,\n"
	"no change to the programs) and write its request/response records.\n"
	"Needs root (or CAP_BPF and CAP_PERFMON). Stops on SIGINT/SIGTERM.\n"
	"\n"
	"Capture:\n"
	"      --ebpf-hook HOOK     auto (default), fentry, kprobe or tracepoint: where\n"
	"                           to read socket data; auto picks the first the kernel\n"
	"                           allows, in that order\n"
	"      --pid PID[,PID...]   only these processes (must exist)\n"
	"      --comm NAME[,NAME...]  only processes with one of these command names\n"
	"                           (at most 15 characters, as the kernel keeps them)\n"
	"      --port PORT[,PORT...]  only connections with one of these local or\n"
	"                           remote ports\n"
	"                           (--pid, --comm, --port: repeatable, lists add up,\n"
	"                           at most 16 values each)\n"
	"      --cgroup PATH|ID     only processes in this cgroup (v2 path or id)\n"
	"      --capture-limit SIZE payload bytes copied per read/write call\n"
	"                           (default 64k, at most 16m; the rest is counted\n"
	"                           as a gap)\n"
	"      --ringbuf-size SIZE  kernel ring buffer (default 16m; a power of two,\n"
	"                           4k to 1g)\n"
	"      --duration DUR       stop after this long (e.g. 30s, 1.5m; 0: never,\n"
	"                           the default)\n"
	"TLS:\n"
	"      --tls                capture the plaintext of TLS connections by probing\n"
	"                           OpenSSL, BoringSSL and GnuTLS (the default)\n"
	"      --no-tls             do not probe TLS libraries\n"
	"      --tls-lib PATH       also probe this TLS library or program (repeatable)\n"
	"                           ('sonde tls' lists what is found and captured)\n"
	"  -v, --verbose            a stats line on stderr every 2 s, and why a hook\n"
	"                           was not usable\n";
static const char capture_tail[] =
	"  -h, --help               show this help\n"
	"\n"
	"Exit status: 0 on success, 1 if capture could not start, 2 on bad usage.\n";

enum {
	OPT_HOOK = 2000,
	OPT_PID,
	OPT_COMM,
	OPT_PORT,
	OPT_CGROUP,
	OPT_CAPLIMIT,
	OPT_RINGBUF,
	OPT_DURATION,
	OPT_TLS,
	OPT_NO_TLS,
	OPT_TLS_LIB,
};

#define TLS_LIBS_MAX 32
/* --pid/--port/--comm options given (each may be a list) */
#define ARGS_MAX 64

static const struct option capture_only[] = {
	{ "ebpf-hook", required_argument, NULL, OPT_HOOK },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "capture-limit", required_argument, NULL, OPT_CAPLIMIT },
	{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "tls", no_argument, NULL, OPT_TLS },
	{ "no-tls", no_argument, NULL, OPT_NO_TLS },
	{ "tls-lib", required_argument, NULL, OPT_TLS_LIB },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bad(const char *opt, const char *val, const char *why)
{
	sonde_bad_value("capture", opt, val, why);
	return SONDE_EXIT_USAGE;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || v > max || *s == '-')
		return -1;
	*out = v;
	return 0;
}

/*
 * One value of a --pid, --port or --comm list (item points into a copy of
 * the argument, cut at commas). Returns NULL or why it is refused.
 */
static const char *filter_item(int c, char *item, struct sonde_ebpf_opts *eo, char *why, size_t len)
{
	unsigned long long v;
	size_t *n = c == OPT_PID ? &eo->npids : c == OPT_PORT ? &eo->nports : &eo->ncomms;
	if (*n == SONDE_EBPF_FILTER_MAX) {
		snprintf(why, len, "more than %d values in all", SONDE_EBPF_FILTER_MAX);
		return why;
	}
	switch (c) {
	case OPT_PID:
		if (parse_uint(item, 0x7fffffff, &v) < 0 || !v)
			return "a process id is a number from 1";
		/* EPERM: it exists, it is only not ours to signal. */
		if (kill((pid_t)v, 0) < 0 && errno == ESRCH) {
			snprintf(why, len, "no process %llu", v);
			return why;
		}
		eo->pids[eo->npids++] = (uint32_t)v;
		return NULL;
	case OPT_PORT:
		if (parse_uint(item, 65535, &v) < 0 || !v)
			return "a port is a number from 1 to 65535";
		eo->ports[eo->nports++] = (uint16_t)v;
		return NULL;
	default:
		if (!*item)
			return "an empty command name";
		if (strlen(item) > 15) {
			snprintf(why, len,
				 "'%s' is %zu characters; the kernel keeps 15 of a command name", item,
				 strlen(item));
			return why;
		}
		eo->comms[eo->ncomms++] = item;
		return NULL;
	}
}

static const char *filter_name(int c)
{
	return c == OPT_PID ? "pid" : c == OPT_PORT ? "port" : "comm";
}

/* A whole --pid/--port/--comm argument: "80", "80,443". */
static int filter_list(int c, const char *arg, struct sonde_ebpf_opts *eo, char **copies,
		       size_t *ncopies)
{
	char why[128];
	/* Kept until the capture ends: --comm entries point into it. */
	size_t alen = strlen(arg) + 1;
	char *s = memcpy(sonde_xmalloc(alen), arg, alen), *save = NULL, *item;
	copies[(*ncopies)++] = s;
	if (!*s || s[strlen(s) - 1] == ',') {
		bad(filter_name(c), arg, "an empty value in the list");
		return -1;
	}
	for (item = strtok_r(s, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		const char *e = filter_item(c, item, eo, why, sizeof(why));
		if (e) {
			bad(filter_name(c), arg, e);
			return -1;
		}
	}
	return 0;
}

static void free_copies(char **copies, size_t n)
{
	while (n)
		free(copies[--n]);
}

static void print_rates(const struct sonde_stats *now, const struct sonde_stats *prev, double secs,
			size_t live)
{
	fprintf(stderr,
		"sonde: %.0f events/s, %.2f MB/s, %.0f records/s, drops: ring buffer %" PRIu64
		" events, truncated %" PRIu64 " B, untraced %" PRIu64 " B; %zu live connections\n",
		(double)(now->ebpf_events - prev->ebpf_events) / secs,
		(double)(now->ebpf_bytes - prev->ebpf_bytes) / secs / 1e6,
		(double)(now->records - prev->records) / secs, now->ebpf_ringbuf_drops,
		now->ebpf_truncated_bytes, now->ebpf_untraced_bytes, live);
}

int sonde_cmd_capture(int argc, char **argv)
{
	struct sonde_common_opts co;
	sonde_common_defaults(&co);
	struct sonde_ebpf_opts eo = { .hook = SONDE_HOOK_AUTO, .ringbuf_size = 16u << 20, .tls = true };
	const char *tls_libs[TLS_LIBS_MAX + 1] = { NULL };
	size_t ntls_libs = 0;
	eo.tls_libs = tls_libs;
	uint64_t duration_ns = 0;
	struct option *longopts = sonde_options_join(sonde_common_longopts, capture_only);
	unsigned long long v;
	size_t sz;
	const char *why;
	char *copies[ARGS_MAX];
	size_t ncopies = 0;
	struct stat st;
	int c, status = SONDE_EXIT_USAGE;
	optind = 1;
	while ((c = getopt_long(argc, argv, SONDE_COMMON_SHORTOPTS "vh", longopts, NULL)) != -1) {
		int r = sonde_common_option(&co, c, optarg, "capture");
		if (r < 0)
			goto out_usage;
		if (r > 0)
			continue;
		switch (c) {
		case OPT_HOOK:
			if (!sonde_ebpf_hook_from_name(optarg, &eo.hook)) {
				status = bad("ebpf-hook", optarg, "auto, fentry, kprobe or tracepoint");
				goto out_usage;
			}
			break;
		case OPT_PID:
		case OPT_COMM:
		case OPT_PORT:
			if (ncopies == ARGS_MAX) {
				status = bad(filter_name(c), optarg, "too many options");
				goto out_usage;
			}
			if (filter_list(c, optarg, &eo, copies, &ncopies) < 0)
				goto out_usage;
			break;
		case OPT_CGROUP:
			/* On cgroup v2 a cgroup's id is its directory's inode number. */
			if (parse_uint(optarg, ~0ull, &v) == 0 && v) {
				eo.cgroup_id = v;
			} else if (stat(optarg, &st) == 0 && S_ISDIR(st.st_mode)) {
				eo.cgroup_id = st.st_ino;
			} else {
				char msg[300];
				int err = errno;
				if (!strchr(optarg, '/'))
					snprintf(msg, sizeof(msg), "no such cgroup (give a cgroup v2 "
						 "directory, e.g. /sys/fs/cgroup/system.slice, or its id)");
				else
					snprintf(msg, sizeof(msg), "no such cgroup (%s)",
						 access(optarg, F_OK) == 0 ? "not a directory" : strerror(err));
				status = bad("cgroup", optarg, msg);
				goto out_usage;
			}
			break;
		case OPT_CAPLIMIT:
			if (sonde_parse_size(optarg, &sz, &why) < 0) {
				status = bad("capture-limit", optarg, why);
				goto out_usage;
			}
			if (sz > (16u << 20)) {
				status = bad("capture-limit", optarg, "at most 16m");
				goto out_usage;
			}
			eo.capture_per_call = sz ? (uint32_t)sz : 1;
			break;
		case OPT_RINGBUF:
			if (sonde_parse_size(optarg, &sz, &why) < 0) {
				status = bad("ringbuf-size", optarg, why);
				goto out_usage;
			}
			if (sz < 4096 || sz > (1u << 30)) {
				status = bad("ringbuf-size", optarg, "from 4k to 1g");
				goto out_usage;
			}
			if (sz & (sz - 1)) {
				status = bad("ringbuf-size", optarg,
					     "must be a power of two (e.g. 4m, 8m, 16m)");
				goto out_usage;
			}
			eo.ringbuf_size = sz;
			break;
		case OPT_DURATION:
			if (sonde_parse_duration(optarg, &duration_ns, &why) < 0) {
				status = bad("duration", optarg, why);
				goto out_usage;
			}
			break;
		case OPT_TLS:
			eo.tls = true;
			break;
		case OPT_NO_TLS:
			eo.tls = false;
			break;
		case OPT_TLS_LIB:
			if (ntls_libs == TLS_LIBS_MAX) {
				status = bad("tls-lib", optarg, "at most 32 libraries");
				goto out_usage;
			}
			tls_libs[ntls_libs++] = optarg;
			break;
		case 'v':
			eo.verbose = 1;
			break;
		case 'h':
			printf("%s%s%s", capture_head, sonde_common_usage, capture_tail);
			status = SONDE_EXIT_OK;
			goto out_usage;
		default:
			fputs("Try 'sonde capture --help'.\n", stderr);
			goto out_usage;
		}
	}
	free(longopts);
	if (optind != argc) {
		sonde_errorf("capture: unexpected argument '%s' (try 'sonde capture --help')", argv[optind]);
		free_copies(copies, ncopies);
		return SONDE_EXIT_USAGE;
	}
	if (co.format < 0)
		co.format = isatty(STDOUT_FILENO) ? SONDE_SINK_TEXT : SONDE_SINK_JSON;
	co.pipe.conn.source = "ebpf";
	eo.quiet = co.quiet;

	struct sonde_sink *sink = sonde_sink_new(co.format, stdout);
	sonde_sink_set_limit(sink, co.count);
	sonde_sink_set_immediate(sink, co.line_buffered || isatty(STDOUT_FILENO));
	struct sonde_pipeline p;
	sonde_pipeline_init(&p, &co.pipe, sink);
	char err[512];
	struct sonde_ebpf *e = sonde_ebpf_open(&eo, &p, err, sizeof(err));
	if (!e) {
		sonde_errorf("capture: %s", err);
		sonde_pipeline_free(&p);
		sonde_sink_close(sink);
		sonde_common_free(&co);
		free_copies(copies, ncopies);
		return SONDE_EXIT_FAIL;
	}
	sonde_conntable_set_ignore(p.conns, sonde_ebpf_ignore, e);
	if (!co.quiet)
		fprintf(stderr, "sonde: capturing with %s hooks%s\n", sonde_ebpf_hook_name(e),
			eo.verbose ? "" : " (-v for rates)");

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	uint64_t start = now_ns(CLOCK_MONOTONIC), last_tick = start, last_rate = start;
	struct sonde_stats prev = p.stats;
	status = SONDE_EXIT_OK;
	while (!stop_requested) {
		int n = sonde_ebpf_poll(e, 100);
		if (n < 0 && n != -EINTR) {
			sonde_errorf("capture: reading events: %s", strerror(-n));
			status = SONDE_EXIT_FAIL;
			break;
		}
		sonde_sink_flush(sink);
		uint64_t t = now_ns(CLOCK_MONOTONIC);
		if (t - last_tick >= 1000000000ull) {
			sonde_pipeline_tick(&p, now_ns(CLOCK_REALTIME));
			last_tick = t;
		}
		if (eo.verbose && t - last_rate >= 2000000000ull) {
			sonde_ebpf_update_stats(e);
			print_rates(&p.stats, &prev, (double)(t - last_rate) / 1e9,
				    sonde_conntable_count(p.conns));
			prev = p.stats;
			last_rate = t;
		}
		if (duration_ns && t - start >= duration_ns)
			break;
		if (sonde_sink_full(sink))
			break;
	}
	/* Drain what the kernel already wrote, then write what is pending. */
	sonde_ebpf_poll(e, 0);
	sonde_ebpf_update_stats(e);
	sonde_ebpf_close(e);
	sonde_pipeline_finish(&p);
	if (co.stats)
		sonde_sink_stats(sink, &p.stats);
	if (sonde_sink_close(sink) < 0 && errno != EPIPE) {
		sonde_errorf("writing records: %s", strerror(errno));
		status = SONDE_EXIT_FAIL;
	}
	sonde_pipeline_free(&p);
	sonde_common_free(&co);
	free_copies(copies, ncopies);
	return status;

out_usage:
	free(longopts);
	sonde_common_free(&co);
	free_copies(copies, ncopies);
	return status;
}
