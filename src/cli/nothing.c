/* SPDX-License-Identifier: MIT */
/*
 * When a run wrote no exchange, one line on stderr says what it saw instead,
 * so an empty result is never silent ("no HTTP in 12 TCP connections...").
 */
#include <inttypes.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/stats.h"
#include "cli/cli.h"

static void size_of(struct sonde_buf *b, uint64_t n)
{
	if (n < 10000)
		sonde_buf_printf(b, "%" PRIu64 " B", n);
	else if (n < 10000000)
		sonde_buf_printf(b, "%.1f kB", (double)n / 1e3);
	else
		sonde_buf_printf(b, "%.1f MB", (double)n / 1e6);
}

static void part(struct sonde_buf *b, const char *s)
{
	sonde_buf_puts(b, b->len ? "; " : "");
	sonde_buf_puts(b, s);
}

void sonde_say_nothing(const struct sonde_stats *st, const char *what)
{
	/* connection records alone still leave the question of the exchanges */
	if (st->records > st->tcp_connection_records)
		return;
	struct sonde_buf b = { 0 };
	char t[160];
	uint64_t plain = st->connections - st->tls_encrypted_connections;
	if (plain) {
		snprintf(t, sizeof(t),
			 "%" PRIu64 " TCP connection%s, none in a protocol sonde dissects (", plain,
			 plain == 1 ? "" : "s");
		part(&b, t);
		size_of(&b, st->undetected_bytes + st->skipped_bytes);
		sonde_buf_puts(&b, ")");
	}
	if (st->tls_encrypted_connections) {
		snprintf(t, sizeof(t), "%" PRIu64 " seen only as TLS ciphertext",
			 st->tls_encrypted_connections);
		part(&b, t);
	}
	if (st->udp_datagrams) {
		snprintf(t, sizeof(t), "%" PRIu64 " UDP datagram%s", st->udp_datagrams,
			 st->udp_datagrams == 1 ? "" : "s");
		part(&b, t);
	}
	uint64_t other = st->frames_non_ip + st->frames_unsupported_link + st->other_l4 +
			 st->frames_malformed + st->ipv4_fragments + st->ipv6_fragments;
	if (other) {
		snprintf(t, sizeof(t), "%" PRIu64 " frames of other protocols or damaged", other);
		part(&b, t);
	}
	const char *none = st->records ? "no exchanges" : "no records";
	if (!b.len)
		sonde_errorf("%s: %s", none, what);
	else
		sonde_errorf("%s: %.*s (see --stats)", none, (int)b.len, b.p);
	sonde_buf_free(&b);
}
