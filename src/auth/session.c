/*
 * session.c - logins and sessions (AU-01..03, AU-13, AU-15, AC-01, BG-03).
 *
 * A login is decided and recorded in one transaction: the outcome (login,
 * login-failed, lockout) is an audit event committed whatever the answer,
 * together with the failure counter, so a guess cannot go unrecorded.
 * A session is a random 256-bit token given to the client; the vault keeps
 * only its SHA-256 (as the state key) with its limits.
 */
#include <string.h>

#include "auth/auth_int.h"
#include "auth/totp.h"
#include "fhir/import.h"
#include "util/time.h"
#include "util/banned.h"

#define MIN_US 60000000LL
#define TOUCH_US (MIN_US / 2) /* a session's last use is kept to this */

static int64_t jint(const json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* Fill an identity from an account (role rules, departments). */
static int identity_from(struct kura_vault *v, const json_t *a, struct kura_identity *id)
{
	const char *deps = jstr(a, "departments");
	KURA_AUDIT_SET(id->actor.user, jstr(a, "id"));
	KURA_AUDIT_SET(id->actor.role, jstr(a, "role"));
	id->ndepartments = 0;
	while (*deps && id->ndepartments < KURA_MAX_DEPTS) {
		size_t n = strcspn(deps, ",");
		if (n > KURA_MAX_DEPT)
			return KURA_ECORRUPT;
		memcpy(id->departments[id->ndepartments], deps, n);
		id->departments[id->ndepartments++][n] = 0;
		deps += n + (deps[n] == ',');
	}
	return kura_role_get(v, jstr(a, "role"), &id->role);
}

/* Why an account cannot log in now, or NULL; disables an emergency account
 * whose window has closed (BG-03). */
static const char *unusable(json_t *a, int64_t now, int *changed)
{
	if (json_is_true(json_object_get(a, "emergency")) && strcmp(jstr(a, "status"), "active") == 0 &&
	    jint(a, "emergency_until_us") <= now) {
		json_object_set_new(a, "status", json_string("disabled"));
		json_object_set_new(a, "epoch", json_integer(jint(a, "epoch") + 1));
		*changed = 1;
		return "emergency window closed";
	}
	if (strcmp(jstr(a, "status"), "active") != 0)
		return "account disabled";
	if (jint(a, "locked_until_us") > now)
		return "account locked";
	return NULL;
}

struct attempt {
	struct kura_vault *v;
	const struct kura_login *in;
	json_t *a;
	int64_t now;
	unsigned factors;
	const char *why;
	int must_enroll; /* a second factor is required but none is enrolled yet */
};

static int check_totp(struct attempt *at)
{
	json_t *t = json_object_get(at->a, "totp");
	uint8_t secret[64];
	size_t n = 0;
	int64_t step = -1;
	struct kura_buf label;
	kura_buf_init(&label, 256);
	int r = kura_buf_printf(&label, "totp:%s", jstr(at->a, "id"));
	if (!r)
		r = kura_state_open(at->v, (char *)label.data, jstr(t, "secret"), secret, sizeof(secret), &n);
	if (!r)
		r = kura_totp_verify(secret, n, at->in->totp, at->now / 1000000, jint(t, "last_step"), &step);
	kura_wipe(secret, sizeof(secret));
	kura_buf_release(&label);
	if (r == KURA_EAUTH || r == KURA_EINVAL) {
		at->why = "wrong or reused one-time code";
		return KURA_EAUTH;
	}
	if (!r) {
		/* Each code is accepted once: its step is spent now. */
		json_object_set_new(t, "last_step", json_integer(step));
		at->factors |= KURA_FACTOR_TOTP;
	}
	return r;
}

static int check_recovery(struct attempt *at)
{
	char norm[KURA_RECOVERY_CHARS + 1], hex[2 * KURA_HASH_LEN + 1];
	json_t *list = json_object_get(at->a, "recovery"), *x;
	size_t i;
	int r = kura_recovery_normalize(at->in->recovery, norm);
	if (!r)
		r = kura_state_digest(at->v, jstr(at->a, "id"), norm, strlen(norm), hex);
	kura_wipe(norm, sizeof(norm));
	if (r) {
		at->why = "invalid recovery code";
		return KURA_EAUTH;
	}
	json_array_foreach(list, i, x) {
		if (json_string_value(x) && kura_ct_equal(json_string_value(x), hex, 64)) {
			json_array_remove(list, i); /* one-time */
			at->factors |= KURA_FACTOR_RECOVERY;
			return 0;
		}
	}
	at->why = "unknown or used recovery code";
	return KURA_EAUTH;
}

static int cert_mapped(const json_t *a, const char *fp)
{
	json_t *x;
	size_t i;
	json_array_foreach(json_object_get(a, "certs"), i, x)
		if (strlen(fp) == 64 && kura_ct_equal(jstr(x, "fp"), fp, 64))
			return 1;
	return 0;
}

/* Does this account need a second factor? (AU-12; setting
 * auth.require_second_factor: all, privileged (security-admin, auditor,
 * system) or off.)  An account that enrolled one always needs it. */
static int needs_second(struct attempt *at)
{
	struct kura_buf b;
	const char *role = jstr(at->a, "role");
	kura_buf_init(&b, 64);
	int r = kura_setting_get(at->v, "auth.require_second_factor", &b);
	const char *mode = r == 0 && b.data ? (char *)b.data : "privileged";
	int need = strcmp(mode, "all") == 0 ||
		   (strcmp(mode, "privileged") == 0 &&
		    (strcmp(role, "security-admin") == 0 || strcmp(role, "auditor") == 0));
	kura_buf_release(&b);
	return need || kura_account_factors(at->a) != 0;
}

/* The first factor: a mapped certificate and/or the password. */
static int first_factor(struct attempt *at)
{
	const struct kura_login *in = at->in;
	if (in->cert_fp && cert_mapped(at->a, in->cert_fp))
		at->factors |= KURA_FACTOR_CERT;
	else if (in->cert_fp) {
		at->why = "certificate not mapped to this account";
		return KURA_EAUTH;
	}
	if (!in->password)
		return 0;
	if (kura_pw_verify(jstr(at->a, "password"), in->password, in->password_len)) {
		at->why = "wrong password";
		return KURA_EAUTH;
	}
	at->factors |= KURA_FACTOR_PASSWORD;
	return 0;
}

/* The factors: password (knowledge), then one possession factor. */
static int check_factors(struct attempt *at)
{
	const struct kura_login *in = at->in;
	int machine = strcmp(jstr(at->a, "role"), "system") == 0;
	int r = first_factor(at);
	if (!r && in->totp && json_object_get(at->a, "totp"))
		r = check_totp(at);
	else if (!r && in->recovery && json_array_size(json_object_get(at->a, "recovery")))
		r = check_recovery(at);
	if (r)
		return r;
	/* A machine may use its certificate alone; a person's certificate
	 * (an IC card) counts only with a password or PIN (AU-03). */
	if (!(at->factors & KURA_FACTOR_PASSWORD) && !(machine && (at->factors & KURA_FACTOR_CERT))) {
		at->why = "password required";
		return KURA_EAUTH;
	}
	if (machine || !needs_second(at) || kura_factor_types(at->factors) >= 2)
		return 0;
	/* Nothing enrolled yet: the session may only enrol a second factor
	 * (and change the password), like a first login (AU-12). */
	if (kura_account_factors(at->a) == 0) {
		at->must_enroll = 1;
		return 0;
	}
	at->why = "second factor required";
	return KURA_EAUTH;
}

/* A failed attempt: count it, lock at the limit (AU-15), audit both. */
static int record_failure(struct kura_txn *t, struct attempt *at, const struct kura_actor *where)
{
	struct kura_event e;
	int64_t max = kura_setting_int(at->v, "auth.max_failures", 5);
	int64_t lock_min = kura_setting_int(at->v, "auth.lockout_minutes", 15);
	int64_t fails = jint(at->a, "failures") + 1;
	int r = 0;
	json_object_set_new(at->a, "failures", json_integer(fails));
	if (fails >= max && jint(at->a, "locked_until_us") <= at->now) {
		json_object_set_new(at->a, "locked_until_us", json_integer(at->now + lock_min * MIN_US));
		kura_audit_event(&e, where, "lockout");
		KURA_AUDIT_SET(e.actor, jstr(at->a, "id"));
		KURA_AUDIT_SET(e.role, jstr(at->a, "role"));
		e.severity = KURA_SEV_WARNING;
		snprintf(e.detail, sizeof(e.detail), "%lld consecutive failures; locked %lld min",
			 (long long)fails, (long long)lock_min);
		r = kura_txn_event(t, &e, NULL);
	}
	return r ? r : kura_account_put(t, at->a);
}

static int new_session(struct kura_txn *t, struct attempt *at, const struct kura_actor *where,
		       struct kura_identity *id, char token[KURA_TOKEN_HEX + 1])
{
	uint8_t raw[32], h[KURA_HASH_LEN];
	kura_random(raw, sizeof(raw));
	kura_hex_encode(raw, sizeof(raw), token);
	kura_sha256(token, KURA_TOKEN_HEX, h);
	kura_hex_encode(h, sizeof(h), id->session);
	kura_wipe(raw, sizeof(raw));
	int64_t hours = kura_setting_int(at->v, "auth.session_hours", 12);
	int64_t age = jint(at->a, "max_age_days");
	int expired = age > 0 && jint(at->a, "password_set_us") + age * 86400LL * 1000000 < at->now;
	id->must_change = json_is_true(json_object_get(at->a, "must_change")) || expired;
	id->must_enroll = at->must_enroll;
	id->factors = at->factors;
	json_t *s = json_pack("{s:s, s:I, s:I, s:I, s:I, s:i, s:b, s:b, s:s, s:s}", "user",
			      jstr(at->a, "id"), "created_us", (json_int_t)at->now, "last_us",
			      (json_int_t)at->now, "expires_us", (json_int_t)(at->now + hours * 60 * MIN_US),
			      "epoch", (json_int_t)jint(at->a, "epoch"), "factors", (int)at->factors,
			      "must_change", id->must_change, "must_enroll", id->must_enroll,
			      "terminal", where->terminal,
			      "client_ip", where->client_ip);
	int r = s ? kura_state_put(t, "session", id->session, s) : KURA_ENOMEM;
	json_decref(s);
	return r;
}

static int login_event(struct kura_txn *t, const struct kura_actor *where, const char *user,
		       const char *role, const char *why, unsigned factors)
{
	struct kura_event e;
	kura_audit_event(&e, where, why ? "login-failed" : "login");
	KURA_AUDIT_SET(e.actor, user);
	KURA_AUDIT_SET(e.role, role);
	if (why) {
		e.outcome = KURA_OUTCOME_MINOR;
		e.severity = KURA_SEV_WARNING;
		KURA_AUDIT_SET(e.detail, why);
	} else
		snprintf(e.detail, sizeof(e.detail), "factors: %s%s%s%s",
			 factors & KURA_FACTOR_PASSWORD ? "password " : "",
			 factors & KURA_FACTOR_TOTP ? "totp " : "",
			 factors & KURA_FACTOR_CERT ? "certificate " : "",
			 factors & KURA_FACTOR_RECOVERY ? "recovery-code" : "");
	return kura_txn_event(t, &e, NULL);
}

/* The password's hash was made with other Argon2id parameters than the
 * policy's now: hash it again, with the password just proven (AU-05). */
static int rehash(struct attempt *at)
{
	struct kura_pw_policy p;
	char hash[KURA_PWHASH_STRLEN];
	if (!(at->factors & KURA_FACTOR_PASSWORD))
		return 0;
	auth_policy(at->v, &p);
	if (!kura_pw_needs_rehash(&p, jstr(at->a, "password")))
		return 0;
	int r = kura_pw_hash(&p, at->in->password, at->in->password_len, hash);
	if (!r)
		json_object_set_new(at->a, "password", json_string(hash));
	kura_wipe(hash, sizeof(hash));
	return r;
}

/* A login that passed: reset the counter, rehash, open the session. */
static int succeed(struct kura_txn *t, struct attempt *at, const struct kura_actor *where,
		   struct kura_identity *id, char *token)
{
	int r;
	json_object_set_new(at->a, "failures", json_integer(0));
	json_object_set_new(at->a, "last_login_us", json_integer(at->now));
	if ((r = rehash(at)) || (r = identity_from(at->v, at->a, id)) ||
	    (r = kura_account_put(t, at->a)) || (r = new_session(t, at, where, id, token)))
		return r;
	return login_event(t, where, jstr(at->a, "id"), jstr(at->a, "role"), NULL, at->factors);
}

/* Decide inside t; returns the answer for the caller, while t always
 * gets committed with what happened. */
static int decide(struct kura_txn *t, struct attempt *at, const struct kura_actor *where,
		  struct kura_identity *id, char *token, int *ret_answer)
{
	int changed = 0, r;
	const char *user = kura_valid_id(at->in->user) ? at->in->user : "";
	*ret_answer = KURA_EAUTH;
	if ((r = kura_account_get(at->v, user, &at->a)) == KURA_ENOTFOUND || r == KURA_EINVAL)
		return login_event(t, where, user, "", "unknown account", 0);
	if (r)
		return r;
	if ((at->why = unusable(at->a, at->now, &changed))) {
		*ret_answer = KURA_ELOCKED;
		r = changed ? kura_account_put(t, at->a) : 0;
		return r ? r : login_event(t, where, user, jstr(at->a, "role"), at->why, 0);
	}
	if ((*ret_answer = check_factors(at))) {
		r = at->factors || strcmp(at->why, "second factor required") != 0
			    ? record_failure(t, at, where) : 0;
		return r ? r : login_event(t, where, user, jstr(at->a, "role"), at->why, 0);
	}
	return succeed(t, at, where, id, token);
}

int kura_auth_login(struct kura_vault *v, const struct kura_login *in, struct kura_actor *where,
		    struct kura_identity *ret, char ret_token[KURA_TOKEN_HEX + 1])
{
	struct attempt at = {v, in, NULL, kura_time_now_us(), 0, NULL, 0};
	struct kura_txn *t;
	int answer = KURA_EAUTH;
	memset(ret, 0, sizeof(*ret));
	ret->actor = *where;
	ret_token[0] = 0;
	int r = kura_txn_begin(v, &t);
	if (r)
		return r;
	r = decide(t, &at, where, ret, ret_token, &answer);
	json_decref(at.a);
	if (r) {
		kura_txn_abort(t);
		return r;
	}
	r = kura_txn_commit(t, NULL);
	if (r || answer) {
		kura_wipe(ret_token, KURA_TOKEN_HEX + 1);
		memset(ret->session, 0, sizeof(ret->session));
	}
	return r ? r : answer;
}

/* Why a session cannot be used now, or NULL. */
static const char *session_stale(struct kura_vault *v, const json_t *s, const json_t *a,
				 int64_t now)
{
	int64_t idle = kura_setting_int(v, "auth.idle_minutes", 15);
	int changed = 0;
	if (json_is_true(json_object_get(s, "ended")))
		return "session ended";
	if (jint(s, "expires_us") <= now)
		return "session over its absolute lifetime";
	if (jint(s, "last_us") + idle * MIN_US <= now)
		return "session idle too long";
	if (jint(s, "epoch") != jint(a, "epoch"))
		return "password, role or status changed since login";
	return unusable((json_t *)a, now, &changed);
}

static int end_session(struct kura_txn *t, const char *key, json_t *s)
{
	json_object_set_new(s, "ended", json_true());
	return kura_state_put(t, "session", key, s);
}

/* An unusable session: end it and record why, in its own transaction. */
static int expire(struct kura_vault *v, const char *key, json_t *s, const struct kura_actor *where,
		  const char *why)
{
	struct kura_txn *t;
	struct kura_event e;
	int r = kura_txn_begin(v, &t);
	if (r)
		return r;
	kura_audit_event(&e, where, "session-expired");
	KURA_AUDIT_SET(e.actor, jstr(s, "user"));
	KURA_AUDIT_SET(e.detail, why);
	e.outcome = KURA_OUTCOME_MINOR;
	e.severity = KURA_SEV_WARNING;
	r = json_is_true(json_object_get(s, "ended")) ? 0 : end_session(t, key, s);
	if (!r)
		r = kura_txn_event(t, &e, NULL);
	r = kura_txn_finish(t, r, NULL);
	return r ? r : KURA_EEXPIRED;
}

int kura_auth_resume(struct kura_vault *v, const char *token, struct kura_actor *where,
		     struct kura_identity *ret)
{
	uint8_t h[KURA_HASH_LEN];
	char key[KURA_TOKEN_HEX + 1];
	json_t *s = NULL, *a = NULL;
	memset(ret, 0, sizeof(*ret));
	ret->actor = *where;
	if (strlen(token) != KURA_TOKEN_HEX)
		return KURA_EAUTH;
	kura_sha256(token, KURA_TOKEN_HEX, h);
	kura_hex_encode(h, sizeof(h), key);
	int r = kura_state_get(v, "session", key, &s);
	if (r == KURA_ENOTFOUND)
		r = KURA_EAUTH;
	if (!r)
		r = kura_account_get(v, jstr(s, "user"), &a);
	if (!r) {
		const char *why = session_stale(v, s, a, kura_time_now_us());
		r = why ? expire(v, key, s, where, why) : identity_from(v, a, ret);
	}
	if (!r) {
		memcpy(ret->session, key, sizeof(key));
		ret->factors = (unsigned)jint(s, "factors");
		ret->must_change = json_is_true(json_object_get(s, "must_change"));
		ret->must_enroll = json_is_true(json_object_get(s, "must_enroll"));
	}
	json_decref(s);
	json_decref(a);
	return r;
}

int kura_auth_touch(struct kura_txn *t, const struct kura_identity *id)
{
	json_t *s = NULL;
	if (!id->session[0])
		return 0;
	int r = kura_state_get(kura_txn_vault(t), "session", id->session, &s);
	int64_t now = kura_time_now_us();
	/* The idle limit counts minutes: a use within the last one need not be
	 * written again (one row write less per audited read). */
	if (!r && now - jint(s, "last_us") >= TOUCH_US) {
		json_object_set_new(s, "last_us", json_integer(now));
		r = kura_state_put(t, "session", id->session, s);
	}
	json_decref(s);
	return r;
}

int kura_auth_logout(struct kura_vault *v, const struct kura_identity *id)
{
	struct kura_txn *t;
	struct kura_event e;
	json_t *s = NULL;
	int r = kura_state_get(v, "session", id->session, &s);
	if (!r)
		r = kura_txn_begin(v, &t);
	if (r) {
		json_decref(s);
		return r;
	}
	kura_audit_event(&e, &id->actor, "logout");
	r = end_session(t, id->session, s);
	if (!r)
		r = kura_txn_event(t, &e, NULL);
	json_decref(s);
	return kura_txn_finish(t, r, NULL);
}

struct end_ctx {
	const char *user;
	json_t *keys; /* sessions to end, collected first: no writes mid-scan */
};

static int end_if_user(void *ctx, const char *key, json_t *s)
{
	struct end_ctx *c = ctx;
	if (strcmp(jstr(s, "user"), c->user) == 0 && !json_is_true(json_object_get(s, "ended")))
		return json_array_append_new(c->keys, json_string(key)) ? KURA_ENOMEM : 0;
	return 0;
}

int kura_auth_end_sessions(struct kura_txn *t, const char *user)
{
	struct kura_vault *v = kura_txn_vault(t);
	struct end_ctx c = {user, json_array()};
	json_t *k;
	size_t i;
	int r = c.keys ? kura_state_scan(v, "session", end_if_user, &c) : KURA_ENOMEM;
	json_array_foreach(c.keys, i, k) {
		json_t *s = NULL;
		if (!r)
			r = kura_state_get(v, "session", json_string_value(k), &s);
		if (!r)
			r = end_session(t, json_string_value(k), s);
		json_decref(s);
	}
	json_decref(c.keys);
	return r;
}

int kura_auth_reverify(struct kura_vault *v, const struct kura_identity *id, const char *pw,
		       size_t len)
{
	struct kura_login in = {id->actor.user, pw, len, NULL, NULL, NULL};
	struct attempt at = {v, &in, NULL, kura_time_now_us(), 0, "wrong password", 0};
	struct kura_txn *t;
	int r = kura_account_get(v, id->actor.user, &at.a);
	if (!r && kura_pw_verify(jstr(at.a, "password"), pw, len) == 0) {
		json_decref(at.a);
		return 0;
	}
	if (!r)
		r = kura_txn_begin(v, &t);
	if (!r) {
		/* A guess made through an open session counts like a login's
		 * (AU-15): the counter, the lockout and the event. */
		r = record_failure(t, &at, &id->actor);
		if (!r)
			r = login_event(t, &id->actor, id->actor.user, id->actor.role,
					"wrong password (re-entered to change it)", 0);
		r = kura_txn_finish(t, r, NULL);
	}
	json_decref(at.a);
	return r ? r : KURA_EAUTH;
}

int kura_auth_keep_session(struct kura_txn *t, struct kura_identity *id, int must_change,
			   int must_enroll)
{
	struct kura_vault *v = kura_txn_vault(t);
	json_t *s = NULL, *a = NULL;
	int r = kura_state_get(v, "session", id->session, &s);
	if (!r)
		r = kura_account_get(v, id->actor.user, &a);
	if (!r) {
		json_object_set_new(s, "ended", json_false());
		json_object_set_new(s, "epoch", json_integer(jint(a, "epoch")));
		json_object_set_new(s, "must_change", json_boolean(must_change));
		json_object_set_new(s, "must_enroll", json_boolean(must_enroll));
		json_object_set_new(s, "last_us", json_integer(kura_time_now_us()));
		r = kura_state_put(t, "session", id->session, s);
	}
	if (!r) {
		id->must_change = must_change;
		id->must_enroll = must_enroll;
	}
	json_decref(s);
	json_decref(a);
	return r;
}
