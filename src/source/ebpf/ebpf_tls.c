/* SPDX-License-Identifier: MIT */
/*
 * The TLS side of the eBPF source: uprobes on the TLS libraries that
 * discovery (tls_discover.c) finds, and the TLS connections their events
 * describe.
 *
 * A TLS connection is the plaintext stream of one library context (SSL*,
 * gnutls session, SSL BIO) in one process; the kernel side numbers its bytes
 * and tells which socket it runs on once it knows (see bpf/capture.bpf.c).
 * Until then its events carry no addresses: they are held here, bounded,
 * and fed with the socket's 4-tuple when it is learnt (libraries with memory
 * BIOs learn it a little after their first calls).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "source/source.h"
#include "capture.skel.h"
#include "source/ebpf/ebpf_priv.h"
#include "source/binfmt/goinfo.h"
#include "source/binfmt/procmaps.h"

/* Bounds of what is held for connections whose socket is not known yet. */
#define PENDING_CONN_MAX (1u << 20)
#define PENDING_TOTAL_MAX (32u << 20)
#define PENDING_WAIT_NS (2000000000ull)
/* TLS connections tracked here at once (the kernel map holds 65536). */
#define TLS_CONNS_MAX 65536
/* A rescan waits this long after a process maps code, so ld.so is done. */
#define RESCAN_DELAY_NS (20000000ull)
#define SWEEP_INTERVAL_NS (1000000000ull)
#define FULL_SCAN_INTERVAL_NS (30000000000ull)
#define DIRTY_MAX 4096
/* Salt of the loopback de-duplication key: a TLS connection and its
 * socket share a 4-tuple but are different streams. */
#define TLS_TUPLE_SALT 0x9e3779b97f4a7c15ull

struct tls_pending {
	struct tls_pending *next;
	size_t size;
	struct sonde_event ev; /* followed by ev.cap payload bytes */
};

