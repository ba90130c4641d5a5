/*
 * proof.h - inclusion and consistency proof documents (JSON, specified in
 * docs/formats/ledger.md "Proof files"), made from a store and checked with
 * nothing but the document and a trusted public key.
 */
#ifndef KURA_LEDGER_PROOF_H
#define KURA_LEDGER_PROOF_H

#include <jansson.h>

#include "ledger/leaf.h"
#include "ledger/sth.h"
#include "store/store.h"

enum kura_proof_type {
	KURA_PROOF_INCLUSION = 1,
	KURA_PROOF_CONSISTENCY = 2,
};

/* The inclusion proof of leaf (its canonical bytes) at index under sth. */
int kura_proof_inclusion(struct kura_store *s, const struct kura_sth *sth, uint64_t index,
			 const uint8_t *leaf, size_t len, json_t **ret);

/* The consistency proof from old_size to new_sth->tree_size; includes the
 * signed tree head at old_size when the store has one. */
int kura_proof_consistency(struct kura_store *s, uint64_t old_size,
			   const struct kura_sth *new_sth, json_t **ret);

struct kura_proof_summary {
	int type;            /* enum kura_proof_type */
	uint64_t leaf_index; /* inclusion */
	uint64_t tree_size;  /* of the signed tree head */
	uint64_t old_size;   /* consistency */
	int old_signed;      /* consistency: the old tree head was signed too */
	struct kura_leaf leaf; /* inclusion: the decoded leaf */
};

/* Check a proof document against the trusted key pub.  0 if it verifies;
 * KURA_ECORRUPT if the document is malformed, KURA_EVERIFY if it does not
 * verify; errmsg gets one English line saying which part failed. */
int kura_proof_verify(const uint8_t *doc, size_t len, const uint8_t pub[KURA_PUBKEY_LEN],
		      struct kura_proof_summary *ret, struct kura_buf *errmsg);

#endif
