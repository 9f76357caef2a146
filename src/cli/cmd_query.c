/* SPDX-License-Identifier: MIT */
/* sonde query: records of the embedded store a filter matches (argv → a query). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/privs.h"
#include "core/buf.h"
#include "query/filter.h"
#include "sink/har.h"
#include "store/clickhouse.h"
#include "store/query.h"
#include "store/raw.h"
#include "store/store.h"
#include "store/row.h"
#include "store/top.h"
#include "cli/cli.h"

static const char query_usage[] =
	"Usage: sonde query [OPTIONS] [EXPR]\n"
	"       sonde query --redissect [OPTIONS] [EXPR] [-- READ-OPTIONS]\n"
	"\n"
	"Records kept by 'sonde capture --store DIR' or 'sonde read --store DIR' that\n"
	"EXPR matches (docs/filter.md; none: every record), newest first.\n"
	"\n"
	"      --store DIR          the store (default: $SONDE_STORE, else\n"
	"                           " SONDE_STORE_AGENT_DIR " if it exists);\n"
	"                           clickhouse=URL asks ClickHouse (--sink\n"
	"                           clickhouse=URL) instead\n"
	"      --since DUR          records of the last DUR only (units s, m, h...)\n"
	"      --until DUR          records older than DUR ago only\n"
	"  -o, --output FORMAT      text, json (JSON Lines, as sonde read -o json wrote\n"
	"                           them) or har (the HTTP exchanges as one HAR 1.2\n"
	"                           log); default: text on a terminal, else json\n"
	"  -n, --limit N            at most N records\n"
	"      --oldest-first       oldest first\n"
	"      --follow             then the new matches as they are stored (Ctrl-C stops)\n"
	"      --top KIND           instead of records: counts, error rates and latency\n"
	"                           p50/p90/p99 per endpoints, status or talkers\n"
	"      --redissect          dissect the store's raw bytes (--store-raw) again,\n"
	"                           with today's dissectors and READ-OPTIONS (sonde\n"
	"                           read's: --body-limit, --proto-descriptor...); fresh\n"
	"                           records EXPR matches, oldest first\n"
	"  -u, --utc                text times in UTC (default: local time)\n"
	"  -V, --verbose            text: every field of both messages below each line\n"
	"  -h, --help               show this help\n"
	"\n"
	"Exit status: 0 on success (matches or not), 1 if the store cannot be read,\n"
	"2 on bad usage.\n";

enum { OPT_STORE = 3000, OPT_SINCE, OPT_UNTIL, OPT_OLDEST, OPT_FOLLOW, OPT_TOP, OPT_REDISSECT };

static const struct option query_opts[] = {
	{ "store", required_argument, NULL, OPT_STORE },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "output", required_argument, NULL, 'o' },
	{ "limit", required_argument, NULL, 'n' },
	{ "oldest-first", no_argument, NULL, OPT_OLDEST },
	{ "follow", no_argument, NULL, OPT_FOLLOW },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "redissect", no_argument, NULL, OPT_REDISSECT },
	{ "utc", no_argument, NULL, 'u' },
	{ "verbose", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct query_args {
	struct sonde_query_opts q;
	const char *expr;
	int json; /* -1: by whether stdout is a terminal */
	bool har; /* -o har (json is then 1: rows are read as JSON) */
	bool utc, details;
	int top; /* enum sonde_top_kind, or -1: records */
	bool redissect;
	uint64_t since_ns, until_ns; /* --since, --until as durations (--redissect) */
	char **read_args; /* --redissect: what follows EXPR (after --) */
	int nread_args;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int bad(const char *opt, const char *val, const char *why)
{
	sonde_errorf("query: invalid value '%s' for --%s%s%s", val, opt, why ? ": " : "",
		     why ? why : "");
	return SONDE_EXIT_USAGE;
}

