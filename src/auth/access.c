/*
 * access.c - every operation on records as an authorized, audited call
 * (access.h).  The pattern: open a transaction, look at what is touched,
 * decide, then either do it and append its event, or abort and commit only
 * a denial event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/access.h"
#include "util/banned.h"

static void base_event(struct kura_access *a, struct kura_event *e, const char *action)
{
	kura_audit_event(e, &a->id->actor, action);
	if (a->reason)
		KURA_AUDIT_SET(e->reason, a->reason);
}

int kura_access_record(struct kura_access *a, const struct kura_event *e)
{
	struct kura_txn *t;
	int r = kura_txn_begin(a->v, &t);
	if (r)
		return r;
	r = kura_txn_event(t, e, NULL);
	if (!r)
		r = kura_auth_touch(t, a->id);
	return kura_txn_finish(t, r, NULL);
}

static void denial_event(struct kura_access *a, struct kura_event *e, const char *action,
			 const char *patient, const struct kura_leaf *l, const char *why)
{
	base_event(a, e, action);
	e->outcome = KURA_OUTCOME_MINOR;
	e->severity = KURA_SEV_WARNING;
	KURA_AUDIT_SET(e->patient_id, patient ? patient : l ? l->patient_id : "");
	if (l) {
		KURA_AUDIT_SET(e->record_id, l->record_id);
		e->version = l->version;
	}
	KURA_AUDIT_SET(e->detail, why ? why : "denied");
	a->why = why;
}

/* Record a denial; returns KURA_EDENIED unless recording itself failed. */
static int deny(struct kura_access *a, const char *action, const char *patient,
		const struct kura_leaf *l, const char *why)
{
	struct kura_event e;
	denial_event(a, &e, action, patient, l, why);
	int r = kura_access_record(a, &e);
	return r ? r : KURA_EDENIED;
}

static void note_how(struct kura_event *e, const char *how)
{
	if (how && strcmp(how, "role") != 0)
		snprintf(e->detail, sizeof(e->detail), "access via %s", how);
	if (how && strcmp(how, "breakglass") == 0)
		e->severity = KURA_SEV_ALERT; /* BG-02: every use is visible */
}

/* Check action on a patient's record type; on denial records it. */
static int check(struct kura_access *a, enum kura_action act, const char *action,
		 const char *patient, const char *type, const struct kura_leaf *l)
{
	const char *why = NULL;
	int r = kura_authz_check(a->v, a->id, act, patient, type, &a->how, &why);
	return r == KURA_EDENIED ? deny(a, action, patient, l, why) : r;
}

int kura_access_put(struct kura_access *a, const char *patient, const char *type,
		    const char *content_type, const uint8_t *content, size_t len,
		    const struct kura_write *w, struct kura_written *ret)
{
	struct kura_event e;
	struct kura_txn *t;
	struct kura_write aw = *w;
	int r = check(a, KURA_ACT_WRITE, "write", patient, type, NULL);
	if (!r && w->confirm)
		r = check(a, KURA_ACT_CONFIRM, "write", patient, type, NULL);
	if (!r)
		r = kura_txn_begin(a->v, &t);
	if (r)
		return r;
	base_event(a, &e, "write");
	note_how(&e, a->how);
	aw.audit = &e;
	r = kura_patient_register(t, a->id, patient);
	if (!r)
		r = kura_auth_touch(t, a->id);
	if (!r)
		r = kura_txn_put(t, patient, type, content_type, content, len, &aw, ret);
	return kura_txn_finish(t, r, &ret->sth);
}

