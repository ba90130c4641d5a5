/*
 * test_account.c - accounts, logins, second factors, lockout, sessions and
 * authorization through the library (AU-01..15, AC-01..04, BG-02/03),
 * with every decision checked against the audit events it left.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth/access.h"
#include "auth/auth.h"
#include "auth/totp.h"
#include "util/time.h"
#include "vault/verify.h"

#define PASS "correct horse battery staple"
#define PW1 "Init-Pw-x7#q2Lm"
#define PW2 "Zq7#vN2$kLp9@wR"

struct fx {
	char dir[64];
	struct kura_vault *v;
	struct kura_actor where;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kura_kdf_params kdf = {1, 8 * 1024};
	struct kura_sth sth;
	struct kura_txn *t;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kura-acct-XXXXXX");
	if (!mkdtemp(f->dir) || kura_vault_init(f->dir, PASS, strlen(PASS), &kdf, &sth) ||
	    kura_vault_open(f->dir, PASS, strlen(PASS), 0, &f->v) || kura_txn_begin(f->v, &t))
		return -1;
	/* fast hashes for tests */
	if (kura_setting_set(t, "password.argon2_ops", "1") ||
	    kura_setting_set(t, "password.argon2_mem_mib", "8") || kura_txn_commit(t, NULL))
		return -1;
	memcpy(f->where.terminal, "unit", 5);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	kura_vault_close(f->v);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Add an account and make its first password change, as its user would. */
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

static int login(struct fx *f, const char *user, const char *pw, const char *otp,
		 struct kura_identity *id)
{
	char tok[KURA_TOKEN_HEX + 1];
	struct kura_login in = {user, pw, pw ? strlen(pw) : 0, otp, NULL, NULL};
	return kura_auth_login(f->v, &in, &f->where, id, tok);
}

/* How many events of this action and outcome exist. */
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

static void test_factor_types(void **state)
{
	(void)state;
	/* AU-13: two possession factors are one type. */
	assert_int_equal(kura_factor_types(KURA_FACTOR_PASSWORD), 1);
	assert_int_equal(kura_factor_types(KURA_FACTOR_TOTP | KURA_FACTOR_CERT), 1);
	assert_int_equal(kura_factor_types(KURA_FACTOR_PASSWORD | KURA_FACTOR_TOTP), 2);
	assert_int_equal(kura_factor_types(KURA_FACTOR_PASSWORD | KURA_FACTOR_CERT |
					   KURA_FACTOR_TOTP), 2);
}

static void test_first_login_must_change(void **state)
{
	struct fx *f = *state;
	struct kura_txn *t;
	struct kura_identity id;
	struct kura_account_spec s = {"nurse.ito", "", "", "nurse", "ward3", 0};
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_account_add(t, &s, PW1, strlen(PW1)), 0);
	assert_int_equal(kura_account_add(t, &s, PW1, strlen(PW1)), KURA_EEXIST);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
	assert_int_equal(login(f, "nurse.ito", PW1, NULL, &id), 0);
	assert_true(id.must_change); /* AU-11 */
	const char *why = NULL;
	assert_int_equal(kura_authz_check(f->v, &id, KURA_ACT_READ, "P1", "Observation", NULL, &why),
			 KURA_EDENIED);
	assert_int_equal(events(f, "login", 0), 1);
}

static void test_wrong_password_and_lockout(void **state)
{
	struct fx *f = *state;
	struct kura_identity id;
	add(f, "dr.sato", "doctor", "internal");
	for (int i = 0; i < 4; i++)
		assert_int_equal(login(f, "dr.sato", "wrong-password-1!", NULL, &id), KURA_EAUTH);
	assert_int_equal(events(f, "lockout", -1), 0);
	assert_int_equal(login(f, "dr.sato", "wrong-password-1!", NULL, &id), KURA_EAUTH);
	assert_int_equal(events(f, "lockout", -1), 1); /* the 5th failure locks (AU-15) */
	/* locked: even the right password is refused, and that is recorded */
	assert_int_equal(login(f, "dr.sato", PW2, NULL, &id), KURA_ELOCKED);
	assert_int_equal(events(f, "login-failed", 4), 6);
	struct kura_txn *t;
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_account_unlock(t, "dr.sato"), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
	assert_int_equal(login(f, "dr.sato", PW2, NULL, &id), 0);
	assert_false(id.must_change);
	/* an unknown account is a plain failure, recorded too */
	assert_int_equal(login(f, "nobody", PW2, NULL, &id), KURA_EAUTH);
	assert_int_equal(events(f, "login-failed", 4), 7);
}

