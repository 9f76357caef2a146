/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the TLS stage of read --tls-keylog (src/proto/tls/): the key
 * log parser, then both directions' record framing, hellos, key schedule
 * and decryption, with gaps.
 *
 * Input layout: u16 LE length of a key log, the key log's text, then events:
 * one byte (bit 0: the side; bits 1-2: 0 data, 1 gap, 2 data split byte by
 * byte), a u16 LE length, and for data that many bytes. The seeds
 * (fuzz/make_seeds_tls.py) are real TLS 1.2 and 1.3 sessions with the key
 * log that opens them, so mutations reach the decrypted paths.
 *
 * Oracles besides the sanitizers: plaintext handed on is never empty and
 * never more, per side, than the bytes that side fed; gaps only after the
 * key log gave keys (nothing is owed of a connection never decrypted)
 * are not checked: what matters is no invented bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "proto/tls/keylog.h"
#include "proto/tls/tls_decrypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
	uint64_t plain[2];
	uint64_t fed[2];
};

static void on_data(void *ctx, int side, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)ts;
	struct out *o = ctx;
	FUZZ_CHECK(n > 0 && (side == 0 || side == 1), "n %zu side %d", n, side);
	volatile uint8_t touch = p[0] ^ p[n - 1]; /* the bytes are readable */
	(void)touch;
	o->plain[side] += n;
	FUZZ_CHECK(o->plain[side] <= o->fed[side], "plaintext %llu of %llu fed",
		   (unsigned long long)o->plain[side], (unsigned long long)o->fed[side]);
}

static void on_gap(void *ctx, int side, uint64_t n, uint64_t ts)
{
	(void)ctx, (void)ts;
	FUZZ_CHECK(n > 0 && (side == 0 || side == 1), "gap %llu side %d", (unsigned long long)n,
		   side);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t kn = data[0] | (size_t)data[1] << 8;
	if (kn > size - 2)
		return 0;
	char err[256];
	struct sonde_keylog *kl = sonde_keylog_parse((const char *)data + 2, kn, err, sizeof(err));
	if (!kl)
		return 0;
	struct sonde_stats st;
	memset(&st, 0, sizeof(st));
	struct out o = { { 0, 0 }, { 0, 0 } };
	struct sonde_tls_out to = { on_data, on_gap, &o };
	struct sonde_tls_decrypt *d = sonde_tls_decrypt_new(kl, &st, &to);
	size_t i = 2 + kn;
	while (i + 3 <= size) {
		int side = data[i] & 1, op = (data[i] >> 1) & 3;
		size_t n = data[i + 1] | (size_t)data[i + 2] << 8;
		i += 3;
		if (op == 1) {
			sonde_tls_decrypt_gap(d, side, n, i);
			continue;
		}
		if (n > size - i)
			n = size - i;
		o.fed[side] += n;
		if (op == 2) {
			for (size_t k = 0; k < n; k++)
				sonde_tls_decrypt_data(d, side, data + i + k, 1, i);
		} else {
			sonde_tls_decrypt_data(d, side, data + i, n, i);
		}
		i += n;
	}
	sonde_tls_decrypt_finish(d, size);
	sonde_tls_decrypt_free(d);
	sonde_keylog_free(kl);
	return 0;
}
