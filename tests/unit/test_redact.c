/* SPDX-License-Identifier: MIT */
/*
 * Redaction (src/redact/): every rule — header forms in any case, URLs'
 * userinfo and query parameters, JSON and form fields by name, card numbers
 * with and without a valid Luhn digit, patterns, the rules file — the mask
 * format (length, keyed hash: equal secrets hash equal, the key changes it),
 * long and odd values (invalid UTF-8, more secrets than spans), the record
 * stage over real HTTP/1 messages (headers, target, body, summary), and the
 * recording's same-length masker fed the same bytes split at every offset
 * and byte by byte.
 */
#include <nghttp2/nghttp2.h>

#include "testutil.h"

#include <fcntl.h>
#include <unistd.h>

#include "redact/redact.h"
#include "redact/redact_stage.h"
#include "redact/redact_stream.h"
#include "sink/render.h"

extern const struct sonde_dissector sonde_dissector_http1;

#define TS 1700000000000000000ull

static struct sonde_redactor R;

static int setup(void **state)
{
	(void)state;
	sonde_redactor_init(&R);
	sonde_redactor_set_key(&R, "unit-key", 8);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sonde_redactor_free(&R);
	return 0;
}

/* The mask of a C string under R. */
static const char *mask_of(const char *s)
{
	static char m[4][SONDE_REDACT_MASK_MAX];
	static int k;
	k = (k + 1) % 4;
	sonde_redact_mask(&R, (const uint8_t *)s, strlen(s), m[k]);
	return m[k];
}

/* in with the spans a scanner found replaced by masks: a static string. */
static const char *applied(const char *in, const struct sonde_redact_spans *sp)
{
	static struct sonde_buf b;
	sonde_buf_free(&b);
	sonde_redact_apply(&R, (const uint8_t *)in, strlen(in), sp, &b);
	sonde_buf_putc(&b, 0);
	return (const char *)b.p;
}

static const char *hdr(const char *name, const char *value)
{
	struct sonde_redact_spans sp = { .n = 0 };
	enum sonde_redact_hdr how =
		sonde_redact_header_kind(&R, (const uint8_t *)name, strlen(name));
	sonde_redact_scan_header(&R, how, (const uint8_t *)value, strlen(value), &sp);
	return applied(value, &sp);
}

static const char *url(const char *u)
{
	struct sonde_redact_spans sp = { .n = 0 };
	sonde_redact_scan_url(&R, (const uint8_t *)u, strlen(u), &sp);
	return applied(u, &sp);
}

static const char *body(const char *b)
{
	struct sonde_redact_spans sp = { .n = 0 };
	sonde_redact_scan_body(&R, (const uint8_t *)b, strlen(b), &sp);
	return applied(b, &sp);
}

static void expect(const char *got, const char *want)
{
	if (strcmp(got, want))
		fail_msg("got  %s\nwant %s", got, want);
}

/* ------------------------------------------------------------ the mask --- */

static void test_mask_format(void **state)
{
	(void)state;
	const char *m = mask_of("abcdef");
	assert_int_equal(strlen(m), strlen("****[6:") + 8 + 1);
	assert_int_equal(strncmp(m, "****[6:", 7), 0);
	assert_int_equal(m[strlen(m) - 1], ']');
	for (size_t i = 7; i < 15; i++)
		assert_non_null(strchr("0123456789abcdef", m[i]));
	/* equal secrets hash equal, others not; the key changes every hash */
	char a[SONDE_REDACT_MASK_MAX];
	snprintf(a, sizeof(a), "%s", mask_of("token-1"));
	assert_string_equal(a, mask_of("token-1"));
	assert_string_not_equal(a, mask_of("token-2"));
	struct sonde_redactor other;
	sonde_redactor_init(&other);
	char b[SONDE_REDACT_MASK_MAX];
	sonde_redact_mask(&other, (const uint8_t *)"token-1", 7, b);
	assert_string_not_equal(a, b);
	sonde_redactor_set_key(&other, "unit-key", 8);
	sonde_redact_mask(&other, (const uint8_t *)"token-1", 7, b);
	assert_string_equal(a, b); /* --redact-key: stable across runs */
	sonde_redactor_free(&other);
	/* two random keys differ (the default) */
	struct sonde_redactor r1, r2;
	sonde_redactor_init(&r1);
	sonde_redactor_init(&r2);
	assert_memory_not_equal(r1.key, r2.key, sizeof(r1.key));
	sonde_redactor_free(&r1);
	sonde_redactor_free(&r2);
}

/* ------------------------------------------------------------- headers --- */

static void test_header_kinds(void **state)
{
	(void)state;
	const char *auth[] = { "Authorization", "authorization",       "AUTHORIZATION",
			       "aUtHoRiZaTiOn", "Proxy-Authorization", "proxy-authorization" };
	for (size_t i = 0; i < sizeof(auth) / sizeof(auth[0]); i++)
		assert_int_equal(
			sonde_redact_header_kind(&R, (const uint8_t *)auth[i], strlen(auth[i])),
			SONDE_REDACT_HDR_AUTH);
	assert_int_equal(sonde_redact_header_kind(&R, (const uint8_t *)"X-API-KEY", 9),
			 SONDE_REDACT_HDR_WHOLE);
	assert_int_equal(sonde_redact_header_kind(&R, (const uint8_t *)"x-api-keys", 10),
			 SONDE_REDACT_HDR_NONE);
	assert_int_equal(sonde_redact_header_kind(&R, (const uint8_t *)"Cookie", 6),
			 SONDE_REDACT_HDR_COOKIE);
	assert_int_equal(sonde_redact_header_kind(&R, (const uint8_t *)"SET-COOKIE", 10),
			 SONDE_REDACT_HDR_SET_COOKIE);
	assert_int_equal(sonde_redact_header_kind(&R, (const uint8_t *)":path", 5),
			 SONDE_REDACT_HDR_URL);
	assert_int_equal(sonde_redact_header_kind(&R, (const uint8_t *)"Content-Type", 12),
			 SONDE_REDACT_HDR_NONE);
	/* a name longer than any rule, and an empty one */
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	assert_int_equal(sonde_redact_header_kind(&R, (const uint8_t *)longname, sizeof(longname)),
			 SONDE_REDACT_HDR_NONE);
	assert_int_equal(sonde_redact_header_kind(&R, (const uint8_t *)"", 0),
			 SONDE_REDACT_HDR_NONE);
}

