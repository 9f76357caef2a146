/* SPDX-License-Identifier: MIT */
/*
 * HPACK decoding with a partially known dynamic table (see http2_hpack.h):
 * the static table, the Huffman code, the representations of RFC 7541 §6,
 * and a mirror of the entries inserted since decoding began.
 */
#include "proto/http/http2_hpack.h"

#include <stdlib.h>
#include <string.h>

#define ENTRY_OVERHEAD 32 /* RFC 7541 §4.1 */
#define UNKNOWN_CAP (64u << 10) /* entries mirrored while the size bound is unknown */
#define MIRROR_MAX (256u << 10) /* entries mirrored at most, whatever the bound */
#define STATIC_N 61

/* ------------------------------------------------------------ static table --- */

static const struct {
	const char *name, *value;
} static_table[STATIC_N] = {
	{ ":authority", "" },
	{ ":method", "GET" },
	{ ":method", "POST" },
	{ ":path", "/" },
	{ ":path", "/index.html" },
	{ ":scheme", "http" },
	{ ":scheme", "https" },
	{ ":status", "200" },
	{ ":status", "204" },
	{ ":status", "206" },
	{ ":status", "304" },
	{ ":status", "400" },
	{ ":status", "404" },
	{ ":status", "500" },
	{ "accept-charset", "" },
	{ "accept-encoding", "gzip, deflate" },
	{ "accept-language", "" },
	{ "accept-ranges", "" },
	{ "accept", "" },
	{ "access-control-allow-origin", "" },
	{ "age", "" },
	{ "allow", "" },
	{ "authorization", "" },
	{ "cache-control", "" },
	{ "content-disposition", "" },
	{ "content-encoding", "" },
	{ "content-language", "" },
	{ "content-length", "" },
	{ "content-location", "" },
	{ "content-range", "" },
	{ "content-type", "" },
	{ "cookie", "" },
	{ "date", "" },
	{ "etag", "" },
	{ "expect", "" },
	{ "expires", "" },
	{ "from", "" },
	{ "host", "" },
	{ "if-match", "" },
	{ "if-modified-since", "" },
	{ "if-none-match", "" },
	{ "if-range", "" },
	{ "if-unmodified-since", "" },
	{ "last-modified", "" },
	{ "link", "" },
	{ "location", "" },
	{ "max-forwards", "" },
	{ "proxy-authenticate", "" },
	{ "proxy-authorization", "" },
	{ "range", "" },
	{ "referer", "" },
	{ "refresh", "" },
	{ "retry-after", "" },
	{ "server", "" },
	{ "set-cookie", "" },
	{ "strict-transport-security", "" },
	{ "transfer-encoding", "" },
	{ "user-agent", "" },
	{ "vary", "" },
	{ "via", "" },
	{ "www-authenticate", "" },
};

/* ---------------------------------------------------------------- Huffman --- */

/*
 * The code of RFC 7541 Appendix B is canonical: codes of one length are
 * consecutive in symbol order, and each length's first code follows the
 * previous length's last. So the number of codes of each length and the
 * symbols in (length, symbol) order define it entirely.
 */
static const uint8_t huff_count[31] = {
	0, 0, 0, 0, 0, 10, 26, 32, 6,  0, 5,  3,  2,  6, 2, 3,
	0, 0, 0, 3, 8, 13, 26, 29, 12, 4, 15, 19, 29, 0, 4,
};

