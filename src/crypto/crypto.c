/*
 * crypto.c - SHA-256, HMAC, HKDF, AES-256-GCM and Ed25519 through OpenSSL 3;
 * Argon2id, locked memory and constant-time comparison through libsodium.
 */
#include "crypto/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "util/err.h"
#include "util/banned.h"

/*
 * Algorithm handles fetched once (OpenSSL 3 otherwise looks each one up,
 * under a lock, on every call: a third of verify's time).  They are the
 * process's only shared state, written once by kura_crypto_init() under
 * pthread_once and read-only afterwards.
 */
static struct {
	EVP_MD *sha256;
	EVP_CIPHER *aes_gcm;
	EVP_MAC *hmac;
	EVP_MAC_CTX *hmac_sha256; /* template with the digest set: dup'ed per call */
	EVP_KDF *hkdf;
} alg;
static pthread_once_t alg_once = PTHREAD_ONCE_INIT;

static void alg_fetch(void)
{
	alg.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	alg.aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	alg.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	alg.hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	/* Setting the digest by name fetches it; do that once, in a template. */
	OSSL_PARAM params[2];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	alg.hmac_sha256 = alg.hmac ? EVP_MAC_CTX_new(alg.hmac) : NULL;
	if (alg.hmac_sha256 && !EVP_MAC_CTX_set_params(alg.hmac_sha256, params)) {
		EVP_MAC_CTX_free(alg.hmac_sha256);
		alg.hmac_sha256 = NULL;
	}
}

static const EVP_MD *md_sha256(void)
{
	return alg.sha256 ? alg.sha256 : EVP_sha256();
}

static const EVP_CIPHER *cipher_gcm(void)
{
	return alg.aes_gcm ? alg.aes_gcm : EVP_aes_256_gcm();
}

int kura_crypto_init(void)
{
	if (sodium_init() < 0)
		return KURA_EINTERNAL;
	pthread_once(&alg_once, alg_fetch);
	return alg.sha256 && alg.aes_gcm && alg.hmac_sha256 && alg.hkdf ? 0 : KURA_EINTERNAL;
}

void kura_sha256(const void *data, size_t len, uint8_t out[KURA_HASH_LEN])
{
	unsigned int n = KURA_HASH_LEN;
	/* EVP_Digest cannot fail for SHA-256 with valid pointers short of
	 * memory exhaustion; clear the output so a failure is never a match. */
	if (!EVP_Digest(data, len, out, &n, md_sha256(), NULL))
		memset(out, 0, KURA_HASH_LEN);
}

struct kura_sha256 {
	EVP_MD_CTX *ctx;
};

struct kura_sha256 *kura_sha256_new(void)
{
	struct kura_sha256 *h = OPENSSL_zalloc(sizeof(*h));
	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, md_sha256(), NULL)) {
		kura_sha256_free(h);
		return NULL;
	}
	return h;
}

void kura_sha256_update(struct kura_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void kura_sha256_final(struct kura_sha256 *h, uint8_t out[KURA_HASH_LEN])
{
	unsigned int n = KURA_HASH_LEN;
	if (!EVP_DigestFinal_ex(h->ctx, out, &n))
		memset(out, 0, KURA_HASH_LEN);
	EVP_DigestInit_ex(h->ctx, md_sha256(), NULL);
}

void kura_sha256_free(struct kura_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	OPENSSL_free(h);
}

void kura_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
		   uint8_t out[KURA_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = KURA_HASH_LEN;
	if (!ctx || !EVP_DigestInit_ex(ctx, md_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, a, alen) || !EVP_DigestUpdate(ctx, b, blen) ||
	    !EVP_DigestFinal_ex(ctx, out, &n))
		memset(out, 0, KURA_HASH_LEN);
	EVP_MD_CTX_free(ctx);
}

int kura_hmac_sha256(const uint8_t *key, size_t keylen, const void *data,
		     size_t len, uint8_t out[KURA_HASH_LEN])
{
	size_t n = 0;
	if (!alg.hmac_sha256) {
		unsigned char *r = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen,
					     data, len, out, KURA_HASH_LEN, &n);
		return r && n == KURA_HASH_LEN ? 0 : KURA_EINTERNAL;
	}
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(alg.hmac_sha256);
	int ok = ctx && EVP_MAC_init(ctx, key, keylen, NULL) && EVP_MAC_update(ctx, data, len) &&
		 EVP_MAC_final(ctx, out, &n, KURA_HASH_LEN) && n == KURA_HASH_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : KURA_EINTERNAL;
}

int kura_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const char *info,
		     uint8_t *out, size_t outlen)
{
	int r = KURA_EINTERNAL;
	EVP_KDF *kdf = alg.hkdf ? NULL : EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = alg.hkdf ? EVP_KDF_CTX_new(alg.hkdf) : kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[4];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
						      strlen(info));
	params[3] = OSSL_PARAM_construct_end();
	if (ctx && EVP_KDF_derive(ctx, out, outlen, params) == 1)
		r = 0;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

