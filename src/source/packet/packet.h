/* SPDX-License-Identifier: MIT */
/*
 * Packet decoding for packet sources (files, AF_PACKET): link layer → IPv4/IPv6
 * → TCP or UDP, producing one chunk per TCP segment or UDP datagram.
 * Everything else is counted in the stats, never silently dropped.
 */
#ifndef SONDE_PACKET_H
#define SONDE_PACKET_H

#include <stdint.h>

#include "core/chunk.h"
#include "core/stats.h"

/* Link types sonde decodes (LINKTYPE_* values from the pcap registry). */
enum {
	SONDE_LINKTYPE_NULL = 0,
	SONDE_LINKTYPE_ETHERNET = 1,
	SONDE_LINKTYPE_RAW = 101,
	SONDE_LINKTYPE_LOOP = 108,
	SONDE_LINKTYPE_LINUX_SLL = 113,
	SONDE_LINKTYPE_IPV4 = 228,
	SONDE_LINKTYPE_IPV6 = 229,
	SONDE_LINKTYPE_LINUX_SLL2 = 276,
};

/*
 * Decode one frame of `linktype`. Returns 1 and fills *c (origin left for
 * the caller) when the frame holds a TCP segment or a UDP datagram (l4
 * SONDE_L4_UDP, the datagram's payload; seq 0, no flags); returns 0 after
 * counting why not in *st. Never reads outside data[0..caplen).
 */
int sonde_decode_packet(uint32_t linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
			uint64_t ts_ns, struct sonde_chunk *c, struct sonde_stats *st);

#endif
