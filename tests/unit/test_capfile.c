/* SPDX-License-Identifier: MIT */
/*
 * The capture-file reader: pcap (µs, ns, both byte orders) and pcapng
 * (interfaces with their own link types and timestamp resolutions, several
 * sections, both byte orders), from memory, files and pipes; damaged and
 * truncated inputs never crash and every error names an offset.
 */
#include "testutil.h"

#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

#include "source/file/capfile.h"

static bool host_big_endian(void)
{
	uint16_t x = 1;
	uint8_t b;
	memcpy(&b, &x, 1);
	return b == 0;
}

/* Write in the file's byte order: native, or swapped. */
static void w16(struct tu_bytes *b, uint16_t v, bool swapped)
{
	if (host_big_endian() != swapped)
		tu_be16(b, v);
	else
		tu_le16(b, v);
}

static void w32(struct tu_bytes *b, uint32_t v, bool swapped)
{
	if (host_big_endian() != swapped)
		tu_be32(b, v);
	else
		tu_le32(b, v);
}

/* ---------------------------------------------------------------- pcap --- */

static void pcap_header(struct tu_bytes *b, uint32_t magic, bool swapped, uint32_t linktype)
{
	w32(b, magic, swapped);
	w16(b, 2, swapped);
	w16(b, 4, swapped);
	w32(b, 0, swapped);
	w32(b, 0, swapped);
	w32(b, 65535, swapped);
	w32(b, linktype, swapped);
}

static void pcap_record(struct tu_bytes *b, bool swapped, uint32_t sec, uint32_t sub,
			const void *data, uint32_t caplen, uint32_t wirelen)
{
	w32(b, sec, swapped);
	w32(b, sub, swapped);
	w32(b, caplen, swapped);
	w32(b, wirelen, swapped);
	tu_bytes_put(b, data, caplen);
}

/* Read every frame; returns the final rc. */
static int read_all(struct sonde_capfile *cf, struct sonde_frame *frames, int max, int *n)
{
	int rc;
	*n = 0;
	struct sonde_frame f;
	while ((rc = sonde_capfile_next(cf, &f)) == 1) {
		if (*n < max)
			frames[*n] = f;
		(*n)++;
	}
	return rc;
}

static void check_pcap(uint32_t magic, bool swapped, bool nanos)
{
	struct tu_bytes b = { 0 };
	/* The top bits of the link type carry FCS information: masked off. */
	pcap_header(&b, magic, swapped, 0x10000000u | 1);
	pcap_record(&b, swapped, 1700000000, nanos ? 123456789 : 123456, "frame-one", 9, 9);
	pcap_record(&b, swapped, 1700000001, nanos ? 999999999 : 999999, "two", 3, 1500);
	struct sonde_capfile *cf = sonde_capfile_open_mem(b.p, b.len, "test.pcap");
	assert_non_null(cf);
	assert_null(sonde_capfile_format(cf));
	struct sonde_frame f;
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_str(sonde_capfile_format(cf), "pcap");
	assert_int_equal(f.linktype, 1);
	assert_int_equal(f.offset, 24);
	assert_int_equal(f.caplen, 9);
	assert_int_equal(f.wirelen, 9);
	assert_memory_equal(f.data, "frame-one", 9);
	assert_true(f.ts_ns == 1700000000ull * 1000000000ull + (nanos ? 123456789ull : 123456000ull));
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(f.offset, 24 + 16 + 9);
	assert_int_equal(f.caplen, 3);
	assert_int_equal(f.wirelen, 1500);
	assert_memory_equal(f.data, "two", 3);
	assert_true(f.ts_ns == 1700000001ull * 1000000000ull + (nanos ? 999999999ull : 999999000ull));
	assert_int_equal(sonde_capfile_next(cf, &f), 0);
	assert_int_equal(sonde_capfile_next(cf, &f), 0);
	sonde_capfile_close(cf);
	tu_bytes_free(&b);
}

static void test_pcap_us(void **state)
{
	(void)state;
	check_pcap(0xa1b2c3d4u, false, false);
}

static void test_pcap_ns(void **state)
{
	(void)state;
	check_pcap(0xa1b23c4du, false, true);
}

