/* SPDX-License-Identifier: MIT */
/*
 * DNS: the message parser (every record type it names, compression with
 * its loops, forward and out-of-range pointers, truncation at every length,
 * counts larger than the message), the plausibility check and the probe,
 * the dissector over TCP (split at every offset, byte by byte, several
 * messages to a segment, gaps) and over UDP through the connection table's
 * datagram path, pairing by key and unanswered queries.
 */
#include "testutil.h"

#include <sys/socket.h>

#include "conn/conntable.h"
#include "proto/dns/dns_msg.h"
#include "proto/dns/dns_names.h"
#include "proto/dns/dns_wire.h"

#define MS 1000000ull
#define SEC 1000000000ull

extern const struct sonde_dissector sonde_dissector_dns;

/* ------------------------------------------------------------ building --- */

static void put_name(struct tu_bytes *b, const char *dotted)
{
	while (*dotted) {
		const char *dot = strchr(dotted, '.');
		size_t l = dot ? (size_t)(dot - dotted) : strlen(dotted);
		tu_u8(b, (uint8_t)l);
		tu_bytes_put(b, dotted, l);
		dotted += l + (dot ? 1 : 0);
	}
	tu_u8(b, 0);
}

static void put_header(struct tu_bytes *b, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
		       uint16_t ns, uint16_t ar)
{
	tu_be16(b, id);
	tu_be16(b, flags);
	tu_be16(b, qd);
	tu_be16(b, an);
	tu_be16(b, ns);
	tu_be16(b, ar);
}

static void put_question(struct tu_bytes *b, const char *name, uint16_t type)
{
	put_name(b, name);
	tu_be16(b, type);
	tu_be16(b, 1);
}

/* A record whose owner points at the first question (offset 12). */
static void put_rr(struct tu_bytes *b, uint16_t type, uint32_t ttl, const void *rd, size_t n)
{
	tu_be16(b, 0xc00c);
	tu_be16(b, type);
	tu_be16(b, 1);
	tu_be32(b, ttl);
	tu_be16(b, (uint16_t)n);
	tu_bytes_put(b, rd, n);
}

static struct sonde_dns_msg *parse(const struct tu_bytes *b, int want)
{
	struct sonde_dns_msg *m = sonde_dns_msg_new();
	int r = sonde_dns_parse(m, b->p, b->len);
	if (r != want)
		fail_msg("parse returned %d, wanted %d (%s)", r, want, m->error ? m->error : "");
	return m;
}

/* A kept string as a C string (the message's text is not NUL-separated). */
static const char *txt(const struct sonde_dns_msg *m, struct sonde_dns_str s)
{
	static char b[4][2048];
	static int k;
	char *o = b[k++ & 3];
	snprintf(o, sizeof(b[0]), "%.*s", (int)s.len, sonde_dns_txt(m, s));
	return o;
}

static void msg_free(struct sonde_dns_msg *m)
{
	sonde_msg_free(&m->base);
}

/* A query for `name` of type `type`, and its answer with one A record. */
static void query(struct tu_bytes *b, uint16_t id, const char *name, uint16_t type)
{
	put_header(b, id, SONDE_DNS_RD, 1, 0, 0, 0);
	put_question(b, name, type);
}

static void answer_a(struct tu_bytes *b, uint16_t id, const char *name, uint16_t type,
		     uint8_t last)
{
	static uint8_t ip[4] = { 192, 0, 2, 0 };
	ip[3] = last;
	put_header(b, id, SONDE_DNS_QR | SONDE_DNS_RD | SONDE_DNS_RA, 1, 1, 0, 0);
	put_question(b, name, type);
	put_rr(b, 1, 300, ip, 4);
}

/* -------------------------------------------------------- record types --- */

struct rdcase {
	uint16_t type;
	const char *type_name;
	const char *hex; /* rdata */
	const char *text; /* its presentation form */
};

/* Every type with a decoder, and the generic form for the rest. */
static const struct rdcase rdcases[] = {
	{ 1, "A", "c0000201", "192.0.2.1" },
	{ 28, "AAAA", "20010db8000000000000000000000001", "2001:db8::1" },
	{ 2, "NS", "036e7331c00c", "ns1.example.com" },
	{ 5, "CNAME", "0377777705696e6e657203636f6d00", "www.inner.com" },
	{ 12, "PTR", "c00c", "example.com" },
	{ 39, "DNAME", "c00c", "example.com" },
	{ 15, "MX", "000a046d61696cc00c", "10 mail.example.com" },
	{ 6, "SOA", "026e73c00c02686dc00c78ae6b35000000010000000200000003000000 04",
	  "ns.example.com hm.example.com 2024696629 1 2 3 4" },
	{ 16, "TXT", "0b763d73706631202d616c6c03612262", "\"v=spf1 -all\" \"a\\\"b\"" },
	{ 99, "SPF", "0378797a", "\"xyz\"" },
	{ 13, "HINFO", "03783836054c696e7578", "\"x86\" \"Linux\"" },
	{ 33, "SRV", "000a001413c403736970c00c", "10 20 5060 sip.example.com" },
	{ 35, "NAPTR", "0064000a0155075349502b4432550000", "100 10 \"U\" \"SIP+D2U\" \"\" ." },
	{ 257, "CAA", "0005697373756565786d706c2e6f7267", "0 issue \"exmpl.org\"" },
	{ 65, "HTTPS", "000100000100060268320268330003000201bb000400 04c0000201",
	  "1 . alpn=h2,h3 port=443 ipv4hint=192.0.2.1" },
	{ 64, "SVCB", "0002c00c00020000006300 02abcd", "2 example.com no-default-alpn key99=abcd" },
	{ 43, "DS", "30390802a1b2c3", "12345 8 2 a1b2c3" },
	{ 48, "DNSKEY", "0101030803010001", "257 3 8 AwEAAQ==" },
	{ 46, "RRSIG", "000108020000 0e10 65920080 65692200 3039 076578616d706c6503636f6d00 0102",
	  "A 8 2 3600 20240101000000 20231201000000 12345 example.com AQI=" },
	{ 47, "NSEC", "046e657874c00c0006600000000003", "next.example.com A NS RRSIG NSEC" },
	{ 50, "NSEC3", "0100000a02aabb0500000000000001 40", "1 0 10 aabb 00000000 A" },
	{ 51, "NSEC3PARAM", "0100000a00", "1 0 10 -" },
	{ 44, "SSHFP", "0101abcd", "1 1 abcd" },
	{ 52, "TLSA", "030101ff", "3 1 1 ff" },
	{ 256, "URI", "000a000168747470733a2f2f782f", "10 1 \"https://x/\"" },
	{ 65280, "TYPE65280", "010203", "\\# 3 010203" },
	{ 1, "A", "c00002", "\\# 3 c00002" }, /* an A record of 3 bytes: generic */
	{ 11, "WKS", "", "\\# 0" },
};

