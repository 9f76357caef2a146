/* SPDX-License-Identifier: MIT */
/*
 * The parts of a HAR entry that sonde makes by parsing header bytes from the
 * wire: the URL, the query string, cookies (RFC 6265's syntax) and their
 * expiry dates. Every input is hostile: any bytes, any length; output is
 * always valid JSON (sonde_json_str) and the URL always a URI.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/hex.h"
#include "sink/har.h"

/* Bytes a URI holds as they are (RFC 3986's unreserved, reserved and '%'). */
static bool uri_byte(unsigned char c, bool authority)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '"':
	case '<':
	case '>':
	case '\\':
	case '^':
	case '`':
	case '{':
	case '|':
	case '}': return false;
	case '[':
	case ']': return authority; /* an IPv6 literal's brackets */
	default: return true;
	}
}

static void uri_part(struct sonde_buf *o, const char *p, size_t n, bool authority)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (uri_byte(c, authority)) {
			sonde_buf_putc(o, (char)c);
		} else {
			sonde_buf_putc(o, '%');
			sonde_buf_putc(o, hex[c >> 4]);
			sonde_buf_putc(o, hex[c & 15]);
		}
	}
}

static bool has_prefix_ci(const char *p, size_t n, const char *pre)
{
	size_t k = strlen(pre);
	return n >= k && !strncasecmp(p, pre, k);
}

void sonde_har_url(struct sonde_buf *o, const char *scheme, const char *authority, size_t alen,
		   const char *target, size_t tlen)
{
	struct sonde_buf u = { 0 };
	if (has_prefix_ci(target, tlen, "http://") || has_prefix_ci(target, tlen, "https://")) {
		uri_part(&u, target, tlen, true); /* absolute form: the URL itself */
	} else {
		sonde_buf_puts(&u, scheme);
		sonde_buf_puts(&u, "://");
		uri_part(&u, authority, alen, true);
		/* origin form as it is; "*" (OPTIONS) names no path; an empty
		 * target (CONNECT's authority form) none at all */
		if (tlen && target[0] == '/')
			uri_part(&u, target, tlen, false);
		else if (tlen)
			sonde_buf_putc(&u, '/');
	}
	sonde_json_str(o, u.p, u.len);
	sonde_buf_free(&u);
}

/* application/x-www-form-urlencoded decoding; a bad %XX stays as it is. */
static void form_decoded(struct sonde_buf *o, const char *p, size_t n)
{
	struct sonde_buf d = { 0 };
	for (size_t i = 0; i < n; i++) {
		int v;
		if (p[i] == '+') {
			sonde_buf_putc(&d, ' ');
		} else if (p[i] == '%' && i + 2 < n &&
			   (v = sonde_hexbyte((uint8_t)p[i + 1], (uint8_t)p[i + 2])) >= 0) {
			sonde_buf_putc(&d, (char)v);
			i += 2;
		} else {
			sonde_buf_putc(&d, p[i]);
		}
	}
	sonde_json_str(o, d.p ? d.p : (const uint8_t *)"", d.len);
	sonde_buf_free(&d);
}

static void name_value(struct sonde_buf *o, const char *p, size_t n, bool decode)
{
	const char *eq = memchr(p, '=', n);
	size_t nl = eq ? (size_t)(eq - p) : n;
	const char *v = eq ? eq + 1 : p + n;
	size_t vl = eq ? n - nl - 1 : 0;
	sonde_buf_puts(o, "{\"name\":");
	if (decode)
		form_decoded(o, p, nl);
	else
		sonde_json_str(o, p, nl);
	sonde_buf_puts(o, ",\"value\":");
	if (decode)
		form_decoded(o, v, vl);
	else
		sonde_json_str(o, v, vl);
}

void sonde_har_query(struct sonde_buf *o, const char *target, size_t tlen)
{
	sonde_buf_putc(o, '[');
	const char *q = memchr(target, '?', tlen);
	if (q) {
		const char *end = target + tlen;
		const char *hash = memchr(q, '#', (size_t)(end - q));
		if (hash)
			end = hash;
		bool first = true;
		for (const char *p = q + 1; p < end;) {
			const char *amp = memchr(p, '&', (size_t)(end - p));
			const char *e = amp ? amp : end;
			if (e > p) {
				if (!first)
					sonde_buf_putc(o, ',');
				first = false;
				name_value(o, p, (size_t)(e - p), true);
				sonde_buf_putc(o, '}');
			}
			p = e + 1;
		}
	}
	sonde_buf_putc(o, ']');
}

