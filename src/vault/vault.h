/*
 * vault.h - records with versions, encrypted at rest, every version a leaf
 * of the ledger (MISSION K1; REQUIREMENTS AUTH-01..06, LG-02, KEEP-01).
 *
 * A vault is a directory: vault.db (the store) and ledger-pubkey.pem (the
 * public half of the ledger signing key, for auditors).  Opening it unlocks
 * the key hierarchy with the passphrase:
 *   passphrase --Argon2id--> KEK --unwraps--> master key
 *   master key --HKDF--> wrap key --unwraps--> per-patient data keys,
 *                                             the Ed25519 ledger key
 *   patient data key --HKDF--> content key (AES-256-GCM),
 *                              commitment key (HMAC for leaves)
 * Keys live in locked memory (kura_secret_alloc) and are wiped on close.
 *
 * Every write is one store transaction that appends the versions' leaves,
 * signs a tree head and commits durably before the call returns 0.
 */
#ifndef KURA_VAULT_VAULT_H
#define KURA_VAULT_VAULT_H

#include <stdint.h>

#include <jansson.h>

#include "ledger/event.h"
#include "ledger/leaf.h"
#include "ledger/sth.h"
#include "store/store.h"
#include "util/buf.h"

#define KURA_VAULT_DB "vault.db"
#define KURA_VAULT_PUBKEY "ledger-pubkey.pem"
#define KURA_VAULT_FORMAT "kura-vault-1"
#define KURA_RECORD_ID_LEN 36 /* a UUIDv7 in text form */

/* Argon2id defaults: 3 passes over 64 MiB (about 0.2 s here); recorded in
 * the vault at init and read back at open. */
#define KURA_KDF_DEFAULT_OPS 3u
#define KURA_KDF_DEFAULT_MEM_KIB (64u * 1024)

struct kura_vault;
struct kura_import; /* fhir/import.h */

struct kura_kdf_params {
	uint64_t ops;
	uint64_t mem_kib;
};

/* Create a vault in dir (created if missing; must not already hold one). */
int kura_vault_init(const char *dir, const char *pass, size_t passlen,
		    const struct kura_kdf_params *kdf, struct kura_sth *ret_sth);

enum kura_vault_open_flags {
	KURA_VAULT_READONLY = 1,
};

/* Open and unlock.  KURA_ENOVAULT (no vault in dir), KURA_EFOREIGN (not a
 * kura vault / unknown format), KURA_EDENIED (wrong passphrase),
 * KURA_ECORRUPT (damaged key material). */
int kura_vault_open(const char *dir, const char *pass, size_t passlen, int flags,
		    struct kura_vault **ret);
void kura_vault_close(struct kura_vault *v);

struct kura_store *kura_vault_store(struct kura_vault *v);
void kura_vault_pubkey(const struct kura_vault *v, uint8_t out[KURA_PUBKEY_LEN]);

/* What a write says about who, why and how. */
struct kura_write {
	const char *actor;        /* who is acting (the inputter or confirmer) */
	const char *on_behalf_of; /* proxy input (代行入力): for whom; NULL if not */
	const char *reason;       /* required for amend and retract */
	int confirm;              /* store the new version as confirmed */
	/* An audit event committed with the write (kura_vault_import: one
	 * per batch, its detail naming the batch); NULL for none. */
	const struct kura_event *audit;
};

struct kura_written {
	char record_id[KURA_RECORD_ID_LEN + 1];
	uint32_t version;
	uint64_t leaf_index;
	uint8_t leaf_hash[KURA_HASH_LEN];
	struct kura_sth sth;
};

/* A new record for patient, of type (FHIR resource type, "hl7v2" or MIME).
 * KURA_EINVAL if the content does not fit the type (a FHIR type needs a
 * JSON object of that resourceType); KURA_EDENIED for --confirm together
 * with proxy input (only the person it was entered for confirms it). */
int kura_vault_put(struct kura_vault *v, const char *patient, const char *type,
		   const char *content_type, const uint8_t *content, size_t len,
		   const struct kura_write *w, struct kura_written *ret);
/* A new version with new content.  KURA_ESTATE if the record is retracted,
 * KURA_EINVAL if the content does not fit the record's type. */
