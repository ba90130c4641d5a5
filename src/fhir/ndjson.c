/*
 * ndjson.c - NDJSON import: one record object per line
 * (docs/internals/import.md).
 *
 * Records are validated and taken apart with jspan, not jansson: jansson
 * builds a tree of every line at about 100 MB/s, which makes a 200 MB file
 * take two seconds; kura_jspan_check() refuses the same texts several times
 * faster, and the content is stored as bytes anyway.
 */
#include "fhir/import_int.h"

#include <stdlib.h>
#include <string.h>

#include "fhir/b64.h"
#include "fhir/jspan.h"
#include "util/banned.h"

enum { K_PATIENT, K_TYPE, K_CONTENT, K_BASE64, K_CTYPE, K_COUNT };

static const char *const record_keys[K_COUNT] = {
	"patient", "type", "content", "content_base64", "content_type",
};

/* One record while it is taken apart. */
struct record {
	struct kura_import_ctx *c;
	struct kura_slice v[K_COUNT]; /* member values; ptr NULL if absent */
	size_t line;
	int kind;                     /* enum kura_import_kind */
	struct kura_import_item *it;
};

/* A short string field, decoded into out (KURA_MAX_TYPE + 2 bytes, NUL
 * added).  *ret_fit is 0 when it is longer than any valid value; out then
 * holds its start, for the message. */
static int field_string(struct record *rec, int key, char out[KURA_MAX_TYPE + 2],
			int *ret_fit)
{
	struct kura_slice v = rec->v[key];
	size_t n;
	*ret_fit = 0;
	if (v.ptr[0] != '"')
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: '%s' must be a json "
			"string", rec->line, record_keys[key]);
	int r = kura_jspan_string(v, (uint8_t *)out, KURA_MAX_TYPE + 1, &n);
	if (r && r != KURA_ETOOBIG)
		return kura_import_fail(rec->c, KURA_EINTERNAL, "line %zu: json scanner "
			"refused a string it had checked", rec->line);
	out[n] = 0;
	*ret_fit = r == 0;
	return 0;
}

static int unknown_key(struct record *rec, struct kura_slice name)
{
	char key[KURA_MAX_TYPE + 2], q[KURA_IMPORT_QUOTE_BUF];
	size_t n;
	kura_jspan_string(name, (uint8_t *)key, sizeof key - 1, &n);
	key[n] = 0;
	if (strcmp(key, "resourceType") == 0)
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: a bare fhir resource; "
			"each line must be a record {\"patient\": ..., \"type\": ..., "
			"\"content\": ...}", rec->line);
	return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: unknown key '%s'; the keys "
		"are patient, type, content, content_base64 and content_type", rec->line,
		kura_import_quote(key, n, KURA_IMPORT_QUOTE, q));
}

static int record_patient(struct record *rec)
{
	char s[KURA_MAX_TYPE + 2], q[KURA_IMPORT_QUOTE_BUF];
	const char *p = rec->c->default_patient;
	int fit = 1, r = 0;
	if (rec->v[K_PATIENT].ptr && (r = field_string(rec, K_PATIENT, s, &fit)) == 0)
		p = s;
	if (r)
		return r;
	if (!p)
		return kura_import_fail(rec->c, KURA_EINVAL,
			"line %zu: no 'patient'; add one or pass --patient ID", rec->line);
	if (!fit || !kura_valid_id(p))
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: patient '%s' is not "
			"a valid id (1 to 64 of A-Z a-z 0-9 . - _)", rec->line,
			kura_import_quote(p, strlen(p), KURA_IMPORT_QUOTE, q));
	kura_import_set(rec->it->patient, sizeof rec->it->patient, p);
	return 0;
}

static int record_type(struct record *rec)
{
	char s[KURA_MAX_TYPE + 2], q[KURA_IMPORT_QUOTE_BUF];
	int fit, r;
	if (!rec->v[K_TYPE].ptr)
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: no 'type'", rec->line);
	if ((r = field_string(rec, K_TYPE, s, &fit)))
		return r;
	if (!fit || !kura_valid_record_type(s))
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: type '%s' is not a "
			"fhir resource type, 'hl7v2' or a lowercase mime type", rec->line,
			kura_import_quote(s, strlen(s), KURA_IMPORT_QUOTE, q));
	kura_import_set(rec->it->type, sizeof rec->it->type, s);
	return 0;
}

static int content_size(struct record *rec, size_t n)
{
	if (n == 0)
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: '%s' is empty",
			rec->line, rec->v[K_BASE64].ptr ? "content_base64" : "content");
	if (n > KURA_MAX_CONTENT)
		return kura_import_fail(rec->c, KURA_ETOOBIG, "line %zu: content is %zu "
			"bytes; at most %u", rec->line, n, KURA_MAX_CONTENT);
	return 0;
}