/* [p, p+n) without the spaces and tabs around it. */
static void trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

void sonde_har_cookies(struct sonde_buf *o, const char *v, size_t n, bool *first)
{
	const char *end = v + n;
	for (const char *p = v; p < end;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi ? semi : end;
		const char *s = p;
		size_t len = (size_t)(e - p);
		trim(&s, &len);
		if (len) {
			if (!*first)
				sonde_buf_putc(o, ',');
			*first = false;
			name_value(o, s, len, false);
			sonde_buf_putc(o, '}');
		}
		p = e + 1;
	}
}

/* An HTTP date (RFC 7231's IMF-fixdate, or the dashed RFC 850 form
 * cookies still use) as ISO 8601; false if it is neither. */
static bool http_date_iso(const char *p, size_t n, char *iso, size_t isolen)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char s[64], mon[4] = "";
	int d, y, hh, mm, ss;
	if (n >= sizeof(s))
		return false;
	memcpy(s, p, n);
	s[n] = 0;
	const char *comma = strchr(s, ',');
	if (!comma || sscanf(comma + 1, " %2d%*[ -]%3[A-Za-z]%*[ -]%4d %2d:%2d:%2d", &d, mon, &y,
			     &hh, &mm, &ss) != 6)
		return false;
	const char *m = strlen(mon) == 3 ? strstr(months, mon) : NULL;
	if (!m || (m - months) % 3 || d < 1 || d > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 ||
	    ss < 0 || ss > 60 || y < 0 || y > 9999)
		return false;
	if (y < 100) /* RFC 6265 5.1.1: two digits name 1970-2069 */
		y += y < 70 ? 2000 : 1900;
	snprintf(iso, isolen, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, (int)(m - months) / 3 + 1, d, hh,
		 mm, ss);
	return true;
}

/* One Set-Cookie attribute (after the first ';'), as a HAR cookie member. */
static void cookie_attr(struct sonde_buf *o, const char *p, size_t n)
{
	const char *eq = memchr(p, '=', n);
	size_t kl = eq ? (size_t)(eq - p) : n;
	const char *v = eq ? eq + 1 : p + n;
	size_t vl = eq ? n - kl - 1 : 0;
	trim(&v, &vl);
	char iso[64];
	if (kl == 4 && !strncasecmp(p, "path", 4)) {
		sonde_buf_puts(o, ",\"path\":");
		sonde_json_str(o, v, vl);
	} else if (kl == 6 && !strncasecmp(p, "domain", 6)) {
		sonde_buf_puts(o, ",\"domain\":");
		sonde_json_str(o, v, vl);
	} else if (kl == 7 && !strncasecmp(p, "expires", 7) &&
		   http_date_iso(v, vl, iso, sizeof(iso))) {
		sonde_buf_printf(o, ",\"expires\":\"%s\"", iso);
	} else if (kl == 8 && !strncasecmp(p, "httponly", 8)) {
		sonde_buf_puts(o, ",\"httpOnly\":true");
	} else if (kl == 6 && !strncasecmp(p, "secure", 6)) {
		sonde_buf_puts(o, ",\"secure\":true");
	}
}

void sonde_har_set_cookie(struct sonde_buf *o, const char *v, size_t n, bool *first)
{
	const char *end = v + n;
	const char *semi = memchr(v, ';', n);
	const char *s = v;
	size_t len = (size_t)((semi ? semi : end) - v);
	trim(&s, &len);
	if (!*first)
		sonde_buf_putc(o, ',');
	*first = false;
	name_value(o, s, len, false);
	/* an attribute repeated: the last one wins, as in RFC 6265 5.3 — so
	 * each is written once, from the end */
	bool seen[5] = { false };
	static const char *const names[5] = { "path", "domain", "expires", "httponly", "secure" };
	const char *stop = semi ? semi : end;
	for (const char *e = end; e > stop;) {
		const char *p = e;
		while (p > stop && p[-1] != ';')
			p--;
		const char *a = p;
		size_t al = (size_t)(e - p);
		trim(&a, &al);
		for (int i = 0; i < 5; i++) {
			size_t k = strlen(names[i]);
			if (al >= k && !strncasecmp(a, names[i], k) &&
			    (al == k || a[k] == '=' || a[k] == ' ') && !seen[i]) {
				seen[i] = true;
				cookie_attr(o, a, al);
			}
		}
		e = p - 1;
	}
	sonde_buf_putc(o, '}');
}
