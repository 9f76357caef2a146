// SPDX-License-Identifier: MIT
#include "enrich/sockdiag.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define TCP_LISTEN_STATE 10 /* TCP_LISTEN of the kernel's enum */

static int open_here(char *why, size_t whylen)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		snprintf(why, whylen, "netlink sock_diag: %s", strerror(errno));
		return -1;
	}
	/* The kernel answers an exact lookup at once; a bound on the wait
	 * all the same, since the capture's thread asks. */
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int sonde_sockdiag_open(const char *netns, char *why, size_t whylen)
{
	if (!netns)
		return open_here(why, whylen);
	int ns = open(netns, O_RDONLY | O_CLOEXEC);
	if (ns < 0) {
		snprintf(why, whylen, "network namespace %s: %s", netns, strerror(errno));
		return -1;
	}
	/* setns moves only this thread: come back to the thread's own. */
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0 || setns(ns, CLONE_NEWNET) < 0) {
		snprintf(why, whylen, "cannot enter network namespace %s: %s", netns,
			 strerror(errno));
		close(ns);
		if (home >= 0)
			close(home);
		return -1;
	}
	close(ns);
	int fd = open_here(why, whylen);
	if (setns(home, CLONE_NEWNET) < 0) /* a thread that could leave can return */
		abort();
	close(home);
	return fd;
}

/* One exact lookup: the socket whose local end is src and remote end dst,
 * asked as family fam (AF_INET6 with v4-mapped addresses finds dual-stack
 * sockets). Returns 1 found, 0 not, -1 no answer. */
static int ask(int fd, int fam, const struct sonde_endpoint *src, const struct sonde_endpoint *dst,
	       struct sonde_sockdiag_hit *hit)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req = {
		.nh = { .nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST },
		.r = { .sdiag_family = (uint8_t)fam,
		       .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = ~0u,
		       .id = { .idiag_sport = htons(src->port),
			       .idiag_dport = htons(dst->port),
			       .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
	};
	uint8_t *s = (uint8_t *)req.r.id.idiag_src, *d = (uint8_t *)req.r.id.idiag_dst;
	if (fam == AF_INET6 && src->family == AF_INET) {
		s[10] = s[11] = d[10] = d[11] = 0xff;
		memcpy(s + 12, src->addr, 4);
		memcpy(d + 12, dst->addr, 4);
	} else {
		size_t n = fam == AF_INET ? 4 : 16;
		memcpy(s, src->addr, n);
		memcpy(d, dst->addr, n);
	}
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -1;
	union {
		struct nlmsghdr nh;
		uint8_t b[1024];
	} ans;
	ssize_t n = recv(fd, &ans, sizeof(ans), 0);
	if (n < (ssize_t)sizeof(struct nlmsghdr) || ans.nh.nlmsg_len > (size_t)n)
		return -1;
	if (ans.nh.nlmsg_type == NLMSG_ERROR)
		return 0; /* ENOENT: no such socket (any other error: none either) */
	if (ans.nh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    ans.nh.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
		return -1;
	const struct inet_diag_msg *m = NLMSG_DATA(&ans.nh);
	hit->ino = m->idiag_inode;
	hit->uid = m->idiag_uid;
	hit->listener = m->idiag_state == TCP_LISTEN_STATE;
	return 1;
}

/* The local socket src→dst: asked as its own family, then (IPv4) as a
 * dual-stack socket's. */
static int find(int fd, const struct sonde_endpoint *src, const struct sonde_endpoint *dst,
		struct sonde_sockdiag_hit *hit)
{
	int r = ask(fd, src->family == AF_INET6 ? AF_INET6 : AF_INET, src, dst, hit);
	if (r == 0 && src->family == AF_INET)
		r = ask(fd, AF_INET6, src, dst, hit);
	return r;
}

uint64_t sonde_sockdiag_listener(int fd, const struct sonde_endpoint *server)
{
	/* No established socket matches a remote port 0: the kernel's
	 * lookup answers with the listener. */
	struct sonde_endpoint none = { .family = server->family };
	struct sonde_sockdiag_hit hit = { 0 };
	return find(fd, server, &none, &hit) > 0 && hit.listener ? hit.ino : 0;
}

int sonde_sockdiag_lookup(int fd, const struct sonde_endpoint *client,
			  const struct sonde_endpoint *server, struct sonde_sockdiag_hit hit[2])
{
	memset(hit, 0, 2 * sizeof(*hit));
	int a = find(fd, client, server, &hit[0]);
	int b = find(fd, server, client, &hit[1]);
	if (a < 0 && b < 0)
		return -1;
	/* A server socket with no inode is an orphan (closed, FIN_WAIT,
	 * TIME_WAIT): the listener that accepted it stands for it. */
	if (b > 0 && !hit[1].ino && !hit[1].listener) {
		hit[1].ino = sonde_sockdiag_listener(fd, server);
		hit[1].listener = hit[1].ino != 0;
		b = hit[1].listener;
	}
	/* The kernel's lookup falls back to a listener on the local port:
	 * that stands for the server's socket, never for the client's. */
	if (a > 0 && hit[0].listener) {
		memset(&hit[0], 0, sizeof(hit[0]));
		a = 0;
	}
	return (a > 0) + (b > 0);
}
