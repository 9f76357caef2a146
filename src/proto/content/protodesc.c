/* SPDX-License-Identifier: MIT */
/*
 * FileDescriptorSet reading and schema-aware protobuf decoding (see
 * protodesc.h). The descriptor messages are walked with sonde_pb_next; only
 * the fields sonde needs are kept (google/protobuf/descriptor.proto numbers
 * below). Type names are resolved once every file is read.
 */
#include "proto/content/protodesc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_NESTING 64 /* nested message declarations in a descriptor */
#define MAX_SET (64u << 20) /* descriptor file size */
#define DEF_DEPTH 8
#define DEF_OUT (64u * 1024)
#define DEF_FIELDS 256

/* FieldDescriptorProto.Type */
enum {
	T_DOUBLE = 1,
	T_FLOAT = 2,
	T_INT64 = 3,
	T_UINT64 = 4,
	T_INT32 = 5,
	T_FIXED64 = 6,
	T_FIXED32 = 7,
	T_BOOL = 8,
	T_STRING = 9,
	T_GROUP = 10,
	T_MESSAGE = 11,
	T_BYTES = 12,
	T_UINT32 = 13,
	T_ENUM = 14,
	T_SFIXED32 = 15,
	T_SFIXED64 = 16,
	T_SINT32 = 17,
	T_SINT64 = 18,
};
#define LABEL_REPEATED 3

struct pd_enum_value {
	char *name;
	int32_t number;
};

struct pd_enum {
	char *name;
	struct pd_enum_value *v;
	size_t nv;
};

struct pd_field {
	char *name;
	uint32_t number;
	uint8_t type, label;
	char *type_name; /* as declared (".pkg.Msg"); resolved below */
	const struct sonde_pd_msg *msg;
	const struct pd_enum *en;
};

struct sonde_pd_msg {
	char *name; /* full name, no leading dot */
	struct pd_field *f;
	size_t nf;
	bool map_entry;
};

struct pd_method {
	char *path; /* "/pkg.Service/Method" */
	char *in, *out;
	const struct sonde_pd_msg *min, *mout;
};

struct sonde_protodesc {
	struct sonde_pd_msg **msgs;
	size_t nmsgs;
	struct pd_enum **enums;
	size_t nenums;
	struct pd_method *methods;
	size_t nmethods;
	size_t files;
};

/* ---------------------------------------------------------------- helpers --- */

static void *grow(void *p, size_t n, size_t size)
{
	/* arrays grow one element at a time, in powers of two */
	if (n & (n - 1))
		return p;
	return sonde_xrealloc(p, (n ? 2 * n : 1) * size);
}

