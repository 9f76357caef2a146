/* SPDX-License-Identifier: MIT */
#include "sink.h"

#include <stdlib.h>

#include "../core/buf.h"

struct sonde_sink {
	enum sonde_sink_format fmt;
	FILE *out;
	struct sonde_buf line; /* reused for every record */
	int failed;
};

struct sonde_sink *sonde_sink_new(enum sonde_sink_format fmt, FILE *out)
{
	struct sonde_sink *s = sonde_xcalloc(1, sizeof(*s));
	s->fmt = fmt;
	s->out = out;
	/* Big stdio buffer: records are many and small. */
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	return s;
}

void sonde_sink_write(struct sonde_sink *s, const struct sonde_record *r)
{
	sonde_buf_reset(&s->line);
	if (s->fmt == SONDE_SINK_JSON)
		sonde_record_json(r, &s->line);
	else
		sonde_record_text(r, &s->line);
	if (fwrite(s->line.p, 1, s->line.len, s->out) != s->line.len)
		s->failed = 1;
}

void sonde_sink_stats(struct sonde_sink *s, const struct sonde_stats *st)
{
	sonde_buf_reset(&s->line);
	if (s->fmt == SONDE_SINK_JSON) {
		sonde_stats_json(st, &s->line);
		if (fwrite(s->line.p, 1, s->line.len, s->out) != s->line.len)
			s->failed = 1;
	} else {
		sonde_stats_text(st, &s->line);
		fflush(s->out);
		fwrite(s->line.p, 1, s->line.len, stderr);
	}
}

void sonde_sink_flush(struct sonde_sink *s)
{
	if (fflush(s->out) != 0)
		s->failed = 1;
}

int sonde_sink_close(struct sonde_sink *s)
{
	int rc = s->failed;
	if (fflush(s->out) != 0)
		rc = 1;
	sonde_buf_free(&s->line);
	free(s);
	return rc ? -1 : 0;
}
