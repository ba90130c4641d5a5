/*
 * ndjson.c - NDJSON import: one record object per line
 * (docs/internals/import.md).
 */
#include "fhir/import_int.h"

#include <string.h>

#include "fhir/b64.h"
#include "fhir/jspan.h"
#include "util/banned.h"

static const char *const record_keys[] = {
	"patient", "type", "content", "content_base64", "content_type",
};

static int known_key(const char *key)
{
	for (size_t i = 0; i < sizeof record_keys / sizeof record_keys[0]; i++)
		if (strcmp(key, record_keys[i]) == 0)
			return 1;
	return 0;
}

static int check_keys(struct kura_import_ctx *c, json_t *obj, size_t line)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		if (known_key(key))
			continue;
		if (strcmp(key, "resourceType") == 0)
			return kura_import_fail(c, KURA_EINVAL,
				"line %zu: a bare fhir resource; each line must be a record "
				"{\"patient\": ..., \"type\": ..., \"content\": ...}", line);
		return kura_import_fail(c, KURA_EINVAL,
			"line %zu: unknown key '%s'; the keys are patient, type, content, "
			"content_base64 and content_type", line, kura_import_quote_str(key, q));
	}
	return 0;
}

/* *ret is NULL when the key is absent. */
static int get_string(struct kura_import_ctx *c, json_t *obj, const char *key,
		      size_t line, const char **ret)
{
	json_t *v = json_object_get(obj, key);
	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return kura_import_fail(c, KURA_EINVAL, "line %zu: '%s' must be a json string",
			line, key);
	*ret = json_string_value(v);
	return 0;
}

static int record_patient(struct kura_import_ctx *c, json_t *obj, size_t line,
			  struct kura_import_item *it)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	const char *s;
	int r = get_string(c, obj, "patient", line, &s);
	if (r)
		return r;
	if (!s)
		s = c->default_patient;
	if (!s)
		return kura_import_fail(c, KURA_EINVAL,
			"line %zu: no 'patient'; add one or pass --patient ID", line);
	if (!kura_valid_id(s))
		return kura_import_fail(c, KURA_EINVAL,
			"line %zu: patient '%s' is not a valid id (1 to 64 of A-Z a-z 0-9 . - _)",
			line, kura_import_quote_str(s, q));
	kura_import_set(it->patient, sizeof it->patient, s);
	return 0;
}

static int record_type(struct kura_import_ctx *c, json_t *obj, size_t line,
		       struct kura_import_item *it)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	const char *s;
	int r = get_string(c, obj, "type", line, &s);
	if (r)
		return r;
	if (!s)
		return kura_import_fail(c, KURA_EINVAL, "line %zu: no 'type'", line);
	if (!kura_valid_record_type(s))
		return kura_import_fail(c, KURA_EINVAL,
			"line %zu: type '%s' is not a fhir resource type, 'hl7v2' or a "
			"lowercase mime type", line, kura_import_quote_str(s, q));
	kura_import_set(it->type, sizeof it->type, s);
	return 0;
}

/* Object or array content: its exact bytes in the line. */
static int content_raw(struct kura_import_ctx *c, struct kura_slice text, json_t *v,
		       size_t line, struct kura_import_item *it)
{
	struct kura_slice span;
	int r = kura_jspan_member(text, "content", &span);
	if (r == KURA_ETOOBIG)
		return kura_import_fail(c, r, "line %zu: json nested deeper than %u levels",
			line, KURA_MAX_JSON_DEPTH);
	/* jansson accepted this text, so the scanner must agree with it. */
	if (r || span.ptr[0] != (json_is_object(v) ? '{' : '['))
		return kura_import_fail(c, KURA_EINTERNAL,
			"line %zu: json scanner disagrees with jansson", line);
	if (span.len > KURA_MAX_CONTENT)
		return kura_import_fail(c, KURA_ETOOBIG,
			"line %zu: content is %zu bytes; at most %u", line, span.len,
			KURA_MAX_CONTENT);
	it->content = span;
	return 0;
}