static char *xstrndup(const uint8_t *p, size_t n)
{
	char *s = sonde_xmalloc(n + 1);
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

/* prefix + "." + name, or name alone */
static char *qualify(const char *prefix, const char *name)
{
	size_t a = strlen(prefix), b = strlen(name);
	char *s = sonde_xmalloc(a + b + 2);
	if (a) {
		memcpy(s, prefix, a);
		s[a++] = '.';
	}
	memcpy(s + a, name, b + 1);
	return s;
}

/* The string field `num` of a message (the last one), or NULL; -1 if malformed. */
static int get_string(const uint8_t *p, size_t n, uint32_t num, char **out)
{
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield f;
	int rc;
	*out = NULL;
	while ((rc = sonde_pb_next(&r, &f)) > 0) {
		if (f.num == num && f.wt == 2) {
			free(*out);
			*out = xstrndup(f.bytes, f.len);
		}
	}
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ reading --- */

static int read_enum(struct sonde_protodesc *d, const char *prefix, const uint8_t *p, size_t n)
{
	char *name;
	if (get_string(p, n, 1, &name) < 0 || !name)
		return -1;
	struct pd_enum *e = sonde_xcalloc(1, sizeof(*e));
	e->name = qualify(prefix, name);
	free(name);
	d->enums = grow(d->enums, d->nenums, sizeof(*d->enums));
	d->enums[d->nenums++] = e;
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield f;
	int rc;
	while ((rc = sonde_pb_next(&r, &f)) > 0) {
		if (f.num != 2 || f.wt != 2)
			continue;
		/* EnumValueDescriptorProto: 1 name, 2 number */
		struct pd_enum_value v = { NULL, 0 };
		struct sonde_pb_reader vr = { f.bytes, f.len, 0 };
		struct sonde_pb_wfield g;
		int vrc;
		while ((vrc = sonde_pb_next(&vr, &g)) > 0) {
			if (g.num == 1 && g.wt == 2) {
				free(v.name);
				v.name = xstrndup(g.bytes, g.len);
			} else if (g.num == 2 && g.wt == 0) {
				v.number = (int32_t)g.v;
			}
		}
		if (vrc < 0 || !v.name) {
			free(v.name);
			return -1;
		}
		e->v = grow(e->v, e->nv, sizeof(*e->v));
		e->v[e->nv++] = v;
	}
	return rc;
}

static int read_field(struct sonde_pd_msg *m, const uint8_t *p, size_t n)
{
	struct pd_field fd;
	memset(&fd, 0, sizeof(fd));
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield f;
	int rc;
	while ((rc = sonde_pb_next(&r, &f)) > 0) {
		if (f.num == 1 && f.wt == 2) {
			free(fd.name);
			fd.name = xstrndup(f.bytes, f.len);
		} else if (f.num == 3 && f.wt == 0) {
			fd.number = (uint32_t)f.v;
		} else if (f.num == 4 && f.wt == 0) {
			fd.label = (uint8_t)f.v;
		} else if (f.num == 5 && f.wt == 0) {
			fd.type = (uint8_t)f.v;
		} else if (f.num == 6 && f.wt == 2) {
			free(fd.type_name);
			fd.type_name = xstrndup(f.bytes, f.len);
		}
	}
	if (rc < 0 || !fd.name || !fd.number || fd.number > 0x1fffffff) {
		free(fd.name);
		free(fd.type_name);
		return -1;
	}
	m->f = grow(m->f, m->nf, sizeof(*m->f));
	m->f[m->nf++] = fd;
	return 0;
}

static int read_message(struct sonde_protodesc *d, const char *prefix, const uint8_t *p, size_t n,
			unsigned depth)
{
	char *name;
	if (depth > MAX_NESTING || get_string(p, n, 1, &name) < 0 || !name)
		return -1;
	struct sonde_pd_msg *m = sonde_xcalloc(1, sizeof(*m));
	m->name = qualify(prefix, name);
	free(name);
	d->msgs = grow(d->msgs, d->nmsgs, sizeof(*d->msgs));
	d->msgs[d->nmsgs++] = m;
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield f;
	int rc;
	while ((rc = sonde_pb_next(&r, &f)) > 0) {
		if (f.wt != 2)
			continue;
		int e = 0;
		if (f.num == 2) /* field */
			e = read_field(m, f.bytes, f.len);
		else if (f.num == 3) /* nested_type */
			e = read_message(d, m->name, f.bytes, f.len, depth + 1);
		else if (f.num == 4) /* enum_type */
			e = read_enum(d, m->name, f.bytes, f.len);
		else if (f.num == 7) { /* options: MessageOptions.map_entry = 7 */
			struct sonde_pb_reader o = { f.bytes, f.len, 0 };
			struct sonde_pb_wfield g;
			while ((e = sonde_pb_next(&o, &g)) > 0)
				if (g.num == 7 && g.wt == 0)
					m->map_entry = g.v != 0;
		}
		if (e < 0)
			return -1;
	}
	return rc;
}

static int read_service(struct sonde_protodesc *d, const char *package, const uint8_t *p, size_t n)
{
	char *name;
	if (get_string(p, n, 1, &name) < 0 || !name)
		return -1;
	char *service = qualify(package, name);
	free(name);
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield f;
	int rc;
	while ((rc = sonde_pb_next(&r, &f)) > 0) {
		if (f.num != 2 || f.wt != 2)
			continue;
		/* MethodDescriptorProto: 1 name, 2 input_type, 3 output_type */
		char *mname = NULL, *in = NULL, *out = NULL;
		if (get_string(f.bytes, f.len, 1, &mname) < 0 ||
		    get_string(f.bytes, f.len, 2, &in) < 0 ||
		    get_string(f.bytes, f.len, 3, &out) < 0 || !mname) {
			free(mname);
			free(in);
			free(out);
			rc = -1;
			break;
		}
		struct pd_method md = { NULL, in, out, NULL, NULL };
		size_t l = strlen(service) + strlen(mname) + 3;
		md.path = sonde_xmalloc(l);
		snprintf(md.path, l, "/%s/%s", service, mname);
		free(mname);
		d->methods = grow(d->methods, d->nmethods, sizeof(*d->methods));
		d->methods[d->nmethods++] = md;
	}
	free(service);
	return rc;
}

/* FileDescriptorProto: 2 package, 4 message_type, 5 enum_type, 6 service. */
static int read_file(struct sonde_protodesc *d, const uint8_t *p, size_t n)
{
	char *package;
	if (get_string(p, n, 2, &package) < 0)
		return -1;
	const char *pkg = package ? package : "";
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield f;
	int rc;
	while ((rc = sonde_pb_next(&r, &f)) > 0) {
		if (f.wt != 2)
			continue;
		int e = 0;
		if (f.num == 4)
			e = read_message(d, pkg, f.bytes, f.len, 0);
		else if (f.num == 5)
			e = read_enum(d, pkg, f.bytes, f.len);
		else if (f.num == 6)
			e = read_service(d, pkg, f.bytes, f.len);
		if (e < 0) {
			rc = -1;
			break;
		}
	}
	free(package);
	return rc;
}

const struct sonde_pd_msg *sonde_protodesc_find(const struct sonde_protodesc *d, const char *name)
{
	if (!d || !name)
		return NULL;
	if (name[0] == '.')
		name++;
	for (size_t i = 0; i < d->nmsgs; i++)
		if (!strcmp(d->msgs[i]->name, name))
			return d->msgs[i];
	return NULL;
}

static const struct pd_enum *find_enum(const struct sonde_protodesc *d, const char *name)
{
	if (name[0] == '.')
		name++;
	for (size_t i = 0; i < d->nenums; i++)
		if (!strcmp(d->enums[i]->name, name))
			return d->enums[i];
	return NULL;
}

static void resolve(struct sonde_protodesc *d)
{
	for (size_t i = 0; i < d->nmsgs; i++) {
		struct sonde_pd_msg *m = d->msgs[i];
		for (size_t k = 0; k < m->nf; k++) {
			struct pd_field *f = &m->f[k];
			if (!f->type_name)
				continue;
			if (f->type == T_MESSAGE || f->type == T_GROUP || !f->type)
				f->msg = sonde_protodesc_find(d, f->type_name);
			if (f->type == T_ENUM || (!f->type && !f->msg))
				f->en = find_enum(d, f->type_name);
			if (!f->type) /* protoc always sets it; be lenient */
				f->type = f->msg ? T_MESSAGE : f->en ? T_ENUM : 0;
		}
	}
	for (size_t i = 0; i < d->nmethods; i++) {
		d->methods[i].min = sonde_protodesc_find(d, d->methods[i].in);
		d->methods[i].mout = sonde_protodesc_find(d, d->methods[i].out);
	}
}

struct sonde_protodesc *sonde_protodesc_parse(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct sonde_protodesc *d = sonde_xcalloc(1, sizeof(*d));
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield f;
	int rc;
	while ((rc = sonde_pb_next(&r, &f)) > 0) {
		if (f.num != 1 || f.wt != 2)
			continue;
		d->files++;
		if (read_file(d, f.bytes, f.len) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc < 0 || !d->files) {
		snprintf(err, errlen, "%s",
			 rc < 0 ? "not a FileDescriptorSet (malformed protobuf)"
				: "not a FileDescriptorSet (no file in it)");
		sonde_protodesc_free(d);
		return NULL;
	}
	resolve(d);
	return d;
}

struct sonde_protodesc *sonde_protodesc_load(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	struct sonde_buf b = { 0 };
	uint8_t tmp[65536];
	size_t k;
	while ((k = fread(tmp, 1, sizeof(tmp), fp)) > 0 && b.len <= MAX_SET)
		sonde_buf_append(&b, tmp, k);
	bool bad = ferror(fp);
	fclose(fp);
	struct sonde_protodesc *d = NULL;
	if (bad)
		snprintf(err, errlen, "read error");
	else if (b.len > MAX_SET)
		snprintf(err, errlen, "larger than %u MiB", MAX_SET >> 20);
	else
		d = sonde_protodesc_parse(b.p ? b.p : tmp, b.len, err, errlen);
	sonde_buf_free(&b);
	return d;
}

void sonde_protodesc_free(struct sonde_protodesc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nmsgs; i++) {
		struct sonde_pd_msg *m = d->msgs[i];
		for (size_t k = 0; k < m->nf; k++) {
			free(m->f[k].name);
			free(m->f[k].type_name);
		}
		free(m->f);
		free(m->name);
		free(m);
	}
	for (size_t i = 0; i < d->nenums; i++) {
		for (size_t k = 0; k < d->enums[i]->nv; k++)
			free(d->enums[i]->v[k].name);
		free(d->enums[i]->v);
		free(d->enums[i]->name);
		free(d->enums[i]);
	}
	for (size_t i = 0; i < d->nmethods; i++) {
		free(d->methods[i].path);
		free(d->methods[i].in);
		free(d->methods[i].out);
	}
	free(d->msgs);
	free(d->enums);
	free(d->methods);
	free(d);
}

void sonde_protodesc_counts(const struct sonde_protodesc *d, size_t *files, size_t *messages,
			    size_t *methods)
{
	*files = d->files;
	*messages = d->nmsgs;
	*methods = d->nmethods;
}

const struct sonde_pd_msg *sonde_protodesc_method(const struct sonde_protodesc *d,
						  const uint8_t *path, size_t n, bool response)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->nmethods; i++) {
		const struct pd_method *m = &d->methods[i];
		if (strlen(m->path) == n && !memcmp(m->path, path, n))
			return response ? m->mout : m->min;
	}
	return NULL;
}

