/* SPDX-License-Identifier: MIT */
#include "proto/tls/tls_decrypt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/tls/tls_crypto.h"
#include "proto/tls/tls_hello.h"
#include "proto/tls/tls_record.h"

#define RESYNC_TRIES_MAX 4096 /* sequence numbers tried at one candidate boundary */

enum {
	REC_CCS = 20,
	REC_ALERT = 21,
	REC_HANDSHAKE = 22,
	REC_APP_DATA = 23,
};

enum key_phase {
	PHASE_CLEAR = 0, /* before this side's keys */
	PHASE_HANDSHAKE, /* TLS 1.3 handshake traffic keys */
	PHASE_APP, /* application traffic keys (TLS 1.2: the only ones) */
};

struct sonde_tls_decrypt;

/* One direction: the bytes one side sent. */
struct tls_dir {
	struct sonde_tls_decrypt *t;
	int side;
	struct sonde_tls_framer fr;
	struct sonde_tls_hs hs;
	struct sonde_tls_keys keys;
	bool keyed; /* keys hold this phase's protection */
	bool protected; /* this side's records are protected from here on */
	enum key_phase phase;
	uint64_t seq; /* of the next record */
	uint64_t next_off; /* stream offset just after the last record handled */
	bool lost; /* records lost since next_off: a gap is owed */
	bool opened_any; /* a record of this phase decrypted (0-RTT is told by its failing) */
	bool to_app, to_update; /* after this record: application keys, KeyUpdate */
	uint8_t *plain;
};

struct sonde_tls_decrypt {
	const struct sonde_keylog *kl;
	struct sonde_stats *st;
	struct sonde_tls_out out;
	struct tls_dir d[2];
	uint64_t ts;
	int client; /* side of the ClientHello, -1 */
	bool have_sh, early_offered;
	bool etm; /* the ServerHello agreed to encrypt_then_mac */
	uint16_t version;
	uint8_t client_random[32];
	const struct sonde_tls_suite *suite;
	const struct sonde_keylog_entry *entry;
	enum sonde_tls_status status;
	struct sonde_tls_session info;
	char cipher[16]; /* "0x1234" for a suite sonde has no name for */
};

/* ------------------------------------------------------------- status --- */

static void set_status(struct sonde_tls_decrypt *t, enum sonde_tls_status s)
{
	if (t->status == s || (t->status >= SONDE_TLS_NO_KEY && s != SONDE_TLS_DECRYPTING))
		return;
	t->status = s;
	switch (s) {
	case SONDE_TLS_DECRYPTING: t->st->tls_keylog_decrypted++; break;
	case SONDE_TLS_NO_KEY: t->st->tls_keylog_no_key++; break;
	case SONDE_TLS_UNSUPPORTED: t->st->tls_keylog_unsupported++; break;
	case SONDE_TLS_NO_HANDSHAKE: t->st->tls_keylog_no_handshake++; break;
	case SONDE_TLS_HANDSHAKE: break;
	}
}

static const char *version_name(uint16_t v)
{
	switch (v) {
	case 0x0304: return "TLSv1.3";
	case 0x0303: return "TLSv1.2";
	case 0x0302: return "TLSv1.1";
	case 0x0301: return "TLSv1.0";
	}
	return "";
}

/* ----------------------------------------------------------- the keys --- */

static const struct sonde_keylog_secret *secret_of(const struct sonde_tls_decrypt *t,
						   enum sonde_keylog_label l)
{
	return t->entry && t->entry->s[l].len ? &t->entry->s[l] : NULL;
}

static bool tls13_dir_keys(struct tls_dir *d, enum sonde_keylog_label l)
{
	const struct sonde_keylog_secret *s = secret_of(d->t, l);
	d->keyed = s && sonde_tls13_keys(&d->keys, d->t->suite, s->b, s->len);
	d->seq = 0;
	d->opened_any = false;
	return d->keyed;
}

/* The ServerHello is in: version and suite chosen; find the secrets. */
static void setup_keys(struct sonde_tls_decrypt *t, int server, const uint8_t server_random[32])
{
	struct tls_dir *c = &t->d[1 - server], *s = &t->d[server];
	t->info.version = version_name(t->version);
	if (t->suite)
		t->info.cipher = t->suite->name;
	if (!t->suite || t->suite->version != t->version) {
		set_status(t, SONDE_TLS_UNSUPPORTED);
		return;
	}
	t->entry = sonde_keylog_find(t->kl, t->client_random);
	bool ok;
	if (t->version == 0x0304) {
		c->phase = s->phase = PHASE_HANDSHAKE;
		s->protected = true; /* everything after the ServerHello */
		ok = tls13_dir_keys(c, SONDE_KL_CLIENT_HS);
		ok = tls13_dir_keys(s, SONDE_KL_SERVER_HS) && ok;
	} else {
		/* protected from each side's ChangeCipherSpec on */
		const struct sonde_keylog_secret *m = secret_of(t, SONDE_KL_MASTER);
		c->phase = s->phase = PHASE_APP;
		ok = m && m->len == 48 &&
		     sonde_tls12_keys(&c->keys, &s->keys, t->suite, m->b, t->client_random,
				      server_random);
		c->keyed = s->keyed = ok;
		c->seq = s->seq = 0;
		/* RFC 7366 3: it applies to CBC suites only */
		c->keys.etm = s->keys.etm = t->etm && t->suite->mac != SONDE_MAC_NONE;
	}
	set_status(t, ok ? SONDE_TLS_DECRYPTING : SONDE_TLS_NO_KEY);
}