struct tls_conn {
	struct sonde_list_node lru; /* on e->tls_lru */
	uint64_t id; /* the kernel stream's id: the chunks' conn_id */
	uint64_t ctx;
	uint32_t tgid;
	bool bound; /* its socket (and 4-tuple) is known */
	bool duplicate; /* the other local end of a connection already captured */
	uint8_t origin; /* enum sonde_origin */
	struct sonde_tls_info info;
	uint64_t sock_id;
	uint64_t end[2]; /* stream end per direction (SONDE_EV_TX, SONDE_EV_RX) */
	uint64_t last_ns; /* monotonic, of its last event */
	struct sonde_event hdr; /* the last event's header: addresses, role, process */
	struct tls_pending *pending, **pending_tail;
	size_t pending_bytes;
	uint64_t pending_since_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ attaching --- */

struct tls_attachment {
	uint32_t go_pid; /* a Go process announced to the kernel (go_procs) */
	uint32_t go_bin; /* a Go program file given to the kernel (go_bins) */
	size_t n, cap;
	struct bpf_link *links[]; /* entry and return probes */
};

static struct tls_attachment *attachment_new(size_t cap)
{
	struct tls_attachment *a = sonde_xcalloc(1, sizeof(*a) + cap * sizeof(a->links[0]));
	a->cap = cap;
	return a;
}

static struct bpf_program *entry_prog(struct sonde_capture *skel, const struct sonde_tls_func *f)
{
	bool rd = f->dir == SONDE_TLS_DIR_READ;
	switch (f->kind) {
	case SONDE_TLS_PROBE_RW: return rd ? skel->progs.tls_rw_read : skel->progs.tls_rw_write;
	case SONDE_TLS_PROBE_EX: return rd ? skel->progs.tls_ex_read : skel->progs.tls_ex_write;
	case SONDE_TLS_PROBE_EX2: return rd ? NULL : skel->progs.tls_ex2_write;
	case SONDE_TLS_PROBE_BIO: return rd ? skel->progs.tls_bio_read : skel->progs.tls_bio_write;
	case SONDE_TLS_PROBE_HANDSHAKE: return skel->progs.tls_handshake;
	}
	return NULL;
}

/* Each removal waits for the kernel (~80 ms per uprobe here, serialised
 * inside the kernel, so threads would not help): stopping a capture with many
 * libraries takes seconds. uprobe_multi links (Linux 6.6) would batch them. */
static void tls_detach(void *ctx, void *handle)
{
	struct tls_attachment *a = handle;
	if (!a)
		return;
	struct sonde_ebpf *e = ctx;
	if (a->go_pid)
		bpf_map_delete_elem(bpf_map__fd(e->skel->maps.go_procs), &a->go_pid);
	for (size_t i = 0; i < a->n; i++)
		bpf_link__destroy(a->links[i]);
	if (a->go_bin)
		bpf_map_delete_elem(bpf_map__fd(e->skel->maps.go_bins), &a->go_bin);
	free(a);
}

/* What the probes need of Go program g, its addresses moved by bias. */
static struct sonde_go_proc go_proc_info(const struct sonde_go_binary *g, uint64_t bias)
{
	return (struct sonde_go_proc){
		.tcpconn_type = g->tcpconn_type_vaddr ? g->tcpconn_type_vaddr + bias : 0,
		.tcpconn_close = g->tcpconn_close_vaddr ? g->tcpconn_close_vaddr + bias : 0,
		.tlsconn_conn_off = g->tlsconn_conn_off,
		.netconn_fd_off = g->netconn_fd_off,
		.netfd_pfd_off = g->netfd_pfd_off,
		.pfd_sysfd_off = g->pfd_sysfd_off,
	};
}

/* A probe's cookie holds its file offset in 31 bits. */
static bool go_cookies_fit(const struct sonde_go_binary *g)
{
	const struct sonde_go_func *fs[2] = { &g->read, &g->write };
	for (int i = 0; i < 2; i++) {
		if (fs[i]->file_off > 0x7fffffff || fs[i]->body_file_off > 0x7fffffff)
			return false;
		for (size_t r = 0; r < fs[i]->nret; r++)
			if (fs[i]->ret_file_offs[r] > 0x7fffffff)
				return false;
	}
	return true;
}

/* The kernel programs read the registers of the architecture they were
 * built for, which is this sonde's own (a process runs code of its host's
 * architecture only). */
static bool go_arch_probed(struct sonde_ebpf *e, const struct sonde_go_binary *g, char *why,
			   size_t whylen)
{
#if defined(__x86_64__)
	const enum sonde_go_arch host = SONDE_GO_AMD64;
#elif defined(__aarch64__)
	const enum sonde_go_arch host = SONDE_GO_ARM64;
#else
#error "sonde's Go probes: x86-64 and arm64 only"
#endif
	if (g->arch == host)
		return true;
	snprintf(why, whylen, "a %s Go program: this sonde probes %s programs only",
		 sonde_go_arch_name(g->arch), sonde_go_arch_name(host));
	e->stats->tls_attach_failures++;
	return false;
}

/* One Go function's probes: its entry (where enter is set) and, for Read,
 * each return instruction with ret. */
struct go_probe_set {
	const struct sonde_go_func *f;
	struct bpf_program *enter, *ret;
	size_t nret;
	const char *name;
};

static bool go_attach_func(struct sonde_ebpf *e, const struct sonde_tls_target *t,
			   const struct go_probe_set *p, bool by_cookie, struct tls_attachment *a,
			   char *why, size_t whylen)
{
	const struct sonde_go_func *f = p->f;
	for (size_t r = p->enter ? 0 : 1; r <= p->nret; r++) {
		struct bpf_program *prog = r ? p->ret : p->enter;
		/* entries after the stack check: see goinfo.h */
		uint64_t off = r                  ? f->ret_file_offs[r - 1]
			       : f->body_file_off ? f->body_file_off
						  : f->file_off;
		LIBBPF_OPTS(bpf_uprobe_opts, uo,
			    .bpf_cookie = by_cookie        ? SONDE_GO_COOKIE(t->id, off)
					  : e->tls_cookies ? t->id
							   : 0);
		struct bpf_link *l = bpf_program__attach_uprobe_opts(prog, -1, t->path, off, &uo);
		if (!l) {
			snprintf(why, whylen, "attaching a uprobe to %s of crypto/tls failed: %s",
				 p->name, strerror(errno));
			e->stats->tls_attach_failures++;
			return false;
		}
		a->links[a->n++] = l;
	}
	return true;
}

/* With cookies the probes find the program in go_bins themselves: every
 * process running it is covered from its first call. */
static bool go_register_bin(struct sonde_ebpf *e, const struct sonde_tls_target *t, char *why,
			    size_t whylen)
{
	const struct sonde_go_binary *g = t->go;
	struct sonde_go_bin gb = {
		.link = go_proc_info(g, 0),
		.text_delta = g->read.vaddr - g->read.file_off,
		.pie = g->pie,
	};
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.go_bins), &t->id, &gb, BPF_ANY) == 0)
		return true;
	snprintf(why, whylen, "cannot record the Go program: %s", strerror(errno));
	e->stats->tls_attach_failures++;
	return false;
}

