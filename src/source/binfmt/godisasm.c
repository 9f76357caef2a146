/* SPDX-License-Identifier: MIT */
/*
 * One Go function disassembled (contract in godisasm.h): its returns, its
 * stack check, its argument spills. capstone's handle and one copy of the
 * code are the only heap use, freed before returning.
 */
#include "source/binfmt/godisasm.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) static int say(char *err, size_t len, const char *fmt, ...)
{
	if (!len)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* ============================================================ spills === */

/*
 * Whether a function stores its first three register arguments (amd64 AX,
 * BX, CX; arm64 R0, R1, R2) in the caller's spill slots, 8, 16 and 24 bytes
 * above the stack pointer at its entry, before its first call. The frame is
 * set up by "push rbp" (Go 1.21+) and "sub rsp, N" on amd64, by
 * "str x30, [sp, #-N]!" on arm64, so the slots are [sp + depth + 8] and on.
 * What Go compiles (crypto/tls.(*Conn).Read has a defer and spills them at
 * once) is checked per binary rather than assumed.
 */
struct spill_scan {
	uint64_t depth; /* bytes pushed or reserved since the entry */
	unsigned stored; /* bit i: argument i stored */
	bool done; /* a call was reached */
};

static void spill_step(struct spill_scan *sp, enum sonde_go_arch arch, const cs_insn *insn)
{
	static const char *const amd64_regs[3] = { "rax", "rbx", "rcx" };
	static const char *const arm64_regs[3] = { "x0", "x1", "x2" };
	const char *const *regs = arch == SONDE_GO_AMD64 ? amd64_regs : arm64_regs;
	if (sp->done)
		return;
	if (arch == SONDE_GO_AMD64 ? insn->id == X86_INS_CALL
				   : insn->id == ARM64_INS_BL || insn->id == ARM64_INS_BLR) {
		sp->done = true;
		return;
	}
	long long v;
	char reg[8];
	if (arch == SONDE_GO_AMD64) {
		if (insn->id == X86_INS_PUSH) {
			sp->depth += 8;
			return;
		}
		if (insn->id == X86_INS_SUB && sscanf(insn->op_str, "rsp, %lli", &v) == 1 &&
		    v > 0) {
			sp->depth += (uint64_t)v;
			return;
		}
		if (insn->id != X86_INS_MOV ||
		    sscanf(insn->op_str, "qword ptr [rsp + %lli], %7s", &v, reg) != 2)
			return;
	} else {
		if (insn->id != ARM64_INS_STR)
			return;
		if (sscanf(insn->op_str, "x30, [sp, #%lli]!", &v) == 1 && v < 0) {
			sp->depth += (uint64_t)-v;
			return;
		}
		if (sscanf(insn->op_str, "%7[^,], [sp, #%lli]", reg, &v) != 2)
			return;
	}
	if (!sp->depth)
		return;
	for (unsigned i = 0; i < 3; i++)
		if (v > 0 && (uint64_t)v == sp->depth + 8 * (i + 1) && !strcmp(reg, regs[i]))
			sp->stored |= 1u << i;
}

/* ============================================================ returns === */

struct walk {
	csh h;
	cs_insn *insn;
	enum sonde_go_arch arch;
	const char *name;
	char *err;
	size_t errlen;
};

static bool is_ret(enum sonde_go_arch arch, const cs_insn *insn)
{
	if (arch == SONDE_GO_AMD64)
		return insn->id == X86_INS_RET || insn->id == X86_INS_RETF ||
		       insn->id == X86_INS_RETFQ;
	return insn->id == ARM64_INS_RET;
}

/* Every instruction of code (f's bytes) in order; 0 or -1 with err set. */
static int walk_code(struct walk *w, const uint8_t *code, struct sonde_go_func *f)
{
	const uint8_t *c = code;
	size_t n = (size_t)f->size;
	uint64_t addr = f->vaddr;
	unsigned seen = 0;
	struct spill_scan sp = { 0 };
	int rc = 0;
	while (n) {
		if (!cs_disasm_iter(w->h, &c, &n, &addr, w->insn)) {
			/*
			 * arm64 instructions are 4 bytes each: an undecodable word
			 * (data, or an encoding capstone lacks) is stepped over.
			 * On amd64 nothing after it could be trusted to start an
			 * instruction, and a probe in mid-instruction breaks the
			 * program: give up on this binary rather than guess.
			 */
			if (w->arch == SONDE_GO_ARM64 && n >= 4) {
				c += 4;
				n -= 4;
				addr += 4;
				continue;
			}
			if (w->arch == SONDE_GO_ARM64)
				break; /* a tail shorter than an instruction */
			rc = say(w->err, w->errlen,
				 "cannot disassemble %s at %#llx (%llu bytes into it)", w->name,
				 (unsigned long long)addr, (unsigned long long)(addr - f->vaddr));
			break;
		}
		const cs_insn *insn = w->insn;
		/* The stack check comes within the first few instructions: a
		 * branch if below-or-same to morestack (jbe; arm64 b.ls). */
		if (++seen <= 6 && !f->body_file_off &&
		    (w->arch == SONDE_GO_AMD64 ? insn->id == X86_INS_JBE
					       : !strcmp(insn->mnemonic, "b.ls")))
			f->body_file_off = f->file_off + (addr - f->vaddr);
		spill_step(&sp, w->arch, insn);
		if (!is_ret(w->arch, insn))
			continue;
		if (f->nret == SONDE_GO_MAX_RETS) {
			rc = say(w->err, w->errlen, "%s has more than %u return instructions",
				 w->name, SONDE_GO_MAX_RETS);
			break;
		}
		f->ret_file_offs[f->nret++] = f->file_off + (insn->address - f->vaddr);
	}
	f->args_spilled = sp.stored == 7;
	return rc;
}

int sonde_go_disasm(int fd, enum sonde_go_arch arch, const char *name, struct sonde_go_func *f,
		    char *err, size_t errlen)
{
	f->nret = 0;
	f->body_file_off = 0;
	f->args_spilled = false;
	uint8_t *code = malloc((size_t)f->size);
	if (!code)
		return say(err, errlen, "out of memory");
	if (pread(fd, code, (size_t)f->size, (off_t)f->file_off) != (ssize_t)f->size) {
		int e = errno;
		free(code);
		return say(err, errlen, "cannot read %s's code: %s", name, strerror(e));
	}
	struct walk w = { .arch = arch, .name = name, .err = err, .errlen = errlen };
	cs_err ce = arch == SONDE_GO_AMD64 ? cs_open(CS_ARCH_X86, CS_MODE_64, &w.h)
					   : cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &w.h);
	if (ce != CS_ERR_OK) {
		free(code);
		return say(err, errlen, "capstone cannot disassemble %s: %s",
			   sonde_go_arch_name(arch), cs_strerror(ce));
	}
	int rc = -1;
	w.insn = cs_malloc(w.h);
	if (!w.insn)
		say(err, errlen, "out of memory");
	else
		rc = walk_code(&w, code, f);
	if (w.insn)
		cs_free(w.insn, 1);
	cs_close(&w.h);
	free(code);
	if (!rc && !f->nret)
		rc = say(err, errlen, "%s has no return instruction", name);
	return rc;
}
