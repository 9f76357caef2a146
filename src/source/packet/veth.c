/* SPDX-License-Identifier: MIT */
#include "source/packet/veth.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* A request being built: header, then attributes, nested by hand. */
struct nl_req {
	uint8_t buf[1024];
	size_t len;
};

static struct rtattr *attr_put(struct nl_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(r->buf + r->len);
	size_t need = RTA_SPACE(len);
	if (r->len + need > sizeof(r->buf))
		return NULL;
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	r->len += need;
	return a;
}

static void nest_end(struct nl_req *r, struct rtattr *a)
{
	if (a)
		a->rta_len = (unsigned short)(r->buf + r->len - (uint8_t *)a);
}

static void *put_raw(struct nl_req *r, const void *data, size_t len)
{
	void *p = r->buf + r->len;
	memcpy(p, data, len);
	r->len += NLMSG_ALIGN(len);
	return p;
}

/* Send r (an nlmsghdr + ifinfomsg + attributes) and read the kernel's ack. */
static int nl_talk(struct nl_req *r)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct nlmsghdr *h = (struct nlmsghdr *)r->buf;
	h->nlmsg_len = (uint32_t)r->len;
	int rc = send(fd, r->buf, r->len, 0) < 0 ? -errno : 0;
	uint8_t ack[1024];
	ssize_t n = rc ? 0 : recv(fd, ack, sizeof(ack), 0);
	if (!rc && n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		rc = n < 0 ? -errno : -EPROTO;
	else if (!rc) {
		const struct nlmsghdr *a = (const struct nlmsghdr *)ack;
		if (a->nlmsg_type == NLMSG_ERROR)
			rc = ((const struct nlmsgerr *)NLMSG_DATA(a))->error;
	}
	close(fd);
	return rc;
}

static void start(struct nl_req *r, uint16_t type, uint16_t flags, const struct ifinfomsg *ifi)
{
	memset(r, 0, sizeof(*r));
	struct nlmsghdr h = { .nlmsg_type = type,
			      .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags };
	put_raw(r, &h, sizeof(h));
	put_raw(r, ifi, sizeof(*ifi));
}

int sonde_veth_create(const char *name, const char *peer, int peer_ns_fd)
{
	struct nl_req r;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi);
	attr_put(&r, IFLA_IFNAME, name, strlen(name) + 1);
	struct rtattr *info = attr_put(&r, IFLA_LINKINFO, NULL, 0);
	attr_put(&r, IFLA_INFO_KIND, "veth", 5);
	struct rtattr *data = attr_put(&r, IFLA_INFO_DATA, NULL, 0);
	struct rtattr *p = attr_put(&r, VETH_INFO_PEER, NULL, 0);
	if (!p || r.len + NLMSG_ALIGN(sizeof(ifi)) > sizeof(r.buf))
		return -ENOSPC;
	put_raw(&r, &ifi, sizeof(ifi));
	attr_put(&r, IFLA_IFNAME, peer, strlen(peer) + 1);
	uint32_t ns = (uint32_t)peer_ns_fd;
	if (!attr_put(&r, IFLA_NET_NS_FD, &ns, sizeof(ns)))
		return -ENOSPC;
	nest_end(&r, p);
	nest_end(&r, data);
	nest_end(&r, info);
	return nl_talk(&r);
}

/* Turn an ethtool boolean feature off (legacy ioctls: enough for veth). */
static void feature_off(int sock, const char *name, uint32_t cmd)
{
	struct ethtool_value v = { .cmd = cmd, .data = 0 };
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ifr.ifr_data = (void *)&v;
	ioctl(sock, SIOCETHTOOL, &ifr); /* best effort: GRO'd clones may then be cut */
}

int sonde_link_up(const char *name)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	feature_off(sock, name, ETHTOOL_STSO);
	feature_off(sock, name, ETHTOOL_SGSO);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	int rc = ioctl(sock, SIOCGIFFLAGS, &ifr) < 0 ? -errno : 0;
	ifr.ifr_flags |= IFF_UP;
	if (!rc && ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	close(sock);
	return rc;
}

int sonde_link_delete(const char *name)
{
	struct nl_req r;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	start(&r, RTM_DELLINK, 0, &ifi);
	attr_put(&r, IFLA_IFNAME, name, strlen(name) + 1);
	return nl_talk(&r);
}