static void test_header_values(void **state)
{
	(void)state;
	char want[256];
	snprintf(want, sizeof(want), "Bearer %s", mask_of("abc.def.ghi"));
	expect(hdr("Authorization", "Bearer abc.def.ghi"), want);
	snprintf(want, sizeof(want), "Basic   %s", mask_of("dXNlcjpwYXNz"));
	expect(hdr("authorization", "Basic   dXNlcjpwYXNz"), want);
	/* no scheme: all of it */
	expect(hdr("Authorization", "justatoken"), mask_of("justatoken"));
	expect(hdr("Authorization", "Bearer"), mask_of("Bearer"));
	expect(hdr("Authorization", ""), "");
	snprintf(want, sizeof(want), "a=%s; b=%s; flag", mask_of("1"), mask_of("two"));
	/* a piece without '=' is masked whole */
	char want2[256];
	snprintf(want2, sizeof(want2), "a=%s; b=%s; %s", mask_of("1"), mask_of("two"),
		 mask_of("flag"));
	expect(hdr("Cookie", "a=1; b=two; flag"), want2);
	snprintf(want, sizeof(want), "sid=%s; Path=/; HttpOnly; Secure", mask_of("xyz"));
	expect(hdr("Set-Cookie", "sid=xyz; Path=/; HttpOnly; Secure"), want);
	expect(hdr("X-Api-Key", "k-123"), mask_of("k-123"));
	expect(hdr("Accept", "*/*"), "*/*");
	/* user rules: a new header, any case */
	struct sonde_redactor r;
	sonde_redactor_init(&r);
	char err[256];
	assert_int_equal(sonde_redactor_add_header(&r, "X-Internal-Sig", SONDE_REDACT_HDR_WHOLE,
						   err, sizeof(err)),
			 0);
	assert_int_equal(sonde_redact_header_kind(&r, (const uint8_t *)"x-internal-sig", 14),
			 SONDE_REDACT_HDR_WHOLE);
	assert_int_equal(
		sonde_redactor_add_header(&r, "", SONDE_REDACT_HDR_WHOLE, err, sizeof(err)), -1);
	sonde_redactor_free(&r);
}

/* invalid UTF-8 and NULs in a value: masked as bytes, hashed as bytes */
static void test_odd_bytes(void **state)
{
	(void)state;
	const uint8_t v[] = { 'B', 'e', 'a', 'r', 'e', 'r', ' ', 0xff, 0xfe, 0, 0xc3, 'x' };
	struct sonde_redact_spans sp = { .n = 0 };
	sonde_redact_scan_header(&R, SONDE_REDACT_HDR_AUTH, v, sizeof(v), &sp);
	assert_int_equal(sp.n, 1);
	assert_int_equal(sp.s[0].off, 7);
	assert_int_equal(sp.s[0].len, 5);
	struct sonde_buf b = { 0 };
	sonde_redact_apply(&R, v, sizeof(v), &sp, &b);
	char m[SONDE_REDACT_MASK_MAX];
	sonde_redact_mask(&R, v + 7, 5, m);
	assert_int_equal(b.len, 7 + strlen(m));
	assert_memory_equal(b.p + 7, m, strlen(m));
	assert_true(sonde_utf8_valid(b.p, b.len));
	sonde_buf_free(&b);
}

/* ---------------------------------------------------------------- URLs --- */

static void test_urls(void **state)
{
	(void)state;
	char want[512];
	snprintf(want, sizeof(want), "/p?x=1&token=%s&y=2", mask_of("T0K"));
	expect(url("/p?x=1&token=T0K&y=2"), want);
	/* names in any case, with - or _, percent-encoded */
	snprintf(want, sizeof(want), "/p?ACCESS_TOKEN=%s&Api-Key=%s&apiKey=%s&access%%5Ftoken=%s",
		 mask_of("a"), mask_of("b"), mask_of("c"), mask_of("d"));
	expect(url("/p?ACCESS_TOKEN=a&Api-Key=b&apiKey=c&access%5Ftoken=d"), want);
	snprintf(want, sizeof(want), "/cb#access_token=%s&state=s", mask_of("frag"));
	expect(url("/cb#access_token=frag&state=s"), want);
	snprintf(want, sizeof(want), "https://bob:%s@h.example/x?password=%s", mask_of("pw"),
		 mask_of("p2"));
	expect(url("https://bob:pw@h.example/x?password=p2"), want);
	/* a user that is a token, with no password */
	snprintf(want, sizeof(want), "https://%s@github.com/r.git", mask_of("ghp_abc"));
	expect(url("https://ghp_abc@github.com/r.git"), want);
	/* nothing to mask: the URL is unchanged */
	expect(url("/search?q=token&page=2"), "/search?q=token&page=2");
	expect(url("http://h/a@b"), "http://h/a@b");
	expect(url("?"), "?");
	expect(url(""), "");
	/* a value cut at the end is masked to the end */
	snprintf(want, sizeof(want), "/p?secret=%s", mask_of("abc"));
	expect(url("/p?secret=abc"), want);
	expect(url("/p?secret="), "/p?secret=");
}

static void test_cmdline(void **state)
{
	(void)state;
	const char *in = "mysql --password=PW1 -u root --api-key K2 redis://:PW3@db:6379/0 "
			 "token=T4 --verbose";
	struct sonde_redact_spans sp = { .n = 0 };
	sonde_redact_scan_cmdline(&R, (const uint8_t *)in, strlen(in), &sp);
	char want[512];
	snprintf(want, sizeof(want),
		 "mysql --password=%s -u root --api-key %s redis://:%s@db:6379/0 token=%s --verbose",
		 mask_of("PW1"), mask_of("K2"), mask_of("PW3"), mask_of("T4"));
	expect(applied(in, &sp), want);
	const char *curl = "curl -H Authorization: Bearer HT1 -H x-api-key  K5 -v "
			   "https://h/p?access_token=Q6";
	struct sonde_redact_spans sp2 = { .n = 0 };
	sonde_redact_scan_cmdline(&R, (const uint8_t *)curl, strlen(curl), &sp2);
	snprintf(want, sizeof(want), "curl -H Authorization: Bearer %s -H x-api-key  %s -v "
		 "https://h/p?access_token=%s", mask_of("HT1"), mask_of("K5"), mask_of("Q6"));
	expect(applied(curl, &sp2), want);
	struct sonde_redact_spans none = { .n = 0 };
	sonde_redact_scan_cmdline(&R, (const uint8_t *)"nginx -g daemon off;", 20, &none);
	assert_int_equal(none.n, 0);
}

