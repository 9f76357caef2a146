/* SPDX-License-Identifier: MIT */
#include "store/top.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

struct group {
	char *key;
	uint64_t count, errors;
	int64_t *lat; /* latencies seen, µs */
	size_t nlat, caplat;
};

struct sonde_top {
	enum sonde_top_kind kind;
	struct group *g;
	size_t n, cap; /* open addressing: cap is a power of two */
};

struct sonde_top *sonde_top_new(enum sonde_top_kind kind)
{
	struct sonde_top *t = sonde_xcalloc(1, sizeof(*t));
	t->kind = kind;
	t->cap = 64;
	t->g = sonde_xcalloc(t->cap, sizeof(*t->g));
	return t;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static struct group *slot(struct group *g, size_t cap, const char *key)
{
	size_t i = hash_str(key) & (cap - 1);
	while (g[i].key && strcmp(g[i].key, key))
		i = (i + 1) & (cap - 1);
	return &g[i];
}

static void grow(struct sonde_top *t)
{
	size_t cap = t->cap * 2;
	struct group *g = sonde_xcalloc(cap, sizeof(*g));
	for (size_t i = 0; i < t->cap; i++)
		if (t->g[i].key)
			*slot(g, cap, t->g[i].key) = t->g[i];
	free(t->g);
	t->g = g;
	t->cap = cap;
}

void sonde_top_add(struct sonde_top *t, const struct sonde_query_row *r)
{
	char key[112];
	if (t->kind == SONDE_TOP_ENDPOINTS)
		snprintf(key, sizeof(key), "%s", r->service);
	else if (t->kind == SONDE_TOP_TALKERS)
		snprintf(key, sizeof(key), "%s", r->client);
	else if (r->status >= 0)
		snprintf(key, sizeof(key), "%d", r->status);
	else
		snprintf(key, sizeof(key), "(none)");
	if ((t->n + 1) * 2 > t->cap)
		grow(t);
	struct group *g = slot(t->g, t->cap, key);
	if (!g->key) {
		g->key = strdup(key);
		t->n++;
	}
	g->count++;
	if (!strcmp(r->outcome, "client_error") || !strcmp(r->outcome, "server_error"))
		g->errors++;
	if (r->latency_us >= 0) {
		if (g->nlat == g->caplat) {
			g->caplat = g->caplat ? g->caplat * 2 : 16;
			g->lat = realloc(g->lat, g->caplat * sizeof(*g->lat));
			if (!g->lat)
				abort();
		}
		g->lat[g->nlat++] = r->latency_us;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* The p-th percentile (nearest rank) in ms, of sorted latencies. */
static double pct(const struct group *g, unsigned p)
{
	size_t rank = (g->nlat * p + 99) / 100;
	return (double)g->lat[rank ? rank - 1 : 0] / 1000.0;
}

void sonde_top_write(struct sonde_top *t, size_t n, bool json, FILE *out)
{
	struct group *v = sonde_xcalloc(t->n + 1, sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < t->cap; i++)
		if (t->g[i].key)
			v[k++] = t->g[i];
	qsort(v, k, sizeof(*v), cmp_group);
	static const char *const what[] = { "endpoint", "status", "talker" };
	if (!json)
		fprintf(out, "%-40s %10s %7s %10s %10s %10s\n", what[t->kind], "records", "errors",
			"p50_ms", "p90_ms", "p99_ms");
	for (size_t i = 0; i < k && (!n || i < n); i++) {
		struct group *g = &v[i];
		qsort(g->lat, g->nlat, sizeof(*g->lat), cmp_i64);
		double err = 100.0 * (double)g->errors / (double)g->count;
		if (json) {
			struct sonde_buf b = { 0 };
			sonde_buf_printf(&b, "{\"type\":\"top\",\"%s\":", what[t->kind]);
			sonde_json_cstr(&b, g->key);
			sonde_buf_printf(&b, ",\"records\":%" PRIu64 ",\"errors\":%" PRIu64,
					 g->count, g->errors);
			if (g->nlat)
				sonde_buf_printf(&b,
						 ",\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,"
						 "\"p99\":%.3f}",
						 pct(g, 50), pct(g, 90), pct(g, 99));
			sonde_buf_puts(&b, "}\n");
			fwrite(b.p, 1, b.len, out);
			sonde_buf_free(&b);
		} else if (g->nlat) {
			fprintf(out, "%-40s %10" PRIu64 " %6.1f%% %10.3f %10.3f %10.3f\n", g->key,
				g->count, err, pct(g, 50), pct(g, 90), pct(g, 99));
		} else {
			fprintf(out, "%-40s %10" PRIu64 " %6.1f%% %10s %10s %10s\n", g->key,
				g->count, err, "-", "-", "-");
		}
	}
	free(v);
}

void sonde_top_free(struct sonde_top *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++) {
		free(t->g[i].key);
		free(t->g[i].lat);
	}
	free(t->g);
	free(t);
}
