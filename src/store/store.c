/* SPDX-License-Identifier: MIT */
#include "store/store.h"

#include "core/buf.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_DEFAULT_BYTES (1ull << 30)
#define STORE_MIN_SEGMENT (256ull << 10)
#define STORE_FORMAT "sonde-store 1"
/* after a failed write (a full disk) rows are dropped, counted, for this
 * long before the disk is tried again */
#define STORE_RETRY_NS (2ull * 1000000000ull)

const char *const sonde_store_sql_columns[] = {
	"ts",
	"ts_us",
	"protocol",
	"protocol",
	"conn.server.ip",
	"server",
	"conn.server.port",
	"server_port",
	"conn.client.ip",
	"client",
	NULL,
};

static const char schema[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE records(id INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL,"
	" protocol TEXT NOT NULL, service TEXT, server TEXT, server_port INTEGER,"
	" client TEXT, status INTEGER, outcome TEXT, latency_us INTEGER, pid INTEGER,"
	" comm TEXT, pod TEXT, conn_id INTEGER, json TEXT NOT NULL, text TEXT,"
	" details TEXT);"
	"CREATE INDEX records_ts ON records(ts_us);"
	"CREATE INDEX records_protocol ON records(protocol, ts_us);"
	"CREATE INDEX records_server ON records(server, server_port);"
	"CREATE INDEX records_client ON records(client);"
	"CREATE INDEX records_status ON records(status);"
	"CREATE INDEX records_process ON records(comm, pid);"
	"CREATE INDEX records_pod ON records(pod);"
	"INSERT INTO meta VALUES('format','" STORE_FORMAT "');";

struct segment {
	char *path;
	uint64_t bytes; /* the database and its WAL, when last looked at */
	uint64_t mtime_ns;
};

struct sonde_store {
	char *dir;
	int lock_fd;
	uint64_t max_bytes, max_age_ns, seg_bytes;
	struct segment *seg; /* oldest first; the last one is being written */
	size_t nseg;
	sqlite3 *db;
	sqlite3_stmt *ins;
	uint64_t seg_started_ns;
	uint64_t retry_at_ns; /* a failed write: drop until then */
	pthread_mutex_t mu; /* the counters */
	struct sonde_store_counts c;
};

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool is_segment_name(const char *n)
{
	size_t l = strlen(n);
	return !strncmp(n, "seg-", 4) && l > 7 && !strcmp(n + l - 3, ".db");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sonde_store_list(const char *dir, char ***paths, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!is_segment_name(e->d_name))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				abort();
		}
		if (asprintf(&v[cnt], "%s/%s", dir, e->d_name) < 0)
			abort();
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*paths = v;
	*n = cnt;
	return 0;
}

void sonde_store_list_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

static uint64_t file_bytes(const char *path, uint64_t *mtime_ns)
{
	struct stat st;
	uint64_t total = 0;
	char wal[4096];
	if (stat(path, &st) == 0) {
		total += (uint64_t)st.st_size;
		if (mtime_ns)
			*mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull +
				    (uint64_t)st.st_mtim.tv_nsec;
	}
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &st) == 0)
		total += (uint64_t)st.st_size;
	return total;
}

/* Open path with flags and read its format; SQLITE_ROW when it is a sonde
 * segment (*db left open), else an SQLite code (*db closed, *why set). */
static int segment_check(const char *path, int flags, sqlite3 **db, char *why, size_t whylen)
{
	*db = NULL;
	int rc = sqlite3_open_v2(path, db, flags, NULL);
	sqlite3_stmt *st = NULL;
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(*db, 2000);
		rc = sqlite3_prepare_v2(*db, "SELECT value FROM meta WHERE key='format'", -1, &st,
					NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), STORE_FORMAT)) {
		sqlite3_finalize(st);
		return rc;
	}
	snprintf(why, whylen, "%s",
		 rc == SQLITE_ROW || rc == SQLITE_DONE ? "not a sonde store segment"
		 : *db                                 ? sqlite3_errmsg(*db)
						       : sqlite3_errstr(rc));
	if (rc == SQLITE_ROW)
		rc = SQLITE_NOTADB;
	sqlite3_finalize(st);
	sqlite3_close(*db);
	*db = NULL;
	return rc;
}

/* path as an SQLite file: URI, read-only and immutable. */
static void immutable_uri(const char *path, char *uri, size_t len)
{
	size_t o = (size_t)snprintf(uri, len, "file:");
	for (const char *c = path; *c && o + 4 < len; c++)
		o += (size_t)(*c == '%' || *c == '?' || *c == '#'
				      ? snprintf(uri + o, len - o, "%%%02X", (unsigned char)*c)
				      : snprintf(uri + o, len - o, "%c", *c));
	snprintf(uri + o, len - o, "?immutable=1");
}

