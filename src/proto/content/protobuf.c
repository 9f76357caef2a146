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

static int decode(const uint8_t *p, size_t n, struct sonde_buf *out, const struct pb_ctx *c,
		  unsigned depth)
{
	struct pb_field fs[64], *f = fs;
	size_t cap = sizeof(fs) / sizeof(fs[0]), nf = 0, i = 0;
	int rv = SONDE_PB_OK;
	while (i < n) {
		uint64_t tag, v = 0;
		size_t len = 0;
		if (!sonde_pb_varint(p, n, &i, &tag) || (tag >> 3) == 0 ||
		    (tag >> 3) > 0x1fffffff) {
			rv = SONDE_PB_MALFORMED;
			goto out;
		}
		uint8_t wt = tag & 7;
		switch (wt) {
		case 0:
			if (!sonde_pb_varint(p, n, &i, &v))
				rv = SONDE_PB_MALFORMED;
			break;
		case 1:
		case 5: {
			size_t w = wt == 1 ? 8 : 4;
			if (n - i < w) {
				rv = SONDE_PB_MALFORMED;
				break;
			}
			for (size_t k = w; k-- > 0;)
				v = v << 8 | p[i + k];
			i += w;
			break;
		}
		case 2: {
			uint64_t l;
			if (!sonde_pb_varint(p, n, &i, &l) || l > n - i) {
				rv = SONDE_PB_MALFORMED;
				break;
			}
			v = i;
			len = (size_t)l;
			i += len;
			break;
		}
		default: /* groups (deprecated) and invalid wire types */
			rv = SONDE_PB_MALFORMED;
			break;
		}
		if (rv)
			goto out;
		if (nf == c->max_fields) {
			rv = SONDE_PB_TOO_LARGE;
			goto out;
		}
		if (nf == cap) {
			size_t ncap = cap * 2;
			struct pb_field *g = sonde_xmalloc(ncap * sizeof(*g));
			memcpy(g, f, nf * sizeof(*g));
			if (f != fs)
				free(f);
			f = g;
			cap = ncap;
		}
		f[nf++] = (struct pb_field){
			.num = (uint32_t)(tag >> 3), .wt = wt, .v = v, .len = len
		};
	}
	size_t mark = out->len;
	sonde_buf_putc(out, '{');
	bool first = true;
	for (size_t a = 0; a < nf; a++) {
		if (f[a].written)
			continue;
		size_t cnt = 0;
		for (size_t b = a; b < nf; b++)
			cnt += f[b].num == f[a].num;
		if (!first)
			sonde_buf_putc(out, ',');
		first = false;
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
			if (out->len > c->out_end) {
				out->len = mark;
				rv = SONDE_PB_TOO_LARGE;
				goto out;
			}
		}
		if (cnt > 1)
			sonde_buf_putc(out, ']');
	}
	sonde_buf_putc(out, '}');
	if (out->len > c->out_end) {
		out->len = mark;
		rv = SONDE_PB_TOO_LARGE;
	}
out:
	if (f != fs)
		free(f);
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
