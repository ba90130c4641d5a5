/*
 * test_backup.c - generations, restores, checks and exports in-process
 * (src/backup/run.c, restore.c, check.c; BK-01, BK-03, BK-05), so that the
 * whole cycle also runs under ASan and UBSan.  The CLI and the receiver are
 * tested end to end in tests/e2e/backup.test.mjs and receiver.test.mjs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backup/backup.h"
#include "crypto/crypto.h"
#include "util/err.h"
#include "util/fs.h"
#include "vault/verify.h"

#define PASS "correct horse battery staple"

static const struct kura_kdf_params fast = {1, 8 * 1024};

struct fx {
	char dir[64];
	char vault[96], repo[96], out[96], exp[96];
	struct kura_vault *v;
	struct kura_scanner *scan;
	char records[4][KURA_RECORD_ID_LEN + 1];
};

static const char *clamav_db(void)
{
	static char path[4096];
	const char *d = getenv("KURA_TEST_DATA");
	snprintf(path, sizeof(path), "%s/clamav", d ? d : "tests/data");
	return path;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kura_sth sth;
	unsigned sigs;
	char err[256];
	setenv("KURA_BACKUP_IMMUTABLE", "0", 1); /* so the test can remove its files */
	snprintf(f->dir, sizeof(f->dir), "/tmp/kura-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->vault, sizeof(f->vault), "%s/vault", f->dir);
	snprintf(f->repo, sizeof(f->repo), "%s/repo", f->dir);
	snprintf(f->out, sizeof(f->out), "%s/restored", f->dir);
	snprintf(f->exp, sizeof(f->exp), "%s/export", f->dir);
	if (kura_vault_init(f->vault, PASS, strlen(PASS), &fast, &sth) ||
	    kura_vault_open(f->vault, PASS, strlen(PASS), 0, &f->v) ||
	    kura_scan_open(clamav_db(), &f->scan, &sigs, err))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	kura_vault_close(f->v);
	kura_scan_close(f->scan);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void put(struct fx *f, int i, const char *patient, const char *type, const uint8_t *p,
		size_t n)
{
	struct kura_write w = {.actor = "dr.sato"};
	struct kura_written out;
	assert_int_equal(kura_vault_put(f->v, patient, type, type[0] == 'a' ? type : NULL, p, n, &w,
					&out), 0);
	memcpy(f->records[i], out.record_id, sizeof(out.record_id));
}

static uint64_t last_put_bytes; /* what the last backup sent its target */

/* Make a generation to the repository; res->manifest is the caller's to free. */
static uint64_t backup(struct fx *f, struct kura_buf *prev, struct kura_backup_result *res)
{
	struct kura_backup_target t = {.name = f->repo};
	uint8_t vid[16];
	kura_vault_id(f->v, vid);
	assert_int_equal(kura_repo_open(f->repo, NULL, 1, vid, &t.repo), 0);
	assert_int_equal(kura_backup_run(f->v, prev->data, prev->len, &t, 1, NULL, res), 0);
	assert_true(t.ok);
	last_put_bytes = t.put_bytes;
	kura_repo_close(t.repo);
	kura_buf_reset(prev);
	assert_int_equal(kura_buf_append(prev, res->manifest.data, res->manifest.len), 0);
	return res->generation;
}

static int restore(struct fx *f, const char *from, uint64_t gen, int latest_clean,
		   struct kura_restore_result *res)
{
	struct kura_repo *r;
	struct kura_restore_opts o = {.generation = gen, .latest_clean = latest_clean,
				      .secret = PASS, .secret_len = strlen(PASS),
				      .scanner = f->scan};
	assert_int_equal(kura_repo_open(from, NULL, 0, NULL, &r), 0);
	int e = kura_restore(r, f->out, &o, res);
	kura_repo_close(r);
	return e;
}

static void assert_content(struct fx *f, const char *dir, int i, uint32_t version,
			   const uint8_t *p, size_t n)
{
	struct kura_vault *v;
	struct kura_leaf l;
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_CONTENT);
	assert_int_equal(kura_vault_open(dir, PASS, strlen(PASS), KURA_VAULT_READONLY, &v), 0);
	assert_int_equal(kura_vault_get(v, f->records[i], version, &l, &b), 0);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, p, n);
	kura_vault_close(v);
	kura_buf_release(&b);
}

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "check: %s\n", line);
}

