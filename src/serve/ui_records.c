/*
 * ui_records.c - patients, records and break-glass for the web UI (serve.h
 * kura_api_patients, kura_api_records, kura_api_breakglass;
 * docs/formats/ui-api.md §2; READ-01, READ-02, BG-01..03).  Every access to
 * patient data goes through the audited access layer (auth/access.h), a
 * denial too; this file reads requests, matches names and shapes answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/alert.h"
#include "fhir/b64.h"
#include "fhir/import.h"
#include "serve/api_int.h"
#include "serve/ui_names.h"
#include "util/err.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/utf8.h"
#include "audit/query.h"
#include "util/banned.h"

#define UI_DEFAULT_LIMIT 20u
#define UI_MAX_LIMIT 100u       /* ?limit= is capped here */
#define UI_MAX_QUERY_TEXT 256u  /* ?q= bytes */

/* ---- what the answers share ---- */

static json_t *time_json(int64_t us)
{
	char t[KURA_TIME_STR];
	kura_time_format(us, t);
	return json_string(t);
}

static json_t *opt_str(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* R of docs/formats/ui-api.md for one version. */
static json_t *record_json(const struct kura_leaf *l)
{
	const char *status = kura_status_name(l->status);
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:s, s:o, s:o, s:o, s:I}", "record",
			 l->record_id, "patient", l->patient_id, "type", l->type, "content_type",
			 l->content_type, "version", (json_int_t)l->version, "status",
			 status ? status : "unknown", "time", time_json(l->time_us), "inputter",
			 l->inputter, "confirmer", opt_str(l->confirmer), "on_behalf_of",
			 opt_str(l->on_behalf_of), "reason", opt_str(l->reason), "size",
			 (json_int_t)l->content_length);
}

/* V: R plus its leaf index. */
static json_t *version_json(const struct kura_version_row *row)
{
	json_t *j = record_json(&row->leaf);
	if (j && json_object_set_new(j, "leaf_index", json_integer((json_int_t)row->leaf_index)))
		j = (json_decref(j), NULL);
	return j;
}

static int bad_request(struct kura_http_resp *resp, const char *msg)
{
	return api_reply_error(resp, 0, NULL, 400, msg);
}

/*
 * The answer for an error of the access layer: 403 (already recorded) with
 * whether break-glass would help (the role has it and its rules allow act
 * on this type: only the patient's scope stood in the way), 404, 409, 400.
 * patient and type may be NULL when unknown.
 */
static int access_error(struct kura_http_resp *resp, struct kura_http_auth *au, int r,
			enum kura_action act, const char *patient, const char *type)
{
	int bg;
	switch (r) {
	case KURA_EDENIED:
		bg = au->id.role.breakglass && patient && *patient &&
		     (!type || kura_rbac_allows(&au->id.role, act, type));
		return api_reply_denied(resp, &au->a, bg, patient);
	case KURA_ENOTFOUND:
		return api_reply_error(resp, 0, NULL, 404, "no such patient, record or version");
	case KURA_ESTATE:
		return api_reply_error(resp, 0, NULL, 409,
				       "the record is not in a state that allows this (retracted, or not a draft to confirm)");
	case KURA_EINVAL:
		return bad_request(resp, "invalid input: check the ids, the reason and that the content fits the record's type");
	case KURA_ETOOBIG:
		return api_reply_error(resp, 0, NULL, 413, "too large");
	default:
		return r;
	}
}

/* The fields of a record's version (0: latest) without its content, for
 * saying whose a denied record is; l is zeroed when it cannot be found. */
static void locate(struct kura_vault *v, const char *rid, uint32_t version,
		   struct kura_version_row *row)
{
	struct kura_buf leaf;
	kura_buf_init(&leaf, KURA_MAX_PROOF_FILE);
	if (kura_vault_locate(v, rid, version, row, &leaf))
		memset(row, 0, sizeof(*row));
	kura_buf_release(&leaf);
}

/* Rows a listing handed back, kept for the answer. */
struct rows {
	struct kura_version_row *v;
	size_t n, cap;
};

static int keep_row(void *ctx, const struct kura_version_row *row)
{
	struct rows *rs = ctx;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 32;
		struct kura_version_row *p = realloc(rs->v, cap * sizeof(*p));
		if (!p)
			return KURA_ENOMEM;
		rs->v = p;
		rs->cap = cap;
	}
	rs->v[rs->n] = *row;
	rs->v[rs->n++].sealed = kura_slice_make(NULL, 0);
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	const struct kura_version_row *x = a, *y = b;
	return x->leaf.time_us < y->leaf.time_us ? 1 : x->leaf.time_us > y->leaf.time_us ? -1
	       : strcmp(x->leaf.record_id, y->leaf.record_id);
}

