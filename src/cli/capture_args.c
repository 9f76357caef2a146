/* SPDX-License-Identifier: MIT */
/* sonde capture's options: the help, the getopt table, each value checked
 * and refused with a reason, and the cross-checks between sources. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "app/audit.h"
#include "cli/capture_args.h"
#include "cli/cli.h"

static const char capture_head[] =
	"Usage: sonde capture [OPTIONS]\n"
	"\n"
	"Capture the TCP traffic of every process on this host with eBPF (no proxy,\n"
	"no change to the programs) and write its request/response records.\n"
	"Needs root, or: eBPF CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH (tracefs),\n"
	"and for TLS CAP_SYS_ADMIN (uprobes) and CAP_SYS_PTRACE; packet sources\n"
	"CAP_NET_RAW (tc: CAP_NET_ADMIN and CAP_BPF).\n"
	"Stops on SIGINT/SIGTERM, writing what is pending; a second signal quits at once.\n"
	"\n"
	"Sources:\n"
	"      --source KIND        ebpf (the default: every process's sockets and TLS\n"
	"                           libraries, through eBPF), af_packet (packets of\n"
	"                           network interfaces, through a memory-mapped ring),\n"
	"                           libpcap (the same through libpcap) or tc (eBPF on\n"
	"                           the interfaces' traffic-control hooks) or\n"
	"                           cgroup_skb (eBPF on a cgroup's sockets: --cgroup,\n"
	"                           default the root; records name each socket's\n"
	"                           cgroup) or af_xdp (an XSK socket fed by XDP on a\n"
	"                           mirror of -i IFACE: the interface's own packets\n"
	"                           go on untouched); several\n"
	"                           with commas (ebpf,af_packet): each connection\n"
	"                           from one, eBPF for the sockets it follows\n"
	"  -i, --interface IFACE    packet sources: capture on IFACE (repeatable, at\n"
	"                           most 16; default any: every interface)\n"
	"      --filter EXPR        packet sources: only packets matching EXPR, in\n"
	"                           tcpdump's filter syntax, run in the kernel (tc:\n"
	"                           in sonde)\n"
	"      --netns NS           packet sources: capture in another network\n"
	"                           namespace: a name (ip netns), a pid or a path\n"
	"      --all-netns          packet sources: in every network namespace of the\n"
	"                           host, as they come and go (capture.source names\n"
	"                           each; 4m of kernel buffer each unless -B)\n"
	"      --queue N            af_xdp: only the packets of the interface's queue N\n"
	"  -B, --buffer-size SIZE   packet sources: kernel buffer per interface\n"
	"                           (default 32m)\n"
	"  -s, --snaplen SIZE       packet sources: bytes kept per packet (default:\n"
	"                           whole packets; the rest is counted as a gap)\n"
	"eBPF:\n"
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
	"      --cgroup PATH|ID     only processes in this cgroup (v2 path or id);\n"
	"                           cgroup_skb: the cgroup to attach to (a path)\n"
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
	"TCP health:\n"
	"      --no-tcp-health      eBPF: no lifecycle, RTT or retransmission tracking\n"
	"                           (tcp: tracepoints, tcp_sock reads) of connections\n"
	"      --tls-lib PATH       also probe this TLS library or program (repeatable)\n"
	"                           ('sonde tls' lists what is found and captured)\n"
	"Who is talking:\n"
	"      --no-enrich          do not name each end's process, container and\n"
	"                           pod (read once per process from /proc and the\n"
	"                           container runtimes' state on this host; packet\n"
	"                           sources: the local ends' sockets looked up once\n"
	"                           per connection; on by default)\n"
	"      --target SEL         eBPF: follow only the workloads SEL selects\n"
	"                           (repeatable: any of them), terms joined by ';':\n"
	"                           namespace=NS, pod=LABELSELECTOR (app=web,tier!=db,\n"
	"                           env in (prod,qa), track notin (canary)),\n"
	"                           container=NAME, process=COMM[,COMM...],\n"
	"                           ports=P[,P...], all; pod\n"
	"                           annotations sonde.dev/capture and sonde.dev/ports\n"
	"                           override; applied in the kernel by cgroup\n"
	"      --host-root PATH     the node's root, where the runtimes' state files\n"
	"                           and sockets are (default /; in a container with\n"
	"                           the host's pid namespace: /proc/1/root)\n"
	"      --cri-socket PATH    the container runtime's CRI socket, for pods and\n"
	"                           their labels (default: containerd's or CRI-O's\n"
	"                           usual socket, when there; 'none': do not ask)\n"
	"      --kube-api           in a cluster: name remote pods and Services'\n"
	"                           cluster IPs from the Kubernetes API (the pod's\n"
	"                           service account; list and watch, this node's pods)\n"
	"      --kube-api-account DIR  the service account's token and ca.crt\n"
	"                           (default /var/run/secrets/kubernetes.io/serviceaccount)\n"
	"      --config FILE        the node agent's settings, in the structure of the\n"
	"                           Helm chart's values (docs/deploy.md); an option\n"
	"                           given on the command line wins over the file's\n"
	"Privileges and audit:\n"
	"      --user USER          once started, run as USER (its groups too), like\n"
	"                           tcpdump's -Z\n"
	"      --keep-privileges    keep every capability (by default sonde keeps only\n"
	"                           what its live work needs, sets no_new_privs and a\n"
	"                           seccomp filter once started; docs/security.md)\n"
	"      --audit-log FILE     append this session's audit events (JSON Lines) to\n"
	"                           FILE ('none': not at all; default as root:\n"
	"                           " SONDE_AUDIT_DEFAULT "); also to syslog when\n"
	"                           there is one\n"
	"  -v, --verbose            a stats line on stderr every 2 s, why a hook was\n"
	"                           not usable, and the capabilities kept\n";
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
	OPT_NO_TCP_HEALTH,
	OPT_TLS_LIB,
	OPT_SOURCE,
	OPT_FILTER,
	OPT_NETNS,
	OPT_ALL_NETNS,
	OPT_NO_ENRICH,
	OPT_CRI_SOCKET,
	OPT_KUBE_API,
	OPT_KUBE_ACCOUNT,
	OPT_TARGET,
	OPT_HOST_ROOT,
	OPT_QUEUE,
	OPT_USER,
	OPT_KEEP_PRIVS,
	OPT_AUDIT_LOG,
	OPT_CONFIG,
};

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
	{ "no-tcp-health", no_argument, NULL, OPT_NO_TCP_HEALTH },
	{ "tls-lib", required_argument, NULL, OPT_TLS_LIB },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "interface", required_argument, NULL, 'i' },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "all-netns", no_argument, NULL, OPT_ALL_NETNS },
	{ "no-enrich", no_argument, NULL, OPT_NO_ENRICH },
	{ "cri-socket", required_argument, NULL, OPT_CRI_SOCKET },
	{ "kube-api", no_argument, NULL, OPT_KUBE_API },
	{ "kube-api-account", required_argument, NULL, OPT_KUBE_ACCOUNT },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "host-root", required_argument, NULL, OPT_HOST_ROOT },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "user", required_argument, NULL, OPT_USER },
	{ "keep-privileges", no_argument, NULL, OPT_KEEP_PRIVS },
	{ "audit-log", required_argument, NULL, OPT_AUDIT_LOG },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "buffer-size", required_argument, NULL, 'B' },
	{ "snaplen", required_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

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
				 "'%s' is %zu characters; the kernel keeps 15 of a command name",
				 item, strlen(item));
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

/* --netns: a name made by `ip netns add`, a process id, or a path. */
static int netns_option(struct capture_args *a, const char *arg)
{
	unsigned long long pid;
	struct stat st;
	if (parse_uint(arg, 0x7fffffff, &pid) == 0 && pid)
		snprintf(a->netns, sizeof(a->netns), "/proc/%llu/ns/net", pid);
	else if (!strchr(arg, '/'))
		snprintf(a->netns, sizeof(a->netns), "/run/netns/%s", arg);
	else
		snprintf(a->netns, sizeof(a->netns), "%s", arg);
	if (stat(a->netns, &st) < 0) {
		char why[128];
		snprintf(why, sizeof(why), "no network namespace %s (%s)", a->netns,
			 strerror(errno));
		return bad("netns", arg, why);
	}
	a->po.netns = a->netns;
	return 0;
}

