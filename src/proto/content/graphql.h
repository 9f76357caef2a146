/* SPDX-License-Identifier: MIT */
/*
 * GraphQL over HTTP: recognising a request as GraphQL, parsing it once, and
 * walking its "graphql" object as fields. A tiny scanner, not a parser: it
 * skips strings, block strings and comments, finds each operation's keyword
 * (query, mutation, subscription; a bare "{" is a query), its name, and the
 * names of the top-level fields of its selection set. Fragments are skipped.
 * The content dissector (content.h) built on it lives in graphql.c.
 */
#ifndef SONDE_GRAPHQL_H
#define SONDE_GRAPHQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/fields.h"

#define SONDE_GQL_MAX_OPS 16 /* operations written per request */
#define SONDE_GQL_MAX_FIELDS 32 /* top-level fields written per operation */

struct sonde_graphql; /* a request's or response's parse */

/*
 * Parse a request, once, if it is GraphQL (else NULL): POST with
 * content-type application/json whose body is an object (or an array of
 * objects: batched) with a string "query"; application/graphql; a GET whose
 * target has a query= parameter. ct may be NULL.
 */
struct sonde_graphql *sonde_graphql_parse_request(const uint8_t *method, size_t mlen,
						  const uint8_t *target, size_t tlen,
						  const uint8_t *ct, size_t ctlen,
						  const uint8_t *body, size_t blen);
/* The response to a GraphQL request: notes a non-empty "errors" (status 200). */
struct sonde_graphql *sonde_graphql_parse_response(int status, const uint8_t *body, size_t n);
/* A document alone (tests, fuzzing): one request of that query. */
struct sonde_graphql *sonde_graphql_parse_doc(const uint8_t *doc, size_t n);
void sonde_graphql_free(struct sonde_graphql *g);

/* The member "graphql":{...} of a message (core/fields.h). */
void sonde_graphql_fields(const struct sonde_graphql *g, const struct sonde_field_ops *v,
			  void *ctx);
/* The "operations":[...] (and operations_omitted) of the first request. */
void sonde_graphql_doc_fields(const struct sonde_graphql *g, const struct sonde_field_ops *v,
			      void *ctx);

/* A JSON response body whose top-level object has a non-empty "errors" array. */
bool sonde_graphql_has_errors(const uint8_t *body, size_t n);

#endif