static int oldest_version_first(const void *a, const void *b)
{
	const struct kura_version_row *x = a, *y = b;
	return x->leaf.version < y->leaf.version ? -1 : x->leaf.version > y->leaf.version;
}

static json_t *identifiers_json(const json_t *res)
{
	json_t *out = json_array(), *x;
	size_t i;
	json_array_foreach(json_object_get(res, "identifier"), i, x) {
		json_t *e = json_object();
		const char *sys = json_string_value(json_object_get(x, "system"));
		const char *val = json_string_value(json_object_get(x, "value"));
		if (sys)
			json_object_set_new(e, "system", json_string(sys));
		if (val)
			json_object_set_new(e, "value", json_string(val));
		json_array_append_new(out, e);
	}
	return out;
}

/* P of the contract: id, and what the Patient resource res (may be NULL)
 * says. */
static json_t *patient_json(const char *id, const json_t *res)
{
	json_t *p = json_pack("{s:s}", "id", id);
	const char *bd = json_string_value(json_object_get(res, "birthDate"));
	const char *g = json_string_value(json_object_get(res, "gender"));
	if (!p || !res)
		return p;
	json_object_set_new(p, "name", kura_ui_names_json(res));
	json_object_set_new(p, "identifiers", identifiers_json(res));
	if (bd)
		json_object_set_new(p, "birthdate", json_string(bd));
	if (g)
		json_object_set_new(p, "gender", json_string(g));
	return p;
}

/* The Patient resource of a version already authorized (and its access
 * recorded) by the caller: decrypted and parsed, or NULL. */
static json_t *load_patient(struct kura_vault *v, const char *rid, uint32_t version)
{
	struct kura_leaf l;
	struct kura_buf c;
	json_t *j = NULL;
	kura_buf_init(&c, KURA_MAX_CONTENT);
	if (kura_vault_get(v, rid, version, &l, &c) == 0 && strcmp(l.type, "Patient") == 0)
		j = json_loadb((const char *)c.data, c.len, 0, NULL);
	kura_buf_release_secret(&c);
	if (j && !json_is_object(j))
		j = (json_decref(j), NULL);
	return j;
}

/* ---- GET /api/patients?q=&birthdate=&limit= ---- */

/* One patient a search found: the latest Patient record, if any. */
struct found {
	char id[KURA_MAX_ID + 1];
	char record[KURA_MAX_ID + 1]; /* "" when the patient has no Patient record */
	uint32_t version;
	int64_t time_us;
};

struct search {
	json_t *index; /* patient id -> position in v */
	struct found *v;
	size_t n, cap;
};

static struct found *found_of(struct search *s, const char *patient)
{
	json_t *i = json_object_get(s->index, patient);
	if (i)
		return &s->v[json_integer_value(i)];
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct found *p = realloc(s->v, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->v = p;
		s->cap = cap;
	}
	if (json_object_set_new(s->index, patient, json_integer((json_int_t)s->n)))
		return NULL;
	struct found *f = &s->v[s->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->id, sizeof(f->id), "%s", patient);
	return f;
}

static int collect(void *ctx, const struct kura_version_row *row)
{
	struct found *f = found_of(ctx, row->leaf.patient_id);
	if (!f)
		return KURA_ENOMEM;
	if (strcmp(row->leaf.type, "Patient") == 0 &&
	    row->leaf.status != KURA_STATUS_ENTERED_IN_ERROR && row->leaf.time_us >= f->time_us) {
		snprintf(f->record, sizeof(f->record), "%s", row->leaf.record_id);
		f->version = row->leaf.version;
		f->time_us = row->leaf.time_us;
	}
	return 0;
}

/* Patients the caller may not read, counted (not matched: their records
 * are not opened). */
struct hidden {
	struct kura_http_auth *au;
	int64_t n;
};

static int count_hidden(void *ctx, const char *key, json_t *value)
{
	struct hidden *h = ctx;
	(void)value;
	h->n += kura_authz_check(h->au->a.v, &h->au->id, KURA_ACT_READ, key, NULL, NULL, NULL) ==
		KURA_EDENIED;
	return 0;
}

struct patient_query {
	char q[UI_MAX_QUERY_TEXT + 1], fq[KURA_UI_FOLD_MAX], birthdate[16];
	uint64_t limit;
};

