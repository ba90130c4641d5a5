/*
 * config.c - the INI file of `kura serve` (serve.h, docs/SERVE.md): every
 * key known, every value checked, every default safe; errors name the line.
 */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/receiver.h"
#include "serve/serve.h"
#include "util/conf.h"
#include "util/err.h"
#include "util/banned.h"

#define TWO_YEARS_S 63072000u
#define DAY_S 86400u

struct conf_ctx {
	struct kura_serve_config *cfg;
	char msg[KURA_CONF_MSG];
};

static int fail(struct conf_ctx *c, const char *fmt, const char *a, const char *b)
{
	return kura_conf_fail(c->msg, fmt, a, b);
}

/* Meson compiles in where the web UI's files are (src/serve/meson.build). */
#ifndef KURA_WEB_DIR
#define KURA_WEB_DIR "/usr/share/kura/web"
#endif

const char *kura_serve_ui_default_dir(void)
{
#if defined(KURA_WEB_SRC_DIR) && defined(KURA_BUILD_ROOT)
	/* a binary run from its own build tree serves the source tree's files,
	 * so a developer never sees a stale installed copy */
	char exe[KURA_SERVE_PATH];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t root = strlen(KURA_BUILD_ROOT);
	if (n > 0 && (size_t)n > root && memcmp(exe, KURA_BUILD_ROOT, root) == 0 &&
	    exe[root] == '/')
		return KURA_WEB_SRC_DIR;
#endif
	return KURA_WEB_DIR;
}

void kura_serve_config_default(struct kura_serve_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hsts_max_age = TWO_YEARS_S;
	cfg->ticket_rotate_s = 3600;
	cfg->scanning = 1;
	cfg->ui_enabled = 1;
	snprintf(cfg->ui_dir, sizeof(cfg->ui_dir), "%s", kura_serve_ui_default_dir());
	cfg->limits = (struct kura_serve_limits){
		.max_header_bytes = 16384, .max_headers = KURA_HTTP_MAX_HEADERS,
		.max_body_bytes = 16u * 1024 * 1024, .max_json_depth = 64,
		.max_bundle_entries = 1000, .max_connections = 1024, .max_conn_per_ip = 64,
		.rate_per_account = 50, .rate_per_ip = 200, .header_timeout_s = 10,
		.body_timeout_s = 30, .idle_timeout_s = 60, .max_search_count = 100,
		.handshake_timeout_s = 10, .drain_timeout_s = 30};
}

static int parse_mtls(const char *v, int *ret)
{
	static const char *names[] = {"off", "optional", "required"};
	for (int i = 0; i < 3; i++)
		if (strcmp(v, names[i]) == 0) {
			*ret = i;
			return 0;
		}
	return KURA_EINVAL;
}

static int split_host(const char *s, size_t n, struct kura_serve_listener *l)
{
	const char *colon = memrchr(s, ':', n);
	const char *h = s, *he = colon;
	char port[8], *end = NULL;
	if (!colon || (size_t)(s + n - colon - 1) >= sizeof(port) || colon + 1 == s + n)
		return KURA_EINVAL;
	if (*s == '[') {
		if (colon == s || colon[-1] != ']')
			return KURA_EINVAL;
		h = s + 1;
		he = colon - 1;
	}
	if (he <= h || (size_t)(he - h) >= sizeof(l->host) || n >= sizeof(l->addr))
		return KURA_EINVAL;
	memcpy(l->host, h, (size_t)(he - h));
	l->host[he - h] = '\0';
	memcpy(l->addr, s, n);
	l->addr[n] = '\0';
	memcpy(port, colon + 1, (size_t)(s + n - colon - 1));
	port[s + n - colon - 1] = '\0';
	errno = 0;
	unsigned long p = strtoul(port, &end, 10);
	if (errno || *end || port[0] < '0' || port[0] > '9' || p > 65535)
		return KURA_EINVAL;
	l->port = (unsigned)p;
	return 0;
}

