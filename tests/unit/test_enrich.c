// SPDX-License-Identifier: MIT
/* The enrichment stage on a real loopback connection of the test's own:
 * both ends placed through the socket table, attached once, walked into
 * JSON; a listener places a connection whose sockets are gone. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "enrich/enrich.h"
#include "enrich/socket.h"
#include "sink/render.h"

struct pair {
	int lfd, cfd, sfd;
	struct sonde_endpoint client, server;
};

static void endpoint_of(int fd, bool peer, struct sonde_endpoint *e)
{
	struct sockaddr_in sa;
	socklen_t l = sizeof(sa);
	assert_int_equal(peer ? getpeername(fd, (struct sockaddr *)&sa, &l)
			      : getsockname(fd, (struct sockaddr *)&sa, &l), 0);
	memset(e, 0, sizeof(*e));
	e->family = AF_INET;
	memcpy(e->addr, &sa.sin_addr, 4);
	e->port = ntohs(sa.sin_port);
}

static void connect_pair(struct pair *p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(p->lfd, 4), 0);
	socklen_t l = sizeof(sa);
	getsockname(p->lfd, (struct sockaddr *)&sa, &l);
	p->cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(p->cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	p->sfd = accept(p->lfd, NULL, NULL);
	assert_true(p->sfd >= 0);
	endpoint_of(p->cfd, false, &p->client);
	endpoint_of(p->cfd, true, &p->server);
}

static void sockets_found(void **state)
{
	(void)state;
	struct pair p;
	connect_pair(&p);
	uint64_t ci, si, li;
	uint32_t me = (uint32_t)getpid();
	assert_true(sonde_sock_inodes("/proc", me, &p.client, &p.server, &ci, &si, &li));
	assert_true(ci && si && li && ci != si);
	assert_true(sonde_sock_held_by("/proc", me, ci));
	struct sonde_sock_owners *o = sonde_sock_owners_new(NULL, 0);
	assert_int_equal(sonde_sock_owner(o, si, 0), me);
	/* kept from the search: found again without one */
	assert_int_equal(sonde_sock_owner(o, ci, 0), me);
	assert_int_equal(sonde_sock_owner(o, 0x7fffffffffull, 0), 0);
	/* held or not, kept a second by process and socket */
	assert_true(sonde_sock_owners_holds(o, me, li));
	assert_false(sonde_sock_owners_holds(o, 1, li));
	assert_true(sonde_sock_owners_holds(o, me, li));
	close(p.lfd);
	assert_true(sonde_sock_owners_holds(o, me, li)); /* within the second: as it was */
	sleep(1);
	usleep(100000);
	assert_false(sonde_sock_owners_holds(o, me, li)); /* read again */
	sonde_sock_owners_free(o);
	close(p.cfd), close(p.sfd);
}

static void json_of_end(const struct sonde_conn_info *c, int k, char *out, size_t len)
{
	struct sonde_buf b = { 0 };
	sonde_buf_putc(&b, '{');
	struct sonde_json_fields j;
	sonde_json_fields_init(&j, &b, false);
	sonde_enrich_end_fields(c, k, &sonde_json_field_ops, &j);
	sonde_buf_putc(&b, '}');
	snprintf(out, len, "%.*s", (int)b.len, (const char *)b.p);
	sonde_buf_free(&b);
}

static void stage_on_loopback(void **state)
{
	(void)state;
	struct pair p;
	connect_pair(&p);
	struct sonde_stats st = { 0 };
	void *en = sonde_enrich_new(&(struct sonde_enrich_opts){ .containers = true }, &st);
	assert_non_null(en);
	struct sonde_conn_attrs attrs = { 0 };
	struct sonde_conn_info ci = { .client = p.client, .server = p.server, .attrs = &attrs };
	ci.proc.pid = (uint32_t)getpid();
	struct sonde_record r = { .conn = &ci };
	assert_true(sonde_enrich_stage.record(en, &r));
	const struct sonde_enrich_end *c = sonde_attr_get(&attrs, SONDE_ATTR_CLIENT_PROCESS);
	const struct sonde_enrich_end *s = sonde_attr_get(&attrs, SONDE_ATTR_SERVER_PROCESS);
	assert_non_null(c);
	assert_ptr_equal(c, s); /* the test talks to itself */
	assert_int_equal(c->proc.pid, getpid());
	/* later records find it attached: no lookup again */
	assert_true(sonde_enrich_stage.record(en, &r));
	assert_int_equal(st.enrich_process_lookups, 1);
	char js[4096];
	json_of_end(&ci, 1, js, sizeof(js));
	char want[64];
	snprintf(want, sizeof(want), "{\"process\":{\"pid\":%d,\"comm\":\"test_enrich\"", getpid());
	assert_memory_equal(js, want, strlen(want));
	assert_non_null(strstr(js, "\"exe\":\"/"));
	assert_non_null(strstr(js, "\"start_time\":\"20"));
	assert_null(strstr(js, "\"container\"")); /* not in one (cgroup "/") */
	sonde_attrs_clear(&attrs);

	/* The connection's sockets gone, the listener still there: the
	 * process holding it is the server. */
	close(p.cfd), close(p.sfd);
	struct sonde_conn_attrs attrs2 = { 0 };
	ci.attrs = &attrs2;
	assert_true(sonde_enrich_stage.record(en, &r));
	assert_null(sonde_attr_get(&attrs2, SONDE_ATTR_CLIENT_PROCESS));
	s = sonde_attr_get(&attrs2, SONDE_ATTR_SERVER_PROCESS);
	assert_non_null(s);
	assert_int_equal(s->proc.pid, getpid());
	sonde_attrs_clear(&attrs2);
	/* Nothing at all: only the traced process, no end. */
	close(p.lfd);
	struct sonde_conn_attrs attrs3 = { 0 };
	ci.attrs = &attrs3;
	assert_true(sonde_enrich_stage.record(en, &r));
	assert_null(sonde_attr_get(&attrs3, SONDE_ATTR_SERVER_PROCESS));
	const struct sonde_enrich_conn *ec = sonde_attr_get(&attrs3, SONDE_ATTR_CONTAINER);
	assert_non_null(ec);
	assert_non_null(ec->traced);
	sonde_attrs_clear(&attrs3);
	/* No pid (packet sources), no table (files): left alone. */
	struct sonde_conn_info none = { .client = p.client, .server = p.server };
	r.conn = &none;
	assert_true(sonde_enrich_stage.record(en, &r));
	none.attrs = &attrs3;
	assert_true(sonde_enrich_stage.record(en, &r));
	assert_null(sonde_attr_get(&attrs3, SONDE_ATTR_CONTAINER));
	assert_int_equal(sonde_enrich_stage.close(en), 0);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(sockets_found),
		tu_test(stage_on_loopback),
	};
	return cmocka_run_group_tests_name("enrich", tests, NULL, NULL);
}
