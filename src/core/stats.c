/* SPDX-License-Identifier: MIT */
#include "core/stats.h"

#include <inttypes.h>

void sonde_stats_json(const struct sonde_stats *s, struct sonde_buf *out)
{
	sonde_buf_puts(out, "{\"type\":\"stats\"");
#define SONDE_STATS_JSON(name, desc) sonde_buf_printf(out, ",\"" #name "\":%" PRIu64, s->name);
	SONDE_STATS_FIELDS(SONDE_STATS_JSON)
#undef SONDE_STATS_JSON
	sonde_buf_puts(out, "}\n");
}

void sonde_stats_text(const struct sonde_stats *s, struct sonde_buf *out)
{
	sonde_buf_puts(out, "sonde stats:\n");
#define SONDE_STATS_TEXT(name, desc) \
	if (s->name)                 \
		sonde_buf_printf(out, "  %-26s %12" PRIu64 "  %s\n", #name, s->name, desc);
	SONDE_STATS_FIELDS(SONDE_STATS_TEXT)
#undef SONDE_STATS_TEXT
}
