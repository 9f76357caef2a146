// SPDX-License-Identifier: MIT
/* The Kubernetes API's watch events and lists (enrich/kube_watch.c) and the
 * tables they fill (enrich/kube_table.c): objects shaped as the API server
 * sends them, a stream cut at every byte, what is bounded and refused. */
#include "testutil.h"

#include "enrich/kube_table.h"
#include "enrich/kube_watch.h"

#define POD_EVENT                                                                              \
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"     \
	"{\"name\":\"payments-5c9d7f8b6-x8k2p\",\"namespace\":\"shop\",\"uid\":\"u-1\","          \
	"\"resourceVersion\":\"1042\",\"labels\":{\"app\":\"payments\",\"pod-template-hash\":"    \
	"\"5c9d7f8b6\"}},\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"app\"}]}," \
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.1.2.3\",\"podIPs\":[{\"ip\":"           \
	"\"10.1.2.3\"},{\"ip\":\"fd00::3\"}]}}}"
#define SVC_EVENT                                                                          \
	"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Service\",\"apiVersion\":\"v1\","       \
	"\"metadata\":{\"name\":\"checkout\",\"namespace\":\"shop\",\"resourceVersion\":"     \
	"\"1043\"},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.10\",\"clusterIPs\"" \
	":[\"10.96.0.10\"]}}}"
#define SLICE_EVENT                                                                           \
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"EndpointSlice\",\"apiVersion\":"             \
	"\"discovery.k8s.io/v1\",\"metadata\":{\"name\":\"checkout-x7k2q\",\"namespace\":"       \
	"\"shop\",\"resourceVersion\":\"1044\"},\"addressType\":\"IPv4\",\"endpoints\":["        \
	"{\"addresses\":[\"10.2.0.4\"],\"nodeName\":\"node-b\",\"targetRef\":{\"kind\":\"Pod\"," \
	"\"name\":\"checkout-7d9f8b6c5-q2w3e\",\"namespace\":\"shop\",\"uid\":\"u-9\"}},"      \
	"{\"addresses\":[\"10.2.0.5\"]},{\"addresses\":[\"10.2.0.6\"],\"targetRef\":"           \
	"{\"kind\":\"Node\",\"name\":\"n\"}}]}}"

static void pod_event(void **state)
{
	(void)state;
	struct sonde_kube_event ev;
	assert_int_equal(sonde_kube_parse_event(POD_EVENT, strlen(POD_EVENT), SONDE_KUBE_POD, &ev),
			 0);
	assert_int_equal(ev.type, SONDE_KUBE_ADDED);
	assert_string_equal(ev.obj.name, "payments-5c9d7f8b6-x8k2p");
	assert_string_equal(ev.obj.ns, "shop");
	assert_string_equal(ev.obj.uid, "u-1");
	assert_string_equal(ev.obj.rv, "1042");
	assert_int_equal(ev.obj.naddrs, 2);
	assert_string_equal(ev.obj.addrs[0].ip, "10.1.2.3");
	assert_string_equal(ev.obj.addrs[1].ip, "fd00::3");
	assert_null(ev.obj.addrs[0].pod);
	assert_int_equal(ev.obj.nlabels, 2);
	assert_string_equal(ev.obj.labels[0].key, "app");
	assert_string_equal(ev.obj.labels[0].value, "payments");
	sonde_kube_object_clear(&ev.obj);
	/* The same line is not a Service. */
	assert_int_equal(sonde_kube_parse_event(POD_EVENT, strlen(POD_EVENT), SONDE_KUBE_SERVICE,
						&ev),
			 -1);
}

static void service_slice_bookmark_error(void **state)
{
	(void)state;
	struct sonde_kube_event ev;
	assert_int_equal(
		sonde_kube_parse_event(SVC_EVENT, strlen(SVC_EVENT), SONDE_KUBE_SERVICE, &ev), 0);
	assert_int_equal(ev.type, SONDE_KUBE_MODIFIED);
	assert_int_equal(ev.obj.naddrs, 1);
	assert_string_equal(ev.obj.addrs[0].ip, "10.96.0.10");
	sonde_kube_object_clear(&ev.obj);

	assert_int_equal(
		sonde_kube_parse_event(SLICE_EVENT, strlen(SLICE_EVENT), SONDE_KUBE_SLICE, &ev), 0);
	assert_int_equal(ev.obj.naddrs, 1); /* no targetRef, a Node's: left out */
	assert_string_equal(ev.obj.addrs[0].ip, "10.2.0.4");
	assert_string_equal(ev.obj.addrs[0].pod, "checkout-7d9f8b6c5-q2w3e");
	assert_string_equal(ev.obj.addrs[0].pod_uid, "u-9");
	sonde_kube_object_clear(&ev.obj);

	const char *bm = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":"
			 "{\"resourceVersion\":\"2000\"}}}";
	assert_int_equal(sonde_kube_parse_event(bm, strlen(bm), SONDE_KUBE_POD, &ev), 0);
	assert_int_equal(ev.type, SONDE_KUBE_BOOKMARK);
	assert_string_equal(ev.obj.rv, "2000");
	const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
			   "\"v1\",\"status\":\"Failure\",\"reason\":\"Expired\",\"code\":410}}";
	assert_int_equal(sonde_kube_parse_event(gone, strlen(gone), SONDE_KUBE_POD, &ev), 0);
	assert_int_equal(ev.type, SONDE_KUBE_ERROR);
	assert_int_equal(ev.code, 410);
}

static void refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"type\":\"ADDED\"}",
		"{\"type\":\"SPILLED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}", /* no name */
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":7}}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}} trailing",
		"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}",
	};
	struct sonde_kube_event ev;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(sonde_kube_parse_event(bad[i], strlen(bad[i]), SONDE_KUBE_POD, &ev),
				 -1);
	/* Nested deeper than the bound. */
	char deep[400] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"},\"x\":";
	size_t n = strlen(deep);
	for (int i = 0; i < 60; i++)
		deep[n++] = '[';
	for (int i = 0; i < 60; i++)
		deep[n++] = ']';
	memcpy(deep + n, "}}", 3);
	assert_int_equal(sonde_kube_parse_event(deep, strlen(deep), SONDE_KUBE_POD, &ev), -1);
	/* Not an address, a host-network pod, a pod that ended: no IPs. */
	const char *odd = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"},"
			  "\"status\":{\"podIP\":\"10.0.0.300\"}}}";
	assert_int_equal(sonde_kube_parse_event(odd, strlen(odd), SONDE_KUBE_POD, &ev), 0);
	assert_int_equal(ev.obj.naddrs, 0);
	const char *host = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"},"
			   "\"spec\":{\"hostNetwork\":true},\"status\":{\"podIP\":\"10.0.0.3\"}}}";
	assert_int_equal(sonde_kube_parse_event(host, strlen(host), SONDE_KUBE_POD, &ev), 0);
	assert_int_equal(ev.obj.naddrs, 0);
	const char *done = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"},"
			   "\"status\":{\"phase\":\"Succeeded\",\"podIP\":\"10.0.0.3\"}}}";
	assert_int_equal(sonde_kube_parse_event(done, strlen(done), SONDE_KUBE_POD, &ev), 0);
	assert_int_equal(ev.obj.naddrs, 0);
	const char *headless = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"},"
			       "\"spec\":{\"clusterIP\":\"None\"}}}";
	assert_int_equal(
		sonde_kube_parse_event(headless, strlen(headless), SONDE_KUBE_SERVICE, &ev), 0);
	assert_int_equal(ev.obj.naddrs, 0);
}

