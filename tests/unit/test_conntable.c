/* SPDX-License-Identifier: MIT */
/*
 * The connection table: whole TCP connections fed as chunks (handshake,
 * data both ways, FIN/RST), connections joined mid-stream, the idle timeout
 * and eviction, out-of-order and retransmitted segments; protocol detection
 * (the learned server → protocol cache, port hints); UDP datagrams (the
 * datagram path, with a datagram dissector defined here).
 */
#include "testutil.h"

#include <sys/socket.h>

#include "conn/conntable.h"

#define MS 1000000ull
#define SEC 1000000000ull

struct env {
	struct sonde_stats st;
	struct sonde_dissect_opts dopts;
	struct sonde_conntable_opts copts;
	struct tu_collector col;
	struct sonde_conntable *ct;
};

static void env_free(struct env *e);
static void env_free_cb(void *e)
{
	env_free(e);
}

/* list, hints: NULL for the registry and the built-in hints. */
static void env_init_with(struct env *e, size_t max_conns, uint64_t idle_ns,
			  const struct sonde_dissector *const *list,
			  const struct sonde_port_hint *hints)
{
	memset(e, 0, sizeof(*e));
	tu_dissect_defaults(&e->dopts);
	e->copts.max_conns = max_conns;
	e->copts.idle_timeout_ns = idle_ns;
	e->copts.reasm_mem = 1u << 20;
	e->copts.reasm_stream_mem = 1u << 16;
	e->copts.source = "unit.pcap";
	e->copts.dissectors = list;
	e->copts.port_hints = hints;
	tu_collector_init(&e->col);
	e->ct = sonde_conntable_new(&e->copts, &e->dopts, &e->col.out, &e->st);
	assert_non_null(e->ct);
	tu_cleanup_push(env_free_cb, e);
}

static void env_init(struct env *e, size_t max_conns, uint64_t idle_ns)
{
	env_init_with(e, max_conns, idle_ns, NULL, NULL);
}

static void env_free(struct env *e)
{
	tu_cleanup_pop(e);
	sonde_conntable_free(e->ct);
	tu_collector_free(&e->col);
}

/* One TCP connection as seen on the wire. */
struct tcp {
	struct sonde_endpoint c, s;
	uint32_t cseq, sseq; /* next sequence number of each side */
};

static void tcp_init(struct tcp *t, uint8_t last_octet, uint16_t cport, uint32_t cisn, uint32_t sisn)
{
	tu_endpoint4(&t->c, 10, 0, 0, last_octet, cport);
	tu_endpoint4(&t->s, 10, 0, 1, 1, 80);
	t->cseq = cisn;
	t->sseq = sisn;
}

/* A chunk of `caplen` bytes that the wire carried `wirelen` of. */
static void send_cut(struct env *e, const struct sonde_endpoint *src, const struct sonde_endpoint *dst,
		     uint32_t seq, uint32_t ack, uint8_t flags, const void *data, uint32_t caplen,
		     uint32_t wirelen, uint64_t ts)
{
	struct sonde_chunk c;
	memset(&c, 0, sizeof(c));
	c.flow.src = *src;
	c.flow.dst = *dst;
	c.flow.l4 = SONDE_L4_TCP;
	c.ts_ns = ts;
	c.seq = seq;
	c.ack = ack;
	c.caplen = caplen;
	c.wirelen = wirelen;
	c.seq_kind = SONDE_SEQ_TCP32;
	c.flags = flags;
	c.origin = SONDE_ORIGIN_PCAP_FILE;
	c.data = data;
	sonde_conntable_chunk(e->ct, &c);
}

/* A UDP datagram as packet decoding gives it. */
static void send_udp(struct env *e, const struct sonde_endpoint *src, const struct sonde_endpoint *dst,
		     const void *data, uint32_t caplen, uint32_t wirelen, uint64_t ts)
{
	struct sonde_chunk c;
	memset(&c, 0, sizeof(c));
	c.flow.src = *src;
	c.flow.dst = *dst;
	c.flow.l4 = SONDE_L4_UDP;
	c.ts_ns = ts;
	c.caplen = caplen;
	c.wirelen = wirelen;
	c.seq_kind = SONDE_SEQ_STREAM64;
	c.origin = SONDE_ORIGIN_PCAP_FILE;
	c.data = data;
	sonde_conntable_chunk(e->ct, &c);
}

static void send_chunk(struct env *e, const struct sonde_endpoint *src, const struct sonde_endpoint *dst,
		       uint32_t seq, uint32_t ack, uint8_t flags, const void *data, size_t n, uint64_t ts)
{
	struct sonde_chunk c;
	memset(&c, 0, sizeof(c));
	c.flow.src = *src;
	c.flow.dst = *dst;
	c.flow.l4 = SONDE_L4_TCP;
	c.ts_ns = ts;
	c.seq = seq;
	c.ack = ack;
	c.caplen = c.wirelen = (uint32_t)n;
	c.seq_kind = SONDE_SEQ_TCP32;
	c.flags = flags;
	c.role = SONDE_ROLE_UNKNOWN;
	c.origin = SONDE_ORIGIN_PCAP_FILE;
	c.data = data;
	sonde_conntable_chunk(e->ct, &c);
}

static void handshake(struct env *e, struct tcp *t, uint64_t ts)
{
	send_chunk(e, &t->c, &t->s, t->cseq, 0, SONDE_CF_SYN, NULL, 0, ts);
	t->cseq++;
	send_chunk(e, &t->s, &t->c, t->sseq, t->cseq, SONDE_CF_SYN | SONDE_CF_ACK, NULL, 0, ts + 1 * MS);
	t->sseq++;
	send_chunk(e, &t->c, &t->s, t->cseq, t->sseq, SONDE_CF_ACK, NULL, 0, ts + 2 * MS);
}

