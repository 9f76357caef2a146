/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the AMQP 0-9-1 dissector (sonde_dissector_amqp) on both
 * directions of one connection, split where the input says, with gaps and
 * direction ends injected (layout and oracles: fuzz_stream.h). Seeds:
 * fuzz/corpus/fuzz_amqp/ (fuzz/make_seeds_amqp.py: a whole session,
 * midstream, gaps, garbage).
 */
#include "fuzz_stream.h"

extern const struct sonde_dissector sonde_dissector_amqp;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_stream_run(&sonde_dissector_amqp, 5672, data, size);
	return 0;
}
