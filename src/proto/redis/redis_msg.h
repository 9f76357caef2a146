/* SPDX-License-Identifier: MIT */
/*
 * The Redis message: one command or one reply (or a pub/sub event), as
 * redis.c parsed it, carrying its RESP value (resp.h) and what the
 * connection's state said about it when it was seen: the database, the
 * transaction it belongs to, whether a reply is expected. It describes itself
 * through the field visitor (core/fields.h); docs/records.md, "Redis", lists
 * the members.
 */
#ifndef SONDE_REDIS_MSG_H
#define SONDE_REDIS_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/record.h"
#include "proto/redis/resp.h"

#define SONDE_REDIS_CMD_MAX 32 /* bytes of a command name kept */

struct sonde_redis_msg {
	struct sonde_msg base;
	struct sonde_resp_value v;
	/* command: its name upper-cased ("" when the value is not a command) */
	char cmd[SONDE_REDIS_CMD_MAX + 1];
	bool cmd_cut;
	bool db_known;
	int64_t db;
	uint32_t multi; /* the MULTI/EXEC transaction (1, 2, ...), 0: none */
	uint32_t queued; /* its place among the commands queued in it */
	bool no_reply; /* CLIENT REPLY OFF/SKIP: the server will not answer */
	int hello; /* HELLO's protocol version asked for, 0: none */
	uint32_t confirms; /* (un)subscribe: confirmations the server sends */
	/* reply */
	uint32_t top; /* node of the reply proper, after its attributes */
	const char *event; /* a pub/sub message or push: its kind */
};

/* A message owning v (moved in); kind SONDE_MSG_REQUEST or RESPONSE. */
struct sonde_redis_msg *sonde_redis_msg_new(uint8_t kind, struct sonde_resp_value *v);
/* Argument i of a command (0: the command name), or NULL when not kept. */
const struct sonde_resp_node *sonde_redis_arg(const struct sonde_redis_msg *m, uint32_t i);
/* Does the reply's first element (of an array or push) read s? */
bool sonde_redis_kind_is(const struct sonde_redis_msg *m, const char *s);
/* Is the reply an error (simple or bulk)? */
bool sonde_redis_is_error(const struct sonde_redis_msg *m);

#endif
