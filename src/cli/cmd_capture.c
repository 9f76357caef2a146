/* SPDX-License-Identifier: MIT */
/* sonde capture: the run of a live capture (its options: capture_args.c). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "app/run.h"
#include "sink/sink.h"
#include "enrich/cri.h"
#include "enrich/enrich.h"
#include "enrich/names.h"
#include "enrich/target_scan.h"
#include "source/ebpf/ebpf.h"
#include "source/packet/live.h"
#include "cli/capture_args.h"
#include "cli/capture_guard.h"
#include "cli/cli.h"
#include "cli/options.h"

/* Set by SIGINT/SIGTERM; signals are process-wide, hence the two globals. */
static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t stop_quietly; /* -q */

/*
 * The first signal stops the capture: what was captured is written and the
 * probes are detached, which takes a moment with many TLS libraries, so it
 * is said. A second signal exits at once: records already out stay out,
 * pending ones are lost. The kernel detaches probes when their last
 * descriptor closes, ~80 ms per uprobe and serialised, so a child keeps the
 * descriptors and lets them go in the background (after closing stdin,
 * stdout and stderr, so a reader of sonde's output sees its end now).
 */
static void on_signal(int sig)
{
	static const char stopping[] = "sonde: stopping (again to quit at once)\n";
	static const char quitting[] = "sonde: quitting at once; probes detach in the background\n";
	if (stop_requested) {
		if (write(STDERR_FILENO, quitting, sizeof(quitting) - 1) < 0)
			stop_quietly = 1;
		if (_Fork() == 0) {
			close(STDIN_FILENO);
			close(STDOUT_FILENO);
			close(STDERR_FILENO);
			_exit(0);
		}
		_exit(128 + sig);
	}
	stop_requested = 1;
	if (!stop_quietly && write(STDERR_FILENO, stopping, sizeof(stopping) - 1) < 0)
		stop_quietly = 1;
}

/* -v: a line of rates every two seconds, from the counters' last values. */
struct rates {
	struct sonde_stats prev;
	bool packets; /* a packet source: its counters, not eBPF's */
};

static void print_rates(void *ctx, const struct sonde_run *run, double secs)
{
	struct rates *rt = ctx;
	const struct sonde_stats *now = sonde_run_stats(run), *prev = &rt->prev;
	if (rt->packets) {
		fprintf(stderr,
			"sonde: %.0f packets/s, %.2f MB/s, %.0f records/s, drops: kernel %" PRIu64
			" packets, duplicates %" PRIu64 "; %zu live connections\n",
			(double)(now->frames - prev->frames) / secs,
			(double)(now->frame_bytes - prev->frame_bytes) / secs / 1e6,
			(double)(now->records - prev->records) / secs, now->packet_kernel_drops,
			now->packet_duplicates, sonde_run_connections(run));
		rt->prev = *now;
		return;
	}
	fprintf(stderr,
		"sonde: %.0f events/s, %.2f MB/s, %.0f records/s, drops: ring buffer %" PRIu64
		" events, truncated %" PRIu64 " B, untraced %" PRIu64 " B; %zu live connections\n",
		(double)(now->ebpf_events - prev->ebpf_events) / secs,
		(double)(now->ebpf_bytes - prev->ebpf_bytes) / secs / 1e6,
		(double)(now->records - prev->records) / secs, now->ebpf_ringbuf_drops,
		now->ebpf_truncated_bytes, now->ebpf_untraced_bytes, sonde_run_connections(run));
	rt->prev = *now;
}

/* --target: the walk that keeps the kernel's targets map, before capture. */
static int add_targets(struct sonde_run *run, const struct capture_args *a, void *src,
		       struct sonde_cri *cri)
{
	char why[256];
	struct sonde_target_scan_opts to = {
		.targets = &a->targets,
		.map_fd = sonde_ebpf_targets_fd(src),
		.cri_socket = a->cri_socket,
		.cri = cri,
		.root = a->host_root,
		.stats = &run->pipe.stats,
	};
	void *scan = sonde_target_scan_new(&to, why, sizeof(why));
	if (!scan) {
		sonde_errorf("capture: %s", why);
		return -1;
	}
	sonde_run_add_stage(run, &sonde_target_scan_stage, scan);
	return 0;
}