/* -------------------------------------------------- handshake messages --- */

static void on_client_hello(struct tls_dir *d, const uint8_t *body, size_t n)
{
	struct sonde_tls_decrypt *t = d->t;
	struct sonde_tls_hello h;
	if (!body || !sonde_tls_parse_hello(SONDE_HS_CLIENT_HELLO, body, n, &h))
		return;
	t->client = d->side;
	memcpy(t->client_random, h.random, 32);
	t->early_offered = h.early_data;
	memcpy(t->info.sni, h.sni, sizeof(t->info.sni));
}

static void on_server_hello(struct tls_dir *d, const uint8_t *body, size_t n)
{
	struct sonde_tls_decrypt *t = d->t;
	struct sonde_tls_hello h;
	if (!body || !sonde_tls_parse_hello(SONDE_HS_SERVER_HELLO, body, n, &h) || h.hrr)
		return; /* after a HelloRetryRequest the next ServerHello decides */
	if (t->client < 0 || t->client == d->side) {
		set_status(t, SONDE_TLS_NO_HANDSHAKE);
		return;
	}
	t->have_sh = true;
	t->version = h.version;
	t->etm = h.etm;
	t->suite = sonde_tls_suite_find(h.suite);
	snprintf(t->cipher, sizeof(t->cipher), "0x%04x", h.suite);
	t->info.cipher = t->cipher;
	memcpy(t->info.alpn, h.alpn, sizeof(t->info.alpn));
	setup_keys(t, d->side, h.random);
}

static void on_hs(void *ctx, uint8_t type, const uint8_t *body, size_t n)
{
	struct tls_dir *d = ctx;
	struct sonde_tls_hello h;
	switch (type) {
	case SONDE_HS_CLIENT_HELLO: on_client_hello(d, body, n); break;
	case SONDE_HS_SERVER_HELLO: on_server_hello(d, body, n); break;
	case SONDE_HS_ENCRYPTED_EXTENSIONS:
		if (body && sonde_tls_parse_hello(type, body, n, &h) && h.alpn[0])
			memcpy(d->t->info.alpn, h.alpn, sizeof(d->t->info.alpn));
		break;
	case SONDE_HS_FINISHED: d->to_app = d->t->version == 0x0304; break;
	case SONDE_HS_KEY_UPDATE: d->to_update = d->t->version == 0x0304; break;
	}
}

/* ------------------------------------------------------------ records --- */

/* The plaintext a protected record of n bytes (header included) carried. */
static uint64_t plain_size(const struct tls_dir *d, size_t n)
{
	size_t over = SONDE_TLS_HEADER + (d->keyed ? sonde_tls_overhead(&d->keys) : 0);
	return n > over ? n - over : 0;
}

/* Plaintext of an application record that will never be seen. */
static void owe(struct tls_dir *d, uint64_t n)
{
	if (n && d->phase == PHASE_APP)
		d->t->out.gap(d->t->out.ctx, d->side, n, d->t->ts);
}

static void undecrypted(struct tls_dir *d, size_t n)
{
	d->t->st->tls_records_undecrypted++;
	d->t->st->tls_undecrypted_bytes += n;
}

/* A record in the clear: the hellos, ChangeCipherSpec, or data no key opens. */
static void clear_record(struct tls_dir *d, const uint8_t *rec, size_t n)
{
	struct sonde_tls_decrypt *t = d->t;
	switch (rec[0]) {
	case REC_HANDSHAKE:
		sonde_tls_hs_feed(&d->hs, rec + SONDE_TLS_HEADER, n - SONDE_TLS_HEADER, on_hs, d);
		break;
	case REC_CCS:
		if (t->version == 0x0303) { /* TLS 1.3's is only for middleboxes */
			d->protected = true;
			d->seq = 0;
		}
		break;
	case REC_APP_DATA:
		if (t->client < 0)
			set_status(t, SONDE_TLS_NO_HANDSHAKE);
		else if (t->early_offered && d->side == t->client && !t->have_sh)
			t->st->tls_early_data_records++; /* 0-RTT, before the ServerHello */
		undecrypted(d, n);
		owe(d, plain_size(d, n));
		break;
	}
}

