/* SPDX-License-Identifier: MIT */
/* What a DNS message says in records (docs/records.md, "DNS"): code names,
 * the field walk, the one-line summary. */
#include <stdio.h>
#include <stdlib.h>

#include "proto/dns/dns_msg.h"
#include "proto/dns/dns_wire.h"

struct code_name {
	uint16_t code;
	const char *name;
};

/* IANA "Resource Record (RR) TYPEs". */
static const struct code_name types[] = {
	{ 1, "A" },       { 2, "NS" },          { 3, "MD" },       { 4, "MF" },
	{ 5, "CNAME" },   { 6, "SOA" },         { 7, "MB" },       { 8, "MG" },
	{ 9, "MR" },      { 10, "NULL" },       { 11, "WKS" },     { 12, "PTR" },
	{ 13, "HINFO" },  { 14, "MINFO" },      { 15, "MX" },      { 16, "TXT" },
	{ 17, "RP" },     { 18, "AFSDB" },      { 19, "X25" },     { 20, "ISDN" },
	{ 21, "RT" },     { 22, "NSAP" },       { 24, "SIG" },     { 25, "KEY" },
	{ 26, "PX" },     { 27, "GPOS" },       { 28, "AAAA" },    { 29, "LOC" },
	{ 30, "NXT" },    { 33, "SRV" },        { 35, "NAPTR" },   { 36, "KX" },
	{ 37, "CERT" },   { 38, "A6" },         { 39, "DNAME" },   { 41, "OPT" },
	{ 42, "APL" },    { 43, "DS" },         { 44, "SSHFP" },   { 45, "IPSECKEY" },
	{ 46, "RRSIG" },  { 47, "NSEC" },       { 48, "DNSKEY" },  { 49, "DHCID" },
	{ 50, "NSEC3" },  { 51, "NSEC3PARAM" }, { 52, "TLSA" },    { 53, "SMIMEA" },
	{ 55, "HIP" },    { 59, "CDS" },        { 60, "CDNSKEY" }, { 61, "OPENPGPKEY" },
	{ 62, "CSYNC" },  { 63, "ZONEMD" },     { 64, "SVCB" },    { 65, "HTTPS" },
	{ 99, "SPF" },    { 108, "EUI48" },     { 109, "EUI64" },  { 249, "TKEY" },
	{ 250, "TSIG" },  { 251, "IXFR" },      { 252, "AXFR" },   { 253, "MAILB" },
	{ 254, "MAILA" }, { 255, "ANY" },       { 256, "URI" },    { 257, "CAA" },
	{ 32768, "TA" },  { 32769, "DLV" },
};

static const struct code_name classes[] = {
	{ 1, "IN" }, { 3, "CH" }, { 4, "HS" }, { 254, "NONE" }, { 255, "ANY" },
};

/* RFC 1035, 2136, 6891, 8945, 7873; 16 is BADVERS with EDNS, BADSIG in TSIG. */
static const struct code_name rcodes[] = {
	{ 0, "NOERROR" },  { 1, "FORMERR" }, { 2, "SERVFAIL" },  { 3, "NXDOMAIN" },
	{ 4, "NOTIMP" },   { 5, "REFUSED" }, { 6, "YXDOMAIN" },  { 7, "YXRRSET" },
	{ 8, "NXRRSET" },  { 9, "NOTAUTH" }, { 10, "NOTZONE" },  { 11, "DSOTYPENI" },
	{ 16, "BADVERS" }, { 17, "BADKEY" }, { 18, "BADTIME" },  { 19, "BADMODE" },
	{ 20, "BADNAME" }, { 21, "BADALG" }, { 22, "BADTRUNC" }, { 23, "BADCOOKIE" },
};

static const struct code_name opcodes[] = {
	{ 0, "QUERY" },  { 1, "IQUERY" }, { 2, "STATUS" },
	{ 4, "NOTIFY" }, { 5, "UPDATE" }, { 6, "DSO" },
};

/* IANA "DNS EDNS0 Option Codes". */
static const struct code_name options[] = {
	{ 1, "LLQ" },
	{ 2, "UL" },
	{ 3, "NSID" },
	{ 5, "DAU" },
	{ 6, "DHU" },
	{ 7, "N3U" },
	{ 8, "CLIENT_SUBNET" },
	{ 9, "EXPIRE" },
	{ 10, "COOKIE" },
	{ 11, "TCP_KEEPALIVE" },
	{ 12, "PADDING" },
	{ 13, "CHAIN" },
	{ 14, "KEY_TAG" },
	{ 15, "EDE" },
	{ 16, "CLIENT_TAG" },
	{ 17, "SERVER_TAG" },
	{ 18, "REPORT_CHANNEL" },
	{ 19, "ZONEVERSION" },
};

