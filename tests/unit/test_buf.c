/* SPDX-License-Identifier: MIT */
/*
 * Bounded buffers (core/buf.h): a zeroed buffer has no limit; with one, an
 * append past it appends nothing and sets the sticky `full` flag, for every
 * append function; reset and free clear the flag and keep the limit.
 */
#include "testutil.h"

#include <time.h>

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

/* Timestamps: the calendar arithmetic agrees with glibc's gmtime_r from
 * 1970 to the end of 64-bit nanoseconds (2554), leap days and centuries
 * included. */
static void test_fmt_time(void **state)
{
	(void)state;
	static const uint64_t step = 86400ull * 3 + 3671; /* every hour and weekday in turn */
	for (uint64_t s = 0; s < 18446744073ull; s += step) {
		struct sonde_buf b = { 0 };
		sonde_fmt_time(&b, s * 1000000000ull + 123456789);
		time_t t = (time_t)s;
		struct tm tm;
		gmtime_r(&t, &tm);
		char ref[40];
		strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%S.123456Z", &tm);
		assert_int_equal(b.len, 27);
		assert_memory_equal(b.p, ref, 27);
		sonde_buf_free(&b);
	}
	struct sonde_buf b = { 0 };
	sonde_fmt_time(&b, 951782400ull * 1000000000ull); /* a century's leap day */
	assert_memory_equal(b.p, "2000-02-29T00:00:00.000000Z", 27);
	sonde_buf_free(&b);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_unbounded),
		tu_test(test_limit),
		tu_test(test_fmt_time),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
