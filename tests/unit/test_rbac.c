/* test_rbac.c - roles: the default matrix, the rule text form, patterns. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth/rbac.h"
#include "util/err.h"

#define NTYPES 11
static const char *const types[NTYPES] = {
	"Observation", "Patient",   "MedicationRequest", "MedicationAdministration",
	"CarePlan",    "Condition", "Coverage",          "application/pdf",
	"hl7v2",       "image/jpeg", "-",
};

/* One letter per action in enum order: a letter in the string means allowed. */
static const char letters[KURA_ACT_COUNT + 1] = "RSWCGEPAU";

#define ALL7 "RSWCGEP"
static const struct {
	const char *role;
	const char *expect[NTYPES];
} matrix[] = {
	{"doctor", {ALL7, ALL7, ALL7, ALL7, ALL7, ALL7, ALL7, ALL7, ALL7, ALL7, ""}},
	{"nurse", {"RSWCP", "RSP", "RSP", "RSWCP", "RSWCP", "RSP", "RSP", "RSP", "RSP", "RSP", ""}},
	{"pharmacist",
	 {"RSP", "RSP", "RSWCGP", "RSWCGP", "RSP", "RSP", "", "RSP", "RSP", "RSP", ""}},
	{"clerk", {"", "RSWP", "", "", "", "", "RSWP", "", "", "", ""}},
	{"auditor", {"", "", "", "", "", "", "", "", "", "", "U"}},
	{"security-admin", {"", "", "", "", "", "", "", "", "", "", "A"}},
	{"system",
	 {"RSWC", "RSWC", "RSWC", "RSWC", "RSWC", "RSWC", "RSWC", "RSWC", "RSWC", "RSWC", ""}},
};

static struct kura_role *role_new(void)
{
	struct kura_role *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	return r;
}

static void test_matrix(void **state)
{
	(void)state;
	struct kura_role *r = role_new();
	size_t checked = 0;
	for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
		assert_int_equal(kura_rbac_builtin(matrix[i].role, r), 0);
		for (size_t t = 0; t < NTYPES; t++) {
			for (unsigned a = 0; a < KURA_ACT_COUNT; a++) {
				int want = strchr(matrix[i].expect[t], letters[a]) != NULL;
				int got = kura_rbac_allows(r, (enum kura_action)a, types[t]);
				if (got != want)
					fail_msg("%s %s %s: got %d", matrix[i].role,
						 kura_action_name(a), types[t], got);
				checked++;
			}
		}
		/* NULL is the same as "-". */
		assert_int_equal(kura_rbac_allows(r, KURA_ACT_ADMINISTER, NULL),
				 strcmp(matrix[i].role, "security-admin") == 0);
		assert_int_equal(kura_rbac_allows(r, KURA_ACT_AUDIT, NULL),
				 strcmp(matrix[i].role, "auditor") == 0);
	}
	assert_int_equal(checked, 7 * NTYPES * KURA_ACT_COUNT);
	free(r);
}

static void test_builtins(void **state)
{
	(void)state;
	struct kura_role *r = role_new();
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_ROLE_RULES);
	size_t n = 0;
	for (; kura_rbac_builtin_names[n]; n++) {
		const char *name = kura_rbac_builtin_names[n];
		assert_int_equal(kura_rbac_builtin(name, r), 0);
		assert_true(kura_rbac_valid_role_name(name));
		assert_string_equal(r->name, name);
		assert_true(strlen(r->display) > 0);
		assert_true(r->nrules > 0);
		/* The defaults are written in canonical form. */
		kura_buf_reset(&b);
		assert_int_equal(kura_rbac_format(r, &b), 0);
		assert_string_equal((char *)b.data, kura_rbac_builtin_rules(name));
	}
	assert_int_equal(n, 7);
	assert_int_equal(kura_rbac_builtin("doctor", r), 0);
	assert_int_equal(r->scope, KURA_SCOPE_CARE);
	assert_int_equal(r->breakglass, 1);
	assert_string_equal(r->display, "医師");
	assert_int_equal(kura_rbac_builtin("clerk", r), 0);
	assert_int_equal(r->scope, KURA_SCOPE_ALL);
	assert_int_equal(r->breakglass, 0);
	assert_int_equal(kura_rbac_builtin("system", r), 0);
	assert_int_equal(r->scope, KURA_SCOPE_ALL);
	assert_int_equal(r->breakglass, 0);
	assert_int_equal(kura_rbac_builtin("auditor", r), 0);
	assert_int_equal(r->scope, KURA_SCOPE_NONE);
	assert_int_equal(kura_rbac_builtin("security-admin", r), 0);
	assert_int_equal(r->scope, KURA_SCOPE_NONE);
	assert_int_equal(r->breakglass, 0);
	assert_int_equal(kura_rbac_builtin("admin", r), KURA_ENOTFOUND);
	assert_int_equal(r->nrules, 0);
	assert_int_equal(kura_rbac_builtin(NULL, r), KURA_ENOTFOUND);
	assert_null(kura_rbac_builtin_rules("root"));
	kura_buf_release(&b);
	free(r);
}

