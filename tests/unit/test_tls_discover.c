/* SPDX-License-Identifier: MIT */
/*
 * TLS discovery against this machine's real files and real processes:
 * OpenSSL's libssl and libcrypto, GnuTLS, node (OpenSSL linked in), Debian's
 * android-libboringssl, NSS; children that map libssl (python, `openssl
 * s_server`, sleep with libssl preloaded — from a deleted file, and from
 * another mount namespace); a stripped program with TLS text in it. What
 * each file defines is checked against `nm -D`.
 */
#include "testutil.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "source/tls/tls_discover.h"
#include "source/tls/tls_libs.h"

extern char **environ;

#define LIBDIR "/usr/lib/x86_64-linux-gnu"
#define LIBSSL LIBDIR "/libssl.so.3"
#define LIBCRYPTO LIBDIR "/libcrypto.so.3"
#define LIBGNUTLS LIBDIR "/libgnutls.so.30"
#define BORINGSSL LIBDIR "/android/libssl.so.0"
#define NODE "/usr/bin/node"

/* ========================================================= fake source === */

/* The eBPF source's side, recorded: every attach and detach. */
struct fake {
	bool refuse; /* attach fails, with a reason */
	size_t nattach, ndetach;
	struct call {
		const struct sonde_tls_target *t;
		uint32_t pid;
		char path[4096]; /* t->path at the time */
		bool openable; /* t->path could be opened then */
	} calls[64];
	void *detached[64];
};

static void *fake_attach(void *ctx, const struct sonde_tls_target *t, uint32_t pid, char *why,
			 size_t whylen)
{
	struct fake *f = ctx;
	if (f->refuse) {
		snprintf(why, whylen, "fake refusal for %s", t->display_path);
		return NULL;
	}
	if (f->nattach == sizeof(f->calls) / sizeof(f->calls[0]))
		return NULL;
	struct call *c = &f->calls[f->nattach++];
	c->t = t;
	c->pid = pid;
	snprintf(c->path, sizeof(c->path), "%s", t->path);
	c->openable = access(t->path, R_OK) == 0;
	return c; /* the handle: non-NULL and unique */
}

static void fake_detach(void *ctx, void *handle)
{
	struct fake *f = ctx;
	if (f->ndetach < sizeof(f->detached) / sizeof(f->detached[0]))
		f->detached[f->ndetach] = handle;
	f->ndetach++;
}

static size_t attaches_of(const struct fake *f, const struct sonde_tls_target *t)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nattach; i++)
		n += f->calls[i].t == t && !f->calls[i].pid; /* pid != 0: a process announced */
	return n;
}

static const struct call *call_of(const struct fake *f, const struct sonde_tls_target *t)
{
	for (size_t i = 0; i < f->nattach; i++)
		if (f->calls[i].t == t)
			return &f->calls[i];
	return NULL;
}

static bool was_detached(const struct fake *f, const void *handle)
{
	for (size_t i = 0; i < f->ndetach && i < 64; i++)
		if (f->detached[i] == handle)
			return true;
	return false;
}

static void disc_free_cb(void *d)
{
	sonde_tls_discovery_free(d);
}

/* A discovery reporting to f (NULL: no ops), freed if the test fails. */
static struct sonde_tls_discovery *disc_new(struct fake *f)
{
	struct sonde_tls_ops ops = { fake_attach, fake_detach, f };
	struct sonde_tls_discovery *d = sonde_tls_discovery_new(f ? &ops : NULL);
	assert_non_null(d);
	tu_cleanup_push(disc_free_cb, d);
	return d;
}

static void disc_free(struct sonde_tls_discovery *d)
{
	tu_cleanup_pop(d);
	sonde_tls_discovery_free(d);
}

/* Add a path by hand and return its target, as the attach call saw it. */
static const struct sonde_tls_target *add_and_get(struct sonde_tls_discovery *d, struct fake *f,
						  const char *path)
{
	char err[512] = "";
	size_t before = f->nattach;
	if (sonde_tls_add_path(d, path, err, sizeof(err)) != 0)
		fail_msg("add %s: %s", path, err);
	if (f->nattach != before + 1)
		fail_msg("add %s: %zu attach calls, expected 1", path, f->nattach - before);
	return f->calls[before].t;
}

/* ================================================================ nm === */

/* The functions `nm -D --defined-only path` lists, as "\nname\n..." (the
 * last file's list is kept: node's takes a while). */
static const char *nm_functions(const char *path)
{
	static char last[256];
	static struct tu_bytes out;
	if (!strcmp(last, path))
		return (const char *)out.p;
	char cmd[512], line[1024];
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s' 2>/dev/null", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	out.len = 0;
	tu_bytes_str(&out, "\n");
	while (fgets(line, sizeof(line), p)) {
		char addr[64], type[8], name[512];
		if (sscanf(line, "%63s %7s %511s", addr, type, name) != 3 ||
		    (type[0] != 'T' && type[0] != 'W' && type[0] != 'i'))
			continue;
		name[strcspn(name, "@")] = 0;
		tu_bytes_str(&out, name);
		tu_bytes_str(&out, "\n");
	}
	tu_bytes_put(&out, "", 1);
	pclose(p);
	snprintf(last, sizeof(last), "%s", path);
	return (const char *)out.p;
}

