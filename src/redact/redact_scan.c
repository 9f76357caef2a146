/* SPDX-License-Identifier: MIT */
/*
 * The scanners of redact.h: where the secrets of a header value, a URL, a
 * body are. They hold no state and read only p[0..n): a value may be cut
 * anywhere (a body kept to the limit, a chunk of the recording) and what
 * runs to the end of the input is masked to the end.
 */
#include "redact/redact.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/hex.h"

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* ------------------------------------------------------------ headers --- */

/* name=VALUE pieces split by ';' from p[a..e): each value (or a piece
 * without '=' whole); only the first with first_only. */
static void cookie_values(const uint8_t *p, size_t a, size_t e, bool first_only,
			  struct sonde_redact_spans *sp)
{
	while (a < e) {
		const uint8_t *semi = memchr(p + a, ';', e - a);
		size_t end = semi ? (size_t)(semi - p) : e;
		size_t s = a, t = end;
		while (s < t && is_space(p[s]))
			s++;
		while (t > s && is_space(p[t - 1]))
			t--;
		const uint8_t *eq = memchr(p + s, '=', t - s);
		size_t v = eq ? (size_t)(eq - p) + 1 : s;
		sonde_redact_spans_add(sp, v, t - v);
		if (first_only)
			return;
		a = end + 1;
	}
}

void sonde_redact_scan_header(const struct sonde_redactor *r, enum sonde_redact_hdr how,
			      const uint8_t *p, size_t n, struct sonde_redact_spans *sp)
{
	size_t s = 0;
	switch (how) {
	case SONDE_REDACT_HDR_NONE: break;
	case SONDE_REDACT_HDR_WHOLE: sonde_redact_spans_add(sp, 0, n); break;
	case SONDE_REDACT_HDR_AUTH:
		/* "Scheme credentials": the scheme stays, for debugging */
		while (s < n && is_space(p[s]))
			s++;
		while (s < n && !is_space(p[s]))
			s++;
		while (s < n && is_space(p[s]))
			s++;
		sonde_redact_spans_add(sp, s < n ? s : 0, s < n ? n - s : n);
		break;
	case SONDE_REDACT_HDR_COOKIE: cookie_values(p, 0, n, false, sp); break;
	case SONDE_REDACT_HDR_SET_COOKIE: cookie_values(p, 0, n, true, sp); break;
	case SONDE_REDACT_HDR_URL: sonde_redact_scan_url(r, p, n, sp); break;
	}
}

/* ---------------------------------------------------------- URLs, forms --- */

/* A form name, percent-decoded ('+' a space), matched against the rules. */
static bool form_name_match(const struct sonde_redactor *r, const uint8_t *p, size_t n)
{
	uint8_t name[256];
	size_t k = 0;
	for (size_t i = 0; i < n && k < sizeof(name); i++) {
		int v;
		if (p[i] == '%' && i + 2 < n && (v = sonde_hexbyte(p[i + 1], p[i + 2])) >= 0) {
			name[k++] = (uint8_t)v;
			i += 2;
		} else {
			name[k++] = p[i] == '+' ? ' ' : p[i];
		}
	}
	return sonde_redact_field_match(r, name, k);
}

/* name=value pairs split by '&' in p[a..e), offsets absolute. */
static void form_range(const struct sonde_redactor *r, const uint8_t *p, size_t a, size_t e,
		       struct sonde_redact_spans *sp)
{
	while (a < e) {
		const uint8_t *amp = memchr(p + a, '&', e - a);
		size_t end = amp ? (size_t)(amp - p) : e;
		const uint8_t *eq = memchr(p + a, '=', end - a);
		if (eq && form_name_match(r, p + a, (size_t)(eq - p) - a)) {
			size_t v = (size_t)(eq - p) + 1, t = end;
			while (t > v && is_space(p[t - 1])) /* a line's CRLF */
				t--;
			sonde_redact_spans_add(sp, v, t - v);
		}
		a = end + 1;
	}
}

void sonde_redact_scan_form(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			    struct sonde_redact_spans *sp)
{
	form_range(r, p, 0, n, sp);
}

static bool is_scheme_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' ||
	       c == '-' || c == '.';
}

/* scheme://userinfo@host: the password, or the whole userinfo when it has
 * none (a token given as the user). */