static void labels_bounded(void **state)
{
	(void)state;
	struct sonde_buf b = { 0 };
	sonde_buf_printf(&b, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
			      "\"labels\":{");
	for (int i = 0; i < 100; i++)
		sonde_buf_printf(&b, "%s\"k%d\":\"v\"", i ? "," : "", i);
	/* A value over 63 bytes is left out, not cut. */
	sonde_buf_printf(&b, ",\"long\":\"%0100d\"}}}}", 0);
	struct sonde_kube_event ev;
	assert_int_equal(
		sonde_kube_parse_event((const char *)b.p, b.len, SONDE_KUBE_POD, &ev), 0);
	assert_int_equal(ev.obj.nlabels, SONDE_KUBE_LABELS_MAX);
	assert_true(ev.obj.labels_cut);
	for (size_t i = 0; i < ev.obj.nlabels; i++)
		assert_string_not_equal(ev.obj.labels[i].key, "long");
	sonde_kube_object_clear(&ev.obj);
	sonde_buf_free(&b);
}

struct seen {
	int n;
	char last[SONDE_KUBE_RV_MAX + 1];
};

static bool count_line(void *ctx, const char *line, size_t len)
{
	struct seen *s = ctx;
	struct sonde_kube_event ev;
	assert_int_equal(strlen(line), len);
	if (sonde_kube_parse_event(line, len, SONDE_KUBE_POD, &ev) == 0) {
		s->n++;
		snprintf(s->last, sizeof(s->last), "%s", ev.obj.rv);
		sonde_kube_object_clear(&ev.obj);
	}
	return true;
}

