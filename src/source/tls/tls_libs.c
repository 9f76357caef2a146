/* SPDX-License-Identifier: MIT */
/*
 * The TLS libraries sonde knows, as tables: names, the functions that carry
 * plaintext (symbol, how the probe reads it, direction), the file names
 * worth opening and where versions are written. See tls_libs.h.
 */
#include "source/tls/tls_libs.h"

#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const lib_names[SONDE_TLS_LIB__COUNT] = {
	[SONDE_TLS_LIB_NONE] = "none",
	[SONDE_TLS_LIB_OPENSSL] = "openssl",
	[SONDE_TLS_LIB_BORINGSSL] = "boringssl",
	[SONDE_TLS_LIB_GNUTLS] = "gnutls",
	[SONDE_TLS_LIB_GO] = "go",
};

const char *sonde_tls_lib_name(enum sonde_tls_lib lib)
{
	return (unsigned)lib < ARRAY_LEN(lib_names) && lib_names[lib] ? lib_names[lib] : "?";
}

static const char *const status_names[] = {
	[SONDE_TLS_ST_PENDING] = "pending",
	[SONDE_TLS_ST_CAPTURING] = "capturing",
	[SONDE_TLS_ST_ATTACH_FAILED] = "attach-failed",
	[SONDE_TLS_ST_NO_SYMBOLS] = "no-symbols",
	[SONDE_TLS_ST_UNSUPPORTED] = "unsupported",
	[SONDE_TLS_ST_DISABLED] = "disabled",
};

const char *sonde_tls_status_name(enum sonde_tls_status st)
{
	return (unsigned)st < ARRAY_LEN(status_names) && status_names[st] ? status_names[st] : "?";
}

/* Indexed by enum sonde_tls_sym. */
static const char *const sym_names[SONDE_TLS_SYM__COUNT] = {
	[SONDE_TLS_SYM_SSL_read] = "SSL_read",
	[SONDE_TLS_SYM_SSL_write] = "SSL_write",
	[SONDE_TLS_SYM_SSL_read_ex] = "SSL_read_ex",
	[SONDE_TLS_SYM_SSL_write_ex] = "SSL_write_ex",
	[SONDE_TLS_SYM_SSL_write_ex2] = "SSL_write_ex2",
	[SONDE_TLS_SYM_SSL_do_handshake] = "SSL_do_handshake",
	[SONDE_TLS_SYM_gnutls_record_recv] = "gnutls_record_recv",
	[SONDE_TLS_SYM_gnutls_record_send] = "gnutls_record_send",
	[SONDE_TLS_SYM_gnutls_handshake] = "gnutls_handshake",
	[SONDE_TLS_SYM_BIO_read] = "BIO_read",
	[SONDE_TLS_SYM_BIO_write] = "BIO_write",
	[SONDE_TLS_SYM_BIO_f_ssl] = "BIO_f_ssl",
	[SONDE_TLS_SYM_OpenSSL_version] = "OpenSSL_version",
	[SONDE_TLS_SYM_SSL_CTX_set_grease_enabled] = "SSL_CTX_set_grease_enabled",
};

int sonde_tls_sym_find(const char *name)
{
	/* Called for every symbol of every file examined (node has 185,000):
	 * most names fail on their first letter. */
	if (name[0] != 'S' && name[0] != 'g' && name[0] != 'B' && name[0] != 'O')
		return -1;
	for (int i = 0; i < SONDE_TLS_SYM__COUNT; i++)
		if (!strcmp(name, sym_names[i]))
			return i;
	return -1;
}

#define FN(sym, kind, dir)                                        \
	{                                                         \
#sym, SONDE_TLS_PROBE_##kind, SONDE_TLS_DIR_##dir \
	}

/* OpenSSL 1.1.1+/3.x and BoringSSL libssl; node links the same in. SSL_read
 * and SSL_read_ex (likewise the writes) each call an internal function,
 * never each other, so a call is seen once whichever the program uses. */
static const struct sonde_tls_func ssl_funcs[] = {
	FN(SSL_read, RW, READ),
	FN(SSL_write, RW, WRITE),
	FN(SSL_read_ex, EX, READ),
	FN(SSL_write_ex, EX, WRITE),
	FN(SSL_write_ex2, EX2, WRITE), /* OpenSSL 3.3+ */
	FN(SSL_do_handshake, HANDSHAKE, READ),
};

