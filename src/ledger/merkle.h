/*
 * merkle.h - RFC 9162 (Certificate Transparency 2.0) Merkle tree math.
 *
 * Pure functions: no storage, no allocation.  Hashing is SHA-256 with the
 * RFC's domain separation:
 *   leaf hash  = SHA-256(0x00 || leaf bytes)
 *   node hash  = SHA-256(0x01 || left || right)
 *   empty tree = SHA-256("")
 *
 * Storage model.  A "perfect node" (level L, index i) is the root of the
 * complete subtree over leaves [i * 2^L, (i+1) * 2^L); level 0 nodes are leaf
 * hashes.  Perfect nodes never change once their leaves exist, so the ledger
 * stores them, and every proof below is computed from O(log n) of them
 * fetched through a merkle_get_node_fn.
 *
 * Errors: KURA_EINVAL for impossible arguments (index >= size, ...),
 * KURA_EVERIFY when a proof does not verify, or whatever the callback returns.
 * Callers must treat any nonzero result of a verify function as "not proven".
 * See docs/internals/merkle.md.
 */
#ifndef KURA_LEDGER_MERKLE_H
#define KURA_LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

/* Enough for any tree of up to 2^63 leaves. */
#define MERKLE_MAX_PATH 64
#define MERKLE_MAX_LEVELS 64
/* The largest tree kura builds or proves: a consistency proof in a bigger
 * tree can need 65 hashes.  Appends stop here with KURA_ETOOBIG; proof
 * generation and merkle_range_load refuse bigger sizes with KURA_EINVAL. */
#define MERKLE_MAX_SIZE ((uint64_t)1 << 63)

/* SHA-256(0x00 || leaf); leaf may be NULL when len is 0. */
void merkle_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[KURA_HASH_LEN]);
/* SHA-256(0x01 || left || right); out may alias left or right. */
void merkle_node_hash(const uint8_t left[KURA_HASH_LEN],
		      const uint8_t right[KURA_HASH_LEN], uint8_t out[KURA_HASH_LEN]);
/* SHA-256 of the empty string, the root of the tree of size 0. */
void merkle_empty_root(uint8_t out[KURA_HASH_LEN]);

/* Fetch the perfect node (level, index); return 0 or a negative KURA_E*.
 * The functions below only ask for nodes whose leaves are all below the
 * size they were given. */
typedef int (*merkle_get_node_fn)(void *ctx, unsigned level, uint64_t index,
				  uint8_t out[KURA_HASH_LEN]);
/* Called for every perfect node that an append completes (level >= 0);
 * a nonzero return aborts the append and is passed back. */
typedef int (*merkle_put_node_fn)(void *ctx, unsigned level, uint64_t index,
				  const uint8_t hash[KURA_HASH_LEN]);

/*
 * A compact range: the roots of the perfect subtrees that make up leaves
 * [0, size), largest first (one per set bit of size).  It is all that is
 * needed to append and to compute the root.
 */
struct merkle_range {
	uint64_t size;
	unsigned count; /* number of entries used in hash[] */
	uint8_t hash[MERKLE_MAX_LEVELS][KURA_HASH_LEN];
};

/* The empty range (size 0). */
void merkle_range_init(struct merkle_range *r);
/* Rebuild the compact range of a tree of the given size from stored nodes:
 * one read per set bit of size.  On error r is left empty.  KURA_EINVAL if
 * size > MERKLE_MAX_SIZE, or the callback's error. */
int merkle_range_load(struct merkle_range *r, uint64_t size,
		      merkle_get_node_fn get, void *ctx);
/* Append one leaf hash; put (may be NULL) is called with the leaf (level 0)
 * and every perfect node it completes, in increasing level order.  r is
 * changed only on success, so a failed put leaves it as it was (the nodes
 * already put are the caller's to roll back).  KURA_EINVAL if r is
 * inconsistent (count is not the number of set bits of size), KURA_ETOOBIG
 * at MERKLE_MAX_SIZE, or put's error. */
int merkle_range_append(struct merkle_range *r, const uint8_t leaf_hash[KURA_HASH_LEN],
			merkle_put_node_fn put, void *ctx);
/* The RFC 9162 root of the tree (merkle_empty_root for size 0).  An
 * inconsistent r gives all zero bytes, which no proof verifies against. */
void merkle_range_root(const struct merkle_range *r, uint8_t out[KURA_HASH_LEN]);

/*
 * MTH over leaves [start, end) from stored perfect nodes (end > start;
 * KURA_EINVAL otherwise).  O(log n) reads when start is a multiple of the
 * largest power of two below end - start -- true of every subtree of an RFC
 * 9162 tree and of every range starting at 0.  Other ranges are computed
 * correctly but may read up to end - start leaf hashes: do not pass them
 * from untrusted input.  out is zeroed on error.
 */
int merkle_subtree_root(uint64_t start, uint64_t end, merkle_get_node_fn get,
			void *ctx, uint8_t out[KURA_HASH_LEN]);

/* RFC 9162 §2.1.3 inclusion proof of leaf index in a tree of size leaves,
 * deepest sibling first, from O(log size) reads.  path must hold
 * MERKLE_MAX_PATH hashes; *ret_len is set to the count (0 on error).
 * KURA_EINVAL if index >= size or size > MERKLE_MAX_SIZE. */
int merkle_inclusion_proof(uint64_t index, uint64_t size, merkle_get_node_fn get,
			   void *ctx, uint8_t path[][KURA_HASH_LEN], size_t *ret_len);
/* RFC 9162 §2.1.4 consistency proof between sizes old_size <= new_size,
 * from O(log new_size) reads; path and *ret_len as above.  The proof is
 * empty when old_size is 0 or equals new_size (no reads).  KURA_EINVAL if
 * old_size > new_size or new_size > MERKLE_MAX_SIZE. */
int merkle_consistency_proof(uint64_t old_size, uint64_t new_size,
			     merkle_get_node_fn get, void *ctx,
			     uint8_t path[][KURA_HASH_LEN], size_t *ret_len);

/* RFC 9162 §2.1.3.2: 0 if leaf_hash at index is in the tree with root.
 * KURA_EINVAL if index >= size (so size 0 proves nothing), KURA_EVERIFY for
 * a wrong hash or a path too long or too short for (index, size). */
int merkle_verify_inclusion(uint64_t index, uint64_t size,
			    const uint8_t leaf_hash[KURA_HASH_LEN],
			    const uint8_t path[][KURA_HASH_LEN], size_t path_len,
			    const uint8_t root[KURA_HASH_LEN]);
/*
 * RFC 9162 §2.1.4.2: 0 if the tree with new_root extends the one with
 * old_root.  The RFC defines proofs only for 0 < old_size < new_size; kura
 * also accepts, with an empty path only:
 *   old_size == new_size: when old_root equals new_root (RFC 6962's
 *     SUBPROOF(m, D[m], true) = {});
 *   old_size == 0: when old_root is merkle_empty_root -- every tree extends
 *     the empty one, but a size-0 head claiming another root is forged.
 * KURA_EINVAL if old_size > new_size, KURA_EVERIFY otherwise.
 */
int merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
			      const uint8_t old_root[KURA_HASH_LEN],
			      const uint8_t new_root[KURA_HASH_LEN],
			      const uint8_t path[][KURA_HASH_LEN], size_t path_len);

#endif
