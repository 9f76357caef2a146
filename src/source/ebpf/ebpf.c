/* SPDX-License-Identifier: MIT */
#include "source/ebpf/ebpf.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/u64map.h"
#include "capture.skel.h"
#include "conn/tcphealth.h"
#include "source/ebpf/ebpf_priv.h"
#include "sonde_events.h"

_Static_assert(SONDE_EBPF_FILTER_MAX == SONDE_FILTER_MAX, "filter list sizes of ebpf.h and bpf/");

static const char *const hook_names[SONDE_HOOK__COUNT] = {
#define HOOK_NAME(kind, value, name) [SONDE_HOOK_##kind] = name,
	SONDE_HOOKS(HOOK_NAME)
#undef HOOK_NAME
};

/* capture.method of each hook's chunks */
static const enum sonde_origin hook_origins[SONDE_HOOK__COUNT] = {
#define HOOK_ORIGIN(kind, value, name) [SONDE_HOOK_##kind] = SONDE_ORIGIN_EBPF_##kind,
	SONDE_HOOKS(HOOK_ORIGIN)
#undef HOOK_ORIGIN
};

const char *sonde_ebpf_hook_name(const struct sonde_ebpf *e)
{
	return hook_names[e->hook];
}

bool sonde_ebpf_hook_from_name(const char *name, int *hook)
{
	if (!strcmp(name, "auto")) {
		*hook = SONDE_HOOK_AUTO;
		return true;
	}
	for (int h = 0; h < SONDE_HOOK__COUNT; h++) {
		if (!strcmp(name, hook_names[h])) {
			*hook = h;
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------ checks --- */

static int verbose_level;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || !verbose_level)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* TLS probing reads other processes' memory maps and files through
 * /proc/PID: without these it sees only this user's processes. Said once at
 * start (not only with -v), since the capture goes on without them. */
static void say_tls_capabilities(const struct __user_cap_data_struct *data)
{
	/* The uprobe events TLS probing attaches answer EACCES without
	 * CAP_SYS_ADMIN, CAP_PERFMON or not (measured on 6.18). */
	if (!has_cap(data, CAP_SYS_ADMIN))
		fprintf(stderr,
			"sonde: TLS: without CAP_SYS_ADMIN the kernel refuses uprobes: no TLS "
			"library can be probed, and TLS plaintext will be missing (--no-tls "
			"says this is meant)\n");
	if (has_cap(data, CAP_SYS_ADMIN) ||
	    (has_cap(data, CAP_SYS_PTRACE) && has_cap(data, CAP_DAC_READ_SEARCH)))
		return;
	fprintf(stderr,
		"sonde: TLS: without %s, TLS libraries of other users' processes cannot be "
		"probed (their /proc/PID/maps and files): their plaintext will be missing\n",
		!has_cap(data, CAP_SYS_PTRACE) && !has_cap(data, CAP_DAC_READ_SEARCH)
			? "CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH"
		: !has_cap(data, CAP_SYS_PTRACE) ? "CAP_SYS_PTRACE"
						 : "CAP_DAC_READ_SEARCH");
}

static int check_privileges(char *err, size_t len, bool tls)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };
	if (syscall(SYS_capget, &hdr, data) < 0) {
		snprintf(err, len, "cannot read this process's capabilities: %s", strerror(errno));
		return -1;
	}
	if (has_cap(data, CAP_SYS_ADMIN) ||
	    (has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON))) {
		if (tls)
			say_tls_capabilities(data);
		return 0;
	}
	snprintf(err, len,
		 "live capture needs root, or the capabilities CAP_BPF and CAP_PERFMON "
		 "(CAP_SYS_ADMIN on kernels before 5.8); this process has %s",
		 has_cap(data, CAP_BPF)       ? "CAP_BPF but not CAP_PERFMON"
		 : has_cap(data, CAP_PERFMON) ? "CAP_PERFMON but not CAP_BPF"
					      : "neither");
	return -1;
}

/* Mount tracefs and bpffs where they are missing (as `mount -t` would). */
static int check_filesystems(char *err, size_t len)
{
	struct stat st;
	int tracing_err = stat("/sys/kernel/tracing/events", &st) < 0 ? errno : 0;
	if (tracing_err && stat("/sys/kernel/debug/tracing/events", &st) < 0) {
		/* Mounted, but root's only (mode 0700): a capability is
		 * missing, not the file system. */
		if (tracing_err == EACCES) {
			snprintf(
				err, len,
				"tracefs (/sys/kernel/tracing) is mounted but this process may not "
				"read it: the syscall tracepoints need CAP_DAC_READ_SEARCH as well "
				"as CAP_BPF and CAP_PERFMON (or run as root)");
			return -1;
		}
		if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0) {
			snprintf(err, len,
				 "tracefs is not mounted and mounting it on /sys/kernel/tracing "
				 "failed (%s): "
				 "mount it with 'mount -t tracefs tracefs /sys/kernel/tracing'",
				 strerror(errno));
			return -1;
		}
	}
	if (stat("/sys/fs/bpf", &st) == 0) {
		struct stat parent;
		if (stat("/sys/fs", &parent) == 0 && parent.st_dev == st.st_dev)
			mount("bpf", "/sys/fs/bpf", "bpf", 0,
			      NULL); /* best effort: sonde pins nothing */
	}
	return 0;
}

