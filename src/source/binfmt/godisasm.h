/* SPDX-License-Identifier: MIT */
/*
 * Inside binfmt/: the disassembly of one Go function (capstone), for
 * goinfo.c. It finds what the crypto/tls probes attach to — every return
 * instruction (Go gets no uretprobes), the instruction after the prologue's
 * stack check — and whether the register arguments are spilled to the
 * caller's slots before the first call.
 */
#ifndef SONDE_GODISASM_H
#define SONDE_GODISASM_H

#include <stddef.h>

#include "source/binfmt/goinfo.h"

/*
 * Disassemble f (vaddr, size and file_off set) from the file open at fd:
 * fills ret_file_offs/nret, body_file_off and args_spilled. The code is read
 * with pread, not from a private mapping (which shows other tracers' uprobes
 * as int3). Returns 0, or -1 with one sentence in err (naming the function
 * name, not the file) when the code cannot be read or decoded (amd64), or has
 * no or more than SONDE_GO_MAX_RETS return instructions.
 */
int sonde_go_disasm(int fd, enum sonde_go_arch arch, const char *name, struct sonde_go_func *f,
		    char *err, size_t errlen);

#endif
