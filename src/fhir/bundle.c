/*
 * bundle.c - FHIR R4 Bundle import: one record per entry.resource, stored as
 * its exact bytes, with its patient found from the resource's own references
 * (docs/internals/import.md).
 */
#include "fhir/import_int.h"

#include <stdlib.h>
#include <string.h>

#include "fhir/jspan.h"
#include "util/banned.h"

/* A Patient entry with a fullUrl, so that references to it can resolve. */
struct patient_url {
	const char *url;     /* entry.fullUrl */
	const char *patient; /* the id it is stored under */
	size_t index;        /* of the entry */
};

struct bundle {
	struct kura_import_ctx *c;
	json_t *entries;
	struct patient_url *urls; /* sorted by url */
	size_t nurls;
};

static int bundle_type(struct kura_import_ctx *c, json_t *root)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	const char *t = json_string_value(json_object_get(root, "type"));
	if (!t)
		return kura_import_fail(c, KURA_EINVAL, "the bundle has no type; import "
			"takes batch, transaction and collection bundles");
	if (strcmp(t, "transaction") == 0)
		c->imp->atomic = 1;
	else if (strcmp(t, "batch") != 0 && strcmp(t, "collection") != 0)
		return kura_import_fail(c, KURA_EINVAL, "bundle type '%s' cannot be imported; "
			"import takes batch, transaction and collection bundles",
			kura_import_quote_str(t, q));
	return 0;
}

static int bundle_entries(struct kura_import_ctx *c, json_t *root, json_t **ret_entries)
{
	json_t *e = json_object_get(root, "entry");
	*ret_entries = NULL;
	if (e && !json_is_array(e))
		return kura_import_fail(c, KURA_EINVAL, "the bundle's entry is not a json array");
	if (!e || json_array_size(e) == 0)
		return kura_import_fail(c, KURA_EINVAL, "the bundle has no entries; nothing to import");
	if (json_array_size(e) > KURA_MAX_BUNDLE_ENTRIES)
		return kura_import_fail(c, KURA_ETOOBIG, "the bundle has %zu entries; at most %u "
			"can be imported at once", json_array_size(e), KURA_MAX_BUNDLE_ENTRIES);
	*ret_entries = e;
	return 0;
}

static int is_patient(json_t *res)
{
	const char *t = json_string_value(json_object_get(res, "resourceType"));
	return t && strcmp(t, "Patient") == 0;
}

/* The patient of a Patient resource: its id, else the X of a fullUrl
 * urn:uuid:X, else the default; *ret_patient is NULL when there is none. */
static int patient_self(struct bundle *b, json_t *entry, json_t *res, size_t i,
			const char **ret_patient)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	json_t *id = json_object_get(res, "id");
	const char *url = json_string_value(json_object_get(entry, "fullUrl"));
	const char *s = json_string_value(id);
	*ret_patient = NULL;
	if (!id && url && strncmp(url, "urn:uuid:", 9) == 0)
		s = url + 9;
	else if (!id)
		s = b->c->default_patient;
	if (s && !kura_valid_id(s))
		return kura_import_fail(b->c, KURA_EINVAL, "bundle entry %zu: Patient %s '%s' "
			"is not a valid id (1 to 64 of A-Z a-z 0-9 . - _)", i,
			id ? "id" : "fullUrl uuid", kura_import_quote_str(s, q));
	if (id && !s)
		return kura_import_fail(b->c, KURA_EINVAL, "bundle entry %zu: Patient id is "
			"not a json string", i);
	*ret_patient = s;
	return 0;
}

static int url_cmp(const void *a, const void *b)
{
	const struct patient_url *x = a, *y = b;
	int r = strcmp(x->url, y->url);
	if (r)
		return r;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Two Patient entries with one fullUrl would make references ambiguous,
 * unless both are the same patient. */
static int check_urls(struct bundle *b)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	for (size_t k = 1; k < b->nurls; k++) {
		const struct patient_url *x = &b->urls[k - 1], *y = &b->urls[k];
		if (strcmp(x->url, y->url) == 0 && strcmp(x->patient, y->patient) != 0)
			return kura_import_fail(b->c, KURA_EINVAL, "bundle entries %zu and %zu "
				"have the same fullUrl '%s' but are different patients",
				x->index, y->index, kura_import_quote_str(x->url, q));
	}
	return 0;
}

