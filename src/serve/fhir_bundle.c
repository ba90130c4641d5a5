/*
 * fhir_bundle.c - batch and transaction Bundles at POST /fhir (issue 5,
 * docs/FHIR.md "Bundles").  Each entry is answered by the same code as the
 * request it stands for (kura_fhir_dispatch on a request made from the
 * entry), so it is authorized, audited, scanned and given a Provenance
 * exactly as a single request would be.
 *
 * batch: every entry on its own (its own vault transactions); each entry
 * has its own status in the batch-response.
 *
 * transaction: atomic.  Every write (POST, then PUT) goes into one vault
 * transaction through the access layer's transactional calls
 * (kura_access_txn_*); the first entry that fails aborts it, and the
 * answer is that entry's OperationOutcome (a denial's event and a refused
 * upload's event are recorded after the abort).  fullUrl urn:uuid:/urn:oid:
 * names of POST entries are replaced in references by the ids assigned, in
 * whatever order the entries need (a reference to an entry not written yet
 * defers the entry; a cycle is 400).  GET entries are read after the
 * commit, each its own audited read, as FHIR orders them (writes first).
 */
#include <stdlib.h>
#include <string.h>

#include "fhir/jspan.h"
#include "serve/fhir_int.h"
#include "util/err.h"
#include "util/banned.h"

#define MAX_URL 2048
#define MAX_REF 160

struct ent {
	int method;                 /* KURA_HTTP_GET, POST, PUT (others refused) */
	const char *url, *if_match, *full_url, *if_none_exist;
	struct kura_slice res;      /* the resource's bytes in the request, or {NULL, 0} */
	int status, done;
	char ref[MAX_REF];          /* "Type/id" once written */
	char location[MAX_URL], etag[24], modified[48];
	struct kura_buf body;       /* the entry's answer: a resource or an OperationOutcome */
};

struct bundle_ctx {
	struct kura_fhir_req *fr;
	struct ent *e;
	size_t n;
	int transaction;
};

static int reply_bad(struct kura_fhir_req *fr, int status, const char *code, const char *why)
{
	return kura_fhir_outcome(fr->resp, status, code, why);
}

/* ---- reading the request ---- */

static int method_of(const char *m)
{
	static const struct {
		const char *name;
		int method;
	} ms[] = {{"GET", KURA_HTTP_GET}, {"HEAD", KURA_HTTP_HEAD}, {"POST", KURA_HTTP_POST},
		  {"PUT", KURA_HTTP_PUT}, {"DELETE", KURA_HTTP_DELETE}, {"PATCH", KURA_HTTP_PATCH}};
	for (size_t i = 0; m && i < sizeof(ms) / sizeof(ms[0]); i++)
		if (strcmp(m, ms[i].name) == 0)
			return ms[i].method;
	return KURA_HTTP_OTHER;
}

static const char *req_str(const json_t *e, const char *k)
{
	return json_string_value(json_object_get(json_object_get(e, "request"), k));
}

/* The fields of entry i from its parse and its bytes. */
static int take_entry(struct ent *x, const json_t *e, struct kura_slice raw)
{
	memset(x, 0, sizeof(*x));
	kura_buf_init(&x->body, KURA_HTTP_MAX_RESP_BODY);
	x->method = method_of(req_str(e, "method"));
	x->url = req_str(e, "url");
	x->if_match = req_str(e, "ifMatch");
	x->if_none_exist = req_str(e, "ifNoneExist");
	x->full_url = json_string_value(json_object_get(e, "fullUrl"));
	if (!json_is_object(e) || !x->url || !x->method || strlen(x->url) >= MAX_URL)
		return KURA_EINVAL;
	int r = kura_jspan_member(raw, "resource", &x->res);
	if (r == KURA_ENOTFOUND) {
		x->res = kura_slice_make(NULL, 0);
		r = 0;
	}
	return r;
}

