/* SPDX-License-Identifier: MIT */
/*
 * In a container image sonde's file carries its capabilities as permitted
 * only (setcap ...+p, deploy/image/Containerfile), so that a pod granting
 * fewer of them (a packet source needs no CAP_BPF) can still exec it — with
 * the effective bit set the kernel refuses a program that would not get
 * all of its file's capabilities. Being capability-aware, sonde makes what
 * it was permitted effective itself.
 */
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli/cli.h"

void sonde_raise_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &h, d) < 0)
		return;
	int changed = 0;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		changed |= d[i].effective != d[i].permitted;
		d[i].effective = d[i].permitted;
	}
	if (changed)
		syscall(SYS_capset, &h, d); /* best effort: what is missing is said later */
}
