/* test_password.c - the password policy at its boundaries, history, hashing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "auth/password.h"
#include "util/err.h"
#include "util/limits.h"

static const struct kura_pw_person nobody = {"", "", ""};
static const struct kura_pw_person taro = {"tanaka01", "Taro Yamada", "1980-05-12"};

/* The reason p gives for pw (KURA_PW_OK when accepted), age in *ret_age. */
static int why(const struct kura_pw_policy *p, const char *pw, const struct kura_pw_person *who,
	       int second, unsigned *ret_age)
{
	enum kura_pw_reason reason = KURA_PW_OK;
	unsigned age = 99;
	int r = kura_pw_check(p, pw, strlen(pw), who, second, &reason, &age);
	if (ret_age)
		*ret_age = age;
	if (r == 0)
		return KURA_PW_OK;
	assert_int_equal(r, KURA_EPOLICY);
	assert_int_not_equal(reason, KURA_PW_OK);
	return (int)reason;
}

static void fast(struct kura_pw_policy *p)
{
	kura_pw_policy_default(p);
	p->ops = 1;
	p->mem_kib = 8 * 1024;
}

static void test_length_and_expiry(void **state)
{
	(void)state;
	struct kura_pw_policy p;
	unsigned age = 0;
	kura_pw_policy_default(&p);
	assert_int_equal(why(&p, "Kq7#xZ2", &nobody, 0, NULL), KURA_PW_TOO_SHORT);
	assert_int_equal(why(&p, "Kq7#xZ2", &nobody, 1, NULL), KURA_PW_TOO_SHORT);
	assert_int_equal(why(&p, "Kq7#xZ2m", &nobody, 0, &age), KURA_PW_OK);
	assert_int_equal(age, 60);
	assert_int_equal(why(&p, "Kq7#xZ2m", &nobody, 1, &age), KURA_PW_OK);
	assert_int_equal(age, 0);
	assert_int_equal(why(&p, "Kq7#xZ2m!pL4", &nobody, 0, &age), KURA_PW_OK);
	assert_int_equal(age, 60);
	assert_int_equal(why(&p, "Kq7#xZ2m!pL4w", &nobody, 0, &age), KURA_PW_OK);
	assert_int_equal(age, 0);
	assert_int_equal(why(&p, "Kq7#xZ2m!pL4w", NULL, 1, &age), KURA_PW_OK);
	assert_int_equal(age, 0);
	/* Characters, not bytes: 8 bytes, but 2 kana, a digit and a symbol. */
	assert_int_equal(why(&p, "\xe3\x81\x8b\xe3\x81\x8b" "7#", &nobody, 0, NULL),
			 KURA_PW_TOO_SHORT);
	p.max_age_days = 0;
	assert_int_equal(why(&p, "Kq7#xZ2m", &nobody, 0, &age), KURA_PW_OK);
	assert_int_equal(age, 0);
}

static void test_too_long(void **state)
{
	(void)state;
	struct kura_pw_policy p;
	char pw[KURA_MAX_PASSWORD + 2];
	kura_pw_policy_default(&p);
	for (size_t i = 0; i < sizeof(pw) - 1; i++)
		pw[i] = "Kq7#xZ2m!pL4wVb9"[i % 16];
	pw[KURA_MAX_PASSWORD + 1] = '\0';
	assert_int_equal(why(&p, pw, &nobody, 0, NULL), KURA_PW_TOO_LONG);
	pw[KURA_MAX_PASSWORD] = '\0';
	assert_int_not_equal(why(&p, pw, &nobody, 0, NULL), KURA_PW_TOO_LONG);
}

static void test_classes(void **state)
{
	(void)state;
	struct kura_pw_policy p;
	kura_pw_policy_default(&p);
	assert_int_equal(why(&p, "Kq7xZ2mwpL", &nobody, 0, NULL), KURA_PW_CLASSES);
	assert_int_equal(why(&p, "Kq#xZ!mwpL", &nobody, 0, NULL), KURA_PW_CLASSES);
	assert_int_equal(why(&p, "84#0!2-61_9", &nobody, 0, NULL), KURA_PW_CLASSES);
	assert_int_equal(why(&p, "Kq7xZ2m#pL", &nobody, 0, NULL), KURA_PW_OK);
	assert_int_equal(why(&p, "Kq7xZ2m pL", &nobody, 0, NULL), KURA_PW_OK); /* space */
	/* Any non-ASCII character counts as a letter. */
	assert_int_equal(why(&p, "\xe3\x81\x8b\xe3\x81\x8d\xe6\xbc\xa2\xe5\xad\x97" "9#4!", &nobody,
			     0, NULL), KURA_PW_OK);
	p.min_classes = 2;
	assert_int_equal(why(&p, "Kq7xZ2mwpL", &nobody, 0, NULL), KURA_PW_OK);
	assert_int_equal(why(&p, "KqwxZbmwpL", &nobody, 0, NULL), KURA_PW_CLASSES);
}

