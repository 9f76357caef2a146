/* SPDX-License-Identifier: MIT */
/* Kafka's request and response headers (kafka_header.h). */
#include "proto/kafka/kafka_header.h"

#include "proto/kafka/kafka_wire.h"

#define API_VERSIONS 18
#define CONTROLLED_SHUTDOWN 7

static bool known_version(const struct sonde_kafka_api *a, int v)
{
	return a && v >= a->min && v <= a->max;
}

enum kafka_plausible sonde_kafka_plausible_request(const uint8_t *p, size_t n)
{
	if (n < 4)
		return KAFKA_MAYBE;
	uint64_t size = kafka_be(p, 4);
	if (size < KAFKA_REQ_MIN + 2 || size > KAFKA_SIZE_MAX)
		return KAFKA_NOT;
	if (n < 8)
		return KAFKA_MAYBE;
	const struct sonde_kafka_api *a = sonde_kafka_api_find((int16_t)kafka_be(p + 4, 2));
	if (!known_version(a, (int16_t)kafka_be(p + 6, 2)))
		return KAFKA_NOT;
	if (n < 14)
		return KAFKA_MAYBE;
	if (p[8] & 0x80) /* correlation ids count up from 0 */
		return KAFKA_NOT;
	int16_t clen = (int16_t)kafka_be(p + 12, 2);
	if (clen < -1 || (uint64_t)(clen > 0 ? clen : 0) + KAFKA_REQ_MIN + 2 > size)
		return KAFKA_NOT;
	for (size_t i = 0; clen > 0 && i < (size_t)clen && 14 + i < n; i++)
		if (p[14 + i] < 0x20 || p[14 + i] > 0x7e)
			return KAFKA_NOT;
	return KAFKA_REQUEST;
}

/* A header's tagged-field section: skipped (none is defined), counted. */
static bool skip_tags(struct sonde_kafka_msg *m, struct kafka_cur *c)
{
	uint32_t count, tag, size;
	if (!kafka_uvarint(c, &count))
		return false;
	for (uint32_t i = 0; i < count; i++) {
		if (!kafka_uvarint(c, &tag) || !kafka_uvarint(c, &size) || !kafka_skip(c, size))
			return false;
		m->tagged_fields++;
		m->unknown_tags++;
	}
	return true;
}

size_t sonde_kafka_request_header(struct sonde_kafka_msg *m, const uint8_t *p, size_t n)
{
	struct kafka_cur c = { p, n, 0 };
	int32_t corr;
	if (!kafka_i16(&c, &m->api_key) || !kafka_i16(&c, &m->api_version) || !kafka_i32(&c, &corr))
		return 0;
	m->correlation_id = corr;
	m->api = sonde_kafka_api_find(m->api_key);
	bool known = known_version(m->api, m->api_version);
	m->flexible =
		known && m->api->req_flex != KAFKA_V_NONE && m->api_version >= m->api->req_flex;
	/* v0 (no client id) serves ControlledShutdown v0 alone; an unknown API
	 * or version is read as v1, whose client id every version starts with */
	m->header_version = m->flexible ? 2 : 1;
	if (m->api_key == CONTROLLED_SHUTDOWN && m->api_version == 0)
		m->header_version = 0;
	if (m->header_version >= 1) {
		int16_t len;
		if (!kafka_i16(&c, &len) || len < -1)
			return 0;
		const uint8_t *at = p + c.off;
		if (len > 0 && !kafka_skip(&c, (size_t)len))
			return 0;
		m->client_id = len < 0 ? (struct kafka_span){ .null = true }
				       : sonde_kafka_keep(m, at, (size_t)len);
	}
	if (m->header_version == 2 && !skip_tags(m, &c))
		return 0;
	return c.off;
}

size_t sonde_kafka_response_header(struct sonde_kafka_msg *m, const uint8_t *p, size_t n)
{
	struct kafka_cur c = { p, n, 0 };
	int32_t corr;
	if (!kafka_i32(&c, &corr))
		return 0;
	m->correlation_id = corr;
	bool known = known_version(m->api, m->api_version);
	m->flexible =
		known && m->api->resp_flex != KAFKA_V_NONE && m->api_version >= m->api->resp_flex;
	/* ApiVersions' response header stays v0 in flexible versions: a client
	 * must read it before it knows which versions the broker speaks */
	m->header_version = m->flexible && m->api_key != API_VERSIONS ? 1 : 0;
	if (m->header_version == 1 && !skip_tags(m, &c))
		return 0;
	return c.off;
}
