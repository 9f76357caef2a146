/* SPDX-License-Identifier: MIT */
/* Several sources in one run: the arbiter lets each connection through from
 * one source only (app/arbiter.h), whoever shows it first. */
#include "testutil.h"

#include <netinet/in.h>

#include "app/arbiter.h"
#include "source/file/capfile.h"

#define MS 1000000ull

/* What got through: origin and first byte of each chunk, in order. */
struct seen {
	uint8_t origin[64];
	char first[64];
	char source[64][32]; /* a chunk's data is valid during the call only */
	uint32_t frame_len[64], frame_wire[64]; /* c->frame's, 0 without */
	uint8_t frame_head[64][4];
	size_t n, total; /* kept, and all that got through */
};

static void keep(void *ctx, const struct sonde_chunk *c)
{
	struct seen *s = ctx;
	s->total++;
	if (s->n == 64)
		return;
	s->origin[s->n] = c->origin;
	s->first[s->n] = c->caplen ? (char)c->data[0] : '-';
	snprintf(s->source[s->n], sizeof(s->source[0]), "%s", c->source ? c->source : "");
	if (c->frame) {
		s->frame_len[s->n] = c->frame->caplen;
		s->frame_wire[s->n] = c->frame->wirelen;
		memcpy(s->frame_head[s->n], c->frame->data,
		       c->frame->caplen < 4 ? c->frame->caplen : 4);
	}
	s->n++;
}

struct env {
	struct seen seen;
	struct sonde_stats st;
	struct sonde_arbiter *a;
};

static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	e->a = sonde_arbiter_new(&(struct sonde_chunk_out){ keep, &e->seen }, &e->st);
}

/* A chunk of connection `port` (client 10.0.0.2:port ↔ 10.0.0.1:80), from
 * the client when c2s; its payload the text (may be ""), held in static
 * storage so the arbiter's copies are what is checked. */
static struct sonde_chunk chunk(uint8_t origin, uint16_t port, bool c2s, const char *text,
				uint8_t flags)
{
	struct sonde_endpoint cli = { .family = AF_INET, .addr = { 10, 0, 0, 2 }, .port = port };
	struct sonde_endpoint srv = { .family = AF_INET, .addr = { 10, 0, 0, 1 }, .port = 80 };
	struct sonde_chunk c = {
		.flow = { .src = c2s ? cli : srv, .dst = c2s ? srv : cli, .l4 = SONDE_L4_TCP },
		.origin = origin,
		.flags = flags,
		.caplen = (uint32_t)strlen(text),
		.wirelen = (uint32_t)strlen(text),
		.data = (const uint8_t *)text,
		.seq_kind = sonde_origin_is_packet(origin) ? SONDE_SEQ_TCP32 : SONDE_SEQ_STREAM64,
	};
	return c;
}

static void feed(struct env *e, struct sonde_chunk c, uint64_t now)
{
	/* The source's buffer is reused after the call: the arbiter must copy. */
	char copy[64];
	snprintf(copy, sizeof(copy), "%.*s", (int)c.caplen, (const char *)c.data);
	c.data = (const uint8_t *)copy;
	sonde_arbiter_chunk(e->a, &c, now);
	memset(copy, 'X', sizeof(copy));
}

/* The packets show the handshake first; the syscall source's connect event
 * follows within the hold: it takes the connection, the held packets go. */
static void test_packets_first_handed_over(void **state)
{
	(void)state;
	struct env e;
	env_init(&e);
	feed(&e, chunk(SONDE_ORIGIN_AF_PACKET, 1000, true, "", SONDE_CF_SYN), 0);
	feed(&e, chunk(SONDE_ORIGIN_AF_PACKET, 1000, false, "", SONDE_CF_SYN | SONDE_CF_ACK),
	     1 * MS);
	feed(&e, chunk(SONDE_ORIGIN_AF_PACKET, 1000, true, "GET", SONDE_CF_ACK), 2 * MS);
	sonde_arbiter_tick(e.a, 100 * MS);
	assert_int_equal(e.seen.n, 0); /* held */
	feed(&e, chunk(SONDE_ORIGIN_EBPF_TRACEPOINT, 1000, true, "", SONDE_CF_SYN), 120 * MS);
	feed(&e, chunk(SONDE_ORIGIN_EBPF_TRACEPOINT, 1000, true, "GET", 0), 121 * MS);
	feed(&e, chunk(SONDE_ORIGIN_AF_PACKET, 1000, false, "HTTP", SONDE_CF_ACK), 122 * MS);
	feed(&e, chunk(SONDE_ORIGIN_EBPF_TRACEPOINT, 1000, false, "HTTP", 0), 130 * MS);
	sonde_arbiter_tick(e.a, 2000 * MS);
	sonde_arbiter_flush(e.a);
	assert_int_equal(e.seen.n, 3);
	for (size_t i = 0; i < e.seen.n; i++)
		assert_int_equal(e.seen.origin[i], SONDE_ORIGIN_EBPF_TRACEPOINT);
	assert_int_equal(e.st.source_handoffs, 1);
	assert_int_equal(e.st.source_stream_conns, 1);
	assert_int_equal(e.st.source_packet_conns, 0);
	assert_int_equal(e.st.source_dropped_packet_bytes,
			 4); /* the response after the hand-over */
	sonde_arbiter_free(e.a);
}

