/* test_query.c - audit time expressions, the query language, anomaly flags,
 * the review window, and the text, JSON and CSV output. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "audit/query.h"
#include "audit/report.h"
#include "util/err.h"

#define S INT64_C(1000000)
#define DEC1 (INT64_C(1796083200) * S) /* 2026-12-01T00:00:00Z, a Tuesday */
#define NOW (DEC1 + 12 * 3600 * S)
#define JST 540

static void test_time_accept(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int off, eod;
		int64_t want;
	} ok[] = {
		{"2026-12-01T00:00:00Z", JST, 0, DEC1},
		{"2026-12-01t00:00:00z", 0, 0, DEC1},
		{"2026-12-01T09:00:00+09:00", 0, 0, DEC1},
		{"2026-11-30T19:30:00-04:30", JST, 0, DEC1},
		{"2026-12-01T00:00:00-00:00", JST, 0, DEC1},
		{"2026-12-01T00:00:00.5Z", 0, 0, DEC1 + S / 2},
		{"2026-12-01T00:00:00.000001Z", 0, 0, DEC1 + 1},
		{"2026-12-01T09:00", JST, 0, DEC1},
		{"2026-12-01T09:00:01", JST, 1, DEC1 + S},
		{"2026-12-01T09:00:00.25", JST, 0, DEC1 + S / 4},
		{"2026-12-01", 0, 0, DEC1},
		{"2026-12-01", JST, 0, DEC1 - 9 * 3600 * S},
		{"2026-12-01", JST, 1, DEC1 + 15 * 3600 * S},
		{"2026-11-30", 0, 1, DEC1},
		{"2024-02-29", 0, 0, INT64_C(1709164800) * S},
		{"2000-02-29", 0, 0, INT64_C(951782400) * S},
		{"1970-01-01T00:00:00Z", 0, 0, 0},
		{"2026-12-01T23:59:59Z", 0, 0, DEC1 + 86399 * S},
		{"now", JST, 0, NOW},
		{"-7d", JST, 0, NOW - 7 * 86400 * S},
		{"-24h", JST, 1, NOW - 86400 * S},
		{"-30m", 0, 0, NOW - 1800 * S},
		{"-0m", 0, 0, NOW},
		{"-999999d", 0, 0, NOW - INT64_C(999999) * 86400 * S},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t t = -1;
		int r = kura_time_parse_at(ok[i].s, ok[i].off, ok[i].eod, NOW, &t);
		if (r != 0 || t != ok[i].want)
			fail_msg("'%s': r=%d t=%lld want %lld", ok[i].s, r, (long long)t,
				 (long long)ok[i].want);
	}
	int64_t t;
	assert_int_equal(kura_time_parse("now", 0, 0, &t), 0);
	assert_true(t > DEC1 - 86400 * S * 400);
}

static void test_time_reject(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", " now", "now ", "NOW", "yesterday", "2026-12-1", "26-12-01", "2026/12/01",
		"2026-13-01", "2026-00-01", "2026-12-00", "2026-12-32", "2026-11-31", "2026-02-29",
		"1900-02-29", "2100-02-29", "0000-01-01", "2026-12-01T24:00", "2026-12-01T24:00:00Z",
		"2026-12-01T23:60", "2026-12-01T23:59:60Z", "2026-12-01T9:00", "2026-12-01T09:00Z",
		"2026-12-01T09:00+09:00", "2026-12-01T09:00:00+9:00", "2026-12-01T09:00:00+24:00",
		"2026-12-01T09:00:00+09:60", "2026-12-01T09:00:00+0900", "2026-12-01T09:00:00.Z",
		"2026-12-01T09:00:00.1234567Z", "2026-12-01T09:00:00ZZ", "2026-12-01T", "2026-12-01 09:00",
		"2026-12-01Z", "-7", "-d", "-7w", "-7dd", "+7d", "--7d", "-1234567d", "-7D", "7d",
		"2026-12-01T09:00:00+09:00 ", "２０２６-12-01",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 5;
		if (kura_time_parse_at(bad[i], JST, 0, NOW, &t) != KURA_EINVAL || t != 0)
			fail_msg("'%s' was accepted", bad[i]);
	}
	int64_t t;
	assert_int_equal(kura_time_parse_at(NULL, 0, 0, NOW, &t), KURA_EINVAL);
	assert_int_equal(kura_time_parse_at("now", 1440, 0, NOW, &t), KURA_EINVAL);
	assert_int_equal(kura_time_parse_at("now", -1440, 0, NOW, &t), KURA_EINVAL);
	assert_int_equal(kura_time_parse_at("now", -1439, 0, NOW, &t), 0);
}

