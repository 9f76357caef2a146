// SPDX-License-Identifier: MIT
#include "enrich/socket.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/u64map.h"

/* An address as the kernel prints it in net/tcp: 32-bit words in %08X of
 * their native value, then ":PORT" in hex. */
static bool parse_addr(const char *s, size_t words, uint8_t *addr, uint16_t *port)
{
	for (size_t w = 0; w < words; w++) {
		char word[9];
		memcpy(word, s + 8 * w, 8);
		word[8] = 0;
		char *end;
		uint32_t v = (uint32_t)strtoul(word, &end, 16);
		if (*end)
			return false;
		memcpy(addr + 4 * w, &v, 4);
	}
	if (s[8 * words] != ':')
		return false;
	*port = (uint16_t)strtoul(s + 8 * words + 1, NULL, 16);
	return true;
}

/* The endpoint as the table of this family shows it (16 bytes for tcp6:
 * an IPv4 end as ::ffff:a.b.c.d). */
static void table_form(const struct sonde_endpoint *e, bool v6, uint8_t *addr)
{
	memset(addr, 0, 16);
	if (!v6) {
		memcpy(addr, e->addr, 4);
	} else if (e->family == AF_INET) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, e->addr, 4);
	} else {
		memcpy(addr, e->addr, 16);
	}
}

#define TCP_LISTEN 0x0a /* st in net/tcp */

static bool same_host(const struct sonde_endpoint *client, const struct sonde_endpoint *server)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	if (server->family == AF_INET && server->addr[0] == 127)
		return true;
	if (server->family == AF_INET6 && !memcmp(server->addr, lo6, 16))
		return true;
	return client->family == server->family &&
	       !memcmp(client->addr, server->addr, server->family == AF_INET ? 4 : 16);
}

static void scan_table(const char *path, bool v6, const struct sonde_endpoint *client,
		       const struct sonde_endpoint *server, uint64_t *cino, uint64_t *sino,
		       uint64_t *lino)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	uint8_t c[16], s[16];
	table_form(client, v6, c);
	table_form(server, v6, s);
	size_t alen = v6 ? 16 : 4;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char local[64], remote[64];
		unsigned long long ino;
		unsigned st;
		/* sl local rem st queues timer retr uid timeout inode */
		if (sscanf(line, " %*s %63s %63s %x %*s %*s %*s %*s %*s %llu", local, remote, &st,
			   &ino) != 4 ||
		    !ino)
			continue;
		uint8_t la[16], ra[16];
		uint16_t lp, rp;
		if (!parse_addr(local, alen / 4, la, &lp) || !parse_addr(remote, alen / 4, ra, &rp))
			continue;
		static const uint8_t any[16];
		if (st == TCP_LISTEN) {
			/* A wildcard listener is the server's only if the server's
			 * address is this host's: the client's, or loopback. */
			if (lino && lp == server->port &&
			    (!memcmp(la, s, alen) ||
			     (!memcmp(la, any, alen) && same_host(client, server))))
				*lino = ino;
			continue;
		}
		if (lp == client->port && rp == server->port && !memcmp(la, c, alen) &&
		    !memcmp(ra, s, alen))
			*cino = ino;
		else if (lp == server->port && rp == client->port && !memcmp(la, s, alen) &&
			 !memcmp(ra, c, alen))
			*sino = ino;
	}
	fclose(f);
}

/*
 * One socket by its exact addresses, through NETLINK_SOCK_DIAG: the kernel
 * looks it up in its hash tables as it would for a packet (an established
 * socket, else the listener that packet would reach), where the text tables
 * cost a walk of every socket of the namespace (~100 ms with 100k sockets,
 * which a busy node has). Returns false if the kernel could not answer.
 */
