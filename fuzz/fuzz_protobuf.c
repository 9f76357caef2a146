/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the protobuf wire-format decoder (src/proto/protobuf.c) and
 * the gRPC message writer built on it (src/proto/grpc.c).
 *
 * Input layout: u8 options, then the bytes to decode.
 *   options & 7         max_depth (0: default 8)
 *   options & 0x08      tight output limit (256 bytes) and 16 fields
 *   options & 0x10      also write the bytes as a gRPC body (framer fed in
 *                       two pieces), gzip-encoded if options & 0x20, as
 *                       +json if options & 0x40
 *   options & 0x80      also read the bytes as a FileDescriptorSet
 *                       (protodesc.c) and, if they are one, decode them as
 *                       each of its first 8 message types (and as a gRPC
 *                       body typed with the first)
 *
 * Oracles besides the sanitizers: on error the output buffer is unchanged;
 * on success it is one JSON object within the output limit; the gRPC writer's
 * output, wrapped in braces, is valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "proto/content/grpc.h"
#include "proto/content/protobuf.h"
#include "proto/content/protodesc.h"
#include "sink/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	uint8_t opt = data[0];
	data++;
	size--;
	struct sonde_pb_limits lim = { .max_depth = opt & 7 };
	if (opt & 0x08) {
		lim.max_out = 256;
		lim.max_fields = 16;
	}
	struct sonde_buf out = { 0 };
	sonde_buf_puts(&out, "{\"v\":");
	size_t mark = out.len;
	int rv = sonde_pb_decode(data, size, &out, &lim);
	if (rv) {
		if (out.len != mark || (rv != SONDE_PB_MALFORMED && rv != SONDE_PB_TOO_LARGE))
			abort();
	} else {
		if ((opt & 0x08) && out.len - mark > 256)
			abort();
		sonde_buf_puts(&out, "}\n");
		fuzz_check_jsonl(out.p, out.len);
	}
	if (opt & 0x10) {
		struct sonde_grpc_framer f = { 0 };
		size_t half = size / 2;
		sonde_grpc_feed(&f, data, half);
		sonde_grpc_feed(&f, data + half, size - half);
		sonde_buf_reset(&out);
		sonde_buf_putc(&out, '{');
		struct sonde_json_fields j;
		sonde_json_fields_init(&j, &out, false);
		sonde_grpc_messages_fields(data, size, &f, opt & 0x20 ? (const uint8_t *)"gzip" : NULL,
					   opt & 0x20 ? 4 : 0, opt & 0x40, 4096, NULL,
					   &sonde_json_field_ops, &j);
		sonde_buf_puts(&out, "}\n");
		fuzz_check_jsonl(out.p, out.len);
	}
	if (opt & 0x80) {
		char err[128];
		struct sonde_protodesc *d = sonde_protodesc_parse(data, size, err, sizeof(err));
		if (d) {
			size_t files, msgs, methods;
			sonde_protodesc_counts(d, &files, &msgs, &methods);
			for (size_t i = 0; i < msgs && i < 8; i++) {
				sonde_buf_reset(&out);
				sonde_buf_puts(&out, "{\"v\":");
				size_t m2 = out.len;
				int r = sonde_pd_decode(sonde_protodesc_msg_at(d, i), data, size, &out, &lim);
				if (r) {
					if (out.len != m2)
						abort();
					continue;
				}
				sonde_buf_puts(&out, "}\n");
				fuzz_check_jsonl(out.p, out.len);
			}
			if (msgs) {
				struct sonde_grpc_framer f = { 0 };
				sonde_grpc_feed(&f, data, size);
				sonde_buf_reset(&out);
				sonde_buf_putc(&out, '{');
				struct sonde_json_fields j;
				sonde_json_fields_init(&j, &out, false);
				sonde_grpc_messages_fields(data, size, &f, NULL, 0, false, 4096,
							   sonde_protodesc_msg_at(d, 0),
							   &sonde_json_field_ops, &j);
				sonde_buf_puts(&out, "}\n");
				fuzz_check_jsonl(out.p, out.len);
			}
			sonde_protodesc_free(d);
		} else if (!*err) {
			abort(); /* a failure always says why */
		}
	}
	sonde_buf_free(&out);
	return 0;
}