/* Positional secrets of well-known clients: redis-cli -a, mysql -pPASS (a
 * bare -p prompts: nothing follows it), sshpass -p, curl -u user:pass; the
 * same letters of other programs are left alone. */
static void test_cmdline_positional(void **state)
{
	(void)state;
	static const struct {
		const char *in, *secret[2];
	} cases[] = {
		{ "redis-cli -h db -a S3cret GET k", { "S3cret" } },
		{ "/usr/bin/redis-cli -aS3cret ping", { "S3cret" } },
		{ "mysql -u root -pHunter2 shop", { "Hunter2" } },
		{ "mysql -u root -p shop", { NULL } },
		{ "sshpass -p pw ssh h", { "pw" } },
		{ "curl -u alice:pw1 http://h/", { "pw1" } },
		{ "curl -ubob:pw2 --user carol:pw3 http://h/", { "pw2", "pw3" } },
		{ "curl -u alice http://h/", { NULL } },
		{ "grep -a -p x", { NULL } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *in = cases[i].in;
		struct sonde_redact_spans sp = { .n = 0 };
		sonde_redact_scan_cmdline(&R, (const uint8_t *)in, strlen(in), &sp);
		char want[512];
		snprintf(want, sizeof(want), "%s", in);
		for (int k = 0; k < 2 && cases[i].secret[k]; k++) {
			const char *at = strstr(want, cases[i].secret[k]);
			assert_non_null(at);
			char rest[512];
			snprintf(rest, sizeof(rest), "%s", at + strlen(cases[i].secret[k]));
			snprintf(want + (at - want), sizeof(want) - (size_t)(at - want), "%s%s",
				 mask_of(cases[i].secret[k]), rest);
		}
		expect(applied(in, &sp), want);
	}
}

/* ---------------------------------------------------------------- JSON --- */

static void test_json(void **state)
{
	(void)state;
	char want[1024];
	snprintf(want, sizeof(want),
		 "{\"user\":\"bob\",\"password\":\"%s\",\"n\":{\"client_secret\":\"%s\"},"
		 "\"Refresh-Token\" : \"%s\",\"author\":\"me\"}",
		 mask_of("p\\\"w"), mask_of("cs"), mask_of("rt"));
	expect(body("{\"user\":\"bob\",\"password\":\"p\\\"w\",\"n\":{\"client_secret\":\"cs\"},"
		    "\"Refresh-Token\" : \"rt\",\"author\":\"me\"}"),
	       want);
	/* bare values become JSON strings: the body stays JSON */
	snprintf(want, sizeof(want), "{\"pin\":\"%s\",\"secret\":\"%s\",\"token\":\"%s\"}",
		 mask_of("1234"), mask_of("{\"a\":[1,\"}\"]}"), mask_of("null"));
	expect(body("{\"pin\":1234,\"secret\":{\"a\":[1,\"}\"]},\"token\":null}"), want);
	/* substrings: db_password, newPassword; camelCase joins */
	snprintf(want, sizeof(want),
		 "{\"db_password\":\"%s\",\"newPassword\":\"%s\",\"clientSecret\":\"%s\"}",
		 mask_of("a"), mask_of("b"), mask_of("c"));
	expect(body("{\"db_password\":\"a\",\"newPassword\":\"b\",\"clientSecret\":\"c\"}"), want);
	/* cut in the middle of the value, or of the body before it */
	snprintf(want, sizeof(want), "{\"password\":\"%s", mask_of("abc"));
	expect(body("{\"password\":\"abc"), want);
	expect(body("{\"password\":"), "{\"password\":");
	/* started in the middle of a string: the key is still found */
	snprintf(want, sizeof(want), "tail of a value\", \"token\": \"%s\"}", mask_of("T"));
	expect(body("tail of a value\", \"token\": \"T\"}"), want);
	/* a key whose name is itself an escaped quote, and values as keys */
	snprintf(want, sizeof(want), "{\"a\\\"\":1,\"password-hint\":\"%s\"}", mask_of("x"));
	expect(body("{\"a\\\"\":1,\"password-hint\":\"x\"}"), want);
	expect(body("[\"token\",\"secret\"]"), "[\"token\",\"secret\"]");
}

static void test_forms(void **state)
{
	(void)state;
	char want[256];
	snprintf(want, sizeof(want), "user=bob&password=%s&remember=1", mask_of("p%26w"));
	expect(body("user=bob&password=p%26w&remember=1"), want);
	snprintf(want, sizeof(want), "grant_type=refresh&client_secret=%s&refresh_token=%s",
		 mask_of("cs"), mask_of("rt"));
	expect(body("grant_type=refresh&client_secret=cs&refresh_token=rt"), want);
	/* text with spaces is not a form */
	expect(body("a sentence with token=abc in it"), "a sentence with token=abc in it");
}

/* --------------------------------------------------------------- cards --- */

/* The card scan as it was before its skip over runs (one byte at a time
 * through a run's head), to hold the faster one to. */
static bool ref_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool ref_card_char(uint8_t c)
{
	return c == ' ' || c == '-';
}

/* A card number stands alone: a digit run inside a word (a hex digest, a
 * base64 token, an identifier) is not one. */
static bool ref_word_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
}

