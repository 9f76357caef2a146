/* SPDX-License-Identifier: MIT */
/*
 * The ELF reader (contract in elf.h): libelf does the parsing; what is read
 * straight from its mapping is bounds-checked here.
 */
#include "source/binfmt/elf.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* The header, section names and loadable segments of the open file. */
static int elf_index(struct sonde_elf *f)
{
	f->data = (const uint8_t *)elf_rawfile(f->elf, &f->size);
	if (!f->data || !gelf_getehdr(f->elf, &f->eh))
		return EBADMSG;
	size_t shnum = 0;
	f->have_shstr = elf_getshdrnum(f->elf, &shnum) == 0 && shnum > 0 &&
			elf_getshdrstrndx(f->elf, &f->shstrndx) == 0 && f->shstrndx != SHN_UNDEF;
	size_t phnum = 0;
	if (elf_getphdrnum(f->elf, &phnum) < 0)
		phnum = 0;
	for (size_t i = 0; i < phnum && f->nloads < SONDE_ELF_MAX_LOADS; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(f->elf, (int)i, &ph) && ph.p_type == PT_LOAD)
			f->loads[f->nloads++] = ph;
	}
	return 0;
}

int sonde_elf_open(struct sonde_elf *f, const char *path)
{
	memset(f, 0, sizeof(*f));
	/* libelf's one-time setup; idempotent, and libbpf does the same */
	if (elf_version(EV_CURRENT) == EV_NONE) {
		f->fd = -1;
		errno = ENOSYS;
		return -1;
	}
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return -1;
	int err = 0;
	if (fstat(f->fd, &f->st) < 0)
		err = errno;
	else if (!S_ISREG(f->st.st_mode))
		err = EINVAL;
	else if (!(f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL)) ||
		 elf_kind(f->elf) != ELF_K_ELF)
		err = ENOEXEC;
	else
		err = elf_index(f);
	if (!err)
		return 0;
	sonde_elf_close(f);
	errno = err;
	return -1;
}

void sonde_elf_close(struct sonde_elf *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	f->elf = NULL;
	f->fd = -1;
}

/* ============================================================ sections === */

const char *sonde_elf_section_name(const struct sonde_elf *f, const GElf_Shdr *sh)
{
	return f->have_shstr ? elf_strptr(f->elf, f->shstrndx, sh->sh_name) : NULL;
}

Elf_Scn *sonde_elf_section(const struct sonde_elf *f, const char *name, GElf_Shdr *sh)
{
	if (!f->have_shstr)
		return NULL;
	for (Elf_Scn *s = elf_nextscn(f->elf, NULL); s; s = elf_nextscn(f->elf, s)) {
		if (!gelf_getshdr(s, sh))
			continue;
		const char *n = sonde_elf_section_name(f, sh);
		if (n && !strcmp(n, name))
			return s;
	}
	return NULL;
}

const uint8_t *sonde_elf_section_bytes(const struct sonde_elf *f, const GElf_Shdr *sh)
{
	if (sh->sh_type == SHT_NOBITS || (sh->sh_flags & SHF_COMPRESSED) ||
	    sh->sh_offset > f->size || sh->sh_size > f->size - sh->sh_offset)
		return NULL;
	return f->data + sh->sh_offset;
}

static bool rodata_section(const struct sonde_elf *f, size_t shstrndx, Elf_Scn *scn, const char **p,
			   size_t *n)
{
	GElf_Shdr sh;
	if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_ALLOC) ||
	    (sh.sh_flags & (SHF_WRITE | SHF_EXECINSTR)))
		return false;
	const char *name = elf_strptr(f->elf, shstrndx, sh.sh_name);
	if (!name || strncmp(name, ".rodata", 7))
		return false;
	if (sh.sh_offset > f->size || sh.sh_size > f->size - sh.sh_offset)
		return false;
	*p = (const char *)f->data + sh.sh_offset;
	*n = sh.sh_size;
	return true;
}

static bool rodata_segments(const struct sonde_elf *f, size_t budget, sonde_elf_bytes_fn fn,
			    void *arg)
{
	size_t n = 0;
	if (elf_getphdrnum(f->elf, &n) < 0)
		return false;
	for (size_t i = 0; i < n && budget; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(f->elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    (ph.p_flags & (PF_W | PF_X)) || ph.p_offset > f->size ||
		    ph.p_filesz > f->size - ph.p_offset)
			continue;
		size_t len = ph.p_filesz < budget ? ph.p_filesz : budget;
		budget -= len;
		if (fn((const char *)f->data + ph.p_offset, len, arg))
			return true;
	}
	return false;
}

bool sonde_elf_rodata_each(const struct sonde_elf *f, size_t budget, sonde_elf_bytes_fn fn,
			   void *arg)
{
	size_t shstrndx, nsec = 0;
	if (elf_getshdrnum(f->elf, &nsec) < 0 || nsec == 0 ||
	    elf_getshdrstrndx(f->elf, &shstrndx) < 0)
		return rodata_segments(f, budget, fn, arg);
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(f->elf, scn)) && budget) {
		const char *p;
		size_t n;
		if (!rodata_section(f, shstrndx, scn, &p, &n))
			continue;
		n = n < budget ? n : budget;
		budget -= n;
		if (fn(p, n, arg))
			return true;
	}
	return false;
}

/* ============================================= symbols, dynamic, relocs === */

