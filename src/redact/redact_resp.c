/* SPDX-License-Identifier: MIT */
/* Redis credentials in stream bytes (redact_resp.h). */
#include "redact/redact_resp.h"

#include <string.h>

#include "proto/redis/redis_secret.h"

#define ELEMS_MAX 4096 /* elements of one aggregate looked at */

/* A RESP bulk string header "$LEN\r\n" at p[i]: LEN, and *data its first byte. */
static bool bulk_at(const uint8_t *p, size_t n, size_t i, uint64_t *len, size_t *data)
{
	if (i >= n || p[i] != '$')
		return false;
	uint64_t v = 0;
	size_t k = i + 1;
	while (k < n && p[k] >= '0' && p[k] <= '9' && v < (1ull << 32))
		v = v * 10 + (p[k++] - '0');
	if (k == i + 1 || k + 1 >= n || p[k] != '\r' || p[k + 1] != '\n')
		return false;
	*len = v;
	*data = k + 2;
	return true;
}

/* An aggregate's header "*N\r\n" (or %, ~, >) at p[i]: its element count. */
static bool aggregate_at(const uint8_t *p, size_t n, size_t i, uint64_t *count, size_t *first)
{
	if (i >= n || !strchr("*%~>", p[i]) || !p[i])
		return false;
	uint64_t v = 0;
	size_t k = i + 1;
	while (k < n && p[k] >= '0' && p[k] <= '9' && v < ELEMS_MAX)
		v = v * 10 + (p[k++] - '0');
	if (k == i + 1 || k + 1 >= n || p[k] != '\r' || p[k + 1] != '\n')
		return false;
	*count = p[i] == '%' ? v * 2 : v;
	*first = k + 2;
	return true;
}

/* The bulk strings of the aggregate whose elements start at p[k]: a
 * command's credentials, or a value after a secret parameter's name.
 * Returns where the scan may go on; *left the credential's bytes past n. */
static size_t aggregate(const uint8_t *p, size_t n, size_t k, uint64_t count,
			struct sonde_redact_spans *sp, uint32_t *left)
{
	struct sonde_redis_secrets sec;
	sonde_redis_secrets_begin(&sec);
	bool value_next = false;
	for (uint64_t a = 0; a < count; a++) {
		uint64_t len;
		size_t d;
		if (!bulk_at(p, n, k, &len, &d))
			break; /* not a bulk string (a nested value, a number): stop here */
		size_t have = n - d < len ? n - d : (size_t)len;
		bool secret = sonde_redis_secrets_arg(&sec, p + d, have) || value_next;
		value_next = !value_next && have == len && sonde_redis_secret_param(p + d, have);
		if (secret)
			sonde_redact_spans_add(sp, d, have);
		if (have < len) {
			if (secret)
				*left = (uint32_t)(len - have);
			return n;
		}
		k = d + (size_t)len + 2;
	}
	return k;
}

uint32_t sonde_redact_scan_resp(const uint8_t *p, size_t n, struct sonde_redact_spans *sp)
{
	uint32_t left = 0;
	for (size_t at = 0; at < n;) {
		/* aggregates begin a line, or the context (one may begin there) */
		uint64_t count;
		size_t first;
		if (aggregate_at(p, n, at, &count, &first)) {
			at = aggregate(p, n, first, count, sp, &left);
			continue;
		}
		const uint8_t *m = memchr(p + at, '\n', n - at);
		if (!m)
			break;
		at = (size_t)(m - p) + 1;
	}
	return left;
}

/* One inline word from p[i] (a quoted one to its closing quote). */
static size_t word_end(const uint8_t *p, size_t i, size_t e)
{
	if (p[i] == '"' || p[i] == '\'') {
		uint8_t q = p[i++];
		while (i < e && p[i] != q)
			i += p[i] == '\\' && q == '"' && i + 1 < e ? 2 : 1;
		return i < e ? i + 1 : e;
	}
	while (i < e && p[i] != ' ' && p[i] != '\t')
		i++;
	return i;
}

void sonde_redact_scan_inline(const uint8_t *p, size_t a, size_t e, struct sonde_redact_spans *sp)
{
	struct sonde_redis_secrets sec;
	sonde_redis_secrets_begin(&sec);
	for (size_t i = a, w = 0; i < e; w++) {
		while (i < e && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == e)
			break;
		size_t end = word_end(p, i, e), in = i, in_end = end;
		if (p[i] == '"' || p[i] == '\'') { /* the word without its quotes */
			in++;
			if (end > in && p[end - 1] == p[i])
				in_end--;
		}
		if (sonde_redis_secrets_arg(&sec, p + in, in_end - in))
			sonde_redact_spans_add(sp, i, end - i);
		else if (w == 0 && !sec.cmd)
			return; /* not a command with credentials */
		i = end;
	}
}
