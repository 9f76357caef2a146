/* SPDX-License-Identifier: MIT */
/*
 * gen_http_pcap: write a pcap of synthetic HTTP/1.1 keep-alive traffic for
 * benchmarks.
 *
 *   gen_http_pcap [-s SIZE] [-S SEED] [-c CONCURRENT] [-6 PERCENT] OUT.pcap
 *
 *   -s SIZE        stop opening connections once the file reaches SIZE bytes
 *                  (k/m/g suffixes, powers of 1024; default 1g); the
 *                  connections still open are then finished, so the file
 *                  ends a little past SIZE with every connection closed
 *   -S SEED        PRNG seed (default 1): the same seed and size give the
 *                  same bytes
 *   -c CONCURRENT  connections open at once, interleaved packet by packet
 *                  (default 64)
 *   -6 PERCENT     share of connections over IPv6 (default 10)
 *   -B SIZE        largest response body (default 200000; bench/filter uses
 *                  small ones for many exchanges per byte)
 *
 * Each connection: SYN, SYN-ACK, ACK (MSS 1460, timestamps), then 1-30
 * request/response exchanges, then FIN/ACK from both sides. Requests carry
 * realistic headers (Host, User-Agent, Accept*, Cookie, Referer, ...), some
 * are POSTs with a body; responses have bodies from a few hundred bytes to
 * ~200 KB (log-uniform), framed by Content-Length or chunked, a few are 304s.
 * Segments carry at most 1448 payload bytes (MSS 1460 less the timestamp
 * option); the receiver ACKs every second segment. Ethernet link type,
 * microsecond timestamps, correct IPv4 and TCP checksums.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSS 1460
#define TCP_HLEN 32 /* 20 + NOP NOP TS */
#define SEG_MAX (MSS - 12)
#define MAX_CONC 4096

/* ---------------------------------------------------------------- PRNG --- */

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
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

static uint32_t rnd_range(uint32_t lo, uint32_t hi) /* inclusive */
{
	return lo + rnd_below(hi - lo + 1);
}

/* Log-uniform in [lo, hi]. */
static uint32_t rnd_log(uint32_t lo, uint32_t hi)
{
	double u = (double)(rnd() >> 11) / (double)(1ull << 53);
	double l = log((double)lo), h = log((double)hi);
	return (uint32_t)exp(l + u * (h - l));
}

/* --------------------------------------------------------------- output --- */

static FILE *out;
static uint64_t out_bytes;
static uint64_t now_us = 1700000000ull * 1000000ull;
static uint64_t npackets, nconns, nexchanges;
static uint32_t max_body = 200000; /* -B */

static void put(const void *p, size_t n)
{
	if (fwrite(p, 1, n, out) != n) {
		fprintf(stderr, "gen_http_pcap: write: %s\n", strerror(errno));
		exit(1);
	}
	out_bytes += n;
}

