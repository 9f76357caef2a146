/* SPDX-License-Identifier: MIT */
/* The rules, their defaults, and the mask (redact.h). */
#include "redact/redact.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* ---------------------------------------------------------- defaults --- */

static const struct {
	const char *name;
	enum sonde_redact_hdr how;
} default_headers[] = {
	{ "authorization", SONDE_REDACT_HDR_AUTH },
	{ "proxy-authorization", SONDE_REDACT_HDR_AUTH },
	{ "cookie", SONDE_REDACT_HDR_COOKIE },
	{ "set-cookie", SONDE_REDACT_HDR_SET_COOKIE },
	{ "x-api-key", SONDE_REDACT_HDR_WHOLE },
	{ "api-key", SONDE_REDACT_HDR_WHOLE },
	{ "x-auth-token", SONDE_REDACT_HDR_WHOLE },
	{ "x-access-token", SONDE_REDACT_HDR_WHOLE },
	{ "x-refresh-token", SONDE_REDACT_HDR_WHOLE },
	{ "x-session-token", SONDE_REDACT_HDR_WHOLE },
	{ "x-csrf-token", SONDE_REDACT_HDR_WHOLE },
	{ "x-xsrf-token", SONDE_REDACT_HDR_WHOLE },
	{ "x-client-secret", SONDE_REDACT_HDR_WHOLE },
	{ "x-amz-security-token", SONDE_REDACT_HDR_WHOLE },
	{ "x-goog-api-key", SONDE_REDACT_HDR_WHOLE },
	{ "x-vault-token", SONDE_REDACT_HDR_WHOLE },
	{ "x-consul-token", SONDE_REDACT_HDR_WHOLE },
	{ "private-token", SONDE_REDACT_HDR_WHOLE },
	{ "ocp-apim-subscription-key", SONDE_REDACT_HDR_WHOLE },
	{ "x-functions-key", SONDE_REDACT_HDR_WHOLE },
	{ ":path", SONDE_REDACT_HDR_URL },
	{ "referer", SONDE_REDACT_HDR_URL },
	{ "location", SONDE_REDACT_HDR_URL },
	{ "content-location", SONDE_REDACT_HDR_URL },
};

/* Body fields and URL parameters, compared without case, '-' and '_'. */
static const char *const default_fields[] = {
	"token",     "accesstoken",  "refreshtoken",  "idtoken",
	"authtoken", "sessiontoken", "apitoken",      "bearertoken",
	"csrftoken", "xsrftoken",    "clientsecret",  "secret",
	"passwd",    "pwd",          "passphrase",    "auth",
	"signature", "sig",          "cvv",           "cvc",
	"pin",       "sessionid",    "xamzsignature", "xamzsecuritytoken",
};
/* ... and any name containing one of these. */
static const char *const default_substrings[] = {
	"password", "passwd", "secret", "credential", "privatekey", "apikey",
};

void sonde_redactor_init(struct sonde_redactor *r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < sizeof(default_headers) / sizeof(default_headers[0]); i++)
		sonde_redactor_add_header(r, default_headers[i].name, default_headers[i].how, NULL,
					  0);
	for (size_t i = 0; i < sizeof(default_fields) / sizeof(default_fields[0]); i++)
		sonde_redactor_add_field(r, default_fields[i], false, NULL, 0);
	for (size_t i = 0; i < sizeof(default_substrings) / sizeof(default_substrings[0]); i++)
		sonde_redactor_add_field(r, default_substrings[i], true, NULL, 0);
	r->cards = true;
	r->key_len = SONDE_REDACT_KEY_LEN;
	size_t got = 0;
	while (got < r->key_len) {
		ssize_t k = getrandom(r->key + got, r->key_len - got, 0);
		if (k <= 0)
			break; /* never on Linux >= 3.17; the key is then partly zero */
		got += (size_t)k;
	}
}

static void mac_drop(struct sonde_redactor *r)
{
	EVP_MAC_CTX_free(r->mac);
	r->mac = NULL;
}