/* AC-03 and the guideline: the administrator and the auditor never read
 * clinical content, whatever type is asked. */
static void test_admin_never_reads(void **state)
{
	(void)state;
	static const char *const clinical[] = {
		"Observation", "Condition", "DiagnosticReport", "MedicationRequest",
		"AllergyIntolerance", "DocumentReference", "Composition", "hl7v2",
		"application/pdf", "image/jpeg", "image/dicom", "text/plain", "Patient",
	};
	struct kura_role *r = role_new();
	const char *roles[] = {"security-admin", "auditor"};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(kura_rbac_builtin(roles[i], r), 0);
		assert_int_equal(r->breakglass, 0);
		for (size_t t = 0; t < sizeof(clinical) / sizeof(clinical[0]); t++)
			for (unsigned a = 0; a < KURA_ACT_ADMINISTER; a++)
				assert_false(kura_rbac_allows(r, a, clinical[t]));
	}
	/* Scope none wins over rules a site might add. */
	assert_int_equal(kura_rbac_parse("administer:-;read:*", r, NULL), 0);
	assert_false(kura_rbac_allows(r, KURA_ACT_READ, "Observation"));
	assert_true(kura_rbac_allows(r, KURA_ACT_ADMINISTER, "-"));
	r->scope = KURA_SCOPE_CARE;
	assert_true(kura_rbac_allows(r, KURA_ACT_READ, "Observation"));
	free(r);
}

static void test_fail_closed(void **state)
{
	(void)state;
	struct kura_role *r = role_new();
	assert_int_equal(kura_rbac_builtin("doctor", r), 0);
	assert_false(kura_rbac_allows(r, KURA_ACT_READ, NULL));
	assert_false(kura_rbac_allows(r, KURA_ACT_READ, "-"));
	assert_false(kura_rbac_allows(r, KURA_ACT_READ, ""));
	assert_false(kura_rbac_allows(r, KURA_ACT_READ, "observation"));
	assert_false(kura_rbac_allows(r, KURA_ACT_READ, "Image/JPEG"));
	assert_false(kura_rbac_allows(r, KURA_ACT_COUNT, "Observation"));
	assert_false(kura_rbac_allows(r, (enum kura_action)-1, "Observation"));
	assert_false(kura_rbac_allows(NULL, KURA_ACT_READ, "Observation"));
	assert_int_equal(kura_rbac_builtin("security-admin", r), 0);
	assert_false(kura_rbac_allows(r, KURA_ACT_ADMINISTER, "Patient"));
	/* A failed parse leaves a role that allows nothing. */
	r->scope = KURA_SCOPE_ALL;
	assert_int_equal(kura_rbac_parse("read:*;bogus:*", r, NULL), KURA_EINVAL);
	assert_int_equal(r->nrules, 0);
	assert_false(kura_rbac_allows(r, KURA_ACT_READ, "Observation"));
	/* A damaged role allows nothing and does not crash. */
	assert_int_equal(kura_rbac_parse("read:*", r, NULL), 0);
	r->rules[0].pattern = 4000;
	assert_false(kura_rbac_allows(r, KURA_ACT_READ, "Observation"));
	free(r);
}

