/* SPDX-License-Identifier: MIT */
/* Subcommands and the helpers they share. */
#ifndef SONDE_CLI_H
#define SONDE_CLI_H

#include <stddef.h>
#include <stdint.h>

/* The Makefile defines it from `git describe`; this is the fallback. */
#ifndef SONDE_VERSION
#define SONDE_VERSION "0.1.0"
#endif

/* Exit statuses. */
enum {
	SONDE_EXIT_OK = 0,
	SONDE_EXIT_FAIL = 1, /* input damaged or unreadable; records before it written */
	SONDE_EXIT_USAGE = 2, /* bad command line */
};

/* SONDE_VERSION as main.o was built with it (the Makefile defines it there). */
const char *sonde_version(void);

int sonde_cmd_read(int argc, char **argv);
/* sonde read over fd instead of argv's FILE (which must be "-"), named name in
 * records: sonde query --redissect feeds it the store's raw bytes. *matched:
 * the records -Y matched (written, up to -c). */
int sonde_cmd_read_fd(int argc, char **argv, int fd, const char *name, uint64_t *matched);
int sonde_cmd_capture(int argc, char **argv);
/* Make the permitted capabilities effective (file capabilities set +p). */
void sonde_raise_caps(void);
int sonde_cmd_tls(int argc, char **argv);
int sonde_cmd_query(int argc, char **argv);

struct sonde_stats;
/* No record was written: say on stderr what was seen instead (what: the
 * words for seeing nothing at all, "no packets in the file"). */
void sonde_say_nothing(const struct sonde_stats *st, const char *what);

/* Print "sonde: <message>" to stderr. */
void sonde_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