static void hex_put(struct tu_bytes *b, const char *hex)
{
	for (const char *p = hex; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		unsigned v;
		if (sscanf(p, "%2x", &v) != 1)
			fail_msg("bad hex in test: %s", hex);
		tu_u8(b, (uint8_t)v);
		p += 2;
	}
}

static void test_rr_types(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rdcases) / sizeof(*rdcases); i++) {
		const struct rdcase *c = &rdcases[i];
		struct tu_bytes rd = { 0 }, b = { 0 };
		hex_put(&rd, c->hex);
		put_header(&b, 7, SONDE_DNS_QR, 1, 1, 0, 0);
		put_question(&b, "example.com", c->type);
		put_rr(&b, c->type, 60, rd.p, rd.len);
		struct sonde_dns_msg *m = parse(&b, 0);
		assert_int_equal(m->nrr, 1);
		char tb[16];
		assert_string_equal(sonde_dns_type_name(c->type, tb, sizeof(tb)), c->type_name);
		if (strcmp(txt(m, m->rr[0].data), c->text))
			fail_msg("type %u: \"%s\", expected \"%s\"", c->type,
				 txt(m, m->rr[0].data), c->text);
		assert_string_equal(txt(m, m->rr[0].name), "example.com");
		msg_free(m);
		free(rd.p);
		free(b.p);
	}
}

static void test_code_names(void **state)
{
	(void)state;
	char b[16];
	assert_string_equal(sonde_dns_rcode_name(3, b, sizeof(b)), "NXDOMAIN");
	assert_string_equal(sonde_dns_rcode_name(23, b, sizeof(b)), "BADCOOKIE");
	assert_string_equal(sonde_dns_rcode_name(12, b, sizeof(b)), "RCODE12");
	assert_string_equal(sonde_dns_opcode_name(5, b, sizeof(b)), "UPDATE");
	assert_string_equal(sonde_dns_opcode_name(9, b, sizeof(b)), "OPCODE9");
	assert_string_equal(sonde_dns_class_name(3, b, sizeof(b)), "CH");
	assert_string_equal(sonde_dns_class_name(7, b, sizeof(b)), "CLASS7");
	assert_string_equal(sonde_dns_type_name(255, b, sizeof(b)), "ANY");
	assert_string_equal(sonde_dns_type_name(252, b, sizeof(b)), "AXFR");
}

/* ------------------------------------------------------------ EDNS, rcode --- */

static void test_edns_and_extended_rcode(void **state)
{
	(void)state;
	struct tu_bytes b = { 0 };
	put_header(&b, 9, SONDE_DNS_QR | 0x0006 /* low bits of BADCOOKIE (23) */, 1, 0, 0, 1);
	put_question(&b, "example.com", 1);
	tu_u8(&b, 0); /* root */
	tu_be16(&b, 41);
	tu_be16(&b, 1232); /* UDP size */
	tu_be32(&b, 0x01008000); /* ext rcode 1, version 0, DO */
	tu_be16(&b, 12);
	tu_be16(&b, 10); /* COOKIE */
	tu_be16(&b, 8);
	hex_put(&b, "0102030405060708");
	struct sonde_dns_msg *m = parse(&b, 0);
	assert_true(m->edns.present);
	assert_int_equal(m->edns.udp_size, 1232);
	assert_true(m->edns.do_bit);
	assert_int_equal(m->rcode, 22);
	assert_int_equal(m->edns.nopts, 1);
	assert_int_equal(m->edns.opts[0].code, 10);
	assert_string_equal(txt(m, m->edns.opts[0].data), "0102030405060708");
	assert_int_equal(m->nrr, 0); /* OPT is EDNS, not an additional record */
	msg_free(m);
	free(b.p);
}

/* -------------------------------------------------------- compression --- */

static int name_at(const struct tu_bytes *b, size_t off, char *out, size_t len)
{
	struct sonde_buf o = { 0 };
	size_t next = 0;
	int r = sonde_dns_name(b->p, b->len, off, &next, &o);
	snprintf(out, len, "%.*s", (int)o.len, o.p ? (const char *)o.p : "");
	sonde_buf_free(&o);
	return r;
}