int kura_serve_parse_listen(const char *s, struct kura_serve_listener *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->mtls = KURA_MTLS_REQUIRED;
	size_t n = strcspn(s, " \t");
	if (split_host(s, n, ret))
		return KURA_EINVAL;
	const char *p = s + n;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 0;
	if (strncmp(p, "mtls=", 5) != 0)
		return KURA_EINVAL;
	return parse_mtls(p + 5, &ret->mtls);
}

static int set_str(struct conf_ctx *c, char *dst, const char *name, const char *v)
{
	return kura_conf_str(c->msg, dst, KURA_SERVE_PATH, name, v);
}

static int set_uint(struct conf_ctx *c, unsigned *dst, uint64_t min, uint64_t max,
		    const char *name, const char *v)
{
	return kura_conf_uint(c->msg, dst, min, max, 1, name, v);
}

static int conf_server(struct conf_ctx *c, const char *name, const char *v)
{
	struct kura_serve_config *cfg = c->cfg;
	struct {
		const char *name;
		char *dst;
	} strs[] = {{"cert", cfg->cert}, {"key", cfg->key}, {"client_ca", cfg->client_ca},
		    {"crl", cfg->crl}, {"log", cfg->log}};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strcmp(name, strs[i].name) == 0)
			return set_str(c, strs[i].dst, name, v);
	if (strcmp(name, "listen") == 0) {
		if (cfg->nlisten == KURA_SERVE_MAX_LISTENERS)
			return fail(c, "listen: more than 16 listeners%s%s", "", "");
		if (kura_serve_parse_listen(v, &cfg->listen[cfg->nlisten]))
			return fail(c, "listen: '%s' is not ADDR:PORT [mtls=required|optional|off]%s",
				    v, "");
		cfg->nlisten++;
		return 1;
	}
	if (strcmp(name, "threads") == 0)
		return set_uint(c, &cfg->threads, 0, KURA_SERVE_MAX_THREADS, name, v);
	if (strcmp(name, "hsts_max_age") == 0)
		return set_uint(c, &cfg->hsts_max_age, DAY_S, 10u * 366 * DAY_S, name, v);
	if (strcmp(name, "ticket_rotate_s") == 0)
		return set_uint(c, &cfg->ticket_rotate_s, 60, DAY_S, name, v);
	return fail(c, "unknown key '%s' in [server]%s", name, "");
}

static int conf_vault(struct conf_ctx *c, const char *name, const char *v)
{
	if (strcmp(name, "dir") == 0)
		return set_str(c, c->cfg->vault_dir, name, v);
	if (strcmp(name, "passphrase_file") == 0)
		return set_str(c, c->cfg->passphrase_file, name, v);
	return fail(c, "unknown key '%s' in [vault]%s", name, "");
}

static int conf_scan(struct conf_ctx *c, const char *name, const char *v)
{
	if (strcmp(name, "clamav_db") == 0)
		return set_str(c, c->cfg->clamav_db, name, v);
	if (strcmp(name, "scanning") == 0) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return fail(c, "scanning: '%s' is neither on nor off%s", v, "");
		c->cfg->scanning = strcmp(v, "on") == 0;
		return 1;
	}
	return fail(c, "unknown key '%s' in [scan]%s", name, "");
}

static int conf_ui(struct conf_ctx *c, const char *name, const char *v)
{
	if (strcmp(name, "dir") == 0) {
		if (v[0] != '/')
			return fail(c, "dir: '%s' is not an absolute path%s", v, "");
		return set_str(c, c->cfg->ui_dir, name, v);
	}
	if (strcmp(name, "enabled") == 0) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return fail(c, "enabled: '%s' is neither on nor off%s", v, "");
		c->cfg->ui_enabled = strcmp(v, "on") == 0;
		return 1;
	}
	return fail(c, "unknown key '%s' in [ui]%s", name, "");
}

