/* SPDX-License-Identifier: MIT */
/*
 * Redis dissector (RESP2 and RESP3).
 *
 * Each direction runs a RESP parser (resp.c) over its bytes; every value the
 * client sends is a command, every value the server sends a reply, a pub/sub
 * message or a push. Replies answer commands in the order sent (pipelining:
 * the pairing shape is in order). What is not an answer is written as a
 * one-sided event: pub/sub messages and RESP3 pushes, and commands sent while
 * CLIENT REPLY OFF/SKIP told the server not to answer.
 *
 * The connection's state follows the commands as they are sent, because the
 * server runs them in that order: the database (SELECT, undone when its
 * reply is an error), the MULTI transaction a command is queued in, the reply
 * mode, whether the client subscribed. HELLO 3 lets the reply parser accept
 * RESP3 from the reply to it on (a connection joined midstream accepts RESP3
 * from the start: its HELLO was never seen).
 *
 * After a gap inside a bulk payload the value goes on, flagged; any other
 * gap, or bytes that are not RESP, make the direction resynchronise at the
 * next line that starts like a value, counting what it skipped. A direction
 * that keeps failing to parse hands the connection back.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dissector.h"
#include "proto/session.h"
#include "proto/redis/redis_msg.h"
#include "proto/redis/redis_probe.h"
#include "proto/redis/resp.h"

#define REQ_NODES 34 /* the command array, its name and 32 arguments */
#define REQ_TEXT 4096
#define REQ_ITEM 256
#define REPLY_NODES 128
#define REPLY_TEXT 8192
#define REPLY_ITEM 1024
#define HANDBACK_ERRORS 8 /* parse errors in a row before giving up */

enum rd_state {
	RD_PARSE, /* parsing values */
	RD_RESYNC, /* looking for the next line that starts a value */
	RD_DONE, /* the direction ended */
};

struct redis_dir {
	struct sonde_resp_parser ps;
	enum rd_state st;
	bool line_start; /* RESYNC: the previous byte ended a line */
	uint64_t ts_first, ts_last; /* of the current value */
	uint64_t gap; /* bytes of the current value never seen */
	uint32_t bad; /* parse errors since the last value */
};

enum reply_mode {
	REPLY_ON,
	REPLY_OFF,
	REPLY_SKIP, /* the next command is not answered */
};

struct redis_conn {
	struct sonde_session *s;
	struct redis_dir d[2];
	bool resp3;
	bool db_known;
	int64_t db;
	enum reply_mode mode;
	int asked; /* the protocol the last HELLO sent asked for, 0: none */
	bool in_multi;
	uint32_t multi, queued;
	bool subscribed;
	/* confirmations still to come for an (un)subscribe already answered */
	uint32_t confirms_left;
	char confirm_kind[16];
};

extern const struct sonde_dissector sonde_dissector_redis;

/* ------------------------------------------------------------ commands --- */

static bool arg_is(const struct sonde_redis_msg *m, uint32_t i, const char *s)
{
	const struct sonde_resp_node *a = sonde_redis_arg(m, i);
	return a && sonde_resp_ieq(&m->v, a, s);
}

static uint64_t nargs(const struct sonde_redis_msg *m)
{
	return m->v.n && m->v.node[0].size ? m->v.node[0].size - 1 : 0;
}

/* The command's name, upper-cased. */
static void command_name(struct sonde_redis_msg *m)
{
	const struct sonde_resp_node *a = sonde_redis_arg(m, 0);
	if (!a)
		return;
	const uint8_t *b = sonde_resp_bytes(&m->v, a);
	size_t n = a->len < SONDE_REDIS_CMD_MAX ? a->len : SONDE_REDIS_CMD_MAX;
	for (size_t i = 0; i < n; i++)
		m->cmd[i] = (char)(b[i] >= 'a' && b[i] <= 'z' ? b[i] - 'a' + 'A' : b[i]);
	m->cmd[n] = 0;
	m->cmd_cut = a->cut || a->len > n;
}

/* CLIENT REPLY ON/OFF/SKIP: whether the server answers this command, and
 * the mode for the ones after it. */
static void reply_mode(struct redis_conn *rc, struct sonde_redis_msg *m)
{
	bool client_reply = !strcmp(m->cmd, "CLIENT") && arg_is(m, 1, "reply");
	if (client_reply && arg_is(m, 2, "on")) {
		rc->mode = REPLY_ON;
	} else if (client_reply && arg_is(m, 2, "off")) {
		m->no_reply = true;
		rc->mode = REPLY_OFF;
	} else if (client_reply && arg_is(m, 2, "skip")) {
		m->no_reply = true;
		if (rc->mode == REPLY_ON)
			rc->mode = REPLY_SKIP;
	} else if (rc->mode == REPLY_OFF) {
		m->no_reply = true;
	} else if (rc->mode == REPLY_SKIP) {
		m->no_reply = true;
		rc->mode = REPLY_ON;
	}
}

