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
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "sonde_events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define TCP_CLOSE 7
#define EINPROGRESS 115

/* ---- configuration, set by user space between open and load ---- */
/* Filter lists: the first n_* entries count; n_* == 0: any. */
const volatile __u32 n_tgids = 0;
const volatile __u32 targ_tgids[SONDE_FILTER_MAX] = {};
const volatile __u32 self_tgid = 0; /* sonde itself: never traced */
const volatile __u32 n_ports = 0;
const volatile __u16 targ_ports[SONDE_FILTER_MAX] = {}; /* local or remote port */
const volatile __u64 targ_cgroup = 0; /* cgroup v2 id; 0: any */
/* Command names, NUL-padded, compared as two 64-bit words. */
const volatile __u32 n_comms = 0;
const volatile __u64 targ_comms[SONDE_FILTER_MAX][SONDE_COMM_LEN / 8] = {};
const volatile __u32 capture_per_call = 4 * SONDE_CHUNK_MAX; /* bytes copied per call */
const volatile __u8 hook_kind = SONDE_HOOK_TRACEPOINT;
/* TLS probes loaded (--tls): the socket hooks tell them what they see */
const volatile bool tls_on = false;
/* tcp_recvmsg has the `nonblock` argument (before 5.19): flags come 5th */
const volatile bool recvmsg_nonblock = false;
/* Ring buffer bytes pending before a wake-up is forced (batched wake-ups). */
const volatile __u64 wakeup_bytes = 256 * 1024;

/* ---- maps ---- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by user space */
} events SEC(".maps");

/* A call in flight: what its exit needs. Keyed by tid. */
struct call {
	__u64 sk;
	__u64 buf; /* user buffer, iovec array, msghdr or mmsghdr array */
	__u64 cnt; /* length, iovec count or mmsg count */
	__u8 kind; /* enum call_kind */
	__u8 dir;
};

enum call_kind {
	CALL_BUF, /* read, write, sendto, recvfrom */
	CALL_IOV, /* readv, writev: a user iovec array */
	CALL_KIOV, /* tcp_* hooks: the iov_iter's iovec array, the kernel's copy of
		    * the user's (import_iovec), pointing at user memory */
	CALL_MSG, /* sendmsg, recvmsg: buf is a user msghdr */
	CALL_MMSG, /* sendmmsg, recvmmsg */
	CALL_CONNECT,
	CALL_ACCEPT,
	CALL_OTHER, /* a tcp_* hook with a non-user iterator: bytes are a gap */
};

/* LRU: an entry whose exit never came (a thread killed mid-call) ages out
 * instead of filling the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU); /* per-CPU LRU lists: no shared lock per syscall */
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct call);
} calls SEC(".maps");

/* Per socket: identity and stream positions (struct sonde_sock_state). LRU so
 * it can never fill up with sockets whose close was missed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct sonde_sock_state);
} socks SEC(".maps");

/* Sockets whose payload user space does not want (unknown protocol, tunnel,
 * the other end of a loopback connection): positions are still counted,
 * nothing is copied. Key: socket address; value: the socket's id, so an
 * entry written late, after the address was reused by a new socket, does
 * not silence the new one. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} ignored SEC(".maps");

/* Twice the chunk so a size masked with 2*SONDE_CHUNK_MAX-1 provably fits:
 * the verifier follows a mask where it loses a compared bound. */
#define SIZE_MASK (2 * SONDE_CHUNK_MAX - 1)
static __always_inline __u64 size_bound(__u64 v)
{
	/* asm, so the compiler cannot drop a mask it proves redundant */
	asm volatile("%[v] &= %[m]" : [v] "+r"(v) : [m] "i"(SIZE_MASK));
	return v;
}

struct scratch {
	struct sonde_event ev;
	__u8 data[2 * SONDE_CHUNK_MAX];
};

/* One scratch slot per CPU (a per-CPU array caps values at 32 KiB); user
 * space sets max_entries to the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline struct scratch *scratch_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&scratch_map, &cpu);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SONDE_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);
	if (v)
		*v += n;
}

/* ---- filters ---- */

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
	return comm_matches();
}

/* The TCP socket behind fd, or 0: files, pipes, UDP and UNIX sockets are
 * filtered out here, before any payload is read. */
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

static __always_inline __u64 fd_to_tcp_sock(int fd)
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
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	return (__u64)sk;
}

