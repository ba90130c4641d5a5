/* test_receiver.c - the backup receiver in a child process, spoken to by
 * the https repository client (and raw libcurl for what the client never
 * sends), with certificates made here by the openssl tool (no key is ever
 * committed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "backup/manifest.h"
#include "backup/receiver.h"
#include "util/conf.h"
#include "backup/repo.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"

#define QUOTA 16384

static char dir[] = "/tmp/kura-recv-XXXXXX";
static char url[256];
static pid_t child;
static uint8_t seed[32], pub[32], vault_id[16];
static struct kura_backup_keys keys;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048], full[2300];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	snprintf(full, sizeof(full), "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
	if (system(full) != 0)
		fail_msg("command failed: %s", cmd);
}

static void issue(const char *name, const char *ca, const char *ext)
{
	sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s.key", name);
	sh("printf 'basicConstraints=CA:FALSE\\n%s\\n' > %s.ext", ext, name);
	sh("openssl req -new -key %s.key -subj '/CN=%s' -out %s.csr", name, name, name);
	sh("openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -set_serial 9 -days 2 "
	   "-extfile %s.ext -out %s.pem", name, ca, ca, name, name);
}

static void certs(void)
{
	const char *ec = "-algorithm EC -pkeyopt ec_paramgen_curve:P-256";
	sh("openssl genpkey %s -out ca.key", ec);
	sh("openssl req -x509 -key ca.key -subj '/CN=Receiver CA' -days 2 -out ca.pem");
	sh("openssl genpkey %s -out ca2.key", ec);
	sh("openssl req -x509 -key ca2.key -subj '/CN=Other CA' -days 2 -out ca2.pem");
	issue("server", "ca", "extendedKeyUsage=serverAuth\\nsubjectAltName=IP:127.0.0.1");
	issue("client", "ca", "extendedKeyUsage=clientAuth");
	issue("stranger", "ca2", "extendedKeyUsage=clientAuth");
}

static void write_file(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(kura_fs_write_atomic(p, text, strlen(text), 0700), 0);
}

static void config(void)
{
	char ini[4096], script[512];
	struct kura_buf pem;
	kura_buf_init(&pem, 4096);
	assert_int_equal(kura_ed25519_public_pem(pub, &pem), 0);
	char p[256];
	snprintf(p, sizeof(p), "%s/ledger-pubkey.pem", dir);
	assert_int_equal(kura_fs_write_atomic(p, pem.data, pem.len, 0644), 0);
	kura_buf_release(&pem);
	snprintf(script, sizeof(script), "#!/bin/sh\nprintf '%%s\\n' \"$KURA_ALERT\" >> %s/alerts\n",
		 dir);
	write_file("alert.sh", script);
	snprintf(ini, sizeof(ini),
		 "[receiver]\nlisten = 127.0.0.1:0\ndata = %s/data\ncert = %s/server.pem\n"
		 "key = %s/server.key\nclient_ca = %s/ca.pem\nledger_pubkey = %s/ledger-pubkey.pem\n"
		 "quota = %u\n[retention]\nkeep_min = 3\nlock_days = 30\n"
		 "[alert]\ncommand = %s/alert.sh\nlog = %s/log\n",
		 dir, dir, dir, dir, dir, QUOTA, dir, dir);
	write_file("receiver.ini", ini);
}

/* The receiver in a child; url gets its address once it listens. */
static void start(void)
{
	int fds[2];
	char cfgpath[256], err[256], where[200] = "";
	snprintf(cfgpath, sizeof(cfgpath), "%s/receiver.ini", dir);
	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct kura_receiver_config cfg;
		struct kura_receiver *rv = NULL;
		close(fds[0]);
		if (kura_receiver_config_load(cfgpath, &cfg, err) ||
		    kura_receiver_new(&cfg, 1, &rv, err) || kura_receiver_bind(rv, where, sizeof(where)))
			_exit(3);
		if (write(fds[1], where, strlen(where) + 1) < 0)
			_exit(4);
		close(fds[1]);
		int r = kura_receiver_run(rv);
		kura_receiver_free(rv);
		_exit(r ? 5 : 0);
	}
	close(fds[1]);
	ssize_t k = read(fds[0], where, sizeof(where) - 1);
	close(fds[0]);
	assert_true(k > 0);
	snprintf(url, sizeof(url), "https://%s", where);
}

static int sign_cb(void *ctx, const void *msg, size_t len, uint8_t sig[KURA_SIG_LEN])
{
	return kura_ed25519_sign(ctx ? ctx : seed, msg, len, sig);
}

static void make_obj(const char *text, size_t n, struct kura_buf *b, uint8_t id[32])
{
	struct kura_obj_ctx *z = kura_obj_ctx_new(3);
	kura_buf_init(b, KURA_OBJ_MAX);
	assert_int_equal(kura_obj_encode(z, &keys, KURA_OBJ_CHUNK, (const uint8_t *)text, n, b, id),
			 0);
	kura_obj_ctx_free(z);
}

