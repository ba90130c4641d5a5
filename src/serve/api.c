/*
 * api.c - POST /api/login, POST /api/logout, GET /api/me (serve.h;
 * docs/formats/http-api.md), and the JSON answers the /api handlers share.
 * A login is decided and audited by the auth library (kura_auth_login);
 * this file reads the request, hands out the cookie and the CSRF token.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "serve/api_int.h"
#include "util/err.h"
#include "util/time.h"
#include "util/banned.h"

#define COOKIE_ATTRS "; Path=/; HttpOnly; Secure; SameSite=Strict"

int api_reply_json(struct kura_http_resp *resp, int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!text)
		return KURA_ENOMEM;
	int r = kura_http_set_header(resp, "Cache-Control", "no-store");
	if (!r)
		r = kura_http_reply(resp, status, "application/json", text, strlen(text));
	free(text);
	return r;
}

int api_reply_error(struct kura_http_resp *resp, int fhir, const char *fhir_code, int status,
		    const char *msg)
{
	if (!fhir)
		return api_reply_json(resp, status, json_pack("{s:s}", "error", msg));
	json_t *oo = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "resourceType", "OperationOutcome",
			       "issue", "severity", "error", "code",
			       fhir_code ? fhir_code : "processing", "diagnostics", msg);
	int r = api_reply_json(resp, status, oo);
	if (!r)
		snprintf(resp->content_type, sizeof(resp->content_type), "application/fhir+json");
	return r;
}

int api_clear_cookie(struct kura_http_resp *resp)
{
	return kura_http_set_header(resp, "Set-Cookie",
				    KURA_SESSION_COOKIE "=" COOKIE_ATTRS "; Max-Age=0");
}

int api_only(const struct kura_http_req *req, struct kura_http_resp *resp, int method,
	     const char *allow)
{
	if (req->method == method || (method == KURA_HTTP_GET && req->method == KURA_HTTP_HEAD))
		return 0;
	int r = kura_http_set_header(resp, "Allow", allow);
	if (!r)
		r = api_reply_error(resp, 0, NULL, 405, "method not allowed");
	return r ? r : 1;
}

/* ---- query strings and bodies the /api handlers share ---- */

int api_query_get(const char *q, const char *name, char *out, size_t cap)
{
	struct kura_http_query_iter it;
	char n[KURA_HTTP_QUERY_MAX_NAME], v[KURA_HTTP_QUERY_MAX_VALUE];
	int found = 0, r;
	/* The one query parser (http.c): the same decoding and limits as FHIR
	 * search parameters. */
	kura_http_query_init(&it, q);
	while ((r = kura_http_query_next(&it, n, sizeof(n), v, sizeof(v))) == 1) {
		if (strcmp(n, name) != 0)
			continue;
		if (found++ || strlen(v) >= cap)
			return KURA_EINVAL;
		memcpy(out, v, strlen(v) + 1);
	}
	return r ? KURA_EINVAL : found ? 0 : KURA_ENOTFOUND;
}

int api_query_only(const char *q, const char *const *names)
{
	struct kura_http_query_iter it;
	char name[KURA_HTTP_QUERY_MAX_NAME], value[KURA_HTTP_QUERY_MAX_VALUE];
	unsigned seen = 0; /* one bit per entry of names */
	int r;
	kura_http_query_init(&it, q);
	while ((r = kura_http_query_next(&it, name, sizeof(name), value, sizeof(value))) == 1) {
		unsigned i = 0;
		while (names[i] && strcmp(names[i], name) != 0)
			i++;
		if (!names[i] || i >= 32 || (seen & (1u << i)))
			return KURA_EINVAL;
		seen |= 1u << i;
	}
	return r ? KURA_EINVAL : 0;
}

int api_parse_pos(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	if (!(*s >= '1' && *s <= '9'))
		return KURA_EINVAL;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || *end || x > max)
		return KURA_EINVAL;
	*ret = x;
	return 0;
}

static int is_json(const char *ct);

int api_body(const struct kura_http_req *req, json_t **ret, const char **ret_msg)
{
	json_error_t err;
	*ret = NULL;
	*ret_msg = "the body must be a JSON object";
	if (!is_json(kura_http_header(req, "Content-Type"))) {
		*ret_msg = "Content-Type must be application/json";
		return 415;
	}
	json_t *j = json_loadb(req->body_len ? (const char *)req->body : "", req->body_len,
			       JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(j)) {
		json_decref(j);
		return 400;
	}
	*ret = j;
	return 0;
}