/* Go: a uprobe at the entry of Read and Write and one at each of their
 * return instructions (never uretprobes: see bpf/capture.bpf.c). */
static void *go_attach(struct sonde_ebpf *e, const struct sonde_tls_target *t, char *why,
		       size_t whylen)
{
	const struct sonde_go_binary *g = t->go;
	if (!go_arch_probed(e, g, why, whylen))
		return NULL;
	struct sonde_capture *s = e->skel;
	/* Where Read keeps its arguments in their slots, its returns take
	 * everything from there: no entry probe (one uprobe per call, not two). */
	bool read_at_return = !g->regabi || g->read.args_spilled;
	struct go_probe_set read = {
		.f = &g->read,
		.enter = g->regabi ? s->progs.go_tls_read_enter : s->progs.go_tls_read_enter_stack,
		.ret = g->regabi ? s->progs.go_tls_return : s->progs.go_tls_return_stack,
		.nret = g->read.nret,
		.name = "Read",
	};
	if (read_at_return) {
		read.enter = NULL;
		read.ret =
			g->regabi ? s->progs.go_tls_read_return : s->progs.go_tls_read_return_stack;
	}
	/* Write is taken at its entry (see go_enter): no return probes */
	struct go_probe_set write = {
		.f = &g->write,
		.enter =
			g->regabi ? s->progs.go_tls_write_enter : s->progs.go_tls_write_enter_stack,
		.name = "Write",
	};
	bool by_cookie = e->tls_cookies && go_cookies_fit(g);
	if (by_cookie && !go_register_bin(e, t, why, whylen))
		return NULL;
	struct tls_attachment *a = attachment_new(2 + g->read.nret);
	a->go_bin = by_cookie ? t->id : 0;
	if (!go_attach_func(e, t, &read, by_cookie, a, why, whylen) ||
	    !go_attach_func(e, t, &write, by_cookie, a, why, whylen)) {
		tls_detach(e, a);
		return NULL;
	}
	e->stats->tls_libraries++;
	if (e->on_tls_probe)
		e->on_tls_probe(e->on_tls_probe_ctx, t->display_path, g->go_version, 0);
	if (!e->tls_quiet)
		fprintf(stderr, "sonde: TLS: probing %s (%s, %s ABI, %zu returns of Read%s)\n",
			t->display_path, g->go_version, g->regabi ? "register" : "stack",
			g->read.nret, read_at_return ? "" : ", and its entry");
	return a;
}

struct bias_search {
	const struct sonde_tls_target *t;
	uint64_t bias;
};

/* sonde_maps_fn: the mapping of the program's file offset 0. */
static bool bias_of_mapping(const struct sonde_maps_entry *m, void *arg)
{
	struct bias_search *b = arg;
	if (m->ino != b->t->ino || m->offset != 0)
		return false;
	b->bias = m->start - b->t->go->base_vaddr;
	return true;
}

