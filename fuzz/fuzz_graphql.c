/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the GraphQL scanner and request/response recognition
 * (src/proto/content/graphql.c), rendered by the JSON field visitor. The input is the body (or document); option byte:
 *   bit 0-1: 0 POST application/json, 1 POST application/graphql,
 *            2 GET with the input as the target, 3 the response check only
 * Oracles besides the sanitizers: every written object is valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "proto/content/graphql.h"
#include "sink/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	uint8_t opt = data[0];
	data++;
	size--;
	struct sonde_buf out = { 0 };
	struct sonde_json_fields j;
	struct sonde_graphql *g = NULL;
	sonde_buf_puts(&out, "{\"a\":1");
	sonde_json_fields_init(&j, &out, true);
	switch (opt & 3) {
	case 0:
		g = sonde_graphql_parse_request((const uint8_t *)"POST", 4, (const uint8_t *)"/", 1,
						(const uint8_t *)"application/json", 16, data, size);
		break;
	case 1:
		g = sonde_graphql_parse_request((const uint8_t *)"POST", 4, (const uint8_t *)"/", 1,
						(const uint8_t *)"application/graphql", 19, data, size);
		break;
	case 2:
		g = sonde_graphql_parse_request((const uint8_t *)"GET", 3, data, size, NULL, 0, NULL, 0);
		break;
	default:
		(void)sonde_graphql_has_errors(data, size);
		g = sonde_graphql_parse_doc(data, size);
		sonde_graphql_doc_fields(g, &sonde_json_field_ops, &j);
		sonde_graphql_free(g);
		g = NULL;
		break;
	}
	if (g)
		sonde_graphql_fields(g, &sonde_json_field_ops, &j);
	sonde_graphql_free(g);
	sonde_buf_puts(&out, "}\n");
	fuzz_check_jsonl(out.p, out.len);
	sonde_buf_free(&out);
	return 0;
}
