/* SPDX-License-Identifier: MIT */
#include "proto/tls/tls_hello.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* ----------------------------------------------------------- messages --- */

static bool kept_type(uint8_t t)
{
	return t == SONDE_HS_CLIENT_HELLO || t == SONDE_HS_SERVER_HELLO ||
	       t == SONDE_HS_ENCRYPTED_EXTENSIONS || t == SONDE_HS_KEY_UPDATE;
}

void sonde_tls_hs_feed(struct sonde_tls_hs *h, const uint8_t *p, size_t n, sonde_tls_hs_fn fn,
		       void *ctx)
{
	while (n) {
		if (h->hlen < 4) {
			h->hdr[h->hlen++] = *p++;
			n--;
			if (h->hlen < 4)
				continue;
			h->len = h->left = (uint32_t)h->hdr[1] << 16 | h->hdr[2] << 8 | h->hdr[3];
			h->keep = kept_type(h->hdr[0]) && h->len <= SONDE_HS_KEEP_MAX;
			h->blen = 0;
			if (h->keep && !h->buf)
				h->buf = sonde_xmalloc(SONDE_HS_KEEP_MAX);
		}
		size_t take = h->left < n ? h->left : n;
		if (h->keep)
			memcpy(h->buf + h->blen, p, take);
		h->blen += take;
		h->left -= (uint32_t)take;
		p += take;
		n -= take;
		if (!h->left) {
			fn(ctx, h->hdr[0], h->keep ? h->buf : NULL, h->len);
			h->hlen = 0;
		}
	}
}

void sonde_tls_hs_reset(struct sonde_tls_hs *h)
{
	h->hlen = 0;
	h->left = 0;
}

void sonde_tls_hs_free(struct sonde_tls_hs *h)
{
	free(h->buf);
	memset(h, 0, sizeof(*h));
}

/* ------------------------------------------------------------- hellos --- */

/* A bounds-checked reader: every read fails once past the end. */
struct cur {
	const uint8_t *p;
	size_t n;
	bool bad;
};

static const uint8_t *take(struct cur *c, size_t k)
{
	if (c->bad || c->n < k) {
		c->bad = true;
		return NULL;
	}
	const uint8_t *r = c->p;
	c->p += k;
	c->n -= k;
	return r;
}

static uint32_t num(struct cur *c, size_t k)
{
	const uint8_t *b = take(c, k);
	uint32_t v = 0;
	for (size_t i = 0; b && i < k; i++)
		v = v << 8 | b[i];
	return v;
}

/* A vector with a k-byte length: a cursor over its bytes. */
static struct cur vec(struct cur *c, size_t k)
{
	size_t len = num(c, k);
	const uint8_t *b = take(c, len);
	return (struct cur){ .p = b, .n = b ? len : 0, .bad = !b };
}

static void copy_str(char *dst, size_t cap, const uint8_t *p, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, p, n);
	dst[n] = 0;
}

static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
	0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
	0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static void ext_sni(struct cur e, struct sonde_tls_hello *h)
{
	struct cur list = vec(&e, 2);
	while (list.n && !list.bad) {
		uint32_t type = num(&list, 1);
		struct cur name = vec(&list, 2);
		if (!name.bad && type == 0) {
			copy_str(h->sni, sizeof(h->sni), name.p, name.n);
			return;
		}
	}
}

static void ext_alpn(struct cur e, struct sonde_tls_hello *h)
{
	struct cur list = vec(&e, 2);
	struct cur proto = vec(&list, 1);
	if (!proto.bad)
		copy_str(h->alpn, sizeof(h->alpn), proto.p, proto.n);
}

static void ext_versions(struct cur e, uint8_t type, struct sonde_tls_hello *h)
{
	if (type == SONDE_HS_SERVER_HELLO) {
		h->version = (uint16_t)num(&e, 2);
		return;
	}
	struct cur list = vec(&e, 1);
	while (list.n >= 2) {
		uint16_t v = (uint16_t)num(&list, 2);
		if ((v & 0x0f0f) != 0x0a0a && v > h->version && v <= 0x0304) /* not GREASE */
			h->version = v;
	}
}

static bool extensions(struct cur *c, uint8_t type, struct sonde_tls_hello *h)
{
	if (!c->n) /* no extensions at all (TLS 1.2 may omit them) */
		return true;
	struct cur all = vec(c, 2);
	while (all.n && !all.bad) {
		uint32_t et = num(&all, 2);
		struct cur e = vec(&all, 2);
		if (e.bad)
			break;
		switch (et) {
		case 0: ext_sni(e, h); break;
		case 16: ext_alpn(e, h); break;
		case 22: h->etm = true; break;
		case 42: h->early_data = true; break;
		case 43: ext_versions(e, type, h); break;
		}
	}
	return !all.bad;
}

bool sonde_tls_parse_hello(uint8_t type, const uint8_t *p, size_t n, struct sonde_tls_hello *out)
{
	memset(out, 0, sizeof(*out));
	struct cur c = { .p = p, .n = n };
	if (type == SONDE_HS_ENCRYPTED_EXTENSIONS)
		return extensions(&c, type, out);
	out->legacy_version = (uint16_t)num(&c, 2);
	const uint8_t *r = take(&c, 32);
	if (!r)
		return false;
	memcpy(out->random, r, 32);
	vec(&c, 1); /* legacy_session_id */
	if (type == SONDE_HS_CLIENT_HELLO) {
		vec(&c, 2); /* cipher_suites */
		vec(&c, 1); /* legacy_compression_methods */
	} else {
		out->suite = (uint16_t)num(&c, 2);
		num(&c, 1); /* legacy_compression_method */
		out->hrr = !memcmp(out->random, hrr_random, 32);
	}
	if (c.bad || !extensions(&c, type, out))
		return false;
	if (!out->version)
		out->version = out->legacy_version;
	return true;
}
