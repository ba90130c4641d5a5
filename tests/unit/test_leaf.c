/* test_leaf.c - leaf encoding: round trip, exact bytes, strict decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "ledger/leaf.h"

static void sample(struct kura_leaf *l)
{
	memset(l, 0, sizeof(*l));
	memcpy(l->record_id, "01a21138-a78b-7ab8-96ef-d86be71bdb1c", 37);
	l->version = 2;
	memcpy(l->patient_id, "P1", 3);
	memcpy(l->type, "Observation", 12);
	memcpy(l->content_type, "application/fhir+json", 22);
	l->status = KURA_STATUS_CONFIRMED;
	memcpy(l->inputter, "clerk.ito", 10);
	memcpy(l->confirmer, "dr.sato", 8);
	memcpy(l->on_behalf_of, "dr.sato", 8);
	l->time_us = 1795844455329737;
	memcpy(l->reason, "修正: 単位", strlen("修正: 単位") + 1);
	l->content_length = 2048;
	memset(l->commitment, 0xcc, 32);
	memset(l->previous, 0xaa, 32);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct kura_leaf l, d;
	struct kura_buf b;
	sample(&l);
	kura_buf_init(&b, 65536);
	assert_int_equal(kura_leaf_encode(&l, &b), 0);
	assert_int_equal(kura_leaf_decode(b.data, b.len, &d), 0);
	assert_memory_equal(&l, &d, sizeof(l));
	/* fixed layout: type, format, then the record id's length byte */
	assert_int_equal(b.data[0], 1);
	assert_int_equal(b.data[1], 1);
	assert_int_equal(b.data[2], 36);
	/* the last 64 bytes are commitment then previous */
	assert_int_equal(b.data[b.len - 64], 0xcc);
	assert_int_equal(b.data[b.len - 1], 0xaa);
	kura_buf_release(&b);
}

static void test_strict_decode(void **state)
{
	(void)state;
	struct kura_leaf l, d;
	struct kura_buf b;
	sample(&l);
	kura_buf_init(&b, 65536);
	assert_int_equal(kura_leaf_encode(&l, &b), 0);
	/* every truncation fails */
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(kura_leaf_decode(b.data, n, &d), KURA_ECORRUPT);
	/* trailing byte fails */
	kura_buf_append_byte(&b, 0);
	assert_int_equal(kura_leaf_decode(b.data, b.len, &d), KURA_ECORRUPT);
	b.len--;
	b.data[0] = 2; /* unknown leaf type */
	assert_int_equal(kura_leaf_decode(b.data, b.len, &d), KURA_ECORRUPT);
	kura_buf_release(&b);
}

static void test_encode_rejects(void **state)
{
	(void)state;
	struct kura_leaf l;
	struct kura_buf b;
	kura_buf_init(&b, 65536);
	sample(&l);
	l.status = 9;
	assert_int_equal(kura_leaf_encode(&l, &b), KURA_EINVAL);
	sample(&l);
	l.version = 0;
	assert_int_equal(kura_leaf_encode(&l, &b), KURA_EINVAL);
	sample(&l);
	l.patient_id[0] = 0;
	assert_int_equal(kura_leaf_encode(&l, &b), KURA_EINVAL);
	assert_string_equal(kura_status_name(KURA_STATUS_ENTERED_IN_ERROR), "entered-in-error");
	assert_null(kura_status_name(0));
	kura_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_strict_decode),
		cmocka_unit_test(test_encode_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