static void test_query_keys(void **state)
{
	(void)state;
	struct kura_audit_query q;
	struct kura_event_filter f;
	assert_int_equal(kura_audit_query_parse_at(
				 "patient=P-001  user=dr.sato action=read,write outcome=denied "
				 "from=2026-12-01 to=2026-12-01 flag=off-hours,breakglass limit=10",
				 JST, NOW, &q),
			 0);
	assert_string_equal(q.patient_id, "P-001");
	assert_string_equal(q.actor, "dr.sato");
	assert_int_equal(q.n_actions, 2);
	assert_string_equal(q.actions[1], "write");
	assert_int_equal(q.outcome, KURA_OUTCOME_MINOR);
	assert_true(q.from_us == DEC1 - 9 * 3600 * S && q.to_us == DEC1 + 15 * 3600 * S);
	assert_int_equal(q.flags, KURA_FLAG_OFFHOURS | KURA_FLAG_BREAKGLASS);
	assert_int_equal(q.limit, 10);
	kura_audit_query_filter(&q, &f);
	assert_string_equal(f.patient_id, "P-001");
	assert_string_equal(f.actor, "dr.sato");
	assert_null(f.action);
	assert_int_equal(f.outcome, 4);
	assert_true(f.from_us == q.from_us && f.to_us == q.to_us && f.limit == 10);

	assert_int_equal(kura_audit_query_parse_at("action=breakglass outcome=12", 0, NOW, &q), 0);
	kura_audit_query_filter(&q, &f);
	assert_string_equal(f.action, "breakglass");
	assert_int_equal(f.outcome, 12);
	assert_null(f.patient_id);
	assert_int_equal(kura_audit_query_parse_at("", 0, NOW, &q), 0);
	kura_audit_query_filter(&q, &f);
	assert_true(f.outcome == -1 && f.from_us == 0 && f.to_us == 0 && f.limit == 0);
	assert_int_equal(kura_audit_query_parse_at(" \t ", 0, NOW, &q), 0);
	assert_int_equal(kura_audit_query_parse_at("user=佐藤", 0, NOW, &q), 0);
	assert_string_equal(q.actor, "佐藤");
	assert_int_equal(kura_audit_query_parse_at("from=-7d to=now", 0, NOW, &q), 0);
	assert_true(q.from_us == NOW - 7 * 86400 * S && q.to_us == NOW);
}

static void expect_bad(const char *query, const char *msg_part)
{
	struct kura_audit_query q;
	int r = kura_audit_query_parse_at(query, JST, NOW, &q);
	if (r != KURA_EINVAL || !strstr(q.errmsg, msg_part))
		fail_msg("'%s': r=%d errmsg '%s', want '%s'", query, r, q.errmsg, msg_part);
	assert_int_equal(q.n_actions, 0);
	assert_int_equal(q.patient_id[0], 0);
}

