/* SPDX-License-Identifier: MIT */
/*
 * Protobuf schemas for gRPC messages: a FileDescriptorSet (what
 * `protoc --include_imports --descriptor_set_out=FILE` writes), read with
 * sonde's own wire decoder (protobuf.c), gives the message types, their
 * fields (name, number, type) and enums, and each service method's input and
 * output types by gRPC path "/package.Service/Method".
 *
 * sonde_pd_decode writes a message as a JSON object keyed by field name,
 * each value by its declared type: signed and unsigned integers, bools,
 * floating point, enum value names, strings, bytes (base64), nested messages,
 * repeated fields (packed or not) as arrays and map fields as objects. A
 * field the schema does not know, or whose wire type does not match the
 * declaration, is written under its number as without a schema (protobuf.h).
 *
 * A loaded set is read-only: one can serve any number of captures.
 */
#ifndef SONDE_PROTODESC_H
#define SONDE_PROTODESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "proto/content/protobuf.h"

struct sonde_protodesc;
struct sonde_pd_msg;

/*
 * Parse the n bytes of a FileDescriptorSet. Returns NULL with a sentence in
 * err (errlen bytes) if they are not one (malformed, or no file in it).
 */
struct sonde_protodesc *sonde_protodesc_parse(const uint8_t *p, size_t n, char *err, size_t errlen);
/* The same from a file. */
struct sonde_protodesc *sonde_protodesc_load(const char *path, char *err, size_t errlen);
void sonde_protodesc_free(struct sonde_protodesc *d);

/* How many files, message types and methods the set holds. */
void sonde_protodesc_counts(const struct sonde_protodesc *d, size_t *files, size_t *messages,
			    size_t *methods);

/*
 * The message type of the method named by a gRPC :path ("/pkg.Service/Method"):
 * its input type for a request, its output type for a response. NULL when the
 * set has no such method (or d is NULL).
 */
const struct sonde_pd_msg *sonde_protodesc_method(const struct sonde_protodesc *d,
						  const uint8_t *path, size_t n, bool response);

/* The i-th message type (i below the count of sonde_protodesc_counts). */
const struct sonde_pd_msg *sonde_protodesc_msg_at(const struct sonde_protodesc *d, size_t i);

/* A message type by its full name ("pkg.Outer.Inner"), or NULL. */
const struct sonde_pd_msg *sonde_protodesc_find(const struct sonde_protodesc *d, const char *name);

/* The full name of a message type. */
const char *sonde_pd_msg_name(const struct sonde_pd_msg *m);

/*
 * Decode n bytes as a message of type m, appending its JSON object to out.
 * Returns SONDE_PB_OK, SONDE_PB_MALFORMED or SONDE_PB_TOO_LARGE (out then left
 * as it was), with the limits of sonde_pb_decode (lim may be NULL).
 */
int sonde_pd_decode(const struct sonde_pd_msg *m, const uint8_t *p, size_t n, struct sonde_buf *out,
		    const struct sonde_pb_limits *lim);

#endif
