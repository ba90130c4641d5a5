/*
 * test_totp.c - second factors (AU-12, AU-13): HOTP/TOTP against the RFC
 * vectors and the real oathtool, the verification window and replay rule,
 * base32, the key URI, recovery codes and the terminal QR code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth/qr.h"
#include "auth/totp.h"
#include "crypto/crypto.h"
#include "util/err.h"

/* The RFC 4226 / RFC 6238 SHA-1 seed, and its base32 form. */
static const uint8_t rfc_secret[] = "12345678901234567890";
#define RFC_SECRET_LEN 20
#define RFC_SECRET_B32 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

/* Open KURA_TEST_DATA/totp/<name>. */
static FILE *open_data(const char *name)
{
	const char *dir = getenv("KURA_TEST_DATA");
	char path[4096];
	assert_non_null(dir);
	assert_true(snprintf(path, sizeof(path), "%s/totp/%s", dir, name) <
		    (int)sizeof(path));
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open test data '%s'", path);
	return f;
}

/* The next data line (not a comment, not the header starting with hdr), or
 * NULL at the end. */
static char *next_row(FILE *f, char *line, size_t n, const char *hdr)
{
	while (fgets(line, (int)n, f)) {
		if (line[0] == '#' || line[0] == '\n' ||
		    strncmp(line, hdr, strlen(hdr)) == 0)
			continue;
		return line;
	}
	return NULL;
}

/* The field-th comma-separated field of line as an unsigned number. */
static uint64_t field_u64(const char *line, int field)
{
	const char *p = line;
	for (int i = 0; i < field; i++) {
		p = strchr(p, ',');
		assert_non_null(p);
		p++;
	}
	char *end;
	unsigned long long v = strtoull(p, &end, 10);
	assert_true(end != p && (*end == ',' || *end == '\n' || *end == '\0'));
	return v;
}

/* RFC 4226 Appendix D: HOTP, 6 digits, counters 0..9. */
static void test_rfc4226(void **state)
{
	(void)state;
	char line[256];
	int rows = 0;
	FILE *f = open_data("rfc4226_appendix_d.csv");
	while (next_row(f, line, sizeof(line), "counter,")) {
		uint32_t code;
		assert_int_equal(kura_hotp(rfc_secret, RFC_SECRET_LEN, field_u64(line, 0),
					   6, &code),
				 0);
		assert_int_equal(code, field_u64(line, 1));
		rows++;
	}
	fclose(f);
	assert_int_equal(rows, 10);
}

/* RFC 6238 Appendix B: TOTP-SHA-1, 30 s, 8 digits (column 3 of the file). */
static void test_rfc6238(void **state)
{
	(void)state;
	char line[256];
	int rows = 0;
	FILE *f = open_data("rfc6238_appendix_b.csv");
	while (next_row(f, line, sizeof(line), "unix_time,")) {
		uint32_t code;
		int64_t t = (int64_t)field_u64(line, 0);
		assert_int_equal(kura_totp_at(rfc_secret, RFC_SECRET_LEN, t, 30, 8,
					      &code),
				 0);
		assert_int_equal(code, field_u64(line, 3));
		rows++;
	}
	fclose(f);
	assert_int_equal(rows, 6);
}

static void test_bad_args(void **state)
{
	(void)state;
	uint32_t code = 1;
	assert_int_equal(kura_hotp(rfc_secret, RFC_SECRET_LEN, 0, 5, &code), KURA_EINVAL);
	assert_int_equal(code, 0);
	assert_int_equal(kura_hotp(rfc_secret, RFC_SECRET_LEN, 0, 9, &code), KURA_EINVAL);
	assert_int_equal(kura_hotp(rfc_secret, 0, 0, 6, &code), KURA_EINVAL);
	assert_int_equal(kura_hotp(NULL, 20, 0, 6, &code), KURA_EINVAL);
	assert_int_equal(kura_hotp(rfc_secret, KURA_TOTP_MAX_SECRET + 1, 0, 6, &code),
			 KURA_EINVAL);
	assert_int_equal(kura_totp_at(rfc_secret, RFC_SECRET_LEN, -1, 30, 6, &code),
			 KURA_EINVAL);
	assert_int_equal(kura_totp_at(rfc_secret, RFC_SECRET_LEN, 59, 0, 6, &code),
			 KURA_EINVAL);
	assert_int_equal(kura_hotp(rfc_secret, RFC_SECRET_LEN, 1, 7, &code), 0);
	assert_int_equal(code, 4287082); /* 94287082 of RFC 6238 at T=1, cut to 7 */
}

