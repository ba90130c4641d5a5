/*
 * vault_int.h - private to src/vault: the unlocked vault and the helpers
 * shared by keys.c, record.c, import.c and verify.c.
 */
#ifndef KURA_VAULT_VAULT_INT_H
#define KURA_VAULT_VAULT_INT_H

#include "ledger/ledger.h"
#include "vault/envelope.h"
#include "vault/vault.h"

#define VAULT_ID_LEN 16
#define PKEY_CACHE 8192 /* patients whose keys stay unwrapped (a power of 2) */

/* Keys derived from one patient's data key. */
struct patient_keys {
	char patient[KURA_MAX_ID + 1]; /* "" when the slot is free */
	uint8_t enc[KURA_KEY_LEN];
	uint8_t commit[KURA_KEY_LEN];
};

/* Everything secret, in one locked and guarded allocation. */
struct vault_secrets {
	uint8_t master[KURA_KEY_LEN];
	uint8_t wrap[KURA_KEY_LEN]; /* wraps patient keys and the ledger key */
	uint8_t sign_seed[KURA_KEY_LEN];
	uint8_t state_mac[KURA_KEY_LEN]; /* MACs over mutable state rows */
	uint8_t state_enc[KURA_KEY_LEN]; /* seals secrets inside state (TOTP keys) */
	struct patient_keys cache[PKEY_CACHE];
};

struct kura_vault {
	struct kura_store *store;
	struct vault_secrets *sec;
	uint8_t vault_id[VAULT_ID_LEN];
	uint8_t pub[KURA_PUBKEY_LEN];
	int readonly;
	/* zstd contexts kept for the handle's life (a handle is used by one
	 * thread at a time): a server loop reads and writes thousands of
	 * versions a second, and a fresh context per call costs more than the
	 * compression of a 2 KB resource.  Made on first use (vault_zctx). */
	struct kura_envelope_ctx *zctx;
};

/* The handle's zstd contexts, made on first use; NULL when out of memory
 * (the envelope then compresses one-shot). */
struct kura_envelope_ctx *vault_zctx(struct kura_vault *v);

/* keys.c */
#define VAULT_AAD_MASTER "kura.master.v1"
#define VAULT_KDF_ALG "argon2id13"
/* The kdf JSON of meta (docs/formats/vault.md §3), appended to out. */
int vault_kdf_json(const struct kura_kdf_params *kdf, const uint8_t salt[KURA_SALT_LEN],
		   struct kura_buf *out);
/* Its fields back; KURA_ECORRUPT if any is missing or malformed. */
int vault_kdf_parse(const json_t *root, struct kura_kdf_params *kdf, uint8_t salt[KURA_SALT_LEN]);
/* Argon2id of the passphrase: the key that wraps the master key. */
int vault_derive_kek(const char *pass, size_t passlen, const struct kura_kdf_params *kdf,
		     const uint8_t salt[KURA_SALT_LEN], uint8_t kek[KURA_KEY_LEN]);
int vault_keys_create(struct kura_vault *v, const char *pass, size_t passlen,
		      const struct kura_kdf_params *kdf);
int vault_keys_unlock(struct kura_vault *v, const char *pass, size_t passlen);
/* The keys of a patient; with create, make and store a new data key when the
 * patient has none (inside the caller's write transaction). */
int vault_patient_keys(struct kura_vault *v, const char *patient, int create,
		       const struct patient_keys **ret);

/* keys.c: the state keys, derived from the master key (state.c). */
int vault_state_keys(struct kura_vault *v);

/* record.c: a group of versions committed together. */
struct vault_batch {
	struct kura_vault *v;
	struct kura_ledger lg;
	uint64_t count;
	struct kura_buf leaf, aad, sealed;
	struct kura_envelope_ctx *zctx; /* may be NULL (then one-shot) */
};
/* Open a write transaction and load the ledger.  On failure nothing is left
 * to clean up. */
int vault_batch_begin(struct vault_batch *b, struct kura_vault *v);
/* Add one version; content NULL for a tombstone.  l's commitment,
 * content_length and time are filled here; previous must be set. */
int vault_batch_add(struct vault_batch *b, struct kura_leaf *l, const uint8_t *content,
		    size_t len, struct kura_written *ret);
/* The two halves of vault_batch_add, for callers that seal in parallel:
 * vault_seal touches no shared state (give each thread its own z, aad and
 * out); vault_batch_append must run on the batch's thread. */
int vault_seal(struct kura_envelope_ctx *z, const struct patient_keys *k, struct kura_leaf *l,
	       const uint8_t *content, size_t len, struct kura_buf *aad, struct kura_buf *out);
int vault_batch_append(struct vault_batch *b, const struct kura_leaf *l,
		       struct kura_slice sealed, struct kura_written *ret);
int vault_batch_commit(struct vault_batch *b, struct kura_sth *ret_sth);
/* Append an audit event as a leaf of this batch (ledger/event.h). */
int vault_batch_event(struct vault_batch *b, const struct kura_event *e, uint64_t *ret_index);
/* End a begun batch: abort it and return r if r is an error, else commit. */
int vault_batch_finish(struct vault_batch *b, int r, struct kura_sth *ret_sth);
void vault_batch_abort(struct vault_batch *b);

/* Fill a leaf's authors, reason and status from a write: ids checked,
 * the reason one line of valid UTF-8, and proxy input (AUTH-06) never
 * confirmed by the proxy (KURA_EDENIED): it stays a draft until the person
 * it was entered for confirms it.  Every kind of write goes through here. */
int vault_fill_authors(struct kura_leaf *l, const struct kura_write *w);

/* A new record id (UUIDv7, RFC 9562: time-ordered, so inserts stay local). */
int vault_new_record_id(char out[KURA_RECORD_ID_LEN + 1]);

/* The commitment the leaf carries: HMAC(commit key, SHA-256(content)). */
int vault_commitment(const struct patient_keys *k, const uint8_t sha[KURA_HASH_LEN],
		     uint8_t out[KURA_HASH_LEN]);

/* The public transaction is the batch. */
struct kura_txn {
	struct vault_batch b;
};

#endif