/* Two events and a bookmark, cut at every pair of offsets. */
static void every_cut(void **state)
{
	(void)state;
	const char *stream = POD_EVENT "\r\n\n" POD_EVENT "\n{\"type\":\"BOOKMARK\",\"object\":"
				       "{\"metadata\":{\"resourceVersion\":\"7\"}}}\n";
	size_t n = strlen(stream);
	for (size_t i = 0; i <= n; i += 3)
		for (size_t j = i; j <= n; j += 7) {
			struct sonde_kube_lines l = { 0 };
			struct seen s = { 0 };
			assert_true(sonde_kube_lines_feed(&l, stream, i, count_line, &s));
			assert_true(sonde_kube_lines_feed(&l, stream + i, j - i, count_line, &s));
			assert_true(sonde_kube_lines_feed(&l, stream + j, n - j, count_line, &s));
			assert_int_equal(s.n, 3);
			assert_string_equal(s.last, "7");
			sonde_kube_lines_free(&l);
		}
}

/* A line over the bound is dropped whole; the next one still parses. */
static void line_too_long(void **state)
{
	(void)state;
	struct sonde_kube_lines l = { 0 };
	struct seen s = { 0 };
	char *big = malloc(SONDE_KUBE_LINE_MAX / 4);
	memset(big, 'x', SONDE_KUBE_LINE_MAX / 4);
	for (int i = 0; i < 5; i++)
		assert_true(
			sonde_kube_lines_feed(&l, big, SONDE_KUBE_LINE_MAX / 4, count_line, &s));
	assert_true(sonde_kube_lines_feed(&l, "\n" POD_EVENT "\n", strlen(POD_EVENT) + 2,
					  count_line, &s));
	assert_int_equal(l.too_long, 1);
	assert_int_equal(s.n, 1);
	free(big);
	sonde_kube_lines_free(&l);
}

struct listed {
	int n;
};

static void one_item(void *ctx, const struct sonde_kube_object *o)
{
	struct listed *l = ctx;
	assert_true(o->name[0]);
	l->n++;
}

static void lists(void **state)
{
	(void)state;
	const char *page = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":"
			   "{\"resourceVersion\":\"900\",\"continue\":\"tok2\"},\"items\":["
			   "{\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"},\"status\":"
			   "{\"podIP\":\"10.0.0.1\"}},{\"metadata\":{}},"
			   "{\"metadata\":{\"name\":\"b\"}}]}";
	char rv[SONDE_KUBE_RV_MAX + 1], cont[128];
	size_t skipped = 0;
	struct listed l = { 0 };
	assert_int_equal(sonde_kube_parse_list(page, strlen(page), SONDE_KUBE_POD, one_item, &l, rv,
					       sizeof(rv), cont, sizeof(cont), &skipped),
			 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(skipped, 1);
	assert_string_equal(rv, "900");
	assert_string_equal(cont, "tok2");
	const char *empty = "{\"kind\":\"ServiceList\",\"metadata\":{\"resourceVersion\":\"5\"},"
			    "\"items\":null}";
	assert_int_equal(sonde_kube_parse_list(empty, strlen(empty), SONDE_KUBE_SERVICE, one_item,
					       &l, rv, sizeof(rv), cont, sizeof(cont), &skipped),
			 0);
	assert_string_equal(cont, "");
	/* Another kind's list, or none with no version: refused. */
	assert_int_equal(sonde_kube_parse_list(page, strlen(page), SONDE_KUBE_SERVICE, one_item, &l,
					       rv, sizeof(rv), cont, sizeof(cont), &skipped),
			 -1);
	const char *nover = "{\"kind\":\"PodList\",\"items\":[]}";
	assert_int_equal(sonde_kube_parse_list(nover, strlen(nover), SONDE_KUBE_POD, one_item, &l,
					       rv, sizeof(rv), cont, sizeof(cont), &skipped),
			 -1);
}

