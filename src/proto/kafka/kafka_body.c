/* SPDX-License-Identifier: MIT */
/* The body walker (kafka_body.h): the schema tables interpreted. */
#include "proto/kafka/kafka_body.h"

#include <string.h>

#include "proto/kafka/kafka_wire.h"

#define WALK_STEPS (1u << 20) /* fields read per body, at most */

struct walk {
	struct kafka_cur c;
	struct sonde_kafka_msg *m;
	struct sonde_kafka_topic_ids *ids;
	unsigned version;
	bool flexible;
	bool learn; /* a Metadata response: topic ids are learnt */
	bool bad; /* the bytes stopped following the schema */
	uint32_t steps;
};

static bool walk_fields(struct walk *w, uint16_t first, uint16_t n, int depth,
			struct kafka_topic *topic);

static bool present(const struct walk *w, const struct sonde_kafka_field *f)
{
	return sonde_kafka_in(f->versions, w->version);
}

static bool is_tagged(const struct walk *w, const struct sonde_kafka_field *f)
{
	return f->tag >= 0 && sonde_kafka_in(f->tagged, w->version);
}

static bool compact(const struct walk *w, const struct sonde_kafka_field *f)
{
	return w->flexible && !f->noflex;
}

static bool fail(struct walk *w)
{
	w->bad = true;
	return false;
}

/*
 * A length or count: compact (unsigned varint of N+1, 0 for null) or classic
 * (`wide` bytes signed, -1 for null). *len is -1 for null.
 */
static bool read_len(struct walk *w, const struct sonde_kafka_field *f, size_t wide, int64_t *len)
{
	if (compact(w, f)) {
		uint32_t v;
		if (!kafka_uvarint(&w->c, &v))
			return fail(w);
		*len = (int64_t)v - 1;
	} else {
		uint64_t u;
		if (!kafka_uint(&w->c, wide, &u))
			return fail(w);
		*len = wide == 2 ? (int16_t)(uint16_t)u : (int32_t)(uint32_t)u;
	}
	if (*len < -1 || (*len == -1 && !sonde_kafka_in(f->nullable, w->version) && !f->array))
		return fail(w);
	return true;
}

/* ------------------------------------------------------------- topics --- */

static bool names_topic(const struct walk *w, const struct sonde_kafka_field *f)
{
	const struct sonde_kafka_field *c = &sonde_kafka_fields[f->child];
	for (uint16_t i = 0; i < f->nchild; i++)
		if (present(w, &c[i]) &&
		    ((c[i].entity == KAFKA_E_TOPIC && c[i].type == KAFKA_T_STRING) ||
		     c[i].role == KAFKA_R_TOPIC_ID))
			return true;
	return false;
}

static struct kafka_topic *new_topic(struct sonde_kafka_msg *m)
{
	if (m->ntopics >= KAFKA_TOPICS_MAX) {
		m->topics_dropped++;
		return NULL;
	}
	struct kafka_topic *t = &m->topic[m->ntopics++];
	memset(t, 0, sizeof(*t));
	return t;
}

static void topic_id(struct walk *w, struct kafka_topic *t, const uint8_t *id)
{
	memcpy(t->id, id, 16);
	t->has_id = true;
	size_t len;
	const char *name = sonde_kafka_topic_name(w->ids, id, &len);
	if (name && !t->name.len) {
		t->name = sonde_kafka_keep(w->m, (const uint8_t *)name, len);
		t->named_by_id = true;
	}
}

/* ------------------------------------------------------------- values --- */

static struct kafka_scalar *scalar_slot(struct walk *w, const struct sonde_kafka_field *f,
					int depth)
{
	if (depth)
		return NULL;
	if (w->m->nscalars >= KAFKA_SCALARS_MAX) {
		w->m->scalars_dropped++;
		return NULL;
	}
	struct kafka_scalar *s = &w->m->scalar[w->m->nscalars++];
	memset(s, 0, sizeof(*s));
	s->f = f;
	return s;
}

