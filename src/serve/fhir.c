/*
 * fhir.c - FHIR R4 at /fhir (issue 5, docs/FHIR.md): the dispatch, read,
 * vread, instance history, create and update, the stored form of a
 * resource (its members' exact bytes, so JP Core text and decimals such as
 * 7.20 round-trip unchanged).  Everything a
 * client asks for goes through the access layer (auth/access.h), which
 * authorizes and audits it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "crypto/crypto.h"
#include "fhir/jspan.h"
#include "serve/fhir_int.h"
#include "util/err.h"
#include "util/time.h"
#include "util/banned.h"

static const char *const dates_obs[] = {"effectiveDateTime", "effectivePeriod",
					"effectiveInstant", "issued", NULL};
static const char *const dates_enc[] = {"period", NULL};
static const char *const dates_cond[] = {"onsetDateTime", "onsetPeriod", "recordedDate", NULL};
static const char *const dates_med[] = {"authoredOn", NULL};
static const char *const dates_alg[] = {"recordedDate", NULL};
static const char *const dates_doc[] = {"date", NULL};
static const char *const dates_prov[] = {"recorded", NULL};

const struct kura_fhir_type kura_fhir_types[] = {
	{"Patient", NULL, NULL, NULL, 0},
	{"Encounter", "subject", NULL, dates_enc, 1},
	{"Observation", "subject", "code", dates_obs, 1},
	{"Condition", "subject", "code", dates_cond, 0},
	{"MedicationRequest", "subject", "medicationCodeableConcept", dates_med, 1},
	{"AllergyIntolerance", "patient", "code", dates_alg, 0},
	{"DiagnosticReport", "subject", "code", dates_obs, 1},
	{"DocumentReference", "subject", NULL, dates_doc, 1},
	{"Binary", "securityContext", NULL, NULL, 0},
	{"Provenance", "target", NULL, dates_prov, 0},
	{NULL, NULL, NULL, NULL, 0},
};

const struct kura_fhir_type *kura_fhir_type_find(const char *name)
{
	for (const struct kura_fhir_type *t = kura_fhir_types; t->name; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* ---- object members by their bytes ---- */

struct members {
	struct kura_slice rest;
	int first;
};

static void skip_ws(struct kura_slice *s)
{
	while (s->len && (*s->ptr == ' ' || *s->ptr == '\t' || *s->ptr == '\n' || *s->ptr == '\r')) {
		s->ptr++;
		s->len--;
	}
}

static int take_char(struct kura_slice *s, char c)
{
	skip_ws(s);
	if (!s->len || *s->ptr != c)
		return 0;
	s->ptr++;
	s->len--;
	return 1;
}

static int members_begin(struct kura_slice obj, struct members *m)
{
	m->rest = obj;
	m->first = 1;
	return take_char(&m->rest, '{') ? 0 : KURA_EINVAL;
}

/* 1 with the next member's name token and value, 0 after '}', or an error. */
static int members_next(struct members *m, struct kura_slice *name, struct kura_slice *value)
{
	if (take_char(&m->rest, '}'))
		return 0;
	if (!m->first && !take_char(&m->rest, ','))
		return KURA_EINVAL;
	m->first = 0;
	skip_ws(&m->rest);
	if (!m->rest.len || *m->rest.ptr != '"' || kura_jspan_value(&m->rest, name) ||
	    !take_char(&m->rest, ':') || kura_jspan_value(&m->rest, value))
		return KURA_EINVAL;
	return 1;
}

static int name_is(struct kura_slice name, const char *s)
{
	uint8_t buf[32];
	size_t n;
	if (kura_jspan_string(name, buf, sizeof(buf), &n))
		return 0;
	return n == strlen(s) && memcmp(buf, s, n) == 0;
}