/* Every entry's fields; *ret_why on a malformed Bundle. */
static int take_entries(struct bundle_ctx *b, const json_t *j, const char **why)
{
	struct kura_slice body = kura_slice_make(b->fr->http->body, b->fr->http->body_len), arr, el;
	struct kura_jspan_iter it;
	const json_t *entries = json_object_get(j, "entry");
	unsigned max = b->fr->max_entries ? b->fr->max_entries : 1000;
	int r;
	b->n = json_array_size(entries);
	*why = "the Bundle's entries are malformed (request.method and request.url required)";
	if (entries && !json_is_array(entries))
		return KURA_EINVAL;
	if (b->n > max) {
		*why = "the Bundle has more entries than the server takes";
		return KURA_ETOOBIG;
	}
	if (b->n == 0)
		return 0;
	b->e = calloc(b->n, sizeof(*b->e));
	if (!b->e)
		return KURA_ENOMEM;
	r = kura_jspan_member(body, "entry", &arr);
	if (!r)
		r = kura_jspan_array_begin(arr, &it);
	for (size_t i = 0; !r && i < b->n; i++) {
		r = kura_jspan_array_next(&it, &el);
		r = r == 1 ? take_entry(&b->e[i], json_array_get(entries, i), el) : KURA_EINVAL;
	}
	return r;
}

/* ---- one entry as a request ---- */

static const char *status_text(int st)
{
	static const struct {
		int st;
		const char *text;
	} t[] = {{200, "200 OK"}, {201, "201 Created"}, {400, "400 Bad Request"},
		 {401, "401 Unauthorized"}, {403, "403 Forbidden"}, {404, "404 Not Found"},
		 {405, "405 Method Not Allowed"}, {409, "409 Conflict"}, {410, "410 Gone"},
		 {412, "412 Precondition Failed"}, {413, "413 Payload Too Large"},
		 {415, "415 Unsupported Media Type"}, {422, "422 Unprocessable Entity"},
		 {503, "503 Service Unavailable"}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].st == st)
			return t[i].text;
	return st < 500 ? "400 Bad Request" : "500 Internal Server Error";
}

/* "Type/id?query" or "{base}/fhir/Type/id?query" into "/fhir/Type/id" and
 * the query (NULL if none). */
static int split_url(const struct kura_fhir_req *fr, const char *url, char *path, size_t cap,
		     char *query, const char **ret_query)
{
	size_t bl = strlen(fr->base);
	if (bl && strncmp(url, fr->base, bl) == 0 && strncmp(url + bl, "/fhir/", 6) == 0)
		url += bl + 6;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return KURA_EINVAL;
	size_t pl = strcspn(url, "?");
	if (*url == '/' || pl + 7 > cap)
		return KURA_EINVAL;
	snprintf(path, cap, "/fhir/%.*s", (int)pl, url);
	*ret_query = NULL;
	if (url[pl] == '?') {
		memcpy(query, url + pl + 1, strlen(url + pl + 1) + 1);
		*ret_query = query;
	}
	return 0;
}

static void take_header(const struct kura_http_resp *resp, const char *name, char *out, size_t cap)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcmp(resp->headers[i].name, name) == 0)
			snprintf(out, cap, "%s", resp->headers[i].value);
}

/* meta.lastUpdated of a resource answered (an instant, as a Bundle wants). */
static void take_modified(struct ent *x)
{
	json_t *j = json_loadb((const char *)x->body.data, x->body.len, 0, NULL);
	const char *m = json_string_value(json_object_get(json_object_get(j, "meta"),
							  "lastUpdated"));
	if (m)
		snprintf(x->modified, sizeof(x->modified), "%s", m);
	json_decref(j);
}

/* "Type/id" of a Location "{base}/fhir/Type/id/_history/n". */
static void take_ref(struct ent *x)
{
	const char *p = strstr(x->location, "/fhir/");
	const char *h = p ? strstr(p, "/_history/") : NULL;
	if (p && h && (size_t)(h - p - 6) < sizeof(x->ref))
		snprintf(x->ref, sizeof(x->ref), "%.*s", (int)(h - p - 6), p + 6);
}

