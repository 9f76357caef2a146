/* SPDX-License-Identifier: MIT */
/*
 * HPACK (RFC 7541) for directions whose dynamic table is not fully known:
 * connections joined mid-stream, and directions after lost bytes or a
 * decoding error. From a direction's start sonde decodes with libnghttp2's
 * inflater (http2.c); this decoder takes over when that state is lost.
 *
 * It mirrors the entries it sees inserted. The encoder's table is then "our
 * entries (newest first), followed by an unknown tail" of entries inserted
 * before decoding began. References into our entries resolve exactly;
 * references past them are reported as unknown fields, never guessed. The
 * tail disappears when the encoder empties it (a table size update small
 * enough, or enough insertions under a known size bound) or when the block
 * is known to be the direction's first (h2_hpack_reset_known): from then on
 * every field resolves, as with the exact decoder.
 *
 * Over-keeping or under-keeping our own entries never gives a wrong answer
 * (the encoder only refers to entries it still has, and the newest ones are
 * ours), so size bounds that are not certain only delay the recovery.
 */
#ifndef SONDE_HTTP2_HPACK_H
#define SONDE_HTTP2_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct h2_hp_entry;

struct h2_hpack {
	struct h2_hp_entry **e; /* ring of entries, e[head] newest */
	uint32_t head, n, cap;
	size_t size; /* sum of our entries' sizes (names unknown: their minimum) */
	uint32_t bound; /* upper bound of the encoder's table size, when bound_known */
	bool bound_known;
	bool tail_unknown; /* entries from before we began may follow ours */
	struct sonde_buf scratch; /* Huffman-decoded strings of the field being emitted */
};

enum {
	H2_HP_NAME_UNKNOWN = 1, /* the name refers to an entry from the unknown tail */
	H2_HP_VALUE_UNKNOWN = 2, /* so does the value (an indexed field) */
	H2_HP_BEYOND = 4, /* the reference went past the entries we know (else the
			     name is unknown because the entry's was) */
};

struct h2_hp_field {
	const uint8_t *name, *value; /* NULL when unknown */
	size_t nlen, vlen;
	unsigned flags;
	uint32_t index; /* the HPACK index of an unresolved reference */
};

/* Called for each decoded field; the pointers are valid during the call. */
typedef void (*h2_hp_emit_fn)(void *ctx, const struct h2_hp_field *f);

/*
 * A decoder with an unknown tail. bound: the table size the decoding peer
 * allowed, if bound_known (else only a generous cap on what is mirrored).
 */
void h2_hpack_init(struct h2_hpack *t, uint32_t bound, bool bound_known);
void h2_hpack_free(struct h2_hpack *t);

/* The decoding peer allowed table size v (SETTINGS_HEADER_TABLE_SIZE). */
void h2_hpack_allow(struct h2_hpack *t, uint32_t v);

/* The next block is the direction's first: the table is known to be empty. */
void h2_hpack_reset_known(struct h2_hpack *t);

/* Forget our entries and make the tail unknown (state lost again). */
void h2_hpack_reset_unknown(struct h2_hpack *t);

/*
 * Decode one whole header block, calling emit for each field in order.
 * Returns 0, or -1 if the block is malformed (bad integer, string, Huffman
 * code or index 0): the fields before the error were emitted, and the table
 * is reset to unknown since the block's insertions are lost. *unknown counts
 * the unresolved references. *synced tells whether the tail became known
 * empty during this block.
 */
int h2_hpack_decode(struct h2_hpack *t, const uint8_t *p, size_t n, h2_hp_emit_fn emit, void *ctx,
		    uint32_t *unknown, bool *synced);

/*
 * What the first field of a block with a known name tells, without any
 * table (dynamic-table references before it are stepped over): 1 a request
 * pseudo-header (:method, :scheme, :path, :authority, :protocol), 2 :status,
 * 0 anything else or undecidable (only dynamic references, a malformed
 * block). Used to find HTTP/2 and its roles in the middle of a connection.
 */
int h2_hpack_first_role(const uint8_t *p, size_t n);

/* Huffman-decode n bytes (RFC 7541 §5.2, Appendix B) onto out: 0 or -1. */
int h2_huff_decode(const uint8_t *p, size_t n, struct sonde_buf *out);
/* The bit of p[0..n) where the k-th (from 0) Huffman-coded symbol starts;
 * 8n if there are fewer. For masking from a decoded position on. */
size_t h2_huff_symbol_bit(const uint8_t *p, size_t n, size_t k);
/* The name of static table entry index (1..61), else NULL. */
const char *h2_hpack_static_name(uint32_t index);
/* One whole byte of Huffman code that decodes to '*' (its 8-bit code). */
#define H2_HUFF_STAR 0xf9

#endif
