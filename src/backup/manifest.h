/*
 * manifest.h - the signed description of one backup generation
 * (docs/formats/backup.md §6).
 *
 * A manifest file is one line of JSON (the body), a newline, and a
 * signature line:
 *
 *   body "\n" "ed25519 " hex(signature) "\n"
 *   signature = Ed25519(ledger key, "kura.backup.manifest.v1" || body)
 *
 * The body names the vault, the generation number, the ledger's signed
 * tree head the generation is consistent with, consistency proofs from
 * the tree sizes of earlier generations, the wrapped master key (so the
 * backup can be opened with nothing but the passphrase or the recovery
 * key), and every object the generation needs: the state snapshot, the
 * segments covering leaves [0, tree_size) in order, and the chunks they
 * refer to.  Object ids are hashes of ciphertext and say nothing.
 *
 * A receiver holds only the vault's ledger public key: it checks the
 * signature, the tree head's signature, and a consistency proof from the
 * newest generation it already has (kura_manifest_extends); it is a
 * witness of the ledger.
 */
#ifndef KURA_BACKUP_MANIFEST_H
#define KURA_BACKUP_MANIFEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "backup/object.h"
#include "ledger/merkle.h"
#include "ledger/sth.h"
#include "util/buf.h"

#define KURA_BACKUP_FORMAT "kura-backup-1"
#define KURA_MANIFEST_CONTEXT "kura.backup.manifest.v1"
#define KURA_MANIFEST_MAX (64u * 1024 * 1024) /* the largest manifest file read */
/* Consistency proofs are carried from this many earlier generations. */
#define KURA_MANIFEST_MAX_PROOFS 32

struct kura_manifest_segment {
	uint8_t id[KURA_OBJ_ID_LEN];
	uint64_t first; /* leaf index */
	uint32_t count;
};

/* A consistency proof from an earlier tree (RFC 9162 §2.1.4). */
struct kura_manifest_proof {
	uint64_t generation; /* the earlier generation's number */
	uint64_t old_size;
	uint8_t old_root[KURA_HASH_LEN];
	unsigned npath;
	uint8_t path[MERKLE_MAX_PATH + 1][KURA_HASH_LEN];
};

struct kura_manifest {
	uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN];
	uint64_t generation; /* 1, 2, ... per vault */
	int64_t created_us;
	struct kura_sth sth; /* the ledger tree head this generation ends at */
	uint8_t ledger_pub[KURA_PUBKEY_LEN];
	/* {"kdf": {...}, "master": hex box, "recovery": hex box or absent}:
	 * copies of the vault's meta (docs/formats/vault.md §1). */
	json_t *keys;
	uint8_t state_id[KURA_OBJ_ID_LEN];
	struct kura_manifest_segment *segs;
	size_t nsegs;
	uint8_t (*chunks)[KURA_OBJ_ID_LEN]; /* sorted, unique */
	size_t nchunks;
	struct kura_manifest_proof *proofs;
	size_t nproofs;
	/* {"versions": n, "events": n, "patients": n, "content_bytes": n,
	 *  "stored_bytes": n, "objects": n}: informational. */
	json_t *stats;
};

/* Free what a manifest owns (not m itself); m is left zeroed. */
void kura_manifest_release(struct kura_manifest *m);

/* Sign msg with the ledger key (kura_vault_sign, or kura_ed25519_sign
 * with a seed in tests). */
typedef int (*kura_sign_fn)(void *ctx, const void *msg, size_t len, uint8_t sig[KURA_SIG_LEN]);

/* Serialize and sign: out is replaced by the whole file.  KURA_EINVAL if
 * the segments do not cover [0, tree_size) in order or the chunks are not
 * sorted and unique. */
int kura_manifest_encode(const struct kura_manifest *m, kura_sign_fn sign, void *sign_ctx,
			 struct kura_buf *out);

/* Parse a manifest file strictly (every field present and well-formed,
 * no unknown format, the segments contiguous from 0 to tree_size, the
 * chunks sorted and unique, sizes within KURA_MANIFEST_MAX); the
 * signature is NOT checked here.  KURA_ECORRUPT otherwise. */
int kura_manifest_parse(const uint8_t *p, size_t n, struct kura_manifest *ret);

/* Check a parsed manifest against its file bytes and a trusted ledger
 * key: the file's signature, ledger_pub == pub, and the tree head's
 * signature.  m must be what kura_manifest_parse made of (p, n).  KURA_ECRYPTO if a signature fails or the key differs. */
int kura_manifest_verify(const struct kura_manifest *m, const uint8_t *p, size_t n,
			 const uint8_t pub[KURA_PUBKEY_LEN]);

/* Does newer extend older (both verified, same vault)?  0 if so: newer's
 * generation is larger, its tree is at least as large, and either the
 * trees are the same size with the same root or newer carries a proof
 * from older's size and root that verifies.  KURA_EVERIFY if history was
 * rewritten (a proof from older's size fails or the roots differ),
 * KURA_ENOTFOUND if newer carries no proof from older (it cannot be
 * decided), KURA_EINVAL if generation or size goes backwards. */
int kura_manifest_extends(const struct kura_manifest *older, const struct kura_manifest *newer);

/* Every object id the generation needs (state, segments, chunks), in
 * that order; *ret is malloc'd (free it). */
int kura_manifest_objects(const struct kura_manifest *m, uint8_t (**ret)[KURA_OBJ_ID_LEN],
			  size_t *ret_n);

#endif
