/* SPDX-License-Identifier: MIT */
#include "core/stage.h"

#include <errno.h>
#include <string.h>

void sonde_stage_chain_init(struct sonde_stage_chain *ch, struct sonde_stats *stats)
{
	memset(ch, 0, sizeof(*ch));
	ch->stats = stats;
}

int sonde_stage_chain_add(struct sonde_stage_chain *ch, const struct sonde_stage_ops *ops,
			  void *ctx)
{
	if (ch->n == SONDE_STAGES_MAX)
		return -1;
	size_t at = ch->n;
	while (at > 0 && ch->stage[at - 1].ops->phase > ops->phase)
		at--;
	memmove(&ch->stage[at + 1], &ch->stage[at], (ch->n - at) * sizeof(ch->stage[0]));
	ch->stage[at].ops = ops;
	ch->stage[at].ctx = ctx;
	ch->n++;
	return 0;
}

void sonde_stage_chain_record(struct sonde_stage_chain *ch, const struct sonde_record *r)
{
	struct sonde_record rec = *r; /* stages may set flags: on their copy */
	for (size_t i = 0; i < ch->n; i++) {
		const struct sonde_stage *s = &ch->stage[i];
		/* A filter counts what it drops itself, under its own name. */
		if (!s->ops->record(s->ctx, &rec) && s->ops->phase != SONDE_STAGE_SINK)
			return;
		if (s->ops->done && s->ops->done(s->ctx))
			ch->done = true;
	}
}

void sonde_stage_chain_finish(struct sonde_stage_chain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		if (ch->stage[i].ops->finish)
			ch->stage[i].ops->finish(ch->stage[i].ctx, ch->stats);
}

void sonde_stage_chain_flush(struct sonde_stage_chain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		if (ch->stage[i].ops->flush)
			ch->stage[i].ops->flush(ch->stage[i].ctx);
	ch->done = ch->done || sonde_stage_chain_done(ch);
}

bool sonde_stage_chain_done(const struct sonde_stage_chain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		if (ch->stage[i].ops->done && ch->stage[i].ops->done(ch->stage[i].ctx))
			return true;
	return false;
}

int sonde_stage_chain_close(struct sonde_stage_chain *ch)
{
	int err = 0;
	for (size_t i = 0; i < ch->n; i++) {
		if (ch->stage[i].ops->close && ch->stage[i].ops->close(ch->stage[i].ctx) < 0 &&
		    !err)
			err = errno ? errno : EIO;
	}
	ch->n = 0;
	if (err)
		errno = err;
	return err ? -1 : 0;
}
