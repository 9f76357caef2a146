/* SPDX-License-Identifier: MIT */
#include "proto/tls/tls_crypto.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

static const struct sonde_tls_suite suites[] = {
	{ 0x1301, "TLS_AES_128_GCM_SHA256", 0x0304, SONDE_AEAD_AES128_GCM, 16, 12, false },
	{ 0x1302, "TLS_AES_256_GCM_SHA384", 0x0304, SONDE_AEAD_AES256_GCM, 32, 12, true },
	{ 0x1303, "TLS_CHACHA20_POLY1305_SHA256", 0x0304, SONDE_AEAD_CHACHA20_POLY1305, 32, 12,
	  false },
	{ 0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", 0x0303, SONDE_AEAD_AES128_GCM, 16, 4, false },
	{ 0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", 0x0303, SONDE_AEAD_AES256_GCM, 32, 4, true },
	{ 0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 0x0303, SONDE_AEAD_AES128_GCM, 16, 4,
	  false },
	{ 0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", 0x0303, SONDE_AEAD_AES256_GCM, 32, 4,
	  true },
	{ 0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0x0303, SONDE_AEAD_AES128_GCM, 16, 4,
	  false },
	{ 0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0x0303, SONDE_AEAD_AES256_GCM, 32, 4,
	  true },
	{ 0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0x0303, SONDE_AEAD_AES128_GCM, 16, 4,
	  false },
	{ 0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0x0303, SONDE_AEAD_AES256_GCM, 32, 4,
	  true },
	{ 0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0x0303,
	  SONDE_AEAD_CHACHA20_POLY1305, 32, 12, false },
	{ 0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0x0303,
	  SONDE_AEAD_CHACHA20_POLY1305, 32, 12, false },
	{ 0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0x0303, SONDE_AEAD_CHACHA20_POLY1305,
	  32, 12, false },
};

const struct sonde_tls_suite *sonde_tls_suite_find(uint16_t id)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == id)
			return &suites[i];
	return NULL;
}

static const EVP_CIPHER *cipher_of(enum sonde_tls_aead a)
{
	switch (a) {
	case SONDE_AEAD_AES128_GCM: return EVP_aes_128_gcm();
	case SONDE_AEAD_AES256_GCM: return EVP_aes_256_gcm();
	case SONDE_AEAD_CHACHA20_POLY1305: return EVP_chacha20_poly1305();
	}
	return NULL;
}

static const char *digest_name(const struct sonde_tls_suite *s)
{
	return s->sha384 ? "SHA384" : "SHA256";
}

/* HKDF-Expand-Label(secret, label, "", len) of RFC 8446 7.1. */
static bool expand_label(const struct sonde_tls_suite *s, const uint8_t *secret, size_t slen,
			 const char *label, uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + 32 + 1];
	size_t ll = strlen(label);
	info[0] = (uint8_t)(len >> 8);
	info[1] = (uint8_t)len;
	info[2] = (uint8_t)(6 + ll);
	memcpy(info + 3, "tls13 ", 6);
	memcpy(info + 9, label, ll);
	info[9 + ll] = 0; /* empty context */
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest_name(s), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, slen),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 10 + ll),
		OSSL_PARAM_construct_end(),
	};
	bool ok = kc && EVP_KDF_derive(kc, out, len, p) > 0;
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	return ok;
}

/* A cipher context for k (key set; the nonce comes per record). */
static bool key_ctx(struct sonde_tls_keys *k)
{
	EVP_CIPHER_CTX *c = k->ctx ? k->ctx : EVP_CIPHER_CTX_new();
	k->ctx = c;
	return c && EVP_DecryptInit_ex(c, cipher_of(k->suite->aead), NULL, NULL, NULL) > 0 &&
	       EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) > 0 &&
	       EVP_DecryptInit_ex(c, NULL, NULL, k->key, NULL) > 0;
}

bool sonde_tls13_keys(struct sonde_tls_keys *k, const struct sonde_tls_suite *s,
		      const uint8_t *secret, size_t len)
{
	if (len > SONDE_TLS_SECRET_MAX || len != (s->sha384 ? 48u : 32u))
		return false;
	k->suite = s;
	k->version = 0x0304;
	memmove(k->secret, secret, len);
	k->secret_len = (uint8_t)len;
	return expand_label(s, k->secret, len, "key", k->key, s->key_len) &&
	       expand_label(s, k->secret, len, "iv", k->iv, 12) && key_ctx(k);
}

bool sonde_tls13_update(struct sonde_tls_keys *k)
{
	uint8_t next[SONDE_TLS_SECRET_MAX];
	if (!k->suite ||
	    !expand_label(k->suite, k->secret, k->secret_len, "traffic upd", next, k->secret_len))
		return false;
	bool ok = sonde_tls13_keys(k, k->suite, next, k->secret_len);
	OPENSSL_cleanse(next, sizeof(next));
	return ok;
}