static int content_text(struct kura_import_ctx *c, json_t *v, size_t line,
			struct kura_import_item *it)
{
	size_t n = json_string_length(v);
	uint8_t *p;
	if (n == 0)
		return kura_import_fail(c, KURA_EINVAL, "line %zu: 'content' is empty", line);
	if (n > KURA_MAX_CONTENT)
		return kura_import_fail(c, KURA_ETOOBIG,
			"line %zu: content is %zu bytes; at most %u", line, n, KURA_MAX_CONTENT);
	if (kura_import_alloc(c->imp, n, &p))
		return kura_import_fail(c, KURA_ENOMEM, "out of memory");
	memcpy(p, json_string_value(v), n);
	it->content = kura_slice_make(p, n);
	return 0;
}

static int content_base64(struct kura_import_ctx *c, json_t *v, size_t line,
			  struct kura_import_item *it)
{
	if (!json_is_string(v))
		return kura_import_fail(c, KURA_EINVAL,
			"line %zu: 'content_base64' must be a json string", line);
	struct kura_slice in = kura_slice_make(json_string_value(v), json_string_length(v));
	size_t cap = kura_b64_max_decoded(in.len), n;
	uint8_t *p = NULL;
	if (in.len == 0)
		return kura_import_fail(c, KURA_EINVAL, "line %zu: 'content_base64' is empty",
			line);
	/* The padding can take away at most 2 of the bytes cap counts. */
	if (cap > KURA_MAX_CONTENT + 2u)
		return kura_import_fail(c, KURA_ETOOBIG,
			"line %zu: content is over %u bytes", line, KURA_MAX_CONTENT);
	if (in.len % 4 == 0 && kura_import_alloc(c->imp, cap, &p))
		return kura_import_fail(c, KURA_ENOMEM, "out of memory");
	if (in.len % 4 || kura_b64_decode(in, p, cap, &n))
		return kura_import_fail(c, KURA_EINVAL,
			"line %zu: 'content_base64' is not strict base64 (standard alphabet, "
			"'=' padding, no line breaks)", line);
	if (n > KURA_MAX_CONTENT)
		return kura_import_fail(c, KURA_ETOOBIG,
			"line %zu: content is %zu bytes; at most %u", line, n, KURA_MAX_CONTENT);
	it->content = kura_slice_make(p, n);
	return 0;
}

static int record_content(struct kura_import_ctx *c, struct kura_slice text, json_t *obj,
			  size_t line, struct kura_import_item *it, int *ret_kind)
{
	json_t *v = json_object_get(obj, "content");
	json_t *b = json_object_get(obj, "content_base64");
	*ret_kind = 0;
	if (v && b)
		return kura_import_fail(c, KURA_EINVAL,
			"line %zu: both 'content' and 'content_base64'; give one", line);
	if (b) {
		*ret_kind = KURA_IMPORT_BINARY;
		return content_base64(c, b, line, it);
	}
	if (json_is_string(v)) {
		*ret_kind = KURA_IMPORT_TEXT;
		return content_text(c, v, line, it);
	}
	if (json_is_object(v) || json_is_array(v)) {
		*ret_kind = json_is_object(v) ? KURA_IMPORT_OBJECT : KURA_IMPORT_ARRAY;
		return content_raw(c, text, v, line, it);
	}
	if (!v)
		return kura_import_fail(c, KURA_EINVAL,
			"line %zu: no 'content' or 'content_base64'", line);
	return kura_import_fail(c, KURA_EINVAL,
		"line %zu: 'content' must be a json object, array or string", line);
}

/* A FHIR type promises a FHIR resource, "hl7v2" a message. */
static int check_kind(struct kura_import_ctx *c, json_t *obj, size_t line,
		      const struct kura_import_item *it, int kind)
{
	char q[KURA_IMPORT_QUOTE_BUF], q2[KURA_IMPORT_QUOTE_BUF];
	if (strcmp(it->type, "hl7v2") == 0 && kind != KURA_IMPORT_TEXT &&
	    kind != KURA_IMPORT_BINARY)
		return kura_import_fail(c, KURA_EINVAL, "line %zu: type 'hl7v2' needs the "
			"message as a string 'content' or as 'content_base64'", line);
	if (!kura_is_fhir_type(it->type))
		return 0;
	if (kind != KURA_IMPORT_OBJECT)
		return kura_import_fail(c, KURA_EINVAL, "line %zu: type '%s' is a fhir "
			"resource type, so 'content' must be the resource as a json object",
			line, it->type);
	json_t *rt = json_object_get(json_object_get(obj, "content"), "resourceType");
	if (!json_is_string(rt))
		return kura_import_fail(c, KURA_EINVAL, "line %zu: content has no string "
			"resourceType; it must be '%s'", line, it->type);
	if (strcmp(json_string_value(rt), it->type) != 0)
		return kura_import_fail(c, KURA_EINVAL, "line %zu: content.resourceType '%s' "
			"does not match type '%s'", line,
			kura_import_quote_str(json_string_value(rt), q),
			kura_import_quote_str(it->type, q2));
	return 0;
}