int kura_random(void *buf, size_t len)
{
	/* libsodium reads getrandom(2); it cannot fail once initialised. */
	randombytes_buf(buf, len);
	return 0;
}

static int gcm_run(int enc, const uint8_t key[KURA_KEY_LEN], const uint8_t *nonce,
		   const void *aad, size_t aadlen, const uint8_t *in, size_t inlen,
		   uint8_t *out, uint8_t *tag)
{
	int r = enc ? KURA_EINTERNAL : KURA_ECRYPTO, n = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx || inlen > INT32_MAX || aadlen > INT32_MAX)
		goto out;
	if (!EVP_CipherInit_ex2(ctx, cipher_gcm(), key, nonce, enc, NULL))
		goto out;
	if (aadlen && !EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen))
		goto out;
	if (inlen && !EVP_CipherUpdate(ctx, out, &n, in, (int)inlen))
		goto out;
	if (!enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KURA_TAG_LEN, tag))
		goto out;
	if (!EVP_CipherFinal_ex(ctx, out + n, &n))
		goto out;
	if (enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KURA_TAG_LEN, tag))
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int kura_aead_seal(const uint8_t key[KURA_KEY_LEN], const void *aad, size_t aadlen,
		   const void *pt, size_t ptlen, uint8_t *out)
{
	kura_random(out, KURA_NONCE_LEN);
	return gcm_run(1, key, out, aad, aadlen, pt, ptlen, out + KURA_NONCE_LEN,
		       out + KURA_NONCE_LEN + ptlen);
}

int kura_aead_seal_nonce(const uint8_t key[KURA_KEY_LEN], const uint8_t nonce[KURA_NONCE_LEN],
			 const void *aad, size_t aadlen, const void *pt, size_t ptlen,
			 uint8_t *out)
{
	return gcm_run(1, key, nonce, aad, aadlen, pt, ptlen, out, out + ptlen);
}

int kura_aead_open(const uint8_t key[KURA_KEY_LEN], const void *aad, size_t aadlen,
		   const uint8_t *box, size_t boxlen, uint8_t *out)
{
	if (boxlen < KURA_SEAL_OVERHEAD)
		return KURA_ECRYPTO;
	size_t ctlen = boxlen - KURA_SEAL_OVERHEAD;
	uint8_t tag[KURA_TAG_LEN];
	memcpy(tag, box + KURA_NONCE_LEN + ctlen, KURA_TAG_LEN);
	int r = gcm_run(0, key, box, aad, aadlen, box + KURA_NONCE_LEN, ctlen, out, tag);
	if (r)
		kura_wipe(out, ctlen);
	return r;
}

static EVP_PKEY *ed_private(const uint8_t seed[KURA_KEY_LEN])
{
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, KURA_KEY_LEN);
}

int kura_ed25519_public(const uint8_t seed[KURA_KEY_LEN], uint8_t pub[KURA_PUBKEY_LEN])
{
	EVP_PKEY *k = ed_private(seed);
	size_t n = KURA_PUBKEY_LEN;
	int r = k && EVP_PKEY_get_raw_public_key(k, pub, &n) && n == KURA_PUBKEY_LEN
			? 0 : KURA_EINTERNAL;
	EVP_PKEY_free(k);
	return r;
}

int kura_ed25519_keygen(uint8_t seed[KURA_KEY_LEN], uint8_t pub[KURA_PUBKEY_LEN])
{
	kura_random(seed, KURA_KEY_LEN);
	return kura_ed25519_public(seed, pub);
}

int kura_ed25519_sign(const uint8_t seed[KURA_KEY_LEN], const void *msg, size_t len,
		      uint8_t sig[KURA_SIG_LEN])
{
	int r = KURA_EINTERNAL;
	size_t n = KURA_SIG_LEN;
	EVP_PKEY *k = ed_private(seed);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (k && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(ctx, sig, &n, msg, len) == 1 && n == KURA_SIG_LEN)
		r = 0;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return r;
}

int kura_ed25519_sign_kp(const uint8_t seed[KURA_KEY_LEN], const uint8_t pub[KURA_PUBKEY_LEN],
			 const void *msg, size_t len, uint8_t sig[KURA_SIG_LEN])
{
	/* libsodium's secret key is the seed followed by the public key. */
	uint8_t sk[crypto_sign_ed25519_SECRETKEYBYTES];
	_Static_assert(sizeof(sk) == KURA_KEY_LEN + KURA_PUBKEY_LEN, "Ed25519 key sizes");
	memcpy(sk, seed, KURA_KEY_LEN);
	memcpy(sk + KURA_KEY_LEN, pub, KURA_PUBKEY_LEN);
	int r = crypto_sign_ed25519_detached(sig, NULL, msg, len, sk) == 0 ? 0 : KURA_EINTERNAL;
	sodium_memzero(sk, sizeof(sk));
	return r;
}

