/* SPDX-License-Identifier: MIT */
/*
 * What the filter knows of the record's fields (docs/records.md): the
 * top-level members, the types of the common paths (so a bad comparison is
 * refused when compiled), and the aliases docs/filter.md lists. Paths the
 * table does not name are still allowed below a known member: records carry
 * many protocol fields, which are checked when the values arrive.
 */
#include <string.h>

#include "query/filter_impl.h"

static const char *const top_names[] = {
	"schema",  "type",    "ts",       "protocol",   "version", "conn", "capture",
	"process", "request", "response", "latency_us", "flags",   "tcp",
};

int fq_schema_top(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(top_names) / sizeof(*top_names); i++)
		if (strlen(top_names[i]) == n && !memcmp(top_names[i], name, n))
			return (int)i;
	return -1;
}

/* A pattern's components are separated by '.'; '*' is any one step
 * (name or key), '?' the request or the response. */
struct schema_entry {
	const char *pattern;
	enum fq_type type;
	double unit_ns;
};

static const struct schema_entry schema[] = {
	{ "schema", FQ_NUM, 0 },
	{ "type", FQ_STR, 0 },
	{ "ts", FQ_TIME, 0 },
	{ "protocol", FQ_STR, 0 },
	{ "version", FQ_STR, 0 },
	{ "tcp", FQ_OBJ, 0 },
	{ "conn", FQ_OBJ, 0 },
	{ "conn.id", FQ_NUM, 0 },
	{ "conn.transport", FQ_STR, 0 },
	{ "conn.*", FQ_OBJ, 0 },
	{ "conn.*.ip", FQ_STR, 0 },
	{ "conn.*.port", FQ_NUM, 0 },
	{ "conn.*.name", FQ_STR, 0 },
	{ "conn.*.name_source", FQ_STR, 0 },
	{ "conn.*.process", FQ_OBJ, 0 },
	{ "conn.*.process.pid", FQ_NUM, 0 },
	{ "conn.*.process.comm", FQ_STR, 0 },
	{ "conn.*.process.exe", FQ_STR, 0 },
	{ "conn.*.process.cmdline", FQ_STR, 0 },
	{ "conn.*.process.uid", FQ_NUM, 0 },
	{ "conn.*.process.user", FQ_STR, 0 },
	{ "conn.*.process.start_time", FQ_TIME, 0 },
	{ "conn.*.process.container_id", FQ_STR, 0 },
	{ "conn.*.process.cgroup", FQ_STR, 0 },
	{ "conn.*.container", FQ_OBJ, 0 },
	{ "conn.*.container.id", FQ_STR, 0 },
	{ "conn.*.container.name", FQ_STR, 0 },
	{ "conn.*.container.image", FQ_STR, 0 },
	{ "conn.*.container.runtime", FQ_STR, 0 },
	{ "conn.*.pod", FQ_OBJ, 0 },
	{ "conn.*.pod.name", FQ_STR, 0 },
	{ "conn.*.pod.namespace", FQ_STR, 0 },
	{ "conn.*.pod.uid", FQ_STR, 0 },
	{ "conn.*.pod.ip", FQ_STR, 0 },
	{ "conn.*.pod.labels", FQ_OBJ, 0 },
	{ "conn.*.pod.labels.*", FQ_STR, 0 },
	{ "conn.*.pod.workload", FQ_OBJ, 0 },
	{ "conn.*.pod.workload.kind", FQ_STR, 0 },
	{ "conn.*.pod.workload.name", FQ_STR, 0 },
	{ "capture", FQ_OBJ, 0 },
	{ "capture.method", FQ_STR, 0 },
	{ "capture.source", FQ_STR, 0 },
	{ "capture.tls", FQ_OBJ, 0 },
	{ "capture.tls.library", FQ_STR, 0 },
	{ "capture.tls.version", FQ_STR, 0 },
	{ "capture.tls.path", FQ_STR, 0 },
	{ "process", FQ_OBJ, 0 },
	{ "process.pid", FQ_NUM, 0 },
	{ "process.comm", FQ_STR, 0 },
	{ "process.cgroup_id", FQ_NUM, 0 },
	{ "process.exe", FQ_STR, 0 },
	{ "process.cmdline", FQ_STR, 0 },
	{ "process.uid", FQ_NUM, 0 },
	{ "process.user", FQ_STR, 0 },
	{ "process.start_time", FQ_TIME, 0 },
	{ "process.container_id", FQ_STR, 0 },
	{ "?", FQ_OBJ, 0 },
	{ "?.ts", FQ_TIME, 0 },
	{ "?.wire_bytes", FQ_NUM, 0 },
	{ "?.captured_bytes", FQ_NUM, 0 },
	{ "?.headers", FQ_OBJ, 0 },
	{ "?.headers.*", FQ_STR, 0 },
	{ "?.trailers", FQ_OBJ, 0 },
	{ "?.trailers.*", FQ_STR, 0 },
	{ "?.body", FQ_OBJ, 0 },
	{ "?.body.size", FQ_NUM, 0 },
	{ "?.body.captured", FQ_NUM, 0 },
	{ "?.body.data", FQ_STR, 0 },
	{ "?.body.encoding", FQ_STR, 0 },
	{ "?.body.content_encoding", FQ_STR, 0 },
	{ "?.stream_id", FQ_NUM, 0 },
	{ "request.method", FQ_STR, 0 },
	{ "request.target", FQ_STR, 0 },
	{ "request.command", FQ_STR, 0 },
	{ "request.grpc", FQ_OBJ, 0 },
	{ "request.grpc.service", FQ_STR, 0 },
	{ "request.grpc.method", FQ_STR, 0 },
	{ "response.status", FQ_NUM, 0 },
	{ "response.reason", FQ_STR, 0 },
	{ "response.grpc", FQ_OBJ, 0 },
	{ "response.grpc.status", FQ_NUM, 0 },
	{ "response.grpc.message", FQ_STR, 0 },
	{ "latency_us", FQ_OBJ, 0 },
	{ "latency_us.first_byte", FQ_NUM, 1000 },
	{ "latency_us.last_byte", FQ_NUM, 1000 },
	{ "flags", FQ_STRLIST, 0 },
};

static bool step_is(const struct fq_step *s, const char *c, size_t n)
{
	if (n == 1 && c[0] == '*')
		return s->kind != FQ_STEP_INDEX;
	if (s->kind == FQ_STEP_INDEX)
		return false;
	if (n == 1 && c[0] == '?')
		return (s->n == 7 && !memcmp(s->s, "request", 7)) ||
		       (s->n == 8 && !memcmp(s->s, "response", 8));
	return s->n == n && !memcmp(s->s, c, n);
}

static bool pattern_matches(const char *pat, const struct fq_path *p)
{
	size_t i = 0;
	for (const char *c = pat; *c; i++) {
		size_t n = strcspn(c, ".");
		if (i >= p->nsteps || !step_is(&p->step[i], c, n))
			return false;
		c += n + (c[n] == '.');
	}
	return i == p->nsteps;
}

enum fq_type fq_schema_type(const struct fq_path *p, double *unit_ns)
{
	*unit_ns = 0;
	for (size_t i = 0; i < sizeof(schema) / sizeof(*schema); i++)
		if (pattern_matches(schema[i].pattern, p)) {
			*unit_ns = schema[i].unit_ns;
			return schema[i].type;
		}
	return FQ_ANY;
}
