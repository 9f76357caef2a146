/* SPDX-License-Identifier: MIT */
/*
 * Who opened which socket, as the source saw it happen (core/proc_events.h
 * SONDE_PROC_SOCKET): (local end, remote end) → pid, bounded. The socket
 * tables in /proc answer only while a socket lives and only in the reader's
 * network namespace; this answers for a connection whose end closed, whose
 * process exited, or whose other end is in another namespace (two pods of a
 * node: the kernel sees both sockets, the eBPF source keeps one). A loopback
 * end's key holds its namespace (127.0.0.1:8080 of two pods is two sockets).
 * The oldest entry makes room when it is full.
 */
#ifndef SONDE_ENRICH_HOLDERS_H
#define SONDE_ENRICH_HOLDERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/chunk.h"

struct sonde_holders;

/* Who opened a socket, as the kernel said then. */
struct sonde_holder {
	uint32_t pid;
	uint64_t cgroup_id; /* cgroup v2 id; 0: unknown */
	char comm[16];
};

/* max 0: 16384. NULL only when out of memory. */
struct sonde_holders *sonde_holders_new(size_t max);
void sonde_holders_free(struct sonde_holders *h);
/* who opened the socket local → remote in namespace netns. */
void sonde_holders_put(struct sonde_holders *h, const struct sonde_endpoint *local,
		       const struct sonde_endpoint *remote, uint32_t netns,
		       const struct sonde_holder *who);
/* Who opened local → remote (netns counts for loopback only); NULL: none
 * seen. Valid until the next put. */
const struct sonde_holder *sonde_holders_get(const struct sonde_holders *h,
					     const struct sonde_endpoint *local,
					     const struct sonde_endpoint *remote, uint32_t netns);

/* The namespace of the socket pid opened last; 0: none seen. */
uint32_t sonde_holders_netns_of(const struct sonde_holders *h, uint32_t pid);

#endif