int kura_ed25519_verify(const uint8_t pub[KURA_PUBKEY_LEN], const void *msg,
			size_t len, const uint8_t sig[KURA_SIG_LEN])
{
	int r = KURA_ECRYPTO;
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
						  KURA_PUBKEY_LEN);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (k && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestVerify(ctx, sig, KURA_SIG_LEN, msg, len) == 1)
		r = 0;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return r;
}

int kura_ed25519_public_pem(const uint8_t pub[KURA_PUBKEY_LEN], struct kura_buf *out)
{
	int r = KURA_EINTERNAL;
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, KURA_PUBKEY_LEN);
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL;
	if (k && bio && PEM_write_bio_PUBKEY(bio, k)) {
		long n = BIO_get_mem_data(bio, &p);
		r = n > 0 ? kura_buf_append(out, p, (size_t)n) : KURA_EINTERNAL;
	}
	BIO_free(bio);
	EVP_PKEY_free(k);
	return r;
}

int kura_ed25519_public_from_pem(const uint8_t *pem, size_t len,
				 uint8_t pub[KURA_PUBKEY_LEN])
{
	int r = KURA_EINVAL;
	size_t n = KURA_PUBKEY_LEN;
	if (len > INT32_MAX)
		return KURA_EINVAL;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	if (k && EVP_PKEY_get_id(k) == EVP_PKEY_ED25519 &&
	    EVP_PKEY_get_raw_public_key(k, pub, &n) && n == KURA_PUBKEY_LEN)
		r = 0;
	EVP_PKEY_free(k);
	BIO_free(bio);
	return r;
}

int kura_argon2id(uint8_t *out, size_t outlen, const char *pass, size_t passlen,
		  const uint8_t salt[KURA_SALT_LEN], uint64_t opslimit,
		  uint64_t memlimit_kib)
{
	if (opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > crypto_pwhash_OPSLIMIT_MAX ||
	    memlimit_kib < KURA_ARGON2_MIN_MEM_KIB ||
	    memlimit_kib > crypto_pwhash_MEMLIMIT_MAX / 1024)
		return KURA_EINVAL;
	if (crypto_pwhash(out, outlen, pass, passlen, salt, opslimit,
			  (size_t)memlimit_kib * 1024, crypto_pwhash_ALG_ARGON2ID13))
		return KURA_ENOMEM;
	return 0;
}

int kura_pwhash_str(char out[KURA_PWHASH_STRLEN], const char *pass, size_t passlen,
		    uint64_t opslimit, uint64_t memlimit_kib)
{
	_Static_assert(KURA_PWHASH_STRLEN == crypto_pwhash_STRBYTES, "pwhash string size");
	if (opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > crypto_pwhash_OPSLIMIT_MAX ||
	    memlimit_kib < KURA_ARGON2_MIN_MEM_KIB ||
	    memlimit_kib > crypto_pwhash_MEMLIMIT_MAX / 1024)
		return KURA_EINVAL;
	if (crypto_pwhash_str_alg(out, pass, passlen, opslimit, (size_t)memlimit_kib * 1024,
				  crypto_pwhash_ALG_ARGON2ID13))
		return KURA_ENOMEM;
	return 0;
}

int kura_pwhash_verify(const char *str, const char *pass, size_t passlen)
{
	if (strnlen(str, KURA_PWHASH_STRLEN) == KURA_PWHASH_STRLEN)
		return KURA_EDENIED;
	return crypto_pwhash_str_verify(str, pass, passlen) == 0 ? 0 : KURA_EDENIED;
}

int kura_pwhash_needs_rehash(const char *str, uint64_t opslimit, uint64_t memlimit_kib)
{
	if (strnlen(str, KURA_PWHASH_STRLEN) == KURA_PWHASH_STRLEN ||
	    memlimit_kib > crypto_pwhash_MEMLIMIT_MAX / 1024)
		return 1;
	return crypto_pwhash_str_needs_rehash(str, opslimit, (size_t)memlimit_kib * 1024) != 0;
}

int kura_hmac_sha1(const uint8_t *key, size_t keylen, const void *data, size_t len,
		   uint8_t out[KURA_SHA1_LEN])
{
	size_t n = 0;
	unsigned char *r = EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, key, keylen, data, len,
				     out, KURA_SHA1_LEN, &n);
	return r && n == KURA_SHA1_LEN ? 0 : KURA_EINTERNAL;
}

void *kura_secret_alloc(size_t len)
{
	void *p = sodium_malloc(len);
	if (p)
		sodium_memzero(p, len);
	return p;
}

void kura_secret_free(void *p)
{
	sodium_free(p);
}

void kura_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

int kura_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
