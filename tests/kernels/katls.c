/* SPDX-License-Identifier: MIT */
/*
 * katls: kahttp over TLS, for the kernel matrix (tests/kernels/run). OpenSSL
 * is linked in statically (Debian's libssl.a/libcrypto.a, -static) and the
 * binary is not stripped: sonde must find SSL_read/SSL_write in this
 * program's own symbol table (.symtab), as it does for any program with TLS
 * linked in.
 *
 *   katls serve ADDR PORT CERT KEY   listen, then go to the background (the
 *                                    parent prints the server's pid and exits
 *                                    once the socket listens); answers GET
 *                                    PATH with 200 and the body "tls PATH\n",
 *                                    keeping connections open
 *   katls get ADDR PORT PATH...      one TLS connection, the requests one
 *                                    after the other (the last with
 *                                    Connection: close), each response read in
 *                                    full; prints the bodies; exits 0 if every
 *                                    status was 200
 *   katls version                    prints OpenSSL_version(): the text sonde
 *                                    reports as the library's version
 *
 * Both ends use SSL_read/SSL_write on a socket BIO (SSL_set_fd). The client
 * does not verify the (throwaway, self-signed) certificate.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 8192

static int addr_of(const char *ip, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)atoi(port));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static void ssl_fail(const char *what)
{
	fprintf(stderr, "katls: %s failed\n", what);
	ERR_print_errors_fp(stderr);
}

/* Every byte of p, or -1. */
static int write_all(SSL *ssl, const char *p, int n)
{
	while (n > 0) {
		int w = SSL_write(ssl, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

/* One connection: answer requests until the client closes or asks to. */
static void serve_conn(SSL *ssl)
{
	char buf[BUF];
	size_t have = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == sizeof(buf))
				return;
			int n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - have));
			if (n <= 0)
				return;
			have += (size_t)n;
		}
		size_t head = (size_t)(end + 4 - buf);
		char path[256] = "/";
		sscanf(buf, "GET %255s ", path);
		*end = '\0';
		int close_after = strcasestr(buf, "\r\nConnection: close") != NULL;
		char body[300], resp[700];
		int blen = snprintf(body, sizeof(body), "tls %s\n", path);
		int n = snprintf(resp, sizeof(resp),
				 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s",
				 blen, close_after ? "Connection: close\r\n" : "", body);
		if (write_all(ssl, resp, n) < 0 || close_after)
			return;
		memmove(buf, buf + head, have - head);
		have -= head;
	}
}

static int serve(const char *ip, const char *port, const char *cert, const char *key)
{
	struct sockaddr_in sa;
	if (addr_of(ip, port, &sa) < 0)
		return 2;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ssl_fail("loading the certificate and key");
		return 1;
	}
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 16) < 0) {
		perror("katls: listen");
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
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		SSL *ssl = SSL_new(ctx);
		if (ssl && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
			serve_conn(ssl);
			SSL_shutdown(ssl);
		}
		SSL_free(ssl);
		close(fd);
	}
}

static int get(const char *ip, const char *port, char **paths, int npaths)
{
	struct sockaddr_in sa;
	if (addr_of(ip, port, &sa) < 0)
		return 2;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_fail("SSL_CTX_new");
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("katls: connect");
		return 1;
	}
	SSL *ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
		ssl_fail("the TLS handshake");
		return 1;
	}
	int rc = 0;
	char buf[BUF];
	size_t have = 0;
	for (int i = 0; i < npaths; i++) {
		char req[512];
		int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: katls\r\n%s\r\n",
				 paths[i], ip, port, i == npaths - 1 ? "Connection: close\r\n" : "");
		if (write_all(ssl, req, n) < 0) {
			ssl_fail("SSL_write");
			return 1;
		}
		char *end;
		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			int r = have < sizeof(buf) ? SSL_read(ssl, buf + have, (int)(sizeof(buf) - have)) : -1;
			if (r <= 0) {
				fprintf(stderr, "katls: %s: connection ended before the response\n", paths[i]);
				return 1;
			}
			have += (size_t)r;
		}
		size_t head = (size_t)(end + 4 - buf);
		*end = '\0';
		int status = 0;
		sscanf(buf, "HTTP/1.%*d %d", &status);
		char *cl = strcasestr(buf, "\r\nContent-Length:");
		size_t blen = cl ? strtoul(cl + 17, NULL, 10) : 0;
		if (blen > sizeof(buf) - head) {
			fprintf(stderr, "katls: %s: body too large\n", paths[i]);
			return 1;
		}
		while (have < head + blen) {
			int r = SSL_read(ssl, buf + have, (int)(sizeof(buf) - have));
			if (r <= 0) {
				fprintf(stderr, "katls: %s: body cut short\n", paths[i]);
				return 1;
			}
			have += (size_t)r;
		}
		fwrite(buf + head, 1, blen, stdout);
		if (status != 200) {
			fprintf(stderr, "katls: %s: status %d\n", paths[i], status);
			rc = 1;
		}
		memmove(buf, buf + head + blen, have - head - blen);
		have -= head + blen;
	}
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argv[3], argv[4], argv[5]);
	if (argc >= 5 && !strcmp(argv[1], "get"))
		return get(argv[2], argv[3], argv + 4, argc - 4);
	if (argc == 2 && !strcmp(argv[1], "version")) {
		printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
		return 0;
	}
	fprintf(stderr, "usage: katls serve ADDR PORT CERT KEY | katls get ADDR PORT PATH... | katls version\n");
	return 2;
}
