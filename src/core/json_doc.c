/* SPDX-License-Identifier: MIT */
/* JSON documents with json-c (see json_doc.h). */
#include "core/json_doc.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct json_object *sonde_jdoc_parse(const char *p, size_t len, int depth)
{
	if (len > INT_MAX)
		return NULL;
	struct json_tokener *tok = json_tokener_new_ex(depth);
	if (!tok)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *o = json_tokener_parse_ex(tok, p, (int)len);
	size_t used = json_tokener_get_parse_end(tok);
	bool ok = o && json_tokener_get_error(tok) == json_tokener_success;
	for (; ok && used < len; used++)
		ok = p[used] && strchr(" \t\r\n", p[used]);
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *sonde_jdoc_member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

size_t sonde_jdoc_count(struct json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

struct json_object *sonde_jdoc_item(struct json_object *a, size_t i)
{
	return i < sonde_jdoc_count(a) ? json_object_array_get_idx(a, i) : NULL;
}

const char *sonde_jdoc_str(struct json_object *v, size_t *len)
{
	if (!json_object_is_type(v, json_type_string)) {
		*len = 0;
		return NULL;
	}
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

double sonde_jdoc_num(struct json_object *v, double dflt)
{
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return dflt;
	double d = json_object_get_double(v);
	return isfinite(d) ? d : dflt;
}
