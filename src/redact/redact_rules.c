/* SPDX-License-Identifier: MIT */
/*
 * The rules file of --redact-rules: one rule a line, '#' starts a comment.
 *
 *   header NAME [whole|auth|cookie|set-cookie|url]   a header to mask (whole)
 *   field NAME              a body field / URL parameter, by name
 *   field-contains TEXT     any field whose name contains TEXT
 *   pattern REGEX           POSIX extended regex (the rest of the line)
 *   key KEY                 the masks' hash key (the rest of the line)
 *   cards off               no card-number masking
 *
 * Rules add to the defaults; a header rule replaces a default's form.
 */
#include "redact/redact.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LINE_MAX_LEN 4096

static const struct {
	const char *word;
	enum sonde_redact_hdr how;
} header_forms[] = {
	{ "whole", SONDE_REDACT_HDR_WHOLE },   { "auth", SONDE_REDACT_HDR_AUTH },
	{ "cookie", SONDE_REDACT_HDR_COOKIE }, { "set-cookie", SONDE_REDACT_HDR_SET_COOKIE },
	{ "url", SONDE_REDACT_HDR_URL },
};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = 0;
	return s;
}

/* One line's rule: 0, or -1 with why in err. */
static int rule(struct sonde_redactor *r, char *line, char *err, size_t errlen)
{
	char *s = trim(line);
	if (!*s || *s == '#')
		return 0;
	char *sp = s + strcspn(s, " \t");
	char *arg = *sp ? trim(sp + 1) : sp;
	*sp = 0;
	if (!*arg) {
		snprintf(err, errlen, "'%s' needs a value", s);
		return -1;
	}
	if (!strcmp(s, "header")) {
		char *form = arg + strcspn(arg, " \t");
		enum sonde_redact_hdr how = SONDE_REDACT_HDR_WHOLE;
		if (*form) {
			*form++ = 0;
			form = trim(form);
			how = SONDE_REDACT_HDR_NONE;
			for (size_t i = 0; i < sizeof(header_forms) / sizeof(header_forms[0]); i++)
				if (!strcmp(form, header_forms[i].word))
					how = header_forms[i].how;
			if (how == SONDE_REDACT_HDR_NONE) {
				snprintf(err, errlen,
					 "header form '%s': whole, auth, cookie, set-cookie or url",
					 form);
				return -1;
			}
		}
		return sonde_redactor_add_header(r, arg, how, err, errlen);
	}
	if (!strcmp(s, "field"))
		return sonde_redactor_add_field(r, arg, false, err, errlen);
	if (!strcmp(s, "field-contains"))
		return sonde_redactor_add_field(r, arg, true, err, errlen);
	if (!strcmp(s, "pattern"))
		return sonde_redactor_add_pattern(r, arg, err, errlen);
	if (!strcmp(s, "key")) {
		sonde_redactor_set_key(r, arg, strlen(arg));
		return 0;
	}
	if (!strcmp(s, "cards") && (!strcmp(arg, "off") || !strcmp(arg, "on"))) {
		r->cards = !strcmp(arg, "on");
		return 0;
	}
	snprintf(err, errlen,
		 "unknown rule '%s' (header, field, field-contains, pattern, key, "
		 "cards)",
		 s);
	return -1;
}

int sonde_redactor_load(struct sonde_redactor *r, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[LINE_MAX_LEN];
	unsigned no = 0;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		no++;
		char why[256] = "";
		size_t n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes", path, no,
				 LINE_MAX_LEN - 2);
			rc = -1;
		} else if (rule(r, line, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%u: %s", path, no, why);
			rc = -1;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	fclose(f);
	return rc;
}
