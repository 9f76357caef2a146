/* SPDX-License-Identifier: MIT */
/*
 * The hook list of bpf/sonde_events.h (SONDE_HOOKS) as user space reads it:
 * every --ebpf-hook name maps to the kind the kernel writes into events,
 * "auto" to SONDE_HOOK_AUTO, anything else is refused and leaves the option
 * alone. And the kernel counters (SONDE_KCOUNTERS) into the stats.
 */
#include "testutil.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hook_names),
		cmocka_unit_test(hook_names_refused),
		cmocka_unit_test(kcounters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
