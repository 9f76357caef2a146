/* SPDX-License-Identifier: MIT */
/*
 * A stored record: its JSON line exactly as `sonde read -o json` writes it,
 * its text line (without the clock, which is rendered again in the reader's
 * time zone) and -V block, and the few fields the stores index. Built on the
 * capture's thread from a record that has passed every stage before the
 * sinks (masking included), then handed to a store's writer thread.
 */
#ifndef SONDE_STORE_ROW_H
#define SONDE_STORE_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"

struct sonde_store_row {
	struct sonde_store_row *next; /* the writer queue's link */
	uint64_t ts_us; /* record "ts" (the first message's first byte) */
	int64_t latency_us; /* last byte of the response after the request's first; -1: none */
	int32_t status; /* the response's top-level "status" when an integer; -1: none */
	uint8_t outcome; /* enum sonde_outcome */
	uint16_t server_port;
	uint32_t pid;
	uint64_t conn_id;
	char protocol[16];
	char server[48], client[48]; /* addresses, without ports */
	char service[96]; /* the server's DNS name when known, else addr:port */
	char comm[16];
	char pod[64];
	/* The texts, in the same allocation after the struct, NUL-ended. */
	const char *json, *text, *details;
	size_t json_len, text_len, details_len;
	size_t size; /* bytes of the whole allocation (queue bounds) */
};

/* The row of record r written as record number seq; free() it. */
struct sonde_store_row *sonde_store_row_new(const struct sonde_record *r, uint64_t seq);
/* Outcome's name as the stores keep it ("ok", "client_error", ...; "" unknown). */
const char *sonde_store_outcome_name(uint8_t outcome);

/* The text line's clock ("HH:MM:SS.uuuuuu"), which stored text lines lack. */
#define SONDE_STORE_CLOCK_LEN 15

#endif