/* Does `nm -D --defined-only path` list sym as a function? */
static bool nm_defines(const char *path, const char *sym)
{
	char needle[128];
	snprintf(needle, sizeof(needle), "\n%s\n", sym);
	return strstr(nm_functions(path), needle) != NULL;
}

/* t's functions are exactly the functions of family `fi`'s table that nm
 * says the file defines, in table order, with the table's kind and dir. */
static void check_funcs_vs_nm(const struct sonde_tls_target *t, const char *path, size_t fi)
{
	const struct sonde_tls_family *fam = &sonde_tls_families[fi];
	size_t k = 0;
	for (size_t i = 0; i < fam->nfuncs; i++) {
		if (!nm_defines(path, fam->funcs[i].symbol))
			continue;
		if (k >= t->nfuncs)
			fail_msg("%s: %s defined (nm) but not probed", path, fam->funcs[i].symbol);
		assert_str(t->funcs[k].symbol, fam->funcs[i].symbol);
		assert_int_equal(t->funcs[k].kind, fam->funcs[i].kind);
		assert_int_equal(t->funcs[k].dir, fam->funcs[i].dir);
		k++;
	}
	assert_int_equal(k, t->nfuncs);
}

static bool has_func(const struct sonde_tls_target *t, const char *sym, int kind, int dir)
{
	for (size_t i = 0; i < t->nfuncs; i++)
		if (!strcmp(t->funcs[i].symbol, sym))
			return t->funcs[i].kind == kind && (kind == SONDE_TLS_PROBE_HANDSHAKE ||
							   t->funcs[i].dir == dir);
	return false;
}

static size_t family_index(const char *name)
{
	for (size_t i = 0; i < sonde_tls_nfamilies; i++)
		if (!strcmp(sonde_tls_families[i].name, name))
			return i;
	fail_msg("no family %s", name);
	return 0;
}

static void need_file(const char *path)
{
	if (access(path, R_OK) != 0) {
		print_message("%s is not installed here: skipped\n", path);
		skip();
	}
}

/* ========================================================== processes === */

static pid_t children[8];

static void child_kill_cb(void *arg)
{
	pid_t *slot = arg;
	if (*slot > 0) {
		kill(*slot, SIGKILL);
		waitpid(*slot, NULL, 0);
	}
	*slot = 0;
}

/* Start argv (PATH searched) with extra environment entries; killed when
 * the test ends, even if it fails. */
static pid_t spawn(char *const argv[], const char *env_extra)
{
	size_t slot = 0;
	while (slot < 8 && children[slot])
		slot++;
	assert_true(slot < 8);
	char *envp[256];
	size_t n = 0;
	if (env_extra)
		envp[n++] = (char *)env_extra;
	for (char **e = environ; *e && n < 255; e++)
		envp[n++] = *e;
	envp[n] = NULL;
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, envp);
	if (rc)
		fail_msg("spawn %s: %s", argv[0], strerror(rc));
	children[slot] = pid;
	tu_cleanup_push(child_kill_cb, &children[slot]);
	return pid;
}

static void child_stop(pid_t pid)
{
	for (size_t i = 0; i < 8; i++)
		if (children[i] == pid) {
			tu_cleanup_pop(&children[i]);
			child_kill_cb(&children[i]);
		}
}