static void c_send(struct env *e, struct tcp *t, const char *s, uint64_t ts)
{
	size_t n = strlen(s);
	send_chunk(e, &t->c, &t->s, t->cseq, t->sseq, SONDE_CF_ACK, s, n, ts);
	t->cseq += (uint32_t)n;
}

static void c_send_n(struct env *e, struct tcp *t, const char *s, size_t n, uint64_t ts)
{
	send_chunk(e, &t->c, &t->s, t->cseq, t->sseq, SONDE_CF_ACK, s, n, ts);
	t->cseq += (uint32_t)n;
}

static void s_send_n(struct env *e, struct tcp *t, const char *s, size_t n, uint64_t ts)
{
	send_chunk(e, &t->s, &t->c, t->sseq, t->cseq, SONDE_CF_ACK, s, n, ts);
	t->sseq += (uint32_t)n;
}

static void s_send(struct env *e, struct tcp *t, const char *s, uint64_t ts)
{
	size_t n = strlen(s);
	send_chunk(e, &t->s, &t->c, t->sseq, t->cseq, SONDE_CF_ACK, s, n, ts);
	t->sseq += (uint32_t)n;
}

static void c_fin(struct env *e, struct tcp *t, uint64_t ts)
{
	send_chunk(e, &t->c, &t->s, t->cseq, t->sseq, SONDE_CF_FIN | SONDE_CF_ACK, NULL, 0, ts);
	t->cseq++;
}

static void s_fin(struct env *e, struct tcp *t, uint64_t ts)
{
	send_chunk(e, &t->s, &t->c, t->sseq, t->cseq, SONDE_CF_FIN | SONDE_CF_ACK, NULL, 0, ts);
	t->sseq++;
}

#define REQ "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"
#define RESP "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

static bool ep_eq(const struct sonde_endpoint *a, const struct sonde_endpoint *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

/* ---------------------------------------------------------------- tests --- */

static void test_whole_connection(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 1000, 5000);
	uint64_t t0 = 1700000000 * SEC;
	handshake(&e, &t, t0);
	assert_int_equal(sonde_conntable_count(e.ct), 1);
	c_send(&e, &t, REQ, t0 + 10 * MS);
	s_send(&e, &t, RESP, t0 + 30 * MS);
	assert_int_equal(e.col.n, 1); /* written as soon as the response is complete */
	c_fin(&e, &t, t0 + 40 * MS);
	assert_int_equal(sonde_conntable_count(e.ct), 1);
	s_fin(&e, &t, t0 + 41 * MS);
	/* FIN both ways: the connection is closed and freed. */
	assert_int_equal(sonde_conntable_count(e.ct), 0);
	send_chunk(&e, &t.c, &t.s, t.cseq, t.sseq, SONDE_CF_ACK, NULL, 0, t0 + 42 * MS);
	assert_int_equal(sonde_conntable_count(e.ct), 0); /* a bare ACK opens nothing */

	tu_collector_ok(&e.col);
	assert_int_equal(e.col.n, 1);
	const struct tu_rec *r = &e.col.r[0];
	assert_int_equal(r->flags, 0);
	assert_false(r->midstream);
	assert_true(ep_eq(&r->client, &t.c));
	assert_true(ep_eq(&r->server, &t.s));
	assert_str(r->req.method, "GET");
	assert_str(r->req.target, "/index.html");
	assert_int_equal(r->req.wire_bytes, strlen(REQ));
	assert_int_equal(r->req.ts_first, t0 + 10 * MS);
	assert_int_equal(r->resp.status, 200);
	assert_int_equal(r->resp.body_size, 5);
	assert_bytes(r->resp.body, r->resp.body_len, "hello", 5);
	assert_int_equal(r->resp.ts_first, t0 + 30 * MS);
	assert_int_equal(r->req.flags | r->resp.flags, 0);
	assert_non_null(strstr(r->json, "\"source\":\"unit.pcap\""));
	assert_non_null(strstr(r->json, "\"client\":{\"ip\":\"10.0.0.1\",\"port\":40000}"));
	assert_non_null(strstr(r->json, "\"first_byte\":20000.000"));
	assert_int_equal(e.st.connections, 1);
	assert_int_equal(e.st.connections_midstream, 0);
	assert_int_equal(e.st.records, 1);
	assert_int_equal(e.st.gaps, 0);
	assert_int_equal(e.st.undetected_bytes, 0);
	assert_int_equal(e.st.unparsed_bytes, 0);
	env_free(&e);
}

/*
 * After both FINs the connection lingers a second (capture time) before its
 * record: a FIN sent again (its ACK lost) is a retransmission by
 * Wireshark's rules and is counted there; a new SYN on the same ports ends
 * the wait at once.
 */
