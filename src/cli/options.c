/* SPDX-License-Identifier: MIT */
#include "cli/options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "proto/content/protodesc.h"
#include "query/filter_stage.h"
#include "store/clickhouse.h"
#include "store/raw.h"
#include "store/store_stage.h"
#include "redact/redact_stage.h"
#include "cli/cli.h"

enum {
	OPT_STATS = 1000,
	OPT_BODY_LIMIT,
	OPT_DECODE,
	OPT_MAX_HEADER,
	OPT_MAX_CONNS,
	OPT_IDLE,
	OPT_REASM_MEM,
	OPT_REASM_STREAM,
	OPT_PENDING_MEM,
	OPT_PROTO_DESC,
	OPT_QUOTA,
	OPT_NO_REDACT,
	OPT_REDACT_HEADER,
	OPT_REDACT_FIELD,
	OPT_REDACT_PATTERN,
	OPT_REDACT_RULES,
	OPT_REDACT_KEY,
	OPT_NO_BODIES,
	OPT_PROTO_PORT,
	OPT_NO_NAMES,
	OPT_COLOR,
	OPT_SUMMARY,
	OPT_STORE, /* the embedded store (store/) */
	OPT_STORE_SIZE,
	OPT_STORE_AGE,
	OPT_STORE_RAW,
	OPT_SINK,
	OPT_NODE,
	OPT_CH_SPILL,
	OPT_CH_SPILL_SIZE,
	OPT_CONNECTIONS,
	OPT_NO_CONNECTIONS,
};

const struct option sonde_common_longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "count", required_argument, NULL, 'c' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "line-buffered", no_argument, NULL, 'l' },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "summary", no_argument, NULL, OPT_SUMMARY },
	{ "no-names", no_argument, NULL, OPT_NO_NAMES },
	{ "connections", no_argument, NULL, OPT_CONNECTIONS },
	{ "no-connections", no_argument, NULL, OPT_NO_CONNECTIONS },
	{ "utc", no_argument, NULL, 'u' },
	{ "details", no_argument, NULL, 'V' },
	{ "color", required_argument, NULL, OPT_COLOR },
	{ "colour", required_argument, NULL, OPT_COLOR },
	{ "body-limit", required_argument, NULL, OPT_BODY_LIMIT },
	{ "decode-bodies", no_argument, NULL, OPT_DECODE },
	{ "max-header", required_argument, NULL, OPT_MAX_HEADER },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "reasm-mem", required_argument, NULL, OPT_REASM_MEM },
	{ "reasm-stream-mem", required_argument, NULL, OPT_REASM_STREAM },
	{ "max-pending-mem", required_argument, NULL, OPT_PENDING_MEM },
	{ "proto-descriptor", required_argument, NULL, OPT_PROTO_DESC },
	{ "proto-port", required_argument, NULL, OPT_PROTO_PORT },
	{ "write", required_argument, NULL, 'w' },
	{ "file-size", required_argument, NULL, 'C' },
	{ "file-count", required_argument, NULL, 'W' },
	{ "rotate-every", required_argument, NULL, 'G' },
	{ "record-quota", required_argument, NULL, OPT_QUOTA },
	{ "no-redact", no_argument, NULL, OPT_NO_REDACT },
	{ "redact-header", required_argument, NULL, OPT_REDACT_HEADER },
	{ "redact-field", required_argument, NULL, OPT_REDACT_FIELD },
	{ "redact-pattern", required_argument, NULL, OPT_REDACT_PATTERN },
	{ "redact-rules", required_argument, NULL, OPT_REDACT_RULES },
	{ "redact-key", required_argument, NULL, OPT_REDACT_KEY },
	{ "no-bodies", required_argument, NULL, OPT_NO_BODIES },
	{ "display-filter", required_argument, NULL, 'Y' },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "store-size", required_argument, NULL, OPT_STORE_SIZE },
	{ "store-age", required_argument, NULL, OPT_STORE_AGE },
	{ "store-raw", required_argument, NULL, OPT_STORE_RAW },
	{ "sink", required_argument, NULL, OPT_SINK },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "clickhouse-spill", required_argument, NULL, OPT_CH_SPILL },
	{ "clickhouse-spill-size", required_argument, NULL, OPT_CH_SPILL_SIZE },
	{ NULL, 0, NULL, 0 },
};