static void test_pcap_swapped(void **state)
{
	(void)state;
	check_pcap(0xa1b2c3d4u, true, false);
	check_pcap(0xa1b23c4du, true, true);
}

/* Parse "offset N" out of an error message. */
static long long err_offset(const char *err)
{
	const char *p = strstr(err, "offset ");
	if (!p)
		return -1;
	return strtoll(p + 7, NULL, 10);
}

#define assert_error_at(cf, off)                                                            \
	do {                                                                                \
		const char *e_ = sonde_capfile_error(cf);                                   \
		if (!e_ || err_offset(e_) != (long long)(off))                              \
			fail_msg("error \"%s\", expected one at offset %lld", e_ ? e_ : "(null)", \
				 (long long)(off));                                         \
	} while (0)

static void test_pcap_errors(void **state)
{
	(void)state;
	struct sonde_frame f;
	struct sonde_capfile *cf;
	/* Not a capture file. */
	cf = sonde_capfile_open_mem("hello world, not a pcap", 23, "x");
	assert_int_equal(sonde_capfile_next(cf, &f), -1);
	assert_error_at(cf, 0);
	assert_non_null(strstr(sonde_capfile_error(cf), "x"));
	assert_int_equal(sonde_capfile_next(cf, &f), -1); /* sticky */
	sonde_capfile_close(cf);
	/* Empty. */
	cf = sonde_capfile_open_mem("", 0, "empty");
	assert_int_equal(sonde_capfile_next(cf, &f), -1);
	assert_error_at(cf, 0);
	sonde_capfile_close(cf);

	struct tu_bytes b = { 0 };
	/* Unsupported version. */
	pcap_header(&b, 0xa1b2c3d4u, false, 1);
	b.p[4] = 3; /* major 3 (native order on little endian; harmless if not) */
	b.p[5] = 0;
	if (!host_big_endian()) {
		cf = sonde_capfile_open_mem(b.p, b.len, "v");
		assert_int_equal(sonde_capfile_next(cf, &f), -1);
		assert_non_null(strstr(sonde_capfile_error(cf), "offset"));
		sonde_capfile_close(cf);
	}
	tu_bytes_free(&b);

	/* Implausible record length. */
	pcap_header(&b, 0xa1b2c3d4u, false, 1);
	pcap_record(&b, false, 1, 1, "ok", 2, 2);
	size_t bad_at = b.len;
	w32(&b, 1, false);
	w32(&b, 1, false);
	w32(&b, SONDE_CAPFILE_MAX_FRAME + 1, false);
	w32(&b, 100, false);
	cf = sonde_capfile_open_mem(b.p, b.len, "big");
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(sonde_capfile_next(cf, &f), -1);
	assert_error_at(cf, bad_at);
	sonde_capfile_close(cf);
	tu_bytes_free(&b);

	/* Sub-second field out of range. */
	pcap_header(&b, 0xa1b2c3d4u, false, 1);
	pcap_record(&b, false, 1, 1000000, "ok", 2, 2);
	cf = sonde_capfile_open_mem(b.p, b.len, "usec");
	assert_int_equal(sonde_capfile_next(cf, &f), -1);
	assert_error_at(cf, 24);
	sonde_capfile_close(cf);
	tu_bytes_free(&b);
}

/* -------------------------------------------------------------- pcapng --- */

struct ng {
	struct tu_bytes b;
	bool swapped;
	size_t start; /* of the block being written */
};

static void ng_begin(struct ng *g, uint32_t type)
{
	g->start = g->b.len;
	w32(&g->b, type, g->swapped);
	w32(&g->b, 0, g->swapped); /* length, filled in by ng_end */
}

static void ng_pad(struct ng *g)
{
	while ((g->b.len - g->start) % 4)
		tu_u8(&g->b, 0);
}

static void ng_end(struct ng *g)
{
	ng_pad(g);
	uint32_t len = (uint32_t)(g->b.len - g->start + 4);
	w32(&g->b, len, g->swapped);
	if (host_big_endian() != g->swapped)
		tu_set_be32(&g->b, g->start + 4, len);
	else
		tu_set_le32(&g->b, g->start + 4, len);
}

