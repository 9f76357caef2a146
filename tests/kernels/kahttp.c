/* SPDX-License-Identifier: MIT */
/*
 * kahttp: a tiny HTTP/1.1 keep-alive server and client for the kernel matrix
 * (tests/kernels/run). Linked statically so it runs in the test guests.
 *
 *   kahttp serve ADDR PORT        listen, then go to the background (the
 *                                 parent exits once the socket listens);
 *                                 answers GET PATH with 200 and the body
 *                                 "ka PATH\n", keeping connections open
 *   kahttp get ADDR PORT PATH...  one connection, the requests one after the
 *                                 other (the last with Connection: close),
 *                                 each response read in full; prints the
 *                                 bodies; exits 0 if every status was 200
 *   kahttp flood ADDR PORT N      a listener of backlog 1 that never accepts,
 *                                 and N connects to it at once: the kernel
 *                                 drops the SYNs beyond its accept queue;
 *                                 waits 1.5 s (the SYNs sent again) and exits
 *   kahttp bench ADDR PORT SECS   requests one after the other on one
 *                                 connection for SECS seconds; prints the
 *                                 count and the seconds taken
 *
 * The server reads with read() and answers with writev(); the client sends
 * with send() and reads with recv(): more system calls than busybox uses.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BUF 8192

static int addr_of(const char *ip, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)atoi(port));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

/* One connection: answer requests until the client closes or asks to. */
static void serve_conn(int fd)
{
	char buf[BUF];
	size_t have = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == sizeof(buf))
				return;
			ssize_t n = read(fd, buf + have, sizeof(buf) - have);
			if (n <= 0)
				return;
			have += (size_t)n;
		}
		size_t head = (size_t)(end + 4 - buf);
		char path[256] = "/";
		sscanf(buf, "GET %255s ", path);
		*end = '\0';
		int close_after = strcasestr(buf, "\r\nConnection: close") != NULL;
		char body[300], hdr[256];
		int blen = snprintf(body, sizeof(body), "ka %s\n", path);
		int hlen = snprintf(hdr, sizeof(hdr),
				    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n",
				    blen, close_after ? "Connection: close\r\n" : "");
		struct iovec iov[2] = { { hdr, (size_t)hlen }, { body, (size_t)blen } };
		if (writev(fd, iov, 2) != hlen + blen || close_after)
			return;
		memmove(buf, buf + head, have - head);
		have -= head;
	}
}

static int serve(const char *ip, const char *port)
{
	struct sockaddr_in sa;
	if (addr_of(ip, port, &sa) < 0)
		return 2;
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 16) < 0) {
		perror("kahttp: listen");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid > 0) { /* listening: hand the server's pid to the caller */
		printf("%d\n", (int)pid);
		return 0;
	}
	/* Let go of the caller's output (a $(...) waits for every writer). */
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		serve_conn(fd);
		close(fd);
	}
}

/* One request for path on fd and its response read in full (buf holds
 * what was read ahead); the body to out unless NULL. Returns the status, or
 * -1 when the connection failed. */
static int exchange(int fd, const char *ip, const char *port, const char *path, bool last, char *buf,
		    size_t *have, FILE *out)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: kahttp\r\n%s\r\n",
			 path, ip, port, last ? "Connection: close\r\n" : "");
	if (send(fd, req, (size_t)n, 0) != n) {
		perror("kahttp: send");
		return -1;
	}
	char *end;
	while (!(end = memmem(buf, *have, "\r\n\r\n", 4))) {
		ssize_t r = *have < BUF ? recv(fd, buf + *have, BUF - *have, 0) : -1;
		if (r <= 0) {
			fprintf(stderr, "kahttp: %s: connection ended before the response\n", path);
			return -1;
		}
		*have += (size_t)r;
	}
	size_t head = (size_t)(end + 4 - buf);
	*end = '\0';
	int status = 0;
	sscanf(buf, "HTTP/1.%*d %d", &status);
	char *cl = strcasestr(buf, "\r\nContent-Length:");
	size_t blen = cl ? strtoul(cl + 17, NULL, 10) : 0;
	if (blen > BUF - head) {
		fprintf(stderr, "kahttp: %s: body too large\n", path);
		return -1;
	}
	while (*have < head + blen) {
		ssize_t r = recv(fd, buf + *have, BUF - *have, 0);
		if (r <= 0) {
			fprintf(stderr, "kahttp: %s: body cut short\n", path);
			return -1;
		}
		*have += (size_t)r;
	}
	if (out)
		fwrite(buf + head, 1, blen, out);
	memmove(buf, buf + head + blen, *have - head - blen);
	*have -= head + blen;
	return status;
}

static int connect_to(const char *ip, const char *port)
{
	struct sockaddr_in sa;
	if (addr_of(ip, port, &sa) < 0)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("kahttp: connect");
		return -1;
	}
	return fd;
}

static int get(const char *ip, const char *port, char **paths, int npaths)
{
	int fd = connect_to(ip, port);
	if (fd < 0)
		return 1;
	int rc = 0;
	char buf[BUF];
	size_t have = 0;
	for (int i = 0; i < npaths; i++) {
		int status = exchange(fd, ip, port, paths[i], i == npaths - 1, buf, &have, stdout);
		if (status < 0)
			return 1;
		if (status != 200) {
			fprintf(stderr, "kahttp: %s: status %d\n", paths[i], status);
			rc = 1;
		}
	}
	close(fd);
	return rc;
}

static int flood(const char *ip, const char *port, int n)
{
	struct sockaddr_in sa;
	if (addr_of(ip, port, &sa) < 0 || n < 1 || n > 64)
		return 2;
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0) {
		perror("kahttp flood: listen");
		return 1;
	}
	int fds[64];
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)); /* EINPROGRESS */
	}
	usleep(1500000);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(l);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Requests one after the other on one keep-alive connection for `secs`
 * seconds (bench/kernel_overhead): prints "requests seconds". */
static int bench(const char *ip, const char *port, const char *secs)
{
	int fd = connect_to(ip, port);
	if (fd < 0)
		return 1;
	char buf[BUF];
	size_t have = 0;
	double t0 = now_s(), until = t0 + atof(secs), t = t0;
	long n = 0;
	while (t < until) {
		if (exchange(fd, ip, port, "/bench", false, buf, &have, NULL) != 200)
			return 1;
		n++;
		if (!(n & 15))
			t = now_s();
	}
	t = now_s();
	printf("%ld %.3f\n", n, t - t0);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "flood"))
		return flood(argv[2], argv[3], atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argv[3]);
	if (argc >= 5 && !strcmp(argv[1], "get"))
		return get(argv[2], argv[3], argv + 4, argc - 4);
	if (argc == 5 && !strcmp(argv[1], "bench"))
		return bench(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: kahttp serve ADDR PORT | kahttp get ADDR PORT PATH... | "
			"kahttp bench ADDR PORT SECONDS | kahttp flood ADDR PORT N\n");
	return 2;
}
