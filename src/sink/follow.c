/* SPDX-License-Identifier: MIT */
/* --follow (see follow.h). */
#include "sink/follow.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "core/buf.h"
#include "sink/render.h"

struct sonde_follower {
	struct sonde_follow_out out;
	FILE *fp;
	uint64_t id;
	bool seen; /* the connection's first bytes came */
	int last; /* the direction of the last line: 1 client, 0 server, -1 none */
	bool line_open; /* data written since the last line end */
	uint64_t bytes[2]; /* by the server [0] and the client [1] */
	int err;
};

static void put(struct sonde_follower *f, const char *s, size_t n)
{
	if (n && fwrite(s, 1, n, f->fp) != n && !f->err)
		f->err = errno ? errno : EIO;
}

static void header(struct sonde_follower *f, const struct sonde_conn_info *c)
{
	char cl[64], sv[64];
	sonde_endpoint_str(&c->client, cl, sizeof(cl), 1);
	sonde_endpoint_str(&c->server, sv, sizeof(sv), 1);
	struct sonde_buf b = { 0 };
	sonde_buf_printf(&b, "=== connection %" PRIu64 " (%s): client %s, server %s\n", f->id,
			 c->l4 == SONDE_L4_UDP ? "udp" : "tcp", cl, sv);
	put(f, (const char *)b.p, b.len);
	sonde_buf_free(&b);
	f->seen = true;
}

/* A new direction starts a line saying who speaks. */
static void turn(struct sonde_follower *f, bool from_client)
{
	if (f->last == (int)from_client)
		return;
	if (f->line_open)
		put(f, "\n", 1);
	f->line_open = false;
	put(f, from_client ? "--> client:\n" : "<-- server:\n", 12);
	f->last = from_client;
}

static void follow_data(void *ctx, const struct sonde_conn_info *c, bool from_client,
			const uint8_t *p, size_t n, uint64_t ts)
{
	struct sonde_follower *f = ctx;
	(void)ts;
	if (!f->seen)
		header(f, c);
	turn(f, from_client);
	char buf[4096];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];
		if (ch == '\r' && i + 1 < n && p[i + 1] == '\n')
			continue; /* CRLF reads as a line end */
		buf[k++] = (ch >= 0x20 && ch < 0x7f) || ch == '\n' || ch == '\t' ? (char)ch : '.';
		if (k == sizeof(buf)) {
			put(f, buf, k);
			k = 0;
		}
	}
	put(f, buf, k);
	f->line_open = n && p[n - 1] != '\n';
	f->bytes[from_client] += n;
}

static void follow_gap(void *ctx, const struct sonde_conn_info *c, bool from_client, uint64_t n)
{
	struct sonde_follower *f = ctx;
	if (!f->seen)
		header(f, c);
	turn(f, from_client);
	char line[96];
	int len = snprintf(line, sizeof(line), "%s[%" PRIu64 " bytes not captured]\n",
			   f->line_open ? "\n" : "", n);
	put(f, line, (size_t)len);
	f->line_open = false;
}

struct sonde_follower *sonde_follower_new(uint64_t conn_id, FILE *out)
{
	struct sonde_follower *f = sonde_xcalloc(1, sizeof(*f));
	f->out = (struct sonde_follow_out){ .data = follow_data, .gap = follow_gap, .ctx = f };
	f->fp = out;
	f->id = conn_id;
	f->last = -1;
	return f;
}

const struct sonde_follow_out *sonde_follower_out(struct sonde_follower *f)
{
	return &f->out;
}

int sonde_follower_close(struct sonde_follower *f)
{
	char line[160];
	int len;
	if (!f->seen)
		len = snprintf(line, sizeof(line),
			       "=== connection %" PRIu64 ": not in the capture\n", f->id);
	else
		len = snprintf(line, sizeof(line),
			       "%s=== end of connection %" PRIu64 ": client sent %" PRIu64
			       " bytes, server %" PRIu64 "\n",
			       f->line_open ? "\n" : "", f->id, f->bytes[1], f->bytes[0]);
	put(f, line, (size_t)len);
	if (fflush(f->fp) && !f->err)
		f->err = errno ? errno : EIO;
	int err = f->err;
	free(f);
	if (err)
		errno = err;
	return err ? -1 : 0;
}
