/* SPDX-License-Identifier: MIT */
/*
 * -o har's parts (sink/har.h): URLs, query strings, cookies and Set-Cookie
 * attributes from hostile header bytes, and whole entries from record lines
 * — every output read back with jansson, so a byte that breaks JSON fails.
 */
#include "testutil.h"

#include <jansson.h>

#include "sink/har.h"

/* out as JSON (wrapped in [ ] when it is a list of members). */
static json_t *parsed(const struct sonde_buf *b, bool members)
{
	struct sonde_buf w = { 0 };
	if (members)
		sonde_buf_putc(&w, '[');
	sonde_buf_append(&w, b->p, b->len);
	if (members)
		sonde_buf_putc(&w, ']');
	json_error_t e;
	json_t *j = json_loadb((const char *)w.p, w.len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &e);
	if (!j)
		fail_msg("not JSON (%s): %.*s", e.text, (int)w.len, (const char *)w.p);
	sonde_buf_free(&w);
	return j;
}

static void url_is(const char *scheme, const char *auth, const char *target, const char *want)
{
	struct sonde_buf b = { 0 };
	sonde_har_url(&b, scheme, auth, strlen(auth), target, strlen(target));
	json_t *j = parsed(&b, false);
	assert_string_equal(json_string_value(j), want);
	json_decref(j);
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
	json_t *j = parsed(&b, false);
	static const char *const want[][2] = {
		{ "a", "1" }, { "b", "A%zz%4" },       { "c", " x " },         { "d", "" },
		{ "", "v" },  { "e", "\xe2\x9c\x93" }, { "f", "\xef\xbf\xbd" }
	};
	assert_int_equal(json_array_size(j), 7);
	for (size_t i = 0; i < 7; i++) {
		json_t *p = json_array_get(j, i);
		assert_string_equal(json_string_value(json_object_get(p, "name")), want[i][0]);
		assert_string_equal(json_string_value(json_object_get(p, "value")), want[i][1]);
	}
	json_decref(j);
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
	json_t *j = parsed(&b, true);
	assert_int_equal(json_array_size(j), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "value")),
			    "abc=def");
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "name")),
			    "flag");
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 3), "value")),
			    "\"q\\\"\"");
	json_decref(j);
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
	json_t *j = parsed(&b, true), *c;
	assert_int_equal(json_array_size(j), 4);
	c = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(c, "expires")),
			    "2015-10-21T07:28:00Z");
	assert_string_equal(json_string_value(json_object_get(c, "path")), "/b"); /* the last */
	assert_true(json_is_true(json_object_get(c, "secure")));
	assert_true(json_is_true(json_object_get(c, "httpOnly")));
	c = json_array_get(j, 1);
	assert_string_equal(json_string_value(json_object_get(c, "expires")),
			    "1994-11-06T08:49:37Z");
	assert_string_equal(json_string_value(json_object_get(c, "domain")), "ex.test");
	c = json_array_get(j, 2);
	assert_null(json_object_get(c, "expires")); /* not a date: left out */
	assert_true(json_is_true(json_object_get(c, "secure")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 3), "name")), "w");
	json_decref(j);
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
	json_t *j = parsed(&b, false), *log = json_object_get(j, "log");
	json_t *e = json_array_get(json_object_get(log, "entries"), 0);
	assert_int_equal(json_integer_value(json_object_get(log, "_skipped_records")), 1);
	assert_int_equal(json_integer_value(json_object_get(log, "_unreadable_records")), 2);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(e, "request"), "url")),
		"http://h/x?a=1");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(e, "response"), "status")), 0);
	assert_string_equal(json_string_value(json_object_get(e, "connection")), "7");
	json_t *t = json_object_get(e, "timings");
	assert_true(json_real_value(json_object_get(t, "wait")) == 1.5 ||
		    json_number_value(json_object_get(t, "wait")) > 1.499);
	assert_true(json_number_value(json_object_get(e, "time")) > 2.499);
	json_decref(j);
	sonde_buf_free(&b);
	sonde_har_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),     cmocka_unit_test(test_query),
		cmocka_unit_test(test_cookies), cmocka_unit_test(test_set_cookie),
		cmocka_unit_test(test_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