int kura_access_put_provenance(struct kura_access *a, const char *patient, const char *of_type,
			       const uint8_t *content, size_t len, const struct kura_write *w,
			       struct kura_written *ret)
{
	struct kura_event e;
	struct kura_txn *t;
	struct kura_write aw = *w;
	/* Authorized by the write it describes: the same permission, patient
	 * and type as that write, not a permission to write Provenance. */
	int r = check(a, KURA_ACT_WRITE, "write", patient, of_type, NULL);
	if (!r)
		r = kura_txn_begin(a->v, &t);
	if (r)
		return r;
	base_event(a, &e, "write");
	note_how(&e, a->how);
	KURA_AUDIT_SET(e.detail, "provenance of a write");
	aw.audit = &e;
	aw.confirm = 0;
	r = kura_auth_touch(t, a->id);
	if (!r)
		r = kura_txn_put(t, patient, "Provenance", "application/fhir+json", content, len, &aw,
				 ret);
	return kura_txn_finish(t, r, &ret->sth);
}

typedef int (*change_fn)(struct kura_txn *t, const char *record, const struct kura_write *w,
			 struct kura_written *ret);

struct change {
	const char *action;
	enum kura_action act;
	const uint8_t *content;
	size_t len;
	change_fn fn;
};

static int do_change(struct kura_access *a, const char *record, const struct change *c,
		     const struct kura_write *w, struct kura_written *ret)
{
	struct kura_txn *t;
	struct kura_leaf l;
	struct kura_event e;
	struct kura_write aw = *w;
	const char *why = NULL;
	memset(ret, 0, sizeof(*ret));
	int r = kura_txn_begin(a->v, &t);
	if (r)
		return r;
	r = kura_txn_locate(t, record, 0, &l);
	if (!r)
		r = kura_authz_check(a->v, a->id, c->act, l.patient_id, l.type, &a->how, &why);
	if (!r && w->confirm && c->act != KURA_ACT_CONFIRM)
		r = kura_authz_check(a->v, a->id, KURA_ACT_CONFIRM, l.patient_id, l.type, &a->how, &why);
	if (r) {
		kura_txn_abort(t);
		return r == KURA_EDENIED ? deny(a, c->action, NULL, &l, why) : r;
	}
	base_event(a, &e, c->action);
	note_how(&e, a->how);
	aw.audit = &e;
	r = kura_auth_touch(t, a->id);
	if (!r)
		r = c->content ? kura_txn_amend(t, record, c->content, c->len, &aw, ret)
			       : c->fn(t, record, &aw, ret);
	return kura_txn_finish(t, r, &ret->sth);
}

int kura_access_amend(struct kura_access *a, const char *record, const uint8_t *content,
		      size_t len, const struct kura_write *w, struct kura_written *ret)
{
	struct change c = {"write", KURA_ACT_WRITE, content ? content : (const uint8_t *)"", len, NULL};
	return do_change(a, record, &c, w, ret);
}

int kura_access_confirm(struct kura_access *a, const char *record, const struct kura_write *w,
			struct kura_written *ret)
{
	struct change c = {"confirm", KURA_ACT_CONFIRM, NULL, 0, kura_txn_confirm};
	return do_change(a, record, &c, w, ret);
}

int kura_access_retract(struct kura_access *a, const char *record, const struct kura_write *w,
			struct kura_written *ret)
{
	struct change c = {"retract", KURA_ACT_WRITE, NULL, 0, kura_txn_retract};
	return do_change(a, record, &c, w, ret);
}

/* The authorization of a read, asked by the vault between finding the
 * version and decrypting it (kura_vault_get_checked). */
struct get_check {
	struct kura_access *a;
	enum kura_action act;
	const char *why;
	int denied;
};

static int authorize_leaf(void *ctx, const struct kura_leaf *l)
{
	struct get_check *c = ctx;
	int r = kura_authz_check(c->a->v, c->a->id, c->act, l->patient_id, l->type, &c->a->how,
				 &c->why);
	c->denied = r == KURA_EDENIED;
	return r;
}

