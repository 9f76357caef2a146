/* SPDX-License-Identifier: MIT */
/*
 * The card scan's wide steps (redact_scan.c: 64-byte digit bitmaps) find
 * exactly what the scan one step at a time finds: the reference below is
 * that scan as it was before the bitmaps, and both read random text dense
 * in digits, separators, words, decimals and real card numbers at every
 * length to 400 and every alignment.
 */
#include "testutil.h"

#include "redact/redact.h"

static bool digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool sep(uint8_t c)
{
	return c == ' ' || c == '-';
}

static bool word(uint8_t c)
{
	return digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
}

/* The run of digits and separators at p[i] (a card if the checks pass):
 * where the scan goes on. */
static size_t ref_run(const uint8_t *p, size_t n, size_t i, struct sonde_redact_spans *sp)
{
	size_t e = i, last = i, digits = 0;
	while (e < n) {
		if (digit(p[e])) {
			digits++;
			last = e++;
		} else if (sep(p[e]) && e + 1 < n && digit(p[e + 1]) && digit(p[e - 1])) {
			e++;
		} else {
			break;
		}
		if (digits > 19)
			break;
	}
	if (digits >= 13 && digits <= 19 && p[i] >= '2' && p[i] <= '6' &&
	    !(last + 2 < n && p[last + 1] == '.' && digit(p[last + 2])) &&
	    !(last + 1 < n && word(p[last + 1])) && sonde_redact_luhn(p + i, last + 1 - i))
		sonde_redact_spans_add(sp, i, last + 1 - i);
	while (e < n && digit(p[e]))
		e++;
	return e > i ? e : i + 1;
}

static void ref_cards(const uint8_t *p, size_t n, struct sonde_redact_spans *sp)
{
	size_t i = 0;
	while (i < n && n - i >= 13) {
		uint8_t c = p[i + 12];
		if (!digit(c) &&
		    (!sep(c) || !digit(p[i + 11]) || i + 13 >= n || !digit(p[i + 13]))) {
			i += 13;
			continue;
		}
		size_t j = i + 12;
		while (j > i && (digit(p[j - 1]) || sep(p[j - 1])))
			j--;
		i = j;
		if (!digit(p[i]) || (i && word(p[i - 1])) ||
		    (i > 1 && p[i - 1] == '.' && digit(p[i - 2]))) {
			i++;
			continue;
		}
		i = ref_run(p, n, i, sp);
	}
}

static void test_cards_as_stepwise(void **state)
{
	(void)state;
	static const char *const pieces[] = {
		"4111111111111111",
		"4111 1111 1111 1111",
		"5500-0000-0000-0004",
		"0",
		"7",
		"42",
		"123456",
		" ",
		"-",
		".",
		"a",
		"_",
		"x",
		"  ",
		"the quick brown fox ",
		"\xc3\xa9",
		"378282246310005",
		"12345678901234567890123",
	};
	uint8_t in[512];
	unsigned seed = 2026;
	size_t found = 0;
	for (int round = 0; round < 30000; round++) {
		size_t n = 0, want = (size_t)(rand_r(&seed) % 401),
		       skew = (size_t)(rand_r(&seed) % 16);
		/* some inputs all digits, separators and spaces, some mostly text */
		size_t kinds = rand_r(&seed) % 2 ? 7 : sizeof(pieces) / sizeof(pieces[0]);
		while (n < want) {
			const char *pc = pieces[(size_t)rand_r(&seed) % kinds];
			size_t l = strlen(pc);
			if (skew + n + l > sizeof(in))
				break;
			memcpy(in + skew + n, pc, l);
			n += l;
		}
		struct sonde_redact_spans got, ref;
		sonde_redact_spans_clear(&got);
		sonde_redact_spans_clear(&ref);
		sonde_redact_scan_cards(in + skew, n, &got);
		ref_cards(in + skew, n, &ref);
		assert_int_equal(got.n, ref.n);
		assert_int_equal(got.overflow, ref.overflow);
		for (uint32_t k = 0; k < got.n; k++) {
			assert_int_equal(got.s[k].off, ref.s[k].off);
			assert_int_equal(got.s[k].len, ref.s[k].len);
		}
		found += got.n;
	}
	assert_true(found > 1000); /* the inputs do hold cards */
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_cards_as_stepwise),
	};
	return cmocka_run_group_tests_name("redact_cards", tests, NULL, NULL);
}