#define N(t) (sizeof(t) / sizeof(*(t)))

static const char *lookup(const struct code_name *t, size_t n, uint16_t code, const char *pre,
			  char *buf, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].code == code)
			return t[i].name;
	snprintf(buf, len, "%s%u", pre, code);
	return buf;
}

const char *sonde_dns_type_name(uint16_t type, char *buf, size_t len)
{
	return lookup(types, N(types), type, "TYPE", buf, len);
}

const char *sonde_dns_class_name(uint16_t c, char *buf, size_t len)
{
	return lookup(classes, N(classes), c, "CLASS", buf, len);
}

const char *sonde_dns_rcode_name(uint16_t rcode, char *buf, size_t len)
{
	return lookup(rcodes, N(rcodes), rcode, "RCODE", buf, len);
}

const char *sonde_dns_opcode_name(uint8_t opcode, char *buf, size_t len)
{
	return lookup(opcodes, N(opcodes), opcode, "OPCODE", buf, len);
}

/* -------------------------------------------------------------- fields --- */

static void str_member(const struct sonde_field_ops *v, void *ctx, const struct sonde_dns_msg *m,
		       const char *name, struct sonde_dns_str s)
{
	v->str(ctx, name, (const uint8_t *)sonde_dns_txt(m, s), s.len);
}

static void flag_list(const struct sonde_field_ops *v, void *ctx, uint16_t fl)
{
	static const struct code_name bits[] = {
		{ SONDE_DNS_AA, "aa" }, { SONDE_DNS_TC, "tc" }, { SONDE_DNS_RD, "rd" },
		{ SONDE_DNS_RA, "ra" }, { SONDE_DNS_AD, "ad" }, { SONDE_DNS_CD, "cd" },
	};
	v->begin(ctx, "flags", SONDE_FG_LIST);
	for (size_t i = 0; i < N(bits); i++)
		if (fl & bits[i].code)
			sonde_field_cstr(v, ctx, NULL, bits[i].name);
	v->end(ctx, SONDE_FG_LIST);
}

/* mDNS (RFC 6762 10.2, 5.4) reuses the class's top bit. */
static void class_member(const struct sonde_field_ops *v, void *ctx, uint16_t c, const char *bit)
{
	char b[16];
	if ((c & 0x8000) && (c & 0x7fff) == 1) {
		sonde_field_cstr(v, ctx, "class", "IN");
		v->boolean(ctx, bit, true);
	} else {
		sonde_field_cstr(v, ctx, "class", sonde_dns_class_name(c, b, sizeof(b)));
	}
}

static void questions(const struct sonde_field_ops *v, void *ctx, const struct sonde_dns_msg *m)
{
	char b[16];
	v->begin(ctx, "questions", SONDE_FG_LIST);
	for (uint16_t i = 0; i < m->nq; i++) {
		const struct sonde_dns_question *q = &m->q[i];
		v->begin(ctx, NULL, SONDE_FG_OBJECT);
		str_member(v, ctx, m, "name", q->name);
		sonde_field_cstr(v, ctx, "type", sonde_dns_type_name(q->type, b, sizeof(b)));
		class_member(v, ctx, q->qclass, "unicast_response");
		v->end(ctx, SONDE_FG_OBJECT);
	}
	v->end(ctx, SONDE_FG_LIST);
}

