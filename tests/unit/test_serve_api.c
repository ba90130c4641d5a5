/*
 * test_serve_api.c - authentication over HTTP and the /api endpoints
 * (serve.h: kura_serve_authenticate, kura_api_*), without a network:
 * requests are built by hand against a real vault with real accounts, and
 * every decision is checked against the audit events it left.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "http_call.h"

#include "auth/totp.h"
#include "crypto/crypto.h"
#include "ledger/proof.h"
#include "serve/serve.h"
#include "util/time.h"

#define PASS "correct horse battery staple"
#define PW1 "Init-Pw-x7#q2Lm"
#define PW2 "Zq7#vN2$kLp9@wR"
#define MACHINE_FP "aa00000000000000000000000000000000000000000000000000000000000001"
#define PERSON_FP "bb00000000000000000000000000000000000000000000000000000000000002"
#define STRANGE_FP "cc00000000000000000000000000000000000000000000000000000000000003"

struct fx {
	char dir[64];
	struct kura_vault *v;
	struct kura_serve_limits lim;
	struct kura_serve_thread th;
};

/* One request and its answer. */
static void add(struct fx *f, const char *id, const char *role, const char *deps, int change)
{
	struct kura_txn *t;
	struct kura_account_spec s = {id, "", "", role, deps, 0};
	int reason = -1;
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_account_add(t, &s, PW1, strlen(PW1)), 0);
	if (change)
		assert_int_equal(kura_account_set_password(t, id, PW2, strlen(PW2), 1, &reason), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
}

