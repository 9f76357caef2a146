/* SPDX-License-Identifier: MIT */
/*
 * Packet decoding (sonde_decode_packet): link layers, IPv4/IPv6, TCP, UDP.
 * Packets are built here by small helpers; the UDP frames of a DNS capture
 * of the shared corpus (SONDE_CORPUS, else ../shared/corpus) are decoded
 * too, that test skipped when absent.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "source/file/capfile.h"
#include "source/packet/packet.h"

static const uint8_t SRC4[4] = { 192, 168, 1, 10 };
static const uint8_t DST4[4] = { 93, 184, 216, 34 };
static const uint8_t SRC6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };
static const uint8_t DST6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02 };

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10, F_URG = 0x20 };

/* ------------------------------------------------------------ builders --- */

/* A TCP segment: header with `optlen` bytes of options (NOPs), payload. */
static void build_tcp(struct tu_bytes *b, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		      uint8_t flags, size_t optlen, const void *payload, size_t plen)
{
	tu_be16(b, sport);
	tu_be16(b, dport);
	tu_be32(b, seq);
	tu_be32(b, ack);
	tu_u8(b, (uint8_t)(((20 + optlen) / 4) << 4));
	tu_u8(b, flags);
	tu_be16(b, 65535); /* window */
	tu_be16(b, 0); /* checksum: not checked */
	tu_be16(b, 0); /* urgent */
	for (size_t i = 0; i < optlen; i++)
		tu_u8(b, 1); /* NOP */
	tu_bytes_put(b, payload, plen);
}

/* A UDP datagram; `ulen` is its length field (0: the true length). */
static void build_udp(struct tu_bytes *b, uint16_t sport, uint16_t dport, uint16_t ulen,
		      const void *payload, size_t plen)
{
	tu_be16(b, sport);
	tu_be16(b, dport);
	tu_be16(b, ulen ? ulen : (uint16_t)(8 + plen));
	tu_be16(b, 0); /* checksum: not checked */
	tu_bytes_put(b, payload, plen);
}

/* An IPv4 packet around `l4` (frag: the flags+offset field). */
static void build_ipv4(struct tu_bytes *b, uint8_t proto, uint16_t frag, size_t optlen,
		       const struct tu_bytes *l4)
{
	size_t ihl = 20 + optlen;
	tu_u8(b, (uint8_t)(0x40 | ihl / 4));
	tu_u8(b, 0);
	tu_be16(b, (uint16_t)(ihl + l4->len));
	tu_be16(b, 0x1234); /* id */
	tu_be16(b, frag);
	tu_u8(b, 64);
	tu_u8(b, proto);
	tu_be16(b, 0);
	tu_bytes_put(b, SRC4, 4);
	tu_bytes_put(b, DST4, 4);
	for (size_t i = 0; i < optlen; i++)
		tu_u8(b, 1); /* NOP option */
	tu_bytes_put(b, l4->p, l4->len);
}

/* An IPv6 packet: `ext` holds extension headers already chained (the
 * first one's type is `nh`), then the transport bytes. */
static void build_ipv6(struct tu_bytes *b, uint8_t nh, const struct tu_bytes *ext,
		       const struct tu_bytes *l4)
{
	size_t elen = ext ? ext->len : 0;
	tu_be32(b, 0x60000000u);
	tu_be16(b, (uint16_t)(elen + l4->len));
	tu_u8(b, nh);
	tu_u8(b, 64);
	tu_bytes_put(b, SRC6, 16);
	tu_bytes_put(b, DST6, 16);
	if (ext)
		tu_bytes_put(b, ext->p, ext->len);
	tu_bytes_put(b, l4->p, l4->len);
}

/* Ethernet with the given tag TPIDs (outermost first), padded to 60. */
static void build_eth(struct tu_bytes *b, const uint16_t *tags, size_t ntags, uint16_t type,
		      const struct tu_bytes *payload)
{
	static const uint8_t dst[6] = { 0, 1, 2, 3, 4, 5 }, src[6] = { 6, 7, 8, 9, 10, 11 };
	size_t start = b->len;
	tu_bytes_put(b, dst, 6);
	tu_bytes_put(b, src, 6);
	for (size_t i = 0; i < ntags; i++) {
		tu_be16(b, tags[i]);
		tu_be16(b, (uint16_t)(100 + i)); /* TCI: VLAN id */
	}
	tu_be16(b, type);
	tu_bytes_put(b, payload->p, payload->len);
	while (b->len - start < 60)
		tu_u8(b, 0xee); /* padding */
}

/* TCP in IPv4 with payload, the common case. */
static void tcp4(struct tu_bytes *ip, uint8_t flags, const char *payload)
{
	struct tu_bytes t = { 0 };
	build_tcp(&t, 40000, 80, 1000, 2000, flags, 0, payload, strlen(payload));
	build_ipv4(ip, 6, 0, 0, &t);
	tu_bytes_free(&t);
}