/* A manifest of an empty ledger (root altered when fork) naming state and
 * chunk, signed with signer (NULL: the vault's key). */
static void make_manifest(uint64_t gen, const uint8_t *state, const uint8_t *chunk, int fork,
			  uint8_t *signer, struct kura_buf *out)
{
	struct kura_manifest m;
	memset(&m, 0, sizeof(m));
	memcpy(m.vault_id, vault_id, 16);
	m.generation = gen;
	m.created_us = 1700000000000000 + (int64_t)gen;
	m.sth.time_us = m.created_us;
	merkle_empty_root(m.sth.root);
	m.sth.root[0] ^= (uint8_t)fork;
	assert_int_equal(kura_sth_sign(&m.sth, seed, pub), 0);
	memcpy(m.ledger_pub, pub, 32);
	m.keys = json_pack("{s:{s:i},s:s}", "kdf", "t", 3, "master", "00ff");
	m.stats = json_pack("{s:i}", "versions", 0);
	memcpy(m.state_id, state, 32);
	if (chunk) {
		m.nchunks = 1;
		m.chunks = calloc(1, 32);
		memcpy(m.chunks[0], chunk, 32);
	}
	kura_buf_init(out, KURA_MANIFEST_MAX);
	assert_int_equal(kura_manifest_encode(&m, sign_cb, signer, out), 0);
	kura_manifest_release(&m);
}

static struct kura_repo *client(const char *who, const char *ca)
{
	char c[256], k[256], a[256];
	struct kura_repo *r = NULL;
	snprintf(c, sizeof(c), "%s/%s.pem", dir, who);
	snprintf(k, sizeof(k), "%s/%s.key", dir, who);
	snprintf(a, sizeof(a), "%s/%s.pem", dir, ca);
	struct kura_repo_tls tls = {.ca_file = a, .cert_file = c, .key_file = k};
	assert_int_equal(kura_repo_open(url, &tls, 0, vault_id, &r), 0);
	return r;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * nmemb;
}

/* A request the repository client never makes; its status. */
static long raw(const char *method, const char *path)
{
	char u[512], c[256], k[256], a[256];
	long st = 0;
	snprintf(u, sizeof(u), "%s%s", url, path);
	snprintf(c, sizeof(c), "%s/client.pem", dir);
	snprintf(k, sizeof(k), "%s/client.key", dir);
	snprintf(a, sizeof(a), "%s/ca.pem", dir);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, u);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_CAINFO, a);
	curl_easy_setopt(h, CURLOPT_SSLCERT, c);
	curl_easy_setopt(h, CURLOPT_SSLKEY, k);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_cleanup(h);
	return st;
}

static int contains(const char *name, const char *text)
{
	char p[256];
	struct kura_buf b;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	kura_buf_init(&b, 1u << 20);
	int found = 0;
	for (int i = 0; i < 50 && !found; i++) { /* the alert command runs on its own */
		kura_buf_reset(&b);
		found = kura_fs_read(p, b.max, &b) == 0 && strstr((char *)b.data, text);
		if (!found)
			usleep(20000);
	}
	kura_buf_release(&b);
	return found;
}