static void pcap_header(void)
{
	struct {
		uint32_t magic;
		uint16_t vmaj, vmin;
		int32_t zone;
		uint32_t sigfigs, snaplen, linktype;
	} h = { 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1 };
	put(&h, sizeof(h));
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

enum { F_FIN = 0x01, F_SYN = 0x02, F_PSH = 0x08, F_ACK = 0x10 };

struct endpoint {
	uint8_t mac[6];
	uint8_t ip[16];
	uint16_t port;
};

struct side {
	struct endpoint ep;
	uint32_t seq; /* next sequence number to send */
	uint32_t tsval;
};

static uint8_t frame[14 + 40 + 60 + 65536];

/* One TCP segment from a to b, acknowledging b's stream so far. */
static void emit(struct side *a, struct side *b, bool v6, uint8_t flags, const uint8_t *payload,
		 uint32_t len)
{
	uint8_t *p = frame;
	memcpy(p, b->ep.mac, 6);
	memcpy(p + 6, a->ep.mac, 6);
	be16(p + 12, v6 ? 0x86dd : 0x0800);
	p += 14;
	bool syn = flags & F_SYN;
	uint32_t thl = syn ? 40 : TCP_HLEN; /* SYNs: MSS, SACK-permitted, TS, WS */
	uint32_t tcp_len = thl + len;
	uint8_t *ip = p;
	if (v6) {
		be32(ip, 0x60000000u);
		be16(ip + 4, (uint16_t)tcp_len);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, a->ep.ip, 16);
		memcpy(ip + 24, b->ep.ip, 16);
		p += 40;
	} else {
		ip[0] = 0x45;
		ip[1] = 0;
		be16(ip + 2, (uint16_t)(20 + tcp_len));
		be16(ip + 4, (uint16_t)npackets);
		be16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = 6;
		be16(ip + 10, 0);
		memcpy(ip + 12, a->ep.ip, 4);
		memcpy(ip + 16, b->ep.ip, 4);
		be16(ip + 10, fold(sum16(ip, 20, 0)));
		p += 20;
	}
	uint8_t *t = p;
	be16(t, a->ep.port);
	be16(t + 2, b->ep.port);
	be32(t + 4, a->seq);
	be32(t + 8, (flags & F_ACK) ? b->seq : 0);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	be16(t + 14, syn ? 64240 : 502);
	be16(t + 16, 0);
	be16(t + 18, 0);
	uint8_t *o = t + 20;
	a->tsval += 1 + rnd_below(3);
	if (syn) {
		o[0] = 2, o[1] = 4;
		be16(o + 2, MSS);
		o[4] = 4, o[5] = 2; /* SACK permitted */
		o[6] = 8, o[7] = 10;
		be32(o + 8, a->tsval);
		be32(o + 12, (flags & F_ACK) ? b->tsval : 0);
		o[16] = 1; /* NOP */
		o[17] = 3, o[18] = 3, o[19] = 7; /* window scale 7 */
	} else {
		o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
		be32(o + 4, a->tsval);
		be32(o + 8, b->tsval);
	}
	if (len)
		memcpy(t + thl, payload, len);
	/* Checksum over the pseudo-header and the segment. */
	uint32_t s;
	if (v6) {
		s = sum16(ip + 8, 32, 0);
		s += tcp_len >> 16;
		s += tcp_len & 0xffff;
		s += 6;
	} else {
		s = sum16(ip + 12, 8, 0);
		s += 6 + tcp_len;
	}
	be16(t + 16, fold(sum16(t, tcp_len, s)));
	uint32_t flen = (uint32_t)(t + tcp_len - frame);

	now_us += 2 + rnd_below(40);
	uint32_t rec[4] = { (uint32_t)(now_us / 1000000), (uint32_t)(now_us % 1000000), flen, flen };
	put(rec, sizeof(rec));
	put(frame, flen);
	npackets++;
	a->seq += len + ((flags & (F_SYN | F_FIN)) ? 1 : 0);
}

/* ---------------------------------------------------------- content --- */

static const char *const user_agents[] = {
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
	"curl/8.4.0",
	"python-requests/2.31.0",
	"okhttp/4.12.0",
	"Go-http-client/1.1",
};
static const char *const hosts[] = {
	"www.example.com", "api.example.com", "static.example.net", "cdn.images.example.org",
	"shop.example.com", "auth.internal.example", "telemetry.example.io", "news.example.co.uk",
};
static const char *const paths[] = {
	"/", "/index.html", "/api/v1/users", "/api/v2/orders/search", "/static/js/app.bundle.js",
	"/static/css/main.css", "/images/hero-banner.jpg", "/favicon.ico", "/v1/metrics",
	"/graphql", "/products/12345/reviews", "/login", "/cart/items", "/feed.xml",
};
static const char *const accepts[] = {
	"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
	"application/json, text/plain, */*",
	"image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
	"*/*",
	"text/css,*/*;q=0.1",
};
static const char *const ctypes[] = {
	"text/html; charset=utf-8", "application/json", "application/javascript", "text/css",
	"image/jpeg", "image/png", "application/octet-stream", "text/plain; charset=utf-8",
};

#define TEXT_POOL (1u << 20)
static uint8_t text_pool[TEXT_POOL], bin_pool[TEXT_POOL];

static void make_pools(void)
{
	static const char words[] =
		"the quick brown fox jumps over lazy dog lorem ipsum dolor sit amet consectetur "
		"adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua "
		"{\"id\":12345,\"name\":\"widget\",\"price\":19.99,\"tags\":[\"a\",\"b\"]} "
		"<div class=\"item\"><a href=\"/products/42\">Product</a></div>\n";
	size_t wl = sizeof(words) - 1;
	for (size_t i = 0; i < TEXT_POOL;) {
		size_t start = rnd_below((uint32_t)wl), n = rnd_range(8, 64);
		for (size_t k = 0; k < n && i < TEXT_POOL; k++)
			text_pool[i++] = (uint8_t)words[(start + k) % wl];
	}
	for (size_t i = 0; i < TEXT_POOL; i += 8) {
		uint64_t v = rnd();
		memcpy(bin_pool + i, &v, 8);
	}
}