static void test_compression(void **state)
{
	(void)state;
	char s[300];
	struct tu_bytes b = { 0 };
	put_header(&b, 1, 0, 1, 0, 0, 0);
	put_question(&b, "example.com", 1); /* 12..28 */
	size_t www = b.len;
	tu_u8(&b, 3);
	tu_bytes_str(&b, "www");
	tu_be16(&b, 0xc00c); /* a suffix earlier: fine */
	assert_int_equal(name_at(&b, www, s, sizeof(s)), 0);
	assert_string_equal(s, "www.example.com");
	size_t self = b.len;
	tu_be16(&b, (uint16_t)(0xc000 | self)); /* points at itself */
	assert_int_equal(name_at(&b, self, s, sizeof(s)), -1);
	size_t fwd = b.len;
	tu_be16(&b, (uint16_t)(0xc000 | (fwd + 2))); /* forward */
	put_name(&b, "later");
	assert_int_equal(name_at(&b, fwd, s, sizeof(s)), -1);
	size_t out = b.len;
	tu_be16(&b, 0xffff); /* beyond the message */
	assert_int_equal(name_at(&b, out, s, sizeof(s)), -1);
	/* A two-name loop: x's pointer goes back to y, y's label run reaches x. */
	size_t y = b.len;
	tu_u8(&b, 1);
	tu_bytes_str(&b, "y");
	tu_be16(&b, (uint16_t)(0xc000 | (b.len + 2))); /* y -> x, forward: refused */
	tu_u8(&b, 1);
	tu_bytes_str(&b, "x");
	tu_be16(&b, (uint16_t)(0xc000 | y));
	assert_int_equal(name_at(&b, y, s, sizeof(s)), -1);
	assert_int_equal(name_at(&b, y + 4, s, sizeof(s)), -1); /* x -> y -> x */
	size_t ext = b.len;
	tu_u8(&b, 0x41); /* extended label type */
	tu_u8(&b, 0);
	assert_int_equal(name_at(&b, ext, s, sizeof(s)), -1);
	size_t cut = b.len;
	tu_u8(&b, 10); /* a label past the end */
	tu_bytes_str(&b, "abc");
	assert_int_equal(name_at(&b, cut, s, sizeof(s)), SONDE_DNS_NAME_SHORT);
	free(b.p);
}

static void test_name_limits(void **state)
{
	(void)state;
	char s[1200];
	struct tu_bytes b = { 0 };
	for (int i = 0; i < 4; i++) { /* 4 x 64 octets: 256 with the root */
		tu_u8(&b, 63);
		for (int k = 0; k < 63; k++)
			tu_u8(&b, 'a');
	}
	tu_u8(&b, 0);
	assert_int_equal(name_at(&b, 0, s, sizeof(s)), -1);
	b.len = 0;
	for (int i = 0; i < 3; i++) {
		tu_u8(&b, 63);
		for (int k = 0; k < 63; k++)
			tu_u8(&b, 'a');
	}
	tu_u8(&b, 61);
	for (int k = 0; k < 61; k++)
		tu_u8(&b, 'a');
	tu_u8(&b, 0); /* 255 octets: the longest allowed */
	assert_int_equal(name_at(&b, 0, s, sizeof(s)), 0);
	assert_int_equal(strlen(s), 253);
	/* Escapes: a dot inside a label, a byte that is not printable. */
	b.len = 0;
	tu_u8(&b, 3);
	tu_bytes_put(&b, "a.\x01", 3);
	tu_u8(&b, 0);
	assert_int_equal(name_at(&b, 0, s, sizeof(s)), 0);
	assert_string_equal(s, "a\\.\\001");
	b.len = 0;
	tu_u8(&b, 0);
	assert_int_equal(name_at(&b, 0, s, sizeof(s)), 0);
	assert_string_equal(s, ".");
	free(b.p);
}

/* ------------------------------------------------- truncation, counts --- */

/* A response from the corpus (tcpdump-dns_udp.pcap, frame 2). */
static const char corpus_response[] =
	"593485000001000200020005037777770774637064756d70036f72670000010001c00c0001000100"
	"00003c0004c08b2e42c00c000100010000003c0004c6c75868c0100002000100015180001203736e"
	"7308636f6f7065726978036e657400c01000020001000151800012036e69630973616e64656c6d61"
	"6e02636100c06b000100010000012c0004d157f912c06b001c00010000012c00102607f0b0000f00"
	"0000000000babef00dc04d0001000100001c200004616b850fc04d001c000100001c20001026003c"
	"0300000000f03c91fffe96e8ef0000291000000000000000";

static void test_corpus_message_and_truncation(void **state)
{
	(void)state;
	struct tu_bytes b = { 0 };
	hex_put(&b, corpus_response);
	struct sonde_dns_msg *m = parse(&b, 0);
	assert_int_equal(m->id, 0x5934);
	assert_int_equal(m->nq, 1);
	assert_string_equal(txt(m, m->q[0].name), "www.tcpdump.org");
	assert_int_equal(m->count[1], 2);
	assert_int_equal(m->nrr, 8);
	assert_string_equal(txt(m, m->rr[1].data), "198.199.88.104");
	assert_string_equal(txt(m, m->rr[2].data), "sns.cooperix.net");
	assert_string_equal(txt(m, m->rr[5].data), "2607:f0b0:f::babe:f00d");
	assert_int_equal(m->rr[1].addr[3], 104);
	assert_true(m->edns.present);
	assert_int_equal(sonde_dns_check(b.p, b.len, b.len), SONDE_DNS_RESPONSE);
	msg_free(m);
	/* Cut at every length: never a whole parse, never past the bytes. */
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *copy = tu_xmalloc(n); /* ASan catches any over-read */
		memcpy(copy, b.p, n);
		struct sonde_dns_msg *t = sonde_dns_msg_new();
		int r = sonde_dns_parse(t, copy, n);
		assert_true(r != 0);
		if (n < 33) /* header and question: 12 + 17 + 4 */
			assert_int_equal(r, -1);
		else
			assert_int_equal(r, 1);
		enum sonde_dns_kind k = sonde_dns_check(copy, n, b.len);
		assert_true(k == (n < 12 ? SONDE_DNS_MORE : n < 33 ? SONDE_DNS_MORE : SONDE_DNS_RESPONSE));
		msg_free(t);
		free(copy);
	}
	free(b.p);
}

