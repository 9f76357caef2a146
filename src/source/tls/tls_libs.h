/* SPDX-License-Identifier: MIT */
/*
 * What sonde knows of each TLS library, as data (tls_libs.c), read by
 * discovery (tls_discover.c): the symbols worth looking up, which functions
 * of each library family carry plaintext, which file names are worth
 * opening, and where each library writes its version. Nothing here is code
 * that differs per library: a new library or version is a new table row.
 */
#ifndef SONDE_TLS_LIBS_H
#define SONDE_TLS_LIBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source/tls/tls_discover.h"

/* Every symbol discovery looks for in a file, defined or imported. */
enum sonde_tls_sym {
	SONDE_TLS_SYM_SSL_read = 0,
	SONDE_TLS_SYM_SSL_write,
	SONDE_TLS_SYM_SSL_read_ex,
	SONDE_TLS_SYM_SSL_write_ex,
	SONDE_TLS_SYM_SSL_write_ex2,
	SONDE_TLS_SYM_SSL_do_handshake,
	SONDE_TLS_SYM_gnutls_record_recv,
	SONDE_TLS_SYM_gnutls_record_send,
	SONDE_TLS_SYM_gnutls_handshake,
	SONDE_TLS_SYM_BIO_read,
	SONDE_TLS_SYM_BIO_write,
	SONDE_TLS_SYM_BIO_f_ssl,
	SONDE_TLS_SYM_OpenSSL_version,
	/* BoringSSL only (OpenSSL has no GREASE): tells the two apart when
	 * no version string is at hand */
	SONDE_TLS_SYM_SSL_CTX_set_grease_enabled,
	SONDE_TLS_SYM__COUNT,
};

#define SONDE_TLS_BIT(s) (1u << SONDE_TLS_SYM_##s)

/* The symbol's enum value, or -1 when discovery does not look for it. */
int sonde_tls_sym_find(const char *name);

/* Imports that show a program uses a shared TLS library (so its own
 * version strings are the headers it was built with, not TLS code). */
#define SONDE_TLS_DYNAMIC_USER                                                                 \
	(SONDE_TLS_BIT(SSL_read) | SONDE_TLS_BIT(SSL_write) | SONDE_TLS_BIT(OpenSSL_version) | \
	 SONDE_TLS_BIT(BIO_f_ssl) | SONDE_TLS_BIT(gnutls_record_recv))

/*
 * A library family: a file belongs to it when it defines every symbol of
 * `defines`, none of `not_defines`, and imports none of `not_imports`.
 * Families are tried in table order.
 */
struct sonde_tls_family {
	const char *name; /* for messages */
	enum sonde_tls_lib lib; /* OpenSSL families: BoringSSL is told apart later */
	const struct sonde_tls_func *funcs; /* those the file defines are probed */
	size_t nfuncs;
	uint32_t defines, not_defines, not_imports; /* SONDE_TLS_BIT sets */
	bool libraries_only; /* never a program's main executable */
	bool per_process; /* see struct sonde_tls_target */
};

extern const struct sonde_tls_family sonde_tls_families[];
extern const size_t sonde_tls_nfamilies;

/* File names worth opening (a prefix of the base name); the symbols decide. */
struct sonde_tls_libname {
	const char *prefix; /* "libssl" */
	const char *unsupported; /* NULL, or the library sonde cannot probe: "NSS" */
	const char *label; /* its LIBRARY column for `sonde tls`: "nss" */
};

extern const struct sonde_tls_libname sonde_tls_libnames[];
extern const size_t sonde_tls_nlibnames;

/* A version written as "<needle><digits and dots>" in read-only data. */
struct sonde_tls_version_mark {
	const char *label; /* whose: "gnutls" (sonde_tls_lib_name) or a libname label */
	const char *needle; /* "Enabled GnuTLS " */
	const char *name; /* the version reads "<name> <digits>": "GnuTLS 3.7.9" */
};

extern const struct sonde_tls_version_mark sonde_tls_version_marks[];
extern const size_t sonde_tls_nversion_marks;

/*
 * The two texts below hold one '|' that discovery removes before searching:
 * sonde's own binary carries these tables, and must not look like a TLS
 * library to itself.
 *
 * OpenSSL_version()'s text, "OpenSSL 3.0.19 27 Jan 2026", is matched by
 * shape (tls_discover.c); BoringSSL's is this exact string.
 */
extern const char sonde_tls_boringssl_version[];

/*
 * Text that only TLS protocol code carries: with a version string, one of
 * these says a stripped program has TLS linked in, not just libcrypto or
 * the headers it was built with (nginx embeds "OpenSSL 3.0.x ..." too).
 */
#define SONDE_TLS_MAX_MARKERS 4
extern const char *const sonde_tls_static_markers[];
extern const size_t sonde_tls_nstatic_markers;

#endif