static void userinfo(const uint8_t *p, size_t n, struct sonde_redact_spans *sp)
{
	size_t i = 0;
	while (i < n && i < 32 && is_scheme_char(p[i]))
		i++;
	if (!i || i + 2 >= n || p[i] != ':' || p[i + 1] != '/' || p[i + 2] != '/')
		return;
	size_t a = i + 3, e = a, at = 0;
	for (; e < n && !sonde_redact_authority_end(p[e]); e++)
		if (p[e] == '@')
			at = e;
	if (!at)
		return;
	const uint8_t *colon = memchr(p + a, ':', at - a);
	size_t s = colon ? (size_t)(colon - p) + 1 : a;
	sonde_redact_spans_add(sp, s, at - s);
}

void sonde_redact_scan_url(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			   struct sonde_redact_spans *sp)
{
	userinfo(p, n, sp);
	/* ?query and #fragment (OAuth's implicit flow puts tokens there) */
	const uint8_t *q = memchr(p, '?', n);
	const uint8_t *h = memchr(p, '#', n);
	size_t hash = h ? (size_t)(h - p) : n;
	if (q && (size_t)(q - p) < hash)
		form_range(r, p, (size_t)(q - p) + 1, hash, sp);
	if (h)
		form_range(r, p, hash + 1, n, sp);
}

/* --------------------------------------------------------------- JSON --- */

/* Is the quote at p[i] escaped (an odd run of backslashes before it)? */
static bool escaped(const uint8_t *p, size_t i)
{
	size_t k = 0;
	while (i > k && p[i - k - 1] == '\\')
		k++;
	return k & 1;
}

/* The end of the JSON value starting at p[i] (a string's closing quote
 * excluded; a cut value runs to n). *off: where the secret starts. */
static size_t json_value_end(const uint8_t *p, size_t n, size_t i, size_t *off)
{
	*off = i;
	if (p[i] == '"') {
		*off = i + 1;
		for (size_t k = i + 1; k < n; k++)
			if (p[k] == '"' && !escaped(p, k))
				return k;
		return n;
	}
	if (p[i] == '{' || p[i] == '[') {
		int depth = 0;
		bool str = false;
		for (size_t k = i; k < n; k++) {
			uint8_t c = p[k];
			if (str) {
				str = !(c == '"' && !escaped(p, k));
			} else if (c == '"') {
				str = true;
			} else if (c == '{' || c == '[') {
				depth++;
			} else if ((c == '}' || c == ']') && --depth == 0) {
				return k + 1;
			}
		}
		return n;
	}
	size_t k = i;
	while (k < n && !is_space(p[k]) && p[k] != ',' && p[k] != '}' && p[k] != ']')
		k++;
	return k;
}

/*
 * Keys are found from their colon, looking back: a scan that started in the
 * middle of a string (a cut body, a chunk of the recording) cannot get the
 * quotes' parity wrong this way.
 */
/* Longer keys are not looked at: no field name is that long (and a scan
 * that began inside a string would take text for keys). */
#define KEY_MAX 64

/* Keys a JSON body repeats (arrays of objects) are matched once: keys that
 * did not match, in a small direct-mapped table by their bytes. */
#define KEYS_SEEN 64

struct keys_seen {
	const uint8_t *k[KEYS_SEEN];
	uint32_t len[KEYS_SEEN];
};

static unsigned key_slot(const uint8_t *k, size_t n)
{
	return n ? (unsigned)(n * 31 + k[0] * 7u + k[n - 1] * 131u + k[n / 2]) % KEYS_SEEN : 0;
}

static bool key_seen(const struct keys_seen *ks, const uint8_t *k, size_t n)
{
	unsigned i = key_slot(k, n);
	return ks->k[i] && ks->len[i] == n && !memcmp(ks->k[i], k, n);
}

static void key_remember(struct keys_seen *ks, const uint8_t *k, size_t n)
{
	unsigned i = key_slot(k, n);
	ks->k[i] = k;
	ks->len[i] = (uint32_t)n;
}

void sonde_redact_scan_json(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			    struct sonde_redact_spans *sp)
{
	size_t i = 0;
	const uint8_t *c;
	struct keys_seen ks = { .len = { 0 } };
	while (i < n && (c = memchr(p + i, ':', n - i))) {
		size_t colon = (size_t)(c - p), j = colon;
		i = colon + 1;
		while (j > 0 && is_space(p[j - 1]))
			j--;
		if (j == 0 || p[j - 1] != '"' || escaped(p, j - 1))
			continue;
		size_t close = j - 1, k = close, lim = close > KEY_MAX ? close - KEY_MAX : 0;
		const uint8_t *q = NULL; /* the opening quote, found wide */
		while (k > lim && (q = memrchr(p + lim, '"', k - lim)) &&
		       escaped(p, (size_t)(q - p)))
			k = (size_t)(q - p);
		k = k > lim && q ? (size_t)(q - p) + 1 : lim;
		if (k == lim && !(k > 0 && p[k - 1] == '"'))
			continue;
		if (key_seen(&ks, p + k, close - k))
			continue;
		if (!sonde_redact_field_match(r, p + k, close - k)) {
			key_remember(&ks, p + k, close - k);
			continue;
		}
		size_t v = i;
		while (v < n && is_space(p[v]))
			v++;
		if (v == n)
			continue;
		size_t off, end = json_value_end(p, n, v, &off);
		sonde_redact_spans_add_quoted(sp, off, end - off, p[v] != '"');
		i = end > i ? end : i;
	}
}

