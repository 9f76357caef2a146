// SPDX-License-Identifier: MIT
#include "enrich/cgroup_ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/u64map.h"
#include "enrich/cgroup_walk.h"

struct sonde_cgroup_ids {
	char root[512];
	uint64_t rewalk_ns, last_walk_ns, walks;
	struct sonde_u64map ids; /* cgroup id → offset of its path in names */
	struct sonde_buf names; /* NUL-terminated paths below root */
};

bool sonde_cgroup2_mount(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char line[1024];
	bool found = false;
	/* the last: a later mount hides an earlier one (a container's own
	 * cgroup namespace view under the host's tree mounted over it) */
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - cgroup2 ");
		char mnt[400];
		if (sep && sscanf(line, "%*s %*s %*s %*s %399s", mnt) == 1) {
			snprintf(out, len, "%s", mnt);
			found = true;
		}
	}
	fclose(f);
	return found;
}

struct sonde_cgroup_ids *sonde_cgroup_ids_new(const char *root, unsigned rewalk_ms)
{
	struct sonde_cgroup_ids *c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	if (root)
		snprintf(c->root, sizeof(c->root), "%s", root);
	else if (!sonde_cgroup2_mount(c->root, sizeof(c->root))) {
		free(c);
		return NULL;
	}
	c->rewalk_ns = (uint64_t)(rewalk_ms ? rewalk_ms : 1000) * 1000000ull;
	sonde_u64map_init(&c->ids);
	return c;
}

void sonde_cgroup_ids_free(struct sonde_cgroup_ids *c)
{
	if (!c)
		return;
	sonde_u64map_free(&c->ids);
	sonde_buf_free(&c->names);
	free(c);
}

static void note(struct sonde_cgroup_ids *c, uint64_t id, const char *rel)
{
	sonde_u64map_put(&c->ids, id, c->names.len);
	sonde_buf_append(&c->names, rel, strlen(rel) + 1);
}

static void note_dir(void *ctx, const char *rel, uint64_t id)
{
	note(ctx, id, rel);
}

static void walk_all(struct sonde_cgroup_ids *c)
{
	sonde_u64map_free(&c->ids);
	sonde_u64map_init(&c->ids);
	sonde_buf_reset(&c->names);
	struct stat st;
	if (stat(c->root, &st) == 0)
		note(c, (uint64_t)st.st_ino, "/");
	sonde_cgroup_walk(c->root, note_dir, c);
	c->walks++;
}

const char *sonde_cgroup_ids_path(struct sonde_cgroup_ids *c, uint64_t id, uint64_t now_ns)
{
	uint64_t off;
	if (!id)
		return NULL;
	if (!sonde_u64map_get(&c->ids, id, &off)) {
		if (c->walks && now_ns - c->last_walk_ns < c->rewalk_ns)
			return NULL;
		c->last_walk_ns = now_ns;
		walk_all(c);
		if (!sonde_u64map_get(&c->ids, id, &off))
			return NULL;
	}
	return (const char *)c->names.p + off;
}

uint32_t sonde_cgroup_ids_member(const struct sonde_cgroup_ids *c, const char *rel)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s%s/cgroup.procs", c->root, strcmp(rel, "/") ? rel : "");
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	unsigned long pid = 0;
	if (fscanf(f, "%lu", &pid) != 1 || pid > 0x7fffffff)
		pid = 0;
	fclose(f);
	return (uint32_t)pid;
}

uint64_t sonde_cgroup_ids_walks(const struct sonde_cgroup_ids *c)
{
	return c->walks;
}