/* A duration ago, in µs since the epoch. */
static int ago(const char *opt, const char *arg, uint64_t *out_us, uint64_t *out_ns)
{
	uint64_t ns;
	const char *why;
	if (sonde_parse_duration(arg, out_ns, &why) < 0)
		return bad(opt, arg, why);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ns = *out_ns;
	uint64_t now = (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
	*out_us = ns / 1000 < now ? now - ns / 1000 : 0;
	return -1;
}

static int one_option(struct query_args *a, int c, const char *arg)
{
	char *end;
	switch (c) {
	case OPT_STORE: a->q.dir = arg; return -1;
	case OPT_SINCE: return ago("since", arg, &a->q.since_us, &a->since_ns);
	case OPT_UNTIL: return ago("until", arg, &a->q.until_us, &a->until_ns);
	case OPT_REDISSECT: a->redissect = true; return -1;
	case 'o':
		if (strcmp(arg, "json") && strcmp(arg, "jsonl") && strcmp(arg, "text") &&
		    strcmp(arg, "har"))
			return bad("output", arg, "text, json or har");
		a->json = strcmp(arg, "text") != 0;
		a->har = !strcmp(arg, "har");
		return -1;
	case 'n':
		errno = 0;
		a->q.limit = strtoull(arg, &end, 10);
		if (!*arg || *end || errno || *arg == '-' || !a->q.limit)
			return bad("limit", arg, "a number of records, 1 or more");
		return -1;
	case OPT_OLDEST: a->q.oldest_first = true; return -1;
	case OPT_FOLLOW: a->q.follow = true; return -1;
	case OPT_TOP:
		a->top = !strcmp(arg, "endpoints") ? SONDE_TOP_ENDPOINTS
			 : !strcmp(arg, "status")  ? SONDE_TOP_STATUS
			 : !strcmp(arg, "talkers") ? SONDE_TOP_TALKERS
						   : -2;
		return a->top == -2 ? bad("top", arg, "endpoints, status or talkers") : -1;
	case 'u': a->utc = true; return -1;
	case 'V': a->details = true; return -1;
	case 'h': fputs(query_usage, stdout); return SONDE_EXIT_OK;
	default: fputs("Try 'sonde query --help'.\n", stderr); return SONDE_EXIT_USAGE;
	}
}

static int parse_args(int argc, char **argv, struct query_args *a)
{
	int c, status = -1;
	optind = 1;
	while (status < 0 && (c = getopt_long(argc, argv, "o:n:uVh", query_opts, NULL)) != -1)
		status = one_option(a, c, optarg);
	if (status >= 0)
		return status;
	if (a->redissect && optind < argc) {
		/* no EXPR when what follows -- starts with a read option */
		int first = argv[optind][0] == '-' ? optind : optind + 1;
		a->read_args = argv + first;
		a->nread_args = argc - first;
		argc = first;
	} else if (optind < argc - 1) {
		sonde_errorf(
			"query: one expression (quote it: sonde query 'protocol == \"http\"')");
		return SONDE_EXIT_USAGE;
	}
	a->expr = optind < argc ? argv[optind] : NULL;
	if (!a->q.dir)
		a->q.dir = getenv("SONDE_STORE");
	/* the node agent's (deploy/, docs/store.md) */
	if (!a->q.dir && access(SONDE_STORE_AGENT_DIR, F_OK) == 0)
		a->q.dir = SONDE_STORE_AGENT_DIR;
	if (!a->q.dir) {
		sonde_errorf("query: which store? --store DIR (or SONDE_STORE)");
		return SONDE_EXIT_USAGE;
	}
	if (!strncmp(a->q.dir, "clickhouse=", 11) && a->q.follow) {
		sonde_errorf("query: --follow reads the embedded store, not ClickHouse");
		return SONDE_EXIT_USAGE;
	}
	if (a->redissect && (a->top >= 0 || a->q.follow || !strncmp(a->q.dir, "clickhouse=", 11))) {
		sonde_errorf("query: --redissect reads the embedded store's raw bytes once (not "
			     "with --top, --follow or ClickHouse)");
		return SONDE_EXIT_USAGE;
	}
	if (a->top >= 0 && a->har) {
		sonde_errorf("query: --top writes counts, not records (-o text or json)");
		return SONDE_EXIT_USAGE;
	}
	if (a->top >= 0 && a->q.follow) {
		sonde_errorf("query: --top counts what is stored; it cannot --follow");
		return SONDE_EXIT_USAGE;
	}
	return -1;
}

struct writer {
	struct query_args *a;
	struct sonde_buf out;
	struct sonde_top *top;
	struct sonde_har *har; /* -o har */
	bool failed;
};

static bool put_clock(struct sonde_buf *o, uint64_t ts_us, bool utc)
{
	time_t sec = (time_t)(ts_us / 1000000ull);
	struct tm tm;
	if (utc)
		gmtime_r(&sec, &tm);
	else
		localtime_r(&sec, &tm);
	return sonde_buf_printf(o, "%02d:%02d:%02d.%06u", tm.tm_hour, tm.tm_min, tm.tm_sec,
				(unsigned)(ts_us % 1000000ull)) == 0;
}

static bool emit(void *ctx, const struct sonde_query_row *r)
{
	struct writer *w = ctx;
	if (w->top) {
		sonde_top_add(w->top, r);
		return true;
	}
	if (w->har) {
		sonde_har_add_json(w->har, r->json, r->json_len, &w->out);
	} else if (w->a->json) {
		sonde_buf_append(&w->out, r->json, r->json_len);
		sonde_buf_putc(&w->out, '\n');
	} else {
		put_clock(&w->out, r->ts_us, w->a->utc);
		sonde_buf_puts(&w->out, r->text);
		if (w->a->details)
			sonde_buf_puts(&w->out, r->details);
	}
	if (w->out.len >= (64u << 10) || w->a->q.follow) {
		if (fwrite(w->out.p, 1, w->out.len, stdout) != w->out.len || fflush(stdout))
			w->failed = true;
		sonde_buf_reset(&w->out);
	}
	return !w->failed;
}

/* The log's tail; the records it skipped said on stderr. */
static void har_end(struct sonde_har *h, struct sonde_buf *out)
{
	sonde_har_end(h, out);
	uint64_t unreadable, skipped = sonde_har_skipped(h, &unreadable);
	if (skipped)
		sonde_errorf("query: har: %llu records were not HTTP exchanges and are not in the "
			     "log (%llu unreadable)",
			     (unsigned long long)skipped, (unsigned long long)unreadable);
}

/* EXPR compiled, or NULL with *status set after a message pointing at the
 * column. */
static struct sonde_filter *compile(const char *expr, int *status)
{
	*status = -1;
	if (!expr)
		return NULL;
	struct sonde_filter_error err;
	struct sonde_filter *f = sonde_filter_compile(expr, &err);
	if (!f) {
		sonde_errorf("query: column %zu: %s\n  %s\n  %*s", err.column, err.message, expr,
			     (int)err.column, "^");
		*status = SONDE_EXIT_USAGE;
	}
	return f;
}

/* ---- --redissect ---- */

struct raw_feed {
	char **paths;
	size_t n;
	int fd; /* the pipe's writing end, closed when done */
};

/* The raw files, one after the other, into the pipe: pcapng sections
 * follow one another, so a connection that spans a rotation is read
 * whole. Stops when the reader is gone (EPIPE). */
static void *feed_raw(void *p)
{
	struct raw_feed *f = p;
	char buf[1 << 16];
	for (size_t i = 0; i < f->n; i++) {
		int in = open(f->paths[i], O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			/* deleted by a capture's quota meanwhile: its records are gone too */
			sonde_errorf("query: %s: %s, skipped", f->paths[i], strerror(errno));
			continue;
		}
		ssize_t r;
		bool gone = false;
		while (!gone && (r = read(in, buf, sizeof(buf))) > 0)
			for (ssize_t off = 0, w; !gone && off < r; off += w)
				if ((w = write(f->fd, buf + off, (size_t)(r - off))) < 0)
					gone = true;
		close(in);
		if (gone)
			break;
	}
	close(f->fd);
	return NULL;
}

/* EXPR, bounded by --since/--until, as a -Y expression (NULL: none). */
static char *redissect_expr(const struct query_args *a)
{
	struct sonde_buf e = { 0 };
	sonde_buf_printf(&e, "(%s)", a->expr ? a->expr : "true");
	if (a->since_ns)
		sonde_buf_printf(&e, " && ts >= now() - %lluus",
				 (unsigned long long)(a->since_ns / 1000));
	if (a->until_ns)
		sonde_buf_printf(&e, " && ts < now() - %lluus",
				 (unsigned long long)(a->until_ns / 1000));
	sonde_buf_putc(&e, 0);
	return (char *)e.p;
}

/* The length of path's run name: raw-<µs>.pcapng, without the rotation's
 * counter (the files of one capture run share it). */
static size_t run_name_len(const char *path)
{
	const char *e = strstr(path, ".pcapng");
	return e ? (size_t)(e - path) + 7 : strlen(path);
}

/* The files of one capture run, concatenated (a connection that spans a
 * rotation is read whole), through sonde read with av (whose -c is
 * limit). Adds what it wrote to *written. */
static int redissect_run(const struct query_args *a, char **paths, size_t n, char **av, int ac,
			 uint64_t *written)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		sonde_errorf("query: pipe: %s", strerror(errno));
		return SONDE_EXIT_FAIL;
	}
	struct raw_feed f = { .paths = paths, .n = n, .fd = fds[1] };
	pthread_t t;
	if (pthread_create(&t, NULL, feed_raw, &f) != 0)
		abort();
	char name[64];
	snprintf(name, sizeof(name), "store:%.50s", a->q.dir);
	uint64_t matched = 0;
	int status = sonde_cmd_read_fd(ac, av, fds[0], name, &matched);
	close(fds[0]); /* a reader that stopped early (-c) ends the feed */
	pthread_join(t, NULL);
	*written += matched;
	return status;
}

