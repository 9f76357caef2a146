/* SPDX-License-Identifier: MIT */
/*
 * User space's loopback de-duplication (ebpf.c's owners map, ebpf_udp.c's
 * datagram window) on events as the kernel writes them: the two local ends
 * of one connection are one connection, 127.0.0.1 in two network
 * namespaces are two hosts (the event's netns), and two namespaces joined
 * by a veth are one host's two ends of one connection.
 */
#include "testutil.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include "source/ebpf/ebpf_priv.h"
#include "source/source.h"

static void v4(uint8_t *addr, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(addr, 0, 16);
	addr[0] = a, addr[1] = b, addr[2] = c, addr[3] = d;
}

/* A socket's event: local → remote as the kernel reports them. */
static struct sonde_event sock_event(uint64_t conn_id, uint32_t netns, const uint8_t *laddr,
				     uint16_t lport, const uint8_t *raddr, uint16_t rport)
{
	struct sonde_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.version = SONDE_EVENT_VERSION;
	ev.type = SONDE_EV_DATA;
	ev.family = AF_INET;
	ev.conn_id = conn_id;
	ev.sk = 0x1000 * conn_id;
	ev.netns = netns;
	memcpy(ev.laddr, laddr, 16);
	memcpy(ev.raddr, raddr, 16);
	ev.lport = lport;
	ev.rport = rport;
	return ev;
}

static void ebpf_init(struct sonde_ebpf *e, struct sonde_stats *st)
{
	memset(e, 0, sizeof(*e));
	memset(st, 0, sizeof(*st));
	e->stats = st;
	ebpf_tables_init(e);
}

static void ebpf_fini(struct sonde_ebpf *e)
{
	ebpf_tables_free(e);
}

/* 127.0.0.1:40000 → 127.0.0.1:8080 in namespaces 1 and 2: each has one
 * owner and one copy, and neither namespace's connection is the other's. */
static void loopback_two_netns(void **state)
{
	(void)state;
	struct sonde_ebpf e;
	struct sonde_stats st;
	ebpf_init(&e, &st);
	uint8_t lo[16];
	v4(lo, 127, 0, 0, 1);
	struct sonde_event a_cli = sock_event(1, 1, lo, 40000, lo, 8080);
	struct sonde_event a_srv = sock_event(2, 1, lo, 8080, lo, 40000);
	struct sonde_event b_cli = sock_event(3, 2, lo, 40000, lo, 8080);
	struct sonde_event b_srv = sock_event(4, 2, lo, 8080, lo, 40000);
	assert_true(ebpf_owns_tuple(&e, &a_cli, 0));
	assert_false(ebpf_owns_tuple(&e, &a_srv, 0));
	assert_true(ebpf_owns_tuple(&e, &b_cli, 0));
	assert_false(ebpf_owns_tuple(&e, &b_srv, 0));
	/* The owners keep owning; TLS's salt keys a map of its own. */
	assert_true(ebpf_owns_tuple(&e, &a_cli, 0));
	assert_true(ebpf_owns_tuple(&e, &b_cli, 0));
	assert_true(ebpf_owns_tuple(&e, &b_srv, 77));
	assert_false(ebpf_owns_tuple(&e, &b_cli, 77));
	assert_true(ebpf_owns_tuple(&e, &a_srv, 77));
	/* One namespace's close frees its tuple only. */
	ebpf_release(&e, 1);
	assert_true(ebpf_owns_tuple(&e, &a_srv, 0));
	assert_false(ebpf_owns_tuple(&e, &b_srv, 0));
	ebpf_fini(&e);
}

/* 10.9.0.1:40000 in namespace 1 → 10.9.0.2:8080 in namespace 2 over a veth:
 * one connection, whose second end is a copy although its namespace is
 * another. */
static void veth_two_netns(void **state)
{
	(void)state;
	struct sonde_ebpf e;
	struct sonde_stats st;
	ebpf_init(&e, &st);
	uint8_t a[16], b[16];
	v4(a, 10, 9, 0, 1);
	v4(b, 10, 9, 0, 2);
	struct sonde_event cli = sock_event(1, 1, a, 40000, b, 8080);
	struct sonde_event srv = sock_event(2, 2, b, 8080, a, 40000);
	assert_true(ebpf_owns_tuple(&e, &cli, 0));
	assert_false(ebpf_owns_tuple(&e, &srv, 0));
	ebpf_fini(&e);
}

struct collected {
	unsigned chunks;
};

static void collect(void *ctx, const struct sonde_chunk *c)
{
	(void)c;
	((struct collected *)ctx)->chunks++;
}

/* A UDP event of dir's direction: payload follows in the same buffer. */
static void datagram(struct sonde_ebpf *e, uint32_t netns, uint8_t dir, const uint8_t *laddr,
		     uint16_t lport, const uint8_t *raddr, uint16_t rport)
{
	struct {
		struct sonde_event ev;
		char data[8];
	} m;
	m.ev = sock_event(0, netns, laddr, lport, raddr, rport);
	m.ev.flags = SONDE_EVF_DATAGRAM;
	m.ev.dir = dir;
	m.ev.ts_ns = 1000;
	memcpy(m.data, "query!!", 8);
	m.ev.len = m.ev.cap = 8;
	ebpf_datagram(e, &m.ev);
}

/* A datagram sent and received on 127.0.0.1 is passed on once per
 * namespace; one from namespace 1 to 2 over a veth, once. */
static void datagrams(void **state)
{
	(void)state;
	struct sonde_ebpf e;
	struct sonde_stats st;
	ebpf_init(&e, &st);
	struct collected got = { 0 };
	e.out.chunk = collect;
	e.out.ctx = &got;
	uint8_t lo[16], any[16], a[16], b[16];
	v4(lo, 127, 0, 0, 1);
	v4(any, 0, 0, 0, 0);
	v4(a, 10, 9, 0, 1);
	v4(b, 10, 9, 0, 2);
	for (uint32_t ns = 1; ns <= 2; ns++) {
		datagram(&e, ns, SONDE_EV_TX, lo, 5000, lo, 53);
		datagram(&e, ns, SONDE_EV_RX, any, 53, lo, 5000); /* bound to any */
	}
	assert_int_equal(got.chunks, 2);
	assert_int_equal(st.duplicate_peer_bytes, 16);
	datagram(&e, 1, SONDE_EV_TX, a, 5001, b, 53);
	datagram(&e, 2, SONDE_EV_RX, b, 53, a, 5001);
	assert_int_equal(got.chunks, 3);
	assert_int_equal(st.duplicate_peer_bytes, 24);
	ebpf_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loopback_two_netns),
		cmocka_unit_test(veth_two_netns),
		cmocka_unit_test(datagrams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
