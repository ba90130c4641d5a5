/*
 * rbac.h - roles and the permission matrix (role x action x record type).
 *
 * This module is the pure role model: what a role may do to which record
 * types.  It knows nothing about patients; whether a given patient is in
 * reach (department, care assignment, grant, break-glass, restriction) is
 * decided by the caller from the role's scope.  Access needs both: this
 * matrix and the caller's scope check.  Everything fails closed: an action
 * is denied unless a rule allows it.  docs/internals/rbac.md has the
 * built-in matrix and the reasons behind it (AC-02, AC-03, AU-04).
 *
 * Text form of a rule list (the `role.<name>.rules` setting):
 *
 *     rules   = rule *( ";" rule )
 *     rule    = action *( "," action ) ":" pattern *( "," pattern )
 *
 * with blanks (space, tab) allowed around every separator.  A rule gives
 * each of its actions on each of its patterns.  Patterns:
 *
 *     *                every record type
 *     Observation      exactly this record type (FHIR type, hl7v2, MIME type)
 *     image/ + *       (no blank; C comments cannot spell it) every MIME
 *                      record type of this top-level type, e.g. image/jpeg
 *     @clinical        every record type not in @administrative
 *     @administrative  Patient Encounter Coverage Account Appointment
 *                      Schedule Slot Organization Practitioner
 *                      PractitionerRole Location RelatedPerson
 *     @medication      MedicationRequest MedicationDispense
 *                      MedicationAdministration MedicationStatement
 *                      Medication Immunization
 *     @nursing         Observation CarePlan Goal NutritionOrder Procedure
 *     -                no record type: the only pattern of administer and
 *                      audit, and not allowed with any other action
 *
 * The canonical form (kura_rbac_format) lists actions in enum order without
 * repeats, joins rules with ";" and patterns with "," and no blanks, and
 * merges neighbouring rules with the same actions.  It is never longer than
 * the text it was parsed from, so it always parses again.
 */
#ifndef KURA_AUTH_RBAC_H
#define KURA_AUTH_RBAC_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/limits.h"

enum kura_action {
	KURA_ACT_READ,
	KURA_ACT_SEARCH,
	KURA_ACT_WRITE,
	KURA_ACT_CONFIRM,
	KURA_ACT_SIGN,
	KURA_ACT_EXPORT,
	KURA_ACT_PRINT,
	KURA_ACT_ADMINISTER, /* accounts and configuration; no record type */
	KURA_ACT_AUDIT,      /* read the audit trail, record reviews; no record type */
	KURA_ACT_COUNT
};

enum kura_scope {
	KURA_SCOPE_NONE, /* no patient data at all */
	KURA_SCOPE_CARE, /* own department or active care assignment (or grant / break-glass) */
	KURA_SCOPE_ALL,  /* every patient not restricted (machines, reception) */
};

/* A role name: [a-z][a-z0-9-]{0,31}.  (Moves to util/limits.h when the
 * integrator takes this module in.) */
#define KURA_MAX_ROLE_NAME 32u

/* One (action set, type pattern) pair.  actions has bit (1u << a) for each
 * enum kura_action a; pattern is an offset into kura_role.pool where the
 * NUL-terminated pattern text starts. */
struct kura_rbac_rule {
	uint16_t actions;
	uint16_t pattern;
};

/*
 * A role.  The caller allocates it (about 12 KiB: keep it off small stacks
 * in threads) and may read every field; only kura_rbac_parse() and
 * kura_rbac_builtin() should write the rules.  The sizes hold any rule list
 * of up to KURA_MAX_ROLE_RULES bytes of text: every pattern takes at least
 * two bytes of it (a separator and one character).
 */
