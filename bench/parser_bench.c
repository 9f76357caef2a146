/* SPDX-License-Identifier: MIT */
/*
 * parser_bench: in-memory throughput of the HTTP/1 dissector on one core.
 *
 *   parser_bench [-t SECONDS] [-c CHUNK] [-m mixed|small] [-n MESSAGES] [-S SEED]
 *
 * Builds two buffers of pipelined traffic of one keep-alive connection: the
 * requests (realistic headers, some POST bodies) and the responses (bodies
 * log-uniform between a few hundred bytes and ~200 KB, Content-Length or
 * chunked — "mixed", the traffic bench/gen_http_pcap writes — or 0-2 KB
 * bodies, "small", where head parsing dominates). Both are fed through
 * sonde_dissector_http1's interface, CHUNK bytes per call (default 1448, a
 * TCP segment's payload; chunks ignore message boundaries), a response's
 * bytes only after all of its request's, into a session whose record output
 * only counts. The dissector runs with `sonde read`'s default options. Passes
 * repeat (a fresh connection each) for at least SECONDS (default 5).
 *
 * Prints MB/s (10^6 bytes of both directions per second of CPU time) and
 * messages/s, and checks that every exchange came out as one record.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/pipeline.h"
#include "proto/dissector.h"

extern const struct sonde_dissector sonde_dissector_http1;

static uint64_t rng_state = 1;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static uint32_t rnd_log(uint32_t lo, uint32_t hi)
{
	double u = (double)(rnd() >> 11) / (double)(1ull << 53);
	return (uint32_t)exp(log((double)lo) + u * (log((double)hi) - log((double)lo)));
}

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void b_reserve(struct buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return;
	while (b->cap - b->len < more)
		b->cap = b->cap ? b->cap * 2 : 1 << 16;
	b->p = realloc(b->p, b->cap);
	if (!b->p) {
		perror("realloc");
		exit(1);
	}
}

__attribute__((format(printf, 2, 3))) static void b_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	b_reserve(b, 4096);
	va_start(ap, fmt);
	int n = vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void b_fill(struct buf *b, uint32_t n, bool binary)
{
	static const char text[] = "lorem ipsum dolor sit amet, {\"id\":42,\"name\":\"x\"} <p>hello</p>\n";
	b_reserve(b, n);
	for (uint32_t i = 0; i < n; i++)
		b->p[b->len + i] = binary ? (uint8_t)(rnd() >> 13) : (uint8_t)text[(i * 7 + n) % (sizeof(text) - 1)];
	b->len += n;
}

static void b_token(struct buf *b, uint32_t n)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	b_reserve(b, n);
	for (uint32_t i = 0; i < n; i++)
		b->p[b->len + i] = (uint8_t)alnum[rnd_below(sizeof(alnum) - 1)];
	b->len += n;
}

static const char *const agents[] = {
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
	"curl/8.4.0",
};

static void request(struct buf *b, bool small)
{
	bool post = rnd_below(100) < 12;
	b_printf(b, "%s /api/v1/items/%u?page=%u HTTP/1.1\r\nHost: www.example.com\r\n",
		 post ? "POST" : "GET", rnd_below(100000), rnd_below(50));
	b_printf(b, "User-Agent: %s\r\n", agents[rnd_below(3)]);
	b_printf(b, "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
		    "Accept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n"
		    "Referer: https://www.example.com/products\r\n");
	b_printf(b, "Cookie: session_id=");
	b_token(b, rnd_log(20, 600));
	b_printf(b, "\r\nConnection: keep-alive\r\n");
	if (post) {
		uint32_t n = small ? rnd_below(500) + 1 : rnd_log(40, 6000);
		b_printf(b, "Content-Type: application/json\r\nContent-Length: %u\r\n\r\n", n);
		b_fill(b, n, false);
	} else {
		b_printf(b, "\r\n");
	}
}

static void response(struct buf *b, bool small)
{
	uint32_t size = small ? rnd_below(2048) : rnd_log(300, 200000);
	bool binary = rnd_below(3) == 0, chunked = rnd_below(100) < 35;
	b_printf(b, "HTTP/1.1 200 OK\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\nServer: nginx/1.25.3\r\n"
		    "Content-Type: %s\r\nCache-Control: max-age=3600, public\r\nETag: \"%08x\"\r\n"
		    "Vary: Accept-Encoding\r\nConnection: keep-alive\r\n",
		 binary ? "image/jpeg" : "text/html; charset=utf-8", (uint32_t)rnd());
	if (!chunked) {
		b_printf(b, "Content-Length: %u\r\n\r\n", size);
		b_fill(b, size, binary);
		return;
	}
	b_printf(b, "Transfer-Encoding: chunked\r\n\r\n");
	while (size) {
		uint32_t n = 1024 + rnd_below(15 * 1024);
		if (n > size)
			n = size;
		b_printf(b, "%x\r\n", n);
		b_fill(b, n, binary);
		b_printf(b, "\r\n");
		size -= n;
	}
	b_printf(b, "0\r\n\r\n");
}

static uint64_t records, bad_records;

static void count(void *ctx, const struct sonde_record *r)
{
	(void)ctx;
	records++;
	if (!r->req || !r->resp || ((r->req->flags | r->resp->flags) & ~(uint32_t)SONDE_MF_TRUNCATED))
		bad_records++;
}

static double now(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = 5;
	size_t chunk = 1448;
	bool small = false;
	uint32_t nmsg = 0;
	int opt;
	while ((opt = getopt(argc, argv, "t:c:m:n:S:")) != -1) {
		switch (opt) {
		case 't': seconds = atof(optarg); break;
		case 'c': chunk = (size_t)atol(optarg); break;
		case 'm': small = !strcmp(optarg, "small"); break;
		case 'n': nmsg = (uint32_t)atol(optarg); break;
		case 'S': rng_state = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: parser_bench [-t SECONDS] [-c CHUNK] [-m mixed|small] [-n MESSAGES] [-S SEED]\n");
			return 2;
		}
	}
	if (!chunk)
		chunk = 1;
	if (!nmsg)
		nmsg = small ? 100000 : 2000; /* ~64 MB of mixed traffic, ~170 MB small */

	struct buf dir[2] = { { 0 }, { 0 } };
	/* Where each request ends and each response starts: a response is fed
	 * only once its request was. */
	size_t *req_end = malloc(nmsg * sizeof(*req_end)), *resp_start = malloc(nmsg * sizeof(*resp_start));
	if (!req_end || !resp_start)
		return 1;
	for (uint32_t i = 0; i < nmsg; i++) {
		request(&dir[SONDE_DIR_C2S], small);
		req_end[i] = dir[SONDE_DIR_C2S].len;
		resp_start[i] = dir[SONDE_DIR_S2C].len;
		response(&dir[SONDE_DIR_S2C], small);
	}
	size_t total = dir[0].len + dir[1].len;

	struct sonde_pipeline_opts po;
	sonde_pipeline_defaults(&po);
	struct sonde_dissect_opts dopts = po.dissect;
	struct sonde_conn_info info;
	memset(&info, 0, sizeof(info));
	info.l4 = SONDE_L4_TCP;
	struct sonde_record_out out = { count, NULL };
	struct sonde_stats stats;
	memset(&stats, 0, sizeof(stats));
	struct sonde_pending_budget pending = { 0, dopts.pending_mem };
	const struct sonde_dissector *d = &sonde_dissector_http1;

	uint64_t passes = 0, bytes = 0, calls = 0;
	double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID), c1;
	do {
		struct sonde_session sess;
		memset(&sess, 0, sizeof(sess));
		sess.conn = &info;
		sess.opts = &dopts;
		sess.stats = &stats;
		sonde_pairing_init(&sess.pairing, &info, &out, &stats, dopts.max_waiting, &pending);
		void *st = d->open(&sess);
		size_t pos[2] = { 0, 0 };
		uint64_t ts = 1;
		uint32_t j = 0; /* last response the next S2C chunk reaches into */
		while (pos[0] < dir[0].len || pos[1] < dir[1].len) {
			/* The next response chunk, unless its requests are not all
			 * in yet: then the next request chunk. */
			int k = 1;
			if (pos[1] >= dir[1].len) {
				k = 0;
			} else if (pos[0] < dir[0].len) {
				size_t s2c_end = pos[1] + chunk;
				while (j + 1 < nmsg && resp_start[j + 1] < s2c_end)
					j++;
				if (pos[0] < req_end[j])
					k = 0;
			}
			size_t n = dir[k].len - pos[k] < chunk ? dir[k].len - pos[k] : chunk;
			size_t used = d->data(st, (enum sonde_dir)k, dir[k].p + pos[k], n, ts++);
			if (used != n) {
				fprintf(stderr, "parser_bench: dissector consumed %zu of %zu bytes\n", used, n);
				return 1;
			}
			pos[k] += n;
			calls++;
		}
		d->end(st, SONDE_DIR_C2S, ts);
		d->end(st, SONDE_DIR_S2C, ts);
		d->close(st, ts);
		passes++;
		bytes += total;
		c1 = now(CLOCK_PROCESS_CPUTIME_ID);
	} while (c1 - c0 < seconds);
	double wall = now(CLOCK_MONOTONIC) - w0, cpu = c1 - c0;

	uint64_t msgs = 2 * (uint64_t)nmsg * passes;
	if (records != (uint64_t)nmsg * passes || bad_records) {
		fprintf(stderr, "parser_bench: %" PRIu64 " records (%" PRIu64 " incomplete), expected %" PRIu64 "\n",
			records, bad_records, (uint64_t)nmsg * passes);
		return 1;
	}
	printf("parser_bench: mix=%s chunk=%zu buffer=%.1f MB (%u exchanges) passes=%" PRIu64
	       " cpu=%.2fs wall=%.2fs\n",
	       small ? "small" : "mixed", chunk, (double)total / 1e6, nmsg, passes, cpu, wall);
	printf("parser_bench: %.0f MB/s, %.0f messages/s, %.0f calls/s per core\n",
	       (double)bytes / 1e6 / cpu, (double)msgs / cpu, (double)calls / cpu);
	free(dir[0].p);
	free(dir[1].p);
	free(req_end);
	free(resp_start);
	return 0;
}