static size_t fixed_size(uint8_t type)
{
	switch (type) {
	case KAFKA_T_BOOL:
	case KAFKA_T_INT8: return 1;
	case KAFKA_T_INT16:
	case KAFKA_T_UINT16: return 2;
	case KAFKA_T_INT32:
	case KAFKA_T_UINT32: return 4;
	case KAFKA_T_INT64:
	case KAFKA_T_FLOAT64: return 8;
	case KAFKA_T_UUID: return 16;
	default: return 0;
	}
}

static int64_t as_signed(uint8_t type, uint64_t u)
{
	switch (type) {
	case KAFKA_T_INT8: return (int8_t)(uint8_t)u;
	case KAFKA_T_INT16: return (int16_t)(uint16_t)u;
	case KAFKA_T_INT32: return (int32_t)(uint32_t)u;
	default: return (int64_t)u;
	}
}

static bool read_fixed(struct walk *w, const struct sonde_kafka_field *f, int depth,
		       struct kafka_topic *topic)
{
	size_t k = fixed_size(f->type);
	const uint8_t *at = w->c.p + w->c.off;
	uint64_t u = 0;
	if (f->type == KAFKA_T_UUID ? !kafka_skip(&w->c, 16) : !kafka_uint(&w->c, k, &u))
		return fail(w);
	if (f->role == KAFKA_R_ERROR_CODE && u) {
		sonde_kafka_add_error(w->m, (int16_t)(uint16_t)u);
		if (topic)
			topic->errors++;
	}
	if (f->role == KAFKA_R_TOPIC_ID && topic)
		topic_id(w, topic, at);
	struct kafka_scalar *s = scalar_slot(w, f, depth);
	if (!s)
		return true;
	if (f->type == KAFKA_T_UUID)
		memcpy(s->v.uuid, at, 16);
	else if (f->type == KAFKA_T_FLOAT64)
		memcpy(&s->v.d, &u, sizeof(s->v.d));
	else if (f->type == KAFKA_T_UINT16 || f->type == KAFKA_T_UINT32)
		s->v.u = u;
	else
		s->v.i = as_signed(f->type, u);
	return true;
}

static bool read_string(struct walk *w, const struct sonde_kafka_field *f, int depth,
			struct kafka_topic **topic)
{
	int64_t len;
	if (!read_len(w, f, 2, &len))
		return false;
	const uint8_t *at = w->c.p + w->c.off;
	if (len > 0 && !kafka_skip(&w->c, (size_t)len))
		return fail(w);
	if (f->entity == KAFKA_E_TOPIC && len >= 0) {
		if (!*topic) /* a list of names ([]string), or a name at the top */
			*topic = new_topic(w->m);
		if (*topic && !(*topic)->name.len)
			(*topic)->name = sonde_kafka_keep(w->m, at, (size_t)len);
	}
	struct kafka_scalar *s = scalar_slot(w, f, depth);
	if (s) {
		s->null = len < 0;
		if (len >= 0)
			s->s = sonde_kafka_keep(w->m, at, (size_t)len);
	}
	return true;
}

/* bytes and records: their size; a record set's records counted. */
static bool read_blob(struct walk *w, const struct sonde_kafka_field *f, int depth,
		      struct kafka_topic *topic)
{
	int64_t len;
	if (!read_len(w, f, 4, &len))
		return false;
	const uint8_t *at = w->c.p + w->c.off;
	if (len > 0 && !kafka_skip(&w->c, (size_t)len))
		return fail(w);
	if (f->type == KAFKA_T_RECORDS && len > 0) {
		uint64_t recs = 0, batches = 0;
		sonde_kafka_count_records(at, (size_t)len, &recs, &batches);
		w->m->records += recs;
		w->m->record_bytes += (uint64_t)len;
		if (topic) {
			topic->records += recs;
			topic->batches += batches;
			topic->record_bytes += (uint64_t)len;
		}
	}
	struct kafka_scalar *s = scalar_slot(w, f, depth);
	if (s) {
		s->null = len < 0;
		s->v.i = len < 0 ? 0 : len;
		if (f->credential && len >= 0) /* for the masking stage's mask */
			s->s = sonde_kafka_keep(w->m, at, (size_t)len);
	}
	return true;
}

