/* SPDX-License-Identifier: MIT */
/*
 * Least privilege after start-up (docs/security.md, "Privileges"): what
 * needs privileges — loading and attaching programs, opening packet sockets,
 * reading other processes' maps — happens first; then sonde keeps only the
 * capabilities its live work still needs, optionally runs as another user
 * (--user, like tcpdump's -Z), sets no_new_privs, and a seccomp filter
 * refuses the system calls it never makes (exec, ptrace, mounts, modules...).
 *
 * Capabilities belong to threads, not processes: the main thread drops its
 * own with sonde_privs_drop(), and each worker thread drops to what it needs
 * when it starts (sonde_privs_thread_keep()). The seccomp filter is
 * synchronised to every thread.
 */
#ifndef SONDE_APP_PRIVS_H
#define SONDE_APP_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A capability set as a bit mask: bit N is capability N (linux/capability.h). */
typedef uint64_t sonde_caps;

#define SONDE_CAP(n) ((sonde_caps)1 << (n))

struct sonde_privs_plan {
	sonde_caps keep; /* kept (effective and permitted); the rest dropped, bounding set too */
	const char *user; /* non-NULL: switch to this user (and its groups) */
	bool allow_setns; /* the seccomp filter lets setns through (--all-netns) */
};

/* The calling thread's effective and permitted sets. */
sonde_caps sonde_caps_effective(void);
sonde_caps sonde_caps_permitted(void);
/* "cap_bpf,cap_perfmon" (or "none") into out. */
void sonde_caps_format(sonde_caps c, char *out, size_t len);

/*
 * Apply the plan to the calling (main) thread and the seccomp filter to all
 * threads. 0, or -1 with why (nothing is half-applied for a bad --user: the
 * user is looked up first).
 */
int sonde_privs_drop(const struct sonde_privs_plan *p, char *why, size_t whylen);

/*
 * sonde read and sonde query: they parse files anyone may have written and
 * need no privilege once their inputs are open, so they keep none — every
 * capability gone (bounding set too, where CAP_SETPCAP allows), no_new_privs,
 * the seccomp filter. Call before any thread starts. 0, or -1 with why.
 */
int sonde_privs_drop_all(char *why, size_t whylen);

/* A worker thread at its start: keep only `keep` of what it has, no_new_privs. */
void sonde_privs_thread_keep(sonde_caps keep);

#endif
