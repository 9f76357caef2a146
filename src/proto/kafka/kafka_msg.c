/* SPDX-License-Identifier: MIT */
/* The Kafka message (kafka_msg.h): building it, and its fields walk. */
#include "proto/kafka/kafka_msg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sonde_msg_ops kafka_ops;

struct sonde_kafka_msg *sonde_kafka_msg_new(uint8_t kind)
{
	struct sonde_kafka_msg *m = sonde_xcalloc(1, sizeof(*m));
	m->base.ops = &kafka_ops;
	m->base.kind = kind;
	m->api_key = -1;
	m->response_expected = true;
	sonde_buf_init(&m->text, KAFKA_TEXT_MAX);
	return m;
}

struct kafka_span sonde_kafka_keep(struct sonde_kafka_msg *m, const uint8_t *p, size_t n)
{
	struct kafka_span s = { .off = (uint32_t)m->text.len };
	size_t k = n < KAFKA_STR_MAX ? n : KAFKA_STR_MAX;
	if (sonde_buf_append(&m->text, p, k) < 0)
		k = 0; /* the message's text is full: kept empty, flagged cut */
	s.len = (uint32_t)k;
	s.cut = k < n;
	if (s.cut)
		m->base.flags |= SONDE_MF_TRUNCATED;
	return s;
}

const uint8_t *sonde_kafka_span(const struct sonde_kafka_msg *m, struct kafka_span s)
{
	return m->text.p ? m->text.p + s.off : (const uint8_t *)"";
}

void sonde_kafka_add_error(struct sonde_kafka_msg *m, int16_t code)
{
	if (!code)
		return;
	for (uint32_t i = 0; i < m->nerr; i++)
		if (m->err[i].code == code) {
			m->err[i].count++;
			return;
		}
	if (m->nerr < KAFKA_ERRORS_MAX)
		m->err[m->nerr++] = (struct kafka_error){ code, 1 };
	else
		m->errors_dropped++;
}

static void kafka_free(struct sonde_msg *bm)
{
	struct sonde_kafka_msg *m = (struct sonde_kafka_msg *)bm;
	sonde_buf_free(&m->text);
	free(m);
}

/* -------------------------------------------------------------- fields --- */

static const char *const body_states[] = {
	[KAFKA_BODY_PARSED] = "parsed",
	[KAFKA_BODY_UNKNOWN_API] = "unknown_api",
	[KAFKA_BODY_UNKNOWN_VERSION] = "unknown_version",
	[KAFKA_BODY_NO_REQUEST] = "no_request",
	[KAFKA_BODY_MALFORMED] = "malformed",
	[KAFKA_BODY_CUT] = "cut",
	[KAFKA_BODY_TRAILING] = "trailing_bytes",
	[KAFKA_BODY_SASL_TOKEN] = "sasl_token",
};

static void span_field(const struct sonde_kafka_msg *m, const struct sonde_field_ops *v, void *ctx,
		       const char *name, struct kafka_span s)
{
	if (s.null)
		v->null(ctx, name);
	else
		v->str(ctx, name, sonde_kafka_span(m, s), s.len);
}

static void uuid_field(const struct sonde_field_ops *v, void *ctx, const char *name,
		       const uint8_t *id)
{
	char t[37];
	size_t k = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			t[k++] = '-';
		k += (size_t)snprintf(t + k, sizeof(t) - k, "%02x", id[i]);
	}
	v->str(ctx, name, (const uint8_t *)t, k);
}

static void scalar_field(const struct sonde_kafka_msg *m, const struct kafka_scalar *s,
			 const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_kafka_field *f = s->f;
	if (f->credential) { /* a secret (SASL bytes): the masking stage masks it */
		if (s->null)
			v->null(ctx, f->name);
		else if (s->s.cut) /* only a prefix kept: no honest mask of it */
			sonde_field_cstr(v, ctx, f->name, "****");
		else
			sonde_field_secret(v, ctx, f->name, sonde_kafka_span(m, s->s), s->s.len);
		return;
	}
	switch (f->type) {
	case KAFKA_T_BOOL: v->boolean(ctx, f->name, s->v.i != 0); break;
	case KAFKA_T_UINT16:
	case KAFKA_T_UINT32: v->u64(ctx, f->name, s->v.u); break;
	case KAFKA_T_UUID: uuid_field(v, ctx, f->name, s->v.uuid); break;
	case KAFKA_T_STRING:
		span_field(m, v, ctx, f->name,
			   s->null ? (struct kafka_span){ .null = true } : s->s);
		break;
	case KAFKA_T_BYTES:
	case KAFKA_T_RECORDS:
		if (s->null)
			v->null(ctx, f->size_name);
		else
			v->u64(ctx, f->size_name, (uint64_t)s->v.i);
		break;
	case KAFKA_T_FLOAT64: {
		char t[32];
		int k = snprintf(t, sizeof(t), "%.17g", s->v.d);
		v->str(ctx, f->name, (const uint8_t *)t, (size_t)k);
		break;
	}
	default: v->i64(ctx, f->name, s->v.i); break;
	}
}

