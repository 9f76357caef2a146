/* SPDX-License-Identifier: MIT */
/*
 * Live packet sources: AF_PACKET (sonde's own TPACKET_V3 ring reader, the
 * default packet source) and libpcap. Both take the same options, hand every
 * frame to packet decoding (source/packet/packet.c) and from there to the
 * connection table like a capture file's frames; their rows in the source
 * table are sonde_source_af_packet and sonde_source_libpcap.
 *
 * What each needs: CAP_NET_RAW for the sockets; CAP_SYS_ADMIN as well to
 * enter another network namespace (--netns). A missing one is named in the
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
};

extern const struct sonde_source_ops sonde_source_af_packet;
extern const struct sonde_source_ops sonde_source_libpcap;

/* Shared by both: compile opts->filter for a link type into a classic BPF
 * program (libpcap's compiler). Returns 0, or -1 with err set. */
struct bpf_program;
int sonde_packet_compile(const char *filter, int dlt, uint32_t snaplen, struct bpf_program *prog,
			 char *err, size_t errlen);
/* Enter opts->netns (saving ours in *saved) / come back. No netns: no-op. */
int sonde_netns_enter(const char *netns, int *saved, char *err, size_t errlen);
void sonde_netns_leave(int saved);

#endif
