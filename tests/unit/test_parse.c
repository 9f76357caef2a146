/* SPDX-License-Identifier: MIT */
/* Command-line sizes and durations (src/core/buf.c): what is accepted, what
 * is refused and the reason given. (-c is tested end to end in
 * tests/e2e/test_cli_opts.py.) */
#include "testutil.h"

static size_t size_ok(const char *s)
{
	size_t v = 12345;
	const char *why = NULL;
	if (sonde_parse_size(s, &v, &why) < 0)
		fail_msg("size '%s' refused: %s", s, why);
	return v;
}

static const char *size_bad(const char *s)
{
	size_t v = 777;
	const char *why = NULL;
	if (sonde_parse_size(s, &v, &why) == 0)
		fail_msg("size '%s' accepted as %zu", s, v);
	assert_int_equal(v, 777);
	assert_non_null(why);
	return why;
}

static uint64_t dur_ok(const char *s)
{
	uint64_t v = 0;
	const char *why = NULL;
	if (sonde_parse_duration(s, &v, &why) < 0)
		fail_msg("duration '%s' refused: %s", s, why);
	return v;
}

static const char *dur_bad(const char *s)
{
	uint64_t v = 777;
	const char *why = NULL;
	if (sonde_parse_duration(s, &v, &why) == 0)
		fail_msg("duration '%s' accepted as %llu", s, (unsigned long long)v);
	assert_int_equal(v, 777);
	assert_non_null(why);
	return why;
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(size_ok("0"), 0);
	assert_int_equal(size_ok("1500"), 1500);
	assert_int_equal(size_ok("64k"), 65536);
	assert_int_equal(size_ok("64K"), 65536);
	assert_int_equal(size_ok("64kb"), 65536);
	assert_int_equal(size_ok("64KiB"), 65536);
	assert_int_equal(size_ok("64KB"), 65536);
	assert_int_equal(size_ok("100B"), 100);
	assert_int_equal(size_ok("16m"), 16u << 20);
	assert_int_equal(size_ok("2g"), 2ull << 30);
	/* Decimals, when the unit makes them whole bytes. */
	assert_int_equal(size_ok("1.5m"), 3u << 19);
	assert_int_equal(size_ok("0.5k"), 512);
	assert_int_equal(size_ok(".25k"), 256);
	assert_int_equal(size_ok("2.0"), 2);
	assert_int_equal(size_ok("1.5g"), 3ull << 29);
}

static void test_sizes_refused(void **state)
{
	(void)state;
	assert_string_equal(size_bad(""), "empty");
	assert_string_equal(size_bad("-1"), "negative");
	assert_string_equal(size_bad("k"), "not a number");
	assert_string_equal(size_bad("."), "not a number");
	assert_string_equal(size_bad("1.5"), "not a whole number of bytes");
	assert_string_equal(size_bad("0.1k"), "not a whole number of bytes");
	assert_non_null(strstr(size_bad("12x"), "unknown unit"));
	assert_non_null(strstr(size_bad("12kx"), "unknown unit"));
	assert_non_null(strstr(size_bad("1.2.3"), "unknown unit"));
	assert_non_null(strstr(size_bad("1 k"), "unknown unit"));
	assert_string_equal(size_bad("1234567890123456789"), "too many digits");
	assert_string_equal(size_bad("999999999999999999g"), "too large");
	assert_non_null(size_bad(NULL));
}

static void test_durations(void **state)
{
	(void)state;
	assert_int_equal(dur_ok("0"), 0);
	assert_int_equal(dur_ok("30"), 30000000000ull);
	assert_int_equal(dur_ok("30s"), 30000000000ull);
	assert_int_equal(dur_ok("1.5"), 1500000000ull);
	assert_int_equal(dur_ok("0.5s"), 500000000ull);
	assert_int_equal(dur_ok("500ms"), 500000000ull);
	assert_int_equal(dur_ok("1.5ms"), 1500000ull);
	assert_int_equal(dur_ok("250us"), 250000ull);
	assert_int_equal(dur_ok("10ns"), 10);
	assert_int_equal(dur_ok("1.5m"), 90000000000ull);
	assert_int_equal(dur_ok("5min"), 300000000000ull);
	assert_int_equal(dur_ok("2h"), 7200000000000ull);
	assert_int_equal(dur_ok("0.000000001"), 1);
}

static void test_durations_refused(void **state)
{
	(void)state;
	assert_string_equal(dur_bad(""), "empty");
	assert_string_equal(dur_bad("-1s"), "negative");
	assert_string_equal(dur_bad("s"), "not a number");
	assert_string_equal(dur_bad("1.5ns"), "not a whole number of nanoseconds");
	assert_string_equal(dur_bad("0.0000000001"), "not a whole number of nanoseconds");
	assert_non_null(strstr(dur_bad("3d"), "unknown unit"));
	assert_non_null(strstr(dur_bad("3 s"), "unknown unit"));
	assert_string_equal(dur_bad("999999999999999999h"), "too large");
	/* The why is optional. */
	uint64_t v;
	assert_int_equal(sonde_parse_duration("x", &v, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_sizes_refused),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_durations_refused),
	};
	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
