/* SPDX-License-Identifier: MIT */
#include "store/spill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void file_path(const struct sonde_spill *s, const struct sonde_spill_file *f, char *out,
		      size_t len)
{
	snprintf(out, len, "%s/spill-%020" PRIu64 "-%" PRIu64 ".tsv", s->dir, f->seq, f->rows);
}

static void append(struct sonde_spill *s, struct sonde_spill_file f)
{
	if (s->n == s->cap) {
		if (s->head) { /* reuse what was popped before growing */
			memmove(s->files, s->files + s->head, (s->n - s->head) * sizeof(*s->files));
			s->n -= s->head;
			s->head = 0;
		}
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->files = sonde_xrealloc(s->files, s->cap * sizeof(*s->files));
		}
	}
	s->files[s->n++] = f;
	s->bytes += f.bytes;
	s->rows += f.rows;
	if (f.seq >= s->next_seq)
		s->next_seq = f.seq + 1;
}

static int by_seq(const void *a, const void *b)
{
	const struct sonde_spill_file *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The files an earlier run left, in order; half-written ones deleted. */
static void take_up(struct sonde_spill *s, DIR *d)
{
	struct dirent *e;
	char path[4400];
	while ((e = readdir(d))) {
		struct sonde_spill_file f = { 0 };
		char tail[8];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
		if (!strncmp(e->d_name, ".tmp-", 5)) {
			unlink(path);
			continue;
		}
		if (sscanf(e->d_name, "spill-%20" SCNu64 "-%20" SCNu64 "%7s", &f.seq, &f.rows,
			   tail) != 3 ||
		    strcmp(tail, ".tsv") || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		f.bytes = (uint64_t)st.st_size;
		append(s, f);
	}
	if (s->n) /* qsort wants an array, even of none */
		qsort(s->files, s->n, sizeof(*s->files), by_seq);
}

int sonde_spill_open(struct sonde_spill *s, const char *dir, uint64_t quota, char *err,
		     size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (strlen(dir) >= sizeof(s->dir) - 64) {
		snprintf(err, errlen, "%s: the path is too long", dir);
		return -1;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->quota = quota;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	take_up(s, d);
	closedir(d);
	return 0;
}

void sonde_spill_close(struct sonde_spill *s)
{
	free(s->files);
	s->files = NULL;
	s->head = s->n = s->cap = 0;
}

/* Delete the oldest file; dropped: count its rows as lost. */
static void remove_head(struct sonde_spill *s, bool dropped)
{
	if (s->head == s->n)
		return;
	struct sonde_spill_file *f = &s->files[s->head++];
	char path[4400];
	file_path(s, f, path, sizeof(path));
	unlink(path);
	s->bytes -= f->bytes;
	s->rows -= f->rows;
	if (dropped)
		s->dropped_rows += f->rows;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

void sonde_spill_put(struct sonde_spill *s, const void *body, size_t len, uint64_t rows)
{
	if (len > s->quota) {
		s->dropped_rows += rows;
		return;
	}
	while (s->head < s->n && s->bytes + len > s->quota)
		remove_head(s, true); /* oldest first */
	struct sonde_spill_file f = { .seq = s->next_seq, .rows = rows, .bytes = len };
	char tmp[4400], path[4400];
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%" PRIu64, s->dir, f.seq);
	file_path(s, &f, path, sizeof(path));
	/* written whole under a temporary name, then renamed: a crash leaves a
	 * whole batch or none */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, body, len) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		if (fd >= 0)
			unlink(tmp);
		s->dropped_rows += rows; /* a full disk: lost, counted */
		return;
	}
	append(s, f);
}

bool sonde_spill_peek(struct sonde_spill *s, struct sonde_buf *body, uint64_t *rows)
{
	while (s->head < s->n) {
		struct sonde_spill_file *f = &s->files[s->head];
		char path[4400];
		file_path(s, f, path, sizeof(path));
		sonde_buf_reset(body);
		FILE *in = fopen(path, "rb");
		bool ok = in != NULL;
		char chunk[65536];
		size_t r;
		while (ok && body->len <= f->bytes && (r = fread(chunk, 1, sizeof(chunk), in)) > 0)
			sonde_buf_append(body, chunk, r);
		if (in) {
			ok = !ferror(in);
			fclose(in);
		}
		if (ok && body->len == f->bytes) {
			*rows = f->rows;
			return true;
		}
		remove_head(s, true); /* gone or changed under us: its rows are lost */
	}
	return false;
}

void sonde_spill_pop(struct sonde_spill *s)
{
	remove_head(s, false);
}

void sonde_spill_drop(struct sonde_spill *s)
{
	remove_head(s, true);
}
