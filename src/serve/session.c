/*
 * session.c - who is asking an HTTP request (serve.h kura_serve_authenticate;
 * AU-01..03, AC-01; docs/formats/http-api.md): a session cookie with its
 * CSRF token, a bearer token, or a machine's client certificate.  The same
 * decisions as the CLI's (cli/auth.c) over another transport: the auth
 * library decides and audits logins and expiries; this file adds the
 * failures only HTTP has (an unknown token, a CSRF mismatch, a person's
 * certificate without a password).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "serve/api_int.h"
#include "util/err.h"
#include "util/time.h"
#include "util/banned.h"

struct cert_entry {
	char fp[KURA_MAX_CERTFP + 1];
	char token[KURA_TOKEN_HEX + 1]; /* the whole cache is locked memory */
	char key[KURA_TOKEN_HEX + 1]; /* the session's state key */
	int64_t used_us; /* 0: free */
};

/* A session resumed lately, kept so that a client's next requests need not
 * read its session, account and role again (three state reads of the
 * audited read's dozen).  The entry holds no secret: the state key is the
 * hash of the token, and a hit needs the token itself. */
struct session_entry {
	char key[KURA_TOKEN_HEX + 1];
	struct kura_identity id; /* as kura_auth_resume gave it */
	int64_t checked_us;      /* 0: free */
	unsigned epoch;
};

struct auth_cache {
	struct cert_entry e[KURA_SERVE_CERT_CACHE];
	struct session_entry *s; /* KURA_SERVE_SESSION_CACHE of them, plain memory */
};

/* Bumped whenever this process ends a session (logout): every loop's cached
 * sessions are then read again before their next use. */
static atomic_uint session_epoch;

/* Why a request failed to authenticate: the answer to give. */
struct fail {
	int status;       /* 401 or 403 */
	const char *msg;  /* English, no secrets */
	const char *code; /* the OperationOutcome issue code */
	int cookie;       /* the cookie was the credential: clear it */
};

static int resume(struct kura_serve_thread *th, const char *token, struct kura_actor *where,
		  struct kura_identity *ret);

void session_where(const struct kura_http_req *req, struct kura_actor *ret)
{
	const char *ua = kura_http_header(req, "User-Agent");
	struct kura_buf term;
	memset(ret, 0, sizeof(*ret));
	kura_buf_init(&term, KURA_MAX_TERMINAL + 16);
	/* The user agent is the client's to choose: cut and cleaned by
	 * kura_audit_set, prefixed so the trail tells it from a host tty. */
	if (kura_buf_printf(&term, "https %.*s", (int)KURA_MAX_TERMINAL, ua ? ua : "-") == 0)
		KURA_AUDIT_SET(ret->terminal, (char *)term.data);
	kura_buf_release(&term);
	if (req->peer) {
		KURA_AUDIT_SET(ret->client_ip, req->peer->ip);
		KURA_AUDIT_SET(ret->cert_fp, req->peer->cert_fp);
	}
}

int kura_serve_csrf_token(struct kura_vault *v, const char *session_key,
			  char ret[KURA_TOKEN_HEX + 1])
{
	/* "/csrf" cannot be an account id, the label recovery codes use. */
	return kura_state_digest(v, "/csrf", session_key, strlen(session_key), ret);
}

/* A login-failed event for a credential that did not work. */
static int audit_failure(struct kura_vault *v, const struct kura_actor *where, const char *user,
			 const char *detail)
{
	struct kura_identity nobody;
	struct kura_access a = {v, &nobody, NULL, NULL, NULL};
	struct kura_event e;
	memset(&nobody, 0, sizeof(nobody)); /* no session: nothing to touch */
	kura_audit_event(&e, where, "login-failed");
	KURA_AUDIT_SET(e.actor, user ? user : "");
	KURA_AUDIT_SET(e.detail, detail);
	e.outcome = KURA_OUTCOME_MINOR;
	e.severity = KURA_SEV_WARNING;
	return kura_access_record(&a, &e);
}

