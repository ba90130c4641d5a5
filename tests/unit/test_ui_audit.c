/*
 * test_ui_audit.c - the auditor's and the security administrator's parts
 * of the web UI's API (docs/formats/ui-api.md §3-§4; serve/ui_audit.c,
 * ui_admin.c) in-process, as test_serve_api.c builds its requests: a real
 * vault, real accounts and logins, a real backup to a directory and a
 * real drill, every refusal checked against the audit event it left
 * (LG-01, LG-05, BG-02, AC-04, AU-15, BK-02, BC-02).
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

#include "audit/trail.h"
#include "backup/status.h"
#include "crypto/crypto.h"
#include "crypto/x509_issue.h"
#include "serve/serve.h"
#include "util/fs.h"
#include "util/time.h"

#define PASS "correct horse battery staple"
#define PW1 "Init-Pw-x7#q2Lm"
#define PW2 "Zq7#vN2$kLp9@wR"

struct fx {
	char dir[64], vault[96], repo[96], out[96];
	struct kura_vault *v;
	struct kura_serve_limits lim;
	struct kura_serve_thread th;
	char aud[KURA_TOKEN_HEX + 1], aud_csrf[KURA_TOKEN_HEX + 1];
	int64_t t_before_bg, t_after_bg; /* around the break-glass event */
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

static struct call *req(struct fx *f, int method, const char *path, const char *query)
{
	struct call *c = call_new(&f->th, "192.0.2.9", method, path, query);
	return c;
}

static void as(struct call *c, const char *tok)
{
	hdr_own(c, "Cookie", "kura_session=", tok);
}