static void test_query_errors(void **state)
{
	(void)state;
	expect_bad("patient=P1 color=red", "unknown term 'color=red': use patient");
	expect_bad("patient", "not a key=value term 'patient'");
	expect_bad("patient=", "'patient='");
	expect_bad("=x", "'=x'");
	expect_bad("patient=P1 patient=P2", "term given twice 'patient=P2'");
	expect_bad("action=read,peek", "'action=read,peek'");
	expect_bad("action=read,,write", "action");
	expect_bad("action=read,", "action");
	expect_bad("action=read,read", "repeated action");
	expect_bad("action=READ", "action");
	expect_bad("outcome=ok", "bad outcome");
	expect_bad("outcome=1", "bad outcome");
	expect_bad("from=2026-02-29", "bad time 'from=2026-02-29': use");
	expect_bad("to=2026-12-01T24:00", "bad time");
	expect_bad("from=2026-12-02 to=2026-12-01", "from= is not before to=");
	expect_bad("from=now to=now", "from= is not before to=");
	expect_bad("flag=odd", "unknown or repeated flag");
	expect_bad("flag=bulk,bulk", "flag");
	expect_bad("limit=0", "bad limit");
	expect_bad("limit=1000001", "bad limit");
	expect_bad("limit=010", "bad limit");
	expect_bad("limit=-1", "bad limit");
	expect_bad("patient=a,b", "bad patient id");
	expect_bad("user=x'y", "bad user id");
	expect_bad("patient=0123456789012345678901234567890123456789012345678901234567890123X",
		   "bad patient id");
	expect_bad("patient=P1\nuser=x", "control characters");
	expect_bad("patient=\xff", "not UTF-8");
	expect_bad("action=read,search,list,write,confirm,retract,import,export,print,sign,"
		   "breakglass,login,logout,lockout,unlock,verify,init", "action");

	struct kura_audit_query q;
	char big[KURA_MAX_AUDIT_QUERY + 2];
	memset(big, ' ', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(kura_audit_query_parse_at(big, 0, NOW, &q), KURA_ETOOBIG);
	big[KURA_MAX_AUDIT_QUERY] = '\0';
	assert_int_equal(kura_audit_query_parse_at(big, 0, NOW, &q), 0);
	assert_int_equal(kura_audit_query_parse_at(NULL, 0, NOW, &q), KURA_EINVAL);
	/* the quoted term is cut at a character boundary */
	char longterm[200];
	size_t len = (size_t)snprintf(longterm, sizeof(longterm), "user=");
	for (int i = 0; i < 30; i++)
		len += (size_t)snprintf(longterm + len, sizeof(longterm) - len, "佐");
	assert_int_equal(kura_audit_query_parse_at(longterm, 0, NOW, &q), KURA_EINVAL);
	assert_non_null(strstr(q.errmsg, "...'"));
}

static struct kura_event_row mkrow(uint64_t leaf, int64_t t, const char *actor,
				   const char *action, const char *patient)
{
	struct kura_event_row r;
	memset(&r, 0, sizeof(r));
	r.leaf_index = leaf;
	r.ev.time_us = t;
	r.ev.utc_offset_min = JST;
	r.ev.clock = KURA_CLOCK_SYNCED;
	r.ev.severity = KURA_SEV_INFO;
	snprintf(r.ev.actor, sizeof(r.ev.actor), "%s", actor);
	snprintf(r.ev.role, sizeof(r.ev.role), "doctor");
	snprintf(r.ev.action, sizeof(r.ev.action), "%s", action);
	snprintf(r.ev.patient_id, sizeof(r.ev.patient_id), "%s", patient);
	return r;
}

static void test_match(void **state)
{
	(void)state;
	struct kura_audit_query q;
	struct kura_event_row row = mkrow(1, DEC1, "dr.sato", "write", "P1");
	assert_int_equal(kura_audit_query_parse_at("action=read,write patient=P1", 0, NOW, &q), 0);
	assert_true(kura_audit_query_match(&q, &row));
	snprintf(row.ev.action, sizeof(row.ev.action), "search");
	assert_false(kura_audit_query_match(&q, &row));
	assert_int_equal(kura_audit_query_parse_at("from=2026-12-01T00:00:00Z to=2026-12-01T00:00:01Z",
						   0, NOW, &q), 0);
	assert_true(kura_audit_query_match(&q, &row));
	row.ev.time_us = DEC1 + S;
	assert_false(kura_audit_query_match(&q, &row)); /* to is exclusive */
	row.ev.time_us = DEC1 - 1;
	assert_false(kura_audit_query_match(&q, &row));
	assert_int_equal(kura_audit_query_parse_at("outcome=failed user=x", 0, NOW, &q), 0);
	assert_false(kura_audit_query_match(&q, &row));
	assert_int_equal(kura_audit_query_parse_at("flag=bulk,restricted", 0, NOW, &q), 0);
	assert_true(kura_audit_query_match(&q, &row));
	assert_false(kura_audit_query_match_flags(&q, KURA_FLAG_OFFHOURS));
	assert_true(kura_audit_query_match_flags(&q, KURA_FLAG_RESTRICTED | KURA_FLAG_OFFHOURS));
	assert_int_equal(kura_audit_query_parse_at("", 0, NOW, &q), 0);
	assert_true(kura_audit_query_match_flags(&q, 0));
	assert_true(kura_audit_action_valid("audit-review"));
	assert_false(kura_audit_action_valid("Read"));
	assert_false(kura_audit_action_valid(NULL));
}

/* Local JST times on 2026-12-01 (Tuesday) and 2026-12-05 (Saturday). */
#define JST_AT(day, h, m) (DEC1 + ((day) - 1) * 86400 * S + (((h) - 9) * 3600 + (m) * 60) * S)

static void test_offhours(void **state)
{
	(void)state;
	struct kura_anomaly_config c;
	struct kura_event_row rows[7];
	unsigned fl[7];
	kura_anomaly_config_default(&c);
	rows[0] = mkrow(0, JST_AT(1, 19, 59), "a", "read", "P1");
	rows[1] = mkrow(1, JST_AT(1, 20, 0), "a", "read", "P1");
	rows[2] = mkrow(2, JST_AT(1, 6, 59), "a", "login", "");
	rows[3] = mkrow(3, JST_AT(1, 7, 0), "a", "read", "P1");
	rows[4] = mkrow(4, JST_AT(5, 12, 0), "a", "read", "P1"); /* Saturday */
	rows[5] = mkrow(5, JST_AT(1, 23, 0), "", "verify", "");   /* no actor */
	rows[6] = mkrow(6, JST_AT(1, 23, 0), "a", "account-add", "");
	assert_int_equal(kura_anomaly_flags(&c, rows, 7, NULL, NULL, fl), 0);
	assert_int_equal(fl[0], 0);
	assert_int_equal(fl[1], KURA_FLAG_OFFHOURS);
	assert_int_equal(fl[2], KURA_FLAG_OFFHOURS);
	assert_int_equal(fl[3], 0);
	assert_int_equal(fl[4], KURA_FLAG_OFFHOURS);
	assert_int_equal(fl[5], 0);
	assert_int_equal(fl[6], 0);
	/* the event's own offset decides: 20:00 JST is 11:00 UTC */
	rows[1].ev.utc_offset_min = 0;
	c.weekends = 0;
	assert_int_equal(kura_anomaly_flags(&c, rows, 7, NULL, NULL, fl), 0);
	assert_int_equal(fl[1], 0);
	assert_int_equal(fl[4], 0);
	/* a day window (start < end) and none (start == end) */
	assert_int_equal(kura_anomaly_config_set(&c, "audit.offhours_start", "12:00"), 0);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.offhours_end", "13:00"), 0);
	assert_int_equal(kura_anomaly_flags(&c, rows, 7, NULL, NULL, fl), 0);
	assert_int_equal(fl[4], KURA_FLAG_OFFHOURS);
	assert_int_equal(fl[0], 0);
	c.offhours_end_min = c.offhours_start_min;
	assert_int_equal(kura_anomaly_flags(&c, rows, 7, NULL, NULL, fl), 0);
	assert_int_equal(fl[4], 0);
}

static void test_bulk(void **state)
{
	(void)state;
	struct kura_anomaly_config c;
	static struct kura_event_row rows[60];
	unsigned fl[60];
	kura_anomaly_config_default(&c);
	/* 51 reads, one a minute (50 minutes): a burst */
	for (int i = 0; i < 51; i++)
		rows[i] = mkrow(i, JST_AT(1, 10, 0) + i * 60 * S, "a", i % 2 ? "read" : "search",
				"P1");
	rows[51] = mkrow(51, JST_AT(1, 10, 5), "b", "read", "P1");
	rows[52] = mkrow(52, JST_AT(1, 10, 6), "a", "write", "P1");
	assert_int_equal(kura_anomaly_flags(&c, rows, 53, NULL, NULL, fl), 0);
	for (int i = 0; i < 51; i++)
		assert_int_equal(fl[i], KURA_FLAG_BULK);
	assert_int_equal(fl[51], 0);
	assert_int_equal(fl[52], 0);
	/* 50: not */
	assert_int_equal(kura_anomaly_flags(&c, rows + 1, 50, NULL, NULL, fl), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(fl[i], 0);
	/* 51 spread over exactly 60 minutes: the window is t_last - t_first < 60 min */
	for (int i = 0; i < 51; i++)
		rows[i].ev.time_us = JST_AT(1, 10, 0) + i * 72 * S;
	assert_int_equal(kura_anomaly_flags(&c, rows, 51, NULL, NULL, fl), 0);
	for (int i = 0; i < 51; i++)
		assert_int_equal(fl[i], 0);
	rows[50].ev.time_us -= 1;
	assert_int_equal(kura_anomaly_flags(&c, rows, 51, NULL, NULL, fl), 0);
	assert_int_equal(fl[0], KURA_FLAG_BULK);
	assert_int_equal(fl[50], KURA_FLAG_BULK);
	c.bulk_reads = 0; /* off */
	assert_int_equal(kura_anomaly_flags(&c, rows, 51, NULL, NULL, fl), 0);
	assert_int_equal(fl[0], 0);
}

static int restricted_p2(void *ctx, const char *patient)
{
	(*(int *)ctx)++;
	return strcmp(patient, "P2") == 0;
}

static int restricted_fails(void *ctx, const char *patient)
{
	(void)ctx;
	(void)patient;
	return KURA_EIO;
}

static void test_breakglass(void **state)
{
	(void)state;
	struct kura_anomaly_config c;
	struct kura_event_row rows[6];
	struct kura_buf w;
	unsigned fl[6];
	int calls = 0;
	kura_anomaly_config_default(&c);
	rows[0] = mkrow(0, JST_AT(1, 10, 0), "a", "breakglass", "P2");
	rows[1] = mkrow(1, JST_AT(1, 10, 1), "a", "read", "P2");
	snprintf(rows[1].ev.reason, sizeof(rows[1].ev.reason), "breakglass: cardiac arrest");
	rows[2] = mkrow(2, JST_AT(1, 11, 0), "b", "breakglass", "P1");
	rows[3] = mkrow(3, JST_AT(1, 10, 2), "a", "read", "P1");
	/* a review of [09:00, 10:30) JST, made later: covers rows[0] only */
	rows[4] = mkrow(4, JST_AT(1, 16, 0), "auditor", "audit-review", "");
	kura_buf_init(&w, 100);
	assert_int_equal(kura_review_window_format(JST_AT(1, 9, 0), JST_AT(1, 10, 30), &w), 0);
	snprintf(rows[4].ev.query, sizeof(rows[4].ev.query), "%s", (char *)w.data);
	kura_buf_release(&w);
	/* a review made before the event does not count */
	rows[5] = rows[4];
	rows[5].leaf_index = 5;
	rows[5].ev.time_us = JST_AT(1, 10, 59);
	snprintf(rows[5].ev.query, sizeof(rows[5].ev.query), "from=%lld to=%lld",
		 (long long)JST_AT(1, 9, 0), (long long)JST_AT(1, 12, 0));
	assert_int_equal(kura_anomaly_flags(&c, rows, 6, restricted_p2, &calls, fl), 0);
	assert_int_equal(fl[0], KURA_FLAG_BREAKGLASS | KURA_FLAG_RESTRICTED);
	assert_int_equal(fl[1], KURA_FLAG_BREAKGLASS | KURA_FLAG_RESTRICTED);
	assert_int_equal(fl[2], KURA_FLAG_BREAKGLASS | KURA_FLAG_UNREVIEWED);
	assert_int_equal(fl[3], 0);
	assert_int_equal(fl[4], 0);
	assert_int_equal(calls, 4);
	/* the review at 16:00 now covers the day */
	snprintf(rows[4].ev.query, sizeof(rows[4].ev.query), "from=%lld to=%lld",
		 (long long)(DEC1 - 9 * 3600 * S), (long long)(DEC1 + 15 * 3600 * S));
	assert_int_equal(kura_anomaly_flags(&c, rows, 6, NULL, NULL, fl), 0);
	assert_int_equal(fl[2], KURA_FLAG_BREAKGLASS);
	/* a failed review does not count */
	rows[4].ev.outcome = KURA_OUTCOME_SERIOUS;
	assert_int_equal(kura_anomaly_flags(&c, rows, 6, NULL, NULL, fl), 0);
	assert_int_equal(fl[2], KURA_FLAG_BREAKGLASS | KURA_FLAG_UNREVIEWED);
	assert_int_equal(kura_anomaly_flags(&c, rows, 6, restricted_fails, NULL, fl), KURA_EIO);
	assert_int_equal(kura_anomaly_flags(&c, rows, 0, NULL, NULL, fl), 0);
}

static void test_review_window(void **state)
{
	(void)state;
	struct kura_buf b;
	int64_t f, t;
	kura_buf_init(&b, 100);
	assert_int_equal(kura_review_window_format(-5, 1796083200000000, &b), 0);
	assert_string_equal((char *)b.data, "from=-5 to=1796083200000000");
	assert_int_equal(kura_review_window_parse((char *)b.data, &f, &t), 0);
	assert_true(f == -5 && t == 1796083200000000);
	assert_int_equal(kura_review_window_format(3, 3, &b), KURA_EINVAL);
	kura_buf_release(&b);
	assert_int_equal(kura_review_window_parse("from=0 to=1", &f, &t), 0);
	static const char *const bad[] = {
		"", "from=1 to=1", "from=2 to=1", "from=01 to=5", "from=-0 to=5", "from=+1 to=5",
		"from=1  to=5", "from=1 to=5 ", " from=1 to=5", "to=5 from=1", "from= 1 to=5",
		"from=1 to=99999999999999999999", "from=1\tto=5", "from=x to=5", "from=1 to=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = t = 7;
		if (kura_review_window_parse(bad[i], &f, &t) != KURA_EINVAL || f || t)
			fail_msg("'%s' was accepted", bad[i]);
	}
	assert_int_equal(kura_review_window_parse(NULL, &f, &t), KURA_EINVAL);
}

static void test_config_set(void **state)
{
	(void)state;
	struct kura_anomaly_config c;
	kura_anomaly_config_default(&c);
	assert_true(c.offhours_start_min == 1200 && c.offhours_end_min == 420 && c.weekends == 1 &&
		    c.bulk_reads == 50 && c.bulk_window_min == 60);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.offhours_start", "21:30"), 0);
	assert_int_equal(c.offhours_start_min, 21 * 60 + 30);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.offhours_end", "24:00"), KURA_EINVAL);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.offhours_end", "7:00"), KURA_EINVAL);
	assert_int_equal(c.offhours_end_min, 420);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.weekends", "off"), 0);
	assert_int_equal(c.weekends, 0);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.weekends", "true"), 0);
	assert_int_equal(c.weekends, 1);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.weekends", "maybe"), KURA_EINVAL);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.bulk_reads", "200"), 0);
	assert_int_equal(c.bulk_reads, 200);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.bulk_reads", "-1"), KURA_EINVAL);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.bulk_reads", "12x"), KURA_EINVAL);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.bulk_window_min", "0"), KURA_EINVAL);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.bulk_window_min", "10080"), 0);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.bulk_window_min", "10081"), KURA_EINVAL);
	assert_int_equal(c.bulk_window_min, 10080);
	assert_int_equal(kura_anomaly_config_set(&c, "vault.path", "x"), KURA_ENOTFOUND);
	assert_int_equal(kura_anomaly_config_set(&c, "audit.weekends", NULL), KURA_EINVAL);
}

