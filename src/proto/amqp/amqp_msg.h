/* SPDX-License-Identifier: MIT */
/*
 * The AMQP message: one method frame (with its content header and bodies
 * when the method carries content), a heartbeat, or the protocol header,
 * as amqp.c framed it, with what the connection's state said about it: the
 * deliveries an ack acknowledges. docs/records.md, "AMQP 0-9-1", lists the
 * members.
 */
#ifndef SONDE_AMQP_MSG_H
#define SONDE_AMQP_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/record.h"
#include "proto/amqp/amqp_spec.h"

#define AMQP_ACK_REFS 8 /* acknowledged deliveries written per ack */
#define AMQP_NAME_KEEP 64 /* bytes of an exchange or routing key remembered */

/* A delivery (or a confirmed publish) an ack referred to. */
struct amqp_ack_ref {
	uint64_t tag;
	uint8_t ex_len, rk_len;
	char exchange[AMQP_NAME_KEEP], routing_key[AMQP_NAME_KEEP];
};

enum amqp_msg_what {
	AMQP_MSG_METHOD,
	AMQP_MSG_HEARTBEAT,
	AMQP_MSG_PROTOCOL_HEADER,
};

struct sonde_amqp_msg {
	struct sonde_msg base;
	uint8_t what; /* enum amqp_msg_what */
	uint8_t sender; /* enum sonde_dir */
	uint16_t channel;
	uint16_t class_id, method_id;
	const struct amqp_method *m; /* NULL: ids the spec does not have */
	uint8_t *args; /* the method's argument bytes, the first args_len of args_size */
	uint32_t args_len, args_size;
	uint8_t proto[8]; /* the protocol header */
	const char *why; /* malformed: what was wrong */
	/* content */
	bool header_seen;
	uint16_t weight;
	uint64_t body_size; /* declared by the content header */
	uint64_t body_seen; /* bytes of body frames (lost ones included) */
	uint32_t body_frames;
	uint16_t prop_flags;
	uint8_t *props; /* property bytes, the first props_len of props_size */
	uint32_t props_len, props_size;
	uint8_t *body; /* the first body_len bytes of the body (--body-limit) */
	uint32_t body_len, body_cap;
	/* acks and deliveries */
	uint64_t seq; /* a publish on a confirming channel: its sequence number */
	struct amqp_ack_ref acked[AMQP_ACK_REFS];
	uint32_t nacked; /* deliveries it acknowledged (refs kept up to AMQP_ACK_REFS) */
	bool ack_unknown; /* an ack of a tag sonde never saw delivered */
	bool ack_forgotten; /* ... or saw, but had to forget before the ack came */
};

/* A method (or heartbeat, or protocol header) message of dir. */
struct sonde_amqp_msg *sonde_amqp_msg_new(uint8_t what, uint8_t sender, uint16_t channel);
/* Keep args: takes ownership (malloc'd, len of size bytes). */
void sonde_amqp_msg_args(struct sonde_amqp_msg *m, uint16_t class_id, uint16_t method_id,
			 uint8_t *args, uint32_t len, uint32_t size);
/* Body bytes, kept up to limit. */
void sonde_amqp_msg_body(struct sonde_amqp_msg *m, const uint8_t *p, size_t n, size_t limit);

#endif
