// SPDX-License-Identifier: MIT
#include "enrich/grpc_unix.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct call {
	int fd;
	const uint8_t *req;
	size_t reqlen, sent;
	struct sonde_buf body; /* DATA of the response: 5-byte prefixed messages */
	int http_status, grpc_status;
	bool closed, too_big;
};

static ssize_t req_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
			nghttp2_data_source *src, void *ud)
{
	(void)s, (void)sid, (void)src;
	struct call *c = ud;
	size_t n = c->reqlen - c->sent < len ? c->reqlen - c->sent : len;
	memcpy(buf, c->req + c->sent, n);
	c->sent += n;
	if (c->sent == c->reqlen)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *p, size_t n,
		   void *ud)
{
	(void)s, (void)flags, (void)sid;
	struct call *c = ud;
	if (c->body.len + n > SONDE_GRPC_RESPONSE_MAX + 5) {
		c->too_big = true;
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	sonde_buf_append(&c->body, p, n);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	(void)s, (void)f, (void)flags;
	struct call *c = ud;
	char v[16];
	if (vlen >= sizeof(v))
		return 0;
	memcpy(v, value, vlen);
	v[vlen] = 0;
	if (nlen == 7 && !memcmp(name, ":status", 7))
		c->http_status = atoi(v);
	else if (nlen == 11 && !memcmp(name, "grpc-status", 11))
		c->grpc_status = atoi(v);
	return 0;
}

static int on_close(nghttp2_session *s, int32_t sid, uint32_t err, void *ud)
{
	(void)s, (void)sid, (void)err;
	((struct call *)ud)->closed = true;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(const char *path, char *why, size_t whylen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "socket path too long");
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(why, whylen, "connect %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Moves bytes both ways until the stream closes or the deadline passes. */
static int pump(nghttp2_session *s, struct call *c, int64_t deadline, char *why, size_t whylen)
{
	uint8_t buf[16384];
	while (!c->closed) {
		const uint8_t *out;
		ssize_t n;
		while ((n = nghttp2_session_mem_send(s, &out)) > 0) {
			for (ssize_t off = 0; off < n;) {
				ssize_t w = send(c->fd, out + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w < 0 && errno == EAGAIN) {
					struct pollfd pw = { c->fd, POLLOUT, 0 };
					int left = (int)(deadline - now_ms());
					if (left <= 0 || poll(&pw, 1, left) <= 0)
						goto timeout;
					continue;
				}
				if (w < 0) {
					snprintf(why, whylen, "send: %s", strerror(errno));
					return SONDE_GRPC_IO;
				}
				off += w;
			}
		}
		if (n < 0)
			break;
		/* A protocol error ends the session (GOAWAY sent): nothing more
		 * will come for the stream. */
		if (!c->closed && !nghttp2_session_want_read(s) && !nghttp2_session_want_write(s)) {
			snprintf(why, whylen, "the runtime's answer is not HTTP/2");
			return SONDE_GRPC_PROTOCOL;
		}
		struct pollfd pr = { c->fd, POLLIN, 0 };
		int left = (int)(deadline - now_ms());
		if (left <= 0 || poll(&pr, 1, left) <= 0)
			goto timeout;
		ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			snprintf(why, whylen, "the runtime closed the connection");
			return SONDE_GRPC_IO;
		}
		if (nghttp2_session_mem_recv(s, buf, (size_t)r) < 0) {
			snprintf(why, whylen, c->too_big ? "response over %u bytes" : "bad HTTP/2",
				 SONDE_GRPC_RESPONSE_MAX);
			return SONDE_GRPC_PROTOCOL;
		}
	}
	return SONDE_GRPC_OK;
timeout:
	snprintf(why, whylen, "no answer in time");
	return SONDE_GRPC_IO;
}

/* The one length-prefixed, uncompressed message of a unary response. */
static int unframe(struct call *c, struct sonde_buf *out, char *why, size_t whylen)
{
	const uint8_t *p = c->body.p;
	if (c->body.len == 0)
		return SONDE_GRPC_OK; /* an empty message may come with no DATA */
	if (c->body.len < 5 || p[0] != 0) {
		snprintf(why, whylen, "not one uncompressed gRPC message");
		return SONDE_GRPC_PROTOCOL;
	}
	uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (len != c->body.len - 5 || len > SONDE_GRPC_RESPONSE_MAX) {
		snprintf(why, whylen, "gRPC message length %u in %zu bytes", len, c->body.len - 5);
		return SONDE_GRPC_PROTOCOL;
	}
	sonde_buf_append(out, p + 5, len);
	return SONDE_GRPC_OK;
}

#define NV(n, v)                                                                               \
	{                                                                                      \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE \
	}

int sonde_grpc_unix_call(const char *socket_path, const char *path, const uint8_t *req, size_t n,
			 int timeout_ms, struct sonde_buf *out, int *grpc_status, char *why,
			 size_t whylen)
{
	*grpc_status = -1;
	int64_t deadline = now_ms() + timeout_ms;
	struct call c = { .fd = dial(socket_path, why, whylen), .grpc_status = -1 };
	if (c.fd < 0)
		return SONDE_GRPC_IO;
	uint8_t *framed = malloc(n + 5);
	if (!framed)
		abort();
	framed[0] = 0;
	framed[1] = (uint8_t)(n >> 24), framed[2] = (uint8_t)(n >> 16);
	framed[3] = (uint8_t)(n >> 8), framed[4] = (uint8_t)n;
	if (n)
		memcpy(framed + 5, req, n);
	c.req = framed, c.reqlen = n + 5;

	nghttp2_session_callbacks *cb;
	nghttp2_session *s = NULL;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	int rc = SONDE_GRPC_PROTOCOL;
	if (nghttp2_session_client_new(&s, cb, &c) == 0 &&
	    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0) == 0) {
		const nghttp2_nv hdrs[] = {
			NV(":method", "POST"),
			NV(":scheme", "http"),
			NV(":path", path),
			NV(":authority", "localhost"),
			NV("content-type", "application/grpc"),
			NV("te", "trailers"),
		};
		nghttp2_data_provider dp = { .read_callback = req_read };
		if (nghttp2_submit_request(s, NULL, hdrs, sizeof(hdrs) / sizeof(*hdrs), &dp, NULL) >
		    0)
			rc = pump(s, &c, deadline, why, whylen);
		else
			snprintf(why, whylen, "cannot make the request");
	}
	if (rc == SONDE_GRPC_OK && !c.closed) {
		snprintf(why, whylen, "the stream did not end");
		rc = SONDE_GRPC_PROTOCOL;
	}
	*grpc_status = c.grpc_status;
	if (rc == SONDE_GRPC_OK && c.http_status != 200) {
		snprintf(why, whylen, "HTTP status %d", c.http_status);
		rc = SONDE_GRPC_PROTOCOL;
	} else if (rc == SONDE_GRPC_OK && c.grpc_status != 0) {
		snprintf(why, whylen, "grpc-status %d", c.grpc_status);
		rc = SONDE_GRPC_STATUS;
	} else if (rc == SONDE_GRPC_OK) {
		rc = unframe(&c, out, why, whylen);
	}
	nghttp2_session_del(s);
	nghttp2_session_callbacks_del(cb);
	sonde_buf_free(&c.body);
	free(framed);
	close(c.fd);
	return rc;
}
