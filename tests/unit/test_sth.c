/* test_sth.c - tree heads: signed bytes, signatures, JSON round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "ledger/sth.h"

static void test_sign_verify(void **state)
{
	(void)state;
	uint8_t seed[32], pub[32], other[32], oseed[32], msg[KURA_STH_SIGNED_LEN];
	struct kura_sth s;
	memset(&s, 0, sizeof(s));
	kura_ed25519_keygen(seed, pub);
	kura_ed25519_keygen(oseed, other);
	s.tree_size = 1234;
	s.time_us = 99;
	memset(s.root, 7, 32);
	assert_int_equal(kura_sth_sign(&s, seed, pub), 0);
	assert_int_equal(kura_sth_verify(&s, pub), 0);
	assert_int_equal(kura_sth_verify(&s, other), KURA_ECRYPTO);
	kura_sth_signed_bytes(&s, msg);
	assert_memory_equal(msg, "kura.sth.v1", 11);
	assert_int_equal(msg[11 + 32 + 6], 0x04); /* 1234 = 0x04d2, big-endian */
	assert_int_equal(msg[11 + 32 + 7], 0xd2);
	struct kura_sth t = s;
	t.tree_size++;
	assert_int_equal(kura_sth_verify(&t, pub), KURA_ECRYPTO);
	t = s;
	t.root[31] ^= 1;
	assert_int_equal(kura_sth_verify(&t, pub), KURA_ECRYPTO);
	t = s;
	t.time_us++;
	assert_int_equal(kura_sth_verify(&t, pub), KURA_ECRYPTO);
}

static void test_json(void **state)
{
	(void)state;
	uint8_t seed[32], pub[32];
	struct kura_sth s, back;
	memset(&s, 0, sizeof(s));
	kura_ed25519_keygen(seed, pub);
	s.tree_size = 5;
	s.time_us = 1795844455329737;
	kura_sth_sign(&s, seed, pub);
	json_t *j = kura_sth_to_json(&s);
	assert_non_null(j);
	assert_int_equal(kura_sth_from_json(j, &back), 0);
	assert_memory_equal(&s, &back, sizeof(s));
	json_object_set_new(j, "signature", json_string("zz"));
	assert_int_equal(kura_sth_from_json(j, &back), KURA_ECORRUPT);
	json_object_set_new(j, "kura_sth", json_integer(2));
	assert_int_equal(kura_sth_from_json(j, &back), KURA_ECORRUPT);
	json_decref(j);
	assert_int_equal(kura_sth_from_json(NULL, &back), KURA_ECORRUPT);
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
