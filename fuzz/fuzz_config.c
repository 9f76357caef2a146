/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the --config loader (src/app/config.c), whose input is a
 * file an operator (or a values file rendered into a ConfigMap) supplies.
 *
 * Oracles besides the sanitizers: a refused file leaves no options and
 * says where (NAME:LINE); an accepted one gives options that each have a
 * name and a line within the file (no further than its size); parsing
 * twice gives the same options.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sonde_config a, b;
	char why[512];
	/* libyaml breaks lines at \n, \r, NEL and U+2028/9: at most a line a byte */
	size_t lines = size + 1;
	if (sonde_config_parse(data, size, "f", &a, why, sizeof(why)) < 0) {
		if (a.n || strncmp(why, "f:", 2))
			abort();
		return 0;
	}
	if (sonde_config_parse(data, size, "f", &b, why, sizeof(why)) < 0 || a.n != b.n)
		abort();
	for (size_t i = 0; i < a.n; i++) {
		if (!a.opt[i].name || strcmp(a.opt[i].name, b.opt[i].name) ||
		    !a.opt[i].line || a.opt[i].line > lines ||
		    !a.opt[i].value != !b.opt[i].value ||
		    (a.opt[i].value && strcmp(a.opt[i].value, b.opt[i].value)))
			abort();
	}
	sonde_config_free(&a);
	sonde_config_free(&b);
	return 0;
}
