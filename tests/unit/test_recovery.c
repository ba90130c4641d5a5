/*
 * test_recovery.c - the recovery key and the key functions for backups
 * (vault.h "Keys for other modules", docs/RECOVERY.md).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto/crypto.h"
#include "vault/vault.h"

#define PASS "correct horse battery staple"
#define TEXT_CAP (KURA_RECOVERY_KEY_TEXT_LEN + 1)

struct fx {
	char dir[64];
	struct kura_vault *v;
	uint8_t id[16];
};

static const struct kura_kdf_params fast = {1, 8 * 1024};

static int fx_open(struct fx *f)
{
	struct kura_sth sth;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kura-unit-XXXXXX");
	if (!mkdtemp(f->dir) || kura_vault_init(f->dir, PASS, strlen(PASS), &fast, &sth) ||
	    kura_vault_open(f->dir, PASS, strlen(PASS), 0, &f->v))
		return -1;
	kura_vault_id(f->v, f->id);
	return 0;
}

static void fx_close(struct fx *f)
{
	char cmd[128];
	kura_vault_close(f->v);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(2, sizeof(*f));
	if (!f || fx_open(&f[0]) || fx_open(&f[1]))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fx_close(&f[0]);
	fx_close(&f[1]);
	free(f);
	return 0;
}

static int unwrap(const json_t *m, const uint8_t id[16], const char *s, int recovery,
		  uint8_t master[KURA_KEY_LEN])
{
	return kura_key_unwrap_master(m, id, s, strlen(s), recovery, master);
}

/* The master key, seen through a purpose derived from it. */
static void assert_master_of(struct kura_vault *v, const uint8_t master[KURA_KEY_LEN])
{
	uint8_t a[KURA_KEY_LEN], b[KURA_KEY_LEN];
	assert_int_equal(kura_vault_derive(v, "kura/v1/test", a), 0);
	assert_int_equal(kura_hkdf_sha256(master, KURA_KEY_LEN, "kura/v1/test", b, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(a));
	kura_wipe(a, sizeof(a));
	kura_wipe(b, sizeof(b));
}

static void test_text_format(void **state)
{
	struct fx *f = *state;
	char key[TEXT_CAP];
	assert_int_equal(kura_vault_recovery_new(f->v, key), 0);
	assert_int_equal(strlen(key), KURA_RECOVERY_KEY_TEXT_LEN);
	for (size_t i = 0; i < KURA_RECOVERY_KEY_TEXT_LEN; i++) {
		if (i % 5 == 4)
			assert_int_equal(key[i], '-');
		else
			assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", key[i]));
	}
	kura_wipe(key, sizeof(key));
}

static void test_recovery_and_passphrase_open(void **state)
{
	struct fx *f = *state;
	char key[TEXT_CAP], loose[2 * TEXT_CAP + 2];
	uint8_t m1[KURA_KEY_LEN], m2[KURA_KEY_LEN];
	assert_int_equal(kura_vault_recovery_new(f->v, key), 0);
	json_t *mat = kura_vault_key_material(f->v);
	assert_non_null(mat);
	assert_true(json_is_object(json_object_get(mat, "kdf")));
	assert_int_equal(strlen(json_string_value(json_object_get(mat, "master"))), 120);
	assert_int_equal(strlen(json_string_value(json_object_get(mat, "recovery"))), 120);

	assert_int_equal(unwrap(mat, f->id, key, 1, m1), 0);
	assert_master_of(f->v, m1);
	assert_int_equal(unwrap(mat, f->id, PASS, 0, m2), 0);
	assert_memory_equal(m1, m2, KURA_KEY_LEN);
	assert_int_equal(unwrap(mat, f->id, "wrong passphrase", 0, m2), KURA_EDENIED);

	/* Typed by hand: lower case, spaces for dashes, O for 0, a newline. */
	size_t n = 0;
	for (const char *p = key; *p; p++)
		loose[n++] = *p == '-' ? ' ' : *p == '0' ? 'o' : (char)tolower((unsigned char)*p);
	loose[n++] = '\n';
	loose[n] = 0;
	assert_int_equal(unwrap(mat, f->id, loose, 1, m2), 0);
	assert_memory_equal(m1, m2, KURA_KEY_LEN);
	kura_wipe(m1, sizeof(m1));
	kura_wipe(m2, sizeof(m2));
	kura_wipe(key, sizeof(key));
	kura_wipe(loose, sizeof(loose));
	json_decref(mat);
}

static void test_typos_are_caught(void **state)
{
	struct fx *f = *state;
	char key[TEXT_CAP], bad[TEXT_CAP];
	uint8_t m[KURA_KEY_LEN];
	assert_int_equal(kura_vault_recovery_new(f->v, key), 0);
	json_t *mat = kura_vault_key_material(f->v);
	/* Every single-symbol substitution at a few places (the check is 24
	 * bits: a typo passes it with probability 2^-24). */
	for (size_t i = 0; i < KURA_RECOVERY_KEY_TEXT_LEN; i += 7) {
		if (key[i] == '-')
			continue;
		memcpy(bad, key, sizeof(bad));
		bad[i] = bad[i] == 'Z' ? 'Y' : 'Z';
		assert_int_equal(unwrap(mat, f->id, bad, 1, m), KURA_EINVAL);
	}
	memcpy(bad, key, sizeof(bad));
	bad[0] = 'U'; /* not a Crockford symbol */
	assert_int_equal(unwrap(mat, f->id, bad, 1, m), KURA_EINVAL);
	assert_int_equal(kura_key_unwrap_master(mat, f->id, key, strlen(key) - 1, 1, m), KURA_EINVAL);
	assert_int_equal(unwrap(mat, f->id, "", 1, m), KURA_EINVAL);
	/* Two symbols swapped. */
	memcpy(bad, key, sizeof(bad));
	if (bad[0] != bad[1]) {
		bad[0] = key[1];
		bad[1] = key[0];
		assert_int_equal(unwrap(mat, f->id, bad, 1, m), KURA_EINVAL);
	}
	kura_wipe(key, sizeof(key));
	json_decref(mat);
}

static void test_replaced_and_foreign_keys(void **state)
{
	struct fx *f = *state;
	char old[TEXT_CAP], cur[TEXT_CAP], other[TEXT_CAP];
	uint8_t m[KURA_KEY_LEN];
	assert_int_equal(kura_vault_recovery_new(f[0].v, old), 0);
	assert_int_equal(kura_vault_recovery_new(f[0].v, cur), 0);
	assert_int_equal(kura_vault_recovery_new(f[1].v, other), 0);
	assert_string_not_equal(old, cur);
	json_t *mat = kura_vault_key_material(f[0].v);
	json_t *mat1 = kura_vault_key_material(f[1].v);
	assert_int_equal(unwrap(mat, f[0].id, old, 1, m), KURA_EDENIED);
	assert_int_equal(unwrap(mat, f[0].id, other, 1, m), KURA_EDENIED);
	assert_int_equal(unwrap(mat, f[0].id, cur, 1, m), 0);
	/* The right secrets, but another vault's id: the AAD binds the boxes. */
	assert_int_equal(unwrap(mat, f[1].id, cur, 1, m), KURA_EDENIED);
	assert_int_equal(unwrap(mat, f[1].id, PASS, 0, m), KURA_EDENIED);
	assert_int_equal(unwrap(mat1, f[0].id, other, 1, m), KURA_EDENIED);
	/* Swapping one vault's recovery box into the other's material. */
	json_object_set(mat, "recovery", json_object_get(mat1, "recovery"));
	assert_int_equal(unwrap(mat, f[0].id, other, 1, m), KURA_EDENIED);
	/* Damaged or missing material. */
	json_object_set_new(mat, "recovery", json_string("00ff"));
	assert_int_equal(unwrap(mat, f[0].id, cur, 1, m), KURA_ECORRUPT);
	json_object_del(mat, "recovery");
	assert_int_equal(unwrap(mat, f[0].id, cur, 1, m), KURA_ENOTFOUND);
	json_object_del(mat, "kdf");
	assert_int_equal(unwrap(mat, f[0].id, PASS, 0, m), KURA_ECORRUPT);
	/* The state row stays authentic (its MAC is the vault's). */
	uint64_t rows = 0;
	assert_int_equal(kura_state_check(f[0].v, NULL, NULL, &rows), 0);
	assert_true(rows >= 1);
	kura_wipe(old, sizeof(old));
	kura_wipe(cur, sizeof(cur));
	kura_wipe(other, sizeof(other));
	json_decref(mat);
	json_decref(mat1);
}

static void test_no_recovery_key_yet(void **state)
{
	struct fx *f = *state;
	char other[TEXT_CAP];
	uint8_t m[KURA_KEY_LEN];
	json_t *mat = kura_vault_key_material(f->v);
	assert_non_null(mat);
	assert_null(json_object_get(mat, "recovery"));
	assert_int_equal(kura_vault_recovery_new(f[1].v, other), 0);
	assert_int_equal(unwrap(mat, f->id, other, 1, m), KURA_ENOTFOUND);
	kura_wipe(other, sizeof(other));
	json_decref(mat);
}

static void test_wrap_round_trip(void **state)
{
	struct fx *f = *state;
	uint8_t m[KURA_KEY_LEN], m2[KURA_KEY_LEN];
	struct kura_buf kdf, box;
	char hex[121];
	kura_buf_init(&kdf, 4096);
	kura_buf_init(&box, 4096);
	json_t *mat = kura_vault_key_material(f->v);
	assert_int_equal(unwrap(mat, f->id, PASS, 0, m), 0);
	assert_int_equal(kura_key_wrap_master(m, f->id, "a new passphrase", 16, &fast, &kdf, &box), 0);
	assert_int_equal(box.len, 60);
	kura_hex_encode(box.data, box.len, hex);
	json_t *mat2 = json_pack("{s:o, s:s}", "kdf", json_loadb((char *)kdf.data, kdf.len, 0, NULL),
				 "master", hex);
	assert_non_null(mat2);
	assert_int_equal(unwrap(mat2, f->id, "a new passphrase", 0, m2), 0);
	assert_memory_equal(m, m2, KURA_KEY_LEN);
	assert_int_equal(unwrap(mat2, f->id, PASS, 0, m2), KURA_EDENIED);
	assert_int_equal(unwrap(mat2, f[1].id, "a new passphrase", 0, m2), KURA_EDENIED);
	/* A fresh salt each time. */
	assert_string_not_equal(json_string_value(json_object_get(json_object_get(mat, "kdf"), "salt")),
				json_string_value(json_object_get(json_object_get(mat2, "kdf"), "salt")));
	kura_wipe(m, sizeof(m));
	kura_wipe(m2, sizeof(m2));
	kura_buf_release(&kdf);
	kura_buf_release_secret(&box);
	json_decref(mat);
	json_decref(mat2);
}

static void test_derive_sign_id(void **state)
{
	struct fx *f = *state;
	uint8_t a[KURA_KEY_LEN], b[KURA_KEY_LEN], sig[KURA_SIG_LEN], pub[KURA_PUBKEY_LEN];
	assert_int_equal(kura_vault_derive(f->v, "kura/v1/backup-enc", a), 0);
	assert_int_equal(kura_vault_derive(f->v, "kura/v1/backup-id", b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(kura_vault_derive(f[1].v, "kura/v1/backup-enc", b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(kura_vault_derive(f->v, "kura/v1/wrap", a), KURA_EINVAL);
	assert_int_equal(kura_vault_derive(f->v, "kura/v1/state-mac", a), KURA_EINVAL);
	assert_int_equal(kura_vault_derive(f->v, "", a), KURA_EINVAL);
	assert_memory_not_equal(f[0].id, f[1].id, 16);
	kura_vault_pubkey(f->v, pub);
	assert_int_equal(kura_vault_sign(f->v, "kura.test\nmsg", 13, sig), 0);
	assert_int_equal(kura_ed25519_verify(pub, "kura.test\nmsg", 13, sig), 0);
	assert_int_equal(kura_ed25519_verify(pub, "kura.test\nmsh", 13, sig), KURA_ECRYPTO);
	kura_wipe(a, sizeof(a));
	kura_wipe(b, sizeof(b));
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_text_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_and_passphrase_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typos_are_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_and_foreign_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_recovery_key_yet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derive_sign_id, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
