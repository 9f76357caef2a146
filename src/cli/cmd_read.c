/* SPDX-License-Identifier: MIT */
/* sonde read: a capture file through the pipeline (argv → a run). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/privs.h"
#include "app/run.h"
#include "core/buf.h"
#include "enrich/names.h"
#include "proto/tls/keylog.h"
#include "sink/follow.h"
#include "sink/sink.h"
#include "source/file/file_source.h"
#include "cli/cli.h"
#include "cli/options.h"

static const char read_head[] =
	"Usage: sonde read [OPTIONS] FILE|-\n"
	"\n"
	"Dissect a pcap or pcapng capture into request/response records. Compressed\n"
	"captures (gzip, zstd: .pcap.gz, .pcapng.zst) are read as they are.\n"
	"FILE '-' reads standard input. Times (idle timeout, latency) are capture time.\n"
	"\n";
static const char read_tail[] =
	"TLS:\n"
	"      --tls-keylog FILE    decrypt TLS 1.2 and 1.3 connections with the secrets\n"
	"                           of an NSS key log (SSLKEYLOGFILE, as Wireshark reads)\n"
	"      --record-keylog      with -w: write the key log's secrets into the\n"
	"                           recording (a pcapng Decryption Secrets Block) so\n"
	"                           Wireshark and tshark decrypt it alone; the file then\n"
	"                           holds secrets (never written unless asked)\n"
	"Following:\n"
	"      --follow ID          instead of records, the conversation of connection\n"
	"                           ID (conn.id in the records): each side's bytes in\n"
	"                           order, and what was not captured, like tshark's\n"
	"                           follow-stream\n"
	"  -h, --help               show this help\n"
	"\n"
	"Exit status: 0 on success, 1 if the input is damaged or unreadable (records\n"
	"before the damage are still written), 2 on bad usage.\n";

enum { OPT_FOLLOW = 2000, OPT_TLS_KEYLOG, OPT_RECORD_KEYLOG };

static const struct option read_only[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "follow", required_argument, NULL, OPT_FOLLOW },
	{ "tls-keylog", required_argument, NULL, OPT_TLS_KEYLOG },
	{ "record-keylog", no_argument, NULL, OPT_RECORD_KEYLOG },
	{ NULL, 0, NULL, 0 },
};

/* argv → *co and the capture's path. Returns -1 to go on, else the exit
 * status. */
/* --tls-keylog FILE: read now, so a bad file is a usage error before any
 * output; never quoted in messages (it is a secret). */
static int load_keylog(struct sonde_common_opts *co, const char *path)
{
	char err[512];
	sonde_keylog_free((struct sonde_keylog *)co->pipe.conn.tls_keylog);
	co->pipe.conn.tls_keylog = sonde_keylog_load(path, err, sizeof(err));
	if (co->pipe.conn.tls_keylog)
		return 0;
	sonde_errorf("read: --tls-keylog %s", err);
	return -1;
}

/* What read adds to the common options. */
struct read_opts {
	const char *path;
	uint64_t follow;
	bool record_keylog;
};

static int parse_args(int argc, char **argv, struct sonde_common_opts *co, struct read_opts *ro)
{
	struct option *longopts = sonde_options_join(sonde_common_longopts, read_only);
	int c, status = -1;
	optind = 1;
	while (status < 0 &&
	       (c = getopt_long(argc, argv, SONDE_COMMON_SHORTOPTS "h", longopts, NULL)) != -1) {
		int r = sonde_common_option(co, c, optarg, "read");
		if (r < 0) {
			status = SONDE_EXIT_USAGE;
		} else if (r == 0 && c == OPT_FOLLOW) {
			char *end;
			errno = 0;
			unsigned long long id = strtoull(optarg, &end, 10);
			if (*end || errno || !id || optarg[0] == '-') {
				sonde_errorf("read: invalid value '%s' for --follow: a connection "
					     "id, conn.id in the records (1, 2, ...)",
					     optarg);
				status = SONDE_EXIT_USAGE;
			}
			ro->follow = id;
		} else if (r == 0 && c == OPT_RECORD_KEYLOG) {
			ro->record_keylog = true;
		} else if (r == 0 && c == OPT_TLS_KEYLOG) {
			if (load_keylog(co, optarg) < 0)
				status = SONDE_EXIT_USAGE;
		} else if (r == 0 && c == 'h') {
			printf("%s%s%s", read_head, sonde_common_usage, read_tail);
			status = SONDE_EXIT_OK;
		} else if (r == 0) {
			fputs("Try 'sonde read --help'.\n", stderr);
			status = SONDE_EXIT_USAGE;
		}
	}
	free(longopts);
	if (status < 0 && optind != argc - 1) {
		sonde_errorf("read: %s (try 'sonde read --help')",
			     optind >= argc ? "no capture file given"
					    : "one capture file at a time");
		status = SONDE_EXIT_USAGE;
	}
	if (status < 0 && ro->record_keylog && (!co->rec.path || !co->pipe.conn.tls_keylog)) {
		sonde_errorf("read: --record-keylog writes the --tls-keylog secrets into the -w "
			     "recording; give both");
		status = SONDE_EXIT_USAGE;
	}
	if (status < 0)
		ro->path = argv[optind];
	return status;
}