static const struct sonde_source_ops *source_kind(const char *name)
{
	static const struct sonde_source_ops *const kinds[] = {
		&sonde_source_ebpf, &sonde_source_af_packet,  &sonde_source_libpcap,
		&sonde_source_tc,   &sonde_source_cgroup_skb, &sonde_source_af_xdp,
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(name, kinds[i]->name))
			return kinds[i];
	return NULL;
}

#define SOURCE_KINDS "ebpf, af_packet, libpcap, tc, cgroup_skb or af_xdp"

/* --source KIND[,KIND...]: one kind, or the eBPF source and packet kinds
 * together. */
static int source_option(struct capture_args *a, const char *arg)
{
	char list[128], *save = NULL;
	snprintf(list, sizeof(list), "%s", arg);
	a->source = NULL;
	a->with_ebpf = false;
	a->nmore = 0;
	for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		const struct sonde_source_ops *k = source_kind(item);
		if (!k)
			return bad("source", arg, SOURCE_KINDS " (or several, with commas)");
		bool twice = k == &sonde_source_ebpf ? a->with_ebpf : k == a->source;
		for (size_t i = 0; i < a->nmore; i++)
			twice |= a->more[i] == k;
		if (twice)
			return bad("source", arg, "a kind named twice");
		if (k == &sonde_source_ebpf)
			a->with_ebpf = true;
		else if (!a->source)
			a->source = k;
		else if (a->nmore == SONDE_SOURCE_KINDS_MAX)
			return bad("source", arg, "too many kinds");
		else
			a->more[a->nmore++] = k;
	}
	if (!a->source && !a->with_ebpf)
		return bad("source", arg, SOURCE_KINDS);
	if (!a->source)
		a->source = &sonde_source_ebpf, a->with_ebpf = false;
	return 0;
}