/* The first executable mapping of pid whose path contains what. */
static bool map_range(pid_t pid, const char *what, uint64_t *start, uint64_t *end)
{
	char path[64], line[4352];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) == 3 && !strcmp(perms, "r-xp") &&
		    strstr(line, what)) {
			*start = s;
			*end = e;
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Wait (up to 15 s) until pid maps a file whose path contains what. */
static void wait_mapped(pid_t pid, const char *what)
{
	uint64_t s, e;
	for (int i = 0; i < 300; i++) {
		if (map_range(pid, what, &s, &e))
			return;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			fail_msg("child %d exited (status %d) before mapping %s", (int)pid, st, what);
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	fail_msg("child %d never mapped %s", (int)pid, what);
}

/* ========================================================== temp dirs === */

static char tmpdir[64];

static void tmpdir_cb(void *arg)
{
	(void)arg;
	char cmd[128];
	if (tmpdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	tmpdir[0] = 0;
}

static const char *tmpdir_new(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sonde-tls-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	tu_cleanup_push(tmpdir_cb, tmpdir);
	return tmpdir;
}

static void run(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fail_msg("`%s` failed (%d)", cmd, rc);
}

/* ============================================================= output === */

/* sonde_tls_print's output; every JSON line must parse. */
static char *print_to_string(const struct sonde_tls_discovery *d, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	sonde_tls_print(d, f, json);
	fclose(f);
	return buf;
}

/* The JSON rows of process pid (0: rows without a process), parsed. */
static size_t json_rows(const struct sonde_tls_discovery *d, uint32_t pid, struct tj **rows,
			size_t max)
{
	char *out = print_to_string(d, true);
	size_t n = 0;
	for (char *line = out, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			fail_msg("JSON output does not end with a newline");
		struct tj *v = tj_parse(line, (size_t)(nl - line));
		if (!v)
			fail_msg("not JSON: %.*s", (int)(nl - line), line);
		const struct tj *p = tj_get(v, "pid");
		bool match = pid ? p && p->type == TJ_NUM && tj_u64(p) == pid
				 : p && p->type == TJ_NULL;
		if (match && n < max)
			rows[n++] = v;
		else
			tj_free(v);
	}
	free(out);
	return n;
}

static void rows_free(struct tj **rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tj_free(rows[i]);
}

/* Rows of processes (not of targets alone) whose path is path. */
static unsigned long rows_with_path(const struct sonde_tls_discovery *d, const char *path)
{
	char *out = print_to_string(d, true);
	unsigned long n = 0;
	for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		struct tj *v = tj_parse(line, (size_t)(nl - line));
		assert_non_null(v);
		const char *p = tj_cstr(tj_get(v, "path"));
		n += p && !strcmp(p, path) && tj_get(v, "pid")->type == TJ_NUM;
		tj_free(v);
	}
	free(out);
	return n;
}

/* ============================================================== tests === */

static void test_names(void **state)
{
	(void)state;
	assert_str(sonde_tls_lib_name(SONDE_TLS_LIB_OPENSSL), "openssl");
	assert_str(sonde_tls_lib_name(SONDE_TLS_LIB_BORINGSSL), "boringssl");
	assert_str(sonde_tls_lib_name(SONDE_TLS_LIB_GNUTLS), "gnutls");
	assert_str(sonde_tls_lib_name((enum sonde_tls_lib)99), "?");
	assert_str(sonde_tls_status_name(SONDE_TLS_ST_CAPTURING), "capturing");
	assert_str(sonde_tls_status_name(SONDE_TLS_ST_NO_SYMBOLS), "no-symbols");
	assert_str(sonde_tls_status_name((enum sonde_tls_status)99), "?");
	/* every function of every table is a symbol discovery looks up */
	for (size_t i = 0; i < sonde_tls_nfamilies; i++)
		for (size_t k = 0; k < sonde_tls_families[i].nfuncs; k++)
			assert_true(sonde_tls_sym_find(sonde_tls_families[i].funcs[k].symbol) >= 0);
	assert_int_equal(sonde_tls_sym_find("SSL_readx"), -1);
	assert_int_equal(sonde_tls_sym_find("main"), -1);
}

static void test_openssl_libssl(void **state)
{
	(void)state;
	need_file(LIBSSL);
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	const struct sonde_tls_target *t = add_and_get(d, &f, LIBSSL);
	assert_int_equal(t->lib, SONDE_TLS_LIB_OPENSSL);
	assert_int_equal(f.calls[0].pid, 0);
	assert_true(f.calls[0].openable);
	assert_false(t->is_executable);
	assert_false(t->per_process);
	assert_int_equal(t->status, SONDE_TLS_ST_CAPTURING);
	assert_str(t->path, LIBSSL);
	/* libssl has no version text; libcrypto beside it does */
	if (strncmp(t->version, "OpenSSL 3.", 10))
		fail_msg("version \"%s\"", t->version);
	assert_true(has_func(t, "SSL_read", SONDE_TLS_PROBE_RW, SONDE_TLS_DIR_READ));
	assert_true(has_func(t, "SSL_write", SONDE_TLS_PROBE_RW, SONDE_TLS_DIR_WRITE));
	assert_true(has_func(t, "SSL_read_ex", SONDE_TLS_PROBE_EX, SONDE_TLS_DIR_READ));
	assert_true(has_func(t, "SSL_write_ex", SONDE_TLS_PROBE_EX, SONDE_TLS_DIR_WRITE));
	assert_true(has_func(t, "SSL_do_handshake", SONDE_TLS_PROBE_HANDSHAKE, 0));
	check_funcs_vs_nm(t, LIBSSL, family_index("OpenSSL libssl"));
	/* the same file again (and through a symlink): no second attach */
	char err[256];
	assert_int_equal(sonde_tls_add_path(d, LIBSSL, err, sizeof(err)), 0);
	assert_int_equal(sonde_tls_add_path(d, LIBDIR "/libssl.so", err, sizeof(err)), 0);
	assert_int_equal(f.nattach, 1);
	disc_free(d);
	assert_int_equal(f.ndetach, 1);
	assert_ptr_equal(f.detached[0], &f.calls[0]);
}

static void test_gnutls(void **state)
{
	(void)state;
	need_file(LIBGNUTLS);
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	const struct sonde_tls_target *t = add_and_get(d, &f, LIBGNUTLS);
	assert_int_equal(t->lib, SONDE_TLS_LIB_GNUTLS);
	assert_true(has_func(t, "gnutls_record_recv", SONDE_TLS_PROBE_RW, SONDE_TLS_DIR_READ));
	assert_true(has_func(t, "gnutls_record_send", SONDE_TLS_PROBE_RW, SONDE_TLS_DIR_WRITE));
	assert_true(has_func(t, "gnutls_handshake", SONDE_TLS_PROBE_HANDSHAKE, 0));
	check_funcs_vs_nm(t, LIBGNUTLS, family_index("GnuTLS"));
	/* "GnuTLS 3.7.9", from "Enabled GnuTLS 3.7.9 logging..." */
	unsigned a, b, c;
	if (sscanf(t->version, "GnuTLS %u.%u.%u", &a, &b, &c) != 3 || a != 3)
		fail_msg("version \"%s\"", t->version);
	/* GnuTLS's OpenSSL-compatible wrapper defines SSL_read but calls
	 * gnutls_record_recv: probing it too would see every byte twice */
	char err[256] = "";
	if (access(LIBDIR "/libgnutls-openssl.so.27", R_OK) == 0) {
		assert_true(nm_defines(LIBDIR "/libgnutls-openssl.so.27", "SSL_read"));
		assert_int_equal(sonde_tls_add_path(d, LIBDIR "/libgnutls-openssl.so.27", err,
						    sizeof(err)),
				 -1);
		assert_non_null(strstr(err, "not a TLS library"));
	}
	assert_int_equal(f.nattach, 1);
	disc_free(d);
}

/* Does the file define sym itself (its own OpenSSL), as nm -D shows? */
static bool defines_symbol(const char *path, const char *sym)
{
	char cmd[512], line[512];
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s' 2>/dev/null", path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	bool found = false;
	size_t n = strlen(sym);
	while (!found && fgets(line, sizeof(line), p)) {
		size_t len = strcspn(line, "\n");
		found = len > n && line[len - n - 1] == ' ' && !strncmp(line + len - n, sym, n);
	}
	pclose(p);
	return found;
}

static void test_node(void **state)
{
	(void)state;
	need_file(NODE);
	/* Node.js builds (nodejs.org's) carry OpenSSL; Debian's nodejs uses
	 * the system's libssl, which test_openssl_libssl covers. */
	if (!defines_symbol(NODE, "SSL_read")) {
		print_message("%s uses the system's OpenSSL (no SSL_read of its own): skipped\n",
			      NODE);
		skip();
		return;
	}
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	const struct sonde_tls_target *t = add_and_get(d, &f, NODE);
	assert_int_equal(t->lib, SONDE_TLS_LIB_OPENSSL);
	assert_true(t->is_executable);
	assert_false(t->per_process);
	if (strncmp(t->version, "OpenSSL 3.", 10))
		fail_msg("version \"%s\"", t->version);
	/* node also defines BIO_read/BIO_f_ssl: libssl's functions are probed */
	check_funcs_vs_nm(t, NODE, family_index("OpenSSL libssl"));
	assert_true(has_func(t, "SSL_read_ex", SONDE_TLS_PROBE_EX, SONDE_TLS_DIR_READ));
	assert_false(has_func(t, "BIO_read", SONDE_TLS_PROBE_BIO, SONDE_TLS_DIR_READ));
	disc_free(d);
}

static void test_boringssl(void **state)
{
	(void)state;
	if (access(BORINGSSL, R_OK) != 0) {
		print_message("%s absent (apt-get install android-libboringssl): skipped\n",
			      BORINGSSL);
		skip();
	}
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	const struct sonde_tls_target *t = add_and_get(d, &f, BORINGSSL);
	assert_int_equal(t->lib, SONDE_TLS_LIB_BORINGSSL);
	/* the text is in libcrypto.so.0 beside it */
	assert_str(t->version, "BoringSSL");
	check_funcs_vs_nm(t, BORINGSSL, family_index("OpenSSL libssl"));
	assert_true(has_func(t, "SSL_read", SONDE_TLS_PROBE_RW, SONDE_TLS_DIR_READ));
	assert_true(has_func(t, "SSL_write", SONDE_TLS_PROBE_RW, SONDE_TLS_DIR_WRITE));
	/* BoringSSL's libcrypto: per process, its own version text */
	char err[256];
	assert_int_equal(sonde_tls_add_path(d, LIBDIR "/android/libcrypto.so.0", err, sizeof(err)),
			 0);
	assert_int_equal(f.nattach, 1); /* per process: not attached everywhere */
	struct tj *rows[8];
	size_t n = json_rows(d, 0, rows, 8);
	bool seen = false;
	for (size_t i = 0; i < n; i++) {
		const char *path = tj_cstr(tj_get(rows[i], "path"));
		if (path && strstr(path, "android/libcrypto.so.0")) {
			seen = true;
			assert_str(tj_cstr(tj_get(rows[i], "library")), "boringssl");
			assert_str(tj_cstr(tj_get(rows[i], "version")), "BoringSSL");
			assert_true(tj_get(rows[i], "per_process")->b);
		}
	}
	rows_free(rows, n);
	assert_true(seen);
	disc_free(d);
}

static void test_libcrypto(void **state)
{
	(void)state;
	need_file(LIBCRYPTO);
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	char err[256];
	assert_int_equal(sonde_tls_add_path(d, LIBCRYPTO, err, sizeof(err)), 0);
	assert_int_equal(f.nattach, 0); /* attached only in processes using SSL BIOs */
	struct tj *rows[4];
	assert_int_equal(json_rows(d, 0, rows, 4), 1);
	assert_str(tj_cstr(tj_get(rows[0], "library")), "openssl");
	assert_true(tj_get(rows[0], "per_process")->b);
	const char *v = tj_cstr(tj_get(rows[0], "version"));
	if (!v || strncmp(v, "OpenSSL 3.", 10))
		fail_msg("version \"%s\"", v ? v : "(none)");
	const struct tj *fn = tj_get(rows[0], "functions");
	assert_int_equal(fn->n, 2);
	assert_str(tj_cstr(tj_at(fn, 0)), "BIO_read");
	assert_str(tj_cstr(tj_at(fn, 1)), "BIO_write");
	rows_free(rows, 1);
	/* libssl defines BIO_f_ssl, libcrypto does not: that is the split */
	assert_true(nm_defines(LIBCRYPTO, "BIO_read"));
	assert_false(nm_defines(LIBCRYPTO, "BIO_f_ssl"));
	assert_true(nm_defines(LIBSSL, "BIO_f_ssl"));
	disc_free(d);
}

static void test_not_tls(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	char err[512];
	assert_int_equal(sonde_tls_add_path(d, "/nonexistent/libssl.so.3", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(sonde_tls_add_path(d, "/etc/passwd", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an ELF file"));
	assert_int_equal(sonde_tls_add_path(d, "/usr/bin", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(sonde_tls_add_path(d, "/bin/sh", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a TLS library"));
	/* /usr/bin/openssl carries OpenSSL's version text but uses libssl: it
	 * is not a stripped TLS program */
	if (access("/usr/bin/openssl", R_OK) == 0) {
		assert_int_equal(sonde_tls_add_path(d, "/usr/bin/openssl", err, sizeof(err)), -1);
		assert_non_null(strstr(err, "not a TLS library"));
	}
	/* NSS: named, not probed */
	if (access(LIBDIR "/libnss3.so", R_OK) == 0) {
		assert_int_equal(sonde_tls_add_path(d, LIBDIR "/libnss3.so", err, sizeof(err)), -1);
		assert_non_null(strstr(err, "NSS is not supported"));
		struct tj *rows[4];
		assert_int_equal(json_rows(d, 0, rows, 4), 0); /* not by hand: refused */
	}
	assert_int_equal(f.nattach, 0);
	disc_free(d);
}

static void test_attach_refused(void **state)
{
	(void)state;
	need_file(LIBGNUTLS);
	struct fake f = { .refuse = true };
	struct sonde_tls_discovery *d = disc_new(&f);
	char err[512];
	assert_int_equal(sonde_tls_add_path(d, LIBGNUTLS, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "fake refusal"));
	/* recorded, and never retried */
	assert_int_equal(sonde_tls_add_path(d, LIBGNUTLS, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "fake refusal"));
	struct tj *rows[4];
	assert_int_equal(json_rows(d, 0, rows, 4), 1);
	assert_str(tj_cstr(tj_get(rows[0], "status")), "attach-failed");
	assert_non_null(strstr(tj_cstr(tj_get(rows[0], "why")), "fake refusal"));
	rows_free(rows, 1);
	char *text = print_to_string(d, false);
	assert_non_null(strstr(text, "attach-failed"));
	assert_non_null(strstr(text, "why: fake refusal"));
	free(text);
	disc_free(d);
	assert_int_equal(f.ndetach, 0);
}

static void test_no_ops(void **state)
{
	(void)state;
	need_file(LIBSSL);
	struct sonde_tls_discovery *d = disc_new(NULL);
	char err[256];
	assert_int_equal(sonde_tls_add_path(d, LIBSSL, err, sizeof(err)), 0);
	struct tj *rows[4];
	assert_int_equal(json_rows(d, 0, rows, 4), 1);
	assert_str(tj_cstr(tj_get(rows[0], "status")), "pending");
	rows_free(rows, 1);
	disc_free(d);
}

/* python3 (pyenv's, on PATH) imports ssl: it maps the system libssl. */
static void test_python_child(void **state)
{
	(void)state;
	need_file(LIBSSL);
	char *argv[] = { "python3", "-c", "import ssl, time; time.sleep(30)", NULL };
	pid_t pid = spawn(argv, NULL);
	wait_mapped(pid, "libssl.so");
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	sonde_tls_scan_pid(d, (uint32_t)pid);
	sonde_tls_scan_pid(d, (uint32_t)pid); /* again: nothing new */
	assert_int_equal(f.nattach, 1);
	const struct sonde_tls_target *t = f.calls[0].t;
	assert_int_equal(f.calls[0].pid, 0);
	assert_true(f.calls[0].openable);
	assert_int_equal(t->lib, SONDE_TLS_LIB_OPENSSL);
	assert_non_null(strstr(t->display_path, "libssl.so"));
	assert_int_equal(t->nprocs, 1);
	struct stat st;
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_ino, t->ino);
	/* an address in its mapped libssl text is libssl */
	uint64_t s, e;
	assert_true(map_range(pid, "libssl.so", &s, &e));
	assert_ptr_equal(sonde_tls_target_of(d, (uint32_t)pid, s + (e - s) / 2), t);
	assert_ptr_equal(sonde_tls_target_of(d, (uint32_t)pid, e - 1), t);
	/* python imports no BIO_f_ssl: libcrypto is not probed in it */
	struct tj *rows[4];
	size_t n = json_rows(d, (uint32_t)pid, rows, 4);
	assert_int_equal(n, 1);
	assert_str(tj_cstr(tj_get(rows[0], "library")), "openssl");
	assert_str(tj_cstr(tj_get(rows[0], "status")), "capturing");
	rows_free(rows, n);
	/* forget: the count drops, the attachment (every process) stays */
	assert_true(sonde_tls_forget_pid(d, (uint32_t)pid));
	assert_int_equal(t->nprocs, 0);
	assert_false(sonde_tls_forget_pid(d, (uint32_t)pid));
	assert_int_equal(f.ndetach, 0);
	/* an unknown process is scanned when asked about */
	assert_ptr_equal(sonde_tls_target_of(d, (uint32_t)pid, s), t);
	assert_int_equal(t->nprocs, 1);
	assert_int_equal(f.nattach, 1);
	/* gone: scanning it forgets it */
	child_stop(pid);
	sonde_tls_scan_pid(d, (uint32_t)pid);
	assert_int_equal(t->nprocs, 0);
	assert_null(sonde_tls_target_of(d, (uint32_t)pid, s));
	disc_free(d);
	assert_int_equal(f.ndetach, 1);
}

static void make_cert(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
		 "-subj /CN=sonde -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
		 dir, dir);
	run(cmd);
}

/* `openssl s_server -www` answers through an SSL BIO: libcrypto's BIO
 * functions are probed in that process only. */
static void test_s_server_bio(void **state)
{
	(void)state;
	need_file("/usr/bin/openssl");
	assert_true(nm_defines(LIBSSL, "BIO_f_ssl"));
	const char *dir = tmpdir_new();
	make_cert(dir);
	char cert[128], key[128];
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	char *argv[] = {
		"openssl", "s_server", "-www", "-quiet", "-accept", "127.0.0.1:0",
		"-cert", cert, "-key", key, NULL,
	};
	pid_t pid = spawn(argv, NULL);
	wait_mapped(pid, "libcrypto.so");
	wait_mapped(pid, "libssl.so");
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	sonde_tls_scan_pid(d, (uint32_t)pid);
	assert_int_equal(f.nattach, 2);
	const struct call *ssl = NULL, *bio = NULL;
	for (size_t i = 0; i < 2; i++) {
		if (f.calls[i].t->per_process)
			bio = &f.calls[i];
		else
			ssl = &f.calls[i];
	}
	assert_non_null(ssl);
	assert_non_null(bio);
	assert_int_equal(ssl->pid, 0);
	assert_int_equal(bio->pid, pid);
	assert_true(has_func(bio->t, "BIO_read", SONDE_TLS_PROBE_BIO, SONDE_TLS_DIR_READ));
	assert_true(has_func(bio->t, "BIO_write", SONDE_TLS_PROBE_BIO, SONDE_TLS_DIR_WRITE));
	/* addresses map to the library whose text holds them */
	uint64_t s, e;
	assert_true(map_range(pid, "libcrypto.so", &s, &e));
	assert_ptr_equal(sonde_tls_target_of(d, (uint32_t)pid, s + 16), bio->t);
	assert_true(map_range(pid, "libssl.so", &s, &e));
	assert_ptr_equal(sonde_tls_target_of(d, (uint32_t)pid, s + 16), ssl->t);
	assert_null(sonde_tls_target_of(d, (uint32_t)pid, 16)); /* two targets: no guess */
	struct tj *rows[4];
	size_t n = json_rows(d, (uint32_t)pid, rows, 4);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_str(tj_cstr(tj_get(rows[i], "comm")), "openssl");
		assert_str(tj_cstr(tj_get(rows[i], "status")), "capturing");
	}
	rows_free(rows, n);
	/* rescans attach nothing more */
	sonde_tls_scan_pid(d, (uint32_t)pid);
	assert_int_equal(f.nattach, 2);
	/* forgetting the process detaches what was attached for it alone */
	assert_true(sonde_tls_forget_pid(d, (uint32_t)pid));
	assert_int_equal(f.ndetach, 1);
	assert_ptr_equal(f.detached[0], bio);
	assert_int_equal(bio->t->nprocs, 0);
	assert_int_equal(ssl->t->nprocs, 0);
	child_stop(pid);
	disc_free(d);
	assert_int_equal(f.ndetach, 2);
	assert_true(was_detached(&f, ssl));
}

/* The library a process maps was deleted (an upgrade): it is found through
 * /proc/PID/map_files, which still opens the mapped file. */
static void test_deleted_library(void **state)
{
	(void)state;
	need_file(LIBSSL);
	const char *dir = tmpdir_new();
	char copy[128], cmd[256], env[160];
	snprintf(copy, sizeof(copy), "%s/libssl.so.3", dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", LIBSSL, copy);
	run(cmd);
	snprintf(env, sizeof(env), "LD_PRELOAD=%s", copy);
	char *argv[] = { "sleep", "30", NULL };
	pid_t pid = spawn(argv, env);
	wait_mapped(pid, copy);
	assert_int_equal(unlink(copy), 0);
	wait_mapped(pid, "(deleted)");
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	sonde_tls_scan_pid(d, (uint32_t)pid);
	assert_int_equal(f.nattach, 1);
	const struct sonde_tls_target *t = f.calls[0].t;
	assert_int_equal(t->lib, SONDE_TLS_LIB_OPENSSL);
	check_funcs_vs_nm(t, LIBSSL, family_index("OpenSSL libssl")); /* a copy of it */
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "/proc/%d/map_files/", (int)pid);
	assert_int_equal(strncmp(t->path, prefix, strlen(prefix)), 0);
	assert_true(f.calls[0].openable);
	assert_non_null(strstr(t->display_path, " (deleted)"));
	assert_true(t->version[0]);
	child_stop(pid);
	disc_free(d);
}

/* A process in its own mount namespace whose libssl path holds another file
 * (as in a container): found through /proc/PID/root, a target of its own. */
static void test_mount_namespace(void **state)
{
	(void)state;
	need_file(LIBSSL);
	if (system("unshare -m true 2>/dev/null") != 0) {
		print_message("cannot create a mount namespace here: skipped\n");
		skip();
	}
	const char *dir = tmpdir_new();
	char copy[128], cmd[256], script[512];
	snprintf(copy, sizeof(copy), "%s/libssl.so.3", dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", LIBSSL, copy);
	run(cmd);
	snprintf(script, sizeof(script),
		 "mount --bind %s %s && LD_PRELOAD=%s exec sleep 30", copy, LIBSSL, LIBSSL);
	char *argv[] = { "unshare", "-m", "sh", "-c", script, NULL };
	pid_t pid = spawn(argv, NULL);
	wait_mapped(pid, LIBSSL);
	struct stat cst, hst;
	assert_int_equal(stat(copy, &cst), 0);
	assert_int_equal(stat(LIBSSL, &hst), 0);
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	sonde_tls_scan_pid(d, (uint32_t)pid);
	assert_int_equal(f.nattach, 1);
	const struct sonde_tls_target *t = f.calls[0].t;
	assert_int_equal(t->ino, cst.st_ino); /* the namespace's file, not ours */
	assert_true(t->ino != hst.st_ino);
	char root[160];
	snprintf(root, sizeof(root), "/proc/%d/root%s", (int)pid, LIBSSL);
	assert_str(t->path, root);
	assert_str(t->display_path, LIBSSL);
	assert_true(f.calls[0].openable);
	/* the version comes from libcrypto in the namespace */
	if (strncmp(t->version, "OpenSSL 3.", 10))
		fail_msg("version \"%s\"", t->version);
	child_stop(pid);
	disc_free(d);
}

/* This process, with libssl dlopen'ed: the exact address of SSL_read maps
 * to libssl, and the test binary (which carries sonde's tables) is not
 * mistaken for a program with TLS linked in. */
static void test_self_dlopen(void **state)
{
	(void)state;
	need_file(LIBSSL);
	void *h = dlopen(LIBSSL, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	void *fn = dlsym(h, "SSL_read");
	assert_non_null(fn);
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	uint32_t self = (uint32_t)getpid();
	const struct sonde_tls_target *t = sonde_tls_target_of(d, self, (uint64_t)(uintptr_t)fn);
	assert_non_null(t);
	assert_int_equal(t->lib, SONDE_TLS_LIB_OPENSSL);
	/* The test binary's own libraries may bring in another TLS library
	 * (libcurl's GnuTLS, through librtmp, where nothing drops unused
	 * ones): libssl is attached once, and nothing attached is this
	 * executable. */
	char self_exe[4096];
	ssize_t len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	assert_true(len > 0);
	self_exe[len] = '\0';
	size_t nssl = 0;
	for (size_t i = 0; i < f.nattach; i++) {
		nssl += strstr(f.calls[i].path, "libssl") != NULL;
		assert_string_not_equal(f.calls[i].path, self_exe);
	}
	assert_int_equal(nssl, 1);
	struct tj *rows[8];
	size_t n = json_rows(d, self, rows, 8);
	assert_int_equal(n, f.nattach);
	for (size_t i = 0; i < n; i++)
		assert_false(tj_get(rows[i], "executable")->b);
	rows_free(rows, n);
	disc_free(d);
	dlclose(h);
}

/* Builds a program that holds the given strings, stripped; returns its path.
 * libs: "" (static when libc.a is there, as TLS programs like Envoy are), or
 * libraries to link with, whose SSL_read the program then calls. */
static const char *build_program(const char *dir, const char *name, const char *strings,
				 const char *libs)
{
	static char exe[160];
	char src[160], cmd[1024];
	snprintf(src, sizeof(src), "%s/%s.c", dir, name);
	snprintf(exe, sizeof(exe), "%s/%s", dir, name);
	FILE *f = fopen(src, "w");
	assert_non_null(f);
	fprintf(f,
		"#include <stdio.h>\n#include <unistd.h>\n%s"
		"static const char *const s[] = { %s };\n"
		"int main(int argc, char **argv) {\n"
		"  (void)argv;\n"
		"  if (argc > 99) for (unsigned i = 0; i < sizeof(s) / sizeof(s[0]); i++) puts(s[i]);\n"
		"  %s\n  sleep(30);\n  return 0;\n}\n",
		libs[0] ? "int SSL_read(void *, void *, int);\n" : "", strings,
		libs[0] ? "if (argc > 99) SSL_read(0, 0, 0);" : "");
	fclose(f);
	if (libs[0])
		snprintf(cmd, sizeof(cmd), "cc -O1 -o %s %s %s >/dev/null 2>&1 && strip %s", exe, src,
			 libs, exe);
	else
		snprintf(cmd, sizeof(cmd),
			 "(cc -O1 -static -o %s %s || cc -O1 -o %s %s) >/dev/null 2>&1 && strip %s",
			 exe, src, exe, src, exe);
	run(cmd);
	return exe;
}

static void test_stripped_static(void **state)
{
	(void)state;
	const char *dir = tmpdir_new();
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	char err[512];
	/* OpenSSL's version text and TLS protocol text: TLS linked in, stripped */
	const char *tls = build_program(dir, "stripped_tls",
					"\"OpenSSL 3.0.0 7 sep 2021\", \"CLIENT_HANDSHAKE_\" "
					"\"TRAFFIC_SECRET\"",
					"");
	assert_int_equal(sonde_tls_add_path(d, tls, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "statically linked TLS without symbols (stripped)"));
	char *argv[] = { (char *)tls, NULL };
	pid_t pid = spawn(argv, NULL);
	wait_mapped(pid, "stripped_tls");
	sonde_tls_scan_pid(d, (uint32_t)pid);
	struct tj *rows[4];
	size_t n = json_rows(d, (uint32_t)pid, rows, 4);
	assert_int_equal(n, 1);
	assert_str(tj_cstr(tj_get(rows[0], "status")), "no-symbols");
	assert_str(tj_cstr(tj_get(rows[0], "version")), "OpenSSL 3.0.0 7 sep 2021");
	assert_str(tj_cstr(tj_get(rows[0], "library")), "openssl");
	assert_true(tj_get(rows[0], "executable")->b);
	assert_non_null(strstr(tj_cstr(tj_get(rows[0], "why")), "stripped"));
	rows_free(rows, n);
	char *text = print_to_string(d, false);
	assert_non_null(strstr(text, "no-symbols"));
	assert_non_null(strstr(text, "why: statically linked TLS without symbols (stripped)"));
	free(text);
	child_stop(pid);
	/* the version text alone (what nginx embeds) is not TLS code */
	const char *hdr = build_program(dir, "version_only",
					"\"OpenSSL 3.0.0 7 sep 2021\", \"built with OpenSSL 3.0.0 "
					"7 sep 2021\"",
					"");
	assert_int_equal(sonde_tls_add_path(d, hdr, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a TLS library"));
	/* both texts, but SSL_read comes from libssl: the TLS code is there */
	if (access(LIBDIR "/libssl.so", R_OK) == 0) {
		const char *dyn = build_program(dir, "dynamic_tls",
						"\"OpenSSL 3.0.0 7 sep 2021\", \"CLIENT_HANDSHAKE_\" "
						"\"TRAFFIC_SECRET\"",
						"-lssl");
		assert_int_equal(sonde_tls_add_path(d, dyn, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "not a TLS library"));
	}
	/* BoringSSL's exact text */
	const char *boring = build_program(dir, "stripped_boring",
					   "\"des-ede\", \"Boring\" \"SSL\", \"CLIENT_HANDSHAKE_\" "
					   "\"TRAFFIC_SECRET\"",
					   "");
	assert_int_equal(sonde_tls_add_path(d, boring, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "stripped"));
	assert_int_equal(f.nattach, 0);
	disc_free(d);
}

/* Every process; a child that exits is forgotten by the next pass. */
static void test_scan_all(void **state)
{
	(void)state;
	need_file(LIBSSL);
	char env[64];
	snprintf(env, sizeof(env), "LD_PRELOAD=%s", LIBSSL);
	char *argv[] = { "sleep", "30", NULL };
	pid_t pid = spawn(argv, env);
	wait_mapped(pid, "libssl.so");
	struct fake f = { 0 };
	struct sonde_tls_discovery *d = disc_new(&f);
	sonde_tls_scan_all(d);
	struct tj *rows[4];
	size_t n = json_rows(d, (uint32_t)pid, rows, 4);
	assert_int_equal(n, 1);
	assert_str(tj_cstr(tj_get(rows[0], "comm")), "sleep");
	rows_free(rows, n);
	/* this process carries sonde's tables: never a TLS program itself */
	n = json_rows(d, (uint32_t)getpid(), rows, 4);
	for (size_t i = 0; i < n; i++)
		assert_string_not_equal(tj_cstr(tj_get(rows[i], "status")), "no-symbols");
	rows_free(rows, n);
	/* each target attached once, however many processes map it */
	for (size_t i = 0; i < f.nattach; i++)
		if (!f.calls[i].pid)
			assert_int_equal(attaches_of(&f, f.calls[i].t), 1);
	const struct call *c = NULL;
	for (size_t i = 0; i < f.nattach; i++)
		if (!strcmp(f.calls[i].t->display_path, LIBSSL))
			c = &f.calls[i];
	assert_non_null(c);
	assert_true(c->t->nprocs >= 1);
	assert_int_equal(c->t->nprocs, rows_with_path(d, LIBSSL));
	child_stop(pid);
	sonde_tls_scan_all(d);
	assert_int_equal(json_rows(d, (uint32_t)pid, rows, 4), 0);
	/* other processes may come and go meanwhile: the count and the
	 * listing must agree */
	assert_int_equal(c->t->nprocs, rows_with_path(d, LIBSSL));
	char *text = print_to_string(d, false);
	assert_int_equal(strncmp(text, "PID", 3), 0);
	free(text);
	assert_non_null(call_of(&f, c->t));
	disc_free(d);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_names),
		tu_test(test_openssl_libssl),
		tu_test(test_gnutls),
		tu_test(test_node),
		tu_test(test_boringssl),
		tu_test(test_libcrypto),
		tu_test(test_not_tls),
		tu_test(test_attach_refused),
		tu_test(test_no_ops),
		tu_test(test_python_child),
		tu_test(test_s_server_bio),
		tu_test(test_deleted_library),
		tu_test(test_mount_namespace),
		tu_test(test_self_dlopen),
		tu_test(test_stripped_static),
		tu_test(test_scan_all),
	};
	return cmocka_run_group_tests_name("tls_discover", tests, NULL, NULL);
}
