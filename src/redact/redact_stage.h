/* SPDX-License-Identifier: MIT */
/*
 * The redaction stage (phase SONDE_STAGE_REDACT): every record that reaches
 * a sink has gone through it. It replaces the record's messages with views
 * whose field walk passes through a masking visitor — header values by
 * rule, request targets and URL headers, bodies, gRPC messages decoded as
 * JSON, and every value a dissector wrote with sonde_field_secret() — and
 * whose one-line summary has the same secrets masked; and it gives the
 * record a lens (core/record.h) through which sinks walk the connection's
 * fields, so process command lines are masked too. Sinks need not know.
 *
 * With redaction off (--no-redact) the unredacted stage takes its place: it
 * only flags each record "unredacted", so no record is unmasked silently.
 */
#ifndef SONDE_REDACT_STAGE_H
#define SONDE_REDACT_STAGE_H

#include "core/stage.h"
#include "redact/redact.h"

/* A stage context over the rules, which must outlive it (the command line
 * owns them: the recording's masker uses them too); counts into st. */
void *sonde_redact_stage_new(const struct sonde_redactor *r, struct sonde_stats *st);
extern const struct sonde_stage_ops sonde_redact_stage;

/* --no-redact: context is the stats, nothing to free. */
extern const struct sonde_stage_ops sonde_unredacted_stage;

/* The masking visitor alone, for tests and fuzzers: walk m's fields through
 * the rules into the visitor v. */
void sonde_redact_msg_fields(const struct sonde_redactor *r, const struct sonde_msg *m,
			     const struct sonde_field_ops *v, void *ctx, struct sonde_stats *st);

#endif