/* --cgroup: a cgroup v2 directory or its id (the directory's inode number). */
static int cgroup_option(struct sonde_ebpf_opts *eo, const char *arg)
{
	unsigned long long v;
	struct stat st;
	if (parse_uint(arg, ~0ull, &v) == 0 && v) {
		eo->cgroup_id = v;
		return 0;
	}
	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
		eo->cgroup_id = st.st_ino;
		return 0;
	}
	char msg[300];
	int err = errno;
	if (!strchr(arg, '/'))
		snprintf(msg, sizeof(msg),
			 "no such cgroup (give a cgroup v2 "
			 "directory, e.g. /sys/fs/cgroup/system.slice, or its id)");
	else
		snprintf(msg, sizeof(msg), "no such cgroup (%s)",
			 access(arg, F_OK) == 0 ? "not a directory" : strerror(err));
	return bad("cgroup", arg, msg);
}

static int size_option(const char *opt, const char *arg, size_t lo, size_t hi, const char *range,
		       size_t *out)
{
	const char *why;
	if (sonde_parse_size(arg, out, &why) < 0)
		return bad(opt, arg, why);
	if (*out < lo || *out > hi)
		return bad(opt, arg, range);
	return 0;
}

static int target_option(struct capture_args *a, const char *arg)
{
	char why[256];
	if (sonde_targets_add(&a->targets, arg, why, sizeof(why)) < 0)
		return bad("target", arg, why);
	a->eo.targets = true;
	return 0;
}

/* capture_option's answer for an option that is not in a group's switch. */
#define OTHER_GROUP (-1)

/* The eBPF source's options. 0, the exit status to stop with, or
 * OTHER_GROUP. */
static int ebpf_option(struct capture_args *a, int c, const char *arg)
{
	struct sonde_ebpf_opts *eo = &a->eo;
	size_t sz;
	switch (c) {
	case OPT_HOOK:
		if (!sonde_ebpf_hook_from_name(arg, &eo->hook))
			return bad("ebpf-hook", arg, "auto, fentry, kprobe or tracepoint");
		return 0;
	case OPT_PID:
	case OPT_COMM:
	case OPT_PORT:
		if (a->ncopies == ARGS_MAX)
			return bad(filter_name(c), arg, "too many options");
		return filter_list(c, arg, eo, a->copies, &a->ncopies) < 0 ? SONDE_EXIT_USAGE : 0;
	case OPT_CGROUP: a->po.cgroup = arg; return cgroup_option(eo, arg);
	case OPT_CAPLIMIT:
		if (size_option("capture-limit", arg, 0, 16u << 20, "at most 16m", &sz))
			return SONDE_EXIT_USAGE;
		eo->capture_per_call = sz ? (uint32_t)sz : 1;
		return 0;
	case OPT_RINGBUF:
		if (size_option("ringbuf-size", arg, 4096, 1u << 30, "from 4k to 1g", &sz))
			return SONDE_EXIT_USAGE;
		if (sz & (sz - 1))
			return bad("ringbuf-size", arg,
				   "must be a power of two (e.g. 4m, 8m, 16m)");
		eo->ringbuf_size = sz;
		return 0;
	case OPT_TLS: eo->tls = true; return 0;
	case OPT_NO_TLS: eo->tls = false; return 0;
	case OPT_NO_TCP_HEALTH: eo->no_tcp_health = true; return 0;
	case OPT_TLS_LIB:
		if (a->ntls_libs == TLS_LIBS_MAX)
			return bad("tls-lib", arg, "at most 32 libraries");
		a->tls_libs[a->ntls_libs++] = arg;
		return 0;
	default: return OTHER_GROUP;
	}
}

