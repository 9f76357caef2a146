/* SPDX-License-Identifier: MIT */
/*
 * TCP health from packets (conn/tcphealth.h): the handshake as Wireshark's
 * initial RTT, retransmissions as tcp.analysis.retransmission (plain,
 * fast after two duplicate ACKs, spurious) apart from out-of-order
 * arrivals and keep-alives, refused and unanswered SYNs, who reset, the
 * ack RTT with Karn's rule, the exchange view of the sample history, and
 * the kernel's facts turned to client/server.
 */
#include "testutil.h"

#include <errno.h>

#include "conn/tcphealth.h"

#define MS 1000000ull

struct run {
	struct sonde_tcp_health h;
	uint64_t now;
	uint16_t window; /* advertised by the next segments; 0 means 500 */
};

/* One segment; c2s: sent by the client. */
static void seg(struct run *r, bool c2s, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t len,
		uint64_t dt)
{
	struct sonde_chunk c;
	memset(&c, 0, sizeof(c));
	r->now += dt;
	c.flow.l4 = SONDE_L4_TCP;
	c.seq_kind = SONDE_SEQ_TCP32;
	c.seq = seq;
	c.ack = ack;
	c.flags = flags;
	c.wirelen = c.caplen = len;
	c.ts_ns = r->now;
	c.tcp_window = r->window ? r->window : 500;
	sonde_tcp_health_segment(&r->h, &c, c2s);
}

#define A SONDE_CF_ACK
#define CISN 1000u
#define SISN 5000u

/* SYN at 0, SYN/ACK 10 ms later, ACK at once: a capture at the client. */
static void handshake(struct run *r)
{
	r->window = 0;
	sonde_tcp_health_init(&r->h, 0);
	r->now = 1000 * MS;
	seg(r, true, CISN, 0, SONDE_CF_SYN, 0, 0);
	seg(r, false, SISN, CISN + 1, SONDE_CF_SYN | A, 0, 10 * MS);
	seg(r, true, CISN + 1, SISN + 1, A, 0, 100000);
}

static void test_handshake_and_rtt(void **state)
{
	(void)state;
	struct run r;
	handshake(&r);
	/* a request, acknowledged one RTT (10 ms) later with the response */
	seg(&r, true, CISN + 1, SISN + 1, A, 100, 1 * MS);
	seg(&r, false, SISN + 1, CISN + 101, A, 200, 10 * MS);
	seg(&r, true, CISN + 101, SISN + 201, A, 0, 1 * MS);
	sonde_tcp_health_finish(&r.h);
	const struct sonde_tcp_facts *f = &r.h.f;
	assert_int_equal(f->source, SONDE_TCP_SRC_PACKETS);
	assert_true(f->have & SONDE_TCPF_HANDSHAKE);
	assert_int_equal(f->handshake_ns, 10 * MS + 100000);
	assert_true(f->have & SONDE_TCPF_RTT);
	/* near the client: the client's segments' ACKs give the RTT */
	assert_int_equal(f->srtt_us, 10000);
	assert_int_equal(f->bytes[0], 100);
	assert_int_equal(f->bytes[1], 200);
	assert_int_equal(f->retrans_segs[0] + f->retrans_segs[1], 0);
	assert_int_equal(f->outcome, SONDE_TCP_OPEN);
}

static void test_retransmission_kinds(void **state)
{
	(void)state;
	struct run r;
	handshake(&r);
	uint32_t s = CISN + 1;
	/* four segments; the first is lost beyond the capture point */
	for (int i = 0; i < 4; i++)
		seg(&r, true, s + 1000u * (uint32_t)i, SISN + 1, A, 1000, 10000);
	/* three ACKs of s from the server: two duplicates */
	for (int i = 0; i < 3; i++)
		seg(&r, false, SISN + 1, s, A, 0, 10 * MS);
	/* fast retransmission of s, within 20 ms of the duplicates */
	seg(&r, true, s, SISN + 1, A, 1000, 1 * MS);
	assert_int_equal(r.h.d[0].retrans_segs, 1);
	/* a keep-alive (one byte below nextseq) is not one */
	seg(&r, false, SISN + 1, s + 4000, A, 0, 5 * MS);
	seg(&r, true, s + 3999, SISN + 1, A, 1, 500 * MS);
	assert_int_equal(r.h.d[0].retrans_segs, 1);
	/* data already acknowledged, sent again much later: spurious, counted */
	seg(&r, true, s + 1000, SISN + 1, A, 1000, 300 * MS);
	assert_int_equal(r.h.d[0].retrans_segs, 2);
	/* new data, then an older segment within one initial RTT: out of order */
	seg(&r, true, s + 4000, SISN + 1, A, 1000, 300 * MS);
	seg(&r, true, s + 6000, SISN + 1, A, 1000, 1000);
	seg(&r, true, s + 5000, SISN + 1, A, 1000, 1000);
	assert_int_equal(r.h.d[0].retrans_segs, 2);
	assert_int_equal(r.h.d[0].ooo_segs, 1);
	/* the same segment after the RTO: a retransmission */
	seg(&r, true, s + 5000, SISN + 1, A, 1000, 200 * MS);
	assert_int_equal(r.h.d[0].retrans_segs, 3);
	assert_int_equal(r.h.d[1].retrans_segs, 0);
}

