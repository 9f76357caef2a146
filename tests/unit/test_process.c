// SPDX-License-Identifier: MIT
/* The process cache: the test's own /proc entry, a child with a known
 * command line, and a fake /proc tree for what a live one cannot show on
 * demand (a pid reused, exits, a full cache, another root's users). */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "enrich/process.h"

static void self(void **state)
{
	(void)state;
	struct sonde_proc_info pi;
	assert_int_equal(sonde_proc_read("/proc", "/", 0, (uint32_t)getpid(), &pi), 0);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = 0;
	assert_string_equal(pi.exe, exe);
	assert_non_null(strstr(pi.cmdline, "test_process"));
	assert_int_equal(pi.uid, geteuid());
	if (geteuid() == 0)
		assert_string_equal(pi.user, "root");
	assert_true(pi.start_ticks > 0);
	assert_int_equal(pi.start_ns, 0); /* no boot time given */
	assert_string_equal(pi.comm, "test_process");
	assert_true(pi.cgroup[0] != 0);
}

static pid_t spawn_sh(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "sleep 30; : with spaces", (char *)NULL);
		_exit(127);
	}
	/* Until the exec is done, /proc shows the test's own image. */
	for (int i = 0; i < 500; i++) {
		char buf[64] = "";
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		FILE *f = fopen(path, "r");
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = 0;
			fclose(f);
		}
		if (!strcmp(buf, "sh\n"))
			return pid;
		usleep(2000);
	}
	fail_msg("the child never ran sh");
	return -1;
}

static void child(void **state)
{
	(void)state;
	struct sonde_stats st = { 0 };
	struct sonde_proc_cache *c = sonde_proc_cache_new(NULL, &st);
	pid_t pid = spawn_sh();
	const struct sonde_proc_info *pi = sonde_proc_lookup(c, (uint32_t)pid);
	assert_non_null(pi);
	assert_string_equal(pi->cmdline, "sh -c sleep 30; : with spaces");
	char real[PATH_MAX];
	assert_non_null(realpath("/bin/sh", real));
	assert_string_equal(pi->exe, real);
	assert_string_equal(pi->comm, "sh");
	/* started just now, as wall-clock time (btime has 1 s resolution) */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	assert_true(pi->start_ns > now - 5000000000ull && pi->start_ns < now + 2000000000ull);
	uint64_t ticks = pi->start_ticks;
	/* a second lookup is the same entry */
	assert_ptr_equal(sonde_proc_lookup(c, (uint32_t)pid), pi);
	assert_int_equal(sonde_proc_cache_len(c), 1);
	/* gone: still answered, as the last process of that pid */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	pi = sonde_proc_lookup(c, (uint32_t)pid);
	assert_non_null(pi);
	assert_int_equal(pi->start_ticks, ticks);
	assert_int_equal(st.enrich_process_lookups, 3);
	assert_int_equal(st.enrich_process_failures, 0);
	/* never seen and gone: unknown, counted */
	assert_null(sonde_proc_lookup(c, 0x7ffffff0u));
	assert_int_equal(st.enrich_process_failures, 1);
	assert_null(sonde_proc_lookup(c, 0));
	sonde_proc_cache_free(c);
}

/* ----------------------------------------------------- a fake /proc --- */

static void put(const char *dir, const char *name, const char *text, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	fclose(f);
}

/* A process in tree/proc/PID: stat with its start time, status with uid,
 * comm, cmdline (NUL-separated), cgroup. */
static void fake_proc(const char *tree, unsigned pid, unsigned long long start, unsigned uid,
		      const char *cmdline, size_t cmdlen, const char *cgroup)
{
	char dir[512], buf[512];
	snprintf(dir, sizeof(dir), "%s/proc/%u", tree, pid);
	mkdir(dir, 0755);
	/* comm with a ')' and spaces: fields are counted after the last ')' */
	int n = snprintf(buf, sizeof(buf),
			 "%u (odd) name) S 1 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 %llu "
			 "1000 100\n",
			 pid, start);
	put(dir, "stat", buf, (size_t)n);
	n = snprintf(buf, sizeof(buf), "Name:\todd\nUmask:\t0022\nUid:\t0\t%u\t%u\t%u\n", uid, uid,
		     uid);
	put(dir, "status", buf, (size_t)n);
	put(dir, "comm", "odd) name\n", 10);
	put(dir, "cmdline", cmdline, cmdlen);
	put(dir, "cgroup", cgroup, strlen(cgroup));
}