/* A JSON string is stored decoded; the decoded bytes are never longer. */
static int content_text(struct record *rec)
{
	struct kura_slice v = rec->v[K_CONTENT];
	uint8_t *p;
	size_t n;
	int r;
	if (v.len == 2)
		return content_size(rec, 0);
	if (kura_import_alloc(rec->c->imp, v.len - 2, &p))
		return kura_import_fail(rec->c, KURA_ENOMEM, "out of memory");
	if (kura_jspan_string(v, p, v.len - 2, &n))
		return kura_import_fail(rec->c, KURA_EINTERNAL, "line %zu: json scanner "
			"refused a string it had checked", rec->line);
	if ((r = content_size(rec, n)))
		return r;
	rec->it->content = kura_slice_make(p, n);
	return 0;
}

static int decode_base64(struct record *rec, const uint8_t *text, size_t len)
{
	size_t cap = kura_b64_max_decoded(len), n;
	uint8_t *p;
	/* The padding can take away at most 2 of the bytes cap counts. */
	if (cap > KURA_MAX_CONTENT + 2u)
		return kura_import_fail(rec->c, KURA_ETOOBIG, "line %zu: content is over %u "
			"bytes", rec->line, KURA_MAX_CONTENT);
	if (len % 4 == 0 && kura_import_alloc(rec->c->imp, cap, &p))
		return kura_import_fail(rec->c, KURA_ENOMEM, "out of memory");
	if (len % 4 || kura_b64_decode(kura_slice_make(text, len), p, cap, &n))
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: 'content_base64' is "
			"not strict base64 (standard alphabet, '=' padding, no line breaks)",
			rec->line);
	int r = content_size(rec, n);
	if (!r)
		rec->it->content = kura_slice_make(p, n);
	return r;
}

static int content_base64(struct record *rec)
{
	struct kura_slice v = rec->v[K_BASE64];
	uint8_t *text = NULL;
	size_t n;
	int r = KURA_EINTERNAL;
	if (v.ptr[0] != '"')
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: 'content_base64' must "
			"be a json string", rec->line);
	if (v.len == 2)
		return content_size(rec, 0);
	text = malloc(v.len - 2);
	if (!text) {
		r = kura_import_fail(rec->c, KURA_ENOMEM, "out of memory");
		goto out;
	}
	/* JSON may escape a base64 character ("\/"); decode the string first. */
	if (kura_jspan_string(v, text, v.len - 2, &n)) {
		r = kura_import_fail(rec->c, KURA_EINTERNAL, "line %zu: json scanner refused "
			"a string it had checked", rec->line);
		goto out;
	}
	r = decode_base64(rec, text, n);
out:
	free(text);
	return r;
}

static int record_content(struct record *rec)
{
	struct kura_slice v = rec->v[K_CONTENT];
	if (v.ptr && rec->v[K_BASE64].ptr)
		return kura_import_fail(rec->c, KURA_EINVAL,
			"line %zu: both 'content' and 'content_base64'; give one", rec->line);
	if (rec->v[K_BASE64].ptr) {
		rec->kind = KURA_IMPORT_BINARY;
		return content_base64(rec);
	}
	if (!v.ptr)
		return kura_import_fail(rec->c, KURA_EINVAL,
			"line %zu: no 'content' or 'content_base64'", rec->line);
	if (v.ptr[0] == '"') {
		rec->kind = KURA_IMPORT_TEXT;
		return content_text(rec);
	}
	if (v.ptr[0] != '{' && v.ptr[0] != '[')
		return kura_import_fail(rec->c, KURA_EINVAL,
			"line %zu: 'content' must be a json object, array or string", rec->line);
	rec->kind = v.ptr[0] == '{' ? KURA_IMPORT_OBJECT : KURA_IMPORT_ARRAY;
	if (v.len > KURA_MAX_CONTENT)
		return content_size(rec, v.len);
	rec->it->content = v;
	return 0;
}

/* content.resourceType must be the record's FHIR type. */
static int check_resource_type(struct record *rec)
{
	char s[KURA_MAX_TYPE + 2], q[KURA_IMPORT_QUOTE_BUF], q2[KURA_IMPORT_QUOTE_BUF];
	struct kura_slice rt;
	size_t n = 0;
	int r = kura_jspan_member(rec->v[K_CONTENT], "resourceType", &rt);
	if (r == 0 && rt.ptr[0] == '"')
		r = kura_jspan_string(rt, (uint8_t *)s, sizeof s - 1, &n);
	else if (r == 0 || r == KURA_ENOTFOUND)
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: content has no string "
			"resourceType; it must be '%s'", rec->line, rec->it->type);
	if (r && r != KURA_ETOOBIG)
		return kura_import_fail(rec->c, KURA_EINTERNAL, "line %zu: json scanner "
			"refused text it had checked", rec->line);
	s[n] = 0;
	if (r || strcmp(s, rec->it->type) != 0)
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: content.resourceType "
			"'%s' does not match type '%s'", rec->line,
			kura_import_quote(s, n, KURA_IMPORT_QUOTE, q),
			kura_import_quote_str(rec->it->type, q2));
	return 0;
}

