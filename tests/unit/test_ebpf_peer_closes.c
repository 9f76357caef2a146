/* SPDX-License-Identifier: MIT */
/*
 * Both ends of a connection traced on this host (source/ebpf/ebpf_peers.c):
 * the muted copy's OPEN names its process to the owner's connection, and
 * the two ends' close events become one close carrying both ends' facts,
 * whichever closes first; an owner whose copy never closes is written
 * alone when the source closes, and counted.
 */
#include "testutil.h"

#include <arpa/inet.h>

#include "conn/tcphealth.h"
#include "source/ebpf/ebpf_priv.h"

struct seen {
	uint64_t conn_id;
	uint8_t flags;
	bool tcp, tcp_peer;
	uint32_t peer_pid;
	bool peer_is_server;
	uint32_t peer_retrans; /* the copy's own retransmissions, as its facts say */
};

struct sink {
	struct seen c[16];
	size_t n;
};

static void collect(void *ctx, const struct sonde_chunk *c)
{
	struct sink *s = ctx;
	assert_true(s->n < 16);
	s->c[s->n++] = (struct seen){
		.conn_id = c->conn_id,
		.flags = c->flags,
		.tcp = c->tcp != NULL,
		.tcp_peer = c->tcp_peer != NULL,
		.peer_pid = c->peer_proc ? c->peer_proc->pid : 0,
		.peer_is_server = c->peer_is_server,
		.peer_retrans = c->tcp_peer ? (uint32_t)c->tcp_peer->retrans_segs[0] : 0,
	};
}

struct ev_buf {
	_Alignas(8) unsigned char b[sizeof(struct sonde_event) + sizeof(struct sonde_tcp_info)];
};

/* An event of the socket at 127.0.0.1:lport talking to 127.0.0.1:rport. */
static const struct sonde_event *event(struct ev_buf *buf, uint8_t type, uint64_t id, uint16_t lport,
				       uint16_t rport, uint16_t flags, uint8_t role, uint32_t retrans)
{
	memset(buf, 0, sizeof(*buf));
	struct sonde_event *ev = (struct sonde_event *)buf->b;
	ev->version = SONDE_EVENT_VERSION;
	ev->type = type;
	ev->role = role;
	ev->family = AF_INET;
	ev->flags = flags;
	ev->conn_id = id;
	ev->tgid = role == SONDE_EV_ROLE_SERVER ? 200 : 100;
	inet_pton(AF_INET, "127.0.0.1", ev->laddr);
	inet_pton(AF_INET, "127.0.0.1", ev->raddr);
	ev->lport = lport;
	ev->rport = rport;
	if (type == SONDE_EV_CLOSE) {
		ev->flags |= SONDE_EVF_TCP_INFO;
		struct sonde_tcp_info *in = (struct sonde_tcp_info *)(ev + 1);
		in->last_state = 9; /* LAST_ACK */
		in->have = SONDE_TCP_HAVE_SOCK;
		in->total_retrans = retrans;
		in->srtt_us = 30;
	}
	return ev;
}

struct peers_env {
	struct sonde_ebpf e;
	struct sonde_stats st;
	struct sink sink;
};

static void env_init(struct peers_env *x)
{
	memset(x, 0, sizeof(*x));
	x->e.out = (struct sonde_chunk_out){ collect, &x->sink };
	x->e.stats = &x->st;
	ebpf_tables_init(&x->e);
}

static void env_free(struct peers_env *x)
{
	ebpf_tables_free(&x->e);
}

#define CLOSE_SIZE (sizeof(struct sonde_event) + sizeof(struct sonde_tcp_info))

/* The client (id 1, port 40000) owns the tuple; the server's socket (id 2,
 * port 80) is its copy. */
static void open_both(struct peers_env *x)
{
	struct ev_buf b;
	const struct sonde_event *ev =
		event(&b, SONDE_EV_OPEN, 1, 40000, 80, SONDE_EVF_PEER_OWNER, SONDE_EV_ROLE_CLIENT, 0);
	assert_true(ebpf_owns_tuple(&x->e, ev, 0));
	ebpf_peers_copy_event(&x->e, event(&b, SONDE_EV_OPEN, 2, 80, 40000, SONDE_EVF_PEER_COPY,
					   SONDE_EV_ROLE_SERVER, 0));
	/* the copy's process, told to the owner's connection */
	assert_int_equal(x->sink.n, 1);
	assert_int_equal(x->sink.c[0].conn_id, 1);
	assert_int_equal(x->sink.c[0].peer_pid, 200);
	assert_true(x->sink.c[0].peer_is_server);
	assert_int_equal(x->sink.c[0].flags, 0);
}