static __always_inline bool port_wanted(struct sock *sk)
{
	if (!n_ports)
		return true;
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	for (__u32 i = 0; i < SONDE_FILTER_MAX && i < n_ports; i++)
		if (lport == targ_ports[i] || rport == targ_ports[i])
			return true;
	return false;
}

/* ---- socket state and events ---- */

static __always_inline __u64 new_id(void)
{
	/* Unique without atomics: time in ns, made distinct per CPU. */
	return (bpf_ktime_get_ns() << 6) | (bpf_get_smp_processor_id() & 63);
}

/*
 * State of a socket, created on first sight (then it is mid-stream). Never
 * for a socket already closed: its state went at TCP_CLOSE, and an entry
 * made now would outlive it and pass to whatever socket the kernel puts at
 * the same address next, in any process.
 */
static __always_inline struct sonde_sock_state *sock_get(__u64 sk)
{
	struct sonde_sock_state *st = bpf_map_lookup_elem(&socks, &sk);
	if (st)
		return st;
	if (BPF_CORE_READ((struct sock *)sk, __sk_common.skc_state) == TCP_CLOSE)
		return NULL;
	struct sonde_sock_state fresh = { .id = new_id(), .midstream = 1 };
	/* Another CPU may win the race to create it: either copy is fine. */
	bpf_map_update_elem(&socks, &sk, &fresh, BPF_NOEXIST);
	st = bpf_map_lookup_elem(&socks, &sk);
	if (!st)
		count(SONDE_CNT_SOCK_MAP_FULL, 1);
	return st;
}

