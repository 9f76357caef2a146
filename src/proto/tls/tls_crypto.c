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
	/* CBC: the PRF is SHA-256 but for the SHA-384 suites (RFC 5246 5, RFC 5289) */
	{ 0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", 0x0303, SONDE_CBC_AES128, 16, 0, false,
	  SONDE_MAC_SHA1 },
	{ 0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", 0x0303, SONDE_CBC_AES256, 32, 0, false,
	  SONDE_MAC_SHA1 },
	{ 0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", 0x0303, SONDE_CBC_AES128, 16, 0, false,
	  SONDE_MAC_SHA256 },
	{ 0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", 0x0303, SONDE_CBC_AES256, 32, 0, false,
	  SONDE_MAC_SHA256 },
	{ 0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 0x0303, SONDE_CBC_AES128, 16, 0, false,
	  SONDE_MAC_SHA1 },
	{ 0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 0x0303, SONDE_CBC_AES256, 32, 0, false,
	  SONDE_MAC_SHA1 },
	{ 0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 0x0303, SONDE_CBC_AES128, 16, 0, false,
	  SONDE_MAC_SHA256 },
	{ 0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", 0x0303, SONDE_CBC_AES256, 32, 0, false,
	  SONDE_MAC_SHA256 },
	{ 0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0x0303, SONDE_CBC_AES128, 16, 0, false,
	  SONDE_MAC_SHA1 },
	{ 0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0x0303, SONDE_CBC_AES256, 32, 0, false,
	  SONDE_MAC_SHA1 },
	{ 0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0x0303, SONDE_CBC_AES128, 16, 0, false,
	  SONDE_MAC_SHA1 },
	{ 0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0x0303, SONDE_CBC_AES256, 32, 0, false,
	  SONDE_MAC_SHA1 },
	{ 0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0x0303, SONDE_CBC_AES128, 16, 0, false,
	  SONDE_MAC_SHA256 },
	{ 0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 0x0303, SONDE_CBC_AES256, 32, 0, true,
	  SONDE_MAC_SHA384 },
	{ 0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0x0303, SONDE_CBC_AES128, 16, 0, false,
	  SONDE_MAC_SHA256 },
	{ 0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 0x0303, SONDE_CBC_AES256, 32, 0, true,
	  SONDE_MAC_SHA384 },
};

const struct sonde_tls_suite *sonde_tls_suite_find(uint16_t id)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == id)
			return &suites[i];
	return NULL;
}

static const EVP_CIPHER *cipher_of(enum sonde_tls_bulk a)
{
	switch (a) {
	case SONDE_AEAD_AES128_GCM: return EVP_aes_128_gcm();
	case SONDE_AEAD_AES256_GCM: return EVP_aes_256_gcm();
	case SONDE_AEAD_CHACHA20_POLY1305: return EVP_chacha20_poly1305();
	case SONDE_CBC_AES128: return EVP_aes_128_cbc();
	case SONDE_CBC_AES256: return EVP_aes_256_cbc();
	}
	return NULL;
}

static bool is_cbc(const struct sonde_tls_suite *s)
{
	return s->mac != SONDE_MAC_NONE;
}

static size_t mac_size(enum sonde_tls_mac m)
{
	switch (m) {
	case SONDE_MAC_SHA1: return 20;
	case SONDE_MAC_SHA256: return 32;
	case SONDE_MAC_SHA384: return 48;
	case SONDE_MAC_NONE: break;
	}
	return 0;
}

static const char *mac_digest(enum sonde_tls_mac m)
{
	return m == SONDE_MAC_SHA1 ? "SHA1" : m == SONDE_MAC_SHA384 ? "SHA384" : "SHA256";
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

/* A keyed HMAC for a CBC direction (duplicated for every record). */
static bool mac_ctx(struct sonde_tls_keys *k)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *mc = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						 (char *)mac_digest(k->suite->mac), 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX_free(k->mac_ctx);
	k->mac_ctx = mc;
	return mc && EVP_MAC_init(mc, k->mac_key, k->mac_len, p) > 0;
}

/* A cipher context for k (key set; the nonce or IV comes per record). */
static bool key_ctx(struct sonde_tls_keys *k)
{
	EVP_CIPHER_CTX *c = k->ctx ? k->ctx : EVP_CIPHER_CTX_new();
	k->ctx = c;
	if (c && is_cbc(k->suite))
		return EVP_DecryptInit_ex(c, cipher_of(k->suite->bulk), NULL, k->key, NULL) > 0 &&
		       EVP_CIPHER_CTX_set_padding(c, 0) > 0 && mac_ctx(k);
	return c && EVP_DecryptInit_ex(c, cipher_of(k->suite->bulk), NULL, NULL, NULL) > 0 &&
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
	/* client MAC key, server MAC key (CBC only), client key, server key,
	 * client IV, server IV (AEAD only: CBC records carry theirs) */
	uint8_t kb[2 * (SONDE_TLS_MAC_MAX + SONDE_TLS_KEY_MAX + SONDE_TLS_IV_MAX)];
	size_t ml = mac_size(s->mac), kl = s->key_len, il = s->fixed_iv_len;
	if (!key_block(s, master, client_random, server_random, kb, 2 * (ml + kl + il)))
		return false;
	struct sonde_tls_keys *dir[2] = { client, server };
	for (int i = 0; i < 2; i++) {
		dir[i]->suite = s;
		dir[i]->version = 0x0303;
		memcpy(dir[i]->mac_key, kb + i * ml, ml);
		dir[i]->mac_len = (uint8_t)ml;
		memcpy(dir[i]->key, kb + 2 * ml + i * kl, kl);
		memset(dir[i]->iv, 0, sizeof(dir[i]->iv));
		memcpy(dir[i]->iv, kb + 2 * (ml + kl) + i * il, il);
		dir[i]->secret_len = 0;
	}
	OPENSSL_cleanse(kb, sizeof(kb));
	return key_ctx(client) && key_ctx(server);
}

