/* SPDX-License-Identifier: MIT */
/*
 * TLS discovery (contract in tls_discover.h): which TLS libraries and
 * programs the running processes map, the cache of what each file is (the
 * answer itself: tls_classify.c), and their attachment through the eBPF
 * source's callbacks. `sonde tls` prints it (tls_report.c).
 *
 * Cost: /proc/PID/maps is read per process; a mapped file is opened only if
 * its name is on a short list (tls_libs.c) or it is the process's main
 * executable, and each file (device, inode) is parsed once per run, negative
 * answers included. Every table has a limit (below); what does not fit is
 * counted and `sonde tls` says so.
 */
#include "source/tls/tls_discover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/u64map.h"
#include "source/binfmt/elf.h"
#include "source/binfmt/goinfo.h"
#include "source/binfmt/procmaps.h"
#include "source/tls/tls_libs.h"
#include "source/tls/tls_priv.h"

/* ============================================================= targets === */

static void attach_result(struct sonde_tls_target *t, bool ok, const char *why)
{
	if (ok) {
		t->status = SONDE_TLS_ST_CAPTURING;
		t->why[0] = 0;
	} else if (t->status != SONDE_TLS_ST_CAPTURING) {
		t->status = SONDE_TLS_ST_ATTACH_FAILED;
		snprintf(t->why, sizeof(t->why), "%s",
			 why[0] ? why : "the uprobes could not be attached");
	}
}

/* Attach in every process (pid 0), once: the first time the target is found. */
static void target_attach(struct sonde_tls_discovery *d, struct target *t)
{
	if (!d->have_ops || t->t.per_process || t->t.status != SONDE_TLS_ST_PENDING ||
	    (!t->t.nfuncs && !t->t.go))
		return;
	char why[sizeof(t->t.why)] = "";
	t->handle = d->ops.attach(d->ops.ctx, &t->t, 0, why, sizeof(why));
	attach_result(&t->t, t->handle != NULL, why);
}

/* Keep t (taken) and attach it; its index, or -1 over the limit. */
static int32_t target_add(struct sonde_tls_discovery *d, struct target *t)
{
	if (d->ntargets == MAX_TARGETS) {
		d->lost_targets++;
		free(t->t.go);
		free(t);
		return -1;
	}
	d->targets[d->ntargets] = t;
	t->t.id = (uint32_t)d->ntargets + 1;
	target_attach(d, t);
	return (int32_t)d->ntargets++;
}

/* ========================================================== file cache === */

static uint64_t file_key(uint64_t dev, uint64_t ino)
{
	return sonde_mix64(sonde_mix64(dev) ^ ino) | 1; /* u64map keys are non-zero */
}

static bool file_get(const struct sonde_tls_discovery *d, uint64_t dev, uint64_t ino,
		     struct file *out)
{
	uint64_t i;
	/* Two files with one key (a 64-bit hash) just miss: examined again. */
	if (!sonde_u64map_get(&d->file_index, file_key(dev, ino), &i) || d->files[i].dev != dev ||
	    d->files[i].ino != ino)
		return false;
	*out = d->files[i];
	return true;
}

/* Full: forget the files without TLS (most programs); they are examined
 * again if seen again. Targets are never forgotten (MAX_TARGETS < MAX_FILES). */
static void files_forget_negatives(struct sonde_tls_discovery *d)
{
	size_t k = 0;
	sonde_u64map_free(&d->file_index);
	sonde_u64map_init(&d->file_index);
	for (size_t i = 0; i < d->nfiles; i++) {
		if (d->files[i].target < 0)
			continue;
		d->files[k] = d->files[i];
		sonde_u64map_put(&d->file_index, file_key(d->files[k].dev, d->files[k].ino), k);
		k++;
	}
	d->nfiles = k;
}

static void file_put(struct sonde_tls_discovery *d, const struct file *fe)
{
	if (d->nfiles == MAX_FILES)
		files_forget_negatives(d);
	if (d->nfiles == MAX_FILES)
		return;
	if (d->nfiles == d->files_cap) {
		d->files_cap = d->files_cap ? 2 * d->files_cap : 256;
		d->files = sonde_xrealloc(d->files, d->files_cap * sizeof(*d->files));
	}
	d->files[d->nfiles] = *fe;
	sonde_u64map_put(&d->file_index, file_key(fe->dev, fe->ino), d->nfiles);
	d->nfiles++;
}

