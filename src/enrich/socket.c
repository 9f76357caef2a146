// SPDX-License-Identifier: MIT
#include "enrich/socket.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/u64map.h"
#include "enrich/sockdiag.h"

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

bool sonde_sock_same_host(const struct sonde_endpoint *client, const struct sonde_endpoint *server)
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
			     (!memcmp(la, any, alen) && sonde_sock_same_host(client, server))))
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

/* Is pid in sonde's own network namespace (where a netlink socket asks)? */
static bool own_netns(const char *proc, uint32_t pid)
{
	char path[128];
	struct stat mine, theirs;
	snprintf(path, sizeof(path), "%s/%u/ns/net", proc, pid);
	return stat("/proc/self/ns/net", &mine) == 0 && stat(path, &theirs) == 0 &&
	       mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
}

/* sonde_sock_inodes through the kernel's own lookup (enrich/sockdiag.h), in
 * sonde's namespace: the text tables cost a walk of every socket of the
 * namespace per connection (~100 ms with 131k sockets on this host). A
 * listener found for no peer may be a wildcard one, which is the server's
 * only if the server's address is this host's (as scan_table decides). */
static bool diag_inodes(const struct sonde_endpoint *client, const struct sonde_endpoint *server,
			uint64_t *cino, uint64_t *sino, uint64_t *lino)
{
	char why[128];
	int fd = sonde_sockdiag_open(NULL, why, sizeof(why));
	if (fd < 0)
		return false;
	struct sonde_sockdiag_hit hit[2];
	bool ok = sonde_sockdiag_lookup(fd, client, server, hit) >= 0;
	if (ok) {
		*cino = hit[0].ino;
		*sino = hit[1].listener ? 0 : hit[1].ino;
		if (lino && sonde_sock_same_host(client, server))
			*lino = hit[1].listener ? hit[1].ino : sonde_sockdiag_listener(fd, server);
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
	char path[128];
	/* A process that is gone (a zombie has no tables) leaves the host's
	 * network namespace, init's, to look in: through the kernel's lookup
	 * too when that is sonde's (the records of a process's connections
	 * closing as it exits would each read the whole text table) */
	snprintf(path, sizeof(path), "%s/%u/net/tcp6", proc, pid);
	if (access(path, R_OK) < 0)
		pid = 1;
	if (own_netns(proc, pid) && diag_inodes(client, server, client_ino, server_ino, listen_ino))
		return true;
	*client_ino = *server_ino = 0;
	if (listen_ino)
		*listen_ino = 0;
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
	struct sonde_u64map full; /* socket inode → pid, the last full search's */
	uint64_t full_at_ns;
	bool full_done;
	struct sonde_u64map held; /* pid << 32 | inode → held?, since held_at_ns */
	uint64_t held_at_ns;
};

#define HELD_KEEP_NS 1000000000ull

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

bool sonde_sock_owners_holds(struct sonde_sock_owners *o, uint32_t pid, uint64_t ino)
{
	if (ino >> 32) /* sockfs numbers its inodes in 32 bits: not kept */
		return sonde_sock_held_by(o->proc, pid, ino);
	uint64_t now = mono_ns(), key = (uint64_t)pid << 32 | ino, v;
	if (now - o->held_at_ns > HELD_KEEP_NS || o->held.len >= OWNERS_KEPT) {
		sonde_u64map_free(&o->held);
		sonde_u64map_init(&o->held);
		o->held_at_ns = now;
	}
	if (sonde_u64map_get(&o->held, key, &v))
		return v == 2;
	bool yes = sonde_sock_held_by(o->proc, pid, ino);
	sonde_u64map_put(&o->held, key, yes ? 2 : 1);
	return yes;
}

struct sonde_sock_owners *sonde_sock_owners_new(const char *proc, size_t max_fds)
{
	struct sonde_sock_owners *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	snprintf(o->proc, sizeof(o->proc), "%s", proc ? proc : "/proc");
	o->max_fds = max_fds ? max_fds : 65536;
	sonde_u64map_init(&o->seen);
	sonde_u64map_init(&o->full);
	sonde_u64map_init(&o->held);
	return o;
}

void sonde_sock_owners_free(struct sonde_sock_owners *o)
{
	if (!o)
		return;
	sonde_u64map_free(&o->seen);
	sonde_u64map_free(&o->full);
	sonde_u64map_free(&o->held);
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
	    sonde_sock_owners_holds(o, (uint32_t)pid, ino))
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

static bool note_all(void *ctx, uint32_t pid, uint64_t ino)
{
	struct sonde_u64map *m = ctx;
	sonde_u64map_put(m, ino, pid);
	return false;
}

/* Every process's sockets into o->full, within the descriptor budget. */
static void search_all(struct sonde_sock_owners *o)
{
	sonde_u64map_free(&o->full);
	sonde_u64map_init(&o->full);
	DIR *d = opendir(o->proc);
	if (!d)
		return;
	size_t budget = o->max_fds;
	bool stop = false;
	struct dirent *de;
	while (budget && (de = readdir(d))) {
		char *end;
		unsigned long p = strtoul(de->d_name, &end, 10);
		if (*end || !p)
			continue;
		size_t n = each_socket(o->proc, (uint32_t)p, note_all, &o->full, &stop);
		budget = n < budget ? budget - n : 0;
	}
	closedir(d);
}

uint32_t sonde_sock_owner_known(struct sonde_sock_owners *o, uint64_t ino)
{
	uint64_t pid;
	if (sonde_u64map_get(&o->full, ino, &pid) &&
	    sonde_sock_held_by(o->proc, (uint32_t)pid, ino))
		return (uint32_t)pid;
	return 0;
}

uint32_t sonde_sock_owner_scan(struct sonde_sock_owners *o, uint64_t ino, uint64_t now_ns,
			       uint64_t interval_ns)
{
	uint64_t pid;
	uint32_t known = sonde_sock_owner_known(o, ino);
	if (known)
		return known;
	if (o->full_done && now_ns - o->full_at_ns < interval_ns)
		return 0;
	o->full_done = true;
	o->full_at_ns = now_ns;
	search_all(o);
	return sonde_u64map_get(&o->full, ino, &pid) ? (uint32_t)pid : 0;
}
