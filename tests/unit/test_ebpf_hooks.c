/* SPDX-License-Identifier: MIT */
/*
 * The hook list of bpf/sonde_events.h (SONDE_HOOKS) as user space reads it:
 * every --ebpf-hook name maps to the kind the kernel writes into events,
 * "auto" to SONDE_HOOK_AUTO, anything else is refused and leaves the option
 * alone. And the kernel counters (SONDE_KCOUNTERS) into the stats.
 */
#include "testutil.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <unistd.h>

#include "source/ebpf/ebpf.h"
#include "source/ebpf/ebpf_priv.h"

static void hook_names(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int hook;
	} want[] = {
		{ "auto", SONDE_HOOK_AUTO },
		{ "tracepoint", SONDE_HOOK_TRACEPOINT },
		{ "kprobe", SONDE_HOOK_KPROBE },
		{ "fentry", SONDE_HOOK_FENTRY },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int h = 1234;
		assert_true(sonde_ebpf_hook_from_name(want[i].name, &h));
		assert_int_equal(h, want[i].hook);
	}
	/* The kinds are the values of the event format (version 2). */
	assert_int_equal(SONDE_HOOK_TRACEPOINT, 0);
	assert_int_equal(SONDE_HOOK_KPROBE, 1);
	assert_int_equal(SONDE_HOOK_FENTRY, 2);
	assert_int_equal(SONDE_HOOK__COUNT, 3);
}

static void hook_names_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "Fentry", "fexit", "kprobe ", "tp", "autox", "trace"
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int h = 1234;
		assert_false(sonde_ebpf_hook_from_name(bad[i], &h));
		assert_int_equal(h, 1234);
	}
}

/* The kernel counters into stats: each where SONDE_KCOUNTERS says, the
 * paired ones summed, the fields set (totals since load) rather than added
 * to, and nothing else touched. */
static void kcounters(void **state)
{
	(void)state;
	uint64_t sum[SONDE_CNT__MAX];
	for (int i = 0; i < SONDE_CNT__MAX; i++)
		sum[i] = 1000u * (unsigned)(i + 1);
	struct sonde_stats st;
	memset(&st, 0x5a, sizeof(st)); /* stale values: must be replaced */
	struct sonde_stats untouched = st;
	ebpf_stats_from_counters(&st, sum);
	assert_int_equal(st.ebpf_kernel_events, sum[SONDE_CNT_EVENTS]);
	assert_int_equal(st.ebpf_bytes, sum[SONDE_CNT_BYTES]);
	assert_int_equal(st.ebpf_captured_bytes, sum[SONDE_CNT_CAPTURED]);
	assert_int_equal(st.ebpf_ringbuf_drops, sum[SONDE_CNT_RB_DROPS]);
	assert_int_equal(st.ebpf_ringbuf_drop_bytes, sum[SONDE_CNT_RB_DROP_BYTES]);
	assert_int_equal(st.ebpf_truncated_bytes,
			 sum[SONDE_CNT_TRUNC_BYTES] + sum[SONDE_CNT_IOV_TRUNC_BYTES]);
	assert_int_equal(st.ebpf_read_failures, sum[SONDE_CNT_READ_FAILED]);
	assert_int_equal(st.ebpf_untraced_bytes, sum[SONDE_CNT_UNTRACED_BYTES]);
	assert_int_equal(st.ebpf_missed_calls,
			 sum[SONDE_CNT_INFLIGHT_FULL] + sum[SONDE_CNT_SOCK_MAP_FULL]);
	assert_int_equal(st.ebpf_ignored_bytes, sum[SONDE_CNT_IGNORED_BYTES]);
	assert_int_equal(st.ebpf_missed_exits, sum[SONDE_CNT_MISSED_EXIT]);
	assert_int_equal(st.ebpf_closed_socket_bytes, sum[SONDE_CNT_CLOSED_BYTES]);
	assert_int_equal(st.tls_calls, sum[SONDE_CNT_TLS_CALLS]);
	assert_int_equal(st.tls_plaintext_bytes, sum[SONDE_CNT_TLS_BYTES]);
	assert_int_equal(st.tls_ciphertext_bytes, sum[SONDE_CNT_TLS_CIPHER_BYTES]);
	assert_int_equal(st.tls_unbound_calls, sum[SONDE_CNT_TLS_UNBOUND]);
	assert_int_equal(st.tls_go_unresolved, sum[SONDE_CNT_GO_UNRESOLVED]);
	assert_int_equal(st.tls_go_closed_writes, sum[SONDE_CNT_GO_CLOSED]);
	/* Fields the kernel does not count stay as they were. */
	assert_int_equal(st.ebpf_events, untouched.ebpf_events);
	assert_int_equal(st.ebpf_bad_events, untouched.ebpf_bad_events);
	assert_int_equal(st.tls_unbound_bytes, untouched.tls_unbound_bytes);
	assert_int_equal(st.duplicate_peer_bytes, untouched.duplicate_peer_bytes);
	assert_int_equal(st.records, untouched.records);
}

/* A kept socket is one connection's entries in all three maps, as
 * end_kept and ebpf_owns_tuple leave them. */
static void keep_socket(struct sonde_ebpf *e, uint64_t conn_id, uint64_t sk, uint64_t tuple)
{
	sonde_u64map_put(&e->sockets, conn_id, sk);
	sonde_u64map_put(&e->owners, tuple, conn_id);
	sonde_u64map_put(&e->owned, conn_id, tuple);
}

/* Sockets whose close a full ring lost: released once the kernel's socket
 * map (a real one, the capture's key and value) no longer holds them under
 * their id; the ones it holds stay, whatever their number. */
static void sweep_lost_closes(void **state)
{
	(void)state;
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sonde_test_socks", sizeof(uint64_t),
				sizeof(struct sonde_sock_state), 4096, NULL);
	if (fd < 0) {
		print_message("SKIP sweep_lost_closes: no BPF map (%s): run as root\n",
			      strerror(errno));
		skip();
	}
	struct sonde_stats st = { 0 };
	struct sonde_ebpf e = { .stats = &st };
	ebpf_tables_init(&e);
	/* 1000 connections; the kernel holds the even ones, and one odd socket
	 * under another id (its address reused by a later connection). */
	for (uint64_t id = 1; id <= 1000; id++) {
		uint64_t sk = 0xffff888000000000ull + id * 64;
		keep_socket(&e, id, sk, 0x7000 + id);
		struct sonde_sock_state ks = { .id = id % 2 ? 0 : id };
		if (id == 501)
			ks.id = 5001;
		if (ks.id)
			assert_int_equal(bpf_map_update_elem(fd, &sk, &ks, BPF_ANY), 0);
	}
	assert_int_equal(ebpf_sweep_sockets(&e, fd), 500);
	assert_int_equal(st.ebpf_lost_closes, 500);
	for (uint64_t id = 1; id <= 1000; id++) {
		uint64_t v;
		bool kept = id % 2 == 0;
		assert_int_equal(sonde_u64map_get(&e.sockets, id, &v), kept);
		assert_int_equal(sonde_u64map_get(&e.owned, id, &v), kept);
		assert_int_equal(sonde_u64map_get(&e.owners, 0x7000 + id, &v), kept);
	}
	assert_int_equal(ebpf_sweep_sockets(&e, fd), 0); /* nothing more to find */
	ebpf_tables_free(&e);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hook_names),
		cmocka_unit_test(hook_names_refused),
		cmocka_unit_test(kcounters),
		cmocka_unit_test(sweep_lost_closes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
