/* SPDX-License-Identifier: MIT */
/*
 * -o har's parts (sink/har.h): URLs, query strings, cookies and Set-Cookie
 * attributes from hostile header bytes, and whole entries from record lines
 * — every output read back with json-c in its strict mode (core/json_doc.h),
 * so a byte that breaks JSON (or UTF-8) fails.
 */
#include "testutil.h"

#include <math.h>

#include "core/json_doc.h"
#include "sink/har.h"

/* out as JSON (wrapped in [ ] when it is a list of members). */
static struct json_object *parsed(const struct sonde_buf *b, bool members)
{
	struct sonde_buf w = { 0 };
	if (members)
		sonde_buf_putc(&w, '[');
	sonde_buf_append(&w, b->p, b->len);
	if (members)
		sonde_buf_putc(&w, ']');
	struct json_object *j = sonde_jdoc_parse((const char *)w.p, w.len, 64);
	if (!j)
		fail_msg("not JSON: %.*s", (int)w.len, (const char *)w.p);
	sonde_buf_free(&w);
	return j;
}

/* v's string, or a text no test expects. */
static const char *text(struct json_object *v)
{
	size_t n;
	const char *s = sonde_jdoc_str(v, &n);
	return s ? s : "(not a string)";
}

static bool is_true(struct json_object *v)
{
	return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static void url_is(const char *scheme, const char *auth, const char *target, const char *want)
{
	struct sonde_buf b = { 0 };
	sonde_har_url(&b, scheme, auth, strlen(auth), target, strlen(target));
	struct json_object *j = parsed(&b, false);
	assert_string_equal(text(j), want);
	json_object_put(j);
	sonde_buf_free(&b);
}

static void test_url(void **state)
{
	(void)state;
	url_is("http", "a.test:8080", "/p?q=1", "http://a.test:8080/p?q=1");
	url_is("https", "[::1]:443", "/x", "https://[::1]:443/x"); /* brackets kept in the host */
	url_is("http", "h", "/a b\"<>\\^`{|}[]\x01\x7f\xff",
	       "http://h/a%20b%22%3C%3E%5C%5E%60%7B%7C%7D%5B%5D%01%7F%FF");
	url_is("http", "proxy", "HTTP://abs.test/p", "HTTP://abs.test/p"); /* absolute form */
	url_is("http", "h", "*", "http://h/");
	url_is("http", "tunnel.test:443", "", "http://tunnel.test:443"); /* CONNECT */
	url_is("http", "h\r\nX: y", "/", "http://h%0D%0AX:%20y/");
}

static void test_query(void **state)
{
	(void)state;
	const char *t = "/p?a=1&&b=%41%zz%4&c=+x+&d&=v&e=%E2%9C%93&f=%ff#frag&g=2";
	struct sonde_buf b = { 0 };
	sonde_har_query(&b, t, strlen(t));
	struct json_object *j = parsed(&b, false);
	static const char *const want[][2] = {
		{ "a", "1" }, { "b", "A%zz%4" },       { "c", " x " },         { "d", "" },
		{ "", "v" },  { "e", "\xe2\x9c\x93" }, { "f", "\xef\xbf\xbd" }
	};
	assert_int_equal(sonde_jdoc_count(j), 7);
	for (size_t i = 0; i < 7; i++) {
		struct json_object *p = sonde_jdoc_item(j, i);
		assert_string_equal(text(sonde_jdoc_member(p, "name")), want[i][0]);
		assert_string_equal(text(sonde_jdoc_member(p, "value")), want[i][1]);
	}
	json_object_put(j);
	sonde_buf_reset(&b);
	sonde_har_query(&b, "/no-query", 9);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.p, "[]", 2);
	sonde_buf_free(&b);
}

static void test_cookies(void **state)
{
	(void)state;
	struct sonde_buf b = { 0 };
	bool first = true;
	const char *c1 = " sid=abc=def ;theme=dark;;  ; flag", *c2 = "k=\"q\\\"\"";
	sonde_har_cookies(&b, c1, strlen(c1), &first);
	sonde_har_cookies(&b, c2, strlen(c2), &first);
	struct json_object *j = parsed(&b, true);
	assert_int_equal(sonde_jdoc_count(j), 4);
	assert_string_equal(text(sonde_jdoc_member(sonde_jdoc_item(j, 0), "value")), "abc=def");
	assert_string_equal(text(sonde_jdoc_member(sonde_jdoc_item(j, 2), "name")), "flag");
	assert_string_equal(text(sonde_jdoc_member(sonde_jdoc_item(j, 3), "value")), "\"q\\\"\"");
	json_object_put(j);
	sonde_buf_free(&b);
}

static void test_set_cookie(void **state)
{
	(void)state;
	struct sonde_buf b = { 0 };
	bool first = true;
	const char *v[] = {
		"id=a3; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/a; Secure; HttpOnly; path=/b",
		"x=y; expires=Sunday, 06-Nov-94 08:49:37 GMT; Domain=ex.test",
		"z=; Expires=Wed, 99 Foo 2015 07:28:00 GMT; Secure=no",
		"w", /* no '=': a name alone */
	};
	for (size_t i = 0; i < 4; i++)
		sonde_har_set_cookie(&b, v[i], strlen(v[i]), &first);
	struct json_object *j = parsed(&b, true), *c;
	assert_int_equal(sonde_jdoc_count(j), 4);
	c = sonde_jdoc_item(j, 0);
	assert_string_equal(text(sonde_jdoc_member(c, "expires")), "2015-10-21T07:28:00Z");
	assert_string_equal(text(sonde_jdoc_member(c, "path")), "/b"); /* the last */
	assert_true(is_true(sonde_jdoc_member(c, "secure")));
	assert_true(is_true(sonde_jdoc_member(c, "httpOnly")));
	c = sonde_jdoc_item(j, 1);
	assert_string_equal(text(sonde_jdoc_member(c, "expires")), "1994-11-06T08:49:37Z");
	assert_string_equal(text(sonde_jdoc_member(c, "domain")), "ex.test");
	c = sonde_jdoc_item(j, 2);
	assert_null(sonde_jdoc_member(c, "expires")); /* not a date: left out */
	assert_true(is_true(sonde_jdoc_member(c, "secure")));
	assert_string_equal(text(sonde_jdoc_member(sonde_jdoc_item(j, 3), "name")), "w");
	json_object_put(j);
	sonde_buf_free(&b);
}

