/* test_serve_config.c - kura serve's INI file (serve/config.c), the route
 * table (serve/router.c) and the query-string iterator (serve/http.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "serve/serve.h"
#include "util/err.h"

static char path[] = "/tmp/kura-serve-conf-XXXXXX";

static int load(const char *text, struct kura_serve_config *cfg, char err[256])
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	int r = kura_serve_config_load(path, cfg, err);
	unlink(path);
	memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	return r;
}

#define BASE "[server]\nlisten = 127.0.0.1:8443\ncert = c.pem\nkey = k.pem\nclient_ca = ca.pem\n" \
	     "[vault]\ndir = /v\npassphrase_file = /p\n"

static void test_minimal(void **state)
{
	(void)state;
	static struct kura_serve_config cfg;
	char err[256];
	assert_int_equal(load(BASE "[scan]\nscanning = off\n", &cfg, err), 0);
	assert_int_equal(cfg.nlisten, 1);
	assert_string_equal(cfg.listen[0].host, "127.0.0.1");
	assert_int_equal(cfg.listen[0].port, 8443);
	assert_int_equal(cfg.listen[0].mtls, KURA_MTLS_REQUIRED);
	assert_true(cfg.threads >= 1);
	assert_int_equal(cfg.scanning, 0);
	assert_int_equal(cfg.limits.max_body_bytes, 16u * 1024 * 1024);
	assert_int_equal(cfg.hsts_max_age, 63072000u);
}

/* [ui]: on by default with the compiled-in directory (the source tree's
 * web/ for a binary of this build tree: the unit tests are one), dir must
 * be absolute, enabled on or off. */
static void test_ui(void **state)
{
	(void)state;
	static struct kura_serve_config cfg;
	char err[256];
	assert_int_equal(load(BASE "[scan]\nscanning = off\n", &cfg, err), 0);
	assert_int_equal(cfg.ui_enabled, 1);
	assert_string_equal(cfg.ui_dir, kura_serve_ui_default_dir());
	assert_non_null(strstr(cfg.ui_dir, "/web"));
	assert_int_equal(load(BASE "[scan]\nscanning = off\n[ui]\ndir = /srv/kura-web\nenabled = off\n",
			      &cfg, err), 0);
	assert_string_equal(cfg.ui_dir, "/srv/kura-web");
	assert_int_equal(cfg.ui_enabled, 0);
	assert_int_equal(load(BASE "[scan]\nscanning = off\n[ui]\ndir = web\n", &cfg, err), KURA_EINVAL);
	assert_non_null(strstr(err, "absolute"));
	assert_int_equal(load(BASE "[scan]\nscanning = off\n[ui]\nenabled = yes\n", &cfg, err), KURA_EINVAL);
	assert_int_equal(load(BASE "[scan]\nscanning = off\n[ui]\ncolour = red\n", &cfg, err), KURA_EINVAL);
	assert_non_null(strstr(err, "unknown key 'colour' in [ui]"));
}

static void test_listeners_limits(void **state)
{
	(void)state;
	static struct kura_serve_config cfg;
	char err[256];
	assert_int_equal(load(BASE "[server]\nlisten = [::1]:9443 mtls=optional\n"
				   "listen = 0.0.0.0:0 mtls=off\nthreads = 3\n"
				   "[limits]\nmax_body_bytes = 1M\nrate_per_ip = 0\n"
				   "[scan]\nclamav_db = /db\n", &cfg, err), 0);
	assert_int_equal(cfg.nlisten, 3);
	assert_string_equal(cfg.listen[1].host, "::1");
	assert_int_equal(cfg.listen[1].mtls, KURA_MTLS_OPTIONAL);
	assert_int_equal(cfg.listen[2].mtls, KURA_MTLS_OFF);
	assert_int_equal(cfg.threads, 3);
	assert_int_equal(cfg.limits.max_body_bytes, 1024 * 1024);
	assert_int_equal(cfg.limits.rate_per_ip, 0);
	assert_int_equal(cfg.scanning, 1);
}