static int check_kernel(char *err, size_t len)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
		snprintf(
			err, len,
			"this kernel has no BTF (/sys/kernel/btf/vmlinux missing): sonde's CO-RE "
			"programs need a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8 or later)");
		return -1;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) <= 0) {
		snprintf(err, len, "this kernel has no BPF ring buffer (needs Linux 5.8 or later)");
		return -1;
	}
	return 0;
}

bool ebpf_kprobes_available(void)
{
	return access("/sys/bus/event_source/devices/kprobe/type", R_OK) == 0 ||
	       access("/sys/kernel/tracing/kprobe_events", F_OK) == 0 ||
	       access("/sys/kernel/debug/tracing/kprobe_events", F_OK) == 0;
}

/* ------------------------------------------------------------- loading --- */

/*
 * The programs of each data hook (everything else is shared), and the TLS
 * probes, named one by one: a program renamed in bpf/ breaks the build
 * here instead of silently staying off.
 */
#define HOOK_PROGS_MAX 20

static size_t hook_programs(const struct sonde_capture *skel, int hook,
			    struct bpf_program *progs[HOOK_PROGS_MAX])
{
	size_t n = 0;
#define TP_PAIR(name) \
	(progs[n++] = skel->progs.tp_enter_##name, progs[n++] = skel->progs.tp_exit_##name)
	switch (hook) {
	case SONDE_HOOK_TRACEPOINT:
		TP_PAIR(write);
		TP_PAIR(read);
		TP_PAIR(sendto);
		TP_PAIR(recvfrom);
		TP_PAIR(writev);
		TP_PAIR(readv);
		TP_PAIR(sendmsg);
		TP_PAIR(recvmsg);
		TP_PAIR(sendmmsg);
		TP_PAIR(recvmmsg);
		break;
	case SONDE_HOOK_KPROBE:
		progs[n++] = skel->progs.kp_tcp_sendmsg;
		progs[n++] = skel->progs.krp_tcp_sendmsg;
		progs[n++] = skel->progs.kp_tcp_recvmsg;
		progs[n++] = skel->progs.krp_tcp_recvmsg;
		break;
	case SONDE_HOOK_FENTRY:
		progs[n++] = skel->progs.fe_tcp_sendmsg;
		progs[n++] = skel->progs.fx_tcp_sendmsg;
		progs[n++] = skel->progs.fe_tcp_recvmsg;
		progs[n++] = skel->progs.fx_tcp_recvmsg;
		progs[n++] = skel->progs.fx_tcp_recvmsg_nonblock;
		break;
	}
#undef TP_PAIR
	return n;
}

/* The uprobe programs ebpf_tls.c attaches to TLS libraries and Go programs. */
static size_t tls_programs(const struct sonde_capture *skel,
			   struct bpf_program *progs[HOOK_PROGS_MAX])
{
	struct bpf_program *all[] = {
		skel->progs.tls_ret,
		skel->progs.tls_rw_read,
		skel->progs.tls_rw_write,
		skel->progs.tls_ex_read,
		skel->progs.tls_ex_write,
		skel->progs.tls_ex2_write,
		skel->progs.tls_bio_read,
		skel->progs.tls_bio_write,
		skel->progs.tls_handshake,
		skel->progs.go_tls_read_enter,
		skel->progs.go_tls_write_enter,
		skel->progs.go_tls_return,
		skel->progs.go_tls_read_return,
		skel->progs.go_tls_read_return_stack,
		skel->progs.go_tls_read_enter_stack,
		skel->progs.go_tls_write_enter_stack,
		skel->progs.go_tls_return_stack,
	};
	_Static_assert(sizeof(all) / sizeof(all[0]) <= HOOK_PROGS_MAX, "HOOK_PROGS_MAX");
	memcpy(progs, all, sizeof(all));
	return sizeof(all) / sizeof(all[0]);
}

struct kernel_has {
	bool sock_length_tp; /* sock:sock_{send,recv}_length (6.4+) */
	bool tcp_sendpage; /* sendfile bypasses tcp_sendmsg (before 6.5) */
	bool recvmsg_nonblock; /* tcp_recvmsg has the nonblock argument (before 5.19) */
	/* bpf_task_pt_regs (5.15+): data calls' exits read their own arguments
	 * (bpf/hooks/syscalls.h), their entries are not loaded */
	bool exit_args;
};

static void probe_btf(struct kernel_has *k)
{
	memset(k, 0, sizeof(*k));
	struct btf *btf = btf__load_vmlinux_btf();
	if (!btf)
		return;
	k->sock_length_tp =
		btf__find_by_name_kind(btf, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) >= 0;
	k->tcp_sendpage = btf__find_by_name_kind(btf, "tcp_sendpage", BTF_KIND_FUNC) >= 0;
	int id = btf__find_by_name_kind(btf, "tcp_recvmsg", BTF_KIND_FUNC);
	const struct btf_type *fn = id >= 0 ? btf__type_by_id(btf, (__u32)id) : NULL;
	const struct btf_type *proto = fn ? btf__type_by_id(btf, fn->type) : NULL;
	k->recvmsg_nonblock = proto && btf_is_func_proto(proto) && btf_vlen(proto) == 6;
	btf__free(btf);
	/* SONDE_EBPF_EXIT_ARGS=0: the entry-and-exit way, for tests on one kernel */
	const char *ea = getenv("SONDE_EBPF_EXIT_ARGS");
	k->exit_args = !(ea && !strcmp(ea, "0")) &&
		       libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_pt_regs,
					       NULL) == 1 &&
		       libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT,
					       BPF_FUNC_get_current_task_btf, NULL) == 1;
}