int kura_vault_amend(struct kura_vault *v, const char *record_id, const uint8_t *content,
		     size_t len, const struct kura_write *w, struct kura_written *ret);
/* Confirm the latest version, which must be a draft (KURA_ESTATE otherwise):
 * a new version with the same content, confirmed by w->actor.  A proxy
 * draft can be confirmed only by the person it was entered for
 * (KURA_EDENIED otherwise; AUTH-06). */
int kura_vault_confirm(struct kura_vault *v, const char *record_id,
		       const struct kura_write *w, struct kura_written *ret);
/* A tombstone version (entered-in-error) with a reason. */
int kura_vault_retract(struct kura_vault *v, const char *record_id,
		       const struct kura_write *w, struct kura_written *ret);

/* Decrypt one version (0 = latest) into content; ret_leaf gets its fields.
 * KURA_ESTATE with ret_leaf filled if that version is a tombstone. */
int kura_vault_get(struct kura_vault *v, const char *record_id, uint32_t version,
		   struct kura_leaf *ret_leaf, struct kura_buf *content);
/* As kura_vault_get, with check(cctx, leaf) asked first: when it answers
 * nonzero that is returned (ret_leaf filled) and nothing is decrypted.  One
 * lookup where a locate and a get would be two; check may read the vault
 * (not its versions) but not write it. */
typedef int (*kura_leaf_check_fn)(void *cctx, const struct kura_leaf *leaf);
int kura_vault_get_checked(struct kura_vault *v, const char *record_id, uint32_t version,
			   kura_leaf_check_fn check, void *cctx, struct kura_leaf *ret_leaf,
			   struct kura_buf *content);

/* Ingest a parsed import: batches of KURA_IMPORT_BATCH versions, each durable
 * before the next starts (an atomic import is one batch).  progress (may be
 * NULL) is called after each batch with the number stored so far. */
typedef void (*kura_progress_fn)(void *ctx, uint64_t done, uint64_t total);
int kura_vault_import(struct kura_vault *v, const struct kura_import *imp,
		      const struct kura_write *w, kura_progress_fn progress, void *pctx,
		      uint64_t *ret_count, struct kura_sth *ret_sth);

/* The leaf hash of a stored version (for proofs): ret_index and ret_hash. */
int kura_vault_locate(struct kura_vault *v, const char *record_id, uint32_t version,
		      struct kura_version_row *ret_row, struct kura_buf *ret_leaf);

/* Latest signed tree head. */
int kura_vault_sth(struct kura_vault *v, struct kura_sth *ret);

/*
 * Transactions.  Everything one operation does - record versions, audit
 * events, changes of mutable state - goes into one store transaction that
 * ends with one signed tree head and one fsync, so an audit event is
 * committed with the operation it records (LG-02) or not at all.
 * kura_txn_commit and kura_txn_abort free the transaction; after a failed
 * operation inside it the caller must abort.  One transaction at a time
 * per vault.
 */
struct kura_txn;
int kura_txn_begin(struct kura_vault *v, struct kura_txn **ret);
int kura_txn_commit(struct kura_txn *t, struct kura_sth *ret_sth);
void kura_txn_abort(struct kura_txn *t);
/* End t either way: abort it and return r if r is an error, else commit
 * (ret_sth may be NULL). */
int kura_txn_finish(struct kura_txn *t, int r, struct kura_sth *ret_sth);
struct kura_vault *kura_txn_vault(struct kura_txn *t);

/* The same operations as kura_vault_put/amend/confirm/retract, inside t
 * (ret->sth is left zero: the tree head comes at commit). */
int kura_txn_put(struct kura_txn *t, const char *patient, const char *type,
		 const char *content_type, const uint8_t *content, size_t len,
		 const struct kura_write *w, struct kura_written *ret);
int kura_txn_amend(struct kura_txn *t, const char *record_id, const uint8_t *content,
		   size_t len, const struct kura_write *w, struct kura_written *ret);
int kura_txn_confirm(struct kura_txn *t, const char *record_id, const struct kura_write *w,
		     struct kura_written *ret);
int kura_txn_retract(struct kura_txn *t, const char *record_id, const struct kura_write *w,
		     struct kura_written *ret);
/* The fields of a version (0 = latest) without decrypting it. */
int kura_txn_locate(struct kura_txn *t, const char *record_id, uint32_t version,
		    struct kura_leaf *ret);
