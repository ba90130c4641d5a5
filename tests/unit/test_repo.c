/* test_repo.c - directory repositories: write-once objects and manifests,
 * tamper detection, another vault's repository, tmp/ cleanup, pruning. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "backup/manifest.h"
#include "backup/repo.h"
#include "util/err.h"
#include "util/fs.h"

static char root[] = "/tmp/kura-repo-XXXXXX";
static uint8_t seed[32], pub[32], vault_id[16];
static struct kura_backup_keys keys;

static int sign_cb(void *ctx, const void *msg, size_t len, uint8_t sig[KURA_SIG_LEN])
{
	(void)ctx;
	return kura_ed25519_sign(seed, msg, len, sig);
}

static void path_of(char *out, size_t cap, const char *rel)
{
	snprintf(out, cap, "%s/%s", root, rel);
}

/* An object of plaintext text; its bytes into b, its id into id. */
static void make_obj(const char *text, struct kura_buf *b, uint8_t id[KURA_OBJ_ID_LEN])
{
	struct kura_obj_ctx *z = kura_obj_ctx_new(3);
	kura_buf_init(b, KURA_OBJ_MAX);
	assert_int_equal(kura_obj_encode(z, &keys, KURA_OBJ_CHUNK, (const uint8_t *)text,
					 strlen(text), b, id),
			 0);
	kura_obj_ctx_free(z);
}

/* A manifest of an empty ledger naming state (and chunk if not NULL). */
static void make_manifest(uint64_t gen, const uint8_t state[32], const uint8_t *chunk,
			  struct kura_buf *out)
{
	struct kura_manifest m;
	memset(&m, 0, sizeof(m));
	memcpy(m.vault_id, vault_id, 16);
	m.generation = gen;
	m.created_us = 1700000000000000 + (int64_t)gen;
	m.sth.time_us = m.created_us;
	merkle_empty_root(m.sth.root);
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
	assert_int_equal(kura_manifest_encode(&m, sign_cb, NULL, out), 0);
	kura_manifest_release(&m);
}

static struct kura_repo *open_repo(const char *name, int create, const uint8_t *vid)
{
	char dir[256];
	struct kura_repo *r = NULL;
	path_of(dir, sizeof(dir), name);
	assert_int_equal(kura_repo_open(dir, NULL, create, vid, &r), 0);
	return r;
}

static int setup(void **state)
{
	(void)state;
	uint8_t master[32];
	setenv("KURA_BACKUP_IMMUTABLE", "0", 1); /* tests remove files afterwards */
	kura_crypto_init();
	kura_random(vault_id, sizeof(vault_id));
	kura_random(master, sizeof(master));
	assert_int_equal(kura_backup_keys_derive(master, vault_id, &keys), 0);
	if (!mkdtemp(root))
		return -1;
	return kura_ed25519_keygen(seed, pub);
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", root, root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_objects(void **state)
{
	(void)state;
	struct kura_repo *r = open_repo("a", 1, vault_id);
	struct kura_buf o, back;
	uint8_t id[32];
	struct stat st;
	char p[512], hex[KURA_OBJ_ID_HEX + 1];
	make_obj("hello", &o, id);
	assert_int_equal(r->ops->has(r, id), 0);
	assert_int_equal(r->ops->put(r, id, o.data, o.len), 0);
	assert_int_equal(r->ops->has(r, id), 1);
	assert_int_equal(r->ops->put(r, id, o.data, o.len), 0); /* put-if-absent */
	kura_buf_init(&back, KURA_OBJ_MAX);
	assert_int_equal(r->ops->get(r, id, &back), 0);
	assert_int_equal(back.len, o.len);
	assert_memory_equal(back.data, o.data, o.len);
	/* read-only, in objects/<2 hex>/<64 hex> */
	kura_hex_encode(id, 32, hex);
	snprintf(p, sizeof(p), "%s/a/objects/%.2s/%s", root, hex, hex);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0444);
	/* bytes that are not what the id says are refused */
	o.data[o.len - 1] ^= 1;
	assert_int_equal(r->ops->put(r, id, o.data, o.len), KURA_EINVAL);
	uint8_t missing[32] = {1};
	assert_int_equal(r->ops->get(r, missing, &back), KURA_ENOTFOUND);
	struct kura_repo_info info;
	assert_int_equal(r->ops->info(r, &info), 0);
	assert_int_equal(info.kind, KURA_REPO_DIR);
	assert_true(info.used_bytes >= o.len);
	kura_buf_release(&o);
	kura_buf_release(&back);
	kura_repo_close(r);
}

