/* SPDX-License-Identifier: MIT */
/*
 * The recovering HPACK decoder (proto/http2_hpack.c): its Huffman decoder
 * against nghttp2's encoder for every byte value and on malformed codes; the
 * hpack-test-case stories decoded exactly from their start; the same stories
 * joined in the middle (the first blocks never seen), where every field must
 * be either exactly the story's or reported unknown — never a wrong one — and
 * once the decoder knows the table again no reference may miss (a name can
 * stay unknown while the entry that inherited it lives); and the
 * first-field role used to find HTTP/2 mid-stream.
 */
#include <dirent.h>
#include <nghttp2/nghttp2.h>

#include "testutil.h"

#include "core/hex.h"
#include "proto/http/http2_hpack.h"

/* --------------------------------------------------------------- helpers --- */

struct got {
	size_t n;
	char *name[512], *value[512];
	unsigned flags[512];
};

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->name[i]);
		free(g->value[i]);
	}
	g->n = 0;
}

static void collect(void *ctx, const struct h2_hp_field *f)
{
	struct got *g = ctx;
	if (g->n == 512)
		return;
	g->name[g->n] = f->name ? tu_strndup(f->name, f->nlen) : NULL;
	g->value[g->n] = f->value && !(f->flags & H2_HP_VALUE_UNKNOWN) ? tu_strndup(f->value, f->vlen)
								      : NULL;
	g->flags[g->n] = f->flags;
	g->n++;
}

/* One field encoded by nghttp2 (literal, Huffman when shorter). */
static size_t encode_one(nghttp2_hd_deflater *def, uint8_t *out, size_t cap, const char *name,
			 const uint8_t *value, size_t vlen)
{
	nghttp2_nv nv = { (uint8_t *)(uintptr_t)name, (uint8_t *)(uintptr_t)value, strlen(name), vlen,
			  NGHTTP2_NV_FLAG_NO_INDEX };
	ssize_t r = nghttp2_hd_deflate_hd(def, out, cap, &nv, 1);
	assert_true(r > 0);
	return (size_t)r;
}

/* ---------------------------------------------------------------- Huffman --- */

/* Every byte value, Huffman-coded by nghttp2, decodes back. */
static void test_huffman_all_bytes(void **state)
{
	(void)state;
	nghttp2_hd_deflater *def;
	assert_int_equal(nghttp2_hd_deflate_new(&def, 4096), 0);
	struct h2_hpack t;
	h2_hpack_init(&t, 4096, true);
	h2_hpack_reset_known(&t);
	uint8_t v[2048], blk[4096];
	for (int b = 0; b <= 256; b++) {
		size_t vlen;
		if (b < 256) {
			/* short codes around the byte make Huffman the shorter form */
			memset(v, 'a', 40);
			v[40] = (uint8_t)b;
			memset(v + 41, 'e', 40);
			vlen = 81;
		} else {
			/* every byte in one string */
			memset(v, '0', 1400);
			for (int k = 0; k < 256; k++)
				v[1400 + k] = (uint8_t)k;
			vlen = 1656;
		}
		size_t n = encode_one(def, blk, sizeof(blk), "x-v", v, vlen);
		/* 0x10 never indexed, 0x03 "x-v" raw, then the value's H bit */
		assert_int_equal(blk[0], 0x10);
		assert_true(blk[5] & 0x80);
		struct got g = { 0 };
		uint32_t unknown = 0;
		bool synced;
		assert_int_equal(h2_hpack_decode(&t, blk, n, collect, &g, &unknown, &synced), 0);
		assert_int_equal(g.n, 1);
		assert_string_equal(g.name[0], "x-v");
		assert_memory_equal(g.value[0], v, vlen);
		assert_int_equal(unknown, 0);
		got_free(&g);
	}
	h2_hpack_free(&t);
	nghttp2_hd_deflate_del(def);
}

