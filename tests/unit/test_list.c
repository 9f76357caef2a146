/* SPDX-License-Identifier: MIT */
/*
 * The intrusive list (core/list.h): a zeroed list is empty, pushes at both
 * ends, removal anywhere, moves to either end, and a walk by entry.
 */
#include "testutil.h"

#include "core/list.h"

struct item {
	int v;
	struct sonde_list_node node;
};

/* The values front to back, checking the back links on the way. */
static void order(const struct sonde_list *l, char *out, size_t cap)
{
	size_t k = 0;
	const struct sonde_list_node *prev = NULL;
	for (const struct sonde_list_node *n = l->first; n; n = n->next) {
		assert_ptr_equal(n->prev, prev);
		if (k + 1 < cap)
			out[k++] = (char)('0' + sonde_list_entry(n, struct item, node)->v);
		prev = n;
	}
	assert_ptr_equal(l->last, prev);
	out[k] = 0;
}

static void test_list(void **state)
{
	(void)state;
	struct sonde_list l = { 0 };
	struct item it[5];
	char s[16];
	assert_true(sonde_list_empty(&l));
	assert_null(sonde_list_entry_or_null(l.first, struct item, node));
	for (int i = 0; i < 5; i++) {
		it[i] = (struct item){ .v = i };
		if (i % 2)
			sonde_list_push_front(&l, &it[i].node);
		else
			sonde_list_push_back(&l, &it[i].node);
	}
	order(&l, s, sizeof(s));
	assert_string_equal(s, "31024");
	sonde_list_move_front(&l, &it[4].node);
	sonde_list_move_front(&l, &it[4].node); /* already there */
	order(&l, s, sizeof(s));
	assert_string_equal(s, "43102");
	sonde_list_move_back(&l, &it[3].node);
	sonde_list_move_back(&l, &it[3].node);
	order(&l, s, sizeof(s));
	assert_string_equal(s, "41023");
	sonde_list_remove(&l, &it[0].node); /* middle */
	assert_null(it[0].node.prev);
	assert_null(it[0].node.next);
	sonde_list_remove(&l, &it[4].node); /* first */
	sonde_list_remove(&l, &it[3].node); /* last */
	order(&l, s, sizeof(s));
	assert_string_equal(s, "12");
	assert_int_equal(sonde_list_entry(l.last, struct item, node)->v, 2);
	sonde_list_remove(&l, &it[1].node);
	sonde_list_remove(&l, &it[2].node);
	assert_true(sonde_list_empty(&l));
	assert_null(l.last);
	/* A removed node can go back on. */
	sonde_list_push_back(&l, &it[2].node);
	order(&l, s, sizeof(s));
	assert_string_equal(s, "2");
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_list),
	};
	return cmocka_run_group_tests_name("list", tests, NULL, NULL);
}