static void test_huge_counts(void **state)
{
	(void)state;
	struct tu_bytes b = { 0 };
	put_header(&b, 1, SONDE_DNS_QR, 1, 0xffff, 0xffff, 0xffff);
	put_question(&b, "example.com", 1);
	struct sonde_dns_msg *m = parse(&b, 1);
	assert_non_null(m->error);
	assert_int_equal(m->nrr, 0);
	assert_int_equal(sonde_dns_check(b.p, b.len, b.len), SONDE_DNS_NO);
	msg_free(m);
	/* More records than are kept: the rest are counted. */
	b.len = 0;
	put_header(&b, 2, SONDE_DNS_QR, 1, 300, 0, 0);
	put_question(&b, "example.com", 1);
	for (int i = 0; i < 300; i++) {
		uint8_t ip[4] = { 10, 0, (uint8_t)(i >> 8), (uint8_t)i };
		put_rr(&b, 1, 1, ip, 4);
	}
	m = parse(&b, 0);
	assert_int_equal(m->nrr, SONDE_DNS_MAX_RRS);
	assert_int_equal(m->omitted, 300 - SONDE_DNS_MAX_RRS);
	msg_free(m);
	/* 17 questions: more than a plausible header holds. */
	b.len = 0;
	put_header(&b, 3, 0, 17, 0, 0, 0);
	for (int i = 0; i < 17; i++)
		put_question(&b, "a", 1);
	assert_int_equal(sonde_dns_check(b.p, b.len, b.len), SONDE_DNS_NO);
	/* A long rdata: its text is bounded and says so. */
	b.len = 0;
	put_header(&b, 4, SONDE_DNS_QR, 1, 1, 0, 0);
	put_question(&b, "example.com", 1);
	uint8_t big[4000];
	memset(big, 0xab, sizeof(big));
	put_rr(&b, 48, 1, big, sizeof(big));
	m = parse(&b, 0);
	assert_true(m->rr[0].data_cut);
	assert_true(m->rr[0].data.len <= SONDE_DNS_MAX_DATA);
	msg_free(m);
	free(b.p);
}

/* TC: a truncated answer is kept with what fits; the flag and summary say so. */
static void test_truncated_answer(void **state)
{
	(void)state;
	struct tu_bytes b = { 0 };
	put_header(&b, 11, SONDE_DNS_QR | SONDE_DNS_TC | SONDE_DNS_RD, 1, 3, 0, 0);
	put_question(&b, "big.example", 16);
	put_rr(&b, 16, 5, "\x05hello", 6);
	put_rr(&b, 16, 5, "\x05world", 6);
	b.len -= 3; /* the last record cut off, as a server may */
	assert_int_equal(sonde_dns_check(b.p, b.len, b.len), SONDE_DNS_RESPONSE);
	struct sonde_dns_msg *m = parse(&b, 1);
	assert_int_equal(m->nrr, 1);
	assert_string_equal(txt(m, m->rr[0].data), "\"hello\"");
	struct sonde_buf o = { 0 };
	m->base.ops->summary(&m->base, &o);
	assert_bytes(o.p, o.len, "NOERROR 3 answers [tc]", 22);
	sonde_buf_reset(&o);
	struct sonde_json_fields j;
	sonde_json_fields_init(&j, &o, false);
	m->base.ops->fields(&m->base, &sonde_json_field_ops, &j);
	sonde_buf_putc(&o, 0);
	assert_non_null(strstr((const char *)o.p, "\"flags\":[\"tc\",\"rd\"]"));
	assert_non_null(strstr((const char *)o.p, "\"malformed\":"));
	sonde_buf_free(&o);
	msg_free(m);
	free(b.p);
}

/* ------------------------------------------------------------- probing --- */

static void test_probe(void **state)
{
	(void)state;
	const struct sonde_dissector *d = &sonde_dissector_dns;
	const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(d->probe((const uint8_t *)http, strlen(http)), SONDE_PROBE_NO);
	static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03,
				       0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	assert_int_equal(d->probe(tls, sizeof(tls)), SONDE_PROBE_NO);
	struct tu_bytes q = { 0 }, t = { 0 };
	query(&q, 0x1234, "example.com", 1);
	assert_int_equal(d->probe(q.p, q.len), SONDE_PROBE_CLIENT); /* a datagram */
	tu_be16(&t, (uint16_t)q.len);
	tu_bytes_put(&t, q.p, q.len);
	assert_int_equal(d->probe(t.p, t.len), SONDE_PROBE_CLIENT); /* over TCP */
	for (size_t n = 0; n < 2 + 12 + 13; n++) /* the question not all there yet */
		assert_int_equal(d->probe(t.p, n), SONDE_PROBE_MORE);
	t.len = 0;
	answer_a(&t, 1, "example.com", 1, 1);
	assert_int_equal(d->probe(t.p, t.len), SONDE_PROBE_SERVER);
	/* A standard query carrying answers is no query. */
	t.p[6] = 0, t.p[7] = 1;
	t.p[2] &= 0x7f;
	assert_int_equal(d->probe(t.p, t.len), SONDE_PROBE_NO);
	free(q.p);
	free(t.p);
}