/* Answer entry x with tx (NULL: on its own); body is its resource. */
static int run_entry(struct kura_fhir_req *fr, struct ent *x, struct kura_access_txn *tx,
		     struct kura_slice body)
{
	char path[MAX_URL + 8], query[MAX_URL];
	const char *q = NULL;
	struct kura_http_header h[2] = {{"Content-Type", "application/fhir+json"},
					{"If-Match", x->if_match}};
	struct kura_http_resp *resp = calloc(1, sizeof(*resp));
	if (!resp)
		return KURA_ENOMEM;
	int r = split_url(fr, x->url, path, sizeof(path), query, &q);
	struct kura_http_req sub = *fr->http;
	struct kura_fhir_req sf = *fr;
	sub.method = x->method;
	sub.path = path;
	sub.query = q;
	sub.headers = h;
	sub.nheaders = x->if_match ? 2 : 1;
	sub.body = body.ptr;
	sub.body_len = body.len;
	sf.http = &sub;
	sf.resp = resp;
	sf.tx = tx;
	sf.nested = 1;
	resp->body = x->body;
	if (r)
		r = kura_fhir_outcome(resp, 400, "invalid", "the entry's request.url is not valid");
	else if (x->method != KURA_HTTP_GET && x->method != KURA_HTTP_POST &&
		 x->method != KURA_HTTP_PUT)
		r = kura_fhir_outcome(resp, 405, "not-supported",
				      "only GET, POST and PUT entries are supported");
	else if (x->if_none_exist)
		r = kura_fhir_outcome(resp, 400, "not-supported",
				      "conditional create (ifNoneExist) is not supported");
	else
		r = kura_fhir_dispatch(&sf);
	x->body = resp->body;
	x->status = resp->status;
	take_header(resp, "Location", x->location, sizeof(x->location));
	take_header(resp, "ETag", x->etag, sizeof(x->etag));
	free(resp);
	if (!r && x->status < 300) {
		take_modified(x);
		take_ref(x);
	}
	x->done = 1;
	return r;
}

/* ---- urn:uuid references inside a transaction ---- */

static int is_urn(const char *s)
{
	return s && (strncmp(s, "urn:uuid:", 9) == 0 || strncmp(s, "urn:oid:", 8) == 0);
}

/* The entry whose fullUrl is the string token tok, or NULL. */
static struct ent *named(struct bundle_ctx *b, struct kura_slice tok)
{
	uint8_t s[256];
	size_t n;
	if (kura_jspan_string(tok, s, sizeof(s) - 1, &n))
		return NULL;
	s[n] = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].method == KURA_HTTP_POST && is_urn(b->e[i].full_url) &&
		    strcmp(b->e[i].full_url, (const char *)s) == 0)
			return &b->e[i];
	return NULL;
}

static void skip_ws(struct kura_slice *s)
{
	while (s->len && (*s->ptr == ' ' || *s->ptr == '\t' || *s->ptr == '\n' || *s->ptr == '\r')) {
		s->ptr++;
		s->len--;
	}
}

static int take_byte(struct kura_slice *s, char c)
{
	skip_ws(s);
	if (!s->len || *s->ptr != c)
		return 0;
	s->ptr++;
	s->len--;
	return 1;
}

static int rewrite(struct bundle_ctx *b, struct kura_slice v, int is_ref, unsigned depth,
		   struct kura_buf *out);

/* An object's members, "reference" values rewritten. */
static int rewrite_object(struct bundle_ctx *b, struct kura_slice v, unsigned depth,
			  struct kura_buf *out)
{
	struct kura_slice name, val;
	int r = kura_buf_append_byte(out, '{'), first = 1;
	take_byte(&v, '{');
	while (!r && !take_byte(&v, '}')) {
		if (!first && !take_byte(&v, ','))
			return KURA_EINVAL;
		skip_ws(&v);
		if (kura_jspan_value(&v, &name) || !take_byte(&v, ':') || kura_jspan_value(&v, &val))
			return KURA_EINVAL;
		r = first ? 0 : kura_buf_append_byte(out, ',');
		first = 0;
		if (!r)
			r = kura_buf_append(out, name.ptr, name.len);
		if (!r)
			r = kura_buf_append_byte(out, ':');
		if (!r)
			r = rewrite(b, val, name.len == 11 && memcmp(name.ptr, "\"reference\"", 11) == 0,
				    depth + 1, out);
	}
	return r ? r : kura_buf_append_byte(out, '}');
}

static int rewrite_array(struct bundle_ctx *b, struct kura_slice v, unsigned depth,
			 struct kura_buf *out)
{
	struct kura_jspan_iter it;
	struct kura_slice el;
	int r = kura_jspan_array_begin(v, &it), k, first = 1;
	if (!r)
		r = kura_buf_append_byte(out, '[');
	while (!r && (k = kura_jspan_array_next(&it, &el)) == 1) {
		r = first ? 0 : kura_buf_append_byte(out, ',');
		first = 0;
		if (!r)
			r = rewrite(b, el, 0, depth + 1, out);
	}
	if (!r && k < 0)
		r = k;
	return r ? r : kura_buf_append_byte(out, ']');
}