static const uint8_t *pool_slice(bool binary, uint32_t n)
{
	const uint8_t *pool = binary ? bin_pool : text_pool;
	return pool + rnd_below(TEXT_POOL - n);
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
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = realloc(b->p, b->cap);
	if (!b->p) {
		perror("realloc");
		exit(1);
	}
}

static void b_add(struct buf *b, const void *p, size_t n)
{
	b_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

__attribute__((format(printf, 2, 3))) static void b_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	b_reserve(b, 1024);
	va_start(ap, fmt);
	int n = vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if ((size_t)n >= b->cap - b->len) {
		b_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

static void cookie(struct buf *b, uint32_t len)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	b_printf(b, "Cookie: session_id=");
	b_reserve(b, len + 64);
	for (uint32_t i = 0; i < len; i++) {
		b->p[b->len++] = (uint8_t)alnum[rnd_below(sizeof(alnum) - 1)];
		if (i % 40 == 39 && i + 10 < len) {
			memcpy(b->p + b->len, "; pref_", 7);
			b->len += 7;
		} else if (i % 40 == 38 && i + 10 < len) {
			b->p[b->len++] = '=';
		}
	}
	b_printf(b, "\r\n");
}

static void make_request(struct buf *b, const char *host)
{
	bool post = rnd_below(100) < 12;
	const char *path = paths[rnd_below(sizeof(paths) / sizeof(*paths))];
	b_printf(b, "%s %s", post ? "POST" : "GET", path);
	if (rnd_below(3) == 0)
		b_printf(b, "?id=%u&page=%u&sort=desc&utm_source=newsletter", rnd_below(100000),
			 rnd_below(50));
	b_printf(b, " HTTP/1.1\r\nHost: %s\r\n", host);
	b_printf(b, "User-Agent: %s\r\n", user_agents[rnd_below(sizeof(user_agents) / sizeof(*user_agents))]);
	b_printf(b, "Accept: %s\r\n", accepts[rnd_below(sizeof(accepts) / sizeof(*accepts))]);
	b_printf(b, "Accept-Language: en-US,en;q=0.9,fr;q=0.8\r\n");
	b_printf(b, "Accept-Encoding: gzip, deflate, br\r\n");
	if (rnd_below(4))
		b_printf(b, "Referer: https://%s%s\r\n", host, paths[rnd_below(sizeof(paths) / sizeof(*paths))]);
	if (rnd_below(5))
		cookie(b, rnd_log(20, 900));
	if (rnd_below(3) == 0)
		b_printf(b, "X-Request-ID: %016" PRIx64 "\r\n", rnd());
	if (rnd_below(4) == 0)
		b_printf(b, "If-None-Match: \"%08x\"\r\n", (uint32_t)rnd());
	b_printf(b, "Connection: keep-alive\r\n");
	if (post) {
		uint32_t n = rnd_log(40, 6000);
		b_printf(b, "Content-Type: application/json\r\nContent-Length: %u\r\n\r\n", n);
		b_add(b, pool_slice(false, n), n);
	} else {
		b_printf(b, "\r\n");
	}
}

static void make_response(struct buf *b)
{
	uint32_t r = rnd_below(100);
	static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
	const char *date_fmt = "Date: %s, %02u Nov 2023 %02u:%02u:%02u GMT\r\n";
	if (r < 6) {
		b_printf(b, "HTTP/1.1 304 Not Modified\r\n");
		b_printf(b, date_fmt, days[rnd_below(7)], rnd_range(1, 28), rnd_below(24), rnd_below(60), rnd_below(60));
		b_printf(b, "ETag: \"%08x\"\r\nServer: nginx/1.25.3\r\nConnection: keep-alive\r\n\r\n", (uint32_t)rnd());
		return;
	}
	const char *status = r < 9 ? "404 Not Found" : "200 OK";
	uint32_t ct = rnd_below(sizeof(ctypes) / sizeof(*ctypes));
	bool binary = ct >= 4 && ct <= 6;
	uint32_t size = max_body > 300 ? rnd_log(300, max_body) : max_body;
	bool chunked = rnd_below(100) < 35;
	b_printf(b, "HTTP/1.1 %s\r\n", status);
	b_printf(b, date_fmt, days[rnd_below(7)], rnd_range(1, 28), rnd_below(24), rnd_below(60), rnd_below(60));
	b_printf(b, "Server: %s\r\n", rnd_below(2) ? "nginx/1.25.3" : "Apache/2.4.58 (Unix)");
	b_printf(b, "Content-Type: %s\r\n", ctypes[ct]);
	b_printf(b, "Cache-Control: max-age=%u, public\r\n", rnd_below(86400));
	b_printf(b, "ETag: \"%08x\"\r\nVary: Accept-Encoding\r\n", (uint32_t)rnd());
	if (rnd_below(3) == 0)
		b_printf(b, "Set-Cookie: tracking=%016" PRIx64 "; Path=/; HttpOnly; SameSite=Lax\r\n", rnd());
	b_printf(b, "Connection: keep-alive\r\n");
	if (!chunked) {
		b_printf(b, "Content-Length: %u\r\n\r\n", size);
		b_add(b, pool_slice(binary, size), size);
		return;
	}
	b_printf(b, "Transfer-Encoding: chunked\r\n\r\n");
	while (size) {
		uint32_t n = rnd_range(1024, 16384);
		if (n > size)
			n = size;
		b_printf(b, "%x\r\n", n);
		b_add(b, pool_slice(binary, n), n);
		b_printf(b, "\r\n");
		size -= n;
	}
	b_printf(b, "0\r\n\r\n");
}

/* --------------------------------------------------------- connections --- */

enum cstate { C_SYN, C_SYNACK, C_ACK, C_REQ, C_RESP, C_FIN1, C_FIN2, C_LASTACK, C_DONE };

struct conn {
	enum cstate st;
	bool v6;
	struct side cli, srv;
	const char *host;
	uint32_t exchanges_left;
	struct buf msg; /* request or response being sent */
	size_t sent;
	uint32_t unacked; /* segments since the receiver's last ACK */
};

static void conn_start(struct conn *c, uint32_t id, int v6_percent)
{
	free(c->msg.p);
	memset(c, 0, sizeof(*c));
	c->v6 = (int)rnd_below(100) < v6_percent;
	uint8_t cmac[6] = { 0x02, 0x11, 0x22, 0x33, (uint8_t)(id >> 8), (uint8_t)id };
	uint8_t smac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0x00, 0x01 };
	memcpy(c->cli.ep.mac, cmac, 6);
	memcpy(c->srv.ep.mac, smac, 6);
	uint32_t client = 0x0a000000u | (rnd_below(1u << 16) + 2);
	uint32_t server = 0xc0a80000u | rnd_range(1, 40);
	if (c->v6) {
		static const uint8_t pre[8] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1 };
		memcpy(c->cli.ep.ip, pre, 8);
		memcpy(c->srv.ep.ip, pre, 8);
		c->srv.ep.ip[7] = 2;
		be32(c->cli.ep.ip + 12, client);
		be32(c->srv.ep.ip + 12, server);
	} else {
		be32(c->cli.ep.ip, client);
		be32(c->srv.ep.ip, server);
	}
	c->cli.ep.port = (uint16_t)rnd_range(32768, 60999);
	c->srv.ep.port = rnd_below(4) ? 80 : 8080;
	c->cli.seq = (uint32_t)rnd();
	c->srv.seq = (uint32_t)rnd();
	c->cli.tsval = (uint32_t)rnd();
	c->srv.tsval = (uint32_t)rnd();
	c->host = hosts[rnd_below(sizeof(hosts) / sizeof(*hosts))];
	c->exchanges_left = rnd_range(1, 30);
	c->st = C_SYN;
	nconns++;
}

