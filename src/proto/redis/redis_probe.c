/* SPDX-License-Identifier: MIT */
#include "proto/redis/redis_probe.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/redis/resp.h"

/* Command names, lower case, sorted: what a client's first array must
 * start with to be taken for Redis. */
static const char *const commands[] = {
	"append",
	"asking",
	"auth",
	"bgrewriteaof",
	"bgsave",
	"bitcount",
	"bitfield",
	"bitop",
	"bitpos",
	"blmove",
	"blmpop",
	"blpop",
	"brpop",
	"brpoplpush",
	"bzmpop",
	"bzpopmax",
	"bzpopmin",
	"client",
	"cluster",
	"command",
	"config",
	"copy",
	"dbsize",
	"decr",
	"decrby",
	"del",
	"discard",
	"dump",
	"echo",
	"eval",
	"eval_ro",
	"evalsha",
	"evalsha_ro",
	"exec",
	"exists",
	"expire",
	"expireat",
	"expiretime",
	"fcall",
	"fcall_ro",
	"flushall",
	"flushdb",
	"function",
	"geoadd",
	"geodist",
	"geohash",
	"geopos",
	"georadius",
	"geosearch",
	"get",
	"getbit",
	"getdel",
	"getex",
	"getrange",
	"getset",
	"hdel",
	"hello",
	"hexists",
	"hget",
	"hgetall",
	"hincrby",
	"hincrbyfloat",
	"hkeys",
	"hlen",
	"hmget",
	"hmset",
	"hrandfield",
	"hscan",
	"hset",
	"hsetnx",
	"hstrlen",
	"hvals",
	"incr",
	"incrby",
	"incrbyfloat",
	"info",
	"keys",
	"lastsave",
	"latency",
	"lcs",
	"lindex",
	"linsert",
	"llen",
	"lmove",
	"lmpop",
	"lolwut",
	"lpop",
	"lpos",
	"lpush",
	"lpushx",
	"lrange",
	"lrem",
	"lset",
	"ltrim",
	"memory",
	"mget",
	"migrate",
	"module",
	"monitor",
	"move",
	"mset",
	"msetnx",
	"multi",
	"object",
	"persist",
	"pexpire",
	"pexpireat",
	"pexpiretime",
	"pfadd",
	"pfcount",
	"pfmerge",
	"ping",
	"psetex",
	"psubscribe",
	"psync",
	"pttl",
	"publish",
	"pubsub",
	"punsubscribe",
	"quit",
	"randomkey",
	"readonly",
	"readwrite",
	"rename",
	"renamenx",
	"replconf",
	"replicaof",
	"reset",
	"restore",
	"role",
	"rpop",
	"rpoplpush",
	"rpush",
	"rpushx",
	"sadd",
	"save",
	"scan",
	"scard",
	"script",
	"sdiff",
	"sdiffstore",
	"select",
	"set",
	"setbit",
	"setex",
	"setnx",
	"setrange",
	"shutdown",
	"sinter",
	"sintercard",
	"sinterstore",
	"sismember",
	"slaveof",
	"slowlog",
	"smembers",
	"smismember",
	"smove",
	"sort",
	"sort_ro",
	"spop",
	"spublish",
	"srandmember",
	"srem",
	"sscan",
	"ssubscribe",
	"strlen",
	"subscribe",
	"substr",
	"sunion",
	"sunionstore",
	"sunsubscribe",
	"swapdb",
	"sync",
	"time",
	"touch",
	"ttl",
	"type",
	"unlink",
	"unsubscribe",
	"unwatch",
	"wait",
	"waitaof",
	"watch",
	"xack",
	"xadd",
	"xautoclaim",
	"xclaim",
	"xdel",
	"xgroup",
	"xinfo",
	"xlen",
	"xpending",
	"xrange",
	"xread",
	"xreadgroup",
	"xrevrange",
	"xsetid",
	"xtrim",
	"zadd",
	"zcard",
	"zcount",
	"zdiff",
	"zdiffstore",
	"zincrby",
	"zinter",
	"zintercard",
	"zinterstore",
	"zlexcount",
	"zmpop",
	"zmscore",
	"zpopmax",
	"zpopmin",
	"zrandmember",
	"zrange",
	"zrangebylex",
	"zrangebyscore",
	"zrangestore",
	"zrank",
	"zrem",
	"zremrangebylex",
	"zremrangebyrank",
	"zremrangebyscore",
	"zrevrange",
	"zrevrangebylex",
	"zrevrangebyscore",
	"zrevrank",
	"zscan",
	"zscore",
	"zunion",
	"zunionstore",
};

