/*
 * tls.c - a blocking, mutually authenticated TLS client over TCP with
 * OpenSSL 3, for the RFC 5425 syslog export.
 */
#include "crypto/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/banned.h"

#define DEFAULT_TIMEOUT_MS 10000

/* TLS 1.2 only: forward secrecy and AEAD, nothing else (RFC 9325 §4.2).
 * TLS 1.3's own suites are all AEAD with (EC)DHE and keep OpenSSL's default. */
#define TLS12_CIPHERS                                                \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"

/* What our BIO reads and writes: the socket, and whether this call may
 * block (the socket itself stays blocking, with SO_RCVTIMEO/SO_SNDTIMEO). */
struct sock_io {
	int fd;
	int dontwait;
};

struct kura_tls {
	SSL_CTX *ctx;
	SSL *ssl;
	BIO_METHOD *meth;
	struct sock_io io;
	int timeout_ms;
	int broken; /* a fatal TLS error happened: no close_notify then */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The socket BIO of OpenSSL writes with write(2), which raises SIGPIPE on a
 * closed connection; ours sends with MSG_NOSIGNAL instead. */
static int sock_write(BIO *b, const char *p, int n)
{
	struct sock_io *io = BIO_get_data(b);
	int flags = MSG_NOSIGNAL | (io->dontwait ? MSG_DONTWAIT : 0);
	ssize_t k;
	BIO_clear_retry_flags(b);
	do
		k = send(io->fd, p, (size_t)n, flags);
	while (k < 0 && errno == EINTR);
	if (k < 0 && io->dontwait && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)k;
}

static int sock_read(BIO *b, char *p, int n)
{
	struct sock_io *io = BIO_get_data(b);
	int flags = io->dontwait ? MSG_DONTWAIT : 0;
	ssize_t k;
	BIO_clear_retry_flags(b);
	do
		k = recv(io->fd, p, (size_t)n, flags);
	while (k < 0 && errno == EINTR);
	if (k < 0 && io->dontwait && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return (int)k;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sock_bio_new(struct kura_tls *t, BIO **ret)
{
	*ret = NULL;
	t->meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kura socket");
	if (!t->meth || !BIO_meth_set_write(t->meth, sock_write) ||
	    !BIO_meth_set_read(t->meth, sock_read) ||
	    !BIO_meth_set_ctrl(t->meth, sock_ctrl))
		return KURA_ENOMEM;
	BIO *b = BIO_new(t->meth);
	if (!b)
		return KURA_ENOMEM;
	BIO_set_data(b, &t->io);
	BIO_set_init(b, 1);
	*ret = b;
	return 0;
}

/* Blocking again, with per-call timeouts, and without Nagle's delay. */
static int sock_setup(int fd, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	int one = 1;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return KURA_EIO;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return KURA_EIO;
	return 0;
}

static int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

static int tcp_connect_one(const struct addrinfo *ai, int timeout_ms, int *ret_fd)
{
	int r = KURA_EIO;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
	if (fd < 0)
		return KURA_EIO;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int k;
		if (errno != EINPROGRESS)
			goto out;
		do
			k = poll(&p, 1, timeout_ms);
		while (k < 0 && errno == EINTR);
		if (k != 1 || sock_error(fd))
			goto out;
	}
	r = sock_setup(fd, timeout_ms);
	if (r)
		goto out;
	*ret_fd = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static int tcp_connect(const struct kura_tls_config *cfg, int timeout_ms, int *ret_fd)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	int r = KURA_EIO;
	if (getaddrinfo(cfg->host, cfg->port, &hints, &res) != 0)
		return KURA_EIO;
	for (const struct addrinfo *ai = res; ai && r; ai = ai->ai_next)
		r = tcp_connect_one(ai, timeout_ms, ret_fd);
	freeaddrinfo(res);
	return r;
}

static int ctx_new(const struct kura_tls_config *cfg, SSL_CTX **ret)
{
	int r = KURA_EINTERNAL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return KURA_ENOMEM;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS))
		goto out;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_security_level(ctx, 2);
	r = KURA_EINVAL;
	if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	*ret = ctx;
	ctx = NULL;
	r = 0;
out:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return r;
}

/* An address is checked against the IP SANs, a name against the DNS SANs
 * (never the subject CN) and sent as SNI. */
