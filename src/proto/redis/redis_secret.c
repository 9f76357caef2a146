/* SPDX-License-Identifier: MIT */
/* Redis commands' credential arguments (redis_secret.h). */
#include "proto/redis/redis_secret.h"

#include <string.h>
#include <strings.h>

enum secret_cmd {
	CMD_OTHER = 0, /* nothing secret */
	CMD_AUTH,
	CMD_HELLO,
	CMD_ACL,
	CMD_ACL_SETUSER,
	CMD_CONFIG,
	CMD_CONFIG_SET,
	CMD_SENTINEL,
	CMD_SENTINEL_SET,
	CMD_SENTINEL_CONFIG,
	CMD_SENTINEL_CONFIG_SET,
	CMD_MIGRATE,
	CMD_DONE, /* what follows is not secret (MIGRATE's KEYS) */
};

static bool ieq(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && !strncasecmp((const char *)p, s, n);
}

bool sonde_redis_secret_param(const uint8_t *p, size_t n)
{
	static const char *const names[] = {
		"requirepass", "masterauth",    "tls-key-file-pass", "tls-client-key-file-pass",
		"auth-pass",   "sentinel-pass",
	};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (ieq(p, n, names[k]))
			return true;
	return false;
}

void sonde_redis_secrets_begin(struct sonde_redis_secrets *s)
{
	memset(s, 0, sizeof(*s));
}

static uint8_t command_of(const uint8_t *p, size_t n)
{
	static const struct {
		const char *name;
		uint8_t cmd;
	} cmds[] = {
		{ "AUTH", CMD_AUTH },     { "HELLO", CMD_HELLO },       { "ACL", CMD_ACL },
		{ "CONFIG", CMD_CONFIG }, { "SENTINEL", CMD_SENTINEL }, { "MIGRATE", CMD_MIGRATE },
	};
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		if (ieq(p, n, cmds[k].name))
			return cmds[k].cmd;
	return CMD_OTHER;
}

/* A subcommand (argument 1, or 2 of SENTINEL CONFIG) moves the state on. */
static void subcommand(struct sonde_redis_secrets *s, const uint8_t *p, size_t n)
{
	if (s->cmd == CMD_ACL && ieq(p, n, "SETUSER"))
		s->cmd = CMD_ACL_SETUSER;
	else if (s->cmd == CMD_CONFIG && ieq(p, n, "SET"))
		s->cmd = CMD_CONFIG_SET;
	else if (s->cmd == CMD_SENTINEL && ieq(p, n, "SET"))
		s->cmd = CMD_SENTINEL_SET;
	else if (s->cmd == CMD_SENTINEL && ieq(p, n, "CONFIG"))
		s->cmd = CMD_SENTINEL_CONFIG;
	else if (s->cmd == CMD_SENTINEL_CONFIG && ieq(p, n, "SET"))
		s->cmd = CMD_SENTINEL_CONFIG_SET;
	else
		s->cmd = CMD_OTHER;
}

/* Arguments i of a "parameter value ..." list from `first` on. */
static bool pair_value(struct sonde_redis_secrets *s, uint32_t i, uint32_t first, const uint8_t *p,
		       size_t n)
{
	if (i < first)
		return false;
	if ((i - first) % 2 == 0) {
		s->value_next = sonde_redis_secret_param(p, n);
		return false;
	}
	return s->value_next;
}

bool sonde_redis_secrets_arg(struct sonde_redis_secrets *s, const uint8_t *p, size_t n)
{
	uint32_t i = s->i++;
	if (i == 0) {
		s->cmd = command_of(p, n);
		return false;
	}
	if (i < s->secret_until)
		return true;
	switch (s->cmd) {
	case CMD_AUTH: return true;
	case CMD_HELLO:
		if (i >= 2 && ieq(p, n, "AUTH"))
			s->secret_until = i + 3; /* user and password */
		return false;
	case CMD_ACL:
	case CMD_CONFIG:
	case CMD_SENTINEL: subcommand(s, p, n); return false;
	case CMD_SENTINEL_CONFIG:
		if (i == 2)
			subcommand(s, p, n);
		return false;
	case CMD_ACL_SETUSER: /* ACL SETUSER name rule...: the password rules */
		return i >= 3 && n && strchr("><#!", p[0]);
	case CMD_CONFIG_SET: return pair_value(s, i, 2, p, n);
	case CMD_SENTINEL_SET: return pair_value(s, i, 3, p, n); /* after the master's name */
	case CMD_SENTINEL_CONFIG_SET: return pair_value(s, i, 3, p, n);
	case CMD_MIGRATE: /* host port key db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 u pw] [KEYS ...] */
		if (i < 6)
			return false;
		if (ieq(p, n, "AUTH"))
			s->secret_until = i + 2;
		else if (ieq(p, n, "AUTH2"))
			s->secret_until = i + 3;
		else if (ieq(p, n, "KEYS"))
			s->cmd = CMD_DONE;
		return false;
	default: return false;
	}
}
