/*
 * store.h - the storage contract: every byte kura keeps goes through these
 * functions, behind a table of function pointers (like git's refs backends),
 * so that a PostgreSQL backend can be added without touching callers.
 * Only src/store/ talks SQL.
 *
 * Rows are append-only: there is no update or delete of versions, nodes or
 * tree heads in this contract.  Writes happen between txn_begin(write=1) and
 * txn_commit; commit returns only once the data is durable (fsync'd).
 *
 * Ownership: slices and leaves passed to callbacks are valid only during the
 * callback.  Errors: KURA_ENOTFOUND for a missing row, KURA_EBUSY when the
 * write lock could not be had within KURA_BUSY_TIMEOUT_MS, KURA_ECORRUPT for
 * damaged storage, KURA_EEXIST for a duplicate key, KURA_EIO otherwise.
 */
#ifndef KURA_STORE_STORE_H
#define KURA_STORE_STORE_H

#include <stdint.h>

#include "ledger/event.h"
#include "ledger/leaf.h"
#include "ledger/sth.h"
#include "util/buf.h"

/* One record version as stored: its leaf fields, position and sealed box. */
struct kura_version_row {
	uint64_t leaf_index;
	struct kura_leaf leaf;
	struct kura_slice sealed; /* empty for a tombstone */
};

typedef int (*kura_version_cb)(void *ctx, const struct kura_version_row *row);
typedef int (*kura_sth_cb)(void *ctx, const struct kura_sth *sth);
typedef int (*kura_event_cb)(void *ctx, const struct kura_event_row *row);
/* A row of mutable state: value bytes and the MAC the vault keeps over them. */
typedef int (*kura_state_cb)(void *ctx, const char *key, struct kura_slice value,
			     const uint8_t mac[KURA_HASH_LEN]);
/* A meta row (name, value; n = 0) or a patient (id, wrapped key, n = created_us). */
typedef int (*kura_pair_cb)(void *ctx, const char *name, struct kura_slice value, int64_t n);
typedef int (*kura_node_cb)(void *ctx, unsigned level, uint64_t index,
			    const uint8_t hash[KURA_HASH_LEN]);

struct kura_store;

struct kura_store_ops {
	void (*close)(struct kura_store *s);
	int (*txn_begin)(struct kura_store *s, int write);
	int (*txn_commit)(struct kura_store *s);
	void (*txn_abort)(struct kura_store *s);

	int (*meta_get)(struct kura_store *s, const char *key, struct kura_buf *out);
	int (*meta_put)(struct kura_store *s, const char *key, const void *v, size_t len);

	/* Every meta row and every patient, ordered by name (for backups). */
	int (*meta_scan)(struct kura_store *s, kura_pair_cb cb, void *ctx);
	int (*patient_scan)(struct kura_store *s, kura_pair_cb cb, void *ctx);

	int (*patient_key_get)(struct kura_store *s, const char *patient, struct kura_buf *out);
	int (*patient_key_put)(struct kura_store *s, const char *patient,
			       const void *wrapped, size_t len, int64_t time_us);

	int (*version_put)(struct kura_store *s, const struct kura_version_row *row);
	/* version 0 means the latest one. */
	int (*version_get)(struct kura_store *s, const char *record_id, uint32_t version,
			   kura_version_cb cb, void *ctx);
	int (*version_history)(struct kura_store *s, const char *record_id,
			       kura_version_cb cb, void *ctx);
	/* The latest version of every record (of one patient if not NULL),
	 * ordered by record id. */
	int (*record_list)(struct kura_store *s, const char *patient, kura_version_cb cb,
			   void *ctx);
	/* Every version with leaf_index >= from_leaf in leaf order (for verify
	 * and backups). */
	int (*version_scan)(struct kura_store *s, uint64_t from_leaf, kura_version_cb cb,
			    void *ctx);
	int (*version_count)(struct kura_store *s, uint64_t *ret);

	int (*node_get)(struct kura_store *s, unsigned level, uint64_t index,
			uint8_t out[KURA_HASH_LEN]);
	int (*node_put)(struct kura_store *s, unsigned level, uint64_t index,
			const uint8_t hash[KURA_HASH_LEN]);
	int (*node_scan)(struct kura_store *s, kura_node_cb cb, void *ctx);

	int (*sth_put)(struct kura_store *s, const struct kura_sth *sth);
	/* The tree head with the largest tree_size; KURA_ENOTFOUND if none. */
	int (*sth_latest)(struct kura_store *s, struct kura_sth *ret);
	int (*sth_get)(struct kura_store *s, uint64_t tree_size, struct kura_sth *ret);
	int (*sth_scan)(struct kura_store *s, kura_sth_cb cb, void *ctx);

	/* Audit events: leaves of the second kind (ledger/event.h), append-only
	 * like versions.  event_scan gives every event with leaf_index >=
	 * from_leaf in leaf order; event_query those a filter selects, in time
	 * order (then leaf order). */
	int (*event_put)(struct kura_store *s, const struct kura_event_row *row);
	int (*event_scan)(struct kura_store *s, uint64_t from_leaf, kura_event_cb cb, void *ctx);
	int (*event_query)(struct kura_store *s, const struct kura_event_filter *f,
			   kura_event_cb cb, void *ctx);
	int (*event_count)(struct kura_store *s, uint64_t *ret);

	/* Mutable state (accounts, sessions, settings, care assignments, ...):
	 * rows (kind, key) -> value, each with a MAC computed by the vault.
	 * state_put inserts or replaces; state_del of a missing row is 0. */
	int (*state_get)(struct kura_store *s, const char *kind, const char *key,
			 struct kura_buf *value, uint8_t mac[KURA_HASH_LEN]);
	int (*state_put)(struct kura_store *s, const char *kind, const char *key,
			 const void *value, size_t len, const uint8_t mac[KURA_HASH_LEN]);
	int (*state_del)(struct kura_store *s, const char *kind, const char *key);
	/* Every row of a kind (every row when kind is NULL: then the key given
	 * to cb is "kind/key"), ordered by key. */
	int (*state_scan)(struct kura_store *s, const char *kind, kura_state_cb cb, void *ctx);

	/* The backend's own structural check (SQLite quick_check);
	 * KURA_ECORRUPT with a one-line description in msg. */
	int (*check)(struct kura_store *s, struct kura_buf *msg);
};

struct kura_store {
	const struct kura_store_ops *ops;
};

enum kura_store_flags {
	KURA_STORE_CREATE = 1,   /* create a new database (mode 0600); KURA_EEXIST if present */
	KURA_STORE_READONLY = 2, /* open for reading only */
};

/* Open (or create) the SQLite store at path (WAL, synchronous=FULL).
 * KURA_ENOVAULT if it does not exist, KURA_EFOREIGN if it is not a database. */
int kura_store_sqlite_open(const char *path, int flags, struct kura_store **ret);

static inline void kura_store_close(struct kura_store *s)
{
	if (s)
		s->ops->close(s);
}

#endif