static void gone(const char *tree, unsigned pid)
{
	static const char *const files[] = { "stat", "status", "comm", "cmdline", "cgroup" };
	char path[512];
	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/proc/%u/%s", tree, pid, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/proc/%u", tree, pid);
	rmdir(path);
}

static char *fake_tree(void)
{
	char *tree = strdup("/tmp/sonde-test-proc.XXXXXX");
	assert_non_null(mkdtemp(tree));
	char p[512];
	snprintf(p, sizeof(p), "%s/proc", tree);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/etc", tree);
	mkdir(p, 0755);
	static const char pw[] = "root:x:0:0:root:/root:/bin/bash\n"
				 "alice:x:4321:4321::/home/alice:/bin/sh\n";
	put(p, "passwd", pw, sizeof(pw) - 1);
	snprintf(p, sizeof(p), "%s/proc", tree);
	put(p, "stat", "cpu 1 2 3\nbtime 1700000000\nprocesses 5\n", 38);
	return tree;
}

static void rm_tree(char *tree)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/proc/stat", tree);
	unlink(p);
	snprintf(p, sizeof(p), "%s/etc/passwd", tree);
	unlink(p);
	snprintf(p, sizeof(p), "%s/proc", tree);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/etc", tree);
	rmdir(p);
	assert_int_equal(rmdir(tree), 0);
	free(tree);
}

#define CTR "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void pid_reused(void **state)
{
	(void)state;
	char *tree = fake_tree();
	char proc[512];
	snprintf(proc, sizeof(proc), "%s/proc", tree);
	struct sonde_stats st = { 0 };
	struct sonde_proc_opts o = { .proc = proc, .root = tree };
	struct sonde_proc_cache *c = sonde_proc_cache_new(&o, &st);
	fake_proc(tree, 4242, 100, 4321, "nginx: worker\0\0", 15, "0::/machine.slice/libpod-" CTR ".scope\n");
	const struct sonde_proc_info *pi = sonde_proc_lookup(c, 4242);
	assert_non_null(pi);
	assert_string_equal(pi->cmdline, "nginx: worker");
	assert_string_equal(pi->comm, "odd) name");
	assert_int_equal(pi->uid, 4321);
	assert_string_equal(pi->user, "alice");
	assert_int_equal(pi->start_ticks, 100);
	long hz = sysconf(_SC_CLK_TCK);
	assert_int_equal(pi->start_ns, 1700000000ull * 1000000000ull + 100ull * (1000000000ull / (uint64_t)hz));
	assert_int_equal(pi->ctr.runtime, SONDE_RUNTIME_PODMAN);
	assert_string_equal(pi->ctr.id, CTR);
	assert_string_equal(pi->cgroup, "/machine.slice/libpod-" CTR ".scope");
	/* The same pid, a later start: another process, read afresh. */
	gone(tree, 4242);
	fake_proc(tree, 4242, 900, 0, "sh\0-c\0true\0", 11, "0::/user.slice\n");
	pi = sonde_proc_lookup(c, 4242);
	assert_non_null(pi);
	assert_int_equal(pi->start_ticks, 900);
	assert_string_equal(pi->cmdline, "sh -c true");
	assert_string_equal(pi->user, "root");
	assert_int_equal(pi->ctr.runtime, SONDE_RUNTIME_NONE);
	assert_int_equal(sonde_proc_cache_len(c), 1);
	/* A uid without a name: the number alone */
	fake_proc(tree, 77, 5, 999, "x", 1, "0::/\n");
	pi = sonde_proc_lookup(c, 77);
	assert_int_equal(pi->uid, 999);
	assert_string_equal(pi->user, "");
	assert_int_equal(st.enrich_process_failures, 0);
	gone(tree, 4242);
	gone(tree, 77);
	sonde_proc_cache_free(c);
	rm_tree(tree);
}

/* An exec keeps the pid and the start time and renames the process: the
 * cache reads it again instead of answering with what it ran before. */
