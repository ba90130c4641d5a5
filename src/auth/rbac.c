/* rbac.c - the role model: built-in roles, the rule text form, decisions. */
#include "auth/rbac.h"

#include <string.h>

#include "fhir/import.h"
#include "util/err.h"
#include "util/slice.h"
#include "util/banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ACT_BIT(a) ((uint16_t)(1u << (unsigned)(a)))
/* The actions that are not about record types: pattern "-" only. */
#define TYPELESS (ACT_BIT(KURA_ACT_ADMINISTER) | ACT_BIT(KURA_ACT_AUDIT))

static const char *const action_names[KURA_ACT_COUNT] = {
	"read", "search", "write", "confirm", "sign", "export", "print", "administer", "audit",
};

static const char *const scope_names[] = {"none", "care", "all"};

static const char *const group_administrative[] = {
	"Patient", "Encounter", "Coverage", "Account", "Appointment", "Schedule", "Slot",
	"Organization", "Practitioner", "PractitionerRole", "Location", "RelatedPerson", NULL,
};

static const char *const group_medication[] = {
	"MedicationRequest", "MedicationDispense", "MedicationAdministration",
	"MedicationStatement", "Medication", "Immunization", NULL,
};

/* Condition is left out on purpose: it holds diagnoses, a physician's act;
 * nurses record nursing problems in CarePlan and Goal
 * (docs/internals/rbac.md). */
static const char *const group_nursing[] = {
	"Observation", "CarePlan", "Goal", "NutritionOrder", "Procedure", NULL,
};

/* The defaults; the reasons are in docs/internals/rbac.md. */
static const struct builtin {
	const char *name;
	const char *display;
	enum kura_scope scope;
	int breakglass;
	const char *rules;
} builtins[] = {
	{"doctor", "医師", KURA_SCOPE_CARE, 1,
	 "read,search,write,confirm,sign,export,print:*"},
	{"nurse", "看護師", KURA_SCOPE_CARE, 1,
	 "read,search,print:*;write,confirm:@nursing,MedicationAdministration"},
	{"pharmacist", "薬剤師", KURA_SCOPE_CARE, 1,
	 "read,search,print:@clinical,Patient;write,confirm,sign:@medication"},
	{"clerk", "医事・受付事務", KURA_SCOPE_ALL, 0, "read,search,write,print:@administrative"},
	{"auditor", "監査担当者", KURA_SCOPE_NONE, 0, "audit:-"},
	{"security-admin", "セキュリティ管理者", KURA_SCOPE_NONE, 0, "administer:-"},
	{"system", "システム（機器連携）", KURA_SCOPE_ALL, 0, "read,search,write,confirm:*"},
};

const char *const kura_rbac_builtin_names[] = {
	"doctor", "nurse", "pharmacist", "clerk", "auditor", "security-admin", "system", NULL,
};

const char *kura_action_name(enum kura_action a)
{
	if ((unsigned)a >= KURA_ACT_COUNT)
		return "unknown";
	return action_names[a];
}

int kura_action_parse(const char *s, enum kura_action *ret)
{
	for (unsigned i = 0; s && i < KURA_ACT_COUNT; i++) {
		if (strcmp(s, action_names[i]) == 0) {
			*ret = (enum kura_action)i;
			return 0;
		}
	}
	return KURA_EINVAL;
}

const char *kura_scope_name(enum kura_scope s)
{
	if ((unsigned)s >= ARRAY_LEN(scope_names))
		return "unknown";
	return scope_names[s];
}

int kura_scope_parse(const char *s, enum kura_scope *ret)
{
	for (unsigned i = 0; s && i < ARRAY_LEN(scope_names); i++) {
		if (strcmp(s, scope_names[i]) == 0) {
			*ret = (enum kura_scope)i;
			return 0;
		}
	}
	return KURA_EINVAL;
}

int kura_rbac_valid_role_name(const char *s)
{
	if (!s || s[0] < 'a' || s[0] > 'z')
		return 0;
	size_t n = 1;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= KURA_MAX_ROLE_NAME)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

/* ---- patterns ---- */

static int in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* 1 if group (the name after '@') holds type, -1 if there is no such group. */
static int group_has(const char *group, const char *type)
{
	if (strcmp(group, "clinical") == 0)
		return !in_list(group_administrative, type);
	if (strcmp(group, "administrative") == 0)
		return in_list(group_administrative, type);
	if (strcmp(group, "medication") == 0)
		return in_list(group_medication, type);
	if (strcmp(group, "nursing") == 0)
		return in_list(group_nursing, type);
	return -1;
}

