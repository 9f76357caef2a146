// SPDX-License-Identifier: MIT
/* The CRI client's gRPC call (enrich/grpc_unix.c) against sockets that
 * misbehave: nothing listening, a peer that closes, one that answers
 * something other than HTTP/2, one that never answers (the deadline). A
 * real runtime's answers are tested live (tests/e2e/test_cri_live.py). */
#include "testutil.h"

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "enrich/grpc_unix.h"

struct peer {
	int lfd;
	const char *reply; /* NULL: say nothing, hold the connection */
	bool close_at_once;
};

static void *serve(void *arg)
{
	struct peer *p = arg;
	int c = accept(p->lfd, NULL, NULL);
	if (c < 0)
		return NULL;
	if (p->close_at_once) {
		close(c);
		return NULL;
	}
	char buf[4096];
	ssize_t r = read(c, buf, sizeof(buf));
	(void)r;
	if (p->reply && write(c, p->reply, strlen(p->reply)) < 0)
		return NULL;
	sleep(1); /* the client gives up first, or reads the reply */
	close(c);
	return NULL;
}

static int listen_at(char *path, size_t len)
{
	snprintf(path, len, "/tmp/sonde-test-grpc.%d.sock", getpid());
	unlink(path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static int call_peer(struct peer *p, int timeout_ms, char *why, size_t whylen)
{
	char path[108];
	p->lfd = listen_at(path, sizeof(path));
	pthread_t t;
	pthread_create(&t, NULL, serve, p);
	struct sonde_buf out = { 0 };
	int status;
	int rc = sonde_grpc_unix_call(path, "/runtime.v1.RuntimeService/ListPodSandbox", NULL, 0,
				      timeout_ms, &out, &status, why, whylen);
	assert_int_equal(out.len, 0);
	assert_int_equal(status, -1);
	sonde_buf_free(&out);
	pthread_join(t, NULL);
	close(p->lfd);
	unlink(path);
	return rc;
}

static void nothing_listening(void **st)
{
	(void)st;
	struct sonde_buf out = { 0 };
	char why[256];
	int status;
	assert_int_equal(sonde_grpc_unix_call("/nonexistent/sonde.sock", "/x", NULL, 0, 100, &out,
					      &status, why, sizeof(why)),
			 SONDE_GRPC_IO);
	assert_non_null(strstr(why, "connect"));
}

static void peer_closes(void **st)
{
	(void)st;
	struct peer p = { .close_at_once = true };
	char why[256];
	assert_int_equal(call_peer(&p, 2000, why, sizeof(why)), SONDE_GRPC_IO);
}

static void not_http2(void **st)
{
	(void)st;
	struct peer p = { .reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" };
	char why[256];
	assert_int_equal(call_peer(&p, 2000, why, sizeof(why)), SONDE_GRPC_PROTOCOL);
}

static void deadline(void **st)
{
	(void)st;
	struct peer p = { 0 };
	char why[256];
	assert_int_equal(call_peer(&p, 200, why, sizeof(why)), SONDE_GRPC_IO);
	assert_non_null(strstr(why, "in time"));
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(nothing_listening),
		tu_test(peer_closes),
		tu_test(not_http2),
		tu_test(deadline),
	};
	return cmocka_run_group_tests_name("grpc_unix", tests, NULL, NULL);
}
