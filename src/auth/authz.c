/*
 * authz.c - who may do what to which patient's records (AC-02, AC-03,
 * AU-04, BG-01..03).  Two questions, both must say yes (fail closed):
 *   1. does the role allow this action on this record type (auth/rbac.h)?
 *   2. is the patient in the account's scope: a restricted patient only
 *      with an explicit grant or break-glass; otherwise by the role's scope
 *      (all patients, or the account's departments and its active care
 *      relationships, grants and break-glass).
 */
#include <string.h>

#include "auth/auth_int.h"
#include "util/time.h"
#include "util/banned.h"

int auth_role(struct kura_vault *v, const char *name, struct kura_role *ret)
{
	struct kura_buf b, err;
	char key[80];
	int builtin = kura_rbac_builtin(name, ret) == 0, r = 0;
	if (!builtin) {
		if (!kura_rbac_valid_role_name(name))
			return KURA_ENOTFOUND;
		memset(ret, 0, sizeof(*ret));
		KURA_AUDIT_SET(ret->name, name);
		ret->scope = KURA_SCOPE_CARE;
	}
	kura_buf_init(&b, KURA_MAX_ROLE_RULES + 1);
	kura_buf_init(&err, 1024);
	/* Site settings override a built-in role's rules, scope and
	 * break-glass, or define a role of the site's own. */
	snprintf(key, sizeof(key), "role.%s.rules", name);
	int have_rules = kura_setting_get(v, key, &b) == 0;
	if (have_rules)
		r = kura_rbac_parse(b.data ? (char *)b.data : "", ret, &err);
	else if (!builtin)
		r = KURA_ENOTFOUND;
	kura_buf_reset(&b);
	snprintf(key, sizeof(key), "role.%s.scope", name);
	if (!r && kura_setting_get(v, key, &b) == 0 && b.data)
		r = kura_scope_parse((char *)b.data, &ret->scope);
	kura_buf_reset(&b);
	snprintf(key, sizeof(key), "role.%s.breakglass", name);
	if (!r && kura_setting_get(v, key, &b) == 0 && b.data)
		ret->breakglass = strcmp((char *)b.data, "on") == 0;
	kura_buf_release(&b);
	kura_buf_release(&err);
	return r;
}

static int pair_key(char *out, size_t cap, const char *user, const char *patient)
{
	int n = snprintf(out, cap, "%s/%s", user, patient);
	return n > 0 && (size_t)n < cap ? 0 : KURA_EINVAL;
}

/* An active row of kind (care, grant, breakglass) for user and patient. */
static int active_pair(struct kura_vault *v, const char *kind, const char *user,
		       const char *patient)
{
	char key[2 * KURA_MAX_ID + 2];
	json_t *j = NULL;
	if (pair_key(key, sizeof(key), user, patient) || kura_state_get(v, kind, key, &j))
		return 0;
	int64_t until = (int64_t)json_integer_value(json_object_get(j, "until_us"));
	int ok = !json_is_true(json_object_get(j, "ended")) &&
		 (until == 0 || until > kura_time_now_us());
	json_decref(j);
	return ok;
}

static int in_departments(const struct kura_identity *id, const char *list)
{
	while (*list) {
		size_t n = strcspn(list, ",");
		for (unsigned i = 0; i < id->ndepartments; i++)
			if (strlen(id->departments[i]) == n && memcmp(id->departments[i], list, n) == 0)
				return 1;
		list += n + (list[n] == ',');
	}
	return 0;
}

/* Scope: which patients this identity reaches, and through what. */
static int in_scope(struct kura_vault *v, const struct kura_identity *id, enum kura_action a,
		    const char *patient, const char **how, const char **why)
{
	json_t *p = NULL;
	const char *user = id->actor.user;
	int have = kura_state_get(v, "patient", patient, &p) == 0;
	int restricted = have && json_is_true(json_object_get(p, "restricted"));
	const char *deps = have ? json_string_value(json_object_get(p, "departments")) : NULL;
	int dept = deps && in_departments(id, deps);
	json_decref(p);
	*how = NULL;
	if (active_pair(v, "breakglass", user, patient))
		*how = "breakglass";
	else if (active_pair(v, "grant", user, patient))
		*how = "grant";
	else if (restricted)
		*why = "restricted patient: explicit grant required";
	else if (id->role.scope == KURA_SCOPE_ALL)
		*how = "all";
	else if (id->role.scope == KURA_SCOPE_NONE)
		*why = "the role reads no patient data";
	else if (dept)
		*how = "department";
	else if (!have && (a == KURA_ACT_WRITE || a == KURA_ACT_CONFIRM))
		*how = "new-patient"; /* the first record registers the patient in
				       * the writer's departments */
	else if (active_pair(v, "care", user, patient))
		*how = "care";
	else
		*why = "patient outside the account's departments and care relationships";
	return *how ? 0 : KURA_EDENIED;
}

int kura_authz_check(struct kura_vault *v, const struct kura_identity *id, enum kura_action a,
		     const char *patient, const char *type, const char **ret_how,
		     const char **ret_why)
{
	const char *how = "role", *why = NULL;
	int r = 0;
	if (id->must_change || id->must_enroll) {
		why = "the password must be changed or a second factor enrolled first";
		r = KURA_EDENIED;
	} else if (!patient) {
		if (!kura_rbac_allows(&id->role, a, type ? type : "-"))
			why = "the role does not allow this action", r = KURA_EDENIED;
	} else if (type && !kura_rbac_allows(&id->role, a, type)) {
		why = "the role does not allow this action on this record type";
		r = KURA_EDENIED;
	} else
		r = in_scope(v, id, a, patient, &how, &why);
	if (ret_how)
		*ret_how = r ? NULL : how;
	if (ret_why)
		*ret_why = r ? why : NULL;
	return r;
}

int kura_patient_register(struct kura_txn *t, const struct kura_identity *id, const char *patient)
{
	json_t *p = NULL;
	struct kura_buf deps;
	int r = kura_state_get(kura_txn_vault(t), "patient", patient, &p);
	json_decref(p);
	if (r != KURA_ENOTFOUND)
		return r;
	kura_buf_init(&deps, KURA_MAX_DEPTS * (KURA_MAX_DEPT + 1) + 1);
	for (unsigned i = 0; i < id->ndepartments; i++)
		kura_buf_printf(&deps, "%s%s", i ? "," : "", id->departments[i]);
	p = json_pack("{s:s, s:b}", "departments", deps.data ? (char *)deps.data : "", "restricted", 0);
	r = p ? kura_state_put(t, "patient", patient, p) : KURA_ENOMEM;
	json_decref(p);
	kura_buf_release(&deps);
	return r;
}
