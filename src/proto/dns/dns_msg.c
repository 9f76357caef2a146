/* SPDX-License-Identifier: MIT */
/* DNS messages (see dns_msg.h): names, the plausibility check, the parser. */
#include "proto/dns/dns_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "proto/dns/dns_wire.h"

#define NAME_MAX_WIRE 255 /* octets of a name on the wire, RFC 1035 3.1 */
#define NAME_MAX_HOPS 127 /* pointers followed: more cannot fit 255 octets */
#define RR_FIXED 10 /* type, class, ttl, rdlength */
#define RR_MIN 11 /* the root name and the fixed part */
#define QUESTION_MIN 5
#define TYPE_OPT 41

/* ------------------------------------------------------------- names --- */

/* One label's bytes in presentation form (RFC 1035 5.1 escapes). */
static void put_label(struct sonde_buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '.' || c == '\\')
			sonde_buf_printf(out, "\\%c", c);
		else if (c <= 0x20 || c >= 0x7f)
			sonde_buf_printf(out, "\\%03u", c);
		else
			sonde_buf_putc(out, (char)c);
	}
}

int sonde_dns_name(const uint8_t *msg, size_t n, size_t off, size_t *next, struct sonde_buf *out)
{
	size_t pos = off, run = off, wire = 1;
	bool jumped = false, labels = false;
	for (int hops = 0;;) {
		if (pos >= n)
			return SONDE_DNS_NAME_SHORT;
		uint8_t l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= n)
				return SONDE_DNS_NAME_SHORT;
			size_t to = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			/* Strictly before the run this pointer ends: every hop goes
			 * back, so no loop and no forward pointer. */
			if (to >= run || ++hops > NAME_MAX_HOPS)
				return -1;
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			pos = run = to;
			continue;
		}
		if (l & 0xc0) /* 0x40 extended, 0x80 reserved (RFC 6891 5) */
			return -1;
		if (!l)
			break;
		wire += 1u + l;
		if (wire > NAME_MAX_WIRE)
			return -1;
		if (pos + 1 + l > n)
			return SONDE_DNS_NAME_SHORT;
		if (out) {
			if (labels)
				sonde_buf_putc(out, '.');
			put_label(out, msg + pos + 1, l);
		}
		labels = true;
		pos += 1u + l;
	}
	if (!jumped)
		*next = pos + 1;
	if (out && !labels)
		sonde_buf_putc(out, '.');
	return 0;
}

/* ----------------------------------------------------------- checking --- */

static bool opcode_known(uint8_t op)
{
	return op <= 2 || (op >= 4 && op <= 6);
}

static bool qclass_plausible(uint16_t c)
{
	c &= 0x7fff; /* mDNS: the unicast-response bit (RFC 6762 5.4) */
	return c == 1 || c == 3 || c == 4 || c == 254 || c == 255;
}

/* Header sanity: known opcode, counts the message's length can hold. */
static bool header_plausible(const uint8_t *p, size_t len)
{
	uint16_t fl = sonde_dns_be16(p + 2);
	uint32_t qd = sonde_dns_be16(p + 4), an = sonde_dns_be16(p + 6);
	uint32_t ns = sonde_dns_be16(p + 8), ar = sonde_dns_be16(p + 10);
	if (!opcode_known((uint8_t)(fl >> 11 & 0xf)) || qd > SONDE_DNS_MAX_QUESTIONS)
		return false;
	/* No question only where answers stand for it: mDNS announcements,
	 * inverse queries (RFC 1035 6.4, obsolete but seen). */
	if (!qd && (!an || !((fl & SONDE_DNS_QR) || (fl >> 11 & 0xf) == 1)))
		return false;
	return SONDE_DNS_HEADER + qd * QUESTION_MIN + (an + ns + ar) * RR_MIN <= len;
}

/* The records after the questions, walked without keeping them: they
 * end at len (or, truncated, anywhere). */
static bool records_walk(const uint8_t *p, size_t len, size_t off, uint32_t count, bool tc)
{
	for (uint32_t i = 0; i < count; i++) {
		size_t next;
		int r = sonde_dns_name(p, len, off, &next, NULL);
		if (r == SONDE_DNS_NAME_SHORT || (!r && next + RR_FIXED > len))
			return tc; /* a truncated answer may stop anywhere */
		if (r)
			return false;
		size_t end = next + RR_FIXED + sonde_dns_be16(p + next + 8);
		if (end > len)
			return tc;
		off = end;
	}
	return off == len;
}