/* ---------------------------------------------------------- kretprobes --- */

/*
 * A kretprobe sees at most `maxactive` calls in flight at once; other
 * returns are missed. Through perf_event_open (libbpf's way) it gets the
 * kernel's default: the number of possible CPUs on kernels without
 * CONFIG_PREEMPTION (Debian 11's 5.10: one, on one CPU), max(10, 2 * CPUs)
 * otherwise. A thread blocked in tcp_recvmsg holds its instance until data
 * comes, so a few idle readers take them all and the returns of the busy
 * sockets are lost (seen on 5.10: every response to a client that waited in
 * recv while another process was waiting too). tracefs's kprobe_events takes
 * an explicit maxactive: the kretprobes are created there, with libbpf's
 * attach as the fallback.
 */
#define KRETPROBE_MAXACTIVE 4096 /* the kernel's KRETPROBE_MAXACTIVE_MAX */
#define KRP_GROUP "sonde"

static const char *tracefs_root(void)
{
	if (access("/sys/kernel/tracing/kprobe_events", W_OK) == 0)
		return "/sys/kernel/tracing";
	if (access("/sys/kernel/debug/tracing/kprobe_events", W_OK) == 0)
		return "/sys/kernel/debug/tracing";
	return NULL;
}

static int kprobe_events_write(const char *root, const char *line)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/kprobe_events", root);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = write(fd, line, strlen(line)) < 0 ? -errno : 0;
	close(fd);
	return err;
}

static void krp_event_del(const char *root, const char *event)
{
	char line[128];
	snprintf(line, sizeof(line), "-:" KRP_GROUP "/%.63s\n", event);
	kprobe_events_write(root, line);
}

/* Events left by sonde processes that are gone (killed before removing
 * theirs). One still in use cannot be removed (EBUSY), so a live sonde in
 * another pid namespace keeps its own. */
static void krp_remove_stale(const char *root)
{
	char path[128], line[512], stale[8][64];
	int n = 0;
	snprintf(path, sizeof(path), "%s/kprobe_events", root);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (n < 8 && fgets(line, sizeof(line), f)) {
		/* "r4096:sonde/krp_PID_FUNC FUNC" */
		char *ev = strstr(line, ":" KRP_GROUP "/krp_");
		if (!ev)
			continue;
		ev += strlen(":" KRP_GROUP "/");
		ev[strcspn(ev, " \n")] = '\0';
		long pid = strtol(ev + 4, NULL, 10);
		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			snprintf(stale[n++], sizeof(stale[0]), "%.63s", ev);
	}
	fclose(f);
	for (int i = 0; i < n; i++)
		krp_event_del(root, stale[i]);
}

/* prog as a kretprobe on func with KRETPROBE_MAXACTIVE; the tracefs event's
 * name into event (to remove after the link). NULL if tracefs refuses. */
static struct bpf_link *krp_attach(const char *root, struct bpf_program *prog, const char *func,
				   char *event, size_t len)
{
	char ev[64], line[192], path[192];
	snprintf(ev, sizeof(ev), "krp_%d_%s", (int)getpid(), func);
	snprintf(line, sizeof(line), "r%d:" KRP_GROUP "/%s %s\n", KRETPROBE_MAXACTIVE, ev, func);
	krp_event_del(root, ev); /* a dead namesake's */
	int err = kprobe_events_write(root, line);
	if (err < 0) {
		if (verbose_level)
			fprintf(stderr,
				"sonde: cannot create kretprobe %s in tracefs (%s): default "
				"maxactive\n",
				func, strerror(-err));
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/events/" KRP_GROUP "/%s/id", root, ev);
	FILE *f = fopen(path, "re");
	unsigned long long id = 0;
	if (!f || fscanf(f, "%llu", &id) != 1)
		id = 0;
	if (f)
		fclose(f);
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_TRACEPOINT,
		.config = id,
		.sample_period = 1,
		.wakeup_events = 1,
	};
	int pfd =
		id ? (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC) : -1;
	struct bpf_link *link = pfd >= 0 ? bpf_program__attach_perf_event(prog, pfd) : NULL;
	if (!link) {
		if (pfd >= 0)
			close(pfd);
		krp_event_del(root, ev);
		return NULL;
	}
	snprintf(event, len, "%s", ev);
	return link;
}

/* Before the skeleton's attach: the kretprobes through tracefs where it can;
 * the others stay for the skeleton (libbpf's perf kprobe, default maxactive). */
static void attach_kretprobes(struct sonde_ebpf *e, struct sonde_capture *skel)
{
	struct {
		struct bpf_program *prog;
		struct bpf_link **link;
		const char *func;
	} krp[2] = {
		{ skel->progs.krp_tcp_sendmsg, &skel->links.krp_tcp_sendmsg, "tcp_sendmsg" },
		{ skel->progs.krp_tcp_recvmsg, &skel->links.krp_tcp_recvmsg, "tcp_recvmsg" },
	};
	e->tracefs = tracefs_root();
	if (!e->tracefs)
		return;
	krp_remove_stale(e->tracefs);
	for (int i = 0; i < 2; i++) {
		*krp[i].link = krp_attach(e->tracefs, krp[i].prog, krp[i].func, e->krp_events[i],
					  sizeof(e->krp_events[i]));
		if (*krp[i].link)
			bpf_program__set_autoattach(krp[i].prog, false);
	}
}

