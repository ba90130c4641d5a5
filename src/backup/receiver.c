/*
 * receiver.c - the backup receiver (receiver.h): an evhttp server over
 * OpenSSL bufferevents that stores into a directory repository, refuses
 * everything but put-if-absent, get and list, checks each manifest against
 * the vault's ledger key and the newest stored tree head, and applies its
 * own retention.  Single-threaded: each request is handled whole, its body
 * already read, inside one callback.
 */
#include "backup/receiver.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <ini.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netdb.h>
#include <unistd.h>

#include "backup/manifest.h"
#include "crypto/crypto.h"
#include "crypto/tls_server.h"
#include "util/conf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/banned.h"

#define DAY_US (86400LL * 1000000)
#define HOUR_S 3600
#define MAX_CHILDREN 16 /* alert commands not yet reaped */
#define REASON_MAX 512

extern char **environ;

struct kura_receiver {
	struct kura_receiver_config cfg;
	struct kura_repo *repo;
	uint8_t pub[KURA_PUBKEY_LEN];
	uint64_t used;
	struct kura_tls_server *tls;
	struct event_base *base;
	struct evhttp *http;
	struct event *sigterm, *sigint, *hourly;
	int logfd;
	pid_t children[MAX_CHILDREN];
	char err[256];
};

static int rverr(struct kura_receiver *rv, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int rverr(struct kura_receiver *rv, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rv->err, sizeof(rv->err), fmt, ap);
	va_end(ap);
	return err;
}

/* ---- the request path ---- */