static void rm_out(struct fx *f)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->out);
	assert_int_equal(system(cmd), 0);
}

/* Generations round trip: each restores to what the vault held then. */
static void test_generations(void **state)
{
	struct fx *f = *state;
	struct kura_backup_result r1, r2, r3;
	struct kura_restore_result rr;
	struct kura_buf prev;
	static const char obs[] = "{\"resourceType\":\"Observation\",\"status\":\"final\"}";
	static const char obs2[] = "{\"resourceType\":\"Observation\",\"status\":\"amended\"}";
	size_t big = 3u << 20;
	uint8_t *img = malloc(big);
	assert_non_null(img);
	kura_random(img, big);
	kura_buf_init(&prev, KURA_MANIFEST_MAX);

	put(f, 0, "P1", "Observation", (const uint8_t *)obs, strlen(obs));
	put(f, 1, "P1", "application/dicom", img, big);
	assert_int_equal(backup(f, &prev, &r1), 1);
	assert_int_equal(r1.base_generation, 0);

	/* The same image again: its chunks are known, so nothing new is stored
	 * for it but the segment and the state. */
	put(f, 2, "P2", "application/dicom", img, big);
	struct kura_write w = {.actor = "dr.sato", .reason = "corrected"};
	struct kura_written out;
	assert_int_equal(kura_vault_amend(f->v, f->records[0], (const uint8_t *)obs2, strlen(obs2),
					  &w, &out), 0);
	assert_int_equal(backup(f, &prev, &r2), 2);
	assert_int_equal(r2.base_generation, 1);
	assert_int_equal(r2.versions, 2);
	assert_true(r2.dedup_chunks > 0);
	assert_true(last_put_bytes < big / 2); /* the second image's chunks were stored already */

	assert_int_equal(kura_vault_retract(f->v, f->records[2], &w, &out), 0);
	assert_int_equal(backup(f, &prev, &r3), 3);

	/* Generation 1: before the amendment and the second image. */
	assert_int_equal(restore(f, f->repo, 1, 0, &rr), 0);
	assert_int_equal(rr.sth.tree_size, r1.sth.tree_size);
	assert_memory_equal(rr.sth.root, r1.sth.root, KURA_HASH_LEN);
	assert_int_equal(rr.rpo_entries, r3.sth.tree_size - r1.sth.tree_size);
	assert_int_equal(rr.later_checked, 2);
	assert_content(f, f->out, 0, 0, (const uint8_t *)obs, strlen(obs));
	assert_content(f, f->out, 1, 0, img, big);
	rm_out(f);

	/* The newest: the amendment and the retraction are there. */
	assert_int_equal(restore(f, f->repo, 0, 0, &rr), 0);
	assert_int_equal(rr.generation, 3);
	assert_content(f, f->out, 0, 2, (const uint8_t *)obs2, strlen(obs2));
	assert_content(f, f->out, 0, 1, (const uint8_t *)obs, strlen(obs));
	assert_content(f, f->out, 2, 1, img, big);
	assert_true(rr.scanned_docs >= 4);

	/* Never over an existing vault. */
	struct kura_restore_result again;
	assert_int_equal(restore(f, f->repo, 0, 0, &again), KURA_EEXIST);
	rm_out(f);

	/* Verify the repository, with and without the keys. */
	struct kura_repo *repo;
	struct kura_check_result cr;
	struct kura_backup_keys keys;
	uint8_t pub[KURA_PUBKEY_LEN];
	kura_vault_pubkey(f->v, pub);
	assert_int_equal(kura_backup_keys_of(f->v, &keys), 0);
	assert_int_equal(kura_repo_open(f->repo, NULL, 0, NULL, &repo), 0);
	assert_int_equal(kura_backup_check(repo, pub, NULL, NULL, NULL, &cr), 0);
	assert_int_equal(cr.generations, 3);
	assert_int_equal(kura_backup_check(repo, pub, &keys, print_line, NULL, &cr), 0);

	/* Export generation 2 and restore from the copy alone. */
	uint64_t got, bytes;
	assert_int_equal(kura_backup_export(repo, 2, f->exp, NULL, NULL, &got, &bytes), 0);
	assert_int_equal(got, 2);
	kura_repo_close(repo);
	assert_int_equal(restore(f, f->exp, 0, 0, &rr), 0);
	assert_int_equal(rr.generation, 2);
	assert_content(f, f->out, 0, 2, (const uint8_t *)obs2, strlen(obs2));
	rm_out(f);

	kura_wipe(&keys, sizeof(keys));
	kura_buf_release(&r1.manifest);
	kura_buf_release(&r2.manifest);
	kura_buf_release(&r3.manifest);
	kura_buf_release(&prev);
	free(img);
}

