/* SPDX-License-Identifier: MIT */
/* The dissector fuzzers' common session setup. */
#ifndef SONDE_FUZZ_SESSION_H
#define SONDE_FUZZ_SESSION_H

#include <stdint.h>
#include <string.h>

#include "proto/dissector.h"

/* A dissector session as the connection table opens one. Bits of o: 1 decode
 * bodies, 2/4 client/server side mid-stream, 8 tight limits, 16 IPv6. */
struct fuzz_session {
	struct sonde_dissect_opts dopts;
	struct sonde_pending_budget pending;
	struct sonde_conn_info info;
	struct sonde_stats stats;
	struct sonde_session sess;
};

static inline void fuzz_session_init(struct fuzz_session *f, uint8_t o,
				     const struct sonde_record_out *out)
{
	memset(f, 0, sizeof(*f));
	f->dopts = (struct sonde_dissect_opts){
		.body_limit = 64u << 10,
		.max_head = 64u << 10,
		.max_waiting = 1024,
		.decode_bodies = o & 1,
	};
	f->pending = (struct sonde_pending_budget){ 0, 256u << 20 };
	if (o & 8) {
		f->dopts.body_limit = 64;
		f->dopts.max_head = 256;
		f->dopts.max_waiting = 2;
		f->pending.limit = 1024;
	}
	f->dopts.pending_mem = f->pending.limit;
	f->info.id = 1;
	f->info.l4 = SONDE_L4_TCP;
	f->info.origin = SONDE_ORIGIN_PCAP_FILE;
	f->info.source = "fuzz";
	f->info.role_known = true;
	f->info.midstream = (o & 6) != 0;
	if (o & 16) {
		f->info.client.family = f->info.server.family = 10; /* AF_INET6 */
		f->info.client.addr[15] = 1;
		f->info.server.addr[0] = 0x20, f->info.server.addr[1] = 0x01, f->info.server.addr[15] = 2;
	} else {
		f->info.client.family = f->info.server.family = 2; /* AF_INET */
		memcpy(f->info.client.addr, "\x0a\x00\x00\x01", 4);
		memcpy(f->info.server.addr, "\x0a\x00\x00\x02", 4);
	}
	f->info.client.port = 40000;
	f->info.server.port = 80;

	f->sess.conn = &f->info;
	f->sess.opts = &f->dopts;
	f->sess.stats = &f->stats;
	f->sess.midstream[SONDE_DIR_C2S] = (o >> 1) & 1;
	f->sess.midstream[SONDE_DIR_S2C] = (o >> 2) & 1;
	sonde_pairing_init(&f->sess.pairing, &f->info, out, &f->stats, f->dopts.max_waiting, &f->pending);
}


#endif
