/*
 * test_jspan.c - the JSON scanner (src/fhir/jspan.h): strict checks, agreement
 * with jansson, raw spans, members, string decoding and array iteration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "fhir/jspan.h"
#include "util/buf.h"
#include "util/limits.h"

static struct kura_slice S(const char *s)
{
	return kura_slice_str(s);
}

static int check(const char *s)
{
	return kura_jspan_check(S(s), NULL);
}

/* jansson as kura parses Bundles, plus scalars at the top. */
static int jansson_accepts(const char *s, size_t n)
{
	json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL |
			       JSON_DECODE_ANY, NULL);
	json_decref(j);
	return j != NULL;
}

static const char *const good[] = {
	"{}", "[]", " {\"a\" : [1, -0, 0.5, -1.25e+10, 1E-3, 7.20, true, false, null]} \r\n",
	"\"\"", "0", "-0.0e0", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u5c71\\ud83d\\ude00\"",
	"\"山田太郎\"", "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"",
	"{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3,\"b\":4}]}", "{\"a\":1,\"A\":2,\"a \":3,\"\":4}",
	"{\"1\":1,\"2\":1,\"3\":1,\"4\":1,\"5\":1,\"6\":1,\"7\":1,\"8\":1,\"9\":1,\"10\":1,\"11\":1}",
	"12345678901234567890", "[[[[[]]]]]", "{\"\\u0061\":1,\"b\":2}", "\"\x7f\"",
};

static const char *const bad[] = {
	"", " ", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{1:1}", "[1 2]",
	"01", "1.", ".5", "-", "+1", "1e", "1e+", "0x1", "NaN", "Infinity", "tru", "nul", "True",
	"\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"a\tb\"", "\"a\nb\"", "'a'",
	"\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"",
	"\"\x80\"", "\"\xc0\x80\"", "\"\xc1\xbf\"", "\"\xe0\x80\x80\"", "\"\xed\xa0\x80\"",
	"\"\xf0\x80\x80\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xff\"",
	"\"\xe5\xb1\"", "\"\xc3\"", "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}",
	"{\"x\":{\"a\":1,\"b\":2,\"a\":3}}",
	"{\"1\":1,\"2\":1,\"3\":1,\"4\":1,\"5\":1,\"6\":1,\"7\":1,\"8\":1,\"9\":1,\"10\":1,\"3\":1}",
	"{} {}", "[] x", "\xef\xbb\xbf{}", "[1]\n[2]", "{\"a\":1}}",
};

static void test_check_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (check(good[i]) != 0)
			fail_msg("refused good[%zu] '%s'", i, good[i]);
		assert_true(jansson_accepts(good[i], strlen(good[i])));
	}
}

static void test_check_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct kura_jspan_error e = {999, NULL};
		if (kura_jspan_check(S(bad[i]), &e) != KURA_EINVAL)
			fail_msg("accepted bad[%zu] '%s'", i, bad[i]);
		assert_non_null(e.what);
		assert_true(e.offset <= strlen(bad[i]));
		/* The check is as strict as jansson, which kura trusts for Bundles. */
		if (jansson_accepts(bad[i], strlen(bad[i])))
			fail_msg("jansson accepts bad[%zu] '%s'", i, bad[i]);
	}
	/* A NUL byte is no JSON, inside a string or out. */
	assert_int_equal(kura_jspan_check(kura_slice_make("\"a\0\"", 4), NULL), KURA_EINVAL);
	assert_int_equal(kura_jspan_check(kura_slice_make("[1]\0", 4), NULL), KURA_EINVAL);
}

static void test_check_messages(void **state)
{
	(void)state;
	struct kura_jspan_error e;
	assert_int_equal(kura_jspan_check(S("{\"a\":1,\"b\":2,\"a\":3}"), &e), KURA_EINVAL);
	assert_string_equal(e.what, "repeated name in an object");
	assert_int_equal(e.offset, 13);
	assert_int_equal(kura_jspan_check(S("[\"ok\", \"\xc3\x28\"]"), &e), KURA_EINVAL);
	assert_string_equal(e.what, "invalid utf-8");
	assert_int_equal(e.offset, 8);
	assert_int_equal(kura_jspan_check(S("{} x"), &e), KURA_EINVAL);
	assert_string_equal(e.what, "text after the json value");
	assert_int_equal(e.offset, 3);
}

