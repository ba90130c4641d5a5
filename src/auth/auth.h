/*
 * auth.h - identity and access control (MISSION K2; REQUIREMENTS AU-*,
 * AC-*, BG-*): accounts, logins with second factors, lockout, sessions,
 * settings, and the decision whether an actor may do an action to a
 * patient's record.
 *
 * Everything is kept in the vault's MAC'd state (vault.h) and every change
 * and every decision that denies is an audit event in the ledger.  State
 * rows (kind/key):
 *   account/<id>       the account (docs/formats/state.md)
 *   session/<hash>     a session; the key is SHA-256 of the token, hex
 *   config/<name>      a setting that differs from its default
 *   patient/<id>       a patient's departments and restricted flag
 *   care/<user>/<pat>  a care relationship (assignment record)
 *   grant/<user>/<pat> an explicit grant (restricted patients)
 *   breakglass/<user>/<pat>  emergency access until a time
 *   forward/<name>     a syslog receiver's cursor
 */
#ifndef KURA_AUTH_AUTH_H
#define KURA_AUTH_AUTH_H

#include <jansson.h>

#include "audit/audit.h"
#include "auth/rbac.h"
#include "vault/vault.h"

/* ---- settings (config/<name>) ---- */

/* The value of a setting (its default when unset) appended to out;
 * KURA_ENOTFOUND for an unknown name. */
int kura_setting_get(struct kura_vault *v, const char *name, struct kura_buf *out);
/* Change a setting after validating it (KURA_EINVAL, KURA_ENOTFOUND);
 * audited as config-change by the caller's event. */
int kura_setting_set(struct kura_txn *t, const char *name, const char *value);
/* An integer setting, or def when unset or unreadable. */
int64_t kura_setting_int(struct kura_vault *v, const char *name, int64_t def);
/* Every known setting name, NULL-terminated. */
extern const char *const kura_setting_names[];

/* A role by name: a built-in one (auth/rbac.h) with the site's changes
 * (settings role.<name>.rules|scope|breakglass), or a role the site
 * defined with those settings; KURA_ENOTFOUND otherwise. */
int kura_role_get(struct kura_vault *v, const char *name, struct kura_role *ret);

/* ---- accounts ---- */

enum kura_factor {
	KURA_FACTOR_PASSWORD = 1, /* knowledge */
	KURA_FACTOR_TOTP = 2,     /* possession: an authenticator app */
	KURA_FACTOR_CERT = 4,     /* possession: a certificate and its key (IC card) */
	KURA_FACTOR_RECOVERY = 8, /* possession: a one-time recovery code */
};
/* Distinct factor TYPES in a set (AU-13: two of one type count once). */
int kura_factor_types(unsigned factors);

struct kura_account_spec {
	const char *id;
	const char *name;       /* display name, may be "" */
	const char *birth_date; /* YYYY-MM-DD or "" (password rules, AU-09) */
	const char *role;
	const char *departments; /* comma-separated, may be "" */
	int emergency;           /* an emergency (break-glass) account: disabled until enabled */
};

/* Create an account with an initial password that must be changed at first
 * login (AU-11).  KURA_EEXIST, KURA_EINVAL (bad id/role/department). */
int kura_account_add(struct kura_txn *t, const struct kura_account_spec *s,
		     const char *password, size_t len);
/* The account object, or KURA_ENOTFOUND; json_decref it. */
int kura_account_get(struct kura_vault *v, const char *id, json_t **ret);
int kura_account_put(struct kura_txn *t, json_t *account);
/* Changes by an administrator.  enable: for an emergency account, until
 * now + window_s (BG-03: disabled again automatically after). */
int kura_account_disable(struct kura_txn *t, const char *id);
int kura_account_enable(struct kura_txn *t, const char *id, int64_t window_s);
int kura_account_unlock(struct kura_txn *t, const char *id);
int kura_account_set_role(struct kura_txn *t, const char *id, const char *role,
			  const char *departments);
/* Set a password.  self: the user's own change (policy and history checked:
 * KURA_EPOLICY with *ret_reason); otherwise an administrator's reset (the
 * user must change it at first use).  Ends the account's sessions. */
int kura_account_set_password(struct kura_txn *t, const char *id, const char *pw, size_t len,
			      int self, int *ret_reason);
