/* test_export.c - audit export: the mapping table, FHIR AuditEvent and DICOM
 * ATNA XML for every action, XML escaping of hostile text, invalid input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "audit/export.h"
#include "util/err.h"

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src))
#define PYTHON "/usr/bin/python3"

static const struct kura_export_site site = {"kura01.example.jp", "hosp-01", "00ff"};

/* Every action ledger/event.h lists. */
static const char *const actions[] = {
	"login", "login-failed", "logout", "lockout", "unlock", "session-expired",
	"read", "search", "list", "write", "confirm", "retract", "import", "export",
	"print", "sign", "breakglass", "account-add", "account-change",
	"account-disable", "account-enable", "password-change", "password-reset",
	"factor-enroll", "factor-remove", "role-change", "config-change", "care-assign",
	"care-end", "patient-change", "grant", "revoke", "key-operation", "init",
	"verify", "audit-search", "audit-report", "audit-review", "audit-export",
	"audit-forward",
};
#define N_ACTIONS (sizeof(actions) / sizeof(actions[0]))

/* Expected codes: action, C/R/U/D/E, FHIR type code, DCM EventTypeCode or "". */
static const struct {
	const char *action;
	char code;
	const char *type, *event_type;
} expect[] = {
	{"login", 'E', "110114", "110122"}, {"logout", 'E', "110114", "110123"},
	{"login-failed", 'E', "110114", "110122"}, {"lockout", 'E', "110113", "110137"},
	{"read", 'R', "rest", ""}, {"search", 'E', "rest", ""},
	{"write", 'C', "rest", ""}, {"retract", 'D', "rest", ""},
	{"confirm", 'U', "rest", ""}, {"import", 'C', "rest", ""},
	{"export", 'R', "110106", ""}, {"breakglass", 'E', "110113", "110127"},
	{"account-add", 'E', "110113", "110137"}, {"role-change", 'E', "110113", "110136"},
	{"config-change", 'E', "110113", "110129"}, {"care-assign", 'E', "110113", "110135"},
	{"init", 'E', "110100", "110120"}, {"verify", 'E', "110100", ""},
	{"audit-search", 'R', "110101", ""}, {"audit-export", 'R', "110106", ""},
};

static void sample(struct kura_event_row *row, const char *action)
{
	struct kura_event *ev = &row->ev;
	memset(row, 0, sizeof(*row));
	row->leaf_index = 77;
	ev->time_us = 1795844455329737LL;
	ev->utc_offset_min = 540;
	ev->severity = KURA_SEV_INFO;
	COPY(ev->action, action);
	COPY(ev->actor, "yamada");
	COPY(ev->role, "doctor");
	COPY(ev->terminal, "ws-12");
	COPY(ev->client_ip, "192.0.2.10");
	COPY(ev->patient_id, "p-1");
	COPY(ev->record_id, "r-1");
	ev->version = 2;
}

/* 1 if the XML parses with Python's expat (0 if not); skips without Python. */
static int xml_well_formed(const char *xml)
{
	if (access(PYTHON, X_OK) != 0)
		return -1;
	FILE *p = popen(PYTHON " -c 'import sys, xml.etree.ElementTree as E; "
			"r = E.fromstring(sys.stdin.buffer.read()); "
			"sys.exit(0 if r.tag == \"AuditMessage\" else 3)'",
			"w");
	assert_non_null(p);
	fputs(xml, p);
	int st = pclose(p);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static const char *subtype_code(json_t *j, const char *system)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(j, "subtype"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "system")), system) == 0)
			return json_string_value(json_object_get(c, "code"));
	return NULL;
}

static void test_table(void **state)
{
	(void)state;
	assert_int_equal(kura_export_map_count(), N_ACTIONS);
	assert_null(kura_export_map_at(N_ACTIONS));
	for (size_t i = 0; i < N_ACTIONS; i++) {
		const struct kura_export_map *m = kura_export_map_find(actions[i]);
		assert_non_null(m);
		assert_string_equal(kura_export_event_id(actions[i]), m->event_id);
		assert_non_null(strchr("CRUDE", m->action_code));
		assert_non_null(kura_export_dcm_display(m->event_id));
		if (m->type_code)
			assert_non_null(kura_export_dcm_display(m->type_code));
		assert_true(m->rest == NULL || m->balp != NULL);
	}
	assert_null(kura_export_map_find("no-such-action"));
	assert_string_equal(kura_export_event_id("no-such-action"), "110100");
}

