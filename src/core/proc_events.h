/* SPDX-License-Identifier: MIT */
/*
 * What a source that sees processes tells the enrichment stage, as it
 * happens: a process exec'd, a process's main thread exited, a process
 * opened a socket (connect or accept, with its ends). The eBPF source sends
 * them from sched_process_exec/exit and its open events; the stage keeps
 * its process cache by them (enrich/process.h: an entry is trusted until an
 * exec or exit says otherwise) and remembers who held which socket, so an
 * end whose process is gone, or whose socket is in another network
 * namespace, is still named. Called on the pipeline's thread.
 */
#ifndef SONDE_CORE_PROC_EVENTS_H
#define SONDE_CORE_PROC_EVENTS_H

#include <stdint.h>

#include "core/chunk.h"

enum sonde_proc_event_kind {
	SONDE_PROC_TRACKED = 1, /* exec and exit events flow from now on */
	SONDE_PROC_EXEC = 2, /* pid runs a new program */
	SONDE_PROC_EXIT = 3, /* pid's main thread exited */
	SONDE_PROC_SOCKET = 4, /* pid opened a socket from local to remote */
	SONDE_PROC_LOST = 5, /* events were lost (a full ring): trust nothing cached */
};

struct sonde_proc_event {
	uint8_t kind; /* enum sonde_proc_event_kind */
	uint32_t pid;
	/* SONDE_PROC_SOCKET: the socket's ends and network namespace (inode),
	 * and the kernel's word on the process then (its thread's comm, its
	 * cgroup v2 id), for when it is gone before /proc could be read */
	struct sonde_endpoint local, remote;
	uint32_t netns;
	uint64_t cgroup_id;
	char comm[16];
};

struct sonde_proc_hook {
	void (*event)(void *ctx, const struct sonde_proc_event *ev); /* NULL: nobody */
	void *ctx;
};

#endif