/* Second factors. */
int kura_account_totp_enroll(struct kura_txn *t, const char *id, uint8_t *ret_secret,
			     size_t secret_len);
/* Enrol a secret already shown and confirmed (the web UI's two steps);
 * last_step: the step of the confirming code (spent), or -1. */
int kura_account_totp_set(struct kura_txn *t, const char *id, const uint8_t *secret,
			  size_t secret_len, int64_t last_step);
int kura_account_cert_add(struct kura_txn *t, const char *id, const char *fingerprint,
			  const char *subject);
/* New recovery codes (KURA_RECOVERY_CODES of them) replace the old ones. */
int kura_account_recovery_new(struct kura_txn *t, const char *id,
			      char (*ret_codes)[24], size_t n);
int kura_account_factor_remove(struct kura_txn *t, const char *id, unsigned factor);
/* The enrolled second factors of an account (enum kura_factor bits). */
unsigned kura_account_factors(const json_t *account);

/* ---- logins and sessions ---- */

struct kura_login {
	const char *user;
	const char *password; /* may be NULL (a machine identity) */
	size_t password_len;
	const char *totp;     /* a 6-digit code or NULL */
	const char *recovery; /* a recovery code or NULL */
	const char *cert_fp;  /* a certificate whose key the caller proved, or NULL */
};

#define KURA_TOKEN_HEX 64

/* What an authenticated caller is. */
struct kura_identity {
	struct kura_actor actor;
	struct kura_role role;
	char departments[KURA_MAX_DEPTS][KURA_MAX_DEPT + 1];
	unsigned ndepartments;
	unsigned factors;        /* used at login */
	int must_change;         /* only a password change is allowed */
	int must_enroll;         /* only enrolling a second factor (and passwd) is allowed */
	char session[KURA_TOKEN_HEX + 1]; /* the state key of the session */
};

/* Authenticate and open a session (AU-01..03, AU-13, AU-15): commits the
 * login or the failure (and a lockout) as audit events whatever happens.
 * ret_token gets the secret token to present later.  KURA_EAUTH wrong
 * credentials or a missing second factor, KURA_ELOCKED locked or disabled,
 * KURA_ENOTFOUND never (an unknown user is KURA_EAUTH). */
int kura_auth_login(struct kura_vault *v, const struct kura_login *in, struct kura_actor *where,
		    struct kura_identity *ret, char ret_token[KURA_TOKEN_HEX + 1]);
/* Resume a session inside t (idle and absolute limits, account still
 * usable; AC-01); refreshes its last use.  KURA_EEXPIRED when over a limit
 * or ended (the expiry is committed as an event by the caller aborting?
 * no: this function records it itself in its own transaction when t is
 * NULL). */
int kura_auth_resume(struct kura_vault *v, const char *token, struct kura_actor *where,
		     struct kura_identity *ret);
/* Touch the session inside an operation's transaction. */
int kura_auth_touch(struct kura_txn *t, const struct kura_identity *id);
/* End a session (logout), audited. */
int kura_auth_logout(struct kura_vault *v, const struct kura_identity *id);
/* End every session of an account (password change, disable). */
int kura_auth_end_sessions(struct kura_txn *t, const char *user);
/* Check the password of id's account again (to change it): 0, or
 * KURA_EAUTH after committing the failure like a login's (the counter, a
 * lockout at the limit, a login-failed event; AU-15). */
int kura_auth_reverify(struct kura_vault *v, const struct kura_identity *id, const char *pw,
		       size_t len);
/* Inside t, after a change that ended the account's sessions (its own
 * password, a factor): id's session goes on, bound to the account's new
 * epoch, with these restrictions (id is updated too). */
int kura_auth_keep_session(struct kura_txn *t, struct kura_identity *id, int must_change,
			   int must_enroll);

/* ---- authorization ---- */

/* May id do action a on a record of this type of this patient?  0 if
 * allowed (ret_how says by what: "role", "department", "care", "grant",
 * "breakglass", "all"), KURA_EDENIED with ret_why otherwise.  patient may
 * be NULL for actions not about one patient. */
int kura_authz_check(struct kura_vault *v, const struct kura_identity *id, enum kura_action a,
		     const char *patient, const char *type, const char **ret_how,
		     const char **ret_why);
/* Patient registration: a new patient belongs to the writer's departments. */
int kura_patient_register(struct kura_txn *t, const struct kura_identity *id, const char *patient);

#endif