static void test_refused(void **state)
{
	(void)state;
	static struct kura_serve_config cfg;
	char err[256];
	assert_int_equal(load(BASE "[server]\nbogus = 1\n", &cfg, err), KURA_EINVAL);
	assert_non_null(strstr(err, ":10: unknown key 'bogus'"));
	assert_int_equal(load(BASE "[nope]\n", &cfg, err), KURA_EINVAL);
	assert_int_equal(load(BASE "[server]\nlisten = 1.2.3.4\n", &cfg, err), KURA_EINVAL);
	assert_int_equal(load(BASE "[server]\nlisten = 1.2.3.4:1 mtls=maybe\n", &cfg, err),
			 KURA_EINVAL);
	assert_int_equal(load(BASE "[limits]\nmax_headers = 100000\n", &cfg, err), KURA_EINVAL);
	/* scanning is on unless said otherwise, and then needs signatures */
	assert_int_equal(load(BASE, &cfg, err), KURA_EINVAL);
	assert_non_null(strstr(err, "clamav_db"));
	assert_int_equal(load("[server]\nlisten = 127.0.0.1:1\ncert = c\nkey = k\n"
			      "[vault]\ndir = /v\npassphrase_file = /p\n[scan]\nscanning = off\n",
			      &cfg, err), KURA_EINVAL);
	assert_non_null(strstr(err, "client_ca"));
	assert_int_equal(kura_serve_config_load("/nonexistent/x.ini", &cfg, err), KURA_ENOTFOUND);
}

static void test_routes(void **state)
{
	(void)state;
	int ok;
	assert_int_equal(kura_route("/healthz", KURA_HTTP_GET, &ok), KURA_ROUTE_HEALTHZ);
	assert_int_equal(ok, 1);
	assert_int_equal(kura_route("/healthz", KURA_HTTP_POST, &ok), KURA_ROUTE_HEALTHZ);
	assert_int_equal(ok, 0);
	assert_string_equal(kura_route_allow(KURA_ROUTE_HEALTHZ), "GET, HEAD");
	assert_int_equal(kura_route("/api/login", KURA_HTTP_POST, &ok), KURA_ROUTE_LOGIN);
	assert_int_equal(kura_route("/api/ledger/sth", KURA_HTTP_GET, &ok), KURA_ROUTE_LEDGER);
	assert_int_equal(kura_route("/fhir", KURA_HTTP_GET, &ok), KURA_ROUTE_FHIR);
	assert_int_equal(kura_route("/fhir/Patient/1", KURA_HTTP_PUT, &ok), KURA_ROUTE_FHIR);
	assert_int_equal(ok, 1);
	assert_int_equal(kura_route("/fhirx", KURA_HTTP_GET, &ok), KURA_ROUTE_NONE);
	assert_int_equal(kura_route("/fhir/../metrics", KURA_HTTP_GET, &ok), KURA_ROUTE_NONE);
	assert_int_equal(kura_route("//healthz", KURA_HTTP_GET, &ok), KURA_ROUTE_NONE);
	assert_int_equal(kura_route("/api/me/", KURA_HTTP_GET, &ok), KURA_ROUTE_NONE);
	assert_int_equal(kura_route("", KURA_HTTP_GET, &ok), KURA_ROUTE_NONE);
}

/* ---- the web UI's files (serve/static.c), without a network ---- */

struct ui_call {
	struct kura_serve_config cfg;
	struct kura_serve_thread th;
	struct kura_http_req req;
	struct kura_http_resp resp;
	struct kura_http_header hdr[1];
};