/* Append an audit event (ledger/event.h) as a leaf; ret_index may be NULL. */
int kura_txn_event(struct kura_txn *t, const struct kura_event *e, uint64_t *ret_index);

/*
 * Mutable state (accounts, sessions, settings, care assignments, grants):
 * JSON objects under (kind, key), each row carrying an HMAC-SHA-256 under a
 * key derived from the master key over kind, key and value, so a row edited
 * or moved in the database without the vault's keys is refused
 * (KURA_ECORRUPT) instead of trusted.  Writes need an open transaction.
 * kind: [a-z-]{1,32}; key: printable ASCII, 1..KURA_MAX_STATE_KEY bytes.
 */
int kura_state_get(struct kura_vault *v, const char *kind, const char *key, json_t **ret);
int kura_state_put(struct kura_txn *t, const char *kind, const char *key, const json_t *value);
int kura_state_del(struct kura_txn *t, const char *kind, const char *key);
/* Every row of a kind in key order; cb owns nothing (value is borrowed).
 * A row whose MAC fails stops the scan with KURA_ECORRUPT. */
typedef int (*kura_state_fn)(void *ctx, const char *key, json_t *value);
int kura_state_scan(struct kura_vault *v, const char *kind, kura_state_fn cb, void *ctx);
/* Check every state row's MAC; each bad one goes to bad(ctx, "kind/key"). */
int kura_state_check(struct kura_vault *v, void (*bad)(void *ctx, const char *row), void *ctx,
		     uint64_t *ret_rows);
/* Seal / open a small secret (a TOTP key) for storage in state, bound to
 * a label such as "totp:dr.sato"; the box is hex text. */
int kura_state_seal(struct kura_vault *v, const char *label, const uint8_t *p, size_t n,
		    struct kura_buf *ret_hex);
int kura_state_open(struct kura_vault *v, const char *label, const char *hex, uint8_t *out,
		    size_t cap, size_t *ret_len);
/* A keyed hash of a secret that is compared, never recovered (recovery
 * codes): hex of HMAC(state key, label || 0 || data). */
int kura_state_digest(struct kura_vault *v, const char *label, const void *data, size_t n,
		      char ret_hex[2 * KURA_HASH_LEN + 1]);

/*
 * Backups (src/backup, vault/backup.c).
 *
 * kura_vault_leaves gives every leaf in [from, to) in leaf order: its
 * canonical bytes, and for a version its decrypted content (checked
 * against the leaf's commitment) and row.  Pointers are valid during the
 * callback only; a nonzero return stops the walk and is passed back.
 * KURA_ECORRUPT if a leaf is missing or its content does not open.
 */
struct kura_vault_leaf {
	uint64_t index;
	int kind; /* KURA_LEAF_RECORD_VERSION or KURA_LEAF_AUDIT_EVENT */
	const uint8_t *leaf;
	size_t len;
	int has_content; /* a version that is not a retraction */
	const uint8_t *content;
	size_t content_len;
	const struct kura_version_row *row; /* versions only */
};
typedef int (*kura_leaf_fn)(void *ctx, const struct kura_vault_leaf *l);
int kura_vault_leaves(struct kura_vault *v, uint64_t from, uint64_t to, kura_leaf_fn cb,
		      void *ctx);

/*
 * Rebuilding a vault's ledger from a backup, into a vault that has its
 * meta, patients and state but no leaves yet: each leaf is appended at
 * the next index (a version's content is sealed anew and must match the
 * leaf's commitment: KURA_EVERIFY otherwise), each tree head must verify
 * and equal the rebuilt root at its size (KURA_EVERIFY).  Writes go into
 * a store transaction that kura_restore_commit makes durable.
 */
struct kura_restore_writer;
int kura_restore_begin(struct kura_vault *v, struct kura_restore_writer **ret);
/* content NULL for an event or a retraction. */
int kura_restore_leaf(struct kura_restore_writer *w, const uint8_t *leaf, size_t len,
		      const uint8_t *content, size_t clen);
int kura_restore_sth(struct kura_restore_writer *w, const struct kura_sth *sth);
uint64_t kura_restore_size(const struct kura_restore_writer *w);
int kura_restore_commit(struct kura_restore_writer *w);
/* Abort what is not committed and free w (NULL accepted). */
void kura_restore_end(struct kura_restore_writer *w);

