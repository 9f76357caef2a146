/* SPDX-License-Identifier: MIT */
/* sonde tls: which TLS libraries running processes use, and whether sonde
 * captures their plaintext (and if not, why). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "source/ebpf/ebpf.h"
#include "source/tls/tls_discover.h"
#include "cli/cli.h"

static const char tls_usage[] =
	"Usage: sonde tls [OPTIONS]\n"
	"\n"
	"List, per process, the TLS libraries (OpenSSL, BoringSSL, GnuTLS, and programs\n"
	"with TLS linked in) that sonde finds, and whether 'sonde capture' gets their\n"
	"plaintext; if not, why (no symbols, unsupported library, attach refused).\n"
	"The probes are really attached for the check, then removed. Needs root.\n"
	"\n"
	"  -o, --output FORMAT  text (a table, the default) or json (JSON Lines)\n"
	"      --tls-lib PATH   also check this library or program (repeatable)\n"
	"  -v, --verbose        say what is probed as it happens\n"
	"  -h, --help           show this help\n";

#define TLS_LIBS_MAX 32

static void discard_chunk(void *ctx, const struct sonde_chunk *c)
{
	(void)ctx, (void)c;
}

int sonde_cmd_tls(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "tls-lib", required_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *libs[TLS_LIBS_MAX + 1] = { NULL };
	size_t nlibs = 0;
	bool json = false;
	struct sonde_ebpf_opts eo = {
		.hook = SONDE_HOOK_AUTO, .ringbuf_size = 1u << 20, .tls = true, .tls_libs = libs
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
				sonde_errorf("tls: invalid value '%s' for --output (text or json)",
					     optarg);
				return SONDE_EXIT_USAGE;
			}
			json = !strcmp(optarg, "json");
			break;
		case 'L':
			if (nlibs == TLS_LIBS_MAX) {
				sonde_errorf("tls: at most %d --tls-lib", TLS_LIBS_MAX);
				return SONDE_EXIT_USAGE;
			}
			libs[nlibs++] = optarg;
			break;
		case 'v': eo.verbose = 1; break;
		case 'h': fputs(tls_usage, stdout); return SONDE_EXIT_OK;
		default: fputs("Try 'sonde tls --help'.\n", stderr); return SONDE_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		sonde_errorf("tls: unexpected argument '%s' (try 'sonde tls --help')",
			     argv[optind]);
		return SONDE_EXIT_USAGE;
	}
	/* The report needs the probes attached, not the traffic. */
	struct sonde_stats stats = { 0 };
	struct sonde_source_env env = { .out = { discard_chunk, NULL }, .stats = &stats };
	char err[512];
	struct sonde_ebpf *e = sonde_ebpf_open(&eo, &env, err, sizeof(err));
	if (!e) {
		sonde_errorf("tls: %s", err);
		return SONDE_EXIT_FAIL;
	}
	sonde_tls_print(sonde_ebpf_tls(e), stdout, json);
	sonde_ebpf_close(e);
	return SONDE_EXIT_OK;
}