/* The sources of the run: one kind, or the eBPF source and packet kinds
 * (each named in its records). Returns the eBPF source's state if it is
 * one, else the packet source's; NULL with err set. */
static void *add_sources(struct sonde_run *run, struct capture_args *a, char *err, size_t errlen)
{
	void *first = NULL;
	if (a->with_ebpf &&
	    !(first = sonde_run_add_source(run, &sonde_source_ebpf, &a->eo, err, errlen)))
		return NULL;
	bool named = a->with_ebpf || a->nmore;
	for (size_t i = 0; i <= a->nmore; i++) {
		const struct sonde_source_ops *k = i ? a->more[i - 1] : a->source;
		const void *so = k == &sonde_source_ebpf        ? (const void *)&a->eo
				 : k != &sonde_source_all_netns ? (const void *)&a->po
				 : i                            ? (const void *)&a->more_ao[i - 1]
								: &a->ao;
		void *s = sonde_run_add_source(run, k, so, err, errlen);
		if (!s)
			return NULL;
		if (named)
			sonde_run_name_source(run, s, a->source_name);
		if (!first)
			first = s;
	}
	return first;
}

static struct capture_guard_desc guard_desc(const struct capture_args *a, bool ebpf, bool enrich)
{
	return (struct capture_guard_desc){
		.argc = a->argc,
		.argv = a->argv,
		.co = &a->co,
		.source = a->all_netns ? a->ao.kind->name : a->source->name,
		.source_name = ebpf ? "ebpf" : a->source_name,
		.eo = ebpf ? &a->eo : NULL,
		.po = ebpf && !a->with_ebpf ? NULL : &a->po,
		.all_netns = a->all_netns,
		.enrich = enrich,
		.ntargets = a->targets.n,
		.duration_ns = a->duration_ns,
	};
}

/* The audit log: --audit-log FILE (required), or as root the default file
 * when it can be written (else said, and syslog alone). */
static int open_audit(const struct capture_args *a, struct sonde_audit **au)
{
	char why[320];
	*au = NULL;
	if (a->audit_log && !*a->audit_log)
		return 0;
	const char *path = a->audit_log     ? a->audit_log
			   : geteuid() == 0 ? SONDE_AUDIT_DEFAULT
					    : NULL;
	*au = sonde_audit_open(path, a->audit_log != NULL, why, sizeof(why));
	if (!*au && a->audit_log) {
		sonde_errorf("capture: --audit-log: %s", why);
		return -1;
	}
	if (why[0] && !a->co.quiet)
		fprintf(stderr, "sonde: audit log: %s (--audit-log FILE, or none)\n", why);
	return 0;
}

/* Once every source is open: keep only what live work needs. */
static int drop_privileges(const struct capture_args *a, const struct capture_guard_desc *d)
{
	if (a->keep_privs)
		return 0;
	char before[768], after[768], why[256];
	sonde_caps c = sonde_caps_effective();
	if (c >= SONDE_CAP(40) - 1) /* every capability up to cap_bpf: root's */
		snprintf(before, sizeof(before), "all");
	else
		sonde_caps_format(c, before, sizeof(before));
	struct sonde_privs_plan plan = { .keep = capture_caps_needed(d),
					 .user = a->user,
					 .allow_setns = capture_needs_setns(d) };
	if (sonde_privs_drop(&plan, why, sizeof(why)) < 0) {
		sonde_errorf("capture: %s", why);
		return -1;
	}
	sonde_caps_format(sonde_caps_effective(), after, sizeof(after));
	if (a->eo.verbose)
		fprintf(stderr, "sonde: capabilities: %s before start-up, %s kept%s%s\n", before,
			after, a->user ? "; running as " : "", a->user ? a->user : "");
	return 0;
}

/* What a run writes to, opened before it and closed after it. */
struct capture_outputs {
	struct sonde_pcapng *rec; /* -w */
	struct sonde_redact_stream *mask; /* -w's masking */
	struct sonde_sink *sink;
	struct sonde_audit *audit;
};

