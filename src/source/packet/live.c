/* SPDX-License-Identifier: MIT */
/* What the live packet sources share: the filter compiler, namespaces, link
 * types of interfaces, and dropping a packet's second sighting. */
#include "source/packet/live.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/buf.h"
#include "source/file/capfile.h"
#include "source/file/file_source.h"
#include "source/packet/packet.h"

int sonde_packet_compile(const char *filter, int dlt, uint32_t snaplen, struct bpf_program *prog,
			 char *err, size_t errlen)
{
	pcap_t *p = pcap_open_dead(dlt, (int)snaplen);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = pcap_compile(p, prog, filter, 1, PCAP_NETMASK_UNKNOWN);
	if (rc < 0)
		snprintf(err, errlen, "--filter '%s': %s", filter, pcap_geterr(p));
	pcap_close(p);
	return rc < 0 ? -1 : 0;
}

struct sonde_packet_filter {
	struct bpf_program eth, raw;
};

struct sonde_packet_filter *sonde_packet_filter_new(const char *filter, uint32_t snaplen, char *err,
						    size_t errlen)
{
	struct sonde_packet_filter *pf = sonde_xcalloc(1, sizeof(*pf));
	if (sonde_packet_compile(filter, DLT_EN10MB, snaplen, &pf->eth, err, errlen) < 0) {
		free(pf);
		return NULL;
	}
	if (sonde_packet_compile(filter, DLT_RAW, snaplen, &pf->raw, err, errlen) < 0) {
		pcap_freecode(&pf->eth);
		free(pf);
		return NULL;
	}
	return pf;
}

bool sonde_packet_filter_match(const struct sonde_packet_filter *pf, const struct sonde_frame *f)
{
	struct pcap_pkthdr ph = { .caplen = f->caplen, .len = f->wirelen };
	const struct bpf_program *p = f->linktype == SONDE_LINKTYPE_RAW ? &pf->raw : &pf->eth;
	return pcap_offline_filter(p, &ph, f->data) != 0;
}

void sonde_packet_filter_free(struct sonde_packet_filter *pf)
{
	if (!pf)
		return;
	pcap_freecode(&pf->eth);
	pcap_freecode(&pf->raw);
	free(pf);
}

int sonde_netns_enter(const char *netns, int *saved, char *err, size_t errlen)
{
	*saved = -1;
	if (!netns)
		return 0;
	int fd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "network namespace %s: %s", netns, strerror(errno));
		return -1;
	}
	*saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0 || setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot enter network namespace %s: %s%s", netns, strerror(e),
			 e == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		close(fd);
		if (*saved >= 0)
			close(*saved);
		*saved = -1;
		return -1;
	}
	close(fd);
	return 0;
}

void sonde_netns_leave(int saved)
{
	if (saved < 0)
		return;
	/* Coming back cannot fail for a process that could leave. */
	if (setns(saved, CLONE_NEWNET) < 0)
		abort();
	close(saved);
}

uint32_t sonde_linktype_of_arphrd(unsigned short hatype)
{
	switch (hatype) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK: return SONDE_LINKTYPE_ETHERNET;
	case ARPHRD_NONE:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_IPGRE:
	case ARPHRD_PPP:
	case 519: /* ARPHRD_RAWIP */ return SONDE_LINKTYPE_RAW;
	default: return SONDE_LINKTYPE_NONE;
	}
}

/* ---------------------------------------------------- one sighting --- */

#define DEDUP_SLOTS 4096 /* recent packets remembered to drop a second sighting */
#define DEDUP_WINDOW_NS 5000000ull /* 5 ms: the same packet on veth and bridge */

struct sonde_packet_dedup {
	struct dedup_slot {
		uint64_t hash, ts_ns;
		int ifindex;
	} slot[DEDUP_SLOTS];
};

struct sonde_packet_dedup *sonde_packet_dedup_new(void)
{
	return sonde_xcalloc(1, sizeof(struct sonde_packet_dedup));
}

void sonde_packet_dedup_free(struct sonde_packet_dedup *d)
{
	free(d);
}

/* FNV-1a over the packet from its network header on, minus what changes on
 * the way (IPv4 TTL and checksum, IPv6 hop limit). */
static uint64_t packet_hash(const uint8_t *p, uint32_t n, uint32_t wirelen)
{
	uint64_t h = 1469598103934665603ull ^ wirelen;
	if (n > 64)
		n = 64;
	int v = n ? p[0] >> 4 : 0;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if ((v == 4 && (i == 8 || i == 10 || i == 11)) || (v == 6 && i == 7))
			b = 0;
		h = (h ^ b) * 1099511628211ull;
	}
	return h;
}

bool sonde_packet_dedup_seen(struct sonde_packet_dedup *d, const struct sonde_frame *f, int ifindex)
{
	if (f->linktype != SONDE_LINKTYPE_ETHERNET && f->linktype != SONDE_LINKTYPE_RAW)
		return false;
	uint32_t l3 = f->linktype == SONDE_LINKTYPE_ETHERNET ? 14 : 0;
	if (f->caplen <= l3)
		return false;
	uint64_t h = packet_hash(f->data + l3, f->caplen - l3, f->wirelen);
	struct dedup_slot *s = &d->slot[h % DEDUP_SLOTS];
	/* Either sighting may be read first (two rings, two namespaces): the
	 * times are compared either way round. */
	uint64_t apart = f->ts_ns > s->ts_ns ? f->ts_ns - s->ts_ns : s->ts_ns - f->ts_ns;
	bool dup = s->hash == h && s->ifindex != ifindex && apart < DEDUP_WINDOW_NS;
	if (!dup)
		*s = (struct dedup_slot){ h, f->ts_ns, ifindex };
	return dup;
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

static const char *cap_name(int cap)
{
	switch (cap) {
	case CAP_NET_RAW: return "CAP_NET_RAW";
	case CAP_NET_ADMIN: return "CAP_NET_ADMIN";
	case CAP_SYS_ADMIN: return "CAP_SYS_ADMIN";
	case CAP_BPF: return "CAP_BPF";
	case CAP_PERFMON: return "CAP_PERFMON";
	default: return "a capability";
	}
}

int sonde_packet_need_caps(const char *source, const int *caps, char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &h, d) < 0)
		return 0; /* cannot tell: the kernel will say */
	for (const int *c = caps; *c >= 0; c++) {
		bool ok = has_cap(d, *c) || (*c == CAP_BPF && has_cap(d, CAP_SYS_ADMIN));
		if (!ok) {
			snprintf(err, errlen, "%s needs %s (run as root or grant it)", source,
				 cap_name(*c));
			return -1;
		}
	}
	return 0;
}