static void test_fin_again_after_both_fins(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	sonde_conntable_free(e.ct);
	e.copts.connections = true;
	e.ct = sonde_conntable_new(&e.copts, &e.dopts, &e.col.out, &e.st);
	struct tcp t;
	tcp_init(&t, 1, 40000, 1000, 5000);
	uint64_t t0 = 1700000000 * SEC;
	handshake(&e, &t, t0);
	c_send(&e, &t, REQ, t0 + 10 * MS);
	s_send(&e, &t, RESP, t0 + 30 * MS);
	c_fin(&e, &t, t0 + 40 * MS);
	s_fin(&e, &t, t0 + 41 * MS);
	assert_int_equal(sonde_conntable_count(e.ct), 0); /* closed: no longer live */
	assert_int_equal(e.col.n, 1); /* the exchange; the connection's record waits */
	/* the server's FIN again, 200 ms later: the client's last ACK was lost */
	send_chunk(&e, &t.s, &t.c, t.sseq - 1, t.cseq, SONDE_CF_FIN | SONDE_CF_ACK, NULL, 0,
		   t0 + 241 * MS);
	send_chunk(&e, &t.c, &t.s, t.cseq, t.sseq, SONDE_CF_ACK, NULL, 0, t0 + 242 * MS);
	assert_int_equal(e.col.n, 1);
	sonde_conntable_tick(e.ct, t0 + 900 * MS);
	assert_int_equal(e.col.n, 1);
	sonde_conntable_tick(e.ct, t0 + 1100 * MS); /* a second after the close */
	tu_collector_ok(&e.col);
	assert_int_equal(e.col.n, 2);
	const struct tu_rec *r = &e.col.r[1];
	assert_true(r->flags & SONDE_RF_CONNECTION);
	assert_non_null(strstr(r->json, "\"outcome\":\"closed\",\"closed_by\":\"client\""));
	assert_non_null(strstr(r->json, "\"retransmits\":{\"client\":0,\"server\":1}"));
	assert_non_null(strstr(r->json, "\"exchanges\":1"));
	assert_int_equal(e.st.tcp_retransmitted_segments, 1);
	assert_int_equal(e.st.tcp_connection_records, 1);

	/* the same ports again while lingering: the old record, then a new connection */
	tcp_init(&t, 1, 40000, 1000, 5000);
	handshake(&e, &t, t0 + 2 * SEC);
	c_fin(&e, &t, t0 + 2 * SEC + 40 * MS);
	s_fin(&e, &t, t0 + 2 * SEC + 41 * MS);
	tcp_init(&t, 1, 40000, 90000, 95000);
	handshake(&e, &t, t0 + 2 * SEC + 50 * MS);
	assert_int_equal(e.st.tcp_connection_records, 2);
	assert_int_equal(sonde_conntable_count(e.ct), 1);
	assert_int_equal(e.st.connections, 3);
	sonde_conntable_close_all(e.ct); /* the end of input: every record written */
	assert_int_equal(e.st.tcp_connection_records, 3);
	assert_int_equal(e.st.tcp_retransmitted_segments, 1);
	env_free(&e);
}

/* With the handshake seen, the roles are known, not guessed. */
static void test_role_known_after_handshake(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 1000, 5000);
	handshake(&e, &t, SEC);
	c_send(&e, &t, REQ, SEC + 10 * MS);
	s_send(&e, &t, RESP, SEC + 20 * MS);
	assert_int_equal(e.col.n, 1);
	assert_true(e.col.r[0].role_known);
	env_free(&e);
}

/* The server's bytes arrive first (a capture where the client's segment is
 * late): roles still come from the handshake. */
static void test_roles_from_syn(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 1000, 5000);
	handshake(&e, &t, SEC);
	/* The response segment is captured before the request's. */
	uint32_t req_seq = t.cseq;
	t.cseq += (uint32_t)strlen(REQ);
	s_send(&e, &t, RESP, SEC + 20 * MS);
	send_chunk(&e, &t.c, &t.s, req_seq, t.sseq, SONDE_CF_ACK, REQ, strlen(REQ), SEC + 21 * MS);
	c_fin(&e, &t, SEC + 30 * MS);
	s_fin(&e, &t, SEC + 31 * MS);
	assert_int_equal(sonde_conntable_count(e.ct), 0);
	/* The response was seen before its request: pairing is by order of
	 * completion on each side, so at worst two records; the roles are right. */
	assert_true(e.col.n >= 1);
	for (size_t i = 0; i < e.col.n; i++) {
		assert_true(ep_eq(&e.col.r[i].client, &t.c));
		assert_true(ep_eq(&e.col.r[i].server, &t.s));
	}
	env_free(&e);
}

static void test_out_of_order_and_retransmission(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 0xfffffff0u, 0x7ffffff0u); /* the client wraps */
	handshake(&e, &t, SEC);
	const char *req = "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789";
	size_t n = strlen(req);
	uint32_t s0 = t.cseq;
	/* Three pieces: last, first, first again (retransmission), middle. */
	send_chunk(&e, &t.c, &t.s, s0 + 30, t.sseq, SONDE_CF_ACK, req + 30, n - 30, SEC + 10 * MS);
	send_chunk(&e, &t.c, &t.s, s0, t.sseq, SONDE_CF_ACK, req, 10, SEC + 11 * MS);
	send_chunk(&e, &t.c, &t.s, s0, t.sseq, SONDE_CF_ACK, req, 10, SEC + 12 * MS);
	send_chunk(&e, &t.c, &t.s, s0 + 10, t.sseq, SONDE_CF_ACK, req + 10, 20, SEC + 13 * MS);
	t.cseq += (uint32_t)n;
	s_send(&e, &t, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", SEC + 20 * MS);
	sonde_conntable_close_all(e.ct);
	assert_int_equal(sonde_conntable_count(e.ct), 0);
	assert_int_equal(e.col.n, 1);
	assert_str(e.col.r[0].req.method, "POST");
	assert_int_equal(e.col.r[0].req.body_size, 10);
	assert_bytes(e.col.r[0].req.body, e.col.r[0].req.body_len, "0123456789", 10);
	assert_int_equal(e.col.r[0].req.flags, 0);
	assert_int_equal(e.col.r[0].resp.status, 201);
	assert_int_equal(e.st.retransmitted_bytes, 10);
	assert_int_equal(e.st.out_of_order_segments, 1);
	assert_int_equal(e.st.gaps, 0);
	env_free(&e);
}

/* A lost segment: the peer's ACK shows it was sent; the hole becomes a gap
 * and the body size stays exact. */
