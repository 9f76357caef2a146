/* SPDX-License-Identifier: MIT */
/*
 * Rendering records: JSON Lines (render_json.c, docs/records.md), the one
 * readable line per exchange (render_text.c) and -V's field block under it
 * (render_details.c). Messages describe themselves
 * through the field visitor (core/fields.h); the JSON visitor is exposed so
 * tests and other writers can render any walk.
 */
#ifndef SONDE_RENDER_H
#define SONDE_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/fields.h"
#include "core/record.h"

/* The text view's choices (NULL: UTC, no colour, one line). */
struct sonde_text_opts {
	bool utc; /* times in UTC (-u), else local */
	bool colour; /* ANSI colours: outcome, flags */
	bool details; /* -V: every field of both messages below the line */
};

void sonde_record_json(const struct sonde_record *r, struct sonde_buf *out);
void sonde_record_text(const struct sonde_record *r, const struct sonde_text_opts *o,
		       struct sonde_buf *out);
/* -V's block (render_details.c): the request's and the response's fields,
 * indented, one per line, escaped for a terminal. */
void sonde_record_details(const struct sonde_record *r, struct sonde_buf *out);
/* Bytes for a terminal: printable ASCII and UTF-8 as they are; control
 * characters, C1 controls and invalid UTF-8 as \xNN; at most max bytes of
 * input, then "...". */
void sonde_text_safe(struct sonde_buf *o, const uint8_t *p, size_t n, size_t max);
void sonde_endpoint_str(const struct sonde_endpoint *e, char *buf, size_t len, int with_port);

/* The JSON visitor: writes members as "name":value, separated by commas. */
#define SONDE_JSON_MAX_DEPTH 32
struct sonde_json_fields {
	struct sonde_buf *o;
	unsigned depth;
	bool more[SONDE_JSON_MAX_DEPTH]; /* something was written at that level */
};
extern const struct sonde_field_ops sonde_json_field_ops;
/* Render into o. after_member: o already holds a member at the outermost
 * level (the next one starts with a comma). */
void sonde_json_fields_init(struct sonde_json_fields *j, struct sonde_buf *o, bool after_member);

#endif