static void owner_first(void **state)
{
	(void)state;
	static struct peers_env x;
	env_init(&x);
	open_both(&x);
	struct ev_buf b;
	/* the client closes first: its close waits for the server's */
	ebpf_peers_owner_close(&x.e, event(&b, SONDE_EV_CLOSE, 1, 40000, 80, SONDE_EVF_PEER_OWNER,
					   SONDE_EV_ROLE_CLIENT, 1),
			       CLOSE_SIZE);
	assert_int_equal(x.sink.n, 1);
	ebpf_peers_copy_event(&x.e, event(&b, SONDE_EV_CLOSE, 2, 80, 40000, SONDE_EVF_PEER_COPY,
					  SONDE_EV_ROLE_SERVER, 4));
	assert_int_equal(x.sink.n, 3); /* the owner's close: both directions' ends */
	assert_int_equal(x.sink.c[1].conn_id, 1);
	assert_true(x.sink.c[1].flags & SONDE_CF_FIN);
	assert_true(x.sink.c[1].tcp && x.sink.c[1].tcp_peer);
	assert_int_equal(x.sink.c[1].peer_retrans, 4);
	assert_false(x.sink.c[2].tcp);
	assert_int_equal(x.st.tcp_peer_ends_merged, 1);
	assert_int_equal(x.st.tcp_peer_ends_missed, 0);
	assert_int_equal(x.e.npeers, 0);
	env_free(&x);
}

static void copy_first(void **state)
{
	(void)state;
	static struct peers_env x;
	env_init(&x);
	open_both(&x);
	struct ev_buf b;
	ebpf_peers_copy_event(&x.e, event(&b, SONDE_EV_CLOSE, 2, 80, 40000, SONDE_EVF_PEER_COPY,
					  SONDE_EV_ROLE_SERVER, 2));
	assert_int_equal(x.sink.n, 1); /* kept until the owner's close */
	ebpf_peers_owner_close(&x.e, event(&b, SONDE_EV_CLOSE, 1, 40000, 80, SONDE_EVF_PEER_OWNER,
					   SONDE_EV_ROLE_CLIENT, 0),
			       CLOSE_SIZE);
	assert_int_equal(x.sink.n, 3);
	assert_true(x.sink.c[1].tcp_peer);
	assert_int_equal(x.sink.c[1].peer_retrans, 2);
	assert_int_equal(x.st.tcp_peer_ends_merged, 1);
	assert_int_equal(x.e.npeers, 0);
	env_free(&x);
}

static void copy_never_closes(void **state)
{
	(void)state;
	static struct peers_env x;
	env_init(&x);
	open_both(&x);
	struct ev_buf b;
	ebpf_peers_owner_close(&x.e, event(&b, SONDE_EV_CLOSE, 1, 40000, 80, SONDE_EVF_PEER_OWNER,
					   SONDE_EV_ROLE_CLIENT, 0),
			       CLOSE_SIZE);
	ebpf_peers_tick(&x.e); /* within the wait: still held */
	assert_int_equal(x.sink.n, 1);
	ebpf_peers_close(&x.e); /* the source closes: written with one end's facts */
	assert_int_equal(x.sink.n, 3);
	assert_true(x.sink.c[1].tcp);
	assert_false(x.sink.c[1].tcp_peer);
	assert_int_equal(x.st.tcp_peer_ends_missed, 1);
	/* a connection without a copy closes at once */
	ebpf_peers_init(&x.e);
	ebpf_peers_owner_close(&x.e, event(&b, SONDE_EV_CLOSE, 5, 40001, 80, SONDE_EVF_PEER_OWNER,
					   SONDE_EV_ROLE_CLIENT, 0),
			       CLOSE_SIZE);
	assert_int_equal(x.sink.n, 5);
	assert_false(x.sink.c[3].tcp_peer);
	env_free(&x);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(owner_first),
		tu_test(copy_first),
		tu_test(copy_never_closes),
	};
	return cmocka_run_group_tests_name("ebpf_peer_closes", tests, NULL, NULL);
}
