/* SPDX-License-Identifier: MIT */
/*
 * sonde_filter_to_sql's SQLite dialect on a real SQLite (Debian's
 * libsqlite3): every record of the shared corpus stored as its JSON line
 * (and a few columns, as a store would keep them), each expression's WHERE
 * clause run on it, and the rows it selects compared with what
 * sonde_filter_match_json says of each line — the same rows when the clause
 * is exact, a superset when it is not. Also the clauses for ClickHouse as
 * text (quoting, LIKE escapes), since its server is tested elsewhere.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#include "query/filter.h"
#include "filter_corpus.h"

#define NOW_US 1796310000000000ull

static const char *const exprs[] = {
	"protocol == \"http\" && response.status >= 500 && request.target.startsWith(\"/api\")",
	"protocol == \"http\"",
	"!(protocol == \"http\")",
	"protocol in [\"dns\", \"redis\", \"mqtt\"]",
	"version != \"HTTP/2\"",
	"ts > \"2015-01-01\"",
	"ts <= \"2013-03-18T16:37:11.406021Z\"",
	"ts > now() - 10m",
	"!(ts > now() - 100000d)",
	"response.status >= 400",
	"response.status == null",
	"response.status != 200",
	"!has(response.status)",
	"latency_ms > 200",
	"latency > 1.5ms",
	"latency_us.first_byte < 100",
	"ttfb_ms >= 0.25",
	"conn.server.port == 80 || conn.client.port > 40000",
	"conn.server.ip startsWith \"192.168.\"",
	"conn.server.ip endsWith \".1\"",
	"conn.server.ip contains \"168\"",
	"conn.server.name contains \"com\"",
	"has(conn.server.name)",
	"conn.transport == \"udp\"",
	"capture.source contains \"http2\"",
	"capture.source contains \"_\"",
	"capture.source contains \"%\"",
	"has(request.headers[\"authorization\"])",
	"!has(request.headers[\"Authorization\"])",
	"request.headers[\"authorization\"] contains \"****\"",
	"request.headers[\"HOST\"] endsWith \".com\"",
	"request.headers[\"user-agent\"] matches \"^(curl|Mozilla)\"",
	"!(request.headers[\"user-agent\"] matches \"curl\")",
	"response.headers[\"content-type\"] contains \"json\"",
	"response.trailers[\"grpc-status\"] == \"0\"",
	"request.method in [\"GET\", \"HEAD\"]",
	"request.method < \"H\"",
	"request.target matches \"\\\\.(js|css|png)$\"",
	"request.target contains \"'\"",
	"request.body.size > 1k",
	"response.body.size >= 10kb",
	"response.body.data contains \"html\"",
	"response.body.decoded == true",
	"response.body",
	"grpc.method == \"Charge\" || grpc.service contains \"Greeter\"",
	"grpc.status != 0",
	"redis.command == \"GET\"",
	"request.arguments == \"foo\" || request.arguments[0] contains \"key\"",
	"request.arguments contains \"e\"",
	"response.type == \"error\" || response.error",
	"dns.name endsWith \".com\"",
	"!(dns.rcode == \"NOERROR\")",
	"response.answers.type == \"A\"",
	"flags == \"midstream\"",
	"flags contains \"gap\"",
	"!(\"unanswered\" in flags)",
	"has(flags)",
	"flags",
	"!has(request) || !has(response)",
	"response",
	"request.stream_id >= 3",
	"pod.labels[\"app\"] == \"x\" || !(container.name == \"y\")",
	"true && !false",
};

struct lines {
	sqlite3 *db;
	sqlite3_stmt *ins;
	char **json;
	size_t n, cap;
};

static void store_record(void *ctx, const struct sonde_record *r, const char *json, size_t len)
{
	(void)r;
	struct lines *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->json = tu_xrealloc(l->json, l->cap * sizeof(*l->json));
	}
	char *copy = tu_xmalloc(len + 1);
	memcpy(copy, json, len);
	copy[len] = 0;
	l->json[l->n] = copy;
	sqlite3_bind_int64(l->ins, 1, (sqlite3_int64)l->n);
	sqlite3_bind_text(l->ins, 2, copy, (int)len, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(l->ins), SQLITE_DONE);
	sqlite3_reset(l->ins);
	l->n++;
}

/* The rows the clause selects, as a bitmap over the lines. */
static bool *select_rows(struct lines *l, const char *where)
{
	bool *sel = calloc(l->n ? l->n : 1, 1);
	char *q = NULL;
	assert_true(asprintf(&q, "SELECT id FROM records WHERE %s", where) > 0);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(l->db, q, -1, &st, NULL);
	if (rc != SQLITE_OK)
		fail_msg("SQLite refused: %s\n%s", sqlite3_errmsg(l->db), q);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		sel[sqlite3_column_int64(st, 0)] = true;
	if (rc != SQLITE_DONE)
		fail_msg("SQLite failed: %s\n%s", sqlite3_errmsg(l->db), q);
	sqlite3_finalize(st);
	free(q);
	return sel;
}

