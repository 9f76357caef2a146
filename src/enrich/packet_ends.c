// SPDX-License-Identifier: MIT
#include "enrich/packet_ends.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "enrich/cgroup_ids.h"
#include "enrich/sockdiag.h"
#include "enrich/socket.h"

/* A socket whose holder the last search did not see is searched for again
 * no sooner than this: a burst of connections costs one search. */
#define OWNER_RESCAN_NS 200000000ull
/* Owners found lately, asked first: the same processes open most of a
 * host's connections (a client's next one, a server's next accept). */
#define RECENT_OWNERS 8

struct sonde_packet_ends {
	char proc[128];
	struct sonde_stats *stats;
	int own_fd; /* sock_diag in sonde's own namespace */
	uint64_t own_ns; /* its inode */
	int pinned_fd; /* in --netns's, -1 without */
	uint64_t pinned_ns;
	struct sonde_sock_owners *owners;
	struct sonde_cgroup_ids *cgroups; /* NULL: no cgroup v2 tree */
	uint32_t recent[RECENT_OWNERS];
	unsigned next_recent;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t ns_ino(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

struct sonde_packet_ends *sonde_packet_ends_new(const struct sonde_packet_ends_opts *o,
						struct sonde_stats *stats, char *why, size_t whylen)
{
	struct sonde_packet_ends *p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	snprintf(p->proc, sizeof(p->proc), "%s", o->proc ? o->proc : "/proc");
	p->stats = stats;
	p->pinned_fd = -1;
	p->own_fd = sonde_sockdiag_open(NULL, why, whylen);
	if (p->own_fd < 0) {
		free(p);
		return NULL;
	}
	p->own_ns = ns_ino("/proc/thread-self/ns/net");
	if (o->netns && (p->pinned_ns = ns_ino(o->netns)) && p->pinned_ns != p->own_ns)
		p->pinned_fd = sonde_sockdiag_open(o->netns, why, whylen);
	p->owners = sonde_sock_owners_new(p->proc, 0);
	p->cgroups = sonde_cgroup_ids_new(o->cgroup_root, 0);
	return p;
}

void sonde_packet_ends_free(struct sonde_packet_ends *p)
{
	if (!p)
		return;
	close(p->own_fd);
	if (p->pinned_fd >= 0)
		close(p->pinned_fd);
	sonde_sock_owners_free(p->owners);
	sonde_cgroup_ids_free(p->cgroups);
	free(p);
}

bool sonde_packet_ends_wanted(const struct sonde_conn_info *c)
{
	switch (c->origin) {
	case SONDE_ORIGIN_AF_PACKET:
	case SONDE_ORIGIN_LIBPCAP:
	case SONDE_ORIGIN_TC:
	case SONDE_ORIGIN_CGROUP_SKB:
	case SONDE_ORIGIN_AF_XDP: return !c->proc.pid && c->l4 == SONDE_L4_TCP;
	default: return false;
	}
}

/* The namespace file of a record's capture.source ("any@/run/netns/web"),
 * or NULL: captured in sonde's own. */
static const char *netns_of_source(const char *source)
{
	const char *at = source ? strrchr(source, '@') : NULL;
	return at && at[1] == '/' ? at + 1 : NULL;
}

/* The pid of a "/proc/PID/ns/net" path, else 0. */
static uint32_t pid_of_nspath(const char *path)
{
	unsigned long pid;
	char tail[16];
	if (sscanf(path, "/proc/%lu/ns/ne%15s", &pid, tail) != 2 || strcmp(tail, "t") ||
	    pid > 0x7fffffff)
		return 0;
	return (uint32_t)pid;
}

/* The two sockets' inodes (0: not there) in namespace netns (NULL: ours),
 * and the server's port's listener (*lino, 0: none); *unentered set when
 * read from /proc for want of entering it. Returns false when no table of
 * that namespace could be read. */
static bool sockets_in(struct sonde_packet_ends *p, const char *netns,
		       const struct sonde_conn_info *c, uint64_t ino[2], uint64_t *lino,
		       bool *unentered)
{
	struct sonde_sockdiag_hit hit[2];
	uint64_t ns = netns ? ns_ino(netns) : p->own_ns;
	int fd = !ns || ns == p->own_ns                    ? p->own_fd
		 : p->pinned_fd >= 0 && ns == p->pinned_ns ? p->pinned_fd
							   : -1;
	bool opened = false;
	char why[256];
	if (fd < 0 && ns && (fd = sonde_sockdiag_open(netns, why, sizeof(why))) >= 0)
		opened = true;
	if (fd >= 0) {
		int n = sonde_sockdiag_lookup(fd, &c->client, &c->server, hit);
		*lino = hit[1].listener ? hit[1].ino : sonde_sockdiag_listener(fd, &c->server);
		if (opened)
			close(fd);
		ino[0] = hit[0].ino, ino[1] = hit[1].ino;
		/* The server's socket gone altogether (the client closed first,
		 * the record came later): its listener stands for it, as the
		 * /proc path below does. */
		if (n >= 0 && !ino[1] && sonde_sock_same_host(&c->client, &c->server))
			ino[1] = *lino;
		return n >= 0;
	}
	/* Not allowed in (sonde kept no CAP_SYS_ADMIN): a process of that
	 * namespace shows its table in /proc. */
	uint32_t pid = pid_of_nspath(netns);
	*unentered = true;
	if (!pid ||
	    !sonde_sock_inodes(p->proc, pid, &c->client, &c->server, &ino[0], &ino[1], lino))
		return false;
	if (!ino[1])
		ino[1] = *lino; /* a listener stands for the server's socket */
	return true;
}

/* Is the server's socket sino gone from the table since it was seen (closed,
 * or orphaned by its holder's close: no inode)? */
static bool server_gone(struct sonde_packet_ends *p, const char *netns,
			const struct sonde_conn_info *c, uint64_t sino)
{
	uint64_t ino[2] = { 0, 0 }, lino = 0;
	bool unentered = false;
	return sockets_in(p, netns, c, ino, &lino, &unentered) && ino[1] != sino;
}

/* cgroup_skb: the container of the socket's cgroup, and the namespace of
 * a process in it (nsbuf), where its sockets are. */
static const char *cgroup_of(struct sonde_packet_ends *p, const struct sonde_conn_info *c,
			     struct sonde_packet_found *out, char *nsbuf, size_t nslen)
{
	if (c->origin != SONDE_ORIGIN_CGROUP_SKB || !c->proc.cgroup_id || !p->cgroups)
		return NULL;
	const char *rel = sonde_cgroup_ids_path(p->cgroups, c->proc.cgroup_id, mono_ns());
	if (!rel) {
		p->stats->enrich_packet_cgroup_misses++;
		return NULL;
	}
	snprintf(out->cg_path, sizeof(out->cg_path), "%s", rel);
	sonde_cgroup_parse(rel, strlen(rel), &out->cg);
	uint32_t member = sonde_cgroup_ids_member(p->cgroups, rel);
	if (!member)
		return NULL;
	snprintf(nsbuf, nslen, "%s/%u/ns/net", p->proc, member);
	return nsbuf;
}

/* The process holding socket ino: the last search's answer, the holder of
 * the listener that accepted it, a recent owner, or a new search (at most
 * one per OWNER_RESCAN_NS). 0 if none. */
static uint32_t owner_of(struct sonde_packet_ends *p, uint64_t ino, uint64_t lino, uint64_t now)
{
	uint32_t pid = sonde_sock_owner_known(p->owners, ino);
	uint32_t lp = !pid && lino && lino != ino ? sonde_sock_owner_known(p->owners, lino) : 0;
	if (lp && sonde_sock_held_by(p->proc, lp, ino))
		pid = lp;
	for (unsigned i = 0; !pid && i < RECENT_OWNERS; i++)
		if (p->recent[i] && sonde_sock_held_by(p->proc, p->recent[i], ino))
			pid = p->recent[i];
	if (!pid)
		pid = sonde_sock_owner_scan(p->owners, ino, now, OWNER_RESCAN_NS);
	bool kept = false;
	for (unsigned i = 0; i < RECENT_OWNERS; i++)
		kept |= p->recent[i] == pid;
	if (pid && !kept)
		p->recent[p->next_recent++ % RECENT_OWNERS] = pid;
	return pid;
}

void sonde_packet_ends_find(struct sonde_packet_ends *p, const struct sonde_conn_info *c,
			    struct sonde_packet_found *out)
{
	memset(out, 0, sizeof(*out));
	p->stats->enrich_packet_lookups++;
	char nsbuf[160];
	const char *netns = cgroup_of(p, c, out, nsbuf, sizeof(nsbuf));
	if (!netns)
		netns = netns_of_source(c->source);
	uint64_t ino[2] = { 0, 0 }, lino = 0;
	bool unentered = false;
	bool read = sockets_in(p, netns, c, ino, &lino, &unentered);
	if (unentered)
		p->stats->enrich_packet_netns_unentered++;
	if (!read || (!ino[0] && !ino[1])) {
		p->stats->enrich_packet_misses++;
		return;
	}
	uint64_t now = mono_ns();
	for (int e = 0; e < 2; e++) {
		out->socket[e] = ino[e] != 0;
		if (ino[e])
			out->pid[e] = owner_of(p, ino[e], e ? lino : 0, now);
	}
	/* The server's socket was in the table but its holder closed it before
	 * the descriptors were searched (the client left first and the record
	 * came at once, as tc's do): gone now, it is stood for by its listener
	 * as one gone before the lookup is. */
	bool by_listener = lino && ino[1] == lino;
	if (!out->pid[1] && ino[1] && lino && !by_listener && server_gone(p, netns, c, ino[1])) {
		out->pid[1] = owner_of(p, lino, 0, now);
		by_listener = true;
	}
	if (by_listener && out->pid[1])
		p->stats->enrich_packet_by_listener++;
	for (int e = 0; e < 2; e++)
		if (ino[e] && !out->pid[e])
			p->stats->enrich_packet_owner_misses++;
}