static void tcp6(struct tu_bytes *ip, uint8_t nh, const struct tu_bytes *ext, const char *payload)
{
	struct tu_bytes t = { 0 };
	build_tcp(&t, 50000, 443, 0xfffffff0u, 7, F_ACK | F_PSH, 0, payload, strlen(payload));
	build_ipv6(ip, nh, ext, &t);
	tu_bytes_free(&t);
}

static uint64_t stats_sum(const struct sonde_stats *s)
{
	return s->frames_unsupported_link + s->frames_non_ip + s->frames_malformed + s->ipv4_fragments +
	       s->ipv6_fragments + s->udp_datagrams + s->other_l4 + s->tcp_segments;
}

/* Decode from a heap copy of exactly caplen bytes (ASan sees any overread). */
static int decode(uint32_t linktype, const struct tu_bytes *f, uint32_t caplen, struct sonde_chunk *c,
		  struct sonde_stats *st)
{
	uint8_t *copy = tu_xmalloc(caplen);
	if (caplen)
		memcpy(copy, f->p, caplen);
	memset(c, 0xa5, sizeof(*c));
	uint64_t before = stats_sum(st);
	int rc = sonde_decode_packet(linktype, copy, caplen, (uint32_t)f->len, 123456789, c, st);
	/* Every frame is accounted for exactly once: a TCP segment, or why not. */
	if (stats_sum(st) != before + 1)
		fail_msg("decode of %u bytes (link %u) changed the counters by %llu", caplen, linktype,
			 (unsigned long long)(stats_sum(st) - before));
	if (rc == 1) {
		if (c->caplen > c->wirelen)
			fail_msg("caplen %u > wirelen %u", c->caplen, c->wirelen);
		if (c->caplen && (c->data < copy || c->data + c->caplen > copy + caplen))
			fail_msg("chunk data outside the frame");
		/* Rebase data onto the caller's frame for content checks. */
		c->data = f->p + (c->data - copy);
	}
	free(copy);
	return rc;
}

static void check_v4(const struct sonde_chunk *c, const char *payload)
{
	assert_int_equal(c->flow.l4, SONDE_L4_TCP);
	assert_int_equal(c->flow.src.family, AF_INET);
	assert_int_equal(c->flow.dst.family, AF_INET);
	assert_memory_equal(c->flow.src.addr, SRC4, 4);
	assert_memory_equal(c->flow.dst.addr, DST4, 4);
	static const uint8_t zero[12];
	assert_memory_equal(c->flow.src.addr + 4, zero, 12);
	assert_memory_equal(c->flow.dst.addr + 4, zero, 12);
	assert_int_equal(c->flow.src.port, 40000);
	assert_int_equal(c->flow.dst.port, 80);
	assert_int_equal(c->seq, 1000);
	assert_int_equal(c->ack, 2000);
	assert_int_equal(c->seq_kind, SONDE_SEQ_TCP32);
	assert_int_equal(c->ts_ns, 123456789);
	assert_int_equal(c->conn_id, 0);
	assert_int_equal(c->role, SONDE_ROLE_UNKNOWN);
	size_t n = strlen(payload);
	assert_int_equal(c->caplen, n);
	assert_int_equal(c->wirelen, n);
	if (n)
		assert_memory_equal(c->data, payload, n);
}

static void check_v6(const struct sonde_chunk *c, const char *payload)
{
	assert_int_equal(c->flow.l4, SONDE_L4_TCP);
	assert_int_equal(c->flow.src.family, AF_INET6);
	assert_memory_equal(c->flow.src.addr, SRC6, 16);
	assert_memory_equal(c->flow.dst.addr, DST6, 16);
	assert_int_equal(c->flow.src.port, 50000);
	assert_int_equal(c->flow.dst.port, 443);
	assert_int_equal(c->seq, 0xfffffff0u);
	assert_int_equal(c->ack, 7);
	assert_int_equal(c->flags, SONDE_CF_ACK); /* PSH is not passed on */
	size_t n = strlen(payload);
	assert_int_equal(c->caplen, n);
	assert_int_equal(c->wirelen, n);
	assert_memory_equal(c->data, payload, n);
}

/* --------------------------------------------------------------- tests --- */

static void test_ethernet_ipv4(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct tu_bytes ip = { 0 }, f = { 0 };
	tcp4(&ip, F_ACK | F_PSH, "GET / HTTP/1.1\r\n\r\n");
	build_eth(&f, NULL, 0, 0x0800, &ip);
	struct sonde_chunk c;
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, (uint32_t)f.len, &c, &st), 1);
	check_v4(&c, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(c.flags, SONDE_CF_ACK);
	assert_int_equal(st.tcp_segments, 1);
	assert_int_equal(st.tcp_payload_bytes, 18);
	tu_bytes_free(&ip);
	tu_bytes_free(&f);
}