int kura_access_get_prepare(struct kura_access *a, const char *record, uint32_t version,
			    enum kura_action act, struct kura_leaf *ret_leaf,
			    struct kura_buf *content, struct kura_event *ret_event)
{
	struct get_check c = {a, act, NULL, 0};
	const char *action = kura_action_name(act);
	/* The version authorized is the one opened, whatever is latest by then. */
	int r = kura_vault_get_checked(a->v, record, version, authorize_leaf, &c, ret_leaf, content);
	if (c.denied) /* recorded now that the lookup is over */
		return deny(a, action, NULL, ret_leaf, c.why);
	if (r && r != KURA_ESTATE) {
		kura_buf_release_secret(content);
		return r;
	}
	base_event(a, ret_event, action);
	note_how(ret_event, a->how);
	KURA_AUDIT_SET(ret_event->patient_id, ret_leaf->patient_id);
	KURA_AUDIT_SET(ret_event->record_id, ret_leaf->record_id);
	ret_event->version = ret_leaf->version;
	return r;
}

int kura_access_get(struct kura_access *a, const char *record, uint32_t version,
		    enum kura_action act, struct kura_leaf *ret_leaf, struct kura_buf *content)
{
	struct kura_txn *t;
	struct kura_event e;
	int r = kura_access_get_prepare(a, record, version, act, ret_leaf, content, &e);
	int tomb = r == KURA_ESTATE; /* reading a retraction's fields is a read too */
	if (r && !tomb)
		return r;
	r = kura_txn_begin(a->v, &t);
	if (!r) {
		r = kura_txn_event(t, &e, NULL);
		if (!r)
			r = kura_auth_touch(t, a->id);
		r = kura_txn_finish(t, r, NULL);
	}
	if (r)
		kura_buf_release_secret(content);
	return r ? r : tomb ? KURA_ESTATE : 0;
}

/* Rows a listing shows: each checked, kept until the event is durable. */
struct rows {
	struct kura_access *a;
	enum kura_action act;
	struct kura_version_row *v;
	size_t n, cap;
	uint64_t hidden;
	int r;
	int breakglass; /* a row was shown through break-glass */
};

static int keep_allowed(void *ctx, const struct kura_version_row *row)
{
	struct rows *rs = ctx;
	const char *how, *why;
	if (kura_authz_check(rs->a->v, rs->a->id, rs->act, row->leaf.patient_id, row->leaf.type,
			     &how, &why)) {
		rs->hidden++;
		return 0;
	}
	rs->breakglass |= strcmp(how, "breakglass") == 0;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 64;
		struct kura_version_row *p = realloc(rs->v, cap * sizeof(*p));
		if (!p)
			return KURA_ENOMEM;
		rs->v = p;
		rs->cap = cap;
	}
	rs->v[rs->n] = *row;
	rs->v[rs->n++].sealed = kura_slice_make(NULL, 0);
	return 0;
}

static int emit(struct rows *rs, kura_version_cb cb, void *ctx)
{
	int r = 0;
	for (size_t i = 0; !r && i < rs->n; i++)
		r = cb(ctx, &rs->v[i]);
	free(rs->v);
	return r;
}

static void listing_event(struct kura_access *a, struct kura_event *e, const char *record,
			  const char *patient, const char *query, const struct rows *rs)
{
	base_event(a, e, record ? "read" : query ? "search" : "list");
	KURA_AUDIT_SET(e->patient_id, patient ? patient : rs->n ? rs->v[0].leaf.patient_id : "");
	KURA_AUDIT_SET(e->record_id, record ? record : "");
	snprintf(e->query, sizeof(e->query), "%s%s%s", record ? "history " : query ? query : "list",
		 patient ? " patient=" : "", patient ? patient : "");
	snprintf(e->detail, sizeof(e->detail), "%zu rows shown, %llu withheld%s", rs->n,
		 (unsigned long long)rs->hidden, rs->breakglass ? ", access via breakglass" : "");
	if (rs->breakglass)
		e->severity = KURA_SEV_ALERT; /* BG-02: every use is visible, listings too */
}

