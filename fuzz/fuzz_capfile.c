/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the whole of `sonde read` on an in-memory capture.
 *
 *   bytes → sonde_capfile_open_mem → frames → sonde_decode_packet →
 *   pipeline (conntable, reassembly, detection, HTTP/1, pairing) →
 *   JSON sink on an open_memstream
 *
 * Each input runs twice: once with the defaults `sonde read` uses, once with
 * tight limits (few connections, tiny reassembly budget, small heads and
 * bodies, body decoding on) so eviction, budget drops and truncation paths
 * are reached by small inputs. Oracles besides the sanitizers: the output
 * must be valid JSON Lines, every frame's caplen must stay within the input,
 * and the reader's error state must be sticky. A pcapng's secrets blocks go
 * into the connection table's key log, as `sonde read` does, so hostile
 * secrets and the TLS decryption they open are reached too.
 *
 * Seeds: fuzz/corpus/fuzz_capfile/ and, when present, ../shared/corpus/http1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_pipeline.h"
#include "proto/tls/keylog.h"
#include "source/file/capfile.h"
#include "source/file/file_source.h"

static void add_secrets(void *ctx, uint32_t type, const uint8_t *data, size_t len)
{
	char err[128];
	if (type == SONDE_PCAPNG_SECRETS_TLS)
		(void)sonde_keylog_add(ctx, (const char *)data, len, err, sizeof(err));
}

static void run(const uint8_t *data, size_t size, int tight)
{
	struct sonde_pipeline_opts opts;
	sonde_pipeline_defaults(&opts);
	struct sonde_keylog *kl = sonde_keylog_new();
	opts.conn.tls_keylog = kl;
	opts.conn.source = "fuzz";
	opts.conn.connections = true; /* the TCP analysis and its records too */
	if (tight) {
		opts.conn.max_conns = 3;
		opts.conn.idle_timeout_ns = 2000000000ull; /* 2 s */
		opts.conn.reasm_mem = 3000;
		opts.conn.reasm_stream_mem = 1600;
		opts.dissect.body_limit = 100;
		opts.dissect.max_head = 200;
		opts.dissect.max_waiting = 2;
		opts.dissect.pending_mem = 2048;
		opts.dissect.decode_bodies = 1;
	}

	struct fuzz_pipeline fp;
	fuzz_pipeline_open(&fp, &opts);

	struct sonde_capfile *cf = sonde_capfile_open_mem(data, size, "fuzz");
	FUZZ_CHECK(cf != NULL, "open_mem returned NULL");
	sonde_capfile_on_secrets(cf, add_secrets, kl);
	struct sonde_frame f;
	struct sonde_chunk c;
	int rc;
	while ((rc = sonde_capfile_next(cf, &f)) > 0) {
		FUZZ_CHECK(f.caplen <= SONDE_CAPFILE_MAX_FRAME, "caplen %u", f.caplen);
		FUZZ_CHECK(f.caplen <= size, "caplen %u > input %zu", f.caplen, size);
		if (!sonde_frame_chunk(&f, &fp.p.stats, &c))
			continue;
		FUZZ_CHECK(c.caplen <= f.caplen, "chunk caplen %u > frame caplen %u", c.caplen,
			   f.caplen);
		FUZZ_CHECK(c.caplen <= c.wirelen, "chunk caplen %u > wirelen %u", c.caplen,
			   c.wirelen);
		FUZZ_CHECK(c.caplen == 0 ||
				   (c.data >= f.data && c.data + c.caplen <= f.data + f.caplen),
			   "chunk data outside its frame");
		c.origin = SONDE_ORIGIN_PCAP_FILE;
		sonde_pipeline_chunk(&fp.p, &c);
	}
	if (rc < 0) {
		const char *err = sonde_capfile_error(cf);
		FUZZ_CHECK(err != NULL && *err, "error without a message");
		FUZZ_CHECK(sonde_capfile_next(cf, &f) < 0, "error state not sticky");
	} else {
		FUZZ_CHECK(sonde_capfile_next(cf, &f) == 0, "end of input not sticky");
	}
	(void)sonde_capfile_format(cf);
	fuzz_pipeline_close(&fp);
	sonde_capfile_close(cf);
	sonde_keylog_free(kl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size, 0);
	run(data, size, 1);
	return 0;
}
