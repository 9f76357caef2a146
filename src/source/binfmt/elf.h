/* SPDX-License-Identifier: MIT */
/*
 * One ELF reader for everything sonde inspects on disk (TLS libraries, Go
 * programs): a file opened with libelf in mmap mode and read through that
 * mapping, with its sections, symbols, dynamic entries and loadable segments.
 *
 * Every offset and address taken from the file is checked against the
 * mapping before it is used: a truncated or scrambled file gives "not
 * found", never an over-read. Nothing is global; a struct sonde_elf is one
 * open file, for one thread at a time.
 */
#ifndef SONDE_ELF_H
#define SONDE_ELF_H

#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define SONDE_ELF_MAX_LOADS 32u /* PT_LOAD segments kept (the rest are ignored) */

struct sonde_elf {
	int fd;
	Elf *elf;
	const uint8_t *data; /* the whole file, mapped by libelf */
	size_t size;
	struct stat st;
	GElf_Ehdr eh;
	size_t shstrndx;
	bool have_shstr; /* section headers with their names */
	GElf_Phdr loads[SONDE_ELF_MAX_LOADS]; /* in file order */
	size_t nloads;
};

/*
 * Open path. Returns 0, or -1 with errno: open's own, EINVAL (not a regular
 * file), ENOEXEC (not an ELF file), EBADMSG (an ELF header libelf cannot
 * read), ENOSYS (libelf refuses this ELF version). A file without section
 * headers or without segments opens (have_shstr false, nloads 0).
 */
int sonde_elf_open(struct sonde_elf *f, const char *path);
void sonde_elf_close(struct sonde_elf *f);

/* ---- sections ---- */

/* A section's name, or NULL (no section name table, or a bad offset). */
const char *sonde_elf_section_name(const struct sonde_elf *f, const GElf_Shdr *sh);
/* The first section called name (its header into *sh), or NULL. */
Elf_Scn *sonde_elf_section(const struct sonde_elf *f, const char *name, GElf_Shdr *sh);
/* The file bytes of an uncompressed section that has them, or NULL. */
const uint8_t *sonde_elf_section_bytes(const struct sonde_elf *f, const GElf_Shdr *sh);

/*
 * Calls fn on the file's read-only data: the allocated PROGBITS sections
 * named .rodata*, neither writable nor executable, or, in a file without
 * section headers, the loadable segments that are neither. At most budget
 * bytes in all, straight from the mapping. Returns true as soon as fn does.
 */
typedef bool (*sonde_elf_bytes_fn)(const char *p, size_t n, void *arg);
bool sonde_elf_rodata_each(const struct sonde_elf *f, size_t budget, sonde_elf_bytes_fn fn,
			   void *arg);

/* ---- symbols and dynamic entries ---- */

/*
 * Calls fn on every named symbol of the symbol tables of type sh_type
 * (SHT_SYMTAB or SHT_DYNSYM; 0: both, in section order), until fn returns
 * true. Returns how many such tables the file has. A table whose string
 * table does not end in NUL is skipped (every name given is terminated).
 */
typedef bool (*sonde_elf_sym_fn)(const char *name, const GElf_Sym *sym, void *arg);
size_t sonde_elf_symbols(const struct sonde_elf *f, uint32_t sh_type, sonde_elf_sym_fn fn,
			 void *arg);

/*
 * Calls fn on each entry of the dynamic section up to DT_NULL, with str the
 * entry's string for DT_NEEDED, DT_SONAME, DT_RPATH and DT_RUNPATH (NULL for
 * the others, or when the offset is bad), until fn returns true.
 */
typedef bool (*sonde_elf_dyn_fn)(const GElf_Dyn *dyn, const char *str, void *arg);
void sonde_elf_dynamic(const struct sonde_elf *f, sonde_elf_dyn_fn fn, void *arg);

/*
 * The value a dynamic relocation (SHT_RELA) puts at vaddr — PIEs may leave
 * the word in the file 0 and say it only there: RELATIVE, or an absolute
 * 64-bit one against a symbol (x86-64 and arm64). False if none does.
 */
bool sonde_elf_reloc_at(const struct sonde_elf *f, uint64_t vaddr, uint64_t *val);

/* ---- segments ---- */

/* Has a program header of this type (PT_INTERP: a program, not a library). */
bool sonde_elf_has_phdr(const struct sonde_elf *f, uint32_t p_type);
/* The file bytes of [vaddr, vaddr+len) if they lie in one PT_LOAD's file
 * part (*off, if given, gets their file offset); NULL otherwise. */
const uint8_t *sonde_elf_at(const struct sonde_elf *f, uint64_t vaddr, uint64_t len, uint64_t *off);
/* The virtual address of file offset off, if a PT_LOAD maps it. */
bool sonde_elf_vaddr_of(const struct sonde_elf *f, uint64_t off, uint64_t *vaddr);

#endif