/* Send the next segment of c->msg from a to b; true when it is all sent. */
static bool send_msg(struct conn *c, struct side *a, struct side *b)
{
	size_t left = c->msg.len - c->sent;
	uint32_t n = left < SEG_MAX ? (uint32_t)left : SEG_MAX;
	bool last = n == left;
	emit(a, b, c->v6, F_ACK | (last ? F_PSH : 0), c->msg.p + c->sent, n);
	c->sent += n;
	if (++c->unacked == 2 && !last) {
		emit(b, a, c->v6, F_ACK, NULL, 0);
		c->unacked = 0;
	}
	return last;
}

/* Emit the connection's next packet(s). */
static void conn_step(struct conn *c)
{
	switch (c->st) {
	case C_SYN:
		emit(&c->cli, &c->srv, c->v6, F_SYN, NULL, 0);
		c->st = C_SYNACK;
		break;
	case C_SYNACK:
		emit(&c->srv, &c->cli, c->v6, F_SYN | F_ACK, NULL, 0);
		c->st = C_ACK;
		break;
	case C_ACK:
		emit(&c->cli, &c->srv, c->v6, F_ACK, NULL, 0);
		c->st = C_REQ;
		c->msg.len = 0;
		c->sent = 0;
		make_request(&c->msg, c->host);
		break;
	case C_REQ:
		if (send_msg(c, &c->cli, &c->srv)) {
			c->st = C_RESP;
			c->msg.len = 0;
			c->sent = 0;
			c->unacked = 0;
			make_response(&c->msg);
		}
		break;
	case C_RESP:
		if (send_msg(c, &c->srv, &c->cli)) {
			emit(&c->cli, &c->srv, c->v6, F_ACK, NULL, 0);
			c->unacked = 0;
			nexchanges++;
			if (--c->exchanges_left) {
				c->st = C_REQ;
				c->msg.len = 0;
				c->sent = 0;
				make_request(&c->msg, c->host);
			} else {
				c->st = C_FIN1;
			}
		}
		break;
	case C_FIN1:
		emit(&c->cli, &c->srv, c->v6, F_FIN | F_ACK, NULL, 0);
		c->st = C_FIN2;
		break;
	case C_FIN2:
		emit(&c->srv, &c->cli, c->v6, F_FIN | F_ACK, NULL, 0);
		c->st = C_LASTACK;
		break;
	case C_LASTACK:
		emit(&c->cli, &c->srv, c->v6, F_ACK, NULL, 0);
		c->st = C_DONE;
		break;
	case C_DONE:
		break;
	}
}

