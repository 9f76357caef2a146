// SPDX-License-Identifier: MIT
/* The CRI messages sonde reads (enrich/cri_msg.c), built here field by
 * field as a runtime sends them (runtime/v1 api.proto numbers): what is
 * kept, what is bounded, what is refused, cut at every byte. */
#include "testutil.h"

#include "core/buf.h"
#include "enrich/cri_msg.h"

static void varint(struct sonde_buf *b, uint64_t v)
{
	do {
		uint8_t c = (uint8_t)(v & 0x7f);
		v >>= 7;
		c |= v ? 0x80 : 0;
		sonde_buf_append(b, &c, 1);
	} while (v);
}

static void field(struct sonde_buf *b, unsigned num, const void *p, size_t n)
{
	varint(b, (uint64_t)num << 3 | 2);
	varint(b, n);
	sonde_buf_append(b, p, n);
}

static void str(struct sonde_buf *b, unsigned num, const char *s)
{
	field(b, num, s, strlen(s));
}

static void sub(struct sonde_buf *b, unsigned num, struct sonde_buf *m)
{
	field(b, num, m->p, m->len);
	sonde_buf_free(m);
}

static void entry(struct sonde_buf *b, unsigned num, const char *k, const char *v)
{
	struct sonde_buf e = { 0 };
	str(&e, 1, k);
	str(&e, 2, v);
	sub(b, num, &e);
}

/* PodSandbox with metadata, two labels, a sonde.dev annotation and one
 * that must not be kept. */
static void pod(struct sonde_buf *out, const char *id, const char *name)
{
	struct sonde_buf p = { 0 }, md = { 0 };
	str(&p, 1, id);
	str(&md, 1, name);
	str(&md, 2, "uid-1");
	str(&md, 3, "shop");
	varint(&md, 4 << 3), varint(&md, 1); /* attempt: a varint, skipped */
	sub(&p, 2, &md);
	varint(&p, 3 << 3), varint(&p, 0); /* state */
	varint(&p, 4 << 3), varint(&p, 1700000000000000000ull); /* created_at */
	entry(&p, 5, "app", "checkout");
	entry(&p, 5, "tier", "web");
	entry(&p, 6, "sonde.dev/ports", "8080,8443");
	entry(&p, 6, "kubectl.kubernetes.io/last-applied-configuration", "{\"secret\":1}");
	str(&p, 7, "runc");
	sub(out, 1, &p);
}

static void ctr(struct sonde_buf *out, const char *id, const char *pod_id)
{
	struct sonde_buf c = { 0 }, md = { 0 }, img = { 0 };
	str(&c, 1, id);
	str(&c, 2, pod_id);
	str(&md, 1, "web");
	sub(&c, 3, &md);
	str(&img, 1, "localhost/app:1");
	sub(&c, 4, &img);
	str(&c, 5, "sha256:00");
	sub(out, 1, &c);
}

static void pods_and_containers(void **st)
{
	(void)st;
	struct sonde_buf b = { 0 }, c = { 0 };
	pod(&b, "sb1", "checkout-1");
	pod(&b, "sb2", "checkout-2");
	ctr(&c, "c1", "sb2");
	struct sonde_cri_list l = { 0 };
	assert_int_equal(sonde_cri_decode_pods(b.p, b.len, &l), 0);
	assert_int_equal(sonde_cri_decode_containers(c.p, c.len, &l), 0);
	assert_int_equal(l.npods, 2);
	const struct sonde_cri_ctr *ct = sonde_cri_find_ctr(&l, "c1");
	assert_non_null(ct);
	assert_string_equal(ct->name, "web");
	assert_string_equal(ct->image, "localhost/app:1");
	const struct sonde_cri_pod *p = sonde_cri_find_pod(&l, ct->pod_id);
	assert_non_null(p);
	assert_string_equal(p->name, "checkout-2");
	assert_string_equal(p->namespace, "shop");
	assert_string_equal(p->uid, "uid-1");
	assert_int_equal(p->nlabels, 2);
	assert_string_equal(p->labels[1].key, "tier");
	assert_string_equal(p->labels[1].value, "web");
	/* only sonde's own annotations are kept */
	assert_int_equal(p->nannotations, 1);
	assert_string_equal(p->annotations[0].key, "sonde.dev/ports");
	assert_null(sonde_cri_find_ctr(&l, "c2"));
	sonde_cri_list_free(&l);
	sonde_buf_free(&b);
	sonde_buf_free(&c);
}

