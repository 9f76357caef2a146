/* SPDX-License-Identifier: MIT */
/* The chunked transfer coding's decoder (see chunked.h). */
#include "proto/http/chunked.h"

#include <string.h>

#include "core/hex.h"

/* One byte of a size line (not its LF). */
static void size_byte(struct sonde_chunked *c, uint8_t b)
{
	if (c->phase == 0) {
		if (b == ' ' || b == '\t')
			return;
		c->phase = 1;
	}
	if (c->phase != 1)
		return;
	int v = sonde_hexval(b);
	if (v >= 0) {
		if (c->digits >= 15) {
			c->bad_line = true; /* more than 60 bits */
			c->phase = 2;
			return;
		}
		c->size = c->size * 16 + (uint64_t)v;
		c->digits++;
		return;
	}
	if (!c->digits || (b != ';' && b != '\r' && b != ' ' && b != '\t'))
		c->bad_line = true;
	c->phase = 2;
}

static struct sonde_chunked_step size_line(struct sonde_chunked *c, const uint8_t *p, size_t n)
{
	struct sonde_chunked_step s = { 0, SONDE_CHUNKED_MORE, NULL };
	const uint8_t *lf = memchr(p, '\n', n);
	size_t take = lf ? (size_t)(lf - p) + 1 : n;
	if (c->line_len + take > SONDE_CHUNKED_MAX_LINE) {
		c->st = SONDE_CHUNKED_BAD;
		s.ev = SONDE_CHUNKED_ERROR;
		return s;
	}
	c->line_len += (uint32_t)take;
	s.used = take;
	for (size_t i = 0; i + (lf ? 1 : 0) < take; i++)
		size_byte(c, p[i]);
	if (!lf)
		return s;
	/* the LF ends the line: it is an allowed end of the digits */
	if (c->phase < 2 && !c->digits)
		c->bad_line = true;
	if (c->bad_line) {
		c->st = SONDE_CHUNKED_BAD;
		s.ev = SONDE_CHUNKED_ERROR;
	} else if (c->size) {
		c->st = SONDE_CHUNKED_DATA;
	} else {
		c->st = SONDE_CHUNKED_LAST;
		s.ev = SONDE_CHUNKED_END;
	}
	return s;
}

struct sonde_chunked_step sonde_chunked_feed(struct sonde_chunked *c, const uint8_t *p, size_t n)
{
	struct sonde_chunked_step s = { 0, SONDE_CHUNKED_MORE, NULL };
	switch (c->st) {
	case SONDE_CHUNKED_SIZE:
		if (!n)
			return s;
		return size_line(c, p, n);
	case SONDE_CHUNKED_DATA:
		s.used = n < c->size ? n : (size_t)c->size;
		s.ev = s.used ? SONDE_CHUNKED_BYTES : SONDE_CHUNKED_MORE;
		s.data = p;
		c->size -= s.used;
		if (!c->size) {
			c->st = SONDE_CHUNKED_CRLF;
			c->cr = false;
		}
		return s;
	case SONDE_CHUNKED_CRLF:
		if (!n)
			return s;
		if (p[0] == '\r' && !c->cr) {
			c->cr = true;
			s.used = 1;
		} else if (p[0] == '\n') {
			*c = (struct sonde_chunked){ .st = SONDE_CHUNKED_SIZE };
			s.used = 1;
		} else {
			c->st = SONDE_CHUNKED_BAD;
			s.ev = SONDE_CHUNKED_ERROR;
		}
		return s;
	case SONDE_CHUNKED_LAST: s.ev = SONDE_CHUNKED_END; return s;
	case SONDE_CHUNKED_BAD:
	default: s.ev = SONDE_CHUNKED_ERROR; return s;
	}
}
