/*
 * test_fhir_api.c - the FHIR R4 endpoints (src/serve/fhir*.c) on a real
 * vault without a network: requests are built by hand and given to the
 * authenticated core (kura_fhir_dispatch) as a logged-in doctor, clerk...
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "serve/fhir_int.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"

#define PASS "correct horse battery staple"
#define PW1 "Init-Pw-x7#q2Lm"
#define PW2 "Zq7#vN2$kLp9@wR"

struct fx {
	char dir[64];
	struct kura_vault *v;
	struct kura_actor where;
	struct kura_http_auth doc, clerk, auditor;
	struct kura_http_resp resp;
	struct kura_scanner *scanner;
	int scan_off;
	unsigned max_entries;
};

static void add(struct fx *f, const char *id, const char *role, const char *deps)
{
	struct kura_txn *t;
	struct kura_account_spec s = {id, "", "", role, deps, 0};
	int reason = -1;
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_account_add(t, &s, PW1, strlen(PW1)), 0);
	assert_int_equal(kura_account_set_password(t, id, PW2, strlen(PW2), 1, &reason), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
}

static void login(struct fx *f, const char *user, struct kura_http_auth *au)
{
	char tok[KURA_TOKEN_HEX + 1];
	struct kura_login in = {user, PW2, strlen(PW2), NULL, NULL, NULL};
	assert_int_equal(kura_auth_login(f->v, &in, &f->where, &au->id, tok), 0);
	au->id.must_enroll = 0;
	au->a = (struct kura_access){f->v, &au->id, NULL, NULL, NULL};
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kura_kdf_params kdf = {1, 8 * 1024};
	struct kura_sth sth;
	struct kura_txn *t;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kura-fhir-XXXXXX");
	if (!mkdtemp(f->dir) || kura_vault_init(f->dir, PASS, strlen(PASS), &kdf, &sth) ||
	    kura_vault_open(f->dir, PASS, strlen(PASS), 0, &f->v) || kura_txn_begin(f->v, &t))
		return -1;
	if (kura_setting_set(t, "password.argon2_ops", "1") ||
	    kura_setting_set(t, "password.argon2_mem_mib", "8") || kura_txn_commit(t, NULL))
		return -1;
	memcpy(f->where.terminal, "unit", 5);
	add(f, "dr.sato", "doctor", "internal");
	add(f, "clerk.ono", "clerk", "internal");
	login(f, "dr.sato", &f->doc);
	login(f, "clerk.ono", &f->clerk);
	add(f, "audit.kato", "auditor", "internal");
	login(f, "audit.kato", &f->auditor);
	char db[4096], err[256];
	unsigned sigs = 0;
	const char *d = getenv("KURA_TEST_DATA");
	snprintf(db, sizeof(db), "%s/clamav", d ? d : "tests/data");
	if (kura_scan_open(db, &f->scanner, &sigs, err))
		return -1;
	kura_buf_init(&f->resp.body, KURA_HTTP_MAX_RESP_BODY);
	f->max_entries = 1000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	kura_buf_release(&f->resp.body);
	kura_scan_close(f->scanner);
	kura_vault_close(f->v);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static const struct kura_http_header json_ct[] = {{"Content-Type", "application/fhir+json"}};

/* One request as au; the answer is in f->resp (body NUL-terminated). */
static int call_h(struct fx *f, struct kura_http_auth *au, int method, const char *path,
		  const char *query, const char *body, const struct kura_http_header *h, size_t nh)
{
	struct kura_http_req req = {method, path, query, h, nh, (const uint8_t *)body,
				    body ? strlen(body) : 0, NULL, NULL, 1};
	struct kura_fhir_req fr = {&req, au, &f->resp, "https://kura.test", 64, 100,
				   f->scanner, f->scan_off, f->max_entries, NULL, 0};
	f->resp.status = 0;
	f->resp.nheaders = f->resp.store_used = 0;
	kura_buf_reset(&f->resp.body);
	assert_int_equal(kura_fhir_dispatch(&fr), 0);
	assert_int_equal(kura_buf_append_byte(&f->resp.body, 0), 0);
	f->resp.body.len--;
	return f->resp.status;
}

static int call(struct fx *f, int method, const char *path, const char *query, const char *body)
{
	return call_h(f, &f->doc, method, path, query, body, json_ct, body ? 1 : 0);
}

static json_t *answer(struct fx *f)
{
	json_t *j = json_loadb((const char *)f->resp.body.data, f->resp.body.len, 0, NULL);
	assert_non_null(j);
	return j;
}

static const char *resp_header(struct fx *f, const char *name)
{
	for (size_t i = 0; i < f->resp.nheaders; i++)
		if (strcmp(f->resp.headers[i].name, name) == 0)
			return f->resp.headers[i].value;
	return NULL;
}

static char *load(const char *name)
{
	char path[4096];
	struct kura_buf b;
	const char *d = getenv("KURA_TEST_DATA");
	snprintf(path, sizeof(path), "%s/fhir/%s", d ? d : "tests/data", name);
	kura_buf_init(&b, 64 * 1024 * 1024);
	assert_int_equal(kura_fs_read(path, 64 * 1024 * 1024, &b), 0);
	assert_int_equal(kura_buf_append_byte(&b, 0), 0);
	return (char *)b.data;
}

/* A resource text with its id dropped and members changed (NULL: drop). */
static char *edit(const char *text, const char *key, json_t *value)
{
	json_t *j = json_loads(text, JSON_PRESERVE_ORDER, NULL);
	assert_non_null(j);
	json_object_del(j, "id");
	if (key && value)
		json_object_set_new(j, key, value);
	else if (key)
		json_object_del(j, key);
	char *s = json_dumps(j, JSON_PRESERVE_ORDER | JSON_INDENT(1));
	json_decref(j);
	return s;
}

