/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the data path reads of a TCP socket for the TCP health of its
 * exchanges (hooks/tcp_health.h has the rest): srtt and retransmissions
 * now, sampled at every data event.
 */
#ifndef SONDE_BPF_TCP_H
#define SONDE_BPF_TCP_H

#include "lib/common.h"

/* Off: no tcp_sock reads, no lifecycle map (user space's choice). */
const volatile bool tcp_health_on = false;

/* The socket's srtt (us) and retransmitted segments now. */
static __always_inline void tcp_now(__u64 skp, __u32 *srtt_us, __u32 *retrans)
{
	struct tcp_sock *tp = (struct tcp_sock *)skp;
	*srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	*retrans = BPF_CORE_READ(tp, total_retrans);
}

/* A data event of stream st on TCP socket sk: the values it will carry, and
 * the sample for the life's min/avg/max. */
static __always_inline void tcp_sample(struct sonde_sock_state *st, __u64 sk)
{
	if (!tcp_health_on || !sk)
		return;
	__u32 srtt, retrans;
	tcp_now(sk, &srtt, &retrans);
	st->srtt_now_us = srtt;
	st->retrans_now = retrans;
	if (!srtt)
		return;
	if (!st->srtt_n || srtt < st->srtt_min_us)
		st->srtt_min_us = srtt;
	if (srtt > st->srtt_max_us)
		st->srtt_max_us = srtt;
	st->srtt_sum_us += srtt;
	st->srtt_n++;
}

#endif