static void test_refused_and_timeout(void **state)
{
	(void)state;
	struct run r;
	sonde_tcp_health_init(&r.h, 0);
	r.now = MS;
	seg(&r, true, CISN, 0, SONDE_CF_SYN, 0, 0);
	seg(&r, false, 0, CISN + 1, SONDE_CF_RST | A, 0, 50000);
	sonde_tcp_health_finish(&r.h);
	assert_int_equal(r.h.f.outcome, SONDE_TCP_REFUSED);
	assert_int_equal(r.h.f.err, ECONNREFUSED);
	assert_int_equal(r.h.f.reset_by, SONDE_TCP_SIDE_SERVER);

	sonde_tcp_health_init(&r.h, 0);
	seg(&r, true, CISN, 0, SONDE_CF_SYN, 0, 0);
	seg(&r, true, CISN, 0, SONDE_CF_SYN, 0, 1000 * MS);
	seg(&r, true, CISN, 0, SONDE_CF_SYN, 0, 2000 * MS);
	sonde_tcp_health_finish(&r.h);
	assert_int_equal(r.h.f.outcome, SONDE_TCP_TIMEOUT);
	/* the SYN sent again is a retransmission, as tshark says */
	assert_int_equal(r.h.f.retrans_segs[0], 2);
}

static void test_reset_mid_exchange(void **state)
{
	(void)state;
	struct run r;
	handshake(&r);
	seg(&r, true, CISN + 1, SISN + 1, A, 100, MS);
	seg(&r, false, SISN + 1, CISN + 101, A, 1000, MS);
	seg(&r, false, SISN + 1001, CISN + 101, SONDE_CF_RST | A, 0, MS);
	sonde_tcp_health_finish(&r.h);
	assert_int_equal(r.h.f.outcome, SONDE_TCP_RESET);
	assert_int_equal(r.h.f.reset_by, SONDE_TCP_SIDE_SERVER);
	r.h.ended = true;
	struct sonde_tcp_exchange x;
	assert_true(sonde_tcp_health_troubled(&r.h, NULL));
	(void)x;
}

static void test_exchange_view(void **state)
{
	(void)state;
	struct sonde_tcp_health h;
	sonde_tcp_health_init(&h, 0);
	struct sonde_tcp_exchange x;
	assert_false(sonde_tcp_health_exchange(&h, 10, 20, &x));
	sonde_tcp_health_sample(&h, 100, 50, 0, SONDE_TCP_SRC_KERNEL); /* the request */
	sonde_tcp_health_sample(&h, 150, 60, 3, SONDE_TCP_SRC_KERNEL);
	sonde_tcp_health_sample(&h, 200, 70, 4, SONDE_TCP_SRC_KERNEL); /* the response */
	assert_true(sonde_tcp_health_exchange(&h, 100, 200, &x));
	assert_true(x.srtt_known && x.retrans_known);
	assert_int_equal(x.srtt_us, 50);
	assert_int_equal(x.retrans, 4);
	assert_int_equal(x.source, SONDE_TCP_SRC_KERNEL);
	assert_true(sonde_tcp_health_troubled(&h, &x));
	assert_true(sonde_tcp_health_exchange(&h, 150, 160, &x));
	assert_int_equal(x.retrans, 0);
	/* older than every sample kept: the retransmissions are not known */
	for (uint32_t i = 0; i < SONDE_TCP_SAMPLES; i++)
		sonde_tcp_health_sample(&h, 300 + i, 80 + i, 5, SONDE_TCP_SRC_KERNEL);
	sonde_tcp_health_exchange(&h, 100, 400, &x);
	assert_false(x.retrans_known);
}