static bool diag_lookup(int fd, int family, const uint8_t *local, uint16_t lport,
			const uint8_t *remote, uint16_t rport, uint8_t *state, uint64_t *ino,
			uint8_t *bound)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req = {
		.nh = { .nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST },
		.r = { .sdiag_family = (uint8_t)family,
		       .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = ~0u },
	};
	size_t alen = family == AF_INET ? 4 : 16;
	req.r.id.idiag_sport = htons(lport);
	req.r.id.idiag_dport = htons(rport);
	memcpy(req.r.id.idiag_src, local, alen);
	memcpy(req.r.id.idiag_dst, remote, alen);
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	*state = 0;
	*ino = 0;
	if (send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
		return false;
	union {
		struct nlmsghdr nh;
		uint8_t b[1024];
	} rep;
	ssize_t n = recv(fd, &rep, sizeof(rep), 0);
	if (n < (ssize_t)sizeof(struct nlmsghdr) || (size_t)n < rep.nh.nlmsg_len)
		return false;
	if (rep.nh.nlmsg_type == NLMSG_ERROR) /* ENOENT: no such socket */
		return true;
	if (rep.nh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    rep.nh.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
		return false;
	const struct inet_diag_msg *m = NLMSG_DATA(&rep.nh);
	*state = m->idiag_state;
	*ino = m->idiag_inode;
	if (bound)
		memcpy(bound, m->id.idiag_src, alen);
	return true;
}

/* Is pid in sonde's own network namespace (where a netlink socket asks)? */
static bool own_netns(const char *proc, uint32_t pid)
{
	char path[128];
	struct stat mine, theirs;
	snprintf(path, sizeof(path), "%s/%u/ns/net", proc, pid);
	return stat("/proc/self/ns/net", &mine) == 0 && stat(path, &theirs) == 0 &&
	       mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
}

/* sonde_sock_inodes through the kernel's lookup, in sonde's namespace: each
 * end's socket, IPv4 ones also as IPv4-mapped IPv6 (dual-stack sockets);
 * the listener a lookup falls back to for the server's end. */
static bool diag_inodes(const struct sonde_endpoint *client, const struct sonde_endpoint *server,
			uint64_t *cino, uint64_t *sino, uint64_t *lino)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return false;
	bool ok = true;
	for (int v6 = client->family == AF_INET6; v6 < 2 && ok; v6++) {
		uint8_t c[16], s[16], st;
		uint64_t ino;
		int fam = v6 ? AF_INET6 : AF_INET;
		table_form(client, v6, c);
		table_form(server, v6, s);
		if (!*cino) {
			ok = diag_lookup(fd, fam, c, client->port, s, server->port, &st, &ino,
					 NULL);
			if (ok && st != TCP_LISTEN)
				*cino = ino;
		}
		if (ok && !*sino) {
			ok = diag_lookup(fd, fam, s, server->port, c, client->port, &st, &ino,
					 NULL);
			if (ok && st != TCP_LISTEN)
				*sino = ino;
		}
		/* From no peer at all, the lookup can only end at a listener;
		 * a wildcard one is the server's only if the server's address
		 * is this host's (as scan_table decides). */
		static const uint8_t none[16];
		uint8_t bound[16] = { 0 };
		if (ok && lino && !*lino) {
			ok = diag_lookup(fd, fam, s, server->port, none, 0, &st, &ino, bound);
			size_t alen = v6 ? 16 : 4;
			if (ok && st == TCP_LISTEN &&
			    (!memcmp(bound, s, alen) ||
			     (!memcmp(bound, none, alen) && same_host(client, server))))
				*lino = ino;
		}
	}
	close(fd);
	return ok;
}

bool sonde_sock_inodes(const char *proc, uint32_t pid, const struct sonde_endpoint *client,
		       const struct sonde_endpoint *server, uint64_t *client_ino,
		       uint64_t *server_ino, uint64_t *listen_ino)
{
	*client_ino = *server_ino = 0;
	if (listen_ino)
		*listen_ino = 0;
	if (own_netns(proc, pid) && diag_inodes(client, server, client_ino, server_ino, listen_ino))
		return true;
	*client_ino = *server_ino = 0;
	if (listen_ino)
		*listen_ino = 0;
	char path[128];
	/* A process that is gone (a zombie has no tables) leaves the host's
	 * network namespace, init's, to look in. */
	snprintf(path, sizeof(path), "%s/%u/net/tcp6", proc, pid);
	if (access(path, R_OK) < 0)
		pid = 1;
	bool any = false;
	if (client->family == AF_INET) {
		snprintf(path, sizeof(path), "%s/%u/net/tcp", proc, pid);
		any = access(path, R_OK) == 0;
		scan_table(path, false, client, server, client_ino, server_ino, listen_ino);
	}
	snprintf(path, sizeof(path), "%s/%u/net/tcp6", proc, pid);
	any = any || access(path, R_OK) == 0;
	scan_table(path, true, client, server, client_ino, server_ino, listen_ino);
	return any;
}