static void test_tcp_flags(void **state)
{
	(void)state;
	static const uint8_t in[] = { F_SYN, F_SYN | F_ACK, F_FIN | F_ACK, F_RST, F_RST | F_ACK,
				      F_URG | F_PSH | F_ACK | F_FIN };
	static const uint8_t want[] = { SONDE_CF_SYN, SONDE_CF_SYN | SONDE_CF_ACK,
					SONDE_CF_FIN | SONDE_CF_ACK, SONDE_CF_RST,
					SONDE_CF_RST | SONDE_CF_ACK, SONDE_CF_ACK | SONDE_CF_FIN };
	for (size_t i = 0; i < sizeof(in); i++) {
		struct sonde_stats st = { 0 };
		struct tu_bytes ip = { 0 };
		tcp4(&ip, in[i], "");
		struct sonde_chunk c;
		assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 1);
		assert_int_equal(c.flags, want[i]);
		assert_int_equal(c.caplen, 0);
		assert_int_equal(c.wirelen, 0);
		tu_bytes_free(&ip);
	}
}

static void test_vlan_tags(void **state)
{
	(void)state;
	static const uint16_t q1[] = { 0x8100 };
	static const uint16_t qinq[] = { 0x88a8, 0x8100 };
	static const uint16_t old_qinq[] = { 0x9100, 0x8100 };
	static const uint16_t triple[] = { 0x88a8, 0x8100, 0x8100 };
	const uint16_t *sets[] = { q1, qinq, old_qinq, triple };
	size_t counts[] = { 1, 2, 2, 3 };
	for (size_t k = 0; k < 4; k++) {
		struct sonde_stats st = { 0 };
		struct tu_bytes ip = { 0 }, f = { 0 };
		tcp4(&ip, F_ACK, "tagged");
		build_eth(&f, sets[k], counts[k], 0x0800, &ip);
		struct sonde_chunk c;
		assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, (uint32_t)f.len, &c, &st), 1);
		check_v4(&c, "tagged");
		tu_bytes_free(&ip);
		tu_bytes_free(&f);
	}
	/* IPv6 inside 802.1Q. */
	struct sonde_stats st = { 0 };
	struct tu_bytes ip = { 0 }, f = { 0 };
	tcp6(&ip, 6, NULL, "v6 in vlan");
	build_eth(&f, q1, 1, 0x86dd, &ip);
	struct sonde_chunk c;
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, (uint32_t)f.len, &c, &st), 1);
	check_v6(&c, "v6 in vlan");
	tu_bytes_free(&ip);
	tu_bytes_free(&f);
}

static void test_sll_sll2(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct tu_bytes ip = { 0 }, f = { 0 };
	tcp4(&ip, F_ACK, "cooked");
	/* SLL: packet type, ARPHRD, address length, address (8), protocol. */
	tu_be16(&f, 0);
	tu_be16(&f, 1);
	tu_be16(&f, 6);
	tu_bytes_put(&f, "\x00\x11\x22\x33\x44\x55\x00\x00", 8);
	tu_be16(&f, 0x0800);
	tu_bytes_put(&f, ip.p, ip.len);
	struct sonde_chunk c;
	assert_int_equal(decode(SONDE_LINKTYPE_LINUX_SLL, &f, (uint32_t)f.len, &c, &st), 1);
	check_v4(&c, "cooked");
	tu_bytes_free(&f);

	/* SLL2: protocol, reserved, ifindex, ARPHRD, packet type, addr len, addr. */
	tu_be16(&f, 0x0800);
	tu_be16(&f, 0);
	tu_be32(&f, 3);
	tu_be16(&f, 1);
	tu_u8(&f, 4);
	tu_u8(&f, 6);
	tu_bytes_put(&f, "\x00\x11\x22\x33\x44\x55\x00\x00", 8);
	assert_int_equal(f.len, 20);
	tu_bytes_put(&f, ip.p, ip.len);
	assert_int_equal(decode(SONDE_LINKTYPE_LINUX_SLL2, &f, (uint32_t)f.len, &c, &st), 1);
	check_v4(&c, "cooked");
	tu_bytes_free(&f);

	/* SLL2 carrying IPv6. */
	struct tu_bytes ip6 = { 0 };
	tcp6(&ip6, 6, NULL, "cooked6");
	tu_be16(&f, 0x86dd);
	tu_bytes_zero(&f, 18);
	tu_bytes_put(&f, ip6.p, ip6.len);
	assert_int_equal(decode(SONDE_LINKTYPE_LINUX_SLL2, &f, (uint32_t)f.len, &c, &st), 1);
	check_v6(&c, "cooked6");
	/* Too short for the link header. */
	assert_int_equal(decode(SONDE_LINKTYPE_LINUX_SLL2, &f, 19, &c, &st), 0);
	assert_int_equal(decode(SONDE_LINKTYPE_LINUX_SLL, &f, 15, &c, &st), 0);
	assert_int_equal(st.frames_malformed, 2);
	tu_bytes_free(&f);
	tu_bytes_free(&ip6);
	tu_bytes_free(&ip);
}