static void execd(void **state)
{
	(void)state;
	char *tree = fake_tree();
	char proc[512], dir[600], buf[256];
	snprintf(proc, sizeof(proc), "%s/proc", tree);
	struct sonde_stats st = { 0 };
	struct sonde_proc_opts o = { .proc = proc, .root = tree };
	struct sonde_proc_cache *c = sonde_proc_cache_new(&o, &st);
	fake_proc(tree, 555, 300, 0, "sh\0-c\0exec curl x\0", 18, "0::/\n");
	const struct sonde_proc_info *pi = sonde_proc_lookup(c, 555);
	assert_non_null(pi);
	assert_string_equal(pi->cmdline, "sh -c exec curl x");
	snprintf(dir, sizeof(dir), "%s/555", proc);
	int n = snprintf(buf, sizeof(buf),
			 "555 (curl) S 1 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 300 1000 100\n");
	put(dir, "stat", buf, (size_t)n);
	put(dir, "comm", "curl\n", 5);
	put(dir, "cmdline", "curl\0x\0", 7);
	pi = sonde_proc_lookup(c, 555);
	assert_non_null(pi);
	assert_string_equal(pi->comm, "curl");
	assert_string_equal(pi->cmdline, "curl x");
	assert_int_equal(pi->start_ticks, 300);
	assert_int_equal(st.enrich_process_execs, 1);
	pi = sonde_proc_lookup(c, 555); /* and from the cache from then on */
	assert_string_equal(pi->comm, "curl");
	assert_int_equal(st.enrich_process_execs, 1);
	assert_int_equal(sonde_proc_cache_len(c), 1);
	gone(tree, 555);
	sonde_proc_cache_free(c);
	rm_tree(tree);
}

static void bounded_and_expiring(void **state)
{
	(void)state;
	char *tree = fake_tree();
	char proc[512];
	snprintf(proc, sizeof(proc), "%s/proc", tree);
	struct sonde_stats st = { 0 };
	struct sonde_proc_opts o = { .proc = proc, .root = tree, .max_entries = 4 };
	struct sonde_proc_cache *c = sonde_proc_cache_new(&o, &st);
	/* A long command line is cut, never overrun. */
	char longcmd[1000];
	memset(longcmd, 'a', sizeof(longcmd));
	for (unsigned pid = 10; pid < 16; pid++)
		fake_proc(tree, pid, pid, 0, longcmd, sizeof(longcmd), "0::/\n");
	for (unsigned pid = 10; pid < 16; pid++)
		assert_non_null(sonde_proc_lookup(c, pid));
	assert_int_equal(sonde_proc_cache_len(c), 4);
	const struct sonde_proc_info *pi = sonde_proc_lookup(c, 15);
	assert_int_equal(strlen(pi->cmdline), SONDE_PROC_CMDLINE_MAX - 1);
	/* Exited processes go, a couple per miss, without a full scan. */
	for (unsigned pid = 10; pid < 16; pid++)
		gone(tree, pid);
	fake_proc(tree, 20, 1, 0, "y", 1, "0::/\n");
	fake_proc(tree, 21, 1, 0, "y", 1, "0::/\n");
	sonde_proc_lookup(c, 20);
	sonde_proc_lookup(c, 21);
	assert_true(st.enrich_process_expired >= 2);
	assert_true(sonde_proc_cache_len(c) <= 4);
	gone(tree, 20);
	gone(tree, 21);
	sonde_proc_cache_free(c);
	rm_tree(tree);
}

/* With exec and exit events (the eBPF source's), a cached entry is
 * answered without /proc until an event says otherwise: an exec keeping the
 * comm still gives the new program, a pid reused after an exit is read
 * afresh, and an exited process keeps its identity for late records. */