static void ng_shb(struct ng *g)
{
	g->start = g->b.len;
	tu_bytes_put(&g->b, "\x0a\x0d\x0d\x0a", 4); /* palindromic */
	w32(&g->b, 0, g->swapped);
	w32(&g->b, 0x1a2b3c4du, g->swapped);
	w16(&g->b, 1, g->swapped);
	w16(&g->b, 0, g->swapped);
	w32(&g->b, 0xffffffffu, g->swapped); /* section length: unknown */
	w32(&g->b, 0xffffffffu, g->swapped);
	ng_end(g);
}

/* tsresol < 0: no option; tsoffset: 0 for none. */
static void ng_idb(struct ng *g, uint16_t linktype, int tsresol, int64_t tsoffset)
{
	ng_begin(g, 1);
	w16(&g->b, linktype, g->swapped);
	w16(&g->b, 0, g->swapped);
	w32(&g->b, 262144, g->swapped);
	if (tsresol >= 0) {
		w16(&g->b, 9, g->swapped);
		w16(&g->b, 1, g->swapped);
		tu_u8(&g->b, (uint8_t)tsresol);
		ng_pad(g);
	}
	if (tsoffset) {
		w16(&g->b, 14, g->swapped);
		w16(&g->b, 8, g->swapped);
		uint64_t v = (uint64_t)tsoffset;
		if (host_big_endian() != g->swapped) {
			tu_be32(&g->b, (uint32_t)(v >> 32));
			tu_be32(&g->b, (uint32_t)v);
		} else {
			tu_le32(&g->b, (uint32_t)v);
			tu_le32(&g->b, (uint32_t)(v >> 32));
		}
	}
	if (tsresol >= 0 || tsoffset) {
		w16(&g->b, 0, g->swapped); /* opt_endofopt */
		w16(&g->b, 0, g->swapped);
	}
	ng_end(g);
}

static void ng_epb(struct ng *g, uint32_t ifid, uint64_t ts, const void *data, uint32_t caplen,
		   uint32_t wirelen)
{
	ng_begin(g, 6);
	w32(&g->b, ifid, g->swapped);
	w32(&g->b, (uint32_t)(ts >> 32), g->swapped);
	w32(&g->b, (uint32_t)ts, g->swapped);
	w32(&g->b, caplen, g->swapped);
	w32(&g->b, wirelen, g->swapped);
	tu_bytes_put(&g->b, data, caplen);
	ng_end(g);
}

static void ng_spb(struct ng *g, const void *data, uint32_t caplen, uint32_t wirelen)
{
	ng_begin(g, 3);
	w32(&g->b, wirelen, g->swapped);
	tu_bytes_put(&g->b, data, caplen);
	ng_end(g);
}

static void ng_other(struct ng *g, uint32_t type)
{
	ng_begin(g, type);
	tu_bytes_put(&g->b, "whatever", 8);
	ng_end(g);
}

/* A file with three interfaces of different link types and resolutions. */
static void build_ng(struct ng *g, bool swapped, size_t *offs)
{
	memset(g, 0, sizeof(*g));
	g->swapped = swapped;
	ng_shb(g);
	ng_idb(g, 1, 9, 0); /* Ethernet, ns */
	ng_idb(g, 101, -1, 0); /* raw IP, default µs */
	ng_idb(g, 113, 0x80 | 10, 0); /* SLL, 2^-10 s */
	ng_idb(g, 276, 3, 1000); /* SLL2, ms, +1000 s */
	ng_other(g, 5); /* interface statistics: skipped */
	offs[0] = g->b.len;
	ng_epb(g, 0, 1700000000123456789ull, "eth-frame", 9, 9);
	offs[1] = g->b.len;
	ng_epb(g, 1, 1700000000654321ull, "raw-ip", 6, 60);
	ng_other(g, 4); /* name resolution: skipped */
	offs[2] = g->b.len;
	ng_epb(g, 2, 1700000000ull * 1024 + 512, "sll", 3, 3);
	offs[3] = g->b.len;
	ng_epb(g, 3, 1700000000ull * 1000 + 250, "sll2-frame", 10, 10);
	offs[4] = g->b.len;
	ng_spb(g, "simple", 6, 6);
}