/* After the skeleton (and its links) are gone. */
static void remove_kretprobes(struct sonde_ebpf *e)
{
	for (int i = 0; i < 2; i++) {
		if (e->tracefs && e->krp_events[i][0])
			krp_event_del(e->tracefs, e->krp_events[i]);
		e->krp_events[i][0] = '\0';
	}
}

/* The read-only configuration and the map sizes, between open and load. */
static void set_config(struct sonde_capture *skel, const struct sonde_ebpf_opts *o, int hook,
		       const struct kernel_has *k)
{
	skel->rodata->self_tgid = (uint32_t)getpid();
	/* The lists hold at most SONDE_FILTER_MAX entries (the options refuse more). */
	for (size_t i = 0; i < o->npids; i++)
		skel->rodata->targ_tgids[i] = o->pids[i];
	skel->rodata->n_tgids = (uint32_t)o->npids;
	for (size_t i = 0; i < o->nports; i++)
		skel->rodata->targ_ports[i] = o->ports[i];
	skel->rodata->n_ports = (uint32_t)o->nports;
	for (size_t i = 0; i < o->ncomms; i++)
		strncpy((char *)skel->rodata->targ_comms[i], o->comms[i], SONDE_COMM_LEN - 1);
	skel->rodata->n_comms = (uint32_t)o->ncomms;
	skel->rodata->targ_cgroup = o->cgroup_id;
	skel->rodata->targets_on = o->targets;
	if (o->capture_per_call)
		skel->rodata->capture_per_call = o->capture_per_call;
	skel->rodata->hook_kind = (uint8_t)hook;
	skel->rodata->udp_only = hook != SONDE_HOOK_TRACEPOINT;
	skel->rodata->recvmsg_nonblock = k->recvmsg_nonblock;
	skel->rodata->tls_on = o->tls;
	skel->rodata->proc_events = o->proc_hook.event != NULL;
	skel->rodata->exit_args = k->exit_args;
	if (o->ringbuf_size)
		bpf_map__set_max_entries(skel->maps.events, (uint32_t)o->ringbuf_size);
	int ncpu = libbpf_num_possible_cpus();
	bpf_map__set_max_entries(skel->maps.scratch_map, ncpu > 0 ? (uint32_t)ncpu : 1);
}

/* Which programs load: the chosen hook's, the fallbacks this kernel needs,
 * the TLS probes unless --no-tls. */
static void choose_programs(struct sonde_capture *skel, const struct sonde_ebpf_opts *o, int hook,
			    const struct kernel_has *k)
{
	struct bpf_program *progs[HOOK_PROGS_MAX];
	for (int h = 0; h < SONDE_HOOK__COUNT; h++) {
		size_t n = hook_programs(skel, h, progs);
		for (size_t i = 0; i < n; i++)
			bpf_program__set_autoload(progs[i], h == hook);
	}
	/* UDP datagrams come from the socket calls' tracepoints whatever the
	 * hook (a kernel-function hook sees TCP only): loaded, udp_only. */
	if (hook != SONDE_HOOK_TRACEPOINT) {
		struct bpf_program *udp[] = {
			skel->progs.tp_enter_sendto,   skel->progs.tp_exit_sendto,
			skel->progs.tp_enter_recvfrom, skel->progs.tp_exit_recvfrom,
			skel->progs.tp_enter_sendmsg,  skel->progs.tp_exit_sendmsg,
			skel->progs.tp_enter_recvmsg,  skel->progs.tp_exit_recvmsg,
			skel->progs.tp_enter_sendmmsg, skel->progs.tp_exit_sendmmsg,
			skel->progs.tp_enter_recvmmsg, skel->progs.tp_exit_recvmmsg,
		};
		for (size_t i = 0; i < sizeof(udp) / sizeof(*udp); i++)
			bpf_program__set_autoload(udp[i], true);
	}
	/* Exits that read their own arguments need no entries. */
	if (k->exit_args) {
		size_t n = hook_programs(skel, SONDE_HOOK_TRACEPOINT, progs);
		for (size_t i = 0; i < n; i += 2) /* TP_PAIR: the entry first */
			bpf_program__set_autoload(progs[i], false);
	}
	/* fexit reads tcp_recvmsg's return after its arguments: one program
	 * per signature, the kernel's loaded. */
	if (hook == SONDE_HOOK_FENTRY) {
		bpf_program__set_autoload(skel->progs.fx_tcp_recvmsg, !k->recvmsg_nonblock);
		bpf_program__set_autoload(skel->progs.fx_tcp_recvmsg_nonblock, k->recvmsg_nonblock);
	}
	/* Bytes moved outside traced calls, counted so positions stay exact.
	 * In kernel-function modes tcp_sendmsg sees io_uring and (6.5+)
	 * sendfile itself; sendfile's older path needs the syscall hooks. */
	bool length_tp = hook == SONDE_HOOK_TRACEPOINT && k->sock_length_tp;
	bool sendfile_tp = hook == SONDE_HOOK_TRACEPOINT ? !k->sock_length_tp : k->tcp_sendpage;
	bpf_program__set_autoload(skel->progs.tb_sock_send_length, length_tp);
	bpf_program__set_autoload(skel->progs.tb_sock_recv_length, length_tp);
	bpf_program__set_autoload(skel->progs.tp_enter_sendfile64, sendfile_tp);
	bpf_program__set_autoload(skel->progs.tp_exit_sendfile64, sendfile_tp);
	bpf_program__set_autoload(skel->progs.tp_enter_splice, sendfile_tp);
	bpf_program__set_autoload(skel->progs.tp_exit_splice, sendfile_tp);

	/* TLS: the uprobe programs (attached per library by ebpf_tls.c) and
	 * the discovery hooks. */
	size_t ntls = tls_programs(skel, progs);
	for (size_t i = 0; i < ntls; i++)
		bpf_program__set_autoload(progs[i], o->tls);
	bpf_program__set_autoload(skel->progs.tp_exec, o->tls || o->proc_hook.event);
	bpf_program__set_autoload(skel->progs.tp_enter_mmap, o->tls);
}

