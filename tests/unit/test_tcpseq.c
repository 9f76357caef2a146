/* SPDX-License-Identifier: MIT */
/*
 * TCP sequence normalisation (conn/tcpseq.h): the stream's start from the
 * SYN or the first byte seen, wrap-around, bytes from before the start cut
 * off as retransmissions, and ACKs that close holes in the peer's stream.
 */
#include "testutil.h"

#include "conn/tcpseq.h"

static struct sonde_chunk seg(uint32_t seq, uint8_t flags, const void *p, uint32_t caplen,
			      uint32_t wirelen)
{
	struct sonde_chunk c;
	memset(&c, 0, sizeof(c));
	c.flow.l4 = SONDE_L4_TCP;
	c.seq = seq;
	c.flags = flags;
	c.caplen = caplen;
	c.wirelen = wirelen;
	c.seq_kind = SONDE_SEQ_TCP32;
	c.data = p;
	c.ts_ns = 1;
	return c;
}

static void test_syn_and_wrap(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct sonde_reasm rs;
	struct sonde_span sp;
	sonde_reasm_init(&rs);
	struct sonde_chunk c = seg(0xfffffff0u, SONDE_CF_SYN, NULL, 0, 0);
	assert_true(sonde_tcpseq_place(&rs, &c, &st, &sp));
	assert_true(rs.base_known);
	assert_false(rs.midstream);
	assert_false(sp.midstream);
	assert_int_equal(sp.off, 0);
	assert_int_equal(sp.wirelen, 0);
	static const char data[32] = "0123456789abcdef0123456789abcdef";
	c = seg(0xfffffff1u, SONDE_CF_ACK, data, 32, 32); /* crosses 2^32 */
	assert_true(sonde_tcpseq_place(&rs, &c, &st, &sp));
	assert_int_equal(sp.off, 0);
	assert_ptr_equal(sp.p, data);
	rs.next = 32; /* as if delivered */
	c = seg(0x11u, SONDE_CF_ACK, data, 4, 4);
	assert_true(sonde_tcpseq_place(&rs, &c, &st, &sp));
	assert_int_equal(sp.off, 32);
	assert_int_equal(st.retransmitted_bytes, 0);
	sonde_reasm_free(&rs, NULL);
}

static void test_midstream_and_retransmission(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct sonde_reasm rs;
	struct sonde_span sp;
	sonde_reasm_init(&rs);
	/* A bare ACK says nothing of where the stream is. */
	struct sonde_chunk c = seg(1000, SONDE_CF_ACK, NULL, 0, 0);
	assert_false(sonde_tcpseq_place(&rs, &c, &st, &sp));
	assert_false(rs.base_known);
	static const char data[] = "abcdefghijklmnopqrst";
	c = seg(1000, SONDE_CF_ACK, data, 10, 10);
	assert_true(sonde_tcpseq_place(&rs, &c, &st, &sp));
	assert_true(sp.midstream);
	assert_true(rs.midstream);
	assert_int_equal(sp.off, 0);
	c = seg(1010, SONDE_CF_ACK, data, 5, 5);
	assert_true(sonde_tcpseq_place(&rs, &c, &st, &sp));
	assert_false(sp.midstream); /* only the first chunk starts it */
	assert_int_equal(sp.off, 10);
	/* Wholly before the start: a retransmission, nothing to add. */
	c = seg(990, SONDE_CF_ACK, data, 5, 5);
	assert_false(sonde_tcpseq_place(&rs, &c, &st, &sp));
	assert_int_equal(st.retransmitted_bytes, 5);
	/* Straddling it: the part before is cut off. */
	c = seg(995, SONDE_CF_ACK, data, 10, 10);
	assert_true(sonde_tcpseq_place(&rs, &c, &st, &sp));
	assert_int_equal(sp.off, 0);
	assert_ptr_equal(sp.p, data + 5);
	assert_int_equal(sp.caplen, 5);
	assert_int_equal(sp.wirelen, 5);
	assert_int_equal(st.retransmitted_bytes, 10);
	/* ...also when the capture holds less than the cut. */
	c = seg(990, SONDE_CF_ACK, data, 5, 20);
	assert_true(sonde_tcpseq_place(&rs, &c, &st, &sp));
	assert_int_equal(sp.caplen, 0);
	assert_int_equal(sp.wirelen, 10);
	assert_int_equal(st.retransmitted_bytes, 15);
	sonde_reasm_free(&rs, NULL);
}

/* A FIN alone is enough to place the stream's end. */
static void test_fin_first(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct sonde_reasm rs;
	struct sonde_span sp;
	sonde_reasm_init(&rs);
	struct sonde_chunk c = seg(77, SONDE_CF_FIN | SONDE_CF_ACK, NULL, 0, 0);
	assert_true(sonde_tcpseq_place(&rs, &c, &st, &sp));
	assert_true(sp.midstream);
	assert_int_equal(sp.off, 0);
	assert_int_equal(sp.wirelen, 0);
	sonde_reasm_free(&rs, NULL);
}

struct out_log {
	uint64_t data, gap;
	int ngaps;
};

static void out_data(void *ctx, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)p, (void)ts;
	((struct out_log *)ctx)->data += n;
}

static void out_gap(void *ctx, uint64_t n, uint64_t ts)
{
	(void)ts;
	struct out_log *l = ctx;
	l->gap += n;
	l->ngaps++;
}

/* The peer acknowledged past a hole: it will never fill. */
static void test_ack_closes_peer_hole(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct sonde_mem_budget b = { .limit = 1u << 20, .per_stream = 1u << 16 };
	struct out_log log = { 0 };
	struct sonde_reasm_out out = { out_data, out_gap, &log };
	struct sonde_reasm peer;
	sonde_reasm_init(&peer);
	sonde_reasm_set_isn(&peer, 5000, false);
	sonde_reasm_add(&peer, &b, &st, &out, 10, (const uint8_t *)"later", 5, 5, 1);
	assert_int_equal(log.data, 0); /* waits behind the hole */
	struct sonde_chunk ack = seg(1, SONDE_CF_ACK, NULL, 0, 0);
	ack.ack = 5000 + 8; /* short of the waiting bytes: 8..10 may yet come */
	sonde_tcpseq_ack(&peer, &ack, &b, &st, &out);
	assert_int_equal(log.gap, 0);
	ack.ack = 5000 + 15;
	sonde_tcpseq_ack(&peer, &ack, &b, &st, &out);
	assert_int_equal(log.gap, 10);
	assert_int_equal(log.ngaps, 1);
	assert_int_equal(log.data, 5);
	assert_int_equal(b.used, 0);
	/* Nothing waiting: an ACK changes nothing. */
	ack.ack = 5000 + 100;
	sonde_tcpseq_ack(&peer, &ack, &b, &st, &out);
	assert_int_equal(log.gap, 10);
	sonde_reasm_free(&peer, &b);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_syn_and_wrap),
		tu_test(test_midstream_and_retransmission),
		tu_test(test_fin_first),
		tu_test(test_ack_closes_peer_hole),
	};
	return cmocka_run_group_tests_name("tcpseq", tests, NULL, NULL);
}
