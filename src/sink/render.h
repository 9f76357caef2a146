/* SPDX-License-Identifier: MIT */
/*
 * Rendering records: JSON Lines (render_json.c, docs/records.md) and the one
 * readable line per exchange (render_text.c). Messages describe themselves
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

void sonde_record_json(const struct sonde_record *r, struct sonde_buf *out);
void sonde_record_text(const struct sonde_record *r, struct sonde_buf *out);
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