static void test_lost_segment_acked(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 1000, 5000);
	handshake(&e, &t, SEC);
	c_send(&e, &t, REQ, SEC + 10 * MS);
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n";
	s_send(&e, &t, head, SEC + 20 * MS);
	t.sseq += 10; /* 10 body bytes lost */
	s_send(&e, &t, "abcdefghijklmnopqrst", SEC + 21 * MS);
	assert_int_equal(e.col.n, 0); /* waiting behind the hole */
	/* The client acknowledges everything: the hole will never fill. */
	send_chunk(&e, &t.c, &t.s, t.cseq, t.sseq, SONDE_CF_ACK, NULL, 0, SEC + 22 * MS);
	assert_int_equal(e.col.n, 1);
	const struct tu_rec *r = &e.col.r[0];
	assert_int_equal(r->resp.status, 200);
	assert_true(r->resp.flags & SONDE_MF_GAP);
	assert_int_equal(r->resp.body_size, 30);
	assert_int_equal(r->resp.wire_bytes, strlen(head) + 30);
	assert_int_equal(r->resp.captured_bytes, strlen(head) + 20);
	assert_int_equal(e.st.gap_bytes, 10);
	assert_int_equal(e.st.gaps, 1);
	env_free(&e);
}

/* Joined mid-stream: no handshake, and the first client segment is the
 * tail of a previous request's body. */
static void test_midstream(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 123456, 654321);
	const char *tail = "e=1&tail=of&a=previous&body=yes";
	c_send(&e, &t, tail, SEC);
	assert_int_equal(sonde_conntable_count(e.ct), 1);
	c_send(&e, &t, REQ, SEC + 1 * MS);
	s_send(&e, &t, RESP, SEC + 2 * MS);
	sonde_conntable_close_all(e.ct);
	tu_collector_ok(&e.col);
	assert_int_equal(e.col.n, 1);
	const struct tu_rec *r = &e.col.r[0];
	assert_true(r->midstream);
	assert_non_null(strstr(r->json, "\"midstream\""));
	assert_true(ep_eq(&r->client, &t.c)); /* from who sent the request */
	assert_str(r->req.method, "GET");
	assert_str(r->req.target, "/index.html");
	assert_int_equal(r->resp.status, 200);
	assert_int_equal(r->req.flags | r->resp.flags, 0);
	assert_int_equal(e.st.connections_midstream, 1);
	assert_int_equal(e.st.undetected_bytes + e.st.unparsed_bytes, strlen(tail));
	env_free(&e);
}

/* The same, with the tail and the next request in one segment. */
static void test_midstream_tail_and_request_in_one_segment(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 123456, 654321);
	const char *tail = "end of a previous body\r\n";
	char both[256];
	snprintf(both, sizeof(both), "%s%s", tail, REQ);
	c_send(&e, &t, both, SEC);
	s_send(&e, &t, RESP, SEC + 2 * MS);
	sonde_conntable_close_all(e.ct);
	if (e.col.n != 1 || !e.col.r[0].req.present)
		tu_collector_dump(&e.col, "midstream tail+request");
	assert_int_equal(e.col.n, 1);
	const struct tu_rec *r = &e.col.r[0];
	assert_true(r->midstream);
	assert_str(r->req.method, "GET");
	assert_int_equal(r->resp.status, 200);
	assert_true(ep_eq(&r->client, &t.c));
	assert_int_equal(e.st.undetected_bytes + e.st.unparsed_bytes, strlen(tail));
	env_free(&e);
}

/* Mid-stream, the server's side seen first: roles from the response. */
static void test_midstream_response_first(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 123456, 654321);
	s_send(&e, &t, RESP, SEC);
	c_send(&e, &t, REQ, SEC + 1 * MS);
	s_send(&e, &t, RESP, SEC + 2 * MS);
	sonde_conntable_close_all(e.ct);
	assert_int_equal(e.col.n, 2);
	assert_int_equal(e.col.r[0].flags, SONDE_RF_UNSOLICITED);
	assert_true(ep_eq(&e.col.r[0].client, &t.c));
	assert_true(ep_eq(&e.col.r[0].server, &t.s));
	assert_int_equal(e.col.r[1].flags, 0);
	assert_str(e.col.r[1].req.method, "GET");
	env_free(&e);
}

static void test_rst(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 1000, 5000);
	handshake(&e, &t, SEC);
	c_send(&e, &t, REQ, SEC + 10 * MS);
	s_send(&e, &t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", SEC + 20 * MS);
	assert_int_equal(e.col.n, 0);
	send_chunk(&e, &t.s, &t.c, t.sseq, t.cseq, SONDE_CF_RST | SONDE_CF_ACK, NULL, 0, SEC + 30 * MS);
	/* RST: closed at once, what was pending written. */
	assert_int_equal(sonde_conntable_count(e.ct), 0);
	assert_int_equal(e.col.n, 1);
	const struct tu_rec *r = &e.col.r[0];
	assert_str(r->req.method, "GET");
	assert_int_equal(r->resp.status, 200);
	assert_true(r->resp.flags & SONDE_MF_INCOMPLETE);
	assert_int_equal(r->resp.body_size, 7);
	/* A late segment after the RST starts nothing meaningful. */
	send_chunk(&e, &t.s, &t.c, t.sseq, t.cseq, SONDE_CF_RST, NULL, 0, SEC + 31 * MS);
	assert_int_equal(sonde_conntable_count(e.ct), 0);
	env_free(&e);

	/* RST before any response: the request is written unanswered. */
	env_init(&e, 16, 300 * SEC);
	tcp_init(&t, 1, 40000, 1000, 5000);
	handshake(&e, &t, SEC);
	c_send(&e, &t, REQ, SEC + 10 * MS);
	send_chunk(&e, &t.c, &t.s, t.cseq, t.sseq, SONDE_CF_RST, NULL, 0, SEC + 20 * MS);
	assert_int_equal(sonde_conntable_count(e.ct), 0);
	assert_int_equal(e.col.n, 1);
	assert_int_equal(e.col.r[0].flags, SONDE_RF_UNANSWERED);
	assert_int_equal(e.st.records_unanswered, 1);
	env_free(&e);
}

