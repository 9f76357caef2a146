/* SPDX-License-Identifier: MIT */
/*
 * The AF_XDP source: an XSK socket (libxdp) in copy mode, fed by XDP. XDP
 * redirects take packets away from the kernel stack, so sonde never
 * redirects the captured interface's own packets. Instead:
 *
 *   IFACE ──TC (TCX link, ingress and egress): clone ──► sdxN.a ═veth═ sdxN.b
 *     │ original goes on untouched (TC_ACT_UNSPEC)          │ XDP: every clone
 *     ▼                                                     ▼ to the XSK socket
 *
 * The veth pair is sonde's: its peer lives in a network namespace sonde
 * made and holds only by descriptors (no name), so when sonde ends —
 * however, SIGKILL included — the namespace dies, the peer with it and the
 * veth pair with the peer; the TCX links go with the process too. Nothing
 * is left behind. veth has no zero-copy: the socket binds in copy mode.
 * Clones are segmented on the veth (TSO and GSO off) so each fits a 4 KiB
 * frame; a larger one (jumbo MTU) is lost in the kernel and counted as a
 * kernel drop. --queue N mirrors only queue N's packets. TCX needs 6.6+.
 *
 * Needs CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW (the socket) and CAP_SYS_ADMIN
 * (the namespace).
 */
#include "source/packet/live.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include "core/buf.h"
#include "source/file/file_source.h"
#include "source/packet/packet.h"
#include "source/packet/veth.h"
#include "af_xdp.skel.h"

#define FRAMES 4096
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
#define TCX_INGRESS 46 /* enum bpf_attach_type, newer than Debian 12's libbpf */
#define TCX_EGRESS 47

struct xdp_source {
	struct sonde_source_env env;
	struct sonde_af_xdp *skel;
	int link_fd[2]; /* TCX mirror links on IFACE */
	int priv_ns; /* sonde's own namespace, holding the veth's peer */
	char mirror[IFNAMSIZ], peer[IFNAMSIZ];
	void *umem_area;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp, rx;
	struct sonde_packet_filter *filter;
	int64_t mono_to_real_ns;
	uint64_t drops_seen;
	char error[256];
};

static void xdp_close(void *state);

/* Run fn in namespace ns_fd and come back. */
static int in_netns(int ns_fd, int (*fn)(struct xdp_source *, char *, size_t), struct xdp_source *s,
		    char *err, size_t errlen)
{
	int saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0 || setns(ns_fd, CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "entering sonde's namespace: %s", strerror(errno));
		if (saved >= 0)
			close(saved);
		return -1;
	}
	int rc = fn(s, err, errlen);
	if (setns(saved, CLONE_NEWNET) < 0 && rc == 0) {
		snprintf(err, errlen, "coming back from sonde's namespace: %s", strerror(errno));
		rc = -1;
	}
	close(saved);
	return rc;
}

/* A namespace of sonde's own, held by a descriptor alone. */
static int private_netns(char *err, size_t errlen)
{
	int saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0 || unshare(CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "a network namespace for the mirror: %s", strerror(errno));
		if (saved >= 0)
			close(saved);
		return -1;
	}
	int priv = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (setns(saved, CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "coming back from the new namespace: %s", strerror(errno));
		if (priv >= 0)
			close(priv);
		priv = -1;
	}
	close(saved);
	return priv;
}

