/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which processes and sockets are traced: --pid, --comm, --cgroup and
 * --target (the process, checked first) and --port and the target's ports
 * (the socket); and the TCP socket behind a file descriptor (and the UDP
 * one, whose calls carry datagrams).
 */
#ifndef SONDE_BPF_FILTER_H
#define SONDE_BPF_FILTER_H

#include "lib/config.h"
#include "lib/maps.h"

static __always_inline bool comm_matches(void)
{
	if (!n_comms)
		return true;
	/* The helper NUL-pads (strncpy, later strscpy_pad) as task->comm is. */
	__u64 comm[SONDE_COMM_LEN / 8] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	for (__u32 i = 0; i < SONDE_FILTER_MAX && i < n_comms; i++)
		if (comm[0] == targ_comms[i][0] && comm[1] == targ_comms[i][1])
			return true;
	return false;
}

static __always_inline bool tgid_matches(__u32 tgid)
{
	if (!n_tgids)
		return true;
	for (__u32 i = 0; i < SONDE_FILTER_MAX && i < n_tgids; i++)
		if (tgid == targ_tgids[i])
			return true;
	return false;
}

/* The capture target of the current process's cgroup, else the rule for
 * every other cgroup (key 0); NULL: not a target. */
static __always_inline struct sonde_target *current_target(void)
{
	__u64 cg = bpf_get_current_cgroup_id();
	struct sonde_target *t = bpf_map_lookup_elem(&targets, &cg);
	if (!t) {
		__u64 others = 0;
		t = bpf_map_lookup_elem(&targets, &others);
	}
	return t;
}

/* A target (NULL: none) and the current command name. */
static __always_inline bool target_comm_wanted(struct sonde_target *t)
{
	if (!t)
		return false;
	if (!t->ncomms)
		return true;
	__u64 comm[SONDE_COMM_LEN / 8] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	for (__u32 i = 0; i < SONDE_TARGET_COMMS && i < t->ncomms; i++)
		if (comm[0] == t->comms[i][0] && comm[1] == t->comms[i][1])
			return true;
	return false;
}

/* Process-level filters, checked before anything else. */
static __always_inline bool process_wanted(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == self_tgid)
		return false;
	if (!tgid_matches(tgid))
		return false;
	if (targ_cgroup && bpf_get_current_cgroup_id() != targ_cgroup)
		return false;
	if (!comm_matches())
		return false;
	if (targets_on && !target_comm_wanted(current_target())) {
		count(SONDE_CNT_TARGET_SKIPPED, 1);
		return false;
	}
	return true;
}

/* The ports the current process's target wants, if it names some. */
static __always_inline bool target_port_wanted(__u16 lport, __u16 rport)
{
	if (!targets_on)
		return true;
	struct sonde_target *t = current_target();
	if (!t || !t->nports)
		return true;
	for (__u32 i = 0; i < SONDE_TARGET_PORTS && i < t->nports; i++)
		if (lport == t->ports[i] || rport == t->ports[i])
			return true;
	return false;
}

/* The file behind fd, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	if (fd < 0)
		return NULL;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The IPv4/IPv6 TCP or UDP socket behind fd (its protocol in *proto), or 0. */
static __always_inline __u64 fd_to_inet_sock(int fd, __u16 *proto)
{
	struct file *f = fd_file(fd);
	if (!f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	*proto = BPF_CORE_READ(sk, sk_protocol);
	if (*proto != IPPROTO_TCP && *proto != IPPROTO_UDP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	return (__u64)sk;
}

/* The TCP socket behind fd, or 0: files, pipes, UDP and UNIX sockets are
 * filtered out here, before any payload is read. */
static __always_inline __u64 fd_to_tcp_sock(int fd)
{
	__u16 proto = 0;
	__u64 sk = fd_to_inet_sock(fd, &proto);
	return proto == IPPROTO_TCP ? sk : 0;
}

static __always_inline bool port_wanted(struct sock *sk)
{
	if (!n_ports && !targets_on)
		return true;
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (!target_port_wanted(lport, rport))
		return false;
	if (!n_ports)
		return true;
	for (__u32 i = 0; i < SONDE_FILTER_MAX && i < n_ports; i++)
		if (lport == targ_ports[i] || rport == targ_ports[i])
			return true;
	return false;
}

/* A datagram's ports: --port's list, or without one DNS's port 53 alone, so
 * the bulk of a host's UDP (QUIC, media, metrics) is never copied. */
static __always_inline bool udp_port_wanted(__u16 lport, __u16 rport)
{
	if (!n_ports)
		return lport == 53 || rport == 53;
	for (__u32 i = 0; i < SONDE_FILTER_MAX && i < n_ports; i++)
		if (lport == targ_ports[i] || rport == targ_ports[i])
			return true;
	return false;
}

#endif