static int append_member(struct kura_buf *b, int *first, struct kura_slice name,
			 struct kura_slice value)
{
	int r = *first ? 0 : kura_buf_append_byte(b, ',');
	*first = 0;
	if (!r)
		r = kura_buf_append(b, name.ptr, name.len);
	if (!r)
		r = kura_buf_append_byte(b, ':');
	return r ? r : kura_buf_append(b, value.ptr, value.len);
}

/* meta without versionId and lastUpdated; nothing when none is left. */
static int append_meta(struct kura_buf *b, int *first, struct kura_slice name,
		       struct kura_slice meta)
{
	struct members m;
	struct kura_slice n, v;
	int r, inner = 1;
	size_t mark = b->len;
	if (members_begin(meta, &m))
		return KURA_EINVAL;
	r = *first ? 0 : kura_buf_append_byte(b, ',');
	if (!r)
		r = kura_buf_append(b, name.ptr, name.len);
	if (!r)
		r = kura_buf_append_str(b, ":{");
	while (!r && (r = members_next(&m, &n, &v)) == 1)
		r = name_is(n, "versionId") || name_is(n, "lastUpdated")
			    ? 0 : append_member(b, &inner, n, v);
	if (r)
		return r;
	if (inner) {
		b->len = mark; /* nothing kept */
		return 0;
	}
	*first = 0;
	return kura_buf_append_byte(b, '}');
}

static int store_members(struct kura_slice obj, struct kura_buf *out)
{
	struct members m;
	struct kura_slice n, v;
	int first = 1, r = members_begin(obj, &m);
	if (!r)
		r = kura_buf_append_byte(out, '{');
	while (!r && (r = members_next(&m, &n, &v)) == 1) {
		if (name_is(n, "id"))
			r = 0;
		else if (name_is(n, "meta"))
			r = append_meta(out, &first, n, v);
		else
			r = append_member(out, &first, n, v);
	}
	return r ? r : kura_buf_append_byte(out, '}');
}

static unsigned depth_of(const json_t *j)
{
	unsigned d = 0;
	if (json_is_object(j)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) {
			unsigned e = depth_of(v);
			d = e > d ? e : d;
		}
		return d + 1;
	}
	if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v) {
			unsigned e = depth_of(v);
			d = e > d ? e : d;
		}
		return d + 1;
	}
	return 0;
}

int kura_fhir_prepare(const uint8_t *body, size_t len, const char *type, unsigned max_depth,
		      struct kura_buf *stored, json_t **ret_json, const char **ret_why)
{
	struct kura_slice text = kura_slice_make(body, len);
	json_t *j = NULL;
	int st = 400;
	if (ret_json)
		*ret_json = NULL;
	kura_buf_reset(stored);
	int r = len ? kura_jspan_check(text, NULL) : KURA_EINVAL;
	if (r) {
		*ret_why = r == KURA_ETOOBIG ? "json nested too deeply" : "the body is not valid json";
		return 400;
	}
	j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL,
		       NULL);
	const char *rt = json_string_value(json_object_get(j, "resourceType"));
	if (!json_is_object(j) || !rt)
		*ret_why = "the body is not a fhir resource (no resourceType)";
	else if (depth_of(j) > max_depth)
		*ret_why = "json nested too deeply";
	else if (strcmp(rt, type) != 0)
		*ret_why = "resourceType does not match the type in the url";
	else if (store_members(text, stored))
		*ret_why = "the body is not valid json";
	else
		st = 0;
	if (!st && ret_json) {
		*ret_json = j;
		j = NULL;
	}
	json_decref(j);
	return st;
}

int kura_fhir_append_str(struct kura_buf *b, const char *s)
{
	json_t *j = json_string(s);
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	if (!t)
		return KURA_ENOMEM;
	int r = kura_buf_append_str(b, t);
	free(t);
	return r;
}