/* What a command changes in the connection's state, as it is sent. */
static void on_command(struct redis_conn *rc, struct sonde_redis_msg *m)
{
	const char *c = m->cmd;
	int64_t k;
	m->db_known = rc->db_known;
	m->db = rc->db;
	if (rc->in_multi) {
		m->multi = rc->multi;
		if (strcmp(c, "EXEC") && strcmp(c, "DISCARD") && strcmp(c, "MULTI"))
			m->queued = ++rc->queued;
		else if (strcmp(c, "MULTI"))
			rc->in_multi = false;
	} else if (!strcmp(c, "MULTI")) {
		rc->in_multi = true;
		rc->queued = 0;
		m->multi = ++rc->multi;
	}
	const struct sonde_resp_node *a1 = sonde_redis_arg(m, 1);
	if (!strcmp(c, "SELECT") && a1 && sonde_resp_int(&m->v, a1, &k)) {
		rc->db = k; /* undone if the reply is an error */
		rc->db_known = true;
	} else if (!strcmp(c, "HELLO")) {
		m->hello = a1 && sonde_resp_int(&m->v, a1, &k) && k > 0 && k < 10 ? (int)k : 0;
		if (m->hello)
			rc->asked = m->hello;
	} else if (!strcmp(c, "RESET")) {
		rc->db = 0;
		rc->db_known = true;
		rc->mode = REPLY_ON;
		rc->in_multi = false;
		rc->subscribed = false;
	} else if (!strcmp(c, "SUBSCRIBE") || !strcmp(c, "PSUBSCRIBE") ||
		   !strcmp(c, "SSUBSCRIBE")) {
		rc->subscribed = true;
		m->confirms = nargs(m) ? (uint32_t)nargs(m) : 1;
	} else if (strstr(c, "UNSUBSCRIBE") && strlen(c) <= 12) {
		m->confirms = nargs(m) ? (uint32_t)nargs(m) : 1;
	}
	reply_mode(rc, m);
}

/* -------------------------------------------------------------- replies --- */

static bool is_confirmation(const struct sonde_redis_msg *m)
{
	static const char *const kinds[] = { "subscribe",   "psubscribe",   "ssubscribe",
					     "unsubscribe", "punsubscribe", "sunsubscribe" };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (sonde_redis_kind_is(m, kinds[i]))
			return true;
	return false;
}

/* The subscription count an (un)subscribe confirmation ends with. */
static void confirmation_count(struct redis_conn *rc, const struct sonde_redis_msg *m)
{
	uint32_t last = 0;
	uint8_t d = m->v.node[m->top].depth + 1;
	for (uint32_t i = m->top + 1; i < m->v.n; i = sonde_resp_next(&m->v, i))
		if (m->v.node[i].depth == d)
			last = i;
	int64_t k;
	if (last && m->v.node[last].type == SONDE_RESP_INTEGER &&
	    sonde_resp_int(&m->v, &m->v.node[last], &k))
		rc->subscribed = k > 0;
}

/* A confirmation answers the oldest command when it is the (un)subscribe
 * it confirms and that command had no confirmation yet; the others are
 * events. Returns true when it answers. */
static bool confirmation_answers(struct redis_conn *rc, struct sonde_redis_msg *m,
				 const struct sonde_redis_msg *req)
{
	const struct sonde_resp_node *e = &m->v.node[m->top + 1];
	size_t n = e->len < sizeof(rc->confirm_kind) - 1 ? e->len : sizeof(rc->confirm_kind) - 1;
	confirmation_count(rc, m);
	if (rc->confirms_left && sonde_resp_ieq(&m->v, e, rc->confirm_kind)) {
		rc->confirms_left--;
		return false;
	}
	if (!req || !sonde_resp_ieq(&m->v, e, req->cmd))
		return false;
	memcpy(rc->confirm_kind, sonde_resp_bytes(&m->v, e), n);
	rc->confirm_kind[n] = 0;
	rc->confirms_left = req->confirms ? req->confirms - 1 : 0;
	return true;
}

/* Is the reply a pub/sub message or a push rather than an answer? Sets
 * m->event to its kind. */