/* Malware in the newest generation: refused; latest_clean takes the one
 * before.  The EICAR text is assembled at run time. */
static void test_infected(void **state)
{
	struct fx *f = *state;
	struct kura_backup_result r1, r2;
	struct kura_restore_result rr;
	struct kura_buf prev, eicar;
	static const char clean[] = "{\"resourceType\":\"Patient\"}";
	kura_buf_init(&prev, KURA_MANIFEST_MAX);
	kura_buf_init(&eicar, 4096);
	char path[4200];
	snprintf(path, sizeof(path), "%s/eicar.com.b64", clamav_db());
	assert_int_equal(kura_fs_read(path, 4096, &eicar), 0);
	char cmd[4400];
	snprintf(cmd, sizeof(cmd), "base64 -d %s > %s/eicar", path, f->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/eicar", f->dir);
	kura_buf_reset(&eicar);
	assert_int_equal(kura_fs_read(path, 4096, &eicar), 0);

	put(f, 0, "P1", "Patient", (const uint8_t *)clean, strlen(clean));
	backup(f, &prev, &r1);
	put(f, 1, "P1", "application/octet-stream", eicar.data, eicar.len);
	backup(f, &prev, &r2);

	assert_int_equal(restore(f, f->repo, 0, 0, &rr), KURA_ESTATE);
	assert_true(strstr(rr.infected, "Eicar") != NULL);
	assert_int_equal(kura_fs_is_dir(f->out), 0); /* nothing left */
	assert_int_equal(restore(f, f->repo, 0, 1, &rr), 0);
	assert_int_equal(rr.generation, r1.generation);
	rm_out(f);
	kura_buf_release(&r1.manifest);
	kura_buf_release(&r2.manifest);
	kura_buf_release(&prev);
	kura_buf_release(&eicar);
}

/* A flipped byte in an object is found by check and refused by restore. */
static void test_tamper(void **state)
{
	struct fx *f = *state;
	struct kura_backup_result r1;
	struct kura_restore_result rr;
	struct kura_check_result cr;
	struct kura_buf prev, obj;
	struct kura_repo *repo;
	char hex[KURA_OBJ_ID_HEX + 1], path[256];
	static const char doc[] = "{\"resourceType\":\"Condition\"}";
	kura_buf_init(&prev, KURA_MANIFEST_MAX);
	kura_buf_init(&obj, KURA_OBJ_MAX);
	put(f, 0, "P9", "Condition", (const uint8_t *)doc, strlen(doc));
	backup(f, &prev, &r1);

	struct kura_manifest m = {0};
	assert_int_equal(kura_manifest_parse(prev.data, prev.len, &m), 0);
	kura_obj_id_hex(m.segs[0].id, hex);
	snprintf(path, sizeof(path), "%s/objects/%.2s/%s", f->repo, hex, hex);
	assert_int_equal(kura_fs_read(path, KURA_OBJ_MAX, &obj), 0);
	obj.data[obj.len / 2] ^= 1;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "chmod u+w %s", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(kura_fs_write_atomic(path, obj.data, obj.len, 0444), 0);

	uint8_t pub[KURA_PUBKEY_LEN];
	kura_vault_pubkey(f->v, pub);
	assert_int_equal(kura_repo_open(f->repo, NULL, 0, NULL, &repo), 0);
	assert_int_equal(kura_backup_check(repo, pub, NULL, NULL, NULL, &cr), KURA_EVERIFY);
	assert_true(cr.problems >= 1);
	kura_repo_close(repo);
	assert_int_equal(restore(f, f->repo, 0, 0, &rr), KURA_EVERIFY);
	assert_int_equal(kura_fs_is_dir(f->out), 0);

	kura_manifest_release(&m);
	kura_buf_release(&r1.manifest);
	kura_buf_release(&prev);
	kura_buf_release(&obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_generations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_infected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
	};
	if (kura_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