/* The target's path: the plain one when it is the same file from here
 * (stable, readable), else the one through /proc. */
static void target_paths(struct target *t, const struct exam *x, const struct stat *st)
{
	struct stat ps;
	const char *path = x->open_path;
	if (x->plain_path && stat(x->plain_path, &ps) == 0 && ps.st_dev == st->st_dev &&
	    ps.st_ino == st->st_ino)
		path = x->plain_path;
	tls_str_copy(t->t.path, sizeof(t->t.path), path);
	tls_str_copy(t->t.display_path, sizeof(t->t.display_path), x->display_path);
	t->t.dev = x->dev;
	t->t.ino = x->ino;
}

/*
 * Examine a file not in the cache, cache the answer and keep (and attach) a
 * new target. False if the file could not be read: nothing is cached, errno
 * says why.
 */
static bool file_examine(struct sonde_tls_discovery *d, const struct exam *x, struct file *out)
{
	struct sonde_elf f;
	if (sonde_elf_open(&f, x->open_path) < 0)
		return false;
	struct target *t = sonde_xcalloc(1, sizeof(*t));
	target_paths(t, x, &f.st);
	*out = (struct file){ .dev = x->dev, .ino = x->ino, .target = -1 };
	bool tls = tls_classify(&d->needles, x, &f, t, &out->uses_ssl_bio);
	sonde_elf_close(&f);
	if (tls) {
		out->target = target_add(d, t);
	} else {
		free(t->t.go);
		free(t);
	}
	file_put(d, out);
	return true;
}

/* =========================================================== processes === */

static struct proc *proc_get(const struct sonde_tls_discovery *d, uint32_t pid)
{
	uint64_t v;
	return pid && sonde_u64map_get(&d->procs, pid, &v) ? (struct proc *)(uintptr_t)v : NULL;
}

static struct proc *proc_new(struct sonde_tls_discovery *d, uint32_t pid)
{
	if (d->nprocs == MAX_PROCS) {
		d->lost_procs++;
		return NULL;
	}
	struct proc *p = sonde_xcalloc(1, sizeof(*p));
	p->pid = pid;
	sonde_u64map_put(&d->procs, pid, (uint64_t)(uintptr_t)p);
	d->nprocs++;
	return p;
}

static void proc_free(struct sonde_tls_discovery *d, struct proc *p)
{
	sonde_u64map_del(&d->procs, p->pid, NULL);
	d->nprocs--;
	free(p);
}

/* A process starts using target ti: counted, and attached in it if the
 * target is per process. */
static struct link link_open(struct sonde_tls_discovery *d, uint32_t pid, uint32_t ti)
{
	struct target *t = d->targets[ti];
	struct link l = { .target = ti, .status = (uint8_t)t->t.status };
	t->t.nprocs++;
	if (t->t.go && d->have_ops && t->t.status == SONDE_TLS_ST_CAPTURING) {
		/* Go: probed per file already; the process's addresses are news */
		char why[sizeof(t->t.why)] = "";
		l.handle = d->ops.attach(d->ops.ctx, &t->t, pid, why, sizeof(why));
		return l;
	}
	if (!t->t.per_process)
		return l;
	l.status = SONDE_TLS_ST_PENDING;
	if (!d->have_ops)
		return l;
	char why[sizeof(t->t.why)] = "";
	l.handle = d->ops.attach(d->ops.ctx, &t->t, pid, why, sizeof(why));
	l.status = l.handle ? SONDE_TLS_ST_CAPTURING : SONDE_TLS_ST_ATTACH_FAILED;
	attach_result(&t->t, l.handle != NULL, why);
	return l;
}

static void link_close(struct sonde_tls_discovery *d, struct link *l)
{
	struct target *t = d->targets[l->target];
	if (t->t.nprocs)
		t->t.nprocs--;
	if (l->handle && d->have_ops && d->ops.detach)
		d->ops.detach(d->ops.ctx, l->handle);
	l->handle = NULL;
}

