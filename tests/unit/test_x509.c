/* test_x509.c - certificate description, chain checks and proof of key
 * possession, against keys and certificates made here with the openssl
 * tool (no private key is ever committed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/x509.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/limits.h"

#define DAY_US (86400LL * 1000000)

static char dir[] = "/tmp/kura-x509-XXXXXX";

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	char full[2300];
	snprintf(full, sizeof(full), "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
	if (system(full) != 0)
		fail_msg("command failed: %s", cmd);
}

/* A client certificate for key NAME.key, signed by CA (ca or ca2). */
static void issue(const char *name, const char *subj, const char *ca, const char *eku)
{
	sh("printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=%s\\n' > %s.ext", eku, name);
	sh("openssl req -new -key %s.key -subj '%s' -out %s.csr", name, subj, name);
	sh("openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -set_serial 7 -days 30 "
	   "-extfile %s.ext -out %s.pem", name, ca, ca, name, name);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	const char *ec = "-algorithm EC -pkeyopt ec_paramgen_curve:P-256";
	sh("openssl genpkey %s -out ca.key", ec);
	sh("openssl req -x509 -key ca.key -subj '/CN=Test CA/O=Kura' -days 60 -out ca.pem");
	sh("openssl genpkey %s -out ca2.key", ec);
	sh("openssl req -x509 -key ca2.key -subj '/CN=Other CA' -days 60 -out ca2.pem");
	sh("openssl genpkey %s -out ec.key", ec);
	sh("openssl genpkey %s -out other.key", ec);
	sh("openssl genpkey %s -out server.key", ec);
	sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key");
	sh("openssl genpkey -algorithm ED25519 -out ed.key");
	sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key");
	sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out weak.key");
	issue("ec", "/CN=dr.sato/O=Kura Hospital/OU=Internal Medicine", "ca", "clientAuth");
	issue("p384", "/CN=p384", "ca", "clientAuth");
	issue("ed", "/CN=batch-01", "ca", "clientAuth");
	issue("rsa", "/CN=rsa", "ca", "clientAuth");
	issue("weak", "/CN=weak", "ca", "clientAuth");
	issue("server", "/CN=server", "ca", "serverAuth");
	sh("openssl pkcs8 -topk8 -in ec.key -v2 aes-256-cbc -passout pass:1234 -out enc.key");
	sh("openssl x509 -in ec.pem -outform DER -out ec.der");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void load(const char *name, struct kura_buf *b)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	kura_buf_init(b, 1u << 20);
	if (kura_fs_read(path, b->max, b))
		fail_msg("cannot read %s", path);
}

/* What `openssl x509 -fingerprint -sha256` says, as lowercase hex. */
static void openssl_fingerprint(const char *name, char out[KURA_CERT_FP_HEX + 1])
{
	char cmd[512], line[256];
	size_t n = 0;
	snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s/%s' -noout -fingerprint -sha256",
		 dir, name);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	pclose(f);
	const char *p = strchr(line, '=');
	assert_non_null(p);
	for (p++; *p && n < KURA_CERT_FP_HEX; p++)
		if (isxdigit((unsigned char)*p))
			out[n++] = (char)tolower((unsigned char)*p);
	out[n] = '\0';
}

