// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sonde's live capture: the bytes every process sends and receives on TCP
 * sockets, with the socket's 4-tuple and an exact stream position, into one
 * ring buffer.
 *
 * Three ways to see the bytes, chosen by user space at start-up (set_autoload):
 *   tracepoint — syscalls:sys_{enter,exit}_{read,write,readv,writev,sendto,
 *                recvfrom,sendmsg,recvmsg,sendmmsg,recvmmsg}; works everywhere.
 *   kprobe     — k(ret)probe on tcp_sendmsg/tcp_recvmsg.
 *   fentry     — fentry/fexit on tcp_sendmsg/tcp_recvmsg.
 * Whatever the data hook, the lifecycle is the same: connect/accept syscall
 * exits (role, 4-tuple), sock:inet_sock_set_state to TCP_CLOSE (end), and
 * bytes moved outside a traced call (io_uring, sendfile, splice, kernel users)
 * are counted as untraced so positions stay exact.
 *
 * One body (emit_bytes/emit_iov) serves every hook; the hooks only find the
 * socket and the user buffers.
 */
#include "lib/common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Socket data hooks (user space loads one family), then what every hook
 * shares: bytes outside traced calls, the lifecycle. */
#include "hooks/syscalls.h"
#include "hooks/kfuncs.h"
#include "hooks/untraced.h"
#include "hooks/lifecycle.h"
/* The TLS probes: libraries, then Go programs. */
#include "tls/libs.h"
#include "tls/go.h"
