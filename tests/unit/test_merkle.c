/*
 * test_merkle.c - ledger/merkle.c against the published RFC 6962 vectors and
 * against a brute-force RFC 9162 reference written out in this file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ledger/merkle.h"
#include "util/err.h"
#include "util/banned.h"

#define H KURA_HASH_LEN
#define NMAX 1100u   /* leaves in the shared store */
#define LEVELS 11u   /* 2^10 <= NMAX < 2^11 */

/* ---- an in-memory node store ------------------------------------------- */

struct store {
	uint8_t (*node[LEVELS])[H];
	uint8_t (*leaf)[H];  /* leaf hashes, for the reference */
	uint64_t limit;      /* get may only ask for nodes below this size */
	unsigned reads;
	int fail_after;      /* get/put fail once this many calls succeeded (-1: never) */
	int calls;
};

static int store_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
	struct store *s = ctx;
	/* The library must never ask for a node the tree does not have yet. */
	if (level >= LEVELS || index >= (s->limit >> level))
		fail_msg("get(%u, %llu) outside a tree of %llu", level,
			 (unsigned long long)index, (unsigned long long)s->limit);
	if (s->fail_after >= 0 && s->calls++ >= s->fail_after)
		return KURA_EIO;
	s->reads++;
	memcpy(out, s->node[level][index], H);
	return 0;
}

static int store_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[H])
{
	struct store *s = ctx;
	assert_true(level < LEVELS);
	assert_true(index < (NMAX >> level));
	if (s->fail_after >= 0 && s->calls++ >= s->fail_after)
		return KURA_EIO;
	memcpy(s->node[level][index], h, H);
	return 0;
}

static void leaf_data(uint64_t i, uint8_t d[5])
{
	d[0] = 'k';
	for (int b = 0; b < 4; b++)
		d[1 + b] = (uint8_t)(i >> (8 * b));
}

static struct store *store_new(void)
{
	struct store *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	for (unsigned l = 0; l < LEVELS; l++) {
		s->node[l] = calloc(NMAX >> l, H);
		assert_non_null(s->node[l]);
	}
	s->leaf = calloc(NMAX, H);
	assert_non_null(s->leaf);
	s->fail_after = -1;
	return s;
}

static int group_setup(void **state)
{
	struct store *s = store_new();
	struct merkle_range r;
	uint8_t d[5];
	merkle_range_init(&r);
	for (uint64_t i = 0; i < NMAX; i++) {
		leaf_data(i, d);
		merkle_leaf_hash(d, sizeof(d), s->leaf[i]);
		assert_int_equal(merkle_range_append(&r, s->leaf[i], store_put, s), 0);
	}
	s->limit = NMAX;
	*state = s;
	return 0;
}

static int group_teardown(void **state)
{
	struct store *s = *state;
	for (unsigned l = 0; l < LEVELS; l++)
		free(s->node[l]);
	free(s->leaf);
	free(s);
	return 0;
}

/* ---- the reference: RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 as written ------ */

static uint64_t ref_split(uint64_t n)
{
	uint64_t k = 1;
	while (k * 2 < n)
		k *= 2;
	return k;
}

static void ref_mth(uint8_t (*leaf)[H], uint64_t lo, uint64_t hi, uint8_t out[H])
{
	uint8_t l[H], r[H];
	if (hi - lo == 1) {
		memcpy(out, leaf[lo], H);
		return;
	}
	uint64_t k = ref_split(hi - lo);
	ref_mth(leaf, lo, lo + k, l);
	ref_mth(leaf, lo + k, hi, r);
	merkle_node_hash(l, r, out);
}

static void ref_path(uint8_t (*leaf)[H], uint64_t m, uint64_t lo, uint64_t hi,
		     uint8_t path[][H], size_t *len)
{
	if (hi - lo == 1)
		return;
	uint64_t k = ref_split(hi - lo);
	if (m < k) {
		ref_path(leaf, m, lo, lo + k, path, len);
		ref_mth(leaf, lo + k, hi, path[(*len)++]);
	} else {
		ref_path(leaf, m - k, lo + k, hi, path, len);
		ref_mth(leaf, lo, lo + k, path[(*len)++]);
	}
}