static int patient_query(const char *query, struct patient_query *pq)
{
	static const char *const names[] = {"q", "birthdate", "limit", NULL};
	char lim[16];
	int64_t t;
	int r = api_query_only(query, names);
	pq->limit = UI_DEFAULT_LIMIT;
	pq->birthdate[0] = 0;
	if (!r)
		r = api_query_get(query, "q", pq->q, sizeof(pq->q));
	if (!r && (!*pq->q || !kura_utf8_text_valid(pq->q)))
		r = KURA_EINVAL;
	int b = r ? r : api_query_get(query, "birthdate", pq->birthdate, sizeof(pq->birthdate));
	if (!r && b != KURA_ENOTFOUND)
		r = b ? b : strlen(pq->birthdate) != 10 || kura_time_parse(pq->birthdate, 0, 0, &t)
			    ? KURA_EINVAL : 0;
	int l = r ? r : api_query_get(query, "limit", lim, sizeof(lim));
	if (!r && l != KURA_ENOTFOUND)
		r = l ? l : api_parse_pos(lim, UI_MAX_LIMIT, &pq->limit);
	kura_ui_fold(pq->q, pq->fq);
	return r;
}

static int patient_hit(const struct patient_query *pq, const char *id, const json_t *res)
{
	json_t *n;
	size_t i;
	const char *bd = json_string_value(json_object_get(res, "birthDate"));
	if (*pq->birthdate && (!bd || strcmp(bd, pq->birthdate) != 0))
		return 0;
	if (strcmp(id, pq->q) == 0)
		return 1;
	json_array_foreach(json_object_get(res, "name"), i, n) if (kura_ui_name_matches(n, pq->fq)) return 1;
	return 0;
}

static int search_patients(const struct kura_http_req *req, struct kura_http_auth *au,
			   struct kura_http_resp *resp)
{
	struct patient_query pq;
	struct search s = {json_object(), NULL, 0, 0};
	struct hidden h = {au, 0};
	struct kura_buf text;
	json_t *list = json_array();
	if (patient_query(req->query, &pq)) {
		json_decref(s.index);
		json_decref(list);
		return bad_request(resp, "expected ?q=TEXT (1-256 bytes) and optionally &birthdate=YYYY-MM-DD&limit=N (1-100)");
	}
	kura_buf_init(&text, 4096);
	int r = s.index && list ? kura_buf_printf(&text, "GET /api/patients?%s", req->query) : KURA_ENOMEM;
	if (!r)
		r = kura_buf_append_byte(&text, 0);
	/* One search event (READ-01): what was asked, rows shown, withheld. */
	if (!r)
		r = kura_access_search(&au->a, (char *)text.data, collect, &s);
	for (size_t i = 0; !r && i < s.n && json_array_size(list) < pq.limit; i++) {
		json_t *res = s.v[i].record[0] ? load_patient(au->a.v, s.v[i].record, s.v[i].version) : NULL;
		if (patient_hit(&pq, s.v[i].id, res))
			r = json_array_append_new(list, patient_json(s.v[i].id, res)) ? KURA_ENOMEM : 0;
		json_decref(res);
	}
	if (!r)
		r = kura_state_scan(au->a.v, "patient", count_hidden, &h);
	kura_buf_release(&text);
	free(s.v);
	json_decref(s.index);
	if (r) {
		json_decref(list);
		return access_error(resp, au, r, KURA_ACT_SEARCH, NULL, NULL);
	}
	return api_reply_json(resp, 200, json_pack("{s:o, s:I}", "patients", list, "hidden",
						   (json_int_t)h.n));
}

/* ---- GET /api/patients/{id} ---- */

static json_t *access_json(struct kura_http_auth *au, const char *patient)
{
	int64_t until = 0;
	if (kura_breakglass_status(au->a.v, au->id.actor.user, patient, &until))
		until = 0;
	return json_pack("{s:s, s:o}", "how", au->a.how ? au->a.how : "role", "breakglass_until",
			 until && until != INT64_MAX ? time_json(until) : json_null());
}

static int patient_known(struct kura_vault *v, const char *id)
{
	json_t *p = NULL;
	int r = kura_state_get(v, "patient", id, &p);
	json_decref(p);
	return r == 0;
}

/* R of each row, newest first, into records; *ret_res the newest Patient
 * resource among them when the caller may read it.  The name shown is
 * that record's content: a read the listing's permission must cover too. */
static int patient_records(struct kura_http_auth *au, const char *id, struct rows *rs,
			   json_t *records, json_t **ret_res)
{
	int r = 0;
	*ret_res = NULL;
	qsort(rs->v, rs->n, sizeof(*rs->v), newest_first);
	int may_read = kura_authz_check(au->a.v, &au->id, KURA_ACT_READ, id, "Patient", NULL, NULL) == 0;
	for (size_t i = 0; !r && i < rs->n; i++) {
		const struct kura_leaf *l = &rs->v[i].leaf;
		if (!*ret_res && may_read && strcmp(l->type, "Patient") == 0 &&
		    l->status != KURA_STATUS_ENTERED_IN_ERROR)
			*ret_res = load_patient(au->a.v, l->record_id, l->version);
		r = json_array_append_new(records, record_json(l)) ? KURA_ENOMEM : 0;
	}
	return r;
}

