/* SPDX-License-Identifier: MIT */
#include "source/packet/packet.h"

#include <string.h>
#include <sys/socket.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ 0x9100

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * TCP header at p with `have` captured bytes; `seglen` is the TCP segment's
 * length according to the IP header (what the wire carried).
 */
static int decode_tcp(const uint8_t *p, uint32_t have, uint32_t seglen, struct sonde_chunk *c,
		      struct sonde_stats *st)
{
	if (have < 20 || seglen < 20) {
		st->frames_malformed++;
		return 0;
	}
	uint32_t hlen = (uint32_t)(p[12] >> 4) * 4;
	if (hlen < 20 || hlen > seglen || hlen > have) {
		st->frames_malformed++;
		return 0;
	}
	c->flow.l4 = SONDE_L4_TCP;
	c->flow.src.port = be16(p);
	c->flow.dst.port = be16(p + 2);
	c->seq = be32(p + 4);
	c->ack = be32(p + 8);
	c->flags = p[13] & (SONDE_CF_FIN | SONDE_CF_SYN | SONDE_CF_RST | SONDE_CF_ACK);
	c->tcp_window = be16(p + 14); /* unscaled: the analysis only compares it */
	c->seq_kind = SONDE_SEQ_TCP32;
	c->role = SONDE_ROLE_UNKNOWN;
	c->wirelen = seglen - hlen;
	c->caplen = have - hlen < c->wirelen ? have - hlen : c->wirelen;
	c->data = p + hlen;
	st->tcp_segments++;
	st->tcp_payload_bytes += c->wirelen;
	return 1;
}

/* UDP header at p, as decode_tcp; the payload is the whole datagram. */
static int decode_udp(const uint8_t *p, uint32_t have, uint32_t seglen, struct sonde_chunk *c,
		      struct sonde_stats *st)
{
	if (have < 8 || seglen < 8) {
		st->frames_malformed++;
		return 0;
	}
	/* The UDP length, not the IP one, ends the datagram (it may be
	 * shorter: trailing bytes are padding); longer is damage. */
	uint32_t ulen = be16(p + 4);
	if (ulen < 8 || ulen > seglen) {
		st->frames_malformed++;
		return 0;
	}
	c->flow.l4 = SONDE_L4_UDP;
	c->flow.src.port = be16(p);
	c->flow.dst.port = be16(p + 2);
	c->seq = 0;
	c->ack = 0;
	c->flags = 0;
	c->seq_kind = SONDE_SEQ_STREAM64;
	c->role = SONDE_ROLE_UNKNOWN;
	c->wirelen = ulen - 8;
	c->caplen = have - 8 < c->wirelen ? have - 8 : c->wirelen;
	c->data = p + 8;
	st->udp_datagrams++;
	return 1;
}

static int decode_l4(uint8_t proto, const uint8_t *p, uint32_t have, uint32_t len,
		     struct sonde_chunk *c, struct sonde_stats *st)
{
	if (proto == 6)
		return decode_tcp(p, have, len, c, st);
	if (proto == 17)
		return decode_udp(p, have, len, c, st);
	st->other_l4++;
	return 0;
}

/* `wire_avail` is how many bytes of the IP packet the wire carried from p on. */
static int decode_ipv4(const uint8_t *p, uint32_t have, struct sonde_chunk *c,
		       struct sonde_stats *st)
{
	if (have < 20 || (p[0] >> 4) != 4) {
		st->frames_malformed++;
		return 0;
	}
	uint32_t ihl = (uint32_t)(p[0] & 15) * 4;
	uint32_t total = be16(p + 2);
	if (ihl < 20 || total < ihl || have < ihl) {
		st->frames_malformed++;
		return 0;
	}
	uint16_t frag = be16(p + 6);
	if (frag & 0x3fff) { /* MF set or a non-zero offset */
		st->ipv4_fragments++;
		return 0;
	}
	c->flow.src.family = c->flow.dst.family = AF_INET;
	memset(c->flow.src.addr, 0, 16);
	memset(c->flow.dst.addr, 0, 16);
	memcpy(c->flow.src.addr, p + 12, 4);
	memcpy(c->flow.dst.addr, p + 16, 4);
	/* Ethernet padding lies past `total`; a short capture ends before it. */
	uint32_t captured = have < total ? have : total;
	return decode_l4(p[9], p + ihl, captured - ihl, total - ihl, c, st);
}