/* In the private namespace: the peer up, XDP on it, the socket bound. */
static int bind_socket(struct xdp_source *s, char *err, size_t errlen)
{
	int rc = sonde_link_up(s->peer);
	unsigned idx = if_nametoindex(s->peer);
	if (rc < 0 || !idx) {
		snprintf(err, errlen, "bringing %s up: %s", s->peer,
			 strerror(rc < 0 ? -rc : errno));
		return -1;
	}
	rc = bpf_xdp_attach((int)idx, bpf_program__fd(s->skel->progs.sonde_xdp_rx),
			    XDP_FLAGS_DRV_MODE, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "attaching XDP to %s: %s", s->peer, strerror(-rc));
		return -1;
	}
	if (posix_memalign(&s->umem_area, (size_t)getpagesize(), (size_t)FRAMES * FRAME_SIZE)) {
		snprintf(err, errlen, "out of memory for the XSK frames");
		return -1;
	}
	rc = xsk_umem__create(&s->umem, s->umem_area, (uint64_t)FRAMES * FRAME_SIZE, &s->fill,
			      &s->comp, NULL);
	struct xsk_socket_config cfg = {
		.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = XDP_FLAGS_DRV_MODE,
		.bind_flags = XDP_COPY, /* veth has no zero-copy */
	};
	if (!rc)
		rc = xsk_socket__create(&s->xsk, s->peer, 0, s->umem, &s->rx, NULL, &cfg);
	if (rc) {
		snprintf(err, errlen, "XSK socket on %s: %s", s->peer, strerror(-rc));
		return -1;
	}
	uint32_t key = 0, fd = (uint32_t)xsk_socket__fd(s->xsk);
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.xsks), &key, &fd, 0) < 0) {
		snprintf(err, errlen, "XSK map: %s", strerror(errno));
		return -1;
	}
	uint32_t at;
	uint32_t n = xsk_ring_prod__reserve(&s->fill, FRAMES / 2, &at);
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&s->fill, at + i) = (uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&s->fill, n);
	return 0;
}