/* The packet sources' options. 0, the exit status to stop with, or
 * OTHER_GROUP. */
static int packet_option(struct capture_args *a, int c, const char *arg)
{
	size_t sz;
	switch (c) {
	case 'i':
		if (a->po.nifaces == SONDE_PACKET_IFACES_MAX)
			return bad("interface", arg, "at most 16 interfaces");
		if (!*arg)
			return bad("interface", arg, "an empty interface name");
		a->po.ifaces[a->po.nifaces++] = arg;
		return 0;
	case OPT_FILTER: a->po.filter = arg; return 0;
	case OPT_NETNS: return netns_option(a, arg);
	case OPT_ALL_NETNS: a->all_netns = true; return 0;
	case OPT_QUEUE: {
		unsigned long long q;
		if (parse_uint(arg, 4095, &q) < 0)
			return bad("queue", arg, "a queue number from 0 to 4095");
		a->po.queue = (int)q;
		return 0;
	}
	case 'B':
		if (size_option("buffer-size", arg, 1u << 20, 1u << 30, "from 1m to 1g", &sz))
			return SONDE_EXIT_USAGE;
		a->po.ring_size = sz;
		return 0;
	case 's':
		if (size_option("snaplen", arg, 0, 262144, "at most 256k (0: whole packets)", &sz))
			return SONDE_EXIT_USAGE;
		a->po.snaplen = (uint32_t)sz;
		return 0;
	default: return OTHER_GROUP;
	}
}

/* One option of capture's own. Returns 0, or the exit status to stop with
 * (SONDE_EXIT_OK after --help). */
static int capture_option(struct capture_args *a, int c, const char *arg)
{
	const char *why;
	if (c == OPT_HOOK || c == OPT_PID || c == OPT_COMM || c == OPT_PORT || c == OPT_CAPLIMIT ||
	    c == OPT_RINGBUF || c == OPT_NO_TLS || c == OPT_TLS_LIB || c == OPT_TARGET ||
	    c == OPT_NO_TCP_HEALTH)
		a->ebpf_only_given = true;
	int rc = ebpf_option(a, c, arg);
	if (rc == OTHER_GROUP)
		rc = packet_option(a, c, arg);
	if (rc != OTHER_GROUP)
		return rc;
	switch (c) {
	case OPT_DURATION:
		if (sonde_parse_duration(arg, &a->duration_ns, &why) < 0)
			return bad("duration", arg, why);
		return 0;
	case OPT_SOURCE: return source_option(a, arg);
	case OPT_NO_ENRICH: a->no_enrich = true; return 0;
	case OPT_CRI_SOCKET: a->cri_socket = strcmp(arg, "none") ? arg : ""; return 0;
	case OPT_KUBE_API: a->kube_api = true; return 0;
	case OPT_KUBE_ACCOUNT: a->kube_account = arg; return 0;
	case OPT_TARGET: return target_option(a, arg);
	case OPT_HOST_ROOT: a->host_root = arg; return 0;
	case OPT_USER:
		if (!*arg)
			return bad("user", arg, "an empty user name");
		a->user = arg;
		return 0;
	case OPT_KEEP_PRIVS: a->keep_privs = true; return 0;
	case OPT_AUDIT_LOG: a->audit_log = strcmp(arg, "none") ? arg : ""; return 0;
	case OPT_CONFIG: return 0; /* read before the command line (apply_config) */
	case 'v': a->eo.verbose = 1; return 0;
	case 'h':
		printf("%s%s%s", capture_head, sonde_common_usage, capture_tail);
		return SONDE_EXIT_OK;
	default: fputs("Try 'sonde capture --help'.\n", stderr); return SONDE_EXIT_USAGE;
	}
}