/* How far process pid moved a PIE program: where it mapped file offset 0,
 * minus the address the program was linked for there. */
static uint64_t load_bias(uint32_t pid, const struct sonde_tls_target *t)
{
	struct bias_search b = { t, 0 };
	sonde_maps_each(pid, bias_of_mapping, &b);
	return b.bias;
}

/* A process runs Go program t. Without cookies the probes cannot tell
 * which program they are in: tell them, per process, where its types are. */
static void *go_announce(struct sonde_ebpf *e, const struct sonde_tls_target *t, uint32_t pid,
			 char *why, size_t whylen)
{
	const struct sonde_go_binary *g = t->go;
	struct tls_attachment *a = attachment_new(0);
	if (e->tls_cookies && go_cookies_fit(g))
		return a; /* go_bins has it */
	struct sonde_go_proc gp = go_proc_info(g, g->pie ? load_bias(pid, t) : 0);
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.go_procs), &pid, &gp, BPF_ANY) < 0) {
		snprintf(why, whylen, "cannot record Go process %u: %s", pid, strerror(errno));
		free(a);
		return NULL;
	}
	a->go_pid = pid;
	return a;
}

/* Entry and return probes on every function of t; all or nothing. */
static void *tls_attach(void *ctx, const struct sonde_tls_target *t, uint32_t pid, char *why,
			size_t whylen)
{
	struct sonde_ebpf *e = ctx;
	if (t->go)
		return pid ? go_announce(e, t, pid, why, whylen) : go_attach(e, t, why, whylen);
	struct tls_attachment *a = attachment_new(2 * t->nfuncs);
	for (size_t i = 0; i < t->nfuncs; i++) {
		const struct sonde_tls_func *f = &t->funcs[i];
		struct bpf_program *progs[2] = { entry_prog(e->skel, f), e->skel->progs.tls_ret };
		if (!progs[0])
			continue;
		for (int r = 0; r < 2 && a->n < a->cap; r++) {
			LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = f->symbol, .retprobe = r == 1,
				    .bpf_cookie = e->tls_cookies ? t->id : 0);
			struct bpf_link *l = bpf_program__attach_uprobe_opts(
				progs[r], pid ? (pid_t)pid : -1, t->path, 0, &uo);
			if (!l) {
				snprintf(why, whylen, "attaching a uprobe to %s failed: %s",
					 f->symbol, strerror(errno));
				e->stats->tls_attach_failures++;
				tls_detach(e, a);
				return NULL;
			}
			a->links[a->n++] = l;
		}
	}
	e->stats->tls_libraries++;
	if (e->on_tls_probe)
		e->on_tls_probe(e->on_tls_probe_ctx, t->display_path,
				t->version[0] ? t->version : sonde_tls_lib_name(t->lib), pid);
	if (!e->tls_quiet)
		fprintf(stderr, "sonde: TLS: probing %s (%s)%s\n", t->display_path,
			t->version[0] ? t->version : sonde_tls_lib_name(t->lib),
			pid ? " in one process" : "");
	return a;
}

/* Libraries in the standard places are probed even before any process maps
 * them: a program started later, or one that dlopens libssl, is then seen
 * from its first call (uprobes belong to the file, not to processes). */
static void probe_system_libraries(struct sonde_ebpf *e)
{
	static const char *const patterns[] = {
		"/usr/lib/*-linux-gnu/libssl.so.*",
		"/usr/lib/*-linux-gnu/libgnutls.so.*",
		"/usr/lib/*-linux-gnu/android/libssl.so*",
		"/usr/lib64/libssl.so.*",
		"/usr/lib64/libgnutls.so.*",
		"/usr/lib/libssl.so.*",
		"/usr/lib/libgnutls.so.*",
		"/usr/local/lib/libssl.so.*",
		"/usr/local/lib64/libssl.so.*",
	};
	char err[256];
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		glob_t g;
		if (glob(patterns[i], 0, NULL, &g) != 0)
			continue;
		for (size_t j = 0; j < g.gl_pathc; j++)
			if (sonde_tls_add_path(e->tls, g.gl_pathv[j], err, sizeof(err)) < 0 &&
			    e->tls_verbose)
				fprintf(stderr, "sonde: TLS: %s\n", err);
		globfree(&g);
	}
}

