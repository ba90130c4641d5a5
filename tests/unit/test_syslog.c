/* test_syslog.c - RFC 5424 messages, RFC 5425 framing, the forwarder's
 * argument checks (delivery itself: tests/syslog/rsyslog_roundtrip.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "audit/syslog.h"
#include "util/err.h"
#include "util/limits.h"

#define T_US 1764042219123456LL /* 2025-11-25T03:43:39.123456Z */
#define BOM "\xEF\xBB\xBF"

static struct kura_syslog_msg base_msg(void)
{
	static const char body[] = "<AuditMessage/>";
	struct kura_syslog_msg m = {
		.time_us = T_US,
		.utc_offset_min = 540,
		.severity = 6,
		.hostname = "kura-host",
		.app_name = "kura",
		.sequence = 1,
		.leaf_index = 42,
		.log_id = "vault-1",
		.body = (const uint8_t *)body,
		.body_len = sizeof(body) - 1,
	};
	return m;
}

static void expect_format(const struct kura_syslog_msg *m, const char *want)
{
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_SYSLOG_MSG);
	assert_int_equal(kura_syslog_format(m, &b), 0);
	assert_string_equal((char *)b.data, want);
	assert_int_equal(b.len, strlen(want));
	kura_buf_release(&b);
}

static void test_known_event(void **state)
{
	(void)state;
	struct kura_syslog_msg m = base_msg();
	expect_format(&m,
		      "<86>1 2025-11-25T12:43:39.123456+09:00 kura-host kura - IHE+RFC-3881 "
		      "[meta sequenceId=\"1\"][kura@32473 leaf=\"42\" log=\"vault-1\"] " BOM
		      "<AuditMessage/>");
}

static void test_offsets_and_nil(void **state)
{
	(void)state;
	struct kura_syslog_msg m = base_msg();
	m.utc_offset_min = 0;
	m.severity = 4; /* a denied access: 10 * 8 + 4 */
	m.hostname = NULL;
	m.app_name = "";
	m.procid = "1234";
	m.msgid = "DICOM+RFC3881";
	m.log_id = NULL;
	m.sequence = 0;
	m.body_len = 0;
	expect_format(&m, "<84>1 2025-11-25T03:43:39.123456Z - - 1234 DICOM+RFC3881 "
			  "[kura@32473 leaf=\"42\"]");
	m = base_msg();
	m.utc_offset_min = -300;
	m.severity = 1;
	m.leaf_index = 0;
	expect_format(&m,
		      "<81>1 2025-11-24T22:43:39.123456-05:00 kura-host kura - IHE+RFC-3881 "
		      "[meta sequenceId=\"1\"][kura@32473 leaf=\"0\" log=\"vault-1\"] " BOM
		      "<AuditMessage/>");
	m = base_msg();
	m.time_us = -1500000; /* before the epoch: the fraction stays positive */
	m.utc_offset_min = 0;
	m.body_len = 0;
	m.log_id = NULL;
	expect_format(&m,
		      "<86>1 1969-12-31T23:59:58.500000Z kura-host kura - IHE+RFC-3881 "
		      "[meta sequenceId=\"1\"][kura@32473 leaf=\"42\"]");
}

static void test_sd_escaping(void **state)
{
	(void)state;
	struct kura_syslog_msg m = base_msg();
	m.log_id = "a\"b\\c]d=e 病院";
	m.body_len = 0;
	expect_format(&m,
		      "<86>1 2025-11-25T12:43:39.123456+09:00 kura-host kura - IHE+RFC-3881 "
		      "[meta sequenceId=\"1\"][kura@32473 leaf=\"42\" "
		      "log=\"a\\\"b\\\\c\\]d=e 病院\"]");
	struct kura_buf b;
	kura_buf_init(&b, 64);
	assert_int_equal(kura_syslog_sd_escape("]]", &b), 0);
	assert_string_equal((char *)b.data, "\\]\\]");
	assert_int_equal(kura_syslog_sd_escape("\xC3\x28", &b), KURA_EINVAL);
	kura_buf_release(&b);
}

static void expect_refused(const struct kura_syslog_msg *m, int err)
{
	struct kura_buf b;
	kura_buf_init(&b, 2 * KURA_MAX_SYSLOG_MSG);
	assert_int_equal(kura_buf_append_str(&b, "keep"), 0);
	assert_int_equal(kura_syslog_format(m, &b), err);
	assert_int_equal(b.len, 4);
	assert_string_equal((char *)b.data, "keep");
	kura_buf_release(&b);
}

static void test_refused(void **state)
{
	(void)state;
	static uint8_t big[KURA_MAX_SYSLOG_MSG];
	struct kura_syslog_msg m = base_msg();
	m.severity = 8;
	expect_refused(&m, KURA_EINVAL);
	m = base_msg();
	m.hostname = "two words";
	expect_refused(&m, KURA_EINVAL);
	m = base_msg();
	m.app_name = "a23456789012345678901234567890123456789012345678x"; /* 49 */
	expect_refused(&m, KURA_EINVAL);
	m = base_msg();
	m.msgid = "病院";
	expect_refused(&m, KURA_EINVAL);
	m = base_msg();
	m.body = (const uint8_t *)"\xFF";
	m.body_len = 1;
	expect_refused(&m, KURA_EINVAL);
	m = base_msg();
	m.utc_offset_min = 24 * 60;
	expect_refused(&m, KURA_EINVAL);
	m = base_msg();
	memset(big, 'x', sizeof(big));
	m.body = big;
	m.body_len = sizeof(big);
	expect_refused(&m, KURA_ETOOBIG);
}