/* Copy v to out with references to urn fullUrls replaced by "Type/id";
 * KURA_EBUSY when one names an entry not written yet. */
static int rewrite(struct bundle_ctx *b, struct kura_slice v, int is_ref, unsigned depth,
		   struct kura_buf *out)
{
	struct ent *x;
	if (depth > KURA_MAX_JSON_DEPTH)
		return KURA_ETOOBIG;
	skip_ws(&v);
	if (v.len && *v.ptr == '{')
		return rewrite_object(b, v, depth, out);
	if (v.len && *v.ptr == '[')
		return rewrite_array(b, v, depth, out);
	if (is_ref && v.len && *v.ptr == '"' && (x = named(b, v)) != NULL) {
		if (!x->ref[0])
			return KURA_EBUSY;
		return kura_fhir_append_str(out, x->ref);
	}
	return kura_buf_append(out, v.ptr, v.len);
}

/* Write entry x inside tx: 0 written or refused (x->status says), 1
 * deferred (names an entry not written yet), or an internal error. */
static int write_entry(struct bundle_ctx *b, struct ent *x, struct kura_access_txn *tx)
{
	struct kura_buf res;
	static const char urn[] = "\"urn:";
	int r = 0;
	kura_buf_init(&res, KURA_HTTP_MAX_RESP_BODY);
	if (x->res.ptr && x->res.len >= 5 && memmem(x->res.ptr, x->res.len, urn, 5))
		r = rewrite(b, x->res, 0, 0, &res);
	if (r == KURA_EBUSY) {
		kura_buf_release(&res);
		return 1;
	}
	if (r == 0)
		r = run_entry(b->fr, x, tx, res.data ? kura_buf_slice(&res) : x->res);
	else if (r == KURA_EINVAL || r == KURA_ETOOBIG) {
		x->status = 400;
		x->done = 1;
		r = 0;
	}
	kura_buf_release(&res);
	return r;
}

/* ---- the two kinds ---- */

/* One pass over the POST entries not written yet: *progress when one
 * was written, *left when one was deferred, *ret_bad at the first
 * refused (the pass stops there). */
static int post_pass(struct bundle_ctx *b, struct kura_access_txn *tx, int *progress, int *left,
		     struct ent **ret_bad)
{
	for (size_t i = 0; i < b->n; i++) {
		struct ent *x = &b->e[i];
		if (x->done || x->method != KURA_HTTP_POST)
			continue;
		int r = write_entry(b, x, tx);
		if (r < 0)
			return r;
		*progress |= r == 0;
		*left |= r == 1;
		if (x->done && x->status >= 300) {
			*ret_bad = x;
			return 0;
		}
	}
	return 0;
}

/* POSTs in dependency order, then PUTs; the first refusal stops, in
 * *ret_bad; *ret_cycle when POSTs name each other in a cycle. */
static int write_all(struct bundle_ctx *b, struct kura_access_txn *tx, struct ent **ret_bad,
		     int *ret_cycle)
{
	int r = 0, progress = 1, left = 1;
	*ret_bad = NULL;
	*ret_cycle = 0;
	while (!r && !*ret_bad && progress && left) {
		progress = left = 0;
		r = post_pass(b, tx, &progress, &left, ret_bad);
	}
	if (r || *ret_bad)
		return r;
	if (left) {
		*ret_cycle = 1;
		return 0;
	}
	for (size_t i = 0; !r && i < b->n; i++) {
		struct ent *x = &b->e[i];
		if (x->method != KURA_HTTP_PUT)
			continue;
		r = write_entry(b, x, tx);
		if (!r && (!x->done || x->status >= 300)) {
			*ret_bad = x;
			return 0;
		}
	}
	return r;
}

/* The whole transaction failed at entry x: its outcome, "entry N: " first. */
static int fail_at(struct bundle_ctx *b, const struct ent *x)
{
	char msg[512];
	json_t *o = json_loadb((const char *)x->body.data, x->body.len, 0, NULL);
	json_t *issue = json_array_get(json_object_get(o, "issue"), 0);
	const char *code = json_string_value(json_object_get(issue, "code"));
	const char *d = json_string_value(json_object_get(issue, "diagnostics"));
	snprintf(msg, sizeof(msg), "transaction not applied: entry %zu (%s %s): %s",
		 (size_t)(x - b->e), x->method == KURA_HTTP_PUT ? "PUT" : "POST", x->url,
		 d ? d : "refused");
	int r = kura_fhir_outcome(b->fr->resp, x->status >= 400 ? x->status : 400,
				  code ? code : "invalid", msg);
	json_decref(o);
	return r;
}

