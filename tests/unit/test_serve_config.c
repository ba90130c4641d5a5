/* test_serve_config.c - kura serve's INI file (serve/config.c), the route
 * table (serve/router.c) and the query-string iterator (serve/http.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		cmocka_unit_test(test_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