sqlite3 *sonde_store_open_segment(const char *path, char *err, size_t errlen)
{
	sqlite3 *db;
	/* read-write so that a segment left by a killed writer has its WAL
	 * recovered; nothing is written */
	int rc = segment_check(path, SQLITE_OPEN_READWRITE, &db, err, errlen);
	if (rc != SQLITE_ROW && rc != SQLITE_NOTADB)
		rc = segment_check(path, SQLITE_OPEN_READONLY, &db, err, errlen);
	if (rc != SQLITE_ROW && rc != SQLITE_NOTADB) {
		/* A full disk (or a read-only one) leaves no room for the
		 * shared-memory file a WAL reader makes: read the file as it is.
		 * A closed segment's WAL was checkpointed into it; one a killed
		 * writer left is read without its WAL. */
		char uri[8192];
		immutable_uri(path, uri, sizeof(uri));
		rc = segment_check(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, &db, err, errlen);
	}
	return rc == SQLITE_ROW ? db : NULL;
}

/* Start a new segment, the current one (if any) closed first. Returns
 * SQLITE_OK, or the result code of what failed (SQLITE_FULL: no room). */
static int segment_new(struct sonde_store *s, char *err, size_t errlen)
{
	if (s->db) {
		sqlite3_finalize(s->ins);
		sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		sqlite3_close(s->db);
		s->db = NULL;
		s->ins = NULL;
		struct segment *cur = &s->seg[s->nseg - 1];
		cur->bytes = file_bytes(cur->path, &cur->mtime_ns);
	}
	uint64_t now = wall_ns();
	char *path;
	if (asprintf(&path, "%s/seg-%016" PRIx64 ".db", s->dir, now / 1000) < 0)
		abort();
	int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	char pragmas[256];
	/* WAL: a commit is whole or absent after a crash; NORMAL: synced at
	 * checkpoints, so a power cut loses at most the last commits */
	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		 " PRAGMA wal_autocheckpoint=%" PRIu64 "; PRAGMA journal_size_limit=%" PRIu64 ";",
		 s->seg_bytes / 4096 / 4 + 16, s->seg_bytes / 4);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, pragmas, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
			s->db,
			"INSERT INTO records(ts_us,protocol,service,server,server_port,"
			"client,status,outcome,latency_us,pid,comm,pod,conn_id,json,"
			"text,details) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			-1, &s->ins, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		sqlite3_close(s->db);
		s->db = NULL;
		unlink(path);
		free(path);
		return rc != SQLITE_OK ? rc : SQLITE_ERROR;
	}
	s->seg = realloc(s->seg, (s->nseg + 1) * sizeof(*s->seg));
	if (!s->seg)
		abort();
	s->seg[s->nseg++] = (struct segment){ .path = path, .mtime_ns = now };
	s->seg_started_ns = now;
	return 0;
}

struct sonde_store *sonde_store_open(const struct sonde_store_opts *o, char *err, size_t errlen)
{
	if (mkdir(o->dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", o->dir, strerror(errno));
		return NULL;
	}
	struct sonde_store *s = sonde_xcalloc(1, sizeof(*s));
	s->dir = strdup(o->dir);
	s->max_bytes = o->max_bytes ? o->max_bytes : STORE_DEFAULT_BYTES;
	s->max_age_ns = o->max_age_ns;
	s->seg_bytes = s->max_bytes / 8 > STORE_MIN_SEGMENT ? s->max_bytes / 8 : STORE_MIN_SEGMENT;
	pthread_mutex_init(&s->mu, NULL);
	char lock[4096];
	snprintf(lock, sizeof(lock), "%s/lock", o->dir);
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s: %s", o->dir,
			 errno == EWOULDBLOCK ? "another sonde is writing this store"
					      : strerror(errno));
		sonde_store_close(s);
		return NULL;
	}
	char **paths;
	size_t n;
	if (sonde_store_list(o->dir, &paths, &n) < 0) {
		snprintf(err, errlen, "%s: %s", o->dir, strerror(errno));
		sonde_store_close(s);
		return NULL;
	}
	s->seg = sonde_xcalloc(n + 1, sizeof(*s->seg));
	for (size_t i = 0; i < n; i++) {
		s->seg[i].path = paths[i];
		s->seg[i].bytes = file_bytes(paths[i], &s->seg[i].mtime_ns);
	}
	s->nseg = n;
	free(paths);
	int rc = segment_new(s, err, errlen);
	if (rc == SQLITE_FULL) {
		/* a full disk is not a mistake of the user's: capture goes on,
		 * the store counts what it drops and makes its segment once
		 * there is room (sonde_store_write) */
		fprintf(stderr,
			"sonde: store: %s (records dropped, counted, until there is room)\n", err);
		s->retry_at_ns = wall_ns() + STORE_RETRY_NS;
	} else if (rc != SQLITE_OK) {
		sonde_store_close(s);
		return NULL;
	}
	return s;
}