static bool is_event(struct redis_conn *rc, struct sonde_redis_msg *m,
		     const struct sonde_redis_msg *req)
{
	static const char *const messages[] = { "message", "pmessage", "smessage" };
	uint8_t t = m->v.node[m->top].type;
	bool array = t == SONDE_RESP_ARRAY && !m->v.node[m->top].null &&
		     ((rc->subscribed && !rc->resp3) || !req);
	if (t != SONDE_RESP_PUSH && !array)
		return false;
	if (is_confirmation(m)) {
		if (confirmation_answers(rc, m, req))
			return false;
		m->event = "subscription";
		return true;
	}
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++)
		if (sonde_redis_kind_is(m, messages[i])) {
			m->event = messages[i];
			return true;
		}
	if (t != SONDE_RESP_PUSH)
		return false;
	m->event = "push";
	return true;
}

/* What a reply tells about the connection: HELLO's protocol, SELECT failed. */
static void on_reply(struct redis_conn *rc, const struct sonde_redis_msg *m,
		     const struct sonde_redis_msg *req)
{
	if (!req)
		return;
	bool err = sonde_redis_is_error(m);
	if (req->hello && !err)
		rc->resp3 = req->hello >= 3;
	if (req->hello)
		rc->asked = 0; /* answered: resp3 says */
	if (!strcmp(req->cmd, "SELECT") && err) {
		rc->db = req->db;
		rc->db_known = req->db_known;
	}
	if (!strcmp(req->cmd, "RESET") && !err)
		rc->resp3 = false;
}

/* --------------------------------------------------------------- values --- */

static void finish(struct redis_conn *rc, enum sonde_dir dir, uint32_t flags)
{
	struct redis_dir *d = &rc->d[dir];
	uint64_t seen = d->ps.bytes;
	struct sonde_resp_value v;
	sonde_resp_take(&d->ps, &v);
	if (!v.n) { /* nothing of it was kept: no message */
		sonde_resp_value_free(&v);
		return;
	}
	uint8_t kind = dir == SONDE_DIR_C2S ? SONDE_MSG_REQUEST : SONDE_MSG_RESPONSE;
	struct sonde_redis_msg *m = sonde_redis_msg_new(kind, &v);
	m->base.flags = flags | (m->v.cut ? SONDE_MF_TRUNCATED : 0) | (d->gap ? SONDE_MF_GAP : 0) |
			(m->v.malformed ? SONDE_MF_PARSE_ERROR : 0);
	if (m->v.malformed)
		rc->s->stats->parse_errors++;
	m->base.ts_first = d->ts_first;
	m->base.ts_last = d->ts_last;
	m->base.wire_bytes = seen + d->gap;
	m->base.captured_bytes = seen;
	d->gap = 0;
	d->bad = 0;
	if (kind == SONDE_MSG_REQUEST) {
		command_name(m);
		on_command(rc, m);
		/* what the server answers it in, as far as is known */
		m->base.version = (rc->asked ? rc->asked >= 3 : rc->resp3) ? "RESP3" : "RESP2";
		if (m->no_reply)
			sonde_session_event(rc->s, &m->base);
		else
			sonde_session_request(rc->s, &m->base);
		return;
	}
	while (m->top < m->v.n && m->v.node[m->top].type == SONDE_RESP_ATTR)
		m->top = sonde_resp_next(&m->v, m->top);
	m->base.version = d->ps.resp3 ? "RESP3" : "RESP2";
	const struct sonde_redis_msg *req =
		(const struct sonde_redis_msg *)sonde_session_oldest_request(rc->s);
	if (m->top >= m->v.n || !is_event(rc, m, req)) {
		on_reply(rc, m, req);
		sonde_session_response(rc->s, &m->base);
	} else {
		sonde_session_event(rc->s, &m->base);
	}
}

/* Could a value start at byte c of direction dir? */
static bool plausible(const struct redis_conn *rc, enum sonde_dir dir, uint8_t c)
{
	if (dir == SONDE_DIR_C2S)
		return c == '*';
	return sonde_resp_type_byte(c, rc->d[dir].ps.resp3);
}

/* Skip to the next line that starts like a value; returns the bytes skipped. */
static size_t resync(struct redis_conn *rc, enum sonde_dir dir, const uint8_t *p, size_t n)
{
	struct redis_dir *d = &rc->d[dir];
	size_t i = 0;
	while (i < n) {
		if (d->line_start && plausible(rc, dir, p[i])) {
			d->st = RD_PARSE;
			break;
		}
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		d->line_start = lf != NULL;
		i = lf ? (size_t)(lf - p) + 1 : n;
	}
	rc->s->stats->unparsed_bytes += i;
	return i;
}

/* The reply parser takes RESP3 once HELLO 3 is answered, or from its
 * answer on; a direction joined midstream may be RESP3 all along. */
