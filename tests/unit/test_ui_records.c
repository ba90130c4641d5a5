/*
 * test_ui_records.c - the web UI's API, sections 1 and 2 of
 * docs/formats/ui-api.md (serve.h kura_api_password, kura_api_factors,
 * kura_api_patients, kura_api_records, kura_api_breakglass), without a
 * network: requests are built by hand (as in test_serve_api.c) against a
 * real vault with real accounts, and each access is checked against the
 * audit events it left (AU-11, AU-12, READ-01, READ-02, BG-01..03).
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
#include "serve/serve.h"
#include "util/fs.h"
#include "util/time.h"

#define PASS "correct horse battery staple"
#define PW1 "Init-Pw-x7#q2Lm"
#define PW2 "Zq7#vN2$kLp9@wR"
#define PW3 "Rt5!mQ8&zXc3^vB"

struct fx {
	char dir[64];
	struct kura_vault *v;
	struct kura_serve_limits lim;
	struct kura_serve_thread th;
	char sato[65], geka[65], clerk[65]; /* bearer tokens */
};

/* ---- the fixture ---- */

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

static struct call *req(struct fx *f, int method, const char *path, const char *query,
			const char *tok)
{
	struct call *c = call_new(&f->th, "192.0.2.8", method, path, query);
	if (tok) {
		hdr_own(c, "Authorization", "Bearer ", tok);
	}
	return c;
}

/* One request, answered; the caller calls done(). */
static struct call *api(struct fx *f, int method, const char *path, const char *query,
			const char *tok, const char *json, kura_http_handler h, int want)
{
	struct call *c = req(f, method, path, query, tok);
	if (json)
		body(c, json);
	int st = run(c, h);
	if (st != want)
		fprintf(stderr, "%s %s?%s: %d %.*s\n", method == KURA_HTTP_POST ? "POST" : "GET", path,
			query ? query : "", st, (int)c->resp.body.len, (char *)c->resp.body.data);
	assert_int_equal(st, want);
	return c;
}

static void api_done(struct fx *f, int method, const char *path, const char *query,
		     const char *tok, const char *json, kura_http_handler h, int want)
{
	done(api(f, method, path, query, tok, json, h, want));
}

static const char *jstr(const json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k));
}

struct count_ctx {
	const char *action;
	int outcome, severity;
	unsigned n;
};

static int count_cb(void *ctx, const struct kura_event_row *row)
{
	struct count_ctx *c = ctx;
	if (strcmp(row->ev.action, c->action) == 0 && (c->outcome < 0 || row->ev.outcome == c->outcome) &&
	    (c->severity < 0 || row->ev.severity == c->severity))
		c->n++;
	return 0;
}

/* Events of action (outcome, severity: -1 for any). */
static unsigned events(struct fx *f, const char *action, int outcome, int severity)
{
	struct count_ctx c = {action, outcome, severity, 0};
	struct kura_store *s = kura_vault_store(f->v);
	assert_int_equal(s->ops->event_scan(s, 0, count_cb, &c), 0);
	return c.n;
}