/* -------------------------------------------------------------- cards --- */

bool sonde_redact_luhn(const uint8_t *p, size_t n)
{
	unsigned sum = 0, k = 0;
	for (size_t i = n; i-- > 0;) {
		if (!is_digit(p[i]))
			continue;
		unsigned d = p[i] - '0';
		if (k++ & 1)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	return k && sum % 10 == 0;
}

static bool card_char(uint8_t c)
{
	return c == ' ' || c == '-';
}

/* A card number stands alone: a digit run inside a word (a hex digest, a
 * base64 token, an identifier) is not one. */
static bool word_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
}

#ifdef __SSE2__
/* Bit k set: p[k] is a digit (64 bytes). */
static inline uint64_t digits64(const uint8_t *p)
{
	/* c - ('0' + 128) is below -118 for the ten digits alone */
	const __m128i shift = _mm_set1_epi8((char)('0' + 128)), top = _mm_set1_epi8(-118);
	uint64_t d = 0;
	for (int k = 0; k < 4; k++) {
		__m128i v = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * k)), shift);
		d |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmplt_epi8(v, top)) << (16 * k);
	}
	return d;
}
#endif

/* The end of the run of digits at p[e]. */
static size_t digits_end(const uint8_t *p, size_t n, size_t e)
{
#ifdef __SSE2__
	while (e + 64 <= n) {
		uint64_t d = ~digits64(p + e);
		if (d)
			return e + (size_t)__builtin_ctzll(d);
		e += 64;
	}
#endif
	while (e < n && is_digit(p[e]))
		e++;
	return e;
}

/*
 * The scan below steps 13 bytes while byte i+12 can be no part of a card:
 * neither a digit nor between two. This takes those steps five at a time
 * from a bitmap of 64 bytes, and returns the i of the first step that
 * would stop (or where the bitmap ran out): the same i the steps reach.
 */
static size_t card_steps(const uint8_t *p, size_t n, size_t i)
{
#ifdef __SSE2__
	/* bits of the window from p[i + 11]: the steps test bits 1, 14, 27,
	 * 40 and 53 (a separator's neighbours are bits 0 to 54) */
	const uint64_t steps = 1ull << 1 | 1ull << 14 | 1ull << 27 | 1ull << 40 | 1ull << 53;
	while (i + 11 + 64 <= n) {
		uint64_t d = digits64(p + i + 11);
		uint64_t maybe = (d | ((d << 1) & (d >> 1))) & steps;
		if (maybe)
			return i + (size_t)__builtin_ctzll(maybe) - 1;
		i += 65;
	}
#else
	(void)p;
	(void)n;
#endif
	return i;
}

void sonde_redact_scan_cards(const uint8_t *p, size_t n, struct sonde_redact_spans *sp)
{
	size_t i = 0;
	while (i < n) {
		i = card_steps(p, n, i);
		/* A card is 13 digits or more: when byte i+12 cannot be part of
		 * one, no run through it starts at i or before — skip 13 (most
		 * text is looked at once in 13 bytes). */
		if (n - i < 13)
			break;
		/* a separator is part of a run only between two digits */
		uint8_t c = p[i + 12];
		if (!is_digit(c) && (!card_char(c) || !is_digit(p[i + 11]) || i + 13 >= n ||
				     !is_digit(p[i + 13]))) {
			i += 13;
			continue;
		}
		/* A card through byte i+12 starts where the run of digits and
		 * separators holding it does: what comes before that run is in
		 * runs shorter than 13 bytes, none a card. */
		size_t j = i + 12;
		while (j > i && (is_digit(p[j - 1]) || card_char(p[j - 1])))
			j--;
		i = j;
		if (!is_digit(p[i]) || (i && word_char(p[i - 1])) ||
		    (i > 1 && p[i - 1] == '.' && is_digit(p[i - 2]))) {
			i++;
			continue;
		}
		/* digits, with single spaces or dashes between them */
		size_t e = i, last = i, digits = 0;
		while (e < n) {
			if (is_digit(p[e])) {
				digits++;
				last = e++;
			} else if ((p[e] == ' ' || p[e] == '-') && e + 1 < n &&
				   is_digit(p[e + 1]) && is_digit(p[e - 1])) {
				e++;
			} else {
				break;
			}
			if (digits > 19)
				break;
		}
		bool card = digits >= 13 && digits <= 19 && p[i] >= '2' && p[i] <= '6' &&
			    !(last + 2 < n && p[last + 1] == '.' && is_digit(p[last + 2])) &&
			    !(last + 1 < n && word_char(p[last + 1])) &&
			    sonde_redact_luhn(p + i, last + 1 - i);
		if (card)
			sonde_redact_spans_add(sp, i, last + 1 - i);
		e = digits_end(p, n, e); /* a run too long to be a card */
		i = e > i ? e : i + 1;
	}
}

