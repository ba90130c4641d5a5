/*
 * import.c - the entry point of the import parser: tells NDJSON from a
 * Bundle, owns the result, and formats messages (import.h).
 */
#include "fhir/import_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/jspan.h"
#include "util/banned.h"

struct kura_import_blob {
	struct kura_import_blob *next;
	uint8_t data[];
};

int kura_import_fail(struct kura_import_ctx *c, int err, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	if (!c->errmsg)
		return err;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	kura_buf_reset(c->errmsg);
	/* A message longer than the caller's buffer is lost, not the error. */
	kura_buf_append_str(c->errmsg, line);
	return err;
}

/* Length of the printable character at s (n > 0 bytes left); 0 for a
 * control byte or invalid UTF-8. */
static size_t char_len(const uint8_t *s, size_t n)
{
	if (s[0] >= 0x20 && s[0] < 0x7f)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	size_t k = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (k > n)
		return 0;
	for (size_t j = 1; j < k; j++)
		if ((s[j] & 0xc0) != 0x80)
			return 0;
	return k;
}

const char *kura_import_quote(const void *p, size_t n, size_t max,
			      char out[KURA_IMPORT_QUOTE_BUF])
{
	const uint8_t *s = p;
	size_t i = 0, o = 0;
	if (max > 160)
		max = 160;
	while (i < n && i < max) {
		size_t k = char_len(s + i, n - i);
		if (k == 0) {
			snprintf(out + o, 5, "\\x%02x", s[i]);
			o += 4;
			i++;
			continue;
		}
		if (i + k > max)
			break;
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	if (i < n) {
		memcpy(out + o, "\xe2\x80\xa6", 3);
		o += 3;
	}
	out[o] = 0;
	return out;
}

const char *kura_import_quote_str(const char *s, char out[KURA_IMPORT_QUOTE_BUF])
{
	return kura_import_quote(s, strlen(s), KURA_IMPORT_QUOTE, out);
}

int kura_import_push(struct kura_import *imp, struct kura_import_item **ret_item)
{
	*ret_item = NULL;
	if (imp->count >= KURA_MAX_IMPORT_RECORDS)
		return KURA_ETOOBIG;
	if (imp->count == imp->cap) {
		size_t cap = imp->cap ? imp->cap * 2 : 64;
		if (cap > KURA_MAX_IMPORT_RECORDS)
			cap = KURA_MAX_IMPORT_RECORDS;
		struct kura_import_item *p = realloc(imp->items, cap * sizeof *p);
		if (!p)
			return KURA_ENOMEM;
		imp->items = p;
		imp->cap = cap;
	}
	*ret_item = &imp->items[imp->count++];
	memset(*ret_item, 0, sizeof **ret_item);
	return 0;
}

int kura_import_alloc(struct kura_import *imp, size_t n, uint8_t **ret_mem)
{
	*ret_mem = NULL;
	if (n == 0 || n > KURA_MAX_NDJSON_LINE)
		return KURA_EINTERNAL;
	struct kura_import_blob *b = malloc(sizeof *b + n);
	if (!b)
		return KURA_ENOMEM;
	b->next = imp->blobs;
	imp->blobs = b;
	*ret_mem = b->data;
	return 0;
}

void kura_import_set(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

void kura_import_free(struct kura_import *imp)
{
	if (!imp)
		return;
	while (imp->blobs) {
		struct kura_import_blob *b = imp->blobs;
		imp->blobs = b->next;
		free(b);
	}
	free(imp->items);
	free(imp);
}

/* Editors on Windows write a UTF-8 byte order mark; jansson refuses it. */
static struct kura_slice skip_bom(struct kura_slice in)
{
	if (in.len >= 3 && memcmp(in.ptr, "\xef\xbb\xbf", 3) == 0)
		return kura_slice_make(in.ptr + 3, in.len - 3);
	return in;
}

/* NDJSON when the first line holds exactly one value and more lines with
 * something on them follow; otherwise the file is one document (a Bundle,
 * or one record, possibly pretty-printed over many lines). */
static int looks_ndjson(struct kura_slice in)
{
	struct kura_slice cur = in, v;
	if (kura_jspan_value(&cur, &v) != 0 || memchr(v.ptr, '\n', v.len))
		return 0;
	const uint8_t *nl = memchr(cur.ptr, '\n', cur.len);
	if (!nl)
		return 0;
	size_t head = (size_t)(nl - cur.ptr);
	return kura_jspan_is_blank(kura_slice_make(cur.ptr, head)) &&
	       !kura_jspan_is_blank(kura_slice_make(nl + 1, cur.len - head - 1));
}

/* A message for a text kura_jspan_check() refused, with the line and
 * column (in bytes) where it stopped. */
static int json_error(struct kura_import_ctx *c, int err, struct kura_slice text,
		      const struct kura_jspan_error *e)
{
	size_t line = 1, col = 1;
	for (size_t i = 0; i < e->offset; i++, col++)
		if (text.ptr[i] == '\n') {
			line++;
			col = 0;
		}
	if (err == KURA_ENOMEM)
		return kura_import_fail(c, err, "out of memory");
	if (err == KURA_ETOOBIG)
		return kura_import_fail(c, err, "json nested deeper than %u levels at line %zu "
			"column %zu", KURA_MAX_JSON_DEPTH, line, col);
	/* Text after the first value, past line 1, is most often an NDJSON file
	 * whose first record was broken over lines. */
	return kura_import_fail(c, err, "invalid json at line %zu column %zu: %s%s", line, col,
		e->what, line > 1 && strcmp(e->what, "text after the json value") == 0
			? "; in ndjson each record must be on one line" : "");
}

static int bundle_document(struct kura_import_ctx *c, struct kura_slice in)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	json_error_t e;
	json_t *root = json_loadb((const char *)in.ptr, in.len, KURA_IMPORT_JSON_FLAGS, &e);
	/* Only what jspan lets through and jansson does not: 1e400. */
	if (!root)
		return kura_import_fail(c, KURA_EINVAL, "invalid json at line %d column %d: %s",
			e.line, e.column, kura_import_quote(e.text, strlen(e.text), 160, q));
	int r = kura_import_bundle(c, in, root);
	json_decref(root);
	return r;
}

static int single_resource(struct kura_import_ctx *c, struct kura_slice in,
			   struct kura_slice rt)
{
	char s[KURA_MAX_TYPE + 2], q[KURA_IMPORT_QUOTE_BUF];
	size_t n = 0;
	if (rt.ptr[0] == '"')
		kura_jspan_string(rt, (uint8_t *)s, sizeof s - 1, &n);
	s[n] = 0;
	if (strcmp(s, "Bundle") == 0)
		return bundle_document(c, in);
	return kura_import_fail(c, KURA_EINVAL, "the file is a single fhir resource ('%s'); "
		"put it in a bundle or an ndjson record", kura_import_quote(s, n,
		KURA_IMPORT_QUOTE, q));
}

static uint8_t first_byte(struct kura_slice s)
{
	struct kura_slice v;
	return kura_jspan_value(&s, &v) == 0 ? v.ptr[0] : 0;
}

static int single_document(struct kura_import_ctx *c, struct kura_slice in)
{
	struct kura_jspan_error e;
	struct kura_slice rt;
	if (in.len > KURA_MAX_BUNDLE_FILE)
		return kura_import_fail(c, KURA_ETOOBIG,
			"the file is one json document of more than %u bytes; split it",
			KURA_MAX_BUNDLE_FILE);
	int r = kura_jspan_check(in, &e);
	if (r)
		return json_error(c, r, in, &e);
	r = kura_jspan_member(in, "resourceType", &rt);
	if (r == KURA_EINVAL)
		return kura_import_fail(c, r, "the file is a json %s, not an object; import "
			"takes ndjson records or a fhir bundle", first_byte(in) == '[' ? "array"
			: "scalar");
	if (r == KURA_ENOTFOUND) {
		c->imp->format = KURA_IMPORT_NDJSON;
		return kura_import_record(c, in, 1);
	}
	return r ? r : single_resource(c, in, rt);
}

static int parse_all(struct kura_import_ctx *c, struct kura_slice in)
{
	in = skip_bom(in);
	if (kura_jspan_is_blank(in))
		return kura_import_fail(c, KURA_EINVAL, "the file is empty; nothing to import");
	if (looks_ndjson(in))
		return kura_import_ndjson(c, in);
	return single_document(c, in);
}

int kura_import_parse(const uint8_t *data, size_t len, const char *default_patient,
		      struct kura_import **ret, struct kura_buf *errmsg)
{
	struct kura_import_ctx c = {NULL, default_patient, errmsg};
	char q[KURA_IMPORT_QUOTE_BUF];
	int r;
	*ret = NULL;
	if (default_patient && !kura_valid_id(default_patient))
		return kura_import_fail(&c, KURA_EINVAL,
			"--patient '%s' is not a valid id (1 to 64 of A-Z a-z 0-9 . - _)",
			kura_import_quote_str(default_patient, q));
	if (len > KURA_MAX_IMPORT_FILE)
		return kura_import_fail(&c, KURA_ETOOBIG,
			"the file is larger than %u bytes; split it", KURA_MAX_IMPORT_FILE);
	c.imp = calloc(1, sizeof *c.imp);
	if (!c.imp)
		return kura_import_fail(&c, KURA_ENOMEM, "out of memory");
	r = parse_all(&c, kura_slice_make(data, len));
	if (r)
		goto out;
	*ret = c.imp;
	c.imp = NULL;
out:
	kura_import_free(c.imp);
	return r;
}