static int try_hook(struct sonde_ebpf *e, const struct sonde_ebpf_opts *o, int hook,
		    const struct kernel_has *k, char *why, size_t len)
{
	struct sonde_capture *skel = sonde_capture__open();
	if (!skel) {
		snprintf(why, len, "opening the BPF object failed: %s", strerror(errno));
		return -1;
	}
	set_config(skel, o, hook, k);
	choose_programs(skel, o, hook, k);
	ebpf_tcp_choose(skel, o, e->stats);

	int rc = sonde_capture__load(skel);
	if (rc) {
		snprintf(why, len, "loading failed: %s", strerror(-rc));
		sonde_capture__destroy(skel);
		return -1;
	}
	if (hook == SONDE_HOOK_KPROBE)
		attach_kretprobes(e, skel);
	rc = sonde_capture__attach(skel);
	if (rc) {
		snprintf(why, len, "attaching failed: %s", strerror(-rc));
		sonde_capture__destroy(skel);
		remove_kretprobes(e);
		return -1;
	}
	e->skel = skel;
	e->hook = hook;
	return 0;
}

/* -------------------------------------------------------------- events --- */

/* An event address as an endpoint; v4-mapped IPv6 becomes IPv4 so both ends
 * of a dual-stack connection describe it the same way. */
static void endpoint(struct sonde_endpoint *ep, uint8_t family, const uint8_t *addr, uint16_t port)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	memset(ep, 0, sizeof(*ep));
	ep->port = port;
	if (family == AF_INET6 && !memcmp(addr, mapped, 12)) {
		ep->family = AF_INET;
		memcpy(ep->addr, addr + 12, 4);
	} else if (family == AF_INET6) {
		ep->family = AF_INET6;
		memcpy(ep->addr, addr, 16);
	} else {
		ep->family = AF_INET;
		memcpy(ep->addr, addr, 4);
	}
}

void ebpf_release(struct sonde_ebpf *e, uint64_t conn_id)
{
	uint64_t tuple;
	sonde_u64map_del(&e->sockets, conn_id, NULL);
	if (sonde_u64map_del(&e->owned, conn_id, &tuple))
		sonde_u64map_del(&e->owners, tuple, NULL);
}

static void event_endpoints(const struct sonde_event *ev, struct sonde_endpoint *local,
			    struct sonde_endpoint *remote)
{
	endpoint(local, ev->family, ev->laddr, ev->lport);
	endpoint(remote, ev->family, ev->raddr, ev->rport);
}

bool ebpf_loopback(const struct sonde_endpoint *ep)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	return ep->family == AF_INET ? ep->addr[0] == 127 : !memcmp(ep->addr, lo6, 16);
}

/* The owners map's key of ev's connection: both its local ends make the
 * same one; a loopback one in another namespace is another connection. */
static uint64_t tuple_key(const struct sonde_event *ev, uint64_t salt)
{
	struct sonde_endpoint local, remote;
	event_endpoints(ev, &local, &remote);
	uint64_t h = sonde_pair_hash(&local, &remote) ^ salt;
	if (ebpf_loopback(&local))
		h = sonde_mix64(h ^ ev->netns);
	return h | 1; /* non-zero map key */
}

bool ebpf_owns_tuple(struct sonde_ebpf *e, const struct sonde_event *ev, uint64_t salt)
{
	uint64_t tuple = tuple_key(ev, salt);
	uint64_t owner = 0;
	uint64_t owner_sk;
	if (sonde_u64map_get(&e->owners, tuple, &owner) &&
	    (owner == ev->conn_id || !sonde_u64map_get(&e->sockets, owner, &owner_sk) ||
	     owner_sk != ev->sk))
		return owner == ev->conn_id;
	if (owner != 0 && owner != ev->conn_id) {
		/* The owner's own kernel socket under a new id: its state there
		 * was lost (a full socket map) and made anew, mid-stream. The
		 * same end, not its peer: it owns the tuple from now on. */
		sonde_u64map_del(&e->owned, owner, NULL);
		sonde_u64map_del(&e->owners, tuple, NULL);
	}
	if (ev->type != SONDE_EV_CLOSE) {
		sonde_u64map_put(&e->owners, tuple, ev->conn_id);
		sonde_u64map_put(&e->owned, ev->conn_id, tuple);
	}
	return true;
}

