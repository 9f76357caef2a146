/* SPDX-License-Identifier: MIT */
/*
 * -o har (sink/har.h): one HAR 1.2 entry per HTTP record. The record is
 * read back from its -o json line with jansson (Debian's libjansson), so
 * every command and the store share this one mapping; what HAR has no
 * field for (flags, gRPC status, a body sonde kept only part of) goes in
 * underscore-named members, as HAR 1.2 wants its extensions, or in comment.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static const char *jstr(const json_t *o, const char *key, size_t *len)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_string(v)) {
		*len = 0;
		return NULL;
	}
	*len = json_string_length(v);
	return json_string_value(v);
}

/* A number member, or dflt. Records' integers are read as doubles
 * (JSON_DECODE_INT_AS_REAL: a protobuf varint may pass int64). */
static double jnum(const json_t *o, const char *key, double dflt)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : dflt;
}

/* The first header named name (ASCII case-insensitive), or NULL. */
static const char *header(const json_t *msg, const char *name, size_t *len)
{
	const json_t *hs = json_object_get(msg, "headers");
	size_t i, nl = strlen(name);
	const json_t *h;
	json_array_foreach(hs, i, h)
	{
		const json_t *k = json_array_get(h, 0), *v = json_array_get(h, 1);
		if (json_is_string(k) && json_is_string(v) && json_string_length(k) == nl &&
		    !strncasecmp(json_string_value(k), name, nl)) {
			*len = json_string_length(v);
			return json_string_value(v);
		}
	}
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

static void headers(struct sonde_buf *o, const json_t *msg)
{
	sonde_buf_puts(o, "\"headers\":[");
	const json_t *hs = json_object_get(msg, "headers"), *h;
	size_t i, n = 0;
	json_array_foreach(hs, i, h)
	{
		size_t kl, vl;
		const json_t *k = json_array_get(h, 0), *v = json_array_get(h, 1);
		if (!json_is_string(k) || !json_is_string(v))
			continue;
		kl = json_string_length(k);
		vl = json_string_length(v);
		sonde_buf_puts(o, n++ ? ",{\"name\":" : "{\"name\":");
		put_str(o, json_string_value(k), kl);
		sonde_buf_puts(o, ",\"value\":");
		put_str(o, json_string_value(v), vl);
		sonde_buf_putc(o, '}');
	}
	sonde_buf_putc(o, ']');
}

/* Every header called name, through fn (the cookie parsers). */
static void cookies(struct sonde_buf *o, const json_t *msg, const char *name,
		    void (*fn)(struct sonde_buf *, const char *, size_t, bool *))
{
	sonde_buf_puts(o, "\"cookies\":[");
	const json_t *hs = json_object_get(msg, "headers"), *h;
	size_t i, nl = strlen(name);
	bool first = true;
	json_array_foreach(hs, i, h)
	{
		const json_t *k = json_array_get(h, 0), *v = json_array_get(h, 1);
		if (json_is_string(k) && json_is_string(v) && json_string_length(k) == nl &&
		    !strncasecmp(json_string_value(k), name, nl))
			fn(o, json_string_value(v), json_string_length(v), &first);
	}
	sonde_buf_putc(o, ']');
}

/* The head's size: HTTP/1 only, when the message was seen whole and its
 * body was not chunked (framing bytes would count as head); else -1. */
static long long head_size(const json_t *rec, const json_t *msg)
{
	size_t n;
	const char *ver = jstr(msg, "version", &n);
	const json_t *body = json_object_get(msg, "body");
	if (!ver || strncmp(ver, "HTTP/1.", 7) || header(msg, "transfer-encoding", &n) ||
	    json_array_size(json_object_get(rec, "flags")))
		return -1;
	double wire = jnum(msg, "wire_bytes", -1), size = jnum(body, "size", 0);
	return wire >= size ? (long long)(wire - size) : -1;
}

/* content (response) or postData (request): the kept body, base64 when
 * the bytes are not text. */
static void body(struct sonde_buf *o, const json_t *msg, bool response)
{
	const json_t *b = json_object_get(msg, "body");
	size_t ml, dl, el;
	const char *mime = header(msg, "content-type", &ml);
	const char *data = jstr(b, "data", &dl);
	const char *enc = jstr(b, "encoding", &el);
	bool b64 = enc && !strcmp(enc, "base64");
	double size = jnum(b, "size", 0), captured = jnum(b, "captured", 0);
	bool decoded = json_is_true(json_object_get(b, "decoded"));
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

static void entry_url(struct sonde_buf *o, const json_t *rec, const json_t *req)
{
	size_t tl, al, sl;
	const char *target = jstr(req, "target", &tl);
	const char *auth = jstr(req, "authority", &al);
	const char *scheme = jstr(req, "scheme", &sl);
	bool tls = json_object_get(json_object_get(rec, "capture"), "tls") != NULL;
	char ends[80];
	if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https")))
		scheme = tls ? "https" : "http";
	if (!auth) { /* no Host: the server's address */
		const json_t *srv = json_object_get(json_object_get(rec, "conn"), "server");
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

static void entry_request(struct sonde_buf *o, const json_t *rec, const json_t *req)
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
	const json_t *b = json_object_get(req, "body");
	double size = jnum(b, "size", 0);
	if (size > 0 || json_object_get(b, "data"))
		body(o, req, false);
	sonde_buf_printf(o, ",\"headersSize\":%lld,\"bodySize\":%.0f", head_size(rec, req),
			 req ? size : -1.0);
	if (!req)
		sonde_buf_puts(o, ",\"comment\":\"the request was not seen\"");
	sonde_buf_putc(o, '}');
}

static void entry_response(struct sonde_buf *o, const json_t *rec, const json_t *resp)
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
			 resp ? jnum(json_object_get(resp, "body"), "size", 0) : -1.0);
	if (!resp)
		sonde_buf_puts(o, ",\"comment\":\"no response was seen\"");
	sonde_buf_putc(o, '}');
}

/* send is not known apart (a request's last byte has no time in records):
 * wait runs from the request's first byte to the response's first. */
static void entry_timings(struct sonde_buf *o, const json_t *rec)
{
	const json_t *lat = json_object_get(rec, "latency_us");
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
static void entry_extras(struct sonde_buf *o, const json_t *rec, const json_t *req,
			 const json_t *resp)
{
	const json_t *flags = json_object_get(rec, "flags"), *f;
	size_t i;
	if (json_array_size(flags)) {
		sonde_buf_puts(o, ",\"_flags\":[");
		json_array_foreach(flags, i, f)
		{
			if (i)
				sonde_buf_putc(o, ',');
			put_str(o, json_string_value(f), json_string_length(f));
		}
		sonde_buf_putc(o, ']');
	}
	const json_t *gq = json_object_get(req, "grpc"), *gr = json_object_get(resp, "grpc");
	if (!gq && !gr)
		return;
	size_t sl, ml, tl;
	const char *svc = jstr(gq, "service", &sl), *meth = jstr(gq, "method", &ml);
	const char *msg = jstr(gr, "message", &tl);
	sonde_buf_puts(o, ",\"_grpc\":{\"service\":");
	put_str(o, svc, sl);
	sonde_buf_puts(o, ",\"method\":");
	put_str(o, meth, ml);
	const json_t *st = json_object_get(gr, "status");
	if (json_is_number(st))
		sonde_buf_printf(o, ",\"status\":%.0f", json_number_value(st));
	if (msg) {
		sonde_buf_puts(o, ",\"message\":");
		put_str(o, msg, tl);
	}
	sonde_buf_putc(o, '}');
}

static void entry(struct sonde_buf *o, const json_t *rec)
{
	const json_t *req = json_object_get(rec, "request"),
		     *resp = json_object_get(rec, "response");
	const json_t *conn = json_object_get(rec, "conn");
	size_t tl, il;
	const char *ts = jstr(req, "ts", &tl);
	if (!ts)
		ts = jstr(rec, "ts", &tl);
	const char *ip = jstr(json_object_get(conn, "server"), "ip", &il);
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

static bool is_http_exchange(const json_t *rec)
{
	size_t tl, pl;
	const char *type = jstr(rec, "type", &tl), *proto = jstr(rec, "protocol", &pl);
	return type && proto && !strcmp(type, "exchange") && !strcmp(proto, "http") &&
	       (json_is_object(json_object_get(rec, "request")) ||
		json_is_object(json_object_get(rec, "response")));
}

bool sonde_har_add_json(struct sonde_har *h, const char *json, size_t len, struct sonde_buf *out)
{
	json_error_t e;
	json_t *rec = json_loadb(json, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &e);
	if (!json_is_object(rec)) {
		h->unreadable++;
		json_decref(rec);
		return false;
	}
	bool http = is_http_exchange(rec);
	if (http) {
		sonde_buf_puts(out, h->entries++ ? ",\n" : "\n");
		entry(out, rec);
	} else {
		h->not_http++;
	}
	json_decref(rec);
	return http;
}

bool sonde_har_add(struct sonde_har *h, const struct sonde_record *r, struct sonde_buf *out)
{
	sonde_buf_reset(&h->scratch);
	sonde_record_json(r, &h->scratch);
	return sonde_har_add_json(h, (const char *)h->scratch.p, h->scratch.len, out);
}