static bool uses_kind(const struct capture_args *a, const struct sonde_source_ops *k)
{
	bool used = a->source == k;
	for (size_t i = 0; i < a->nmore; i++)
		used |= a->more[i] == k;
	return used;
}

/* --cgroup: the eBPF source's filter, or the cgroup cgroup_skb attaches
 * to (a directory then). cgroup_skb follows sockets, not interfaces. Its
 * records' capture.source: "cgroup:PATH". Returns -1 to go on. */
static int check_cgroup_args(struct capture_args *a)
{
	bool cgskb = uses_kind(a, &sonde_source_cgroup_skb);
	if (a->po.cgroup && !cgskb && !a->with_ebpf && a->source != &sonde_source_ebpf) {
		sonde_errorf("capture: --cgroup is for the eBPF and cgroup_skb sources");
		return SONDE_EXIT_USAGE;
	}
	if (!cgskb)
		return -1;
	struct stat st;
	if (a->po.cgroup && (stat(a->po.cgroup, &st) < 0 || !S_ISDIR(st.st_mode)))
		return bad("cgroup", a->po.cgroup,
			   "cgroup_skb attaches to a cgroup v2 directory: give its path");
	const char *o = a->po.nifaces  ? "-i"
			: a->po.netns  ? "--netns"
			: a->all_netns ? "--all-netns"
				       : NULL;
	if (o) {
		sonde_errorf("capture: %s is for the interface sources; cgroup_skb follows a "
			     "cgroup's sockets in every namespace (--cgroup PATH)",
			     o);
		return SONDE_EXIT_USAGE;
	}
	snprintf(a->source_name, sizeof(a->source_name), "cgroup:%s",
		 a->po.cgroup ? a->po.cgroup : "/");
	return -1;
}

/* Options that belong to another kind of source are refused, not ignored;
 * records' capture.source names what was captured. */
static int check_source_args(struct capture_args *a)
{
	if (a->user && a->targets.n) {
		/* the target scanner's thread updates a BPF map, which takes
		 * CAP_BPF, and a thread loses its capabilities with the user */
		sonde_errorf("capture: --user and --target do not go together yet");
		return SONDE_EXIT_USAGE;
	}
	if (!a->source)
		a->source = &sonde_source_ebpf;
	bool packets = a->source != &sonde_source_ebpf;
	if (!packets) {
		const char *o = a->po.nifaces     ? "-i"
				: a->po.filter    ? "--filter"
				: a->po.netns     ? "--netns"
				: a->all_netns    ? "--all-netns"
				: a->po.ring_size ? "-B"
				: a->po.snaplen   ? "-s"
						  : NULL;
		if (o) {
			sonde_errorf("capture: %s is for packet sources (--source af_packet, "
				     "libpcap or tc); the eBPF source filters with --pid, --comm, "
				     "--port "
				     "and --cgroup",
				     o);
			return SONDE_EXIT_USAGE;
		}
		a->co.pipe.conn.source = "ebpf";
		return -1;
	}
	if ((a->ebpf_only_given || (a->po.cgroup && !uses_kind(a, &sonde_source_cgroup_skb))) &&
	    !a->with_ebpf) {
		sonde_errorf(
			"capture: --pid, --comm, --port, --cgroup, --target, --ebpf-hook and "
			"the TLS options are for the eBPF source; packet sources take --filter "
			"(e.g. --filter 'tcp port 80')");
		return SONDE_EXIT_USAGE;
	}
	struct sonde_buf b = { 0 };
	for (size_t i = 0; i < (a->po.nifaces ? a->po.nifaces : 1); i++) {
		if (i)
			sonde_buf_append(&b, ",", 1);
		const char *ifn = a->po.nifaces ? a->po.ifaces[i] : "any";
		sonde_buf_append(&b, ifn, strlen(ifn));
	}
	snprintf(a->source_name, sizeof(a->source_name), "%.*s%s%s", (int)b.len, b.p,
		 a->po.netns ? "@" : "", a->po.netns ? a->po.netns : "");
	sonde_buf_free(&b);
	int status = check_cgroup_args(a);
	if (status >= 0)
		return status;
	/* Several kinds: the eBPF source's records say "ebpf", the packet
	 * sources' their interfaces (sonde_run_name_source). */
	a->co.pipe.conn.source = a->with_ebpf ? "ebpf" : a->source_name;
	if (a->all_netns) {
		if (a->po.netns) {
			sonde_errorf("capture: --netns names one namespace, --all-netns every "
				     "one: give one of them");
			return SONDE_EXIT_USAGE;
		}
		a->ao = (struct sonde_all_netns_opts){ .kind = a->source, .packet = a->po };
		a->source = &sonde_source_all_netns;
		for (size_t i = 0; i < a->nmore; i++) {
			a->more_ao[i] = (struct sonde_all_netns_opts){ .kind = a->more[i],
								       .packet = a->po };
			a->more[i] = &sonde_source_all_netns;
		}
	}
	return -1;
}