static void test_dictionary(void **state)
{
	(void)state;
	static const char *const bad[] = {"P@ssw0rd!", "P@ssw0rd2024!", "Dragon2024!!",
					  "Dragon123!!", "$unshine99", "monkey#2024",
					  "12!!Princess", "5ecur1ty#2024", "drowssaP1!",
					  "Aa1!Aa1!Aa1!Aa1!", NULL};
	static const char *const good[] = {"Kq7#xZ2m", "vT9$wq3!Lmx8", "correct-Horse-7",
					   "Rj4&nW8*tYb2", NULL};
	struct kura_pw_policy p;
	kura_pw_policy_default(&p);
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(why(&p, bad[i], &nobody, 0, NULL), KURA_PW_DICTIONARY);
	for (size_t i = 0; good[i]; i++)
		assert_int_equal(why(&p, good[i], &nobody, 0, NULL), KURA_PW_OK);
	p.min_classes = 1;
	assert_int_equal(why(&p, "password", &nobody, 0, NULL), KURA_PW_DICTIONARY);
	assert_int_equal(why(&p, "sunshine", &nobody, 0, NULL), KURA_PW_DICTIONARY);
	p.dictionary = 0;
	assert_int_equal(why(&p, "password", &nobody, 0, NULL), KURA_PW_OK);
}

static void test_personal(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"xTanaka01!q", "Q9!yamada#z", "T4r0-q9!Zx", "Zq!19800512", "Zq!800512x",
		"Zq!x0512kv", "Zq!x1205kv", "Zq!x1980kv", "1980/05/12-Qx", NULL,
	};
	struct kura_pw_policy p;
	kura_pw_policy_default(&p);
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(why(&p, bad[i], &taro, 0, NULL), KURA_PW_PERSONAL);
	/* The year alone only in short passwords. */
	assert_int_equal(why(&p, "Zq!x1980kvLm#", &taro, 0, NULL), KURA_PW_OK);
	assert_int_equal(why(&p, "Zq!x1980kvLm", &taro, 0, NULL), KURA_PW_PERSONAL);
	/* Personal data is checked without the dictionary too. */
	p.dictionary = 0;
	assert_int_equal(why(&p, "xTanaka01!q", &taro, 0, NULL), KURA_PW_PERSONAL);
	/* Parts under 3 characters are too common to reject. */
	static const struct kura_pw_person shorty = {"ab", "Li Wu", "not-a-date"};
	assert_int_equal(why(&p, "abLiWu7#x9Q", &shorty, 0, NULL), KURA_PW_OK);
	/* A two-kanji family name is enough; U+3000 separates the parts. */
	static const struct kura_pw_person ja = {"u1", "\xe5\xb1\xb1\xe7\x94\xb0\xe3\x80\x80"
						 "\xe5\xa4\xaa\xe9\x83\x8e", ""};
	assert_int_equal(why(&p, "\xe5\xb1\xb1\xe7\x94\xb0x7#Zq9!", &ja, 0, NULL),
			 KURA_PW_PERSONAL);
	assert_int_equal(why(&p, "\xe5\xa4\xaa\xe9\x83\x8ex7#Zq9!", &ja, 0, NULL),
			 KURA_PW_PERSONAL);
	assert_int_equal(why(&p, "\xe5\xb1\xb1x7#Zq9!k", &ja, 0, NULL), KURA_PW_OK);
}