enum sonde_dns_kind sonde_dns_check(const uint8_t *p, size_t n, size_t len)
{
	if (len < SONDE_DNS_HEADER || n > len)
		return SONDE_DNS_NO;
	if (n < SONDE_DNS_HEADER)
		return SONDE_DNS_MORE;
	if (!header_plausible(p, len))
		return SONDE_DNS_NO;
	uint16_t fl = sonde_dns_be16(p + 2);
	uint16_t qd = sonde_dns_be16(p + 4);
	/* A query of the standard opcode asks and carries no answers. */
	if (!(fl & SONDE_DNS_QR) && !(fl >> 11 & 0xf) &&
	    (sonde_dns_be16(p + 6) || (fl & 0xf) || !qd))
		return SONDE_DNS_NO;
	size_t off = SONDE_DNS_HEADER;
	for (uint16_t i = 0; i < qd; i++) {
		size_t next;
		int r = sonde_dns_name(p, n, off, &next, NULL);
		if (r == SONDE_DNS_NAME_SHORT || (!r && next + 4 > n))
			return n < len ? SONDE_DNS_MORE : SONDE_DNS_NO;
		if (r || !sonde_dns_be16(p + next) ||
		    !qclass_plausible(sonde_dns_be16(p + next + 2)))
			return SONDE_DNS_NO;
		off = next + 4;
	}
	/* Without a question only the records can vouch for the message. */
	if (n == len && !qd) {
		uint32_t rrs = (uint32_t)sonde_dns_be16(p + 6) + sonde_dns_be16(p + 8) +
			       sonde_dns_be16(p + 10);
		if (!records_walk(p, len, off, rrs, fl & SONDE_DNS_TC))
			return SONDE_DNS_NO;
	}
	return fl & SONDE_DNS_QR ? SONDE_DNS_RESPONSE : SONDE_DNS_QUERY;
}

/* ------------------------------------------------------------ parsing --- */

struct sonde_dns_msg *sonde_dns_msg_new(void)
{
	struct sonde_dns_msg *m = sonde_xcalloc(1, sizeof(*m));
	m->base.ops = &sonde_dns_msg_ops;
	m->base.kind = SONDE_MSG_REQUEST;
	sonde_buf_init(&m->text, SONDE_DNS_MAX_TEXT);
	return m;
}

const char *sonde_dns_txt(const struct sonde_dns_msg *m, struct sonde_dns_str s)
{
	return s.len ? (const char *)m->text.p + s.off : "";
}

/* A name into the text buffer. */
static int take_name(struct sonde_dns_msg *m, const uint8_t *p, size_t n, size_t off, size_t *next,
		     struct sonde_dns_str *s)
{
	size_t mark = m->text.len;
	int r = sonde_dns_name(p, n, off, next, &m->text);
	if (r || m->text.full) {
		m->text.len = mark;
		return r ? r : 0;
	}
	*s = (struct sonde_dns_str){ (uint32_t)mark, (uint32_t)(m->text.len - mark) };
	return 0;
}

static int parse_questions(struct sonde_dns_msg *m, const uint8_t *p, size_t n, size_t *off)
{
	for (uint16_t i = 0; i < m->count[0]; i++) {
		struct sonde_dns_question q = { 0 };
		size_t next;
		if (take_name(m, p, n, *off, &next, &q.name) || next + 4 > n)
			return i ? 1 : -1; /* the first question decides it is DNS */
		q.type = sonde_dns_be16(p + next);
		q.qclass = sonde_dns_be16(p + next + 2);
		*off = next + 4;
		if (m->nq < SONDE_DNS_MAX_QUESTIONS)
			m->q[m->nq++] = q;
		else
			m->omitted++;
	}
	return 0;
}

/* EDNS from an OPT record (RFC 6891 6.1): options kept as hex. */
static void take_opt(struct sonde_dns_msg *m, const uint8_t *p, size_t off, uint16_t rclass,
		     uint32_t ttl, size_t rdlen)
{
	struct sonde_dns_edns *e = &m->edns;
	e->present = true;
	e->udp_size = rclass;
	e->version = (uint8_t)(ttl >> 16);
	e->do_bit = ttl & 0x8000;
	m->rcode = (uint16_t)((ttl >> 24) << 4 | (m->hflags & 0xf));
	for (size_t o = off; o + 4 <= off + rdlen;) {
		uint16_t code = sonde_dns_be16(p + o), len = sonde_dns_be16(p + o + 2);
		if (o + 4 + len > off + rdlen)
			break;
		if (e->nopts < SONDE_DNS_MAX_OPTIONS) {
			struct sonde_dns_option *op = &e->opts[e->nopts++];
			bool cut = false;
			size_t mark = m->text.len;
			op->code = code;
			op->len = len;
			sonde_dns_hex(&m->text, p + o + 4, len, SONDE_DNS_MAX_DATA / 2, &cut);
			op->data = (struct sonde_dns_str){ (uint32_t)mark,
							   (uint32_t)(m->text.len - mark) };
		} else {
			e->opts_omitted++;
		}
		o += 4u + len;
	}
}