/* sonde read over the store's raw files, with the query's filter and
 * output and READ-OPTIONS, one capture run at a time (runs are separate
 * captures: their connections must not meet). */
static int redissect(struct query_args *a)
{
	char **paths = NULL;
	size_t n = 0;
	if (sonde_store_raw_list(a->q.dir, &paths, &n) < 0 || !n) {
		sonde_errorf("query: %s holds no raw bytes (sonde capture --store DIR --store-raw "
			     "SIZE keeps them)",
			     a->q.dir);
		sonde_store_list_free(paths, n);
		return SONDE_EXIT_FAIL;
	}
	signal(SIGPIPE, SIG_IGN);
	char *expr = redissect_expr(a);
	char limit[24];
	char **av = sonde_xcalloc((size_t)a->nread_args + 16, sizeof(*av));
	int ac = 0;
	av[ac++] = "read";
	av[ac++] = "-o";
	av[ac++] = a->har ? "har" : a->json == 0 ? "text" : "json";
	av[ac++] = "-Y";
	av[ac++] = expr;
	if (a->q.limit) {
		av[ac++] = "-c";
		av[ac++] = limit;
	}
	if (a->utc)
		av[ac++] = "-u";
	if (a->details)
		av[ac++] = "-V";
	for (int i = 0; i < a->nread_args; i++)
		av[ac++] = a->read_args[i];
	av[ac++] = "-";
	int status = SONDE_EXIT_OK;
	uint64_t written = 0;
	for (size_t i = 0, j; i < n && status == SONDE_EXIT_OK; i = j) {
		size_t len = run_name_len(paths[i]);
		for (j = i + 1;
		     j < n && run_name_len(paths[j]) == len && !strncmp(paths[i], paths[j], len);
		     j++)
			;
		if (a->q.limit && written >= a->q.limit)
			break;
		snprintf(limit, sizeof(limit), "%llu", (unsigned long long)(a->q.limit - written));
		status = redissect_run(a, paths + i, j - i, av, ac, &written);
	}
	free(av);
	free(expr);
	sonde_store_list_free(paths, n);
	return status;
}