static int map_patients(struct bundle *b)
{
	size_t n = json_array_size(b->entries);
	b->urls = calloc(n, sizeof *b->urls);
	if (!b->urls)
		return kura_import_fail(b->c, KURA_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *entry = json_array_get(b->entries, i);
		json_t *res = json_object_get(entry, "resource");
		const char *url = json_string_value(json_object_get(entry, "fullUrl"));
		const char *p;
		if (!url || !is_patient(res))
			continue;
		int r = patient_self(b, entry, res, i, &p);
		if (r)
			return r;
		if (p)
			b->urls[b->nurls++] = (struct patient_url){url, p, i};
	}
	qsort(b->urls, b->nurls, sizeof *b->urls, url_cmp);
	return check_urls(b);
}

static const struct patient_url *find_url(const struct bundle *b, const char *ref)
{
	struct patient_url key = {ref, NULL, 0};
	size_t lo = 0, hi = b->nurls;
	/* bsearch() would do, but the index tiebreak of url_cmp is not wanted. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(key.url, b->urls[mid].url);
		if (r == 0)
			return &b->urls[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* s follows "Patient/": "ID" or "ID/_history/VERSION". */
static int relative_patient(struct kura_import_ctx *c, const char *s, size_t i,
			    const char *field, char buf[KURA_MAX_ID + 1],
			    const char **ret_patient)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	int ok = n > 0 && n <= KURA_MAX_ID;
	if (slash && (strncmp(slash, "/_history/", 10) != 0 || !slash[10] ||
		      strchr(slash + 10, '/')))
		ok = 0;
	if (ok) {
		memcpy(buf, s, n);
		buf[n] = 0;
		ok = kura_valid_id(buf);
	}
	if (!ok)
		return kura_import_fail(c, KURA_EINVAL, "bundle entry %zu: %s.reference "
			"'Patient/%s' is not 'Patient/ID' with a valid id", i, field,
			kura_import_quote_str(s, q));
	*ret_patient = buf;
	return 0;
}

/* *ret_patient stays NULL for a reference that names no patient kura can find: to
 * a Group, a contained resource, or another server. */
static int patient_ref(struct bundle *b, json_t *res, size_t i,
		       char buf[KURA_MAX_ID + 1], const char **ret_patient)
{
	static const char *const fields[] = {"subject", "patient"};
	*ret_patient = NULL;
	for (size_t k = 0; k < 2; k++) {
		json_t *ref = json_object_get(json_object_get(res, fields[k]), "reference");
		const char *s = json_string_value(ref);
		const struct patient_url *u = s ? find_url(b, s) : NULL;
		if (u) {
			*ret_patient = u->patient;
			return 0;
		}
		if (s && strncmp(s, "Patient/", 8) == 0)
			return relative_patient(b->c, s + 8, i, fields[k], buf, ret_patient);
	}
	return 0;
}

static int entry_patient(struct bundle *b, json_t *entry, json_t *res, size_t i,
			 struct kura_import_item *it)
{
	char buf[KURA_MAX_ID + 1];
	const char *p;
	int r = is_patient(res) ? patient_self(b, entry, res, i, &p)
				: patient_ref(b, res, i, buf, &p);
	if (r)
		return r;
	if (!p)
		p = b->c->default_patient;
	if (!p && is_patient(res))
		return kura_import_fail(b->c, KURA_EINVAL, "bundle entry %zu (Patient): no id "
			"and no urn:uuid fullUrl; give it an id or pass --patient ID", i);
	if (!p)
		return kura_import_fail(b->c, KURA_EINVAL, "bundle entry %zu (%s): no patient; "
			"give it subject or patient 'Patient/ID' or the fullUrl of a Patient "
			"in the bundle, or pass --patient ID", i, it->type);
	kura_import_set(it->patient, sizeof it->patient, p);
	return 0;
}

static int no_resource(struct kura_import_ctx *c, json_t *entry, size_t i)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	json_t *m = json_object_get(json_object_get(entry, "request"), "method");
	if (json_is_string(m))
		return kura_import_fail(c, KURA_EINVAL, "bundle entry %zu has no resource "
			"(request %s); import stores resources only, so remove the entry", i,
			kura_import_quote_str(json_string_value(m), q));
	return kura_import_fail(c, KURA_EINVAL, "bundle entry %zu has no resource; "
		"remove the entry", i);
}