static void nested(struct kura_buf *b, size_t n, char open, char close)
{
	kura_buf_init(b, 1 << 20);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(kura_buf_append_byte(b, (uint8_t)open), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(kura_buf_append_byte(b, (uint8_t)close), 0);
}

static void test_depth(void **state)
{
	(void)state;
	struct kura_buf b;
	struct kura_slice v;
	nested(&b, KURA_MAX_JSON_DEPTH, '[', ']');
	assert_int_equal(kura_jspan_check(kura_buf_slice(&b), NULL), 0);
	struct kura_slice cur = kura_buf_slice(&b);
	assert_int_equal(kura_jspan_value(&cur, &v), 0);
	kura_buf_release(&b);
	nested(&b, KURA_MAX_JSON_DEPTH + 1, '[', ']');
	assert_int_equal(kura_jspan_check(kura_buf_slice(&b), NULL), KURA_ETOOBIG);
	cur = kura_buf_slice(&b);
	assert_int_equal(kura_jspan_value(&cur, &v), KURA_ETOOBIG);
	kura_buf_release(&b);
	/* Deep enough to overflow the stack if depth were not counted. */
	nested(&b, 500000, '[', ']');
	assert_int_equal(kura_jspan_check(kura_buf_slice(&b), NULL), KURA_ETOOBIG);
	kura_buf_release(&b);
	kura_buf_init(&b, 1 << 20);
	for (size_t i = 0; i < KURA_MAX_JSON_DEPTH + 1; i++)
		assert_int_equal(kura_buf_append_str(&b, "{\"a\":"), 0);
	assert_int_equal(kura_jspan_check(kura_buf_slice(&b), NULL), KURA_ETOOBIG);
	assert_int_equal(kura_jspan_member(kura_buf_slice(&b), "a", &v), KURA_ETOOBIG);
	kura_buf_release(&b);
}

static void assert_span(struct kura_slice v, const char *want)
{
	assert_int_equal(v.len, strlen(want));
	assert_memory_equal(v.ptr, want, v.len);
}

static void test_value(void **state)
{
	(void)state;
	struct kura_slice cur = S("  {\"v\": 7.20 }\n {\"w\":1e3}"), v;
	assert_int_equal(kura_jspan_value(&cur, &v), 0);
	assert_span(v, "{\"v\": 7.20 }");
	assert_int_equal(kura_jspan_value(&cur, &v), 0);
	assert_span(v, "{\"w\":1e3}");
	assert_int_equal(cur.len, 0);
	assert_int_equal(kura_jspan_value(&cur, &v), KURA_EINVAL);
	assert_null(v.ptr);
	cur = S("[1, 2");
	assert_int_equal(kura_jspan_value(&cur, &v), KURA_EINVAL);
	assert_int_equal(cur.len, 5); /* unchanged on error */
	assert_true(kura_jspan_is_blank(S(" \t\r\n")));
	assert_true(kura_jspan_is_blank(S("")));
	assert_false(kura_jspan_is_blank(S(" x")));
}

static void test_member(void **state)
{
	(void)state;
	const char *doc = " {\"a\": {\"content\": 1}, \"content\" : {\"value\": 7.20, \"x\": [1e3]} ,"
			  " \"z\": \"\\u5c71\"} ";
	struct kura_slice v;
	assert_int_equal(kura_jspan_member(S(doc), "content", &v), 0);
	assert_span(v, "{\"value\": 7.20, \"x\": [1e3]}");
	assert_int_equal(kura_jspan_member(S(doc), "z", &v), 0);
	assert_span(v, "\"\\u5c71\"");
	assert_int_equal(kura_jspan_member(S(doc), "value", &v), KURA_ENOTFOUND);
	assert_null(v.ptr);
	assert_int_equal(kura_jspan_member(S("{\"\\u0063ontent\":[]}"), "content", &v), 0);
	assert_span(v, "[]");
	assert_int_equal(kura_jspan_member(S("{\"\\u5c71\\u7530\":1}"), "山田", &v), 0);
	assert_int_equal(kura_jspan_member(S("{\"\\ud83d\\ude00\":1}"), "\xf0\x9f\x98\x80", &v), 0);
	assert_int_equal(kura_jspan_member(S("{\"a\\u0000\":1}"), "a", &v), KURA_ENOTFOUND);
	assert_int_equal(kura_jspan_member(S("{\"ab\":1}"), "a", &v), KURA_ENOTFOUND);
	assert_int_equal(kura_jspan_member(S("{\"a\":1}"), "ab", &v), KURA_ENOTFOUND);
	assert_int_equal(kura_jspan_member(S("{\"a\":1,\"\\u0061\":2}"), "a", &v), KURA_EINVAL);
	assert_int_equal(kura_jspan_member(S("[1]"), "a", &v), KURA_EINVAL);
	assert_int_equal(kura_jspan_member(S("{\"a\":1} x"), "a", &v), KURA_EINVAL);
	assert_int_equal(kura_jspan_member(S("{\"a\":1"), "a", &v), KURA_EINVAL);
	assert_int_equal(kura_jspan_member(S(""), "a", &v), KURA_EINVAL);
}

static void test_members(void **state)
{
	(void)state;
	static const char *const keys[] = {"patient", "type", "content"};
	struct kura_slice v[3], unknown;
	assert_int_equal(kura_jspan_members(S("{\"type\":\"T\",\"extra\":0,\"patient\":\"P\","
		"\"more\":1}"), keys, 3, v, &unknown), 0);
	assert_span(v[0], "\"P\"");
	assert_span(v[1], "\"T\"");
	assert_null(v[2].ptr);
	assert_span(unknown, "\"extra\"");
	assert_int_equal(kura_jspan_members(S("{}"), keys, 3, v, &unknown), 0);
	assert_null(unknown.ptr);
	assert_int_equal(kura_jspan_members(S("{\"type\":1,\"type\":2}"), keys, 3, v, NULL),
			 KURA_EINVAL);
	assert_null(v[1].ptr);
}

static void test_string(void **state)
{
	(void)state;
	uint8_t out[64];
	size_t n;
	assert_int_equal(kura_jspan_string(S("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"
		"山\""), out, sizeof out, &n), 0);
	assert_int_equal(n, strlen("a\"b\\c/d\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80山"));
	assert_memory_equal(out, "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80山", n);
	assert_int_equal(kura_jspan_string(S("\"\""), out, 0, &n), 0);
	assert_int_equal(n, 0);
	/* Too long: a prefix of whole characters. */
	assert_int_equal(kura_jspan_string(S("\"ab山田\""), out, 4, &n), KURA_ETOOBIG);
	assert_int_equal(n, 2);
	assert_int_equal(kura_jspan_string(S("\"ab\\u5c71\""), out, 4, &n), KURA_ETOOBIG);
	assert_int_equal(n, 2);
	assert_int_equal(kura_jspan_string(S("\"abc\""), out, 3, &n), 0);
	assert_int_equal(kura_jspan_string(S("\"\\ud800\""), out, sizeof out, &n), KURA_EINVAL);
	assert_int_equal(kura_jspan_string(S("\"a\" "), out, sizeof out, &n), KURA_EINVAL);
	assert_int_equal(kura_jspan_string(S("1"), out, sizeof out, &n), KURA_EINVAL);
	assert_int_equal(kura_jspan_string(S("\"a"), out, sizeof out, &n), KURA_EINVAL);
	assert_int_equal(kura_jspan_string(S(""), out, sizeof out, &n), KURA_EINVAL);
}

static void test_array(void **state)
{
	(void)state;
	struct kura_jspan_iter it;
	struct kura_slice e;
	assert_int_equal(kura_jspan_array_begin(S(" [ {\"a\":7.20} , \"x\",[ ],1e3 ] \n"), &it), 0);
	assert_int_equal(kura_jspan_array_next(&it, &e), 1);
	assert_span(e, "{\"a\":7.20}");
	assert_int_equal(kura_jspan_array_next(&it, &e), 1);
	assert_span(e, "\"x\"");
	assert_int_equal(kura_jspan_array_next(&it, &e), 1);
	assert_span(e, "[ ]");
	assert_int_equal(kura_jspan_array_next(&it, &e), 1);
	assert_span(e, "1e3");
	assert_int_equal(kura_jspan_array_next(&it, &e), 0);
	assert_int_equal(kura_jspan_array_next(&it, &e), 0);
	assert_int_equal(it.index, 4);
	assert_int_equal(kura_jspan_array_begin(S("[]"), &it), 0);
	assert_int_equal(kura_jspan_array_next(&it, &e), 0);
	assert_int_equal(kura_jspan_array_begin(S("{}"), &it), KURA_EINVAL);
	assert_int_equal(kura_jspan_array_next(&it, &e), KURA_EINVAL);
	static const char *const broken[] = {"[1,]", "[,1]", "[1 2]", "[1", "[1] x", "[1,"};
	for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
		int r;
		assert_int_equal(kura_jspan_array_begin(S(broken[i]), &it), 0);
		while ((r = kura_jspan_array_next(&it, &e)) == 1)
			;
		assert_int_equal(r, KURA_EINVAL);
		assert_int_equal(kura_jspan_array_next(&it, &e), KURA_EINVAL);
	}
}