static void check_expr(struct lines *l, const char *expr, const char *const *columns,
		       size_t *inexact)
{
	struct sonde_filter_error err;
	struct sonde_filter *f = sonde_filter_compile(expr, &err);
	if (!f)
		fail_msg("'%s': column %zu: %s", expr, err.column, err.message);
	struct sonde_buf sql = { 0 };
	bool exact = false;
	assert_int_equal(sonde_filter_to_sql(f, SONDE_SQL_SQLITE, "records.json", columns, NOW_US, &sql,
					     &exact, &err),
			 0);
	sonde_buf_putc(&sql, 0);
	bool *sel = select_rows(l, (const char *)sql.p);
	size_t wrong = 0, extra = 0, matched = 0;
	for (size_t i = 0; i < l->n; i++) {
		bool m = sonde_filter_match_json(f, l->json[i], strlen(l->json[i]), NOW_US);
		matched += m;
		if (m && !sel[i])
			wrong++; /* SQL lost a record the filter matches: never allowed */
		else if (!m && sel[i])
			extra++; /* allowed only when the clause is not exact */
		if (((m && !sel[i]) || (!m && sel[i] && exact)) && wrong + extra < 3)
			print_error("'%s' (%s): filter %d, SQL %d on\n%.600s\nSQL: %s\n", expr,
				    exact ? "exact" : "inexact", m, sel[i], l->json[i],
				    (char *)sql.p);
	}
	if (getenv("SONDE_FILTER_VERBOSE"))
		print_message("%5zu %5zu %s %s\n", matched, extra, exact ? "exact  " : "inexact",
			      expr);
	assert_int_equal(wrong, 0);
	if (exact)
		assert_int_equal(extra, 0);
	else
		(*inexact)++;
	free(sel);
	sonde_buf_free(&sql);
	sonde_filter_free(f);
}

