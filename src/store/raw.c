/* SPDX-License-Identifier: MIT */
#include "store/raw.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/file.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "store/store.h"

/* A run's files rotate at an eighth of the quota, so the quota deletes an
 * eighth at a time; 1 MiB at least (a file per few packets would cost a
 * section header each). */
#define RAW_MIN_FILE (1ull << 20)

struct raw_file {
	char *path;
	uint64_t mtime_ns, bytes;
};

static bool is_raw_name(const char *n)
{
	size_t l = strlen(n);
	return !strncmp(n, "raw-", 4) && strstr(n, ".pcapng") &&
	       !(l > 5 && !strcmp(n + l - 5, ".part"));
}

/* Oldest first: by when last written, then by name (path before path1,
 * path9 before path10). */
static int cmp_raw(const void *pa, const void *pb)
{
	const struct raw_file *a = pa, *b = pb;
	if (a->mtime_ns != b->mtime_ns)
		return a->mtime_ns < b->mtime_ns ? -1 : 1;
	size_t la = strlen(a->path), lb = strlen(b->path);
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a->path, b->path);
}

static int list_files(const char *dir, struct raw_file **out, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct raw_file *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!is_raw_name(e->d_name))
			continue;
		char *path;
		struct stat st;
		if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
			abort();
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = sonde_xrealloc(v, cap * sizeof(*v));
		}
		v[cnt++] = (struct raw_file){
			.path = path,
			.mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull +
				    (uint64_t)st.st_mtim.tv_nsec,
			.bytes = (uint64_t)st.st_size,
		};
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_raw);
	*out = v;
	*n = cnt;
	return 0;
}

int sonde_store_raw_list(const char *dir, char ***paths, size_t *n)
{
	struct raw_file *f;
	size_t cnt;
	if (list_files(dir, &f, &cnt) < 0)
		return -1;
	char **v = sonde_xcalloc(cnt ? cnt : 1, sizeof(*v));
	for (size_t i = 0; i < cnt; i++)
		v[i] = f[i].path;
	free(f);
	*paths = v;
	*n = cnt;
	return 0;
}

int sonde_store_raw_prepare(const char *dir, uint64_t quota, struct sonde_pcapng_opts *rec,
			    char *path, size_t pathlen, struct sonde_store_raw_prep *prep,
			    char *err, size_t errlen)
{
	*prep = (struct sonde_store_raw_prep){ 0 };
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	/* Another sonde writing this store keeps its files: ask its lock
	 * before deleting any (the store's stage takes it for good next). */
	char lock[4096];
	snprintf(lock, sizeof(lock), "%s/lock", dir);
	int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s: %s", dir,
			 errno == EWOULDBLOCK ? "another sonde is writing this store"
					      : strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	struct raw_file *f;
	size_t n;
	if (list_files(dir, &f, &n) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		close(lfd);
		return -1;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += f[i].bytes;
	/* Earlier runs keep at most half, so this one has room of its own. */
	for (size_t i = 0; i < n; i++) {
		if (total > quota / 2 && unlink(f[i].path) == 0) {
			total -= f[i].bytes;
			prep->deleted_files++;
		}
		free(f[i].path);
	}
	free(f);
	close(lfd);
	prep->kept_bytes = total;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int w = snprintf(path, pathlen, "%s/raw-%llu.pcapng", dir,
			 (unsigned long long)ts.tv_sec * 1000000ull +
				 (unsigned long long)ts.tv_nsec / 1000);
	if (w < 0 || (size_t)w >= pathlen) {
		snprintf(err, errlen, "%s: the directory's name is too long", dir);
		return -1;
	}
	uint64_t mine = quota - total;
	rec->path = path;
	rec->quota_bytes = mine;
	rec->rotate_bytes = mine / 8 > RAW_MIN_FILE ? mine / 8 : RAW_MIN_FILE;
	if (rec->rotate_bytes > mine)
		rec->rotate_bytes = mine;
	return 0;
}