static int show_patient(struct kura_http_auth *au, struct kura_http_resp *resp, const char *id)
{
	struct rows rs = {NULL, 0, 0};
	json_t *res = NULL, *records = json_array();
	if (!kura_valid_id(id)) {
		json_decref(records);
		return bad_request(resp, "invalid patient id: use [A-Za-z0-9._-]{1,64}");
	}
	int r = records ? kura_access_list(&au->a, id, keep_row, &rs) : KURA_ENOMEM;
	json_t *access = r ? NULL : access_json(au, id);
	if (!r && rs.n == 0 && !patient_known(au->a.v, id))
		r = KURA_ENOTFOUND;
	if (!r)
		r = patient_records(au, id, &rs, records, &res);
	free(rs.v);
	json_t *p = r ? NULL : patient_json(id, res);
	json_decref(res);
	if (!p) {
		json_decref(records);
		json_decref(access);
		return access_error(resp, au, r ? r : KURA_ENOMEM, KURA_ACT_SEARCH, id, NULL);
	}
	json_object_set_new(p, "records", records);
	json_object_set_new(p, "access", access);
	return api_reply_json(resp, 200, p);
}

int kura_api_patients(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct kura_http_auth au;
	const char *p = req->path ? req->path : "";
	int r = api_only(req, resp, KURA_HTTP_GET, "GET, HEAD");
	if (r)
		return r < 0 ? r : 0;
	if (strcmp(p, "/api/patients") != 0 && strncmp(p, "/api/patients/", 14) != 0)
		return api_reply_error(resp, 0, NULL, 404, "no such resource");
	if (p[13] == '/' && req->query && *req->query)
		return bad_request(resp, "no query parameters are taken here");
	if ((r = kura_serve_authenticate(req, 0, &au, resp)))
		return api_answered(r);
	return p[13] == '/' ? show_patient(&au, resp, p + 14) : search_patients(req, &au, resp);
}

/* ---- GET /api/records/{rid}: the history ---- */

static int history(struct kura_http_auth *au, struct kura_http_resp *resp, const char *rid)
{
	struct rows rs = {NULL, 0, 0};
	struct kura_version_row row;
	json_t *versions = json_array();
	memset(&row, 0, sizeof(row));
	int r = versions ? kura_access_history(&au->a, rid, keep_row, &rs) : KURA_ENOMEM;
	if (!r && rs.n == 0)
		r = KURA_ENOTFOUND;
	if (r == KURA_EDENIED)
		locate(au->a.v, rid, 0, &row);
	if (r) {
		free(rs.v);
		json_decref(versions);
		return access_error(resp, au, r, KURA_ACT_READ, row.leaf.patient_id, row.leaf.type);
	}
	qsort(rs.v, rs.n, sizeof(*rs.v), oldest_version_first);
	for (size_t i = 0; !r && i < rs.n; i++)
		r = json_array_append_new(versions, version_json(&rs.v[i])) ? KURA_ENOMEM : 0;
	json_t *j = r ? NULL : record_json(&rs.v[rs.n - 1].leaf);
	free(rs.v);
	if (!j || json_object_set_new(j, "versions", versions)) {
		json_decref(j);
		return KURA_ENOMEM;
	}
	return api_reply_json(resp, 200, j);
}

/* ---- GET /api/records/{rid}/versions/{n}: the content ---- */

struct content_query {
	enum kura_action act;
	int download;
};

static int content_query(const char *q, struct content_query *cq)
{
	static const char *const names[] = {"purpose", "download", NULL};
	char v[16];
	int r = api_query_only(q, names);
	cq->act = KURA_ACT_READ;
	cq->download = 0;
	int p = r ? r : api_query_get(q, "purpose", v, sizeof(v));
	if (!r && p != KURA_ENOTFOUND)
		r = p ? p : strcmp(v, "print") == 0 ? (cq->act = KURA_ACT_PRINT, 0)
			  : strcmp(v, "read") == 0 ? 0 : KURA_EINVAL;
	int d = r ? r : api_query_get(q, "download", v, sizeof(v));
	if (!r && d != KURA_ENOTFOUND)
		r = d ? d : strcmp(v, "1") == 0 ? (cq->download = 1, 0) : strcmp(v, "0") == 0 ? 0 : KURA_EINVAL;
	return r;
}

/* With a committer (the server), the read's event is committed with
 * others before the answer leaves (http.h struct kura_http_defer). */
static int get_content(const struct kura_http_req *req, struct kura_http_auth *au,
		       struct kura_http_resp *resp, const char *rid, uint32_t n, enum kura_action act,
		       struct kura_leaf *l, struct kura_buf *c)
{
	if (!req->thread || !req->thread->committer)
		return kura_access_get(&au->a, rid, n, act, l, c);
	int r = kura_access_get_prepare(&au->a, rid, n, act, l, c, &resp->defer.event);
	if (!r || r == KURA_ESTATE) {
		resp->defer.on = 1;
		memcpy(resp->defer.session, au->id.session, sizeof(resp->defer.session));
	}
	return r;
}

