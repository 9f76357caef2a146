/* SPDX-License-Identifier: MIT */
/*
 * Record data in presentation form (see dns_wire.h): the zone-file text of
 * RFC 1035 5.1 and of each type's RFC, one decoder per layout. A decoder
 * reads through a cursor that refuses to pass the rdata's end; rdata that
 * is short, long or malformed falls back to the generic form.
 */
#include "proto/dns/dns_wire.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "proto/dns/dns_msg.h"

#define B64_MAX 600 /* bytes of a key or signature shown (800 base64 characters) */

struct rd {
	const uint8_t *msg; /* the whole message: names may point anywhere before */
	size_t pos, end; /* the rdata still to read */
	struct sonde_buf *out;
	bool bad; /* sticky: something did not fit */
	bool cut;
};

static bool need(struct rd *r, size_t k)
{
	if (r->bad || r->end - r->pos < k)
		r->bad = true;
	return !r->bad;
}

static void sep(struct rd *r)
{
	if (r->out->len)
		sonde_buf_putc(r->out, ' ');
}

static uint32_t rd_u8(struct rd *r)
{
	if (!need(r, 1))
		return 0;
	return r->msg[r->pos++];
}

static uint32_t rd_u16(struct rd *r)
{
	if (!need(r, 2))
		return 0;
	r->pos += 2;
	return sonde_dns_be16(r->msg + r->pos - 2);
}

static uint32_t rd_u32(struct rd *r)
{
	if (!need(r, 4))
		return 0;
	r->pos += 4;
	return sonde_dns_be32(r->msg + r->pos - 4);
}

static void put_u(struct rd *r, uint32_t v)
{
	if (!r->bad) {
		sep(r);
		sonde_buf_printf(r->out, "%u", v);
	}
}

static void put_name(struct rd *r)
{
	size_t next;
	if (r->bad)
		return;
	sep(r);
	/* names inside rdata end inside it: bound the walk by the rdata */
	if (sonde_dns_name(r->msg, r->end, r->pos, &next, r->out))
		r->bad = true;
	else
		r->pos = next;
}