static int cmd_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static bool known_command(const uint8_t *p, size_t n)
{
	char low[24];
	if (!n || n >= sizeof(low))
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		low[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	low[n] = 0;
	return bsearch(low, commands, sizeof(commands) / sizeof(commands[0]), sizeof(commands[0]),
		       cmd_cmp) != NULL;
}

enum pv {
	PV_BAD = -1,
	PV_MORE = 0,
	PV_OK = 1,
};

/* The line at p[*off] (a type byte, text, CRLF) within max bytes: its text. */
static enum pv probe_line(const uint8_t *p, size_t n, size_t *off, size_t max, const uint8_t **txt,
			  size_t *len)
{
	size_t s = *off + 1;
	for (size_t i = s; i < n && i - s <= max; i++) {
		if (p[i] == '\n')
			return PV_BAD;
		if (p[i] != '\r')
			continue;
		if (i + 1 >= n)
			return PV_MORE;
		if (p[i + 1] != '\n')
			return PV_BAD;
		*txt = p + s;
		*len = i - s;
		*off = i + 2;
		return PV_OK;
	}
	return n - s > max ? PV_BAD : PV_MORE;
}

static bool probe_int(const uint8_t *t, size_t len, int64_t lo, int64_t *out)
{
	int64_t v = 0;
	size_t i = len && t[0] == '-' ? 1 : 0;
	if (i == len || len - i > 12)
		return false;
	for (; i < len; i++) {
		if (t[i] < '0' || t[i] > '9')
			return false;
		v = v * 10 + (t[i] - '0');
	}
	*out = t[0] == '-' ? -v : v;
	return *out >= lo;
}

/* A simple string or error a Redis server would send: printable, and
 * (errors) starting with a word in capitals. */
static bool probe_text(uint8_t type, const uint8_t *t, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (t[i] < 0x20 || t[i] >= 0x7f)
			return false;
	if (type == '+')
		return len && !memchr(t, ' ', len);
	size_t k = 0;
	while (k < len && t[k] >= 'A' && t[k] <= 'Z')
		k++;
	return k >= 2 && (k == len || t[k] == ' ');
}

/* Is p[*off..n) a value a Redis server sends? Looks at its first elements
 * and the first bytes of long payloads only. */
static enum pv probe_value(const uint8_t *p, size_t n, size_t *off, int depth)
{
	if (*off >= n)
		return PV_MORE;
	uint8_t t = p[*off];
	const uint8_t *txt;
	size_t len;
	int64_t k;
	if (!sonde_resp_type_byte(t, true) || depth > 4)
		return PV_BAD;
	enum pv r = probe_line(p, n, off, t == '+' || t == '-' ? 200 : 22, &txt, &len);
	if (r != PV_OK)
		return r;
	switch (t) {
	case '+':
	case '-': return probe_text(t, txt, len) ? PV_OK : PV_BAD;
	case ':':
	case '(': return probe_int(txt, len, INT64_MIN + 1, &k) ? PV_OK : PV_BAD;
	case '_': return len ? PV_BAD : PV_OK;
	case '#': return len == 1 && (txt[0] == 't' || txt[0] == 'f') ? PV_OK : PV_BAD;
	case ',': return len ? PV_OK : PV_BAD;
	}
	if (!probe_int(txt, len, -1, &k) || (k == -1 && t != '$' && t != '*') || k > (1ll << 32))
		return PV_BAD;
	if (t == '$' || t == '!' || t == '=') {
		if (k < 0 || k > 512) /* a long payload: its header is evidence enough */
			return PV_OK;
		if (n - *off < (size_t)k + 2)
			return PV_MORE;
		*off += (size_t)k;
		if (p[*off] != '\r' || p[*off + 1] != '\n')
			return PV_BAD;
		*off += 2;
		return PV_OK;
	}
	uint64_t cnt = k < 0 ? 0 : (uint64_t)k * (t == '%' || t == '|' ? 2 : 1);
	for (uint64_t i = 0; i < cnt && i < 8; i++)
		if ((r = probe_value(p, n, off, depth + 1)) != PV_OK)
			return r;
	return PV_OK;
}

/* A command: an array of bulk strings, the first a known command name.
 * PV_BAD: not one (it may still be a reply). */
static enum pv probe_command(const uint8_t *p, size_t n)
{
	size_t off = 0;
	const uint8_t *txt;
	size_t len;
	int64_t cnt, k;
	enum pv r = probe_line(p, n, &off, 22, &txt, &len);
	if (r != PV_OK || !probe_int(txt, len, 1, &cnt) || cnt > (1 << 20))
		return r == PV_MORE ? PV_MORE : PV_BAD;
	for (int64_t i = 0; i < cnt && i < 8; i++) {
		if (off >= n)
			return PV_MORE;
		if (p[off] != '$')
			return PV_BAD;
		if ((r = probe_line(p, n, &off, 22, &txt, &len)) != PV_OK)
			return r;
		if (!probe_int(txt, len, 0, &k) || (!i && k > 23))
			return PV_BAD;
		if (i && k > 512)
			break; /* a long argument: the name decided */
		if (n - off < (size_t)k + 2)
			return PV_MORE;
		if (!i && !known_command(p + off, (size_t)k))
			return PV_BAD;
		if (p[off + (size_t)k] != '\r' || p[off + (size_t)k + 1] != '\n')
			return PV_BAD;
		off += (size_t)k + 2;
	}
	return PV_OK;
}

/* Does the line at p start with a known command name (then a space or
 * its end), all printable? The line's length, with its LF, in *len (0:
 * it does not end within n bytes). */
static enum sonde_probe inline_line(const uint8_t *p, size_t n, size_t *len)
{
	size_t k = 0;
	*len = 0;
	while (k < n && k < 24 && ((p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'z'))
		k++;
	if (k < n && p[k] != ' ' && p[k] != '\r' && p[k] != '\n')
		return SONDE_PROBE_NO;
	if (k == n || !known_command(p, k))
		return k == n && k < 24 ? SONDE_PROBE_MORE : SONDE_PROBE_NO;
	for (size_t i = k; i < n; i++) {
		if (p[i] == '\n') {
			*len = i + 1;
			break;
		}
		if ((p[i] < 0x20 && p[i] != '\r' && p[i] != '\t') || p[i] == 0x7f)
			return SONDE_PROBE_NO;
	}
	return SONDE_PROBE_MORE;
}

/*
 * Inline commands ("PING\r\n", "set k v\r\n"): a known command name, then
 * printable text. One line is too weak a sign to claim a connection on: it
 * is held (MORE) until the server's side decides. Two whole lines, each a
 * command, are the client's side.
 */
static enum sonde_probe probe_inline(const uint8_t *p, size_t n)
{
	int lines = 0;
	while (n) {
		/* empty lines before a command are skipped by servers too */
		while (n && (p[0] == '\r' || p[0] == '\n')) {
			p++;
			n--;
		}
		if (!n)
			break;
		size_t len;
		enum sonde_probe v = inline_line(p, n, &len);
		if (v == SONDE_PROBE_NO)
			return lines ? SONDE_PROBE_MORE : SONDE_PROBE_NO;
		if (!len)
			break;
		if (++lines == 2)
			return SONDE_PROBE_CLIENT;
		p += len;
		n -= len;
	}
	return lines || n ? SONDE_PROBE_MORE : SONDE_PROBE_NO;
}

enum sonde_probe sonde_redis_probe(const uint8_t *p, size_t n)
{
	if (!n)
		return SONDE_PROBE_MORE;
	if (!sonde_resp_type_byte(p[0], true))
		return probe_inline(p, n);
	if (p[0] == '*') {
		enum pv c = probe_command(p, n);
		if (c == PV_OK)
			return SONDE_PROBE_CLIENT;
		if (c == PV_MORE)
			return SONDE_PROBE_MORE;
	}
	size_t off = 0;
	switch (probe_value(p, n, &off, 0)) {
	case PV_OK: return SONDE_PROBE_SERVER;
	case PV_MORE: return SONDE_PROBE_MORE;
	default: return SONDE_PROBE_NO;
	}
}
