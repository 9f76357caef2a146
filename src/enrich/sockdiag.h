/* SPDX-License-Identifier: MIT */
/*
 * The local sockets of a TCP connection, by its 4-tuple, from the kernel's
 * own socket table: NETLINK_SOCK_DIAG (inet_diag), one exact lookup per
 * end, answered from the kernel's hash tables (no dump, no text to scan).
 * A netlink socket answers for the network namespace it was made in, so a
 * lookup in another namespace uses a socket made there (setns, made,
 * back). Foreign sockets are not kept: a netlink socket would keep a dead
 * pod's namespace alive.
 */
#ifndef SONDE_ENRICH_SOCKDIAG_H
#define SONDE_ENRICH_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/chunk.h"

/* One local socket found: its inode (0: a time-wait socket, no owner),
 * its owner's uid, and whether it is a listener (the connection's own
 * socket gone, the server's port still held). */
struct sonde_sockdiag_hit {
	uint64_t ino;
	uint32_t uid;
	bool listener;
};

/* A NETLINK_SOCK_DIAG socket in the network namespace of the file netns
 * (NULL: this thread's own). Returns the descriptor, or -1 with why. */
int sonde_sockdiag_open(const char *netns, char *why, size_t whylen);

/*
 * The sockets of connection client→server in fd's namespace: hit[0] the
 * one whose local end is the client's, hit[1] the server's (a listener on
 * the server's address and port stands for it when its own is gone);
 * ino 0 for one not there. IPv4 ends find dual-stack (v4-mapped) sockets
 * too. Returns how many were found, or -1 if the kernel would not answer.
 */
int sonde_sockdiag_lookup(int fd, const struct sonde_endpoint *client,
			  const struct sonde_endpoint *server, struct sonde_sockdiag_hit hit[2]);

/* The socket listening on server's address (or the wildcard) and port in
 * fd's namespace: its inode, 0 if none. */
uint64_t sonde_sockdiag_listener(int fd, const struct sonde_endpoint *server);

#endif