/* Log in over /api/login; a bearer token, or the cookie's token and CSRF. */
static int login(struct fx *f, const char *user, const char *pw, const char *otp, char tok[65],
		 char csrf[65])
{
	char b[512];
	struct call *c = req(f, KURA_HTTP_POST, "/api/login", NULL, NULL);
	snprintf(b, sizeof(b), "{\"user\":\"%s\",\"password\":\"%s\",\"bearer\":true%s%s%s}", user,
		 pw, otp ? ",\"otp\":\"" : "", otp ? otp : "", otp ? "\"" : "");
	body(c, b);
	int st = run(c, kura_api_login);
	if (st == 200) {
		snprintf(tok, 65, "%s", jstr(c->j, "token"));
		if (csrf)
			snprintf(csrf, 65, "%s", jstr(c->j, "csrf_token"));
	}
	done(c);
	return st;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kura_kdf_params kdf = {1, 8 * 1024};
	struct kura_sth sth;
	struct kura_txn *t;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kura-uirec-XXXXXX");
	if (!mkdtemp(f->dir) || kura_vault_init(f->dir, PASS, strlen(PASS), &kdf, &sth) ||
	    kura_vault_open(f->dir, PASS, strlen(PASS), 0, &f->v) || kura_txn_begin(f->v, &t))
		return -1;
	if (kura_setting_set(t, "password.argon2_ops", "1") ||
	    kura_setting_set(t, "password.argon2_mem_mib", "8") || kura_txn_commit(t, NULL))
		return -1;
	f->lim.max_body_bytes = 16u << 20;
	f->th.v = f->v;
	f->th.limits = &f->lim;
	f->th.scan_off = 1; /* no ClamAV database in unit tests */
	add(f, "dr.sato", "doctor", "internal", 1);
	add(f, "dr.geka", "doctor", "surgery", 1);
	add(f, "cl.mori", "clerk", "", 1);
	add(f, "aud.kato", "auditor", "", 1);
	add(f, "dr.new", "doctor", "internal", 0);
	if (login(f, "dr.sato", PW2, NULL, f->sato, NULL) != 200 ||
	    login(f, "dr.geka", PW2, NULL, f->geka, NULL) != 200 ||
	    login(f, "cl.mori", PW2, NULL, f->clerk, NULL) != 200)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	kura_serve_auth_cache_free(&f->th);
	kura_vault_close(f->v);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* ---- §1: the account's own security (AU-07..12) ---- */

static void test_password(void **state)
{
	struct fx *f = *state;
	char a[65], b[65], csrf[65];
	/* dr.new must change the initial password (AU-11); two sessions */
	assert_int_equal(login(f, "dr.new", PW1, NULL, a, csrf), 200);
	assert_int_equal(login(f, "dr.new", PW1, NULL, b, NULL), 200);
	unsigned changes = events(f, "password-change", KURA_OUTCOME_SUCCESS, -1);
	unsigned refusals = events(f, "password-change", KURA_OUTCOME_MINOR, -1);
	unsigned failed = events(f, "login-failed", KURA_OUTCOME_MINOR, -1);
	/* the policy refuses a short one: 400 with the rule */
	struct call *c = api(f, KURA_HTTP_POST, "/api/password", NULL, a,
			     "{\"old\":\"" PW1 "\",\"new\":\"short\"}", kura_api_password, 400);
	assert_string_equal(json_string_value(json_array_get(json_object_get(c->j, "policy"), 0)),
			    "too-short");
	assert_non_null(jstr(c->j, "error_ja"));
	done(c);
	assert_int_equal(events(f, "password-change", KURA_OUTCOME_MINOR, -1), refusals + 1);
	/* the same password again is refused too (history, AU-09) */
	api_done(f, KURA_HTTP_POST, "/api/password", NULL, a,
		 "{\"old\":\"" PW1 "\",\"new\":\"" PW1 "\"}", kura_api_password, 400);
	/* a wrong old one: 401, a login failure counted toward the lockout */
	api_done(f, KURA_HTTP_POST, "/api/password", NULL, a,
		 "{\"old\":\"not-it\",\"new\":\"" PW2 "\"}", kura_api_password, 401);
	assert_int_equal(events(f, "login-failed", KURA_OUTCOME_MINOR, -1), failed + 1);
	json_t *acc = NULL;
	assert_int_equal(kura_account_get(f->v, "dr.new", &acc), 0);
	assert_int_equal(json_integer_value(json_object_get(acc, "failures")), 1);
	json_decref(acc);
	/* strict bodies */
	api_done(f, KURA_HTTP_POST, "/api/password", NULL, a,
		 "{\"old\":\"" PW1 "\",\"new\":\"" PW2 "\",\"x\":1}", kura_api_password, 400);
	api_done(f, KURA_HTTP_GET, "/api/password", NULL, a, NULL, kura_api_password, 405);
	/* with the cookie, a POST needs the CSRF token */
	c = req(f, KURA_HTTP_POST, "/api/password", NULL, NULL);
	char cookie[100];
	snprintf(cookie, sizeof(cookie), "kura_session=%s", a);
	hdr(c, "Cookie", cookie);
	body(c, "{\"old\":\"" PW1 "\",\"new\":\"" PW2 "\"}");
	assert_int_equal(run(c, kura_api_password), 403);
	done(c);
	/* the change: this session goes on without must_change, the other ends */
	c = req(f, KURA_HTTP_POST, "/api/password", NULL, NULL);
	hdr(c, "Cookie", cookie);
	hdr(c, "X-CSRF-Token", csrf);
	body(c, "{\"old\":\"" PW1 "\",\"new\":\"" PW3 "\"}");
	assert_int_equal(run(c, kura_api_password), 200);
	assert_true(json_is_true(json_object_get(c->j, "changed")));
	done(c);
	assert_int_equal(events(f, "password-change", KURA_OUTCOME_SUCCESS, -1), changes + 1);
	c = api(f, KURA_HTTP_GET, "/api/me", NULL, a, NULL, kura_api_me, 200);
	assert_true(json_is_false(json_object_get(c->j, "must_change")));
	done(c);
	api_done(f, KURA_HTTP_GET, "/api/me", NULL, b, NULL, kura_api_me, 401);
	/* and this session may now reach patient data */
	api_done(f, KURA_HTTP_GET, "/api/patients", "q=x", a, NULL, kura_api_patients, 200);
	assert_int_equal(login(f, "dr.new", PW1, NULL, b, NULL), 401);
	assert_int_equal(login(f, "dr.new", PW3, NULL, b, NULL), 200);
}

static int code_now(const uint8_t *secret, size_t n, char out[8])
{
	uint32_t code;
	int r = kura_totp_at(secret, n, kura_time_now_us() / 1000000, 30, 6, &code);
	snprintf(out, 8, "%06u", code);
	return r;
}

static void test_totp(void **state)
{
	struct fx *f = *state;
	char tok[65], code[8], wrong[8];
	uint8_t secret[64];
	size_t n = 0;
	/* an auditor (privileged) without a factor must enrol one (AU-12) */
	assert_int_equal(login(f, "aud.kato", PW2, NULL, tok, NULL), 200);
	struct call *c = api(f, KURA_HTTP_GET, "/api/me", NULL, tok, NULL, kura_api_me, 200);
	assert_true(json_is_true(json_object_get(c->j, "must_enroll")));
	done(c);
	api_done(f, KURA_HTTP_GET, "/api/patients", "q=x", tok, NULL, kura_api_patients, 403);
	api_done(f, KURA_HTTP_POST, "/api/factors/totp/confirm", NULL, tok, "{\"code\":\"123456\"}",
		 kura_api_factors, 409); /* nothing pending yet */
	api_done(f, KURA_HTTP_POST, "/api/factors/totp", NULL, tok, "{\"x\":1}", kura_api_factors, 400);
	c = api(f, KURA_HTTP_POST, "/api/factors/totp", NULL, tok, "{}", kura_api_factors, 200);
	const char *b32 = jstr(c->j, "secret_base32");
	assert_non_null(b32);
	assert_int_equal(strncmp(jstr(c->j, "otpauth_uri"), "otpauth://totp/kura:aud.kato?", 29), 0);
	assert_non_null(strstr(jstr(c->j, "otpauth_uri"), b32));
	assert_int_equal(strncmp(jstr(c->j, "qr_svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39), 0);
	assert_non_null(strstr(jstr(c->j, "qr_svg"), "</svg>"));
	assert_int_equal(kura_base32_decode(b32, secret, sizeof(secret), &n), 0);
	assert_int_equal(n, KURA_TOTP_SECRET_LEN);
	done(c);
	/* pending only: not a factor yet */
	json_t *acc = NULL;
	assert_int_equal(kura_account_get(f->v, "aud.kato", &acc), 0);
	assert_int_equal(kura_account_factors(acc), 0);
	json_decref(acc);
	/* a wrong code: 400, recorded; the secret stays pending */
	assert_int_equal(code_now(secret, n, code), 0);
	snprintf(wrong, sizeof(wrong), "%06u", (unsigned)((strtoul(code, NULL, 10) + 500000) % 1000000));
	unsigned refused = events(f, "factor-enroll", KURA_OUTCOME_MINOR, -1);
	api_done(f, KURA_HTTP_POST, "/api/factors/totp/confirm", NULL, tok, "{\"code\":\"abc\"}",
		 kura_api_factors, 400);
	char b[64];
	snprintf(b, sizeof(b), "{\"code\":\"%s\"}", wrong);
	api_done(f, KURA_HTTP_POST, "/api/factors/totp/confirm", NULL, tok, b, kura_api_factors, 400);
	assert_int_equal(events(f, "factor-enroll", KURA_OUTCOME_MINOR, -1), refused + 2);
	/* the right code enrols it */
	int st = 0;
	for (int i = 0; i < 2 && st != 200; i++) { /* the step may turn between calls */
		assert_int_equal(code_now(secret, n, code), 0);
		snprintf(b, sizeof(b), "{\"code\":\"%s\"}", code);
		c = req(f, KURA_HTTP_POST, "/api/factors/totp/confirm", NULL, tok);
		body(c, b);
		st = run(c, kura_api_factors);
		if (st == 200)
			assert_true(json_is_true(json_object_get(c->j, "enrolled")));
		done(c);
	}
	assert_int_equal(st, 200);
	assert_int_equal(events(f, "factor-enroll", KURA_OUTCOME_SUCCESS, -1), 1);
	assert_int_equal(kura_account_get(f->v, "aud.kato", &acc), 0);
	assert_int_equal(kura_account_factors(acc), KURA_FACTOR_TOTP);
	json_decref(acc);
	/* the session goes on, no longer limited; the pending secret is used up */
	c = api(f, KURA_HTTP_GET, "/api/me", NULL, tok, NULL, kura_api_me, 200);
	assert_true(json_is_false(json_object_get(c->j, "must_enroll")));
	done(c);
	api_done(f, KURA_HTTP_POST, "/api/factors/totp/confirm", NULL, tok, b, kura_api_factors, 409);
	api_done(f, KURA_HTTP_POST, "/api/factors/nope", NULL, tok, "{}", kura_api_factors, 404);
	/* an enrolled app is not replaced from a session */
	api_done(f, KURA_HTTP_POST, "/api/factors/totp", NULL, tok, "{}", kura_api_factors, 409);
	/* the password alone no longer logs in; with the app's code it does */
	assert_int_equal(login(f, "aud.kato", PW2, NULL, tok, NULL), 401);
}

/* ---- §2: patients (READ-01) ---- */

/* A JP Core Patient (from /work/shared/data/japanese: kanji IDE, kana SYL
 * in katakana, romaji without a representation extension). */
static const char PATIENT1[] =
	"{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"urn:oid:1.2.392.100495.20.3.51.19999999999\",\"value\":\"1001\"}],"
	"\"name\":[{\"extension\":[{\"url\":\"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation\",\"valueCode\":\"IDE\"}],"
	"\"use\":\"official\",\"text\":\"大平 澪保\",\"family\":\"大平\",\"given\":[\"澪保\"]},"
	"{\"extension\":[{\"url\":\"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation\",\"valueCode\":\"SYL\"}],"
	"\"use\":\"official\",\"text\":\"オオヒラ レイホ\",\"family\":\"オオヒラ\",\"given\":[\"レイホ\"]},"
	"{\"use\":\"usual\",\"text\":\"Oohira Reiho\",\"family\":\"Oohira\",\"given\":[\"Reiho\"]}],"
	"\"gender\":\"female\",\"birthDate\":\"1995-02-23\"}";
/* Kana stored in hiragana, romaji with the ABC extension, no text. */
static const char PATIENT2[] =
	"{\"resourceType\":\"Patient\",\"name\":["
	"{\"extension\":[{\"url\":\"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation\",\"valueCode\":\"IDE\"}],"
	"\"family\":\"山田\",\"given\":[\"太郎\"]},"
	"{\"extension\":[{\"url\":\"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation\",\"valueCode\":\"SYL\"}],"
	"\"family\":\"やまだ\",\"given\":[\"たろう\"]},"
	"{\"extension\":[{\"url\":\"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation\",\"valueCode\":\"ABC\"}],"
	"\"family\":\"YAMADA\",\"given\":[\"Taro\"]}],\"gender\":\"male\",\"birthDate\":\"1980-01-01\"}";
/* In the surgery department: outside dr.sato's scope. */
static const char PATIENT3[] =
	"{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"大平 花子\"},{\"text\":\"おおひら はなこ\"}],\"birthDate\":\"1995-02-23\"}";

/* Store a record over the API; its id. */
static void put(struct fx *f, const char *tok, const char *patient, const char *type,
		const char *text, char rid[65])
{
	json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:b}", "patient", patient, "type", type,
			      "content", text, "reason", "admission", "confirm", 1);
	char *s = json_dumps(b, 0);
	struct call *c = api(f, KURA_HTTP_POST, "/api/records", NULL, tok, s, kura_api_records, 201);
	snprintf(rid, 65, "%s", jstr(c->j, "record"));
	assert_int_equal(json_integer_value(json_object_get(c->j, "version")), 1);
	done(c);
	free(s);
	json_decref(b);
}

static void patients(struct fx *f, char r1[65], char r3[65])
{
	char r2[65];
	put(f, f->sato, "p1", "Patient", PATIENT1, r1);
	put(f, f->sato, "p2", "Patient", PATIENT2, r2);
	put(f, f->geka, "p3", "Patient", PATIENT3, r3);
}

/* GET /api/patients?query: the ids found, comma-joined, and hidden. */
static void search(struct fx *f, const char *query, const char *want, int hidden)
{
	char got[256] = "";
	json_t *p;
	size_t i;
	struct call *c = api(f, KURA_HTTP_GET, "/api/patients", query, f->sato, NULL,
			     kura_api_patients, 200);
	json_array_foreach(json_object_get(c->j, "patients"), i, p)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "," : "", jstr(p, "id"));
	assert_string_equal(got, want);
	if (hidden >= 0)
		assert_int_equal(json_integer_value(json_object_get(c->j, "hidden")), hidden);
	done(c);
}

static void test_patients(void **state)
{
	struct fx *f = *state;
	char r1[65], r3[65];
	patients(f, r1, r3);
	unsigned searches = events(f, "search", KURA_OUTCOME_SUCCESS, -1);
	/* kanji; p3 (surgery) matches too but is out of scope: hidden */
	search(f, "q=%E5%A4%A7%E5%B9%B3", "p1", 1); /* 大平 */
	assert_int_equal(events(f, "search", KURA_OUTCOME_SUCCESS, -1), searches + 1);
	search(f, "q=%E5%A4%A7%E5%B9%B3%20%E6%BE%AA%E4%BF%9D", "p1", 1); /* "大平 澪保" */
	search(f, "q=%E5%A4%A7%E5%B9%B3%E6%BE%AA%E4%BF%9D", "p1", 1);    /* "大平澪保" */
	/* kana: a hiragana query finds katakana, a katakana one hiragana */
	search(f, "q=%E3%81%8A%E3%81%8A%E3%81%B2%E3%82%89", "p1", 1);    /* おおひら */
	search(f, "q=%E3%83%A4%E3%83%9E%E3%83%80", "p2", 1);             /* ヤマダ */
	search(f, "q=%E3%81%9F%E3%82%8D%E3%81%86", "p2", 1);             /* たろう */
	/* romaji, any case */
	search(f, "q=oohira", "p1", 1);
	search(f, "q=yamada+TARO", "p2", 1);
	search(f, "q=TaRo", "p2", 1);
	/* the id; the birth date filter */
	search(f, "q=p2", "p2", 1);
	search(f, "q=%E5%A4%A7%E5%B9%B3&birthdate=1995-02-23", "p1", 1);
	search(f, "q=%E5%A4%A7%E5%B9%B3&birthdate=1995-02-24", "", 1);
	search(f, "q=a&limit=1", "p1", 1);
	search(f, "q=nobody", "", 1);
	/* dr.geka sees p3 and not the internal patients */
	struct call *c = api(f, KURA_HTTP_GET, "/api/patients", "q=%E3%81%8A%E3%81%8A%E3%81%B2%E3%82%89",
			     f->geka, NULL, kura_api_patients, 200);
	assert_int_equal(json_array_size(json_object_get(c->j, "patients")), 1);
	assert_string_equal(jstr(json_array_get(json_object_get(c->j, "patients"), 0), "id"), "p3");
	assert_int_equal(json_integer_value(json_object_get(c->j, "hidden")), 2);
	done(c);
	/* bad queries: 400 */
	static const char *const bad[] = {"", "x=1", "q=a&q=b", "q=a&limit=0", "q=a&limit=101",
					  "q=a&birthdate=1995-2-3", "q=a&y=2", NULL};
	for (int i = 0; bad[i]; i++)
		api_done(f, KURA_HTTP_GET, "/api/patients", bad[i], f->sato, NULL, kura_api_patients, 400);
	api_done(f, KURA_HTTP_POST, "/api/patients", "q=a", f->sato, "{}", kura_api_patients, 405);
	api_done(f, KURA_HTTP_GET, "/api/patients", "q=a", NULL, NULL, kura_api_patients, 401);
	/* one patient: P, records, how */
	c = api(f, KURA_HTTP_GET, "/api/patients/p1", NULL, f->sato, NULL, kura_api_patients, 200);
	json_t *name = json_object_get(c->j, "name");
	assert_string_equal(jstr(name, "kanji"), "大平 澪保");
	assert_string_equal(jstr(name, "kana"), "オオヒラ レイホ");
	assert_string_equal(jstr(name, "romaji"), "Oohira Reiho");
	assert_string_equal(jstr(name, "text"), "大平 澪保");
	assert_string_equal(jstr(c->j, "birthdate"), "1995-02-23");
	assert_string_equal(jstr(c->j, "gender"), "female");
	assert_string_equal(jstr(json_array_get(json_object_get(c->j, "identifiers"), 0), "value"), "1001");
	assert_int_equal(json_array_size(json_object_get(c->j, "records")), 1);
	assert_string_equal(jstr(json_array_get(json_object_get(c->j, "records"), 0), "record"), r1);
	assert_string_equal(jstr(json_object_get(c->j, "access"), "how"), "department");
	assert_true(json_is_null(json_object_get(json_object_get(c->j, "access"), "breakglass_until")));
	done(c);
	c = api(f, KURA_HTTP_GET, "/api/patients/p2", NULL, f->sato, NULL, kura_api_patients, 200);
	assert_string_equal(jstr(json_object_get(c->j, "name"), "kana"), "やまだ たろう");
	assert_string_equal(jstr(json_object_get(c->j, "name"), "romaji"), "YAMADA Taro");
	done(c);
	/* outside the scope: 403, recorded, break-glass possible */
	unsigned denied = events(f, "list", KURA_OUTCOME_MINOR, -1);
	c = api(f, KURA_HTTP_GET, "/api/patients/p3", NULL, f->sato, NULL, kura_api_patients, 403);
	assert_true(json_is_true(json_object_get(c->j, "breakglass")));
	assert_string_equal(jstr(c->j, "patient"), "p3");
	assert_non_null(jstr(c->j, "reason"));
	done(c);
	assert_int_equal(events(f, "list", KURA_OUTCOME_MINOR, -1), denied + 1);
	/* the clerk (scope all, no break-glass) reads every patient */
	c = api(f, KURA_HTTP_GET, "/api/patients/p3", NULL, f->clerk, NULL, kura_api_patients, 200);
	assert_string_equal(jstr(json_object_get(c->j, "access"), "how"), "all");
	done(c);
	api_done(f, KURA_HTTP_GET, "/api/patients/zz", NULL, f->clerk, NULL, kura_api_patients, 404);
	api_done(f, KURA_HTTP_GET, "/api/patients/a%2Fb", NULL, f->clerk, NULL, kura_api_patients, 400);
}

/* ---- §2: records (READ-02) ---- */

static void read_file(const char *name, struct kura_buf *out)
{
	char path[512];
	const char *dir = getenv("KURA_TEST_DATA");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	assert_int_equal(kura_fs_read(path, 1u << 24, out), 0);
}

/* A write over the API: status, and the version on success. */
static int write_call(struct fx *f, const char *path, const char *json, int want)
{
	struct call *c = api(f, KURA_HTTP_POST, path, NULL, f->sato, json, kura_api_records, want);
	int v = want < 300 ? (int)json_integer_value(json_object_get(c->j, "version")) : 0;
	done(c);
	return v;
}

static void test_records(void **state)
{
	struct fx *f = *state;
	char r1[65], r3[65], path[160], rid[65];
	struct kura_buf pdf, b64;
	patients(f, r1, r3);
	kura_buf_init(&pdf, 1u << 24);
	kura_buf_init(&b64, 1u << 25);
	read_file("pdfjs-helloworld.pdf", &pdf);
	assert_true(pdf.len > 100);
	/* a PDF, as base64; refused without a reason, written with one */
	char *enc = NULL;
	{
		static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		for (size_t i = 0; i < pdf.len; i += 3) {
			uint32_t v = (uint32_t)pdf.data[i] << 16 | (i + 1 < pdf.len ? (uint32_t)pdf.data[i + 1] << 8 : 0) |
				     (i + 2 < pdf.len ? pdf.data[i + 2] : 0);
			char q[4] = {tbl[v >> 18 & 63], tbl[v >> 12 & 63], i + 1 < pdf.len ? tbl[v >> 6 & 63] : '=',
				     i + 2 < pdf.len ? tbl[v & 63] : '='};
			assert_int_equal(kura_buf_append(&b64, q, 4), 0);
		}
		assert_int_equal(kura_buf_append_byte(&b64, 0), 0);
		enc = (char *)b64.data;
	}
	json_t *jb = json_pack("{s:s, s:s, s:s, s:s}", "patient", "p1", "type", "application/pdf",
			       "content_type", "application/pdf", "content_base64", enc);
	char *s = json_dumps(jb, 0);
	unsigned writes = events(f, "write", -1, -1);
	write_call(f, "/api/records", s, 400); /* no reason */
	free(s);
	json_object_set_new(jb, "reason", json_string(""));
	s = json_dumps(jb, 0);
	write_call(f, "/api/records", s, 400); /* empty reason */
	free(s);
	assert_int_equal(events(f, "write", -1, -1), writes);
	json_object_set_new(jb, "reason", json_string("referral letter"));
	json_object_set_new(jb, "content", json_string("both"));
	s = json_dumps(jb, 0);
	write_call(f, "/api/records", s, 400); /* content and content_base64 */
	free(s);
	json_object_del(jb, "content");
	s = json_dumps(jb, 0);
	struct call *c = api(f, KURA_HTTP_POST, "/api/records", NULL, f->sato, s, kura_api_records, 201);
	snprintf(rid, sizeof(rid), "%s", jstr(c->j, "record"));
	done(c);
	free(s);
	json_decref(jb);
	assert_int_equal(events(f, "write", KURA_OUTCOME_SUCCESS, -1), writes + 1);
	/* a FHIR type must hold its resource */
	write_call(f, "/api/records", "{\"patient\":\"p1\",\"type\":\"Observation\",\"content\":\"x\",\"reason\":\"r\"}", 400);
	write_call(f, "/api/records", "{\"patient\":\"p1\",\"type\":\"Patient\",\"content\":\"{}\",\"reason\":\"r\",\"extra\":1}", 400);
	/* amend (v2), confirm (v3), retract (v4): each needs a reason */
	snprintf(path, sizeof(path), "/api/records/%s/amend", rid);
	write_call(f, path, "{\"content\":\"second\"}", 400);
	assert_int_equal(write_call(f, path, "{\"content\":\"second\",\"reason\":\"typo\"}", 200), 2);
	snprintf(path, sizeof(path), "/api/records/%s/confirm", rid);
	write_call(f, path, "{}", 400);
	assert_int_equal(write_call(f, path, "{\"reason\":\"checked\"}", 200), 3);
	write_call(f, path, "{\"reason\":\"again\"}", 409); /* not a draft */
	snprintf(path, sizeof(path), "/api/records/%s/retract", rid);
	write_call(f, path, "{\"reason\":\"\"}", 400);
	assert_int_equal(write_call(f, path, "{\"reason\":\"wrong patient\"}", 200), 4);
	/* an amendment is a write event; confirm and retract their own */
	assert_int_equal(events(f, "write", KURA_OUTCOME_SUCCESS, -1), writes + 2);
	assert_int_equal(events(f, "confirm", KURA_OUTCOME_SUCCESS, -1), 1);
	assert_int_equal(events(f, "retract", KURA_OUTCOME_SUCCESS, -1), 1);
	api_done(f, KURA_HTTP_POST, "/api/records/nosuch/amend", NULL, f->sato,
		 "{\"content\":\"x\",\"reason\":\"r\"}", kura_api_records, 404);
	/* the history: one read event, every version oldest first */
	unsigned reads = events(f, "read", KURA_OUTCOME_SUCCESS, -1);
	snprintf(path, sizeof(path), "/api/records/%s", rid);
	c = api(f, KURA_HTTP_GET, path, NULL, f->sato, NULL, kura_api_records, 200);
	assert_int_equal(events(f, "read", KURA_OUTCOME_SUCCESS, -1), reads + 1);
	assert_string_equal(jstr(c->j, "status"), "entered-in-error");
	assert_string_equal(jstr(c->j, "patient"), "p1");
	assert_int_equal(json_integer_value(json_object_get(c->j, "version")), 4);
	json_t *vs = json_object_get(c->j, "versions");
	assert_int_equal(json_array_size(vs), 4);
	assert_string_equal(jstr(json_array_get(vs, 0), "status"), "draft");
	assert_string_equal(jstr(json_array_get(vs, 0), "content_type"), "application/pdf");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(vs, 0), "size")), pdf.len);
	assert_string_equal(jstr(json_array_get(vs, 0), "reason"), "referral letter");
	assert_string_equal(jstr(json_array_get(vs, 2), "status"), "confirmed");
	assert_string_equal(jstr(json_array_get(vs, 2), "confirmer"), "dr.sato");
	assert_string_equal(jstr(json_array_get(vs, 3), "reason"), "wrong patient");
	json_int_t leaf1 = json_integer_value(json_object_get(json_array_get(vs, 0), "leaf_index"));
	assert_true(leaf1 > 0);
	done(c);
	/* version 1: the PDF byte for byte with its type and headers */
	reads = events(f, "read", KURA_OUTCOME_SUCCESS, -1);
	snprintf(path, sizeof(path), "/api/records/%s/versions/1", rid);
	c = req(f, KURA_HTTP_GET, path, NULL, f->sato);
	assert_int_equal(kura_api_records(&c->req, &c->resp), 0);
	assert_int_equal(c->resp.status, 200);
	assert_string_equal(c->resp.content_type, "application/pdf");
	assert_int_equal(c->resp.body.len, pdf.len);
	assert_memory_equal(c->resp.body.data, pdf.data, pdf.len);
	assert_string_equal(resp_hdr(c, "X-Kura-Record"), rid);
	assert_string_equal(resp_hdr(c, "X-Kura-Version"), "1");
	assert_int_equal(strtoll(resp_hdr(c, "X-Kura-Leaf-Index"), NULL, 10), leaf1);
	assert_null(resp_hdr(c, "Content-Disposition"));
	assert_non_null(resp_hdr(c, "Content-Security-Policy"));
	done(c);
	assert_int_equal(events(f, "read", KURA_OUTCOME_SUCCESS, -1), reads + 1);
	/* print: a print event instead of a read; download: an attachment */
	unsigned prints = events(f, "print", KURA_OUTCOME_SUCCESS, -1);
	c = api(f, KURA_HTTP_GET, path, "purpose=print&download=1", f->sato, NULL, kura_api_records, 200);
	assert_non_null(strstr(resp_hdr(c, "Content-Disposition"), "attachment"));
	done(c);
	assert_int_equal(events(f, "print", KURA_OUTCOME_SUCCESS, -1), prints + 1);
	assert_int_equal(events(f, "read", KURA_OUTCOME_SUCCESS, -1), reads + 1);
	api_done(f, KURA_HTTP_GET, path, "purpose=fax", f->sato, NULL, kura_api_records, 400);
	api_done(f, KURA_HTTP_GET, path, "download=1&download=1", f->sato, NULL, kura_api_records, 400);
	snprintf(path, sizeof(path), "/api/records/%s/versions/2", rid);
	c = api(f, KURA_HTTP_GET, path, NULL, f->sato, NULL, kura_api_records, 200);
	assert_int_equal(c->resp.body.len, 6);
	assert_memory_equal(c->resp.body.data, "second", 6);
	done(c);
	/* the retraction: 410 with V */
	snprintf(path, sizeof(path), "/api/records/%s/versions/4", rid);
	c = api(f, KURA_HTTP_GET, path, NULL, f->sato, NULL, kura_api_records, 410);
	assert_string_equal(jstr(c->j, "status"), "entered-in-error");
	assert_non_null(json_object_get(c->j, "leaf_index"));
	done(c);
	snprintf(path, sizeof(path), "/api/records/%s/versions/9", rid);
	api_done(f, KURA_HTTP_GET, path, NULL, f->sato, NULL, kura_api_records, 404);
	snprintf(path, sizeof(path), "/api/records/%s/versions/0", rid);
	api_done(f, KURA_HTTP_GET, path, NULL, f->sato, NULL, kura_api_records, 404);
	snprintf(path, sizeof(path), "/api/records/%s/amend", rid);
	api_done(f, KURA_HTTP_GET, path, NULL, f->sato, NULL, kura_api_records, 405);
	/* out of scope: a write to p3 is refused and recorded */
	unsigned denied = events(f, "write", KURA_OUTCOME_MINOR, -1);
	write_call(f, "/api/records", "{\"patient\":\"p3\",\"type\":\"text/plain\",\"content\":\"x\",\"reason\":\"r\"}", 403);
	assert_int_equal(events(f, "write", KURA_OUTCOME_MINOR, -1), denied + 1);
	kura_buf_release(&pdf);
	kura_buf_release(&b64);
}

