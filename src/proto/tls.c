/* SPDX-License-Identifier: MIT */
/*
 * TLS records seen as ciphertext (a pcap of HTTPS, or a live connection
 * whose library sonde does not probe): recognised so they are counted as
 * encrypted rather than as unknown bytes, then left alone. Live capture gets
 * the plaintext of such connections from the TLS probes instead.
 */
#include <stdlib.h>

#include "core/buf.h"
#include "proto/dissector.h"

enum {
	TLS_CHANGE_CIPHER_SPEC = 20,
	TLS_APPLICATION_DATA = 23,
	TLS_HANDSHAKE = 22,
	TLS_CLIENT_HELLO = 1,
	TLS_SERVER_HELLO = 2,
	TLS_RECORD_MAX = 16384 + 2048, /* TLSCiphertext.length bound (RFC 8446 5.2) */
};

static enum sonde_probe tls_probe(const uint8_t *p, size_t n)
{
	if (n < 5)
		return n && (p[0] < TLS_CHANGE_CIPHER_SPEC || p[0] > TLS_APPLICATION_DATA)
			       ? SONDE_PROBE_NO
			       : SONDE_PROBE_MORE;
	if (p[0] < TLS_CHANGE_CIPHER_SPEC || p[0] > TLS_APPLICATION_DATA || p[1] != 3 || p[2] > 4)
		return SONDE_PROBE_NO;
	size_t len = (size_t)p[3] << 8 | p[4];
	if (!len || len > TLS_RECORD_MAX)
		return SONDE_PROBE_NO;
	if (p[0] != TLS_HANDSHAKE)
		return SONDE_PROBE_CLIENT; /* joined mid-connection: roles unknown, and unneeded */
	if (n < 6)
		return SONDE_PROBE_MORE;
	if (p[5] == TLS_CLIENT_HELLO)
		return SONDE_PROBE_CLIENT;
	return p[5] == TLS_SERVER_HELLO ? SONDE_PROBE_SERVER : SONDE_PROBE_NO;
}

struct tls_state {
	struct sonde_session *s;
};

static void *tls_open(struct sonde_session *s)
{
	struct tls_state *t = sonde_xcalloc(1, sizeof(*t));
	t->s = s;
	s->stats->tls_encrypted_connections++;
	return t;
}

/* Nothing to read without keys: hand the connection over to "encrypted",
 * which no dissector claims, so its bytes are counted as skipped and a live
 * source stops copying them. */
static size_t tls_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)dir, (void)p, (void)n, (void)ts;
	struct tls_state *t = state;
	t->s->switch_to = "encrypted";
	return 0;
}

static void tls_gap(void *state, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	(void)state, (void)dir, (void)n, (void)ts;
}

static void tls_end(void *state, enum sonde_dir dir, uint64_t ts)
{
	(void)state, (void)dir, (void)ts;
}

static void tls_close(void *state, uint64_t ts)
{
	(void)ts;
	free(state);
}

const struct sonde_dissector sonde_dissector_tls = {
	.name = "tls",
	.pairing = SONDE_PAIR_EVENTS, /* writes no messages: it identifies and hands on */
	.probe = tls_probe,
	.open = tls_open,
	.data = tls_data,
	.gap = tls_gap,
	.end = tls_end,
	.close = tls_close,
};