static const uint16_t huff_sym[257] = {
	48,  49,  50,  97,  99,  101, 105, 111, 115, 116, 32,  37,  45,  46,  47,  51,  52,  53,
	54,  55,  56,  57,  61,  65,  95,  98,  100, 102, 103, 104, 108, 109, 110, 112, 114, 117,
	58,  66,  67,  68,  69,  70,  71,  72,  73,  74,  75,  76,  77,  78,  79,  80,  81,  82,
	83,  84,  85,  86,  87,  89,  106, 107, 113, 118, 119, 120, 121, 122, 38,  42,  44,  59,
	88,  90,  33,  34,  40,  41,  63,  39,  43,  124, 35,  62,  0,   36,  64,  91,  93,  126,
	94,  125, 60,  96,  123, 92,  195, 208, 128, 130, 131, 162, 184, 194, 224, 226, 153, 161,
	167, 172, 176, 177, 179, 209, 216, 217, 227, 229, 230, 129, 132, 133, 134, 136, 146, 154,
	156, 160, 163, 164, 169, 170, 173, 178, 181, 185, 186, 187, 189, 190, 196, 198, 228, 232,
	233, 1,   135, 137, 138, 139, 140, 141, 143, 147, 149, 150, 151, 152, 155, 157, 158, 165,
	166, 168, 174, 175, 180, 182, 183, 188, 191, 197, 231, 239, 9,   142, 144, 145, 148, 159,
	171, 206, 215, 225, 236, 237, 199, 207, 234, 235, 192, 193, 200, 201, 202, 205, 210, 213,
	218, 219, 238, 240, 242, 243, 255, 203, 204, 211, 212, 214, 221, 222, 223, 241, 244, 245,
	246, 247, 248, 250, 251, 252, 253, 254, 2,   3,   4,   5,   6,   7,   8,   11,  12,  14,
	15,  16,  17,  18,  19,  20,  21,  23,  24,  25,  26,  27,  28,  29,  30,  31,  127, 220,
	249, 10,  13,  22,  256,
};

#define HUFF_EOS 256

int h2_huff_decode(const uint8_t *p, size_t n, struct sonde_buf *out)
{
	size_t bits = n * 8, pos = 0;
	sonde_buf_reserve(out, n * 8 / 5 + 1); /* codes are 5 bits at least */
	while (pos < bits) {
		size_t start = pos;
		int code = 0, first = 0, index = 0, sym = -1;
		for (int len = 1; len <= 30 && pos < bits; len++) {
			code |= (p[pos >> 3] >> (7 - (pos & 7))) & 1;
			pos++;
			int count = huff_count[len];
			if (code - first < count) {
				sym = huff_sym[index + code - first];
				break;
			}
			index += count;
			first = (first + count) << 1;
			code <<= 1;
		}
		if (sym < 0) {
			/* The input ended inside a code: padding, at most 7 bits,
			 * the most significant bits of EOS (all ones). */
			if (bits - start > 7)
				return -1;
			for (size_t b = start; b < bits; b++)
				if (!((p[b >> 3] >> (7 - (b & 7))) & 1))
					return -1;
			return 0;
		}
		if (sym == HUFF_EOS)
			return -1;
		uint8_t c = (uint8_t)sym;
		sonde_buf_append(out, &c, 1);
	}
	return 0;
}

size_t h2_huff_symbol_bit(const uint8_t *p, size_t n, size_t k)
{
	size_t bits = n * 8, pos = 0;
	for (size_t sym_no = 0; pos < bits; sym_no++) {
		if (sym_no == k)
			return pos;
		int code = 0, first = 0, found = 0;
		for (int len = 1; len <= 30 && pos < bits; len++) {
			code |= (p[pos >> 3] >> (7 - (pos & 7))) & 1;
			pos++;
			int count = huff_count[len];
			found = code - first < count;
			if (found) /* shifting on past a 30-bit code overflows */
				break;
			first = (first + count) << 1;
			code <<= 1;
		}
		if (!found)
			break;
	}
	return bits;
}

const char *h2_hpack_static_name(uint32_t index)
{
	return index >= 1 && index <= STATIC_N ? static_table[index - 1].name : NULL;
}

/* ------------------------------------------------------- the mirrored table --- */

struct h2_hp_entry {
	uint32_t nlen, vlen;
	bool name_unknown;
	uint8_t b[]; /* name then value */
};

static size_t entry_size(const struct h2_hp_entry *e)
{
	return (size_t)e->nlen + e->vlen + ENTRY_OVERHEAD; /* an unknown name counts 0 */
}

static struct h2_hp_entry *entry_at(const struct h2_hpack *t, uint32_t k)
{
	return t->e[(t->head + k) % t->cap];
}

static void clear_entries(struct h2_hpack *t)
{
	for (uint32_t k = 0; k < t->n; k++)
		free(entry_at(t, k));
	t->n = 0;
	t->head = 0;
	t->size = 0;
}

