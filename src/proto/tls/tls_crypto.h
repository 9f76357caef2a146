/* SPDX-License-Identifier: MIT */
/*
 * The cryptography of reading TLS with known secrets, on libcrypto: the
 * cipher suites sonde decrypts, key schedules (TLS 1.3 HKDF-Expand-Label,
 * RFC 8446 7.1/7.3; the TLS 1.2 PRF key block, RFC 5246 6.3) and one
 * direction's record protection: AEAD (RFC 8446 5.2-5.3, RFC 5288,
 * RFC 7905) and TLS 1.2 AES-CBC with HMAC, MAC-then-encrypt (RFC 5246
 * 6.2.3.2) or encrypt-then-MAC (RFC 7366), each record with its own IV.
 */
#ifndef SONDE_TLS_CRYPTO_H
#define SONDE_TLS_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SONDE_TLS_TAG 16
#define SONDE_TLS_IV_MAX 12
#define SONDE_TLS_KEY_MAX 32
#define SONDE_TLS_SECRET_MAX 64
#define SONDE_TLS_MAC_MAX 48 /* HMAC-SHA384 */
#define SONDE_TLS_CBC_BLOCK 16

/* The bulk cipher of a suite. */
enum sonde_tls_bulk {
	SONDE_AEAD_AES128_GCM,
	SONDE_AEAD_AES256_GCM,
	SONDE_AEAD_CHACHA20_POLY1305,
	SONDE_CBC_AES128,
	SONDE_CBC_AES256,
};

/* A CBC suite's record MAC (RFC 5246 6.2.3.1); AEAD suites have none. */
enum sonde_tls_mac {
	SONDE_MAC_NONE = 0,
	SONDE_MAC_SHA1,
	SONDE_MAC_SHA256,
	SONDE_MAC_SHA384,
};

struct sonde_tls_suite {
	uint16_t id;
	const char *name; /* IANA name */
	uint16_t version; /* 0x0304: TLS 1.3 suite; 0x0303: TLS 1.2 */
	enum sonde_tls_bulk bulk;
	uint8_t key_len;
	uint8_t fixed_iv_len; /* 1.2 GCM: the 4-byte salt; CBC: 0 (explicit IVs); else 12 */
	bool sha384; /* the suite's (PRF's) hash: SHA-384, else SHA-256 */
	enum sonde_tls_mac mac;
};

/* The suite of id that sonde decrypts, or NULL. */
const struct sonde_tls_suite *sonde_tls_suite_find(uint16_t id);

/* One direction's record protection. */
struct sonde_tls_keys {
	const struct sonde_tls_suite *suite;
	uint16_t version; /* 0x0303 or 0x0304 */
	uint8_t key[SONDE_TLS_KEY_MAX];
	uint8_t iv[SONDE_TLS_IV_MAX];
	uint8_t secret[SONDE_TLS_SECRET_MAX]; /* 1.3: the traffic secret (KeyUpdate) */
	uint8_t secret_len;
	void *ctx; /* EVP_CIPHER_CTX, keyed */
	/* CBC suites: the MAC key, and whether the hellos agreed on
	 * encrypt_then_mac (set before the first record is opened). */
	uint8_t mac_key[SONDE_TLS_MAC_MAX];
	uint8_t mac_len;
	bool etm;
	void *mac_ctx; /* EVP_MAC_CTX, keyed */
};

/* TLS 1.3: keys from a traffic secret; false if libcrypto refused. */
bool sonde_tls13_keys(struct sonde_tls_keys *k, const struct sonde_tls_suite *s,
		      const uint8_t *secret, size_t len);
/* TLS 1.3 KeyUpdate: the next generation of k's secret and keys. */
bool sonde_tls13_update(struct sonde_tls_keys *k);
/* TLS 1.2: both directions' keys from the master secret (48 bytes). */
bool sonde_tls12_keys(struct sonde_tls_keys *client, struct sonde_tls_keys *server,
		      const struct sonde_tls_suite *s, const uint8_t master[48],
		      const uint8_t client_random[32], const uint8_t server_random[32]);

/*
 * Open one record (type, its 5-byte header hdr, body rec[0..n)) with
 * sequence number seq into out (room for n bytes). Returns the plaintext
 * length (1.3: still ending with the content type and padding), or -1 when
 * the tag (CBC: the MAC or the padding) does not verify or the record is
 * too short.
 */
int sonde_tls_open(struct sonde_tls_keys *k, uint64_t seq, const uint8_t hdr[5], const uint8_t *rec,
		   size_t n, uint8_t *out);
/* Bytes a protected record carries besides its plaintext (1.3: the
 * content type byte too, padding not counted; CBC: the IV, the MAC and the
 * least padding, one byte, so a lost CBC record's plaintext is at most 15
 * bytes less than this says). */
size_t sonde_tls_overhead(const struct sonde_tls_keys *k);
/* Free the cipher context and wipe the keys. */
void sonde_tls_keys_clear(struct sonde_tls_keys *k);

#endif