void ebpf_tls_open(struct sonde_ebpf *e, const struct sonde_ebpf_opts *o)
{
	static const struct sonde_tls_ops ops_template = { .attach = tls_attach,
							   .detach = tls_detach };
	struct sonde_tls_ops ops = ops_template;
	ops.ctx = e;
	e->tls_verbose = o->verbose;
	e->tls_quiet = o->quiet;
	e->on_tls_probe = o->on_tls_probe;
	e->on_tls_probe_ctx = o->on_tls_probe_ctx;
	/* Cookies name each call's library even after its process is gone. */
	e->tls_cookies =
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_get_attach_cookie, NULL) > 0;
	sonde_u64map_init(&e->tls_conns);
	sonde_u64map_init(&e->tls_by_sock);
	e->tls_dirty = sonde_xcalloc(DIRTY_MAX, sizeof(*e->tls_dirty));
	e->tls = sonde_tls_discovery_new(&ops);
	/* A library given by hand that cannot be probed is reported, not
	 * fatal: the rest of the capture is still worth having. */
	for (const char *const *p = o->tls_libs; p && *p; p++) {
		char why[512];
		if (sonde_tls_add_path(e->tls, *p, why, sizeof(why)) < 0)
			fprintf(stderr, "sonde: --tls-lib: %s\n", why);
	}
	probe_system_libraries(e);
	sonde_tls_scan_all(e->tls);
	e->tls_last_scan_ns = e->tls_last_sweep_ns = mono_ns();
}

struct sonde_tls_discovery *sonde_ebpf_tls(struct sonde_ebpf *e)
{
	return e ? e->tls : NULL;
}

/* --------------------------------------------------------- connections --- */

/* The least recently used connection, NULL when none is tracked. */
static struct tls_conn *lru_first(struct sonde_ebpf *e)
{
	return sonde_list_entry_or_null(e->tls_lru.first, struct tls_conn, lru);
}

static struct tls_conn *lru_next(struct tls_conn *tc)
{
	return sonde_list_entry_or_null(tc->lru.next, struct tls_conn, lru);
}

static void name_library(struct sonde_ebpf *e, struct tls_conn *tc, const struct sonde_event *ev)
{
	const struct sonde_tls_target *t =
		ev->tls_fn >> 63 ? sonde_tls_target_by_id(e->tls, (uint32_t)ev->tls_fn)
				 : sonde_tls_target_of(e->tls, ev->tgid, ev->tls_fn);
	tc->origin = SONDE_ORIGIN_EBPF_TLS;
	if (!t) {
		snprintf(tc->info.library, sizeof(tc->info.library), "unknown");
		return;
	}
	static const uint8_t origins[SONDE_TLS_LIB__COUNT] = {
		[SONDE_TLS_LIB_OPENSSL] = SONDE_ORIGIN_EBPF_TLS_OPENSSL,
		[SONDE_TLS_LIB_BORINGSSL] = SONDE_ORIGIN_EBPF_TLS_BORINGSSL,
		[SONDE_TLS_LIB_GNUTLS] = SONDE_ORIGIN_EBPF_TLS_GNUTLS,
		[SONDE_TLS_LIB_GO] = SONDE_ORIGIN_EBPF_TLS_GO,
	};
	if ((unsigned)t->lib < SONDE_TLS_LIB__COUNT && origins[t->lib])
		tc->origin = origins[t->lib];
	snprintf(tc->info.library, sizeof(tc->info.library), "%s", sonde_tls_lib_name(t->lib));
	snprintf(tc->info.version, sizeof(tc->info.version), "%.*s",
		 (int)sizeof(tc->info.version) - 1, t->version);
	snprintf(tc->info.path, sizeof(tc->info.path), "%.*s", (int)sizeof(tc->info.path) - 1,
		 t->display_path);
}

