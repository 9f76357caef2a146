/* SPDX-License-Identifier: MIT */
/*
 * The whole-path targets' pipeline (fuzz_capfile, fuzz_ebpf): records to a
 * JSON sink on an open_memstream. Closing it finishes the pipeline and
 * checks the oracles every such target shares: no connection left, the sink
 * wrote everything, the output is valid JSON Lines.
 */
#ifndef SONDE_FUZZ_PIPELINE_H
#define SONDE_FUZZ_PIPELINE_H

#include <stdio.h>
#include <stdlib.h>

#include "conn/conntable.h"
#include "core/pipeline.h"
#include "fuzz_common.h"
#include "sink/sink.h"

struct fuzz_pipeline {
	struct sonde_pipeline p;
	FILE *out;
	char *buf;
	size_t len;
};

static inline void fuzz_pipeline_open(struct fuzz_pipeline *f,
				      const struct sonde_pipeline_opts *opts)
{
	f->buf = NULL;
	f->len = 0;
	f->out = open_memstream(&f->buf, &f->len);
	FUZZ_CHECK(f->out != NULL, "open_memstream");
	struct sonde_sink *sink = sonde_sink_new(SONDE_SINK_JSON, f->out);
	sonde_pipeline_init(&f->p, opts);
	sonde_sink_set_stats(sink, true);
	FUZZ_CHECK(sonde_pipeline_add_stage(&f->p, &sonde_sink_stage, sink) == 0, "add sink");
}

static inline void fuzz_pipeline_close(struct fuzz_pipeline *f)
{
	sonde_pipeline_finish(&f->p);
	FUZZ_CHECK(sonde_conntable_count(f->p.conns) == 0, "%zu connections left after finish",
		   sonde_conntable_count(f->p.conns));
	FUZZ_CHECK(sonde_pipeline_free(&f->p) == 0, "sink write failed");
	fclose(f->out);
	fuzz_check_jsonl((const uint8_t *)f->buf, f->len);
	free(f->buf);
}

#endif