void sonde_redactor_free(struct sonde_redactor *r)
{
	mac_drop(r);
	for (size_t i = 0; i < r->npattern; i++)
		regfree(&r->pattern[i]);
	r->npattern = 0;
	memset(r->key, 0, sizeof(r->key));
}

static void say(char *err, size_t errlen, const char *fmt, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, what);
}

/* Lower case, and for fields without '-', '_' and '.': "Client_Secret" and
 * "clientSecret" are one name. Returns the length, or SIZE_MAX if longer
 * than max. */
static size_t normalise(const uint8_t *p, size_t n, bool field, char *out, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (field && (c == '-' || c == '_' || c == '.'))
			continue;
		if (k == max)
			return SIZE_MAX;
		out[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[k] = 0;
	return k;
}

int sonde_redactor_add_header(struct sonde_redactor *r, const char *name, enum sonde_redact_hdr how,
			      char *err, size_t errlen)
{
	size_t n = strlen(name);
	if (!n || n > SONDE_REDACT_NAME_MAX) {
		say(err, errlen, "a header name of 1 to 64 bytes, not '%s'", name);
		return -1;
	}
	struct sonde_redact_name nm;
	nm.len =
		(uint8_t)normalise((const uint8_t *)name, n, false, nm.name, SONDE_REDACT_NAME_MAX);
	nm.kind = (uint8_t)how;
	for (size_t i = 0; i < r->nhdr; i++)
		if (r->hdr[i].len == nm.len && !memcmp(r->hdr[i].name, nm.name, nm.len)) {
			r->hdr[i].kind = nm.kind; /* a user's rule replaces the default */
			return 0;
		}
	if (r->nhdr == SONDE_REDACT_NAMES_MAX) {
		say(err, errlen, "too many header rules (at most 128): '%s'", name);
		return -1;
	}
	r->hdr[r->nhdr++] = nm;
	r->hdr_lens_by_first[(uint8_t)nm.name[0]] |= 1ull << (nm.len - 1);
	return 0;
}

int sonde_redactor_add_field(struct sonde_redactor *r, const char *name, bool substring, char *err,
			     size_t errlen)
{
	const char *dot = strrchr(name, '.');
	const char *last = dot ? dot + 1 : name;
	struct sonde_redact_name nm;
	size_t n = normalise((const uint8_t *)last, strlen(last), true, nm.name,
			     SONDE_REDACT_NAME_MAX);
	if (!n || n == SIZE_MAX) {
		say(err, errlen, "a field name of 1 to 64 letters or digits, not '%s'", name);
		return -1;
	}
	if (r->nfield == SONDE_REDACT_NAMES_MAX) {
		say(err, errlen, "too many field rules (at most 128): '%s'", name);
		return -1;
	}
	nm.len = (uint8_t)n;
	nm.kind = substring ? 2 : 1;
	r->field[r->nfield++] = nm;
	if (!substring) {
		r->field_exact_lens_by_first[(uint8_t)nm.name[0]] |= 1ull << (n - 1);
	} else {
		if (!r->field_sub_min || n < r->field_sub_min)
			r->field_sub_min = (uint8_t)n;
		r->field_sub_first[(uint8_t)nm.name[0]] = true;
		r->field_sub[r->nfield_sub++] = (uint8_t)(r->nfield - 1);
	}
	return 0;
}

int sonde_redactor_add_pattern(struct sonde_redactor *r, const char *re, char *err, size_t errlen)
{
	if (r->npattern == SONDE_REDACT_PATTERNS_MAX) {
		say(err, errlen, "too many patterns (at most 16): '%s'", re);
		return -1;
	}
	int rc = regcomp(&r->pattern[r->npattern], re, REG_EXTENDED);
	if (rc) {
		char why[128];
		regerror(rc, &r->pattern[r->npattern], why, sizeof(why));
		if (err && errlen)
			snprintf(err, errlen, "'%s' is not a POSIX extended regular expression: %s",
				 re, why);
		return -1;
	}
	r->npattern++;
	return 0;
}

void sonde_redactor_set_key(struct sonde_redactor *r, const void *key, size_t n)
{
	/* HMAC hashes a longer key down to its block anyway: keep 32 bytes of
	 * SHA-256 of it, so any length works. */
	unsigned int len = 0;
	EVP_Digest(key, n, r->key, &len, EVP_sha256(), NULL);
	r->key_len = len;
	r->key_given = true;
	mac_drop(r);
}

/* ----------------------------------------------------------- matching --- */

enum sonde_redact_hdr sonde_redact_header_kind(const struct sonde_redactor *r, const uint8_t *name,
					       size_t n)
{
	char low[SONDE_REDACT_NAME_MAX + 1];
	if (!n || n > SONDE_REDACT_NAME_MAX)
		return SONDE_REDACT_HDR_NONE;
	uint8_t first = name[0] >= 'A' && name[0] <= 'Z' ? (uint8_t)(name[0] + 32) : name[0];
	if (!(r->hdr_lens_by_first[first] >> (n - 1) & 1))
		return SONDE_REDACT_HDR_NONE; /* no rule of this length starts so */
	size_t k = normalise(name, n, false, low, SONDE_REDACT_NAME_MAX);
	for (size_t i = 0; i < r->nhdr; i++)
		if (r->hdr[i].len == k && !memcmp(r->hdr[i].name, low, k))
			return (enum sonde_redact_hdr)r->hdr[i].kind;
	return SONDE_REDACT_HDR_NONE;
}

bool sonde_redact_field_match(const struct sonde_redactor *r, const uint8_t *name, size_t n)
{
	char low[257];
	size_t k = normalise(name, n < 256 ? n : 256, true, low, sizeof(low) - 1);
	if (!k || k == SIZE_MAX)
		return false;
	/* Most keys are neither as long as an exact name with their first
	 * byte nor hold a byte a substring name starts with, early enough for
	 * it to fit: one pass over the key looks for those bytes. */
	if (k <= 64 && (r->field_exact_lens_by_first[(uint8_t)low[0]] >> (k - 1) & 1))
		for (size_t i = 0; i < r->nfield; i++) {
			const struct sonde_redact_name *f = &r->field[i];
			if (f->kind == 1 && f->len == k && !memcmp(f->name, low, k))
				return true;
		}
	for (size_t at = 0; r->field_sub_min && at + r->field_sub_min <= k; at++) {
		if (!r->field_sub_first[(uint8_t)low[at]])
			continue;
		for (size_t i = 0; i < r->nfield_sub; i++) {
			const struct sonde_redact_name *f = &r->field[r->field_sub[i]];
			/* names are short: a plain comparison beats memmem's set-up
			 * (low[k] is its terminator: a name of one byte has 0 next) */
			if (f->len <= k - at && low[at] == f->name[0] &&
			    (f->len == 1 || low[at + 1] == f->name[1]) &&
			    !memcmp(low + at, f->name, f->len))
				return true;
		}
	}
	return false;
}

/* -------------------------------------------------------------- spans --- */

void sonde_redact_spans_add(struct sonde_redact_spans *sp, size_t off, size_t len)
{
	sonde_redact_spans_add_quoted(sp, off, len, false);
}

void sonde_redact_spans_add_quoted(struct sonde_redact_spans *sp, size_t off, size_t len,
				   bool quote)
{
	if (!len || off > UINT32_MAX || len > UINT32_MAX - off)
		return;
	uint32_t a = (uint32_t)off, b = (uint32_t)(off + len);
	uint32_t i = 0;
	while (i < sp->n && sp->s[i].off + sp->s[i].len < a)
		i++;
	/* merge every span that touches [a, b) */
	uint32_t j = i;
	while (j < sp->n && sp->s[j].off <= b) {
		uint32_t e = sp->s[j].off + sp->s[j].len;
		quote = quote || sp->s[j].quote;
		a = sp->s[j].off < a ? sp->s[j].off : a;
		b = e > b ? e : b;
		j++;
	}
	if (j > i) {
		sp->s[i] = (struct sonde_redact_span){ a, b - a, quote };
		memmove(&sp->s[i + 1], &sp->s[j], (sp->n - j) * sizeof(sp->s[0]));
		sp->n -= j - i - 1;
		return;
	}
	if (sp->n == SONDE_REDACT_SPANS_MAX) {
		/* No room: the safe answer is to hide from the last one on. */
		sp->overflow = true;
		if (a < sp->s[sp->n - 1].off)
			sp->s[sp->n - 1].off = a;
		return;
	}
	memmove(&sp->s[i + 1], &sp->s[i], (sp->n - i) * sizeof(sp->s[0]));
	sp->s[i] = (struct sonde_redact_span){ a, b - a, quote };
	sp->n++;
}

/* The span i within n bytes (the last runs to the end after an overflow). */
static struct sonde_redact_span span_at(const struct sonde_redact_spans *sp, uint32_t i, size_t n)
{
	struct sonde_redact_span s = sp->s[i];
	if (s.off > n)
		s.off = (uint32_t)n;
	if (i + 1 == sp->n && sp->overflow)
		s.len = (uint32_t)(n - s.off);
	if (s.len > n - s.off)
		s.len = (uint32_t)(n - s.off);
	return s;
}

/* --------------------------------------------------------------- mask --- */

/* HMAC-SHA256(key, p) into md (32 bytes); zeros if OpenSSL fails. Keyed
 * once: re-initialising with no key reuses the prepared key. */
static void hmac(const struct sonde_redactor *r, const uint8_t *p, size_t n, uint8_t *md)
{
	struct sonde_redactor *w = (struct sonde_redactor *)r; /* the cache only */
	size_t len = 0;
	if (!w->mac) {
		EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
		w->mac = m ? EVP_MAC_CTX_new(m) : NULL;
		EVP_MAC_free(m);
		OSSL_PARAM prm[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
								      (char *)"SHA256", 0),
				     OSSL_PARAM_construct_end() };
		if (w->mac && !EVP_MAC_init(w->mac, r->key, r->key_len, prm))
			mac_drop(w);
	} else if (!EVP_MAC_init(w->mac, NULL, 0, NULL)) {
		mac_drop(w);
	}
	if (!w->mac || !EVP_MAC_update(w->mac, p, n) || !EVP_MAC_final(w->mac, md, &len, 32))
		memset(md, 0, 32);
}