static int render_meta(const struct kura_leaf *l, struct kura_slice meta, struct kura_buf *out)
{
	char when[KURA_TIME_STR];
	struct members m;
	struct kura_slice n, v;
	int r, first = 0;
	kura_time_format(l->time_us, when);
	r = kura_buf_printf(out, ",\"meta\":{\"versionId\":\"%u\",\"lastUpdated\":\"%s\"",
			    (unsigned)l->version, when);
	if (!r && meta.ptr) {
		if (members_begin(meta, &m))
			return KURA_ECORRUPT;
		while (!r && (r = members_next(&m, &n, &v)) == 1)
			r = append_member(out, &first, n, v);
	}
	return r ? r : kura_buf_append_byte(out, '}');
}

int kura_fhir_render(const struct kura_leaf *l, struct kura_slice stored, struct kura_buf *out)
{
	static const char *const keys[] = {"resourceType", "meta"};
	struct kura_slice vals[2], n, v;
	struct members m;
	int r = kura_jspan_members(stored, keys, 2, vals, NULL);
	if (r || !vals[0].ptr || members_begin(stored, &m))
		return KURA_ECORRUPT;
	r = kura_buf_append_str(out, "{\"resourceType\":");
	if (!r)
		r = kura_buf_append(out, vals[0].ptr, vals[0].len);
	if (!r)
		r = kura_buf_append_str(out, ",\"id\":");
	if (!r)
		r = kura_fhir_append_str(out, l->record_id);
	if (!r)
		r = render_meta(l, vals[1], out);
	while (!r && (r = members_next(&m, &n, &v)) == 1) {
		int skip = name_is(n, "resourceType") || name_is(n, "meta");
		int first = 0;
		r = skip ? 0 : append_member(out, &first, n, v);
	}
	if (r < 0)
		return r == KURA_EINVAL ? KURA_ECORRUPT : r;
	return kura_buf_append_byte(out, '}');
}

/* ---- answers ---- */