static int is_token(const char *s, size_t n)
{
	if (n != KURA_TOKEN_HEX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* The value of the cookie kura_session in a Cookie header: 1 when the
 * cookie is there (tok gets it if it has the form of a token, else ""). */
static int cookie_token(const char *cookies, char tok[KURA_TOKEN_HEX + 1])
{
	static const char name[] = KURA_SESSION_COOKIE "=";
	const char *p = cookies;
	tok[0] = 0;
	while (p && *p) {
		p += strspn(p, " \t");
		size_t n = strcspn(p, ";");
		if (n >= sizeof(name) - 1 && memcmp(p, name, sizeof(name) - 1) == 0) {
			const char *val = p + sizeof(name) - 1;
			size_t len = n - (sizeof(name) - 1);
			while (len && (val[len - 1] == ' ' || val[len - 1] == '\t'))
				len--;
			if (is_token(val, len)) {
				memcpy(tok, val, len);
				tok[len] = 0;
			}
			return 1;
		}
		p += n + (p[n] == ';');
	}
	return 0;
}

/* "Bearer <token>": 0 with tok, or KURA_EAUTH. */
static int bearer_token(const char *h, char tok[KURA_TOKEN_HEX + 1])
{
	tok[0] = 0;
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return KURA_EAUTH;
	h += 7;
	h += strspn(h, " ");
	size_t n = strcspn(h, " \t");
	if (h[n] != 0 || !is_token(h, n))
		return KURA_EAUTH;
	memcpy(tok, h, n);
	tok[n] = 0;
	return 0;
}

/* Resume a session by its token; an unknown one is audited here (the
 * library audits the expiry of a known one). */
static int by_token(const struct kura_http_req *req, const char *tok, struct kura_actor *where,
		    struct kura_http_auth *ret, struct fail *f)
{
	struct kura_vault *v = req->thread->v;
	int r = tok[0] ? resume(req->thread, tok, where, &ret->id) : KURA_EAUTH;
	if (r == KURA_EAUTH) {
		f->msg = "unknown session: log in again at /api/login";
		int e = audit_failure(v, where, "", tok[0] ? "unknown session token"
							  : "malformed session token");
		return e ? e : r;
	}
	if (r == KURA_EEXPIRED)
		f->msg = "the session has expired or ended: log in again at /api/login";
	return r;
}

/* A non-safe method with a cookie must carry the session's CSRF token. */
static int check_csrf(const struct kura_http_req *req, const struct kura_actor *where,
		      struct kura_http_auth *ret, struct fail *f)
{
	char want[KURA_TOKEN_HEX + 1];
	const char *got = kura_http_header(req, KURA_CSRF_HEADER);
	if (req->method == KURA_HTTP_GET || req->method == KURA_HTTP_HEAD)
		return 0;
	int r = kura_serve_csrf_token(req->thread->v, ret->id.session, want);
	if (r)
		return r;
	int ok = got && strlen(got) == KURA_TOKEN_HEX && kura_ct_equal(got, want, KURA_TOKEN_HEX);
	kura_wipe(want, sizeof(want));
	if (ok)
		return 0;
	f->status = 403;
	f->code = "forbidden";
	f->msg = "missing or wrong " KURA_CSRF_HEADER " header: send the csrf_token of the login";
	r = audit_failure(req->thread->v, where, ret->id.actor.user,
			  got ? "wrong csrf token" : "no csrf token");
	return r ? r : KURA_EDENIED;
}

/* ---- machine certificates and their cached sessions ---- */

struct find_cert {
	const char *fp;
	char *user, *role;
};

static int find_cert_cb(void *ctx, const char *key, json_t *a)
{
	struct find_cert *c = ctx;
	json_t *x;
	size_t i;
	(void)key;
	json_array_foreach(json_object_get(a, "certs"), i, x) {
		const char *fp = json_string_value(json_object_get(x, "fp"));
		if (fp && strcasecmp(fp, c->fp) == 0) {
			const char *u = json_string_value(json_object_get(a, "id"));
			const char *ro = json_string_value(json_object_get(a, "role"));
			snprintf(c->user, KURA_MAX_ID + 1, "%s", u ? u : "");
			snprintf(c->role, KURA_MAX_ROLE + 1, "%s", ro ? ro : "");
			return 1;
		}
	}
	return 0;
}

int session_cert_account(struct kura_vault *v, const char *fp, char ret_user[KURA_MAX_ID + 1],
			 char ret_role[KURA_MAX_ROLE + 1])
{
	struct find_cert c = {fp, ret_user, ret_role};
	ret_user[0] = ret_role[0] = 0;
	if (strlen(fp) != 64)
		return KURA_ENOTFOUND;
	int r = kura_state_scan(v, "account", find_cert_cb, &c);
	return r == 1 ? 0 : r ? r : KURA_ENOTFOUND;
}

static struct auth_cache *cache_of(struct kura_serve_thread *th)
{
	struct auth_cache *c = th->auth_cache;
	if (!c) {
		c = kura_secret_alloc(sizeof(struct auth_cache)); /* zeroed */
		if (c)
			c->s = calloc(KURA_SERVE_SESSION_CACHE, sizeof(*c->s));
		if (c && !c->s) {
			kura_secret_free(c);
			c = NULL;
		}
		th->auth_cache = c;
	}
	return c;
}

void kura_serve_auth_cache_free(struct kura_serve_thread *th)
{
	struct auth_cache *c = th ? th->auth_cache : NULL;
	if (!c)
		return;
	free(c->s);
	kura_secret_free(c); /* wiped */
	th->auth_cache = NULL;
}

static void entry_clear(struct cert_entry *e)
{
	kura_wipe(e, sizeof(*e));
}

void kura_serve_sessions_changed(void)
{
	atomic_fetch_add(&session_epoch, 1);
}

void session_forget(struct kura_serve_thread *th, const char *session_key)
{
	struct auth_cache *c = th ? th->auth_cache : NULL;
	kura_serve_sessions_changed(); /* the other loops' copies too */
	for (size_t i = 0; c && i < KURA_SERVE_CERT_CACHE; i++)
		if (c->e[i].used_us && strcmp(c->e[i].key, session_key) == 0)
			entry_clear(&c->e[i]);
}

/*
 * kura_auth_resume through the loop's session cache (AC-01): a session
 * checked less than KURA_SERVE_SESSION_RECHECK_US ago, with no logout in
 * this process since, is taken as it was; any other is read and checked
 * again.  So a logout here ends the session at once, and a lock, disable or
 * session end made by another process (the CLI) within that interval.
 */
static int resume(struct kura_serve_thread *th, const char *token, struct kura_actor *where,
		  struct kura_identity *ret)
{
	uint8_t h[KURA_HASH_LEN];
	char key[KURA_TOKEN_HEX + 1];
	struct auth_cache *c = cache_of(th);
	if (!c || strlen(token) != KURA_TOKEN_HEX)
		return kura_auth_resume(th->v, token, where, ret);
	kura_sha256(token, KURA_TOKEN_HEX, h);
	kura_hex_encode(h, sizeof(h), key);
	struct session_entry *e = &c->s[(h[0] | (unsigned)h[1] << 8) % KURA_SERVE_SESSION_CACHE];
	int64_t now = kura_time_now_us();
	unsigned epoch = atomic_load(&session_epoch);
	if (e->checked_us && e->epoch == epoch && now - e->checked_us < KURA_SERVE_SESSION_RECHECK_US &&
	    now >= e->checked_us && strcmp(e->key, key) == 0) {
		*ret = e->id;
		ret->actor = *where;
		memcpy(ret->actor.user, e->id.actor.user, sizeof(ret->actor.user));
		memcpy(ret->actor.role, e->id.actor.role, sizeof(ret->actor.role));
		return 0;
	}
	int r = kura_auth_resume(th->v, token, where, ret);
	memset(e, 0, sizeof(*e));
	if (!r) {
		memcpy(e->key, key, sizeof(key));
		e->id = *ret;
		e->checked_us = now;
		e->epoch = epoch;
	}
	return r;
}

/* The entry of fp, or else the free or least recently used one (cleared). */
static struct cert_entry *cache_slot(struct auth_cache *c, const char *fp, int *ret_hit)
{
	struct cert_entry *old = &c->e[0];
	for (size_t i = 0; i < KURA_SERVE_CERT_CACHE; i++) {
		if (c->e[i].used_us && strcmp(c->e[i].fp, fp) == 0) {
			*ret_hit = 1;
			return &c->e[i];
		}
		if (c->e[i].used_us < old->used_us)
			old = &c->e[i];
	}
	*ret_hit = 0;
	/* An evicted session is not ended: it expires by its idle limit. */
	entry_clear(old);
	return old;
}

static int cert_login(struct kura_vault *v, struct cert_entry *e, const char *user,
		      struct kura_actor *where, struct kura_http_auth *ret)
{
	struct kura_login in = {user, NULL, 0, NULL, NULL, where->cert_fp};
	int r = kura_auth_login(v, &in, where, &ret->id, e->token);
	if (r) {
		entry_clear(e);
		return r;
	}
	snprintf(e->fp, sizeof(e->fp), "%s", where->cert_fp);
	memcpy(e->key, ret->id.session, sizeof(e->key));
	e->used_us = kura_time_now_us();
	return 0;
}

/* A client certificate: a machine's logs in (once per cached session). */
static int by_cert(const struct kura_http_req *req, struct kura_actor *where,
		   struct kura_http_auth *ret, struct fail *f)
{
	struct kura_vault *v = req->thread->v;
	char user[KURA_MAX_ID + 1], role[KURA_MAX_ROLE + 1];
	int hit = 0, r = session_cert_account(v, where->cert_fp, user, role);
	f->msg = "this certificate does not identify a machine account: log in at /api/login";
	if (r == KURA_ENOTFOUND)
		r = audit_failure(v, where, "", "certificate not mapped to an account");
	else if (!r && strcmp(role, "system") != 0) /* AU-03 */
		r = audit_failure(v, where, user, "a person's certificate needs a password");
	else if (!r) {
		struct auth_cache *c = cache_of(req->thread);
		struct cert_entry *e = c ? cache_slot(c, where->cert_fp, &hit) : NULL;
		if (!e)
			return KURA_ENOMEM;
		r = hit ? resume(req->thread, e->token, where, &ret->id) : KURA_EEXPIRED;
		if (!r)
			e->used_us = kura_time_now_us();
		else if (r == KURA_EEXPIRED || r == KURA_EAUTH)
			r = cert_login(v, e, user, where, ret);
		f->msg = "the certificate's account cannot log in (locked, disabled or wrong role)";
		return r;
	}
	return r ? r : KURA_EAUTH;
}

/* A session that must change its password or enrol a factor reaches only
 * what lets it do so. */
static int limited(const struct kura_http_req *req, const struct kura_identity *id,
		   struct fail *f)
{
	static const char *const open[] = {"/api/me", "/api/logout", "/api/password",
					   "/api/factors"};
	if (!id->must_change && !id->must_enroll)
		return 0;
	for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++)
		if (req->path && strcmp(req->path, open[i]) == 0)
			return 0;
	/* POST /api/factors/totp and .../confirm (ui-api.md §1). */
	if (req->path && strncmp(req->path, "/api/factors/", 13) == 0)
		return 0;
	f->status = 403;
	f->code = "forbidden";
	f->msg = id->must_change ? "the password must be changed first"
				 : "a second factor must be enrolled first (AU-12)";
	return KURA_EDENIED;
}

static int identify(const struct kura_http_req *req, struct kura_actor *where,
		    struct kura_http_auth *ret, struct fail *f)
{
	char tok[KURA_TOKEN_HEX + 1];
	const char *cookies = kura_http_header(req, "Cookie");
	const char *authz = kura_http_header(req, "Authorization");
	int r;
	if (cookies && cookie_token(cookies, tok)) {
		ret->via = KURA_VIA_COOKIE;
		f->cookie = 1;
		r = by_token(req, tok, where, ret, f);
		if (!r)
			r = check_csrf(req, where, ret, f);
	} else if (authz) {
		ret->via = KURA_VIA_BEARER;
		r = bearer_token(authz, tok);
		r = by_token(req, r ? "" : tok, where, ret, f);
	} else if (where->cert_fp[0]) {
		ret->via = KURA_VIA_CERT;
		r = by_cert(req, where, ret, f);
	} else {
		f->msg = "authentication required: log in at /api/login, or send a bearer token";
		r = KURA_EAUTH; /* no credential: nothing to audit */
	}
	kura_wipe(tok, sizeof(tok));
	return r;
}

static int answer(struct kura_http_resp *resp, int fhir, const struct fail *f)
{
	int r = 0;
	if (f->status == 401)
		r = kura_http_set_header(resp, "WWW-Authenticate", "Bearer realm=\"kura\"");
	if (!r && f->status == 401 && f->cookie)
		r = api_clear_cookie(resp);
	return r ? r : api_reply_error(resp, fhir, f->code, f->status, f->msg);
}

int kura_serve_authenticate(const struct kura_http_req *req, int fhir, struct kura_http_auth *ret,
			    struct kura_http_resp *resp)
{
	struct kura_actor where;
	struct fail f = {401, "authentication failed", "login", 0};
	memset(ret, 0, sizeof(*ret));
	session_where(req, &where);
	int r = identify(req, &where, ret, &f);
	if (!r)
		r = limited(req, &ret->id, &f);
	if (!r) {
		ret->a.v = req->thread->v;
		ret->a.id = &ret->id;
		return 0;
	}
	int via = ret->via;
	memset(ret, 0, sizeof(*ret));
	ret->via = via;
	if (r == KURA_ELOCKED)
		f.msg = "the account is locked or disabled";
	if (r != KURA_EAUTH && r != KURA_EEXPIRED && r != KURA_ELOCKED && r != KURA_EDENIED)
		return r;
	int e = answer(resp, fhir, &f);
	return e ? e : r;
}
