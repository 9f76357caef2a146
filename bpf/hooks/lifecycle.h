/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Socket lifecycle, whatever the data hook: connect and accept (role,
 * 4-tuple, an OPEN event) and inet_sock_set_state to TCP_CLOSE (a CLOSE
 * event, state dropped).
 */
#ifndef SONDE_BPF_HOOKS_LIFECYCLE_H
#define SONDE_BPF_HOOKS_LIFECYCLE_H

#include "hooks/syscalls.h"
#include "lib/emit.h"
#include "lib/filter.h"
#include "lib/maps.h"
#include "lib/sock.h"
#include "hooks/tcp_health.h"

SEC("tracepoint/syscalls/sys_enter_connect")
int tp_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return enter_io((int)ctx->args[0], 0, 0, CALL_CONNECT, SONDE_EV_TX);
}

static __always_inline int open_sock(__u64 sk, __u8 role)
{
	struct sonde_sock_state st = { .id = new_id(), .role = role };
	if (bpf_map_update_elem(&socks, &sk, &st, BPF_ANY)) {
		count(SONDE_CNT_SOCK_MAP_FULL, 1);
		return 0;
	}
	struct sonde_sock_state *p = bpf_map_lookup_elem(&socks, &sk);
	if (p) {
		peer_register(sk, p); /* before its first event, which says if it is a copy */
		emit_control(sk, p, SONDE_EV_OPEN);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int tp_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	__u64 sk = c->sk;
	bpf_map_delete_elem(&calls, &tid);
	if ((ctx->ret != 0 && ctx->ret != -EINPROGRESS) || !port_wanted((struct sock *)sk))
		return 0;
	/* hiredis (redis-cli) confirms a non-blocking connect by calling
	 * connect() again: the socket is open already, its stream goes on */
	if (bpf_map_lookup_elem(&socks, &sk))
		return 0;
	/* refused within the call (loopback answers at once): its close has
	 * passed, state now would outlive it (hooks/tcp_health.h reported it) */
	if (BPF_CORE_READ((struct sock *)sk, __sk_common.skc_state) == TCP_CLOSE)
		return 0;
	return open_sock(sk, SONDE_EV_ROLE_CLIENT);
}

static __always_inline int exit_accept(long fd)
{
	if (fd < 0 || !process_wanted())
		return 0;
	__u64 sk = fd_to_tcp_sock((int)fd);
	if (!sk || !port_wanted((struct sock *)sk))
		return 0;
	return open_sock(sk, SONDE_EV_ROLE_SERVER);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tp_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return exit_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tp_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return exit_accept(ctx->ret);
}

/* The socket is gone (after FIN/RST handshakes, in any context). */
SEC("tracepoint/sock/inet_sock_set_state")
int tp_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	__u64 sk = (__u64)ctx->skaddr;
	if (tcp_health_on)
		tcp_life_state(sk, ctx->oldstate, ctx->newstate, ctx->sport);
	if (ctx->newstate != TCP_CLOSE)
		return 0;
	struct sonde_sock_state *st = bpf_map_lookup_elem(&socks, &sk);
	if (!st) {
		if (tcp_health_on) {
			emit_failed_connect(sk, ctx->oldstate, ctx->sport);
			bpf_map_delete_elem(&tcp_life, &sk);
		}
		return 0;
	}
	if (tcp_health_on) {
		emit_close_info(sk, st, ctx->oldstate, ctx->sport);
		bpf_map_delete_elem(&tcp_life, &sk);
	} else {
		emit_control(sk, st, SONDE_EV_CLOSE);
	}
	peer_forget(sk, st);
	bpf_map_delete_elem(&socks, &sk);
	bpf_map_delete_elem(&ignored, &sk);
	return 0;
}

#endif