static void check_ng(bool swapped)
{
	struct ng g;
	size_t offs[5];
	build_ng(&g, swapped, offs);
	struct sonde_capfile *cf = sonde_capfile_open_mem(g.b.p, g.b.len, "t.pcapng");
	struct sonde_frame f;
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_str(sonde_capfile_format(cf), "pcapng");
	assert_int_equal(f.linktype, 1);
	assert_true(f.ts_ns == 1700000000123456789ull);
	assert_int_equal(f.offset, offs[0]);
	assert_int_equal(f.caplen, 9);
	assert_memory_equal(f.data, "eth-frame", 9);

	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(f.linktype, 101);
	assert_true(f.ts_ns == 1700000000654321000ull);
	assert_int_equal(f.offset, offs[1]);
	assert_int_equal(f.caplen, 6);
	assert_int_equal(f.wirelen, 60);
	assert_memory_equal(f.data, "raw-ip", 6);

	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(f.linktype, 113);
	assert_true(f.ts_ns == 1700000000500000000ull);
	assert_int_equal(f.offset, offs[2]);

	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(f.linktype, 276);
	assert_true(f.ts_ns == 1700001000250000000ull);
	assert_int_equal(f.offset, offs[3]);
	assert_memory_equal(f.data, "sll2-frame", 10);

	/* SPB: interface 0, length from the block. */
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(f.linktype, 1);
	assert_int_equal(f.offset, offs[4]);
	assert_int_equal(f.caplen, 6);
	assert_int_equal(f.wirelen, 6);
	assert_memory_equal(f.data, "simple", 6);

	assert_int_equal(sonde_capfile_next(cf, &f), 0);
	sonde_capfile_close(cf);
	tu_bytes_free(&g.b);
}

static void test_pcapng(void **state)
{
	(void)state;
	check_ng(false);
}

static void test_pcapng_swapped(void **state)
{
	(void)state;
	check_ng(true);
}

/* A second section: its own interfaces (and byte order). */
static void test_pcapng_sections(void **state)
{
	(void)state;
	struct ng g;
	size_t offs[5];
	build_ng(&g, false, offs);
	g.swapped = true;
	ng_shb(&g);
	ng_idb(&g, 229, 6, 0);
	ng_epb(&g, 0, 42, "v6", 2, 2);
	g.swapped = false;
	ng_shb(&g);
	ng_idb(&g, 228, -1, 0);
	ng_epb(&g, 0, 1, "v4", 2, 2);
	/* Interface 1 is not described in this section. */
	size_t bad = g.b.len;
	ng_epb(&g, 1, 1, "xx", 2, 2);
	struct sonde_capfile *cf = sonde_capfile_open_mem(g.b.p, g.b.len, "s.pcapng");
	struct sonde_frame frames[16];
	int n;
	assert_int_equal(read_all(cf, frames, 16, &n), -1);
	assert_int_equal(n, 7);
	assert_int_equal(frames[5].linktype, 229);
	assert_int_equal(frames[5].ts_ns, 42000);
	assert_memory_equal(frames[5].data, "v6", 2);
	assert_int_equal(frames[6].linktype, 228);
	assert_int_equal(frames[6].ts_ns, 1000);
	assert_error_at(cf, bad);
	sonde_capfile_close(cf);
	tu_bytes_free(&g.b);
}

