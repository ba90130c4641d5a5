/*
 * repo_http.c - a backup repository that is a kura receiver (repo.h,
 * docs/formats/backup-receiver.md), spoken to with libcurl over mutual TLS.
 *
 * One easy handle is kept for the repository's life so the connection is
 * reused (keep-alive); curl_easy_reset between requests clears options,
 * not connections.  Every response body is read into a capped buffer.
 */
#include "backup/repo.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/manifest.h"
#include "crypto/crypto.h"
#include "util/err.h"
#include "util/banned.h"

#define URL_MAX 2048
#define LIST_MAX (16u * 1024 * 1024) /* GET /v1/manifests */
#define REASON_MAX (64u * 1024)      /* an error body */
#define CONNECT_TIMEOUT_S 15L
#define STALL_TIMEOUT_S 60L /* a transfer slower than 1 byte/s for this long fails */

/* TLS 1.2: ECDHE with AEAD only (as crypto/tls.c); TLS 1.3 suites are all fine. */
#define TLS12_CIPHERS                                                \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"

struct http_repo {
	struct kura_repo base;
	CURL *h;
	struct curl_slist *hdrs;
	char *url; /* without a trailing '/' */
	char *ca, *cert, *key;
	char curl_err[CURL_ERROR_SIZE];
	struct kura_repo_info info; /* from the last list */
};

static const struct kura_repo_ops http_ops;

static struct http_repo *as_http(struct kura_repo *r)
{
	return (struct http_repo *)r;
}

static int seterr(struct kura_repo *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int seterr(struct kura_repo *r, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return err;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct kura_buf *b = ctx;
	size_t n = size * nmemb;
	return kura_buf_append(b, p, n) ? 0 : n;
}

/* The receiver's reason: {"error": "..."}, else the status alone. */
static int refused(struct http_repo *hr, int err, long status, const struct kura_buf *body)
{
	json_t *j = body->len ? json_loadb((const char *)body->data, body->len, 0, NULL) : NULL;
	const char *why = json_string_value(json_object_get(j, "error"));
	seterr(&hr->base, err, "the receiver answered %ld: %s", status, why ? why : "no reason given");
	json_decref(j);
	return err;
}

static int setup_tls(struct http_repo *hr)
{
	CURL *h = hr->h;
	return curl_easy_setopt(h, CURLOPT_CAINFO, hr->ca) ||
	       curl_easy_setopt(h, CURLOPT_CAPATH, NULL) ||
	       curl_easy_setopt(h, CURLOPT_SSLCERT, hr->cert) ||
	       curl_easy_setopt(h, CURLOPT_SSLKEY, hr->key) ||
	       curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) ||
	       curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, TLS12_CIPHERS) ||
	       curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) ||
	       curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
}

static int setup_transfer(struct http_repo *hr, const char *url, struct kura_buf *out)
{
	CURL *h = hr->h;
	return curl_easy_setopt(h, CURLOPT_URL, url) ||
	       curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") ||
	       curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) ||
	       curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) ||
	       curl_easy_setopt(h, CURLOPT_ERRORBUFFER, hr->curl_err) ||
	       curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S) ||
	       curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L) ||
	       curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S) ||
	       curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) ||
	       curl_easy_setopt(h, CURLOPT_HTTPHEADER, hr->hdrs) ||
	       curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) ||
	       curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
}

