/*
 * merkle.c - RFC 9162 Merkle tree hashing, compact ranges, proof generation
 * from stored perfect nodes, and proof verification (docs/internals/merkle.md).
 */
#include "ledger/merkle.h"

#include <string.h>

#include "util/err.h"
#include "util/banned.h"

#define HLEN KURA_HASH_LEN

static int is_pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

/* The largest power of two strictly below n (n >= 2): the RFC's split k. */
static uint64_t split_point(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

static int hash_eq(const uint8_t a[HLEN], const uint8_t b[HLEN])
{
	/* Roots and proofs are public, so memcmp's timing reveals nothing. */
	return memcmp(a, b, HLEN) == 0;
}

void merkle_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[KURA_HASH_LEN])
{
	static const uint8_t prefix = 0x00;
	kura_sha256_2(&prefix, 1, leaf, len, out);
}

void merkle_node_hash(const uint8_t left[KURA_HASH_LEN],
		      const uint8_t right[KURA_HASH_LEN], uint8_t out[KURA_HASH_LEN])
{
	static const uint8_t prefix = 0x01;
	uint8_t both[2 * HLEN];
	/* Copy first: out may alias left or right. */
	memcpy(both, left, HLEN);
	memcpy(both + HLEN, right, HLEN);
	kura_sha256_2(&prefix, 1, both, sizeof(both), out);
}

void merkle_empty_root(uint8_t out[KURA_HASH_LEN])
{
	kura_sha256("", 0, out);
}

/* ---- compact ranges ---------------------------------------------------- */

void merkle_range_init(struct merkle_range *r)
{
	memset(r, 0, sizeof(*r));
}

/* A range whose count disagrees with its size was damaged by its owner. */
static int range_ok(const struct merkle_range *r)
{
	return r->size <= MERKLE_MAX_SIZE &&
	       r->count == (unsigned)__builtin_popcountll(r->size);
}

int merkle_range_load(struct merkle_range *r, uint64_t size,
		      merkle_get_node_fn get, void *ctx)
{
	int err = KURA_EINVAL;
	uint64_t pos = 0;
	merkle_range_init(r);
	if (size > MERKLE_MAX_SIZE)
		goto out;
	/* One perfect subtree per set bit of size, largest first. */
	for (int level = 63; level >= 0; level--) {
		if (!((size >> level) & 1))
			continue;
		err = get(ctx, (unsigned)level, pos >> level, r->hash[r->count]);
		if (err)
			goto out;
		r->count++;
		pos += (uint64_t)1 << level;
	}
	r->size = size;
	err = 0;
out:
	if (err)
		merkle_range_init(r);
	return err;
}

int merkle_range_append(struct merkle_range *r, const uint8_t leaf_hash[KURA_HASH_LEN],
			merkle_put_node_fn put, void *ctx)
{
	uint8_t h[HLEN];
	uint64_t s = r->size;
	unsigned c = r->count;
	int err;
	if (!range_ok(r))
		return KURA_EINVAL;
	if (s == MERKLE_MAX_SIZE)
		return KURA_ETOOBIG;
	memcpy(h, leaf_hash, HLEN);
	if (put && (err = put(ctx, 0, s, h)))
		return err;
	/* Each trailing one bit of the old size is a subtree the new leaf
	 * completes; r is only written once every put has succeeded. */
	for (unsigned level = 0; (s >> level) & 1; level++) {
		c--;
		merkle_node_hash(r->hash[c], h, h);
		if (put && (err = put(ctx, level + 1, s >> (level + 1), h)))
			return err;
	}
	memcpy(r->hash[c], h, HLEN);
	r->count = c + 1;
	r->size = s + 1;
	return 0;
}

void merkle_range_root(const struct merkle_range *r, uint8_t out[KURA_HASH_LEN])
{
	if (!range_ok(r)) {
		/* Never a valid root, so a damaged range cannot verify anything. */
		memset(out, 0, HLEN);
		return;
	}
	if (r->count == 0) {
		merkle_empty_root(out);
		return;
	}
	memcpy(out, r->hash[r->count - 1], HLEN);
	for (unsigned i = r->count - 1; i > 0; i--)
		merkle_node_hash(r->hash[i - 1], out, out);
}

