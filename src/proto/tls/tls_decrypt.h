/* SPDX-License-Identifier: MIT */
/*
 * The TLS record-layer stage of `sonde read --tls-keylog`: between a
 * connection's reassembly and its protocol detection. Ciphertext of both
 * directions in (split anywhere, gaps said), application plaintext out, in
 * order per direction, as if the connection had been cleartext; what could
 * not be decrypted comes out as gaps of the plaintext's size (never as
 * invented bytes) and is counted.
 *
 * It follows the handshake in the clear (ClientHello, ServerHello: random,
 * version, suite, SNI, ALPN), finds the connection's secrets in the key log
 * by client_random, and decrypts: TLS 1.3 with handshake keys until each
 * side's Finished, then application keys, KeyUpdate followed; TLS 1.2 after
 * each side's ChangeCipherSpec. AEAD suites (AES-GCM, ChaCha20-Poly1305) and
 * TLS 1.2's AES-CBC with HMAC, MAC-then-encrypt or encrypt_then_mac as the
 * hellos agreed (tls_crypto.c lists them); TLS 1.3 0-RTT records are counted
 * and skipped; TLS 1.0 and 1.1 are counted unsupported.
 *
 * After a gap a direction resumes only at a record it can decrypt: a
 * plausible header of a whole record, opened with the next sequence numbers
 * in turn (as many as the lost bytes could have held records, at most 4096);
 * the tag (CBC: the MAC, over the sequence number) proves both the boundary
 * and the number; CBC records carry their own IV, so each opens alone. The
 * plaintext lost in between is given to the dissector as one gap of its
 * exact size (lost bytes minus the records' overhead; CBC: minus the least
 * padding, so up to 15 bytes a lost record more than was sent).
 */
#ifndef SONDE_TLS_DECRYPT_H
#define SONDE_TLS_DECRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"
#include "core/stats.h"
#include "proto/tls/keylog.h"

/* Where plaintext goes; side: the connection table's index of the sender. */
struct sonde_tls_out {
	void (*data)(void *ctx, int side, const uint8_t *p, size_t n, uint64_t ts);
	void (*gap)(void *ctx, int side, uint64_t n, uint64_t ts);
	void *ctx;
};

enum sonde_tls_status {
	SONDE_TLS_HANDSHAKE = 0, /* hellos not seen yet */
	SONDE_TLS_DECRYPTING, /* keys found */
	SONDE_TLS_NO_KEY, /* the key log has no (or not every) secret of it */
	SONDE_TLS_UNSUPPORTED, /* a version or cipher suite sonde does not decrypt */
	SONDE_TLS_NO_HANDSHAKE, /* joined after the hellos */
};

struct sonde_tls_decrypt;

struct sonde_tls_decrypt *sonde_tls_decrypt_new(const struct sonde_keylog *kl,
						struct sonde_stats *st,
						const struct sonde_tls_out *out);
void sonde_tls_decrypt_data(struct sonde_tls_decrypt *t, int side, const uint8_t *p, size_t n,
			    uint64_t ts);
void sonde_tls_decrypt_gap(struct sonde_tls_decrypt *t, int side, uint64_t n, uint64_t ts);
/* Input is over: plaintext still owed (lost records) is given as gaps. */
void sonde_tls_decrypt_finish(struct sonde_tls_decrypt *t, uint64_t ts);
/* What records say of the connection (valid while t lives). */
const struct sonde_tls_session *sonde_tls_decrypt_session(const struct sonde_tls_decrypt *t);
enum sonde_tls_status sonde_tls_decrypt_status(const struct sonde_tls_decrypt *t);
/* Why the connection was not decrypted, one phrase into buf ("no keys in
 * the key log for client_random <hex>": the random is the ClientHello's, on
 * the wire in the clear); 0 when it was decrypted. */
size_t sonde_tls_decrypt_why(const struct sonde_tls_decrypt *t, char *buf, size_t len);
/* The side that sent the ClientHello, or -1. */
int sonde_tls_decrypt_client(const struct sonde_tls_decrypt *t);
void sonde_tls_decrypt_free(struct sonde_tls_decrypt *t);

#endif
