/* SPDX-License-Identifier: MIT */
/*
 * Just enough rtnetlink for the AF_XDP source's mirror: a veth pair whose
 * peer goes straight into another network namespace, links set up, TSO and
 * GSO turned off (so clones arrive segmented, each fitting an XSK frame).
 * Every call works in the calling thread's network namespace.
 */
#ifndef SONDE_PACKET_VETH_H
#define SONDE_PACKET_VETH_H

#include <stddef.h>

/* Make veth `name` here with peer `peer` in the namespace of peer_ns_fd.
 * Returns 0 or -errno. */
int sonde_veth_create(const char *name, const char *peer, int peer_ns_fd);
/* Bring interface `name` up, with TSO and GSO off; 0 or -errno. */
int sonde_link_up(const char *name);
/* Remove interface `name` (and a veth's peer with it); 0 or -errno. */
int sonde_link_delete(const char *name);

#endif