static int setup(void **state)
{
	(void)state;
	uint8_t master[32];
	setenv("KURA_BACKUP_IMMUTABLE", "0", 1); /* the test removes its files */
	kura_crypto_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	kura_random(vault_id, sizeof(vault_id));
	kura_random(master, sizeof(master));
	assert_int_equal(kura_backup_keys_derive(master, vault_id, &keys), 0);
	assert_int_equal(kura_ed25519_keygen(seed, pub), 0);
	if (!mkdtemp(dir))
		return -1;
	certs();
	config();
	start();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	int status = -1;
	char cmd[200];
	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", dir, dir);
	if (system(cmd) != 0)
		return -1;
	curl_global_cleanup();
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void test_parse_path(void **state)
{
	(void)state;
	struct kura_recv_path p;
	char ok[80];
	memset(ok, 'a', sizeof(ok));
	memcpy(ok, "/v1/objects/", 12);
	ok[12 + 64] = '\0';
	assert_int_equal(kura_receiver_parse_path(ok, strlen(ok), &p), 0);
	assert_int_equal(p.route, KURA_RECV_OBJECT);
	assert_int_equal(p.id[0], 0xaa);
	ok[20] = 'A';
	assert_int_equal(kura_receiver_parse_path(ok, strlen(ok), &p), KURA_ENOTFOUND);
	const char *bad[] = {"/v1/manifests/0", "/v1/manifests/01", "/v1/manifests/",
			     "/v1/manifests/18446744073709551616", "/v1/manifests?x=1",
			     "/v1/manifests/", "/v1/objects/", "/v1/manifests/1/", "/", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kura_receiver_parse_path(bad[i], strlen(bad[i]), &p),
				 KURA_ENOTFOUND);
	assert_int_equal(kura_receiver_parse_path("/v1/manifests/18446744073709551615", 34, &p), 0);
	assert_true(p.generation == UINT64_MAX);
	assert_int_equal(kura_receiver_parse_path("/v1/manifests", 13, &p), 0);
	assert_int_equal(p.route, KURA_RECV_MANIFESTS);
	uint64_t v;
	assert_int_equal(kura_parse_size("5M", &v), 0);
	assert_true(v == 5u << 20);
	assert_int_equal(kura_parse_size("5X", &v), KURA_EINVAL);
	assert_int_equal(kura_parse_size("-1", &v), KURA_EINVAL);
}

static void test_objects(void **state)
{
	(void)state;
	struct kura_repo *r = client("client", "ca");
	struct kura_buf o, x, back;
	uint8_t id[32], idx[32];
	make_obj("first object", 12, &o, id);
	make_obj("second object", 13, &x, idx);
	assert_int_equal(r->ops->has(r, id), 0);
	assert_int_equal(r->ops->put(r, id, o.data, o.len), 0);
	assert_int_equal(r->ops->put(r, id, o.data, o.len), 0);
	assert_int_equal(r->ops->has(r, id), 1);
	kura_buf_init(&back, KURA_OBJ_MAX);
	assert_int_equal(r->ops->get(r, id, &back), 0);
	assert_memory_equal(back.data, o.data, o.len);
	/* the body's hash must be the id */
	assert_int_equal(r->ops->put(r, idx, o.data, o.len), KURA_EINVAL);
	assert_non_null(strstr(r->err, "hash mismatch"));
	assert_int_equal(r->ops->put(r, idx, (const uint8_t *)"not an object", 13), KURA_EINVAL);
	assert_int_equal(r->ops->get(r, idx, &back), KURA_ENOTFOUND);
	/* nothing removes or changes */
	char p[100];
	snprintf(p, sizeof(p), "/v1/objects/%02x%02x", id[0], id[1]);
	assert_int_equal(raw("DELETE", "/v1/manifests/1"), 405);
	assert_int_equal(raw("POST", "/v1/manifests"), 405);
	assert_int_equal(raw("PATCH", p), 405);
	assert_int_equal(raw("GET", "/v1/../etc/passwd"), 404);
	assert_int_equal(raw("GET", p), 404);
	assert_true(contains("log", "\"method\":\"DELETE\""));
	assert_true(contains("log", "\"refused\":true"));
	kura_buf_release(&o);
	kura_buf_release(&x);
	kura_buf_release(&back);
	kura_repo_close(r);
}

static void test_manifests(void **state)
{
	(void)state;
	struct kura_repo *r = client("client", "ca");
	struct kura_buf s, c, m1, bad, other, miss, fork, m2;
	uint8_t sid[32], cid[32], evil[32], evil_pub[32], nowhere[32] = {7};
	struct kura_repo_gen *g = NULL;
	struct kura_repo_info info;
	size_t n = 0;
	make_obj("state", 5, &s, sid);
	make_obj("chunk", 5, &c, cid);
	assert_int_equal(r->ops->put(r, sid, s.data, s.len), 0);
	assert_int_equal(r->ops->put(r, cid, c.data, c.len), 0);
	/* signed by another key */
	assert_int_equal(kura_ed25519_keygen(evil, evil_pub), 0);
	make_manifest(1, sid, cid, 0, evil, &bad);
	assert_int_equal(r->ops->manifest_put(r, 1, bad.data, bad.len), KURA_EDENIED);
	assert_non_null(strstr(r->err, "bad signature"));
	assert_true(contains("alerts", "bad signature"));
	make_manifest(1, sid, cid, 0, NULL, &m1);
	assert_int_equal(r->ops->manifest_put(r, 1, m1.data, m1.len), 0);
	assert_int_equal(r->ops->manifest_put(r, 1, m1.data, m1.len), 0);
	make_manifest(1, sid, NULL, 0, NULL, &other);
	assert_int_equal(r->ops->manifest_put(r, 1, other.data, other.len), KURA_EEXIST);
	/* objects first */
	make_manifest(2, sid, nowhere, 0, NULL, &miss);
	assert_int_equal(r->ops->manifest_put(r, 2, miss.data, miss.len), KURA_EDENIED);
	assert_non_null(strstr(r->err, "missing"));
	/* a tree head inconsistent with generation 1 */
	make_manifest(2, sid, cid, 1, NULL, &fork);
	assert_int_equal(r->ops->manifest_put(r, 2, fork.data, fork.len), KURA_EDENIED);
	assert_non_null(strstr(r->err, "history rewritten"));
	assert_true(contains("alerts", "history rewritten"));
	/* a path that disagrees with the body */
	assert_int_equal(r->ops->manifest_put(r, 3, m1.data, m1.len), KURA_EINVAL);
	make_manifest(2, sid, NULL, 0, NULL, &m2);
	assert_int_equal(r->ops->manifest_put(r, 2, m2.data, m2.len), 0);
	assert_int_equal(r->ops->manifest_list(r, &g, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(g[1].generation, 2);
	free(g);
	assert_int_equal(r->ops->info(r, &info), 0);
	assert_int_equal(info.kind, KURA_REPO_RECEIVER);
	assert_int_equal(info.keep_min, 3);
	assert_true(info.lock_us == 30LL * 86400 * 1000000);
	assert_int_equal(info.quota_bytes, QUOTA);
	struct kura_buf back;
	kura_buf_init(&back, KURA_MANIFEST_MAX);
	assert_int_equal(r->ops->manifest_get(r, 1, &back), 0);
	assert_int_equal(back.len, m1.len);
	kura_buf_release(&back);
	struct kura_buf *all[] = {&s, &c, &m1, &bad, &other, &miss, &fork, &m2};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		kura_buf_release(all[i]);
	kura_repo_close(r);
}

static void test_quota(void **state)
{
	(void)state;
	struct kura_repo *r = client("client", "ca");
	struct kura_buf big;
	uint8_t id[32];
	char *text = malloc(QUOTA);
	kura_random(text, QUOTA); /* incompressible */
	make_obj(text, QUOTA, &big, id);
	free(text);
	assert_int_equal(r->ops->put(r, id, big.data, big.len), KURA_ETOOBIG);
	assert_non_null(strstr(r->err, "quota"));
	assert_true(contains("alerts", "quota"));
	kura_buf_release(&big);
	kura_repo_close(r);
}

static void test_tls(void **state)
{
	(void)state;
	struct kura_repo *r = client("stranger", "ca");
	uint8_t id[32] = {0};
	assert_int_equal(r->ops->has(r, id), KURA_EIO);
	kura_repo_close(r);
	r = client("client", "ca2"); /* the server's cert is not from this CA */
	assert_int_equal(r->ops->has(r, id), KURA_EIO);
	kura_repo_close(r);
}

/* Retention in-process (not serving) on a data directory of its own. */
static void test_prune(void **state)
{
	(void)state;
	struct kura_receiver_config cfg;
	struct kura_receiver *rv = NULL;
	struct kura_receiver_gen *v = NULL;
	struct kura_receiver_pruned p;
	struct kura_repo *repo = NULL;
	struct kura_buf o[5], m;
	uint8_t id[5][32];
	char cfgpath[256], data[256], err[256];
	size_t n = 0;
	snprintf(cfgpath, sizeof(cfgpath), "%s/receiver.ini", dir);
	snprintf(data, sizeof(data), "%s/prune", dir);
	assert_int_equal(kura_repo_dir_open(data, 1, NULL, &repo), 0);
	for (int g = 0; g < 5; g++) {
		char text[16];
		snprintf(text, sizeof(text), "state %d", g);
		make_obj(text, strlen(text), &o[g], id[g]);
		assert_int_equal(repo->ops->put(repo, id[g], o[g].data, o[g].len), 0);
		make_manifest((uint64_t)g + 1, id[g], NULL, 0, NULL, &m);
		assert_int_equal(repo->ops->manifest_put(repo, (uint64_t)g + 1, m.data, m.len), 0);
		kura_buf_release(&m);
		kura_buf_release(&o[g]);
	}
	kura_repo_close(repo);
	assert_int_equal(kura_receiver_config_load(cfgpath, &cfg, err), 0);
	memcpy(cfg.data, data, strlen(data) + 1);
	cfg.policy = (struct kura_policy){.keep_min = 3};
	assert_int_equal(kura_receiver_new(&cfg, 0, &rv, err), 0);
	assert_int_equal(kura_receiver_plan(rv, kura_time_now_us() + 1000000, &v, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(v[0].g.generation, 5); /* newest first */
	assert_true(v[2].keep && !v[3].keep && !v[4].keep);
	free(v);
	assert_int_equal(kura_receiver_prune(rv, kura_time_now_us() + 1000000, &p), 0);
	assert_int_equal(p.generations, 2);
	assert_int_equal(p.objects, 2);
	kura_receiver_free(rv);
	/* with the lock, nothing goes */
	cfg.policy.lock_us = 86400LL * 1000000;
	assert_int_equal(kura_receiver_new(&cfg, 0, &rv, err), 0);
	assert_int_equal(kura_receiver_prune(rv, kura_time_now_us(), &p), 0);
	assert_int_equal(p.generations, 0);
	kura_receiver_free(rv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_path),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_manifests),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_prune),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
