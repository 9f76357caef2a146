/* SPDX-License-Identifier: MIT */
/*
 * The MQTT message: one control packet as mqtt.c framed it, with the bytes
 * after its fixed header kept up to a bound and the fields parsed from
 * them. Lists (subscriptions, reason codes, properties) stay spans of the
 * kept bytes and are walked when the message describes itself;
 * docs/records.md, "MQTT", lists the members.
 */
#ifndef SONDE_MQTT_MSG_H
#define SONDE_MQTT_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/record.h"
#include "proto/mqtt/mqtt_wire.h"

#define MQTT_TOPIC_KEEP 64 /* bytes of a delivery's topic an ack names */

/* The broker delivery an ack of its flow belongs to. */
struct sonde_mqtt_ack {
	uint8_t qos, topic_len;
	char topic[MQTT_TOPIC_KEEP];
};

enum mqtt_ack_state {
	MQTT_ACK_NONE, /* not an ack of a delivery */
	MQTT_ACK_MATCHED,
	MQTT_ACK_UNKNOWN, /* its delivery was not seen */
};

struct sonde_mqtt_msg {
	struct sonde_msg base;
	uint8_t type, flags; /* of the fixed header */
	uint8_t level; /* the protocol level it was parsed as (enum mqtt_level) */
	bool level_guessed; /* no CONNECT seen: level from the packets' shapes */
	uint32_t remaining; /* declared length after the fixed header */
	uint8_t *raw; /* the first raw_len of those bytes */
	uint32_t raw_len;
	size_t payload_limit; /* payload bytes written */
	const char *why; /* malformed: what was wrong */
	bool has_id;
	uint16_t packet_id;
	int reason; /* reason or return code, -1: none */
	/* CONNECT */
	struct mqtt_span proto_name, client_id, will_topic, will_payload, will_props, username;
	uint8_t connect_level, connect_flags;
	uint16_t keep_alive;
	struct mqtt_span password; /* a credential: written through the masking stage */
	/* CONNACK */
	bool session_present;
	/* PUBLISH: the payload runs from payload.off to the packet's end */
	struct mqtt_span topic, payload;
	uint32_t payload_size;
	/* every v5 packet that has them */
	struct mqtt_span props;
	/* SUBSCRIBE/UNSUBSCRIBE filters, SUBACK/UNSUBACK reason codes */
	struct mqtt_span list;
	/* an ack in a broker delivery's flow: the delivery */
	uint8_t ack_state; /* enum mqtt_ack_state */
	struct sonde_mqtt_ack ack;
};

/* A message taking ownership of raw (malloc'd, raw_len bytes of remaining). */
struct sonde_mqtt_msg *sonde_mqtt_msg_new(uint8_t type, uint8_t flags, uint32_t remaining,
					  uint8_t *raw, uint32_t raw_len);
/*
 * Parse the kept bytes as protocol level `level` (MQTT_LEVEL_5 or not);
 * false, with m->why set, when they are malformed. Bytes cut off by the
 * bound are not an error: what they held is left out.
 */
bool sonde_mqtt_parse(struct sonde_mqtt_msg *m, uint8_t level);

static inline uint8_t sonde_mqtt_qos(const struct sonde_mqtt_msg *m)
{
	return m->type == MQTT_PUBLISH ? (m->flags >> 1) & 3 : 0;
}

#endif
