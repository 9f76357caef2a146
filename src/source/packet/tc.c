/* SPDX-License-Identifier: MIT */
/*
 * The TC source: eBPF classifiers on the ingress and egress of chosen
 * interfaces (bpf/tc.bpf.c) copy each packet's first bytes into a ring
 * buffer; frames go to packet decoding like AF_PACKET's. It sees what a
 * packet socket sees, from the kernel's traffic-control hooks, and passes
 * every packet on untouched.
 *
 * Attaching: a TCX link where the kernel has them (6.6+), which the kernel
 * removes with the process whatever the way it ends; else a filter on the
 * interface's clsact qdisc (created if absent and then removed at close;
 * one that was there, another tool's, is left as it was; SONDE_TC_ATTACH=clsact
 * asks for this way where TCX exists). A clsact filter outlives a sonde
 * killed by SIGKILL: `tc filter del dev IF ingress|egress` removes it.
 * Loopback is hooked
 * on egress alone: its ingress sees the same packets again. In another
 * namespace (--netns) the interfaces and netlink are that namespace's.
 *
 * --filter runs in user space (libpcap's compiled program on each frame):
 * the programs copy every packet. Ring buffer losses are counted as kernel
 * drops.
 */
#include "source/packet/live.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/types.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "source/file/file_source.h"
#include "source/packet/packet.h"
#include "sonde_events.h"
#include "tc.skel.h"

#define DEFAULT_RING (32u << 20)
#define MAX_HOOKS 64 /* interfaces of "any" */
#define TCX_INGRESS 46 /* enum bpf_attach_type, newer than Debian 12's libbpf */
#define TCX_EGRESS 47

struct tc_hook {
	int ifindex;
	uint32_t linktype;
	bool loopback;
	int link_fd[2]; /* TCX links, ingress and egress; -1: none */
	bool qdisc_made; /* clsact created by sonde: destroyed at close */
	struct bpf_tc_opts tc[2]; /* clsact filters attached (handle != 0) */
};

struct tc_source {
	struct sonde_source_env env;
	struct sonde_tc *skel;
	struct ring_buffer *rb;
	struct tc_hook hook[MAX_HOOKS];
	size_t nhooks;
	int netns_fd; /* the namespace the hooks are in, for closing; -1: ours */
	struct sonde_packet_filter *filter; /* --filter, run here; NULL: none */
	struct sonde_packet_dedup *dedup;
	bool dedup_owned; /* else --all-netns's shared table */
	uint32_t dedup_tag;
	int64_t mono_to_real_ns;
	uint64_t drops_seen;
	char error[256];
};

/* ---------------------------------------------------------- attaching --- */

static uint32_t iface_linktype(int sock, const char *name, bool *loopback)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(sock, SIOCGIFHWADDR, &ifr) < 0)
		return SONDE_LINKTYPE_NONE;
	*loopback = ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK;
	return sonde_linktype_of_arphrd(ifr.ifr_hwaddr.sa_family);
}

static int attach_tcx(struct tc_source *s, struct tc_hook *h)
{
	int progs[2] = { bpf_program__fd(s->skel->progs.sonde_tc_in),
			 bpf_program__fd(s->skel->progs.sonde_tc_out) };
	int types[2] = { TCX_INGRESS, TCX_EGRESS };
	for (int d = h->loopback ? 1 : 0; d < 2; d++) {
		h->link_fd[d] =
			bpf_link_create(progs[d], h->ifindex, (enum bpf_attach_type)types[d], NULL);
		if (h->link_fd[d] < 0)
			return -errno;
	}
	return 0;
}

static int attach_clsact(struct tc_source *s, struct tc_hook *h)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int rc = bpf_tc_hook_create(&hook);
	if (rc && rc != -EEXIST)
		return rc;
	h->qdisc_made = rc == 0;
	int progs[2] = { bpf_program__fd(s->skel->progs.sonde_tc_in),
			 bpf_program__fd(s->skel->progs.sonde_tc_out) };
	enum bpf_tc_attach_point points[2] = { BPF_TC_INGRESS, BPF_TC_EGRESS };
	for (int d = h->loopback ? 1 : 0; d < 2; d++) {
		hook.attach_point = points[d];
		LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = progs[d]);
		if ((rc = bpf_tc_attach(&hook, &o)) < 0)
			return rc;
		h->tc[d] = o;
	}
	return 0;
}

