/* SPDX-License-Identifier: MIT */
/*
 * Sockets whose close event was lost. A full ring drops events, a close
 * among them, and the kernel's LRU socket map can evict a socket's state: the
 * socket is gone from the kernel, but user space's sockets/owners/owned maps
 * keep it (unbounded: one entry per connection ever lost that way). Now and
 * then, and soon after new ring drops, each kept socket is looked up in the
 * kernel's map; one no longer there under its id is released and counted.
 * The connection table closes its connection by its own idle timeout.
 * New drops also tell the process hook: an exec or exit may be lost.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdlib.h>

#include "capture.skel.h"
#include "core/buf.h"
#include "source/ebpf/ebpf_priv.h"

#define SWEEP_AFTER_DROPS_NS (5ull * 1000000000) /* soon after ring drops */
#define SWEEP_ANYWAY_NS (60ull * 1000000000) /* LRU evictions leave no count */

static uint64_t ring_drops(const struct sonde_ebpf *e)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return 0;
	uint64_t *vals = sonde_xcalloc((size_t)ncpu, sizeof(uint64_t));
	uint32_t k = SONDE_CNT_RB_DROPS;
	uint64_t sum = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.counters), &k, vals) == 0)
		for (int c = 0; c < ncpu; c++)
			sum += vals[c];
	free(vals);
	return sum;
}

/* Whether the kernel still holds socket sk as connection conn_id. */
static bool kernel_has(int socks_fd, uint64_t sk, uint64_t conn_id)
{
	struct sonde_sock_state st;
	return bpf_map_lookup_elem(socks_fd, &sk, &st) == 0 && st.id == conn_id;
}

size_t ebpf_sweep_sockets(struct sonde_ebpf *e, int socks_fd)
{
	int fd = socks_fd;
	size_t n = 0, cap = 64;
	uint64_t *gone = sonde_xcalloc(cap, sizeof(*gone));
	/* Collected first: releasing moves entries of the open-addressed map. */
	for (size_t i = 0; i < e->sockets.cap; i++) {
		uint64_t conn_id = e->sockets.keys[i];
		if (!conn_id || kernel_has(fd, e->sockets.vals[i], conn_id))
			continue;
		if (n == cap)
			gone = sonde_xrealloc(gone, (cap *= 2) * sizeof(*gone));
		gone[n++] = conn_id;
	}
	for (size_t i = 0; i < n; i++)
		ebpf_release(e, gone[i]);
	e->stats->ebpf_lost_closes += n;
	free(gone);
	return n;
}

void ebpf_sweep_lost_closes(struct sonde_ebpf *e, uint64_t now_ns)
{
	uint64_t since = now_ns - e->sweep_last_ns;
	if (since < SWEEP_AFTER_DROPS_NS)
		return;
	uint64_t drops = ring_drops(e);
	if (drops == e->sweep_drops && since < SWEEP_ANYWAY_NS)
		return;
	if (drops != e->sweep_drops) /* an exec or exit event may be among them */
		ebpf_tell_proc(e, SONDE_PROC_LOST, 0);
	e->sweep_drops = drops;
	e->sweep_last_ns = now_ns;
	ebpf_sweep_sockets(e, bpf_map__fd(e->skel->maps.socks));
}