/* Every prefix: malformed or fewer pods, never a crash or a leak. */
static void every_cut(void **st)
{
	(void)st;
	struct sonde_buf b = { 0 };
	pod(&b, "sb1", "a");
	pod(&b, "sb2", "b");
	for (size_t n = 0; n <= b.len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, b.p, n);
		struct sonde_cri_list l = { 0 };
		int rc = sonde_cri_decode_pods(copy, n, &l);
		assert_true(rc == -1 || l.npods <= 2);
		if (n == b.len)
			assert_true(rc == 0 && l.npods == 2);
		sonde_cri_list_free(&l);
		free(copy);
	}
	sonde_buf_free(&b);
}

static void refused(void **st)
{
	(void)st;
	struct sonde_cri_list l = { 0 };
	/* a NUL inside a string */
	struct sonde_buf b = { 0 }, p = { 0 };
	field(&p, 1, "a\0b", 3);
	sub(&b, 1, &p);
	assert_int_equal(sonde_cri_decode_pods(b.p, b.len, &l), -1);
	sonde_cri_list_free(&l);
	sonde_buf_free(&b);
	/* a string over the bound */
	char *big = malloc(SONDE_CRI_STR_MAX + 2);
	memset(big, 'x', SONDE_CRI_STR_MAX + 1);
	big[SONDE_CRI_STR_MAX + 1] = 0;
	str(&p, 1, big);
	sub(&b, 1, &p);
	assert_int_equal(sonde_cri_decode_pods(b.p, b.len, &l), -1);
	sonde_cri_list_free(&l);
	sonde_buf_free(&b);
	free(big);
	/* a pod without an id */
	struct sonde_buf md = { 0 };
	str(&md, 1, "x");
	sub(&p, 2, &md);
	sub(&b, 1, &p);
	assert_int_equal(sonde_cri_decode_pods(b.p, b.len, &l), -1);
	sonde_cri_list_free(&l);
	sonde_buf_free(&b);
	/* a length past the end */
	static const uint8_t past[] = { 0x0a, 0x7f, 0x0a, 0x01 };
	assert_int_equal(sonde_cri_decode_containers(past, sizeof(past), &l), -1);
	sonde_cri_list_free(&l);
}

/* Labels past the bound are dropped, not grown without end. */
static void bounded(void **st)
{
	(void)st;
	struct sonde_buf b = { 0 }, p = { 0 };
	str(&p, 1, "sb");
	for (int i = 0; i < SONDE_CRI_KV_MAX + 10; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		entry(&p, 5, k, "v");
	}
	sub(&b, 1, &p);
	struct sonde_cri_list l = { 0 };
	assert_int_equal(sonde_cri_decode_pods(b.p, b.len, &l), 0);
	assert_int_equal(l.pods[0].nlabels, SONDE_CRI_KV_MAX);
	sonde_cri_list_free(&l);
	sonde_buf_free(&b);
}

/* PodSandboxStatusResponse → the pod's IP; the request it answers. */
static void status(void **st)
{
	(void)st;
	struct sonde_buf b = { 0 }, stt = { 0 }, net = { 0 };
	str(&net, 1, "10.233.77.2");
	str(&stt, 1, "sb1");
	sub(&stt, 5, &net);
	sub(&b, 1, &stt);
	struct sonde_cri_pod pod = { 0 };
	assert_int_equal(sonde_cri_decode_status(b.p, b.len, &pod), 0);
	assert_string_equal(pod.ip, "10.233.77.2");
	free(pod.ip);
	pod.ip = NULL;
	/* every cut: malformed or no IP, never a crash */
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, b.p, n);
		sonde_cri_decode_status(copy, n, &pod);
		free(pod.ip);
		pod.ip = NULL;
		free(copy);
	}
	sonde_buf_free(&b);
	/* a host-network pod: no network status, no IP */
	str(&stt, 1, "sb2");
	sub(&b, 1, &stt);
	assert_int_equal(sonde_cri_decode_status(b.p, b.len, &pod), 0);
	assert_null(pod.ip);
	sonde_buf_free(&b);
	/* an IP longer than any address is refused */
	str(&net, 1, "1234567890123456789012345678901234567890123456789");
	sub(&stt, 5, &net);
	sub(&b, 1, &stt);
	assert_int_equal(sonde_cri_decode_status(b.p, b.len, &pod), -1);
	assert_null(pod.ip);
	sonde_buf_free(&b);
	uint8_t req[80];
	assert_int_equal(sonde_cri_status_request("abc", req, sizeof(req)), 5);
	assert_memory_equal(req, "\x0a\x03" "abc", 5);
	assert_int_equal(sonde_cri_status_request("abc", req, 4), 0);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(pods_and_containers),
		tu_test(every_cut),
		tu_test(refused),
		tu_test(bounded),
		tu_test(status),
	};
	return cmocka_run_group_tests_name("cri", tests, NULL, NULL);
}
