/* SPDX-License-Identifier: MIT */
#include "store/http.h"

#include "proto/http/chunked.h"

#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int sonde_http_url_parse(const char *s, struct sonde_http_url *u, char *err, size_t errlen)
{
	*u = (struct sonde_http_url){ .port = "8123" };
	if (strncmp(s, "http://", 7)) {
		snprintf(err, errlen, "'%s': an http:// URL, e.g. http://127.0.0.1:8123/db", s);
		return -1;
	}
	s += 7;
	size_t hl = strcspn(s, ":/");
	if (!hl || hl >= sizeof(u->host)) {
		snprintf(err, errlen, "no host in the URL");
		return -1;
	}
	memcpy(u->host, s, hl);
	s += hl;
	if (*s == ':') {
		size_t pl = strcspn(++s, "/");
		if (!pl || pl >= sizeof(u->port) || strspn(s, "0123456789") != pl) {
			snprintf(err, errlen, "a bad port in the URL");
			return -1;
		}
		memcpy(u->port, s, pl);
		s += pl;
	}
	if (*s == '/')
		s++;
	if (strlen(s) >= sizeof(u->path)) {
		snprintf(err, errlen, "the URL's path is too long");
		return -1;
	}
	strcpy(u->path, s);
	return 0;
}

void sonde_http_urlencode(struct sonde_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-_.~", c)) {
			sonde_buf_putc(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			sonde_buf_append(b, e, 3);
		}
	}
}

static int dial(const struct sonde_http_url *u, int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int rc = getaddrinfo(u->host, u->port, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "%s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = { timeout_ms / 1000, timeout_ms % 1000 * 1000 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			snprintf(err, errlen, "%s:%s: %s", u->host, u->port, strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A chunked body (p, n) decoded into out, with the HTTP dissector's own
 * decoder. -1 if malformed or cut short. */
static int dechunk(const uint8_t *p, size_t n, struct sonde_buf *out)
{
	struct sonde_chunked c;
	sonde_chunked_init(&c);
	for (size_t i = 0; i < n;) {
		struct sonde_chunked_step st = sonde_chunked_feed(&c, p + i, n - i);
		if (st.ev == SONDE_CHUNKED_BYTES)
			sonde_buf_append(out, st.data, st.used);
		i += st.used;
		if (st.ev == SONDE_CHUNKED_END)
			return 0;
		if (st.ev == SONDE_CHUNKED_ERROR || (!st.used && st.ev == SONDE_CHUNKED_MORE))
			return -1;
	}
	return -1;
}

int sonde_http_post(const struct sonde_http_url *u, const char *target, const void *body,
		    size_t len, struct sonde_buf *resp, size_t max_resp, int timeout_ms, char *err,
		    size_t errlen)
{
	int fd = dial(u, timeout_ms, err, errlen);
	if (fd < 0)
		return -1;
	struct sonde_buf head = { 0 };
	sonde_buf_printf(&head,
			 "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 target, u->host, u->port, len);
	struct sonde_buf in = { 0 };
	int status = -1;
	if (send_all(fd, head.p, head.len) < 0 || (len && send_all(fd, body, len) < 0)) {
		snprintf(err, errlen, "%s:%s: sending: %s", u->host, u->port, strerror(errno));
		goto out;
	}
	/* the whole reply, bounded: the server closes after it */
	for (;;) {
		sonde_buf_reserve(&in, 65536);
		ssize_t r = recv(fd, in.p + in.len, 65536, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s:%s: reading: %s", u->host, u->port,
				 errno == EAGAIN ? "timed out" : strerror(errno));
			goto out;
		}
		if (!r)
			break;
		in.len += (size_t)r;
		if (in.len > max_resp + 65536) {
			snprintf(err, errlen, "%s:%s: a reply larger than %zu bytes", u->host,
				 u->port, max_resp);
			goto out;
		}
	}
	sonde_buf_putc(&in, 0);
	in.len--;
	const char *hs = (const char *)in.p;
	const char *he = strstr(hs, "\r\n\r\n");
	int code;
	if (!he || sscanf(hs, "HTTP/1.%*d %d", &code) != 1) {
		snprintf(err, errlen, "%s:%s: not an HTTP reply", u->host, u->port);
		goto out;
	}
	size_t hlen = (size_t)(he - hs) + 4;
	bool chunked = false;
	for (const char *l = strstr(hs, "\r\n"); l && l < he; l = strstr(l + 2, "\r\n"))
		if (!strncasecmp(l + 2, "Transfer-Encoding:", 18) && strstr(l + 2, "chunked") &&
		    strstr(l + 2, "chunked") < strstr(l + 2, "\r\n"))
			chunked = true;
	sonde_buf_reset(resp);
	if (!chunked)
		sonde_buf_append(resp, in.p + hlen, in.len - hlen);
	else if (dechunk(in.p + hlen, in.len - hlen, resp) < 0) {
		snprintf(err, errlen, "%s:%s: a malformed chunked reply", u->host, u->port);
		goto out;
	}
	status = code;
out:
	close(fd);
	sonde_buf_free(&head);
	sonde_buf_free(&in);
	return status;
}