const char sonde_common_usage[] =
	"Output:\n"
	"  -o, --output FORMAT      text (one line per exchange) or json (JSON Lines,\n"
	"                           docs/records.md); default: text on a terminal,\n"
	"                           json otherwise; har: the HTTP exchanges as one\n"
	"                           HAR 1.2 log (others skipped, counted); none: no\n"
	"                           records (with -w, --summary or --stats)\n"
	"  -c, --count N            stop after N records\n"
	"  -Y, --display-filter EXPR  only records EXPR matches (docs/filter.md), e.g.\n"
	"                           'protocol == \"http\" && response.status >= 500';\n"
	"                           --stats counts the others (records_filtered)\n"
	"  -q, --quiet              no informational lines on stderr (errors still)\n"
	"  -l, --line-buffered      write each record as soon as it is complete (the\n"
	"                           default on a terminal, for live capture and when\n"
	"                           reading a pipe; else records go out in 256 KiB blocks)\n"
	"      --stats              end with counters of everything seen and missed\n"
	"                           (a \"stats\" record in json, a table on stderr in text)\n"
	"      --summary            end with exchanges per protocol and server: outcomes,\n"
	"                           unanswered, latency p50/p90/p99/max (a \"summary\"\n"
	"                           record in json; with -o none the summary alone)\n"
	"      --no-names           do not name ends by the DNS answers seen (by default\n"
	"                           conn.client/server.name, and the text line's host)\n"
	"      --connections        a \"connection\" record as each TCP connection ends\n"
	"                           and for each failed attempt (refused, timed out):\n"
	"                           handshake, bytes, retransmissions, RTT, who closed\n"
	"                           (the default)\n"
	"      --no-connections     no connection records: exchanges only\n"
	"Text output:\n"
	"  -u, --utc                times in UTC (default: local time)\n"
	"  -V, --details            below each line, every field of the request and the\n"
	"                           response (headers, bodies), like tshark -O\n"
	"      --color WHEN         auto (a terminal, unless NO_COLOR is set), always or\n"
	"                           never: responses coloured by outcome\n"
	"Recording:\n"
	"  -w, --write FILE         also record what was captured to FILE, pcapng (- for\n"
	"                           stdout; then no records unless -o names a format):\n"
	"                           packets as they were, streams of the eBPF source and\n"
	"                           TLS plaintext as TCP/IP packets Wireshark reassembles\n"
	"                           (-o none: only the recording)\n"
	"  -C, --file-size SIZE     start a new file past SIZE (FILE, FILE1, FILE2...)\n"
	"  -W, --file-count N       with -C: keep N files, reusing the oldest\n"
	"  -G, --rotate-every DUR   start a new file every DUR (strftime % in FILE)\n"
	"      --record-quota SIZE  all recorded files together at most SIZE, oldest\n"
	"                           deleted first\n"
	"Secrets (docs/security.md; masked in every output by default):\n"
	"      --redact-header NAME mask this header's value too (any case; repeatable)\n"
	"      --redact-field PATH  mask this body field / URL parameter too (JSON\n"
	"                           members and form fields by name; a.b: every b)\n"
	"      --redact-pattern RE  mask what this POSIX extended regex matches in\n"
	"                           header values and bodies (group 1 if it has one)\n"
	"      --redact-rules FILE  rules from FILE (header, field, pattern, key lines)\n"
	"      --redact-key KEY     key of the masks' hashes (default: random per run),\n"
	"                           so equal secrets hash equal across runs\n"
	"      --no-redact          write secrets as captured (loud: said on stderr,\n"
	"                           every record flagged \"unredacted\")\n"
	"Bodies:\n"
	"      --body-limit SIZE    body bytes kept per message (default 64k; 0: none)\n"
	"      --no-bodies PROTO    keep no bodies of these protocols, headers only:\n"
	"                           http (http1 and http2, gRPC's messages too),\n"
	"                           http1, http2, all; a list\n"
	"      --decode-bodies      inflate gzip/deflate bodies (Content-Encoding)\n"
	"      --max-header SIZE    largest message head accepted (default 64k)\n"
	"      --proto-descriptor FILE  decode gRPC messages with field names and types\n"
	"                           from FILE, a FileDescriptorSet (protoc\n"
	"                           --include_imports --descriptor_set_out=FILE)\n"
	"Protocols:\n"
	"      --proto-port NAME=PORT  dissect connections to PORT as NAME without\n"
	"                           probing (http1, http2, tls, redis, dns, kafka...;\n"
	"                           repeat for more, 16 at most); ports are only hints\n"
	"                           otherwise\n"
	"Store (docs/store.md):\n"
	"      --store DIR          keep every record in the store in DIR too (made if\n"
	"                           absent), for sonde query\n"
	"      --store-size SIZE    the store's bound, oldest deleted first (default 1g)\n"
	"      --store-age DUR      delete stored records older than this (default: none;\n"
	"                           ClickHouse: its day partitions wholly older)\n"
	"      --store-raw SIZE     keep the captured bytes in the store too, within SIZE\n"
	"                           (oldest deleted first), for sonde query --redissect\n"
	"      --sink clickhouse=URL  insert every record into ClickHouse too, over its\n"
	"                           HTTP interface: http://HOST:8123/DB\n"
	"      --node NAME          this sonde's name in ClickHouse (default: hostname)\n"
	"      --clickhouse-spill DIR  batches ClickHouse cannot take wait in DIR and\n"
	"                           are sent, in order, when it is back (default:\n"
	"                           --store's DIR/clickhouse-spill; none without --store)\n"
	"      --clickhouse-spill-size SIZE  the spill's bound, oldest deleted and\n"
	"                           counted first (default 256m)\n"
	"Limits:\n"
	"      --max-conns N        connections tracked at once (default 262144)\n"
	"      --idle-timeout DUR   close connections idle this long\n"
	"                           (default 300s; units ns, us, ms, s, m, h)\n"
	"      --reasm-mem SIZE     out-of-order bytes buffered in all (default 256m)\n"
	"      --reasm-stream-mem SIZE  ... per connection direction (default 4m)\n"
	"      --max-pending-mem SIZE   requests held waiting for responses, in all\n"
	"                           (default 256m; past it the oldest are written\n"
	"                           unanswered)\n";

