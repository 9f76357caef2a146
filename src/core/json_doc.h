/* SPDX-License-Identifier: MIT */
/*
 * JSON documents read whole into json-c's objects (Debian's libjson-c),
 * for the readers that want members by name: -o har reading each record's
 * JSON line back (sink/render_har.c) and the Kubernetes API's lists and
 * watch events (enrich/kube_watch.c). sonde's one JSON library; the
 * dissectors' own walker (proto/content/json_scan.c) only scans.
 *
 * The accessors take NULL and values of any type, and answer "absent"
 * where json-c's own would assert or turn a number into its text.
 */
#ifndef SONDE_JSON_DOC_H
#define SONDE_JSON_DOC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * p as one JSON value, or NULL: not RFC 8259 JSON (json-c's strict mode,
 * UTF-8 checked), nested deeper than depth, or anything but blanks after
 * it. The caller owns the result (json_object_put).
 */
struct json_object *sonde_jdoc_parse(const char *p, size_t len, int depth);
/* The member key of an object, else NULL. */
struct json_object *sonde_jdoc_member(struct json_object *o, const char *key);
/* An array's length, else 0. */
size_t sonde_jdoc_count(struct json_object *a);
/* An array's item i, else NULL. */
struct json_object *sonde_jdoc_item(struct json_object *a, size_t i);
/* A string's bytes (NUL-terminated, may hold NULs) and length, else NULL
 * and 0. */
const char *sonde_jdoc_str(struct json_object *v, size_t *len);
/* A number's value when it is one and finite, else dflt. */
double sonde_jdoc_num(struct json_object *v, double dflt);

#endif