/* ---- subtree roots from stored nodes ----------------------------------- */

/*
 * RFC 9162 MTH(D[start:start+n]) by its own recursion: an aligned
 * power-of-two range is one stored node, anything else splits at k.  For
 * ranges of an RFC tree the left half is always a stored node, so only the
 * right half recurses and the reads stay O(log n).
 */
static int subtree(uint64_t start, uint64_t n, merkle_get_node_fn get, void *ctx,
		   uint8_t out[HLEN])
{
	uint8_t left[HLEN];
	if (is_pow2(n) && start % n == 0) {
		unsigned level = (unsigned)__builtin_ctzll(n);
		return get(ctx, level, start >> level, out);
	}
	uint64_t k = split_point(n);
	int err = subtree(start, k, get, ctx, left);
	if (!err)
		err = subtree(start + k, n - k, get, ctx, out);
	if (!err)
		merkle_node_hash(left, out, out);
	return err;
}

int merkle_subtree_root(uint64_t start, uint64_t end, merkle_get_node_fn get,
			void *ctx, uint8_t out[KURA_HASH_LEN])
{
	int err = KURA_EINVAL;
	memset(out, 0, HLEN);
	if (end <= start)
		goto out;
	err = subtree(start, end - start, get, ctx, out);
out:
	if (err)
		memset(out, 0, HLEN);
	return err;
}

/* ---- proof generation -------------------------------------------------- */

/*
 * The sibling of leaf index's ancestor at level: perfect when it lies left
 * of the ancestor or wholly below size; clipped at size otherwise (at most
 * once per path).  Returns 1 if the sibling is empty (the RFC promotes the
 * lone child instead), 0 when out holds its hash, or a negative error.
 */
static int sibling(uint64_t index, uint64_t size, unsigned level,
		   merkle_get_node_fn get, void *ctx, uint8_t out[HLEN])
{
	uint64_t start = ((index >> level) ^ 1) << level;
	uint64_t width = (uint64_t)1 << level;
	if (start >= size)
		return 1;
	if (size - start < width)
		width = size - start;
	return subtree(start, width, get, ctx, out);
}

int merkle_inclusion_proof(uint64_t index, uint64_t size, merkle_get_node_fn get,
			   void *ctx, uint8_t path[][KURA_HASH_LEN], size_t *ret_len)
{
	size_t n = 0;
	int err = KURA_EINVAL;
	*ret_len = 0;
	if (index >= size || size > MERKLE_MAX_SIZE)
		goto out;
	/* Walk up from the leaf until one node covers [0, size). */
	for (unsigned level = 0; ((size - 1) >> level) != 0; level++) {
		err = sibling(index, size, level, get, ctx, path[n]);
		if (err < 0)
			goto out;
		if (err == 0)
			n++;
	}
	*ret_len = n;
	err = 0;
out:
	return err;
}

static void reverse(uint8_t path[][HLEN], size_t n)
{
	uint8_t t[HLEN];
	for (size_t i = 0; i < n / 2; i++) {
		memcpy(t, path[i], HLEN);
		memcpy(path[i], path[n - 1 - i], HLEN);
		memcpy(path[n - 1 - i], t, HLEN);
	}
}

/*
 * RFC 9162 §2.1.4.1 SUBPROOF unrolled: walk down from the root, noting the
 * subtree each step leaves behind; the RFC lists them deepest first, so the
 * notes are reversed at the end.  Only the first right-hand note can be a
 * non-perfect subtree, so the reads stay O(log n).
 */
static int subproof(uint64_t m, uint64_t n, merkle_get_node_fn get, void *ctx,
		    uint8_t path[][HLEN], size_t *ret_len)
{
	uint64_t a = 0;
	size_t len = 0;
	int complete = 1, err = 0;
	while (m != n && !err) {
		uint64_t k = split_point(n);
		if (len >= MERKLE_MAX_PATH - 1)
			return KURA_EINTERNAL; /* impossible for n <= MERKLE_MAX_SIZE */
		if (m <= k) {
			err = subtree(a + k, n - k, get, ctx, path[len++]);
			n = k;
		} else {
			err = subtree(a, k, get, ctx, path[len++]);
			a += k, m -= k, n -= k, complete = 0;
		}
	}
	if (!err && !complete)
		err = subtree(a, n, get, ctx, path[len++]);
	if (!err) {
		reverse(path, len);
		*ret_len = len;
	}
	return err;
}

