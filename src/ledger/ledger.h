/*
 * ledger.h - the append-only Merkle ledger over a store.
 *
 * Group commit: inside one write transaction of the store, a caller appends
 * any number of leaves with kura_ledger_append() and ends with
 * kura_ledger_seal(), which computes the new root and stores a signed tree
 * head; the caller then commits the store transaction (one fsync for the
 * whole group).  If anything fails the caller aborts the store transaction
 * and nothing of the group exists.
 */
#ifndef KURA_LEDGER_LEDGER_H
#define KURA_LEDGER_LEDGER_H

#include "ledger/merkle.h"
#include "ledger/sth.h"
#include "store/store.h"

struct kura_ledger {
	struct kura_store *store;
	struct merkle_range range; /* the tree as of the last append */
	uint64_t start_size;       /* tree size when the group began */
};

/* Start a group: load the current tree (size from the latest tree head,
 * frontier from stored nodes).  The store must be in a write transaction.
 * KURA_ECORRUPT if the stored nodes do not give the latest signed root, so
 * that nothing is ever signed on top of damage. */
int kura_ledger_begin(struct kura_ledger *lg, struct kura_store *store);

/* Append a leaf: store its hash and every perfect node it completes.
 * Returns the leaf's index and hash. */
int kura_ledger_append(struct kura_ledger *lg, const uint8_t *leaf, size_t len,
		       uint64_t *ret_index, uint8_t ret_hash[KURA_HASH_LEN]);

/* The index the next appended leaf will get. */
static inline uint64_t kura_ledger_next_index(const struct kura_ledger *lg)
{
	return lg->range.size;
}

/* Sign and store the tree head of the group (no-op-free: it always signs,
 * even for an empty group, so that `kura init` has tree head 0). */
int kura_ledger_seal(struct kura_ledger *lg, const uint8_t seed[KURA_KEY_LEN],
		     const uint8_t pub[KURA_PUBKEY_LEN], struct kura_sth *ret);

/* merkle_get_node_fn over a store (ctx is the struct kura_store *). */
int kura_ledger_get_node(void *ctx, unsigned level, uint64_t index,
			 uint8_t out[KURA_HASH_LEN]);

#endif
