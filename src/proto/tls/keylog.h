/* SPDX-License-Identifier: MIT */
/*
 * An NSS key log (SSLKEYLOGFILE, the format Wireshark reads): one secret a
 * line, "LABEL <client_random hex> <secret hex>". Read once, before the run;
 * read-only afterwards, so every connection of the capture may look up in it.
 *
 * The file is a secret: nothing here ever writes a line, a random or a
 * secret into an error message; errors name the file and a line number.
 * Only sonde_keylog_text() gives the secrets out, for a recording whose
 * user asked for them.
 */
#ifndef SONDE_TLS_KEYLOG_H
#define SONDE_TLS_KEYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SONDE_KEYLOG_SECRET_MAX 64 /* SHA-384 secrets are 48 bytes; a TLS 1.2 master 48 */

/* The secrets a key log holds for one connection (client_random). */
enum sonde_keylog_label {
	SONDE_KL_MASTER = 0, /* CLIENT_RANDOM: TLS 1.2 master secret */
	SONDE_KL_CLIENT_HS, /* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
	SONDE_KL_SERVER_HS, /* SERVER_HANDSHAKE_TRAFFIC_SECRET */
	SONDE_KL_CLIENT_APP, /* CLIENT_TRAFFIC_SECRET_0 */
	SONDE_KL_SERVER_APP, /* SERVER_TRAFFIC_SECRET_0 */
	SONDE_KL_CLIENT_EARLY, /* CLIENT_EARLY_TRAFFIC_SECRET (noted, not used) */
	SONDE_KL__COUNT,
};

struct sonde_keylog_secret {
	uint8_t len; /* 0: not in the file */
	uint8_t b[SONDE_KEYLOG_SECRET_MAX];
};

struct sonde_keylog_entry {
	uint8_t client_random[32];
	struct sonde_keylog_secret s[SONDE_KL__COUNT];
};

struct sonde_keylog;

/*
 * Read the key log at path. NULL with a reason in err (the file name and a
 * line number at most) when it cannot be read, is not a key log, or holds
 * more than the bounds allow (64 MiB, 1M connections). Unknown labels and
 * comments are skipped, as NSS and Wireshark do.
 */
struct sonde_keylog *sonde_keylog_load(const char *path, char *err, size_t errlen);
/* The same from memory (tests, the fuzz target); NULL if no line is a
 * secret sonde uses. */
struct sonde_keylog *sonde_keylog_parse(const char *text, size_t n, char *err, size_t errlen);
/* An empty key log, for secrets that come with the capture (a pcapng
 * Decryption Secrets Block) rather than before it. */
struct sonde_keylog *sonde_keylog_new(void);
/* Adds the lines of text to kl (a later secret of the same connection and
 * label replaces the earlier). Returns how many connections were new, or -1
 * with a reason in err past the bound on connections (what came before it
 * is kept). Lookups must not run during a call: single-threaded readers
 * call it between packets. */
long sonde_keylog_add(struct sonde_keylog *kl, const char *text, size_t n, char *err,
		      size_t errlen);
/* The secrets of the connection whose ClientHello carried client_random. */
const struct sonde_keylog_entry *sonde_keylog_find(const struct sonde_keylog *kl,
						   const uint8_t client_random[32]);
size_t sonde_keylog_count(const struct sonde_keylog *kl); /* 0 for NULL */
/* Every secret as a key log line ("LABEL <client_random> <secret>", hex,
 * one connection's lines together), appended to out: what a pcapng
 * Decryption Secrets Block carries (read -w --record-keylog). The caller
 * wipes out (OPENSSL_cleanse) before freeing it. */
struct sonde_buf;
void sonde_keylog_text(const struct sonde_keylog *kl, struct sonde_buf *out);
/* Frees and wipes the secrets. */
void sonde_keylog_free(struct sonde_keylog *kl);

#endif
