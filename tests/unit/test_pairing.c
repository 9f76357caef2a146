/* SPDX-License-Identifier: MIT */
/*
 * Pairing by shape (pair/pairing.h): in order (the oldest waiting request,
 * whatever the key; a request pushed out of the bounded queue still owns the
 * next response), by key (the oldest of the same key, others keep waiting),
 * one-sided events (each message alone, unflagged); the oldest-request
 * accessor; the counters.
 */
#include "testutil.h"

#include "pair/pairing.h"

struct fake {
	struct sonde_msg base;
	int id;
};

static void fake_fields(const struct sonde_msg *m, const struct sonde_field_ops *v, void *ctx)
{
	(void)m, (void)v, (void)ctx;
}

static void fake_summary(const struct sonde_msg *m, struct sonde_buf *o)
{
	(void)m, (void)o;
}

static void fake_free(struct sonde_msg *m)
{
	free(m);
}

static const struct sonde_msg_ops fake_ops = {
	.protocol = "fake",
	.fields = fake_fields,
	.summary = fake_summary,
	.free = fake_free,
};

static struct sonde_msg *msg(int id, uint64_t key, bool response)
{
	struct fake *f = tu_xmalloc(sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->base.ops = &fake_ops;
	f->base.kind = response ? SONDE_MSG_RESPONSE : SONDE_MSG_REQUEST;
	f->base.pair_key = key;
	f->base.mem = 100;
	f->id = id;
	return &f->base;
}

/* What each record held: request id, response id (0: none), flags. */
struct got {
	int req[16], resp[16];
	uint32_t flags[16];
	size_t n;
};

static void got_emit(void *ctx, const struct sonde_record *r)
{
	struct got *g = ctx;
	assert_true(g->n < 16);
	g->req[g->n] = r->req ? ((const struct fake *)r->req)->id : 0;
	g->resp[g->n] = r->resp ? ((const struct fake *)r->resp)->id : 0;
	g->flags[g->n] = r->flags;
	g->n++;
}

struct rig {
	struct got got;
	struct sonde_record_out out;
	struct sonde_stats stats;
	struct sonde_pending_budget budget;
	struct sonde_conn_info conn;
	struct sonde_pairing p;
};

static void rig_init(struct rig *r, enum sonde_pair_shape shape, size_t max_waiting)
{
	memset(r, 0, sizeof(*r));
	r->out.emit = got_emit;
	r->out.ctx = &r->got;
	r->budget.limit = 1u << 20;
	sonde_pairing_init(&r->p, &r->conn, &r->out, &r->stats, max_waiting, &r->budget);
	sonde_pairing_set_shape(&r->p, shape);
}

static void expect(const struct got *g, size_t i, int req, int resp, uint32_t flags)
{
	assert_true(i < g->n);
	assert_int_equal(g->req[i], req);
	assert_int_equal(g->resp[i], resp);
	assert_int_equal(g->flags[i], flags);
}

static void test_in_order(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, SONDE_PAIR_IN_ORDER, 16);
	assert_null(sonde_pairing_oldest(&r.p));
	sonde_pairing_request(&r.p, msg(1, 0, false));
	sonde_pairing_request(&r.p, msg(2, 7, false)); /* the key does not matter */
	assert_int_equal(((struct fake *)sonde_pairing_oldest(&r.p))->id, 1);
	sonde_pairing_response(&r.p, msg(11, 7, true));
	sonde_pairing_response(&r.p, msg(12, 0, true));
	sonde_pairing_response(&r.p, msg(13, 0, true));
	assert_int_equal(r.got.n, 3);
	expect(&r.got, 0, 1, 11, 0);
	expect(&r.got, 1, 2, 12, 0);
	expect(&r.got, 2, 0, 13, SONDE_RF_UNSOLICITED);
	assert_int_equal(r.budget.used, 0);
	assert_int_equal(r.stats.records, 3);
	assert_int_equal(r.stats.records_unsolicited, 1);

	/* one may wait: the second request pushes the first out, unanswered,
	 * and the first response is still the first request's */
	rig_init(&r, SONDE_PAIR_IN_ORDER, 1);
	sonde_pairing_request(&r.p, msg(1, 0, false));
	sonde_pairing_request(&r.p, msg(2, 0, false));
	sonde_pairing_response(&r.p, msg(11, 0, true));
	sonde_pairing_response(&r.p, msg(12, 0, true));
	assert_int_equal(r.got.n, 3);
	expect(&r.got, 0, 1, 0, SONDE_RF_UNANSWERED);
	expect(&r.got, 1, 0, 11, SONDE_RF_UNSOLICITED);
	expect(&r.got, 2, 2, 12, 0);
	assert_int_equal(r.stats.requests_flushed_for_memory, 1);
}

static void test_by_key(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, SONDE_PAIR_BY_KEY, 16);
	sonde_pairing_request(&r.p, msg(1, 1, false));
	sonde_pairing_request(&r.p, msg(3, 3, false));
	sonde_pairing_request(&r.p, msg(5, 3, false));
	sonde_pairing_response(&r.p, msg(13, 3, true)); /* the oldest of key 3 */
	sonde_pairing_response(&r.p, msg(17, 7, true)); /* no such key */
	assert_int_equal(((struct fake *)sonde_pairing_oldest(&r.p))->id, 1);
	sonde_pairing_flush(&r.p);
	assert_int_equal(r.got.n, 4);
	expect(&r.got, 0, 3, 13, 0);
	expect(&r.got, 1, 0, 17, SONDE_RF_UNSOLICITED);
	expect(&r.got, 2, 1, 0, SONDE_RF_UNANSWERED);
	expect(&r.got, 3, 5, 0, SONDE_RF_UNANSWERED);
	assert_int_equal(r.stats.records_unanswered, 2);
	assert_int_equal(r.budget.used, 0);

	/* pushed out of the queue: no orphan is kept for keyed responses */
	rig_init(&r, SONDE_PAIR_BY_KEY, 1);
	sonde_pairing_request(&r.p, msg(1, 1, false));
	sonde_pairing_request(&r.p, msg(3, 3, false));
	sonde_pairing_response(&r.p, msg(13, 3, true));
	assert_int_equal(r.got.n, 2);
	expect(&r.got, 0, 1, 0, SONDE_RF_UNANSWERED);
	expect(&r.got, 1, 3, 13, 0);
}

static void test_events(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, SONDE_PAIR_EVENTS, 16);
	sonde_pairing_request(&r.p, msg(1, 0, false));
	assert_null(sonde_pairing_oldest(&r.p)); /* nothing waits */
	sonde_pairing_response(&r.p, msg(11, 0, true));
	sonde_pairing_flush(&r.p);
	assert_int_equal(r.got.n, 2);
	expect(&r.got, 0, 1, 0, 0);
	expect(&r.got, 1, 0, 11, 0);
	assert_int_equal(r.stats.records, 2);
	assert_int_equal(r.stats.records_unanswered, 0);
	assert_int_equal(r.stats.records_unsolicited, 0);
	assert_int_equal(r.budget.used, 0);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_in_order),
		tu_test(test_by_key),
		tu_test(test_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
