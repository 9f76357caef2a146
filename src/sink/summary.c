/* SPDX-License-Identifier: MIT */
/*
 * --summary (see summary.h): exchanges counted per protocol and server, by
 * outcome, with latency percentiles from a log-linear histogram: 8 buckets
 * per power of two, a percentile given as its bucket's middle (within 6.25%),
 * so memory per group is fixed whatever the traffic. Groups are bounded; the rest are counted.
 */
#include "sink/summary.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/u64map.h"
#include "enrich/names.h"
#include "sink/render.h"

#define MAX_GROUPS 1024
#define NBUCKETS 320 /* up to 2^42 µs: no latency is longer */
#define KEY_LEN 128

struct group {
	char protocol[16];
	char server[KEY_LEN]; /* "name:port" or "ip:port" */
	uint64_t exchanges, unanswered, unsolicited;
	uint64_t outcome[5]; /* by enum sonde_outcome */
	uint64_t timed, lat_max;
	uint32_t hist[NBUCKETS];
};

struct sonde_summary {
	struct group *g;
	size_t n;
	struct sonde_u64map index; /* key hash → group index + 1 */
	uint64_t exchanges, omitted;
};

static unsigned bucket_of(uint64_t us)
{
	if (us < 8)
		return (unsigned)us;
	unsigned lg = 63u - (unsigned)__builtin_clzll(us);
	unsigned b = 8 + (lg - 3) * 8 + (unsigned)((us >> (lg - 3)) & 7);
	return b < NBUCKETS ? b : NBUCKETS - 1;
}

/* The smallest latency bucket b holds. */
static uint64_t bucket_low(unsigned b)
{
	if (b < 8)
		return b;
	unsigned k = b - 8, lg = k / 8 + 3;
	return (uint64_t)(8 + k % 8) << (lg - 3);
}

struct sonde_summary *sonde_summary_new(void)
{
	struct sonde_summary *s = sonde_xcalloc(1, sizeof(*s));
	s->g = sonde_xcalloc(MAX_GROUPS, sizeof(*s->g));
	sonde_u64map_init(&s->index);
	return s;
}

void sonde_summary_free(struct sonde_summary *s)
{
	if (!s)
		return;
	sonde_u64map_free(&s->index);
	free(s->g);
	free(s);
}

static uint64_t key_hash(const char *proto, const char *server)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = proto; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ '|') * 1099511628211ull;
	for (const char *p = server; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return sonde_mix64(h) | 1;
}

static struct group *group_of(struct sonde_summary *s, const struct sonde_record *r)
{
	const struct sonde_msg *m = r->req ? r->req : r->resp;
	const struct sonde_conn_info *c = r->conn;
	char server[KEY_LEN];
	const char *name = sonde_names_end(c, 1);
	if (name) {
		snprintf(server, sizeof(server), "%.100s:%u", name, c->server.port);
	} else {
		sonde_endpoint_str(&c->server, server, sizeof(server), 1);
	}
	uint64_t h = key_hash(m->ops->protocol, server), at;
	if (sonde_u64map_get(&s->index, h, &at)) {
		struct group *g = &s->g[at - 1];
		if (!strcmp(g->server, server) && !strcmp(g->protocol, m->ops->protocol))
			return g;
	}
	if (s->n == MAX_GROUPS)
		return NULL;
	struct group *g = &s->g[s->n++];
	snprintf(g->protocol, sizeof(g->protocol), "%s", m->ops->protocol);
	snprintf(g->server, sizeof(g->server), "%s", server);
	sonde_u64map_put(&s->index, h, s->n);
	return g;
}

void sonde_summary_add(struct sonde_summary *s, const struct sonde_record *r)
{
	s->exchanges++;
	struct group *g = group_of(s, r);
	if (!g) {
		s->omitted++;
		return;
	}
	g->exchanges++;
	if (r->flags & SONDE_RF_UNANSWERED)
		g->unanswered++;
	if (r->flags & SONDE_RF_UNSOLICITED)
		g->unsolicited++;
	if (!r->resp)
		return;
	enum sonde_outcome oc =
		r->resp->ops->outcome ? r->resp->ops->outcome(r->resp) : SONDE_OUTCOME_UNKNOWN;
	g->outcome[oc < 5 ? oc : 0]++;
	if (!r->req || r->resp->ts_last < r->req->ts_first)
		return;
	uint64_t us = (r->resp->ts_last - r->req->ts_first) / 1000;
	g->timed++;
	g->hist[bucket_of(us)]++;
	if (us > g->lat_max)
		g->lat_max = us;
}

/* The latency under which a share q of the group's timed exchanges fall. */
static uint64_t percentile(const struct group *g, double q)
{
	uint64_t want = (uint64_t)((double)g->timed * q + 0.999999), seen = 0;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		seen += g->hist[b];
		if (seen >= want && want) {
			/* the bucket's middle: within half its width (6.25%) */
			uint64_t mid = bucket_low(b) + (bucket_low(b + 1) - bucket_low(b)) / 2;
			return mid < g->lat_max ? mid : g->lat_max;
		}
	}
	return g->lat_max;
}

