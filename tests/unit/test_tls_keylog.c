/* SPDX-License-Identifier: MIT */
/*
 * The TLS stage of read --tls-keylog (src/proto/tls/): real TLS made in
 * process by libssl (a client and a server over memory BIOs, the key log
 * from SSL_CTX_set_keylog_callback, as SSLKEYLOGFILE writes it), for TLS 1.2
 * AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305, TLS 1.2 AES-CBC with
 * HMAC-SHA1/SHA256/SHA384 (encrypt_then_mac and MAC-then-encrypt), and
 * TLS 1.3's three suites, with a KeyUpdate in TLS 1.3. The ciphertext of each flight is fed to the
 * stage whole, split at every offset and byte by byte: the plaintext that
 * comes out is each side's, exactly. Then: records lost at a boundary and
 * inside a record (found again, the gap the exact plaintext lost), a flipped
 * byte (one record failed, the rest whole), a key log without the
 * connection (nothing out, counted), a wrong master secret (every record
 * failed, nothing out), and the key log parser.
 */
#include "testutil.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "proto/tls/keylog.h"
#include "proto/tls/tls_decrypt.h"

/* ------------------------------------------------- a real TLS session --- */

struct flight {
	int side; /* 0 client, 1 server */
	struct tu_bytes b;
};

struct transcript {
	struct flight f[64];
	int n;
	struct tu_bytes keylog;
	struct tu_bytes plain[2]; /* what each side sent as application data */
};

static void keylog_cb(const SSL *ssl, const char *line)
{
	struct transcript *t = SSL_get_app_data(ssl);
	tu_bytes_str(&t->keylog, line);
	tu_bytes_str(&t->keylog, "\n");
}

/* Move what side wrote into its flight (and on to the peer). */
static void pump(struct transcript *t, BIO *from, BIO *to, int side)
{
	char buf[16384];
	int k;
	while ((k = BIO_read(from, buf, sizeof(buf))) > 0) {
		if (!t->n || t->f[t->n - 1].side != side) {
			assert_true(t->n < 64);
			t->f[t->n++].side = side;
		}
		tu_bytes_put(&t->f[t->n - 1].b, buf, (size_t)k);
		assert_int_equal(BIO_write(to, buf, k), k);
	}
}

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, key, EVP_sha256());
	return x;
}

struct conn_pair {
	SSL *c, *s;
	BIO *c_in, *c_out, *s_in, *s_out;
};

static void exchange(struct transcript *t, struct conn_pair *p)
{
	for (int i = 0; i < 8; i++) {
		pump(t, p->c_out, p->s_in, 0);
		pump(t, p->s_out, p->c_in, 1);
	}
}

static void send_app(struct transcript *t, struct conn_pair *p, int side, const void *d, size_t n)
{
	SSL *ssl = side ? p->s : p->c;
	size_t done = 0;
	assert_int_equal(SSL_write_ex(ssl, d, n, &done), 1);
	assert_int_equal(done, n);
	tu_bytes_put(&t->plain[side], d, n);
	exchange(t, p);
	char buf[65536];
	size_t got;
	SSL *peer = side ? p->c : p->s;
	while (SSL_read_ex(peer, buf, sizeof(buf), &got) == 1)
		;
	exchange(t, p);
}

enum {
	OPT_KEY_UPDATE = 1, /* TLS 1.3: a KeyUpdate midway */
	OPT_NO_ETM = 2, /* TLS 1.2 CBC: MAC-then-encrypt (no encrypt_then_mac) */
};