static int set_peer_name(SSL *ssl, const char *name)
{
	unsigned char a[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1
			       ? 0
			       : KURA_EINVAL;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
				       X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	if (SSL_set1_host(ssl, name) != 1 || SSL_set_tlsext_host_name(ssl, name) != 1)
		return KURA_EINVAL;
	return 0;
}

static int handshake(struct kura_tls *t, const char *name)
{
	BIO *b = NULL;
	int r = KURA_ENOMEM;
	t->ssl = SSL_new(t->ctx);
	if (!t->ssl)
		return KURA_ENOMEM;
	r = set_peer_name(t->ssl, name);
	if (r)
		return r;
	r = sock_bio_new(t, &b);
	if (r)
		return r;
	SSL_set_bio(t->ssl, b, b);
	int k = SSL_connect(t->ssl);
	if (k == 1)
		return 0;
	t->broken = 1;
	if (SSL_get_verify_result(t->ssl) != X509_V_OK ||
	    SSL_get_error(t->ssl, k) == SSL_ERROR_SSL)
		return KURA_ECRYPTO;
	return KURA_EIO;
}

static int config_valid(const struct kura_tls_config *cfg)
{
	return cfg && cfg->host && *cfg->host && cfg->port && *cfg->port &&
	       cfg->ca_file && cfg->cert_file && cfg->key_file;
}

int kura_tls_connect(const struct kura_tls_config *cfg, struct kura_tls **ret)
{
	int r = KURA_EINVAL;
	struct kura_tls *t = NULL;
	*ret = NULL;
	if (!config_valid(cfg))
		goto out;
	r = KURA_ENOMEM;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto out;
	t->io.fd = -1;
	t->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	r = ctx_new(cfg, &t->ctx);
	if (r)
		goto out;
	r = tcp_connect(cfg, t->timeout_ms, &t->io.fd);
	if (r)
		goto out;
	r = handshake(t, cfg->server_name && *cfg->server_name ? cfg->server_name
							       : cfg->host);
	if (r)
		goto out;
	*ret = t;
	t = NULL;
out:
	ERR_clear_error();
	kura_tls_close(t);
	return r;
}

int kura_tls_write_all(struct kura_tls *t, const void *p, size_t n)
{
	const unsigned char *c = p;
	while (n > 0) {
		size_t k = 0;
		if (SSL_write_ex(t->ssl, c, n, &k) != 1) {
			t->broken = 1;
			ERR_clear_error();
			return KURA_EIO;
		}
		c += k;
		n -= k;
	}
	return 0;
}

int kura_tls_peer_closed(struct kura_tls *t)
{
	struct pollfd p = {.fd = t->io.fd, .events = POLLIN | POLLRDHUP};
	if (poll(&p, 1, 0) < 0)
		return errno == EINTR ? 0 : 1;
	if (p.revents & (POLLERR | POLLNVAL))
		return 1;
	if (!(p.revents & (POLLIN | POLLRDHUP | POLLHUP)))
		return 0;
	/* Something to read: session tickets, an alert, close_notify or EOF. */
	char c;
	size_t n = 0;
	t->io.dontwait = 1;
	int k = SSL_peek_ex(t->ssl, &c, 1, &n);
	int e = k == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, k);
	t->io.dontwait = 0;
	ERR_clear_error();
	if (e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ)
		return 0;
	if (e != SSL_ERROR_ZERO_RETURN)
		t->broken = 1;
	return 1;
}

int kura_tls_drain(struct kura_tls *t, int timeout_ms)
{
	int64_t end = now_ms() + (timeout_ms > 0 ? timeout_ms : t->timeout_ms);
	for (;;) {
		int q = 0;
		if (ioctl(t->io.fd, SIOCOUTQ, &q) < 0)
			return KURA_EIO;
		/* An RST empties the queue too: look at the socket before
		 * calling it delivered. */
		if (q == 0)
			return sock_error(t->io.fd) || kura_tls_peer_closed(t) ? KURA_EIO
									       : 0;
		if (now_ms() >= end)
			return KURA_EIO;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void kura_tls_close(struct kura_tls *t)
{
	if (!t)
		return;
	if (t->ssl && !t->broken && t->io.fd >= 0) {
		/* Read what the server sent (tickets) first: closing a socket
		 * with unread data makes the kernel send RST, not FIN.  The
		 * close_notify is sent without waiting for the server's. */
		kura_tls_peer_closed(t);
		t->io.dontwait = 1;
		if (!t->broken)
			SSL_shutdown(t->ssl);
	}
	ERR_clear_error();
	SSL_free(t->ssl);
	if (t->io.fd >= 0)
		close(t->io.fd);
	SSL_CTX_free(t->ctx);
	BIO_meth_free(t->meth);
	free(t);
}
