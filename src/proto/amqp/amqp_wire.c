/* SPDX-License-Identifier: MIT */
/* AMQP 0-9-1 wire format (see amqp_wire.h). */
#include "proto/amqp/amqp_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- cursor --- */

const uint8_t *amqp_take(struct amqp_cur *c, size_t n)
{
	if (c->bad || c->n - c->off < n) {
		c->bad = true;
		return NULL;
	}
	const uint8_t *p = c->p + c->off;
	c->off += n;
	return p;
}

uint8_t amqp_u8(struct amqp_cur *c)
{
	const uint8_t *p = amqp_take(c, 1);
	return p ? p[0] : 0;
}

uint16_t amqp_u16(struct amqp_cur *c)
{
	const uint8_t *p = amqp_take(c, 2);
	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t amqp_u32(struct amqp_cur *c)
{
	const uint8_t *p = amqp_take(c, 4);
	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

uint64_t amqp_u64(struct amqp_cur *c)
{
	uint64_t hi = amqp_u32(c);
	return hi << 32 | amqp_u32(c);
}

/* ----------------------------------------------------------- arguments --- */

void amqp_args_init(struct amqp_args *a, const struct amqp_method *m, const uint8_t *p, size_t n)
{
	memset(a, 0, sizeof(*a));
	a->c = amqp_cur(p, n);
	a->f = m ? m->fields : NULL;
	a->nf = m ? m->nfields : 0;
	a->bitpos = 8;
}

/* One value of type t (also the properties' reader). */
static void read_val(struct amqp_cur *c, uint8_t t, struct amqp_val *out)
{
	out->s = NULL;
	out->len = 0;
	switch (t) {
	case AMQP_OCTET: out->u = amqp_u8(c); break;
	case AMQP_SHORT: out->u = amqp_u16(c); break;
	case AMQP_LONG: out->u = amqp_u32(c); break;
	case AMQP_LONGLONG:
	case AMQP_TIMESTAMP: out->u = amqp_u64(c); break;
	case AMQP_SHORTSTR: out->len = amqp_u8(c); break;
	default: out->len = amqp_u32(c); break; /* longstr, table */
	}
	if (t == AMQP_SHORTSTR || t == AMQP_LONGSTR || t == AMQP_TABLE)
		out->s = amqp_take(c, out->len);
}

int amqp_args_next(struct amqp_args *a, struct amqp_val *out)
{
	if (a->i >= a->nf)
		return 0;
	const struct amqp_field *f = &a->f[a->i++];
	out->f = f;
	out->s = NULL;
	out->len = 0;
	if (f->type == AMQP_BIT) {
		if (a->bitpos >= 8) {
			a->bits = amqp_u8(&a->c);
			a->bitpos = 0;
		}
		out->u = (a->bits >> a->bitpos++) & 1;
	} else {
		a->bitpos = 8;
		read_val(&a->c, f->type, out);
	}
	return a->c.bad ? -1 : 1;
}

static bool find_arg(const struct amqp_method *m, const uint8_t *p, size_t n, const char *name,
		     struct amqp_val *out)
{
	struct amqp_args a;
	amqp_args_init(&a, m, p, n);
	while (amqp_args_next(&a, out) > 0)
		if (!strcmp(out->f->name, name))
			return true;
	return false;
}

bool amqp_arg_u64(const struct amqp_method *m, const uint8_t *p, size_t n, const char *name,
		  uint64_t *out)
{
	struct amqp_val v;
	if (!find_arg(m, p, n, name, &v) || v.s)
		return false;
	*out = v.u;
	return true;
}

bool amqp_arg_str(const struct amqp_method *m, const uint8_t *p, size_t n, const char *name,
		  const uint8_t **s, uint32_t *len)
{
	struct amqp_val v;
	if (!find_arg(m, p, n, name, &v) || !v.s)
		return false;
	*s = v.s;
	*len = v.len;
	return true;
}

/* The SASL PLAIN response "authzid NUL authcid NUL password": the user,
 * never the password. */
static void plain_user(const struct amqp_val *x, const struct sonde_field_ops *v, void *ctx)
{
	const uint8_t *nul = memchr(x->s, 0, x->len);
	const uint8_t *user = nul ? nul + 1 : NULL;
	const uint8_t *end = user ? memchr(user, 0, x->len - (size_t)(user - x->s)) : NULL;
	if (end)
		v->str(ctx, "user", user, (size_t)(end - user));
}

static void write_val(const struct amqp_val *x, const struct sonde_field_ops *v, void *ctx,
		      const char *const *secret)
{
	const struct amqp_field *f = x->f;
	if (f->flags & AMQP_F_SECRET) {
		/* AMQPLAIN sends a table with LOGIN and PASSWORD; PLAIN a string */
		if (x->len >= 4 && x->s[0] &&
		    amqp_table_walk(x->s, x->len, 1, secret, NULL, NULL)) {
			v->begin(ctx, f->name, SONDE_FG_LIST);
			amqp_table_walk(x->s, x->len, 1, secret, v, ctx);
			v->end(ctx, SONDE_FG_LIST);
			return;
		}
		sonde_field_secret(v, ctx, f->name, x->s ? x->s : (const uint8_t *)"", x->len);
		if (!strcmp(f->name, "response"))
			plain_user(x, v, ctx);
		return;
	}
	switch (f->type) {
	case AMQP_BIT: v->boolean(ctx, f->name, x->u); break;
	case AMQP_SHORTSTR: v->str(ctx, f->name, x->s, x->len); break;
	case AMQP_LONGSTR: v->str(ctx, f->name, x->s, x->len); break; /* escaped as needed */
	case AMQP_TABLE:
		v->begin(ctx, f->name, SONDE_FG_LIST);
		amqp_table_walk(x->s, x->len, 1, secret, v, ctx);
		v->end(ctx, SONDE_FG_LIST);
		break;
	default: v->u64(ctx, f->name, x->u);
	}
}

static const char *const amqplain_secret[] = { "PASSWORD", NULL };

bool amqp_args_walk(const struct amqp_method *m, const uint8_t *p, size_t n,
		    const struct sonde_field_ops *v, void *ctx)
{
	struct amqp_args a;
	struct amqp_val x;
	int r;
	amqp_args_init(&a, m, p, n);
	while ((r = amqp_args_next(&a, &x)) > 0) {
		if (x.f->type == AMQP_TABLE &&
		    !amqp_table_walk(x.s, x.len, 1, amqplain_secret, NULL, NULL))
			return false;
		if (!(x.f->flags & AMQP_F_RESERVED))
			write_val(&x, v, ctx, amqplain_secret);
	}
	return r == 0;
}

bool amqp_args_valid(const struct amqp_method *m, const uint8_t *p, size_t n)
{
	struct amqp_args a;
	struct amqp_val x;
	int r;
	amqp_args_init(&a, m, p, n);
	while ((r = amqp_args_next(&a, &x)) > 0)
		if (x.f->type == AMQP_TABLE && !amqp_table_walk(x.s, x.len, 1, NULL, NULL, NULL))
			return false;
	return r == 0 && a.c.off == n;
}

/* -------------------------------------------------------------- tables --- */

static bool field_value(struct amqp_cur *c, const char *name, int depth, bool mask,
			const struct sonde_field_ops *v, void *ctx);

/* An array's values (p: after its length) as list elements. */
static bool array_walk(const uint8_t *p, size_t n, int depth, const struct sonde_field_ops *v,
		       void *ctx)
{
	struct amqp_cur c = amqp_cur(p, n);
	while (!c.bad && c.off < c.n)
		if (!field_value(&c, NULL, depth, false, v, ctx))
			return false;
	return !c.bad;
}

/* A signed value of k bytes. */
static int64_t sval(struct amqp_cur *c, int k)
{
	switch (k) {
	case 1: return (int8_t)amqp_u8(c);
	case 2: return (int16_t)amqp_u16(c);
	case 4: return (int32_t)amqp_u32(c);
	default: return (int64_t)amqp_u64(c);
	}
}

/* An unsigned value of k bytes. */
static uint64_t uval(struct amqp_cur *c, int k)
{
	switch (k) {
	case 1: return amqp_u8(c);
	case 2: return amqp_u16(c);
	case 4: return amqp_u32(c);
	default: return amqp_u64(c);
	}
}

static void write_text(const char *name, const char *fmt, const struct sonde_field_ops *v,
		       void *ctx, ...) __attribute__((format(printf, 2, 5)));
static void write_text(const char *name, const char *fmt, const struct sonde_field_ops *v,
		       void *ctx, ...)
{
	char b[64];
	va_list ap;
	va_start(ap, ctx);
	int k = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	v->str(ctx, name, (const uint8_t *)b, k < 0 ? 0 : (size_t)k);
}

/* The integer types of field values: letter, size, signed. */
static bool int_type(uint8_t t, int *size, bool *sign)
{
	static const char letters[] = "tbBsuIilT";
	static const uint8_t sizes[] = { 1, 1, 1, 2, 2, 4, 4, 8, 8 };
	const char *at = t ? strchr(letters, t) : NULL;
	if (!at)
		return false;
	*size = sizes[at - letters];
	*sign = t == 'b' || t == 's' || t == 'I' || t == 'l';
	return true;
}

/* A table or an array inside a value: a list, depth bounded. */
static bool nested(struct amqp_cur *c, uint8_t t, const char *name, int depth,
		   const struct sonde_field_ops *v, void *ctx)
{
	if (depth >= AMQP_TABLE_DEPTH)
		return false;
	uint32_t len = amqp_u32(c);
	const uint8_t *s = amqp_take(c, len);
	if (!s)
		return false;
	if (v)
		v->begin(ctx, name, SONDE_FG_LIST);
	bool ok = t == 'F' ? amqp_table_walk(s, len, depth + 1, NULL, v, ctx)
			   : array_walk(s, len, depth + 1, v, ctx);
	if (v)
		v->end(ctx, SONDE_FG_LIST);
	return ok;
}

/* One typed value of a table or array (RabbitMQ's type letters, which
 * its errata to 0-9-1 made the common ones); v NULL only reads. With mask,
 * a string value is a credential (the masking stage writes it masked) and
 * any other type is written "****". */
static bool field_value(struct amqp_cur *c, const char *name, int depth, bool mask,
			const struct sonde_field_ops *v, void *ctx)
{
	uint8_t t = amqp_u8(c);
	int size;
	bool sign;
	if (t == 'F' || t == 'A')
		return nested(c, t, name, depth, mask ? NULL : v, ctx) && !c->bad;
	const struct sonde_field_ops *secret_to = mask ? v : NULL;
	if (mask)
		v = NULL;
	if (secret_to && t != 'S' && t != 'x')
		sonde_field_cstr(secret_to, ctx, name, "****");
	if (int_type(t, &size, &sign)) {
		int64_t x = sign ? sval(c, size) : 0;
		uint64_t u = sign ? 0 : uval(c, size);
		if (v && t == 't')
			v->boolean(ctx, name, u != 0);
		else if (v && sign)
			v->i64(ctx, name, x);
		else if (v)
			v->u64(ctx, name, u);
		return !c->bad;
	}
	union {
		uint32_t u;
		float f;
	} f4;
	union {
		uint64_t u;
		double d;
	} f8;
	uint32_t len;
	const uint8_t *s;
	switch (t) {
	case 'f':
		f4.u = amqp_u32(c);
		if (v)
			write_text(name, "%.9g", v, ctx, (double)f4.f);
		break;
	case 'd':
		f8.u = amqp_u64(c);
		if (v)
			write_text(name, "%.17g", v, ctx, f8.d);
		break;
	case 'D': { /* scale, then a signed 32-bit value */
		uint8_t scale = amqp_u8(c);
		int64_t x = sval(c, 4);
		if (v)
			write_text(name, "%lldE-%u", v, ctx, (long long)x, scale);
		break;
	}
	case 'V':
		if (v)
			v->null(ctx, name);
		break;
	case 'S':
	case 'x':
		len = amqp_u32(c);
		s = amqp_take(c, len);
		if (v && s) /* text, escaped as needed: an encoding member would repeat */
			v->str(ctx, name, s, len);
		else if (secret_to && s)
			sonde_field_secret(secret_to, ctx, name, s, len);
		break;
	default: return false;
	}
	return !c->bad;
}

static bool secret_key(const char *const *secret, const uint8_t *k, size_t n)
{
	for (size_t i = 0; secret && secret[i]; i++)
		if (strlen(secret[i]) == n && !memcmp(secret[i], k, n))
			return true;
	return false;
}

bool amqp_table_walk(const uint8_t *p, size_t n, int depth, const char *const *secret,
		     const struct sonde_field_ops *v, void *ctx)
{
	struct amqp_cur c = amqp_cur(p, n);
	while (!c.bad && c.off < c.n) {
		uint8_t kl = amqp_u8(&c);
		const uint8_t *k = amqp_take(&c, kl);
		if (!k)
			return false;
		/* [key, value]: keys are captured bytes, never member names */
		if (v) {
			v->begin(ctx, NULL, SONDE_FG_LIST);
			v->str(ctx, NULL, k, kl);
		}
		bool ok = field_value(&c, NULL, depth, secret_key(secret, k, kl), v, ctx);
		if (v)
			v->end(ctx, SONDE_FG_LIST);
		if (!ok)
			return false;
	}
	return !c.bad;
}

/* ---------------------------------------------------------- properties --- */

bool amqp_props_walk(const struct amqp_class *cls, uint16_t flags, const uint8_t *p, size_t n,
		     const struct sonde_field_ops *v, void *ctx)
{
	struct amqp_cur c = amqp_cur(p, n);
	for (uint8_t i = 0; cls && i < cls->nprops && i < 15; i++) {
		if (!(flags & (1u << (15 - i))))
			continue;
		const struct amqp_field *f = &cls->props[i];
		struct amqp_val x = { .f = f };
		read_val(&c, f->type, &x);
		if (c.bad)
			return false;
		if (f->type == AMQP_TABLE && !amqp_table_walk(x.s, x.len, 1, NULL, NULL, NULL))
			return false;
		if (v)
			write_val(&x, v, ctx, NULL);
	}
	return !c.bad;
}

/* -------------------------------------------------------------- lookup --- */

const struct amqp_method *amqp_method_find(uint16_t class_id, uint16_t method_id)
{
	uint32_t want = (uint32_t)class_id << 16 | method_id;
	size_t lo = 0, hi = amqp_nmethods;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct amqp_method *m = &amqp_methods[mid];
		uint32_t k = (uint32_t)m->class_id << 16 | m->method_id;
		if (k == want)
			return m;
		if (k < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct amqp_class *amqp_class_find(uint16_t class_id)
{
	for (size_t i = 0; i < amqp_nclasses; i++)
		if (amqp_classes[i].id == class_id)
			return &amqp_classes[i];
	return NULL;
}
