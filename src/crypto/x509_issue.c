/*
 * x509_issue.c - the local CA of `kura cert` (x509_issue.h).
 */
#include "crypto/x509_issue.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "util/err.h"
#include "util/banned.h"

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static int to_buf(BIO *b, struct kura_buf *out)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	return n > 0 ? kura_buf_append(out, p, (size_t)n) : KURA_ECRYPTO;
}

static int write_pem(EVP_PKEY *key, X509 *x, struct kura_buf *ret_key, struct kura_buf *ret_cert)
{
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	int r = KURA_ENOMEM;
	if (kb && cb) {
		r = KURA_ECRYPTO;
		if (PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) == 1 &&
		    PEM_write_bio_X509(cb, x) == 1) {
			r = to_buf(kb, ret_key);
			if (!r)
				r = to_buf(cb, ret_cert);
		}
	}
	BIO_free(kb); /* memory BIOs: the PEM of the key is in freed heap, as OpenSSL leaves it */
	BIO_free(cb);
	return r;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok ? 0 : KURA_EINVAL;
}

/* A certificate with a random serial, subject CN, validity and public key. */
static X509 *cert_base(const char *cn, unsigned days, EVP_PKEY *key)
{
	unsigned char serial[16];
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
	if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || X509_set_version(x, 2) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
	    /* the whole period, from the backdated start, is at most `days` */
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400 - 300) ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				       0) != 1 ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

int kura_x509_make_ca(const char *name, unsigned days, struct kura_buf *ret_key,
		      struct kura_buf *ret_cert)
{
	if (!name || !*name || strlen(name) > 64 || days == 0 || days > 2 * KURA_CA_DAYS)
		return KURA_EINVAL;
	EVP_PKEY *key = new_key();
	X509 *x = key ? cert_base(name, days, key) : NULL;
	int r = x ? 0 : KURA_ECRYPTO;
	if (!r && (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
		   add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
		   add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
		   add_ext(x, x, NID_subject_key_identifier, "hash") ||
		   X509_sign(x, key, EVP_sha256()) == 0))
		r = KURA_ECRYPTO;
	if (!r)
		r = write_pem(key, x, ret_key, ret_cert);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return r;
}

static int inet_pton_any(const char *s, unsigned char out[16])
{
	return inet_pton(AF_INET, s, out) == 1 || inet_pton(AF_INET6, s, out) == 1;
}

static int valid_account(const char *a)
{
	size_t n = strlen(a);
	return n > 0 && n <= 64 &&
	       strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* "DNS:a,IP:1.2.3.4" from the hosts; KURA_EINVAL for a bad one. */
static int san_text(const struct kura_cert_req *req, struct kura_buf *out)
{
	unsigned char ip[16];
	int r = 0;
	for (size_t i = 0; !r && i < req->nhosts; i++) {
		const char *h = req->hosts[i];
		int is_ip = inet_pton_any(h, ip);
		if (!is_ip && (!*h || strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
						"0123456789.-*") != strlen(h) || strlen(h) > 253))
			return KURA_EINVAL;
		r = kura_buf_printf(out, "%s%s:%s", i ? "," : "", is_ip ? "IP" : "DNS", h);
	}
	if (!r && req->account)
		r = kura_buf_printf(out, "%sURI:urn:kura:account:%s", out->len ? "," : "",
				    req->account);
	return r ? r : kura_buf_append_byte(out, 0);
}

static int load_ca(const uint8_t *cert, size_t cert_len, const uint8_t *key, size_t key_len,
		   X509 **ret_x, EVP_PKEY **ret_key)
{
	BIO *cb = BIO_new_mem_buf(cert, (int)cert_len), *kb = BIO_new_mem_buf(key, (int)key_len);
	*ret_x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	*ret_key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	BIO_free(cb);
	BIO_free(kb);
	if (!*ret_x || !*ret_key || X509_check_private_key(*ret_x, *ret_key) != 1)
		return KURA_EINVAL;
	return 0;
}

static int check_req(const struct kura_cert_req *req)
{
	if (!req->cn || !*req->cn || strlen(req->cn) > 64 || req->days == 0 ||
	    req->days > KURA_SERVER_DAYS || req->nhosts > KURA_CERT_MAX_HOSTS)
		return KURA_EINVAL;
	if (req->kind == KURA_CERT_SERVER)
		return req->nhosts && !req->account ? 0 : KURA_EINVAL;
	if (req->kind == KURA_CERT_CLIENT)
		return !req->nhosts && (!req->account || valid_account(req->account)) ? 0
										      : KURA_EINVAL;
	return KURA_EINVAL;
}

static int issue_exts(X509 *x, X509 *ca, const struct kura_cert_req *req)
{
	struct kura_buf san;
	int server = req->kind == KURA_CERT_SERVER;
	kura_buf_init(&san, 16384);
	int r = san_text(req, &san);
	if (!r)
		r = add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE");
	if (!r)
		r = add_ext(x, ca, NID_key_usage, "critical,digitalSignature");
	if (!r)
		r = add_ext(x, ca, NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
	if (!r)
		r = add_ext(x, ca, NID_authority_key_identifier, "keyid:always");
	if (!r && san.len > 1)
		r = add_ext(x, ca, NID_subject_alt_name, (const char *)san.data);
	kura_buf_release(&san);
	return r;
}

int kura_x509_issue(const uint8_t *ca_cert, size_t ca_cert_len, const uint8_t *ca_key,
		    size_t ca_key_len, const struct kura_cert_req *req, struct kura_buf *ret_key,
		    struct kura_buf *ret_cert)
{
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	int r = check_req(req);
	if (!r)
		r = load_ca(ca_cert, ca_cert_len, ca_key, ca_key_len, &ca, &cakey);
	if (!r && (!(key = new_key()) || !(x = cert_base(req->cn, req->days, key)) ||
		   X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1))
		r = KURA_ECRYPTO;
	if (!r)
		r = issue_exts(x, ca, req);
	if (!r && X509_sign(x, cakey, EVP_sha256()) == 0)
		r = KURA_ECRYPTO;
	if (!r)
		r = write_pem(key, x, ret_key, ret_cert);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	ERR_clear_error();
	return r;
}
