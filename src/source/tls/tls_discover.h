/* SPDX-License-Identifier: MIT */
/*
 * TLS libraries: what sonde knows of each one (which functions carry the
 * plaintext and how they pass it — data, not code), and discovery of the
 * library files and statically linked binaries that running processes map.
 *
 * Discovery finds *targets*: one per library file or binary (by device and
 * inode, so a library shared by a thousand processes, or seen through several
 * containers' /proc/PID/root, is one target, attached once). The eBPF source
 * attaches uprobes to a target through the attach callback; discovery keeps
 * the result, and per process which targets it maps, for `sonde tls` and for
 * naming the library in records.
 */
#ifndef SONDE_TLS_H
#define SONDE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sonde_tls_lib {
	SONDE_TLS_LIB_NONE = 0,
	SONDE_TLS_LIB_OPENSSL, /* libssl.so.1.1, libssl.so.3, or linked in (node) */
	SONDE_TLS_LIB_BORINGSSL, /* android-libboringssl, Envoy-style binaries */
	SONDE_TLS_LIB_GNUTLS, /* libgnutls.so.30 */
	SONDE_TLS_LIB_GO, /* a Go program: crypto/tls linked in */
	SONDE_TLS_LIB__COUNT,
};

/* "openssl", "boringssl", "gnutls": the suffix of capture.method. */
const char *sonde_tls_lib_name(enum sonde_tls_lib lib);

/*
 * How a function hands over its plaintext; each kind is one probe program,
 * shared by every library.
 */
enum sonde_tls_probe_kind {
	/* (ctx, buf, len) -> bytes moved, <= 0 on error: SSL_read, SSL_write,
	 * gnutls_record_recv, gnutls_record_send */
	SONDE_TLS_PROBE_RW = 0,
	/* (ctx, buf, num, size_t *done) -> 1 on success, *done bytes:
	 * SSL_read_ex, SSL_write_ex */
	SONDE_TLS_PROBE_EX,
	/* (ctx, buf, num, flags, size_t *done): SSL_write_ex2 */
	SONDE_TLS_PROBE_EX2,
	/* BIO_read/BIO_write (bio, buf, len): as RW, but only for BIOs of type
	 * SSL (BIO_f_ssl, e.g. `openssl s_server -www`) */
	SONDE_TLS_PROBE_BIO,
	/* (ctx): SSL_do_handshake, SSL_connect, SSL_accept, gnutls_handshake:
	 * no data; lets the probes learn the connection's socket early */
	SONDE_TLS_PROBE_HANDSHAKE,
	SONDE_TLS_PROBE__COUNT,
};

enum sonde_tls_dir {
	SONDE_TLS_DIR_READ = 0, /* plaintext the process received */
	SONDE_TLS_DIR_WRITE = 1, /* plaintext the process sent */
};

/* One function to probe. */
struct sonde_tls_func {
	const char *symbol;
	uint8_t kind; /* enum sonde_tls_probe_kind */
	uint8_t dir; /* enum sonde_tls_dir (ignored for HANDSHAKE) */
};

enum sonde_tls_status {
	SONDE_TLS_ST_PENDING = 0, /* found, not attached yet */
	SONDE_TLS_ST_CAPTURING, /* uprobes attached */
	SONDE_TLS_ST_ATTACH_FAILED, /* the kernel refused (reason in `why`) */
	SONDE_TLS_ST_NO_SYMBOLS, /* TLS code present but no symbols (stripped static binary) */
	SONDE_TLS_ST_UNSUPPORTED, /* a TLS library sonde does not probe (NSS, wolfSSL, ...) */
	SONDE_TLS_ST_DISABLED, /* --no-tls */
};

const char *sonde_tls_status_name(enum sonde_tls_status st);

/* A library file or binary to attach to. */
struct sonde_tls_target {
	uint32_t id; /* 1, 2, ...: unique in the run (the probes' attach cookie) */
	char path[4096]; /* openable from sonde's mount namespace (via /proc/PID/root) */
	char display_path[4096]; /* as the process sees it (from /proc/PID/maps) */
	uint64_t dev, ino;
	enum sonde_tls_lib lib;
	char version[96]; /* from the binary's version string, e.g. "OpenSSL 3.0.19 ..." */
	bool is_executable; /* TLS linked into the program itself (node, Envoy) */
	/* The functions of the library's table that the file defines (a
	 * library version without SSL_write_ex2 simply lacks it). */
	struct sonde_tls_func funcs[24];
	size_t nfuncs;
	enum sonde_tls_status status;
	char why[160]; /* for ATTACH_FAILED, NO_SYMBOLS, UNSUPPORTED */
	/*
	 * Attached per process, not per file: libcrypto's BIO_read/BIO_write
	 * run for every BIO of every libcrypto user, so they are probed only in
	 * processes whose program imports BIO_f_ssl (they may do TLS through an
	 * SSL BIO, as `openssl s_server -www` does).
	 */
	bool per_process;
	/* Go programs (lib SONDE_TLS_LIB_GO): what goinfo.c found; funcs is
	 * empty. Probed per file, and every process running it is announced
	 * to attach() with its pid (the probes need its load address). */
	struct sonde_go_binary *go;
	unsigned long nprocs; /* processes currently mapping it */
};

/*
 * What discovery asks of the eBPF source. attach: uprobes on every function
 * of t, in every process that maps the file (pid 0) or in that process only;
 * returns a handle, or NULL with one sentence in why. detach: undo one attach.
 */
struct sonde_tls_ops {
	void *(*attach)(void *ctx, const struct sonde_tls_target *t, uint32_t pid, char *why,
			size_t whylen);
	void (*detach)(void *ctx, void *handle);
	void *ctx;
};

struct sonde_tls_discovery;

/* ops may be NULL (nothing is attached; statuses stay PENDING). */
struct sonde_tls_discovery *sonde_tls_discovery_new(const struct sonde_tls_ops *ops);
void sonde_tls_discovery_free(struct sonde_tls_discovery *d);

/* Add a library or static binary by hand (--tls-lib): attached even if no
 * process maps it yet. Returns 0, or -1 with one sentence in err. */
int sonde_tls_add_path(struct sonde_tls_discovery *d, const char *path, char *err, size_t errlen);

/* Every process under /proc (start-up, and a periodic safety net). */
void sonde_tls_scan_all(struct sonde_tls_discovery *d);
/* One process: it exec'd or mapped new executable code. A pid that is gone
 * is forgotten. */
void sonde_tls_scan_pid(struct sonde_tls_discovery *d, uint32_t pid);
/* Forget a process (it exited); returns true if it had TLS targets. */
bool sonde_tls_forget_pid(struct sonde_tls_discovery *d, uint32_t pid);

/*
 * The target whose code in process pid contains address ip (an entry
 * address a probe saw), else the only target that process maps, else NULL.
 * Rescans the process once if it is unknown.
 */
const struct sonde_tls_target *sonde_tls_target_of(struct sonde_tls_discovery *d, uint32_t pid,
						   uint64_t ip);

/* The target with this id, or NULL. */
const struct sonde_tls_target *sonde_tls_target_by_id(const struct sonde_tls_discovery *d,
						      uint32_t id);

/* `sonde tls`: per process, the TLS libraries found and their status. */
void sonde_tls_print(const struct sonde_tls_discovery *d, FILE *out, bool json);

#endif