/* 1 if p is a MIME prefix: a lowercase top-level type name x, then a slash
 * and a star. */
static int is_mime_prefix(const char *p)
{
	size_t n = strlen(p);
	char probe[KURA_MAX_TYPE + 1];
	if (n < 3 || n > KURA_MAX_TYPE || strcmp(p + n - 2, "/*") != 0)
		return 0;
	/* The prefix is valid when "x/a" is a valid record type. */
	memcpy(probe, p, n + 1);
	probe[n - 1] = 'a';
	return kura_valid_record_type(probe);
}

static int valid_pattern(const char *p)
{
	if (strcmp(p, "*") == 0 || strcmp(p, "-") == 0)
		return 1;
	if (p[0] == '@')
		return group_has(p + 1, "Patient") >= 0;
	return is_mime_prefix(p) || kura_valid_record_type(p);
}

int kura_rbac_type_matches(const char *pattern, const char *type)
{
	if (!pattern)
		return 0;
	if (strcmp(pattern, "-") == 0)
		return !type || strcmp(type, "-") == 0;
	if (!type || !kura_valid_record_type(type))
		return 0;
	if (strcmp(pattern, "*") == 0)
		return 1;
	if (pattern[0] == '@')
		return group_has(pattern + 1, type) == 1;
	if (is_mime_prefix(pattern))
		return strncmp(type, pattern, strlen(pattern) - 1) == 0;
	return strcmp(pattern, type) == 0;
}

/* ---- decisions ---- */

/* The pattern of rule i, or NULL if the role is damaged. */
static const char *rule_pattern(const struct kura_role *r, size_t i)
{
	size_t off = r->rules[i].pattern;
	if (off >= r->pool_len || off >= sizeof(r->pool) || !memchr(r->pool + off, 0,
								       r->pool_len - off))
		return NULL;
	return r->pool + off;
}

static size_t rule_count(const struct kura_role *r)
{
	return r->nrules < ARRAY_LEN(r->rules) ? r->nrules : ARRAY_LEN(r->rules);
}

int kura_rbac_allows(const struct kura_role *r, enum kura_action a, const char *type)
{
	if (!r || (unsigned)a >= KURA_ACT_COUNT)
		return 0;
	if (ACT_BIT(a) & TYPELESS) {
		if (type && strcmp(type, "-") != 0)
			return 0;
	} else if (r->scope == KURA_SCOPE_NONE || !type || !kura_valid_record_type(type)) {
		return 0;
	}
	for (size_t i = 0; i < rule_count(r); i++) {
		if (!(r->rules[i].actions & ACT_BIT(a)))
			continue;
		if (kura_rbac_type_matches(rule_pattern(r, i), type))
			return 1;
	}
	return 0;
}

int kura_rbac_rules_equal(const struct kura_role *a, const struct kura_role *b)
{
	if (!a || !b || a->nrules != b->nrules || a->nrules > ARRAY_LEN(a->rules))
		return 0;
	for (size_t i = 0; i < a->nrules; i++) {
		const char *pa = rule_pattern(a, i), *pb = rule_pattern(b, i);
		if (a->rules[i].actions != b->rules[i].actions || !pa || !pb ||
		    strcmp(pa, pb) != 0)
			return 0;
	}
	return 1;
}

/* ---- the text form ---- */

static void clear_rules(struct kura_role *r)
{
	r->nrules = 0;
	r->pool_len = 0;
	memset(r->rules, 0, sizeof(r->rules));
	memset(r->pool, 0, sizeof(r->pool));
}

static int is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static struct kura_slice trim(struct kura_slice s)
{
	while (s.len && is_blank(s.ptr[0]))
		s.ptr++, s.len--;
	while (s.len && is_blank(s.ptr[s.len - 1]))
		s.len--;
	return s;
}

/* Take the item of *s up to the next sep (or the end), without blanks
 * around it.  *ret_more is 1 if a separator followed, so another item
 * (possibly empty) comes after it. */