/* A row with every hostile string we can think of. */
static struct kura_event_row hostile_row(void)
{
	struct kura_event_row r = mkrow(7, DEC1 + 123456, "=cmd|' /C calc'!A0", "read", "P1");
	snprintf(r.ev.reason, sizeof(r.ev.reason), "a,b \"q\"\nline2 患者\\");
	snprintf(r.ev.terminal, sizeof(r.ev.terminal), "\tws\x1b[2J\xe2\x80\xae");
	snprintf(r.ev.detail, sizeof(r.ev.detail), "\xff\x7f");
	snprintf(r.ev.role, sizeof(r.ev.role), "@role");
	snprintf(r.ev.record_id, sizeof(r.ev.record_id), "R1");
	snprintf(r.ev.client_ip, sizeof(r.ev.client_ip), "10.0.0.5");
	r.ev.version = 3;
	return r;
}

static void test_csv(void **state)
{
	(void)state;
	struct kura_event_row r = hostile_row();
	unsigned fl = KURA_FLAG_OFFHOURS | KURA_FLAG_BULK;
	struct kura_buf b;
	kura_buf_init(&b, 1 << 20);
	assert_int_equal(kura_audit_format(KURA_AUDIT_CSV, &r, 1, &fl, 1, &b), 0);
	assert_string_equal(
		(char *)b.data,
		"leaf_index,time_utc,time_local,actor,role,action,outcome,patient_id,record_id,"
		"version,terminal,client_ip,cert_fp,query,reason,detail,clock,severity,flags\r\n"
		"7,2026-12-01T00:00:00.123456Z,2026-12-01T09:00:00.123456+09:00,"
		"'=cmd|' /C calc'!A0,'@role,read,success,P1,R1,3,'\\tws\\x1b[2J\\u{202e},10.0.0.5,,,"
		"\"a,b \"\"q\"\"\\nline2 患者\\\\\",\\xff\\x7f,synced,6,off-hours;bulk\r\n");
	kura_buf_reset(&b);
	assert_int_equal(kura_audit_format(KURA_AUDIT_CSV, &r, 0, NULL, 0, &b), 0);
	assert_int_equal(b.len, strlen("leaf_index,") + 144);
	kura_buf_release(&b);
}

