/* SPDX-License-Identifier: MIT */
/*
 * DNS messages (RFC 1035, 3596, 2782, 6891, 9460 and the DNSSEC RFCs): a
 * bounded parser of one whole message (a UDP payload, or a TCP message
 * without its length prefix), and the message's record fields.
 *
 * Bounds: names follow compression pointers only strictly backwards (which
 * rules out loops and forward pointers) and are at most 255 octets; header
 * counts are believed only as far as the message's bytes go; at most
 * SONDE_DNS_MAX_QUESTIONS questions and SONDE_DNS_MAX_RRS resource records
 * are kept (the rest are counted as omitted); each record's data text is
 * at most SONDE_DNS_MAX_DATA bytes.
 *
 * The parser never reads outside p[0..n) and allocates only what the kept
 * records need.
 */
#ifndef SONDE_DNS_MSG_H
#define SONDE_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/record.h"

#define SONDE_DNS_HEADER 12
#define SONDE_DNS_MAX_QUESTIONS 16
#define SONDE_DNS_MAX_RRS 256
#define SONDE_DNS_MAX_DATA 1024 /* bytes of one record's data text */
#define SONDE_DNS_MAX_OPTIONS 16 /* EDNS options kept */
#define SONDE_DNS_MAX_TEXT (64u << 10) /* text held by one message */

/* Header flag bits (the second 16-bit word, RFC 1035 4.1.1, RFC 4035). */
#define SONDE_DNS_QR 0x8000
#define SONDE_DNS_AA 0x0400
#define SONDE_DNS_TC 0x0200
#define SONDE_DNS_RD 0x0100
#define SONDE_DNS_RA 0x0080
#define SONDE_DNS_AD 0x0020
#define SONDE_DNS_CD 0x0010

enum sonde_dns_section {
	SONDE_DNS_ANSWER = 0,
	SONDE_DNS_AUTHORITY,
	SONDE_DNS_ADDITIONAL,
};

/* Text held in the message's text buffer. */
struct sonde_dns_str {
	uint32_t off, len;
};

struct sonde_dns_question {
	struct sonde_dns_str name;
	uint16_t type, qclass;
};

struct sonde_dns_rr {
	struct sonde_dns_str name, data; /* data: presentation form */
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlength;
	uint8_t section; /* enum sonde_dns_section */
	bool data_cut; /* data text stopped at SONDE_DNS_MAX_DATA */
	uint8_t addr[16]; /* A (4 bytes) and AAAA (16) rdata, for the name table */
};

struct sonde_dns_option {
	uint16_t code, len;
	struct sonde_dns_str data; /* hex */
};

struct sonde_dns_edns {
	bool present;
	uint16_t udp_size;
	uint8_t version;
	bool do_bit;
	uint8_t nopts;
	uint16_t opts_omitted;
	struct sonde_dns_option opts[SONDE_DNS_MAX_OPTIONS];
};

struct sonde_dns_msg {
	struct sonde_msg base;
	uint16_t id, hflags; /* hflags: the header's flag word */
	uint16_t count[4]; /* the header's QD, AN, NS, AR counts */
	uint16_t rcode; /* with EDNS's upper 8 bits (RFC 6891 6.1.3) */
	uint16_t nq, nrr; /* kept */
	uint32_t omitted; /* questions and records parsed but not kept */
	struct sonde_dns_question q[SONDE_DNS_MAX_QUESTIONS];
	struct sonde_dns_rr *rr;
	uint16_t rr_cap;
	struct sonde_dns_edns edns;
	const char *error; /* why parsing stopped early, or NULL */
	struct sonde_buf text;
};

/* What sonde_dns_check tells of bytes that may start a message. */
enum sonde_dns_kind {
	SONDE_DNS_NO = 0,
	SONDE_DNS_MORE, /* plausible so far: more bytes would tell */
	SONDE_DNS_QUERY,
	SONDE_DNS_RESPONSE,
};

/*
 * Whether p[0..n), the first n bytes of a message of len bytes (n <= len),
 * is a plausible DNS message: a known opcode, counts the length can hold,
 * parseable questions of a plausible class (a standard query also asks
 * something and answers nothing). A message without a question (mDNS
 * announcements, inverse queries) must be whole (n == len) and its records
 * must parse and end at len. Records after questions are not looked at:
 * a malformed answer is the parser's to report. Allocates nothing.
 */
enum sonde_dns_kind sonde_dns_check(const uint8_t *p, size_t n, size_t len);

/* A new, empty message (kind set by sonde_dns_parse). */
struct sonde_dns_msg *sonde_dns_msg_new(void);
/*
 * Parse the whole message p[0..n) into m. Returns 0 when all of it parsed,
 * 1 when the header and questions parsed but a later part did not (m->error
 * says why; what came before is kept), -1 when it is no DNS message.
 */
int sonde_dns_parse(struct sonde_dns_msg *m, const uint8_t *p, size_t n);
/* The pair key: transaction id and first question (name case-folded). */
uint64_t sonde_dns_pair_key(const struct sonde_dns_msg *m);
/* Text of a kept string. */
const char *sonde_dns_txt(const struct sonde_dns_msg *m, struct sonde_dns_str s);

/* Names of codes ("A", "TYPE65280"; "IN"; "NXDOMAIN"; "QUERY"): static, or
 * written into buf (at least 16 bytes) for codes without a name. */
const char *sonde_dns_type_name(uint16_t type, char *buf, size_t len);
const char *sonde_dns_class_name(uint16_t c, char *buf, size_t len);
const char *sonde_dns_rcode_name(uint16_t rcode, char *buf, size_t len);
const char *sonde_dns_opcode_name(uint8_t opcode, char *buf, size_t len);

#endif