static int conf_limits(struct conf_ctx *c, const char *name, const char *v)
{
	struct kura_serve_limits *l = &c->cfg->limits;
	unsigned hb = 0, body = 0;
	const struct {
		const char *name;
		unsigned *dst;
		uint64_t min, max;
	} u[] = {{"max_headers", &l->max_headers, 8, KURA_HTTP_MAX_HEADERS},
		 {"max_json_depth", &l->max_json_depth, 4, 64},
		 {"max_bundle_entries", &l->max_bundle_entries, 1, 100000},
		 {"max_connections", &l->max_connections, 1, 1000000},
		 {"max_conn_per_ip", &l->max_conn_per_ip, 1, 1000000},
		 {"rate_per_account", &l->rate_per_account, 0, 1000000},
		 {"rate_per_ip", &l->rate_per_ip, 0, 1000000},
		 {"header_timeout_s", &l->header_timeout_s, 1, 3600},
		 {"body_timeout_s", &l->body_timeout_s, 1, 3600},
		 {"idle_timeout_s", &l->idle_timeout_s, 1, 3600},
		 {"handshake_timeout_s", &l->handshake_timeout_s, 1, 3600},
		 {"drain_timeout_s", &l->drain_timeout_s, 0, 3600},
		 {"max_search_count", &l->max_search_count, 1, 10000}};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (strcmp(name, u[i].name) == 0)
			return set_uint(c, u[i].dst, u[i].min, u[i].max, name, v);
	if (strcmp(name, "max_header_bytes") == 0) {
		if (!set_uint(c, &hb, 1024, 1024 * 1024, name, v))
			return 0;
		l->max_header_bytes = hb;
		return 1;
	}
	if (strcmp(name, "max_body_bytes") == 0) {
		if (!set_uint(c, &body, 1024, 64u * 1024 * 1024, name, v))
			return 0;
		l->max_body_bytes = body;
		return 1;
	}
	return fail(c, "unknown key '%s' in [limits]%s", name, "");
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_ctx *c = user;
	if (c->msg[0])
		return 0;
	if (strcmp(section, "server") == 0)
		return conf_server(c, name, value);
	if (strcmp(section, "vault") == 0)
		return conf_vault(c, name, value);
	if (strcmp(section, "limits") == 0)
		return conf_limits(c, name, value);
	if (strcmp(section, "scan") == 0)
		return conf_scan(c, name, value);
	if (strcmp(section, "ui") == 0)
		return conf_ui(c, name, value);
	return fail(c, "unknown section [%s]%s", section, "");
}

static const char *conf_missing(const struct kura_serve_config *cfg)
{
	int need_ca = 0;
	for (unsigned i = 0; i < cfg->nlisten; i++)
		need_ca |= cfg->listen[i].mtls != KURA_MTLS_OFF;
	if (!cfg->nlisten)
		return "[server] listen";
	if (!cfg->cert[0])
		return "[server] cert";
	if (!cfg->key[0])
		return "[server] key";
	if (need_ca && !cfg->client_ca[0])
		return "[server] client_ca (or mtls=off on every listener)";
	if (!cfg->vault_dir[0])
		return "[vault] dir";
	if (!cfg->passphrase_file[0])
		return "[vault] passphrase_file";
	if (cfg->scanning && !cfg->clamav_db[0])
		return "[scan] clamav_db (or scanning = off)";
	return NULL;
}

int kura_serve_config_load(const char *path, struct kura_serve_config *ret, char err[256])
{
	struct conf_ctx c = {.cfg = ret};
	kura_serve_config_default(ret);
	err[0] = '\0';
	int line = ini_parse(path, conf_handler, &c);
	if (line < 0) {
		snprintf(err, 256, "cannot read '%s'", path);
		return errno == ENOENT ? KURA_ENOTFOUND : KURA_EIO;
	}
	if (line > 0) {
		snprintf(err, 256, "%s:%d: %s", path, line, c.msg[0] ? c.msg : "syntax error");
		return KURA_EINVAL;
	}
	const char *miss = conf_missing(ret);
	if (miss) {
		snprintf(err, 256, "%s: %s is required", path, miss);
		return KURA_EINVAL;
	}
	if (ret->threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		ret->threads = n < 1 ? 1 : n > KURA_SERVE_MAX_THREADS ? KURA_SERVE_MAX_THREADS
								  : (unsigned)n;
	}
	return 0;
}
