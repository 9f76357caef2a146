/* SPDX-License-Identifier: MIT */
/* The audit log: JSON Lines to a file and syslog (audit.h). */
#include "app/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#define EVENT_MAX (64 * 1024) /* a line; longer members are cut by the buffer's limit */

struct sonde_audit {
	int fd; /* -1: no file */
	bool syslog;
	bool failed; /* a write failed: said once */
	struct sonde_buf line;
	char path[256];
};

/* Its directory is made 0750 if missing; the file must be a regular file
 * that only its owner may write (O_NOFOLLOW: no symlink planted for us). */
static int open_file(const char *path, char *why, size_t whylen)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
			snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen,
			 "%s is writable by others than its owner (mode %03o): refused", path,
			 (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	return fd;
}

static bool syslog_present(void)
{
	struct stat st;
	return stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode);
}

struct sonde_audit *sonde_audit_open(const char *path, bool required, char *why, size_t whylen)
{
	why[0] = 0;
	int fd = -1;
	if (path) {
		fd = open_file(path, why, whylen);
		if (fd < 0 && required)
			return NULL;
	}
	bool sl = syslog_present();
	if (fd < 0 && !sl)
		return NULL;
	struct sonde_audit *a = sonde_xcalloc(1, sizeof(*a));
	a->fd = fd;
	a->syslog = sl;
	if (path)
		snprintf(a->path, sizeof(a->path), "%s", path);
	sonde_buf_init(&a->line, EVENT_MAX);
	if (sl)
		openlog("sonde", LOG_PID, LOG_AUTHPRIV);
	return a;
}

void sonde_audit_close(struct sonde_audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	if (a->syslog)
		closelog();
	sonde_buf_free(&a->line);
	free(a);
}

static void key(struct sonde_audit *a, const char *k)
{
	sonde_buf_putc(&a->line, ',');
	sonde_json_key(&a->line, k);
}

void sonde_audit_begin(struct sonde_audit *a, const char *event)
{
	if (!a)
		return;
	sonde_buf_reset(&a->line);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	sonde_buf_puts(&a->line, "{\"ts\":\"");
	sonde_fmt_time(&a->line, (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000);
	sonde_buf_puts(&a->line, "\",\"event\":");
	sonde_json_cstr(&a->line, event);
	sonde_audit_u64(a, "pid", (uint64_t)getpid());
}

void sonde_audit_str(struct sonde_audit *a, const char *k, const char *val)
{
	if (!a)
		return;
	key(a, k);
	if (val)
		sonde_json_cstr(&a->line, val);
	else
		sonde_buf_puts(&a->line, "null");
}

void sonde_audit_u64(struct sonde_audit *a, const char *k, uint64_t v)
{
	if (!a)
		return;
	key(a, k);
	sonde_buf_u64(&a->line, v);
}

void sonde_audit_bool(struct sonde_audit *a, const char *k, bool v)
{
	if (!a)
		return;
	key(a, k);
	sonde_buf_puts(&a->line, v ? "true" : "false");
}

void sonde_audit_raw(struct sonde_audit *a, const char *k, const char *json, size_t n)
{
	if (!a)
		return;
	key(a, k);
	sonde_buf_append(&a->line, json, n);
}

int sonde_audit_end(struct sonde_audit *a)
{
	if (!a)
		return 0;
	if (a->line.full) { /* cut: say so rather than write broken JSON */
		sonde_buf_reset(&a->line);
		sonde_buf_puts(&a->line, "{\"event\":\"cut\",\"why\":\"an event over 64 KiB\"");
	}
	sonde_buf_puts(&a->line, "}");
	if (a->syslog)
		syslog(LOG_NOTICE, "%.*s", (int)a->line.len, (const char *)a->line.p);
	sonde_buf_putc(&a->line, '\n');
	if (a->fd < 0)
		return 0;
	ssize_t w = write(a->fd, a->line.p, a->line.len);
	if (w == (ssize_t)a->line.len)
		return 0;
	if (!a->failed)
		fprintf(stderr, "sonde: audit log %s: %s\n", a->path,
			w < 0 ? strerror(errno) : "short write");
	a->failed = true;
	return -1;
}

static void read_line(const char *path, char *out, size_t len)
{
	out[0] = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = 0;
	fclose(f);
}

void sonde_audit_who(struct sonde_audit *a)
{
	if (!a)
		return;
	uid_t uid = getuid();
	sonde_audit_u64(a, "uid", uid);
	sonde_audit_u64(a, "euid", geteuid());
	struct passwd *pw = getpwuid(uid);
	sonde_audit_str(a, "user", pw ? pw->pw_name : NULL);
	char s[64];
	read_line("/proc/self/loginuid", s, sizeof(s));
	char *end;
	unsigned long lu = strtoul(s, &end, 10);
	if (*s && !*end && lu != 4294967295ul) /* unset: (uid_t)-1 */
		sonde_audit_u64(a, "loginuid", lu);
	const char *su = getenv("SUDO_USER");
	if (su)
		sonde_audit_str(a, "sudo_user", su);
	char host[256];
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = 0;
		sonde_audit_str(a, "host", host);
	}
}
