/* SPDX-License-Identifier: MIT */
/*
 * ClickHouse's spill (store/spill.h) on a real directory: batches come back
 * oldest first, the quota deletes the oldest and counts their rows, a batch
 * larger than the quota is counted and not kept, a restart takes up what an
 * earlier run left (and deletes half-written files), a file damaged under
 * the spill is dropped and counted.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/spill.h"

static void batch(char *out, size_t len, unsigned i)
{
	memset(out, 'a' + (char)(i % 26), len);
}

static void expect_next(struct sonde_spill *s, unsigned i, size_t len, uint64_t rows)
{
	struct sonde_buf b = { 0 };
	uint64_t r = 0;
	char want[4096];
	batch(want, len, i);
	assert_true(sonde_spill_peek(s, &b, &r));
	assert_int_equal(r, rows);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.p, want, len);
	sonde_spill_pop(s);
	sonde_buf_free(&b);
}

static void test_order_quota_restart(void **state)
{
	(void)state;
	char dir[64] = "/tmp/sonde-spill-test.XXXXXX", err[256], buf[4096], path[4200];
	assert_non_null(mkdtemp(dir));
	strcat(dir, "/s"); /* made by the spill */
	struct sonde_spill s;
	assert_int_equal(sonde_spill_open(&s, dir, 3000, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 5; i++) { /* 5 x 1000 bytes in 3000: the first two go */
		batch(buf, 1000, i);
		sonde_spill_put(&s, buf, 1000, 10 + i);
	}
	assert_int_equal(s.dropped_rows, 10 + 11);
	assert_int_equal(s.rows, 12 + 13 + 14);
	assert_true(s.bytes <= 3000);
	batch(buf, 4000, 9);
	sonde_spill_put(&s, buf, 4000, 99); /* larger than the quota: not kept */
	assert_int_equal(s.dropped_rows, 21 + 99);
	expect_next(&s, 2, 1000, 12);
	sonde_spill_close(&s);

	/* a restart: the two left, in order; a half-written file deleted */
	snprintf(path, sizeof(path), "%s/.tmp-77", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("torn", f);
	fclose(f);
	assert_int_equal(sonde_spill_open(&s, dir, 3000, err, sizeof(err)), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(s.rows, 13 + 14);
	expect_next(&s, 3, 1000, 13);
	batch(buf, 500, 7);
	sonde_spill_put(&s, buf, 500, 7); /* after the ones taken up */
	expect_next(&s, 4, 1000, 14);
	expect_next(&s, 7, 500, 7);
	struct sonde_buf b = { 0 };
	uint64_t r;
	assert_false(sonde_spill_peek(&s, &b, &r));

	/* damaged under the spill (cut short): dropped, counted, the next served */
	batch(buf, 800, 1);
	sonde_spill_put(&s, buf, 800, 8);
	batch(buf, 600, 2);
	sonde_spill_put(&s, buf, 600, 6);
	snprintf(path, sizeof(path), "%s/spill-%020llu-8.tsv", dir,
		 (unsigned long long)s.files[s.head].seq);
	assert_int_equal(truncate(path, 100), 0);
	uint64_t before = s.dropped_rows;
	expect_next(&s, 2, 600, 6);
	assert_int_equal(s.dropped_rows, before + 8);
	assert_int_equal(s.rows, 0);
	assert_int_equal(s.bytes, 0);
	sonde_buf_free(&b);
	sonde_spill_close(&s);
	assert_int_equal(rmdir(dir), 0); /* nothing left behind */
	dir[strlen(dir) - 2] = 0;
	assert_int_equal(rmdir(dir), 0);
}

static void test_refused_dir(void **state)
{
	(void)state;
	struct sonde_spill s;
	char err[256] = "";
	assert_int_equal(sonde_spill_open(&s, "/proc/no/such/spill", 1 << 20, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "/proc/no/such/spill"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_quota_restart),
		cmocka_unit_test(test_refused_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
