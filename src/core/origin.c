/* SPDX-License-Identifier: MIT */
#include "core/chunk.h"

const char *sonde_origin_name(enum sonde_origin o)
{
	static const char *const names[SONDE_ORIGIN__COUNT] = {
		[SONDE_ORIGIN_PCAP_FILE] = "pcap-file",
		[SONDE_ORIGIN_AF_PACKET] = "af_packet",
		[SONDE_ORIGIN_EBPF_TRACEPOINT] = "ebpf-tracepoint",
		[SONDE_ORIGIN_EBPF_KPROBE] = "ebpf-kprobe",
		[SONDE_ORIGIN_EBPF_FENTRY] = "ebpf-fentry",
		[SONDE_ORIGIN_EBPF_TLS] = "ebpf-tls",
		[SONDE_ORIGIN_EBPF_TLS_OPENSSL] = "ebpf-tls-openssl",
		[SONDE_ORIGIN_EBPF_TLS_BORINGSSL] = "ebpf-tls-boringssl",
		[SONDE_ORIGIN_EBPF_TLS_GNUTLS] = "ebpf-tls-gnutls",
		[SONDE_ORIGIN_EBPF_TLS_GO] = "ebpf-tls-go",
		[SONDE_ORIGIN_LIBPCAP] = "libpcap",
		[SONDE_ORIGIN_TC] = "ebpf-tc",
		[SONDE_ORIGIN_CGROUP_SKB] = "ebpf-cgroup-skb",
		[SONDE_ORIGIN_AF_XDP] = "af_xdp",
	};
	return (unsigned)o < SONDE_ORIGIN__COUNT && names[o] ? names[o] : "unknown";
}

bool sonde_origin_is_packet(enum sonde_origin o)
{
	return o == SONDE_ORIGIN_PCAP_FILE || o == SONDE_ORIGIN_AF_PACKET ||
	       o == SONDE_ORIGIN_LIBPCAP || o == SONDE_ORIGIN_TC || o == SONDE_ORIGIN_CGROUP_SKB ||
	       o == SONDE_ORIGIN_AF_XDP;
}