static void test_patterns(void **state)
{
	(void)state;
	assert_true(kura_rbac_type_matches("*", "Observation"));
	assert_true(kura_rbac_type_matches("*", "hl7v2"));
	assert_true(kura_rbac_type_matches("*", "image/jpeg"));
	assert_false(kura_rbac_type_matches("*", "-"));
	assert_false(kura_rbac_type_matches("*", NULL));
	assert_false(kura_rbac_type_matches("*", "not a type"));
	assert_true(kura_rbac_type_matches("-", NULL));
	assert_true(kura_rbac_type_matches("-", "-"));
	assert_false(kura_rbac_type_matches("-", "Patient"));
	assert_true(kura_rbac_type_matches("Observation", "Observation"));
	assert_false(kura_rbac_type_matches("Observation", "ObservationDefinition"));
	assert_false(kura_rbac_type_matches("Observation", "observation"));
	assert_true(kura_rbac_type_matches("application/pdf", "application/pdf"));
	assert_true(kura_rbac_type_matches("image/*", "image/jpeg"));
	assert_true(kura_rbac_type_matches("image/*", "image/png"));
	assert_false(kura_rbac_type_matches("image/*", "imagex/png"));
	assert_false(kura_rbac_type_matches("image/*", "application/pdf"));
	assert_false(kura_rbac_type_matches("image/*", "Image"));
	assert_false(kura_rbac_type_matches("Image/*", "Image/png"));
	assert_false(kura_rbac_type_matches("*/*", "image/png"));
	assert_true(kura_rbac_type_matches("@administrative", "Patient"));
	assert_true(kura_rbac_type_matches("@administrative", "RelatedPerson"));
	assert_false(kura_rbac_type_matches("@administrative", "Observation"));
	assert_true(kura_rbac_type_matches("@clinical", "Observation"));
	assert_true(kura_rbac_type_matches("@clinical", "hl7v2"));
	assert_true(kura_rbac_type_matches("@clinical", "application/pdf"));
	assert_false(kura_rbac_type_matches("@clinical", "Patient"));
	assert_false(kura_rbac_type_matches("@clinical", "Encounter"));
	assert_true(kura_rbac_type_matches("@medication", "Immunization"));
	assert_false(kura_rbac_type_matches("@medication", "Observation"));
	assert_true(kura_rbac_type_matches("@nursing", "Goal"));
	assert_false(kura_rbac_type_matches("@nursing", "Condition"));
	assert_false(kura_rbac_type_matches("@surgery", "Procedure"));
	assert_false(kura_rbac_type_matches(NULL, "Patient"));
}

static void expect_round_trip(const char *in, const char *canonical)
{
	struct kura_role *a = role_new(), *b = role_new();
	struct kura_buf t;
	kura_buf_init(&t, KURA_MAX_ROLE_RULES);
	assert_int_equal(kura_rbac_parse(in, a, NULL), 0);
	assert_int_equal(kura_rbac_format(a, &t), 0);
	assert_string_equal((char *)t.data, canonical);
	assert_int_equal(kura_rbac_parse((char *)t.data, b, NULL), 0);
	assert_true(kura_rbac_rules_equal(a, b));
	kura_buf_release(&t);
	free(a);
	free(b);
}

static void test_round_trip(void **state)
{
	(void)state;
	expect_round_trip("read:*", "read:*");
	expect_round_trip("read,search,print:*; write,confirm,sign,export:@clinical; administer:-",
			  "read,search,print:*;write,confirm,sign,export:@clinical;administer:-");
	expect_round_trip(" print , read\t:\timage/* , application/pdf ;audit,administer: - ",
			  "read,print:image/*,application/pdf;administer,audit:-");
	expect_round_trip("read:Patient;read:Observation;write:hl7v2;read:Goal",
			  "read:Patient,Observation;write:hl7v2;read:Goal");
	expect_round_trip("read,read,search:@nursing", "read,search:@nursing");
	expect_round_trip("read:*,*", "read:*,*");
}