static __always_inline void fill_header(struct sonde_event *ev, __u64 skp, struct sonde_sock_state *st,
					__u8 type, __u8 dir)
{
	struct sock *sk = (struct sock *)skp;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	ev->version = SONDE_EVENT_VERSION;
	ev->type = type;
	ev->dir = dir;
	ev->role = st->role;
	ev->hook = hook_kind;
	ev->flags = st->midstream ? SONDE_EVF_MIDSTREAM : 0;
	ev->tgid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->conn_id = st->id;
	ev->sk = skp;
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->tls_fn = 0;
	ev->sock_id = 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	if (!skp) { /* a TLS stream whose socket is not known yet */
		ev->family = 0;
		__builtin_memset(ev->laddr, 0, 16);
		__builtin_memset(ev->raddr, 0, 16);
		ev->lport = ev->rport = 0;
		return;
	}
	ev->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (ev->family == AF_INET) {
		__builtin_memset(ev->laddr, 0, 16);
		__builtin_memset(ev->raddr, 0, 16);
		/* Explicit sizes: the READ_INTO macros copy sizeof(*dst), one byte
		 * for an array. */
		bpf_core_read(ev->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(ev->raddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(ev->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(ev->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	ev->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

static __always_inline __u64 rb_flags(void)
{
	/* Wake the reader only once enough is pending; it also polls on a
	 * short timeout, so nothing waits long. */
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									       : BPF_RB_NO_WAKEUP;
}

/* Lifecycle events: no payload. */
static __always_inline void emit_control(__u64 sk, struct sonde_sock_state *st, __u8 type)
{
	struct scratch *s = scratch_get();
	if (!s)
		return;
	fill_header(&s->ev, sk, st, type, SONDE_EV_TX);
	s->ev.pos = st->tx;
	s->ev.rx_pos = st->rx;
	s->ev.len = 0;
	s->ev.cap = 0;
	if (bpf_ringbuf_output(&events, &s->ev, sizeof(s->ev), BPF_RB_FORCE_WAKEUP))
		count(SONDE_CNT_RB_DROPS, 1);
	else
		count(SONDE_CNT_EVENTS, 1);
}

/* emit_iov's flag beside the direction (dir_flags bit 17). */
#define IOV_IN_KERNEL (1u << 17) /* emit_iov: the iovec array is kernel memory (an iov_iter's) */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sonde_tls_key);
	__type(value, struct sonde_tls_stream);
} tls_streams SEC(".maps");

/* TLS connections whose plaintext user space does not want (as `ignored`). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sonde_tls_key);
	__type(value, __u64);
} tls_ignored SEC(".maps");

/*
 * The events of `len` bytes at stream position `pos` of stream `st`, the
 * first `avail` of them readable at user address `ubuf` (avail < len: the rest
 * is not readable: a gap). Inlined into the two emitters below so each
 * program's verifier pass sees only the kind of stream it feeds.
 */
static __always_inline int emit_stream(struct sonde_sock_state *st, __u64 sk, __u64 handle,
				       __u64 pos, __u64 ubuf, __u32 len, __u32 avail, __u32 dir,
				       __u32 flags, __u64 tls_fn, __u64 sock_id)
{
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	__u32 limit = capture_per_call < avail ? capture_per_call : avail;
	__u32 off = 0;
	for (int i = 0; i < SONDE_CHUNKS_PER_CALL; i++) {
		if (off >= len)
			break;
		__u32 n = len - off;
		__u32 cap = 0;
		if (off < limit) {
			cap = limit - off;
			if (cap > SONDE_CHUNK_MAX)
				cap = SONDE_CHUNK_MAX;
			if (n > cap)
				n = cap;
		} else if (off < avail) {
			/* Readable, but over the per-call limit: one header-only
			 * event covers the rest. */
			count(SONDE_CNT_TRUNC_BYTES, n);
		}
		fill_header(&s->ev, sk, st, SONDE_EV_DATA, dir);
		s->ev.flags |= flags;
		s->ev.tls_fn = tls_fn;
		s->ev.sock_id = sock_id;
		s->ev.sk = handle; /* TLS: the library context, user space's handle */
		s->ev.pos = pos + off;
		s->ev.rx_pos = 0;
		s->ev.len = n;
		if (cap && bpf_probe_read_user(s->data, size_bound(cap), (void *)(ubuf + off))) {
			count(SONDE_CNT_READ_FAILED, 1);
			s->ev.flags |= SONDE_EVF_READ_FAILED;
			cap = 0;
		}
		s->ev.cap = cap;
		count(SONDE_CNT_CAPTURED, cap);
		if (st->lost & (1 << dir))
			s->ev.flags |= SONDE_EVF_AFTER_LOSS;
		if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + size_bound(cap), rb_flags())) {
			count(SONDE_CNT_RB_DROPS, 1);
			count(SONDE_CNT_RB_DROP_BYTES, n);
			st->lost |= 1 << dir; /* the next event says so */
		} else {
			count(SONDE_CNT_EVENTS, 1);
			st->lost &= ~(1 << dir);
		}
		off += n;
	}
	if (off < len) { /* more than SONDE_CHUNKS_PER_CALL events' worth */
		fill_header(&s->ev, sk, st, SONDE_EV_DATA, dir);
		s->ev.flags |= flags;
		s->ev.tls_fn = tls_fn;
		s->ev.sock_id = sock_id;
		s->ev.sk = handle;
		s->ev.pos = pos + off;
		s->ev.len = len - off;
		s->ev.cap = 0;
		count(SONDE_CNT_TRUNC_BYTES, len - off);
		if (bpf_ringbuf_output(&events, &s->ev, sizeof(s->ev), rb_flags()))
			count(SONDE_CNT_RB_DROPS, 1);
	}
	return 0;
}


/*
 * `len` bytes moved in direction `dir` on socket `sk`, the first `avail` of
 * them readable at `ubuf`. Advances the stream position whatever happens, so
 * anything lost becomes an exact gap in user space.
 */
/* Global (not static): the verifier checks it once, not at every call site. */
__noinline int emit_bytes(__u64 sk, __u64 ubuf, __u32 len, __u32 avail, __u32 dir_flags)
{
	/* BPF calls take five arguments: the direction and the event flags share one. */
	__u32 dir = dir_flags & 0xff, flags = (dir_flags >> 8) & 0xff;
	if (!len)
		return 0;
	struct sonde_sock_state *st = bpf_map_lookup_elem(&socks, &sk);
	if (!st)
		return 0;
	__u64 pos = dir == SONDE_EV_TX ? st->tx : st->rx;
	if (dir == SONDE_EV_TX)
		st->tx += len;
	else
		st->rx += len;
	if (st->tls) { /* its plaintext comes from the TLS library */
		count(SONDE_CNT_TLS_CIPHER_BYTES, len);
		return 0;
	}
	count(SONDE_CNT_BYTES, len);
	__u64 *ig = bpf_map_lookup_elem(&ignored, &sk);
	if (ig && *ig == st->id) {
		count(SONDE_CNT_IGNORED_BYTES, len);
		return 0;
	}
	return emit_stream(st, sk, sk, pos, ubuf, len, avail, dir, flags, 0, 0);
}

/* The same for the plaintext of the TLS connection of library context ctx
 * in the current process. */
__noinline int emit_tls(__u64 ctx, __u64 ubuf, __u32 len, __u32 dir)
{
	if (!len)
		return 0;
	struct sonde_tls_key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .ctx = ctx };
	struct sonde_tls_stream *ts = bpf_map_lookup_elem(&tls_streams, &k);
	if (!ts)
		return 0;
	struct sonde_sock_state *st = &ts->st;
	__u64 pos = dir == SONDE_EV_TX ? st->tx : st->rx;
	if (dir == SONDE_EV_TX)
		st->tx += len;
	else
		st->rx += len;
	count(SONDE_CNT_TLS_BYTES, len);
	__u64 *ig = bpf_map_lookup_elem(&tls_ignored, &k);
	if (ig && *ig == st->id) {
		count(SONDE_CNT_IGNORED_BYTES, len);
		return 0;
	}
	return emit_stream(st, ts->sk, ctx, pos, ubuf, len, len, dir & 0xff, SONDE_EVF_TLS, ts->fn,
			   ts->sk_id);
}

/* `total` bytes spread over an iovec array (readv/writev/msghdr, or an
 * iov_iter's), whose buffers are user memory. */
__noinline int emit_iov(__u64 sk, __u64 iov, __u64 iovcnt, __u32 total, __u32 dir_flags)
{
	__u32 dir = dir_flags & 0xffff;
	bool in_kernel = dir_flags & IOV_IN_KERNEL;
	__u32 done = 0;
	for (int i = 0; i < SONDE_IOV_MAX; i++) {
		if (i >= iovcnt || done >= total)
			break;
		struct iovec v = {};
		void *at = (void *)(iov + i * sizeof(struct iovec));
		if (in_kernel ? bpf_probe_read_kernel(&v, sizeof(v), at) : bpf_probe_read_user(&v, sizeof(v), at))
			break;
		__u32 n = v.iov_len < total - done ? (__u32)v.iov_len : total - done;
		emit_bytes(sk, (__u64)v.iov_base, n, n, dir);
		done += n;
	}
	if (done < total) {
		count(SONDE_CNT_IOV_TRUNC_BYTES, total - done);
		emit_bytes(sk, 0, total - done, 0, dir);
	}
	return 0;
}

/* Store the call for its exit. An entry already there means the thread's
 * previous call never reached its exit (a missed exit): count it. */
static __always_inline void remember_call(__u32 tid, struct call *c)
{
	if (!bpf_map_update_elem(&calls, &tid, c, BPF_NOEXIST))
		return;
	if (bpf_map_lookup_elem(&calls, &tid))
		count(SONDE_CNT_MISSED_EXIT, 1);
	if (bpf_map_update_elem(&calls, &tid, c, BPF_ANY))
		count(SONDE_CNT_INFLIGHT_FULL, 1);
}

/* ---- TLS: what the socket hooks tell the TLS probes ---- */

/* A TLS library call in flight on a thread (see the TLS section below). */
struct tls_call {
	__u64 ctx; /* SSL*, gnutls_session_t or SSL BIO */
	__u64 buf;
	__u64 done_ptr; /* _ex variants: where the byte count is written */
	__u64 sk; /* the TCP socket a syscall inside the call used */
	__u64 fn; /* entry address: names the library in user space */
	__u64 sp; /* stack pointer at entry: matches the return */
	__u8 kind; /* enum tls_kind */
	__u8 dir;
	__u8 active;
};

/* Per thread: the call in flight, and what the thread did on sockets
 * lately, for libraries that never touch the socket inside their calls
 * (memory BIOs: Node.js, Envoy). Only threads that made a TLS call have an
 * entry, so other threads pay one failed lookup per socket call. */
struct tls_thread {
	struct tls_call call;
	__u64 last_rx_sk; /* the TCP socket this thread last read from */
	__u64 pending_ctx; /* a TLS connection waiting for its socket: the next send binds it */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tid */
	__type(value, struct tls_thread);
} tls_threads SEC(".maps");

/*
 * Bind a TLS connection of the current process to its socket. A context
 * seen on another socket than before was freed and reused by a new
 * connection: its stream starts over. A socket no hook has seen yet (a
 * connection older than sonde; Go's Write, taken before its syscall) gets
 * its state here, so its id stays the same from now on and its ciphertext
 * is counted, not copied, from its first byte.
 */
static __always_inline void tls_bind(struct sonde_tls_stream *ts, __u64 sk)
{
	struct sonde_sock_state *sst = port_wanted((struct sock *)sk) ? sock_get(sk)
								   : bpf_map_lookup_elem(&socks, &sk);
	__u64 sk_id = sst ? sst->id : 0;
	if (ts->sk == sk && (ts->sk_id == sk_id || !sst))
		return;
	if (ts->sk) {
		ts->st.id = new_id();
		ts->st.tx = ts->st.rx = 0;
		ts->st.lost = 0;
	}
	ts->sk = sk;
	ts->sk_id = sk_id;
	if (sst) {
		ts->st.role = sst->role;
		ts->st.midstream = sst->midstream;
		sst->tls = 1;
	}
}

/* A socket call on a thread that may be inside a TLS call. */
static __always_inline void tls_note_socket(__u64 sk, __u8 dir)
{
	if (!tls_on) /* --no-tls: not even the lookup, on every socket call */
		return;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct tls_thread *t = bpf_map_lookup_elem(&tls_threads, &tid);
	if (!t)
		return;
	if (dir == SONDE_EV_RX)
		t->last_rx_sk = sk;
	if (t->call.active) {
		if (!t->call.sk) {
			t->call.sk = sk;
			/* From now on the library's plaintext stands for this
			 * socket's bytes: its ciphertext is not copied (a
			 * socket seen for the first time gets its state now,
			 * before this call's exit would copy it). */
			struct sonde_sock_state *sst = port_wanted((struct sock *)sk)
							       ? sock_get(sk)
							       : bpf_map_lookup_elem(&socks, &sk);
			if (sst)
				sst->tls = 1;
		}
		return;
	}
	if (t->pending_ctx && dir == SONDE_EV_TX) {
		struct sonde_tls_key k = { .tgid = pid_tgid >> 32, .ctx = t->pending_ctx };
		struct sonde_tls_stream *ts = bpf_map_lookup_elem(&tls_streams, &k);
		if (ts && !ts->sk)
			tls_bind(ts, sk);
		t->pending_ctx = 0;
	}
}

/* ---- syscall tracepoints: data ---- */

static __always_inline int enter_io(int fd, __u64 buf, __u64 cnt, __u8 kind, __u8 dir)
{
	if (!process_wanted())
		return 0;
	__u64 sk = fd_to_tcp_sock(fd);
	/* Before connect() the socket has no ports: filter at its exit. */
	if (!sk)
		return 0;
	if (kind <= CALL_MMSG)
		tls_note_socket(sk, dir);
	if (kind != CALL_CONNECT && !port_wanted((struct sock *)sk))
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call c = { .sk = sk, .buf = buf, .cnt = cnt, .kind = kind, .dir = dir };
	remember_call(tid, &c);
	return 0;
}

static __always_inline int exit_io(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	struct call call = *c;
	bpf_map_delete_elem(&calls, &tid);
	if (ret <= 0)
		return 0;
	if (!sock_get(call.sk)) {
		if (call.kind != CALL_MMSG)
			count(SONDE_CNT_CLOSED_BYTES, (__u32)ret);
		return 0;
	}
	switch (call.kind) {
	case CALL_BUF:
		emit_bytes(call.sk, call.buf, (__u32)ret, (__u32)ret, call.dir);
		break;
	case CALL_IOV:
		emit_iov(call.sk, call.buf, call.cnt, (__u32)ret, call.dir);
		break;
	case CALL_MSG: {
		struct user_msghdr m = {};
		if (bpf_probe_read_user(&m, sizeof(m), (void *)call.buf))
			emit_bytes(call.sk, 0, (__u32)ret, 0, call.dir);
		else
			emit_iov(call.sk, (__u64)m.msg_iov, m.msg_iovlen, (__u32)ret, call.dir);
		break;
	}
	case CALL_MMSG:
		/* ret is a message count; each mmsghdr's msg_len says its bytes. */
		for (int i = 0; i < SONDE_MMSG_MAX; i++) {
			if (i >= ret)
				break;
			struct mmsghdr mm = {};
			if (bpf_probe_read_user(&mm, sizeof(mm), (void *)(call.buf + i * sizeof(mm))))
				break;
			emit_iov(call.sk, (__u64)mm.msg_hdr.msg_iov, mm.msg_hdr.msg_iovlen, mm.msg_len,
				 call.dir);
		}
		if (ret > SONDE_MMSG_MAX)
			count(SONDE_CNT_IOV_TRUNC_BYTES, 1);
		break;
	default: /* sendfile, splice: pages sonde cannot copy */
		count(SONDE_CNT_UNTRACED_BYTES, (__u32)ret);
		emit_bytes(call.sk, 0, (__u32)ret, 0, call.dir | (SONDE_EVF_UNTRACED) << 8);
	}
	return 0;
}

#define MSG_PEEK 2
#define NO_FLAGS 6 /* no flags argument: args[6] does not exist */

/* flagsarg: the call's flags argument; a MSG_PEEK read leaves the bytes
 * in the socket for the next read, so it is not followed. */
#define IO_TP(name, fdarg, bufarg, cntarg, flagsarg, kind, dir)                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                      \
	int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)                       \
	{                                                                                \
		if (flagsarg != NO_FLAGS && (ctx->args[flagsarg & 7] & MSG_PEEK))        \
			return 0;                                                        \
		return enter_io((int)ctx->args[fdarg], ctx->args[bufarg], ctx->args[cntarg], \
				kind, dir);                                              \
	}                                                                                \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                       \
	int tp_exit_##name(struct trace_event_raw_sys_exit *ctx)                         \
	{                                                                                \
		return exit_io(ctx->ret);                                                \
	}

IO_TP(write, 0, 1, 2, NO_FLAGS, CALL_BUF, SONDE_EV_TX)
IO_TP(read, 0, 1, 2, NO_FLAGS, CALL_BUF, SONDE_EV_RX)
IO_TP(sendto, 0, 1, 2, NO_FLAGS, CALL_BUF, SONDE_EV_TX)
IO_TP(recvfrom, 0, 1, 2, 3, CALL_BUF, SONDE_EV_RX)
IO_TP(writev, 0, 1, 2, NO_FLAGS, CALL_IOV, SONDE_EV_TX)
IO_TP(readv, 0, 1, 2, NO_FLAGS, CALL_IOV, SONDE_EV_RX)
IO_TP(sendmsg, 0, 1, 1, NO_FLAGS, CALL_MSG, SONDE_EV_TX)
IO_TP(recvmsg, 0, 1, 1, 2, CALL_MSG, SONDE_EV_RX)
IO_TP(sendmmsg, 0, 1, 2, NO_FLAGS, CALL_MMSG, SONDE_EV_TX)
IO_TP(recvmmsg, 0, 1, 2, 3, CALL_MMSG, SONDE_EV_RX)

/* ---- kernel TCP functions: data (kprobe and fentry) ---- */

/* iov_iter across kernel versions (CO-RE flavours). */
struct iov_iter___v64 { /* 6.4+: __iov, ubuf */
	u8 iter_type;
	size_t iov_offset;
	const struct iovec *__iov;
	void *ubuf;
	size_t count;
	unsigned long nr_segs;
} __attribute__((preserve_access_index));

struct iov_iter___v514 { /* 5.14 - 6.3: iter_type, iov */
	u8 iter_type;
	size_t iov_offset;
	const struct iovec *iov;
	size_t count;
	unsigned long nr_segs;
} __attribute__((preserve_access_index));

struct iov_iter___v50 { /* 5.0 - 5.13: type bits, iov */
	unsigned int type;
	size_t iov_offset;
	const struct iovec *iov;
	size_t count;
	unsigned long nr_segs;
} __attribute__((preserve_access_index));

/* Remember the user memory behind msg for the matching return. */
static __always_inline int kfunc_enter(struct sock *sk, struct msghdr *msg, __u8 dir)
{
	if (!process_wanted() || !sk || !port_wanted(sk))
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	tls_note_socket((__u64)sk, dir);
	struct call c = { .sk = (__u64)sk, .dir = dir, .kind = CALL_OTHER };
	void *it = &msg->msg_iter;
	if (bpf_core_field_exists(((struct iov_iter___v64 *)0)->__iov)) {
		struct iov_iter___v64 *i = it;
		__u8 t = BPF_CORE_READ(i, iter_type);
		__u64 off = BPF_CORE_READ(i, iov_offset);
		if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
		    t == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
			c.kind = CALL_BUF;
			c.buf = (__u64)BPF_CORE_READ(i, ubuf) + off;
		} else if (t == bpf_core_enum_value(enum iter_type, ITER_IOVEC) && !off) {
			c.kind = CALL_KIOV;
			c.buf = (__u64)BPF_CORE_READ(i, __iov);
			c.cnt = BPF_CORE_READ(i, nr_segs);
		}
	} else if (bpf_core_field_exists(((struct iov_iter___v514 *)0)->iter_type)) {
		struct iov_iter___v514 *i = it;
		__u8 t = BPF_CORE_READ(i, iter_type);
		__u64 off = BPF_CORE_READ(i, iov_offset);
		if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
		    t == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
			c.kind = CALL_BUF;
			c.buf = (__u64)BPF_CORE_READ(i, iov) + off; /* ubuf shares the slot */
		} else if (t == bpf_core_enum_value(enum iter_type, ITER_IOVEC) && !off) {
			c.kind = CALL_KIOV;
			c.buf = (__u64)BPF_CORE_READ(i, iov);
			c.cnt = BPF_CORE_READ(i, nr_segs);
		}
	} else {
		struct iov_iter___v50 *i = it;
		unsigned int t = BPF_CORE_READ(i, type);
		if ((t & 4 /* ITER_IOVEC */) && !BPF_CORE_READ(i, iov_offset)) {
			c.kind = CALL_KIOV;
			c.buf = (__u64)BPF_CORE_READ(i, iov);
			c.cnt = BPF_CORE_READ(i, nr_segs);
		}
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	remember_call(tid, &c);
	return 0;
}