static void test_json_text(void **state)
{
	(void)state;
	struct kura_event_row r[2] = {hostile_row(), mkrow(8, DEC1 + 60 * S, "b", "write", "P2")};
	unsigned fl[2] = {KURA_FLAG_BREAKGLASS, 0};
	struct kura_buf b;
	kura_buf_init(&b, 1 << 20);
	assert_int_equal(kura_audit_format(KURA_AUDIT_JSON, r, 2, fl, 0, &b), 0);
	const char *j = (char *)b.data;
	assert_non_null(strstr(j, "[\n{\"leaf_index\":7,\"time_utc\":\"2026-12-01T00:00:00.123456Z\","
				  "\"time_local\":\"2026-12-01T09:00:00.123456+09:00\""));
	assert_non_null(strstr(j, "\"reason\":\"a,b \\\"q\\\"\\nline2 患者\\\\\""));
	assert_non_null(strstr(j, "\"terminal\":\"\\tws\\u001b[2J\\u202e\""));
	assert_non_null(strstr(j, "\"detail\":\"\\ufffd\\u007f\""));
	assert_non_null(strstr(j, "\"flags\":[\"breakglass\"]},\n{\"leaf_index\":8"));
	assert_non_null(strstr(j, "\"flags\":[]}\n]\n"));
	for (size_t i = 0; i < b.len; i++)
		assert_true(b.data[i] >= 0x20 || b.data[i] == '\n');
	kura_buf_reset(&b);
	assert_int_equal(kura_audit_format(KURA_AUDIT_JSON, r, 0, NULL, 0, &b), 0);
	assert_string_equal((char *)b.data, "[]\n");

	kura_buf_reset(&b);
	assert_int_equal(kura_audit_format(KURA_AUDIT_TEXT, r + 1, 1, NULL, 0, &b), 0);
	assert_string_equal((char *)b.data,
			    "time (local / UTC) | user (role) | action | outcome | patient | "
			    "record@version | terminal/ip | reason | flags\n"
			    "2026-12-01T09:01:00+09:00 (2026-12-01T00:01:00Z) | b (doctor) | "
			    "write | success | P2 | - | -/- | - | -\n");
	kura_buf_reset(&b);
	assert_int_equal(kura_audit_format(KURA_AUDIT_TEXT, r, 1, fl, 1, &b), 0);
	assert_non_null(strstr((char *)b.data, "日時（現地 / UTC） | 利用者（役割）"));
	assert_non_null(strstr((char *)b.data, "| read | 成功 | P1 | R1@3 | \\tws\\x1b[2J\\u{202e}/"
					       "10.0.0.5 | a,b \"q\"\\nline2 患者\\\\ | 緊急アクセス\n"));
	assert_null(memchr(b.data, 0x1b, b.len));
	assert_int_equal(kura_audit_format((enum kura_audit_fmt)9, r, 1, fl, 1, &b), KURA_EINVAL);
	struct kura_buf small;
	kura_buf_init(&small, 40);
	assert_int_equal(kura_audit_format(KURA_AUDIT_TEXT, r, 2, fl, 0, &small), KURA_ETOOBIG);
	kura_buf_release(&small);
	kura_buf_release(&b);
}