/* Rows in a closed segment (ids count from 1, nothing is deleted inside). */
static uint64_t segment_rows(const char *path)
{
	char err[128];
	sqlite3 *db = sonde_store_open_segment(path, err, sizeof(err));
	uint64_t n = 0;
	sqlite3_stmt *st;
	if (db &&
	    sqlite3_prepare_v2(db, "SELECT max(id) FROM records", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

static void segment_delete(struct sonde_store *s, size_t i)
{
	uint64_t rows = segment_rows(s->seg[i].path);
	char side[4096];
	unlink(s->seg[i].path);
	snprintf(side, sizeof(side), "%s-wal", s->seg[i].path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", s->seg[i].path);
	unlink(side);
	free(s->seg[i].path);
	memmove(&s->seg[i], &s->seg[i + 1], (s->nseg - i - 1) * sizeof(*s->seg));
	s->nseg--;
	pthread_mutex_lock(&s->mu);
	s->c.expired_records += rows;
	s->c.expired_segments++;
	pthread_mutex_unlock(&s->mu);
}

/* Rotate, then delete the oldest segments past the size or age bound. */
static void keep_bounds(struct sonde_store *s)
{
	struct segment *cur = &s->seg[s->nseg - 1];
	uint64_t now = wall_ns();
	cur->bytes = file_bytes(cur->path, NULL);
	cur->mtime_ns = now;
	char err[256];
	if (cur->bytes >= s->seg_bytes ||
	    (s->max_age_ns && now - s->seg_started_ns > s->max_age_ns / 8))
		if (segment_new(s, err, sizeof(err)) != SQLITE_OK) {
			/* closed: sonde_store_write tries again later */
			fprintf(stderr, "sonde: store: %s\n", err);
			s->retry_at_ns = now + STORE_RETRY_NS;
		}
	for (;;) {
		uint64_t total = 0;
		for (size_t i = 0; i < s->nseg; i++)
			total += s->seg[i].bytes;
		bool old = s->max_age_ns && s->seg[0].mtime_ns + s->max_age_ns < now;
		if (s->nseg < 2 || (total <= s->max_bytes && !old))
			break;
		segment_delete(s, 0);
	}
}

static int insert_row(struct sonde_store *s, const struct sonde_store_row *w)
{
	sqlite3_stmt *q = s->ins;
	sqlite3_reset(q);
	sqlite3_bind_int64(q, 1, (sqlite3_int64)w->ts_us);
	sqlite3_bind_text(q, 2, w->protocol, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, w->service, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, w->server, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 5, w->server_port);
	sqlite3_bind_text(q, 6, w->client, -1, SQLITE_STATIC);
	if (w->status >= 0)
		sqlite3_bind_int(q, 7, w->status);
	else
		sqlite3_bind_null(q, 7);
	sqlite3_bind_text(q, 8, sonde_store_outcome_name(w->outcome), -1, SQLITE_STATIC);
	if (w->latency_us >= 0)
		sqlite3_bind_int64(q, 9, w->latency_us);
	else
		sqlite3_bind_null(q, 9);
	sqlite3_bind_int64(q, 10, w->pid);
	sqlite3_bind_text(q, 11, w->comm, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 12, w->pod, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 13, (sqlite3_int64)w->conn_id);
	sqlite3_bind_text(q, 14, w->json, (int)w->json_len, SQLITE_STATIC);
	sqlite3_bind_text(q, 15, w->text, (int)w->text_len, SQLITE_STATIC);
	sqlite3_bind_text(q, 16, w->details, (int)w->details_len, SQLITE_STATIC);
	return sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
}

size_t sonde_store_write(struct sonde_store *s, struct sonde_store_row **rows, size_t n)
{
	uint64_t now = wall_ns();
	char err[256];
	/* no segment (the disk was full when one was due): try again */
	if (!s->db && now >= s->retry_at_ns && segment_new(s, err, sizeof(err)) != SQLITE_OK)
		s->retry_at_ns = now + STORE_RETRY_NS;
	bool ok = s->db && now >= s->retry_at_ns;
	if (ok)
		ok = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
	for (size_t i = 0; ok && i < n; i++)
		ok = insert_row(s, rows[i]) == 0;
	if (ok)
		ok = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
	if (!ok && s->db) {
		/* a full disk (SQLITE_FULL) or an I/O error: the batch is lost,
		 * counted; capture goes on and the disk is tried again later */
		if (!s->retry_at_ns)
			fprintf(stderr, "sonde: store: %s: %s (records dropped, counted)\n",
				s->seg[s->nseg - 1].path, sqlite3_errmsg(s->db));
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->retry_at_ns = now + STORE_RETRY_NS;
	}
	pthread_mutex_lock(&s->mu);
	if (ok)
		s->c.records += n;
	else
		s->c.write_drops += n;
	pthread_mutex_unlock(&s->mu);
	if (ok && s->db)
		keep_bounds(s);
	return n;
}

void sonde_store_counts(struct sonde_store *s, struct sonde_store_counts *c)
{
	pthread_mutex_lock(&s->mu);
	*c = s->c;
	pthread_mutex_unlock(&s->mu);
}

void sonde_store_close(struct sonde_store *s)
{
	if (!s)
		return;
	if (s->db) {
		sqlite3_finalize(s->ins);
		sqlite3_close(s->db);
	}
	for (size_t i = 0; i < s->nseg; i++)
		free(s->seg[i].path);
	free(s->seg);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	pthread_mutex_destroy(&s->mu);
	free(s->dir);
	free(s);
}
