/* test_manifest.c - manifests: canonical encoding, strict parsing,
 * signatures, and history checks over real Merkle trees. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backup/manifest.h"

#define H KURA_HASH_LEN
#define LEAVES 16

/* All perfect nodes of one in-memory tree. */
struct tree {
	uint8_t node[5][LEAVES][H];
	struct merkle_range range;
};

static int tree_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
	struct tree *t = ctx;
	if (level >= 5 || index >= LEAVES)
		return KURA_EINVAL;
	memcpy(out, t->node[level][index], H);
	return 0;
}

static int tree_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[H])
{
	struct tree *t = ctx;
	if (level >= 5 || index >= LEAVES)
		return KURA_EINVAL;
	memcpy(t->node[level][index], h, H);
	return 0;
}

/* Leaves "leaf i" for i < n, except leaf fork_at is different (-1: none). */
static void tree_build(struct tree *t, unsigned n, int fork_at)
{
	memset(t, 0, sizeof(*t));
	merkle_range_init(&t->range);
	for (unsigned i = 0; i < n; i++) {
		char leaf[32];
		uint8_t h[H];
		int len = snprintf(leaf, sizeof(leaf), "%s %u", (int)i == fork_at ? "evil" : "leaf", i);
		merkle_leaf_hash((const uint8_t *)leaf, (size_t)len, h);
		assert_int_equal(merkle_range_append(&t->range, h, tree_put, t), 0);
	}
}

static uint8_t seed[32], pub[32], vault_id[16];

static int sign_cb(void *ctx, const void *msg, size_t len, uint8_t sig[KURA_SIG_LEN])
{
	(void)ctx;
	return kura_ed25519_sign(seed, msg, len, sig);
}

/* Generation gen of a vault whose ledger is t, at size n, with proofs
 * from the sizes in from[] (generation k + 1 at from[k]). */
static void make(struct kura_manifest *m, uint64_t gen, struct tree *t, uint64_t n,
		 const uint64_t *from, size_t nfrom)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->vault_id, vault_id, 16);
	m->generation = gen;
	m->created_us = 1700000000000000 + (int64_t)gen;
	m->sth.tree_size = n;
	m->sth.time_us = m->created_us;
	if (n)
		assert_int_equal(merkle_subtree_root(0, n, tree_get, t, m->sth.root), 0);
	else
		merkle_empty_root(m->sth.root);
	assert_int_equal(kura_sth_sign(&m->sth, seed, pub), 0);
	memcpy(m->ledger_pub, pub, 32);
	m->keys = json_pack("{s:{s:i},s:s}", "kdf", "t", 3, "master", "00ff");
	m->stats = json_pack("{s:i}", "versions", (int)n);
	memset(m->state_id, 0x5a, 32);
	m->nsegs = (size_t)(n + 3) / 4;
	m->segs = calloc(m->nsegs, sizeof(*m->segs));
	for (size_t i = 0; i < m->nsegs; i++) {
		m->segs[i].first = i * 4;
		m->segs[i].count = (uint32_t)(i * 4 + 4 <= n ? 4 : n - i * 4);
		memset(m->segs[i].id, (int)i, 32);
	}
	m->nchunks = 3;
	m->chunks = calloc(3, 32);
	for (int i = 0; i < 3; i++)
		memset(m->chunks[i], 0x10 * (i + 1), 32);
	m->nproofs = nfrom;
	m->proofs = nfrom ? calloc(nfrom, sizeof(*m->proofs)) : NULL;
	for (size_t k = 0; k < nfrom; k++) {
		struct kura_manifest_proof *p = &m->proofs[k];
		size_t len;
		p->generation = k + 1;
		p->old_size = from[k];
		assert_int_equal(merkle_subtree_root(0, from[k], tree_get, t, p->old_root), 0);
		assert_int_equal(merkle_consistency_proof(from[k], n, tree_get, t, p->path, &len), 0);
		p->npath = (unsigned)len;
	}
}

static void encode(const struct kura_manifest *m, struct kura_buf *out)
{
	kura_buf_init(out, KURA_MANIFEST_MAX);
	assert_int_equal(kura_manifest_encode(m, sign_cb, NULL, out), 0);
}

static int setup(void **state)
{
	(void)state;
	kura_crypto_init();
	kura_random(vault_id, sizeof(vault_id));
	return kura_ed25519_keygen(seed, pub);
}

