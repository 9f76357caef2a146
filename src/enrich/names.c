/* SPDX-License-Identifier: MIT */
/* The names stage (see names.h). */
#include "enrich/names.h"

#include <stdlib.h>
#include <string.h>

#include "core/attrs.h"
#include "core/buf.h"
#include "proto/dns/dns_msg.h"
#include "proto/dns/dns_names.h"
#include "proto/dns/dns_wire.h"

#define DEFAULT_SLOTS 65536

struct names_stage {
	struct sonde_dns_names *table;
	struct sonde_stats *stats;
};

/* SONDE_ATTR_NAMES: both ends' names, NULL while unknown. */
struct conn_names {
	char *name[2];
};

static void conn_names_free(void *data)
{
	struct conn_names *cn = data;
	free(cn->name[0]);
	free(cn->name[1]);
	free(cn);
}

void *sonde_names_new(size_t slots, struct sonde_stats *stats)
{
	struct names_stage *s = sonde_xcalloc(1, sizeof(*s));
	s->table = sonde_dns_names_new(slots ? slots : DEFAULT_SLOTS);
	s->stats = stats;
	return s;
}

static void learn(struct names_stage *s, const struct sonde_msg *m)
{
	if (!m || m->ops != &sonde_dns_msg_ops || m->kind != SONDE_MSG_RESPONSE)
		return;
	sonde_dns_names_learn(s->table, (const struct sonde_dns_msg *)m, m->ts_last);
	s->stats->names_responses++;
}

/* Name the ends still unnamed; returns how many were named. */
static int name_ends(struct names_stage *s, struct sonde_conn_attrs *a,
		     const struct sonde_endpoint *const ep[2], uint64_t now)
{
	struct conn_names *cn = sonde_attr_get(a, SONDE_ATTR_NAMES);
	int named = 0;
	for (int e = 0; e < 2; e++) {
		if (cn && cn->name[e])
			continue;
		const char *found;
		if (!sonde_dns_names_lookup(s->table, ep[e]->family, ep[e]->addr, now, &found, 1))
			continue;
		if (!cn) {
			cn = sonde_xcalloc(1, sizeof(*cn));
			sonde_attr_set(a, SONDE_ATTR_NAMES, cn, conn_names_free);
		}
		size_t n = strlen(found) + 1;
		cn->name[e] = memcpy(sonde_xmalloc(n), found, n);
		named++;
	}
	return named;
}

static bool names_record(void *ctx, struct sonde_record *r)
{
	struct names_stage *s = ctx;
	learn(s, r->resp);
	struct sonde_conn_attrs *a = r->conn->attrs;
	if (!a)
		return true;
	const struct sonde_msg *m = r->req ? r->req : r->resp;
	const struct sonde_endpoint *const ep[2] = { &r->conn->client, &r->conn->server };
	s->stats->names_attached += (uint64_t)name_ends(s, a, ep, m->ts_first);
	return true;
}

static int names_close(void *ctx)
{
	struct names_stage *s = ctx;
	sonde_dns_names_free(s->table);
	free(s);
	return 0;
}

const struct sonde_stage_ops sonde_names_stage = {
	.name = "names",
	.phase = SONDE_STAGE_ENRICH,
	.record = names_record,
	.close = names_close,
};

const char *sonde_names_end(const struct sonde_conn_info *c, int e)
{
	const struct conn_names *cn = sonde_attr_get(c->attrs, SONDE_ATTR_NAMES);
	return cn ? cn->name[e] : NULL;
}

void sonde_names_end_fields(const struct sonde_conn_info *c, int e, const struct sonde_field_ops *v,
			    void *ctx)
{
	const char *name = sonde_names_end(c, e);
	if (!name)
		return;
	sonde_field_cstr(v, ctx, "name", name);
	sonde_field_cstr(v, ctx, "name_source", "dns");
}