/* Log in: 200 with the session token and the CSRF token, or the status. */
static int login(struct fx *f, const char *user, const char *pw, char tok[KURA_TOKEN_HEX + 1],
		 char csrf[KURA_TOKEN_HEX + 1])
{
	char b[256];
	struct call *c = req(f, KURA_HTTP_POST, "/api/login", NULL);
	snprintf(b, sizeof(b), "{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
	body(c, b);
	int st = run(c, kura_api_login);
	if (st == 200) {
		const char *ck = resp_hdr(c, "Set-Cookie");
		assert_non_null(ck);
		memcpy(tok, ck + 13, 64);
		tok[64] = 0;
		snprintf(csrf, KURA_TOKEN_HEX + 1, "%s",
			 json_string_value(json_object_get(c->j, "csrf_token")));
	}
	done(c);
	return st;
}

struct count_ctx {
	const char *action, *query;
	int outcome;
	unsigned n;
};

static int count_cb(void *ctx, const struct kura_event_row *row)
{
	struct count_ctx *c = ctx;
	if (strcmp(row->ev.action, c->action) == 0 &&
	    (c->outcome < 0 || row->ev.outcome == c->outcome) &&
	    (!c->query || strncmp(row->ev.query, c->query, strlen(c->query)) == 0))
		c->n++;
	return 0;
}

static unsigned events(struct fx *f, const char *action, int outcome, const char *query)
{
	struct count_ctx c = {action, query, outcome, 0};
	struct kura_store *s = kura_vault_store(f->v);
	assert_int_equal(s->ops->event_scan(s, 0, count_cb, &c), 0);
	return c.n;
}

/* A break-glass by dr.sato on P-001 (BG-02: severity alert), as the
 * access layer records one. */
static void breakglass(struct fx *f)
{
	struct kura_actor who = {.user = "dr.sato", .role = "doctor", .client_ip = "192.0.2.1"};
	struct kura_event e;
	struct kura_txn *t;
	kura_audit_event(&e, &who, "breakglass");
	KURA_AUDIT_SET(e.patient_id, "P-001");
	KURA_AUDIT_SET(e.reason, "breakglass: unconscious patient in the ER");
	e.severity = KURA_SEV_ALERT;
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_txn_event(t, &e, NULL), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kura_kdf_params kdf = {1, 8 * 1024};
	struct kura_sth sth;
	struct kura_txn *t;
	setenv("KURA_BACKUP_IMMUTABLE", "0", 1); /* so the test can remove its files */
	snprintf(f->dir, sizeof(f->dir), "/tmp/kura-uiaud-XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	snprintf(f->vault, sizeof(f->vault), "%s/vault", f->dir);
	snprintf(f->repo, sizeof(f->repo), "%s/repo", f->dir);
	snprintf(f->out, sizeof(f->out), "%s/restored", f->dir);
	if (kura_vault_init(f->vault, PASS, strlen(PASS), &kdf, &sth) ||
	    kura_vault_open(f->vault, PASS, strlen(PASS), 0, &f->v) || kura_txn_begin(f->v, &t))
		return -1;
	/* Second factors are test_serve_api.c's concern: privileged roles log
	 * in here with a password alone. */
	if (kura_setting_set(t, "password.argon2_ops", "1") ||
	    kura_setting_set(t, "password.argon2_mem_mib", "8") ||
	    kura_setting_set(t, "auth.require_second_factor", "off") || kura_txn_commit(t, NULL))
		return -1;
	f->lim.max_body_bytes = 16u << 20;
	f->th.v = f->v;
	f->th.limits = &f->lim;
	add(f, "dr.sato", "doctor", "internal");
	add(f, "aud.kato", "auditor", "");
	add(f, "sec.mori", "security-admin", "");
	add(f, "dr.lock", "doctor", "internal");
	add(f, "dr.old", "doctor", "internal");
	if (login(f, "aud.kato", PW2, f->aud, f->aud_csrf) != 200)
		return -1;
	f->t_before_bg = kura_time_now_us();
	breakglass(f);
	f->t_after_bg = kura_time_now_us() + 1;
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

/* GET /api/audit/events?query as the auditor: the status; c kept in *ret. */
static int search(struct fx *f, const char *query, struct call **ret)
{
	struct call *c = req(f, KURA_HTTP_GET, "/api/audit/events", query);
	as(c, f->aud);
	int st = run(c, kura_api_audit);
	*ret = c;
	return st;
}

static json_t *evs(const struct call *c)
{
	return json_object_get(c->j, "events");
}

static int has_flag(const json_t *e, const char *flag)
{
	json_t *x;
	size_t i;
	json_array_foreach(json_object_get(e, "flags"), i, x)
		if (strcmp(json_string_value(x), flag) == 0)
			return 1;
	return 0;
}

/* The break-glass event of a page, or NULL. */
static json_t *find_bg(const struct call *c)
{
	json_t *e;
	size_t i;
	json_array_foreach(evs(c), i, e)
		if (strcmp(json_string_value(json_object_get(e, "action")), "breakglass") == 0)
			return e;
	return NULL;
}

static void each_is(const struct call *c, const char *key, const char *want)
{
	json_t *e;
	size_t i;
	assert_true(json_array_size(evs(c)) > 0);
	json_array_foreach(evs(c), i, e)
		assert_string_equal(json_string_value(json_object_get(e, key)), want);
}

static void test_search_filters(void **state)
{
	struct fx *f = *state;
	struct call *c;
	char q[256], a[KURA_TIME_STR], b[KURA_TIME_STR];
	unsigned before = events(f, "audit-search", 0, "ui events");
	/* By patient: the break-glass, flagged (BG-02) and not yet reviewed. */
	assert_int_equal(search(f, "patient=P-001", &c), 200);
	each_is(c, "patient", "P-001");
	json_t *bg = find_bg(c);
	assert_non_null(bg);
	assert_true(has_flag(bg, "breakglass") && has_flag(bg, "unreviewed"));
	assert_string_equal(json_string_value(json_object_get(bg, "severity")), "alert");
	assert_string_equal(json_string_value(json_object_get(bg, "outcome")), "success");
	assert_string_equal(json_string_value(json_object_get(bg, "actor")), "dr.sato");
	assert_int_equal(json_integer_value(json_object_get(c->j, "total")), 1);
	assert_string_equal(resp_hdr(c, "Cache-Control"), "no-store");
	done(c);
	/* By user: only what aud.kato did (the login and the searches). */
	assert_int_equal(search(f, "user=aud.kato", &c), 200);
	each_is(c, "actor", "aud.kato");
	assert_null(find_bg(c));
	done(c);
	/* A time window around the break-glass: it alone (LG-01 when). */
	kura_time_format(f->t_before_bg, a);
	kura_time_format(f->t_after_bg, b);
	snprintf(q, sizeof(q), "from=%s&to=%s", a, b);
	assert_int_equal(search(f, q, &c), 200);
	assert_int_equal(json_integer_value(json_object_get(c->j, "total")), 1);
	assert_non_null(find_bg(c));
	done(c);
	/* An action, and flagged only: every event shown has a flag. */
	assert_int_equal(search(f, "action=login", &c), 200);
	each_is(c, "action", "login");
	done(c);
	assert_int_equal(search(f, "flagged=1", &c), 200);
	assert_non_null(find_bg(c));
	json_t *e;
	size_t i;
	json_array_foreach(evs(c), i, e)
		assert_true(json_array_size(json_object_get(e, "flags")) > 0);
	done(c);
	/* Each search above was recorded before it was answered (LG-01). */
	assert_int_equal(events(f, "audit-search", 0, "ui events"), before + 5);
}

static void test_search_paging(void **state)
{
	struct fx *f = *state;
	struct call *all, *p1, *p2;
	assert_int_equal(search(f, "user=aud.kato", &all), 200); /* one event more */
	done(all);
	assert_int_equal(search(f, "limit=1000", &all), 200);
	json_int_t total = json_integer_value(json_object_get(all->j, "total"));
	assert_true(total >= 3);
	assert_int_equal(json_array_size(evs(all)), (size_t)total);
	assert_int_equal(search(f, "limit=1&offset=0", &p1), 200);
	assert_int_equal(search(f, "limit=1&offset=1", &p2), 200);
	assert_int_equal(json_array_size(evs(p1)), 1);
	assert_int_equal(json_array_size(evs(p2)), 1);
	/* Newest first: p1's own audit-search event became the newest, so
	 * what p1 showed first is second for p2. */
	json_int_t l1 = json_integer_value(json_object_get(json_array_get(evs(p1), 0), "leaf_index"));
	json_int_t l2 = json_integer_value(json_object_get(json_array_get(evs(p2), 0), "leaf_index"));
	assert_int_equal(l1, l2);
	assert_int_equal(json_integer_value(json_object_get(p2->j, "total")),
			 json_integer_value(json_object_get(p1->j, "total")) + 1);
	for (size_t i = 1; i < (size_t)total; i++)
		assert_true(json_integer_value(json_object_get(json_array_get(evs(all), i - 1),
							       "leaf_index")) >
			    json_integer_value(json_object_get(json_array_get(evs(all), i),
							       "leaf_index")));
	done(all);
	done(p1);
	done(p2);
	/* Past the end: an empty page, the total still told. */
	assert_int_equal(search(f, "offset=100000", &p1), 200);
	assert_int_equal(json_array_size(evs(p1)), 0);
	assert_true(json_integer_value(json_object_get(p1->j, "total")) > 0);
	done(p1);
	/* A period of more events than a caller will hold in memory is
	 * refused, not cut short (the server's cap: KURA_UI_AUDIT_MAX_PERIOD). */
	struct kura_audit_rows rows = {0};
	unsigned *flags = NULL;
	assert_int_equal(kura_audit_collect(f->v, 0, 0, 2, &rows, &flags), KURA_ETOOBIG);
	assert_null(flags);
	kura_audit_rows_free(&rows);
	assert_int_equal(kura_audit_collect(f->v, 0, 0, 0, &rows, &flags), 0);
	assert_true(rows.n >= 3);
	free(flags);
	kura_audit_rows_free(&rows);
}

static void test_search_bad(void **state)
{
	static const char *const bad[] = {
		"bogus=1", "limit=0", "limit=1001", "limit=x", "offset=-1", "patient=a&patient=b",
		"from=yesterday", "from=2026-12-02&to=2026-12-01", "flagged=2", "flagged=",
		"patient=a%20user%3Db", "action=nonsense", "patient=", "user=%00x", "limit=1&limit=2"};
	struct fx *f = *state;
	unsigned before = events(f, "audit-search", -1, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct call *c;
		int st = search(f, bad[i], &c);
		if (st != 400)
			fail_msg("'%s' gave %d", bad[i], st);
		assert_non_null(json_object_get(c->j, "error"));
		assert_non_null(json_object_get(c->j, "error_ja"));
		done(c);
	}
	/* Nothing was read, so nothing was recorded. */
	assert_int_equal(events(f, "audit-search", -1, NULL), before);
	/* Wrong method, unknown path. */
	struct call *c = req(f, KURA_HTTP_POST, "/api/audit/events", NULL);
	as(c, f->aud);
	assert_int_equal(run(c, kura_api_audit), 405);
	assert_string_equal(resp_hdr(c, "Allow"), "GET, HEAD");
	done(c);
	c = req(f, KURA_HTTP_GET, "/api/audit/nothing", NULL);
	assert_int_equal(run(c, kura_api_audit), 404);
	done(c);
	c = req(f, KURA_HTTP_GET, "/api/audit/events", NULL); /* no credential */
	assert_int_equal(run(c, kura_api_audit), 401);
	done(c);
}

/* A doctor may not read the trail nor record a review: 403, recorded. */
static void test_audit_refused(void **state)
{
	struct fx *f = *state;
	char tok[KURA_TOKEN_HEX + 1], csrf[KURA_TOKEN_HEX + 1];
	assert_int_equal(login(f, "dr.sato", PW2, tok, csrf), 200);
	unsigned s0 = events(f, "audit-search", KURA_OUTCOME_MINOR, NULL);
	unsigned r0 = events(f, "audit-review", KURA_OUTCOME_MINOR, NULL);
	struct call *c = req(f, KURA_HTTP_GET, "/api/audit/events", "patient=P-001");
	as(c, tok);
	assert_int_equal(run(c, kura_api_audit), 403);
	assert_string_equal(json_string_value(json_object_get(c->j, "error")),
			    "access denied (recorded in the audit trail)");
	assert_true(json_is_false(json_object_get(c->j, "breakglass")));
	assert_null(json_object_get(c->j, "events"));
	done(c);
	assert_int_equal(events(f, "audit-search", KURA_OUTCOME_MINOR, NULL), s0 + 1);
	c = req(f, KURA_HTTP_POST, "/api/audit/review", NULL);
	as(c, tok);
	hdr(c, "X-CSRF-Token", csrf);
	body(c, "{\"from\":\"-1d\",\"to\":\"now\"}");
	assert_int_equal(run(c, kura_api_audit), 403);
	done(c);
	assert_int_equal(events(f, "audit-review", KURA_OUTCOME_MINOR, NULL), r0 + 1);
	assert_int_equal(events(f, "audit-review", KURA_OUTCOME_SUCCESS, NULL), 0);
}

static int review(struct fx *f, const char *text, const char *csrf, struct call **ret)
{
	struct call *c = req(f, KURA_HTTP_POST, "/api/audit/review", NULL);
	as(c, f->aud);
	if (csrf)
		hdr(c, "X-CSRF-Token", csrf);
	body(c, text);
	int st = run(c, kura_api_audit);
	*ret = c;
	return st;
}

/* LG-05: a review of the period clears "unreviewed" from its break-glass. */
static void test_review(void **state)
{
	static const char *const bad[] = {
		"{\"from\":\"-1d\"}", "{\"from\":\"now\",\"to\":\"-1d\"}",
		"{\"from\":\"-1d\",\"to\":\"now\",\"extra\":1}", "{\"from\":\"x\",\"to\":\"now\"}",
		"{\"from\":\"-1d\",\"to\":\"now\",\"note\":5}", "not json",
		"{\"from\":\"-1d\",\"from\":\"-2d\",\"to\":\"now\"}"};
	struct fx *f = *state;
	struct call *c;
	char b[256], a[KURA_TIME_STR], z[KURA_TIME_STR];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(review(f, bad[i], f->aud_csrf, &c), 400);
		done(c);
	}
	/* A browser's POST without its CSRF token is refused. */
	assert_int_equal(review(f, "{\"from\":\"-1d\",\"to\":\"now\"}", NULL, &c), 403);
	done(c);
	assert_int_equal(events(f, "audit-review", 0, NULL), 0);
	kura_time_format(f->t_before_bg, a);
	kura_time_format(f->t_after_bg, z);
	snprintf(b, sizeof(b), "{\"from\":\"%s\",\"to\":\"%s\",\"note\":\"daily review\"}", a, z);
	assert_int_equal(review(f, b, f->aud_csrf, &c), 200);
	assert_int_equal(json_integer_value(json_object_get(c->j, "reviewed")), 1);
	assert_int_equal(json_integer_value(json_object_get(c->j, "breakglass")), 1);
	assert_true(json_integer_value(json_object_get(c->j, "tree_size")) >
		    json_integer_value(json_object_get(c->j, "leaf_index")));
	done(c);
	assert_int_equal(events(f, "audit-review", 0, NULL), 1);
	assert_int_equal(search(f, "patient=P-001", &c), 200);
	json_t *bg = find_bg(c);
	assert_non_null(bg);
	assert_true(has_flag(bg, "breakglass"));
	assert_false(has_flag(bg, "unreviewed"));
	done(c);
}

/* ---- GET /api/admin/status ---- */

static int admin(struct fx *f, const char *tok, struct call **ret)
{
	struct call *c = req(f, KURA_HTTP_GET, "/api/admin/status", NULL);
	as(c, tok);
	int st = run(c, kura_api_admin);
	*ret = c;
	return st;
}

static json_t *account(const struct call *c, const char *id)
{
	json_t *a;
	size_t i;
	json_array_foreach(json_object_get(c->j, "accounts"), i, a)
		if (strcmp(json_string_value(json_object_get(a, "id")), id) == 0)
			return a;
	return NULL;
}

/* dr.lock: locked by wrong passwords (AU-15); dr.old: created 100 days
 * ago and never used (AC-04). */
static void make_locked_and_dormant(struct fx *f)
{
	char tok[KURA_TOKEN_HEX + 1], csrf[KURA_TOKEN_HEX + 1];
	struct kura_txn *t;
	json_t *a = NULL;
	for (int i = 0; i < 5; i++)
		assert_int_equal(login(f, "dr.lock", "wrong-Password-1", tok, csrf), 401);
	assert_int_equal(login(f, "dr.lock", PW2, tok, csrf), 423);
	assert_int_equal(kura_account_get(f->v, "dr.old", &a), 0);
	json_object_set_new(a, "created_us",
			    json_integer(kura_time_now_us() - 100LL * 86400 * 1000000));
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_account_put(t, a), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
	json_decref(a);
}

static const char *clamav_db(void)
{
	static char path[4096];
	const char *d = getenv("KURA_TEST_DATA");
	snprintf(path, sizeof(path), "%s/clamav", d ? d : "tests/data");
	return path;
}

/* A generation to a directory and a drill from it, recorded as `kura
 * backup run` and `kura drill` record them (backup/status.h). */
static void backup_and_drill(struct fx *f)
{
	struct kura_actor who = {.user = "sec.mori", .role = "security-admin"};
	struct kura_backup_target t = {.name = f->repo};
	struct kura_backup_result res = {0};
	struct kura_restore_result rr = {0};
	struct kura_scanner *scan = NULL;
	struct kura_repo *repo = NULL;
	struct kura_sth live;
	unsigned sigs;
	char err[256];
	uint8_t vid[16];
	kura_vault_id(f->v, vid);
	assert_int_equal(kura_repo_open(f->repo, NULL, 1, vid, &t.repo), 0);
	assert_int_equal(kura_backup_run(f->v, NULL, 0, &t, 1, NULL, &res), 0);
	assert_true(t.ok);
	kura_repo_close(t.repo);
	assert_int_equal(kura_backup_record_run(f->v, &who, &res, &t, 1, 0.5), 0);
	kura_buf_release(&res.manifest);
	assert_int_equal(kura_scan_open(clamav_db(), &scan, &sigs, err), 0);
	struct kura_restore_opts o = {.secret = PASS, .secret_len = strlen(PASS), .scanner = scan};
	assert_int_equal(kura_repo_open(f->repo, NULL, 0, NULL, &repo), 0);
	int64_t t0 = kura_time_now_us();
	int r = kura_restore(repo, f->out, &o, &rr);
	assert_int_equal(r, 0);
	assert_int_equal(kura_vault_sth(f->v, &live), 0);
	struct kura_backup_drill d = {f->repo, &rr, r, (double)(kura_time_now_us() - t0) / 1e6,
				      (double)(live.time_us - rr.sth.time_us) / 1e6,
				      live.tree_size - rr.sth.tree_size, kura_time_now_us()};
	json_t *dj = kura_backup_drill_json(&d);
	assert_int_equal(kura_backup_record_drill(f->v, &who, &d, dj), 0);
	json_decref(dj);
	kura_repo_close(repo);
	kura_scan_close(scan);
}

static void test_admin_status(void **state)
{
	struct fx *f = *state;
	char tok[KURA_TOKEN_HEX + 1], csrf[KURA_TOKEN_HEX + 1];
	struct call *c;
	struct kura_sth sth;
	make_locked_and_dormant(f);
	backup_and_drill(f);
	assert_int_equal(login(f, "sec.mori", PW2, tok, csrf), 200);
	unsigned before = events(f, "list", 0, "admin status");
	assert_int_equal(admin(f, tok, &c), 200);
	assert_int_equal(events(f, "list", 0, "admin status"), before + 1);
	/* Accounts: locked, dormant, factors, never a secret. */
	json_t *lock = account(c, "dr.lock"), *old = account(c, "dr.old"), *me = account(c, "sec.mori");
	assert_non_null(lock);
	assert_non_null(old);
	assert_non_null(me);
	assert_true(json_is_true(json_object_get(lock, "locked")));
	assert_true(json_is_string(json_object_get(lock, "locked_until")));
	assert_true(json_is_true(json_object_get(old, "dormant")));
	assert_true(json_is_null(json_object_get(old, "last_login")));
	assert_true(json_is_false(json_object_get(me, "dormant")));
	assert_true(json_is_false(json_object_get(me, "locked")));
	assert_true(json_is_string(json_object_get(me, "last_login")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(me, "factors"), 0)),
			    "password");
	assert_string_equal(json_string_value(json_object_get(me, "role")), "security-admin");
	assert_null(strstr((char *)c->resp.body.data, "$argon2"));
	/* Roles and the policy in force. */
	json_t *r;
	size_t i;
	int doctor = 0;
	json_array_foreach(json_object_get(c->j, "roles"), i, r)
		if (strcmp(json_string_value(json_object_get(r, "name")), "doctor") == 0) {
			doctor = 1;
			assert_true(json_is_true(json_object_get(r, "breakglass")));
			assert_string_equal(json_string_value(json_object_get(r, "scope")), "care");
		}
	assert_true(doctor);
	json_t *pol = json_object_get(c->j, "policy");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(pol, "lockout"),
							    "max_failures")), 5);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(pol, "session"),
							    "idle_minutes")), 15);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(pol, "password"),
							    "min_length")), 8);
	assert_string_equal(json_string_value(json_object_get(pol, "require_second_factor")), "off");
	assert_true(json_is_null(json_object_get(c->j, "tls"))); /* no server here */
	/* The ledger: its size is the tree size (LG-02). */
	assert_int_equal(kura_vault_sth(f->v, &sth), 0);
	json_t *led = json_object_get(c->j, "ledger");
	json_int_t size = json_integer_value(json_object_get(led, "size"));
	assert_int_equal(size, json_integer_value(json_object_get(json_object_get(led, "sth"),
								  "tree_size")));
	/* The status event came after the answer was made: one leaf more. */
	assert_int_equal((uint64_t)size + 1, sth.tree_size);
	assert_true(json_is_null(json_object_get(led, "last_verify")));
	/* Backups: the generation and the drill, read from the vault. */
	json_t *bk = json_object_get(c->j, "backups");
	json_t *g = json_array_get(json_object_get(bk, "generations"), 0);
	assert_non_null(g);
	assert_int_equal(json_integer_value(json_object_get(g, "id")), 1);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(json_object_get(g, "targets"), 0), "name")), f->repo);
	assert_true(json_is_string(json_object_get(bk, "last_backup")));
	json_t *dr = json_object_get(bk, "last_drill");
	assert_true(json_is_true(json_object_get(dr, "ok")));
	assert_true(json_is_real(json_object_get(dr, "rto_s")));
	assert_int_equal(json_array_size(json_object_get(bk, "checks")), 4);
	assert_true(json_is_false(json_object_get(bk, "ok"))); /* one generation of three */
	/* Alerts: the break-glass, flagged. */
	json_t *al = json_object_get(c->j, "alerts"), *e;
	int seen = 0;
	json_array_foreach(al, i, e) {
		assert_string_equal(json_string_value(json_object_get(e, "severity")), "alert");
		if (strcmp(json_string_value(json_object_get(e, "action")), "breakglass") == 0)
			seen = has_flag(e, "breakglass");
	}
	assert_true(seen);
	done(c);
}