/*
 * Keys for other modules (backups, issue 4; docs/formats/vault.md §1).
 *
 * A recovery key is 32 random bytes that wrap the master key a second
 * time, so that a backup can be opened when the passphrase holder is gone
 * (docs/RECOVERY.md).  It is shown once as text: the 32 bytes and a
 * 3-byte check (the first bytes of SHA-256("kura.recovery.check.v1" ||
 * key)) in Crockford base32, 56 symbols in 14 groups of 4 joined by '-'.
 * Reading it ignores case, spaces and '-', and takes O as 0 and I, L as 1.
 * The box lives in the state row ("vault-key", "recovery"), which can be
 * replaced (meta is write-once): box = AES-256-GCM of the master key under
 * HKDF-SHA256(recovery key, "kura/v1/recovery"), AAD "kura.recovery.v1" ||
 * vault_id.
 */
#define KURA_RECOVERY_KEY_LEN 32
#define KURA_RECOVERY_KEY_SYMBOLS 56 /* (32 + 3) bytes * 8 / 5 */
#define KURA_RECOVERY_KEY_TEXT_LEN (KURA_RECOVERY_KEY_SYMBOLS + KURA_RECOVERY_KEY_SYMBOLS / 4 - 1) /* 69 */

/* Make a new recovery key and store its box in one durable transaction;
 * the previous key stops opening this vault (copies made before, such as
 * backups, still carry the old box).  out gets the text, NUL-terminated:
 * a secret the caller wipes (kura_wipe).  KURA_EDENIED if read-only. */
int kura_vault_recovery_new(struct kura_vault *v, char out[KURA_RECOVERY_KEY_TEXT_LEN + 1]);
/* The same inside t (with the caller's audit event). */
int kura_txn_recovery_new(struct kura_txn *t, char out[KURA_RECOVERY_KEY_TEXT_LEN + 1]);

/* HKDF-SHA256 of the master key for a purpose named by info (e.g.
 * "kura/v1/backup-enc").  KURA_EINVAL for an empty info or one the vault
 * uses itself (wrap, state keys): no caller gets the vault's own keys. */
int kura_vault_derive(struct kura_vault *v, const char *info, uint8_t out[KURA_KEY_LEN]);
/* The vault's 16 random bytes made at init. */
void kura_vault_id(const struct kura_vault *v, uint8_t out[16]);
/* Ed25519 signature of msg with the ledger key.  Callers prefix their own
 * context string (backup manifests: "kura.backup.manifest.v1") so that
 * no message can pass for a tree head. */
int kura_vault_sign(struct kura_vault *v, const void *msg, size_t len, uint8_t sig[KURA_SIG_LEN]);
/* What a backup carries to be opened with the passphrase or the recovery
 * key alone: {"kdf": <meta.kdf object>, "master": hex of meta.master_key,
 * "recovery": hex of the recovery box (absent if none)}.  New reference
 * (json_decref), or NULL (out of memory or damaged meta). */
json_t *kura_vault_key_material(struct kura_vault *v);
/* The master key from key material (above) of the vault vault_id, with the
 * passphrase (recovery 0: Argon2id with the material's kdf) or the text of
 * a recovery key (recovery 1).  KURA_EINVAL if the text is not a recovery
 * key (wrong length, symbol or check: a typo), KURA_ENOTFOUND if the
 * material has no recovery box, KURA_EDENIED if the secret does not open
 * the box (or the material belongs to another vault), KURA_ECORRUPT if
 * the material is malformed.  master is wiped on failure. */
int kura_key_unwrap_master(const json_t *material, const uint8_t vault_id[16], const char *secret,
			   size_t len, int recovery, uint8_t master[KURA_KEY_LEN]);
/* Wrap master under a new passphrase with a fresh salt, for a restored
 * vault: ret_kdf_json gets the kdf JSON text and ret_box the 60-byte box,
 * as meta "kdf" and "master_key" hold them (both are reset first). */
int kura_key_wrap_master(const uint8_t master[KURA_KEY_LEN], const uint8_t vault_id[16],
			 const char *pass, size_t passlen, const struct kura_kdf_params *kdf,
			 struct kura_buf *ret_kdf_json, struct kura_buf *ret_box);

#endif
