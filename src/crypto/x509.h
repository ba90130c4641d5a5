/*
 * x509.h - client certificates: what a certificate says, whether it chains
 * to a trusted CA, and whether a private key belongs to it (proof of
 * possession).  docs/internals/credentials.md says how auth/ uses them:
 * a certificate with its key is a possession factor (AU-03).
 *
 * Inputs are caller-owned byte buffers; nothing is kept.  Every input is
 * bounded by KURA_MAX_CERTFILE (util/limits.h): longer is KURA_ETOOBIG.
 */
#ifndef KURA_CRYPTO_X509_H
#define KURA_CRYPTO_X509_H

#include <stddef.h>
#include <stdint.h>

#define KURA_CERT_FP_HEX 64 /* SHA-256 in hex */

struct kura_cert_info {
	char fingerprint[KURA_CERT_FP_HEX + 1]; /* SHA-256 of the DER, lowercase hex */
	/* RFC 2253 form (XN_FLAG_RFC2253), control characters replaced by '?',
	 * cut to fit.  Non-ASCII appears escaped as \XX, as RFC 2253 says. */
	char subject[256];
	char issuer[256];
	/* The first commonName of the subject as UTF-8 (invalid bytes and control
	 * characters replaced by '?', cut at a character boundary), or "". */
	char common_name[128];
	int64_t not_before_us, not_after_us; /* Unix time, microseconds */
};

/*
 * Describe the first certificate of a PEM buffer (or a DER certificate).
 * *ret is cleared on entry.  KURA_EINVAL if it is not a certificate or a
 * validity time is out of range, KURA_ETOOBIG, KURA_ENOMEM.
 */
int kura_x509_info(const uint8_t *pem, size_t len, struct kura_cert_info *ret);

/* The public key of the first certificate of a PEM buffer, for people:
 * "EC P-256", "EC P-384", "RSA 3072", "ED25519" (always NUL-terminated).
 * KURA_EINVAL if it is not a certificate, KURA_ETOOBIG, KURA_ENOMEM. */
#define KURA_CERT_KEY_DESC 48
int kura_x509_key_desc(const uint8_t *pem, size_t len, char ret[KURA_CERT_KEY_DESC]);

/*
 * Check the first certificate of cert_pem against the certificates of
 * ca_pem (PEM, one or more; each of them is a trust anchor, so an issuing
 * CA without its root is enough): the chain, validity at now_us (Unix
 * microseconds) for every certificate on it, and the client authentication
 * purpose when the certificate has an extended key usage.  Revocation is
 * not checked here.
 *
 * 0 if valid, KURA_ECRYPTO if not (never says why), KURA_EINVAL if either
 * input is not parsable or ca_pem holds no certificate, KURA_ETOOBIG.
 */
int kura_x509_verify(const uint8_t *cert_pem, size_t cert_len, const uint8_t *ca_pem,
		     size_t ca_len, int64_t now_us);

/*
 * Proof of possession: load the private key key_pem (PEM, PKCS#8 or
 * traditional; when encrypted it is decrypted with pin, which may be NULL),
 * sign a fresh random 32-byte challenge with it and verify the signature
 * with the public key of the first certificate of cert_pem.  Accepted keys:
 * Ed25519, ECDSA P-256 (SHA-256) and P-384 (SHA-384), RSA of at least 2048
 * bits (RSASSA-PSS with SHA-256; rsaEncryption and RSA-PSS keys alike).
 *
 * 0 if the key belongs to the certificate; KURA_EAUTH if it does not, or the
 * key is encrypted and pin is wrong or NULL; KURA_EINVAL if either input is
 * not parsable; KURA_EPOLICY for a weak or unsupported key (RSA < 2048,
 * other curves, DSA...); KURA_ETOOBIG; KURA_ENOMEM.
 */
int kura_x509_prove_key(const uint8_t *cert_pem, size_t cert_len, const uint8_t *key_pem,
			size_t key_len, const char *pin);

#endif