/* ---- break-glass (BG-01..03) ---- */

static void test_breakglass(void **state)
{
	struct fx *f = *state;
	char r1[65], r3[65], path[160];
	patients(f, r1, r3);
	snprintf(path, sizeof(path), "/api/records/%s", r3);
	/* denied, recorded, and break-glass is offered */
	unsigned denied = events(f, "read", KURA_OUTCOME_MINOR, -1);
	struct call *c = api(f, KURA_HTTP_GET, path, NULL, f->sato, NULL, kura_api_records, 403);
	assert_true(json_is_true(json_object_get(c->j, "breakglass")));
	assert_string_equal(jstr(c->j, "patient"), "p3");
	done(c);
	assert_int_equal(events(f, "read", KURA_OUTCOME_MINOR, -1), denied + 1);
	c = api(f, KURA_HTTP_GET, "/api/breakglass", "patient=p3", f->sato, NULL, kura_api_breakglass, 200);
	assert_true(json_is_false(json_object_get(c->j, "active")));
	assert_true(json_is_null(json_object_get(c->j, "until")));
	done(c);
	api_done(f, KURA_HTTP_GET, "/api/breakglass", NULL, f->sato, NULL, kura_api_breakglass, 400);
	api_done(f, KURA_HTTP_GET, "/api/breakglass", "patient=p3&x=1", f->sato, NULL, kura_api_breakglass, 400);
	/* a reason is required */
	api_done(f, KURA_HTTP_POST, "/api/breakglass", NULL, f->sato, "{\"patient\":\"p3\"}",
		 kura_api_breakglass, 400);
	api_done(f, KURA_HTTP_POST, "/api/breakglass", NULL, f->sato,
		 "{\"patient\":\"p3\",\"reason\":\"\"}", kura_api_breakglass, 400);
	assert_int_equal(events(f, "breakglass", -1, -1), 0);
	/* the role without break-glass (clerk) is refused, recorded */
	c = api(f, KURA_HTTP_POST, "/api/breakglass", NULL, f->clerk,
		"{\"patient\":\"p3\",\"reason\":\"curious\"}", kura_api_breakglass, 403);
	assert_true(json_is_false(json_object_get(c->j, "breakglass")));
	done(c);
	assert_int_equal(events(f, "breakglass", KURA_OUTCOME_MINOR, -1), 1);
	/* opened: alert event (BG-02), active for breakglass.hours */
	c = api(f, KURA_HTTP_POST, "/api/breakglass", NULL, f->sato,
		"{\"patient\":\"p3\",\"reason\":\"unconscious in ER\"}", kura_api_breakglass, 200);
	assert_true(json_is_true(json_object_get(c->j, "active")));
	assert_non_null(jstr(c->j, "until"));
	json_int_t left = json_integer_value(json_object_get(c->j, "seconds_left"));
	assert_true(left > 4 * 3600 - 60 && left <= 4 * 3600);
	done(c);
	assert_int_equal(events(f, "breakglass", KURA_OUTCOME_SUCCESS, KURA_SEV_ALERT), 1);
	c = api(f, KURA_HTTP_GET, "/api/breakglass", "patient=p3", f->sato, NULL, kura_api_breakglass, 200);
	assert_true(json_is_true(json_object_get(c->j, "active")));
	done(c);
	/* now allowed, and the read itself is an alert */
	unsigned alerts = events(f, "read", KURA_OUTCOME_SUCCESS, KURA_SEV_ALERT);
	c = api(f, KURA_HTTP_GET, path, NULL, f->sato, NULL, kura_api_records, 200);
	assert_string_equal(jstr(c->j, "patient"), "p3");
	done(c);
	assert_int_equal(events(f, "read", KURA_OUTCOME_SUCCESS, KURA_SEV_ALERT), alerts + 1);
	c = api(f, KURA_HTTP_GET, "/api/patients/p3", NULL, f->sato, NULL, kura_api_patients, 200);
	assert_string_equal(jstr(json_object_get(c->j, "access"), "how"), "breakglass");
	assert_non_null(jstr(json_object_get(c->j, "access"), "breakglass_until"));
	assert_string_equal(jstr(json_object_get(c->j, "name"), "text"), "大平 花子");
	done(c);
	/* a nurse's role rules may forbid the type: then break-glass would not help */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_patients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_breakglass, setup, teardown),
	};
	kura_crypto_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
