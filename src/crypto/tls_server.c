/*
 * tls_server.c - SSL_CTX of a mutual-TLS server (tls_server.h).
 */
#include "crypto/tls_server.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/banned.h"

#define TLS12_CIPHERS                                                \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define VERIFY_DEPTH 4
#define SESSION_CONTEXT "kura-receiver"

struct kura_tls_server {
	SSL_CTX *ctx;
};

static int ctx_policy(SSL_CTX *ctx)
{
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS))
		return KURA_EINTERNAL;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_security_level(ctx, 2);
	if (!SSL_CTX_set_session_id_context(ctx, (const unsigned char *)SESSION_CONTEXT,
					    sizeof(SESSION_CONTEXT) - 1))
		return KURA_EINTERNAL;
	return 0;
}

static int ctx_files(SSL_CTX *ctx, const char *cert, const char *key, const char *ca)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		return KURA_EINVAL;
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
	if (!names)
		return KURA_EINVAL;
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, VERIFY_DEPTH);
	return 0;
}

int kura_tls_server_new(const char *cert_file, const char *key_file, const char *client_ca_file,
			struct kura_tls_server **ret)
{
	*ret = NULL;
	if (!cert_file || !key_file || !client_ca_file)
		return KURA_EINVAL;
	struct kura_tls_server *s = calloc(1, sizeof(*s));
	if (!s)
		return KURA_ENOMEM;
	s->ctx = SSL_CTX_new(TLS_server_method());
	int r = s->ctx ? ctx_policy(s->ctx) : KURA_ENOMEM;
	if (!r)
		r = ctx_files(s->ctx, cert_file, key_file, client_ca_file);
	ERR_clear_error();
	if (r) {
		kura_tls_server_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void kura_tls_server_free(struct kura_tls_server *s)
{
	if (!s)
		return;
	SSL_CTX_free(s->ctx);
	free(s);
}

struct ssl_st *kura_tls_server_ssl(struct kura_tls_server *s)
{
	return SSL_new(s->ctx);
}

void kura_tls_peer_fingerprint(struct ssl_st *ssl, char out[KURA_CERT_FP_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	out[0] = '\0';
	X509 *x = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	if (!x || SSL_get_verify_result(ssl) != X509_V_OK)
		return;
	if (X509_digest(x, EVP_sha256(), md, &len) == 1 && len == KURA_CERT_FP_HEX / 2)
		kura_hex_encode(md, len, out);
}