uint64_t ebpf_tuple_owner(struct sonde_ebpf *e, const struct sonde_event *ev)
{
	uint64_t owner = 0;
	sonde_u64map_get(&e->owners, tuple_key(ev, 0), &owner);
	return owner;
}

/* The kernel placed this socket as its connection's captured end: it owns
 * the tuple here too, whoever our map says held it. */
static bool ebpf_claim_tuple(struct sonde_ebpf *e, const struct sonde_event *ev, uint64_t salt)
{
	uint64_t tuple = tuple_key(ev, salt);
	uint64_t owner = 0;
	if (sonde_u64map_get(&e->owners, tuple, &owner) && owner != ev->conn_id)
		sonde_u64map_del(&e->owned, owner, NULL);
	if (ev->type != SONDE_EV_CLOSE) {
		sonde_u64map_put(&e->owners, tuple, ev->conn_id);
		sonde_u64map_put(&e->owned, ev->conn_id, tuple);
	}
	return true;
}

void ebpf_chunk_from_event(const struct sonde_ebpf *e, const struct sonde_event *ev,
			   struct sonde_process *proc, struct sonde_chunk *c)
{
	struct sonde_endpoint local, remote;
	event_endpoints(ev, &local, &remote);
	proc->pid = ev->tgid;
	proc->tid = ev->tid;
	proc->cgroup_id = ev->cgroup_id;
	memcpy(proc->comm, ev->comm, sizeof(proc->comm));
	proc->comm[sizeof(proc->comm) - 1] = '\0';
	memset(c, 0, sizeof(*c));
	c->ts_ns = ev->ts_ns + (uint64_t)e->mono_to_real_ns;
	c->seq_kind = SONDE_SEQ_STREAM64;
	c->origin = hook_origins[e->hook];
	c->conn_id = ev->conn_id;
	c->proc = proc;
	c->flow.l4 = SONDE_L4_TCP;
	bool tx = ev->dir == SONDE_EV_TX;
	c->flow.src = tx ? local : remote;
	c->flow.dst = tx ? remote : local;
	if (ev->role == SONDE_EV_ROLE_CLIENT)
		c->role = tx ? SONDE_ROLE_SRC_IS_CLIENT : SONDE_ROLE_SRC_IS_SERVER;
	else if (ev->role == SONDE_EV_ROLE_SERVER)
		c->role = tx ? SONDE_ROLE_SRC_IS_SERVER : SONDE_ROLE_SRC_IS_CLIENT;
	if (ev->type == SONDE_EV_DATA) {
		c->seq = ev->pos;
		c->wirelen = ev->len;
		c->caplen = ev->cap;
		c->data = (const uint8_t *)(ev + 1);
		c->tcp_srtt_us = ev->srtt_us; /* TLS plaintext too: its socket's */
		c->tcp_retrans = ev->total_retrans;
		if (ev->flags & SONDE_EVF_AFTER_LOSS)
			c->flags |= SONDE_CF_LOSS_BEFORE;
	}
}

/* The ignore switch: the kernel stops copying socket sk's payload. The
 * generation is bumped after the write, so a socket that looks again finds
 * the entry (bpf/lib/emit.h). */
static void ebpf_ignore_socket(struct sonde_ebpf *e, uint64_t sk, uint64_t conn_id)
{
	if (!e->skel)
		return; /* a decoder without a kernel (fuzz/fuzz_ebpf.c) */
	bpf_map_update_elem(bpf_map__fd(e->skel->maps.ignored), &sk, &conn_id, BPF_ANY);
	__atomic_fetch_add(&e->skel->bss->ignored_gen, 1, __ATOMIC_RELEASE);
}

void ebpf_tell_proc(struct sonde_ebpf *e, uint8_t kind, uint32_t pid)
{
	if (!e->proc_hook.event)
		return;
	struct sonde_proc_event pe = { .kind = kind, .pid = pid };
	e->proc_hook.event(e->proc_hook.ctx, &pe);
}

/* A socket opened (either end of a local pair, the muted copy too): who
 * holds it, for the ends the socket tables will not show. */
static void tell_socket(struct sonde_ebpf *e, const struct sonde_event *ev)
{
	if (!e->proc_hook.event)
		return;
	struct sonde_proc_event pe = { .kind = SONDE_PROC_SOCKET,
				       .pid = ev->tgid,
				       .netns = ev->netns,
				       .cgroup_id = ev->cgroup_id };
	memcpy(pe.comm, ev->comm, sizeof(pe.comm) - 1);
	event_endpoints(ev, &pe.local, &pe.remote);
	e->proc_hook.event(e->proc_hook.ctx, &pe);
}

/* Events that are not a TCP stream's: a mapped library, an exit, TLS
 * plaintext, a datagram. True when handled here. */