static int parse_gen(const char *p, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	if (n == 0 || n > KURA_REPO_GEN_DIGITS || p[0] == '0')
		return KURA_ENOTFOUND;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return KURA_ENOTFOUND;
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return KURA_ENOTFOUND;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

static int parse_id(const char *p, size_t n, uint8_t id[KURA_OBJ_ID_LEN])
{
	if (n != KURA_OBJ_ID_HEX)
		return KURA_ENOTFOUND;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return KURA_ENOTFOUND;
	char hex[KURA_OBJ_ID_HEX + 1];
	memcpy(hex, p, n);
	hex[n] = '\0';
	return kura_hex_decode(hex, id, KURA_OBJ_ID_LEN) ? KURA_ENOTFOUND : 0;
}

static int has_prefix(const char *p, size_t n, const char *pre, size_t *ret_len)
{
	size_t k = strlen(pre);
	*ret_len = k;
	return n >= k && memcmp(p, pre, k) == 0;
}

int kura_receiver_parse_path(const char *p, size_t n, struct kura_recv_path *ret)
{
	size_t k;
	memset(ret, 0, sizeof(*ret));
	if (!p || n > KURA_RECV_MAX_URI)
		return KURA_ENOTFOUND;
	if (n == 13 && memcmp(p, "/v1/manifests", 13) == 0) {
		ret->route = KURA_RECV_MANIFESTS;
		return 0;
	}
	if (has_prefix(p, n, "/v1/objects/", &k) && !parse_id(p + k, n - k, ret->id)) {
		ret->route = KURA_RECV_OBJECT;
		return 0;
	}
	if (has_prefix(p, n, "/v1/manifests/", &k) && !parse_gen(p + k, n - k, &ret->generation)) {
		ret->route = KURA_RECV_MANIFEST;
		return 0;
	}
	memset(ret, 0, sizeof(*ret));
	return KURA_ENOTFOUND;
}

/* ---- configuration ---- */

struct conf_ctx {
	struct kura_receiver_config *cfg;
	char msg[KURA_CONF_MSG];
};

static int conf_fail(struct conf_ctx *c, const char *fmt, const char *a, const char *b)
{
	return kura_conf_fail(c->msg, fmt, a, b);
}

static int set_str(struct conf_ctx *c, char *dst, size_t cap, const char *name, const char *v)
{
	return kura_conf_str(c->msg, dst, cap, name, v);
}

static int set_uint(struct conf_ctx *c, unsigned *dst, unsigned max, const char *name,
		    const char *v)
{
	return kura_conf_uint(c->msg, dst, 0, max, 0, name, v);
}

/* allow=<SHA-256 fingerprint>, 64 hex digits, colons allowed. */
static int add_allow(struct conf_ctx *c, const char *v)
{
	struct kura_receiver_config *cfg = c->cfg;
	char fp[KURA_CERT_FP_HEX + 1];
	size_t k = 0;
	if (cfg->nallow >= KURA_RECV_MAX_ALLOW)
		return conf_fail(c, "%s: more than 64 fingerprints%s", "allow", "");
	for (const char *p = v; *p; p++) {
		if (*p == ':')
			continue;
		if (kura_hex_digit(*p) < 0 || k >= KURA_CERT_FP_HEX)
			return conf_fail(c, "allow: '%s' is not a SHA-256 fingerprint%s", v, "");
		fp[k++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	}
	if (k != KURA_CERT_FP_HEX)
		return conf_fail(c, "allow: '%s' is not a SHA-256 fingerprint%s", v, "");
	fp[k] = '\0';
	memcpy(cfg->allow[cfg->nallow++], fp, sizeof(fp));
	return 1;
}

static int conf_receiver(struct conf_ctx *c, const char *name, const char *v)
{
	struct kura_receiver_config *cfg = c->cfg;
	struct {
		const char *name;
		char *dst;
		size_t cap;
	} strs[] = {{"listen", cfg->listen, sizeof(cfg->listen)},
		    {"data", cfg->data, sizeof(cfg->data)},
		    {"cert", cfg->cert, sizeof(cfg->cert)},
		    {"key", cfg->key, sizeof(cfg->key)},
		    {"client_ca", cfg->client_ca, sizeof(cfg->client_ca)},
		    {"ledger_pubkey", cfg->ledger_pubkey, sizeof(cfg->ledger_pubkey)}};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strcmp(name, strs[i].name) == 0)
			return set_str(c, strs[i].dst, strs[i].cap, name, v);
	if (strcmp(name, "quota") == 0)
		return kura_parse_size(v, &cfg->quota) == 0 ||
		       conf_fail(c, "quota: '%s' is not a size (like 500G)%s", v, "");
	if (strcmp(name, "max_object") == 0)
		return (kura_parse_size(v, &cfg->max_object) == 0 && cfg->max_object &&
			cfg->max_object <= KURA_OBJ_MAX) ||
		       conf_fail(c, "max_object: '%s' is not a size up to 64M%s", v, "");
	if (strcmp(name, "allow") == 0)
		return add_allow(c, v);
	return conf_fail(c, "unknown key '%s' in [receiver]%s", name, "");
}

static int conf_retention(struct conf_ctx *c, const char *name, const char *v)
{
	struct kura_policy *p = &c->cfg->policy;
	unsigned days = 0;
	if (strcmp(name, "keep_min") == 0) {
		if (!set_uint(c, &p->keep_min, 100000, name, v))
			return 0;
		return p->keep_min >= KURA_POLICY_MIN_KEEP ||
		       conf_fail(c, "keep_min: '%s' is below 3%s", v, "");
	}
	if (strcmp(name, "daily") == 0)
		return set_uint(c, &p->daily, 100000, name, v);
	if (strcmp(name, "weekly") == 0)
		return set_uint(c, &p->weekly, 100000, name, v);
	if (strcmp(name, "monthly") == 0)
		return set_uint(c, &p->monthly, 100000, name, v);
	if (strcmp(name, "lock_days") == 0) {
		if (!set_uint(c, &days, 36500, name, v))
			return 0;
		p->lock_us = (int64_t)days * DAY_US;
		return 1;
	}
	return conf_fail(c, "unknown key '%s' in [retention]%s", name, "");
}

static int conf_alert(struct conf_ctx *c, const char *name, const char *v)
{
	struct kura_receiver_config *cfg = c->cfg;
	if (strcmp(name, "command") == 0) {
		if (v[0] != '/')
			return conf_fail(c, "command: '%s' is not an absolute path%s", v, "");
		return set_str(c, cfg->alert_command, sizeof(cfg->alert_command), name, v);
	}
	if (strcmp(name, "log") == 0)
		return set_str(c, cfg->log, sizeof(cfg->log), name, v);
	return conf_fail(c, "unknown key '%s' in [alert]%s", name, "");
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_ctx *c = user;
	if (c->msg[0])
		return 0;
	if (strcmp(section, "receiver") == 0)
		return conf_receiver(c, name, value);
	if (strcmp(section, "retention") == 0)
		return conf_retention(c, name, value);
	if (strcmp(section, "alert") == 0)
		return conf_alert(c, name, value);
	return conf_fail(c, "unknown section [%s]%s", section, "");
}

static const char *conf_missing(const struct kura_receiver_config *cfg)
{
	if (!cfg->listen[0])
		return "listen";
	if (!cfg->data[0])
		return "data";
	if (!cfg->cert[0])
		return "cert";
	if (!cfg->key[0])
		return "key";
	if (!cfg->client_ca[0])
		return "client_ca";
	if (!cfg->ledger_pubkey[0])
		return "ledger_pubkey";
	return NULL;
}

int kura_receiver_config_load(const char *path, struct kura_receiver_config *ret, char err[256])
{
	struct conf_ctx c = {.cfg = ret};
	memset(ret, 0, sizeof(*ret));
	err[0] = '\0';
	kura_policy_default(&ret->policy);
	ret->policy.lock_us = (int64_t)KURA_RECV_DEFAULT_LOCK_DAYS * DAY_US;
	ret->max_object = KURA_OBJ_MAX;
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
		snprintf(err, 256, "%s: [receiver] %s= is required", path, miss);
		return KURA_EINVAL;
	}
	return 0;
}