static void close_outputs(struct capture_outputs *out, int *status)
{
	sonde_audit_close(out->audit);
	if (sonde_common_record_close(out->rec, "capture") < 0)
		*status = SONDE_EXIT_FAIL;
	sonde_redact_stream_free(out->mask);
}

/* The clients of a run that stages share. */
struct run_clients {
	struct sonde_cri *cri; /* the runtime's CRI API */
	struct sonde_kube *kube; /* the Kubernetes API (--kube-api) */
};

/* The stages between pairing and the sink: the store, masking, the
 * filter, who is talking, DNS names. Returns the enrichment stage or NULL. */
static int add_stages(struct sonde_run *run, struct capture_args *a, bool ebpf,
		      struct sonde_sink *sink, const struct run_clients *cl, void **enrich)
{
	if (sonde_common_store(&a->co, run) < 0) {
		sonde_sink_close(sink);
		return -1;
	}
	sonde_run_add_stage(run, &sonde_sink_stage, sink);
	sonde_common_redact(&a->co, run);
	sonde_common_filter(&a->co, run);
	/* Packet records carry no process: their ends are found by 4-tuple,
	 * in --netns's namespace (entered now, while sonde still may). */
	struct sonde_enrich_opts eno = { .containers = true,
					 .cri_socket = a->cri_socket,
					 .cri = cl->cri,
					 .kube = cl->kube,
					 .root = a->host_root,
					 .packets = !ebpf || a->with_ebpf,
					 .netns = a->all_netns ? NULL : a->po.netns };
	*enrich = !a->no_enrich ? sonde_enrich_new(&eno, &run->pipe.stats) : NULL;
	if (*enrich) {
		sonde_run_add_stage(run, &sonde_enrich_stage, *enrich);
		/* The eBPF source tells it of execs, exits and sockets opened. */
		a->eo.proc_hook = (struct sonde_proc_hook){ sonde_enrich_proc_event, *enrich };
	}
	if (!a->co.no_names)
		sonde_run_add_stage(run, &sonde_names_stage, sonde_names_new(0, &run->pipe.stats));
	return 0;
}

static void say_started(const struct capture_args *a, bool ebpf, void *src)
{
	if (a->co.quiet)
		return;
	if (a->with_ebpf)
		fprintf(stderr, "sonde: capturing with %s hooks and packets on %s\n",
			sonde_ebpf_hook_name(src), a->source_name);
	else if (ebpf)
		fprintf(stderr, "sonde: capturing with %s hooks%s\n", sonde_ebpf_hook_name(src),
			a->eo.verbose ? "" : " (-v for rates)");
	else
		fprintf(stderr, "sonde: capturing with %s on %s\n", a->source->name,
			a->source_name);
}

static void catch_signals(bool quiet)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	stop_quietly = quiet;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Sources open, privileges dropped: run until a signal, the duration, -c
 * or a failed write, then drain, flush and say why it stopped. */
static int run_until_stopped(struct sonde_run *run, const struct capture_args *a,
			     struct sonde_audit *audit, const struct timespec *started)
{
	int status = SONDE_EXIT_OK;
	if (sonde_run_loop(run) < 0) {
		sonde_errorf("capture: reading events: %s", sonde_run_error(run));
		status = SONDE_EXIT_FAIL;
	}
	/* Drain what the kernel already wrote, then write what is pending. */
	sonde_run_finish(run);
	struct sonde_stats st = *sonde_run_stats(run);
	if (!a->co.quiet && status == SONDE_EXIT_OK)
		sonde_say_nothing(&st, "no traffic seen");
	struct timespec ended;
	clock_gettime(CLOCK_MONOTONIC, &ended);
	capture_audit_stop(audit,
			   stop_requested            ? "signal"
			   : status != SONDE_EXIT_OK ? "error"
						     : "duration, count or output ended",
			   status, (uint64_t)(ended.tv_sec - started->tv_sec), &st);
	if (sonde_run_free(run) < 0 && errno != EPIPE) {
		sonde_errorf("writing records: %s", strerror(errno));
		status = SONDE_EXIT_FAIL;
	}
	return status;
}

