/* SPDX-License-Identifier: MIT */
/*
 * -o har: HTTP exchanges as an HTTP Archive (HAR 1.2) log, written as a
 * stream — the log's head, then one entry per record as it comes, then the
 * tail — so a capture of any length never sits in memory whole.
 *
 * Each entry is made from the record as -o json writes it (docs/records.md):
 * the same bytes the store keeps, so `sonde read`, `sonde capture` and
 * `sonde query` share one converter, and what the record stage masked is
 * masked here too. Records that are not HTTP exchanges (DNS, Redis,
 * connection records, ...) are skipped and counted; the tail says how many.
 */
#ifndef SONDE_HAR_H
#define SONDE_HAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/record.h"

struct sonde_har;

/* creator: the version written in log.creator (NULL: none known). */
struct sonde_har *sonde_har_new(const char *creator_version);
void sonde_har_free(struct sonde_har *h);
/* The log's head, up to the entries array's '['. Once, first. */
void sonde_har_begin(struct sonde_har *h, struct sonde_buf *out);
/* One record as -o json wrote it (a line, with or without its newline):
 * an entry appended to out (true), or skipped and counted (false): not an
 * HTTP exchange, or not a record at all. */
bool sonde_har_add_json(struct sonde_har *h, const char *json, size_t len, struct sonde_buf *out);
/* The same for a record in memory (rendered as -o json first). */
bool sonde_har_add(struct sonde_har *h, const struct sonde_record *r, struct sonde_buf *out);
/* The entries array's end and the log's tail, with the counts. Once, last. */
void sonde_har_end(struct sonde_har *h, struct sonde_buf *out);

uint64_t sonde_har_entries(const struct sonde_har *h);
/* Records that were not HTTP exchanges (not_http) or not readable JSON. */
uint64_t sonde_har_skipped(const struct sonde_har *h, uint64_t *unreadable);

/* ---- the parts made from hostile header bytes (har_http.c) ---- */

/* The request's URL: scheme://authority + target (absolute form: target;
 * an empty target: no path, as for CONNECT's authority), bytes a URI cannot
 * hold percent-encoded. */
void sonde_har_url(struct sonde_buf *o, const char *scheme, const char *authority, size_t alen,
		   const char *target, size_t tlen);
/* The "queryString" array of target's query (decoded: %XX and '+'). */
void sonde_har_query(struct sonde_buf *o, const char *target, size_t tlen);
/* The cookies of one Cookie header value, as array members ("{..},{..}");
 * *first: nothing written yet in the array (cleared once something is). */
void sonde_har_cookies(struct sonde_buf *o, const char *v, size_t n, bool *first);
/* One Set-Cookie header value as an array member, with its attributes. */
void sonde_har_set_cookie(struct sonde_buf *o, const char *v, size_t n, bool *first);

#endif