/* Create and return the new id (caller's buffer). */
static void create(struct fx *f, const char *type, const char *body, char id[64])
{
	char path[128];
	snprintf(path, sizeof(path), "/fhir/%s", type);
	assert_int_equal(call(f, KURA_HTTP_POST, path, NULL, body), 201);
	json_t *j = answer(f);
	snprintf(id, 64, "%s", json_string_value(json_object_get(j, "id")));
	json_decref(j);
}

/* The stored form of a text: what must round-trip byte for byte. */
static void same_resource(const char *a, size_t alen, const char *b, size_t blen, const char *type)
{
	struct kura_buf x, y;
	const char *why;
	kura_buf_init(&x, KURA_MAX_CONTENT);
	kura_buf_init(&y, KURA_MAX_CONTENT);
	assert_int_equal(kura_fhir_prepare((const uint8_t *)a, alen, type, 64, &x, NULL, &why), 0);
	assert_int_equal(kura_fhir_prepare((const uint8_t *)b, blen, type, 64, &y, NULL, &why), 0);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.data, y.data, x.len);
	kura_buf_release(&x);
	kura_buf_release(&y);
}

static void test_metadata(void **state)
{
	struct fx *f = *state;
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/metadata", NULL, NULL), 200);
	assert_string_equal(f->resp.content_type, KURA_FHIR_CT);
	json_t *j = answer(f), *res = json_object_get(json_array_get(json_object_get(j, "rest"), 0),
						     "resource"), *r;
	size_t i;
	assert_string_equal(json_string_value(json_object_get(j, "fhirVersion")), "4.0.1");
	json_t *ri = json_object_get(json_array_get(json_object_get(j, "rest"), 0), "interaction");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ri, 0), "code")),
			    "transaction");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ri, 1), "code")), "batch");
	assert_int_equal(json_array_size(res), 11);
	json_array_foreach(res, i, r) {
		json_t *in = json_object_get(r, "interaction");
		if (i == 10) {
			assert_string_equal(json_string_value(json_object_get(r, "type")), "AuditEvent");
			assert_int_equal(json_array_size(in), 2);
			continue;
		}
		assert_int_equal(json_array_size(in), 7);
		assert_true(json_is_false(json_object_get(r, "updateCreate")));
	}
	json_decref(j);
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/metadata", NULL, "{}"), 405);
}

static void test_patient_crud(void **state)
{
	struct fx *f = *state;
	char id[64], path[160], hist[200];
	char *src = load("Patient-example.json");
	char *body = edit(src, NULL, NULL);
	create(f, "Patient", body, id);
	assert_string_equal(resp_header(f, "ETag"), "W/\"1\"");
	snprintf(path, sizeof(path), "https://kura.test/fhir/Patient/%s/_history/1", id);
	assert_string_equal(resp_header(f, "Location"), path);
	assert_non_null(resp_header(f, "Last-Modified"));
	/* read: the example again, byte for byte apart from id and meta */
	snprintf(path, sizeof(path), "/fhir/Patient/%s", id);
	assert_int_equal(call(f, KURA_HTTP_GET, path, NULL, NULL), 200);
	same_resource((const char *)f->resp.body.data, f->resp.body.len, body, strlen(body), "Patient");
	json_t *j = answer(f);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "meta"), "versionId")), "1");
	json_decref(j);
	/* update with If-Match, then a stale If-Match */
	struct kura_http_header h[2] = {{"Content-Type", "application/fhir+json"}, {"If-Match", "W/\"1\""}};
	char *upd = edit(src, "active", json_false());
	assert_int_equal(call_h(f, &f->doc, KURA_HTTP_PUT, path, NULL, upd, h, 2), 200);
	assert_string_equal(resp_header(f, "ETag"), "W/\"2\"");
	assert_int_equal(call_h(f, &f->doc, KURA_HTTP_PUT, path, NULL, upd, h, 2), 412);
	j = answer(f);
	assert_string_equal(json_string_value(json_object_get(j, "resourceType")), "OperationOutcome");
	json_decref(j);
	/* vread 1 is the original; history has both, newest first */
	snprintf(hist, sizeof(hist), "%s/_history/1", path);
	assert_int_equal(call(f, KURA_HTTP_GET, hist, NULL, NULL), 200);
	same_resource((const char *)f->resp.body.data, f->resp.body.len, body, strlen(body), "Patient");
	snprintf(hist, sizeof(hist), "%s/_history", path);
	assert_int_equal(call(f, KURA_HTTP_GET, hist, NULL, NULL), 200);
	j = answer(f);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "history");
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 2);
	json_t *e0 = json_array_get(json_object_get(j, "entry"), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e0, "request"), "method")), "PUT");
	json_decref(j);
	/* PUT to an unknown id: no create-on-update */
	assert_int_equal(call(f, KURA_HTTP_PUT, "/fhir/Patient/no-such-id", NULL, upd), 404);
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/Patient/no-such-id", NULL, NULL), 404);
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/Patient/_history", NULL, NULL), 200);
	free(src);
	free(body);
	free(upd);
}