static void test_kernel_facts_oriented(void **state)
{
	(void)state;
	struct sonde_tcp_health h;
	sonde_tcp_health_init(&h, 0);
	struct sonde_tcp_facts f = { .source = SONDE_TCP_SRC_KERNEL,
				     .outcome = SONDE_TCP_RESET,
				     .reset_by = 2,
				     .have = SONDE_TCPF_BYTES | SONDE_TCPF_RETRANS0,
				     .bytes = { 10, 20 },
				     .retrans_segs = { 7, 0 } };
	/* reported by the server's socket: its direction is index 1 */
	sonde_tcp_health_facts(&h, &f, false);
	assert_int_equal(h.f.bytes[0], 20);
	assert_int_equal(h.f.bytes[1], 10);
	assert_int_equal(h.f.retrans_segs[1], 7);
	assert_true(h.f.have & SONDE_TCPF_RETRANS1);
	assert_false(h.f.have & SONDE_TCPF_RETRANS0);
	assert_int_equal(h.f.reset_by, SONDE_TCP_SIDE_CLIENT);
	assert_true(h.ended);
}

/* Both ends traced: the client's socket reports first, the server's facts
 * join — its retransmissions, what it got out of order, its handshake
 * half and RTT — and the server's word on the reset it sent wins. */
static void test_peer_facts_merged(void **state)
{
	(void)state;
	struct sonde_tcp_health h;
	sonde_tcp_health_init(&h, 0);
	struct sonde_tcp_facts cli = { .source = SONDE_TCP_SRC_KERNEL,
				       .outcome = SONDE_TCP_RESET,
				       .have = SONDE_TCPF_CLOSE | SONDE_TCPF_RETRANS0 |
					       SONDE_TCPF_HANDSHAKE | SONDE_TCPF_RTT |
					       SONDE_TCPF_OOO1,
				       .handshake_ns = 100000,
				       .retrans_segs = { 3, 0 },
				       .retrans_bytes = { 3000, 0 },
				       .ooo_segs = { 0, 2 },
				       .srtt_us = 80,
				       .rtt_side = 1 };
	struct sonde_tcp_facts srv = { .source = SONDE_TCP_SRC_KERNEL,
				       .outcome = SONDE_TCP_RESET,
				       .reset_by = 1,
				       .have = SONDE_TCPF_CLOSE | SONDE_TCPF_RETRANS0 |
					       SONDE_TCPF_SERVER_HANDSHAKE | SONDE_TCPF_RTT |
					       SONDE_TCPF_OOO1 | SONDE_TCPF_HANDSHAKE,
				       .handshake_ns = 1, /* not the client's half: ignored */
				       .server_handshake_ns = 60000,
				       .retrans_segs = { 5, 0 },
				       .retrans_bytes = { 7000, 0 },
				       .ooo_segs = { 0, 4 },
				       .srtt_us = 70,
				       .rtt_side = 1 };
	sonde_tcp_health_facts(&h, &cli, true);
	sonde_tcp_health_peer(&h, &srv, false);
	const struct sonde_tcp_facts *f = &h.f;
	assert_int_equal(h.peer_side, SONDE_TCP_SIDE_SERVER);
	assert_int_equal(f->retrans_segs[0], 3);
	assert_int_equal(f->retrans_segs[1], 5);
	assert_int_equal(f->retrans_bytes[1], 7000);
	assert_true((f->have & (SONDE_TCPF_RETRANS0 | SONDE_TCPF_RETRANS1)) ==
		    (SONDE_TCPF_RETRANS0 | SONDE_TCPF_RETRANS1));
	assert_int_equal(f->ooo_segs[1], 2); /* the server's segments, as the client got them */
	assert_int_equal(f->ooo_segs[0], 4); /* the client's, as the server got them */
	assert_int_equal(f->handshake_ns, 100000);
	assert_true(f->have & SONDE_TCPF_SERVER_HANDSHAKE);
	assert_int_equal(f->server_handshake_ns, 60000);
	assert_int_equal(f->reset_by, SONDE_TCP_SIDE_SERVER);
	assert_int_equal(f->closed_by, SONDE_TCP_SIDE_SERVER);
	assert_int_equal(f->rtt_side, SONDE_TCP_SIDE_CLIENT);
	assert_int_equal(f->srtt_us, 80); /* the first end's; the server's kept apart */
	assert_int_equal(h.peer.srtt_us, 70);
}

/* Where the order of tshark's (4.0) rules decides, as it decided on
 * crafted captures and on the e2e test's lossy uploads. */
