/* SPDX-License-Identifier: MIT */
/*
 * The Kafka message: one request or response, its header and what the body
 * walker (kafka_body.c) found in its body: topics with their partition and
 * record counts, error codes, and the body's top-level fields. Everything is
 * bounded: at most KAFKA_TOPICS_MAX topics, KAFKA_ERRORS_MAX distinct error
 * codes and KAFKA_SCALARS_MAX top-level fields are kept (the rest counted),
 * strings cut at KAFKA_STR_MAX bytes. docs/records.md, "Kafka", lists the
 * members.
 */
#ifndef SONDE_KAFKA_MSG_H
#define SONDE_KAFKA_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/record.h"
#include "proto/kafka/kafka_schema.h"

#define KAFKA_TOPICS_MAX 32
#define KAFKA_ERRORS_MAX 16
#define KAFKA_SCALARS_MAX 24
#define KAFKA_STR_MAX 256
#define KAFKA_TEXT_MAX 16384 /* bytes of strings a message keeps */

/* A string kept in the message's text buffer. */
struct kafka_span {
	uint32_t off, len;
	bool null;
	bool cut;
};

struct kafka_topic {
	struct kafka_span name; /* len 0 and !null: not named (a topic id only) */
	uint8_t id[16];
	bool has_id, named_by_id;
	uint32_t partitions;
	uint32_t errors; /* non-zero error codes inside the topic (its partitions') */
	uint64_t records, record_bytes, batches;
};

struct kafka_error {
	int16_t code;
	uint32_t count;
};

/* One top-level field of the body. */
struct kafka_scalar {
	const struct sonde_kafka_field *f;
	union {
		int64_t i;
		uint64_t u;
		double d;
		uint8_t uuid[16];
	} v;
	struct kafka_span s; /* strings */
	bool null;
};

enum kafka_body_state {
	KAFKA_BODY_PARSED, /* the whole body, as the schema says */
	KAFKA_BODY_UNKNOWN_API, /* an API key the schemas do not know */
	KAFKA_BODY_UNKNOWN_VERSION, /* a version the schemas do not know */
	KAFKA_BODY_NO_REQUEST, /* a response whose request was not seen */
	KAFKA_BODY_MALFORMED, /* the bytes do not follow the schema (kept: what came before) */
	KAFKA_BODY_CUT, /* only a part was captured or kept */
	KAFKA_BODY_TRAILING, /* parsed, with bytes left over */
	KAFKA_BODY_SASL_TOKEN, /* a raw SASL token (after SaslHandshake v0): a credential */
};

struct sonde_kafka_msg {
	struct sonde_msg base;
	const struct sonde_kafka_api *api; /* NULL: unknown key */
	int16_t api_key, api_version;
	int32_t correlation_id;
	uint8_t header_version;
	bool flexible;
	struct kafka_span client_id; /* requests */
	uint64_t size; /* the message's length prefix */
	uint32_t tagged_fields, unknown_tags; /* tagged fields seen, of which no schema knew */
	enum kafka_body_state body;
	bool response_expected; /* false: Produce with acks=0, and an answer to one */
	bool retried_v0; /* an ApiVersions error answered in v0 form */
	const char *unanswered; /* why a request got no response, when known */
	struct kafka_topic topic[KAFKA_TOPICS_MAX];
	uint32_t ntopics, topics_dropped;
	struct kafka_error err[KAFKA_ERRORS_MAX];
	uint32_t nerr, errors_dropped;
	struct kafka_scalar scalar[KAFKA_SCALARS_MAX];
	uint32_t nscalars, scalars_dropped;
	uint64_t records, record_bytes; /* over all topics (records fields anywhere) */
	struct sonde_buf text; /* strings' bytes */
	struct kafka_span sasl; /* KAFKA_BODY_SASL_TOKEN: the token (a credential) */
};

struct sonde_kafka_msg *sonde_kafka_msg_new(uint8_t kind);
/* Keep p[0..n) (at most KAFKA_STR_MAX bytes) in the message's text. */
struct kafka_span sonde_kafka_keep(struct sonde_kafka_msg *m, const uint8_t *p, size_t n);
const uint8_t *sonde_kafka_span(const struct sonde_kafka_msg *m, struct kafka_span s);
/* Count error code `code` (every code but 0). */
void sonde_kafka_add_error(struct sonde_kafka_msg *m, int16_t code);

#endif
