/*
 * breakglass.c - emergency access to a patient outside the caller's scope
 * (BG-01..03; access.h kura_breakglass_*): a row breakglass/<user>/<patient>
 * with its end, committed with an audit event of severity alert that names
 * the reason.  The CLI (`kura breakglass`) and the server (POST
 * /api/breakglass) both open it here; telling the security administrator at
 * once (syslog, alert.command) is the caller's.
 */
#include <stdio.h>
#include <string.h>

#include "auth/access.h"
#include "util/time.h"
#include "util/banned.h"

#define US_PER_HOUR 3600000000LL

static int pair_key(char out[2 * KURA_MAX_ID + 2], const char *user, const char *patient)
{
	int n = snprintf(out, 2 * KURA_MAX_ID + 2, "%s/%s", user, patient);
	return n > 0 && (size_t)n < 2 * KURA_MAX_ID + 2 ? 0 : KURA_EINVAL;
}

int kura_breakglass_status(struct kura_vault *v, const char *user, const char *patient,
			   int64_t *ret_until)
{
	char key[2 * KURA_MAX_ID + 2];
	json_t *j = NULL;
	*ret_until = 0;
	if (!kura_valid_id(user) || !kura_valid_id(patient) || pair_key(key, user, patient))
		return KURA_EINVAL;
	int r = kura_state_get(v, "breakglass", key, &j);
	if (r == KURA_ENOTFOUND)
		return 0;
	if (r)
		return r;
	int64_t until = (int64_t)json_integer_value(json_object_get(j, "until_us"));
	/* The same rule as the authorization's (authz.c active_pair). */
	if (!json_is_true(json_object_get(j, "ended")) && (until == 0 || until > kura_time_now_us()))
		*ret_until = until ? until : INT64_MAX;
	json_decref(j);
	return 0;
}

/* A role without break-glass asked for it: recorded, then KURA_EDENIED. */
static int refuse(struct kura_access *a, const char *patient, const char *reason)
{
	struct kura_event e;
	kura_audit_event(&e, &a->id->actor, "breakglass");
	e.outcome = KURA_OUTCOME_MINOR;
	e.severity = KURA_SEV_WARNING;
	KURA_AUDIT_SET(e.patient_id, patient);
	KURA_AUDIT_SET(e.reason, reason);
	snprintf(e.detail, sizeof(e.detail), "role %s may not use break-glass", a->id->actor.role);
	a->why = "the role may not use break-glass";
	int r = kura_access_record(a, &e);
	return r ? r : KURA_EDENIED;
}

/* The event first, so that the row can name its leaf. */
static int open_row(struct kura_access *a, const char *key, json_t *row, struct kura_event *e,
		    uint64_t *ret_leaf)
{
	struct kura_txn *t = NULL;
	int r = kura_txn_begin(a->v, &t);
	if (r)
		return r;
	r = kura_txn_event(t, e, ret_leaf);
	if (!r)
		r = json_object_set_new(row, "event", json_integer((json_int_t)*ret_leaf)) ? KURA_ENOMEM : 0;
	if (!r)
		r = kura_state_put(t, "breakglass", key, row);
	if (!r)
		r = kura_auth_touch(t, a->id);
	return kura_txn_finish(t, r, NULL);
}

int kura_breakglass_open(struct kura_access *a, const char *patient, const char *reason,
			 int64_t until_us, int64_t *ret_until, uint64_t *ret_leaf)
{
	char key[2 * KURA_MAX_ID + 2], ut[KURA_TIME_STR];
	struct kura_event e;
	int64_t now = kura_time_now_us();
	size_t rlen = reason ? strlen(reason) : 0;
	*ret_until = 0;
	*ret_leaf = 0;
	if (!kura_valid_id(patient) || rlen == 0 || rlen > KURA_MAX_REASON ||
	    pair_key(key, a->id->actor.user, patient) || (until_us && until_us <= now))
		return KURA_EINVAL;
	if (!a->id->role.breakglass)
		return refuse(a, patient, reason);
	if (!until_us)
		until_us = now + kura_setting_int(a->v, "breakglass.hours", 4) * US_PER_HOUR;
	json_t *row = json_pack("{s:I, s:s, s:I}", "until_us", (json_int_t)until_us, "reason", reason,
				"from_us", (json_int_t)now);
	if (!row)
		return KURA_ENOMEM;
	kura_audit_event(&e, &a->id->actor, "breakglass");
	e.severity = KURA_SEV_ALERT; /* BG-02 */
	KURA_AUDIT_SET(e.patient_id, patient);
	KURA_AUDIT_SET(e.reason, reason);
	kura_time_format(until_us, ut);
	snprintf(e.detail, sizeof(e.detail), "emergency access until %s", ut);
	int r = open_row(a, key, row, &e, ret_leaf);
	json_decref(row);
	if (!r)
		*ret_until = until_us;
	return r;
}
