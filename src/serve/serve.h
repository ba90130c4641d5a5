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
	unsigned handshake_timeout_s; /* 10: TLS handshake and first request's headers */
	unsigned drain_timeout_s;     /* 30: SIGTERM waits this long for requests in flight */
};

/* Upper bounds of what a configuration may set (config.c refuses more). */
#define KURA_SERVE_MAX_LISTENERS 16
#define KURA_SERVE_MAX_THREADS 256
#define KURA_SERVE_PATH 1024

enum kura_mtls { KURA_MTLS_OFF = 0, KURA_MTLS_OPTIONAL, KURA_MTLS_REQUIRED };

/* One `listen = ADDR:PORT [mtls=required|optional|off]` line. */
struct kura_serve_listener {
	char addr[256];  /* "0.0.0.0:8443", "[::1]:8443" as written */
	char host[256];  /* the address part, brackets removed */
	unsigned port;   /* 0: any free port (tests) */
	int mtls;        /* enum kura_mtls; default KURA_MTLS_REQUIRED */
};

/* The whole INI file (docs/SERVE.md lists every key and default). */
struct kura_serve_config {
	struct kura_serve_listener listen[KURA_SERVE_MAX_LISTENERS];
	unsigned nlisten;
	unsigned threads;             /* 0 in the file or absent: number of CPUs */
	char cert[KURA_SERVE_PATH], key[KURA_SERVE_PATH];
	char client_ca[KURA_SERVE_PATH]; /* required unless every listener has mtls=off */
	char crl[KURA_SERVE_PATH];    /* "" for none */
	unsigned hsts_max_age;        /* 63072000 (two years) */
	unsigned ticket_rotate_s;     /* 3600: session ticket keys replaced this often */
	char vault_dir[KURA_SERVE_PATH], passphrase_file[KURA_SERVE_PATH];
	struct kura_serve_limits limits;
	char clamav_db[KURA_SERVE_PATH];
	int scanning;                 /* 1 unless `scanning = off` */
	char log[KURA_SERVE_PATH];    /* "" or "-": stderr */
};

/* Defaults: no listener, safe limits, scanning on. */
void kura_serve_config_default(struct kura_serve_config *cfg);
/*
 * Read the INI file at path over the defaults.  Unknown sections and keys,
 * bad values and missing required keys are refused with "path:line: what"
 * (or "path: what") in err.  KURA_ENOTFOUND/KURA_EIO when the file cannot
 * be read, KURA_EINVAL for its content.
 */
int kura_serve_config_load(const char *path, struct kura_serve_config *ret, char err[256]);
/* "host:port" or "[v6]:port" [mtls=...] into a listener; KURA_EINVAL. */
int kura_serve_parse_listen(const char *s, struct kura_serve_listener *ret);

/* ---- the server (server.c) ---- */

struct kura_server;
/*
 * Load the TLS contexts (one per mtls mode in use), the scanner (refused
 * with zero signatures unless scanning = off) and open the vault once per
 * event loop with pass.  Nothing listens yet.  err gets a one-line reason.
 */
int kura_server_new(const struct kura_serve_config *cfg, const char *pass, size_t passlen,
		    struct kura_server **ret, char err[256]);
/* Bind every listener in every loop (SO_REUSEPORT; a port 0 is chosen by
 * the first loop and shared).  KURA_EIO with err on failure. */
int kura_server_bind(struct kura_server *s, char err[256]);
/* "https://ADDR:PORT" of listener i once bound, else "". */
const char *kura_server_url(const struct kura_server *s, unsigned i);
/*
 * Run the loops until SIGTERM or SIGINT (graceful: stop accepting, finish
 * requests in flight up to drain_timeout_s, then return 0).  SIGUSR1 closes
 * every listener, SIGUSR2 opens them again (same addresses and ports).
 * Blocks those signals in the calling thread.
 */
int kura_server_run(struct kura_server *s);
void kura_server_free(struct kura_server *s);

/* ---- routing (router.c): a pure function of the path and method ---- */

