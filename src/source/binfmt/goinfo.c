/* SPDX-License-Identifier: MIT */
/*
 * Go binaries (contract in goinfo.h): build info, crypto/tls functions and
 * their return instructions, struct offsets, the TCPConn itab.
 *
 * The file is opened by the ELF reader (elf.h) and read through libelf's
 * mapping; every address and offset taken from the file is checked against
 * the mapping before use. The functions are disassembled by godisasm.c.
 * Heap use is capstone's handle and, when DWARF is read, libdw's
 * decompressed debug sections (capped: MAX_DWARF).
 *
 * Formats, as read here (Go's own readers are debug/buildinfo and
 * debug/gosym in the Go source tree):
 *
 *  - Build info: 32 bytes at the start of `.go.buildinfo` (16-aligned in the
 *    writable data when section headers are gone): "\xff Go buildinf:",
 *    pointer size, flags (bit 0 big-endian, bit 1 inline strings). Inline
 *    (go1.18+): two uvarint-prefixed strings follow at offset 32, the first
 *    is the version. Otherwise (go1.13-1.17): at offset 16 two pointers to Go
 *    string headers {data, len}, the first is the version's.
 *  - pcln table (`.gopclntab`, `.data.rel.ro.gopclntab` in PIEs; searched
 *    for in the read-only data, then the writable, when section headers are
 *    gone): magic, two zero bytes, instruction quantum, pointer size, then
 *    words:
 *      go1.2  0xfffffffb: nfunc; the function table follows the header:
 *             {entry, funcoff} uintptr pairs, offsets from the table start.
 *      go1.16 0xfffffffa: nfunc, nfiles, funcnameoff, cuoff, filetaboff,
 *             pctaboff, pclnoff; {entry, funcoff} uintptr pairs at pclnoff.
 *      go1.18 0xfffffff0 and go1.20 0xfffffff1 (same layout): nfunc, nfiles,
 *             textStart, funcnameoff, cuoff, filetaboff, pctaboff, pclnoff;
 *             {entryoff, funcoff} uint32 pairs at pclnoff, entry = textStart
 *             + entryoff. textStart is runtime.text, not the start of .text:
 *             gcc-linked programs (-linkmode=external) have C code first.
 *    Function table: nfunc pairs, then the end address of the last function.
 *    funcoff is relative to the function table (go1.16+) or the pcln table
 *    (go1.2) and points at a _func: entry (uint32 entryoff in go1.18+, else
 *    uintptr), then int32 nameoff into the name table (go1.16+) or the pcln
 *    table (go1.2); names are NUL-terminated.
 */
#include "source/binfmt/goinfo.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/binfmt/elf.h"
#include "source/binfmt/godisasm.h"

#define MAX_SCAN (256u << 20) /* bytes searched for a magic when sections are gone */
#define MAX_DWARF (512ull << 20) /* decompressed debug sections libdw may hold */
#define MAX_VERSION 256u /* longest version string read */
#define MAX_NAME (64u << 10) /* longest function name in a pcln table */
#define MAX_FUNC (1u << 20) /* largest function disassembled */

static const char READ_SYM[] = "crypto/tls.(*Conn).Read";
static const char WRITE_SYM[] = "crypto/tls.(*Conn).Write";
static const char TCPCONN_CLOSE[] = "net.(*TCPConn).Close";
static const char *const ITAB_SYMS[] = {
	"go:itab.*net.TCPConn,net.Conn", /* go1.20+ */
	"go.itab.*net.TCPConn,net.Conn", /* before */
};
static const char BUILDINFO_MAGIC[14] = "\xff Go buildinf:";