static void topics_field(const struct sonde_kafka_msg *m, const struct sonde_field_ops *v,
			 void *ctx)
{
	v->begin(ctx, "topics", SONDE_FG_LIST);
	for (uint32_t i = 0; i < m->ntopics; i++) {
		const struct kafka_topic *t = &m->topic[i];
		v->begin(ctx, NULL, SONDE_FG_OBJECT);
		if (t->name.len || !t->has_id)
			span_field(m, v, ctx, "name", t->name);
		else
			v->null(ctx, "name");
		if (t->has_id)
			uuid_field(v, ctx, "topic_id", t->id);
		if (t->named_by_id)
			v->boolean(ctx, "named_by_metadata", true);
		v->u64(ctx, "partitions", t->partitions);
		if (t->errors)
			v->u64(ctx, "errors", t->errors);
		if (t->record_bytes) {
			v->u64(ctx, "records", t->records);
			v->u64(ctx, "batches", t->batches);
			v->u64(ctx, "record_bytes", t->record_bytes);
		}
		v->end(ctx, SONDE_FG_OBJECT);
	}
	v->end(ctx, SONDE_FG_LIST);
	if (m->topics_dropped)
		v->u64(ctx, "topics_dropped", m->topics_dropped);
}

static void errors_field(const struct sonde_kafka_msg *m, const struct sonde_field_ops *v,
			 void *ctx)
{
	const char *first = m->nerr ? sonde_kafka_error_name(m->err[0].code) : NULL;
	if (m->nerr)
		sonde_field_cstr(v, ctx, "error", first ? first : "UNKNOWN");
	v->begin(ctx, "errors", SONDE_FG_LIST);
	for (uint32_t i = 0; i < m->nerr; i++) {
		const char *name = sonde_kafka_error_name(m->err[i].code);
		v->begin(ctx, NULL, SONDE_FG_OBJECT);
		v->i64(ctx, "code", m->err[i].code);
		if (name)
			sonde_field_cstr(v, ctx, "name", name);
		else
			v->null(ctx, "name");
		v->u64(ctx, "count", m->err[i].count);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	v->end(ctx, SONDE_FG_LIST);
	if (m->errors_dropped)
		v->u64(ctx, "errors_dropped", m->errors_dropped);
}

static void header_fields(const struct sonde_kafka_msg *m, const struct sonde_field_ops *v,
			  void *ctx)
{
	if (m->api)
		sonde_field_cstr(v, ctx, "api", m->api->name);
	else
		v->null(ctx, "api");
	v->i64(ctx, "api_key", m->api_key);
	v->i64(ctx, "api_version", m->api_version);
	v->i64(ctx, "correlation_id", m->correlation_id);
	v->u64(ctx, "header_version", m->header_version);
	v->boolean(ctx, "flexible", m->flexible);
	if (m->base.kind == SONDE_MSG_REQUEST && m->header_version >= 1)
		span_field(m, v, ctx, "client_id", m->client_id);
	v->u64(ctx, "size", m->size);
}

static void kafka_fields(const struct sonde_msg *bm, const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_kafka_msg *m = (const struct sonde_kafka_msg *)bm;
	if (m->body == KAFKA_BODY_SASL_TOKEN) { /* no header: a secret behind a length */
		sonde_field_cstr(v, ctx, "body", body_states[m->body]);
		v->u64(ctx, "size", m->size);
		if (m->sasl.cut)
			sonde_field_cstr(v, ctx, "sasl_token", "****");
		else
			sonde_field_secret(v, ctx, "sasl_token", sonde_kafka_span(m, m->sasl),
					   m->sasl.len);
		return;
	}
	header_fields(m, v, ctx);
	sonde_field_cstr(v, ctx, "body", body_states[m->body]);
	if (m->retried_v0)
		v->boolean(ctx, "body_v0", true);
	if (!m->response_expected && m->base.kind == SONDE_MSG_REQUEST)
		v->boolean(ctx, "response_expected", false);
	else if (!m->response_expected)
		v->boolean(ctx, "acks0_answer", true);
	if (m->unanswered)
		sonde_field_cstr(v, ctx, "unanswered_reason", m->unanswered);
	if (m->body == KAFKA_BODY_UNKNOWN_API || m->body == KAFKA_BODY_UNKNOWN_VERSION ||
	    m->body == KAFKA_BODY_NO_REQUEST)
		return;
	topics_field(m, v, ctx);
	if (m->record_bytes) {
		v->u64(ctx, "records", m->records);
		v->u64(ctx, "record_bytes", m->record_bytes);
	}
	if (m->base.kind == SONDE_MSG_RESPONSE)
		errors_field(m, v, ctx);
	if (m->tagged_fields)
		v->u64(ctx, "tagged_fields", m->tagged_fields);
	if (m->unknown_tags)
		v->u64(ctx, "unknown_tags", m->unknown_tags);
	v->begin(ctx, "fields", SONDE_FG_OBJECT);
	for (uint32_t i = 0; i < m->nscalars; i++)
		scalar_field(m, &m->scalar[i], v, ctx);
	v->end(ctx, SONDE_FG_OBJECT);
	if (m->scalars_dropped)
		v->u64(ctx, "fields_dropped", m->scalars_dropped);
}

/* Requests: "Produce v9 #47 orders +2 records=10"; responses: "ok" or the
 * first error's name, and the records they carry. */
static void kafka_summary(const struct sonde_msg *bm, struct sonde_buf *out)
{
	const struct sonde_kafka_msg *m = (const struct sonde_kafka_msg *)bm;
	if (m->body == KAFKA_BODY_SASL_TOKEN) {
		sonde_buf_printf(out, "SASL token (%" PRIu64 " bytes)", m->size);
		return;
	}
	if (m->base.kind == SONDE_MSG_RESPONSE) {
		const char *e = m->nerr ? sonde_kafka_error_name(m->err[0].code) : NULL;
		sonde_buf_puts(out, m->nerr ? (e ? e : "error") : "ok");
		if (m->body == KAFKA_BODY_NO_REQUEST)
			sonde_buf_printf(out, " #%" PRId32 " (request not seen)",
					 m->correlation_id);
		if (m->record_bytes)
			sonde_buf_printf(out, " records=%" PRIu64, m->records);
		return;
	}
	if (m->api)
		sonde_buf_puts(out, m->api->name);
	else
		sonde_buf_printf(out, "api%d", m->api_key);
	sonde_buf_printf(out, " v%d #%" PRId32, m->api_version, m->correlation_id);
	if (m->ntopics && m->topic[0].name.len)
		sonde_buf_printf(out, " %.*s",
				 (int)(m->topic[0].name.len < 40 ? m->topic[0].name.len : 40),
				 (const char *)sonde_kafka_span(m, m->topic[0].name));
	if (m->ntopics > 1)
		sonde_buf_printf(out, " +%u", m->ntopics - 1);
	if (m->record_bytes)
		sonde_buf_printf(out, " records=%" PRIu64, m->records);
}

/* The broker could not serve (itself, or not now): unknown server error,
 * leader or coordinator unavailable or moved, timeouts, too few replicas,
 * storage; every other error says the request was wrong or not allowed. */
static bool broker_side(int16_t code)
{
	static const int16_t codes[] = { -1, 5, 6, 7, 8, 9, 13, 14, 15, 16, 19, 20, 41, 56 };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i] == code)
			return true;
	return false;
}

static enum sonde_outcome kafka_outcome(const struct sonde_msg *bm)
{
	const struct sonde_kafka_msg *m = (const struct sonde_kafka_msg *)bm;
	if (m->base.kind != SONDE_MSG_RESPONSE || m->body == KAFKA_BODY_SASL_TOKEN)
		return SONDE_OUTCOME_UNKNOWN;
	if (!m->nerr)
		return m->body == KAFKA_BODY_PARSED ? SONDE_OUTCOME_OK : SONDE_OUTCOME_UNKNOWN;
	for (uint32_t i = 0; i < m->nerr; i++)
		if (broker_side(m->err[i].code))
			return SONDE_OUTCOME_SERVER_ERROR;
	return SONDE_OUTCOME_CLIENT_ERROR;
}

static const struct sonde_msg_ops kafka_ops = {
	.protocol = "kafka",
	.fields = kafka_fields,
	.summary = kafka_summary,
	.outcome = kafka_outcome,
	.free = kafka_free,
};
