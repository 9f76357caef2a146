/* SPDX-License-Identifier: MIT */
/*
 * The capture-file source (`sonde read`): a pcap or pcapng file, a pipe or a
 * buffer in memory, frame by frame through packet decoding into chunks. Its
 * row in the source table is sonde_source_file (source/source.h).
 */
#ifndef SONDE_FILE_SOURCE_H
#define SONDE_FILE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/chunk.h"
#include "core/stats.h"
#include "source/file/capfile.h"

struct sonde_keylog;

struct sonde_file_source_opts {
	int fd; /* read from here (not closed by the source) unless mem is set */
	const void *mem; /* or from this buffer, len bytes */
	size_t len;
	const char *name; /* for error messages: the path, "(stdin)" */
	/* TLS key log secrets of the file's pcapng Decryption Secrets Blocks
	 * are added here (the connection table's key log), NULL: ignored */
	struct sonde_keylog *secrets;
};

/*
 * One frame, as every source of frames handles it: counted in *st (frames,
 * bytes, truncation), then decoded. Returns true with *c filled (origin left
 * to the caller) when the frame carries something for the connection table.
 */
bool sonde_frame_chunk(const struct sonde_frame *f, struct sonde_stats *st, struct sonde_chunk *c);

#endif
