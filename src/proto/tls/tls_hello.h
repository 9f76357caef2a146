/* SPDX-License-Identifier: MIT */
/*
 * TLS handshake messages: one direction's messages joined from the records
 * that carry them (split anywhere, bounded), and what sonde reads from the
 * hellos (RFC 8446 4.1.2-4.1.3, 4.3.1): randoms, the chosen version (the
 * supported_versions extension) and cipher suite, SNI and ALPN.
 */
#ifndef SONDE_TLS_HELLO_H
#define SONDE_TLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	SONDE_HS_CLIENT_HELLO = 1,
	SONDE_HS_SERVER_HELLO = 2,
	SONDE_HS_NEW_SESSION_TICKET = 4,
	SONDE_HS_END_OF_EARLY_DATA = 5,
	SONDE_HS_ENCRYPTED_EXTENSIONS = 8,
	SONDE_HS_FINISHED = 20,
	SONDE_HS_KEY_UPDATE = 24,
};

#define SONDE_HS_KEEP_MAX 16384 /* bodies kept of the messages read (hellos, EE, KeyUpdate) */

/* A message: type, body (NULL for messages whose body is not kept), length. */
typedef void (*sonde_tls_hs_fn)(void *ctx, uint8_t type, const uint8_t *body, size_t n);

struct sonde_tls_hs {
	uint8_t hdr[4];
	uint8_t hlen;
	uint32_t left; /* body bytes still to come */
	uint32_t len; /* the body's length */
	bool keep; /* this body is kept */
	uint8_t *buf;
	size_t blen;
};

/* Handshake bytes of one direction, in order. */
void sonde_tls_hs_feed(struct sonde_tls_hs *h, const uint8_t *p, size_t n, sonde_tls_hs_fn fn,
		       void *ctx);
/* Bytes were lost: start again at the next record. */
void sonde_tls_hs_reset(struct sonde_tls_hs *h);
void sonde_tls_hs_free(struct sonde_tls_hs *h);

struct sonde_tls_hello {
	uint8_t random[32];
	uint16_t legacy_version;
	uint16_t version; /* supported_versions: the server's choice, or the client's highest */
	uint16_t suite; /* ServerHello: the chosen one */
	bool early_data; /* the early_data extension */
	bool etm; /* the encrypt_then_mac extension (RFC 7366) */
	bool hrr; /* a HelloRetryRequest */
	char sni[256]; /* host_name, NUL-terminated, empty if none */
	char alpn[32]; /* ServerHello/EE: the protocol; ClientHello: the first offered */
};

/* Parse a ClientHello, ServerHello or EncryptedExtensions body into *out
 * (EE fills only alpn and early_data). False if it is malformed. */
bool sonde_tls_parse_hello(uint8_t type, const uint8_t *p, size_t n, struct sonde_tls_hello *out);

#endif
