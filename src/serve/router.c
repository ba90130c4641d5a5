/*
 * router.c - which handler answers a request (serve.h): the route table,
 * 404 and 405 as JSON, the per-address rate limit, and the two routes the
 * server answers itself: /healthz and /metrics.
 */
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"
#include "util/err.h"
#include "util/banned.h"

#define M(x) (1u << (x))
#define MAX_PATH 2048

static const struct {
	const char *prefix; /* the path, or its first segments */
	int subtree;        /* 1: also prefix + "/..." */
	unsigned methods;
	const char *allow;
	const char *name;
} routes[KURA_ROUTE_COUNT] = {
	[KURA_ROUTE_NONE] = {"", 0, 0, "", "none"},
	[KURA_ROUTE_HEALTHZ] = {"/healthz", 0, M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD), "GET, HEAD",
				"healthz"},
	[KURA_ROUTE_METRICS] = {"/metrics", 0, M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD), "GET, HEAD",
				"metrics"},
	[KURA_ROUTE_LOGIN] = {"/api/login", 0, M(KURA_HTTP_POST), "POST", "login"},
	[KURA_ROUTE_LOGOUT] = {"/api/logout", 0, M(KURA_HTTP_POST), "POST", "logout"},
	[KURA_ROUTE_ME] = {"/api/me", 0, M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD), "GET, HEAD", "me"},
	[KURA_ROUTE_LEDGER] = {"/api/ledger", 1, M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD), "GET, HEAD",
			       "ledger"},
	[KURA_ROUTE_FHIR] = {"/fhir", 1,
			     M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD) | M(KURA_HTTP_POST) |
				     M(KURA_HTTP_PUT) | M(KURA_HTTP_DELETE) | M(KURA_HTTP_PATCH),
			     "GET, HEAD, POST, PUT, DELETE, PATCH", "fhir"},
	[KURA_ROUTE_PASSWORD] = {"/api/password", 0, M(KURA_HTTP_POST), "POST", "password"},
	[KURA_ROUTE_FACTORS] = {"/api/factors", 1, M(KURA_HTTP_POST), "POST", "factors"},
	[KURA_ROUTE_PATIENTS] = {"/api/patients", 1, M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD),
				 "GET, HEAD", "patients"},
	[KURA_ROUTE_RECORDS] = {"/api/records", 1,
				M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD) | M(KURA_HTTP_POST),
				"GET, HEAD, POST", "records"},
	[KURA_ROUTE_BREAKGLASS] = {"/api/breakglass", 0,
				   M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD) | M(KURA_HTTP_POST),
				   "GET, HEAD, POST", "breakglass"},
	[KURA_ROUTE_AUDIT] = {"/api/audit", 1, M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD) | M(KURA_HTTP_POST),
			      "GET, HEAD, POST", "audit"},
	[KURA_ROUTE_ADMIN] = {"/api/admin", 1, M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD), "GET, HEAD",
			      "admin"},
	[KURA_ROUTE_UI_ROOT] = {"/", 0, M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD), "GET, HEAD", "ui"},
	[KURA_ROUTE_UI] = {"/ui", 1, M(KURA_HTTP_GET) | M(KURA_HTTP_HEAD), "GET, HEAD", "ui-assets"},
};

/* A segment of len bytes at p that may not appear: "" (but the last), ".", "..". */
static int bad_segment(const char *p, size_t len, int last)
{
	return (len == 0 && !last) || (len == 1 && p[0] == '.') ||
	       (len == 2 && p[0] == '.' && p[1] == '.');
}

/* A path the router accepts at all: "/" then segments of visible ASCII,
 * none empty (but the last), none "." or "..". */
static int path_ok(const char *p)
{
	size_t n = strnlen(p, MAX_PATH + 1);
	if (n == 0 || n > MAX_PATH || p[0] != '/')
		return 0;
	for (size_t i = 1, seg = 1; i <= n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '/' || c == '\0') {
			if (bad_segment(p + seg, i - seg, c == '\0'))
				return 0;
			seg = i + 1;
		} else if (c <= 0x20 || c >= 0x7f || c == '\\') {
			return 0;
		}
	}
	return 1;
}

int kura_route(const char *path, int method, int *ret_allowed)
{
	*ret_allowed = 0;
	if (!path || !path_ok(path))
		return KURA_ROUTE_NONE;
	for (int r = 1; r < KURA_ROUTE_COUNT; r++) {
		size_t n = strlen(routes[r].prefix);
		if (strncmp(path, routes[r].prefix, n) != 0)
			continue;
		if (path[n] != '\0' && !(routes[r].subtree && path[n] == '/'))
			continue;
		*ret_allowed = method > 0 && method < 32 && (routes[r].methods & M(method)) != 0;
		return r;
	}
	return KURA_ROUTE_NONE;
}

const char *kura_route_allow(int route)
{
	return route > 0 && route < KURA_ROUTE_COUNT ? routes[route].allow : "";
}

const char *kura_route_name(int route)
{
	return route >= 0 && route < KURA_ROUTE_COUNT ? routes[route].name : "none";
}

static int json_error(struct kura_http_resp *resp, int status, const char *msg)
{
	struct kura_buf b;
	kura_buf_init(&b, 512);
	int r = kura_buf_printf(&b, "{\"error\":\"%s\"}", msg);
	if (!r)
		r = kura_http_reply(resp, status, "application/json", b.data, b.len);
	kura_buf_release(&b);
	return r;
}