static void test_japanese_round_trip(void **state)
{
	struct fx *f = *state;
	char id[64], path[128];
	char *bundle = load("patients-ts-gimei-transaction.json");
	json_t *b = json_loads(bundle, JSON_PRESERVE_ORDER, NULL);
	json_t *p = json_object_get(json_array_get(json_object_get(b, "entry"), 0), "resource");
	char *text = json_dumps(p, JSON_PRESERVE_ORDER | JSON_INDENT(2));
	create(f, "Patient", text, id);
	snprintf(path, sizeof(path), "/fhir/Patient/%s", id);
	assert_int_equal(call(f, KURA_HTTP_GET, path, NULL, NULL), 200);
	same_resource((const char *)f->resp.body.data, f->resp.body.len, text, strlen(text), "Patient");
	assert_non_null(strstr((const char *)f->resp.body.data, "\"大平 澪保\""));
	assert_non_null(strstr((const char *)f->resp.body.data, "オオヒラ"));
	json_decref(b);
	free(text);
	free(bundle);
}

static char *observation(const char *src, const char *patient)
{
	char ref[128];
	snprintf(ref, sizeof(ref), "Patient/%s", patient);
	return edit(src, "subject", json_pack("{s:s}", "reference", ref));
}

static int total(struct fx *f, const char *query)
{
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/Observation", query, NULL), 200);
	json_t *j = answer(f);
	int n = (int)json_integer_value(json_object_get(j, "total"));
	assert_string_equal(json_string_value(json_object_get(j, "type")), "searchset");
	json_decref(j);
	return n;
}

static int count_disclosed(void *ctx, const struct kura_event_row *row)
{
	if (strcmp(row->ev.action, "read") == 0 &&
	    strstr(row->ev.detail, "records of this patient in one answer"))
		++*(unsigned *)ctx;
	return 0;
}

/* Read events naming each patient a search or history answer showed. */
static unsigned disclosed_events(struct fx *f)
{
	unsigned n = 0;
	struct kura_store *s = kura_vault_store(f->v);
	assert_int_equal(s->ops->event_scan(s, 0, count_disclosed, &n), 0);
	return n;
}

static void test_observation_search(void **state)
{
	struct fx *f = *state;
	char pid[64], pid2[64], oid[64], q[256];
	char *pat = load("Patient-example.json"), *obs = load("Observation-example.json");
	char *dec = load("Observation-decimal.json");
	char *pbody = edit(pat, NULL, NULL);
	create(f, "Patient", pbody, pid);
	create(f, "Patient", pbody, pid2);
	char *o1 = observation(obs, pid), *o2 = observation(dec, pid), *o3 = observation(obs, pid2);
	create(f, "Observation", o1, oid);
	same_resource((const char *)f->resp.body.data, f->resp.body.len, o1, strlen(o1), "Observation");
	create(f, "Observation", o2, q);
	/* decimals such as 1.00 keep their bytes */
	assert_non_null(strstr((const char *)f->resp.body.data, "1.00"));
	create(f, "Observation", o3, q);
	snprintf(q, sizeof(q), "patient=Patient/%s", pid);
	assert_int_equal(total(f, q), 2);
	snprintf(q, sizeof(q), "subject=%s&code=http://loinc.org|29463-7", pid);
	assert_int_equal(total(f, q), 1);
	assert_int_equal(total(f, "code=http%3A%2F%2Floinc.org%7C29463-7"), 2);
	assert_int_equal(total(f, "code=29463-7,nothing"), 2);
	assert_int_equal(total(f, "date=2016-03-28"), 2);
	assert_int_equal(total(f, "date=ge2016-01-01&date=lt2017"), 2);
	assert_int_equal(total(f, "date=lt2016-03-28"), 0);
	unsigned before = disclosed_events(f);
	assert_int_equal(total(f, "status=final"), 3);
	/* the answer showed records of two patients: a read event for each */
	assert_int_equal(disclosed_events(f), before + 2);
	assert_int_equal(total(f, "status=final,cancelled&date=2016"), 2);
	assert_int_equal(total(f, "_lastUpdated=ge2020-01-01"), 3);
	snprintf(q, sizeof(q), "_id=%s", oid);
	assert_int_equal(total(f, q), 1);
	/* paging: _count=1 gives one entry and a next link */
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/Observation", "status=final&_count=1", NULL), 200);
	json_t *j = answer(f);
	assert_int_equal(json_array_size(json_object_get(j, "entry")), 1);
	json_t *next = json_array_get(json_object_get(j, "link"), 1);
	assert_string_equal(json_string_value(json_object_get(next, "relation")), "next");
	assert_string_equal(json_string_value(json_object_get(next, "url")),
			    "https://kura.test/fhir/Observation?status=final&_count=1&_offset=1");
	json_decref(j);
	/* every write has its Provenance */
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/Provenance", "_count=100", NULL), 200);
	j = answer(f);
	assert_true(json_integer_value(json_object_get(j, "total")) >= 5);
	json_decref(j);
	/* bad parameters */
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/Observation", "family=x", NULL), 400);
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/Observation", "date=yesterday", NULL), 400);
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/Observation", "_count=x", NULL), 400);
	free(pat), free(obs), free(dec), free(pbody), free(o1), free(o2), free(o3);
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	char pid[64], deep[400] = "";
	char *pat = load("Patient-example.json"), *obs = load("Observation-example.json");
	char *pbody = edit(pat, NULL, NULL);
	create(f, "Patient", pbody, pid);
	char *nosubj = edit(obs, "subject", NULL);
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/Observation", NULL, nosubj), 422);
	char *unknown = observation(obs, "0190aaaa-0000-7000-8000-000000000000");
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/Observation", NULL, unknown), 422);
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/Observation", NULL, "{\"resourceType\":"), 400);
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/Observation", NULL, "[1]"), 400);
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/Observation", NULL, pbody), 400);
	assert_int_equal(call_h(f, &f->doc, KURA_HTTP_POST, "/fhir/Patient", NULL, pbody, NULL, 0), 415);
	struct kura_http_header xml = {"Content-Type", "application/fhir+xml"};
	assert_int_equal(call_h(f, &f->doc, KURA_HTTP_POST, "/fhir/Patient", NULL, pbody, &xml, 1), 415);
	int n = snprintf(deep, sizeof(deep), "{\"resourceType\":\"Patient\",\"extension\":");
	memset(deep + n, '[', 70);
	memset(deep + n + 70, ']', 70);
	memcpy(deep + n + 140, "}", 2);
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/Patient", NULL, deep), 400);
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/AuditEvent", NULL, NULL), 403);
	assert_int_equal(call(f, KURA_HTTP_DELETE, "/fhir/Patient/x", NULL, NULL), 405);
	assert_int_equal(call(f, KURA_HTTP_GET, "/other", NULL, NULL), 404);
	json_t *j = answer(f);
	json_t *issue = json_array_get(json_object_get(j, "issue"), 0);
	assert_string_equal(json_string_value(json_object_get(issue, "severity")), "error");
	assert_non_null(json_string_value(json_object_get(issue, "code")));
	json_decref(j);
	free(pat), free(obs), free(pbody), free(nosubj), free(unknown);
}