/* "socket:[123]" → 123, else 0. */
static uint64_t socket_ino(const char *link)
{
	if (strncmp(link, "socket:[", 8))
		return 0;
	return strtoull(link + 8, NULL, 10);
}

/* Calls fn for every socket process pid holds, until it returns true;
 * returns the descriptors read. */
static size_t each_socket(const char *proc, uint32_t pid,
			  bool (*fn)(void *ctx, uint32_t pid, uint64_t ino), void *ctx, bool *stop)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%u/fd", proc, pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *de;
	while (!*stop && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char link[64];
		ssize_t l = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		n++;
		if (l <= 0)
			continue;
		link[l] = 0;
		uint64_t ino = socket_ino(link);
		if (ino && fn(ctx, pid, ino))
			*stop = true;
	}
	closedir(d);
	return n;
}

struct held {
	uint64_t ino;
};

static bool is_held(void *ctx, uint32_t pid, uint64_t ino)
{
	(void)pid;
	return ino == ((struct held *)ctx)->ino;
}

bool sonde_sock_held_by(const char *proc, uint32_t pid, uint64_t ino)
{
	struct held h = { ino };
	bool found = false;
	each_socket(proc, pid, is_held, &h, &found);
	return found;
}

#define OWNERS_KEPT 8192

struct sonde_sock_owners {
	char proc[128];
	size_t max_fds;
	struct sonde_u64map seen; /* socket inode → pid, from earlier searches */
};

struct sonde_sock_owners *sonde_sock_owners_new(const char *proc, size_t max_fds)
{
	struct sonde_sock_owners *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	snprintf(o->proc, sizeof(o->proc), "%s", proc ? proc : "/proc");
	o->max_fds = max_fds ? max_fds : 65536;
	sonde_u64map_init(&o->seen);
	return o;
}

void sonde_sock_owners_free(struct sonde_sock_owners *o)
{
	if (!o)
		return;
	sonde_u64map_free(&o->seen);
	free(o);
}

struct search {
	struct sonde_sock_owners *o;
	uint64_t ino;
	uint32_t found;
};

static bool note(void *ctx, uint32_t pid, uint64_t ino)
{
	struct search *s = ctx;
	if (s->o->seen.len < OWNERS_KEPT)
		sonde_u64map_put(&s->o->seen, ino, pid);
	if (ino != s->ino)
		return false;
	s->found = pid;
	return true;
}

uint32_t sonde_sock_owner(struct sonde_sock_owners *o, uint64_t ino, uint32_t skip)
{
	uint64_t pid;
	if (sonde_u64map_get(&o->seen, ino, &pid) && pid != skip &&
	    sonde_sock_held_by(o->proc, (uint32_t)pid, ino))
		return (uint32_t)pid;
	/* What was kept is stale by now: sockets come and go. */
	sonde_u64map_free(&o->seen);
	sonde_u64map_init(&o->seen);
	DIR *d = opendir(o->proc);
	if (!d)
		return 0;
	struct search s = { .o = o, .ino = ino };
	bool stop = false;
	size_t budget = o->max_fds;
	struct dirent *de;
	while (!stop && budget && (de = readdir(d))) {
		char *end;
		unsigned long p = strtoul(de->d_name, &end, 10);
		if (*end || !p || p == skip)
			continue;
		size_t n = each_socket(o->proc, (uint32_t)p, note, &s, &stop);
		budget = n < budget ? budget - n : 0;
	}
	closedir(d);
	return s.found;
}