static void reply_parser_mode(struct redis_conn *rc)
{
	const struct sonde_redis_msg *req =
		(const struct sonde_redis_msg *)sonde_session_oldest_request(rc->s);
	rc->d[SONDE_DIR_S2C].ps.resp3 =
		rc->resp3 || (req && req->hello >= 3) || rc->s->midstream[SONDE_DIR_S2C];
}

/* Bytes that are not RESP: count them, resynchronise, or give up. */
static bool parse_failed(struct redis_conn *rc, enum sonde_dir dir, uint8_t last)
{
	struct redis_dir *d = &rc->d[dir];
	rc->s->stats->parse_errors++;
	rc->s->stats->unparsed_bytes += d->ps.bytes;
	sonde_resp_reset(&d->ps);
	d->gap = 0;
	d->st = RD_RESYNC;
	d->line_start = last == '\n';
	if (++d->bad < HANDBACK_ERRORS)
		return false;
	rc->s->switch_to = "unparsed";
	return true;
}

static size_t redis_data(void *state, enum sonde_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct redis_conn *rc = state;
	struct redis_dir *d = &rc->d[dir];
	size_t off = 0;
	if (rc->s->switch_to)
		return 0;
	while (off < n) {
		if (d->st == RD_DONE) {
			rc->s->stats->unparsed_bytes += n - off;
			return n;
		}
		if (d->st == RD_RESYNC) {
			off += resync(rc, dir, p + off, n - off);
			continue;
		}
		if (sonde_resp_idle(&d->ps)) {
			d->ts_first = ts;
			if (dir == SONDE_DIR_S2C)
				reply_parser_mode(rc);
		}
		size_t used;
		enum sonde_resp_rc r = sonde_resp_feed(&d->ps, p + off, n - off, &used);
		off += used;
		d->ts_last = ts;
		if (r == SONDE_RESP_DONE)
			finish(rc, dir, 0);
		else if (r == SONDE_RESP_BAD && parse_failed(rc, dir, p[off - 1]))
			return off;
	}
	return n;
}

static void redis_gap(void *state, enum sonde_dir dir, uint64_t n, uint64_t ts)
{
	struct redis_conn *rc = state;
	struct redis_dir *d = &rc->d[dir];
	d->ts_last = ts;
	if (d->st != RD_PARSE)
		return;
	if (sonde_resp_skip(&d->ps, n)) {
		d->gap += n;
		return;
	}
	if (!sonde_resp_idle(&d->ps)) {
		d->gap += n;
		finish(rc, dir, SONDE_MF_INCOMPLETE);
	}
	d->st = RD_RESYNC;
	d->line_start = false;
}

static void redis_end(void *state, enum sonde_dir dir, uint64_t ts)
{
	struct redis_conn *rc = state;
	struct redis_dir *d = &rc->d[dir];
	if (d->st == RD_PARSE && !sonde_resp_idle(&d->ps)) {
		d->ts_last = ts;
		finish(rc, dir, SONDE_MF_INCOMPLETE);
	}
	d->st = RD_DONE;
}

static void *redis_open(struct sonde_session *s)
{
	static const struct sonde_resp_limits req = { REQ_NODES, REQ_TEXT, REQ_ITEM };
	struct sonde_resp_limits reply = { REPLY_NODES, REPLY_TEXT, REPLY_ITEM };
	struct redis_conn *rc = sonde_xcalloc(1, sizeof(*rc));
	rc->s = s;
	sonde_session_start(s, &sonde_dissector_redis);
	if (s->opts->body_limit && s->opts->body_limit < reply.text)
		reply.text = (uint32_t)s->opts->body_limit;
	sonde_resp_init(&rc->d[SONDE_DIR_C2S].ps, &req, true);
	sonde_resp_init(&rc->d[SONDE_DIR_S2C].ps, &reply, false);
	for (int dir = 0; dir < 2; dir++) {
		/* a direction joined midstream may start inside a value */
		rc->d[dir].st = s->midstream[dir] ? RD_RESYNC : RD_PARSE;
		rc->d[dir].line_start = true;
	}
	rc->db_known = !s->midstream[SONDE_DIR_C2S];
	return rc;
}

static void redis_close(void *state, uint64_t ts)
{
	struct redis_conn *rc = state;
	for (int dir = 0; dir < 2; dir++)
		redis_end(rc, (enum sonde_dir)dir, ts);
	sonde_session_flush(rc->s);
	for (int dir = 0; dir < 2; dir++)
		sonde_resp_free(&rc->d[dir].ps);
	free(rc);
}

const struct sonde_dissector sonde_dissector_redis = {
	.name = "redis",
	.pairing = SONDE_PAIR_IN_ORDER,
	.probe = sonde_redis_probe,
	.open = redis_open,
	.data = redis_data,
	.gap = redis_gap,
	.end = redis_end,
	.close = redis_close,
};
