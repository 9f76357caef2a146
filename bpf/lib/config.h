/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Configuration: read-only data that user space sets between open and load
 * (src/source/ebpf/ebpf.c, try_hook); the verifier sees the values as
 * constants, so a disabled filter costs nothing.
 */
#ifndef SONDE_BPF_CONFIG_H
#define SONDE_BPF_CONFIG_H

#include "lib/common.h"

const volatile __u32 n_tgids = 0;
const volatile __u32 targ_tgids[SONDE_FILTER_MAX] = {};
const volatile __u32 self_tgid = 0; /* sonde itself: never traced */
const volatile __u32 n_ports = 0;
const volatile __u16 targ_ports[SONDE_FILTER_MAX] = {}; /* local or remote port */
const volatile __u64 targ_cgroup = 0; /* cgroup v2 id; 0: any */
/* --target given: only cgroups in the targets map are followed */
const volatile bool targets_on = false;
/* Command names, NUL-padded, compared as two 64-bit words. */
const volatile __u32 n_comms = 0;
const volatile __u64 targ_comms[SONDE_FILTER_MAX][SONDE_COMM_LEN / 8] = {};
const volatile __u32 capture_per_call = 4 * SONDE_CHUNK_MAX; /* bytes copied per call */
const volatile __u8 hook_kind = SONDE_HOOK_TRACEPOINT;
/* TLS probes loaded (--tls): the socket hooks tell them what they see */
const volatile bool tls_on = false;
/* tcp_recvmsg has the `nonblock` argument (before 5.19): flags come 5th */
const volatile bool recvmsg_nonblock = false;
/* The syscall tracepoints are loaded for UDP alone (a kernel-function data
 * hook follows TCP): their TCP data calls are left to it. */
const volatile bool udp_only = false;
/* User space follows processes: exits of main threads are sent
 * (exec events are, whenever tp_exec is loaded). */
const volatile bool proc_events = false;
/* Ring buffer bytes pending before a wake-up is forced (batched wake-ups). */
const volatile __u64 wakeup_bytes = 256 * 1024;

#endif
