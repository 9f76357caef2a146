/* SPDX-License-Identifier: MIT */
/*
 * The ELF reader (src/source/binfmt/elf.c) on this machine's real files —
 * /bin/ls (a PIE program), OpenSSL's libssl and libcrypto — each answer
 * checked against binutils' readelf and nm, or against the file's bytes;
 * then copies cut short or with their section headers removed, and files
 * that are not ELF at all.
 */
#include "testutil.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/binfmt/elf.h"

#define LS "/bin/ls"
#define LIBSSL "/usr/lib/x86_64-linux-gnu/libssl.so.3"
#define LIBCRYPTO "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sonde-test-elf.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The first line of a shell command's output (trailing newline cut). */
static bool sh_line(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	bool ok = fgets(out, (int)n, p) != NULL;
	pclose(p);
	if (ok)
		out[strcspn(out, "\n")] = 0;
	return ok;
}

static void copy_file(const char *from, const char *to, off_t len)
{
	char cmd[512];
	if (len < 0)
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	else
		snprintf(cmd, sizeof(cmd), "head -c %lld '%s' > '%s'", (long long)len, from, to);
	assert_int_equal(system(cmd), 0);
}

/* ======================================================= symbols etc. === */

struct want_sym {
	const char *name;
	bool found, defined;
	unsigned type;
	size_t calls;
};

static bool find_sym(const char *name, const GElf_Sym *s, void *arg)
{
	struct want_sym *w = arg;
	w->calls++;
	assert_non_null(name);
	assert_true(name[0] != 0);
	if (strcmp(name, w->name))
		return false;
	w->found = true;
	w->defined = s->st_shndx != SHN_UNDEF;
	w->type = GELF_ST_TYPE(s->st_info);
	return false;
}

static bool count_sym(const char *name, const GElf_Sym *s, void *arg)
{
	(void)name;
	(void)s;
	(*(size_t *)arg)++;
	return false;
}

static bool stop_at_first(const char *name, const GElf_Sym *s, void *arg)
{
	(void)name;
	(void)s;
	(*(size_t *)arg)++;
	return true;
}

static void symbols_libssl(void **state)
{
	(void)state;
	struct sonde_elf f;
	assert_int_equal(sonde_elf_open(&f, LIBSSL), 0);
	struct want_sym w = { .name = "SSL_read" };
	assert_int_equal(sonde_elf_symbols(&f, SHT_DYNSYM, find_sym, &w), 1);
	assert_true(w.found);
	assert_true(w.defined);
	assert_int_equal(w.type, STT_FUNC);
	/* libssl imports libcrypto's BIO_read */
	struct want_sym imp = { .name = "BIO_read" };
	sonde_elf_symbols(&f, 0, find_sym, &imp);
	assert_true(imp.found);
	assert_false(imp.defined);
	/* as many named symbols as readelf lists (readelf also counts the
	 * null symbol 0 and any unnamed ones, which are never given) */
	char line[64];
	assert_true(sh_line("readelf -W --dyn-syms " LIBSSL
			    " | awk '$1 ~ /^[0-9]+:$/ && $8 != \"\"' | wc -l",
			    line, sizeof(line)));
	size_t n = 0;
	sonde_elf_symbols(&f, SHT_DYNSYM, count_sym, &n);
	assert_int_equal(n, strtoull(line, NULL, 10));
	/* the walk stops when asked */
	size_t calls = 0;
	sonde_elf_symbols(&f, 0, stop_at_first, &calls);
	assert_int_equal(calls, 1);
	sonde_elf_close(&f);
}

struct dyn_seen {
	char soname[64];
	bool needs_crypto, needs_libc;
	size_t entries;
};

static bool take_dyn(const GElf_Dyn *dyn, const char *s, void *arg)
{
	struct dyn_seen *d = arg;
	d->entries++;
	assert_true(dyn->d_tag != DT_NULL);
	if (dyn->d_tag == DT_SONAME) {
		assert_non_null(s);
		snprintf(d->soname, sizeof(d->soname), "%s", s);
	} else if (dyn->d_tag == DT_NEEDED) {
		assert_non_null(s);
		d->needs_crypto |= !strcmp(s, "libcrypto.so.3");
		d->needs_libc |= !strcmp(s, "libc.so.6");
	} else if (dyn->d_tag == DT_FLAGS_1 || dyn->d_tag == DT_HASH || dyn->d_tag == DT_GNU_HASH) {
		assert_null(s);
	}
	return false;
}