#define GIVEN_MAX 256

/* One option of the file, unless the command line gives it. Returns -1 to
 * go on, else the exit status. */
static int config_option(struct capture_args *a, const struct option *longopts,
			 const struct sonde_config_opt *co, const int *given, size_t ngiven,
			 const char *path)
{
	const struct option *o = longopts;
	while (o->name && strcmp(o->name, co->name))
		o++;
	if (!o->name) {
		sonde_errorf("capture: %s:%u: no option --%s", path, co->line, co->name);
		return SONDE_EXIT_USAGE;
	}
	for (size_t i = 0; i < ngiven; i++)
		if (given[i] == o->val)
			return -1;
	/* sonde_common_option: <0 refused, >0 taken, 0 capture's own */
	int r = sonde_common_option(&a->co, o->val, co->value, "capture");
	if (r > 0 || (r == 0 && capture_option(a, o->val, co->value) == 0))
		return -1;
	fprintf(stderr, "sonde: (said by %s, line %u)\n", path, co->line);
	return SONDE_EXIT_USAGE;
}

/* --config FILE: its options first, each dropped when the command line
 * gives the same option (a list there replaces the file's). Returns -1 to
 * go on, else the exit status. */
static int apply_config(struct capture_args *a, int argc, char **argv,
			const struct option *longopts, const char *shortopts)
{
	int given[GIVEN_MAX], c;
	size_t ngiven = 0;
	const char *path = NULL;
	opterr = 0; /* the real pass says what is wrong */
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == OPT_CONFIG)
			path = optarg;
		if (ngiven < GIVEN_MAX)
			given[ngiven++] = c;
	}
	opterr = 1;
	optind = 1;
	if (!path)
		return -1;
	char why[512];
	if (sonde_config_load(path, &a->config, why, sizeof(why)) < 0) {
		sonde_errorf("capture: --config: %s", why);
		return SONDE_EXIT_USAGE;
	}
	int status = -1;
	for (size_t i = 0; i < a->config.n && status < 0; i++)
		status = config_option(a, longopts, &a->config.opt[i], given, ngiven, path);
	return status;
}

int capture_args_parse(int argc, char **argv, struct capture_args *a)
{
	sonde_common_defaults(&a->co);
	a->po.queue = -1;
	a->eo = (struct sonde_ebpf_opts){ .hook = SONDE_HOOK_AUTO,
					  .ringbuf_size = 16u << 20,
					  .tls = true,
					  .tls_libs = a->tls_libs };
	struct option *longopts = sonde_options_join(sonde_common_longopts, capture_only);
	const char *shortopts = SONDE_COMMON_SHORTOPTS "vhi:B:s:";
	int c, status = apply_config(a, argc, argv, longopts, shortopts);
	optind = 1;
	while (status < 0 && (c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int r = sonde_common_option(&a->co, c, optarg, "capture");
		if (r < 0)
			status = SONDE_EXIT_USAGE;
		else if (r == 0 && (r = capture_option(a, c, optarg)) != 0)
			status = r;
		else if (r == 0 && c == 'h')
			status = SONDE_EXIT_OK;
	}
	free(longopts);
	if (status < 0 && optind != argc) {
		sonde_errorf("capture: unexpected argument '%s' (try 'sonde capture --help')",
			     argv[optind]);
		status = SONDE_EXIT_USAGE;
	}
	if (status < 0)
		status = check_source_args(a);
	a->eo.quiet = a->co.quiet;
	return status;
}

void capture_args_free(struct capture_args *a)
{
	sonde_common_free(&a->co);
	free_copies(a->copies, a->ncopies);
	sonde_targets_free(&a->targets);
	sonde_config_free(&a->config);
}