/* ----------------------------------------------------------- patterns --- */

void sonde_redact_scan_patterns(const struct sonde_redactor *r, const uint8_t *p, size_t n,
				struct sonde_redact_spans *sp)
{
	if (!r->npattern)
		return;
	/* REG_STARTEND bounds the match, but not every regexec (a sanitizer's
	 * interceptor) honours it: a terminated copy is never over-read */
	char *t = sonde_xmalloc(n + 1);
	memcpy(t, p, n);
	t[n] = 0;
	for (size_t k = 0; k < r->npattern; k++) {
		size_t at = 0;
		for (int guard = 0; at <= n && guard < SONDE_REDACT_SPANS_MAX; guard++) {
			regmatch_t m[2] = { { .rm_so = (regoff_t)at, .rm_eo = (regoff_t)n } };
			int fl = REG_STARTEND | (at ? REG_NOTBOL : 0);
			if (regexec(&r->pattern[k], t, 2, m, fl))
				break;
			regmatch_t g = r->pattern[k].re_nsub && m[1].rm_so >= 0 ? m[1] : m[0];
			sonde_redact_spans_add(sp, (size_t)g.rm_so, (size_t)(g.rm_eo - g.rm_so));
			at = (size_t)m[0].rm_eo > at ? (size_t)m[0].rm_eo : at + 1;
		}
	}
	free(t);
}

/* ------------------------------------------------------ command lines --- */

/* Tokens of a command line split by spaces. */
struct token {
	size_t a, e;
};

static size_t tokens(const uint8_t *p, size_t n, struct token *t, size_t max)
{
	size_t k = 0;
	for (size_t a = 0; a < n && k < max;) {
		while (a < n && p[a] == ' ')
			a++;
		size_t e = a;
		while (e < n && p[e] != ' ')
			e++;
		if (e > a)
			t[k++] = (struct token){ a, e };
		a = e;
	}
	return k;
}

/* A header given as an argument ("-H 'Authorization: Bearer T'", whose ':'
 * a client may have overwritten in its argv): its value's tokens up to the
 * next option, the scheme kept. Returns the tokens used. */
static size_t header_arg(const struct sonde_redactor *r, const uint8_t *p, const struct token *t,
			 size_t i, size_t k, struct sonde_redact_spans *sp)
{
	size_t nlen = t[i].e - t[i].a - (p[t[i].e - 1] == ':');
	enum sonde_redact_hdr how = sonde_redact_header_kind(r, p + t[i].a, nlen);
	if (how == SONDE_REDACT_HDR_NONE || how == SONDE_REDACT_HDR_URL)
		return 0;
	size_t j = i + 1, end = i + 1;
	while (end < k && p[t[end].a] != '-')
		end++;
	if (how == SONDE_REDACT_HDR_AUTH && end - j > 1)
		j++;
	if (j < end)
		sonde_redact_spans_add(sp, t[j].a, t[end - 1].e - t[j].a);
	return end - i - 1;
}

/* Short options that carry a password, by program (the command line's
 * first word, its directory left off): the value is the rest of the option
 * ("-pSECRET") or, unless attached_only, the next word ("-a SECRET"). */
static const struct {
	const char *prog;
	char opt;
	bool attached_only; /* a bare -p asks for the password instead */
} short_secrets[] = {
	{ "redis-cli", 'a', false },   { "valkey-cli", 'a', false },   { "sshpass", 'p', false },
	{ "mongo", 'p', false },       { "mongosh", 'p', false },      { "mysql", 'p', true },
	{ "mysqldump", 'p', true },    { "mysqladmin", 'p', true },    { "mariadb", 'p', true },
	{ "mariadb-dump", 'p', true }, { "mariadb-admin", 'p', true },
};