/*
 * Offsets when the binary has no DWARF. From the Go source, unchanged since
 * go1.9 (internal/poll appeared): tls.Conn starts with `conn net.Conn`;
 * net.conn is `struct{ fd *netFD }`; net.netFD starts with `pfd poll.FD`;
 * poll.FD starts with `fdmu fdMutex` (uint64 state, uint32 rsema, uint32
 * wsema: 16 bytes), then `Sysfd int`. Checked against the DWARF of go1.19.8
 * binaries for amd64 and arm64 (tests/unit/test_goinfo.c does it on every
 * run, with whatever Go the machine has).
 */
enum { TABLE_CONN = 0, TABLE_FD = 0, TABLE_PFD = 0, TABLE_SYSFD = 16 };

/* ============================================================== image === */

struct img {
	const char *path;
	struct sonde_elf f;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct img *im, const char *fmt, ...)
{
	if (!im->errlen)
		return -1;
	int n = snprintf(im->err, im->errlen, "%s: ", im->path);
	if (n < 0 || (size_t)n >= im->errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(im->err + n, im->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t rd_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static uint64_t rd_word(const uint8_t *p, unsigned n, bool big_endian)
{
	if (!big_endian)
		return rd_le(p, n);
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* A pointer-sized word at vaddr, relocated if the file holds 0 there. */
static bool img_word(const struct img *im, uint64_t vaddr, unsigned ptrsize, bool big_endian,
		     uint64_t *val)
{
	const uint8_t *p = sonde_elf_at(&im->f, vaddr, ptrsize, NULL);
	if (!p)
		return false;
	*val = rd_word(p, ptrsize, big_endian);
	if (!*val && im->f.eh.e_type == ET_DYN)
		sonde_elf_reloc_at(&im->f, vaddr, val);
	return true;
}

/* A word of n bytes at p in the file; a PIE may hold 0 there and give the
 * value only in a dynamic relocation. */
static uint64_t img_word_at(const struct img *im, const uint8_t *p, unsigned n)
{
	uint64_t v = rd_le(p, n), va;
	if (!v && n == 8 && im->f.eh.e_type == ET_DYN &&
	    sonde_elf_vaddr_of(&im->f, (uint64_t)(p - im->f.data), &va))
		sonde_elf_reloc_at(&im->f, va, &v);
	return v;
}

/*
 * Search the file part of the PT_LOAD segments (the writable ones, or the
 * read-only ones; never code) at the given alignment for what ok() accepts;
 * the first hit is returned with the bytes to its segment's end in *avail.
 * At most MAX_SCAN bytes are searched.
 */
static const uint8_t *img_scan(const struct img *im, bool writable, size_t align,
			       bool (*ok)(const struct img *, const uint8_t *, uint64_t),
			       uint64_t *avail)
{
	uint64_t budget = MAX_SCAN;
	for (size_t i = 0; i < im->f.nloads && budget; i++) {
		const GElf_Phdr *ph = &im->f.loads[i];
		if (!!(ph->p_flags & PF_W) != writable || (ph->p_flags & PF_X) ||
		    ph->p_offset > im->f.size)
			continue;
		uint64_t len = ph->p_filesz;
		if (len > im->f.size - ph->p_offset)
			len = im->f.size - ph->p_offset;
		if (len > budget)
			len = budget;
		budget -= len;
		const uint8_t *base = im->f.data + ph->p_offset;
		uint64_t skew = (align - ph->p_vaddr % align) % align;
		for (uint64_t o = skew; o + 4 <= len; o += align) {
			if (ok(im, base + o, len - o)) {
				*avail = len - o;
				return base + o;
			}
		}
	}
	return NULL;
}

/* ========================================================= build info === */

/* A decimal number of at most 6 digits at *p, which moves past it. */
static bool parse_num(const char **p, int *v)
{
	int n = 0, k = 0;
	while (**p >= '0' && **p <= '9' && k < 6) {
		n = n * 10 + (**p - '0');
		(*p)++;
		k++;
	}
	*v = n;
	return k > 0 && !(**p >= '0' && **p <= '9');
}

/* Major and minor from "go1.19.8", "go1.21rc2", "devel go1.23-abc ...". */
static bool parse_version(const char *v, int *major, int *minor)
{
	for (const char *p = strstr(v, "go"); p; p = strstr(p + 1, "go")) {
		const char *q = p + 2;
		int ma, mi;
		if (parse_num(&q, &ma) && ma >= 1 && *q++ == '.' && parse_num(&q, &mi)) {
			*major = ma;
			*minor = mi;
			return true;
		}
	}
	return false;
}

static bool buildinfo_ok(const struct img *im, const uint8_t *p, uint64_t avail)
{
	(void)im;
	return avail >= 32 && !memcmp(p, BUILDINFO_MAGIC, sizeof(BUILDINFO_MAGIC)) &&
	       (p[14] == 4 || p[14] == 8);
}

/*
 * The build info header: its section, or, in a file without section
 * headers, a search of the writable data. (A file with section headers but
 * no `.go.buildinfo` is not Go, or older than go1.13: searching every such
 * program's data would make discovery slow for nothing.)
 */
static const uint8_t *find_buildinfo(const struct img *im, uint64_t *avail)
{
	GElf_Shdr sh;
	if (sonde_elf_section(&im->f, ".go.buildinfo", &sh)) {
		const uint8_t *p = sonde_elf_section_bytes(&im->f, &sh);
		if (p && sh.sh_size >= 32 && !memcmp(p, BUILDINFO_MAGIC, sizeof(BUILDINFO_MAGIC))) {
			*avail = sh.sh_size;
			return p;
		}
	}
	if (im->f.have_shstr)
		return NULL;
	return img_scan(im, true, 16, buildinfo_ok, avail);
}

/* Version string out of the build info at bi; -1 with err set. */
static int read_version(struct img *im, const uint8_t *bi, uint64_t avail,
			struct sonde_go_binary *out)
{
	unsigned ptrsize = bi[14];
	bool big_endian = bi[15] & 1;
	char v[MAX_VERSION + 1];
	if (bi[15] & 2) {
		/* go1.18+: uvarint length, bytes */
		uint64_t len = 0;
		uint64_t o = 32;
		for (unsigned shift = 0;; shift += 7) {
			if (o >= avail || shift > 63)
				return fail(im, "damaged Go build info (version length)");
			len |= (uint64_t)(bi[o] & 0x7f) << shift;
			if (!(bi[o++] & 0x80))
				break;
		}
		if (len > avail - o)
			return fail(im, "damaged Go build info (version runs past the section)");
		if (len > MAX_VERSION)
			len = MAX_VERSION;
		memcpy(v, bi + o, len);
		v[len] = 0;
	} else {
		/* go1.13-1.17: pointer to a string header {data, len} */
		if (ptrsize != 8 && ptrsize != 4)
			return fail(im, "damaged Go build info (pointer size %u)", ptrsize);
		uint64_t hdr = rd_word(bi + 16, ptrsize, big_endian), data, len, at;
		if (!hdr && sonde_elf_vaddr_of(&im->f, (uint64_t)(bi - im->f.data) + 16, &at))
			img_word(im, at, ptrsize, big_endian, &hdr); /* a PIE's relocation */
		if (!img_word(im, hdr, ptrsize, big_endian, &data) ||
		    !img_word(im, hdr + ptrsize, ptrsize, big_endian, &len))
			return fail(im, "damaged Go build info (version pointer %#llx)",
				    (unsigned long long)hdr);
		if (len > MAX_VERSION)
			len = MAX_VERSION;
		const uint8_t *s = sonde_elf_at(&im->f, data, len, NULL);
		if (!s)
			return fail(im, "damaged Go build info (version string at %#llx)",
				    (unsigned long long)data);
		memcpy(v, s, len);
		v[len] = 0;
	}
	if (!parse_version(v, &out->major, &out->minor))
		return fail(im, "unreadable Go version \"%.60s\" in the build info", v);
	size_t n = strlen(v);
	if (n >= sizeof(out->go_version))
		n = sizeof(out->go_version) - 1; /* cut to fit */
	memcpy(out->go_version, v, n);
	out->go_version[n] = 0;
	return 0;
}

/* ========================================================== pcln table === */

struct pcln {
	const uint8_t *p;
	uint64_t len;
	uint32_t magic;
	unsigned ptrsize;
	uint64_t nfunc;
	uint64_t text_start; /* go1.18+: base of entryoff */
	const uint8_t *functab; /* 2*nfunc+1 fields */
	unsigned field; /* bytes per functab field: 4 (go1.18+) or ptrsize */
	const uint8_t *funcdata; /* base of funcoff */
	uint64_t funcdata_len;
	const uint8_t *names; /* base of nameoff */
	uint64_t names_len;
	unsigned nameoff_at; /* offset of nameoff in a _func */
};

enum {
	PCLN_GO12 = 0xfffffffb,
	PCLN_GO116 = 0xfffffffa,
	PCLN_GO118 = 0xfffffff0,
	PCLN_GO120 = 0xfffffff1,
};

/* Fill t from the table at p (len bytes); false if it is not a sane one. */
static bool pcln_parse(const struct img *im, const uint8_t *p, uint64_t len, struct pcln *t)
{
	memset(t, 0, sizeof(*t));
	if (len < 16)
		return false;
	t->p = p;
	t->len = len;
	t->magic = (uint32_t)rd_le(p, 4);
	t->ptrsize = p[7];
	if (p[4] || p[5] || !(p[6] == 1 || p[6] == 2 || p[6] == 4) ||
	    !(t->ptrsize == 4 || t->ptrsize == 8))
		return false;
	unsigned nwords;
	switch (t->magic) {
	case PCLN_GO12: nwords = 1; break;
	case PCLN_GO116: nwords = 7; break;
	case PCLN_GO118:
	case PCLN_GO120: nwords = 8; break;
	default: return false;
	}
	uint64_t w[8];
	if (8 + (uint64_t)nwords * t->ptrsize > len)
		return false;
	for (unsigned i = 0; i < nwords; i++)
		w[i] = rd_le(p + 8 + i * t->ptrsize, t->ptrsize);
	t->nfunc = w[0];
	uint64_t ftab;
	switch (t->magic) {
	case PCLN_GO12:
		ftab = 8 + t->ptrsize;
		t->field = t->ptrsize;
		t->funcdata = p;
		t->funcdata_len = len;
		t->names = p;
		t->names_len = len;
		t->nameoff_at = t->ptrsize;
		break;
	case PCLN_GO116:
		if (w[2] >= len || w[6] >= len)
			return false;
		ftab = w[6];
		t->field = t->ptrsize;
		t->names = p + w[2];
		t->names_len = len - w[2];
		t->nameoff_at = t->ptrsize;
		break;
	default:
		if (w[3] >= len || w[7] >= len)
			return false;
		ftab = w[7];
		t->field = 4;
		t->text_start = img_word_at(im, p + 8 + 2 * t->ptrsize, t->ptrsize);
		t->names = p + w[3];
		t->names_len = len - w[3];
		t->nameoff_at = 4;
		if (!t->text_start) {
			/* unrelocated (never seen so far): .text starts at runtime.text */
			GElf_Shdr sh;
			if (!sonde_elf_section(&im->f, ".text", &sh))
				return false;
			t->text_start = sh.sh_addr;
		}
		break;
	}
	if (ftab >= len || !t->nfunc || t->nfunc > (len - ftab) / (2ull * t->field))
		return false;
	t->functab = p + ftab;
	if (t->magic != PCLN_GO12) {
		t->funcdata = p + ftab;
		t->funcdata_len = len - ftab;
	}
	return true;
}

/* Function i's entry address; i == nfunc gives the end of the last one. */
static uint64_t pcln_entry(const struct img *im, const struct pcln *t, uint64_t i)
{
	const uint8_t *p = t->functab + 2 * i * t->field;
	if (t->magic == PCLN_GO118 || t->magic == PCLN_GO120)
		return t->text_start + rd_le(p, 4);
	return img_word_at(im, p, t->field);
}

/* Function i's name, or NULL if its record is out of bounds. */
static const char *pcln_name(const struct pcln *t, uint64_t i)
{
	uint64_t funcoff = rd_le(t->functab + (2 * i + 1) * t->field, t->field);
	if (funcoff >= t->funcdata_len || t->funcdata_len - funcoff < t->nameoff_at + 4u)
		return NULL;
	int32_t nameoff = (int32_t)rd_le(t->funcdata + funcoff + t->nameoff_at, 4);
	if (nameoff < 0 || (uint64_t)nameoff >= t->names_len)
		return NULL;
	const char *s = (const char *)t->names + nameoff;
	uint64_t room = t->names_len - (uint64_t)nameoff;
	if (!memchr(s, 0, room < MAX_NAME ? room : MAX_NAME))
		return NULL;
	return s;
}

/* A plausible table: a known magic, its first and last functions have
 * names and the entries rise. Used to accept a table found by searching. */
static bool pcln_ok(const struct img *im, const uint8_t *p, uint64_t avail)
{
	uint32_t m = (uint32_t)rd_le(p, 4);
	if (m != PCLN_GO120 && m != PCLN_GO118 && m != PCLN_GO116 && m != PCLN_GO12)
		return false;
	struct pcln t;
	if (!pcln_parse(im, p, avail, &t))
		return false;
	return pcln_name(&t, 0) && pcln_name(&t, t.nfunc - 1) &&
	       pcln_entry(im, &t, 0) < pcln_entry(im, &t, t.nfunc);
}

/* Open the pcln table: its section, or a search of the read-only data. */
static int pcln_open(struct img *im, struct pcln *t)
{
	static const char *const names[] = { ".gopclntab", ".data.rel.ro.gopclntab" };
	GElf_Shdr sh;
	const uint8_t *p = NULL;
	uint64_t len = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !p; i++) {
		if (sonde_elf_section(&im->f, names[i], &sh)) {
			p = sonde_elf_section_bytes(&im->f, &sh);
			len = sh.sh_size;
		}
	}
	if (!p) {
		/* read-only data, or .data.rel.ro in a PIE */
		p = img_scan(im, false, 8, pcln_ok, &len);
		if (!p)
			p = img_scan(im, true, 8, pcln_ok, &len);
		if (!p)
			return fail(im, "stripped Go binary without a pcln table sonde can find");
	}
	if (!pcln_parse(im, p, len, t)) {
		uint32_t m = len >= 4 ? (uint32_t)rd_le(p, 4) : 0;
		if (m == PCLN_GO12 || m == PCLN_GO116 || m == PCLN_GO118 || m == PCLN_GO120)
			return fail(im, "damaged Go pcln table (magic %#x)", m);
		return fail(im,
			    "unsupported Go pcln table (magic %#x; sonde knows those of go1.2, "
			    "1.16, 1.18 and 1.20)",
			    m);
	}
	return 0;
}

/* Entry and size of the function called name; false if absent. */
static bool pcln_find(const struct img *im, const struct pcln *t, const char *name, uint64_t *entry,
		      uint64_t *size)
{
	for (uint64_t i = 0; i < t->nfunc; i++) {
		const char *n = pcln_name(t, i);
		if (!n || strcmp(n, name))
			continue;
		uint64_t a = pcln_entry(im, t, i), b = pcln_entry(im, t, i + 1);
		if (b <= a)
			return false;
		*entry = a;
		*size = b - a;
		return true;
	}
	return false;
}

/* ============================================================= symtab === */

struct syms {
	bool have_symtab;
	GElf_Sym read, write, itab;
	bool has_read, has_write, has_itab;
};

/* sonde_elf_sym_fn: the two crypto/tls functions and the TCPConn itab. */
static bool syms_take(const char *name, const GElf_Sym *sym, void *arg)
{
	struct syms *s = arg;
	if (name[0] != 'c' && name[0] != 'g')
		return false; /* not crypto/... nor go.itab/go:itab */
	if (GELF_ST_TYPE(sym->st_info) == STT_FUNC && !strcmp(name, READ_SYM)) {
		s->read = *sym;
		s->has_read = true;
	} else if (GELF_ST_TYPE(sym->st_info) == STT_FUNC && !strcmp(name, WRITE_SYM)) {
		s->write = *sym;
		s->has_write = true;
	} else if (!strcmp(name, ITAB_SYMS[0]) || !strcmp(name, ITAB_SYMS[1])) {
		s->itab = *sym;
		s->has_itab = true;
	}
	return false;
}

static void scan_symtab(const struct img *im, struct syms *s)
{
	memset(s, 0, sizeof(*s));
	s->have_symtab = sonde_elf_symbols(&im->f, SHT_SYMTAB, syms_take, s) > 0;
}

/* ===================================================== return points === */

/* Every return instruction of f (entry and size set) into f. */
static int find_rets(struct img *im, enum sonde_go_arch arch, const char *name,
		     struct sonde_go_func *f)
{
	if (!sonde_elf_at(&im->f, f->vaddr, f->size, &f->file_off))
		return fail(im, "%s at %#llx (%llu bytes) is not in the file's loaded code", name,
			    (unsigned long long)f->vaddr, (unsigned long long)f->size);
	if (f->size > MAX_FUNC)
		return fail(im, "%s is %llu bytes long: not a function sonde disassembles", name,
			    (unsigned long long)f->size);
	char why[160];
	if (sonde_go_disasm(im->f.fd, arch, name, f, why, sizeof(why)) < 0)
		return fail(im, "%s", why);
	return 0;
}

/* ============================================================== DWARF === */

/* The struct members the probes follow, by DWARF names. */
static const struct {
	const char *type, *member;
} DWARF_WANT[4] = {
	{ "crypto/tls.Conn", "conn" },
	{ "net.conn", "fd" },
	{ "net.netFD", "pfd" },
	{ "internal/poll.FD", "Sysfd" },
};

/* Decompressed size of the debug sections, 0 if there is no .debug_info. */
static uint64_t dwarf_bytes(const struct img *im)
{
	uint64_t total = 0;
	bool info = false;
	for (Elf_Scn *s = elf_nextscn(im->f.elf, NULL); s; s = elf_nextscn(im->f.elf, s)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(s, &sh) || !im->f.have_shstr)
			continue;
		const char *n = elf_strptr(im->f.elf, im->f.shstrndx, sh.sh_name);
		if (!n || (strncmp(n, ".debug_", 7) && strncmp(n, ".zdebug_", 8)))
			continue;
		info |= !strcmp(n, ".debug_info") || !strcmp(n, ".zdebug_info");
		uint64_t sz = sh.sh_size;
		GElf_Chdr ch;
		if ((sh.sh_flags & SHF_COMPRESSED) && gelf_getchdr(s, &ch))
			sz = ch.ch_size;
		else if (!strncmp(n, ".zdebug_", 8) && sh.sh_size >= 12 &&
			 sh.sh_offset <= im->f.size - 12 &&
			 !memcmp(im->f.data + sh.sh_offset, "ZLIB", 4))
			sz = rd_word(im->f.data + sh.sh_offset + 4, 8, true);
		total += sz;
	}
	return info ? total : 0;
}

static bool member_offset(Dwarf_Die *st, const char *member, uint32_t *off)
{
	Dwarf_Die m;
	if (dwarf_child(st, &m) != 0)
		return false;
	do {
		if (dwarf_tag(&m) != DW_TAG_member)
			continue;
		const char *n = dwarf_diename(&m);
		if (!n || strcmp(n, member))
			continue;
		Dwarf_Attribute a;
		if (!dwarf_attr(&m, DW_AT_data_member_location, &a))
			return false;
		Dwarf_Word w;
		if (dwarf_formudata(&a, &w) == 0 && w <= UINT32_MAX) {
			*off = (uint32_t)w;
			return true;
		}
		Dwarf_Op *ops;
		size_t nops;
		if (dwarf_getlocation(&a, &ops, &nops) == 0 && nops == 1 &&
		    ops[0].atom == DW_OP_plus_uconst && ops[0].number <= UINT32_MAX) {
			*off = (uint32_t)ops[0].number;
			return true;
		}
		return false;
	} while (dwarf_siblingof(&m, &m) == 0);
	return false;
}

/* The four offsets from DWARF; false (out untouched) unless all are found. */
static bool dwarf_offsets(const struct img *im, struct sonde_go_binary *out)
{
	uint64_t bytes = dwarf_bytes(im);
	if (!bytes || bytes > MAX_DWARF)
		return false;
	Dwarf *dw = dwarf_begin_elf(im->f.elf, DWARF_C_READ, NULL);
	if (!dw)
		return false;
	uint32_t off[4];
	unsigned found = 0;
	Dwarf_Off cuoff = 0, next;
	size_t hsize;
	while (found != 0xf && dwarf_nextcu(dw, cuoff, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, d;
		if (dwarf_offdie(dw, cuoff + hsize, &cu) && dwarf_child(&cu, &d) == 0) {
			do {
				if (dwarf_tag(&d) != DW_TAG_structure_type)
					continue;
				const char *n = dwarf_diename(&d);
				for (unsigned i = 0; n && i < 4; i++) {
					if (!(found & 1u << i) && !strcmp(n, DWARF_WANT[i].type) &&
					    member_offset(&d, DWARF_WANT[i].member, &off[i]))
						found |= 1u << i;
				}
			} while (found != 0xf && dwarf_siblingof(&d, &d) == 0);
		}
		cuoff = next;
	}
	dwarf_end(dw);
	if (found != 0xf)
		return false;
	out->tlsconn_conn_off = off[0];
	out->netconn_fd_off = off[1];
	out->netfd_pfd_off = off[2];
	out->pfd_sysfd_off = off[3];
	return true;
}

/* ================================================================ API === */

const char *sonde_go_arch_name(enum sonde_go_arch arch)
{
	switch (arch) {
	case SONDE_GO_AMD64: return "amd64";
	case SONDE_GO_ARM64: return "arm64";
	}
	return "?";
}

/* Entry and size of one crypto/tls function: .symtab, else the pcln table
 * (opened on first need into *t). */
static int locate(struct img *im, const struct syms *s, bool has, const GElf_Sym *sym,
		  const char *name, struct pcln *t, bool *t_open, struct sonde_go_func *f)
{
	if (has && sym->st_value && sym->st_size) {
		f->vaddr = sym->st_value;
		f->size = sym->st_size;
		return 0;
	}
	if (!*t_open) {
		if (pcln_open(im, t) < 0)
			return -1;
		*t_open = true;
	}
	if (!pcln_find(im, t, name, &f->vaddr, &f->size))
		return fail(im, "no crypto/tls in this Go program (%s not found in %s)", name,
			    s->have_symtab ? "the symbol or pcln table" : "the pcln table");
	return 0;
}

static int inspect(struct img *im, struct sonde_go_binary *out)
{
	uint64_t avail = 0;
	const uint8_t *bi = find_buildinfo(im, &avail);
	if (!bi) {
		GElf_Shdr sh;
		if (!sonde_elf_section(&im->f, ".gopclntab", &sh) &&
		    !sonde_elf_section(&im->f, ".data.rel.ro.gopclntab", &sh))
			return fail(im, "not a Go program (no Go build info or pcln table)");
		return fail(im, "Go program without build info (older than go1.13?): its "
				"version and calling convention are unknown");
	}
	switch (im->f.eh.e_machine) {
	case EM_X86_64: out->arch = SONDE_GO_AMD64; break;
	case EM_AARCH64: out->arch = SONDE_GO_ARM64; break;
	default:
		return fail(im, "Go program for an unsupported architecture (ELF machine %u)",
			    (unsigned)im->f.eh.e_machine);
	}
	if (read_version(im, bi, avail, out) < 0)
		return -1;
	bool newer = out->major > 1;
	out->regabi = newer || (out->arch == SONDE_GO_AMD64 ? out->minor >= 17 : out->minor >= 18);
	out->pie = im->f.eh.e_type == ET_DYN;
	if (!sonde_elf_vaddr_of(&im->f, 0, &out->base_vaddr) && im->f.nloads)
		out->base_vaddr = im->f.loads[0].p_vaddr - im->f.loads[0].p_offset;

	struct syms s;
	scan_symtab(im, &s);
	out->stripped = !s.have_symtab;
	struct pcln t;
	bool t_open = false;
	if (locate(im, &s, s.has_read, &s.read, READ_SYM, &t, &t_open, &out->read) < 0 ||
	    locate(im, &s, s.has_write, &s.write, WRITE_SYM, &t, &t_open, &out->write) < 0)
		return -1;
	if (find_rets(im, out->arch, READ_SYM, &out->read) < 0 ||
	    find_rets(im, out->arch, WRITE_SYM, &out->write) < 0)
		return -1;

	out->offsets_from_dwarf = dwarf_offsets(im, out);
	if (!out->offsets_from_dwarf) {
		out->tlsconn_conn_off = TABLE_CONN;
		out->netconn_fd_off = TABLE_FD;
		out->netfd_pfd_off = TABLE_PFD;
		out->pfd_sysfd_off = TABLE_SYSFD;
	}

	/* itab layout: inter *interfacetype, _type *_type, hash, ... */
	uint64_t type;
	if (s.has_itab && s.itab.st_value && img_word(im, s.itab.st_value + 8, 8, false, &type) &&
	    type) {
		out->tcpconn_itab_vaddr = s.itab.st_value;
		out->tcpconn_type_vaddr = type;
	}
	/* Without symbols the type is unknown, but the pcln table still names
	 * functions: the itab's first method (net.Conn's are sorted: Close
	 * first) is net.(*TCPConn).Close, which tells the type as surely. */
	if (!t_open && pcln_open(im, &t) == 0)
		t_open = true;
	uint64_t size;
	if (t_open && !pcln_find(im, &t, TCPCONN_CLOSE, &out->tcpconn_close_vaddr, &size))
		out->tcpconn_close_vaddr = 0;
	return 0;
}

/* The open error of sonde_elf_open, as a sentence. */
static const char *open_error(int err)
{
	switch (err) {
	case EINVAL: return "not a regular file";
	case ENOEXEC: return "not an ELF file";
	case EBADMSG: return "damaged ELF header";
	case ENOSYS: return "libelf is too old";
	}
	return strerror(err);
}

int sonde_go_inspect(const char *path, struct sonde_go_binary *out, char *err, size_t errlen)
{
	struct img im = { .path = path, .err = err, .errlen = errlen };
	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = 0;
	if (sonde_elf_open(&im.f, path) < 0)
		return fail(&im, "%s", open_error(errno));
	int rc = -1;
	if (im.f.eh.e_ident[EI_CLASS] != ELFCLASS64 || im.f.eh.e_ident[EI_DATA] != ELFDATA2LSB)
		fail(&im, "not a 64-bit little-endian ELF file (the only kind sonde reads for Go)");
	else if (!im.f.nloads)
		fail(&im, "ELF file without loadable segments");
	else
		rc = inspect(&im, out);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	sonde_elf_close(&im.f);
	return rc;
}
