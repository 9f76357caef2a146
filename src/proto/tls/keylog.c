/* SPDX-License-Identifier: MIT */
#include "proto/tls/keylog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/hex.h"

#define KEYLOG_FILE_MAX (64u << 20)
#define KEYLOG_ENTRIES_MAX (1u << 20)

struct sonde_keylog {
	struct sonde_keylog_entry *e; /* sorted by client_random once loaded */
	size_t n, cap;
};

static const struct {
	const char *name;
	enum sonde_keylog_label label;
} labels[] = {
	{ "CLIENT_RANDOM", SONDE_KL_MASTER },
	{ "CLIENT_HANDSHAKE_TRAFFIC_SECRET", SONDE_KL_CLIENT_HS },
	{ "SERVER_HANDSHAKE_TRAFFIC_SECRET", SONDE_KL_SERVER_HS },
	{ "CLIENT_TRAFFIC_SECRET_0", SONDE_KL_CLIENT_APP },
	{ "SERVER_TRAFFIC_SECRET_0", SONDE_KL_SERVER_APP },
	{ "CLIENT_EARLY_TRAFFIC_SECRET", SONDE_KL_CLIENT_EARLY },
};

/* Hex digits p[0..n) into out (at most max bytes); bytes written, or -1. */
static int unhex(const char *p, size_t n, uint8_t *out, size_t max)
{
	if (n % 2 || n / 2 > max || !n)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int v = sonde_hexbyte((uint8_t)p[i], (uint8_t)p[i + 1]);
		if (v < 0)
			return -1;
		out[i / 2] = (uint8_t)v;
	}
	return (int)(n / 2);
}

/* The next space-separated word of line[*pos..n). */
static size_t word(const char *line, size_t n, size_t *pos, const char **w)
{
	size_t i = *pos;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	size_t start = i;
	while (i < n && line[i] != ' ' && line[i] != '\t')
		i++;
	*w = line + start;
	*pos = i;
	return i - start;
}

static struct sonde_keylog_entry *entry_for(struct sonde_keylog *kl, const uint8_t cr[32])
{
	/* Lines of one connection come together: look at the last few first. */
	for (size_t i = kl->n; i > 0 && i + 8 > kl->n; i--)
		if (!memcmp(kl->e[i - 1].client_random, cr, 32))
			return &kl->e[i - 1];
	if (kl->n == KEYLOG_ENTRIES_MAX)
		return NULL;
	if (kl->n == kl->cap) {
		/* not realloc: the old block would be freed with secrets in it */
		size_t cap = kl->cap ? kl->cap * 2 : 64;
		struct sonde_keylog_entry *e = sonde_xcalloc(cap, sizeof(*e));
		if (kl->n)
			memcpy(e, kl->e, kl->n * sizeof(*e));
		OPENSSL_cleanse(kl->e, kl->cap * sizeof(*kl->e));
		free(kl->e);
		kl->e = e;
		kl->cap = cap;
	}
	struct sonde_keylog_entry *e = &kl->e[kl->n++];
	memset(e, 0, sizeof(*e));
	memcpy(e->client_random, cr, 32);
	return e;
}

/* One line; false only when the bound on connections is reached. */
static bool parse_line(struct sonde_keylog *kl, const char *line, size_t n)
{
	size_t pos = 0;
	const char *w;
	size_t wl = word(line, n, &pos, &w);
	if (!wl || w[0] == '#')
		return true;
	int label = -1;
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strlen(labels[i].name) == wl && !memcmp(labels[i].name, w, wl))
			label = (int)labels[i].label;
	if (label < 0)
		return true;
	uint8_t cr[32];
	const char *h;
	size_t hl = word(line, n, &pos, &h);
	if (hl != 64 || unhex(h, hl, cr, sizeof(cr)) != 32)
		return true;
	struct sonde_keylog_secret s;
	hl = word(line, n, &pos, &h);
	int sl = unhex(h, hl, s.b, sizeof(s.b));
	if (sl < 16)
		return true;
	s.len = (uint8_t)sl;
	struct sonde_keylog_entry *e = entry_for(kl, cr);
	if (!e)
		return false;
	e->s[label] = s;
	OPENSSL_cleanse(&s, sizeof(s));
	return true;
}

static int entry_cmp(const void *a, const void *b)
{
	return memcmp(((const struct sonde_keylog_entry *)a)->client_random,
		      ((const struct sonde_keylog_entry *)b)->client_random, 32);
}

/* Sort, and merge entries of one client_random that were apart in the file. */
static void finish(struct sonde_keylog *kl)
{
	if (!kl->n)
		return; /* an empty key log has no array to sort */
	qsort(kl->e, kl->n, sizeof(*kl->e), entry_cmp);
	size_t out = 0;
	for (size_t i = 0; i < kl->n; i++) {
		if (out && !entry_cmp(&kl->e[out - 1], &kl->e[i])) {
			for (int k = 0; k < SONDE_KL__COUNT; k++)
				if (kl->e[i].s[k].len)
					kl->e[out - 1].s[k] = kl->e[i].s[k];
			continue;
		}
		if (out != i)
			kl->e[out] = kl->e[i];
		out++;
	}
	OPENSSL_cleanse(kl->e + out, (kl->n - out) * sizeof(*kl->e));
	kl->n = out;
}