static void test_pcapng_errors(void **state)
{
	(void)state;
	struct sonde_frame f;
	struct ng g;
	size_t offs[5];

	/* Trailing length that does not match. */
	build_ng(&g, false, offs);
	g.b.p[offs[1] + 8 + 20 + 8 + 3] ^= 0x40; /* the EPB's trailing length */
	struct sonde_capfile *cf = sonde_capfile_open_mem(g.b.p, g.b.len, "t");
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(sonde_capfile_next(cf, &f), -1);
	assert_error_at(cf, offs[1]);
	sonde_capfile_close(cf);
	tu_bytes_free(&g.b);

	/* A block length that is not a multiple of 4. */
	build_ng(&g, false, offs);
	g.b.p[offs[2] + 4] += 1;
	cf = sonde_capfile_open_mem(g.b.p, g.b.len, "t");
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(sonde_capfile_next(cf, &f), -1);
	assert_error_at(cf, offs[2]);
	sonde_capfile_close(cf);
	tu_bytes_free(&g.b);

	/* An EPB claiming more captured bytes than it holds. */
	memset(&g, 0, sizeof(g));
	ng_shb(&g);
	ng_idb(&g, 1, -1, 0);
	size_t at = g.b.len;
	ng_epb(&g, 0, 1, "abcd", 4, 4);
	tu_set_le32(&g.b, at + 8 + 12, 100);
	if (host_big_endian())
		tu_set_be32(&g.b, at + 8 + 12, 100);
	cf = sonde_capfile_open_mem(g.b.p, g.b.len, "t");
	assert_int_equal(sonde_capfile_next(cf, &f), -1);
	assert_error_at(cf, at);
	sonde_capfile_close(cf);
	tu_bytes_free(&g.b);

	/* Bad byte-order magic. */
	memset(&g, 0, sizeof(g));
	ng_shb(&g);
	g.b.p[8] = 0x99;
	cf = sonde_capfile_open_mem(g.b.p, g.b.len, "t");
	assert_int_equal(sonde_capfile_next(cf, &f), -1);
	assert_non_null(strstr(sonde_capfile_error(cf), "offset"));
	sonde_capfile_close(cf);
	tu_bytes_free(&g.b);

	/* A packet before any interface. */
	memset(&g, 0, sizeof(g));
	ng_shb(&g);
	at = g.b.len;
	ng_epb(&g, 0, 1, "abcd", 4, 4);
	cf = sonde_capfile_open_mem(g.b.p, g.b.len, "t");
	assert_int_equal(sonde_capfile_next(cf, &f), -1);
	assert_error_at(cf, at);
	sonde_capfile_close(cf);
	tu_bytes_free(&g.b);
}

/* ------------------------------------------------------------ truncation --- */