/* curl's -u/--user USER:PASSWORD: the password. */
static void user_colon_password(const uint8_t *p, struct token v, struct sonde_redact_spans *sp)
{
	const uint8_t *colon = memchr(p + v.a, ':', v.e - v.a);
	if (colon && (size_t)(colon - p) + 1 < v.e)
		sonde_redact_spans_add(sp, (size_t)(colon - p) + 1, v.e - (size_t)(colon - p) - 1);
}

static void positional_secrets(const uint8_t *p, const struct token *t, size_t k,
			       struct sonde_redact_spans *sp)
{
	if (!k)
		return;
	const uint8_t *slash = memrchr(p + t[0].a, '/', t[0].e - t[0].a);
	size_t pa = slash ? (size_t)(slash - p) + 1 : t[0].a, plen = t[0].e - pa;
	bool curl = plen == 4 && !memcmp(p + pa, "curl", 4);
	for (size_t i = 1; i < k; i++) {
		size_t a = t[i].a, len = t[i].e - a;
		if (curl && ((len == 2 && !memcmp(p + a, "-u", 2)) ||
			     (len == 6 && !memcmp(p + a, "--user", 6)))) {
			if (i + 1 < k)
				user_colon_password(p, t[++i], sp);
			continue;
		}
		if (curl && len > 2 && !memcmp(p + a, "-u", 2)) {
			user_colon_password(p, (struct token){ a + 2, t[i].e }, sp);
			continue;
		}
		if (len < 2 || p[a] != '-' || p[a + 1] == '-')
			continue;
		for (size_t s = 0; s < sizeof(short_secrets) / sizeof(*short_secrets); s++) {
			const char *prog = short_secrets[s].prog;
			if (strlen(prog) != plen || memcmp(p + pa, prog, plen) ||
			    p[a + 1] != short_secrets[s].opt)
				continue;
			if (len > 2)
				sonde_redact_spans_add(sp, a + 2, len - 2);
			else if (!short_secrets[s].attached_only && i + 1 < k)
				i++, sonde_redact_spans_add(sp, t[i].a, t[i].e - t[i].a);
			break;
		}
	}
}

void sonde_redact_scan_cmdline(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			       struct sonde_redact_spans *sp)
{
	struct token t[128];
	size_t k = tokens(p, n, t, 128);
	positional_secrets(p, t, k, sp);
	for (size_t i = 0; i < k; i++) {
		size_t a = t[i].a, e = t[i].e, d = a;
		while (d < e && d - a < 2 && p[d] == '-')
			d++;
		const uint8_t *eq = memchr(p + d, '=', e - d);
		size_t ne = eq ? (size_t)(eq - p) : e;
		bool named = ne > d && sonde_redact_field_match(r, p + d, ne - d);
		if (memmem(p + a, e - a, "://", 3) || memchr(p + a, '?', e - a)) {
			struct sonde_redact_spans us;
			sonde_redact_spans_clear(&us);
			sonde_redact_scan_url(r, p + a, e - a, &us);
			for (uint32_t q = 0; q < us.n; q++)
				sonde_redact_spans_add(sp, a + us.s[q].off, us.s[q].len);
		} else if (named && eq) { /* --password=VALUE, password=VALUE */
			sonde_redact_spans_add(sp, ne + 1, e - ne - 1);
		} else if (named && d > a && i + 1 < k) { /* --password VALUE */
			sonde_redact_spans_add(sp, t[i + 1].a, t[i + 1].e - t[i + 1].a);
			i++;
		} else if (d == a) {
			i += header_arg(r, p, t, i, k, sp);
		}
	}
	sonde_redact_scan_patterns(r, p, n, sp);
}

/* --------------------------------------------------------------- body --- */

/* A form body has no spaces and a '=' early on. */
static bool looks_like_form(const uint8_t *p, size_t n)
{
	size_t k = n < 256 ? n : 256;
	if (!k || !memchr(p, '=', k))
		return false;
	for (size_t i = 0; i < k; i++)
		if (p[i] == ' ' || p[i] == '\n' || p[i] == '{' || p[i] == '<' || p[i] == '"')
			return false;
	return true;
}

void sonde_redact_scan_body(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			    struct sonde_redact_spans *sp)
{
	if (memchr(p, '"', n))
		sonde_redact_scan_json(r, p, n, sp);
	if (looks_like_form(p, n))
		sonde_redact_scan_form(r, p, n, sp);
	if (r->cards)
		sonde_redact_scan_cards(p, n, sp);
	sonde_redact_scan_patterns(r, p, n, sp);
}
