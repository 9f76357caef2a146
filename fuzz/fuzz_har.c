/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: -o har (sink/har.h). The first byte picks the path:
 *
 *   even: the rest is HTTP/1 traffic, client bytes then server bytes after
 *         the first NUL; the HTTP/1 dissector's records (hostile targets,
 *         cookies, Set-Cookie dates, bodies) go through sonde_har_add;
 *   odd:  the rest is a "stored record" line for sonde_har_add_json, as
 *         sonde query reads one from a store file that may be anything.
 *
 * Oracles besides the sanitizers: the whole log (head, entries, tail) is
 * one valid JSON object; every HTTP record is an entry, and the counts add
 * up (entries + skipped = records given).
 *
 * fuzz/corpus/fuzz_har/ holds seeds (crafted exchanges and record lines).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "fuzz_session.h"
#include "proto/dissector.h"
#include "sink/har.h"

extern const struct sonde_dissector sonde_dissector_http1;

struct probe {
	struct sonde_har *har;
	struct sonde_buf out;
	uint64_t records;
};

static void collect(void *ctx, const struct sonde_record *r)
{
	struct probe *p = ctx;
	p->records++;
	FUZZ_CHECK(sonde_har_add(p->har, r, &p->out), "an HTTP/1 record skipped");
}

static void check_log(const struct probe *p)
{
	struct fj j = { p->out.p, p->out.p + p->out.len, 0 };
	const uint8_t *end = fj_value(&j, p->out.p);
	FUZZ_CHECK(end && fj_ws(&j, end) == j.end, "the log is not one JSON value: %.*s",
		   (int)(p->out.len > 2048 ? 2048 : p->out.len), (const char *)p->out.p);
	uint64_t unreadable, skipped = sonde_har_skipped(p->har, &unreadable);
	FUZZ_CHECK(sonde_har_entries(p->har) + skipped == p->records, "%llu + %llu != %llu",
		   (unsigned long long)sonde_har_entries(p->har), (unsigned long long)skipped,
		   (unsigned long long)p->records);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	struct probe pr = { .har = sonde_har_new("fuzz") };
	sonde_har_begin(pr.har, &pr.out);
	const uint8_t *rest = data + 1;
	size_t n = size - 1;
	if (data[0] & 1) {
		pr.records = 1;
		(void)sonde_har_add_json(pr.har, (const char *)rest, n, &pr.out);
	} else {
		const uint8_t *nul = memchr(rest, 0, n);
		size_t cn = nul ? (size_t)(nul - rest) : n;
		struct sonde_record_out out = { collect, &pr };
		struct fuzz_session fs;
		fuzz_session_init(&fs, data[0] >> 1, &out);
		fs.info.server.port = 80;
		void *st = sonde_dissector_http1.open(&fs.sess);
		uint64_t ts = 1700000000ull * 1000000000ull;
		sonde_dissector_http1.data(st, SONDE_DIR_C2S, rest, cn, ts);
		if (nul)
			sonde_dissector_http1.data(st, SONDE_DIR_S2C, nul + 1, n - cn - 1,
						   ts + 250000000ull);
		sonde_dissector_http1.close(st, ts + 300000000ull);
	}
	sonde_har_end(pr.har, &pr.out);
	check_log(&pr);
	sonde_buf_free(&pr.out);
	sonde_har_free(pr.har);
	return 0;
}
