/* SPDX-License-Identifier: MIT */
/*
 * Go binary inspection (src/source/goinfo.c) against real Go programs built
 * here with the machine's Go (tests/unit/go/tlsprog.go: an HTTPS server and
 * client over crypto/tls), each checked against Go's own tools:
 *
 *  - built amd64 default, stripped (-s -w), PIE, PIE stripped, static
 *    (CGO_ENABLED=0), linked by gcc (-linkmode=external) plain and stripped,
 *    and cross-built for arm64 default and stripped; each variant is built
 *    once per run, when a test first needs it (a cold Go cache: ~2 min on
 *    two cores, mostly the standard library for PIE, arm64 and CGO_ENABLED=0;
 *    warm: ~10 s);
 *  - the version against `go version`; Read/Write entries against `go tool
 *    nm` (stripped builds: against the same source built unstripped); the
 *    entry's file bytes against `go tool objdump`'s first instruction; the
 *    return instructions against every RET objdump shows, and the bytes at
 *    each offset (c3 / d65f03c0); offsets from DWARF against the version
 *    table; the itab against nm, and the type it points to by the name in
 *    its type descriptor ("*net.TCPConn"); stripped builds again with their
 *    section headers cut off (found by searching the segments instead).
 *
 * And without Go: hand-made ELF files in every pcln format (go1.2, 1.16,
 * 1.18, 1.20) and both build-info formats, with and without section headers,
 * amd64 and arm64, PIEs whose addresses are only in dynamic relocations —
 * one Go release produces only one of each; files that are not ELF or not
 * Go. With Go: a program without crypto/tls; truncated and scrambled copies
 * of a real binary (no crash, no over-read, an answer or a clear error).
 *
 * And Go programs the machine happens to have, built by others with newer
 * Go (the Google Cloud SDK's kubectl etc.: stripped go1.22-1.25; Docker):
 * the go1.20+ pcln format on real files, against `go version FILE` and
 * binutils' objdump.
 *
 * Without `go` the tests that build programs are skipped (apt-get install
 * golang-go).
 */
#include "testutil.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "source/binfmt/goinfo.h"

#define READ_SYM "crypto/tls.(*Conn).Read"
#define WRITE_SYM "crypto/tls.(*Conn).Write"

/* ============================================================ the world === */

enum variant {
	V_DEF,
	V_STRIP,
	V_PIE,
	V_PIE_STRIP,
	V_STATIC,
	V_EXT,
	V_EXT_STRIP,
	V_ARM,
	V_ARM_STRIP,
	V_NOTLS,
	V__N
};

static const struct vspec {
	const char *name;
	const char *goarch;
	const char *env; /* extra environment for go build */
	const char *flags; /* go build flags */
	bool notls; /* the hello program, not tlsprog */
	bool stripped, pie;
	enum variant unstripped; /* the same build with symbols (stripped ones) */
} VSPEC[V__N] = {
	[V_DEF] = { "amd64", "amd64", "", "", false, false, false, V_DEF },
	[V_STRIP] = { "amd64-stripped", "amd64", "", "-ldflags='-s -w'", false, true, false,
		      V_DEF },
	[V_PIE] = { "amd64-pie", "amd64", "", "-buildmode=pie", false, false, true, V_PIE },
	[V_PIE_STRIP] = { "amd64-pie-stripped", "amd64", "", "-buildmode=pie -ldflags='-s -w'",
			  false, true, true, V_PIE },
	[V_STATIC] = { "amd64-static", "amd64", "CGO_ENABLED=0", "", false, false, false,
		       V_STATIC },
	/* gcc links: C code comes first in .text, runtime.text is further on */
	[V_EXT] = { "amd64-external", "amd64", "", "-ldflags=-linkmode=external", false, false,
		    false, V_EXT },
	[V_EXT_STRIP] = { "amd64-external-stripped", "amd64", "",
			  "-ldflags='-linkmode=external -s -w'", false, true, false, V_EXT },
	[V_ARM] = { "arm64", "arm64", "", "", false, false, false, V_ARM },
	[V_ARM_STRIP] = { "arm64-stripped", "arm64", "", "-ldflags='-s -w'", false, true, false,
			  V_ARM },
	[V_NOTLS] = { "amd64-hello", "amd64", "", "", true, false, false, V_NOTLS },
};

static const char HELLO_GO[] = "package main\n\nimport \"fmt\"\n\n"
			       "func main() { fmt.Println(\"hello\") }\n";

/* What `go tool nm` and `go tool objdump` say of one binary. */
struct facts {
	uint64_t read, write; /* entries */
	uint64_t itab; /* go.itab / go:itab .*net.TCPConn,net.Conn */
	uint64_t types; /* runtime.types, the base of type descriptors' name offsets */
	uint64_t read_rets[64], write_rets[64];
	size_t nread_rets, nwrite_rets;
	uint8_t read_first[16], write_first[16]; /* first instruction's bytes */
	size_t nread_first, nwrite_first;
};

struct built {
	bool tried, ok;
	char path[PATH_MAX];
	char log[4096]; /* go build's output when it failed */
	bool have_facts;
	struct facts f;
};

/* Test-run state (the test program's, not the library's). */
static struct {
	char dir[64]; /* temp dir for sources, binaries and hand-made files */
	bool have_go;
	char go_version[32]; /* "go1.19.8" */
	int go_minor;
	char src[PATH_MAX]; /* tlsprog.go */
} W;
static struct built B[V__N];

