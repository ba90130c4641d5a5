/*
 * backup.h - backup operations (MISSION K6; REQUIREMENTS BK-01..BK-07,
 * BC-02): making a generation, restoring one into a new vault after
 * checking everything, and exporting one for offline media.  The format
 * is docs/formats/backup.md; where generations go is repo.h.
 *
 * A generation is the ledger prefix up to one signed tree head plus a
 * snapshot of the mutable state.  The ledger is append-only, so a new
 * generation writes only segments for the leaves added since the previous
 * one (and the chunks of new large documents no target has yet); its
 * manifest still lists every object it needs, so each generation can be
 * restored, retained or removed on its own.
 */
#ifndef KURA_BACKUP_BACKUP_H
#define KURA_BACKUP_BACKUP_H

#include <stdint.h>

#include "backup/manifest.h"
#include "backup/repo.h"
#include "backup/scan.h"
#include "vault/vault.h"

/* Where the vault keeps its backup history (state rows, formats/state.md):
 * "generation/<20 digits>" a summary of each generation made,
 * "latest" {"manifest": the last manifest file}, "drill" the last drill. */
#define KURA_BACKUP_STATE_KIND "backup"
#define KURA_BACKUP_LATEST "latest"

/* One place a generation goes. */
struct kura_backup_target {
	const char *name; /* as the user gave it (a directory or a URL) */
	struct kura_repo *repo;
	int ok;           /* out: everything reached it */
	char err[256];    /* out: why not */
	uint64_t put_objects, put_bytes; /* out: objects it did not have yet */
	int immutable;    /* out: repo info */
	int kind;         /* out: enum kura_repo_kind */
};

struct kura_backup_opts {
	int zstd_level;           /* 0: the default (3) */
	kura_progress_fn progress; /* leaves done of leaves to do; may be NULL */
	void *pctx;
};

struct kura_backup_result {
	uint64_t generation;
	uint64_t base_generation; /* the generation it builds on (0: none) */
	struct kura_sth sth;
	uint64_t new_leaves, versions, events; /* leaves added since the base */
	uint64_t content_bytes;   /* plaintext of the new leaves' content */
	uint64_t objects;         /* objects the manifest lists */
	uint64_t new_objects, new_bytes; /* made by this run (before dedup on targets) */
	uint64_t dedup_chunks;    /* chunks already known (same content seen before) */
	int64_t created_us;
	struct kura_buf manifest; /* the manifest file (caller releases) */
};

/*
 * Make the next generation and write it to every target (objects first,
 * the manifest last, so a generation is either whole or invisible).
 * prev: the vault's previous manifest file (NULL/0 for none).  The
 * generation number is one more than the newest the vault or any target
 * knows.  Returns 0 if at least one target received the whole
 * generation (check each target's ok), KURA_EIO if none did.
 */
int kura_backup_run(struct kura_vault *v, const uint8_t *prev, size_t prev_len,
		    struct kura_backup_target *t, size_t nt, const struct kura_backup_opts *o,
		    struct kura_backup_result *ret);

/* The backup keys of an open vault. */
int kura_backup_keys_of(struct kura_vault *v, struct kura_backup_keys *ret);

/* What a restore checks and reports. */
struct kura_restore_opts {
	uint64_t generation;   /* 0: the newest */
	int latest_clean;      /* walk back from the newest to the newest that passes */
	const char *secret;    /* the passphrase, or the recovery key text */
	size_t secret_len;
	int recovery;          /* secret is a recovery key: new_pass becomes the passphrase */
	const char *new_pass;
	size_t new_pass_len;
	struct kura_scanner *scanner; /* required: documents are scanned before they are restored */
	const uint8_t *trusted_pub;   /* if set, the ledger key the backup must be signed with */
	/* Later tree heads known from elsewhere (kura sth --json, or consistency
	 * proof documents of kura proof): each must be consistent with the
	 * generation restored. */
	const char *const *against;
	size_t nagainst;
	kura_progress_fn progress;
	void *pctx;
	/* Called for each generation tried and refused (latest_clean), with
	 * the reason; may be NULL. */
	void (*refused)(void *ctx, uint64_t generation, int err, const char *why);
	void *rctx;
};

struct kura_restore_result {
	uint64_t generation;
	struct kura_sth sth;
	uint64_t versions, events, patients, state_rows, sths;
	uint64_t content_bytes, scanned_docs, scanned_bytes;
	double scan_seconds;
	struct kura_sth newest; /* the newest tree head known (RPO) */
	uint64_t rpo_entries;   /* newest.tree_size - sth.tree_size */
	int64_t rpo_us;         /* newest.time - sth.time */
	uint64_t later_checked; /* later tree heads checked for consistency */
	char infected[KURA_SCAN_MAX_NAME]; /* if refused for malware: the signature */
	char why[256];          /* the reason a generation was refused */
};

/* Restore into dir (which must not exist, or be empty), then run kura
 * verify on it.  On any failure nothing is left in dir.  KURA_EVERIFY for
 * a generation that fails a check (why says which), KURA_EDENIED for a
 * wrong passphrase or recovery key, KURA_ECRYPTO for an object that does
 * not authenticate, KURA_ESTATE for malware found (infected names it). */
int kura_restore(struct kura_repo *repo, const char *dir, const struct kura_restore_opts *o,
		 struct kura_restore_result *ret);

/* Check a repository without writing anything: every manifest's
 * signature (with trusted_pub or the key it carries) and history
 * consistency between generations, every object present with the right
 * hash; with keys (read_data), every object decrypted and every
 * generation's leaves reproducing its tree head.  Problems go to report
 * (one line each); returns 0 or KURA_EVERIFY. */
struct kura_check_result {
	uint64_t generations, objects, bytes, problems;
};
int kura_backup_check(struct kura_repo *repo, const uint8_t *trusted_pub,
		      const struct kura_backup_keys *read_data,
		      void (*report)(void *ctx, const char *line), void *rctx,
		      struct kura_check_result *ret);

/* Copy generation gen (0: newest) with every object it needs from src to
 * a new directory repository at dir, plus SHA256SUMS and README.txt
 * (restoring without the network). */
int kura_backup_export(struct kura_repo *src, uint64_t gen, const char *dir,
		       kura_progress_fn progress, void *pctx, uint64_t *ret_gen,
		       uint64_t *ret_bytes);

#endif