static void test_limits(void **state)
{
	(void)state;
	struct kura_role *r = role_new();
	struct kura_buf t;
	char *text = malloc(KURA_MAX_ROLE_RULES + 2);
	assert_non_null(text);
	kura_buf_init(&t, KURA_MAX_ROLE_RULES);
	/* The most pairs the limit allows: 2046 in 4096 bytes. */
	memcpy(text, "read:*", 6);
	size_t n = 6;
	while (n + 2 <= KURA_MAX_ROLE_RULES) {
		memcpy(text + n, ",*", 2);
		n += 2;
	}
	text[n] = 0;
	assert_int_equal(n, KURA_MAX_ROLE_RULES);
	assert_int_equal(kura_rbac_parse(text, r, NULL), 0);
	assert_int_equal(r->nrules, 2046);
	assert_int_equal(kura_rbac_format(r, &t), 0);
	assert_int_equal(t.len, KURA_MAX_ROLE_RULES);
	/* Alternating rules do not merge; the canonical form is no longer. */
	kura_buf_reset(&t);
	for (n = 0; n + 20 <= KURA_MAX_ROLE_RULES; n += 20)
		memcpy(text + n, "read:c/d;write:a/bc;", 20);
	text[n - 1] = 0;
	assert_int_equal(kura_rbac_parse(text, r, NULL), 0);
	assert_int_equal(r->nrules, 2 * (n / 20));
	assert_int_equal(kura_rbac_format(r, &t), 0);
	assert_string_equal((char *)t.data, text);
	memset(text, ' ', KURA_MAX_ROLE_RULES + 1);
	memcpy(text, "read:*", 6);
	text[KURA_MAX_ROLE_RULES + 1] = 0;
	assert_int_equal(kura_rbac_parse(text, r, NULL), KURA_ETOOBIG);
	text[KURA_MAX_ROLE_RULES] = 0;
	assert_int_equal(kura_rbac_parse(text, r, NULL), 0);
	kura_buf_release(&t);
	free(text);
	free(r);
}

static void expect_error(const char *in, int code, const char *needle)
{
	struct kura_role *r = role_new();
	struct kura_buf err;
	kura_buf_init(&err, 1024);
	kura_buf_append_str(&err, "old text");
	assert_int_equal(kura_rbac_parse(in, r, &err), code);
	assert_int_equal(r->nrules, 0);
	assert_non_null(err.data);
	if (!strstr((char *)err.data, needle))
		fail_msg("'%s': message '%s' lacks '%s'", in ? in : "(null)", (char *)err.data,
			 needle);
	kura_buf_release(&err);
	free(r);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_error(NULL, KURA_EINVAL, "empty rule list");
	expect_error("", KURA_EINVAL, "empty rule list");
	expect_error("  \t ", KURA_EINVAL, "empty rule list");
	expect_error("read:*;", KURA_EINVAL, "rule 2: empty rule");
	expect_error(";read:*", KURA_EINVAL, "rule 1: empty rule");
	expect_error("read:*; ;write:*", KURA_EINVAL, "rule 2: empty rule");
	expect_error("read", KURA_EINVAL, "rule 1: no ':' in 'read'");
	expect_error("reed:*", KURA_EINVAL, "rule 1: unknown action 'reed'");
	expect_error("read,Write:*", KURA_EINVAL, "unknown action 'Write'");
	expect_error("read,:*", KURA_EINVAL, "rule 1: empty action");
	expect_error(":*", KURA_EINVAL, "rule 1: empty action");
	expect_error("read:", KURA_EINVAL, "rule 1: empty pattern");
	expect_error("read:*,", KURA_EINVAL, "rule 1: empty pattern");
	expect_error("read:*;write:@surgery", KURA_EINVAL, "rule 2: bad pattern '@surgery'");
	expect_error("read:Image/*", KURA_EINVAL, "bad pattern 'Image/*'");
	expect_error("read:*/*", KURA_EINVAL, "bad pattern '*/*'");
	expect_error("read:image/", KURA_EINVAL, "bad pattern 'image/'");
	expect_error("read:observation", KURA_EINVAL, "bad pattern 'observation'");
	expect_error("read:Obs ervation", KURA_EINVAL, "bad pattern 'Obs ervation'");
	expect_error("read:*:*", KURA_EINVAL, "bad pattern '*:*'");
	expect_error("read:-", KURA_EINVAL, "record actions need a record type");
	expect_error("administer:*", KURA_EINVAL, "administer and audit take no record type");
	expect_error("audit:Patient", KURA_EINVAL, "administer and audit take no record type");
	expect_error("read,administer:-", KURA_EINVAL, "record actions need a record type");
	char long_type[200];
	memset(long_type, 'a', sizeof(long_type));
	memcpy(long_type, "read:A", 6);
	long_type[sizeof(long_type) - 1] = 0;
	expect_error(long_type, KURA_EINVAL, "bad pattern");
	expect_error("read: Patient; x", KURA_EINVAL, "rule 2: no ':'");
}