/* What one read of /proc/PID/maps found. */
struct scan {
	struct sonde_tls_discovery *d;
	uint32_t pid;
	char exe[PATH_LEN + 16]; /* /proc/PID/exe, as maps names it */
	bool uses_ssl_bio; /* the main executable imports BIO_f_ssl */
	uint32_t targets[MAX_LINKS];
	size_t ntargets;
	struct range ranges[MAX_RANGES];
	size_t nranges;
	bool overflow; /* more targets than MAX_LINKS */
};

static void scan_add(struct scan *s, int32_t ti, uint64_t start, uint64_t end)
{
	size_t i = 0;
	while (i < s->ntargets && s->targets[i] != (uint32_t)ti)
		i++;
	if (i == s->ntargets) {
		if (s->ntargets == MAX_LINKS) {
			s->overflow = true;
			return;
		}
		s->targets[s->ntargets++] = (uint32_t)ti;
	}
	if (s->nranges < MAX_RANGES)
		s->ranges[s->nranges++] = (struct range){ start, end, (uint32_t)ti };
}

/* libcrypto's BIO functions only in programs that may use SSL BIOs. */
static void scan_keep_bio_users(const struct sonde_tls_discovery *d, struct scan *s)
{
	if (s->uses_ssl_bio)
		return;
	size_t k = 0;
	for (size_t i = 0; i < s->ntargets; i++)
		if (!d->targets[s->targets[i]]->t.per_process)
			s->targets[k++] = s->targets[i];
	s->ntargets = k;
	k = 0;
	for (size_t i = 0; i < s->nranges; i++)
		if (!d->targets[s->ranges[i].target]->t.per_process)
			s->ranges[k++] = s->ranges[i];
	s->nranges = k;
}

static bool scan_has(const struct scan *s, uint32_t ti)
{
	for (size_t i = 0; i < s->ntargets; i++)
		if (s->targets[i] == ti)
			return true;
	return false;
}

static const struct link *proc_link(const struct proc *p, uint32_t ti)
{
	for (size_t i = 0; i < p->nlinks; i++)
		if (p->links[i].target == ti)
			return &p->links[i];
	return NULL;
}

