/* SPDX-License-Identifier: MIT */
/*
 * TLS discovery (contract in tls.h): which TLS libraries and programs the
 * running processes map, what each one is — decided by the symbols it
 * defines and the version text in its read-only data, the name only says
 * which files are worth opening — and their attachment through the eBPF
 * source's callbacks.
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
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/u64map.h"
#include "source/binfmt/elf.h"
#include "source/binfmt/goinfo.h"
#include "source/binfmt/procmaps.h"
#include "source/tls/tls_libs.h"

#define MAX_TARGETS 1024u /* library files and programs (one is ~9 KiB) */
#define MAX_FILES 16384u /* cached answers; the negative ones are dropped when full */
#define MAX_PROCS 32768u /* processes that map TLS code */
#define MAX_LINKS 8u /* TLS targets per process */
#define MAX_RANGES 16u /* executable mappings of targets per process */
#define SCAN_LIMIT (64u << 20) /* read-only data searched per file, bytes */
#define PATH_LEN 4096u

struct target {
	struct sonde_tls_target t;
	const char *label; /* LIBRARY column: the lib's name, or the unsupported library's */
	void *handle; /* the attachment in every process (pid 0) */
	bool by_hand; /* sonde_tls_add_path: listed even when no process maps it */
};

/* What a file (device, inode) turned out to be. */
struct file {
	uint64_t dev, ino;
	int32_t target; /* index in targets; -1: no TLS */
	bool uses_ssl_bio; /* a program importing BIO_f_ssl */
};

/* A process's use of a target. */
struct link {
	uint32_t target;
	uint8_t status; /* per_process targets: the attachment in this process */
	void *handle;
};

struct range {
	uint64_t start, end; /* an executable mapping of the target's file */
	uint32_t target;
};

struct proc {
	uint32_t pid;
	char comm[16];
	uint64_t seen; /* the scan_all pass that last saw it */
	struct link links[MAX_LINKS];
	size_t nlinks;
	struct range ranges[MAX_RANGES];
	size_t nranges;
	bool overflow; /* it maps more than MAX_LINKS targets */
};

struct sonde_tls_discovery {
	struct sonde_tls_ops ops;
	bool have_ops;
	struct target *targets[MAX_TARGETS];
	size_t ntargets;
	struct file *files;
	size_t nfiles, files_cap;
	struct sonde_u64map file_index; /* file_key() -> index in files */
	struct sonde_u64map procs; /* pid -> struct proc * */
	size_t nprocs;
	uint64_t pass; /* scan_all passes */
	struct needles {
		char boring[16]; /* sonde_tls_boringssl_version, '|' removed */
		char markers[SONDE_TLS_MAX_MARKERS][48]; /* sonde_tls_static_markers */
	} needles;
	unsigned long lost_targets, lost_procs; /* over the limits */
};

/* Copy, cutting what does not fit. */
static void str_copy(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);
	memcpy(dst, src, len);
	dst[len] = 0;
}

/* ================================================================= ELF === */

/* What discovery needs to know of an ELF file's symbols and dynamic section. */
struct elf_facts {
	uint32_t defines; /* SONDE_TLS_BIT set: functions defined (st_shndx != SHN_UNDEF) */
	uint32_t imports; /* ... and symbols imported */
	char soname[64];
	char needed_crypto[64]; /* a DT_NEEDED libcrypto*: where libssl's version text is */
	bool program; /* has PT_INTERP or no DT_SONAME: an executable, not a library */
};

/* sonde_elf_sym_fn: the table's symbols, defined or imported. */
static bool facts_symbol(const char *name, const GElf_Sym *s, void *arg)
{
	struct elf_facts *f = arg;
	int k = sonde_tls_sym_find(name);
	if (k < 0)
		return false;
	if (s->st_shndx == SHN_UNDEF)
		f->imports |= 1u << k;
	else if (GELF_ST_TYPE(s->st_info) == STT_FUNC && GELF_ST_BIND(s->st_info) != STB_LOCAL)
		f->defines |= 1u << k;
	return false;
}