static void code_at(int64_t t, char out[8])
{
	uint32_t c;
	assert_int_equal(kura_totp_at(rfc_secret, RFC_SECRET_LEN, t, KURA_TOTP_PERIOD,
				      KURA_TOTP_DIGITS, &c),
			 0);
	assert_true(snprintf(out, 8, "%06u", (unsigned)c) == 6);
}

/* AU-12: one step of clock drift either way is accepted, two are not. */
static void test_window(void **state)
{
	(void)state;
	const int64_t now = 1234567890, step = now / KURA_TOTP_PERIOD;
	char code[8];
	int64_t got;
	for (int d = -1; d <= 1; d++) {
		code_at(now + d * KURA_TOTP_PERIOD, code);
		assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, code, now,
						  -1, &got),
				 0);
		assert_int_equal(got, step + d);
	}
	for (int d = -2; d <= 2; d += 4) {
		code_at(now + d * KURA_TOTP_PERIOD, code);
		assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, code, now,
						  -1, &got),
				 KURA_EAUTH);
		assert_int_equal(got, -1);
	}
	/* Near the epoch there is no step -1 to look at. */
	code_at(0, code);
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, code, 5, -1, &got),
			 0);
	assert_int_equal(got, 0);
}

/* Each code is accepted once: a step at or before last_step never is. */
static void test_replay(void **state)
{
	(void)state;
	const int64_t now = 2000000000;
	char cur[8], prev[8], next[8];
	int64_t s1, s2;
	code_at(now, cur);
	code_at(now - KURA_TOTP_PERIOD, prev);
	code_at(now + KURA_TOTP_PERIOD, next);
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, cur, now, -1, &s1),
			 0);
	assert_int_equal(s1, now / KURA_TOTP_PERIOD);
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, cur, now, s1, &s2),
			 KURA_EAUTH);
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, cur, now + 10, s1,
					  &s2),
			 KURA_EAUTH);
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, prev, now, s1, &s2),
			 KURA_EAUTH);
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, next, now, s1, &s2),
			 0);
	assert_int_equal(s2, s1 + 1);
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, next, now, s2, &s2),
			 KURA_EAUTH);
}

static void test_code_format(void **state)
{
	(void)state;
	static const char *const bad[] = {"",
					  "12345",
					  "1234567",
					  "12a456",
					  " 123456",
					  "123456 ",
					  "123456\n",
					  "-12345",
					  "+12345",
					  "１２３４５６",
					  "12345\x00"
					  "6"};
	const int64_t now = 1111111109;
	char code[8], wrong[8];
	int64_t got = 7;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, bad[i], now,
						  -1, &got),
				 KURA_EINVAL);
		assert_int_equal(got, -1);
	}
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, NULL, now, -1,
					  &got),
			 KURA_EINVAL);
	code_at(now, code);
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, code, -1, -1, &got),
			 KURA_EINVAL);
	assert_int_equal(kura_totp_verify(rfc_secret, 0, code, now, -1, &got),
			 KURA_EINVAL);
	memcpy(wrong, code, sizeof(wrong));
	wrong[5] = (char)(wrong[5] == '9' ? '0' : wrong[5] + 1);
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, wrong, now, -1,
					  &got),
			 KURA_EAUTH);
	assert_int_equal(kura_totp_verify(rfc_secret, RFC_SECRET_LEN, code, now, -1,
					  &got),
			 0);
}

static void b32_enc(const char *in, const char *want)
{
	struct kura_buf b;
	kura_buf_init(&b, 1024);
	assert_int_equal(kura_base32_encode((const uint8_t *)in, strlen(in), &b), 0);
	assert_string_equal(b.data, want);
	kura_buf_release(&b);
}

static void b32_dec(const char *in, const char *want)
{
	uint8_t out[64];
	size_t n = 99;
	assert_int_equal(kura_base32_decode(in, out, sizeof(out), &n), 0);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
}

/* RFC 4648 section 10, without padding on output, with or without it on
 * input. */
