/* SPDX-License-Identifier: MIT */
#include "core/pipeline.h"

#include <errno.h>
#include <string.h>

void sonde_pipeline_defaults(struct sonde_pipeline_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->conn.max_conns = 262144;
	o->conn.idle_timeout_ns = 300ull * 1000000000ull;
	o->conn.reasm_mem = 256u << 20;
	o->conn.reasm_stream_mem = 4u << 20;
	o->dissect.body_limit = 64u << 10;
	o->dissect.max_head = 64u << 10;
	o->dissect.max_waiting = 1024;
	o->dissect.pending_mem = 256u << 20;
	o->dissect.decode_bodies = 0;
}

static void emit_to_stages(void *ctx, const struct sonde_record *r)
{
	sonde_stage_chain_record(ctx, r);
}

void sonde_pipeline_init(struct sonde_pipeline *p, const struct sonde_pipeline_opts *o)
{
	memset(p, 0, sizeof(*p));
	p->dopts = o->dissect;
	sonde_stage_chain_init(&p->stages, &p->stats);
	p->out.emit = emit_to_stages;
	p->out.ctx = &p->stages;
	p->conns = sonde_conntable_new(&o->conn, &p->dopts, &p->out, &p->stats);
}

void sonde_pipeline_finish(struct sonde_pipeline *p)
{
	sonde_conntable_close_all(p->conns);
	sonde_stage_chain_finish(&p->stages);
}

int sonde_pipeline_free(struct sonde_pipeline *p)
{
	int rc = sonde_stage_chain_close(&p->stages);
	int err = errno;
	sonde_conntable_free(p->conns);
	p->conns = NULL;
	errno = err;
	return rc;
}
