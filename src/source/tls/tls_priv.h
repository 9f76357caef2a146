/* SPDX-License-Identifier: MIT */
/*
 * Inside TLS discovery: the state its three files share — tls_discover.c
 * (files, processes, attachment), tls_classify.c (what a file is: symbols,
 * versions, families) and tls_report.c (`sonde tls`).
 */
#ifndef SONDE_TLS_PRIV_H
#define SONDE_TLS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/u64map.h"
#include "source/binfmt/elf.h"
#include "source/tls/tls_discover.h"
#include "source/tls/tls_libs.h"

#define MAX_TARGETS 1024u /* library files and programs (one is ~9 KiB) */
#define MAX_FILES 16384u /* cached answers; the negative ones are dropped when full */
#define MAX_PROCS 32768u /* processes that map TLS code */
#define MAX_LINKS 8u /* TLS targets per process */
#define MAX_RANGES 16u /* executable mappings of targets per process */
#define SCAN_LIMIT (64u << 20) /* read-only data searched per file, bytes */
#define PATH_LEN 4096u

struct target {
	struct sonde_tls_target t;
	const char *label; /* LIBRARY column: the lib's name, or the unsupported library's */
	void *handle; /* the attachment in every process (pid 0) */
	bool by_hand; /* sonde_tls_add_path: listed even when no process maps it */
};

/* What a file (device, inode) turned out to be. */
struct file {
	uint64_t dev, ino;
	int32_t target; /* index in targets; -1: no TLS */
	bool uses_ssl_bio; /* a program importing BIO_f_ssl */
};

/* A process's use of a target. */
struct link {
	uint32_t target;
	uint8_t status; /* per_process targets: the attachment in this process */
	void *handle;
};

struct range {
	uint64_t start, end; /* an executable mapping of the target's file */
	uint32_t target;
};

struct proc {
	uint32_t pid;
	char comm[16];
	uint64_t seen; /* the scan_all pass that last saw it */
	struct link links[MAX_LINKS];
	size_t nlinks;
	struct range ranges[MAX_RANGES];
	size_t nranges;
	bool overflow; /* it maps more than MAX_LINKS targets */
};

/* The texts searched for in read-only data, made once per discovery. */
struct needles {
	char boring[16]; /* sonde_tls_boringssl_version, '|' removed */
	char markers[SONDE_TLS_MAX_MARKERS][48]; /* sonde_tls_static_markers */
};

struct sonde_tls_discovery {
	struct sonde_tls_ops ops;
	bool have_ops;
	struct target *targets[MAX_TARGETS];
	size_t ntargets;
	struct file *files;
	size_t nfiles, files_cap;
	struct sonde_u64map file_index; /* file_key() -> index in files */
	struct sonde_u64map procs; /* pid -> struct proc * */
	size_t nprocs;
	uint64_t pass; /* scan_all passes */
	struct needles needles;
	unsigned long lost_targets, lost_procs; /* over the limits */
};

/* A file to examine: how to open it, and what is known of it already. */
struct exam {
	const char *open_path; /* openable from sonde (through /proc/PID/root, map_files) */
	const char *plain_path; /* as the process names it, if it is a path here too, or NULL */
	const char *display_path; /* as the process names it */
	uint64_t dev, ino; /* the cache key */
	int is_exe; /* the process's main executable: 1, 0, -1 (decide from the ELF file) */
	const struct sonde_tls_libname *name; /* matched by name, or NULL */
};

/* tls_classify.c: copy, cutting what does not fit. */
void tls_str_copy(char *dst, size_t n, const char *src);
/* tls_classify.c: the texts of tls_libs.c as searched for. */
void tls_needles_init(struct needles *nd);
/* tls_classify.c: the library family a file's name says, or NULL. */
const struct sonde_tls_libname *tls_libname_of(const char *path);
/*
 * tls_classify.c: what the open file is: true with t filled in (a target),
 * false if it has no TLS code sonde knows. *uses_ssl_bio: a program
 * importing BIO_f_ssl.
 */
bool tls_classify(const struct needles *nd, const struct exam *x, const struct sonde_elf *e,
		  struct target *t, bool *uses_ssl_bio);

#endif
