/* SPDX-License-Identifier: MIT */
/* sonde read: a capture file through the pipeline. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../core/pipeline.h"
#include "../source/capfile.h"
#include "../source/packet.h"
#include "cli.h"

static const char read_usage[] =
	"Usage: sonde read [OPTIONS] FILE|-\n"
	"\n"
	"Dissect a pcap or pcapng capture into request/response records.\n"
	"FILE '-' reads standard input.\n"
	"\n"
	"Output:\n"
	"  -o, --output FORMAT      text (one line per exchange) or json (JSON Lines,\n"
	"                           docs/records.md); default: text on a terminal,\n"
	"                           json otherwise\n"
	"      --stats              end with counters of everything seen and missed\n"
	"                           (a \"stats\" record in json, a table on stderr in text)\n"
	"Bodies:\n"
	"      --body-limit SIZE    body bytes kept per message (default 64k; 0: none)\n"
	"      --decode-bodies      inflate gzip/deflate bodies (Content-Encoding)\n"
	"      --max-header SIZE    largest message head accepted (default 64k)\n"
	"Limits:\n"
	"      --max-conns N        connections tracked at once (default 262144)\n"
	"      --idle-timeout DUR   close connections idle this long, in capture time\n"
	"                           (default 300s; units ms, s, m, h)\n"
	"      --reasm-mem SIZE     out-of-order bytes buffered in all (default 256m)\n"
	"      --reasm-stream-mem SIZE  ... per connection direction (default 4m)\n"
	"      --max-pending-mem SIZE   requests held waiting for responses, in all\n"
	"                           (default 256m; past it the oldest are written\n"
	"                           unanswered)\n"
	"  -h, --help               show this help\n"
	"\n"
	"Exit status: 0 on success, 1 if the input is damaged or unreadable (records\n"
	"before the damage are still written), 2 on bad usage.\n";

enum {
	OPT_STATS = 256,
	OPT_BODY_LIMIT,
	OPT_DECODE,
	OPT_MAX_HEADER,
	OPT_MAX_CONNS,
	OPT_IDLE,
	OPT_REASM_MEM,
	OPT_REASM_STREAM,
	OPT_PENDING_MEM,
};

static const struct option read_options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "body-limit", required_argument, NULL, OPT_BODY_LIMIT },
	{ "decode-bodies", no_argument, NULL, OPT_DECODE },
	{ "max-header", required_argument, NULL, OPT_MAX_HEADER },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "reasm-mem", required_argument, NULL, OPT_REASM_MEM },
	{ "reasm-stream-mem", required_argument, NULL, OPT_REASM_STREAM },
	{ "max-pending-mem", required_argument, NULL, OPT_PENDING_MEM },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int bad_value(const char *opt, const char *val)
{
	sonde_errorf("read: invalid value '%s' for --%s (see 'sonde read --help')", val, opt);
	return SONDE_EXIT_USAGE;
}

/* Every frame of the file through the pipeline. Returns -1 on damage. */
static int read_frames(struct sonde_capfile *cf, struct sonde_pipeline *p)
{
	struct sonde_frame f;
	struct sonde_chunk c;
	int rc;
	while ((rc = sonde_capfile_next(cf, &f)) > 0) {
		p->stats.frames++;
		p->stats.frame_bytes += f.caplen;
		if (f.caplen < f.wirelen)
			p->stats.frames_truncated++;
		if (!sonde_decode_packet(f.linktype, f.data, f.caplen, f.wirelen, f.ts_ns, &c,
					 &p->stats))
			continue;
		c.origin = SONDE_ORIGIN_PCAP_FILE;
		sonde_pipeline_chunk(p, &c);
	}
	return rc;
}

int sonde_cmd_read(int argc, char **argv)
{
	struct sonde_pipeline_opts opts;
	sonde_pipeline_defaults(&opts);
	int fmt = -1;
	bool stats = false;
	size_t sz;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", read_options, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!strcmp(optarg, "json") || !strcmp(optarg, "jsonl"))
				fmt = SONDE_SINK_JSON;
			else if (!strcmp(optarg, "text"))
				fmt = SONDE_SINK_TEXT;
			else
				return bad_value("output", optarg);
			break;
		case OPT_STATS:
			stats = true;
			break;
		case OPT_BODY_LIMIT:
			if (sonde_parse_size(optarg, &opts.dissect.body_limit) < 0)
				return bad_value("body-limit", optarg);
			break;
		case OPT_DECODE:
			opts.dissect.decode_bodies = 1;
			break;
		case OPT_MAX_HEADER:
			if (sonde_parse_size(optarg, &opts.dissect.max_head) < 0 || opts.dissect.max_head < 64)
				return bad_value("max-header", optarg);
			break;
		case OPT_MAX_CONNS:
			if (sonde_parse_size(optarg, &sz) < 0 || !sz)
				return bad_value("max-conns", optarg);
			opts.conn.max_conns = sz;
			break;
		case OPT_IDLE:
			if (sonde_parse_duration(optarg, &opts.conn.idle_timeout_ns) < 0)
				return bad_value("idle-timeout", optarg);
			break;
		case OPT_REASM_MEM:
			if (sonde_parse_size(optarg, &opts.conn.reasm_mem) < 0)
				return bad_value("reasm-mem", optarg);
			break;
		case OPT_REASM_STREAM:
			if (sonde_parse_size(optarg, &opts.conn.reasm_stream_mem) < 0)
				return bad_value("reasm-stream-mem", optarg);
			break;
		case OPT_PENDING_MEM:
			if (sonde_parse_size(optarg, &opts.dissect.pending_mem) < 0)
				return bad_value("max-pending-mem", optarg);
			break;
		case 'h':
			fputs(read_usage, stdout);
			return SONDE_EXIT_OK;
		default:
			fputs("Try 'sonde read --help'.\n", stderr);
			return SONDE_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		sonde_errorf("read: %s (try 'sonde read --help')",
			     optind >= argc ? "no capture file given" : "one capture file at a time");
		return SONDE_EXIT_USAGE;
	}
	const char *path = argv[optind];
	bool is_stdin = !strcmp(path, "-");
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sonde_errorf("%s: %s", path, strerror(errno));
		return SONDE_EXIT_FAIL;
	}
	const char *name = is_stdin ? "(stdin)" : path;
	opts.conn.source = name;
	if (fmt < 0)
		fmt = isatty(STDOUT_FILENO) ? SONDE_SINK_TEXT : SONDE_SINK_JSON;

	struct sonde_capfile *cf = sonde_capfile_open_fd(fd, name);
	if (!cf) {
		sonde_errorf("out of memory");
		return SONDE_EXIT_FAIL;
	}
	struct sonde_sink *sink = sonde_sink_new(fmt, stdout);
	struct sonde_pipeline p;
	sonde_pipeline_init(&p, &opts, sink);

	int rc = read_frames(cf, &p);
	/* Whatever the input did, write what was parsed before it. */
	sonde_pipeline_finish(&p);
	if (stats)
		sonde_sink_stats(sink, &p.stats);
	int out_rc = sonde_sink_close(sink);
	sonde_pipeline_free(&p);
	int status = SONDE_EXIT_OK;
	if (rc < 0) {
		fflush(stdout);
		sonde_errorf("%s", sonde_capfile_error(cf));
		status = SONDE_EXIT_FAIL;
	}
	if (out_rc < 0) {
		sonde_errorf("writing records: %s", strerror(errno));
		status = SONDE_EXIT_FAIL;
	}
	sonde_capfile_close(cf);
	if (!is_stdin)
		close(fd);
	return status;
}