static void test_null_loop(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct tu_bytes ip = { 0 }, ip6 = { 0 }, f = { 0 };
	tcp4(&ip, F_ACK, "loopback");
	tcp6(&ip6, 6, NULL, "loopback6");
	struct sonde_chunk c;
	/* NULL: the address family in the writer's byte order. */
	uint32_t af = 2;
	tu_bytes_put(&f, &af, 4);
	tu_bytes_put(&f, ip.p, ip.len);
	assert_int_equal(decode(SONDE_LINKTYPE_NULL, &f, (uint32_t)f.len, &c, &st), 1);
	check_v4(&c, "loopback");
	tu_bytes_free(&f);
	/* The other byte order, and the BSDs' AF_INET6 values. */
	uint32_t afs[] = { 0x02000000u, 24, 28, 30, 0x18000000u };
	for (size_t i = 0; i < 5; i++) {
		tu_bytes_put(&f, &afs[i], 4);
		tu_bytes_put(&f, i ? ip6.p : ip.p, i ? ip6.len : ip.len);
		assert_int_equal(decode(SONDE_LINKTYPE_NULL, &f, (uint32_t)f.len, &c, &st), 1);
		if (i)
			check_v6(&c, "loopback6");
		else
			check_v4(&c, "loopback");
		tu_bytes_free(&f);
	}
	/* LOOP: network byte order. */
	tu_be32(&f, 2);
	tu_bytes_put(&f, ip.p, ip.len);
	assert_int_equal(decode(SONDE_LINKTYPE_LOOP, &f, (uint32_t)f.len, &c, &st), 1);
	check_v4(&c, "loopback");
	assert_int_equal(decode(SONDE_LINKTYPE_LOOP, &f, 3, &c, &st), 0);
	tu_bytes_free(&f);
	tu_bytes_free(&ip);
	tu_bytes_free(&ip6);
}

static void test_raw_ip(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct tu_bytes ip = { 0 }, ip6 = { 0 };
	tcp4(&ip, F_ACK, "raw4");
	tcp6(&ip6, 6, NULL, "raw6");
	struct sonde_chunk c;
	uint32_t links[] = { SONDE_LINKTYPE_RAW, 12, 14 };
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(decode(links[i], &ip, (uint32_t)ip.len, &c, &st), 1);
		check_v4(&c, "raw4");
		assert_int_equal(decode(links[i], &ip6, (uint32_t)ip6.len, &c, &st), 1);
		check_v6(&c, "raw6");
	}
	assert_int_equal(decode(SONDE_LINKTYPE_IPV4, &ip, (uint32_t)ip.len, &c, &st), 1);
	check_v4(&c, "raw4");
	assert_int_equal(decode(SONDE_LINKTYPE_IPV6, &ip6, (uint32_t)ip6.len, &c, &st), 1);
	check_v6(&c, "raw6");
	/* A version nibble that is neither. */
	ip.p[0] = 0x55;
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	assert_int_equal(st.frames_non_ip, 1);
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, 0, &c, &st), 0);
	tu_bytes_free(&ip);
	tu_bytes_free(&ip6);
}