/* A handshake and a keep-alive conversation of version v, suite s. */
static void make_session(struct transcript *t, int v, const char *suite, unsigned opts)
{
	bool key_update = opts & OPT_KEY_UPDATE;
	memset(t, 0, sizeof(*t));
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = self_signed(key);
	SSL_CTX *cc = SSL_CTX_new(TLS_client_method()), *sc = SSL_CTX_new(TLS_server_method());
	SSL_CTX *both[2] = { cc, sc };
	for (int i = 0; i < 2; i++) {
		SSL_CTX_set_min_proto_version(both[i], v);
		SSL_CTX_set_max_proto_version(both[i], v);
		if (v == TLS1_3_VERSION)
			SSL_CTX_set_ciphersuites(both[i], suite);
		else
			SSL_CTX_set_cipher_list(both[i], suite);
		SSL_CTX_set_keylog_callback(both[i], i ? NULL : keylog_cb);
		if (opts & OPT_NO_ETM)
			SSL_CTX_set_options(both[i], SSL_OP_NO_ENCRYPT_THEN_MAC);
	}
	SSL_CTX_use_certificate(sc, cert);
	SSL_CTX_use_PrivateKey(sc, key);
	struct conn_pair p = { SSL_new(cc),          SSL_new(sc),          BIO_new(BIO_s_mem()),
			       BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()) };
	SSL_set_app_data(p.c, t);
	SSL_set_bio(p.c, p.c_in, p.c_out);
	SSL_set_bio(p.s, p.s_in, p.s_out);
	SSL_set_connect_state(p.c);
	SSL_set_accept_state(p.s);
	for (int i = 0; i < 10 && !(SSL_is_init_finished(p.c) && SSL_is_init_finished(p.s)); i++) {
		SSL_do_handshake(p.c);
		pump(&*t, p.c_out, p.s_in, 0);
		SSL_do_handshake(p.s);
		pump(t, p.s_out, p.c_in, 1);
	}
	assert_true(SSL_is_init_finished(p.c) && SSL_is_init_finished(p.s));
	char big[40000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	for (int k = 0; k < 3; k++) {
		static const char req[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
		send_app(t, &p, 0, req, sizeof(req) - 1);
		if (key_update && k == 1) {
			SSL_key_update(p.s, SSL_KEY_UPDATE_REQUESTED);
			SSL_do_handshake(p.s);
			exchange(t, &p);
		}
		send_app(t, &p, 1, big, k == 0 ? sizeof(big) : 100 + (size_t)k);
	}
	SSL_free(p.c);
	SSL_free(p.s);
	SSL_CTX_free(cc);
	SSL_CTX_free(sc);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void transcript_free(struct transcript *t)
{
	for (int i = 0; i < t->n; i++)
		tu_bytes_free(&t->f[i].b);
	tu_bytes_free(&t->keylog);
	tu_bytes_free(&t->plain[0]);
	tu_bytes_free(&t->plain[1]);
}

/* ------------------------------------------------------- the stage ------ */

struct out {
	struct tu_bytes got[2];
	uint64_t gap[2];
};

static void on_data(void *ctx, int side, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)ts;
	tu_bytes_put(&((struct out *)ctx)->got[side], p, n);
}

static void on_gap(void *ctx, int side, uint64_t n, uint64_t ts)
{
	(void)ts;
	((struct out *)ctx)->gap[side] += n;
}

/* Feed the transcript, each flight split at cut (SIZE_MAX: byte by byte);
 * drop: bytes [drop_at, drop_at + drop_n) of flight drop_f go as a gap. */
struct feed {
	size_t cut;
	int drop_f;
	size_t drop_at, drop_n;
	int flip_f;
	size_t flip_at;
};

static void feed_flight(struct sonde_tls_decrypt *d, int side, const uint8_t *p, size_t n,
			size_t cut)
{
	if (cut == SIZE_MAX) {
		for (size_t i = 0; i < n; i++)
			sonde_tls_decrypt_data(d, side, p + i, 1, 1);
		return;
	}
	size_t k = cut < n ? cut : n;
	sonde_tls_decrypt_data(d, side, p, k, 1);
	sonde_tls_decrypt_data(d, side, p + k, n - k, 1);
}

static enum sonde_tls_status run(struct transcript *t, const struct sonde_keylog *kl,
				 const struct feed *fd, struct out *o, struct sonde_stats *st)
{
	memset(o, 0, sizeof(*o));
	memset(st, 0, sizeof(*st));
	struct sonde_tls_out to = { on_data, on_gap, o };
	struct sonde_tls_decrypt *d = sonde_tls_decrypt_new(kl, st, &to);
	for (int i = 0; i < t->n; i++) {
		struct flight *f = &t->f[i];
		uint8_t *copy = tu_xmalloc(f->b.len);
		memcpy(copy, f->b.p, f->b.len);
		if (i == fd->flip_f)
			copy[fd->flip_at] ^= 0x40;
		if (i == fd->drop_f) {
			feed_flight(d, f->side, copy, fd->drop_at, fd->cut);
			sonde_tls_decrypt_gap(d, f->side, fd->drop_n, 1);
			size_t after = fd->drop_at + fd->drop_n;
			feed_flight(d, f->side, copy + after, f->b.len - after, fd->cut);
		} else {
			feed_flight(d, f->side, copy, f->b.len, fd->cut);
		}
		free(copy);
	}
	sonde_tls_decrypt_finish(d, 2);
	enum sonde_tls_status s = sonde_tls_decrypt_status(d);
	sonde_tls_decrypt_free(d);
	return s;
}

static void out_free(struct out *o)
{
	tu_bytes_free(&o->got[0]);
	tu_bytes_free(&o->got[1]);
}

static const struct feed whole = { .cut = 0, .drop_f = -1, .flip_f = -1 };

static void expect_plain(struct transcript *t, struct out *o)
{
	for (int s = 0; s < 2; s++) {
		assert_int_equal(o->got[s].len, t->plain[s].len);
		assert_memory_equal(o->got[s].p, t->plain[s].p, t->plain[s].len);
		assert_int_equal(o->gap[s], 0);
	}
}

static void check_version(int v, const char *suite, unsigned opts)
{
	struct transcript t;
	make_session(&t, v, suite, opts);
	char err[200];
	struct sonde_keylog *kl =
		sonde_keylog_parse((const char *)t.keylog.p, t.keylog.len, err, sizeof(err));
	assert_non_null(kl);
	struct out o;
	struct sonde_stats st;
	assert_int_equal(run(&t, kl, &whole, &o, &st), SONDE_TLS_DECRYPTING);
	expect_plain(&t, &o);
	assert_int_equal(st.tls_records_failed, 0);
	assert_int_equal(st.tls_keylog_decrypted, 1);
	out_free(&o);
	size_t longest = 0;
	for (int i = 0; i < t.n; i++)
		longest = t.f[i].b.len > longest ? t.f[i].b.len : longest;
	/* every offset of every flight (steps of 7 past the first 2 KiB: the
	 * 40 KB flight would take long), then byte by byte */
	for (size_t cut = 1; cut < longest; cut += cut < 2048 ? 1 : 7) {
		struct feed f = whole;
		f.cut = cut;
		run(&t, kl, &f, &o, &st);
		expect_plain(&t, &o);
		out_free(&o);
	}
	struct feed f = whole;
	f.cut = SIZE_MAX;
	run(&t, kl, &f, &o, &st);
	expect_plain(&t, &o);
	out_free(&o);
	sonde_keylog_free(kl);
	transcript_free(&t);
}

static void test_tls12(void **state)
{
	(void)state;
	check_version(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", 0);
	check_version(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", 0);
	check_version(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", 0);
}

static void test_tls12_cbc(void **state)
{
	(void)state;
	static const char *const cbc[] = { "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
					   "ECDHE-ECDSA-AES128-SHA256",
					   "ECDHE-ECDSA-AES256-SHA384" };
	for (size_t i = 0; i < sizeof(cbc) / sizeof(cbc[0]); i++) {
		check_version(TLS1_2_VERSION, cbc[i], 0); /* OpenSSL offers and takes EtM */
		check_version(TLS1_2_VERSION, cbc[i], OPT_NO_ETM);
	}
}

static void test_tls13(void **state)
{
	(void)state;
	check_version(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 0);
	check_version(TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", OPT_KEY_UPDATE);
	check_version(TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", OPT_KEY_UPDATE);
}

/* The server's flight holding the 40 KB answer (three records and more). */
static int big_flight(const struct transcript *t)
{
	for (int i = 0; i < t->n; i++)
		if (t->f[i].side == 1 && t->f[i].b.len > 40000)
			return i;
	return -1;
}

/* slack: the plaintext a lost record may be counted with beyond its own
 * (CBC: its padding, unknown, is taken as the least) */
static void check_loss(int v, const char *suite, unsigned opts, size_t slack)
{
	struct transcript t;
	make_session(&t, v, suite, opts);
	char err[200];
	struct sonde_keylog *kl =
		sonde_keylog_parse((const char *)t.keylog.p, t.keylog.len, err, sizeof(err));
	int bf = big_flight(&t);
	assert_true(bf >= 0);
	struct out o;
	struct sonde_stats st;
	/* lose bytes from inside the first record to inside the second, or
	 * exactly one record (5 + 16384 + overhead from its start) */
	size_t rec1 = 5 + (size_t)(t.f[bf].b.p[3] << 8 | t.f[bf].b.p[4]);
	size_t drops[][2] = { { 100, 20000 }, { 0, rec1 }, { 3, 7 } };
	for (size_t k = 0; k < 3; k++) {
		for (size_t cut = 0; cut < 3; cut++) {
			struct feed f = whole;
			f.cut = cut ? (cut == 1 ? 1000 : SIZE_MAX) : 0;
			f.drop_f = bf;
			f.drop_at = drops[k][0];
			f.drop_n = drops[k][1];
			run(&t, kl, &f, &o, &st);
			/* the client's side whole; the server's: what came out plus
			 * the gap is exactly what it sent */
			assert_int_equal(o.got[0].len, t.plain[0].len);
			assert_true(o.got[1].len + o.gap[1] >= t.plain[1].len);
			assert_true(o.got[1].len + o.gap[1] <=
				    t.plain[1].len + slack * st.tls_records_lost);
			assert_true(o.gap[1] > 0);
			assert_int_equal(st.tls_resyncs, 1);
			assert_true(st.tls_records_lost >= 1);
			/* after the loss: the later answers, whole */
			size_t tail = 103 + 102;
			assert_memory_equal(o.got[1].p + o.got[1].len - tail,
					    t.plain[1].p + t.plain[1].len - tail, tail);
			out_free(&o);
		}
	}
	/* a flipped byte: one record failed, its plaintext a gap, all else whole */
	struct feed f = whole;
	f.flip_f = bf;
	f.flip_at = 9000;
	run(&t, kl, &f, &o, &st);
	assert_int_equal(st.tls_records_failed, 1);
	assert_true(o.got[1].len + o.gap[1] >= t.plain[1].len);
	assert_true(o.gap[1] >= 16384 && o.gap[1] <= 16384 + slack);
	assert_int_equal(o.got[0].len, t.plain[0].len);
	out_free(&o);
	sonde_keylog_free(kl);
	transcript_free(&t);
}

static void test_loss(void **state)
{
	(void)state;
	check_loss(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 0, 0);
	check_loss(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", 0, 0);
	check_loss(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", 0, 0);
	check_loss(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256", 0, 15);
	check_loss(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-SHA", OPT_NO_ETM, 15);
}

/* A master secret one bit off: no record's MAC verifies, none comes out. */
static void test_wrong_key(void **state)
{
	(void)state;
	const char *suites[] = { "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256" };
	for (int k = 0; k < 4; k++) {
		struct transcript t;
		make_session(&t, TLS1_2_VERSION, suites[k / 2], k % 2 ? OPT_NO_ETM : 0);
		char *line = (char *)t.keylog.p;
		char *nl = memchr(line, '\n', t.keylog.len);
		assert_non_null(nl);
		nl[-1] = nl[-1] == '0' ? '1' : '0'; /* the secret's last hex digit */
		char err[200];
		struct sonde_keylog *kl = sonde_keylog_parse(line, t.keylog.len, err, sizeof(err));
		assert_non_null(kl);
		struct out o;
		struct sonde_stats st;
		run(&t, kl, &whole, &o, &st);
		assert_int_equal(o.got[0].len + o.got[1].len, 0);
		assert_true(st.tls_records_failed > 4);
		assert_int_equal(st.tls_records_decrypted, 0);
		out_free(&o);
		sonde_keylog_free(kl);
		transcript_free(&t);
	}
}

static void test_no_key(void **state)
{
	(void)state;
	struct transcript t, other;
	make_session(&t, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 0);
	make_session(&other, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 0);
	char err[200];
	struct sonde_keylog *kl = sonde_keylog_parse((const char *)other.keylog.p, other.keylog.len,
						     err, sizeof(err));
	struct out o;
	struct sonde_stats st;
	assert_int_equal(run(&t, kl, &whole, &o, &st), SONDE_TLS_NO_KEY);
	assert_int_equal(o.got[0].len + o.got[1].len, 0);
	assert_int_equal(st.tls_keylog_no_key, 1);
	assert_true(st.tls_records_undecrypted > 0);
	assert_int_equal(st.tls_records_failed, 0);
	out_free(&o);
	sonde_keylog_free(kl);
	transcript_free(&t);
	transcript_free(&other);
}

static void test_keylog_parse(void **state)
{
	(void)state;
	char err[200];
	const char *none = "# only a comment\nGARBAGE 00 11\nCLIENT_RANDOM abc def\n";
	assert_null(sonde_keylog_parse(none, strlen(none), err, sizeof(err)));
	assert_null(strstr(err, "abc"));
	char text[1024];
	const char *cr = "0101010101010101010101010101010101010101010101010101010101010101";
	const char *cr2 = "0202020202020202020202020202020202020202020202020202020202020202";
	snprintf(text, sizeof(text),
		 "# SSL/TLS secrets log file\r\n"
		 "CLIENT_RANDOM %s %0*d\r\n"
		 "UNKNOWN_LABEL %s 00\n"
		 "SERVER_HANDSHAKE_TRAFFIC_SECRET %s %064d\n"
		 "CLIENT_TRAFFIC_SECRET_0 %s %064d\n"
		 "CLIENT_RANDOM %s 1234\n" /* too short: ignored */
		 "SERVER_TRAFFIC_SECRET_0 %s %096d",
		 cr, 96, 7, cr, cr2, 1, cr, 2, cr2, cr2, 3);
	struct sonde_keylog *kl = sonde_keylog_parse(text, strlen(text), err, sizeof(err));
	assert_non_null(kl);
	assert_int_equal(sonde_keylog_count(kl), 2);
	uint8_t r[32];
	memset(r, 1, 32);
	const struct sonde_keylog_entry *e = sonde_keylog_find(kl, r);
	assert_non_null(e);
	assert_int_equal(e->s[SONDE_KL_MASTER].len, 48);
	assert_int_equal(e->s[SONDE_KL_MASTER].b[47], 7);
	assert_int_equal(e->s[SONDE_KL_CLIENT_APP].len, 32);
	memset(r, 2, 32);
	e = sonde_keylog_find(kl, r);
	assert_non_null(e);
	assert_int_equal(e->s[SONDE_KL_SERVER_HS].len, 32);
	assert_int_equal(e->s[SONDE_KL_SERVER_APP].len, 48);
	assert_int_equal(e->s[SONDE_KL_MASTER].len, 0);
	memset(r, 3, 32);
	assert_null(sonde_keylog_find(kl, r));
	sonde_keylog_free(kl);
}

/* Secrets added later (a pcapng's secrets blocks): merged with what is
 * there, found at once, and an empty key log counts none. */
static void test_keylog_add(void **state)
{
	(void)state;
	char err[200], text[512];
	struct sonde_keylog *kl = sonde_keylog_new();
	assert_int_equal(sonde_keylog_count(kl), 0);
	assert_int_equal(sonde_keylog_count(NULL), 0);
	uint8_t r[32];
	char cr[65];
	for (int i = 0; i < 300; i++) { /* past the first allocations */
		snprintf(cr, sizeof(cr), "%064x", i + 1);
		snprintf(text, sizeof(text), "CLIENT_RANDOM %s %096d\n", cr, i);
		assert_int_equal(sonde_keylog_add(kl, text, strlen(text), err, sizeof(err)), 1);
	}
	assert_int_equal(sonde_keylog_count(kl), 300);
	/* a known connection's other secret: merged, nothing new */
	snprintf(cr, sizeof(cr), "%064x", 7);
	snprintf(text, sizeof(text), "CLIENT_TRAFFIC_SECRET_0 %s %064d\n# no secret\n", cr, 5);
	assert_int_equal(sonde_keylog_add(kl, text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(sonde_keylog_add(kl, "junk", 4, err, sizeof(err)), 0);
	assert_int_equal(sonde_keylog_count(kl), 300);
	memset(r, 0, 32);
	r[31] = 7;
	const struct sonde_keylog_entry *e = sonde_keylog_find(kl, r);
	assert_non_null(e);
	assert_int_equal(e->s[SONDE_KL_MASTER].len, 48);
	assert_int_equal(e->s[SONDE_KL_MASTER].b[47], 6);
	assert_int_equal(e->s[SONDE_KL_CLIENT_APP].len, 32);
	r[31] = 44;
	r[30] = 1; /* 0x12c = 300 */
	assert_non_null(sonde_keylog_find(kl, r));
	sonde_keylog_free(kl);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_tls12),        tu_test(test_tls12_cbc), tu_test(test_tls13),
		tu_test(test_loss),         tu_test(test_wrong_key), tu_test(test_no_key),
		tu_test(test_keylog_parse), tu_test(test_keylog_add),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
