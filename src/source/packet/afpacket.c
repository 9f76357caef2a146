/* SPDX-License-Identifier: MIT */
/*
 * The AF_PACKET source: one TPACKET_V3 memory-mapped ring per interface (or
 * one for every interface, "any"), read block by block without a copy or a
 * system call per packet. Blocks are many and small enough to be handed
 * over often (a block retires after RETIRE_MS even when not full), so a
 * slow moment of sonde's loses nothing while the ring has room; what the
 * kernel still drops is read from PACKET_STATISTICS and counted.
 */
#include "source/packet/live.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <net/if_arp.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "source/file/file_source.h"
#include "source/packet/packet.h"

#define DEFAULT_RING (32u << 20) /* per interface */
#define BLOCK_SIZE (1u << 20) /* holds a 64 KiB GSO packet many times over */
#define FRAME_SIZE 2048 /* TPACKET_V3 only checks it divides the block */
#define RETIRE_MS 50 /* a block goes to sonde at least this often */
#define MAX_SNAPLEN 262144

struct ring {
	int fd;
	uint8_t *map;
	size_t map_len;
	unsigned nblocks, cur;
	int ifindex; /* 0: any */
};

struct afpacket {
	struct sonde_source_env env;
	struct ring rings[SONDE_PACKET_IFACES_MAX];
	size_t nrings;
	int epfd;
	uint32_t snaplen;
	struct sonde_packet_dedup *dedup; /* several interfaces: a packet may pass two */
	bool dedup_owned; /* else --all-netns's shared table */
	uint32_t dedup_tag;
};

static int ring_attach_filter(struct ring *r, const struct sonde_packet_opts *o, uint32_t snaplen,
			      char *err, size_t errlen)
{
	struct bpf_program prog = { 0 };
	struct sock_filter keep_snaplen = BPF_STMT(BPF_RET | BPF_K, snaplen);
	struct sock_fprog fp = { .len = 1, .filter = &keep_snaplen };
	if (o->filter) {
		/* Compiled for Ethernet framing: every interface with a MAC
		 * header (veth, bridges, NICs, and lo, whose header is zeros). */
		if (sonde_packet_compile(o->filter, DLT_EN10MB, snaplen, &prog, err, errlen) < 0)
			return -1;
		fp.len = (unsigned short)prog.bf_len;
		fp.filter = (struct sock_filter *)prog.bf_insns;
	} else if (snaplen >= MAX_SNAPLEN) {
		return 0;
	}
	int rc = setsockopt(r->fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp));
	int e = errno;
	pcap_freecode(&prog);
	if (rc < 0) {
		snprintf(err, errlen, "attaching the packet filter: %s", strerror(e));
		return -1;
	}
	return 0;
}

/* A socket for one interface (NULL: any), with its ring mapped. */
static int ring_open(struct ring *r, const char *iface, const struct sonde_packet_opts *o,
		     uint32_t snaplen, char *err, size_t errlen)
{
	r->fd = -1;
	if (iface && strcmp(iface, "any")) {
		r->ifindex = (int)if_nametoindex(iface);
		if (!r->ifindex) {
			snprintf(err, errlen, "no interface %s%s%s", iface, o->netns ? " in " : "",
				 o->netns ? o->netns : "");
			return -1;
		}
	}
	/* Protocol 0 until bound: no packet queues before the ring exists. */
	r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		int e = errno;
		snprintf(err, errlen, "AF_PACKET socket: %s%s", strerror(e),
			 e == EPERM ? " (needs CAP_NET_RAW: run as root)" : "");
		return -1;
	}
	int v = TPACKET_V3;
	size_t ring = o->ring_size ? o->ring_size : DEFAULT_RING;
	struct tpacket_req3 req = {
		.tp_block_size = BLOCK_SIZE,
		.tp_block_nr = (unsigned)(ring / BLOCK_SIZE ? ring / BLOCK_SIZE : 1),
		.tp_frame_size = FRAME_SIZE,
		.tp_retire_blk_tov = RETIRE_MS,
	};
	req.tp_frame_nr = req.tp_block_nr * (BLOCK_SIZE / FRAME_SIZE);
	if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
	    ring_attach_filter(r, o, snaplen, err, errlen) < 0 ||
	    setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		if (!*err)
			snprintf(err, errlen, "AF_PACKET ring of %zu bytes: %s", ring,
				 strerror(errno));
		return -1;
	}
	r->nblocks = req.tp_block_nr;
	r->map_len = (size_t)req.tp_block_nr * BLOCK_SIZE;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, r->fd, 0);
	if (r->map == MAP_FAILED) /* MAP_LOCKED can fail on a low memlock limit */
		r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		snprintf(err, errlen, "mapping the AF_PACKET ring: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = r->ifindex };
	if (bind(r->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(err, errlen, "binding to %s: %s", iface ? iface : "any", strerror(errno));
		return -1;
	}
	return 0;
}

static void ring_close(struct ring *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	r->map = NULL;
	r->fd = -1;
}

static void on_packet(struct afpacket *s, const struct tpacket3_hdr *ph)
{
	const struct sockaddr_ll *sll =
		(const void *)((const uint8_t *)ph + TPACKET_ALIGN(sizeof(struct tpacket3_hdr)));
	/* Loopback shows every packet twice, leaving and arriving: keep one. */
	if (sll->sll_hatype == ARPHRD_LOOPBACK && sll->sll_pkttype == PACKET_OUTGOING)
		return;
	struct sonde_frame f = {
		.ts_ns = (uint64_t)ph->tp_sec * 1000000000ull + ph->tp_nsec,
		.caplen = ph->tp_snaplen,
		.wirelen = ph->tp_len,
		.linktype = sonde_linktype_of_arphrd(sll->sll_hatype),
		.data = (const uint8_t *)ph + ph->tp_mac,
	};
	if (s->dedup &&
	    sonde_packet_dedup_seen(s->dedup, &f, sll->sll_ifindex ^ (int)(s->dedup_tag << 20))) {
		s->env.stats->packet_duplicates++;
		return;
	}
	sonde_frame_emit(&s->env.frames, &f, SONDE_ORIGIN_AF_PACKET);
	struct sonde_chunk c;
	if (!sonde_frame_chunk(&f, s->env.stats, &c))
		return;
	c.origin = SONDE_ORIGIN_AF_PACKET;
	/* The kernel dropped packets before this one: holes before it may
	 * never fill. */
	if (ph->tp_status & TP_STATUS_LOSING)
		c.flags |= SONDE_CF_LOSS_BEFORE;
	sonde_chunk_emit(&s->env.out, &c);
}

/* Every block the kernel has handed over. Returns packets handled. */
static int ring_drain(struct afpacket *s, struct ring *r)
{
	int n = 0;
	for (;;) {
		struct tpacket_block_desc *bd = (void *)(r->map + (size_t)r->cur * BLOCK_SIZE);
		if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
		      TP_STATUS_USER))
			return n;
		const uint8_t *p = (const uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
		for (uint32_t i = 0; i < bd->hdr.bh1.num_pkts; i++) {
			const struct tpacket3_hdr *ph = (const void *)p;
			on_packet(s, ph);
			p += ph->tp_next_offset;
		}
		n += (int)bd->hdr.bh1.num_pkts;
		__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		r->cur = (r->cur + 1) % r->nblocks;
	}
}

