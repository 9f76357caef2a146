/* SPDX-License-Identifier: MIT */
#include "sink/pcapng.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "sink/tcp_synth.h"
#include "source/packet/packet.h"

/* Block types and option codes (draft-ietf-opsawg-pcapng). */
enum {
	BT_SHB = 0x0A0D0D0A,
	BT_IDB = 0x00000001,
	BT_EPB = 0x00000006,
	BT_DSB = 0x0000000A,
	BYTE_ORDER_MAGIC = 0x1A2B3C4D,
	OPT_ENDOFOPT = 0,
	OPT_COMMENT = 1,
	OPT_SHB_USERAPPL = 4,
	OPT_IF_NAME = 2,
	OPT_IF_TSRESOL = 9,
};

#define DEFAULT_SNAPLEN 262144u

/* The synthetic interfaces, one per kind of stream source. */
enum synth_iface {
	SYNTH_EBPF, /* syscalls */
	SYNTH_EBPF_TLS, /* TLS libraries' plaintext */
	SYNTH_OTHER, /* packet sources' chunks, written as chunks */
};

static const char *const synth_name[] = { "ebpf", "ebpf-tls", "synthetic" };

struct iface {
	char name[64];
	uint32_t linktype, snaplen;
};

/* A file written, kept for -W and the quota; the last is the current. */
struct kept_file {
	char *path;
	uint64_t bytes;
};

struct sonde_pcapng {
	struct sonde_pcapng_opts o;
	char *path;
	int fd;
	bool to_stdout, regular;
	int err; /* sticky errno */
	char errmsg[PATH_MAX + 128];
	char cur[PATH_MAX];
	uint64_t cur_packets;
	uint64_t period_t0; /* -G: first packet of the current file; 0: none yet */
	unsigned counter; /* -C: the number in the current name */
	int wchars; /* -W: digits of the ring's numbers */
	struct kept_file *files;
	size_t nfiles, capfiles;
	uint64_t total; /* bytes of the kept files */
	struct iface ifs[SONDE_PCAPNG_MAX_IFACES];
	size_t nif;
	int synth_if[3]; /* by enum synth_iface; -1 until used */
	struct sonde_buf blk, hdr; /* the EPB being written; SHB/IDBs */
	struct sonde_buf dsb; /* Decryption Secrets Blocks, repeated in every file */
	struct sonde_tcp_synth *synth;
	struct sonde_pcapng_stats st;
};

/* ========================================================== blocks === */

static void put_u16(struct sonde_buf *b, uint16_t v)
{
	sonde_buf_append(b, &v, 2);
}

static void put_u32(struct sonde_buf *b, uint32_t v)
{
	sonde_buf_append(b, &v, 4);
}

static void put_pad(struct sonde_buf *b, size_t n)
{
	static const uint8_t zero[4];
	sonde_buf_append(b, zero, (4 - n % 4) % 4);
}

static void put_opt(struct sonde_buf *b, uint16_t code, const void *p, size_t n)
{
	put_u16(b, code);
	put_u16(b, (uint16_t)n);
	sonde_buf_append(b, p, n);
	put_pad(b, n);
}

/* Blocks are appended to b in this machine's byte order, which the SHB's
 * magic tells readers; blk_begin() returns where the block starts. */
static size_t blk_begin(struct sonde_buf *b, uint32_t type)
{
	size_t start = b->len;
	put_u32(b, type);
	put_u32(b, 0); /* the length, once known */
	return start;
}

static void blk_end(struct sonde_buf *b, size_t start, bool had_options)
{
	if (had_options)
		put_opt(b, OPT_ENDOFOPT, NULL, 0);
	uint32_t len = (uint32_t)(b->len - start) + 4;
	memcpy(b->p + start + 4, &len, 4);
	put_u32(b, len);
}

static void build_shb(struct sonde_buf *b)
{
	size_t at = blk_begin(b, BT_SHB);
	put_u32(b, BYTE_ORDER_MAGIC);
	put_u16(b, 1);
	put_u16(b, 0);
	put_u32(b, UINT32_MAX); /* section length: not known (-1) */
	put_u32(b, UINT32_MAX);
	put_opt(b, OPT_SHB_USERAPPL, "sonde", 5);
	blk_end(b, at, true);
}