static __always_inline int kfunc_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	struct call call = *c;
	bpf_map_delete_elem(&calls, &tid);
	if (ret <= 0)
		return 0;
	if (!sock_get(call.sk)) {
		count(SONDE_CNT_CLOSED_BYTES, (__u32)ret);
		return 0;
	}
	if (call.kind == CALL_BUF)
		emit_bytes(call.sk, call.buf, (__u32)ret, (__u32)ret, call.dir);
	else if (call.kind == CALL_KIOV)
		emit_iov(call.sk, call.buf, call.cnt, (__u32)ret, call.dir | IOV_IN_KERNEL);
	else { /* kernel memory (sendfile's pages, io_uring fixed buffers): a gap */
		count(SONDE_CNT_UNTRACED_BYTES, (__u32)ret);
		emit_bytes(call.sk, 0, (__u32)ret, 0, call.dir | (SONDE_EVF_UNTRACED) << 8);
	}
	return 0;
}

SEC("?kprobe/tcp_sendmsg")
int BPF_KPROBE(kp_tcp_sendmsg, struct sock *sk, struct msghdr *msg)
{
	return kfunc_enter(sk, msg, SONDE_EV_TX);
}

SEC("?kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(krp_tcp_sendmsg, int ret)
{
	return kfunc_exit(ret);
}

SEC("?kprobe/tcp_recvmsg")
int BPF_KPROBE(kp_tcp_recvmsg, struct sock *sk, struct msghdr *msg)
{
	/* flags: 4th argument since 5.19, 5th before (after `nonblock`) */
	__u64 f4 = PT_REGS_PARM4(ctx), f5 = PT_REGS_PARM5(ctx);
	/* both loaded at fixed offsets: the verifier refuses a computed
	 * context offset, which selecting the address would produce */
	barrier_var(f4);
	barrier_var(f5);
	if ((recvmsg_nonblock ? f5 : f4) & MSG_PEEK)
		return 0;
	return kfunc_enter(sk, msg, SONDE_EV_RX);
}

SEC("?kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(krp_tcp_recvmsg, int ret)
{
	return kfunc_exit(ret);
}

SEC("?fentry/tcp_sendmsg")
int BPF_PROG(fe_tcp_sendmsg, struct sock *sk, struct msghdr *msg)
{
	return kfunc_enter(sk, msg, SONDE_EV_TX);
}

SEC("?fexit/tcp_sendmsg")
int BPF_PROG(fx_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	return kfunc_exit(ret);
}

SEC("?fentry/tcp_recvmsg")
int BPF_PROG(fe_tcp_recvmsg, struct sock *sk, struct msghdr *msg)
{
	__u64 f3 = ctx[3], f4 = ctx[4];
	barrier_var(f3);
	barrier_var(f4);
	if ((recvmsg_nonblock ? f4 : f3) & MSG_PEEK)
		return 0;
	return kfunc_enter(sk, msg, SONDE_EV_RX);
}

/* 5.19+: tcp_recvmsg(sk, msg, len, flags, addr_len) */
SEC("?fexit/tcp_recvmsg")
int BPF_PROG(fx_tcp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	return kfunc_exit(ret);
}

/* Before 5.19: tcp_recvmsg(sk, msg, len, nonblock, flags, addr_len), so the
 * return value is the seventh slot (user space loads the one that matches the
 * kernel's BTF; reading the sixth as `ret` is refused: it is addr_len). */
SEC("?fexit/tcp_recvmsg")
int fx_tcp_recvmsg_nonblock(unsigned long long *ctx)
{
	return kfunc_exit((int)ctx[6]);
}

/* ---- bytes outside traced calls: io_uring, sendfile, splice ---- */

/*
 * sock:sock_send_length / sock_recv_length (6.4+) fire for every socket
 * send and receive. Inside a traced call the exit handles the bytes; anything
 * else moved bytes sonde cannot copy: count them so the position stays exact.
 */
/* A BTF pointer as a plain number (global functions take scalars only). */
static __always_inline __u64 ptr_value(const void *p)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), &p);
	return v;
}