static void test_base32_vectors(void **state)
{
	(void)state;
	static const char *const v[][3] = {
		{"", "", ""},
		{"f", "MY", "MY======"},
		{"fo", "MZXQ", "MZXQ===="},
		{"foo", "MZXW6", "MZXW6==="},
		{"foob", "MZXW6YQ", "MZXW6YQ="},
		{"fooba", "MZXW6YTB", "MZXW6YTB"},
		{"foobar", "MZXW6YTBOI", "MZXW6YTBOI======"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		b32_enc(v[i][0], v[i][1]);
		b32_dec(v[i][1], v[i][0]);
		b32_dec(v[i][2], v[i][0]);
	}
	b32_dec("mzxw6ytboi", "foobar");
	b32_dec("MZXW 6YTB OI== ====", "foobar");
	b32_dec(RFC_SECRET_B32, (const char *)rfc_secret);
	b32_enc((const char *)rfc_secret, RFC_SECRET_B32);
}

static void test_base32_reject(void **state)
{
	(void)state;
	static const char *const bad[] =
		{"M",	      "MZX",	   "MZXW6Y",	   "MY=",	"MY=======",
		 "MZXW6YTB=", "MY======A", "M1",	   "MZ8Q",	"MZXQ\t",
		 "MZ-XQ",     "=",	   "MZXQ====MZXQ", "MY\xc3\xa9"};
	uint8_t out[16];
	size_t n;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 0xaa, sizeof(out));
		n = 99;
		assert_int_equal(kura_base32_decode(bad[i], out, sizeof(out), &n),
				 KURA_EINVAL);
		assert_int_equal(n, 0);
		for (size_t j = 0; j < sizeof(out); j++)
			assert_int_equal(out[j], 0); /* wiped */
	}
	assert_int_equal(kura_base32_decode("MZXW6YTBOI", out, 5, &n), KURA_ETOOBIG);
	assert_int_equal(kura_base32_decode("MZXW6YTBOI", out, 6, &n), 0);
	assert_int_equal(n, 6);
}

static void test_base32_roundtrip(void **state)
{
	(void)state;
	uint8_t in[64], back[64];
	struct kura_buf b;
	kura_buf_init(&b, 1024);
	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t n;
		assert_int_equal(kura_random(in, sizeof(in)), 0);
		kura_buf_reset(&b);
		assert_int_equal(kura_base32_encode(in, len, &b), 0);
		assert_int_equal(b.len, (8 * len + 4) / 5);
		assert_int_equal(kura_base32_decode((char *)b.data, back, sizeof(back),
						    &n),
				 0);
		assert_int_equal(n, len);
		assert_memory_equal(in, back, len);
	}
	kura_buf_release(&b);
	kura_buf_init(&b, 4);
	assert_int_equal(kura_base32_encode(in, 5, &b), KURA_ETOOBIG);
	kura_buf_release(&b);
}