static void test_idle_timeout(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 10 * SEC);
	struct tcp a, b;
	tcp_init(&a, 1, 40000, 1000, 5000);
	tcp_init(&b, 2, 40001, 7000, 9000);
	handshake(&e, &a, 1 * SEC);
	c_send(&e, &a, REQ, 1 * SEC + 10 * MS);
	handshake(&e, &b, 5 * SEC);
	assert_int_equal(sonde_conntable_count(e.ct), 2);
	/* 9 s later a is idle for < 10 s: kept. */
	c_send(&e, &b, REQ, 10 * SEC);
	assert_int_equal(sonde_conntable_count(e.ct), 2);
	assert_int_equal(e.col.n, 0);
	/* At 20 s, a has been quiet for > 10 s; b for exactly 10 s. */
	s_send(&e, &b, RESP, 20 * SEC);
	assert_int_equal(e.st.connections_idle_closed, 1);
	assert_int_equal(sonde_conntable_count(e.ct), 1);
	assert_int_equal(e.col.n, 2);
	/* a's request, written unanswered when a timed out. */
	const struct tu_rec *ra = NULL, *rb = NULL;
	for (size_t i = 0; i < e.col.n; i++) {
		if (ep_eq(&e.col.r[i].client, &a.c))
			ra = &e.col.r[i];
		if (ep_eq(&e.col.r[i].client, &b.c))
			rb = &e.col.r[i];
	}
	assert_non_null(ra);
	assert_non_null(rb);
	assert_int_equal(ra->flags, SONDE_RF_UNANSWERED);
	assert_str(ra->req.method, "GET");
	assert_int_equal(rb->flags, 0);
	assert_int_equal(rb->resp.status, 200);
	/* a's packets after the timeout start a new connection (mid-stream). */
	c_send(&e, &a, REQ, 21 * SEC);
	assert_int_equal(sonde_conntable_count(e.ct), 2);
	assert_int_equal(e.st.connections, 3);
	env_free(&e);
}

static void test_max_conns_eviction(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 2, 300 * SEC);
	struct tcp a, b, c, d;
	tcp_init(&a, 1, 40000, 1000, 5000);
	tcp_init(&b, 2, 40001, 2000, 6000);
	tcp_init(&c, 3, 40002, 3000, 7000);
	tcp_init(&d, 4, 40003, 4000, 8000);
	handshake(&e, &a, 1 * SEC);
	c_send(&e, &a, REQ, 1 * SEC + 10 * MS);
	handshake(&e, &b, 2 * SEC);
	c_send(&e, &b, REQ, 2 * SEC + 10 * MS);
	assert_int_equal(sonde_conntable_count(e.ct), 2);
	/* A third connection evicts the least recently active: a. */
	handshake(&e, &c, 3 * SEC);
	assert_int_equal(sonde_conntable_count(e.ct), 2);
	assert_int_equal(e.st.connections_evicted, 1);
	assert_int_equal(e.col.n, 1);
	assert_true(ep_eq(&e.col.r[0].client, &a.c));
	assert_int_equal(e.col.r[0].flags, SONDE_RF_UNANSWERED);
	/* b becomes the most recent; d then evicts c, not b. */
	s_send(&e, &b, RESP, 4 * SEC);
	assert_int_equal(e.col.n, 2);
	assert_true(ep_eq(&e.col.r[1].client, &b.c));
	assert_int_equal(e.col.r[1].flags, 0);
	handshake(&e, &d, 5 * SEC);
	assert_int_equal(e.st.connections_evicted, 2);
	assert_int_equal(sonde_conntable_count(e.ct), 2);
	/* c had no data: nothing written for it. b still works. */
	assert_int_equal(e.col.n, 2);
	c_send(&e, &b, "GET /again HTTP/1.1\r\n\r\n", 6 * SEC);
	s_send(&e, &b, RESP, 6 * SEC + MS);
	assert_int_equal(e.col.n, 3);
	assert_str(e.col.r[2].req.target, "/again");
	assert_int_equal(e.col.r[2].conn_id, e.col.r[1].conn_id);
	env_free(&e);
}

/* Chunks from a source that counts stream bytes itself (eBPF-like):
 * STREAM64 positions, a role hint, and a conn_id telling apart two
 * connections with the same 4-tuple. */
static void test_stream64_conn_id(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct sonde_endpoint cl, sv;
	tu_endpoint4(&cl, 127, 0, 0, 1, 50000);
	tu_endpoint4(&sv, 127, 0, 0, 1, 8080);
	for (uint64_t id = 1; id <= 2; id++) {
		struct sonde_chunk ch;
		memset(&ch, 0, sizeof(ch));
		/* The server's response first, with a role hint. */
		ch.flow.src = sv;
		ch.flow.dst = cl;
		ch.flow.l4 = SONDE_L4_TCP;
		ch.seq_kind = SONDE_SEQ_STREAM64;
		ch.role = SONDE_ROLE_SRC_IS_SERVER;
		ch.origin = SONDE_ORIGIN_EBPF_KPROBE;
		ch.conn_id = id;
		ch.ts_ns = SEC + id;
		ch.seq = 0;
		ch.data = (const uint8_t *)RESP;
		ch.caplen = ch.wirelen = (uint32_t)strlen(RESP);
		/* ...but the request is delivered first here. */
		struct sonde_chunk rq = ch;
		rq.flow.src = cl;
		rq.flow.dst = sv;
		rq.role = SONDE_ROLE_SRC_IS_CLIENT;
		rq.data = (const uint8_t *)REQ;
		rq.caplen = rq.wirelen = (uint32_t)strlen(REQ);
		sonde_conntable_chunk(e.ct, &rq);
		sonde_conntable_chunk(e.ct, &ch);
	}
	assert_int_equal(sonde_conntable_count(e.ct), 2);
	assert_int_equal(e.col.n, 2);
	assert_true(e.col.r[0].conn_id != e.col.r[1].conn_id);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(e.col.r[i].flags, 0);
		assert_true(ep_eq(&e.col.r[i].client, &cl));
		assert_non_null(strstr(e.col.r[i].json, "\"method\":\"ebpf-kprobe\""));
	}
	env_free(&e);
}

