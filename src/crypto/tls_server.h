/*
 * tls_server.h - the server side of TLS (OpenSSL 3) for the backup
 * receiver (backup/receiver.h) and `kura serve` (serve/server.c), which
 * run it over libevent's OpenSSL bufferevents.  Only this module touches
 * OpenSSL (STYLE.md rule 10): callers see struct ssl_st as an opaque
 * pointer to hand to libevent.
 *
 * Policy, fixed here (docs/SERVE.md, REQUIREMENTS TLS-01..05, the IPA/
 * CRYPTREC TLS guideline's 高セキュリティ型): TLS 1.3 and 1.2 only; under
 * 1.3 the AEAD suites TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256,
 * TLS_AES_128_GCM_SHA256; under 1.2 only ECDHE (P-256, X25519, P-384) or
 * DHE (2048 bits or more, from OpenSSL's automatic groups) with AES-GCM or
 * CHACHA20-POLY1305; server preference; no renegotiation, no compression;
 * security level 2 (RSA and DH keys of 2048 bits or more, no SHA-1).
 * Session tickets are encrypted with keys kept here and replaced by
 * kura_tls_server_rotate_tickets (the previous key still decrypts, and a
 * ticket under it is renewed); OpenSSL's built-in, never-rotated ticket
 * key is not used.
 */
#ifndef KURA_CRYPTO_TLS_SERVER_H
#define KURA_CRYPTO_TLS_SERVER_H

#include "crypto/x509.h"

struct ssl_st;
struct kura_tls_server;

enum kura_tls_mtls { KURA_TLS_MTLS_OFF = 0, KURA_TLS_MTLS_OPTIONAL, KURA_TLS_MTLS_REQUIRED };

struct kura_tls_server_opts {
	const char *cert_file, *key_file; /* PEM chain and its key */
	const char *client_ca_file;       /* PEM; required unless mtls is OFF */
	const char *crl_file;             /* PEM CRL(s) of client_ca, or NULL: when set, a
					   * client certificate is checked against it
					   * (X509_V_FLAG_CRL_CHECK; no CRL for the issuer fails) */
	int mtls;                         /* enum kura_tls_mtls */
	const char *session_context;      /* a short name ("kura-serve") */
	/* Optional connection hooks; conn is what kura_tls_server_ssl_conn got.
	 * admit runs at the ClientHello with the connection's socket: nonzero
	 * aborts the handshake.  done runs once when a handshake completes.
	 * release runs when the SSL object is freed (whatever happened). */
	int (*admit)(void *conn, int fd);
	void (*done)(void *conn);
	void (*release)(void *conn);
};

/* A server context.  KURA_EINVAL if a file is unreadable, not PEM, the key
 * does not match, or a key is weaker than the policy; KURA_ENOMEM. */
int kura_tls_server_open(const struct kura_tls_server_opts *o, struct kura_tls_server **ret);

/* The backup receiver's: mtls REQUIRED, no CRL, no hooks. */
int kura_tls_server_new(const char *cert_file, const char *key_file, const char *client_ca_file,
			struct kura_tls_server **ret);
void kura_tls_server_free(struct kura_tls_server *s);

/* A fresh SSL object for one accepted connection (NULL when out of
 * memory); whoever takes it (libevent with BEV_OPT_CLOSE_ON_FREE) frees it. */
struct ssl_st *kura_tls_server_ssl(struct kura_tls_server *s);
/* The same, carrying conn for the hooks; release(conn) runs when it is
 * freed, but not when this returns NULL. */
struct ssl_st *kura_tls_server_ssl_conn(struct kura_tls_server *s, void *conn);

/* The conn given to kura_tls_server_ssl_conn, or NULL. */
void *kura_tls_conn(struct ssl_st *ssl);

/* Replace the session ticket key (thread-safe): tickets under the key
 * before are still accepted, and renewed, until the next rotation.
 * KURA_ECRYPTO if the random generator fails. */
int kura_tls_server_rotate_tickets(struct kura_tls_server *s);

/* The policy above as OpenSSL names it, each list ':'-separated (static
 * strings): what an administrator's status screen shows. */
struct kura_tls_policy {
	const char *protocols;     /* "TLSv1.3:TLSv1.2" */
	const char *tls13_suites;
	const char *tls12_ciphers;
	const char *groups;
	int security_level;
};
void kura_tls_server_policy(struct kura_tls_policy *ret);

/* SHA-256 of the DER of the verified peer certificate, lowercase hex; ""
 * if there is none (handshake not done or failed). */
void kura_tls_peer_fingerprint(struct ssl_st *ssl, char out[KURA_CERT_FP_HEX + 1]);
/* Its subject, RFC 2253, control characters replaced by '?', cut to fit;
 * "" if there is none. */
void kura_tls_peer_subject(struct ssl_st *ssl, char *out, size_t cap);
/* "TLSv1.3" and the cipher's name, for logs ("" before a handshake). */
const char *kura_tls_version(struct ssl_st *ssl);

#endif
