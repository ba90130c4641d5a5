/*
 * status.h - the backup history the vault keeps (state rows of kind
 * KURA_BACKUP_STATE_KIND, docs/formats/state.md) and the guideline's
 * expectations evaluated on it (BK-02, BK-03, BC-02): what `kura backup
 * run` and `kura drill` record, and what `kura backup list|status` and the
 * web UI's GET /api/admin/status read.  No target is contacted here.
 */
#ifndef KURA_BACKUP_STATUS_H
#define KURA_BACKUP_STATUS_H

#include <jansson.h>

#include "audit/audit.h"
#include "backup/backup.h"

/* Every generation's summary (as kura_backup_record_run wrote it), oldest
 * first, into *ret (a new JSON array).  Errors of the vault. */
int kura_backup_history(struct kura_vault *v, json_t **ret);

/* Where a generation's summary says it has a copy the vault host cannot
 * change (only targets it reached count): *ret_immutable on a receiver or
 * an immutable directory, *ret_offline exported offline.  Returns 1 if
 * either, else 0. */
int kura_backup_copies(const json_t *gen, int *ret_immutable, int *ret_offline);

/* The expectations of `kura backup status`, evaluated at now. */
struct kura_backup_status {
	size_t generations;   /* that reached at least one target */
	size_t protected_old; /* of the third and older: with a protected copy */
	int ok_count;         /* at least 3 generations (BK-02) */
	int ok_protect;       /* the third and older all protected (BK-03) */
	int ok_age;           /* the newest within backup.max_age_hours */
	int ok_drill;         /* a successful drill within backup.drill_days (BC-02) */
	int64_t last_us, drill_us; /* 0: none */
	json_t *drill;        /* the state row "drill", or NULL (owned) */
};

/* Evaluate gens (from kura_backup_history) with the vault's settings;
 * *ret is filled (release it with kura_backup_status_release). */
void kura_backup_status_eval(struct kura_vault *v, const json_t *gens, int64_t now,
			     struct kura_backup_status *ret);
void kura_backup_status_release(struct kura_backup_status *s);

/* {"tree_size", "root", "time"} of a tree head, and what a run did at one
 * target {"target", "kind", "immutable", "ok", "error", "objects_sent",
 * "bytes_sent"} (NULL when out of memory). */
json_t *kura_backup_sth_json(const struct kura_sth *s);
json_t *kura_backup_target_json(const struct kura_backup_target *t);

/* Record a run (kura_backup_run's result and its targets, secs on the
 * clock): the generation's summary, the latest manifest and a backup-run
 * event by who, in one transaction. */
int kura_backup_record_run(struct kura_vault *v, const struct kura_actor *who,
			   const struct kura_backup_result *res,
			   const struct kura_backup_target *t, size_t nt, double secs);

/* A drill: the restore of the newest generation from a target. */
struct kura_backup_drill {
	const char *from;
	const struct kura_restore_result *res;
	int result;           /* kura_restore's: 0 passed */
	double rto, rpo_s;
	uint64_t rpo_entries;
	int64_t time_us;
};

/* The state row "drill" of d (NULL when out of memory). */
json_t *kura_backup_drill_json(const struct kura_backup_drill *d);
/* Record it (dj from kura_backup_drill_json) with a backup-drill event by
 * who (severity alert when it failed), in one transaction. */
int kura_backup_record_drill(struct kura_vault *v, const struct kura_actor *who,
			     const struct kura_backup_drill *d, json_t *dj);

#endif