/* An upgraded connection: the rest is counted as skipped, not parsed. */
static void test_upgrade_skips(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 1000, 5000);
	handshake(&e, &t, SEC);
	c_send(&e, &t, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", SEC + MS);
	s_send(&e, &t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi", SEC + 2 * MS);
	static const char frame[] = "\x81\x82\x00\x00\x00\x00" "hi";
	c_send_n(&e, &t, frame, sizeof(frame) - 1, SEC + 3 * MS);
	c_fin(&e, &t, SEC + 4 * MS);
	s_fin(&e, &t, SEC + 5 * MS);
	assert_int_equal(sonde_conntable_count(e.ct), 0);
	assert_int_equal(e.col.n, 1);
	assert_int_equal(e.col.r[0].resp.status, 101);
	assert_int_equal(e.st.skipped_bytes, 4 + 8);
	assert_int_equal(e.st.parse_errors, 0);
	env_free(&e);
}

/* Not HTTP: counted as undetected, no records. */
static void test_undetected(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp t;
	tcp_init(&t, 1, 40000, 1000, 5000);
	handshake(&e, &t, SEC);
	static const char ch[] = "\x16\x03\x01\x00\x10" "client hello....";
	static const char sh[] = "\x16\x03\x03\x00\x05" "hello";
	c_send_n(&e, &t, ch, sizeof(ch) - 1, SEC + MS);
	s_send_n(&e, &t, sh, sizeof(sh) - 1, SEC + 2 * MS);
	sonde_conntable_close_all(e.ct);
	assert_int_equal(e.col.n, 0);
	assert_int_equal(e.st.undetected_bytes, 21 + 10);
	env_free(&e);
}

/* ---------------------------------------------------------- detection --- */

/* A client request whose first segment the capture cut to 2 bytes ("GE"):
 * probing cannot decide on them before the gap. */
static void cut_request(struct env *e, struct tcp *t, uint64_t ts)
{
	static const char req[] = REQ;
	send_cut(e, &t->c, &t->s, t->cseq, t->sseq, SONDE_CF_ACK, req, 2, sizeof(req) - 1, ts);
	t->cseq += sizeof(req) - 1;
}

static void whole_exchange(struct env *e, struct tcp *t, uint64_t ts)
{
	handshake(e, t, ts);
	c_send(e, t, REQ, ts + 10 * MS);
	s_send(e, t, RESP, ts + 20 * MS);
	c_fin(e, t, ts + 30 * MS);
	s_fin(e, t, ts + 31 * MS);
}

/* A server identified on a connection with known roles lends its protocol
 * to bytes a later connection's probes could not decide on. */
static void test_learned_server(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp a, b, ctl;
	tcp_init(&a, 1, 40000, 1000, 5000);
	whole_exchange(&e, &a, SEC);
	assert_int_equal(e.col.n, 1);
	/* Another connection to the same server, its request cut to "GE". */
	tcp_init(&b, 2, 40001, 7000, 9000);
	handshake(&e, &b, 2 * SEC);
	cut_request(&e, &b, 2 * SEC + 10 * MS);
	assert_int_equal(e.st.undetected_bytes, 0); /* "GE" went to HTTP/1 */
	s_send(&e, &b, RESP, 2 * SEC + 20 * MS);
	c_fin(&e, &b, 2 * SEC + 30 * MS);
	s_fin(&e, &b, 2 * SEC + 31 * MS);
	assert_int_equal(e.col.n, 2);
	assert_int_equal(e.col.r[1].resp.status, 200);
	assert_int_equal(e.st.undetected_bytes, 0);
	assert_int_equal(e.st.unparsed_bytes, 2); /* HTTP/1's to count now */
	/* The same on a server nothing was learnt about: "GE" is lost. */
	tcp_init(&ctl, 3, 40002, 1000, 5000);
	ctl.s.port = 8081;
	handshake(&e, &ctl, 3 * SEC);
	cut_request(&e, &ctl, 3 * SEC + 10 * MS);
	assert_int_equal(e.st.undetected_bytes, 2);
	/* Past the cache's lifetime the server is forgotten. */
	tcp_init(&b, 4, 40003, 1000, 5000);
	handshake(&e, &b, 3000 * SEC);
	cut_request(&e, &b, 3000 * SEC + 10 * MS);
	assert_int_equal(e.st.undetected_bytes, 4);
	tu_collector_ok(&e.col);
	env_free(&e);
}

/* The held bytes at a connection's end, too; and a probe's NO still wins
 * over what the server is known to speak. */
static void test_learned_no_wins(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp a, b;
	tcp_init(&a, 1, 40000, 1000, 5000);
	whole_exchange(&e, &a, SEC);
	tcp_init(&b, 2, 40001, 1000, 5000);
	handshake(&e, &b, 2 * SEC);
	c_send(&e, &b, "GE", 2 * SEC + MS);
	sonde_conntable_close_all(e.ct);
	assert_int_equal(e.st.undetected_bytes, 0);
	assert_int_equal(e.st.unparsed_bytes, 2); /* given to HTTP/1 */
	/* Not HTTP/1 (its probe says no), though TLS's wants more. */
	tcp_init(&b, 3, 40002, 1000, 5000);
	handshake(&e, &b, 3 * SEC);
	c_send_n(&e, &b, "\x16\x03", 2, 3 * SEC + MS);
	assert_int_equal(e.st.undetected_bytes, 0); /* held */
	sonde_conntable_close_all(e.ct);
	assert_int_equal(e.st.undetected_bytes, 2);
	assert_int_equal(e.col.n, 1);
	assert_int_equal(e.st.unparsed_bytes, 2);
	tu_collector_ok(&e.col);
	env_free(&e);
}

/* A role guessed from content teaches nothing: the server may be wrong. */
static void test_learned_needs_roles(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct tcp a, b;
	tcp_init(&a, 1, 40000, 1000, 5000);
	c_send(&e, &a, REQ, SEC); /* joined mid-stream: no handshake */
	s_send(&e, &a, RESP, SEC + MS);
	assert_int_equal(e.col.n, 1);
	tcp_init(&b, 2, 40001, 1000, 5000);
	handshake(&e, &b, 2 * SEC);
	cut_request(&e, &b, 2 * SEC + 10 * MS);
	assert_int_equal(e.st.undetected_bytes, 2);
	env_free(&e);
}

/* Two stream dissectors that both claim bytes starting with 'x'. */
static int opened_a, opened_b;
static enum sonde_probe x_probe(const uint8_t *p, size_t n)
{
	return n && p[0] == 'x' ? SONDE_PROBE_CLIENT : SONDE_PROBE_NO;
}
static void *a_open(struct sonde_session *s)
{
	(void)s;
	opened_a++;
	return &opened_a;
}
static void *b_open(struct sonde_session *s)
{
	(void)s;
	opened_b++;
	return &opened_b;
}
static size_t x_data(void *st, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)st, (void)dir, (void)p, (void)ts;
	return n;
}
static void x_gap(void *st, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	(void)st, (void)dir, (void)n, (void)ts;
}
static void x_end(void *st, enum sonde_dir dir, uint64_t ts)
{
	(void)st, (void)dir, (void)ts;
}
static void x_close(void *st, uint64_t ts)
{
	(void)st, (void)ts;
}
static const struct sonde_dissector x_a = { .name = "a", .probe = x_probe, .open = a_open, .data = x_data, .gap = x_gap, .end = x_end, .close = x_close };
static const struct sonde_dissector x_b = { .name = "b", .probe = x_probe, .open = b_open, .data = x_data, .gap = x_gap, .end = x_end, .close = x_close };
static const struct sonde_dissector *const x_list[] = { &x_a, &x_b, NULL };

