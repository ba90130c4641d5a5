/*
 * x509.c - client certificates through OpenSSL 3: description, chain
 * verification and proof that a private key belongs to a certificate.
 */
#include "crypto/x509.h"

#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "util/err.h"
#include "util/limits.h"
#include "util/utf8.h"
#include "util/banned.h"

#define CHALLENGE_LEN 32

static int check_len(size_t len)
{
	if (len > KURA_MAX_CERTFILE)
		return KURA_ETOOBIG;
	return len == 0 ? KURA_EINVAL : 0;
}

/* The first certificate of a PEM buffer, or the buffer as one DER
 * certificate. */
static int cert_load(const uint8_t *p, size_t len, X509 **ret)
{
	*ret = NULL;
	int r = check_len(len);
	if (r)
		return r;
	BIO *bio = BIO_new_mem_buf(p, (int)len);
	if (!bio)
		return KURA_ENOMEM;
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!x) {
		const unsigned char *q = p;
		x = d2i_X509(NULL, &q, (long)len);
	}
	ERR_clear_error();
	if (!x)
		return KURA_EINVAL;
	*ret = x;
	return 0;
}

/* Copy n bytes of text into out (size cap), valid UTF-8 only, control
 * characters and invalid bytes as '?', never cutting a character. */
static void copy_text(char *out, size_t cap, const unsigned char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t k = s[i] < 0x80 ? 1 : kura_utf8_seq_len(s + i, n - i);
		int bad = k == 0 || s[i] < 0x20 || s[i] == 0x7f;
		if (bad)
			k = 1;
		if (o + (bad ? 1 : k) >= cap)
			break;
		if (bad)
			out[o++] = '?';
		else
			memcpy(out + o, s + i, k), o += k;
		i += k;
	}
	out[o] = '\0';
}

static int name_rfc2253(const X509_NAME *name, char *out, size_t cap)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL;
	if (!bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
		BIO_free(bio);
		return KURA_ENOMEM;
	}
	long n = BIO_get_mem_data(bio, &p);
	copy_text(out, cap, (const unsigned char *)p, n > 0 ? (size_t)n : 0);
	BIO_free(bio);
	return 0;
}

static void common_name(const X509_NAME *name, char *out, size_t cap)
{
	out[0] = '\0';
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	X509_NAME_ENTRY *e = i < 0 ? NULL : X509_NAME_get_entry(name, i);
	unsigned char *utf8 = NULL;
	int n = e ? ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e)) : -1;
	if (n >= 0)
		copy_text(out, cap, utf8, (size_t)n);
	OPENSSL_free(utf8);
}

static int time_us(const ASN1_TIME *t, int64_t *ret)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return KURA_EINVAL;
	time_t s = timegm(&tm);
	if (s == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31))
		return KURA_EINVAL;
	*ret = (int64_t)s * 1000000;
	return 0;
}

static int describe(X509 *x, struct kura_cert_info *ret)
{
	uint8_t md[KURA_HASH_LEN];
	unsigned int n = sizeof(md);
	if (!X509_digest(x, EVP_sha256(), md, &n) || n != sizeof(md))
		return KURA_ENOMEM;
	kura_hex_encode(md, sizeof(md), ret->fingerprint);
	int r = name_rfc2253(X509_get_subject_name(x), ret->subject, sizeof(ret->subject));
	if (!r)
		r = name_rfc2253(X509_get_issuer_name(x), ret->issuer, sizeof(ret->issuer));
	if (r)
		return r;
	common_name(X509_get_subject_name(x), ret->common_name, sizeof(ret->common_name));
	r = time_us(X509_get0_notBefore(x), &ret->not_before_us);
	return r ? r : time_us(X509_get0_notAfter(x), &ret->not_after_us);
}

