/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Calls in flight (the calls map, by thread): stored at a hook's entry,
 * taken at its exit.
 */
#ifndef SONDE_BPF_CALLS_H
#define SONDE_BPF_CALLS_H

#include "lib/maps.h"

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

/* The call the current thread's exit ends, taken out of the map; false if
 * its entry was not traced. */
static __always_inline bool take_call(struct call *out)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return false;
	*out = *c;
	bpf_map_delete_elem(&calls, &tid);
	return true;
}

#endif