/* kura_jspan_check() and jansson agree on text.  jansson 2.14 skips a NUL
 * byte after a number ("[0\0]" passes), so texts with NUL are only checked
 * to be refused. */
static void agree(const char *s, size_t n)
{
	int ours = kura_jspan_check(kura_slice_make(s, n), NULL) == 0;
	if (memchr(s, 0, n))
		assert_false(ours);
	else if (ours != jansson_accepts(s, n))
		fail_msg("disagree on %zu bytes '%.*s'", n, (int)n, s);
}

/* Every 1- and 2-byte text, and all 3-byte texts of JSON's own characters. */
static void test_agrees_with_jansson(void **state)
{
	(void)state;
	static const char alpha[] = "{}[]\":,0123456789-+.eEtrufalsn \\u\x80\xc3\xa9";
	char s[3];
	size_t na = sizeof alpha - 1;
	for (int c = 0; c < 256 * 256; c++) {
		s[0] = (char)(c >> 8);
		s[1] = (char)c;
		agree(s + 1, 1);
		agree(s, 2);
	}
	for (size_t i = 0; i < na * na * na; i++) {
		s[0] = alpha[i / (na * na)];
		s[1] = alpha[i / na % na];
		s[2] = alpha[i % na];
		agree(s, 3);
	}
}

/* Reasons and other one-line text in leaves (review finding M5). */
static void test_utf8_text_valid(void **state)
{
	(void)state;
	assert_true(kura_utf8_text_valid(""));
	assert_true(kura_utf8_text_valid("unit corrected"));
	assert_true(kura_utf8_text_valid("検査値の訂正"));
	assert_false(kura_utf8_text_valid("bad\xff"));
	assert_false(kura_utf8_text_valid("\xc0\xaf"));         /* overlong '/' */
	assert_false(kura_utf8_text_valid("\xed\xa0\x80"));     /* a surrogate */
	assert_false(kura_utf8_text_valid("\xe6\xa4"));         /* cut short */
	assert_false(kura_utf8_text_valid("two\nlines"));
	assert_false(kura_utf8_text_valid("esc\x1b[31m"));
	assert_false(kura_utf8_text_valid("del\x7f"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_text_valid),
		cmocka_unit_test(test_check_good),
		cmocka_unit_test(test_check_bad),
		cmocka_unit_test(test_check_messages),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_value),
		cmocka_unit_test(test_member),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_array),
		cmocka_unit_test(test_agrees_with_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
