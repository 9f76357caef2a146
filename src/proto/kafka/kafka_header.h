/* SPDX-License-Identifier: MIT */
/*
 * Kafka's message headers: which header version an API and version use, the
 * request and response headers parsed, and the plausibility test behind
 * detection and resynchronisation (a length prefix and a request header that
 * name a known API at a valid version, a non-negative correlation id and a
 * printable client id).
 */
#ifndef SONDE_KAFKA_HEADER_H
#define SONDE_KAFKA_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka/kafka_msg.h"

#define KAFKA_SIZE_MAX (100u << 20) /* longer length prefixes are not Kafka's */
#define KAFKA_REQ_MIN 8 /* a request's api key, version and correlation id */
#define KAFKA_RESP_MIN 4 /* a response's correlation id */

enum kafka_plausible {
	KAFKA_NOT, /* not a request start */
	KAFKA_MAYBE, /* consistent as far as the bytes go */
	KAFKA_REQUEST, /* a request start */
};

/* Do p[0..n) start with a length prefix and a plausible request header? */
enum kafka_plausible sonde_kafka_plausible_request(const uint8_t *p, size_t n);

/*
 * Parse the request header at the start of a request's bytes p[0..n) (the
 * length prefix removed) into m: api, version, correlation id, header
 * version, client id. Returns the header's length, or 0 when the bytes are
 * too short for it.
 */
size_t sonde_kafka_request_header(struct sonde_kafka_msg *m, const uint8_t *p, size_t n);
/* The same for a response, once m's api and api_version are known from its
 * request (ApiVersions answers with header v0 whatever its version). */
size_t sonde_kafka_response_header(struct sonde_kafka_msg *m, const uint8_t *p, size_t n);

#endif
