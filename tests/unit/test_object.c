/* test_object.c - backup objects: deterministic, authenticated, bound to
 * their vault and type, compressed only when it helps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backup/object.h"

static struct kura_backup_keys keys, other;
static struct kura_obj_ctx *ctx;

static int setup(void **state)
{
	(void)state;
	uint8_t master[32], vid[16];
	kura_crypto_init();
	kura_random(master, 32);
	kura_random(vid, 16);
	assert_int_equal(kura_backup_keys_derive(master, vid, &keys), 0);
	vid[0] ^= 1; /* the same master key, another vault id */
	assert_int_equal(kura_backup_keys_derive(master, vid, &other), 0);
	ctx = kura_obj_ctx_new(3);
	return ctx ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	kura_obj_ctx_free(ctx);
	return 0;
}

static void test_keys(void **state)
{
	(void)state;
	uint8_t master[32] = {7}, vid[16] = {1}, enc[32], nonce[32];
	struct kura_backup_keys a, b;
	assert_int_equal(kura_backup_keys_derive(master, vid, &a), 0);
	assert_int_equal(kura_backup_keys_derive(master, vid, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	kura_hkdf_sha256(master, 32, "kura/v1/backup-enc", enc, 32);
	kura_hkdf_sha256(master, 32, "kura/v1/backup-nonce", nonce, 32);
	assert_memory_equal(a.enc, enc, 32);
	assert_memory_equal(a.nonce, nonce, 32);
	assert_memory_not_equal(a.enc, a.nonce, 32);
	assert_memory_equal(a.vault_id, vid, 16);
}

static void encode(int type, const void *p, size_t n, struct kura_buf *out, uint8_t id[32])
{
	assert_int_equal(kura_obj_encode(ctx, &keys, type, p, n, out, id), 0);
}

static void test_round_trip_and_ids(void **state)
{
	(void)state;
	struct kura_buf a, b, pt;
	uint8_t ida[32], idb[32], h[32], msg[1 + 5];
	kura_buf_init(&a, KURA_OBJ_MAX);
	kura_buf_init(&b, KURA_OBJ_MAX);
	kura_buf_init(&pt, KURA_OBJ_MAX_PLAIN);
	encode(KURA_OBJ_CHUNK, "hello", 5, &a, ida);
	kura_obj_id(a.data, a.len, h);
	assert_memory_equal(h, ida, 32);
	assert_memory_equal(a.data, "KBO1\x01", 5);
	/* The nonce is HMAC-SHA-256(nonce key, type || plaintext)[0..12). */
	msg[0] = KURA_OBJ_CHUNK;
	memcpy(msg + 1, "hello", 5);
	kura_hmac_sha256(keys.nonce, 32, msg, sizeof(msg), h);
	assert_memory_equal(a.data + 5, h, 12);
	assert_int_equal(kura_obj_decode(ctx, &keys, KURA_OBJ_CHUNK, a.data, a.len, &pt), 0);
	assert_int_equal(pt.len, 5);
	assert_memory_equal(pt.data, "hello", 5);
	/* Same plaintext, same object; another plaintext or type, another id. */
	encode(KURA_OBJ_CHUNK, "hello", 5, &b, idb);
	assert_memory_equal(ida, idb, 32);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	encode(KURA_OBJ_CHUNK, "hellp", 5, &b, idb);
	assert_memory_not_equal(ida, idb, 32);
	assert_memory_not_equal(a.data + 5, b.data + 5, 12);
	encode(KURA_OBJ_SEGMENT, "hello", 5, &b, idb);
	assert_memory_not_equal(ida, idb, 32);
	/* Empty plaintext, and without a context. */
	assert_int_equal(kura_obj_encode(NULL, &keys, KURA_OBJ_STATE, NULL, 0, &b, idb), 0);
	assert_int_equal(b.len, KURA_OBJ_OVERHEAD);
	assert_int_equal(kura_obj_decode(NULL, &keys, KURA_OBJ_STATE, b.data, b.len, &pt), 0);
	assert_int_equal(pt.len, 0);
	char hex[65];
	uint8_t back[32];
	kura_obj_id_hex(ida, hex);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(kura_obj_id_parse(hex, back), 0);
	assert_memory_equal(back, ida, 32);
	hex[3] = 'A';
	assert_int_equal(kura_obj_id_parse(hex, back), KURA_EINVAL);
	assert_int_equal(kura_obj_id_parse("abcd", back), KURA_EINVAL);
	kura_buf_release(&a);
	kura_buf_release(&b);
	kura_buf_release(&pt);
}

static void test_tamper_type_and_vault(void **state)
{
	(void)state;
	struct kura_buf a, pt;
	uint8_t id[32], data[1000];
	int type;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i % 7);
	kura_buf_init(&a, KURA_OBJ_MAX);
	kura_buf_init(&pt, KURA_OBJ_MAX_PLAIN);
	encode(KURA_OBJ_SEGMENT, data, sizeof(data), &a, id);
	for (size_t i = 0; i < a.len; i++) {
		a.data[i] ^= 0x10;
		int r = kura_obj_decode(ctx, &keys, KURA_OBJ_SEGMENT, a.data, a.len, &pt);
		assert_true(r == KURA_ECRYPTO || r == KURA_ECORRUPT);
		assert_int_equal(pt.len, 0);
		a.data[i] ^= 0x10;
	}
	for (size_t cut = 0; cut < a.len; cut++)
		assert_int_not_equal(kura_obj_decode(ctx, &keys, KURA_OBJ_SEGMENT, a.data, cut, &pt), 0);
	assert_int_equal(kura_obj_decode(ctx, &keys, KURA_OBJ_CHUNK, a.data, a.len, &pt),
			 KURA_ECORRUPT);
	assert_int_equal(kura_obj_decode(ctx, &other, KURA_OBJ_SEGMENT, a.data, a.len, &pt),
			 KURA_ECRYPTO);
	/* Retyped, even with the type byte changed consistently: the AAD. */
	a.data[4] = KURA_OBJ_CHUNK;
	assert_int_equal(kura_obj_decode(ctx, &keys, KURA_OBJ_CHUNK, a.data, a.len, &pt),
			 KURA_ECRYPTO);
	a.data[4] = 9;
	assert_int_equal(kura_obj_peek(a.data, a.len, &type), KURA_ECORRUPT);
	a.data[4] = KURA_OBJ_SEGMENT;
	assert_int_equal(kura_obj_peek(a.data, a.len, &type), 0);
	assert_int_equal(type, KURA_OBJ_SEGMENT);
	assert_int_equal(kura_obj_peek(a.data, KURA_OBJ_OVERHEAD - 1, &type), KURA_ECORRUPT);
	kura_buf_release(&a);
	kura_buf_release(&pt);
}

/* Someone with the encryption key but a nonce that is not the plaintext's
 * HMAC (a forged or replayed object) is refused. */
static void test_nonce_checked(void **state)
{
	(void)state;
	uint8_t obj[KURA_OBJ_OVERHEAD + 3], aad[21 + 16 + 1], inner[4] = {0, 'a', 'b', 'c'};
	struct kura_buf pt;
	kura_buf_init(&pt, 1024);
	memcpy(aad, "kura.backup.object.v1", 21);
	memcpy(aad + 21, keys.vault_id, 16);
	aad[37] = KURA_OBJ_CHUNK;
	memcpy(obj, "KBO1\x01", 5);
	memset(obj + 5, 0x42, 12);
	assert_int_equal(kura_aead_seal_nonce(keys.enc, obj + 5, aad, sizeof(aad), inner, 4,
					      obj + KURA_OBJ_HEADER), 0);
	assert_int_equal(kura_obj_decode(ctx, &keys, KURA_OBJ_CHUNK, obj, sizeof(obj), &pt),
			 KURA_ECRYPTO);
	assert_int_equal(pt.len, 0);
	kura_buf_release(&pt);
}

static void test_compression_and_limits(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	uint8_t *text = malloc(n), *noise = malloc(n), id[32];
	struct kura_buf a, pt;
	assert_non_null(text);
	assert_non_null(noise);
	for (size_t i = 0; i < n; i++)
		text[i] = (uint8_t)"DICM patient study series "[i % 26];
	kura_random(noise, n);
	kura_buf_init(&a, KURA_OBJ_MAX);
	kura_buf_init(&pt, KURA_OBJ_MAX_PLAIN);
	encode(KURA_OBJ_CHUNK, text, n, &a, id);
	assert_true(a.len < n / 100);
	assert_int_equal(kura_obj_decode(ctx, &keys, KURA_OBJ_CHUNK, a.data, a.len, &pt), 0);
	assert_int_equal(pt.len, n);
	assert_memory_equal(pt.data, text, n);
	encode(KURA_OBJ_CHUNK, noise, n, &a, id);
	assert_int_equal(a.len, n + KURA_OBJ_OVERHEAD); /* stored */
	assert_int_equal(kura_obj_decode(ctx, &keys, KURA_OBJ_CHUNK, a.data, a.len, &pt), 0);
	assert_memory_equal(pt.data, noise, n);
	assert_int_equal(kura_obj_encode(ctx, &keys, KURA_OBJ_CHUNK, text,
					 (size_t)KURA_OBJ_MAX_PLAIN + 1, &a, id), KURA_ETOOBIG);
	assert_int_equal(kura_obj_encode(ctx, &keys, 0, text, 1, &a, id), KURA_EINVAL);
	free(text);
	free(noise);
	kura_buf_release(&a);
	kura_buf_release(&pt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_round_trip_and_ids),
		cmocka_unit_test(test_tamper_type_and_vault),
		cmocka_unit_test(test_nonce_checked),
		cmocka_unit_test(test_compression_and_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
