/* SPDX-License-Identifier: MIT */
#include "source/file/file_source.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/buf.h"
#include "proto/tls/keylog.h"
#include "source/packet/packet.h"
#include "source/source.h"

struct file_source {
	struct sonde_capfile *cf;
	struct sonde_source_env env;
	struct sonde_keylog *secrets;
	bool damaged;
};

bool sonde_frame_chunk(const struct sonde_frame *f, struct sonde_stats *st, struct sonde_chunk *c)
{
	st->frames++;
	st->frame_bytes += f->caplen;
	if (f->caplen < f->wirelen)
		st->frames_truncated++;
	if (!sonde_decode_packet(f->linktype, f->data, f->caplen, f->wirelen, f->ts_ns, c, st))
		return false;
	c->frame = f;
	return true;
}

/* Secrets before the packets they open: Wireshark writes them so, and
 * sonde's own recordings (--record-keylog) do too. Never quoted in errors. */
static void file_secrets(void *ctx, uint32_t type, const uint8_t *data, size_t len)
{
	struct file_source *s = ctx;
	char err[128];
	if (type == SONDE_PCAPNG_SECRETS_TLS && s->secrets &&
	    sonde_keylog_add(s->secrets, (const char *)data, len, err, sizeof(err)) > 0)
		s->env.stats->pcapng_secrets_blocks++;
	else
		s->env.stats->pcapng_secrets_unused++;
}

static void *file_open(const void *opts, const struct sonde_source_env *env, char *err,
		       size_t errlen)
{
	const struct sonde_file_source_opts *o = opts;
	/* A bad header is not an error here: the first poll reports it. */
	struct sonde_capfile *cf = o->mem ? sonde_capfile_open_mem(o->mem, o->len, o->name)
					  : sonde_capfile_open_fd(o->fd, o->name);
	if (!cf) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct file_source *s = sonde_xcalloc(1, sizeof(*s));
	s->env = *env;
	s->cf = cf;
	s->secrets = o->secrets;
	sonde_capfile_on_secrets(cf, file_secrets, s);
	return s;
}

static int file_fd(void *s)
{
	(void)s;
	return -1;
}

/* Frames per poll: a run with other sources to serve gets back to them. */
#define FRAMES_PER_POLL 256

/* Between two frames the run may say it wants no more (-c reached, the
 * reader gone): nothing is read past that point. */
static int file_poll(void *state, int timeout_ms)
{
	struct file_source *s = state;
	struct sonde_frame f;
	struct sonde_chunk c;
	(void)timeout_ms;
	int n = 0;
	while (n < FRAMES_PER_POLL && !(s->env.stop && *s->env.stop)) {
		int rc = sonde_capfile_next(s->cf, &f);
		if (rc <= 0) {
			s->damaged = rc < 0;
			return SONDE_SOURCE_END;
		}
		sonde_frame_emit(&s->env.frames, &f, SONDE_ORIGIN_PCAP_FILE);
		if (sonde_frame_chunk(&f, s->env.stats, &c)) {
			c.origin = SONDE_ORIGIN_PCAP_FILE;
			sonde_chunk_emit(&s->env.out, &c);
		}
		n++;
	}
	return n;
}

static const char *file_error(void *state)
{
	struct file_source *s = state;
	return s->damaged ? sonde_capfile_error(s->cf) : NULL;
}

static void file_close(void *state)
{
	struct file_source *s = state;
	sonde_capfile_close(s->cf);
	free(s);
}

const struct sonde_source_ops sonde_source_file = {
	.name = "file",
	.live = false,
	.open = file_open,
	.fd = file_fd,
	.poll = file_poll,
	.error = file_error,
	.close = file_close,
};
