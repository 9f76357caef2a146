/* SPDX-License-Identifier: MIT */
/*
 * Messages (one request or one response, as a dissector parsed it) and
 * records (a request paired with its response, or either alone), which is what
 * sinks write. A protocol's message type embeds struct sonde_msg first and
 * supplies its ops, so pairing and sinks need not know the protocol.
 */
#ifndef SONDE_RECORD_H
#define SONDE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/attrs.h"
#include "core/chunk.h"
#include "core/fields.h"

/* Record schema version: bump on any incompatible change of docs/records.md. */
#define SONDE_SCHEMA_VERSION 1

enum sonde_msg_kind {
	SONDE_MSG_REQUEST = 1,
	SONDE_MSG_RESPONSE = 2,
};

/* Completeness of one message; named in records' "flags". */
enum sonde_msg_flags {
	SONDE_MF_GAP = 1u << 0, /* bytes of the message were never seen */
	SONDE_MF_TRUNCATED = 1u << 1, /* body kept only up to the body limit */
	SONDE_MF_INCOMPLETE = 1u << 2, /* the stream ended before the message did */
	SONDE_MF_PARSE_ERROR = 1u << 3, /* malformed; what could be parsed is kept */
	SONDE_MF_HEADERS_TRUNCATED = 1u << 4, /* more headers than kept */
};

struct sonde_msg;
struct sonde_tcp_health;

/* A response's outcome by class (HTTP's status classes, or the like). */
enum sonde_outcome {
	SONDE_OUTCOME_UNKNOWN = 0,
	SONDE_OUTCOME_OK,
	SONDE_OUTCOME_REDIRECT, /* go elsewhere, or nothing new (3xx) */
	SONDE_OUTCOME_CLIENT_ERROR, /* the request was wrong (4xx, NXDOMAIN) */
	SONDE_OUTCOME_SERVER_ERROR, /* the server failed (5xx, SERVFAIL, error replies) */
};

/* A new op taking the message must also be forwarded by the redaction
 * stage's views of messages (redact/redact_stage.c, view_of). */
struct sonde_msg_ops {
	const char *protocol; /* record "protocol" */
	/*
	 * Walk the members of the "request"/"response" object (core/fields.h),
	 * after the ones every message has (ts, wire_bytes, captured_bytes),
	 * which the renderer takes from struct sonde_msg.
	 */
	void (*fields)(const struct sonde_msg *m, const struct sonde_field_ops *v, void *ctx);
	/* A few words for the one-line text output ("GET /x", "200"): kept
	 * as an op because how a protocol shortens its request line for a
	 * terminal is its own business, not a field. */
	void (*summary)(const struct sonde_msg *m, struct sonde_buf *out);
	/* How a response turned out, for the text line's colour; NULL when
	 * the protocol has no such notion. */
	enum sonde_outcome (*outcome)(const struct sonde_msg *m);
	void (*free)(struct sonde_msg *m);
};

struct sonde_msg {
	const struct sonde_msg_ops *ops;
	struct sonde_msg *next; /* for queues that hold messages */
	uint8_t kind; /* enum sonde_msg_kind */
	uint32_t flags; /* enum sonde_msg_flags */
	uint64_t pair_key; /* stream id for multiplexed protocols, else 0 */
	uint64_t ts_first, ts_last; /* first and last byte seen */
	uint64_t wire_bytes; /* bytes the message took on the wire */
	uint64_t captured_bytes; /* of which sonde saw */
	size_t mem; /* heap bytes the message holds, for memory budgets */
	const char *version; /* protocol version label, e.g. "HTTP/1.1" */
};

/* A TLS connection read with its secrets from a key log (records'
 * capture.tls); strings empty when unknown. */
struct sonde_tls_session {
	const char *version; /* "TLSv1.2", "TLSv1.3" */
	const char *cipher; /* the suite's IANA name */
	char alpn[32];
	char sni[256];
	uint64_t records_failed; /* tags that did not verify, so far */
	uint64_t records_lost; /* records lost in gaps, so far */
};

/* What a record says about the connection it came from. */
struct sonde_conn_info {
	uint64_t id; /* unique within one sonde run */
	struct sonde_endpoint client, server;
	bool role_known; /* false: client/server guessed */
	bool midstream; /* joined after the connection started */
	uint8_t l4;
	uint8_t origin; /* enum sonde_origin */
	const char *source; /* file name, interface, ... */
	char *own_source; /* a chunk's own source name, copied (source points at it) */
	struct sonde_process proc; /* pid 0: unknown (packet sources) */
	/* eBPF: the process at the other end when its socket is traced on this
	 * host too (another namespace: no socket table shows it); pid 0: none */
	struct sonde_process peer_proc;
	bool peer_is_server;
	struct sonde_tls_info *tls; /* TLS plaintext: the library (owned); else NULL */
	/* TLS sonde decrypted itself with a key log (read --tls-keylog); owned
	 * by the connection's TLS stage; else NULL. */
	const struct sonde_tls_session *tls_session;
	/* What record stages attached to the connection (core/attrs.h); the
	 * attributes are the stages', not the record's: mutable through a
	 * const record. NULL without a connection table. */
	struct sonde_conn_attrs *attrs;
	/* TCP health (conn/tcphealth.h), kept by the connection table; NULL
	 * for UDP and without a table. */
	struct sonde_tcp_health *tcp;
};

enum sonde_record_flags {
	SONDE_RF_UNANSWERED = 1u << 0, /* a request without a response */
	SONDE_RF_UNSOLICITED = 1u << 1, /* a response without a request */
	SONDE_RF_UNREDACTED = 1u << 2, /* written with redaction off (--no-redact) */
	/* A connection record (type "connection"): req is the connection's
	 * own message (conn/tcphealth.c), resp NULL. */
	SONDE_RF_CONNECTION = 1u << 3,
};

/*
 * A stage's say in the fields sinks walk outside the messages (who is
 * talking, core/attrs.h): a sink walks them with the visitor wrap() returns
 * for its own (the redaction stage puts its masking visitor in front).
 */
struct sonde_record_lens {
	const struct sonde_field_ops *(*wrap)(void *ctx, const struct sonde_field_ops *v,
					      void *vctx, void **wrapped_ctx);
	void *ctx;
	/* What the lens counts as it walks (the values it masked), or NULL: a
	 * sink replaying what it rendered from an earlier walk adds that walk's
	 * share, so counts stay per record. */
	uint64_t *counted;
};

struct sonde_record {
	const struct sonde_conn_info *conn;
	struct sonde_msg *req, *resp; /* either may be NULL, not both */
	uint32_t flags; /* enum sonde_record_flags */
	const struct sonde_record_lens *lens; /* NULL: sinks walk with their own visitor */
	/* The record's number in its output, 1, 2, ... in the order written;
	 * set by the sink (0 before it). Records are written as they complete,
	 * so ts may go back where a slow exchange started before a fast one. */
	uint64_t seq;
};

/* The visitor (and its context) a sink walks the connection's fields with. */
static inline const struct sonde_field_ops *sonde_record_visitor(const struct sonde_record *r,
								 const struct sonde_field_ops *v,
								 void *vctx, void **ctx)
{
	if (r->lens)
		return r->lens->wrap(r->lens->ctx, v, vctx, ctx);
	*ctx = vctx;
	return v;
}

/* Where records go: a sink, or a test's collector. */
struct sonde_record_out {
	void (*emit)(void *ctx, const struct sonde_record *r);
	void *ctx;
};

static inline void sonde_msg_free(struct sonde_msg *m)
{
	if (m)
		m->ops->free(m);
}

#endif
