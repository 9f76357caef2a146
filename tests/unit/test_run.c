/* SPDX-License-Identifier: MIT */
/*
 * The run and its seams: the record stage chain (phase order, filters drop,
 * every sink gets every record, a done stage stops the run) and the source
 * interface (real capture files through sonde_source_file, one or several
 * in front of one pipeline, damage reported after what came before it).
 */
#include "testutil.h"

#include <fcntl.h>
#include <unistd.h>

#include "app/run.h"
#include "core/stage.h"
#include "sink/sink.h"
#include "source/file/file_source.h"

/* ------------------------------------------------------ counting stages --- */

struct counter {
	const char *name;
	char *log; /* every stage appends its name: the order they ran in */
	size_t seen;
	size_t drop_every; /* filters: drop every Nth record */
	size_t done_after; /* stop the run after this many (0: never) */
	bool closed, finished;
};

static bool count_record(void *ctx, struct sonde_record *r)
{
	struct counter *c = ctx;
	(void)r;
	c->seen++;
	if (c->log)
		strcat(c->log, c->name);
	return !(c->drop_every && c->seen % c->drop_every == 0);
}

static void count_finish(void *ctx, const struct sonde_stats *st)
{
	(void)st;
	((struct counter *)ctx)->finished = true;
}

static bool count_done(const void *ctx)
{
	const struct counter *c = ctx;
	return c->done_after && c->seen >= c->done_after;
}

static int count_close(void *ctx)
{
	((struct counter *)ctx)->closed = true;
	return 0;
}

#define COUNTER_OPS(var, ph)                                                                  \
	static const struct sonde_stage_ops var = { .name = #var, .phase = ph,                  \
						    .record = count_record, .finish = count_finish, \
						    .done = count_done, .close = count_close }
COUNTER_OPS(enrich_ops, SONDE_STAGE_ENRICH);
COUNTER_OPS(filter_ops, SONDE_STAGE_FILTER);
COUNTER_OPS(sink_ops, SONDE_STAGE_SINK);

static void chain_order_and_fanout(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct sonde_stage_chain ch;
	sonde_stage_chain_init(&ch, &st);
	char log[256] = "";
	struct counter s1 = { .name = "S", .log = log }, s2 = { .name = "T", .log = log };
	struct counter f = { .name = "F", .log = log, .drop_every = 2 };
	struct counter e = { .name = "E", .log = log };
	/* Added out of order: the chain puts them in phase order, sinks in the
	 * order they came. */
	assert_int_equal(sonde_stage_chain_add(&ch, &sink_ops, &s1), 0);
	assert_int_equal(sonde_stage_chain_add(&ch, &filter_ops, &f), 0);
	assert_int_equal(sonde_stage_chain_add(&ch, &sink_ops, &s2), 0);
	assert_int_equal(sonde_stage_chain_add(&ch, &enrich_ops, &e), 0);
	struct sonde_conn_info ci = { 0 };
	struct sonde_record r = { .conn = &ci };
	for (int i = 0; i < 4; i++)
		sonde_stage_chain_record(&ch, &r);
	/* Records 2 and 4 stop at the filter. */
	assert_string_equal(log, "EFSTEFEFSTEF");
	assert_int_equal(e.seen, 4);
	assert_int_equal(s1.seen, 2);
	assert_int_equal(s2.seen, 2);
	assert_false(sonde_stage_chain_done(&ch));
	s2.done_after = 2;
	assert_true(sonde_stage_chain_done(&ch));
	sonde_stage_chain_finish(&ch);
	assert_true(s1.finished && f.finished && e.finished);
	assert_int_equal(sonde_stage_chain_close(&ch), 0);
	assert_true(s1.closed && s2.closed && f.closed && e.closed);
}

static void chain_bounded(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct sonde_stage_chain ch;
	sonde_stage_chain_init(&ch, &st);
	struct counter c[SONDE_STAGES_MAX + 1] = { 0 };
	for (int i = 0; i < SONDE_STAGES_MAX; i++)
		assert_int_equal(sonde_stage_chain_add(&ch, &sink_ops, &c[i]), 0);
	assert_int_equal(sonde_stage_chain_add(&ch, &sink_ops, &c[SONDE_STAGES_MAX]), -1);
	sonde_stage_chain_close(&ch);
}

/* ---------------------------------------------------- runs over files --- */

