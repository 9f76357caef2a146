/* SPDX-License-Identifier: MIT */
#include "query/filter_stage.h"

#include <stdlib.h>
#include <time.h>

#include "core/buf.h"
#include "query/filter_impl.h"

struct filter_stage {
	struct sonde_filter *f;
	struct sonde_stats *stats;
};

void *sonde_filter_stage_new(struct sonde_filter *f, struct sonde_stats *stats)
{
	struct filter_stage *s = sonde_xcalloc(1, sizeof(*s));
	s->f = f;
	s->stats = stats;
	return s;
}

static bool stage_record(void *ctx, struct sonde_record *r)
{
	struct filter_stage *s = ctx;
	uint64_t now_us = 0;
	if (s->f->uses_now) { /* now() is the wall clock, for files too */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		now_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	}
	if (sonde_filter_match_record(s->f, r, now_us))
		return true;
	s->stats->records_filtered++;
	return false;
}

static int stage_close(void *ctx)
{
	struct filter_stage *s = ctx;
	sonde_filter_free(s->f);
	free(s);
	return 0;
}

const struct sonde_stage_ops sonde_filter_stage = {
	.name = "filter",
	.phase = SONDE_STAGE_FILTER,
	.record = stage_record,
	.close = stage_close,
};