static struct tls_conn *conn_get(struct sonde_ebpf *e, const struct sonde_event *ev)
{
	uint64_t v;
	struct tls_conn *tc;
	if (sonde_u64map_get(&e->tls_conns, ev->conn_id, &v)) {
		tc = (struct tls_conn *)(uintptr_t)v;
		sonde_list_move_back(&e->tls_lru, &tc->lru);
		return tc;
	}
	tc = sonde_xcalloc(1, sizeof(*tc));
	tc->id = ev->conn_id;
	tc->ctx = ev->sk;
	tc->tgid = ev->tgid;
	tc->pending_tail = &tc->pending;
	name_library(e, tc, ev);
	sonde_u64map_put(&e->tls_conns, tc->id, (uint64_t)(uintptr_t)tc);
	sonde_list_push_back(&e->tls_lru, &tc->lru);
	e->tls_count++;
	return tc;
}

static void feed(struct sonde_ebpf *e, struct tls_conn *tc, const struct sonde_event *ev)
{
	struct sonde_process proc;
	struct sonde_chunk c;
	ebpf_chunk_from_event(e, ev, &proc, &c);
	c.origin = tc->origin;
	c.tls = &tc->info;
	if (!tc->bound)
		e->stats->tls_unbound_bytes += ev->len;
	uint64_t end = ev->pos + ev->len;
	int d = ev->dir == SONDE_EV_TX ? 0 : 1;
	if (end > tc->end[d])
		tc->end[d] = end;
	sonde_chunk_emit(&e->out, &c);
}

/* The socket was seen from its start, so is the stream: say so, as a SYN. */
static void feed_open(struct sonde_ebpf *e, struct tls_conn *tc)
{
	struct sonde_event h = tc->hdr;
	struct sonde_process proc;
	struct sonde_chunk c;
	h.type = SONDE_EV_OPEN;
	ebpf_chunk_from_event(e, &h, &proc, &c);
	c.origin = tc->origin;
	c.tls = &tc->info;
	c.flags = SONDE_CF_SYN;
	c.seq = 0;
	sonde_chunk_emit(&e->out, &c);
}

/* Feed what was held, with the addresses and role learnt since when bound. */
static void flush_pending(struct sonde_ebpf *e, struct tls_conn *tc)
{
	struct tls_pending *p = tc->pending;
	tc->pending = NULL;
	tc->pending_tail = &tc->pending;
	e->tls_pending_bytes -= tc->pending_bytes;
	tc->pending_bytes = 0;
	while (p) {
		struct tls_pending *next = p->next;
		if (tc->bound) {
			p->ev.family = tc->hdr.family;
			memcpy(p->ev.laddr, tc->hdr.laddr, sizeof(p->ev.laddr));
			memcpy(p->ev.raddr, tc->hdr.raddr, sizeof(p->ev.raddr));
			p->ev.lport = tc->hdr.lport;
			p->ev.rport = tc->hdr.rport;
			p->ev.role = tc->hdr.role;
		}
		if (!tc->duplicate)
			feed(e, tc, &p->ev);
		free(p);
		p = next;
	}
}

static void hold(struct sonde_ebpf *e, struct tls_conn *tc, const struct sonde_event *ev)
{
	size_t size = sizeof(*ev) + ev->cap;
	if (tc->pending_bytes + size > PENDING_CONN_MAX ||
	    e->tls_pending_bytes + size > PENDING_TOTAL_MAX) {
		flush_pending(e, tc); /* no room to wait: without addresses */
		feed(e, tc, ev);
		return;
	}
	struct tls_pending *p = sonde_xmalloc(offsetof(struct tls_pending, ev) + size);
	p->next = NULL;
	p->size = size;
	memcpy(&p->ev, ev, size);
	*tc->pending_tail = p;
	tc->pending_tail = &p->next;
	if (!tc->pending_bytes)
		tc->pending_since_ns = mono_ns();
	tc->pending_bytes += size;
	e->tls_pending_bytes += size;
}

