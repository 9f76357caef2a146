/* SPDX-License-Identifier: MIT */
/*
 * -V: below each text line, every field of the request and the response,
 * one per line, indented by depth — what tshark -O shows for a packet, here
 * for a message. Written through the field visitor (core/fields.h), so
 * every protocol's fields appear without code of its own here. Values are
 * escaped (sonde_text_safe) and long ones cut: bodies are traffic.
 */
#include <inttypes.h>

#include "sink/render.h"

#define VALUE_MAX 1024 /* bytes of a value shown */
#define HEX_MAX 32 /* bytes of a binary value shown, in hex */
#define BASE_INDENT 4

struct details {
	struct sonde_buf *o;
	unsigned depth;
};

/* The indent and "name: " (or a list item's "- "); a group's name ends the
 * line instead. */
static void start_at(struct details *d, const char *name, bool group)
{
	for (unsigned i = 0; i < BASE_INDENT + 2 * d->depth; i++)
		sonde_buf_putc(d->o, ' ');
	if (name) {
		sonde_text_safe(d->o, (const uint8_t *)name, strlen(name), 128);
		sonde_buf_puts(d->o, group ? ":" : ": ");
	} else {
		sonde_buf_puts(d->o, group ? "-" : "- ");
	}
}

static void start(struct details *d, const char *name)
{
	start_at(d, name, false);
}

static void df_str(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct details *d = ctx;
	start(d, name);
	sonde_text_safe(d->o, p, n, VALUE_MAX);
	sonde_buf_putc(d->o, '\n');
}

static void df_null(void *ctx, const char *name)
{
	struct details *d = ctx;
	start(d, name);
	sonde_buf_puts(d->o, "null\n");
}

static void df_u64(void *ctx, const char *name, uint64_t v)
{
	struct details *d = ctx;
	start(d, name);
	sonde_buf_printf(d->o, "%" PRIu64 "\n", v);
}

static void df_i64(void *ctx, const char *name, int64_t v)
{
	struct details *d = ctx;
	start(d, name);
	sonde_buf_printf(d->o, "%" PRId64 "\n", v);
}

static void df_bool(void *ctx, const char *name, bool v)
{
	struct details *d = ctx;
	start(d, name);
	sonde_buf_puts(d->o, v ? "true\n" : "false\n");
}

static void df_bytes(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	struct details *d = ctx;
	start(d, name);
	sonde_buf_printf(d->o, "(%zu bytes)", n);
	for (size_t i = 0; i < n && i < HEX_MAX; i++)
		sonde_buf_printf(d->o, " %02x", p[i]);
	sonde_buf_puts(d->o, n > HEX_MAX ? " ...\n" : "\n");
}

static void df_begin(void *ctx, const char *name, enum sonde_field_group g)
{
	struct details *d = ctx;
	(void)g;
	start_at(d, name, true);
	sonde_buf_putc(d->o, '\n');
	d->depth++;
}

static void df_end(void *ctx, enum sonde_field_group g)
{
	struct details *d = ctx;
	(void)g;
	if (d->depth)
		d->depth--;
}

static void df_header(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value,
		      size_t vlen)
{
	struct details *d = ctx;
	for (unsigned i = 0; i < BASE_INDENT + 2 * d->depth; i++)
		sonde_buf_putc(d->o, ' ');
	sonde_text_safe(d->o, name, nlen, 256);
	sonde_buf_puts(d->o, ": ");
	sonde_text_safe(d->o, value, vlen, VALUE_MAX);
	sonde_buf_putc(d->o, '\n');
}

static void df_json(void *ctx, const char *name, const uint8_t *p, size_t n)
{
	df_str(ctx, name, p, n);
}

static const struct sonde_field_ops details_ops = {
	.str = df_str,
	.null = df_null,
	.u64 = df_u64,
	.i64 = df_i64,
	.boolean = df_bool,
	.bytes = df_bytes,
	.begin = df_begin,
	.end = df_end,
	.header = df_header,
	.json = df_json,
};

void sonde_record_details(const struct sonde_record *r, struct sonde_buf *out)
{
	const struct sonde_msg *ms[2] = { r->req, r->resp };
	static const char *const names[2] = { "request", "response" };
	for (int k = 0; k < 2; k++) {
		if (!ms[k])
			continue;
		struct details d = { .o = out, .depth = 0 };
		df_begin(&d, names[k], SONDE_FG_OBJECT);
		ms[k]->ops->fields(ms[k], &details_ops, &d);
	}
}