static void build_idb(struct sonde_buf *b, const struct iface *f)
{
	static const uint8_t ns = 9; /* 10^-9 s */
	size_t at = blk_begin(b, BT_IDB);
	put_u16(b, (uint16_t)f->linktype);
	put_u16(b, 0);
	put_u32(b, f->snaplen);
	put_opt(b, OPT_IF_NAME, f->name, strlen(f->name));
	put_opt(b, OPT_IF_TSRESOL, &ns, 1);
	blk_end(b, at, true);
}

static void appendf(char *out, size_t len, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void appendf(char *out, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	if (*at >= len - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(out + *at, len - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at = *at + (size_t)n < len - 1 ? *at + (size_t)n : len - 1;
}

/* "sonde: method=… pid=… comm=… conn=…" with what is known; "" if nothing. */
static void meta_comment(const struct sonde_pcapng_meta *m, char *out, size_t len)
{
	size_t at = 0;
	appendf(out, len, &at, "sonde:");
	size_t empty = at;
	if (m->method && *m->method)
		appendf(out, len, &at, " method=%s", m->method);
	if (m->pid)
		appendf(out, len, &at, " pid=%u", m->pid);
	if (m->comm && *m->comm) {
		/* One token: a comm may hold spaces, '=', anything. */
		char comm[17];
		size_t i;
		for (i = 0; i < 16 && m->comm[i]; i++) {
			unsigned char ch = (unsigned char)m->comm[i];
			comm[i] = ch <= ' ' || ch == '=' || ch >= 0x7f ? '_' : (char)ch;
		}
		comm[i] = 0;
		appendf(out, len, &at, " comm=%s", comm);
	}
	if (m->conn_id)
		appendf(out, len, &at, " conn=%llu", (unsigned long long)m->conn_id);
	if (at == empty)
		out[0] = 0;
}

static void build_epb(struct sonde_buf *b, int iface, uint64_t ts_ns, const uint8_t *data,
		      uint32_t caplen, uint32_t wirelen, const char *comment)
{
	size_t at = blk_begin(b, BT_EPB);
	put_u32(b, (uint32_t)iface);
	put_u32(b, (uint32_t)(ts_ns >> 32));
	put_u32(b, (uint32_t)ts_ns);
	put_u32(b, caplen);
	put_u32(b, wirelen);
	sonde_buf_append(b, data, caplen);
	put_pad(b, caplen);
	if (*comment)
		put_opt(b, OPT_COMMENT, comment, strlen(comment));
	blk_end(b, at, *comment != 0);
}

/* ========================================================== output === */

static void fail(struct sonde_pcapng *w, int e, const char *what)
{
	if (w->err)
		return;
	w->err = e ? e : EIO;
	snprintf(w->errmsg, sizeof(w->errmsg), "%s: %s: %s", w->cur, what, strerror(w->err));
}

/* One block with one write(): a short write (a signal, a pipe) goes on
 * where it stopped; a failure is sticky, and a regular file is cut back to
 * the end of its last whole block. */
static int write_block(struct sonde_pcapng *w, const struct sonde_buf *b)
{
	if (w->err)
		return -1;
	size_t done = 0;
	while (done < b->len) {
		ssize_t n = write(w->fd, b->p + done, b->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			if (w->regular && done &&
			    ftruncate(w->fd, (off_t)w->files[w->nfiles - 1].bytes) < 0)
				e = errno;
			fail(w, e, "write");
			return -1;
		}
		done += (size_t)n;
	}
	w->st.bytes += b->len;
	if (w->nfiles)
		w->files[w->nfiles - 1].bytes += b->len;
	w->total += b->len;
	return 0;
}

/* The SHB and every IDB, in one write: a new file is never seen without
 * its headers. */
static int write_headers(struct sonde_pcapng *w)
{
	sonde_buf_reset(&w->hdr);
	build_shb(&w->hdr);
	for (size_t i = 0; i < w->nif; i++)
		build_idb(&w->hdr, &w->ifs[i]);
	sonde_buf_append(&w->hdr, w->dsb.p, w->dsb.len);
	return write_block(w, &w->hdr);
}

/* ======================================================== rotation === */

static void make_name(const struct sonde_pcapng *w, uint64_t ts_ns, char *out, size_t len)
{
	char base[PATH_MAX];
	snprintf(base, sizeof(base), "%s", w->path);
	if (w->o.rotate_ns && strchr(w->path, '%')) {
		time_t t = (time_t)(ts_ns / 1000000000u);
		struct tm tm;
		if (localtime_r(&t, &tm) && !strftime(base, sizeof(base), w->path, &tm))
			snprintf(base, sizeof(base), "%s", w->path);
	}
	/* base, then the counter: with -C and -W always, zero-padded to the
	 * digits of W-1 (tcpdump's path0, path1...); else none for the first
	 * file. check_opts() left room for it. */
	bool ring = w->o.max_files && w->o.rotate_bytes;
	char num[16];
	size_t k = sizeof(num) - 1;
	num[k] = 0;
	if (ring || w->counter) {
		unsigned v = w->counter;
		do {
			num[--k] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		while (ring && sizeof(num) - 1 - k < (size_t)w->wchars)
			num[--k] = '0';
	}
	size_t bl = strnlen(base, len - sizeof(num));
	memcpy(out, base, bl);
	memcpy(out + bl, num + k, sizeof(num) - k);
}

static void bump_counter(struct sonde_pcapng *w)
{
	w->counter++;
	if (w->o.max_files && w->o.rotate_bytes)
		w->counter %= w->o.max_files;
}

static void delete_oldest(struct sonde_pcapng *w)
{
	struct kept_file *k = &w->files[0];
	if (unlink(k->path) == 0)
		w->st.files_deleted++;
	w->total -= k->bytes;
	free(k->path);
	memmove(k, k + 1, (w->nfiles - 1) * sizeof(*k));
	w->nfiles--;
}

static void forget_name(struct sonde_pcapng *w, const char *name)
{
	for (size_t i = 0; i < w->nfiles; i++) {
		if (strcmp(w->files[i].path, name))
			continue;
		w->st.files_deleted++; /* truncated when opened again */
		w->total -= w->files[i].bytes;
		free(w->files[i].path);
		memmove(&w->files[i], &w->files[i + 1], (w->nfiles - i - 1) * sizeof(*w->files));
		w->nfiles--;
		return;
	}
}

/* Open `name` as the current file (closing the previous) and write its
 * headers. */
static int open_file(struct sonde_pcapng *w, const char *name)
{
	if (w->fd >= 0 && !w->to_stdout && close(w->fd) < 0) {
		w->fd = -1;
		fail(w, errno, "close");
		return -1;
	}
	w->fd = -1;
	snprintf(w->cur, sizeof(w->cur), "%s", name);
	forget_name(w, name); /* -W's ring: the name is reused */
	while (w->o.max_files && w->nfiles >= w->o.max_files)
		delete_oldest(w);
	/* A file (new, or the oldest being reused) is written as name.part
	 * and renamed once it holds its headers: killed at any moment, sonde
	 * leaves no empty or headless file under a capture's name. Devices
	 * and pipes are written directly. */
	struct stat sb;
	bool direct = stat(name, &sb) == 0 && !S_ISREG(sb.st_mode);
	char part[PATH_MAX + 8];
	snprintf(part, sizeof(part), "%s%s", name, direct ? "" : ".part");
	w->fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		fail(w, errno, "open");
		return -1;
	}
	w->regular = fstat(w->fd, &sb) == 0 && S_ISREG(sb.st_mode);
	if (w->nfiles == w->capfiles) {
		w->capfiles = w->capfiles ? w->capfiles * 2 : 8;
		w->files = sonde_xrealloc(w->files, w->capfiles * sizeof(*w->files));
	}
	w->files[w->nfiles++] = (struct kept_file){ .path = strdup(name), .bytes = 0 };
	if (!w->files[w->nfiles - 1].path)
		abort();
	w->st.files++;
	w->cur_packets = 0;
	/* Without -W or a quota nothing is ever deleted: remember only the
	 * current file, however long the capture runs. */
	while (!w->o.max_files && !w->o.quota_bytes && w->nfiles > 1) {
		w->total -= w->files[0].bytes;
		free(w->files[0].path);
		memmove(w->files, w->files + 1, (w->nfiles - 1) * sizeof(*w->files));
		w->nfiles--;
	}
	int rc = write_headers(w);
	if (!direct && rc == 0 && rename(part, name) < 0) {
		fail(w, errno, "rename");
		rc = -1;
	}
	if (!direct && rc < 0)
		unlink(part);
	return rc;
}

/* -G with strftime: the first file was named by the clock when it opened;
 * rename it after its first packet, as every later file is named. */
static void name_by_first_packet(struct sonde_pcapng *w, uint64_t ts)
{
	char name[PATH_MAX];
	if (!w->o.rotate_ns || !strchr(w->path, '%') || w->cur_packets || !w->nfiles)
		return;
	make_name(w, ts, name, sizeof(name));
	if (!strcmp(name, w->cur) || rename(w->cur, name) < 0)
		return;
	char *p = strdup(name);
	if (!p)
		abort();
	free(w->files[w->nfiles - 1].path);
	w->files[w->nfiles - 1].path = p;
	snprintf(w->cur, sizeof(w->cur), "%s", name);
}

/* Before a packet block of `need` bytes at ts: a new file if -C, -G or the
 * quota says so, and the oldest files deleted while over the quota. */
static int before_packet(struct sonde_pcapng *w, uint64_t ts, size_t need)
{
	if (w->to_stdout || !w->nfiles)
		return 0;
	if (!w->period_t0) {
		w->period_t0 = ts ? ts : 1;
		name_by_first_packet(w, ts);
	}
	uint64_t q = w->o.quota_bytes;
	while (q && w->nfiles > 1 && w->total + need > q)
		delete_oldest(w);
	bool by_time = w->o.rotate_ns && ts >= w->period_t0 + w->o.rotate_ns;
	bool by_size = w->o.rotate_bytes && w->files[w->nfiles - 1].bytes > w->o.rotate_bytes;
	bool by_quota = q && w->total + need > q;
	if (!w->cur_packets || !(by_time || by_size || by_quota))
		return 0;
	char name[PATH_MAX];
	if (by_time) {
		w->period_t0 = ts;
		w->counter = 0;
		make_name(w, ts, name, sizeof(name));
	}
	if (!by_time || !strcmp(name, w->cur)) {
		bump_counter(w);
		make_name(w, w->period_t0, name, sizeof(name));
	}
	if (open_file(w, name) < 0)
		return -1;
	while (q && w->nfiles > 1 && w->total + need > q)
		delete_oldest(w);
	return 0;
}

static int write_packet(struct sonde_pcapng *w, int iface, uint64_t ts, const uint8_t *data,
			uint32_t caplen, uint32_t wirelen, const struct sonde_pcapng_meta *m)
{
	char comment[256];
	uint32_t snap = w->ifs[iface].snaplen;
	if (w->o.snaplen && w->o.snaplen < snap)
		snap = w->o.snaplen;
	if (caplen > snap)
		caplen = snap;
	meta_comment(m, comment, sizeof(comment));
	sonde_buf_reset(&w->blk);
	build_epb(&w->blk, iface, ts, data, caplen, wirelen, comment);
	if (before_packet(w, ts, w->blk.len) < 0 || write_block(w, &w->blk) < 0)
		return -1;
	w->cur_packets++;
	w->st.packets++;
	return 0;
}

/* ============================================================= API === */

static int check_opts(const struct sonde_pcapng_opts *o, char *err, size_t errlen)
{
	const char *why = NULL;
	bool rotating = o->rotate_bytes || o->rotate_ns || o->quota_bytes;
	if (!o->path || !*o->path)
		why = "-w needs a file name (or - for stdout)";
	else if (!strcmp(o->path, "-") && (rotating || o->max_files))
		why = "rotation (-C, -G, -W, a quota) needs a file name, not -w -";
	else if (o->max_files && !o->rotate_bytes && !o->rotate_ns)
		why = "-W needs -C or -G";
	else if (strlen(o->path) > PATH_MAX - 32)
		why = "the -w file name is too long";
	if (why)
		snprintf(err, errlen, "%s", why);
	return why ? -1 : 0;
}

struct sonde_pcapng *sonde_pcapng_open(const struct sonde_pcapng_opts *o, char *err, size_t errlen)
{
	if (check_opts(o, err, errlen) < 0)
		return NULL;
	struct sonde_pcapng *w = sonde_xcalloc(1, sizeof(*w));
	w->o = *o;
	w->path = strdup(o->path);
	if (!w->path)
		abort();
	w->fd = -1;
	for (size_t i = 0; i < sizeof(w->synth_if) / sizeof(w->synth_if[0]); i++)
		w->synth_if[i] = -1;
	w->synth = sonde_tcp_synth_new(o->max_conns);
	for (uint32_t x = o->max_files ? o->max_files - 1 : 0; x; x /= 10)
		w->wchars++;
	if (!strcmp(o->path, "-")) {
		w->to_stdout = true;
		w->fd = STDOUT_FILENO;
		snprintf(w->cur, sizeof(w->cur), "(stdout)");
		write_headers(w);
		return w;
	}
	char name[PATH_MAX];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	make_name(w, (uint64_t)now.tv_sec * 1000000000u, name, sizeof(name));
	if (open_file(w, name) < 0 && w->fd < 0) {
		snprintf(err, errlen, "%s", w->errmsg);
		sonde_pcapng_close(w);
		return NULL;
	}
	return w;
}

int sonde_pcapng_iface(struct sonde_pcapng *w, const char *name, uint32_t linktype,
		       uint32_t snaplen)
{
	if (w->err || w->nif == SONDE_PCAPNG_MAX_IFACES)
		return -1;
	struct iface *f = &w->ifs[w->nif];
	snprintf(f->name, sizeof(f->name), "%s", name ? name : "");
	f->linktype = linktype;
	f->snaplen = snaplen ? snaplen : DEFAULT_SNAPLEN;
	sonde_buf_reset(&w->hdr);
	build_idb(&w->hdr, f);
	if (write_block(w, &w->hdr) < 0)
		return -1;
	return (int)w->nif++;
}

int sonde_pcapng_secrets(struct sonde_pcapng *w, uint32_t type, const void *p, size_t n)
{
	if (w->err)
		return -1;
	if (n > UINT32_MAX - 64) {
		errno = EFBIG;
		return -1;
	}
	size_t from = w->dsb.len;
	/* room for the whole block first: no reallocation copies secrets */
	sonde_buf_reserve(&w->dsb, n + 32);
	size_t at = blk_begin(&w->dsb, BT_DSB);
	put_u32(&w->dsb, type);
	put_u32(&w->dsb, (uint32_t)n);
	sonde_buf_append(&w->dsb, p, n);
	put_pad(&w->dsb, n);
	blk_end(&w->dsb, at, false);
	/* the headers are rebuilt from ifs and dsb for every file: make room
	 * there too */
	sonde_buf_reserve(&w->hdr, w->dsb.len + 128 * (SONDE_PCAPNG_MAX_IFACES + 1));
	struct sonde_buf one = { .p = w->dsb.p + from, .len = w->dsb.len - from };
	return write_block(w, &one);
}

int sonde_pcapng_frame(struct sonde_pcapng *w, int iface, const struct sonde_frame *f,
		       const struct sonde_pcapng_meta *m)
{
	static const struct sonde_pcapng_meta none;
	if (w->err) {
		errno = w->err;
		return -1;
	}
	if (iface < 0 || (size_t)iface >= w->nif) {
		errno = EINVAL;
		return -1;
	}
	return write_packet(w, iface, f->ts_ns, f->data, f->caplen, f->wirelen, m ? m : &none);
}

static enum synth_iface synth_kind(uint8_t origin)
{
	switch (origin) {
	case SONDE_ORIGIN_EBPF_TRACEPOINT:
	case SONDE_ORIGIN_EBPF_KPROBE:
	case SONDE_ORIGIN_EBPF_FENTRY: return SYNTH_EBPF;
	case SONDE_ORIGIN_EBPF_TLS:
	case SONDE_ORIGIN_EBPF_TLS_OPENSSL:
	case SONDE_ORIGIN_EBPF_TLS_BORINGSSL:
	case SONDE_ORIGIN_EBPF_TLS_GNUTLS:
	case SONDE_ORIGIN_EBPF_TLS_GO: return SYNTH_EBPF_TLS;
	default: return SYNTH_OTHER;
	}
}

struct chunk_ctx {
	struct sonde_pcapng *w;
	enum synth_iface kind;
	struct sonde_pcapng_meta meta;
};

static int emit_synth(void *ctx, const struct sonde_chunk *c, uint64_t ts_ns, const uint8_t *pkt,
		      uint32_t len)
{
	struct chunk_ctx *x = ctx;
	struct sonde_pcapng *w = x->w;
	(void)c;
	int *id = &w->synth_if[x->kind];
	if (*id < 0) {
		*id = sonde_pcapng_iface(w, synth_name[x->kind], SONDE_LINKTYPE_RAW,
					 DEFAULT_SNAPLEN);
		if (*id < 0)
			return -1;
	}
	return write_packet(w, *id, ts_ns, pkt, len, len, &x->meta);
}

int sonde_pcapng_chunk(struct sonde_pcapng *w, const struct sonde_chunk *c,
		       const struct sonde_pcapng_meta *m)
{
	if (w->err) {
		errno = w->err;
		return -1;
	}
	struct chunk_ctx x = { .w = w };
	x.kind = synth_kind(c->origin);
	x.meta.method = sonde_origin_name(c->origin);
	x.meta.conn_id = c->conn_id;
	if (c->proc) {
		x.meta.pid = c->proc->pid;
		x.meta.comm = c->proc->comm;
	}
	if (m) {
		x.meta.method = m->method && *m->method ? m->method : x.meta.method;
		x.meta.pid = m->pid ? m->pid : x.meta.pid;
		x.meta.comm = m->comm && *m->comm ? m->comm : x.meta.comm;
		x.meta.conn_id = m->conn_id ? m->conn_id : x.meta.conn_id;
	}
	sonde_tcp_synth_chunk(w->synth, c, emit_synth, &x);
	if (w->err) {
		errno = w->err;
		return -1;
	}
	return 0;
}

int sonde_pcapng_flush(struct sonde_pcapng *w)
{
	if (w->err) {
		errno = w->err;
		return -1;
	}
	return 0;
}

const char *sonde_pcapng_error(const struct sonde_pcapng *w)
{
	return w->err ? w->errmsg : NULL;
}

const char *sonde_pcapng_current(const struct sonde_pcapng *w)
{
	return w->cur;
}

void sonde_pcapng_stats(const struct sonde_pcapng *w, struct sonde_pcapng_stats *st)
{
	const struct sonde_tcp_synth_stats *ts = sonde_tcp_synth_stats(w->synth);
	*st = w->st;
	st->chunks_skipped = ts->skipped;
	st->conn_evictions = ts->evictions;
	st->gaps = ts->gaps;
	st->gap_bytes = ts->gap_bytes;
}

int sonde_pcapng_close(struct sonde_pcapng *w)
{
	if (!w)
		return 0;
	if (w->fd >= 0 && !w->to_stdout && close(w->fd) < 0)
		fail(w, errno, "close");
	int e = w->err;
	for (size_t i = 0; i < w->nfiles; i++)
		free(w->files[i].path);
	free(w->files);
	free(w->path);
	sonde_buf_free(&w->blk);
	if (w->dsb.cap) { /* the headers held the secrets too */
		explicit_bzero(w->dsb.p, w->dsb.cap);
		explicit_bzero(w->hdr.p, w->hdr.cap);
	}
	sonde_buf_free(&w->dsb);
	sonde_buf_free(&w->hdr);
	sonde_tcp_synth_free(w->synth);
	free(w);
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}
