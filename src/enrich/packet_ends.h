/* SPDX-License-Identifier: MIT */
/*
 * The local ends of a connection a packet source saw (af_packet, libpcap,
 * tc, af_xdp, cgroup_skb), which carry no process: the sockets of its
 * 4-tuple in the kernel's table of the namespace it was captured in
 * (enrich/sockdiag.h), then the processes holding them (a search of
 * /proc/PID/fd, kept and repeated on a miss at most every 500 ms), and for
 * cgroup_skb the cgroup its id names (enrich/cgroup_ids.h).
 *
 * The namespace: the one after '@' in the connection's capture.source
 * (--netns, --all-netns), else sonde's own; for cgroup_skb, a process of
 * the socket's cgroup's. The --netns one is entered once, when the stage
 * is made (before privileges are dropped); another is entered for each
 * lookup (its netlink socket closed at once, so sonde keeps no namespace
 * alive), which takes CAP_SYS_ADMIN: where sonde has given it up, a
 * /proc/PID/ns/net namespace is read from /proc/PID/net/tcp instead.
 */
#ifndef SONDE_ENRICH_PACKET_ENDS_H
#define SONDE_ENRICH_PACKET_ENDS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/record.h"
#include "core/stats.h"
#include "enrich/cgroup.h"

struct sonde_packet_ends_opts {
	const char *proc; /* "/proc" */
	const char *netns; /* --netns's file, entered now; NULL: none */
	const char *cgroup_root; /* the cgroup v2 mount; NULL: found */
};

struct sonde_packet_ends;

/* NULL only when no netlink socket could be made (why says). */
struct sonde_packet_ends *sonde_packet_ends_new(const struct sonde_packet_ends_opts *o,
						struct sonde_stats *stats, char *why,
						size_t whylen);
void sonde_packet_ends_free(struct sonde_packet_ends *p);

struct sonde_packet_found {
	uint32_t pid[2]; /* each end's process (0 client, 1 server), 0: none */
	bool socket[2]; /* its socket is on this host, owner or not */
	/* cgroup_skb: the container the socket's cgroup names (id "": none) */
	struct sonde_cgroup_ctr cg;
	char cg_path[256];
};

/* Connection c's local ends (counted in enrich_packet_*). */
void sonde_packet_ends_find(struct sonde_packet_ends *p, const struct sonde_conn_info *c,
			    struct sonde_packet_found *out);

/* True for a record of a packet source (no process of its own). */
bool sonde_packet_ends_wanted(const struct sonde_conn_info *c);

#endif