static void conn_end(struct sonde_ebpf *e, struct tls_conn *tc, uint64_t ts_ns)
{
	flush_pending(e, tc);
	if (!tc->duplicate && (tc->end[0] || tc->end[1])) {
		struct sonde_event h = tc->hdr;
		h.type = SONDE_EV_CLOSE;
		for (int d = 0; d < 2; d++) {
			struct sonde_process proc;
			struct sonde_chunk c;
			h.dir = d ? SONDE_EV_RX : SONDE_EV_TX;
			ebpf_chunk_from_event(e, &h, &proc, &c);
			c.origin = tc->origin;
			c.tls = &tc->info;
			c.flags = SONDE_CF_FIN;
			c.seq = tc->end[d];
			c.ts_ns = ts_ns;
			sonde_chunk_emit(&e->out, &c);
		}
	}
	ebpf_release(e, tc->id);
	if (tc->sock_id)
		sonde_u64map_del(&e->tls_by_sock, tc->sock_id, NULL);
	sonde_u64map_del(&e->tls_conns, tc->id, NULL);
	sonde_list_remove(&e->tls_lru, &tc->lru);
	e->tls_count--;
	free(tc);
}

static uint64_t real_ns(const struct sonde_ebpf *e)
{
	return mono_ns() + (uint64_t)e->mono_to_real_ns;
}

void ebpf_tls_event(struct sonde_ebpf *e, const struct sonde_event *ev)
{
	if (ev->type != SONDE_EV_DATA)
		return;
	struct tls_conn *tc = conn_get(e, ev);
	tc->last_ns = mono_ns();
	if (ev->family && !tc->bound) {
		tc->bound = true;
		tc->hdr = *ev;
		tc->sock_id = ev->sock_id;
		if (tc->sock_id)
			sonde_u64map_put(&e->tls_by_sock, tc->sock_id, tc->id);
		/* Both ends of a loopback TLS connection are probed: keep one. */
		if (!ebpf_owns_tuple(e, ev, TLS_TUPLE_SALT)) {
			tc->duplicate = true;
			struct sonde_tls_key k = { .tgid = tc->tgid, .ctx = tc->ctx };
			if (e->skel) /* NULL: a decoder without a kernel (fuzz/) */
				bpf_map_update_elem(bpf_map__fd(e->skel->maps.tls_ignored), &k,
						    &tc->id, BPF_ANY);
		}
		if (!tc->duplicate && !(ev->flags & SONDE_EVF_MIDSTREAM))
			feed_open(e, tc);
		flush_pending(e, tc);
	}
	if (tc->duplicate) {
		e->stats->duplicate_peer_bytes += ev->len;
		return;
	}
	if (!tc->bound) {
		tc->hdr = *ev;
		hold(e, tc, ev);
		return;
	}
	tc->hdr.role = ev->role;
	memcpy(tc->hdr.comm, ev->comm, sizeof(tc->hdr.comm));
	feed(e, tc, ev);
	if (e->tls_count > TLS_CONNS_MAX && lru_first(e))
		conn_end(e, lru_first(e), real_ns(e));
}

void ebpf_tls_socket_closed(struct sonde_ebpf *e, uint64_t sock_id, uint64_t ts_ns)
{
	uint64_t id, v;
	if (!sonde_u64map_get(&e->tls_by_sock, sock_id, &id) ||
	    !sonde_u64map_get(&e->tls_conns, id, &v))
		return;
	conn_end(e, (struct tls_conn *)(uintptr_t)v, ts_ns);
}

