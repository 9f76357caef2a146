/*
 * An HTTPS client that loads its TLS library late: it starts without any TLS
 * library mapped, waits for a line on stdin, then dlopen()s the library
 * given (libssl.so.3, or BoringSSL's libssl.so.0: the calls used are common
 * to both), waits DELAY_MS, and does one GET over TLS to 127.0.0.1 through
 * function pointers from dlsym(). The response goes to stdout.
 *
 * Usage: dlopen_client LIBSSL PORT TARGET DELAY_MS
 * Build: cc -o dlopen_client dlopen_client.c -ldl
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef void *(*method_fn)(void);
typedef void *(*ctx_new_fn)(void *);
typedef void *(*ssl_new_fn)(void *);
typedef int (*set_fd_fn)(void *, int);
typedef int (*connect_fn)(void *);
typedef int (*write_fn)(void *, const void *, int);
typedef int (*read_fn)(void *, void *, int);
typedef long (*ctrl_fn)(void *, int, long, void *);
typedef int (*sni_fn)(void *, const char *);

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);
	if (!p) {
		fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s LIBSSL PORT TARGET DELAY_MS\n", argv[0]);
		return 2;
	}
	char line[64];
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 3;

	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	printf("loaded\n");
	fflush(stdout);
	long ms = atol(argv[4]);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);

	method_fn client_method = (method_fn)sym(h, "TLS_client_method");
	ctx_new_fn ctx_new = (ctx_new_fn)sym(h, "SSL_CTX_new");
	ssl_new_fn ssl_new = (ssl_new_fn)sym(h, "SSL_new");
	set_fd_fn set_fd = (set_fd_fn)sym(h, "SSL_set_fd");
	connect_fn ssl_connect = (connect_fn)sym(h, "SSL_connect");
	write_fn ssl_write = (write_fn)sym(h, "SSL_write");
	read_fn ssl_read = (read_fn)sym(h, "SSL_read");
	connect_fn ssl_shutdown = (connect_fn)sym(h, "SSL_shutdown");
	/* SNI: a function in BoringSSL, a macro over SSL_ctrl in OpenSSL */
	sni_fn set_host = (sni_fn)dlsym(h, "SSL_set_tlsext_host_name");
	ctrl_fn ssl_ctrl = set_host ? NULL : (ctrl_fn)sym(h, "SSL_ctrl");

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		perror("connect");
		return 1;
	}
	/* client default: no certificate verification (SSL_VERIFY_NONE) */
	void *ctx = ctx_new(client_method());
	void *ssl = ssl_new(ctx);
	set_fd(ssl, fd);
	if (set_host)
		set_host(ssl, "localhost");
	else
		ssl_ctrl(ssl, 55 /* SSL_CTRL_SET_TLSEXT_HOSTNAME */, 0 /* host_name */, "localhost");
	if (!ctx || !ssl || ssl_connect(ssl) != 1) {
		fprintf(stderr, "handshake failed\n");
		return 1;
	}
	char req[1024];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: dlopen_client\r\n"
			 "Connection: close\r\n\r\n",
			 argv[3]);
	if (ssl_write(ssl, req, n) != n) {
		fprintf(stderr, "SSL_write failed\n");
		return 1;
	}
	char buf[16384];
	int got;
	while ((got = ssl_read(ssl, buf, sizeof buf)) > 0)
		fwrite(buf, 1, (size_t)got, stdout);
	ssl_shutdown(ssl);
	close(fd);
	return 0;
}
