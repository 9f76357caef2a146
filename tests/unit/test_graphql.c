/* SPDX-License-Identifier: MIT */
/*
 * GraphQL scanner and request recognition (src/proto/content/graphql.c),
 * rendered through the JSON field visitor: operation
 * types and names, top-level fields (aliases, arguments, nested selections,
 * fragments and spreads skipped), strings, block strings and comments that
 * look like syntax, POST JSON (single and batched, escapes), application/graphql,
 * GET ?query=, non-GraphQL requests, response "errors", and random input.
 */
#include "testutil.h"

#include "proto/content/graphql.h"
#include "sink/render.h"

static struct sonde_buf out;

/* A document's "operations" member, rendered by the JSON field visitor. */
static void write_doc(struct sonde_buf *o, const uint8_t *d, size_t n)
{
	struct sonde_graphql *g = sonde_graphql_parse_doc(d, n);
	struct sonde_json_fields j;
	sonde_json_fields_init(&j, o, false);
	sonde_graphql_doc_fields(g, &sonde_json_field_ops, &j);
	sonde_graphql_free(g);
}

/* As a record has it: ,"graphql":{...} when the request is GraphQL. */
static bool write_request(struct sonde_buf *o, const char *method, const uint8_t *target,
			  size_t tlen, const char *ct, const uint8_t *body, size_t blen)
{
	struct sonde_graphql *g = sonde_graphql_parse_request(
		(const uint8_t *)method, strlen(method), target, tlen, (const uint8_t *)ct,
		ct ? strlen(ct) : 0, body, blen);
	if (!g)
		return false;
	struct sonde_json_fields j;
	sonde_json_fields_init(&j, o, true);
	sonde_graphql_fields(g, &sonde_json_field_ops, &j);
	sonde_graphql_free(g);
	return true;
}

static const char *doc(const char *d)
{
	sonde_buf_reset(&out);
	write_doc(&out, (const uint8_t *)d, strlen(d));
	sonde_buf_putc(&out, 0);
	return (const char *)out.p;
}

static const char *req(const char *method, const char *target, const char *ct, const char *body)
{
	sonde_buf_reset(&out);
	bool r = write_request(&out, method, (const uint8_t *)target, strlen(target), ct,
			       (const uint8_t *)body, body ? strlen(body) : 0);
	sonde_buf_putc(&out, 0);
	if (!r)
		assert_int_equal(out.len, 1);
	return r ? (const char *)out.p : NULL;
}

static void test_documents(void **state)
{
	(void)state;
	assert_string_equal(doc("{ me { id } }"),
			    "\"operations\":[{\"type\":\"query\",\"name\":null,\"fields\":[\"me\"]}]");
	assert_string_equal(doc("query Q($id: ID!, $n: Int = 3) @live { a: user(id: $id) { name } "
				"posts(first: $n, where: {x: \"}\"}) { id } ...F ... on Query { hidden } "
				"__typename }"),
			    "\"operations\":[{\"type\":\"query\",\"name\":\"Q\",\"fields\":[\"user\",\"posts\","
			    "\"__typename\"]}]");
	assert_string_equal(doc("# query Fake { x }\nmutation M { add(s: \"\"\"a } \\\"\"\" b\"\"\") { id } "
				"del }\nfragment F on T { z }\nsubscription { tick }"),
			    "\"operations\":[{\"type\":\"mutation\",\"name\":\"M\",\"fields\":[\"add\",\"del\"]},"
			    "{\"type\":\"subscription\",\"name\":null,\"fields\":[\"tick\"]}]");
	assert_string_equal(doc("{ f @include(if: true) g }"),
			    "\"operations\":[{\"type\":\"query\",\"name\":null,\"fields\":[\"f\",\"g\"]}]");
	assert_string_equal(doc(""), "\"operations\":[]");
	assert_string_equal(doc("query { a { b"), "\"operations\":[{\"type\":\"query\",\"name\":null,\"fields\":[\"a\"]}]");
	assert_string_equal(doc("fragment F on T { x }"), "\"operations\":[]");
}

