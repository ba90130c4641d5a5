/*
 * http.h - what a request handler of `kura serve` sees and returns
 * (issue 5).  The server (server.c: libevent + OpenSSL, one event loop per
 * core) turns each HTTPS request into a struct kura_http_req and the
 * handler's struct kura_http_resp back into an answer; handlers never
 * touch libevent or OpenSSL, so they are unit-tested and fuzzed without a
 * network.  Only the router (router.c) decides which handler runs.
 *
 * Threads: each event loop has its own struct kura_serve_thread (its own
 * vault handle, so its own SQLite connection); a handler runs on the
 * loop's thread and may block on the vault (SQLite is fast; fsyncs are the
 * durability the caller asked for).
 */
#ifndef KURA_SERVE_HTTP_H
#define KURA_SERVE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "auth/access.h"
#include "util/buf.h"
#include "vault/vault.h"

enum kura_http_method {
	KURA_HTTP_OTHER = 0, /* anything else: 405 */
	KURA_HTTP_GET,
	KURA_HTTP_HEAD,
	KURA_HTTP_POST,
	KURA_HTTP_PUT,
	KURA_HTTP_DELETE,
	KURA_HTTP_PATCH,
	KURA_HTTP_OPTIONS,
};

#define KURA_HTTP_MAX_HEADERS 64     /* more request headers: 431 */
#define KURA_HTTP_MAX_RESP_HEADERS 16

struct kura_http_header {
	const char *name;  /* as received; compare case-insensitively */
	const char *value;
};

/* What the server knows of the TLS peer. */
struct kura_http_peer {
	char ip[64];              /* client address, text */
	char cert_fp[65];         /* SHA-256 of the client certificate's DER, hex; "" if none */
	char cert_subject[256];   /* its subject, one line; "" if none */
};

struct kura_serve_thread; /* per event loop: the vault handle and settings (serve.h) */

struct kura_http_req {
	int method;                /* enum kura_http_method */
	const char *path;          /* the path as received, without the query: "/fhir/Patient/123" */
	const char *query;         /* the raw query string after '?', or NULL */
	const struct kura_http_header *headers;
	size_t nheaders;
	const uint8_t *body;       /* may be NULL when body_len is 0 */
	size_t body_len;
	const struct kura_http_peer *peer;
	struct kura_serve_thread *thread;
	uint64_t id;               /* request number, for logs */
};

/*
 * An answer that may be sent only once an audit event is durable (the
 * content of a read): a handler of a loop with a committer (serve.h) sets
 * `on` and fills event and session instead of committing the event itself;
 * the server commits it with others (commit.h) and then sends the answer,
 * or a 500 without it (the prepared body wiped) if the commit failed.
 */
struct kura_http_defer {
	int on;
	struct kura_event event;
	char session[KURA_TOKEN_HEX + 1]; /* the session to touch, "" for none */
};

struct kura_http_resp {
	int status;                /* 200 ... */
	char content_type[96];     /* "" for none */
	struct kura_buf body;      /* initialised by the server (max KURA_HTTP_MAX_RESP_BODY) */
	struct kura_http_header headers[KURA_HTTP_MAX_RESP_HEADERS]; /* extra headers */
	char header_store[4096];   /* where kura_http_set_header copies names and values */
	size_t nheaders, store_used;
	unsigned retry_after;      /* with 503: seconds */
	struct kura_http_defer defer;
};

#define KURA_HTTP_MAX_RESP_BODY (80u * 1024 * 1024)

/* A request header's value (first match, case-insensitive name), or NULL. */
const char *kura_http_header(const struct kura_http_req *req, const char *name);
/* Add a response header (copied); KURA_ETOOBIG when there is no room. */
int kura_http_set_header(struct kura_http_resp *resp, const char *name, const char *value);
/* Set status, content type and body (copied) in one call. */
int kura_http_reply(struct kura_http_resp *resp, int status, const char *content_type,
		    const void *body, size_t len);

/* A handler fills resp (status, type, body, headers) and returns 0; a
 * nonzero return is an internal error (the server answers 500 and logs it,
 * never with patient data). */
typedef int (*kura_http_handler)(const struct kura_http_req *req, struct kura_http_resp *resp);

/* ---- query strings (search parameters) ----
 *
 * Iterate over "a=1&b=x%20y&c" one parameter at a time:
 *
 *	struct kura_http_query_iter it;
 *	char name[KURA_HTTP_QUERY_MAX_NAME], value[KURA_HTTP_QUERY_MAX_VALUE];
 *	int r;
 *	kura_http_query_init(&it, req->query);   // NULL or "" is an empty query
 *	while ((r = kura_http_query_next(&it, name, sizeof(name), value, sizeof(value))) == 1)
 *		use(name, value);
 *	if (r < 0) -> 400
 *
 * Each parameter is split at its first '='; without one its value is "".
 * Name and value are decoded ('+' becomes a space, %XX a byte, hex digits
 * of either case) and NUL-terminated in the caller's buffers.  Empty
 * parameters ("&&", a trailing '&') are skipped; an empty name ("=x") is
 * returned as "".  The decoded bytes are not checked for UTF-8: the caller
 * validates what it uses.  Names repeat as they come ("code=a&code=b" gives
 * two parameters); the order is that of the query.
 *
 * kura_http_query_next returns 1 with a parameter, 0 at the end, and a
 * negative error after which the iterator stays failed (every later call
 * returns the same error):
 *   KURA_EINVAL  a '%' not followed by two hex digits, or a decoded NUL byte
 *                (%00), or a raw control character (bytes below 0x20, 0x7f);
 *   KURA_ETOOBIG more than KURA_HTTP_QUERY_MAX_PARAMS parameters, a query
 *                longer than KURA_HTTP_QUERY_MAX_LEN, or a decoded name or
 *                value that does not fit its buffer (name_cap/value_cap
 *                include the NUL; never more than the MAX_NAME/MAX_VALUE
 *                limits below are needed).
 * The iterator points into the query string, which must outlive it.
 */
#define KURA_HTTP_QUERY_MAX_LEN 8192     /* raw query bytes */
#define KURA_HTTP_QUERY_MAX_PARAMS 64    /* parameters per query */
#define KURA_HTTP_QUERY_MAX_NAME 128     /* decoded name, with its NUL */
#define KURA_HTTP_QUERY_MAX_VALUE 2048   /* decoded value, with its NUL */

struct kura_http_query_iter {
	const char *p;     /* next byte to read */
	const char *end;
	unsigned count;    /* parameters returned so far */
	int err;           /* sticky error, 0 when none */
};

void kura_http_query_init(struct kura_http_query_iter *it, const char *query);
int kura_http_query_next(struct kura_http_query_iter *it, char *name, size_t name_cap,
			 char *value, size_t value_cap);

#endif