/* --record-keylog: the secrets into the recording, as one DSB. */
static int record_keylog(struct sonde_pcapng *rec, const struct sonde_keylog *kl)
{
	struct sonde_buf text = { 0 };
	sonde_keylog_text(kl, &text);
	int rc = sonde_pcapng_secrets(rec, SONDE_PCAPNG_SECRETS_TLS, text.p, text.len);
	explicit_bzero(text.p, text.cap);
	sonde_buf_free(&text);
	if (rc < 0)
		sonde_errorf("read: -w: %s", sonde_pcapng_error(rec));
	return rc;
}

/* --follow ID: the conversation instead of the records, its bytes masked
 * like everything else (the stats are the run's: what it overwrote is not
 * counted). Sets *fw and *fmask, NULL without --follow. */
static void follow_open(struct sonde_common_opts *co, uint64_t follow, struct sonde_follower **fw,
			struct sonde_redact_follow **fmask)
{
	*fw = follow ? sonde_follower_new(follow, stdout) : NULL;
	*fmask = *fw ? sonde_redact_follow_new(co->no_redact ? NULL : &co->redact,
					       sonde_follower_out(*fw), NULL)
		     : NULL;
	if (!*fw)
		return;
	co->pipe.conn.follow = *fmask ? sonde_redact_follow_out(*fmask) : sonde_follower_out(*fw);
	co->pipe.conn.follow_id = follow;
	if (co->no_redact)
		fprintf(stderr, "sonde: WARNING: --no-redact: the conversation is written as "
				"captured\n");
}

/* The run's stages (store, sink, masking, filter, names) and its file
 * source. Returns SONDE_EXIT_FAIL if a part could not be set up. */
static int read_stages(struct sonde_common_opts *co, struct sonde_run *run, int fd,
		       const char *name, struct sonde_sink *sink)
{
	int status = SONDE_EXIT_OK;
	co->store.block = true; /* a file: every record stored, however long it takes */
	if (sonde_common_store(co, run) < 0)
		status = SONDE_EXIT_FAIL;
	sonde_run_add_stage(run, &sonde_sink_stage, sink);
	sonde_common_redact(co, run);
	sonde_common_filter(co, run);
	if (!co->no_names)
		sonde_run_add_stage(run, &sonde_names_stage, sonde_names_new(0, &run->pipe.stats));
	struct sonde_file_source_opts fo = {
		.fd = fd,
		.name = name,
		.secrets = (struct sonde_keylog *)co->pipe.conn.tls_keylog,
	};
	char err[512];
	if (!sonde_run_add_source(run, &sonde_source_file, &fo, err, sizeof(err))) {
		sonde_errorf("%s", err);
		status = SONDE_EXIT_FAIL;
	}
	return status;
}

/* After the loop (rc its result): the run finished and freed, what went
 * wrong said. Returns status, or SONDE_EXIT_FAIL. */
static int read_finish(struct sonde_common_opts *co, struct sonde_run *run, int rc, int status,
		       uint64_t *matched)
{
	/* Whatever the input did, write what was parsed before it. */
	sonde_run_finish(run);
	struct sonde_stats st = *sonde_run_stats(run);
	if (matched)
		*matched = st.records - st.records_filtered;
	int out_rc = sonde_run_free(run);
	int out_errno = errno;
	if (!co->quiet && status == SONDE_EXIT_OK && rc >= 0 && out_rc == 0) {
		fflush(stdout);
		sonde_say_nothing(&st, "no packets in the file");
	}
	if (rc < 0) {
		fflush(stdout);
		sonde_errorf("%s", sonde_run_error(run));
		status = SONDE_EXIT_FAIL;
	}
	if (out_rc < 0 && out_errno != EPIPE) { /* EPIPE: the reader had enough (head) */
		sonde_errorf("writing records: %s", strerror(out_errno));
		status = SONDE_EXIT_FAIL;
	}
	return status;
}