int api_reply_denied(struct kura_http_resp *resp, const struct kura_access *a, int breakglass,
		     const char *patient)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:b}", "error",
			      "access denied (recorded in the audit trail)", "error_ja",
			      "アクセスが拒否されました（監査証跡に記録しました）", "reason",
			      a->why ? a->why : "not permitted", "breakglass", breakglass);
	if (j && breakglass && patient && json_object_set_new(j, "patient", json_string(patient)))
		j = (json_decref(j), NULL);
	return api_reply_json(resp, 403, j);
}

/* ---- POST /api/login ---- */

struct login_body {
	json_t *j;
	const char *user, *password, *otp, *recovery;
	size_t password_len;
	int bearer;
};

static int is_json(const char *ct)
{
	static const char t[] = "application/json";
	return ct && strncasecmp(ct, t, sizeof(t) - 1) == 0 &&
	       (ct[sizeof(t) - 1] == 0 || ct[sizeof(t) - 1] == ';' || ct[sizeof(t) - 1] == ' ');
}

/* Parse the body; 0, or the status to answer with *ret_msg. */
static int parse_login(const struct kura_http_req *req, struct login_body *b, const char **ret_msg)
{
	json_error_t err;
	const char *empty = "";
	*ret_msg = "body must be JSON {\"user\", \"password\", \"otp\"?, \"recovery\"?, \"bearer\"?}";
	if (!is_json(kura_http_header(req, "Content-Type"))) {
		*ret_msg = "Content-Type must be application/json";
		return 415;
	}
	if (req->body_len > KURA_SERVE_MAX_LOGIN_BODY) {
		*ret_msg = "login body too large";
		return 413;
	}
	b->j = json_loadb(req->body_len ? (const char *)req->body : empty, req->body_len,
			  JSON_REJECT_DUPLICATES, &err);
	if (!b->j || json_unpack_ex(b->j, &err, JSON_STRICT, "{s:s, s:s%, s?s, s?s, s?b}", "user",
				    &b->user, "password", &b->password, &b->password_len, "otp",
				    &b->otp, "recovery", &b->recovery, "bearer", &b->bearer))
		return 400;
	if (strlen(b->password) != b->password_len || b->password_len > KURA_MAX_PASSWORD) {
		*ret_msg = "invalid password";
		return 400;
	}
	return 0;
}

static void wipe_login(struct login_body *b)
{
	/* jansson's copy of the password: wiped before it is freed. */
	json_t *pw = json_object_get(b->j, "password");
	if (json_is_string(pw))
		kura_wipe((char *)json_string_value(pw), json_string_length(pw));
	json_decref(b->j);
}