static void test_admin_refused(void **state)
{
	struct fx *f = *state;
	char tok[KURA_TOKEN_HEX + 1], csrf[KURA_TOKEN_HEX + 1];
	struct call *c;
	unsigned before = events(f, "list", KURA_OUTCOME_MINOR, NULL);
	assert_int_equal(login(f, "dr.sato", PW2, tok, csrf), 200);
	assert_int_equal(admin(f, tok, &c), 403);
	assert_null(json_object_get(c->j, "accounts"));
	done(c);
	assert_int_equal(admin(f, f->aud, &c), 403);
	assert_null(json_object_get(c->j, "accounts"));
	done(c);
	assert_int_equal(events(f, "list", KURA_OUTCOME_MINOR, NULL), before + 2);
	c = req(f, KURA_HTTP_POST, "/api/admin/status", NULL);
	assert_int_equal(run(c, kura_api_admin), 405);
	done(c);
	c = req(f, KURA_HTTP_GET, "/api/admin/other", NULL);
	assert_int_equal(run(c, kura_api_admin), 404);
	done(c);
}

/* A server certificate for kura.example.jp from a new local CA, at path. */
static void server_cert(const char *path)
{
	static const char *const hosts[] = {"kura.example.jp"};
	struct kura_cert_req rq = {KURA_CERT_SERVER, "kura.example.jp", hosts, 1, NULL, 30};
	struct kura_buf cak, cac, k, c;
	kura_buf_init(&cak, 1 << 16), kura_buf_init(&cac, 1 << 16);
	kura_buf_init(&k, 1 << 16), kura_buf_init(&c, 1 << 16);
	assert_int_equal(kura_x509_make_ca("kura test CA", 30, &cak, &cac), 0);
	assert_int_equal(kura_x509_issue(cac.data, cac.len, cak.data, cak.len, &rq, &k, &c), 0);
	assert_int_equal(kura_fs_write_atomic(path, c.data, c.len, 0600), 0);
	kura_buf_release(&cak), kura_buf_release(&cac), kura_buf_release(&k), kura_buf_release(&c);
}