static int write_tmp(const void *p, size_t n, char *path)
{
	strcpy(path, "/tmp/sonde-capfile-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		fail_msg("mkstemp failed");
	if (n && write(fd, p, n) != (ssize_t)n)
		fail_msg("write failed");
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/*
 * Cut a valid file at every length. A cut at a record/block boundary is a
 * clean, shorter file; any other cut is an error whose message names an
 * offset: the start of the damaged record (or, inside the file header, a
 * position within it). Never a crash, never a frame past the cut.
 */
static void truncate_all(const struct tu_bytes *file, const size_t *bounds, size_t nbounds,
			 size_t first_frame_bound, bool via_fd)
{
	for (size_t len = 0; len < file->len; len++) {
		/* An exact-size heap copy so ASan sees any overread. */
		uint8_t *copy = tu_xmalloc(len);
		memcpy(copy, file->p, len);
		struct sonde_capfile *cf;
		int fd = -1;
		char path[64];
		if (via_fd) {
			fd = write_tmp(copy, len, path);
			cf = sonde_capfile_open_fd(fd, "cut");
		} else {
			cf = sonde_capfile_open_mem(copy, len, "cut");
		}
		assert_non_null(cf);
		struct sonde_frame f;
		int rc, frames = 0;
		while ((rc = sonde_capfile_next(cf, &f)) == 1) {
			frames++;
			if (f.offset + f.caplen > len)
				fail_msg("cut at %zu: frame at %" PRIu64 " runs past the end", len, f.offset);
		}
		/* Where does the cut fall? */
		size_t last_bound = 0, k;
		bool at_bound = false;
		for (k = 0; k < nbounds; k++) {
			if (bounds[k] <= len)
				last_bound = bounds[k];
			if (bounds[k] == len)
				at_bound = true;
		}
		if (at_bound && len >= first_frame_bound) {
			if (rc != 0)
				fail_msg("cut at block boundary %zu: rc %d (%s)", len, rc, sonde_capfile_error(cf));
		} else {
			if (rc != -1)
				fail_msg("cut at %zu: rc %d, expected an error", len, rc);
			const char *e = sonde_capfile_error(cf);
			long long off = err_offset(e);
			if (off < 0)
				fail_msg("cut at %zu: error without an offset: \"%s\"", len, e);
			if (len >= first_frame_bound && off != (long long)last_bound)
				fail_msg("cut at %zu: error at offset %lld, the damaged record starts at %zu (\"%s\")",
					 len, off, last_bound, e);
			if (off > (long long)len)
				fail_msg("cut at %zu: error offset %lld past the end", len, off);
			assert_int_equal(sonde_capfile_next(cf, &f), -1);
		}
		sonde_capfile_close(cf);
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		free(copy);
	}
}

static void test_truncated_pcap(void **state)
{
	(void)state;
	struct tu_bytes b = { 0 };
	pcap_header(&b, 0xa1b23c4du, false, 1);
	size_t bounds[4];
	bounds[0] = b.len;
	pcap_record(&b, false, 1, 2, "first frame", 11, 11);
	bounds[1] = b.len;
	pcap_record(&b, false, 3, 4, "second", 6, 60);
	bounds[2] = b.len;
	pcap_record(&b, false, 5, 6, "3", 1, 1);
	bounds[3] = b.len;
	truncate_all(&b, bounds, 4, 24, false);
	truncate_all(&b, bounds, 4, 24, true);
	tu_bytes_free(&b);
}

static void test_truncated_pcapng(void **state)
{
	(void)state;
	struct ng g;
	memset(&g, 0, sizeof(g));
	size_t bounds[8], nb = 0;
	ng_shb(&g);
	bounds[nb++] = g.b.len;
	ng_idb(&g, 1, 9, 0);
	bounds[nb++] = g.b.len;
	ng_idb(&g, 101, -1, 0);
	bounds[nb++] = g.b.len;
	ng_epb(&g, 1, 5, "packet one", 10, 10);
	bounds[nb++] = g.b.len;
	ng_spb(&g, "spb", 3, 3);
	bounds[nb++] = g.b.len;
	ng_epb(&g, 0, 6, "x", 1, 1);
	bounds[nb++] = g.b.len;
	truncate_all(&g.b, bounds, nb, bounds[0], false);
	truncate_all(&g.b, bounds, nb, bounds[0], true);
	tu_bytes_free(&g.b);
}

/* ------------------------------------------------------------ fd inputs --- */

/* A pipe, read sequentially. */
static void test_pipe(void **state)
{
	(void)state;
	struct tu_bytes b = { 0 };
	pcap_header(&b, 0xa1b2c3d4u, false, 101);
	for (int i = 0; i < 100; i++) {
		char d[64];
		int n = snprintf(d, sizeof(d), "packet %d", i);
		pcap_record(&b, false, (uint32_t)i, 0, d, (uint32_t)n, (uint32_t)n);
	}
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_true(b.len < 60000); /* fits in the pipe buffer */
	assert_int_equal(write(p[1], b.p, b.len), (ssize_t)b.len);
	close(p[1]);
	struct sonde_capfile *cf = sonde_capfile_open_fd(p[0], "(stdin)");
	struct sonde_frame f;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(sonde_capfile_next(cf, &f), 1);
		char d[64];
		int n = snprintf(d, sizeof(d), "packet %d", i);
		assert_int_equal(f.caplen, n);
		assert_memory_equal(f.data, d, (size_t)n);
		assert_int_equal(f.linktype, 101);
	}
	assert_int_equal(sonde_capfile_next(cf, &f), 0);
	sonde_capfile_close(cf);
	close(p[0]);
	tu_bytes_free(&b);
}

/* Frames bigger than the reader's initial buffer, from a file. */
static void test_large_frames_fd(void **state)
{
	(void)state;
	struct tu_bytes b = { 0 };
	pcap_header(&b, 0xa1b2c3d4u, false, 1);
	uint32_t big = 6u << 20;
	uint8_t *data = tu_xmalloc(big);
	for (uint32_t i = 0; i < big; i++)
		data[i] = (uint8_t)(i * 7);
	pcap_record(&b, false, 1, 0, "small", 5, 5);
	pcap_record(&b, false, 2, 0, data, big, big);
	pcap_record(&b, false, 3, 0, "after", 5, 5);
	char path[64];
	int fd = write_tmp(b.p, b.len, path);
	struct sonde_capfile *cf = sonde_capfile_open_fd(fd, path);
	struct sonde_frame f;
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(f.caplen, 5);
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_int_equal(f.caplen, big);
	assert_int_equal(f.offset, 24 + 16 + 5);
	assert_memory_equal(f.data, data, big);
	assert_int_equal(sonde_capfile_next(cf, &f), 1);
	assert_memory_equal(f.data, "after", 5);
	assert_int_equal(f.offset, 24 + 16 + 5 + 16 + big);
	assert_int_equal(sonde_capfile_next(cf, &f), 0);
	sonde_capfile_close(cf);
	close(fd);
	unlink(path);
	free(data);
	tu_bytes_free(&b);
}

static void ng_dsb(struct ng *g, uint32_t type, const char *secrets, uint32_t said_len)
{
	ng_begin(g, 10);
	w32(&g->b, type, g->swapped);
	w32(&g->b, said_len, g->swapped);
	tu_bytes_put(&g->b, secrets, strlen(secrets));
	ng_end(g);
}

struct seen_secrets {
	int n;
	uint32_t type[4];
	char text[4][64];
	int frames_before[4];
	int frames;
};

static void on_secrets(void *ctx, uint32_t type, const uint8_t *data, size_t len)
{
	struct seen_secrets *s = ctx;
	assert_true(s->n < 4 && len < 64);
	s->type[s->n] = type;
	memcpy(s->text[s->n], data, len);
	s->text[s->n][len] = 0;
	s->frames_before[s->n++] = s->frames;
}

/* Decryption Secrets Blocks reach the callback in file order, between the
 * frames around them, in either byte order; a length past the body is
 * damage at the block's offset. */
static void check_dsb(bool swapped)
{
	struct ng g = { .swapped = swapped };
	ng_shb(&g);
	ng_idb(&g, 1, -1, 0);
	ng_dsb(&g, 0x544c534bu, "CLIENT_RANDOM aa bb\n", 20);
	ng_epb(&g, 0, 1, "one", 3, 3);
	ng_dsb(&g, 0x57474b4cu, "wg", 2); /* WireGuard keys: handed on too */
	ng_epb(&g, 0, 2, "two", 3, 3);
	size_t bad = g.b.len;
	ng_dsb(&g, 0x544c534bu, "abcd", 9);
	struct seen_secrets s = { 0 };
	struct sonde_capfile *cf = sonde_capfile_open_mem(g.b.p, g.b.len, "k.pcapng");
	sonde_capfile_on_secrets(cf, on_secrets, &s);
	struct sonde_frame f;
	int rc;
	while ((rc = sonde_capfile_next(cf, &f)) == 1)
		s.frames++;
	assert_int_equal(rc, -1);
	assert_error_at(cf, bad);
	assert_int_equal(s.frames, 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.type[0], SONDE_PCAPNG_SECRETS_TLS);
	assert_str(s.text[0], "CLIENT_RANDOM aa bb\n");
	assert_int_equal(s.frames_before[0], 0);
	assert_int_equal(s.type[1], 0x57474b4cu);
	assert_str(s.text[1], "wg");
	assert_int_equal(s.frames_before[1], 1);
	sonde_capfile_close(cf);
	tu_bytes_free(&g.b);
}

static void test_pcapng_secrets(void **state)
{
	(void)state;
	check_dsb(false);
	check_dsb(true);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_pcap_us),
		tu_test(test_pcap_ns),
		tu_test(test_pcap_swapped),
		tu_test(test_pcap_errors),
		tu_test(test_pcapng),
		tu_test(test_pcapng_swapped),
		tu_test(test_pcapng_sections),
		tu_test(test_pcapng_errors),
		tu_test(test_pcapng_secrets),
		tu_test(test_truncated_pcap),
		tu_test(test_truncated_pcapng),
		tu_test(test_pipe),
		tu_test(test_large_frames_fd),
	};
	return cmocka_run_group_tests_name("capfile", tests, NULL, NULL);
}
