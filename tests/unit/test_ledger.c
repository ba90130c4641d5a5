/*
 * test_ledger.c - group commits over a real store: one signed tree head per
 * group, proofs from stored nodes that verify, nothing signed over damage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ledger/ledger.h"
#include "ledger/proof.h"

struct fx {
	char dir[64];
	struct kura_store *s;
	uint8_t seed[KURA_KEY_LEN], pub[KURA_PUBKEY_LEN];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[96];
	snprintf(f->dir, sizeof(f->dir), "/tmp/kura-ledger-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/vault.db", f->dir);
	kura_ed25519_keygen(f->seed, f->pub);
	*state = f;
	return kura_store_sqlite_open(path, KURA_STORE_CREATE, &f->s) ? -1 : 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	kura_store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	int r = system(cmd);
	free(f);
	return r == 0 ? 0 : -1;
}

/* One group of n leaves "g<group>-<i>"; returns its signed tree head. */
static struct kura_sth group(struct fx *f, int g, int n)
{
	struct kura_ledger lg;
	struct kura_sth sth;
	char leaf[32];
	uint64_t index;
	uint8_t h[KURA_HASH_LEN];
	assert_int_equal(f->s->ops->txn_begin(f->s, 1), 0);
	assert_int_equal(kura_ledger_begin(&lg, f->s), 0);
	for (int i = 0; i < n; i++) {
		int len = snprintf(leaf, sizeof(leaf), "g%d-%d", g, i);
		assert_int_equal(kura_ledger_append(&lg, (uint8_t *)leaf, (size_t)len, &index, h), 0);
	}
	assert_int_equal(kura_ledger_seal(&lg, f->seed, f->pub, &sth), 0);
	assert_int_equal(f->s->ops->txn_commit(f->s), 0);
	return sth;
}

static void test_groups_and_proofs(void **state)
{
	struct fx *f = *state;
	struct kura_sth first = group(f, 0, 0), a = group(f, 1, 7), b = group(f, 2, 30);
	struct kura_proof_summary sum;
	struct kura_buf msg;
	kura_buf_init(&msg, 1024);
	assert_int_equal(first.tree_size, 0);
	assert_int_equal(a.tree_size, 7);
	assert_int_equal(b.tree_size, 37);
	assert_int_equal(kura_sth_verify(&b, f->pub), 0);
	/* every tree head is stored; a consistency proof between them verifies */
	json_t *doc;
	assert_int_equal(kura_proof_consistency(f->s, 7, &b, &doc), 0);
	char *text = json_dumps(doc, 0);
	assert_int_equal(kura_proof_verify((uint8_t *)text, strlen(text), f->pub, &sum, &msg), 0);
	assert_int_equal(sum.old_size, 7);
	assert_int_equal(sum.old_signed, 1); /* both ends were signed by a group */
	free(text);
	json_decref(doc);
	/* the consistency path itself, checked with the Merkle functions */
	uint8_t path[MERKLE_MAX_PATH][KURA_HASH_LEN];
	size_t n = 0;
	assert_int_equal(merkle_consistency_proof(7, 37, kura_ledger_get_node, f->s, path, &n), 0);
	assert_int_equal(merkle_verify_consistency(7, 37, a.root, b.root, path, n), 0);
	assert_int_equal(merkle_inclusion_proof(3, 37, kura_ledger_get_node, f->s, path, &n), 0);
	uint8_t h[KURA_HASH_LEN];
	merkle_leaf_hash((const uint8_t *)"g1-3", 4, h);
	assert_int_equal(merkle_verify_inclusion(3, 37, h, path, n, b.root), 0);
	kura_buf_release(&msg);
}

/* Review M1: damaged stored nodes must stop the next group from signing. */
static void test_refuses_damage(void **state)
{
	struct fx *f = *state;
	struct kura_ledger lg;
	group(f, 0, 0);
	group(f, 1, 4);
	/* Zero node (2, 0), the root of the four leaves, as a file editor would. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 %s/vault.db \"DROP TRIGGER nodes_append_only_u; UPDATE nodes SET hash = zeroblob(32) "
		 "WHERE id = %llu;\"", f->dir, (unsigned long long)(2ull << 57));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(f->s->ops->txn_begin(f->s, 1), 0);
	assert_int_equal(kura_ledger_begin(&lg, f->s), KURA_ECORRUPT);
	f->s->ops->txn_abort(f->s);
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_groups_and_proofs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_damage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
