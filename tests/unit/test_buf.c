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

/* ------------------------------------------------------ JSON escaping --- */

/* The escaping rules one byte at a time (RFC 8259 section 7, RFC 3629's
 * well-formed sequences), to hold the fast pass to: -1 where strict fails. */
static long ref_utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
	if (!len || n < len)
		return 0;
	uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return (long)len;
}

static int ref_escape(struct sonde_buf *b, const uint8_t *p, size_t n, bool strict)
{
	sonde_buf_putc(b, '"');
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		long l;
		if (c == '"' || c == '\\') {
			sonde_buf_putc(b, '\\');
			sonde_buf_putc(b, (char)c);
		} else if (c == '\n' || c == '\r' || c == '\t') {
			sonde_buf_puts(b, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t");
		} else if (c < 0x20) {
			if (strict && !c)
				return -1;
			sonde_buf_printf(b, "\\u%04x", c);
		} else if (c < 0x80) {
			sonde_buf_putc(b, (char)c);
		} else if ((l = ref_utf8_len(p + i, n - i))) {
			sonde_buf_append(b, p + i, (size_t)l);
			i += (size_t)l;
			continue;
		} else if (strict) {
			return -1;
		} else {
			sonde_buf_puts(b, "\xef\xbf\xbd");
		}
		i++;
	}
	sonde_buf_putc(b, '"');
	return 0;
}

/* Random strings dense in what needs care (quotes, backslashes, controls,
 * UTF-8 of every length, broken sequences) at every length to 200 and at
 * every alignment: the fast passes write what the reference does. */
static void test_json_escape(void **state)
{
	(void)state;
	static const char *const pieces[] = {
		"a",
		"bcdefghijklmnopq",
		"\"",
		"\\",
		"\n",
		"\t",
		"\r",
		"\x01",
		"\x1f",
		"\x7f",
		"\xc3\xa9",
		"\xe2\x82\xac",
		"\xf0\x9f\x98\x80",
		"\xc3",
		"\xe2\x82",
		"\xff",
		"\xed\xa0\x80",
		"\xc0\xaf",
		"\xf4\x90\x80\x80",
		"0123456789",
		"\0",
	};
	uint8_t in[256];
	unsigned seed = 12345;
	for (int round = 0; round < 20000; round++) {
		size_t n = 0, want = (size_t)(rand_r(&seed) % 201),
		       skew = (size_t)(rand_r(&seed) % 16);
		/* half the strings of the first seven pieces alone: text whose
		 * specials all take two-byte escapes (SSSE3 spreads those) */
		size_t kinds = rand_r(&seed) % 2 ? 7 : sizeof(pieces) / sizeof(pieces[0]);
		while (n < want) {
			size_t k = (size_t)rand_r(&seed) % kinds;
			size_t l = pieces[k][0] ? strlen(pieces[k]) : 1;
			if (skew + n + l > sizeof(in))
				break;
			memcpy(in + skew + n, pieces[k], l);
			n += l;
		}
		for (int strict = 0; strict < 2; strict++) {
			struct sonde_buf got = { 0 }, ref = { 0 };
			int rc = strict ? sonde_json_str_utf8(&got, in + skew, n)
					: (sonde_json_str(&got, in + skew, n), 0);
			int rrc = ref_escape(&ref, in + skew, n, strict);
			assert_int_equal(rc, rrc);
			if (!rc && (got.len != ref.len || memcmp(got.p, ref.p, got.len)))
				fail_msg("round %d strict %d: %.*s != %.*s", round, strict,
					 (int)got.len, got.p, (int)ref.len, ref.p);
			if (rc)
				assert_int_equal(got.len, 0);
			sonde_buf_free(&got);
			sonde_buf_free(&ref);
		}
	}
}

/* Integers without printf: every digit count and both ends of the range
 * come out as printf writes them; keys as sonde_json_str writes them. */
/* Microseconds of any int64_t nanoseconds, the most negative too (a
 * latency of timestamps from the kernel's events: fuzz_ebpf's
 * regression-cf18adf…). */
static void test_micros_extremes(void **state)
{
	(void)state;
	struct sonde_buf b = { 0 };
	sonde_buf_micros(&b, INT64_MIN);
	sonde_buf_putc(&b, ' ');
	sonde_buf_micros(&b, INT64_MAX);
	sonde_buf_putc(&b, ' ');
	sonde_buf_micros(&b, -1500);
	sonde_buf_putc(&b, 0);
	assert_string_equal((const char *)b.p, "-9223372036854775.808 9223372036854775.807 -1.500");
	sonde_buf_free(&b);
}