/* The exact bytes of entry.resource, from the entry's bytes. */
static int entry_raw(struct kura_import_ctx *c, struct kura_slice elem, size_t i,
		     struct kura_slice *ret_raw)
{
	int r = kura_jspan_member(elem, "resource", ret_raw);
	if (r || ret_raw->ptr[0] != '{')
		return kura_import_fail(c, KURA_EINTERNAL,
			"bundle entry %zu: json scanner disagrees with jansson", i);
	if (ret_raw->len > KURA_MAX_CONTENT)
		return kura_import_fail(c, KURA_ETOOBIG, "bundle entry %zu: resource is %zu "
			"bytes; at most %u", i, ret_raw->len, KURA_MAX_CONTENT);
	return 0;
}

static int check_resource(struct kura_import_ctx *c, json_t *entry, size_t i)
{
	char q[KURA_IMPORT_QUOTE_BUF];
	json_t *res = json_object_get(entry, "resource");
	if (!json_is_object(entry))
		return kura_import_fail(c, KURA_EINVAL, "bundle entry %zu is not a json object", i);
	if (!res)
		return no_resource(c, entry, i);
	if (!json_is_object(res))
		return kura_import_fail(c, KURA_EINVAL,
			"bundle entry %zu: resource is not a json object", i);
	const char *t = json_string_value(json_object_get(res, "resourceType"));
	if (!t)
		return kura_import_fail(c, KURA_EINVAL,
			"bundle entry %zu: resource has no string resourceType", i);
	if (!kura_is_fhir_type(t))
		return kura_import_fail(c, KURA_EINVAL, "bundle entry %zu: resourceType '%s' "
			"is not a fhir resource type", i, kura_import_quote_str(t, q));
	return 0;
}

static int bundle_entry(struct bundle *b, struct kura_slice elem, size_t i)
{
	json_t *entry = json_array_get(b->entries, i);
	json_t *res = json_object_get(entry, "resource");
	struct kura_import_item *it;
	struct kura_slice raw;
	int r;
	if ((r = check_resource(b->c, entry, i)) || (r = entry_raw(b->c, elem, i, &raw)))
		return r;
	if ((r = kura_import_push(b->c->imp, &it)))
		return kura_import_fail(b->c, r, "out of memory");
	it->origin = i;
	it->content = raw;
	kura_import_set(it->type, sizeof it->type,
			json_string_value(json_object_get(res, "resourceType")));
	kura_import_set(it->content_type, sizeof it->content_type, "application/fhir+json");
	return entry_patient(b, entry, res, i, it);
}

/* The entries in jansson's parse and in the bytes, in step. */
static int walk_entries(struct bundle *b, struct kura_slice text)
{
	struct kura_jspan_iter iter;
	struct kura_slice span, elem;
	size_t i = 0;
	int r = kura_jspan_member(text, "entry", &span);
	if (r == KURA_ETOOBIG)
		return kura_import_fail(b->c, r, "the bundle is json nested deeper than %u "
			"levels", KURA_MAX_JSON_DEPTH);
	if (r || kura_jspan_array_begin(span, &iter))
		return kura_import_fail(b->c, KURA_EINTERNAL,
			"json scanner disagrees with jansson");
	while ((r = kura_jspan_array_next(&iter, &elem)) == 1) {
		if (i >= json_array_size(b->entries))
			break;
		if ((r = bundle_entry(b, elem, i++)))
			return r;
	}
	if (r != 0 || i != json_array_size(b->entries))
		return kura_import_fail(b->c, KURA_EINTERNAL,
			"json scanner disagrees with jansson");
	return 0;
}

int kura_import_bundle(struct kura_import_ctx *c, struct kura_slice text, json_t *root)
{
	struct bundle b = {c, NULL, NULL, 0};
	int r;
	c->imp->format = KURA_IMPORT_BUNDLE;
	if ((r = bundle_type(c, root)) || (r = bundle_entries(c, root, &b.entries)) ||
	    (r = map_patients(&b)))
		goto out;
	r = walk_entries(&b, text);
out:
	free(b.urls);
	return r;
}
