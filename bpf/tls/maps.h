/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The TLS connections (a library context in one process), and the ignore
 * switch for their plaintext.
 */
#ifndef SONDE_BPF_TLS_MAPS_H
#define SONDE_BPF_TLS_MAPS_H

#include "lib/common.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sonde_tls_key);
	__type(value, struct sonde_tls_stream);
} tls_streams SEC(".maps");

/* TLS connections whose plaintext user space does not want (as `ignored`). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sonde_tls_key);
	__type(value, __u64);
} tls_ignored SEC(".maps");

#endif