bool ebpf_tls_ignore(struct sonde_ebpf *e, uint64_t conn_id)
{
	uint64_t v;
	if (!sonde_u64map_get(&e->tls_conns, conn_id, &v))
		return false;
	struct tls_conn *tc = (struct tls_conn *)(uintptr_t)v;
	struct sonde_tls_key k = { .tgid = tc->tgid, .ctx = tc->ctx };
	bpf_map_update_elem(bpf_map__fd(e->skel->maps.tls_ignored), &k, &conn_id, BPF_ANY);
	return true;
}

/* ----------------------------------------------------------- discovery --- */

void ebpf_tls_mapped(struct sonde_ebpf *e, uint32_t pid, bool exec)
{
	/* A new program is mapped already: look at once (a short-lived client
	 * may be gone in milliseconds; once its file is probed, every later
	 * run of it is covered from its first instruction). Libraries come
	 * later from ld.so: those wait for the mappings to settle. */
	if (exec) {
		sonde_tls_scan_pid(e->tls, pid);
		return;
	}
	for (size_t i = 0; i < e->tls_ndirty; i++)
		if (e->tls_dirty[i] == pid)
			return;
	if (e->tls_ndirty == DIRTY_MAX) {
		e->tls_last_scan_ns = 0; /* too many at once: rescan everything */
		return;
	}
	e->tls_dirty[e->tls_ndirty++] = pid;
	if (!e->tls_dirty_since_ns)
		e->tls_dirty_since_ns = mono_ns();
}

static bool process_gone(uint32_t pid)
{
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Kernel state of processes that are gone: their TLS contexts. */
static void forget_dead_processes(struct sonde_ebpf *e)
{
	int fd = bpf_map__fd(e->skel->maps.tls_streams);
	struct sonde_tls_key key, next, dead[256];
	size_t ndead = 0;
	uint32_t last_checked = 0;
	bool last_dead = false, first = true;
	while (ndead < 256 && bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (next.tgid != last_checked) {
			last_checked = next.tgid;
			last_dead = process_gone(next.tgid);
			if (last_dead)
				sonde_tls_forget_pid(e->tls, next.tgid);
		}
		if (last_dead)
			dead[ndead++] = next;
	}
	for (size_t i = 0; i < ndead; i++)
		bpf_map_delete_elem(fd, &dead[i]);
	/* And the connections user space still tracks for them. */
	for (struct tls_conn *tc = lru_first(e), *nx; tc; tc = nx) {
		nx = lru_next(tc);
		if (process_gone(tc->tgid))
			conn_end(e, tc, real_ns(e));
	}
}

void ebpf_tls_tick(struct sonde_ebpf *e)
{
	uint64_t now = mono_ns();
	if (e->tls_ndirty && now - e->tls_dirty_since_ns >= RESCAN_DELAY_NS) {
		for (size_t i = 0; i < e->tls_ndirty; i++)
			sonde_tls_scan_pid(e->tls, e->tls_dirty[i]);
		e->tls_ndirty = 0;
		e->tls_dirty_since_ns = 0;
	}
	if (now - e->tls_last_sweep_ns >= SWEEP_INTERVAL_NS) {
		e->tls_last_sweep_ns = now;
		/* Connections whose socket never showed up: written without addresses. */
		for (struct tls_conn *tc = lru_first(e); tc; tc = lru_next(tc))
			if (tc->pending && now - tc->pending_since_ns >= PENDING_WAIT_NS)
				flush_pending(e, tc);
	}
	if (now - e->tls_last_scan_ns >= FULL_SCAN_INTERVAL_NS) {
		e->tls_last_scan_ns = now;
		sonde_tls_scan_all(e->tls);
		forget_dead_processes(e);
	}
}

void ebpf_tls_close(struct sonde_ebpf *e)
{
	if (!e->tls)
		return;
	uint64_t ts = real_ns(e);
	while (lru_first(e))
		conn_end(e, lru_first(e), ts);
	sonde_tls_discovery_free(e->tls); /* detaches every uprobe */
	e->tls = NULL;
	free(e->tls_dirty);
	sonde_u64map_free(&e->tls_conns);
	sonde_u64map_free(&e->tls_by_sock);
}
