/* SPDX-License-Identifier: MIT */
/*
 * -o har (sink/har.h): one HAR 1.2 entry per HTTP record. The record is
 * read back from its -o json line with json-c (core/json_doc.h), so
 * every command and the store share this one mapping; what HAR has no
 * field for (flags, gRPC status, a body sonde kept only part of) goes in
 * underscore-named members, as HAR 1.2 wants its extensions, or in comment.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json_doc.h"
#include "sink/har.h"
#include "sink/render.h"

struct sonde_har {
	char version[64];
	uint64_t entries, not_http, unreadable;
	struct sonde_buf scratch; /* a record's JSON (sonde_har_add) */
};

struct sonde_har *sonde_har_new(const char *creator_version)
{
	struct sonde_har *h = sonde_xcalloc(1, sizeof(*h));
	snprintf(h->version, sizeof(h->version), "%s", creator_version ? creator_version : "");
	return h;
}

void sonde_har_free(struct sonde_har *h)
{
	if (!h)
		return;
	sonde_buf_free(&h->scratch);
	free(h);
}

uint64_t sonde_har_entries(const struct sonde_har *h)
{
	return h->entries;
}

uint64_t sonde_har_skipped(const struct sonde_har *h, uint64_t *unreadable)
{
	if (unreadable)
		*unreadable = h->unreadable;
	return h->not_http + h->unreadable;
}

void sonde_har_begin(struct sonde_har *h, struct sonde_buf *out)
{
	sonde_buf_puts(out, "{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"sonde\","
			    "\"version\":");
	sonde_json_cstr(out, h->version);
	sonde_buf_puts(out, "},\"entries\":[");
}

void sonde_har_end(struct sonde_har *h, struct sonde_buf *out)
{
	sonde_buf_printf(out,
			 "%s],\"_skipped_records\":%llu,\"_unreadable_records\":%llu,"
			 "\"comment\":\"sonde: %llu HTTP exchanges; %llu records that were not "
			 "HTTP skipped\"}}\n",
			 h->entries ? "\n" : "", (unsigned long long)h->not_http,
			 (unsigned long long)h->unreadable, (unsigned long long)h->entries,
			 (unsigned long long)(h->not_http + h->unreadable));
}

/* ---- reading the record ---- */

/* Records nest less than the JSON renderer's bound (SONDE_JSON_MAX_DEPTH);
 * a stored line deeper than twice that is not one of sonde's. */
#define HAR_RECORD_DEPTH (2 * SONDE_JSON_MAX_DEPTH)

/* key is there, even as null (present, as the record wrote it). */
static bool has(struct json_object *o, const char *key)
{
	return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, NULL);
}