const struct sonde_pd_msg *sonde_protodesc_msg_at(const struct sonde_protodesc *d, size_t i)
{
	return i < d->nmsgs ? d->msgs[i] : NULL;
}

const char *sonde_pd_msg_name(const struct sonde_pd_msg *m)
{
	return m->name;
}

/* ----------------------------------------------------------------- decoding --- */

struct pd_ctx {
	unsigned max_depth, max_fields;
	size_t out_end;
};

struct occ {
	struct sonde_pb_wfield w;
	bool written;
};

/* The wire type a field's values take unpacked. */
static int wire_of(uint8_t type)
{
	switch (type) {
	case T_DOUBLE:
	case T_FIXED64:
	case T_SFIXED64: return 1;
	case T_FLOAT:
	case T_FIXED32:
	case T_SFIXED32: return 5;
	case T_STRING:
	case T_BYTES:
	case T_MESSAGE: return 2;
	case T_INT64:
	case T_UINT64:
	case T_INT32:
	case T_BOOL:
	case T_UINT32:
	case T_ENUM:
	case T_SINT32:
	case T_SINT64: return 0;
	default: /* groups, unknown types */ return -1;
	}
}

static void put_double(struct sonde_buf *o, double v, bool single)
{
	if (isnan(v))
		sonde_buf_puts(o, "\"NaN\"");
	else if (isinf(v))
		sonde_buf_puts(o, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
		sonde_buf_printf(o, single ? "%.9g" : "%.17g", v);
}

/* A scalar value (varint or fixed) of the field's type. */
static void put_scalar(struct sonde_buf *o, const struct pd_field *fd, uint64_t v)
{
	switch (fd->type) {
	case T_DOUBLE: {
		double x;
		memcpy(&x, &v, sizeof(x));
		put_double(o, x, false);
		break;
	}
	case T_FLOAT: {
		uint32_t u = (uint32_t)v;
		float x;
		memcpy(&x, &u, sizeof(x));
		put_double(o, x, true);
		break;
	}
	case T_INT64:
	case T_SFIXED64: sonde_buf_printf(o, "%lld", (long long)(int64_t)v); break;
	case T_INT32:
	case T_SFIXED32: sonde_buf_printf(o, "%d", (int)(int32_t)v); break;
	case T_UINT32:
	case T_FIXED32: sonde_buf_printf(o, "%u", (unsigned)(uint32_t)v); break;
	case T_SINT32:
		sonde_buf_printf(o, "%d", (int)(int32_t)((uint32_t)(v >> 1) ^ -(uint32_t)(v & 1)));
		break;
	case T_SINT64:
		sonde_buf_printf(o, "%lld", (long long)(int64_t)((v >> 1) ^ -(v & 1)));
		break;
	case T_BOOL: sonde_buf_puts(o, v ? "true" : "false"); break;
	case T_ENUM:
		if (fd->en)
			for (size_t i = 0; i < fd->en->nv; i++)
				if (fd->en->v[i].number == (int32_t)v) {
					sonde_json_cstr(o, fd->en->v[i].name);
					return;
				}
		sonde_buf_printf(o, "%d", (int)(int32_t)v);
		break;
	default: /* uint64, fixed64 */ sonde_buf_u64(o, v); break;
	}
}

/* Packed scalars: each value written, comma-separated. */
static int put_packed(struct sonde_buf *o, const struct pd_field *fd, const uint8_t *p, size_t n,
		      bool *first)
{
	int wt = wire_of(fd->type);
	size_t i = 0;
	while (i < n) {
		uint64_t v = 0;
		if (wt == 0) {
			if (!sonde_pb_varint(p, n, &i, &v))
				return SONDE_PB_MALFORMED;
		} else {
			size_t w = wt == 1 ? 8 : 4;
			if (n - i < w)
				return SONDE_PB_MALFORMED;
			for (size_t k = w; k-- > 0;)
				v = v << 8 | p[i + k];
			i += w;
		}
		if (!*first)
			sonde_buf_putc(o, ',');
		*first = false;
		put_scalar(o, fd, v);
	}
	return SONDE_PB_OK;
}

static int tdecode(const struct sonde_pd_msg *m, const uint8_t *p, size_t n, struct sonde_buf *out,
		   const struct pd_ctx *c, unsigned depth);

/* A value without (usable) schema, as protobuf.h writes it. */
static void put_raw(struct sonde_buf *o, const struct sonde_pb_wfield *w, const struct pd_ctx *c,
		    unsigned depth)
{
	if (w->wt != 2) {
		sonde_buf_u64(o, w->v);
		return;
	}
	if (w->len && depth + 1 < c->max_depth) {
		struct sonde_pb_limits lim = { .max_depth = c->max_depth - depth - 1,
					       .max_out = c->out_end > o->len ? c->out_end - o->len
									      : 1,
					       .max_fields = c->max_fields };
		if (sonde_pb_decode(w->bytes, w->len, o, &lim) == SONDE_PB_OK)
			return;
	}
	if (sonde_json_str_utf8(o, w->bytes, w->len) == 0)
		return;
	sonde_buf_puts(o, "{\"base64\":\"");
	sonde_base64(o, w->bytes, w->len);
	sonde_buf_puts(o, "\"}");
}

/* One (unpacked) value of a field whose wire type matches its declaration. */
static void put_value(struct sonde_buf *o, const struct pd_field *fd,
		      const struct sonde_pb_wfield *w, const struct pd_ctx *c, unsigned depth)
{
	if (fd->type == T_STRING) {
		sonde_json_str(o, w->bytes, w->len); /* bad UTF-8 bytes become U+FFFD */
	} else if (fd->type == T_BYTES) {
		sonde_buf_putc(o, '"');
		sonde_base64(o, w->bytes, w->len);
		sonde_buf_putc(o, '"');
	} else if (fd->type == T_MESSAGE) {
		if (!fd->msg || depth + 1 >= c->max_depth ||
		    tdecode(fd->msg, w->bytes, w->len, o, c, depth + 1) != SONDE_PB_OK)
			put_raw(o, w, c, depth);
	} else {
		put_scalar(o, fd, w->v);
	}
}

/* A map<K, V> field's entries as one object: keys as strings. */
static bool put_map(struct sonde_buf *o, const struct pd_field *fd, struct occ *occ, size_t nocc,
		    uint32_t num, const struct pd_ctx *c, unsigned depth)
{
	const struct sonde_pd_msg *e = fd->msg;
	const struct pd_field *kf = NULL, *vf = NULL;
	for (size_t i = 0; i < e->nf; i++) {
		if (e->f[i].number == 1)
			kf = &e->f[i];
		else if (e->f[i].number == 2)
			vf = &e->f[i];
	}
	if (!kf || !vf || wire_of(kf->type) < 0 || wire_of(vf->type) < 0 ||
	    (wire_of(kf->type) == 2 && kf->type != T_STRING))
		return false; /* keys are integers, bools or strings */
	size_t mark = o->len;
	sonde_buf_putc(o, '{');
	bool first = true;
	for (size_t a = 0; a < nocc; a++) {
		if (occ[a].w.num != num)
			continue;
		struct sonde_pb_reader r = { occ[a].w.bytes, occ[a].w.len, 0 };
		struct sonde_pb_wfield g, key = { 0 }, val = { 0 };
		bool has_key = false, has_val = false;
		int rc;
		while ((rc = sonde_pb_next(&r, &g)) > 0) {
			if (g.num == 1 && g.wt == wire_of(kf->type)) {
				key = g;
				has_key = true;
			} else if (g.num == 2 && g.wt == wire_of(vf->type)) {
				val = g;
				has_val = true;
			}
		}
		if (rc < 0) {
			o->len = mark;
			return false;
		}
		if (!first)
			sonde_buf_putc(o, ',');
		first = false;
		/* the key as a JSON string */
		if (kf->type == T_STRING) {
			sonde_json_str(o, key.bytes ? key.bytes : (const uint8_t *)"",
				       has_key ? key.len : 0);
		} else {
			struct sonde_buf k = { 0 };
			put_scalar(&k, kf, has_key ? key.v : 0);
			if (k.len && k.p[0] == '"')
				sonde_buf_append(o, k.p, k.len);
			else
				sonde_json_str(o, k.p ? k.p : (const uint8_t *)"", k.len);
			sonde_buf_free(&k);
		}
		sonde_buf_putc(o, ':');
		if (has_val)
			put_value(o, vf, &val, c, depth);
		else if (vf->type == T_STRING || vf->type == T_BYTES)
			sonde_buf_puts(o, "\"\"");
		else if (vf->type == T_MESSAGE)
			sonde_buf_puts(o, "{}");
		else
			put_scalar(o, vf, 0);
	}
	sonde_buf_putc(o, '}');
	return true;
}

/* A message's field occurrences, in a local array until they outgrow it. */
struct occs {
	struct occ *f;
	size_t n, cap;
	struct occ local[64];
};

/* The first pass: p[0..n) split into occurrences, at most c->max_fields. */
static int occs_split(struct occs *o, const uint8_t *p, size_t n, const struct pd_ctx *c)
{
	struct sonde_pb_reader r = { p, n, 0 };
	struct sonde_pb_wfield w;
	int rc;
	while ((rc = sonde_pb_next(&r, &w)) > 0) {
		if (o->n == c->max_fields)
			return SONDE_PB_TOO_LARGE;
		if (o->n == o->cap) {
			struct occ *g = sonde_xmalloc(o->cap * 2 * sizeof(*g));
			memcpy(g, o->f, o->n * sizeof(*g));
			if (o->f != o->local)
				free(o->f);
			o->f = g;
			o->cap *= 2;
		}
		o->f[o->n].w = w;
		o->f[o->n++].written = false;
	}
	return rc < 0 ? SONDE_PB_MALFORMED : SONDE_PB_OK;
}

static const struct pd_field *field_of(const struct sonde_pd_msg *m, uint32_t num)
{
	for (size_t k = 0; k < m->nf; k++)
		if (m->f[k].number == num)
			return &m->f[k];
	return NULL;
}

/* The occurrences of f[a]'s number from a on, marked written: how many
 * (*cnt), the last (*last), and the wire type they all have as fd declares
 * it (or packed), -1 if not (or fd is NULL). */
static int occs_of(struct occ *f, size_t nf, size_t a, const struct pd_field *fd, size_t *cnt,
		   size_t *last)
{
	uint32_t num = f[a].w.num;
	int want = fd ? wire_of(fd->type) : -1;
	bool repeated = fd && fd->label == LABEL_REPEATED;
	*cnt = 0, *last = a;
	for (size_t b = a; b < nf; b++) {
		if (f[b].w.num != num)
			continue;
		(*cnt)++;
		*last = b;
		f[b].written = true;
		if (want >= 0 && f[b].w.wt != want && !(repeated && want != 2 && f[b].w.wt == 2))
			want = -1;
	}
	return want;
}

/* A number the schema does not know (or not with these wire types): by
 * number, as without a schema. */
static void put_by_number(struct sonde_buf *out, const struct occ *f, size_t nf, size_t a,
			  size_t cnt, const struct pd_ctx *c, unsigned depth)
{
	uint32_t num = f[a].w.num;
	sonde_buf_printf(out, "\"%u\":", num);
	if (cnt > 1)
		sonde_buf_putc(out, '[');
	bool firstv = true;
	for (size_t b = a; b < nf; b++) {
		if (f[b].w.num != num)
			continue;
		if (!firstv)
			sonde_buf_putc(out, ',');
		firstv = false;
		put_raw(out, &f[b].w, c, depth);
	}
	if (cnt > 1)
		sonde_buf_putc(out, ']');
}

/* A repeated field's values as a list, packed ones unpacked. -1 if a
 * packed run is malformed. */
static int put_repeated(struct sonde_buf *out, const struct pd_field *fd, int want,
			const struct occ *f, size_t nf, size_t a, const struct pd_ctx *c,
			unsigned depth)
{
	uint32_t num = f[a].w.num;
	sonde_buf_putc(out, '[');
	bool firstv = true;
	for (size_t b = a; b < nf; b++) {
		if (f[b].w.num != num)
			continue;
		if (want != 2 && f[b].w.wt == 2) {
			if (put_packed(out, fd, f[b].w.bytes, f[b].w.len, &firstv))
				return -1;
			continue;
		}
		if (!firstv)
			sonde_buf_putc(out, ',');
		firstv = false;
		put_value(out, fd, &f[b].w, c, depth);
	}
	sonde_buf_putc(out, ']');
	return 0;
}

/* The member for f[a]'s number, by its schema name where the schema knows
 * it. SONDE_PB_OK, or SONDE_PB_MALFORMED from a packed run. */
static int put_member(struct sonde_buf *out, const struct sonde_pd_msg *m, struct occs *o, size_t a,
		      const struct pd_ctx *c, unsigned depth)
{
	struct occ *f = o->f;
	uint32_t num = f[a].w.num;
	const struct pd_field *fd = field_of(m, num);
	bool repeated = fd && fd->label == LABEL_REPEATED;
	size_t cnt, last;
	int want = occs_of(f, o->n, a, fd, &cnt, &last);
	if (want < 0) {
		put_by_number(out, f, o->n, a, cnt, c, depth);
		return SONDE_PB_OK;
	}
	sonde_json_cstr(out, fd->name);
	sonde_buf_putc(out, ':');
	if (repeated && fd->msg && fd->msg->map_entry &&
	    put_map(out, fd, f + a, o->n - a, num, c, depth))
		return SONDE_PB_OK;
	if (repeated)
		return put_repeated(out, fd, want, f, o->n, a, c, depth) < 0 ? SONDE_PB_MALFORMED
									     : SONDE_PB_OK;
	put_value(out, fd, &f[last].w, c, depth); /* the last one counts */
	return SONDE_PB_OK;
}

static int tdecode(const struct sonde_pd_msg *m, const uint8_t *p, size_t n, struct sonde_buf *out,
		   const struct pd_ctx *c, unsigned depth)
{
	struct occs o;
	o.f = o.local;
	o.n = 0;
	o.cap = sizeof(o.local) / sizeof(o.local[0]);
	int rv = occs_split(&o, p, n, c);
	size_t mark = out->len;
	if (rv == SONDE_PB_OK)
		sonde_buf_putc(out, '{');
	bool first = true;
	for (size_t a = 0; a < o.n && rv == SONDE_PB_OK; a++) {
		if (o.f[a].written)
			continue;
		if (!first)
			sonde_buf_putc(out, ',');
		first = false;
		rv = put_member(out, m, &o, a, c, depth);
		if (rv == SONDE_PB_OK && out->len > c->out_end)
			rv = SONDE_PB_TOO_LARGE;
	}
	if (rv == SONDE_PB_OK) {
		sonde_buf_putc(out, '}');
		if (out->len > c->out_end)
			rv = SONDE_PB_TOO_LARGE;
	}
	if (rv != SONDE_PB_OK)
		out->len = mark;
	if (o.f != o.local)
		free(o.f);
	return rv;
}

int sonde_pd_decode(const struct sonde_pd_msg *m, const uint8_t *p, size_t n, struct sonde_buf *out,
		    const struct sonde_pb_limits *lim)
{
	struct pd_ctx c;
	c.max_depth = lim && lim->max_depth ? lim->max_depth : DEF_DEPTH;
	c.max_fields = lim && lim->max_fields ? lim->max_fields : DEF_FIELDS;
	size_t max_out = lim && lim->max_out ? lim->max_out : DEF_OUT;
	c.out_end = out->len + max_out;
	static const uint8_t none[1];
	size_t mark = out->len;
	int rv = tdecode(m, p ? p : none, p ? n : 0, out, &c, 0);
	if (rv)
		out->len = mark;
	return rv;
}
