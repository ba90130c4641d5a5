/*
 * access.h - the vault as an authenticated, authorized and audited service:
 * what the CLI (and later the HTTP server) calls instead of the vault
 * directly (K2, K3; LG-01..03).
 *
 * Every call checks the identity's permission (auth.h) inside the same
 * transaction that appends the audit event for it: an allowed operation is
 * committed together with its event; a denied one changes nothing but its
 * own event (outcome "minor", severity warning), which is committed before
 * KURA_EDENIED is returned.  Reads are audited the same way: content is
 * returned only after its "read" event is durable.
 */
#ifndef KURA_AUTH_ACCESS_H
#define KURA_AUTH_ACCESS_H

#include "auth/auth.h"
#include "fhir/import.h"

struct kura_access {
	struct kura_vault *v;
	struct kura_identity *id;
	const char *why;    /* after a denial: the reason (English) */
	const char *how;    /* after an allowed access: by what (care, department, ...) */
	const char *reason; /* the user's stated reason, recorded in events; may be NULL */
};

int kura_access_put(struct kura_access *a, const char *patient, const char *type,
		    const char *content_type, const uint8_t *content, size_t len,
		    const struct kura_write *w, struct kura_written *ret);
int kura_access_amend(struct kura_access *a, const char *record, const uint8_t *content,
		      size_t len, const struct kura_write *w, struct kura_written *ret);
int kura_access_confirm(struct kura_access *a, const char *record, const struct kura_write *w,
			struct kura_written *ret);
int kura_access_retract(struct kura_access *a, const char *record, const struct kura_write *w,
			struct kura_written *ret);
/* action "read" (or "print"/"export" for those uses of the content). */
int kura_access_get(struct kura_access *a, const char *record, uint32_t version,
		    enum kura_action act, struct kura_leaf *ret_leaf, struct kura_buf *content);
/* kura_access_get without its commit (the server's group commit): locate,
 * authorize (a denial is recorded, as always, before KURA_EDENIED is
 * returned), decrypt, and fill ret_event with the read event to commit.
 * 0 or KURA_ESTATE (a tombstone: ret_leaf filled, content empty) with
 * ret_event filled; the content may be shown only once ret_event is
 * durable, with a touch of the session.  On any other error content is
 * released. */
int kura_access_get_prepare(struct kura_access *a, const char *record, uint32_t version,
			    enum kura_action act, struct kura_leaf *ret_leaf,
			    struct kura_buf *content, struct kura_event *ret_event);
/* history of one record (action read); list of records (action search):
 * rows outside the identity's permission are left out, and one event says
 * what was asked and how many rows were shown. */
int kura_access_history(struct kura_access *a, const char *record, kura_version_cb cb,
			void *ctx);
int kura_access_list(struct kura_access *a, const char *patient, kura_version_cb cb, void *ctx);
/* The latest version of every record of every patient the identity may
 * search (action search; the others are left out and counted), for a
 * search over all patients (FHIR search): one event of action "search"
 * whose query is the given text (e.g. "GET Observation?code=..."). */
int kura_access_search(struct kura_access *a, const char *query, kura_version_cb cb, void *ctx);
/* Every item of an import is checked before anything is written. */
int kura_access_import(struct kura_access *a, const struct kura_import *imp,
		       const struct kura_write *w, kura_progress_fn progress, void *pctx,
		       uint64_t *ret_count, struct kura_sth *ret_sth);

/* Record that an answer showed the content of counts[i] records of each
 * patients[i] (FHIR search and history pages): one read event per
 * patient, durable before the answer is sent. */
int kura_access_disclosed(struct kura_access *a, const char *const *patients,
			  const unsigned *counts, size_t n, const char *query);

/* The Provenance kura writes after a write of a record of type of_type for
 * patient (FHIR): authorized by that write's permission, audited as a write. */
int kura_access_put_provenance(struct kura_access *a, const char *patient, const char *of_type,
			       const uint8_t *content, size_t len, const struct kura_write *w,
			       struct kura_written *ret);

/*
 * Transactions: several writes that are committed together or not at all
 * (FHIR transaction Bundles).  Each write inside is authorized and audited
 * as its single form is (its event is committed with it), but:
 *  - a denial (KURA_EDENIED) leaves t open: the caller ends it with
 *    kura_access_finish, which aborts t (so nothing of it is stored) and
 *    then records the denial event in a transaction of its own;
 *  - events given to kura_access_txn_note (a refused upload) are likewise
 *    recorded after t ends, whether it committed or not;
 *  - nothing else may use the vault while t is open (one transaction at a
 *    time per vault), except reads that open no transaction
 *    (kura_vault_locate, kura_authz_check).
 * kura_access_finish commits t when r is 0 (touching the session), else
 * aborts it; it returns r, or the commit's error; t is freed either way.
 */