/* How many bytes of entries we keep. */
static size_t trim_cap(const struct h2_hpack *t)
{
	size_t c = t->bound_known ? t->bound : UNKNOWN_CAP;
	return c < MIRROR_MAX ? c : MIRROR_MAX;
}

/* Evict our oldest entries down to `limit` bytes; true if any went. */
static bool evict_to(struct h2_hpack *t, size_t limit)
{
	bool any = false;
	while (t->n && t->size > limit) {
		struct h2_hp_entry *e = entry_at(t, t->n - 1);
		t->size -= entry_size(e);
		free(e);
		t->n--;
		any = true;
	}
	return any;
}

void h2_hpack_init(struct h2_hpack *t, uint32_t bound, bool bound_known)
{
	memset(t, 0, sizeof(*t));
	t->bound = bound;
	t->bound_known = bound_known;
	t->tail_unknown = true;
}

void h2_hpack_free(struct h2_hpack *t)
{
	clear_entries(t);
	free(t->e);
	sonde_buf_free(&t->scratch);
	memset(t, 0, sizeof(*t));
}

void h2_hpack_reset_known(struct h2_hpack *t)
{
	clear_entries(t);
	t->tail_unknown = false;
}

void h2_hpack_reset_unknown(struct h2_hpack *t)
{
	clear_entries(t);
	t->tail_unknown = true;
}

void h2_hpack_allow(struct h2_hpack *t, uint32_t v)
{
	if (!t->bound_known || v > t->bound)
		t->bound = v;
	t->bound_known = true;
}

/*
 * The encoder inserted (name, value). Returns true if that made the tail
 * known empty: with a known bound, once our entries leave no room for any
 * older one (every entry takes at least 32 bytes), or once one of ours had to
 * be evicted (older ones went first).
 */
static bool insert(struct h2_hpack *t, const uint8_t *name, size_t nlen, const uint8_t *value,
		   size_t vlen)
{
	size_t s = (name ? nlen : 0) + vlen + ENTRY_OVERHEAD;
	if (s > trim_cap(t)) {
		/* Larger than the table: the table is emptied (RFC 7541 §4.4) if
		 * the bound is known; else we cannot tell what happened. */
		clear_entries(t);
		bool was = t->tail_unknown;
		t->tail_unknown = !t->bound_known || s <= t->bound;
		return was && !t->tail_unknown;
	}
	if (t->n == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 16;
		struct h2_hp_entry **ne = sonde_xmalloc(ncap * sizeof(*ne));
		for (uint32_t k = 0; k < t->n; k++)
			ne[k] = entry_at(t, k);
		free(t->e);
		t->e = ne;
		t->cap = ncap;
		t->head = 0;
	}
	struct h2_hp_entry *e = sonde_xmalloc(sizeof(*e) + (name ? nlen : 0) + vlen);
	e->name_unknown = !name;
	e->nlen = name ? (uint32_t)nlen : 0;
	e->vlen = (uint32_t)vlen;
	if (name && nlen)
		memcpy(e->b, name, nlen);
	if (vlen)
		memcpy(e->b + e->nlen, value, vlen);
	t->head = (t->head + t->cap - 1) % t->cap;
	t->e[t->head] = e;
	t->n++;
	t->size += s;
	bool evicted = evict_to(t, trim_cap(t));
	if (t->tail_unknown && t->bound_known &&
	    ((evicted && t->bound <= MIRROR_MAX) || t->size + ENTRY_OVERHEAD > t->bound)) {
		t->tail_unknown = false;
		return true;
	}
	return false;
}