/* ----------------------------------------------------- dissector, TCP --- */

/* The tu_h1 harness (a session writing into a collector) with DNS opened. */
static void dns_open(struct tu_h1 *h)
{
	tu_h1_open(h, NULL, false, false);
	h->d->close(h->state, 0);
	h->info.server.port = 53;
	h->d = &sonde_dissector_dns;
	h->state = h->d->open(&h->sess);
}

/* Three queries in one write, answered in another order in one write. */
static void conversation(struct tu_bytes *c2s, struct tu_bytes *s2c)
{
	static const char *const names[] = { "a.example", "b.example", "c.example" };
	for (int i = 0; i < 3; i++) {
		struct tu_bytes m = { 0 };
		query(&m, (uint16_t)(100 + i), names[i], 1);
		tu_be16(c2s, (uint16_t)m.len);
		tu_bytes_put(c2s, m.p, m.len);
		free(m.p);
	}
	static const int order[] = { 2, 0, 1 };
	for (int k = 0; k < 3; k++) {
		int i = order[k];
		struct tu_bytes m = { 0 };
		answer_a(&m, (uint16_t)(100 + i), names[i], 1, (uint8_t)i);
		tu_be16(s2c, (uint16_t)m.len);
		tu_bytes_put(s2c, m.p, m.len);
		free(m.p);
	}
}

/* Every record pairs query i with answer i (by id and question). */
static void check_paired(const struct tu_h1 *h, size_t want)
{
	tu_collector_ok(&h->col);
	if (h->col.n != want) {
		tu_collector_dump(&h->col, "records");
		fail_msg("%zu records, expected %zu", h->col.n, want);
	}
	for (size_t i = 0; i < h->col.n; i++) {
		const struct tu_rec *r = &h->col.r[i];
		assert_true(r->req.present && r->resp.present);
		struct tj *o = tj_parse(r->json, r->json_len);
		assert_non_null(o);
		const struct tj *req = tj_get(o, "request"), *resp = tj_get(o, "response");
		assert_int_equal(tj_u64(tj_get(req, "id")), tj_u64(tj_get(resp, "id")));
		const struct tj *ans = tj_at(tj_get(resp, "answers"), 0);
		char want_ip[16];
		snprintf(want_ip, sizeof(want_ip), "192.0.2.%u", (unsigned)(tj_u64(tj_get(req, "id")) - 100));
		assert_string_equal(tj_cstr(tj_get(ans, "data")), want_ip);
		tj_free(o);
	}
}

static void test_tcp_split_everywhere(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	conversation(&c2s, &s2c);
	for (size_t cut = 0; cut <= c2s.len; cut++) {
		static struct tu_h1 h;
		dns_open(&h);
		tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, cut, MS);
		tu_h1_data(&h, SONDE_DIR_C2S, c2s.p + cut, c2s.len - cut, 2 * MS);
		size_t sc = cut < s2c.len ? cut : s2c.len;
		tu_h1_data(&h, SONDE_DIR_S2C, s2c.p, sc, 3 * MS);
		tu_h1_data(&h, SONDE_DIR_S2C, s2c.p + sc, s2c.len - sc, 4 * MS);
		assert_int_equal(h.col.n, 3);
		tu_h1_close(&h, 5 * MS);
		check_paired(&h, 3);
		assert_int_equal(h.stats.unparsed_bytes, 0);
		tu_h1_free(&h);
	}
	/* Byte by byte. */
	static struct tu_h1 h;
	dns_open(&h);
	for (size_t i = 0; i < c2s.len; i++)
		tu_h1_data(&h, SONDE_DIR_C2S, c2s.p + i, 1, MS);
	for (size_t i = 0; i < s2c.len; i++)
		tu_h1_data(&h, SONDE_DIR_S2C, s2c.p + i, 1, 2 * MS);
	tu_h1_close(&h, 3 * MS);
	check_paired(&h, 3);
	assert_str(h.col.r[0].req.version, "");
	assert_non_null(strstr(h.col.r[0].json, "\"transport\":\"tcp\""));
	tu_h1_free(&h);
	tu_bytes_free(&c2s);
	tu_bytes_free(&s2c);
}

