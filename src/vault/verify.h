/*
 * verify.h - `kura verify`: recompute everything the vault claims.
 *
 * Checks, in order, inside one read transaction (one snapshot): the store's
 * own structure; every tree head's signature and order (and a size the rows
 * can back); every version row (leaf encoding, ciphertext authenticates,
 * content hash and commitment, length, version chain, status and writer
 * rules such as AUTH-06);
 * the Merkle root of every tree head from the leaves; every stored tree
 * node; optionally consistency with a tree head saved elsewhere (catches a
 * vault rolled back or rebuilt with another key).  Every problem is reported
 * with where it is (record, version, leaf index) and a stable code.
 */
#ifndef KURA_VAULT_VERIFY_H
#define KURA_VAULT_VERIFY_H

#include <stdint.h>

#include "vault/vault.h"

#define KURA_NO_LEAF UINT64_MAX

struct kura_verify_problem {
	const char *code;  /* stable name, e.g. "ciphertext", "sth-root" */
	uint64_t leaf_index; /* KURA_NO_LEAF when not about one leaf */
	uint64_t tree_size;  /* for tree-head problems, else 0 */
	char record_id[KURA_MAX_ID + 1]; /* "" when unknown */
	uint32_t version;    /* 0 when unknown */
	char detail[256];    /* one English line */
};

typedef void (*kura_problem_fn)(void *ctx, const struct kura_verify_problem *p);

struct kura_verify_opts {
	const struct kura_sth *against; /* NULL: no external tree head */
	kura_progress_fn progress;      /* may be NULL */
	void *ctx;                      /* for progress and problem */
	kura_problem_fn problem;        /* may be NULL */
	unsigned max_problems;          /* stop reporting after this many (0: 1000) */
};

struct kura_verify_report {
	uint64_t versions;      /* rows checked */
	uint64_t events;        /* audit events checked */
	uint64_t state_rows;    /* mutable state rows whose MAC was checked */
	uint64_t tree_size;     /* of the latest tree head */
	uint64_t tree_heads;    /* signatures checked */
	uint64_t nodes;         /* stored nodes compared */
	uint64_t content_bytes; /* plaintext bytes authenticated and hashed */
	uint64_t problems;
};

/* 0 when everything checks out, KURA_EVERIFY when any problem was found
 * (each reported through opts->problem), other codes when verification
 * itself could not run. */
int kura_vault_verify(struct kura_vault *v, const struct kura_verify_opts *opts,
		      struct kura_verify_report *ret);

#endif