static void detach(struct tc_hook *h)
{
	enum bpf_tc_attach_point points[2] = { BPF_TC_INGRESS, BPF_TC_EGRESS };
	for (int d = 0; d < 2; d++) {
		if (h->link_fd[d] >= 0)
			close(h->link_fd[d]);
		h->link_fd[d] = -1;
		if (!h->tc[d].handle)
			continue;
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex, .attach_point = points[d]);
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = h->tc[d].handle,
			    .priority = h->tc[d].priority);
		bpf_tc_detach(&hook, &o);
		h->tc[d].handle = 0;
	}
	if (h->qdisc_made) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
		bpf_tc_hook_destroy(&hook);
		h->qdisc_made = false;
	}
}

/* Hook interface `name` (an explicit -i when strict: a type sonde cannot
 * decode is an error; for "any" it is passed over). */
static int hook_iface(struct tc_source *s, int sock, const char *name, bool strict, char *err,
		      size_t errlen)
{
	unsigned idx = if_nametoindex(name);
	if (!idx) {
		snprintf(err, errlen, "no interface %s", name);
		return -1;
	}
	bool loopback = false;
	uint32_t lt = iface_linktype(sock, name, &loopback);
	if (lt == SONDE_LINKTYPE_NONE) {
		if (strict)
			snprintf(err, errlen, "interface %s: a link type sonde does not decode",
				 name);
		return strict ? -1 : 0;
	}
	if (s->nhooks == MAX_HOOKS)
		return 0;
	struct tc_hook *h = &s->hook[s->nhooks++];
	*h = (struct tc_hook){
		.ifindex = (int)idx, .linktype = lt, .loopback = loopback, .link_fd = { -1, -1 }
	};
	/* SONDE_TC_ATTACH=clsact: the older way even where TCX exists (tests,
	 * or a node whose other tools expect filters). */
	const char *how = getenv("SONDE_TC_ATTACH");
	int rc = how && !strcmp(how, "clsact") ? -EOPNOTSUPP : attach_tcx(s, h);
	if (rc < 0) {
		detach(h);
		rc = attach_clsact(s, h);
	}
	if (rc < 0) {
		detach(h);
		s->nhooks--;
		snprintf(err, errlen, "attaching to %s: %s%s", name, strerror(-rc),
			 rc == -EPERM ? " (needs CAP_NET_ADMIN and CAP_BPF)" : "");
		return -1;
	}
	return 0;
}

static int hook_all(struct tc_source *s, const struct sonde_packet_opts *o, char *err,
		    size_t errlen)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int rc = 0;
	if (o->nifaces) {
		for (size_t i = 0; i < o->nifaces && rc == 0; i++)
			rc = hook_iface(s, sock, o->ifaces[i], true, err, errlen);
	} else {
		struct if_nameindex *all = if_nameindex();
		for (struct if_nameindex *i = all; i && i->if_index && rc == 0; i++)
			rc = hook_iface(s, sock, i->if_name, false, err, errlen);
		if_freenameindex(all);
		if (rc == 0 && !s->nhooks) {
			snprintf(err, errlen, "no interface to capture");
			rc = -1;
		}
	}
	close(sock);
	return rc;
}

/* ------------------------------------------------------------ packets --- */

static int on_event(void *ctx, void *data, size_t size)
{
	struct tc_source *s = ctx;
	const struct sonde_tc_event *ev = data;
	if (size < sizeof(*ev) || sizeof(*ev) + ev->cap > size || ev->cap > ev->len)
		return 0;
	uint32_t linktype = SONDE_LINKTYPE_NONE;
	for (size_t i = 0; i < s->nhooks; i++)
		if (s->hook[i].ifindex == (int)ev->ifindex)
			linktype = s->hook[i].linktype;
	if (linktype == SONDE_LINKTYPE_NONE)
		return 0;
	struct sonde_frame f = {
		.ts_ns = ev->ts_ns + (uint64_t)s->mono_to_real_ns,
		.caplen = ev->cap,
		.wirelen = ev->len,
		.linktype = linktype,
		.data = (const uint8_t *)(ev + 1),
	};
	if (s->filter && !sonde_packet_filter_match(s->filter, &f))
		return 0;
	if (s->dedup &&
	    sonde_packet_dedup_seen(s->dedup, &f, (int)(ev->ifindex ^ (s->dedup_tag << 20)))) {
		s->env.stats->packet_duplicates++;
		return 0;
	}
	sonde_frame_emit(&s->env.frames, &f, SONDE_ORIGIN_TC);
	struct sonde_chunk c;
	if (!sonde_frame_chunk(&f, s->env.stats, &c))
		return 0;
	c.origin = SONDE_ORIGIN_TC;
	sonde_chunk_emit(&s->env.out, &c);
	return 0;
}

/* ---------------------------------------------------------- lifecycle --- */

static void tc_close(void *state);