static void sqlite_matches_the_filter(void **state)
{
	(void)state;
	const char *dir = fc_corpus_dir();
	if (!dir) {
		print_message("no corpus (set SONDE_CORPUS): skipped\n");
		skip();
	}
	struct lines l = { 0 };
	assert_int_equal(sqlite3_open(":memory:", &l.db), SQLITE_OK);
	/* a store's columns: the protocol, the time in µs, the status */
	assert_int_equal(sqlite3_exec(l.db,
				      "CREATE TABLE records (id INTEGER PRIMARY KEY, json TEXT, "
				      "protocol TEXT, ts_us INTEGER, status INTEGER)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(l.db, "INSERT INTO records (id, json) VALUES (?, ?)", -1,
					    &l.ins, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(l.db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	size_t files = fc_each_capture(dir, store_record, &l, NULL);
	assert_int_equal(sqlite3_exec(l.db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_finalize(l.ins);
	/* the columns from the JSON, as a store's writer would fill them */
	assert_int_equal(
		sqlite3_exec(l.db,
			     "UPDATE records SET protocol = json_extract(json, '$.protocol'), "
			     "status = json_extract(json, '$.response.status'), ts_us = "
			     "CAST(round((julianday(substr(json_extract(json, '$.ts'), 1, 19)) - "
			     "2440587.5) * 86400) AS INTEGER) * 1000000 + "
			     "CAST(substr(json_extract(json, '$.ts'), 21, 6) AS INTEGER)",
			     NULL, NULL, NULL),
		SQLITE_OK);
	print_message("%zu captures, %zu records in SQLite\n", files, l.n);
	assert_true(l.n > 1000);
	static const char *const columns[] = { "protocol",	  "protocol", "ts", "ts_us",
					       "response.status", "status",   NULL };
	size_t inexact = 0;
	for (size_t i = 0; i < sizeof(exprs) / sizeof(*exprs); i++) {
		check_expr(&l, exprs[i], NULL, &inexact);
		check_expr(&l, exprs[i], columns, &inexact);
	}
	print_message("%zu expressions, twice (JSON only, and with columns): %zu clauses "
		      "inexact (then checked with match_json)\n",
		      sizeof(exprs) / sizeof(*exprs), inexact);
	/* most clauses say it all in SQL */
	assert_true(inexact < sizeof(exprs) / sizeof(*exprs) / 2);
	for (size_t i = 0; i < l.n; i++)
		free(l.json[i]);
	free(l.json);
	sqlite3_close(l.db);
}

/* ClickHouse's text: quotes and backslashes escaped its way, LIKE's
 * wildcards escaped, functions of its dialect. */
static void clickhouse_text(void **state)
{
	(void)state;
	struct {
		const char *expr, *has;
		bool exact;
	} cases[] = {
		{ "request.target contains \"50%_off\\\\\"", "LIKE '%50\\\\%\\\\_off\\\\\\\\%'", true },
		{ "request.target startsWith \"it's\"", "LIKE 'it\\'s%'", true },
		{ "request.target matches \"^/a\"", "match(target, '^/a')", true },
		{ "response.status >= 500", "status >= 500", true },
		{ "protocol == \"http\"", "proto = 'http'", true },
		{ "response.reason == \"OK\"", "position(json, '\"reason\":') > 0", false },
		{ "has(request.headers[\"x\"])", "position(json, '\"headers\":') > 0", false },
		{ "!has(request.headers[\"x\"])", "NOT (0)", false },
		{ "ts > now() - 10m", "ts_us > 1796309400000000", true },
	};
	static const char *const columns[] = { "protocol",	 "proto",  "ts", "ts_us",
					       "request.target", "target", "response.status",
					       "status",	 NULL };
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct sonde_filter *f = sonde_filter_compile(cases[i].expr, NULL);
		assert_non_null(f);
		struct sonde_buf sql = { 0 };
		bool exact;
		assert_int_equal(sonde_filter_to_sql(f, SONDE_SQL_CLICKHOUSE, "json", columns, NOW_US,
						     &sql, &exact, NULL),
				 0);
		sonde_buf_putc(&sql, 0);
		if (!strstr((char *)sql.p, cases[i].has) || exact != cases[i].exact)
			fail_msg("'%s': %s (%s), want %s", cases[i].expr, (char *)sql.p,
				 exact ? "exact" : "inexact", cases[i].has);
		sonde_buf_free(&sql);
		sonde_filter_free(f);
	}
}

/* --------------------------------------------- a real ClickHouse server --- */

/* Debian's clickhouse-server (18.16), started here on loopback with a
 * data directory of its own; skipped when it is not installed. The corpus
 * records go into a table with the JSON and three columns, and every
 * expression's clause must select what match_json says (a superset when
 * inexact). */
struct ch {
	char dir[64];
	pid_t pid;
	int port;
};

static int ch_query(const struct ch *c, const char *sql_file, const char *out)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "curl -sS --fail-with-body http://127.0.0.1:%d/ --data-binary @%s > %s 2>&1",
		 c->port, sql_file, out);
	return system(cmd);
}

/* A port nothing listens on now (the kernel's choice). */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static bool ch_start(struct ch *c)
{
	if (system("command -v clickhouse-server > /dev/null 2>&1") != 0 ||
	    access("/etc/clickhouse-server/users.xml", R_OK) != 0)
		return false;
	snprintf(c->dir, sizeof(c->dir), "/tmp/sonde-filter-ch.XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	c->port = free_port();
	int tcp_port = free_port();
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p data tmp user_files log && cp /etc/clickhouse-server/users.xml . && "
		 "printf '<?xml version=\"1.0\"?><yandex><logger><level>warning</level>"
		 "<log>%s/log/server.log</log><errorlog>%s/log/err.log</errorlog></logger>"
		 "<http_port>%d</http_port><tcp_port>%d</tcp_port><listen_host>127.0.0.1</listen_host>"
		 "<path>%s/data/</path><tmp_path>%s/tmp/</tmp_path><user_files_path>%s/user_files/"
		 "</user_files_path><users_config>users.xml</users_config><default_profile>default"
		 "</default_profile><default_database>default</default_database>"
		 "<mark_cache_size>536870912</mark_cache_size><timezone>UTC</timezone></yandex>' > config.xml",
		 c->dir, c->dir, c->dir, c->port, tcp_port, c->dir, c->dir, c->dir);
	assert_int_equal(system(cmd), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		char cfg[128];
		snprintf(cfg, sizeof(cfg), "--config-file=%s/config.xml", c->dir);
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("clickhouse-server", "clickhouse-server", cfg, (char *)NULL);
		_exit(127);
	}
	snprintf(cmd, sizeof(cmd),
		 "for i in $(seq 200); do curl -sf http://127.0.0.1:%d/ping > /dev/null && exit 0; "
		 "sleep 0.05; done; exit 1",
		 c->port);
	return system(cmd) == 0;
}

static void ch_stop(struct ch *c)
{
	kill(c->pid, SIGTERM);
	waitpid(c->pid, NULL, 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", c->dir);
	(void)system(cmd);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void clickhouse_server(void **state)
{
	(void)state;
	const char *dir = fc_corpus_dir();
	struct ch c;
	if (!dir || !ch_start(&c)) {
		print_message("no corpus or no clickhouse-server: skipped\n");
		skip();
	}
	struct lines l = { 0 };
	assert_int_equal(sqlite3_open(":memory:", &l.db), SQLITE_OK); /* only to collect */
	assert_int_equal(sqlite3_exec(l.db, "CREATE TABLE records (id INTEGER, json TEXT)", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(l.db, "INSERT INTO records VALUES (?, ?)", -1, &l.ins,
					    NULL),
			 SQLITE_OK);
	fc_each_capture(dir, store_record, &l, NULL);
	sqlite3_finalize(l.ins);
	sqlite3_close(l.db);
	char sqlf[128], outf[128];
	snprintf(sqlf, sizeof(sqlf), "%s/q.sql", c.dir);
	snprintf(outf, sizeof(outf), "%s/out", c.dir);
	const char *create = "CREATE TABLE records (id UInt64, json String, protocol String, "
			     "ts_us Int64, status Nullable(Int64)) ENGINE = MergeTree() ORDER BY id";
	write_file(sqlf, create, strlen(create));
	assert_int_equal(ch_query(&c, sqlf, outf), 0);
	/* the rows as JSONEachRow: the columns from each record */
	struct sonde_buf ins = { 0 };
	sonde_buf_puts(&ins, "INSERT INTO records FORMAT JSONEachRow\n");
	for (size_t i = 0; i < l.n; i++) {
		int64_t ts_us = 0;
		const char *t = strstr(l.json[i], "\"ts\":\"");
		if (t) {
			struct tm tm = { 0 };
			unsigned us = 0;
			sscanf(t + 6, "%d-%d-%dT%d:%d:%d.%6u", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			       &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us);
			tm.tm_year -= 1900;
			tm.tm_mon -= 1;
			ts_us = (int64_t)timegm(&tm) * 1000000 + us;
		}
		const char *p = strstr(l.json[i], "\"protocol\":\"");
		char proto[32] = "";
		if (p)
			sscanf(p + 12, "%31[^\"]", proto);
		/* HTTP's status follows the message's own three members */
		const char *st = strstr(l.json[i], "\"response\":{");
		st = st ? strstr(st, ",\"status\":") : NULL;
		if (st && strncmp(l.json[i], "{\"schema\"", 9) == 0 && strcmp(proto, "http"))
			st = NULL;
		sonde_buf_printf(&ins, "{\"id\":%zu,\"protocol\":\"%s\",\"ts_us\":%" PRId64 ",\"status\":",
				 i, proto, ts_us);
		if (st && st[10] >= '0' && st[10] <= '9')
			sonde_buf_printf(&ins, "%d", atoi(st + 10));
		else
			sonde_buf_puts(&ins, "null");
		sonde_buf_puts(&ins, ",\"json\":");
		sonde_json_str(&ins, l.json[i], strlen(l.json[i]));
		sonde_buf_puts(&ins, "}\n");
	}
	write_file(sqlf, ins.p, ins.len);
	sonde_buf_free(&ins);
	assert_int_equal(ch_query(&c, sqlf, outf), 0);
	static const char *const columns[] = { "protocol", "protocol", "ts", "ts_us",
					       "response.status", "status", NULL };
	size_t exact_n = 0;
	for (size_t e = 0; e < sizeof(exprs) / sizeof(*exprs); e++) {
		struct sonde_filter *f = sonde_filter_compile(exprs[e], NULL);
		assert_non_null(f);
		struct sonde_buf q = { 0 };
		bool exact;
		sonde_buf_puts(&q, "SELECT id FROM records WHERE ");
		assert_int_equal(sonde_filter_to_sql(f, SONDE_SQL_CLICKHOUSE, "json", columns, NOW_US,
						     &q, &exact, NULL),
				 0);
		sonde_buf_puts(&q, " FORMAT TabSeparated");
		write_file(sqlf, q.p, q.len);
		if (ch_query(&c, sqlf, outf) != 0) {
			char cmd[256];
			snprintf(cmd, sizeof(cmd), "cat %s >&2", outf);
			(void)system(cmd);
			fail_msg("ClickHouse refused: %.*s", (int)q.len, (char *)q.p);
		}
		bool *sel = calloc(l.n, 1);
		FILE *o = fopen(outf, "r");
		unsigned long long id;
		while (o && fscanf(o, "%llu", &id) == 1)
			if (id < l.n)
				sel[id] = true;
		if (o)
			fclose(o);
		size_t wrong = 0, extra = 0;
		for (size_t i = 0; i < l.n; i++) {
			bool m = sonde_filter_match_json(f, l.json[i], strlen(l.json[i]), NOW_US);
			wrong += m && !sel[i];
			extra += !m && sel[i];
		}
		if (wrong || (exact && extra))
			fail_msg("'%s' (%s): %zu records lost, %zu extra\n%.*s", exprs[e],
				 exact ? "exact" : "inexact", wrong, extra, (int)q.len, (char *)q.p);
		exact_n += exact;
		free(sel);
		sonde_buf_free(&q);
		sonde_filter_free(f);
	}
	print_message("ClickHouse 18.16: %zu records, %zu expressions, %zu clauses exact\n", l.n,
		      sizeof(exprs) / sizeof(*exprs), exact_n);
	for (size_t i = 0; i < l.n; i++)
		free(l.json[i]);
	free(l.json);
	ch_stop(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sqlite_matches_the_filter),
		cmocka_unit_test(clickhouse_text),
		cmocka_unit_test(clickhouse_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