int sonde_cmd_query(int argc, char **argv)
{
	struct query_args a = { .json = -1, .top = -1 };
	int status = parse_args(argc, argv, &a);
	if (status >= 0)
		return status;
	if (a.redissect) {
		if (a.json < 0)
			a.json = !isatty(STDOUT_FILENO);
		return redissect(&a);
	}
	struct sonde_filter *f = compile(a.expr, &status);
	if (status >= 0)
		return status;
	if (a.json < 0)
		a.json = !isatty(STDOUT_FILENO);
	/* The store's files may come from anywhere (a copied directory): read
	 * them with no privilege, with the caller's own file permissions. */
	char why[256];
	if (sonde_privs_drop_all(why, sizeof(why)) < 0) {
		sonde_errorf("query: %s", why);
		sonde_filter_free(f);
		return SONDE_EXIT_FAIL;
	}
	struct writer w = { .a = &a };
	if (a.top >= 0)
		w.top = sonde_top_new((enum sonde_top_kind)a.top);
	if (a.har) {
		w.har = sonde_har_new(sonde_version());
		sonde_har_begin(w.har, &w.out);
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	a.q.filter = f;
	a.q.stop = &stop_requested;
	a.q.emit = emit;
	a.q.ctx = &w;
	/* --top: the limit is of groups shown, not of records counted */
	uint64_t limit = a.q.limit;
	if (w.top)
		a.q.limit = 0;
	struct sonde_query_counts c;
	char err[512];
	status = SONDE_EXIT_OK;
	bool ch = !strncmp(a.q.dir, "clickhouse=", 11);
	if (ch ? sonde_clickhouse_query(a.q.dir + 11, &a.q, &c, err, sizeof(err)) < 0
	       : sonde_query_run(&a.q, &c, err, sizeof(err)) < 0) {
		sonde_errorf("query: %s", err);
		status = SONDE_EXIT_FAIL;
	}
	if (w.top)
		sonde_top_write(w.top, limit ? limit : 20, a.json, stdout);
	if (w.har)
		har_end(w.har, &w.out);
	if (w.out.len && !w.failed && fwrite(w.out.p, 1, w.out.len, stdout) != w.out.len)
		w.failed = true;
	if (fflush(stdout) != 0)
		w.failed = true;
	if (w.failed && errno != EPIPE)
		status = SONDE_EXIT_FAIL;
	if (!c.segments && status == SONDE_EXIT_OK)
		sonde_errorf("query: %s holds no records yet", a.q.dir);
	sonde_top_free(w.top);
	sonde_har_free(w.har);
	sonde_buf_free(&w.out);
	sonde_filter_free(f);
	return status;
}
