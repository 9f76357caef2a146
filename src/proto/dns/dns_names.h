/* SPDX-License-Identifier: MIT */
/*
 * The IP → name table: what DNS answers said each address is called, for a
 * later stage to name the ends of records (conn.client.name /
 * conn.server.name). Filled from responses (sonde_dns_names_learn): every A
 * and AAAA answer gives its address the name the client asked for, when a
 * CNAME chain leads from the question to the record's owner (at most
 * SONDE_DNS_NAMES_CHAIN links), else the owner itself. A name lives as long
 * as the shortest TTL along its chain, but at least SONDE_DNS_NAMES_MIN_TTL
 * seconds: a client connects after its lookup, often to an answer of TTL 0
 * (local zones, service discovery), and resolvers and runtimes keep answers
 * past their TTL.
 *
 * Bounded by construction: `slots` addresses (a power of two), found by
 * probing SONDE_DNS_NAMES_PROBE slots from the address's hash; a new address
 * with none of them free takes the one whose names expire first. Each address
 * keeps SONDE_DNS_NAMES_PER_ADDR names, newest first; a name over
 * SONDE_DNS_NAMES_LEN bytes is not kept. Times are capture times (ns).
 * No locking: one table per pipeline thread.
 */
#ifndef SONDE_DNS_NAMES_H
#define SONDE_DNS_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "proto/dns/dns_msg.h"

#define SONDE_DNS_NAMES_PER_ADDR 4
#define SONDE_DNS_NAMES_LEN 256 /* bytes of a name's text, with its NUL */
#define SONDE_DNS_NAMES_PROBE 8
#define SONDE_DNS_NAMES_CHAIN 16
#define SONDE_DNS_NAMES_MIN_TTL 30 /* seconds */

struct sonde_dns_names;

/* A table of `slots` addresses (rounded up to a power of two, at least
 * SONDE_DNS_NAMES_PROBE). */
struct sonde_dns_names *sonde_dns_names_new(size_t slots);
void sonde_dns_names_free(struct sonde_dns_names *t);
/* Learn from one message (only answers of NOERROR responses count). */
void sonde_dns_names_learn(struct sonde_dns_names *t, const struct sonde_dns_msg *m, uint64_t now);
/*
 * The names of the address (family AF_INET with addr[0..4), or AF_INET6)
 * still alive at `now`, newest first: up to n pointers into the table,
 * valid until its next learn. Returns how many.
 */
size_t sonde_dns_names_lookup(const struct sonde_dns_names *t, int family, const uint8_t *addr,
			      uint64_t now, const char **out, size_t n);

#endif