struct kura_access_txn;
int kura_access_begin(struct kura_access *a, struct kura_access_txn **ret);
int kura_access_finish(struct kura_access *a, struct kura_access_txn *t, int r,
		       struct kura_sth *ret_sth);
int kura_access_txn_put(struct kura_access *a, struct kura_access_txn *t, const char *patient,
			const char *type, const char *content_type, const uint8_t *content,
			size_t len, const struct kura_write *w, struct kura_written *ret);
int kura_access_txn_amend(struct kura_access *a, struct kura_access_txn *t, const char *record,
			  const uint8_t *content, size_t len, const struct kura_write *w,
			  struct kura_written *ret);
int kura_access_txn_put_provenance(struct kura_access *a, struct kura_access_txn *t,
				   const char *patient, const char *of_type,
				   const uint8_t *content, size_t len,
				   const struct kura_write *w, struct kura_written *ret);
/* The fields of a version (0: latest) inside t, for a write to that
 * record: not decrypted; KURA_ENOTFOUND, or KURA_EDENIED (noted, recorded
 * when t ends) when the caller may not write it. */
int kura_access_txn_locate(struct kura_access *a, struct kura_access_txn *t, const char *record,
			   uint32_t version, struct kura_leaf *ret);
/* Record e after t ends (copied; at most KURA_ACCESS_TXN_NOTES). */
#define KURA_ACCESS_TXN_NOTES 8
int kura_access_txn_note(struct kura_access *a, struct kura_access_txn *t,
			 const struct kura_event *e);

/* An event about something other than a record (account changes, verify,
 * audit searches...): e is appended in its own transaction. */
int kura_access_record(struct kura_access *a, const struct kura_event *e);
/* Check act on the version l (e.g. handing out its inclusion proof) and
 * record an event of this action with detail, or the denial. */
int kura_access_about(struct kura_access *a, enum kura_action act, const char *action,
		      const struct kura_leaf *l, const char *detail);
/* Check a non-patient permission (administer, audit) and record a denial
 * as an event of this action; 0 if allowed. */
int kura_access_require(struct kura_access *a, enum kura_action act, const char *action);

/* ---- an account's own security (selfserve.c; AU-07..12) ---- */

/*
 * Change the caller's own password.  old (when not NULL) is checked first:
 * KURA_EAUTH when wrong, recorded and counted toward the lockout
 * (kura_auth_reverify).  Then the policy and history (KURA_EPOLICY with
 * *ret_reason, an enum kura_pw_reason).  Every session of the account ends;
 * with keep the caller's own goes on without must_change.  The change is a
 * password-change event; a refusal one of outcome minor.
 */
int kura_self_password(struct kura_access *a, const char *old, size_t old_len, const char *pw,
		       size_t len, int keep, int *ret_reason);
/* A new TOTP secret (KURA_TOTP_SECRET_LEN bytes, auth/totp.h) for the
 * caller to show, kept sealed in the caller's session as pending: not a
 * factor until confirmed.  A second call replaces it.  KURA_EEXIST when
 * the account has a TOTP factor already (replacing it is the
 * administrator's: kura factor remove). */
int kura_self_totp_begin(struct kura_access *a, uint8_t *ret_secret);
/* Enrol the session's pending secret if code is its current code:
 * KURA_EAUTH (recorded; the secret stays pending), KURA_ENOTFOUND when
 * nothing is pending.  The session goes on without must_enroll. */
int kura_self_totp_confirm(struct kura_access *a, const char *code);

/* ---- break-glass (breakglass.c; BG-01..03) ---- */

/* Whether user's emergency access to patient is open: *ret_until its end
 * (INT64_MAX: no end), 0 when none.  KURA_EINVAL for bad ids. */
int kura_breakglass_status(struct kura_vault *v, const char *user, const char *patient,
			   int64_t *ret_until);
/*
 * Open the caller's emergency access to patient until until_us (0: now
 * plus the setting breakglass.hours), with reason (1..KURA_MAX_REASON
 * bytes; KURA_EINVAL otherwise, or for an until in the past): the row and
 * an event "breakglass" of severity alert (BG-02) committed together;
 * *ret_until and *ret_leaf (the event's leaf) set.  A role without
 * break-glass: KURA_EDENIED, recorded, a->why set.
 */
int kura_breakglass_open(struct kura_access *a, const char *patient, const char *reason,
			 int64_t until_us, int64_t *ret_until, uint64_t *ret_leaf);

#endif
