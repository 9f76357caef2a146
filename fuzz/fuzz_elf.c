/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: hostile ELF files, as TLS discovery and the Go probes read
 * them from any process's executable or libraries (src/source/binfmt/):
 * the ELF reader's sections, segments, symbols, dynamic entries, read-only
 * data and address translation, then the Go inspection (build info,
 * pclntab, DWARF offsets, the disassembly of crypto/tls's functions).
 *
 * Input: the file's bytes, written to a memfd the readers open by path.
 * Seeds (fuzz/corpus/fuzz_elf/seed-c-*): a three-line C program of ours
 * that prints a string, built by Debian 12's gcc stripped (-Os -s) and with
 * its symbols (-O0): real PIE executables, sections, dynamic entries and
 * rodata. A Go seed would reach goinfo's pclntab and disassembly further,
 * but a Go binary is megabytes (libFuzzer's -max_len would cut it).
 * Oracles besides the sanitizers: what an address translates to lies in
 * the file.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "source/binfmt/elf.h"
#include "source/binfmt/goinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool count_sym(const char *name, const GElf_Sym *sym, void *arg)
{
	(void)sym;
	*(size_t *)arg += name && *name;
	return true;
}

static bool count_dyn(const GElf_Dyn *dyn, const char *str, void *arg)
{
	(void)dyn;
	*(size_t *)arg += str != NULL;
	return true;
}

static bool count_bytes(const char *p, size_t n, void *arg)
{
	(void)p;
	*(size_t *)arg += n;
	return true;
}

/* The reader's own walks over the file at path, of size bytes. */
static void walk(const char *path, size_t size)
{
	struct sonde_elf f;
	if (sonde_elf_open(&f, path))
		return;
	size_t n = 0;
	sonde_elf_symbols(&f, SHT_SYMTAB, count_sym, &n);
	sonde_elf_symbols(&f, SHT_DYNSYM, count_sym, &n);
	sonde_elf_dynamic(&f, count_dyn, &n);
	sonde_elf_rodata_each(&f, 1 << 20, count_bytes, &n);
	sonde_elf_has_phdr(&f, PT_INTERP);
	for (size_t i = 0; i < f.nloads; i++) {
		uint64_t off, val;
		const uint8_t *p = sonde_elf_at(&f, f.loads[i].p_vaddr, 16, &off);
		FUZZ_CHECK(!p || off + 16 <= size, "vaddr %#lx maps past the file at %#lx",
			   (unsigned long)f.loads[i].p_vaddr, (unsigned long)off);
		sonde_elf_vaddr_of(&f, f.loads[i].p_offset, &val);
		sonde_elf_reloc_at(&f, f.loads[i].p_vaddr, &val);
	}
	sonde_elf_close(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	for (size_t at = 0; at < size;) {
		ssize_t w = write(fd, data + at, size - at);
		if (w <= 0)
			break;
		at += (size_t)w;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	walk(path, size);
	struct sonde_go_binary gb;
	char err[256];
	memset(&gb, 0, sizeof(gb));
	sonde_go_inspect(path, &gb, err, sizeof(err));
	close(fd);
	return 0;
}
