/*
 * tls_server.h - the server side of mutual TLS (OpenSSL 3) for the backup
 * receiver (backup/receiver.h), which runs it over libevent's OpenSSL
 * bufferevents.  Only this module touches OpenSSL (STYLE.md rule 10):
 * callers see struct ssl_st as an opaque pointer to hand to libevent.
 *
 * Policy, fixed here: TLS 1.2 at least; under 1.2 only ECDHE with AEAD
 * ciphers (as crypto/tls.c); no renegotiation, no compression; a client
 * certificate is REQUIRED and must chain to client_ca (SSL_VERIFY_PEER |
 * SSL_VERIFY_FAIL_IF_NO_PEER_CERT): a handshake without one fails.
 */
#ifndef KURA_CRYPTO_TLS_SERVER_H
#define KURA_CRYPTO_TLS_SERVER_H

#include "crypto/x509.h"

struct ssl_st;
struct kura_tls_server;

/* Load the server's certificate chain and key and the CA(s) client
 * certificates must chain to (PEM files).  KURA_EINVAL if a file is
 * unreadable, not PEM, or the key does not match; KURA_ENOMEM. */
int kura_tls_server_new(const char *cert_file, const char *key_file, const char *client_ca_file,
			struct kura_tls_server **ret);
void kura_tls_server_free(struct kura_tls_server *s);

/* A fresh SSL object for one accepted connection (NULL when out of
 * memory); whoever takes it (libevent with BEV_OPT_CLOSE_ON_FREE) frees it. */
struct ssl_st *kura_tls_server_ssl(struct kura_tls_server *s);

/* SHA-256 of the DER of the verified peer certificate, lowercase hex; ""
 * if there is none (handshake not done or failed). */
void kura_tls_peer_fingerprint(struct ssl_st *ssl, char out[KURA_CERT_FP_HEX + 1]);

#endif