/* One listing: rows through keep_allowed, one event, then the rows. */
static int listing(struct kura_access *a, const char *action, const char *record,
		   const char *patient, const char *query, kura_version_cb cb, void *ctx)
{
	struct kura_txn *t;
	struct kura_event e;
	/* A search that shows content (FHIR) needs read, not only search. */
	struct rows rs = {a, strcmp(action, "read") == 0 || strcmp(action, "search") == 0
				     ? KURA_ACT_READ : KURA_ACT_SEARCH,
			  NULL, 0, 0, 0, 0, 0};
	struct kura_store *s = kura_vault_store(a->v);
	int r = kura_txn_begin(a->v, &t);
	if (r)
		return r;
	r = record ? s->ops->version_history(s, record, keep_allowed, &rs)
		   : s->ops->record_list(s, patient, keep_allowed, &rs);
	if (!r && record && rs.n == 0 && rs.hidden) {
		kura_txn_abort(t);
		free(rs.v);
		return deny(a, action, NULL, NULL, "no permission for this record");
	}
	listing_event(a, &e, record, patient, query, &rs);
	if (!r)
		r = kura_txn_event(t, &e, NULL);
	if (!r)
		r = kura_auth_touch(t, a->id);
	r = kura_txn_finish(t, r, NULL);
	if (r) {
		free(rs.v);
		return r;
	}
	return emit(&rs, cb, ctx);
}

int kura_access_history(struct kura_access *a, const char *record, kura_version_cb cb, void *ctx)
{
	return listing(a, "read", record, NULL, NULL, cb, ctx);
}

int kura_access_list(struct kura_access *a, const char *patient, kura_version_cb cb, void *ctx)
{
	if (patient) {
		const char *why = NULL;
		int r = kura_authz_check(a->v, a->id, KURA_ACT_SEARCH, patient, NULL, &a->how, &why);
		if (r)
			return r == KURA_EDENIED ? deny(a, "list", patient, NULL, why) : r;
	}
	return listing(a, "list", NULL, patient, NULL, cb, ctx);
}

int kura_access_search(struct kura_access *a, const char *query, kura_version_cb cb, void *ctx)
{
	return listing(a, "search", NULL, NULL, query, cb, ctx);
}

int kura_access_disclosed(struct kura_access *a, const char *const *patients,
			  const unsigned *counts, size_t n, const char *query)
{
	struct kura_txn *t = NULL;
	struct kura_event e;
	int r = kura_txn_begin(a->v, &t);
	for (size_t i = 0; !r && i < n; i++) {
		base_event(a, &e, "read");
		KURA_AUDIT_SET(e.patient_id, patients[i]);
		snprintf(e.query, sizeof(e.query), "%s", query ? query : "");
		snprintf(e.detail, sizeof(e.detail), "%u records of this patient in one answer",
			 counts[i]);
		r = kura_txn_event(t, &e, NULL);
	}
	if (!r)
		r = kura_auth_touch(t, a->id);
	return t ? kura_txn_finish(t, r, NULL) : r;
}

/* One import item: the role must allow the action on its type (decided
 * once per type) and its patient must be in scope (once per patient). */
static int check_item(struct kura_access *a, enum kura_action act, const struct kura_import_item *it,
		      json_t *types, json_t *patients)
{
	int r = 0;
	if (!json_object_get(types, it->type)) {
		r = kura_rbac_allows(&a->id->role, act, it->type)
			    ? 0 : check(a, act, "import", it->patient, it->type, NULL);
		if (!r)
			json_object_set_new(types, it->type, json_true());
	}
	if (!r && !json_object_get(patients, it->patient)) {
		r = check(a, act, "import", it->patient, NULL, NULL);
		if (!r)
			json_object_set_new(patients, it->patient, json_true());
	}
	return r;
}