static void add_cert(struct fx *f, const char *id, const char *fp)
{
	struct kura_txn *t;
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_account_cert_add(t, id, fp, "CN=test"), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kura_kdf_params kdf = {1, 8 * 1024};
	struct kura_sth sth;
	struct kura_txn *t;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kura-sapi-XXXXXX");
	if (!mkdtemp(f->dir) || kura_vault_init(f->dir, PASS, strlen(PASS), &kdf, &sth) ||
	    kura_vault_open(f->dir, PASS, strlen(PASS), 0, &f->v) || kura_txn_begin(f->v, &t))
		return -1;
	if (kura_setting_set(t, "password.argon2_ops", "1") ||
	    kura_setting_set(t, "password.argon2_mem_mib", "8") || kura_txn_commit(t, NULL))
		return -1;
	f->lim.max_body_bytes = 16u << 20;
	f->th.v = f->v;
	f->th.limits = &f->lim;
	add(f, "dr.sato", "doctor", "internal", 1);
	add(f, "ns.ito", "nurse", "internal", 1);
	add(f, "aud.kato", "auditor", "", 1);
	add(f, "dr.new", "doctor", "internal", 0);
	add(f, "lab.analyzer", "system", "", 1);
	add_cert(f, "lab.analyzer", MACHINE_FP);
	add(f, "dr.ic", "doctor", "internal", 1);
	add_cert(f, "dr.ic", PERSON_FP); /* an IC card: now a second factor */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	kura_serve_auth_cache_free(&f->th);
	assert_null(f->th.auth_cache);
	kura_vault_close(f->v);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct call *req(struct fx *f, int method, const char *path, const char *query)
{
	struct call *c = call_new(&f->th, "192.0.2.7", method, path, query);
	return c;
}

static const char *jstr(const struct call *c, const char *k)
{
	return json_string_value(json_object_get(c->j, k));
}

struct count_ctx {
	const char *action;
	int outcome;
	unsigned n;
};

static int count_cb(void *ctx, const struct kura_event_row *row)
{
	struct count_ctx *c = ctx;
	if (strcmp(row->ev.action, c->action) == 0 && (c->outcome < 0 || row->ev.outcome == c->outcome))
		c->n++;
	return 0;
}

static unsigned events(struct fx *f, const char *action, int outcome)
{
	struct count_ctx c = {action, outcome, 0};
	struct kura_store *s = kura_vault_store(f->v);
	assert_int_equal(s->ops->event_scan(s, 0, count_cb, &c), 0);
	return c.n;
}

/* Log in; the session token from the cookie and the CSRF token. */
static int login(struct fx *f, const char *user, const char *pw, const char *otp,
		 char tok[KURA_TOKEN_HEX + 1], char csrf[KURA_TOKEN_HEX + 1])
{
	char b[512];
	struct call *c = req(f, KURA_HTTP_POST, "/api/login", NULL);
	if (otp)
		snprintf(b, sizeof(b), "{\"user\":\"%s\",\"password\":\"%s\",\"otp\":\"%s\"}", user, pw, otp);
	else
		snprintf(b, sizeof(b), "{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
	body(c, b);
	int st = run(c, kura_api_login);
	if (st == 200) {
		const char *ck = resp_hdr(c, "Set-Cookie");
		assert_non_null(ck);
		assert_int_equal(strlen(ck), strlen("kura_session=; Path=/; HttpOnly; Secure; SameSite=Strict") + 64);
		memcpy(tok, ck + 13, 64);
		tok[64] = 0;
		assert_string_equal(ck + 13 + 64, "; Path=/; HttpOnly; Secure; SameSite=Strict");
		assert_non_null(jstr(c, "csrf_token"));
		snprintf(csrf, KURA_TOKEN_HEX + 1, "%s", jstr(c, "csrf_token"));
		assert_null(json_object_get(c->j, "token")); /* not asked for */
	}
	done(c);
	return st;
}

/* kura_serve_authenticate on a request with one credential header. */
static int auth(struct fx *f, int method, const char *path, const char *hname, const char *hval,
		const char *csrf, const char *fp, struct kura_http_auth *au, int *ret_status)
{
	struct call *c = req(f, method, path, NULL);
	if (hname)
		hdr(c, hname, hval);
	if (csrf)
		hdr(c, "X-CSRF-Token", csrf);
	if (fp)
		snprintf(c->peer.cert_fp, sizeof(c->peer.cert_fp), "%s", fp);
	hdr(c, "User-Agent", "unit\x01test");
	int r = kura_serve_authenticate(&c->req, 0, au, &c->resp);
	*ret_status = c->resp.status;
	if (r == KURA_EAUTH || r == KURA_EEXPIRED)
		assert_string_equal(resp_hdr(c, "WWW-Authenticate"), "Bearer realm=\"kura\"");
	done(c);
	return r;
}

static void test_login(void **state)
{
	struct fx *f = *state;
	char tok[KURA_TOKEN_HEX + 1], csrf[KURA_TOKEN_HEX + 1];
	assert_int_equal(login(f, "dr.sato", PW2, NULL, tok, csrf), 200);
	struct call *c = req(f, KURA_HTTP_POST, "/api/login", NULL);
	body(c, "{\"user\":\"dr.sato\",\"password\":\"" PW2 "\",\"bearer\":true}");
	assert_int_equal(run(c, kura_api_login), 200);
	assert_string_equal(jstr(c, "user"), "dr.sato");
	assert_string_equal(jstr(c, "role"), "doctor");
	assert_string_equal(json_string_value(json_array_get(json_object_get(c->j, "departments"), 0)),
			    "internal");
	assert_true(json_is_false(json_object_get(c->j, "must_change")));
	assert_true(json_is_false(json_object_get(c->j, "must_enroll")));
	assert_non_null(jstr(c, "expires"));
	assert_int_equal(json_integer_value(json_object_get(c->j, "idle_minutes")), 15); /* AC-01 */
	assert_int_equal(strlen(jstr(c, "token")), 64); /* asked for */
	assert_string_equal(resp_hdr(c, "Cache-Control"), "no-store");
	assert_non_null(strstr(resp_hdr(c, "Set-Cookie"), jstr(c, "token")));
	done(c);
	/* wrong content type, bad JSON, unknown field, wrong method */
	c = req(f, KURA_HTTP_POST, "/api/login", NULL);
	hdr(c, "Content-Type", "text/plain");
	assert_int_equal(run(c, kura_api_login), 415);
	done(c);
	c = req(f, KURA_HTTP_POST, "/api/login", NULL);
	body(c, "{\"user\":");
	assert_int_equal(run(c, kura_api_login), 400);
	done(c);
	c = req(f, KURA_HTTP_POST, "/api/login", NULL);
	body(c, "{\"user\":\"dr.sato\",\"password\":\"x\",\"admin\":true}");
	assert_int_equal(run(c, kura_api_login), 400);
	done(c);
	c = req(f, KURA_HTTP_GET, "/api/login", NULL);
	assert_int_equal(run(c, kura_api_login), 405);
	assert_string_equal(resp_hdr(c, "Allow"), "POST");
	done(c);
	assert_int_equal(events(f, "login", -1), 2);
}

static void test_login_failures(void **state)
{
	struct fx *f = *state;
	char tok[65], csrf[65], otp[16];
	uint8_t secret[KURA_TOTP_SECRET_LEN];
	uint32_t code;
	struct kura_txn *t;
	assert_int_equal(login(f, "dr.sato", "wrong-password", NULL, tok, csrf), 401);
	assert_int_equal(login(f, "nobody", "wrong-password", NULL, tok, csrf), 401);
	assert_int_equal(events(f, "login-failed", KURA_OUTCOME_MINOR), 2);
	/* a privileged account with a TOTP: the password alone is refused */
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_account_totp_enroll(t, "aud.kato", secret, sizeof(secret)), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
	assert_int_equal(login(f, "aud.kato", PW2, NULL, tok, csrf), 401);
	int st = 0;
	for (int i = 0; i < 2 && st != 200; i++) { /* the step may turn between calls */
		kura_totp_at(secret, sizeof(secret), kura_time_now_us() / 1000000, 30, 6, &code);
		snprintf(otp, sizeof(otp), "%06u", code);
		st = login(f, "aud.kato", PW2, otp, tok, csrf);
	}
	assert_int_equal(st, 200);
	/* lockout after 5 failures: then even the right password is refused */
	for (int i = 0; i < 4; i++)
		assert_int_equal(login(f, "dr.sato", "wrong-again", NULL, tok, csrf), 401);
	assert_int_equal(events(f, "lockout", -1), 1);
	struct call *c = req(f, KURA_HTTP_POST, "/api/login", NULL);
	body(c, "{\"user\":\"dr.sato\",\"password\":\"" PW2 "\"}");
	assert_int_equal(run(c, kura_api_login), 423);
	assert_string_equal(jstr(c, "reason"), "locked");
	assert_null(resp_hdr(c, "Set-Cookie"));
	done(c);
}

static void test_cookie_csrf_bearer(void **state)
{
	struct fx *f = *state;
	char tok[65], csrf[65], cookie[128], bearer[128], bad[65];
	struct kura_http_auth au;
	int st;
	assert_int_equal(login(f, "dr.sato", PW2, NULL, tok, csrf), 200);
	snprintf(cookie, sizeof(cookie), "theme=dark; kura_session=%s; x=1", tok);
	snprintf(bearer, sizeof(bearer), "Bearer %s", tok);
	/* GET with the cookie: no CSRF token needed */
	assert_int_equal(auth(f, KURA_HTTP_GET, "/fhir/Patient", "Cookie", cookie, NULL, NULL, &au, &st), 0);
	assert_int_equal(au.via, KURA_VIA_COOKIE);
	assert_string_equal(au.id.actor.user, "dr.sato");
	assert_string_equal(au.id.actor.client_ip, "192.0.2.7");
	assert_string_equal(au.id.actor.terminal, "https unit?test"); /* cleaned */
	assert_ptr_equal(au.a.id, &au.id);
	assert_ptr_equal(au.a.v, f->v);
	/* POST with the cookie: the CSRF token is required and must match */
	unsigned failed = events(f, "login-failed", -1);
	assert_int_equal(auth(f, KURA_HTTP_POST, "/fhir/Patient", "Cookie", cookie, NULL, NULL, &au, &st),
			 KURA_EDENIED);
	assert_int_equal(st, 403);
	memcpy(bad, csrf, sizeof(bad));
	bad[0] = bad[0] == '0' ? '1' : '0';
	assert_int_equal(auth(f, KURA_HTTP_PUT, "/fhir/Patient/1", "Cookie", cookie, bad, NULL, &au, &st),
			 KURA_EDENIED);
	assert_int_equal(events(f, "login-failed", -1), failed + 2);
	assert_int_equal(auth(f, KURA_HTTP_POST, "/fhir/Patient", "Cookie", cookie, csrf, NULL, &au, &st), 0);
	/* a bearer token: no CSRF token */
	assert_int_equal(auth(f, KURA_HTTP_POST, "/fhir/Patient", "Authorization", bearer, NULL, NULL, &au, &st), 0);
	assert_int_equal(au.via, KURA_VIA_BEARER);
	assert_int_equal(auth(f, KURA_HTTP_GET, "/fhir/Patient", "Authorization", "Basic eDp5", NULL, NULL, &au, &st),
			 KURA_EAUTH);
	assert_int_equal(st, 401);
	/* no credential at all: 401, nothing to audit */
	failed = events(f, "login-failed", -1);
	assert_int_equal(auth(f, KURA_HTTP_GET, "/api/me", NULL, NULL, NULL, NULL, &au, &st), KURA_EAUTH);
	assert_int_equal(events(f, "login-failed", -1), failed);
	/* /api/me: the identity; the CSRF token for the cookie only */
	struct call *c = req(f, KURA_HTTP_GET, "/api/me", NULL);
	hdr(c, "Cookie", cookie);
	assert_int_equal(run(c, kura_api_me), 200);
	assert_string_equal(jstr(c, "user"), "dr.sato");
	assert_string_equal(jstr(c, "via"), "cookie");
	assert_string_equal(jstr(c, "csrf_token"), csrf);
	assert_string_equal(json_string_value(json_array_get(json_object_get(c->j, "factors"), 0)), "password");
	done(c);
	c = req(f, KURA_HTTP_GET, "/api/me", NULL);
	hdr(c, "Authorization", bearer);
	assert_int_equal(run(c, kura_api_me), 200);
	assert_null(json_object_get(c->j, "csrf_token"));
	done(c);
	/* logout: CSRF needed, then the cookie is cleared and the session dead */
	c = req(f, KURA_HTTP_POST, "/api/logout", NULL);
	hdr(c, "Cookie", cookie);
	assert_int_equal(run(c, kura_api_logout), 403);
	done(c);
	c = req(f, KURA_HTTP_POST, "/api/logout", NULL);
	hdr(c, "Cookie", cookie);
	hdr(c, "X-CSRF-Token", csrf);
	assert_int_equal(run(c, kura_api_logout), 200);
	assert_string_equal(resp_hdr(c, "Set-Cookie"),
			    "kura_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
	done(c);
	assert_int_equal(events(f, "logout", -1), 1);
	assert_int_equal(auth(f, KURA_HTTP_GET, "/api/me", "Cookie", cookie, NULL, NULL, &au, &st), KURA_EEXPIRED);
	assert_int_equal(st, 401);
	assert_int_equal(auth(f, KURA_HTTP_GET, "/api/me", "Authorization", bearer, NULL, NULL, &au, &st),
			 KURA_EEXPIRED);
	assert_true(events(f, "session-expired", -1) >= 2);
	/* an unknown token: 401 and audited */
	failed = events(f, "login-failed", -1);
	memset(bad, 'f', 64);
	bad[64] = 0;
	snprintf(bearer, sizeof(bearer), "Bearer %s", bad);
	assert_int_equal(auth(f, KURA_HTTP_GET, "/api/me", "Authorization", bearer, NULL, NULL, &au, &st),
			 KURA_EAUTH);
	assert_int_equal(events(f, "login-failed", -1), failed + 1);
}

static void test_fhir_outcome(void **state)
{
	struct fx *f = *state;
	struct kura_http_auth au;
	struct call *c = req(f, KURA_HTTP_GET, "/fhir/Patient", NULL);
	assert_int_equal(kura_serve_authenticate(&c->req, 1, &au, &c->resp), KURA_EAUTH);
	assert_int_equal(c->resp.status, 401);
	assert_string_equal(c->resp.content_type, "application/fhir+json");
	json_t *j = json_loadb((char *)c->resp.body.data, c->resp.body.len, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "resourceType")), "OperationOutcome");
	json_t *issue = json_array_get(json_object_get(j, "issue"), 0);
	assert_string_equal(json_string_value(json_object_get(issue, "code")), "login");
	assert_string_equal(json_string_value(json_object_get(issue, "severity")), "error");
	json_decref(j);
	done(c);
}

static void test_certificates(void **state)
{
	struct fx *f = *state;
	struct kura_http_auth au;
	int st;
	/* a person's certificate alone is not enough (AU-03), and audited */
	unsigned failed = events(f, "login-failed", -1);
	assert_int_equal(auth(f, KURA_HTTP_GET, "/fhir/Patient", NULL, NULL, NULL, PERSON_FP, &au, &st),
			 KURA_EAUTH);
	assert_int_equal(st, 401);
	assert_int_equal(auth(f, KURA_HTTP_GET, "/fhir/Patient", NULL, NULL, NULL, STRANGE_FP, &au, &st),
			 KURA_EAUTH);
	assert_int_equal(events(f, "login-failed", -1), failed + 2);
	assert_int_equal(events(f, "lockout", -1), 0); /* no failures counted */
	/* a machine's certificate: one login, then its cached session */
	unsigned logins = events(f, "login", -1);
	assert_int_equal(auth(f, KURA_HTTP_POST, "/fhir/Observation", NULL, NULL, NULL, MACHINE_FP, &au, &st), 0);
	assert_int_equal(au.via, KURA_VIA_CERT);
	assert_string_equal(au.id.actor.user, "lab.analyzer");
	assert_string_equal(au.id.actor.cert_fp, MACHINE_FP);
	assert_int_equal(events(f, "login", -1), logins + 1);
	assert_non_null(f->th.auth_cache);
	assert_int_equal(auth(f, KURA_HTTP_GET, "/fhir/Observation", NULL, NULL, NULL, MACHINE_FP, &au, &st), 0);
	assert_string_equal(au.id.actor.user, "lab.analyzer");
	assert_int_equal(events(f, "login", -1), logins + 1); /* no new login */
	/* its session ended elsewhere: a new login, not a failure, once the
	 * loops' cached copies are read again (at once here; within
	 * KURA_SERVE_SESSION_RECHECK_US for another process) */
	assert_int_equal(kura_auth_logout(f->v, &au.id), 0);
	kura_serve_sessions_changed();
	assert_int_equal(auth(f, KURA_HTTP_GET, "/fhir/Observation", NULL, NULL, NULL, MACHINE_FP, &au, &st), 0);
	assert_int_equal(events(f, "login", -1), logins + 2);
	/* a person's certificate counts with the password at /api/login */
	char tok[65], csrf[65];
	assert_int_equal(login(f, "dr.ic", PW2, NULL, tok, csrf), 401); /* no card */
	struct call *c = req(f, KURA_HTTP_POST, "/api/login", NULL);
	snprintf(c->peer.cert_fp, sizeof(c->peer.cert_fp), "%s", PERSON_FP);
	body(c, "{\"user\":\"dr.ic\",\"password\":\"" PW2 "\"}");
	assert_int_equal(run(c, kura_api_login), 200);
	json_t *fs = json_object_get(c->j, "factors");
	assert_int_equal(json_array_size(fs), 2);
	assert_string_equal(json_string_value(json_array_get(fs, 1)), "certificate");
	done(c);
}

static void test_must_change(void **state)
{
	struct fx *f = *state;
	char tok[65], csrf[65], bearer[128];
	struct kura_http_auth au;
	int st;
	struct call *c = req(f, KURA_HTTP_POST, "/api/login", NULL);
	body(c, "{\"user\":\"dr.new\",\"password\":\"" PW1 "\",\"bearer\":true}");
	assert_int_equal(run(c, kura_api_login), 200);
	assert_true(json_is_true(json_object_get(c->j, "must_change")));
	snprintf(tok, sizeof(tok), "%s", jstr(c, "token"));
	snprintf(csrf, sizeof(csrf), "%s", jstr(c, "csrf_token"));
	done(c);
	snprintf(bearer, sizeof(bearer), "Bearer %s", tok);
	assert_int_equal(auth(f, KURA_HTTP_GET, "/api/me", "Authorization", bearer, NULL, NULL, &au, &st), 0);
	assert_int_equal(auth(f, KURA_HTTP_GET, "/fhir/Patient", "Authorization", bearer, NULL, NULL, &au, &st),
			 KURA_EDENIED);
	assert_int_equal(st, 403);
	c = req(f, KURA_HTTP_GET, "/api/ledger/sth", NULL);
	hdr(c, "Authorization", bearer);
	assert_int_equal(run(c, kura_api_ledger), 403);
	assert_non_null(strstr(jstr(c, "error"), "password must be changed"));
	done(c);
	c = req(f, KURA_HTTP_POST, "/api/logout", NULL);
	hdr(c, "Authorization", bearer);
	assert_int_equal(run(c, kura_api_logout), 200);
	done(c);
}

/* A record written by dr.sato, as the FHIR handlers would. */
static void put_record(struct fx *f, const char *bearer, char *ret_rec)
{
	struct kura_http_auth au;
	struct kura_written out;
	struct kura_write w = {"dr.sato", NULL, "", 1, NULL};
	const char *doc = "{\"resourceType\":\"Observation\",\"status\":\"final\"}";
	int st;
	assert_int_equal(auth(f, KURA_HTTP_POST, "/fhir/Observation", "Authorization", bearer, NULL, NULL, &au, &st), 0);
	assert_int_equal(kura_access_put(&au.a, "P1", "Observation", "application/fhir+json",
					 (const uint8_t *)doc, strlen(doc), &w, &out), 0);
	memcpy(ret_rec, out.record_id, sizeof(out.record_id));
}

static json_t *ledger_get(struct fx *f, const char *bearer, const char *path, const char *query,
			  int want, uint8_t **ret_doc, size_t *ret_len)
{
	struct call *c = req(f, KURA_HTTP_GET, path, query);
	hdr(c, "Authorization", bearer);
	assert_int_equal(run(c, kura_api_ledger), want);
	json_t *j = json_incref(c->j);
	if (ret_doc) {
		*ret_doc = malloc(c->resp.body.len);
		memcpy(*ret_doc, c->resp.body.data, c->resp.body.len);
		*ret_len = c->resp.body.len;
	}
	done(c);
	return j;
}

static void verify_doc(struct fx *f, uint8_t *doc, size_t len, int type)
{
	uint8_t pub[KURA_PUBKEY_LEN];
	struct kura_proof_summary sum;
	struct kura_buf msg;
	kura_vault_pubkey(f->v, pub);
	kura_buf_init(&msg, 4096);
	assert_int_equal(kura_proof_verify(doc, len, pub, &sum, &msg), 0);
	assert_int_equal(sum.type, type);
	kura_buf_release(&msg);
	free(doc);
}

static void test_ledger(void **state)
{
	struct fx *f = *state;
	char tok[65], csrf[65], bearer[128], nurse[128], rec[KURA_RECORD_ID_LEN + 1], q[256];
	uint8_t *doc;
	size_t len;
	struct call *c = req(f, KURA_HTTP_GET, "/api/ledger/sth", NULL);
	assert_int_equal(run(c, kura_api_ledger), 401); /* authenticated only */
	done(c);
	assert_int_equal(login(f, "dr.sato", PW2, NULL, tok, csrf), 200);
	snprintf(bearer, sizeof(bearer), "Bearer %s", tok);
	assert_int_equal(login(f, "ns.ito", PW2, NULL, tok, csrf), 200);
	snprintf(nurse, sizeof(nurse), "Bearer %s", tok);
	put_record(f, bearer, rec);
	json_t *sth = ledger_get(f, bearer, "/api/ledger/sth", NULL, 200, NULL, NULL);
	assert_true(json_integer_value(json_object_get(sth, "tree_size")) > 1);
	json_decref(sth);
	json_decref(ledger_get(f, bearer, "/api/ledger/pubkey", NULL, 200, NULL, NULL));
	/* an inclusion proof is an audited export, verified with the key */
	unsigned exports = events(f, "export", KURA_OUTCOME_SUCCESS);
	snprintf(q, sizeof(q), "record=%s&version=1", rec);
	json_decref(ledger_get(f, bearer, "/api/ledger/proof", q, 200, &doc, &len));
	verify_doc(f, doc, len, KURA_PROOF_INCLUSION);
	snprintf(q, sizeof(q), "record=%s", rec); /* the latest version */
	json_decref(ledger_get(f, bearer, "/api/ledger/proof", q, 200, &doc, &len));
	verify_doc(f, doc, len, KURA_PROOF_INCLUSION);
	assert_int_equal(events(f, "export", KURA_OUTCOME_SUCCESS), exports + 2);
	/* a nurse may not export: denied and audited */
	unsigned denied = events(f, "export", KURA_OUTCOME_MINOR);
	json_t *j = ledger_get(f, nurse, "/api/ledger/proof", q, 403, NULL, NULL);
	assert_non_null(json_string_value(json_object_get(j, "reason")));
	json_decref(j);
	assert_int_equal(events(f, "export", KURA_OUTCOME_MINOR), denied + 1);
	/* a consistency proof: hashes only, any account, recorded */
	json_decref(ledger_get(f, nurse, "/api/ledger/consistency", "old=1", 200, &doc, &len));
	verify_doc(f, doc, len, KURA_PROOF_CONSISTENCY);
	assert_int_equal(events(f, "export", KURA_OUTCOME_SUCCESS), exports + 3);
	/* bad or unknown arguments */
	json_decref(ledger_get(f, bearer, "/api/ledger/proof", "record=nope", 404, NULL, NULL));
	json_decref(ledger_get(f, bearer, "/api/ledger/proof", "version=1", 400, NULL, NULL));
	json_decref(ledger_get(f, bearer, "/api/ledger/proof", "record=a&record=b", 400, NULL, NULL));
	json_decref(ledger_get(f, bearer, "/api/ledger/proof", "record=%zz", 400, NULL, NULL));
	json_decref(ledger_get(f, bearer, "/api/ledger/consistency", "old=0", 400, NULL, NULL));
	json_decref(ledger_get(f, bearer, "/api/ledger/consistency", "old=99999", 400, NULL, NULL));
	json_decref(ledger_get(f, bearer, "/api/ledger/consistency", "old=1&new=99999", 404, NULL, NULL));
	json_decref(ledger_get(f, bearer, "/api/ledger/nothing", NULL, 404, NULL, NULL));
	c = req(f, KURA_HTTP_POST, "/api/ledger/sth", NULL);
	assert_int_equal(run(c, kura_api_ledger), 405);
	done(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_csrf_bearer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fhir_outcome, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_must_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger, setup, teardown),
	};
	kura_crypto_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
