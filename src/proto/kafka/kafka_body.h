/* SPDX-License-Identifier: MIT */
/*
 * The Kafka body walker: reads a request or response body field by field as
 * its schema (kafka_schema.h) says for its version — compact or classic
 * encodings, nullable fields, tagged fields (known tags parsed, unknown ones
 * skipped and counted) — and fills the message's summary: topics (names,
 * topic ids named through what a Metadata response told), partition and
 * record counts, error codes, and the body's top-level fields. It never reads
 * past the bytes it is given, never trusts a count beyond the bytes that
 * could hold it, and stops at the first inconsistency (KAFKA_BODY_MALFORMED:
 * what came before stays).
 */
#ifndef SONDE_KAFKA_BODY_H
#define SONDE_KAFKA_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/kafka/kafka_msg.h"

#define KAFKA_TOPIC_IDS 64 /* topic names by id one connection keeps alone */
#define KAFKA_TOPIC_IDS_SHARED 1024 /* ... the connections of a capture keep together */
#define KAFKA_NAME_MAX 249 /* Kafka's longest topic name */

/* Topic id → name, learnt from Metadata responses; bounded (the oldest
 * entry makes room). */
struct sonde_kafka_topic_ids {
	uint32_t n, next, cap;
	struct {
		uint8_t id[16];
		uint8_t len;
		char name[KAFKA_NAME_MAX];
	} e[];
};

/* Room for cap names (free() frees it). */
struct sonde_kafka_topic_ids *sonde_kafka_topic_ids_new(uint32_t cap);

/*
 * Walk body p[0..n) of m (api, api_version, flexible and kind set). `whole`
 * false: the body was cut (not all captured or kept), so running out of
 * bytes is KAFKA_BODY_CUT, not malformed. ids may be NULL; a Metadata
 * response's topic ids are learnt into it. Sets m->body.
 */
void sonde_kafka_walk(struct sonde_kafka_msg *m, const uint8_t *p, size_t n, bool whole,
		      struct sonde_kafka_topic_ids *ids);
/* The name of topic id `id`, or NULL (*len set). */
const char *sonde_kafka_topic_name(const struct sonde_kafka_topic_ids *ids, const uint8_t id[16],
				   size_t *len);
void sonde_kafka_topic_learn(struct sonde_kafka_topic_ids *ids, const uint8_t id[16],
			     const uint8_t *name, size_t len);
/* Records and batches in a record set (v2 batches or v0/v1 message sets); a
 * partial batch at the end (a fetch cut at its size limit) is not counted. */
void sonde_kafka_count_records(const uint8_t *p, size_t n, uint64_t *records, uint64_t *batches);

#endif