int merkle_consistency_proof(uint64_t old_size, uint64_t new_size,
			     merkle_get_node_fn get, void *ctx,
			     uint8_t path[][KURA_HASH_LEN], size_t *ret_len)
{
	int err = KURA_EINVAL;
	*ret_len = 0;
	if (old_size > new_size || new_size > MERKLE_MAX_SIZE)
		goto out;
	err = 0;
	/* Both trivial cases have the empty proof (see merkle.h). */
	if (old_size == 0 || old_size == new_size)
		goto out;
	err = subproof(old_size, new_size, get, ctx, path, ret_len);
out:
	return err;
}

/* ---- verification ------------------------------------------------------ */

/*
 * One iteration of the loops in RFC 9162 §2.1.3.2 step 4 and §2.1.4.2
 * step 6: fold c into sr (and into fr, when given, for a left sibling).
 * Returns -1 when the path is longer than the tree is high.
 */
static int chain_step(uint64_t *fn, uint64_t *sn, const uint8_t c[HLEN],
		      uint8_t *fr, uint8_t sr[HLEN])
{
	if (*sn == 0)
		return -1;
	if ((*fn & 1) || *fn == *sn) {
		if (fr)
			merkle_node_hash(c, fr, fr);
		merkle_node_hash(c, sr, sr);
		while (!(*fn & 1) && *fn != 0) {
			*fn >>= 1;
			*sn >>= 1;
		}
	} else {
		merkle_node_hash(sr, c, sr);
	}
	*fn >>= 1;
	*sn >>= 1;
	return 0;
}

int merkle_verify_inclusion(uint64_t index, uint64_t size,
			    const uint8_t leaf_hash[KURA_HASH_LEN],
			    const uint8_t path[][KURA_HASH_LEN], size_t path_len,
			    const uint8_t root[KURA_HASH_LEN])
{
	uint8_t r[HLEN];
	uint64_t fn, sn;
	if (index >= size)
		return KURA_EINVAL;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, HLEN);
	for (size_t i = 0; i < path_len; i++)
		if (chain_step(&fn, &sn, path[i], NULL, r))
			return KURA_EVERIFY;
	/* sn != 0 means the path was too short for the tree. */
	return sn == 0 && hash_eq(r, root) ? 0 : KURA_EVERIFY;
}

/* The cases RFC 9162 leaves out: old_size 0 and old_size == new_size. */
static int verify_trivial(uint64_t old_size, const uint8_t old_root[HLEN],
			  const uint8_t new_root[HLEN], size_t path_len)
{
	uint8_t empty[HLEN];
	if (path_len != 0)
		return KURA_EVERIFY;
	if (old_size == 0) {
		merkle_empty_root(empty);
		return hash_eq(old_root, empty) ? 0 : KURA_EVERIFY;
	}
	return hash_eq(old_root, new_root) ? 0 : KURA_EVERIFY;
}

int merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
			      const uint8_t old_root[KURA_HASH_LEN],
			      const uint8_t new_root[KURA_HASH_LEN],
			      const uint8_t path[][KURA_HASH_LEN], size_t path_len)
{
	uint8_t fr[HLEN], sr[HLEN];
	uint64_t fn, sn;
	size_t i = 0;
	if (old_size > new_size)
		return KURA_EINVAL;
	if (old_size == 0 || old_size == new_size)
		return verify_trivial(old_size, old_root, new_root, path_len);
	if (path_len == 0)
		return KURA_EVERIFY;
	fn = old_size - 1;
	sn = new_size - 1;
	/* Step 2 prepends old_root when old_size is a power of two; start
	 * from it instead of copying the path. */
	memcpy(fr, is_pow2(old_size) ? old_root : path[i++], HLEN);
	memcpy(sr, fr, HLEN);
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < path_len; i++)
		if (chain_step(&fn, &sn, path[i], fr, sr))
			return KURA_EVERIFY;
	return sn == 0 && hash_eq(fr, old_root) && hash_eq(sr, new_root) ?
		       0 : KURA_EVERIFY;
}
