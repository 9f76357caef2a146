/* SPDX-License-Identifier: MIT */
/* The eBPF source's row in the source table: the calls of ebpf.h. */
#include "source/ebpf/ebpf.h"
#include "source/source.h"

static void *ebpf_open(const void *opts, const struct sonde_source_env *env, char *err,
		       size_t errlen)
{
	return sonde_ebpf_open(opts, env, err, errlen);
}

static int ebpf_fd(void *e)
{
	return sonde_ebpf_fd(e);
}

static int ebpf_poll(void *e, int timeout_ms)
{
	return sonde_ebpf_poll(e, timeout_ms);
}

static void ebpf_stats(void *e)
{
	sonde_ebpf_update_stats(e);
}

static const char *ebpf_error(void *e)
{
	(void)e; /* poll's errno says it all */
	return NULL;
}

static void ebpf_close(void *e)
{
	sonde_ebpf_close(e);
}

const struct sonde_source_ops sonde_source_ebpf = {
	.name = "ebpf",
	.live = true,
	.open = ebpf_open,
	.fd = ebpf_fd,
	.poll = ebpf_poll,
	.ignore = sonde_ebpf_ignore,
	.stats = ebpf_stats,
	.error = ebpf_error,
	.close = ebpf_close,
};