static void test_invalid(void **state)
{
	(void)state;
	struct kura_pw_policy p;
	enum kura_pw_reason reason;
	unsigned age;
	kura_pw_policy_default(&p);
	assert_int_equal(why(&p, "Kq7#xZ2m\xff", &nobody, 0, NULL), KURA_PW_INVALID);
	assert_int_equal(why(&p, "Kq7#xZ2m\xc0\xaf", &nobody, 0, NULL), KURA_PW_INVALID);
	assert_int_equal(why(&p, "Kq7#xZ2m\xe3\x81", &nobody, 0, NULL), KURA_PW_INVALID);
	assert_int_equal(why(&p, "Kq7#\txZ2m", &nobody, 0, NULL), KURA_PW_INVALID);
	assert_int_equal(why(&p, "Kq7#xZ2m\x7f", &nobody, 0, NULL), KURA_PW_INVALID);
	assert_int_equal(why(&p, "Kq7#xZ2m\xc2\x85", &nobody, 0, NULL), KURA_PW_INVALID);
	assert_int_equal(kura_pw_check(&p, "Kq7#x\0Z2m!", 10, &nobody, 0, &reason, &age),
			 KURA_EPOLICY);
	assert_int_equal(reason, KURA_PW_INVALID);
}

static void test_reason_text(void **state)
{
	(void)state;
	for (int r = KURA_PW_OK; r <= KURA_PW_INVALID + 1; r++) {
		const char *en = kura_pw_reason_text((enum kura_pw_reason)r, 0);
		const char *ja = kura_pw_reason_text((enum kura_pw_reason)r, 1);
		assert_non_null(en);
		assert_non_null(ja);
		assert_true(en[0] >= 'a' && en[0] <= 'z');
		assert_int_not_equal(en[strlen(en) - 1], '.');
		assert_null(strchr(en, '\n'));
		assert_true((unsigned char)ja[0] >= 0x80);
	}
}

static void test_history(void **state)
{
	(void)state;
	static const char *const pws[] = {"Old-pass-1x", "Old-pass-2x", "Old-pass-3x",
					  "Old-pass-4x", "Old-pass-5x", "Old-pass-6x"};
	char hashes[6][KURA_PWHASH_STRLEN];
	const char *list[6];
	struct kura_pw_policy p;
	fast(&p);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(kura_pw_hash(&p, pws[i], strlen(pws[i]), hashes[i]), 0);
		list[i] = hashes[i];
	}
	/* Newest first; the caller passes the last p.history of them. */
	for (size_t i = 0; i < p.history; i++)
		assert_int_equal(kura_pw_reused(list, p.history, pws[i], strlen(pws[i])), 1);
	assert_int_equal(kura_pw_reused(list, p.history, pws[5], strlen(pws[5])), 0);
	assert_int_equal(kura_pw_reused(list, 6, pws[5], strlen(pws[5])), 1);
	assert_int_equal(kura_pw_reused(list, p.history, "New-pass-7x", 11), 0);
	assert_int_equal(kura_pw_reused(list, 0, pws[0], strlen(pws[0])), 0);
}

static void test_hash_verify_rehash(void **state)
{
	(void)state;
	char h[KURA_PWHASH_STRLEN];
	struct kura_pw_policy p;
	fast(&p);
	assert_int_equal(kura_pw_hash(&p, "Kq7#xZ2m", 8, h), 0);
	assert_non_null(strstr(h, "$argon2id$"));
	assert_int_equal(kura_pw_verify(h, "Kq7#xZ2m", 8), 0);
	assert_int_equal(kura_pw_verify(h, "Kq7#xZ2n", 8), KURA_EAUTH);
	assert_int_equal(kura_pw_verify(h, "Kq7#xZ2m", 7), KURA_EAUTH);
	assert_int_equal(kura_pw_verify("$argon2id$garbage", "Kq7#xZ2m", 8), KURA_EAUTH);
	assert_int_equal(kura_pw_verify(NULL, "Kq7#xZ2m", 8), KURA_EAUTH);
	assert_int_equal(kura_pw_needs_rehash(&p, h), 0);
	p.ops = 2;
	assert_int_equal(kura_pw_needs_rehash(&p, h), 1);
	fast(&p);
	p.mem_kib = 16 * 1024;
	assert_int_equal(kura_pw_needs_rehash(&p, h), 1);
	assert_int_equal(kura_pw_needs_rehash(&p, "not a hash"), 1);
	assert_int_equal(kura_pw_hash(&p, "x", KURA_MAX_PASSWORD + 1, h), KURA_EINVAL);
}