static void ref_scan_cards(const uint8_t *p, size_t n, struct sonde_redact_spans *sp)
{
	size_t i = 0;
	while (i < n) {
		/* A card is 13 digits or more: when byte i+12 cannot be part of
		 * one, no run through it starts at i or before — skip 13 (most
		 * text is looked at once in 13 bytes). */
		if (n - i < 13)
			break;
		/* a separator is part of a run only between two digits */
		uint8_t c = p[i + 12];
		if (!ref_is_digit(c) && (!ref_card_char(c) || !ref_is_digit(p[i + 11]) ||
					 i + 13 >= n || !ref_is_digit(p[i + 13]))) {
			i += 13;
			continue;
		}
		if (!ref_is_digit(p[i]) || (i && ref_word_char(p[i - 1])) ||
		    (i > 1 && p[i - 1] == '.' && ref_is_digit(p[i - 2]))) {
			i++;
			continue;
		}
		/* digits, with single spaces or dashes between them */
		size_t e = i, last = i, digits = 0;
		while (e < n) {
			if (ref_is_digit(p[e])) {
				digits++;
				last = e++;
			} else if ((p[e] == ' ' || p[e] == '-') && e + 1 < n &&
				   ref_is_digit(p[e + 1]) && ref_is_digit(p[e - 1])) {
				e++;
			} else {
				break;
			}
			if (digits > 19)
				break;
		}
		bool card = digits >= 13 && digits <= 19 && p[i] >= '2' && p[i] <= '6' &&
			    !(last + 2 < n && p[last + 1] == '.' && ref_is_digit(p[last + 2])) &&
			    !(last + 1 < n && ref_word_char(p[last + 1])) &&
			    sonde_redact_luhn(p + i, last + 1 - i);
		if (card)
			sonde_redact_spans_add(sp, i, last + 1 - i);
		while (e < n && ref_is_digit(p[e])) /* a run too long to be a card */
			e++;
		i = e > i ? e : i + 1;
	}
}
/* Random text of digits, single and double separators, dots and letters,
 * with Luhn-valid cards planted: the same spans as the reference. */
static void test_cards_same_as_reference(void **state)
{
	(void)state;
	static const char alphabet[] = "0123456789012345678901234567  --.ax_";
	static const char *const cards[] = { "4111111111111111", "5500 0000 0000 0004",
					     "3400-0000-0000-009", "6011000000000004" };
	unsigned seed = 7;
	uint8_t in[200];
	uint32_t found = 0;
	for (int round = 0; round < 50000; round++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(in));
		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		if (n > 40 && rand_r(&seed) % 2) {
			const char *c = cards[rand_r(&seed) % 4];
			size_t at = (size_t)rand_r(&seed) % (n - strlen(c) - 2);
			in[at] = in[at + strlen(c) + 1] = ' ';
			memcpy(in + at + 1, c, strlen(c));
		}
		struct sonde_redact_spans got = { .n = 0 }, want = { .n = 0 };
		sonde_redact_scan_cards(in, n, &got);
		ref_scan_cards(in, n, &want);
		assert_int_equal(got.n, want.n);
		found += got.n;
		for (uint32_t i = 0; i < got.n; i++) {
			assert_int_equal(got.s[i].off, want.s[i].off);
			assert_int_equal(got.s[i].len, want.s[i].len);
		}
	}
	assert_true(found > 1000); /* the planted cards were found */
}