/* In the captured namespace: the mirror and the TC programs on IFACE. */
static int mirror(struct xdp_source *s, const struct sonde_packet_opts *o, char *err, size_t errlen)
{
	const char *iface = o->ifaces[0];
	unsigned idx = if_nametoindex(iface);
	if (!idx) {
		snprintf(err, errlen, "no interface %s", iface);
		return -1;
	}
	int rc = sonde_veth_create(s->mirror, s->peer, s->priv_ns);
	if (rc == 0)
		rc = sonde_link_up(s->mirror);
	unsigned midx = if_nametoindex(s->mirror);
	if (rc < 0 || !midx) {
		snprintf(err, errlen, "making the mirror veth %s: %s", s->mirror,
			 strerror(rc < 0 ? -rc : errno));
		return -1;
	}
	s->skel->rodata->mirror_ifindex = midx;
	s->skel->rodata->queue = o->queue;
	if ((rc = sonde_af_xdp__load(s->skel)) < 0) {
		snprintf(err, errlen, "loading the AF_XDP programs failed: %s", strerror(-rc));
		return -1;
	}
	int prog = bpf_program__fd(s->skel->progs.sonde_xdp_mirror);
	int types[2] = { TCX_INGRESS, TCX_EGRESS };
	for (int d = 0; d < 2; d++) {
		s->link_fd[d] =
			bpf_link_create(prog, (int)idx, (enum bpf_attach_type)types[d], NULL);
		if (s->link_fd[d] < 0) {
			snprintf(err, errlen, "mirroring %s: %s (AF_XDP needs TCX links, 6.6+)",
				 iface, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void *xdp_open(const void *opts, const struct sonde_source_env *env, char *err,
		      size_t errlen)
{
	static const int caps[] = { CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW, CAP_SYS_ADMIN, -1 };
	const struct sonde_packet_opts *o = opts;
	if (sonde_packet_need_caps("af_xdp", caps, err, errlen) < 0)
		return NULL;
	if (o->nifaces != 1) {
		snprintf(err, errlen, "af_xdp captures one interface: give -i IFACE");
		return NULL;
	}
	struct xdp_source *s = sonde_xcalloc(1, sizeof(*s));
	s->env = *env;
	s->link_fd[0] = s->link_fd[1] = -1;
	snprintf(s->mirror, sizeof(s->mirror), "sdx%da", (int)getpid() % 1000000);
	snprintf(s->peer, sizeof(s->peer), "sdx%db", (int)getpid() % 1000000);
	struct timespec rt, mt;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	s->mono_to_real_ns = ((int64_t)rt.tv_sec - mt.tv_sec) * 1000000000ll +
			     ((int64_t)rt.tv_nsec - mt.tv_nsec);
	if (o->filter && !(s->filter = sonde_packet_filter_new(o->filter, 65535, err, errlen))) {
		xdp_close(s);
		return NULL;
	}
	s->priv_ns = private_netns(err, errlen);
	s->skel = s->priv_ns >= 0 ? sonde_af_xdp__open() : NULL;
	int saved = -1;
	if (!s->skel || sonde_netns_enter(o->netns, &saved, err, errlen) < 0) {
		if (s->priv_ns >= 0 && !s->skel)
			snprintf(err, errlen, "opening the AF_XDP programs: %s", strerror(errno));
		xdp_close(s);
		return NULL;
	}
	int rc = mirror(s, o, err, errlen);
	sonde_netns_leave(saved);
	if (rc < 0 || in_netns(s->priv_ns, bind_socket, s, err, errlen) < 0) {
		xdp_close(s);
		return NULL;
	}
	return s;
}

static int xdp_fd(void *state)
{
	return xsk_socket__fd(((struct xdp_source *)state)->xsk);
}

static void on_frame(struct xdp_source *s, const uint8_t *data, uint32_t len)
{
	struct timespec mt;
	clock_gettime(CLOCK_MONOTONIC, &mt);
	struct sonde_frame f = {
		.ts_ns = (uint64_t)mt.tv_sec * 1000000000ull + (uint64_t)mt.tv_nsec +
			 (uint64_t)s->mono_to_real_ns,
		.caplen = len,
		.wirelen = len,
		.linktype = SONDE_LINKTYPE_ETHERNET,
		.data = data,
	};
	if (s->filter && !sonde_packet_filter_match(s->filter, &f))
		return;
	sonde_frame_emit(&s->env.frames, &f, SONDE_ORIGIN_AF_XDP);
	struct sonde_chunk c;
	if (!sonde_frame_chunk(&f, s->env.stats, &c))
		return;
	c.origin = SONDE_ORIGIN_AF_XDP;
	sonde_chunk_emit(&s->env.out, &c);
}

static int xdp_poll(void *state, int timeout_ms)
{
	struct xdp_source *s = state;
	if (timeout_ms > 0) {
		struct pollfd p = { .fd = xsk_socket__fd(s->xsk), .events = POLLIN };
		if (poll(&p, 1, timeout_ms) < 0)
			return errno == EINTR ? 0 : -errno;
	}
	uint32_t at, n = xsk_ring_cons__peek(&s->rx, 256, &at);
	uint32_t fill_at;
	/* Each frame read goes back to the fill ring at once: 1:1. */
	uint32_t m = n ? xsk_ring_prod__reserve(&s->fill, n, &fill_at) : 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&s->rx, at + i);
		uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);
		if (addr + d->len <= (uint64_t)FRAMES * FRAME_SIZE)
			on_frame(s, (const uint8_t *)s->umem_area + addr, d->len);
		if (i < m)
			*xsk_ring_prod__fill_addr(&s->fill, fill_at + i) =
				xsk_umem__extract_addr(d->addr);
	}
	if (m)
		xsk_ring_prod__submit(&s->fill, m);
	if (n)
		xsk_ring_cons__release(&s->rx, n);
	return (int)n;
}

static void xdp_stats(void *state)
{
	struct xdp_source *s = state;
	struct xdp_statistics st;
	socklen_t len = sizeof(st);
	if (!s->xsk || getsockopt(xsk_socket__fd(s->xsk), SOL_XDP, XDP_STATISTICS, &st, &len))
		return;
	uint64_t drops = st.rx_dropped + st.rx_ring_full + st.rx_fill_ring_empty_descs;
	if (drops > s->drops_seen) {
		s->env.stats->packet_kernel_drops += drops - s->drops_seen;
		s->drops_seen = drops;
	}
}

static const char *xdp_error(void *state)
{
	struct xdp_source *s = state;
	return s->error[0] ? s->error : NULL;
}

static void xdp_close(void *state)
{
	struct xdp_source *s = state;
	for (int d = 0; d < 2; d++)
		if (s->link_fd[d] >= 0)
			close(s->link_fd[d]);
	if (s->xsk)
		xsk_socket__delete(s->xsk);
	if (s->umem)
		xsk_umem__delete(s->umem);
	free(s->umem_area);
	sonde_af_xdp__destroy(s->skel);
	/* The peer's namespace dies with its last descriptor, the pair with it. */
	if (s->priv_ns >= 0)
		close(s->priv_ns);
	sonde_packet_filter_free(s->filter);
	free(s);
}

const struct sonde_source_ops sonde_source_af_xdp = {
	.name = "af_xdp",
	.live = true,
	.open = xdp_open,
	.fd = xdp_fd,
	.poll = xdp_poll,
	.stats = xdp_stats,
	.error = xdp_error,
	.close = xdp_close,
};