static bool on_side_event(struct sonde_ebpf *e, const struct sonde_event *ev)
{
	if (ev->type == SONDE_EV_MAPPED) {
		if (ev->dir == 0)
			ebpf_tell_proc(e, SONDE_PROC_EXEC, ev->tgid);
		if (e->tls)
			ebpf_tls_mapped(e, ev->tgid, ev->dir == 0);
		return true;
	}
	if (ev->type == SONDE_EV_EXIT) {
		ebpf_tell_proc(e, SONDE_PROC_EXIT, ev->tgid);
		return true;
	}
	if (ev->flags & SONDE_EVF_TLS) {
		if (e->tls)
			ebpf_tls_event(e, ev);
		return true;
	}
	if (ev->flags & SONDE_EVF_DATAGRAM) {
		ebpf_datagram(e, ev);
		return true;
	}
	return false;
}

/*
 * Both ends of a loopback connection are traced sockets: keep one. The
 * kernel mutes the second from its first event on (peers map) and says so;
 * the check below is for sockets it could not place (map full). False for
 * an event of the end not kept.
 */
static bool end_kept(struct sonde_ebpf *e, const struct sonde_event *ev)
{
	if (ev->flags & SONDE_EVF_PEER_COPY)
		return false; /* its bytes are counted in ebpf_peer_copy_bytes */
	/* A socket that owns its tuple keeps it until its close or until its
	 * own socket comes back under a new id (which drops it from `owned`):
	 * its later events need no second look. */
	uint64_t owned_tuple;
	if (sonde_u64map_get(&e->owned, ev->conn_id, &owned_tuple))
		return true;
	/* The kernel's word is final: its peers map lives beside the sockets,
	 * while ours can keep an owner whose close event was lost (a full
	 * ring) and would take the next connection on the same tuple for its
	 * copy. */
	bool owns = ev->flags & SONDE_EVF_PEER_OWNER ? ebpf_claim_tuple(e, ev, 0)
						     : ebpf_owns_tuple(e, ev, 0);
	if (!owns) {
		e->stats->duplicate_peer_bytes += ev->len;
		/* Stop the kernel copying this end's payload at all: only its
		 * first events get this far. */
		if (ev->type == SONDE_EV_DATA && ev->cap)
			ebpf_ignore_socket(e, ev->sk, ev->conn_id);
		return false;
	}
	if (ev->type != SONDE_EV_CLOSE)
		sonde_u64map_put(&e->sockets, ev->conn_id, ev->sk);
	return true;
}

int ebpf_on_event(void *ctx, void *data, size_t size)
{
	struct sonde_ebpf *e = ctx;
	struct sonde_stats *st = e->stats;
	const struct sonde_event *ev = data;
	if (size < sizeof(*ev) || ev->version != SONDE_EVENT_VERSION ||
	    sizeof(*ev) + ev->cap > size || ev->cap > ev->len) {
		st->ebpf_bad_events++;
		return 0;
	}
	st->ebpf_events++;
	if (on_side_event(e, ev))
		return 0;
	bool tcp_info = ev->flags & SONDE_EVF_TCP_INFO;
	if (tcp_info && size < sizeof(*ev) + sizeof(struct sonde_tcp_info)) {
		st->ebpf_bad_events++;
		return 0;
	}
	if (ev->type == SONDE_EV_TCP_FAILED) {
		if (tcp_info)
			ebpf_tcp_failed(e, ev);
		return 0;
	}
	/* Before the loopback check: each end's socket ends its own TLS
	 * connection. */
	if (ev->type == SONDE_EV_CLOSE && e->tls)
		ebpf_tls_socket_closed(e, ev->conn_id, ev->ts_ns + (uint64_t)e->mono_to_real_ns);
	if (ev->flags & SONDE_EVF_PEER_COPY)
		ebpf_peers_copy_event(e, ev); /* its close facts join the owner's record */
	if (ev->type == SONDE_EV_OPEN)
		tell_socket(e, ev);
	if (!end_kept(e, ev))
		return 0;

	struct sonde_process proc;
	struct sonde_chunk c;
	ebpf_chunk_from_event(e, ev, &proc, &c);
	switch (ev->type) {
	case SONDE_EV_OPEN:
		c.flags = SONDE_CF_SYN;
		sonde_chunk_emit(&e->out, &c);
		break;
	case SONDE_EV_DATA: sonde_chunk_emit(&e->out, &c); break;
	case SONDE_EV_CLOSE:
		ebpf_peers_owner_close(e, ev, size);
		ebpf_release(e, ev->conn_id);
		break;
	default: st->ebpf_bad_events++;
	}
	return 0;
}

/* ------------------------------------------------------------ lifecycle --- */