/* "departments": [...] of an identity. */
static json_t *departments(const struct kura_identity *id)
{
	json_t *a = json_array();
	for (unsigned i = 0; a && i < id->ndepartments; i++)
		if (json_array_append_new(a, json_string(id->departments[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* The session's absolute end, as text (UTC). */
static json_t *expires(struct kura_vault *v, const struct kura_identity *id)
{
	json_t *s = NULL;
	char t[KURA_TIME_STR];
	if (kura_state_get(v, "session", id->session, &s))
		return json_null();
	kura_time_format((int64_t)json_integer_value(json_object_get(s, "expires_us")), t);
	json_decref(s);
	return json_string(t);
}

/* What /api/login and /api/me say of an identity. */
static json_t *identity_json(struct kura_vault *v, const struct kura_identity *id)
{
	char csrf[KURA_TOKEN_HEX + 1];
	json_t *f = json_array();
	static const struct { unsigned bit; const char *name; } names[] = {
		{KURA_FACTOR_PASSWORD, "password"}, {KURA_FACTOR_TOTP, "totp"},
		{KURA_FACTOR_CERT, "certificate"}, {KURA_FACTOR_RECOVERY, "recovery-code"}};
	for (size_t i = 0; f && i < sizeof(names) / sizeof(names[0]); i++)
		if ((id->factors & names[i].bit) && json_array_append_new(f, json_string(names[i].name)))
			return json_decref(f), NULL;
	if (!f || kura_serve_csrf_token(v, id->session, csrf))
		return json_decref(f), NULL;
	/* idle_minutes: so a page can say when an unused session will end. */
	json_t *j = json_pack("{s:s, s:s, s:o*, s:o*, s:b, s:b, s:s, s:o*, s:I}", "user", id->actor.user,
			      "role", id->actor.role, "departments", departments(id), "factors", f,
			      "must_change", id->must_change, "must_enroll", id->must_enroll,
			      "csrf_token", csrf, "expires", expires(v, id), "idle_minutes",
			      (json_int_t)kura_setting_int(v, "auth.idle_minutes", 15));
	kura_wipe(csrf, sizeof(csrf));
	return j;
}

static int login_failed(struct kura_http_resp *resp, int r)
{
	if (r == KURA_ELOCKED)
		return api_reply_json(resp, 423, json_pack("{s:s, s:s}", "error",
				      "the account is locked or disabled: ask the security administrator",
				      "reason", "locked"));
	if (r != KURA_EAUTH)
		return r;
	/* The library answers a wrong password, a wrong code and a missing
	 * second factor alike: the client sends password and code together. */
	return api_reply_json(resp, 401, json_pack("{s:s}", "error",
			      "authentication failed: wrong user, password or one-time code (send \"otp\" with the password when the account has a second factor)"));
}

/* The session's answer: cookie, identity, the token only when asked. */
static int login_answer(const struct kura_http_req *req, struct kura_http_resp *resp,
			const struct kura_identity *id, const char *token, int bearer)
{
	struct kura_buf cookie;
	json_t *j = identity_json(req->thread->v, id);
	kura_buf_init(&cookie, 256);
	int r = j ? kura_buf_printf(&cookie, "%s=%s%s", KURA_SESSION_COOKIE, token, COOKIE_ATTRS)
		  : KURA_ENOMEM;
	if (!r && bearer)
		r = json_object_set_new(j, "token", json_string(token)) ? KURA_ENOMEM : 0;
	if (!r)
		r = kura_http_set_header(resp, "Set-Cookie", (char *)cookie.data);
	kura_buf_release_secret(&cookie);
	if (r) {
		json_decref(j);
		return r;
	}
	r = api_reply_json(resp, 200, j);
	return r;
}

int kura_api_login(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct login_body b = {0};
	struct kura_actor where;
	struct kura_identity id;
	char token[KURA_TOKEN_HEX + 1], user[KURA_MAX_ID + 1], role[KURA_MAX_ROLE + 1];
	const char *msg;
	int r = api_only(req, resp, KURA_HTTP_POST, "POST");
	if (r)
		return r < 0 ? r : 0;
	int status = parse_login(req, &b, &msg);
	if (status) {
		wipe_login(&b);
		return api_reply_error(resp, 0, NULL, status, msg);
	}
	session_where(req, &where);
	/* A person's certificate counts with the password (AU-03), when it is
	 * this account's; any other certificate is left out of the login. */
	r = where.cert_fp[0] ? session_cert_account(req->thread->v, where.cert_fp, user, role)
			     : KURA_ENOTFOUND;
	int cert = r == 0 && strcmp(user, b.user) == 0;
	struct kura_login in = {b.user, b.password, b.password_len, b.otp, b.recovery,
				cert ? where.cert_fp : NULL};
	r = r == 0 || r == KURA_ENOTFOUND ? kura_auth_login(req->thread->v, &in, &where, &id, token)
					  : r;
	int bearer = b.bearer;
	wipe_login(&b);
	r = r ? login_failed(resp, r) : login_answer(req, resp, &id, token, bearer);
	kura_wipe(token, sizeof(token));
	return r;
}

/* ---- POST /api/logout, GET /api/me ---- */

int kura_api_logout(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct kura_http_auth au;
	int r = api_only(req, resp, KURA_HTTP_POST, "POST");
	if (r)
		return r < 0 ? r : 0;
	if ((r = kura_serve_authenticate(req, 0, &au, resp)))
		return api_answered(r);
	session_forget(req->thread, au.id.session);
	if ((r = kura_auth_logout(req->thread->v, &au.id)))
		return r;
	r = api_clear_cookie(resp);
	return r ? r : api_reply_json(resp, 200, json_pack("{s:b}", "logged_out", 1));
}

int kura_api_me(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	static const char *const via[] = {"none", "cookie", "bearer", "certificate"};
	struct kura_http_auth au;
	int r = api_only(req, resp, KURA_HTTP_GET, "GET, HEAD");
	if (r)
		return r < 0 ? r : 0;
	if ((r = kura_serve_authenticate(req, 0, &au, resp)))
		return api_answered(r);
	json_t *j = identity_json(req->thread->v, &au.id);
	if (j && json_object_set_new(j, "via", json_string(via[au.via])))
		j = (json_decref(j), NULL);
	/* Only a browser needs its CSRF token back (after a page reload). */
	if (j && au.via != KURA_VIA_COOKIE)
		json_object_del(j, "csrf_token");
	return api_reply_json(resp, 200, j);
}