size_t sonde_tls_overhead(const struct sonde_tls_keys *k)
{
	if (is_cbc(k->suite))
		return SONDE_TLS_CBC_BLOCK + k->mac_len + 1;
	if (k->version == 0x0304)
		return SONDE_TLS_TAG + 1;
	return SONDE_TLS_TAG + (k->suite->fixed_iv_len == 4 ? 8 : 0);
}

/* HMAC(seq || type || version || length || p[0..n)) (RFC 5246 6.2.3.1;
 * RFC 7366 3: over the IV and ciphertext) into out. */
static bool record_mac(const struct sonde_tls_keys *k, uint64_t seq, const uint8_t hdr[5],
		       const uint8_t *p, size_t n, uint8_t out[SONDE_TLS_MAC_MAX])
{
	uint8_t pre[13];
	for (int i = 0; i < 8; i++)
		pre[i] = (uint8_t)(seq >> (56 - 8 * i));
	pre[8] = hdr[0];
	pre[9] = hdr[1];
	pre[10] = hdr[2];
	pre[11] = (uint8_t)(n >> 8);
	pre[12] = (uint8_t)n;
	EVP_MAC_CTX *mc = EVP_MAC_CTX_dup(k->mac_ctx);
	size_t len = 0;
	bool ok = mc && EVP_MAC_update(mc, pre, sizeof(pre)) > 0 && EVP_MAC_update(mc, p, n) > 0 &&
		  EVP_MAC_final(mc, out, &len, SONDE_TLS_MAC_MAX) > 0 && len == k->mac_len;
	EVP_MAC_CTX_free(mc);
	return ok;
}

/* AES-CBC over body[0..n) with the IV iv (no padding removed) into out. */
static bool cbc_decrypt(struct sonde_tls_keys *k, const uint8_t *iv, const uint8_t *body, size_t n,
			uint8_t *out)
{
	int l1 = 0, l2 = 0;
	return EVP_DecryptInit_ex(k->ctx, NULL, NULL, NULL, iv) > 0 &&
	       EVP_DecryptUpdate(k->ctx, out, &l1, body, (int)n) > 0 &&
	       EVP_DecryptFinal_ex(k->ctx, out + l1, &l2) > 0 && (size_t)(l1 + l2) == n;
}

/* The length of out[0..n) without its padding, or -1 if the padding is not
 * TLS's (every one of the last p + 1 bytes holds p). */
static long unpad(const uint8_t *out, size_t n)
{
	size_t p = out[n - 1];
	if (p + 1 > n)
		return -1;
	for (size_t i = n - p - 1; i < n; i++)
		if (out[i] != p)
			return -1;
	return (long)(n - p - 1);
}

/* A CBC record: IV, then the ciphertext of plaintext || MAC || padding
 * (MAC-then-encrypt), or of plaintext || padding followed by the MAC of IV
 * and ciphertext (encrypt-then-MAC). */
static int open_cbc(struct sonde_tls_keys *k, uint64_t seq, const uint8_t hdr[5],
		    const uint8_t *rec, size_t n, uint8_t *out)
{
	const size_t bs = SONDE_TLS_CBC_BLOCK, ml = k->mac_len;
	uint8_t mac[SONDE_TLS_MAC_MAX];
	size_t clen = n - (k->etm ? ml : 0);
	if (n < bs + ml || clen < 2 * bs || (clen - bs) % bs)
		return -1;
	if (k->etm &&
	    (!record_mac(k, seq, hdr, rec, clen, mac) || CRYPTO_memcmp(mac, rec + clen, ml)))
		return -1;
	if (!cbc_decrypt(k, rec, rec + bs, clen - bs, out))
		return -1;
	long pl = unpad(out, clen - bs);
	if (pl < 0)
		return -1;
	if (k->etm)
		return (int)pl;
	if ((size_t)pl < ml)
		return -1;
	pl -= (long)ml;
	if (!record_mac(k, seq, hdr, out, (size_t)pl, mac) || CRYPTO_memcmp(mac, out + pl, ml))
		return -1;
	return (int)pl;
}

int sonde_tls_open(struct sonde_tls_keys *k, uint64_t seq, const uint8_t hdr[5], const uint8_t *rec,
		   size_t n, uint8_t *out)
{
	if (k->suite && is_cbc(k->suite))
		return open_cbc(k, seq, hdr, rec, n, out);
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
	EVP_MAC_CTX_free(k->mac_ctx);
	OPENSSL_cleanse(k, sizeof(*k));
}
