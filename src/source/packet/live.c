/* SPDX-License-Identifier: MIT */
/* What both live packet sources use: the filter compiler and namespaces. */
#include "source/packet/live.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sonde_packet_compile(const char *filter, int dlt, uint32_t snaplen, struct bpf_program *prog,
			 char *err, size_t errlen)
{
	pcap_t *p = pcap_open_dead(dlt, (int)snaplen);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = pcap_compile(p, prog, filter, 1, PCAP_NETMASK_UNKNOWN);
	if (rc < 0)
		snprintf(err, errlen, "--filter '%s': %s", filter, pcap_geterr(p));
	pcap_close(p);
	return rc < 0 ? -1 : 0;
}

int sonde_netns_enter(const char *netns, int *saved, char *err, size_t errlen)
{
	*saved = -1;
	if (!netns)
		return 0;
	int fd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "network namespace %s: %s", netns, strerror(errno));
		return -1;
	}
	*saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0 || setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot enter network namespace %s: %s%s", netns, strerror(e),
			 e == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		close(fd);
		if (*saved >= 0)
			close(*saved);
		*saved = -1;
		return -1;
	}
	close(fd);
	return 0;
}

void sonde_netns_leave(int saved)
{
	if (saved < 0)
		return;
	/* Coming back cannot fail for a process that could leave. */
	if (setns(saved, CLONE_NEWNET) < 0)
		abort();
	close(saved);
}