enum kura_route_id {
	KURA_ROUTE_NONE = 0, /* 404 */
	KURA_ROUTE_HEALTHZ,
	KURA_ROUTE_METRICS,
	KURA_ROUTE_LOGIN,
	KURA_ROUTE_LOGOUT,
	KURA_ROUTE_ME,
	KURA_ROUTE_LEDGER,
	KURA_ROUTE_FHIR,
	KURA_ROUTE_PASSWORD,  /* the web UI's API (issue 6; docs/formats/ui-api.md) */
	KURA_ROUTE_FACTORS,
	KURA_ROUTE_PATIENTS,
	KURA_ROUTE_RECORDS,
	KURA_ROUTE_BREAKGLASS,
	KURA_ROUTE_AUDIT,
	KURA_ROUTE_ADMIN,
	KURA_ROUTE_UI_ROOT,   /* the web UI's page and assets (static.c) */
	KURA_ROUTE_UI,
	KURA_ROUTE_COUNT
};

/*
 * Which route path (without the query) names, and whether method is
 * allowed on it: returns the route (KURA_ROUTE_NONE for an unknown path,
 * also for paths with "..", "//", NUL or control bytes), and sets
 * *ret_allowed to 1 if method may be used there, else 0 (then the answer is
 * 405 with the Allow header kura_route_allow gives).  Never reads beyond
 * path's NUL; never allocates.
 */
int kura_route(const char *path, int method, int *ret_allowed);
/* The Allow header value of a route ("GET, HEAD"), "" for NONE. */
const char *kura_route_allow(int route);
/* Its name for logs and metrics ("healthz", "fhir", "none"...). */
const char *kura_route_name(int route);

/* Dispatch a request (what server.c calls for every request): the route,
 * 405/404 as JSON, /healthz and /metrics here, the other handlers of this
 * header.  Returns the handler's result (nonzero: answer 500). */
int kura_serve_dispatch(const struct kura_http_req *req, struct kura_http_resp *resp,
			int *ret_route);

/*
 * Per-account rate limit (token bucket of [limits] rate_per_account, shared
 * by every loop).  Who authenticates a request calls this with the account
 * id: 0 if the request may go on, else KURA_EBUSY with resp filled (503,
 * Retry-After).  Always 0 when the limit is 0 or outside the server (tests).
 */
int kura_serve_rate_account(const struct kura_http_req *req, const char *account,
			    struct kura_http_resp *resp);
/* Count an authentication failure for /metrics (session.c calls it). */
void kura_serve_count_auth_failure(const struct kura_http_req *req);

struct kura_committer;

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
	struct kura_serve_metrics *metrics;  /* shared by the loops (serve_int.h); may be NULL */
	struct kura_serve_limiter *limiter;  /* shared; NULL: no limits (tests) */
	struct kura_committer *committer;    /* shared (commit.h); NULL: reads commit
					      * their own event (tests) */
	const struct kura_serve_config *cfg; /* the server's configuration, read-only
					      * (GET /api/admin/status); NULL in tests */
};

/* ---- who is asking (session.c; docs/formats/http-api.md) ---- */

/* Sessions of machine certificates kept per loop (fingerprint -> session
 * token), so a certificate client is not logged in anew on every request;
 * the least recently used entry makes room. */
#define KURA_SERVE_CERT_CACHE 64
/* Sessions resumed lately, kept per loop (session.c resume): an entry is
 * used for up to KURA_SERVE_SESSION_RECHECK_US, then read and checked again;
 * a logout through the server ends every copy at once. */
#define KURA_SERVE_SESSION_CACHE 256
#define KURA_SERVE_SESSION_RECHECK_US 1000000
/* Every loop reads its cached sessions again before their next use: for a
 * handler of this process that ends sessions or changes accounts. */
void kura_serve_sessions_changed(void);
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
/* The web UI's API (docs/formats/ui-api.md). */
int kura_api_password(const struct kura_http_req *req, struct kura_http_resp *resp); /* /api/password */
int kura_api_factors(const struct kura_http_req *req, struct kura_http_resp *resp);  /* /api/factors/... */
int kura_api_patients(const struct kura_http_req *req, struct kura_http_resp *resp); /* /api/patients... */
int kura_api_records(const struct kura_http_req *req, struct kura_http_resp *resp);  /* /api/records/... */
int kura_api_breakglass(const struct kura_http_req *req, struct kura_http_resp *resp); /* /api/breakglass */
int kura_api_audit(const struct kura_http_req *req, struct kura_http_resp *resp);    /* /api/audit/... */
int kura_api_admin(const struct kura_http_req *req, struct kura_http_resp *resp);    /* /api/admin/... */
int kura_ui_static(const struct kura_http_req *req, struct kura_http_resp *resp);    /* / and /ui/... */

#endif