static void test_ipv6_extension_headers(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct tu_bytes ext = { 0 }, ip = { 0 };
	/* hop-by-hop (8) -> routing (24) -> destination options (16) -> AH (24) -> TCP */
	tu_u8(&ext, 43);
	tu_u8(&ext, 0);
	tu_bytes_zero(&ext, 6);
	tu_u8(&ext, 60);
	tu_u8(&ext, 2);
	tu_bytes_zero(&ext, 22);
	tu_u8(&ext, 51);
	tu_u8(&ext, 1);
	tu_bytes_zero(&ext, 14);
	tu_u8(&ext, 6);
	tu_u8(&ext, 4); /* AH: (4 + 2) * 4 = 24 bytes */
	tu_bytes_zero(&ext, 22);
	tcp6(&ip, 0, &ext, "behind extension headers");
	struct sonde_chunk c;
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 1);
	check_v6(&c, "behind extension headers");
	tu_bytes_free(&ip);

	/* A fragment header: counted, not decoded. */
	struct tu_bytes frag = { 0 };
	tu_u8(&frag, 6);
	tu_u8(&frag, 0);
	tu_be16(&frag, 0x0001); /* offset 0, M set */
	tu_be32(&frag, 0xabcd);
	tcp6(&ip, 44, &frag, "fragment");
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	assert_int_equal(st.ipv6_fragments, 1);
	tu_bytes_free(&ip);
	/* ...also behind a hop-by-hop header. */
	struct tu_bytes ext2 = { 0 };
	tu_u8(&ext2, 44);
	tu_u8(&ext2, 0);
	tu_bytes_zero(&ext2, 6);
	tu_bytes_put(&ext2, frag.p, frag.len);
	tcp6(&ip, 0, &ext2, "fragment");
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	assert_int_equal(st.ipv6_fragments, 2);
	tu_bytes_free(&ip);
	/* An extension header whose length runs past the packet. */
	struct tu_bytes bad = { 0 };
	tu_u8(&bad, 6);
	tu_u8(&bad, 200);
	tu_bytes_zero(&bad, 6);
	tcp6(&ip, 0, &bad, "x");
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	assert_int_equal(st.frames_malformed, 1);
	tu_bytes_free(&ip);
	/* UDP in IPv6, behind a destination options header. */
	struct tu_bytes udp = { 0 }, dopt = { 0 };
	tu_u8(&dopt, 17);
	tu_u8(&dopt, 0);
	tu_bytes_zero(&dopt, 6);
	build_udp(&udp, 5353, 53, 0, "dns?", 4);
	build_ipv6(&ip, 60, &dopt, &udp);
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 1);
	assert_int_equal(st.udp_datagrams, 1);
	assert_int_equal(c.flow.l4, SONDE_L4_UDP);
	assert_int_equal(c.flow.src.family, AF_INET6);
	assert_int_equal(c.flow.src.port, 5353);
	assert_int_equal(c.flow.dst.port, 53);
	assert_bytes(c.data, c.caplen, "dns?", 4);
	tu_bytes_free(&dopt);
	tu_bytes_free(&ip);
	tu_bytes_free(&udp);
	tu_bytes_free(&bad);
	tu_bytes_free(&ext);
	tu_bytes_free(&ext2);
	tu_bytes_free(&frag);
}

static void test_ipv4_fragments(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct tu_bytes t = { 0 }, ip = { 0 };
	build_tcp(&t, 40000, 80, 1000, 2000, F_ACK, 0, "fragmented", 10);
	struct sonde_chunk c;
	uint16_t frags[] = { 0x2000 /* MF, offset 0 */, 0x0010 /* offset 16, last */,
			     0x2010 /* MF and offset */ };
	for (size_t i = 0; i < 3; i++) {
		build_ipv4(&ip, 6, frags[i], 0, &t);
		assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
		assert_int_equal(st.ipv4_fragments, i + 1);
		tu_bytes_free(&ip);
	}
	/* DF alone is not a fragment. */
	build_ipv4(&ip, 6, 0x4000, 0, &t);
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 1);
	check_v4(&c, "fragmented");
	assert_int_equal(st.ipv4_fragments, 3);
	tu_bytes_free(&ip);
	tu_bytes_free(&t);
}

static void test_ip_and_tcp_options(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct tu_bytes t = { 0 }, ip = { 0 };
	build_tcp(&t, 40000, 80, 1000, 2000, F_ACK, 12, "opts", 4);
	build_ipv4(&ip, 6, 0, 8, &t);
	struct sonde_chunk c;
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 1);
	check_v4(&c, "opts");
	tu_bytes_free(&ip);
	tu_bytes_free(&t);
}

static void test_ethernet_padding_trimmed(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct tu_bytes ip = { 0 }, f = { 0 };
	struct sonde_chunk c;
	/* A bare SYN: 40 bytes of IP in a 60-byte frame. */
	tcp4(&ip, F_SYN, "");
	build_eth(&f, NULL, 0, 0x0800, &ip);
	assert_int_equal(f.len, 60);
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, (uint32_t)f.len, &c, &st), 1);
	check_v4(&c, "");
	tu_bytes_free(&ip);
	tu_bytes_free(&f);
	/* Two bytes of payload, padded. */
	tcp4(&ip, F_ACK, "hi");
	build_eth(&f, NULL, 0, 0x0800, &ip);
	assert_int_equal(f.len, 60);
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, (uint32_t)f.len, &c, &st), 1);
	check_v4(&c, "hi");
	assert_int_equal(st.tcp_payload_bytes, 2);
	tu_bytes_free(&f);
	/* The same, VLAN-tagged. */
	static const uint16_t q1[] = { 0x8100 };
	build_eth(&f, q1, 1, 0x0800, &ip);
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, (uint32_t)f.len, &c, &st), 1);
	check_v4(&c, "hi");
	tu_bytes_free(&f);
	tu_bytes_free(&ip);
	/* IPv6 with 2 bytes of payload: 62 bytes of IP, no padding needed,
	 * but a frame with trailing bytes anyway (e.g. an FCS). */
	tcp6(&ip, 6, NULL, "hi");
	build_eth(&f, NULL, 0, 0x86dd, &ip);
	tu_be32(&f, 0xdeadbeef);
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, (uint32_t)f.len, &c, &st), 1);
	check_v6(&c, "hi");
	tu_bytes_free(&f);
	tu_bytes_free(&ip);
}