static bool is_true(struct json_object *v)
{
	return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static const char *jstr(struct json_object *o, const char *key, size_t *len)
{
	return sonde_jdoc_str(sonde_jdoc_member(o, key), len);
}

/* A number member, or dflt. Read as doubles: a protobuf varint may pass
 * int64; not finite (NaN in a hostile line) is dflt too. */
static double jnum(struct json_object *o, const char *key, double dflt)
{
	return sonde_jdoc_num(sonde_jdoc_member(o, key), dflt);
}

/* A header's name and value (["name","value"]), or false. */
static bool header_pair(struct json_object *h, const char **k, size_t *kl, const char **v,
			size_t *vl)
{
	*k = sonde_jdoc_str(sonde_jdoc_item(h, 0), kl);
	*v = sonde_jdoc_str(sonde_jdoc_item(h, 1), vl);
	return *k && *v;
}

static bool header_named(struct json_object *h, const char *name, size_t nl, const char **v,
			 size_t *vl)
{
	const char *k;
	size_t kl;
	return header_pair(h, &k, &kl, v, vl) && kl == nl && !strncasecmp(k, name, nl);
}

/* The first header named name (ASCII case-insensitive), or NULL. */
static const char *header(struct json_object *msg, const char *name, size_t *len)
{
	struct json_object *hs = sonde_jdoc_member(msg, "headers");
	size_t nl = strlen(name);
	const char *v;
	for (size_t i = 0; i < sonde_jdoc_count(hs); i++)
		if (header_named(sonde_jdoc_item(hs, i), name, nl, &v, len))
			return v;
	*len = 0;
	return NULL;
}

static void put_str(struct sonde_buf *o, const char *p, size_t n)
{
	sonde_json_str(o, p ? p : "", p ? n : 0);
}

static void put_ms(struct sonde_buf *o, double us)
{
	sonde_buf_printf(o, "%.3f", isfinite(us) && us > 0 ? us / 1000.0 : 0.0);
}

/* ---- writing the entry ---- */

static void headers(struct sonde_buf *o, struct json_object *msg)
{
	sonde_buf_puts(o, "\"headers\":[");
	struct json_object *hs = sonde_jdoc_member(msg, "headers");
	size_t n = 0;
	for (size_t i = 0; i < sonde_jdoc_count(hs); i++) {
		const char *k, *v;
		size_t kl, vl;
		if (!header_pair(sonde_jdoc_item(hs, i), &k, &kl, &v, &vl))
			continue;
		sonde_buf_puts(o, n++ ? ",{\"name\":" : "{\"name\":");
		put_str(o, k, kl);
		sonde_buf_puts(o, ",\"value\":");
		put_str(o, v, vl);
		sonde_buf_putc(o, '}');
	}
	sonde_buf_putc(o, ']');
}

/* Every header called name, through fn (the cookie parsers). */
static void cookies(struct sonde_buf *o, struct json_object *msg, const char *name,
		    void (*fn)(struct sonde_buf *, const char *, size_t, bool *))
{
	sonde_buf_puts(o, "\"cookies\":[");
	struct json_object *hs = sonde_jdoc_member(msg, "headers");
	size_t nl = strlen(name), vl;
	const char *v;
	bool first = true;
	for (size_t i = 0; i < sonde_jdoc_count(hs); i++)
		if (header_named(sonde_jdoc_item(hs, i), name, nl, &v, &vl))
			fn(o, v, vl, &first);
	sonde_buf_putc(o, ']');
}

/* The head's size: HTTP/1 only, when the message was seen whole and its
 * body was not chunked (framing bytes would count as head); else -1. */
static long long head_size(struct json_object *rec, struct json_object *msg)
{
	size_t n;
	const char *ver = jstr(msg, "version", &n);
	struct json_object *body = sonde_jdoc_member(msg, "body");
	if (!ver || strncmp(ver, "HTTP/1.", 7) || header(msg, "transfer-encoding", &n) ||
	    sonde_jdoc_count(sonde_jdoc_member(rec, "flags")))
		return -1;
	double wire = jnum(msg, "wire_bytes", -1), size = jnum(body, "size", 0);
	return wire >= size ? (long long)(wire - size) : -1;
}

/* content (response) or postData (request): the kept body, base64 when
 * the bytes are not text. */
static void body(struct sonde_buf *o, struct json_object *msg, bool response)
{
	struct json_object *b = sonde_jdoc_member(msg, "body");
	size_t ml, dl, el;
	const char *mime = header(msg, "content-type", &ml);
	const char *data = jstr(b, "data", &dl);
	const char *enc = jstr(b, "encoding", &el);
	bool b64 = enc && !strcmp(enc, "base64");
	double size = jnum(b, "size", 0), captured = jnum(b, "captured", 0);
	bool decoded = is_true(sonde_jdoc_member(b, "decoded"));
	double content = decoded ? jnum(b, "decoded_size", size) : size;
	sonde_buf_puts(o, response ? "\"content\":{" : ",\"postData\":{");
	if (response)
		sonde_buf_printf(o, "\"size\":%.0f,", content);
	if (response && decoded)
		sonde_buf_printf(o, "\"compression\":%.0f,", content - size);
	sonde_buf_puts(o, "\"mimeType\":");
	put_str(o, mime, ml);
	sonde_buf_puts(o, ",\"text\":");
	put_str(o, data, dl);
	/* HAR 1.2 has encoding in content only; postData's is an extension */
	if (b64)
		sonde_buf_puts(o,
			       response ? ",\"encoding\":\"base64\"" : ",\"_encoding\":\"base64\"");
	if (captured < size)
		sonde_buf_printf(o,
				 ",\"comment\":\"sonde kept %.0f of the body's %.0f bytes (the "
				 "body limit, or bytes lost)\"",
				 captured, size);
	sonde_buf_putc(o, '}');
}

static void entry_url(struct sonde_buf *o, struct json_object *rec, struct json_object *req)
{
	size_t tl, al, sl;
	const char *target = jstr(req, "target", &tl);
	const char *auth = jstr(req, "authority", &al);
	const char *scheme = jstr(req, "scheme", &sl);
	bool tls = has(sonde_jdoc_member(rec, "capture"), "tls");
	char ends[80];
	if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https")))
		scheme = tls ? "https" : "http";
	if (!auth) { /* no Host: the server's address */
		struct json_object *srv =
			sonde_jdoc_member(sonde_jdoc_member(rec, "conn"), "server");
		size_t il;
		const char *ip = jstr(srv, "ip", &il);
		ip = ip && il < 64 ? ip : "0.0.0.0";
		snprintf(ends, sizeof(ends), strchr(ip, ':') ? "[%s]:%.0f" : "%s:%.0f", ip,
			 jnum(srv, "port", 0));
		auth = ends;
		al = strlen(ends);
	}
	size_t ml;
	const char *method = jstr(req, "method", &ml);
	if (method && !strcmp(method, "CONNECT") && target) /* the tunnel's host:port */
		sonde_har_url(o, scheme, target, tl, "", 0);
	else
		sonde_har_url(o, scheme, auth, al, target ? target : "/", target ? tl : 1);
}

static void entry_request(struct sonde_buf *o, struct json_object *rec, struct json_object *req)
{
	size_t ml, vl, tl;
	const char *method = jstr(req, "method", &ml);
	const char *ver = jstr(req, "version", &vl);
	const char *target = jstr(req, "target", &tl);
	if (!ver)
		ver = jstr(rec, "version", &vl);
	sonde_buf_puts(o, "\"request\":{\"method\":");
	put_str(o, method, ml);
	sonde_buf_puts(o, ",\"url\":");
	entry_url(o, rec, req);
	sonde_buf_puts(o, ",\"httpVersion\":");
	put_str(o, ver, vl);
	sonde_buf_putc(o, ',');
	cookies(o, req, "cookie", sonde_har_cookies);
	sonde_buf_putc(o, ',');
	headers(o, req);
	sonde_buf_puts(o, ",\"queryString\":");
	sonde_har_query(o, target ? target : "", tl);
	struct json_object *b = sonde_jdoc_member(req, "body");
	double size = jnum(b, "size", 0);
	if (size > 0 || has(b, "data"))
		body(o, req, false);
	sonde_buf_printf(o, ",\"headersSize\":%lld,\"bodySize\":%.0f", head_size(rec, req),
			 req ? size : -1.0);
	if (!req)
		sonde_buf_puts(o, ",\"comment\":\"the request was not seen\"");
	sonde_buf_putc(o, '}');
}

static void entry_response(struct sonde_buf *o, struct json_object *rec, struct json_object *resp)
{
	size_t rl, vl, ll;
	const char *reason = jstr(resp, "reason", &rl);
	const char *ver = jstr(resp, "version", &vl);
	const char *loc = header(resp, "location", &ll);
	if (!ver)
		ver = jstr(rec, "version", &vl);
	/* 0: no status (none seen, or HTTP/0.9), as browsers write a failed request */
	sonde_buf_printf(o,
			 "\"response\":{\"status\":%.0f,\"statusText\":", jnum(resp, "status", 0));
	put_str(o, reason, rl);
	sonde_buf_puts(o, ",\"httpVersion\":");
	put_str(o, ver, vl);
	sonde_buf_putc(o, ',');
	cookies(o, resp, "set-cookie", sonde_har_set_cookie);
	sonde_buf_putc(o, ',');
	headers(o, resp);
	sonde_buf_putc(o, ',');
	body(o, resp, true);
	sonde_buf_puts(o, ",\"redirectURL\":");
	put_str(o, loc, ll);
	sonde_buf_printf(o, ",\"headersSize\":%lld,\"bodySize\":%.0f", head_size(rec, resp),
			 resp ? jnum(sonde_jdoc_member(resp, "body"), "size", 0) : -1.0);
	if (!resp)
		sonde_buf_puts(o, ",\"comment\":\"no response was seen\"");
	sonde_buf_putc(o, '}');
}

/* send is not known apart (a request's last byte has no time in records):
 * wait runs from the request's first byte to the response's first. */
static void entry_timings(struct sonde_buf *o, struct json_object *rec)
{
	struct json_object *lat = sonde_jdoc_member(rec, "latency_us");
	double first = jnum(lat, "first_byte", 0), last = jnum(lat, "last_byte", first);
	sonde_buf_puts(o, ",\"time\":");
	put_ms(o, last);
	sonde_buf_puts(o, ",\"cache\":{},\"timings\":{\"send\":0,\"wait\":");
	put_ms(o, first);
	sonde_buf_puts(o, ",\"receive\":");
	put_ms(o, last - first);
	sonde_buf_putc(o, '}');
}

/* What HAR has no member for: the record's flags, the gRPC call. */
static void entry_extras(struct sonde_buf *o, struct json_object *rec, struct json_object *req,
			 struct json_object *resp)
{
	struct json_object *flags = sonde_jdoc_member(rec, "flags");
	if (sonde_jdoc_count(flags)) {
		sonde_buf_puts(o, ",\"_flags\":[");
		for (size_t i = 0; i < sonde_jdoc_count(flags); i++) {
			size_t fl;
			const char *f = sonde_jdoc_str(sonde_jdoc_item(flags, i), &fl);
			if (i)
				sonde_buf_putc(o, ',');
			put_str(o, f, fl);
		}
		sonde_buf_putc(o, ']');
	}
	struct json_object *gq = sonde_jdoc_member(req, "grpc"),
			   *gr = sonde_jdoc_member(resp, "grpc");
	if (!gq && !gr)
		return;
	size_t sl, ml, tl;
	const char *svc = jstr(gq, "service", &sl), *meth = jstr(gq, "method", &ml);
	const char *msg = jstr(gr, "message", &tl);
	sonde_buf_puts(o, ",\"_grpc\":{\"service\":");
	put_str(o, svc, sl);
	sonde_buf_puts(o, ",\"method\":");
	put_str(o, meth, ml);
	double st = jnum(gr, "status", NAN);
	if (!isnan(st))
		sonde_buf_printf(o, ",\"status\":%.0f", st);
	if (msg) {
		sonde_buf_puts(o, ",\"message\":");
		put_str(o, msg, tl);
	}
	sonde_buf_putc(o, '}');
}

static void entry(struct sonde_buf *o, struct json_object *rec)
{
	struct json_object *req = sonde_jdoc_member(rec, "request"),
			   *resp = sonde_jdoc_member(rec, "response");
	struct json_object *conn = sonde_jdoc_member(rec, "conn");
	size_t tl, il;
	const char *ts = jstr(req, "ts", &tl);
	if (!ts)
		ts = jstr(rec, "ts", &tl);
	const char *ip = jstr(sonde_jdoc_member(conn, "server"), "ip", &il);
	sonde_buf_puts(o, "{\"startedDateTime\":");
	put_str(o, ts, tl);
	entry_timings(o, rec);
	sonde_buf_putc(o, ',');
	entry_request(o, rec, req);
	sonde_buf_putc(o, ',');
	entry_response(o, rec, resp);
	if (ip) {
		sonde_buf_puts(o, ",\"serverIPAddress\":");
		put_str(o, ip, il);
	}
	sonde_buf_printf(o, ",\"connection\":\"%.0f\"", jnum(conn, "id", 0));
	entry_extras(o, rec, req, resp);
	sonde_buf_putc(o, '}');
}

static bool is_http_exchange(struct json_object *rec)
{
	size_t tl, pl;
	const char *type = jstr(rec, "type", &tl), *proto = jstr(rec, "protocol", &pl);
	return type && proto && !strcmp(type, "exchange") && !strcmp(proto, "http") &&
	       (json_object_is_type(sonde_jdoc_member(rec, "request"), json_type_object) ||
		json_object_is_type(sonde_jdoc_member(rec, "response"), json_type_object));
}

bool sonde_har_add_json(struct sonde_har *h, const char *json, size_t len, struct sonde_buf *out)
{
	struct json_object *rec = sonde_jdoc_parse(json, len, HAR_RECORD_DEPTH);
	if (!json_object_is_type(rec, json_type_object)) {
		h->unreadable++;
		json_object_put(rec);
		return false;
	}
	bool http = is_http_exchange(rec);
	if (http) {
		sonde_buf_puts(out, h->entries++ ? ",\n" : "\n");
		entry(out, rec);
	} else {
		h->not_http++;
	}
	json_object_put(rec);
	return http;
}

bool sonde_har_add(struct sonde_har *h, const struct sonde_record *r, struct sonde_buf *out)
{
	sonde_buf_reset(&h->scratch);
	sonde_record_json(r, &h->scratch);
	return sonde_har_add_json(h, (const char *)h->scratch.p, h->scratch.len, out);
}