int kura_x509_info(const uint8_t *pem, size_t len, struct kura_cert_info *ret)
{
	X509 *x = NULL;
	memset(ret, 0, sizeof(*ret));
	int r = cert_load(pem, len, &x);
	if (!r)
		r = describe(x, ret);
	if (r)
		memset(ret, 0, sizeof(*ret));
	X509_free(x);
	ERR_clear_error();
	return r;
}

/* "EC P-256", "RSA 3072", "ED25519": the public key's algorithm and size. */
static void key_text(EVP_PKEY *k, char out[KURA_CERT_KEY_DESC])
{
	char group[KURA_CERT_KEY_DESC - 3] = ""; /* "EC " and the group fit out */
	size_t glen = 0;
	const char *name = EVP_PKEY_get0_type_name(k);
	if (EVP_PKEY_is_a(k, "EC") &&
	    EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &glen))
		snprintf(out, KURA_CERT_KEY_DESC, "EC %s", strcmp(group, "prime256v1") == 0 ? "P-256"
			 : strcmp(group, "secp384r1") == 0 ? "P-384" : group);
	else if (EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_is_a(k, "RSA-PSS"))
		snprintf(out, KURA_CERT_KEY_DESC, "%s %d", name ? name : "RSA", EVP_PKEY_get_bits(k));
	else
		snprintf(out, KURA_CERT_KEY_DESC, "%s", name ? name : "unknown");
}

int kura_x509_key_desc(const uint8_t *pem, size_t len, char ret[KURA_CERT_KEY_DESC])
{
	X509 *x = NULL;
	ret[0] = 0;
	int r = cert_load(pem, len, &x);
	EVP_PKEY *k = r ? NULL : X509_get0_pubkey(x);
	if (!r && !k)
		r = KURA_EINVAL;
	if (!r)
		key_text(k, ret);
	X509_free(x);
	ERR_clear_error();
	return r;
}

/* Every certificate of a PEM bundle into a new store; KURA_EINVAL if none. */
static int store_load(const uint8_t *p, size_t len, X509_STORE **ret)
{
	*ret = NULL;
	int r = check_len(len), count = 0;
	if (r)
		return r;
	X509_STORE *st = X509_STORE_new();
	BIO *bio = BIO_new_mem_buf(p, (int)len);
	X509 *x = NULL;
	r = KURA_ENOMEM;
	if (!st || !bio)
		goto out;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		int ok = X509_STORE_add_cert(st, x);
		X509_free(x);
		if (!ok)
			goto out;
		count++;
	}
	r = count ? 0 : KURA_EINVAL;
	if (!r)
		*ret = st, st = NULL;
out:
	ERR_clear_error();
	BIO_free(bio);
	X509_STORE_free(st);
	return r;
}

static int chain_check(X509 *cert, X509_STORE *store, int64_t now_us)
{
	int r = KURA_ENOMEM;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (!ctx || !X509_STORE_CTX_init(ctx, store, cert, NULL))
		goto out;
	X509_STORE_CTX_set_time(ctx, 0, (time_t)(now_us / 1000000));
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
	r = KURA_ECRYPTO;
	if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) &&
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT))
		goto out;
	if (X509_verify_cert(ctx) == 1)
		r = 0;
out:
	X509_STORE_CTX_free(ctx);
	return r;
}

int kura_x509_verify(const uint8_t *cert_pem, size_t cert_len, const uint8_t *ca_pem,
		     size_t ca_len, int64_t now_us)
{
	X509 *cert = NULL;
	X509_STORE *store = NULL;
	int r = cert_load(cert_pem, cert_len, &cert);
	if (!r)
		r = store_load(ca_pem, ca_len, &store);
	if (!r)
		r = chain_check(cert, store, now_us);
	X509_STORE_free(store);
	X509_free(cert);
	ERR_clear_error();
	return r;
}

struct pin_ctx {
	const char *pin;
	int asked; /* the key is encrypted: a failure is a wrong PIN */
};

static int pin_cb(char *buf, int size, int rwflag, void *u)
{
	struct pin_ctx *pc = u;
	(void)rwflag;
	pc->asked = 1;
	if (!pc->pin || size <= 0)
		return -1;
	size_t n = strlen(pc->pin);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pc->pin, n);
	return (int)n;
}

