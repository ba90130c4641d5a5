/* test_event.c - audit-event leaves (LG-01..04): round trip, exact layout,
 * strict decoding, and what kura_audit_event fills in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "audit/audit.h"
#include "ledger/event.h"
#include "ledger/leaf.h"

static void sample(struct kura_event *e)
{
	memset(e, 0, sizeof(*e));
	e->time_us = 1795844455329737;
	e->utc_offset_min = 540;
	e->clock = KURA_CLOCK_SYNCED;
	e->severity = KURA_SEV_ALERT;
	e->outcome = KURA_OUTCOME_SUCCESS;
	memcpy(e->action, "breakglass", 11);
	memcpy(e->actor, "dr.sato", 8);
	memcpy(e->role, "doctor", 7);
	memcpy(e->terminal, "ward3 /dev/pts/1", 17);
	memcpy(e->client_ip, "192.0.2.7", 10);
	memcpy(e->patient_id, "P1", 3);
	memcpy(e->record_id, "01a21138-a78b-7ab8-96ef-d86be71bdb1c", 37);
	e->version = 3;
	memcpy(e->reason, "救急搬送: 意識なし", strlen("救急搬送: 意識なし") + 1);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct kura_event e, d;
	struct kura_buf b;
	sample(&e);
	kura_buf_init(&b, 65536);
	assert_int_equal(kura_event_encode(&e, &b), 0);
	assert_int_equal(kura_event_decode(b.data, b.len, &d), 0);
	assert_memory_equal(&e, &d, sizeof(e));
	assert_int_equal(b.data[0], KURA_LEAF_AUDIT_EVENT);
	assert_int_equal(b.data[1], KURA_EVENT_FORMAT);
	/* time (8), offset 540 = 0x021c, clock, severity, outcome */
	assert_int_equal(b.data[10], 0x02);
	assert_int_equal(b.data[11], 0x1c);
	assert_int_equal(b.data[12], KURA_CLOCK_SYNCED);
	assert_int_equal(b.data[13], KURA_SEV_ALERT);
	assert_int_equal(b.data[15], 10); /* strlen("breakglass") */
	assert_int_equal(kura_leaf_kind(b.data, b.len), KURA_LEAF_AUDIT_EVENT);
	/* a record-version decoder refuses an event and vice versa */
	struct kura_leaf l;
	assert_int_equal(kura_leaf_decode(b.data, b.len, &l), KURA_ECORRUPT);
	kura_buf_release(&b);
}

static void test_negative_offset(void **state)
{
	(void)state;
	struct kura_event e, d;
	struct kura_buf b;
	sample(&e);
	e.utc_offset_min = -300;
	kura_buf_init(&b, 65536);
	assert_int_equal(kura_event_encode(&e, &b), 0);
	assert_int_equal(kura_event_decode(b.data, b.len, &d), 0);
	assert_int_equal(d.utc_offset_min, -300);
	kura_buf_release(&b);
}

static void test_encode_rejects(void **state)
{
	(void)state;
	struct kura_event e;
	struct kura_buf b;
	kura_buf_init(&b, 65536);
	sample(&e);
	e.action[0] = 0; /* the action is required */
	assert_int_equal(kura_event_encode(&e, &b), KURA_EINVAL);
	sample(&e);
	e.outcome = 3; /* not a FHIR outcome code */
	assert_int_equal(kura_event_encode(&e, &b), KURA_EINVAL);
	sample(&e);
	e.severity = 0;
	assert_int_equal(kura_event_encode(&e, &b), KURA_EINVAL);
	sample(&e);
	e.reason[0] = '\n'; /* one line of text */
	assert_int_equal(kura_event_encode(&e, &b), KURA_EINVAL);
	sample(&e);
	e.detail[0] = (char)0xff; /* not UTF-8 */
	assert_int_equal(kura_event_encode(&e, &b), KURA_EINVAL);
	kura_buf_release(&b);
}

static void test_decode_strict(void **state)
{
	(void)state;
	struct kura_event e, d;
	struct kura_buf b;
	sample(&e);
	kura_buf_init(&b, 65536);
	assert_int_equal(kura_event_encode(&e, &b), 0);
	/* trailing byte */
	kura_buf_append_byte(&b, 0);
	assert_int_equal(kura_event_decode(b.data, b.len, &d), KURA_ECORRUPT);
	b.len--;
	/* every truncation fails */
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(kura_event_decode(b.data, n, &d), KURA_ECORRUPT);
	/* an unknown format */
	b.data[1] = 2;
	assert_int_equal(kura_event_decode(b.data, b.len, &d), KURA_ECORRUPT);
	kura_buf_release(&b);
}

static void test_audit_event_fills(void **state)
{
	(void)state;
	struct kura_actor a;
	struct kura_event e;
	memset(&a, 0, sizeof(a));
	memcpy(a.user, "nurse.ito", 10);
	memcpy(a.role, "nurse", 6);
	/* control characters never reach an event; long text is cut at a
	 * character boundary */
	memcpy(a.terminal, "host\x1b[2J", 9);
	kura_audit_event(&e, &a, "read");
	assert_string_equal(e.action, "read");
	assert_string_equal(e.actor, "nurse.ito");
	assert_string_equal(e.terminal, "host?[2J");
	assert_true(e.time_us > 0);
	assert_true(e.clock <= KURA_CLOCK_UNSYNCED);
	char small[5];
	kura_audit_set(small, sizeof(small), "山田");
	assert_string_equal(small, "山"); /* 3 bytes fit, the next 3 do not */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_negative_offset),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_strict),
		cmocka_unit_test(test_audit_event_fills),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