struct sonde_ebpf *sonde_ebpf_open(const struct sonde_ebpf_opts *o,
				   const struct sonde_source_env *env, char *err, size_t errlen)
{
	verbose_level = o->verbose;
	libbpf_set_print(libbpf_log);
	if (check_privileges(err, errlen, o->tls) < 0 || check_filesystems(err, errlen) < 0 ||
	    check_kernel(err, errlen) < 0)
		return NULL;

	struct sonde_ebpf *e = sonde_xcalloc(1, sizeof(*e));
	e->out = env->out;
	e->stats = env->stats;
	ebpf_tables_init(e);
	struct timespec rt, mt;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	e->mono_to_real_ns =
		((int64_t)rt.tv_sec - mt.tv_sec) * 1000000000ll + (rt.tv_nsec - mt.tv_nsec);

	struct kernel_has k;
	probe_btf(&k);
	/* Best first (SONDE_HOOKS lists them best last); a forced hook is
	 * tried alone. */
	int order[SONDE_HOOK__COUNT];
	int n = SONDE_HOOK__COUNT;
	for (int i = 0; i < n; i++)
		order[i] = SONDE_HOOK__COUNT - 1 - i;
	if (o->hook != SONDE_HOOK_AUTO) {
		order[0] = o->hook;
		n = 1;
	}
	char why[SONDE_HOOK__COUNT][160];
	int tried = 0;
	for (int i = 0; i < n; i++) {
		int h = order[i];
		why[i][0] = '\0';
		tried = i + 1;
		if (h == SONDE_HOOK_KPROBE && !ebpf_kprobes_available()) {
			snprintf(why[i], sizeof(why[i]), "the kernel has no kprobes");
			continue;
		}
		if (try_hook(e, o, h, &k, why[i], sizeof(why[i])) == 0)
			break;
		if (o->verbose)
			fprintf(stderr, "sonde: %s hooks unavailable: %s\n", hook_names[h], why[i]);
	}
	if (!e->skel) {
		size_t w = (size_t)snprintf(err, errlen, "no eBPF hook could be loaded:");
		for (int i = 0; i < tried && w < errlen; i++)
			w += (size_t)snprintf(err + w, errlen - w, "%s %s: %s", i ? ";" : "",
					      hook_names[order[i]], why[i]);
		sonde_ebpf_close(e);
		return NULL;
	}
	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.events), ebpf_on_event, e, NULL);
	if (!e->rb) {
		snprintf(err, errlen, "cannot read the BPF ring buffer: %s", strerror(errno));
		sonde_ebpf_close(e);
		return NULL;
	}
	if (o->tls)
		ebpf_tls_open(e, o);
	e->proc_hook = o->proc_hook;
	ebpf_tell_proc(e, SONDE_PROC_TRACKED, 0);
	return e;
}

int sonde_ebpf_fd(const struct sonde_ebpf *e)
{
	return ring_buffer__epoll_fd(e->rb);
}

int sonde_ebpf_poll(struct sonde_ebpf *e, int timeout_ms)
{
	int n = ring_buffer__poll(e->rb, timeout_ms);
	/* The kernel side wakes the reader only once enough is pending
	 * (rb_flags): what a quiet connection wrote since is read here, on the
	 * timeout, so its records come out within one poll, not at its close. */
	if (n == 0)
		n = ring_buffer__consume(e->rb);
	if (e->tls)
		ebpf_tls_tick(e);
	ebpf_peers_tick(e);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ebpf_sweep_lost_closes(e, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
	return n;
}

void ebpf_stats_from_counters(struct sonde_stats *st, const uint64_t sum[SONDE_CNT__MAX])
{
	/* Some fields sum two counters: cleared first, then added to. */
#define KCOUNTER_CLEAR(name, stat) st->stat = 0;
#define KCOUNTER_ADD(name, stat) st->stat += sum[SONDE_CNT_##name];
	SONDE_KCOUNTERS(KCOUNTER_CLEAR)
	SONDE_KCOUNTERS(KCOUNTER_ADD)
#undef KCOUNTER_CLEAR
#undef KCOUNTER_ADD
}

void sonde_ebpf_update_stats(struct sonde_ebpf *e)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return;
	uint64_t *vals = sonde_xcalloc((size_t)ncpu, sizeof(uint64_t));
	uint64_t sum[SONDE_CNT__MAX] = { 0 };
	int fd = bpf_map__fd(e->skel->maps.counters);
	for (uint32_t k = 0; k < SONDE_CNT__MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals) < 0)
			continue;
		for (int c = 0; c < ncpu; c++)
			sum[k] += vals[c];
	}
	free(vals);
	ebpf_stats_from_counters(e->stats, sum);
}

void sonde_ebpf_ignore(void *ctx, uint64_t conn_id)
{
	struct sonde_ebpf *e = ctx;
	uint64_t sk;
	if (!e || !e->skel)
		return;
	if (e->tls && ebpf_tls_ignore(e, conn_id))
		return;
	if (!sonde_u64map_get(&e->sockets, conn_id, &sk))
		return;
	ebpf_ignore_socket(e, sk, conn_id);
}

void ebpf_tables_init(struct sonde_ebpf *e)
{
	sonde_u64map_init(&e->sockets);
	sonde_u64map_init(&e->owners);
	sonde_u64map_init(&e->owned);
	ebpf_peers_init(e);
	sonde_u64map_init(&e->dgram_aliases);
}

void ebpf_tables_free(struct sonde_ebpf *e)
{
	ebpf_peers_close(e);
	sonde_u64map_free(&e->sockets);
	sonde_u64map_free(&e->owners);
	sonde_u64map_free(&e->owned);
	ebpf_datagram_free(e);
}

void sonde_ebpf_close(struct sonde_ebpf *e)
{
	if (!e)
		return;
	ebpf_peers_close(e); /* the closes still waiting for their copy's go out first */
	ring_buffer__free(e->rb);
	ebpf_tls_close(e); /* its uprobe links go before the programs */
	sonde_capture__destroy(e->skel);
	remove_kretprobes(e);
	ebpf_tables_free(e);
	free(e);
}

int sonde_ebpf_targets_fd(const struct sonde_ebpf *e)
{
	return e->skel->rodata->targets_on ? bpf_map__fd(e->skel->maps.targets) : -1;
}
