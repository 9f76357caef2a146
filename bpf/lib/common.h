/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every kernel-side file starts from: the kernel's types (vmlinux.h,
 * CO-RE), libbpf's helpers, the format shared with user space, and the few
 * constants of the kernel's uapi headers (which cannot be included with
 * vmlinux.h).
 */
#ifndef SONDE_BPF_COMMON_H
#define SONDE_BPF_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "sonde_events.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define TCP_CLOSE 7
#define EINPROGRESS 115
#define MSG_PEEK 2

#endif