/* Every item allowed before anything is written. */
static int check_import(struct kura_access *a, const struct kura_import *imp,
			const struct kura_write *w)
{
	json_t *seen[4] = {json_object(), json_object(), json_object(), json_object()};
	int r = seen[0] && seen[1] && seen[2] && seen[3] ? 0 : KURA_ENOMEM;
	for (size_t i = 0; !r && i < imp->count; i++) {
		r = check_item(a, KURA_ACT_WRITE, &imp->items[i], seen[0], seen[1]);
		if (!r && w->confirm)
			r = check_item(a, KURA_ACT_CONFIRM, &imp->items[i], seen[2], seen[3]);
	}
	for (int k = 0; k < 4; k++)
		json_decref(seen[k]);
	return r;
}

int kura_access_import(struct kura_access *a, const struct kura_import *imp,
		       const struct kura_write *w, kura_progress_fn progress, void *pctx,
		       uint64_t *ret_count, struct kura_sth *ret_sth)
{
	struct kura_event e;
	struct kura_write aw = *w;
	struct kura_txn *t;
	*ret_count = 0;
	int r = check_import(a, imp, w);
	if (r)
		return r;
	/* New patients are registered in the importer's departments first,
	 * each patient once. */
	json_t *done = json_object();
	if (!done || (r = kura_txn_begin(a->v, &t))) {
		json_decref(done);
		return r ? r : KURA_ENOMEM;
	}
	for (size_t i = 0; !r && i < imp->count; i++) {
		const char *p = imp->items[i].patient;
		if (json_object_get(done, p))
			continue;
		r = kura_patient_register(t, a->id, p);
		if (!r)
			json_object_set_new(done, p, json_true());
	}
	json_decref(done);
	if (!r)
		r = kura_auth_touch(t, a->id);
	if ((r = kura_txn_finish(t, r, NULL)))
		return r;
	base_event(a, &e, "import");
	snprintf(e.detail, sizeof(e.detail), "%zu records in the file", imp->count);
	aw.audit = &e;
	return kura_vault_import(a->v, imp, &aw, progress, pctx, ret_count, ret_sth);
}

int kura_access_require(struct kura_access *a, enum kura_action act, const char *action)
{
	const char *why = NULL;
	int r = kura_authz_check(a->v, a->id, act, NULL, NULL, NULL, &why);
	return r == KURA_EDENIED ? deny(a, action, NULL, NULL, why) : r;
}

int kura_access_about(struct kura_access *a, enum kura_action act, const char *action,
		      const struct kura_leaf *l, const char *detail)
{
	struct kura_event e;
	int r = check(a, act, action, l->patient_id, l->type, l);
	if (r)
		return r;
	base_event(a, &e, action);
	note_how(&e, a->how);
	KURA_AUDIT_SET(e.patient_id, l->patient_id);
	KURA_AUDIT_SET(e.record_id, l->record_id);
	e.version = l->version;
	if (detail)
		KURA_AUDIT_SET(e.detail, detail);
	return kura_access_record(a, &e);
}

/* ---- transactions of several writes ---- */

struct kura_access_txn {
	struct kura_txn *t;
	unsigned n;
	struct kura_event notes[KURA_ACCESS_TXN_NOTES];
};

int kura_access_begin(struct kura_access *a, struct kura_access_txn **ret)
{
	struct kura_access_txn *x = calloc(1, sizeof(*x));
	*ret = NULL;
	if (!x)
		return KURA_ENOMEM;
	int r = kura_txn_begin(a->v, &x->t);
	if (r) {
		free(x);
		return r;
	}
	*ret = x;
	return 0;
}

int kura_access_finish(struct kura_access *a, struct kura_access_txn *t, int r,
		       struct kura_sth *ret_sth)
{
	if (!r)
		r = kura_auth_touch(t->t, a->id);
	r = kura_txn_finish(t->t, r, ret_sth);
	for (unsigned i = 0; i < t->n; i++) {
		int e = kura_access_record(a, &t->notes[i]);
		if (e)
			r = e; /* as deny(): a refusal that was not recorded is an error */
	}
	free(t);
	return r;
}

