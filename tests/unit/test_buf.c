/* test_buf.c - the size-capped buffer and slice cursor. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"

static void test_cap(void **state)
{
	(void)state;
	struct kura_buf b;
	kura_buf_init(&b, 8);
	assert_int_equal(kura_buf_append_str(&b, "12345678"), 0);
	assert_int_equal(kura_buf_append_byte(&b, '9'), KURA_ETOOBIG);
	assert_int_equal(b.len, 8);
	assert_string_equal((char *)b.data, "12345678");
	kura_buf_reset(&b);
	assert_int_equal(kura_buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal((char *)b.data, "42-x");
	assert_int_equal(kura_buf_printf(&b, "%s", "too long!"), KURA_ETOOBIG);
	kura_buf_release(&b);
	kura_buf_release(NULL);
}

static void test_vec_roundtrip(void **state)
{
	(void)state;
	struct kura_buf b;
	struct kura_slice s, v;
	uint64_t n;
	kura_buf_init(&b, 1024);
	assert_int_equal(kura_buf_append_uint(&b, 0x0102, 2), 0);
	assert_int_equal(kura_buf_append_vec(&b, "abc", 3, 1), 0);
	assert_int_equal(kura_buf_append_uint(&b, 256, 1), KURA_ETOOBIG);
	s = kura_buf_slice(&b);
	assert_int_equal(kura_slice_get_uint(&s, 2, &n), 0);
	assert_int_equal(n, 0x0102);
	assert_int_equal(kura_slice_get_vec(&s, 1, &v), 0);
	assert_int_equal(v.len, 3);
	assert_memory_equal(v.ptr, "abc", 3);
	assert_int_equal(s.len, 0);
	assert_int_equal(kura_slice_get_uint(&s, 1, &n), KURA_ECORRUPT);
	/* a length that runs past the end leaves the cursor unchanged */
	struct kura_slice bad = kura_slice_make("\x05" "ab", 3);
	assert_int_equal(kura_slice_get_vec(&bad, 1, &v), KURA_ECORRUPT);
	assert_int_equal(bad.len, 3);
	kura_buf_release(&b);
}

static void test_hex(void **state)
{
	(void)state;
	uint8_t out[2];
	char s[5];
	kura_hex_encode((const uint8_t *)"\xab\x01", 2, s);
	assert_string_equal(s, "ab01");
	assert_int_equal(kura_hex_decode("AB01", out, 2), 0);
	assert_memory_equal(out, "\xab\x01", 2);
	assert_int_equal(kura_hex_decode("ab0", out, 2), KURA_EINVAL);
	assert_int_equal(kura_hex_decode("zz01", out, 2), KURA_EINVAL);
	assert_int_equal(kura_hex_decode(NULL, out, 2), KURA_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_vec_roundtrip),
		cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
