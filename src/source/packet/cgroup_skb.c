/* SPDX-License-Identifier: MIT */
/*
 * The cgroup_skb source: eBPF programs on a cgroup v2's ingress and egress
 * (bpf/cgroup_skb.bpf.c) copy every packet the cgroup's sockets (and its
 * descendants') send and receive, from the IP header, with the socket's
 * cgroup id, into a ring buffer; frames go to packet decoding like the
 * TC source's, as raw IP. The programs allow every packet.
 *
 * It sees what local sockets see, in every network namespace, whatever the
 * interface; it misses traffic no local socket owns (forwarded, bridged)
 * and packets of sockets that are not full ones (SYN-ACKs sent for a
 * listener's request sockets, time-wait RSTs): the kernel does not run
 * cgroup programs for them. A packet between two sockets of the cgroup is
 * seen leaving and arriving: the second sighting is dropped and counted
 * (packet_duplicates). Attached through BPF links, which the kernel
 * removes with the process however it ends. Records say the socket's
 * cgroup (capture.cgroup_id).
 *
 * --filter runs in user space, like TC's. Needs CAP_BPF and CAP_NET_ADMIN.
 */
#include "source/packet/live.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "source/file/file_source.h"
#include "source/packet/packet.h"
#include "sonde_events.h"
#include "cgroup_skb.skel.h"

struct cgskb_source {
	struct sonde_source_env env;
	struct sonde_cgroup_skb *skel;
	struct ring_buffer *rb;
	struct bpf_link *link[2]; /* ingress, egress */
	struct sonde_packet_filter *filter; /* --filter, run here; NULL: none */
	/* Both ends in the cgroup: a packet is seen sent, then received. */
	struct sonde_packet_dedup *dedup;
	int64_t mono_to_real_ns;
	uint64_t drops_seen;
	struct sonde_process proc; /* the chunk's cgroup (pid 0: no process) */
	char error[256];
};

/* The cgroup v2 hierarchy's mount point (hybrid hosts: /sys/fs/cgroup/unified). */
static bool cgroup2_root(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	if (!f)
		return false;
	char line[1024], dev[256], dir[512], type[64];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %511s %63s", dev, dir, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			snprintf(out, len, "%s", dir);
			found = true;
		}
	fclose(f);
	return found;
}

/* ------------------------------------------------------------ packets --- */

static int on_event(void *ctx, void *data, size_t size)
{
	struct cgskb_source *s = ctx;
	const struct sonde_cgskb_event *ev = data;
	if (size < sizeof(*ev) || sizeof(*ev) + ev->cap > size || ev->cap > ev->len)
		return 0;
	struct sonde_frame f = {
		.ts_ns = ev->ts_ns + (uint64_t)s->mono_to_real_ns,
		.caplen = ev->cap,
		.wirelen = ev->len,
		.linktype = SONDE_LINKTYPE_RAW,
		.data = (const uint8_t *)(ev + 1),
	};
	if (s->filter && !sonde_packet_filter_match(s->filter, &f))
		return 0;
	if (s->dedup && sonde_packet_dedup_seen(s->dedup, &f, (int)(ev->ifindex << 1 | ev->dir))) {
		s->env.stats->packet_duplicates++;
		return 0;
	}
	sonde_frame_emit(&s->env.frames, &f, SONDE_ORIGIN_CGROUP_SKB);
	struct sonde_chunk c;
	if (!sonde_frame_chunk(&f, s->env.stats, &c))
		return 0;
	c.origin = SONDE_ORIGIN_CGROUP_SKB;
	s->proc.cgroup_id = ev->cgroup_id;
	c.proc = &s->proc;
	sonde_chunk_emit(&s->env.out, &c);
	return 0;
}

/* ---------------------------------------------------------- lifecycle --- */

static void cgskb_close(void *state);