static int key_load(const uint8_t *p, size_t len, const char *pin, EVP_PKEY **ret)
{
	*ret = NULL;
	int r = check_len(len);
	if (r)
		return r;
	struct pin_ctx pc = {pin, 0};
	BIO *bio = BIO_new_mem_buf(p, (int)len);
	if (!bio)
		return KURA_ENOMEM;
	*ret = PEM_read_bio_PrivateKey(bio, NULL, pin_cb, &pc);
	BIO_free(bio);
	ERR_clear_error();
	if (*ret)
		return 0;
	return pc.asked ? KURA_EAUTH : KURA_EINVAL;
}

/* The digest for a key kura accepts (NULL for Ed25519, which hashes
 * itself), or KURA_EPOLICY. */
static int key_policy(EVP_PKEY *k, const char **ret_md)
{
	char group[64];
	*ret_md = "SHA256";
	if (EVP_PKEY_is_a(k, "ED25519")) {
		*ret_md = NULL;
		return 0;
	}
	if (EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_is_a(k, "RSA-PSS"))
		return EVP_PKEY_get_bits(k) >= 2048 ? 0 : KURA_EPOLICY;
	if (!EVP_PKEY_is_a(k, "EC") ||
	    !EVP_PKEY_get_group_name(k, group, sizeof(group), NULL))
		return KURA_EPOLICY;
	if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
		return 0;
	if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384")) {
		*ret_md = "SHA384";
		return 0;
	}
	return KURA_EPOLICY;
}

/* Start a sign or verify operation with the digest and padding for k. */
static int op_init(EVP_MD_CTX *ctx, int sign, const char *md, EVP_PKEY *k)
{
	EVP_PKEY_CTX *pctx = NULL;
	int ok = sign ? EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, k, NULL)
		      : EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, k, NULL);
	if (ok != 1)
		return 0;
	if (EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_is_a(k, "RSA-PSS"))
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	return ok;
}

static int sign_challenge(EVP_PKEY *k, const char *md, const uint8_t *msg,
			  struct kura_buf *sig)
{
	size_t n = 0;
	int r = KURA_EINTERNAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !op_init(ctx, 1, md, k) ||
	    EVP_DigestSign(ctx, NULL, &n, msg, CHALLENGE_LEN) != 1)
		goto out;
	r = kura_buf_reserve(sig, n);
	if (r)
		goto out;
	r = EVP_DigestSign(ctx, sig->data, &n, msg, CHALLENGE_LEN) == 1 ? 0 : KURA_EINTERNAL;
	sig->len = r ? 0 : n;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

static int verify_challenge(EVP_PKEY *pub, const char *md, const uint8_t *msg,
			    const struct kura_buf *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && op_init(ctx, 0, md, pub) &&
		 EVP_DigestVerify(ctx, sig->data, sig->len, msg, CHALLENGE_LEN) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : KURA_EAUTH;
}

int kura_x509_prove_key(const uint8_t *cert_pem, size_t cert_len, const uint8_t *key_pem,
			size_t key_len, const char *pin)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	const char *md = NULL;
	uint8_t challenge[CHALLENGE_LEN];
	struct kura_buf sig;
	kura_buf_init(&sig, 4096);
	int r = cert_load(cert_pem, cert_len, &cert);
	if (!r)
		r = key_load(key_pem, key_len, pin, &key);
	if (!r)
		r = key_policy(key, &md);
	if (r)
		goto out;
	kura_random(challenge, sizeof(challenge));
	r = sign_challenge(key, md, challenge, &sig);
	if (!r)
		r = verify_challenge(X509_get0_pubkey(cert), md, challenge, &sig);
out:
	kura_buf_release(&sig);
	EVP_PKEY_free(key); /* providers wipe private key material on free */
	X509_free(cert);
	ERR_clear_error();
	return r;
}
