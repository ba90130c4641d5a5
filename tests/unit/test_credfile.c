/* test_credfile.c - the credentials file: the rules of the format, the
 * messages, and the ssh-like file-mode rule. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth/credfile.h"
#include "crypto/crypto.h"
#include "util/err.h"

static int parse(const char *text, struct kura_credentials *c, struct kura_buf *msg)
{
	return kura_credfile_parse((const uint8_t *)text, strlen(text), c, msg);
}

static void test_good(void **state)
{
	(void)state;
	struct kura_credentials c;
	struct kura_buf msg;
	kura_buf_init(&msg, 4096);
	assert_int_equal(parse("# kura credentials\n[kura]\nuser = dr.sato\n"
			       "password = correct horse; battery\n", &c, &msg), 0);
	assert_string_equal(c.user, "dr.sato");
	assert_string_equal(c.password, "correct horse; battery");
	assert_int_equal(c.password_len, 22);
	assert_string_equal(c.certificate, "");
	kura_credentials_release(&c);
	assert_null(c.password);

	assert_int_equal(parse("[kura]\r\nuser=batch-01\r\ncertificate = certs/m.pem\r\n"
			       "; comment\r\nkey = /etc/kura/m.key\r\n", &c, &msg), 0);
	assert_string_equal(c.user, "batch-01");
	assert_null(c.password);
	assert_string_equal(c.certificate, "certs/m.pem");
	assert_string_equal(c.key, "/etc/kura/m.key");
	kura_credentials_release(&c);

	assert_int_equal(parse("[kura]\nuser = a\npassword = パスワード\ncertificate = c\n"
			       "key = k", &c, &msg), 0);
	assert_string_equal(c.password, "パスワード");
	kura_credentials_release(&c);
	assert_int_equal(msg.len, 0);
	kura_buf_release(&msg);
}

struct bad {
	const char *text;
	int err;
	const char *msg; /* a substring of the message */
};

static const struct bad bads[] = {
	{"[kura]\nuser = a\npasword = x\n", KURA_EINVAL, "line 3: unknown key 'pasword'"},
	{"[kura]\nuser = a\nuser = b\npassword = x\n", KURA_EINVAL, "line 3: duplicate key 'user'"},
	{"[kura]\nuser = a\npassword = x\n[other]\nuser = b\n", KURA_EINVAL, "line 5: only section"},
	{"user = a\npassword = x\n", KURA_EINVAL, "line 1: key outside section"},
	{"[kura]\nuser = dr sato\npassword = x\n", KURA_EINVAL, "line 2: user must be"},
	{"[kura]\nuser = \npassword = x\n", KURA_EINVAL, "line 2: user must be"},
	{"[kura]\nuser = a\ncertificate = /c.pem\n", KURA_EINVAL, "'certificate' needs 'key'"},
	{"[kura]\nuser = a\nkey = /k.pem\npassword = x\n", KURA_EINVAL, "'key' without"},
	{"[kura]\nuser = a\n", KURA_EINVAL, "give 'password' or"},
	{"", KURA_EINVAL, "no 'user'"},
	{"# nothing\n", KURA_EINVAL, "no 'user'"},
	{"[kura]\nuser = a\npassword\n", KURA_EINVAL, "line 3: expected 'key = value'"},
	{"[kura]\nuser = a\npassword = x\x01y\n", KURA_EINVAL, "line 3: password is not"},
	{"[kura]\nuser = a\npassword = \xff\xfe\n", KURA_EINVAL, "line 3: password is not"},
	{"[kura]\nuser = a\npassword = \n", KURA_EINVAL, "line 3: empty password"},
	{"[kura]\nuser = a\ncertificate = /c\x1b.pem\nkey = k\n", KURA_EINVAL,
	 "line 3: control character in path"},
	{"[kura]\nuser = a\npassword = x ;y\n", KURA_EINVAL, "line 3: a comment must"},
	{"[kura]\nuser = a\npassword = x # optional\n", KURA_EINVAL, "line 3: a comment must"},
	{"[kura]\nuser = a\npassword = x\n  more\n", KURA_EINVAL, "line 4: a line must not"},
	{"[kura]\nuser = a\n[kura\npassword = x\n", KURA_EINVAL, "line 3: expected"},
};

