/* SPDX-License-Identifier: MIT */
/*
 * /proc/PID/maps (contract in procmaps.h). The kernel writes
 * "%lx-%lx %c%c%c%c %lx %x:%x %lu ", then, for named mappings, padding and
 * the name: everything after the inode's blanks is the path.
 */
#include "source/binfmt/procmaps.h"

#include <string.h>
#include <sys/sysmacros.h>

bool sonde_maps_parse_line(char *line, struct sonde_maps_entry *m)
{
	unsigned long start, end, off, ino;
	unsigned maj, min;
	int n = 0;
	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, m->perms, &off, &maj, &min,
		   &ino, &n) < 7)
		return false;
	char *path = n ? line + n : line + strlen(line);
	path[strcspn(path, "\n")] = 0;
	m->start = start;
	m->end = end;
	m->offset = off;
	m->dev = makedev(maj, min);
	m->ino = ino;
	m->path = path;
	return true;
}

bool sonde_maps_deleted(const struct sonde_maps_entry *m)
{
	size_t n = strlen(m->path), k = sizeof(" (deleted)") - 1;
	return n > k && !strcmp(m->path + n - k, " (deleted)");
}

void sonde_maps_each_file(FILE *f, sonde_maps_fn fn, void *arg)
{
	char line[SONDE_MAPS_LINE_MAX];
	while (fgets(line, sizeof(line), f)) {
		if (!strchr(line, '\n') && !feof(f)) {
			/* too long for us: skip the rest of the line */
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		struct sonde_maps_entry m;
		if (sonde_maps_parse_line(line, &m) && fn(&m, arg))
			return;
	}
}

int sonde_maps_each(uint32_t pid, sonde_maps_fn fn, void *arg)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	sonde_maps_each_file(f, fn, arg);
	fclose(f);
	return 0;
}