static void read_comm(uint32_t pid, char *comm, size_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	comm[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t r = read(fd, comm, n - 1);
	close(fd);
	comm[r > 0 ? r : 0] = 0;
	comm[strcspn(comm, "\n")] = 0;
}

/* Make the process's links what the scan found: closed ones detached,
 * new ones counted and attached, the others kept as they are. */
static void proc_apply(struct sonde_tls_discovery *d, const struct scan *s)
{
	struct proc *p = proc_get(d, s->pid);
	if (!p && !s->ntargets)
		return;
	if (!p && !(p = proc_new(d, s->pid)))
		return;
	for (size_t i = 0; i < p->nlinks; i++)
		if (!scan_has(s, p->links[i].target))
			link_close(d, &p->links[i]);
	struct link next[MAX_LINKS];
	for (size_t i = 0; i < s->ntargets; i++) {
		const struct link *old = proc_link(p, s->targets[i]);
		next[i] = old ? *old : link_open(d, s->pid, s->targets[i]);
	}
	memcpy(p->links, next, s->ntargets * sizeof(next[0]));
	p->nlinks = s->ntargets;
	memcpy(p->ranges, s->ranges, s->nranges * sizeof(s->ranges[0]));
	p->nranges = s->nranges;
	p->overflow = s->overflow;
	read_comm(s->pid, p->comm, sizeof(p->comm));
	if (!p->nlinks)
		proc_free(d, p);
}

/* ================================================================ maps === */

/* sonde_maps_fn: an executable mapping of a file ("r-xp", an inode, a
 * path) that may be TLS code. */
static bool scan_mapping(const struct sonde_maps_entry *m, void *arg)
{
	struct scan *s = arg;
	struct sonde_tls_discovery *d = s->d;
	if (strcmp(m->perms, "r-xp") || !m->ino || m->path[0] != '/')
		return false;
	bool is_exe = !strcmp(m->path, s->exe);
	const struct sonde_tls_libname *name = tls_libname_of(m->path);
	if (!is_exe && !name)
		return false;
	struct file fe;
	if (!file_get(d, m->dev, m->ino, &fe)) {
		/* A deleted file (upgraded since the process started) is still
		 * there through map_files; a path goes through the process's root,
		 * so containers' files are found in their mount namespace. */
		char open_path[PATH_LEN];
		bool deleted = sonde_maps_deleted(m);
		int n = deleted ? snprintf(open_path, sizeof(open_path),
					   "/proc/%u/map_files/%lx-%lx", s->pid,
					   (unsigned long)m->start, (unsigned long)m->end)
				: snprintf(open_path, sizeof(open_path), "/proc/%u/root%s", s->pid,
					   m->path);
		if (n < 0 || (size_t)n >= sizeof(open_path))
			return false; /* longer than a target's path */
		struct exam x = {
			.open_path = open_path,
			.plain_path = deleted ? NULL : m->path,
			.display_path = m->path,
			.dev = m->dev,
			.ino = m->ino,
			.is_exe = is_exe,
			.name = name,
		};
		if (!file_examine(d, &x, &fe))
			return false;
	}
	if (is_exe)
		s->uses_ssl_bio = fe.uses_ssl_bio;
	if (fe.target >= 0)
		scan_add(s, fe.target, m->start, m->end);
	return false;
}

static void read_exe(uint32_t pid, char *exe, size_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	ssize_t r = readlink(path, exe, n - 1);
	exe[r > 0 ? r : 0] = 0;
}

void sonde_tls_scan_pid(struct sonde_tls_discovery *d, uint32_t pid)
{
	if (!pid)
		return;
	struct scan *s = sonde_xcalloc(1, sizeof(*s));
	s->d = d;
	s->pid = pid;
	read_exe(pid, s->exe, sizeof(s->exe));
	if (sonde_maps_each(pid, scan_mapping, s) < 0) {
		/* gone: forget it; unreadable (not root): keep what is known */
		if (errno == ENOENT || errno == ESRCH)
			sonde_tls_forget_pid(d, pid);
		free(s);
		return;
	}
	scan_keep_bio_users(d, s);
	proc_apply(d, s);
	free(s);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Forget the processes the last pass of scan_all did not see. */
static void forget_unseen(struct sonde_tls_discovery *d)
{
	uint32_t *gone = sonde_xcalloc(d->nprocs + 1, sizeof(*gone));
	size_t n = 0;
	for (size_t i = 0; i < d->procs.cap; i++) {
		struct proc *p = (struct proc *)(uintptr_t)d->procs.vals[i];
		if (d->procs.keys[i] && p->seen != d->pass)
			gone[n++] = p->pid;
	}
	for (size_t i = 0; i < n; i++)
		sonde_tls_forget_pid(d, gone[i]);
	free(gone);
}

void sonde_tls_scan_all(struct sonde_tls_discovery *d)
{
	DIR *dir = opendir("/proc");
	if (!dir)
		return;
	d->pass++;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (!all_digits(de->d_name))
			continue;
		uint32_t pid = (uint32_t)strtoul(de->d_name, NULL, 10);
		sonde_tls_scan_pid(d, pid);
		struct proc *p = proc_get(d, pid);
		if (p)
			p->seen = d->pass;
	}
	closedir(dir);
	forget_unseen(d);
}

bool sonde_tls_forget_pid(struct sonde_tls_discovery *d, uint32_t pid)
{
	struct proc *p = proc_get(d, pid);
	if (!p)
		return false;
	for (size_t i = 0; i < p->nlinks; i++)
		link_close(d, &p->links[i]);
	proc_free(d, p);
	return true;
}

const struct sonde_tls_target *sonde_tls_target_by_id(const struct sonde_tls_discovery *d,
						      uint32_t id)
{
	return id && id <= d->ntargets ? &d->targets[id - 1]->t : NULL;
}

const struct sonde_tls_target *sonde_tls_target_of(struct sonde_tls_discovery *d, uint32_t pid,
						   uint64_t ip)
{
	struct proc *p = proc_get(d, pid);
	if (!p) {
		sonde_tls_scan_pid(d, pid);
		p = proc_get(d, pid);
	}
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->nranges; i++)
		if (ip >= p->ranges[i].start && ip < p->ranges[i].end)
			return &d->targets[p->ranges[i].target]->t;
	return p->nlinks == 1 ? &d->targets[p->links[0].target]->t : NULL;
}

