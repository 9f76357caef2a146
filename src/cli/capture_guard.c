/* SPDX-License-Identifier: MIT */
/* A capture's audit events and privilege plan (capture_guard.h). */
#include "cli/capture_guard.h"

#include <linux/capability.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "sink/sink.h"
#include "core/stats.h"
#include "redact/redact.h"
#include "source/ebpf/ebpf.h"
#include "source/packet/live.h"

/* argv joined by spaces, secrets masked as in records' process.cmdline,
 * and --redact-key's value whatever it looks like. */
static void masked_cmdline(const struct capture_guard_desc *d, struct sonde_buf *out)
{
	struct sonde_buf joined = { 0 };
	struct sonde_redact_spans sp = { .n = 0 };
	for (int i = 0; i < d->argc; i++) {
		if (i)
			sonde_buf_putc(&joined, ' ');
		const char *arg = d->argv[i];
		size_t at = joined.len, n = strlen(arg);
		sonde_buf_puts(&joined, arg);
		if (i && !strcmp(d->argv[i - 1], "--redact-key") && n)
			sonde_redact_spans_add(&sp, at, n);
		else if (!strncmp(arg, "--redact-key=", 13) && n > 13)
			sonde_redact_spans_add(&sp, at + 13, n - 13);
	}
	sonde_redact_scan_cmdline(&d->co->redact, joined.p ? joined.p : (const uint8_t *)"",
				  joined.len, &sp);
	sonde_redact_apply(&d->co->redact, joined.p, joined.len, &sp, out);
	sonde_buf_free(&joined);
}

static void strings(struct sonde_buf *b, const char *const *v, size_t n)
{
	sonde_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sonde_buf_putc(b, ',');
		sonde_json_cstr(b, v[i]);
	}
	sonde_buf_putc(b, ']');
}

static void filters(const struct capture_guard_desc *d, struct sonde_buf *b)
{
	sonde_buf_putc(b, '{');
	sonde_json_key(b, "targets");
	sonde_buf_u64(b, d->ntargets);
	if (d->eo) {
		const struct sonde_ebpf_opts *eo = d->eo;
		sonde_buf_puts(b, ",\"ports\":[");
		for (size_t i = 0; i < eo->nports; i++)
			sonde_buf_printf(b, "%s%u", i ? "," : "", eo->ports[i]);
		sonde_buf_puts(b, "],\"pids\":[");
		for (size_t i = 0; i < eo->npids; i++)
			sonde_buf_printf(b, "%s%u", i ? "," : "", eo->pids[i]);
		sonde_buf_puts(b, "],\"comms\":");
		strings(b, eo->comms, eo->ncomms);
		sonde_buf_puts(b, ",\"cgroup_id\":");
		sonde_buf_u64(b, eo->cgroup_id);
	}
	if (d->po) {
		sonde_buf_puts(b, ",\"interfaces\":");
		strings(b, d->po->ifaces, d->po->nifaces);
		sonde_buf_puts(b, ",\"filter\":");
		if (d->po->filter)
			sonde_json_cstr(b, d->po->filter);
		else
			sonde_buf_puts(b, "null");
	}
	sonde_buf_putc(b, '}');
}

static void sinks(const struct capture_guard_desc *d, struct sonde_buf *b)
{
	const struct sonde_common_opts *co = d->co;
	sonde_buf_puts(b, "{\"records\":");
	sonde_json_cstr(b, co->no_records                  ? "none"
			   : co->format == SONDE_SINK_TEXT ? "text"
			   : co->format == SONDE_SINK_JSON ? "json"
			   : co->format == SONDE_SINK_HAR  ? "har"
							   : "auto");
	sonde_buf_puts(b, ",\"recording\":");
	if (co->rec.path)
		sonde_json_cstr(b, co->rec.path);
	else
		sonde_buf_puts(b, "null");
	sonde_buf_printf(b, ",\"stats\":%s,\"summary\":%s}", co->stats ? "true" : "false",
			 co->summary ? "true" : "false");
}