static int setup(struct http_repo *hr, const char *method, const char *path, struct kura_buf *out)
{
	char url[URL_MAX + 128];
	if (snprintf(url, sizeof(url), "%s%s", hr->url, path) >= (int)sizeof(url))
		return KURA_EINVAL;
	curl_easy_reset(hr->h);
	hr->curl_err[0] = '\0';
	int bad = setup_transfer(hr, url, out) || setup_tls(hr);
	if (!bad && strcmp(method, "HEAD") == 0)
		bad = curl_easy_setopt(hr->h, CURLOPT_NOBODY, 1L) != CURLE_OK;
	else if (!bad && strcmp(method, "GET") != 0)
		bad = curl_easy_setopt(hr->h, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
	return bad ? KURA_EINTERNAL : 0;
}

/*
 * One request: method on path, with body p[0..n) when p is not NULL; the
 * response body into out (reset, capped by out->max), the status into
 * *ret_status.  Transport failures are KURA_EIO, an over-long response
 * KURA_ETOOBIG, with r->err saying which.
 */
static int request(struct http_repo *hr, const char *method, const char *path, const uint8_t *p,
		   size_t n, struct kura_buf *out, long *ret_status)
{
	*ret_status = 0;
	kura_buf_reset(out);
	int r = setup(hr, method, path, out);
	if (r)
		return seterr(&hr->base, r, "cannot set up the request to the receiver");
	if (p && (curl_easy_setopt(hr->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n) ||
		  curl_easy_setopt(hr->h, CURLOPT_POSTFIELDS, (const char *)p)))
		return KURA_EINTERNAL;
	CURLcode c = curl_easy_perform(hr->h);
	if (c == CURLE_WRITE_ERROR)
		return seterr(&hr->base, KURA_ETOOBIG, "the receiver's answer to %s %s is larger "
			      "than %zu bytes", method, path, out->max);
	if (c != CURLE_OK)
		return seterr(&hr->base, KURA_EIO, "cannot reach the receiver %s: %s", hr->url,
			      hr->curl_err[0] ? hr->curl_err : curl_easy_strerror(c));
	curl_easy_getinfo(hr->h, CURLINFO_RESPONSE_CODE, ret_status);
	return 0;
}

/* What any status the operation did not expect means. */
static int unexpected(struct http_repo *hr, long status, const struct kura_buf *body)
{
	switch (status) {
	case 400:
		return refused(hr, KURA_EINVAL, status, body);
	case 403:
	case 405:
	case 422:
		return refused(hr, KURA_EDENIED, status, body);
	case 404:
		return refused(hr, KURA_ENOTFOUND, status, body);
	case 409:
		return refused(hr, KURA_EEXIST, status, body);
	case 413:
	case 507:
		return refused(hr, KURA_ETOOBIG, status, body);
	default:
		return refused(hr, KURA_EIO, status, body);
	}
}

static void object_path(const uint8_t id[KURA_OBJ_ID_LEN], char out[16 + KURA_OBJ_ID_HEX])
{
	char hex[KURA_OBJ_ID_HEX + 1];
	kura_hex_encode(id, KURA_OBJ_ID_LEN, hex);
	snprintf(out, 16 + KURA_OBJ_ID_HEX, "/v1/objects/%s", hex);
}

static int http_has(struct kura_repo *r, const uint8_t id[KURA_OBJ_ID_LEN])
{
	struct http_repo *hr = as_http(r);
	char path[16 + KURA_OBJ_ID_HEX];
	struct kura_buf b;
	long st;
	object_path(id, path);
	kura_buf_init(&b, REASON_MAX);
	int ret = request(hr, "HEAD", path, NULL, 0, &b, &st);
	if (!ret)
		ret = st == 200 ? 1 : st == 404 ? 0 : unexpected(hr, st, &b);
	kura_buf_release(&b);
	return ret;
}

static int http_put(struct kura_repo *r, const uint8_t id[KURA_OBJ_ID_LEN], const uint8_t *p,
		    size_t n)
{
	struct http_repo *hr = as_http(r);
	char path[16 + KURA_OBJ_ID_HEX];
	struct kura_buf b;
	long st;
	object_path(id, path);
	kura_buf_init(&b, REASON_MAX);
	int ret = request(hr, "PUT", path, p, n, &b, &st);
	if (!ret && st != 200 && st != 201)
		ret = unexpected(hr, st, &b);
	kura_buf_release(&b);
	return ret;
}

static int http_get(struct kura_repo *r, const uint8_t id[KURA_OBJ_ID_LEN], struct kura_buf *out)
{
	struct http_repo *hr = as_http(r);
	char path[16 + KURA_OBJ_ID_HEX];
	struct kura_buf b;
	uint8_t h[KURA_OBJ_ID_LEN];
	long st;
	object_path(id, path);
	kura_buf_init(&b, KURA_OBJ_MAX);
	int ret = request(hr, "GET", path, NULL, 0, &b, &st);
	if (!ret && st != 200)
		ret = unexpected(hr, st, &b);
	if (!ret) {
		kura_sha256(b.data, b.len, h);
		if (memcmp(h, id, sizeof(h)) != 0)
			ret = seterr(r, KURA_ECORRUPT, "the receiver sent an object that does not "
				     "match its name %s", path + 12);
	}
	if (!ret) {
		kura_buf_reset(out);
		ret = kura_buf_append(out, b.data, b.len);
	}
	kura_buf_release(&b);
	return ret;
}

static int http_manifest_put(struct kura_repo *r, uint64_t gen, const uint8_t *p, size_t n)
{
	struct http_repo *hr = as_http(r);
	char path[64];
	struct kura_buf b;
	long st;
	snprintf(path, sizeof(path), "/v1/manifests/%llu", (unsigned long long)gen);
	kura_buf_init(&b, REASON_MAX);
	int ret = request(hr, "PUT", path, p, n, &b, &st);
	if (!ret && st != 200 && st != 201)
		ret = unexpected(hr, st, &b);
	kura_buf_release(&b);
	return ret;
}

static int http_manifest_get(struct kura_repo *r, uint64_t gen, struct kura_buf *out)
{
	struct http_repo *hr = as_http(r);
	char path[64];
	struct kura_buf b;
	long st;
	snprintf(path, sizeof(path), "/v1/manifests/%llu", (unsigned long long)gen);
	kura_buf_init(&b, KURA_MANIFEST_MAX);
	int ret = request(hr, "GET", path, NULL, 0, &b, &st);
	if (!ret && st != 200)
		ret = unexpected(hr, st, &b);
	if (!ret) {
		kura_buf_reset(out);
		ret = kura_buf_append(out, b.data, b.len);
	}
	kura_buf_release(&b);
	return ret;
}

static int json_u64(json_t *o, const char *key, uint64_t *ret)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return KURA_ECORRUPT;
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_info(json_t *o, struct kura_repo_info *info)
{
	uint64_t lock = 0, keep = 0;
	memset(info, 0, sizeof(*info));
	info->kind = KURA_REPO_RECEIVER;
	info->immutable = 1;
	if (!json_is_object(o) || json_u64(o, "lock_us", &lock) || json_u64(o, "keep_min", &keep) ||
	    json_u64(o, "used_bytes", &info->used_bytes) ||
	    json_u64(o, "quota_bytes", &info->quota_bytes) || lock > INT64_MAX || keep > 1000000)
		return KURA_ECORRUPT;
	info->lock_us = (int64_t)lock;
	info->keep_min = (unsigned)keep;
	return 0;
}

static int parse_gens(json_t *a, struct kura_repo_gen **ret, size_t *ret_n)
{
	size_t n = json_array_size(a), i;
	json_t *v;
	if (!json_is_array(a))
		return KURA_ECORRUPT;
	struct kura_repo_gen *g = calloc(n ? n : 1, sizeof(*g));
	if (!g)
		return KURA_ENOMEM;
	json_array_foreach(a, i, v) {
		uint64_t created = 0;
		if (json_u64(v, "generation", &g[i].generation) ||
		    json_u64(v, "tree_size", &g[i].tree_size) ||
		    json_u64(v, "created_us", &created) || json_u64(v, "bytes", &g[i].bytes) ||
		    created > INT64_MAX || (i && g[i].generation <= g[i - 1].generation)) {
			free(g);
			return KURA_ECORRUPT;
		}
		g[i].created_us = (int64_t)created;
	}
	*ret = g;
	*ret_n = n;
	return 0;
}

static int http_manifest_list(struct kura_repo *r, struct kura_repo_gen **ret, size_t *ret_n)
{
	struct http_repo *hr = as_http(r);
	struct kura_buf b;
	long st;
	*ret = NULL;
	*ret_n = 0;
	kura_buf_init(&b, LIST_MAX);
	int rc = request(hr, "GET", "/v1/manifests", NULL, 0, &b, &st);
	if (!rc && st != 200)
		rc = unexpected(hr, st, &b);
	if (rc) {
		kura_buf_release(&b);
		return rc;
	}
	json_t *j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
	kura_buf_release(&b);
	rc = parse_info(json_object_get(j, "info"), &hr->info);
	if (!rc)
		rc = parse_gens(json_object_get(j, "generations"), ret, ret_n);
	json_decref(j);
	if (rc == KURA_ECORRUPT)
		seterr(r, rc, "the receiver's list of generations is malformed");
	return rc;
}

static int http_info(struct kura_repo *r, struct kura_repo_info *ret)
{
	struct kura_repo_gen *g = NULL;
	size_t n = 0;
	int rc = http_manifest_list(r, &g, &n);
	free(g);
	if (!rc)
		*ret = as_http(r)->info;
	return rc;
}

static void http_close(struct kura_repo *r)
{
	struct http_repo *hr = as_http(r);
	if (!hr)
		return;
	if (hr->h)
		curl_easy_cleanup(hr->h);
	curl_slist_free_all(hr->hdrs);
	free(hr->url);
	free(hr->ca);
	free(hr->cert);
	free(hr->key);
	free(hr);
	curl_global_cleanup();
}

static const struct kura_repo_ops http_ops = {
	.close = http_close,
	.has = http_has,
	.put = http_put,
	.get = http_get,
	.manifest_put = http_manifest_put,
	.manifest_get = http_manifest_get,
	.manifest_list = http_manifest_list,
	.info = http_info,
};

/* https://, printable ASCII without spaces, no query or fragment. */
static int url_ok(const char *url)
{
	size_t n = strlen(url);
	if (n <= 8 || n > URL_MAX || strncmp(url, "https://", 8) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (url[i] <= ' ' || url[i] >= 0x7f || url[i] == '?' || url[i] == '#')
			return 0;
	return 1;
}

static int http_init(struct http_repo *hr, const char *url, const struct kura_repo_tls *tls)
{
	size_t n = strlen(url);
	while (n > 8 && url[n - 1] == '/')
		n--;
	hr->url = strndup(url, n);
	hr->ca = strdup(tls->ca_file);
	hr->cert = strdup(tls->cert_file);
	hr->key = strdup(tls->key_file);
	hr->hdrs = curl_slist_append(NULL, "Expect:");
	if (hr->hdrs)
		hr->hdrs = curl_slist_append(hr->hdrs, "Content-Type: application/octet-stream");
	hr->h = curl_easy_init();
	if (!hr->url || !hr->ca || !hr->cert || !hr->key || !hr->hdrs || !hr->h)
		return KURA_ENOMEM;
	return 0;
}

int kura_repo_http_open(const char *url, const struct kura_repo_tls *tls, struct kura_repo **ret)
{
	*ret = NULL;
	if (!url || !url_ok(url) || !tls || !tls->ca_file || !tls->cert_file || !tls->key_file)
		return KURA_EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return KURA_EINTERNAL;
	struct http_repo *hr = calloc(1, sizeof(*hr));
	if (!hr) {
		curl_global_cleanup();
		return KURA_ENOMEM;
	}
	hr->base.ops = &http_ops;
	int r = http_init(hr, url, tls);
	if (r) {
		http_close(&hr->base);
		return r;
	}
	*ret = &hr->base;
	return 0;
}
