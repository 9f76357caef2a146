/* SPDX-License-Identifier: MIT */
/*
 * One unary gRPC call over a unix socket (HTTP/2 without TLS, through
 * libnghttp2's client session): what the CRI client needs from a runtime's
 * socket, and no more. Blocking, with a deadline: it runs on the CRI
 * client's own thread, never on the capture's.
 */
#ifndef SONDE_ENRICH_GRPC_UNIX_H
#define SONDE_ENRICH_GRPC_UNIX_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* A response message bigger than this is refused (a node's pod list is
 * far smaller). */
#define SONDE_GRPC_RESPONSE_MAX (16u << 20)

enum {
	SONDE_GRPC_OK = 0,
	SONDE_GRPC_IO = -1, /* connect, read or write failed, or the deadline passed */
	SONDE_GRPC_PROTOCOL = -2, /* not HTTP/2 gRPC, or a response over the bound */
	SONDE_GRPC_STATUS = -3, /* the server answered with a non-zero grpc-status */
};

/*
 * Call path (e.g. "/runtime.v1.RuntimeService/ListPodSandbox") on the
 * socket with the request message req (n bytes), waiting at most
 * timeout_ms; the response message is appended to out. Returns one of the
 * codes above; *grpc_status is the server's status (-1 when none came).
 * why gets one line on failure.
 */
int sonde_grpc_unix_call(const char *socket_path, const char *path, const uint8_t *req, size_t n,
			 int timeout_ms, struct sonde_buf *out, int *grpc_status, char *why,
			 size_t whylen);

#endif
