/* SPDX-License-Identifier: MIT */
#include "source/file/capfile.h"
#include "source/file/inflate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAPNG_SHB 0x0a0d0d0au
#define PCAPNG_BOM 0x1a2b3c4du
#define PCAPNG_IDB 1u
#define PCAPNG_OPB 2u
#define PCAPNG_SPB 3u
#define PCAPNG_EPB 6u
#define PCAPNG_DSB 10u /* Decryption Secrets Block */

#define READ_CHUNK (1u << 20)
#define MAX_INTERFACES 4096u

enum cap_format { FMT_UNKNOWN, FMT_PCAP, FMT_PCAPNG };

struct iface {
	uint32_t linktype;
	uint32_t snaplen;
	uint64_t units_per_sec; /* timestamp resolution */
	int64_t offset_sec; /* if_tsoffset */
};

struct sonde_capfile {
	const char *name;
	int fd; /* -1: memory input */
	bool mapped; /* buf is an mmap of the whole file */
	size_t populated; /* mapped: page tables filled up to here (populate_ahead) */
	uint8_t *buf; /* owned unless memory input */
	size_t cap, pos, end;
	uint64_t base_off; /* file offset of buf[0] */
	bool eof, failed, header_done;
	enum cap_format fmt;
	bool swap;
	/* pcap */
	uint32_t linktype;
	bool nanos;
	/* pcapng */
	struct iface *ifaces;
	uint32_t n_ifaces, cap_ifaces;
	/* compressed input (gzip, zstd): the decoder, the mapping or first
	 * bytes it reads from, and what it said went wrong */
	struct sonde_inflate *z;
	void *map;
	size_t map_len;
	uint8_t *pre;
	bool sniffed; /* the first bytes of a pipe were looked at */
	sonde_capfile_secrets_fn *on_secrets;
	void *secrets_ctx;
	char read_err[192];
	char err[256];
};

/* What a failed read was: the decoder's message, or the system's. */
static const char *read_error(struct sonde_capfile *cf)
{
	if (!cf->read_err[0])
		snprintf(cf->read_err, sizeof(cf->read_err), "read error: %s", strerror(errno));
	return cf->read_err;
}

static struct sonde_capfile *capfile_new(const char *name)
{
	struct sonde_capfile *cf = calloc(1, sizeof(*cf));
	if (!cf)
		return NULL;
	cf->name = name ? name : "(input)";
	return cf;
}

struct sonde_capfile *sonde_capfile_open_fd(int fd, const char *name)
{
	struct sonde_capfile *cf = capfile_new(name);
	if (!cf)
		return NULL;
	cf->fd = fd;
	/* A regular file is mapped: frames then point into the page cache, no
	 * copy. Pipes (and a failed mmap) go through read(). */
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		enum sonde_compression c = m == MAP_FAILED
						   ? SONDE_COMPRESSION_NONE
						   : sonde_compression_of(m, (size_t)st.st_size);
		if (m != MAP_FAILED && c == SONDE_COMPRESSION_NONE) {
			madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
			cf->buf = m;
			cf->cap = cf->end = (size_t)st.st_size;
			cf->eof = true;
			cf->mapped = true;
			return cf;
		}
		if (m != MAP_FAILED) { /* decompressed from the mapping */
			madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
			cf->map = m;
			cf->map_len = (size_t)st.st_size;
			cf->sniffed = true;
			cf->z = sonde_inflate_new(c, -1, m, cf->map_len);
			if (!cf->z) {
				munmap(m, cf->map_len);
				free(cf);
				return NULL;
			}
		}
	}
	cf->cap = 4 * READ_CHUNK;
	cf->buf = malloc(cf->cap);
	if (!cf->buf) {
		free(cf);
		return NULL;
	}
	return cf;
}

struct sonde_capfile *sonde_capfile_open_mem(const void *data, size_t len, const char *name)
{
	struct sonde_capfile *cf = capfile_new(name);
	if (!cf)
		return NULL;
	cf->fd = -1;
	cf->buf = (uint8_t *)data;
	cf->cap = cf->end = len;
	cf->eof = true;
	return cf;
}

void sonde_capfile_close(struct sonde_capfile *cf)
{
	if (!cf)
		return;
	if (cf->mapped)
		munmap(cf->buf, cf->cap);
	else if (cf->fd >= 0)
		free(cf->buf);
	if (cf->map)
		munmap(cf->map, cf->map_len);
	sonde_inflate_free(cf->z);
	free(cf->pre);
	free(cf->ifaces);
	free(cf);
}

