/* SPDX-License-Identifier: MIT */
/* What the eBPF packet sources (tc, cgroup_skb) share of their ring buffers
 * and kernel counters (live.h); apart from live.c, whose libpcap headers
 * clash with the kernel's BPF ones. */
#include "source/packet/live.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdlib.h>

#include "core/stats.h"

uint32_t sonde_packet_ring_bytes(size_t ring_size)
{
	uint32_t size = 1u << 20;
	while (size < ring_size && size < (1u << 30))
		size <<= 1;
	return size;
}

void sonde_packet_percpu_drops(int map_fd, uint32_t key, uint64_t *seen, struct sonde_stats *st)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return;
	uint64_t *v = calloc((size_t)ncpu, sizeof(*v));
	if (v && !bpf_map_lookup_elem(map_fd, &key, v)) {
		uint64_t drops = 0;
		for (int i = 0; i < ncpu; i++)
			drops += v[i];
		if (drops > *seen) {
			st->packet_kernel_drops += drops - *seen;
			*seen = drops;
		}
	}
	free(v);
}
