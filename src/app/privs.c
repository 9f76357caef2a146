/* SPDX-License-Identifier: MIT */
/* Capability drop, user switch, no_new_privs and the seccomp filter (privs.h). */
#include "app/privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const cap_names[] = {
	"cap_chown",
	"cap_dac_override",
	"cap_dac_read_search",
	"cap_fowner",
	"cap_fsetid",
	"cap_kill",
	"cap_setgid",
	"cap_setuid",
	"cap_setpcap",
	"cap_linux_immutable",
	"cap_net_bind_service",
	"cap_net_broadcast",
	"cap_net_admin",
	"cap_net_raw",
	"cap_ipc_lock",
	"cap_ipc_owner",
	"cap_sys_module",
	"cap_sys_rawio",
	"cap_sys_chroot",
	"cap_sys_ptrace",
	"cap_sys_pacct",
	"cap_sys_admin",
	"cap_sys_boot",
	"cap_sys_nice",
	"cap_sys_resource",
	"cap_sys_time",
	"cap_sys_tty_config",
	"cap_mknod",
	"cap_lease",
	"cap_audit_write",
	"cap_audit_control",
	"cap_setfcap",
	"cap_mac_override",
	"cap_mac_admin",
	"cap_syslog",
	"cap_wake_alarm",
	"cap_block_suspend",
	"cap_audit_read",
	"cap_perfmon",
	"cap_bpf",
	"cap_checkpoint_restore",
};

#define CAP_NAMES (sizeof(cap_names) / sizeof(cap_names[0]))

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	return (int)syscall(SYS_capget, &h, d);
}

static int caps_set(sonde_caps eff, sonde_caps prm, sonde_caps inh)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	for (int i = 0; i < 2; i++) {
		d[i].effective = (uint32_t)(eff >> (32 * i));
		d[i].permitted = (uint32_t)(prm >> (32 * i));
		d[i].inheritable = (uint32_t)(inh >> (32 * i));
	}
	return (int)syscall(SYS_capset, &h, d);
}

sonde_caps sonde_caps_effective(void)
{
	struct __user_cap_data_struct d[2];
	if (caps_get(d) < 0)
		return 0;
	return (sonde_caps)d[0].effective | (sonde_caps)d[1].effective << 32;
}

sonde_caps sonde_caps_permitted(void)
{
	struct __user_cap_data_struct d[2];
	if (caps_get(d) < 0)
		return 0;
	return (sonde_caps)d[0].permitted | (sonde_caps)d[1].permitted << 32;
}

void sonde_caps_format(sonde_caps c, char *out, size_t len)
{
	size_t k = 0;
	out[0] = 0;
	for (unsigned i = 0; i < 64 && k < len; i++) {
		if (!(c & SONDE_CAP(i)))
			continue;
		int n = i < CAP_NAMES
				? snprintf(out + k, len - k, "%s%s", k ? "," : "", cap_names[i])
				: snprintf(out + k, len - k, "%scap_%u", k ? "," : "", i);
		k += n > 0 ? (size_t)n : 0;
	}
	if (!c)
		snprintf(out, len, "none");
}

/* Calls sonde never makes once running, refused with EPERM: running other
 * programs, touching other processes' memory, mounts, modules, the clock,
 * keys, namespaces. A denylist rather than an allowlist because libbpf,
 * libpcap, nghttp2 and glibc's NSS choose their own calls; what is on it
 * is what an attacker who took sonde over would want. Written out here
 * rather than with libseccomp to keep cross builds and the image free of
 * another library for a list of numbers. */
/* LeakSanitizer stops the world with ptrace from a task of its own at exit:
 * an ASan build must let it through. */
#if defined(__SANITIZE_ADDRESS__)
#define SONDE_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SONDE_UNDER_ASAN 1
#endif
#endif