static void test_tcp_gaps(void **state)
{
	(void)state;
	static struct tu_bytes c2s, s2c;
	memset(&c2s, 0, sizeof(c2s));
	memset(&s2c, 0, sizeof(s2c));
	tu_bytes_track(&c2s);
	tu_bytes_track(&s2c);
	conversation(&c2s, &s2c);
	size_t m1 = 2 + sonde_dns_be16(c2s.p); /* the first message's end */
	static struct tu_h1 h;
	/* A gap inside the first query (its length known): the rest stay in step. */
	dns_open(&h);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, 5, MS);
	tu_h1_gap(&h, SONDE_DIR_C2S, 10, MS);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p + 15, c2s.len - 15, MS);
	tu_h1_data(&h, SONDE_DIR_S2C, s2c.p, s2c.len, 2 * MS);
	tu_h1_close(&h, 3 * MS);
	tu_collector_ok(&h.col);
	assert_int_equal(h.col.n, 3); /* 2 pairs, one unsolicited answer */
	size_t paired = 0, unsolicited = 0;
	for (size_t i = 0; i < h.col.n; i++) {
		paired += h.col.r[i].req.present && h.col.r[i].resp.present;
		unsolicited += (h.col.r[i].flags & SONDE_RF_UNSOLICITED) != 0;
	}
	assert_int_equal(paired, 2);
	assert_int_equal(unsolicited, 1);
	tu_h1_free(&h);
	/* A gap over a message boundary: resynchronise on the next message. */
	dns_open(&h);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, 5, MS);
	tu_h1_gap(&h, SONDE_DIR_C2S, m1, MS); /* into the second message */
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p + 5 + m1, c2s.len - 5 - m1, MS);
	tu_h1_data(&h, SONDE_DIR_S2C, s2c.p, s2c.len, 2 * MS);
	tu_h1_close(&h, 3 * MS);
	assert_int_equal(h.col.n, 3); /* the third query pairs; two answers alone */
	assert_true(h.stats.unparsed_bytes > 0);
	paired = 0;
	for (size_t i = 0; i < h.col.n; i++)
		paired += h.col.r[i].req.present && h.col.r[i].resp.present;
	assert_int_equal(paired, 1);
	tu_h1_free(&h);
	/* Garbage then messages (a connection joined mid-stream). */
	h.sess.midstream[0] = true;
	tu_h1_open(&h, NULL, true, false);
	h.d->close(h.state, 0);
	h.d = &sonde_dissector_dns;
	h.state = h.d->open(&h.sess);
	tu_h1_data(&h, SONDE_DIR_C2S, "\x01\x02garbage!", 10, MS);
	tu_h1_data(&h, SONDE_DIR_C2S, c2s.p, c2s.len, MS);
	tu_h1_data(&h, SONDE_DIR_S2C, s2c.p, s2c.len, 2 * MS);
	tu_h1_close(&h, 3 * MS);
	check_paired(&h, 3);
	assert_int_equal(h.stats.unparsed_bytes, 10);
	tu_h1_free(&h);
	tu_bytes_free(&c2s);
	tu_bytes_free(&s2c);
}

/* ----------------------------------------------------- UDP, end to end --- */

struct env {
	struct sonde_stats st;
	struct sonde_dissect_opts dopts;
	struct sonde_conntable_opts copts;
	struct tu_collector col;
	struct sonde_conntable *ct;
};

static void env_free(struct env *e)
{
	tu_cleanup_pop(e);
	sonde_conntable_free(e->ct);
	tu_collector_free(&e->col);
}

static void env_free_cb(void *e)
{
	env_free(e);
}

static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	tu_dissect_defaults(&e->dopts);
	e->copts.max_conns = 64;
	e->copts.idle_timeout_ns = 30 * SEC;
	e->copts.reasm_mem = 1u << 20;
	e->copts.reasm_stream_mem = 1u << 16;
	e->copts.source = "unit.pcap";
	tu_collector_init(&e->col);
	e->ct = sonde_conntable_new(&e->copts, &e->dopts, &e->col.out, &e->st);
	tu_cleanup_push(env_free_cb, e);
}

static void send_udp(struct env *e, const struct sonde_endpoint *src, const struct sonde_endpoint *dst,
		     const struct tu_bytes *b, uint64_t ts)
{
	struct sonde_chunk c;
	memset(&c, 0, sizeof(c));
	c.flow.src = *src;
	c.flow.dst = *dst;
	c.flow.l4 = SONDE_L4_UDP;
	c.ts_ns = ts;
	c.caplen = c.wirelen = (uint32_t)b->len;
	c.seq_kind = SONDE_SEQ_STREAM64;
	c.origin = SONDE_ORIGIN_PCAP_FILE;
	c.data = b->p;
	sonde_conntable_chunk(e->ct, &c);
}

static void test_udp_end_to_end(void **state)
{
	(void)state;
	static struct env e;
	env_init(&e);
	struct sonde_endpoint c, s, c2;
	tu_endpoint4(&c, 10, 0, 0, 1, 40000);
	tu_endpoint4(&s, 10, 0, 0, 2, 53);
	tu_endpoint4(&c2, 10, 0, 0, 1, 40001);
	struct tu_bytes a = { 0 }, aaaa = { 0 }, ra = { 0 }, raaaa = { 0 }, lost = { 0 };
	/* glibc: A and AAAA on one socket, answered AAAA first. */
	query(&a, 7, "host.example", 1);
	query(&aaaa, 8, "host.example", 28);
	answer_a(&ra, 7, "host.example", 1, 9);
	put_header(&raaaa, 8, SONDE_DNS_QR | SONDE_DNS_RA | 3 /* NXDOMAIN */, 1, 0, 0, 0);
	put_question(&raaaa, "host.example", 28);
	send_udp(&e, &c, &s, &a, SEC);
	send_udp(&e, &c, &s, &aaaa, SEC + 1);
	send_udp(&e, &s, &c, &raaaa, SEC + 2 * MS);
	send_udp(&e, &s, &c, &ra, SEC + 3 * MS);
	assert_int_equal(e.col.n, 2);
	/* A query never answered: written unanswered when the flow times out. */
	query(&lost, 9, "gone.example", 1);
	send_udp(&e, &c2, &s, &lost, 2 * SEC);
	sonde_conntable_tick(e.ct, 40 * SEC);
	assert_int_equal(e.col.n, 3);
	/* Not DNS on port 53: counted, no flow. */
	static const uint8_t junk[] = "not a dns message at all";
	struct tu_bytes j = { (uint8_t *)junk, sizeof(junk), 0 };
	send_udp(&e, &c, &s, &j, 50 * SEC);
	sonde_conntable_close_all(e.ct);
	tu_collector_ok(&e.col);
	assert_int_equal(e.col.n, 3);
	assert_int_equal(e.st.udp_datagrams_undissected, 1);
	for (size_t i = 0; i < 2; i++) {
		const struct tu_rec *r = &e.col.r[i];
		assert_true(r->req.present && r->resp.present);
		assert_non_null(strstr(r->json, "\"transport\":\"udp\""));
		assert_int_equal(r->client.port, 40000);
	}
	assert_non_null(strstr(e.col.r[0].json, "\"rcode\":\"NXDOMAIN\""));
	assert_non_null(strstr(e.col.r[0].json, "\"type\":\"AAAA\""));
	assert_non_null(strstr(e.col.r[0].json, "\"error\":true"));
	assert_non_null(strstr(e.col.r[1].json, "\"data\":\"192.0.2.9\""));
	assert_true(e.col.r[2].flags & SONDE_RF_UNANSWERED);
	assert_null(strstr(e.col.r[2].json, "\"response\""));
	assert_int_equal(e.st.records_unanswered, 1);
	env_free(&e);
	free(a.p);
	free(aaaa.p);
	free(ra.p);
	free(raaaa.p);
	free(lost.p);
}