static void test_round_trip_and_signature(void **state)
{
	(void)state;
	struct tree t;
	struct kura_manifest m, back;
	struct kura_buf f, again;
	uint64_t from[] = {5, 9};
	uint8_t other_seed[32], other_pub[32];
	tree_build(&t, 13, -1);
	make(&m, 3, &t, 13, from, 2);
	encode(&m, &f);
	assert_ptr_equal(memchr(f.data, '\n', f.len), f.data + f.len - 137 - 1);
	assert_memory_equal(f.data, "{\"format\":\"kura-backup-1\",\"vault_id\":\"", 37);
	assert_int_equal(kura_manifest_parse(f.data, f.len, &back), 0);
	assert_int_equal(kura_manifest_verify(&back, f.data, f.len, pub), 0);
	assert_memory_equal(back.vault_id, m.vault_id, 16);
	assert_true(back.generation == 3 && back.created_us == m.created_us);
	assert_memory_equal(&back.sth, &m.sth, sizeof(m.sth));
	assert_int_equal(back.nsegs, 4);
	assert_int_equal(back.segs[3].count, 1);
	assert_int_equal(back.nchunks, 3);
	assert_memory_equal(back.chunks, m.chunks, 3 * 32);
	assert_int_equal(back.nproofs, 2);
	assert_int_equal(back.proofs[1].npath, m.proofs[1].npath);
	assert_memory_equal(back.proofs[1].path, m.proofs[1].path, m.proofs[1].npath * 32);
	assert_true(json_equal(back.keys, m.keys));
	assert_true(json_equal(back.stats, m.stats));
	/* Canonical: what was parsed encodes to the same bytes. */
	encode(&back, &again);
	assert_int_equal(again.len, f.len);
	assert_memory_equal(again.data, f.data, f.len);
	/* Objects: state, segments, chunks. */
	uint8_t(*ids)[32];
	size_t nids;
	assert_int_equal(kura_manifest_objects(&back, &ids, &nids), 0);
	assert_int_equal(nids, 1 + 4 + 3);
	assert_memory_equal(ids[0], m.state_id, 32);
	assert_memory_equal(ids[7], m.chunks[2], 32);
	free(ids);
	/* Another key; a changed body byte; a changed signature. */
	kura_ed25519_keygen(other_seed, other_pub);
	assert_int_equal(kura_manifest_verify(&back, f.data, f.len, other_pub), KURA_ECRYPTO);
	char *g = strstr((char *)f.data, "\"created_us\":");
	assert_non_null(g);
	g += 14;
	*g ^= 1; /* a digit to another digit */
	assert_int_equal(kura_manifest_verify(&back, f.data, f.len, pub), KURA_ECRYPTO);
	*g ^= 1;
	f.data[f.len - 2] = f.data[f.len - 2] == '0' ? '1' : '0';
	assert_int_equal(kura_manifest_verify(&back, f.data, f.len, pub), KURA_ECRYPTO);
	kura_manifest_release(&back);
	kura_manifest_release(&m);
	kura_manifest_release(&m);
	kura_buf_release(&f);
	kura_buf_release(&again);
}

/* Replace the first `from` in the file by `to` and expect parse to fail. */
static void refuse(const struct kura_buf *f, const char *from, const char *to)
{
	struct kura_buf g;
	struct kura_manifest m;
	const char *at = strstr((const char *)f->data, from);
	assert_non_null(at);
	kura_buf_init(&g, KURA_MANIFEST_MAX);
	kura_buf_append(&g, f->data, (size_t)(at - (const char *)f->data));
	kura_buf_append_str(&g, to);
	kura_buf_append_str(&g, at + strlen(from));
	assert_int_equal(kura_manifest_parse(g.data, g.len, &m), KURA_ECORRUPT);
	kura_buf_release(&g);
}

