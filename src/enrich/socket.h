/* SPDX-License-Identifier: MIT */
/*
 * Which process holds which end of a TCP connection on this host, from the
 * socket tables (/proc/PID/net/tcp and tcp6 of the process's network
 * namespace) and the processes' descriptor tables (/proc/PID/fd).
 *
 * Both ends of a loopback connection are in the table: the socket whose
 * local address is the client's is the client's, the other the server's.
 * Finding the process of a socket means reading descriptor tables, so the
 * search is bounded (a budget of descriptors per search) and what a search
 * reads on the way is kept (socket inode → pid, bounded) for the next one.
 */
#ifndef SONDE_ENRICH_SOCKET_H
#define SONDE_ENRICH_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/chunk.h"

/*
 * The sockets of connection client→server in the socket tables that
 * process pid sees: *client_ino the one whose local end is the client's,
 * *server_ino the server's; 0 for one not there (remote, or closed). IPv4
 * ends match IPv4-mapped IPv6 sockets too (dual-stack listeners).
 * *listen_ino (may be NULL): a socket listening on the server's port at its
 * address or the wildcard, 0 if none. A process that is gone has no
 * tables: init's (the host's namespace) are read instead. Returns false if
 * no table could be read.
 */
bool sonde_sock_inodes(const char *proc, uint32_t pid, const struct sonde_endpoint *client,
		       const struct sonde_endpoint *server, uint64_t *client_ino,
		       uint64_t *server_ino, uint64_t *listen_ino);

/* Is the server's address this host's as the client sees it (loopback, or
 * the client's own address)? Only then does a wildcard listener on its port
 * stand for the server. */
bool sonde_sock_same_host(const struct sonde_endpoint *client, const struct sonde_endpoint *server);

/* Does process pid hold socket inode ino? */
bool sonde_sock_held_by(const char *proc, uint32_t pid, uint64_t ino);

struct sonde_sock_owners;

/* max_fds: descriptors one search may read (0: 65536). */
struct sonde_sock_owners *sonde_sock_owners_new(const char *proc, size_t max_fds);
void sonde_sock_owners_free(struct sonde_sock_owners *o);
/* sonde_sock_held_by, answered from what was read in the last second when
 * it can: a process with many descriptors (a server holding 50k
 * connections) costs a read of each, and the records of its connections
 * closing ask about the same listener again and again. */
bool sonde_sock_owners_holds(struct sonde_sock_owners *o, uint32_t pid, uint64_t ino);
/* The process holding socket ino, skipping process skip (0: none): 0 if
 * none was found within the budget. */
uint32_t sonde_sock_owner(struct sonde_sock_owners *o, uint64_t ino, uint32_t skip);

/*
 * The process holding socket ino, from what the last full search saw
 * (every process's descriptors within the budget, each socket noted), or
 * a full search again when ino is not there and the last one is at least
 * interval_ns old (now_ns: a monotonic clock): one search per interval
 * however many connections miss, for the packet sources, which look up
 * every connection. 0 if not found (or not searched for).
 */
/* The holder of ino as the last full search saw it, if it still holds it;
 * else 0 (nothing searched). */
uint32_t sonde_sock_owner_known(struct sonde_sock_owners *o, uint64_t ino);
uint32_t sonde_sock_owner_scan(struct sonde_sock_owners *o, uint64_t ino, uint64_t now_ns,
			       uint64_t interval_ns);

#endif
