/* SPDX-License-Identifier: MIT */
#include "proto/http/http1_parse.h"

#include "proto/http/body_decode.h"

#include <string.h>

/* RFC 9110 tchar: the characters of tokens (methods, header names). */
static const uint8_t tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
	['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
	['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
	['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
	['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
	['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
	['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
	['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static inline uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
}

bool sonde_h1_span_ieq(const uint8_t *buf, struct sonde_h1_span s, const char *lit)
{
	size_t n = strlen(lit);
	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(buf[s.off + i]) != (uint8_t)lit[i])
			return false;
	return true;
}

size_t sonde_h1_head_end(const uint8_t *buf, size_t len, size_t from, size_t *next)
{
	size_t i = from;
	while (i < len) {
		const uint8_t *lf = memchr(buf + i, '\n', len - i);
		if (!lf)
			break;
		size_t k = (size_t)(lf - buf);
		/* A blank line follows this LF? */
		if (k + 1 < len && buf[k + 1] == '\n')
			return k + 2;
		if (k + 2 < len && buf[k + 1] == '\r' && buf[k + 2] == '\n')
			return k + 3;
		if (k + 2 >= len) { /* can't tell yet: resume at this LF */
			*next = k;
			return 0;
		}
		i = k + 1;
	}
	*next = len;
	return 0;
}

/* Methods that may start a message when resynchronising; a fixed list is
 * what keeps resynchronisation from locking onto body text. */
static const char *const known_methods[] = {
	"GET",         "POST",    "PUT",      "DELETE",    "HEAD",     "OPTIONS",    "PATCH",
	"CONNECT",     "TRACE",   "PROPFIND", "PROPPATCH", "MKCOL",    "COPY",       "MOVE",
	"LOCK",        "UNLOCK",  "REPORT",   "SEARCH",    "PURGE",    "MKCALENDAR", "ACL",
	"BIND",        "LINK",    "UNLINK",   "MERGE",     "CHECKOUT", "NOTIFY",     "SUBSCRIBE",
	"UNSUBSCRIBE", "MSEARCH", "M-SEARCH", "SOURCE",    NULL,
};

static bool is_known_method(const uint8_t *m, size_t len)
{
	for (size_t i = 0; known_methods[i]; i++)
		if (strlen(known_methods[i]) == len && !memcmp(m, known_methods[i], len))
			return true;
	return false;
}

int sonde_h1_looks_like_start(const uint8_t *buf, size_t len)
{
	static const char resp[] = "HTTP/1.";
	size_t rn = len < 7 ? len : 7;
	if (len && buf[0] == 'H' && !memcmp(buf, resp, rn)) {
		if (len < 9)
			return -1;
		if (buf[7] >= '0' && buf[7] <= '9' && buf[8] == ' ')
			return 2;
		/* "HTTP/1." could still be a request method named HTTP... no. */
		return 0;
	}
	bool prefix = false;
	for (size_t i = 0; known_methods[i]; i++) {
		size_t ml = strlen(known_methods[i]);
		if (len > ml) {
			if (!memcmp(buf, known_methods[i], ml) && buf[ml] == ' ') {
				/* The target must start like one. */
				if (len == ml + 1)
					return -1;
				uint8_t t = buf[ml + 1];
				if (t > ' ' && t < 0x7f)
					return 1;
				return 0;
			}
		} else if (!memcmp(buf, known_methods[i], len)) {
			prefix = true;
		}
	}
	return prefix ? -1 : 0;
}

int sonde_h1_looks_like_first(const uint8_t *buf, size_t len)
{
	int v = sonde_h1_looks_like_start(buf, len);
	if (v)
		return v;
	/* Any method token, if the line ends like a request line. */
	size_t i = 0;
	while (i < len && i < 32 &&
	       ((buf[i] >= 'A' && buf[i] <= 'Z') || buf[i] == '_' || buf[i] == '-'))
		i++;
	if (i < 3 || i == 32)
		return 0;
	if (i == len)
		return -1;
	if (buf[i] != ' ')
		return 0;
	const uint8_t *lf = memchr(buf + i, '\n', len - i);
	if (!lf)
		return len - i < 2048 ? -1 : 0;
	size_t end = (size_t)(lf - buf);
	if (end && buf[end - 1] == '\r')
		end--;
	return end >= i + 9 && !memcmp(buf + end - 8, "HTTP/1.", 7) ? 1 : 0;
}

bool sonde_h1_is_http09_request(const uint8_t *line, size_t len)
{
	/* "GET /path\r\n": one space, no version. */
	if (len < 6 || memcmp(line, "GET ", 4))
		return false;
	size_t end = len - 1;
	if (end && line[end - 1] == '\r')
		end--;
	if (end <= 4)
		return false;
	/* a request line with a version has a second space: found wide */
	if (memchr(line + 4, ' ', end - 4))
		return false;
	for (size_t i = 4; i < end; i++)
		if (line[i] == ' ' || line[i] < 0x21)
			return false;
	return true;
}

/* Digits of a Content-Length value, commas allowed between equal values. */
static int parse_content_length(const uint8_t *p, size_t n, int64_t *out)
{
	int64_t v = -1;
	size_t i = 0;
	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == n || p[i] < '0' || p[i] > '9')
			return -1;
		int64_t x = 0;
		while (i < n && p[i] >= '0' && p[i] <= '9') {
			if (x > (INT64_MAX - 9) / 10)
				return -1;
			x = x * 10 + (p[i] - '0');
			i++;
		}
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i < n && p[i] != ',')
			return -1;
		i++;
		if (v >= 0 && v != x)
			return -1;
		v = x;
	}
	if (v < 0)
		return -1;
	*out = v;
	return 0;
}

/* Does the comma-separated list in p contain token `tok` (lowercase)? */
bool sonde_h1_list_has(const uint8_t *p, size_t n, const char *tok, bool last_only)
{
	size_t tl = strlen(tok);
	bool found = false;
	size_t i = 0;
	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		size_t s = i;
		while (i < n && p[i] != ',' && p[i] != ';')
			i++;
		size_t e = i;
		while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
			e--;
		while (i < n && p[i] != ',')
			i++; /* skip parameters */
		bool eq = e - s == tl;
		for (size_t k = 0; eq && k < tl; k++)
			eq = lower(p[s + k]) == (uint8_t)tok[k];
		if (last_only)
			found = eq;
		else if (eq)
			return true;
	}
	return found;
}

static void apply_header(const uint8_t *buf, struct sonde_h1_header hd, struct sonde_h1_head *h,
			 int *err)
{
	const uint8_t *n = buf + hd.name.off, *v = buf + hd.value.off;
	size_t vl = hd.value.len;
	switch (hd.name.len) {
	case 6:
		if (sonde_h1_span_ieq(buf, hd.name, "expect"))
			h->expect_continue = sonde_h1_list_has(v, vl, "100-continue", false);
		break;
	case 7:
		if (sonde_h1_span_ieq(buf, hd.name, "upgrade"))
			h->upgrade = hd.value;
		break;
	case 10:
		if (sonde_h1_span_ieq(buf, hd.name, "connection")) {
			h->conn_close |= sonde_h1_list_has(v, vl, "close", false);
			h->conn_keep_alive |= sonde_h1_list_has(v, vl, "keep-alive", false);
			h->conn_upgrade |= sonde_h1_list_has(v, vl, "upgrade", false);
		}
		break;
	case 14:
		if (sonde_h1_span_ieq(buf, hd.name, "content-length")) {
			int64_t cl;
			if (parse_content_length(v, vl, &cl) < 0 ||
			    (h->content_length >= 0 && h->content_length != cl))
				*err = SONDE_H1_E_LENGTH;
			else
				h->content_length = cl;
		}
		break;
	case 16:
		if (sonde_h1_span_ieq(buf, hd.name, "content-encoding")) {
			enum sonde_http_coding c = sonde_body_coding(v, vl);
			if (c != SONDE_HTTP_CODING_NONE)
				h->content_encoding = c;
		}
		break;
	case 17:
		if (sonde_h1_span_ieq(buf, hd.name, "transfer-encoding")) {
			h->te_present = true;
			h->chunked = sonde_h1_list_has(v, vl, "chunked", true);
		}
		break;
	}
	(void)n;
}

/* Header lines of buf from offset i to the blank line; spans relative to buf. */
static int parse_fields_at(const uint8_t *buf, size_t i, size_t len, struct sonde_h1_head *h,
			   struct sonde_h1_header *headers, size_t max_headers)
{
	int err = SONDE_H1_OK;
	struct sonde_h1_header *last = NULL;
	while (i < len) {
		const uint8_t *lf = memchr(buf + i, '\n', len - i);
		if (!lf)
			return SONDE_H1_E_HEADER; /* the caller gave no blank line */
		size_t eol = (size_t)(lf - buf);
		size_t end = eol > i && buf[eol - 1] == '\r' ? eol - 1 : eol;
		if (end == i) /* the blank line */
			break;
		if (buf[i] == ' ' || buf[i] == '\t') {
			/* Obsolete line folding: the line continues the last value. */
			if (last) {
				size_t e = end;
				while (e > i && (buf[e - 1] == ' ' || buf[e - 1] == '\t'))
					e--;
				last->value.len = (uint32_t)(e - last->value.off);
				h->folded = true;
			} else {
				h->bad_header = true;
				err = err ? err : SONDE_H1_E_HEADER;
			}
			i = eol + 1;
			continue;
		}
		size_t k = i;
		while (k < end && tchar[buf[k]])
			k++;
		if (k == i || k == end || buf[k] != ':') {
			h->bad_header = true;
			if (!err)
				err = SONDE_H1_E_HEADER;
			last = NULL;
			i = eol + 1;
			continue;
		}
		struct sonde_h1_header hd;
		hd.name.off = (uint32_t)i;
		hd.name.len = (uint32_t)(k - i);
		size_t vs = k + 1;
		while (vs < end && (buf[vs] == ' ' || buf[vs] == '\t'))
			vs++;
		size_t ve = end;
		while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
			ve--;
		hd.value.off = (uint32_t)vs;
		hd.value.len = (uint32_t)(ve - vs);
		h->nheaders_seen++;
		if (h->nheaders < max_headers) {
			headers[h->nheaders] = hd;
			last = &headers[h->nheaders++];
		} else {
			last = NULL;
		}
		int herr = 0;
		apply_header(buf, hd, h, &herr);
		if (herr)
			err = herr;
		i = eol + 1;
	}
	return err;
}

int sonde_h1_parse_fields(const uint8_t *buf, size_t len, struct sonde_h1_head *h,
			  struct sonde_h1_header *headers, size_t max_headers)
{
	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	return parse_fields_at(buf, 0, len, h, headers, max_headers);
}

int sonde_h1_parse_head(const uint8_t *buf, size_t len, bool response, struct sonde_h1_head *h,
			struct sonde_h1_header *headers, size_t max_headers)
{
	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	const uint8_t *lf = memchr(buf, '\n', len);
	if (!lf)
		return SONDE_H1_E_START_LINE;
	size_t eol = (size_t)(lf - buf);
	size_t end = eol > 0 && buf[eol - 1] == '\r' ? eol - 1 : eol;
	size_t i = 0;
	if (!response) {
		while (i < end && tchar[buf[i]])
			i++;
		if (i == 0 || (i < end && buf[i] != ' '))
			return SONDE_H1_E_START_LINE;
		h->method.off = 0;
		h->method.len = (uint32_t)i;
		/* What servers answer, sonde records: a missing target or a missing
		 * or malformed version keeps the request, flagged (bad_start). */
		h->version_minor = 1;
		size_t ts = i < end ? ++i : i;
		const uint8_t *sp = memchr(buf + i, ' ', end - i); /* targets are long */
		i = sp ? (size_t)(sp - buf) : end;
		h->target.off = (uint32_t)ts;
		h->target.len = (uint32_t)(i - ts);
		if (i < end)
			i++;
		if (end - i == 8 && !memcmp(buf + i, "HTTP/1.", 7) && buf[i + 7] >= '0' &&
		    buf[i + 7] <= '9')
			h->version_minor = buf[i + 7] - '0';
		else if (is_known_method(buf, h->method.len))
			h->bad_start = true;
		else /* no version and no method sonde knows: not a request line */
			return SONDE_H1_E_VERSION;
		if (!h->target.len)
			h->bad_start = true;
	} else {
		if (end < 12 || memcmp(buf, "HTTP/1.", 7) || buf[7] < '0' || buf[7] > '9' ||
		    buf[8] != ' ')
			return SONDE_H1_E_VERSION;
		h->version_minor = buf[7] - '0';
		if (buf[9] < '0' || buf[9] > '9' || buf[10] < '0' || buf[10] > '9' ||
		    buf[11] < '0' || buf[11] > '9')
			return SONDE_H1_E_START_LINE;
		h->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
		if (end > 12 && buf[12] != ' ')
			return SONDE_H1_E_START_LINE;
		size_t rs = end > 12 ? 13 : 12;
		h->reason.off = (uint32_t)rs;
		h->reason.len = (uint32_t)(end - rs);
	}
	return parse_fields_at(buf, eol + 1, len, h, headers, max_headers);
}