size_t sonde_redact_mask(const struct sonde_redactor *r, const uint8_t *secret, size_t n, char *out)
{
	uint8_t md[32];
	static const char hex[] = "0123456789abcdef";
	hmac(r, secret, n, md);
	int k = snprintf(out, SONDE_REDACT_MASK_MAX, "****[%zu:", n);
	for (int i = 0; i < SONDE_REDACT_HASH_HEX / 2; i++) {
		out[k++] = hex[md[i] >> 4];
		out[k++] = hex[md[i] & 15];
	}
	out[k++] = ']';
	out[k] = 0;
	return (size_t)k;
}

void sonde_redact_apply(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			const struct sonde_redact_spans *sp, struct sonde_buf *out)
{
	size_t at = 0;
	char mask[SONDE_REDACT_MASK_MAX];
	for (uint32_t i = 0; i < sp->n; i++) {
		struct sonde_redact_span s = span_at(sp, i, n);
		if (s.off < at)
			continue;
		sonde_buf_append(out, p + at, s.off - at);
		size_t m = sonde_redact_mask(r, p + s.off, s.len, mask);
		if (s.quote)
			sonde_buf_putc(out, '"');
		sonde_buf_append(out, mask, m);
		if (s.quote)
			sonde_buf_putc(out, '"');
		at = s.off + s.len;
	}
	sonde_buf_append(out, p + at, n - at);
}

void sonde_redact_overwrite(uint8_t *p, size_t n, const struct sonde_redact_spans *sp)
{
	for (uint32_t i = 0; i < sp->n; i++) {
		struct sonde_redact_span s = span_at(sp, i, n);
		memset(p + s.off, '*', s.len);
	}
}