static void test_uri(void **state)
{
	(void)state;
	struct kura_buf b;
	char longname[KURA_TOTP_MAX_LABEL + 2];
	kura_buf_init(&b, 4096);
	assert_int_equal(kura_totp_uri("Kura Hospital", "dr.sato@example.jp", rfc_secret,
				       RFC_SECRET_LEN, &b),
			 0);
	assert_string_equal(b.data, "otpauth://totp/Kura%20Hospital:dr.sato%40example.jp"
				    "?secret=" RFC_SECRET_B32 "&issuer=Kura%20Hospital"
				    "&algorithm=SHA1&digits=6&period=30");
	kura_buf_reset(&b);
	assert_int_equal(kura_totp_uri("病院", "a_b-c~d", rfc_secret, 10, &b), 0);
	assert_string_equal(b.data,
			    "otpauth://totp/%E7%97%85%E9%99%A2:a_b-c~d?secret=GEZDGNBVGY3TQOJQ"
			    "&issuer=%E7%97%85%E9%99%A2&algorithm=SHA1&digits=6&period=30");
	kura_buf_reset(&b);
	assert_int_equal(kura_totp_uri("Kura:X", "sato", rfc_secret, 20, &b),
			 KURA_EINVAL);
	assert_int_equal(kura_totp_uri("Kura", "a:b", rfc_secret, 20, &b), KURA_EINVAL);
	assert_int_equal(kura_totp_uri("", "sato", rfc_secret, 20, &b), KURA_EINVAL);
	assert_int_equal(kura_totp_uri("Kura", "sa\nto", rfc_secret, 20, &b),
			 KURA_EINVAL);
	assert_int_equal(kura_totp_uri("Kura", "\xff", rfc_secret, 20, &b), KURA_EINVAL);
	assert_int_equal(kura_totp_uri("Kura", "sato", rfc_secret, 0, &b), KURA_EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(kura_totp_uri("Kura", longname, rfc_secret, 20, &b),
			 KURA_ETOOBIG);
	assert_int_equal(b.len, 0);
	kura_buf_release(&b);
	/* Out of room half way: the buffer is left as it was. */
	kura_buf_init(&b, 60);
	assert_int_equal(kura_buf_append_str(&b, "x"), 0);
	assert_int_equal(kura_totp_uri("Kura", "sato", rfc_secret, 20, &b), KURA_ETOOBIG);
	assert_int_equal(b.len, 1);
	assert_string_equal(b.data, "x");
	kura_buf_release_secret(&b);
}

static int is_b32_lower(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

static void check_recovery_text(const char *s)
{
	char norm[KURA_RECOVERY_CHARS + 1];
	size_t k = 0;
	assert_int_equal(strlen(s), KURA_RECOVERY_TEXT_LEN);
	for (size_t j = 0; j < KURA_RECOVERY_TEXT_LEN; j++) {
		if (j % 5 == 4)
			assert_int_equal(s[j], '-');
		else
			assert_true(is_b32_lower(s[j]));
	}
	assert_int_equal(kura_recovery_normalize(s, norm), 0);
	for (size_t j = 0; j < KURA_RECOVERY_TEXT_LEN; j++)
		if (s[j] != '-')
			assert_int_equal(norm[k++], s[j]);
	assert_int_equal(k, KURA_RECOVERY_CHARS);
	assert_int_equal(norm[KURA_RECOVERY_CHARS], '\0');
}

/* AU-12: recovery codes, 80 random bits each, shown xxxx-xxxx-xxxx-xxxx. */
static void test_recovery(void **state)
{
	(void)state;
	char codes[KURA_RECOVERY_CODES][KURA_RECOVERY_TEXT_LEN + 1];
	assert_int_equal(kura_recovery_generate(codes, KURA_RECOVERY_CODES), 0);
	for (size_t i = 0; i < KURA_RECOVERY_CODES; i++) {
		check_recovery_text(codes[i]);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(codes[i], codes[j]);
	}
	assert_int_equal(kura_recovery_generate(codes, 0), KURA_EINVAL);
	kura_wipe(codes, sizeof(codes));
}

static void test_recovery_normalize(void **state)
{
	(void)state;
	static const char *const bad[] = {"",
					  "abcd-efgh-ijkl-mno",
					  "abcd-efgh-ijkl-mnopq",
					  "abcd-efgh-ijkl-mno0",
					  "abcd-efgh-ijkl-mno1",
					  "abcd-efgh-ijkl-mno8",
					  "abcd_efgh_ijkl_mnop",
					  "abcd-efgh-ijkl-mnop\n",
					  "abcd-efgh-ijkl-mnöp"};
	char out[KURA_RECOVERY_CHARS + 1];
	assert_int_equal(kura_recovery_normalize(" ABCD-efgh ijkl--MNOP ", out), 0);
	assert_string_equal(out, "abcdefghijklmnop");
	assert_int_equal(kura_recovery_normalize("wxyz2345 67ab cdef", out), 0);
	assert_string_equal(out, "wxyz234567abcdef");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(kura_recovery_normalize(bad[i], out), KURA_EINVAL);
		assert_string_equal(out, "");
	}
	assert_int_equal(kura_recovery_normalize(NULL, out), KURA_EINVAL);
}

/* Split the drawing into lines and check each is width characters from the
 * allowed set; returns the number of lines. */
static size_t qr_lines(const char *s, size_t *ret_width)
{
	size_t lines = 0, w = 0;
	*ret_width = 0;
	while (*s) {
		if (*s == '\n') {
			assert_true(lines == 0 || w == *ret_width);
			*ret_width = w;
			w = 0;
			lines++;
			s++;
		} else if (*s == ' ') {
			w++;
			s++;
		} else {
			assert_true(strncmp(s, "█", 3) == 0 || strncmp(s, "▀", 3) == 0 ||
				    strncmp(s, "▄", 3) == 0);
			w++;
			s += 3;
		}
	}
	assert_int_equal(w, 0); /* ends with a newline */
	return lines;
}

static void test_qr(void **state)
{
	(void)state;
	struct kura_buf b, inv;
	size_t w, wi;
	char big[KURA_QR_MAX_TEXT + 2];
	kura_buf_init(&b, 1u << 20);
	kura_buf_init(&inv, 1u << 20);
	const char *uri = "otpauth://totp/Kura:sato?secret=" RFC_SECRET_B32
			  "&issuer=Kura&algorithm=SHA1&digits=6&period=30";
	assert_int_equal(kura_qr_text(uri, 0, &b), 0);
	assert_int_equal(kura_qr_text(uri, 1, &inv), 0);
	size_t lines = qr_lines((char *)b.data, &w);
	/* Square: width modules = 2 * lines - 1 (one half row of margin). */
	assert_true(lines > 10);
	assert_int_equal(w, 2 * lines - 1);
	assert_true((w - 8 - 17) % 4 == 0); /* 17 + 4 * version, plus 2 * 4 quiet */
	assert_int_equal(qr_lines((char *)inv.data, &wi), lines);
	assert_int_equal(wi, w);
	/* The first two rows are quiet zone: all light. */
	for (size_t i = 0; i < w; i++) {
		assert_int_equal(b.data[i], ' ');
		assert_memory_equal(inv.data + 3 * i, "█", 3);
	}
	assert_true(strstr((char *)b.data, "█") != NULL);
	kura_buf_reset(&b);
	assert_int_equal(kura_qr_text("", 0, &b), KURA_EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(kura_qr_text(big, 0, &b), KURA_ETOOBIG);
	big[KURA_QR_MAX_TEXT] = '\0';
	assert_int_equal(kura_qr_text(big, 0, &b), 0);
	kura_buf_release(&b);
	kura_buf_release(&inv);
	/* Out of room: the buffer is left as it was. */
	kura_buf_init(&b, 100);
	assert_int_equal(kura_qr_text(uri, 0, &b), KURA_ETOOBIG);
	assert_int_equal(b.len, 0);
	kura_buf_release(&b);
}

/* The code oathtool prints for secret (base32) at unix time t, or -1. */
static long oathtool_at(const char *secret_b32, time_t t)
{
	struct tm tm;
	char when[64], cmd[256], out[32] = "";
	assert_non_null(gmtime_r(&t, &tm));
	assert_true(strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) > 0);
	assert_true(snprintf(cmd, sizeof(cmd), "oathtool --totp -b -d 6 --now \"%s\" %s",
			     when, secret_b32) < (int)sizeof(cmd));
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char *got = fgets(out, sizeof(out), p);
	int status = pclose(p);
	if (!got || status != 0)
		return -1;
	char *end;
	long v = strtol(out, &end, 10);
	assert_true(end - out == 6 && *end == '\n');
	return v;
}

static int have_oathtool(void)
{
	const char *path = getenv("PATH");
	char dir[4096];
	while (path && *path) {
		size_t n = strcspn(path, ":");
		if (n > 0 && n < sizeof(dir) - 10) {
			memcpy(dir, path, n);
			memcpy(dir + n, "/oathtool", 10);
			if (access(dir, X_OK) == 0)
				return 1;
		}
		path += n + (path[n] == ':');
	}
	return 0;
}

/* The codes phone apps would show are what oathtool (liboath) computes. */
static void test_oathtool(void **state)
{
	(void)state;
	static const time_t times[] = {59,	   1111111109, 1234567890, 1700000000,
				       1795844455, 2000000000, 4102444800};
	uint8_t secret[KURA_TOTP_SECRET_LEN];
	struct kura_buf b32;
	if (!have_oathtool()) {
		print_message("# oathtool not found in PATH: comparison skipped "
			      "(apt-get install oathtool)\n");
		skip();
	}
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(0xa5 ^ (i * 37));
	kura_buf_init(&b32, 256);
	assert_int_equal(kura_base32_encode(secret, sizeof(secret), &b32), 0);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		uint32_t a, c;
		assert_int_equal(kura_totp_at(rfc_secret, RFC_SECRET_LEN, times[i], 30, 6,
					      &a),
				 0);
		assert_int_equal(oathtool_at(RFC_SECRET_B32, times[i]), a);
		assert_int_equal(kura_totp_at(secret, sizeof(secret), times[i], 30, 6,
					      &c),
				 0);
		assert_int_equal(oathtool_at((char *)b32.data, times[i]), c);
	}
	kura_buf_release(&b32);
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4226),
		cmocka_unit_test(test_rfc6238),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_code_format),
		cmocka_unit_test(test_base32_vectors),
		cmocka_unit_test(test_base32_reject),
		cmocka_unit_test(test_base32_roundtrip),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_recovery),
		cmocka_unit_test(test_recovery_normalize),
		cmocka_unit_test(test_qr),
		cmocka_unit_test(test_oathtool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