static struct kura_slice take_item(struct kura_slice *s, int sep, int *ret_more)
{
	const uint8_t *end = s->len ? memchr(s->ptr, sep, s->len) : NULL;
	size_t n = end ? (size_t)(end - s->ptr) : s->len;
	struct kura_slice item = trim(kura_slice_make(s->ptr, n));
	*ret_more = end != NULL;
	s->ptr += n + (end != NULL);
	s->len -= n + (end != NULL);
	return item;
}

static void fail_msg(struct kura_buf *errmsg, size_t rule, const char *what,
		     struct kura_slice item, const char *hint)
{
	if (!errmsg)
		return;
	kura_buf_reset(errmsg);
	(void)kura_buf_printf(errmsg, "rule %zu: %s '%.*s': %s", rule, what,
			      (int)item.len, (const char *)item.ptr, hint);
}

static void list_msg(struct kura_buf *errmsg, const char *msg)
{
	if (!errmsg)
		return;
	kura_buf_reset(errmsg);
	(void)kura_buf_append_str(errmsg, msg);
}

/* Copy item into buf (size KURA_MAX_TYPE + 1) as a C string; 0 if too long. */
static int item_str(struct kura_slice item, char *buf)
{
	if (item.len > KURA_MAX_TYPE)
		return 0;
	if (item.len)
		memcpy(buf, item.ptr, item.len);
	buf[item.len] = 0;
	return 1;
}

/* Parse "action,action..." into *ret_mask. */
static int parse_actions(struct kura_slice s, size_t rule, uint16_t *ret_mask,
			 struct kura_buf *errmsg)
{
	char name[KURA_MAX_TYPE + 1];
	enum kura_action a;
	int more = 1;
	*ret_mask = 0;
	while (more) {
		struct kura_slice item = take_item(&s, ',', &more);
		if (!item_str(item, name) || kura_action_parse(name, &a) != 0) {
			fail_msg(errmsg, rule, item.len ? "unknown action" : "empty action", item,
				 "use read, search, write, confirm, sign, export, print, "
				 "administer or audit");
			return KURA_EINVAL;
		}
		*ret_mask |= ACT_BIT(a);
	}
	return 0;
}

/* Check one pattern against the rule's actions. */
static int check_pattern(const char *p, struct kura_slice item, uint16_t mask, size_t rule,
			 struct kura_buf *errmsg)
{
	if (!valid_pattern(p)) {
		fail_msg(errmsg, rule, item.len ? "bad pattern" : "empty pattern", item,
			 "use *, a record type, a MIME prefix such as image/*, "
			 "@clinical, @administrative, @medication or @nursing");
		return KURA_EINVAL;
	}
	if ((mask & TYPELESS) && strcmp(p, "-") != 0) {
		fail_msg(errmsg, rule, "administer and audit take no record type, not", item,
			 "write them in a rule of their own such as 'administer:-'");
		return KURA_EINVAL;
	}
	if ((mask & ~TYPELESS) && strcmp(p, "-") == 0) {
		fail_msg(errmsg, rule, "record actions need a record type, not", item,
			 "'-' is only for administer and audit; use * for every type");
		return KURA_EINVAL;
	}
	return 0;
}

/* Append one (mask, pattern) pair to the role. */
static int add_rule(struct kura_role *r, uint16_t mask, const char *p)
{
	size_t n = strlen(p) + 1;
	if (r->nrules >= ARRAY_LEN(r->rules) || n > sizeof(r->pool) - r->pool_len)
		return KURA_EINTERNAL; /* cannot happen: see struct kura_role */
	memcpy(r->pool + r->pool_len, p, n);
	r->rules[r->nrules].actions = mask;
	r->rules[r->nrules].pattern = (uint16_t)r->pool_len;
	r->nrules++;
	r->pool_len += n;
	return 0;
}

/* Parse "pattern,pattern..." and add one pair per pattern. */
static int parse_patterns(struct kura_slice s, uint16_t mask, size_t rule,
			  struct kura_role *r, struct kura_buf *errmsg)
{
	char p[KURA_MAX_TYPE + 1];
	int more = 1;
	while (more) {
		struct kura_slice item = take_item(&s, ',', &more);
		if (!item_str(item, p))
			p[0] = 0; /* too long: reported as a bad pattern */
		int e = check_pattern(item.len > KURA_MAX_TYPE ? "" : p, item, mask, rule,
				      errmsg);
		if (e == 0)
			e = add_rule(r, mask, p);
		if (e)
			return e;
	}
	return 0;
}