/* sonde_elf_dyn_fn: the soname, and the libcrypto it needs. */
static bool facts_dynamic(const GElf_Dyn *dyn, const char *s, void *arg)
{
	struct elf_facts *f = arg;
	if (!s)
		return false;
	if (dyn->d_tag == DT_SONAME)
		str_copy(f->soname, sizeof(f->soname), s);
	else if (dyn->d_tag == DT_NEEDED && !strncmp(s, "libcrypto", 9) && !f->needed_crypto[0])
		str_copy(f->needed_crypto, sizeof(f->needed_crypto), s);
	return false;
}

static void elf_facts(const struct sonde_elf *e, struct elf_facts *f)
{
	memset(f, 0, sizeof(*f));
	sonde_elf_symbols(e, 0, facts_symbol, f);
	sonde_elf_dynamic(e, facts_dynamic, f);
	f->program = sonde_elf_has_phdr(e, PT_INTERP) || !f->soname[0];
}

/* The read-only data, at most SCAN_LIMIT bytes (sonde_elf_rodata_each). */
static bool rodata_each(const struct sonde_elf *e, sonde_elf_bytes_fn fn, void *arg)
{
	return sonde_elf_rodata_each(e, SCAN_LIMIT, fn, arg);
}

/* ============================================================ versions === */

struct version {
	const struct needles *needles;
	char text[96];
	bool boring;
};

/* A needle from the tables: the '|' that keeps sonde from finding itself removed. */
static void unsplit(char *dst, size_t n, const char *src)
{
	size_t k = 0;
	for (; *src && k + 1 < n; src++)
		if (*src != '|')
			dst[k++] = *src;
	dst[k] = 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Length of OpenSSL_version()'s text at p, or 0: "OpenSSL 3.0.19 27 Jan 2026",
 * "OpenSSL 1.1.1w  11 Sep 2023", "OpenSSL 3.0.0 7 sep 2021" — a version
 * starting with a digit, spaces, a date, then the string's end. The shape
 * rules out the other texts naming OpenSSL ("enable OpenSSL 3.0 legacy
 * provider").
 */
static size_t openssl_version_len(const char *p, const char *end)
{
	const char *q = p + 8; /* "OpenSSL " */
	if (q >= end || !is_digit(*q))
		return 0;
	while (q < end && *q > ' ' && *q < 0x7f && q - p < 48)
		q++;
	if (q >= end || *q != ' ')
		return 0;
	while (q < end && *q == ' ')
		q++;
	int day = 0;
	while (q < end && is_digit(*q) && day < 3)
		q++, day++;
	if (day < 1 || day > 2 || end - q < 10 || q[0] != ' ' || !is_alpha(q[1]) || !is_alpha(q[2]) ||
	    !is_alpha(q[3]) || q[4] != ' ' || !is_digit(q[5]) || !is_digit(q[6]) || !is_digit(q[7]) ||
	    !is_digit(q[8]) || q[9] != 0)
		return 0;
	return (size_t)(q + 9 - p);
}

/* rodata_fn: BoringSSL's exact version string, else OpenSSL's by shape. */
static bool find_openssl_version(const char *p, size_t n, void *arg)
{
	struct version *v = arg;
	const char *end = p + n;
	const char *boring = v->needles->boring;
	size_t blen = strlen(boring) + 1; /* a whole string: with its NUL */
	for (const char *q = p; (q = memmem(q, (size_t)(end - q), boring, blen)); q++) {
		if (q == p || q[-1] == 0) {
			str_copy(v->text, sizeof(v->text), boring);
			v->boring = true;
			return true;
		}
	}
	for (const char *q = p; (q = memmem(q, (size_t)(end - q), "OpenSSL ", 8)); q++) {
		size_t len = openssl_version_len(q, end);
		if (len) {
			snprintf(v->text, sizeof(v->text), "%.*s", (int)len, q);
			return true;
		}
	}
	return false;
}

struct mark_search {
	const struct sonde_tls_version_mark *mark;
	char *out;
	size_t outlen;
};

/* rodata_fn: "<needle>3.7.9" gives "<name> 3.7.9". */
static bool find_version_mark(const char *p, size_t n, void *arg)
{
	struct mark_search *m = arg;
	const char *end = p + n, *needle = m->mark->needle;
	size_t nl = strlen(needle);
	for (const char *q = p; (q = memmem(q, (size_t)(end - q), needle, nl)); q++) {
		const char *v = q + nl, *e = v;
		while (e < end && (is_digit(*e) || *e == '.') && e - v < 32)
			e++;
		if (e > v && is_digit(*v)) {
			snprintf(m->out, m->outlen, "%s %.*s", m->mark->name, (int)(e - v), v);
			return true;
		}
	}
	return false;
}

/* rodata_fn: any text that only TLS protocol code carries. */
static bool find_static_marker(const char *p, size_t n, void *arg)
{
	const struct needles *nd = arg;
	for (size_t i = 0; i < sonde_tls_nstatic_markers; i++) {
		const char *m = nd->markers[i];
		if (memmem(p, n, m, strlen(m) + 1))
			return true;
	}
	return false;
}

/* The version from the marks of library `label` (GnuTLS, NSS, Mbed TLS). */
static void version_from_marks(const struct sonde_elf *e, const char *label, char *out, size_t outlen)
{
	for (size_t i = 0; i < sonde_tls_nversion_marks && !out[0]; i++) {
		struct mark_search m = { &sonde_tls_version_marks[i], out, outlen };
		if (!strcmp(m.mark->label, label))
			rodata_each(e, find_version_mark, &m);
	}
}

/*
 * OpenSSL's libssl carries no version text: libcrypto does. Look in the
 * libcrypto it needs, in the same directory (through the same
 * /proc/PID/root), as the loader most likely found it.
 */
static void version_from_sibling(const char *path, const char *needed, struct version *v)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 1;
	char sib[PATH_LEN];
	if (!needed[0] || snprintf(sib, sizeof(sib), "%.*s/%s", dirlen, slash ? path : ".", needed) >=
				  (int)sizeof(sib))
		return;
	struct sonde_elf f;
	if (sonde_elf_open(&f, sib) < 0)
		return;
	rodata_each(&f, find_openssl_version, v);
	sonde_elf_close(&f);
}

/* ===================================================== classification === */

/* A file to examine: how to open it, and what is known of it already. */
struct exam {
	const char *open_path; /* openable from sonde (through /proc/PID/root, map_files) */
	const char *plain_path; /* as the process names it, if it is a path here too, or NULL */
	const char *display_path; /* as the process names it */
	uint64_t dev, ino; /* the cache key */
	int is_exe; /* the process's main executable: 1, 0, -1 (decide from the ELF file) */
	const struct sonde_tls_libname *name; /* matched by name, or NULL */
};

static const struct sonde_tls_libname *libname_of(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sonde_tls_nlibnames; i++) {
		const char *pre = sonde_tls_libnames[i].prefix;
		if (!strncmp(base, pre, strlen(pre)))
			return &sonde_tls_libnames[i];
	}
	return NULL;
}