/* ---------------------------------------------------------------- main --- */

static int parse_size(const char *s, uint64_t *out_v)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end | 0x20) {
	case 'k': v <<= 10; end++; break;
	case 'm': v <<= 20; end++; break;
	case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -1;
	*out_v = v;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: gen_http_pcap [-s SIZE] [-S SEED] [-c CONCURRENT] [-6 PERCENT] [-B SIZE] OUT.pcap\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t target = 1ull << 30, seed = 1;
	unsigned conc = 64;
	int v6_percent = 10;
	int opt;
	while ((opt = getopt(argc, argv, "s:S:c:6:B:h")) != -1) {
		switch (opt) {
		case 's':
			if (parse_size(optarg, &target))
				usage();
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			conc = (unsigned)atoi(optarg);
			if (!conc || conc > MAX_CONC)
				usage();
			break;
		case '6':
			v6_percent = atoi(optarg);
			break;
		case 'B': {
			uint64_t b;
			if (parse_size(optarg, &b) || b > 1u << 30)
				usage();
			max_body = (uint32_t)b;
			break;
		}
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	rng_state = seed;
	out = fopen(argv[optind], "wb");
	if (!out) {
		fprintf(stderr, "gen_http_pcap: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	setvbuf(out, NULL, _IOFBF, 4 << 20);
	make_pools();
	pcap_header();

	static struct conn conns[MAX_CONC];
	uint32_t next_id = 0;
	unsigned active = conc;
	for (unsigned i = 0; i < conc; i++)
		conn_start(&conns[i], next_id++, v6_percent);
	while (active) {
		struct conn *c = &conns[rnd_below(conc)];
		if (c->st == C_DONE)
			continue;
		conn_step(c);
		if (c->st == C_DONE) {
			if (out_bytes < target)
				conn_start(c, next_id++, v6_percent);
			else
				active--;
		}
	}
	for (unsigned i = 0; i < conc; i++)
		free(conns[i].msg.p);
	if (fclose(out) != 0) {
		fprintf(stderr, "gen_http_pcap: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	fprintf(stderr,
		"gen_http_pcap: %s: %" PRIu64 " bytes, %" PRIu64 " packets, %" PRIu64
		" connections, %" PRIu64 " exchanges\n",
		argv[optind], out_bytes, npackets, nconns, nexchanges);
	return 0;
}
