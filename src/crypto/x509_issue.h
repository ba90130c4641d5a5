/*
 * x509_issue.h - a small local CA for sites without a PKI (`kura cert`,
 * docs/SERVE.md): an ECDSA P-256 CA, server certificates with their
 * subjectAltNames, client certificates for mutual TLS.  Keys are new
 * ECDSA P-256 keys (PKCS#8 PEM, unencrypted: the caller writes them 0600);
 * signatures are ECDSA with SHA-256; serial numbers are 128 random bits.
 */
#ifndef KURA_CRYPTO_X509_ISSUE_H
#define KURA_CRYPTO_X509_ISSUE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define KURA_CA_DAYS 3650u      /* a local CA: ten years */
#define KURA_SERVER_DAYS 825u   /* the most browsers accept */
#define KURA_CLIENT_DAYS 825u
#define KURA_CERT_MAX_HOSTS 32

enum kura_cert_kind { KURA_CERT_SERVER = 1, KURA_CERT_CLIENT };

struct kura_cert_req {
	int kind;               /* enum kura_cert_kind */
	const char *cn;         /* subject commonName (server: the first host) */
	const char *const *hosts; /* server: DNS names or IP addresses for subjectAltName */
	size_t nhosts;
	const char *account;    /* client: or NULL; as SAN URI "urn:kura:account:ID" */
	unsigned days;          /* validity from now; at most KURA_SERVER_DAYS */
};

/* A CA named name (its CN): a self-signed certificate (basicConstraints
 * CA:TRUE critical, keyCertSign and cRLSign) valid for days, and its key.
 * Output buffers get PEM.  KURA_EINVAL (empty name), KURA_ECRYPTO, KURA_ENOMEM. */
int kura_x509_make_ca(const char *name, unsigned days, struct kura_buf *ret_key,
		      struct kura_buf *ret_cert);

/* Issue a certificate under the CA (PEM certificate and key of
 * kura_x509_make_ca): serverAuth with its SANs, or clientAuth.
 * KURA_EINVAL for a bad request (no host, a host that is neither a DNS name
 * nor an IP address, days out of range) or CA files that do not parse or
 * do not match; KURA_ECRYPTO, KURA_ENOMEM. */
int kura_x509_issue(const uint8_t *ca_cert, size_t ca_cert_len, const uint8_t *ca_key,
		    size_t ca_key_len, const struct kura_cert_req *req, struct kura_buf *ret_key,
		    struct kura_buf *ret_cert);

#endif