static const char *default_content_type(const struct kura_import_item *it, int kind)
{
	switch (kind) {
	case KURA_IMPORT_OBJECT:
		return kura_is_fhir_type(it->type) ? "application/fhir+json" : "application/json";
	case KURA_IMPORT_ARRAY:
		return "application/json";
	case KURA_IMPORT_TEXT:
		return "text/plain; charset=utf-8";
	default:
		/* A MIME record type names the bytes better than octet-stream. */
		return strchr(it->type, '/') ? it->type : "application/octet-stream";
	}
}

static int record_content_type(struct kura_import_ctx *c, json_t *obj, size_t line,
			       struct kura_import_item *it, int kind)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	const char *s;
	int r = get_string(c, obj, "content_type", line, &s);
	if (r)
		return r;
	if (!s)
		s = default_content_type(it, kind);
	else if (!kura_valid_content_type(s))
		return kura_import_fail(c, KURA_EINVAL, "line %zu: content_type '%s' is not "
			"a mime type such as 'text/plain; charset=utf-8'", line,
			kura_import_quote_str(s, q));
	kura_import_set(it->content_type, sizeof it->content_type, s);
	return 0;
}

int kura_import_record(struct kura_import_ctx *c, struct kura_slice text, json_t *obj,
		       size_t line)
{
	struct kura_import_item *it;
	int kind, r = check_keys(c, obj, line);
	if (r)
		return r;
	r = kura_import_push(c->imp, &it);
	if (r == KURA_ETOOBIG)
		return kura_import_fail(c, r, "line %zu: more than %u records; split the file",
			line, KURA_MAX_BUNDLE_ENTRIES);
	if (r)
		return kura_import_fail(c, r, "out of memory");
	it->origin = line;
	if ((r = record_patient(c, obj, line, it)) || (r = record_type(c, obj, line, it)) ||
	    (r = record_content(c, text, obj, line, it, &kind)) ||
	    (r = check_kind(c, obj, line, it, kind)))
		return r;
	return record_content_type(c, obj, line, it, kind);
}

static int ndjson_line(struct kura_import_ctx *c, struct kura_slice line, size_t lineno)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	json_error_t e;
	if (line.len > KURA_MAX_NDJSON_LINE)
		return kura_import_fail(c, KURA_ETOOBIG, "line %zu is longer than %u bytes",
			lineno, KURA_MAX_NDJSON_LINE);
	json_t *obj = json_loadb((const char *)line.ptr, line.len, KURA_IMPORT_JSON_FLAGS, &e);
	if (!obj)
		return kura_import_fail(c, KURA_EINVAL, "line %zu: invalid json at column %d: %s",
			lineno, e.column, kura_import_quote(e.text, strlen(e.text), 160, q));
	int r = json_is_object(obj) ? kura_import_record(c, line, obj, lineno)
				    : kura_import_fail(c, KURA_EINVAL,
					      "line %zu: not a json object", lineno);
	json_decref(obj);
	return r;
}

int kura_import_ndjson(struct kura_import_ctx *c, struct kura_slice data)
{
	size_t lineno = 0;
	c->imp->format = KURA_IMPORT_NDJSON;
	while (data.len) {
		const uint8_t *nl = memchr(data.ptr, '\n', data.len);
		size_t n = nl ? (size_t)(nl - data.ptr) : data.len;
		struct kura_slice line = kura_slice_make(data.ptr, n);
		data = kura_slice_make(data.ptr + n + !!nl, data.len - n - !!nl);
		lineno++;
		if (kura_jspan_is_blank(line))
			continue;
		int r = ndjson_line(c, line, lineno);
		if (r)
			return r;
	}
	if (c->imp->count == 0)
		return kura_import_fail(c, KURA_EINVAL, "the file has no records");
	return 0;
}