static void ref_subproof(uint8_t (*leaf)[H], uint64_t m, uint64_t lo, uint64_t hi,
			 int b, uint8_t path[][H], size_t *len)
{
	uint64_t n = hi - lo;
	if (m == n) {
		if (!b)
			ref_mth(leaf, lo, hi, path[(*len)++]);
		return;
	}
	uint64_t k = ref_split(n);
	if (m <= k) {
		ref_subproof(leaf, m, lo, lo + k, b, path, len);
		ref_mth(leaf, lo + k, hi, path[(*len)++]);
	} else {
		ref_subproof(leaf, m - k, lo + k, hi, 0, path, len);
		ref_mth(leaf, lo, lo + k, path[(*len)++]);
	}
}

static void ref_root(uint8_t (*leaf)[H], uint64_t n, uint8_t out[H])
{
	if (n == 0)
		merkle_empty_root(out);
	else
		ref_mth(leaf, 0, n, out);
}

static unsigned bitlen(uint64_t n)
{
	unsigned b = 0;
	while (n) {
		b++;
		n >>= 1;
	}
	return b;
}

/* ---- published vectors --------------------------------------------------- */

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s) / 2;
	assert_true(n <= max);
	for (size_t i = 0; i < n; i++) {
		char b[3] = { s[2 * i], s[2 * i + 1], 0 };
		out[i] = (uint8_t)strtoul(b, NULL, 16);
	}
	return n;
}

/*
 * RFC 6962 test data as published in google/certificate-transparency-go
 * merkletree/log_verifier_test.go and transparency-dev/merkle
 * proof/verify_test.go and testonly/constants.go (values only).
 */
static const char *const rfc_leaves[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};
static const char *const rfc_roots[8] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
static const char rfc_empty[] =
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct rfc_proof {
	uint64_t a, b; /* (leaf index, size) or (old size, new size) */
	size_t len;
	const char *hash[3];
};