static void check_one(const char *action, struct kura_buf *xml)
{
	struct kura_event_row row;
	const struct kura_export_map *m = kura_export_map_find(action);
	char want[128];
	sample(&row, action);
	json_t *j = kura_export_fhir(&row, &site);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "kura-77");
	assert_string_equal(subtype_code(j, KURA_EXPORT_ACTION_SYSTEM), action);
	assert_string_equal(json_string_value(json_object_get(j, "recorded")),
			    "2026-11-28T14:40:55.329737+09:00");
	json_decref(j);
	kura_buf_reset(xml);
	assert_int_equal(kura_export_atna(&row, &site, xml), 0);
	assert_null(memchr(xml->data, '\n', xml->len));
	snprintf(want, sizeof(want), "<EventID csd-code=\"%s\" codeSystemName=\"DCM\"",
		 m->event_id);
	assert_non_null(strstr((char *)xml->data, want));
	assert_int_not_equal(xml_well_formed((char *)xml->data), 0);
}

static void test_every_action(void **state)
{
	(void)state;
	struct kura_buf xml;
	kura_buf_init(&xml, KURA_MAX_SYSLOG_MSG);
	for (size_t i = 0; i < N_ACTIONS; i++)
		check_one(actions[i], &xml);
	kura_buf_release(&xml);
}

static void test_expected_codes(void **state)
{
	(void)state;
	struct kura_event_row row;
	char want[160];
	struct kura_buf xml;
	kura_buf_init(&xml, KURA_MAX_SYSLOG_MSG);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		sample(&row, expect[i].action);
		row.ev.version = 1;
		json_t *j = kura_export_fhir(&row, &site);
		assert_non_null(j);
		const char *act = json_string_value(json_object_get(j, "action"));
		assert_true(act && act[0] == expect[i].code && act[1] == '\0');
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(j, "type"), "code")), expect[i].type);
		if (*expect[i].event_type)
			assert_string_equal(subtype_code(j, "http://dicom.nema.org/resources/ontology/DCM"),
					    expect[i].event_type);
		json_decref(j);
		kura_buf_reset(&xml);
		assert_int_equal(kura_export_atna(&row, &site, &xml), 0);
		snprintf(want, sizeof(want), "EventActionCode=\"%c\"", expect[i].code);
		assert_non_null(strstr((char *)xml.data, want));
		snprintf(want, sizeof(want), "<EventTypeCode csd-code=\"%s\"", expect[i].event_type);
		if (*expect[i].event_type)
			assert_non_null(strstr((char *)xml.data, want));
	}
	kura_buf_release(&xml);
}

static const char *profile_of(json_t *j)
{
	return json_string_value(json_array_get(
		json_object_get(json_object_get(j, "meta"), "profile"), 0));
}

static void test_balp_and_write(void **state)
{
	(void)state;
	struct kura_event_row row;
	sample(&row, "read");
	json_t *j = kura_export_fhir(&row, &site);
	assert_string_equal(profile_of(j), "https://profiles.ihe.net/ITI/BALP/"
					   "StructureDefinition/IHE.BasicAudit.PatientRead");
	json_decref(j);
	row.ev.patient_id[0] = '\0';
	j = kura_export_fhir(&row, &site);
	assert_string_equal(profile_of(j), "https://profiles.ihe.net/ITI/BALP/"
					   "StructureDefinition/IHE.BasicAudit.Read");
	json_decref(j);
	row.ev.outcome = KURA_OUTCOME_MINOR; /* BALP profiles are for success */
	j = kura_export_fhir(&row, &site);
	assert_null(profile_of(j));
	assert_string_equal(json_string_value(json_object_get(j, "outcome")), "4");
	json_decref(j);
	sample(&row, "write");
	row.ev.version = 1;
	j = kura_export_fhir(&row, &site);
	assert_string_equal(json_string_value(json_object_get(j, "action")), "C");
	assert_string_equal(subtype_code(j, "http://hl7.org/fhir/restful-interaction"), "create");
	json_decref(j);
	row.ev.version = 2;
	j = kura_export_fhir(&row, &site);
	assert_string_equal(json_string_value(json_object_get(j, "action")), "U");
	assert_string_equal(subtype_code(j, "http://hl7.org/fhir/restful-interaction"), "update");
	json_decref(j);
}

