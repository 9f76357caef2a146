/* SPDX-License-Identifier: MIT */
/* The IP → name table (see dns_names.h). */
#include "proto/dns/dns_names.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/hash.h"

#define TYPE_A 1
#define TYPE_CNAME 5
#define TYPE_AAAA 28
#define NS_PER_S 1000000000ull

struct name_slot {
	char name[SONDE_DNS_NAMES_LEN];
	uint64_t expires; /* 0: empty */
};

struct addr_slot {
	uint8_t family; /* 0: a free slot */
	uint8_t addr[16];
	struct name_slot names[SONDE_DNS_NAMES_PER_ADDR]; /* newest first */
};

struct sonde_dns_names {
	struct addr_slot *slots;
	size_t mask;
};

struct sonde_dns_names *sonde_dns_names_new(size_t slots)
{
	size_t n = SONDE_DNS_NAMES_PROBE;
	while (n < slots)
		n *= 2;
	struct sonde_dns_names *t = sonde_xcalloc(1, sizeof(*t));
	t->slots = sonde_xcalloc(n, sizeof(*t->slots));
	t->mask = n - 1;
	return t;
}

void sonde_dns_names_free(struct sonde_dns_names *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t);
}

static size_t addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static size_t home(const struct sonde_dns_names *t, int family, const uint8_t *addr)
{
	uint64_t a = 0, b = 0;
	memcpy(&a, addr, 8 < addr_len(family) ? 8 : 4);
	if (family == AF_INET6)
		memcpy(&b, addr + 8, 8);
	return sonde_mix64(a ^ sonde_mix64(b + (uint64_t)family)) & t->mask;
}

/* When the slot's last name expires (0 for a free slot). */
static uint64_t slot_expiry(const struct addr_slot *s)
{
	uint64_t e = 0;
	for (int i = 0; s->family && i < SONDE_DNS_NAMES_PER_ADDR; i++)
		if (s->names[i].expires > e)
			e = s->names[i].expires;
	return e;
}

/* The address's slot, or NULL; with `make`, one taken for it. */
static struct addr_slot *slot_for(const struct sonde_dns_names *t, int family, const uint8_t *addr,
				  uint64_t now, bool make)
{
	size_t h = home(t, family, addr);
	struct addr_slot *victim = NULL;
	uint64_t victim_exp = UINT64_MAX;
	for (size_t i = 0; i < SONDE_DNS_NAMES_PROBE; i++) {
		struct addr_slot *s = &t->slots[(h + i) & t->mask];
		if (s->family == family && !memcmp(s->addr, addr, addr_len(family)))
			return s;
		uint64_t e = slot_expiry(s);
		if (e <= now) /* free or all expired: as good as free */
			e = 0;
		if (e < victim_exp) {
			victim = s;
			victim_exp = e;
		}
	}
	if (!make)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->family = (uint8_t)family;
	memcpy(victim->addr, addr, addr_len(family));
	return victim;
}

/* Put `name` first among the slot's names (moving it if already there). */
static void slot_add(struct addr_slot *s, const char *name, uint64_t expires)
{
	int at = SONDE_DNS_NAMES_PER_ADDR - 1; /* the oldest goes if it is new */
	for (int i = 0; i < SONDE_DNS_NAMES_PER_ADDR; i++)
		if (s->names[i].expires && !strcmp(s->names[i].name, name)) {
			at = i;
			break;
		}
	memmove(&s->names[1], &s->names[0], (size_t)at * sizeof(s->names[0]));
	snprintf(s->names[0].name, sizeof(s->names[0].name), "%s", name);
	s->names[0].expires = expires;
}

static bool name_eq(const struct sonde_dns_msg *m, struct sonde_dns_str a, struct sonde_dns_str b)
{
	return a.len == b.len && !strncasecmp(sonde_dns_txt(m, a), sonde_dns_txt(m, b), a.len);
}

/*
 * Walk CNAMEs from the question to `owner`: true if it is reached, with
 * *ttl lowered to the shortest TTL along the way.
 */
static bool chain_reaches(const struct sonde_dns_msg *m, struct sonde_dns_str q,
			  struct sonde_dns_str owner, uint32_t *ttl)
{
	struct sonde_dns_str cur = q;
	for (int hop = 0; hop <= SONDE_DNS_NAMES_CHAIN; hop++) {
		if (name_eq(m, cur, owner))
			return true;
		const struct sonde_dns_rr *next = NULL;
		for (uint16_t i = 0; i < m->nrr && !next; i++)
			if (m->rr[i].type == TYPE_CNAME && m->rr[i].section == SONDE_DNS_ANSWER &&
			    name_eq(m, m->rr[i].name, cur))
				next = &m->rr[i];
		if (!next)
			return false;
		if (next->ttl < *ttl)
			*ttl = next->ttl;
		cur = next->data;
	}
	return false;
}

static void learn_rr(struct sonde_dns_names *t, const struct sonde_dns_msg *m,
		     const struct sonde_dns_rr *rr, uint64_t now)
{
	uint32_t ttl = rr->ttl;
	struct sonde_dns_str name = rr->name;
	if (m->nq && chain_reaches(m, m->q[0].name, rr->name, &ttl))
		name = m->q[0].name;
	if (name.len >= SONDE_DNS_NAMES_LEN)
		return;
	if (ttl < SONDE_DNS_NAMES_MIN_TTL)
		ttl = SONDE_DNS_NAMES_MIN_TTL;
	char text[SONDE_DNS_NAMES_LEN];
	memcpy(text, sonde_dns_txt(m, name), name.len);
	text[name.len] = 0;
	int family = rr->type == TYPE_A ? AF_INET : AF_INET6;
	struct addr_slot *s = slot_for(t, family, rr->addr, now, true);
	slot_add(s, text, now + (uint64_t)ttl * NS_PER_S);
}

void sonde_dns_names_learn(struct sonde_dns_names *t, const struct sonde_dns_msg *m, uint64_t now)
{
	if (m->base.kind != SONDE_MSG_RESPONSE || m->rcode ||
	    (m->base.flags & SONDE_MF_PARSE_ERROR))
		return;
	for (uint16_t i = 0; i < m->nrr; i++) {
		const struct sonde_dns_rr *rr = &m->rr[i];
		if (rr->section != SONDE_DNS_ANSWER)
			continue;
		if ((rr->type == TYPE_A && rr->rdlength == 4) ||
		    (rr->type == TYPE_AAAA && rr->rdlength == 16))
			learn_rr(t, m, rr, now);
	}
}

size_t sonde_dns_names_lookup(const struct sonde_dns_names *t, int family, const uint8_t *addr,
			      uint64_t now, const char **out, size_t n)
{
	struct addr_slot *s = slot_for(t, family, addr, now, false);
	size_t k = 0;
	for (int i = 0; s && i < SONDE_DNS_NAMES_PER_ADDR && k < n; i++)
		if (s->names[i].expires > now)
			out[k++] = s->names[i].name;
	return k;
}
