/* test_cdc.c - FastCDC: the gear table is its derivation, cuts are
 * deterministic and bounded, and an insertion disturbs only nearby chunks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backup/cdc.h"
#include "crypto/crypto.h"

#define BIG (20u * 1024 * 1024)

static void test_gear_derivation(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 256; i++) {
		uint8_t msg[20], h[32];
		memcpy(msg, "kura.backup.gear.v1", 19);
		msg[19] = (uint8_t)i;
		kura_sha256(msg, sizeof(msg), h);
		uint64_t v = 0;
		for (int k = 0; k < 8; k++)
			v = (v << 8) | h[k];
		assert_true(v == kura_cdc_gear[i]);
	}
}

/* Offsets of all cuts of p[0..n) into cuts[]; returns how many. */
static size_t cut_all(const uint8_t *p, size_t n, size_t *cuts, size_t max)
{
	size_t at = 0, k = 0;
	while (at < n) {
		size_t c = kura_cdc_cut(p + at, n - at);
		assert_true(c > 0 && c <= KURA_CDC_MAX);
		if (at + c < n)
			assert_true(c >= KURA_CDC_MIN);
		at += c;
		assert_true(k < max);
		cuts[k++] = at;
	}
	return k;
}

static void test_small_and_bounds(void **state)
{
	(void)state;
	uint8_t *zero = calloc(1, KURA_CDC_MAX * 2 + 7);
	assert_non_null(zero);
	assert_int_equal(kura_cdc_cut(zero, 0), 0);
	assert_int_equal(kura_cdc_cut(zero, 1), 1);
	assert_int_equal(kura_cdc_cut(zero, KURA_CDC_MIN), KURA_CDC_MIN);
	/* Constant data never matches the mask: cut at the maximum. */
	size_t c = kura_cdc_cut(zero, KURA_CDC_MAX * 2 + 7);
	assert_true(c >= KURA_CDC_MIN && c <= KURA_CDC_MAX);
	c = kura_cdc_cut(zero, KURA_CDC_MIN + 1);
	assert_true(c >= KURA_CDC_MIN && c <= KURA_CDC_MIN + 1);
	free(zero);
}

static void test_deterministic_average_and_shift(void **state)
{
	(void)state;
	uint8_t *a = malloc(BIG), *b = malloc(BIG + 5);
	size_t ca[128], cb[128], cc[128];
	assert_non_null(a);
	assert_non_null(b);
	kura_random(a, BIG);
	size_t na = cut_all(a, BIG, ca, 128);
	assert_int_equal(cut_all(a, BIG, cc, 128), na);
	assert_memory_equal(ca, cc, na * sizeof(size_t));
	/* On random data the mean chunk is near the normalized target. */
	size_t mean = BIG / na;
	assert_true(mean > KURA_CDC_AVG * 3 / 4 && mean < KURA_CDC_AVG * 3 / 2);
	/* Five bytes inserted at 1000: every cut after the second reappears,
	 * shifted by five. */
	memcpy(b, a, 1000);
	memcpy(b + 1000, "XXXXX", 5);
	memcpy(b + 1005, a + 1000, BIG - 1000);
	size_t nb = cut_all(b, BIG + 5, cb, 128), same = 0;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (cb[j] == ca[i] + 5)
				same++;
	assert_true(same + 2 >= na);
	free(a);
	free(b);
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gear_derivation),
		cmocka_unit_test(test_small_and_bounds),
		cmocka_unit_test(test_deterministic_average_and_shift),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