static void dynamic_and_segments(void **state)
{
	(void)state;
	struct sonde_elf f;
	struct dyn_seen d = { 0 };
	assert_int_equal(sonde_elf_open(&f, LIBSSL), 0);
	sonde_elf_dynamic(&f, take_dyn, &d);
	assert_string_equal(d.soname, "libssl.so.3");
	assert_true(d.needs_crypto);
	assert_false(sonde_elf_has_phdr(&f, PT_INTERP)); /* a library */
	assert_true(sonde_elf_has_phdr(&f, PT_DYNAMIC));
	sonde_elf_close(&f);

	memset(&d, 0, sizeof(d));
	assert_int_equal(sonde_elf_open(&f, LS), 0);
	sonde_elf_dynamic(&f, take_dyn, &d);
	assert_string_equal(d.soname, "");
	assert_true(d.needs_libc);
	assert_true(sonde_elf_has_phdr(&f, PT_INTERP)); /* a program */
	char line[64];
	assert_true(sh_line("readelf -lW " LS " | grep -c '^  LOAD'", line, sizeof(line)));
	assert_int_equal(f.nloads, strtoull(line, NULL, 10));
	assert_true(f.have_shstr);
	assert_int_equal(f.eh.e_type, ET_DYN);
	assert_int_equal((uint64_t)f.size, (uint64_t)f.st.st_size);
	sonde_elf_close(&f);
}

/* Addresses and file offsets: the entry point and .text against the bytes
 * pread gives, and readelf's section addresses. */
static void addresses(void **state)
{
	(void)state;
	struct sonde_elf f;
	assert_int_equal(sonde_elf_open(&f, LS), 0);
	uint64_t off = 0, va = 0;
	const uint8_t *p = sonde_elf_at(&f, f.eh.e_entry, 16, &off);
	assert_non_null(p);
	uint8_t buf[16];
	assert_int_equal(pread(f.fd, buf, sizeof(buf), (off_t)off), (ssize_t)sizeof(buf));
	assert_memory_equal(p, buf, sizeof(buf));
	assert_true(sonde_elf_vaddr_of(&f, off, &va));
	assert_int_equal(va, f.eh.e_entry);
	/* nothing maps an address past every segment */
	assert_null(sonde_elf_at(&f, UINT64_MAX - 8, 4, NULL));
	assert_false(sonde_elf_vaddr_of(&f, UINT64_MAX, &va));

	GElf_Shdr sh;
	assert_non_null(sonde_elf_section(&f, ".text", &sh));
	assert_string_equal(sonde_elf_section_name(&f, &sh), ".text");
	char cmd[160], line[256];
	snprintf(cmd, sizeof(cmd), "readelf -SW %s | awk '$2 == \".text\" {print $4, $5}'", LS);
	assert_true(sh_line(cmd, line, sizeof(line)));
	unsigned long long addr, foff;
	assert_int_equal(sscanf(line, "%llx %llx", &addr, &foff), 2);
	assert_int_equal(sh.sh_addr, addr);
	assert_int_equal(sh.sh_offset, foff);
	assert_ptr_equal(sonde_elf_section_bytes(&f, &sh), f.data + foff);
	assert_null(sonde_elf_section(&f, ".no-such-section", &sh));
	/* .bss has no file bytes */
	if (sonde_elf_section(&f, ".bss", &sh))
		assert_null(sonde_elf_section_bytes(&f, &sh));

	/* a RELATIVE relocation, as readelf shows it */
	assert_true(sh_line("readelf -rW " LS
			    " | awk '$3 == \"R_X86_64_RELATIVE\" {print $1, $4; exit}'",
			    line, sizeof(line)));
	unsigned long long where, addend;
	assert_int_equal(sscanf(line, "%llx %llx", &where, &addend), 2);
	uint64_t val = 0;
	assert_true(sonde_elf_reloc_at(&f, where, &val));
	assert_int_equal(val, addend);
	assert_false(sonde_elf_reloc_at(&f, 1, &val));
	sonde_elf_close(&f);
}

/* =============================================================== rodata === */

struct needle {
	const char *text;
	bool found;
	size_t calls, bytes;
};

static bool look_for(const char *p, size_t n, void *arg)
{
	struct needle *nd = arg;
	nd->calls++;
	nd->bytes += n;
	if (memmem(p, n, nd->text, strlen(nd->text)))
		nd->found = true;
	return nd->found;
}

