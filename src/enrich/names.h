/* SPDX-License-Identifier: MIT */
/*
 * The names stage (SONDE_STAGE_ENRICH): the DNS name each end's address was
 * looked up by. Every DNS response that passes through the chain teaches
 * the IP → name table (proto/dns/dns_names.h); every record's connection
 * gets, per end, the newest name its address had then, attached once
 * (SONDE_ATTR_NAMES) and kept for the connection's life: a connection made
 * to an address a name gave keeps that name after its TTL ran out. An end
 * still unnamed is looked up again on the connection's next record, since
 * the answer may come later (a connection seen before its lookup).
 *
 * The table only holds what sonde saw: names looked up before the capture
 * started appear from the next lookup of them on.
 */
#ifndef SONDE_ENRICH_NAMES_H
#define SONDE_ENRICH_NAMES_H

#include <stddef.h>

#include "core/fields.h"
#include "core/record.h"
#include "core/stage.h"
#include "core/stats.h"

extern const struct sonde_stage_ops sonde_names_stage;

/* The stage's context for a table of `slots` addresses (0: a default). */
void *sonde_names_new(size_t slots, struct sonde_stats *stats);

/* Members of end e (0 client, 1 server) inside its conn.client/conn.server
 * object: "name" and "name_source", when a name is attached. */
void sonde_names_end_fields(const struct sonde_conn_info *c, int e, const struct sonde_field_ops *v,
			    void *ctx);
/* The name attached to end e, or NULL. */
const char *sonde_names_end(const struct sonde_conn_info *c, int e);

#endif