static void test_retracted_gone(void **state)
{
	struct fx *f = *state;
	char pid[64], path[128];
	struct kura_written w;
	struct kura_write kw = {"dr.sato", NULL, "entered in error", 0, NULL};
	char *pat = load("Patient-example.json"), *pbody = edit(pat, NULL, NULL);
	create(f, "Patient", pbody, pid);
	assert_int_equal(kura_access_retract(&f->doc.a, pid, &kw, &w), 0);
	snprintf(path, sizeof(path), "/fhir/Patient/%s", pid);
	assert_int_equal(call(f, KURA_HTTP_GET, path, NULL, NULL), 410);
	snprintf(path, sizeof(path), "/fhir/Patient/%s/_history/1", pid);
	assert_int_equal(call(f, KURA_HTTP_GET, path, NULL, NULL), 200);
	free(pat), free(pbody);
}

static int count_cb(void *ctx, const struct kura_event_row *row)
{
	if (strcmp(row->ev.actor, "clerk.ono") == 0 && row->ev.outcome == KURA_OUTCOME_MINOR)
		++*(unsigned *)ctx;
	return 0;
}

static void test_denied_audited(void **state)
{
	struct fx *f = *state;
	char pid[64], oid[64], path[128];
	unsigned before = 0, after = 0;
	struct kura_store *s = kura_vault_store(f->v);
	char *pat = load("Patient-example.json"), *obs = load("Observation-example.json");
	char *pbody = edit(pat, NULL, NULL);
	create(f, "Patient", pbody, pid);
	char *o = observation(obs, pid);
	create(f, "Observation", o, oid);
	assert_int_equal(s->ops->event_scan(s, 0, count_cb, &before), 0);
	snprintf(path, sizeof(path), "/fhir/Observation/%s", oid);
	assert_int_equal(call_h(f, &f->clerk, KURA_HTTP_GET, path, NULL, NULL, NULL, 0), 403);
	assert_int_equal(call_h(f, &f->clerk, KURA_HTTP_POST, "/fhir/Observation", NULL, o, json_ct, 1),
			 403);
	assert_int_equal(s->ops->event_scan(s, 0, count_cb, &after), 0);
	assert_int_equal(after, before + 2);
	/* a clerk's search leaves clinical records out */
	assert_int_equal(call_h(f, &f->clerk, KURA_HTTP_GET, "/fhir/Observation", NULL, NULL, NULL, 0),
			 200);
	json_t *j = answer(f);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
	json_decref(j);
	free(pat), free(obs), free(pbody), free(o);
}

/* ---- uploads are scanned (MW-01) ---- */

static uint8_t *load_bytes(const char *rel, size_t *n)
{
	char path[4096];
	struct kura_buf b;
	const char *d = getenv("KURA_TEST_DATA");
	snprintf(path, sizeof(path), "%s/%s", d ? d : "tests/data", rel);
	kura_buf_init(&b, 64 * 1024 * 1024);
	assert_int_equal(kura_fs_read(path, 64 * 1024 * 1024, &b), 0);
	*n = b.len;
	return b.data;
}

