/* SPDX-License-Identifier: MIT */
/*
 * The libpcap source: live capture through libpcap, for where sonde's own
 * AF_PACKET reader does not fit (libpcap knows more link types and the odd
 * interface). Immediate mode, so records do not wait for a buffer to fill;
 * libpcap's drop counts are counted as kernel drops.
 */
#include "source/packet/live.h"

#include <errno.h>
#include <linux/capability.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "source/file/file_source.h"
#include "source/packet/packet.h"

#define DEFAULT_BUFFER (32u << 20)
#define MAX_SNAPLEN 262144

struct pcap_source {
	struct sonde_source_env env;
	pcap_t *pcap;
	uint32_t linktype;
	int fd;
	uint64_t drops_seen; /* pcap_stats counts from the start: the part already added */
	char error[PCAP_ERRBUF_SIZE + 64];
};

/* pcap's DLT_ values are LINKTYPE_ values except for a few historical
 * ones; Linux's DLT_RAW (12) is LINKTYPE_RAW. */
static uint32_t linktype_of(int dlt)
{
	switch (dlt) {
	case DLT_RAW: return SONDE_LINKTYPE_RAW;
	default: return (uint32_t)dlt;
	}
}

static void pcap_close_source(void *state);

static int start(struct pcap_source *s, const struct sonde_packet_opts *o, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	const char *dev = o->nifaces ? o->ifaces[0] : "any";
	s->pcap = pcap_create(dev, ebuf);
	if (!s->pcap) {
		snprintf(err, errlen, "libpcap on %s: %s", dev, ebuf);
		return -1;
	}
	uint32_t snaplen = o->snaplen && o->snaplen < MAX_SNAPLEN ? o->snaplen : MAX_SNAPLEN;
	pcap_set_snaplen(s->pcap, (int)snaplen);
	pcap_set_immediate_mode(s->pcap, 1);
	pcap_set_buffer_size(s->pcap, (int)(o->ring_size ? o->ring_size : DEFAULT_BUFFER));
	pcap_set_tstamp_precision(s->pcap, PCAP_TSTAMP_PRECISION_NANO);
	int rc = pcap_activate(s->pcap);
	if (rc < 0) {
		snprintf(err, errlen, "libpcap on %s: %s%s", dev,
			 rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
							 : pcap_geterr(s->pcap),
			 rc == PCAP_ERROR_PERM_DENIED ? " (needs CAP_NET_RAW: run as root)" : "");
		return -1;
	}
	if (o->filter) {
		struct bpf_program prog;
		if (pcap_compile(s->pcap, &prog, o->filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			snprintf(err, errlen, "--filter '%s': %s", o->filter, pcap_geterr(s->pcap));
			return -1;
		}
		rc = pcap_setfilter(s->pcap, &prog);
		pcap_freecode(&prog);
		if (rc < 0) {
			snprintf(err, errlen, "--filter: %s", pcap_geterr(s->pcap));
			return -1;
		}
	}
	if (pcap_setnonblock(s->pcap, 1, ebuf) < 0 ||
	    (s->fd = pcap_get_selectable_fd(s->pcap)) < 0) {
		snprintf(err, errlen, "libpcap on %s: no descriptor to wait on", dev);
		return -1;
	}
	s->linktype = linktype_of(pcap_datalink(s->pcap));
	return 0;
}

static void *pcap_open_source(const void *opts, const struct sonde_source_env *env, char *err,
			      size_t errlen)
{
	static const int caps[] = { CAP_NET_RAW, -1 };
	static const int caps_netns[] = { CAP_NET_RAW, CAP_SYS_ADMIN, -1 };
	if (sonde_packet_need_caps(
		    "libpcap", ((const struct sonde_packet_opts *)opts)->netns ? caps_netns : caps,
		    err, errlen) < 0)
		return NULL;
	const struct sonde_packet_opts *o = opts;
	if (o->nifaces > 1) {
		snprintf(err, errlen,
			 "the libpcap source captures one interface (or any); "
			 "use af_packet for several");
		return NULL;
	}
	struct pcap_source *s = sonde_xcalloc(1, sizeof(*s));
	s->env = *env;
	s->fd = -1;
	int saved;
	if (sonde_netns_enter(o->netns, &saved, err, errlen) < 0) {
		free(s);
		return NULL;
	}
	int rc = start(s, o, err, errlen);
	sonde_netns_leave(saved);
	if (rc < 0) {
		pcap_close_source(s);
		return NULL;
	}
	return s;
}

static void on_packet(u_char *ctx, const struct pcap_pkthdr *h, const u_char *data)
{
	struct pcap_source *s = (void *)ctx;
	/* Nanosecond precision was asked for: tv_usec holds nanoseconds. */
	struct sonde_frame f = {
		.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec,
		.caplen = h->caplen,
		.wirelen = h->len,
		.linktype = s->linktype,
		.data = data,
	};
	sonde_frame_emit(&s->env.frames, &f, SONDE_ORIGIN_LIBPCAP);
	struct sonde_chunk c;
	if (!sonde_frame_chunk(&f, s->env.stats, &c))
		return;
	c.origin = SONDE_ORIGIN_LIBPCAP;
	sonde_chunk_emit(&s->env.out, &c);
}

static int pcap_fd(void *state)
{
	return ((struct pcap_source *)state)->fd;
}

static int pcap_poll_source(void *state, int timeout_ms)
{
	struct pcap_source *s = state;
	int n = pcap_dispatch(s->pcap, -1, on_packet, (u_char *)s);
	if (n == 0 && timeout_ms) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		if (poll(&pfd, 1, timeout_ms) < 0)
			return -errno;
		n = pcap_dispatch(s->pcap, -1, on_packet, (u_char *)s);
	}
	if (n == PCAP_ERROR) {
		snprintf(s->error, sizeof(s->error), "libpcap: %s", pcap_geterr(s->pcap));
		return -EIO;
	}
	return n < 0 ? 0 : n;
}

static void pcap_stats_source(void *state)
{
	struct pcap_source *s = state;
	struct pcap_stat ps;
	if (pcap_stats(s->pcap, &ps) < 0)
		return;
	uint64_t drops = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
	if (drops > s->drops_seen) {
		s->env.stats->packet_kernel_drops += drops - s->drops_seen;
		s->drops_seen = drops;
	}
}

static const char *pcap_error_source(void *state)
{
	struct pcap_source *s = state;
	return s->error[0] ? s->error : NULL;
}

static void pcap_close_source(void *state)
{
	struct pcap_source *s = state;
	if (s->pcap)
		pcap_close(s->pcap);
	free(s);
}

const struct sonde_source_ops sonde_source_libpcap = {
	.name = "libpcap",
	.live = true,
	.open = pcap_open_source,
	.fd = pcap_fd,
	.poll = pcap_poll_source,
	.stats = pcap_stats_source,
	.error = pcap_error_source,
	.close = pcap_close_source,
};
