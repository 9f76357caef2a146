/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: what the Kubernetes API server sends sonde's --kube-api
 * client (src/enrich/kube_watch.c): a watch stream of JSON-lines events, or
 * one page of a list, into the IP table enrichment reads (kube_table.c).
 *
 * Input layout: u8 options, then the bytes.
 *   options % 3    the kind watched: Pod, Service, EndpointSlice
 *   options & 4    a list's body (else a watch stream)
 *   options >> 3   the stream's cut: it is fed in pieces of that many bytes
 *                  plus one (split anywhere, as the network does)
 *
 * Oracles besides the sanitizers: what is kept stays within the bounds of
 * kube_watch.h (strings, addresses, labels), every line handed over is
 * NUL-terminated at its length and within SONDE_KUBE_LINE_MAX, and every
 * address put in the table is found there again by itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/kube_table.h"
#include "enrich/kube_watch.h"
#include "fuzz_common.h"

struct run {
	enum sonde_kube_kind kind;
	struct sonde_kube_table *t;
};

static void check_object(const struct sonde_kube_object *o)
{
	FUZZ_CHECK(strlen(o->name) <= SONDE_KUBE_STR_MAX && strlen(o->ns) <= SONDE_KUBE_STR_MAX,
		   "name over the bound");
	FUZZ_CHECK(strlen(o->rv) <= SONDE_KUBE_RV_MAX, "resourceVersion over the bound");
	FUZZ_CHECK(o->naddrs <= SONDE_KUBE_SLICE_MAX, "too many addresses");
	FUZZ_CHECK(o->nlabels <= SONDE_KUBE_LABELS_MAX, "too many labels");
	for (size_t i = 0; i < o->naddrs; i++)
		FUZZ_CHECK(strlen(o->addrs[i].ip) < sizeof(o->addrs[i].ip), "address unterminated");
}

static void put(struct run *r, const struct sonde_kube_object *o)
{
	check_object(o);
	if (!sonde_kube_table_put(r->t, o))
		return;
	for (size_t i = 0; i < o->naddrs; i++) {
		char name[SONDE_KUBE_STR_MAX + 1], ns[SONDE_KUBE_STR_MAX + 1];
		/* An address twice in one object, or another's: the last one wins. */
		FUZZ_CHECK(sonde_kube_table_service(r->t, o->addrs[i].ip, name, sizeof(name), ns,
						    sizeof(ns)),
			   "an address put is not found");
		struct sonde_container_meta *m = sonde_kube_table_pod(r->t, o->addrs[i].ip);
		FUZZ_CHECK(m && m->pod_ip, "an address put has no pod");
		sonde_container_meta_unref(m);
	}
}

static void listed(void *ctx, const struct sonde_kube_object *o)
{
	put(ctx, o);
}

static bool line(void *ctx, const char *l, size_t len)
{
	struct run *r = ctx;
	FUZZ_CHECK(len <= SONDE_KUBE_LINE_MAX && l[len] == '\0', "line unbounded");
	struct sonde_kube_event ev;
	if (sonde_kube_parse_event(l, len, r->kind, &ev) < 0)
		return true;
	if (ev.type == SONDE_KUBE_ADDED || ev.type == SONDE_KUBE_MODIFIED)
		put(r, &ev.obj);
	else if (ev.type == SONDE_KUBE_DELETED)
		sonde_kube_table_del(r->t, &ev.obj);
	sonde_kube_object_clear(&ev.obj);
	return ev.type != SONDE_KUBE_ERROR;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	struct run r = { .kind = (enum sonde_kube_kind)(opt % 3), .t = sonde_kube_table_new(64) };
	if (opt & 4) {
		char rv[SONDE_KUBE_RV_MAX + 1], cont[512];
		size_t skipped = 0;
		sonde_kube_table_begin_list(r.t);
		if (sonde_kube_parse_list(p, n, r.kind, listed, &r, rv, sizeof(rv), cont, sizeof(cont),
					  &skipped) == 0)
			FUZZ_CHECK(strlen(rv) <= SONDE_KUBE_RV_MAX && strlen(cont) < sizeof(cont),
				   "version or continue over the bound");
		sonde_kube_table_end_list(r.t);
	} else {
		struct sonde_kube_lines l = { 0 };
		size_t cut = (size_t)(opt >> 3) + 1;
		for (size_t at = 0; at < n; at += cut)
			if (!sonde_kube_lines_feed(&l, p + at, n - at < cut ? n - at : cut, line, &r))
				break;
		sonde_kube_lines_free(&l);
	}
	FUZZ_CHECK(sonde_kube_table_len(r.t) <= 64, "table over its bound");
	sonde_kube_table_free(r.t);
	return 0;
}
