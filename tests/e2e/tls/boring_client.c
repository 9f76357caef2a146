/*
 * An HTTPS client linked against BoringSSL (Debian's android-libboringssl-dev):
 * one GET over TLS to 127.0.0.1, the response on stdout.
 *
 * Usage: boring_client PORT TARGET [--wait]
 * With --wait it prints "ready" once loaded and connects only after a line
 * arrives on stdin (so a tracer can start in between).
 *
 * Build: cc -I/usr/include/android -o boring_client boring_client.c
 *        -L/usr/lib/x86_64-linux-gnu/android -Wl,-rpath,/usr/lib/x86_64-linux-gnu/android
 *        -lssl -lcrypto
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef OPENSSL_IS_BORINGSSL
#error "build against BoringSSL (-I/usr/include/android)"
#endif

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s PORT TARGET [--wait]\n", argv[0]);
		return 2;
	}
	if (argc > 3 && strcmp(argv[3], "--wait") == 0) {
		char line[64];
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof line, stdin))
			return 3;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		perror("connect");
		return 1;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	char req[1024];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: boring_client\r\n"
			 "Connection: close\r\n\r\n",
			 argv[2]);
	if (SSL_write(ssl, req, n) != n) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	char buf[16384];
	int got;
	while ((got = SSL_read(ssl, buf, sizeof buf)) > 0)
		fwrite(buf, 1, (size_t)got, stdout);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return 0;
}
