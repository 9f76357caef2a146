/* SPDX-License-Identifier: MIT */
/*
 * Live packet sources: AF_PACKET (sonde's own TPACKET_V3 ring reader, the
 * default packet source), libpcap, and TC (eBPF on the interfaces'
 * traffic-control hooks, tc.c). They take the same options, hand every
 * frame to packet decoding (source/packet/packet.c) and from there to the
 * connection table like a capture file's frames; their rows in the source
 * table are sonde_source_af_packet and sonde_source_libpcap.
 *
 * What each needs: CAP_NET_RAW for the sockets (TC: CAP_BPF and
 * CAP_NET_ADMIN instead); CAP_SYS_ADMIN as well to enter another network
 * namespace (--netns). A missing one is named in the
 * open error.
 */
#ifndef SONDE_PACKET_LIVE_H
#define SONDE_PACKET_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source/source.h"

#define SONDE_PACKET_IFACES_MAX 16

struct sonde_packet_opts {
	const char *ifaces[SONDE_PACKET_IFACES_MAX]; /* none: every interface ("any") */
	size_t nifaces;
	const char *filter; /* tcpdump filter syntax (pcap-filter(7)); NULL: all */
	const char
		*netns; /* a network namespace file (/run/netns/X, /proc/PID/ns/net); NULL: ours */
	size_t ring_size; /* bytes of kernel buffer per interface; 0: the default */
	uint32_t snaplen; /* bytes kept per packet; 0: whole packets */
	const char *cgroup; /* cgroup_skb: a cgroup v2 directory; NULL: the root */
	int queue; /* af_xdp: only this queue's packets; -1: every queue */
	/* --all-netns: the second-sighting table all namespaces share (not
	 * owned) and this namespace's tag, kept apart from its ifindexes. */
	struct sonde_packet_dedup *dedup;
	uint32_t dedup_tag;
};

/*
 * --all-netns: a packet source of `kind` in every network namespace of the
 * host, as they appear (a rescan every 2 s: /run/netns and every process's
 * /proc/PID/ns/net) and disappear (no process and no name left: its source
 * is closed, so sonde does not keep it alive). Records' capture.source names
 * each one like --netns does ("any@/run/netns/web", "any@/proc/4242/ns/net").
 * A packet that crosses a veth pair is seen in both namespaces: one table of
 * recent packets drops the second sighting (packet_duplicates).
 */
struct sonde_all_netns_opts {
	const struct sonde_source_ops *kind; /* af_packet, libpcap or tc */
	struct sonde_packet_opts packet; /* netns unset */
};
extern const struct sonde_source_ops sonde_source_all_netns;

extern const struct sonde_source_ops sonde_source_af_packet;
extern const struct sonde_source_ops sonde_source_libpcap;
extern const struct sonde_source_ops sonde_source_tc;
extern const struct sonde_source_ops sonde_source_cgroup_skb;
extern const struct sonde_source_ops sonde_source_af_xdp;

/* A source's capabilities, checked before it tries: 0, or -1 with the
 * first missing one named in err ("cgroup_skb needs CAP_NET_ADMIN").
 * CAP_BPF is also granted by CAP_SYS_ADMIN (kernels before 5.8 have no
 * CAP_BPF). caps: CAP_* numbers, ended by -1. */
int sonde_packet_need_caps(const char *source, const int *caps, char *err, size_t errlen);

/* The eBPF packet sources (tc, cgroup_skb): -B as a ring buffer's size, the
 * power of two at least ring_size (1m to 1g); and the growth of a per-CPU
 * drop counter (map fd, key) since *seen, added to packet_kernel_drops. */
uint32_t sonde_packet_ring_bytes(size_t ring_size);
struct sonde_stats;
void sonde_packet_percpu_drops(int map_fd, uint32_t key, uint64_t *seen, struct sonde_stats *st);

/* Shared by both: compile opts->filter for a link type into a classic BPF
 * program (libpcap's compiler). Returns 0, or -1 with err set. */
struct bpf_program;
int sonde_packet_compile(const char *filter, int dlt, uint32_t snaplen, struct bpf_program *prog,
			 char *err, size_t errlen);
/* Enter opts->netns (saving ours in *saved) / come back. No netns: no-op. */
int sonde_netns_enter(const char *netns, int *saved, char *err, size_t errlen);
void sonde_netns_leave(int saved);

/* A --filter run in user space, on frames of Ethernet or raw-IP link type
 * (the TC source: its programs copy every packet). */
struct sonde_packet_filter;
struct sonde_packet_filter *sonde_packet_filter_new(const char *filter, uint32_t snaplen, char *err,
						    size_t errlen);
bool sonde_packet_filter_match(const struct sonde_packet_filter *pf, const struct sonde_frame *f);
void sonde_packet_filter_free(struct sonde_packet_filter *pf);

/* The LINKTYPE of an interface's hardware type (ARPHRD_*): Ethernet or raw
 * IP; SONDE_LINKTYPE_NONE for what packet decoding does not read. */
#define SONDE_LINKTYPE_NONE 0xffffffffu
uint32_t sonde_linktype_of_arphrd(unsigned short hatype);

/* Capturing several interfaces, a packet can pass two of them (veth, then
 * the bridge): the second sighting, within a few ms on another interface,
 * is dropped (counted by the caller as packet_duplicates). Bounded: a
 * fixed table of recent packets. */
struct sonde_frame;
struct sonde_packet_dedup;
struct sonde_packet_dedup *sonde_packet_dedup_new(void);
void sonde_packet_dedup_free(struct sonde_packet_dedup *d);
bool sonde_packet_dedup_seen(struct sonde_packet_dedup *d, const struct sonde_frame *f,
			     int ifindex);

#endif
