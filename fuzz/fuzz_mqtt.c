/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the MQTT dissector (sonde_dissector_mqtt) on both directions
 * of one connection, split where the input says, with gaps and direction
 * ends injected (layout and oracles: fuzz_stream.h). Seeds:
 * fuzz/corpus/fuzz_mqtt/ (fuzz/make_seeds_mqtt.py: 3.1.1 and 5.0 sessions,
 * midstream, gaps, garbage).
 */
#include "fuzz_stream.h"

extern const struct sonde_dissector sonde_dissector_mqtt;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_stream_run(&sonde_dissector_mqtt, 1883, data, size);
	return 0;
}