static const char *resp_header(const struct kura_http_resp *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* GET (or another method) url below dir → the status; c->resp kept. */
static int ui_get(struct ui_call *c, const char *dir, int method, const char *url,
		  const char *inm)
{
	kura_buf_release(&c->resp.body);
	memset(&c->resp, 0, sizeof(c->resp));
	kura_buf_init(&c->resp.body, KURA_HTTP_MAX_RESP_BODY);
	c->cfg.ui_enabled = dir != NULL;
	snprintf(c->cfg.ui_dir, sizeof(c->cfg.ui_dir), "%s", dir ? dir : "");
	c->th.cfg = &c->cfg;
	c->hdr[0] = (struct kura_http_header){"If-None-Match", inm};
	c->req = (struct kura_http_req){.method = method, .path = url, .thread = &c->th,
					.headers = c->hdr, .nheaders = inm ? 1 : 0};
	assert_int_equal(kura_ui_static(&c->req, &c->resp), 0);
	return c->resp.status;
}

static void put_file(const char *dir, const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_static(void **state)
{
	(void)state;
	static struct ui_call c;
	char dir[] = "/tmp/kura-ui-XXXXXX", p[512], q[512], etag[128];
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/ui", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	put_file(dir, "index.html", "<!doctype html>");
	put_file(dir, "ui/app.js", "export {};\n");
	put_file(dir, "ui/x.exe", "MZ");
	put_file(dir, "secret", "no");
	snprintf(p, sizeof(p), "%s/secret", dir);
	snprintf(q, sizeof(q), "%s/ui/link.js", dir);
	assert_int_equal(symlink(p, q), 0);

	assert_int_equal(ui_get(&c, dir, KURA_HTTP_GET, "/", NULL), 200);
	assert_string_equal(c.resp.content_type, "text/html; charset=utf-8");
	assert_int_equal(c.resp.body.len, 15);
	assert_non_null(strstr(resp_header(&c.resp, "Content-Security-Policy"), "default-src 'none'; script-src 'self'"));
	assert_non_null(strstr(resp_header(&c.resp, "Content-Security-Policy"), "frame-ancestors 'none'"));
	assert_string_equal(resp_header(&c.resp, "Cross-Origin-Opener-Policy"), "same-origin");
	assert_string_equal(resp_header(&c.resp, "Cache-Control"), "no-cache");
	snprintf(etag, sizeof(etag), "%s", resp_header(&c.resp, "ETag"));
	assert_int_equal(etag[0], '"');
	assert_int_equal(ui_get(&c, dir, KURA_HTTP_GET, "/", etag), 304);
	assert_int_equal(c.resp.body.len, 0);
	assert_int_equal(ui_get(&c, dir, KURA_HTTP_GET, "/", "\"other\""), 200);
	assert_int_equal(ui_get(&c, dir, KURA_HTTP_HEAD, "/ui/app.js", NULL), 200);
	assert_string_equal(c.resp.content_type, "text/javascript; charset=utf-8");
	/* refused: a link, an unknown type, a directory, a name with a dot
	 * first, outside ui/, a method other than GET/HEAD, the UI off */
	const char *const bad[] = {"/ui/link.js", "/ui/x.exe", "/ui", "/ui/", "/ui/.app.js",
				   "/index.html", "/secret", "/ui/app.js/x", "/ui/a%2fb.js"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ui_get(&c, dir, KURA_HTTP_GET, bad[i], NULL), 404);
		assert_non_null(resp_header(&c.resp, "Content-Security-Policy"));
	}
	assert_int_equal(ui_get(&c, dir, KURA_HTTP_POST, "/", NULL), 405);
	assert_int_equal(ui_get(&c, NULL, KURA_HTTP_GET, "/", NULL), 404);
	kura_buf_release(&c.resp.body);
	unlink(q);
	snprintf(p, sizeof(p), "%s/ui/app.js", dir), unlink(p);
	snprintf(p, sizeof(p), "%s/ui/x.exe", dir), unlink(p);
	snprintf(p, sizeof(p), "%s/ui", dir), rmdir(p);
	snprintf(p, sizeof(p), "%s/index.html", dir), unlink(p);
	snprintf(p, sizeof(p), "%s/secret", dir), unlink(p);
	rmdir(dir);
}

static void test_query(void **state)
{
	(void)state;
	struct kura_http_query_iter it;
	char n[KURA_HTTP_QUERY_MAX_NAME], v[KURA_HTTP_QUERY_MAX_VALUE];
	kura_http_query_init(&it, "a=1&&b=x+y%2Fz&c&=e");
	assert_int_equal(kura_http_query_next(&it, n, sizeof(n), v, sizeof(v)), 1);
	assert_string_equal(n, "a");
	assert_string_equal(v, "1");
	assert_int_equal(kura_http_query_next(&it, n, sizeof(n), v, sizeof(v)), 1);
	assert_string_equal(v, "x y/z");
	assert_int_equal(kura_http_query_next(&it, n, sizeof(n), v, sizeof(v)), 1);
	assert_string_equal(n, "c");
	assert_string_equal(v, "");
	assert_int_equal(kura_http_query_next(&it, n, sizeof(n), v, sizeof(v)), 1);
	assert_string_equal(n, "");
	assert_int_equal(kura_http_query_next(&it, n, sizeof(n), v, sizeof(v)), 0);
	kura_http_query_init(&it, "a=%zz");
	assert_int_equal(kura_http_query_next(&it, n, sizeof(n), v, sizeof(v)), KURA_EINVAL);
	kura_http_query_init(&it, "a=%00");
	assert_int_equal(kura_http_query_next(&it, n, sizeof(n), v, sizeof(v)), KURA_EINVAL);
	kura_http_query_init(&it, "abcdef=1");
	assert_int_equal(kura_http_query_next(&it, n, 4, v, sizeof(v)), KURA_ETOOBIG);
	kura_http_query_init(&it, NULL);
	assert_int_equal(kura_http_query_next(&it, n, sizeof(n), v, sizeof(v)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal), cmocka_unit_test(test_ui), cmocka_unit_test(test_listeners_limits),
		cmocka_unit_test(test_refused), cmocka_unit_test(test_routes),
		cmocka_unit_test(test_query), cmocka_unit_test(test_static),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
