/* SPDX-License-Identifier: MIT */
/*
 * What a file is (TLS discovery, see tls_priv.h): decided by the symbols it
 * defines and imports and the version text in its read-only data — the
 * file's name only says which files are worth opening. OpenSSL and
 * BoringSSL, GnuTLS, the libraries sonde names but does not probe, programs
 * with TLS linked in (with or without symbols), and Go programs (goinfo.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "source/binfmt/elf.h"
#include "source/binfmt/goinfo.h"
#include "source/tls/tls_libs.h"
#include "source/tls/tls_priv.h"

/* Copy, cutting what does not fit. */
void tls_str_copy(char *dst, size_t n, const char *src)
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
		tls_str_copy(f->soname, sizeof(f->soname), s);
	else if (dyn->d_tag == DT_NEEDED && !strncmp(s, "libcrypto", 9) && !f->needed_crypto[0])
		tls_str_copy(f->needed_crypto, sizeof(f->needed_crypto), s);
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
	while (q<end && * q> ' ' && *q < 0x7f && q - p < 48)
		q++;
	if (q >= end || *q != ' ')
		return 0;
	while (q < end && *q == ' ')
		q++;
	int day = 0;
	while (q < end && is_digit(*q) && day < 3)
		q++, day++;
	if (day < 1 || day > 2 || end - q < 10 || q[0] != ' ' || !is_alpha(q[1]) ||
	    !is_alpha(q[2]) || !is_alpha(q[3]) || q[4] != ' ' || !is_digit(q[5]) ||
	    !is_digit(q[6]) || !is_digit(q[7]) || !is_digit(q[8]) || q[9] != 0)
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
			tls_str_copy(v->text, sizeof(v->text), boring);
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
static void version_from_marks(const struct sonde_elf *e, const char *label, char *out,
			       size_t outlen)
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
	if (!needed[0] || snprintf(sib, sizeof(sib), "%.*s/%s", dirlen, slash ? path : ".",
				   needed) >= (int)sizeof(sib))
		return;
	struct sonde_elf f;
	if (sonde_elf_open(&f, sib) < 0)
		return;
	rodata_each(&f, find_openssl_version, v);
	sonde_elf_close(&f);
}

/* ===================================================== classification === */

const struct sonde_tls_libname *tls_libname_of(const char *path)
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
		if ((f->defines & fam->defines) == fam->defines &&
		    !(f->defines & fam->not_defines) && !(f->imports & fam->not_imports) &&
		    !(is_exe && fam->libraries_only))
			return fam;
	}
	return NULL;
}

/* The soname (or the file's name): the version when the file has no text. */
static void version_fallback(struct target *t, const struct elf_facts *f)
{
	const char *base = strrchr(t->t.display_path, '/');
	tls_str_copy(t->t.version, sizeof(t->t.version),
		     f->soname[0] ? f->soname
		     : base       ? base + 1
				  : t->t.display_path);
}

static void fill_family(struct target *t, const struct sonde_elf *e, const struct elf_facts *f,
			const struct sonde_tls_family *fam, const struct needles *nd)
{
	t->t.lib = fam->lib;
	t->t.per_process = fam->per_process;
	for (size_t i = 0;
	     i < fam->nfuncs && t->t.nfuncs < sizeof(t->t.funcs) / sizeof(t->t.funcs[0]); i++) {
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
		tls_str_copy(t->t.version, sizeof(t->t.version), v.text);
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
	tls_str_copy(t->t.version, sizeof(t->t.version), v.text);
	t->t.status = SONDE_TLS_ST_NO_SYMBOLS;
	snprintf(t->t.why, sizeof(t->t.why), "statically linked TLS without symbols (stripped)");
	return true;
}

static void fill_unsupported(struct target *t, const struct sonde_elf *e,
			     const struct sonde_tls_libname *name)
{
	t->label = name->label;
	version_from_marks(e, name->label, t->t.version, sizeof(t->t.version));
	t->t.status = SONDE_TLS_ST_UNSUPPORTED;
	snprintf(t->t.why, sizeof(t->t.why), "%s is not supported: its plaintext is not captured",
		 name->unsupported);
}

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

bool tls_classify(const struct needles *nd, const struct exam *x, const struct sonde_elf *e,
		  struct target *t, bool *uses_ssl_bio)
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

void tls_needles_init(struct needles *nd)
{
	unsplit(nd->boring, sizeof(nd->boring), sonde_tls_boringssl_version);
	for (size_t i = 0; i < sonde_tls_nstatic_markers; i++)
		unsplit(nd->markers[i], sizeof(nd->markers[i]), sonde_tls_static_markers[i]);
}