/* No syscall source shows it (forwarded traffic): after the hold the packets
 * go on, in their order, bytes intact, and stay the packets' connection. */
static void test_packets_only_released_in_order(void **state)
{
	(void)state;
	struct env e;
	env_init(&e);
	struct sonde_chunk c = chunk(SONDE_ORIGIN_AF_PACKET, 2000, true, "A", SONDE_CF_SYN);
	c.source = "eth0@/run/netns/x";
	feed(&e, c, 0);
	feed(&e, chunk(SONDE_ORIGIN_AF_PACKET, 2000, false, "B", SONDE_CF_ACK), 10 * MS);
	sonde_arbiter_tick(e.a, SONDE_ARBITER_HOLD_NS - 1);
	assert_int_equal(e.seen.n, 0);
	sonde_arbiter_tick(e.a, SONDE_ARBITER_HOLD_NS);
	assert_int_equal(e.seen.n, 2);
	assert_memory_equal(e.seen.first, "AB", 2);
	assert_string_equal(e.seen.source[0], "eth0@/run/netns/x");
	feed(&e, chunk(SONDE_ORIGIN_AF_PACKET, 2000, true, "C", SONDE_CF_ACK), 600 * MS);
	assert_int_equal(e.seen.n, 3); /* decided: straight through */
	/* eBPF shows up too late: its bytes are dropped, counted. */
	feed(&e, chunk(SONDE_ORIGIN_EBPF_FENTRY, 2000, true, "DDDD", 0), 700 * MS);
	assert_int_equal(e.seen.n, 3);
	assert_int_equal(e.st.source_late_stream_bytes, 4);
	assert_int_equal(e.st.source_packet_conns, 1);
	assert_int_equal(e.st.source_handoffs, 0);
	sonde_arbiter_free(e.a);
}

/* -w with several sources records a packet chunk's frame when the chunk
 * gets through, so a held chunk keeps a copy of its frame: the source's
 * buffer is reused by the release. */
static void test_held_frame_kept(void **state)
{
	(void)state;
	struct env e;
	env_init(&e);
	uint8_t raw[40];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(0xa0 + i);
	struct sonde_frame f = {
		.ts_ns = 77, .caplen = sizeof(raw), .wirelen = 60, .linktype = 1, .data = raw
	};
	struct sonde_chunk c = chunk(SONDE_ORIGIN_AF_PACKET, 3000, true, "Z", SONDE_CF_SYN);
	c.frame = &f;
	feed(&e, c, 0);
	memset(raw, 0, sizeof(raw)); /* the ring's slot is reused */
	f.caplen = 0;
	sonde_arbiter_tick(e.a, SONDE_ARBITER_HOLD_NS);
	assert_int_equal(e.seen.n, 1);
	assert_int_equal(e.seen.frame_len[0], sizeof(raw));
	assert_int_equal(e.seen.frame_wire[0], 60);
	assert_memory_equal(e.seen.frame_head[0], "\xa0\xa1\xa2\xa3", 4);
	/* decided: straight through, its own frame as it is */
	uint8_t later[8] = { 1, 2, 3, 4 };
	struct sonde_frame f2 = { .caplen = 8, .wirelen = 8, .data = later };
	c = chunk(SONDE_ORIGIN_AF_PACKET, 3000, true, "Y", SONDE_CF_ACK);
	c.frame = &f2;
	sonde_arbiter_chunk(e.a, &c, 600 * MS);
	assert_int_equal(e.seen.n, 2);
	assert_int_equal(e.seen.frame_len[1], 8);
	assert_memory_equal(e.seen.frame_head[1], later, 4);
	sonde_arbiter_free(e.a);
}

/* The syscall source first: the packets of its connection never get in;
 * another connection's packets are not affected. */
static void test_stream_first(void **state)
{
	(void)state;
	struct env e;
	env_init(&e);
	feed(&e, chunk(SONDE_ORIGIN_EBPF_TRACEPOINT, 3000, true, "", SONDE_CF_SYN), 0);
	assert_int_equal(e.seen.n, 1);
	feed(&e, chunk(SONDE_ORIGIN_TC, 3000, true, "xyz", SONDE_CF_ACK), 1 * MS);
	feed(&e, chunk(SONDE_ORIGIN_TC, 3001, true, "q", SONDE_CF_SYN), 1 * MS);
	sonde_arbiter_flush(e.a);
	assert_int_equal(e.seen.n, 2);
	assert_int_equal(e.seen.origin[1], SONDE_ORIGIN_TC);
	assert_int_equal(e.seen.first[1], 'q');
	assert_int_equal(e.st.source_dropped_packet_bytes, 3);
	assert_int_equal(e.st.source_stream_conns, 1);
	assert_int_equal(e.st.source_packet_conns, 1);
	sonde_arbiter_free(e.a);
}

