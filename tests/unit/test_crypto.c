/* test_crypto.c - crypto.h against published vectors and tamper cases. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "crypto/crypto.h"

static void hex(const uint8_t *p, size_t n, char *out)
{
	kura_hex_encode(p, n, out);
}

/* FIPS 180-2 example "abc". */
static void test_sha256(void **state)
{
	(void)state;
	uint8_t h[32];
	char s[65];
	kura_sha256("abc", 3, h);
	hex(h, 32, s);
	assert_string_equal(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	kura_sha256_2("a", 1, "bc", 2, h);
	hex(h, 32, s);
	assert_string_equal(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	struct kura_sha256 *st = kura_sha256_new();
	kura_sha256_update(st, "ab", 2);
	kura_sha256_update(st, "c", 1);
	kura_sha256_final(st, h);
	kura_sha256_free(st);
	hex(h, 32, s);
	assert_string_equal(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* RFC 4231 test case 2. */
static void test_hmac(void **state)
{
	(void)state;
	uint8_t h[32];
	char s[65];
	assert_int_equal(kura_hmac_sha256((const uint8_t *)"Jefe", 4,
					  "what do ya want for nothing?", 28, h), 0);
	hex(h, 32, s);
	assert_string_equal(s, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* RFC 8032 §7.1 test 1 (empty message). */
static void test_ed25519_vector(void **state)
{
	(void)state;
	uint8_t seed[32], pub[32], sig[64];
	char s[129];
	assert_int_equal(kura_hex_decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
					 seed, 32), 0);
	assert_int_equal(kura_ed25519_public(seed, pub), 0);
	hex(pub, 32, s);
	assert_string_equal(s, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
	assert_int_equal(kura_ed25519_sign(seed, "", 0, sig), 0);
	hex(sig, 64, s);
	assert_string_equal(s, "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
			       "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
	assert_int_equal(kura_ed25519_verify(pub, "", 0, sig), 0);
	uint8_t sig2[64]; /* with the public key given: the same bytes */
	assert_int_equal(kura_ed25519_sign_kp(seed, pub, "", 0, sig2), 0);
	assert_memory_equal(sig, sig2, 64);
	sig[0] ^= 1;
	assert_int_equal(kura_ed25519_verify(pub, "", 0, sig), KURA_ECRYPTO);
}

static void test_aead(void **state)
{
	(void)state;
	uint8_t key[32], box[5 + KURA_SEAL_OVERHEAD], out[5];
	kura_random(key, sizeof(key));
	assert_int_equal(kura_aead_seal(key, "ad", 2, "hello", 5, box), 0);
	assert_int_equal(kura_aead_open(key, "ad", 2, box, sizeof(box), out), 0);
	assert_memory_equal(out, "hello", 5);
	/* wrong associated data, flipped ciphertext, tag, nonce, wrong key */
	assert_int_equal(kura_aead_open(key, "ae", 2, box, sizeof(box), out), KURA_ECRYPTO);
	for (size_t i = 0; i < sizeof(box); i++) {
		box[i] ^= 0x40;
		assert_int_equal(kura_aead_open(key, "ad", 2, box, sizeof(box), out), KURA_ECRYPTO);
		box[i] ^= 0x40;
	}
	key[3] ^= 1;
	assert_int_equal(kura_aead_open(key, "ad", 2, box, sizeof(box), out), KURA_ECRYPTO);
	assert_int_equal(kura_aead_open(key, "ad", 2, box, 10, out), KURA_ECRYPTO);
}

/* NIST GCM test cases 13 and 14 (AES-256, zero key and IV), and a box
 * made with a caller-given nonce opens like a sealed one. */
static void test_aead_seal_nonce(void **state)
{
	(void)state;
	uint8_t key[32] = {0}, nonce[12] = {0}, zero[16] = {0}, out[32], box[12 + 32];
	char h[65];
	assert_int_equal(kura_aead_seal_nonce(key, nonce, NULL, 0, NULL, 0, out), 0);
	hex(out, 16, h);
	assert_string_equal(h, "530f8afbc74536b9a963b4f1c4cb738b");
	assert_int_equal(kura_aead_seal_nonce(key, nonce, NULL, 0, zero, 16, out), 0);
	hex(out, 32, h);
	assert_string_equal(h, "cea7403d4d606b6e074ec5d3baf39d18"
			       "d0d1c8a799996bf0265b98b5d48ab919");
	kura_random(key, sizeof(key));
	assert_int_equal(kura_aead_seal(key, "ad", 2, zero, 16, box), 0);
	assert_int_equal(kura_aead_seal_nonce(key, box, "ad", 2, zero, 16, out), 0);
	assert_memory_equal(out, box + 12, 32);
	memcpy(box + 12, out, 32);
	assert_int_equal(kura_aead_open(key, "ad", 2, box, sizeof(box), out), 0);
	assert_memory_equal(out, zero, 16);
}

static void test_argon2id_and_hkdf(void **state)
{
	(void)state;
	uint8_t salt[KURA_SALT_LEN] = {1, 2, 3}, a[32], b[32];
	assert_int_equal(kura_argon2id(a, 32, "pw", 2, salt, 1, 8192), 0);
	assert_int_equal(kura_argon2id(b, 32, "pw", 2, salt, 1, 8192), 0);
	assert_memory_equal(a, b, 32);
	assert_int_equal(kura_argon2id(b, 32, "pW", 2, salt, 1, 8192), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(kura_argon2id(b, 32, "pw", 2, salt, 0, 8192), KURA_EINVAL);
	assert_int_equal(kura_hkdf_sha256(a, 32, "x", b, 32), 0);
	uint8_t c[32];
	assert_int_equal(kura_hkdf_sha256(a, 32, "y", c, 32), 0);
	assert_memory_not_equal(b, c, 32);
}

static void test_pem_and_secrets(void **state)
{
	(void)state;
	uint8_t seed[32], pub[32], back[32];
	struct kura_buf pem;
	kura_buf_init(&pem, 4096);
	assert_int_equal(kura_ed25519_keygen(seed, pub), 0);
	assert_int_equal(kura_ed25519_public_pem(pub, &pem), 0);
	assert_non_null(strstr((char *)pem.data, "BEGIN PUBLIC KEY"));
	assert_int_equal(kura_ed25519_public_from_pem(pem.data, pem.len, back), 0);
	assert_memory_equal(pub, back, 32);
	assert_int_equal(kura_ed25519_public_from_pem((const uint8_t *)"junk", 4, back), KURA_EINVAL);
	kura_buf_release(&pem);
	uint8_t *s = kura_secret_alloc(64);
	assert_non_null(s);
	memset(s, 7, 64);
	kura_secret_free(s);
	assert_true(kura_ct_equal("abc", "abc", 3));
	assert_false(kura_ct_equal("abc", "abd", 3));
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_ed25519_vector),
		cmocka_unit_test(test_aead),
		cmocka_unit_test(test_aead_seal_nonce),
		cmocka_unit_test(test_argon2id_and_hkdf),
		cmocka_unit_test(test_pem_and_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
