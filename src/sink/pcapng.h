/* SPDX-License-Identifier: MIT */
/*
 * The pcapng writer (`-w FILE`): what sonde captured, as a capture file
 * Wireshark and tshark read (draft-ietf-opsawg-pcapng).
 *
 * A file is a Section Header Block (shb_userappl "sonde"), one Interface
 * Description Block per interface or source (if_name, if_tsresol = ns), a
 * Decryption Secrets Block when asked (read -w --record-keylog), and
 * one Enhanced Packet Block per packet. Packet sources' frames are written
 * as they are. Stream sources' chunks (eBPF syscalls, TLS plaintext: no
 * packets exist) are written as synthetic TCP/IP packets (sink/tcp_synth.h)
 * on interfaces of link type RAW named "ebpf" (syscalls) and "ebpf-tls"
 * (TLS libraries), made on first use, so Wireshark reassembles and
 * dissects the plaintext without keys. (Chunks of other origins, if given,
 * go to one named "synthetic".)
 *
 * Every EPB says where its packet came from in an opt_comment, which
 * Wireshark shows as the frame's comment (frame.comment / pkt_comment):
 *
 *   sonde: method=ebpf-tls-openssl pid=4242 comm=curl conn=17
 *
 * space-separated key=value fields after "sonde:", in that order; a field
 * sonde does not know is left out (pid and conn are decimal; in comm,
 * spaces, '=' and bytes outside printable ASCII become '_'). Packets without
 * any field get no comment.
 *
 * Durability: each block is built whole and written with one write(), so a
 * stop on SIGTERM/SIGINT (caught: the write in progress finishes) leaves
 * whole blocks only. A fatal signal (SIGKILL) can stop the kernel inside a
 * write, so the last block may be cut; readers take the file up to the
 * last complete block and say the rest was cut short. A failed write is
 * undone (ftruncate) on regular files. A new file
 * is written as NAME.part and renamed to NAME once its SHB and IDBs are in
 * (one write), so no file under a capture's name is ever empty or headless
 * (a kill at that moment may leave a NAME.part). Nothing is
 * buffered: output to "-" (stdout) is flushed per block, so
 * `sonde capture -w - | tshark -r -` works.
 *
 * Rotation, with tcpdump's meanings:
 *   rotate_bytes (-C): before a packet, if the current file has passed
 *     rotate_bytes, start the next file: path, path1, path2...; with
 *     max_files (-W) the names are path0..path<W-1> (zero-padded to the
 *     digits of W-1) and the oldest is reused.
 *   rotate_ns (-G): a new file when a packet is rotate_ns past the current
 *     file's first packet; the path goes through strftime() (local time of
 *     that packet) if it holds a '%'. A name equal to the current file's
 *     gets the -C counter instead of overwriting it.
 *   max_files (-W, with -C or -G): at most that many files; opening one
 *     more deletes the oldest. (tcpdump -G -W exits instead; a capture
 *     that keeps running is more useful to sonde.)
 *   quota_bytes: the files together stay under this: the oldest are
 *     deleted, and when the current file alone would pass it, a new one
 *     is started and the current deleted.
 * Every new file repeats the SHB and every IDB, so each file stands alone.
 *
 * Errors: a write that fails (ENOSPC, EPIPE, EIO) or a rotated file that
 * cannot be opened stops the writer: every later call returns -1 at once
 * and sonde_pcapng_error() says what happened. The writer never aborts and
 * never blocks anything else: records keep flowing. Ignore SIGPIPE (the
 * capture command does) so a closed reader is EPIPE, not death.
 *
 * Memory is bounded: the synthetic connections (max_conns, LRU), 64
 * interfaces, one block buffer (the largest packet written) and the names
 * of the files -W or the quota may delete (only the current one without).
 */
#ifndef SONDE_PCAPNG_H
#define SONDE_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

#include "core/chunk.h"
#include "source/file/capfile.h"