static void test_luhn(void **state)
{
	(void)state;
	const char *good[] = { "4111111111111111",   "5555555555554444", "378282246310005",
			       "6011111111111117",   "2223003122003222", "4111 1111 1111 1111",
			       "4111-1111-1111-1111" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(sonde_redact_luhn((const uint8_t *)good[i], strlen(good[i])));
		char in[64], want[128];
		snprintf(in, sizeof(in), "card: %s.", good[i]);
		snprintf(want, sizeof(want), "card: %s.", mask_of(good[i]));
		expect(body(in), want);
	}
	const char *bad[] = {
		"4111111111111112", /* Luhn fails */
		"1733539848123456789", /* a nanosecond timestamp: starts with 1 */
		"411111111111", /* 12 digits */
		"41111111111111111111", /* 20 digits */
		"4111  1111 1111 1111", /* two spaces */
		"3.4111111111111111", /* a decimal */
		"ab4111111111111111", /* inside a word: a hex digest, a token */
		"4111111111111111c9",
	};
	assert_false(sonde_redact_luhn((const uint8_t *)bad[0], strlen(bad[0])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char in[64];
		snprintf(in, sizeof(in), "n=%s;", bad[i]);
		char copy[64];
		snprintf(copy, sizeof(copy), "%s", in);
		struct sonde_redact_spans sp = { .n = 0 };
		sonde_redact_scan_cards((const uint8_t *)in, strlen(in), &sp);
		if (sp.n)
			fail_msg("%s: masked %u spans", in, sp.n);
	}
	assert_false(sonde_redact_luhn((const uint8_t *)"", 0));
	/* cards off */
	struct sonde_redactor r;
	sonde_redactor_init(&r);
	r.cards = false;
	struct sonde_redact_spans sp = { .n = 0 };
	sonde_redact_scan_body(&r, (const uint8_t *)"4111111111111111", 16, &sp);
	assert_int_equal(sp.n, 0);
	sonde_redactor_free(&r);
}

/* ------------------------------------------------- patterns and fields --- */

static void test_patterns_and_fields(void **state)
{
	(void)state;
	struct sonde_redactor r;
	sonde_redactor_init(&r);
	sonde_redactor_set_key(&r, "unit-key", 8);
	char err[256];
	assert_int_equal(sonde_redactor_add_pattern(&r, "ssn=([0-9]{3}-[0-9]{2}-[0-9]{4})", err,
						    sizeof(err)),
			 0);
	assert_int_equal(sonde_redactor_add_pattern(&r, "AKIA[0-9A-Z]{16}", err, sizeof(err)), 0);
	assert_int_equal(sonde_redactor_add_pattern(&r, "([unclosed", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "regular expression"));
	assert_int_equal(sonde_redactor_add_field(&r, "user.ssn_number", false, err, sizeof(err)),
			 0);
	assert_int_equal(sonde_redactor_add_field(&r, "..", false, err, sizeof(err)), -1);
	const char *in = "x ssn=123-45-6789 key AKIAABCDEFGHIJKLMNOP {\"ssnNumber\":\"9\"}";
	struct sonde_redact_spans sp = { .n = 0 };
	sonde_redact_scan_body(&r, (const uint8_t *)in, strlen(in), &sp);
	struct sonde_buf b = { 0 };
	sonde_redact_apply(&r, (const uint8_t *)in, strlen(in), &sp, &b);
	sonde_buf_putc(&b, 0);
	char want[512];
	snprintf(want, sizeof(want), "x ssn=%s key %s {\"ssnNumber\":\"%s\"}",
		 mask_of("123-45-6789"), mask_of("AKIAABCDEFGHIJKLMNOP"), mask_of("9"));
	expect((const char *)b.p, want);
	sonde_buf_free(&b);
	/* a pattern over binary bytes (NULs) does not stop at them */
	const uint8_t bin[] = { 0,   'A', 'K', 'I', 'A', 'A', 'A', 'A', 'A', 'A', 'A',
				'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 0 };
	struct sonde_redact_spans sp2 = { .n = 0 };
	sonde_redact_scan_patterns(&r, bin, sizeof(bin), &sp2);
	assert_int_equal(sp2.n, 1);
	assert_int_equal(sp2.s[0].off, 1);
	assert_int_equal(sp2.s[0].len, 20);
	sonde_redactor_free(&r);
}

static void test_rules_file(void **state)
{
	(void)state;
	char path[] = "/tmp/sonde-rules.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "# sonde rules\n"
			   "header X-Signature\n"
			   "header X-Session url\n"
			   "field  employee_id\n"
			   "field-contains  iban\n"
			   "pattern sk_live_[0-9a-zA-Z]+\n"
			   "key the-team-key\n"
			   "cards off\n"
			   "\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct sonde_redactor r;
	sonde_redactor_init(&r);
	char err[512];
	assert_int_equal(sonde_redactor_load(&r, path, err, sizeof(err)), 0);
	assert_int_equal(sonde_redact_header_kind(&r, (const uint8_t *)"x-signature", 11),
			 SONDE_REDACT_HDR_WHOLE);
	assert_int_equal(sonde_redact_header_kind(&r, (const uint8_t *)"X-Session", 9),
			 SONDE_REDACT_HDR_URL);
	assert_true(sonde_redact_field_match(&r, (const uint8_t *)"EmployeeId", 10));
	assert_true(sonde_redact_field_match(&r, (const uint8_t *)"payer_iban_no", 13));
	assert_true(r.key_given);
	assert_false(r.cards);
	assert_int_equal(r.npattern, 1);
	sonde_redactor_free(&r);
	/* errors name the line */
	fd = open(path, O_WRONLY | O_TRUNC);
	const char *badtext = "field ok\nheader X-A sideways\n";
	assert_int_equal(write(fd, badtext, strlen(badtext)), (ssize_t)strlen(badtext));
	close(fd);
	sonde_redactor_init(&r);
	assert_int_equal(sonde_redactor_load(&r, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2:"));
	sonde_redactor_free(&r);
	unlink(path);
	sonde_redactor_init(&r);
	assert_int_equal(sonde_redactor_load(&r, "/nonexistent/rules", err, sizeof(err)), -1);
	sonde_redactor_free(&r);
}

/* ------------------------------------------------------------- bounds --- */

/* A 1 MB token; more secrets than spans: nothing of them survives. */
static void test_long_and_many(void **state)
{
	(void)state;
	size_t n = 1u << 20;
	char *v = tu_xrealloc(NULL, n + 8);
	memcpy(v, "Bearer ", 7);
	memset(v + 7, 'z', n);
	v[7 + n] = 0;
	const char *out = hdr("Authorization", v);
	char m[SONDE_REDACT_MASK_MAX];
	sonde_redact_mask(&R, (const uint8_t *)v + 7, n, m);
	char want[128];
	snprintf(want, sizeof(want), "Bearer %s", m);
	expect(out, want);
	free(v);
	struct sonde_buf q = { 0 };
	sonde_buf_puts(&q, "/p?");
	for (int i = 0; i < 200; i++)
		sonde_buf_printf(&q, "token=SEKRET%03d&", i);
	sonde_buf_putc(&q, 0);
	out = url((const char *)q.p);
	assert_null(strstr(out, "SEKRET"));
	sonde_buf_free(&q);
}

/* ------------------------------------------------ the stage, HTTP/1 ---- */

static const char REQ[] = "POST /login?api_key=QK1&x=1 HTTP/1.1\r\n"
			  "Host: h\r\n"
			  "AUTHORIZATION: Bearer TOK-A\r\n"
			  "cookie: s=CK1; theme=dark\r\n"
			  "Content-Type: application/json\r\n"
			  "Content-Length: 38\r\n"
			  "\r\n"
			  "{\"user\":\"u\",\"password\":\"PW-123456789\"}";
static const char RESP[] = "HTTP/1.1 200 OK\r\n"
			   "Set-Cookie: s=CK2; Path=/\r\n"
			   "Content-Length: 2\r\n"
			   "\r\n"
			   "ok";

static void test_stage_http1(void **state)
{
	(void)state;
	static struct tu_h1 h;
	tu_h1_open(&h, NULL, false, false);
	h.col.redact = &R;
	tu_h1_data(&h, SONDE_DIR_C2S, REQ, sizeof(REQ) - 1, TS);
	tu_h1_data(&h, SONDE_DIR_S2C, RESP, sizeof(RESP) - 1, TS + 1000);
	tu_h1_close(&h, TS + 2000);
	tu_collector_ok(&h.col);
	assert_int_equal(h.col.n, 1);
	const char *j = h.col.r[0].json;
	const char *secrets[] = { "QK1", "TOK-A", "CK1", "CK2", "PW-123456789" };
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if (strstr(j, secrets[i]))
			fail_msg("%s in %s", secrets[i], j);
		assert_non_null(strstr(j, mask_of(secrets[i])));
	}
	assert_non_null(strstr(j, "\"Bearer ****["));
	assert_non_null(strstr(j, "theme=****["));
	assert_non_null(strstr(j, "\"Host\",\"h\""));
	assert_non_null(strstr(j, "\"user\\\":\\\"u\\\""));
	tu_h1_free(&h);
}

/* The text line: the summary masks the target's parameters, and what the
 * fields mark secret wherever the summary shows it. */
static void summary_emit(void *ctx, const struct sonde_record *r)
{
	struct sonde_record rr = *r;
	struct sonde_stats st = { 0 };
	void *stage = sonde_redact_stage_new(&R, &st);
	sonde_redact_stage.record(stage, &rr);
	struct sonde_text_opts to = { .utc = true, .details = true }; /* the -V block too */
	sonde_record_text(&rr, &to, ctx);
	assert_true(st.redacted_values > 0); /* the -V block walked the fields */
	sonde_redact_stage.close(stage);
}

static void test_stage_summary(void **state)
{
	(void)state;
	static struct tu_h1 h;
	tu_h1_open(&h, NULL, false, false);
	struct sonde_buf text = { 0 };
	h.col.out = (struct sonde_record_out){ summary_emit, &text };
	sonde_pairing_init(&h.sess.pairing, &h.info, &h.col.out, &h.stats, 16, &h.pending);
	tu_h1_str(&h, SONDE_DIR_C2S, "GET /x?token=SUMMARY-SECRET HTTP/1.1\r\nHost: h\r\n\r\n", TS);
	tu_h1_str(&h, SONDE_DIR_S2C, "HTTP/1.1 204 No Content\r\n\r\n", TS + 1);
	tu_h1_close(&h, TS + 2);
	sonde_buf_putc(&text, 0);
	assert_null(strstr((const char *)text.p, "SUMMARY-SECRET"));
	assert_non_null(strstr((const char *)text.p, mask_of("SUMMARY-SECRET")));
	sonde_buf_free(&text);
	tu_h1_free(&h);
}

/* ------------------------------------------------ the recording's mask --- */

struct stream_case {
	const char *bytes;
	const char *secrets[6];
	const char *kept[4]; /* must survive unmasked */
};

static const struct stream_case STREAM_CASES[] = {
	{ "GET /a?access_token=QS-1&v=2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
	  "HDR-TOKEN-2\r\n"
	  "Cookie: sid=CK-3; lang=en\r\nX-Api-Key: AK-4\r\n\r\n",
	  { "QS-1", "HDR-TOKEN-2", "CK-3", "AK-4" },
	  { "Bearer ", "lang=", "Host: x", "v=2" } },
	{ "POST /l HTTP/1.1\r\nContent-Length: "
	  "60\r\n\r\n{\"user\":\"u\",\"password\":\"JSON-PW-5\","
	  "\"card\":\"4111111111111111\"}",
	  { "JSON-PW-5", "4111111111111111" },
	  { "\"user\":\"u\"" } },
	{ "POST /f HTTP/1.1\r\n\r\nuser=u&client_secret=FORM-CS-6&x=1",
	  { "FORM-CS-6" },
	  { "user=u", "x=1" } },
	{ "*2\r\n$4\r\nAUTH\r\n$11\r\nRESP-PASS-7\r\n*3\r\n$3\r\nGET\r\n$1\r\nk\r\n"
	  "*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$5\r\nadmin\r\n$11\r\nHELLO-PW-88\r\n"
	  "AUTH INLINE-PW-9\r\n",
	  { "RESP-PASS-7", "HELLO-PW-88", "INLINE-PW-9", "admin" },
	  { "GET", "HELLO" } },
	/* Redis: ACL SETUSER's password rules, CONFIG SET, MIGRATE AUTH */
	{ "*6\r\n$3\r\nACL\r\n$7\r\nSETUSER\r\n$5\r\nalice\r\n$2\r\non\r\n$9\r\n>ACL-PW-1\r\n"
	  "$65\r\n#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\r\n"
	  "*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$11\r\nrequirepass\r\n$8\r\nCFG-PW-2\r\n"
	  "*6\r\n$6\r\nconfig\r\n$3\r\nset\r\n$9\r\nmaxmemory\r\n$5\r\n100mb\r\n"
	  "$10\r\nmasterauth\r\n$8\r\nCFG-MA-3\r\n"
	  "*11\r\n$7\r\nMIGRATE\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$0\r\n\r\n$1\r\n0\r\n"
	  "$4\r\n5000\r\n$4\r\nCOPY\r\n$4\r\nAUTH\r\n$8\r\nMIG-PW-4\r\n$4\r\nKEYS\r\n$2\r\nk1\r\n",
	  { "ACL-PW-1", "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
	    "CFG-PW-2", "CFG-MA-3", "MIG-PW-4" },
	  { "SETUSER\r\n$5\r\nalice", "maxmemory\r\n$5\r\n100mb", "KEYS\r\n$2\r\nk1" } },
	/* AUTH2, SENTINEL, inline forms, and CONFIG GET's reply */
	{ "*9\r\n$7\r\nMIGRATE\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$2\r\nk1\r\n$1\r\n0\r\n"
	  "$4\r\n5000\r\n$5\r\nAUTH2\r\n$7\r\nmiguser\r\n$8\r\nMIG-PW-5\r\n"
	  "*5\r\n$8\r\nSENTINEL\r\n$3\r\nSET\r\n$8\r\nmymaster\r\n$9\r\nauth-pass\r\n$8\r\nSEN-PW-"
	  "6\r\n"
	  "CONFIG SET requirepass INL-PW-7\r\n"
	  "ACL SETUSER bob on \">INL-PW-8\" ~*\r\n"
	  "*2\r\n$11\r\nrequirepass\r\n$8\r\nGET-PW-9\r\n",
	  { "MIG-PW-5", "miguser", "SEN-PW-6", "INL-PW-7", "INL-PW-8", "GET-PW-9" },
	  { "mymaster", "SETUSER bob on", "CONFIG SET requirepass ", "$11\r\nrequirepass" } },
	/* a card cut anywhere: none of its digits in clear, however few */
	{ "POST /p HTTP/1.1\r\n\r\ncard=4111 1111 1111 1111&n=7",
	  { "4111 1111 1111 1111" },
	  { "n=7" } },
	{ "GET /r HTTP/1.1\r\nReferer: https://bob:URL-PW-10@h/x?token=REF-T-11\r\n\r\n",
	  { "URL-PW-10", "REF-T-11" },
	  { "https://bob:" } },
};

/* Feed bytes as chunks of one direction, cut at the offsets in cuts. */
static char *feed_stream(const char *bytes, const size_t *cuts, size_t ncuts,
			 struct sonde_stats *st)
{
	struct sonde_redact_stream *s = sonde_redact_stream_new(&R);
	size_t n = strlen(bytes), at = 0;
	char *out = tu_xrealloc(NULL, n + 1);
	struct sonde_chunk c = { .seq_kind = SONDE_SEQ_STREAM64, .conn_id = 7 };
	tu_endpoint4(&c.flow.src, 127, 0, 0, 1, 5000);
	tu_endpoint4(&c.flow.dst, 127, 0, 0, 1, 80);
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : n;
		if (end < at || end > n)
			continue;
		c.seq = at;
		c.caplen = c.wirelen = (uint32_t)(end - at);
		c.data = (const uint8_t *)bytes + at;
		const struct sonde_chunk *m = sonde_redact_stream_chunk(s, &c, st);
		assert_int_equal(m->caplen, c.caplen);
		memcpy(out + at, m->data, m->caplen);
		at = end;
	}
	out[n] = 0;
	sonde_redact_stream_free(s);
	return out;
}

static void check_stream(const struct stream_case *sc, const char *out, const char *how, bool whole)
{
	assert_int_equal(strlen(out), strlen(sc->bytes));
	/* every byte of every secret, wherever it was sent */
	for (size_t i = 0; i < 6 && sc->secrets[i]; i++)
		for (const char *o = strstr(sc->bytes, sc->secrets[i]); o;
		     o = strstr(o + 1, sc->secrets[i]))
			for (size_t k = (size_t)(o - sc->bytes);
			     k < (size_t)(o - sc->bytes) + strlen(sc->secrets[i]); k++)
				if (out[k] != '*')
					fail_msg("%s: byte %zu of %s leaked:\n%s", how, k,
						 sc->secrets[i], out);
	/* cut chunks may mask a little more (a scheme cut in two) */
	for (size_t i = 0; whole && i < 4 && sc->kept[i]; i++)
		if (!strstr(out, sc->kept[i]))
			fail_msg("%s: %s masked:\n%s", how, sc->kept[i], out);
	/* only secrets change, into '*' */
	for (size_t i = 0; sc->bytes[i]; i++)
		if (out[i] != sc->bytes[i] && out[i] != '*')
			fail_msg("%s: byte %zu became %c", how, i, out[i]);
}

static void test_stream_split_anywhere(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(STREAM_CASES) / sizeof(STREAM_CASES[0]); k++) {
		const struct stream_case *sc = &STREAM_CASES[k];
		size_t n = strlen(sc->bytes);
		struct sonde_stats st = { 0 };
		char *whole = feed_stream(sc->bytes, NULL, 0, &st);
		check_stream(sc, whole, "whole", true);
		assert_true(st.redacted_recording_bytes > 0);
		/* one cut anywhere */
		for (size_t cut = 1; cut < n; cut++) {
			char how[32];
			snprintf(how, sizeof(how), "cut at %zu", cut);
			char *o = feed_stream(sc->bytes, &cut, 1, &st);
			check_stream(sc, o, how, false);
			free(o);
		}
		/* byte by byte */
		size_t *cuts = tu_xrealloc(NULL, n * sizeof(*cuts));
		for (size_t i = 0; i < n; i++)
			cuts[i] = i + 1;
		char *o = feed_stream(sc->bytes, cuts, n, &st);
		check_stream(sc, o, "byte by byte", false);
		free(o);
		free(cuts);
		free(whole);
	}
}

/* A value longer than the carried context, split across chunks. */
static void test_stream_long_value(void **state)
{
	(void)state;
	struct sonde_buf b = { 0 };
	sonde_buf_puts(&b, "GET / HTTP/1.1\r\nAuthorization: Bearer ");
	for (int i = 0; i < 3000; i++)
		sonde_buf_putc(&b, (char)('a' + i % 26));
	sonde_buf_puts(&b, "\r\nAccept: */*\r\n\r\n");
	sonde_buf_putc(&b, 0);
	size_t cuts[] = { 40, 700, 1400, 2100, 2800 };
	struct sonde_stats st = { 0 };
	char *o = feed_stream((const char *)b.p, cuts, 5, &st);
	assert_null(strstr(o, "abcdefghij"));
	assert_non_null(strstr(o, "Accept: */*"));
	free(o);
	sonde_buf_free(&b);
}

/* ------------------------------------------ the recording of HTTP/2 --- */

static void h2_frame(struct tu_bytes *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
		     size_t n)
{
	tu_u8(b, (uint8_t)(n >> 16));
	tu_be16(b, (uint16_t)n);
	tu_u8(b, type);
	tu_u8(b, flags);
	tu_be32(b, sid);
	if (n)
		tu_bytes_put(b, p, n);
}

/* A header block of the pairs (NULL-terminated), Huffman-coded or not as
 * nghttp2's deflater chooses (Huffman wherever it is shorter). */
static size_t h2_block(nghttp2_hd_deflater *def, const char *const *nv, uint8_t *buf, size_t cap)
{
	nghttp2_nv a[16];
	size_t n = 0;
	for (; nv[2 * n]; n++) {
		a[n].name = (uint8_t *)(uintptr_t)nv[2 * n];
		a[n].namelen = strlen(nv[2 * n]);
		a[n].value = (uint8_t *)(uintptr_t)nv[2 * n + 1];
		a[n].valuelen = strlen(nv[2 * n + 1]);
		a[n].flags = NGHTTP2_NV_FLAG_NONE;
	}
	ssize_t r = nghttp2_hd_deflate_hd(def, buf, cap, a, n);
	assert_true(r > 0);
	return (size_t)r;
}

static const char *const H2_REQ1[] = { ":method", "GET", ":scheme", "http", ":path",
				       "/api/items?page=2&access_token=H2QUERYSECRET", ":authority",
				       "h", "authorization", "Bearer H2BEARERSECRET", "x-api-key",
				       "H2APIKEYSECRET", "accept", "application/json", NULL };
/* the second request reuses the table: x-api-key's name is a dynamic entry */
static const char *const H2_REQ2[] = { ":method", "GET", ":scheme", "http", ":path", "/other",
				       ":authority", "h", "x-api-key", "H2APIKEY2NDSECRET",
				       "cookie", "sid=H2COOKIESECRET", "accept", "application/json",
				       NULL };

/* Decode the header blocks of a client stream (after the preface): the
 * fields, "name: value\n" each, into out. */
static void h2_decode(const uint8_t *p, size_t n, struct sonde_buf *out)
{
	nghttp2_hd_inflater *inf;
	assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
	size_t at = 24;
	struct sonde_buf block = { 0 };
	while (at + 9 <= n) {
		size_t len = (size_t)p[at] << 16 | (size_t)p[at + 1] << 8 | p[at + 2];
		uint8_t type = p[at + 3], flags = p[at + 4];
		assert_true(at + 9 + len <= n);
		if (type == 1 || type == 9) {
			const uint8_t *f = p + at + 9;
			size_t fl = len, pad = 0;
			if (type == 1 && (flags & 0x8)) {
				pad = f[0];
				f++, fl--;
			}
			if (type == 1 && (flags & 0x20))
				f += 5, fl -= 5;
			sonde_buf_append(&block, f, fl - pad);
		}
		if ((type == 1 || type == 9) && (flags & 0x4)) {
			const uint8_t *in = block.p;
			size_t left = block.len;
			for (;;) {
				nghttp2_nv nv;
				int fl = 0;
				ssize_t k = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, left, 1);
				if (k < 0)
					fail_msg("block does not decode (%zd) after:\n%s", k, out->p ? (char *)out->p : "");
				in += k, left -= (size_t)k;
				if (fl & NGHTTP2_HD_INFLATE_EMIT)
					sonde_buf_printf(out, "%.*s: %.*s\n", (int)nv.namelen, nv.name,
							 (int)nv.valuelen, nv.value);
				if (fl & NGHTTP2_HD_INFLATE_FINAL)
					break;
			}
			nghttp2_hd_inflate_end_headers(inf);
			sonde_buf_reset(&block);
		}
		at += 9 + len;
	}
	sonde_buf_putc(out, 0);
	sonde_buf_free(&block);
	nghttp2_hd_inflate_del(inf);
}

