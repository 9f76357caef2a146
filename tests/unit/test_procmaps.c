/* SPDX-License-Identifier: MIT */
/*
 * The /proc/PID/maps parser (src/source/binfmt/procmaps.c): lines the kernel
 * writes, of every kind (file, anonymous, named, deleted, a path with
 * spaces), lines it never writes, an over-long line among good ones, and
 * this process's real maps — the mapping of its own code is its executable,
 * its stack is [stack], each checked against stat() and the addresses of
 * this test's own function and variables.
 */
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "source/binfmt/procmaps.h"

static void parse_lines(void **state)
{
	(void)state;
	struct sonde_maps_entry m;
	char l1[] = "7f1c2a400000-7f1c2a5b5000 r-xp 00028000 fe:01 1835315                    "
		    "/usr/lib/x86_64-linux-gnu/libc.so.6\n";
	assert_true(sonde_maps_parse_line(l1, &m));
	assert_int_equal(m.start, 0x7f1c2a400000ull);
	assert_int_equal(m.end, 0x7f1c2a5b5000ull);
	assert_int_equal(m.offset, 0x28000);
	assert_int_equal(m.dev, makedev(0xfe, 1));
	assert_int_equal(m.ino, 1835315);
	assert_string_equal(m.perms, "r-xp");
	assert_string_equal(m.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	assert_false(sonde_maps_deleted(&m));

	char l2[] = "7ffd5a1e3000-7ffd5a204000 rw-p 00000000 00:00 0                          "
		    "[stack]\n";
	assert_true(sonde_maps_parse_line(l2, &m));
	assert_int_equal(m.ino, 0);
	assert_string_equal(m.path, "[stack]");

	/* anonymous: the kernel ends the line after the inode's blank */
	char l3[] = "55d0c8a2e000-55d0c8a4f000 rw-p 00000000 00:00 0 \n";
	assert_true(sonde_maps_parse_line(l3, &m));
	assert_string_equal(m.path, "");
	char l3b[] = "55d0c8a2e000-55d0c8a4f000 rw-p 00000000 00:00 0";
	assert_true(sonde_maps_parse_line(l3b, &m));
	assert_string_equal(m.path, "");

	char l4[] = "7f00000000-7f00001000 r-xp 00000000 08:02 42 /tmp/my lib (x).so (deleted)\n";
	assert_true(sonde_maps_parse_line(l4, &m));
	assert_string_equal(m.path, "/tmp/my lib (x).so (deleted)");
	assert_true(sonde_maps_deleted(&m));
	/* " (deleted)" alone is not a deleted file's path */
	char l5[] = "1000-2000 r--p 00000000 08:02 42  (deleted)\n";
	assert_true(sonde_maps_parse_line(l5, &m));
	assert_false(sonde_maps_deleted(&m));

	char bad1[] = "not a maps line\n", bad2[] = "1000-2000 r-xp 0 08:02\n", bad3[] = "",
	     bad4[] = "\n";
	assert_false(sonde_maps_parse_line(bad1, &m));
	assert_false(sonde_maps_parse_line(bad2, &m));
	assert_false(sonde_maps_parse_line(bad3, &m));
	assert_false(sonde_maps_parse_line(bad4, &m));
}

struct collect {
	char paths[8][64];
	uint64_t starts[8];
	size_t n;
	size_t stop_after; /* 0: never stop */
};

static bool collect(const struct sonde_maps_entry *m, void *arg)
{
	struct collect *c = arg;
	if (c->n < 8) {
		snprintf(c->paths[c->n], sizeof(c->paths[0]), "%s", m->path);
		c->starts[c->n] = m->start;
	}
	c->n++;
	return c->stop_after && c->n == c->stop_after;
}

/* A line longer than the parser's buffer is skipped whole: none of its
 * pieces reads as a mapping, and the next line is read from its start. */
static void long_line(void **state)
{
	(void)state;
	size_t cap = 3 * SONDE_MAPS_LINE_MAX;
	char *text = calloc(1, cap);
	assert_non_null(text);
	size_t k = (size_t)snprintf(text, cap, "1000-2000 r-xp 00000000 08:02 1 /first\n");
	size_t second = k;
	k += (size_t)snprintf(text + k, cap - k, "3000-4000 r-xp 00000000 08:02 2 /");
	/* the long path holds what would read as a maps line right where the
	 * buffer cuts it (one byte short of its size: fgets's NUL) */
	while (k < second + SONDE_MAPS_LINE_MAX - 1)
		text[k++] = 'a';
	k += (size_t)snprintf(text + k, cap - k,
			      "5000-6000 r-xp 00000000 08:02 3 /piece\n"
			      "7000-8000 r-xp 00000000 08:02 4 /last");
	FILE *f = fmemopen(text, k, "r");
	assert_non_null(f);
	struct collect c = { 0 };
	sonde_maps_each_file(f, collect, &c);
	fclose(f);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.paths[0], "/first");
	assert_string_equal(c.paths[1], "/last"); /* the last line has no newline */
	assert_int_equal(c.starts[1], 0x7000);

	/* and the walk stops when asked */
	f = fmemopen(text, k, "r");
	struct collect one = { .stop_after = 1 };
	sonde_maps_each_file(f, collect, &one);
	fclose(f);
	assert_int_equal(one.n, 1);
	free(text);
}

static int a_global = 1;

struct self_check {
	uintptr_t code, data, stack;
	char exe[PATH_MAX];
	struct stat exe_st;
	bool code_ok, data_ok, stack_ok;
	size_t n;
	uint64_t last_end;
	bool ordered;
};

static bool check_self(const struct sonde_maps_entry *m, void *arg)
{
	struct self_check *s = arg;
	s->n++;
	if (m->start < s->last_end || m->end <= m->start)
		s->ordered = false;
	s->last_end = m->end;
	if (s->code >= m->start && s->code < m->end) {
		s->code_ok = m->perms[2] == 'x' && !strcmp(m->path, s->exe) &&
			     m->ino == s->exe_st.st_ino && m->dev == s->exe_st.st_dev;
	}
	if (s->data >= m->start && s->data < m->end)
		s->data_ok = m->perms[0] == 'r' && m->perms[1] == 'w' && !strcmp(m->path, s->exe);
	if (s->stack >= m->start && s->stack < m->end)
		s->stack_ok = !strcmp(m->path, "[stack]") && m->ino == 0;
	return false;
}

static void self_maps(void **state)
{
	(void)state;
	int on_stack = 0;
	struct self_check s = {
		.code = (uintptr_t)&check_self,
		.data = (uintptr_t)&a_global,
		.stack = (uintptr_t)&on_stack,
		.ordered = true,
	};
	ssize_t r = readlink("/proc/self/exe", s.exe, sizeof(s.exe) - 1);
	assert_true(r > 0);
	s.exe[r] = 0;
	assert_int_equal(stat(s.exe, &s.exe_st), 0);
	assert_int_equal(sonde_maps_each((uint32_t)getpid(), check_self, &s), 0);
	assert_true(s.n > 5);
	assert_true(s.ordered);
	assert_true(s.code_ok);
	assert_true(s.data_ok);
	assert_true(s.stack_ok);
	(void)a_global;
}

static void gone(void **state)
{
	(void)state;
	struct collect c = { 0 };
	errno = 0;
	/* above the kernel's pid_max limit (4194304): no such process */
	assert_int_equal(sonde_maps_each(4194304u + 17, collect, &c), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(c.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_lines),
		cmocka_unit_test(long_line),
		cmocka_unit_test(self_maps),
		cmocka_unit_test(gone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