static void expect_range(const char *key, const char *lo_bad, const char *lo,
			 const char *hi, const char *hi_bad)
{
	struct kura_pw_policy p;
	struct kura_buf b;
	kura_pw_policy_default(&p);
	p.min_len = 8;
	p.long_len = 128;
	assert_int_equal(kura_pw_policy_set(&p, key, lo_bad), KURA_EINVAL);
	assert_int_equal(kura_pw_policy_set(&p, key, hi_bad), KURA_EINVAL);
	assert_int_equal(kura_pw_policy_set(&p, key, lo), 0);
	kura_buf_init(&b, 64);
	assert_int_equal(kura_pw_policy_get(&p, key, &b), 0);
	assert_string_equal((char *)b.data, lo);
	kura_buf_reset(&b);
	assert_int_equal(kura_pw_policy_set(&p, key, hi), 0);
	assert_int_equal(kura_pw_policy_get(&p, key, &b), 0);
	assert_string_equal((char *)b.data, hi);
	kura_buf_release(&b);
}

static void test_policy_set(void **state)
{
	(void)state;
	struct kura_pw_policy p, d;
	expect_range("password.min_length", "7", "8", "128", "129");
	expect_range("password.long_length", "7", "8", "128", "129");
	expect_range("password.min_classes", "0", "1", "3", "4");
	expect_range("password.max_age_days", "-1", "0", "3650", "3651");
	expect_range("password.history", "-1", "0", "24", "25");
	expect_range("password.dictionary", "yes", "off", "on", "1");
	expect_range("password.argon2_ops", "0", "1", "10", "11");
	expect_range("password.argon2_mem_mib", "7", "8", "4096", "4097");
	kura_pw_policy_default(&p);
	d = p;
	assert_int_equal(kura_pw_policy_set(&p, "password.nope", "1"), KURA_ENOTFOUND);
	assert_int_equal(kura_pw_policy_set(&p, NULL, "1"), KURA_ENOTFOUND);
	static const char *const junk[] = {"", " 8", "8 ", "+8", "08", "8x", "0x8",
					   "99999999999", NULL};
	for (size_t i = 0; junk[i]; i++)
		assert_int_equal(kura_pw_policy_set(&p, "password.min_length", junk[i]),
				 KURA_EINVAL);
	assert_int_equal(kura_pw_policy_set(&p, "password.min_length", NULL), KURA_EINVAL);
	assert_memory_equal(&p, &d, sizeof(p));
	/* long_length never falls under min_length. */
	assert_int_equal(kura_pw_policy_set(&p, "password.long_length", "7"), KURA_EINVAL);
	assert_int_equal(kura_pw_policy_set(&p, "password.min_length", "16"), 0);
	assert_int_equal(p.long_len, 16);
	assert_int_equal(kura_pw_policy_set(&p, "password.long_length", "15"), KURA_EINVAL);
	assert_int_equal(kura_pw_policy_set(&p, "password.argon2_mem_mib", "19"), 0);
	assert_int_equal(p.mem_kib, 19 * 1024);
	/* Every listed key can be read and written back. */
	kura_pw_policy_default(&p);
	for (size_t i = 0; kura_pw_policy_keys[i]; i++) {
		struct kura_buf b;
		kura_buf_init(&b, 64);
		assert_int_equal(kura_pw_policy_get(&p, kura_pw_policy_keys[i], &b), 0);
		assert_int_equal(kura_pw_policy_set(&p, kura_pw_policy_keys[i], (char *)b.data), 0);
		kura_buf_release(&b);
	}
	assert_memory_equal(&p, &d, sizeof(p));
	struct kura_buf b;
	kura_buf_init(&b, 64);
	assert_int_equal(kura_pw_policy_get(&p, "password.nope", &b), KURA_ENOTFOUND);
	kura_buf_release(&b);
}

static void test_defaults(void **state)
{
	(void)state;
	struct kura_pw_policy p;
	kura_pw_policy_default(&p);
	assert_int_equal(p.min_len, 8);
	assert_int_equal(p.long_len, 13);
	assert_int_equal(p.min_classes, 3);
	assert_int_equal(p.max_age_days, 60);
	assert_int_equal(p.history, 5);
	assert_int_equal(p.dictionary, 1);
	assert_true(p.mem_kib >= 19 * 1024); /* OWASP's floor */
	assert_true(p.ops >= 2);
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_length_and_expiry),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_dictionary),
		cmocka_unit_test(test_personal),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_reason_text),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_hash_verify_rehash),
		cmocka_unit_test(test_policy_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
