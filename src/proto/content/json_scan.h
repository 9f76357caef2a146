/* SPDX-License-Identifier: MIT */
/*
 * A minimal JSON walker for content dissectors that look into JSON bodies
 * (GraphQL): whitespace, strings (decoded, \u escapes and surrogate pairs
 * included, lone surrogates as U+FFFD) and skipping any value. Bounded by the
 * input; nesting past 64 levels is refused. Positions are indexes into p,
 * advanced past what was read.
 */
#ifndef SONDE_JSON_SCAN_H
#define SONDE_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

void sonde_js_ws(const uint8_t *p, size_t n, size_t *i);
/* A string at p[*i] ('"'); its decoded bytes appended to dec (may be NULL). */
bool sonde_js_string(const uint8_t *p, size_t n, size_t *i, struct sonde_buf *dec);
/* Skip one value; depth: how deep it already is (start at 1). */
bool sonde_js_skip(const uint8_t *p, size_t n, size_t *i, unsigned depth);

#endif