/* -Y EXPR: compiled now, so a bad one is a usage error pointing at the
 * column. */
static int filter_option(struct sonde_common_opts *o, const char *arg, const char *cmd)
{
	struct sonde_filter_error err;
	struct sonde_filter *f = sonde_filter_compile(arg, &err);
	if (!f) {
		sonde_errorf("%s: -Y: column %zu: %s\n  %s\n  %*s", cmd, err.column, err.message,
			     arg, (int)err.column, "^");
		return -1;
	}
	sonde_filter_free(o->filter);
	o->filter = f;
	return 1;
}

void sonde_common_filter(struct sonde_common_opts *o, struct sonde_run *run)
{
	if (!o->filter)
		return;
	sonde_run_add_stage(run, &sonde_filter_stage,
			    sonde_filter_stage_new(o->filter, &run->pipe.stats));
	o->filter = NULL;
}

void sonde_common_defaults(struct sonde_common_opts *o)
{
	memset(o, 0, sizeof(*o));
	sonde_pipeline_defaults(&o->pipe);
	sonde_redactor_init(&o->redact);
	o->pipe.conn.connections = true; /* connection records unless --no-connections */
	o->format = -1;
	o->colour = -1;
}

/* --no-bodies LIST: the dissectors with bodies (http1, http2), http (both)
 * or all; repeated options add to the list. */
static int no_bodies_option(struct sonde_dissect_opts *d, const char *arg, const char *cmd)
{
	for (const char *p = arg; *p || p == arg;) {
		size_t k = strcspn(p, ",");
		char name[32];
		snprintf(name, sizeof(name), "%.*s", (int)(k < 31 ? k : 31), p);
		if (!k || k > 31 ||
		    (strcmp(name, "http") && strcmp(name, "all") && strcmp(name, "http1") &&
		     strcmp(name, "http2")))
			return sonde_bad_value(cmd, "no-bodies", arg, "http, http1, http2 or all");
		p += k + (p[k] == ',');
		if (!*p)
			break;
	}
	size_t used = strlen(d->no_bodies);
	if (used + strlen(arg) + 2 > sizeof(d->no_bodies))
		return sonde_bad_value(cmd, "no-bodies", arg, "too long a list");
	snprintf(d->no_bodies + used, sizeof(d->no_bodies) - used, "%s%s", used ? "," : "", arg);
	return 1;
}