static __always_inline int untraced(struct sock *sk, int ret, __u8 dir)
{
	/* Runs for every socket send/receive on the host: the cheapest tests
	 * first (a direct read through the BTF pointer, no map lookup). */
	if (ret <= 0 || !sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (bpf_map_lookup_elem(&calls, &tid))
		return 0;
	__u64 skp = ptr_value(sk);
	/* The syscall hooks follow wanted processes only; so does this (a
	 * socket shared across fork, used by an unwanted process, is not). */
	if (!process_wanted())
		return 0;
	if (!bpf_map_lookup_elem(&socks, &skp)) {
		/* Sockets get state on first sight, if their ports are wanted. */
		if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || !port_wanted(sk))
			return 0;
		__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
		if (family != AF_INET && family != AF_INET6)
			return 0;
		if (!sock_get(skp)) {
			count(SONDE_CNT_CLOSED_BYTES, (__u32)ret);
			return 0;
		}
	}
	count(SONDE_CNT_UNTRACED_BYTES, (__u32)ret);
	return emit_bytes(skp, 0, (__u32)ret, 0, dir | (SONDE_EVF_UNTRACED) << 8);
}

SEC("?tp_btf/sock_send_length")
int BPF_PROG(tb_sock_send_length, struct sock *sk, int ret, int flags)
{
	return untraced(sk, ret, SONDE_EV_TX);
}

