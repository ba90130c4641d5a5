/*
 * tls.h - a blocking TLS client over TCP (OpenSSL 3), for the syslog
 * export of the audit trail (RFC 5425; audit/syslog.h).
 *
 * Policy, fixed here rather than configured: TLS 1.2 at least, 1.3 when the
 * server has it; under 1.2 only ECDHE key exchange with AEAD ciphers
 * (AES-GCM, ChaCha20-Poly1305); the server's chain is verified against
 * ca_file and its certificate must name server_name (a DNS SAN, or an IP
 * SAN when server_name is an address); the client presents cert_file/key_file
 * (mutual TLS).  Writes never raise SIGPIPE: the socket is written with
 * send(MSG_NOSIGNAL) through a BIO of our own, and the process's signal
 * dispositions are left alone.
 *
 * A struct kura_tls is used by one thread at a time.
 */
#ifndef KURA_CRYPTO_TLS_H
#define KURA_CRYPTO_TLS_H

#include <stddef.h>

struct kura_tls_config {
	const char *host;	 /* name or address to connect to */
	const char *port;	 /* service name or number, e.g. "6514" */
	const char *ca_file;	 /* PEM: the CAs the server chain must lead to */
	const char *cert_file;	 /* PEM: our certificate (and chain) */
	const char *key_file;	 /* PEM: its private key, unencrypted */
	const char *server_name; /* checked against the server cert (SAN DNS or
				  * IP); NULL: host */
	int timeout_ms;		 /* connect, handshake, each read/write, drain;
				  * <= 0: 10000 */
};

struct kura_tls;

/*
 * Connect to cfg->host:port (every address getaddrinfo gives, in order),
 * do the handshake and verify the server.  *ret is set only on success; the
 * caller owns it and frees it with kura_tls_close().
 * Errors: KURA_EINVAL (missing field, unreadable or mismatched cert/key/CA
 * file), KURA_ECRYPTO (the server's certificate failed verification, or the
 * handshake failed at the TLS layer, e.g. the server refused our
 * certificate), KURA_EIO (name resolution, connection refused, timeout),
 * KURA_ENOMEM.
 */
int kura_tls_connect(const struct kura_tls_config *cfg, struct kura_tls **ret);

/* Write all n bytes of p, or fail with KURA_EIO (peer gone, timeout). */
int kura_tls_write_all(struct kura_tls *t, const void *p, size_t n);

/*
 * Look, without blocking, whether the connection is over: 1 if the peer
 * sent close_notify, FIN or RST, or the socket has an error; 0 if it is
 * still open.  Post-handshake messages the server sent (TLS 1.3 session
 * tickets) are consumed on the way; application data from the server (a
 * syslog receiver sends none) counts as open.
 */
int kura_tls_peer_closed(struct kura_tls *t);

/*
 * Wait up to timeout_ms (<= 0: the config's timeout) until the kernel holds
 * no unacknowledged bytes for this socket (ioctl SIOCOUTQ == 0): the peer's
 * TCP stack has acknowledged everything written.  That is not proof that the
 * receiving application read or stored it (see docs/formats/syslog.md).
 * KURA_EIO on timeout, on a socket error, or if the peer has closed.
 */
int kura_tls_drain(struct kura_tls *t, int timeout_ms);

/* Send close_notify (without waiting for the peer's), close the socket and
 * free everything.  Accepts NULL. */
void kura_tls_close(struct kura_tls *t);

#endif