static int by_exchanges(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->exchanges != y->exchanges)
		return x->exchanges < y->exchanges ? 1 : -1;
	return strcmp(x->server, y->server);
}

static void sort_groups(struct sonde_summary *s)
{
	qsort(s->g, s->n, sizeof(*s->g), by_exchanges);
	/* the index points at old places: rebuild it */
	sonde_u64map_free(&s->index);
	sonde_u64map_init(&s->index);
	for (size_t i = 0; i < s->n; i++)
		sonde_u64map_put(&s->index, key_hash(s->g[i].protocol, s->g[i].server), i + 1);
}

static void human_us(struct sonde_buf *o, uint64_t us)
{
	if (us < 1000)
		sonde_buf_printf(o, "%" PRIu64 "us", us);
	else if (us < 1000000)
		sonde_buf_printf(o, "%.1fms", (double)us / 1e3);
	else
		sonde_buf_printf(o, "%.2fs", (double)us / 1e6);
}

void sonde_summary_text(struct sonde_summary *s, struct sonde_buf *o)
{
	sort_groups(s);
	sonde_buf_printf(o, "\nSummary: %" PRIu64 " exchanges\n", s->exchanges);
	sonde_buf_printf(o, "%-10s %-40s %9s %7s %7s %7s %7s %7s %8s %8s %8s %8s\n", "protocol",
			 "server", "exchanges", "ok", "3xx", "4xx", "5xx", "unans", "p50", "p90",
			 "p99", "max");
	for (size_t i = 0; i < s->n; i++) {
		const struct group *g = &s->g[i];
		struct sonde_buf name = { 0 };
		sonde_text_safe(&name, (const uint8_t *)g->server, strlen(g->server), 40);
		sonde_buf_printf(o,
				 "%-10s %-40.*s %9" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64
				 " %7" PRIu64 " %7" PRIu64,
				 g->protocol, (int)name.len, (const char *)name.p, g->exchanges,
				 g->outcome[SONDE_OUTCOME_OK], g->outcome[SONDE_OUTCOME_REDIRECT],
				 g->outcome[SONDE_OUTCOME_CLIENT_ERROR],
				 g->outcome[SONDE_OUTCOME_SERVER_ERROR], g->unanswered);
		sonde_buf_free(&name);
		const double qs[3] = { 0.5, 0.9, 0.99 };
		for (int k = 0; k < 4; k++) {
			struct sonde_buf t = { 0 };
			if (!g->timed)
				sonde_buf_puts(&t, "-");
			else
				human_us(&t, k < 3 ? percentile(g, qs[k]) : g->lat_max);
			sonde_buf_printf(o, " %8.*s", (int)t.len, (const char *)t.p);
			sonde_buf_free(&t);
		}
		sonde_buf_putc(o, '\n');
	}
	if (s->omitted)
		sonde_buf_printf(o,
				 "(%" PRIu64 " exchanges of servers past the first %d not shown)\n",
				 s->omitted, MAX_GROUPS);
}

void sonde_summary_json(struct sonde_summary *s, struct sonde_buf *o)
{
	static const char *const oc_names[5] = { "unknown", "ok", "redirect", "client_error",
						 "server_error" };
	sort_groups(s);
	sonde_buf_printf(o, "{\"type\":\"summary\",\"exchanges\":%" PRIu64 ",\"groups\":[",
			 s->exchanges);
	for (size_t i = 0; i < s->n; i++) {
		const struct group *g = &s->g[i];
		sonde_buf_puts(o, i ? ",{\"protocol\":" : "{\"protocol\":");
		sonde_json_cstr(o, g->protocol);
		sonde_buf_puts(o, ",\"server\":");
		sonde_json_cstr(o, g->server);
		sonde_buf_printf(o,
				 ",\"exchanges\":%" PRIu64 ",\"unanswered\":%" PRIu64
				 ",\"unsolicited\":%" PRIu64 ",\"outcomes\":{",
				 g->exchanges, g->unanswered, g->unsolicited);
		for (int k = 0; k < 5; k++)
			sonde_buf_printf(o, "%s\"%s\":%" PRIu64, k ? "," : "", oc_names[k],
					 g->outcome[k]);
		sonde_buf_puts(o, "}");
		if (g->timed)
			sonde_buf_printf(o,
					 ",\"latency_us\":{\"timed\":%" PRIu64 ",\"p50\":%" PRIu64
					 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64
					 "}",
					 g->timed, percentile(g, 0.5), percentile(g, 0.9),
					 percentile(g, 0.99), g->lat_max);
		sonde_buf_putc(o, '}');
	}
	sonde_buf_printf(o, "],\"exchanges_omitted\":%" PRIu64 "}\n", s->omitted);
}