#define SONDE_PCAPNG_MAX_IFACES 64

struct sonde_pcapng_opts {
	const char *path; /* a file name, or "-" for stdout (no rotation) */
	uint64_t rotate_bytes; /* -C, in bytes; 0: never */
	uint32_t max_files; /* -W; 0: no limit */
	uint64_t rotate_ns; /* -G, in ns; 0: never */
	uint64_t quota_bytes; /* all files together; 0: no limit */
	uint32_t snaplen; /* bytes kept of each packet; 0: all of it */
	size_t max_conns; /* synthetic TCP connections remembered; 0: 65536 */
};

/* Where a packet came from: its EPB comment. NULL/0 fields are unknown. */
struct sonde_pcapng_meta {
	const char *method; /* "af_packet", "ebpf-tls-openssl" (sonde_origin_name) */
	uint32_t pid;
	const char *comm;
	uint64_t conn_id;
};

struct sonde_pcapng_stats {
	uint64_t packets, bytes; /* EPBs and the bytes of every block written */
	uint64_t files, files_deleted;
	uint64_t chunks_skipped; /* not TCP over IP: nothing to write */
	uint64_t conn_evictions, gaps, gap_bytes; /* of the synthetic TCP */
};

struct sonde_pcapng;

/*
 * Open the first file and write its SHB. Returns NULL with one sentence in
 * err for bad options or a file that cannot be created; a failing first
 * write gives a writer whose error is already set.
 */
struct sonde_pcapng *sonde_pcapng_open(const struct sonde_pcapng_opts *o, char *err, size_t errlen);
/*
 * An interface: its IDB is written now (and in every later file). Returns
 * its id for sonde_pcapng_frame(), or -1 (too many interfaces, or the
 * writer failed). snaplen 0: 262144.
 */
int sonde_pcapng_iface(struct sonde_pcapng *w, const char *name, uint32_t linktype,
		       uint32_t snaplen);
/*
 * A Decryption Secrets Block (pcapng 4.7) of secrets type (0x544c534b
 * "TLSK": NSS key log lines, SONDE_PCAPNG_SECRETS_TLS), p[0..n), written now and after the headers
 * of every later file, so that Wireshark and tshark decrypt each file
 * alone. Only for a user who asked for it: the file then holds secrets. The
 * writer wipes its copies when closed. Returns 0, or -1 once it failed.
 */
int sonde_pcapng_secrets(struct sonde_pcapng *w, uint32_t type, const void *p, size_t n);
/* A frame of a packet source, as it is (f->linktype is the interface's).
 * m may be NULL. Returns 0, or -1 once the writer failed. */
int sonde_pcapng_frame(struct sonde_pcapng *w, int iface, const struct sonde_frame *f,
		       const struct sonde_pcapng_meta *m);
/*
 * A chunk of a stream source, as synthetic TCP/IP packets. The comment
 * comes from the chunk (origin, process, conn_id); m's non-empty fields
 * override it, m may be NULL. Returns 0 (a chunk that is not TCP over IP is
 * counted and skipped), or -1 once the writer failed.
 */
int sonde_pcapng_chunk(struct sonde_pcapng *w, const struct sonde_chunk *c,
		       const struct sonde_pcapng_meta *m);
/* Nothing is buffered; returns -1 with errno set once the writer failed. */
int sonde_pcapng_flush(struct sonde_pcapng *w);
/* Why the writer stopped, or NULL. */
const char *sonde_pcapng_error(const struct sonde_pcapng *w);
void sonde_pcapng_stats(const struct sonde_pcapng *w, struct sonde_pcapng_stats *st);
/* The file being written now (for messages and tests). */
const char *sonde_pcapng_current(const struct sonde_pcapng *w);
/* Close and free; returns -1 with errno set if a write had failed. */
int sonde_pcapng_close(struct sonde_pcapng *w);

#endif