static int content_headers(struct kura_http_resp *resp, const struct kura_leaf *l,
			   uint64_t leaf_index, int download)
{
	char num[32], disp[2 * KURA_MAX_ID + 64];
	int r = kura_http_set_header(resp, "X-Kura-Record", l->record_id);
	snprintf(num, sizeof(num), "%u", (unsigned)l->version);
	if (!r)
		r = kura_http_set_header(resp, "X-Kura-Version", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)leaf_index);
	if (!r)
		r = kura_http_set_header(resp, "X-Kura-Leaf-Index", num);
	if (!r)
		r = kura_http_set_header(resp, "Cache-Control", "no-store");
	/* A stored document is never run in the UI's origin (an HTML or SVG
	 * record could hold script): no sniffing, a sandbox of its own. */
	if (!r)
		r = kura_http_set_header(resp, "X-Content-Type-Options", "nosniff");
	if (!r)
		r = kura_http_set_header(resp, "Content-Security-Policy", "sandbox; default-src 'none'");
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s-v%u\"", l->record_id,
		 (unsigned)l->version);
	if (!r && download)
		r = kura_http_set_header(resp, "Content-Disposition", disp);
	return r;
}

static int version_content(const struct kura_http_req *req, struct kura_http_auth *au,
			   struct kura_http_resp *resp, const char *rid, uint32_t n,
			   const struct content_query *cq)
{
	struct kura_version_row row;
	struct kura_buf c;
	kura_buf_init(&c, KURA_MAX_CONTENT);
	memset(&row, 0, sizeof(row));
	int r = get_content(req, au, resp, rid, n, cq->act, &row.leaf, &c);
	if (r == KURA_EDENIED || r == KURA_ENOTFOUND || r == KURA_ESTATE || !r)
		locate(au->a.v, rid, n, &row); /* the leaf index (or whose, on a denial) */
	if (r == KURA_ESTATE) {
		kura_buf_release_secret(&c);
		return api_reply_json(resp, 410, version_json(&row));
	}
	if (r) {
		kura_buf_release_secret(&c);
		return access_error(resp, au, r, cq->act, row.leaf.patient_id, row.leaf.type);
	}
	const char *ct = row.leaf.content_type;
	if (strlen(ct) >= sizeof(resp->content_type) || strpbrk(ct, "\r\n"))
		ct = "application/octet-stream";
	r = kura_http_reply(resp, 200, ct, c.data, c.len);
	kura_buf_release_secret(&c);
	return r ? r : content_headers(resp, &row.leaf, row.leaf_index, cq->download);
}

/* ---- writes: POST /api/records, /api/records/{rid}/amend|confirm|retract ---- */

struct write_body {
	json_t *j;
	const char *patient, *type, *content_type, *text, *b64, *reason, *on_behalf_of;
	size_t text_len, reason_len;
	int confirm;
	struct kura_buf content;
};

static int valid_reason(const char *s, size_t len)
{
	return s && len >= 1 && len <= KURA_MAX_REASON && strlen(s) == len && kura_utf8_text_valid(s);
}

/* The content of a body: "content" (text) or "content_base64", exactly one. */
static int take_content(struct write_body *b, const char **ret_msg)
{
	size_t n = 0;
	*ret_msg = "give exactly one of \"content\" (text) and \"content_base64\"";
	if (!b->text == !b->b64)
		return KURA_EINVAL;
	if (b->text)
		return kura_buf_append(&b->content, b->text, b->text_len);
	size_t len = strlen(b->b64), max = kura_b64_max_decoded(len);
	*ret_msg = "content_base64 is not valid base64 or is too large";
	if (max > KURA_MAX_CONTENT)
		return KURA_EINVAL;
	int r = kura_buf_reserve(&b->content, max ? max : 1);
	if (!r)
		r = kura_b64_decode(kura_slice_make(b->b64, len), b->content.data, max, &n);
	if (!r)
		b->content.len = n;
	return r ? KURA_EINVAL : 0;
}

/* Scan an upload before it is stored (MW-01), as the FHIR endpoint does:
 * 0 clean or scanning off; else the answer was given (422 found and
 * recorded, 503 no scanner) and 1 is returned, or an error. */