/* EICAR from its base64 form: the raw bytes never sit in the tree. */
static uint8_t *eicar(size_t *n)
{
	size_t tl;
	char *text = (char *)load_bytes("clamav/eicar.com.b64", &tl);
	uint8_t *out = malloc(tl);
	assert_int_equal(sodium_base642bin(out, tl, text, tl, "\r\n", n, NULL,
					   sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(*n, 68);
	free(text);
	return out;
}

static char *b64(const uint8_t *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);
	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static char *binary(const char *pid, const char *ct, const char *data)
{
	size_t cap = strlen(data) + 512;
	char *s = malloc(cap);
	snprintf(s, cap, "{\"resourceType\":\"Binary\",\"contentType\":\"%s\",\"securityContext\":"
		   "{\"reference\":\"Patient/%s\"},\"data\":\"%s\"}", ct, pid, data);
	return s;
}

static char *docref(const char *pid, const char *ct, const char *data)
{
	size_t cap = strlen(data) + 512;
	char *s = malloc(cap);
	snprintf(s, cap, "{\"resourceType\":\"DocumentReference\",\"status\":\"current\",\"subject\":"
		   "{\"reference\":\"Patient/%s\"},\"content\":[{\"attachment\":{\"contentType\":"
		   "\"%s\",\"title\":\"scan\",\"data\":\"%s\"}}]}", pid, ct, data);
	return s;
}

static int count_malware(void *ctx, const struct kura_event_row *row)
{
	const struct kura_event *e = &row->ev;
	if (strcmp(e->action, "write") == 0 && e->outcome == KURA_OUTCOME_MINOR &&
	    e->severity == KURA_SEV_ALERT && strncmp(e->detail, "malware: Eicar-Test-Signature", 29) == 0)
		++*(unsigned *)ctx;
	return 0;
}

static unsigned malware_events(struct fx *f)
{
	unsigned n = 0;
	struct kura_store *s = kura_vault_store(f->v);
	assert_int_equal(s->ops->event_scan(s, 0, count_malware, &n), 0);
	return n;
}

static void refused_as_malware(struct fx *f)
{
	json_t *j = answer(f);
	json_t *issue = json_array_get(json_object_get(j, "issue"), 0);
	assert_string_equal(json_string_value(json_object_get(issue, "code")), "security");
	assert_non_null(strstr(json_string_value(json_object_get(issue, "diagnostics")),
			       "Eicar-Test-Signature"));
	json_decref(j);
}

static int type_total(struct fx *f, const char *path)
{
	assert_int_equal(call(f, KURA_HTTP_GET, path, NULL, NULL), 200);
	json_t *j = answer(f);
	int n = (int)json_integer_value(json_object_get(j, "total"));
	json_decref(j);
	return n;
}

static void test_upload_malware(void **state)
{
	struct fx *f = *state;
	char pid[64], bid[64], path[160];
	size_t n;
	uint8_t *ev = eicar(&n);
	char *ev64 = b64(ev, n), *pat = load("Patient-example.json"), *pbody = edit(pat, NULL, NULL);
	create(f, "Patient", pbody, pid);
	char *bin = binary(pid, "application/octet-stream", ev64), *doc = docref(pid, "text/plain", ev64);
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/Binary", NULL, bin), 422);
	refused_as_malware(f);
	assert_int_equal(malware_events(f), 1);
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/DocumentReference", NULL, doc), 422);
	refused_as_malware(f);
	assert_int_equal(malware_events(f), 2);
	assert_int_equal(type_total(f, "/fhir/Binary"), 0);
	assert_int_equal(type_total(f, "/fhir/DocumentReference"), 0);
	/* an update that carries malware leaves the clean version current */
	char *clean = binary(pid, "text/plain", "aGVsbG8=");
	create(f, "Binary", clean, bid);
	snprintf(path, sizeof(path), "/fhir/Binary/%s", bid);
	assert_int_equal(call(f, KURA_HTTP_PUT, path, NULL, bin), 422);
	assert_int_equal(malware_events(f), 3);
	assert_int_equal(call(f, KURA_HTTP_GET, path, NULL, NULL), 200);
	assert_string_equal(resp_header(f, "ETag"), "W/\"1\"");
	/* attachments anywhere in a resource are scanned: contained, value[x],
	 * extensions, an object where an array belongs, SampledData text */
	const char *hidden[] = {
		"{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
		"\"subject\":{\"reference\":\"Patient/%s\"},\"contained\":[{\"resourceType\":\"Binary\","
		"\"contentType\":\"text/plain\",\"data\":\"%s\"}]}",
		"{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
		"\"subject\":{\"reference\":\"Patient/%s\"},\"valueAttachment\":{\"data\":\"%s\"}}",
		"{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
		"\"subject\":{\"reference\":\"Patient/%s\"},\"extension\":[{\"url\":\"urn:x\","
		"\"valueAttachment\":{\"data\":\"%s\"}}]}",
		"{\"resourceType\":\"DocumentReference\",\"status\":\"current\","
		"\"subject\":{\"reference\":\"Patient/%s\"},\"content\":{\"attachment\":{\"data\":\"%s\"}}}",
	};
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		char body[4096];
		snprintf(body, sizeof(body), hidden[i], pid, ev64);
		int st = call(f, KURA_HTTP_POST, i == 3 ? "/fhir/DocumentReference" : "/fhir/Observation",
			      NULL, body);
		assert_true(st == 422 || st == 400); /* never stored */
		assert_int_not_equal(st, 201);
	}
	/* bad base64 is refused, not stored */
	char *bad = binary(pid, "text/plain", "aGVsbG8");
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/Binary", NULL, bad), 400);
	/* no scanner loaded (and scanning not turned off): refused, never stored unscanned */
	struct kura_scanner *keep = f->scanner;
	f->scanner = NULL;
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/Binary", NULL, clean), 500);
	/* scanning = off: nothing is scanned (the checklist reports it) */
	f->scan_off = 1;
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir/Binary", NULL, bin), 201);
	f->scan_off = 0;
	f->scanner = keep;
	free(ev), free(ev64), free(pat), free(pbody), free(bin), free(doc), free(clean), free(bad);
}

/* Create, read back, and compare the decoded data with the file. */
static void round_trip(struct fx *f, const char *type, const char *body, const uint8_t *file,
		       size_t n)
{
	char id[64], path[160];
	size_t len = 0;
	create(f, type, body, id);
	snprintf(path, sizeof(path), "/fhir/%s/%s", type, id);
	assert_int_equal(call(f, KURA_HTTP_GET, path, NULL, NULL), 200);
	json_t *j = answer(f), *d = json_object_get(j, "data");
	if (!d)
		d = json_object_get(json_object_get(json_array_get(json_object_get(j, "content"), 0),
						    "attachment"), "data");
	uint8_t *out = malloc(n + 16);
	assert_int_equal(sodium_base642bin(out, n + 16, json_string_value(d), json_string_length(d),
					   NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, file, n);
	free(out);
	json_decref(j);
}

static void test_upload_clean(void **state)
{
	struct fx *f = *state;
	char pid[64];
	size_t np, nd;
	uint8_t *pdf = load_bytes("pdfjs-helloworld.pdf", &np);
	uint8_t *dcm = load_bytes("dicom/CT_small.dcm", &nd);
	char *pdf64 = b64(pdf, np), *dcm64 = b64(dcm, nd);
	char *pat = load("Patient-example.json"), *pbody = edit(pat, NULL, NULL);
	create(f, "Patient", pbody, pid);
	char *b1 = binary(pid, "application/pdf", pdf64), *b2 = binary(pid, "application/dicom", dcm64);
	char *d1 = docref(pid, "application/pdf", pdf64), *d2 = docref(pid, "application/dicom", dcm64);
	round_trip(f, "Binary", b1, pdf, np);
	round_trip(f, "Binary", b2, dcm, nd);
	round_trip(f, "DocumentReference", d1, pdf, np);
	round_trip(f, "DocumentReference", d2, dcm, nd);
	assert_int_equal(malware_events(f), 0);
	free(pdf), free(dcm), free(pdf64), free(dcm64), free(pat), free(pbody);
	free(b1), free(b2), free(d1), free(d2);
}

/* ---- batch and transaction Bundles ---- */

static json_t *entry_post(const char *full_url, json_t *res)
{
	return json_pack("{s:s?, s:o, s:{s:s, s:s}}", "fullUrl", full_url, "resource", res,
			 "request", "method", "POST", "url",
			 json_string_value(json_object_get(res, "resourceType")));
}

static json_t *obs_for(const char *obs_text, const char *ref)
{
	json_t *o = json_loads(obs_text, 0, NULL);
	json_object_del(o, "id");
	json_object_set_new(o, "subject", json_pack("{s:s}", "reference", ref));
	return o;
}

static int post_bundle(struct fx *f, struct kura_http_auth *au, json_t *b)
{
	char *text = json_dumps(b, JSON_PRESERVE_ORDER);
	int st = call_h(f, au, KURA_HTTP_POST, "/fhir", NULL, text, json_ct, 1);
	free(text);
	return st;
}

static const char *entry_status(json_t *j, size_t i)
{
	return json_string_value(json_object_get(
		json_object_get(json_array_get(json_object_get(j, "entry"), i), "response"), "status"));
}

static void test_transaction(void **state)
{
	struct fx *f = *state;
	char *gimei = load("patients-ts-gimei-transaction.json"), *obs = load("Observation-example.json");
	json_t *b = json_loads(gimei, JSON_PRESERVE_ORDER, NULL), *entries = json_object_get(b, "entry");
	const char *u1 = json_string_value(json_object_get(json_array_get(entries, 0), "fullUrl"));
	const char *u2 = json_string_value(json_object_get(json_array_get(entries, 1), "fullUrl"));
	/* Observations first: they wait for the Patients they name */
	json_array_insert_new(entries, 0, entry_post(NULL, obs_for(obs, u1)));
	json_array_insert_new(entries, 1, entry_post(NULL, obs_for(obs, u2)));
	assert_int_equal(post_bundle(f, &f->doc, b), 200);
	json_t *j = answer(f);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "transaction-response");
	assert_int_equal(json_array_size(json_object_get(j, "entry")), 12);
	for (size_t i = 0; i < 12; i++)
		assert_string_equal(entry_status(j, i), "201 Created");
	/* the first Observation's subject is the first Patient's new id */
	const char *loc = json_string_value(json_object_get(json_object_get(
		json_array_get(json_object_get(j, "entry"), 2), "response"), "location"));
	const char *p = strstr(loc, "/fhir/Patient/");
	char pid[64], q[128];
	snprintf(pid, sizeof(pid), "%.36s", p + 14);
	snprintf(q, sizeof(q), "patient=Patient/%s", pid);
	assert_int_equal(total(f, q), 1);
	assert_int_equal(type_total(f, "/fhir/Patient"), 10);
	assert_true(type_total(f, "/fhir/Provenance") >= 12);
	/* the Japanese names round-trip through the transaction */
	snprintf(q, sizeof(q), "/fhir/Patient/%s", pid);
	assert_int_equal(call(f, KURA_HTTP_GET, q, NULL, NULL), 200);
	assert_non_null(strstr((const char *)f->resp.body.data, "\"大平 澪保\""));
	json_decref(j);
	json_decref(b);
	free(gimei), free(obs);
}

static void test_transaction_atomic(void **state)
{
	struct fx *f = *state;
	char *pat = load("Patient-example.json"), *obs = load("Observation-example.json");
	json_t *p = json_loads(pat, 0, NULL);
	unsigned before = 0, after = 0;
	struct kura_store *s = kura_vault_store(f->v);
	json_object_del(p, "id");
	/* one bad entry (a subject that does not resolve): nothing is stored */
	json_t *b = json_pack("{s:s, s:s, s:[o, o]}", "resourceType", "Bundle", "type", "transaction",
			      "entry", entry_post("urn:uuid:11111111-1111-4111-8111-111111111111",
						  json_deep_copy(p)),
			      entry_post(NULL, obs_for(obs, "Patient/0190aaaa-0000-7000-8000-000000000000")));
	assert_int_equal(post_bundle(f, &f->doc, b), 422);
	json_t *j = answer(f);
	assert_string_equal(json_string_value(json_object_get(j, "resourceType")), "OperationOutcome");
	json_decref(j);
	json_decref(b);
	assert_int_equal(type_total(f, "/fhir/Patient"), 0);
	assert_int_equal(type_total(f, "/fhir/Provenance"), 0);
	/* a denial inside aborts everything and is recorded */
	assert_int_equal(s->ops->event_scan(s, 0, count_cb, &before), 0);
	b = json_pack("{s:s, s:s, s:[o, o]}", "resourceType", "Bundle", "type", "transaction", "entry",
		      entry_post("urn:uuid:22222222-2222-4222-8222-222222222222", json_deep_copy(p)),
		      entry_post(NULL, obs_for(obs, "urn:uuid:22222222-2222-4222-8222-222222222222")));
	assert_int_equal(post_bundle(f, &f->clerk, b), 403);
	assert_int_equal(s->ops->event_scan(s, 0, count_cb, &after), 0);
	assert_int_equal(after, before + 1);
	assert_int_equal(type_total(f, "/fhir/Patient"), 0);
	json_decref(b);
	/* malware inside: refused, audited, nothing stored */
	size_t n;
	uint8_t *ev = eicar(&n);
	char *ev64 = b64(ev, n);
	json_t *bin = json_pack("{s:s, s:s, s:{s:s}, s:s}", "resourceType", "Binary", "contentType",
				"text/plain", "securityContext", "reference",
				"urn:uuid:33333333-3333-4333-8333-333333333333", "data", ev64);
	b = json_pack("{s:s, s:s, s:[o, o]}", "resourceType", "Bundle", "type", "transaction", "entry",
		      entry_post("urn:uuid:33333333-3333-4333-8333-333333333333", json_deep_copy(p)),
		      entry_post(NULL, bin));
	assert_int_equal(post_bundle(f, &f->doc, b), 422);
	refused_as_malware(f);
	assert_int_equal(malware_events(f), 1);
	assert_int_equal(type_total(f, "/fhir/Patient"), 0);
	json_decref(b);
	/* entries that name each other in a cycle; DELETE; too many entries */
	b = json_pack("{s:s, s:s, s:[o]}", "resourceType", "Bundle", "type", "transaction", "entry",
		      entry_post("urn:uuid:44444444-4444-4444-8444-444444444444",
				 obs_for(obs, "urn:uuid:44444444-4444-4444-8444-444444444444")));
	assert_int_equal(post_bundle(f, &f->doc, b), 400);
	json_array_append_new(json_object_get(b, "entry"),
			      json_pack("{s:{s:s, s:s}}", "request", "method", "DELETE", "url",
					"Patient/x"));
	assert_int_equal(post_bundle(f, &f->doc, b), 405);
	f->max_entries = 1;
	assert_int_equal(post_bundle(f, &f->doc, b), 413);
	f->max_entries = 1000;
	json_decref(b);
	assert_int_equal(type_total(f, "/fhir/Observation"), 0);
	json_decref(p);
	free(pat), free(obs), free(ev), free(ev64);
}

static void test_batch(void **state)
{
	struct fx *f = *state;
	char pid[64], url[128];
	char *pat = load("Patient-example.json"), *pbody = edit(pat, NULL, NULL);
	create(f, "Patient", pbody, pid);
	snprintf(url, sizeof(url), "Patient/%s", pid);
	json_t *p = json_loads(pbody, 0, NULL);
	json_t *b = json_pack("{s:s, s:s, s:[o, {s:{s:s, s:s}}, {s:{s:s, s:s}}, {s:{s:s, s:s}}, "
			      "{s:{s:s, s:s}}]}", "resourceType", "Bundle", "type", "batch", "entry",
			      entry_post(NULL, p), "request", "method", "GET", "url", url,
			      "request", "method", "GET", "url", "Patient/no-such-id",
			      "request", "method", "DELETE", "url", url,
			      "request", "method", "GET", "url", "Patient?_count=1");
	assert_int_equal(post_bundle(f, &f->doc, b), 200);
	json_t *j = answer(f);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "batch-response");
	assert_string_equal(entry_status(j, 0), "201 Created");
	assert_string_equal(entry_status(j, 1), "200 OK");
	assert_string_equal(entry_status(j, 2), "404 Not Found");
	assert_string_equal(entry_status(j, 3), "405 Method Not Allowed");
	assert_string_equal(entry_status(j, 4), "200 OK");
	json_t *e1 = json_array_get(json_object_get(j, "entry"), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e1, "resource"), "id")),
			    pid);
	json_t *e2 = json_array_get(json_object_get(j, "entry"), 2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
				    json_object_get(e2, "response"), "outcome"), "resourceType")),
			    "OperationOutcome");
	json_decref(j);
	json_decref(b);
	assert_int_equal(type_total(f, "/fhir/Patient"), 2);
	/* not a Bundle, or a Bundle of another type; a Bundle inside is not followed */
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir", NULL, pbody), 400);
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir", NULL,
			      "{\"resourceType\":\"Bundle\",\"type\":\"collection\"}"), 400);
	assert_int_equal(call(f, KURA_HTTP_POST, "/fhir", NULL,
			      "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{\"request\":"
			      "{\"method\":\"POST\",\"url\":\"\"},\"resource\":{\"resourceType\":"
			      "\"Bundle\",\"type\":\"batch\"}}]}"), 200);
	j = answer(f);
	assert_string_equal(entry_status(j, 0), "404 Not Found");
	json_decref(j);
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir", NULL, NULL), 405);
	free(pat), free(pbody);
}