int kura_access_txn_note(struct kura_access *a, struct kura_access_txn *t,
			 const struct kura_event *e)
{
	(void)a;
	if (t->n == KURA_ACCESS_TXN_NOTES)
		return KURA_ETOOBIG;
	t->notes[t->n++] = *e;
	return 0;
}

/* check() inside t: the denial is noted, recorded when t ends. */
static int txn_check(struct kura_access *a, struct kura_access_txn *t, enum kura_action act,
		     const char *action, const char *patient, const char *type,
		     const struct kura_leaf *l)
{
	struct kura_event e;
	const char *why = NULL;
	int r = kura_authz_check(a->v, a->id, act, patient, type, &a->how, &why);
	if (r != KURA_EDENIED)
		return r;
	denial_event(a, &e, action, patient, l, why);
	r = kura_access_txn_note(a, t, &e);
	return r ? r : KURA_EDENIED;
}

int kura_access_txn_locate(struct kura_access *a, struct kura_access_txn *t, const char *record,
			   uint32_t version, struct kura_leaf *ret)
{
	int r = kura_txn_locate(t->t, record, version, ret);
	/* Only for a write to it: nothing about a record outside the caller's
	 * reach (its version, its patient) may be learnt before this check. */
	return r ? r : txn_check(a, t, KURA_ACT_WRITE, "write", ret->patient_id, ret->type, ret);
}

int kura_access_txn_put(struct kura_access *a, struct kura_access_txn *t, const char *patient,
			const char *type, const char *content_type, const uint8_t *content,
			size_t len, const struct kura_write *w, struct kura_written *ret)
{
	struct kura_event e;
	struct kura_write aw = *w;
	memset(ret, 0, sizeof(*ret));
	int r = txn_check(a, t, KURA_ACT_WRITE, "write", patient, type, NULL);
	if (!r && w->confirm)
		r = txn_check(a, t, KURA_ACT_CONFIRM, "write", patient, type, NULL);
	if (r)
		return r;
	base_event(a, &e, "write");
	note_how(&e, a->how);
	aw.audit = &e;
	r = kura_patient_register(t->t, a->id, patient);
	return r ? r : kura_txn_put(t->t, patient, type, content_type, content, len, &aw, ret);
}

int kura_access_txn_put_provenance(struct kura_access *a, struct kura_access_txn *t,
				   const char *patient, const char *of_type,
				   const uint8_t *content, size_t len,
				   const struct kura_write *w, struct kura_written *ret)
{
	struct kura_event e;
	struct kura_write aw = *w;
	memset(ret, 0, sizeof(*ret));
	/* As kura_access_put_provenance: authorized by the write it describes. */
	int r = txn_check(a, t, KURA_ACT_WRITE, "write", patient, of_type, NULL);
	if (r)
		return r;
	base_event(a, &e, "write");
	note_how(&e, a->how);
	KURA_AUDIT_SET(e.detail, "provenance of a write");
	aw.audit = &e;
	aw.confirm = 0;
	return kura_txn_put(t->t, patient, "Provenance", "application/fhir+json", content, len, &aw,
			    ret);
}

int kura_access_txn_amend(struct kura_access *a, struct kura_access_txn *t, const char *record,
			  const uint8_t *content, size_t len, const struct kura_write *w,
			  struct kura_written *ret)
{
	struct kura_leaf l;
	struct kura_event e;
	struct kura_write aw = *w;
	memset(ret, 0, sizeof(*ret));
	int r = kura_txn_locate(t->t, record, 0, &l);
	if (!r)
		r = txn_check(a, t, KURA_ACT_WRITE, "write", l.patient_id, l.type, &l);
	if (!r && w->confirm)
		r = txn_check(a, t, KURA_ACT_CONFIRM, "write", l.patient_id, l.type, &l);
	if (r)
		return r;
	base_event(a, &e, "write");
	note_how(&e, a->how);
	aw.audit = &e;
	return kura_txn_amend(t->t, record, content ? content : (const uint8_t *)"", len, &aw, ret);
}