static void test_huffman_malformed(void **state)
{
	(void)state;
	struct sonde_buf o = { 0 };
	/* 'a' is 00011; padding with ones to the byte: fine */
	assert_int_equal(h2_huff_decode((const uint8_t *)"\x1f", 1, &o), 0);
	assert_int_equal(o.len, 1);
	assert_int_equal(o.p[0], 'a');
	o.len = 0;
	/* padding of 8 bits or more */
	assert_int_equal(h2_huff_decode((const uint8_t *)"\x1f\xff", 2, &o), -1);
	o.len = 0;
	/* padding that is not the start of EOS (a zero bit) */
	assert_int_equal(h2_huff_decode((const uint8_t *)"\x1e", 1, &o), -1);
	o.len = 0;
	/* EOS itself: 30 ones */
	assert_int_equal(h2_huff_decode((const uint8_t *)"\xff\xff\xff\xfc", 4, &o), -1);
	o.len = 0;
	assert_int_equal(h2_huff_decode((const uint8_t *)"", 0, &o), 0);
	assert_int_equal(o.len, 0);
	sonde_buf_free(&o);

	/* where the k-th symbol starts, over 30-bit codes (EOS: 30 ones) and
	 * past them: a found code ends the search (the fuzzer found the next
	 * length's shift overflowing) */
	static const uint8_t ones[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	assert_int_equal(h2_huff_symbol_bit(ones, sizeof(ones), 0), 0);
	assert_int_equal(h2_huff_symbol_bit(ones, sizeof(ones), 1), 30);
	assert_int_equal(h2_huff_symbol_bit(ones, sizeof(ones), 2), 60);
	assert_int_equal(h2_huff_symbol_bit(ones, sizeof(ones), 3), 64);
	/* "aa": 00011 00011, then padding */
	assert_int_equal(h2_huff_symbol_bit((const uint8_t *)"\x18\xff", 2, 1), 5);

	/* malformed representations reset the table to unknown */
	struct h2_hpack t;
	h2_hpack_init(&t, 4096, true);
	h2_hpack_reset_known(&t);
	struct got g = { 0 };
	uint32_t unknown = 0;
	bool synced;
	static const uint8_t idx0[] = { 0x82, 0x80 }; /* :method GET, then index 0 */
	assert_int_equal(h2_hpack_decode(&t, idx0, sizeof(idx0), collect, &g, &unknown, &synced), -1);
	assert_int_equal(g.n, 1); /* the field before the error */
	assert_true(t.tail_unknown);
	got_free(&g);
	static const uint8_t longint[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	assert_int_equal(h2_hpack_decode(&t, longint, sizeof(longint), collect, &g, &unknown, &synced),
			 -1);
	static const uint8_t shortstr[] = { 0x40, 0x05, 'a', 'b' }; /* name longer than the block */
	assert_int_equal(h2_hpack_decode(&t, shortstr, sizeof(shortstr), collect, &g, &unknown, &synced),
			 -1);
	got_free(&g);
	h2_hpack_free(&t);
}

/* ---------------------------------------------------------------- stories --- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct sonde_buf b = { 0 };
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		sonde_buf_append(&b, tmp, n);
	fclose(f);
	*len = b.len;
	sonde_buf_putc(&b, 0);
	return (char *)b.p;
}

struct tally {
	size_t stories, blocks, fields, unknown, joins, recovered, resyncs;
};

/*
 * Decode the story's blocks from `from` on. from == 0: from the start, every
 * field exact. Otherwise joined in the middle: a field is exact or unknown,
 * and once the decoder says the table is known again, every field is exact.
 */
static void run_story(const char *path, size_t from, struct tally *ty)
{
	size_t len = 0;
	char *text = slurp(path, &len);
	assert_non_null(text);
	struct tj *root = tj_parse(text, len);
	free(text);
	assert_non_null(root);
	const struct tj *cases = tj_get(root, "cases");
	assert_non_null(cases);
	if (from >= cases->n) {
		tj_free(root);
		return;
	}
	struct h2_hpack t;
	h2_hpack_init(&t, 4096, from == 0);
	if (!from)
		h2_hpack_reset_known(&t);
	bool known_seen = !from, unknown_after = false;
	size_t last_unknown = 0;
	for (size_t i = from; i < cases->n; i++) {
		const struct tj *c = tj_at(cases, i);
		const struct tj *hts = tj_get(c, "header_table_size");
		if (hts)
			h2_hpack_allow(&t, (uint32_t)tj_u64(hts));
		const char *wire = tj_cstr(tj_get(c, "wire"));
		struct tu_bytes blk = { 0 };
		for (size_t k = 0; wire[k] && wire[k + 1]; k += 2)
			tu_u8(&blk, (uint8_t)sonde_hexbyte((uint8_t)wire[k], (uint8_t)wire[k + 1]));
		struct got g = { 0 };
		uint32_t unknown = 0;
		bool synced = false;
		int rc = h2_hpack_decode(&t, blk.p, blk.len, collect, &g, &unknown, &synced);
		if (rc)
			fail_msg("%s case %zu: decoding failed", path, i);
		if (synced)
			ty->resyncs++;
		const struct tj *hs = tj_get(c, "headers");
		if (g.n != hs->n)
			fail_msg("%s case %zu: %zu fields, want %zu", path, i, g.n, hs->n);
		for (size_t k = 0; k < hs->n; k++) {
			const struct tj *kv = tj_at(hs, k);
			const char *name = kv->keys[0], *val = tj_cstr(kv->items[0]);
			bool nk = !(g.flags[k] & H2_HP_NAME_UNKNOWN), vk = !!g.value[k];
			if ((nk && strcmp(g.name[k], name)) || (vk && strcmp(g.value[k], val)))
				fail_msg("%s from %zu case %zu field %zu: %s: %s, want %s: %s", path, from,
					 i, k, nk ? g.name[k] : "?", vk ? g.value[k] : "?", name, val);
			if (!nk && !from)
				fail_msg("%s case %zu field %zu: unknown from the start", path, i, k);
		}
		if (unknown)
			last_unknown = i;
		for (size_t k = 0; k < g.n; k++)
			if (known_seen && (g.flags[k] & H2_HP_BEYOND))
				unknown_after = true; /* an entry we should have had */
		if (!t.tail_unknown)
			known_seen = true;
		ty->blocks++;
		ty->fields += g.n;
		ty->unknown += unknown;
		got_free(&g);
		tu_bytes_free(&blk);
	}
	if (unknown_after)
		fail_msg("%s from %zu: unknown entries after the table was known", path, from);
	if (from) {
		ty->joins++;
		/* recovered: the last blocks of a long story decode exactly */
		if (cases->n - from >= 10 && last_unknown + 3 < cases->n)
			ty->recovered++;
	}
	h2_hpack_free(&t);
	tj_free(root);
}

static void for_each_story(void (*fn)(const char *, struct tally *), struct tally *ty)
{
	const char *corpus = getenv("SONDE_CORPUS");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/http2/hpack-test-case", corpus && *corpus ? corpus : "../shared/corpus");
	DIR *top = opendir(dir);
	if (!top) {
		print_message("hpack-test-case not found under %s: skipped\n", dir);
		skip();
	}
	struct dirent *e;
	char sub[8192], file[12288];
	while ((e = readdir(top))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		DIR *d = opendir(sub);
		if (!d)
			continue;
		struct dirent *f;
		while ((f = readdir(d))) {
			if (strncmp(f->d_name, "story_", 6))
				continue;
			snprintf(file, sizeof(file), "%s/%s", sub, f->d_name);
			fn(file, ty);
			ty->stories++;
		}
		closedir(d);
	}
	closedir(top);
}

static void story_exact(const char *path, struct tally *ty)
{
	run_story(path, 0, ty);
}

static void story_joined(const char *path, struct tally *ty)
{
	for (size_t from = 1; from <= 64; from *= 4)
		run_story(path, from, ty);
}

/* Decoded from their start, the stories are exact (as with nghttp2). */
static void test_stories_exact(void **state)
{
	(void)state;
	struct tally ty = { 0 };
	for_each_story(story_exact, &ty);
	print_message("%zu stories, %zu blocks, %zu fields decoded exactly\n", ty.stories, ty.blocks,
		      ty.fields);
	assert_true(ty.stories > 0);
	assert_int_equal(ty.unknown, 0);
}

/* Joined after 1, 4, 16 or 64 blocks: never a wrong field; recovery. */
static void test_stories_joined(void **state)
{
	(void)state;
	struct tally ty = { 0 };
	for_each_story(story_joined, &ty);
	print_message("%zu joins: %zu blocks, %zu fields, %zu unknown; %zu tables known again, "
		      "%zu long joins ending exact\n",
		      ty.joins, ty.blocks, ty.fields, ty.unknown, ty.resyncs, ty.recovered);
	assert_true(ty.joins > 0);
	assert_true(ty.unknown > 0 && ty.unknown < ty.fields / 4);
	assert_true(ty.resyncs > 0);
	assert_true(ty.recovered > 0);
}

/* ---------------------------------------------------------------- the rest --- */

/* Dynamic entries: our own resolve; past them unknown; a size update to 0
 * makes the table known; an entry's name can be unknown while its value
 * is not. */
static void test_tail(void **state)
{
	(void)state;
	struct h2_hpack t;
	h2_hpack_init(&t, 4096, false);
	struct got g = { 0 };
	uint32_t unknown = 0;
	bool synced;
	/* literal with indexing, new name "k: v"; then index 62 (it), 63 (unknown) */
	static const uint8_t b1[] = { 0x40, 0x01, 'k', 0x01, 'v', 0xbe, 0xbf };
	assert_int_equal(h2_hpack_decode(&t, b1, sizeof(b1), collect, &g, &unknown, &synced), 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.name[1], "k");
	assert_string_equal(g.value[1], "v");
	assert_int_equal(g.flags[2], H2_HP_NAME_UNKNOWN | H2_HP_VALUE_UNKNOWN | H2_HP_BEYOND);
	assert_int_equal(unknown, 1);
	assert_false(synced);
	got_free(&g);
	/* literal with indexing whose name is entry 64 (unknown), value "x":
	 * then the new entry 62 gives an unknown name and the value "x" */
	static const uint8_t b2[] = { 0x7f, 0x00, 0x01, 'x', 0xbe };
	unknown = 0;
	assert_int_equal(h2_hpack_decode(&t, b2, sizeof(b2), collect, &g, &unknown, &synced), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.flags[0], H2_HP_NAME_UNKNOWN | H2_HP_BEYOND);
	assert_string_equal(g.value[0], "x");
	assert_int_equal(g.flags[1], H2_HP_NAME_UNKNOWN);
	assert_string_equal(g.value[1], "x");
	assert_int_equal(unknown, 2);
	got_free(&g);
	/* size update to 0, then to 4096: everything known, nothing left */
	static const uint8_t b3[] = { 0x20, 0x3f, 0xe1, 0x1f, 0x82 };
	unknown = 0;
	assert_int_equal(h2_hpack_decode(&t, b3, sizeof(b3), collect, &g, &unknown, &synced), 0);
	assert_true(synced);
	assert_false(t.tail_unknown);
	assert_int_equal(t.n, 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.value[0], "GET");
	got_free(&g);
	h2_hpack_free(&t);

	/* with a known bound, enough insertions push the unknown tail out */
	h2_hpack_init(&t, 256, true);
	uint8_t blk[64];
	for (int i = 0; i < 8 && t.tail_unknown; i++) {
		size_t n = 0;
		blk[n++] = 0x40;
		blk[n++] = 4;
		memcpy(blk + n, "name", 4);
		n += 4;
		blk[n++] = 20;
		memset(blk + n, 'a' + i, 20);
		n += 20;
		assert_int_equal(h2_hpack_decode(&t, blk, n, collect, &g, &unknown, &synced), 0);
		got_free(&g);
	}
	assert_false(t.tail_unknown); /* 56-byte entries: the 5th leaves no room */
	h2_hpack_free(&t);
}

static void test_first_role(void **state)
{
	(void)state;
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\x82", 1), 1); /* :method GET */
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\x88", 1), 2); /* :status 200 */
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\x3f\xe1\x1f\x87", 4), 1);
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\xbe", 1), 0); /* dynamic */
	/* dynamic references (a later request's :authority, a response's
	 * cached :status) are stepped over to the first known name */
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\xbe\x83", 2), 1);
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\xbf\x7f\x00\x01x\x84", 6), 1);
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\xbe\x5f\x00\x01x", 5), 0);
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\xbe\xbf", 2), 0);
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\xbe\x7f\x00\x05x", 5), 0); /* value cut */
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\x48\x03" "201", 5), 2);
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\x00\x05:path\x01/", 9), 1);
	/* ":protocol" (no static entry) as nghttp2 writes it: Huffman */
	nghttp2_hd_deflater *def;
	assert_int_equal(nghttp2_hd_deflate_new(&def, 4096), 0);
	uint8_t blk[64];
	nghttp2_nv nv = { (uint8_t *)":protocol", (uint8_t *)"websocket", 9, 9, NGHTTP2_NV_FLAG_NO_INDEX };
	ssize_t r = nghttp2_hd_deflate_hd(def, blk, sizeof(blk), &nv, 1);
	assert_true(r > 0);
	assert_true(blk[1] & 0x80); /* the name is Huffman-coded */
	assert_int_equal(h2_hpack_first_role(blk, (size_t)r), 1);
	nghttp2_hd_deflate_del(def);
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\x40\x01x\x01y", 5), 0);
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"", 0), 0);
	assert_int_equal(h2_hpack_first_role((const uint8_t *)"\xff", 1), 0);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_huffman_all_bytes),
		tu_test(test_huffman_malformed),
		tu_test(test_stories_exact),
		tu_test(test_stories_joined),
		tu_test(test_tail),
		tu_test(test_first_role),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