SEC("?tp_btf/sock_recv_length")
int BPF_PROG(tb_sock_recv_length, struct sock *sk, int ret, int flags)
{
	if (flags & MSG_PEEK) /* the bytes stay for the next read */
		return 0;
	return untraced(sk, ret, SONDE_EV_RX);
}

/* Before 6.4 (no sock_*_length): sendfile and splice into a socket. */
SEC("?tracepoint/syscalls/sys_enter_sendfile64")
int tp_enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	return enter_io((int)ctx->args[0], 0, 0, CALL_OTHER, SONDE_EV_TX);
}

SEC("?tracepoint/syscalls/sys_exit_sendfile64")
int tp_exit_sendfile64(struct trace_event_raw_sys_exit *ctx)
{
	return exit_io(ctx->ret);
}

SEC("?tracepoint/syscalls/sys_enter_splice")
int tp_enter_splice(struct trace_event_raw_sys_enter *ctx)
{
	/* splice(fd_in, off_in, fd_out, ...): bytes into a socket, or out of one */
	__u64 sk_out = fd_to_tcp_sock((int)ctx->args[2]);
	if (sk_out)
		return enter_io((int)ctx->args[2], 0, 0, CALL_OTHER, SONDE_EV_TX);
	return enter_io((int)ctx->args[0], 0, 0, CALL_OTHER, SONDE_EV_RX);
}

SEC("?tracepoint/syscalls/sys_exit_splice")
int tp_exit_splice(struct trace_event_raw_sys_exit *ctx)
{
	return exit_io(ctx->ret);
}

/* ---- lifecycle ---- */

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
	if (p)
		emit_control(sk, p, SONDE_EV_OPEN);
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
	if (ctx->newstate != TCP_CLOSE || ctx->protocol != IPPROTO_TCP)
		return 0;
	__u64 sk = (__u64)ctx->skaddr;
	struct sonde_sock_state *st = bpf_map_lookup_elem(&socks, &sk);
	if (!st)
		return 0;
	emit_control(sk, st, SONDE_EV_CLOSE);
	bpf_map_delete_elem(&socks, &sk);
	bpf_map_delete_elem(&ignored, &sk);
	return 0;
}

/* The TLS probes: libraries, then Go programs. */
#include "tls.bpf.h"
#include "go_tls.bpf.h"