static void test_requests(void **state)
{
	(void)state;
	const char *r = req("POST", "/graphql", "application/json; charset=utf-8",
			    "{\"operationName\":\"Q\",\"variables\":{\"q\":\"query X {y}\"},"
			    "\"query\":\"query Q { me\\n { id } \\u0061lias: other }\"}");
	assert_non_null(r);
	assert_string_equal(r, ",\"graphql\":{\"transport\":\"json\",\"batch\":false,\"requests\":[{"
			       "\"operation_name\":\"Q\",\"variables\":true,\"operations\":[{\"type\":\"query\","
			       "\"name\":\"Q\",\"fields\":[\"me\",\"other\"]}]}]}");
	r = req("POST", "/gql", "application/json",
		"[{\"query\":\"{a}\"}, {\"query\":\"mutation { b }\", \"extensions\":[1,{\"x\":null}]}]");
	assert_non_null(r);
	assert_string_equal(r, ",\"graphql\":{\"transport\":\"json\",\"batch\":true,\"requests\":["
			       "{\"operations\":[{\"type\":\"query\",\"name\":null,\"fields\":[\"a\"]}]},"
			       "{\"operations\":[{\"type\":\"mutation\",\"name\":null,\"fields\":[\"b\"]}]}]}");
	r = req("POST", "/gql", "application/graphql", "query { x }");
	assert_non_null(r);
	assert_non_null(strstr(r, "\"transport\":\"graphql\""));
	r = req("GET", "/graphql?x=1&query=query%20Q%7Bme%7D&operationName=Q", NULL, NULL);
	assert_non_null(r);
	assert_string_equal(r, ",\"graphql\":{\"transport\":\"get\",\"requests\":[{\"operation_name\":\"Q\","
			       "\"operations\":[{\"type\":\"query\",\"name\":\"Q\",\"fields\":[\"me\"]}]}]}");
	/* not GraphQL */
	assert_null(req("POST", "/api", "application/json", "{\"queryx\":\"{a}\"}"));
	assert_null(req("POST", "/api", "application/json", "{\"query\":5}"));
	assert_null(req("POST", "/api", "application/json", "{\"query\":\"{a}\""));
	assert_null(req("POST", "/api", "application/json", "[]"));
	assert_null(req("POST", "/api", "application/json", "[{\"query\":\"{a}\"},{\"x\":1}]"));
	assert_null(req("POST", "/api", "text/plain", "{\"query\":\"{a}\"}"));
	assert_null(req("GET", "/search?q=query", NULL, NULL));
	assert_null(req("PUT", "/api", "application/json", "{\"query\":\"{a}\"}"));
}

static void test_errors(void **state)
{
	(void)state;
#define ERR(s) sonde_graphql_has_errors((const uint8_t *)s, strlen(s))
	assert_true(ERR("{\"data\":{\"a\":[1,{\"errors\":[]}]},\"errors\":[{\"message\":\"x\"}]}"));
	assert_false(ERR("{\"data\":{\"errors\":[1]},\"errors\":[ ]}"));
	assert_false(ERR("{\"data\":{\"errors\":[1]}}"));
	assert_false(ERR("[{\"errors\":[1]}]"));
	assert_false(ERR("not json"));
	assert_false(ERR(""));
}

static void test_random(void **state)
{
	(void)state;
	struct tu_rng r;
	tu_rng_seed(&r, 7);
	static const char alphabet[] = "{}()[]:\"\\#.@$!, \nquerymutationfragmentonxyz0123\x01\xff";
	char b[200];
	for (int it = 0; it < 20000; it++) {
		size_t n = tu_rng_below(&r, sizeof(b));
		for (size_t i = 0; i < n; i++)
			b[i] = alphabet[tu_rng_below(&r, sizeof(alphabet) - 1)];
		sonde_buf_reset(&out);
		write_doc(&out, (const uint8_t *)b, n);
		write_request(&out, "POST", (const uint8_t *)"/", 1, "application/json",
			      (const uint8_t *)b, n);
		sonde_graphql_has_errors((const uint8_t *)b, n);
		/* the output is valid JSON once wrapped */
		sonde_buf_reset(&out);
		sonde_buf_putc(&out, '{');
		write_doc(&out, (const uint8_t *)b, n);
		sonde_buf_putc(&out, '}');
		struct tj *v = tj_parse(out.p, out.len);
		assert_non_null(v);
		tj_free(v);
	}
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_documents),
		tu_test(test_requests),
		tu_test(test_errors),
		tu_test(test_random),
	};
	int rv = cmocka_run_group_tests(tests, NULL, NULL);
	sonde_buf_free(&out);
	return rv;
}