/* Captured short of what the IP header says: wirelen from the IP length. */
static void test_snaplen_truncated(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	char payload[1001];
	memset(payload, 'p', 1000);
	payload[1000] = 0;
	struct tu_bytes ip = { 0 }, f = { 0 };
	tcp4(&ip, F_ACK, payload);
	build_eth(&f, NULL, 0, 0x0800, &ip);
	struct sonde_chunk c;
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, 14 + 40 + 100, &c, &st), 1);
	assert_int_equal(c.caplen, 100);
	assert_int_equal(c.wirelen, 1000);
	assert_int_equal(st.tcp_payload_bytes, 1000);
	/* Cut inside the TCP header: nothing usable. */
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, 14 + 30, &c, &st), 0);
	assert_int_equal(st.frames_malformed, 1);
	tu_bytes_free(&ip);
	tu_bytes_free(&f);
}

static void test_not_tcp(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct tu_bytes l4 = { 0 }, ip = { 0 }, f = { 0 };
	struct sonde_chunk c;
	tu_bytes_zero(&l4, 8);
	build_ipv4(&ip, 1, 0, 0, &l4); /* ICMP */
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	assert_int_equal(st.other_l4, 1);
	/* ARP. */
	build_eth(&f, NULL, 0, 0x0806, &l4);
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, (uint32_t)f.len, &c, &st), 0);
	assert_int_equal(st.frames_non_ip, 1);
	/* A link type sonde does not decode. */
	assert_int_equal(decode(147, &f, (uint32_t)f.len, &c, &st), 0);
	assert_int_equal(st.frames_unsupported_link, 1);
	tu_bytes_free(&f);
	/* Inconsistent headers. */
	ip.p[0] = 0x44; /* IHL 16 bytes */
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	ip.p[0] = 0x45;
	tu_set_be16(&ip, 2, 10); /* total length < IHL */
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	assert_int_equal(st.frames_malformed, 2);
	tu_bytes_free(&ip);
	/* TCP data offset below 5, and beyond the segment. */
	struct tu_bytes t = { 0 };
	build_tcp(&t, 1, 2, 3, 4, F_ACK, 0, "x", 1);
	t.p[12] = 0x40;
	build_ipv4(&ip, 6, 0, 0, &t);
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	tu_bytes_free(&ip);
	t.p[12] = 0xf0;
	build_ipv4(&ip, 6, 0, 0, &t);
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	assert_int_equal(st.frames_malformed, 4);
	assert_int_equal(st.tcp_segments, 0);
	tu_bytes_free(&ip);
	tu_bytes_free(&t);
	tu_bytes_free(&l4);
	/* Ethernet frame shorter than its header. */
	struct tu_bytes tiny = { 0 };
	tu_bytes_zero(&tiny, 13);
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &tiny, 13, &c, &st), 0);
	assert_int_equal(st.frames_malformed, 5);
	tu_bytes_free(&tiny);
}

