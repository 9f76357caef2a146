/* SPDX-License-Identifier: MIT */
/*
 * --follow ID: one connection's conversation, what tshark's follow-stream
 * shows — the bytes each side sent, in the order reassembly delivered them,
 * under a line naming the sender at each change of direction, and every
 * hole as a line of its own. Bytes outside printable ASCII (tab and line
 * ends kept, CRLF as a line end) are written as '.', so a terminal shows
 * text and nothing else.
 */
#ifndef SONDE_FOLLOW_H
#define SONDE_FOLLOW_H

#include <stdio.h>

#include "conn/conntable.h"

struct sonde_follower;

struct sonde_follower *sonde_follower_new(uint64_t conn_id, FILE *out);
/* The tap to put in the connection table's options. */
const struct sonde_follow_out *sonde_follower_out(struct sonde_follower *f);
/* End: a closing line (or that the connection never came); returns -1 with
 * errno set if writing failed. Frees f. */
int sonde_follower_close(struct sonde_follower *f);

#endif