static void test_stream_http2(void **state)
{
	(void)state;
	nghttp2_hd_deflater *def;
	assert_int_equal(nghttp2_hd_deflate_new(&def, 4096), 0);
	struct tu_bytes b = { 0 };
	tu_bytes_str(&b, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
	h2_frame(&b, 4, 0, 0, NULL, 0);
	uint8_t blk[1024];
	size_t k = h2_block(def, H2_REQ1, blk, sizeof(blk));
	/* split into HEADERS (padded, with priority) + CONTINUATION */
	struct tu_bytes hp = { 0 };
	tu_u8(&hp, 3); /* pad length */
	tu_be32(&hp, 0);
	tu_u8(&hp, 16);
	tu_bytes_put(&hp, blk, k / 2);
	tu_bytes_put(&hp, "\0\0\0", 3);
	h2_frame(&b, 1, 0x8 | 0x20 | 0x1, 1, hp.p, hp.len);
	h2_frame(&b, 9, 0x4, 1, blk + k / 2, k - k / 2);
	h2_frame(&b, 0, 0x1, 1, "{\"password\":\"H2JSONSECRET\"}", 27);
	k = h2_block(def, H2_REQ2, blk, sizeof(blk));
	h2_frame(&b, 1, 0x5, 3, blk, k);
	nghttp2_hd_deflate_del(def);
	const char *secrets[] = { "H2QUERYSECRET", "H2BEARERSECRET", "H2APIKEYSECRET",
				  "H2APIKEY2NDSECRET", "H2COOKIESECRET", "H2JSONSECRET" };
	struct sonde_buf plain = { 0 };
	h2_decode(b.p, b.len, &plain);
	for (size_t i = 0; i < 5; i++)
		assert_non_null(strstr((const char *)plain.p, secrets[i])); /* planted */
	sonde_buf_free(&plain);
	/* whole, cut once anywhere, byte by byte */
	size_t n = b.len;
	size_t *cuts = tu_xrealloc(NULL, n * sizeof(*cuts));
	for (size_t mode = 0; mode <= n; mode++) {
		size_t ncuts = 0;
		if (mode == n) {
			for (size_t i = 1; i < n; i++)
				cuts[ncuts++] = i;
		} else if (mode) {
			cuts[ncuts++] = mode;
		}
		struct sonde_redact_stream *s = sonde_redact_stream_new(&R);
		struct sonde_stats st = { 0 };
		uint8_t *out = tu_xrealloc(NULL, n);
		struct sonde_chunk c = { .seq_kind = SONDE_SEQ_STREAM64, .conn_id = 9 };
		size_t at = 0;
		for (size_t q = 0; q <= ncuts; q++) {
			size_t end = q < ncuts ? cuts[q] : n;
			c.seq = at;
			c.caplen = c.wirelen = (uint32_t)(end - at);
			c.data = b.p + at;
			const struct sonde_chunk *m = sonde_redact_stream_chunk(s, &c, &st);
			memcpy(out + at, m->data, m->caplen);
			at = end;
		}
		sonde_redact_stream_free(s);
		struct sonde_buf dec = { 0 };
		h2_decode(out, n, &dec);
		const char *d = (const char *)dec.p;
		for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
			if (strstr(d, secrets[i]) || memmem(out, n, secrets[i], strlen(secrets[i])))
				fail_msg("split %zu: %s survived:\n%s", mode, secrets[i], d);
		assert_non_null(strstr(d, "authorization: ***"));
		assert_non_null(strstr(d, "x-api-key: ***"));
		assert_non_null(strstr(d, "cookie: ***"));
		assert_non_null(strstr(d, ":path: /api/items?"));
		assert_non_null(strstr(d, ":path: /other\n"));
		assert_non_null(strstr(d, "accept: application/json"));
		sonde_buf_free(&dec);
		free(out);
	}
	free(cuts);
	free(b.p);
	free(hp.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask_format),
		cmocka_unit_test(test_header_kinds),
		cmocka_unit_test(test_header_values),
		cmocka_unit_test(test_odd_bytes),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_cmdline_positional),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_luhn),
		cmocka_unit_test(test_cards_same_as_reference),
		cmocka_unit_test(test_patterns_and_fields),
		cmocka_unit_test(test_rules_file),
		cmocka_unit_test(test_long_and_many),
		cmocka_unit_test(test_stage_http1),
		cmocka_unit_test(test_stage_summary),
		cmocka_unit_test(test_stream_split_anywhere),
		cmocka_unit_test(test_stream_long_value),
		cmocka_unit_test(test_stream_http2),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