const char *sonde_capfile_error(const struct sonde_capfile *cf)
{
	return cf->err;
}

const char *sonde_capfile_format(const struct sonde_capfile *cf)
{
	return cf->fmt == FMT_PCAP ? "pcap" : cf->fmt == FMT_PCAPNG ? "pcapng" : NULL;
}

__attribute__((format(printf, 3, 4))) static int fail(struct sonde_capfile *cf, uint64_t off,
						      const char *fmt, ...)
{
	char msg[192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(cf->err, sizeof(cf->err), "%s: offset %llu: %s", cf->name, (unsigned long long)off,
		 msg);
	cf->failed = true;
	return -1;
}

static uint64_t cur_off(const struct sonde_capfile *cf)
{
	return cf->base_off + cf->pos;
}

/*
 * Make n bytes available at buf+pos. Returns the number available (< n only at
 * end of input), or -1 on a read error.
 */
/*
 * Bytes of the capture from the input: read() as they are, or decompressed.
 * A pipe's first bytes decide which (gzip and zstd say so in their first
 * four); a regular file was looked at when it was opened.
 */
static ssize_t fill(struct sonde_capfile *cf, uint8_t *dst, size_t room)
{
	if (!cf->sniffed) {
		cf->sniffed = true;
		ssize_t r = read(cf->fd, dst, room);
		if (r <= 0)
			return r;
		enum sonde_compression c = sonde_compression_of(dst, (size_t)r);
		if (c == SONDE_COMPRESSION_NONE)
			return r;
		cf->pre = malloc((size_t)r);
		if (!cf->pre || !(cf->z = sonde_inflate_new(c, cf->fd, cf->pre, (size_t)r))) {
			snprintf(cf->read_err, sizeof(cf->read_err), "out of memory");
			return -1;
		}
		memcpy(cf->pre, dst, (size_t)r);
	}
	if (!cf->z)
		return read(cf->fd, dst, room);
	ssize_t r = sonde_inflate_read(cf->z, dst, room);
	if (r < 0)
		snprintf(cf->read_err, sizeof(cf->read_err), "%s", sonde_inflate_error(cf->z));
	return r;
}

/* A mapped file's page tables filled a window ahead of the reader in one
 * call (MADV_POPULATE_READ, Linux 5.14) instead of a page fault per 64 KiB
 * read: about 3% of `sonde read`'s CPU. Windowed, not MAP_POPULATE, so a
 * capture larger than memory is not read whole up front. An older kernel
 * refuses the advice: faults it is, as before. */
#define POPULATE_WINDOW (8u << 20)

static void populate_ahead(struct sonde_capfile *cf, size_t upto)
{
	if (upto <= cf->populated || cf->populated >= cf->end)
		return;
	size_t len = cf->end - cf->populated < POPULATE_WINDOW ? cf->end - cf->populated
							       : POPULATE_WINDOW;
	int saved = errno;
	if (madvise(cf->buf + cf->populated, len, MADV_POPULATE_READ) < 0 && errno == EINVAL)
		cf->populated = cf->end; /* not this kernel */
	else
		cf->populated += len;
	errno = saved;
}

static ssize_t ensure(struct sonde_capfile *cf, size_t n)
{
	if (cf->mapped)
		populate_ahead(cf, cf->pos + n + POPULATE_WINDOW / 2);
	while (cf->end - cf->pos < n && !cf->eof) {
		if (cf->pos > 0) {
			memmove(cf->buf, cf->buf + cf->pos, cf->end - cf->pos);
			cf->base_off += cf->pos;
			cf->end -= cf->pos;
			cf->pos = 0;
		}
		if (cf->cap < n) {
			size_t ncap = cf->cap;
			while (ncap < n)
				ncap *= 2;
			uint8_t *nb = realloc(cf->buf, ncap);
			if (!nb)
				return -1;
			cf->buf = nb;
			cf->cap = ncap;
		}
		ssize_t r = fill(cf, cf->buf + cf->end, cf->cap - cf->end);
		if (r < 0) {
			if (errno == EINTR && !cf->z)
				continue;
			return -1;
		}
		if (r == 0)
			cf->eof = true;
		cf->end += (size_t)r;
	}
	size_t have = cf->end - cf->pos;
	return (ssize_t)(have < n ? have : n);
}

static uint16_t rd16(const struct sonde_capfile *cf, const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return cf->swap ? __builtin_bswap16(v) : v;
}

static uint32_t rd32(const struct sonde_capfile *cf, const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return cf->swap ? __builtin_bswap32(v) : v;
}

static uint64_t to_ns(uint64_t ts, uint64_t units, int64_t offset_sec)
{
	uint64_t sec = ts / units, frac = ts % units;
	uint64_t ns = (uint64_t)((unsigned __int128)frac * 1000000000u / units);
	return (sec + (uint64_t)offset_sec) * 1000000000ull + ns;
}

/* ---------------------------------------------------------------- pcap --- */

static int pcap_header(struct sonde_capfile *cf, uint32_t magic)
{
	ssize_t n = ensure(cf, 24);
	if (n < 0)
		return fail(cf, 0, "%s", read_error(cf));
	if (n < 24)
		return fail(cf, (uint64_t)n, "truncated pcap file header (%zd of 24 bytes)", n);
	cf->fmt = FMT_PCAP;
	cf->swap = magic == __builtin_bswap32(PCAP_MAGIC_US) ||
		   magic == __builtin_bswap32(PCAP_MAGIC_NS);
	cf->nanos = magic == PCAP_MAGIC_NS || magic == __builtin_bswap32(PCAP_MAGIC_NS);
	const uint8_t *h = cf->buf + cf->pos;
	uint16_t major = rd16(cf, h + 4);
	if (major != 2)
		return fail(cf, 4, "unsupported pcap version %u", major);
	/* The top bits of the link type field carry FCS information. */
	cf->linktype = rd32(cf, h + 20) & 0x0fffffffu;
	cf->pos += 24;
	return 0;
}

static int pcap_next(struct sonde_capfile *cf, struct sonde_frame *f)
{
	uint64_t off = cur_off(cf);
	ssize_t n = ensure(cf, 16);
	if (n < 0)
		return fail(cf, off, "%s", read_error(cf));
	if (n == 0)
		return 0;
	if (n < 16)
		return fail(
			cf, off,
			"truncated packet record header (%zd of 16 bytes): the file was cut short",
			n);
	const uint8_t *h = cf->buf + cf->pos;
	uint32_t sec = rd32(cf, h), sub = rd32(cf, h + 4);
	uint32_t incl = rd32(cf, h + 8), orig = rd32(cf, h + 12);
	if (incl > SONDE_CAPFILE_MAX_FRAME)
		return fail(cf, off, "implausible packet length %u: corrupt record", incl);
	if (sub >= (cf->nanos ? 1000000000u : 1000000u))
		return fail(cf, off, "corrupt record: sub-second timestamp %u out of range", sub);
	n = ensure(cf, 16 + (size_t)incl);
	if (n < 0)
		return fail(cf, off, "%s", read_error(cf));
	if ((size_t)n < 16 + (size_t)incl)
		return fail(cf, off,
			    "truncated packet: record says %u bytes, the file ends after %zd: the "
			    "file was cut short",
			    incl, n - 16);
	f->offset = off;
	f->ts_ns = (uint64_t)sec * 1000000000ull + (cf->nanos ? sub : (uint64_t)sub * 1000u);
	f->caplen = incl;
	f->wirelen = orig < incl ? incl : orig;
	f->linktype = cf->linktype;
	f->data = cf->buf + cf->pos + 16;
	cf->pos += 16 + (size_t)incl;
	return 1;
}

/* -------------------------------------------------------------- pcapng --- */

static int add_iface(struct sonde_capfile *cf, uint64_t off, const uint8_t *body, size_t len)
{
	if (len < 8)
		return fail(cf, off, "interface description block too short");
	if (cf->n_ifaces >= MAX_INTERFACES)
		return fail(cf, off, "more than %u interfaces", MAX_INTERFACES);
	if (cf->n_ifaces == cf->cap_ifaces) {
		uint32_t ncap = cf->cap_ifaces ? cf->cap_ifaces * 2 : 8;
		struct iface *ni = realloc(cf->ifaces, ncap * sizeof(*ni));
		if (!ni)
			return fail(cf, off, "out of memory");
		cf->ifaces = ni;
		cf->cap_ifaces = ncap;
	}
	struct iface *i = &cf->ifaces[cf->n_ifaces++];
	i->linktype = rd16(cf, body);
	i->snaplen = rd32(cf, body + 4);
	i->units_per_sec = 1000000;
	i->offset_sec = 0;
	/* Options: code(2) length(2) value padded to 4; opt_endofopt ends them. */
	size_t p = 8;
	while (p + 4 <= len) {
		uint16_t code = rd16(cf, body + p), olen = rd16(cf, body + p + 2);
		p += 4;
		if (code == 0 || p + olen > len)
			break;
		if (code == 9 && olen >= 1) { /* if_tsresol */
			uint8_t r = body[p];
			uint64_t units = 1;
			unsigned exp = r & 0x7f;
			if (r & 0x80) {
				if (exp > 63)
					return fail(cf, off,
						    "unsupported timestamp resolution 2^-%u", exp);
				units = 1ull << exp;
			} else {
				if (exp > 19)
					return fail(cf, off,
						    "unsupported timestamp resolution 10^-%u", exp);
				while (exp--)
					units *= 10;
			}
			i->units_per_sec = units;
		} else if (code == 14 && olen >= 8) { /* if_tsoffset */
			uint64_t v;
			memcpy(&v, body + p, 8);
			i->offset_sec = (int64_t)(cf->swap ? __builtin_bswap64(v) : v);
		}
		p += (olen + 3u) & ~3u;
	}
	return 0;
}

/* Reads a section header at the current position (magic already seen). */
static int pcapng_shb(struct sonde_capfile *cf)
{
	uint64_t off = cur_off(cf);
	ssize_t n = ensure(cf, 12);
	if (n < 0)
		return fail(cf, off, "%s", read_error(cf));
	if (n < 12)
		return fail(cf, off, "truncated section header block");
	uint32_t bom;
	memcpy(&bom, cf->buf + cf->pos + 8, 4);
	if (bom == PCAPNG_BOM)
		cf->swap = false;
	else if (bom == __builtin_bswap32(PCAPNG_BOM))
		cf->swap = true;
	else
		return fail(cf, off + 8, "bad pcapng byte-order magic 0x%08x", bom);
	cf->fmt = FMT_PCAPNG;
	cf->n_ifaces = 0; /* interfaces are per section */
	return 0;
}

/*
 * The next block, whole: its type, body and body length, the buffer moved
 * past it. Returns 1, 0 at a clean end, -1 on damage.
 */
static int pcapng_block(struct sonde_capfile *cf, uint64_t off, uint32_t *type,
			const uint8_t **body, size_t *blen)
{
	ssize_t n = ensure(cf, 12);
	if (n < 0)
		return fail(cf, off, "%s", read_error(cf));
	if (n == 0)
		return 0;
	if (n < 12)
		return fail(cf, off, "truncated block header (%zd bytes): the file was cut short",
			    n);
	memcpy(type, cf->buf + cf->pos, 4);
	if (*type == PCAPNG_SHB) {
		if (pcapng_shb(cf) < 0) /* the byte order is the section's own */
			return -1;
	} else {
		*type = rd32(cf, cf->buf + cf->pos);
	}
	uint32_t len = rd32(cf, cf->buf + cf->pos + 4);
	if (len < 12 || len % 4 != 0 || len > SONDE_CAPFILE_MAX_FRAME + 4096)
		return fail(cf, off, "corrupt block: length %u", len);
	n = ensure(cf, len);
	if (n < 0)
		return fail(cf, off, "%s", read_error(cf));
	if ((size_t)n < len)
		return fail(cf, off,
			    "truncated block: it says %u bytes, the file ends after %zd: the file "
			    "was cut short",
			    len, n);
	const uint8_t *blk = cf->buf + cf->pos;
	if (rd32(cf, blk + len - 4) != len)
		return fail(cf, off, "corrupt block: trailing length %u does not match %u",
			    rd32(cf, blk + len - 4), len);
	*body = blk + 8;
	*blen = len - 12;
	cf->pos += len;
	return 1;
}

/* A packet block (EPB, SPB, the obsolete OPB) into *f. Returns 1 or -1. */
static int pcapng_packet(struct sonde_capfile *cf, uint64_t off, uint32_t type, const uint8_t *body,
			 size_t blen, struct sonde_frame *f)
{
	uint32_t ifid, caplen, wirelen;
	uint64_t ts;
	const uint8_t *data;
	if (type == PCAPNG_SPB) {
		if (blen < 4)
			return fail(cf, off, "simple packet block too short");
		ifid = 0;
		ts = 0;
		wirelen = rd32(cf, body);
		caplen = (uint32_t)(blen - 4);
		if (wirelen < caplen)
			caplen = wirelen;
		data = body + 4;
	} else {
		/* Same layout but the interface id: 32 bits (EPB), or 16
		 * followed by a drop count (the obsolete packet block). */
		if (blen < 20)
			return fail(cf, off, "packet block too short");
		ifid = type == PCAPNG_EPB ? rd32(cf, body) : rd16(cf, body);
		ts = (uint64_t)rd32(cf, body + 4) << 32 | rd32(cf, body + 8);
		caplen = rd32(cf, body + 12);
		wirelen = rd32(cf, body + 16);
		data = body + 20;
		if (caplen > blen - 20)
			return fail(cf, off,
				    "corrupt packet block: %u captured bytes in a %zu-byte body",
				    caplen, blen);
	}
	if (ifid >= cf->n_ifaces)
		return fail(cf, off, "packet block names interface %u, but only %u are described",
			    ifid, cf->n_ifaces);
	const struct iface *i = &cf->ifaces[ifid];
	if (type == PCAPNG_SPB && i->snaplen && caplen > i->snaplen)
		caplen = i->snaplen;
	f->offset = off;
	f->ts_ns = to_ns(ts, i->units_per_sec, i->offset_sec);
	f->caplen = caplen;
	f->wirelen = wirelen < caplen ? caplen : wirelen;
	f->linktype = i->linktype;
	f->data = data;
	return 1;
}

/* A Decryption Secrets Block: its type, its length and the secrets, handed
 * to the reader's user as they are (only a key log's user can judge them). */
static int pcapng_secrets(struct sonde_capfile *cf, uint64_t off, const uint8_t *body, size_t blen)
{
	if (blen < 8)
		return fail(cf, off, "decryption secrets block too short");
	uint32_t type = rd32(cf, body), len = rd32(cf, body + 4);
	if (len > blen - 8)
		return fail(cf, off,
			    "corrupt decryption secrets block: %u bytes of secrets in a "
			    "%zu-byte body",
			    len, blen);
	if (cf->on_secrets)
		cf->on_secrets(cf->secrets_ctx, type, body + 8, len);
	return 0;
}

void sonde_capfile_on_secrets(struct sonde_capfile *cf, sonde_capfile_secrets_fn *fn, void *ctx)
{
	cf->on_secrets = fn;
	cf->secrets_ctx = ctx;
}

static int pcapng_next(struct sonde_capfile *cf, struct sonde_frame *f)
{
	for (;;) {
		uint64_t off = cur_off(cf);
		uint32_t type = 0;
		const uint8_t *body = NULL;
		size_t blen = 0;
		int rc = pcapng_block(cf, off, &type, &body, &blen);
		if (rc <= 0)
			return rc;
		switch (type) {
		case PCAPNG_IDB:
			if (add_iface(cf, off, body, blen) < 0)
				return -1;
			continue;
		case PCAPNG_EPB:
		case PCAPNG_OPB:
		case PCAPNG_SPB: return pcapng_packet(cf, off, type, body, blen, f);
		case PCAPNG_DSB:
			if (pcapng_secrets(cf, off, body, blen) < 0)
				return -1;
			continue;
		default:
			/* section headers (read above), name resolution,
			 * statistics, secrets, custom: not ours */
			continue;
		}
	}
}

int sonde_capfile_next(struct sonde_capfile *cf, struct sonde_frame *f)
{
	if (cf->failed)
		return -1;
	if (!cf->header_done) {
		ssize_t n = ensure(cf, 4);
		if (n < 0)
			return fail(cf, 0, "%s", read_error(cf));
		if (n == 0)
			return fail(cf, 0, "empty input: not a capture file");
		if (n < 4)
			return fail(cf, 0, "too short to be a capture file (%zd bytes)", n);
		uint32_t magic;
		memcpy(&magic, cf->buf + cf->pos, 4);
		cf->header_done = true;
		if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS ||
		    magic == __builtin_bswap32(PCAP_MAGIC_US) ||
		    magic == __builtin_bswap32(PCAP_MAGIC_NS)) {
			if (pcap_header(cf, magic) < 0)
				return -1;
		} else if (magic == PCAPNG_SHB) {
			cf->fmt = FMT_PCAPNG;
		} else {
			return fail(cf, 0,
				    "not a pcap or pcapng file (starts with %02x %02x %02x %02x)",
				    cf->buf[cf->pos], cf->buf[cf->pos + 1], cf->buf[cf->pos + 2],
				    cf->buf[cf->pos + 3]);
		}
	}
	return cf->fmt == FMT_PCAP ? pcap_next(cf, f) : pcapng_next(cf, f);
}