static void test_tampered(void **state)
{
	(void)state;
	struct kura_repo *r = open_repo("t", 1, vault_id);
	struct kura_buf o, back;
	uint8_t id[32];
	char p[512], hex[KURA_OBJ_ID_HEX + 1];
	make_obj("tamper me", &o, id);
	assert_int_equal(r->ops->put(r, id, o.data, o.len), 0);
	kura_hex_encode(id, 32, hex);
	snprintf(p, sizeof(p), "%s/t/objects/%.2s/%s", root, hex, hex);
	assert_int_equal(chmod(p, 0644), 0);
	FILE *f = fopen(p, "r+b");
	assert_non_null(f);
	fputc('X', f);
	fclose(f);
	kura_buf_init(&back, KURA_OBJ_MAX);
	assert_int_equal(r->ops->get(r, id, &back), KURA_ECORRUPT);
	assert_non_null(strstr(r->err, "altered"));
	assert_int_equal(r->ops->put(r, id, o.data, o.len), KURA_ECORRUPT);
	kura_buf_release(&o);
	kura_buf_release(&back);
	kura_repo_close(r);
}

static void test_manifests(void **state)
{
	(void)state;
	struct kura_repo *r = open_repo("m", 1, vault_id);
	struct kura_buf o, m1, m2, other, back;
	struct kura_repo_gen *g = NULL;
	size_t n = 0;
	uint8_t id[32];
	make_obj("state", &o, id);
	assert_int_equal(r->ops->put(r, id, o.data, o.len), 0);
	make_manifest(1, id, NULL, &m1);
	make_manifest(2, id, NULL, &m2);
	make_manifest(2, id, id, &other);
	assert_int_equal(r->ops->manifest_put(r, 2, m2.data, m2.len), 0);
	assert_int_equal(r->ops->manifest_put(r, 1, m1.data, m1.len), 0);
	assert_int_equal(r->ops->manifest_put(r, 2, m2.data, m2.len), 0); /* same bytes */
	assert_int_equal(r->ops->manifest_put(r, 2, other.data, other.len), KURA_EEXIST);
	assert_int_equal(r->ops->manifest_put(r, 0, m1.data, m1.len), KURA_EINVAL);
	kura_buf_init(&back, KURA_MANIFEST_MAX);
	assert_int_equal(r->ops->manifest_get(r, 1, &back), 0);
	assert_int_equal(back.len, m1.len);
	assert_int_equal(r->ops->manifest_get(r, 3, &back), KURA_ENOTFOUND);
	assert_int_equal(r->ops->manifest_list(r, &g, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(g[0].generation, 1);
	assert_int_equal(g[1].generation, 2);
	assert_int_equal(g[1].created_us, 1700000000000002);
	assert_int_equal(g[1].bytes, m2.len + o.len);
	free(g);
	int64_t when = 0;
	assert_int_equal(kura_repo_dir_stored_us(r, 1, &when), 0);
	assert_true(when > 0);
	/* an unparsable manifest is named in err and listed with tree size and
	 * time 0: the other generations stay listed (readers refuse that one) */
	char p[512];
	snprintf(p, sizeof(p), "%s/m/manifests/00000000000000000007", root);
	assert_int_equal(kura_fs_write_atomic(p, "junk", 4, 0444), 0);
	assert_int_equal(r->ops->manifest_list(r, &g, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(g[1].generation, 2);
	assert_int_equal(g[1].created_us, 1700000000000002);
	assert_int_equal(g[2].generation, 7);
	assert_int_equal(g[2].tree_size, 0);
	assert_int_equal(g[2].created_us, 0);
	free(g);
	assert_non_null(strstr(r->err, "00000000000000000007"));
	unlink(p);
	struct kura_buf *all[] = {&o, &m1, &m2, &other, &back};
	for (size_t i = 0; i < 5; i++)
		kura_buf_release(all[i]);
	kura_repo_close(r);
}

static void test_foreign_and_open(void **state)
{
	(void)state;
	char dir[256], junk[300];
	uint8_t other[16];
	struct kura_repo *r = NULL;
	memcpy(other, vault_id, 16);
	other[0] ^= 1;
	kura_repo_close(open_repo("f", 1, vault_id));
	path_of(dir, sizeof(dir), "f");
	assert_int_equal(kura_repo_open(dir, NULL, 0, other, &r), KURA_EFOREIGN);
	assert_null(r);
	kura_repo_close(open_repo("f", 0, NULL)); /* any vault */
	path_of(dir, sizeof(dir), "none");
	assert_int_equal(kura_repo_open(dir, NULL, 0, vault_id, &r), KURA_ENOTFOUND);
	/* a directory with other files is not taken over */
	path_of(dir, sizeof(dir), "busy");
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(junk, sizeof(junk), "%s/x", dir);
	assert_int_equal(kura_fs_write_atomic(junk, "x", 1, 0600), 0);
	assert_int_equal(kura_repo_open(dir, NULL, 1, vault_id, &r), KURA_EFOREIGN);
	assert_int_equal(kura_repo_open("http://plain/text", NULL, 1, vault_id, &r), KURA_EINVAL);
	assert_int_equal(kura_repo_open("https://x:1", NULL, 1, vault_id, &r), KURA_EINVAL);
	/* leftovers in tmp/ go at the next open */
	path_of(junk, sizeof(junk), "f/tmp/partial.1.1");
	assert_int_equal(kura_fs_write_atomic(junk, "x", 1, 0600), 0);
	kura_repo_close(open_repo("f", 0, vault_id));
	assert_int_equal(access(junk, F_OK), -1);
}

static void test_gc(void **state)
{
	(void)state;
	struct kura_repo *r = open_repo("g", 1, vault_id);
	struct kura_buf a, b, c, m1, m2;
	uint8_t ida[32], idb[32], idc[32];
	uint64_t removed = 0, freed = 0;
	make_obj("a", &a, ida);
	make_obj("b", &b, idb);
	make_obj("c", &c, idc);
	assert_int_equal(r->ops->put(r, ida, a.data, a.len), 0);
	assert_int_equal(r->ops->put(r, idb, b.data, b.len), 0);
	assert_int_equal(r->ops->put(r, idc, c.data, c.len), 0);
	make_manifest(1, ida, idb, &m1);
	make_manifest(2, ida, NULL, &m2);
	assert_int_equal(r->ops->manifest_put(r, 1, m1.data, m1.len), 0);
	assert_int_equal(r->ops->manifest_put(r, 2, m2.data, m2.len), 0);
	/* c is young: spared while an upload may be in progress */
	assert_int_equal(kura_repo_dir_gc(r, 1, &removed, &freed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(kura_repo_dir_gc(r, 0, &removed, &freed), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(freed, c.len);
	assert_int_equal(r->ops->has(r, idc), 0);
	assert_int_equal(kura_repo_dir_remove_generation(r, 1), 0);
	assert_int_equal(kura_repo_dir_remove_generation(r, 1), KURA_ENOTFOUND);
	assert_int_equal(kura_repo_dir_gc(r, 0, &removed, NULL), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(r->ops->has(r, idb), 0);
	assert_int_equal(r->ops->has(r, ida), 1);
	/* another holder: no collection */
	struct kura_repo *r2 = open_repo("g", 0, vault_id);
	assert_int_equal(kura_repo_dir_gc(r, 0, NULL, NULL), KURA_EBUSY);
	kura_repo_close(r2);
	struct kura_buf *all[] = {&a, &b, &c, &m1, &m2};
	for (size_t i = 0; i < 5; i++)
		kura_buf_release(all[i]);
	kura_repo_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_manifests),
		cmocka_unit_test(test_foreign_and_open),
		cmocka_unit_test(test_gc),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