/* Open rec with the direction's next sequence number, or (resync) the
 * first of the next ones that the lost bytes could have reached. */
static int open_record(struct tls_dir *d, const uint8_t *rec, size_t n, uint64_t off, bool resync,
		       uint64_t *seq)
{
	uint64_t tries = 1;
	if (resync) {
		uint64_t per = SONDE_TLS_HEADER + sonde_tls_overhead(&d->keys);
		tries = (off - d->next_off) / per + 2;
		if (tries > RESYNC_TRIES_MAX)
			tries = RESYNC_TRIES_MAX;
	}
	for (uint64_t k = 0; k < tries; k++) {
		int pl = sonde_tls_open(&d->keys, d->seq + k, rec, rec + SONDE_TLS_HEADER,
					n - SONDE_TLS_HEADER, d->plain);
		if (pl >= 0) {
			*seq = d->seq + k;
			return pl;
		}
	}
	return -1;
}

/* Found again after a loss at offset off, sequence number seq: the plaintext
 * in between is owed at its exact size. */
static void resumed(struct tls_dir *d, uint64_t off, uint64_t seq)
{
	struct sonde_tls_decrypt *t = d->t;
	uint64_t records = seq - d->seq;
	uint64_t over = records * (SONDE_TLS_HEADER + sonde_tls_overhead(&d->keys));
	uint64_t bytes = off - d->next_off;
	t->st->tls_resyncs++;
	t->st->tls_records_lost += records;
	t->info.records_lost += records;
	owe(d, bytes > over ? bytes - over : 0);
	d->lost = false;
	d->seq = seq;
}

/* The decrypted content of one record. */
static void content(struct tls_dir *d, uint8_t type, const uint8_t *p, size_t n)
{
	struct sonde_tls_decrypt *t = d->t;
	if (type == REC_APP_DATA && d->phase == PHASE_APP) {
		t->st->tls_decrypted_bytes += n;
		if (n)
			t->out.data(t->out.ctx, d->side, p, n, t->ts);
	} else if (type == REC_HANDSHAKE) {
		sonde_tls_hs_feed(&d->hs, p, n, on_hs, d);
	}
}

/* Keys change after the record that ended with Finished or KeyUpdate. */
static void next_keys(struct tls_dir *d)
{
	struct sonde_tls_decrypt *t = d->t;
	if (d->to_app) {
		d->to_app = false;
		d->phase = PHASE_APP;
		if (!tls13_dir_keys(d, d->side == t->client ? SONDE_KL_CLIENT_APP
							    : SONDE_KL_SERVER_APP))
			set_status(t, SONDE_TLS_NO_KEY);
	}
	if (d->to_update) {
		d->to_update = false;
		d->keyed = d->keyed && sonde_tls13_update(&d->keys);
		d->seq = 0;
	}
}

static bool protected_record(struct tls_dir *d, const uint8_t *rec, size_t n, uint64_t off,
			     bool resync)
{
	struct sonde_tls_decrypt *t = d->t;
	if (!d->keyed) {
		if (resync)
			return false; /* nothing can prove a boundary */
		undecrypted(d, n);
		owe(d, plain_size(d, n));
		return true;
	}
	if (!d->plain)
		d->plain = sonde_xmalloc(SONDE_TLS_RECORD_MAX);
	uint64_t seq;
	int pl = open_record(d, rec, n, off, resync, &seq);
	if (pl < 0 && resync)
		return false;
	if (resync)
		resumed(d, off, seq);
	if (pl < 0) {
		undecrypted(d, n);
		if (t->early_offered && d->side == t->client && d->phase == PHASE_HANDSHAKE &&
		    !d->opened_any) {
			t->st->tls_early_data_records++; /* 0-RTT: other keys, other numbers */
			return true;
		}
		t->st->tls_records_failed++;
		t->info.records_failed++;
		d->seq++;
		owe(d, plain_size(d, n));
		return true;
	}
	d->seq++;
	d->opened_any = true;
	t->st->tls_records_decrypted++;
	uint8_t type = rec[0];
	if (d->keys.version == 0x0304) { /* TLSInnerPlaintext: content, type, zeros */
		while (pl > 0 && !d->plain[pl - 1])
			pl--;
		if (pl == 0) {
			t->st->tls_records_failed++;
			return true;
		}
		type = d->plain[--pl];
	}
	content(d, type, d->plain, (size_t)pl);
	next_keys(d);
	return true;
}