static bool read_value(struct walk *w, const struct sonde_kafka_field *f, int depth,
		       struct kafka_topic **topic)
{
	if (++w->steps > WALK_STEPS)
		return fail(w);
	switch (f->type) {
	case KAFKA_T_STRING: return read_string(w, f, depth, topic);
	case KAFKA_T_BYTES:
	case KAFKA_T_RECORDS: return read_blob(w, f, depth, *topic);
	case KAFKA_T_STRUCT: return walk_fields(w, f->child, f->nchild, depth + 1, *topic);
	default: return read_fixed(w, f, depth, *topic);
	}
}

static bool read_array(struct walk *w, const struct sonde_kafka_field *f, int depth,
		       struct kafka_topic *topic)
{
	int64_t n;
	if (!read_len(w, f, 4, &n))
		return false;
	if (n < 0)
		return true; /* null */
	/* every element takes a byte at least: a count beyond the bytes lies */
	if ((uint64_t)n > kafka_left(&w->c))
		return fail(w);
	bool topics = f->type == KAFKA_T_STRUCT && names_topic(w, f);
	if (topic && !topics && f->role == KAFKA_R_PARTITIONS)
		topic->partitions += (uint32_t)n;
	for (int64_t i = 0; i < n; i++) {
		struct kafka_topic *t = topics ? new_topic(w->m) : topic;
		if (f->entity == KAFKA_E_TOPIC && f->type == KAFKA_T_STRING)
			t = NULL; /* each name is a topic of its own */
		if (!read_value(w, f, depth + 1, &t))
			return false;
		if (topics && t && w->learn && t->has_id && t->name.len && w->ids)
			sonde_kafka_topic_learn(w->ids, t->id, sonde_kafka_span(w->m, t->name),
						t->name.len);
	}
	return true;
}

static bool read_field(struct walk *w, const struct sonde_kafka_field *f, int depth,
		       struct kafka_topic *topic)
{
	if (f->array)
		return read_array(w, f, depth, topic);
	if (f->type == KAFKA_T_STRUCT && sonde_kafka_in(f->nullable, w->version)) {
		uint64_t mark;
		if (!kafka_uint(&w->c, 1, &mark))
			return fail(w);
		if (mark & 0x80) /* -1: null */
			return true;
	}
	struct kafka_topic *t = topic;
	return read_value(w, f, depth, &t);
}

/* A struct's tagged-field section: known tags parsed, unknown skipped. */
static bool read_tags(struct walk *w, uint16_t first, uint16_t nf, int depth,
		      struct kafka_topic *topic)
{
	uint32_t count;
	if (!kafka_uvarint(&w->c, &count))
		return fail(w);
	for (uint32_t k = 0; k < count; k++) {
		uint32_t tag, size;
		if (!kafka_uvarint(&w->c, &tag) || !kafka_uvarint(&w->c, &size) ||
		    size > kafka_left(&w->c))
			return fail(w);
		w->m->tagged_fields++;
		size_t end = w->c.off + size, outer = w->c.n;
		const struct sonde_kafka_field *f = NULL;
		for (uint16_t i = 0; i < nf && !f; i++) {
			const struct sonde_kafka_field *c = &sonde_kafka_fields[first + i];
			if (present(w, c) && is_tagged(w, c) && (uint32_t)c->tag == tag)
				f = c;
		}
		if (!f) {
			w->m->unknown_tags++;
		} else {
			w->c.n = end; /* the field may not read beyond its size */
			bool ok = read_field(w, f, depth, topic);
			w->c.n = outer;
			if (!ok)
				return false;
		}
		w->c.off = end;
	}
	return true;
}

