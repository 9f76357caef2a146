/* SPDX-License-Identifier: MIT */
/*
 * Protocol Buffers wire format to JSON (see protobuf.h). One pass splits a
 * message into its fields (tag, wire type, value or byte range), checking
 * every length against what is left; a second writes them grouped by field
 * number. A length-delimited value is tried as a nested message first (one
 * level deeper, writing into the same buffer and rolled back on failure), so
 * the work is bounded by input size times max_depth.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/content/protobuf.h"

#define DEF_DEPTH 8
#define DEF_OUT (64u * 1024)
#define DEF_FIELDS 256

struct pb_field {
	uint32_t num;
	uint8_t wt;
	uint64_t v; /* varint/fixed value, or offset of length-delimited bytes */
	size_t len;
	bool written;
};

struct pb_ctx {
	unsigned max_depth, max_fields;
	size_t out_end; /* out->len must stay at most this */
};

bool sonde_pb_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned s = 0; s < 64 && *i < n; s += 7) {
		uint8_t b = p[(*i)++];
		if (s == 63 && b > 1)
			return false; /* more than 64 bits */
		r |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

static int decode(const uint8_t *p, size_t n, struct sonde_buf *out, const struct pb_ctx *c,
		  unsigned depth);

int sonde_pb_next(struct sonde_pb_reader *r, struct sonde_pb_wfield *f)
{
	if (r->i >= r->n)
		return 0;
	uint64_t tag, v = 0;
	if (!sonde_pb_varint(r->p, r->n, &r->i, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
		return -1;
	memset(f, 0, sizeof(*f));
	f->num = (uint32_t)(tag >> 3);
	f->wt = tag & 7;
	switch (f->wt) {
	case 0:
		if (!sonde_pb_varint(r->p, r->n, &r->i, &v))
			return -1;
		break;
	case 1:
	case 5: {
		size_t w = f->wt == 1 ? 8 : 4;
		if (r->n - r->i < w)
			return -1;
		for (size_t k = w; k-- > 0;)
			v = v << 8 | r->p[r->i + k];
		r->i += w;
		break;
	}
	case 2:
		if (!sonde_pb_varint(r->p, r->n, &r->i, &v) || v > r->n - r->i)
			return -1;
		f->bytes = r->p + r->i;
		f->len = (size_t)v;
		r->i += f->len;
		v = 0;
		break;
	default: /* groups (deprecated) and invalid wire types */ return -1;
	}
	f->v = v;
	return 1;
}

static void write_value(const uint8_t *p, const struct pb_field *f, struct sonde_buf *out,
			const struct pb_ctx *c, unsigned depth)
{
	if (f->wt != 2) {
		sonde_buf_u64(out, f->v);
		return;
	}
	const uint8_t *q = p + f->v;
	if (f->len && depth + 1 < c->max_depth &&
	    decode(q, f->len, out, c, depth + 1) == SONDE_PB_OK)
		return;
	if (sonde_json_str_utf8(out, q, f->len) == 0)
		return;
	sonde_buf_puts(out, "{\"base64\":\"");
	sonde_base64(out, q, f->len);
	sonde_buf_puts(out, "\"}");
}

/* A message's fields, in a local array until they outgrow it. */
struct pb_fields {
	struct pb_field *f;
	size_t n, cap;
	struct pb_field local[64];
};

static void fields_add(struct pb_fields *fl, struct pb_field f)
{
	if (fl->n == fl->cap) {
		size_t ncap = fl->cap * 2;
		struct pb_field *g = sonde_xmalloc(ncap * sizeof(*g));
		memcpy(g, fl->f, fl->n * sizeof(*g));
		if (fl->f != fl->local)
			free(fl->f);
		fl->f = g;
		fl->cap = ncap;
	}
	fl->f[fl->n++] = f;
}

/* The first pass: p[0..n) split into fields (sonde_pb_next checks every
 * length), at most c->max_fields of them. */
static int split_fields(const uint8_t *p, size_t n, const struct pb_ctx *c, struct pb_fields *fl)
{
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield w;
	int got;
	while ((got = sonde_pb_next(&r, &w)) > 0) {
		if (fl->n == c->max_fields)
			return SONDE_PB_TOO_LARGE;
		bool ld = w.wt == 2;
		fields_add(fl, (struct pb_field){ .num = w.num,
						  .wt = w.wt,
						  .v = ld ? (uint64_t)(w.bytes - p) : w.v,
						  .len = ld ? w.len : 0 });
	}
	return got < 0 ? SONDE_PB_MALFORMED : SONDE_PB_OK;
}

/* The values of field number f[a].num from a on, as one value or a list;
 * marks them written. */
static int write_number(const uint8_t *p, struct pb_field *f, size_t nf, size_t a,
			struct sonde_buf *out, const struct pb_ctx *c, unsigned depth)
{
	size_t cnt = 0;
	for (size_t b = a; b < nf; b++)
		cnt += f[b].num == f[a].num;
	sonde_buf_printf(out, "\"%u\":", f[a].num);
	if (cnt > 1)
		sonde_buf_putc(out, '[');
	bool firstv = true;
	for (size_t b = a; b < nf; b++) {
		if (f[b].num != f[a].num)
			continue;
		f[b].written = true;
		if (!firstv)
			sonde_buf_putc(out, ',');
		firstv = false;
		write_value(p, &f[b], out, c, depth);
		if (out->len > c->out_end)
			return SONDE_PB_TOO_LARGE;
	}
	if (cnt > 1)
		sonde_buf_putc(out, ']');
	return SONDE_PB_OK;
}

/* The second pass: the fields as one object, grouped by number; nothing
 * written if it grows past c->out_end. */
static int write_fields(const uint8_t *p, struct pb_fields *fl, struct sonde_buf *out,
			const struct pb_ctx *c, unsigned depth)
{
	size_t mark = out->len;
	sonde_buf_putc(out, '{');
	bool first = true;
	for (size_t a = 0; a < fl->n; a++) {
		if (fl->f[a].written)
			continue;
		if (!first)
			sonde_buf_putc(out, ',');
		first = false;
		if (write_number(p, fl->f, fl->n, a, out, c, depth) != SONDE_PB_OK) {
			out->len = mark;
			return SONDE_PB_TOO_LARGE;
		}
	}
	sonde_buf_putc(out, '}');
	if (out->len > c->out_end) {
		out->len = mark;
		return SONDE_PB_TOO_LARGE;
	}
	return SONDE_PB_OK;
}

static int decode(const uint8_t *p, size_t n, struct sonde_buf *out, const struct pb_ctx *c,
		  unsigned depth)
{
	struct pb_fields fl;
	fl.f = fl.local;
	fl.n = 0;
	fl.cap = sizeof(fl.local) / sizeof(fl.local[0]);
	int rv = split_fields(p, n, c, &fl);
	if (rv == SONDE_PB_OK)
		rv = write_fields(p, &fl, out, c, depth);
	if (fl.f != fl.local)
		free(fl.f);
	return rv;
}

int sonde_pb_decode(const uint8_t *p, size_t n, struct sonde_buf *out,
		    const struct sonde_pb_limits *lim)
{
	struct pb_ctx c;
	c.max_depth = lim && lim->max_depth ? lim->max_depth : DEF_DEPTH;
	c.max_fields = lim && lim->max_fields ? lim->max_fields : DEF_FIELDS;
	size_t max_out = lim && lim->max_out ? lim->max_out : DEF_OUT;
	c.out_end = out->len + max_out;
	static const uint8_t none[1];
	size_t mark = out->len;
	int rv = decode(p ? p : none, p ? n : 0, out, &c, 0);
	if (rv)
		out->len = mark;
	return rv;
}