static void test_names(void **state)
{
	(void)state;
	enum kura_action a;
	enum kura_scope s;
	for (unsigned i = 0; i < KURA_ACT_COUNT; i++) {
		assert_int_equal(kura_action_parse(kura_action_name(i), &a), 0);
		assert_int_equal(a, i);
	}
	assert_string_equal(kura_action_name(KURA_ACT_AUDIT), "audit");
	assert_string_equal(kura_action_name(KURA_ACT_COUNT), "unknown");
	assert_int_equal(kura_action_parse("READ", &a), KURA_EINVAL);
	assert_int_equal(kura_action_parse(NULL, &a), KURA_EINVAL);
	assert_int_equal(kura_action_parse("unknown", &a), KURA_EINVAL);
	assert_int_equal(kura_scope_parse("care", &s), 0);
	assert_int_equal(s, KURA_SCOPE_CARE);
	assert_int_equal(kura_scope_parse("none", &s), 0);
	assert_int_equal(s, KURA_SCOPE_NONE);
	assert_int_equal(kura_scope_parse("all", &s), 0);
	assert_int_equal(s, KURA_SCOPE_ALL);
	assert_int_equal(kura_scope_parse("All", &s), KURA_EINVAL);
	assert_int_equal(kura_scope_parse(NULL, &s), KURA_EINVAL);
	assert_string_equal(kura_scope_name(KURA_SCOPE_ALL), "all");
	assert_string_equal(kura_scope_name((enum kura_scope)7), "unknown");
	assert_true(kura_rbac_valid_role_name("radiologist"));
	assert_true(kura_rbac_valid_role_name("r"));
	assert_true(kura_rbac_valid_role_name("ward-3-nurse"));
	assert_true(kura_rbac_valid_role_name("abcdefghijklmnopqrstuvwxyz012345"));
	assert_false(kura_rbac_valid_role_name("abcdefghijklmnopqrstuvwxyz0123456"));
	assert_false(kura_rbac_valid_role_name(""));
	assert_false(kura_rbac_valid_role_name(NULL));
	assert_false(kura_rbac_valid_role_name("Doctor"));
	assert_false(kura_rbac_valid_role_name("1st"));
	assert_false(kura_rbac_valid_role_name("-x"));
	assert_false(kura_rbac_valid_role_name("a_b"));
	assert_false(kura_rbac_valid_role_name("a.b"));
}

/* A site's own role: a radiologist reads everything of its patients and
 * writes reports and images. */
static void test_custom_role(void **state)
{
	(void)state;
	struct kura_role *r = role_new();
	struct kura_buf err;
	kura_buf_init(&err, 256);
	assert_int_equal(kura_scope_parse("care", &r->scope), 0);
	assert_int_equal(kura_rbac_parse("read,search,print:*; write,confirm,sign:"
					 "DiagnosticReport,ImagingStudy,image/*",
					 r, &err),
			 0);
	assert_int_equal(err.len, 0);
	assert_true(kura_rbac_allows(r, KURA_ACT_SIGN, "image/png"));
	assert_true(kura_rbac_allows(r, KURA_ACT_WRITE, "DiagnosticReport"));
	assert_false(kura_rbac_allows(r, KURA_ACT_WRITE, "Observation"));
	assert_false(kura_rbac_allows(r, KURA_ACT_EXPORT, "image/png"));
	/* Overriding a built-in's rules keeps its name and scope. */
	assert_int_equal(kura_rbac_builtin("nurse", r), 0);
	assert_int_equal(kura_rbac_parse("read:@nursing", r, &err), 0);
	assert_string_equal(r->name, "nurse");
	assert_int_equal(r->scope, KURA_SCOPE_CARE);
	assert_false(kura_rbac_allows(r, KURA_ACT_READ, "Patient"));
	kura_buf_release(&err);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_admin_never_reads),
		cmocka_unit_test(test_fail_closed),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_custom_role),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