static int refuse_methods(struct bundle_ctx *b)
{
	for (size_t i = 0; i < b->n; i++) {
		int m = b->e[i].method;
		if (m != KURA_HTTP_GET && m != KURA_HTTP_POST && m != KURA_HTTP_PUT) {
			char msg[160];
			snprintf(msg, sizeof(msg), "entry %zu: only GET, POST and PUT entries are "
				 "supported (not DELETE, PATCH or HEAD)", i);
			return kura_fhir_outcome(b->fr->resp, 405, "not-supported", msg) ? -1 : 1;
		}
	}
	return 0;
}

static int run_gets(struct bundle_ctx *b);

/* After the vault transaction ended with e (why: what it was ended with). */
static int concluded(struct bundle_ctx *b, int why, int e, const struct ent *bad, int cycle)
{
	if ((bad || cycle) && e != why)
		return e; /* an event of the abort could not be recorded */
	if (cycle)
		return reply_bad(b->fr, 400, "processing",
				 "the entries' urn:uuid references form a cycle") ? KURA_EINTERNAL : 1;
	if (bad)
		return fail_at(b, bad) ? KURA_EINTERNAL : 1;
	if (e)
		return kura_fhir_error(b->fr->resp, e) ? e : 1;
	return run_gets(b);
}

/* The writes are committed: GET entries past the answer budget are
 * answered 413 each (without their resource), not the whole Bundle. */
static int run_gets(struct bundle_ctx *b)
{
	int r = 0;
	size_t total = 0;
	for (size_t i = 0; !r && i < b->n; i++) {
		struct ent *x = &b->e[i];
		if (x->method != KURA_HTTP_GET)
			continue;
		if (total <= KURA_HTTP_MAX_RESP_BODY / 2)
			r = run_entry(b->fr, x, NULL, x->res);
		total += x->body.len;
		if (!r && total > KURA_HTTP_MAX_RESP_BODY / 2) {
			kura_buf_release_secret(&x->body);
			x->status = 413;
		}
	}
	return r;
}

static int transaction(struct bundle_ctx *b)
{
	struct kura_access_txn *tx;
	struct ent *bad = NULL;
	int cycle = 0, st = refuse_methods(b);
	if (st)
		return st < 0 ? KURA_EINTERNAL : 1;
	int r = kura_access_begin(&b->fr->au->a, &tx);
	if (r)
		return r;
	r = write_all(b, tx, &bad, &cycle);
	int why = r ? r : bad ? (bad->status == 403 ? KURA_EDENIED : KURA_EINVAL)
		  : cycle ? KURA_EINVAL : 0;
	int e = kura_access_finish(&b->fr->au->a, tx, why, NULL);
	return r ? r : concluded(b, why, e, bad, cycle);
}

/* The entries' answers are kept until the Bundle is written: their total
 * is bounded like any answer (KURA_HTTP_MAX_RESP_BODY), or one small
 * request could make the server hold gigabytes. */
static int over_budget(struct bundle_ctx *b, size_t upto)
{
	size_t total = 0;
	for (size_t i = 0; i <= upto; i++)
		total += b->e[i].body.len;
	if (total <= KURA_HTTP_MAX_RESP_BODY / 2)
		return 0;
	for (size_t i = 0; i <= upto; i++)
		kura_buf_release_secret(&b->e[i].body);
	return reply_bad(b->fr, 413, "too-costly",
			 "the entries' answers together exceed the answer size limit; "
			 "ask for fewer at a time") ? KURA_EINTERNAL : 1;
}

static int batch(struct bundle_ctx *b)
{
	int r = 0;
	for (size_t i = 0; !r && i < b->n; i++) {
		r = run_entry(b->fr, &b->e[i], NULL, b->e[i].res);
		if (!r)
			r = over_budget(b, i);
	}
	return r;
}

/* ---- the answer ---- */

/* ,"key":value when value is not empty (raw: value is JSON already). */
static int opt_member(struct kura_buf *out, const char *key, const char *value, size_t len,
		      int raw)
{
	if (!value || !len)
		return 0;
	int r = kura_buf_printf(out, ",\"%s\":", key);
	if (!r)
		r = raw ? kura_buf_append(out, value, len) : kura_fhir_append_str(out, value);
	return r;
}