static bool walk_fields(struct walk *w, uint16_t first, uint16_t n, int depth,
			struct kafka_topic *topic)
{
	for (uint16_t i = 0; i < n; i++) {
		const struct sonde_kafka_field *f = &sonde_kafka_fields[first + i];
		if (present(w, f) && !is_tagged(w, f) && !read_field(w, f, depth, topic))
			return false;
	}
	return !w->flexible || read_tags(w, first, n, depth, topic);
}

void sonde_kafka_walk(struct sonde_kafka_msg *m, const uint8_t *p, size_t n, bool whole,
		      struct sonde_kafka_topic_ids *ids)
{
	const struct sonde_kafka_api *a = m->api;
	bool req = m->base.kind == SONDE_MSG_REQUEST;
	struct walk w = {
		.c = { p, n, 0 },
		.m = m,
		.ids = ids,
		.version = (unsigned)m->api_version,
		.flexible = m->flexible,
		.learn = !req && a->key == 3,
	};
	bool ok = walk_fields(&w, req ? a->req_field : a->resp_field,
			      req ? a->req_nfield : a->resp_nfield, 0, NULL);
	if (!ok)
		m->body = whole ? KAFKA_BODY_MALFORMED : KAFKA_BODY_CUT;
	else if (w.c.off < n)
		m->body = KAFKA_BODY_TRAILING;
	else
		m->body = whole ? KAFKA_BODY_PARSED : KAFKA_BODY_CUT;
}

/* ------------------------------------------------------- topic ids --- */

struct sonde_kafka_topic_ids *sonde_kafka_topic_ids_new(uint32_t cap)
{
	struct sonde_kafka_topic_ids *ids =
		sonde_xcalloc(1, sizeof(*ids) + (size_t)cap * sizeof(ids->e[0]));
	ids->cap = cap;
	return ids;
}

const char *sonde_kafka_topic_name(const struct sonde_kafka_topic_ids *ids, const uint8_t id[16],
				   size_t *len)
{
	for (uint32_t i = 0; ids && i < ids->n; i++)
		if (!memcmp(ids->e[i].id, id, 16)) {
			*len = ids->e[i].len;
			return ids->e[i].name;
		}
	return NULL;
}

void sonde_kafka_topic_learn(struct sonde_kafka_topic_ids *ids, const uint8_t id[16],
			     const uint8_t *name, size_t len)
{
	static const uint8_t zero[16];
	size_t have;
	if (!memcmp(id, zero, 16) || sonde_kafka_topic_name(ids, id, &have))
		return;
	uint32_t i = ids->n < ids->cap ? ids->n++ : ids->next++ % ids->cap;
	memcpy(ids->e[i].id, id, 16);
	ids->e[i].len = (uint8_t)(len < KAFKA_NAME_MAX ? len : KAFKA_NAME_MAX);
	memcpy(ids->e[i].name, name, ids->e[i].len);
}

/* ---------------------------------------------------------- records --- */

#define BATCH_MAGIC_AT 16 /* after base offset (8), length (4), epoch or crc (4) */
#define BATCH_COUNT_AT 57 /* v2: the record count, the last field of the header */

void sonde_kafka_count_records(const uint8_t *p, size_t n, uint64_t *records, uint64_t *batches)
{
	size_t off = 0;
	while (n - off > BATCH_MAGIC_AT) {
		const uint8_t *b = p + off;
		int32_t len = (int32_t)(uint32_t)kafka_be(b + 8, 4);
		if (len < BATCH_MAGIC_AT + 1 - 12 || (size_t)len > n - off - 12)
			break; /* too short for a batch, or a partial one (a fetch cut at its limit) */
		uint8_t magic = b[BATCH_MAGIC_AT];
		if (magic == 2 && len + 12 >= BATCH_COUNT_AT + 4) {
			int32_t k = (int32_t)(uint32_t)kafka_be(b + BATCH_COUNT_AT, 4);
			*records += k > 0 ? (uint64_t)k : 0;
		} else if (magic < 2) {
			*records += 1; /* a v0/v1 message (a compressed wrapper counts one) */
		} else {
			break;
		}
		(*batches)++;
		off += 12 + (size_t)len;
	}
}