static char *corpus_file(const char *rel)
{
	const char *env = getenv("SONDE_CORPUS");
	const char *cands[] = { env, "../shared/corpus", "../../shared/corpus" };
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (!cands[i])
			continue;
		char *p = tu_xmalloc(strlen(cands[i]) + strlen(rel) + 2);
		sprintf(p, "%s/%s", cands[i], rel);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

struct mem_sink {
	FILE *f;
	char *buf;
	size_t len;
	struct sonde_sink *sink;
};

static void mem_sink_open(struct mem_sink *m)
{
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
	m->sink = sonde_sink_new(SONDE_SINK_JSON, m->f);
}

static size_t lines(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == '\n';
	return k;
}

/* Records of one capture file through a run with the given extra stage. */
static int run_file(const char *path, struct mem_sink *out, struct counter *extra,
		    struct sonde_stats *st_out, char *error, size_t errlen)
{
	struct sonde_run_opts ro = { 0 };
	sonde_pipeline_defaults(&ro.pipe);
	ro.pipe.conn.source = path;
	struct sonde_run run;
	sonde_run_init(&run, &ro);
	mem_sink_open(out);
	assert_int_equal(sonde_run_add_stage(&run, &sonde_sink_stage, out->sink), 0);
	if (extra)
		assert_int_equal(sonde_run_add_stage(&run, &sink_ops, extra), 0);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct sonde_file_source_opts fo = { .fd = fd, .name = path };
	char err[512];
	assert_non_null(sonde_run_add_source(&run, &sonde_source_file, &fo, err, sizeof(err)));
	int rc = sonde_run_loop(&run);
	snprintf(error, errlen, "%s", sonde_run_error(&run) ? sonde_run_error(&run) : "");
	sonde_run_finish(&run);
	*st_out = *sonde_run_stats(&run);
	assert_int_equal(sonde_run_free(&run), 0);
	fclose(out->f);
	close(fd);
	return rc;
}

static void run_one_file(void **state)
{
	(void)state;
	char *path = corpus_file("http1/arkime-http-post-upload.pcap");
	if (!path) {
		skip();
		return;
	}
	struct mem_sink a;
	struct counter c = { .name = "C" };
	struct sonde_stats st;
	char err[512];
	assert_int_equal(run_file(path, &a, &c, &st, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	/* Both sinks got every record; the stats agree. */
	assert_true(st.records > 0);
	assert_int_equal(lines(a.buf, a.len), st.records);
	assert_int_equal(c.seen, st.records);
	assert_true(c.finished && c.closed);
	assert_true(st.frames > 0);

	/* A stage that is done after one record stops the run: fewer frames
	 * are read. */
	struct mem_sink b;
	struct counter d = { .name = "D", .done_after = 1 };
	struct sonde_stats st2;
	assert_int_equal(run_file(path, &b, &d, &st2, err, sizeof(err)), 0);
	assert_true(st2.frames < st.frames);
	assert_true(d.seen >= 1);
	free(a.buf);
	free(b.buf);
	free(path);
}

static void run_two_files(void **state)
{
	(void)state;
	char *p1 = corpus_file("http1/arkime-http-simple-get.pcap");
	char *p2 = corpus_file("http1/arkime-http-post-upload.pcap");
	if (!p1 || !p2) {
		free(p1);
		free(p2);
		skip();
		return;
	}
	struct mem_sink m1, m2;
	struct counter c1 = { 0 }, c2 = { 0 };
	struct sonde_stats s1, s2;
	char err[512];
	run_file(p1, &m1, &c1, &s1, err, sizeof(err));
	run_file(p2, &m2, &c2, &s2, err, sizeof(err));

	/* Both files in front of one pipeline: every record of each. */
	struct sonde_run_opts ro = { 0 };
	sonde_pipeline_defaults(&ro.pipe);
	ro.pipe.conn.source = "two";
	struct sonde_run run;
	sonde_run_init(&run, &ro);
	struct counter both = { 0 };
	assert_int_equal(sonde_run_add_stage(&run, &sink_ops, &both), 0);
	int fd1 = open(p1, O_RDONLY), fd2 = open(p2, O_RDONLY);
	struct sonde_file_source_opts o1 = { .fd = fd1, .name = p1 }, o2 = { .fd = fd2, .name = p2 };
	assert_non_null(sonde_run_add_source(&run, &sonde_source_file, &o1, err, sizeof(err)));
	assert_non_null(sonde_run_add_source(&run, &sonde_source_file, &o2, err, sizeof(err)));
	assert_int_equal(sonde_run_loop(&run), 0);
	sonde_run_finish(&run);
	assert_int_equal(sonde_run_stats(&run)->frames, s1.frames + s2.frames);
	assert_int_equal(both.seen, c1.seen + c2.seen);
	assert_int_equal(sonde_run_free(&run), 0);
	close(fd1);
	close(fd2);
	free(m1.buf);
	free(m2.buf);
	free(p1);
	free(p2);
}

static void run_damaged_file(void **state)
{
	(void)state;
	char *path = corpus_file("http1/arkime-http-post-upload.pcap");
	if (!path) {
		skip();
		return;
	}
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 4000);
	/* Cut mid-frame: records of the frames before are still written, and
	 * the error names the offset. */
	struct sonde_run_opts ro = { 0 };
	sonde_pipeline_defaults(&ro.pipe);
	ro.pipe.conn.source = "cut";
	struct sonde_run run;
	sonde_run_init(&run, &ro);
	struct counter c = { 0 };
	assert_int_equal(sonde_run_add_stage(&run, &sink_ops, &c), 0);
	struct sonde_file_source_opts fo = { .mem = buf, .len = n - 100, .name = "cut" };
	char err[512];
	assert_non_null(sonde_run_add_source(&run, &sonde_source_file, &fo, err, sizeof(err)));
	assert_int_equal(sonde_run_loop(&run), -1);
	assert_non_null(strstr(sonde_run_error(&run), "offset"));
	sonde_run_finish(&run);
	assert_true(sonde_run_stats(&run)->frames > 0);
	assert_true(c.seen > 0);
	assert_int_equal(sonde_run_free(&run), 0);
	free(path);
}

/* An enrichment stage: the first record of a connection attaches a note,
 * later ones find it; the table frees it with the connection. */
struct note {
	size_t seen;
	size_t *freed;
};

struct noter {
	size_t attached, found, freed;
};

static void note_free(void *p)
{
	struct note *n = p;
	(*n->freed)++;
	free(n);
}

static bool note_record(void *ctx, struct sonde_record *r)
{
	struct noter *nt = ctx;
	struct note *n = sonde_attr_get(r->conn->attrs, SONDE_ATTR_NAMES);
	if (n) {
		nt->found++;
		n->seen++;
		return true;
	}
	n = tu_xmalloc(sizeof(*n));
	n->seen = 1;
	n->freed = &nt->freed;
	sonde_attr_set(r->conn->attrs, SONDE_ATTR_NAMES, n, note_free);
	nt->attached++;
	return true;
}

static const struct sonde_stage_ops note_ops = {
	.name = "note", .phase = SONDE_STAGE_ENRICH, .record = note_record,
};

static void stage_attrs_per_connection(void **state)
{
	(void)state;
	char *path = corpus_file("http1/arkime-http-post-upload.pcap");
	if (!path) {
		skip();
		return;
	}
	struct sonde_run_opts ro = { 0 };
	sonde_pipeline_defaults(&ro.pipe);
	ro.pipe.conn.source = "attrs";
	struct sonde_run run;
	sonde_run_init(&run, &ro);
	struct noter nt = { 0 };
	assert_int_equal(sonde_run_add_stage(&run, &note_ops, &nt), 0);
	int fd = open(path, O_RDONLY);
	struct sonde_file_source_opts fo = { .fd = fd, .name = path };
	char err[512];
	assert_non_null(sonde_run_add_source(&run, &sonde_source_file, &fo, err, sizeof(err)));
	assert_int_equal(sonde_run_loop(&run), 0);
	sonde_run_finish(&run);
	const struct sonde_stats *st = sonde_run_stats(&run);
	/* One connection, several exchanges: attached once, found after, freed
	 * once when the connection closed. */
	assert_int_equal(nt.attached, st->connections);
	assert_int_equal(nt.attached + nt.found, st->records);
	assert_true(nt.found > 0);
	assert_int_equal(nt.freed, nt.attached);
	assert_int_equal(sonde_run_free(&run), 0);
	close(fd);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chain_order_and_fanout),
		cmocka_unit_test(chain_bounded),
		cmocka_unit_test(run_one_file),
		cmocka_unit_test(run_two_files),
		cmocka_unit_test(run_damaged_file),
		cmocka_unit_test(stage_attrs_per_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
