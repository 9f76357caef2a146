/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the eBPF source's user-space side (src/source/ebpf/ebpf.c's
 * ebpf_on_event and what it calls: loopback de-duplication, TLS plaintext
 * connections, datagrams, TCP health), on ring-buffer records taken as
 * untrusted input — a kernel program with a bug, a version skew, or a
 * traced process that steers what is copied — and the chunks they make
 * through a whole pipeline (conntable, dissectors, pairing) into the JSON
 * sink.
 *
 * Input layout: records one after another, each a 2-byte little-endian
 * size and that many bytes (a record the input cuts short is taken as far
 * as it goes). Each record is copied into a buffer of exactly its size, 8
 * aligned as the ring buffer's are, so a read past it is ASan's. MAPPED
 * events are skipped: they only name a pid whose /proc the discovery would
 * read (the machine's processes, not the input). TLS probing is on, with a
 * discovery that knows no library (every TLS connection is "unknown").
 *
 * Oracles besides the sanitizers: every chunk's bytes lie inside the record
 * it came from (or in the source's own held copy), caplen <= wirelen, and
 * the output is valid JSON Lines; after the pipeline's finish no connection
 * is left.
 *
 * Seeds: fuzz/corpus/fuzz_ebpf/ (fuzz/make_seeds_ebpf.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_pipeline.h"
#include "source/ebpf/ebpf_priv.h"
#include "source/tls/tls_discover.h"

struct harness {
	struct sonde_pipeline *p;
	const uint8_t *rec; /* the record being decoded */
	size_t rec_len;
};

FUZZ_ORACLE static void check_chunk(const struct harness *h, const struct sonde_chunk *c)
{
	FUZZ_CHECK(c->caplen <= c->wirelen, "caplen %u > wirelen %u", c->caplen, c->wirelen);
	if (!c->caplen || !h->rec)
		return;
	/* TLS bytes held for a socket not known yet come from the source's
	 * copy of an earlier record: ASan checks those reads */
	bool inside = c->data >= h->rec && c->data + c->caplen <= h->rec + h->rec_len;
	bool held = c->tls != NULL;
	FUZZ_CHECK(inside || held, "chunk of %u bytes outside its record", c->caplen);
}

static void on_chunk(void *ctx, const struct sonde_chunk *c)
{
	struct harness *h = ctx;
	check_chunk(h, c);
	sonde_pipeline_chunk(h->p, c);
}

static void ebpf_fake_init(struct sonde_ebpf *e, struct sonde_stats *st, struct harness *h)
{
	memset(e, 0, sizeof(*e));
	e->out = (struct sonde_chunk_out){ on_chunk, h };
	e->stats = st;
	e->hook = SONDE_HOOK_TRACEPOINT;
	ebpf_tables_init(e);
	/* as ebpf_tls_open leaves it, without probing anything */
	sonde_u64map_init(&e->tls_conns);
	sonde_u64map_init(&e->tls_by_sock);
	e->tls_dirty = calloc(64, sizeof(*e->tls_dirty));
	e->tls = sonde_tls_discovery_new(NULL);
}

static void ebpf_fake_free(struct sonde_ebpf *e)
{
	ebpf_tls_close(e);
	ebpf_tables_free(e);
}

static void decode(struct sonde_ebpf *e, struct harness *h, const uint8_t *data, size_t size)
{
	for (size_t at = 0; at + 2 <= size;) {
		size_t n = (size_t)data[at] | (size_t)data[at + 1] << 8;
		at += 2;
		if (n > size - at)
			n = size - at;
		uint8_t *rec = aligned_alloc(8, (n + 7) & ~(size_t)7);
		memcpy(rec, data + at, n);
		at += n;
		h->rec = rec, h->rec_len = n;
		if (n < 2 || rec[1] != SONDE_EV_MAPPED)
			ebpf_on_event(e, rec, n);
		h->rec = NULL;
		free(rec);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sonde_pipeline_opts opts;
	sonde_pipeline_defaults(&opts);
	opts.conn.source = "fuzz";
	opts.conn.connections = true;
	struct fuzz_pipeline fp;
	fuzz_pipeline_open(&fp, &opts);

	struct harness h = { .p = &fp.p };
	struct sonde_ebpf e;
	ebpf_fake_init(&e, &fp.p.stats, &h);
	decode(&e, &h, data, size);
	ebpf_fake_free(&e); /* ends the TLS connections still open */
	fuzz_pipeline_close(&fp);
	return 0;
}