static int scan_upload(const struct kura_http_req *req, struct kura_http_auth *au,
		       struct kura_http_resp *resp, const char *patient, const struct kura_buf *c)
{
	char virus[KURA_SCAN_MAX_NAME] = "";
	struct kura_event e;
	const struct kura_serve_thread *th = req->thread;
	if (!th->scanner)
		return th->scan_off ? 0
		       : api_reply_error(resp, 0, NULL, 503, "no malware scanner: the upload is refused") ?: 1;
	int found = kura_scan_buf(th->scanner, c->data, c->len, virus);
	if (found == 0)
		return 0;
	kura_audit_event(&e, &au->id.actor, "write");
	e.outcome = KURA_OUTCOME_MINOR;
	e.severity = KURA_SEV_ALERT;
	KURA_AUDIT_SET(e.patient_id, patient ? patient : "");
	snprintf(e.detail, sizeof(e.detail), found == 1 ? "malware: %s" : "scan failed: %s", virus);
	int r = kura_access_record(&au->a, &e);
	if (r)
		return r;
	if (found != 1)
		return api_reply_error(resp, 0, NULL, 500, "the malware scan failed: try again") ?: 1;
	return api_reply_json(resp, 422, json_pack("{s:s, s:s, s:s}", "error",
			      "the upload holds malware and was refused (recorded)", "error_ja",
			      "アップロードにマルウェアが含まれていたため拒否しました（記録しました）",
			      "malware", virus)) ?: 1;
}

static int written_reply(struct kura_http_resp *resp, int status, const struct kura_written *w)
{
	return api_reply_json(resp, status, json_pack("{s:s, s:I}", "record", w->record_id,
						      "version", (json_int_t)w->version));
}

static void body_free(struct write_body *b)
{
	json_decref(b->j);
	kura_buf_release_secret(&b->content);
}

static int body_fail(struct kura_http_resp *resp, struct write_body *b, int status, const char *msg)
{
	body_free(b);
	return api_reply_error(resp, 0, NULL, status, msg);
}

/* The checks `kura put` makes before anything is stored. */
static const char *put_checks(struct write_body *b)
{
	if (!kura_valid_id(b->patient))
		return "invalid patient id: use [A-Za-z0-9._-]{1,64}";
	if (!kura_valid_record_type(b->type))
		return "invalid type: use a FHIR resource type, 'hl7v2' or a MIME type";
	if (!b->content_type)
		b->content_type = kura_is_fhir_type(b->type) ? "application/fhir+json"
				  : strcmp(b->type, "hl7v2") == 0 ? "x-application/hl7-v2+er7" : b->type;
	if (!kura_valid_content_type(b->content_type))
		return "invalid content_type";
	if (b->on_behalf_of && !kura_valid_id(b->on_behalf_of))
		return "invalid on_behalf_of: a user id";
	if (kura_fhir_check_content(b->type, b->content.data, b->content.len))
		return "the content does not fit the type (a FHIR type needs a JSON resource of that type)";
	return NULL;
}

static int write_done(const struct kura_http_req *req, struct kura_http_auth *au,
		      struct kura_http_resp *resp, struct write_body *b, int r,
		      const struct kura_written *w, int status, const char *rid)
{
	struct kura_version_row row;
	memset(&row, 0, sizeof(row));
	(void)req;
	au->a.reason = NULL; /* it points into the body */
	if (!r) {
		body_free(b);
		return written_reply(resp, status, w);
	}
	if (r == KURA_EDENIED && rid)
		locate(au->a.v, rid, 0, &row);
	r = access_error(resp, au, r, KURA_ACT_WRITE, rid ? row.leaf.patient_id : b->patient,
			 rid ? row.leaf.type : b->type);
	body_free(b);
	return r;
}

static int create(const struct kura_http_req *req, struct kura_http_auth *au,
		  struct kura_http_resp *resp)
{
	struct write_body b = {0};
	struct kura_written w;
	json_error_t err;
	const char *msg;
	kura_buf_init(&b.content, KURA_MAX_CONTENT);
	int st = api_body(req, &b.j, &msg);
	if (st)
		return body_fail(resp, &b, st, msg);
	if (json_unpack_ex(b.j, &err, JSON_STRICT, "{s:s, s:s, s?s, s?s%, s?s, s?s%, s?b, s?s}",
			   "patient", &b.patient, "type", &b.type, "content_type", &b.content_type,
			   "content", &b.text, &b.text_len, "content_base64", &b.b64, "reason",
			   &b.reason, &b.reason_len, "confirm", &b.confirm, "on_behalf_of",
			   &b.on_behalf_of))
		return body_fail(resp, &b, 400, "body must be JSON {\"patient\", \"type\", \"content_type\"?, \"content\" or \"content_base64\", \"reason\", \"confirm\"?, \"on_behalf_of\"?}");
	if (!valid_reason(b.reason, b.reason_len))
		return body_fail(resp, &b, 400, "a reason is required: 1-4096 bytes of text");
	if (take_content(&b, &msg) || (msg = put_checks(&b)))
		return body_fail(resp, &b, 400, msg);
	int r = scan_upload(req, au, resp, b.patient, &b.content);
	if (r) {
		body_free(&b);
		return r > 0 ? 0 : r;
	}
	struct kura_write kw = {au->id.actor.user, b.on_behalf_of, b.reason, b.confirm, NULL};
	au->a.reason = b.reason;
	r = kura_access_put(&au->a, b.patient, b.type, b.content_type, b.content.data, b.content.len,
			    &kw, &w);
	return write_done(req, au, resp, &b, r, &w, 201, NULL);
}