static int answer_entry(struct bundle_ctx *b, struct kura_buf *out, const struct ent *x)
{
	int ok = x->status < 300, get = x->method == KURA_HTTP_GET && ok;
	int r = kura_buf_printf(out, "{\"response\":{\"status\":\"%s\"", status_text(x->status));
	if (!r)
		r = opt_member(out, "location", x->location, strlen(x->location), 0);
	if (!r)
		r = opt_member(out, "etag", x->etag, strlen(x->etag), 0);
	if (!r)
		r = opt_member(out, "lastModified", x->modified, strlen(x->modified), 0);
	if (!r && !ok)
		r = opt_member(out, "outcome", (const char *)x->body.data, x->body.len, 1);
	if (!r)
		r = kura_buf_append_byte(out, '}');
	if (!r && ok && x->ref[0])
		r = kura_buf_printf(out, ",\"fullUrl\":\"%s/fhir/%s\"", b->fr->base, x->ref);
	if (!r && get)
		r = opt_member(out, "resource", (const char *)x->body.data, x->body.len, 1);
	return r ? r : kura_buf_append_byte(out, '}');
}

static int answer(struct bundle_ctx *b)
{
	struct kura_http_resp *resp = b->fr->resp;
	struct kura_buf *out = &resp->body;
	kura_buf_reset(out);
	resp->nheaders = resp->store_used = 0;
	int r = kura_buf_printf(out, "{\"resourceType\":\"Bundle\",\"type\":\"%s-response\","
				"\"entry\":[", b->transaction ? "transaction" : "batch");
	for (size_t i = 0; !r && i < b->n; i++) {
		if (i)
			r = kura_buf_append_byte(out, ',');
		if (!r)
			r = answer_entry(b, out, &b->e[i]);
	}
	if (!r)
		r = kura_buf_append_str(out, "]}");
	if (!r) {
		resp->status = 200;
		memcpy(resp->content_type, KURA_FHIR_CT, sizeof(KURA_FHIR_CT));
	}
	return r;
}

/* Content type, JSON, depth, resourceType Bundle: 0 or answered (1). */
static int parse_bundle(struct kura_fhir_req *fr, json_t **ret)
{
	struct kura_buf stored;
	const char *why = NULL;
	kura_buf_init(&stored, KURA_HTTP_MAX_RESP_BODY);
	int st = kura_fhir_content_type_ok(fr->http)
			 ? kura_fhir_prepare(fr->http->body, fr->http->body_len, "Bundle",
					     fr->max_depth, &stored, ret, &why)
			 : 415;
	kura_buf_release(&stored);
	if (st == 415)
		return reply_bad(fr, 415, "not-supported",
				 "send application/fhir+json or application/json") ? -1 : 1;
	if (st)
		return reply_bad(fr, st, st == 400 ? "structure" : "invalid", why) ? -1 : 1;
	return 0;
}

static int check_bundle(struct bundle_ctx *b, json_t **ret)
{
	const char *why = NULL;
	struct kura_fhir_req *fr = b->fr;
	int st = parse_bundle(fr, ret);
	if (st)
		return st;
	const char *type = json_string_value(json_object_get(*ret, "type"));
	if (!type || (strcmp(type, "batch") != 0 && strcmp(type, "transaction") != 0))
		return reply_bad(fr, 400, "invalid",
				 "POST /fhir takes a Bundle of type batch or transaction") ? -1 : 1;
	b->transaction = strcmp(type, "transaction") == 0;
	if ((st = take_entries(b, *ret, &why)) == 0)
		return 0;
	if (st == KURA_EINVAL || st == KURA_ETOOBIG)
		return reply_bad(fr, st == KURA_ETOOBIG ? 413 : 400,
				 st == KURA_ETOOBIG ? "too-costly" : "structure", why) ? -1 : 1;
	return st;
}

int kura_fhir_bundle(struct kura_fhir_req *fr)
{
	struct bundle_ctx b = {fr, NULL, 0, 0};
	json_t *j = NULL;
	int r = check_bundle(&b, &j);
	if (r == 0)
		r = b.transaction ? transaction(&b) : batch(&b);
	if (r == 0)
		r = answer(&b);
	for (size_t i = 0; b.e && i < b.n; i++)
		kura_buf_release_secret(&b.e[i].body);
	free(b.e);
	json_decref(j);
	return r == 1 ? 0 : r;
}