static void section(const struct sonde_field_ops *v, void *ctx, const struct sonde_dns_msg *m,
		    const char *name, uint8_t sec)
{
	char b[16];
	v->begin(ctx, name, SONDE_FG_LIST);
	for (uint16_t i = 0; i < m->nrr; i++) {
		const struct sonde_dns_rr *rr = &m->rr[i];
		if (rr->section != sec)
			continue;
		v->begin(ctx, NULL, SONDE_FG_OBJECT);
		str_member(v, ctx, m, "name", rr->name);
		sonde_field_cstr(v, ctx, "type", sonde_dns_type_name(rr->type, b, sizeof(b)));
		class_member(v, ctx, rr->rclass, "cache_flush");
		v->u64(ctx, "ttl", rr->ttl);
		str_member(v, ctx, m, "data", rr->data);
		if (rr->data_cut)
			v->boolean(ctx, "data_truncated", true);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	v->end(ctx, SONDE_FG_LIST);
}

static void edns(const struct sonde_field_ops *v, void *ctx, const struct sonde_dns_msg *m)
{
	const struct sonde_dns_edns *e = &m->edns;
	char b[16];
	v->begin(ctx, "edns", SONDE_FG_OBJECT);
	v->u64(ctx, "udp_size", e->udp_size);
	v->u64(ctx, "version", e->version);
	v->boolean(ctx, "do", e->do_bit);
	v->begin(ctx, "options", SONDE_FG_LIST);
	for (uint8_t i = 0; i < e->nopts; i++) {
		const struct sonde_dns_option *o = &e->opts[i];
		v->begin(ctx, NULL, SONDE_FG_OBJECT);
		v->u64(ctx, "code", o->code);
		sonde_field_cstr(v, ctx, "name",
				 lookup(options, N(options), o->code, "OPT", b, sizeof(b)));
		v->u64(ctx, "length", o->len);
		str_member(v, ctx, m, "data", o->data);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	v->end(ctx, SONDE_FG_LIST);
	if (e->opts_omitted)
		v->u64(ctx, "options_omitted", e->opts_omitted);
	v->end(ctx, SONDE_FG_OBJECT);
}

static void dns_fields(const struct sonde_msg *bm, const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_dns_msg *m = (const struct sonde_dns_msg *)bm;
	static const char *const cnames[] = { "questions", "answers", "authority", "additional" };
	char b[16];
	v->u64(ctx, "id", m->id);
	sonde_field_cstr(v, ctx, "opcode",
			 sonde_dns_opcode_name((uint8_t)(m->hflags >> 11 & 0xf), b, sizeof(b)));
	flag_list(v, ctx, m->hflags);
	sonde_field_cstr(v, ctx, "rcode", sonde_dns_rcode_name(m->rcode, b, sizeof(b)));
	if (m->base.kind == SONDE_MSG_RESPONSE && m->rcode)
		v->boolean(ctx, "error", true);
	v->begin(ctx, "counts", SONDE_FG_OBJECT);
	for (int i = 0; i < 4; i++)
		v->u64(ctx, cnames[i], m->count[i]);
	v->end(ctx, SONDE_FG_OBJECT);
	questions(v, ctx, m);
	section(v, ctx, m, "answers", SONDE_DNS_ANSWER);
	section(v, ctx, m, "authority", SONDE_DNS_AUTHORITY);
	section(v, ctx, m, "additional", SONDE_DNS_ADDITIONAL);
	if (m->edns.present)
		edns(v, ctx, m);
	if (m->omitted)
		v->u64(ctx, "omitted", m->omitted);
	if (m->error)
		sonde_field_cstr(v, ctx, "malformed", m->error);
}

/* "A example.com" for a query, "NXDOMAIN" or "NOERROR 2 answers" for a response. */
static void dns_summary(const struct sonde_msg *bm, struct sonde_buf *o)
{
	const struct sonde_dns_msg *m = (const struct sonde_dns_msg *)bm;
	char b[16];
	if (m->base.kind == SONDE_MSG_RESPONSE) {
		sonde_buf_puts(o, sonde_dns_rcode_name(m->rcode, b, sizeof(b)));
		if (!m->rcode)
			sonde_buf_printf(o, " %u answer%s", m->count[1],
					 m->count[1] == 1 ? "" : "s");
	} else if (m->nq) {
		sonde_buf_printf(o, "%s ", sonde_dns_type_name(m->q[0].type, b, sizeof(b)));
		const char *s = sonde_dns_txt(m, m->q[0].name);
		size_t n = m->q[0].name.len > 120 ? 120 : m->q[0].name.len;
		sonde_buf_append(o, s, n);
	} else {
		sonde_buf_puts(
			o, sonde_dns_opcode_name((uint8_t)(m->hflags >> 11 & 0xf), b, sizeof(b)));
	}
	if (m->hflags & SONDE_DNS_TC)
		sonde_buf_puts(o, " [tc]");
}

static void dns_free(struct sonde_msg *bm)
{
	struct sonde_dns_msg *m = (struct sonde_dns_msg *)bm;
	free(m->rr);
	sonde_buf_free(&m->text);
	free(m);
}

static enum sonde_outcome dns_outcome(const struct sonde_msg *bm)
{
	const struct sonde_dns_msg *m = (const struct sonde_dns_msg *)bm;
	if (m->base.kind != SONDE_MSG_RESPONSE)
		return SONDE_OUTCOME_UNKNOWN;
	switch (m->rcode) {
	case 0: return SONDE_OUTCOME_OK;
	case 2: /* SERVFAIL */
	case 4: /* NOTIMP */ return SONDE_OUTCOME_SERVER_ERROR;
	default: return SONDE_OUTCOME_CLIENT_ERROR; /* FORMERR, NXDOMAIN, REFUSED, ... */
	}
}

const struct sonde_msg_ops sonde_dns_msg_ops = {
	.protocol = "dns",
	.fields = dns_fields,
	.summary = dns_summary,
	.outcome = dns_outcome,
	.free = dns_free,
};