struct kura_role {
	char name[KURA_MAX_ROLE_NAME + 1];
	char display[KURA_MAX_NAME + 1]; /* Japanese display name, UTF-8 */
	enum kura_scope scope;
	int breakglass; /* 1: may use break-glass for patients outside its scope */
	size_t nrules;
	struct kura_rbac_rule rules[KURA_MAX_ROLE_RULES / 2];
	size_t pool_len;
	char pool[KURA_MAX_ROLE_RULES];
};

/* The lowercase name of an action ("read"); "unknown" when out of range. */
const char *kura_action_name(enum kura_action a);
/* The action of a name as kura_action_name() gives it (exact, lowercase).
 * KURA_EINVAL for anything else (also NULL); *ret is set only on success. */
int kura_action_parse(const char *s, enum kura_action *ret);

/* "none", "care", "all"; "unknown" when out of range. */
const char *kura_scope_name(enum kura_scope s);
/* The scope of a name as kura_scope_name() gives it; KURA_EINVAL otherwise.
 * *ret is set only on success. */
int kura_scope_parse(const char *s, enum kura_scope *ret);

/* 1 if s is a valid role name ([a-z][a-z0-9-]{0,31}), else 0 (also NULL). */
int kura_rbac_valid_role_name(const char *s);

/*
 * Parse a rule list in the text form above into ret_role_rules_only,
 * replacing its rules (nrules, rules, pool_len, pool) and nothing else: the
 * name, display name, scope and break-glass flag are the caller's.  Strict:
 *   KURA_EINVAL   text NULL or empty, an empty rule, action or pattern, a
 *                 rule without ':', an unknown action, a bad pattern, '-'
 *                 with a record-type action or administer/audit without it;
 *   KURA_ETOOBIG  text longer than KURA_MAX_ROLE_RULES bytes.
 * On failure the role has no rules, so it allows nothing, and errmsg (may
 * be NULL) is reset to one lowercase English line naming the problem and
 * the 1-based rule number; on success errmsg is left alone.
 */
int kura_rbac_parse(const char *text, struct kura_role *ret_role_rules_only,
		    struct kura_buf *errmsg);

/*
 * Append the canonical text form of r's rules to out (not reset first).
 * A role without rules gives the empty string, which kura_rbac_parse()
 * refuses: every role that can be stored has at least one rule.
 * KURA_ETOOBIG or KURA_ENOMEM from the buffer; KURA_EINVAL if r is NULL.
 * On failure out may hold part of the text.
 */
int kura_rbac_format(const struct kura_role *r, struct kura_buf *out);

/* 1 if a and b have the same rules in the same order (names, scopes and
 * flags are not compared), else 0. */
int kura_rbac_rules_equal(const struct kura_role *a, const struct kura_role *b);

/*
 * The built-in roles, NULL-terminated: doctor, nurse, pharmacist, clerk,
 * auditor, security-admin, system.
 */
extern const char *const kura_rbac_builtin_names[];

/* Fill *ret with a built-in role: name, display name, scope, break-glass
 * flag and default rules.  KURA_ENOTFOUND for any other name (*ret is then
 * cleared: no rules, scope none); KURA_EINTERNAL if a default does not
 * parse (a bug the unit tests catch). */
int kura_rbac_builtin(const char *name, struct kura_role *ret);

/* The default rule text of a built-in role, or NULL. */
const char *kura_rbac_builtin_rules(const char *name);

/* 1 if the type pattern matches record_type, else 0.  "-" matches only
 * record_type NULL or "-"; every other pattern matches only valid record
 * types (kura_valid_record_type).  An invalid pattern matches nothing. */
int kura_rbac_type_matches(const char *pattern, const char *record_type);

/*
 * 1 if role r may do action a on records of type record_type, else 0.
 * For administer and audit record_type must be NULL or "-"; for every other
 * action it must be a valid record type, and a role of scope none is denied
 * them whatever its rules say (it sees no patient data).  Denied unless a
 * rule allows it; NULL r or an out-of-range action is denied.
 */
int kura_rbac_allows(const struct kura_role *r, enum kura_action a,
		     const char *record_type);

#endif