/* MSG-LEN counts octets: Japanese text is 3 bytes a character. */
static void test_frame_counts_bytes(void **state)
{
	(void)state;
	static const char body[] = "閲覧 患者"; /* 5 characters, 13 bytes */
	struct kura_syslog_msg m = base_msg();
	m.body = (const uint8_t *)body;
	m.body_len = sizeof(body) - 1;
	struct kura_buf msg, fr;
	kura_buf_init(&msg, KURA_MAX_SYSLOG_MSG);
	kura_buf_init(&fr, KURA_MAX_SYSLOG_MSG + 16);
	assert_int_equal(kura_syslog_format(&m, &msg), 0);
	assert_int_equal(kura_syslog_frame(msg.data, msg.len, &fr), 0);
	const char *head =
		"<86>1 2025-11-25T12:43:39.123456+09:00 kura-host kura - IHE+RFC-3881 "
		"[meta sequenceId=\"1\"][kura@32473 leaf=\"42\" log=\"vault-1\"] ";
	size_t want = strlen(head) + 3 + 13;
	assert_int_equal(msg.len, want);
	char prefix[32];
	int n = snprintf(prefix, sizeof(prefix), "%zu ", want);
	assert_int_equal(fr.len, (size_t)n + want);
	assert_memory_equal(fr.data, prefix, (size_t)n);
	assert_memory_equal(fr.data + n, msg.data, msg.len);
	assert_string_equal((char *)fr.data,
			    "143 <86>1 2025-11-25T12:43:39.123456+09:00 kura-host "
			    "kura - IHE+RFC-3881 [meta sequenceId=\"1\"]"
			    "[kura@32473 leaf=\"42\" log=\"vault-1\"] " BOM "閲覧 患者");
	/* A frame that does not fit leaves the buffer as it was. */
	struct kura_buf small;
	kura_buf_init(&small, 8);
	assert_int_equal(kura_syslog_frame(msg.data, msg.len, &small), KURA_ETOOBIG);
	assert_int_equal(small.len, 0);
	kura_buf_release(&small);
	kura_buf_release(&fr);
	kura_buf_release(&msg);
}

static void expect_seq(uint64_t seq, const char *want_sd)
{
	struct kura_syslog_msg m = base_msg();
	struct kura_buf b;
	m.sequence = seq;
	kura_buf_init(&b, KURA_MAX_SYSLOG_MSG);
	assert_int_equal(kura_syslog_format(&m, &b), 0);
	assert_non_null(strstr((char *)b.data, want_sd));
	kura_buf_release(&b);
}

/* RFC 5424 §7.3.1: 1..2147483647, then 1 again. */
static void test_sequence_numbers(void **state)
{
	(void)state;
	expect_seq(1, "[meta sequenceId=\"1\"]");
	expect_seq(300, "[meta sequenceId=\"300\"]");
	expect_seq(2147483647u, "[meta sequenceId=\"2147483647\"]");
	expect_seq(2147483648ull, "[meta sequenceId=\"1\"]");
	expect_seq(2ull * 2147483647u + 5u, "[meta sequenceId=\"5\"]");
}

static int saves;

static int src_next(void *ctx, uint64_t from, struct kura_event_row *ret)
{
	(void)ctx;
	if (from > 0)
		return KURA_ENOTFOUND;
	memset(ret, 0, sizeof(*ret));
	ret->ev.time_us = T_US;
	ret->ev.severity = 6;
	return 0;
}

static int src_format(void *ctx, const struct kura_event_row *row, struct kura_buf *body)
{
	(void)ctx;
	return kura_buf_printf(body, "event %llu", (unsigned long long)row->leaf_index);
}

static int src_save(void *ctx, uint64_t leaf, uint64_t seq)
{
	(void)ctx;
	(void)leaf;
	(void)seq;
	saves++;
	return 0;
}

/* Bad arguments and an unusable TLS configuration end the run at once and
 * never move the cursor. */
static void test_forward_refuses(void **state)
{
	(void)state;
	struct kura_forward_source src = {src_next, src_format, src_save, NULL};
	struct kura_tls_config cfg = {.host = "127.0.0.1",
				      .port = "1",
				      .ca_file = "/nonexistent/ca.pem",
				      .cert_file = "/nonexistent/c.pem",
				      .key_file = "/nonexistent/c.key",
				      .timeout_ms = 500};
	struct kura_forward_opts o = {.max_run_ms = 2000};
	struct kura_forward_stats st;
	saves = 0;
	assert_int_equal(kura_forward_run(&cfg, &src, 0, 0, &o, &st), KURA_EINVAL);
	o.batch = KURA_MAX_FORWARD_BATCH + 1;
	assert_int_equal(kura_forward_run(&cfg, &src, 0, 1, &o, &st), KURA_EINVAL);
	o.batch = 0;
	assert_int_equal(kura_forward_run(&cfg, &src, 0, 1, &o, &st), KURA_EINVAL);
	assert_int_equal(st.last_error, KURA_EINVAL);
	assert_int_equal(st.next_leaf, 0);
	assert_int_equal(st.next_seq, 1);
	assert_int_equal(st.sent, 0);
	/* Nothing to send: once returns 0 without connecting. */
	assert_int_equal(kura_forward_run(&cfg, &src, 1, 2, &o, &st), 0);
	assert_int_equal(st.drained, 1);
	assert_int_equal(saves, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_event),
		cmocka_unit_test(test_offsets_and_nil),
		cmocka_unit_test(test_sd_escaping),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_frame_counts_bytes),
		cmocka_unit_test(test_sequence_numbers),
		cmocka_unit_test(test_forward_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