/* A <character-string> (RFC 1035 3.3), quoted. */
static void put_cstr(struct rd *r)
{
	uint32_t l = rd_u8(r);
	if (!need(r, l))
		return;
	sep(r);
	sonde_buf_putc(r->out, '"');
	for (uint32_t i = 0; i < l; i++) {
		uint8_t c = r->msg[r->pos + i];
		if (c == '"' || c == '\\')
			sonde_buf_printf(r->out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			sonde_buf_printf(r->out, "\\%03u", c);
		else
			sonde_buf_putc(r->out, (char)c);
	}
	sonde_buf_putc(r->out, '"');
	r->pos += l;
}

void sonde_dns_hex(struct sonde_buf *out, const uint8_t *p, size_t n, size_t max, bool *cut)
{
	static const char hx[] = "0123456789abcdef";
	if (n > max) {
		n = max;
		*cut = true;
	}
	for (size_t i = 0; i < n; i++) {
		sonde_buf_putc(out, hx[p[i] >> 4]);
		sonde_buf_putc(out, hx[p[i] & 0xf]);
	}
}

/* The rest of the rdata, as hex ("-" when empty, e.g. an NSEC3 salt). */
static void put_hex_n(struct rd *r, size_t k)
{
	if (!need(r, k))
		return;
	sep(r);
	if (!k)
		sonde_buf_putc(r->out, '-');
	sonde_dns_hex(r->out, r->msg + r->pos, k, SONDE_DNS_MAX_DATA / 2, &r->cut);
	r->pos += k;
}

static void put_b64_rest(struct rd *r)
{
	size_t k = r->end - r->pos;
	if (r->bad)
		return;
	if (k > B64_MAX) {
		k = B64_MAX;
		r->cut = true;
	}
	sep(r);
	sonde_base64(r->out, r->msg + r->pos, k);
	r->pos = r->end;
}

static void put_addr(struct rd *r, int family, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	if (!need(r, len))
		return;
	inet_ntop(family, r->msg + r->pos, ip, sizeof(ip));
	sep(r);
	sonde_buf_puts(r->out, ip);
	r->pos += len;
}

/* A type bitmap (RFC 4034 4.1.2): the names of the types it holds. */
static void put_bitmap(struct rd *r)
{
	char tb[16];
	while (!r->bad && r->pos < r->end) {
		uint32_t win = rd_u8(r), len = rd_u8(r);
		if (!len || len > 32 || !need(r, len))
			r->bad = true;
		for (uint32_t i = 0; !r->bad && i < len * 8; i++)
			if (r->msg[r->pos + i / 8] & (0x80 >> (i % 8))) {
				sep(r);
				sonde_buf_puts(r->out, sonde_dns_type_name((uint16_t)(win << 8 | i),
									   tb, sizeof(tb)));
			}
		r->pos += r->bad ? 0 : len;
	}
}

/* RRSIG times (RFC 4034 3.2): YYYYMMDDHHmmSS. */
static void put_time(struct rd *r)
{
	time_t t = (time_t)rd_u32(r);
	struct tm tm;
	if (r->bad || !gmtime_r(&t, &tm))
		return;
	sep(r);
	sonde_buf_printf(r->out, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void rrsig(struct rd *r)
{
	char tb[16];
	uint32_t covered = rd_u16(r);
	if (!r->bad)
		sonde_buf_puts(r->out, sonde_dns_type_name((uint16_t)covered, tb, sizeof(tb)));
	put_u(r, rd_u8(r)); /* algorithm */
	put_u(r, rd_u8(r)); /* labels */
	put_u(r, rd_u32(r)); /* original TTL */
	put_time(r);
	put_time(r);
	put_u(r, rd_u16(r)); /* key tag */
	put_name(r);
	put_b64_rest(r);
}

/* NSEC3's next hashed owner, base32hex without padding (RFC 5155 3.3). */
static void put_b32hex(struct rd *r, size_t k)
{
	static const char al[] = "0123456789abcdefghijklmnopqrstuv";
	if (!need(r, k))
		return;
	sep(r);
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < k; i++) {
		acc = acc << 8 | r->msg[r->pos + i];
		for (bits += 8; bits >= 5; bits -= 5)
			sonde_buf_putc(r->out, al[acc >> (bits - 5) & 31]);
	}
	if (bits)
		sonde_buf_putc(r->out, al[acc << (5 - bits) & 31]);
	r->pos += k;
}

static void nsec3(struct rd *r, bool param)
{
	put_u(r, rd_u8(r)); /* hash algorithm */
	put_u(r, rd_u8(r)); /* flags */
	put_u(r, rd_u16(r)); /* iterations */
	put_hex_n(r, rd_u8(r)); /* salt */
	if (param)
		return;
	put_b32hex(r, rd_u8(r));
	put_bitmap(r);
}

static const char *const svc_keys[] = {
	"mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint",
};

/* One SvcParam value (RFC 9460 7). */
static void svc_value(struct rd *r, uint16_t key, size_t len)
{
	char tb[16];
	size_t end = r->pos + len, save = r->end;
	r->end = end;
	if (key == 1) { /* alpn: comma-separated ids */
		for (bool first = true; !r->bad && r->pos < end; first = false) {
			uint32_t l = rd_u8(r);
			if (!need(r, l))
				break;
			if (!first)
				sonde_buf_putc(r->out, ',');
			sonde_buf_append(r->out, r->msg + r->pos, l);
			r->pos += l;
		}
	} else if (key == 3 && len == 2) {
		sonde_buf_printf(r->out, "%u", rd_u16(r));
	} else if ((key == 4 && len % 4 == 0) || (key == 6 && len % 16 == 0)) {
		for (bool first = true; r->pos < end; first = false) {
			char ip[INET6_ADDRSTRLEN];
			inet_ntop(key == 4 ? AF_INET : AF_INET6, r->msg + r->pos, ip, sizeof(ip));
			sonde_buf_printf(r->out, "%s%s", first ? "" : ",", ip);
			r->pos += key == 4 ? 4 : 16;
		}
	} else if (key == 0 && len % 2 == 0) {
		for (bool first = true; r->pos < end; first = false)
			sonde_buf_printf(r->out, "%s%s", first ? "" : ",",
					 sonde_dns_type_name((uint16_t)rd_u16(r), tb, sizeof(tb)));
	} else if (key == 5) {
		sonde_base64(r->out, r->msg + r->pos, len > B64_MAX ? B64_MAX : len);
		r->pos = end;
	} else {
		sonde_dns_hex(r->out, r->msg + r->pos, len, SONDE_DNS_MAX_DATA / 2, &r->cut);
		r->pos = end;
	}
	r->end = save;
	r->pos = end;
}

static void svcb(struct rd *r)
{
	put_u(r, rd_u16(r)); /* priority */
	put_name(r);
	while (!r->bad && r->pos < r->end) {
		uint16_t key = (uint16_t)rd_u16(r), len = (uint16_t)rd_u16(r);
		if (!need(r, len))
			break;
		sep(r);
		if (key < sizeof(svc_keys) / sizeof(*svc_keys))
			sonde_buf_puts(r->out, svc_keys[key]);
		else
			sonde_buf_printf(r->out, "key%u", key);
		if (key == 2 && !len)
			continue;
		sonde_buf_putc(r->out, '=');
		svc_value(r, key, len);
	}
}

static void caa(struct rd *r)
{
	put_u(r, rd_u8(r)); /* flags */
	uint32_t tl = rd_u8(r);
	if (!need(r, tl))
		return;
	sep(r);
	sonde_buf_append(r->out, r->msg + r->pos, tl);
	r->pos += tl;
	sep(r);
	sonde_buf_putc(r->out, '"');
	for (; r->pos < r->end; r->pos++) {
		uint8_t c = r->msg[r->pos];
		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f)
			sonde_buf_printf(r->out, c == '"' || c == '\\' ? "\\%c" : "\\%03u", c);
		else
			sonde_buf_putc(r->out, (char)c);
	}
	sonde_buf_putc(r->out, '"');
}

/* The DNSSEC types (RFC 4034, 5155) and their relatives. */
static bool decode_dnssec(struct rd *r, uint16_t type)
{
	switch (type) {
	case 43:
	case 59:
	case 32769: /* DS CDS DLV */
		put_u(r, rd_u16(r));
		put_u(r, rd_u8(r));
		put_u(r, rd_u8(r));
		put_hex_n(r, r->end - r->pos);
		break;
	case 25:
	case 48:
	case 60: /* KEY DNSKEY CDNSKEY */
		put_u(r, rd_u16(r));
		put_u(r, rd_u8(r));
		put_u(r, rd_u8(r));
		put_b64_rest(r);
		break;
	case 24:
	case 46: rrsig(r); break; /* SIG RRSIG */
	case 47:
		put_name(r);
		put_bitmap(r);
		break; /* NSEC */
	case 50: nsec3(r, false); break;
	case 51: nsec3(r, true); break;
	default: return false;
	}
	return true;
}

/* Types of character strings: TXT SPF HINFO NAPTR URI. False for others. */
static bool decode_text(struct rd *r, uint16_t type)
{
	switch (type) {
	case 16:
	case 99: /* TXT SPF */
		if (r->pos == r->end)
			r->bad = true;
		while (!r->bad && r->pos < r->end)
			put_cstr(r);
		break;
	case 13:
		put_cstr(r);
		put_cstr(r);
		break; /* HINFO */
	case 35: /* NAPTR */
		put_u(r, rd_u16(r));
		put_u(r, rd_u16(r));
		for (int i = 0; i < 3; i++)
			put_cstr(r);
		put_name(r);
		break;
	case 256: /* URI */
		put_u(r, rd_u16(r));
		put_u(r, rd_u16(r));
		if (!r->bad) {
			sep(r);
			sonde_buf_putc(r->out, '"');
			sonde_buf_append(r->out, r->msg + r->pos, r->end - r->pos);
			sonde_buf_putc(r->out, '"');
			r->pos = r->end;
		}
		break;
	default: return false;
	}
	return true;
}

/* The decoder of a type: false for types decoded generically. */
static bool decode(struct rd *r, uint16_t type)
{
	switch (type) {
	case 1: put_addr(r, AF_INET, 4); break; /* A */
	case 28: put_addr(r, AF_INET6, 16); break; /* AAAA */
	case 2:
	case 3:
	case 4:
	case 5:
	case 7:
	case 8:
	case 9:
	case 12:
	case 39:
		put_name(r); /* NS MD MF CNAME MB MG MR PTR DNAME */
		break;
	case 6: /* SOA */
		put_name(r);
		put_name(r);
		for (int i = 0; i < 5; i++)
			put_u(r, rd_u32(r));
		break;
	case 15:
	case 18:
	case 21:
	case 36: /* MX AFSDB RT KX */
		put_u(r, rd_u16(r));
		put_name(r);
		break;
	case 14:
	case 17: /* MINFO RP */
		put_name(r);
		put_name(r);
		break;
	case 33: /* SRV */
		for (int i = 0; i < 3; i++)
			put_u(r, rd_u16(r));
		put_name(r);
		break;
	case 44: /* SSHFP */
		put_u(r, rd_u8(r));
		put_u(r, rd_u8(r));
		put_hex_n(r, r->end - r->pos);
		break;
	case 52:
	case 53: /* TLSA SMIMEA */
		for (int i = 0; i < 3; i++)
			put_u(r, rd_u8(r));
		put_hex_n(r, r->end - r->pos);
		break;
	case 64:
	case 65: svcb(r); break; /* SVCB HTTPS */
	case 257: caa(r); break;
	default: return decode_text(r, type) || decode_dnssec(r, type);
	}
	return true;
}

void sonde_dns_rdata(const uint8_t *msg, size_t off, size_t len, uint16_t type,
		     struct sonde_buf *out, bool *cut)
{
	struct sonde_buf tmp;
	sonde_buf_init(&tmp, SONDE_DNS_MAX_DATA);
	struct rd r = { .msg = msg, .pos = off, .end = off + len, .out = &tmp };
	if (!decode(&r, type) || r.bad || r.pos != r.end) {
		/* RFC 3597 3: the generic form, for any type */
		sonde_buf_reset(&tmp);
		r.cut = false;
		sonde_buf_printf(&tmp, "\\# %zu", len);
		if (len) {
			sonde_buf_putc(&tmp, ' ');
			sonde_dns_hex(&tmp, msg + off, len, SONDE_DNS_MAX_DATA / 2 - 8, &r.cut);
		}
	}
	*cut = r.cut || tmp.full;
	sonde_buf_append(out, tmp.p, tmp.len);
	sonde_buf_free(&tmp);
}