/* The sources number leaves from 1; these indexes are 0-based. */
static const struct rfc_proof rfc_inclusion[] = {
	{ 0, 8, 3, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 5, 8, 3, { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		     "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 3, 1, { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" } },
	{ 1, 5, 3, { "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
	{ 0, 1, 0, { NULL } },
};

static const struct rfc_proof rfc_consistency[] = {
	{ 1, 1, 0, { NULL } },
	{ 1, 8, 3, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 6, 8, 3, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		     "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 5, 2, { "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
	{ 6, 7, 3, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
		     "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
};

/* A store holding the eight RFC leaves. */
static struct store *rfc_store(uint8_t roots[8][H])
{
	struct store *s = store_new();
	struct merkle_range r;
	uint8_t d[16];
	merkle_range_init(&r);
	for (unsigned i = 0; i < 8; i++) {
		size_t n = unhex(rfc_leaves[i], d, sizeof(d));
		merkle_leaf_hash(n ? d : NULL, n, s->leaf[i]);
		assert_int_equal(merkle_range_append(&r, s->leaf[i], store_put, s), 0);
		merkle_range_root(&r, roots[i]);
	}
	s->limit = 8;
	return s;
}

static void test_rfc_roots(void **state)
{
	uint8_t roots[8][H], want[H];
	(void)state;
	struct store *s = rfc_store(roots);
	for (unsigned i = 0; i < 8; i++) {
		unhex(rfc_roots[i], want, H);
		assert_memory_equal(roots[i], want, H);
		s->limit = i + 1;
		assert_int_equal(merkle_subtree_root(0, i + 1, store_get, s, roots[i]), 0);
		assert_memory_equal(roots[i], want, H);
	}
	unhex(rfc_empty, want, H);
	merkle_empty_root(roots[0]);
	assert_memory_equal(roots[0], want, H);
	group_teardown((void **)&s);
}

static void test_rfc_inclusion(void **state)
{
	uint8_t roots[8][H], want[3][H], got[MERKLE_MAX_PATH][H];
	size_t len;
	(void)state;
	struct store *s = rfc_store(roots);
	for (size_t v = 0; v < sizeof(rfc_inclusion) / sizeof(rfc_inclusion[0]); v++) {
		const struct rfc_proof *p = &rfc_inclusion[v];
		for (size_t j = 0; j < p->len; j++)
			unhex(p->hash[j], want[j], H);
		s->limit = p->b;
		assert_int_equal(merkle_inclusion_proof(p->a, p->b, store_get, s, got, &len), 0);
		assert_int_equal(len, p->len);
		if (len)
			assert_memory_equal(got, want, len * H);
		assert_int_equal(merkle_verify_inclusion(p->a, p->b, s->leaf[p->a],
							 (const uint8_t (*)[H])want,
							 p->len, roots[p->b - 1]), 0);
	}
	group_teardown((void **)&s);
}

static void test_rfc_consistency(void **state)
{
	uint8_t roots[8][H], want[3][H], got[MERKLE_MAX_PATH][H];
	size_t len;
	(void)state;
	struct store *s = rfc_store(roots);
	for (size_t v = 0; v < sizeof(rfc_consistency) / sizeof(rfc_consistency[0]); v++) {
		const struct rfc_proof *p = &rfc_consistency[v];
		for (size_t j = 0; j < p->len; j++)
			unhex(p->hash[j], want[j], H);
		s->limit = p->b;
		assert_int_equal(merkle_consistency_proof(p->a, p->b, store_get, s, got, &len), 0);
		assert_int_equal(len, p->len);
		if (len)
			assert_memory_equal(got, want, len * H);
		assert_int_equal(merkle_verify_consistency(p->a, p->b, roots[p->a - 1],
							   roots[p->b - 1],
							   (const uint8_t (*)[H])want,
							   p->len), 0);
	}
	group_teardown((void **)&s);
}

/* ---- roots, appends, loads ---------------------------------------------- */

static void test_append_roots(void **state)
{
	struct store *s = *state;
	struct merkle_range r;
	uint8_t got[H], want[H];
	merkle_range_init(&r);
	merkle_range_root(&r, got);
	ref_root(s->leaf, 0, want);
	assert_memory_equal(got, want, H);
	for (uint64_t n = 1; n <= 130; n++) {
		assert_int_equal(merkle_range_append(&r, s->leaf[n - 1], NULL, NULL), 0);
		assert_int_equal(r.size, n);
		assert_int_equal(r.count, (unsigned)__builtin_popcountll(n));
		merkle_range_root(&r, got);
		ref_root(s->leaf, n, want);
		if (memcmp(got, want, H))
			fail_msg("root of %llu leaves", (unsigned long long)n);
		s->limit = n;
		assert_int_equal(merkle_subtree_root(0, n, store_get, s, got), 0);
		assert_memory_equal(got, want, H);
	}
	s->limit = NMAX;
}

struct put_log {
	struct store *s;
	unsigned n;
	unsigned level[MERKLE_MAX_LEVELS];
	uint64_t index[MERKLE_MAX_LEVELS];
};

static int log_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[H])
{
	struct put_log *p = ctx;
	uint8_t want[H];
	assert_true(p->n < MERKLE_MAX_LEVELS);
	p->level[p->n] = level;
	p->index[p->n++] = index;
	ref_mth(p->s->leaf, index << level, (index + 1) << level, want);
	assert_memory_equal(h, want, H);
	return 0;
}

/* Every completed perfect node is put once, with the right hash, in
 * increasing level order. */
static void test_append_puts(void **state)
{
	struct put_log p = { .s = *state };
	struct merkle_range r;
	merkle_range_init(&r);
	for (uint64_t s = 0; s < 300; s++) {
		p.n = 0;
		assert_int_equal(merkle_range_append(&r, p.s->leaf[s], log_put, &p), 0);
		unsigned trailing = (unsigned)__builtin_ctzll(~s);
		assert_int_equal(p.n, trailing + 1);
		for (unsigned j = 0; j < p.n; j++) {
			assert_int_equal(p.level[j], j);
			assert_int_equal(p.index[j], s >> j);
		}
	}
}

static void test_range_load(void **state)
{
	struct store *s = *state;
	struct merkle_range r, l;
	merkle_range_init(&r);
	for (uint64_t n = 0; n <= NMAX; n++) {
		s->limit = n;
		s->reads = 0;
		assert_int_equal(merkle_range_load(&l, n, store_get, s), 0);
		assert_int_equal(s->reads, (unsigned)__builtin_popcountll(n));
		assert_int_equal(l.size, r.size);
		assert_int_equal(l.count, r.count);
		if (r.count && memcmp(l.hash, r.hash, r.count * H))
			fail_msg("load of %llu leaves", (unsigned long long)n);
		if (n < NMAX)
			assert_int_equal(merkle_range_append(&r, s->leaf[n], NULL, NULL), 0);
	}
	s->limit = NMAX;
}

/* MTH of every range inside the first 40 leaves, aligned or not. */
static void test_subtree_root(void **state)
{
	struct store *s = *state;
	uint8_t got[H], want[H];
	for (uint64_t lo = 0; lo < 40; lo++) {
		for (uint64_t hi = lo + 1; hi <= 40; hi++) {
			assert_int_equal(merkle_subtree_root(lo, hi, store_get, s, got), 0);
			ref_mth(s->leaf, lo, hi, want);
			if (memcmp(got, want, H))
				fail_msg("mth [%llu, %llu)", (unsigned long long)lo,
					 (unsigned long long)hi);
		}
	}
	assert_int_equal(merkle_subtree_root(5, 5, store_get, s, got), KURA_EINVAL);
	assert_int_equal(merkle_subtree_root(6, 5, store_get, s, got), KURA_EINVAL);
}

/* ---- inclusion ----------------------------------------------------------- */

static int incl(uint64_t i, uint64_t n, const uint8_t leaf[H], uint8_t path[][H],
		size_t len, const uint8_t root[H])
{
	return merkle_verify_inclusion(i, n, leaf, (const uint8_t (*)[H])path, len, root);
}

static void flip_bits(uint64_t i, uint64_t n, const uint8_t leaf[H], uint8_t path[][H],
		      size_t len, const uint8_t root[H])
{
	for (size_t j = 0; j < len; j++) {
		for (unsigned bit = 0; bit < 8 * H; bit++) {
			/* Every bit for small trees, three per hash above. */
			if (n > 16 && bit != 0 && bit != 8 * H - 1 && bit != (7 * j + 3) % (8 * H))
				continue;
			path[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (incl(i, n, leaf, path, len, root) == 0)
				fail_msg("bit %u of hash %zu accepted (%llu/%llu)", bit, j,
					 (unsigned long long)i, (unsigned long long)n);
			path[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	}
}

/* path has room for len + 1 hashes. */
static void bad_paths(uint64_t i, uint64_t n, const uint8_t leaf[H], uint8_t path[][H],
		      size_t len, const uint8_t root[H])
{
	uint8_t copy[MERKLE_MAX_PATH + 1][H];
	memcpy(copy, path, len * H);
	if (len) {
		assert_int_not_equal(incl(i, n, leaf, path, len - 1, root), 0);
		assert_int_not_equal(incl(i, n, leaf, path + 1, len - 1, root), 0);
	}
	memset(copy[len], 0, H);
	assert_int_not_equal(incl(i, n, leaf, copy, len + 1, root), 0);
	memcpy(copy[len], root, H);
	assert_int_not_equal(incl(i, n, leaf, copy, len + 1, root), 0);
	memmove(copy[1], copy[0], len * H);
	memcpy(copy[0], leaf, H);
	assert_int_not_equal(incl(i, n, leaf, copy, len + 1, root), 0);
	memset(copy[0], 0, H);
	assert_int_not_equal(incl(i, n, leaf, copy, len + 1, root), 0);
}

/* Wrong sizes as in bad_consistency: only those of another height. */
static void bad_inclusion(uint64_t i, uint64_t n, const uint8_t leaf[H],
			  uint8_t path[][H], size_t len, const uint8_t root[H])
{
	uint8_t other[H];
	const uint64_t idx[] = { i ? i - 1 : UINT64_MAX, i + 1, i ^ 1, i ^ 2,
				 n, n + 1, UINT64_MAX };
	const uint64_t size[] = { 2 * n, n / 2, 0, UINT64_MAX };
	for (size_t k = 0; k < sizeof(idx) / sizeof(idx[0]); k++)
		if (idx[k] != i)
			assert_int_not_equal(incl(idx[k], n, leaf, path, len, root), 0);
	for (size_t k = 0; k < sizeof(size) / sizeof(size[0]); k++)
		if (size[k] != n)
			assert_int_not_equal(incl(i, size[k], leaf, path, len, root), 0);
	memcpy(other, leaf, H);
	other[H - 1] ^= 1;
	assert_int_not_equal(incl(i, n, other, path, len, root), 0);
	assert_int_not_equal(incl(i, n, leaf, path, len, other), 0);
	flip_bits(i, n, leaf, path, len, root);
	bad_paths(i, n, leaf, path, len, root);
}

static void check_inclusion(struct store *s, uint64_t i, uint64_t n)
{
	uint8_t got[MERKLE_MAX_PATH + 1][H], want[MERKLE_MAX_PATH][H], root[H];
	size_t len = 99, wlen = 0;
	s->limit = n;
	s->reads = 0;
	assert_int_equal(merkle_inclusion_proof(i, n, store_get, s, got, &len), 0);
	assert_true(s->reads <= 2 * bitlen(n) + 1);
	ref_path(s->leaf, i, 0, n, want, &wlen);
	ref_root(s->leaf, n, root);
	if (len != wlen || (len && memcmp(got, want, len * H)))
		fail_msg("inclusion %llu/%llu", (unsigned long long)i, (unsigned long long)n);
	if (incl(i, n, s->leaf[i], got, len, root) != 0)
		fail_msg("inclusion %llu/%llu does not verify", (unsigned long long)i,
			 (unsigned long long)n);
	bad_inclusion(i, n, s->leaf[i], got, len, root);
}

static void test_inclusion_all(void **state)
{
	struct store *s = *state;
	for (uint64_t n = 1; n <= 130; n++)
		for (uint64_t i = 0; i < n; i++)
			check_inclusion(s, i, n);
	const uint64_t big[] = { 255, 256, 257, 1000, 1023, 1024, 1025, NMAX };
	for (size_t b = 0; b < sizeof(big) / sizeof(big[0]); b++)
		for (uint64_t i = 0; i < big[b]; i += 1 + i / 3)
			check_inclusion(s, i, big[b]);
	s->limit = NMAX;
}

static void test_inclusion_invalid(void **state)
{
	struct store *s = *state;
	uint8_t path[MERKLE_MAX_PATH][H], root[H];
	size_t len = 7;
	assert_int_equal(merkle_inclusion_proof(0, 0, store_get, s, path, &len), KURA_EINVAL);
	assert_int_equal(len, 0);
	assert_int_equal(merkle_inclusion_proof(5, 5, store_get, s, path, &len), KURA_EINVAL);
	assert_int_equal(merkle_inclusion_proof(0, MERKLE_MAX_SIZE + 1, store_get, s, path,
						&len), KURA_EINVAL);
	merkle_empty_root(root);
	assert_int_equal(incl(0, 0, root, path, 0, root), KURA_EINVAL);
	assert_int_equal(incl(1, 1, root, path, 0, root), KURA_EINVAL);
	assert_int_equal(incl(UINT64_MAX, UINT64_MAX, root, path, 0, root), KURA_EINVAL);
	/* One leaf: the leaf is the root and the path is empty. */
	assert_int_equal(incl(0, 1, s->leaf[0], path, 0, s->leaf[0]), 0);
	assert_int_not_equal(incl(0, 1, s->leaf[0], path, 0, root), 0);
	memset(path, 0, sizeof(path));
	assert_int_not_equal(incl(0, 1, s->leaf[0], path, 1, s->leaf[0]), 0);
	/* A path longer than any tree is high stops at the height. */
	assert_int_not_equal(incl(0, UINT64_MAX, root, path, MERKLE_MAX_PATH, root), 0);
}

/* ---- consistency ----------------------------------------------------------- */

static int cons(uint64_t m, uint64_t n, const uint8_t r1[H], const uint8_t r2[H],
		uint8_t path[][H], size_t len)
{
	return merkle_verify_consistency(m, n, r1, r2, (const uint8_t (*)[H])path, len);
}

static void cons_flip_bits(uint64_t m, uint64_t n, const uint8_t r1[H],
			   const uint8_t r2[H], uint8_t path[][H], size_t len)
{
	for (size_t j = 0; j < len; j++) {
		for (unsigned bit = 0; bit < 8 * H; bit++) {
			if (n > 16 && bit != 0 && bit != 8 * H - 1 && bit != (5 * j + 1) % (8 * H))
				continue;
			path[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (cons(m, n, r1, r2, path, len) == 0)
				fail_msg("bit %u of hash %zu accepted (%llu->%llu)", bit, j,
					 (unsigned long long)m, (unsigned long long)n);
			path[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	}
}

static void cons_bad_paths(uint64_t m, uint64_t n, const uint8_t r1[H],
			   const uint8_t r2[H], uint8_t path[][H], size_t len)
{
	uint8_t copy[MERKLE_MAX_PATH + 1][H], x[H];
	const uint8_t *extra[] = { NULL, r1, r2, path[0] };
	assert_int_not_equal(cons(m, n, r1, r2, path, 0), 0);
	assert_int_not_equal(cons(m, n, r1, r2, path, len - 1), 0);
	assert_int_not_equal(cons(m, n, r1, r2, path + 1, len - 1), 0);
	for (size_t e = 0; e < sizeof(extra) / sizeof(extra[0]); e++) {
		if (extra[e])
			memcpy(x, extra[e], H);
		else
			memset(x, 0, H);
		/* Appended, then prepended. */
		memcpy(copy, path, len * H);
		memcpy(copy[len], x, H);
		assert_int_not_equal(cons(m, n, r1, r2, copy, len + 1), 0);
		memcpy(copy[1], path, len * H);
		memcpy(copy[0], x, H);
		assert_int_not_equal(cons(m, n, r1, r2, copy, len + 1), 0);
	}
}

/*
 * Probes after transparency-dev/merkle's corruptConsistencyProof.  Only
 * sizes that change the tree's height are wrong for certain: a proof binds
 * the shape of the tree, not its exact size (1 -> 3 and 1 -> 4 have the
 * same proof), which is why the size must come from a signed tree head.
 */
static void bad_consistency(uint64_t m, uint64_t n, const uint8_t r1[H],
			    const uint8_t r2[H], uint8_t path[][H], size_t len)
{
	uint8_t other[H];
	const uint64_t old[] = { m - 1, m + 1, m ^ 2, 0, n + 1 };
	const uint64_t size[] = { 2 * n, n / 2, m, 0 };
	for (size_t k = 0; k < sizeof(old) / sizeof(old[0]); k++)
		if (old[k] != m)
			assert_int_not_equal(cons(old[k], n, r1, r2, path, len), 0);
	for (size_t k = 0; k < sizeof(size) / sizeof(size[0]); k++)
		if (size[k] != n)
			assert_int_not_equal(cons(m, size[k], r1, r2, path, len), 0);
	memcpy(other, r1, H);
	other[0] ^= 0x80;
	assert_int_not_equal(cons(m, n, other, r2, path, len), 0);
	assert_int_not_equal(cons(m, n, r1, other, path, len), 0);
	assert_int_not_equal(cons(m, n, r2, r1, path, len), 0);
	cons_flip_bits(m, n, r1, r2, path, len);
	cons_bad_paths(m, n, r1, r2, path, len);
}

static void check_consistency(struct store *s, uint64_t m, uint64_t n)
{
	uint8_t got[MERKLE_MAX_PATH + 1][H], want[MERKLE_MAX_PATH][H], r1[H], r2[H];
	size_t len = 99, wlen = 0;
	s->limit = n;
	s->reads = 0;
	assert_int_equal(merkle_consistency_proof(m, n, store_get, s, got, &len), 0);
	assert_true(s->reads <= 2 * bitlen(n) + 1);
	if (m != n)
		ref_subproof(s->leaf, m, 0, n, 1, want, &wlen);
	ref_root(s->leaf, m, r1);
	ref_root(s->leaf, n, r2);
	if (len != wlen || (len && memcmp(got, want, len * H)))
		fail_msg("consistency %llu->%llu", (unsigned long long)m, (unsigned long long)n);
	if (cons(m, n, r1, r2, got, len) != 0)
		fail_msg("consistency %llu->%llu does not verify", (unsigned long long)m,
			 (unsigned long long)n);
	if (m != n)
		bad_consistency(m, n, r1, r2, got, len);
}

static void test_consistency_all(void **state)
{
	struct store *s = *state;
	for (uint64_t n = 1; n <= 70; n++)
		for (uint64_t m = 1; m <= n; m++)
			check_consistency(s, m, n);
	const uint64_t big[] = { 127, 128, 129, 255, 256, 257, 511, 512, 513,
				 1000, 1023, 1024, 1025, NMAX };
	for (size_t b = 0; b < sizeof(big) / sizeof(big[0]); b++) {
		for (uint64_t m = 1; m <= big[b]; m += 1 + m / 4)
			check_consistency(s, m, big[b]);
		check_consistency(s, big[b] - 1, big[b]);
	}
	s->limit = NMAX;
}

static void test_consistency_trivial(void **state)
{
	struct store *s = *state;
	uint8_t path[MERKLE_MAX_PATH][H], empty[H], r1[H], r2[H];
	size_t len = 7;
	s->reads = 0;
	assert_int_equal(merkle_consistency_proof(0, 5, store_get, s, path, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(merkle_consistency_proof(0, 0, store_get, s, path, &len), 0);
	assert_int_equal(merkle_consistency_proof(9, 9, store_get, s, path, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(s->reads, 0);
	assert_int_equal(merkle_consistency_proof(6, 5, store_get, s, path, &len), KURA_EINVAL);
	assert_int_equal(merkle_consistency_proof(1, MERKLE_MAX_SIZE + 1, store_get, s, path,
						  &len), KURA_EINVAL);
	merkle_empty_root(empty);
	ref_root(s->leaf, 5, r1);
	ref_root(s->leaf, 6, r2);
	memset(path, 0, sizeof(path));
	/* From the empty tree: only the empty root, only the empty path. */
	assert_int_equal(cons(0, 6, empty, r2, path, 0), 0);
	assert_int_equal(cons(0, 0, empty, empty, path, 0), 0);
	assert_int_not_equal(cons(0, 6, r1, r2, path, 0), 0);
	assert_int_not_equal(cons(0, 6, empty, r2, path, 1), 0);
	/* Same size: equal roots, empty path. */
	assert_int_equal(cons(5, 5, r1, r1, path, 0), 0);
	assert_int_not_equal(cons(5, 5, r1, r2, path, 0), 0);
	assert_int_not_equal(cons(5, 5, r1, r1, path, 1), 0);
	memcpy(path[0], r1, H);
	assert_int_not_equal(cons(5, 5, r1, r1, path, 1), 0);
	/* Backwards, and a missing proof. */
	assert_int_equal(cons(6, 5, r2, r1, path, 0), KURA_EINVAL);
	assert_int_equal(cons(UINT64_MAX, 0, r2, r1, path, 0), KURA_EINVAL);
	assert_int_not_equal(cons(5, 6, r1, r2, path, 0), 0);
	assert_int_not_equal(cons(1, UINT64_MAX, r1, r2, path, MERKLE_MAX_PATH), 0);
}

/* ---- failing callbacks ----------------------------------------------------- */

static void test_callback_errors(void **state)
{
	struct store *s = *state;
	uint8_t path[MERKLE_MAX_PATH][H], out[H], zero[H] = { 0 };
	struct merkle_range r;
	size_t len;
	s->limit = NMAX;
	for (int k = 0; k < 4; k++) {
		s->fail_after = k;
		s->calls = 0;
		len = 7;
		assert_int_equal(merkle_inclusion_proof(3, 1000, store_get, s, path, &len),
				 KURA_EIO);
		assert_int_equal(len, 0);
		s->calls = 0;
		assert_int_equal(merkle_consistency_proof(3, 1000, store_get, s, path, &len),
				 KURA_EIO);
		assert_int_equal(len, 0);
		s->calls = 0;
		assert_int_equal(merkle_range_load(&r, 1000, store_get, s), KURA_EIO);
		assert_int_equal(r.size, 0);
		assert_int_equal(r.count, 0);
		s->calls = 0;
		assert_int_equal(merkle_subtree_root(0, 1000, store_get, s, out), KURA_EIO);
		assert_memory_equal(out, zero, H);
	}
	s->fail_after = -1;
}

/* A failed put leaves the range as it was, at every level. */
static void test_put_errors(void **state)
{
	struct store *s = *state;
	uint8_t out[H], zero[H] = { 0 };
	struct merkle_range r, before;
	s->limit = NMAX;
	s->fail_after = -1;
	assert_int_equal(merkle_range_load(&r, 1023, store_get, s), 0);
	before = r;
	for (int k = 0; k <= 10; k++) {
		s->fail_after = k;
		s->calls = 0;
		/* Writes leaf 1023 and the nodes it completes: the same hashes. */
		assert_int_equal(merkle_range_append(&r, s->leaf[1023], store_put, s), KURA_EIO);
		assert_memory_equal(&r, &before, sizeof(r));
	}
	s->fail_after = -1;
	assert_int_equal(merkle_range_append(&r, s->leaf[1023], store_put, s), 0);
	assert_int_equal(r.size, 1024);
	assert_int_equal(r.count, 1);
	/* An inconsistent range is refused and has no root. */
	r.count = 3;
	assert_int_equal(merkle_range_append(&r, s->leaf[0], NULL, NULL), KURA_EINVAL);
	merkle_range_root(&r, out);
	assert_memory_equal(out, zero, H);
}

/* ---- trees too big to store: every leaf the same ----------------------------- */

/* With identical leaves the perfect node at level L is the same for every
 * index, so trees of up to 2^63 leaves fit in 64 hashes. */
struct uniform {
	uint8_t node[64][H];
	uint64_t limit;
	unsigned reads;
};

static int uniform_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
	struct uniform *u = ctx;
	if (level >= 64 || index >= (u->limit >> level))
		fail_msg("get(%u, %llu) outside a tree of %llu", level,
			 (unsigned long long)index, (unsigned long long)u->limit);
	u->reads++;
	memcpy(out, u->node[level], H);
	return 0;
}

static void uniform_root(struct uniform *u, uint64_t n, uint8_t out[H])
{
	struct merkle_range r;
	u->limit = n;
	assert_int_equal(merkle_range_load(&r, n, uniform_get, u), 0);
	merkle_range_root(&r, out);
}

static void check_huge(struct uniform *u, uint64_t m, uint64_t n)
{
	uint8_t path[MERKLE_MAX_PATH][H], r1[H], r2[H];
	size_t len;
	uniform_root(u, m, r1);
	uniform_root(u, n, r2);
	u->reads = 0;
	assert_int_equal(merkle_consistency_proof(m, n, uniform_get, u, path, &len), 0);
	assert_true(len <= MERKLE_MAX_PATH && u->reads <= 2 * 64 + 1);
	assert_int_equal(cons(m, n, r1, r2, path, len), 0);
	if (m != n)
		assert_int_not_equal(cons(m - 1, n, r1, r2, path, len), 0);
	u->reads = 0;
	assert_int_equal(merkle_inclusion_proof(m - 1, n, uniform_get, u, path, &len), 0);
	assert_true(len <= 64 && u->reads <= 2 * 64 + 1);
	assert_int_equal(incl(m - 1, n, u->node[0], path, len, r2), 0);
	if (m != n)
		assert_int_not_equal(incl(m - 1, n, u->node[0], path, len, r1), 0);
}

static void test_huge_trees(void **state)
{
	struct uniform u;
	struct merkle_range r;
	size_t len;
	uint8_t path[MERKLE_MAX_PATH][H];
	const uint64_t top = MERKLE_MAX_SIZE;
	(void)state;
	merkle_leaf_hash((const uint8_t *)"x", 1, u.node[0]);
	for (unsigned l = 1; l < 64; l++)
		merkle_node_hash(u.node[l - 1], u.node[l - 1], u.node[l]);
	const uint64_t pairs[][2] = {
		{ 1, top }, { top - 1, top }, { top, top }, { 3, top - 1 },
		{ 12345, (top >> 1) + 12345 }, { (top >> 1) + 1, 3 * (top >> 2) + 7 },
		{ top - 2, top - 1 }, { 1, 2 },
	};
	for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++)
		check_huge(&u, pairs[p][0], pairs[p][1]);
	/* The longest consistency proof there is: all MERKLE_MAX_PATH hashes. */
	u.limit = top;
	assert_int_equal(merkle_consistency_proof(top - 1, top, uniform_get, &u, path, &len), 0);
	assert_int_equal(len, MERKLE_MAX_PATH);
	/* The tree stops growing at MERKLE_MAX_SIZE. */
	assert_int_equal(merkle_range_load(&r, top, uniform_get, &u), 0);
	assert_int_equal(merkle_range_append(&r, u.node[0], NULL, NULL), KURA_ETOOBIG);
	assert_int_equal(merkle_range_load(&r, top + 1, uniform_get, &u), KURA_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_roots),
		cmocka_unit_test(test_rfc_inclusion),
		cmocka_unit_test(test_rfc_consistency),
		cmocka_unit_test(test_append_roots),
		cmocka_unit_test(test_append_puts),
		cmocka_unit_test(test_range_load),
		cmocka_unit_test(test_subtree_root),
		cmocka_unit_test(test_inclusion_all),
		cmocka_unit_test(test_inclusion_invalid),
		cmocka_unit_test(test_consistency_all),
		cmocka_unit_test(test_consistency_trivial),
		cmocka_unit_test(test_callback_errors),
		cmocka_unit_test(test_put_errors),
		cmocka_unit_test(test_huge_trees),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