static const struct sonde_tls_family *family_of(const struct elf_facts *f, bool is_exe)
{
	for (size_t i = 0; i < sonde_tls_nfamilies; i++) {
		const struct sonde_tls_family *fam = &sonde_tls_families[i];
		if ((f->defines & fam->defines) == fam->defines && !(f->defines & fam->not_defines) &&
		    !(f->imports & fam->not_imports) && !(is_exe && fam->libraries_only))
			return fam;
	}
	return NULL;
}

/* The soname (or the file's name): the version when the file has no text. */
static void version_fallback(struct target *t, const struct elf_facts *f)
{
	const char *base = strrchr(t->t.display_path, '/');
	str_copy(t->t.version, sizeof(t->t.version),
		 f->soname[0] ? f->soname : base ? base + 1 : t->t.display_path);
}

static void fill_family(struct target *t, const struct sonde_elf *e, const struct elf_facts *f,
			const struct sonde_tls_family *fam, const struct needles *nd)
{
	t->t.lib = fam->lib;
	t->t.per_process = fam->per_process;
	for (size_t i = 0; i < fam->nfuncs && t->t.nfuncs < sizeof(t->t.funcs) / sizeof(t->t.funcs[0]);
	     i++) {
		int k = sonde_tls_sym_find(fam->funcs[i].symbol);
		if (k >= 0 && (f->defines & (1u << k)))
			t->t.funcs[t->t.nfuncs++] = fam->funcs[i];
	}
	if (fam->lib == SONDE_TLS_LIB_OPENSSL) {
		struct version v = { .needles = nd };
		if (!rodata_each(e, find_openssl_version, &v))
			version_from_sibling(t->t.path, f->needed_crypto, &v);
		if (v.boring || (f->defines & SONDE_TLS_BIT(SSL_CTX_set_grease_enabled)))
			t->t.lib = SONDE_TLS_LIB_BORINGSSL;
		str_copy(t->t.version, sizeof(t->t.version), v.text);
	} else {
		version_from_marks(e, sonde_tls_lib_name(fam->lib), t->t.version,
				   sizeof(t->t.version));
	}
	t->label = sonde_tls_lib_name(t->t.lib);
}