static void test_report_patient(void **state)
{
	(void)state;
	struct kura_event_row r[5] = {
		mkrow(1, JST_AT(1, 10, 0), "dr.b", "read", "P1"),
		mkrow(2, JST_AT(1, 9, 0), "dr.a", "read", "P1"),
		mkrow(3, JST_AT(1, 21, 0), "dr.b", "breakglass", "P1"),
		mkrow(4, JST_AT(1, 9, 30), "dr.a", "read", "P2"),
		mkrow(5, JST_AT(1, 9, 45), "dr.a", "write", "P1"),
	};
	snprintf(r[2].ev.reason, sizeof(r[2].ev.reason), "ER, unconscious");
	snprintf(r[4].ev.reason, sizeof(r[4].ev.reason), "follow-up");
	struct kura_buf b;
	kura_buf_init(&b, 1 << 20);
	assert_int_equal(kura_audit_report_patient("P1", r, 5, NULL, KURA_AUDIT_TEXT, 0, &b), 0);
	const char *t = (char *)b.data;
	assert_non_null(strstr(t, "Accesses to patient 'P1': 4 events by 2 users\n"
				  "  dr.a (doctor): 2 events, first 2026-12-01T09:00:00+09:00, "
				  "last 2026-12-01T09:45:00+09:00; read 1, write 1; reasons: "
				  "follow-up\n  dr.b (doctor): 2 events"));
	assert_non_null(strstr(t, "breakglass 1, read 1; reasons: ER, unconscious; BREAK-GLASS\n"));
	const char *l1 = strstr(t, "09:00:00+09:00 (");
	const char *l2 = strstr(t, "09:45:00+09:00 (");
	const char *l3 = strstr(t, "21:00:00+09:00 (");
	assert_true(l1 && l2 && l3 && l1 < l2 && l2 < l3);
	assert_null(strstr(t, "P2"));
	assert_null(strstr(t, "緊急アクセス"));
	assert_non_null(strstr(t, "| off-hours,breakglass,unreviewed\n"));

	kura_buf_reset(&b);
	assert_int_equal(kura_audit_report_patient("P1", r, 5, NULL, KURA_AUDIT_JSON, 1, &b), 0);
	assert_non_null(strstr((char *)b.data,
			       "{\"patient_id\":\"P1\",\"actors\":[\n{\"actor\":\"dr.a\",\"role\":"
			       "\"doctor\",\"first_utc\":\"2026-12-01T00:00:00.000000Z\","
			       "\"last_utc\":\"2026-12-01T00:45:00.000000Z\",\"count\":2,\"actions\":"
			       "{\"read\":1,\"write\":1},\"reasons\":[\"follow-up\"],"
			       "\"breakglass\":false}"));
	assert_non_null(strstr((char *)b.data, "\n],\"events\":[\n{\"leaf_index\":2,"));
	assert_non_null(strstr((char *)b.data, "]}\n]}\n"));

	kura_buf_reset(&b);
	assert_int_equal(kura_audit_report_patient("P1", r, 5, NULL, KURA_AUDIT_CSV, 0, &b), 0);
	assert_non_null(strstr((char *)b.data,
			       "actor,role,first_utc,last_utc,count,actions,reasons,breakglass\r\n"
			       "dr.a,doctor,2026-12-01T00:00:00.000000Z,2026-12-01T00:45:00.000000Z,"
			       "2,read=1;write=1,follow-up,no\r\n"
			       "dr.b,doctor,2026-12-01T01:00:00.000000Z,2026-12-01T12:00:00.000000Z,"
			       "2,breakglass=1;read=1,\"ER, unconscious\",yes\r\n\r\nleaf_index,"));
	kura_buf_reset(&b);
	assert_int_equal(kura_audit_report_patient("P9", r, 5, NULL, KURA_AUDIT_JSON, 0, &b), 0);
	assert_string_equal((char *)b.data, "{\"patient_id\":\"P9\",\"actors\":[],\"events\":[]}\n");
	assert_int_equal(kura_audit_report_patient(NULL, r, 5, NULL, KURA_AUDIT_JSON, 0, &b),
			 KURA_EINVAL);
	assert_int_equal(kura_audit_report_patient("P1", r, 5, NULL, (enum kura_audit_fmt)3, 0, &b),
			 KURA_EINVAL);
	kura_buf_release(&b);
}

