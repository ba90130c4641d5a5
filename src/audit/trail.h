/*
 * trail.h - the audit trail as the vault holds it: reading a period with
 * its anomaly flags under the vault's audit.* settings, and recording a
 * review (LG-01, LG-05, BG-02; docs/internals/audit-query.md).  What
 * `kura audit search|report|review` and the web UI's /api/audit (serve/
 * ui_audit.c) share; query.h is the pure part beneath.
 *
 * Nothing here checks permissions or records the reading: callers check
 * the audit permission (kura_access_require) and record an audit-search
 * event before they show anything.
 */
#ifndef KURA_AUDIT_TRAIL_H
#define KURA_AUDIT_TRAIL_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "audit/query.h"
#include "vault/vault.h"

/* A growable array of events (at most KURA_MAX_AUDIT_RESULTS). */
struct kura_audit_rows {
	struct kura_event_row *v;
	size_t n, cap;
	size_t max; /* rows at most (0: KURA_MAX_AUDIT_RESULTS) */
};

/* A kura_event_cb appending row to ctx (a struct kura_audit_rows):
 * KURA_ETOOBIG past its max (or KURA_MAX_AUDIT_RESULTS), KURA_ENOMEM. */
int kura_audit_rows_add(void *ctx, const struct kura_event_row *row);
/* Free the rows and clear r (NULL-safe). */
void kura_audit_rows_free(struct kura_audit_rows *r);

/* The anomaly settings in force: defaults overridden by the vault's
 * audit.offhours_start, audit.offhours_end, audit.weekends,
 * audit.bulk_reads and audit.bulk_window_min.  KURA_EINVAL for a stored
 * value kura_anomaly_config_set refuses; errors of the vault. */
int kura_anomaly_config_load(struct kura_vault *v, struct kura_anomaly_config *ret);

/* For kura_anomaly_flags: 1 if the patient's state row says "restricted":
 * true (VIP, staff), else 0; ctx is the struct kura_vault. */
int kura_audit_restricted(void *ctx, const char *patient_id);

/*
 * Every event of [from, to) (0: unbounded) in time order, plus the bulk
 * window before it (a burst that began earlier still counts) and the
 * audit-review events after to (a later review covers earlier break-glass),
 * appended to all and flagged into *ret_flags (malloc'ed, all->n entries,
 * the caller frees).  Select what was asked with kura_audit_select.
 * KURA_ETOOBIG when the period holds more than max_rows events (0:
 * KURA_MAX_AUDIT_RESULTS; a row takes ~7 KB, so a server keeps this far
 * lower); KURA_ENOMEM; errors of the store.
 */
int kura_audit_collect(struct kura_vault *v, int64_t from, int64_t to, uint64_t max_rows,
		       struct kura_audit_rows *all, unsigned **ret_flags);

/* Keep, in place and in order, the rows q selects (with its flag= when
 * use_flags), at most q->limit (0: no limit); flags follow their rows.
 * Returns how many remain (all->n). */
size_t kura_audit_select(const struct kura_audit_query *q, int use_flags,
			 struct kura_audit_rows *all, unsigned *flags);

struct kura_audit_review_result {
	uint64_t events, breakglass; /* in the window */
	uint64_t leaf_index;         /* of the audit-review event */
	struct kura_sth sth;         /* the tree head that signs it */
};

/*
 * Record that who reviewed the trail of [from, to) (LG-05): one
 * audit-review event (severity notice) whose query is the window
 * (kura_review_window_format), reason note (NULL: none) and detail the
 * counts, appended in a transaction of its own.  Break-glass events in the
 * window are no longer flagged unreviewed.  KURA_EINVAL if from >= to;
 * errors of the store and the vault.
 */
int kura_audit_review(struct kura_vault *v, const struct kura_actor *who, int64_t from,
		      int64_t to, const char *note, struct kura_audit_review_result *ret);

#endif