static const char http_rec[] =
	"{\"schema\":1,\"type\":\"exchange\",\"ts\":\"2026-01-02T03:04:05.000006Z\","
	"\"protocol\":\"http\",\"version\":\"HTTP/1.1\",\"conn\":{\"id\":7,\"server\":{\"ip\":"
	"\"10.0.0.1\",\"port\":80}},\"capture\":{\"method\":\"pcap-file\"},\"request\":{\"ts\":"
	"\"2026-01-02T03:04:05.000006Z\",\"wire_bytes\":40,\"method\":\"GET\",\"target\":\"/"
	"x?a=1\","
	"\"version\":\"HTTP/"
	"1.1\",\"authority\":\"h\",\"headers\":[[\"Host\",\"h\"]],\"body\":{\"size\":0,"
	"\"captured\":0}},\"latency_us\":{\"first_byte\":1500.5,\"last_byte\":2500},"
	"\"flags\":[\"unanswered\"]}";

static void test_entries(void **state)
{
	(void)state;
	struct sonde_har *h = sonde_har_new("t");
	struct sonde_buf b = { 0 };
	sonde_har_begin(h, &b);
	assert_true(sonde_har_add_json(h, http_rec, sizeof(http_rec) - 1, &b));
	assert_false(sonde_har_add_json(h, "{\"type\":\"exchange\",\"protocol\":\"dns\"}", 36, &b));
	assert_false(sonde_har_add_json(h, "{\"type\":", 8, &b));
	assert_false(sonde_har_add_json(h, "[1]", 3, &b));
	sonde_har_end(h, &b);
	uint64_t unreadable;
	assert_int_equal(sonde_har_entries(h), 1);
	assert_int_equal(sonde_har_skipped(h, &unreadable), 3);
	assert_int_equal(unreadable, 2);
	struct json_object *j = parsed(&b, false), *log = sonde_jdoc_member(j, "log");
	struct json_object *e = sonde_jdoc_item(sonde_jdoc_member(log, "entries"), 0);
	assert_int_equal(json_object_get_int64(sonde_jdoc_member(log, "_skipped_records")), 1);
	assert_int_equal(json_object_get_int64(sonde_jdoc_member(log, "_unreadable_records")), 2);
	assert_string_equal(text(sonde_jdoc_member(sonde_jdoc_member(e, "request"), "url")),
			    "http://h/x?a=1");
	assert_int_equal(json_object_get_int64(
				 sonde_jdoc_member(sonde_jdoc_member(e, "response"), "status")),
			 0);
	assert_string_equal(text(sonde_jdoc_member(e, "connection")), "7");
	struct json_object *t = sonde_jdoc_member(e, "timings");
	assert_true(fabs(sonde_jdoc_num(sonde_jdoc_member(t, "wait"), NAN) - 1.5) < 0.002);
	assert_true(fabs(sonde_jdoc_num(sonde_jdoc_member(e, "time"), NAN) - 2.5) < 0.002);
	json_object_put(j);
	sonde_buf_free(&b);
	sonde_har_free(h);
}

/* A stored line may be anything json-c's strict mode takes, NaN and 1e400
 * included: numbers that are not finite count as absent, so the log stays
 * JSON. */
static void test_hostile_numbers(void **state)
{
	(void)state;
	static const char *const lines[] = {
		"{\"type\":\"exchange\",\"protocol\":\"http\",\"request\":{\"method\":\"GET\","
		"\"body\":{\"size\":NaN}},\"response\":{\"status\":-Infinity},"
		"\"conn\":{\"id\":1e400}}",
		"{\"type\":\"exchange\",\"protocol\":\"http\",\"response\":{\"status\":1e999,"
		"\"grpc\":{\"status\":NaN}},\"latency_us\":{\"first_byte\":Infinity}}",
	};
	struct sonde_har *h = sonde_har_new("t");
	struct sonde_buf b = { 0 };
	sonde_har_begin(h, &b);
	for (size_t i = 0; i < 2; i++)
		assert_true(sonde_har_add_json(h, lines[i], strlen(lines[i]), &b));
	sonde_har_end(h, &b);
	struct json_object *j = parsed(&b, false);
	struct json_object *e = sonde_jdoc_member(sonde_jdoc_member(j, "log"), "entries");
	assert_int_equal(sonde_jdoc_count(e), 2);
	struct json_object *resp = sonde_jdoc_member(sonde_jdoc_item(e, 0), "response");
	assert_true(json_object_is_type(sonde_jdoc_member(resp, "status"), json_type_int));
	assert_int_equal(json_object_get_int64(sonde_jdoc_member(resp, "status")), 0);
	json_object_put(j);
	sonde_buf_free(&b);
	sonde_har_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),     cmocka_unit_test(test_query),
		cmocka_unit_test(test_cookies), cmocka_unit_test(test_set_cookie),
		cmocka_unit_test(test_entries), cmocka_unit_test(test_hostile_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