static void afp_close(void *state);

static void *afp_open(const void *opts, const struct sonde_source_env *env, char *err,
		      size_t errlen)
{
	static const int caps[] = { CAP_NET_RAW, -1 };
	static const int caps_netns[] = { CAP_NET_RAW, CAP_SYS_ADMIN, -1 };
	if (sonde_packet_need_caps("af_packet",
				   ((const struct sonde_packet_opts *)opts)->netns ? caps_netns
										   : caps,
				   err, errlen) < 0)
		return NULL;
	const struct sonde_packet_opts *o = opts;
	struct afpacket *s = sonde_xcalloc(1, sizeof(*s));
	s->env = *env;
	s->epfd = -1;
	s->snaplen = o->snaplen && o->snaplen < MAX_SNAPLEN ? o->snaplen : MAX_SNAPLEN;
	err[0] = 0;
	int saved;
	if (sonde_netns_enter(o->netns, &saved, err, errlen) < 0) {
		free(s);
		return NULL;
	}
	size_t n = o->nifaces ? o->nifaces : 1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		s->nrings++;
		rc = ring_open(&s->rings[i], o->nifaces ? o->ifaces[i] : NULL, o, s->snaplen, err,
			       errlen);
	}
	sonde_netns_leave(saved);
	s->dedup_tag = o->dedup_tag;
	if (o->dedup)
		s->dedup = o->dedup;
	else if (rc == 0 && (n > 1 || s->rings[0].ifindex == 0))
		s->dedup_owned = (s->dedup = sonde_packet_dedup_new()) != NULL;
	if (rc == 0 && (s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < s->nrings; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->rings[i].fd, &ev) < 0) {
			snprintf(err, errlen, "epoll: %s", strerror(errno));
			rc = -1;
		}
	}
	if (rc < 0) {
		afp_close(s);
		return NULL;
	}
	return s;
}

static int afp_fd(void *state)
{
	return ((struct afpacket *)state)->epfd;
}

static int afp_poll(void *state, int timeout_ms)
{
	struct afpacket *s = state;
	int n = 0;
	for (size_t i = 0; i < s->nrings; i++)
		n += ring_drain(s, &s->rings[i]);
	if (n || !timeout_ms)
		return n;
	struct epoll_event ev[SONDE_PACKET_IFACES_MAX];
	if (epoll_wait(s->epfd, ev, SONDE_PACKET_IFACES_MAX, timeout_ms) < 0)
		return -errno;
	for (size_t i = 0; i < s->nrings; i++)
		n += ring_drain(s, &s->rings[i]);
	return n;
}

/* Each read of PACKET_STATISTICS returns what was dropped since the last
 * and resets it: added up here. */
static void afp_stats(void *state)
{
	struct afpacket *s = state;
	for (size_t i = 0; i < s->nrings; i++) {
		struct tpacket_stats_v3 st;
		socklen_t len = sizeof(st);
		if (getsockopt(s->rings[i].fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
			s->env.stats->packet_kernel_drops += st.tp_drops;
	}
}

static void afp_close(void *state)
{
	struct afpacket *s = state;
	for (size_t i = 0; i < s->nrings; i++)
		ring_close(&s->rings[i]);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->dedup_owned)
		sonde_packet_dedup_free(s->dedup);
	free(s);
}

const struct sonde_source_ops sonde_source_af_packet = {
	.name = "af_packet",
	.live = true,
	.open = afp_open,
	.fd = afp_fd,
	.poll = afp_poll,
	.stats = afp_stats,
	.close = afp_close,
};
