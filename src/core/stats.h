/* SPDX-License-Identifier: MIT */
/*
 * Counters of everything the pipeline saw and, above all, everything it could
 * not see or could not parse. One instance per capture (no globals), printed
 * at the end and emitted as a "stats" record.
 */
#ifndef SONDE_STATS_H
#define SONDE_STATS_H

#include <stdint.h>

#include "core/buf.h"

/* X(name, description) — the name is the JSON key. */
#define SONDE_STATS_FIELDS(X)                                                                     \
	X(frames, "capture frames read")                                                          \
	X(frame_bytes, "bytes of capture frames (as captured)")                                   \
	X(frames_truncated, "frames cut short by the capture's snap length")                      \
	X(frames_unsupported_link, "frames of a link type sonde does not decode")                 \
	X(frames_non_ip, "frames carrying neither IPv4 nor IPv6")                                 \
	X(frames_malformed, "frames whose link/IP/TCP headers are inconsistent")                  \
	X(packet_kernel_drops, "packets the kernel dropped: the capture ring or buffer was full") \
	X(packet_duplicates, "packets seen again on a second interface (counted once)")           \
	X(ipv4_fragments, "IPv4 fragments (not reassembled, ignored)")                            \
	X(ipv6_fragments, "IPv6 fragments (not reassembled, ignored)")                            \
	X(udp_datagrams, "UDP datagrams")                                                         \
	X(udp_datagrams_undissected, "UDP datagrams no dissector took")                           \
	X(udp_bytes_undissected, "UDP payload bytes of those datagrams (on the wire)")            \
	X(other_l4, "IP packets of another transport")                                            \
	X(tcp_segments, "TCP segments")                                                           \
	X(tcp_payload_bytes, "TCP payload bytes on the wire")                                     \
	X(retransmitted_bytes, "payload bytes seen twice (first copy kept)")                      \
	X(out_of_order_segments, "segments that arrived ahead of a hole")                         \
	X(gap_bytes, "stream bytes never seen: capture loss, snap length, budget")                \
	X(gaps, "holes reported to dissectors")                                                   \
	X(reassembly_budget_drops, "holes forced because reassembly memory ran out")              \
	X(connections, "connections tracked")                                                     \
	X(connections_midstream, "connections joined after their start")                          \
	X(connections_idle_closed, "connections closed by the idle timeout")                      \
	X(connections_evicted, "connections evicted because the table was full")                  \
	X(undetected_bytes, "bytes of connections whose protocol was not recognised")             \
	X(skipped_bytes, "bytes deliberately not dissected (tunnels, upgrades, TLS ciphertext)")  \
	X(tls_encrypted_connections, "connections seen only as TLS ciphertext")                   \
	X(tls_keylog_decrypted, "TLS connections decrypted with --tls-keylog")                    \
	X(tls_keylog_no_key, "TLS connections whose secrets the key log lacks")                   \
	X(tls_keylog_unsupported, "TLS connections of a version or suite not decrypted")          \
	X(tls_keylog_no_handshake, "TLS connections joined after their hellos")                   \
	X(pcapng_secrets_blocks, "pcapng secrets blocks read as a TLS key log")                   \
	X(pcapng_secrets_unused, "pcapng secrets blocks of another kind, or unusable")            \
	X(tls_records_decrypted, "TLS records decrypted")                                         \
	X(tls_records_failed, "TLS records whose tag did not verify (corrupt, wrong key)")        \
	X(tls_records_lost, "TLS records lost in gaps (told by sequence numbers)")                \
	X(tls_records_undecrypted, "protected TLS records not decrypted")                         \
	X(tls_early_data_records, "TLS 1.3 0-RTT records skipped (not decrypted)")                \
	X(tls_resyncs, "TLS directions found again after a gap")                                  \
	X(tls_decrypted_bytes, "application bytes decrypted from TLS records")                    \
	X(tls_undecrypted_bytes, "TLS record bytes not decrypted or skipped")                     \
	X(unparsed_bytes, "bytes a dissector skipped while resynchronising")                      \
	X(parse_errors, "messages a dissector could not parse")                                   \
	X(hpack_state_lost, "HTTP/2 directions decoded without their HPACK state")                \
	X(hpack_resynced, "of those, times their HPACK table became fully known")                 \
	X(hpack_unknown_fields, "HTTP/2 header fields referring to unknown entries")              \
	X(records, "records written")                                                             \
	X(records_unanswered, "requests written without a response")                              \
	X(records_unsolicited, "responses written without a request")                             \
	X(records_filtered, "of the records, those -Y's filter did not match (not written)")      \
	X(redacted_values, "secrets masked in records (each masked span counts)")                 \
	X(redacted_recording_bytes, "bytes of the -w recording overwritten as secrets")           \
	X(unredacted_records, "records written with redaction off (--no-redact)")                 \
	X(requests_flushed_for_memory, "requests written unanswered early (queue bounds)")        \
	X(bodies_truncated, "bodies kept only up to the body limit")                              \
	X(store_records, "records committed to the store (--store)")                              \
	X(store_queue_drops, "records the store's full queue refused (not stored)")               \
	X(store_write_drops, "records lost to failed store writes (a full disk)")                 \
	X(store_expired_records, "stored records deleted for --store-size or --store-age")        \
	X(clickhouse_records, "records ClickHouse accepted (--sink clickhouse=)")                 \
	X(clickhouse_queue_drops, "records dropped: ClickHouse's queue was full (slow or down)")  \
	X(clickhouse_failed_posts, "inserts ClickHouse refused or never answered (retried)")      \
	X(clickhouse_unsent, "records still queued for ClickHouse at the end (not sent)")         \
	X(clickhouse_spilled, "records spilled to disk while ClickHouse could not take them")     \
	X(clickhouse_spill_replayed,                                                              \
	  "spilled records ClickHouse took later (in clickhouse_records)")                        \
	X(clickhouse_spill_dropped, "spilled records deleted for the spill's quota (lost)")       \
	X(clickhouse_spill_pending, "records still spilled at the end (the next run sends them)") \
	X(ebpf_events, "eBPF events read from the ring buffer")                                   \
	X(ebpf_bad_events, "eBPF events of a wrong size, version or type (ignored)")              \
	X(ebpf_kernel_events, "events the kernel side wrote")                                     \
	X(ebpf_bytes, "payload bytes moved by traced TCP sockets")                                \
	X(ebpf_captured_bytes, "of which copied into events")                                     \
	X(ebpf_ringbuf_drops, "events lost: ring buffer full")                                    \
	X(ebpf_ringbuf_drop_bytes, "payload bytes of the lost events")                            \
	X(ebpf_truncated_bytes, "bytes over the per-call capture limit")                          \
	X(ebpf_read_failures, "payload copies from process memory that failed")                   \
	X(ebpf_untraced_bytes, "bytes moved outside traced calls (io_uring, sendfile)")           \
	X(ebpf_missed_calls, "calls or sockets missed: kernel maps full")                         \
	X(ebpf_missed_exits, "calls whose exit was never seen")                                   \
	X(ebpf_closed_socket_bytes, "bytes moved on sockets after their close, not followed")     \
	X(ebpf_target_skipped_calls, "calls of processes no --target selects, not followed")      \
	X(ebpf_ignored_bytes, "bytes of connections sonde stopped copying")                       \
	X(ebpf_udp_datagrams, "UDP datagrams copied (port 53, or --port's)")                      \
	X(ebpf_udp_bytes, "bytes of those datagrams")                                             \
	X(ebpf_lost_closes, "sockets gone from the kernel, their close event lost")               \
	X(duplicate_peer_bytes, "bytes seen again from a connection's other local end")           \
	X(ebpf_peer_copy_bytes, "bytes of a connection's other local end, not copied")            \
	X(tls_libraries, "TLS libraries and binaries probed")                                     \
	X(tls_attach_failures, "TLS libraries or binaries sonde could not probe")                 \
	X(tls_calls, "TLS library calls that moved plaintext")                                    \
	X(tls_plaintext_bytes, "plaintext bytes those calls moved")                               \
	X(tls_ciphertext_bytes, "ciphertext bytes of those connections (not copied)")             \
	X(tls_unbound_calls, "TLS calls made before their socket was known")                      \
	X(tls_unbound_bytes, "plaintext written without its connection's addresses")              \
	X(tls_go_unresolved, "Go TLS calls whose socket the runtime's structures did not give")   \
	X(tls_go_closed_writes, "Go TLS writes on connections already closed (nothing sent)")     \
	X(enrich_process_lookups, "processes looked up for records (once per connection end)")    \
	X(enrich_process_failures,                                                                \
	  "of those, processes /proc did not describe (gone, or no access)")                      \
	X(enrich_process_expired, "cached processes dropped because they had exited")             \
	X(enrich_process_execs, "cached processes read again because they had exec'd")            \
	X(enrich_process_reused, "cached processes read again because their pid was reused")      \
	X(enrich_held_ends, "connection ends named by the process the source saw open them")      \
	X(enrich_container_lookups, "containers looked up for records (once per connection end)") \
	X(enrich_container_failures,                                                              \
	  "of those, containers no runtime's state on the node described")                        \
	X(source_stream_conns, "several sources: connections the syscall source gave")            \
	X(source_packet_conns, "several sources: connections only packets showed")                \
	X(source_handoffs, "of the syscall source's, connections packets showed first")           \
	X(source_dropped_packet_bytes, "packet bytes of connections another source gave")         \
	X(source_late_stream_bytes, "syscall bytes of connections packets gave first (too late)") \
	X(source_hold_overflows, "connections given to packets early: the hold was full")         \
	X(netns_opened, "--all-netns: network namespaces captured")                               \
	X(netns_closed, "--all-netns: of those, namespaces gone again")                           \
	X(netns_failed, "--all-netns: namespaces whose packet source would not open")             \
	X(netns_skipped, "--all-netns: namespaces over the limit (256), not captured")            \
	X(names_responses, "DNS responses the IP-to-name table learnt from")                      \
	X(names_attached, "connection ends named by a DNS answer")                                \
	X(enrich_packet_lookups, "packet sources: connections whose sockets were looked up")      \
	X(enrich_packet_misses, "of those, with no local socket found (remote, or closed)")       \
	X(enrich_packet_owner_misses, "local sockets found whose process was not found")          \
	X(enrich_packet_by_listener, "server ends named by their listener (their socket gone)")   \
	X(enrich_packet_netns_unentered, "lookups in namespaces not entered (read from /proc)")   \
	X(enrich_packet_cgroup_misses, "cgroup_skb: cgroup ids not in the cgroup tree")           \
	X(enrich_cri_listings, "listings of the node's pods asked of the runtime's CRI API")      \
	X(enrich_cri_failures, "of those, listings that failed (retried at the next turn)")       \
	X(enrich_cri_misses, "containers the latest CRI listing did not have (a new one asked)")  \
	X(kube_api_lists, "--kube-api: lists asked of the API server")                            \
	X(kube_api_list_failures, "--kube-api: of those, failed (retried, backoff)")              \
	X(kube_api_watches, "--kube-api: watches started (from the last version)")                \
	X(kube_api_watch_failures, "--kube-api: watches refused or cut (retried, backoff)")       \
	X(kube_api_events, "--kube-api: watch events applied")                                    \
	X(kube_api_bad_events, "--kube-api: events and list items not understood")                \
	X(kube_api_lines_too_long, "--kube-api: watch events over 1 MiB (dropped)")               \
	X(kube_api_relists, "--kube-api: versions gone (410 Gone): listed again")                 \
	X(kube_api_table_full, "--kube-api: objects not kept: table full")                        \
	X(kube_api_objects, "--kube-api: pods, services, slices known at the end")                \
	X(kube_api_ends_named, "--kube-api: connection ends the API named")                       \
	X(target_scans, "scans of the node's cgroups for --target's containers")                  \
	X(target_cgroups, "cgroups the last scan selected (given to the kernel)")                 \
	X(target_cgroups_unselected, "container cgroups the last scan left out")                  \
	X(target_map_full, "selected cgroups the kernel's map had no room for")                   \
	X(tcp_retransmit_events, "eBPF: tcp_retransmit_skb on sockets sonde follows")             \
	X(tcp_resets_sent, "eBPF: resets sent by sockets sonde follows")                          \
	X(tcp_resets_received, "eBPF: resets received by them")                                   \
	X(tcp_failed_connects, "eBPF: connects that never reached ESTABLISHED")                   \
	X(tcp_listen_overflows, "eBPF: SYNs a listener dropped, its accept queue full")           \
	X(tcp_untracked_sockets, "eBPF: sockets whose lifecycle was not kept (map full)")         \
	X(tcp_tracepoints_missing, "eBPF: tcp: tracepoints (or kprobes) this kernel lacks")       \
	X(tcp_connection_records, "connection records written (not --no-connections)")            \
	X(tcp_peer_ends_merged, "eBPF: connections with both local ends' facts in one record")    \
	X(tcp_peer_ends_missed, "eBPF: a local end's facts that joined no record (too late)")     \
	X(tcp_connections_refused, "connection attempts refused (SYN answered by RST)")           \
	X(tcp_connections_timed_out, "connection attempts never answered")                        \
	X(tcp_connections_reset, "connections ended by a reset")                                  \
	X(tcp_retransmitted_segments,                                                             \
	  "packets: segments Wireshark's analysis calls retransmissions")                         \
	X(tcp_samples_lost, "exchanges whose TCP history was older than the samples kept")

struct sonde_stats {
#define SONDE_STATS_MEMBER(name, desc) uint64_t name;
	SONDE_STATS_FIELDS(SONDE_STATS_MEMBER)
#undef SONDE_STATS_MEMBER
};

/* {"type":"stats", ...} */
void sonde_stats_json(const struct sonde_stats *s, struct sonde_buf *out);
/* A human-readable table of the non-zero counters. */
void sonde_stats_text(const struct sonde_stats *s, struct sonde_buf *out);

#endif
