/*
 * repo.h - where generations are kept: a backup repository behind a
 * table of operations (like store.h), with two backends:
 *
 *   - a directory (second disk, NAS mount, removable disk): objects and
 *     manifests are written once (temporary file, fsync, rename without
 *     replacing, fsync of the directory), made read-only (0444) and marked
 *     immutable (FS_IMMUTABLE_FL) when the process may (CAP_LINUX_IMMUTABLE
 *     and a file system that supports it) [BK-03];
 *   - "https://host:port": a kura receiver (receiver.h) over mutual TLS,
 *     whose protocol has put-if-absent, get and list and nothing else.
 *
 * Layout of a directory repository (docs/formats/backup.md §7):
 *   DIR/kura-backup                   {"format":"kura-backup-1","vault_id":hex,"created_us":n}
 *   DIR/objects/<2 hex>/<64 hex>      one object each, named by its SHA-256
 *   DIR/manifests/<generation, 20 digits>
 *   DIR/tmp/                          partial writes; cleaned at open
 *
 * Errors: KURA_ENOTFOUND (no such object/manifest), KURA_EEXIST (a
 * manifest of that generation exists with other bytes), KURA_ECORRUPT (a
 * stored object does not match its id), KURA_EIO (the OS or network
 * refused; err says how), KURA_ETOOBIG (no space or over quota),
 * KURA_EDENIED (the receiver refused: its reason in the message),
 * KURA_EFOREIGN (a repository of another vault or format).
 */
#ifndef KURA_BACKUP_REPO_H
#define KURA_BACKUP_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "backup/object.h"
#include "util/buf.h"

struct kura_repo;

/* TLS material for an https target (PEM files); all required for https. */
struct kura_repo_tls {
	const char *ca_file;   /* the receiver's CA */
	const char *cert_file; /* this vault's client certificate */
	const char *key_file;
};

enum kura_repo_kind { KURA_REPO_DIR = 1, KURA_REPO_RECEIVER = 2 };

struct kura_repo_info {
	int kind;
	int immutable;   /* dir: objects are marked immutable; receiver: 1 (no delete in protocol) */
	int64_t lock_us; /* receiver: its retention lock period; 0 if none */
	unsigned keep_min; /* receiver: generations it always keeps */
	uint64_t used_bytes, quota_bytes; /* quota 0: unknown/none */
};

struct kura_repo_gen {
	uint64_t generation;
	uint64_t tree_size;
	int64_t created_us;
	uint64_t bytes; /* stored size of the manifest + its objects if known, else 0 */
};

struct kura_repo_ops {
	void (*close)(struct kura_repo *r);
	/* 1 if the object is there, 0 if not, or an error. */
	int (*has)(struct kura_repo *r, const uint8_t id[KURA_OBJ_ID_LEN]);
	/* Store an object if absent; 0 also if it was already there (same id,
	 * hence same bytes).  Durable before it returns. */
	int (*put)(struct kura_repo *r, const uint8_t id[KURA_OBJ_ID_LEN], const uint8_t *p, size_t n);
	/* Read an object; KURA_ECORRUPT if its bytes do not hash to id. */
	int (*get)(struct kura_repo *r, const uint8_t id[KURA_OBJ_ID_LEN], struct kura_buf *out);
	/* Store a manifest once (after all its objects); 0 if the same bytes are
	 * already there, KURA_EEXIST if other bytes are. */
	int (*manifest_put)(struct kura_repo *r, uint64_t generation, const uint8_t *p, size_t n);
	int (*manifest_get)(struct kura_repo *r, uint64_t generation, struct kura_buf *out);
	/* The generations present, oldest first; *ret malloc'd. */
	int (*manifest_list)(struct kura_repo *r, struct kura_repo_gen **ret, size_t *ret_n);
	int (*info)(struct kura_repo *r, struct kura_repo_info *ret);
};

struct kura_repo {
	const struct kura_repo_ops *ops;
	char err[256]; /* the last error in one English line ("" if none) */
};

/* Open target: "https://..." is a receiver (tls required), anything else a
 * directory.  create: make the directory repository if missing (recording
 * vault_id), else KURA_ENOTFOUND.  vault_id (may be NULL: accept any)
 * must match a directory repository's (KURA_EFOREIGN). */
int kura_repo_open(const char *target, const struct kura_repo_tls *tls, int create,
		   const uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN], struct kura_repo **ret);
int kura_repo_dir_open(const char *dir, int create,
		       const uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN], struct kura_repo **ret);
int kura_repo_http_open(const char *url, const struct kura_repo_tls *tls, struct kura_repo **ret);

static inline void kura_repo_close(struct kura_repo *r)
{
	if (r)
		r->ops->close(r);
}

/* ---- directory repositories only: pruning (kura backup prune, the
 * receiver's retention) ----
 *
 * Remove the manifest of generation gen (KURA_ENOTFOUND if there is none).
 * Its objects stay until kura_repo_dir_gc.  An immutable file is made
 * mutable first, which needs CAP_LINUX_IMMUTABLE: KURA_EDENIED otherwise.
 * KURA_EINVAL if r is not a directory repository. */
int kura_repo_dir_remove_generation(struct kura_repo *r, uint64_t gen);

/* Remove every object no remaining manifest names, except those modified at
 * or after keep_after_us (Unix microseconds; 0: none is spared), which may
 * belong to an upload in progress.  Needs the repository to itself (no other
 * process has it open: KURA_EBUSY).  Leftover counts and bytes freed are
 * returned (either may be NULL).  A manifest that does not parse stops it
 * (KURA_ECORRUPT, file named in r->err): nothing is removed then. */
int kura_repo_dir_gc(struct kura_repo *r, int64_t keep_after_us, uint64_t *ret_removed_objects,
		     uint64_t *ret_freed);

/* When the manifest of gen was stored here (its file's modification time,
 * Unix microseconds): a receiver ages generations by this, not by the
 * created_us the vault wrote, which a compromised vault could backdate. */
int kura_repo_dir_stored_us(struct kura_repo *r, uint64_t gen, int64_t *ret_us);

/* Bytes stored in objects and manifests (a scan of the directory). */
int kura_repo_dir_usage(struct kura_repo *r, uint64_t *ret_bytes);

/* Manifest file names: 20 decimal digits, zero-padded. */
#define KURA_REPO_GEN_DIGITS 20

#endif