/* A program with OpenSSL or BoringSSL linked in and stripped: nothing to
 * probe, but say so. Only programs that import no TLS library get here. */
static bool fill_stripped(struct target *t, const struct sonde_elf *e, const struct needles *nd)
{
	struct version v = { .needles = nd };
	if (!rodata_each(e, find_openssl_version, &v) ||
	    !rodata_each(e, find_static_marker, (void *)nd))
		return false;
	t->t.lib = v.boring ? SONDE_TLS_LIB_BORINGSSL : SONDE_TLS_LIB_OPENSSL;
	t->label = sonde_tls_lib_name(t->t.lib);
	str_copy(t->t.version, sizeof(t->t.version), v.text);
	t->t.status = SONDE_TLS_ST_NO_SYMBOLS;
	snprintf(t->t.why, sizeof(t->t.why), "statically linked TLS without symbols (stripped)");
	return true;
}

static void fill_unsupported(struct target *t, const struct sonde_elf *e, const struct sonde_tls_libname *name)
{
	t->label = name->label;
	version_from_marks(e, name->label, t->t.version, sizeof(t->t.version));
	t->t.status = SONDE_TLS_ST_UNSUPPORTED;
	snprintf(t->t.why, sizeof(t->t.why), "%s is not supported: its plaintext is not captured",
		 name->unsupported);
}

/*
 * What the open file is: true with t filled in (a target), false if it has
 * no TLS code sonde knows. *uses_ssl_bio: a program importing BIO_f_ssl.
 */
/* A Go program (its build info section): crypto/tls is probed directly. */
static bool is_go_program(const struct sonde_elf *e)
{
	GElf_Shdr sh;
	return sonde_elf_section(e, ".go.buildinfo", &sh) != NULL;
}

/* A Go program using crypto/tls is a target; one without it is not. */
static bool classify_go(const struct exam *x, struct target *t)
{
	struct sonde_go_binary *g = sonde_xcalloc(1, sizeof(*g));
	char err[sizeof(t->t.why)];
	if (sonde_go_inspect(x->open_path, g, err, sizeof(err)) < 0) {
		free(g);
		return false;
	}
	t->t.lib = SONDE_TLS_LIB_GO;
	t->t.is_executable = true;
	t->t.go = g;
	t->t.status = SONDE_TLS_ST_PENDING;
	t->label = sonde_tls_lib_name(SONDE_TLS_LIB_GO);
	snprintf(t->t.version, sizeof(t->t.version), "%s", g->go_version);
	return true;
}

static bool classify(const struct needles *nd, const struct exam *x, const struct sonde_elf *e, struct target *t,
		     bool *uses_ssl_bio)
{
	struct elf_facts f;
	elf_facts(e, &f);
	bool is_exe = x->is_exe < 0 ? f.program : x->is_exe;
	*uses_ssl_bio = false;
	if (is_exe && is_go_program(e))
		return classify_go(x, t);
	*uses_ssl_bio = is_exe && (f.imports & SONDE_TLS_BIT(BIO_f_ssl));
	t->t.is_executable = is_exe;
	t->t.status = SONDE_TLS_ST_PENDING;
	const struct sonde_tls_family *fam = NULL;
	if (x->name && x->name->unsupported)
		fill_unsupported(t, e, x->name);
	else if ((fam = family_of(&f, is_exe)))
		fill_family(t, e, &f, fam, nd);
	else if (!is_exe || (f.imports & SONDE_TLS_DYNAMIC_USER) || !fill_stripped(t, e, nd))
		return false;
	if (!t->t.version[0])
		version_fallback(t, &f);
	return true;
}