/* ---- the log and alerts ---- */

/* One JSON line: {"time": ..., "event": event, ...fields of j}; j is consumed. */
static void log_json(struct kura_receiver *rv, const char *event, json_t *j)
{
	char t[KURA_TIME_STR];
	if (!j)
		return;
	kura_time_format(kura_time_now_us(), t);
	json_object_set_new(j, "time", json_string(t));
	json_object_set_new(j, "event", json_string(event));
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(j);
	if (!s)
		return;
	size_t n = strlen(s);
	s[n] = '\n';
	for (size_t off = 0; off <= n;) {
		ssize_t k = write(rv->logfd, s + off, n + 1 - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	free(s);
}

static void reap(struct kura_receiver *rv)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (rv->children[i] > 0 && waitpid(rv->children[i], NULL, WNOHANG) != 0)
			rv->children[i] = 0;
}

/* Log an alert and hand its text to the alert command (KURA_ALERT). */
static void alert(struct kura_receiver *rv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void alert(struct kura_receiver *rv, const char *fmt, ...)
{
	char text[REASON_MAX], env[REASON_MAX + 16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_json(rv, "alert", json_pack("{s:s}", "text", text));
	if (!rv->cfg.alert_command[0])
		return;
	reap(rv);
	snprintf(env, sizeof(env), "KURA_ALERT=%s", text);
	char *argv[] = {rv->cfg.alert_command, NULL};
	char *envp[] = {env, "PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	pid_t pid;
	if (posix_spawn(&pid, rv->cfg.alert_command, NULL, NULL, argv, envp) != 0) {
		log_json(rv, "alert-failed", json_pack("{s:s}", "command", rv->cfg.alert_command));
		return;
	}
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (rv->children[i] <= 0) {
			rv->children[i] = pid;
			return;
		}
	waitpid(pid, NULL, 0); /* too many outstanding: wait for this one */
}

/* ---- retention ---- */

static int cmp_gen_desc(const void *a, const void *b)
{
	uint64_t x = ((const struct kura_receiver_gen *)a)->g.generation;
	uint64_t y = ((const struct kura_receiver_gen *)b)->g.generation;
	return x > y ? -1 : x < y;
}

static int plan_apply(struct kura_receiver *rv, int64_t now_us, struct kura_receiver_gen *v,
		      size_t n)
{
	struct kura_policy_gen *pg = calloc(n ? n : 1, sizeof(*pg));
	if (!pg)
		return KURA_ENOMEM;
	for (size_t i = 0; i < n; i++)
		pg[i] = (struct kura_policy_gen){.generation = v[i].g.generation,
						 .created_us = v[i].stored_us};
	kura_policy_apply(&rv->cfg.policy, now_us, pg, n);
	/* v is newest first; the lock and keep_min are enforced here again,
	 * whatever the policy module decides. */
	for (size_t i = 0; i < n; i++) {
		v[i].keep = pg[i].keep;
		v[i].why = pg[i].why;
		if (!v[i].keep && i < rv->cfg.policy.keep_min) {
			v[i].keep = 1;
			v[i].why = "newest";
		}
		if (!v[i].keep && now_us - v[i].stored_us < rv->cfg.policy.lock_us) {
			v[i].keep = 1;
			v[i].why = "locked";
		}
	}
	free(pg);
	return 0;
}

int kura_receiver_plan(struct kura_receiver *rv, int64_t now_us, struct kura_receiver_gen **ret,
		       size_t *ret_n)
{
	struct kura_repo_gen *g = NULL;
	size_t n = 0;
	*ret = NULL;
	*ret_n = 0;
	int r = rv->repo->ops->manifest_list(rv->repo, &g, &n);
	if (r)
		return r;
	struct kura_receiver_gen *v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		free(g);
		return KURA_ENOMEM;
	}
	for (size_t i = 0; !r && i < n; i++) {
		v[i].g = g[i];
		r = kura_repo_dir_stored_us(rv->repo, g[i].generation, &v[i].stored_us);
	}
	free(g);
	qsort(v, n, sizeof(*v), cmp_gen_desc);
	if (!r)
		r = plan_apply(rv, now_us, v, n);
	if (r) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int kura_receiver_prune(struct kura_receiver *rv, int64_t now_us,
			struct kura_receiver_pruned *ret)
{
	struct kura_receiver_gen *v = NULL;
	size_t n = 0;
	memset(ret, 0, sizeof(*ret));
	int r = kura_receiver_plan(rv, now_us, &v, &n);
	for (size_t i = 0; !r && i < n; i++) {
		if (v[i].keep)
			continue;
		r = kura_repo_dir_remove_generation(rv->repo, v[i].g.generation);
		if (!r)
			ret->generations++;
	}
	free(v);
	if (!r)
		r = kura_repo_dir_gc(rv->repo, now_us - rv->cfg.policy.lock_us, &ret->objects,
				     &ret->bytes);
	if (ret->bytes <= rv->used)
		rv->used -= ret->bytes;
	return r;
}

/* Retention inside the server: log what it did or why it could not. */
static void retention(struct kura_receiver *rv)
{
	struct kura_receiver_pruned p;
	int r = kura_receiver_prune(rv, kura_time_now_us(), &p);
	if (r)
		log_json(rv, "retention-failed", json_pack("{s:s,s:s}", "error", kura_errname(r),
							   "reason", rv->repo->err));
	else if (p.generations || p.objects)
		log_json(rv, "retention", json_pack("{s:I,s:I,s:I}", "generations",
						    (json_int_t)p.generations, "objects",
						    (json_int_t)p.objects, "bytes",
						    (json_int_t)p.bytes));
}

/* ---- requests ---- */

struct call {
	struct kura_receiver *rv;
	struct evhttp_request *req;
	const char *method;
	char path[KURA_RECV_MAX_URI + 1];
	char peer[KURA_CERT_FP_HEX + 1];
	char addr[64];
	size_t bytes; /* request body */
};

static void answer_buf(struct call *c, int status, const char *reason, struct evbuffer *body)
{
	json_t *j = json_pack("{s:s,s:s,s:i,s:s,s:s,s:I}", "method", c->method, "path", c->path,
			      "status", status, "peer", c->peer, "addr", c->addr, "bytes",
			      (json_int_t)c->bytes);
	if (j && reason)
		json_object_set_new(j, "reason", json_string(reason));
	if (j && status >= 400)
		json_object_set_new(j, "refused", json_true());
	log_json(c->rv, "request", j);
	evhttp_send_reply(c->req, status, NULL, body);
}

/* Answer status; a refusal carries {"error": reason}. */
static void answer(struct call *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void answer(struct call *c, int status, const char *fmt, ...)
{
	char reason[REASON_MAX] = "";
	struct evbuffer *b = evbuffer_new();
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
	}
	/* A HEAD answer carries no body: what follows on a kept-alive
	 * connection would be read as the next response. */
	int head = evhttp_request_get_command(c->req) == EVHTTP_REQ_HEAD;
	if (b && status >= 400 && !head) {
		json_t *j = json_pack("{s:s}", "error", reason);
		char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
		if (s)
			evbuffer_add_printf(b, "%s\n", s);
		free(s);
		json_decref(j);
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type",
				  "application/json");
	}
	answer_buf(c, status, fmt ? reason : NULL, b);
	if (b)
		evbuffer_free(b);
}

static void answer_bytes(struct call *c, const char *type, const void *p, size_t n)
{
	struct evbuffer *b = evbuffer_new();
	if (!b || evbuffer_add(b, p, n) < 0) {
		if (b)
			evbuffer_free(b);
		answer(c, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type", type);
	answer_buf(c, 200, NULL, b);
	evbuffer_free(b);
}

/* The request body, contiguous. */
static const uint8_t *body(struct call *c)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	c->bytes = evbuffer_get_length(in);
	return c->bytes ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
}

/* A repository failure as an answer. */
static void answer_repo(struct call *c, int r)
{
	if (r == KURA_ETOOBIG) {
		alert(c->rv, "receiver storage is full: %s", c->rv->repo->err);
		answer(c, 507, "the receiver's disk is full");
	} else if (r == KURA_ECORRUPT) {
		alert(c->rv, "stored data was altered on the receiver: %s", c->rv->repo->err);
		answer(c, 500, "stored data is damaged: %s", c->rv->repo->err);
	} else if (r == KURA_ENOTFOUND) {
		answer(c, 404, "not found");
	} else {
		answer(c, 500, "storage error: %s", c->rv->repo->err);
	}
}

static int over_quota(struct call *c, size_t n)
{
	struct kura_receiver *rv = c->rv;
	if (!rv->cfg.quota || rv->used + n <= rv->cfg.quota)
		return 0;
	alert(rv, "receiver quota reached: %llu of %llu bytes used, %zu more refused",
	      (unsigned long long)rv->used, (unsigned long long)rv->cfg.quota, n);
	answer(c, 507, "quota exceeded: %llu of %llu bytes used", (unsigned long long)rv->used,
	       (unsigned long long)rv->cfg.quota);
	return 1;
}

static void object_get(struct call *c, const struct kura_recv_path *p, int head)
{
	struct kura_repo *repo = c->rv->repo;
	if (head) {
		int r = repo->ops->has(repo, p->id);
		if (r < 0)
			answer_repo(c, r);
		else
			answer(c, r ? 200 : 404, NULL);
		return;
	}
	struct kura_buf b;
	kura_buf_init(&b, KURA_OBJ_MAX + 1);
	int r = repo->ops->get(repo, p->id, &b);
	if (r)
		answer_repo(c, r);
	else
		answer_bytes(c, "application/octet-stream", b.data, b.len);
	kura_buf_release(&b);
}

static void object_put(struct call *c, const struct kura_recv_path *p)
{
	struct kura_receiver *rv = c->rv;
	const uint8_t *data = body(c);
	uint8_t h[KURA_OBJ_ID_LEN];
	int type;
	if (c->bytes > rv->cfg.max_object)
		return answer(c, 413, "object larger than %llu bytes",
			      (unsigned long long)rv->cfg.max_object);
	if (kura_obj_peek(data, c->bytes, &type))
		return answer(c, 400, "not a backup object");
	kura_sha256(data, c->bytes, h);
	if (memcmp(h, p->id, sizeof(h)) != 0)
		return answer(c, 400, "hash mismatch: the body's SHA-256 is not the object id");
	int have = rv->repo->ops->has(rv->repo, p->id);
	if (have < 0)
		return answer_repo(c, have);
	if (!have && over_quota(c, c->bytes))
		return;
	int r = rv->repo->ops->put(rv->repo, p->id, data, c->bytes);
	if (r)
		return answer_repo(c, r);
	if (!have)
		rv->used += c->bytes;
	answer(c, have ? 200 : 201, NULL);
}

/* ---- manifests ---- */

static void manifest_get(struct call *c, const struct kura_recv_path *p)
{
	struct kura_buf b;
	kura_buf_init(&b, KURA_MANIFEST_MAX + 1);
	int r = c->rv->repo->ops->manifest_get(c->rv->repo, p->generation, &b);
	if (r)
		answer_repo(c, r);
	else
		answer_bytes(c, "application/octet-stream", b.data, b.len);
	kura_buf_release(&b);
}

/* The newest stored manifest, parsed (*ret_have 0 if there is none). */
static int newest(struct kura_receiver *rv, struct kura_manifest *ret, int *ret_have)
{
	struct kura_repo_gen *g = NULL;
	size_t n = 0;
	struct kura_buf b;
	*ret_have = 0;
	int r = rv->repo->ops->manifest_list(rv->repo, &g, &n);
	if (r || n == 0) {
		free(g);
		return r;
	}
	kura_buf_init(&b, KURA_MANIFEST_MAX + 1);
	r = rv->repo->ops->manifest_get(rv->repo, g[n - 1].generation, &b);
	if (!r)
		r = kura_manifest_parse(b.data, b.len, ret) ? KURA_ECORRUPT : 0;
	if (!r)
		*ret_have = 1;
	kura_buf_release(&b);
	free(g);
	return r;
}

/* Does m extend the newest stored generation?  0, or answered. */
static int check_history(struct call *c, const struct kura_manifest *m)
{
	struct kura_manifest old;
	int have;
	int r = newest(c->rv, &old, &have);
	if (r) {
		answer_repo(c, r);
		return r;
	}
	if (!have)
		return 0;
	if (m->generation <= old.generation) {
		answer(c, 422, "generation %llu is not newer than the stored generation %llu",
		       (unsigned long long)m->generation, (unsigned long long)old.generation);
		r = KURA_EDENIED;
	} else if (memcmp(m->vault_id, old.vault_id, sizeof(m->vault_id)) != 0) {
		alert(c->rv, "receiver refused a manifest of another vault (peer %s)", c->peer);
		answer(c, 422, "the manifest belongs to another vault");
		r = KURA_EDENIED;
	} else {
		r = kura_manifest_extends(&old, m);
		if (r == KURA_EVERIFY || r == KURA_EINVAL) {
			alert(c->rv, "history rewritten: receiver refused a manifest whose tree head "
			      "is inconsistent with generation %llu (peer %s)",
			      (unsigned long long)old.generation, c->peer);
			answer(c, 422, "history rewritten: the tree head is inconsistent with "
			       "generation %llu", (unsigned long long)old.generation);
		} else if (r) {
			answer(c, 422, "cannot prove consistency with generation %llu: the manifest "
			       "carries no proof from it", (unsigned long long)old.generation);
		}
	}
	kura_manifest_release(&old);
	return r;
}

/* Every object the generation needs must already be here.  0, or answered. */
static int check_objects(struct call *c, const struct kura_manifest *m)
{
	uint8_t (*ids)[KURA_OBJ_ID_LEN] = NULL;
	size_t n = 0, missing = 0;
	int r = kura_manifest_objects(m, &ids, &n);
	for (size_t i = 0; !r && i < n; i++) {
		int k = c->rv->repo->ops->has(c->rv->repo, ids[i]);
		if (k < 0)
			r = k;
		else if (k == 0)
			missing++;
	}
	free(ids);
	if (r) {
		answer_repo(c, r);
		return r;
	}
	if (missing) {
		answer(c, 422, "%zu of %zu objects of the generation are missing: upload them first",
		       missing, n);
		return KURA_EDENIED;
	}
	return 0;
}

/* Same generation already stored: 200 if identical, 409 if not; -1 if absent. */
static int same_stored(struct call *c, uint64_t gen, const uint8_t *p, size_t n)
{
	struct kura_buf b;
	kura_buf_init(&b, KURA_MANIFEST_MAX + 1);
	int r = c->rv->repo->ops->manifest_get(c->rv->repo, gen, &b);
	int st = r == KURA_ENOTFOUND ? -1 : r ? 500 : (b.len == n && !memcmp(b.data, p, n)) ? 200 : 409;
	kura_buf_release(&b);
	if (st == 409) {
		alert(c->rv, "receiver refused a different manifest for stored generation %llu "
		      "(peer %s)", (unsigned long long)gen, c->peer);
		answer(c, 409, "generation %llu is already stored with other content",
		       (unsigned long long)gen);
	} else if (st == 500) {
		answer_repo(c, r);
	} else if (st == 200) {
		answer(c, 200, NULL);
	}
	return st;
}

static int check_manifest(struct call *c, const struct kura_recv_path *p, const uint8_t *data,
			  struct kura_manifest *m)
{
	if (kura_manifest_parse(data, c->bytes, m)) {
		answer(c, 400, "not a manifest");
		return KURA_EINVAL;
	}
	if (m->generation != p->generation) {
		answer(c, 400, "the manifest is of generation %llu, not %llu",
		       (unsigned long long)m->generation, (unsigned long long)p->generation);
		return KURA_EINVAL;
	}
	if (kura_manifest_verify(m, data, c->bytes, c->rv->pub)) {
		alert(c->rv, "receiver refused a manifest with a bad signature or another vault's "
		      "key, generation %llu (peer %s)", (unsigned long long)m->generation, c->peer);
		answer(c, 422, "bad signature: the manifest is not signed by this vault's ledger key");
		return KURA_ECRYPTO;
	}
	int r = check_history(c, m);
	if (!r)
		r = check_objects(c, m);
	return r;
}

static void manifest_put(struct call *c, const struct kura_recv_path *p)
{
	struct kura_receiver *rv = c->rv;
	const uint8_t *data = body(c);
	struct kura_manifest m;
	if (c->bytes > KURA_MANIFEST_MAX)
		return answer(c, 413, "manifest too large");
	if (same_stored(c, p->generation, data, c->bytes) >= 0)
		return;
	int r = check_manifest(c, p, data, &m);
	if (r == KURA_EINVAL)
		return; /* parse failed: nothing to release */
	kura_manifest_release(&m);
	if (r || over_quota(c, c->bytes))
		return;
	r = rv->repo->ops->manifest_put(rv->repo, p->generation, data, c->bytes);
	if (r)
		return answer_repo(c, r);
	rv->used += c->bytes;
	answer(c, 201, NULL);
	retention(rv);
}

static json_t *list_json(struct kura_receiver *rv, const struct kura_repo_gen *g, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack("{s:I,s:I,s:I,s:I}", "generation",
						   (json_int_t)g[i].generation, "tree_size",
						   (json_int_t)g[i].tree_size, "created_us",
						   (json_int_t)g[i].created_us, "bytes",
						   (json_int_t)g[i].bytes));
	return json_pack("{s:o,s:{s:I,s:I,s:I,s:I}}", "generations", a, "info", "lock_us",
			 (json_int_t)rv->cfg.policy.lock_us, "keep_min",
			 (json_int_t)rv->cfg.policy.keep_min, "used_bytes", (json_int_t)rv->used,
			 "quota_bytes", (json_int_t)rv->cfg.quota);
}

static void manifest_list(struct call *c)
{
	struct kura_repo_gen *g = NULL;
	size_t n = 0;
	int r = c->rv->repo->ops->manifest_list(c->rv->repo, &g, &n);
	if (r)
		return answer_repo(c, r);
	json_t *j = list_json(c->rv, g, n);
	free(g);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return answer(c, 500, "out of memory");
	answer_bytes(c, "application/json", s, strlen(s));
	free(s);
}

/* ---- dispatch ---- */

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	default: return "OTHER";
	}
}

static void call_init(struct call *c, struct kura_receiver *rv, struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	const char *uri = evhttp_request_get_uri(req);
	char *addr = NULL;
	ev_uint16_t port = 0;
	memset(c, 0, sizeof(*c));
	c->rv = rv;
	c->req = req;
	c->method = method_name(evhttp_request_get_command(req));
	snprintf(c->path, sizeof(c->path), "%s", uri ? uri : "");
	kura_tls_peer_fingerprint(bev ? bufferevent_openssl_get_ssl(bev) : NULL, c->peer);
	if (conn)
		evhttp_connection_get_peer(conn, &addr, &port);
	snprintf(c->addr, sizeof(c->addr), "%s:%u", addr ? addr : "?", (unsigned)port);
}

static int allowed_peer(const struct kura_receiver *rv, const char *fp)
{
	if (!fp[0])
		return 0;
	if (rv->cfg.nallow == 0)
		return 1;
	for (size_t i = 0; i < rv->cfg.nallow; i++)
		if (strcmp(rv->cfg.allow[i], fp) == 0)
			return 1;
	return 0;
}

static void route(struct call *c, const struct kura_recv_path *p, enum evhttp_cmd_type m)
{
	if (p->route == KURA_RECV_OBJECT && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD))
		return object_get(c, p, m == EVHTTP_REQ_HEAD);
	if (p->route == KURA_RECV_OBJECT && m == EVHTTP_REQ_PUT)
		return object_put(c, p);
	if (p->route == KURA_RECV_MANIFEST && m == EVHTTP_REQ_GET)
		return manifest_get(c, p);
	if (p->route == KURA_RECV_MANIFEST && m == EVHTTP_REQ_PUT)
		return manifest_put(c, p);
	if (p->route == KURA_RECV_MANIFESTS && m == EVHTTP_REQ_GET)
		return manifest_list(c);
	answer(c, 405, "method not allowed on this path");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct kura_receiver *rv = arg;
	struct kura_recv_path p;
	struct call c;
	call_init(&c, rv, req);
	reap(rv);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	if (!allowed_peer(rv, c.peer))
		return answer(&c, 403, "this client certificate is not allowed");
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD && m != EVHTTP_REQ_PUT)
		return answer(&c, 405, "method not allowed: backups are never deleted or changed");
	if (kura_receiver_parse_path(c.path, strlen(c.path), &p))
		return answer(&c, 404, "no such path");
	route(&c, &p, m);
}