static const struct sonde_tls_func gnutls_funcs[] = {
	FN(gnutls_record_recv, RW, READ),
	FN(gnutls_record_send, RW, WRITE),
	FN(gnutls_handshake, HANDSHAKE, READ),
};

/* libcrypto: for programs that do TLS through an SSL BIO (BIO_f_ssl). */
static const struct sonde_tls_func bio_funcs[] = {
	FN(BIO_read, BIO, READ),
	FN(BIO_write, BIO, WRITE),
};

const struct sonde_tls_family sonde_tls_families[] = {
	{
		.name = "OpenSSL libssl",
		.lib = SONDE_TLS_LIB_OPENSSL,
		.funcs = ssl_funcs,
		.nfuncs = ARRAY_LEN(ssl_funcs),
		.defines = SONDE_TLS_BIT(SSL_read) | SONDE_TLS_BIT(SSL_write),
		/* libgnutls-openssl.so: GnuTLS's OpenSSL-compatible wrapper, whose
		 * SSL_read calls gnutls_record_recv (probed in libgnutls; probing
		 * the wrapper too would see every byte twice) */
		.not_imports = SONDE_TLS_BIT(gnutls_record_recv),
	},
	{
		.name = "GnuTLS",
		.lib = SONDE_TLS_LIB_GNUTLS,
		.funcs = gnutls_funcs,
		.nfuncs = ARRAY_LEN(gnutls_funcs),
		.defines = SONDE_TLS_BIT(gnutls_record_recv) | SONDE_TLS_BIT(gnutls_record_send),
	},
	{
		.name = "libcrypto BIO",
		.lib = SONDE_TLS_LIB_OPENSSL,
		.funcs = bio_funcs,
		.nfuncs = ARRAY_LEN(bio_funcs),
		.defines = SONDE_TLS_BIT(BIO_read) | SONDE_TLS_BIT(BIO_write),
		/* with BIO_f_ssl the file is libssl (or has it linked in) and
		 * SSL_read is probed instead */
		.not_defines = SONDE_TLS_BIT(BIO_f_ssl),
		.libraries_only = true,
		.per_process = true,
	},
};
const size_t sonde_tls_nfamilies = ARRAY_LEN(sonde_tls_families);

const struct sonde_tls_libname sonde_tls_libnames[] = {
	{ "libssl3", "NSS", "nss" }, /* NSS's TLS library (OpenSSL's is libssl.so.3) */
	{ "libssl", NULL, NULL },
	{ "libgnutls", NULL, NULL },
	{ "libcrypto", NULL, NULL },
	{ "libboringssl", NULL, NULL },
	{ "libnss3", "NSS", "nss" },
	{ "libwolfssl", "wolfSSL", "wolfssl" },
	{ "libmbedtls", "Mbed TLS", "mbedtls" },
};
const size_t sonde_tls_nlibnames = ARRAY_LEN(sonde_tls_libnames);

const struct sonde_tls_version_mark sonde_tls_version_marks[] = {
	/* lib/global.c: _gnutls_debug_log("Enabled GnuTLS " VERSION " logging...") */
	{ "gnutls", "Enabled GnuTLS ", "GnuTLS" },
	/* NSS_VERSION in its "Version: NSS 3.87.1" ident string */
	{ "nss", "Version: NSS ", "NSS" },
	/* MBEDTLS_VERSION_STRING_FULL: "mbed TLS 2.28.3", "Mbed TLS 3.5.0" */
	{ "mbedtls", "mbed TLS ", "Mbed TLS" },
	{ "mbedtls", "Mbed TLS ", "Mbed TLS" },
};
const size_t sonde_tls_nversion_marks = ARRAY_LEN(sonde_tls_version_marks);

/* The '|' is removed before use (see tls_libs.h). */
const char sonde_tls_boringssl_version[] = "Boring|SSL";

const char *const sonde_tls_static_markers[] = {
	"CLIENT_HANDSHAKE_|TRAFFIC_SECRET", /* TLS 1.3 key-log label: OpenSSL 1.1.1+, BoringSSL */
	"SSLv3/TLS write |client hello", /* SSL_state_string_long: OpenSSL 1.0.x to 3.x */
};
const size_t sonde_tls_nstatic_markers = ARRAY_LEN(sonde_tls_static_markers);
_Static_assert(ARRAY_LEN(sonde_tls_static_markers) <= SONDE_TLS_MAX_MARKERS, "markers");