/* A port hint puts its dissector first; a forced one skips probing. */
static void test_port_hints(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	static const struct sonde_port_hint hints[] = {
		{ 7000, "b", false }, { 7001, "a", true }, { 7002, "nonesuch", true }, { 0, NULL, false },
	};
	env_init_with(&e, 16, 300 * SEC, x_list, hints);
	opened_a = opened_b = 0;
	struct tcp t;
	tcp_init(&t, 1, 40000, 1000, 5000);
	t.s.port = 7000;
	handshake(&e, &t, SEC);
	c_send(&e, &t, "xyz", SEC + MS);
	assert_int_equal(opened_b, 1);
	assert_int_equal(opened_a, 0);
	tcp_init(&t, 2, 40000, 1000, 5000);
	t.s.port = 6999; /* no hint: the list's order */
	handshake(&e, &t, SEC);
	c_send(&e, &t, "xyz", SEC + MS);
	assert_int_equal(opened_a, 1);
	tcp_init(&t, 3, 40000, 1000, 5000);
	t.s.port = 7001; /* forced: opened on bytes no probe claims */
	handshake(&e, &t, SEC);
	c_send(&e, &t, "not x", SEC + MS);
	assert_int_equal(opened_a, 2);
	assert_int_equal(e.st.undetected_bytes, 0);
	tcp_init(&t, 4, 40000, 1000, 5000);
	t.s.port = 7002; /* a hint naming no dissector is ignored */
	handshake(&e, &t, SEC);
	c_send(&e, &t, "not x", SEC + MS);
	assert_int_equal(e.st.undetected_bytes, 5);
	assert_int_equal(opened_a + opened_b, 3);
	env_free(&e);
}

/* ---------------------------------------------------------- datagrams --- */

/* A datagram dissector: 'Q' starts a query (client), 'R' a response. */
struct dg_log {
	int opened, closed, ended, n;
	enum sonde_dir dir[8];
	char first[8];
	size_t len[8];
};
static struct dg_log dg;

static enum sonde_probe dg_probe(const uint8_t *p, size_t n)
{
	if (!n)
		return SONDE_PROBE_NO;
	if (p[0] == 'Q')
		return SONDE_PROBE_CLIENT;
	if (p[0] == 'R')
		return SONDE_PROBE_SERVER;
	return p[0] == 'M' ? SONDE_PROBE_MORE : SONDE_PROBE_NO;
}
static void *dg_open(struct sonde_session *s)
{
	(void)s;
	dg.opened++;
	return &dg;
}
static void dg_datagram(void *st, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)ts;
	struct dg_log *l = st;
	if (l->n < 8) {
		l->dir[l->n] = dir;
		l->first[l->n] = n ? (char)p[0] : 0;
		l->len[l->n] = n;
	}
	l->n++;
}
static void dg_end(void *st, enum sonde_dir dir, uint64_t ts)
{
	(void)dir, (void)ts;
	((struct dg_log *)st)->ended++;
}
static void dg_close(void *st, uint64_t ts)
{
	(void)ts;
	((struct dg_log *)st)->closed++;
}
static const struct sonde_dissector dg_dissector = {
	.name = "dg", .probe = dg_probe, .open = dg_open, .end = dg_end, .close = dg_close,
	.datagram = dg_datagram,
};
extern const struct sonde_dissector sonde_dissector_http1;
static const struct sonde_dissector *const dg_list[] = { &sonde_dissector_http1, &dg_dissector, NULL };