/* The capture itself: outputs, the run's stages and sources, least
 * privilege, then the loop; cl: the run's clients of the runtime and the
 * Kubernetes API (each may be NULL). */
static int run_capture_with(struct capture_args *a, const struct run_clients *cl)
{
	struct sonde_cri *cri = cl->cri;
	int status;
	struct capture_outputs out = { .rec = sonde_common_record(&a->co, "capture", &status) };
	if (status)
		return status;
	struct rates rates = { .packets = a->source != &sonde_source_ebpf && !a->with_ebpf };
	out.mask = sonde_common_record_mask(&a->co, rates.packets);
	if (open_audit(a, &out.audit) < 0) {
		close_outputs(&out, &status);
		return SONDE_EXIT_FAIL;
	}
	struct sonde_run_opts ro = {
		.pipe = a->co.pipe,
		.duration_ns = a->duration_ns,
		.stop = &stop_requested,
		.progress = a->eo.verbose ? print_rates : NULL,
		.progress_ctx = &rates,
		.progress_ns = 2000000000ull,
		.record = out.rec,
		.record_mask = out.mask,
		.one_source_per_conn = a->with_ebpf || a->nmore,
	};
	struct sonde_run run;
	sonde_run_init(&run, &ro);
	bool ebpf = a->source == &sonde_source_ebpf || a->with_ebpf;
	void *enrich = NULL;
	if (add_stages(&run, a, ebpf, sonde_common_sink(&a->co, false), cl, &enrich) < 0) {
		sonde_run_free(&run);
		close_outputs(&out, &status);
		return SONDE_EXIT_FAIL;
	}
	struct capture_guard_desc gd = guard_desc(a, ebpf, enrich != NULL);
	capture_audit_start(out.audit, &gd);
	if (out.audit) {
		a->eo.on_tls_probe = capture_audit_tls_probe;
		a->eo.on_tls_probe_ctx = out.audit;
	}
	struct timespec started;
	clock_gettime(CLOCK_MONOTONIC, &started);
	char err[512] = "";
	void *src = add_sources(&run, a, err, sizeof(err));
	if (!src || (ebpf && a->eo.targets && add_targets(&run, a, src, cri) < 0) ||
	    drop_privileges(a, &gd) < 0) {
		if (!src)
			sonde_errorf("capture: %s", err);
		capture_audit_stop(out.audit, "failed to start", SONDE_EXIT_FAIL, 0, NULL);
		sonde_run_free(&run);
		close_outputs(&out, &status);
		return SONDE_EXIT_FAIL;
	}
	say_started(a, ebpf, src);
	catch_signals(a->co.quiet);
	status = run_until_stopped(&run, a, out.audit, &started);
	close_outputs(&out, &status);
	return status;
}

/* One CRI client for enrichment and the target scan: one listing thread,
 * one connection's worth of load on the runtime. Its thread keeps no
 * capability (enrich/cri.c), whoever starts it. */
static int run_capture(struct capture_args *a)
{
	char why[256];
	struct sonde_cri *cri =
		!a->no_enrich || a->eo.targets
			? sonde_cri_open(a->host_root, a->cri_socket, why, sizeof(why))
			: NULL;
	if (!cri && a->cri_socket && *a->cri_socket && !a->co.quiet)
		fprintf(stderr, "sonde: --cri-socket: %s\n", why);
	struct run_clients cl = { .cri = cri };
	/* Without the API the capture goes on: its ends are only less named. */
	struct sonde_kube_opts ko = { .account_dir = a->kube_account, .node = a->co.node };
	if (a->kube_api && !a->no_enrich && !(cl.kube = sonde_kube_start(&ko, why, sizeof(why))))
		fprintf(stderr, "sonde: --kube-api: %s\n", why);
	int status = run_capture_with(a, &cl);
	sonde_kube_stop(cl.kube);
	sonde_cri_stop(cri);
	return status;
}

int sonde_cmd_capture(int argc, char **argv)
{
	struct capture_args a = { .argc = argc, .argv = argv };
	int status = capture_args_parse(argc, argv, &a);
	if (status < 0)
		status = run_capture(&a);
	capture_args_free(&a);
	return status;
}