/* A dynamic table size update to v. */
static bool size_update(struct h2_hpack *t, uint32_t v)
{
	t->bound = v;
	t->bound_known = true;
	bool evicted = evict_to(t, trim_cap(t));
	if (t->tail_unknown && (evicted || t->size + ENTRY_OVERHEAD > v) && v <= MIRROR_MAX) {
		t->tail_unknown = false;
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- decoding --- */

/* An integer with an n-bit prefix (RFC 7541 §5.1); values over 2^28 refused. */
static int get_int(const uint8_t *p, size_t n, size_t *i, unsigned prefix, uint32_t *out)
{
	if (*i >= n)
		return -1;
	uint32_t max = (1u << prefix) - 1;
	uint32_t v = p[(*i)++] & max;
	if (v < max) {
		*out = v;
		return 0;
	}
	for (unsigned shift = 0; shift <= 21; shift += 7) {
		if (*i >= n)
			return -1;
		uint8_t b = p[(*i)++];
		v += (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

/* A string literal (§5.2): raw bytes point into p, Huffman ones are decoded
 * onto `scratch` and given as an offset there (*raw NULL). */
static int get_str(const uint8_t *p, size_t n, size_t *i, struct sonde_buf *scratch,
		   const uint8_t **raw, size_t *off, size_t *len)
{
	if (*i >= n)
		return -1;
	bool huff = p[*i] & 0x80;
	uint32_t l;
	if (get_int(p, n, i, 7, &l) < 0 || l > n - *i)
		return -1;
	if (!huff) {
		*raw = p + *i;
		*len = l;
	} else {
		*raw = NULL;
		*off = scratch->len;
		if (h2_huff_decode(p + *i, l, scratch) < 0)
			return -1;
		*len = scratch->len - *off;
	}
	*i += l;
	return 0;
}

struct ref {
	const uint8_t *name, *value;
	size_t nlen, vlen;
	bool name_unknown, value_unknown, beyond;
};

/* Resolve table index idx (>= 1). */
static void lookup(struct h2_hpack *t, uint32_t idx, struct ref *r)
{
	memset(r, 0, sizeof(*r));
	if (idx <= STATIC_N) {
		r->name = (const uint8_t *)static_table[idx - 1].name;
		r->nlen = strlen(static_table[idx - 1].name);
		r->value = (const uint8_t *)static_table[idx - 1].value;
		r->vlen = strlen(static_table[idx - 1].value);
		return;
	}
	uint32_t k = idx - STATIC_N - 1;
	if (k < t->n) {
		const struct h2_hp_entry *e = entry_at(t, k);
		r->name_unknown = e->name_unknown;
		r->name = e->name_unknown ? NULL : e->b;
		r->nlen = e->nlen;
		r->value = e->b + e->nlen;
		r->vlen = e->vlen;
		return;
	}
	/* Past our entries: an entry from before we began. If we thought
	 * there was none, we were wrong (a bound we trusted was not one). */
	t->tail_unknown = true;
	r->name_unknown = r->value_unknown = r->beyond = true;
}

static const uint8_t empty[1];

int h2_hpack_decode(struct h2_hpack *t, const uint8_t *p, size_t n, h2_hp_emit_fn emit, void *ctx,
		    uint32_t *unknown, bool *synced)
{
	size_t i = 0;
	*synced = false;
	while (i < n) {
		uint8_t b = p[i];
		struct h2_hp_field f;
		memset(&f, 0, sizeof(f));
		sonde_buf_reset(&t->scratch);
		if (b & 0x80) { /* indexed field */
			uint32_t idx;
			if (get_int(p, n, &i, 7, &idx) < 0 || idx == 0)
				goto bad;
			struct ref r;
			lookup(t, idx, &r);
			f.name = r.name;
			f.nlen = r.nlen;
			f.value = r.value;
			f.vlen = r.vlen;
			f.flags = (r.name_unknown ? H2_HP_NAME_UNKNOWN : 0) |
				  (r.value_unknown ? H2_HP_VALUE_UNKNOWN : 0) |
				  (r.beyond ? H2_HP_BEYOND : 0);
			f.index = idx;
		} else if ((b & 0xe0) == 0x20) { /* dynamic table size update */
			uint32_t v;
			if (get_int(p, n, &i, 5, &v) < 0)
				goto bad;
			*synced |= size_update(t, v);
			continue;
		} else { /* literal: with incremental indexing, without, never indexed */
			bool incr = (b & 0xc0) == 0x40;
			uint32_t idx;
			if (get_int(p, n, &i, incr ? 6 : 4, &idx) < 0)
				goto bad;
			const uint8_t *nraw = NULL, *vraw = NULL;
			size_t noff = 0, nlen = 0, voff = 0, vlen = 0;
			struct ref r;
			memset(&r, 0, sizeof(r));
			if (idx) {
				lookup(t, idx, &r);
				nraw = r.name;
				nlen = r.nlen;
			} else if (get_str(p, n, &i, &t->scratch, &nraw, &noff, &nlen) < 0) {
				goto bad;
			}
			if (get_str(p, n, &i, &t->scratch, &vraw, &voff, &vlen) < 0)
				goto bad;
			/* scratch may have moved while decoding the value */
			f.name = r.name_unknown ? NULL : nraw ? nraw : t->scratch.p + noff;
			f.nlen = nlen;
			f.value = vraw ? vraw : t->scratch.p ? t->scratch.p + voff : empty;
			f.vlen = vlen;
			f.flags = (r.name_unknown ? H2_HP_NAME_UNKNOWN : 0) |
				  (r.beyond ? H2_HP_BEYOND : 0);
			f.index = idx;
			if (!f.name && !r.name_unknown)
				f.name = empty;
			if (f.flags)
				(*unknown)++;
			emit(ctx, &f);
			/* after emitting: inserting may evict the entry f.name is in */
			if (incr)
				*synced |= insert(t, f.name, f.nlen, f.value, f.vlen);
			continue;
		}
		if (f.flags)
			(*unknown)++;
		emit(ctx, &f);
	}
	return 0;
bad:
	h2_hpack_reset_unknown(t);
	*synced = false;
	return -1;
}

/* ------------------------------------------------------------------ probing --- */

static int name_role(const uint8_t *p, size_t n)
{
	static const char *const req[] = { ":method", ":scheme", ":path", ":authority",
					   ":protocol" };
	for (size_t k = 0; k < sizeof(req) / sizeof(req[0]); k++)
		if (n == strlen(req[k]) && !memcmp(p, req[k], n))
			return 1;
	return n == 7 && !memcmp(p, ":status", 7) ? 2 : 0;
}

static int static_role(uint32_t idx)
{
	return idx >= 1 && idx <= 7 ? 1 : idx >= 8 && idx <= 14 ? 2 : 0;
}

/* Skip a string literal (no decoding). */
static int skip_str(const uint8_t *p, size_t n, size_t *i)
{
	uint32_t l;
	if (get_int(p, n, i, 7, &l) < 0 || l > n - *i)
		return -1;
	*i += l;
	return 0;
}

int h2_hpack_first_role(const uint8_t *p, size_t n)
{
	size_t i = 0;
	uint32_t v;
	while (i < n && (p[i] & 0xe0) == 0x20) /* size updates come first */
		if (get_int(p, n, &i, 5, &v) < 0)
			return 0;
	/*
	 * Pseudo-headers precede the others, so the first field whose name is
	 * known decides; fields that name a dynamic-table entry (unknown
	 * mid-stream: a later request's :authority, say) are stepped over.
	 */
	for (int fields = 0; i < n && fields < 32; fields++) {
		uint8_t b = p[i];
		if ((b & 0xe0) == 0x20)
			return 0; /* a size update after a field: malformed */
		bool indexed = b & 0x80;
		if (get_int(p, n, &i, indexed ? 7 : (b & 0xc0) == 0x40 ? 6 : 4, &v) < 0)
			return 0;
		if (indexed && !v)
			return 0;
		if (v && v <= STATIC_N)
			return static_role(v);
		if (!v) { /* a literal name */
			struct sonde_buf sb = { 0 };
			const uint8_t *raw = NULL;
			size_t off = 0, len = 0;
			int role = -1;
			if (get_str(p, n, &i, &sb, &raw, &off, &len) == 0)
				role = name_role(raw ? raw : sb.p + off, len);
			sonde_buf_free(&sb);
			return role < 0 ? 0 : role;
		}
		/* a dynamic-table name: step over its value, if any */
		if (!indexed && skip_str(p, n, &i) < 0)
			return 0;
	}
	return 0;
}
