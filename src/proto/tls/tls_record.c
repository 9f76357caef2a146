/* SPDX-License-Identifier: MIT */
#include "proto/tls/tls_record.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define FRAMER_CAP (2 * (SONDE_TLS_HEADER + SONDE_TLS_RECORD_MAX))

int sonde_tls_header_len(const uint8_t h[SONDE_TLS_HEADER])
{
	if (h[0] < 20 || h[0] > 24 || h[1] != 3 || h[2] > 4)
		return -1;
	int len = h[3] << 8 | h[4];
	return len > SONDE_TLS_RECORD_MAX ? -1 : len;
}

/* While searching, only what a protected record looks like is believed:
 * application data or an alert of TLS 1.2/1.3, long enough for a tag. */
static int resync_len(const uint8_t *h)
{
	if ((h[0] != 23 && h[0] != 21) || h[1] != 3 || h[2] != 3)
		return -1;
	int len = h[3] << 8 | h[4];
	return len < 17 || len > SONDE_TLS_RECORD_MAX ? -1 : len;
}

static void drop_front(struct sonde_tls_framer *f, size_t k)
{
	memmove(f->buf, f->buf + k, f->len - k);
	f->len -= k;
	f->base += k;
}

/* Lost: find an accepted record in what is held. True if framing resumed. */
static bool search(struct sonde_tls_framer *f, sonde_tls_record_fn fn, void *ctx)
{
	size_t i = 0;
	for (; i + SONDE_TLS_HEADER <= f->len; i++) {
		int len = resync_len(f->buf + i);
		if (len < 0)
			continue;
		size_t whole = SONDE_TLS_HEADER + (size_t)len;
		if (i + whole > f->len)
			break; /* wait for the rest of this candidate */
		if (fn(ctx, f->buf + i, whole, f->base + i, true)) {
			f->skipped += i;
			drop_front(f, i + whole);
			f->lost = false;
			return true;
		}
	}
	f->skipped += i;
	drop_front(f, i);
	return false;
}

/* Deliver the whole records held; enter the search on a bad header. */
static void drain(struct sonde_tls_framer *f, sonde_tls_record_fn fn, void *ctx)
{
	for (;;) {
		if (f->lost && !search(f, fn, ctx))
			return;
		if (f->len < SONDE_TLS_HEADER)
			return;
		int len = sonde_tls_header_len(f->buf);
		if (len < 0) {
			f->lost = true;
			continue;
		}
		size_t whole = SONDE_TLS_HEADER + (size_t)len;
		if (f->len < whole)
			return;
		fn(ctx, f->buf, whole, f->base, false);
		drop_front(f, whole);
	}
}

void sonde_tls_framer_feed(struct sonde_tls_framer *f, const uint8_t *p, size_t n,
			   sonde_tls_record_fn fn, void *ctx)
{
	while (n) {
		/* Whole records straight from the caller's bytes: no copy. */
		while (!f->len && !f->lost && n >= SONDE_TLS_HEADER) {
			int len = sonde_tls_header_len(p);
			size_t whole = SONDE_TLS_HEADER + (size_t)(len < 0 ? 0 : len);
			if (len < 0 || whole > n)
				break;
			fn(ctx, p, whole, f->base, false);
			f->base += whole;
			p += whole;
			n -= whole;
		}
		if (!n)
			return;
		if (!f->buf)
			f->buf = sonde_xmalloc(FRAMER_CAP);
		size_t take = FRAMER_CAP - f->len < n ? FRAMER_CAP - f->len : n;
		memcpy(f->buf + f->len, p, take);
		f->len += take;
		p += take;
		n -= take;
		drain(f, fn, ctx);
	}
}

void sonde_tls_framer_gap(struct sonde_tls_framer *f, uint64_t n)
{
	f->skipped += f->len;
	f->base += f->len + n;
	f->len = 0;
	f->lost = true;
}

void sonde_tls_framer_free(struct sonde_tls_framer *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}
