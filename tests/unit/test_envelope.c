/* test_envelope.c - compress-then-encrypt of content, bound to its place. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "vault/envelope.h"

static void seal(const uint8_t key[32], const char *rec, uint32_t v, const char *pat,
		 const void *content, size_t len, struct kura_buf *box)
{
	struct kura_buf aad;
	uint8_t sha[32];
	kura_buf_init(&aad, 1024);
	assert_int_equal(kura_envelope_aad(rec, v, pat, &aad), 0);
	assert_int_equal(kura_envelope_seal(NULL, key, kura_buf_slice(&aad), content, len, box, sha), 0);
	kura_buf_release(&aad);
}

static int open_as(const uint8_t key[32], const char *rec, uint32_t v, const char *pat,
		   const struct kura_buf *box, struct kura_buf *out)
{
	struct kura_buf aad;
	uint8_t sha[32];
	kura_buf_init(&aad, 1024);
	kura_envelope_aad(rec, v, pat, &aad);
	int r = kura_envelope_open(NULL, key, kura_buf_slice(&aad), kura_buf_slice(box), 1 << 20, out, sha);
	kura_buf_release(&aad);
	return r;
}

static void test_compressible_and_not(void **state)
{
	(void)state;
	uint8_t key[32], noise[4096];
	char text[4096];
	struct kura_buf box, out;
	kura_random(key, 32);
	kura_random(noise, sizeof(noise));
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = "{\"valueQuantity\": 7.20}"[i % 23];
	kura_buf_init(&box, 1 << 20);
	kura_buf_init(&out, 1 << 20);
	seal(key, "r1", 1, "P1", text, sizeof(text), &box);
	assert_true(box.len < sizeof(text) / 4); /* compressed before encryption */
	assert_int_equal(open_as(key, "r1", 1, "P1", &box, &out), 0);
	assert_memory_equal(out.data, text, sizeof(text));
	kura_buf_reset(&box);
	kura_buf_reset(&out);
	seal(key, "r1", 1, "P1", noise, sizeof(noise), &box);
	assert_int_equal(box.len, sizeof(noise) + 33 + KURA_SEAL_OVERHEAD); /* stored raw */
	assert_int_equal(open_as(key, "r1", 1, "P1", &box, &out), 0);
	assert_memory_equal(out.data, noise, sizeof(noise));
	kura_buf_release(&box);
	kura_buf_release(&out);
}

/* A ciphertext moved to another record, version or patient does not open. */
static void test_bound_to_place(void **state)
{
	(void)state;
	uint8_t key[32];
	struct kura_buf box, out;
	kura_random(key, 32);
	kura_buf_init(&box, 1 << 20);
	kura_buf_init(&out, 1 << 20);
	seal(key, "r1", 1, "P1", "abc", 3, &box);
	assert_int_equal(open_as(key, "r2", 1, "P1", &box, &out), KURA_ECRYPTO);
	assert_int_equal(open_as(key, "r1", 2, "P1", &box, &out), KURA_ECRYPTO);
	assert_int_equal(open_as(key, "r1", 1, "P2", &box, &out), KURA_ECRYPTO);
	box.data[box.len / 2] ^= 1;
	assert_int_equal(open_as(key, "r1", 1, "P1", &box, &out), KURA_ECRYPTO);
	kura_buf_release(&box);
	kura_buf_release(&out);
}

static void test_decode_inner(void **state)
{
	(void)state;
	uint8_t inner[40], sha[32];
	struct kura_buf out;
	kura_buf_init(&out, 1024);
	memset(inner, 0, sizeof(inner));
	inner[0] = 0;
	kura_sha256(inner + 33, 7, inner + 1);
	assert_int_equal(kura_envelope_decode(NULL, kura_slice_make(inner, 40), 100, &out, sha), 0);
	inner[5] ^= 1; /* hash mismatch */
	assert_int_equal(kura_envelope_decode(NULL, kura_slice_make(inner, 40), 100, &out, sha), KURA_ECORRUPT);
	inner[0] = 7; /* unknown codec */
	assert_int_equal(kura_envelope_decode(NULL, kura_slice_make(inner, 40), 100, &out, sha), KURA_ECORRUPT);
	inner[0] = 1; /* not a zstd frame */
	assert_int_equal(kura_envelope_decode(NULL, kura_slice_make(inner, 40), 100, &out, sha), KURA_ECORRUPT);
	kura_buf_release(&out);
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compressible_and_not),
		cmocka_unit_test(test_bound_to_place),
		cmocka_unit_test(test_decode_inner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
