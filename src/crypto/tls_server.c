/*
 * tls_server.c - SSL_CTX of a TLS server with the policy of tls_server.h:
 * protocol and suites, client certificates (required, optional or none)
 * with an optional CRL, rotated session ticket keys, connection hooks.
 */
#include "crypto/tls_server.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/banned.h"

#define TLS12_CIPHERS                                                \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256"
#define TLS13_SUITES "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define GROUPS "P-256:X25519:P-384"
#define VERIFY_DEPTH 4
#define SECURITY_LEVEL 2

void kura_tls_server_policy(struct kura_tls_policy *ret)
{
	*ret = (struct kura_tls_policy){"TLSv1.3:TLSv1.2", TLS13_SUITES, TLS12_CIPHERS, GROUPS,
					SECURITY_LEVEL};
}
#define TICKET_NAME 16
#define TICKET_KEY 32

struct ticket_key {
	unsigned char name[TICKET_NAME], aes[TICKET_KEY], hmac[TICKET_KEY];
	int set;
};

struct kura_tls_server {
	SSL_CTX *ctx;
	struct kura_tls_server_opts o;
	pthread_mutex_t mu; /* guards keys */
	struct ticket_key keys[2]; /* [0] current, [1] previous */
};

/* One ex_data index for every server: the connection pointer of an SSL. */
static int conn_index = -1;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;

static struct kura_tls_server *server_of(SSL *ssl)
{
	return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	struct kura_tls_server *s = parent ? server_of(parent) : NULL;
	if (ptr && s && s->o.release)
		s->o.release(ptr);
}

static void conn_index_init(void)
{
	conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
}

static int ctx_policy(SSL_CTX *ctx, const char *context)
{
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) ||
	    !SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) || !SSL_CTX_set1_groups_list(ctx, GROUPS) ||
	    !SSL_CTX_set_dh_auto(ctx, 1))
		return KURA_EINTERNAL;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_security_level(ctx, SECURITY_LEVEL);
	if (!SSL_CTX_set_session_id_context(ctx, (const unsigned char *)context, strlen(context)))
		return KURA_EINTERNAL;
	return 0;
}

static int ctx_crl(SSL_CTX *ctx, const char *crl)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	X509_LOOKUP *lk = st ? X509_STORE_add_lookup(st, X509_LOOKUP_file()) : NULL;
	if (!lk || X509_load_crl_file(lk, crl, X509_FILETYPE_PEM) < 1)
		return KURA_EINVAL;
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	return 0;
}

static int ctx_files(SSL_CTX *ctx, const struct kura_tls_server_opts *o)
{
	static const int verify[] = {SSL_VERIFY_NONE, SSL_VERIFY_PEER,
				     SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT};
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return KURA_EINVAL;
	if (o->mtls < KURA_TLS_MTLS_OFF || o->mtls > KURA_TLS_MTLS_REQUIRED)
		return KURA_EINVAL;
	SSL_CTX_set_verify(ctx, verify[o->mtls], NULL);
	if (o->mtls == KURA_TLS_MTLS_OFF)
		return 0;
	if (!o->client_ca_file || SSL_CTX_load_verify_locations(ctx, o->client_ca_file, NULL) != 1)
		return KURA_EINVAL;
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->client_ca_file);
	if (!names)
		return KURA_EINVAL;
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify_depth(ctx, VERIFY_DEPTH);
	return o->crl_file ? ctx_crl(ctx, o->crl_file) : 0;
}

static int client_hello(SSL *ssl, int *alert, void *arg)
{
	struct kura_tls_server *s = arg;
	void *conn = SSL_get_ex_data(ssl, conn_index);
	if (!conn || !s->o.admit || s->o.admit(conn, SSL_get_fd(ssl)) == 0)
		return SSL_CLIENT_HELLO_SUCCESS;
	*alert = SSL_AD_HANDSHAKE_FAILURE;
	return SSL_CLIENT_HELLO_ERROR;
}

static void info(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_DONE))
		return;
	struct kura_tls_server *s = server_of((SSL *)ssl);
	void *conn = SSL_get_ex_data(ssl, conn_index);
	if (conn && s && s->o.done)
		s->o.done(conn);
}

static int ticket_mac(EVP_MAC_CTX *hctx, const unsigned char *key)
{
	OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
			  OSSL_PARAM_construct_end()};
	return EVP_MAC_init(hctx, key, TICKET_KEY, p) == 1 ? 0 : -1;
}

/* The key to encrypt with (current), or the one a ticket names: its index or -1. */
static int ticket_key_find(struct kura_tls_server *s, const unsigned char *name, int enc,
			   struct ticket_key *ret)
{
	int which = -1;
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < 2 && which < 0; i++)
		if (s->keys[i].set && (enc ? i == 0 : memcmp(name, s->keys[i].name, TICKET_NAME) == 0))
			which = i;
	if (which >= 0)
		*ret = s->keys[which];
	pthread_mutex_unlock(&s->mu);
	return which;
}

