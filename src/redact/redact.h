/* SPDX-License-Identifier: MIT */
/*
 * Redaction: what counts as a secret, and what a masked secret looks like.
 * One struct sonde_redactor holds a run's rules (header names, body field
 * and URL parameter names, regular expressions) and its hash key; the record
 * stage (redact_stage.c) and the recording's byte masker (redact_stream.c)
 * both ask it, so a rule added once applies to every output.
 *
 * Scanners find secrets as spans of their input; the caller chooses how a
 * span is hidden: records replace it with the mask text
 *     ****[LEN:HASH]
 * (LEN the secret's length in bytes, HASH the first 4 bytes, in hex, of
 * HMAC-SHA256(key, secret)), keeping what is not secret around it (an
 * Authorization scheme, cookie names, the other URL parameters); the
 * recording overwrites the span's bytes with '*', keeping every length.
 *
 * Dissectors mark a value as a credential by writing it with
 * sonde_field_secret() (core/fields.h); nothing else is needed for it to be
 * masked everywhere.
 */
#ifndef SONDE_REDACT_H
#define SONDE_REDACT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SONDE_REDACT_KEY_LEN 32
#define SONDE_REDACT_NAME_MAX 64 /* longest header or field name of a rule */
#define SONDE_REDACT_NAMES_MAX 128 /* rules of one kind */
#define SONDE_REDACT_PATTERNS_MAX 16
#define SONDE_REDACT_SPANS_MAX 64 /* secrets found in one value; past it, the rest is masked */
#define SONDE_REDACT_HASH_HEX 8
/* "****[" LEN ":" HASH "]" */
#define SONDE_REDACT_MASK_MAX (5 + 20 + 1 + SONDE_REDACT_HASH_HEX + 1)

/* How a header's value is masked. */
enum sonde_redact_hdr {
	SONDE_REDACT_HDR_NONE = 0,
	SONDE_REDACT_HDR_WHOLE, /* the whole value (X-Api-Key) */
	SONDE_REDACT_HDR_AUTH, /* after the scheme: "Bearer ****[..]" */
	SONDE_REDACT_HDR_COOKIE, /* each name=VALUE of a Cookie */
	SONDE_REDACT_HDR_SET_COOKIE, /* the first name=VALUE; attributes kept */
	SONDE_REDACT_HDR_URL, /* a URL's credentials (:path, Referer, Location) */
};

struct sonde_redact_span {
	uint32_t off, len;
	bool quote; /* a bare JSON value: its mask is written as a JSON string */
};

struct sonde_redact_spans {
	struct sonde_redact_span s[SONDE_REDACT_SPANS_MAX];
	uint32_t n;
	bool overflow; /* more than SPANS_MAX: everything after the last is masked */
};

/* Empty spans. Only s[0..n) is ever read: clearing the count is enough,
 * where an initialiser would zero all 768 bytes for every value masked. */
static inline void sonde_redact_spans_clear(struct sonde_redact_spans *sp)
{
	sp->n = 0;
	sp->overflow = false;
}

struct sonde_redact_name {
	char name[SONDE_REDACT_NAME_MAX + 1]; /* lower case; fields also without '-', '_' */
	uint8_t len;
	uint8_t kind; /* headers: enum sonde_redact_hdr; fields: 1 exact, 2 substring */
};

struct sonde_redactor {
	struct sonde_redact_name hdr[SONDE_REDACT_NAMES_MAX];
	struct sonde_redact_name field[SONDE_REDACT_NAMES_MAX];
	size_t nhdr, nfield;
	/* Prefilters of sonde_redact_field_match, kept by add_field: by
	 * their first byte, the lengths of the exact names (bit len - 1), the
	 * shortest substring name and the bytes substring names start with. */
	uint64_t field_exact_lens_by_first[256];
	uint8_t field_sub_min;
	bool field_sub_first[256];
	uint8_t field_sub[SONDE_REDACT_NAMES_MAX]; /* which of field[] are substring names */
	uint8_t nfield_sub;
	/* Prefilter of sonde_redact_header_kind, kept by add_header: by a
	 * rule's first byte (lower case), the lengths of its names (bit
	 * len - 1). Most headers no rule can be are told by one load. */
	uint64_t hdr_lens_by_first[256];
	regex_t pattern[SONDE_REDACT_PATTERNS_MAX];
	size_t npattern;
	bool cards; /* card numbers that pass the Luhn check */
	uint8_t key[SONDE_REDACT_KEY_LEN];
	size_t key_len;
	bool key_given; /* from --redact-key or a rules file, not random */
	/* HMAC-SHA256 under key, keyed once (OpenSSL's EVP_MAC_CTX), reused
	 * for every mask; made on first use */
	void *mac;
};

