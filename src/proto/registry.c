/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "proto/dissector.h"

extern const struct sonde_dissector sonde_dissector_http1;
extern const struct sonde_dissector sonde_dissector_http2;
extern const struct sonde_dissector sonde_dissector_redis;
extern const struct sonde_dissector sonde_dissector_tls;
extern const struct sonde_dissector sonde_dissector_dns;
extern const struct sonde_dissector sonde_dissector_mqtt;
extern const struct sonde_dissector sonde_dissector_amqp;
extern const struct sonde_dissector sonde_dissector_kafka;

const struct sonde_dissector *const sonde_dissectors[] = {
	&sonde_dissector_http1,
	&sonde_dissector_http2,
	&sonde_dissector_tls,
	&sonde_dissector_redis, /* after HTTP: HTTP's bytes are HTTP's */
	&sonde_dissector_dns,
	&sonde_dissector_mqtt,
	&sonde_dissector_amqp,
	&sonde_dissector_kafka, /* its probe wants a request header */
	NULL,
};

const struct sonde_dissector *sonde_dissector_find(const char *name)
{
	for (size_t i = 0; sonde_dissectors[i]; i++)
		if (!strcmp(sonde_dissectors[i]->name, name))
			return sonde_dissectors[i];
	return NULL;
}

bool sonde_dissect_no_body(const struct sonde_dissect_opts *o, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = o->no_bodies; *p;) {
		size_t k = strcspn(p, ",");
		if ((k == n && !strncmp(p, name, n)) || (k == 3 && !strncmp(p, "all", 3)) ||
		    (k == 4 && !strncmp(p, "http", 4) && !strncmp(name, "http", 4)))
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}
