// SPDX-License-Identifier: MIT
#include "enrich/cgroup_walk.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct walk {
	void (*fn)(void *ctx, const char *rel, uint64_t id);
	void *ctx;
	char path[4096];
	size_t rel_at; /* where the part below the root begins */
	size_t dirs;
};

static void walk_dir(struct walk *w, size_t plen, int depth)
{
	DIR *d = opendir(w->path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) && w->dirs < SONDE_CGROUP_WALK_DIRS) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		size_t n = strlen(de->d_name);
		if (plen + 1 + n >= sizeof(w->path))
			continue;
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, de->d_name, n + 1);
		struct stat st;
		w->dirs++;
		if (stat(w->path, &st) == 0) {
			w->fn(w->ctx, w->path + w->rel_at, (uint64_t)st.st_ino);
			if (depth < SONDE_CGROUP_WALK_DEPTH)
				walk_dir(w, plen + 1 + n, depth + 1);
		}
		w->path[plen] = 0;
	}
	closedir(d);
}

void sonde_cgroup_walk(const char *root, void (*fn)(void *ctx, const char *rel, uint64_t id),
		       void *ctx)
{
	struct walk w = { .fn = fn, .ctx = ctx };
	snprintf(w.path, sizeof(w.path), "%s", root);
	w.rel_at = strlen(w.path);
	walk_dir(&w, w.rel_at, 0);
}