static const int denied[] = {
	__NR_execve,
	__NR_execveat,
#ifndef SONDE_UNDER_ASAN
	__NR_ptrace,
#endif
	__NR_process_vm_writev,
	__NR_process_vm_readv,
	__NR_mount,
	__NR_umount2,
	__NR_pivot_root,
	__NR_chroot,
	__NR_swapon,
	__NR_swapoff,
	__NR_reboot,
	__NR_kexec_load,
	__NR_kexec_file_load,
	__NR_init_module,
	__NR_finit_module,
	__NR_delete_module,
	__NR_open_by_handle_at,
	__NR_userfaultfd,
	__NR_keyctl,
	__NR_add_key,
	__NR_request_key,
	__NR_acct,
	__NR_settimeofday,
	__NR_clock_settime,
	__NR_adjtimex,
	__NR_clock_adjtime,
	__NR_unshare,
	__NR_quotactl,
	__NR_syslog,
	__NR_vhangup,
#ifdef __NR_iopl
	__NR_iopl,
#endif
#ifdef __NR_ioperm
	__NR_ioperm,
#endif
#ifdef __NR_move_mount
	__NR_move_mount,
	__NR_open_tree,
	__NR_fsopen,
	__NR_fsmount,
	__NR_fsconfig,
	__NR_fspick,
#endif
};

#define DENIED (sizeof(denied) / sizeof(denied[0]))

#if defined(__x86_64__)
#define SONDE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SONDE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static int seccomp_install(bool allow_setns)
{
#ifdef SONDE_AUDIT_ARCH
	struct sock_filter f[DENIED + 12];
	unsigned n = 0;
	const uint32_t eperm = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SONDE_AUDIT_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, eperm); /* another ABI: never ours */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	unsigned first_check = n;
	unsigned checks = (unsigned)DENIED + !allow_setns;
#ifdef __x86_64__
	checks++; /* the x32 ABI's numbers */
#endif
	/* each check jumps to the EPERM return after the list and the allow */
	unsigned deny_at = first_check + checks + 1;
#ifdef __x86_64__
	f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u,
					    (uint8_t)(deny_at - n - 1), 0);
	n++;
#endif
	for (size_t i = 0; i < DENIED; i++, n++)
		f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)denied[i],
						    (uint8_t)(deny_at - n - 1), 0);
	if (!allow_setns) {
		f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setns,
						    (uint8_t)(deny_at - n - 1), 0);
		n++;
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, eperm);
	struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
#else
	(void)allow_setns;
	return 0;
#endif
}

static int switch_user(const struct passwd *pw, char *why, size_t whylen)
{
	const char *user = pw->pw_name;
	gid_t groups[64];
	int ng = 64;
	if (getgrouplist(user, pw->pw_gid, groups, &ng) < 0)
		ng = 0; /* more than 64: the primary group alone */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    setgroups(ng ? (size_t)ng : 1, ng ? groups : &pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		snprintf(why, whylen, "--user %s: %s", user, strerror(errno));
		return -1;
	}
	return 0;
}

int sonde_privs_drop(const struct sonde_privs_plan *p, char *why, size_t whylen)
{
	sonde_caps had = sonde_caps_permitted();
	sonde_caps keep = p->keep & had;
	struct passwd *pw = NULL;
	if (p->user && !(pw = getpwnam(p->user))) {
		snprintf(why, whylen, "--user %s: no such user", p->user);
		return -1;
	}
	/* The bounding set first, while CAP_SETPCAP is effective; then the
	 * user, while CAP_SETUID and CAP_SETGID are (setuid clears the
	 * effective set; PR_SET_KEEPCAPS keeps the permitted one). */
	for (int c = 0; c < 64; c++)
		if (!(keep & SONDE_CAP(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno == EINVAL)
			break; /* past the kernel's last capability */
	if (pw && switch_user(pw, why, whylen) < 0)
		return -1;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (caps_set(keep, keep, 0) < 0) {
		snprintf(why, whylen, "dropping capabilities: %s", strerror(errno));
		return -1;
	}
	if (p->user)
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(why, whylen, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	if (seccomp_install(p->allow_setns) < 0) {
		snprintf(why, whylen, "installing the seccomp filter: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int sonde_privs_drop_all(char *why, size_t whylen)
{
	const struct sonde_privs_plan none = { .keep = 0 };
	return sonde_privs_drop(&none, why, whylen);
}

void sonde_privs_thread_keep(sonde_caps keep)
{
	keep &= sonde_caps_permitted();
	caps_set(keep, keep, 0); /* best effort: a thread keeps less, never more */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}
