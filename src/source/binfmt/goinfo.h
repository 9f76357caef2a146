/* SPDX-License-Identifier: MIT */
/*
 * Go binaries: what the crypto/tls probes need to know of one Go ELF file
 * (amd64 or arm64), read from the file alone — nothing runs.
 *
 *  - the Go version, from the build info (`.go.buildinfo`: the pointer format
 *    of Go 1.13-1.17 and the inline format of 1.18+), and from it the calling
 *    convention (register ABI: amd64 from go1.17, arm64 from go1.18);
 *  - crypto/tls.(*Conn).Read and .Write: entry address, entry as a file
 *    offset (what a uprobe takes) and every return instruction's file offset,
 *    found by disassembling the function (capstone). Go must never get
 *    uretprobes (they replace the return address on a goroutine stack the Go
 *    runtime moves and walks, and crash the program): the probes go on the
 *    return instructions instead. The functions come from `.symtab`, or, in
 *    stripped binaries (`-ldflags="-s -w"`), from the pcln table the runtime
 *    itself needs (pcln formats of go1.2, 1.16, 1.18 and 1.20+);
 *  - the struct offsets from a *tls.Conn to its socket's fd, from DWARF when
 *    present, else from a version table;
 *  - the itab of (*net.TCPConn, net.Conn) and the type it names, so a probe
 *    can check that a tls.Conn's net.Conn really is a TCP connection before
 *    following it (unstripped binaries only: see sonde_go_inspect).
 *
 * The file is mapped, not read into memory; nothing is kept after the call.
 */
#ifndef SONDE_GOINFO_H
#define SONDE_GOINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sonde_go_arch { SONDE_GO_AMD64 = 1, SONDE_GO_ARM64 = 2 };

#define SONDE_GO_MAX_RETS 64

struct sonde_go_func {
	uint64_t vaddr; /* entry address (link-time virtual address) */
	uint64_t file_off; /* entry as an offset in the file (what a uprobe takes) */
	uint64_t size; /* bytes, from .symtab or up to the next function's entry */
	uint64_t ret_file_offs[SONDE_GO_MAX_RETS]; /* file offsets of every return instruction */
	/* the instruction after the prologue's stack-growth check (0: none
	 * found). When the stack must grow, runtime.morestack runs the
	 * function again from its entry: a probe here fires once per call. */
	uint64_t body_file_off;
	size_t nret;
	/* register ABI: the function stores its receiver and slice (AX, BX,
	 * CX) in the argument slots its caller reserves, before any call, so
	 * they are there, above the return address, when it returns */
	bool args_spilled;
};

struct sonde_go_binary {
	char go_version[32]; /* "go1.19.8", from the build info (cut to fit) */
	int major, minor; /* 1, 19 */
	enum sonde_go_arch arch;
	bool regabi; /* register ABI: amd64 go1.17+, arm64 go1.18+ */
	bool stripped; /* no .symtab: functions found through the pcln table */
	bool pie; /* ET_DYN */
	struct sonde_go_func read, write; /* crypto/tls.(*Conn).Read and .Write */
	/* offsets to follow a *tls.Conn to its socket's fd */
	uint32_t tlsconn_conn_off; /* crypto/tls.Conn.conn (a net.Conn interface: itab, data) */
	uint32_t netconn_fd_off; /* net.conn.fd (*net.netFD); net.TCPConn embeds net.conn at 0 */
	uint32_t netfd_pfd_off; /* net.netFD.pfd (internal/poll.FD) */
	uint32_t pfd_sysfd_off; /* internal/poll.FD.Sysfd */
	bool offsets_from_dwarf; /* else from a version table */
	uint64_t tcpconn_itab_vaddr; /* go:itab.*net.TCPConn,net.Conn (0 if not found) */
	/* the *net.TCPConn type descriptor the itab points to (0 if unknown) */
	uint64_t tcpconn_type_vaddr;
	/* net.(*TCPConn).Close, from the pcln table (stripped programs too): the
	 * first method of that itab, so it identifies the type as well (0 if absent) */
	uint64_t tcpconn_close_vaddr;
	/* link-time address of file offset 0 (go links PIE programs at
	 * 0x400000 too): a process's load bias is where it mapped offset 0
	 * minus this */
	uint64_t base_vaddr;
};

/*
 * Inspect the Go program at path. Returns 0 with *out filled, or -1 with one
 * sentence in err (naming the file) when: the file cannot be opened or is not
 * a 64-bit little-endian ELF file; it is not a Go program (no build info and
 * no pcln table); its build info is damaged or its version unreadable; the
 * architecture is not amd64 or arm64; it does not contain crypto/tls
 * ((*Conn).Read or .Write not found); it is stripped and its pcln table has
 * an unknown format; a function cannot be disassembled to its end, or has
 * more than SONDE_GO_MAX_RETS return instructions.
 *
 * Addresses are link-time virtual addresses (a PIE's are relative to its load
 * base); file offsets are what uprobes take. The itab and type are found by
 * their symbols, so a stripped binary has tcpconn_itab_vaddr and
 * tcpconn_type_vaddr 0: the probe then reports the connection's socket as
 * unknown rather than guessing. Offsets come from DWARF when the binary has
 * it (and it decompresses to less than 512 MiB), else from the version table
 * (offsets_from_dwarf false).
 *
 * Thread-safe (no global state); the file is mapped for the duration of the
 * call only.
 */
int sonde_go_inspect(const char *path, struct sonde_go_binary *out, char *err, size_t errlen);

/* "amd64", "arm64", or "?" */
const char *sonde_go_arch_name(enum sonde_go_arch arch);

#endif
