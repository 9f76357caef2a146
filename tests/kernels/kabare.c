/* SPDX-License-Identifier: MIT */
/*
 * kabare: bare probes on sonde's kernel-function hooks, the floor that
 * bench/kernel_overhead measures sonde against in the QEMU guests.
 *
 *   kabare kprobe|fentry   attach bpf/bare_probes.bpf.c's programs of that
 *                          family to tcp_sendmsg and tcp_recvmsg, print
 *                          "ready", and on SIGINT/SIGTERM print the runs
 *                          counted and exit
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bare_probes.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "kprobe") && strcmp(argv[1], "fentry"))) {
		fprintf(stderr, "usage: kabare kprobe|fentry\n");
		return 2;
	}
	bool kprobe = !strcmp(argv[1], "kprobe");
	struct sonde_bare_probes *skel = sonde_bare_probes__open();
	if (!skel)
		return 1;
	struct bpf_program *kp[] = { skel->progs.bare_kp_sendmsg, skel->progs.bare_krp_sendmsg,
				     skel->progs.bare_kp_recvmsg, skel->progs.bare_krp_recvmsg };
	struct bpf_program *fe[] = { skel->progs.bare_fe_sendmsg, skel->progs.bare_fx_sendmsg,
				     skel->progs.bare_fe_recvmsg, skel->progs.bare_fx_recvmsg };
	for (int i = 0; i < 4; i++) {
		bpf_program__set_autoload(kp[i], kprobe);
		bpf_program__set_autoload(fe[i], !kprobe);
	}
	if (sonde_bare_probes__load(skel) || sonde_bare_probes__attach(skel)) {
		fprintf(stderr, "kabare: loading or attaching the %s probes failed\n", argv[1]);
		sonde_bare_probes__destroy(skel);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
	long ncpu = libbpf_num_possible_cpus();
	unsigned long long sum = 0, v[ncpu > 0 ? ncpu : 1];
	__u32 k = 0;
	if (ncpu > 0 && !bpf_map__lookup_elem(skel->maps.hits, &k, sizeof(k), v, sizeof(v), 0))
		for (long c = 0; c < ncpu; c++)
			sum += v[c];
	printf("runs %llu\n", sum);
	sonde_bare_probes__destroy(skel);
	return 0;
}
