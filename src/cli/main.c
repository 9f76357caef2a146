/* SPDX-License-Identifier: MIT */
/* sonde: command dispatch. Each subcommand lives in its own cmd_*.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char usage[] =
	"Usage: sonde COMMAND [OPTIONS]\n"
	"\n"
	"See the API traffic of a host as request/response records.\n"
	"\n"
	"Commands:\n"
	"  capture        capture live traffic with eBPF (the default, as root)\n"
	"  read FILE|-    dissect a pcap or pcapng capture (- reads standard input)\n"
	"  query [EXPR]   records of the embedded store (--store) EXPR matches\n"
	"  tls            list the TLS libraries of running processes and whether\n"
	"                 their plaintext is captured\n"
	"  version        print the version\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help (sonde COMMAND --help for a command's)\n"
	"  -r FILE        the same as 'sonde read FILE' (as in tcpdump; options may\n"
	"                 follow: sonde -r x.pcap -c 10 -o json)\n"
	"      --version  print the version\n"
	"\n"
	"Records are documented in docs/records.md.\n";

void sonde_errorf(const char *fmt, ...)
{
	va_list ap;
	fputs("sonde: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *sonde_version(void)
{
	return SONDE_VERSION;
}

int main(int argc, char **argv)
{
	sonde_raise_caps();
	if (argc < 2) {
		if (geteuid() == 0)
			return sonde_cmd_capture(argc, argv);
		fputs(usage, stderr);
		return SONDE_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return SONDE_EXIT_OK;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("sonde %s\n", SONDE_VERSION);
		return SONDE_EXIT_OK;
	}
	/* getopt names argv[0] in its messages: make it "sonde read". */
	if (!strcmp(cmd, "capture")) {
		argv[1] = (char *)"sonde capture";
		return sonde_cmd_capture(argc - 1, argv + 1);
	}
	/* tcpdump's -r: "sonde -r FILE [OPTIONS]" (or -rFILE) is
	 * "sonde read [OPTIONS] FILE". */
	if (!strncmp(cmd, "-r", 2)) {
		const char *file = cmd[2] ? cmd + 2 : argc > 2 ? argv[2] : NULL;
		int first = cmd[2] ? 2 : 3; /* the options after the file */
		if (!file) {
			sonde_errorf("-r: no capture file given (try 'sonde read --help')");
			return SONDE_EXIT_USAGE;
		}
		char **av = calloc((size_t)argc + 1, sizeof(*av));
		if (!av)
			return SONDE_EXIT_FAIL;
		int n = 0;
		av[n++] = (char *)"sonde read";
		for (int i = first; i < argc; i++)
			av[n++] = argv[i];
		av[n++] = (char *)file;
		int rc = sonde_cmd_read(n, av);
		free(av);
		return rc;
	}
	if (!strcmp(cmd, "read")) {
		argv[1] = (char *)"sonde read";
		return sonde_cmd_read(argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "query")) {
		argv[1] = (char *)"sonde query";
		return sonde_cmd_query(argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "tls")) {
		argv[1] = (char *)"sonde tls";
		return sonde_cmd_tls(argc - 1, argv + 1);
	}
	sonde_errorf("unknown command '%s' (try 'sonde --help')", cmd);
	return SONDE_EXIT_USAGE;
}
