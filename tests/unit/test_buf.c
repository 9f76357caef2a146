/* SPDX-License-Identifier: MIT */
/*
 * Bounded buffers (core/buf.h): a zeroed buffer has no limit; with one, an
 * append past it appends nothing and sets the sticky `full` flag, for every
 * append function; reset and free clear the flag and keep the limit.
 */
#include "testutil.h"

#include "core/buf.h"

static void test_unbounded(void **state)
{
	(void)state;
	struct sonde_buf b = { 0 };
	char big[5000];
	memset(big, 'x', sizeof(big));
	assert_int_equal(sonde_buf_append(&b, big, sizeof(big)), 0);
	assert_int_equal(sonde_buf_printf(&b, "%0300d", 7), 0);
	assert_int_equal(b.len, 5300);
	assert_false(b.full);
	sonde_buf_free(&b);
}

static void test_limit(void **state)
{
	(void)state;
	struct sonde_buf b;
	sonde_buf_init(&b, 8);
	assert_int_equal(sonde_buf_puts(&b, "abcd"), 0);
	assert_int_equal(sonde_buf_putc(&b, 'e'), 0);
	assert_int_equal(sonde_buf_printf(&b, "%d", 123), 0); /* exactly the limit */
	assert_int_equal(b.len, 8);
	assert_false(b.full);
	assert_memory_equal(b.p, "abcde123", 8);
	assert_int_equal(sonde_buf_putc(&b, 'x'), -1);
	assert_true(b.full);
	assert_int_equal(b.len, 8);
	sonde_buf_reset(&b);
	assert_false(b.full);
	assert_int_equal(b.limit, 8);
	/* Too big at once: nothing of it goes in; and the flag sticks. */
	assert_int_equal(sonde_buf_append(&b, "123456789", 9), -1);
	assert_int_equal(b.len, 0);
	assert_true(b.full);
	assert_int_equal(sonde_buf_append(&b, "1", 1), -1);
	assert_int_equal(sonde_buf_puts(&b, "1"), -1);
	assert_int_equal(sonde_buf_printf(&b, "%d", 1), -1);
	assert_int_equal(b.len, 0);
	sonde_buf_reset(&b);
	/* printf past the limit, formatted in spare capacity: not content. */
	assert_int_equal(sonde_buf_puts(&b, "ab"), 0);
	assert_int_equal(sonde_buf_printf(&b, "%s", "toolong"), -1);
	assert_int_equal(b.len, 2);
	assert_int_equal(sonde_buf_append(&b, "cd", 2), -1); /* sticky */
	sonde_buf_free(&b);
	assert_false(b.full);
	assert_int_equal(b.limit, 8);
	assert_int_equal(sonde_buf_append(&b, "12345678", 8), 0);
	sonde_buf_free(&b);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_unbounded),
		tu_test(test_limit),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
