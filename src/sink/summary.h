/* SPDX-License-Identifier: MIT */
/*
 * --summary: what tshark -z http,tree gives, for every protocol — at the end
 * of a run, exchanges per protocol and server (its DNS name when one was
 * seen), by outcome (ok, redirect, client and server errors: HTTP's status
 * classes, DNS rcodes, Redis errors), unanswered ones, and latency
 * percentiles (p50, p90, p99 within 6.25%; max exact). The sink adds every record
 * it writes and renders the summary before its stats: a table in text, a
 * {"type":"summary"} record in JSON.
 */
#ifndef SONDE_SUMMARY_H
#define SONDE_SUMMARY_H

#include "core/buf.h"
#include "core/record.h"

struct sonde_summary;

struct sonde_summary *sonde_summary_new(void);
void sonde_summary_add(struct sonde_summary *s, const struct sonde_record *r);
void sonde_summary_text(struct sonde_summary *s, struct sonde_buf *out);
void sonde_summary_json(struct sonde_summary *s, struct sonde_buf *out);
void sonde_summary_free(struct sonde_summary *s);

#endif
