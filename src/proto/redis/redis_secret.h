/* SPDX-License-Identifier: MIT */
/*
 * Which arguments of a Redis command are credentials, judged argument by
 * argument in order, so that the records (whole commands, redis_msg.c) and
 * the recording's masker (bytes cut anywhere, redact/redact_stream.c) mask
 * the same ones: AUTH's arguments; HELLO's two after AUTH; ACL SETUSER's
 * password rules (>pass, <pass, #hash, !hash); the value of CONFIG SET
 * requirepass, masterauth and the TLS key passphrases; SENTINEL SET's
 * auth-pass and SENTINEL CONFIG SET's sentinel-pass; MIGRATE's AUTH
 * password and AUTH2 user and password. A reply names a secret parameter
 * before its value (CONFIG GET): sonde_redis_secret_param says which.
 */
#ifndef SONDE_REDIS_SECRET_H
#define SONDE_REDIS_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sonde_redis_secrets {
	uint8_t cmd; /* what the command is, as far as it matters here */
	uint32_t i; /* index of the next argument (0: the command's name) */
	uint32_t secret_until; /* arguments before this index are secret */
	bool value_next; /* the next argument is a secret parameter's value */
};

/* Before a command's first argument (its name). */
void sonde_redis_secrets_begin(struct sonde_redis_secrets *s);
/* The command's next argument, p[0..n): true if it is a credential. A
 * prefix (the rest cut off) is judged on what it holds: a credential's
 * prefix is one, and a name cut short names nothing. */
bool sonde_redis_secrets_arg(struct sonde_redis_secrets *s, const uint8_t *p, size_t n);
/* Is p[0..n) the name of a configuration parameter whose value is a
 * credential (requirepass, masterauth, ...), any case? */
bool sonde_redis_secret_param(const uint8_t *p, size_t n);

#endif
