// SPDX-License-Identifier: MIT
/* Who opened which socket (enrich/holders.h): ordered ends, loopback keyed
 * by namespace, the oldest entry overwritten when full. */
#include "testutil.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include "enrich/holders.h"

static struct sonde_endpoint ep(const char *ip, uint16_t port)
{
	struct sonde_endpoint e = { .family = AF_INET, .port = port };
	assert_int_equal(inet_pton(AF_INET, ip, e.addr), 1);
	return e;
}

static void ordered_and_namespaced(void **state)
{
	(void)state;
	struct sonde_holders *h = sonde_holders_new(0);
	struct sonde_endpoint cli = ep("10.1.0.2", 41000), srv = ep("10.1.0.1", 8080);
	sonde_holders_put(h, &cli, &srv, 111, &(struct sonde_holder){ .pid = 500 });
	sonde_holders_put(h, &srv, &cli, 222, &(struct sonde_holder){ .pid = 600 }); /* the server end, another namespace */
	assert_int_equal(sonde_holders_get(h, &cli, &srv, 0)->pid, 500); /* netns: loopback only */
	assert_int_equal(sonde_holders_get(h, &srv, &cli, 999)->pid, 600);
	struct sonde_endpoint other = ep("10.1.0.3", 41000);
	assert_null(sonde_holders_get(h, &other, &srv, 0));
	/* 127.0.0.1:8080 in two namespaces: two sockets */
	struct sonde_endpoint lc = ep("127.0.0.1", 50000), ls = ep("127.0.0.1", 8080);
	sonde_holders_put(h, &lc, &ls, 111, &(struct sonde_holder){ .pid = 700 });
	sonde_holders_put(h, &lc, &ls, 222, &(struct sonde_holder){ .pid = 800 });
	assert_int_equal(sonde_holders_get(h, &lc, &ls, 111)->pid, 700);
	assert_int_equal(sonde_holders_get(h, &lc, &ls, 222)->pid, 800);
	assert_null(sonde_holders_get(h, &lc, &ls, 333));
	/* the namespace of each pid's last socket */
	assert_int_equal(sonde_holders_netns_of(h, 700), 111);
	assert_int_equal(sonde_holders_netns_of(h, 800), 222);
	assert_int_equal(sonde_holders_netns_of(h, 900), 0);
	/* the latest opener of a tuple wins */
	sonde_holders_put(h, &cli, &srv, 111, &(struct sonde_holder){ .pid = 501 });
	assert_int_equal(sonde_holders_get(h, &cli, &srv, 0)->pid, 501);
	sonde_holders_free(h);
}

static void bounded(void **state)
{
	(void)state;
	struct sonde_holders *h = sonde_holders_new(8);
	struct sonde_endpoint srv = ep("10.1.0.1", 8080);
	for (uint16_t p = 1; p <= 20; p++) {
		struct sonde_endpoint cli = ep("10.1.0.2", p);
		sonde_holders_put(h, &cli, &srv, 0, &(struct sonde_holder){ .pid = 1000u + p });
	}
	for (uint16_t p = 1; p <= 20; p++) {
		struct sonde_endpoint cli = ep("10.1.0.2", p);
		const struct sonde_holder *w = sonde_holders_get(h, &cli, &srv, 0);
		if (p > 12)
			assert_int_equal(w->pid, 1000u + p);
		else
			assert_null(w);
	}
	/* A tuple put again, then its older slot overwritten: the newer stays. */
	struct sonde_endpoint a = ep("10.9.9.9", 1);
	sonde_holders_put(h, &a, &srv, 0, &(struct sonde_holder){ .pid = 1 });
	for (int i = 0; i < 3; i++) {
		struct sonde_endpoint b = ep("10.9.9.8", (uint16_t)(100 + i));
		sonde_holders_put(h, &b, &srv, 0, &(struct sonde_holder){ .pid = 2 });
	}
	sonde_holders_put(h, &a, &srv, 0, &(struct sonde_holder){ .pid = 3 });
	for (int i = 0; i < 5; i++) {
		struct sonde_endpoint b = ep("10.9.9.7", (uint16_t)(100 + i));
		sonde_holders_put(h, &b, &srv, 0, &(struct sonde_holder){ .pid = 4 });
	}
	assert_int_equal(sonde_holders_get(h, &a, &srv, 0)->pid, 3);
	sonde_holders_free(h);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(ordered_and_namespaced),
		tu_test(bounded),
	};
	return cmocka_run_group_tests_name("holders", tests, NULL, NULL);
}
