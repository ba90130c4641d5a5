/*
 * selfserve.c - what an account does to its own security (AU-07..12;
 * access.h kura_self_*): change its password, enrol an authenticator app in
 * two steps.  `kura passwd` and the web UI (POST /api/password,
 * /api/factors/totp) both call these; each change is an audit event
 * committed with it, a refusal an event of its own.
 */
#include <stdio.h>
#include <string.h>

#include "auth/access.h"
#include "auth/password.h"
#include "auth/totp.h"
#include "crypto/crypto.h"
#include "util/time.h"
#include "util/banned.h"

/* A refused change: recorded (outcome minor), then r. */
static int refused(struct kura_access *a, const char *action, const char *detail, int r)
{
	struct kura_event e;
	kura_audit_event(&e, &a->id->actor, action);
	e.outcome = KURA_OUTCOME_MINOR;
	e.severity = KURA_SEV_WARNING;
	KURA_AUDIT_SET(e.detail, detail);
	int e2 = kura_access_record(a, &e);
	return e2 ? e2 : r;
}

int kura_self_password(struct kura_access *a, const char *old, size_t old_len, const char *pw,
		       size_t len, int keep, int *ret_reason)
{
	struct kura_txn *t = NULL;
	struct kura_event e;
	int reason = 0;
	*ret_reason = 0;
	int r = old ? kura_auth_reverify(a->v, a->id, old, old_len) : 0;
	if (r)
		return r; /* recorded as login-failed */
	r = kura_txn_begin(a->v, &t);
	if (r)
		return r;
	r = kura_account_set_password(t, a->id->actor.user, pw, len, 1, &reason);
	if (!r && keep)
		r = kura_auth_keep_session(t, a->id, 0, a->id->must_enroll);
	if (r) {
		kura_txn_abort(t);
		*ret_reason = reason;
		return refused(a, "password-change",
			       r == KURA_EPOLICY ? kura_pw_reason_text((enum kura_pw_reason)reason, 0)
						 : kura_strerror(r), r);
	}
	kura_audit_event(&e, &a->id->actor, "password-change");
	e.severity = KURA_SEV_NOTICE;
	r = kura_txn_event(t, &e, NULL);
	return kura_txn_finish(t, r, NULL);
}

/* The label a session's pending secret is sealed under. */
static int pending_label(const struct kura_identity *id, char out[KURA_TOKEN_HEX + 16])
{
	int n = snprintf(out, KURA_TOKEN_HEX + 16, "totp-pending:%s", id->session);
	return n > 0 && n < KURA_TOKEN_HEX + 16 ? 0 : KURA_EINVAL;
}

int kura_self_totp_begin(struct kura_access *a, uint8_t *ret_secret)
{
	char label[KURA_TOKEN_HEX + 16];
	struct kura_buf hex;
	struct kura_txn *t = NULL;
	json_t *s = NULL;
	if (!a->id->session[0] || pending_label(a->id, label))
		return KURA_EINVAL;
	/* Replacing an enrolled app would let a stolen session take over the
	 * second factor: that goes through the administrator (kura factor). */
	json_t *acc = NULL;
	int r = kura_account_get(a->v, a->id->actor.user, &acc);
	unsigned have = r ? 0 : kura_account_factors(acc);
	json_decref(acc);
	if (r)
		return r;
	if (have & KURA_FACTOR_TOTP)
		return KURA_EEXIST;
	kura_random(ret_secret, KURA_TOTP_SECRET_LEN);
	kura_buf_init(&hex, 1024);
	r = kura_state_seal(a->v, label, ret_secret, KURA_TOTP_SECRET_LEN, &hex);
	if (!r)
		r = kura_buf_append_byte(&hex, 0);
	if (!r)
		r = kura_state_get(a->v, "session", a->id->session, &s);
	if (!r)
		r = json_object_set_new(s, "totp_pending", json_string((char *)hex.data)) ? KURA_ENOMEM : 0;
	if (!r)
		r = kura_txn_begin(a->v, &t);
	if (!r) {
		r = kura_state_put(t, "session", a->id->session, s);
		r = kura_txn_finish(t, r, NULL);
	}
	json_decref(s);
	kura_buf_release_secret(&hex);
	if (r)
		kura_wipe(ret_secret, KURA_TOTP_SECRET_LEN);
	return r;
}

/* The session's pending secret and the step of code under it. */
static int pending_check(struct kura_access *a, json_t *s, const char *code, uint8_t *secret,
			 int64_t *ret_step)
{
	char label[KURA_TOKEN_HEX + 16];
	const char *hex = json_string_value(json_object_get(s, "totp_pending"));
	size_t n = 0;
	if (!hex)
		return KURA_ENOTFOUND;
	int r = pending_label(a->id, label);
	if (!r)
		r = kura_state_open(a->v, label, hex, secret, KURA_TOTP_SECRET_LEN, &n);
	if (!r && n != KURA_TOTP_SECRET_LEN)
		r = KURA_ECORRUPT;
	if (!r)
		r = kura_totp_verify(secret, n, code, kura_time_now_us() / 1000000, -1, ret_step);
	return r == KURA_EINVAL ? KURA_EAUTH : r;
}

/* The pending secret is used up once enrolled. */
static int drop_pending(struct kura_txn *t, const struct kura_identity *id)
{
	json_t *s = NULL;
	int r = kura_state_get(kura_txn_vault(t), "session", id->session, &s);
	if (!r && json_object_del(s, "totp_pending") == 0)
		r = kura_state_put(t, "session", id->session, s);
	json_decref(s);
	return r;
}

int kura_self_totp_confirm(struct kura_access *a, const char *code)
{
	uint8_t secret[KURA_TOTP_SECRET_LEN];
	struct kura_txn *t = NULL;
	struct kura_event e;
	json_t *s = NULL;
	int64_t step = -1;
	int r = kura_state_get(a->v, "session", a->id->session, &s);
	if (!r)
		r = pending_check(a, s, code, secret, &step);
	if (r == KURA_EAUTH) {
		kura_wipe(secret, sizeof(secret));
		json_decref(s);
		return refused(a, "factor-enroll", "totp: wrong confirmation code", r);
	}
	if (!r)
		r = kura_txn_begin(a->v, &t);
	if (!r) {
		kura_audit_event(&e, &a->id->actor, "factor-enroll");
		e.severity = KURA_SEV_NOTICE;
		snprintf(e.detail, sizeof(e.detail), "totp for '%s'", a->id->actor.user);
		/* The confirming code's step is spent: it cannot log in too. */
		r = kura_account_totp_set(t, a->id->actor.user, secret, sizeof(secret), step);
		if (!r)
			r = kura_auth_keep_session(t, a->id, a->id->must_change, 0);
		if (!r)
			r = drop_pending(t, a->id);
		if (!r)
			r = kura_txn_event(t, &e, NULL);
		r = kura_txn_finish(t, r, NULL);
	}
	kura_wipe(secret, sizeof(secret));
	json_decref(s);
	return r;
}