static void rodata(void **state)
{
	(void)state;
	struct sonde_elf f;
	assert_int_equal(sonde_elf_open(&f, LIBCRYPTO), 0);
	/* OpenSSL_version()'s text lives in libcrypto's .rodata */
	struct needle nd = { .text = "OpenSSL 3." };
	assert_true(sonde_elf_rodata_each(&f, 64u << 20, look_for, &nd));
	assert_true(nd.found);
	/* no budget, no bytes */
	struct needle none = { .text = "OpenSSL 3." };
	assert_false(sonde_elf_rodata_each(&f, 0, look_for, &none));
	assert_int_equal(none.calls, 0);
	/* the budget bounds what is searched */
	struct needle small = { .text = "no such text anywhere \x01\x02" };
	assert_false(sonde_elf_rodata_each(&f, 1000, look_for, &small));
	assert_true(small.bytes <= 1000);
	assert_true(small.calls >= 1);
	sonde_elf_close(&f);
}

/* A copy without section headers: read-only data from the segments; no
 * sections, no symbols; segments and addresses as before. */
static void no_section_headers(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/crypto-noshdr", tmpdir);
	copy_file(LIBCRYPTO, path, -1);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	Elf64_Ehdr eh;
	assert_int_equal(pread(fd, &eh, sizeof(eh), 0), (ssize_t)sizeof(eh));
	eh.e_shoff = 0;
	eh.e_shnum = 0;
	eh.e_shstrndx = 0;
	assert_int_equal(pwrite(fd, &eh, sizeof(eh), 0), (ssize_t)sizeof(eh));
	close(fd);

	struct sonde_elf f, orig;
	assert_int_equal(sonde_elf_open(&f, path), 0);
	assert_int_equal(sonde_elf_open(&orig, LIBCRYPTO), 0);
	assert_false(f.have_shstr);
	GElf_Shdr sh;
	assert_null(sonde_elf_section(&f, ".rodata", &sh));
	size_t n = 0;
	assert_int_equal(sonde_elf_symbols(&f, 0, count_sym, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(f.nloads, orig.nloads);
	struct needle nd = { .text = "OpenSSL 3." };
	assert_true(sonde_elf_rodata_each(&f, 64u << 20, look_for, &nd));
	sonde_elf_close(&orig);
	sonde_elf_close(&f);
}

/* =============================================================== errors === */

static void errors(void **state)
{
	(void)state;
	struct sonde_elf f;
	errno = 0;
	assert_int_equal(sonde_elf_open(&f, "/etc/passwd"), -1);
	assert_int_equal(errno, ENOEXEC);
	assert_int_equal(sonde_elf_open(&f, tmpdir), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sonde_elf_open(&f, "/nonexistent/sonde-test"), -1);
	assert_int_equal(errno, ENOENT);
	/* cut inside the ELF header: the identification says ELF, the header
	 * cannot be read */
	char path[128];
	snprintf(path, sizeof(path), "%s/ls-head", tmpdir);
	copy_file(LS, path, 24);
	assert_int_equal(sonde_elf_open(&f, path), -1);
	assert_true(errno == EBADMSG || errno == ENOEXEC);
	/* cut anywhere after the header: opens, and every reader stays in
	 * bounds (ASan watches) */
	static const off_t cuts[] = { 64, 100, 4096, 20000, 70000 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		snprintf(path, sizeof(path), "%s/ls-%lld", tmpdir, (long long)cuts[i]);
		copy_file(LS, path, cuts[i]);
		if (sonde_elf_open(&f, path) < 0)
			continue;
		size_t nsym = 0;
		sonde_elf_symbols(&f, 0, count_sym, &nsym);
		struct dyn_seen d = { 0 };
		sonde_elf_dynamic(&f, take_dyn, &d);
		struct needle nd = { .text = "zzz" };
		sonde_elf_rodata_each(&f, 1u << 20, look_for, &nd);
		GElf_Shdr sh;
		if (sonde_elf_section(&f, ".text", &sh))
			(void)sonde_elf_section_bytes(&f, &sh);
		(void)sonde_elf_at(&f, f.eh.e_entry, 16, NULL);
		uint64_t v;
		(void)sonde_elf_reloc_at(&f, 0x232b0, &v);
		sonde_elf_close(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(symbols_libssl),     cmocka_unit_test(dynamic_and_segments),
		cmocka_unit_test(addresses),          cmocka_unit_test(rodata),
		cmocka_unit_test(no_section_headers), cmocka_unit_test(errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
