// SPDX-License-Identifier: MIT
/* Packet records' local ends on real sockets of the test's own: the
 * kernel's socket table (NETLINK_SOCK_DIAG) finds both sockets of a
 * loopback connection by 4-tuple, IPv4, IPv6 and IPv4 on a dual-stack
 * listener; the listener stands for a server socket that is gone; the
 * holders are found in /proc (this process) and a connection is looked up
 * once; a remote 4-tuple is a counted miss. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enrich/packet_ends.h"
#include "enrich/sockdiag.h"

struct pair {
	int lfd, cfd, sfd;
	struct sonde_endpoint client, server;
};

static void endpoint_of(int fd, bool peer, struct sonde_endpoint *e)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	assert_int_equal(peer ? getpeername(fd, (struct sockaddr *)&ss, &l)
			      : getsockname(fd, (struct sockaddr *)&ss, &l),
			 0);
	memset(e, 0, sizeof(*e));
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
		e->family = AF_INET;
		memcpy(e->addr, &sa->sin_addr, 4);
		e->port = ntohs(sa->sin_port);
		return;
	}
	struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
	e->family = AF_INET6;
	memcpy(e->addr, &sa->sin6_addr, 16);
	e->port = ntohs(sa->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&sa->sin6_addr)) { /* as a packet shows it */
		e->family = AF_INET;
		memmove(e->addr, e->addr + 12, 4);
		memset(e->addr + 4, 0, 12);
	}
}

/* listen_fam: the listener's family; conn_fam: the client's (AF_INET on
 * an AF_INET6 listener: dual stack). */
static void connect_pair(struct pair *p, int listen_fam, int conn_fam)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	if (listen_fam == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
		sa->sin_family = AF_INET;
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*sa);
	} else {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
		sa->sin6_family = AF_INET6;
		sa->sin6_addr = conn_fam == AF_INET ? in6addr_any : in6addr_loopback;
		sl = sizeof(*sa);
	}
	p->lfd = socket(listen_fam, SOCK_STREAM, 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&ss, sl), 0);
	assert_int_equal(listen(p->lfd, 4), 0);
	getsockname(p->lfd, (struct sockaddr *)&ss, &sl);
	uint16_t port = listen_fam == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					      : ((struct sockaddr_in6 *)&ss)->sin6_port;
	struct sockaddr_in to4 = { .sin_family = AF_INET,
				   .sin_port = port,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6,
				    .sin6_port = port,
				    .sin6_addr = in6addr_loopback };
	p->cfd = socket(conn_fam, SOCK_STREAM, 0);
	assert_int_equal(conn_fam == AF_INET
				 ? connect(p->cfd, (struct sockaddr *)&to4, sizeof(to4))
				 : connect(p->cfd, (struct sockaddr *)&to6, sizeof(to6)),
			 0);
	p->sfd = accept(p->lfd, NULL, NULL);
	assert_true(p->sfd >= 0);
	endpoint_of(p->cfd, false, &p->client);
	endpoint_of(p->cfd, true, &p->server);
}

static void close_pair(struct pair *p)
{
	close(p->cfd);
	close(p->sfd);
	close(p->lfd);
}

static uint64_t ino_of(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_ino;
}

static void lookup_case(int listen_fam, int conn_fam)
{
	struct pair p;
	connect_pair(&p, listen_fam, conn_fam);
	char why[256];
	int fd = sonde_sockdiag_open(NULL, why, sizeof(why));
	assert_true(fd >= 0);
	struct sonde_sockdiag_hit hit[2];
	assert_int_equal(sonde_sockdiag_lookup(fd, &p.client, &p.server, hit), 2);
	assert_int_equal(hit[0].ino, ino_of(p.cfd));
	assert_int_equal(hit[1].ino, ino_of(p.sfd));
	assert_false(hit[0].listener || hit[1].listener);
	assert_int_equal(hit[0].uid, getuid());
	assert_int_equal(sonde_sockdiag_listener(fd, &p.server), ino_of(p.lfd));
	/* the server's socket gone: its listener stands for it */
	close(p.sfd);
	p.sfd = -1;
	assert_int_equal(sonde_sockdiag_lookup(fd, &p.client, &p.server, hit), 2);
	assert_int_equal(hit[0].ino, ino_of(p.cfd));
	assert_true(hit[1].listener);
	assert_int_equal(hit[1].ino, ino_of(p.lfd));
	/* no such connection: nothing, not the listener for the client */
	struct sonde_endpoint other = p.client;
	other.port ^= 1;
	assert_int_equal(sonde_sockdiag_lookup(fd, &other, &p.server, hit), 1);
	assert_int_equal(hit[0].ino, 0);
	assert_true(hit[1].listener);
	close(fd);
	close_pair(&p);
}

static void lookup_v4(void **state)
{
	(void)state;
	lookup_case(AF_INET, AF_INET);
}

static void lookup_v6(void **state)
{
	(void)state;
	lookup_case(AF_INET6, AF_INET6);
}

static void lookup_dual_stack(void **state)
{
	(void)state;
	lookup_case(AF_INET6, AF_INET);
}

static struct sonde_conn_info packet_conn(const struct pair *p)
{
	return (struct sonde_conn_info){ .client = p->client,
					 .server = p->server,
					 .l4 = SONDE_L4_TCP,
					 .origin = SONDE_ORIGIN_AF_PACKET,
					 .source = "lo" };
}

static void ends_found(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	char why[256];
	struct sonde_packet_ends_opts o = { 0 };
	struct sonde_packet_ends *pe = sonde_packet_ends_new(&o, &st, why, sizeof(why));
	assert_non_null(pe);
	struct pair p[3];
	for (int i = 0; i < 3; i++)
		connect_pair(&p[i], AF_INET, AF_INET);
	uint32_t me = (uint32_t)getpid();
	/* the first search sees every socket; the next two are known */
	for (int i = 0; i < 3; i++) {
		struct sonde_conn_info c = packet_conn(&p[i]);
		assert_true(sonde_packet_ends_wanted(&c));
		struct sonde_packet_found f;
		sonde_packet_ends_find(pe, &c, &f);
		assert_int_equal(f.pid[0], me);
		assert_int_equal(f.pid[1], me);
		assert_true(f.socket[0] && f.socket[1]);
	}
	/* a connection made after the search, within its interval: found
	 * through the listener's holder and the recent owners */
	struct pair q;
	connect_pair(&q, AF_INET, AF_INET);
	struct sonde_conn_info c = packet_conn(&q);
	struct sonde_packet_found f;
	sonde_packet_ends_find(pe, &c, &f);
	assert_int_equal(f.pid[0], me);
	assert_int_equal(f.pid[1], me);
	/* a 4-tuple no local socket has: a counted miss */
	c.client.port ^= 1;
	c.server.port ^= 1;
	sonde_packet_ends_find(pe, &c, &f);
	assert_int_equal(f.pid[0] | f.pid[1], 0);
	assert_int_equal(st.enrich_packet_lookups, 5);
	assert_int_equal(st.enrich_packet_misses, 1);
	assert_int_equal(st.enrich_packet_owner_misses, 0);
	/* eBPF records carry their process: not this path's */
	c.proc.pid = me;
	assert_false(sonde_packet_ends_wanted(&c));
	for (int i = 0; i < 3; i++)
		close_pair(&p[i]);
	close_pair(&q);
	sonde_packet_ends_free(pe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lookup_v4),
		cmocka_unit_test(lookup_v6),
		cmocka_unit_test(lookup_dual_stack),
		cmocka_unit_test(ends_found),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