/* UDP: a chunk of the whole payload, lengths from the UDP header. */
static void test_udp(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct tu_bytes u = { 0 }, ip = { 0 }, f = { 0 };
	struct sonde_chunk c;
	static const char q[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00";
	build_udp(&u, 40001, 53, 0, q, 12);
	build_ipv4(&ip, 17, 0, 0, &u);
	build_eth(&f, NULL, 0, 0x0800, &ip); /* 14 + 20 + 20: padded to 60 */
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, (uint32_t)f.len, &c, &st), 1);
	assert_int_equal(c.flow.l4, SONDE_L4_UDP);
	assert_int_equal(c.flow.src.family, AF_INET);
	assert_bytes(c.flow.src.addr, 4, SRC4, 4);
	assert_bytes(c.flow.dst.addr, 4, DST4, 4);
	assert_int_equal(c.flow.src.port, 40001);
	assert_int_equal(c.flow.dst.port, 53);
	assert_int_equal(c.wirelen, 12); /* the Ethernet padding is not payload */
	assert_bytes(c.data, c.caplen, q, 12);
	assert_int_equal(c.flags, 0);
	assert_int_equal(c.seq, 0);
	assert_int_equal(c.ts_ns, 123456789);
	assert_int_equal(st.udp_datagrams, 1);
	assert_int_equal(st.tcp_segments, 0);
	/* Cut by the snap length: the wire's length, the bytes there are. */
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, 14 + 20 + 8 + 5, &c, &st), 1);
	assert_int_equal(c.caplen, 5);
	assert_int_equal(c.wirelen, 12);
	/* ...and inside the UDP header: nothing usable. */
	assert_int_equal(decode(SONDE_LINKTYPE_ETHERNET, &f, 14 + 20 + 7, &c, &st), 0);
	assert_int_equal(st.frames_malformed, 1);
	tu_bytes_free(&f);
	tu_bytes_free(&ip);
	tu_bytes_free(&u);
	/* A UDP length below the IP payload: the rest is not the datagram's. */
	build_udp(&u, 1, 2, 8 + 3, "abcdef", 6);
	build_ipv4(&ip, 17, 0, 0, &u);
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 1);
	assert_bytes(c.data, c.caplen, "abc", 3);
	assert_int_equal(c.wirelen, 3);
	tu_bytes_free(&ip);
	tu_bytes_free(&u);
	/* An empty datagram is still one. */
	build_udp(&u, 1, 2, 0, NULL, 0);
	build_ipv4(&ip, 17, 0, 0, &u);
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 1);
	assert_int_equal(c.caplen, 0);
	assert_int_equal(c.wirelen, 0);
	tu_bytes_free(&ip);
	tu_bytes_free(&u);
	/* Lengths that cannot be: past the IP payload, below the header. */
	build_udp(&u, 1, 2, 8 + 7, "abcdef", 6);
	build_ipv4(&ip, 17, 0, 0, &u);
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	tu_bytes_free(&ip);
	tu_bytes_free(&u);
	build_udp(&u, 1, 2, 7, "abcdef", 6);
	build_ipv4(&ip, 17, 0, 0, &u);
	assert_int_equal(decode(SONDE_LINKTYPE_RAW, &ip, (uint32_t)ip.len, &c, &st), 0);
	assert_int_equal(st.frames_malformed, 3);
	assert_int_equal(st.udp_datagrams, 4);
	tu_bytes_free(&ip);
	tu_bytes_free(&u);
}

/* The UDP frames of a real capture: DNS queries and responses. */
static void test_corpus_dns_udp(void **state)
{
	(void)state;
	const char *env = getenv("SONDE_CORPUS");
	const char *cands[] = { env, "../shared/corpus", "../../shared/corpus" };
	int fd = -1;
	for (size_t i = 0; i < sizeof(cands) / sizeof(*cands) && fd < 0; i++) {
		char path[1024];
		if (!cands[i] || !*cands[i])
			continue;
		snprintf(path, sizeof(path), "%s/dns/arkime-dns-udp.pcap", cands[i]);
		fd = open(path, O_RDONLY);
	}
	if (fd < 0) {
		print_message("dns/arkime-dns-udp.pcap not found (set SONDE_CORPUS): skipped\n");
		skip();
	}
	struct sonde_capfile *cf = sonde_capfile_open_fd(fd, "arkime-dns-udp.pcap");
	assert_non_null(cf);
	struct sonde_stats st = { 0 };
	struct sonde_frame f;
	struct sonde_chunk c;
	int n = 0, queries = 0, responses = 0;
	uint64_t bytes = 0;
	while (sonde_capfile_next(cf, &f) == 1) {
		assert_int_equal(sonde_decode_packet(f.linktype, f.data, f.caplen, f.wirelen, f.ts_ns,
						     &c, &st),
				 1);
		assert_int_equal(c.flow.l4, SONDE_L4_UDP);
		assert_true(c.flow.src.port == 53 || c.flow.dst.port == 53);
		assert_int_equal(c.caplen, c.wirelen);
		assert_true(c.caplen >= 12); /* a DNS header */
		/* The QR bit agrees with the direction: queries go to port 53. */
		bool response = c.data[2] & 0x80;
		assert_int_equal(response, c.flow.src.port == 53);
		queries += !response;
		responses += response;
		bytes += c.wirelen;
		n++;
	}
	sonde_capfile_close(cf);
	close(fd);
	/* SOURCES.md: 5 packets, 3 queries and 2 responses. */
	assert_int_equal(n, 5);
	assert_int_equal(queries, 3);
	assert_int_equal(responses, 2);
	assert_int_equal(st.udp_datagrams, 5);
	assert_true(bytes > 5 * 12);
}

/* Every prefix of some complex frames: never a read outside the frame,
 * always exactly one counter, and a chunk only with consistent lengths. */
