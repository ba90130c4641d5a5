/* ledger.c - group-committed appends and signed tree heads over a store. */
#include "ledger/ledger.h"

#include <string.h>

#include "util/time.h"
#include "util/banned.h"

int kura_ledger_get_node(void *ctx, unsigned level, uint64_t index,
			 uint8_t out[KURA_HASH_LEN])
{
	struct kura_store *s = ctx;
	int r = s->ops->node_get(s, level, index, out);
	/* A node the tree needs but the store lacks means damage, not absence. */
	return r == KURA_ENOTFOUND ? KURA_ECORRUPT : r;
}

static int put_node(void *ctx, unsigned level, uint64_t index,
		    const uint8_t hash[KURA_HASH_LEN])
{
	struct kura_store *s = ctx;
	return s->ops->node_put(s, level, index, hash);
}

int kura_ledger_begin(struct kura_ledger *lg, struct kura_store *store)
{
	struct kura_sth sth;
	uint64_t size = 0;
	memset(lg, 0, sizeof(*lg));
	lg->store = store;
	int r = store->ops->sth_latest(store, &sth);
	if (r == 0)
		size = sth.tree_size;
	else if (r != KURA_ENOTFOUND)
		return r;
	r = merkle_range_load(&lg->range, size, kura_ledger_get_node, store);
	lg->start_size = size;
	if (r || size == 0)
		return r;
	/* Never sign on top of damaged nodes: the frontier must give the root
	 * the vault signed last, or the next tree head would certify damage. */
	uint8_t root[KURA_HASH_LEN];
	merkle_range_root(&lg->range, root);
	return kura_ct_equal(root, sth.root, KURA_HASH_LEN) ? 0 : KURA_ECORRUPT;
}

int kura_ledger_append(struct kura_ledger *lg, const uint8_t *leaf, size_t len,
		       uint64_t *ret_index, uint8_t ret_hash[KURA_HASH_LEN])
{
	uint8_t h[KURA_HASH_LEN];
	uint64_t index = lg->range.size;
	merkle_leaf_hash(leaf, len, h);
	int r = merkle_range_append(&lg->range, h, put_node, lg->store);
	if (r)
		return r;
	*ret_index = index;
	memcpy(ret_hash, h, KURA_HASH_LEN);
	return 0;
}

int kura_ledger_seal(struct kura_ledger *lg, const uint8_t seed[KURA_KEY_LEN],
		     const uint8_t pub[KURA_PUBKEY_LEN], struct kura_sth *ret)
{
	struct kura_sth sth;
	memset(&sth, 0, sizeof(sth));
	sth.tree_size = lg->range.size;
	sth.time_us = kura_time_now_us();
	merkle_range_root(&lg->range, sth.root);
	int r = kura_sth_sign(&sth, seed, pub);
	if (!r)
		r = lg->store->ops->sth_put(lg->store, &sth);
	if (!r && ret)
		*ret = sth;
	return r;
}