static void test_totp_login_and_replay(void **state)
{
	struct fx *f = *state;
	struct kura_identity id;
	struct kura_txn *t;
	uint8_t secret[KURA_TOTP_SECRET_LEN];
	uint32_t code;
	char otp[16];
	add(f, "aud.kato", "auditor", "");
	/* privileged without a factor: may log in only to enrol one */
	assert_int_equal(login(f, "aud.kato", PW2, NULL, &id), 0);
	assert_true(id.must_enroll);
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_account_totp_enroll(t, "aud.kato", secret, sizeof(secret)), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
	/* now the code is required */
	assert_int_equal(login(f, "aud.kato", PW2, NULL, &id), KURA_EAUTH);
	assert_int_equal(login(f, "aud.kato", PW2, "000000", &id) == 0, 0);
	int64_t now = kura_time_now_us() / 1000000;
	assert_int_equal(kura_totp_at(secret, sizeof(secret), now, 30, 6, &code), 0);
	snprintf(otp, sizeof(otp), "%06u", code);
	int r = login(f, "aud.kato", PW2, otp, &id);
	if (r == KURA_EAUTH) { /* the step turned between the two calls */
		kura_totp_at(secret, sizeof(secret), kura_time_now_us() / 1000000, 30, 6, &code);
		snprintf(otp, sizeof(otp), "%06u", code);
		r = login(f, "aud.kato", PW2, otp, &id);
	}
	assert_int_equal(r, 0);
	assert_int_equal(kura_factor_types(id.factors), 2);
	assert_false(id.must_enroll);
	/* the same code again: refused (each code once) */
	assert_int_equal(login(f, "aud.kato", PW2, otp, &id), KURA_EAUTH);
}

static void test_sessions(void **state)
{
	struct fx *f = *state;
	struct kura_identity id, again;
	char tok[KURA_TOKEN_HEX + 1];
	struct kura_login in = {"dr.sato", PW2, strlen(PW2), NULL, NULL, NULL};
	add(f, "dr.sato", "doctor", "internal");
	assert_int_equal(kura_auth_login(f->v, &in, &f->where, &id, tok), 0);
	assert_int_equal(kura_auth_resume(f->v, tok, &f->where, &again), 0);
	assert_string_equal(again.actor.user, "dr.sato");
	/* a forged token is refused */
	char bad[KURA_TOKEN_HEX + 1];
	memcpy(bad, tok, sizeof(bad));
	bad[0] = bad[0] == 'a' ? 'b' : 'a';
	assert_int_equal(kura_auth_resume(f->v, bad, &f->where, &again), KURA_EAUTH);
	/* a password change ends every session (AC-01) */
	struct kura_txn *t;
	int reason;
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_account_set_password(t, "dr.sato", "Fresh#Pw-8tR2vX", 15, 1, &reason), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
	assert_int_equal(kura_auth_resume(f->v, tok, &f->where, &again), KURA_EEXPIRED);
	assert_int_equal(events(f, "session-expired", 4), 1);
	/* reusing a recent password is refused (AU-09) */
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_account_set_password(t, "dr.sato", PW2, strlen(PW2), 1, &reason),
			 KURA_EPOLICY);
	kura_txn_abort(t);
}

static void put_as(struct fx *f, struct kura_identity *id, const char *patient, char *ret_rec)
{
	struct kura_access a = {f->v, id, NULL, NULL, NULL};
	struct kura_write w = {id->actor.user, NULL, "", 1, NULL};
	struct kura_written out;
	const char *c = "{\"resourceType\":\"Observation\",\"status\":\"final\"}";
	assert_int_equal(kura_access_put(&a, patient, "Observation", "application/fhir+json",
					 (const uint8_t *)c, strlen(c), &w, &out), 0);
	memcpy(ret_rec, out.record_id, sizeof(out.record_id));
}

static int read_as(struct fx *f, struct kura_identity *id, const char *rec)
{
	struct kura_access a = {f->v, id, NULL, NULL, NULL};
	struct kura_leaf l;
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_CONTENT);
	int r = kura_access_get(&a, rec, 0, KURA_ACT_READ, &l, &b);
	kura_buf_release(&b);
	return r;
}

