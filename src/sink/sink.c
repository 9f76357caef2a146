/* SPDX-License-Identifier: MIT */
#include "sink/sink.h"
#include "sink/summary.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/buf.h"
#include "sink/har.h"

/* Records are formatted straight into one buffer and written with write()
 * when it holds enough: no second copy through stdio. */
#define SINK_FLUSH_AT (256u << 10)

struct sonde_sink {
	enum sonde_sink_format fmt;
	FILE *out;
	int fd;
	struct sonde_buf pending;
	int failed; /* errno of the failed write (EIO if stdio gave none); 0: none */
	bool immediate; /* write each record as soon as it is complete */
	bool with_stats; /* write the stats when the input ends */
	bool no_records; /* -o none: count them, write none */
	uint64_t written, limit; /* records written; limit 0: no limit (-c) */
	struct sonde_text_opts text; /* the text format's choices */
	struct sonde_summary *summary; /* --summary; NULL: none */
	struct sonde_har *har; /* -o har: the log being written; NULL: not yet begun */
	char har_version[64];
	bool quiet;
};

struct sonde_sink *sonde_sink_new(enum sonde_sink_format fmt, FILE *out)
{
	struct sonde_sink *s = sonde_xcalloc(1, sizeof(*s));
	s->fmt = fmt;
	s->out = out;
	fflush(out); /* anything written through stdio goes first */
	s->fd = fileno(out);
	return s;
}

static void drain(struct sonde_sink *s)
{
	if (s->fd < 0) { /* a stream with no descriptor (open_memstream) */
		if (s->pending.len &&
		    fwrite(s->pending.p, 1, s->pending.len, s->out) != s->pending.len)
			s->failed = errno ? errno : EIO;
		if (fflush(s->out) != 0)
			s->failed = errno ? errno : EIO;
		sonde_buf_reset(&s->pending);
		return;
	}
	size_t off = 0;
	while (off < s->pending.len && !s->failed) {
		ssize_t n = write(s->fd, s->pending.p + off, s->pending.len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			s->failed = errno; /* EPIPE: the reader went away */
			break;
		}
		off += (size_t)n;
	}
	sonde_buf_reset(&s->pending);
}

void sonde_sink_set_har(struct sonde_sink *s, const char *version, bool quiet)
{
	snprintf(s->har_version, sizeof(s->har_version), "%s", version ? version : "");
	s->quiet = quiet;
}

/* The HAR log's head goes out with the first entry, or at the end. */
static struct sonde_har *har_log(struct sonde_sink *s)
{
	if (!s->har) {
		s->har = sonde_har_new(s->har_version);
		sonde_har_begin(s->har, &s->pending);
	}
	return s->har;
}

/* The HAR log's tail, and what it skipped said on stderr. */
static void har_close(struct sonde_sink *s)
{
	if (s->fmt != SONDE_SINK_HAR || s->no_records)
		return;
	struct sonde_har *h = har_log(s);
	sonde_har_end(h, &s->pending);
	uint64_t unreadable, skipped = sonde_har_skipped(h, &unreadable);
	if (skipped && !s->quiet)
		fprintf(stderr,
			"sonde: har: %llu records were not HTTP exchanges and are not in the "
			"log (%llu unreadable)\n",
			(unsigned long long)skipped, (unsigned long long)unreadable);
	sonde_har_free(h);
	s->har = NULL;
}

void sonde_sink_set_limit(struct sonde_sink *s, uint64_t n)
{
	s->limit = n;
}

bool sonde_sink_full(const struct sonde_sink *s)
{
	return (s->limit && s->written >= s->limit) || s->failed;
}

void sonde_sink_set_text(struct sonde_sink *s, const struct sonde_text_opts *o)
{
	s->text = *o;
}

void sonde_sink_set_immediate(struct sonde_sink *s, bool on)
{
	s->immediate = on;
}

void sonde_sink_write(struct sonde_sink *s, const struct sonde_record *r)
{
	if (sonde_sink_full(s))
		return;
	s->written++;
	if (s->summary && !(r->flags & SONDE_RF_CONNECTION)) /* it sums up exchanges */
		sonde_summary_add(s->summary, r);
	if (s->no_records)
		return;
	struct sonde_record numbered = *r;
	numbered.seq = s->written;
	if (s->fmt == SONDE_SINK_HAR) {
		if (!sonde_har_add(har_log(s), &numbered, &s->pending))
			s->written--; /* not HTTP: counted by the log, not by -c */
	} else if (s->fmt == SONDE_SINK_JSON)
		sonde_record_json(&numbered, &s->pending);
	else
		sonde_record_text(&numbered, &s->text, &s->pending);
	if (s->immediate || s->pending.len >= SINK_FLUSH_AT)
		drain(s);
}

void sonde_sink_stats(struct sonde_sink *s, const struct sonde_stats *st)
{
	if (s->fmt == SONDE_SINK_JSON) {
		sonde_stats_json(st, &s->pending);
	} else {
		drain(s);
		struct sonde_buf t = { 0 };
		sonde_stats_text(st, &t);
		fwrite(t.p, 1, t.len, stderr);
		sonde_buf_free(&t);
	}
}

void sonde_sink_flush(struct sonde_sink *s)
{
	drain(s);
}

int sonde_sink_close(struct sonde_sink *s)
{
	har_close(s);
	drain(s);
	int err = s->failed;
	sonde_summary_free(s->summary);
	sonde_buf_free(&s->pending);
	free(s);
	if (err)
		errno = err;
	return err ? -1 : 0;
}

void sonde_sink_set_records(struct sonde_sink *s, bool on)
{
	s->no_records = !on;
}

void sonde_sink_set_stats(struct sonde_sink *s, bool on)
{
	s->with_stats = on;
}

static bool stage_record(void *ctx, struct sonde_record *r)
{
	sonde_sink_write(ctx, r);
	return true;
}

void sonde_sink_set_summary(struct sonde_sink *s, bool on)
{
	if (on && !s->summary)
		s->summary = sonde_summary_new();
}

static void stage_finish(void *ctx, const struct sonde_stats *st)
{
	struct sonde_sink *s = ctx;
	if (s->summary) {
		if (s->fmt == SONDE_SINK_JSON) {
			sonde_summary_json(s->summary, &s->pending);
		} else if (s->fmt == SONDE_SINK_HAR && !s->no_records) {
			/* the log holds only entries: the summary goes to stderr */
			struct sonde_buf t = { 0 };
			sonde_summary_text(s->summary, &t);
			fwrite(t.p, 1, t.len, stderr);
			sonde_buf_free(&t);
		} else {
			sonde_summary_text(s->summary, &s->pending);
		}
		drain(s);
	}
	if (s->with_stats)
		sonde_sink_stats(s, st);
}

static void stage_flush(void *ctx)
{
	sonde_sink_flush(ctx);
}

static bool stage_done(const void *ctx)
{
	return sonde_sink_full(ctx);
}

static int stage_close(void *ctx)
{
	return sonde_sink_close(ctx);
}

const struct sonde_stage_ops sonde_sink_stage = {
	.name = "sink",
	.phase = SONDE_STAGE_SINK,
	.record = stage_record,
	.finish = stage_finish,
	.flush = stage_flush,
	.done = stage_done,
	.close = stage_close,
};