static void test_query_and_breakglass(void **state)
{
	(void)state;
	struct kura_event_row row;
	struct kura_buf xml;
	kura_buf_init(&xml, KURA_MAX_SYSLOG_MSG);
	sample(&row, "search");
	row.ev.record_id[0] = '\0';
	COPY(row.ev.query, "name=yamada");
	json_t *j = kura_export_fhir(&row, &site);
	json_t *q = json_array_get(json_object_get(j, "entity"), 1);
	assert_string_equal(json_string_value(json_object_get(q, "query")), "bmFtZT15YW1hZGE=");
	json_decref(j);
	assert_int_equal(kura_export_atna(&row, &site, &xml), 0);
	assert_non_null(strstr((char *)xml.data,
			       "<ParticipantObjectQuery>bmFtZT15YW1hZGE=</ParticipantObjectQuery>"));
	sample(&row, "breakglass");
	COPY(row.ev.reason, "救急");
	j = kura_export_fhir(&row, &site);
	json_t *p = json_array_get(json_object_get(json_array_get(json_object_get(j, "agent"), 0),
						   "purposeOfUse"), 0);
	assert_string_equal(json_string_value(json_object_get(p, "text")), "救急");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(p, "coding"), 0), "code")), "BTG");
	json_decref(j);
	kura_buf_reset(&xml);
	assert_int_equal(kura_export_atna(&row, &site, &xml), 0);
	assert_non_null(strstr((char *)xml.data, "<PurposeOfUse csd-code=\"BTG\""));
	kura_buf_release(&xml);
}

static void test_escape(void **state)
{
	(void)state;
	struct kura_buf b;
	kura_buf_init(&b, 1024);
	assert_int_equal(kura_export_xml_escape(&b, "<script>&\"'\t\n\x01x\x7f山田太郎"), 0);
	assert_string_equal((char *)b.data, "&lt;script&gt;&amp;&quot;&apos;x山田太郎");
	size_t len = b.len;
	assert_int_equal(kura_export_xml_escape(&b, "ok\xff"), KURA_EINVAL);
	assert_int_equal(b.len, len);
	assert_int_equal(kura_export_xml_escape(&b, "\xef\xbf\xbe"), 0); /* U+FFFE */
	assert_int_equal(b.len, len);
	kura_buf_release(&b);
}

static void test_hostile_event(void **state)
{
	(void)state;
	struct kura_event_row row;
	struct kura_buf xml;
	kura_buf_init(&xml, KURA_MAX_SYSLOG_MSG);
	sample(&row, "retract");
	COPY(row.ev.actor, "<script>alert(\"x\")</script>");
	COPY(row.ev.role, "doc'tor & <b>");
	COPY(row.ev.terminal, "tty\r\n1\x1b[31m");
	COPY(row.ev.reason, "山田太郎 ']]> --> \x01\x02");
	COPY(row.ev.detail, "line1\nline2\x0b\x0c");
	COPY(row.ev.query, "a=<&>");
	COPY(row.ev.patient_id, "\"p\"");
	assert_int_equal(kura_export_atna(&row, &site, &xml), 0);
	assert_null(memchr(xml.data, '\n', xml.len));
	assert_null(memchr(xml.data, '\x1b', xml.len));
	assert_non_null(strstr((char *)xml.data,
			       "UserID=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;\""));
	assert_non_null(strstr((char *)xml.data, "line1line2</EventOutcomeDescription>"));
	int wf = xml_well_formed((char *)xml.data);
	if (wf < 0)
		skip();
	assert_int_equal(wf, 1);
	assert_int_equal(xml_well_formed("<AuditMessage x=\"<\"/>"), 0); /* the checker checks */
	json_t *j = kura_export_fhir(&row, &site);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "outcomeDesc")), "line1\nline2");
	json_decref(j);
	kura_buf_release(&xml);
}