/* --redact-*: a rule, or the message saying why not. */
static int redact_option(struct sonde_common_opts *o, int c, const char *arg, const char *cmd)
{
	char err[256] = "";
	int rc = 0;
	const char *opt = "redact-rules";
	switch (c) {
	case OPT_REDACT_HEADER:
		opt = "redact-header";
		rc = sonde_redactor_add_header(&o->redact, arg, SONDE_REDACT_HDR_WHOLE, err,
					       sizeof(err));
		break;
	case OPT_REDACT_FIELD:
		opt = "redact-field";
		rc = sonde_redactor_add_field(&o->redact, arg, false, err, sizeof(err));
		break;
	case OPT_REDACT_PATTERN:
		opt = "redact-pattern";
		rc = sonde_redactor_add_pattern(&o->redact, arg, err, sizeof(err));
		break;
	case OPT_REDACT_KEY:
		if (!*arg)
			return sonde_bad_value(cmd, "redact-key", arg, "a non-empty key");
		sonde_redactor_set_key(&o->redact, arg, strlen(arg));
		return 1;
	default:
		if (sonde_redactor_load(&o->redact, arg, err, sizeof(err)) < 0) {
			sonde_errorf("%s: --redact-rules %s", cmd, err);
			return -1;
		}
		return 1;
	}
	return rc < 0 ? sonde_bad_value(cmd, opt, arg, err) : 1;
}

int sonde_common_store(struct sonde_common_opts *o, struct sonde_run *run)
{
	char err[512];
	if (o->store.dir) {
		void *st = sonde_store_stage_new(&o->store, &run->pipe.stats, err, sizeof(err));
		if (!st) {
			sonde_errorf("store: %s", err);
			return -1;
		}
		sonde_run_add_stage(run, &sonde_store_stage, st);
	}
	if (o->clickhouse) {
		char host[128] = "";
		gethostname(host, sizeof(host) - 1);
		char spill[4096] = "";
		if (o->ch_spill)
			snprintf(spill, sizeof(spill), "%s", o->ch_spill);
		else if (o->store.dir) /* the store's disk holds what ClickHouse misses */
			snprintf(spill, sizeof(spill), "%s/clickhouse-spill", o->store.dir);
		struct sonde_clickhouse_opts cho = {
			.url = o->clickhouse,
			.node = o->node ? o->node : host,
			.max_age_ns = o->store.max_age_ns,
			.spill_dir = spill[0] ? spill : NULL,
			.spill_quota = o->ch_spill_size ? o->ch_spill_size : 256u << 20,
		};
		void *ch = sonde_clickhouse_stage_new(&cho, &run->pipe.stats, err, sizeof(err));
		if (!ch) {
			sonde_errorf("clickhouse: %s", err);
			return -1;
		}
		sonde_run_add_stage(run, &sonde_clickhouse_stage, ch);
	}
	return 0;
}

void sonde_common_redact(struct sonde_common_opts *o, struct sonde_run *run)
{
	if (o->no_redact) {
		/* Loud on purpose, -q or not: secrets are about to be written. */
		fprintf(stderr, "sonde: WARNING: --no-redact: passwords, tokens and cookies are "
				"written as captured; every record is flagged \"unredacted\"\n");
		sonde_run_add_stage(run, &sonde_unredacted_stage, &run->pipe.stats);
		return;
	}
	sonde_run_add_stage(run, &sonde_redact_stage,
			    sonde_redact_stage_new(&o->redact, &run->pipe.stats));
}

struct sonde_redact_stream *sonde_common_record_mask(const struct sonde_common_opts *o,
						     bool packets)
{
	if (!o->rec.path || o->no_redact)
		return NULL;
	if (packets && !o->quiet)
		fprintf(stderr,
			"sonde: %s: packets are recorded as the wire carried them, like "
			"tcpdump's: cleartext secrets in them are not masked (records are; "
			"docs/security.md)\n",
			o->store_raw ? "--store-raw" : "-w");
	return sonde_redact_stream_new(&o->redact);
}