static struct sonde_kube_object obj(const char *name, const char *ip)
{
	struct sonde_kube_object o = { 0 };
	snprintf(o.name, sizeof(o.name), "%s", name);
	snprintf(o.ns, sizeof(o.ns), "shop");
	o.addrs = calloc(1, sizeof(*o.addrs));
	o.naddrs = 1;
	snprintf(o.addrs[0].ip, sizeof(o.addrs[0].ip), "%s", ip);
	return o;
}

static void table(void **state)
{
	(void)state;
	struct sonde_kube_table *t = sonde_kube_table_new(3);
	struct sonde_kube_object a = obj("a", "10.0.0.1"), b = obj("b", "10.0.0.2");
	struct sonde_kube_object c = obj("c", "10.0.0.3"), d = obj("d", "10.0.0.4");
	assert_true(sonde_kube_table_put(t, &a));
	assert_true(sonde_kube_table_put(t, &b));
	assert_true(sonde_kube_table_put(t, &c));
	assert_false(sonde_kube_table_put(t, &d)); /* full */
	struct sonde_container_meta *m = sonde_kube_table_pod(t, "10.0.0.2");
	assert_non_null(m);
	assert_string_equal(m->pod_name, "b");
	assert_string_equal(m->pod_ip, "10.0.0.2");
	sonde_container_meta_unref(m);
	/* b moves to a new IP: the old one is no longer b's. */
	snprintf(b.addrs[0].ip, sizeof(b.addrs[0].ip), "10.0.0.9");
	assert_true(sonde_kube_table_put(t, &b));
	assert_null(sonde_kube_table_pod(t, "10.0.0.2"));
	char name[64], ns[64];
	assert_true(sonde_kube_table_service(t, "10.0.0.9", name, sizeof(name), ns, sizeof(ns)));
	assert_string_equal(name, "b");
	/* Deleting a moves c into its place: c is still found. */
	sonde_kube_table_del(t, &a);
	assert_null(sonde_kube_table_pod(t, "10.0.0.1"));
	assert_true(sonde_kube_table_service(t, "10.0.0.3", name, sizeof(name), ns, sizeof(ns)));
	assert_string_equal(name, "c");
	/* A new list that has only d drops b and c. */
	uint64_t g = sonde_kube_table_generation(t);
	sonde_kube_table_begin_list(t);
	assert_true(sonde_kube_table_put(t, &d));
	sonde_kube_table_end_list(t);
	assert_true(sonde_kube_table_generation(t) > g);
	assert_int_equal(sonde_kube_table_len(t), 1);
	assert_false(sonde_kube_table_service(t, "10.0.0.3", name, sizeof(name), ns, sizeof(ns)));
	assert_true(sonde_kube_table_service(t, "10.0.0.4", name, sizeof(name), ns, sizeof(ns)));
	sonde_kube_object_clear(&a);
	sonde_kube_object_clear(&b);
	sonde_kube_object_clear(&c);
	sonde_kube_object_clear(&d);
	sonde_kube_table_free(t);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(pod_event),    tu_test(service_slice_bookmark_error),
		tu_test(refused),      tu_test(labels_bounded),
		tu_test(every_cut),    tu_test(line_too_long),
		tu_test(lists),        tu_test(table),
	};
	return cmocka_run_group_tests_name("kube", tests, NULL, NULL);
}