static void test_bad(void **state)
{
	(void)state;
	struct kura_credentials c;
	struct kura_buf msg;
	kura_buf_init(&msg, 4096);
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		int r = parse(bads[i].text, &c, &msg);
		if (r != bads[i].err || !strstr((const char *)msg.data, bads[i].msg))
			fail_msg("case %zu: got %d '%s'", i, r, msg.data ? (char *)msg.data : "");
		assert_null(c.password);
		assert_string_equal(c.user, "");
	}
	static const char nul[] = "[kura]\nuser = a\npassword = x\0y\n";
	assert_int_equal(kura_credfile_parse((const uint8_t *)nul, sizeof(nul) - 1, &c, &msg),
			 KURA_EINVAL);
	assert_non_null(strstr((char *)msg.data, "line 3: NUL byte"));
	kura_buf_release(&msg);
}

static void test_limits(void **state)
{
	(void)state;
	struct kura_credentials c;
	struct kura_buf msg, text;
	kura_buf_init(&msg, 4096);
	kura_buf_init(&text, 8192);
	/* A password over KURA_MAX_PASSWORD: refused, never echoed. */
	kura_buf_append_str(&text, "[kura]\nuser = a\npassword = ");
	for (unsigned i = 0; i <= KURA_MAX_PASSWORD; i++)
		kura_buf_append_byte(&text, 'S');
	kura_buf_append_str(&text, "\n");
	int r = kura_credfile_parse(text.data, text.len, &c, &msg);
	assert_int_equal(r, KURA_ETOOBIG);
	assert_non_null(strstr((char *)msg.data, "line 3:"));
	assert_null(strstr((char *)msg.data, "SSSS"));
	/* Up to about 185 bytes fit on a line of the system's libinih. */
	kura_buf_reset(&text);
	kura_buf_append_str(&text, "[kura]\nuser = a\npassword = ");
	for (unsigned i = 0; i < 180; i++)
		kura_buf_append_byte(&text, 'p');
	assert_int_equal(kura_credfile_parse(text.data, text.len, &c, &msg), 0);
	assert_int_equal(c.password_len, 180);
	kura_credentials_release(&c);
	/* The secret is never in a message, whatever the problem. */
	assert_int_not_equal(parse("[kura]\nuser = a\npassword = s3cret ;x\n", &c, &msg), 0);
	assert_null(strstr((char *)msg.data, "s3cret"));
	assert_int_equal(kura_credfile_parse(text.data, KURA_MAX_CREDFILE + 1, &c, &msg),
			 KURA_ETOOBIG);
	/* errmsg may be NULL. */
	assert_int_equal(parse("[kura]\n", &c, NULL), KURA_EINVAL);
	kura_buf_release(&text);
	kura_buf_release(&msg);
}

static char dir[] = "/tmp/kura-credfile-XXXXXX";

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_load(void **state)
{
	(void)state;
	char good[128], lax[128], link[128], missing[128];
	struct kura_credentials c;
	struct kura_buf msg;
	kura_buf_init(&msg, 4096);
	assert_non_null(mkdtemp(dir));
	snprintf(good, sizeof(good), "%s/good", dir);
	snprintf(lax, sizeof(lax), "%s/lax", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	const char *text = "[kura]\nuser = dr.sato\npassword = pw\n";
	write_file(good, text, 0600);
	write_file(lax, text, 0644);
	assert_int_equal(symlink(good, link), 0);

	assert_int_equal(kura_credfile_load(good, &c, &msg), 0);
	assert_string_equal(c.password, "pw");
	kura_credentials_release(&c);
	assert_int_equal(kura_credfile_load(lax, &c, &msg), KURA_EPOLICY);
	assert_non_null(strstr((char *)msg.data, "chmod 600"));
	assert_int_equal(kura_credfile_load(link, &c, &msg), KURA_EPOLICY);
	assert_non_null(strstr((char *)msg.data, "symbolic link"));
	assert_int_equal(kura_credfile_load(missing, &c, &msg), KURA_ENOTFOUND);
	assert_int_equal(kura_credfile_load(dir, &c, &msg), KURA_EPOLICY);
	assert_int_equal(chmod(lax, 0640), 0);
	assert_int_equal(kura_credfile_load(lax, &c, &msg), KURA_EPOLICY);
	assert_int_equal(chmod(lax, 0400), 0);
	assert_int_equal(kura_credfile_load(lax, &c, &msg), 0);
	kura_credentials_release(&c);

	unlink(good);
	unlink(lax);
	unlink(link);
	rmdir(dir);
	kura_buf_release(&msg);
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