static int load(struct cgskb_source *s, const struct sonde_packet_opts *o, char *err, size_t errlen)
{
	s->skel = sonde_cgroup_skb__open();
	if (!s->skel) {
		snprintf(err, errlen, "opening the cgroup_skb programs failed: %s",
			 strerror(errno));
		return -1;
	}
	uint32_t snaplen =
		o->snaplen && o->snaplen < SONDE_TC_SNAP_MAX ? o->snaplen : SONDE_TC_SNAP_MAX;
	s->skel->rodata->snaplen = snaplen;
	int ncpu = libbpf_num_possible_cpus();
	bpf_map__set_max_entries(s->skel->maps.cg_scratch_map, ncpu > 0 ? (uint32_t)ncpu : 1);
	if (o->ring_size)
		bpf_map__set_max_entries(s->skel->maps.packets,
					 sonde_packet_ring_bytes(o->ring_size));
	int rc = sonde_cgroup_skb__load(s->skel);
	if (rc) {
		snprintf(err, errlen, "loading the cgroup_skb programs failed: %s", strerror(-rc));
		return -1;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.packets), on_event, s, NULL);
	if (!s->rb) {
		snprintf(err, errlen, "ring buffer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int attach(struct cgskb_source *s, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cgroup %s: %s", path, strerror(errno));
		return -1;
	}
	struct bpf_program *progs[2] = { s->skel->progs.sonde_cg_in, s->skel->progs.sonde_cg_out };
	int rc = 0;
	for (int d = 0; d < 2 && rc == 0; d++) {
		s->link[d] = bpf_program__attach_cgroup(progs[d], fd);
		if (!s->link[d]) {
			rc = -errno;
			snprintf(err, errlen, "attaching to cgroup %s: %s%s", path, strerror(-rc),
				 rc == -EBADF || rc == -EINVAL ? " (is it a cgroup v2 directory?)"
							       : "");
		}
	}
	close(fd);
	return rc;
}

static void *cgskb_open(const void *opts, const struct sonde_source_env *env, char *err,
			size_t errlen)
{
	static const int caps[] = { CAP_BPF, CAP_NET_ADMIN, -1 };
	const struct sonde_packet_opts *o = opts;
	if (sonde_packet_need_caps("cgroup_skb", caps, err, errlen) < 0)
		return NULL;
	char root[512];
	const char *path = o->cgroup;
	if (!path) {
		if (!cgroup2_root(root, sizeof(root))) {
			snprintf(err, errlen,
				 "no cgroup v2 hierarchy is mounted (give --cgroup PATH)");
			return NULL;
		}
		path = root;
	}
	struct cgskb_source *s = sonde_xcalloc(1, sizeof(*s));
	s->env = *env;
	struct timespec rt, mt;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	s->mono_to_real_ns = ((int64_t)rt.tv_sec - mt.tv_sec) * 1000000000ll +
			     ((int64_t)rt.tv_nsec - mt.tv_nsec);
	uint32_t snaplen = o->snaplen ? o->snaplen : SONDE_TC_SNAP_MAX;
	if ((o->filter &&
	     !(s->filter = sonde_packet_filter_new(o->filter, snaplen, err, errlen))) ||
	    load(s, o, err, errlen) < 0 || attach(s, path, err, errlen) < 0) {
		cgskb_close(s);
		return NULL;
	}
	s->dedup = sonde_packet_dedup_new();
	return s;
}

static int cgskb_fd(void *state)
{
	return ring_buffer__epoll_fd(((struct cgskb_source *)state)->rb);
}

static int cgskb_poll(void *state, int timeout_ms)
{
	struct cgskb_source *s = state;
	int n = ring_buffer__poll(s->rb, timeout_ms);
	if (n == -EINTR)
		return 0;
	if (n < 0)
		snprintf(s->error, sizeof(s->error), "cgroup_skb ring buffer: %s", strerror(-n));
	return n;
}

static void cgskb_stats(void *state)
{
	struct cgskb_source *s = state;
	sonde_packet_percpu_drops(bpf_map__fd(s->skel->maps.cg_counters), SONDE_TC_CNT_DROPS,
				  &s->drops_seen, s->env.stats);
}

static const char *cgskb_error(void *state)
{
	struct cgskb_source *s = state;
	return s->error[0] ? s->error : NULL;
}

static void cgskb_close(void *state)
{
	struct cgskb_source *s = state;
	for (int d = 0; d < 2; d++)
		bpf_link__destroy(s->link[d]);
	ring_buffer__free(s->rb);
	sonde_cgroup_skb__destroy(s->skel);
	sonde_packet_filter_free(s->filter);
	if (s->dedup)
		sonde_packet_dedup_free(s->dedup);
	free(s);
}

const struct sonde_source_ops sonde_source_cgroup_skb = {
	.name = "cgroup_skb",
	.live = true,
	.open = cgskb_open,
	.fd = cgskb_fd,
	.poll = cgskb_poll,
	.stats = cgskb_stats,
	.error = cgskb_error,
	.close = cgskb_close,
};