static void tracked(void **state)
{
	(void)state;
	char *tree = fake_tree();
	char proc[512], dir[600];
	snprintf(proc, sizeof(proc), "%s/proc", tree);
	snprintf(dir, sizeof(dir), "%s/600", proc);
	struct sonde_stats st = { 0 };
	struct sonde_proc_opts o = { .proc = proc, .root = tree };
	struct sonde_proc_cache *c = sonde_proc_cache_new(&o, &st);
	sonde_proc_track(c);
	fake_proc(tree, 600, 40, 0, "python3\0a.py\0", 13, "0::/\n");
	sonde_proc_remember(c, 600); /* its socket opened: read before it can go */
	assert_int_equal(st.enrich_process_lookups, 0);
	/* An exec of another binary under the same comm: the events say so,
	 * stat alone could not (same pid, start time and comm). */
	put(dir, "cmdline", "python3\0b.py\0", 13);
	const struct sonde_proc_info *pi = sonde_proc_lookup(c, 600);
	assert_string_equal(pi->cmdline, "python3 a.py"); /* trusted: no exec seen */
	sonde_proc_exec(c, 600);
	assert_int_equal(st.enrich_process_execs, 1);
	pi = sonde_proc_lookup(c, 600);
	assert_string_equal(pi->cmdline, "python3 b.py");
	/* Trusted: no /proc read while no event came (the files gone show it). */
	gone(tree, 600);
	pi = sonde_proc_lookup(c, 600);
	assert_non_null(pi);
	assert_string_equal(pi->cmdline, "python3 b.py");
	/* It exits: its late records still name it. */
	sonde_proc_exit(c, 600);
	pi = sonde_proc_lookup(c, 600);
	assert_non_null(pi);
	assert_string_equal(pi->cmdline, "python3 b.py");
	/* The pid reused by another process: read afresh, nothing inherited. */
	fake_proc(tree, 600, 95, 4321, "nginx\0", 6, "0::/machine.slice/libpod-" CTR ".scope\n");
	pi = sonde_proc_lookup(c, 600);
	assert_non_null(pi);
	assert_string_equal(pi->cmdline, "nginx");
	assert_int_equal(pi->start_ticks, 95);
	assert_string_equal(pi->user, "alice");
	assert_string_equal(pi->ctr.id, CTR);
	assert_int_equal(st.enrich_process_reused, 1);
	/* An exit of a process never cached, an exec of one: nothing happens. */
	sonde_proc_exit(c, 601);
	sonde_proc_exec(c, 602);
	assert_int_equal(sonde_proc_cache_len(c), 1);
	assert_int_equal(st.enrich_process_failures, 0);
	/* Events lost (a full ring): an exec they may have held is found by
	 * /proc's comm on the next lookup, then the entry is trusted again. */
	fake_proc(tree, 610, 50, 0, "sh\0", 3, "0::/\n");
	sonde_proc_remember(c, 610);
	char dir2[600];
	snprintf(dir2, sizeof(dir2), "%s/610", proc);
	put(dir2, "stat", "610 (curl) S 1 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 50 1000 100\n", 71);
	put(dir2, "comm", "curl\n", 5);
	put(dir2, "cmdline", "curl\0", 5);
	assert_string_equal(sonde_proc_lookup(c, 610)->cmdline, "sh"); /* trusted */
	sonde_proc_doubt(c);
	assert_string_equal(sonde_proc_lookup(c, 610)->cmdline, "curl");
	gone(tree, 610);
	assert_string_equal(sonde_proc_lookup(c, 610)->cmdline, "curl"); /* trusted again */
	/* A process that vanished before it was remembered: unknown, and not
	 * counted as a record's failed lookup. */
	sonde_proc_remember(c, 603);
	assert_int_equal(st.enrich_process_failures, 0);
	assert_null(sonde_proc_lookup(c, 603));
	assert_int_equal(st.enrich_process_failures, 1);
	gone(tree, 600);
	sonde_proc_cache_free(c);
	rm_tree(tree);
}

/* Tracked, the cache stays bounded: the least recently used entry goes. */
static void tracked_bounded(void **state)
{
	(void)state;
	char *tree = fake_tree();
	char proc[512];
	snprintf(proc, sizeof(proc), "%s/proc", tree);
	struct sonde_stats st = { 0 };
	struct sonde_proc_opts o = { .proc = proc, .root = tree, .max_entries = 3 };
	struct sonde_proc_cache *c = sonde_proc_cache_new(&o, &st);
	sonde_proc_track(c);
	for (unsigned pid = 30; pid < 40; pid++) {
		fake_proc(tree, pid, pid, 0, "z", 1, "0::/\n");
		sonde_proc_remember(c, pid);
		sonde_proc_exit(c, pid);
		gone(tree, pid);
		assert_true(sonde_proc_cache_len(c) <= 3);
	}
	assert_int_equal(sonde_proc_cache_len(c), 3);
	assert_non_null(sonde_proc_lookup(c, 39)); /* the latest are kept */
	assert_null(sonde_proc_lookup(c, 30));
	sonde_proc_cache_free(c);
	rm_tree(tree);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(self),
		tu_test(child),
		tu_test(pid_reused),
		tu_test(execd),
		tu_test(bounded_and_expiring),
		tu_test(tracked),
		tu_test(tracked_bounded),
	};
	return cmocka_run_group_tests_name("process", tests, NULL, NULL);
}