static void test_every_truncation(void **state)
{
	(void)state;
	struct tu_bytes frames[5] = { { 0 } };
	uint32_t links[5];
	/* 1: Ethernet + QinQ + IPv6 + ext headers + TCP with options. */
	{
		struct tu_bytes ext = { 0 }, t = { 0 }, ip = { 0 };
		tu_u8(&ext, 60);
		tu_u8(&ext, 0);
		tu_bytes_zero(&ext, 6);
		tu_u8(&ext, 6);
		tu_u8(&ext, 1);
		tu_bytes_zero(&ext, 14);
		build_tcp(&t, 1234, 80, 1, 2, F_ACK, 8, "payload bytes", 13);
		build_ipv6(&ip, 0, &ext, &t);
		static const uint16_t qinq[] = { 0x88a8, 0x8100 };
		build_eth(&frames[0], qinq, 2, 0x86dd, &ip);
		links[0] = SONDE_LINKTYPE_ETHERNET;
		tu_bytes_free(&ext);
		tu_bytes_free(&t);
		tu_bytes_free(&ip);
	}
	/* 2: SLL2 + IPv4 with options + TCP. */
	{
		struct tu_bytes t = { 0 }, ip = { 0 };
		build_tcp(&t, 1234, 80, 1, 2, F_ACK, 4, "abc", 3);
		build_ipv4(&ip, 6, 0, 4, &t);
		tu_be16(&frames[1], 0x0800);
		tu_bytes_zero(&frames[1], 18);
		tu_bytes_put(&frames[1], ip.p, ip.len);
		links[1] = SONDE_LINKTYPE_LINUX_SLL2;
		tu_bytes_free(&t);
		tu_bytes_free(&ip);
	}
	/* 3: NULL + IPv6 + AH + TCP. */
	{
		struct tu_bytes ext = { 0 }, ip = { 0 };
		tu_u8(&ext, 6);
		tu_u8(&ext, 1); /* (1 + 2) * 4 = 12 bytes */
		tu_bytes_zero(&ext, 10);
		tcp6(&ip, 51, &ext, "ah");
		uint32_t af = 30;
		tu_bytes_put(&frames[2], &af, 4);
		tu_bytes_put(&frames[2], ip.p, ip.len);
		links[2] = SONDE_LINKTYPE_NULL;
		tu_bytes_free(&ext);
		tu_bytes_free(&ip);
	}
	/* 4: SLL + IPv4 + TCP. */
	{
		struct tu_bytes ip = { 0 };
		tcp4(&ip, F_ACK, "sll");
		tu_bytes_zero(&frames[3], 14);
		tu_be16(&frames[3], 0x0800);
		tu_bytes_put(&frames[3], ip.p, ip.len);
		links[3] = SONDE_LINKTYPE_LINUX_SLL;
		tu_bytes_free(&ip);
	}
	/* 5: Ethernet + 802.1Q + IPv4 + UDP. */
	{
		struct tu_bytes u = { 0 }, ip = { 0 };
		build_udp(&u, 40000, 53, 0, "a datagram", 10);
		build_ipv4(&ip, 17, 0, 0, &u);
		static const uint16_t vlan[] = { 0x8100 };
		build_eth(&frames[4], vlan, 1, 0x0800, &ip);
		links[4] = SONDE_LINKTYPE_ETHERNET;
		tu_bytes_free(&u);
		tu_bytes_free(&ip);
	}
	for (int k = 0; k < 5; k++) {
		struct sonde_stats st = { 0 };
		struct sonde_chunk c;
		int ok_full = decode(links[k], &frames[k], (uint32_t)frames[k].len, &c, &st);
		assert_int_equal(ok_full, 1);
		uint32_t full_cap = c.caplen;
		for (uint32_t n = 0; n < frames[k].len; n++) {
			int rc = decode(links[k], &frames[k], n, &c, &st);
			if (rc == 1)
				assert_true(c.caplen <= full_cap);
		}
		tu_bytes_free(&frames[k]);
	}
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_ethernet_ipv4),
		tu_test(test_tcp_flags),
		tu_test(test_vlan_tags),
		tu_test(test_sll_sll2),
		tu_test(test_null_loop),
		tu_test(test_raw_ip),
		tu_test(test_ipv6_extension_headers),
		tu_test(test_ipv4_fragments),
		tu_test(test_ip_and_tcp_options),
		tu_test(test_ethernet_padding_trimmed),
		tu_test(test_snaplen_truncated),
		tu_test(test_not_tcp),
		tu_test(test_udp),
		tu_test(test_corpus_dns_udp),
		tu_test(test_every_truncation),
	};
	return cmocka_run_group_tests_name("packet", tests, NULL, NULL);
}
