/* SPDX-License-Identifier: MIT */
/* The content dissector table and its lookups (see content.h). */
#include "proto/content/content.h"

/* In lookup order: the first that claims a message has it. */
static const struct sonde_content_dissector *const table[] = {
	&sonde_content_grpc,
	&sonde_content_graphql,
	NULL,
};

static bool applies(const struct sonde_content_dissector *cd, const struct sonde_http_msg *m)
{
	return cd->versions & SONDE_CONTENT_VER(m->ver);
}

const struct sonde_content_dissector *sonde_content_head(const struct sonde_http_msg *m)
{
	for (size_t i = 0; table[i]; i++)
		if (applies(table[i], m) && table[i]->match_head && table[i]->match_head(m))
			return table[i];
	return NULL;
}

void sonde_content_attach(struct sonde_http_msg *m, const struct sonde_content_dissector *cd)
{
	m->cd = cd;
	m->content = cd->open ? cd->open(m) : NULL;
}

const struct sonde_content_dissector *sonde_content_request(struct sonde_http_msg *m)
{
	for (size_t i = 0; table[i]; i++) {
		const struct sonde_content_dissector *cd = table[i];
		if (!applies(cd, m) || !cd->match_request)
			continue;
		void *st = cd->match_request(m);
		if (st) {
			m->cd = cd;
			m->content = st;
			return cd;
		}
	}
	return NULL;
}

void sonde_content_finish(struct sonde_http_msg *m, const struct sonde_content_ctx *c)
{
	if (m->cd && m->cd->finish)
		m->content = m->cd->finish(m, m->content, c);
}