/* ---- the server's life ---- */

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct kura_receiver *rv = arg;
	struct ssl_st *ssl = kura_tls_server_ssl(rv->tls);
	if (!ssl)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct kura_receiver *rv = arg;
	(void)what;
	log_json(rv, "stop", json_pack("{s:i}", "signal", (int)sig));
	event_base_loopexit(rv->base, NULL);
}

static void on_hour(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reap(arg);
	retention(arg);
}

static int load_pubkey(struct kura_receiver *rv)
{
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_CERTFILE);
	int r = kura_fs_read(rv->cfg.ledger_pubkey, b.max, &b);
	if (!r)
		r = kura_ed25519_public_from_pem(b.data, b.len, rv->pub);
	kura_buf_release(&b);
	if (r)
		rverr(rv, 0, "cannot read the ledger public key '%s'",
			 rv->cfg.ledger_pubkey);
	return r;
}

static int open_log(struct kura_receiver *rv)
{
	rv->logfd = STDERR_FILENO;
	if (!rv->cfg.log[0])
		return 0;
	rv->logfd = open(rv->cfg.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (rv->logfd >= 0)
		return 0;
	rv->logfd = STDERR_FILENO;
	rverr(rv, 0, "cannot open the log '%s': %s", rv->cfg.log,
		 strerror(errno));
	return KURA_EIO;
}

static int setup_http(struct kura_receiver *rv)
{
	rv->base = event_base_new();
	rv->http = rv->base ? evhttp_new(rv->base) : NULL;
	if (!rv->http)
		return KURA_ENOMEM;
	evhttp_set_allowed_methods(rv->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						     EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
						     EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS |
						     EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	uint64_t max = rv->cfg.max_object > KURA_MANIFEST_MAX ? rv->cfg.max_object
							       : KURA_MANIFEST_MAX;
	evhttp_set_max_body_size(rv->http, (ev_ssize_t)max);
	evhttp_set_max_headers_size(rv->http, KURA_RECV_MAX_HEADERS);
	evhttp_set_timeout(rv->http, KURA_RECV_TIMEOUT_S);
	evhttp_set_bevcb(rv->http, make_bev, rv);
	evhttp_set_gencb(rv->http, on_request, rv);
	struct timeval hour = {HOUR_S, 0};
	rv->sigterm = evsignal_new(rv->base, SIGTERM, on_signal, rv);
	rv->sigint = evsignal_new(rv->base, SIGINT, on_signal, rv);
	rv->hourly = event_new(rv->base, -1, EV_PERSIST, on_hour, rv);
	if (!rv->sigterm || !rv->sigint || !rv->hourly || event_add(rv->sigterm, NULL) ||
	    event_add(rv->sigint, NULL) || event_add(rv->hourly, &hour))
		return KURA_ENOMEM;
	return 0;
}

static int receiver_open(struct kura_receiver *rv, int serve)
{
	int r = open_log(rv);
	if (!r)
		r = load_pubkey(rv);
	if (r)
		return r;
	r = kura_repo_dir_open(rv->cfg.data, serve, NULL, &rv->repo);
	if (r) {
		rverr(rv, 0, "cannot open the data directory '%s': %s",
			 rv->cfg.data, kura_strerror(r));
		return r;
	}
	r = kura_repo_dir_usage(rv->repo, &rv->used);
	if (r || !serve)
		return r;
	r = kura_tls_server_new(rv->cfg.cert, rv->cfg.key, rv->cfg.client_ca, &rv->tls);
	if (r) {
		rverr(rv, 0, "cannot load cert '%s', key '%s' or client_ca "
			 "'%s'", rv->cfg.cert, rv->cfg.key, rv->cfg.client_ca);
		return r;
	}
	return setup_http(rv);
}

int kura_receiver_new(const struct kura_receiver_config *cfg, int serve,
		      struct kura_receiver **ret, char err[256])
{
	*ret = NULL;
	err[0] = '\0';
	struct kura_receiver *rv = calloc(1, sizeof(*rv));
	if (!rv)
		return KURA_ENOMEM;
	rv->cfg = *cfg;
	rv->logfd = -1;
	int r = receiver_open(rv, serve);
	if (r) {
		snprintf(err, 256, "%s", rv->err[0] ? rv->err : kura_strerror(r));
		kura_receiver_free(rv);
		return r;
	}
	*ret = rv;
	return 0;
}

/* "host:port" or "[v6]:port" into host and port. */
static int split_listen(const char *s, char *host, size_t hcap, unsigned *ret_port)
{
	const char *colon = strrchr(s, ':');
	const char *h = s, *he = colon;
	char *end = NULL;
	if (!colon)
		return KURA_EINVAL;
	if (*s == '[') {
		h = s + 1;
		if (colon == s || colon[-1] != ']')
			return KURA_EINVAL;
		he = colon - 1;
	}
	if ((size_t)(he - h) >= hcap || he == h)
		return KURA_EINVAL;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || p > 65535)
		return KURA_EINVAL;
	*ret_port = (unsigned)p;
	return 0;
}

int kura_receiver_bind(struct kura_receiver *rv, char *out, size_t cap)
{
	char host[256], name[NI_MAXHOST], serv[NI_MAXSERV];
	unsigned port;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (!rv->http || split_listen(rv->cfg.listen, host, sizeof(host), &port))
		return KURA_EINVAL;
	struct evhttp_bound_socket *bs =
		evhttp_bind_socket_with_handle(rv->http, host, (ev_uint16_t)port);
	if (!bs) {
		rverr(rv, 0, "cannot listen on '%s'", rv->cfg.listen);
		return KURA_EIO;
	}
	evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, name, sizeof(name), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return KURA_EIO;
	snprintf(out, cap, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", name, serv);
	return 0;
}

int kura_receiver_run(struct kura_receiver *rv)
{
	if (!rv->base)
		return KURA_EINVAL;
	/* A client that goes away mid-answer must not kill the receiver. */
	signal(SIGPIPE, SIG_IGN);
	log_json(rv, "start", json_pack("{s:s,s:I,s:I}", "listen", rv->cfg.listen, "used_bytes",
					(json_int_t)rv->used, "quota_bytes",
					(json_int_t)rv->cfg.quota));
	retention(rv);
	if (event_base_dispatch(rv->base) < 0)
		return KURA_EIO;
	return 0;
}

const char *kura_receiver_error(const struct kura_receiver *rv)
{
	if (rv->err[0])
		return rv->err;
	return rv->repo ? rv->repo->err : "";
}

void kura_receiver_free(struct kura_receiver *rv)
{
	if (!rv)
		return;
	struct event *evs[] = {rv->sigterm, rv->sigint, rv->hourly};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (rv->http)
		evhttp_free(rv->http);
	if (rv->base)
		event_base_free(rv->base);
	kura_tls_server_free(rv->tls);
	kura_repo_close(rv->repo);
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (rv->children[i] > 0)
			waitpid(rv->children[i], NULL, 0);
	if (rv->logfd > STDERR_FILENO)
		close(rv->logfd);
	free(rv);
}