/* No UDP dissector (the registry today): counted, no table entry. */
static void test_udp_undissected(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init(&e, 16, 300 * SEC);
	struct sonde_endpoint c, s;
	tu_endpoint4(&c, 10, 0, 0, 1, 40000);
	tu_endpoint4(&s, 10, 0, 1, 1, 53);
	send_udp(&e, &c, &s, "Qquery", 6, 6, SEC);
	send_udp(&e, &s, &c, "Ranswer", 7, 7, SEC + MS);
	send_udp(&e, &c, &s, NULL, 0, 0, SEC + 2 * MS);
	assert_int_equal(sonde_conntable_count(e.ct), 0);
	assert_int_equal(e.st.udp_datagrams_undissected, 3);
	assert_int_equal(e.st.udp_bytes_undissected, 13);
	assert_int_equal(e.st.connections, 0);
	assert_int_equal(e.st.undetected_bytes, 0);
	env_free(&e);
}

static void test_datagram_flow(void **state)
{
	(void)state;
	static struct env e; /* static: tu_teardown may free it after a failed assertion */
	env_init_with(&e, 16, 300 * SEC, dg_list, NULL);
	memset(&dg, 0, sizeof(dg));
	struct sonde_endpoint c, s;
	tu_endpoint4(&c, 10, 0, 0, 1, 40000);
	tu_endpoint4(&s, 10, 0, 1, 1, 53);
	/* MORE from a datagram probe is no claim: a datagram is whole. */
	send_udp(&e, &c, &s, "Maybe", 5, 5, SEC);
	assert_int_equal(sonde_conntable_count(e.ct), 0);
	assert_int_equal(e.st.udp_datagrams_undissected, 1);
	/* The first datagram claimed is a response: the sender is the server. */
	send_udp(&e, &s, &c, "Ranswer", 7, 7, SEC + MS);
	assert_int_equal(sonde_conntable_count(e.ct), 1);
	assert_int_equal(dg.opened, 1);
	send_udp(&e, &c, &s, "Qquery", 6, 6, SEC + 2 * MS);
	send_udp(&e, &c, &s, "zzz", 3, 3, SEC + 3 * MS); /* the flow's own: delivered */
	send_udp(&e, &c, &s, "Qcut", 2, 4, SEC + 4 * MS); /* cut by the snap length */
	/* TCP on the same ports is another connection. */
	send_chunk(&e, &c, &s, 1, 0, SONDE_CF_SYN, NULL, 0, SEC + 5 * MS);
	assert_int_equal(sonde_conntable_count(e.ct), 2);
	assert_int_equal(dg.n, 3);
	assert_int_equal(dg.dir[0], SONDE_DIR_S2C);
	assert_int_equal(dg.first[0], 'R');
	assert_int_equal(dg.len[0], 7);
	assert_int_equal(dg.dir[1], SONDE_DIR_C2S);
	assert_int_equal(dg.first[1], 'Q');
	assert_int_equal(dg.dir[2], SONDE_DIR_C2S);
	assert_int_equal(dg.len[2], 3);
	assert_int_equal(e.st.udp_datagrams_undissected, 2);
	assert_int_equal(e.st.udp_bytes_undissected, 5 + 4);
	/* Idle datagram flows close like connections: close(), never end(). */
	sonde_conntable_tick(e.ct, SEC + 301 * SEC);
	assert_int_equal(sonde_conntable_count(e.ct), 0);
	assert_int_equal(dg.closed, 1);
	assert_int_equal(dg.ended, 0);
	/* A new flow whose first datagram is a query: the sender is the client. */
	send_udp(&e, &c, &s, "Qagain", 6, 6, 400 * SEC);
	send_udp(&e, &s, &c, "Rback", 5, 5, 400 * SEC + MS);
	assert_int_equal(dg.opened, 2);
	assert_int_equal(dg.dir[3], SONDE_DIR_C2S);
	assert_int_equal(dg.dir[4], SONDE_DIR_S2C);
	sonde_conntable_close_all(e.ct);
	assert_int_equal(dg.closed, 2);
	assert_int_equal(dg.ended, 0);
	assert_int_equal(e.st.connections, 3);
	env_free(&e);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_whole_connection),
		tu_test(test_fin_again_after_both_fins),
		tu_test(test_role_known_after_handshake),
		tu_test(test_roles_from_syn),
		tu_test(test_out_of_order_and_retransmission),
		tu_test(test_lost_segment_acked),
		tu_test(test_midstream),
		tu_test(test_midstream_tail_and_request_in_one_segment),
		tu_test(test_midstream_response_first),
		tu_test(test_rst),
		tu_test(test_idle_timeout),
		tu_test(test_max_conns_eviction),
		tu_test(test_stream64_conn_id),
		tu_test(test_upgrade_skips),
		tu_test(test_undetected),
		tu_test(test_learned_server),
		tu_test(test_learned_no_wins),
		tu_test(test_learned_needs_roles),
		tu_test(test_port_hints),
		tu_test(test_udp_undissected),
		tu_test(test_datagram_flow),
	};
	return cmocka_run_group_tests_name("conntable", tests, NULL, NULL);
}