/* Run a shell command; its output (both streams) into out. Exit status. */
static int run(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = 0;
	char tmp[4096];
	size_t k;
	while ((k = fread(tmp, 1, sizeof(tmp), p)) > 0) {
		if (out && n + 1 < outlen) {
			size_t c = k < outlen - 1 - n ? k : outlen - 1 - n;
			memcpy(out + n, tmp, c);
			n += c;
		}
	}
	if (out && outlen)
		out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = tu_xmalloc((size_t)n);
	if (fread(p, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(p);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* tlsprog.go: from the working directory (the repository root, as `make`
 * and tests/run have it) or next to this test's executable (build/tests). */
static bool find_source(void)
{
	if (realpath("tests/unit/go/tlsprog.go", W.src))
		return true;
	char exe[PATH_MAX], cand[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = 0;
	snprintf(cand, sizeof(cand), "%s/../../tests/unit/go/tlsprog.go", exe);
	return realpath(cand, W.src) != NULL;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(W.dir, sizeof(W.dir), "/tmp/sonde-goinfo-XXXXXX");
	if (!mkdtemp(W.dir))
		return -1;
	char out[512];
	if (run("go version 2>&1", out, sizeof(out)) != 0 ||
	    sscanf(out, "go version %31s", W.go_version) != 1 ||
	    sscanf(W.go_version, "go1.%d", &W.go_minor) != 1)
		return 0; /* no go: the real-binary tests skip */
	if (!find_source()) {
		print_message("tests/unit/go/tlsprog.go not found\n");
		return 0;
	}
	W.have_go = true;
	/* Nothing from the network; this Go, not one it would fetch. */
	setenv("GOPROXY", "off", 1);
	setenv("GOTOOLCHAIN", "local", 1);
	setenv("GO111MODULE", "auto", 1);
	unsetenv("GOFLAGS");
	/* A cache of its own when Go cannot find the user's (no HOME). */
	if (run("go env GOCACHE 2>/dev/null", out, sizeof(out)) != 0 || out[0] == '\n' ||
	    !out[0] || !strncmp(out, "off", 3)) {
		char d[128];
		snprintf(d, sizeof(d), "%s/gocache", W.dir);
		setenv("GOCACHE", d, 1);
		snprintf(d, sizeof(d), "%s/gopath", W.dir);
		setenv("GOPATH", d, 1);
	}
	char hello[128];
	snprintf(hello, sizeof(hello), "%s/hello.go", W.dir);
	write_file(hello, HELLO_GO, sizeof(HELLO_GO) - 1);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (W.dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", W.dir);
		if (system(cmd) != 0)
			print_message("could not remove %s\n", W.dir);
	}
	return 0;
}

static void need_go(const char *what)
{
	if (!W.have_go) {
		print_message("SKIP goinfo %s: no Go toolchain (go not in PATH; apt-get install "
			      "golang-go)\n",
			      what);
		skip();
	}
}

/* ======================================================= Go's own view === */

/* Parse `go tool objdump -s 'crypto/tls.\(\*Conn\).NAME$'`. */
static void objdump(const char *bin, bool arm64, const char *method, uint64_t *rets,
		    size_t *nrets, uint8_t *first, size_t *nfirst)
{
	char cmd[PATH_MAX + 128];
	snprintf(cmd, sizeof(cmd), "go tool objdump -s 'crypto/tls.\\(\\*Conn\\).%s$' '%s' 2>&1",
		 method, bin);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[1024];
	*nrets = 0;
	*nfirst = 0;
	bool text = false;
	while (fgets(line, sizeof(line), p)) {
		if (!strncmp(line, "TEXT ", 5)) {
			assert_false(text); /* exactly one function matched */
			text = true;
			continue;
		}
		/* "  conn.go:1133\t\t0x5a5c60\t\t4c8d642498\t\tLEAQ -0x68(SP), R12" */
		char *field[4];
		int nf = 0;
		for (char *tok = strtok(line, "\t\n"); tok && nf < 4; tok = strtok(NULL, "\t\n"))
			field[nf++] = tok;
		if (nf < 4 || strncmp(field[1], "0x", 2))
			continue;
		uint64_t addr = strtoull(field[1], NULL, 16);
		if (!*nfirst) {
			/* amd64: the bytes in order; arm64: the instruction word */
			for (const char *h = field[2]; h[0] && h[1] && *nfirst < 16; h += 2) {
				unsigned v;
				assert_int_equal(sscanf(h, "%2x", &v), 1);
				first[(*nfirst)++] = (uint8_t)v;
			}
			if (arm64 && *nfirst == 4) {
				uint8_t t = first[0];
				first[0] = first[3];
				first[3] = t;
				t = first[1];
				first[1] = first[2];
				first[2] = t;
			}
		}
		if (!strncmp(field[3], "RET", 3)) {
			assert_true(*nrets < 64);
			rets[(*nrets)++] = addr;
		}
	}
	assert_int_equal(pclose(p), 0);
	assert_true(text);
	assert_true(*nfirst > 0);
}

/* Build variant v (once) and learn what Go's tools say of it. */
static struct built *need(enum variant v)
{
	const struct vspec *s = &VSPEC[v];
	need_go(s->name);
	struct built *b = &B[v];
	if (!b->tried) {
		b->tried = true;
		snprintf(b->path, sizeof(b->path), "%s/%s", W.dir, s->name);
		char cmd[3 * PATH_MAX];
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && GOOS=linux GOARCH=%s %s go build %s -o '%s' '%s' 2>&1", W.dir,
			 s->goarch, s->env, s->flags, b->path, s->notls ? "hello.go" : W.src);
		b->ok = run(cmd, b->log, sizeof(b->log)) == 0;
		if (b->ok && !s->stripped && !s->notls) {
			struct facts *f = &b->f;
			snprintf(cmd, sizeof(cmd), "go tool nm '%s'", b->path);
			FILE *p = popen(cmd, "r");
			assert_non_null(p);
			char line[1024];
			while (fgets(line, sizeof(line), p)) {
				unsigned long long a;
				char type, name[900];
				if (sscanf(line, " %llx %c %899[^\n]", &a, &type, name) != 3)
					continue;
				if (!strcmp(name, READ_SYM))
					f->read = a;
				else if (!strcmp(name, WRITE_SYM))
					f->write = a;
				else if (!strcmp(name, "go.itab.*net.TCPConn,net.Conn") ||
					 !strcmp(name, "go:itab.*net.TCPConn,net.Conn"))
					f->itab = a;
				else if (!strcmp(name, "runtime.types"))
					f->types = a; /* moduledata.types: base of name offsets */
			}
			assert_int_equal(pclose(p), 0);
			bool arm64 = !strcmp(s->goarch, "arm64");
			objdump(b->path, arm64, "Read", f->read_rets, &f->nread_rets, f->read_first,
				&f->nread_first);
			objdump(b->path, arm64, "Write", f->write_rets, &f->nwrite_rets,
				f->write_first, &f->nwrite_first);
			b->have_facts = true;
		}
	}
	if (!b->ok)
		fail_msg("go build of %s failed:\n%s", s->name, b->log);
	return b;
}

/* ============================================== reading the file back === */

/* The file bytes at a virtual address, through the program headers. */
static const uint8_t *at_vaddr(const uint8_t *file, size_t len, uint64_t vaddr, size_t n)
{
	Elf *e = elf_memory((char *)file, len);
	assert_non_null(e);
	size_t phnum;
	assert_int_equal(elf_getphdrnum(e, &phnum), 0);
	const uint8_t *r = NULL;
	for (size_t i = 0; i < phnum && !r; i++) {
		GElf_Phdr ph;
		assert_non_null(gelf_getphdr(e, (int)i, &ph));
		if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
		    vaddr + n <= ph.p_vaddr + ph.p_filesz)
			r = file + ph.p_offset + (vaddr - ph.p_vaddr);
	}
	elf_end(e);
	assert_non_null(r);
	assert_true((size_t)(r - file) + n <= len);
	return r;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

/*
 * The name in a Go type descriptor (runtime._type, 64-bit): tflag at 20,
 * kind at 23, str (offset from the types start) at 40; a name is a flag
 * byte and a length (uvarint since go1.17, 2 bytes big-endian before).
 */
static void type_name(const uint8_t *file, size_t len, uint64_t types, uint64_t type, char *out,
		      size_t outlen, uint8_t *kind)
{
	const uint8_t *t = at_vaddr(file, len, type, 48);
	uint8_t tflag = t[20];
	*kind = t[23] & 31;
	int32_t str = (int32_t)le(t + 40, 4);
	const uint8_t *n = at_vaddr(file, len, types + (uint64_t)(int64_t)str, 3);
	size_t l, hdr;
	if (W.go_minor >= 17) {
		l = n[1] & 0x7f;
		hdr = 2;
		if (n[1] & 0x80) {
			l |= (size_t)(n[2] & 0x7f) << 7;
			hdr = 3;
		}
	} else {
		l = (size_t)n[1] << 8 | n[2];
		hdr = 3;
	}
	n = at_vaddr(file, len, types + (uint64_t)(int64_t)str, hdr + l);
	const char *s = (const char *)n + hdr;
	if (tflag & 2) { /* tflagExtraStar: the name has a '*' the type does not */
		s++;
		l--;
	}
	snprintf(out, outlen, "%.*s", (int)l, s);
}

/* ============================================================= checks === */

static void check_rets(const uint8_t *file, size_t len, enum sonde_go_arch arch,
		       const struct sonde_go_func *f, const uint64_t *want, size_t nwant)
{
	assert_int_equal(f->nret, nwant);
	for (size_t i = 0; i < f->nret; i++) {
		uint64_t off = f->ret_file_offs[i];
		assert_true(off >= f->file_off && off < f->file_off + f->size);
		assert_true(off + 4 <= len);
		if (arch == SONDE_GO_AMD64)
			assert_int_equal(file[off], 0xc3);
		else
			assert_int_equal(le(file + off, 4), 0xd65f03c0);
		/* the same instruction objdump calls RET */
		assert_int_equal(f->vaddr + (off - f->file_off), want[i]);
	}
}

static void check_func(const uint8_t *file, size_t len, enum sonde_go_arch arch,
		       const struct sonde_go_func *f, uint64_t entry, const uint8_t *first,
		       size_t nfirst, const uint64_t *rets, size_t nrets)
{
	assert_int_equal(f->vaddr, entry);
	assert_true(f->size > 0 && f->size < 1 << 20);
	/* the file offset holds the entry's bytes */
	const uint8_t *e = at_vaddr(file, len, entry, nfirst);
	assert_int_equal((size_t)(e - file), f->file_off);
	assert_memory_equal(file + f->file_off, first, nfirst);
	check_rets(file, len, arch, f, rets, nrets);
}

static void check_variant(enum variant v)
{
	const struct vspec *s = &VSPEC[v];
	struct built *b = need(v);
	struct built *ref = need(s->unstripped);
	assert_true(ref->have_facts);
	const struct facts *f = &ref->f;

	struct sonde_go_binary g;
	char err[512];
	int rc = sonde_go_inspect(b->path, &g, err, sizeof(err));
	if (rc < 0)
		fail_msg("%s: %s", s->name, err);
	size_t len;
	uint8_t *file = slurp(b->path, &len);
	assert_non_null(file);
	tu_cleanup_push(free, file);

	assert_string_equal(g.go_version, W.go_version);
	assert_int_equal(g.major, 1);
	assert_int_equal(g.minor, W.go_minor);
	enum sonde_go_arch arch = !strcmp(s->goarch, "arm64") ? SONDE_GO_ARM64 : SONDE_GO_AMD64;
	assert_int_equal(g.arch, arch);
	assert_int_equal(g.regabi, W.go_minor >= (arch == SONDE_GO_AMD64 ? 17 : 18));
	assert_int_equal(g.stripped, s->stripped);
	assert_int_equal(g.pie, s->pie);

	check_func(file, len, arch, &g.read, f->read, f->read_first, f->nread_first, f->read_rets,
		   f->nread_rets);
	check_func(file, len, arch, &g.write, f->write, f->write_first, f->nwrite_first,
		   f->write_rets, f->nwrite_rets);
	/* Go's register ABI (amd64 1.17+, arm64 1.18+) has Read store its
	 * receiver and slice in their argument slots at once (it has a defer):
	 * what lets sonde take Read at its returns only (test_go_tls_live,
	 * tests/kernels/arm64-go-tls) */
	assert_int_equal(g.read.args_spilled, g.regabi);

	/* DWARF (unstripped) agrees with the version table (stripped) */
	assert_int_equal(g.offsets_from_dwarf, !s->stripped);
	assert_int_equal(g.tlsconn_conn_off, 0);
	assert_int_equal(g.netconn_fd_off, 0);
	assert_int_equal(g.netfd_pfd_off, 0);
	assert_int_equal(g.pfd_sysfd_off, 16);

	if (s->stripped) {
		assert_int_equal(g.tcpconn_itab_vaddr, 0);
		assert_int_equal(g.tcpconn_type_vaddr, 0);
	} else {
		assert_int_not_equal(f->itab, 0);
		assert_int_equal(g.tcpconn_itab_vaddr, f->itab);
		assert_int_not_equal(f->types, 0);
		char name[64];
		uint8_t kind;
		type_name(file, len, f->types, g.tcpconn_type_vaddr, name, sizeof(name), &kind);
		assert_string_equal(name, "*net.TCPConn");
		assert_int_equal(kind, 22); /* kindPtr */
	}
	if (s->stripped) {
		/*
		 * The same file without section headers (as sstrip leaves it):
		 * build info and pcln table found by searching the segments.
		 */
		char p[PATH_MAX + 8];
		snprintf(p, sizeof(p), "%s.nosh", b->path);
		Elf64_Ehdr *eh = (Elf64_Ehdr *)file;
		Elf64_Ehdr keep = *eh;
		eh->e_shoff = 0;
		eh->e_shentsize = eh->e_shnum = eh->e_shstrndx = 0;
		write_file(p, file, len);
		*eh = keep;
		struct sonde_go_binary n;
		if (sonde_go_inspect(p, &n, err, sizeof(err)) < 0)
			fail_msg("%s without section headers: %s", s->name, err);
		assert_string_equal(n.go_version, g.go_version);
		assert_int_equal(n.regabi, g.regabi);
		assert_memory_equal(&n.read, &g.read, sizeof(g.read));
		assert_memory_equal(&n.write, &g.write, sizeof(g.write));
		unlink(p);
	}
	print_message("%s: Read %#llx (%zu RETs), Write %#llx (%zu RETs), offsets from %s\n",
		      s->name, (unsigned long long)g.read.vaddr, g.read.nret,
		      (unsigned long long)g.write.vaddr, g.write.nret,
		      g.offsets_from_dwarf ? "DWARF" : "table");
}

static void test_amd64(void **state)
{
	(void)state;
	check_variant(V_DEF);
}

static void test_amd64_stripped(void **state)
{
	(void)state;
	check_variant(V_STRIP);
}

static void test_amd64_pie(void **state)
{
	(void)state;
	check_variant(V_PIE);
}

static void test_amd64_pie_stripped(void **state)
{
	(void)state;
	check_variant(V_PIE_STRIP);
}

static void test_amd64_static(void **state)
{
	(void)state;
	check_variant(V_STATIC);
}

static void test_amd64_external(void **state)
{
	(void)state;
	check_variant(V_EXT);
}

static void test_amd64_external_stripped(void **state)
{
	(void)state;
	check_variant(V_EXT_STRIP);
}

static void test_arm64(void **state)
{
	(void)state;
	check_variant(V_ARM);
}

static void test_arm64_stripped(void **state)
{
	(void)state;
	check_variant(V_ARM_STRIP);
}

/* ============================================================= errors === */

static void expect_error(const char *path, const char *want)
{
	struct sonde_go_binary g;
	char err[512] = "unset";
	assert_int_equal(sonde_go_inspect(path, &g, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("%s: error \"%s\" does not say \"%s\"", path, err, want);
	assert_non_null(strstr(err, path)); /* names the file */
	assert_int_equal(g.read.vaddr, 0); /* nothing half-filled */
}

static void test_not_go(void **state)
{
	(void)state;
	char p[128];
	snprintf(p, sizeof(p), "%s/nonexistent", W.dir);
	expect_error(p, strerror(ENOENT));
	expect_error(W.dir, "not a regular file");
	snprintf(p, sizeof(p), "%s/text", W.dir);
	write_file(p, "just text\n", 10);
	expect_error(p, "not an ELF file");
	snprintf(p, sizeof(p), "%s/empty", W.dir);
	write_file(p, "", 0);
	expect_error(p, "not an ELF file");
	/* a C program: this test */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = 0;
	expect_error(exe, "not a Go program");
}

static void test_no_crypto_tls(void **state)
{
	(void)state;
	expect_error(need(V_NOTLS)->path, "no crypto/tls");
}

/* A damaged copy of a real binary: truncated anywhere, bytes of its pcln
 * table and build info scrambled, another machine in its header. Never a
 * crash or an over-read (ASan), always an answer or a sentence. */
static void test_damaged(void **state)
{
	(void)state;
	struct built *b = need(V_STRIP);
	size_t len;
	uint8_t *orig = slurp(b->path, &len);
	assert_non_null(orig);
	tu_cleanup_push(free, orig);
	uint8_t *buf = tu_xmalloc(len);
	tu_cleanup_push(free, buf);
	char p[128];
	snprintf(p, sizeof(p), "%s/damaged", W.dir);
	struct sonde_go_binary g;
	char err[512];

	/* another machine: RISC-V */
	memcpy(buf, orig, len);
	buf[18] = 243;
	buf[19] = 0;
	write_file(p, buf, len);
	expect_error(p, "unsupported architecture");

	/* truncated */
	const size_t cuts[] = { 1, 16, 63, 64, 200, 4096, len / 8, len / 4, len / 2, len * 3 / 4,
				len - 4096, len - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		write_file(p, orig, cuts[i]);
		err[0] = 0;
		if (sonde_go_inspect(p, &g, err, sizeof(err)) < 0)
			assert_true(err[0]);
	}

	/* scrambled pcln table and build info */
	Elf *e = elf_memory((char *)orig, len);
	assert_non_null(e);
	size_t shstrndx;
	assert_int_equal(elf_getshdrstrndx(e, &shstrndx), 0);
	uint64_t pcln_off = 0, pcln_len = 0, bi_off = 0, bi_len = 0;
	for (Elf_Scn *s = elf_nextscn(e, NULL); s; s = elf_nextscn(e, s)) {
		GElf_Shdr sh;
		assert_non_null(gelf_getshdr(s, &sh));
		const char *n = elf_strptr(e, shstrndx, sh.sh_name);
		if (n && !strcmp(n, ".gopclntab")) {
			pcln_off = sh.sh_offset;
			pcln_len = sh.sh_size;
		} else if (n && !strcmp(n, ".go.buildinfo")) {
			bi_off = sh.sh_offset;
			bi_len = sh.sh_size;
		}
	}
	elf_end(e);
	assert_true(pcln_len > 4096 && bi_len >= 32);
	struct tu_rng r;
	tu_rng_seed(&r, 4);
	int answered = 0, refused = 0;
	for (int round = 0; round < 48; round++) {
		memcpy(buf, orig, len);
		/* the header and function table first: that is where damage bites */
		size_t span = round < 16 ? 128 : round < 32 ? 64 * 1024 : (size_t)pcln_len;
		for (int k = 0; k < 16; k++)
			buf[pcln_off + tu_rng_below(&r, span)] = (uint8_t)tu_rng_next(&r);
		if (round % 4 == 3)
			for (int k = 0; k < 4; k++)
				buf[bi_off + 14 + tu_rng_below(&r, bi_len - 14)] =
					(uint8_t)tu_rng_next(&r);
		write_file(p, buf, len);
		err[0] = 0;
		if (sonde_go_inspect(p, &g, err, sizeof(err)) < 0) {
			assert_true(err[0]);
			refused++;
		} else {
			/* whatever it found lies in the file */
			const struct sonde_go_func *fs[2] = { &g.read, &g.write };
			for (int k = 0; k < 2; k++) {
				assert_true(fs[k]->nret > 0);
				assert_true(fs[k]->file_off + fs[k]->size <= len);
				for (size_t j = 0; j < fs[k]->nret; j++)
					assert_int_equal(buf[fs[k]->ret_file_offs[j]], 0xc3);
			}
			answered++;
		}
	}
	print_message("damaged copies: %d answered, %d refused\n", answered, refused);
	tu_cleanup_pop(buf);
	free(buf);
	tu_cleanup_pop(orig);
	free(orig);
}

/* ================================================ other Go programs === */

/* `objdump -d` (binutils) RET count in [start, start+size) of an amd64 file;
 * -1 if objdump is not there. */
static int binutils_rets(const char *path, uint64_t start, uint64_t size)
{
	char cmd[PATH_MAX + 160], out[1 << 16];
	snprintf(cmd, sizeof(cmd),
		 "objdump -d --start-address=%#llx --stop-address=%#llx '%s' 2>/dev/null",
		 (unsigned long long)start, (unsigned long long)(start + size), path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	int n = 0, lines = 0;
	while (fgets(out, sizeof(out), p)) {
		lines++;
		if (strstr(out, "\tret"))
			n++;
	}
	return pclose(p) == 0 && lines > 0 ? n : -1;
}

/*
 * Go programs this machine happens to have, built by others with other Go
 * releases (the Google Cloud SDK's kubectl, kpt, ... are stripped go1.22 to
 * go1.25 binaries; Docker's are Go too): the go1.20+ pcln format on real
 * files. Checked against `go version FILE`, binutils' objdump (every RET),
 * the RET bytes, and the register-ABI prologue at each entry (the stack
 * check against the goroutine in R14: `cmp 0x10(%r14), ...`).
 */
/* Stripped here by binutils, g's answers must come back from the pcln
 * table (gcc-linked Go keeps it inside .data.rel.ro, with no section of its
 * own: found by searching). */
static void check_stripped_copy(const char *path, const struct sonde_go_binary *g)
{
	char copy[128], cmd[PATH_MAX + 256], err[512];
	snprintf(copy, sizeof(copy), "%s/other-stripped", W.dir);
	snprintf(cmd, sizeof(cmd), "objcopy --strip-all '%s' '%s' 2>&1", path, copy);
	if (run(cmd, NULL, 0) != 0)
		return; /* no binutils */
	struct sonde_go_binary n;
	if (sonde_go_inspect(copy, &n, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(n.stripped);
	const struct sonde_go_func *a[2] = { &g->read, &g->write }, *b[2] = { &n.read, &n.write };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(a[i]->vaddr, b[i]->vaddr);
		assert_int_equal(a[i]->nret, b[i]->nret);
		for (size_t j = 0; j < a[i]->nret; j++)
			assert_int_equal(a[i]->ret_file_offs[j] - a[i]->file_off,
					 b[i]->ret_file_offs[j] - b[i]->file_off);
	}
	unlink(copy);
}

/* One program someone else built; false if it is no Go with crypto/tls. */
static bool check_other(const char *path)
{
	struct sonde_go_binary g;
	char err[512];
	if (sonde_go_inspect(path, &g, err, sizeof(err)) < 0) {
		if (strstr(err, "no crypto/tls") || strstr(err, "not a Go"))
			return false;
		fail_msg("%s", err);
	}
	if (W.have_go) {
		char cmd[PATH_MAX + 32], out[512];
		snprintf(cmd, sizeof(cmd), "go version '%s' 2>&1", path);
		assert_int_equal(run(cmd, out, sizeof(out)), 0);
		const char *v = strstr(out, ": ");
		assert_non_null(v);
		assert_memory_equal(v + 2, g.go_version, strlen(g.go_version));
	}
	/* the version table holds for this Go release too */
	assert_int_equal(g.tlsconn_conn_off, 0);
	assert_int_equal(g.netconn_fd_off, 0);
	assert_int_equal(g.netfd_pfd_off, 0);
	assert_int_equal(g.pfd_sysfd_off, 16);
	if (g.arch == SONDE_GO_AMD64) {
		int fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		const struct sonde_go_func *fs[2] = { &g.read, &g.write };
		for (int i = 0; i < 2; i++) {
			const struct sonde_go_func *f = fs[i];
			uint8_t b[16];
			assert_int_equal(pread(fd, b, 16, (off_t)f->file_off), 16);
			if (g.regabi)
				assert_non_null(memmem(b, 16, "\x3b\x66\x10", 3));
			for (size_t j = 0; j < f->nret; j++) {
				assert_int_equal(pread(fd, b, 1, (off_t)f->ret_file_offs[j]), 1);
				assert_int_equal(b[0], 0xc3);
			}
			int want = binutils_rets(path, f->vaddr, f->size);
			if (want >= 0)
				assert_int_equal(f->nret, (size_t)want);
		}
		close(fd);
	}
	if (!g.stripped) {
		assert_int_not_equal(g.tcpconn_itab_vaddr, 0);
		check_stripped_copy(path, &g);
	}
	print_message("%s: %s%s, Read %zu RETs%s, Write %zu RETs%s\n", path, g.go_version,
		      g.stripped ? " (stripped)" : "", g.read.nret,
		      g.read.args_spilled ? " (arguments kept on the stack)" : "", g.write.nret,
		      g.offsets_from_dwarf ? ", offsets from DWARF" : "");
	return true;
}

static void test_other_go_programs(void **state)
{
	(void)state;
	static const char *const dirs[] = { "/usr/lib/google-cloud-sdk/bin", "/usr/bin",
					    "/usr/sbin", "/usr/local/bin" };
	static const char *const names[] = { "kubectl", "kpt", "anthoscli", "cbt",
					      "gke-gcloud-auth-plugin", "local-extract", "docker",
					      "dockerd", "containerd", "runc", "helm", "gh" };
	int checked = 0;
	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", dirs[d], names[k]);
			struct stat st;
			/* regular files only: a link leads to one seen elsewhere */
			if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && check_other(path))
				checked++;
		}
	}
	if (!checked) {
		print_message("SKIP goinfo other-programs: no other Go program with crypto/tls "
			      "on this machine\n");
		skip();
	}
}

/* ======================================================= hand-made ELF === */

/*
 * A minimal Go-like ELF file: three functions (main.main, then Read and
 * Write, 16 bytes each) in a text segment at 0x401000 (file 0x1000), a pcln
 * table in a read-only segment at 0x402000, the build info in a writable one
 * at 0x403000; section headers optional.
 */
struct syn {
	enum sonde_go_arch arch;
	uint32_t magic; /* pcln format */
	bool old_buildinfo; /* pointer format (go1.13-1.17) */
	bool sections;
	const char *version;
	bool pie_reloc; /* ET_DYN; the version pointer is 0 in the file, set by a relocation */
};

#define SYN_TEXT 0x401000u
#define SYN_SIZE 0x4400u

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* Code, and where its returns are (offsets in the function). */
static const uint8_t AMD64_READ[16] = {
	0xb8, 0xc3, 0x00, 0x00, 0x00, /* mov eax, 0xc3: a c3 byte that is no RET */
	0x48, 0x85, 0xff, /* test rdi, rdi */
	0x74, 0x01, /* je +1 */
	0xc3, /* ret */
	0xc2, 0x08, 0x00, /* ret 8 */
	0xcc, 0xcc,
};
static const uint8_t AMD64_WRITE[16] = {
	0x90, /* nop */
	0xcb, /* retf */
	0x48, 0xcb, /* retfq */
	0xc3, /* ret */
	0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
};
static const uint64_t AMD64_READ_RETS[] = { 0xa, 0xb }, AMD64_WRITE_RETS[] = { 1, 2, 4 };
static const uint32_t ARM64_READ[4] = {
	0xd2800000, /* mov x0, #0 */
	0xd65f03c0, /* ret */
	0x00000000, /* data (udf): stepped over */
	0xd65f03c0, /* ret */
};
static const uint32_t ARM64_WRITE[4] = {
	0xd65f0000, /* ret x0 */
	0xd503201f, /* nop */
	0xd65f03c0, /* ret */
	0xd503201f, /* nop */
};
static const uint64_t ARM64_READ_RETS[] = { 4, 12 }, ARM64_WRITE_RETS[] = { 0, 8 };

static const char SYN_NAMES[] = "main.main\0" READ_SYM "\0" WRITE_SYM;
static const uint32_t SYN_NAMEOFF[3] = { 0, 10, 34 };

/* The pcln table at t; its length. */
static size_t syn_pcln(uint8_t *t, const struct syn *s)
{
	t[0] = (uint8_t)s->magic;
	t[1] = (uint8_t)(s->magic >> 8);
	t[2] = (uint8_t)(s->magic >> 16);
	t[3] = (uint8_t)(s->magic >> 24);
	t[6] = s->arch == SONDE_GO_AMD64 ? 1 : 4; /* instruction quantum */
	t[7] = 8;
	if (s->magic == 0xfffffffb) { /* go1.2 */
		put64(t + 8, 3);
		for (uint32_t i = 0; i < 3; i++) {
			put64(t + 16 + 16 * i, SYN_TEXT + 16 * i);
			put64(t + 16 + 16 * i + 8, 72 + 16 * i); /* funcoff from the table */
			put64(t + 72 + 16 * i, SYN_TEXT + 16 * i);
			put32(t + 72 + 16 * i + 8, 120 + SYN_NAMEOFF[i]); /* from the table */
		}
		put64(t + 64, SYN_TEXT + 48);
		memcpy(t + 120, SYN_NAMES, sizeof(SYN_NAMES));
		return 120 + sizeof(SYN_NAMES);
	}
	if (s->magic == 0xfffffffa) { /* go1.16 */
		const uint64_t w[7] = { 3, 0, 64, 124, 124, 124, 128 };
		for (int i = 0; i < 7; i++)
			put64(t + 8 + 8 * i, w[i]);
		memcpy(t + 64, SYN_NAMES, sizeof(SYN_NAMES));
		uint8_t *ft = t + 128;
		for (uint32_t i = 0; i < 3; i++) {
			put64(ft + 16 * i, SYN_TEXT + 16 * i);
			put64(ft + 16 * i + 8, 56 + 16 * i); /* funcoff from the functab */
			put64(ft + 56 + 16 * i, SYN_TEXT + 16 * i);
			put32(ft + 56 + 16 * i + 8, SYN_NAMEOFF[i]);
		}
		put64(ft + 48, SYN_TEXT + 48);
		return 128 + 56 + 48;
	}
	/* go1.18 and 1.20 (and the unknown magics, laid out alike) */
	const uint64_t w[8] = { 3, 0, SYN_TEXT, 72, 132, 132, 132, 136 };
	for (int i = 0; i < 8; i++)
		put64(t + 8 + 8 * i, w[i]);
	memcpy(t + 72, SYN_NAMES, sizeof(SYN_NAMES));
	uint8_t *ft = t + 136;
	for (uint32_t i = 0; i < 3; i++) {
		put32(ft + 8 * i, 16 * i); /* entryoff from textStart */
		put32(ft + 8 * i + 4, 32 + 16 * i); /* funcoff from the functab */
		put32(ft + 32 + 16 * i, 16 * i);
		put32(ft + 32 + 16 * i + 4, SYN_NAMEOFF[i]);
	}
	put32(ft + 24, 48);
	return 136 + 32 + 48;
}

/* The build info at bi (file 0x3000, vaddr 0x403000); its length. */
static size_t syn_buildinfo(uint8_t *bi, const struct syn *s)
{
	memcpy(bi, "\xff Go buildinf:", 14);
	bi[14] = 8;
	size_t vlen = strlen(s->version);
	if (!s->old_buildinfo) {
		bi[15] = 2;
		size_t o = 32;
		size_t l = vlen;
		do {
			bi[o++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
			l >>= 7;
		} while (l);
		memcpy(bi + o, s->version, vlen);
		o += vlen;
		bi[o++] = 0; /* empty module info */
		return o;
	}
	bi[15] = 0;
	put64(bi + 16, 0x403100); /* -> {data, len} of the version */
	put64(bi + 24, 0x403110); /* -> {data, len} of the module info */
	put64(bi + 0x100, 0x403140);
	put64(bi + 0x108, vlen);
	put64(bi + 0x110, 0x403140);
	put64(bi + 0x118, 0);
	memcpy(bi + 0x140, s->version, vlen);
	return 32;
}

static void syn_write(const char *path, const struct syn *s)
{
	uint8_t *f = calloc(1, SYN_SIZE);
	assert_non_null(f);
	tu_cleanup_push(free, f);
	bool x86 = s->arch == SONDE_GO_AMD64;

	/* text: main.main (padding), Read, Write */
	memset(f + 0x1000, x86 ? 0xcc : 0, 16);
	if (x86) {
		memcpy(f + 0x1010, AMD64_READ, 16);
		memcpy(f + 0x1020, AMD64_WRITE, 16);
	} else {
		for (int i = 0; i < 4; i++) {
			put32(f + 0x1010 + 4 * i, ARM64_READ[i]);
			put32(f + 0x1020 + 4 * i, ARM64_WRITE[i]);
		}
	}
	size_t pcln_len = syn_pcln(f + 0x2000, s);
	size_t bi_len = syn_buildinfo(f + 0x3000, s);

	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB,
			     EV_CURRENT },
		.e_type = ET_EXEC,
		.e_machine = x86 ? EM_X86_64 : EM_AARCH64,
		.e_version = EV_CURRENT,
		.e_entry = SYN_TEXT,
		.e_phoff = sizeof(Elf64_Ehdr),
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = 3,
	};
	const Elf64_Phdr ph[3] = {
		{ PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x401000, 0x30, 0x30, 0x1000 },
		{ PT_LOAD, PF_R, 0x2000, 0x402000, 0x402000, 0x800, 0x800, 0x1000 },
		{ PT_LOAD, PF_R | PF_W, 0x3000, 0x403000, 0x403000, 0x200, 0x200, 0x1000 },
	};
	memcpy(f + sizeof(eh), ph, sizeof(ph));
	size_t nrela = 0;
	if (s->pie_reloc) {
		/*
		 * Every address the reader needs, left 0 in the file and given
		 * by a RELATIVE relocation: the build info's version pointer
		 * (old format), the function table's entries (go1.2, 1.16) or
		 * textStart (go1.18+).
		 */
		eh.e_type = ET_DYN;
		uint64_t at[5];
		size_t n = 0;
		if (s->old_buildinfo)
			at[n++] = 0x3010;
		if (s->magic == 0xfffffffb || s->magic == 0xfffffffa) {
			uint64_t ft = s->magic == 0xfffffffb ? 0x2010 : 0x2080;
			for (int i = 0; i < 4; i++)
				at[n++] = ft + 16 * (uint64_t)i;
		} else {
			at[n++] = 0x2018;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t v = le(f + at[i], 8);
			assert_int_not_equal(v, 0);
			const Elf64_Rela r = {
				0x400000 + at[i],
				ELF64_R_INFO(0, x86 ? R_X86_64_RELATIVE : R_AARCH64_RELATIVE),
				(Elf64_Sxword)v,
			};
			memcpy(f + 0x4300 + nrela++ * sizeof(r), &r, sizeof(r));
			memset(f + at[i], 0, 8);
		}
	}
	if (s->sections) {
		static const char shstr[] =
			"\0.text\0.gopclntab\0.go.buildinfo\0.shstrtab\0.rela.dyn";
		memcpy(f + 0x4000, shstr, sizeof(shstr));
		const Elf64_Shdr sh[6] = {
			{ 0 },
			{ 1, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 0x401000, 0x1000, 0x30, 0, 0,
			  16, 0 },
			{ 7, SHT_PROGBITS, SHF_ALLOC, 0x402000, 0x2000, pcln_len, 0, 0, 8, 0 },
			{ 18, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 0x403000, 0x3000, bi_len, 0, 0,
			  16, 0 },
			{ 32, SHT_STRTAB, 0, 0, 0x4000, sizeof(shstr), 0, 0, 1, 0 },
			{ 42, SHT_RELA, SHF_ALLOC, 0, 0x4300, nrela * sizeof(Elf64_Rela), 0, 0, 8,
			  sizeof(Elf64_Rela) },
		};
		memcpy(f + 0x4100, sh, sizeof(sh));
		eh.e_shoff = 0x4100;
		eh.e_shentsize = sizeof(Elf64_Shdr);
		eh.e_shnum = 6;
		eh.e_shstrndx = 4;
	}
	memcpy(f, &eh, sizeof(eh));
	write_file(path, f, SYN_SIZE);
	tu_cleanup_pop(f);
	free(f);
}

static void test_formats(void **state)
{
	(void)state;
	static const struct {
		struct syn s;
		int minor;
		bool regabi;
		const char *shown; /* go_version, cut to 31 bytes */
	} cases[] = {
		{ { SONDE_GO_AMD64, 0xfffffffb, true, true, "go1.15.15" }, 15, false, NULL },
		{ { SONDE_GO_AMD64, 0xfffffffa, true, true, "go1.16.15" }, 16, false, NULL },
		/* PIEs whose addresses are only in dynamic relocations */
		{ { SONDE_GO_AMD64, 0xfffffffa, true, true, "go1.16.2", true }, 16, false, NULL },
		{ { SONDE_GO_ARM64, 0xfffffffa, true, true, "go1.17.1", true }, 17, false, NULL },
		{ { SONDE_GO_AMD64, 0xfffffffb, true, true, "go1.15.2", true }, 15, false, NULL },
		{ { SONDE_GO_AMD64, 0xfffffff1, false, true, "go1.22.2", true }, 22, true, NULL },
		{ { SONDE_GO_AMD64, 0xfffffffa, true, false, "go1.17.13" }, 17, true, NULL },
		{ { SONDE_GO_AMD64, 0xfffffff0, false, true, "go1.18.10" }, 18, true, NULL },
		{ { SONDE_GO_AMD64, 0xfffffff1, false, false, "go1.21.5" }, 21, true, NULL },
		{ { SONDE_GO_AMD64, 0xfffffff1, false, true, "go1.22.1 X:boringcrypto" }, 22, true,
		  NULL },
		{ { SONDE_GO_ARM64, 0xfffffffb, true, false, "go1.14" }, 14, false, NULL },
		{ { SONDE_GO_ARM64, 0xfffffffa, true, true, "go1.17.13" }, 17, false, NULL },
		{ { SONDE_GO_ARM64, 0xfffffff0, false, false, "go1.18.1" }, 18, true, NULL },
		{ { SONDE_GO_ARM64, 0xfffffff1, false, true,
		    "devel go1.23-4f3a8b2c Tue Feb 6 10:00:00 2024 +0000" },
		  23, true, "devel go1.23-4f3a8b2c Tue Feb 6" },
	};
	char p[128];
	snprintf(p, sizeof(p), "%s/synthetic", W.dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct syn *s = &cases[i].s;
		syn_write(p, s);
		struct sonde_go_binary g;
		char err[512];
		if (sonde_go_inspect(p, &g, err, sizeof(err)) < 0)
			fail_msg("case %zu (%s, pcln %#x): %s", i, s->version, s->magic, err);
		assert_string_equal(g.go_version, cases[i].shown ? cases[i].shown : s->version);
		assert_int_equal(g.major, 1);
		assert_int_equal(g.minor, cases[i].minor);
		assert_int_equal(g.arch, s->arch);
		assert_int_equal(g.regabi, cases[i].regabi);
		assert_true(g.stripped);
		assert_int_equal(g.pie, s->pie_reloc);
		assert_false(g.offsets_from_dwarf);
		assert_int_equal(g.pfd_sysfd_off, 16);
		assert_int_equal(g.tcpconn_itab_vaddr, 0);
		bool x86 = s->arch == SONDE_GO_AMD64;
		const struct {
			const struct sonde_go_func *f;
			uint64_t at;
			const uint64_t *rets;
			size_t nrets;
		} fn[2] = {
			{ &g.read, 0x10, x86 ? AMD64_READ_RETS : ARM64_READ_RETS, 2 },
			{ &g.write, 0x20, x86 ? AMD64_WRITE_RETS : ARM64_WRITE_RETS, x86 ? 3 : 2 },
		};
		for (int k = 0; k < 2; k++) {
			assert_int_equal(fn[k].f->vaddr, SYN_TEXT + fn[k].at);
			assert_int_equal(fn[k].f->file_off, 0x1000 + fn[k].at);
			assert_int_equal(fn[k].f->size, 16);
			assert_int_equal(fn[k].f->nret, fn[k].nrets);
			for (size_t j = 0; j < fn[k].nrets; j++)
				assert_int_equal(fn[k].f->ret_file_offs[j],
						 0x1000 + fn[k].at + fn[k].rets[j]);
		}
	}

	/* what it refuses */
	struct syn bad = { SONDE_GO_AMD64, 0xfffffff2, false, true, "go1.30.0" };
	syn_write(p, &bad);
	expect_error(p, "unsupported Go pcln table (magic 0xfffffff2;");
	bad.sections = false;
	syn_write(p, &bad);
	expect_error(p, "without a pcln table");
	bad = (struct syn){ SONDE_GO_AMD64, 0xfffffff1, false, true, "gopher" };
	syn_write(p, &bad);
	expect_error(p, "unreadable Go version \"gopher\"");
	bad = (struct syn){ SONDE_GO_AMD64, 0xfffffff1, true, true, "go1.20" };
	syn_write(p, &bad);
	{
		/* old format, version pointer out of the file */
		size_t len;
		uint8_t *f = slurp(p, &len);
		assert_non_null(f);
		put64(f + 0x3010, 0x7fff0000);
		write_file(p, f, len);
		free(f);
	}
	expect_error(p, "damaged Go build info");
	bad = (struct syn){ SONDE_GO_AMD64, 0xfffffff1, false, true, "go1.21.0" };
	syn_write(p, &bad);
	{
		/* no build info at all, but a pcln table: Go, too old to say */
		size_t len;
		uint8_t *f = slurp(p, &len);
		assert_non_null(f);
		memset(f + 0x3000, 0, 0x200);
		write_file(p, f, len);
		free(f);
	}
	expect_error(p, "without build info");
}

int main(void)
{
	tu_filters();
	elf_version(EV_CURRENT);
	const struct CMUnitTest tests[] = {
		tu_test(test_formats),
		tu_test(test_not_go),
		tu_test(test_amd64),
		tu_test(test_amd64_stripped),
		tu_test(test_amd64_pie),
		tu_test(test_amd64_pie_stripped),
		tu_test(test_amd64_static),
		tu_test(test_amd64_external),
		tu_test(test_amd64_external_stripped),
		tu_test(test_arm64),
		tu_test(test_arm64_stripped),
		tu_test(test_no_crypto_tls),
		tu_test(test_other_go_programs),
		tu_test(test_damaged),
	};
	return cmocka_run_group_tests_name("goinfo", tests, group_setup, group_teardown);
}