/* GET /api/admin/status in a server with cfg: its "tls" member (owned
 * by the call, which the caller ends). */
static json_t *tls_of(struct fx *f, const char *tok, struct kura_serve_config *cfg,
		      struct call **ret)
{
	f->th.cfg = cfg;
	assert_int_equal(admin(f, tok, ret), 200);
	f->th.cfg = NULL;
	return json_object_get((*ret)->j, "tls");
}

/* With a server's configuration: the TLS policy in force (TLS-01..05). */
static void test_admin_tls(void **state)
{
	struct fx *f = *state;
	struct kura_serve_config cfg;
	char tok[KURA_TOKEN_HEX + 1], csrf[KURA_TOKEN_HEX + 1];
	struct call *c;
	kura_serve_config_default(&cfg);
	assert_int_equal(kura_serve_parse_listen("127.0.0.1:8443 mtls=optional", &cfg.listen[0]), 0);
	assert_int_equal(kura_serve_parse_listen("[::1]:9443 mtls=off", &cfg.listen[1]), 0);
	cfg.nlisten = 2;
	snprintf(cfg.cert, sizeof(cfg.cert), "%s/no-such-cert.pem", f->dir);
	assert_int_equal(login(f, "sec.mori", PW2, tok, csrf), 200);
	json_t *tls = tls_of(f, tok, &cfg, &c);
	assert_string_equal(json_string_value(json_array_get(json_object_get(tls, "protocols"), 0)),
			    "TLSv1.3");
	assert_int_equal(json_array_size(json_object_get(tls, "protocols")), 2);
	assert_int_equal(json_array_size(json_object_get(tls, "tls13_suites")), 3);
	assert_int_equal(json_array_size(json_object_get(tls, "tls12_ciphers")), 8);
	assert_string_equal(json_string_value(json_array_get(json_object_get(tls, "groups"), 0)),
			    "P-256");
	assert_int_equal(json_integer_value(json_object_get(tls, "security_level")), 2);
	json_t *l = json_object_get(tls, "listeners");
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "mtls")),
			    "optional");
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 1), "mtls")), "off");
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 1), "address")),
			    "[::1]:9443");
	assert_true(json_is_null(json_object_get(tls, "certificate"))); /* unreadable */
	done(c);
	snprintf(cfg.cert, sizeof(cfg.cert), "%s/server.pem", f->dir);
	server_cert(cfg.cert);
	json_t *cert = json_object_get(tls_of(f, tok, &cfg, &c), "certificate");
	assert_string_equal(json_string_value(json_object_get(cert, "key")), "EC P-256");
	assert_non_null(strstr(json_string_value(json_object_get(cert, "subject")),
			       "CN=kura.example.jp"));
	assert_true(json_is_string(json_object_get(cert, "not_after")));
	assert_int_equal(strlen(json_string_value(json_object_get(cert, "fingerprint"))), 64);
	done(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_search_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_review, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_tls, setup, teardown),
	};
	kura_crypto_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