/* Two packet sources: the first to show a connection keeps it. */
static void test_two_packet_sources(void **state)
{
	(void)state;
	struct env e;
	env_init(&e);
	feed(&e, chunk(SONDE_ORIGIN_LIBPCAP, 4000, true, "a", SONDE_CF_SYN), 0);
	feed(&e, chunk(SONDE_ORIGIN_AF_PACKET, 4000, true, "a", SONDE_CF_SYN), 1 * MS);
	sonde_arbiter_tick(e.a, SONDE_ARBITER_HOLD_NS + 1 * MS);
	feed(&e, chunk(SONDE_ORIGIN_AF_PACKET, 4000, false, "b", SONDE_CF_ACK), 600 * MS);
	feed(&e, chunk(SONDE_ORIGIN_LIBPCAP, 4000, false, "b", SONDE_CF_ACK), 600 * MS);
	assert_int_equal(e.seen.n, 2);
	assert_int_equal(e.seen.origin[0], SONDE_ORIGIN_LIBPCAP);
	assert_int_equal(e.seen.origin[1], SONDE_ORIGIN_LIBPCAP);
	assert_int_equal(e.st.source_dropped_packet_bytes, 2);
	sonde_arbiter_free(e.a);
}

/* A keep-alive or bare ACK of a connection met mid-life decides nothing:
 * the syscall source may still show it. */
static void test_bare_acks_decide_nothing(void **state)
{
	(void)state;
	struct env e;
	env_init(&e);
	feed(&e, chunk(SONDE_ORIGIN_AF_PACKET, 5000, true, "", SONDE_CF_ACK), 0);
	sonde_arbiter_tick(e.a, SONDE_ARBITER_HOLD_NS);
	assert_int_equal(e.seen.n, 0);
	feed(&e, chunk(SONDE_ORIGIN_EBPF_TRACEPOINT, 5000, true, "GET", 0), 2000 * MS);
	assert_int_equal(e.seen.n, 1);
	assert_int_equal(e.seen.origin[0], SONDE_ORIGIN_EBPF_TRACEPOINT);
	assert_int_equal(e.st.source_late_stream_bytes, 0);
	sonde_arbiter_free(e.a);
}

/* Holding is bounded: past SONDE_ARBITER_HELD_MAX the connection being held
 * goes to its packets at once, counted; nothing is lost or leaked. */
static void test_hold_bounded(void **state)
{
	(void)state;
	struct env e;
	env_init(&e);
	static uint8_t big[60000];
	memset(big, 'z', sizeof(big));
	size_t fed = 0;
	for (uint16_t port = 1; fed < SONDE_ARBITER_HELD_MAX + sizeof(big); port++) {
		struct sonde_chunk c = chunk(SONDE_ORIGIN_AF_PACKET, port, true, "", SONDE_CF_SYN);
		c.caplen = c.wirelen = sizeof(big);
		c.data = big;
		sonde_arbiter_chunk(e.a, &c, 0);
		fed += sizeof(big);
		e.seen.n = 0; /* only the counters matter here */
	}
	assert_true(e.st.source_hold_overflows >= 1);
	sonde_arbiter_flush(e.a);
	sonde_arbiter_free(e.a);
}

/* The table is bounded too: the least recently seen connection is forgotten
 * (its hold released) when a new one needs the room. */
static void test_flows_bounded(void **state)
{
	(void)state;
	struct env e;
	env_init(&e);
	for (uint32_t i = 0; i < SONDE_ARBITER_FLOWS + 10; i++) {
		struct sonde_chunk c =
			chunk(SONDE_ORIGIN_EBPF_KPROBE, (uint16_t)(i % 60000 + 1), true, "", 0);
		c.flow.src.addr[2] = (uint8_t)(i / 60000 + 1);
		sonde_arbiter_chunk(e.a, &c, 0);
	}
	assert_int_equal(e.seen.total, SONDE_ARBITER_FLOWS + 10);
	assert_int_equal(e.st.source_stream_conns, SONDE_ARBITER_FLOWS + 10);
	sonde_arbiter_free(e.a);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_packets_first_handed_over),
		tu_test(test_packets_only_released_in_order),
		tu_test(test_stream_first),
		tu_test(test_two_packet_sources),
		tu_test(test_bare_acks_decide_nothing),
		tu_test(test_hold_bounded),
		tu_test(test_held_frame_kept),
		tu_test(test_flows_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
