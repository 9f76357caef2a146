/* SPDX-License-Identifier: MIT */
/* Subcommands and the helpers they share. */
#ifndef SONDE_CLI_H
#define SONDE_CLI_H

#include <stddef.h>
#include <stdint.h>

#define SONDE_VERSION "0.1.0"

/* Exit statuses. */
enum {
	SONDE_EXIT_OK = 0,
	SONDE_EXIT_FAIL = 1, /* input damaged or unreadable; records before it written */
	SONDE_EXIT_USAGE = 2, /* bad command line */
};

int sonde_cmd_read(int argc, char **argv);
int sonde_cmd_capture(int argc, char **argv);
int sonde_cmd_tls(int argc, char **argv);

/* "64k", "1m", "2g", "1500": bytes. Returns -1 on a bad value. */
int sonde_parse_size(const char *s, size_t *out);
/* "30", "1.5", "300s", "5m": seconds as ns. */
int sonde_parse_duration(const char *s, uint64_t *out_ns);
/* Print "sonde: <message>" to stderr. */
void sonde_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