static void test_json_round_trip(void **state)
{
	(void)state;
	struct kura_event_row row;
	sample(&row, "breakglass");
	COPY(row.ev.reason, "救急搬送 \"quoted\" \\ back");
	json_t *j = kura_export_fhir(&row, &site);
	char *s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	json_error_t err;
	json_t *back = json_loads(s, 0, &err);
	assert_non_null(back);
	assert_true(json_equal(j, back));
	free(s);
	json_decref(back);
	json_decref(j);
}

static void test_invalid(void **state)
{
	(void)state;
	struct kura_event_row row;
	struct kura_buf b;
	struct kura_export_site nohost = {"", "", ""}, badlog = {"h", "", "xyz"};
	kura_buf_init(&b, KURA_MAX_SYSLOG_MSG);
	kura_buf_append_str(&b, "keep");
	sample(&row, "read");
	assert_null(kura_export_fhir(NULL, &site));
	assert_null(kura_export_fhir(&row, NULL));
	assert_null(kura_export_fhir(&row, &nohost));
	assert_null(kura_export_fhir(&row, &badlog));
	assert_int_equal(kura_export_atna(&row, &nohost, &b), KURA_EINVAL);
	row.ev.outcome = 3;
	assert_null(kura_export_fhir(&row, &site));
	assert_int_equal(kura_export_atna(&row, &site, &b), KURA_EINVAL);
	sample(&row, "");
	assert_null(kura_export_fhir(&row, &site));
	sample(&row, "read");
	COPY(row.ev.actor, "bad\xc3");
	assert_null(kura_export_fhir(&row, &site));
	assert_int_equal(kura_export_atna(&row, &site, &b), KURA_EINVAL);
	sample(&row, "read");
	row.ev.utc_offset_min = 15 * 60;
	assert_null(kura_export_fhir(&row, &site));
	assert_string_equal((char *)b.data, "keep");
	kura_buf_release(&b);
	kura_buf_init(&b, 64); /* too small: ETOOBIG, buffer untouched */
	sample(&row, "read");
	assert_int_equal(kura_export_atna(&row, &site, &b), KURA_ETOOBIG);
	assert_int_equal(b.len, 0);
	kura_buf_release(&b);
}

static void test_unknown_action(void **state)
{
	(void)state;
	struct kura_event_row row;
	sample(&row, "future-thing");
	json_t *j = kura_export_fhir(&row, &site);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "type"), "code")),
			    "110100");
	json_decref(j);
}

static void test_instant(void **state)
{
	(void)state;
	char t[KURA_EXPORT_INSTANT];
	assert_int_equal(kura_export_instant(0, 540, t), 0);
	assert_string_equal(t, "1970-01-01T09:00:00.000000+09:00");
	assert_int_equal(kura_export_instant(-1, -330, t), 0);
	assert_string_equal(t, "1969-12-31T18:29:59.999999-05:30");
	assert_int_equal(kura_export_instant(0, 0, t), 0);
	assert_string_equal(t, "1970-01-01T00:00:00.000000+00:00");
	assert_int_equal(kura_export_instant(0, 14 * 60 + 1, t), KURA_EINVAL);
	assert_int_equal(kura_export_instant(INT64_MAX, 0, t), KURA_EINVAL);
	assert_int_equal(kura_export_instant(INT64_MIN, 0, t), KURA_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_every_action),
		cmocka_unit_test(test_expected_codes),
		cmocka_unit_test(test_balp_and_write),
		cmocka_unit_test(test_query_and_breakglass),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_hostile_event),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_unknown_action),
		cmocka_unit_test(test_instant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
