/*
 * policy.h - which generations a retention policy keeps (BK-02, BK-03;
 * docs/formats/backup.md §8).  Used by the vault (backup list/status/prune
 * on directory targets) and by the receiver, which applies its own.
 *
 * A generation is kept if it is among the newest keep_min, or younger than
 * lock_us, or the newest of its day for the newest `daily` days that have
 * one, of its ISO week for `weekly` weeks, of its month for `monthly`
 * months (days, weeks and months in the local time zone, like restic's
 * --keep-daily).  keep_min is never below 3.
 */
#ifndef KURA_BACKUP_POLICY_H
#define KURA_BACKUP_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define KURA_POLICY_MIN_KEEP 3

struct kura_policy {
	unsigned keep_min; /* default 3; raised to 3 if lower */
	unsigned daily;    /* default 7 */
	unsigned weekly;   /* default 4 */
	unsigned monthly;  /* default 12 */
	int64_t lock_us;   /* nothing younger is ever removed; default 0 (vault), 30 days (receiver) */
};

void kura_policy_default(struct kura_policy *p);

struct kura_policy_gen {
	uint64_t generation;
	int64_t created_us;
	int keep; /* out: 1 if kept */
	const char *why; /* out: "newest", "locked", "daily", "weekly", "monthly" or NULL */
};

/* Mark which of gens[n] (any order) the policy keeps at time now_us. */
void kura_policy_apply(const struct kura_policy *p, int64_t now_us, struct kura_policy_gen *gens,
		       size_t n);

#endif