static void test_wireshark_precedence(void **state)
{
	(void)state;
	struct run r;
	handshake(&r); /* initial RTT 10.1 ms */
	uint32_t s = CISN + 1;
	seg(&r, true, s, SISN + 1, A, 100, MS);
	seg(&r, true, s + 100, SISN + 1, A, 100, 10000);
	seg(&r, false, SISN + 1, s + 200, A, 0, 10000);
	/* already acknowledged, 10 us after the newest: spurious before out of order */
	seg(&r, true, s, SISN + 1, A, 100, 10000);
	assert_int_equal(r.h.d[0].retrans_segs, 1);
	assert_int_equal(r.h.d[0].ooo_segs, 0);
	/* a FIN sent again at once ends where the newest did: a retransmission */
	seg(&r, true, s + 200, SISN + 1, A | SONDE_CF_FIN, 0, 10000);
	seg(&r, true, s + 200, SISN + 1, A | SONDE_CF_FIN, 0, 10000);
	assert_int_equal(r.h.d[0].retrans_segs, 2);
	assert_int_equal(r.h.d[0].ooo_segs, 0);
}

static void test_window_from_newest_syn(void **state)
{
	(void)state;
	struct run r = { .now = 1000 * MS };
	sonde_tcp_health_init(&r.h, 0);
	seg(&r, true, CISN, 0, SONDE_CF_SYN, 0, 0);
	seg(&r, true, CISN, 0, SONDE_CF_SYN, 0, 1000 * MS); /* sent again 1 s later */
	seg(&r, false, SISN, CISN + 1, SONDE_CF_SYN | A, 0, MS);
	seg(&r, true, CISN + 1, SISN + 1, A, 0, MS);
	assert_int_equal(r.h.first_rtt_ns, 2 * MS);
	/* the handshake time still counts from the first SYN */
	assert_int_equal(r.h.ts_ack - r.h.ts_syn, 1002 * MS);
	uint32_t s = CISN + 1;
	seg(&r, true, s, SISN + 1, A, 100, MS);
	seg(&r, true, s + 100, SISN + 1, A, 100, 5000);
	seg(&r, true, s, SISN + 1, A, 100, 3 * MS); /* beyond 2 ms: not out of order */
	assert_int_equal(r.h.d[0].retrans_segs, 2); /* and the SYN */
	assert_int_equal(r.h.d[0].ooo_segs, 0);
}

static void test_duplicate_ack_rules(void **state)
{
	(void)state;
	struct run r;
	handshake(&r);
	uint32_t s = CISN + 1;
	for (int i = 0; i < 4; i++)
		seg(&r, true, s + 100u * (uint32_t)i, SISN + 1, A, 100, 10000);
	/* repeated ACKs of a zero window are no duplicates: no fast retransmission */
	r.window = 0xffff;
	seg(&r, false, SISN + 1, s, A, 0, 10000);
	r.window = 0;
	struct sonde_chunk z = { .flow.l4 = SONDE_L4_TCP, .seq_kind = SONDE_SEQ_TCP32 };
	for (int i = 0; i < 3; i++) {
		z.seq = SISN + 1, z.ack = s, z.flags = A, z.ts_ns = (r.now += 10000);
		sonde_tcp_health_segment(&r.h, &z, false);
	}
	assert_int_equal(r.h.d[1].dupacks, 0);
	/* a one-byte probe of the closed window: neither kind, nextseq stays */
	seg(&r, true, s + 400, SISN + 1, A, 1, 10000);
	assert_int_equal(r.h.d[0].nextseq, s + 400);
	/* the first segment again 10 us later: out of order, not fast */
	seg(&r, true, s, SISN + 1, A, 100, 10000);
	assert_int_equal(r.h.d[0].retrans_segs, 0);
	assert_int_equal(r.h.d[0].ooo_segs, 1);
}

static void test_roles_swapped(void **state)
{
	(void)state;
	struct run r = { .now = MS };
	sonde_tcp_health_init(&r.h, 0);
	/* met mid-stream: the server's data came first and was taken as the client's */
	seg(&r, true, SISN, CISN, A, 1000, 0);
	seg(&r, true, SISN + 1000, CISN, A | SONDE_CF_FIN, 0, 200 * MS);
	sonde_tcp_health_swap(&r.h);
	seg(&r, false, SISN, CISN, A, 1000, 300 * MS); /* its data again */
	assert_int_equal(r.h.d[1].retrans_segs, 1);
	assert_int_equal(r.h.d[1].segs, 3);
	assert_int_equal(r.h.d[0].segs, 0);
	assert_int_equal(r.h.first_fin, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_rtt),
		cmocka_unit_test(test_retransmission_kinds),
		cmocka_unit_test(test_refused_and_timeout),
		cmocka_unit_test(test_reset_mid_exchange),
		cmocka_unit_test(test_exchange_view),
		cmocka_unit_test(test_kernel_facts_oriented),
		cmocka_unit_test(test_peer_facts_merged),
		cmocka_unit_test(test_wireshark_precedence),
		cmocka_unit_test(test_window_from_newest_syn),
		cmocka_unit_test(test_duplicate_ack_rules),
		cmocka_unit_test(test_roles_swapped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