/* The file (fd, named name in messages) through a run into one sink. */
static int run_read(struct sonde_common_opts *co, int fd, const char *name,
		    const struct read_opts *rdo, uint64_t *matched)
{
	co->pipe.conn.source = name;
	/* TLS connections the key log does not open are said, not only counted */
	co->pipe.conn.tls_notes = co->quiet ? NULL : stderr;
	struct sonde_follower *fw;
	struct sonde_redact_follow *fmask;
	follow_open(co, rdo->follow, &fw, &fmask);
	int status;
	struct sonde_pcapng *rec = sonde_common_record(co, "read", &status);
	if (status) {
		if (fw)
			sonde_follower_close(fw);
		sonde_redact_follow_free(fmask);
		return status;
	}
	if (rec && rdo->record_keylog && record_keylog(rec, co->pipe.conn.tls_keylog) < 0)
		status = SONDE_EXIT_FAIL;
	signal(SIGPIPE, SIG_IGN); /* -w -: a reader gone is a failed write */
	/* Records of a pipe (tcpdump -w - | sonde read -) or for a terminal go
	 * out as they complete; a file read to a file keeps the block path. */
	struct stat in_st;
	bool in_file = fstat(fd, &in_st) == 0 && S_ISREG(in_st.st_mode);
	if (fw)
		co->no_records = true; /* -w still records, if asked */
	struct sonde_sink *sink = sonde_common_sink(co, !in_file);

	struct sonde_redact_stream *mask = sonde_common_record_mask(co, true);
	/* secrets the file itself carries are added to the key log (or to one
	 * of their own): the connection table holds it from the start */
	if (!co->pipe.conn.tls_keylog)
		co->pipe.conn.tls_keylog = sonde_keylog_new();
	struct sonde_run_opts ro = { .pipe = co->pipe, .record = rec, .record_mask = mask };
	struct sonde_run run;
	sonde_run_init(&run, &ro);
	if (read_stages(co, &run, fd, name, sink) != SONDE_EXIT_OK)
		status = SONDE_EXIT_FAIL;
	int rc = status == SONDE_EXIT_OK ? sonde_run_loop(&run) : 0;
	status = read_finish(co, &run, rc, status, matched);
	if (sonde_common_record_close(rec, "read") < 0)
		status = SONDE_EXIT_FAIL;
	if (fw && sonde_follower_close(fw) < 0 && errno != EPIPE) {
		sonde_errorf("writing the conversation: %s", strerror(errno));
		status = SONDE_EXIT_FAIL;
	}
	sonde_redact_follow_free(fmask);
	sonde_redact_stream_free(mask);
	return status;
}

/* argv's FILE, or with fd >= 0 that descriptor, named name in records. */
static int read_main(int argc, char **argv, int in_fd, const char *in_name, uint64_t *matched)
{
	struct sonde_common_opts co;
	sonde_common_defaults(&co);
	struct read_opts ro = { 0 };
	int status = parse_args(argc, argv, &co, &ro);
	const char *path = ro.path;
	if (status >= 0) {
		sonde_keylog_free((struct sonde_keylog *)co.pipe.conn.tls_keylog);
		sonde_common_free(&co);
		return status;
	}
	bool is_stdin = !strcmp(path, "-");
	int fd = in_fd >= 0 ? in_fd : is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	char why[256];
	if (fd < 0) {
		sonde_errorf("%s: %s", path, strerror(errno));
		status = SONDE_EXIT_FAIL;
	} else if (sonde_privs_drop_all(why, sizeof(why)) < 0) {
		/* the capture and the key log are open: nothing privileged is
		 * left to do, and what follows parses hostile bytes */
		sonde_errorf("read: %s", why);
		status = SONDE_EXIT_FAIL;
	} else {
		const char *name = in_fd >= 0 ? in_name : is_stdin ? "(stdin)" : path;
		status = run_read(&co, fd, name, &ro, matched);
		if (!is_stdin && in_fd < 0)
			close(fd);
	}
	sonde_keylog_free((struct sonde_keylog *)co.pipe.conn.tls_keylog);
	sonde_common_free(&co);
	return status;
}

int sonde_cmd_read(int argc, char **argv)
{
	return read_main(argc, argv, -1, NULL, NULL);
}

int sonde_cmd_read_fd(int argc, char **argv, int fd, const char *name, uint64_t *matched)
{
	return read_main(argc, argv, fd, name, matched);
}