/* A FHIR type promises a FHIR resource, "hl7v2" a message. */
static int check_kind(struct record *rec)
{
	if (strcmp(rec->it->type, "hl7v2") == 0 && rec->kind != KURA_IMPORT_TEXT &&
	    rec->kind != KURA_IMPORT_BINARY)
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: type 'hl7v2' needs "
			"the message as a string 'content' or as 'content_base64'", rec->line);
	if (!kura_is_fhir_type(rec->it->type))
		return 0;
	if (rec->kind != KURA_IMPORT_OBJECT)
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: type '%s' is a fhir "
			"resource type, so 'content' must be the resource as a json object",
			rec->line, rec->it->type);
	return check_resource_type(rec);
}

static const char *default_content_type(const struct record *rec)
{
	switch (rec->kind) {
	case KURA_IMPORT_OBJECT:
		return kura_is_fhir_type(rec->it->type) ? "application/fhir+json"
							: "application/json";
	case KURA_IMPORT_ARRAY:
		return "application/json";
	case KURA_IMPORT_TEXT:
		return "text/plain; charset=utf-8";
	default:
		/* A MIME record type names the bytes better than octet-stream. */
		return strchr(rec->it->type, '/') ? rec->it->type : "application/octet-stream";
	}
}

static int record_content_type(struct record *rec)
{
	char s[KURA_MAX_TYPE + 2], q[KURA_IMPORT_QUOTE_BUF];
	const char *p = default_content_type(rec);
	int fit = 1, r = 0;
	if (rec->v[K_CTYPE].ptr && (r = field_string(rec, K_CTYPE, s, &fit)) == 0)
		p = s;
	if (r)
		return r;
	if (!fit || !kura_valid_content_type(p))
		return kura_import_fail(rec->c, KURA_EINVAL, "line %zu: content_type '%s' is "
			"not a mime type such as 'text/plain; charset=utf-8'", rec->line,
			kura_import_quote(p, strlen(p), KURA_IMPORT_QUOTE, q));
	kura_import_set(rec->it->content_type, sizeof rec->it->content_type, p);
	return 0;
}

int kura_import_record(struct kura_import_ctx *c, struct kura_slice text, size_t line)
{
	struct record rec = {c, {{NULL, 0}}, line, 0, NULL};
	struct kura_slice unknown;
	int r = kura_jspan_members(text, record_keys, K_COUNT, rec.v, &unknown);
	if (r == KURA_EINVAL)
		return kura_import_fail(c, r, "line %zu: not a json object", line);
	if (r)
		return kura_import_fail(c, r, "line %zu: json nested deeper than %u levels",
			line, KURA_MAX_JSON_DEPTH);
	if (unknown.ptr)
		return unknown_key(&rec, unknown);
	r = kura_import_push(c->imp, &rec.it);
	if (r == KURA_ETOOBIG)
		return kura_import_fail(c, r, "line %zu: more than %u records; split the file",
			line, KURA_MAX_IMPORT_RECORDS);
	if (r)
		return kura_import_fail(c, r, "out of memory");
	rec.it->origin = line;
	if ((r = record_patient(&rec)) || (r = record_type(&rec)) ||
	    (r = record_content(&rec)) || (r = check_kind(&rec)))
		return r;
	return record_content_type(&rec);
}

static int ndjson_line(struct kura_import_ctx *c, struct kura_slice line, size_t lineno)
{
	struct kura_jspan_error e;
	if (line.len > KURA_MAX_NDJSON_LINE)
		return kura_import_fail(c, KURA_ETOOBIG, "line %zu is longer than %u bytes",
			lineno, KURA_MAX_NDJSON_LINE);
	int r = kura_jspan_check(line, &e);
	if (r == KURA_ETOOBIG)
		return kura_import_fail(c, r, "line %zu: json nested deeper than %u levels",
			lineno, KURA_MAX_JSON_DEPTH);
	if (r == KURA_ENOMEM)
		return kura_import_fail(c, r, "out of memory");
	if (r)
		return kura_import_fail(c, r, "line %zu: invalid json at column %zu: %s",
			lineno, e.offset + 1, e.what);
	return kura_import_record(c, line, lineno);
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
