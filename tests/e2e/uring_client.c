/* SPDX-License-Identifier: MIT */
/*
 * Test client for tests/e2e/test_capture_uring.py: one TCP connection to
 * 127.0.0.1:PORT made with a plain connect(), then one HTTP/1.1 GET after
 * the other on it, each moved in the way its argument says:
 *   u:PATH  request sent with IORING_OP_SEND, response received with
 *           IORING_OP_RECV (no read/write/send/recv syscall touches it)
 *   w:PATH  the same with IORING_OP_WRITE and IORING_OP_READ
 *   s:PATH  plain send() and recv() syscalls
 * then close() and exit. Responses must be Content-Length framed.
 *
 * Usage: uring_client PORT MODE:PATH...   e.g. uring_client 8080 u:/a s:/b
 *        uring_client --probe             (only checks that io_uring works)
 * Prints one line per exchange, in order:
 *   mode=u tx=N rx=N status=S
 * (bytes of the request sent and of the response received).
 *
 * Exit status: 0 ok, 1 error, 2 bad usage, 77 io_uring unavailable
 * (io_uring_queue_init failed: disabled by sysctl, seccomp, old kernel).
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXIT_NO_URING 77
#define RESP_MAX (4 << 20)

static void die(const char *what, int err)
{
	fprintf(stderr, "uring_client: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Length of a complete response at the start of buf (n bytes), 0 if more
 * bytes are needed; exits on a response it cannot frame. */
static size_t response_len(const char *buf, size_t n, int *status)
{
	const char *end = memmem(buf, n, "\r\n\r\n", 4);
	if (!end)
		return 0;
	size_t head = (size_t)(end - buf) + 4;
	if (sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
		fprintf(stderr, "uring_client: bad status line\n");
		exit(1);
	}
	long clen = -1;
	for (const char *p = memchr(buf, '\n', head); p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
		p++;
		if (!strncasecmp(p, "Content-Length:", 15))
			clen = strtol(p + 15, NULL, 10);
		else if (!strncasecmp(p, "Transfer-Encoding:", 18)) {
			fprintf(stderr, "uring_client: chunked response not supported\n");
			exit(1);
		}
	}
	if (clen < 0) {
		fprintf(stderr, "uring_client: response without Content-Length\n");
		exit(1);
	}
	return n >= head + (size_t)clen ? head + (size_t)clen : 0;
}


/* The request for path; len gets its length. */
static char *request(const char *path, size_t *len)
{
	static char req[4096];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: uring_client\r\n"
			 "Accept: */*\r\n\r\n", path);
	if (n <= 0 || (size_t)n >= sizeof(req)) {
		fprintf(stderr, "uring_client: path too long\n");
		exit(2);
	}
	*len = (size_t)n;
	return req;
}

/* One operation through the ring; returns its result (bytes or -errno). */
static int uring_op(struct io_uring *ring, int fd, char mode, int send_op, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe)
		die("io_uring_get_sqe", EBUSY);
	if (mode == 'u' && send_op)
		io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	else if (mode == 'u')
		io_uring_prep_recv(sqe, fd, buf, len, 0);
	else if (send_op)
		io_uring_prep_write(sqe, fd, buf, (unsigned)len, 0);
	else
		io_uring_prep_read(sqe, fd, buf, (unsigned)len, 0);
	int rc = io_uring_submit(ring);
	if (rc != 1)
		die("io_uring_submit", rc < 0 ? -rc : EIO);
	struct io_uring_cqe *cqe;
	do
		rc = io_uring_wait_cqe(ring, &cqe);
	while (rc == -EINTR);
	if (rc < 0)
		die("io_uring_wait_cqe", -rc);
	int res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

/* Bytes moved by one send or receive in the given mode, or -errno. */
static long io(struct io_uring *ring, int fd, char mode, int send_op, void *buf, size_t len)
{
	if (mode != 's')
		return uring_op(ring, fd, mode, send_op, buf, len);
	ssize_t n = send_op ? send(fd, buf, len, MSG_NOSIGNAL) : recv(fd, buf, len, 0);
	return n < 0 ? -errno : n;
}

int main(int argc, char **argv)
{
	struct io_uring ring;
	int rc;
	if (argc == 2 && !strcmp(argv[1], "--probe")) {
		rc = io_uring_queue_init(8, &ring, 0);
		if (rc < 0) {
			fprintf(stderr, "uring_client: io_uring_queue_init: %s\n", strerror(-rc));
			return EXIT_NO_URING;
		}
		io_uring_queue_exit(&ring);
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: uring_client PORT {u|w|s}:PATH... | --probe\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (!strchr("uws", argv[i][0]) || argv[i][1] != ':' || argv[i][2] != '/') {
			fprintf(stderr, "uring_client: bad exchange '%s' (want u:/path, w:/path or s:/path)\n", argv[i]);
			return 2;
		}
	int port = atoi(argv[1]);
	/* The ring first: without io_uring there is nothing to test. */
	rc = io_uring_queue_init(8, &ring, 0);
	if (rc < 0) {
		fprintf(stderr, "uring_client: io_uring_queue_init: %s\n", strerror(-rc));
		return EXIT_NO_URING;
	}

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket", errno);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect", errno);

	char *buf = malloc(RESP_MAX);
	if (!buf)
		die("malloc", ENOMEM);
	for (int i = 2; i < argc; i++) {
		char mode = argv[i][0];
		size_t len;
		char *req = request(argv[i] + 2, &len);
		unsigned long tx = 0, rx = 0;
		for (size_t off = 0; off < len;) {
			long n = io(&ring, fd, mode, 1, req + off, len - off);
			if (n == -EINTR)
				continue;
			if (n <= 0)
				die("send", n < 0 ? (int)-n : EIO);
			off += (size_t)n;
			tx += (unsigned long)n;
		}
		size_t got = 0, want = 0;
		int status = 0;
		while (!want) {
			if (got == RESP_MAX)
				die("response", EMSGSIZE);
			long n = io(&ring, fd, mode, 0, buf + got, RESP_MAX - got);
			if (n == -EINTR)
				continue;
			if (n < 0)
				die("receive", (int)-n);
			if (n == 0)
				die("receive: connection closed early", EPIPE);
			got += (size_t)n;
			rx += (unsigned long)n;
			want = response_len(buf, got, &status);
		}
		if (got != want) {
			fprintf(stderr, "uring_client: %zu bytes after response %d\n", got - want, i - 1);
			return 1;
		}
		printf("mode=%c tx=%lu rx=%lu status=%d\n", mode, tx, rx, status);
	}
	close(fd);
	io_uring_queue_exit(&ring);
	free(buf);
	return 0;
}