/* ========================================================== by hand === */

/* add_path's answer for a file examined. */
static int added(struct sonde_tls_discovery *d, const char *path, const struct file *fe, char *err,
		 size_t errlen)
{
	struct target *t = fe->target >= 0 ? d->targets[fe->target] : NULL;
	if (!t) {
		snprintf(err, errlen,
			 "%s: not a TLS library or program sonde knows (it defines neither "
			 "SSL_read/SSL_write nor gnutls_record_recv/gnutls_record_send)",
			 path);
		return -1;
	}
	if (t->t.status == SONDE_TLS_ST_NO_SYMBOLS || t->t.status == SONDE_TLS_ST_UNSUPPORTED ||
	    t->t.status == SONDE_TLS_ST_ATTACH_FAILED) {
		snprintf(err, errlen, "%s: %s", path, t->t.why);
		return -1;
	}
	t->by_hand = true;
	return 0;
}

/* Examine a file given by hand; false with err set if it could not be. */
static bool examine_by_hand(struct sonde_tls_discovery *d, const char *path, const struct stat *st,
			    struct file *fe, char *err, size_t errlen)
{
	/* the file itself, not the symlink or relative name it was given as */
	char real[PATH_LEN];
	const char *file = realpath(path, real) ? real : path;
	struct exam x = {
		.open_path = file,
		.plain_path = file,
		.display_path = file,
		.dev = st->st_dev,
		.ino = st->st_ino,
		.is_exe = -1, /* whatever the ELF file says */
		.name = tls_libname_of(file),
	};
	unsigned long lost = d->lost_targets;
	if (!file_examine(d, &x, fe)) {
		snprintf(err, errlen, "%s: %s", path,
			 errno == ENOEXEC   ? "not an ELF file"
			 : errno == EBADMSG ? "damaged ELF header"
			 : errno == EINVAL  ? "not a regular file"
					    : strerror(errno));
		return false;
	}
	if (d->lost_targets != lost) {
		snprintf(err, errlen, "%s: more TLS libraries than sonde keeps (%u)", path,
			 MAX_TARGETS);
		return false;
	}
	return true;
}

int sonde_tls_add_path(struct sonde_tls_discovery *d, const char *path, char *err, size_t errlen)
{
	struct stat st;
	struct file fe;
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!file_get(d, st.st_dev, st.st_ino, &fe) &&
	    !examine_by_hand(d, path, &st, &fe, err, errlen))
		return -1;
	return added(d, path, &fe, err, errlen);
}

/* ========================================================== lifecycle === */

struct sonde_tls_discovery *sonde_tls_discovery_new(const struct sonde_tls_ops *ops)
{
	/* libelf's one-time setup; idempotent, and libbpf does the same */
	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	struct sonde_tls_discovery *d = sonde_xcalloc(1, sizeof(*d));
	if (ops && ops->attach) {
		d->ops = *ops;
		d->have_ops = true;
	}
	sonde_u64map_init(&d->file_index);
	sonde_u64map_init(&d->procs);
	tls_needles_init(&d->needles);
	return d;
}

void sonde_tls_discovery_free(struct sonde_tls_discovery *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->procs.cap; i++) {
		struct proc *p = (struct proc *)(uintptr_t)d->procs.vals[i];
		if (!d->procs.keys[i])
			continue;
		for (size_t k = 0; k < p->nlinks; k++)
			link_close(d, &p->links[k]);
		free(p);
	}
	for (size_t i = 0; i < d->ntargets; i++) {
		struct target *t = d->targets[i];
		if (t->handle && d->ops.detach)
			d->ops.detach(d->ops.ctx, t->handle);
		free(t->t.go);
		free(t);
	}
	sonde_u64map_free(&d->procs);
	sonde_u64map_free(&d->file_index);
	free(d->files);
	free(d);
}