/* ============================================================= targets === */

static void attach_result(struct sonde_tls_target *t, bool ok, const char *why)
{
	if (ok) {
		t->status = SONDE_TLS_ST_CAPTURING;
		t->why[0] = 0;
	} else if (t->status != SONDE_TLS_ST_CAPTURING) {
		t->status = SONDE_TLS_ST_ATTACH_FAILED;
		snprintf(t->why, sizeof(t->why), "%s", why[0] ? why : "the uprobes could not be attached");
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
	str_copy(t->t.path, sizeof(t->t.path), path);
	str_copy(t->t.display_path, sizeof(t->t.display_path), x->display_path);
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
	bool tls = classify(&d->needles, x, &f, t, &out->uses_ssl_bio);
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
	const struct sonde_tls_libname *name = libname_of(m->path);
	if (!is_exe && !name)
		return false;
	struct file fe;
	if (!file_get(d, m->dev, m->ino, &fe)) {
		/* A deleted file (upgraded since the process started) is still
		 * there through map_files; a path goes through the process's root,
		 * so containers' files are found in their mount namespace. */
		char open_path[PATH_LEN];
		bool deleted = sonde_maps_deleted(m);
		int n = deleted ? snprintf(open_path, sizeof(open_path), "/proc/%u/map_files/%lx-%lx",
					   s->pid, (unsigned long)m->start, (unsigned long)m->end)
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
		if (!is_digit(*s))
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

const struct sonde_tls_target *sonde_tls_target_by_id(const struct sonde_tls_discovery *d, uint32_t id)
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
static int added(struct sonde_tls_discovery *d, const char *path, const struct file *fe,
		 char *err, size_t errlen)
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
		.name = libname_of(file),
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
	unsplit(d->needles.boring, sizeof(d->needles.boring), sonde_tls_boringssl_version);
	for (size_t i = 0; i < sonde_tls_nstatic_markers; i++)
		unsplit(d->needles.markers[i], sizeof(d->needles.markers[i]),
			sonde_tls_static_markers[i]);
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

/* =============================================================== print === */

/* One line of `sonde tls`: a target as one process (or none) uses it. */
struct row {
	const struct proc *p; /* NULL: no process maps it now */
	const struct target *t;
	enum sonde_tls_status status;
	const char *why;
};

static struct row row_of(const struct proc *p, const struct target *t, const struct link *l)
{
	struct row r = { p, t, t->t.status, t->t.why };
	if (l && t->t.per_process)
		r.status = (enum sonde_tls_status)l->status;
	if (r.status != SONDE_TLS_ST_ATTACH_FAILED && r.status != SONDE_TLS_ST_NO_SYMBOLS &&
	    r.status != SONDE_TLS_ST_UNSUPPORTED)
		r.why = "";
	return r;
}

static void row_text(FILE *out, const struct row *r)
{
	char pid[16];
	snprintf(pid, sizeof(pid), r->p ? "%u" : "-", r->p ? r->p->pid : 0);
	fprintf(out, "%-8s %-16s %-10s %-28s %-14s %s\n", pid, r->p ? r->p->comm : "-", r->t->label,
		r->t->t.version, sonde_tls_status_name(r->status), r->t->t.display_path);
	if (r->why[0])
		fprintf(out, "%-8s   why: %s\n", "", r->why);
}

static void row_json(FILE *out, const struct row *r, struct sonde_buf *b)
{
	const struct sonde_tls_target *t = &r->t->t;
	sonde_buf_reset(b);
	sonde_buf_puts(b, "{\"pid\":");
	if (r->p)
		sonde_buf_u64(b, r->p->pid);
	else
		sonde_buf_puts(b, "null");
	sonde_buf_puts(b, ",\"comm\":");
	if (r->p)
		sonde_json_cstr(b, r->p->comm);
	else
		sonde_buf_puts(b, "null");
	sonde_buf_puts(b, ",\"library\":");
	sonde_json_cstr(b, r->t->label);
	sonde_buf_puts(b, ",\"version\":");
	sonde_json_cstr(b, t->version);
	sonde_buf_puts(b, ",\"status\":");
	sonde_json_cstr(b, sonde_tls_status_name(r->status));
	if (r->why[0]) {
		sonde_buf_puts(b, ",\"why\":");
		sonde_json_cstr(b, r->why);
	}
	sonde_buf_puts(b, ",\"path\":");
	sonde_json_cstr(b, t->display_path);
	sonde_buf_printf(b, ",\"executable\":%s,\"per_process\":%s,\"functions\":[",
			 t->is_executable ? "true" : "false", t->per_process ? "true" : "false");
	for (size_t i = 0; i < t->nfuncs; i++) {
		if (i)
			sonde_buf_putc(b, ',');
		sonde_json_cstr(b, t->funcs[i].symbol);
	}
	sonde_buf_puts(b, "]}\n");
	fwrite(b->p, 1, b->len, out);
}

static int by_pid(const void *a, const void *b)
{
	uint32_t x = (*(const struct proc *const *)a)->pid, y = (*(const struct proc *const *)b)->pid;
	return x < y ? -1 : x > y;
}

static void print_row(FILE *out, bool json, struct sonde_buf *b, const struct row *r)
{
	if (json)
		row_json(out, r, b);
	else
		row_text(out, r);
}

/* The processes, by pid; free() the array. */
static const struct proc **procs_sorted(const struct sonde_tls_discovery *d, size_t *n)
{
	const struct proc **procs = sonde_xcalloc(d->nprocs + 1, sizeof(*procs));
	*n = 0;
	for (size_t i = 0; i < d->procs.cap; i++)
		if (d->procs.keys[i])
			procs[(*n)++] = (const struct proc *)(uintptr_t)d->procs.vals[i];
	qsort(procs, *n, sizeof(*procs), by_pid);
	return procs;
}

/* A target no process uses now worth a line: added by hand, or its uprobes
 * (in every process) outlive the processes seen using it. */
static bool listed_alone(const struct target *t)
{
	bool attached = !t->t.per_process && (t->t.status == SONDE_TLS_ST_CAPTURING ||
					       t->t.status == SONDE_TLS_ST_ATTACH_FAILED);
	return !t->t.nprocs && (t->by_hand || attached);
}

/* What the limits left out, in a line. */
static void print_lost(const struct sonde_tls_discovery *d, FILE *out, const struct proc **procs,
		       size_t n)
{
	unsigned long overflow = 0;
	for (size_t i = 0; i < n; i++)
		overflow += procs[i]->overflow;
	if (d->lost_targets || d->lost_procs)
		fprintf(out, "not tracked (limits): %lu libraries, %lu processes\n", d->lost_targets,
			d->lost_procs);
	if (overflow)
		fprintf(out, "%lu processes map more than %u TLS libraries: the rest are not listed\n",
			overflow, MAX_LINKS);
}

void sonde_tls_print(const struct sonde_tls_discovery *d, FILE *out, bool json)
{
	size_t n, rows = 0;
	const struct proc **procs = procs_sorted(d, &n);
	struct sonde_buf b = { 0 };
	if (!json)
		fprintf(out, "%-8s %-16s %-10s %-28s %-14s %s\n", "PID", "COMM", "LIBRARY", "VERSION",
			"STATUS", "PATH");
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < procs[i]->nlinks; k++, rows++) {
			const struct link *l = &procs[i]->links[k];
			struct row r = row_of(procs[i], d->targets[l->target], l);
			print_row(out, json, &b, &r);
		}
	}
	for (size_t i = 0; i < d->ntargets; i++) {
		if (!listed_alone(d->targets[i]))
			continue;
		struct row r = row_of(NULL, d->targets[i], NULL);
		print_row(out, json, &b, &r);
		rows++;
	}
	if (!json && !rows)
		fprintf(out, "(no TLS library found)\n");
	if (!json)
		print_lost(d, out, procs, n);
	sonde_buf_free(&b);
	free(procs);
}