static int change(const struct kura_http_req *req, struct kura_http_auth *au,
		  struct kura_http_resp *resp, const char *rid, const char *verb)
{
	struct write_body b = {0};
	struct kura_written w;
	json_error_t err;
	const char *msg;
	int amend = strcmp(verb, "amend") == 0, retract = strcmp(verb, "retract") == 0, r;
	kura_buf_init(&b.content, KURA_MAX_CONTENT);
	int st = api_body(req, &b.j, &msg);
	if (st)
		return body_fail(resp, &b, st, msg);
	r = amend ? json_unpack_ex(b.j, &err, JSON_STRICT, "{s?s%, s?s, s:s%, s?b}", "content",
				   &b.text, &b.text_len, "content_base64", &b.b64, "reason",
				   &b.reason, &b.reason_len, "confirm", &b.confirm)
		  : json_unpack_ex(b.j, &err, JSON_STRICT, "{s:s%}", "reason", &b.reason,
				   &b.reason_len);
	if (r)
		return body_fail(resp, &b, 400, amend ? "body must be JSON {\"content\" or \"content_base64\", \"reason\", \"confirm\"?}"
						      : "body must be JSON {\"reason\"}");
	if (!valid_reason(b.reason, b.reason_len))
		return body_fail(resp, &b, 400, "a reason is required: 1-4096 bytes of text");
	if (amend && take_content(&b, &msg))
		return body_fail(resp, &b, 400, msg);
	if (amend && (r = scan_upload(req, au, resp, NULL, &b.content))) {
		body_free(&b);
		return r > 0 ? 0 : r;
	}
	struct kura_write kw = {au->id.actor.user, NULL, b.reason, b.confirm, NULL};
	au->a.reason = b.reason;
	r = amend ? kura_access_amend(&au->a, rid, b.content.data, b.content.len, &kw, &w)
	    : retract ? kura_access_retract(&au->a, rid, &kw, &w)
		      : kura_access_confirm(&au->a, rid, &kw, &w);
	return write_done(req, au, resp, &b, r, &w, 200, rid);
}

/* ---- /api/records routing ---- */

struct record_path {
	char rid[KURA_MAX_ID + 1];
	const char *rest; /* "", "/versions/N", "/amend", ... */
};

static int split_record_path(const char *p, struct record_path *ret)
{
	size_t n = strcspn(p, "/");
	if (n == 0 || n > KURA_MAX_ID)
		return KURA_EINVAL;
	memcpy(ret->rid, p, n);
	ret->rid[n] = 0;
	ret->rest = p + n;
	return kura_valid_id(ret->rid) ? 0 : KURA_EINVAL;
}

static int records_get(const struct kura_http_req *req, struct kura_http_auth *au,
		       struct kura_http_resp *resp, const struct record_path *rp)
{
	uint64_t n;
	struct content_query cq;
	if (!*rp->rest)
		return req->query && *req->query ? bad_request(resp, "no query parameters are taken here")
						 : history(au, resp, rp->rid);
	if (strncmp(rp->rest, "/versions/", 10) || api_parse_pos(rp->rest + 10, UINT32_MAX, &n))
		return api_reply_error(resp, 0, NULL, 404, "no such record resource");
	if (content_query(req->query, &cq))
		return bad_request(resp, "expected optionally ?purpose=print|read and &download=1");
	return version_content(req, au, resp, rp->rid, (uint32_t)n, &cq);
}

enum record_route { RR_NONE, RR_CREATE, RR_CHANGE, RR_READ };

/* What path under /api/records names; rp filled for a record's paths. */
static int record_route(const char *p, struct record_path *rp, const char **ret_verb)
{
	*ret_verb = "";
	if (strcmp(p, "/api/records") == 0)
		return RR_CREATE;
	if (strncmp(p, "/api/records/", 13) != 0 || split_record_path(p + 13, rp))
		return RR_NONE;
	if (!*rp->rest || strncmp(rp->rest, "/versions/", 10) == 0)
		return RR_READ;
	*ret_verb = rp->rest + 1;
	return strcmp(*ret_verb, "amend") == 0 || strcmp(*ret_verb, "confirm") == 0 ||
	       strcmp(*ret_verb, "retract") == 0 ? RR_CHANGE : RR_NONE;
}