static struct sonde_dns_rr *rr_add(struct sonde_dns_msg *m)
{
	if (m->nrr >= SONDE_DNS_MAX_RRS || m->text.len > SONDE_DNS_MAX_TEXT / 2)
		return NULL;
	if (m->nrr == m->rr_cap) {
		m->rr_cap = m->rr_cap ? (uint16_t)(m->rr_cap * 2) : 8;
		m->rr = sonde_xrealloc(m->rr, m->rr_cap * sizeof(*m->rr));
	}
	struct sonde_dns_rr *rr = &m->rr[m->nrr++];
	memset(rr, 0, sizeof(*rr));
	return rr;
}

/* One resource record at *off of section sec. */
static int parse_rr(struct sonde_dns_msg *m, const uint8_t *p, size_t n, size_t *off, uint8_t sec)
{
	size_t next;
	struct sonde_dns_str name = { 0 };
	if (take_name(m, p, n, *off, &next, &name) || next + RR_FIXED > n) {
		m->error = "record name or header runs past the message";
		return -1;
	}
	uint16_t type = sonde_dns_be16(p + next), rclass = sonde_dns_be16(p + next + 2);
	uint32_t ttl = sonde_dns_be32(p + next + 4);
	uint16_t rdlen = sonde_dns_be16(p + next + 8);
	size_t rd = next + RR_FIXED;
	if (rd + rdlen > n) {
		m->error = "record data runs past the message";
		return -1;
	}
	*off = rd + rdlen;
	if (type == TYPE_OPT && sec == SONDE_DNS_ADDITIONAL && !m->edns.present) {
		take_opt(m, p, rd, rclass, ttl, rdlen);
		return 0;
	}
	struct sonde_dns_rr *rr = rr_add(m);
	if (!rr) {
		m->omitted++;
		return 0;
	}
	*rr = (struct sonde_dns_rr){ .name = name,
				     .type = type,
				     .rclass = rclass,
				     .ttl = ttl,
				     .rdlength = rdlen,
				     .section = sec };
	if ((type == 1 && rdlen == 4) || (type == 28 && rdlen == 16))
		memcpy(rr->addr, p + rd, rdlen);
	size_t mark = m->text.len;
	sonde_dns_rdata(p, rd, rdlen, type, &m->text, &rr->data_cut);
	if (m->text.full) { /* past the message's text bound: keep no data */
		m->text.len = mark;
		m->text.full = false;
		rr->data_cut = true;
	}
	rr->data = (struct sonde_dns_str){ (uint32_t)mark, (uint32_t)(m->text.len - mark) };
	return 0;
}

int sonde_dns_parse(struct sonde_dns_msg *m, const uint8_t *p, size_t n)
{
	if (n < SONDE_DNS_HEADER)
		return -1;
	m->id = sonde_dns_be16(p);
	m->hflags = sonde_dns_be16(p + 2);
	for (int i = 0; i < 4; i++)
		m->count[i] = sonde_dns_be16(p + 4 + 2 * i);
	m->rcode = m->hflags & 0xf;
	m->base.kind = m->hflags & SONDE_DNS_QR ? SONDE_MSG_RESPONSE : SONDE_MSG_REQUEST;
	size_t off = SONDE_DNS_HEADER;
	int r = parse_questions(m, p, n, &off);
	if (r) {
		m->error = "question runs past the message or is malformed";
		return r;
	}
	for (uint8_t sec = 0; sec < 3; sec++)
		for (uint16_t i = 0; i < m->count[1 + sec]; i++)
			if (parse_rr(m, p, n, &off, sec) < 0)
				return 1;
	if (off != n) {
		m->error = "bytes after the last record";
		return 1;
	}
	return 0;
}

uint64_t sonde_dns_pair_key(const struct sonde_dns_msg *m)
{
	uint64_t h = sonde_mix64(m->id + 1);
	if (!m->nq)
		return h;
	const struct sonde_dns_question *q = &m->q[0];
	const char *s = sonde_dns_txt(m, q->name);
	for (uint32_t i = 0; i < q->name.len; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c >= 'A' && c <= 'Z') /* 0x20 randomisation must still pair */
			c = (uint8_t)(c - 'A' + 'a');
		h = sonde_mix64(h ^ c);
	}
	return sonde_mix64(h ^ ((uint64_t)q->type << 16 | q->qclass));
}