/* PRF(master, "key expansion", server_random + client_random) (RFC 5246 6.3). */
static bool key_block(const struct sonde_tls_suite *s, const uint8_t master[48],
		      const uint8_t cr[32], const uint8_t sr[32], uint8_t *out, size_t len)
{
	uint8_t seed[13 + 64];
	memcpy(seed, "key expansion", 13);
	memcpy(seed + 13, sr, 32);
	memcpy(seed + 45, cr, 32);
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest_name(s), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)master, 48),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof(seed)),
		OSSL_PARAM_construct_end(),
	};
	bool ok = kc && EVP_KDF_derive(kc, out, len, p) > 0;
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	return ok;
}

bool sonde_tls12_keys(struct sonde_tls_keys *client, struct sonde_tls_keys *server,
		      const struct sonde_tls_suite *s, const uint8_t master[48],
		      const uint8_t client_random[32], const uint8_t server_random[32])
{
	/* AEAD suites have no MAC keys: client key, server key, client IV,
	 * server IV. */
	uint8_t kb[2 * (SONDE_TLS_KEY_MAX + SONDE_TLS_IV_MAX)];
	size_t kl = s->key_len, il = s->fixed_iv_len;
	if (!key_block(s, master, client_random, server_random, kb, 2 * (kl + il)))
		return false;
	struct sonde_tls_keys *dir[2] = { client, server };
	for (int i = 0; i < 2; i++) {
		dir[i]->suite = s;
		dir[i]->version = 0x0303;
		memcpy(dir[i]->key, kb + i * kl, kl);
		memset(dir[i]->iv, 0, sizeof(dir[i]->iv));
		memcpy(dir[i]->iv, kb + 2 * kl + i * il, il);
		dir[i]->secret_len = 0;
	}
	OPENSSL_cleanse(kb, sizeof(kb));
	return key_ctx(client) && key_ctx(server);
}

size_t sonde_tls_overhead(const struct sonde_tls_keys *k)
{
	if (k->version == 0x0304)
		return SONDE_TLS_TAG + 1;
	return SONDE_TLS_TAG + (k->suite->fixed_iv_len == 4 ? 8 : 0);
}

int sonde_tls_open(struct sonde_tls_keys *k, uint64_t seq, const uint8_t hdr[5], const uint8_t *rec,
		   size_t n, uint8_t *out)
{
	uint8_t nonce[12], aad[13];
	size_t aad_len, explicit_len = 0;
	if (k->version == 0x0303 && k->suite->fixed_iv_len == 4) {
		/* RFC 5288: salt || the record's explicit 8-byte nonce */
		explicit_len = 8;
		if (n < explicit_len + SONDE_TLS_TAG)
			return -1;
		memcpy(nonce, k->iv, 4);
		memcpy(nonce + 4, rec, 8);
	} else {
		/* RFC 8446 5.3, RFC 7905: the IV xor the padded sequence number */
		if (n < SONDE_TLS_TAG + (k->version == 0x0304))
			return -1;
		memcpy(nonce, k->iv, 12);
		for (int i = 0; i < 8; i++)
			nonce[4 + i] ^= (uint8_t)(seq >> (56 - 8 * i));
	}
	size_t clen = n - explicit_len - SONDE_TLS_TAG;
	if (k->version == 0x0304) {
		memcpy(aad, hdr, 5); /* the record header as sent */
		aad_len = 5;
	} else {
		for (int i = 0; i < 8; i++)
			aad[i] = (uint8_t)(seq >> (56 - 8 * i));
		aad[8] = hdr[0];
		aad[9] = hdr[1];
		aad[10] = hdr[2];
		aad[11] = (uint8_t)(clen >> 8);
		aad[12] = (uint8_t)clen;
		aad_len = 13;
	}
	EVP_CIPHER_CTX *c = k->ctx;
	int l1 = 0, l2 = 0, la = 0;
	if (!c || EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) <= 0 ||
	    EVP_DecryptUpdate(c, NULL, &la, aad, (int)aad_len) <= 0 ||
	    EVP_DecryptUpdate(c, out, &l1, rec + explicit_len, (int)clen) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, SONDE_TLS_TAG,
				(void *)(rec + explicit_len + clen)) <= 0 ||
	    EVP_DecryptFinal_ex(c, out + l1, &l2) <= 0)
		return -1;
	return l1 + l2;
}

void sonde_tls_keys_clear(struct sonde_tls_keys *k)
{
	EVP_CIPHER_CTX_free(k->ctx);
	OPENSSL_cleanse(k, sizeof(*k));
}