/* Over TCP through the table: the SYN gives the roles, port 53 the hint. */
static void test_tcp_through_table(void **state)
{
	(void)state;
	static struct env e;
	env_init(&e);
	struct sonde_endpoint c, s;
	tu_endpoint4(&c, 10, 0, 0, 1, 40000);
	tu_endpoint4(&s, 10, 0, 0, 2, 53);
	struct tu_bytes c2s = { 0 }, s2c = { 0 };
	conversation(&c2s, &s2c);
	struct sonde_chunk ch;
	uint32_t seq[2] = { 1000, 5000 };
	const struct sonde_endpoint *ep[2] = { &c, &s };
	const struct tu_bytes *data[2] = { &c2s, &s2c };
	for (int step = 0; step < 4; step++) {
		int side = step & 1;
		memset(&ch, 0, sizeof(ch));
		ch.flow.src = *ep[side];
		ch.flow.dst = *ep[1 - side];
		ch.flow.l4 = SONDE_L4_TCP;
		ch.ts_ns = SEC + (uint64_t)step * MS;
		ch.seq_kind = SONDE_SEQ_TCP32;
		ch.origin = SONDE_ORIGIN_PCAP_FILE;
		if (step < 2) { /* SYN, SYN-ACK */
			ch.flags = SONDE_CF_SYN | (side ? SONDE_CF_ACK : 0);
			ch.seq = seq[side]++;
		} else {
			ch.seq = seq[side];
			ch.caplen = ch.wirelen = (uint32_t)data[side]->len;
			ch.data = data[side]->p;
			ch.flags = SONDE_CF_ACK;
		}
		sonde_conntable_chunk(e.ct, &ch);
	}
	sonde_conntable_close_all(e.ct);
	tu_collector_ok(&e.col);
	assert_int_equal(e.col.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_true(e.col.r[i].req.present && e.col.r[i].resp.present);
		assert_non_null(strstr(e.col.r[i].json, "\"transport\":\"tcp\""));
		assert_non_null(strstr(e.col.r[i].json, "\"protocol\":\"dns\""));
	}
	env_free(&e);
	free(c2s.p);
	free(s2c.p);
}

/* -------------------------------------------------------- name table --- */

/* An owner name as a full name (no compression), then type, ttl, rdata. */
static void put_rr_named(struct tu_bytes *b, const char *owner, uint16_t type, uint32_t ttl,
			 const struct tu_bytes *rd)
{
	put_name(b, owner);
	tu_be16(b, type);
	tu_be16(b, 1);
	tu_be32(b, ttl);
	tu_be16(b, (uint16_t)rd->len);
	tu_bytes_put(b, rd->p, rd->len);
}

/* www.example.com CNAME edge.cdn.example (300 s); edge A 192.0.2.7 (60 s),
 * AAAA 2001:db8::7 (120 s); other.example A 192.0.2.8 (30 s), off the chain. */
static struct sonde_dns_msg *cdn_answer(uint16_t rcode)
{
	struct tu_bytes b = { 0 }, rd = { 0 };
	put_header(&b, 5, (uint16_t)(SONDE_DNS_QR | rcode), 1, 4, 0, 0);
	put_question(&b, "www.example.com", 1);
	put_name(&rd, "edge.cdn.example");
	put_rr_named(&b, "www.example.com", 5, 300, &rd);
	rd.len = 0;
	hex_put(&rd, "c0000207");
	put_rr_named(&b, "EDGE.cdn.example", 1, 60, &rd);
	rd.len = 0;
	hex_put(&rd, "20010db8000000000000000000000007");
	put_rr_named(&b, "edge.cdn.example", 28, 120, &rd);
	rd.len = 0;
	hex_put(&rd, "c0000208");
	put_rr_named(&b, "other.example", 1, 30, &rd);
	struct sonde_dns_msg *m = parse(&b, 0);
	free(b.p);
	free(rd.p);
	return m;
}