static int decode_ipv6(const uint8_t *p, uint32_t have, struct sonde_chunk *c,
		       struct sonde_stats *st)
{
	if (have < 40 || (p[0] >> 4) != 6) {
		st->frames_malformed++;
		return 0;
	}
	uint32_t plen = be16(p + 4);
	if (plen == 0) { /* jumbogram: not on the links sonde sees */
		st->frames_malformed++;
		return 0;
	}
	uint32_t total = 40 + plen;
	uint32_t captured = have < total ? have : total;
	uint8_t nh = p[6];
	uint32_t off = 40;
	c->flow.src.family = c->flow.dst.family = AF_INET6;
	memcpy(c->flow.src.addr, p + 8, 16);
	memcpy(c->flow.dst.addr, p + 24, 16);
	for (int hops = 0; hops < 16; hops++) {
		switch (nh) {
		case 0: /* hop-by-hop */
		case 43: /* routing */
		case 60: /* destination options */
			if (off + 8 > captured) {
				st->frames_malformed++;
				return 0;
			}
			nh = p[off];
			off += 8 + (uint32_t)p[off + 1] * 8;
			break;
		case 51: /* authentication header */
			if (off + 8 > captured) {
				st->frames_malformed++;
				return 0;
			}
			nh = p[off];
			off += ((uint32_t)p[off + 1] + 2) * 4;
			break;
		case 44: /* fragment */ st->ipv6_fragments++; return 0;
		default:
			if (off > captured) {
				st->frames_malformed++;
				return 0;
			}
			return decode_l4(nh, p + off, captured - off, total - off, c, st);
		}
		if (off > total) {
			st->frames_malformed++;
			return 0;
		}
	}
	st->frames_malformed++;
	return 0;
}

static int decode_ethertype(uint16_t type, const uint8_t *p, uint32_t have, struct sonde_chunk *c,
			    struct sonde_stats *st)
{
	if (type == ETH_P_IP)
		return decode_ipv4(p, have, c, st);
	if (type == ETH_P_IPV6)
		return decode_ipv6(p, have, c, st);
	st->frames_non_ip++;
	return 0;
}

/* An IP packet of unknown version: look at the version nibble. */
static int decode_ip_any(const uint8_t *p, uint32_t have, struct sonde_chunk *c,
			 struct sonde_stats *st)
{
	if (have < 1) {
		st->frames_malformed++;
		return 0;
	}
	if ((p[0] >> 4) == 4)
		return decode_ipv4(p, have, c, st);
	if ((p[0] >> 4) == 6)
		return decode_ipv6(p, have, c, st);
	st->frames_non_ip++;
	return 0;
}

int sonde_decode_packet(uint32_t linktype, const uint8_t *p, uint32_t caplen, uint32_t wirelen,
			uint64_t ts_ns, struct sonde_chunk *c, struct sonde_stats *st)
{
	(void)wirelen; /* the IP header's length says what the wire carried */
	c->ts_ns = ts_ns;
	c->conn_id = 0;
	c->proc = NULL;
	c->tls = NULL;
	c->source = NULL;
	c->tcp = c->tcp_peer = NULL; /* packets carry no kernel view of TCP health */
	c->peer_proc = NULL;
	c->tcp_srtt_us = c->tcp_retrans = 0;
	c->tcp_window = 0;
	switch (linktype) {
	case SONDE_LINKTYPE_ETHERNET: {
		if (caplen < 14) {
			st->frames_malformed++;
			return 0;
		}
		uint32_t off = 12;
		uint16_t type = be16(p + off);
		/* 802.1Q / 802.1ad / QinQ tags, any depth the frame holds. */
		while ((type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ) &&
		       off + 6 <= caplen) {
			off += 4;
			type = be16(p + off);
		}
		off += 2;
		if (off > caplen) {
			st->frames_malformed++;
			return 0;
		}
		return decode_ethertype(type, p + off, caplen - off, c, st);
	}
	case SONDE_LINKTYPE_LINUX_SLL:
		if (caplen < 16) {
			st->frames_malformed++;
			return 0;
		}
		return decode_ethertype(be16(p + 14), p + 16, caplen - 16, c, st);
	case SONDE_LINKTYPE_LINUX_SLL2:
		if (caplen < 20) {
			st->frames_malformed++;
			return 0;
		}
		return decode_ethertype(be16(p), p + 20, caplen - 20, c, st);
	case SONDE_LINKTYPE_NULL:
	case SONDE_LINKTYPE_LOOP:
		/* A 4-byte address family in the writer's byte order (NULL) or
		 * network order (LOOP); the IP version nibble decides, which
		 * also covers the BSDs' differing AF_INET6 values. */
		if (caplen < 4) {
			st->frames_malformed++;
			return 0;
		}
		return decode_ip_any(p + 4, caplen - 4, c, st);
	case SONDE_LINKTYPE_RAW:
	case 12: /* DLT_RAW as some writers store it */
	case 14:
	case SONDE_LINKTYPE_IPV4:
	case SONDE_LINKTYPE_IPV6: return decode_ip_any(p, caplen, c, st);
	default: st->frames_unsupported_link++; return 0;
	}
}