/* ---- AuditEvent for auditors ---- */

struct ev_count {
	const char *actor, *action;
	int outcome;
	unsigned n;
};

static int count_ev(void *ctx, const struct kura_event_row *row)
{
	struct ev_count *c = ctx;
	if (strcmp(row->ev.actor, c->actor) == 0 && strcmp(row->ev.action, c->action) == 0 &&
	    row->ev.outcome == c->outcome)
		c->n++;
	return 0;
}

static unsigned events_of(struct fx *f, const char *actor, const char *action, int outcome)
{
	struct ev_count c = {actor, action, outcome, 0};
	struct kura_store *s = kura_vault_store(f->v);
	assert_int_equal(s->ops->event_scan(s, 0, count_ev, &c), 0);
	return c.n;
}

static int audit_total(struct fx *f, const char *query)
{
	assert_int_equal(call_h(f, &f->auditor, KURA_HTTP_GET, "/fhir/AuditEvent", query, NULL,
				NULL, 0), 200);
	json_t *j = answer(f);
	int n = (int)json_integer_value(json_object_get(j, "total"));
	json_t *e0 = json_object_get(json_array_get(json_object_get(j, "entry"), 0), "resource");
	if (n)
		assert_string_equal(json_string_value(json_object_get(e0, "resourceType")),
				    "AuditEvent");
	json_decref(j);
	return n;
}

