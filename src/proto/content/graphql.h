/* SPDX-License-Identifier: MIT */
/*
 * GraphQL over HTTP: recognising a request as GraphQL and writing its
 * "graphql" object. A tiny scanner, not a parser: it skips strings, block
 * strings and comments, finds each operation's keyword (query, mutation,
 * subscription; a bare "{" is a query), its name, and the names of the
 * top-level fields of its selection set. Fragments are skipped.
 */
#ifndef SONDE_GRAPHQL_H
#define SONDE_GRAPHQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SONDE_GQL_MAX_OPS 16 /* operations written per request */
#define SONDE_GQL_MAX_FIELDS 32 /* top-level fields written per operation */

/* "operations":[{"type":...,"name":...,"fields":[...]},...] of a document. */
void sonde_graphql_write_doc(struct sonde_buf *o, const uint8_t *doc, size_t n);

/*
 * If the request is GraphQL, write ,"graphql":{...} and return true:
 * POST with content-type application/json whose body is an object (or an
 * array of objects: batched) with a string "query"; application/graphql;
 * a GET whose target has a query= parameter. ct may be NULL.
 */
bool sonde_graphql_request(struct sonde_buf *o, const uint8_t *method, size_t mlen,
			   const uint8_t *target, size_t tlen, const uint8_t *ct, size_t ctlen,
			   const uint8_t *body, size_t blen);

/* A JSON response body whose top-level object has a non-empty "errors" array. */
bool sonde_graphql_has_errors(const uint8_t *body, size_t n);

#endif