static void test_integers(void **state)
{
	(void)state;
	struct sonde_buf got = { 0 };
	char ref[64];
	uint64_t u = 0;
	for (int digits = 0; digits <= 20; digits++) {
		const uint64_t vs[] = { u, u + 1, u ? u - 1 : 9, u * 7 + 3 };
		for (size_t k = 0; k < sizeof(vs) / sizeof(vs[0]); k++) {
			const int64_t sv[] = { (int64_t)vs[k], (int64_t)(0 - vs[k]) };
			sonde_buf_reset(&got);
			sonde_buf_u64(&got, vs[k]);
			int n = snprintf(ref, sizeof(ref), "%llu", (unsigned long long)vs[k]);
			assert_int_equal(got.len, n);
			assert_memory_equal(got.p, ref, (size_t)n);
			for (int s = 0; s < 2; s++) {
				sonde_buf_reset(&got);
				sonde_buf_i64(&got, sv[s]);
				n = snprintf(ref, sizeof(ref), "%lld", (long long)sv[s]);
				assert_int_equal(got.len, n);
				assert_memory_equal(got.p, ref, (size_t)n);
			}
		}
		u = u ? u * 10 : 10;
	}
	const struct {
		uint64_t u;
		int64_t i;
		const char *us, *is;
	} ends[] = {
		{ UINT64_MAX, INT64_MIN, "18446744073709551615", "-9223372036854775808" },
		{ 0, INT64_MAX, "0", "9223372036854775807" },
	};
	for (size_t k = 0; k < 2; k++) {
		sonde_buf_reset(&got);
		sonde_buf_u64(&got, ends[k].u);
		sonde_buf_putc(&got, ' ');
		sonde_buf_i64(&got, ends[k].i);
		snprintf(ref, sizeof(ref), "%s %s", ends[k].us, ends[k].is);
		assert_int_equal(got.len, strlen(ref));
		assert_memory_equal(got.p, ref, got.len);
	}
	const char *keys[] = { "", "status", "a\"b", "tab\there", "x" };
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		struct sonde_buf want = { 0 };
		sonde_buf_reset(&got);
		sonde_json_key(&got, keys[k]);
		sonde_json_cstr(&want, keys[k]);
		sonde_buf_putc(&want, ':');
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.p, want.p, got.len);
		sonde_buf_free(&want);
	}
	sonde_buf_free(&got);
}

/* Base64 by the definition, one sextet at a time. */
static void ref_base64(struct sonde_buf *b, const uint8_t *p, size_t n)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		for (int k = 0; k < 4; k++)
			sonde_buf_putc(b, (size_t)k * 6 < (n - i) * 8
						  ? abc[(v >> (18 - 6 * k)) & 63]
						  : '=');
	}
}

/* Every length to 300 at every alignment, random bytes and every byte
 * value: the wide paths (SSSE3, 64-bit words) and the tail write what the
 * definition does. */
static void test_base64(void **state)
{
	(void)state;
	uint8_t in[320];
	unsigned seed = 4242;
	for (size_t k = 0; k < sizeof(in); k++)
		in[k] = (uint8_t)rand_r(&seed);
	struct sonde_buf got = { 0 }, ref = { 0 };
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			for (size_t k = 0; k < sizeof(in); k++)
				in[k] = (uint8_t)(k * 7);
		for (size_t skew = 0; skew < 16; skew++)
			for (size_t n = 0; n + skew <= 300; n++) {
				sonde_buf_reset(&got);
				sonde_buf_reset(&ref);
				sonde_buf_append(&got, "x", 1);
				sonde_buf_append(&ref, "x", 1);
				sonde_base64(&got, in + skew, n);
				ref_base64(&ref, in + skew, n);
				if (got.len != ref.len || memcmp(got.p, ref.p, got.len))
					fail_msg("n %zu skew %zu: %.*s != %.*s", n, skew,
						 (int)got.len, got.p, (int)ref.len, ref.p);
			}
	}
	sonde_buf_free(&got);
	sonde_buf_free(&ref);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_unbounded),       tu_test(test_json_escape), tu_test(test_base64),
		tu_test(test_limit),           tu_test(test_fmt_time),    tu_test(test_integers),
		tu_test(test_micros_extremes),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