int sonde_bad_value(const char *cmd, const char *opt, const char *val, const char *why)
{
	if (why)
		sonde_errorf("%s: invalid value '%s' for --%s: %s (see 'sonde %s --help')", cmd,
			     val, opt, why, cmd);
	else
		sonde_errorf("%s: invalid value '%s' for --%s (see 'sonde %s --help')", cmd, val,
			     opt, cmd);
	return -1;
}

/* A size option: parsed into *out, or a message saying why not. */
static int size_opt(const char *cmd, const char *opt, const char *arg, size_t *out)
{
	const char *why;
	return sonde_parse_size(arg, out, &why) < 0 ? sonde_bad_value(cmd, opt, arg, why) : 1;
}

/* --proto-port NAME=PORT: a forced hint (the name is the dissector's own, static). */
static int proto_port_opt(struct sonde_common_opts *o, const char *cmd, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[32];
	if (!eq || (size_t)(eq - arg) >= sizeof(name))
		return sonde_bad_value(cmd, "proto-port", arg, "NAME=PORT, e.g. kafka=19092");
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = 0;
	const struct sonde_dissector *d = sonde_dissector_find(name);
	if (!d)
		return sonde_bad_value(cmd, "proto-port", arg, "no dissector of that name");
	char *end;
	errno = 0;
	unsigned long port = strtoul(eq + 1, &end, 10);
	if (!eq[1] || *end || errno || !port || port > 65535)
		return sonde_bad_value(cmd, "proto-port", arg, "a port from 1 to 65535");
	if (o->nproto_ports >= SONDE_PROTO_PORTS_MAX)
		return sonde_bad_value(cmd, "proto-port", arg, "16 at most");
	o->proto_ports[o->nproto_ports++] =
		(struct sonde_port_hint){ (uint16_t)port, d->name, true };
	o->pipe.conn.port_hints = o->proto_ports;
	return 1;
}

/* -w and its rotation: the recording. 0 if c is none of them. */
static int recording_option(struct sonde_common_opts *o, int c, const char *arg, const char *cmd)
{
	size_t sz;
	const char *why;
	switch (c) {
	case 'w':
		if (!*arg)
			return sonde_bad_value(cmd, "write", arg, "a file name, or - for stdout");
		o->rec.path = arg;
		return 1;
	case 'C':
		if (size_opt(cmd, "file-size", arg, &sz) < 0)
			return -1;
		if (!sz)
			return sonde_bad_value(cmd, "file-size", arg, "at least one byte");
		o->rec.rotate_bytes = sz;
		return 1;
	case 'W': {
		char *end;
		errno = 0;
		unsigned long n = strtoul(arg, &end, 10);
		if (!*arg || *end || errno || !n || n > 100000 || *arg == '-')
			return sonde_bad_value(cmd, "file-count", arg,
					       "a number of files, 1 to 100000");
		o->rec.max_files = (uint32_t)n;
		return 1;
	}
	case 'G':
		if (sonde_parse_duration(arg, &o->rec.rotate_ns, &why) < 0)
			return sonde_bad_value(cmd, "rotate-every", arg, why);
		if (o->rec.rotate_ns < 1000000000ull)
			return sonde_bad_value(cmd, "rotate-every", arg, "at least one second");
		return 1;
	case OPT_QUOTA:
		if (size_opt(cmd, "record-quota", arg, &sz) < 0)
			return -1;
		o->rec.quota_bytes = sz;
		return 1;
	default: return 0;
	}
}

/* What the records are and how they are shown: -o, -c, text options,
 * stats. 0 if c is none of them. */
