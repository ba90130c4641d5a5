/*
 * crypto.h - the only door to OpenSSL and libsodium (STYLE.md rule 10).
 *
 * Sizes are explicit in the signatures; callers allocate.  Verification
 * functions return 0 or KURA_ECRYPTO and never say why.  Keys handed in are
 * not copied or kept.
 */
#ifndef KURA_CRYPTO_CRYPTO_H
#define KURA_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define KURA_HASH_LEN 32   /* SHA-256 */
#define KURA_KEY_LEN 32    /* AES-256 and Ed25519 seed */
#define KURA_NONCE_LEN 12  /* AES-GCM nonce */
#define KURA_TAG_LEN 16    /* AES-GCM tag */
#define KURA_SEAL_OVERHEAD (KURA_NONCE_LEN + KURA_TAG_LEN)
#define KURA_PUBKEY_LEN 32 /* Ed25519 public key */
#define KURA_SIG_LEN 64    /* Ed25519 signature */
#define KURA_SALT_LEN 16   /* Argon2id salt */

/* SHA-256 in one call. */
void kura_sha256(const void *data, size_t len, uint8_t out[KURA_HASH_LEN]);
/* SHA-256 of the concatenation of two buffers (the Merkle tree's shape). */
void kura_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
		   uint8_t out[KURA_HASH_LEN]);

/* Streaming SHA-256.  kura_sha256_new returns NULL when out of memory. */
struct kura_sha256;
struct kura_sha256 *kura_sha256_new(void);
void kura_sha256_update(struct kura_sha256 *h, const void *data, size_t len);
void kura_sha256_final(struct kura_sha256 *h, uint8_t out[KURA_HASH_LEN]);
void kura_sha256_free(struct kura_sha256 *h);

/* HMAC-SHA-256. */
int kura_hmac_sha256(const uint8_t *key, size_t keylen, const void *data,
		     size_t len, uint8_t out[KURA_HASH_LEN]);

/* HKDF-SHA-256 (RFC 5869) with an empty salt: outlen bytes of key material
 * for the purpose named by info. */
int kura_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const char *info,
		     uint8_t *out, size_t outlen);

/* Fill buf with len bytes from the operating system's CSPRNG. */
int kura_random(void *buf, size_t len);

/*
 * AES-256-GCM "sealed box": out = nonce(12) || ciphertext || tag(16), with a
 * fresh random nonce.  out must hold ptlen + KURA_SEAL_OVERHEAD bytes.
 * kura_aead_open takes such a box and writes boxlen - KURA_SEAL_OVERHEAD
 * bytes of plaintext; KURA_ECRYPTO if the box or aad was altered or the key
 * is wrong.
 */
int kura_aead_seal(const uint8_t key[KURA_KEY_LEN], const void *aad, size_t aadlen,
		   const void *pt, size_t ptlen, uint8_t *out);
int kura_aead_open(const uint8_t key[KURA_KEY_LEN], const void *aad, size_t aadlen,
		   const uint8_t *box, size_t boxlen, uint8_t *out);
/*
 * The same with a nonce chosen by the caller (a synthetic IV, backup
 * objects): out = ciphertext || tag(16), ptlen + KURA_TAG_LEN bytes; the
 * nonce is not written.  The caller must never use one nonce for two
 * plaintexts under one key.  nonce || out opens with kura_aead_open.
 */
int kura_aead_seal_nonce(const uint8_t key[KURA_KEY_LEN], const uint8_t nonce[KURA_NONCE_LEN],
			 const void *aad, size_t aadlen, const void *pt, size_t ptlen,
			 uint8_t *out);

/* Ed25519 (RFC 8032).  A private key is its 32-byte seed. */
int kura_ed25519_keygen(uint8_t seed[KURA_KEY_LEN], uint8_t pub[KURA_PUBKEY_LEN]);
int kura_ed25519_public(const uint8_t seed[KURA_KEY_LEN], uint8_t pub[KURA_PUBKEY_LEN]);
int kura_ed25519_sign(const uint8_t seed[KURA_KEY_LEN], const void *msg, size_t len,
		      uint8_t sig[KURA_SIG_LEN]);
/* The same signature for a signer that knows its public key (it must be the
 * seed's): the key is not derived again, which halves the cost of signing a
 * tree head on every commit. */
int kura_ed25519_sign_kp(const uint8_t seed[KURA_KEY_LEN], const uint8_t pub[KURA_PUBKEY_LEN],
			 const void *msg, size_t len, uint8_t sig[KURA_SIG_LEN]);
int kura_ed25519_verify(const uint8_t pub[KURA_PUBKEY_LEN], const void *msg,
			size_t len, const uint8_t sig[KURA_SIG_LEN]);

/* The public key as PEM (SubjectPublicKeyInfo), appended to out, and back.
 * KURA_EINVAL if the PEM is not an Ed25519 public key. */
int kura_ed25519_public_pem(const uint8_t pub[KURA_PUBKEY_LEN], struct kura_buf *out);
int kura_ed25519_public_from_pem(const uint8_t *pem, size_t len,
				 uint8_t pub[KURA_PUBKEY_LEN]);

/*
 * Argon2id (libsodium crypto_pwhash, RFC 9106): derive outlen bytes from a
 * passphrase.  opslimit is the number of passes, memlimit_kib the memory in
 * KiB.  KURA_EINVAL if the parameters are outside libsodium's bounds.
 */
int kura_argon2id(uint8_t *out, size_t outlen, const char *pass, size_t passlen,
		  const uint8_t salt[KURA_SALT_LEN], uint64_t opslimit,
		  uint64_t memlimit_kib);
/* The bounds kura accepts (they are also libsodium's). */
#define KURA_ARGON2_MIN_OPS 1u
#define KURA_ARGON2_MIN_MEM_KIB 8u

/*
 * Password hashes for accounts (AU-05): libsodium's Argon2id string form
 * "$argon2id$v=19$m=...,t=...,p=1$salt$hash", NUL-terminated, which carries
 * its own salt and parameters so they can change (kura_pwhash_needs_rehash).
 */
#define KURA_PWHASH_STRLEN 128 /* crypto_pwhash_STRBYTES */
int kura_pwhash_str(char out[KURA_PWHASH_STRLEN], const char *pass, size_t passlen,
		    uint64_t opslimit, uint64_t memlimit_kib);
/* 0 if pass matches, KURA_EDENIED if not (or if the string is malformed). */
int kura_pwhash_verify(const char *str, const char *pass, size_t passlen);
/* 1 if str was made with other parameters than these (or is malformed). */
int kura_pwhash_needs_rehash(const char *str, uint64_t opslimit, uint64_t memlimit_kib);

/* HMAC-SHA-1 (RFC 2104), for TOTP only (RFC 6238 defaults, which phone
 * authenticator apps implement); never for integrity elsewhere. */
#define KURA_SHA1_LEN 20
int kura_hmac_sha1(const uint8_t *key, size_t keylen, const void *data, size_t len,
		   uint8_t out[KURA_SHA1_LEN]);

/* Locked, guarded memory for secrets (sodium_malloc): zeroed on allocation,
 * wiped on free; NULL when out of memory.  kura_secret_free accepts NULL. */
void *kura_secret_alloc(size_t len);
void kura_secret_free(void *p);
/* Wipe memory so the compiler cannot skip it. */
void kura_wipe(void *p, size_t len);
/* Constant-time equality: 1 if equal, 0 if not. */
int kura_ct_equal(const void *a, const void *b, size_t len);

/* Initialise libsodium; call once before anything else (idempotent). */
int kura_crypto_init(void);

#endif