/* OpenSSL's ticket callback: 1 use the key, 2 use it and issue a new ticket
 * (the previous key), 0 unknown key (full handshake), -1 error. */
static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ctx,
		     EVP_MAC_CTX *hctx, int enc)
{
	struct ticket_key k = {0};
	int which = ticket_key_find(server_of(ssl), name, enc, &k);
	int r = which < 0 ? 0 : which == 0 ? 1 : 2;
	if (which >= 0 && enc) {
		memcpy(name, k.name, TICKET_NAME);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1 ||
		    EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1 ||
		    ticket_mac(hctx, k.hmac))
			r = -1;
	} else if (which >= 0 && (EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1 ||
				  ticket_mac(hctx, k.hmac))) {
		r = -1;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return r;
}

int kura_tls_server_rotate_tickets(struct kura_tls_server *s)
{
	struct ticket_key k = {.set = 1};
	if (RAND_priv_bytes(k.name, sizeof(k.name)) != 1 || RAND_priv_bytes(k.aes, sizeof(k.aes)) != 1 ||
	    RAND_priv_bytes(k.hmac, sizeof(k.hmac)) != 1)
		return KURA_ECRYPTO;
	pthread_mutex_lock(&s->mu);
	s->keys[1] = s->keys[0];
	s->keys[0] = k;
	pthread_mutex_unlock(&s->mu);
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

static int server_setup(struct kura_tls_server *s)
{
	s->ctx = SSL_CTX_new(TLS_server_method());
	if (!s->ctx)
		return KURA_ENOMEM;
	SSL_CTX_set_app_data(s->ctx, s);
	int r = ctx_policy(s->ctx, s->o.session_context ? s->o.session_context : "kura");
	if (!r)
		r = ctx_files(s->ctx, &s->o);
	if (!r)
		r = kura_tls_server_rotate_tickets(s);
	if (r)
		return r;
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(s->ctx, ticket_cb) != 1)
		return KURA_EINTERNAL;
	SSL_CTX_set_client_hello_cb(s->ctx, client_hello, s);
	SSL_CTX_set_info_callback(s->ctx, info);
	return 0;
}

int kura_tls_server_open(const struct kura_tls_server_opts *o, struct kura_tls_server **ret)
{
	*ret = NULL;
	if (!o->cert_file || !o->key_file || pthread_once(&conn_once, conn_index_init) ||
	    conn_index < 0)
		return KURA_EINVAL;
	struct kura_tls_server *s = calloc(1, sizeof(*s));
	if (!s)
		return KURA_ENOMEM;
	if (pthread_mutex_init(&s->mu, NULL)) {
		free(s);
		return KURA_ENOMEM;
	}
	s->o = *o;
	int r = server_setup(s);
	ERR_clear_error();
	if (r) {
		kura_tls_server_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int kura_tls_server_new(const char *cert_file, const char *key_file, const char *client_ca_file,
			struct kura_tls_server **ret)
{
	struct kura_tls_server_opts o = {.cert_file = cert_file, .key_file = key_file,
					 .client_ca_file = client_ca_file,
					 .mtls = KURA_TLS_MTLS_REQUIRED,
					 .session_context = "kura-receiver"};
	*ret = NULL;
	if (!client_ca_file)
		return KURA_EINVAL;
	return kura_tls_server_open(&o, ret);
}

void kura_tls_server_free(struct kura_tls_server *s)
{
	if (!s)
		return;
	SSL_CTX_free(s->ctx);
	OPENSSL_cleanse(s->keys, sizeof(s->keys));
	pthread_mutex_destroy(&s->mu);
	free(s);
}

struct ssl_st *kura_tls_server_ssl(struct kura_tls_server *s)
{
	return SSL_new(s->ctx);
}

struct ssl_st *kura_tls_server_ssl_conn(struct kura_tls_server *s, void *conn)
{
	SSL *ssl = SSL_new(s->ctx);
	if (ssl && SSL_set_ex_data(ssl, conn_index, conn) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

void *kura_tls_conn(struct ssl_st *ssl)
{
	return ssl && conn_index >= 0 ? SSL_get_ex_data(ssl, conn_index) : NULL;
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

void kura_tls_peer_subject(struct ssl_st *ssl, char *out, size_t cap)
{
	X509 *x = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	BIO *b = NULL;
	char *p = NULL;
	if (cap)
		out[0] = '\0';
	if (!x || !cap || SSL_get_verify_result(ssl) != X509_V_OK || !(b = BIO_new(BIO_s_mem())))
		return;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
		long n = BIO_get_mem_data(b, &p);
		size_t k = n > 0 ? (size_t)n : 0;
		if (k >= cap)
			k = cap - 1;
		for (size_t i = 0; i < k; i++)
			out[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
		out[k] = '\0';
	}
	BIO_free(b);
}

const char *kura_tls_version(struct ssl_st *ssl)
{
	return ssl && SSL_is_init_finished(ssl) ? SSL_get_version(ssl) : "";
}