static int output_option(struct sonde_common_opts *o, int c, const char *arg, const char *cmd)
{
	switch (c) {
	case 'o':
		if (!strcmp(arg, "json") || !strcmp(arg, "jsonl"))
			o->format = SONDE_SINK_JSON;
		else if (!strcmp(arg, "text"))
			o->format = SONDE_SINK_TEXT;
		else if (!strcmp(arg, "har"))
			o->format = SONDE_SINK_HAR;
		else if (!strcmp(arg, "none"))
			o->no_records = true;
		else
			return sonde_bad_value(cmd, "output", arg,
					       "text, json, har or none (with -w)");
		if (strcmp(arg, "none"))
			o->no_records = false;
		return 1;
	case 'c': {
		char *end;
		if (!*arg || *arg == '-')
			return sonde_bad_value(cmd, "count", arg,
					       "a number of records, at least 1");
		errno = 0;
		unsigned long long n = strtoull(arg, &end, 10);
		if (*end || errno || !n)
			return sonde_bad_value(cmd, "count", arg,
					       "a number of records, at least 1");
		o->count = n;
		return 1;
	}
	case 'l': o->line_buffered = true; return 1;
	case 'q': o->quiet = true; return 1;
	case OPT_STATS: o->stats = true; return 1;
	case OPT_SUMMARY: o->summary = true; return 1;
	case OPT_NO_NAMES: o->no_names = true; return 1;
	case OPT_CONNECTIONS: o->pipe.conn.connections = true; return 1;
	case OPT_NO_CONNECTIONS: o->pipe.conn.connections = false; return 1;
	case 'u': o->text.utc = true; return 1;
	case 'V': o->text.details = true; return 1;
	case OPT_COLOR:
		if (!strcmp(arg, "auto"))
			o->colour = -1;
		else if (!strcmp(arg, "always"))
			o->colour = 1;
		else if (!strcmp(arg, "never"))
			o->colour = 0;
		else
			return sonde_bad_value(cmd, "color", arg, "auto, always or never");
		return 1;
	default: return 0;
	}
}

/* The bounds of the pipeline: bodies, headers, connections, memory. 0 if
 * c is none of them. */
static int limit_option(struct sonde_pipeline_opts *p, int c, const char *arg, const char *cmd)
{
	size_t sz;
	const char *why;
	switch (c) {
	case OPT_BODY_LIMIT: return size_opt(cmd, "body-limit", arg, &p->dissect.body_limit);
	case OPT_DECODE: p->dissect.decode_bodies = 1; return 1;
	case OPT_MAX_HEADER:
		if (size_opt(cmd, "max-header", arg, &p->dissect.max_head) < 0)
			return -1;
		if (p->dissect.max_head < 64)
			return sonde_bad_value(cmd, "max-header", arg, "at least 64 bytes");
		return 1;
	case OPT_MAX_CONNS:
		if (size_opt(cmd, "max-conns", arg, &sz) < 0)
			return -1;
		if (!sz)
			return sonde_bad_value(cmd, "max-conns", arg, "at least 1");
		p->conn.max_conns = sz;
		return 1;
	case OPT_IDLE:
		return sonde_parse_duration(arg, &p->conn.idle_timeout_ns, &why) < 0
			       ? sonde_bad_value(cmd, "idle-timeout", arg, why)
			       : 1;
	case OPT_REASM_MEM: return size_opt(cmd, "reasm-mem", arg, &p->conn.reasm_mem);
	case OPT_REASM_STREAM:
		return size_opt(cmd, "reasm-stream-mem", arg, &p->conn.reasm_stream_mem);
	case OPT_PENDING_MEM: return size_opt(cmd, "max-pending-mem", arg, &p->dissect.pending_mem);
	default: return 0;
	}
}

/* The store and the sinks past stdout. 0 if c is none of them. */
static int store_option(struct sonde_common_opts *o, int c, const char *arg, const char *cmd)
{
	size_t sz;
	const char *why;
	switch (c) {
	case OPT_STORE: o->store.dir = arg; return 1;
	case OPT_SINK:
		if (strncmp(arg, "clickhouse=", 11))
			return sonde_bad_value(cmd, "sink", arg, "clickhouse=http://HOST:PORT/DB");
		o->clickhouse = arg + 11;
		return 1;
	case OPT_CH_SPILL:
		if (!*arg)
			return sonde_bad_value(cmd, "clickhouse-spill", arg, "a directory");
		o->ch_spill = arg;
		return 1;
	case OPT_CH_SPILL_SIZE:
		if (size_opt(cmd, "clickhouse-spill-size", arg, &sz) < 0)
			return -1;
		if (sz < (64u << 10))
			return sonde_bad_value(cmd, "clickhouse-spill-size", arg, "at least 64k");
		o->ch_spill_size = sz;
		return 1;
	case OPT_NODE:
		if (!*arg || strlen(arg) > 100)
			return sonde_bad_value(cmd, "node", arg, "a name of 1 to 100 characters");
		o->node = arg;
		return 1;
	case OPT_STORE_SIZE:
		if (size_opt(cmd, "store-size", arg, &sz) < 0)
			return -1;
		if (sz < (1u << 20))
			return sonde_bad_value(cmd, "store-size", arg, "at least 1m");
		o->store.max_bytes = sz;
		return 1;
	case OPT_STORE_RAW:
		if (size_opt(cmd, "store-raw", arg, &sz) < 0)
			return -1;
		if (sz < (1u << 20))
			return sonde_bad_value(cmd, "store-raw", arg, "at least 1m");
		o->store_raw = sz;
		return 1;
	case OPT_STORE_AGE:
		return sonde_parse_duration(arg, &o->store.max_age_ns, &why) < 0
			       ? sonde_bad_value(cmd, "store-age", arg, why)
			       : 1;
	default: return 0;
	}
}