static int http_date(int64_t us, char out[40])
{
	time_t sec = (time_t)(us / 1000000);
	struct tm tm;
	if (!gmtime_r(&sec, &tm) || !strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		return KURA_EINTERNAL;
	return 0;
}

static int reply_resource(struct kura_fhir_req *fr, int status, const struct kura_leaf *l,
			  struct kura_slice stored)
{
	char etag[24], date[40];
	struct kura_http_resp *resp = fr->resp;
	kura_buf_reset(&resp->body);
	int r = kura_fhir_render(l, stored, &resp->body);
	if (r)
		return r;
	resp->status = status;
	memcpy(resp->content_type, KURA_FHIR_CT, sizeof(KURA_FHIR_CT));
	snprintf(etag, sizeof(etag), "W/\"%u\"", (unsigned)l->version);
	r = http_date(l->time_us, date);
	if (!r)
		r = kura_http_set_header(resp, "ETag", etag);
	if (!r)
		r = kura_http_set_header(resp, "Last-Modified", date);
	return r;
}

static int set_location(struct kura_fhir_req *fr, const struct kura_leaf *l)
{
	struct kura_buf b;
	kura_buf_init(&b, 1024);
	int r = kura_buf_printf(&b, "%s/fhir/%s/%s/_history/%u", fr->base, l->type, l->record_id,
				(unsigned)l->version);
	if (!r)
		r = kura_buf_append_byte(&b, 0);
	if (!r)
		r = kura_http_set_header(fr->resp, "Location", (const char *)b.data);
	kura_buf_release(&b);
	return r;
}

/* ---- read and vread ---- */

/* The read's event is committed by the server's committer with others
 * (http.h, struct kura_http_defer): the answer waits for it. */
static int get_deferred(struct kura_fhir_req *fr, const char *id, uint32_t version,
			struct kura_leaf *l, struct kura_buf *c)
{
	struct kura_http_defer *d = &fr->resp->defer;
	int r = kura_access_get_prepare(&fr->au->a, id, version, KURA_ACT_READ, l, c, &d->event);
	if (!r || r == KURA_ESTATE) {
		d->on = 1;
		memcpy(d->session, fr->au->id.session, sizeof(d->session));
	}
	return r;
}

static int do_read(struct kura_fhir_req *fr, const struct kura_fhir_type *t, const char *id,
		   uint32_t version)
{
	struct kura_leaf l;
	struct kura_buf c;
	int r;
	kura_buf_init(&c, KURA_MAX_CONTENT);
	const struct kura_serve_thread *th = fr->http->thread;
	if (th && th->committer && !fr->nested && !fr->tx)
		r = get_deferred(fr, id, version, &l, &c);
	else
		r = kura_access_get(&fr->au->a, id, version, KURA_ACT_READ, &l, &c);
	if ((!r || r == KURA_ESTATE) && strcmp(l.type, t->name) != 0)
		r = KURA_ENOTFOUND;
	if (!r)
		r = reply_resource(fr, 200, &l, kura_buf_slice(&c));
	else
		r = kura_fhir_error(fr->resp, r);
	kura_buf_release_secret(&c);
	return r;
}

static int parse_version(const char *s, uint32_t *ret)
{
	char *end;
	if (!s || *s < '1' || *s > '9' || strlen(s) > 9)
		return KURA_EINVAL;
	unsigned long v = strtoul(s, &end, 10);
	if (*end)
		return KURA_EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

/* ---- writes ---- */

/* The record a reference "Type/id" (or "Type/id/_history/n", or the same
 * under our base URL) names: its leaf, without decrypting or disclosing
 * anything but that it exists; the write that follows is authorized on
 * the patient found here. */
static int resolve_ref(struct kura_fhir_req *fr, const char *ref, struct kura_leaf *ret)
{
	char type[KURA_MAX_TYPE + 1], id[KURA_MAX_ID + 1];
	struct kura_version_row row;
	struct kura_buf leaf;
	size_t bl = strlen(fr->base);
	if (bl && strncmp(ref, fr->base, bl) == 0 && strncmp(ref + bl, "/fhir/", 6) == 0)
		ref += bl + 6;
	size_t tl = strcspn(ref, "/");
	if (!ref[tl] || tl > KURA_MAX_TYPE)
		return KURA_EINVAL;
	size_t il = strcspn(ref + tl + 1, "/");
	if (il > KURA_MAX_ID || (ref[tl + 1 + il] && strncmp(ref + tl + 1 + il, "/_history/", 10)))
		return KURA_EINVAL;
	memcpy(type, ref, tl);
	type[tl] = 0;
	memcpy(id, ref + tl + 1, il);
	id[il] = 0;
	if (!kura_valid_id(id))
		return KURA_EINVAL;
	kura_buf_init(&leaf, KURA_MAX_LEAF);
	int r = kura_vault_locate(fr->au->a.v, id, 0, &row, &leaf);
	kura_buf_release(&leaf);
	if (r)
		return r == KURA_ENOTFOUND ? KURA_EINVAL : r;
	if (strcmp(row.leaf.type, type) != 0 || row.leaf.status == KURA_STATUS_ENTERED_IN_ERROR)
		return KURA_EINVAL;
	*ret = row.leaf;
	return 0;
}

static const char *ref_of(const json_t *j, const struct kura_fhir_type *t)
{
	const json_t *v = json_object_get(j, t->patient_ref);
	if (json_is_array(v))
		v = json_array_get(v, 0);
	return json_string_value(json_object_get(v, "reference"));
}

/* A new kura patient id for a Patient created over FHIR (a UUIDv7: the
 * record id is chosen by the vault only when the record is stored). */
static void new_patient_id(char out[KURA_RECORD_ID_LEN + 1])
{
	uint8_t b[16];
	char hex[33];
	uint64_t ms = (uint64_t)(kura_time_now_us() / 1000);
	kura_random(b, sizeof(b));
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (8 * (5 - i)));
	b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
	kura_hex_encode(b, sizeof(b), hex);
	for (int i = 0, o = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = hex[i];
		out[o] = 0;
	}
}

/* The kura patient of a resource being written, or the status to answer
 * (422 with *why). */
static int patient_of(struct kura_fhir_req *fr, const struct kura_fhir_type *t, const json_t *j,
		      char out[KURA_MAX_ID + 1], const char **why)
{
	struct kura_leaf l;
	if (!t->patient_ref) {
		new_patient_id(out);
		return 0;
	}
	const char *ref = ref_of(j, t);
	if (!ref) {
		*why = "the resource names no patient (subject, patient, target or securityContext)";
		return 422;
	}
	int r = resolve_ref(fr, ref, &l);
	if (r == KURA_EINVAL) {
		*why = "the reference to the patient's record does not resolve";
		return 422;
	}
	if (r)
		return r;
	/* subject and patient name the Patient itself; target and
	 * securityContext may name any record of the patient. */
	if ((strcmp(t->patient_ref, "subject") == 0 || strcmp(t->patient_ref, "patient") == 0) &&
	    strcmp(l.type, "Patient") != 0) {
		*why = "subject and patient must refer to a Patient";
		return 422;
	}
	memcpy(out, l.patient_id, sizeof(l.patient_id));
	return 0;
}

int kura_fhir_content_type_ok(const struct kura_http_req *req)
{
	const char *ct = kura_http_header(req, "Content-Type");
	if (!ct)
		return 0;
	size_t n = strcspn(ct, "; \t");
	int json = (n == 21 && strncasecmp(ct, "application/fhir+json", n) == 0) ||
		   (n == 16 && strncasecmp(ct, "application/json", n) == 0);
	/* FHIR JSON is UTF-8: another charset label is refused (415). */
	const char *cs = strcasestr(ct + n, "charset=");
	if (json && cs) {
		cs += 8;
		cs += *cs == '"';
		json = strncasecmp(cs, "utf-8", 5) == 0 &&
		       (cs[5] == 0 || cs[5] == ';' || cs[5] == '"' || cs[5] == ' ' || cs[5] == '\t');
	}
	return json;
}

/* The Provenance of a write: a record of its own for the same patient. */
static int provenance(struct kura_fhir_req *fr, const struct kura_leaf *l)
{
	char when[KURA_TIME_STR], target[256];
	struct kura_written out;
	struct kura_write w = {fr->au->id.actor.user, NULL, NULL, 0, NULL};
	kura_time_format(l->time_us, when);
	snprintf(target, sizeof(target), "%s/%s/_history/%u", l->type, l->record_id,
		 (unsigned)l->version);
	json_t *p = json_pack(
		"{s:s, s:[{s:s}], s:s, s:{s:[{s:s, s:s}]}, s:[{s:{s:{s:s, s:s}, s:s}}]}",
		"resourceType", "Provenance", "target", "reference", target, "recorded", when,
		"activity", "coding", "system",
		"http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code",
		l->version == 1 ? "CREATE" : "UPDATE", "agent", "who", "identifier", "system",
		"urn:kura:account", "value", fr->au->id.actor.user, "display",
		fr->au->id.actor.user);
	char *text = p ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(p);
	if (!text)
		return KURA_ENOMEM;
	int r = fr->tx ? kura_access_txn_put_provenance(&fr->au->a, fr->tx, l->patient_id, l->type,
							(const uint8_t *)text, strlen(text), &w, &out)
		       : kura_access_put_provenance(&fr->au->a, l->patient_id, l->type,
						    (const uint8_t *)text, strlen(text), &w, &out);
	free(text);
	return r;
}

/* After a write: its leaf (the vault's own fields of the version just
 * stored), its Provenance, and the answer. */
static int written(struct kura_fhir_req *fr, const struct kura_fhir_type *t,
		   const struct kura_written *w, struct kura_slice stored, int status)
{
	struct kura_version_row row;
	struct kura_buf leaf;
	kura_buf_init(&leaf, KURA_MAX_LEAF);
	int r = kura_vault_locate(fr->au->a.v, w->record_id, w->version, &row, &leaf);
	kura_buf_release(&leaf);
	if (!r && strcmp(t->name, "Provenance") != 0)
		r = provenance(fr, &row.leaf);
	if (!r)
		r = reply_resource(fr, status, &row.leaf, stored);
	if (!r)
		r = set_location(fr, &row.leaf);
	return r;
}

/* What create and update share: content type, body, patient. */
struct body {
	struct kura_buf stored;
	json_t *j;
	char patient[KURA_MAX_ID + 1];
};

static int take_body(struct kura_fhir_req *fr, const struct kura_fhir_type *t, struct body *b)
{
	const char *why = NULL;
	int st;
	kura_buf_init(&b->stored, KURA_MAX_CONTENT);
	b->j = NULL;
	if (!kura_fhir_content_type_ok(fr->http))
		return kura_fhir_outcome(fr->resp, 415, "not-supported",
					 "send application/fhir+json or application/json") ? -1 : 415;
	st = kura_fhir_prepare(fr->http->body, fr->http->body_len, t->name, fr->max_depth,
			       &b->stored, &b->j, &why);
	if (!st)
		st = patient_of(fr, t, b->j, b->patient, &why);
	if (!st && (st = kura_fhir_scan(fr, t, b->j, b->patient)) != 0)
		return st; /* answered (or an internal error) */
	if (st > 0)
		return kura_fhir_outcome(fr->resp, st, st == 400 ? "structure" : "processing", why)
			       ? -1 : st;
	if (st < 0)
		return kura_fhir_error(fr->resp, st) ? -1 : 1;
	return 0;
}

static void body_release(struct body *b)
{
	json_decref(b->j);
	kura_buf_release_secret(&b->stored);
}

static int do_create(struct kura_fhir_req *fr, const struct kura_fhir_type *t)
{
	struct body b;
	struct kura_written w;
	struct kura_write kw = {fr->au->id.actor.user, NULL, NULL, 0, NULL};
	int r = take_body(fr, t, &b);
	if (r) {
		body_release(&b);
		return r < 0 ? KURA_EINTERNAL : 0;
	}
	kw.confirm = kura_rbac_allows(&fr->au->id.role, KURA_ACT_CONFIRM, t->name);
	r = fr->tx ? kura_access_txn_put(&fr->au->a, fr->tx, b.patient, t->name,
					 "application/fhir+json", b.stored.data, b.stored.len, &kw, &w)
		   : kura_access_put(&fr->au->a, b.patient, t->name, "application/fhir+json",
				     b.stored.data, b.stored.len, &kw, &w);
	r = r ? kura_fhir_error(fr->resp, r) : written(fr, t, &w, kura_buf_slice(&b.stored), 201);
	body_release(&b);
	return r;
}

/* If-Match: W/"n" (or "n"); 0 when absent or it names the current version. */
static int if_match(const struct kura_http_req *req, uint32_t current, int *ret_bad)
{
	const char *m = kura_http_header(req, "If-Match");
	char want[24];
	*ret_bad = 0;
	if (!m)
		return 0;
	snprintf(want, sizeof(want), "W/\"%u\"", (unsigned)current);
	if (strcmp(m, want) != 0 && strcmp(m, want + 2) != 0)
		*ret_bad = 1;
	return 0;
}

static int update_checks(struct kura_fhir_req *fr, const struct kura_fhir_type *t, const char *id,
			 const struct body *b, const struct kura_leaf *cur)
{
	const char *bid = json_string_value(json_object_get(b->j, "id"));
	int bad;
	if (bid && strcmp(bid, id) != 0)
		return kura_fhir_outcome(fr->resp, 400, "invalid",
					 "the id in the body is not the id in the url") ? -1 : 1;
	if (t->patient_ref && strcmp(cur->patient_id, b->patient) != 0)
		return kura_fhir_outcome(fr->resp, 422, "processing",
					 "a resource cannot move to another patient") ? -1 : 1;
	if_match(fr->http, cur->version, &bad);
	if (bad)
		return kura_fhir_outcome(fr->resp, 412, "conflict",
					 "If-Match does not name the current version") ? -1 : 1;
	return 0;
}

/* The current version's fields, read through the access layer (so the
 * check is authorized and audited). */
static int current(struct kura_fhir_req *fr, const struct kura_fhir_type *t, const char *id,
		   struct kura_leaf *l)
{
	struct kura_buf c;
	int r;
	if (fr->tx) { /* inside a transaction: the fields only; the amend is authorized */
		r = kura_access_txn_locate(&fr->au->a, fr->tx, id, 0, l);
		if (!r && l->status == KURA_STATUS_ENTERED_IN_ERROR)
			r = KURA_ESTATE;
	} else {
		kura_buf_init(&c, KURA_MAX_CONTENT);
		r = kura_access_get(&fr->au->a, id, 0, KURA_ACT_READ, l, &c);
		kura_buf_release_secret(&c);
	}
	if ((!r || r == KURA_ESTATE) && strcmp(l->type, t->name) != 0)
		r = KURA_ENOTFOUND;
	return r;
}

static int do_update(struct kura_fhir_req *fr, const struct kura_fhir_type *t, const char *id)
{
	struct body b;
	struct kura_leaf cur;
	struct kura_written w;
	struct kura_write kw = {fr->au->id.actor.user, NULL, "FHIR update", 0, NULL};
	int r = take_body(fr, t, &b);
	if (!r && (r = current(fr, t, id, &cur)) != 0)
		r = kura_fhir_error(fr->resp, r) ? -1 : 1;
	if (!r && !t->patient_ref)
		memcpy(b.patient, cur.patient_id, sizeof(cur.patient_id));
	if (!r)
		r = update_checks(fr, t, id, &b, &cur);
	if (r) {
		body_release(&b);
		return r < 0 ? KURA_EINTERNAL : 0;
	}
	kw.confirm = kura_rbac_allows(&fr->au->id.role, KURA_ACT_CONFIRM, t->name);
	r = fr->tx ? kura_access_txn_amend(&fr->au->a, fr->tx, id, b.stored.data, b.stored.len, &kw,
					   &w)
		   : kura_access_amend(&fr->au->a, id, b.stored.data, b.stored.len, &kw, &w);
	r = r ? kura_fhir_error(fr->resp, r) : written(fr, t, &w, kura_buf_slice(&b.stored), 200);
	body_release(&b);
	return r;
}

/* ---- dispatch ---- */

#define MAX_SEGS 4

struct path {
	char seg[MAX_SEGS][KURA_MAX_TYPE + 1];
	unsigned n;
};

/* "/fhir/a/b/c" into segments; KURA_ENOTFOUND for anything else. */
static int split_path(const char *p, struct path *ret)
{
	ret->n = 0;
	if (strncmp(p, "/fhir", 5) != 0 || (p[5] && p[5] != '/'))
		return KURA_ENOTFOUND;
	p += 5;
	while (*p == '/' && p[1]) {
		size_t n = strcspn(++p, "/");
		if (ret->n == MAX_SEGS || n == 0 || n > KURA_MAX_TYPE)
			return KURA_ENOTFOUND;
		memcpy(ret->seg[ret->n], p, n);
		ret->seg[ret->n++][n] = 0;
		p += n;
	}
	return *p && strcmp(p, "/") != 0 ? KURA_ENOTFOUND : 0;
}

static int not_allowed(struct kura_fhir_req *fr)
{
	return kura_fhir_outcome(fr->resp, 405, "not-supported",
				 "this interaction is not supported here (see /fhir/metadata)");
}

static int on_type(struct kura_fhir_req *fr, const struct kura_fhir_type *t, int get)
{
	if (get)
		return kura_fhir_search(fr, t);
	if (fr->http->method == KURA_HTTP_POST)
		return do_create(fr, t);
	return not_allowed(fr);
}

static int on_instance(struct kura_fhir_req *fr, const struct kura_fhir_type *t,
		       const struct path *p, int get)
{
	uint32_t v = 0;
	if (!kura_valid_id(p->seg[1]))
		return kura_fhir_outcome(fr->resp, 404, "not-found", "no such resource");
	if (p->n == 2 && get)
		return do_read(fr, t, p->seg[1], 0);
	if (p->n == 2 && fr->http->method == KURA_HTTP_PUT)
		return do_update(fr, t, p->seg[1]);
	if (p->n >= 3 && strcmp(p->seg[2], "_history") != 0)
		return kura_fhir_outcome(fr->resp, 404, "not-found", "no such path");
	if (p->n == 3 && get)
		return kura_fhir_instance_history(fr, t, p->seg[1]);
	if (p->n == 4 && parse_version(p->seg[3], &v))
		return kura_fhir_outcome(fr->resp, 404, "not-found", "no such version");
	if (p->n == 4 && get)
		return do_read(fr, t, p->seg[1], v);
	return not_allowed(fr);
}

/* POST /fhir: a batch or transaction Bundle (not inside one). */
static int on_base(struct kura_fhir_req *fr)
{
	if (!fr->nested && fr->http->method == KURA_HTTP_POST)
		return kura_fhir_bundle(fr);
	return kura_fhir_outcome(fr->resp, fr->nested ? 404 : 405, "not-supported",
				 "only POST of a batch or transaction Bundle is supported at the "
				 "base (see /fhir/metadata)");
}

int kura_fhir_dispatch(struct kura_fhir_req *fr)
{
	struct path p;
	int get = fr->http->method == KURA_HTTP_GET || fr->http->method == KURA_HTTP_HEAD;
	if (split_path(fr->http->path, &p))
		return kura_fhir_outcome(fr->resp, 404, "not-found", "no such path");
	if (p.n == 0)
		return on_base(fr);
	if (p.n == 1 && strcmp(p.seg[0], "metadata") == 0)
		return get ? kura_fhir_capability(fr->resp, fr->base) : not_allowed(fr);
	if (strcmp(p.seg[0], "AuditEvent") == 0 && p.n <= 2)
		return kura_fhir_audit(fr, p.n == 2 ? p.seg[1] : NULL);
	const struct kura_fhir_type *t = kura_fhir_type_find(p.seg[0]);
	if (!t)
		return kura_fhir_outcome(fr->resp, 404, "not-supported",
					 "this resource type is not supported (see /fhir/metadata)");
	if (p.n == 1)
		return on_type(fr, t, get);
	if (p.n == 2 && strcmp(p.seg[1], "_history") == 0)
		return get ? kura_fhir_type_history(fr, t) : not_allowed(fr);
	return on_instance(fr, t, &p, get);
}

static int is_metadata(const struct kura_http_req *req)
{
	return (req->method == KURA_HTTP_GET || req->method == KURA_HTTP_HEAD) &&
	       (strcmp(req->path, "/fhir/metadata") == 0 || strcmp(req->path, "/fhir/metadata/") == 0);
}

int kura_fhir_handle(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct kura_http_auth au;
	const struct kura_serve_thread *th = req->thread;
	struct kura_fhir_req fr = {req, &au, resp, th->base_url ? th->base_url : "",
				   th->limits->max_json_depth, th->limits->max_search_count,
				   th->scanner, th->scan_off, th->limits->max_bundle_entries, NULL, 0};
	if (is_metadata(req)) /* the one answer that needs no authentication */
		return kura_fhir_capability(resp, fr.base);
	if (req->body_len > th->limits->max_body_bytes)
		return kura_fhir_outcome(resp, 413, "too-costly", "the body is over the size limit");
	int r = kura_serve_authenticate(req, 1, &au, resp);
	if (r == KURA_EAUTH || r == KURA_EEXPIRED || r == KURA_ELOCKED || r == KURA_EDENIED)
		return 0; /* answered (401/403) and audited */
	return r ? r : kura_fhir_dispatch(&fr);
}