/* The default rules and a random key (getrandom). */
void sonde_redactor_init(struct sonde_redactor *r);
void sonde_redactor_free(struct sonde_redactor *r);
/* Rules: 0, or -1 with one sentence in err. */
int sonde_redactor_add_header(struct sonde_redactor *r, const char *name, enum sonde_redact_hdr how,
			      char *err, size_t errlen);
/* A body field or URL parameter by name ("a.b": its last part, "b"). */
int sonde_redactor_add_field(struct sonde_redactor *r, const char *name, bool substring, char *err,
			     size_t errlen);
/* A POSIX extended regular expression over header values and bodies; with
 * a group, only group 1 is masked. */
int sonde_redactor_add_pattern(struct sonde_redactor *r, const char *re, char *err, size_t errlen);
void sonde_redactor_set_key(struct sonde_redactor *r, const void *key, size_t n);
/* A rules file (format in docs/security.md). 0, or -1 naming the line. */
int sonde_redactor_load(struct sonde_redactor *r, const char *path, char *err, size_t errlen);

/* The rule for a header name (any case), or SONDE_REDACT_HDR_NONE. */
enum sonde_redact_hdr sonde_redact_header_kind(const struct sonde_redactor *r, const uint8_t *name,
					       size_t n);
/* Is this a body field / URL parameter name to mask? */
bool sonde_redact_field_match(const struct sonde_redactor *r, const uint8_t *name, size_t n);

/* Scanners: add the secrets of p[0..n) to *sp (offsets into p). */
void sonde_redact_scan_header(const struct sonde_redactor *r, enum sonde_redact_hdr how,
			      const uint8_t *p, size_t n, struct sonde_redact_spans *sp);
/* userinfo passwords and query parameters of a URL or request target */
void sonde_redact_scan_url(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			   struct sonde_redact_spans *sp);
/* name=value pairs (a form body, a query string without its '?') */
void sonde_redact_scan_form(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			    struct sonde_redact_spans *sp);
/* "name": value members of JSON, wherever they are (truncated JSON too) */
void sonde_redact_scan_json(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			    struct sonde_redact_spans *sp);
/* card numbers: 13 to 19 digits (single spaces or dashes between), first
 * digit 2-6, Luhn check passed */
void sonde_redact_scan_cards(const uint8_t *p, size_t n, struct sonde_redact_spans *sp);
void sonde_redact_scan_patterns(const struct sonde_redactor *r, const uint8_t *p, size_t n,
				struct sonde_redact_spans *sp);
/* A command line (arguments joined by spaces): --name=VALUE, name=VALUE and
 * --name VALUE for field names, URLs' userinfo, patterns. */
void sonde_redact_scan_cmdline(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			       struct sonde_redact_spans *sp);
/* Everything a body can hold: JSON members, form pairs, cards, patterns. */
void sonde_redact_scan_body(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			    struct sonde_redact_spans *sp);
/* The Luhn check of the digits of p (other bytes skipped). */
bool sonde_redact_luhn(const uint8_t *p, size_t n);

/* Where a URL's authority ends (userinfo@host:port): both scanners of
 * URLs must agree, or a cut one masks less than the whole. */
static inline bool sonde_redact_authority_end(uint8_t c)
{
	return c == '/' || c == '?' || c == '#' || c == ' ' || c == '\t' || c == '\r' ||
	       c == '\n' || c == '"' || c == '<' || c == '>';
}

/* Add a span (kept sorted, overlaps merged). */
void sonde_redact_spans_add(struct sonde_redact_spans *sp, size_t off, size_t len);
void sonde_redact_spans_add_quoted(struct sonde_redact_spans *sp, size_t off, size_t len,
				   bool quote);

/* The mask of one secret: "****[LEN:HASH]" into out (>= MASK_MAX bytes);
 * returns its length. */
size_t sonde_redact_mask(const struct sonde_redactor *r, const uint8_t *secret, size_t n,
			 char *out);
/* p with every span replaced by its mask, appended to out. */
void sonde_redact_apply(const struct sonde_redactor *r, const uint8_t *p, size_t n,
			const struct sonde_redact_spans *sp, struct sonde_buf *out);
/* Same-length masking in place: every byte of every span becomes '*'. */
void sonde_redact_overwrite(uint8_t *p, size_t n, const struct sonde_redact_spans *sp);

#endif