static bool on_record(void *ctx, const uint8_t *rec, size_t n, uint64_t off, bool resync)
{
	struct tls_dir *d = ctx;
	struct sonde_tls_decrypt *t = d->t;
	if (!resync && d->lost) /* framing went on by itself: a gap at a boundary */
		resync = true;
	if (!d->protected && rec[0] == REC_APP_DATA && t->version == 0x0304 && d->keyed)
		d->protected = true; /* the client's first record under handshake keys */
	bool ok = true;
	/* TLS 1.3 protects only what it sends as application data: its
	 * ChangeCipherSpec (middlebox compatibility) and early alerts are clear. */
	bool clear13 = t->version == 0x0304 && rec[0] != REC_APP_DATA;
	if (d->protected && !clear13)
		ok = protected_record(d, rec, n, off, resync);
	else if (!resync)
		clear_record(d, rec, n);
	else
		ok = false;
	if (ok)
		d->next_off = off + n;
	return ok;
}

/* ---------------------------------------------------------- interface --- */

struct sonde_tls_decrypt *sonde_tls_decrypt_new(const struct sonde_keylog *kl,
						struct sonde_stats *st,
						const struct sonde_tls_out *out)
{
	struct sonde_tls_decrypt *t = sonde_xcalloc(1, sizeof(*t));
	t->kl = kl;
	t->st = st;
	t->out = *out;
	t->client = -1;
	t->info.version = t->info.cipher = "";
	for (int i = 0; i < 2; i++) {
		t->d[i].t = t;
		t->d[i].side = i;
	}
	return t;
}

void sonde_tls_decrypt_data(struct sonde_tls_decrypt *t, int side, const uint8_t *p, size_t n,
			    uint64_t ts)
{
	t->ts = ts;
	sonde_tls_framer_feed(&t->d[side].fr, p, n, on_record, &t->d[side]);
}

void sonde_tls_decrypt_gap(struct sonde_tls_decrypt *t, int side, uint64_t n, uint64_t ts)
{
	struct tls_dir *d = &t->d[side];
	t->ts = ts;
	sonde_tls_framer_gap(&d->fr, n);
	sonde_tls_hs_reset(&d->hs);
	d->lost = true;
}

void sonde_tls_decrypt_finish(struct sonde_tls_decrypt *t, uint64_t ts)
{
	t->ts = ts;
	for (int i = 0; i < 2; i++) {
		struct tls_dir *d = &t->d[i];
		t->st->tls_undecrypted_bytes += d->fr.skipped + d->fr.len;
		d->fr.skipped = 0;
		if (d->lost || d->fr.len) {
			uint64_t end = d->fr.base + d->fr.len;
			owe(d, end > d->next_off ? end - d->next_off : 0);
			d->lost = false;
			d->next_off = end;
		}
		d->fr.base += d->fr.len;
		d->fr.len = 0;
	}
}

const struct sonde_tls_session *sonde_tls_decrypt_session(const struct sonde_tls_decrypt *t)
{
	return &t->info;
}

enum sonde_tls_status sonde_tls_decrypt_status(const struct sonde_tls_decrypt *t)
{
	return t->status;
}

size_t sonde_tls_decrypt_why(const struct sonde_tls_decrypt *t, char *buf, size_t len)
{
	char cr[65];
	for (int i = 0; i < 32; i++)
		snprintf(cr + 2 * i, 3, "%02x", t->client_random[i]);
	int n = 0;
	switch (t->status) {
	case SONDE_TLS_NO_KEY:
		n = snprintf(buf, len, "no keys in the key log for client_random %s", cr);
		break;
	case SONDE_TLS_UNSUPPORTED:
		n = snprintf(buf, len,
			     "%s %s is not decrypted (TLS 1.3; TLS 1.2 AES-GCM, ChaCha20-Poly1305, "
			     "AES-CBC)",
			     t->info.version[0] ? t->info.version : "this version", t->info.cipher);
		break;
	case SONDE_TLS_NO_HANDSHAKE:
		n = snprintf(buf, len, "joined after its hellos: no client_random to find keys by");
		break;
	case SONDE_TLS_HANDSHAKE:
		n = t->client >= 0 ? snprintf(buf, len,
					      "ended before its ServerHello "
					      "(client_random %s)",
					      cr)
				   : snprintf(buf, len, "no ClientHello seen");
		break;
	case SONDE_TLS_DECRYPTING: break;
	}
	return n > 0 ? (size_t)n : 0;
}

int sonde_tls_decrypt_client(const struct sonde_tls_decrypt *t)
{
	return t->client;
}

void sonde_tls_decrypt_free(struct sonde_tls_decrypt *t)
{
	if (!t)
		return;
	for (int i = 0; i < 2; i++) {
		sonde_tls_framer_free(&t->d[i].fr);
		sonde_tls_hs_free(&t->d[i].hs);
		sonde_tls_keys_clear(&t->d[i].keys);
		free(t->d[i].plain);
	}
	free(t);
}
