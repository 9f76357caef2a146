/* SPDX-License-Identifier: MIT */
/*
 * Is this Redis? A client's array of bulk strings naming a known command (or
 * inline command lines), a server's RESP values — on ordinary messages, not
 * only a connection's first; the port is a hint elsewhere (conn/detect.c).
 */
#ifndef SONDE_REDIS_PROBE_H
#define SONDE_REDIS_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/dissector.h"

enum sonde_probe sonde_redis_probe(const uint8_t *p, size_t n);

#endif