static int load(struct tc_source *s, const struct sonde_packet_opts *o, uint32_t snaplen, char *err,
		size_t errlen)
{
	s->skel = sonde_tc__open();
	if (!s->skel) {
		snprintf(err, errlen, "opening the TC programs failed: %s", strerror(errno));
		return -1;
	}
	s->skel->rodata->snaplen = snaplen;
	int ncpu = libbpf_num_possible_cpus();
	bpf_map__set_max_entries(s->skel->maps.tc_scratch_map, ncpu > 0 ? (uint32_t)ncpu : 1);
	if (o->ring_size)
		bpf_map__set_max_entries(s->skel->maps.packets,
					 sonde_packet_ring_bytes(o->ring_size));
	int rc = sonde_tc__load(s->skel);
	if (rc) {
		snprintf(err, errlen, "loading the TC programs failed: %s%s", strerror(-rc),
			 rc == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN: run as root)" : "");
		return -1;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.packets), on_event, s, NULL);
	if (!s->rb) {
		snprintf(err, errlen, "ring buffer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void *tc_open(const void *opts, const struct sonde_source_env *env, char *err, size_t errlen)
{
	static const int caps[] = { CAP_BPF, CAP_NET_ADMIN, -1 };
	static const int caps_netns[] = { CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN, -1 };
	if (sonde_packet_need_caps(
		    "tc", ((const struct sonde_packet_opts *)opts)->netns ? caps_netns : caps, err,
		    errlen) < 0)
		return NULL;
	const struct sonde_packet_opts *o = opts;
	struct tc_source *s = sonde_xcalloc(1, sizeof(*s));
	s->env = *env;
	s->netns_fd = -1;
	uint32_t snaplen =
		o->snaplen && o->snaplen < SONDE_TC_SNAP_MAX ? o->snaplen : SONDE_TC_SNAP_MAX;
	struct timespec rt, mt;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	s->mono_to_real_ns = ((int64_t)rt.tv_sec - mt.tv_sec) * 1000000000ll +
			     ((int64_t)rt.tv_nsec - mt.tv_nsec);
	if ((o->filter &&
	     !(s->filter = sonde_packet_filter_new(o->filter, snaplen, err, errlen))) ||
	    load(s, o, snaplen, err, errlen) < 0) {
		tc_close(s);
		return NULL;
	}
	int saved;
	if (sonde_netns_enter(o->netns, &saved, err, errlen) < 0) {
		tc_close(s);
		return NULL;
	}
	if (saved >= 0)
		s->netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int rc = hook_all(s, o, err, errlen);
	sonde_netns_leave(saved);
	if (rc < 0) {
		tc_close(s);
		return NULL;
	}
	s->dedup_tag = o->dedup_tag;
	if (o->dedup)
		s->dedup = o->dedup;
	else if (s->nhooks > 1)
		s->dedup_owned = (s->dedup = sonde_packet_dedup_new()) != NULL;
	return s;
}

static int tc_fd(void *state)
{
	return ring_buffer__epoll_fd(((struct tc_source *)state)->rb);
}

static int tc_poll(void *state, int timeout_ms)
{
	struct tc_source *s = state;
	int n = ring_buffer__poll(s->rb, timeout_ms);
	if (n == -EINTR)
		return 0;
	if (n < 0)
		snprintf(s->error, sizeof(s->error), "TC ring buffer: %s", strerror(-n));
	return n;
}

static void tc_stats(void *state)
{
	struct tc_source *s = state;
	sonde_packet_percpu_drops(bpf_map__fd(s->skel->maps.tc_counters), SONDE_TC_CNT_DROPS,
				  &s->drops_seen, s->env.stats);
}

static const char *tc_error(void *state)
{
	struct tc_source *s = state;
	return s->error[0] ? s->error : NULL;
}

static void tc_close(void *state)
{
	struct tc_source *s = state;
	int saved = -1;
	if (s->netns_fd >= 0) {
		saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (saved >= 0 && setns(s->netns_fd, CLONE_NEWNET) < 0) {
			close(saved);
			saved = -1;
		}
	}
	for (size_t i = 0; i < s->nhooks; i++)
		detach(&s->hook[i]);
	sonde_netns_leave(saved);
	if (s->netns_fd >= 0)
		close(s->netns_fd);
	ring_buffer__free(s->rb);
	sonde_tc__destroy(s->skel);
	sonde_packet_filter_free(s->filter);
	if (s->dedup_owned)
		sonde_packet_dedup_free(s->dedup);
	free(s);
}

const struct sonde_source_ops sonde_source_tc = {
	.name = "tc",
	.live = true,
	.open = tc_open,
	.fd = tc_fd,
	.poll = tc_poll,
	.stats = tc_stats,
	.error = tc_error,
	.close = tc_close,
};