static void test_scope(void **state)
{
	struct fx *f = *state;
	struct kura_identity sato, tanaka, admin, clerk;
	struct kura_txn *t;
	char rec[KURA_RECORD_ID_LEN + 1];
	add(f, "dr.sato", "doctor", "internal");
	add(f, "dr.tanaka", "doctor", "surgery");
	add(f, "clerk.ono", "clerk", "internal");
	add(f, "sec.admin", "security-admin", "");
	assert_int_equal(login(f, "dr.sato", PW2, NULL, &sato), 0);
	assert_int_equal(login(f, "dr.tanaka", PW2, NULL, &tanaka), 0);
	assert_int_equal(login(f, "clerk.ono", PW2, NULL, &clerk), 0);
	assert_int_equal(kura_auth_login(f->v, &(struct kura_login){"sec.admin", PW2, strlen(PW2), NULL, NULL, NULL},
					 &f->where, &admin, (char[KURA_TOKEN_HEX + 1]){0}), 0);
	admin.must_enroll = 0; /* as if enrolled: the role alone must refuse */
	put_as(f, &sato, "P1", rec); /* registers P1 in internal medicine */
	assert_int_equal(read_as(f, &sato, rec), 0);
	assert_int_equal(read_as(f, &tanaka, rec), KURA_EDENIED);  /* other department */
	assert_int_equal(read_as(f, &clerk, rec), KURA_EDENIED);   /* clinical type */
	assert_int_equal(read_as(f, &admin, rec), KURA_EDENIED);   /* no clinical content */
	unsigned denied = events(f, "read", 4);
	assert_int_equal(denied, 3);
	/* a care relationship opens it */
	json_t *care = json_pack("{s:s, s:I, s:I, s:b}", "by", "sec.admin", "from_us",
				 (json_int_t)kura_time_now_us(), "until_us", (json_int_t)0, "ended", 0);
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_state_put(t, "care", "dr.tanaka/P1", care), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
	json_decref(care);
	assert_int_equal(read_as(f, &tanaka, rec), 0);
	/* restricted: department and care no longer suffice, a grant does */
	json_t *p = json_pack("{s:s, s:b}", "departments", "internal", "restricted", 1);
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_state_put(t, "patient", "P1", p), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
	json_decref(p);
	assert_int_equal(read_as(f, &sato, rec), KURA_EDENIED);
	assert_int_equal(read_as(f, &tanaka, rec), KURA_EDENIED);
	json_t *g = json_pack("{s:s, s:I, s:s}", "by", "sec.admin", "until_us", (json_int_t)0,
			      "reason", "attending physician");
	assert_int_equal(kura_txn_begin(f->v, &t), 0);
	assert_int_equal(kura_state_put(t, "grant", "dr.sato/P1", g), 0);
	assert_int_equal(kura_txn_commit(t, NULL), 0);
	json_decref(g);
	assert_int_equal(read_as(f, &sato, rec), 0);
	/* every event is in the ledger: verify passes */
	struct kura_verify_opts vo = {NULL, NULL, NULL, NULL, 0};
	struct kura_verify_report rep;
	assert_int_equal(kura_vault_verify(f->v, &vo, &rep), 0);
	assert_true(rep.events > 10);
	assert_true(rep.state_rows > 5);
}

static void test_state_mac(void **state)
{
	struct fx *f = *state;
	struct kura_store *s = kura_vault_store(f->v);
	struct kura_buf b;
	uint8_t mac[KURA_HASH_LEN];
	json_t *a = NULL;
	add(f, "dr.sato", "doctor", "internal");
	/* someone with the database raises the account's role */
	kura_buf_init(&b, 1 << 20);
	assert_int_equal(s->ops->state_get(s, "account", "dr.sato", &b, mac), 0);
	char *text = (char *)b.data, *at = strstr(text, "\"doctor\"");
	assert_non_null(at);
	memcpy(at, "\"system\"", 8);
	assert_int_equal(s->ops->txn_begin(s, 1), 0);
	assert_int_equal(s->ops->state_put(s, "account", "dr.sato", b.data, b.len, mac), 0);
	assert_int_equal(s->ops->txn_commit(s), 0);
	kura_buf_release(&b);
	assert_int_equal(kura_account_get(f->v, "dr.sato", &a), KURA_ECORRUPT);
	struct kura_identity id;
	assert_int_equal(login(f, "dr.sato", PW2, NULL, &id), KURA_ECORRUPT);
	struct kura_verify_opts vo = {NULL, NULL, NULL, NULL, 0};
	struct kura_verify_report rep;
	assert_int_equal(kura_vault_verify(f->v, &vo, &rep), KURA_EVERIFY);
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_factor_types),
		cmocka_unit_test_setup_teardown(test_first_login_must_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password_and_lockout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totp_login_and_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_mac, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