static void test_report_user(void **state)
{
	(void)state;
	struct kura_event_row r[5] = {
		mkrow(1, JST_AT(1, 10, 0), "dr.a", "read", "P2"),
		mkrow(2, JST_AT(1, 22, 0), "dr.a", "read", "P1"),
		mkrow(3, JST_AT(1, 11, 0), "dr.a", "breakglass", "P3"),
		mkrow(4, JST_AT(1, 9, 30), "dr.b", "read", "P4"),
		mkrow(5, JST_AT(1, 9, 45), "dr.a", "login", ""),
	};
	r[0].ev.outcome = KURA_OUTCOME_MINOR;
	unsigned fl[5] = {0, KURA_FLAG_OFFHOURS, KURA_FLAG_BREAKGLASS, 0, 0};
	struct kura_buf b;
	kura_buf_init(&b, 1 << 20);
	assert_int_equal(kura_audit_report_user("dr.a", r, 5, fl, KURA_AUDIT_TEXT, 0, &b), 0);
	assert_non_null(strstr((char *)b.data,
			       "User 'dr.a': 4 events\n  patients: 3: P1, P2, P3\n"
			       "  denied attempts: 1\n  off-hours: 1\n  break-glass: 1\n"
			       "  actions: breakglass 1, login 1, read 2\n\ntime (local"));
	assert_null(strstr((char *)b.data, "P4"));
	kura_buf_reset(&b);
	assert_int_equal(kura_audit_report_user("dr.a", r, 5, fl, KURA_AUDIT_TEXT, 1, &b), 0);
	assert_non_null(strstr((char *)b.data, "利用者 'dr.a'：4 件\n  患者: 3 名: P1, P2, P3\n"));
	kura_buf_reset(&b);
	assert_int_equal(kura_audit_report_user("dr.a", r, 5, fl, KURA_AUDIT_JSON, 0, &b), 0);
	assert_non_null(strstr((char *)b.data,
			       "{\"actor\":\"dr.a\",\"count\":4,\"patients_count\":3,\"patients\":"
			       "[\"P1\",\"P2\",\"P3\"],\"denied\":1,\"off_hours\":1,\"breakglass\":1,"
			       "\"actions\":{\"breakglass\":1,\"login\":1,\"read\":2},\"events\":[\n"));
	kura_buf_reset(&b);
	assert_int_equal(kura_audit_report_user("dr.a", r, 5, fl, KURA_AUDIT_CSV, 0, &b), 0);
	assert_non_null(strstr((char *)b.data,
			       "key,value\r\nactor,dr.a\r\nevents,4\r\npatients_count,3\r\n"
			       "patients,P1;P2;P3\r\ndenied,1\r\noff_hours,1\r\nbreakglass,1\r\n"
			       "actions,breakglass=1;login=1;read=2\r\n\r\nleaf_index,"));
	kura_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_accept),    cmocka_unit_test(test_time_reject),
		cmocka_unit_test(test_query_keys),     cmocka_unit_test(test_query_errors),
		cmocka_unit_test(test_match),          cmocka_unit_test(test_offhours),
		cmocka_unit_test(test_bulk),           cmocka_unit_test(test_breakglass),
		cmocka_unit_test(test_review_window),  cmocka_unit_test(test_config_set),
		cmocka_unit_test(test_csv),            cmocka_unit_test(test_json_text),
		cmocka_unit_test(test_report_patient), cmocka_unit_test(test_report_user),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