static void test_audit_events(void **state)
{
	struct fx *f = *state;
	char pid[64], q[160], id[32], path[96];
	char *pat = load("Patient-example.json"), *pbody = edit(pat, NULL, NULL);
	create(f, "Patient", pbody, pid);
	/* not an auditor: 403, and the attempt is recorded */
	unsigned denied = events_of(f, "dr.sato", "audit-search", KURA_OUTCOME_MINOR);
	assert_int_equal(call(f, KURA_HTTP_GET, "/fhir/AuditEvent", "agent=dr.sato", NULL), 403);
	assert_int_equal(events_of(f, "dr.sato", "audit-search", KURA_OUTCOME_MINOR), denied + 1);
	/* an auditor searches; each reading is recorded */
	unsigned reads = events_of(f, "audit.kato", "audit-search", KURA_OUTCOME_SUCCESS);
	assert_true(audit_total(f, "agent=dr.sato") >= 3);
	assert_int_equal(events_of(f, "audit.kato", "audit-search", KURA_OUTCOME_SUCCESS), reads + 1);
	snprintf(q, sizeof(q), "patient=Patient/%s", pid);
	assert_true(audit_total(f, q) >= 2); /* the write and its Provenance */
	assert_true(audit_total(f, "date=ge2020-01-01&agent=dr.sato") >= 3);
	assert_int_equal(audit_total(f, "date=lt2000-01-01"), 0);
	/* paging */
	assert_int_equal(call_h(f, &f->auditor, KURA_HTTP_GET, "/fhir/AuditEvent", "_count=1",
				NULL, NULL, 0), 200);
	json_t *j = answer(f);
	json_t *e0 = json_array_get(json_object_get(j, "entry"), 0);
	assert_int_equal(json_array_size(json_object_get(j, "entry")), 1);
	snprintf(id, sizeof(id), "%s",
		 json_string_value(json_object_get(json_object_get(e0, "resource"), "id")));
	json_decref(j);
	/* read one by its leaf index */
	snprintf(path, sizeof(path), "/fhir/AuditEvent/%s", id);
	assert_int_equal(call_h(f, &f->auditor, KURA_HTTP_GET, path, NULL, NULL, NULL, 0), 200);
	j = answer(f);
	assert_string_equal(json_string_value(json_object_get(j, "resourceType")), "AuditEvent");
	assert_string_equal(json_string_value(json_object_get(j, "id")), id);
	json_decref(j);
	snprintf(path, sizeof(path), "/fhir/AuditEvent/kura-%s", id);
	assert_int_equal(call_h(f, &f->auditor, KURA_HTTP_GET, path, NULL, NULL, NULL, 0), 200);
	assert_int_equal(call_h(f, &f->auditor, KURA_HTTP_GET, "/fhir/AuditEvent/99999999", NULL,
				NULL, NULL, 0), 404);
	assert_int_equal(call_h(f, &f->auditor, KURA_HTTP_GET, "/fhir/AuditEvent", "family=x",
				NULL, NULL, 0), 400);
	assert_int_equal(call_h(f, &f->auditor, KURA_HTTP_POST, "/fhir/AuditEvent", NULL, "{}",
				json_ct, 1), 405);
	/* an auditor reads the trail, not the records */
	snprintf(path, sizeof(path), "/fhir/Patient/%s", pid);
	assert_int_equal(call_h(f, &f->auditor, KURA_HTTP_GET, path, NULL, NULL, NULL, 0), 403);
	free(pat), free(pbody);
}

static void test_dates(void **state)
{
	int64_t lo, hi;
	(void)state;
	assert_int_equal(kura_fhir_date_range("1970-01-01", &lo, &hi), 0);
	assert_true(lo == 0 && hi == INT64_C(86400000000));
	assert_int_equal(kura_fhir_date_range("1970-01-01T09:00:00+09:00", &lo, &hi), 0);
	assert_true(lo == 0 && hi == 1000000);
	assert_int_equal(kura_fhir_date_range("2016-02", &lo, &hi), 0);
	assert_true(hi - lo == INT64_C(29) * 86400000000);
	assert_int_equal(kura_fhir_date_range("2016-13", &lo, &hi), KURA_EINVAL);
	assert_int_equal(kura_fhir_date_range("x", &lo, &hi), KURA_EINVAL);
	assert_int_equal(kura_fhir_date_range("2016-01-01T10", &lo, &hi), KURA_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates),
		cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_patient_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_japanese_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_observation_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retracted_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denied_audited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_malware, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_events, setup, teardown),
	};
	if (kura_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