int kura_api_records(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct kura_http_auth au;
	struct record_path rp;
	const char *verb;
	int route = record_route(req->path ? req->path : "", &rp, &verb);
	if (route == RR_NONE)
		return api_reply_error(resp, 0, NULL, 404, "no such record resource");
	int r = route != RR_READ ? api_only(req, resp, KURA_HTTP_POST, "POST")
				 : api_only(req, resp, KURA_HTTP_GET, "GET, HEAD");
	if (r)
		return r < 0 ? r : 0;
	if (route != RR_READ && req->query && *req->query)
		return bad_request(resp, "no query parameters are taken here");
	if ((r = kura_serve_authenticate(req, 0, &au, resp)))
		return api_answered(r);
	if (route == RR_CREATE)
		return create(req, &au, resp);
	return route == RR_CHANGE ? change(req, &au, resp, rp.rid, verb)
				  : records_get(req, &au, resp, &rp);
}

/* ---- GET/POST /api/breakglass (BG-01..03) ---- */

/* BG-02: the security administrator hears of a break-glass at once: the
 * site's alert.command runs on a thread of its own, so the loop does not
 * wait for it (the event itself is already durable and carries severity
 * alert for the syslog forwarder and the audit views). */
static void alert_breakglass(const struct kura_http_auth *au, uint64_t leaf)
{
	struct kura_buf cmd;
	kura_buf_init(&cmd, 4096);
	if (kura_setting_get(au->a.v, "alert.command", &cmd) == 0 && cmd.len &&
	    kura_buf_append(&cmd, "", 1) == 0 &&
	    kura_alert_spawn((char *)cmd.data, "breakglass", au->id.actor.user, leaf))
		fprintf(stderr, "{\"event\":\"alert_command\",\"action\":\"breakglass\",\"ok\":false,"
				"\"error\":\"could not start\"}\n");
	kura_buf_release(&cmd);
}

static int breakglass_reply(struct kura_http_auth *au, struct kura_http_resp *resp,
			    const char *patient)
{
	int64_t until = 0, now = kura_time_now_us();
	int r = kura_breakglass_status(au->a.v, au->id.actor.user, patient, &until);
	if (r == KURA_EINVAL)
		return bad_request(resp, "invalid patient id: use [A-Za-z0-9._-]{1,64}");
	if (r)
		return r;
	int64_t left = until == INT64_MAX ? 0 : until > now ? (until - now) / 1000000 : 0;
	return api_reply_json(resp, 200, json_pack("{s:s, s:b, s:o, s:I}", "patient", patient,
				      "active", until != 0, "until",
				      until && until != INT64_MAX ? time_json(until) : json_null(),
				      "seconds_left", (json_int_t)left));
}

static int breakglass_open(const struct kura_http_req *req, struct kura_http_auth *au,
			   struct kura_http_resp *resp)
{
	const char *patient, *reason, *msg;
	size_t rlen = 0;
	int64_t until;
	uint64_t leaf;
	json_t *j;
	json_error_t err;
	int st = api_body(req, &j, &msg);
	if (!st && json_unpack_ex(j, &err, JSON_STRICT, "{s:s, s:s%}", "patient", &patient,
				  "reason", &reason, &rlen))
		st = 400, msg = "body must be JSON {\"patient\", \"reason\"}";
	if (!st && (!kura_valid_id(patient) || !valid_reason(reason, rlen)))
		st = 400, msg = "a valid patient id and a reason (1-4096 bytes) are required";
	if (st) {
		json_decref(j);
		return api_reply_error(resp, 0, NULL, st, msg);
	}
	int r = kura_breakglass_open(&au->a, patient, reason, 0, &until, &leaf);
	if (r == KURA_EDENIED)
		r = api_reply_denied(resp, &au->a, 0, patient);
	else if (r == KURA_EINVAL)
		r = bad_request(resp, "a valid patient id and a reason (1-4096 bytes) are required");
	else if (!r) {
		alert_breakglass(au, leaf);
		r = breakglass_reply(au, resp, patient);
	}
	json_decref(j);
	return r;
}

int kura_api_breakglass(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	static const char *const names[] = {"patient", NULL};
	struct kura_http_auth au;
	char patient[KURA_MAX_ID + 1];
	int post = req->method == KURA_HTTP_POST;
	int r = post ? 0 : api_only(req, resp, KURA_HTTP_GET, "GET, HEAD, POST");
	if (r)
		return r < 0 ? r : 0;
	if (post ? req->query && *req->query
		 : api_query_only(req->query, names) ||
			   api_query_get(req->query, "patient", patient, sizeof(patient)))
		return bad_request(resp, post ? "no query parameters are taken here"
					      : "expected ?patient=ID");
	if ((r = kura_serve_authenticate(req, 0, &au, resp)))
		return api_answered(r);
	return post ? breakglass_open(req, &au, resp) : breakglass_reply(&au, resp, patient);
}