void capture_audit_start(struct sonde_audit *au, const struct capture_guard_desc *d)
{
	if (!au)
		return;
	struct sonde_buf b = { 0 };
	sonde_audit_begin(au, "start");
	sonde_audit_str(au, "version", sonde_version());
	sonde_audit_who(au);
	masked_cmdline(d, &b);
	sonde_buf_putc(&b, 0);
	sonde_audit_str(au, "cmdline", (const char *)b.p);
	sonde_audit_str(au, "source", d->source);
	sonde_audit_str(au, "capture_source", d->source_name);
	sonde_audit_bool(au, "all_netns", d->all_netns);
	sonde_buf_reset(&b);
	filters(d, &b);
	sonde_audit_raw(au, "filters", (const char *)b.p, b.len);
	sonde_audit_bool(au, "tls_probing", d->eo && d->eo->tls);
	sonde_audit_bool(au, "redaction", !d->co->no_redact);
	sonde_audit_bool(au, "enrichment", d->enrich);
	sonde_buf_reset(&b);
	sinks(d, &b);
	sonde_audit_raw(au, "sinks", (const char *)b.p, b.len);
	if (d->duration_ns)
		sonde_audit_u64(au, "duration_s", d->duration_ns / 1000000000ull);
	sonde_audit_end(au);
	sonde_buf_free(&b);
}

void capture_audit_tls_probe(void *ctx, const char *path, const char *library, uint32_t pid)
{
	struct sonde_audit *au = ctx;
	sonde_audit_begin(au, "tls_probe");
	sonde_audit_str(au, "path", path);
	sonde_audit_str(au, "library", library);
	if (pid)
		sonde_audit_u64(au, "probed_pid", pid);
	sonde_audit_end(au);
}

void capture_audit_stop(struct sonde_audit *au, const char *why, int status, uint64_t secs,
			const struct sonde_stats *st)
{
	if (!au)
		return;
	sonde_audit_begin(au, "stop");
	sonde_audit_str(au, "reason", why);
	sonde_audit_u64(au, "exit_status", (uint64_t)status);
	sonde_audit_u64(au, "ran_s", secs);
	if (st) {
		struct sonde_buf b = { 0 };
		sonde_stats_json(st, &b);
		while (b.len && (b.p[b.len - 1] == '\n'))
			b.len--;
		sonde_audit_raw(au, "captured", (const char *)b.p, b.len);
		sonde_buf_free(&b);
	}
	sonde_audit_end(au);
}

bool capture_needs_setns(const struct capture_guard_desc *d)
{
	bool tc_elsewhere = d->source && !strcmp(d->source, "tc") && d->po && d->po->netns;
	return d->all_netns || tc_elsewhere;
}

sonde_caps capture_caps_needed(const struct capture_guard_desc *d)
{
	sonde_caps c = 0;
	if (d->eo) {
		/* the kernel's maps (stats, targets) take CAP_BPF for every bpf() */
		c |= SONDE_CAP(CAP_BPF);
		/* TLS probes for libraries processes map later: uprobes are perf
		 * events of the uprobe PMU, which answers EACCES without
		 * CAP_SYS_ADMIN as well as CAP_PERFMON (measured on 6.18); the
		 * processes' maps and binaries are read through /proc/PID. The
		 * seccomp filter is what still bars mounts, modules and exec. */
		if (d->eo->tls)
			c |= SONDE_CAP(CAP_PERFMON) | SONDE_CAP(CAP_SYS_ADMIN) |
			     SONDE_CAP(CAP_SYS_PTRACE) | SONDE_CAP(CAP_DAC_READ_SEARCH);
	}
	if (d->enrich) /* /proc/PID/fd of other users' processes */
		c |= SONDE_CAP(CAP_SYS_PTRACE) | SONDE_CAP(CAP_DAC_READ_SEARCH);
	if (d->source && !strcmp(d->source, "tc")) /* the clsact way is undone at exit */
		c |= SONDE_CAP(CAP_BPF) | SONDE_CAP(CAP_NET_ADMIN);
	if (capture_needs_setns(d)) /* ... in the namespace it was made in */
		c |= SONDE_CAP(CAP_SYS_ADMIN);
	if (d->all_netns) /* a new namespace: setns, a packet socket or classifiers in it */
		c |= SONDE_CAP(CAP_SYS_ADMIN) | SONDE_CAP(CAP_NET_RAW) | SONDE_CAP(CAP_NET_ADMIN) |
		     SONDE_CAP(CAP_BPF) | SONDE_CAP(CAP_SYS_PTRACE) |
		     SONDE_CAP(CAP_DAC_READ_SEARCH);
	return c;
}