static int parse_rule(struct kura_slice s, size_t rule, struct kura_role *r,
		      struct kura_buf *errmsg)
{
	uint16_t mask;
	const uint8_t *colon = s.len ? memchr(s.ptr, ':', s.len) : NULL;
	if (!s.len) {
		fail_msg(errmsg, rule, "empty rule", s, "remove the extra ';'");
		return KURA_EINVAL;
	}
	if (!colon) {
		fail_msg(errmsg, rule, "no ':' in", s, "write actions:patterns, e.g. 'read:*'");
		return KURA_EINVAL;
	}
	size_t n = (size_t)(colon - s.ptr);
	int e = parse_actions(kura_slice_make(s.ptr, n), rule, &mask, errmsg);
	if (e)
		return e;
	return parse_patterns(kura_slice_make(colon + 1, s.len - n - 1), mask, rule, r,
			      errmsg);
}

int kura_rbac_parse(const char *text, struct kura_role *ret, struct kura_buf *errmsg)
{
	int r = KURA_EINVAL;
	int more = 1;
	size_t n = 0;
	clear_rules(ret);
	size_t len = text ? strnlen(text, KURA_MAX_ROLE_RULES + 1) : 0;
	if (len > KURA_MAX_ROLE_RULES) {
		list_msg(errmsg, "rule list too long: merge rules that share actions");
		if (errmsg)
			(void)kura_buf_printf(errmsg, " (at most %u bytes)", KURA_MAX_ROLE_RULES);
		r = KURA_ETOOBIG;
		goto out;
	}
	struct kura_slice s = trim(kura_slice_make(text, len));
	if (!s.len) {
		list_msg(errmsg, "empty rule list: give at least one rule, e.g. 'audit:-'");
		goto out;
	}
	while (more) {
		r = parse_rule(take_item(&s, ';', &more), ++n, ret, errmsg);
		if (r)
			goto out;
	}
	r = 0;
out:
	if (r)
		clear_rules(ret);
	return r;
}

static int format_actions(uint16_t mask, struct kura_buf *out)
{
	int r = 0;
	const char *sep = "";
	for (unsigned a = 0; a < KURA_ACT_COUNT && r == 0; a++) {
		if (!(mask & ACT_BIT(a)))
			continue;
		r = kura_buf_printf(out, "%s%s", sep, action_names[a]);
		sep = ",";
	}
	return r;
}

/* Append rule i, merged into rule i - 1 when both have the same actions. */
static int format_rule(const struct kura_role *role, size_t i, struct kura_buf *out)
{
	const char *p = rule_pattern(role, i);
	uint16_t mask = role->rules[i].actions;
	int r = 0;
	if (!p || !mask)
		return KURA_EINVAL;
	if (i > 0 && mask == role->rules[i - 1].actions)
		return kura_buf_printf(out, ",%s", p);
	if (i > 0)
		r = kura_buf_append_byte(out, ';');
	if (r == 0)
		r = format_actions(mask, out);
	if (r == 0)
		r = kura_buf_printf(out, ":%s", p);
	return r;
}

int kura_rbac_format(const struct kura_role *role, struct kura_buf *out)
{
	int r = role ? 0 : KURA_EINVAL;
	for (size_t i = 0; role && i < rule_count(role) && r == 0; i++)
		r = format_rule(role, i, out);
	return r;
}

/* ---- built-ins ---- */

static const struct builtin *find_builtin(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_LEN(builtins); i++)
		if (strcmp(builtins[i].name, name) == 0)
			return &builtins[i];
	return NULL;
}

const char *kura_rbac_builtin_rules(const char *name)
{
	const struct builtin *b = find_builtin(name);
	return b ? b->rules : NULL;
}

int kura_rbac_builtin(const char *name, struct kura_role *ret)
{
	const struct builtin *b = find_builtin(name);
	memset(ret, 0, sizeof(*ret));
	if (!b)
		return KURA_ENOTFOUND;
	/* Both fit: checked by the unit tests. */
	memcpy(ret->name, b->name, strlen(b->name) + 1);
	memcpy(ret->display, b->display, strlen(b->display) + 1);
	ret->scope = b->scope;
	ret->breakglass = b->breakglass;
	int r = kura_rbac_parse(b->rules, ret, NULL);
	if (r) {
		memset(ret, 0, sizeof(*ret));
		return KURA_EINTERNAL;
	}
	return 0;
}
