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
	if (imp->count >= KURA_MAX_BUNDLE_ENTRIES)
		return KURA_ETOOBIG;
	if (imp->count == imp->cap) {
		size_t cap = imp->cap ? imp->cap * 2 : 64;
		if (cap > KURA_MAX_BUNDLE_ENTRIES)
			cap = KURA_MAX_BUNDLE_ENTRIES;
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

int kura_import_alloc(struct kura_import *imp, size_t n, uint8_t **ret)
{
	*ret = NULL;
	if (n == 0 || n > KURA_MAX_NDJSON_LINE)
		return KURA_EINTERNAL;
	struct kura_import_blob *b = malloc(sizeof *b + n);
	if (!b)
		return KURA_ENOMEM;
	b->next = imp->blobs;
	imp->blobs = b;
	*ret = b->data;
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

static int single_root(struct kura_import_ctx *c, struct kura_slice in, json_t *root)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	json_t *rt = json_object_get(root, "resourceType");
	if (!json_is_object(root))
		return kura_import_fail(c, KURA_EINVAL,
			"the file is a json array; import takes ndjson records or a fhir bundle");
	if (!rt) {
		c->imp->format = KURA_IMPORT_NDJSON;
		return kura_import_record(c, in, root, 1);
	}
	if (json_is_string(rt) && strcmp(json_string_value(rt), "Bundle") == 0)
		return kura_import_bundle(c, in, root);
	return kura_import_fail(c, KURA_EINVAL,
		"the file is a single fhir resource ('%s'); put it in a bundle or an ndjson record",
		json_is_string(rt) ? kura_import_quote_str(json_string_value(rt), q) : "?");
}

static int single_document(struct kura_import_ctx *c, struct kura_slice in)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	json_error_t e;
	if (in.len > KURA_MAX_BUNDLE_FILE)
		return kura_import_fail(c, KURA_ETOOBIG,
			"the file is one json document of more than %u bytes; split it",
			KURA_MAX_BUNDLE_FILE);
	json_t *root = json_loadb((const char *)in.ptr, in.len, KURA_IMPORT_JSON_FLAGS, &e);
	if (!root)
		return kura_import_fail(c, KURA_EINVAL, "invalid json at line %d column %d: %s",
			e.line, e.column, kura_import_quote(e.text, strlen(e.text), 160, q));
	int r = single_root(c, in, root);
	json_decref(root);
	return r;
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
