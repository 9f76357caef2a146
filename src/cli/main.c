/* SPDX-License-Identifier: MIT */
/* sonde: command dispatch. Each subcommand lives in its own cmd_*.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
	"Usage: sonde COMMAND [OPTIONS]\n"
	"\n"
	"See the API traffic of a host as request/response records.\n"
	"\n"
	"Commands:\n"
	"  capture        capture live traffic with eBPF (the default, as root)\n"
	"  read FILE|-    dissect a pcap or pcapng capture (- reads standard input)\n"
	"  tls            list the TLS libraries of running processes and whether\n"
	"                 their plaintext is captured\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help (sonde COMMAND --help for a command's)\n"
	"  -V, --version  print the version\n"
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

int sonde_parse_size(const char *s, size_t *out)
{
	char *end;
	if (!s || !*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s)
		return -1;
	unsigned long long mul = 1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	default: return -1;
	}
	if (*end == 'b' || *end == 'B' || *end == 'i')
		end++;
	if (*end == 'B')
		end++;
	if (*end || (v && mul > ~0ull / v))
		return -1;
	*out = (size_t)(v * mul);
	return 0;
}

int sonde_parse_duration(const char *s, uint64_t *out_ns)
{
	char *end;
	if (!s || !*s || *s == '-')
		return -1;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	double mul = 1e9;
	if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60e9;
	else if (!strcmp(end, "h"))
		mul = 3600e9;
	else if (*end && strcmp(end, "s"))
		return -1;
	if (v * mul > 1.8e19)
		return -1;
	*out_ns = (uint64_t)(v * mul);
	return 0;
}

int main(int argc, char **argv)
{
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
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("sonde %s\n", SONDE_VERSION);
		return SONDE_EXIT_OK;
	}
	/* getopt names argv[0] in its messages: make it "sonde read". */
	if (!strcmp(cmd, "capture")) {
		argv[1] = (char *)"sonde capture";
		return sonde_cmd_capture(argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "read")) {
		argv[1] = (char *)"sonde read";
		return sonde_cmd_read(argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "tls")) {
		argv[1] = (char *)"sonde tls";
		return sonde_cmd_tls(argc - 1, argv + 1);
	}
	sonde_errorf("unknown command '%s' (try 'sonde --help')", cmd);
	return SONDE_EXIT_USAGE;
}