static uint64_t tree_size(const struct kura_http_req *req)
{
	struct kura_sth sth;
	if (!req->thread || !req->thread->v || kura_vault_sth(req->thread->v, &sth))
		return 0;
	return sth.tree_size;
}

static int healthz(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct kura_buf b;
	kura_buf_init(&b, 256);
	int r = kura_buf_printf(&b, "{\"status\":\"ok\",\"tree_size\":%llu}",
				(unsigned long long)tree_size(req));
	if (!r)
		r = kura_http_reply(resp, 200, "application/json", b.data, b.len);
	kura_buf_release(&b);
	return r;
}

static int is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	       strncmp(ip, "::ffff:127.", 11) == 0;
}

/* Loopback peers, or the auditor and security-admin roles (resp filled
 * when not: 401 from authentication, or 403). */
static int metrics_allowed(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	if (req->peer && is_loopback(req->peer->ip))
		return 1;
	struct kura_http_auth *au = calloc(1, sizeof(*au));
	if (!au)
		return 0;
	int ok = 0;
	if (kura_serve_authenticate(req, 0, au, resp) == 0) {
		ok = strcmp(au->id.role.name, "auditor") == 0 ||
		     strcmp(au->id.role.name, "security-admin") == 0;
		if (!ok)
			json_error(resp, 403, "metrics are for the auditor and security-admin roles");
	}
	free(au);
	return ok;
}

static int metrics(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	if (!metrics_allowed(req, resp))
		return resp->status ? 0 : KURA_ENOMEM;
	if (!req->thread || !req->thread->metrics)
		return json_error(resp, 503, "no metrics here");
	int r = kura_metrics_render(req->thread->metrics, tree_size(req), &resp->body);
	if (r)
		return r;
	resp->status = 200;
	memcpy(resp->content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8",
	       sizeof("application/openmetrics-text; version=1.0.0; charset=utf-8"));
	return 0;
}

/* The per-address rate limit: 0 to go on, else resp is 503. */
static int rate_ip(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	const struct kura_serve_thread *t = req->thread;
	char key[80];
	unsigned wait;
	if (!t || !t->limiter || !t->limits || !req->peer)
		return 0;
	snprintf(key, sizeof(key), "ip:%s", req->peer->ip);
	if (kura_limiter_take(t->limiter, key, t->limits->rate_per_ip, &wait) == 0)
		return 0;
	if (t->metrics)
		atomic_fetch_add(&t->metrics->rate_limited, 1);
	json_error(resp, 503, "too many requests from this address; retry later");
	resp->retry_after = wait;
	return KURA_EBUSY;
}

int kura_serve_rate_account(const struct kura_http_req *req, const char *account,
			    struct kura_http_resp *resp)
{
	const struct kura_serve_thread *t = req->thread;
	char key[96];
	unsigned wait;
	if (!t || !t->limiter || !t->limits || !account)
		return 0;
	snprintf(key, sizeof(key), "acct:%s", account);
	if (kura_limiter_take(t->limiter, key, t->limits->rate_per_account, &wait) == 0)
		return 0;
	if (t->metrics)
		atomic_fetch_add(&t->metrics->rate_limited, 1);
	json_error(resp, 503, "too many requests for this account; retry later");
	resp->retry_after = wait;
	return KURA_EBUSY;
}

void kura_serve_count_auth_failure(const struct kura_http_req *req)
{
	if (req->thread && req->thread->metrics)
		atomic_fetch_add(&req->thread->metrics->auth_failures, 1);
}

int kura_serve_dispatch(const struct kura_http_req *req, struct kura_http_resp *resp,
			int *ret_route)
{
	static const kura_http_handler handlers[KURA_ROUTE_COUNT] = {
		[KURA_ROUTE_HEALTHZ] = healthz,         [KURA_ROUTE_METRICS] = metrics,
		[KURA_ROUTE_LOGIN] = kura_api_login,    [KURA_ROUTE_LOGOUT] = kura_api_logout,
		[KURA_ROUTE_ME] = kura_api_me,          [KURA_ROUTE_LEDGER] = kura_api_ledger,
		[KURA_ROUTE_FHIR] = kura_fhir_handle,
		[KURA_ROUTE_PASSWORD] = kura_api_password, [KURA_ROUTE_FACTORS] = kura_api_factors,
		[KURA_ROUTE_PATIENTS] = kura_api_patients, [KURA_ROUTE_RECORDS] = kura_api_records,
		[KURA_ROUTE_BREAKGLASS] = kura_api_breakglass, [KURA_ROUTE_AUDIT] = kura_api_audit,
		[KURA_ROUTE_ADMIN] = kura_api_admin,     [KURA_ROUTE_UI_ROOT] = kura_ui_static,
		[KURA_ROUTE_UI] = kura_ui_static};
	int allowed;
	int route = kura_route(req->path, req->method, &allowed);
	*ret_route = route;
	if (route != KURA_ROUTE_HEALTHZ && rate_ip(req, resp))
		return 0;
	if (route == KURA_ROUTE_NONE)
		return json_error(resp, 404, "no such path");
	if (!allowed) {
		int r = json_error(resp, 405, "method not allowed");
		return r ? r : kura_http_set_header(resp, "Allow", kura_route_allow(route));
	}
	return handlers[route](req, resp);
}