int sonde_common_option(struct sonde_common_opts *o, int c, const char *arg, const char *cmd)
{
	struct sonde_pipeline_opts *p = &o->pipe;
	int rc = recording_option(o, c, arg, cmd);
	if (!rc)
		rc = output_option(o, c, arg, cmd);
	if (!rc)
		rc = limit_option(p, c, arg, cmd);
	if (!rc)
		rc = store_option(o, c, arg, cmd);
	if (rc)
		return rc;
	switch (c) {
	case OPT_NO_REDACT: o->no_redact = true; return 1;
	case OPT_NO_BODIES: return no_bodies_option(&p->dissect, arg, cmd);
	case OPT_REDACT_HEADER:
	case OPT_REDACT_FIELD:
	case OPT_REDACT_PATTERN:
	case OPT_REDACT_RULES:
	case OPT_REDACT_KEY: return redact_option(o, c, arg, cmd);
	case OPT_PROTO_PORT: return proto_port_opt(o, cmd, arg);
	case 'Y': return filter_option(o, arg, cmd);
	case OPT_PROTO_DESC: {
		char err[256];
		struct sonde_protodesc *d = sonde_protodesc_load(arg, err, sizeof(err));
		if (!d) {
			sonde_errorf("%s: --proto-descriptor %s: %s", cmd, arg, err);
			return -1;
		}
		sonde_protodesc_free((struct sonde_protodesc *)p->dissect.proto_desc);
		p->dissect.proto_desc = d;
		return 1;
	}
	default: return 0;
	}
}

void sonde_common_free(struct sonde_common_opts *o)
{
	sonde_protodesc_free((struct sonde_protodesc *)o->pipe.dissect.proto_desc);
	o->pipe.dissect.proto_desc = NULL;
	sonde_redactor_free(&o->redact);
	sonde_filter_free(o->filter);
	o->filter = NULL;
	free(o->store_raw_path);
	o->store_raw_path = NULL;
}

struct option *sonde_options_join(const struct option *a, const struct option *b)
{
	size_t na = 0, nb = 0;
	while (a[na].name)
		na++;
	while (b[nb].name)
		nb++;
	struct option *o = sonde_xcalloc(na + nb + 1, sizeof(*o));
	memcpy(o, a, na * sizeof(*o));
	memcpy(o + na, b, nb * sizeof(*o));
	return o;
}

/* --store-raw: the recording goes into the store's directory, within its
 * quota (store/raw.h). 0, or the exit status after a message. */
static int store_raw_record(struct sonde_common_opts *o, const char *cmd)
{
	if (!o->store_raw)
		return 0;
	if (!o->store.dir || o->rec.path || o->rec.rotate_bytes || o->rec.rotate_ns ||
	    o->rec.max_files || o->rec.quota_bytes) {
		sonde_errorf("%s: --store-raw records into --store DIR (and without -w and its "
			     "rotation)",
			     cmd);
		return SONDE_EXIT_USAGE;
	}
	char err[512];
	struct sonde_store_raw_prep prep;
	size_t len = strlen(o->store.dir) + 64;
	o->store_raw_path = sonde_xcalloc(1, len);
	if (sonde_store_raw_prepare(o->store.dir, o->store_raw, &o->rec, o->store_raw_path, len,
				    &prep, err, sizeof(err)) < 0) {
		sonde_errorf("%s: --store-raw: %s", cmd, err);
		return SONDE_EXIT_FAIL;
	}
	if (prep.deleted_files && !o->quiet)
		fprintf(stderr,
			"sonde: --store-raw: %zu raw files of earlier runs deleted (oldest first) "
			"to keep within the quota\n",
			prep.deleted_files);
	return 0;
}