static void test_name_table(void **state)
{
	(void)state;
	struct sonde_dns_names *t = sonde_dns_names_new(64);
	static const uint8_t v4[4] = { 192, 0, 2, 7 }, other[4] = { 192, 0, 2, 8 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };
	const char *out[8];
	struct sonde_dns_msg *m = cdn_answer(3); /* NXDOMAIN: nothing learned */
	sonde_dns_names_learn(t, m, SEC);
	assert_int_equal(sonde_dns_names_lookup(t, AF_INET, v4, SEC, out, 8), 0);
	msg_free(m);
	m = cdn_answer(0);
	sonde_dns_names_learn(t, m, SEC);
	msg_free(m);
	/* The chain leads from the question: the name asked for. */
	assert_int_equal(sonde_dns_names_lookup(t, AF_INET, v4, 2 * SEC, out, 8), 1);
	assert_string_equal(out[0], "www.example.com");
	assert_int_equal(sonde_dns_names_lookup(t, AF_INET6, v6, 2 * SEC, out, 8), 1);
	assert_string_equal(out[0], "www.example.com");
	/* Off the chain: its own owner. */
	assert_int_equal(sonde_dns_names_lookup(t, AF_INET, other, 2 * SEC, out, 8), 1);
	assert_string_equal(out[0], "other.example");
	/* TTLs: the A record's 60 s (shorter than the CNAME's), the AAAA's 120 s. */
	assert_int_equal(sonde_dns_names_lookup(t, AF_INET, v4, 60 * SEC, out, 8), 1);
	assert_int_equal(sonde_dns_names_lookup(t, AF_INET, v4, 61 * SEC + 1, out, 8), 0);
	assert_int_equal(sonde_dns_names_lookup(t, AF_INET6, v6, 100 * SEC, out, 8), 1);
	assert_int_equal(sonde_dns_names_lookup(t, AF_INET6, v6, 122 * SEC, out, 8), 0);
	/* Names per address are capped, newest first. */
	for (int i = 0; i < 6; i++) {
		struct tu_bytes b = { 0 }, rd = { 0 };
		char name[32];
		snprintf(name, sizeof(name), "n%d.example", i);
		put_header(&b, 6, SONDE_DNS_QR, 1, 1, 0, 0);
		put_question(&b, name, 1);
		hex_put(&rd, "c0000208");
		put_rr_named(&b, name, 1, 600, &rd);
		m = parse(&b, 0);
		sonde_dns_names_learn(t, m, 10 * SEC);
		msg_free(m);
		free(b.p);
		free(rd.p);
	}
	assert_int_equal(sonde_dns_names_lookup(t, AF_INET, other, 11 * SEC, out, 8),
			 SONDE_DNS_NAMES_PER_ADDR);
	assert_string_equal(out[0], "n5.example");
	assert_string_equal(out[3], "n2.example");
	/* TTL 0 (a local zone's answer): kept the floor's seconds, then gone. */
	struct tu_bytes b = { 0 }, rd = { 0 };
	static const uint8_t zero[4] = { 192, 0, 2, 9 };
	put_header(&b, 7, SONDE_DNS_QR, 1, 1, 0, 0);
	put_question(&b, "zero.example", 1);
	hex_put(&rd, "c0000209");
	put_rr_named(&b, "zero.example", 1, 0, &rd);
	m = parse(&b, 0);
	sonde_dns_names_learn(t, m, 20 * SEC);
	msg_free(m);
	free(b.p);
	free(rd.p);
	assert_int_equal(sonde_dns_names_lookup(t, AF_INET, zero, 21 * SEC, out, 8), 1);
	assert_string_equal(out[0], "zero.example");
	assert_int_equal(
		sonde_dns_names_lookup(t, AF_INET, zero, (20 + SONDE_DNS_NAMES_MIN_TTL) * SEC + 1,
				       out, 8),
		0);
	sonde_dns_names_free(t);
}

/* Many more addresses than slots: bounded, the newest still found. */
static void test_name_table_bounded(void **state)
{
	(void)state;
	struct sonde_dns_names *t = sonde_dns_names_new(8);
	const char *out[4];
	for (int i = 0; i < 1000; i++) {
		struct tu_bytes b = { 0 }, rd = { 0 };
		put_header(&b, 7, SONDE_DNS_QR, 1, 1, 0, 0);
		put_question(&b, "many.example", 1);
		uint8_t ip[4] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };
		tu_bytes_put(&rd, ip, 4);
		put_rr_named(&b, "many.example", 1, (uint32_t)(100 + i), &rd);
		struct sonde_dns_msg *m = parse(&b, 0);
		sonde_dns_names_learn(t, m, SEC);
		msg_free(m);
		free(b.p);
		free(rd.p);
		assert_int_equal(sonde_dns_names_lookup(t, AF_INET, ip, 2 * SEC, out, 4), 1);
	}
	size_t found = 0;
	for (int i = 0; i < 1000; i++) {
		uint8_t ip[4] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };
		found += sonde_dns_names_lookup(t, AF_INET, ip, 2 * SEC, out, 4);
	}
	assert_true(found <= 8);
	sonde_dns_names_free(t);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_rr_types),
		tu_test(test_code_names),
		tu_test(test_edns_and_extended_rcode),
		tu_test(test_compression),
		tu_test(test_name_limits),
		tu_test(test_corpus_message_and_truncation),
		tu_test(test_huge_counts),
		tu_test(test_truncated_answer),
		tu_test(test_probe),
		tu_test(test_tcp_split_everywhere),
		tu_test(test_tcp_gaps),
		tu_test(test_udp_end_to_end),
		tu_test(test_tcp_through_table),
		tu_test(test_name_table),
		tu_test(test_name_table_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