/* One symbol table; true if fn stopped the walk. */
static bool symtab_each(const struct sonde_elf *f, Elf_Scn *scn, const GElf_Shdr *sh,
			sonde_elf_sym_fn fn, void *arg)
{
	Elf_Data *syms = elf_getdata(scn, NULL);
	Elf_Scn *strscn = elf_getscn(f->elf, sh->sh_link);
	Elf_Data *strs = strscn ? elf_getdata(strscn, NULL) : NULL;
	/* A string table ending in NUL: every name in it is terminated. */
	if (!syms || !strs || !strs->d_buf || !strs->d_size ||
	    ((const char *)strs->d_buf)[strs->d_size - 1])
		return false;
	size_t n = sh->sh_size / sh->sh_entsize;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		if (!gelf_getsym(syms, (int)i, &s) || !s.st_name || s.st_name >= strs->d_size)
			continue;
		if (fn((const char *)strs->d_buf + s.st_name, &s, arg))
			return true;
	}
	return false;
}

size_t sonde_elf_symbols(const struct sonde_elf *f, uint32_t sh_type, sonde_elf_sym_fn fn,
			 void *arg)
{
	size_t tables = 0;
	bool stopped = false;
	for (Elf_Scn *scn = elf_nextscn(f->elf, NULL); scn; scn = elf_nextscn(f->elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize)
			continue;
		if (sh_type ? sh.sh_type != sh_type
			    : sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)
			continue;
		tables++;
		if (!stopped)
			stopped = symtab_each(f, scn, &sh, fn, arg);
	}
	return tables;
}

static bool dyn_has_string(int64_t tag)
{
	return tag == DT_NEEDED || tag == DT_SONAME || tag == DT_RPATH || tag == DT_RUNPATH;
}

void sonde_elf_dynamic(const struct sonde_elf *f, sonde_elf_dyn_fn fn, void *arg)
{
	for (Elf_Scn *scn = elf_nextscn(f->elf, NULL); scn; scn = elf_nextscn(f->elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; data && i < n; i++) {
			GElf_Dyn dyn;
			if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag == DT_NULL)
				break;
			const char *s = dyn_has_string(dyn.d_tag)
						? elf_strptr(f->elf, sh.sh_link, dyn.d_un.d_val)
						: NULL;
			if (fn(&dyn, s, arg))
				return;
		}
	}
}

/* The value relocation r gives, from the symbols of section symscn. */
static bool rela_value(const struct sonde_elf *f, const GElf_Rela *r, size_t symscn, uint64_t *val)
{
	bool x86 = f->eh.e_machine == EM_X86_64;
	unsigned relative = x86 ? 8 /* R_X86_64_RELATIVE */ : 1027 /* R_AARCH64_RELATIVE */;
	unsigned abs64 = x86 ? 1 /* R_X86_64_64 */ : 257 /* R_AARCH64_ABS64 */;
	unsigned type = (unsigned)GELF_R_TYPE(r->r_info);
	if (type == relative) {
		*val = (uint64_t)r->r_addend;
		return true;
	}
	if (type != abs64)
		return false;
	Elf_Scn *ss = elf_getscn(f->elf, symscn);
	Elf_Data *sd = ss ? elf_getdata(ss, NULL) : NULL;
	GElf_Sym sym;
	if (!sd || !gelf_getsym(sd, (int)GELF_R_SYM(r->r_info), &sym))
		return false;
	*val = sym.st_value + (uint64_t)r->r_addend;
	return true;
}

bool sonde_elf_reloc_at(const struct sonde_elf *f, uint64_t vaddr, uint64_t *val)
{
	for (Elf_Scn *s = elf_nextscn(f->elf, NULL); s; s = elf_nextscn(f->elf, s)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(s, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
			continue;
		Elf_Data *d = elf_getdata(s, NULL);
		if (!d)
			continue;
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Rela r;
			if (gelf_getrela(d, (int)i, &r) && r.r_offset == vaddr)
				return rela_value(f, &r, sh.sh_link, val);
		}
	}
	return false;
}

/* ============================================================ segments === */

bool sonde_elf_has_phdr(const struct sonde_elf *f, uint32_t p_type)
{
	size_t n = 0;
	if (elf_getphdrnum(f->elf, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(f->elf, (int)i, &ph) && ph.p_type == p_type)
			return true;
	}
	return false;
}

const uint8_t *sonde_elf_at(const struct sonde_elf *f, uint64_t vaddr, uint64_t len, uint64_t *off)
{
	for (size_t i = 0; i < f->nloads; i++) {
		const GElf_Phdr *ph = &f->loads[i];
		if (vaddr < ph->p_vaddr || vaddr - ph->p_vaddr > ph->p_filesz ||
		    len > ph->p_filesz - (vaddr - ph->p_vaddr))
			continue;
		uint64_t o = ph->p_offset + (vaddr - ph->p_vaddr);
		if (o > f->size || len > f->size - o)
			return NULL;
		if (off)
			*off = o;
		return f->data + o;
	}
	return NULL;
}

bool sonde_elf_vaddr_of(const struct sonde_elf *f, uint64_t off, uint64_t *vaddr)
{
	for (size_t i = 0; i < f->nloads; i++) {
		const GElf_Phdr *ph = &f->loads[i];
		if (off >= ph->p_offset && off - ph->p_offset < ph->p_filesz) {
			*vaddr = ph->p_vaddr + (off - ph->p_offset);
			return true;
		}
	}
	return false;
}