static void test_info(void **state)
{
	(void)state;
	struct kura_buf pem, der;
	struct kura_cert_info info, info2;
	char fp[KURA_CERT_FP_HEX + 1];
	load("ec.pem", &pem);
	load("ec.der", &der);
	assert_int_equal(kura_x509_info(pem.data, pem.len, &info), 0);
	openssl_fingerprint("ec.pem", fp);
	assert_string_equal(info.fingerprint, fp);
	assert_string_equal(info.common_name, "dr.sato");
	assert_string_equal(info.subject, "OU=Internal Medicine,O=Kura Hospital,CN=dr.sato");
	assert_string_equal(info.issuer, "O=Kura,CN=Test CA");
	int64_t now = (int64_t)time(NULL) * 1000000;
	assert_true(info.not_before_us <= now && info.not_before_us > now - DAY_US);
	assert_true(info.not_after_us - info.not_before_us == 30 * DAY_US);
	assert_int_equal(kura_x509_info(der.data, der.len, &info2), 0);
	assert_memory_equal(&info, &info2, sizeof(info));

	assert_int_equal(kura_x509_info((const uint8_t *)"hello", 5, &info), KURA_EINVAL);
	assert_string_equal(info.fingerprint, "");
	assert_int_equal(kura_x509_info(pem.data, 0, &info), KURA_EINVAL);
	assert_int_equal(kura_x509_info(pem.data, pem.len / 2, &info), KURA_EINVAL);
	assert_int_equal(kura_x509_info(pem.data, KURA_MAX_CERTFILE + 1, &info),
			 KURA_ETOOBIG);
	kura_buf_release(&pem);
	kura_buf_release(&der);
}

static int prove(const char *cert, const char *key, const char *pin)
{
	struct kura_buf c, k;
	load(cert, &c);
	load(key, &k);
	int r = kura_x509_prove_key(c.data, c.len, k.data, k.len, pin);
	kura_buf_release(&c);
	kura_buf_release(&k);
	return r;
}

static void test_prove_key(void **state)
{
	(void)state;
	assert_int_equal(prove("ec.pem", "ec.key", NULL), 0);
	assert_int_equal(prove("p384.pem", "p384.key", NULL), 0);
	assert_int_equal(prove("ed.pem", "ed.key", NULL), 0);
	assert_int_equal(prove("rsa.pem", "rsa.key", NULL), 0);
	assert_int_equal(prove("ec.der", "ec.key", "ignored"), 0);
	assert_int_equal(prove("ec.pem", "other.key", NULL), KURA_EAUTH);
	assert_int_equal(prove("ec.pem", "ed.key", NULL), KURA_EAUTH);
	assert_int_equal(prove("ed.pem", "rsa.key", NULL), KURA_EAUTH);
	assert_int_equal(prove("weak.pem", "weak.key", NULL), KURA_EPOLICY);
	assert_int_equal(prove("ec.pem", "enc.key", "1234"), 0);
	assert_int_equal(prove("ec.pem", "enc.key", "9999"), KURA_EAUTH);
	assert_int_equal(prove("ec.pem", "enc.key", NULL), KURA_EAUTH);
	assert_int_equal(prove("ec.pem", "ec.pem", NULL), KURA_EINVAL);
	assert_int_equal(prove("ec.key", "ec.key", NULL), KURA_EINVAL);
}

static int verify(const char *cert, const char *ca, int64_t now_us)
{
	struct kura_buf c, a;
	load(cert, &c);
	load(ca, &a);
	int r = kura_x509_verify(c.data, c.len, a.data, a.len, now_us);
	kura_buf_release(&c);
	kura_buf_release(&a);
	return r;
}

static void test_verify(void **state)
{
	(void)state;
	int64_t now = (int64_t)time(NULL) * 1000000;
	assert_int_equal(verify("ec.pem", "ca.pem", now), 0);
	assert_int_equal(verify("ed.pem", "ca.pem", now), 0);
	assert_int_equal(verify("ec.der", "ca.pem", now), 0);
	assert_int_equal(verify("ec.pem", "ca2.pem", now), KURA_ECRYPTO);
	assert_int_equal(verify("ec.pem", "ca.pem", now + 31 * DAY_US), KURA_ECRYPTO);
	assert_int_equal(verify("ec.pem", "ca.pem", now - 2 * DAY_US), KURA_ECRYPTO);
	assert_int_equal(verify("server.pem", "ca.pem", now), KURA_ECRYPTO);
	assert_int_equal(verify("ec.pem", "ec.key", now), KURA_EINVAL);
	/* A bundle: any of its certificates may be the issuer. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "cat '%s/ca2.pem' '%s/ca.pem' > '%s/both.pem'", dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(verify("ec.pem", "both.pem", now), 0);
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_prove_key),
		cmocka_unit_test(test_verify),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