struct sonde_keylog *sonde_keylog_new(void)
{
	return sonde_xcalloc(1, sizeof(struct sonde_keylog));
}

long sonde_keylog_add(struct sonde_keylog *kl, const char *text, size_t n, char *err, size_t errlen)
{
	size_t before = kl->n, lineno = 0;
	long rc = 0;
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(text + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - text) : n;
		size_t len = end - i;
		if (len && text[i + len - 1] == '\r')
			len--;
		lineno++;
		if (!parse_line(kl, text + i, len)) {
			snprintf(err, errlen, "more than %u connections (line %zu)",
				 KEYLOG_ENTRIES_MAX, lineno);
			rc = -1;
			break;
		}
		i = end + 1;
	}
	finish(kl); /* what was read before the bound stays usable */
	return rc < 0 ? rc : (long)(kl->n - before);
}

struct sonde_keylog *sonde_keylog_parse(const char *text, size_t n, char *err, size_t errlen)
{
	struct sonde_keylog *kl = sonde_keylog_new();
	if (sonde_keylog_add(kl, text, n, err, errlen) < 0) {
		sonde_keylog_free(kl);
		return NULL;
	}
	if (!kl->n) {
		snprintf(err, errlen, "no CLIENT_RANDOM or TLS 1.3 traffic secret in it");
		sonde_keylog_free(kl);
		return NULL;
	}
	return kl;
}

struct sonde_keylog *sonde_keylog_load(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > KEYLOG_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path,
			 S_ISREG(st.st_mode) ? "larger than 64 MiB" : "not a regular file");
		close(fd);
		return NULL;
	}
	size_t n = (size_t)st.st_size, got = 0;
	char *text = sonde_xmalloc(n + 1);
	while (got < n) {
		ssize_t r = read(fd, text + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	char why[160];
	struct sonde_keylog *kl = sonde_keylog_parse(text, got, why, sizeof(why));
	OPENSSL_cleanse(text, n);
	free(text);
	if (!kl)
		snprintf(err, errlen, "%s: not a usable key log: %s", path, why);
	return kl;
}

const struct sonde_keylog_entry *sonde_keylog_find(const struct sonde_keylog *kl,
						   const uint8_t client_random[32])
{
	struct sonde_keylog_entry key;
	if (!kl->n)
		return NULL;
	memcpy(key.client_random, client_random, 32);
	return bsearch(&key, kl->e, kl->n, sizeof(*kl->e), entry_cmp);
}

/* "LABEL <hex> <hex>\n" of one secret. */
static void put_line(struct sonde_buf *out, const char *label, const uint8_t cr[32],
		     const struct sonde_keylog_secret *s)
{
	static const char hex[] = "0123456789abcdef";
	sonde_buf_puts(out, label);
	sonde_buf_putc(out, ' ');
	for (int i = 0; i < 32; i++) {
		sonde_buf_putc(out, hex[cr[i] >> 4]);
		sonde_buf_putc(out, hex[cr[i] & 15]);
	}
	sonde_buf_putc(out, ' ');
	for (size_t i = 0; i < s->len; i++) {
		sonde_buf_putc(out, hex[s->b[i] >> 4]);
		sonde_buf_putc(out, hex[s->b[i] & 15]);
	}
	sonde_buf_putc(out, '\n');
}

void sonde_keylog_text(const struct sonde_keylog *kl, struct sonde_buf *out)
{
	const size_t nl = sizeof(labels) / sizeof(labels[0]);
	size_t need = 0;
	for (size_t i = 0; i < kl->n; i++)
		for (size_t l = 0; l < nl; l++)
			if (kl->e[i].s[labels[l].label].len)
				need += strlen(labels[l].name) + 66 +
					2u * kl->e[i].s[labels[l].label].len + 1;
	/* room first: no reallocation leaves a copy of secrets behind */
	sonde_buf_reserve(out, need);
	for (size_t i = 0; i < kl->n; i++)
		for (size_t l = 0; l < nl; l++)
			if (kl->e[i].s[labels[l].label].len)
				put_line(out, labels[l].name, kl->e[i].client_random,
					 &kl->e[i].s[labels[l].label]);
}

size_t sonde_keylog_count(const struct sonde_keylog *kl)
{
	return kl ? kl->n : 0;
}

void sonde_keylog_free(struct sonde_keylog *kl)
{
	if (!kl)
		return;
	OPENSSL_cleanse(kl->e, kl->cap * sizeof(*kl->e));
	free(kl->e);
	free(kl);
}