static void test_strict(void **state)
{
	(void)state;
	struct tree t;
	struct kura_manifest m;
	struct kura_buf f;
	char hex[65];
	uint64_t from[] = {5};
	tree_build(&t, 9, -1);
	make(&m, 2, &t, 9, from, 1);
	encode(&m, &f);
	refuse(&f, "kura-backup-1", "kura-backup-2");
	refuse(&f, "\"generation\":2", "\"generation\":0");
	refuse(&f, "\"generation\":2", "\"generation\":2.0");
	refuse(&f, "\"generation\":2", "\"generation\":-2");
	refuse(&f, "\"first\":4", "\"first\":5");               /* a gap */
	refuse(&f, "\"count\":1", "\"count\":2");               /* past tree_size */
	refuse(&f, "\"count\":1", "\"count\":0");
	refuse(&f, "\"old_size\":5", "\"old_size\":10");         /* past tree_size */
	refuse(&f, "\"keys\":{", "\"keys\":[{");
	refuse(&f, "\"stats\":{", "\"stats\":1,\"x\":{");
	refuse(&f, "{\"format\"", "{\"extra\":1,\"format\"");
	refuse(&f, "\"format\"", "\"format\":\"kura-backup-1\",\"format\"");
	kura_hex_encode(m.chunks[1], 32, hex);
	refuse(&f, hex, "0000000000000000000000000000000000000000000000000000000000000000");
	kura_hex_encode(m.chunks[0], 32, hex);
	hex[63] = 0;
	refuse(&f, hex, "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABA");
	refuse(&f, "\ned25519 ", "\n\ned25519 ");
	refuse(&f, "\ned25519 ", "\ned25519  ");
	refuse(&f, "\ned25519 ", "\ned25519 \n");
	/* Truncated anywhere, or with something after the signature line. */
	for (size_t n = 0; n < f.len; n += 7) {
		struct kura_manifest x;
		assert_int_equal(kura_manifest_parse(f.data, n, &x), KURA_ECORRUPT);
	}
	struct kura_manifest x;
	kura_buf_append_str(&f, "x");
	assert_int_equal(kura_manifest_parse(f.data, f.len, &x), KURA_ECORRUPT);
	/* Encode refuses what parse would. */
	m.segs[1].first = 3;
	assert_int_equal(kura_manifest_encode(&m, sign_cb, NULL, &f), KURA_EINVAL);
	m.segs[1].first = 4;
	memcpy(m.chunks[2], m.chunks[1], 32);
	assert_int_equal(kura_manifest_encode(&m, sign_cb, NULL, &f), KURA_EINVAL);
	kura_manifest_release(&m);
	kura_buf_release(&f);
}

static void test_extends(void **state)
{
	(void)state;
	struct tree t, fork;
	struct kura_manifest g1, g2, g3, g3bare, g4, f2, f2own, other, empty;
	uint64_t from5[] = {5}, from59[] = {5, 9};
	tree_build(&t, 13, -1);
	tree_build(&fork, 13, 2); /* history rewritten at leaf 2 */
	make(&g1, 1, &t, 5, NULL, 0);
	make(&g2, 2, &t, 9, from5, 1);
	make(&g3, 3, &t, 13, from59, 2);
	make(&g3bare, 3, &t, 13, NULL, 0);
	make(&g4, 4, &t, 13, NULL, 0);
	assert_int_equal(kura_manifest_extends(&g1, &g2), 0);
	assert_int_equal(kura_manifest_extends(&g2, &g3), 0);
	assert_int_equal(kura_manifest_extends(&g1, &g3), 0);
	assert_int_equal(kura_manifest_extends(&g3, &g4), 0); /* same tree */
	assert_int_equal(kura_manifest_extends(&g1, &g3bare), KURA_ENOTFOUND);
	assert_int_equal(kura_manifest_extends(&g2, &g1), KURA_EINVAL);
	assert_int_equal(kura_manifest_extends(&g2, &g2), KURA_EINVAL);
	g4.generation = 5;
	g4.sth.tree_size = 9;
	assert_int_equal(kura_manifest_extends(&g3, &g4), KURA_EINVAL); /* smaller */
	/* The forked tree: its proof from its own old root contradicts g1,
	 * and a proof claiming g1's root does not verify. */
	make(&f2own, 2, &fork, 9, from5, 1);
	assert_int_equal(kura_manifest_extends(&g1, &f2own), KURA_EVERIFY);
	make(&f2, 2, &fork, 9, from5, 1);
	memcpy(f2.proofs[0].old_root, g1.sth.root, 32);
	assert_int_equal(kura_manifest_extends(&g1, &f2), KURA_EVERIFY);
	kura_manifest_release(&g4);
	make(&g4, 4, &fork, 13, NULL, 0);
	assert_int_equal(kura_manifest_extends(&g3, &g4), KURA_EVERIFY); /* same size, other root */
	/* A flipped path hash. */
	g3.proofs[0].path[0][0] ^= 1;
	assert_int_equal(kura_manifest_extends(&g1, &g3), KURA_EVERIFY);
	/* Another vault. */
	make(&other, 2, &t, 9, from5, 1);
	other.vault_id[0] ^= 1;
	assert_int_equal(kura_manifest_extends(&g1, &other), KURA_EVERIFY);
	/* Everything extends the empty tree (with the empty root only). */
	make(&empty, 1, &t, 0, NULL, 0);
	assert_int_equal(empty.nsegs, 0);
	assert_int_equal(kura_manifest_extends(&empty, &g2), 0);
	empty.sth.root[0] ^= 1;
	assert_int_equal(kura_manifest_extends(&empty, &g2), KURA_EVERIFY);
	struct kura_manifest *all[] = {&g1, &g2, &g3, &g3bare, &g4, &f2, &f2own, &other, &empty};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		kura_manifest_release(all[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_and_signature),
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_extends),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
