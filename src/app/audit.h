/* SPDX-License-Identifier: MIT */
/*
 * The audit log (docs/security.md, "Audit log"): every capture session
 * appends JSON Lines events — start (who, what, how), each TLS probe, stop
 * (why, what was captured) — to a file, and to syslog (authpriv) where a
 * syslog socket exists. The file is created 0640 and refused if anyone but
 * its owner could write it, so the traced workloads cannot rewrite history.
 *
 * An event is built member by member between begin and end; end writes it
 * with one append so concurrent sondes never interleave lines.
 */
#ifndef SONDE_APP_AUDIT_H
#define SONDE_APP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct sonde_audit;

/* The default file when sonde runs as root and no --audit-log is given. */
#define SONDE_AUDIT_DEFAULT "/var/log/sonde/audit.log"

/*
 * path NULL: syslog only. required: a file that cannot be opened is an
 * error (NULL, why filled); otherwise the file is skipped with a warning in
 * why (and syslog, if any, still used). NULL is also returned when there is
 * nowhere to write at all, with why empty.
 */
struct sonde_audit *sonde_audit_open(const char *path, bool required, char *why, size_t whylen);
void sonde_audit_close(struct sonde_audit *a);

/* {"ts":...,"event":EVENT,"pid":N, ... */
void sonde_audit_begin(struct sonde_audit *a, const char *event);
void sonde_audit_str(struct sonde_audit *a, const char *key, const char *val); /* NULL: null */
void sonde_audit_u64(struct sonde_audit *a, const char *key, uint64_t v);
void sonde_audit_bool(struct sonde_audit *a, const char *key, bool v);
/* A member whose value is JSON already (an object or list built by the caller). */
void sonde_audit_raw(struct sonde_audit *a, const char *key, const char *json, size_t n);
/* Write the event. -1 if the file write failed (said once on stderr). */
int sonde_audit_end(struct sonde_audit *a);

/* Who runs this: uid, euid, user, loginuid (the login session's user,
 * which survives sudo), sudo_user, host, as members of the current event. */
void sonde_audit_who(struct sonde_audit *a);

#endif
