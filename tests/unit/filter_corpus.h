/* SPDX-License-Identifier: MIT */
/*
 * For the filter's tests: every capture of the shared corpus (SONDE_CORPUS,
 * else ../shared/corpus) through a real run — file source, pipeline, the
 * default redaction and DNS names, as `sonde read` has them — with a probe
 * stage in the filter's phase that hands each record, and its JSON line as
 * `-o json` would write it, to the test.
 */
#ifndef SONDE_TEST_FILTER_CORPUS_H
#define SONDE_TEST_FILTER_CORPUS_H

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "app/run.h"
#include "enrich/names.h"
#include "redact/redact.h"
#include "redact/redact_stage.h"
#include "sink/render.h"
#include "source/file/file_source.h"

typedef void (*fc_record_fn)(void *ctx, const struct sonde_record *r, const char *json,
			     size_t len);

struct fc_probe {
	fc_record_fn fn;
	void *ctx;
	struct sonde_buf line;
	size_t records;
};

static bool fc_probe_record(void *ctx, struct sonde_record *r)
{
	struct fc_probe *p = ctx;
	sonde_buf_reset(&p->line);
	sonde_record_json(r, &p->line);
	size_t n = p->line.len;
	if (n && p->line.p[n - 1] == '\n')
		n--;
	p->fn(p->ctx, r, (const char *)p->line.p, n);
	p->records++;
	return false; /* no sink needed */
}

static const struct sonde_stage_ops fc_probe_ops = {
	.name = "probe",
	.phase = SONDE_STAGE_FILTER,
	.record = fc_probe_record,
};

__attribute__((unused)) static const char *fc_corpus_dir(void)
{
	const char *env = getenv("SONDE_CORPUS");
	static const char *const tries[] = { "../shared/corpus", "../../shared/corpus",
					     "/work/shared/corpus" };
	if (env && *env)
		return env;
	for (size_t i = 0; i < sizeof(tries) / sizeof(*tries); i++)
		if (access(tries[i], R_OK) == 0)
			return tries[i];
	return NULL;
}

static void fc_run_file(const char *path, struct fc_probe *probe)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	struct sonde_run_opts ro = { 0 };
	sonde_pipeline_defaults(&ro.pipe);
	ro.pipe.conn.source = path;
	ro.pipe.conn.connections = true; /* as sonde's default: connection records too */
	struct sonde_run run;
	sonde_run_init(&run, &ro);
	struct sonde_redactor red;
	sonde_redactor_init(&red);
	sonde_run_add_stage(&run, &fc_probe_ops, probe);
	sonde_run_add_stage(&run, &sonde_redact_stage, sonde_redact_stage_new(&red, &run.pipe.stats));
	sonde_run_add_stage(&run, &sonde_names_stage, sonde_names_new(0, &run.pipe.stats));
	struct sonde_file_source_opts fo = { .fd = fd, .name = path };
	char err[512];
	if (sonde_run_add_source(&run, &sonde_source_file, &fo, err, sizeof(err)))
		(void)sonde_run_loop(&run);
	sonde_run_finish(&run);
	sonde_run_free(&run);
	sonde_redactor_free(&red);
	close(fd);
}

static bool fc_is_capture(const char *name)
{
	return strstr(name, ".pcap") != NULL;
}

/* Every capture under dir (one level of protocol directories). Returns the
 * number of captures read. */
__attribute__((unused)) static size_t fc_each_capture(const char *dir, fc_record_fn fn,
						      void *ctx, size_t *records)
{
	struct fc_probe probe = { .fn = fn, .ctx = ctx };
	size_t files = 0;
	DIR *top = opendir(dir);
	if (!top)
		return 0;
	struct dirent *d;
	while ((d = readdir(top))) {
		if (d->d_name[0] == '.')
			continue;
		char sub[4096];
		snprintf(sub, sizeof(sub), "%s/%s", dir, d->d_name);
		DIR *in = opendir(sub);
		if (!in)
			continue;
		struct dirent *e;
		while ((e = readdir(in))) {
			if (!fc_is_capture(e->d_name))
				continue;
			char path[4096 + 256];
			snprintf(path, sizeof(path), "%s/%s", sub, e->d_name);
			fc_run_file(path, &probe);
			files++;
		}
		closedir(in);
	}
	closedir(top);
	sonde_buf_free(&probe.line);
	if (records)
		*records = probe.records;
	return files;
}

#endif