struct sonde_pcapng *sonde_common_record(struct sonde_common_opts *o, const char *cmd, int *status)
{
	*status = store_raw_record(o, cmd);
	if (*status)
		return NULL;
	const char *need = o->rec.rotate_bytes  ? "-C"
			   : o->rec.max_files   ? "-W"
			   : o->rec.rotate_ns   ? "-G"
			   : o->rec.quota_bytes ? "--record-quota"
						: NULL;
	if (!o->rec.path) {
		/* -o none --stats: only the counts (with -Y, of what matched) */
		if (need || (o->no_records && !o->summary && !o->stats && !o->store.dir &&
			     !o->clickhouse)) {
			sonde_errorf("%s: %s goes with -w FILE (or --summary, --stats, --store)",
				     cmd, need ? need : "-o none");
			*status = SONDE_EXIT_USAGE;
		}
		return NULL;
	}
	if (!strcmp(o->rec.path, "-") && need) {
		sonde_errorf("%s: %s rotates files; -w - writes to stdout", cmd, need);
		*status = SONDE_EXIT_USAGE;
		return NULL;
	}
	if (o->rec.max_files && !o->rec.rotate_bytes && !o->rec.rotate_ns) {
		sonde_errorf("%s: -W keeps N files of -C or -G rotation; give one of them", cmd);
		*status = SONDE_EXIT_USAGE;
		return NULL;
	}
	if (!strcmp(o->rec.path, "-") && o->format >= 0 && !o->no_records) {
		sonde_errorf("%s: -w - writes the recording to stdout; records cannot go there too "
			     "(-o none, or -w FILE)",
			     cmd);
		*status = SONDE_EXIT_USAGE;
		return NULL;
	}
	char err[512];
	struct sonde_pcapng *w = sonde_pcapng_open(&o->rec, err, sizeof(err));
	if (!w) {
		sonde_errorf("%s: -w %s: %s", cmd, o->rec.path, err);
		*status = SONDE_EXIT_FAIL;
	}
	return w;
}

int sonde_common_record_close(struct sonde_pcapng *w, const char *cmd)
{
	if (!w)
		return 0;
	if (sonde_pcapng_close(w) < 0 && errno != EPIPE) {
		sonde_errorf("%s: recording: %s", cmd, strerror(errno));
		return -1;
	}
	return 0;
}

struct sonde_sink *sonde_common_sink(struct sonde_common_opts *o, bool immediate)
{
	bool none = o->no_records || (o->rec.path && !strcmp(o->rec.path, "-"));
	if (o->format < 0)
		o->format = isatty(STDOUT_FILENO) ? SONDE_SINK_TEXT : SONDE_SINK_JSON;
	/* No records: the closing stats, if asked for, still go to stderr. */
	/* -o none --summary: the summary is the output (unless -w - holds stdout). */
	bool rec_stdout = o->rec.path && !strcmp(o->rec.path, "-");
	FILE *out = none && !(o->summary && !rec_stdout) ? stderr : stdout;
	struct sonde_sink *s = sonde_sink_new(none ? SONDE_SINK_TEXT : o->format, out);
	sonde_sink_set_records(s, !none);
	sonde_sink_set_limit(s, o->count);
	sonde_sink_set_stats(s, o->stats);
	sonde_sink_set_summary(s, o->summary);
	sonde_sink_set_immediate(s, immediate || o->line_buffered || isatty(STDOUT_FILENO));
	struct sonde_text_opts to = o->text;
	const char *term = getenv("TERM");
	to.colour = o->colour > 0 || (o->colour < 0 && isatty(STDOUT_FILENO) &&
				      !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb")));
	sonde_sink_set_text(s, &to);
	sonde_sink_set_har(s, sonde_version(), o->quiet);
	return s;
}
