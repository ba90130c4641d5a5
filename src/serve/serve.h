/*
 * serve.h - `kura serve`: the HTTPS server's configuration, its per-loop
 * state, and the entry points of the handlers the router calls (issue 5;
 * MISSION K4; REQUIREMENTS NW-*, TLS-01..05).
 *
 * Modules (docs/ARCHITECTURE.md "serve"):
 *   server.c, config.c, router.c, metrics.c, http.c - the server: listeners,
 *       TLS policy, limits, event loops, routing, /healthz, /metrics, logs;
 *   session.c, api.c, ledger_api.c - who is asking (cookie, bearer token,
 *       client certificate), /api/login|logout|me, /api/ledger/...;
 *   fhir*.c, capability.c, outcome.c - FHIR R4 under /fhir.
 */
#ifndef KURA_SERVE_SERVE_H
#define KURA_SERVE_SERVE_H

#include <stdint.h>

#include "backup/scan.h"
#include "serve/http.h"

/* Named limits (docs/SERVE.md); every default is safe. */
struct kura_serve_limits {
	size_t max_header_bytes;      /* 16 KiB */
	unsigned max_headers;         /* 64 */
	size_t max_body_bytes;        /* 16 MiB (documents up to this size) */
	unsigned max_json_depth;      /* 64 */
	unsigned max_bundle_entries;  /* 1000 */
	unsigned max_connections;     /* 1024 in all */
	unsigned max_conn_per_ip;     /* 64 */
	unsigned rate_per_account;    /* requests per second, 0: none */
	unsigned rate_per_ip;
	unsigned header_timeout_s;    /* 10 */
	unsigned body_timeout_s;      /* 30 */
	unsigned idle_timeout_s;      /* 60 */
	unsigned max_search_count;    /* _count is capped here: 100 */
};

/* One event loop's state.  Each loop opens the vault itself (its own
 * SQLite connection); handlers use only their own loop's. */
struct kura_serve_thread {
	struct kura_vault *v;
	struct kura_scanner *scanner;      /* NULL when scanning is off (then scan_off) */
	int scan_off;                      /* the configuration said scanning = off */
	const struct kura_serve_limits *limits;
	const char *base_url;              /* "https://host:port", for FHIR links */
	unsigned index;                    /* which loop */
	void *server;                      /* server.c's own */
	void *auth_cache;                  /* session.c's own: machine certificates' sessions;
					    * NULL at start, freed by kura_serve_auth_cache_free */
};

/* ---- who is asking (session.c; docs/formats/http-api.md) ---- */

/* Sessions of machine certificates kept per loop (fingerprint -> session
 * token), so a certificate client is not logged in anew on every request;
 * the least recently used entry makes room. */
#define KURA_SERVE_CERT_CACHE 64
/* The largest body POST /api/login reads (413 above). */
#define KURA_SERVE_MAX_LOGIN_BODY 8192u
/* The session cookie and the header that carries its CSRF token. */
#define KURA_SESSION_COOKIE "kura_session"
#define KURA_CSRF_HEADER "X-CSRF-Token"

enum kura_http_auth_via { KURA_VIA_NONE = 0, KURA_VIA_COOKIE, KURA_VIA_BEARER, KURA_VIA_CERT };

struct kura_http_auth {
	struct kura_identity id;
	struct kura_access a;   /* bound to the thread's vault and id */
	int via;                /* enum kura_http_auth_via */
};

/*
 * Authenticate a request: a session cookie (then a state-changing method
 * must carry the matching X-CSRF-Token header), a bearer token
 * (Authorization: Bearer <session token>), or a client certificate mapped to
 * a machine account.  Idle and absolute session limits apply.  On failure
 * resp is filled (401 with WWW-Authenticate, or 403 for a bad CSRF token,
 * as JSON or a FHIR OperationOutcome when fhir is set) and the error is
 * returned; the failure is audited when there was a credential to fail.
 */
int kura_serve_authenticate(const struct kura_http_req *req, int fhir, struct kura_http_auth *ret,
			    struct kura_http_resp *resp);
/*
 * The details of kura_serve_authenticate:
 *  - the credential used is the first present of: the cookie kura_session,
 *    an Authorization header (which must then be "Bearer <token>"), the
 *    client certificate; a bad one is final (no fall-through to the next);
 *  - a person's certificate alone is refused (AU-03: it counts with a
 *    password at POST /api/login); a machine's (role system) logs in and its
 *    session is cached in thread->auth_cache;
 *  - a session that must change its password or enrol a second factor may
 *    only reach /api/me, /api/logout, /api/password and /api/factors (403);
 *  - ret->a points into ret: do not copy ret after the call.
 * Returns 0; KURA_EAUTH, KURA_EEXPIRED or KURA_ELOCKED (401) or
 * KURA_EDENIED (403) with resp filled: the handler then returns 0; any
 * other error is internal (resp untouched: return it, the server says 500).
 */

/* The CSRF token of a session (by its state key, kura_identity.session):
 * HMAC of the key under the vault's state key (kura_state_digest, label
 * "/csrf"), so nothing more is stored and it dies with the session. */
int kura_serve_csrf_token(struct kura_vault *v, const char *session_key,
			  char ret[KURA_TOKEN_HEX + 1]);
/* Forget the loop's cached certificate sessions (wiped); thread->auth_cache
 * is NULL after.  Called by the server when a loop ends. */
void kura_serve_auth_cache_free(struct kura_serve_thread *th);

/* ---- handlers the router calls ---- */

int kura_api_login(const struct kura_http_req *req, struct kura_http_resp *resp);   /* POST /api/login */
int kura_api_logout(const struct kura_http_req *req, struct kura_http_resp *resp);  /* POST /api/logout */
int kura_api_me(const struct kura_http_req *req, struct kura_http_resp *resp);      /* GET /api/me */
int kura_api_ledger(const struct kura_http_req *req, struct kura_http_resp *resp);  /* GET /api/ledger/... */
int kura_fhir_handle(const struct kura_http_req *req, struct kura_http_resp *resp); /* /fhir... */

#endif
